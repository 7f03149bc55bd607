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

/* One known schema version. */
typedef struct vg_codec_schema_s {
        uint64_t            vcs_fp;      /* fingerprint */
        vg_rectype_t        vcs_type;    /* record type it maps to */
        avro_schema_t       vcs_schema;  /* parsed by Avro C */
        avro_value_iface_t *vcs_iface;   /* generic class */
        avro_value_t        vcs_value;   /* reusable generic value */
        char               *vcs_canon;   /* Parsing Canonical Form */
        json_t             *vcs_json;    /* parsed schema JSON (defaults) */
} vg_codec_schema_t;

#define MAX_SCHEMAS 64

struct vg_codec_s {
        vg_codec_schema_t vc_schemas[MAX_SCHEMAS]; /* writers, incl. current */
        int               vc_cnt;
        int               vc_current[VG_REC__CNT]; /* index of current reader */
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
