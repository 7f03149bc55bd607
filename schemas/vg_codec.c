/*
 * vg_codec.c - Avro single-object encoding with schema resolution.
 *
 * Contents:
 *   registry   - the writer versions (by fingerprint) and current readers
 *   walk       - bounds-checking pass over untrusted bytes
 *   encode     - struct -> Avro C generic value -> bytes
 *   decode     - bytes -> Avro C generic value (writer) -> struct (reader),
 *                defaults filled for fields the writer lacks
 */
#include "vg_codec.h"
#include "vg_schema.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
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

static const char *decode_reasons[] = {
        [VG_DECODE_OK] = "ok",
        [VG_DECODE_BAD_HEADER] = "bad-header",
        [VG_DECODE_UNKNOWN_FINGERPRINT] = "unknown-fingerprint",
        [VG_DECODE_TRUNCATED] = "truncated",
        [VG_DECODE_TRAILING_BYTES] = "trailing-bytes",
        [VG_DECODE_BAD_LENGTH] = "bad-length",
        [VG_DECODE_BAD_VALUE] = "bad-value",
        [VG_DECODE_RESOLUTION] = "resolution",
        [VG_DECODE_WRONG_TYPE] = "wrong-type",
};

const char *vg_decode_reason_str(vg_decode_reason_t r) {
        if ((int)r < 0 || r >= (int)VG_ARRAY_SIZE(decode_reasons))
                return "unknown";
        return decode_reasons[r];
}

/*
 * Registry
 */

static void schema_free(vg_codec_schema_t *s) {
        if (s->vcs_iface) {
                avro_value_decref(&s->vcs_value);
                avro_value_iface_decref(s->vcs_iface);
        }
        if (s->vcs_schema)
                avro_schema_decref(s->vcs_schema);
        vg_free(s->vcs_canon);
        json_decref(s->vcs_json);
        memset(s, 0, sizeof(*s));
}

void vg_codec_destroy(vg_codec_t *codec) {
        if (!codec)
                return;
        for (int i = 0; i < codec->vc_cnt; i++)
                schema_free(&codec->vc_schemas[i]);
        vg_free(codec);
}

static json_t *reader_field_json(const vg_codec_schema_t *s, const char *name) {
        json_t *fields = json_object_get(s->vcs_json, "fields"), *f;
        size_t i;
        json_array_foreach(fields, i, f) {
                json_t *n = json_object_get(f, "name");
                if (json_is_string(n) && !strcmp(json_string_value(n), name))
                        return f;
        }
        return NULL;
}

static vg_err_t load_schema(vg_codec_t *codec, const char *json, size_t len,
                            int current, char *errstr, size_t errstr_size) {
        vg_codec_schema_t s;
        const vg_rectype_desc_t *rt;
        const char *name;
        json_error_t jerr;

        if (codec->vc_cnt >= MAX_SCHEMAS)
                return vg_seterr(errstr, errstr_size, VG_ERR_ARG,
                                 "too many schema versions (max %d)",
                                 MAX_SCHEMAS);
        memset(&s, 0, sizeof(s));
        if (!(s.vcs_canon = vg_schema_canonical(json, len, errstr,
                                                errstr_size)))
                return VG_ERR_ARG;
        s.vcs_fp = vg_schema_crc64(s.vcs_canon, strlen(s.vcs_canon));
        s.vcs_json = json_loadb(json, len, 0, &jerr);
        if (!s.vcs_json || avro_schema_from_json_length(json, len,
                                                        &s.vcs_schema)) {
                schema_free(&s);
                return vg_seterr(errstr, errstr_size, VG_ERR_ARG,
                                 "schema rejected by Avro C: %s",
                                 avro_strerror());
        }
        if (avro_typeof(s.vcs_schema) != AVRO_RECORD) {
                schema_free(&s);
                return vg_seterr(errstr, errstr_size, VG_ERR_ARG,
                                 "schema is not a record");
        }
        name = avro_schema_name(s.vcs_schema);
        rt = vg_rectype_by_name(name);
        if (!rt || strcmp(rt->rt_name, name)) {
                schema_free(&s);
                return vg_seterr(errstr, errstr_size, VG_ERR_ARG,
                                 "record %s is not a Vigil record type", name);
        }
        s.vcs_type = rt->rt_type;
        for (int i = 0; i < codec->vc_cnt; i++)
                if (codec->vc_schemas[i].vcs_fp == s.vcs_fp) { /* known */
                        if (current)
                                codec->vc_current[rt->rt_type] = i;
                        schema_free(&s);
                        return VG_OK;
                }
        s.vcs_iface = avro_generic_class_from_schema(s.vcs_schema);
        if (!s.vcs_iface ||
            avro_generic_value_new(s.vcs_iface, &s.vcs_value)) {
                if (s.vcs_iface)
                        avro_value_iface_decref(s.vcs_iface);
                s.vcs_iface = NULL;
                schema_free(&s);
                return vg_seterr(errstr, errstr_size, VG_ERR_INTERNAL,
                                 "Avro C: %s", avro_strerror());
        }
        codec->vc_schemas[codec->vc_cnt] = s;
        if (current)
                codec->vc_current[rt->rt_type] = codec->vc_cnt;
        codec->vc_cnt++;
        return VG_OK;
}

/* Every field of the current reader must exist in the writer or have a
 * default in the reader; checked once, when a writer is registered. */
static vg_err_t check_resolvable(vg_codec_t *codec, int wi, char *errstr,
                                 size_t errstr_size) {
        vg_codec_schema_t *w = &codec->vc_schemas[wi];
        vg_codec_schema_t *r = &codec->vc_schemas[codec->vc_current[w->vcs_type]];
        const vg_rectype_desc_t *rt = vg_rectype(w->vcs_type);

        for (int i = 0; i < rt->rt_nfields; i++) {
                const char *fn = rt->rt_fields[i].vf_name;
                json_t *rf = reader_field_json(r, fn);
                if (avro_schema_record_field_get_index(w->vcs_schema, fn) >= 0)
                        continue;
                if (!rf || !json_object_get(rf, "default"))
                        return vg_seterr(errstr, errstr_size, VG_ERR_ARG,
                                         "writer schema of %s lacks field %s, "
                                         "which has no default in the reader",
                                         rt->rt_name, fn);
        }
        return VG_OK;
}

vg_codec_t *vg_codec_new(char *errstr, size_t errstr_size) {
        vg_codec_t *codec = vg_calloc(1, sizeof(*codec));

        for (int i = 0; i < VG_REC__CNT; i++)
                codec->vc_current[i] = -1;
        /* Current schemas first, so that history can be checked against
         * them. */
        for (int pass = 1; pass >= 0; pass--) {
                for (const vg_schema_file_t *f = vg_schema_files; f->vsf_name;
                     f++) {
                        char e[256];
                        if (f->vsf_current != pass)
                                continue;
                        if (load_schema(codec, f->vsf_json, f->vsf_len,
                                        f->vsf_current, e, sizeof(e))) {
                                vg_seterr(errstr, errstr_size, VG_ERR_INTERNAL,
                                          "schemas/%s: %s", f->vsf_name, e);
                                vg_codec_destroy(codec);
                                return NULL;
                        }
                }
        }
        for (int i = 0; i < VG_REC__CNT; i++)
                if (codec->vc_current[i] < 0) {
                        vg_seterr(errstr, errstr_size, VG_ERR_INTERNAL,
                                  "no schema shipped for %s",
                                  vg_rectype(i)->rt_name);
                        vg_codec_destroy(codec);
                        return NULL;
                }
        for (int i = 0; i < codec->vc_cnt; i++)
                if (check_resolvable(codec, i, errstr, errstr_size)) {
                        vg_codec_destroy(codec);
                        return NULL;
                }
        return codec;
}

vg_err_t vg_codec_add_writer(vg_codec_t *codec, const char *json, size_t len,
                             char *errstr, size_t errstr_size) {
        int before = codec->vc_cnt;
        vg_err_t err = load_schema(codec, json, len, 0, errstr, errstr_size);
        if (err || codec->vc_cnt == before)
                return err;
        if ((err = check_resolvable(codec, codec->vc_cnt - 1, errstr,
                                    errstr_size))) {
                schema_free(&codec->vc_schemas[--codec->vc_cnt]);
                return err;
        }
        return VG_OK;
}

uint64_t vg_codec_fingerprint(const vg_codec_t *codec, vg_rectype_t type) {
        return codec->vc_schemas[codec->vc_current[type]].vcs_fp;
}

const char *vg_codec_canonical(const vg_codec_t *codec, vg_rectype_t type) {
        return codec->vc_schemas[codec->vc_current[type]].vcs_canon;
}

/*
 * Walk: checks that [p, end) holds exactly one well-formed datum of schema.
 */

typedef struct walk_s {
        const unsigned char *p, *end;
        vg_decode_reason_t   reason;
        char                 what[160];
} walk_t;

static int walk_fail(walk_t *w, vg_decode_reason_t r, const char *what) {
        w->reason = r;
        snprintf(w->what, sizeof(w->what), "%s", what);
        return -1;
}

static int walk_varint(walk_t *w, int64_t *out, int maxbytes) {
        uint64_t v = 0;
        for (int shift = 0, i = 0;; i++, shift += 7) {
                unsigned char b;
                if (w->p >= w->end)
                        return walk_fail(w, VG_DECODE_TRUNCATED,
                                         "truncated integer");
                if (i >= maxbytes)
                        return walk_fail(w, VG_DECODE_BAD_VALUE,
                                         "integer encoding too long");
                b = *w->p++;
                v |= (uint64_t)(b & 0x7f) << shift;
                if (!(b & 0x80))
                        break;
        }
        *out = (int64_t)((v >> 1) ^ (0 - (v & 1)));
        return 0;
}

static int utf8_valid(const unsigned char *s, size_t n) {
        size_t i = 0;
        while (i < n) {
                unsigned char c = s[i];
                size_t k;
                uint32_t cp;
                if (c == 0)
                        return 0; /* NUL: C strings cannot carry it */
                if (c < 0x80) {
                        i++;
                        continue;
                }
                if (c >= 0xc2 && c <= 0xdf)
                        k = 1, cp = c & 0x1f;
                else if (c >= 0xe0 && c <= 0xef)
                        k = 2, cp = c & 0x0f;
                else if (c >= 0xf0 && c <= 0xf4)
                        k = 3, cp = c & 0x07;
                else
                        return 0;
                for (size_t j = 1; j <= k; j++) {
                        if (i + j >= n || (s[i + j] & 0xc0) != 0x80)
                                return 0;
                        cp = (cp << 6) | (s[i + j] & 0x3f);
                }
                if ((k == 2 && cp < 0x800) || (k == 3 && cp < 0x10000) ||
                    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
                        return 0;
                i += k + 1;
        }
        return 1;
}

static int walk(walk_t *w, avro_schema_t s, int depth) {
        int64_t n;

        if (depth > 32)
                return walk_fail(w, VG_DECODE_BAD_VALUE, "nesting too deep");
        switch (avro_typeof(s)) {
        case AVRO_NULL:
                return 0;
        case AVRO_BOOLEAN:
                if (w->p >= w->end)
                        return walk_fail(w, VG_DECODE_TRUNCATED,
                                         "truncated boolean");
                if (*w->p > 1)
                        return walk_fail(w, VG_DECODE_BAD_VALUE,
                                         "boolean byte is not 0 or 1");
                w->p++;
                return 0;
        case AVRO_INT32:
                if (walk_varint(w, &n, 5))
                        return -1;
                if (n < INT32_MIN || n > INT32_MAX)
                        return walk_fail(w, VG_DECODE_BAD_VALUE,
                                         "int out of range");
                return 0;
        case AVRO_INT64:
                return walk_varint(w, &n, 10);
        case AVRO_FLOAT:
        case AVRO_DOUBLE: {
                size_t sz = avro_typeof(s) == AVRO_FLOAT ? 4 : 8;
                double d;
                if ((size_t)(w->end - w->p) < sz)
                        return walk_fail(w, VG_DECODE_TRUNCATED,
                                         "truncated floating-point number");
                if (sz == 4) {
                        float f;
                        memcpy(&f, w->p, 4); /* little-endian hosts only */
                        d = f;
                } else
                        memcpy(&d, w->p, 8);
                /* No Vigil figure is NaN or infinite, and JSON cannot carry
                 * them: refuse rather than print null. */
                if (!isfinite(d))
                        return walk_fail(w, VG_DECODE_BAD_VALUE,
                                         "floating-point value is NaN or "
                                         "infinite");
                w->p += sz;
                return 0;
        }
        case AVRO_STRING:
        case AVRO_BYTES:
                if (walk_varint(w, &n, 10))
                        return -1;
                if (n < 0)
                        return walk_fail(w, VG_DECODE_BAD_LENGTH,
                                         "negative length");
                if ((uint64_t)n > (uint64_t)(w->end - w->p))
                        return walk_fail(w, VG_DECODE_TRUNCATED,
                                         "length beyond the end of the data");
                if (avro_typeof(s) == AVRO_STRING &&
                    !utf8_valid(w->p, (size_t)n))
                        return walk_fail(w, VG_DECODE_BAD_VALUE,
                                         "string is not valid UTF-8 or "
                                         "contains NUL");
                w->p += n;
                return 0;
        case AVRO_FIXED: {
                int64_t sz = avro_schema_fixed_size(s);
                if (sz < 0 || sz > w->end - w->p)
                        return walk_fail(w, VG_DECODE_TRUNCATED,
                                         "truncated fixed");
                w->p += sz;
                return 0;
        }
        case AVRO_ENUM:
                if (walk_varint(w, &n, 5))
                        return -1;
                if (n < 0 || n >= avro_schema_enum_number_of_symbols(s))
                        return walk_fail(w, VG_DECODE_BAD_VALUE,
                                         "enum index out of range");
                return 0;
        case AVRO_UNION:
                if (walk_varint(w, &n, 5))
                        return -1;
                if (n < 0 || (size_t)n >= avro_schema_union_size(s))
                        return walk_fail(w, VG_DECODE_BAD_VALUE,
                                         "union branch out of range");
                return walk(w, avro_schema_union_branch(s, (int)n), depth + 1);
        case AVRO_RECORD: {
                size_t nf = avro_schema_record_size(s);
                for (size_t i = 0; i < nf; i++)
                        if (walk(w, avro_schema_record_field_get_by_index(
                                            s, (int)i),
                                 depth + 1))
                                return -1;
                return 0;
        }
        case AVRO_ARRAY:
        case AVRO_MAP:
                for (;;) {
                        int64_t cnt;
                        if (walk_varint(w, &cnt, 10))
                                return -1;
                        if (cnt == 0)
                                return 0;
                        if (cnt < 0) { /* block byte size follows */
                                int64_t bytes;
                                if (walk_varint(w, &bytes, 10))
                                        return -1;
                                if (bytes < 0 || cnt == INT64_MIN)
                                        return walk_fail(w,
                                                         VG_DECODE_BAD_LENGTH,
                                                         "bad block size");
                                cnt = -cnt;
                        }
                        /* Every item takes at least one byte unless it is
                         * null; bound the count by what is left. */
                        if (cnt > (w->end - w->p) + 1 &&
                            avro_typeof(avro_typeof(s) == AVRO_ARRAY
                                                ? avro_schema_array_items(s)
                                                : avro_schema_map_values(s)) !=
                                    AVRO_NULL)
                                return walk_fail(w, VG_DECODE_BAD_LENGTH,
                                                 "block count beyond the "
                                                 "data");
                        if (cnt > 1000000)
                                return walk_fail(w, VG_DECODE_BAD_LENGTH,
                                                 "block count too large");
                        for (int64_t i = 0; i < cnt; i++) {
                                if (avro_typeof(s) == AVRO_MAP &&
                                    walk(w, avro_schema_string(), depth + 1))
                                        return -1;
                                if (walk(w,
                                         avro_typeof(s) == AVRO_ARRAY
                                                 ? avro_schema_array_items(s)
                                                 : avro_schema_map_values(s),
                                         depth + 1))
                                        return -1;
                        }
                }
        case AVRO_LINK:
                return walk(w, avro_schema_link_target(s), depth + 1);
        }
        return walk_fail(w, VG_DECODE_BAD_VALUE, "unsupported schema type");
}

/*
 * Encode
 */

#define FPTR(rec, f, T) ((T *)((char *)(rec) + (f)->vf_offset))
#define CFPTR(rec, f, T) ((const T *)((const char *)(rec) + (f)->vf_offset))

/* For a ["null", X] field, selects branch 1 (X) or 0 (null). */
static int set_opt(avro_value_t *fv, int present, avro_value_t *out) {
        return avro_value_set_branch(fv, present ? 1 : 0, out);
}

static vg_err_t encode_field(const vg_field_t *f, const void *rec,
                             avro_value_t *fv, char *errstr,
                             size_t errstr_size) {
        avro_value_t b;
        int r = 0;

        switch (f->vf_type) {
        case VG_F_STRING: {
                const char *s = *CFPTR(rec, f, char *);
                if (!s)
                        return vg_seterr(errstr, errstr_size, VG_ERR_INVALID,
                                         "%s: missing (required)", f->vf_name);
                r = avro_value_set_string_len(fv, s, strlen(s) + 1);
                break;
        }
        case VG_F_OSTRING: {
                const char *s = *CFPTR(rec, f, char *);
                r = set_opt(fv, s != NULL, &b);
                if (!r && s)
                        r = avro_value_set_string_len(&b, s, strlen(s) + 1);
                else if (!r)
                        r = avro_value_set_null(&b);
                break;
        }
        case VG_F_TIME:
        case VG_F_LONG:
                r = avro_value_set_long(fv, *CFPTR(rec, f, int64_t));
                break;
        case VG_F_INT:
                r = avro_value_set_int(fv, *CFPTR(rec, f, int32_t));
                break;
        case VG_F_OTIME:
        case VG_F_OLONG:
        case VG_F_OINT: {
                const vg_optl_t *o = CFPTR(rec, f, vg_optl_t);
                if (f->vf_type == VG_F_OINT && o->set &&
                    (o->v < INT32_MIN || o->v > INT32_MAX))
                        return vg_seterr(errstr, errstr_size, VG_ERR_INVALID,
                                         "%s: out of range for int",
                                         f->vf_name);
                r = set_opt(fv, o->set, &b);
                if (!r && o->set)
                        r = f->vf_type == VG_F_OINT
                                    ? avro_value_set_int(&b, (int32_t)o->v)
                                    : avro_value_set_long(&b, o->v);
                else if (!r)
                        r = avro_value_set_null(&b);
                break;
        }
        case VG_F_ODOUBLE: {
                const vg_optd_t *o = CFPTR(rec, f, vg_optd_t);
                r = set_opt(fv, o->set, &b);
                if (!r && o->set)
                        r = avro_value_set_double(&b, o->v);
                else if (!r)
                        r = avro_value_set_null(&b);
                break;
        }
        case VG_F_BOOL:
                r = avro_value_set_boolean(fv, *CFPTR(rec, f, bool));
                break;
        case VG_F_OBOOL: {
                const vg_optl_t *o = CFPTR(rec, f, vg_optl_t);
                r = set_opt(fv, o->set, &b);
                if (!r && o->set)
                        r = avro_value_set_boolean(&b, o->v != 0);
                else if (!r)
                        r = avro_value_set_null(&b);
                break;
        }
        case VG_F_ENUM: {
                int v = *CFPTR(rec, f, int);
                if (v < 0 || v >= f->vf_enum->ve_cnt)
                        return vg_seterr(errstr, errstr_size, VG_ERR_INVALID,
                                         "%s: enum value %d out of range",
                                         f->vf_name, v);
                r = avro_value_set_enum(fv, v);
                break;
        }
        }
        if (r)
                return vg_seterr(errstr, errstr_size, VG_ERR_INTERNAL,
                                 "%s: Avro C: %s", f->vf_name,
                                 avro_strerror());
        return VG_OK;
}

vg_err_t vg_codec_encode(vg_codec_t *codec, vg_rectype_t type,
                         const void *rec, vg_buf_t *out, char *errstr,
                         size_t errstr_size) {
        vg_codec_schema_t *s = &codec->vc_schemas[codec->vc_current[type]];
        const vg_rectype_desc_t *rt = vg_rectype(type);
        unsigned char hdr[VG_SOE_HEADER_LEN];
        avro_writer_t writer;
        size_t size, start;
        vg_err_t err;

        avro_value_reset(&s->vcs_value);
        for (int i = 0; i < rt->rt_nfields; i++) {
                const vg_field_t *f = &rt->rt_fields[i];
                avro_value_t fv;
                if (avro_value_get_by_name(&s->vcs_value, f->vf_name, &fv,
                                           NULL))
                        return vg_seterr(errstr, errstr_size, VG_ERR_INTERNAL,
                                         "schema %s has no field %s",
                                         rt->rt_name, f->vf_name);
                if ((err = encode_field(f, rec, &fv, errstr, errstr_size)))
                        return err;
        }
        if (avro_value_sizeof(&s->vcs_value, &size))
                return vg_seterr(errstr, errstr_size, VG_ERR_INTERNAL,
                                 "Avro C: %s", avro_strerror());
        hdr[0] = 0xc3;
        hdr[1] = 0x01;
        for (int i = 0; i < 8; i++)
                hdr[2 + i] = (unsigned char)(s->vcs_fp >> (8 * i));
        vg_buf_append(out, hdr, sizeof(hdr));
        start = out->vb_len;
        writer = avro_writer_memory(vg_buf_grow(out, size), (int64_t)size);
        if (avro_value_write(writer, &s->vcs_value)) {
                avro_writer_free(writer);
                out->vb_len = start - sizeof(hdr);
                return vg_seterr(errstr, errstr_size, VG_ERR_INTERNAL,
                                 "Avro C: %s", avro_strerror());
        }
        avro_writer_free(writer);
        return VG_OK;
}

/*
 * Decode
 */

static vg_err_t decode_fail(vg_decode_reason_t r, vg_decode_reason_t *reasonp,
                            char *errstr, size_t errstr_size,
                            const char *what) {
        if (reasonp)
                *reasonp = r;
        return vg_seterr(errstr, errstr_size, VG_ERR_DECODE, "%s", what);
}

/* Value of the writer's field, with a ["null", X] union unwrapped:
 * returns 1 with *out set, 0 if null. */
static int unwrap(avro_value_t *v, avro_value_t *out) {
        if (avro_value_get_type(v) == AVRO_UNION) {
                avro_value_t b;
                avro_value_get_current_branch(v, &b);
                if (avro_value_get_type(&b) == AVRO_NULL)
                        return 0;
                *out = b;
                return 1;
        }
        if (avro_value_get_type(v) == AVRO_NULL)
                return 0;
        *out = *v;
        return 1;
}

/* Converts one writer value into reader field f of rec. */
static vg_err_t resolve_field(const vg_field_t *f, avro_value_t *wv, void *rec,
                              char *errstr, size_t errstr_size) {
        avro_value_t v;
        avro_type_t t;
        int present = unwrap(wv, &v);

        if (!present) {
                switch (f->vf_type) {
                case VG_F_OSTRING:
                case VG_F_OTIME:
                case VG_F_OINT:
                case VG_F_OLONG:
                case VG_F_ODOUBLE:
                case VG_F_OBOOL:
                        return VG_OK; /* stays NULL / unset */
                default:
                        return vg_seterr(errstr, errstr_size, VG_ERR_DECODE,
                                         "%s: null where a value is required",
                                         f->vf_name);
                }
        }
        t = avro_value_get_type(&v);
        switch (f->vf_type) {
        case VG_F_STRING:
        case VG_F_OSTRING: {
                const char *s;
                size_t sz;
                if (t != AVRO_STRING)
                        break;
                avro_value_get_string(&v, &s, &sz);
                *FPTR(rec, f, char *) = vg_strndup(s, sz ? sz - 1 : 0);
                return VG_OK;
        }
        case VG_F_TIME:
        case VG_F_LONG:
        case VG_F_OTIME:
        case VG_F_OLONG:
        case VG_F_INT:
        case VG_F_OINT: {
                int64_t n;
                if (t == AVRO_INT32) {
                        int32_t i32;
                        avro_value_get_int(&v, &i32);
                        n = i32;
                } else if (t == AVRO_INT64 && f->vf_type != VG_F_INT &&
                           f->vf_type != VG_F_OINT) {
                        avro_value_get_long(&v, &n);
                } else
                        break;
                if (f->vf_type == VG_F_INT)
                        *FPTR(rec, f, int32_t) = (int32_t)n;
                else if (f->vf_type == VG_F_TIME || f->vf_type == VG_F_LONG)
                        *FPTR(rec, f, int64_t) = n;
                else
                        *FPTR(rec, f, vg_optl_t) = (vg_optl_t){true, n};
                return VG_OK;
        }
        case VG_F_ODOUBLE: {
                double d;
                if (t == AVRO_DOUBLE)
                        avro_value_get_double(&v, &d);
                else if (t == AVRO_FLOAT) {
                        float fl;
                        avro_value_get_float(&v, &fl);
                        d = fl;
                } else if (t == AVRO_INT32) {
                        int32_t i32;
                        avro_value_get_int(&v, &i32);
                        d = i32;
                } else if (t == AVRO_INT64) {
                        int64_t i64;
                        avro_value_get_long(&v, &i64);
                        d = (double)i64;
                } else
                        break;
                *FPTR(rec, f, vg_optd_t) = (vg_optd_t){true, d};
                return VG_OK;
        }
        case VG_F_BOOL:
        case VG_F_OBOOL: {
                int b;
                if (t != AVRO_BOOLEAN)
                        break;
                avro_value_get_boolean(&v, &b);
                if (f->vf_type == VG_F_BOOL)
                        *FPTR(rec, f, bool) = b != 0;
                else
                        *FPTR(rec, f, vg_optl_t) = (vg_optl_t){true, b != 0};
                return VG_OK;
        }
        case VG_F_ENUM: {
                int idx, r;
                const char *sym;
                if (t != AVRO_ENUM)
                        break;
                avro_value_get_enum(&v, &idx);
                sym = avro_schema_enum_get(avro_value_get_schema(&v), idx);
                r = sym ? vg_enum_find(f->vf_enum, sym) : -1;
                if (r < 0)
                        return vg_seterr(errstr, errstr_size, VG_ERR_DECODE,
                                         "%s: unknown enum symbol \"%.64s\"",
                                         f->vf_name, sym ? sym : "?");
                *FPTR(rec, f, int) = r;
                return VG_OK;
        }
        }
        return vg_seterr(errstr, errstr_size, VG_ERR_DECODE,
                         "%s: writer type %d cannot be read as this field",
                         f->vf_name, (int)t);
}

/* Fills field f from the reader schema's JSON default. */
static vg_err_t default_field(const vg_field_t *f, json_t *def, void *rec,
                              char *errstr, size_t errstr_size) {
        if (json_is_null(def))
                return VG_OK;
        switch (f->vf_type) {
        case VG_F_STRING:
        case VG_F_OSTRING:
                if (!json_is_string(def))
                        break;
                *FPTR(rec, f, char *) = vg_strdup(json_string_value(def));
                return VG_OK;
        case VG_F_TIME:
        case VG_F_LONG:
                if (!json_is_integer(def))
                        break;
                *FPTR(rec, f, int64_t) = json_integer_value(def);
                return VG_OK;
        case VG_F_INT:
                if (!json_is_integer(def))
                        break;
                *FPTR(rec, f, int32_t) = (int32_t)json_integer_value(def);
                return VG_OK;
        case VG_F_BOOL:
                if (!json_is_boolean(def))
                        break;
                *FPTR(rec, f, bool) = json_is_true(def);
                return VG_OK;
        case VG_F_ENUM: {
                int r = json_is_string(def)
                                ? vg_enum_find(f->vf_enum,
                                               json_string_value(def))
                                : -1;
                if (r < 0)
                        break;
                *FPTR(rec, f, int) = r;
                return VG_OK;
        }
        default: /* Avro: a union's default is of its first branch (null) */
                break;
        }
        return vg_seterr(errstr, errstr_size, VG_ERR_DECODE,
                         "%s: unusable default in reader schema", f->vf_name);
}

/* Fills rec (a struct of type) from a record value of any writer version,
 * by field name, with the current reader's defaults for missing fields. */
static vg_err_t from_value(vg_codec_t *codec, vg_rectype_t type,
                           avro_value_t *v, void *rec, char *errstr,
                           size_t errstr_size) {
        vg_codec_schema_t *r = &codec->vc_schemas[codec->vc_current[type]];
        const vg_rectype_desc_t *rt = vg_rectype(type);
        vg_err_t err = VG_OK;

        if (VG_REC_IS_EVENT(type))
                ((vg_event_t *)rec)->ev_type = type;
        for (int i = 0; i < rt->rt_nfields && !err; i++) {
                const vg_field_t *f = &rt->rt_fields[i];
                avro_value_t fv;
                if (!avro_value_get_by_name(v, f->vf_name, &fv, NULL))
                        err = resolve_field(f, &fv, rec, errstr, errstr_size);
                else {
                        json_t *rf = reader_field_json(r, f->vf_name);
                        err = default_field(f,
                                            rf ? json_object_get(rf, "default")
                                               : NULL,
                                            rec, errstr, errstr_size);
                }
        }
        if (err)
                vg_record_clear(type, rec);
        return err;
}

vg_err_t vg_codec_decode(vg_codec_t *codec, const void *data, size_t len,
                         int expect, vg_rectype_t *typep, void *rec,
                         vg_decode_reason_t *reasonp, char *errstr,
                         size_t errstr_size) {
        const unsigned char *p = data;
        vg_codec_schema_t *w = NULL;
        const vg_rectype_desc_t *rt;
        avro_reader_t reader;
        uint64_t fp = 0;
        walk_t wk;
        char what[256];
        vg_err_t err;

        memset(rec, 0, sizeof(vg_anyrec_t));
        if (reasonp)
                *reasonp = VG_DECODE_OK;
        if (len < VG_SOE_HEADER_LEN || p[0] != 0xc3 || p[1] != 0x01)
                return decode_fail(VG_DECODE_BAD_HEADER, reasonp, errstr,
                                   errstr_size,
                                   len < 2 ? "no single-object header (too "
                                             "short)"
                                   : len < VG_SOE_HEADER_LEN &&
                                                   p[0] == 0xc3 && p[1] == 0x01
                                           ? "truncated single-object header"
                                           : "not Avro single-object encoding "
                                             "(bad magic, expected C3 01)");
        for (int i = 0; i < 8; i++)
                fp |= (uint64_t)p[2 + i] << (8 * i);
        for (int i = 0; i < codec->vc_cnt; i++)
                if (codec->vc_schemas[i].vcs_fp == fp)
                        w = &codec->vc_schemas[i];
        if (!w) {
                snprintf(what, sizeof(what),
                         "unknown writer schema fingerprint %016llx",
                         (unsigned long long)fp);
                return decode_fail(VG_DECODE_UNKNOWN_FINGERPRINT, reasonp,
                                   errstr, errstr_size, what);
        }
        rt = vg_rectype(w->vcs_type);
        if (expect >= 0 && (int)w->vcs_type != expect) {
                snprintf(what, sizeof(what),
                         "record is a %s, not the %s this topic carries",
                         rt->rt_name, vg_rectype(expect)->rt_name);
                return decode_fail(VG_DECODE_WRONG_TYPE, reasonp, errstr,
                                   errstr_size, what);
        }

        wk.p = p + VG_SOE_HEADER_LEN;
        wk.end = p + len;
        wk.reason = VG_DECODE_OK;
        if (walk(&wk, w->vcs_schema, 0))
                return decode_fail(wk.reason, reasonp, errstr, errstr_size,
                                   wk.what);
        if (wk.p != wk.end) {
                snprintf(what, sizeof(what), "%zu bytes left after the body",
                         (size_t)(wk.end - wk.p));
                return decode_fail(VG_DECODE_TRAILING_BYTES, reasonp, errstr,
                                   errstr_size, what);
        }

        /* The bytes are well-formed: let Avro C read them. */
        avro_value_reset(&w->vcs_value);
        reader = avro_reader_memory((const char *)p + VG_SOE_HEADER_LEN,
                                    (int64_t)(len - VG_SOE_HEADER_LEN));
        if (avro_value_read(reader, &w->vcs_value)) {
                avro_reader_free(reader);
                snprintf(what, sizeof(what), "Avro C: %s", avro_strerror());
                return decode_fail(VG_DECODE_BAD_VALUE, reasonp, errstr,
                                   errstr_size, what);
        }
        avro_reader_free(reader);

        err = from_value(codec, w->vcs_type, &w->vcs_value, rec, errstr,
                         errstr_size);
        if (err) {
                if (reasonp)
                        *reasonp = VG_DECODE_RESOLUTION;
                return VG_ERR_DECODE;
        }
        *typep = w->vcs_type;
        return VG_OK;
}

vg_err_t vg_codec_from_value(vg_codec_t *codec, avro_value_t *value,
                             vg_rectype_t *typep, void *rec, char *errstr,
                             size_t errstr_size) {
        avro_value_t v = *value;
        const vg_rectype_desc_t *rt;
        const char *name;

        if (avro_value_get_type(&v) == AVRO_UNION &&
            avro_value_get_current_branch(value, &v))
                return vg_seterr(errstr, errstr_size, VG_ERR_DECODE,
                                 "union without a branch");
        if (avro_value_get_type(&v) != AVRO_RECORD)
                return vg_seterr(errstr, errstr_size, VG_ERR_DECODE,
                                 "not a record");
        name = avro_schema_name(avro_value_get_schema(&v));
        rt = name ? vg_rectype_by_name(name) : NULL;
        if (!rt || strcmp(rt->rt_name, name))
                return vg_seterr(errstr, errstr_size, VG_ERR_DECODE,
                                 "record %s is not a Vigil record type",
                                 name ? name : "?");
        memset(rec, 0, rt->rt_size);
        if (from_value(codec, rt->rt_type, &v, rec, errstr, errstr_size))
                return VG_ERR_DECODE;
        *typep = rt->rt_type;
        return VG_OK;
}

/*
 * Canonical form of a parsed Avro C schema (for container files, whose
 * writer schema Avro C parsed): named types written in full at their first
 * occurrence, by full name after; links followed.
 */

typedef struct cseen_s {
        char *names[256];
        int   n;
} cseen_t;

static void fullname_of(avro_schema_t s, char *buf, size_t size) {
        const char *ns = avro_schema_namespace(s), *n = avro_schema_name(s);
        if (ns && *ns && !strchr(n, '.'))
                snprintf(buf, size, "%s.%s", ns, n);
        else
                snprintf(buf, size, "%s", n);
}

static int canon_avro(avro_schema_t s, vg_buf_t *out, cseen_t *seen,
                      int depth) {
        char full[512];
        if (depth > 32)
                return -1;
        switch (avro_typeof(s)) {
        case AVRO_STRING:  vg_buf_puts(out, "\"string\""); return 0;
        case AVRO_BYTES:   vg_buf_puts(out, "\"bytes\""); return 0;
        case AVRO_INT32:   vg_buf_puts(out, "\"int\""); return 0;
        case AVRO_INT64:   vg_buf_puts(out, "\"long\""); return 0;
        case AVRO_FLOAT:   vg_buf_puts(out, "\"float\""); return 0;
        case AVRO_DOUBLE:  vg_buf_puts(out, "\"double\""); return 0;
        case AVRO_BOOLEAN: vg_buf_puts(out, "\"boolean\""); return 0;
        case AVRO_NULL:    vg_buf_puts(out, "\"null\""); return 0;
        case AVRO_LINK:
                return canon_avro(avro_schema_link_target(s), out, seen,
                                  depth + 1);
        case AVRO_ARRAY:
                vg_buf_puts(out, "{\"type\":\"array\",\"items\":");
                if (canon_avro(avro_schema_array_items(s), out, seen,
                               depth + 1))
                        return -1;
                vg_buf_puts(out, "}");
                return 0;
        case AVRO_MAP:
                vg_buf_puts(out, "{\"type\":\"map\",\"values\":");
                if (canon_avro(avro_schema_map_values(s), out, seen,
                               depth + 1))
                        return -1;
                vg_buf_puts(out, "}");
                return 0;
        case AVRO_UNION:
                vg_buf_puts(out, "[");
                for (size_t i = 0; i < avro_schema_union_size(s); i++) {
                        if (i)
                                vg_buf_puts(out, ",");
                        if (canon_avro(avro_schema_union_branch(s, (int)i), out,
                                       seen, depth + 1))
                                return -1;
                }
                vg_buf_puts(out, "]");
                return 0;
        case AVRO_RECORD:
        case AVRO_ENUM:
        case AVRO_FIXED:
                fullname_of(s, full, sizeof(full));
                for (int i = 0; i < seen->n; i++)
                        if (!strcmp(seen->names[i], full)) {
                                vg_buf_printf(out, "\"%s\"", full);
                                return 0;
                        }
                if (seen->n == (int)VG_ARRAY_SIZE(seen->names))
                        return -1;
                seen->names[seen->n++] = vg_strdup(full);
                vg_buf_printf(out, "{\"name\":\"%s\",\"type\":", full);
                if (avro_typeof(s) == AVRO_FIXED) {
                        vg_buf_printf(out, "\"fixed\",\"size\":%lld}",
                                      (long long)avro_schema_fixed_size(s));
                        return 0;
                }
                if (avro_typeof(s) == AVRO_ENUM) {
                        vg_buf_puts(out, "\"enum\",\"symbols\":[");
                        for (int i = 0;
                             i < avro_schema_enum_number_of_symbols(s); i++)
                                vg_buf_printf(out, "%s\"%s\"", i ? "," : "",
                                              avro_schema_enum_get(s, i));
                        vg_buf_puts(out, "]}");
                        return 0;
                }
                vg_buf_puts(out, "\"record\",\"fields\":[");
                for (size_t i = 0; i < avro_schema_record_size(s); i++) {
                        vg_buf_printf(out, "%s{\"name\":\"%s\",\"type\":",
                                      i ? "," : "",
                                      avro_schema_record_field_name(s, (int)i));
                        if (canon_avro(avro_schema_record_field_get_by_index(
                                               s, (int)i),
                                       out, seen, depth + 1))
                                return -1;
                        vg_buf_puts(out, "}");
                }
                vg_buf_puts(out, "]}");
                return 0;
        }
        return -1;
}

/* Is record schema s (standalone) one of the registered versions? */
static bool record_known(vg_codec_t *codec, avro_schema_t s) {
        cseen_t seen;
        vg_buf_t out;
        bool known = false;
        seen.n = 0;
        vg_buf_init(&out);
        if (!canon_avro(s, &out, &seen, 0) && out.vb_data) {
                uint64_t fp = vg_schema_crc64(out.vb_data, out.vb_len);
                for (int i = 0; i < codec->vc_cnt && !known; i++)
                        known = codec->vc_schemas[i].vcs_fp == fp;
        }
        for (int i = 0; i < seen.n; i++)
                vg_free(seen.names[i]);
        vg_buf_free(&out);
        return known;
}

bool vg_codec_schema_known(vg_codec_t *codec, avro_schema_t s, char *errstr,
                           size_t errstr_size) {
        while (avro_typeof(s) == AVRO_LINK)
                s = avro_schema_link_target(s);
        if (avro_typeof(s) == AVRO_RECORD) {
                if (record_known(codec, s))
                        return true;
        } else if (avro_typeof(s) == AVRO_UNION &&
                   avro_schema_union_size(s) > 0) {
                bool all = true;
                for (size_t i = 0; i < avro_schema_union_size(s) && all; i++) {
                        avro_schema_t b = avro_schema_union_branch(s, (int)i);
                        while (avro_typeof(b) == AVRO_LINK)
                                b = avro_schema_link_target(b);
                        all = avro_typeof(b) == AVRO_RECORD &&
                              record_known(codec, b);
                }
                if (all)
                        return true;
        }
        vg_seterr(errstr, errstr_size, VG_ERR_DECODE,
                  "the file's writer schema is not a schema Vigil ships (a "
                  "Vigil record, or a union of them, exactly as in schemas/)");
        return false;
}
