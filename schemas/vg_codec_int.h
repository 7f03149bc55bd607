/*
 * vg_codec_int.h - internals shared by the codec's files (not public API;
 * the public one is vg_codec.h): the codec's table of schema versions and
 * the bounds-checking walk over untrusted bytes.
 *
 *   vg_codec.c        registry of shipped versions, canonical forms of
 *                     parsed schemas, vg_codec_schema_known
 *   vg_codec_walk.c   the walk: untrusted input checked before Avro C
 *   vg_codec_rw.c     encode, decode, resolution to the current reader
 */
#ifndef VG_CODEC_INT_H
#define VG_CODEC_INT_H

#include "vg_codec.h"

#include <avro.h>
#include <jansson.h>

/*
 * Direct: records <-> Avro binary without Avro C's generic values, for a
 * schema version whose fields are exactly the record's (by name, in any
 * order; each of the Avro type the record's field table names, required
 * or ["null", X]). Avro C's path stays the reference and takes what the
 * direct one declines (vg_codec_direct.c).
 */
#define VG_PLAN_MAX_SYMBOLS 64 /* an enum of more: no plan */

typedef struct vg_plan_field_s {
        const vg_field_t *pf_field;     /* the record's field */
        bool              pf_union;     /* written as ["null", X] */
        bool              pf_same_enum; /* its symbols the record's, in
                                         * order */
        int               pf_nsym;
        int8_t            pf_enum[VG_PLAN_MAX_SYMBOLS]; /* writer index
                                         * -> the record's (-1: unknown) */
} vg_plan_field_t;

typedef struct vg_codec_plan_s {
        bool            cp_encode; /* also writes as Avro C's path does */
        int             cp_n;      /* the writer's fields, in its order */
        vg_plan_field_t cp_f[];
} vg_codec_plan_t;

/* The plan for reading schema s (a record of type) directly, or NULL if
 * it has none. Free with vg_free. */
vg_codec_plan_t *vg_codec_plan_new(avro_schema_t s, vg_rectype_t type);
/* Reads the body (after the header) into rec (zeroed, of type): 0, or -1
 * with rec cleared and zeroed if declined. */
int vg_codec_direct_decode(const vg_codec_plan_t *plan, vg_rectype_t type,
                           const void *body, size_t len, void *rec);
/* Appends rec's body (plan->cp_encode): 0, or -1 with out as it was if
 * declined. */
int vg_codec_direct_encode(const vg_codec_plan_t *plan, const void *rec,
                           vg_buf_t *out);
/* Whether s[0, n) is UTF-8 without NUL, as the walk requires of a
 * string. */
int vg_codec_utf8_valid(const unsigned char *s, size_t n);

/* One known schema version. */
typedef struct vg_codec_schema_s {
        uint64_t            vcs_fp;      /* fingerprint */
        vg_rectype_t        vcs_type;    /* record type it maps to */
        avro_schema_t       vcs_schema;  /* parsed by Avro C */
        avro_value_iface_t *vcs_iface;   /* generic class */
        avro_value_t        vcs_value;   /* reusable generic value */
        char               *vcs_canon;   /* Parsing Canonical Form */
        json_t             *vcs_json;    /* parsed schema JSON (defaults) */
        vg_codec_plan_t    *vcs_plan;    /* direct reading, or NULL */
} vg_codec_schema_t;

#define MAX_SCHEMAS 64

struct vg_codec_s {
        vg_codec_schema_t vc_schemas[MAX_SCHEMAS]; /* writers, incl. current */
        int               vc_cnt;
        int               vc_current[VG_REC__CNT]; /* index of current reader */
        bool              vc_no_direct; /* Avro C's path only (tests) */
};

/* The reader schema s's JSON for field name (its "default"), or NULL. */
json_t *vg_codec_reader_field_json(const vg_codec_schema_t *s,
                                   const char *name);

/*
 * Walk: checks that [p, end) holds exactly one well-formed datum of schema.
 */

typedef struct walk_s {
        const unsigned char *p, *end;
        vg_decode_reason_t   reason;
        char                 what[160];
} walk_t;

/* Walks one datum of schema s from w->p (advanced past it). 0 if it is
 * well-formed; -1 with w->reason and w->what set if not. Trailing bytes are
 * the caller's to check. */
int vg_codec_walk(walk_t *w, avro_schema_t s);

#endif /* VG_CODEC_INT_H */
