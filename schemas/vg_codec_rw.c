/*
 * vg_codec_rw.c - records <-> Avro single-object bytes with the codec's
 * schemas (vg_codec.h):
 *   encode  - struct -> Avro C generic value -> bytes (current schema)
 *   decode  - header and fingerprint, the walk (vg_codec_walk.c), then
 *             bytes -> Avro C generic value (writer) -> struct (reader),
 *             resolved by field name, defaults filled for fields the writer
 *             lacks; also from a value Avro C read (container files)
 * Both first try the direct path (vg_codec_direct.c) where the schema
 * version has a plan; what it declines takes the path above.
 */
#include "vg_codec_int.h"

#include <stdio.h>
#include <string.h>

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

        hdr[0] = 0xc3;
        hdr[1] = 0x01;
        for (int i = 0; i < 8; i++)
                hdr[2 + i] = (unsigned char)(s->vcs_fp >> (8 * i));
        if (s->vcs_plan && s->vcs_plan->cp_encode && !codec->vc_no_direct) {
                vg_buf_append(out, hdr, sizeof(hdr));
                if (!vg_codec_direct_encode(s->vcs_plan, rec, out))
                        return VG_OK;
                out->vb_len -= sizeof(hdr); /* declined: Avro C's path */
                out->vb_data[out->vb_len] = '\0';
        }
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
                const char *s = "";
                size_t sz = 0;
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
                int64_t n = 0;
                if (t == AVRO_INT32) {
                        int32_t i32 = 0;
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
                double d = 0;
                if (t == AVRO_DOUBLE)
                        avro_value_get_double(&v, &d);
                else if (t == AVRO_FLOAT) {
                        float fl = 0;
                        avro_value_get_float(&v, &fl);
                        d = fl;
                } else if (t == AVRO_INT32) {
                        int32_t i32 = 0;
                        avro_value_get_int(&v, &i32);
                        d = i32;
                } else if (t == AVRO_INT64) {
                        int64_t i64 = 0;
                        avro_value_get_long(&v, &i64);
                        d = (double)i64;
                } else
                        break;
                *FPTR(rec, f, vg_optd_t) = (vg_optd_t){true, d};
                return VG_OK;
        }
        case VG_F_BOOL:
        case VG_F_OBOOL: {
                int b = 0;
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
                int idx = 0, r;
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
                        json_t *rf = vg_codec_reader_field_json(r,
                                                            f->vf_name);
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

static vg_err_t codec_decode(vg_codec_t *codec, const void *data, size_t len,
                             int expect, vg_rectype_t *typep, void *rec,
                             vg_decode_reason_t *reasonp, char *errstr,
                             size_t errstr_size);

vg_err_t vg_codec_decode(vg_codec_t *codec, const void *data, size_t len,
                         int expect, vg_rectype_t *typep, void *rec,
                         vg_decode_reason_t *reasonp, char *errstr,
                         size_t errstr_size) {
        vg_err_t err = codec_decode(codec, data, len, expect, typep, rec,
                                    reasonp, errstr, errstr_size);
        /* Every reader logs the reason, and process copies it to a DLQ
         * header: a fingerprint's hex (ab191212121212cd) or a value quoted
         * may look like a personnummer (docs/EVENTS.md §7) */
        if (err && errstr && errstr_size)
                vg_redact_pnr(errstr);
        return err;
}

static vg_err_t codec_decode(vg_codec_t *codec, const void *data, size_t len,
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
                                   !data ? "no value (a tombstone)"
                                   : len < 2 ? "no single-object header (too "
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

        if (w->vcs_plan && !codec->vc_no_direct &&
            !vg_codec_direct_decode(w->vcs_plan, w->vcs_type,
                                    p + VG_SOE_HEADER_LEN,
                                    len - VG_SOE_HEADER_LEN, rec)) {
                *typep = w->vcs_type;
                return VG_OK;
        }
        wk.p = p + VG_SOE_HEADER_LEN;
        wk.end = p + len;
        wk.reason = VG_DECODE_OK;
        if (vg_codec_walk(&wk, w->vcs_schema))
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
