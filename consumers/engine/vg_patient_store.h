/*
 * vg_patient_store.h - a patient's state (vg_engine.h) as compact JSON text
 * for the partition store, and back.
 */
#ifndef VG_PATIENT_STORE_H
#define VG_PATIENT_STORE_H

#include "vg_engine.h"

/* Serialises to a compact JSON text (malloc'd; free with vg_free). */
char *vg_patient_serialize(const vg_patient_t *pt);
/* Parses it back; NULL + errstr (VG_ERR_STORE) if the text is corrupt. */
vg_patient_t *vg_patient_parse(const char *patient_id, const char *text,
                               char *errstr, size_t errstr_size);

#endif /* VG_PATIENT_STORE_H */
