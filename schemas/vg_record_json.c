/*
 * vg_record_json.c - the JSON forms of the records (SPEC §9 JSON Lines, the
 * compact state form) and the indicator-value JSON, driven by the field
 * tables of vg_record.c.
 */
#include "vg_record_json.h"
#include "vg_time.h"

#include <ctype.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(__SSE2__) && defined(__GNUC__)
#include <emmintrin.h>
#define FLAT_SSE2 1 /* (x86-64 has it always) */
#endif

#define FPTR(rec, f, T) ((T *)((char *)(rec) + (f)->vf_offset))
#define CFPTR(rec, f, T) ((const T *)((const char *)(rec) + (f)->vf_offset))

json_t *vg_ivalue_json(const vg_ivalue_t *iv) {
        json_t *o = json_object();
        char t[32];
        json_object_set_new(o, "indicator", json_string(iv->iv_indicator));
        json_object_set_new(o, "area", json_string(iv->iv_area));
        json_object_set_new(o, "period", json_string(iv->iv_period));
        json_object_set_new(o, "breakdown",
                            json_string(iv->iv_breakdown ? iv->iv_breakdown
                                                         : "all"));
        json_object_set_new(o, "numerator", json_integer(iv->iv_numerator));
        json_object_set_new(o, "denominator",
                            iv->iv_denominator.set
                                    ? json_integer(iv->iv_denominator.v)
                                    : json_null());
        json_object_set_new(o, "complete", json_boolean(iv->iv_complete));
        json_object_set_new(o, "history_complete",
                            json_boolean(iv->iv_history_complete));
        json_object_set_new(o, "data_since",
                            iv->iv_data_since.set
                                    ? json_string(vg_time_format(
                                              iv->iv_data_since.v, t))
                                    : json_null());
        return o;
}

/* (version-1 lines lack them) */
static bool bool_or_absent(const json_t *v) {
        return !v || json_is_boolean(v);
}

static bool time_or_absent(const json_t *v) {
        int64_t ms;
        return !v || json_is_null(v) ||
               (json_is_string(v) &&
                !vg_time_parse(json_string_value(v), &ms));
}

vg_err_t vg_ivalue_from_json(json_t *o, vg_ivalue_t *iv, char *errstr,
                             size_t errstr_size) {
        json_t *d = json_object_get(o, "denominator"), *b;
        memset(iv, 0, sizeof(*iv));
        if (!json_is_object(o) ||
            !json_is_string(json_object_get(o, "indicator")) ||
            !json_is_string(json_object_get(o, "area")) ||
            !json_is_string(json_object_get(o, "period")) ||
            !json_is_integer(json_object_get(o, "numerator")) ||
            (d && !json_is_null(d) && !json_is_integer(d)))
                return vg_seterr(errstr, errstr_size, VG_ERR_INVALID,
                                 "expected indicator, area, period, "
                                 "numerator and an integer or null "
                                 "denominator");
        b = json_object_get(o, "breakdown");
        if (b && !json_is_string(b))
                return vg_seterr(errstr, errstr_size, VG_ERR_INVALID,
                                 "breakdown: expected a string");
        iv->iv_indicator = vg_strdup(json_string_value(
                json_object_get(o, "indicator")));
        iv->iv_area = vg_strdup(json_string_value(json_object_get(o, "area")));
        iv->iv_period = vg_strdup(json_string_value(
                json_object_get(o, "period")));
        iv->iv_breakdown = vg_strdup(b ? json_string_value(b) : "all");
        iv->iv_numerator = json_integer_value(json_object_get(o, "numerator"));
        iv->iv_denominator = (vg_optl_t){json_is_integer(d),
                                         json_integer_value(d)};
        if (iv->iv_denominator.set && iv->iv_denominator.v)
                iv->iv_value = (vg_optd_t){
                        true, (double)iv->iv_numerator /
                                      (double)iv->iv_denominator.v};
        /* Version-1 lines lack the last four: their defaults. */
        if (!bool_or_absent(json_object_get(o, "complete")) ||
            !bool_or_absent(json_object_get(o, "history_complete")) ||
            !time_or_absent(json_object_get(o, "data_since"))) {
                vg_record_clear(VG_REC_IVALUE, iv);
                return vg_seterr(errstr, errstr_size, VG_ERR_INVALID,
                                 "complete and history_complete: expected "
                                 "true or false; data_since: an RFC 3339 "
                                 "UTC time or null");
        }
        iv->iv_complete = json_is_true(json_object_get(o, "complete"));
        iv->iv_history_complete =
                !json_is_false(json_object_get(o, "history_complete"));
        if (json_is_string(json_object_get(o, "data_since"))) {
                int64_t ms;
                if (!vg_time_parse(json_string_value(
                                           json_object_get(o, "data_since")),
                                   &ms))
                        iv->iv_data_since = (vg_optl_t){true, ms};
        }
        return VG_OK;
}


static int field_optional(vg_ftype_t t) {
        return t == VG_F_OSTRING || t == VG_F_OTIME || t == VG_F_OINT ||
               t == VG_F_OLONG || t == VG_F_ODOUBLE || t == VG_F_OBOOL;
}

static const char *expected_of(const vg_field_t *f) {
        switch (f->vf_type) {
        case VG_F_STRING:  return "a string";
        case VG_F_OSTRING: return "a string or null";
        case VG_F_TIME:    return "an RFC 3339 UTC time or epoch milliseconds";
        case VG_F_OTIME:   return "an RFC 3339 UTC time, epoch milliseconds "
                                  "or null";
        case VG_F_INT:     return "an integer";
        case VG_F_OINT:    return "an integer or null";
        case VG_F_LONG:    return "an integer";
        case VG_F_OLONG:   return "an integer or null";
        case VG_F_BOOL:    return "true or false";
        case VG_F_ENUM:    return "a symbol";
        case VG_F_ODOUBLE: return "a number or null";
        case VG_F_OBOOL:   return "true, false or null";
        }
        return "?";
}

/*
 * One JSON value as the field readers see it, whether jansson parsed it or
 * the flat-line scanner below did: the same rules read both.
 */
typedef enum jv_kind_e {
        JV_ABSENT = 0, /* no such member */
        JV_NULL,
        JV_BOOL,
        JV_INT,
        JV_REAL,
        JV_STR,
        JV_OTHER       /* an object or an array */
} jv_kind_t;

typedef struct jv_s {
        jv_kind_t   jv_kind;
        bool        jv_bool;
        int64_t     jv_int;
        double      jv_real;
        const char *jv_str; /* JV_STR: NUL-terminated */
        size_t      jv_len;
} jv_t;

static jv_t jv_of_json(const json_t *v) {
        jv_t j = {0};
        switch (json_typeof(v)) {
        case JSON_NULL:    j.jv_kind = JV_NULL; break;
        case JSON_TRUE:    j.jv_kind = JV_BOOL; j.jv_bool = true; break;
        case JSON_FALSE:   j.jv_kind = JV_BOOL; break;
        case JSON_INTEGER:
                j.jv_kind = JV_INT;
                j.jv_int = (int64_t)json_integer_value(v);
                break;
        case JSON_REAL:
                j.jv_kind = JV_REAL;
                j.jv_real = json_real_value(v);
                break;
        case JSON_STRING:
                j.jv_kind = JV_STR;
                j.jv_str = json_string_value(v);
                j.jv_len = json_string_length(v);
                break;
        default:           j.jv_kind = JV_OTHER; break;
        }
        return j;
}

/* The time v holds: 0 (in *out); -1 not a time; 1 an RFC 3339 time with
 * an offset other than UTC's (*out untouched by both). SPEC §9 asks for
 * "an RFC 3339 UTC string": "Z" or "z", or the offset "+00:00" or
 * "-00:00" (RFC 3339's UTC with an unknown local offset). Another offset
 * names the same instant, but it is not a UTC string: refused, as the
 * literal reading has it. */
static int jv_time(const jv_t *v, int64_t *out) {
        int64_t ms;
        int off;
        if (v->jv_kind == JV_INT) {
                *out = v->jv_int;
                return 0;
        }
        if (v->jv_kind != JV_STR ||
            memchr(v->jv_str, '\0', v->jv_len) || /* (a "\u0000" inside) */
            vg_time_parse_off(v->jv_str, &ms, &off))
                return -1;
        if (off)
                return 1;
        *out = ms;
        return 0;
}

/* The error of a time field whose value jv_time() did not take. */
static vg_err_t time_err(const vg_field_t *f, const jv_t *v, int r,
                         char *errstr, size_t errstr_size) {
        if (r > 0) /* (a valid RFC 3339 time: digits, ':', '+' or '-') */
                return vg_seterr(errstr, errstr_size, VG_ERR_INVALID,
                                 "%s: %s is not in UTC (write it with Z, "
                                 "as the same instant in UTC)",
                                 f->vf_name, v->jv_str);
        return vg_seterr(errstr, errstr_size, VG_ERR_INVALID,
                         "%s: expected %s", f->vf_name, expected_of(f));
}

static vg_err_t field_from_jv(const vg_field_t *f, const jv_t *v, void *rec,
                              char *errstr, size_t errstr_size) {
        if (v->jv_kind == JV_NULL) {
                if (field_optional(f->vf_type))
                        return VG_OK; /* already NULL / unset */
                goto bad;
        }
        switch (f->vf_type) {
        case VG_F_STRING:
        case VG_F_OSTRING:
                if (v->jv_kind != JV_STR)
                        goto bad;
                *FPTR(rec, f, char *) = vg_strndup(v->jv_str, v->jv_len);
                return VG_OK;
        case VG_F_TIME: {
                int r = jv_time(v, FPTR(rec, f, int64_t));
                return r ? time_err(f, v, r, errstr, errstr_size) : VG_OK;
        }
        case VG_F_OTIME: {
                vg_optl_t *o = FPTR(rec, f, vg_optl_t);
                int r = jv_time(v, &o->v);
                if (r)
                        return time_err(f, v, r, errstr, errstr_size);
                o->set = true;
                return VG_OK;
        }
        case VG_F_INT:
        case VG_F_OINT: {
                int64_t n;
                if (v->jv_kind != JV_INT)
                        goto bad;
                n = v->jv_int;
                if (n < INT32_MIN || n > INT32_MAX)
                        return vg_seterr(errstr, errstr_size, VG_ERR_INVALID,
                                         "%s: %lld is out of range for a "
                                         "32-bit integer", f->vf_name,
                                         (long long)n);
                if (f->vf_type == VG_F_INT)
                        *FPTR(rec, f, int32_t) = (int32_t)n;
                else
                        *FPTR(rec, f, vg_optl_t) = (vg_optl_t){true, n};
                return VG_OK;
        }
        case VG_F_LONG:
                if (v->jv_kind != JV_INT)
                        goto bad;
                *FPTR(rec, f, int64_t) = v->jv_int;
                return VG_OK;
        case VG_F_OLONG:
                if (v->jv_kind != JV_INT)
                        goto bad;
                *FPTR(rec, f, vg_optl_t) = (vg_optl_t){true, v->jv_int};
                return VG_OK;
        case VG_F_BOOL:
                if (v->jv_kind != JV_BOOL)
                        goto bad;
                *FPTR(rec, f, bool) = v->jv_bool;
                return VG_OK;
        case VG_F_OBOOL:
                if (v->jv_kind != JV_BOOL)
                        goto bad;
                *FPTR(rec, f, vg_optl_t) = (vg_optl_t){true, v->jv_bool};
                return VG_OK;
        case VG_F_ENUM: {
                int idx;
                if (v->jv_kind != JV_STR)
                        goto bad;
                idx = vg_enum_find(f->vf_enum, v->jv_str);
                if (idx < 0) {
                        char syms[512] = "";
                        for (int i = 0; i < f->vf_enum->ve_cnt; i++) {
                                if (i)
                                        strncat(syms, "|",
                                                sizeof(syms) - strlen(syms) - 1);
                                strncat(syms, f->vf_enum->ve_symbols[i],
                                        sizeof(syms) - strlen(syms) - 1);
                        }
                        size_t digits = 0;
                        for (const char *q = v->jv_str; *q; q++)
                                digits += isdigit((unsigned char)*q) != 0;
                        /* No echo of digit runs: never a personnummer in a
                         * message (SPEC §8). */
                        return vg_seterr(errstr, errstr_size, VG_ERR_INVALID,
                                         "%s: unknown symbol \"%.64s\" "
                                         "(expected one of %s)",
                                         f->vf_name,
                                         digits > 5 ? "(not shown)"
                                                    : v->jv_str,
                                         syms);
                }
                *FPTR(rec, f, int) = idx;
                return VG_OK;
        }
        case VG_F_ODOUBLE:
                if (v->jv_kind == JV_INT)
                        *FPTR(rec, f, vg_optd_t) =
                                (vg_optd_t){true, (double)v->jv_int};
                else if (v->jv_kind == JV_REAL)
                        *FPTR(rec, f, vg_optd_t) =
                                (vg_optd_t){true, v->jv_real};
                else
                        goto bad;
                return VG_OK;
        }
bad:
        return vg_seterr(errstr, errstr_size, VG_ERR_INVALID,
                         "%s: expected %s", f->vf_name, expected_of(f));
}

/* The most fields of any record type (vg_record.c). */
#define FIELDS_MAX 32

/* Fills rec from vals[i], the value of field i (JV_ABSENT: left out). */
static vg_err_t record_fill(const vg_rectype_desc_t *rt, const jv_t *vals,
                            void *rec, char *errstr, size_t errstr_size) {
        vg_err_t err;
        for (int i = 0; i < rt->rt_nfields; i++) {
                const vg_field_t *f = &rt->rt_fields[i];
                if (vals[i].jv_kind == JV_ABSENT) {
                        if (field_optional(f->vf_type))
                                continue;
                        /* A field added with a default (SPEC §3: residence,
                         * version 2) may be left out. */
                        if (f->vf_enum == &vg_enum_residence) {
                                *(int *)((char *)rec + f->vf_offset) =
                                        VG_RES_UNKNOWN;
                                continue;
                        }
                        err = vg_seterr(errstr, errstr_size, VG_ERR_INVALID,
                                        "%s: missing (expected %s)",
                                        f->vf_name, expected_of(f));
                        vg_record_clear(rt->rt_type, rec);
                        return err;
                }
                if ((err = field_from_jv(f, &vals[i], rec, errstr,
                                         errstr_size))) {
                        vg_record_clear(rt->rt_type, rec);
                        return err;
                }
        }
        return VG_OK;
}

/* The index of the field called key, -1 for "type" on an event, -2 when
 * there is none. The search starts at field from (0..nfields): a
 * producer writes the fields in one order, most often the schema's, so
 * the next member is most often the next field. */
static int field_index_from(const vg_rectype_desc_t *rt, const char *key,
                            int from) {
        int n = rt->rt_nfields;
        for (int k = 0; k < n; k++) {
                int i = (from + k) % n;
                if (key[0] == rt->rt_fields[i].vf_name[0] &&
                    !strcmp(key, rt->rt_fields[i].vf_name))
                        return i;
        }
        return VG_REC_IS_EVENT(rt->rt_type) && !strcmp(key, "type") ? -1 : -2;
}

static int field_index(const vg_rectype_desc_t *rt, const char *key) {
        return field_index_from(rt, key, 0);
}

vg_err_t vg_record_from_json(vg_rectype_t type, json_t *obj, void *rec,
                             char *errstr, size_t errstr_size) {
        const vg_rectype_desc_t *rt = vg_rectype(type);
        jv_t vals[FIELDS_MAX] = {{0}};
        const char *key;
        json_t *v;

        if (!json_is_object(obj))
                return vg_seterr(errstr, errstr_size, VG_ERR_INVALID,
                                 "expected a JSON object");
        if (rt->rt_nfields > FIELDS_MAX)
                return vg_seterr(errstr, errstr_size, VG_ERR_INTERNAL,
                                 "%s: more than %d fields", rt->rt_name,
                                 FIELDS_MAX);
        memset(rec, 0, rt->rt_size);
        if (VG_REC_IS_EVENT(type))
                ((vg_event_t *)rec)->ev_type = type;

        /* Unknown members are errors: a misspelt field must not be dropped
         * silently. */
        json_object_foreach(obj, key, v) {
                int i = field_index(rt, key);
                if (i == -2) {
                        size_t digits = 0;
                        for (const char *q = key; *q; q++)
                                digits += isdigit((unsigned char)*q) != 0;
                        return vg_seterr(errstr, errstr_size, VG_ERR_INVALID,
                                         "%.64s: unknown field for %s",
                                         digits > 5 ? "(a name with digits)"
                                                    : key,
                                         rt->rt_json_type);
                }
                if (i >= 0)
                        vals[i] = jv_of_json(v);
        }
        {
                vg_err_t err = record_fill(rt, vals, rec, errstr,
                                           errstr_size);
                /* (a message may quote a value: SPEC §8, no personnummer
                 * in a log) */
                if (err && errstr && errstr_size)
                        vg_redact_pnr(errstr);
                return err;
        }
}

vg_err_t vg_event_from_json(json_t *obj, vg_event_t *ev, char *errstr,
                            size_t errstr_size) {
        json_t *jt;
        const vg_rectype_desc_t *rt;

        memset(ev, 0, sizeof(*ev));
        if (!json_is_object(obj))
                return vg_seterr(errstr, errstr_size, VG_ERR_INVALID,
                                 "expected a JSON object");
        jt = json_object_get(obj, "type");
        if (!json_is_string(jt))
                return vg_seterr(errstr, errstr_size, VG_ERR_INVALID,
                                 "type: %s (expected admission, discharge, "
                                 "death, sip_created or register_entry)",
                                 jt ? "not a string" : "missing");
        rt = vg_rectype_by_name(json_string_value(jt));
        if (!rt || !VG_REC_IS_EVENT(rt->rt_type) ||
            strcmp(rt->rt_json_type, json_string_value(jt))) {
                const char *tv = json_string_value(jt);
                size_t digits = 0;
                for (const char *q = tv; *q; q++)
                        digits += isdigit((unsigned char)*q) != 0;
                return vg_seterr(errstr, errstr_size, VG_ERR_INVALID,
                                 "type: unknown event type \"%.64s\" (expected "
                                 "admission, discharge, death, sip_created "
                                 "or register_entry)",
                                 digits > 5 ? "(not shown)" : tv);
        }
        return vg_record_from_json(rt->rt_type, obj, ev, errstr, errstr_size);
}

char *vg_json_error_text(char *text) {
        char *near = strstr(text, " near ");
        if (near)
                *near = '\0';
        /* (jansson names its own flag) */
        if (strstr(text, "without JSON_ALLOW_NUL"))
                snprintf(text, strlen(text) + 1, "%s",
                         "\\u0000 (a NUL character) is not allowed");
        return text;
}

/*
 * The fast path for JSON Lines events. Most lines are one flat object of
 * printable ASCII strings without escapes, integers, booleans and nulls;
 * for those the scanner below finds the members without building a jansson
 * tree and the same field rules fill the event. It declines everything
 * else - an escape, a byte outside printable ASCII in a string, a number
 * with a fraction, exponent or more digits than an int64 holds, a nested
 * value, a duplicate or unknown member, a long line, any error at all - and
 * the caller then parses the line with jansson, so what is accepted and
 * every error message are exactly jansson's path's.
 */
#define FLAT_LINE_MAX 4096
#define FLAT_MEMBERS_MAX (FIELDS_MAX + 1)

typedef struct flat_member_s {
        const char *fm_key;
        jv_t        fm_val;
} flat_member_t;

static const char *flat_ws(const char *p, const char *end) {
        while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
                p++;
        return p;
}

#if defined(__GNUC__) && defined(__BYTE_ORDER__) && \
        __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define FLAT_WORDS 1
/* The bytes of w that end a plain string or are not allowed in one ('"',
 * '\\', below 0x20, above 0x7e), each as its high bit. A borrow or carry
 * may also mark a byte above one marked rightly, never below: the lowest
 * bit set is the first such byte. */
static uint64_t flat_stop8(uint64_t w) {
        const uint64_t ones = 0x0101010101010101ull;
        const uint64_t high = 0x8080808080808080ull;
        uint64_t q = w ^ (ones * '"'), b = w ^ (ones * '\\');
        return (((q - ones) & ~q) | ((b - ones) & ~b) |
                ((w - ones * 0x20) & ~w) | ((w + ones) | w)) &
               high;
}
#endif

#ifdef FLAT_SSE2
/* The bytes of the 16 at q that end a plain string or are not allowed in
 * one ('"', '\\', below 0x20, above 0x7e), a bit each: below 0x20 as a
 * signed byte is also 0x80 and above. */
static unsigned flat_stop16(const char *q) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)q);
        __m128i m = _mm_or_si128(
                _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')),
                             _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'))),
                _mm_or_si128(_mm_cmplt_epi8(v, _mm_set1_epi8(0x20)),
                             _mm_cmpeq_epi8(v, _mm_set1_epi8(0x7f))));
        return (unsigned)_mm_movemask_epi8(m);
}
#endif

/* A string without escapes at p (on '"') in the writable copy: its end
 * quote becomes NUL. Returns the position after it, or NULL. */
static char *flat_str(char *p, char *end, const char **s, size_t *len) {
        char *q = ++p;
#ifdef FLAT_SSE2
        /* 16 bytes at a time, to the first that ends the string or is not
         * allowed in it (the byte loop judges it) */
        while (end - q >= 16) {
                unsigned m = flat_stop16(q);
                if (m) {
                        q += __builtin_ctz(m);
                        goto judge;
                }
                q += 16;
        }
#endif
#ifdef FLAT_WORDS
        /* 8 bytes at a time, to the first that ends the string or is not
         * allowed in it (the byte loop judges it) */
        while (end - q >= 8) {
                uint64_t w, m;
                memcpy(&w, q, 8);
                if ((m = flat_stop8(w))) {
                        q += __builtin_ctzll(m) >> 3;
                        break;
                }
                q += 8;
        }
#endif
#ifdef FLAT_SSE2
judge:
#endif
        while (q < end && *q != '"') {
                unsigned char c = (unsigned char)*q;
                if (c < 0x20 || c > 0x7e || c == '\\')
                        return NULL;
                q++;
        }
        if (q == end)
                return NULL;
        *q = '\0';
        *s = p;
        *len = (size_t)(q - p);
        return q + 1;
}

static char *flat_value(char *p, char *end, jv_t *v) {
        if (*p == '"') {
                v->jv_kind = JV_STR;
                return flat_str(p, end, &v->jv_str, &v->jv_len);
        }
        if (*p == '-' || (*p >= '0' && *p <= '9')) {
                bool neg = *p == '-';
                uint64_t u = 0;
                char *q = p + neg;
                if (q == end || *q < '0' || *q > '9' ||
                    (*q == '0' && q + 1 < end && q[1] >= '0' && q[1] <= '9'))
                        return NULL; /* "-", leading zeros */
                for (; q < end && *q >= '0' && *q <= '9'; q++) {
                        if (u > (UINT64_MAX - 9) / 10)
                                return NULL;
                        u = u * 10 + (uint64_t)(*q - '0');
                }
                if (q < end && (*q == '.' || *q == 'e' || *q == 'E'))
                        return NULL; /* a real: jansson's path */
                if (u > (uint64_t)INT64_MAX + neg || (neg && u == 0))
                        return NULL;
                v->jv_kind = JV_INT;
                v->jv_int = neg ? (int64_t)(0 - u) : (int64_t)u;
                return q;
        }
        static const struct { const char *w; size_t n; jv_kind_t k; bool b; }
                words[] = {{"null", 4, JV_NULL, false},
                           {"true", 4, JV_BOOL, true},
                           {"false", 5, JV_BOOL, false}};
        for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
                if ((size_t)(end - p) >= words[i].n &&
                    !memcmp(p, words[i].w, words[i].n)) {
                        v->jv_kind = words[i].k;
                        v->jv_bool = words[i].b;
                        return p + words[i].n;
                }
        return NULL;
}

/* Members of the flat object in buf[0..len), or -1. */
static int flat_scan(char *buf, size_t len, flat_member_t *m) {
        char *p = buf, *end = buf + len;
        int n = 0;

        p = (char *)flat_ws(p, end);
        if (p == end || *p++ != '{')
                return -1;
        p = (char *)flat_ws(p, end);
        if (p < end && *p == '}') {
                p++;
        } else {
                for (;;) {
                        size_t klen;
                        if (n == FLAT_MEMBERS_MAX || p == end || *p != '"' ||
                            !(p = flat_str(p, end, &m[n].fm_key, &klen)))
                                return -1;
                        p = (char *)flat_ws(p, end);
                        if (p == end || *p++ != ':')
                                return -1;
                        p = (char *)flat_ws(p, end);
                        memset(&m[n].fm_val, 0, sizeof(m[n].fm_val));
                        if (p == end || !(p = flat_value(p, end, &m[n].fm_val)))
                                return -1;
                        n++;
                        p = (char *)flat_ws(p, end);
                        if (p < end && *p == ',') {
                                p = (char *)flat_ws(p + 1, end);
                                continue;
                        }
                        if (p < end && *p == '}') {
                                p++;
                                break;
                        }
                        return -1;
                }
        }
        return flat_ws(p, end) == end ? n : -1;
}

/* The event of a flat line, or false to have jansson's path read it. */
static bool flat_event(const char *line, size_t len, vg_event_t *ev) {
        char buf[FLAT_LINE_MAX], errstr[8];
        flat_member_t m[FLAT_MEMBERS_MAX];
        jv_t vals[FIELDS_MAX] = {{0}};
        const vg_rectype_desc_t *rt = NULL;
        int n;

        if (len >= sizeof(buf) || memchr(line, '\0', len))
                return false;
        memcpy(buf, line, len);
        if ((n = flat_scan(buf, len, m)) < 0)
                return false;
        for (int i = 0; i < n && !rt; i++)
                if (!strcmp(m[i].fm_key, "type") &&
                    m[i].fm_val.jv_kind == JV_STR)
                        rt = vg_rectype_by_name(m[i].fm_val.jv_str);
        if (!rt || !VG_REC_IS_EVENT(rt->rt_type) ||
            rt->rt_nfields > FIELDS_MAX)
                return false;
        for (int i = 0, types = 0, next = 0; i < n; i++) {
                /* ("type" is no event's field name, test_fast_input: it
                 * is not compared with each of them) */
                int fi = m[i].fm_key[0] == 't' && !strcmp(m[i].fm_key, "type")
                                 ? -1
                                 : field_index_from(rt, m[i].fm_key, next);
                if (fi >= 0)
                        next = fi + 1 < rt->rt_nfields ? fi + 1 : 0;
                if (fi == -1) {
                        if (types++ || m[i].fm_val.jv_kind != JV_STR ||
                            strcmp(m[i].fm_val.jv_str, rt->rt_json_type))
                                return false; /* twice, or "Admission" */
                        continue;
                }
                if (fi < 0 || vals[fi].jv_kind != JV_ABSENT)
                        return false; /* unknown or twice */
                vals[fi] = m[i].fm_val;
        }
        memset(ev, 0, sizeof(*ev));
        ev->ev_type = rt->rt_type;
        return record_fill(rt, vals, ev, errstr, sizeof(errstr)) == VG_OK;
}

bool vg_event_from_flat_jsonl(const char *line, size_t len, vg_event_t *ev) {
        return flat_event(line, len, ev);
}

vg_err_t vg_event_from_jsonl(const char *line, size_t len, vg_event_t *ev,
                             char *errstr, size_t errstr_size) {
        json_error_t jerr;
        json_t *obj;
        vg_err_t err;

        if (flat_event(line, len, ev))
                return VG_OK;
        obj = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
        memset(ev, 0, sizeof(*ev));
        if (!obj)
                return vg_seterr(errstr, errstr_size, VG_ERR_INVALID,
                                 "not valid JSON: column %d: %s", jerr.column,
                                 vg_json_error_text(jerr.text));
        err = vg_event_from_json(obj, ev, errstr, errstr_size);
        json_decref(obj);
        return err;
}

static json_t *time_json(int64_t ms) {
        char buf[VG_TIME_BUFSZ];
        return json_string(vg_time_format(ms, buf));
}

json_t *vg_record_to_json(vg_rectype_t type, const void *rec) {
        const vg_rectype_desc_t *rt = vg_rectype(type);
        json_t *obj = json_object();
        int is_event = VG_REC_IS_EVENT(type);

        if (is_event)
                json_object_set_new(obj, "type", json_string(rt->rt_json_type));
        for (int i = 0; i < rt->rt_nfields; i++) {
                const vg_field_t *f = &rt->rt_fields[i];
                json_t *v = NULL;
                switch (f->vf_type) {
                case VG_F_STRING:
                case VG_F_OSTRING: {
                        const char *s = *CFPTR(rec, f, char *);
                        v = s ? json_string(s) : NULL;
                        break;
                }
                case VG_F_TIME:
                        v = time_json(*CFPTR(rec, f, int64_t));
                        break;
                case VG_F_OTIME: {
                        const vg_optl_t *o = CFPTR(rec, f, vg_optl_t);
                        v = o->set ? time_json(o->v) : NULL;
                        break;
                }
                case VG_F_INT:
                        v = json_integer(*CFPTR(rec, f, int32_t));
                        break;
                case VG_F_LONG:
                        v = json_integer(*CFPTR(rec, f, int64_t));
                        break;
                case VG_F_OINT:
                case VG_F_OLONG: {
                        const vg_optl_t *o = CFPTR(rec, f, vg_optl_t);
                        v = o->set ? json_integer(o->v) : NULL;
                        break;
                }
                case VG_F_BOOL:
                        v = json_boolean(*CFPTR(rec, f, bool));
                        break;
                case VG_F_OBOOL: {
                        const vg_optl_t *o = CFPTR(rec, f, vg_optl_t);
                        v = o->set ? json_boolean(o->v) : NULL;
                        break;
                }
                case VG_F_ENUM:
                        v = json_string(vg_enum_str(f->vf_enum,
                                                    *CFPTR(rec, f, int)));
                        break;
                case VG_F_ODOUBLE: {
                        const vg_optd_t *o = CFPTR(rec, f, vg_optd_t);
                        v = o->set ? json_real(o->v) : NULL;
                        break;
                }
                }
                if (v)
                        json_object_set_new(obj, f->vf_name, v);
                else if (!is_event || f->vf_type != VG_F_OSTRING ||
                         !strcmp(f->vf_name, "cancels_event_id"))
                        json_object_set_new(obj, f->vf_name, json_null());
        }
        return obj;
}

char *vg_record_to_jsonl(vg_rectype_t type, const void *rec) {
        json_t *obj = vg_record_to_json(type, rec);
        char *s = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER);
        char *r = vg_strdup(s);
        free(s);
        json_decref(obj);
        return r;
}
