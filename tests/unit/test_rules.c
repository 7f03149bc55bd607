/*
 * test_rules.c - the rule book of SPEC §5.0-§5.2 and §6, tested from the
 * SPEC text: vg_rules_derive() for the rules and figures, vg_engine_apply()
 * for cancellations/duplicates in both arrival orders, vg_part_* for timers,
 * vg_process_file() for one end-to-end check.
 *
 * Times: winter dates are CET (UTC+1), summer dates CEST (UTC+2); DST in
 * 2026 starts Sun 2026-03-29 01:00Z and ends Sun 2026-10-25 01:00Z.
 *
 * Tests marked "BUG" fail(ed) against the engine on purpose (see the
 * comment for the SPEC sentence that decides them); do not "fix" them by
 * editing the expectation.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules_helpers.h"
#include "vg_codec.h"
#include "vg_config.h"
#include "vg_engine.h"
#include "vg_partition.h"
#include "vg_process.h"

static evs_t g_e;
static vg_derived_t g_dv;
static vg_patient_t *g_pt;
static vg_changes_t g_ch;

static int teardown(void **state) {
        (void)state;
        evs_free(&g_e);
        vg_derived_clear(&g_dv);
        vg_changes_clear(&g_ch);
        vg_patient_destroy(g_pt);
        g_pt = NULL;
        return 0;
}

static void reset(void) {
        evs_free(&g_e);
        vg_derived_clear(&g_dv);
}

static void derive(int64_t stream) {
        derive_at(&g_e, stream, &g_dv);
}

/* Derives at the largest occurred_at of the events. */
static void derive_now(void) {
        derive(evs_max_time(&g_e));
}

/* SPEC v2 §6: readmission_30d counts an index discharge only once its
 * window has closed (days(D, watermark) > 30), readmitted or not. Checks
 * that the cell is still empty at the newest event, then derives at a
 * watermark 40 days later, when every window of the test has closed. */
static void derive_settled(const char *period) {
        expect_cell3(&g_dv, "readmission_30d", TH_KOMMUN, period, 0, 0);
        derive(evs_max_time(&g_e) + 40 * VG_MS_PER_DAY);
}

/* Engine: applies ev (or NULL) at stream time st into g_ch. */
static void apply(const vg_event_t *ev, int64_t st) {
        vg_rules_conf_t rc;
        th_conf(&rc);
        vg_changes_clear(&g_ch);
        if (!g_pt)
                g_pt = vg_patient_new(TH_PATIENT);
        vg_engine_apply(&rc, g_pt, ev, st, &g_ch);
}

static int ch_count(int rule, int status) {
        int n = 0;
        for (int i = 0; i < g_ch.ch_nalerts; i++)
                if (g_ch.ch_alerts[i].al_rule == rule &&
                    g_ch.ch_alerts[i].al_status == status)
                        n++;
        return n;
}

static const vg_alert_t *ch_alert(int rule, int status) {
        for (int i = 0; i < g_ch.ch_nalerts; i++)
                if (g_ch.ch_alerts[i].al_rule == rule &&
                    g_ch.ch_alerts[i].al_status == status)
                        return &g_ch.ch_alerts[i];
        fail_msg("no %s alert of rule %d in the changes",
                 status == VG_STATUS_ACTIVE ? "ACTIVE" : "RETRACTED", rule);
        return NULL;
}

/* The change of counter cell key: the sum over the case deltas that
 * count in it (vg_rules_case_cells). */
static int64_t ch_delta(const char *key, int which) {
        int64_t sum = 0;
        for (int i = 0; i < g_ch.ch_ndeltas; i++) {
                char cells[VG_CASE_CELLS][VG_CASE_KEY_MAX];
                int n = vg_rules_case_cells(g_ch.ch_deltas[i].ce_key, cells);
                assert_true(n == 9 || n == 15);
                for (int c = 0; c < n; c++)
                        if (!strcmp(cells[c], key))
                                sum += which ? g_ch.ch_deltas[i].ce_den
                                             : g_ch.ch_deltas[i].ce_num;
        }
        return sum;
}

#define RD VG_RULE_READMISSION_30D
#define SO VG_RULE_SIP_OVERDUE
#define HI VG_CS_HOSPITAL_INPATIENT

/* ------------------------------------------------------------------------
 * §5.1 READMISSION_30D
 * ---------------------------------------------------------------------- */

/* alert_id: the first 16 bytes, in hex, of the SHA-256 of rule, patient
 * and anchor, each NUL-ended (Python's hashlib gave the values), with a
 * short input and with one past the 512 bytes kept on the stack. */
static void test_alert_id_sha256(void **state) {
        char id[33], big[601];
        (void)state;
        assert_string_equal(vg_rules_alert_id(RD, "p1", "s1", id),
                            "69ffd7105464fffa44ea8b11636fcec5");
        memset(big, 'x', 600);
        big[600] = '\0';
        assert_string_equal(vg_rules_alert_id(SO, big, "a", id),
                            "87bc33474d7af6c0cfb4d7d29f5657a7");
}

/* §5.1 one alert per readmission admission, anchored on A's stay_id, with
 * its own fields; kommun is A's; §5 alert_id = hash(rule, patient, anchor);
 * §6 readmission_30d anchored on the index discharge (its kommun). */
static void test_readm_basic_alert_fields(void **state) {
        char id[33];
        const vg_alert_t *a;
        (void)state;
        hadm(&g_e, "a0", T("2026-01-05T09:00:00Z"), "s0");
        hdis(&g_e, "d0", T("2026-01-10T10:00:00Z"), "s0", VG_DISP_HOME);
        ev_kommun(hadm(&g_e, "a1", T("2026-01-20T08:00:00Z"), "s1"),
                  TH_KOMMUN2);
        derive_now();
        expect_nalerts(&g_dv, RD, 1);
        expect_nalerts(&g_dv, SO, 0);
        a = expect_alert(&g_dv, RD, "s1");
        assert_string_equal(a->al_alert_id,
                            vg_rules_alert_id(RD, TH_PATIENT, "s1", id));
        assert_int_equal(a->al_status, VG_STATUS_ACTIVE);
        assert_string_equal(a->al_patient_id, TH_PATIENT);
        assert_string_equal(a->al_kommun, TH_KOMMUN2);
        assert_string_equal(a->al_region, "01");
        assert_string_equal(a->al_index_stay_id, "s0");
        assert_true(a->al_index_discharged_at.set);
        assert_int_equal(a->al_index_discharged_at.v,
                         T("2026-01-10T10:00:00Z"));
        assert_string_equal(a->al_readmission_stay_id, "s1");
        assert_true(a->al_readmitted_at.set);
        assert_int_equal(a->al_readmitted_at.v, T("2026-01-20T08:00:00Z"));
        assert_true(a->al_days_between.set);
        assert_int_equal(a->al_days_between.v, 10);
        /* readmission_30d: index discharge's kommun and period. */
        derive_settled("2026-01");
        expect_cell3(&g_dv, "readmission_30d", TH_KOMMUN, "2026-01", 1, 1);
        expect_cell_kr(&g_dv, "readmission_30d", TH_KOMMUN2, "2026-01", 0, 0);
}

/* §5.1 days(D, A) <= 30 with §4 local calendar dates: local day 30 is in,
 * day 31 is out; in winter local midnight is 23:00Z. */
static void test_readm_day30_vs_day31(void **state) {
        const vg_alert_t *a;
        (void)state;
        hdis(&g_e, "d0", T("2026-01-10T10:00:00Z"), "s0", VG_DISP_HOME);
        hadm(&g_e, "a1", T("2026-02-09T22:59:59.999Z"), "s1"); /* Feb 9 */
        derive_now();
        a = expect_alert(&g_dv, RD, "s1");
        assert_int_equal(a->al_days_between.v, 30);
        derive_settled("2026-01");
        expect_cell3(&g_dv, "readmission_30d", TH_KOMMUN, "2026-01", 1, 1);

        reset();
        hdis(&g_e, "d0", T("2026-01-10T10:00:00Z"), "s0", VG_DISP_HOME);
        hadm(&g_e, "a1", T("2026-02-09T23:00:00Z"), "s1"); /* Feb 10 */
        derive_now();
        expect_nalerts(&g_dv, RD, 0);
        /* the window has closed at that stream time: settled, not readmitted */
        expect_cell3(&g_dv, "readmission_30d", TH_KOMMUN, "2026-01", 0, 1);
}

/* §4 days are calendar dates, not 24 h spans. */
static void test_readm_days_are_local_dates(void **state) {
        (void)state;
        /* 23:30 local -> 00:10 local next day: 40 minutes, 1 day */
        hdis(&g_e, "d0", T("2026-01-10T22:30:00Z"), "s0", VG_DISP_HOME);
        hadm(&g_e, "a1", T("2026-01-10T23:10:00Z"), "s1");
        derive_now();
        assert_int_equal(expect_alert(&g_dv, RD, "s1")->al_days_between.v, 1);

        /* 00:30 local -> 23:50 local same day: 23 h 20 min, 0 days */
        reset();
        hdis(&g_e, "d0", T("2026-01-10T23:30:00Z"), "s0", VG_DISP_HOME);
        hadm(&g_e, "a1", T("2026-01-11T22:50:00Z"), "s1");
        derive_now();
        assert_int_equal(expect_alert(&g_dv, RD, "s1")->al_days_between.v, 0);
}

/* §4 an instant at 23:30Z in winter is already the next local day. */
static void test_readm_local_midnight_not_utc(void **state) {
        (void)state;
        /* D = Jan 11 00:30 local; A = Feb 10 23:00 local: 30 local days
         * (31 UTC dates) -> readmission */
        hdis(&g_e, "d0", T("2026-01-10T23:30:00Z"), "s0", VG_DISP_HOME);
        hadm(&g_e, "a1", T("2026-02-10T22:00:00Z"), "s1");
        derive_now();
        assert_int_equal(expect_alert(&g_dv, RD, "s1")->al_days_between.v,
                         30);
        /* index discharge period is the local month of Jan 11 */
        derive_settled("2026-01");
        expect_cell3(&g_dv, "readmission_30d", TH_KOMMUN, "2026-01", 1, 1);

        /* D = Jan 31 23:30Z = Feb 1 00:30 local: period 2026-02 */
        reset();
        hdis(&g_e, "d0", T("2026-01-31T23:30:00Z"), "s0", VG_DISP_HOME);
        hadm(&g_e, "a1", T("2026-02-03T10:00:00Z"), "s1");
        derive_now();
        assert_int_equal(expect_alert(&g_dv, RD, "s1")->al_days_between.v, 2);
        derive_settled("2026-02");
        expect_cell3(&g_dv, "readmission_30d", TH_KOMMUN, "2026-02", 1, 1);
        expect_cell3(&g_dv, "readmission_30d", TH_KOMMUN, "2026-01", 0, 0);
}

/* §4 across the March DST change: local midnight is 23:00Z before and
 * 22:00Z after. */
static void test_readm_dst_march(void **state) {
        (void)state;
        hdis(&g_e, "d0", T("2026-03-01T12:00:00Z"), "s0", VG_DISP_HOME);
        hadm(&g_e, "a1", T("2026-03-31T21:59:59.999Z"), "s1"); /* Mar 31 */
        derive_now();
        assert_int_equal(expect_alert(&g_dv, RD, "s1")->al_days_between.v,
                         30);

        reset();
        hdis(&g_e, "d0", T("2026-03-01T12:00:00Z"), "s0", VG_DISP_HOME);
        hadm(&g_e, "a1", T("2026-03-31T22:00:00Z"), "s1"); /* Apr 1 00:00 */
        derive_now();
        expect_nalerts(&g_dv, RD, 0);

        /* 23 h 40 min across the change, but two local dates apart:
         * Mar 28 23:30 CET -> Mar 30 00:10 CEST */
        reset();
        hdis(&g_e, "d0", T("2026-03-28T22:30:00Z"), "s0", VG_DISP_HOME);
        hadm(&g_e, "a1", T("2026-03-29T22:10:00Z"), "s1");
        derive_now();
        assert_int_equal(expect_alert(&g_dv, RD, "s1")->al_days_between.v, 2);
}

/* §4 across the October DST change. */
static void test_readm_dst_october(void **state) {
        (void)state;
        hdis(&g_e, "d0", T("2026-10-01T12:00:00Z"), "s0", VG_DISP_HOME);
        hadm(&g_e, "a1", T("2026-10-31T22:59:59.999Z"), "s1"); /* Oct 31 */
        derive_now();
        assert_int_equal(expect_alert(&g_dv, RD, "s1")->al_days_between.v,
                         30);

        reset();
        hdis(&g_e, "d0", T("2026-10-01T12:00:00Z"), "s0", VG_DISP_HOME);
        hadm(&g_e, "a1", T("2026-10-31T23:00:00Z"), "s1"); /* Nov 1 00:00 */
        derive_now();
        expect_nalerts(&g_dv, RD, 0);

        /* Oct 25 00:30 CEST -> Oct 25 23:50 CET: 24 h 20 min, same date */
        reset();
        hdis(&g_e, "d0", T("2026-10-24T22:30:00Z"), "s0", VG_DISP_HOME);
        hadm(&g_e, "a1", T("2026-10-25T22:50:00Z"), "s1");
        derive_now();
        assert_int_equal(expect_alert(&g_dv, RD, "s1")->al_days_between.v, 0);
}

/* §5.1 an index discharge is one whose disposition is not DIED,
 * TRANSFER_ACUTE or AGAINST_ADVICE. */
static void test_readm_index_dispositions(void **state) {
        (void)state;
        for (int d = VG_DISP_HOME; d <= VG_DISP_OTHER; d++) {
                bool index = d != VG_DISP_DIED && d != VG_DISP_TRANSFER_ACUTE &&
                             d != VG_DISP_AGAINST_ADVICE;
                reset();
                hdis(&g_e, "d0", T("2026-01-10T10:00:00Z"), "s0", d);
                hadm(&g_e, "a1", T("2026-01-15T10:00:00Z"), "s1");
                derive(T("2026-03-01T00:00:00Z")); /* window closed */
                if (count_alerts(&g_dv, RD) != (index ? 1 : 0))
                        fail_msg("disposition %s: %d alerts",
                                 vg_enum_str(&vg_enum_disposition, d),
                                 count_alerts(&g_dv, RD));
                expect_cell3(&g_dv, "readmission_30d", TH_KOMMUN, "2026-01",
                             index ? 1 : 0, index ? 1 : 0);
        }
}

/* §5.1 only HOSPITAL_INPATIENT admissions and discharges take part;
 * admissions in other settings neither count nor end a window. */
static void test_readm_only_hospital_inpatient(void **state) {
        (void)state;
        /* discharge from another setting is no index discharge */
        for (int cs = VG_CS_PALLIATIVE_UNIT; cs <= VG_CS_NURSING_HOME; cs++) {
                reset();
                dis(&g_e, "d0", T("2026-01-10T10:00:00Z"), "s0", cs,
                    VG_DISP_HOME, false);
                hadm(&g_e, "a1", T("2026-01-15T10:00:00Z"), "s1");
                derive(T("2026-03-01T00:00:00Z"));
                expect_nalerts(&g_dv, RD, 0);
                expect_cell3(&g_dv, "readmission_30d", TH_KOMMUN, "2026-01",
                             0, 0);
        }

        /* admissions in other settings (even unplanned) neither count nor
         * end the window: the hospital admission on day 10 is it */
        reset();
        hdis(&g_e, "d0", T("2026-01-10T10:00:00Z"), "s0", VG_DISP_HOME);
        adm(&g_e, "a1", T("2026-01-13T10:00:00Z"), "s1", VG_CS_SSIH, false);
        adm(&g_e, "a2", T("2026-01-14T10:00:00Z"), "s2",
            VG_CS_PALLIATIVE_UNIT, false);
        adm(&g_e, "a3", T("2026-01-15T10:00:00Z"), "s3",
            VG_CS_SHORT_TERM_CARE, false);
        adm(&g_e, "a4", T("2026-01-16T10:00:00Z"), "s4", VG_CS_NURSING_HOME,
            false);
        hadm(&g_e, "a5", T("2026-01-20T10:00:00Z"), "s5");
        derive_now();
        expect_nalerts(&g_dv, RD, 1);
        assert_int_equal(expect_alert(&g_dv, RD, "s5")->al_days_between.v,
                         10);

        /* only other-setting admissions: settled unreadmitted */
        reset();
        hdis(&g_e, "d0", T("2026-01-10T10:00:00Z"), "s0", VG_DISP_HOME);
        adm(&g_e, "a1", T("2026-01-13T10:00:00Z"), "s1",
            VG_CS_PALLIATIVE_UNIT, false);
        derive(T("2026-03-01T00:00:00Z"));
        expect_nalerts(&g_dv, RD, 0);
        expect_cell3(&g_dv, "readmission_30d", TH_KOMMUN, "2026-01", 0, 1);

        /* a TRANSFER_ACUTE discharge from a palliative unit is no transfer
         * discharge of this rule: the hospital admission right after it is
         * a readmission of the earlier index discharge */
        reset();
        hdis(&g_e, "d0", T("2026-01-10T10:00:00Z"), "s0", VG_DISP_HOME);
        adm(&g_e, "a1", T("2026-01-12T10:00:00Z"), "s1",
            VG_CS_PALLIATIVE_UNIT, true);
        dis(&g_e, "d1", T("2026-01-14T10:00:00Z"), "s1",
            VG_CS_PALLIATIVE_UNIT, VG_DISP_TRANSFER_ACUTE, false);
        hadm(&g_e, "a2", T("2026-01-14T12:00:00Z"), "s2");
        derive_now();
        expect_nalerts(&g_dv, RD, 1);
        assert_int_equal(expect_alert(&g_dv, RD, "s2")->al_days_between.v, 4);
}

/* §5.1 planned admissions in between neither count nor end the window. */
static void test_readm_planned_in_between(void **state) {
        const vg_alert_t *a;
        (void)state;
        hdis(&g_e, "d0", T("2026-01-10T10:00:00Z"), "s0", VG_DISP_HOME);
        adm(&g_e, "a1", T("2026-01-13T10:00:00Z"), "s1", HI, true);
        hadm(&g_e, "a2", T("2026-01-20T10:00:00Z"), "s2");
        derive_now();
        expect_nalerts(&g_dv, RD, 1);
        a = expect_alert(&g_dv, RD, "s2");
        assert_string_equal(a->al_index_stay_id, "s0");
        assert_int_equal(a->al_days_between.v, 10);

        /* a planned admission alone is no readmission */
        reset();
        hdis(&g_e, "d0", T("2026-01-10T10:00:00Z"), "s0", VG_DISP_HOME);
        adm(&g_e, "a1", T("2026-01-13T10:00:00Z"), "s1", HI, true);
        derive(T("2026-03-01T00:00:00Z"));
        expect_nalerts(&g_dv, RD, 0);
        expect_cell3(&g_dv, "readmission_30d", TH_KOMMUN, "2026-01", 0, 1);
}

/* §5.1 the readmission is the FIRST qualifying admission: a second
 * unplanned admission in the same window is not another readmission of D. */
static void test_readm_first_admission_only(void **state) {
        (void)state;
        hdis(&g_e, "d0", T("2026-01-10T10:00:00Z"), "s0", VG_DISP_HOME);
        hadm(&g_e, "a1", T("2026-01-12T10:00:00Z"), "s1");
        hadm(&g_e, "a2", T("2026-01-14T10:00:00Z"), "s2");
        derive_now();
        expect_nalerts(&g_dv, RD, 1);
        expect_alert(&g_dv, RD, "s1");
        derive_settled("2026-01");
        expect_cell3(&g_dv, "readmission_30d", TH_KOMMUN, "2026-01", 1, 1);
}

/* §5.1 A.occurred_at > D.occurred_at at millisecond precision (§5.0). */
static void test_readm_strictly_after_ms(void **state) {
        (void)state;
        hdis(&g_e, "d0", T("2026-01-10T10:00:00Z"), "s0", VG_DISP_HOME);
        hadm(&g_e, "a1", T("2026-01-10T10:00:00Z"), "s1");
        derive_now();
        expect_nalerts(&g_dv, RD, 0);

        reset();
        hdis(&g_e, "d0", T("2026-01-10T10:00:00Z"), "s0", VG_DISP_HOME);
        hadm(&g_e, "a1", T("2026-01-10T10:00:00.001Z"), "s1");
        derive_now();
        assert_int_equal(expect_alert(&g_dv, RD, "s1")->al_days_between.v, 0);
}

/* §5.1 transfer continuation: A >= D (TRANSFER_ACUTE) and days(D, A) <= 1
 * is never a readmission; 2 days later it is a readmission candidate. */
static void test_readm_transfer_continuation(void **state) {
        static const struct {
                const char *at;
                int         alert; /* readmission of s0? */
        } c[] = {
                {"2026-01-14T09:00:00Z", 0},     /* same instant (>=) */
                {"2026-01-14T13:00:00Z", 0},     /* same local day */
                {"2026-01-15T22:59:59.999Z", 0}, /* next local day */
                {"2026-01-15T23:00:00Z", 1},     /* 2 local days: candidate */
                {"2026-01-14T08:59:59.999Z", 1}, /* before D: not continuing */
        };
        (void)state;
        for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
                reset();
                /* index discharge s0; s1 planned (does not end the window),
                 * transferred on Jan 14 10:00 local; s2 unplanned */
                hdis(&g_e, "d0", T("2026-01-10T10:00:00Z"), "s0",
                     VG_DISP_HOME);
                adm(&g_e, "a1", T("2026-01-12T10:00:00Z"), "s1", HI, true);
                hdis(&g_e, "d1", T("2026-01-14T09:00:00Z"), "s1",
                     VG_DISP_TRANSFER_ACUTE);
                hadm(&g_e, "a2", T(c[i].at), "s2");
                derive_now();
                if (count_alerts(&g_dv, RD) != c[i].alert) {
                        dump_alerts(&g_dv);
                        fail_msg("admission at %s: %d alerts, expected %d",
                                 c[i].at, count_alerts(&g_dv, RD),
                                 c[i].alert);
                }
                if (c[i].alert)
                        assert_string_equal(
                                expect_alert(&g_dv, RD, "s2")->al_index_stay_id,
                                "s0");
        }

        /* 2 days after a transfer without any earlier index discharge:
         * nothing to readmit */
        reset();
        adm(&g_e, "a1", T("2026-01-12T10:00:00Z"), "s1", HI, false);
        hdis(&g_e, "d1", T("2026-01-14T09:00:00Z"), "s1",
             VG_DISP_TRANSFER_ACUTE);
        hadm(&g_e, "a2", T("2026-01-16T09:00:00Z"), "s2");
        derive_now();
        expect_nalerts(&g_dv, RD, 0);
}

/* §5.1 a chain of transfers: every continuation is skipped (neither counts
 * nor ends the window); the next unplanned admission after the chain's
 * final index discharge readmits both index discharges. */
static void test_readm_transfer_chain(void **state) {
        const vg_alert_t *a;
        (void)state;
        hdis(&g_e, "d0", T("2026-01-01T10:00:00Z"), "s0", VG_DISP_HOME);
        adm(&g_e, "a1", T("2026-01-03T10:00:00Z"), "s1", HI, true);
        hdis(&g_e, "d1", T("2026-01-05T10:00:00Z"), "s1",
             VG_DISP_TRANSFER_ACUTE);
        hadm(&g_e, "a2", T("2026-01-05T14:00:00Z"), "s2"); /* same day */
        hdis(&g_e, "d2", T("2026-01-06T20:00:00Z"), "s2",
             VG_DISP_TRANSFER_ACUTE);
        hadm(&g_e, "a3", T("2026-01-07T08:00:00Z"), "s3"); /* next day */
        hdis(&g_e, "d3", T("2026-01-08T10:00:00Z"), "s3",
             VG_DISP_TRANSFER_ACUTE);
        hadm(&g_e, "a4", T("2026-01-08T10:00:00Z"), "s4"); /* same instant */
        hdis(&g_e, "d4", T("2026-01-12T10:00:00Z"), "s4", VG_DISP_HOME);
        hadm(&g_e, "a5", T("2026-01-20T10:00:00Z"), "s5");
        derive_now();
        expect_nalerts(&g_dv, RD, 1);
        a = expect_alert(&g_dv, RD, "s5");
        assert_string_equal(a->al_index_stay_id, "s4");
        assert_int_equal(a->al_days_between.v, 8);
        derive_settled("2026-01");
        expect_cell3(&g_dv, "readmission_30d", TH_KOMMUN, "2026-01", 2, 2);
}

/* §5.1 an admission can readmit several index discharges (all count in §6)
 * but raises one alert naming the latest; kommun is A's; each index
 * discharge is counted under its own kommun and period. */
static void test_readm_several_index_one_alert(void **state) {
        const vg_alert_t *a;
        (void)state;
        hdis(&g_e, "d0", T("2026-01-28T10:00:00Z"), "s0", VG_DISP_HOME);
        adm(&g_e, "a1", T("2026-01-30T10:00:00Z"), "s1", HI, true);
        ev_kommun(hdis(&g_e, "d1", T("2026-02-02T10:00:00Z"), "s1",
                       VG_DISP_NURSING_HOME),
                  TH_KOMMUN2);
        ev_kommun(hadm(&g_e, "a2", T("2026-02-06T10:00:00Z"), "s2"), "2380");
        derive_now();
        expect_nalerts(&g_dv, RD, 1);
        a = expect_alert(&g_dv, RD, "s2");
        assert_string_equal(a->al_index_stay_id, "s1");
        assert_int_equal(a->al_index_discharged_at.v,
                         T("2026-02-02T10:00:00Z"));
        assert_int_equal(a->al_days_between.v, 4);
        assert_string_equal(a->al_kommun, "2380");
        assert_string_equal(a->al_region, "23");
        derive_settled("2026-01");
        expect_cell(&g_dv, "readmission_30d", TH_KOMMUN, "2026-01", 1, 1);
        expect_cell(&g_dv, "readmission_30d", "04", "2026-01", 1, 1);
        expect_cell(&g_dv, "readmission_30d", TH_KOMMUN2, "2026-02", 1, 1);
        expect_cell(&g_dv, "readmission_30d", "01", "2026-02", 1, 1);
        expect_cell(&g_dv, "readmission_30d", "SE", "2026-01", 1, 1);
        expect_cell(&g_dv, "readmission_30d", "SE", "2026-02", 1, 1);
        expect_cell(&g_dv, "readmission_30d", "2380", "2026-02", 0, 0);
}

/* An alert takes its id from the last derivation's alerts only when they
 * hold one of the same rule and anchor; otherwise it is hashed. (Known ids
 * made up here, so that a taken one shows.) */
static void test_known_alert_ids(void **state) {
        vg_rules_conf_t rc;
        char want[33];
        vg_alert_t known[3];
        (void)state;
        th_conf(&rc);
        hdis(&g_e, "d0", T("2026-01-10T10:00:00Z"), "s0", VG_DISP_HOME);
        hadm(&g_e, "a1", T("2026-01-15T10:00:00Z"), "s1");
        memset(known, 0, sizeof(known));
        known[0].al_rule = SO, known[0].al_anchor = "s1";
        known[0].al_alert_id = "made-up-so-s1";
        known[1].al_rule = RD, known[1].al_anchor = "s0";
        known[1].al_alert_id = "made-up-rd-s0";
        known[2].al_rule = RD, known[2].al_anchor = "s1";
        known[2].al_alert_id = "made-up-rd-s1";
        vg_rules_alert_id(RD, TH_PATIENT, "s1", want);
        for (int k = 0; k <= 3; k++) {
                vg_derived_clear(&g_dv);
                /* known[0, k): the match only in the last round */
                vg_rules_derive_known(&rc, TH_PATIENT, g_e.ev, g_e.n,
                                      T("2026-01-15T10:00:00Z"), known, k,
                                      &g_dv);
                expect_nalerts(&g_dv, RD, 1);
                assert_string_equal(expect_alert(&g_dv, RD, "s1")->al_alert_id,
                                    k == 3 ? "made-up-rd-s1" : want);
        }
        /* The engine: the id made, then taken over while its own (made
         * up here: it stays, nothing is published), made again once read
         * from a state (pt_ids_made false: the wrong one retracted). */
        apply(&g_e.ev[0], T("2026-01-10T10:00:00Z"));
        apply(&g_e.ev[1], T("2026-01-15T10:00:00Z"));
        assert_string_equal(ch_alert(RD, VG_STATUS_ACTIVE)->al_alert_id, want);
        assert_true(g_pt->pt_ids_made);
        assert_int_equal(g_pt->pt_nalerts, 1);
        vg_free(g_pt->pt_alerts[0].al_alert_id);
        g_pt->pt_alerts[0].al_alert_id = vg_strdup("made-up-rd-s1");
        apply(NULL, T("2026-01-16T10:00:00Z"));
        assert_int_equal(g_ch.ch_nalerts, 0);
        assert_string_equal(g_pt->pt_alerts[0].al_alert_id, "made-up-rd-s1");
        g_pt->pt_ids_made = false;
        apply(NULL, T("2026-01-16T10:00:00Z"));
        assert_int_equal(g_ch.ch_nalerts, 2);
        assert_string_equal(ch_alert(RD, VG_STATUS_ACTIVE)->al_alert_id, want);
        assert_string_equal(ch_alert(RD, VG_STATUS_RETRACTED)->al_alert_id,
                            "made-up-rd-s1");
        assert_true(g_pt->pt_ids_made);
}

/* n stays of patient p1 into e, in the order given by ord (a permutation
 * of 0..n-1): stay i admitted (unplanned, hospital) on day 3i and
 * discharged on day 3i+1, home, or to acute care (TRANSFER_ACUTE) when
 * transfers and i is odd; with gap, the stays from n/2 on 500 days
 * later (more than any rule's reach, about 400 days). */
static void many_stays(evs_t *e, int n, const int *ord, bool transfers,
                       bool gap) {
        for (int k = 0; k < n; k++) {
                int i = ord[k];
                int64_t t0 = T("2026-01-05T10:00:00Z") +
                             (gap && i >= n / 2 ? DAYS(500) : 0);
                char id[16], stay[16];
                snprintf(stay, sizeof(stay), "s%02d", i);
                snprintf(id, sizeof(id), "d%02d", i);
                hdis(e, id, t0 + DAYS(3 * i + 1), stay,
                     transfers && i % 2 ? VG_DISP_TRANSFER_ACUTE
                                        : VG_DISP_HOME);
                snprintf(id, sizeof(id), "a%02d", i);
                hadm(e, id, t0 + DAYS(3 * i), stay);
        }
}

/* The kommun's readmission_30d, summed over its periods (base cells). */
static void readm_total(const vg_derived_t *dv, int64_t *num, int64_t *den) {
        static const char pre[] = "readmission_30d|" TH_KOMMUN "|";
        *num = *den = 0;
        for (int i = 0; i < dv->dv_ncells; i++) {
                char cells[VG_CASE_CELLS][VG_CASE_KEY_MAX];
                int nc = vg_rules_case_cells(dv->dv_cells[i].ce_key, cells);
                for (int c = 0; c < nc; c++)
                        if (!strncmp(cells[c], pre, sizeof(pre) - 1) &&
                            !strchr(cells[c] + sizeof(pre) - 1, '|')) {
                                *num += dv->dv_cells[i].ce_num;
                                *den += dv->dv_cells[i].ce_den;
                        }
        }
}

/* The engine, given n stays (with the gap of many_stays) one by one in
 * the order ord (with a retention longer than the gap: none too late),
 * holds the cells of their derivation, also after a last turn with a
 * retention of one day: prune() sorts the events' times (given out of
 * order) and finds the cut, the 500 days, by which the first n/2 stays
 * are pruned, their contribution frozen. */
static void engine_many(int n, const int *ord) {
        vg_rules_conf_t rc;
        vg_patient_t *pt = vg_patient_new(TH_PATIENT);
        vg_changes_t ch;
        vg_derived_t dv = {0};
        evs_t e = {0};
        int64_t at;
        many_stays(&e, n, ord, false, true);
        at = evs_max_time(&e) + DAYS(40);
        derive_at(&e, at, &dv);
        th_conf(&rc);
        rc.rc_retention_days = 2000;
        for (int i = 0; i <= e.n; i++) {
                if (i == e.n)
                        rc.rc_retention_days = 1;
                vg_engine_apply(&rc, pt, i < e.n ? &e.ev[i] : NULL, at, &ch);
                assert_int_equal(ch.ch_too_late, 0);
                assert_int_equal(ch.ch_pruned, i < e.n ? 0 : 2 * (n / 2));
                vg_changes_clear(&ch);
        }
        assert_int_equal(pt->pt_nevents, e.n - 2 * (n / 2));
        assert_int_equal(pt->pt_ncells, dv.dv_ncells);
        for (int i = 0; i < dv.dv_ncells; i++) {
                assert_string_equal(pt->pt_cells[i].ce_key,
                                    dv.dv_cells[i].ce_key);
                assert_int_equal(pt->pt_cells[i].ce_num,
                                 dv.dv_cells[i].ce_num);
                assert_int_equal(pt->pt_cells[i].ce_den,
                                 dv.dv_cells[i].ce_den);
        }
        vg_patient_destroy(pt);
        vg_derived_clear(&dv);
        evs_free(&e);
}

/* A patient with more events than a derivation's arrays on the stack hold
 * (select_alloc's few: 27 events) and than its insertion sorts take (32):
 * 2 x 1, 13, 14, 16, 17 and 40 stays, each readmitted two days after its
 * discharge but the last, given newest first, oldest first and shuffled.
 * The figures are exact, and every order derives the same cells and
 * alerts; with every other discharge a transfer to acute care (the sorted
 * transfer times), the orders still agree. The engine, given them
 * shuffled, holds the same cells, also once half of them is pruned. */
static void test_many_events(void **state) {
        static const int sizes[] = {1, 13, 14, 16, 17, 40};
        (void)state;
        for (size_t z = 0; z < sizeof(sizes) / sizeof(sizes[0]); z++)
                for (int tr = 0; tr < 2; tr++) {
                        int n = sizes[z], ord[3][40];
                        vg_derived_t dv[3];
                        int64_t num, den, at = 0;
                        for (int i = 0; i < n; i++) {
                                ord[0][i] = n - 1 - i;
                                ord[1][i] = i;
                                ord[2][i] = (i * 7 + 3) % n;
                        }
                        if (n % 7 == 0) /* (7i+3 mod n: not a permutation) */
                                for (int i = 0; i < n; i++)
                                        ord[2][i] = (i * 11 + 5) % n;
                        for (int o = 0; o < 3; o++) {
                                evs_t e = {0};
                                many_stays(&e, n, ord[o], tr, false);
                                at = evs_max_time(&e) + DAYS(40);
                                memset(&dv[o], 0, sizeof(dv[o]));
                                derive_at(&e, at, &dv[o]);
                                evs_free(&e);
                        }
                        if (!tr)
                                engine_many(n, ord[2]);
                        if (!tr) {
                                readm_total(&dv[0], &num, &den);
                                assert_int_equal(num, n - 1);
                                assert_int_equal(den, n);
                                assert_int_equal(count_alerts(&dv[0], RD),
                                                 n - 1);
                        }
                        for (int o = 1; o < 3; o++) {
                                assert_int_equal(dv[o].dv_ncells,
                                                 dv[0].dv_ncells);
                                for (int i = 0; i < dv[0].dv_ncells; i++) {
                                        assert_string_equal(
                                                dv[o].dv_cells[i].ce_key,
                                                dv[0].dv_cells[i].ce_key);
                                        assert_int_equal(
                                                dv[o].dv_cells[i].ce_num,
                                                dv[0].dv_cells[i].ce_num);
                                        assert_int_equal(
                                                dv[o].dv_cells[i].ce_den,
                                                dv[0].dv_cells[i].ce_den);
                                }
                                assert_int_equal(dv[o].dv_nalerts,
                                                 dv[0].dv_nalerts);
                                for (int i = 0; i < dv[0].dv_nalerts; i++)
                                        assert_true(vg_record_equal(
                                                VG_REC_ALERT,
                                                &dv[o].dv_alerts[i],
                                                &dv[0].dv_alerts[i]));
                        }
                        for (int o = 0; o < 3; o++)
                                vg_derived_clear(&dv[o]);
                }
}

/* vg_sort_i64 at every length from 0 to 70 (insertion up to 32, qsort
 * beyond), with repeated values, against qsort. */
static int i64_cmp_t(const void *a, const void *b) {
        int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
        return x < y ? -1 : x > y;
}

static void test_sort_i64(void **state) {
        uint32_t r = 12345;
        (void)state;
        for (size_t n = 0; n <= 70; n++)
                for (int round = 0; round < 4; round++) {
                        int64_t a[70], b[70];
                        for (size_t i = 0; i < n; i++) {
                                r = r * 1103515245u + 12345u;
                                a[i] = b[i] = (int64_t)(r >> 16) % 17 -
                                              (round == 3 ? INT64_MAX : 8);
                        }
                        vg_sort_i64(a, n);
                        if (n)
                                qsort(b, n, sizeof(*b), i64_cmp_t);
                        if (n)
                                assert_memory_equal(a, b, n * sizeof(*a));
                }
}

/* 35 older stays, 40 days apart (none a readmission), the newest first:
 * with them a patient has more than 32 events and 32 admissions, which
 * sort_events sorts by qsort, not by insertion. */
static void old_stays(evs_t *e) {
        for (int i = 34; i >= 0; i--) {
                int64_t t = T("2021-11-01T10:00:00Z") + DAYS(40 * i);
                char id[16], stay[16];
                snprintf(stay, sizeof(stay), "o%02d", i);
                snprintf(id, sizeof(id), "od%02d", i);
                hdis(e, id, t + DAYS(1), stay, VG_DISP_HOME);
                snprintf(id, sizeof(id), "oa%02d", i);
                hadm(e, id, t, stay);
        }
}

/* §5.0 ordering ties: occurred_at, then stay_id, then event_id. Two
 * unplanned admissions at the same instant: the first is the smaller
 * stay_id (whatever the event ids). Two index discharges at the same
 * instant: the latest is the larger stay_id. With many, the events are
 * given before old_stays' 70. */
static void ordering_ties(bool many) {
        const vg_alert_t *a;
        hdis(&g_e, "d0", T("2026-01-10T10:00:00Z"), "s0", VG_DISP_HOME);
        hadm(&g_e, "a-1", T("2026-01-15T10:00:00Z"), "s-b");
        hadm(&g_e, "a-2", T("2026-01-15T10:00:00Z"), "s-a");
        if (many)
                old_stays(&g_e);
        derive_now();
        expect_nalerts(&g_dv, RD, 1);
        expect_alert(&g_dv, RD, "s-a");

        reset();
        hdis(&g_e, "d-2", T("2026-01-10T10:00:00Z"), "s-a", VG_DISP_HOME);
        hdis(&g_e, "d-1", T("2026-01-10T10:00:00Z"), "s-b", VG_DISP_HOME);
        hadm(&g_e, "a-3", T("2026-01-15T10:00:00Z"), "s-c");
        if (many)
                old_stays(&g_e);
        derive_now();
        expect_nalerts(&g_dv, RD, 1);
        a = expect_alert(&g_dv, RD, "s-c");
        assert_string_equal(a->al_index_stay_id, "s-b");
        derive_settled("2026-01");
        expect_cell3(&g_dv, "readmission_30d", TH_KOMMUN, "2026-01", 2, 2);
        if (many)
                expect_cell3(&g_dv, "readmission_30d", TH_KOMMUN, "2021-11",
                             0, 1);
}

static void test_readm_ordering_ties(void **state) {
        (void)state;
        ordering_ties(false);
}

/* The same through the qsort path: it breaks the ties as the insertion
 * sort does. */
static void test_readm_ordering_ties_many(void **state) {
        (void)state;
        ordering_ties(true);
}

/* §5.0 the stay's admission is the non-cancelled Admission with the smallest
 * (occurred_at, event_id); further ones are conflicts and otherwise
 * ignored. */
static void test_stay_first_admission_wins(void **state) {
        const vg_alert_t *a;
        (void)state;
        /* (a) planned first, unplanned later: the stay is planned */
        hdis(&g_e, "d0", T("2026-01-10T10:00:00Z"), "s0", VG_DISP_HOME);
        adm(&g_e, "a1", T("2026-01-12T10:00:00Z"), "s1", HI, true);
        hadm(&g_e, "a2", T("2026-01-13T10:00:00Z"), "s1");
        derive_now();
        expect_nalerts(&g_dv, RD, 0);
        assert_int_equal(g_dv.dv_conflicts, 1);

        /* (b) unplanned first: readmitted_at is the first one */
        reset();
        hdis(&g_e, "d0", T("2026-01-10T10:00:00Z"), "s0", VG_DISP_HOME);
        hadm(&g_e, "a1", T("2026-01-12T10:00:00Z"), "s1");
        adm(&g_e, "a2", T("2026-01-13T10:00:00Z"), "s1", HI, true);
        derive_now();
        a = expect_alert(&g_dv, RD, "s1");
        assert_int_equal(a->al_readmitted_at.v, T("2026-01-12T10:00:00Z"));
        assert_int_equal(a->al_days_between.v, 2);
        assert_int_equal(g_dv.dv_conflicts, 1);

        /* (c) same instant: smallest event_id wins (its kommun, planned) */
        reset();
        hdis(&g_e, "d0", T("2026-01-10T10:00:00Z"), "s0", VG_DISP_HOME);
        adm(&g_e, "a-y", T("2026-01-12T10:00:00Z"), "s1", HI, true);
        ev_kommun(hadm(&g_e, "a-x", T("2026-01-12T10:00:00Z"), "s1"),
                  TH_KOMMUN2);
        derive_now();
        a = expect_alert(&g_dv, RD, "s1");
        assert_string_equal(a->al_kommun, TH_KOMMUN2);
        assert_int_equal(g_dv.dv_conflicts, 1);

        reset();
        hdis(&g_e, "d0", T("2026-01-10T10:00:00Z"), "s0", VG_DISP_HOME);
        hadm(&g_e, "a-y", T("2026-01-12T10:00:00Z"), "s1");
        adm(&g_e, "a-x", T("2026-01-12T10:00:00Z"), "s1", HI, true);
        derive_now();
        expect_nalerts(&g_dv, RD, 0);

        /* (d) cancelling the stay's admission promotes the next one */
        reset();
        hdis(&g_e, "d0", T("2026-01-10T10:00:00Z"), "s0", VG_DISP_HOME);
        adm(&g_e, "a1", T("2026-01-12T10:00:00Z"), "s1", HI, true);
        hadm(&g_e, "a2", T("2026-01-13T10:00:00Z"), "s1");
        cancel(&g_e, "c1", T("2026-01-14T10:00:00Z"), VG_REC_SIP, "a1");
        derive_now();
        a = expect_alert(&g_dv, RD, "s1");
        assert_int_equal(a->al_readmitted_at.v, T("2026-01-13T10:00:00Z"));
        assert_int_equal(g_dv.dv_conflicts, 0);
}

/* §5.0 likewise the stay's discharge. */
static void test_stay_first_discharge_wins(void **state) {
        const vg_alert_t *a;
        (void)state;
        hdis(&g_e, "d1", T("2026-01-10T10:00:00Z"), "s0", VG_DISP_HOME);
        hdis(&g_e, "d2", T("2026-01-11T10:00:00Z"), "s0", VG_DISP_DIED);
        hadm(&g_e, "a1", T("2026-01-15T10:00:00Z"), "s1");
        derive_now();
        a = expect_alert(&g_dv, RD, "s1");
        assert_int_equal(a->al_index_discharged_at.v,
                         T("2026-01-10T10:00:00Z"));
        assert_int_equal(g_dv.dv_conflicts, 1);

        reset();
        hdis(&g_e, "d1", T("2026-01-10T10:00:00Z"), "s0", VG_DISP_DIED);
        hdis(&g_e, "d2", T("2026-01-11T10:00:00Z"), "s0", VG_DISP_HOME);
        hadm(&g_e, "a1", T("2026-01-15T10:00:00Z"), "s1");
        derive(T("2026-03-01T00:00:00Z"));
        expect_nalerts(&g_dv, RD, 0);
        expect_cell3(&g_dv, "readmission_30d", TH_KOMMUN, "2026-01", 0, 0);
        assert_int_equal(g_dv.dv_conflicts, 1);

        /* two extra admissions and one extra discharge: 3 conflicts */
        reset();
        hadm(&g_e, "a1", T("2026-01-05T10:00:00Z"), "s0");
        hadm(&g_e, "a2", T("2026-01-06T10:00:00Z"), "s0");
        hadm(&g_e, "a3", T("2026-01-07T10:00:00Z"), "s0");
        hdis(&g_e, "d1", T("2026-01-10T10:00:00Z"), "s0", VG_DISP_HOME);
        hdis(&g_e, "d2", T("2026-01-10T10:00:00Z"), "s0", VG_DISP_HOME);
        derive_now();
        assert_int_equal(g_dv.dv_conflicts, 3);
}

/* §6 readmission_30d denominator: settled index discharges (readmitted, or
 * days(D, stream time) > 30); dv_next_due is the local midnight that closes
 * the window. */
static void test_readm_denominator_and_next_due(void **state) {
        (void)state;
        /* March: window closes at Apr 1 00:00 CEST = Mar 31 22:00Z */
        hdis(&g_e, "d0", T("2026-03-01T12:00:00Z"), "s0", VG_DISP_HOME);
        derive_now();
        expect_cell3(&g_dv, "readmission_30d", TH_KOMMUN, "2026-03", 0, 0);
        assert_int_equal(g_dv.dv_next_due, T("2026-03-31T22:00:00Z"));
        derive(T("2026-03-31T21:59:59.999Z")); /* day 30: still open */
        expect_cell3(&g_dv, "readmission_30d", TH_KOMMUN, "2026-03", 0, 0);
        assert_int_equal(g_dv.dv_next_due, T("2026-03-31T22:00:00Z"));
        derive(T("2026-03-31T22:00:00Z")); /* day 31: settled */
        expect_cell3(&g_dv, "readmission_30d", TH_KOMMUN, "2026-03", 0, 1);
        assert_true(g_dv.dv_next_due == INT64_MAX);

        /* October: window closes at Nov 1 00:00 CET = Oct 31 23:00Z */
        reset();
        hdis(&g_e, "d0", T("2026-10-01T12:00:00Z"), "s0", VG_DISP_HOME);
        derive_now();
        assert_int_equal(g_dv.dv_next_due, T("2026-10-31T23:00:00Z"));
        derive(T("2026-10-31T22:59:59.999Z"));
        expect_cell3(&g_dv, "readmission_30d", TH_KOMMUN, "2026-10", 0, 0);
        derive(T("2026-10-31T23:00:00Z"));
        expect_cell3(&g_dv, "readmission_30d", TH_KOMMUN, "2026-10", 0, 1);

        /* readmitted: known at once, but counted only when the window
         * closes (SPEC v2 §6 settled denominators): Mar 1 -> Mar 31
         * 22:00Z (Apr 1 00:00 CEST) */
        reset();
        hdis(&g_e, "d0", T("2026-03-01T12:00:00Z"), "s0", VG_DISP_HOME);
        hadm(&g_e, "a1", T("2026-03-02T12:00:00Z"), "s1");
        derive_now();
        expect_nalerts(&g_dv, RD, 1);
        expect_cell3(&g_dv, "readmission_30d", TH_KOMMUN, "2026-03", 0, 0);
        assert_int_equal(g_dv.dv_next_due, T("2026-03-31T22:00:00Z"));
        derive(T("2026-03-31T21:59:59.999Z"));
        expect_cell3(&g_dv, "readmission_30d", TH_KOMMUN, "2026-03", 0, 0);
        derive(T("2026-03-31T22:00:00Z"));
        expect_cell3(&g_dv, "readmission_30d", TH_KOMMUN, "2026-03", 1, 1);
        assert_true(g_dv.dv_next_due == INT64_MAX);

        /* a non-index discharge has no window and no timer */
        reset();
        hdis(&g_e, "d0", T("2026-03-01T12:00:00Z"), "s0",
             VG_DISP_AGAINST_ADVICE);
        derive_now();
        assert_true(g_dv.dv_next_due == INT64_MAX);
}

/* ------------------------------------------------------------------------
 * §5.0 cancellations, duplicates, deaths
 * ---------------------------------------------------------------------- */

/* Engine: apply the events of g_e in the given order (indexes), stream time
 * = running max. Returns the number of ACTIVE/RETRACTED alerts seen. */
static int64_t g_stream;
static void apply_idx(int i) {
        if (g_e.ev[i].ev_occurred_at > g_stream)
                g_stream = g_e.ev[i].ev_occurred_at;
        apply(&g_e.ev[i], g_stream);
}

/* §5.0 a cancellation after its target: the alert is RETRACTED, the
 * figures follow. */
static void test_cancel_after_target_engine(void **state) {
        const vg_alert_t *a;
        char id[33], key[64];
        (void)state;
        g_stream = INT64_MIN;
        hdis(&g_e, "d0", T("2026-01-10T10:00:00Z"), "s0", VG_DISP_HOME);
        hadm(&g_e, "a1", T("2026-01-15T10:00:00Z"), "s1");
        cancel(&g_e, "c1", T("2026-01-16T10:00:00Z"), VG_REC_DEATH, "a1");
        apply_idx(0);
        assert_int_equal(g_ch.ch_nalerts, 0);
        apply_idx(1);
        assert_int_equal(ch_count(RD, VG_STATUS_ACTIVE), 1);
        a = ch_alert(RD, VG_STATUS_ACTIVE);
        assert_string_equal(a->al_alert_id,
                            vg_rules_alert_id(RD, TH_PATIENT, "s1", id));
        snprintf(key, sizeof(key), "readmission_30d|%s|2026-01", TH_KOMMUN);
        /* not settled yet: the window is open (SPEC v2 §6) */
        assert_int_equal(ch_delta(key, 0), 0);
        assert_int_equal(ch_delta(key, 1), 0);
        apply_idx(2);
        assert_int_equal(g_ch.ch_nalerts, 1);
        a = ch_alert(RD, VG_STATUS_RETRACTED);
        assert_string_equal(a->al_alert_id, id);
        assert_string_equal(a->al_anchor, "s1");
        assert_int_equal(ch_delta(key, 0), 0); /* nothing was counted */
        assert_int_equal(ch_delta(key, 1), 0);
        assert_int_equal(g_pt->pt_nalerts, 0);

        /* cancelling the index discharge instead */
        vg_patient_destroy(g_pt);
        g_pt = NULL;
        reset();
        g_stream = INT64_MIN;
        hdis(&g_e, "d0", T("2026-01-10T10:00:00Z"), "s0", VG_DISP_HOME);
        hadm(&g_e, "a1", T("2026-01-15T10:00:00Z"), "s1");
        cancel(&g_e, "c1", T("2026-01-16T10:00:00Z"), VG_REC_ADMISSION, "d0");
        apply_idx(0);
        apply_idx(1);
        assert_int_equal(ch_count(RD, VG_STATUS_ACTIVE), 1);
        apply_idx(2);
        assert_int_equal(ch_count(RD, VG_STATUS_RETRACTED), 1);
        assert_int_equal(ch_count(RD, VG_STATUS_ACTIVE), 0);
}

/* §5.0 a cancellation may arrive before its target: it is remembered and
 * the target never has an effect (the alert never appears). */
static void test_cancel_before_target_engine(void **state) {
        char key[64];
        (void)state;
        g_stream = INT64_MIN;
        hdis(&g_e, "d0", T("2026-01-10T10:00:00Z"), "s0", VG_DISP_HOME);
        hadm(&g_e, "a1", T("2026-01-15T10:00:00Z"), "s1");
        cancel(&g_e, "c1", T("2026-01-16T10:00:00Z"), VG_REC_SIP, "a1");
        snprintf(key, sizeof(key), "readmission_30d|%s|2026-01", TH_KOMMUN);
        apply_idx(2);
        assert_int_equal(g_ch.ch_nalerts, 0);
        apply_idx(0);
        assert_int_equal(g_ch.ch_nalerts, 0);
        apply_idx(1);
        assert_int_equal(g_ch.ch_nalerts, 0);
        assert_int_equal(ch_delta(key, 0), 0);
        assert_int_equal(ch_delta(key, 1), 0);
        assert_int_equal(g_pt->pt_nalerts, 0);
        /* a re-send of the target after that: still nothing */
        apply(&g_e.ev[1], g_stream);
        assert_int_equal(g_ch.ch_nalerts, 0);
}

/* §5.0 "an alert's fields may change": cancelling the latest index
 * discharge re-emits the same alert id naming the earlier one. */
static void test_cancel_changes_alert_fields(void **state) {
        const vg_alert_t *a;
        char id[64];
        (void)state;
        g_stream = INT64_MIN;
        hdis(&g_e, "d0", T("2026-01-01T10:00:00Z"), "s0", VG_DISP_HOME);
        adm(&g_e, "a1", T("2026-01-03T10:00:00Z"), "s1", HI, true);
        hdis(&g_e, "d1", T("2026-01-05T10:00:00Z"), "s1", VG_DISP_HOME);
        hadm(&g_e, "a2", T("2026-01-10T10:00:00Z"), "s2");
        cancel(&g_e, "c1", T("2026-01-11T10:00:00Z"), VG_REC_DISCHARGE, "d1");
        for (int i = 0; i < 4; i++)
                apply_idx(i);
        a = ch_alert(RD, VG_STATUS_ACTIVE);
        assert_string_equal(a->al_index_stay_id, "s1");
        snprintf(id, sizeof(id), "%s", a->al_alert_id);
        apply_idx(4);
        assert_int_equal(ch_count(RD, VG_STATUS_RETRACTED), 0);
        a = ch_alert(RD, VG_STATUS_ACTIVE);
        assert_string_equal(a->al_alert_id, id);
        assert_string_equal(a->al_index_stay_id, "s0");
        assert_int_equal(a->al_index_discharged_at.v,
                         T("2026-01-01T10:00:00Z"));
        assert_int_equal(a->al_days_between.v, 9);
}

/* §5.0 cancellation of a target of any type, and the rest follows from the
 * remaining events ("another [alert] may appear"). */
static void test_cancel_any_type(void **state) {
        int64_t num, den;
        int64_t D = T("2026-01-10T10:00:00Z");
        (void)state;
        /* cancelling the SIP makes SIP_OVERDUE appear */
        hadm(&g_e, "a0", T("2026-01-05T10:00:00Z"), "s0");
        dis(&g_e, "d0", D, "s0", HI, VG_DISP_HOME, true);
        sip(&g_e, "sip1", D + H(1));
        derive(D + H(73));
        expect_nalerts(&g_dv, SO, 0);
        expect_cell3(&g_dv, "sip_within_deadline", TH_KOMMUN, "2026-01", 1, 1);
        cancel(&g_e, "c1", D + H(80), VG_REC_ADMISSION, "sip1");
        derive(D + H(80));
        expect_nalerts(&g_dv, SO, 1);
        expect_alert(&g_dv, SO, "s0");
        expect_cell3(&g_dv, "sip_within_deadline", TH_KOMMUN, "2026-01", 0, 1);

        /* cancelling a death removes its rows, and it no longer voids */
        reset();
        dis(&g_e, "d0", D, "s0", HI, VG_DISP_HOME, true);
        death(&g_e, "x1", D + H(10), VG_POD_HOME, true);
        derive(D + H(100));
        expect_nalerts(&g_dv, SO, 0);
        cell_sum_prefix(&g_dv, "death_place.", &num, &den);
        assert_true(den > 0);
        cancel(&g_e, "c1", D + H(100), VG_REC_DISCHARGE, "x1");
        derive(D + H(100));
        expect_nalerts(&g_dv, SO, 1);
        cell_sum_prefix(&g_dv, "death_place.", &num, &den);
        assert_int_equal(num, 0);
        assert_int_equal(den, 0);
        cell_sum_prefix(&g_dv, "eol_", &num, &den);
        assert_int_equal(den, 0);
        cell_sum_prefix(&g_dv, "sip_before_death", &num, &den);
        assert_int_equal(den, 0);

        /* cancelling an SSIH admission removes the enrolment */
        reset();
        adm(&g_e, "a1", D, "s1", VG_CS_SSIH, false);
        cancel(&g_e, "c1", D + H(1), VG_REC_DEATH, "a1");
        derive_now();
        cell_sum_prefix(&g_dv, "ssih_enrolment.", &num, &den);
        assert_int_equal(num, 0);
}

/* §3 a cancellation is a complete record of its topic's type but only
 * event_id, patient_id, occurred_at and cancels_event_id are used: it is
 * not itself an admission, discharge, death or SIP. Its target here never
 * arrives. */
static void test_cancel_record_is_not_an_event(void **state) {
        int64_t num, den;
        int64_t D = T("2026-01-10T10:00:00Z");
        vg_event_t *c;
        (void)state;
        /* admission-typed cancellation: no readmission, no SSIH enrolment */
        hdis(&g_e, "d0", D, "s0", VG_DISP_HOME);
        cancel(&g_e, "c1", D + DAYS(5), VG_REC_ADMISSION, "nope");
        c = cancel(&g_e, "c2", D + DAYS(6), VG_REC_ADMISSION, "nope2");
        c->ev_care_setting = VG_CS_SSIH;
        ev_set_str(&c->ev_stay_id, "s-cancel2");
        derive_now();
        expect_nalerts(&g_dv, RD, 0);
        cell_sum_prefix(&g_dv, "ssih_enrolment.", &num, &den);
        assert_int_equal(num, 0);

        /* discharge-typed cancellation (HOSPITAL, HOME, needs coordination):
         * no SIP trigger, no index discharge */
        reset();
        cancel(&g_e, "c1", D, VG_REC_DISCHARGE, "nope");
        hadm(&g_e, "a1", D + DAYS(2), "s1");
        derive(D + DAYS(40));
        expect_nalerts(&g_dv, SO, 0);
        expect_nalerts(&g_dv, RD, 0);
        cell_sum_prefix(&g_dv, "readmission_30d", &num, &den);
        assert_int_equal(den, 0);
        cell_sum_prefix(&g_dv, "sip_within_deadline", &num, &den);
        assert_int_equal(den, 0);

        /* death-typed cancellation: no death */
        reset();
        cancel(&g_e, "c1", D, VG_REC_DEATH, "nope");
        derive_now();
        cell_sum_prefix(&g_dv, "death_place.", &num, &den);
        assert_int_equal(den, 0);

        /* SIP-typed cancellation: does not satisfy a SIP trigger */
        reset();
        dis(&g_e, "d0", D, "s0", HI, VG_DISP_HOME, true);
        cancel(&g_e, "c1", D + H(1), VG_REC_SIP, "nope");
        derive(D + H(73));
        expect_nalerts(&g_dv, SO, 1);
}

/* §5.0 "Cancelling a cancellation is not supported": the second
 * cancellation does not bring the original target back (the literal
 * reading; see the report), and the result does not depend on order. */
static void test_cancel_of_cancellation(void **state) {
        vg_derived_t dv2 = {0};
        evs_t rev = {0};
        (void)state;
        hdis(&g_e, "d0", T("2026-01-10T10:00:00Z"), "s0", VG_DISP_HOME);
        hadm(&g_e, "a1", T("2026-01-15T10:00:00Z"), "s1");
        cancel(&g_e, "c1", T("2026-01-16T10:00:00Z"), VG_REC_SIP, "a1");
        cancel(&g_e, "c2", T("2026-01-17T10:00:00Z"), VG_REC_SIP, "c1");
        derive_now();
        /* reverse order gives the same */
        for (int i = g_e.n - 1; i >= 0; i--) {
                vg_event_t *ev = evs_push(&rev, g_e.ev[i].ev_type, TH_PATIENT,
                                          "tmp", 0);
                vg_record_clear(ev->ev_type, ev);
                vg_record_copy(g_e.ev[i].ev_type, ev, &g_e.ev[i]);
        }
        derive_at(&rev, evs_max_time(&rev), &dv2);
        assert_int_equal(dv2.dv_nalerts, g_dv.dv_nalerts);
        vg_derived_clear(&dv2);
        evs_free(&rev);
        expect_nalerts(&g_dv, RD, 0);
}

/* §3/§5.0 a repeated event_id of the same patient is a duplicate and has
 * no effect. */
static void test_duplicates_engine(void **state) {
        vg_event_t *other;
        (void)state;
        g_stream = INT64_MIN;
        hdis(&g_e, "d0", T("2026-01-10T10:00:00Z"), "s0", VG_DISP_HOME);
        hadm(&g_e, "a1", T("2026-01-15T10:00:00Z"), "s1");
        cancel(&g_e, "c1", T("2026-01-16T10:00:00Z"), VG_REC_SIP, "zz");
        apply_idx(0);
        apply_idx(1);
        assert_int_equal(ch_count(RD, VG_STATUS_ACTIVE), 1);
        for (int i = 0; i < 2; i++) {
                apply_idx(i); /* identical re-send */
                assert_int_equal(g_ch.ch_duplicate, 1);
                assert_int_equal(g_ch.ch_nalerts, 0);
                assert_int_equal(g_ch.ch_ndeltas, 0);
        }
        apply_idx(2);
        apply_idx(2);
        assert_int_equal(g_ch.ch_duplicate, 1);
        assert_int_equal(g_ch.ch_nalerts, 0);
        assert_int_equal(g_ch.ch_ndeltas, 0);
        /* the same event_id is a duplicate whatever else it says */
        other = hdis(&g_e, "a1", T("2026-01-15T11:00:00Z"), "s1",
                     VG_DISP_HOME);
        apply(other, g_stream);
        assert_int_equal(g_ch.ch_duplicate, 1);
        assert_int_equal(g_ch.ch_nalerts, 0);
        assert_int_equal(g_ch.ch_ndeltas, 0);
        assert_int_equal(g_pt->pt_nalerts, 1);
}

/* §5.0 a patient's death is the non-cancelled Death with the earliest
 * occurred_at (ties: smallest event_id); the others are conflicts. */
static void test_two_deaths(void **state) {
        (void)state;
        death(&g_e, "x1", T("2026-01-12T10:00:00Z"), VG_POD_HOME, true);
        death(&g_e, "x2", T("2026-01-10T10:00:00Z"), VG_POD_HOSPITAL, true);
        derive_now();
        expect_cell3(&g_dv, "death_place.HOSPITAL", TH_KOMMUN, "2026-01", 1,
                     1);
        expect_cell3(&g_dv, "death_place.HOME", TH_KOMMUN, "2026-01", 0, 1);
        assert_int_equal(g_dv.dv_conflicts, 1);

        /* tie: smallest event_id */
        reset();
        death(&g_e, "x2", T("2026-01-10T10:00:00Z"), VG_POD_HOSPITAL, true);
        death(&g_e, "x1", T("2026-01-10T10:00:00Z"), VG_POD_HOME, true);
        derive_now();
        expect_cell3(&g_dv, "death_place.HOME", TH_KOMMUN, "2026-01", 1, 1);
        expect_cell3(&g_dv, "death_place.HOSPITAL", TH_KOMMUN, "2026-01", 0,
                     1);
        assert_int_equal(g_dv.dv_conflicts, 1);

        /* cancelling the chosen one: the other counts, no conflict */
        cancel(&g_e, "c1", T("2026-01-13T10:00:00Z"), VG_REC_SIP, "x1");
        derive_now();
        expect_cell3(&g_dv, "death_place.HOSPITAL", TH_KOMMUN, "2026-01", 1,
                     1);
        expect_cell3(&g_dv, "death_place.HOME", TH_KOMMUN, "2026-01", 0, 1);
        assert_int_equal(g_dv.dv_conflicts, 0);

        /* different months and kommuns: only the chosen one's */
        reset();
        ev_kommun(death(&g_e, "x1", T("2026-02-12T10:00:00Z"), VG_POD_HOME,
                        true),
                  TH_KOMMUN2);
        death(&g_e, "x2", T("2026-01-31T10:00:00Z"), VG_POD_HOSPITAL, true);
        derive_now();
        expect_cell3(&g_dv, "death_place.HOSPITAL", TH_KOMMUN, "2026-01", 1,
                     1);
        expect_cell3(&g_dv, "death_place.HOME", TH_KOMMUN2, "2026-02", 0, 0);
        expect_cell(&g_dv, "death_place.HOME", "SE", "2026-02", 0, 0);
}

/* ------------------------------------------------------------------------
 * §5.2 SIP_OVERDUE
 * ---------------------------------------------------------------------- */

/* trigger discharge of stay s0 at D (admission at D - 5 days) */
static void sip_case(int64_t D) {
        hadm(&g_e, "a0", D - DAYS(5), "s0");
        dis(&g_e, "d0", D, "s0", HI, VG_DISP_HOME, true);
}

/* §5.2 deadline = D + 72 h; due when stream time is strictly later; own
 * fields; kommun is the discharge's; dv_next_due = deadline + 1 ms. */
static void test_sip_due_strictly_after_deadline(void **state) {
        int64_t D = T("2026-01-10T10:00:00Z"), DL = D + H(72);
        const vg_alert_t *a;
        char id[33];
        (void)state;
        hadm(&g_e, "a0", D - DAYS(5), "s0");
        ev_kommun(dis(&g_e, "d0", D, "s0", HI, VG_DISP_HOME, true),
                  TH_KOMMUN2);
        derive(D);
        expect_nalerts(&g_dv, SO, 0);
        assert_int_equal(g_dv.dv_next_due, DL + 1);
        derive(DL);
        expect_nalerts(&g_dv, SO, 0);
        expect_cell3(&g_dv, "sip_within_deadline", TH_KOMMUN2, "2026-01", 0,
                     0);
        assert_int_equal(g_dv.dv_next_due, DL + 1);
        derive(DL + 1);
        expect_nalerts(&g_dv, SO, 1);
        a = expect_alert(&g_dv, SO, "s0");
        assert_string_equal(a->al_alert_id,
                            vg_rules_alert_id(SO, TH_PATIENT, "s0", id));
        assert_int_equal(a->al_status, VG_STATUS_ACTIVE);
        assert_string_equal(a->al_patient_id, TH_PATIENT);
        assert_string_equal(a->al_stay_id, "s0");
        assert_true(a->al_discharged_at.set);
        assert_int_equal(a->al_discharged_at.v, D);
        assert_true(a->al_deadline.set);
        assert_int_equal(a->al_deadline.v, DL);
        assert_string_equal(a->al_kommun, TH_KOMMUN2);
        assert_string_equal(a->al_region, "01");
        expect_cell3(&g_dv, "sip_within_deadline", TH_KOMMUN2, "2026-01", 0,
                     1);
        expect_cell_kr(&g_dv, "sip_within_deadline", TH_KOMMUN, "2026-01", 0,
                       0);
}

/* §5.2 deadline is absolute time (72 h), not local days: across DST. */
static void test_sip_deadline_absolute_across_dst(void **state) {
        int64_t D = T("2026-03-27T12:00:00Z");
        (void)state;
        sip_case(D);
        derive(T("2026-03-30T11:59:59.999Z"));
        expect_nalerts(&g_dv, SO, 0);
        derive(T("2026-03-30T12:00:00Z"));
        expect_nalerts(&g_dv, SO, 0);
        assert_int_equal(g_dv.dv_next_due, T("2026-03-30T12:00:00.001Z"));
        derive(T("2026-03-30T12:00:00.001Z"));
        assert_int_equal(expect_alert(&g_dv, SO, "s0")->al_deadline.v,
                         T("2026-03-30T12:00:00Z"));

        reset();
        D = T("2026-10-23T12:00:00Z");
        sip_case(D);
        derive(T("2026-10-26T12:00:00Z"));
        expect_nalerts(&g_dv, SO, 0);
        derive(T("2026-10-26T12:00:00.001Z"));
        assert_int_equal(expect_alert(&g_dv, SO, "s0")->al_deadline.v,
                         T("2026-10-26T12:00:00Z"));
}

/* §5.2 closed interval [admission, deadline]: a SIP exactly at the deadline
 * satisfies; 1 ms later does not. */
static void test_sip_at_deadline_satisfies(void **state) {
        int64_t D = T("2026-01-10T10:00:00Z"), DL = D + H(72);
        (void)state;
        sip_case(D);
        sip(&g_e, "sip1", DL);
        derive(DL + H(1));
        expect_nalerts(&g_dv, SO, 0);
        expect_cell3(&g_dv, "sip_within_deadline", TH_KOMMUN, "2026-01", 1, 1);

        reset();
        sip_case(D);
        sip(&g_e, "sip1", DL + 1);
        derive_now(); /* the SIP itself moves stream time past the deadline */
        expect_nalerts(&g_dv, SO, 1);
        expect_cell3(&g_dv, "sip_within_deadline", TH_KOMMUN, "2026-01", 0, 1);
}

/* §5.2 the window starts at the stay's admission time: at it satisfies,
 * 1 ms before does not (even though it is after another stay's
 * admission). */
static void test_sip_window_starts_at_admission(void **state) {
        int64_t D = T("2026-01-10T10:00:00Z"), A = D - DAYS(5);
        (void)state;
        sip_case(D);
        sip(&g_e, "sip1", A);
        derive(D + H(73));
        expect_nalerts(&g_dv, SO, 0);
        expect_cell3(&g_dv, "sip_within_deadline", TH_KOMMUN, "2026-01", 1, 1);

        reset();
        hadm(&g_e, "a9", A - DAYS(10), "s9"); /* an older, other stay */
        sip_case(D);
        sip(&g_e, "sip1", A - 1);
        derive(D + H(73));
        expect_nalerts(&g_dv, SO, 1);
        expect_cell3(&g_dv, "sip_within_deadline", TH_KOMMUN, "2026-01", 0, 1);
}

/* §5.2 without an admission the window starts at D - 720 hours. */
static void test_sip_window_without_admission(void **state) {
        int64_t D = T("2026-01-10T10:00:00Z");
        (void)state;
        dis(&g_e, "d0", D, "s0", HI, VG_DISP_HOME, true);
        sip(&g_e, "sip1", D - H(720));
        derive(D + H(73));
        expect_nalerts(&g_dv, SO, 0);
        expect_cell3(&g_dv, "sip_within_deadline", TH_KOMMUN, "2026-01", 1, 1);

        reset();
        dis(&g_e, "d0", D, "s0", HI, VG_DISP_HOME, true);
        sip(&g_e, "sip1", D - H(720) - 1);
        derive(D + H(73));
        expect_nalerts(&g_dv, SO, 1);
        expect_cell3(&g_dv, "sip_within_deadline", TH_KOMMUN, "2026-01", 0, 1);

        /* an admission of ANOTHER stay does not count as this stay's */
        reset();
        hadm(&g_e, "a9", D - DAYS(2), "s9");
        dis(&g_e, "d0", D, "s0", HI, VG_DISP_HOME, true);
        sip(&g_e, "sip1", D - DAYS(10));
        derive(D + H(73));
        expect_nalerts(&g_dv, SO, 0);
}

/* §5.2 void (never due, not counted, even if satisfied) when the death is
 * strictly before the deadline; a death at the deadline does not void. */
static void test_sip_void_by_death(void **state) {
        int64_t D = T("2026-01-10T10:00:00Z"), DL = D + H(72);
        (void)state;
        sip_case(D);
        death(&g_e, "x1", DL - 1, VG_POD_HOSPITAL, true);
        derive(DL + H(1));
        expect_nalerts(&g_dv, SO, 0);
        expect_cell3(&g_dv, "sip_within_deadline", TH_KOMMUN, "2026-01", 0, 0);

        /* void even if satisfied */
        sip(&g_e, "sip1", D + H(1));
        derive(DL + H(1));
        expect_nalerts(&g_dv, SO, 0);
        expect_cell3(&g_dv, "sip_within_deadline", TH_KOMMUN, "2026-01", 0, 0);

        /* death exactly at the deadline: not void */
        reset();
        sip_case(D);
        death(&g_e, "x1", DL, VG_POD_HOSPITAL, true);
        derive(DL + 1);
        expect_nalerts(&g_dv, SO, 1);
        expect_cell3(&g_dv, "sip_within_deadline", TH_KOMMUN, "2026-01", 0, 1);
        sip(&g_e, "sip1", D + H(1));
        derive(DL + 1);
        expect_nalerts(&g_dv, SO, 0);
        expect_cell3(&g_dv, "sip_within_deadline", TH_KOMMUN, "2026-01", 1, 1);

        /* the chosen (earliest) death decides; cancelling it un-voids */
        reset();
        sip_case(D);
        death(&g_e, "x1", DL + H(1), VG_POD_HOSPITAL, true);
        death(&g_e, "x2", DL - H(1), VG_POD_HOSPITAL, true);
        derive(DL + H(2));
        expect_nalerts(&g_dv, SO, 0);
        cancel(&g_e, "c1", DL + H(2), VG_REC_SIP, "x2");
        derive(DL + H(2));
        expect_nalerts(&g_dv, SO, 1);
        expect_cell3(&g_dv, "sip_within_deadline", TH_KOMMUN, "2026-01", 0, 1);

        /* a void trigger has no timer */
        reset();
        sip_case(D);
        death(&g_e, "x1", D + H(1), VG_POD_HOSPITAL, true);
        derive(D + H(1));
        assert_true(g_dv.dv_next_due != DL + 1);
        /* (the index discharge's readmission window is still pending) */
        assert_int_equal(g_dv.dv_next_due, T("2026-02-09T23:00:00Z"));
}

/* §5.2 trigger dispositions: not DIED or TRANSFER_ACUTE; AGAINST_ADVICE
 * is a trigger. */
static void test_sip_dispositions(void **state) {
        int64_t D = T("2026-01-10T10:00:00Z");
        (void)state;
        for (int d = VG_DISP_HOME; d <= VG_DISP_OTHER; d++) {
                int trig = d != VG_DISP_DIED && d != VG_DISP_TRANSFER_ACUTE;
                reset();
                dis(&g_e, "d0", D, "s0", HI, d, true);
                derive(D + H(73));
                if (count_alerts(&g_dv, SO) != trig)
                        fail_msg("disposition %s: %d SIP alerts",
                                 vg_enum_str(&vg_enum_disposition, d),
                                 count_alerts(&g_dv, SO));
                expect_cell3(&g_dv, "sip_within_deadline", TH_KOMMUN,
                             "2026-01", 0, trig);
        }
}

/* §5.2 needs_coordination = false and non-hospital settings are no
 * triggers. */
static void test_sip_not_triggers(void **state) {
        int64_t D = T("2026-01-10T10:00:00Z");
        (void)state;
        dis(&g_e, "d0", D, "s0", HI, VG_DISP_HOME, false);
        derive(D + H(73));
        expect_nalerts(&g_dv, SO, 0);
        expect_cell3(&g_dv, "sip_within_deadline", TH_KOMMUN, "2026-01", 0, 0);
        for (int cs = VG_CS_PALLIATIVE_UNIT; cs <= VG_CS_NURSING_HOME; cs++) {
                reset();
                dis(&g_e, "d0", D, "s0", cs, VG_DISP_HOME, true);
                derive(D + H(73));
                expect_nalerts(&g_dv, SO, 0);
                expect_cell3(&g_dv, "sip_within_deadline", TH_KOMMUN,
                             "2026-01", 0, 0);
        }
}

/* §5.2 an alert fired too early (a late SIP arrives later) is RETRACTED. */
static void test_sip_late_sip_retracts_engine(void **state) {
        int64_t D = T("2026-01-10T10:00:00Z"), DL = D + H(72);
        char key[64], id[33];
        (void)state;
        sip_case(D);
        sip(&g_e, "sip1", D + H(2));
        snprintf(key, sizeof(key), "sip_within_deadline|%s|2026-01",
                 TH_KOMMUN);
        apply(&g_e.ev[0], g_e.ev[0].ev_occurred_at);
        apply(&g_e.ev[1], D);
        assert_int_equal(g_ch.ch_nalerts, 0);
        apply(NULL, DL); /* timer too early: nothing */
        assert_int_equal(g_ch.ch_nalerts, 0);
        apply(NULL, DL + 1);
        assert_int_equal(ch_count(SO, VG_STATUS_ACTIVE), 1);
        assert_string_equal(ch_alert(SO, VG_STATUS_ACTIVE)->al_alert_id,
                            vg_rules_alert_id(SO, TH_PATIENT, "s0", id));
        assert_int_equal(ch_delta(key, 1), 1);
        apply(&g_e.ev[2], DL + 1); /* the late SIP */
        assert_int_equal(ch_count(SO, VG_STATUS_RETRACTED), 1);
        assert_string_equal(ch_alert(SO, VG_STATUS_RETRACTED)->al_alert_id,
                            id);
        assert_int_equal(ch_delta(key, 0), 1);
        assert_int_equal(ch_delta(key, 1), 0);
        assert_int_equal(g_pt->pt_nalerts, 0);
}

/* §5.2 one SIP may satisfy several discharges. */
static void test_sip_one_sip_several_discharges(void **state) {
        (void)state;
        hadm(&g_e, "a0", T("2026-01-05T10:00:00Z"), "s0");
        dis(&g_e, "d0", T("2026-01-10T10:00:00Z"), "s0", HI, VG_DISP_HOME,
            true);
        hadm(&g_e, "a1", T("2026-01-11T10:00:00Z"), "s1");
        dis(&g_e, "d1", T("2026-01-12T10:00:00Z"), "s1", HI,
            VG_DISP_AGAINST_ADVICE, true);
        sip(&g_e, "sip1", T("2026-01-12T12:00:00Z"));
        derive(T("2026-02-01T00:00:00Z"));
        expect_nalerts(&g_dv, SO, 0);
        expect_cell3(&g_dv, "sip_within_deadline", TH_KOMMUN, "2026-01", 2, 2);
}

/* §6 sip_within_deadline: triggers not void that are due or satisfied;
 * period and kommun of the discharge. */
static void test_sip_within_deadline_counting(void **state) {
        int64_t D = T("2026-01-31T23:30:00Z"); /* Feb 1 00:30 local */
        (void)state;
        ev_kommun(dis(&g_e, "d0", D, "s0", HI, VG_DISP_HOME, true),
                  TH_KOMMUN2);
        derive(D + H(1)); /* neither due nor satisfied */
        expect_cell3(&g_dv, "sip_within_deadline", TH_KOMMUN2, "2026-02", 0,
                     0);
        derive(D + H(72) + 1); /* due */
        expect_cell3(&g_dv, "sip_within_deadline", TH_KOMMUN2, "2026-02", 0,
                     1);
        expect_cell3(&g_dv, "sip_within_deadline", TH_KOMMUN2, "2026-01", 0,
                     0);
        sip(&g_e, "sip1", D + H(2));
        /* satisfied before due: counted only when due (SPEC v2 §6: the
         * denominator holds due triggers) */
        derive(D + H(2));
        expect_cell3(&g_dv, "sip_within_deadline", TH_KOMMUN2, "2026-02", 0,
                     0);
        derive(D + H(72));
        expect_cell3(&g_dv, "sip_within_deadline", TH_KOMMUN2, "2026-02", 0,
                     0);
        derive(D + H(72) + 1);
        expect_cell3(&g_dv, "sip_within_deadline", TH_KOMMUN2, "2026-02", 1,
                     1);
        expect_nalerts(&g_dv, SO, 0);
}

/* ------------------------------------------------------------------------
 * §6 indicators
 * ---------------------------------------------------------------------- */

/* §6 all eight death_place.* rows exist wherever there is a death, for the
 * kommun, its region and SE; the death's kommun. */
static void test_death_place_rows(void **state) {
        (void)state;
        for (int p = 0; p < VG_POD__CNT; p++) {
                reset();
                ev_kommun(death(&g_e, "x1", T("2026-01-15T10:00:00Z"), p,
                                false),
                          TH_KOMMUN2);
                hadm(&g_e, "a1", T("2026-01-10T10:00:00Z"), "s1"); /* 0484 */
                derive_now();
                for (int q = 0; q < VG_POD__CNT; q++) {
                        char ind[64];
                        const vg_cell_t *c;
                        snprintf(ind, sizeof(ind), "death_place.%s",
                                 vg_enum_str(&vg_enum_place, q));
                        expect_cell3(&g_dv, ind, TH_KOMMUN2, "2026-01",
                                     p == q, 1);
                        expect_cell_kr(&g_dv, ind, TH_KOMMUN, "2026-01", 0, 0);
                        snprintf(ind, sizeof(ind), "death_place.%s|SE|2026-01",
                                 vg_enum_str(&vg_enum_place, q));
                        c = cell_find(&g_dv, ind);
                        assert_non_null(c);
                        assert_false(c->ce_count);
                }
        }
}

/* §4/§6 the period is the local month of the anchor. */
static void test_period_local_month(void **state) {
        (void)state;
        death(&g_e, "x1", T("2026-03-31T22:30:00Z"), VG_POD_HOME, true);
        derive_now(); /* Apr 1 00:30 CEST */
        expect_cell3(&g_dv, "death_place.HOME", TH_KOMMUN, "2026-04", 1, 1);
        expect_cell3(&g_dv, "death_place.HOME", TH_KOMMUN, "2026-03", 0, 0);

        reset();
        death(&g_e, "x1", T("2026-01-31T22:30:00Z"), VG_POD_HOME, true);
        derive_now(); /* Jan 31 23:30 CET */
        expect_cell3(&g_dv, "death_place.HOME", TH_KOMMUN, "2026-01", 1, 1);

        reset();
        death(&g_e, "x1", T("2026-01-31T23:00:00Z"), VG_POD_HOME, true);
        derive_now(); /* Feb 1 00:00 CET */
        expect_cell3(&g_dv, "death_place.HOME", TH_KOMMUN, "2026-02", 1, 1);

        reset();
        death(&g_e, "x1", T("2026-10-31T22:30:00Z"), VG_POD_HOME, true);
        derive_now(); /* Oct 31 23:30 CET */
        expect_cell3(&g_dv, "death_place.HOME", TH_KOMMUN, "2026-10", 1, 1);

        reset();
        death(&g_e, "x1", T("2026-12-31T23:00:00Z"), VG_POD_HOME, true);
        derive_now(); /* Jan 1 2027 */
        expect_cell3(&g_dv, "death_place.HOME", TH_KOMMUN, "2027-01", 1, 1);
}

/* §6 eol_admission_30d / eol_readmission_30d. Death Mar 15 10:00Z; local
 * day 30 before it starts Feb 13 00:00 CET = Feb 12 23:00Z. */
static void test_eol_admissions(void **state) {
        int64_t X = T("2026-03-15T10:00:00Z");
        (void)state;
        /* day 30: counts */
        ev_kommun(death(&g_e, "x1", X, VG_POD_HOSPITAL, false), TH_KOMMUN2);
        hadm(&g_e, "a1", T("2026-02-12T23:00:00Z"), "s1");
        derive_now();
        expect_cell3(&g_dv, "eol_admission_30d", TH_KOMMUN2, "2026-03", 1, 1);
        expect_cell3(&g_dv, "eol_readmission_30d", TH_KOMMUN2, "2026-03", 0,
                     1);
        expect_cell_kr(&g_dv, "eol_admission_30d", TH_KOMMUN, "2026-03", 0, 0);
        expect_cell3(&g_dv, "eol_admission_30d", TH_KOMMUN, "2026-02", 0, 0);

        /* day 31: does not */
        reset();
        death(&g_e, "x1", X, VG_POD_HOSPITAL, false);
        hadm(&g_e, "a1", T("2026-02-12T22:59:59.999Z"), "s1");
        derive_now();
        expect_cell3(&g_dv, "eol_admission_30d", TH_KOMMUN, "2026-03", 0, 1);

        /* two: readmission too */
        reset();
        death(&g_e, "x1", X, VG_POD_HOSPITAL, false);
        hadm(&g_e, "a1", T("2026-02-20T10:00:00Z"), "s1");
        hadm(&g_e, "a2", T("2026-03-01T10:00:00Z"), "s2");
        derive_now();
        expect_cell3(&g_dv, "eol_admission_30d", TH_KOMMUN, "2026-03", 1, 1);
        expect_cell3(&g_dv, "eol_readmission_30d", TH_KOMMUN, "2026-03", 1,
                     1);

        /* at the death instant counts; 1 ms after does not */
        reset();
        death(&g_e, "x1", X, VG_POD_HOSPITAL, false);
        hadm(&g_e, "a1", T("2026-03-01T10:00:00Z"), "s1");
        hadm(&g_e, "a2", X, "s2");
        derive_now();
        expect_cell3(&g_dv, "eol_readmission_30d", TH_KOMMUN, "2026-03", 1,
                     1);
        reset();
        death(&g_e, "x1", X, VG_POD_HOSPITAL, false);
        hadm(&g_e, "a1", T("2026-03-01T10:00:00Z"), "s1");
        hadm(&g_e, "a2", X + 1, "s2");
        derive_now();
        expect_cell3(&g_dv, "eol_admission_30d", TH_KOMMUN, "2026-03", 1, 1);
        expect_cell3(&g_dv, "eol_readmission_30d", TH_KOMMUN, "2026-03", 0,
                     1);

        /* planned, other settings, transfer continuation and a stay's
         * extra (conflicting) admission do not count */
        reset();
        death(&g_e, "x1", X, VG_POD_HOSPITAL, false);
        adm(&g_e, "a1", T("2026-03-01T10:00:00Z"), "s1", HI, true);
        hdis(&g_e, "d1", T("2026-03-03T10:00:00Z"), "s1",
             VG_DISP_TRANSFER_ACUTE);
        hadm(&g_e, "a2", T("2026-03-03T12:00:00Z"), "s2"); /* continuation */
        adm(&g_e, "a3", T("2026-03-05T10:00:00Z"), "s3", VG_CS_SSIH, false);
        adm(&g_e, "a4", T("2026-03-06T10:00:00Z"), "s4",
            VG_CS_PALLIATIVE_UNIT, false);
        derive_now();
        expect_cell3(&g_dv, "eol_admission_30d", TH_KOMMUN, "2026-03", 0, 1);
        hadm(&g_e, "a5", T("2026-03-10T10:00:00Z"), "s5");
        hadm(&g_e, "a6", T("2026-03-11T10:00:00Z"), "s5"); /* conflict */
        derive_now();
        expect_cell3(&g_dv, "eol_admission_30d", TH_KOMMUN, "2026-03", 1, 1);
        expect_cell3(&g_dv, "eol_readmission_30d", TH_KOMMUN, "2026-03", 0,
                     1);
}

/* §6 sip_before_death: expected deaths; SIP at or before the death with
 * days(sip, death) <= 365. Death 2026-06-15 (CEST); local day 365 before
 * is 2025-06-15, starting 2025-06-14T22:00Z. */
static void test_sip_before_death(void **state) {
        int64_t X = T("2026-06-15T10:00:00Z");
        (void)state;
        death(&g_e, "x1", X, VG_POD_HOME, true);
        sip(&g_e, "sip1", T("2025-06-14T22:00:00Z"));
        derive_now();
        expect_cell3(&g_dv, "sip_before_death", TH_KOMMUN, "2026-06", 1, 1);

        reset();
        death(&g_e, "x1", X, VG_POD_HOME, true);
        sip(&g_e, "sip1", T("2025-06-14T21:59:59.999Z"));
        derive_now();
        expect_cell3(&g_dv, "sip_before_death", TH_KOMMUN, "2026-06", 0, 1);

        reset();
        death(&g_e, "x1", X, VG_POD_HOME, true);
        sip(&g_e, "sip1", X);
        derive_now();
        expect_cell3(&g_dv, "sip_before_death", TH_KOMMUN, "2026-06", 1, 1);

        reset();
        death(&g_e, "x1", X, VG_POD_HOME, true);
        sip(&g_e, "sip1", X + 1);
        derive_now();
        expect_cell3(&g_dv, "sip_before_death", TH_KOMMUN, "2026-06", 0, 1);

        /* unexpected death: not in the denominator (but is a death) */
        reset();
        death(&g_e, "x1", X, VG_POD_HOME, false);
        sip(&g_e, "sip1", X - DAYS(3));
        derive_now();
        expect_cell3(&g_dv, "sip_before_death", TH_KOMMUN, "2026-06", 0, 0);
        expect_cell3(&g_dv, "death_place.HOME", TH_KOMMUN, "2026-06", 1, 1);
        expect_cell3(&g_dv, "eol_admission_30d", TH_KOMMUN, "2026-06", 0, 1);
}

/* §6 ssih_enrolment.<AGE>.<DIAG>: a count of SSIH stays by their
 * admission; age bands 0-64|65-74|75-84|85+. */
static void test_ssih_enrolment_age_bands(void **state) {
        static const struct {
                int         age;
                const char *band;
        } c[] = {{0, "0-64"},    {64, "0-64"},   {65, "65-74"}, {74, "65-74"},
                 {75, "75-84"},  {84, "75-84"},  {85, "85+"},   {104, "85+"}};
        char key[128];
        (void)state;
        for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
                char id[16], stay[16];
                vg_event_t *ev;
                assert_string_equal(vg_rules_age_band(c[i].age), c[i].band);
                snprintf(id, sizeof(id), "a%zu", i);
                snprintf(stay, sizeof(stay), "s%zu", i);
                ev = adm(&g_e, id, T("2026-01-10T10:00:00Z") + H(i), stay,
                         VG_CS_SSIH, i % 2 == 0);
                ev->ev_age_years = c[i].age;
                ev->ev_diagnosis_group = VG_DG_COPD;
        }
        derive_now();
        static const char *bands[] = {"0-64", "65-74", "75-84", "85+"};
        for (int b = 0; b < 4; b++) {
                const vg_cell_t *cell;
                char ind[64];
                snprintf(ind, sizeof(ind), "ssih_enrolment.%s.COPD", bands[b]);
                expect_cell3(&g_dv, ind, TH_KOMMUN, "2026-01", 2, 0);
                snprintf(key, sizeof(key), "%s|%s|2026-01", ind, TH_KOMMUN);
                cell = cell_find(&g_dv, key);
                assert_non_null(cell);
                assert_true(cell->ce_count);
        }
        snprintf(key, sizeof(key), "ssih_enrolment.0-64.CANCER|%s|2026-01",
                 TH_KOMMUN);
        assert_null(cell_find(&g_dv, key));
}

/* §6 ssih_enrolment: by the stay's admission (one per stay, its period and
 * kommun); other settings do not count; events after a death are not
 * filtered out. */
static void test_ssih_enrolment_stays(void **state) {
        vg_event_t *ev;
        int64_t num, den;
        (void)state;
        ev = adm(&g_e, "a1", T("2026-03-31T22:30:00Z"), "s1", VG_CS_SSIH,
                 false); /* Apr 1 local */
        ev->ev_age_years = 64;
        ev_kommun(ev, TH_KOMMUN2);
        ev = adm(&g_e, "a2", T("2026-04-05T10:00:00Z"), "s1", VG_CS_SSIH,
                 false); /* conflict */
        ev->ev_age_years = 65;
        dis(&g_e, "d1", T("2026-04-20T10:00:00Z"), "s1", VG_CS_SSIH,
            VG_DISP_DIED, false);
        dis(&g_e, "d2", T("2026-04-20T10:00:00Z"), "s2", VG_CS_SSIH,
            VG_DISP_HOME, false); /* no admission: no enrolment */
        adm(&g_e, "a3", T("2026-04-21T10:00:00Z"), "s3",
            VG_CS_PALLIATIVE_UNIT, false);
        derive_now();
        expect_cell3(&g_dv, "ssih_enrolment.0-64.CANCER", TH_KOMMUN2,
                     "2026-04", 1, 0);
        cell_sum_prefix(&g_dv, "ssih_enrolment.", &num, &den);
        /* kommun + region + SE of one stay, each breakdown all, sex and
         * residence (age and diagnosis are in the name, SPEC §6.2) */
        assert_int_equal(num, 9);
        assert_int_equal(g_dv.dv_conflicts, 1);

        /* after the death: still counted */
        reset();
        death(&g_e, "x1", T("2026-01-05T10:00:00Z"), VG_POD_HOME, true);
        adm(&g_e, "a1", T("2026-01-10T10:00:00Z"), "s1", VG_CS_SSIH, true);
        derive_now();
        expect_cell3(&g_dv, "ssih_enrolment.75-84.CANCER", TH_KOMMUN,
                     "2026-01", 1, 0);
}

/* §5 alerts are sorted by alert_id and their ids and contents do not
 * depend on the order the events are given in. */
static void test_derive_order_independent(void **state) {
        vg_derived_t dv2 = {0};
        evs_t rev = {0};
        (void)state;
        hdis(&g_e, "d0", T("2026-01-10T10:00:00Z"), "s0", VG_DISP_HOME);
        hadm(&g_e, "a1", T("2026-01-12T10:00:00Z"), "s1");
        dis(&g_e, "d1", T("2026-01-14T10:00:00Z"), "s1", HI, VG_DISP_HOME,
            true);
        hadm(&g_e, "a2", T("2026-01-20T10:00:00Z"), "s2");
        dis(&g_e, "d2", T("2026-01-22T10:00:00Z"), "s2", HI, VG_DISP_OTHER,
            true);
        death(&g_e, "x1", T("2026-02-10T10:00:00Z"), VG_POD_HOME, true);
        for (int i = g_e.n - 1; i >= 0; i--) {
                vg_event_t *ev = evs_push(&rev, g_e.ev[i].ev_type, TH_PATIENT,
                                          "tmp", 0);
                vg_record_clear(ev->ev_type, ev);
                vg_record_copy(g_e.ev[i].ev_type, ev, &g_e.ev[i]);
        }
        derive_now();
        derive_at(&rev, evs_max_time(&rev), &dv2);
        assert_int_equal(count_alerts(&g_dv, RD), 2);
        assert_int_equal(count_alerts(&g_dv, SO), 2);
        assert_int_equal(g_dv.dv_nalerts, dv2.dv_nalerts);
        for (int i = 0; i < g_dv.dv_nalerts; i++) {
                const vg_alert_t *a = &g_dv.dv_alerts[i];
                const vg_alert_t *b = &dv2.dv_alerts[i];
                if (i)
                        assert_true(strcmp(g_dv.dv_alerts[i - 1].al_alert_id,
                                           a->al_alert_id) < 0);
                assert_string_equal(a->al_alert_id, b->al_alert_id);
                assert_string_equal(a->al_anchor, b->al_anchor);
                assert_string_equal(a->al_kommun, b->al_kommun);
                assert_int_equal(a->al_days_between.v, b->al_days_between.v);
                assert_int_equal(a->al_deadline.v, b->al_deadline.v);
        }
        assert_int_equal(g_dv.dv_ncells, dv2.dv_ncells);
        for (int i = 0; i < g_dv.dv_ncells; i++) {
                assert_string_equal(g_dv.dv_cells[i].ce_key,
                                    dv2.dv_cells[i].ce_key);
                assert_int_equal(g_dv.dv_cells[i].ce_num,
                                 dv2.dv_cells[i].ce_num);
                assert_int_equal(g_dv.dv_cells[i].ce_den,
                                 dv2.dv_cells[i].ce_den);
                if (i)
                        assert_true(strcmp(g_dv.dv_cells[i - 1].ce_key,
                                           g_dv.dv_cells[i].ce_key) < 0);
        }
        vg_derived_clear(&dv2);
        evs_free(&rev);
}

/* ------------------------------------------------------------------------
 * Partition timers (§5.2 stream time is per partition, all patients) and
 * file mode end to end.
 * ---------------------------------------------------------------------- */

typedef struct outcol_s {
        vg_codec_t *codec;
        int         active[4];
        int         retracted[4];
} outcol_t;

static void outcol_cb(const vg_outrec_t *r, void *opaque) {
        outcol_t *o = opaque;
        vg_anyrec_t rec;
        vg_rectype_t t;
        char errstr[256];
        if (vg_codec_decode(o->codec, r->or_value, r->or_value_len,
                            VG_REC_ALERT, &t, &rec, NULL, errstr,
                            sizeof(errstr)))
                return;
        if (rec.al.al_status == VG_STATUS_ACTIVE)
                o->active[rec.al.al_rule]++;
        else
                o->retracted[rec.al.al_rule]++;
        vg_record_clear(t, &rec);
}

typedef struct cellq_s {
        const char *key;
        int64_t     num, den;
} cellq_t;

static void cellq_cb(const char *key, int64_t num, int64_t den, bool count,
                     void *opaque) {
        cellq_t *q = opaque;
        (void)count;
        if (!strcmp(key, q->key)) {
                q->num = num;
                q->den = den;
        }
}

/* §5.2 stream time = largest occurred_at of any record in the partition:
 * another patient's event makes p1's SIP due (strictly after the deadline)
 * and closes p1's readmission window; commit fires the timers. */
static void test_partition_timers(void **state) {
        vg_rules_conf_t rc;
        vg_part_topics_t topics = {"care.alerts.v1", "care.indicator-parts.v1",
                                   "care.dlq.v1"};
        char errstr[256];
        vg_codec_t *codec;
        vg_part_t *part;
        outcol_t o = {0};
        cellq_t q = {"readmission_30d|SE|2026-01", -1, -1};
        int64_t D = T("2026-01-10T10:00:00Z");
        vg_event_t *other;
        (void)state;

        th_conf(&rc);
        codec = vg_codec_new(errstr, sizeof(errstr));
        assert_non_null(codec);
        part = vg_part_open(":memory:", 0, &rc, codec, &topics, errstr,
                            sizeof(errstr));
        assert_non_null(part);
        o.codec = codec;

        dis(&g_e, "d0", D, "s0", HI, VG_DISP_HOME, true);
        assert_int_equal(vg_part_begin(part, 1, errstr, sizeof(errstr)), 0);
        assert_int_equal(vg_part_event(part, &g_e.ev[0], errstr,
                                       sizeof(errstr)), 0);
        assert_int_equal(th_commit(part, errstr, sizeof(errstr)), 0);

        /* another patient at exactly the deadline: not yet due */
        other = evs_push(&g_e, VG_REC_SIP, "p2", "o1", D + H(72));
        assert_int_equal(vg_part_begin(part, 2, errstr, sizeof(errstr)), 0);
        assert_int_equal(vg_part_event(part, other, errstr, sizeof(errstr)),
                         0);
        assert_int_equal(th_commit(part, errstr, sizeof(errstr)), 0);
        vg_part_outbox_scan(part, 0, INT32_MAX, outcol_cb, &o);
        assert_int_equal(o.active[SO], 0);

        /* 1 ms later: due */
        other = evs_push(&g_e, VG_REC_SIP, "p2", "o2", D + H(72) + 1);
        assert_int_equal(vg_part_begin(part, 3, errstr, sizeof(errstr)), 0);
        assert_int_equal(vg_part_event(part, other, errstr, sizeof(errstr)),
                         0);
        assert_int_equal(th_commit(part, errstr, sizeof(errstr)), 0);
        memset(o.active, 0, sizeof(o.active));
        vg_part_outbox_scan(part, 0, INT32_MAX, outcol_cb, &o);
        assert_int_equal(o.active[SO], 1);

        /* readmission window: Jan 10 -> closes Feb 10 00:00 CET */
        vg_part_cells(part, cellq_cb, &q);
        assert_true(q.den <= 0);
        other = evs_push(&g_e, VG_REC_SIP, "p2", "o3",
                         T("2026-02-09T23:00:00Z"));
        assert_int_equal(vg_part_begin(part, 4, errstr, sizeof(errstr)), 0);
        assert_int_equal(vg_part_event(part, other, errstr, sizeof(errstr)),
                         0);
        assert_int_equal(th_commit(part, errstr, sizeof(errstr)), 0);
        vg_part_cells(part, cellq_cb, &q);
        assert_int_equal(q.num, 0);
        assert_int_equal(q.den, 1);

        /* stream time counts cancellations (even of unknown targets) and
         * duplicates too: a second trigger for p1 (deadline Feb 13 10:00Z)
         * becomes due through another patient's cancellation record */
        dis(&g_e, "d1", T("2026-02-10T10:00:00Z"), "s1", HI, VG_DISP_HOME,
            true);
        assert_int_equal(vg_part_begin(part, 5, errstr, sizeof(errstr)), 0);
        assert_int_equal(vg_part_event(part, &g_e.ev[g_e.n - 1], errstr,
                                       sizeof(errstr)), 0);
        assert_int_equal(th_commit(part, errstr, sizeof(errstr)), 0);
        other = evs_push(&g_e, VG_REC_DEATH, "p2", "o4",
                         T("2026-02-13T10:00:00.001Z"));
        ev_set_str(&other->ev_cancels_event_id, "no-such-event");
        assert_int_equal(vg_part_begin(part, 6, errstr, sizeof(errstr)), 0);
        assert_int_equal(vg_part_event(part, other, errstr, sizeof(errstr)),
                         0);
        /* and a duplicate of it in the same batch: no harm */
        assert_int_equal(vg_part_event(part, other, errstr, sizeof(errstr)),
                         0);
        assert_int_equal(th_commit(part, errstr, sizeof(errstr)), 0);
        assert_int_equal(vg_part_watermark(part),
                         T("2026-02-13T10:00:00.001Z"));
        memset(o.active, 0, sizeof(o.active));
        vg_part_outbox_scan(part, 0, INT32_MAX, outcol_cb, &o);
        assert_int_equal(o.active[SO], 2);
        assert_int_equal(vg_part_stats(part)->ps_duplicates, 1);

        vg_part_close(part);
        vg_codec_destroy(codec);
}

/*
 * BUG (found by test_engine_property; fixed in df0e5c9 "fire timers after
 * writing the batch's patients" - kept as a regression test; it fails on
 * 2df5cc9): consumers/engine/vg_partition.c, vg_part_commit() / fire_timers(): timers
 * were read only from the `timers` table, but the timers of the patients
 * touched in the current batch were written there (patient_put) only AFTER
 * fire_timers() had run. So when, within ONE batch, patient p1's trigger
 * discharge arrives and then another patient's event moves the partition's
 * stream time past p1's deadline, the commit does not re-derive p1: no
 * SIP_OVERDUE alert, and the readmission_30d denominator is not settled,
 * until some later commit happens to fire it (in file mode, never: the
 * final commit is the last). The same events in two batches do raise it.
 * SPEC §5: "The final set of ACTIVE alerts after all events are processed
 * depends only on the set of events, never on their arrival order,
 * batching, ..."; §5.2 "Due when stream time is strictly later than the
 * deadline. Stream time of a partition = the largest occurred_at of any
 * valid record seen in that partition (all input topics ...)".
 */
static void run_batches(const evs_t *e, int split, outcol_t *o, cellq_t *q) {
        vg_rules_conf_t rc;
        vg_part_topics_t topics = {"care.alerts.v1", "care.indicator-parts.v1",
                                   "care.dlq.v1"};
        char errstr[256];
        vg_part_t *part;

        th_conf(&rc);
        part = vg_part_open(":memory:", 0, &rc, o->codec, &topics, errstr,
                            sizeof(errstr));
        assert_non_null(part);
        for (int i = 0; i < e->n; i++) {
                if (!vg_part_in_batch(part))
                        assert_int_equal(vg_part_begin(part, 1, errstr,
                                                       sizeof(errstr)), 0);
                assert_int_equal(vg_part_event(part, &e->ev[i], errstr,
                                               sizeof(errstr)), 0);
                if (i + 1 == split)
                        assert_int_equal(th_commit(part, errstr,
                                                        sizeof(errstr)), 0);
        }
        assert_int_equal(th_commit(part, errstr, sizeof(errstr)), 0);
        vg_part_outbox_scan(part, 0, INT32_MAX, outcol_cb, o);
        vg_part_cells(part, cellq_cb, q);
        vg_part_close(part);
}

static void test_partition_timer_due_within_batch(void **state) {
        char errstr[256];
        outcol_t two = {0}, one = {0};
        cellq_t q2 = {"readmission_30d|SE|2026-01", 0, 0};
        cellq_t q1 = {"readmission_30d|SE|2026-01", 0, 0};
        int64_t D = T("2026-01-10T10:00:00Z");
        (void)state;
        two.codec = one.codec = vg_codec_new(errstr, sizeof(errstr));
        assert_non_null(one.codec);
        /* p1: index discharge needing coordination; p2: a SIP 40 days later
         * (past p1's SIP deadline and p1's readmission window) */
        dis(&g_e, "d0", D, "s0", HI, VG_DISP_HOME, true);
        evs_push(&g_e, VG_REC_SIP, "p2", "o1", D + DAYS(40));

        run_batches(&g_e, 1, &two, &q2); /* two batches: correct */
        assert_int_equal(two.active[SO], 1);
        assert_int_equal(q2.num, 0);
        assert_int_equal(q2.den, 1);

        run_batches(&g_e, 0, &one, &q1); /* one batch: must be the same */
        vg_codec_destroy(one.codec);
        assert_int_equal(one.active[SO], two.active[SO]);
        assert_int_equal(q1.den, q2.den);
}

/* File mode end to end (SPEC §9 forms). */
static void test_process_file_end_to_end(void **state) {
        static const char in[] =
                "{\"type\":\"discharge\",\"event_id\":\"d0\",\"patient_id\":"
                "\"p1\",\"occurred_at\":\"2026-01-10T10:00:00Z\",\"kommun\":"
                "\"0484\",\"source_system\":\"t\",\"stay_id\":\"s0\","
                "\"facility_id\":\"f\",\"care_setting\":\"HOSPITAL_INPATIENT\","
                "\"disposition\":\"HOME\",\"needs_coordination\":false}\n"
                "{\"type\":\"admission\",\"event_id\":\"a1\",\"patient_id\":"
                "\"p1\",\"occurred_at\":\"2026-01-20T10:00:00Z\",\"kommun\":"
                "\"0180\",\"source_system\":\"t\",\"stay_id\":\"s1\","
                "\"facility_id\":\"f\",\"care_setting\":\"HOSPITAL_INPATIENT\","
                "\"planned\":false,\"age_years\":81,\"sex\":\"FEMALE\","
                "\"diagnosis_group\":\"COPD\"}\n"
                "{\"type\":\"death\",\"event_id\":\"x1\",\"patient_id\":"
                "\"p1\",\"occurred_at\":\"2026-03-31T22:30:00Z\",\"kommun\":"
                "\"0180\",\"source_system\":\"t\",\"place_of_death\":\"HOME\","
                "\"expected\":true,\"age_years\":81,\"sex\":\"FEMALE\","
                "\"diagnosis_group\":\"COPD\"}\n";
        vg_conf_t *conf = vg_conf_new();
        FILE *fin = fmemopen((void *)in, sizeof(in) - 1, "r");
        char *abuf = NULL, *ibuf = NULL;
        size_t alen = 0, ilen = 0;
        FILE *fa = open_memstream(&abuf, &alen);
        FILE *fi = open_memstream(&ibuf, &ilen);
        long invalid = -1;
        (void)state;
        assert_int_equal(vg_process_file(conf, fin, "mem", 1, fa, fi,
                                         &invalid),
                         0);
        fclose(fin);
        fclose(fa);
        fclose(fi);
        vg_conf_destroy(conf);
        assert_int_equal(invalid, 0);
        assert_non_null(strstr(abuf, "\"rule\":\"READMISSION_30D\""));
        assert_non_null(strstr(abuf, "\"status\":\"ACTIVE\""));
        assert_non_null(strstr(abuf, "\"kommun\":\"0180\""));
        assert_non_null(strstr(abuf, "\"days_between\":10"));
        /* SPEC v2 §9 form. The watermark at the end of input is the
         * death (Apr 1 00:30 local): January's readmission value is
         * complete (Feb 1 + 30 days), April's values are not (the month
         * has not ended); data_since is the first event; sip_before_death
         * looks back 365 days before Apr 1, before data_since. */
        assert_non_null(strstr(
                ibuf, "{\"indicator\":\"readmission_30d\",\"area\":\"0484\","
                      "\"period\":\"2026-01\",\"breakdown\":\"all\","
                      "\"numerator\":1,\"denominator\":1,\"complete\":true,"
                      "\"history_complete\":true,"
                      "\"data_since\":\"2026-01-10T10:00:00Z\"}"));
        assert_non_null(strstr(
                ibuf, "{\"indicator\":\"death_place.HOME\",\"area\":\"SE\","
                      "\"period\":\"2026-04\",\"breakdown\":\"all\","
                      "\"numerator\":1,\"denominator\":1,"
                      "\"complete\":false,\"history_complete\":true,"));
        assert_non_null(strstr(
                ibuf, "{\"indicator\":\"death_place.OTHER\",\"area\":\"01\","
                      "\"period\":\"2026-04\",\"breakdown\":\"all\","
                      "\"numerator\":0,\"denominator\":1,"));
        assert_non_null(strstr(
                ibuf, "{\"indicator\":\"sip_before_death\",\"area\":\"SE\","
                      "\"period\":\"2026-04\",\"breakdown\":\"all\","
                      "\"numerator\":0,\"denominator\":1,"
                      "\"complete\":false,\"history_complete\":false,"));
        assert_non_null(strstr(
                ibuf, "{\"indicator\":\"eol_admission_30d\",\"area\":\"SE\","
                      "\"period\":\"2026-04\",\"breakdown\":\"all\","
                      "\"numerator\":0,\"denominator\":1,"
                      "\"complete\":false,\"history_complete\":true,"));
        /* a zero-denominator row does not exist */
        assert_null(strstr(ibuf, "\"indicator\":\"sip_within_deadline\""));
        free(abuf);
        free(ibuf);
}

/* §6.2 marginal breakdowns: one dimension at a time, from the anchor event
 * when it carries the attributes (Death), from the stay's admission for a
 * discharge-anchored row, "unknown" (lower case) without such an event;
 * the rows of one dimension sum to the "all" row. */
/* A case key expands into breakdown all and each marginal breakdown, for
 * the kommun, its region and SE, in that order; "-" (ssih_enrolment's age
 * and diagnosis) has no cell; anything not of 7 non-empty fields is
 * refused. */
static void test_case_cells(void **state) {
        char c[VG_CASE_CELLS][VG_CASE_KEY_MAX];
        static const char *want[15] = {
                "readmission_30d|0484|2026-01",
                "readmission_30d|0484|2026-01|age:75-84",
                "readmission_30d|0484|2026-01|sex:MALE",
                "readmission_30d|0484|2026-01|diagnosis:COPD",
                "readmission_30d|0484|2026-01|residence:unknown",
                "readmission_30d|04|2026-01",
                "readmission_30d|04|2026-01|age:75-84",
                "readmission_30d|04|2026-01|sex:MALE",
                "readmission_30d|04|2026-01|diagnosis:COPD",
                "readmission_30d|04|2026-01|residence:unknown",
                "readmission_30d|SE|2026-01",
                "readmission_30d|SE|2026-01|age:75-84",
                "readmission_30d|SE|2026-01|sex:MALE",
                "readmission_30d|SE|2026-01|diagnosis:COPD",
                "readmission_30d|SE|2026-01|residence:unknown"};
        (void)state;
        assert_int_equal(vg_rules_case_cells("readmission_30d|0484|2026-01|"
                                             "75-84|MALE|COPD|unknown", c),
                         15);
        for (int i = 0; i < 15; i++)
                assert_string_equal(c[i], want[i]);
        assert_int_equal(vg_rules_case_cells("ssih_enrolment.85+.COPD|2480|"
                                             "2026-12|-|FEMALE|-|OWN_HOME", c),
                         9);
        assert_string_equal(c[0], "ssih_enrolment.85+.COPD|2480|2026-12");
        assert_string_equal(c[1], "ssih_enrolment.85+.COPD|2480|2026-12|"
                                  "sex:FEMALE");
        assert_string_equal(c[2], "ssih_enrolment.85+.COPD|2480|2026-12|"
                                  "residence:OWN_HOME");
        assert_string_equal(c[3], "ssih_enrolment.85+.COPD|24|2026-12");
        assert_string_equal(c[8], "ssih_enrolment.85+.COPD|SE|2026-12|"
                                  "residence:OWN_HOME");
        assert_int_equal(vg_rules_case_cells("a|0484|2026-01|x|y|z", c), -1);
        assert_int_equal(vg_rules_case_cells("a|0484|2026-01|x|y|z|w|v", c),
                         -1);
        assert_int_equal(vg_rules_case_cells("a|0484||x|y|z|w", c), -1);
        assert_int_equal(vg_rules_case_cells("a|0484|2026-01|x|y|z|", c), -1);
        assert_int_equal(vg_rules_case_cells("", c), -1);
        assert_int_equal(vg_rules_case_cells("a|012345678|2026-01|x|y|z|w", c),
                         -1);
}

static void test_breakdowns(void **state) {
        vg_event_t *a, *dth;
        (void)state;
        a = hadm(&g_e, "a0", T("2026-01-05T09:00:00Z"), "s0");
        a->ev_age_years = 77;
        a->ev_sex = VG_SEX_MALE;
        a->ev_diagnosis_group = VG_DG_COPD;
        a->ev_residence = VG_RES_NURSING_HOME;
        hdis(&g_e, "d0", T("2026-01-10T10:00:00Z"), "s0", VG_DISP_HOME);
        /* an index discharge without its admission */
        hdis(&g_e, "d1", T("2026-01-20T10:00:00Z"), "s1", VG_DISP_HOME);
        dth = death(&g_e, "x1", T("2026-05-01T10:00:00Z"), VG_POD_HOME, true);
        dth->ev_age_years = 90;
        dth->ev_sex = VG_SEX_FEMALE;
        dth->ev_diagnosis_group = VG_DG_DEMENTIA;
        dth->ev_residence = VG_RES_UNKNOWN;
        derive(T("2026-06-01T00:00:00Z"));
        expect_cell3(&g_dv, "readmission_30d", TH_KOMMUN, "2026-01", 0, 2);
        expect_cell3(&g_dv, "readmission_30d", TH_KOMMUN, "2026-01|age:75-84",
                     0, 1);
        expect_cell3(&g_dv, "readmission_30d", TH_KOMMUN, "2026-01|age:unknown",
                     0, 1);
        expect_cell3(&g_dv, "readmission_30d", TH_KOMMUN, "2026-01|sex:MALE",
                     0, 1);
        expect_cell3(&g_dv, "readmission_30d", TH_KOMMUN,
                     "2026-01|diagnosis:COPD", 0, 1);
        expect_cell3(&g_dv, "readmission_30d", TH_KOMMUN,
                     "2026-01|residence:NURSING_HOME", 0, 1);
        expect_cell3(&g_dv, "readmission_30d", TH_KOMMUN,
                     "2026-01|residence:unknown", 0, 1);
        /* death-anchored: the death's own attributes; its UNKNOWN symbol
         * is not the lower-case unknown */
        expect_cell3(&g_dv, "death_place.HOME", TH_KOMMUN, "2026-05|age:85+",
                     1, 1);
        expect_cell3(&g_dv, "death_place.HOME", TH_KOMMUN, "2026-05|sex:FEMALE",
                     1, 1);
        expect_cell3(&g_dv, "death_place.HOME", TH_KOMMUN,
                     "2026-05|diagnosis:DEMENTIA", 1, 1);
        expect_cell3(&g_dv, "death_place.HOME", TH_KOMMUN,
                     "2026-05|residence:UNKNOWN", 1, 1);
        expect_cell3(&g_dv, "death_place.HOME", TH_KOMMUN,
                     "2026-05|residence:unknown", 0, 0);
        expect_cell3(&g_dv, "death_place.HOSPITAL", TH_KOMMUN,
                     "2026-05|sex:FEMALE", 0, 1);
}

#define TEST(f) cmocka_unit_test_teardown(f, teardown)

int main(void) {
        const struct CMUnitTest tests[] = {
                /* §5.1 */
                TEST(test_alert_id_sha256),
                TEST(test_breakdowns),
                TEST(test_case_cells),
                TEST(test_readm_basic_alert_fields),
                TEST(test_readm_day30_vs_day31),
                TEST(test_readm_days_are_local_dates),
                TEST(test_readm_local_midnight_not_utc),
                TEST(test_readm_dst_march),
                TEST(test_readm_dst_october),
                TEST(test_readm_index_dispositions),
                TEST(test_readm_only_hospital_inpatient),
                TEST(test_readm_planned_in_between),
                TEST(test_readm_first_admission_only),
                TEST(test_readm_strictly_after_ms),
                TEST(test_readm_transfer_continuation),
                TEST(test_readm_transfer_chain),
                TEST(test_readm_several_index_one_alert),
                TEST(test_readm_ordering_ties),
                TEST(test_readm_ordering_ties_many),
                TEST(test_many_events),
                TEST(test_known_alert_ids),
                TEST(test_sort_i64),
                TEST(test_readm_denominator_and_next_due),
                /* §5.0 */
                TEST(test_stay_first_admission_wins),
                TEST(test_stay_first_discharge_wins),
                TEST(test_cancel_after_target_engine),
                TEST(test_cancel_before_target_engine),
                TEST(test_cancel_changes_alert_fields),
                TEST(test_cancel_any_type),
                TEST(test_cancel_record_is_not_an_event),
                TEST(test_cancel_of_cancellation),
                TEST(test_duplicates_engine),
                TEST(test_two_deaths),
                /* §5.2 */
                TEST(test_sip_due_strictly_after_deadline),
                TEST(test_sip_deadline_absolute_across_dst),
                TEST(test_sip_at_deadline_satisfies),
                TEST(test_sip_window_starts_at_admission),
                TEST(test_sip_window_without_admission),
                TEST(test_sip_void_by_death),
                TEST(test_sip_dispositions),
                TEST(test_sip_not_triggers),
                TEST(test_sip_late_sip_retracts_engine),
                TEST(test_sip_one_sip_several_discharges),
                TEST(test_sip_within_deadline_counting),
                /* §6 */
                TEST(test_death_place_rows),
                TEST(test_period_local_month),
                TEST(test_eol_admissions),
                TEST(test_sip_before_death),
                TEST(test_ssih_enrolment_age_bands),
                TEST(test_ssih_enrolment_stays),
                TEST(test_derive_order_independent),
                /* partition and file mode */
                TEST(test_partition_timers),
                TEST(test_partition_timer_due_within_batch), /* was BUG */
                TEST(test_process_file_end_to_end),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
