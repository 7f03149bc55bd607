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
                        /* Only the register entry comes after death. */
                        if (t[i].at > death && t[i].type != VG_REC_REGISTER)
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

/* ------------------------------------------------------------------ */
/* Residence and register entries                                     */
/* ------------------------------------------------------------------ */

typedef struct rpat_s {
        char    pid[65];
        int     kommun;        /* index into kom[] */
        int     residence;     /* -1: none seen */
        bool    res_changed;
        int     diag, age;
        int64_t death_at;      /* earliest Death, INT64_MAX if none */
        bool    expected;
        int     nentries;      /* non-cancelling register entries */
        int64_t entry_at;      /* first one */
        int64_t entry_death_at;
        bool    entry_expected;
        int     answers[VG_Q__CNT];
        int     ulcer;
} rpat_t;

static int cmp_pid(const void *a, const void *b) {
        return strcmp(((const rpat_t *)a)->pid, ((const rpat_t *)b)->pid);
}

static rpat_t *rpat_get(rpat_t *pp, size_t *np, const char *pid) {
        for (size_t i = *np; i-- > 0;)  /* recent ones first */
                if (!strcmp(pp[i].pid, pid))
                        return &pp[i];
        memset(&pp[*np], 0, sizeof(pp[*np]));
        snprintf(pp[*np].pid, sizeof(pp[*np].pid), "%s", pid);
        pp[*np].residence = -1;
        pp[*np].death_at = INT64_MAX;
        pp[*np].kommun = -1;
        return &pp[(*np)++];
}

#define NKOM_MAX 400

static void test_register_and_residence(void **state) {
        static const double lo[VG_Q__CNT] = {.80, .75, .70, .70, .92,
                                             .86, .75, .80, .75, .65};
        static const double hi[VG_Q__CNT] = {.90, .90, .85, .85, .985,
                                             .94, .85, .90, .85, .75};
        vg_sim_opts_t o;
        vg_sim_t *sim, *noreg;
        char errstr[256], kom[NKOM_MAX][5];
        int nkom = 0, res_cnt[VG_RES__CNT] = {0}, seen = 0;
        int nh_old = 0, old = 0, nh_young = 0, young = 0;
        int ans[VG_Q__CNT][3] = {{0}}, ulcer[4] = {0}, entries = 0;
        int exp_due = 0, exp_timely = 0, exp_old = 0, exp_never = 0;
        int unexp_old = 0, unexp_reg = 0, late = 0, registered = 0;
        int same_expected = 0, kom_n[NKOM_MAX] = {0};
        int kom_eol[NKOM_MAX] = {0}, kom_opioid[NKOM_MAX] = {0};
        int kom_free[NKOM_MAX] = {0};
        int meet = 0, miss = 0;
        double eol_min = 1, eol_max = 0;
        size_t n, np = 0, cap;
        rpat_t *pp;
        int64_t end;
        (void)state;

        vg_sim_opts_init(&o);
        o.so_patients = 4000;
        o.so_seed = 12;
        o.so_end_ms = o.so_start_ms + 365 * VG_MS_PER_DAY;
        end = o.so_end_ms;
        sim = vg_sim_new(&o, errstr, sizeof(errstr));
        assert_non_null(sim);
        n = vg_sim_count(sim);
        cap = (size_t)o.so_patients;
        pp = vg_calloc(cap, sizeof(*pp));
        assert_true(vg_sim_stats(sim)->ss_register > 0);

        for (size_t i = 0; i < n; i++) {
                vg_event_t ev;
                rpat_t *p;
                int k;
                vg_sim_event(sim, i, &ev);
                p = rpat_get(pp, &np, ev.ev_patient_id);
                assert_true(np <= cap);
                for (k = 0; k < nkom && strcmp(kom[k], ev.ev_kommun); k++)
                        ;
                if (k == nkom) {
                        assert_true(nkom < NKOM_MAX);
                        snprintf(kom[nkom++], 5, "%s", ev.ev_kommun);
                }
                p->kommun = k;
                switch (ev.ev_type) {
                case VG_REC_ADMISSION:
                case VG_REC_DEATH:
                        assert_true(ev.ev_residence >= 0 &&
                                    ev.ev_residence < VG_RES__CNT);
                        if (p->residence >= 0 &&
                            p->residence != ev.ev_residence)
                                p->res_changed = true;
                        p->residence = ev.ev_residence;
                        p->diag = ev.ev_diagnosis_group;
                        p->age = ev.ev_age_years;
                        if (ev.ev_type == VG_REC_DEATH &&
                            ev.ev_occurred_at < p->death_at) {
                                p->death_at = ev.ev_occurred_at;
                                p->expected = ev.ev_expected;
                        }
                        break;
                case VG_REC_REGISTER:
                        assert_string_equal(ev.ev_source_system, "sim-spr");
                        assert_non_null(ev.ev_unit_id);
                        assert_true(strlen(ev.ev_unit_id) >= 3);
                        assert_true(ev.ev_occurred_at > ev.ev_death_at);
                        assert_true(ev.ev_occurred_at < end);
                        if (ev.ev_cancels_event_id)
                                break;
                        if (p->nentries++ == 0 ||
                            ev.ev_occurred_at < p->entry_at) {
                                p->entry_at = ev.ev_occurred_at;
                                p->entry_death_at = ev.ev_death_at;
                                p->entry_expected = ev.ev_expected;
                                memcpy(p->answers, ev.ev_answers,
                                       sizeof(p->answers));
                                p->ulcer = ev.ev_pressure_ulcer;
                        }
                        break;
                default:
                        break;
                }
                vg_record_clear(ev.ev_type, &ev);
        }
        qsort(pp, np, sizeof(*pp), cmp_pid);

        for (size_t i = 0; i < np; i++) {
                rpat_t *p = &pp[i];
                int64_t dday, eday;
                /* Residence: stable per patient. */
                assert_false(p->res_changed);
                if (p->residence >= 0) {
                        seen++;
                        res_cnt[p->residence]++;
                        if (p->diag == VG_DG_DEMENTIA || p->age >= 85) {
                                old++;
                                nh_old += p->residence == VG_RES_NURSING_HOME;
                        } else {
                                young++;
                                nh_young +=
                                        p->residence == VG_RES_NURSING_HOME;
                        }
                }
                /* Entries only for deaths, reporting that death. */
                if (p->nentries) {
                        assert_true(p->death_at != INT64_MAX);
                        assert_int_equal(p->entry_death_at, p->death_at);
                        entries++;
                        same_expected += p->entry_expected == p->expected;
                        if (p->entry_expected) {
                                int k = p->kommun;
                                for (int q = 0; q < VG_Q__CNT; q++)
                                        ans[q][p->answers[q]]++;
                                ulcer[p->ulcer]++;
                                kom_n[k]++;
                                kom_eol[k] += p->answers[0] == VG_ANS_YES;
                                kom_opioid[k] +=
                                        p->answers[VG_Q_PRN_OPIOID] ==
                                        VG_ANS_YES;
                                kom_free[k] += p->ulcer == VG_PU_NONE ||
                                               p->ulcer == VG_PU_GRADE_1;
                        }
                }
                if (p->death_at == INT64_MAX)
                        continue;
                dday = vg_local_day(VG_TZ_STOCKHOLM, p->death_at);
                eday = vg_local_day(VG_TZ_STOCKHOLM, end);
                if (p->nentries) {
                        int64_t d = vg_local_day(VG_TZ_STOCKHOLM,
                                                 p->entry_at) - dday;
                        assert_true(d >= 1 && d <= 200);
                        assert_true(d <= 40 || d >= 60);
                        registered++;
                        late += d >= 60;
                }
                /* Deaths whose whole registration window (200 days) ended
                 * inside the period. */
                if (eday - dday > 201) {
                        if (p->expected) {
                                exp_old++;
                                exp_never += !p->nentries;
                        } else {
                                unexp_old++;
                                unexp_reg += p->nentries > 0;
                        }
                }
                if (eday - dday > 41 && p->expected) {
                        exp_due++;
                        exp_timely += p->nentries &&
                                      vg_local_day(VG_TZ_STOCKHOLM,
                                                   p->entry_at) - dday <= 40;
                }
        }
        print_message("register: %d patients seen; residence ORDINARY_HOME "
                      "%d, NURSING_HOME %d, SHORT_TERM_CARE %d, OTHER %d, "
                      "UNKNOWN %d; NURSING_HOME %.1f %% of dementia/85+, "
                      "%.1f %% of others\n", seen,
                      res_cnt[0], res_cnt[1], res_cnt[2], res_cnt[3],
                      res_cnt[4], 100.0 * nh_old / old,
                      100.0 * nh_young / young);
        print_message("register: %d entries (%d late), expected deaths: "
                      "%.1f %% registered within 40 days, %.1f %% never "
                      "(of %d); unexpected registered %.1f %% (of %d); "
                      "entry's expected = death's %.1f %%\n",
                      entries, late, 100.0 * exp_timely / exp_due,
                      100.0 * exp_never / exp_old, exp_old,
                      100.0 * unexp_reg / unexp_old, unexp_old,
                      100.0 * same_expected / entries);

        /* Residence: every symbol, mostly ordinary homes; nursing homes
         * more often for the old and the demented. */
        for (int r = 0; r < VG_RES__CNT; r++)
                assert_true(res_cnt[r] > 0);
        assert_true(res_cnt[VG_RES_ORDINARY_HOME] * 100 >= seen * 55 &&
                    res_cnt[VG_RES_ORDINARY_HOME] * 100 <= seen * 85);
        assert_true(res_cnt[VG_RES_NURSING_HOME] * 100 >= seen * 8 &&
                    res_cnt[VG_RES_NURSING_HOME] * 100 <= seen * 30);
        for (int r = VG_RES_SHORT_TERM_CARE; r <= VG_RES_UNKNOWN; r++)
                assert_true(res_cnt[r] * 100 >= seen * 1 &&
                            res_cnt[r] * 100 <= seen * 8);
        assert_true(2 * nh_old * young > 3 * nh_young * old);

        /* Timing: most expected deaths registered within 40 days, ~12 %
         * never, a few late; some unexpected deaths registered too. */
        assert_true(exp_due > 300 && exp_old > 200 && unexp_old > 50);
        assert_true(exp_timely * 100 >= exp_due * 70 &&
                    exp_timely * 100 <= exp_due * 88);
        assert_true(exp_never * 100 >= exp_old * 8 &&
                    exp_never * 100 <= exp_old * 18);
        assert_true(late * 100 >= registered * 4 &&
                    late * 100 <= registered * 16);
        assert_true(unexp_reg * 100 >= unexp_old * 10 &&
                    unexp_reg * 100 <= unexp_old * 40);
        assert_true(same_expected * 100 >= entries * 90 &&
                    same_expected < entries);

        /* Answers of expected deaths' entries: YES near the national rates,
         * every symbol used, UNKNOWN a few per cent. */
        {
                int ne = ans[0][0] + ans[0][1] + ans[0][2];
                assert_true(ne > 400);
                for (int q = 0; q < VG_Q__CNT; q++) {
                        double yes = (double)ans[q][VG_ANS_YES] / ne;
                        double unk = (double)ans[q][VG_ANS_UNKNOWN] / ne;
                        print_message("register: %-21s YES %.3f NO %.3f "
                                      "UNKNOWN %.3f\n", vg_question_names[q],
                                      yes, (double)ans[q][VG_ANS_NO] / ne,
                                      unk);
                        assert_true(yes >= lo[q] - 0.04 &&
                                    yes <= hi[q] + 0.02);
                        assert_true(unk >= 0.005 && unk <= 0.06);
                        for (int a = 0; a < 3; a++)
                                assert_true(ans[q][a] > 0);
                }
                print_message("register: pressure_ulcer NONE %.3f GRADE_1 "
                              "%.3f GRADE_2_4 %.3f UNKNOWN %.3f\n",
                              (double)ulcer[0] / ne, (double)ulcer[1] / ne,
                              (double)ulcer[2] / ne, (double)ulcer[3] / ne);
                assert_true(ulcer[0] * 100 >= ne * 72 &&
                            ulcer[0] * 100 <= ne * 88);
                assert_true(ulcer[1] * 100 >= ne * 3 &&
                            ulcer[1] * 100 <= ne * 10);
                assert_true(ulcer[2] * 100 >= ne * 5 &&
                            ulcer[2] * 100 <= ne * 15);
                assert_true(ulcer[3] * 100 >= ne * 1 &&
                            ulcer[3] * 100 <= ne * 7);
        }

        /* By kommun (those with 25+ entries): the rates vary, some
         * kommuner reach a target of Socialstyrelsen (prn_opioid >= 0.98 or
         * pressure-ulcer free >= 0.90) and some miss both. */
        for (int k = 0; k < nkom; k++) {
                double eol, op, fr;
                if (kom_n[k] < 25)
                        continue;
                eol = (double)kom_eol[k] / kom_n[k];
                op = (double)kom_opioid[k] / kom_n[k];
                fr = (double)kom_free[k] / kom_n[k];
                eol_min = eol < eol_min ? eol : eol_min;
                eol_max = eol > eol_max ? eol : eol_max;
                if (op >= 0.98 || fr >= 0.90)
                        meet++;
                else
                        miss++;
        }
        print_message("register: kommuner with 25+ entries: %d reach a "
                      "target, %d miss both; eol_conversation %.3f..%.3f\n",
                      meet, miss, eol_min, eol_max);
        assert_true(meet >= 1 && miss >= 1);
        assert_true(eol_max - eol_min >= 0.05);

        /* --no-register: the same run without the register lines. */
        o.so_no_register = true;
        noreg = vg_sim_new(&o, errstr, sizeof(errstr));
        assert_non_null(noreg);
        assert_int_equal(vg_sim_stats(noreg)->ss_register, 0);
        {
                size_t j = 0;
                for (size_t i = 0; i < n; i++) {
                        vg_event_t a, b;
                        char *ja, *jb;
                        vg_sim_event(sim, i, &a);
                        if (a.ev_type == VG_REC_REGISTER) {
                                vg_record_clear(a.ev_type, &a);
                                continue;
                        }
                        assert_true(j < vg_sim_count(noreg));
                        vg_sim_event(noreg, j++, &b);
                        ja = vg_record_to_jsonl(a.ev_type, &a);
                        jb = vg_record_to_jsonl(b.ev_type, &b);
                        assert_string_equal(ja, jb);
                        vg_free(ja);
                        vg_free(jb);
                        vg_record_clear(a.ev_type, &a);
                        vg_record_clear(b.ev_type, &b);
                }
                assert_int_equal(j, vg_sim_count(noreg));
        }
        vg_sim_destroy(noreg);
        vg_free(pp);
        vg_sim_destroy(sim);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_determinism),
                cmocka_unit_test(test_valid_and_roundtrip),
                cmocka_unit_test(test_realism),
                cmocka_unit_test(test_in_order_without_window),
                cmocka_unit_test(test_options),
                cmocka_unit_test(test_register_and_residence),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
