/*
 * vg_codec.c - Avro single-object encoding with schema resolution: the
 * registry of schema versions.
 *
 * Contents:
 *   registry   - the writer versions (by fingerprint) and current readers
 *   canonical  - canonical form of a schema Avro C parsed (container files)
 *                and whether it is a shipped one
 * Elsewhere: the walk over untrusted bytes (vg_codec_walk.c), encode and
 * decode (vg_codec_rw.c); shared internals in vg_codec_int.h.
 */
#include "vg_codec_int.h"
#include "vg_schema.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
        vg_free(s->vcs_plan);
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

json_t *vg_codec_reader_field_json(const vg_codec_schema_t *s,
                                   const char *name) {
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
        s.vcs_plan = vg_codec_plan_new(s.vcs_schema, s.vcs_type);
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
                json_t *rf = vg_codec_reader_field_json(r, fn);
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

/* The most one allocation of Avro C may take: the largest input
 * input.max_bytes allows, and more than an Avro container's block
 * (VG_OCF_BLOCK_MAX decompressed). Avro C allocates a string or bytes
 * value at the length its varint claims before it reads the bytes: a
 * record in a container file claiming 10^15 bytes asked malloc for that
 * (an abort under AddressSanitizer). Above this, the allocation fails
 * and the record is an error, as one cut short. */
#define AVRO_ALLOC_MAX (((size_t)1 << 30) + ((size_t)1 << 20))

static void *avro_alloc_bounded(void *ud, void *ptr, size_t osize,
                                size_t nsize) {
        (void)ud;
        (void)osize;
        if (!nsize) {
                free(ptr);
                return NULL;
        }
        return nsize > AVRO_ALLOC_MAX ? NULL : realloc(ptr, nsize);
}

static pthread_once_t avro_alloc_once = PTHREAD_ONCE_INIT;

static void avro_alloc_bound(void) {
        avro_set_allocator(avro_alloc_bounded, NULL);
}

vg_codec_t *vg_codec_new(char *errstr, size_t errstr_size) {
        vg_codec_t *codec;
        pthread_once(&avro_alloc_once, avro_alloc_bound);
        codec = vg_calloc(1, sizeof(*codec));

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
