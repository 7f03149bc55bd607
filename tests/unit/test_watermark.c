/*
 * test_watermark - SPEC v2 §5.5 (the watermark of a partition) and §6.1
 * (complete, history_complete) at their boundaries.
 *
 * Topics are indexes 0..3 (admissions, discharges, deaths, SIPs); times are
 * epoch ms; "now" is wall-clock ms as the consumer passes it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "vg_rules.h"
#include "vg_time.h"
#include "vg_wm.h"

#define IDLE 5000

static int64_t T(const char *s) {
        int64_t ms;
        assert_int_equal(vg_time_parse(s, &ms), 0);
        return ms;
}

/* A topic that has delivered nothing and is not caught up holds the
 * watermark back entirely. */
static void test_no_watermark_until_every_topic(void **state) {
        vg_wm_t wm;
        (void)state;
        vg_wm_init(&wm, 4, IDLE);
        assert_int_equal(vg_wm_update(&wm, 0), VG_WM_NONE);
        vg_wm_record(&wm, 0, 1000);
        vg_wm_record(&wm, 1, 2000);
        vg_wm_record(&wm, 2, 3000);
        assert_int_equal(vg_wm_update(&wm, 0), VG_WM_NONE);
        assert_int_equal(vg_wm_holder(&wm, 0), 3);
        /* topic 3 at its end: caught up only after IDLE ms of silence */
        vg_wm_eof(&wm, 3, 100);
        assert_int_equal(vg_wm_update(&wm, 100 + IDLE - 1), VG_WM_NONE);
        assert_int_equal(vg_wm_update(&wm, 100 + IDLE), 1000);
        assert_int_equal(vg_wm_holder(&wm, 100 + IDLE), 0);
}

/* The smallest topic time among the topics not caught up; all caught up:
 * the largest topic time. */
static void test_min_of_open_max_when_all_caught_up(void **state) {
        vg_wm_t wm;
        (void)state;
        vg_wm_init(&wm, 4, IDLE);
        vg_wm_record(&wm, 0, 5000);
        vg_wm_record(&wm, 1, 1000);
        vg_wm_record(&wm, 2, 9000);
        vg_wm_record(&wm, 3, 7000);
        assert_int_equal(vg_wm_update(&wm, 0), 1000);
        /* the slow topic reaches its end: no longer held back by it */
        vg_wm_eof(&wm, 1, 0);
        assert_int_equal(vg_wm_update(&wm, IDLE), 5000);
        vg_wm_eof(&wm, 0, 0);
        vg_wm_eof(&wm, 3, 0);
        assert_int_equal(vg_wm_update(&wm, IDLE), 9000); /* only 2 open */
        vg_wm_eof(&wm, 2, 0);
        assert_int_equal(vg_wm_update(&wm, IDLE), 9000);
        assert_int_equal(vg_wm_holder(&wm, IDLE), -1);
        assert_false(vg_wm_empty(&wm, IDLE));
}

/* A record after the end: the topic is open again and holds the watermark
 * at its time, but the watermark never moves back. */
static void test_never_back(void **state) {
        vg_wm_t wm;
        (void)state;
        vg_wm_init(&wm, 2, IDLE);
        vg_wm_record(&wm, 0, 5000);
        vg_wm_record(&wm, 1, 8000);
        vg_wm_eof(&wm, 0, 0);
        vg_wm_eof(&wm, 1, 0);
        assert_int_equal(vg_wm_update(&wm, IDLE), 8000);
        vg_wm_record(&wm, 0, 6000); /* a late record of topic 0 */
        assert_false(vg_wm_caught_up(&wm, 0, 2 * IDLE));
        assert_int_equal(vg_wm_update(&wm, 2 * IDLE), 8000);
        /* topic 0 at its end again: caught up IDLE after that EOF, not
         * after the first one */
        vg_wm_eof(&wm, 0, 3 * IDLE);
        assert_false(vg_wm_caught_up(&wm, 0, 4 * IDLE - 1));
        assert_true(vg_wm_caught_up(&wm, 0, 4 * IDLE));
        /* a repeated EOF keeps the first time */
        vg_wm_eof(&wm, 0, 4 * IDLE);
        assert_true(vg_wm_caught_up(&wm, 0, 4 * IDLE));
        /* an invalid record: open again, time unchanged */
        vg_wm_activity(&wm, 0);
        assert_false(vg_wm_caught_up(&wm, 0, 100 * IDLE));
        assert_int_equal(wm.wm_topics[0].wt_time, 6000);
}

/* File mode: every topic caught up at the end of input, whatever the
 * clock; a partition with no records has no watermark and is empty. */
static void test_end_of_input(void **state) {
        vg_wm_t wm;
        (void)state;
        vg_wm_init(&wm, 4, IDLE);
        vg_wm_end_of_input(&wm);
        assert_true(vg_wm_empty(&wm, INT64_MIN / 4));
        assert_int_equal(vg_wm_update(&wm, 0), VG_WM_NONE);
        vg_wm_init(&wm, 4, IDLE);
        vg_wm_record(&wm, 3, 42);
        vg_wm_record(&wm, 1, 41);
        assert_int_equal(vg_wm_update(&wm, 0), VG_WM_NONE);
        vg_wm_end_of_input(&wm);
        assert_int_equal(vg_wm_update(&wm, 0), 42);
        assert_false(vg_wm_empty(&wm, 0));
}

/* Out-of-range topic indexes are ignored, never written. */
static void test_bad_topic(void **state) {
        vg_wm_t wm;
        (void)state;
        vg_wm_init(&wm, 2, IDLE);
        vg_wm_record(&wm, 2, 5);
        vg_wm_record(&wm, -1, 5);
        vg_wm_eof(&wm, 7, 0);
        assert_false(vg_wm_caught_up(&wm, 9, 0));
        assert_int_equal(vg_wm_update(&wm, 0), VG_WM_NONE);
}

/* SPEC §6.1 complete: min watermark >= E + settling time; E is the local
 * midnight that ends the period (CEST/CET). */
static void test_complete_boundaries(void **state) {
        vg_rules_conf_t rc;
        int64_t s, e;
        (void)state;
        vg_rules_conf_default(&rc);
        /* readmission_30d, March: E = Apr 1 00:00 CEST, + 30 local days =
         * May 1 00:00 CEST = Apr 30 22:00Z */
        assert_false(vg_rules_complete(&rc, "readmission_30d", "2026-03",
                                       T("2026-04-30T21:59:59.999Z")));
        assert_true(vg_rules_complete(&rc, "readmission_30d", "2026-03",
                                      T("2026-04-30T22:00:00Z")));
        /* sip_within_deadline: E + 72 hours (absolute) */
        assert_false(vg_rules_complete(&rc, "sip_within_deadline", "2026-03",
                                       T("2026-04-03T21:59:59.999Z")));
        assert_true(vg_rules_complete(&rc, "sip_within_deadline", "2026-03",
                                      T("2026-04-03T22:00:00Z")));
        /* register rows: + 30 local days */
        assert_false(vg_rules_complete(&rc, "spr.pain_assessed", "2026-03",
                                       T("2026-04-30T21:59:59.999Z")));
        assert_true(vg_rules_complete(&rc, "register_coverage", "2026-03",
                                      T("2026-04-30T22:00:00Z")));
        /* others: E itself; October ends in CET (after the DST change) */
        assert_false(vg_rules_complete(&rc, "death_place.HOME", "2026-10",
                                       T("2026-10-31T22:59:59.999Z")));
        assert_true(vg_rules_complete(&rc, "death_place.HOME", "2026-10",
                                      T("2026-10-31T23:00:00Z")));
        /* a quarter or year is complete when its last month is */
        assert_false(vg_rules_complete(&rc, "eol_admission_30d", "2026-Q1",
                                       T("2026-03-31T21:59:59.999Z")));
        assert_true(vg_rules_complete(&rc, "eol_admission_30d", "2026-Q1",
                                      T("2026-03-31T22:00:00Z")));
        assert_true(vg_rules_complete(&rc, "eol_admission_30d", "2026",
                                      T("2026-12-31T23:00:00Z")));
        assert_false(vg_rules_complete(&rc, "eol_admission_30d", "2026",
                                       T("2026-12-31T22:59:59.999Z")));
        /* no watermark (a partition without progress): nothing */
        assert_false(vg_rules_complete(&rc, "death_place.HOME", "2000-01",
                                       VG_WM_NONE));
        /* bad periods */
        assert_int_equal(vg_rules_period_bounds(rc.rc_tz, "2026-13", &s, &e),
                         -1);
        assert_int_equal(vg_rules_period_bounds(rc.rc_tz, "2026-Q5", &s, &e),
                         -1);
        assert_int_equal(vg_rules_period_bounds(rc.rc_tz, "26-01", &s, &e),
                         -1);
        assert_int_equal(vg_rules_period_bounds(rc.rc_tz, "2026-03", &s, &e),
                         0);
        assert_int_equal(s, T("2026-02-28T23:00:00Z"));
        assert_int_equal(e, T("2026-03-31T22:00:00Z"));
}

/* SPEC §6.1 history_complete at its boundaries. */
static void test_history_complete_boundaries(void **state) {
        vg_rules_conf_t rc;
        (void)state;
        vg_rules_conf_default(&rc);
        /* sip_before_death, April 2026: S = Apr 1 local; 365 local days
         * after the local date of data_since */
        assert_true(vg_rules_history_complete(&rc, "sip_before_death",
                                              "2026-04",
                                              T("2025-04-01T21:59:59Z")));
        assert_false(vg_rules_history_complete(&rc, "sip_before_death",
                                               "2026-04",
                                               T("2025-04-01T22:00:00Z")));
        /* eol_admission_30d: 30 days */
        assert_true(vg_rules_history_complete(&rc, "eol_admission_30d",
                                              "2026-04",
                                              T("2026-03-02T10:00:00Z")));
        assert_false(vg_rules_history_complete(&rc, "eol_readmission_30d",
                                               "2026-04",
                                               T("2026-03-03T10:00:00Z")));
        /* sip_within_deadline: S - 720 hours >= data_since */
        assert_true(vg_rules_history_complete(&rc, "sip_within_deadline",
                                              "2026-04",
                                              T("2026-03-01T22:00:00Z")));
        assert_false(vg_rules_history_complete(&rc, "sip_within_deadline",
                                               "2026-04",
                                               T("2026-03-01T22:00:00.001Z")));
        /* rules that never look back */
        assert_true(vg_rules_history_complete(&rc, "readmission_30d",
                                              "2026-04", VG_WM_NONE));
        assert_true(vg_rules_history_complete(&rc, "death_place.HOME",
                                              "2026-04",
                                              T("2026-04-20T00:00:00Z")));
        /* unknown data_since: not complete for those that look back */
        assert_false(vg_rules_history_complete(&rc, "sip_before_death",
                                               "2026-04", VG_WM_NONE));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_no_watermark_until_every_topic),
                cmocka_unit_test(test_min_of_open_max_when_all_caught_up),
                cmocka_unit_test(test_never_back),
                cmocka_unit_test(test_end_of_input),
                cmocka_unit_test(test_bad_topic),
                cmocka_unit_test(test_complete_boundaries),
                cmocka_unit_test(test_history_complete_boundaries),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
