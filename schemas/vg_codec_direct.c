/*
 * vg_codec_direct.c - records <-> Avro binary without Avro C's generic
 * values, for the schema versions whose fields are the record's own
 * (vg_codec_int.h, "Direct"). Avro C's path (vg_codec_rw.c: the walk, a
 * generic value, resolution by name) stays the reference: whatever the
 * direct path does not take exactly as that path would - another field
 * layout, a value it refuses, any malformed byte - it declines, and the
 * caller takes Avro C's path, which also words the errors. On the bytes
 * it takes, it makes the record (or the bytes) Avro C's path makes;
 * test_codec_direct checks that on random records and mangled bytes.
 */
#include "vg_codec_int.h"

#include <math.h>
#include <string.h>

/* What a field of the record needs of its writer's Avro type. */
static avro_type_t want_type(vg_ftype_t t) {
        switch (t) {
        case VG_F_STRING:
        case VG_F_OSTRING:
                return AVRO_STRING;
        case VG_F_TIME:
        case VG_F_OTIME:
        case VG_F_LONG:
        case VG_F_OLONG:
                return AVRO_INT64;
        case VG_F_INT:
        case VG_F_OINT:
                return AVRO_INT32;
        case VG_F_BOOL:
        case VG_F_OBOOL:
                return AVRO_BOOLEAN;
        case VG_F_ENUM:
                return AVRO_ENUM;
        case VG_F_ODOUBLE:
                return AVRO_DOUBLE;
        }
        return AVRO_NULL;
}

static bool optional(vg_ftype_t t) {
        return t == VG_F_OSTRING || t == VG_F_OTIME || t == VG_F_OINT ||
               t == VG_F_OLONG || t == VG_F_ODOUBLE || t == VG_F_OBOOL;
}

/* A named type where s refers to it by name. */
static avro_schema_t deref(avro_schema_t s) {
        for (int i = 0; i < 8 && avro_typeof(s) == AVRO_LINK; i++)
                s = avro_schema_link_target(s);
        return s;
}

/* The plan of field f from writer field type ws, or -1 if there is none. */
static int plan_field(const vg_field_t *f, avro_schema_t ws,
                      vg_plan_field_t *pf) {
        avro_schema_t vs = deref(ws);
        if (avro_typeof(vs) == AVRO_UNION) {
                /* ["null", X] only: what Avro C's path writes */
                if (avro_schema_union_size(vs) != 2 ||
                    avro_typeof(deref(avro_schema_union_branch(vs, 0))) !=
                            AVRO_NULL)
                        return -1;
                vs = deref(avro_schema_union_branch(vs, 1));
                pf->pf_union = true;
        }
        if (avro_typeof(vs) != want_type(f->vf_type))
                return -1;
        if (f->vf_type == VG_F_ENUM) {
                int n = avro_schema_enum_number_of_symbols(vs);
                pf->pf_same_enum = n == f->vf_enum->ve_cnt;
                if (n <= 0 || n > VG_PLAN_MAX_SYMBOLS)
                        return -1;
                pf->pf_nsym = n;
                for (int i = 0; i < n; i++) {
                        const char *sym = avro_schema_enum_get(vs, i);
                        int v = sym ? vg_enum_find(f->vf_enum, sym) : -1;
                        if (v > INT8_MAX)
                                return -1;
                        pf->pf_enum[i] = (int8_t)v; /* -1: unknown */
                        if (v != i)
                                pf->pf_same_enum = false;
                }
        }
        return 0;
}

vg_codec_plan_t *vg_codec_plan_new(avro_schema_t s, vg_rectype_t type) {
        const vg_rectype_desc_t *rt = vg_rectype(type);
        size_t nf = avro_schema_record_size(s);
        uint64_t used = 0; /* the record's fields matched so far */
        vg_codec_plan_t *p;
        if (nf != (size_t)rt->rt_nfields || nf > 64)
                return NULL; /* a field the reader lacks, or the other way */
        p = vg_calloc(1, sizeof(*p) + nf * sizeof(p->cp_f[0]));
        p->cp_n = (int)nf;
        p->cp_encode = true;
        for (size_t i = 0; i < nf; i++) {
                const char *name = avro_schema_record_field_name(s, (int)i);
                vg_plan_field_t *pf = &p->cp_f[i];
                int k = -1;
                for (int j = 0; name && j < rt->rt_nfields && k < 0; j++)
                        if (!strcmp(rt->rt_fields[j].vf_name, name))
                                k = j;
                if (k < 0 || (used & (1ull << k)) ||
                    plan_field(&rt->rt_fields[k],
                               avro_schema_record_field_get_by_index(s, (int)i),
                               pf)) {
                        vg_free(p);
                        return NULL;
                }
                used |= 1ull << k;
                pf->pf_field = &rt->rt_fields[k];
                /* Encoding writes what Avro C's path sets: ["null", X] for
                 * an optional field, X for a required one, an enum value
                 * as its index. */
                if (pf->pf_union != optional(pf->pf_field->vf_type) ||
                    (pf->pf_field->vf_type == VG_F_ENUM && !pf->pf_same_enum))
                        p->cp_encode = false;
        }
        /* (nf fields, each matched to another of the record's nf: each
         * of the record's fields once; Avro C would take a field named
         * twice) */
        return p;
}

/*
 * Decode
 */

typedef struct rd_s {
        const unsigned char *p, *end;
} rd_t;

/* A zig-zag varint of at most max bytes, as the walk reads it; -1 where
 * the walk would refuse it or Avro C might read it otherwise (a tenth
 * byte with bits beyond the 64th). */
static int get_zz(rd_t *r, int max, int64_t *out) {
        uint64_t v = 0;
        for (int i = 0, shift = 0;; i++, shift += 7) {
                unsigned char b;
                if (r->p >= r->end || i >= max)
                        return -1;
                b = *r->p++;
                if (i == 9 && b > 1)
                        return -1;
                v |= (uint64_t)(b & 0x7f) << shift;
                if (!(b & 0x80))
                        break;
        }
        *out = (int64_t)((v >> 1) ^ (0 - (v & 1)));
        return 0;
}

static int get_field(rd_t *r, const vg_plan_field_t *pf, void *rec) {
        const vg_field_t *f = pf->pf_field;
        char *at = (char *)rec + f->vf_offset;
        int64_t n;
        if (pf->pf_union) {
                if (get_zz(r, 5, &n) || n < 0 || n > 1)
                        return -1;
                if (!n) /* null: an optional field stays unset */
                        return optional(f->vf_type) ? 0 : -1;
        }
        switch (f->vf_type) {
        case VG_F_STRING:
        case VG_F_OSTRING:
                if (get_zz(r, 10, &n) || n < 0 ||
                    (uint64_t)n > (uint64_t)(r->end - r->p) ||
                    !vg_codec_utf8_valid(r->p, (size_t)n))
                        return -1;
                *(char **)at = vg_strndup((const char *)r->p, (size_t)n);
                r->p += n;
                return 0;
        case VG_F_TIME:
        case VG_F_LONG:
                return get_zz(r, 10, (int64_t *)at);
        case VG_F_OTIME:
        case VG_F_OLONG:
                if (get_zz(r, 10, &n))
                        return -1;
                *(vg_optl_t *)at = (vg_optl_t){true, n};
                return 0;
        case VG_F_INT:
        case VG_F_OINT:
                if (get_zz(r, 5, &n) || n < INT32_MIN || n > INT32_MAX)
                        return -1;
                if (f->vf_type == VG_F_INT)
                        *(int32_t *)at = (int32_t)n;
                else
                        *(vg_optl_t *)at = (vg_optl_t){true, n};
                return 0;
        case VG_F_BOOL:
        case VG_F_OBOOL:
                if (r->p >= r->end || *r->p > 1)
                        return -1;
                if (f->vf_type == VG_F_BOOL)
                        *(bool *)at = *r->p != 0;
                else
                        *(vg_optl_t *)at = (vg_optl_t){true, *r->p};
                r->p++;
                return 0;
        case VG_F_ENUM:
                if (get_zz(r, 5, &n) || n < 0 || n >= pf->pf_nsym ||
                    pf->pf_enum[n] < 0)
                        return -1;
                *(int *)at = pf->pf_enum[n];
                return 0;
        case VG_F_ODOUBLE: {
                double d;
                if (r->end - r->p < 8)
                        return -1;
                memcpy(&d, r->p, 8); /* little-endian hosts, as the walk */
                if (!isfinite(d))
                        return -1;
                *(vg_optd_t *)at = (vg_optd_t){true, d};
                r->p += 8;
                return 0;
        }
        }
        return -1;
}

int vg_codec_direct_decode(const vg_codec_plan_t *plan, vg_rectype_t type,
                           const void *body, size_t len, void *rec) {
        rd_t r = {body, (const unsigned char *)body + len};
        if (VG_REC_IS_EVENT(type))
                ((vg_event_t *)rec)->ev_type = type;
        for (int i = 0; i < plan->cp_n; i++)
                if (get_field(&r, &plan->cp_f[i], rec))
                        goto decline;
        if (r.p == r.end)
                return 0;
decline:
        vg_record_clear(type, rec);
        memset(rec, 0, vg_rectype(type)->rt_size);
        return -1;
}

/*
 * Encode
 */

static void put_zz(vg_buf_t *b, int64_t v) {
        vg_buf_put_varint(b, ((uint64_t)v << 1) ^ (0 - ((uint64_t)v >> 63)));
}

static int put_field(vg_buf_t *b, const vg_field_t *f, const void *rec) {
        const char *at = (const char *)rec + f->vf_offset;
        const vg_optl_t *ol = (const vg_optl_t *)(const void *)at;
        const vg_optd_t *od = (const vg_optd_t *)(const void *)at;
        const char *s;
        switch (f->vf_type) {
        case VG_F_STRING:
        case VG_F_OSTRING:
                s = *(char *const *)(const void *)at;
                if (f->vf_type == VG_F_OSTRING)
                        put_zz(b, s != NULL);
                else if (!s)
                        return -1; /* (Avro C's path says what is wrong) */
                if (s) {
                        size_t n = strlen(s);
                        put_zz(b, (int64_t)n);
                        vg_buf_append(b, s, n);
                }
                return 0;
        case VG_F_TIME:
        case VG_F_LONG:
                put_zz(b, *(const int64_t *)(const void *)at);
                return 0;
        case VG_F_INT:
                put_zz(b, *(const int32_t *)(const void *)at);
                return 0;
        case VG_F_OTIME:
        case VG_F_OLONG:
        case VG_F_OINT:
                if (f->vf_type == VG_F_OINT && ol->set &&
                    (ol->v < INT32_MIN || ol->v > INT32_MAX))
                        return -1;
                put_zz(b, ol->set);
                if (ol->set)
                        put_zz(b, ol->v);
                return 0;
        case VG_F_BOOL: {
                unsigned char c = *(const bool *)(const void *)at;
                vg_buf_append(b, &c, 1);
                return 0;
        }
        case VG_F_OBOOL:
                put_zz(b, ol->set);
                if (ol->set) {
                        unsigned char c = ol->v != 0;
                        vg_buf_append(b, &c, 1);
                }
                return 0;
        case VG_F_ENUM: {
                int v = *(const int *)(const void *)at;
                if (v < 0 || v >= f->vf_enum->ve_cnt)
                        return -1;
                put_zz(b, v);
                return 0;
        }
        case VG_F_ODOUBLE:
                put_zz(b, od->set);
                if (od->set)
                        vg_buf_append(b, &od->v, 8); /* little-endian */
                return 0;
        }
        return -1;
}

int vg_codec_direct_encode(const vg_codec_plan_t *plan, const void *rec,
                           vg_buf_t *out) {
        size_t start = out->vb_len;
        for (int i = 0; i < plan->cp_n; i++)
                if (put_field(out, plan->cp_f[i].pf_field, rec)) {
                        out->vb_len = start;
                        out->vb_data[start] = '\0';
                        return -1;
                }
        return 0;
}
