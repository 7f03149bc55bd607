/*
 * vg_record_json_write.c - the JSON forms written without building a
 * jansson tree (vg_record_json.h): string literals, the compact state
 * form, an output record as json_dumps writes it, and an indicator value.
 */
#include "vg_record_json.h"
#include "vg_time.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define CFPTR(rec, f, T) ((const T *)((const char *)(rec) + (f)->vf_offset))

/* Appends a signed decimal. */
static void put_i64(vg_buf_t *out, int64_t v) {
        char d[24], *p = d + sizeof(d);
        uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
        do
                *--p = (char)('0' + u % 10);
        while (u /= 10);
        if (v < 0)
                *--p = '-';
        vg_buf_append(out, p, (size_t)(d + sizeof(d) - p));
}

void vg_ivalue_put_json(vg_buf_t *out, const vg_ivalue_t *iv) {
        char t[32];
        vg_buf_append(out, "{\"indicator\":", 13);
        vg_json_put_string(out, iv->iv_indicator);
        vg_buf_append(out, ",\"area\":", 8);
        vg_json_put_string(out, iv->iv_area);
        vg_buf_append(out, ",\"period\":", 10);
        vg_json_put_string(out, iv->iv_period);
        vg_buf_append(out, ",\"breakdown\":", 13);
        vg_json_put_string(out, iv->iv_breakdown ? iv->iv_breakdown : "all");
        vg_buf_append(out, ",\"numerator\":", 13);
        put_i64(out, iv->iv_numerator);
        vg_buf_append(out, ",\"denominator\":", 15);
        if (iv->iv_denominator.set)
                put_i64(out, iv->iv_denominator.v);
        else
                vg_buf_append(out, "null", 4);
        vg_buf_append(out, ",\"complete\":", 12);
        if (iv->iv_complete)
                vg_buf_append(out, "true", 4);
        else
                vg_buf_append(out, "false", 5);
        vg_buf_append(out, ",\"history_complete\":", 20);
        if (iv->iv_history_complete)
                vg_buf_append(out, "true", 4);
        else
                vg_buf_append(out, "false", 5);
        vg_buf_append(out, ",\"data_since\":", 14);
        if (iv->iv_data_since.set)
                vg_json_put_string(out, vg_time_format(iv->iv_data_since.v, t));
        else
                vg_buf_append(out, "null", 4);
        vg_buf_append(out, "}", 1);
}

void vg_json_put_string(vg_buf_t *out, const char *s) {
        static const char hex[] = "0123456789abcdef";
        const char *run = s;
        vg_buf_append(out, "\"", 1);
        for (; *s; s++) {
                unsigned char c = (unsigned char)*s;
                if (c >= 0x20 && c != '"' && c != '\\')
                        continue;
                vg_buf_append(out, run, (size_t)(s - run));
                if (c == '"' || c == '\\') {
                        char esc[2] = {'\\', (char)c};
                        vg_buf_append(out, esc, 2);
                } else {
                        char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4],
                                       hex[c & 15]};
                        vg_buf_append(out, esc, 6);
                }
                run = s + 1;
        }
        vg_buf_append(out, run, (size_t)(s - run));
        vg_buf_append(out, "\"", 1);
}

/* Whether field f of rec is null: a NULL string, an unset optional. */
static bool field_null(const vg_field_t *f, const void *rec) {
        switch (f->vf_type) {
        case VG_F_STRING:
        case VG_F_OSTRING:
                return !*CFPTR(rec, f, char *);
        case VG_F_OTIME:
        case VG_F_OINT:
        case VG_F_OLONG:
        case VG_F_OBOOL:
                return !CFPTR(rec, f, vg_optl_t)->set;
        case VG_F_ODOUBLE:
                return !CFPTR(rec, f, vg_optd_t)->set;
        default:
                return false;
        }
}

/* A string field's value (NULL for other fields). */
static const char *field_str(const vg_field_t *f, const void *rec) {
        return f->vf_type == VG_F_STRING || f->vf_type == VG_F_OSTRING
                       ? *CFPTR(rec, f, char *)
                       : NULL;
}

void vg_record_write_json(vg_buf_t *out, vg_rectype_t type, const void *rec) {
        const vg_rectype_desc_t *rt = vg_rectype(type);
        int first = 1;
        vg_buf_append(out, "{", 1);
        if (VG_REC_IS_EVENT(type)) {
                vg_buf_puts(out, "\"type\":");
                vg_json_put_string(out, rt->rt_json_type);
                first = 0;
        }
        for (int i = 0; i < rt->rt_nfields; i++) {
                const vg_field_t *f = &rt->rt_fields[i];
                const vg_optl_t *ol = CFPTR(rec, f, vg_optl_t);
                const vg_optd_t *od = CFPTR(rec, f, vg_optd_t);
                const char *str;
                if (field_null(f, rec)) /* skip what is null */
                        continue;
                str = field_str(f, rec);
                if (!first)
                        vg_buf_append(out, ",", 1);
                first = 0;
                vg_json_put_string(out, f->vf_name);
                vg_buf_append(out, ":", 1);
                switch (f->vf_type) {
                case VG_F_STRING:
                case VG_F_OSTRING:
                        vg_json_put_string(out, str);
                        break;
                case VG_F_TIME:
                case VG_F_LONG:
                        vg_buf_printf(out, "%lld",
                                      (long long)*CFPTR(rec, f, int64_t));
                        break;
                case VG_F_INT:
                        vg_buf_printf(out, "%d", (int)*CFPTR(rec, f, int32_t));
                        break;
                case VG_F_OTIME:
                case VG_F_OINT:
                case VG_F_OLONG:
                        vg_buf_printf(out, "%lld", (long long)ol->v);
                        break;
                case VG_F_ODOUBLE:
                        vg_buf_printf(out, "%.17g", od->v);
                        break;
                case VG_F_BOOL:
                        vg_buf_puts(out, *CFPTR(rec, f, bool) ? "true"
                                                              : "false");
                        break;
                case VG_F_OBOOL:
                        vg_buf_puts(out, ol->v ? "true" : "false");
                        break;
                case VG_F_ENUM:
                        vg_json_put_string(out,
                                           vg_enum_str(f->vf_enum,
                                                       *CFPTR(rec, f, int)));
                        break;
                }
        }
        vg_buf_append(out, "}", 1);
}

/* A real as jansson's json_dumps writes it (jsonp_dtostr, precision 17):
 * "%.17g", ".0" added when neither '.' nor 'e' is in it, and the
 * exponent without '+' or leading zeros. */
static bool put_real(vg_buf_t *out, double v) {
        char b[40], *e;
        int n = snprintf(b, sizeof(b) - 3, "%.17g", v);
        if (n < 0 || (size_t)n >= sizeof(b) - 3)
                return false; /* (never: 24 bytes at most) */
        if (!strchr(b, '.') && !strchr(b, 'e'))
                memcpy(b + n, ".0", 3), n += 2;
        if ((e = strchr(b, 'e'))) {
                char *start = e + 1, *end = e + 2;
                if (*start == '-')
                        start++;
                while (*end == '0')
                        end++;
                memmove(start, end, (size_t)(b + n + 1 - end));
                n -= (int)(end - start);
        }
        vg_buf_append(out, b, (size_t)n);
        return true;
}

/* s as a JSON string if every byte of it is printable ASCII (written the
 * same by jansson and vg_json_put_string); false, nothing written,
 * otherwise. */
static bool put_plain_string(vg_buf_t *out, const char *s) {
        for (const char *p = s; *p; p++)
                if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
                        return false;
        vg_json_put_string(out, s);
        return true;
}

int vg_record_put_output_json(vg_buf_t *out, vg_rectype_t type,
                              const void *rec) {
        const vg_rectype_desc_t *rt = vg_rectype(type);
        char t[VG_TIME_BUFSZ];
        int first = 1;
        if (VG_REC_IS_EVENT(type))
                return -1;
        vg_buf_append(out, "{", 1);
        for (int i = 0; i < rt->rt_nfields; i++) {
                const vg_field_t *f = &rt->rt_fields[i];
                const vg_optl_t *ol = CFPTR(rec, f, vg_optl_t);
                const vg_optd_t *od = CFPTR(rec, f, vg_optd_t);
                const char *str;
                if (field_null(f, rec)) /* what is null is left out */
                        continue;
                if (f->vf_type == VG_F_ODOUBLE && !isfinite(od->v))
                        return -1; /* (json_real refuses it) */
                str = field_str(f, rec);
                if (!first)
                        vg_buf_append(out, ",", 1);
                first = 0;
                if (!put_plain_string(out, f->vf_name))
                        return -1;
                vg_buf_append(out, ":", 1);
                switch (f->vf_type) {
                case VG_F_STRING:
                case VG_F_OSTRING:
                        if (!put_plain_string(out, str))
                                return -1;
                        break;
                case VG_F_TIME:
                        vg_json_put_string(
                                out, vg_time_format(*CFPTR(rec, f, int64_t), t));
                        break;
                case VG_F_OTIME:
                        vg_json_put_string(out, vg_time_format(ol->v, t));
                        break;
                case VG_F_LONG:
                        put_i64(out, *CFPTR(rec, f, int64_t));
                        break;
                case VG_F_INT:
                        put_i64(out, *CFPTR(rec, f, int32_t));
                        break;
                case VG_F_OINT:
                case VG_F_OLONG:
                        put_i64(out, ol->v);
                        break;
                case VG_F_ODOUBLE:
                        if (!put_real(out, od->v))
                                return -1;
                        break;
                case VG_F_BOOL:
                        vg_buf_puts(out, *CFPTR(rec, f, bool) ? "true"
                                                              : "false");
                        break;
                case VG_F_OBOOL:
                        vg_buf_puts(out, ol->v ? "true" : "false");
                        break;
                case VG_F_ENUM:
                        if (!put_plain_string(
                                    out, vg_enum_str(f->vf_enum,
                                                     *CFPTR(rec, f, int))))
                                return -1;
                        break;
                }
        }
        vg_buf_append(out, "}", 1);
        return 0;
}

