/*
 * vg_codec.h - records <-> Avro single-object encoding, the Kafka wire
 * format of every Vigil topic:
 *
 *     C3 01 | CRC-64-AVRO fingerprint of the writer schema's canonical form
 *           | (8 bytes, little-endian) | Avro binary body
 *
 * A codec knows every schema version the project ships (schemas/ and
 * schemas/history/, compiled in) and resolves any of them to the current
 * reader schema of the same record name, filling reader defaults for fields
 * an older writer lacks (Avro C does not). Input is never trusted: the body
 * is walked and bounds-checked against the writer schema before Avro C
 * touches it, so crafted lengths cannot reach malloc.
 *
 * A codec is not thread-safe; use one per thread.
 */
#ifndef VG_CODEC_H
#define VG_CODEC_H

#include "vg_common.h"
#include "vg_record.h"

typedef struct vg_codec_s vg_codec_t;

/* Storage large enough for any record type. */
typedef union vg_anyrec_u {
        vg_event_t  ev;
        vg_alert_t  al;
        vg_ipart_t  ip;
        vg_ivalue_t iv;
        vg_progress_t pp;
} vg_anyrec_t;

#define VG_SOE_HEADER_LEN 10

/* Why a record could not be decoded; names go to DLQ headers. */
typedef enum vg_decode_reason_e {
        VG_DECODE_OK = 0,
        VG_DECODE_BAD_HEADER,          /* missing or wrong C3 01 magic */
        VG_DECODE_UNKNOWN_FINGERPRINT, /* writer schema not shipped */
        VG_DECODE_TRUNCATED,           /* body ends early */
        VG_DECODE_TRAILING_BYTES,      /* bytes left after the body */
        VG_DECODE_BAD_LENGTH,          /* negative or impossible length */
        VG_DECODE_BAD_VALUE,           /* bad enum/union index, varint,
                                        * boolean, UTF-8 */
        VG_DECODE_RESOLUTION,          /* writer cannot resolve to reader */
        VG_DECODE_WRONG_TYPE           /* valid record of the wrong type */
} vg_decode_reason_t;

const char *vg_decode_reason_str(vg_decode_reason_t r);

/* New codec with every embedded schema loaded. NULL + errstr on failure. */
vg_codec_t *vg_codec_new(char *errstr, size_t errstr_size);
void vg_codec_destroy(vg_codec_t *codec);

/* Registers one more writer schema version (JSON text): its record name must
 * be one of the current schemas and every reader field it lacks must have a
 * default. Used by tests and to read versions shipped by other builds. */
vg_err_t vg_codec_add_writer(vg_codec_t *codec, const char *json, size_t len,
                             char *errstr, size_t errstr_size);

/* Fingerprint and canonical form of the current schema of type. */
uint64_t vg_codec_fingerprint(const vg_codec_t *codec, vg_rectype_t type);
const char *vg_codec_canonical(const vg_codec_t *codec, vg_rectype_t type);

/* Encodes rec (a struct of type) with the current schema, appending the
 * single-object bytes to out. VG_ERR_INVALID if a required field is NULL or
 * an enum out of range. */
vg_err_t vg_codec_encode(vg_codec_t *codec, vg_rectype_t type,
                         const void *rec, vg_buf_t *out, char *errstr,
                         size_t errstr_size);

/* Decodes single-object bytes into rec (caller storage of at least
 * sizeof(vg_anyrec_t)); *typep gets the record type. If expect >= 0 a record
 * of another type is rejected (VG_DECODE_WRONG_TYPE). On success the caller
 * owns rec and frees it with vg_record_clear(*typep, rec). On failure
 * returns VG_ERR_DECODE, *reasonp (may be NULL) says why, rec is cleared. */
vg_err_t vg_codec_decode(vg_codec_t *codec, const void *data, size_t len,
                         int expect, vg_rectype_t *typep, void *rec,
                         vg_decode_reason_t *reasonp, char *errstr,
                         size_t errstr_size);

/* Converts a record value read by Avro C (e.g. from a container file with
 * avro_file_reader) into rec, resolving by field name to the current reader
 * of the record's name, with defaults; a union value uses its branch. */
#include <avro.h>
vg_err_t vg_codec_from_value(vg_codec_t *codec, avro_value_t *value,
                             vg_rectype_t *typep, void *rec, char *errstr,
                             size_t errstr_size);

/* True if s is a registered record schema version, or a union of them
 * (each branch compared by its canonical form's fingerprint). Reading data
 * of any other writer schema, e.g. from a container file, could make Avro
 * C allocate without bound; callers refuse it (errstr says why). */
bool vg_codec_schema_known(vg_codec_t *codec, avro_schema_t s, char *errstr,
                           size_t errstr_size);

/* vigil codec (vg_cmd_codec.c): encode, decode, list the schemas. */
int vg_cmd_codec(int argc, char **argv);

#endif /* VG_CODEC_H */
