/*
 * test_register - SPEC v2 §5.3 DEATH_NOT_REGISTERED and the register rows
 * of §6 (register_coverage, spr.*), clause by clause at their boundaries:
 * the deadline on local dates across DST, a late entry retracting, a
 * cancelled entry re-raising, two entries (the first counts), an entry
 * without a Death, an unexpected death with an entry, UNKNOWN answers,
 * GRADE_1 as free of pressure ulcers, rules.register=off.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "rules_helpers.h"

#define DNR VG_RULE_DEATH_NOT_REGISTERED

static evs_t g_e;
static vg_derived_t g_dv;

static int teardown(void **state) {
        (void)state;
        evs_free(&g_e);
        vg_derived_clear(&g_dv);
        return 0;
}

static void derive_rc(const vg_rules_conf_t *rc, int64_t wm) {
        vg_derived_clear(&g_dv);
        vg_rules_derive(rc, TH_PATIENT, g_e.ev, g_e.n, wm, &g_dv);
}

static void derive(int64_t wm) {
        vg_rules_conf_t rc;
        th_conf(&rc);
        derive_rc(&rc, wm);
}

/* A register entry for the death at death_at; every answer YES, no
 * pressure ulcer, unless changed. */
static vg_event_t *entry(const char *id, int64_t at, int64_t death_at,
                         bool expected) {
        vg_event_t *ev = evs_push(&g_e, VG_REC_REGISTER, TH_PATIENT, id, at);
        ev->ev_death_at = death_at;
        ev_set_str(&ev->ev_unit_id, "unit-1");
        ev->ev_expected = expected;
        for (int q = 0; q < VG_Q__CNT; q++)
                ev->ev_answers[q] = VG_ANS_YES;
        ev->ev_pressure_ulcer = VG_PU_NONE;
        return ev;
}

/* §5.3 deadline: the local date of death + 30 days; due when days(death,
 * watermark) > 30, i.e. from the local midnight that ends day 30. A death
 * on 2026-03-01 (CET) ends its deadline day at 2026-03-31 24:00 CEST
 * (2026-03-31T22:00Z): the DST change falls inside. */
static void test_deadline_local_dates_dst(void **state) {
        int64_t D = T("2026-03-01T10:00:00Z");
        const vg_alert_t *a;
        (void)state;
        death(&g_e, "x1", D, VG_POD_HOME, true);
        derive(T("2026-03-31T21:59:59.999Z"));
        expect_nalerts(&g_dv, DNR, 0);
        expect_cell3(&g_dv, "register_coverage", TH_KOMMUN, "2026-03", 0, 0);
        assert_int_equal(g_dv.dv_next_due, T("2026-03-31T22:00:00Z"));
        derive(T("2026-03-31T22:00:00Z"));
        expect_nalerts(&g_dv, DNR, 1);
        a = expect_alert(&g_dv, DNR, "x1");
        assert_true(a->al_died_at.set);
        assert_int_equal(a->al_died_at.v, D);
        assert_int_equal(a->al_deadline.v, T("2026-03-31T22:00:00Z"));
        assert_string_equal(a->al_place_of_death, "HOME");
        assert_string_equal(a->al_kommun, TH_KOMMUN);
        expect_cell3(&g_dv, "register_coverage", TH_KOMMUN, "2026-03", 0, 1);
        /* a death at 23:30Z on Mar 1 is Mar 2 local: one day later */
        evs_free(&g_e);
        death(&g_e, "x2", T("2026-03-01T23:30:00Z"), VG_POD_HOME, true);
        derive(T("2026-03-31T22:00:00Z"));
        expect_nalerts(&g_dv, DNR, 0);
        derive(T("2026-04-01T22:00:00Z"));
        expect_nalerts(&g_dv, DNR, 1);
}

/* §5.3 an entry retracts the alert at any time; coverage counts it
 * (registered at any time). */
static void test_late_entry_retracts(void **state) {
        int64_t D = T("2026-05-10T08:00:00Z");
        (void)state;
        death(&g_e, "x1", D, VG_POD_HOSPITAL, true);
        derive(D + DAYS(60));
        expect_nalerts(&g_dv, DNR, 1);
        expect_cell3(&g_dv, "register_coverage", TH_KOMMUN, "2026-05", 0, 1);
        entry("r1", D + DAYS(90), D, true);
        derive(D + DAYS(90));
        expect_nalerts(&g_dv, DNR, 0);
        expect_cell3(&g_dv, "register_coverage", TH_KOMMUN, "2026-05", 1, 1);
}

/* §5.0 a cancelled entry counts for nothing: the alert is raised again. */
static void test_cancelled_entry_reraises(void **state) {
        int64_t D = T("2026-05-10T08:00:00Z");
        (void)state;
        death(&g_e, "x1", D, VG_POD_HOME, true);
        entry("r1", D + DAYS(5), D, true);
        derive(D + DAYS(60));
        expect_nalerts(&g_dv, DNR, 0);
        cancel(&g_e, "c1", D + DAYS(61), VG_REC_REGISTER, "r1");
        derive(D + DAYS(61));
        expect_nalerts(&g_dv, DNR, 1);
        expect_cell3(&g_dv, "register_coverage", TH_KOMMUN, "2026-05", 0, 1);
        expect_cell3(&g_dv, "spr.pain_assessed", TH_KOMMUN, "2026-05", 0, 0);
        /* and a cancelled death: no alert, no coverage row */
        cancel(&g_e, "c2", D + DAYS(62), VG_REC_DEATH, "x1");
        derive(D + DAYS(62));
        expect_nalerts(&g_dv, DNR, 0);
        expect_cell3(&g_dv, "register_coverage", TH_KOMMUN, "2026-05", 0, 0);
}

/* §5.0 two entries: the one with the smallest (occurred_at, event_id)
 * counts, the other is a conflict. */
static void test_two_entries_first_counts(void **state) {
        int64_t D = T("2026-05-10T08:00:00Z");
        vg_event_t *late, *early;
        (void)state;
        death(&g_e, "x1", D, VG_POD_HOME, true);
        late = entry("r-b", D + DAYS(20), D, true);
        late->ev_answers[VG_Q_EOL_CONVERSATION] = VG_ANS_YES;
        early = entry("r-a", D + DAYS(10), D, true);
        early->ev_answers[VG_Q_EOL_CONVERSATION] = VG_ANS_NO;
        derive(D + DAYS(40));
        expect_cell3(&g_dv, "spr.eol_conversation", TH_KOMMUN, "2026-05", 0,
                     1);
        assert_int_equal(g_dv.dv_conflicts, 1);
        /* same occurred_at: the smaller event_id */
        late->ev_occurred_at = early->ev_occurred_at;
        derive(D + DAYS(40));
        expect_cell3(&g_dv, "spr.eol_conversation", TH_KOMMUN, "2026-05", 0,
                     1);
}

/* §6 an entry without a Death event counts in spr.* (anchored on its
 * death_at, in its kommun) and not in coverage; no alert. */
static void test_entry_without_death(void **state) {
        int64_t D = T("2026-06-30T22:30:00Z"); /* Jul 1 local */
        (void)state;
        ev_kommun(entry("r1", D + DAYS(3), D, true), TH_KOMMUN2);
        derive(D + DAYS(100));
        expect_cell3(&g_dv, "spr.pain_assessed", TH_KOMMUN2, "2026-07", 1,
                     1);
        expect_cell3(&g_dv, "spr.pressure_ulcer_free", TH_KOMMUN2, "2026-07",
                     1, 1);
        expect_cell3(&g_dv, "register_coverage", TH_KOMMUN2, "2026-07", 0, 0);
        expect_nalerts(&g_dv, DNR, 0);
}

/* §5.3 an unexpected death is due like any other; its entry covers it,
 * and spr.* counts only entries with expected = true (the register's
 * own answer, not the Death's). */
static void test_unexpected_death_with_entry(void **state) {
        int64_t D = T("2026-05-10T08:00:00Z");
        vg_event_t *en;
        (void)state;
        death(&g_e, "x1", D, VG_POD_HOSPITAL, false);
        derive(D + DAYS(40));
        expect_nalerts(&g_dv, DNR, 1);
        en = entry("r1", D + DAYS(45), D, false);
        derive(D + DAYS(45));
        expect_nalerts(&g_dv, DNR, 0);
        expect_cell3(&g_dv, "register_coverage", TH_KOMMUN, "2026-05", 1, 1);
        expect_cell3(&g_dv, "spr.eol_conversation", TH_KOMMUN, "2026-05", 0,
                     0);
        en->ev_expected = true; /* the register says expected */
        derive(D + DAYS(45));
        expect_cell3(&g_dv, "spr.eol_conversation", TH_KOMMUN, "2026-05", 1,
                     1);
}

/* §6 UNKNOWN counts as not done; pressure ulcer GRADE_1 is free, GRADE_2_4
 * and UNKNOWN are not. */
static void test_unknown_and_grade1(void **state) {
        int64_t D = T("2026-05-10T08:00:00Z");
        vg_event_t *en;
        (void)state;
        en = entry("r1", D + DAYS(2), D, true);
        en->ev_answers[VG_Q_PAIN_ASSESSED] = VG_ANS_UNKNOWN;
        en->ev_answers[VG_Q_PRN_OPIOID] = VG_ANS_NO;
        en->ev_pressure_ulcer = VG_PU_GRADE_1;
        derive(D + DAYS(2));
        expect_cell3(&g_dv, "spr.pain_assessed", TH_KOMMUN, "2026-05", 0, 1);
        expect_cell3(&g_dv, "spr.prn_opioid", TH_KOMMUN, "2026-05", 0, 1);
        expect_cell3(&g_dv, "spr.prn_anxiolytic", TH_KOMMUN, "2026-05", 1, 1);
        expect_cell3(&g_dv, "spr.bereavement_offered", TH_KOMMUN, "2026-05",
                     1, 1);
        expect_cell3(&g_dv, "spr.pressure_ulcer_free", TH_KOMMUN, "2026-05",
                     1, 1);
        en->ev_pressure_ulcer = VG_PU_GRADE_2_4;
        derive(D + DAYS(2));
        expect_cell3(&g_dv, "spr.pressure_ulcer_free", TH_KOMMUN, "2026-05",
                     0, 1);
        en->ev_pressure_ulcer = VG_PU_UNKNOWN;
        derive(D + DAYS(2));
        expect_cell3(&g_dv, "spr.pressure_ulcer_free", TH_KOMMUN, "2026-05",
                     0, 1);
}

/* §5.3 rules.register=off: neither the alert nor any register row. */
static void test_register_off(void **state) {
        int64_t D = T("2026-05-10T08:00:00Z");
        vg_rules_conf_t rc;
        int64_t num, den;
        (void)state;
        th_conf(&rc);
        rc.rc_register = false;
        death(&g_e, "x1", D, VG_POD_HOME, true);
        entry("r1", D + DAYS(40), D, true);
        evs_push(&g_e, VG_REC_DEATH, "other", "x9", D)->ev_expected = true;
        derive_rc(&rc, D + DAYS(80));
        expect_nalerts(&g_dv, DNR, 0);
        cell_sum_prefix(&g_dv, "spr.", &num, &den);
        assert_int_equal(den, 0);
        cell_sum_prefix(&g_dv, "register_coverage", &num, &den);
        assert_int_equal(den, 0);
        /* the other rows are still there */
        expect_cell3(&g_dv, "death_place.HOME", TH_KOMMUN, "2026-05", 1, 1);
}

/* Through the engine: the alert is raised by the timer, retracted by the
 * entry, re-raised when the entry is cancelled (recompute-and-diff). */
static void test_engine_raise_retract(void **state) {
        vg_rules_conf_t rc;
        vg_patient_t *pt = vg_patient_new(TH_PATIENT);
        vg_changes_t ch;
        int64_t D = T("2026-05-10T08:00:00Z");
        (void)state;
        th_conf(&rc);
        death(&g_e, "x1", D, VG_POD_HOME, true);
        entry("r1", D + DAYS(50), D, true);
        cancel(&g_e, "c1", D + DAYS(51), VG_REC_REGISTER, "r1");
        vg_engine_apply(&rc, pt, &g_e.ev[0], D, &ch);
        assert_int_equal(ch.ch_nalerts, 0);
        assert_int_equal(pt->pt_next_due, T("2026-06-09T22:00:00Z"));
        vg_changes_clear(&ch);
        vg_engine_apply(&rc, pt, NULL, pt->pt_next_due, &ch);
        assert_int_equal(ch.ch_nalerts, 1);
        assert_int_equal(ch.ch_alerts[0].al_status, VG_STATUS_ACTIVE);
        vg_changes_clear(&ch);
        vg_engine_apply(&rc, pt, &g_e.ev[1], D + DAYS(50), &ch);
        assert_int_equal(ch.ch_nalerts, 1);
        assert_int_equal(ch.ch_alerts[0].al_status, VG_STATUS_RETRACTED);
        vg_changes_clear(&ch);
        vg_engine_apply(&rc, pt, &g_e.ev[2], D + DAYS(51), &ch);
        assert_int_equal(ch.ch_nalerts, 1);
        assert_int_equal(ch.ch_alerts[0].al_status, VG_STATUS_ACTIVE);
        vg_changes_clear(&ch);
        vg_patient_destroy(pt);
}

#define TEST(f) cmocka_unit_test_teardown(f, teardown)

int main(void) {
        const struct CMUnitTest tests[] = {
                TEST(test_deadline_local_dates_dst),
                TEST(test_late_entry_retracts),
                TEST(test_cancelled_entry_reraises),
                TEST(test_two_entries_first_counts),
                TEST(test_entry_without_death),
                TEST(test_unexpected_death_with_entry),
                TEST(test_unknown_and_grade1),
                TEST(test_register_off),
                TEST(test_engine_raise_retract),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
