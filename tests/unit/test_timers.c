/*
 * test_timers.c - a commit's timers (consumers/engine/vg_part_timers.c):
 * with a store, the batch's own patients whose timer the watermark has
 * passed are fired from memory and merged with the timers table's rows of
 * the other patients, a page (256) at a time. The alerts they raise come
 * out in the same order as with timers in memory only (one heap, by due
 * time then id): the same patients, the same order, across pages, with
 * many timers due at the same millisecond.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "rules_helpers.h"
#include "vg_codec.h"

enum { NPAT = 1000, NSTRAY = 300 };

typedef struct seq_s {
        vg_codec_t *codec;
        char      **al;   /* "alert_id status rule anchor", in outbox order */
        int         n, cap;
} seq_t;

static void seq_cb(const vg_outrec_t *r, void *opaque) {
        seq_t *s = opaque;
        vg_anyrec_t rec;
        vg_rectype_t t;
        char errstr[256], buf[512];
        if (strcmp(r->or_topic, "care.alerts.v1"))
                return;
        if (vg_codec_decode(s->codec, r->or_value, r->or_value_len,
                            VG_REC_ALERT, &t, &rec, NULL, errstr,
                            sizeof(errstr)))
                fail_msg("decode: %s", errstr);
        snprintf(buf, sizeof(buf), "%s %d %d %s", rec.al.al_alert_id,
                 (int)rec.al.al_status, (int)rec.al.al_rule,
                 rec.al.al_anchor ? rec.al.al_anchor : "-");
        vg_record_clear(VG_REC_ALERT, &rec.al);
        if (s->n == s->cap) {
                s->cap = s->cap ? s->cap * 2 : 1024;
                s->al = vg_realloc(s->al, sizeof(*s->al) * (size_t)s->cap);
        }
        s->al[s->n++] = vg_strdup(buf);
}

static void seq_free(seq_t *s) {
        for (int i = 0; i < s->n; i++)
                vg_free(s->al[i]);
        vg_free(s->al);
}

/* Batch 1: NPAT patients discharged home needing coordination at the same
 * instant (their SIP deadlines due at the same millisecond), NSTRAY an
 * hour later. Batch 2: every fifth of them readmitted two hours after the
 * discharge (changed in the batch), then one event 60 days on that moves
 * the watermark past every timer. */
static void make(evs_t *b1, evs_t *b2) {
        int64_t d = T("2026-03-02T08:00:00Z");
        char pid[16];
        for (int i = 0; i < NPAT + NSTRAY; i++) {
                vg_event_t *ev;
                snprintf(pid, sizeof(pid), "p%04d", (i * 7919) % 10000);
                ev = evs_push(b1, VG_REC_DISCHARGE, pid, "d1",
                              d + (i < NPAT ? 0 : H(1)));
                ev_set_str(&ev->ev_stay_id, "s1");
                ev->ev_care_setting = VG_CS_HOSPITAL_INPATIENT;
                ev->ev_disposition = VG_DISP_HOME;
                ev->ev_needs_coordination = true;
                if (i % 5 == 0) {
                        ev = evs_push(b2, VG_REC_ADMISSION, pid, "a2",
                                      d + H(2));
                        ev_set_str(&ev->ev_stay_id, "s2");
                }
        }
        evs_push(b2, VG_REC_SIP, "zz", "z1", d + DAYS(60));
}

/* mode 0: a store, every patient kept in memory; 1: a store, at most two
 * patients kept after a commit (the others read back from it); 2: memory
 * only (a timer heap). */
static void run(const evs_t *b1, const evs_t *b2, int mode, seq_t *out) {
        char errstr[512];
        vg_rules_conf_t rc;
        static const vg_part_topics_t topics = {
                "care.alerts.v1", "care.indicator-parts.v1", "care.dlq.v1"};
        vg_part_t *part;
        th_conf(&rc);
        part = vg_part_open(":memory:", 0, &rc, out->codec, &topics, errstr,
                            sizeof(errstr));
        if (!part)
                fail_msg("vg_part_open: %s", errstr);
        if (mode == 1)
                vg_part_set_cache(part, 2);
        else if (mode == 2)
                vg_part_set_memory_only(part);
        for (int b = 0; b < 2; b++) {
                const evs_t *e = b ? b2 : b1;
                if (vg_part_begin(part, 1000 + b, errstr, sizeof(errstr)))
                        fail_msg("begin: %s", errstr);
                for (int i = 0; i < e->n; i++)
                        if (vg_part_event(part, &e->ev[i], errstr,
                                          sizeof(errstr)))
                                fail_msg("event: %s", errstr);
                if (th_commit(part, errstr, sizeof(errstr)))
                        fail_msg("commit: %s", errstr);
        }
        vg_part_outbox_scan(part, 0, INT32_MAX, seq_cb, out);
        vg_part_close(part);
}

static void test_timers_merged_in_order(void **state) {
        evs_t b1 = {0}, b2 = {0};
        seq_t s[3] = {{0}, {0}, {0}};
        char errstr[256];
        (void)state;
        make(&b1, &b2);
        for (int m = 0; m < 3; m++) {
                s[m].codec = vg_codec_new(errstr, sizeof(errstr));
                assert_non_null(s[m].codec);
                run(&b1, &b2, m, &s[m]);
        }
        print_message("    %d alert records; memory-only order is the "
                      "reference\n", s[2].n);
        /* the SIP deadlines fired: more than a page of them */
        assert_true(s[2].n > 2 * 256);
        for (int m = 0; m < 2; m++) {
                assert_int_equal(s[m].n, s[2].n);
                for (int i = 0; i < s[2].n; i++)
                        if (strcmp(s[m].al[i], s[2].al[i]))
                                fail_msg("mode %d, record %d: %s, memory "
                                         "only: %s", m, i, s[m].al[i],
                                         s[2].al[i]);
        }
        for (int m = 0; m < 3; m++) {
                vg_codec_destroy(s[m].codec);
                seq_free(&s[m]);
        }
        evs_free(&b1);
        evs_free(&b2);
}

/* A commit's timers keep to the cache too: patients read from the store
 * for their timer (400 SIP deadlines passed by a batch that changed none
 * of them) are fired, written and dropped one by one when the cache is
 * full, not held until the commit ends. Watched from the alert sink,
 * which each deadline's alert reaches while its patient is in memory. */
static vg_part_t *watched;
static size_t most, raised;

static void watch_cb(const vg_alert_t *al, void *opaque) {
        (void)al;
        (void)opaque;
        raised++;
        if (vg_part_patients_in_memory(watched) > most)
                most = vg_part_patients_in_memory(watched);
}

static void test_commit_timers_bounded(void **state) {
        static const vg_part_topics_t topics = {
                "care.alerts.v1", "care.indicator-parts.v1", "care.dlq.v1"};
        int64_t d = T("2026-03-02T08:00:00Z");
        vg_rules_conf_t rc;
        vg_codec_t *codec;
        char errstr[512], pid[16];
        evs_t b1 = {0}, b2 = {0};
        const vg_part_stats_t *st;
        (void)state;
        th_conf(&rc);
        codec = vg_codec_new(errstr, sizeof(errstr));
        assert_non_null(codec);
        for (int i = 0; i < 400; i++) {
                vg_event_t *ev;
                snprintf(pid, sizeof(pid), "p%04d", i);
                ev = evs_push(&b1, VG_REC_DISCHARGE, pid, "d1", d + i);
                ev_set_str(&ev->ev_stay_id, "s1");
                ev->ev_care_setting = VG_CS_HOSPITAL_INPATIENT;
                ev->ev_disposition = VG_DISP_HOME;
                ev->ev_needs_coordination = true;
        }
        evs_push(&b2, VG_REC_SIP, "zz", "z1", d + DAYS(60));
        watched = vg_part_open(":memory:", 0, &rc, codec, &topics, errstr,
                               sizeof(errstr));
        assert_non_null(watched);
        vg_part_set_cache(watched, 4);
        vg_part_set_alert_sink(watched, watch_cb, NULL);
        for (int b = 0; b < 2; b++) {
                const evs_t *e = b ? &b2 : &b1;
                assert_int_equal(vg_part_begin(watched, 1000 + b, errstr,
                                               sizeof(errstr)), VG_OK);
                for (int i = 0; i < e->n; i++)
                        assert_int_equal(vg_part_event(watched, &e->ev[i],
                                                       errstr, sizeof(errstr)),
                                         VG_OK);
                if (!b) /* (no deadline has passed yet) */
                        assert_int_equal(vg_part_commit(watched, errstr,
                                                        sizeof(errstr)),
                                         VG_OK);
                else
                        assert_int_equal(th_commit(watched, errstr,
                                                   sizeof(errstr)), VG_OK);
                if (!b)
                        assert_int_equal(raised, 0);
        }
        st = vg_part_stats(watched);
        /* every deadline raised its alert, the limit and the one fired
         * in memory at most */
        assert_int_equal(raised, 400);
        assert_true(most <= 5);
        /* each patient written once per batch: early (the cache full) or
         * at its commit */
        assert_int_equal(st->ps_states, 801);
        assert_true(st->ps_early >= 390);
        vg_part_close(watched);
        vg_codec_destroy(codec);
        evs_free(&b1);
        evs_free(&b2);
}

static void count_cb(const vg_outrec_t *r, void *opaque) {
        if (!strcmp(r->or_topic, "care.alerts.v1"))
                (*(int *)opaque)++;
}

/* vg_part_would_fire (process_work.c's batch.linger_ms commits at once a
 * batch whose commit would fire a timer): at the boundaries of a SIP
 * deadline, for a patient not in the batch (kept in memory with its timer
 * row; only its row, the store reopened; on the heap) and for one of the
 * batch (its next-due time only in memory); and each commit raises an
 * alert exactly when it said so. */
static void test_would_fire(void **state) {
        static const vg_part_topics_t topics = {
                "care.alerts.v1", "care.indicator-parts.v1", "care.dlq.v1"};
        int64_t d = T("2026-03-02T08:00:00Z");
        char errstr[512];
        vg_rules_conf_t rc;
        (void)state;
        th_conf(&rc); /* SIP deadline: 72 hours */
        for (int mode = 0; mode < 3; mode++) {
                /* mode 0: a store, patients kept; 1: a store in a file,
                 * reopened after the first commit; 2: memory only */
                char dir[64] = "/tmp/vg-test-timers-XXXXXX", path[96];
                char cmd[128];
                vg_codec_t *codec = vg_codec_new(errstr, sizeof(errstr));
                vg_part_t *part;
                evs_t e = {0};
                int alerts = 0;
                struct {
                        const char *pid;
                        int64_t at;
                        bool dis, fire, commit;
                } st[] = {
                        /* A discharged, needs coordination */
                        {"pA", d, true, false, true},
                        /* events before A's deadline, at it (not passed:
                         * due once the watermark is past it), past it */
                        {"pB", d + H(1), false, false, false},
                        {"pB", d + H(72), false, false, true},
                        {"pC", d + H(72) + 1, false, true, true},
                        /* D discharged (a new patient: no row, no heap
                         * entry yet), then, in the same batch, events at
                         * and past its deadline */
                        {"pD", d + H(100), true, false, false},
                        {"pE", d + H(172), false, false, false},
                        {"pE", d + H(172) + 1, false, true, true},
                };
                assert_non_null(codec);
                /* (a directory for mode 1's file only) */
                assert_true(mode != 1 || mkdtemp(dir));
                snprintf(path, sizeof(path), "%s/p.db", dir);
                part = vg_part_open(mode == 1 ? path : ":memory:", 0, &rc,
                                    codec, &topics, errstr, sizeof(errstr));
                assert_non_null(part);
                if (mode == 2)
                        vg_part_set_memory_only(part);
                assert_false(vg_part_would_fire(part, 1000)); /* no batch */
                for (size_t i = 0; i < sizeof(st) / sizeof(st[0]); i++) {
                        vg_event_t *ev;
                        char eid[16];
                        bool fire;
                        int before = alerts;
                        if (!vg_part_in_batch(part) &&
                            vg_part_begin(part, 1000, errstr, sizeof(errstr)))
                                fail_msg("begin: %s", errstr);
                        snprintf(eid, sizeof(eid), "e%zu", i);
                        ev = evs_push(&e, st[i].dis ? VG_REC_DISCHARGE
                                                    : VG_REC_SIP,
                                      st[i].pid, eid, st[i].at);
                        if (st[i].dis) {
                                ev_set_str(&ev->ev_stay_id, "s1");
                                ev->ev_care_setting = VG_CS_HOSPITAL_INPATIENT;
                                ev->ev_disposition = VG_DISP_HOME;
                                ev->ev_needs_coordination = true;
                        }
                        if (vg_part_event(part, ev, errstr, sizeof(errstr)))
                                fail_msg("event: %s", errstr);
                        vg_part_end_of_input(part);
                        fire = vg_part_would_fire(part, 1000);
                        if (fire != st[i].fire)
                                fail_msg("mode %d, event %zu (%s): would "
                                         "fire %d", mode, i, st[i].pid, fire);
                        if (!st[i].commit)
                                continue;
                        if (th_commit(part, errstr, sizeof(errstr)))
                                fail_msg("commit: %s", errstr);
                        alerts = 0;
                        vg_part_outbox_scan(part, 0, INT32_MAX, count_cb,
                                            &alerts);
                        if ((alerts > before) != fire)
                                fail_msg("mode %d, event %zu: %d alerts "
                                         "raised, would fire %d", mode, i,
                                         alerts - before, fire);
                        if (mode == 1 && i == 0) { /* A: its row only */
                                vg_part_close(part);
                                part = vg_part_open(path, 0, &rc, codec,
                                                    &topics, errstr,
                                                    sizeof(errstr));
                                assert_non_null(part);
                        }
                }
                assert_int_equal(alerts, 2); /* A's and D's SIP_OVERDUE */
                vg_part_close(part);
                if (mode == 1) {
                        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
                        assert_int_equal(system(cmd), 0);
                }
                vg_codec_destroy(codec);
                evs_free(&e);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_timers_merged_in_order),
                cmocka_unit_test(test_would_fire),
                cmocka_unit_test(test_commit_timers_bounded),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
