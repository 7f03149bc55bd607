/*
 * vg_areas.h - names of Swedish areas: the 290 kommuner (SCB 4-digit
 * kommunkod), the 21 regions (2-digit län code) and the country ("SE").
 *
 * The tables are common/data/kommuner.tsv and common/data/regioner.tsv, compiled
 * into the binary (common/embed_data.cmake) and parsed once, at the first
 * call of any function here (pthread_once: safe from any thread). Returned
 * strings are UTF-8 and live as long as the process.
 */
#ifndef VG_AREAS_H
#define VG_AREAS_H

#include "vg_common.h"

/* Display name of an area code: the kommun name for a 4-digit code
 * ("1280" -> "Malmö"), the region name for a 2-digit code
 * ("04" -> "Region Sörmland"), "Sverige" for "SE"; NULL if unknown or NULL. */
const char *vg_areas_name(const char *area);

/* 1 if s has the form of an area code: "SE", 2 digits (a region) or 4
 * (a kommun), whether or not such an area exists; else 0. */
int vg_areas_code_form(const char *s);

/* 1 if code is the code of a kommun in the table, else 0 (also for NULL). */
int vg_areas_is_kommun(const char *code);

/* Number of kommuner (290), and the code of the i-th in code order
 * (NULL if i >= vg_areas_kommun_count()). */
size_t vg_areas_kommun_count(void);
const char *vg_areas_kommun_code(size_t i);

/* Number of regions (21), and the code of the i-th in code order
 * (NULL if i >= vg_areas_region_count()). */
size_t vg_areas_region_count(void);
const char *vg_areas_region_code(size_t i);

#endif /* VG_AREAS_H */
