/*
 * vg_fhir_patient.c - the patient of a FHIR resource (vg_fhir_int.h): the
 * personnummer among a Patient's or a Reference's identifiers becomes
 * patient_id = hex(HMAC-SHA256(key, personnummer)); birth date, sex and
 * kommun; the patient of each Bundle entry; age at an event.
 *
 * The personnummer is only ever in stack buffers wiped after use.
 */
#include "vg_fhir_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

/* Identifier systems of a personnummer and a samordningsnummer. */
static const char *const pnr_systems[] = {
        "http://electronichealth.se/identifier/personnummer",
        "urn:oid:1.2.752.129.2.1.3.1",
        "http://electronichealth.se/identifier/samordningsnummer",
        "urn:oid:1.2.752.129.2.1.3.3",
};

/* Picks the personnummer among identifiers (an array or one Identifier)
 * into norm[VG_PSEUDO_PNR_BUFSZ]: the first with a personnummer or
 * samordningsnummer system (its value must be one), else the first without
 * a system whose value is one. 1 found, 0 none, -1 error. */
static int pick_pnr(const vg_fhir_ctx_t *cx, json_t *holder, const char *key,
                    const char *what, char *norm, char *e, size_t es) {
        int64_t today = vg_local_day(cx->fx_tz, cx->fx_now_ms);
        size_t n = fhir_elems(holder, key);
        char why[128];

        for (size_t i = 0; i < n; i++) {
                json_t *id = fhir_elem(holder, key, i);
                const char *sys, *val;
                if (fhir_get_str(id, "system", what, &sys, e, es) ||
                    fhir_get_str(id, "value", what, &val, e, es))
                        return -1;
                if (!sys || !fhir_in_set(sys, pnr_systems,
                                         VG_ARRAY_SIZE(pnr_systems)))
                        continue;
                if (!val) {
                        vg_seterr(e, es, VG_ERR_INVALID,
                                  "%s: the personnummer identifier has no "
                                  "value", what);
                        return -1;
                }
                if (vg_pseudo_normalise(val, today, norm, why, sizeof(why))) {
                        vg_seterr(e, es, VG_ERR_INVALID,
                                  "%s: not a personnummer: %s", what, why);
                        return -1;
                }
                return 1;
        }
        for (size_t i = 0; i < n; i++) {
                json_t *id = fhir_elem(holder, key, i);
                const char *sys = fhir_peek_str(id, "system"),
                           *val = fhir_peek_str(id, "value");
                if (!sys && val &&
                    !vg_pseudo_normalise(val, today, norm, why, sizeof(why)))
                        return 1;
        }
        return 0;
}

/* Address.period's start (end false) or end as epoch ms: a date or
 * dateTime, or a year or month (FHIR's partial dates); an end date holds
 * to its last millisecond. Absent: INT64_MIN or INT64_MAX. 0, or -1 with
 * a message. */
static int period_bound(const vg_fhir_ctx_t *cx, json_t *per, const char *key,
                        bool end, int64_t *ms, char *e, size_t es) {
        const char *s;
        char buf[16];
        size_t n;
        *ms = end ? INT64_MAX : INT64_MIN;
        if (fhir_get_str(per, key, end ? "Patient.address.period.end"
                                       : "Patient.address.period.start",
                         &s, e, es))
                return -1;
        if (!s)
                return 0;
        n = strlen(s);
        if ((n == 4 || n == 7 || n == 10) && fhir_all_digits(s, 4) &&
            (n == 4 || (s[4] == '-' && fhir_all_digits(s + 5, 2))) &&
            (n < 10 || (s[7] == '-' && fhir_all_digits(s + 8, 2)))) {
                int64_t y = atoi(s);
                unsigned m = n > 4 ? (unsigned)atoi(s + 5) : 1,
                         d = n > 7 ? (unsigned)atoi(s + 8) : 1;
                if (m < 1 || m > 12 ||
                    (n == 10 && vg_fhir_time_parse(s, cx->fx_tz, ms)))
                        goto bad;
                if (end) { /* the start of the next year, month or day */
                        if (n == 4)
                                y++;
                        else if (n == 7 && m == 12)
                                y++, m = 1;
                        else if (n == 7)
                                m++;
                        else
                                vg_civil_from_days(
                                        vg_days_from_civil(y, m, d) + 1, &y,
                                        &m, &d);
                }
                if (end && y > 9999) /* (9999-12-31: no end) */
                        return 0;
                if (y < 0 || y > 9999)
                        goto bad;
                snprintf(buf, sizeof(buf), "%04d-%02u-%02u", (int)y, m, d);
                if (vg_fhir_time_parse(buf, cx->fx_tz, ms))
                        goto bad;
                if (end)
                        --*ms;
                return 0;
        }
        if (!vg_fhir_time_parse(s, cx->fx_tz, ms)) {
                /* (an end to the second holds all of that second) */
                if (end && !strchr(s, '.'))
                        *ms += 999;
                return 0;
        }
bad:
        vg_seterr(e, es, VG_ERR_INVALID,
                  "Patient.address.period.%s: not a FHIR date or dateTime",
                  key);
        return -1;
}

int fhir_residence(const vg_fhir_ctx_t *cx, const pat_t *pt, int64_t at,
                   bool any_time, char *out, char *e, size_t es) {
        json_t *pres = pt->pt_res;
        bool found = false;
        /* Of the addresses that may be the residence (use home or none:
         * not old, temp, work or billing) whose district is a 4-digit
         * code and whose period holds at, the first with use home, else
         * the first without a use. */
        out[0] = '\0';
        for (size_t i = 0, n = fhir_elems(pres, "address"); i < n; i++) {
                json_t *a = fhir_elem(pres, "address", i);
                json_t *per = json_object_get(a, "period");
                const char *use = fhir_peek_str(a, "use"),
                           *d = fhir_peek_str(a, "district");
                int64_t from, to;
                if (use && strcmp(use, "home"))
                        continue;
                if (!d || strlen(d) != 4 || !fhir_all_digits(d, 4))
                        continue;
                if (period_bound(cx, per, "start", false, &from, e, es) ||
                    period_bound(cx, per, "end", true, &to, e, es))
                        return -1;
                if (!any_time && (at < from || at > to))
                        continue;
                if (use || !found)
                        memcpy(out, d, 5);
                found = true;
                if (use)
                        break;
        }
        return 0;
}

/* Fills pt from the Patient resource pres (may be NULL) and, when it has
 * no personnummer, the Reference's identifier ref_id (may be NULL).
 * where: the element named in messages. Returns 0 or -1 with a message. */
int fhir_patient_of(const vg_fhir_ctx_t *cx, json_t *pres, json_t *ref,
                    const char *where, pat_t *pt, char *e, size_t es) {
        char norm[VG_PSEUDO_PNR_BUFSZ] = "", what[96];
        int found = 0, rc = -1;
        const char *s = NULL;

        memset(pt, 0, sizeof(*pt));
        pt->pt_sex = VG_SEX_UNKNOWN;
        if (!cx->fx_keylen) {
                vg_seterr(e, es, VG_ERR_ARG,
                          "no pseudonym key: set pseudonym.key_file");
                goto done;
        }
        if (pres && (found = pick_pnr(cx, pres, "identifier",
                                      "Patient.identifier", norm, e, es)) < 0)
                goto done;
        if (ref) {
                /* The Reference's own identifier: the patient when the
                 * Patient has none; when both name one, the same (else
                 * whose event it is cannot be told) */
                char other[VG_PSEUDO_PNR_BUFSZ] = "";
                int r;
                snprintf(what, sizeof(what), "%s.identifier", where);
                r = pick_pnr(cx, ref, "identifier", what,
                             found ? other : norm, e, es);
                if (r < 0 && found) { /* (not read: the Patient's, as
                                       * before) */
                        r = 0;
                        if (es)
                                e[0] = '\0';
                }
                if (r > 0 && found && strcmp(other, norm)) {
                        vg_seterr(e, es, VG_ERR_INVALID,
                                  "%s: its identifier and the Patient it "
                                  "refers to name different personnummer",
                                  where);
                        r = -1;
                }
                OPENSSL_cleanse(other, sizeof(other));
                if (r < 0)
                        goto done;
                if (!found)
                        found = r;
        }
        if (!found) {
                if (pres || (ref && json_object_get(ref, "identifier")))
                        vg_seterr(e, es, VG_ERR_INVALID,
                                  "%s: no personnummer among the patient's "
                                  "identifiers (system %s or %s; other "
                                  "identifiers are not used)", where,
                                  pnr_systems[0], pnr_systems[1]);
                else if (fhir_peek_str(ref, "reference"))
                        vg_seterr(e, es, VG_ERR_INVALID,
                                  "%s: the Patient it refers to is not in "
                                  "the Bundle and the reference has no "
                                  "identifier (a personnummer)", where);
                else if (json_is_string(json_object_get(ref, "reference")) &&
                         json_string_length(json_object_get(
                                 ref, "reference")) >= VAL_MAX)
                        vg_seterr(e, es, VG_ERR_INVALID,
                                  "%s.reference: longer than %d bytes", where,
                                  VAL_MAX - 1);
                else
                        vg_seterr(e, es, VG_ERR_INVALID,
                                  "%s: missing (the patient)", where);
                goto done;
        }
        if (vg_pseudo_hmac(cx->fx_key, cx->fx_keylen, norm, pt->pt_id)) {
                vg_seterr(e, es, VG_ERR_INTERNAL,
                          "HMAC-SHA256 of the personnummer failed");
                goto done;
        }
        /* The birth date: Patient.birthDate, else the personnummer's own
         * (a samordningsnummer has day + 60). */
        if (pres && fhir_get_str(pres, "birthDate", "Patient.birthDate", &s, e,
                                 es))
                goto done;
        if (pres && s) {
                if (strlen(s) != 10 ||
                    vg_fhir_time_parse(s, cx->fx_tz, &pt->pt_birth)) {
                        vg_seterr(e, es, VG_ERR_INVALID,
                                  "Patient.birthDate: expected a full date "
                                  "YYYY-MM-DD");
                        goto done;
                }
        } else {
                int y = atoi((char[]){norm[0], norm[1], norm[2], norm[3], 0});
                int m = atoi((char[]){norm[4], norm[5], 0});
                int d = atoi((char[]){norm[6], norm[7], 0});
                if (d > 60)
                        d -= 60;
                pt->pt_birth = vg_days_from_civil(y, (unsigned)m,
                                                  (unsigned)d) *
                               VG_MS_PER_DAY;
        }
        if (pres) {
                if (fhir_get_str(pres, "gender", "Patient.gender", &s, e, es))
                        goto done;
                pt->pt_sex = s && !strcmp(s, "female") ? VG_SEX_FEMALE
                             : s && !strcmp(s, "male") ? VG_SEX_MALE
                                                       : VG_SEX_UNKNOWN;
                pt->pt_res = pres; /* (its addresses: fhir_residence) */
        }
        rc = 0;
done:
        OPENSSL_cleanse(norm, sizeof(norm));
        return rc;
}

/* The patient of a resource's subject Reference. */
int fhir_subject_of(const vg_fhir_ctx_t *cx, const line_t *ln,
                    json_t *res, const char *type, pat_t *pt, char *e,
                    size_t es) {
        json_t *subj = json_object_get(res, "subject");
        char where[64];
        snprintf(where, sizeof(where), "%s.subject", type);
        if (!json_is_object(subj)) {
                vg_seterr(e, es, VG_ERR_INVALID, "%s: missing (the patient)",
                          where);
                return -1;
        }
        return fhir_patient_of(cx, fhir_resolve(ln, subj, "Patient"), subj,
                               where, pt, e, es);
}

/* patient_id of entry i's subject, or "" when it has none usable (for
 * matching Conditions and Encounters to a patient; no messages). Worked
 * out once per entry. */
const char *fhir_entry_pid(const vg_fhir_ctx_t *cx, const line_t *ln,
                           size_t i) {
        if (!ln->ln_pid_known[i]) {
                pat_t pt;
                char e[8];
                ln->ln_pid[i][0] = '\0';
                if (!fhir_subject_of(cx, ln, ln->ln_res[i], "x", &pt, e,
                                     sizeof(e)))
                        memcpy(ln->ln_pid[i], pt.pt_id, VG_PSEUDO_HEX_BUFSZ);
                ln->ln_pid_known[i] = true;
        }
        return ln->ln_pid[i];
}

/* Whole years from birth to the local date of at; -1 if after it. */
static int age_at(vg_tz_t tz, int64_t birth, int64_t at) {
        int64_t by, ay;
        unsigned bm, bd, am, ad;
        int age;
        vg_civil_from_days(vg_local_day(tz, birth), &by, &bm, &bd);
        vg_civil_from_days(vg_local_day(tz, at), &ay, &am, &ad);
        age = (int)(ay - by);
        if (am < bm || (am == bm && ad < bd))
                age--;
        return age;
}

int fhir_age_sex(const vg_fhir_ctx_t *cx, vg_event_t *ev, const pat_t *pt,
                 bool cancel, const char *when, char *e, size_t es) {
        int age = age_at(cx->fx_tz, pt->pt_birth, ev->ev_occurred_at);
        if (!cancel && (age < 0 || age > 150)) {
                vg_seterr(e, es, VG_ERR_INVALID,
                          "the birth date is not up to 150 years before %s",
                          when);
                return -1;
        }
        ev->ev_age_years = age < 0 || age > 150 ? 0 : age;
        ev->ev_sex = pt->pt_sex;
        return 0;
}
