/*
 * vg_patient_store.h - a patient's state (vg_engine.h) for the partition
 * store: a compact binary form (written) and compact JSON text (earlier
 * releases wrote it; still read), and back.
 */
#ifndef VG_PATIENT_STORE_H
#define VG_PATIENT_STORE_H

#include "vg_engine.h"

/* Serialises to a compact JSON text (malloc'd; free with vg_free). */
char *vg_patient_serialize(const vg_patient_t *pt);
/* Parses it back; NULL + errstr (VG_ERR_STORE) if the text is corrupt. */
vg_patient_t *vg_patient_parse(const char *patient_id, const char *text,
                               char *errstr, size_t errstr_size);

/* The compact binary form the partition store writes (about a fifth of
 * the JSON's size), appended to b. Returns a bound on its size: at least
 * the bytes appended, and with vg_patient_event_growth() of each event
 * added to pt since, at least those of pt encoded then (nothing else
 * changed: vg_engine_inserts_only). */
size_t vg_patient_encode(const vg_patient_t *pt, vg_buf_t *b);
/* The most bytes an encoding grows by when ev is added to the patient's
 * history and nothing else changes. */
size_t vg_patient_event_growth(const vg_event_t *ev);
/* Events added to a packed patient without decoding it: ev appended to
 * the tail b (vg_patient_tail.c). */
void vg_patient_tail_add(vg_buf_t *b, const vg_event_t *ev);
/* The events of a tail (this process's bytes) added to pt as
 * vg_engine_insert_take() adds them: at the end of its events, and
 * pt_next_due VG_DUE_UNDERIVED. -1 if they do not read (pt then holds
 * those read: destroy it). */
int vg_patient_tail_apply(vg_patient_t *pt, const void *data, size_t len);
/* Reads either form (binary, or the JSON text of earlier releases); NULL
 * + errstr (VG_ERR_STORE) if corrupt. Never crashes on any bytes. */
vg_patient_t *vg_patient_decode(const char *patient_id, const void *data,
                                size_t len, char *errstr,
                                size_t errstr_size);
/* The same for bytes vg_patient_encode() made in this process and kept in
 * its memory (a cache entry: never bytes read back from the store or the
 * changelog): the checksum is not computed again, every length and bound
 * still is checked. */
vg_patient_t *vg_patient_decode_own(const char *patient_id, const void *data,
                                    size_t len, char *errstr,
                                    size_t errstr_size);

/* The checksum the binary form ends with (32 bits, little-endian) for
 * its len bytes before it, by the format in its second byte. */
uint32_t vg_patient_checksum(const void *data, size_t len);

/* The number the binary form gives the case key field (an indicator's
 * name) of len bytes at field, or -1 if it has none and is written whole.
 */
int vg_patient_key_name(const char *field, size_t len);

#endif /* VG_PATIENT_STORE_H */
