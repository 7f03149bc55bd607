/*
 * vg_codec_walk.c - the bounds-checking pass over untrusted bytes: before
 * Avro C reads a body, it is walked against the writer schema and every
 * length, count, varint, enum index, union branch, boolean, float and UTF-8
 * string is checked, so that crafted input cannot reach malloc or read past
 * the end. See vg_codec_int.h.
 */
#include "vg_codec_int.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

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

int vg_codec_utf8_valid(const unsigned char *s, size_t n) {
        for (size_t i = 0, len; i < n; i += len)
                if (!s[i] || !(len = vg_utf8_char(s + i, n - i)))
                        return 0; /* (a NUL: C strings cannot carry it) */
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
                    !vg_codec_utf8_valid(w->p, (size_t)n))
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


int vg_codec_walk(walk_t *w, avro_schema_t s) {
        return walk(w, s, 0);
}
