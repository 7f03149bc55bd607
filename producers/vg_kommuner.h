/*
 * vg_kommuner.h - reference data for synthetic populations: Swedish
 * municipalities (SCB codes, approximate population) of the regions the
 * simulator covers by default, and the acute hospitals that serve them.
 *
 * Populations are rounded figures of the order of SCB's 2023 statistics;
 * they only weight where simulated patients live. Facility ids are short
 * ASCII codes (no official register is implied).
 */
#ifndef VG_KOMMUNER_H
#define VG_KOMMUNER_H

#include "vg_common.h"

/* An acute hospital. */
typedef struct vg_hospital_s {
        const char *hs_id;         /* facility id, e.g. "MSE" */
        const char *hs_name;       /* UTF-8, e.g. "Mälarsjukhuset Eskilstuna" */
        const char *hs_region;     /* 2-digit region code, e.g. "04" */
        const char *hs_referral;   /* where TRANSFER_ACUTE goes: the region's
                                    * main hospital, or from there a
                                    * university hospital */
        const char *hs_palliative; /* specialised palliative unit serving the
                                    * catchment */
} vg_hospital_t;

/* A municipality. */
typedef struct vg_kommun_s {
        const char *km_code;       /* 4-digit SCB code, e.g. "0484" */
        const char *km_name;       /* UTF-8, e.g. "Eskilstuna" */
        int32_t     km_population; /* approximate inhabitants */
        const char *km_hospital;   /* id of the nearest acute hospital */
} vg_kommun_t;

/* The tables; every km_hospital and hs_referral names a vg_hospitals row. */
extern const vg_hospital_t vg_hospitals[];
extern const size_t vg_hospitals_cnt;
extern const vg_kommun_t vg_kommuner[];
extern const size_t vg_kommuner_cnt;

/* Row of a kommun code, or NULL if not in the table. */
const vg_kommun_t *vg_kommun_find(const char *code);
/* Row of a hospital id, or NULL. */
const vg_hospital_t *vg_hospital_find(const char *id);

#endif /* VG_KOMMUNER_H */
