/*
 * vg_hl7_site.h - the site mapping file of the HL7 commands (vigil convert
 * --from hl7v2, vigil hl7 listen; docs/HOSPITAL.md §4): a properties file
 * read into a vg_hl7_map_t. The one file-reading part of the HL7 code
 * (vg_hl7.c stays pure).
 */
#ifndef VG_HL7_SITE_H
#define VG_HL7_SITE_H

#include "vg_hl7.h"

/* Reads the properties file path (key=value lines, '#' or '!' comments)
 * into map with vg_hl7_map_set. Errors are printed as "vigil CMD: PATH:LINE:
 * reason". Returns 0, VG_EXIT_FAIL (cannot read) or VG_EXIT_USAGE (bad
 * content). */
int vg_hl7_map_load(vg_hl7_map_t *map, const char *path, const char *cmd);

#endif /* VG_HL7_SITE_H */
