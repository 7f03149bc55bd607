/*
 * test_engine_property.c - property test of SPEC §5: "The final set of
 * ACTIVE alerts after all events are processed depends only on the set of
 * events, never on their arrival order, batching, ...", and the same for
 * the indicator counters (§6, §7 "no event is counted twice").
 *
 * A fixed-seed PRNG generates event sets for a few patients (stays in all
 * settings, dispositions, planned flags, needs_coordination, conflicting
 * admissions/discharges, deaths, SIPs, cancellations of any earlier event
 * of the same patient - arriving before or after their target - and
 * identical re-sends). Times are often placed exactly on rule boundaries
 * (same instant, +72 h, +30/31 local days, local midnight) to hit ties.
 * Every set runs through one vg_part (":memory:") several times: in
 * generation order as one batch, and in random permutations with random
 * batch boundaries (some runs with few patients kept in memory, some in
 * memory only, as file mode runs; some deriving each patient once at a
 * commit for the events added before it, as Kafka mode catching up). The
 * final ACTIVE alerts (last status
 * per alert_id in the outbox, emitted_at ignored) and the non-empty
 * counter cells must be identical across runs, and equal to
 * vg_rules_derive() of every patient's whole event set at the final stream
 * time (an oracle for the engine, partition store and timers).
 *
 * Diagnostics: VG_PROP_FLUSH=1 adds an empty batch after the last commit
 * (so timers left due by the last batch fire; see the BUG note at
 * run_set()), to see whether anything else differs; VG_PROP_SETS=n
 * changes the number of sets (e.g. fewer under valgrind), VG_PROP_SEED=n
 * the seed (for exploration; the default run is fixed).
 *
 * Spans stay well under the 400-day retention, so pruning (SPEC §7) is
 * outside this property. Cancellations of cancellations ("not supported",
 * SPEC §5.0) are not generated.
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
#include "vg_partition.h"
#include "vg_record_json.h"

#define NSETS 300    /* VG_PROP_SETS overrides (e.g. fewer under valgrind) */
#define NRUNS 6      /* run 0: generation order, one batch; then shuffles */
#define SEED  0x5eed2026c0ffeeULL

/* ------------------------------------------------------------------------
 * PRNG (splitmix64: deterministic on every platform)
 * ---------------------------------------------------------------------- */

static uint64_t g_rng;

static uint64_t rnd64(void) {
        uint64_t z = (g_rng += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
}

/* uniform in [0, n) */
static int rnd(int n) {
        return (int)(rnd64() % (uint64_t)n);
}

static bool chance(int percent) {
        return rnd(100) < percent;
}

/* ------------------------------------------------------------------------
 * String lists (sorted, compared as wholes)
 * ---------------------------------------------------------------------- */

typedef struct strs_s {
        char **s;
        int    n, cap;
} strs_t;

static void strs_add(strs_t *l, char *owned) {
        if (l->n == l->cap) {
                l->cap = l->cap ? l->cap * 2 : 32;
                l->s = vg_realloc(l->s, sizeof(char *) * (size_t)l->cap);
        }
        l->s[l->n++] = owned;
}

static void strs_free(strs_t *l) {
        for (int i = 0; i < l->n; i++)
                vg_free(l->s[i]);
        vg_free(l->s);
        memset(l, 0, sizeof(*l));
}

static int str_qcmp(const void *a, const void *b) {
        return strcmp(*(char *const *)a, *(char *const *)b);
}

static void strs_sort(strs_t *l) {
        if (l->n > 1)
                qsort(l->s, (size_t)l->n, sizeof(char *), str_qcmp);
}

/* Prints the differences of two sorted lists; returns 0 if equal. */
static int strs_diff(const strs_t *a, const strs_t *b, const char *what,
                     const char *na, const char *nb) {
        int i = 0, j = 0, diff = 0;
        while (i < a->n || j < b->n) {
                int c = i >= a->n   ? 1
                        : j >= b->n ? -1
                                    : strcmp(a->s[i], b->s[j]);
                if (c == 0) {
                        i++, j++;
                        continue;
                }
                diff++;
                if (diff <= 12) {
                        if (c < 0)
                                print_message("  %s only in %s: %s\n", what,
                                              na, a->s[i]);
                        else
                                print_message("  %s only in %s: %s\n", what,
                                              nb, b->s[j]);
                }
                if (c < 0)
                        i++;
                else
                        j++;
        }
        return diff;
}

/* ------------------------------------------------------------------------
 * Generator
 * ---------------------------------------------------------------------- */

static const char *const kommuns[] = {"0484", "0180", "0486", "2380", "1280"};

/* A time near `ref`, often on a rule boundary. */
static int64_t near_time(int64_t ref) {
        switch (rnd(10)) {
        case 0:
                return ref; /* tie */
        case 1:
                return ref + 72 * VG_MS_PER_HOUR + (rnd(3) - 1); /* deadline */
        case 2: { /* local midnight of day +30/+31 (and 1 ms before) */
                int64_t day = vg_local_day(VG_TZ_STOCKHOLM, ref) + 30 + rnd(2);
                return vg_rules_local_midnight(VG_TZ_STOCKHOLM, day) -
                       rnd(2);
        }
        case 3: /* next local day, late evening / just after midnight */
                return vg_rules_local_midnight(
                               VG_TZ_STOCKHOLM,
                               vg_local_day(VG_TZ_STOCKHOLM, ref) + 1 +
                                       rnd(2)) +
                       (rnd(2) ? -VG_MS_PER_HOUR / 2 : VG_MS_PER_HOUR / 6);
        case 4:
                return ref + rnd(6) * VG_MS_PER_HOUR;
        default:
                return ref + (int64_t)rnd(20 * 24) * VG_MS_PER_HOUR +
                       rnd(60) * 60000;
        }
}

static int pick_disposition(void) {
        static const int w[] = {VG_DISP_HOME, VG_DISP_HOME, VG_DISP_HOME,
                                VG_DISP_NURSING_HOME, VG_DISP_SHORT_TERM_CARE,
                                VG_DISP_PALLIATIVE_UNIT,
                                VG_DISP_TRANSFER_ACUTE, VG_DISP_TRANSFER_ACUTE,
                                VG_DISP_AGAINST_ADVICE, VG_DISP_DIED,
                                VG_DISP_OTHER};
        return w[rnd((int)(sizeof(w) / sizeof(w[0])))];
}

static int pick_setting(void) {
        return chance(70) ? VG_CS_HOSPITAL_INPATIENT : rnd(5);
}

static vg_event_t *gen_push(evs_t *e, vg_rectype_t type, const char *pid,
                            int *seq, int64_t at, const char *kommun) {
        char id[32];
        vg_event_t *ev;
        snprintf(id, sizeof(id), "e%02d", (*seq)++);
        ev = evs_push(e, type, pid, id, at);
        ev_kommun(ev, kommun);
        return ev;
}

static void gen_patient(evs_t *e, const char *pid, int64_t base,
                        int nstays) {
        int seq = 0, first = e->n;
        const char *kommun = kommuns[rnd(5)];
        int64_t t = base;
        int64_t last_dis = base;

        for (int s = 0; s < nstays; s++) {
                char stay[16];
                int setting = pick_setting();
                int64_t at;
                vg_event_t *ev;
                snprintf(stay, sizeof(stay), "s%d", rnd(2) ? s : 9 - s);
                if (chance(10))
                        kommun = kommuns[rnd(5)];
                at = s ? near_time(last_dis) : t;
                if (chance(85)) {
                        ev = gen_push(e, VG_REC_ADMISSION, pid, &seq, at,
                                      kommun);
                        ev_set_str(&ev->ev_stay_id, stay);
                        ev->ev_care_setting = setting;
                        ev->ev_planned = chance(25);
                        ev->ev_age_years = 60 + rnd(30);
                        ev->ev_diagnosis_group = rnd(VG_DG__CNT);
                        ev->ev_sex = rnd(3);
                        if (chance(10)) { /* conflicting admission */
                                vg_event_t *c = gen_push(
                                        e, VG_REC_ADMISSION, pid, &seq,
                                        chance(50) ? at : near_time(at),
                                        kommun);
                                ev = &e->ev[e->n - 2];
                                ev_set_str(&c->ev_stay_id, stay);
                                c->ev_care_setting = setting;
                                c->ev_planned = chance(50);
                                c->ev_age_years = ev->ev_age_years + rnd(2);
                                c->ev_diagnosis_group = rnd(VG_DG__CNT);
                        }
                }
                if (chance(85)) {
                        int64_t dt = at + rnd(8) * VG_MS_PER_DAY +
                                     rnd(24) * VG_MS_PER_HOUR;
                        ev = gen_push(e, VG_REC_DISCHARGE, pid, &seq, dt,
                                      kommun);
                        ev_set_str(&ev->ev_stay_id, stay);
                        ev->ev_care_setting = setting;
                        ev->ev_disposition = pick_disposition();
                        ev->ev_needs_coordination = chance(50);
                        last_dis = dt;
                        if (chance(8)) { /* conflicting discharge */
                                vg_event_t *c = gen_push(
                                        e, VG_REC_DISCHARGE, pid, &seq,
                                        chance(50) ? dt : near_time(dt),
                                        kommun);
                                ev_set_str(&c->ev_stay_id, stay);
                                c->ev_care_setting = setting;
                                c->ev_disposition = pick_disposition();
                                c->ev_needs_coordination = chance(50);
                        }
                } else
                        last_dis = at;
        }
        if (e->n == first) /* no stay events at all: a lone SIP */
                gen_push(e, VG_REC_SIP, pid, &seq, base, kommun);
        /* SIPs around the discharges */
        for (int k = rnd(4); k > 0; k--) {
                const vg_event_t *ref = &e->ev[first + rnd(e->n - first)];
                int64_t at;
                switch (rnd(4)) {
                case 0: /* window start without admission, +-1 ms */
                        at = ref->ev_occurred_at - 720 * VG_MS_PER_HOUR +
                             (rnd(3) - 1);
                        break;
                case 1: /* at the event (e.g. the stay's admission) */
                        at = ref->ev_occurred_at - rnd(2);
                        break;
                default:
                        at = chance(50) ? near_time(ref->ev_occurred_at)
                                        : ref->ev_occurred_at -
                                                  rnd(5) * VG_MS_PER_DAY;
                }
                gen_push(e, VG_REC_SIP, pid, &seq, at, kommun);
        }
        /* deaths */
        if (chance(35)) {
                int n = chance(15) ? 2 : 1;
                for (int k = 0; k < n; k++) {
                        const vg_event_t *ref =
                                &e->ev[first + rnd(e->n - first)];
                        vg_event_t *ev = gen_push(
                                e, VG_REC_DEATH, pid, &seq,
                                near_time(ref->ev_occurred_at),
                                kommuns[rnd(5)]);
                        ev->ev_place_of_death = rnd(VG_POD__CNT);
                        ev->ev_expected = chance(60);
                }
        }
        /* cancellations of earlier events (any type, never of a
         * cancellation), sometimes of an id that never arrives */
        for (int i = first, n = e->n; i < n; i++) {
                vg_event_t *c;
                char target[32];
                if (!chance(9))
                        continue;
                snprintf(target, sizeof(target), "%s",
                         chance(90) ? e->ev[i].ev_event_id : "e99");
                c = gen_push(e, (vg_rectype_t)rnd(VG_EVENT_TYPES), pid, &seq,
                             chance(80) ? near_time(e->ev[i].ev_occurred_at)
                                        : e->ev[i].ev_occurred_at -
                                                  rnd(48) * VG_MS_PER_HOUR,
                             kommun);
                ev_set_str(&c->ev_cancels_event_id, target);
                if (c->ev_type == VG_REC_ADMISSION ||
                    c->ev_type == VG_REC_DISCHARGE) {
                        ev_set_str(&c->ev_stay_id, "s0");
                        c->ev_needs_coordination = true;
                }
        }
        /* identical re-sends */
        for (int i = first, n = e->n; i < n; i++) {
                vg_event_t *d;
                if (!chance(8))
                        continue;
                d = evs_push(e, e->ev[i].ev_type, pid, "tmp", 0);
                vg_record_clear(d->ev_type, d);
                vg_record_copy(e->ev[i].ev_type, d, &e->ev[i]);
        }
}

static void gen_set(int set, evs_t *e) {
        int npat = 1 + rnd(3);
        /* bases across the year, so DST changes and month ends occur */
        int64_t base = T("2026-01-01T00:00:00Z") +
                       (int64_t)rnd(330) * VG_MS_PER_DAY +
                       (int64_t)rnd(24 * 60) * 60000;
        for (int p = 0; p < npat; p++) {
                char pid[32];
                /* one set in ten has a patient of 16-20 stays: more events
                 * than file mode keeps packed (VG_PART_PACK_EVENTS) */
                int nstays = 1 + rnd(5);
                if (set % 10 == 9 && p == 0)
                        nstays = 16 + set % 5;
                snprintf(pid, sizeof(pid), "x%03d-p%d", set, p);
                gen_patient(e, pid, base + (int64_t)rnd(20) * VG_MS_PER_DAY,
                            nstays);
        }
}

/* ------------------------------------------------------------------------
 * Running a set through a partition
 * ---------------------------------------------------------------------- */

typedef struct result_s {
        strs_t alerts;    /* "alert_id json" of the final ACTIVE alerts */
        strs_t cells;     /* "key num den count" of non-empty cells */
        int    retracted; /* RETRACTED records seen in the outbox */
        int    active[4]; /* final ACTIVE per rule */
} result_t;

static void result_free(result_t *r) {
        strs_free(&r->alerts);
        strs_free(&r->cells);
        memset(r, 0, sizeof(*r));
}

/* Alert as comparable text: status ACTIVE, emitted_at ignored. */
static char *alert_text(const vg_alert_t *al) {
        vg_alert_t c;
        char *js, *line;
        vg_buf_t b;
        memcpy(&c, al, sizeof(c));
        c.al_emitted_at = 0;
        c.al_status = VG_STATUS_ACTIVE;
        js = vg_record_to_jsonl(VG_REC_ALERT, &c);
        vg_buf_init(&b);
        vg_buf_printf(&b, "%s %s", al->al_alert_id, js);
        vg_buf_append(&b, "", 1);
        vg_free(js);
        line = vg_strdup((const char *)b.vb_data);
        vg_buf_free(&b);
        return line;
}

static char *cell_text(const char *key, int64_t num, int64_t den, bool count) {
        char buf[512];
        snprintf(buf, sizeof(buf), "%s %lld %lld %d", key, (long long)num,
                 (long long)den, count ? 1 : 0);
        return vg_strdup(buf);
}

static bool cell_empty(int64_t num, int64_t den, bool count) {
        return count ? num == 0 : (num == 0 && den == 0);
}

/* alert_id -> last decoded alert (small linear map; sets are small) */
typedef struct drain_s {
        vg_codec_t *codec;
        vg_alert_t *al;
        int         n, cap;
        int         retracted;
        int         bad;
} drain_t;

static void drain_cb(const vg_outrec_t *r, void *opaque) {
        drain_t *d = opaque;
        vg_anyrec_t rec;
        vg_rectype_t t;
        char errstr[256];
        int i;
        if (strcmp(r->or_topic, "care.alerts.v1"))
                return;
        if (vg_codec_decode(d->codec, r->or_value, r->or_value_len,
                            VG_REC_ALERT, &t, &rec, NULL, errstr,
                            sizeof(errstr))) {
                d->bad++;
                return;
        }
        if (rec.al.al_status == VG_STATUS_RETRACTED)
                d->retracted++;
        for (i = 0; i < d->n; i++)
                if (!strcmp(d->al[i].al_alert_id, rec.al.al_alert_id))
                        break;
        if (i == d->n) {
                if (d->n == d->cap) {
                        d->cap = d->cap ? d->cap * 2 : 16;
                        d->al = vg_realloc(d->al,
                                           sizeof(vg_alert_t) * (size_t)d->cap);
                }
                d->n++;
        } else
                vg_record_clear(VG_REC_ALERT, &d->al[i]);
        memcpy(&d->al[i], &rec.al, sizeof(vg_alert_t)); /* takes ownership */
}

static void cells_cb(const char *key, int64_t num, int64_t den, bool count,
                     void *opaque) {
        if (!cell_empty(num, den, count))
                strs_add(opaque, cell_text(key, num, den, count));
}

static vg_codec_t *g_codec;
static unsigned g_runs;      /* run_set calls: which derive at commits */
static int64_t g_tail;       /* events added to packed patients' tails */
static int64_t g_deferred;   /* patients derived at a commit, all runs */
static int64_t g_pruned;     /* events pruned by retention, all runs */
static vg_rules_conf_t g_rc;
static const vg_part_topics_t g_topics = {
        "care.alerts.v1", "care.indicator-parts.v1", "care.dlq.v1"};

/* Runs events (in order[]) with commits after random batch sizes (or one
 * batch if max_batch <= 0).
 *
 * Found by this test (regression test in test_rules.c,
 * test_partition_timer_due_within_batch; fixed in df0e5c9):
 * vg_part_commit() fired only the timers already stored in the timers
 * table and stored the timers of the patients touched in the batch after
 * that, so a timer that became due within the last batch (another
 * patient's later event moved stream time past it) never fired, and run 0
 * (one batch) ended without the settled readmission_30d denominators and
 * SIP_OVERDUE alerts that the oracle and the multi-batch runs have. */
static void run_set(const evs_t *e, const int *order, int max_batch,
                    result_t *res) {
        char errstr[512];
        vg_part_t *part = vg_part_open(":memory:", 0, &g_rc, g_codec,
                                       &g_topics, errstr, sizeof(errstr));
        drain_t d = {0};
        int inbatch = 0, k = max_batch > 0 ? 1 + rnd(max_batch) : INT32_MAX;

        if (!part)
                fail_msg("vg_part_open: %s", errstr);
        /* Half the split runs keep at most two patients in memory after a
         * commit: the others are read back from the store (each was kept
         * packed as its store row until then, vg_part_cache.c). Half the
         * others run as file mode does: patients, counters and timers in
         * memory only (the timers in a heap, not the timers table). */
        if (max_batch > 0 && chance(50))
                vg_part_set_cache(part, (size_t)rnd(3));
        else if (chance(50)) {
                vg_part_set_memory_only(part);
                /* the first 0, 1 or 2 patients kept decoded between
                 * events, as file mode keeps its first ones (not from
                 * the PRNG either) */
                vg_part_set_decoded(part, (size_t)(g_runs % 3));
        }
        /* Runs in turn derive every event as it comes, or (as Kafka mode
         * catching up) derive each patient at the commit for the events
         * given to keep past a batch's first 0, 1 or 2 (not from the PRNG:
         * the sets stay as they were). */
        vg_part_set_defer(part, (int64_t)(g_runs++ % 4) - 1);
        memset(res, 0, sizeof(*res));
        for (int i = 0; i < e->n; i++) {
                if (!vg_part_in_batch(part) &&
                    vg_part_begin(part, 1000 + i, errstr, sizeof(errstr)))
                        fail_msg("begin: %s", errstr);
                /* the hints file mode gives for the next events (they
                 * must read nothing they should not: ASan) */
                for (int j = 1; j <= 4 && i + j < e->n; j++)
                        for (int step = 0; step <= 2; step++)
                                vg_part_prefetch(
                                        part,
                                        vg_hash_str(e->ev[order[i + j]]
                                                            .ev_patient_id),
                                        step);
                /* (every other event as file mode's reader gives it:
                 * with its hash - a wrong one would split a patient in
                 * two - and a copy of its own, its strings taken into the
                 * state) */
                if (i % 2) {
                        vg_event_t own;
                        vg_err_t err;
                        vg_record_copy(e->ev[order[i]].ev_type, &own,
                                       &e->ev[order[i]]);
                        err = vg_part_event_hashed(
                                part, &own, vg_hash_str(own.ev_patient_id),
                                errstr, sizeof(errstr));
                        vg_record_clear(own.ev_type, &own);
                        if (err)
                                fail_msg("event: %s", errstr);
                } else if (vg_part_event(part, &e->ev[order[i]], errstr,
                                         sizeof(errstr)))
                        fail_msg("event: %s", errstr);
                if (++inbatch >= k) {
                        if (th_commit(part, errstr, sizeof(errstr)))
                                fail_msg("commit: %s", errstr);
                        inbatch = 0;
                        if (max_batch > 0)
                                k = 1 + rnd(max_batch);
                }
        }
        if (vg_part_in_batch(part) &&
            th_commit(part, errstr, sizeof(errstr)))
                fail_msg("commit: %s", errstr);
        if (getenv("VG_PROP_FLUSH")) { /* investigation: an empty batch */
                if (vg_part_begin(part, 999, errstr, sizeof(errstr)) ||
                    th_commit(part, errstr, sizeof(errstr)))
                        fail_msg("flush: %s", errstr);
        }

        d.codec = g_codec;
        vg_part_outbox_scan(part, 0, INT32_MAX, drain_cb, &d);
        assert_int_equal(d.bad, 0);
        for (int i = 0; i < d.n; i++) {
                if (d.al[i].al_status == VG_STATUS_ACTIVE) {
                        strs_add(&res->alerts, alert_text(&d.al[i]));
                        res->active[d.al[i].al_rule]++;
                }
                vg_record_clear(VG_REC_ALERT, &d.al[i]);
        }
        vg_free(d.al);
        res->retracted = d.retracted;
        vg_part_cells(part, cells_cb, &res->cells);
        g_deferred += vg_part_stats(part)->ps_deferred;
        g_pruned += vg_part_stats(part)->ps_pruned;
        strs_sort(&res->alerts);
        strs_sort(&res->cells);
        g_tail += vg_part_stats(part)->ps_tail;
        vg_part_close(part);
}

/* Oracle: vg_rules_derive of every patient's de-duplicated events at the
 * final stream time, summed. */
static void oracle(const evs_t *e, result_t *res) {
        int64_t stream = evs_max_time(e);
        vg_cell_t *sum = NULL;
        int nsum = 0;
        bool *done = vg_calloc((size_t)e->n + 1, sizeof(bool));

        memset(res, 0, sizeof(*res));
        for (int i = 0; i < e->n; i++) {
                const char *pid = e->ev[i].ev_patient_id;
                vg_event_t *pev;
                int np = 0;
                vg_derived_t dv;
                if (done[i])
                        continue;
                pev = vg_calloc((size_t)e->n, sizeof(*pev));
                for (int j = i; j < e->n; j++) {
                        bool dup = false;
                        if (strcmp(e->ev[j].ev_patient_id, pid))
                                continue;
                        done[j] = true;
                        for (int q = 0; q < np && !dup; q++)
                                dup = !strcmp(pev[q].ev_event_id,
                                              e->ev[j].ev_event_id);
                        if (!dup)
                                pev[np++] = e->ev[j]; /* shallow */
                }
                vg_rules_derive(&g_rc, pid, pev, np, stream, &dv);
                for (int a = 0; a < dv.dv_nalerts; a++) {
                        strs_add(&res->alerts, alert_text(&dv.dv_alerts[a]));
                        res->active[dv.dv_alerts[a].al_rule]++;
                }
                for (int c = 0; c < dv.dv_ncells; c++) {
                        /* a case counts in each of its cells */
                        char cells[VG_CASE_CELLS][VG_CASE_KEY_MAX];
                        int ncells = vg_rules_case_cells(dv.dv_cells[c].ce_key,
                                                         cells);
                        assert_true(ncells == 9 || ncells == 15);
                        for (int x = 0; x < ncells; x++) {
                                int q;
                                for (q = 0; q < nsum; q++)
                                        if (!strcmp(sum[q].ce_key, cells[x]))
                                                break;
                                if (q == nsum) {
                                        sum = vg_realloc(
                                                sum, sizeof(*sum) *
                                                             (size_t)(nsum + 1));
                                        sum[q] = dv.dv_cells[c];
                                        sum[q].ce_key = vg_strdup(cells[x]);
                                        nsum++;
                                } else {
                                        sum[q].ce_num += dv.dv_cells[c].ce_num;
                                        sum[q].ce_den += dv.dv_cells[c].ce_den;
                                }
                        }
                }
                vg_derived_clear(&dv);
                vg_free(pev);
        }
        for (int q = 0; q < nsum; q++) {
                if (!cell_empty(sum[q].ce_num, sum[q].ce_den, sum[q].ce_count))
                        strs_add(&res->cells,
                                 cell_text(sum[q].ce_key, sum[q].ce_num,
                                           sum[q].ce_den, sum[q].ce_count));
                vg_free(sum[q].ce_key);
        }
        vg_free(sum);
        vg_free(done);
        strs_sort(&res->alerts);
        strs_sort(&res->cells);
}

static void dump_set(const evs_t *e, const int *order) {
        for (int i = 0; i < e->n; i++) {
                const vg_event_t *ev = &e->ev[order ? order[i] : i];
                char *js = vg_record_to_jsonl(ev->ev_type, ev);
                print_message("    %s\n", js);
                vg_free(js);
        }
}

static int g_failures;

static void compare(const evs_t *e, const int *order, int set, int run,
                    const result_t *ref, const char *refname,
                    const result_t *got) {
        char name[64];
        int d;
        snprintf(name, sizeof(name), "run %d", run);
        d = strs_diff(&ref->alerts, &got->alerts, "alert", refname, name) +
            strs_diff(&ref->cells, &got->cells, "cell", refname, name);
        if (d) {
                print_message("set %d: %s and %s differ (%d lines); events "
                              "in the order of %s:\n",
                              set, refname, name, d, name);
                if (g_failures < 3)
                        dump_set(e, order);
                g_failures++;
        }
}

static void test_final_state_independent_of_order(void **state) {
        char errstr[256];
        int sets_rd = 0, sets_so = 0, sets_retract = 0, sets_cells = 0;
        int sets_dup = 0, sets_cancel = 0;
        long total_events = 0;
        int nsets = getenv("VG_PROP_SETS") ? atoi(getenv("VG_PROP_SETS"))
                                           : NSETS;
        (void)state;
        if (nsets < 20)
                nsets = 20;

        g_rng = getenv("VG_PROP_SEED")
                        ? strtoull(getenv("VG_PROP_SEED"), NULL, 0)
                        : SEED;
        vg_rules_conf_default(&g_rc);
        g_codec = vg_codec_new(errstr, sizeof(errstr));
        assert_non_null(g_codec);
        g_failures = 0;
        g_tail = 0;

        for (int set = 0; set < nsets; set++) {
                evs_t e = {0};
                result_t ref, orc;
                int *order;
                bool retract = false;

                gen_set(set, &e);
                total_events += e.n;
                order = vg_calloc((size_t)e.n, sizeof(int));
                for (int i = 0, found = 0; i < e.n; i++) {
                        order[i] = i;
                        for (int j = 0; j < i && !found; j++)
                                found = !strcmp(e.ev[i].ev_event_id,
                                                e.ev[j].ev_event_id) &&
                                        !strcmp(e.ev[i].ev_patient_id,
                                                e.ev[j].ev_patient_id);
                        if (found == 1) {
                                sets_dup++;
                                found = 2;
                        }
                }
                for (int i = 0; i < e.n; i++)
                        if (e.ev[i].ev_cancels_event_id) {
                                sets_cancel++;
                                break;
                        }

                run_set(&e, order, 0, &ref);
                oracle(&e, &orc);
                compare(&e, order, set, 0, &orc, "oracle", &ref);
                if (ref.retracted)
                        retract = true;

                for (int run = 1; run < NRUNS; run++) {
                        result_t got;
                        /* Fisher-Yates shuffle; run 1 is the reverse order */
                        for (int i = 0; i < e.n; i++)
                                order[i] = run == 1 ? e.n - 1 - i : i;
                        if (run > 1)
                                for (int i = e.n - 1; i > 0; i--) {
                                        int j = rnd(i + 1), t = order[i];
                                        order[i] = order[j];
                                        order[j] = t;
                                }
                        run_set(&e, order, run == 1 ? 1 : 1 + rnd(8), &got);
                        /* vs the oracle (hence also vs run 0) */
                        compare(&e, order, set, run, &orc, "oracle", &got);
                        if (got.retracted)
                                retract = true;
                        result_free(&got);
                }

                sets_rd += ref.active[VG_RULE_READMISSION_30D] > 0;
                sets_so += ref.active[VG_RULE_SIP_OVERDUE] > 0;
                sets_retract += retract;
                sets_cells += ref.cells.n > 0;
                result_free(&ref);
                result_free(&orc);
                vg_free(order);
                evs_free(&e);
        }
        vg_codec_destroy(g_codec);
        g_codec = NULL;

        print_message("  %d sets, %ld events, %d runs each: %d with "
                      "READMISSION_30D, %d with SIP_OVERDUE, %d with a "
                      "retraction in some run, %d with cancellations, %d "
                      "with duplicates, %d with cells; %lld patients "
                      "derived at a commit for events added before, %lld "
                      "events added to packed patients undecoded\n",
                      nsets, total_events, NRUNS, sets_rd, sets_so,
                      sets_retract, sets_cancel, sets_dup, sets_cells,
                      (long long)g_deferred, (long long)g_tail);
        if (g_failures)
                fail_msg("%d run(s) differ (see above)", g_failures);
        /* Sanity: the generator exercises what it claims to. */
        assert_true(sets_rd >= nsets / 10);
        assert_true(sets_so >= nsets / 10);
        assert_true(sets_retract >= nsets / 20);
        assert_true(sets_cancel >= nsets / 5);
        assert_true(sets_dup >= nsets / 5);
        assert_true(sets_cells >= nsets / 2);
        assert_true(g_deferred >= nsets);
        assert_true(g_tail >= nsets);
}

/* ------------------------------------------------------------------------
 * Retention (SPEC §7): "Events older than the horizon may be pruned, as long
 * as the figures they contributed stay exactly as they were". Patients
 * whose histories come in eras, each more than the rules' reach after the
 * last (so that the engine prunes the earlier ones), in time order (so that
 * nothing is too late): the final alerts and cells must be the oracle's,
 * which prunes nothing. Eras repeat what pruning must not let a later
 * event take the place of: deaths (the earliest is the death), register
 * entries (likewise), and stays whose admission is in one era and a
 * discharge in the next; stay ids of one era used again in a later one;
 * and cancellations in the first era of events of a later one (some of
 * them cancellations themselves).
 * ---------------------------------------------------------------------- */

/* Prefixes the event ids (and the cancellations' targets, all within the
 * era) and stay ids of events [from, e->n) with the era's tag. */
static void era_tag(evs_t *e, int from, int era) {
        for (int i = from; i < e->n; i++) {
                vg_event_t *ev = &e->ev[i];
                char buf[64];
                snprintf(buf, sizeof(buf), "r%d%s", era, ev->ev_event_id);
                ev_set_str(&ev->ev_event_id, buf);
                if (ev->ev_cancels_event_id) {
                        snprintf(buf, sizeof(buf), "r%d%s", era,
                                 ev->ev_cancels_event_id);
                        ev_set_str(&ev->ev_cancels_event_id, buf);
                }
                if (ev->ev_stay_id) {
                        snprintf(buf, sizeof(buf), "r%d%s", era,
                                 ev->ev_stay_id);
                        ev_set_str(&ev->ev_stay_id, buf);
                }
        }
}

static void gen_eras(int set, evs_t *e, int *nspan, int *ndeaths,
                     int *nentries, int *ncross, int *nreuse) {
        int npat = 2 + rnd(2);
        for (int p = 0; p < npat; p++) {
                char pid[32];
                int neras = 2 + rnd(2), deaths = 0, entries = 0;
                int64_t base = T("2024-01-01T00:00:00Z") +
                               (int64_t)rnd(330) * VG_MS_PER_DAY +
                               (int64_t)rnd(24 * 60) * 60000;
                int first_adm = -1, era0 = e->n, era1 = e->n;
                char prev_stay[64] = "";
                snprintf(pid, sizeof(pid), "y%03d-p%d", set, p);
                for (int era = 0; era < neras; era++) {
                        int from = e->n;
                        if (era == 1)
                                era1 = from;
                        int64_t last = base;
                        gen_patient(e, pid, base, 1 + rnd(4));
                        /* a register entry for most of the eras' deaths,
                         * and a few for none */
                        int64_t dat = INT64_MIN;
                        for (int i = from; i < e->n; i++)
                                if (e->ev[i].ev_type == VG_REC_DEATH &&
                                    !e->ev[i].ev_cancels_event_id)
                                        dat = e->ev[i].ev_occurred_at;
                        if (chance(dat == INT64_MIN ? 8 : 60)) {
                                vg_event_t *r;
                                if (dat == INT64_MIN)
                                        dat = base + rnd(40) * VG_MS_PER_DAY;
                                r = evs_push(e, VG_REC_REGISTER, pid, "reg",
                                             dat + rnd(60) * VG_MS_PER_DAY);
                                ev_kommun(r, kommuns[rnd(5)]);
                                r->ev_death_at = dat;
                                ev_set_str(&r->ev_unit_id, "unit-1");
                                r->ev_expected = chance(80);
                                for (int q = 0; q < VG_Q__CNT; q++)
                                        r->ev_answers[q] = rnd(3);
                                r->ev_pressure_ulcer = rnd(VG_PU_UNKNOWN + 1);
                        }
                        era_tag(e, from, era);
                        for (int i = from; i < e->n; i++) {
                                const vg_event_t *ev = &e->ev[i];
                                if (ev->ev_cancels_event_id)
                                        continue;
                                deaths += ev->ev_type == VG_REC_DEATH;
                                entries += ev->ev_type == VG_REC_REGISTER;
                                if (ev->ev_occurred_at > last)
                                        last = ev->ev_occurred_at;
                                if (first_adm < 0 &&
                                    ev->ev_type == VG_REC_ADMISSION)
                                        first_adm = i;
                        }
                        /* a stay of this era that takes the stay_id of
                         * one of the era before (a source that recycles
                         * ids): once that one is pruned, the new events
                         * are its conflicts, as in the oracle */
                        if (era >= 1 && prev_stay[0] && chance(25)) {
                                char x[64];
                                int k = -1;
                                for (int i = from; i < e->n && k < 0; i++)
                                        if (e->ev[i].ev_stay_id &&
                                            !e->ev[i].ev_cancels_event_id)
                                                k = i;
                                if (k >= 0) {
                                        snprintf(x, sizeof(x), "%s",
                                                 e->ev[k].ev_stay_id);
                                        for (int i = from; i < e->n; i++)
                                                if (e->ev[i].ev_stay_id &&
                                                    !strcmp(e->ev[i]
                                                                    .ev_stay_id,
                                                            x))
                                                        ev_set_str(
                                                                &e->ev[i]
                                                                         .ev_stay_id,
                                                                prev_stay);
                                        (*nreuse)++;
                                }
                        }
                        prev_stay[0] = '\0';
                        for (int i = from; i < e->n && !prev_stay[0]; i++)
                                if (e->ev[i].ev_type == VG_REC_ADMISSION &&
                                    !e->ev[i].ev_cancels_event_id)
                                        snprintf(prev_stay, sizeof(prev_stay),
                                                 "%s", e->ev[i].ev_stay_id);
                        /* a stay of the first era discharged in the
                         * second (its discharge there, if any,
                         * conflicts), a day before that era's first
                         * event: before anything could have the first
                         * era pruned */
                        if (era == 1 && first_adm >= 0 && chance(35)) {
                                char stay[64];
                                int64_t at = INT64_MAX;
                                vg_event_t *d;
                                for (int i = from; i < e->n; i++)
                                        if (e->ev[i].ev_occurred_at < at)
                                                at = e->ev[i].ev_occurred_at;
                                snprintf(stay, sizeof(stay), "%s",
                                         e->ev[first_adm].ev_stay_id);
                                d = evs_push(e, VG_REC_DISCHARGE, pid, "x",
                                             at - VG_MS_PER_DAY);
                                ev_kommun(d, kommuns[rnd(5)]);
                                ev_set_str(&d->ev_stay_id, stay);
                                d->ev_care_setting =
                                        e->ev[first_adm].ev_care_setting;
                                d->ev_disposition = pick_disposition();
                                d->ev_needs_coordination = chance(70);
                                era_tag(e, e->n - 1, era);
                                ev_set_str(&e->ev[e->n - 1].ev_stay_id, stay);
                                (*nspan)++;
                        }
                        /* the next era: past the reach of every rule
                         * (about 400 days) and the retention */
                        base = last + (int64_t)(401 + rnd(500)) *
                                              VG_MS_PER_DAY +
                                       (int64_t)rnd(24 * 60) * 60000;
                }
                /* cancellations across eras: one in the first era of an
                 * event of a later one (a cut between them would leave
                 * the target live); and one in the first era of an id
                 * that comes later as a cancellation itself (it still
                 * cancels: cancelling a cancellation has no effect) */
                if (e->n > era1 && chance(35)) {
                        const vg_event_t *tg =
                                &e->ev[era1 + rnd(e->n - era1)];
                        vg_event_t *c;
                        char id[64], target[64];
                        snprintf(id, sizeof(id), "r0k%d", p);
                        snprintf(target, sizeof(target), "%s",
                                 tg->ev_event_id);
                        c = evs_push(e, VG_REC_SIP, pid, id,
                                     e->ev[era0].ev_occurred_at +
                                             rnd(20) * VG_MS_PER_DAY);
                        ev_set_str(&c->ev_cancels_event_id, target);
                        (*ncross)++;
                }
                if (e->n > era1 && chance(25)) {
                        const vg_event_t *tg =
                                &e->ev[era1 + rnd(e->n - era1)];
                        vg_event_t *c;
                        char id[64], target[64];
                        int64_t at = tg->ev_occurred_at;
                        snprintf(id, sizeof(id), "r0z%d", p);
                        snprintf(target, sizeof(target), "%s",
                                 tg->ev_event_id);
                        c = evs_push(e, VG_REC_SIP, pid, "r1zz",
                                     at + rnd(3) * VG_MS_PER_DAY);
                        ev_set_str(&c->ev_cancels_event_id, target);
                        c = evs_push(e, VG_REC_SIP, pid, id,
                                     e->ev[era0].ev_occurred_at +
                                             rnd(20) * VG_MS_PER_DAY);
                        ev_set_str(&c->ev_cancels_event_id, "r1zz");
                        (*ncross)++;
                }
                *ndeaths += deaths > 1;
                *nentries += entries > 1;
        }
}

static int ev_time_cmp(const void *a, const void *b) {
        const vg_event_t *x = a, *y = b;
        return x->ev_occurred_at < y->ev_occurred_at   ? -1
               : x->ev_occurred_at > y->ev_occurred_at ? 1
                                                       : 0;
}

static void test_retention_changes_nothing(void **state) {
        char errstr[256];
        int nsets = getenv("VG_PROP_SETS") ? atoi(getenv("VG_PROP_SETS"))
                                           : NSETS;
        int nspan = 0, ndeaths = 0, nentries = 0, ncross = 0, nreuse = 0,
            with_pruned = 0;
        long total_events = 0;
        (void)state;
        if (nsets < 20)
                nsets = 20;
        g_rng = (getenv("VG_PROP_SEED")
                         ? strtoull(getenv("VG_PROP_SEED"), NULL, 0)
                         : SEED) ^
                0x7e7e;
        vg_rules_conf_default(&g_rc);
        g_codec = vg_codec_new(errstr, sizeof(errstr));
        assert_non_null(g_codec);
        g_failures = 0;
        g_pruned = 0;
        g_tail = 0;

        for (int set = 0; set < nsets; set++) {
                evs_t e = {0};
                result_t orc;
                int *order;
                int64_t pruned0 = g_pruned;

                gen_eras(set, &e, &nspan, &ndeaths, &nentries, &ncross,
                         &nreuse);
                /* in time order (a stable sort: ties as generated) */
                for (int i = 1; i < e.n; i++)
                        for (int j = i; j > 0 && ev_time_cmp(&e.ev[j - 1],
                                                             &e.ev[j]) > 0;
                             j--) {
                                vg_event_t t = e.ev[j];
                                e.ev[j] = e.ev[j - 1];
                                e.ev[j - 1] = t;
                        }
                total_events += e.n;
                order = vg_calloc((size_t)e.n, sizeof(int));
                for (int i = 0; i < e.n; i++)
                        order[i] = i;
                oracle(&e, &orc);
                for (int run = 0; run < 4; run++) {
                        result_t got;
                        run_set(&e, order, run == 0 ? 0 : 1 + rnd(6), &got);
                        compare(&e, order, set, run, &orc, "oracle", &got);
                        result_free(&got);
                }
                with_pruned += g_pruned > pruned0;
                result_free(&orc);
                vg_free(order);
                evs_free(&e);
        }
        vg_codec_destroy(g_codec);
        g_codec = NULL;
        print_message("  %d sets, %ld events in eras, 4 runs each: %d with "
                      "events pruned; %d patients with a stay across eras, "
                      "%d with deaths in two eras, %d with register entries "
                      "in two, %d cancellations across eras, %d stay ids "
                      "used again in a later era\n",
                      nsets, total_events, with_pruned, nspan, ndeaths,
                      nentries, ncross, nreuse);
        if (g_failures)
                fail_msg("%d run(s) differ from the oracle (see above)",
                         g_failures);
        /* Sanity: pruning happens, and the cases it must not touch come;
         * events went on packed patients' tails (vg_part_tail_add). */
        assert_true(g_tail > 0);
        assert_true(with_pruned >= nsets / 10);
        assert_true(nspan >= nsets / 10);
        assert_true(ndeaths >= nsets / 20);
        assert_true(nentries >= nsets / 10);
        assert_true(ncross >= nsets / 4);
        assert_true(nreuse >= nsets / 8);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_final_state_independent_of_order),
                cmocka_unit_test(test_retention_changes_nothing),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
