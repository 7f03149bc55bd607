/*
 * test_simulate.c - the synthetic population of `vigil simulate`:
 * determinism, validity (SPEC §3, §9), and rough realism bounds.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vg_record.h"
#include "vg_record_json.h"
#include "vg_time.h"
#include "vg_simulate.h"

/* The default period, 2026-01-01 + 180 days, is in the past, so nothing is
 * cut by the clock. */
static vg_sim_t *make(int64_t patients, uint64_t seed, double window_hours) {
        vg_sim_opts_t o;
        vg_sim_t *sim;
        char errstr[256];
        vg_sim_opts_init(&o);
        o.so_patients = patients;
        o.so_seed = seed;
        o.so_window_ms = (int64_t)(window_hours * VG_MS_PER_HOUR);
        sim = vg_sim_new(&o, errstr, sizeof(errstr));
        if (!sim)
                fail_msg("vg_sim_new: %s", errstr);
        return sim;
}

/* Every event as JSON Lines, concatenated. */
static char *dump(const vg_sim_t *sim) {
        vg_buf_t b;
        char *s;
        vg_buf_init(&b);
        for (size_t i = 0; i < vg_sim_count(sim); i++) {
                vg_event_t ev;
                char *js;
                vg_sim_event(sim, i, &ev);
                js = vg_record_to_jsonl(ev.ev_type, &ev);
                vg_buf_puts(&b, js);
                vg_buf_puts(&b, "\n");
                vg_free(js);
                vg_record_clear(ev.ev_type, &ev);
        }
        s = vg_strdup(b.vb_data ? b.vb_data : "");
        vg_buf_free(&b);
        return s;
}

static void test_determinism(void **state) {
        vg_sim_t *a = make(300, 42, 6), *b = make(300, 42, 6),
                 *c = make(300, 43, 6);
        char *da = dump(a), *db = dump(b), *dc = dump(c);
        (void)state;
        assert_true(vg_sim_count(a) > 300);
        assert_string_equal(da, db);
        assert_true(strcmp(da, dc) != 0);
        vg_free(da);
        vg_free(db);
        vg_free(dc);
        vg_sim_destroy(a);
        vg_sim_destroy(b);
        vg_sim_destroy(c);
}

static void test_valid_and_roundtrip(void **state) {
        vg_sim_t *sim = make(400, 7, 6);
        int64_t now = vg_now_ms();
        (void)state;
        for (size_t i = 0; i < vg_sim_count(sim); i++) {
                vg_event_t ev, back;
                char errstr[512], *js, *js2;
                vg_sim_event(sim, i, &ev);
                if (vg_event_validate(&ev, now, errstr, sizeof(errstr)))
                        fail_msg("event %zu invalid: %s", i, errstr);
                assert_int_equal(strlen(ev.ev_patient_id), 64);
                js = vg_record_to_jsonl(ev.ev_type, &ev);
                if (vg_event_from_jsonl(js, strlen(js), &back, errstr,
                                        sizeof(errstr)))
                        fail_msg("does not parse back: %s: %s", js, errstr);
                js2 = vg_record_to_jsonl(back.ev_type, &back);
                assert_string_equal(js, js2);
                vg_free(js);
                vg_free(js2);
                vg_record_clear(ev.ev_type, &ev);
                vg_record_clear(back.ev_type, &back);
        }
        vg_sim_destroy(sim);
}

/* What the realism checks need of an event. */
typedef struct tev_s {
        char    pid[65];
        char    eid[48];
        char    stay[48];
        char    cancels[48];
        int     type, setting, disp, place;
        bool    planned, dup, gone;
        int64_t at;
} tev_t;

static tev_t *load(const vg_sim_t *sim, size_t *np, int *ooop) {
        size_t n = vg_sim_count(sim);
        tev_t *t = vg_calloc(n, sizeof(*t));
        int64_t max = INT64_MIN;
        *ooop = 0;
        for (size_t i = 0; i < n; i++) {
                vg_event_t ev;
                int flags = vg_sim_event(sim, i, &ev);
                snprintf(t[i].pid, sizeof(t[i].pid), "%s", ev.ev_patient_id);
                snprintf(t[i].eid, sizeof(t[i].eid), "%s", ev.ev_event_id);
                snprintf(t[i].stay, sizeof(t[i].stay), "%s",
                         ev.ev_stay_id ? ev.ev_stay_id : "");
                snprintf(t[i].cancels, sizeof(t[i].cancels), "%s",
                         ev.ev_cancels_event_id ? ev.ev_cancels_event_id : "");
                t[i].type = ev.ev_type;
                t[i].setting = ev.ev_care_setting;
                t[i].disp = ev.ev_disposition;
                t[i].place = ev.ev_place_of_death;
                t[i].planned = ev.ev_planned;
                t[i].dup = flags & VG_SIM_DUPLICATE;
                t[i].at = ev.ev_occurred_at;
                if (ev.ev_occurred_at < max)
                        (*ooop)++;
                if (ev.ev_occurred_at > max)
                        max = ev.ev_occurred_at;
                vg_record_clear(ev.ev_type, &ev);
        }
        *np = n;
        return t;
}

static int cmp_id(const void *a, const void *b) {
        const tev_t *x = a, *y = b;
        int c = strcmp(x->pid, y->pid);
        if (c)
                return c;
        c = strcmp(x->eid, y->eid);
        if (c)
                return c;
        return (int)x->dup - (int)y->dup;
}

static int cmp_time(const void *a, const void *b) {
        const tev_t *x = a, *y = b;
        int c = strcmp(x->pid, y->pid);
        if (c)
                return c;
        if (x->at != y->at)
                return x->at < y->at ? -1 : 1;
        c = strcmp(x->stay, y->stay);
        return c ? c : strcmp(x->eid, y->eid);
}

static int64_t days(int64_t a, int64_t b) {
        return vg_days_between(VG_TZ_STOCKHOLM, a, b);
}

static void test_realism(void **state) {
        vg_sim_opts_t o;
        vg_sim_t *sim = make(2000, 1, 6);
        const vg_sim_stats_t *st = vg_sim_stats(sim);
        size_t n, m = 0;
        int ooo, patients = 0, dead = 0, after = 0, idx = 0, readm = 0;
        int dups = 0, cancels = 0, sips = 0, planned = 0, hadm = 0;
        tev_t *t;
        (void)state;

        vg_sim_opts_init(&o);
        t = load(sim, &n, &ooo);
        assert_true(ooo > 0);

        /* Duplicates: same event_id, identical content; then drop them. */
        qsort(t, n, sizeof(*t), cmp_id);
        for (size_t i = 0; i < n; i++) {
                if (i > 0 && !strcmp(t[i].pid, t[i - 1].pid) &&
                    !strcmp(t[i].eid, t[i - 1].eid)) {
                        assert_true(t[i].dup);
                        assert_int_equal(t[i].at, t[i - 1].at);
                        assert_int_equal(t[i].type, t[i - 1].type);
                        assert_string_equal(t[i].stay, t[i - 1].stay);
                        dups++;
                        continue;
                }
                assert_false(t[i].dup);
                t[m++] = t[i];
        }
        n = m;
        /* Cancellations: the target is an earlier event of the same
         * patient, of the same type. Drop both. */
        for (size_t i = 0; i < n; i++) {
                tev_t key, *tgt;
                if (!t[i].cancels[0])
                        continue;
                cancels++;
                key = t[i];
                snprintf(key.eid, sizeof(key.eid), "%s", t[i].cancels);
                key.dup = false;
                tgt = bsearch(&key, t, n, sizeof(*t), cmp_id);
                assert_non_null(tgt);
                assert_int_equal(tgt->type, t[i].type);
                assert_true(tgt->at <= t[i].at);
                assert_false(tgt->cancels[0]);
                tgt->gone = true;
                t[i].gone = true;
        }

        /* Per patient, in time order. Deaths: the earliest Death (even if
         * cancelled: its re-entry has the same instant). */
        qsort(t, n, sizeof(*t), cmp_time);
        for (size_t lo = 0, hi; lo < n; lo = hi) {
                int64_t death = INT64_MAX;
                for (hi = lo; hi < n && !strcmp(t[hi].pid, t[lo].pid); hi++)
                        if (t[hi].type == VG_REC_DEATH && t[hi].at < death)
                                death = t[hi].at;
                patients++;
                if (death != INT64_MAX)
                        dead++;
                for (size_t i = lo; i < hi; i++) {
                        if (t[i].at > death)
                                after++;
                        if (!t[i].gone && t[i].type == VG_REC_SIP)
                                sips++;
                }
                /* Readmissions (SPEC §5.1, simplified: the first live
                 * admission/discharge of a stay), for index discharges
                 * whose 30-day window closed before the period ended. */
                for (size_t i = lo; i < hi; i++) {
                        tev_t *d = &t[i];
                        bool first = true;
                        if (d->gone || d->type != VG_REC_DISCHARGE ||
                            d->setting != VG_CS_HOSPITAL_INPATIENT)
                                continue;
                        for (size_t j = lo; j < i; j++)
                                if (!t[j].gone && t[j].type == d->type &&
                                    !strcmp(t[j].stay, d->stay))
                                        first = false;
                        if (!first || d->disp == VG_DISP_DIED ||
                            d->disp == VG_DISP_TRANSFER_ACUTE ||
                            d->disp == VG_DISP_AGAINST_ADVICE ||
                            days(d->at, o.so_end_ms - 1) <= 30)
                                continue;
                        idx++;
                        for (size_t j = i + 1; j < hi; j++) {
                                tev_t *a = &t[j];
                                bool cont = false;
                                if (a->gone || a->type != VG_REC_ADMISSION ||
                                    a->setting != VG_CS_HOSPITAL_INPATIENT ||
                                    a->planned || a->at <= d->at)
                                        continue;
                                if (days(d->at, a->at) > 30)
                                        break;
                                for (size_t k = lo; k < j; k++)
                                        if (!t[k].gone &&
                                            t[k].type == VG_REC_DISCHARGE &&
                                            t[k].setting ==
                                                    VG_CS_HOSPITAL_INPATIENT &&
                                            t[k].disp ==
                                                    VG_DISP_TRANSFER_ACUTE &&
                                            a->at >= t[k].at &&
                                            days(t[k].at, a->at) <= 1)
                                                cont = true;
                                if (cont)
                                        continue;
                                readm++;
                                break;
                        }
                }
                for (size_t i = lo; i < hi; i++)
                        if (!t[i].gone && t[i].type == VG_REC_ADMISSION &&
                            t[i].setting == VG_CS_HOSPITAL_INPATIENT) {
                                hadm++;
                                planned += t[i].planned;
                        }
        }
        print_message("simulate: %d patients seen, %" PRId64 " events, "
                      "%d deaths (%.1f %%), %d index discharges, "
                      "readmitted %.1f %%, planned admissions %.1f %%, "
                      "%d SIPs, %d cancellations, %d duplicates, "
                      "%d out of order\n",
                      patients, st->ss_events, dead, 100.0 * dead / 2000, idx,
                      100.0 * readm / idx, 100.0 * planned / hadm, sips,
                      cancels, dups, ooo);
        assert_int_equal(after, 0);
        assert_true(idx > 300);
        assert_true(readm * 100 >= idx * 5 && readm * 100 <= idx * 25);
        assert_true(dead >= 2000 * 15 / 100 && dead <= 2000 * 35 / 100);
        assert_true(planned * 100 >= hadm * 15 && planned * 100 <= hadm * 35);
        assert_true(sips > 100);
        assert_true(cancels > 0 && dups > 0);
        assert_int_equal(cancels, st->ss_cancellations);
        assert_int_equal(dups, st->ss_duplicates);
        vg_free(t);
        vg_sim_destroy(sim);
}

static void test_in_order_without_window(void **state) {
        vg_sim_t *sim = make(500, 5, 0);
        size_t n;
        int ooo;
        tev_t *t = load(sim, &n, &ooo);
        (void)state;
        assert_true(n > 500);
        assert_int_equal(ooo, 0);
        vg_free(t);
        vg_sim_destroy(sim);
}

static void test_options(void **state) {
        vg_sim_opts_t o;
        vg_sim_t *sim;
        char errstr[256];
        const char *bad[] = {"0484", "12a4"};
        const char *two[] = {"0484", "1280"};
        int64_t cut;
        (void)state;

        vg_sim_opts_init(&o);
        o.so_patients = 0;
        assert_null(vg_sim_new(&o, errstr, sizeof(errstr)));
        vg_sim_opts_init(&o);
        o.so_end_ms = o.so_start_ms;
        assert_null(vg_sim_new(&o, errstr, sizeof(errstr)));
        vg_sim_opts_init(&o);
        o.so_dup_rate = 1.5;
        assert_null(vg_sim_new(&o, errstr, sizeof(errstr)));
        vg_sim_opts_init(&o);
        o.so_kommuner = bad;
        o.so_nkommuner = 2;
        assert_null(vg_sim_new(&o, errstr, sizeof(errstr)));
        assert_non_null(strstr(errstr, "12a4"));

        /* Only the kommuner asked for; one outside the table gets a
         * generic hospital of its region. A cut-off leaves out what
         * follows it. */
        vg_sim_opts_init(&o);
        o.so_patients = 300;
        o.so_kommuner = two;
        o.so_nkommuner = 2;
        cut = o.so_start_ms + 60 * VG_MS_PER_DAY;
        o.so_not_after_ms = cut;
        sim = vg_sim_new(&o, errstr, sizeof(errstr));
        assert_non_null(sim);
        {
                bool h12 = false;
                for (size_t i = 0; i < vg_sim_count(sim); i++) {
                        vg_event_t ev;
                        vg_sim_event(sim, i, &ev);
                        assert_true(!strcmp(ev.ev_kommun, "0484") ||
                                    !strcmp(ev.ev_kommun, "1280"));
                        assert_true(ev.ev_occurred_at >= o.so_start_ms &&
                                    ev.ev_occurred_at < cut);
                        if (ev.ev_facility_id &&
                            !strcmp(ev.ev_facility_id, "H12"))
                                h12 = true;
                        vg_record_clear(ev.ev_type, &ev);
                }
                assert_true(h12);
        }
        vg_sim_destroy(sim);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_determinism),
                cmocka_unit_test(test_valid_and_roundtrip),
                cmocka_unit_test(test_realism),
                cmocka_unit_test(test_in_order_without_window),
                cmocka_unit_test(test_options),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
