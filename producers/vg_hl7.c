/*
 * vg_hl7.c - HL7 v2.5 ADT messages to care events (docs/HOSPITAL.md): the
 * converter. One message (vg_hl7_parse.c reads it) becomes one event
 * (A01, A03, A11, A13), a skip (A08) or an error; the site mapping
 * (vg_hl7_map.c) gives what the message leaves to the site. Also the
 * deterministic event ids.
 *
 * Pure: no I/O, no clock. A personnummer read from PID-3 is kept in one
 * stack buffer, wiped after use, and never formatted into a message; every
 * error text is passed through vg_pseudo_redact() before it is returned.
 */
#include "vg_hl7_int.h"
#include "vg_hl7_ack.h"
#include "vg_pseudo.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

/* ------------------------------------------------------------------ */
/* Ids                                                                */
/* ------------------------------------------------------------------ */

static void hash_id(const char *a, const char *b, const char *c, char *out) {
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int mdlen = 0;
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();

        memset(md, 0, sizeof(md));
        if (ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL)) {
                EVP_DigestUpdate(ctx, a, strlen(a) + 1);
                EVP_DigestUpdate(ctx, b, strlen(b) + 1);
                EVP_DigestUpdate(ctx, c, strlen(c));
                EVP_DigestFinal_ex(ctx, md, &mdlen);
        }
        EVP_MD_CTX_free(ctx);
        memcpy(out, "hl7-", 4);
        vg_hex(out + 4, md, 16);
}

void vg_hl7_event_id(const char *facility, const char *visit,
                     const char *what, char *out) {
        hash_id(facility, visit, what, out);
}

/* ------------------------------------------------------------------ */
/* The converter                                                      */
/* ------------------------------------------------------------------ */

/* A short code from the message as it may be quoted in an error: up to 8
 * letters, digits, '.' and '-' (too short for a personnummer), else
 * "(not shown)". */
static const char *quotable(const char *s, char *buf, size_t size) {
        size_t n = strlen(s);
        if (n == 0 || n > 8 || n >= size)
                return "(not shown)";
        for (size_t i = 0; i < n; i++)
                if (!isalnum((unsigned char)s[i]) && s[i] != '.' &&
                    s[i] != '-')
                        return "(not shown)";
        memcpy(buf, s, n + 1);
        return buf;
}

void vg_hl7_ctrl_print(const char *id, char *ctrl) {
        size_t n = 0;
        for (size_t i = 0; id[i] && n + 1 < VG_HL7_CTRL_BUFSZ; i++)
                ctrl[n++] = isgraph((unsigned char)id[i]) ? id[i] : '?';
        ctrl[n] = '\0';
        vg_pseudo_redact(ctrl);
        if (!n)
                snprintf(ctrl, VG_HL7_CTRL_BUFSZ, "?");
}

/* Everything the converter reads from one message. */
typedef struct adt_s {
        char a_app[VAL_MAX];       /* MSH-3.1 sending application */
        char a_fac[VAL_MAX];       /* MSH-4.1 sending facility, else
                                    * MSH-4.2 (its universal id alone) */
        char a_type[VAL_MAX];      /* MSH-9.1 */
        char a_trig[VAL_MAX];      /* MSH-9.2, else EVN-1 */
        char a_ctrl[VAL_MAX];      /* MSH-10 */
        char a_ver[VAL_MAX];       /* MSH-12.1 */
        char a_evn2[VAL_MAX];      /* EVN-2.1 recorded */
        char a_evn6[VAL_MAX];      /* EVN-6.1 occurred */
        char a_birth[VAL_MAX];     /* PID-7.1 */
        char a_sex[VAL_MAX];       /* PID-8 */
        char a_kommun[5];          /* PID-11.9 of the residence, 4 digits
                                    * (residence(), once the time is known) */
        char a_class[VAL_MAX];     /* PV1-2 */
        char a_loc[VAL_MAX];       /* PV1-3.1 point of care */
        char a_locfac[VAL_MAX];    /* PV1-3.4.1 facility */
        char a_admtype[VAL_MAX];   /* PV1-4 */
        char a_visit[VAL_MAX];     /* PV1-19.1 */
        char a_disp[VAL_MAX];      /* PV1-36 */
        char a_dg[VAL_MAX];        /* DG1-3.1 of the first DG1 with one */
} adt_t;

static int read_adt(const hmsg_t *m, adt_t *a, char *e, size_t es) {
        /* MSH-4 and MSH-10 only go into event ids (hashes): their bytes
         * as sent, whatever MSH-18 says, so that the ids of a message
         * do not depend on it (nor change from those made before MSH-18
         * was read). */
        hmsg_t raw = *m;
        raw.hm_latin = 0;
        raw.hm_bytes = true;

        if (hl7_getv(m, "MSH", 3, 1, 1, a->a_app, e, es) ||
            hl7_getv(&raw, "MSH", 4, 1, 1, a->a_fac, e, es) ||
            hl7_getv(m, "MSH", 9, 1, 1, a->a_type, e, es) ||
            hl7_getv(m, "MSH", 9, 2, 1, a->a_trig, e, es) ||
            hl7_getv(&raw, "MSH", 10, 1, 1, a->a_ctrl, e, es) ||
            hl7_getv(m, "MSH", 12, 1, 1, a->a_ver, e, es) ||
            hl7_getv(m, "EVN", 2, 1, 1, a->a_evn2, e, es) ||
            hl7_getv(m, "EVN", 6, 1, 1, a->a_evn6, e, es) ||
            hl7_getv(m, "PID", 7, 1, 1, a->a_birth, e, es) ||
            hl7_getv(m, "PID", 8, 1, 1, a->a_sex, e, es) ||
            hl7_getv(m, "PV1", 2, 1, 1, a->a_class, e, es) ||
            hl7_getv(m, "PV1", 3, 1, 1, a->a_loc, e, es) ||
            hl7_getv(m, "PV1", 3, 4, 1, a->a_locfac, e, es) ||
            hl7_getv(m, "PV1", 4, 1, 1, a->a_admtype, e, es) ||
            hl7_getv(m, "PV1", 19, 1, 1, a->a_visit, e, es) ||
            hl7_getv(m, "PV1", 36, 1, 1, a->a_disp, e, es))
                return -1;
        if (!a->a_fac[0] && hl7_getv(&raw, "MSH", 4, 2, 1, a->a_fac, e, es))
                return -1;
        if (!a->a_trig[0] && hl7_getv(m, "EVN", 1, 1, 1, a->a_trig, e, es))
                return -1;
        for (int i = 0; i < m->hm_nseg && !a->a_dg[0]; i++) {
                sl_t s = m->hm_seg[i];
                int u;
                if (s.s_n < 4 || memcmp(s.s_p, "DG1", 3) ||
                    s.s_p[3] != m->hm_fs)
                        continue;
                u = hl7_unescape(m, hl7_part(m, hl7_field(m, s, 3), 0, 1, 1),
                                 a->a_dg);
                if (HL7_REFUSED(u))
                        return hl7_unescape_error(u, "DG1-3", e, es);
                if (u) /* too long: no diagnosis code */
                        a->a_dg[0] = '\0';
        }
        return 0;
}

/* Whether the address x (one repetition of PID-11) holds at the time at:
 * its date range (XAD.12: start & end, as subcomponents), effective date
 * (XAD.13) and expiration date (XAD.14), each when given. A start holds
 * from its first millisecond, an end to its last (an expiration date
 * 20260301 holds all of that day, local time). 1 holds, 0 not, -1 with
 * errstr when a date does not read. */
static int address_holds(const hmsg_t *m, sl_t x, vg_tz_t tz, int64_t at,
                         char *e, size_t es) {
        static const struct {
                int         c, s;   /* XAD component, subcomponent */
                bool        end;    /* an end (else a start) */
                const char *name;
        } when[] = {{12, 1, false, "XAD.12 (date range start)"},
                    {12, 2, true, "XAD.12 (date range end)"},
                    {13, 1, false, "XAD.13 (effective date)"},
                    {14, 1, true, "XAD.14 (expiration date)"}};
        int holds = 1;
        for (size_t i = 0; i < VG_ARRAY_SIZE(when); i++) {
                char v[VAL_MAX];
                int64_t from, to;
                int u = hl7_unescape(m, hl7_part(m, x, 0, when[i].c,
                                                 when[i].s), v);
                if (u)
                        return hl7_unescape_error(u, "PID-11", e, es);
                if (!v[0])
                        continue;
                if (hl7_time_span(v, tz, &from, &to)) {
                        vg_seterr(e, es, VG_ERR_INVALID,
                                  "PID-11: %s is not an HL7 date "
                                  "YYYY[MM[DD[HHMM[SS]]]][+/-ZZZZ]",
                                  when[i].name);
                        return -1;
                }
                if (when[i].end ? at > to : at < from)
                        holds = 0;
        }
        return holds;
}

/* PID-11: the kommun of residence (SPEC §3) at the time at into
 * kommun[5] ("" when none): the county/parish code (XAD.9, 4 digits) of
 * the first repetition typed (XAD.7) as a residence - H home, L legal, P
 * permanent, RH registry home - else of the first untyped one, among the
 * addresses that hold at (address_holds: one that expired before the
 * event, or is not yet effective, is where the patient lived or will
 * live). Other types (C temporary, B business, BA bad, M mailing, O
 * office, birth and origin addresses...) are not where the patient lives.
 * dated false (a cancellation, whose kommun is not used): the dates are
 * not read. Returns 0, or -1 with errstr. */
static int residence(const hmsg_t *m, bool dated, vg_tz_t tz, int64_t at,
                     char *kommun, char *e, size_t es) {
        static const char *const home[] = {"H", "L", "P", "RH"};
        sl_t pid = hl7_seg_find(m, "PID");
        sl_t f = hl7_field(m, pid, 11);
        char untyped[5] = "";

        kommun[0] = '\0';
        for (int r = 0; pid.s_p && r < 20 && !kommun[0]; r++) {
                char v[VAL_MAX], ty[VAL_MAX];
                sl_t x = hl7_piece(f, m->hm_rs, r);
                bool typed = false, res = false;
                int u, h;
                if (!x.s_p)
                        break;
                /* (a repetition that does not read refuses the message,
                 * unless an address was found before it, as when the
                 * first with a code was taken) */
                u = hl7_unescape(m, hl7_part(m, x, 0, 9, 1), v);
                if (HL7_REFUSED(u) && !untyped[0])
                        return hl7_unescape_error(u, "PID-11", e, es);
                if (u || strlen(v) != 4 || strspn(v, "0123456789") != 4)
                        continue;
                u = hl7_unescape(m, hl7_part(m, x, 0, 7, 1), ty);
                if (HL7_REFUSED(u) && !untyped[0])
                        return hl7_unescape_error(u, "PID-11", e, es);
                typed = u || ty[0];
                for (size_t i = 0; !u && i < VG_ARRAY_SIZE(home); i++)
                        res |= !strcmp(ty, home[i]);
                if (!res && (typed || untyped[0]))
                        continue; /* (its dates do not matter) */
                if (dated && (h = address_holds(m, x, tz, at, e, es)) <= 0) {
                        if (h < 0 && !untyped[0])
                                return -1;
                        continue;
                }
                if (res)
                        memcpy(kommun, v, 5);
                else
                        memcpy(untyped, v, 5);
        }
        if (!kommun[0])
                memcpy(kommun, untyped, 5);
        return 0;
}

/* Repetitions of PID-3 looked through for one typed PN or NNSWE. */
#define VG_HL7_PID3_MAX 20

/* patient_id = the pseudonym of PID-3.1 (of the repetition typed PN or
 * NNSWE, else the first). */
static int patient(const vg_hl7_ctx_t *cx, const hmsg_t *m, vg_event_t *ev,
                   char *errstr, size_t errstr_size) {
        char pnr[VAL_MAX], norm[VG_PSEUDO_PNR_BUFSZ], hex[VG_PSEUDO_HEX_BUFSZ];
        char e[128];
        sl_t pid = hl7_seg_find(m, "PID");
        int rc = -1;

        if (!cx->hx_keylen) {
                vg_seterr(errstr, errstr_size, VG_ERR_ARG,
                          "no pseudonym key: set pseudonym.key_file");
                return -1;
        }
        /* A sender may list other identifiers first (a local record
         * number): the repetition typed PN (person number, HL7 table 0203)
         * or NNSWE (Swedish national number) is the personnummer; without
         * one, the first repetition. */
        if (pid.s_p) {
                sl_t f = hl7_field(m, pid, 3);
                int r, u;
                for (r = 0; r < VG_HL7_PID3_MAX; r++) {
                        char type[VAL_MAX];
                        sl_t x = hl7_piece(f, m->hm_rs, r);
                        if (!x.s_p) {
                                r = VG_HL7_PID3_MAX;
                                break;
                        }
                        if (!hl7_unescape(m, hl7_part(m, x, 0, 5, 1), type) &&
                            (!strcmp(type, "PN") || !strcmp(type, "NNSWE")))
                                break;
                }
                if (r < VG_HL7_PID3_MAX &&
                    (u = hl7_unescape(m, hl7_part(m, f, r, 1, 1), pnr))) {
                        hl7_unescape_error(u, "PID-3", errstr, errstr_size);
                        goto done;
                }
                if (r == VG_HL7_PID3_MAX &&
                    hl7_getv(m, "PID", 3, 1, 1, pnr, errstr, errstr_size))
                        goto done;
        }
        if (!pid.s_p) {
                vg_seterr(errstr, errstr_size, VG_ERR_INVALID,
                          "no PID segment");
                goto done;
        }
        if (!pnr[0]) {
                vg_seterr(errstr, errstr_size, VG_ERR_INVALID,
                          "PID-3: missing (the patient's personnummer)");
                goto done;
        }
        if (vg_pseudo_normalise(pnr, vg_local_day(cx->hx_tz, cx->hx_now_ms),
                                norm, e, sizeof(e))) {
                vg_seterr(errstr, errstr_size, VG_ERR_INVALID,
                          "PID-3: not a personnummer: %s", e);
                goto done;
        }
        if (vg_pseudo_hmac(cx->hx_key, cx->hx_keylen, norm, hex)) {
                vg_seterr(errstr, errstr_size, VG_ERR_INTERNAL,
                          "PID-3: HMAC-SHA256 failed");
                goto done;
        }
        ev->ev_patient_id = vg_strdup(hex);
        rc = 0;
done:
        OPENSSL_cleanse(pnr, sizeof(pnr));
        OPENSSL_cleanse(norm, sizeof(norm));
        return rc;
}

/* Whole years between birth and the local date of at. -1 if after it. */
static int age_at(vg_tz_t tz, int64_t birth_ms, int64_t at) {
        int64_t by, ay;
        unsigned bm, bd, am, ad;
        int age;
        vg_civil_from_days(vg_local_day(tz, birth_ms), &by, &bm, &bd);
        vg_civil_from_days(vg_local_day(tz, at), &ay, &am, &ad);
        age = (int)(ay - by);
        if (am < bm || (am == bm && ad < bd))
                age--;
        return age;
}

typedef enum { T_A01, T_A03, T_A11, T_A13 } trig_t;

static vg_hl7_res_t convert(const vg_hl7_ctx_t *cx, const hmsg_t *m,
                            adt_t *a, vg_event_t *ev, char *errstr,
                            size_t es) {
        const vg_hl7_map_t *map = cx->hx_map;
        char q[16], id[VG_HL7_ID_BUFSZ];
        const char *tstr, *why;
        trig_t t;
        int v;

        if (read_adt(m, a, errstr, es))
                return VG_HL7_INVALID;
        if (strcmp(a->a_type, "ADT")) {
                vg_seterr(errstr, es, VG_ERR_INVALID,
                          "MSH-9: message type %s is not supported (only "
                          "ADT)", a->a_type[0] ? quotable(a->a_type, q,
                                                          sizeof(q))
                                               : "missing");
                return VG_HL7_INVALID;
        }
        if (!vg_hl7_version_ok(a->a_ver)) {
                vg_seterr(errstr, es, VG_ERR_INVALID,
                          "MSH-12: version %s is not HL7 v2",
                          quotable(a->a_ver, q, sizeof(q)));
                return VG_HL7_INVALID;
        }
        if (!strcmp(a->a_trig, "A01"))
                t = T_A01;
        else if (!strcmp(a->a_trig, "A03"))
                t = T_A03;
        else if (!strcmp(a->a_trig, "A11"))
                t = T_A11;
        else if (!strcmp(a->a_trig, "A13"))
                t = T_A13;
        else if (!strcmp(a->a_trig, "A08")) {
                vg_seterr(errstr, es, VG_ERR_NOENT,
                          "A08 update skipped: no A08 change is mapped to "
                          "an event");
                return VG_HL7_SKIPPED;
        } else if (!strcmp(a->a_trig, "A40")) {
                vg_seterr(errstr, es, VG_ERR_INVALID,
                          "A40 merge is not supported (docs/HOSPITAL.md "
                          "§6)");
                return VG_HL7_INVALID;
        } else {
                vg_seterr(errstr, es, VG_ERR_INVALID,
                          "ADT trigger %s is not supported (supported: A01, "
                          "A03, A11, A13; A08 is skipped)",
                          a->a_trig[0] ? quotable(a->a_trig, q, sizeof(q))
                                       : "missing (MSH-9.2 and EVN-1)");
                return VG_HL7_INVALID;
        }
        if (!a->a_fac[0]) {
                vg_seterr(errstr, es, VG_ERR_INVALID,
                          "MSH-4: sending facility missing (needed for the "
                          "event id)");
                return VG_HL7_INVALID;
        }
        if ((t == T_A11 || t == T_A13) && !a->a_ctrl[0]) {
                vg_seterr(errstr, es, VG_ERR_INVALID,
                          "MSH-10: message control id missing (needed for "
                          "the cancellation's event id)");
                return VG_HL7_INVALID;
        }
        /* What the event ids are hashed from without a key (§8: a
         * personnummer could be found again by trying them all). */
        if (vg_pseudo_spelt_like(a->a_fac) ||
            ((t == T_A11 || t == T_A13) && vg_pseudo_spelt_like(a->a_ctrl))) {
                vg_seterr(errstr, es, VG_ERR_INVALID,
                          "%s: looks like a personnummer, which must not be "
                          "published (it would make the event id)",
                          vg_pseudo_spelt_like(a->a_fac) ? "MSH-4"
                                                         : "MSH-10");
                return VG_HL7_INVALID;
        }
        if (!hl7_seg_find(m, "PID").s_p) {
                vg_seterr(errstr, es, VG_ERR_INVALID, "no PID segment");
                return VG_HL7_INVALID;
        }
        /* (the first would be read, and another patient's or visit's
         * fields in the second dropped unseen) */
        for (int i = 0; i < 3; i++) {
                const char *seg = (const char *[]){"PID", "PV1", "EVN"}[i];
                if (hl7_seg_count(m, seg) > 1) {
                        vg_seterr(errstr, es, VG_ERR_INVALID,
                                  "%d %s segments: an ADT message of this "
                                  "kind has one", hl7_seg_count(m, seg),
                                  seg);
                        return VG_HL7_INVALID;
                }
        }
        if (!hl7_seg_find(m, "PV1").s_p) {
                vg_seterr(errstr, es, VG_ERR_INVALID, "no PV1 segment");
                return VG_HL7_INVALID;
        }
        if (!a->a_visit[0]) {
                vg_seterr(errstr, es, VG_ERR_INVALID,
                          "PV1-19: visit number missing (the stay_id)");
                return VG_HL7_INVALID;
        }
        if (!hl7_seg_find(m, "EVN").s_p) {
                vg_seterr(errstr, es, VG_ERR_INVALID,
                          "no EVN segment (EVN-6 or EVN-2 give "
                          "occurred_at)");
                return VG_HL7_INVALID;
        }
        tstr = a->a_evn6[0] ? a->a_evn6 : a->a_evn2;
        if (!tstr[0]) {
                vg_seterr(errstr, es, VG_ERR_INVALID,
                          "EVN-6 and EVN-2: both missing (occurred_at)");
                return VG_HL7_INVALID;
        }
        if (vg_hl7_time_parse(tstr, 12, cx->hx_tz, &ev->ev_occurred_at)) {
                vg_seterr(errstr, es, VG_ERR_INVALID,
                          "%s: not an HL7 time YYYYMMDDHHMM[SS[.S]][+/-ZZZZ]",
                          a->a_evn6[0] ? "EVN-6" : "EVN-2");
                return VG_HL7_INVALID;
        }
        /* (the time not quoted: an 18xx time has the digits of a
         * personnummer) */
        if ((why = vg_event_time_refused(ev->ev_occurred_at,
                                         cx->hx_now_ms))) {
                vg_seterr(errstr, es, VG_ERR_INVALID, "%s: %s",
                          a->a_evn6[0] ? "EVN-6" : "EVN-2", why);
                return VG_HL7_INVALID;
        }
        if (!a->a_loc[0] && !a->a_locfac[0]) {
                vg_seterr(errstr, es, VG_ERR_INVALID,
                          "PV1-3: assigned location missing (point of care "
                          "or facility: the facility_id)");
                return VG_HL7_INVALID;
        }
        if (residence(m, t == T_A01 || t == T_A03, cx->hx_tz,
                      ev->ev_occurred_at, a->a_kommun, errstr, es))
                return VG_HL7_INVALID;
        if (a->a_kommun[0])
                ev->ev_kommun = vg_strdup(a->a_kommun);
        else if (vg_hl7_map_kommun_default(map)[0])
                ev->ev_kommun = vg_strdup(vg_hl7_map_kommun_default(map));
        else {
                vg_seterr(errstr, es, VG_ERR_INVALID,
                          "PID-11: no 4-digit kommun code in the county/"
                          "parish component (XAD.9) and no kommun.default in "
                          "the mapping file");
                return VG_HL7_INVALID;
        }
        if (patient(cx, m, ev, errstr, es))
                return VG_HL7_INVALID;

        ev->ev_type = t == T_A01 || t == T_A11 ? VG_REC_ADMISSION
                                               : VG_REC_DISCHARGE;
        ev->ev_source_system = vg_strdup("hl7:");
        if (a->a_app[0]) {
                size_t n = strlen(a->a_app);
                ev->ev_source_system = vg_realloc(ev->ev_source_system, n + 5);
                memcpy(ev->ev_source_system + 4, a->a_app, n + 1);
        } else
                ev->ev_source_system[3] = '\0'; /* "hl7" */
        ev->ev_stay_id = vg_strdup(a->a_visit);
        ev->ev_facility_id = vg_strdup(a->a_loc[0] ? a->a_loc : a->a_locfac);
        ev->ev_care_setting = vg_hl7_map_care_setting(map, ev->ev_facility_id,
                                                      a->a_class);
        ev->ev_residence = VG_RES_UNKNOWN;

        switch (t) {
        case T_A01:
        case T_A03:
                vg_hl7_event_id(a->a_fac, a->a_visit,
                                t == T_A01 ? "admission" : "discharge", id);
                ev->ev_event_id = vg_strdup(id);
                break;
        case T_A11:
        case T_A13:
                hash_id(a->a_fac, a->a_ctrl, t == T_A11 ? "A11" : "A13", id);
                ev->ev_event_id = vg_strdup(id);
                vg_hl7_event_id(a->a_fac, a->a_visit,
                                t == T_A11 ? "admission" : "discharge", id);
                ev->ev_cancels_event_id = vg_strdup(id);
                break;
        }

        if (ev->ev_type == VG_REC_ADMISSION) {
                int64_t birth;
                ev->ev_planned = vg_hl7_map_planned(map, a->a_admtype);
                ev->ev_sex = !strcmp(a->a_sex, "F")   ? VG_SEX_FEMALE
                             : !strcmp(a->a_sex, "M") ? VG_SEX_MALE
                                                      : VG_SEX_UNKNOWN;
                ev->ev_diagnosis_group = vg_hl7_map_diagnosis(map, a->a_dg);
                if (!a->a_birth[0]) {
                        if (t == T_A01) {
                                vg_seterr(errstr, es, VG_ERR_INVALID,
                                          "PID-7: birth date missing "
                                          "(age_years)");
                                return VG_HL7_INVALID;
                        }
                        ev->ev_age_years = 0; /* unused on a cancellation */
                } else if (vg_hl7_time_parse(a->a_birth, 8, cx->hx_tz,
                                             &birth) ||
                           (v = age_at(cx->hx_tz, birth,
                                       ev->ev_occurred_at)) < 0 ||
                           v > 150) {
                        vg_seterr(errstr, es, VG_ERR_INVALID,
                                  "PID-7: not a birth date YYYYMMDD up to "
                                  "150 years before the event");
                        return VG_HL7_INVALID;
                } else
                        ev->ev_age_years = v;
        } else {
                v = vg_hl7_map_disposition_find(map, a->a_disp);
                ev->ev_disposition =
                        v >= 0 ? v : vg_hl7_map_disposition_default(map);
                ev->ev_needs_coordination = vg_hl7_map_needs_coordination(map);
        }

        /* What the event carries is text (the JSON and Avro writers take
         * UTF-8 only) and must not look like a personnummer. */
        {
                const char *f[] = {"stay_id", ev->ev_stay_id, "facility_id",
                                   ev->ev_facility_id, "source_system",
                                   ev->ev_source_system};
                for (size_t i = 0; i < VG_ARRAY_SIZE(f); i += 2)
                        if (!hl7_utf8_valid(f[i + 1], strlen(f[i + 1]))) {
                                vg_seterr(errstr, es, VG_ERR_INVALID,
                                          "%s: not valid UTF-8 (HL7 v2 "
                                          "text is read as UTF-8 unless "
                                          "MSH-18 is 8859/1 or 8859/15)",
                                          f[i]);
                                return VG_HL7_INVALID;
                        }
                for (size_t i = 0; i < VG_ARRAY_SIZE(f); i += 2)
                        if (vg_pseudo_spelt_like(f[i + 1])) {
                                vg_seterr(errstr, es, VG_ERR_INVALID,
                                          "%s: looks like a personnummer, "
                                          "which must not be published",
                                          f[i]);
                                return VG_HL7_INVALID;
                        }
        }
        if (vg_event_validate(ev, cx->hx_now_ms, errstr, es))
                return VG_HL7_INVALID;
        return VG_HL7_EVENT;
}

/* Does msg hold only the segments of a batch file's envelope (FHS, BHS,
 * BTS, FTS: HL7 v2.5 2.10.3), as the text before a batch's first MSH? */
static bool batch_envelope(const char *msg, size_t len) {
        static const char *const env[] = {"FHS", "BHS", "BTS", "FTS"};
        size_t i = 0, nseg = 0;
        while (i < len) {
                size_t e = i;
                bool ok = false;
                while (e < len && msg[e] != '\r' && msg[e] != '\n')
                        e++;
                if (e == i) {
                        i++;
                        continue;
                }
                for (size_t k = 0; k < 4 && !ok; k++)
                        ok = e - i >= 3 && !memcmp(msg + i, env[k], 3) &&
                             (e - i == 3 ||
                              !isalnum((unsigned char)msg[i + 3]));
                if (!ok)
                        return false;
                nseg++;
                i = e;
        }
        return nseg > 0;
}

int vg_hl7_msh_count(const char *d, size_t n) {
        int k = 0;
        for (size_t i = 0; i + 3 <= n; i++)
                if ((i == 0 || d[i - 1] == '\r' || d[i - 1] == '\n') &&
                    !memcmp(d + i, "MSH", 3))
                        k++;
        return k;
}

/* MSH-18 (character set, HL7 table 0211) naming ISO 8859-1 or 8859-15:
 * 1 or 15; 0 for anything else (read as UTF-8, as before). */
static int latin_charset(const hmsg_t *m) {
        char cs[VAL_MAX], e[8];
        const char *v = cs;
        if (hl7_getv(m, "MSH", 18, 1, 1, cs, e, sizeof(e)))
                return 0;
        if (!strncasecmp(v, "ISO", 3)) {
                v += 3;
                v += *v == '-' || *v == '_' || *v == ' ';
        }
        if (!strcmp(v, "8859/1") || !strcmp(v, "8859-1"))
                return 1;
        if (!strcmp(v, "8859/15") || !strcmp(v, "8859-15"))
                return 15;
        return 0;
}

vg_hl7_res_t vg_hl7_convert(const vg_hl7_ctx_t *cx, const char *msg,
                            size_t len, vg_event_t *ev, char *ctrl,
                            char *errstr, size_t errstr_size) {
        hmsg_t m;
        adt_t *a;
        vg_hl7_res_t res;

        memset(ev, 0, sizeof(*ev));
        snprintf(ctrl, VG_HL7_CTRL_BUFSZ, "?");
        if (errstr_size)
                errstr[0] = '\0';
        if (batch_envelope(msg, len)) {
                snprintf(errstr, errstr_size, "a batch file's header or "
                         "trailer (FHS, BHS, BTS, FTS): nothing to convert");
                return VG_HL7_SKIPPED;
        }

        if (hl7_msg_parse(&m, msg, len, errstr, errstr_size)) {
                hl7_msg_free(&m);
                vg_pseudo_redact(errstr);
                return VG_HL7_INVALID;
        }
        /* Text is UTF-8 unless MSH-18 says ISO 8859-1 or 8859-15 (as
         * Swedish systems often send): then each value is made UTF-8 as
         * it is read (its \X..\ escapes too). */
        m.hm_latin = latin_charset(&m);
        a = vg_calloc(1, sizeof(*a));
        /* MSH-10 first, so that every error can name the message (its
         * bytes, as read_adt reads it). */
        {
                hmsg_t raw = m;
                raw.hm_latin = 0;
                raw.hm_bytes = true;
                if (!hl7_getv(&raw, "MSH", 10, 1, 1, a->a_ctrl, errstr,
                              errstr_size))
                        vg_hl7_ctrl_print(a->a_ctrl, ctrl);
        }
        {
                /* (an MLLP frame of a file holds them as hl7 listen's
                 * does: the first one converted, the rest would be lost
                 * without a word) */
                int nmsh = vg_hl7_msh_count(msg, len);
                if (nmsh > 1) {
                        snprintf(errstr, errstr_size,
                                 "%d messages (MSH segments) in one MLLP "
                                 "frame: send each in a frame of its own",
                                 nmsh);
                        res = VG_HL7_INVALID;
                        goto out;
                }
        }
        {
                /* The header as the acknowledgement reads it (vg_hl7_ack):
                 * what it cannot read could get no matching ACK, so it is
                 * refused here too - the same everywhere. */
                vg_hl7_msh_t h;
                if (vg_hl7_msh_read(msg, len, &h)) {
                        snprintf(errstr, errstr_size,
                                 "MSH-1/MSH-2: the field separator or the "
                                 "encoding characters are not usable (a "
                                 "letter, digit, control character or one "
                                 "used twice)");
                        res = VG_HL7_INVALID;
                        goto out;
                }
        }
        res = convert(cx, &m, a, ev, errstr, errstr_size);
out:
        if (res != VG_HL7_EVENT)
                vg_record_clear(ev->ev_type, ev);
        OPENSSL_cleanse(a, sizeof(*a));
        vg_free(a);
        hl7_msg_free(&m);
        vg_pseudo_redact(errstr);
        return res;
}

