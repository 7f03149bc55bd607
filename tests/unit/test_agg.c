/*
 * test_agg.c - the aggregator: latest part per (cell, partition) wins, sums
 * across partitions, and INDICATOR_BELOW_TARGET crossing up and down raises
 * and retracts exactly one alert (SPEC §5.4).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vg_agg.h"

typedef struct seen_s {
        vg_codec_t *codec;
        int         values, active, retracted;
        int64_t     last_num, last_den;
        char        last_anchor[128];
        char        last_id[64];
        bool        last_complete;
} seen_t;

static void scan_cb(const vg_outrec_t *r, void *opaque) {
        seen_t *s = opaque;
        vg_anyrec_t rec;
        vg_rectype_t t;
        char e[256];
        assert_int_equal(vg_codec_decode(s->codec, r->or_value, r->or_value_len,
                                         -1, &t, &rec, NULL, e, sizeof(e)),
                         VG_OK);
        if (t == VG_REC_IVALUE) {
                /* the quarter and the year (SPEC §6.2) follow the month
                 * here (one month only): count the month's */
                if (strcmp(rec.iv.iv_period, "2026-03")) {
                        vg_record_clear(t, &rec);
                        return;
                }
                s->values++;
                s->last_num = rec.iv.iv_numerator;
                s->last_den = rec.iv.iv_denominator.v;
                s->last_complete = rec.iv.iv_complete;
        } else if (t == VG_REC_ALERT &&
                   strcmp(rec.al.al_period, "2026-03")) {
                /* the quarter's and the year's alerts: same figures */
                assert_string_equal(rec.al.al_indicator, "readmission_30d");
        } else {
                assert_int_equal(t, VG_REC_ALERT);
                assert_int_equal(rec.al.al_rule,
                                 VG_RULE_INDICATOR_BELOW_TARGET);
                if (rec.al.al_status == VG_STATUS_ACTIVE)
                        s->active++;
                else
                        s->retracted++;
                snprintf(s->last_anchor, sizeof(s->last_anchor), "%s",
                         rec.al.al_anchor);
                snprintf(s->last_id, sizeof(s->last_id), "%s",
                         rec.al.al_alert_id);
                assert_string_equal(rec.al.al_kommun, "0484");
                assert_string_equal(rec.al.al_region, "04");
        }
        vg_record_clear(t, &rec);
}

struct qy_s { int64_t *q1n, *q1d, *yn, *yd, *q2n; };

static void values_cb(const vg_ivalue_t *iv, void *opaque) {
        struct qy_s *q = opaque;
        if (strcmp(iv->iv_breakdown, "sex:MALE"))
                return;
        if (!strcmp(iv->iv_period, "2026-Q1")) {
                *q->q1n = iv->iv_numerator;
                *q->q1d = iv->iv_denominator.v;
        } else if (!strcmp(iv->iv_period, "2026")) {
                *q->yn = iv->iv_numerator;
                *q->yd = iv->iv_denominator.v;
        } else if (!strcmp(iv->iv_period, "2026-Q2")) {
                *q->q2n = iv->iv_numerator;
        }
}

/* Queued records, then the outbox emptied (as if delivered). */
static seen_t drained(vg_agg_t *agg, vg_codec_t *codec) {
        seen_t s;
        char e[256];
        memset(&s, 0, sizeof(s));
        s.codec = codec;
        vg_outbox_scan(vg_agg_outbox(agg), 0, 64, scan_cb, &s);
        assert_int_equal(vg_outbox_delete_upto(vg_agg_outbox(agg), INT64_MAX,
                                               e, sizeof(e)),
                         VG_OK);
        return s;
}

/* One PartitionProgress copy from parts partition source, in its own
 * batch; wm 0: null. */
static seen_t progress_from(vg_agg_t *agg, vg_codec_t *codec, int partition,
                            int source, int64_t wm) {
        vg_progress_t pp = {0};
        char e[256];
        pp.pp_partition = partition;
        pp.pp_watermark = (vg_optl_t){wm != 0, wm};
        pp.pp_data_since = (vg_optl_t){wm != 0, 1735689600000}; /* 2025 */
        assert_int_equal(vg_agg_begin(agg, 1, e, sizeof(e)), VG_OK);
        assert_int_equal(vg_agg_progress(agg, &pp, source, e, sizeof(e)),
                         VG_OK);
        assert_int_equal(vg_agg_commit(agg, e, sizeof(e)), VG_OK);
        return drained(agg, codec);
}

/* One PartitionProgress in its own batch; wm 0: null. */
static seen_t progress(vg_agg_t *agg, vg_codec_t *codec, int partition,
                       int64_t wm) {
        vg_progress_t pp = {0};
        char e[256];
        pp.pp_partition = partition;
        pp.pp_watermark = (vg_optl_t){wm != 0, wm};
        pp.pp_data_since = (vg_optl_t){wm != 0, 1735689600000}; /* 2025 */
        assert_int_equal(vg_agg_begin(agg, 1, e, sizeof(e)), VG_OK);
        assert_int_equal(vg_agg_progress(agg, &pp, 0, e, sizeof(e)), VG_OK);
        assert_int_equal(vg_agg_commit(agg, e, sizeof(e)), VG_OK);
        return drained(agg, codec);
}

/* May 1 2026 00:00 CEST: March's readmission values settle (SPEC §6.1:
 * the end of March + 30 local days). */
#define MAY1 1777586400000LL

/* Applies one part in its own batch and returns what was queued. */
/* A readmission_30d part of area, period, breakdown bd (NULL: none, as
 * version 1's), partition p, with num / den. */
static vg_ipart_t part_of(const char *area, const char *period,
                          const char *bd, int p, int64_t num, int64_t den) {
        vg_ipart_t ip = {0};
        ip.ip_indicator = "readmission_30d";
        ip.ip_area = (char *)area;
        ip.ip_period = (char *)period;
        ip.ip_breakdown = (char *)bd;
        ip.ip_partition = p;
        ip.ip_numerator = num;
        ip.ip_denominator = (vg_optl_t){true, den};
        return ip;
}

static seen_t step(vg_agg_t *agg, vg_codec_t *codec, int partition,
                   int64_t num, int64_t den) {
        vg_ipart_t ip = part_of("0484", "2026-03", NULL, partition, num,
                                den);
        char e[256];
        seen_t s;
        memset(&s, 0, sizeof(s));
        s.codec = codec;
        assert_int_equal(vg_agg_begin(agg, 1, e, sizeof(e)), VG_OK);
        assert_int_equal(vg_agg_part(agg, &ip, e, sizeof(e)), VG_OK);
        assert_int_equal(vg_agg_commit(agg, e, sizeof(e)), VG_OK);
        vg_outbox_scan(vg_agg_outbox(agg), 0, 64, scan_cb, &s);
        /* Delivered: empty the outbox for the next step. */
        assert_int_equal(vg_outbox_delete_upto(vg_agg_outbox(agg), INT64_MAX,
                                               e, sizeof(e)),
                         VG_OK);
        return s;
}

static void test_crossing(void **state) {
        char e[256];
        vg_conf_t *conf = vg_conf_new();
        vg_codec_t *codec = vg_codec_new(e, sizeof(e));
        vg_agg_t *agg;
        seen_t s;
        (void)state;
        /* target.readmission_30d defaults to <=0.10, min_denominator 20 */
        agg = vg_agg_open(":memory:", conf, codec, e, sizeof(e));
        assert_non_null(agg);
        vg_agg_set_input_partitions(agg, 3);
        progress(agg, codec, 0, MAY1);
        progress(agg, codec, 1, MAY1 + 5);
        progress(agg, codec, 2, 0); /* empty: left out */
        assert_int_equal(vg_agg_min_watermark(agg), MAY1);

        s = step(agg, codec, 0, 1, 10); /* 10 %, below min denominator */
        assert_int_equal(s.values, 1);
        assert_int_equal(s.active + s.retracted, 0);

        s = step(agg, codec, 1, 3, 10); /* sum 4/20 = 20 %: crosses */
        assert_int_equal(s.last_num, 4);
        assert_int_equal(s.last_den, 20);
        assert_int_equal(s.active, 1);
        assert_int_equal(s.retracted, 0);
        assert_string_equal(s.last_anchor, "readmission_30d|0484|2026-03");

        s = step(agg, codec, 1, 3, 10); /* same part again: same value */
        assert_int_equal(s.retracted, 0);

        s = step(agg, codec, 1, 1, 30); /* latest part wins: 2/40 = 5 % */
        assert_int_equal(s.last_num, 2);
        assert_int_equal(s.last_den, 40);
        assert_int_equal(s.active, 0);
        assert_int_equal(s.retracted, 1);

        s = step(agg, codec, 0, 1, 10); /* still fine: nothing */
        assert_int_equal(s.active + s.retracted, 0);

        vg_agg_close(agg);
        vg_codec_destroy(codec);
        vg_conf_destroy(conf);
}

/* The aggregator's state in a file, opened with conf: partitions set,
 * the stored alerts evaluated again if the settings changed (as vigil
 * aggregate starts); *n the values evaluated again. */
static vg_agg_t *reopen(const char *path, vg_conf_t *conf, vg_codec_t *codec,
                        int *n) {
        char e[256];
        vg_agg_t *agg = vg_agg_open(path, conf, codec, e, sizeof(e));
        assert_non_null(agg);
        vg_agg_set_input_partitions(agg, 2);
        *n = vg_agg_recheck(agg, 1, e, sizeof(e));
        assert_true(*n >= 0);
        return agg;
}

/* A restart of the aggregator on path with key set to value first (key
 * NULL: the same settings): what it queued at start, drained. */
static seen_t restart(const char *path, vg_conf_t *conf, vg_codec_t *codec,
                      const char *key, const char *value, int *n) {
        char e[256];
        vg_agg_t *agg;
        seen_t s;
        if (key)
                assert_int_equal(vg_conf_set(conf, key, value, e, sizeof(e)),
                                 VG_OK);
        agg = reopen(path, conf, codec, n);
        s = drained(agg, codec);
        vg_agg_close(agg);
        return s;
}

/* SPEC §5.4 "on the bad side of its configured target": a target changed
 * between runs applies to the values already published, which settled
 * values never are again (they do not change): at the aggregator's start
 * they are evaluated with the settings now, and only when those changed. */
static void test_target_changed(void **state) {
        char e[256], path[] = "/tmp/vigil-test-agg-XXXXXX";
        vg_conf_t *conf = vg_conf_new();
        vg_codec_t *codec = vg_codec_new(e, sizeof(e));
        vg_agg_t *agg;
        seen_t s;
        int fd = mkstemp(path), n;
        (void)state;
        assert_true(fd >= 0);
        close(fd);
        /* default target <= 0.10: 4/20 = 20 % breaches */
        agg = reopen(path, conf, codec, &n);
        assert_int_equal(n, 0); /* nothing published yet */
        progress(agg, codec, 0, MAY1);
        progress(agg, codec, 1, MAY1);
        s = step(agg, codec, 0, 4, 20);
        assert_int_equal(s.active, 1);
        vg_agg_close(agg);

        /* the same settings: nothing evaluated, nothing queued */
        s = restart(path, conf, codec, NULL, NULL, &n);
        assert_int_equal(n, 0);
        assert_int_equal(s.values + s.active + s.retracted, 0);

        /* target <= 0.25: 20 % is fine now; retracted at start */
        s = restart(path, conf, codec, "target.readmission_30d", "<=0.25", &n);
        assert_true(n >= 1); /* the month, its quarter and year */
        assert_int_equal(s.active, 0);
        assert_int_equal(s.retracted, 1);
        assert_int_equal(s.values, 1); /* republished as it was */
        assert_int_equal(s.last_num, 4);

        /* min_denominator 21: still none (20 < 21); then 20 again and
         * <= 0.15: raised again */
        assert_int_equal(vg_conf_set(conf, "target.readmission_30d", "<=0.15",
                                     e, sizeof(e)),
                         VG_OK);
        s = restart(path, conf, codec, "aggregate.min_denominator", "21", &n);
        assert_true(n >= 1);
        assert_int_equal(s.active + s.retracted, 0);
        s = restart(path, conf, codec, "aggregate.min_denominator", "20", &n);
        assert_true(n >= 1);
        assert_int_equal(s.active, 1);
        assert_int_equal(s.retracted, 0);

        /* target off: retracted */
        s = restart(path, conf, codec, "target.readmission_30d", "off", &n);
        assert_int_equal(s.active, 0);
        assert_int_equal(s.retracted, 1);

        unlink(path);
        {
                char p2[sizeof(path) + 8];
                snprintf(p2, sizeof(p2), "%s-wal", path);
                unlink(p2);
                snprintf(p2, sizeof(p2), "%s-shm", path);
                unlink(p2);
        }
        vg_codec_destroy(codec);
        vg_conf_destroy(conf);
}

/* SPEC §5.4, §6.1: a preliminary value raises nothing; it is complete
 * only once every input partition's watermark has passed its settling
 * time, and then it is republished (complete) and evaluated. */
static void test_complete_gates_alert(void **state) {
        char e[256];
        vg_conf_t *conf = vg_conf_new();
        vg_codec_t *codec = vg_codec_new(e, sizeof(e));
        vg_agg_t *agg = vg_agg_open(":memory:", conf, codec, e, sizeof(e));
        seen_t s;
        (void)state;
        assert_non_null(agg);
        vg_agg_set_input_partitions(agg, 2);
        s = step(agg, codec, 0, 10, 40); /* 25 %: a breach, if complete */
        assert_int_equal(s.values, 1);
        assert_false(s.last_complete);
        assert_int_equal(s.active, 0);
        /* partition 1 has published no progress: still incomplete, but
         * data_since became known: republished */
        s = progress(agg, codec, 0, MAY1);
        assert_int_equal(s.values, 1);
        assert_false(s.last_complete);
        assert_int_equal(s.active, 0);
        assert_int_equal(vg_agg_min_watermark(agg), VG_WM_NONE);
        /* 1 ms short of the settling time: nothing changes */
        s = progress(agg, codec, 1, MAY1 - 1);
        assert_int_equal(s.values + s.active, 0);
        s = progress(agg, codec, 1, MAY1);
        assert_int_equal(s.values, 1);
        assert_true(s.last_complete);
        assert_int_equal(s.active, 1);
        /* a later watermark changes nothing more */
        s = progress(agg, codec, 1, MAY1 + 1000);
        assert_int_equal(s.values + s.active + s.retracted, 0);
        vg_agg_close(agg);

        /* with aggregate.alert_preliminary, at once */
        assert_int_equal(vg_conf_set(conf, "aggregate.alert_preliminary",
                                     "true", e, sizeof(e)),
                         VG_OK);
        agg = vg_agg_open(":memory:", conf, codec, e, sizeof(e));
        s = step(agg, codec, 0, 10, 40);
        assert_false(s.last_complete);
        assert_int_equal(s.active, 1);
        vg_agg_close(agg);
        vg_codec_destroy(codec);
        vg_conf_destroy(conf);
}

/* Sums beyond 64 bits (parts no processor writes: vigil aggregate refuses
 * them, vg_pub_part_refused) are an error of the commit, never a cell
 * left out in silence (an attack's finding: the cell, and the quarters of
 * other breakdowns, were gone with exit 0). */
static void test_sum_overflow_is_an_error(void **state) {
        char e[256];
        vg_conf_t *conf = vg_conf_new();
        vg_codec_t *codec = vg_codec_new(e, sizeof(e));
        vg_agg_t *agg = vg_agg_open(":memory:", conf, codec, e, sizeof(e));
        (void)state;
        assert_non_null(agg);
        assert_int_equal(vg_agg_begin(agg, 1, e, sizeof(e)), VG_OK);
        for (int p = 0; p < 2; p++) {
                vg_ipart_t ip = part_of("SE", "2026-01", "all", p, INT64_MAX,
                                        INT64_MAX);
                assert_int_equal(vg_agg_part(agg, &ip, e, sizeof(e)), VG_OK);
        }
        assert_int_not_equal(vg_agg_commit(agg, e, sizeof(e)), VG_OK);
        print_message("    %s\n", e);
        vg_agg_close(agg);
        vg_codec_destroy(codec);
        vg_conf_destroy(conf);
}

/* SPEC §6.2: a quarter's and a year's counts are the sums of their months'
 * (over all partitions; the latest part per partition counts). */
static void test_quarters_and_years(void **state) {
        char e[256];
        vg_conf_t *conf = vg_conf_new();
        vg_codec_t *codec = vg_codec_new(e, sizeof(e));
        vg_agg_t *agg = vg_agg_open(":memory:", conf, codec, e, sizeof(e));
        static const struct { const char *period; int p; int64_t n, d; }
                parts[] = {{"2026-01", 0, 1, 10}, {"2026-02", 0, 2, 10},
                           {"2026-03", 1, 3, 10}, {"2026-04", 1, 4, 10},
                           {"2026-02", 0, 5, 20}, /* replaces Feb's */
                           {"2025-12", 0, 9, 90}};
        int64_t q1n = -1, q1d = -1, yn = -1, yd = -1, q2n = -1;
        (void)state;
        assert_non_null(agg);
        assert_int_equal(vg_agg_begin(agg, 1, e, sizeof(e)), VG_OK);
        for (size_t i = 0; i < VG_ARRAY_SIZE(parts); i++) {
                vg_ipart_t ip = part_of("SE", parts[i].period, "sex:MALE",
                                        parts[i].p, parts[i].n, parts[i].d);
                assert_int_equal(vg_agg_part(agg, &ip, e, sizeof(e)), VG_OK);
        }
        assert_int_equal(vg_agg_commit(agg, e, sizeof(e)), VG_OK);
        assert_int_equal(vg_agg_values(agg, values_cb,
                                       &(struct qy_s){&q1n, &q1d, &yn, &yd,
                                                      &q2n},
                                       e, sizeof(e)),
                         VG_OK);
        assert_int_equal(q1n, 1 + 5 + 3);
        assert_int_equal(q1d, 10 + 20 + 10);
        assert_int_equal(q2n, 4);
        assert_int_equal(yn, 1 + 5 + 3 + 4);
        assert_int_equal(yd, 50);
        vg_agg_close(agg);
        vg_codec_destroy(codec);
        vg_conf_destroy(conf);
}

static void test_targets_and_breach(void **state) {
        vg_conf_t *conf = vg_conf_new();
        char e[256];
        vg_target_t t;
        (void)state;
        t = vg_agg_target(conf, "sip_within_deadline");
        assert_true(t.tg_set && t.tg_higher_is_better);
        assert_true(vg_agg_breach(&t, 17, 20, 20));   /* 85 % < 90 % */
        assert_false(vg_agg_breach(&t, 18, 20, 20));  /* 90 %: met */
        assert_false(vg_agg_breach(&t, 1, 19, 20));   /* too few cases */
        t = vg_agg_target(conf, "death_place.HOME");
        assert_false(t.tg_set);
        vg_conf_set(conf, "target.readmission_30d", "off", e, sizeof(e));
        t = vg_agg_target(conf, "readmission_30d");
        assert_false(t.tg_set);
        vg_conf_destroy(conf);
}

/* SPEC §6.1 with an unevenly read parts topic (a rebuild, a replay): an
 * input partition's progress is sent to every parts partition after the
 * parts it vouches for there; until a copy came from each, and then as the
 * oldest copy, the aggregator counts it - so a progress read from one
 * parts partition before another partition's parts never makes a partial
 * sum complete (nor raises the alert a complete value would). */
static void test_progress_copies(void **state) {
        char e[256];
        vg_conf_t *conf = vg_conf_new();
        vg_codec_t *codec = vg_codec_new(e, sizeof(e));
        vg_agg_t *agg = vg_agg_open(":memory:", conf, codec, e, sizeof(e));
        seen_t s;
        (void)state;
        assert_non_null(agg);
        vg_agg_set_input_partitions(agg, 1);
        vg_agg_set_sources(agg, 2);
        /* parts partition 0: a part (1/40: fine) and the progress copy */
        s = step(agg, codec, 0, 1, 40);
        assert_false(s.last_complete);
        s = progress_from(agg, codec, 0, 0, MAY1);
        /* one copy of two: not complete, no alert */
        assert_int_equal(vg_agg_min_watermark(agg), VG_WM_NONE);
        assert_int_equal(s.active, 0);
        /* the same copy again changes nothing */
        s = progress_from(agg, codec, 0, 0, MAY1 + 10);
        assert_int_equal(vg_agg_min_watermark(agg), VG_WM_NONE);
        /* parts partition 1: a newer part of the same cell (latest part of
         * partition 0 wins: 12/40 = 30 %, a breach) and then the copy with
         * an older watermark: complete now, as of the oldest copy */
        s = step(agg, codec, 0, 12, 40);
        assert_false(s.last_complete);
        assert_int_equal(s.active, 0);
        s = progress_from(agg, codec, 0, 1, MAY1);
        assert_int_equal(vg_agg_min_watermark(agg), MAY1);
        assert_int_equal(s.active, 1);
        assert_true(s.last_complete);
        assert_int_equal(s.last_num, 12);
        /* copies that disagree on emptiness hold the partition back */
        s = progress_from(agg, codec, 0, 1, 0);
        assert_int_equal(vg_agg_min_watermark(agg), VG_WM_NONE);
        /* both empty: left out, and with no other partition no watermark */
        s = progress_from(agg, codec, 0, 0, 0);
        assert_int_equal(vg_agg_min_watermark(agg), VG_WM_NONE);
        vg_agg_close(agg);
        vg_codec_destroy(codec);
        vg_conf_destroy(conf);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_crossing),
                cmocka_unit_test(test_progress_copies),
                cmocka_unit_test(test_complete_gates_alert),
                cmocka_unit_test(test_quarters_and_years),
                cmocka_unit_test(test_sum_overflow_is_an_error),
                cmocka_unit_test(test_targets_and_breach),
                cmocka_unit_test(test_target_changed),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
