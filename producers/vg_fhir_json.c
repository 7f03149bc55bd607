/*
 * vg_fhir_json.c - reading the JSON of FHIR resources (vg_fhir_int.h):
 * strings with their limits, arrays that may be lone objects, codings,
 * ICD-10 codes, FHIR dates and times; event ids (vg_fhir.h).
 */
#include "vg_fhir_int.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

/* Code systems read as ICD-10 (besides any system naming icd-10). */
static const char *const icd10_oids[] = {
        "urn:oid:1.2.752.116.1.1.1.1.3", /* ICD-10-SE */
        "urn:oid:2.16.840.1.113883.6.3", /* ICD-10 */
};

/* ------------------------------------------------------------------ */
/* Small readers                                                      */
/* ------------------------------------------------------------------ */

bool fhir_in_set(const char *s, const char *const *set, size_t n) {
        for (size_t i = 0; s && i < n; i++)
                if (!strcmp(s, set[i]))
                        return true;
        return false;
}

/* A short code from the input as it may be quoted in a message: up to 24
 * letters, digits, '-' and '.', else "(not shown)". */
const char *fhir_quotable(const char *s) {
        size_t n = s ? strlen(s) : 0;
        size_t digits = 0;
        if (n == 0 || n > 24)
                return "(not shown)";
        for (size_t i = 0; i < n; i++) {
                if (!isalnum((unsigned char)s[i]) && s[i] != '-' &&
                    s[i] != '.')
                        return "(not shown)";
                digits += isdigit((unsigned char)s[i]) != 0;
        }
        return digits > 5 ? "(not shown)" : s;
}

/* obj[key] as a string: *out NULL when absent. Returns 0, or -1 with a
 * message naming what when it is not a string, is longer than VAL_MAX - 1
 * or holds a control character. */
int fhir_get_str(json_t *obj, const char *key, const char *what,
                 const char **out, char *e, size_t es) {
        json_t *v = json_is_object(obj) ? json_object_get(obj, key) : NULL;
        const char *s;
        size_t n;

        *out = NULL;
        if (!v || json_is_null(v))
                return 0;
        if (!json_is_string(v)) {
                vg_seterr(e, es, VG_ERR_INVALID, "%s: expected a string",
                          what);
                return -1;
        }
        s = json_string_value(v);
        n = json_string_length(v);
        if (n >= VAL_MAX) {
                vg_seterr(e, es, VG_ERR_INVALID,
                          "%s: longer than %d bytes", what, VAL_MAX - 1);
                return -1;
        }
        if (vg_text_control(s, n)) {
                vg_seterr(e, es, VG_ERR_INVALID,
                          "%s: holds a control character (or an invisible "
                          "one such as U+0085 or U+202E)", what);
                return -1;
        }
        *out = n ? s : NULL;
        return 0;
}

/* obj[key] as a string or NULL, without complaints (for optional context
 * such as a Bundle entry's fullUrl). */
const char *fhir_peek_str(json_t *obj, const char *key) {
        json_t *v = json_is_object(obj) ? json_object_get(obj, key) : NULL;
        return json_is_string(v) && json_string_length(v) < VAL_MAX &&
                               json_string_length(v) > 0
                       ? json_string_value(v)
                       : NULL;
}

/* The i-th element of obj[key] when it is an array; a lone object counts
 * as an array of one (lenient about 0..1 vs 0..*). */
json_t *fhir_elem(json_t *obj, const char *key, size_t i) {
        json_t *v = json_is_object(obj) ? json_object_get(obj, key) : NULL;
        if (json_is_array(v))
                return json_array_get(v, i);
        return i == 0 && json_is_object(v) ? v : NULL;
}

size_t fhir_elems(json_t *obj, const char *key) {
        json_t *v = json_is_object(obj) ? json_object_get(obj, key) : NULL;
        return json_is_array(v) ? json_array_size(v) : json_is_object(v);
}

/* True if a Coding or CodeableConcept cc has coding system/code. */
bool fhir_has_coding(json_t *cc, const char *system, const char *code) {
        size_t n = fhir_elems(cc, "coding");
        if (!n && fhir_peek_str(cc, "code")) { /* a Coding */
                const char *s = fhir_peek_str(cc, "system");
                return s && !strcmp(s, system) &&
                       !strcmp(fhir_peek_str(cc, "code"), code);
        }
        for (size_t i = 0; i < n; i++) {
                json_t *c = fhir_elem(cc, "coding", i);
                const char *s = fhir_peek_str(c, "system"),
                           *k = fhir_peek_str(c, "code");
                if (s && k && !strcmp(s, system) && !strcmp(k, code))
                        return true;
        }
        return false;
}

static bool is_icd10_system(const char *s) {
        char low[VAL_MAX];
        size_t i;
        if (!s)
                return false;
        if (fhir_in_set(s, icd10_oids, VG_ARRAY_SIZE(icd10_oids)))
                return true;
        for (i = 0; s[i] && i + 1 < sizeof(low); i++)
                low[i] = (char)tolower((unsigned char)s[i]);
        low[i] = '\0';
        return strstr(low, "icd-10") || strstr(low, "icd10");
}

/* The first ICD-10 code of CodeableConcept cc, or NULL. */
const char *fhir_icd10_code(json_t *cc) {
        for (size_t i = 0, n = fhir_elems(cc, "coding"); i < n; i++) {
                json_t *c = fhir_elem(cc, "coding", i);
                if (is_icd10_system(fhir_peek_str(c, "system")) &&
                    fhir_peek_str(c, "code"))
                        return fhir_peek_str(c, "code");
        }
        return NULL;
}

void vg_fhir_event_id(const char *scope, const char *key, const char *what,
                      char *out) {
        char h[VG_HL7_ID_BUFSZ];

        /* The digest of an HL7 event id (vg_hl7.h) under "fhir-". */
        vg_hl7_event_id(scope, key, what, h);
        snprintf(out, VG_FHIR_ID_BUFSZ, "fhir-%s", h + strlen("hl7-"));
}

/* ------------------------------------------------------------------ */
/* Times                                                              */
/* ------------------------------------------------------------------ */

bool fhir_all_digits(const char *s, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (!isdigit((unsigned char)s[i]))
                        return false;
        return true;
}

int vg_fhir_time_parse(const char *s, vg_tz_t tz, int64_t *msp) {
        char ts[40];
        size_t n = strlen(s), i, o;

        /* YYYY-MM-DD */
        if (n < 10 || !fhir_all_digits(s, 4) || s[4] != '-' ||
            !fhir_all_digits(s + 5, 2) || s[7] != '-' ||
            !fhir_all_digits(s + 8, 2))
                return -1;
        memcpy(ts, s, 4);
        memcpy(ts + 4, s + 5, 2);
        memcpy(ts + 6, s + 8, 2);
        o = 8;
        if (n == 10) {
                ts[o] = '\0';
                return vg_hl7_time_parse(ts, 8, tz, msp);
        }
        /* Thh:mm:ss */
        if (n < 19 || s[10] != 'T' || !fhir_all_digits(s + 11, 2) ||
            s[13] != ':' || !fhir_all_digits(s + 14, 2) || s[16] != ':' ||
            !fhir_all_digits(s + 17, 2))
                return -1;
        memcpy(ts + o, s + 11, 2);
        memcpy(ts + o + 2, s + 14, 2);
        memcpy(ts + o + 4, s + 17, 2);
        o += 6;
        i = 19;
        if (i < n && s[i] == '.') {
                size_t fd = 0;
                ts[o++] = '.';
                for (i++; i < n && isdigit((unsigned char)s[i]); i++, fd++)
                        if (fd < 3)
                                ts[o++] = s[i];
                if (fd == 0)
                        return -1;
        }
        if (i < n && s[i] == 'Z') {
                memcpy(ts + o, "+0000", 5);
                o += 5;
                i++;
        } else if (i < n && (s[i] == '+' || s[i] == '-')) {
                if (n - i != 6 || !fhir_all_digits(s + i + 1, 2) ||
                    s[i + 3] != ':' || !fhir_all_digits(s + i + 4, 2))
                        return -1;
                ts[o++] = s[i];
                memcpy(ts + o, s + i + 1, 2);
                memcpy(ts + o + 2, s + i + 4, 2);
                o += 4;
                i = n;
        }
        if (i != n)
                return -1;
        ts[o] = '\0';
        return vg_hl7_time_parse(ts, 14, tz, msp);
}

/* obj[key] as a time into *ms: 1 when there is one, 0 when absent, -1
 * with a message when it is not a date or dateTime. */
int fhir_get_time(const vg_fhir_ctx_t *cx, json_t *obj, const char *key,
                  const char *what, int64_t *ms, char *e, size_t es) {
        const char *s, *why;
        if (fhir_get_str(obj, key, what, &s, e, es))
                return -1;
        if (!s)
                return 0;
        if (vg_fhir_time_parse(s, cx->fx_tz, ms)) {
                vg_seterr(e, es, VG_ERR_INVALID,
                          "%s: not a FHIR date YYYY-MM-DD or dateTime "
                          "YYYY-MM-DDThh:mm:ss[.fff](Z|+hh:mm)", what);
                return -1;
        }
        /* (checked here so that the time is blamed, not the birth date
         * compared with it) */
        if ((why = vg_event_time_refused(*ms, cx->fx_now_ms))) {
                vg_seterr(e, es, VG_ERR_INVALID, "%s: %s", what, why);
                return -1;
        }
        return 1;
}

/* ------------------------------------------------------------------ */
/* Resources                                                          */
/* ------------------------------------------------------------------ */

const char *fhir_res_type(json_t *res) {
        return fhir_peek_str(res, "resourceType");
}

/* Wipes the string values of a parsed tree (they may hold a
 * personnummer) before it is freed. */
void fhir_wipe_json(json_t *v, int depth) {
        const char *k;
        json_t *x;
        size_t i;
        if (depth > 4096)
                return;
        if (json_is_string(v) && json_string_length(v))
                OPENSSL_cleanse((char *)json_string_value(v),
                                json_string_length(v));
        else if (json_is_object(v))
                json_object_foreach(v, k, x) fhir_wipe_json(x, depth + 1);
        else if (json_is_array(v))
                json_array_foreach(v, i, x) fhir_wipe_json(x, depth + 1);
}
