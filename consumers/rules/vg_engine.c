/*
 * vg_engine.c - patient state and recompute-and-diff (pure: the rule
 * book's side of the house; the state's text form for the store is in
 * consumers/engine/vg_patient_store.c).
 */
#include "vg_engine.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

static int seen(const vg_patient_t *pt, const vg_event_t *ev);

vg_patient_t *vg_patient_new(const char *patient_id) {
        vg_patient_t *pt = vg_calloc(1, sizeof(*pt));
        pt->pt_id = vg_strdup(patient_id);
        pt->pt_next_due = INT64_MAX;
        return pt;
}

/* An array of n elements of size bytes, with room for cap, cut to its
 * length (NULL when empty): the arrays a patient keeps are built with
 * room to spare, and a patient is kept for long (a tenth of the memory of
 * a patient was the room its arrays did not use). */
static void *fit(void *p, int n, int cap, size_t size) {
        if (!n) {
                vg_free(p);
                return NULL;
        }
        return n < cap ? vg_realloc(p, size * (size_t)n) : p;
}

static void cells_free(vg_cell_t *c, int n) {
        for (int i = 0; i < n; i++)
                vg_free(c[i].ce_key);
        vg_free(c);
}

static void alerts_free(vg_alert_t *a, int n) {
        for (int i = 0; i < n; i++)
                vg_record_clear(VG_REC_ALERT, &a[i]);
        vg_free(a);
}

void vg_patient_destroy(vg_patient_t *pt) {
        if (!pt)
                return;
        for (int i = 0; i < pt->pt_nevents; i++)
                vg_record_clear(pt->pt_events[i].ev_type, &pt->pt_events[i]);
        vg_free(pt->pt_events);
        for (int i = 0; i < pt->pt_nold; i++)
                vg_free(pt->pt_old_ids[i]);
        vg_free(pt->pt_old_ids);
        for (int i = 0; i < pt->pt_nold_cancelled; i++)
                vg_free(pt->pt_old_cancelled[i]);
        vg_free(pt->pt_old_cancelled);
        for (int i = 0; i < pt->pt_nold_stays; i++)
                vg_free(pt->pt_old_stays[i]);
        vg_free(pt->pt_old_stays);
        alerts_free(pt->pt_alerts, pt->pt_nalerts);
        cells_free(pt->pt_cells, pt->pt_ncells);
        cells_free(pt->pt_frozen, pt->pt_nfrozen);
        vg_free(pt->pt_id);
        vg_free(pt);
}

void vg_changes_clear(vg_changes_t *ch) {
        if (!ch)
                return;
        alerts_free(ch->ch_alerts, ch->ch_nalerts);
        cells_free(ch->ch_deltas, ch->ch_ndeltas);
        memset(ch, 0, sizeof(*ch));
}

/*
 * Cell arithmetic on sorted arrays.
 */

/* Appends a cell; its key is taken (the caller's pointer cleared) with
 * *own set, copied otherwise. */
static void cell_push(vg_cell_t **arr, int *n, int *cap, char **own,
                      const char *key, int64_t num, int64_t den, bool count) {
        if (*n == *cap) {
                *cap = *cap ? *cap * 2 : 16;
                *arr = vg_realloc(*arr, sizeof(vg_cell_t) * (size_t)*cap);
        }
        if (own && *own) {
                (*arr)[*n].ce_key = *own;
                *own = NULL;
        } else
                (*arr)[*n].ce_key = vg_strdup(key);
        (*arr)[*n].ce_num = num;
        (*arr)[*n].ce_den = den;
        (*arr)[*n].ce_count = count;
        (*n)++;
}

/* out = a + sign * b, zero cells dropped. Both sorted. The keys of out
 * are taken from a with take_a, from b with take_b (those arrays are
 * freed next: a taken key is NULL there), copied otherwise - most cells
 * of a patient are in both, and a key is then moved, not copied. */
static void cells_combine(vg_cell_t *a, int na, bool take_a, vg_cell_t *b,
                          int nb, bool take_b, int sign, vg_cell_t **out,
                          int *nout) {
        int i = 0, j = 0, cap = na + nb;
        /* (at most na + nb cells: allocated once, at that size) */
        *out = cap ? vg_malloc(sizeof(vg_cell_t) * (size_t)cap) : NULL;
        *nout = 0;
        while (i < na || j < nb) {
                int c = i >= na   ? 1
                        : j >= nb ? -1
                                  : strcmp(a[i].ce_key, b[j].ce_key);
                const char *key;
                char **own;
                int64_t num, den;
                bool count;
                if (c < 0) {
                        key = a[i].ce_key, num = a[i].ce_num;
                        den = a[i].ce_den, count = a[i].ce_count;
                        own = take_a ? &a[i].ce_key : NULL;
                        i++;
                } else if (c > 0) {
                        key = b[j].ce_key, num = sign * b[j].ce_num;
                        den = sign * b[j].ce_den, count = b[j].ce_count;
                        own = take_b ? &b[j].ce_key : NULL;
                        j++;
                } else {
                        key = a[i].ce_key;
                        num = a[i].ce_num + sign * b[j].ce_num;
                        den = a[i].ce_den + sign * b[j].ce_den;
                        count = a[i].ce_count;
                        own = take_a ? &a[i].ce_key
                                     : take_b ? &b[j].ce_key : NULL;
                        i++, j++;
                }
                if (num || den)
                        cell_push(out, nout, &cap, own, key, num, den, count);
        }
}

/*
 * Alerts: equal content, ignoring emitted_at and status.
 */

static int alert_same(const vg_alert_t *a, const vg_alert_t *b) {
        vg_alert_t x = *a, y = *b;
        x.al_emitted_at = y.al_emitted_at = 0;
        x.al_status = y.al_status = VG_STATUS_ACTIVE;
        return vg_record_equal(VG_REC_ALERT, &x, &y);
}

static void alert_push(vg_changes_t *ch, int *cap, const vg_alert_t *a,
                       int status) {
        if (ch->ch_nalerts == *cap) {
                *cap = *cap ? *cap * 2 : 4;
                ch->ch_alerts = vg_realloc(ch->ch_alerts,
                                           sizeof(vg_alert_t) * (size_t)*cap);
        }
        vg_record_copy(VG_REC_ALERT, &ch->ch_alerts[ch->ch_nalerts], a);
        ch->ch_alerts[ch->ch_nalerts].al_status = status;
        ch->ch_nalerts++;
}

bool vg_patient_has_event(const vg_patient_t *pt, const vg_event_t *ev) {
        return seen(pt, ev) != 0;
}

bool vg_patient_first_cancel(const vg_patient_t *pt, const vg_event_t *ev) {
        const char *target = ev->ev_cancels_event_id;
        bool found = false;
        if (!target)
                return false;
        for (int i = 0; i < pt->pt_nevents; i++) {
                const vg_event_t *e = &pt->pt_events[i];
                if (e->ev_cancels_event_id) {
                        if (!strcmp(e->ev_cancels_event_id, target))
                                return false; /* (cancelled already) */
                } else if (!strcmp(e->ev_event_id, target))
                        found = true;
        }
        return found;
}

/* The stored event with event_id id: its index, or -1. */
static int stored_at(const vg_patient_t *pt, const char *id) {
        for (int i = 0; i < pt->pt_nevents; i++)
                if (!strcmp(pt->pt_events[i].ev_event_id, id))
                        return i;
        return -1;
}

/* SPEC §3: an event_id is unique for its patient, and a repeat (a re-send,
 * identical) has no effect. A repeat that differs is a producer's error
 * that would make the result depend on which came first (a Kafka mode
 * reading topics side by side and file mode reading lines in order
 * disagreed): of the two, the one first by type, then by its fields in
 * the record table's order (vg_record_cmp), is kept, whichever order they
 * come in. Whether a differs from b and is to be kept instead. */
static bool variant_first(const vg_event_t *a, const vg_event_t *b) {
        if (a->ev_type != b->ev_type)
                return a->ev_type < b->ev_type;
        return vg_record_cmp(a->ev_type, a, b) < 0;
}

/* Whether ev's id is that of a pruned event (or, ev not a cancellation,
 * of a pruned cancellation's target). */
static int seen_pruned(const vg_patient_t *pt, const vg_event_t *ev) {
        const char *id = ev->ev_event_id;
        for (int i = 0; i < pt->pt_nold; i++)
                if (!strcmp(pt->pt_old_ids[i], id))
                        return 1;
        /* The target of a pruned cancellation: it stays without effect.
         * Not a cancellation: one cancelled still cancels (cancelling a
         * cancellation has no effect, SPEC §5.0). */
        if (ev->ev_cancels_event_id)
                return 0;
        for (int i = 0; i < pt->pt_nold_cancelled; i++)
                if (!strcmp(pt->pt_old_cancelled[i], id))
                        return 1;
        return 0;
}

static int seen(const vg_patient_t *pt, const vg_event_t *ev) {
        return stored_at(pt, ev->ev_event_id) >= 0 || seen_pruned(pt, ev);
}

bool vg_patient_replaces(const vg_patient_t *pt, const vg_event_t *ev) {
        int at = stored_at(pt, ev->ev_event_id);
        return at >= 0 && variant_first(ev, &pt->pt_events[at]);
}

/* The longest look-back or look-ahead of any rule: beyond it, two events
 * cannot influence each other's figures or alerts (SPEC §5, §6). */
static int64_t influence_ms(const vg_rules_conf_t *rc) {
        int64_t d = rc->rc_window_days;
        if (rc->rc_eol_days > d)
                d = rc->rc_eol_days;
        if (rc->rc_sip_before_death_days > d)
                d = rc->rc_sip_before_death_days;
        return (d + 2) * VG_MS_PER_DAY + rc->rc_sip_deadline_ms +
               720 * VG_MS_PER_HOUR;
}

/* Publishes the difference between the alerts last published (pt_alerts)
 * and dv's: new or changed ones ACTIVE, vanished ones RETRACTED; then
 * pt_alerts takes dv's alerts (dv loses them). Both sorted by alert_id. */
static void diff_alerts(vg_changes_t *ch, int *acap, vg_patient_t *pt,
                        vg_derived_t *dv) {
        int i, j;
        for (i = 0, j = 0; i < dv->dv_nalerts || j < pt->pt_nalerts;) {
                int c = i >= dv->dv_nalerts   ? 1
                        : j >= pt->pt_nalerts ? -1
                                              : strcmp(dv->dv_alerts[i].al_alert_id,
                                                       pt->pt_alerts[j].al_alert_id);
                if (c < 0) { /* new */
                        alert_push(ch, acap, &dv->dv_alerts[i++],
                                   VG_STATUS_ACTIVE);
                } else if (c > 0) { /* gone */
                        alert_push(ch, acap, &pt->pt_alerts[j++],
                                   VG_STATUS_RETRACTED);
                } else { /* still active: re-emit only if it changed */
                        if (!alert_same(&dv->dv_alerts[i], &pt->pt_alerts[j]))
                                alert_push(ch, acap, &dv->dv_alerts[i],
                                           VG_STATUS_ACTIVE);
                        i++, j++;
                }
        }
        alerts_free(pt->pt_alerts, pt->pt_nalerts);
        pt->pt_alerts = fit(dv->dv_alerts, dv->dv_nalerts, dv->dv_nalerts + 1,
                            sizeof(vg_alert_t));
        pt->pt_nalerts = dv->dv_nalerts;
        pt->pt_ids_made = true;
        dv->dv_alerts = NULL;
        dv->dv_nalerts = 0;
}

/* The newest occurred_at of the stored events; INT64_MIN if none. */
static int64_t newest_event(const vg_patient_t *pt) {
        int64_t t = INT64_MIN;
        for (int i = 0; i < pt->pt_nevents; i++)
                if (pt->pt_events[i].ev_occurred_at > t)
                        t = pt->pt_events[i].ev_occurred_at;
        return t;
}

/* The horizon of a patient whose newest event is at `newest`. */
static int64_t horizon_of(const vg_rules_conf_t *rc, int64_t newest,
                          int64_t watermark) {
        if (watermark == VG_WM_NONE || newest == INT64_MIN)
                return INT64_MIN;
        return (watermark < newest ? watermark : newest) -
               (int64_t)rc->rc_retention_days * VG_MS_PER_DAY;
}

int64_t vg_patient_horizon(const vg_rules_conf_t *rc, const vg_patient_t *pt,
                           int64_t watermark) {
        return horizon_of(rc, newest_event(pt), watermark);
}

/* The watermark at which prune() can next remove something: when the
 * horizon passes, by more than any rule's reach, the first event that is
 * followed by a gap (or is the last) and is older than the newest event
 * minus retention and that reach (the horizon never passes that without a
 * new event). INT64_MAX if never. Always later than watermark. */
/* The patient's event times, ascending: in few (32) for most patients,
 * allocated beyond (times_free). */
static int64_t *sorted_times(const vg_patient_t *pt, int64_t few[32]) {
        int n = pt->pt_nevents;
        int64_t *t = n <= 32 ? few : vg_malloc(sizeof(int64_t) * (size_t)n);
        for (int i = 0; i < n; i++)
                t[i] = pt->pt_events[i].ev_occurred_at;
        vg_sort_i64(t, (size_t)n);
        return t;
}

static void times_free(int64_t *t, const int64_t *few) {
        if (t != few)
                vg_free(t);
}

/*
 * Where a cut may not fall (SPEC §5.0, §7). Most rules look at most
 * influence_ms() away, but some choices are the patient's whole
 * history's: the death (the earliest Death; the others conflict), the
 * register entry (likewise), and each stay's admission and discharge
 * (the first of each per stay_id). Pruning the chosen one would let a
 * later one, kept or still to come, take its place: figures and alerts
 * that no run without pruning has. So a cut keeps the earliest Death and
 * Register event and everything after them; it never separates two
 * events of one stay; and it keeps a stay still without an admission or
 * a discharge (none, or each one cancelled), and everything after it,
 * for the one still to come. Nor does a cut separate a cancellation from
 * a later target of it. (A stay_id used again after its whole stay was
 * pruned starts a new stay: docs/RULES.md, retention.)
 */
typedef struct cuts_s {
        int64_t  before;  /* a cut is earlier than this */
        int64_t *span;    /* [first, last) times of the stays, and of
                           * cancellations before their targets, in pairs */
        int      nspan;
} cuts_t;

static int stay_cmp(const void *a, const void *b) {
        return strcmp((*(const vg_event_t *const *)a)->ev_stay_id,
                      (*(const vg_event_t *const *)b)->ev_stay_id);
}

static int id_cmp(const void *a, const void *b) {
        return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int ev_id_cmp(const void *a, const void *b) {
        return strcmp((*(const vg_event_t *const *)a)->ev_event_id,
                      (*(const vg_event_t *const *)b)->ev_event_id);
}

static void cuts_init(const vg_patient_t *pt, cuts_t *k) {
        const vg_event_t **st = NULL;
        const char **tg = NULL;
        int nst = 0, ntg = 0, n = pt->pt_nevents;
        k->before = INT64_MAX;
        k->nspan = 0;
        /* the cancelled ids (a cancellation of itself is ignored, as in
         * the rules) */
        tg = vg_malloc(sizeof(*tg) * (size_t)(n + pt->pt_nold_cancelled + 1));
        for (int i = 0; i < n; i++) {
                const vg_event_t *e = &pt->pt_events[i];
                if (e->ev_cancels_event_id &&
                    strcmp(e->ev_cancels_event_id, e->ev_event_id))
                        tg[ntg++] = e->ev_cancels_event_id;
        }
        for (int i = 0; i < pt->pt_nold_cancelled; i++)
                tg[ntg++] = pt->pt_old_cancelled[i];
        if (ntg > 1)
                qsort(tg, (size_t)ntg, sizeof(*tg), id_cmp);
        for (int i = 0; i < n; i++) {
                const vg_event_t *e = &pt->pt_events[i];
                if (e->ev_cancels_event_id) /* (a cancellation: no choice) */
                        continue;
                if ((e->ev_type == VG_REC_DEATH ||
                     e->ev_type == VG_REC_REGISTER) &&
                    e->ev_occurred_at < k->before)
                        k->before = e->ev_occurred_at;
                if ((e->ev_type == VG_REC_ADMISSION ||
                     e->ev_type == VG_REC_DISCHARGE) &&
                    e->ev_stay_id) {
                        if (!st)
                                st = vg_malloc(sizeof(*st) * (size_t)n);
                        st[nst++] = e;
                }
        }
        /* a cancellation kept with it, or both gone: one pruned would
         * leave a later target of it live again (the rules see only the
         * events kept) */
        k->span = vg_malloc(sizeof(int64_t) * (size_t)(2 * n + 2));
        if (ntg) {
                const vg_event_t **by = vg_malloc(sizeof(*by) * (size_t)n);
                for (int i = 0; i < n; i++)
                        by[i] = &pt->pt_events[i];
                qsort(by, (size_t)n, sizeof(*by), ev_id_cmp);
                for (int i = 0; i < n; i++) {
                        const vg_event_t *c = &pt->pt_events[i], **t, *kp;
                        vg_event_t key;
                        if (!c->ev_cancels_event_id)
                                continue;
                        key.ev_event_id = (char *)c->ev_cancels_event_id;
                        kp = &key;
                        t = bsearch(&kp, by, (size_t)n, sizeof(*by),
                                    ev_id_cmp);
                        if (t && c->ev_occurred_at < (*t)->ev_occurred_at) {
                                k->span[k->nspan++] = c->ev_occurred_at;
                                k->span[k->nspan++] = (*t)->ev_occurred_at;
                        }
                }
                vg_free(by);
        }
        if (nst > 1)
                qsort(st, (size_t)nst, sizeof(*st), stay_cmp);
        for (int i = 0, j; i < nst; i = j) {
                int64_t lo = st[i]->ev_occurred_at, hi = lo;
                bool adm = false, dis = false;
                for (j = i; j < nst && !stay_cmp(&st[i], &st[j]); j++) {
                        const vg_event_t *e = st[j];
                        if (e->ev_occurred_at < lo)
                                lo = e->ev_occurred_at;
                        if (e->ev_occurred_at > hi)
                                hi = e->ev_occurred_at;
                        if (ntg && bsearch(&e->ev_event_id, tg, (size_t)ntg,
                                           sizeof(*tg), id_cmp))
                                continue; /* (cancelled) */
                        if (e->ev_type == VG_REC_ADMISSION)
                                adm = true;
                        else
                                dis = true;
                }
                if (!adm || !dis) {
                        if (lo < k->before)
                                k->before = lo;
                        continue;
                }
                if (lo == hi)
                        continue;
                k->span[k->nspan++] = lo;
                k->span[k->nspan++] = hi;
        }
        vg_free(st);
        vg_free(tg);
}

/* Whether events at or before c may go, the others staying. */
static bool cut_ok(const cuts_t *k, int64_t c) {
        if (c >= k->before)
                return false;
        for (int i = 0; i < k->nspan; i += 2)
                if (k->span[i] <= c && c < k->span[i + 1])
                        return false;
        return true;
}

static void cuts_free(cuts_t *k) {
        vg_free(k->span);
}

static int64_t next_prune(const vg_rules_conf_t *rc, const vg_patient_t *pt,
                          int64_t watermark) {
        int64_t ret = (int64_t)rc->rc_retention_days * VG_MS_PER_DAY;
        int64_t gap = influence_ms(rc), due = INT64_MAX, *t, limit;
        int64_t few[32];
        int n = pt->pt_nevents;
        bool made = false;
        cuts_t k;
        if (!n)
                return INT64_MAX;
        limit = newest_event(pt) - ret - gap;
        t = sorted_times(pt, few);
        for (int i = 0; i < n && t[i] < limit; i++)
                if ((i + 1 == n || t[i + 1] - t[i] > gap) &&
                    (watermark == VG_WM_NONE ||
                     t[i] + gap + ret + 1 > watermark)) {
                        if (!made) /* (only here: most patients never are) */
                                cuts_init(pt, &k), made = true;
                        if (cut_ok(&k, t[i])) {
                                due = t[i] + gap + ret + 1;
                                break;
                        }
                }
        if (made)
                cuts_free(&k);
        times_free(t, few);
        return due;
}

/* Whether an event of the patient is older than t. */
static bool any_before(const vg_patient_t *pt, int64_t t) {
        for (int i = 0; i < pt->pt_nevents; i++)
                if (pt->pt_events[i].ev_occurred_at < t)
                        return true;
        return false;
}

/* Whether prune() might remove an event: one is older than the horizon
 * by more than any rule's reach (prune() looks for a gap after it). */
static bool prune_possible(const vg_rules_conf_t *rc, const vg_patient_t *pt,
                           int64_t watermark) {
        int64_t horizon = vg_patient_horizon(rc, pt, watermark);
        return horizon != INT64_MIN &&
               any_before(pt, horizon - influence_ms(rc));
}

bool vg_engine_inserts_only(const vg_rules_conf_t *rc, const vg_patient_t *pt,
                            const vg_event_t *ev, int64_t watermark) {
        /* prune_possible() of pt with ev added: its newest event may be
         * ev, and ev may be the one before the cut */
        int64_t newest = newest_event(pt), horizon, cut;
        /* (one in place of a stored variant is no insert) */
        if (vg_patient_replaces(pt, ev))
                return false;
        if (ev->ev_occurred_at > newest)
                newest = ev->ev_occurred_at;
        if ((horizon = horizon_of(rc, newest, watermark)) == INT64_MIN)
                return true;
        cut = horizon - influence_ms(rc);
        return ev->ev_occurred_at >= cut && !any_before(pt, cut);
}

bool vg_engine_adds_only(const vg_rules_conf_t *rc, int64_t newest,
                        int64_t oldest, const vg_event_t *ev,
                        int64_t watermark) {
        int64_t t = ev->ev_occurred_at, horizon;
        /* not too late: horizon_of() only grows with newest */
        if ((horizon = horizon_of(rc, newest, watermark)) != INT64_MIN &&
            t < horizon)
                return false;
        /* prune_possible() with ev added, as vg_engine_inserts_only() */
        if (t > newest)
                newest = t;
        if ((horizon = horizon_of(rc, newest, watermark)) == INT64_MIN)
                return true;
        return t >= horizon - influence_ms(rc) &&
               oldest >= horizon - influence_ms(rc);
}

/* Retention (SPEC §7). The patient's horizon is the earlier of the
 * watermark and the newest stored event, minus retention_days. Moves out of
 * the history the events older than the horizon by more than any rule's
 * reach that are separated from every newer event by more than that reach:
 * so the pruned events cannot influence the kept ones nor any record that
 * may still come (one not older than the horizon, SPEC §7: too-late), and
 * the pruned events' contribution, final by then, is frozen exactly (the
 * counters do not change). Events of a patient with no such gap are kept longer, until
 * there is one. The targets of pruned cancellations are remembered, so a
 * late target stays void. */
/* Remembers a pruned stay's id (taking *id), once. Only a stay with a
 * live admission and discharge is pruned (cuts_t): a later admission or
 * discharge with its id would not have been the stay's, had the whole
 * history been kept, and the rules are told so (vg_rules_derive_ex). */
static void old_stay_add(vg_patient_t *pt, char **id) {
        for (int i = 0; i < pt->pt_nold_stays; i++)
                if (!strcmp(pt->pt_old_stays[i], *id))
                        return;
        pt->pt_old_stays = vg_realloc(pt->pt_old_stays,
                                      sizeof(char *) *
                                              (size_t)(pt->pt_nold_stays + 1));
        pt->pt_old_stays[pt->pt_nold_stays++] = *id;
        *id = NULL;
}

static int prune(const vg_rules_conf_t *rc, vg_patient_t *pt,
                 int64_t watermark, vg_changes_t *ch, int *acap) {
        int64_t horizon = vg_patient_horizon(rc, pt, watermark);
        int64_t gap = influence_ms(rc), cut = INT64_MIN, *t, few[32];
        vg_derived_t full, kept;
        vg_cell_t *tmp, *frozen;
        int ntmp, nfrozen, pruned;
        cuts_t k;

        if (horizon == INT64_MIN || !any_before(pt, horizon - gap))
                return 0;
        /* The latest cut point before the horizon, by more than the reach,
         * followed by a gap, that keeps what a later event could take the
         * place of (cuts_t). */
        t = sorted_times(pt, few);
        cuts_init(pt, &k);
        for (int i = 0; i < pt->pt_nevents && t[i] < horizon - gap; i++)
                if ((i + 1 == pt->pt_nevents || t[i + 1] - t[i] > gap) &&
                    cut_ok(&k, t[i]))
                        cut = t[i];
        cuts_free(&k);
        times_free(t, few);
        if (cut == INT64_MIN)
                return 0;
        horizon = cut + 1; /* prune events at or before the cut */
        vg_rules_derive_ex(rc, pt->pt_id, pt->pt_events, pt->pt_nevents,
                           watermark, NULL, 0, pt->pt_old_stays,
                           pt->pt_nold_stays, &full);
        pruned = 0;
        for (int i = 0; i < pt->pt_nevents;) {
                vg_event_t *e = &pt->pt_events[i];
                if (e->ev_occurred_at >= horizon) {
                        i++;
                        continue;
                }
                pt->pt_old_ids = vg_realloc(pt->pt_old_ids,
                                            sizeof(char *) *
                                                    (size_t)(pt->pt_nold + 1));
                pt->pt_old_ids[pt->pt_nold++] = e->ev_event_id;
                e->ev_event_id = NULL;
                if ((e->ev_type == VG_REC_ADMISSION ||
                     e->ev_type == VG_REC_DISCHARGE) &&
                    !e->ev_cancels_event_id && e->ev_stay_id)
                        old_stay_add(pt, &e->ev_stay_id);
                if (e->ev_cancels_event_id) {
                        pt->pt_old_cancelled = vg_realloc(
                                pt->pt_old_cancelled,
                                sizeof(char *) *
                                        (size_t)(pt->pt_nold_cancelled + 1));
                        pt->pt_old_cancelled[pt->pt_nold_cancelled++] =
                                e->ev_cancels_event_id;
                        e->ev_cancels_event_id = NULL;
                }
                vg_record_clear(e->ev_type, e);
                pt->pt_events[i] = pt->pt_events[--pt->pt_nevents];
                pruned++;
        }
        vg_rules_derive_ex(rc, pt->pt_id, pt->pt_events, pt->pt_nevents,
                           watermark, NULL, 0, pt->pt_old_stays,
                           pt->pt_nold_stays, &kept);
        /* frozen += full - kept */
        cells_combine(full.dv_cells, full.dv_ncells, true, kept.dv_cells,
                      kept.dv_ncells, true, -1, &tmp, &ntmp);
        cells_combine(pt->pt_frozen, pt->pt_nfrozen, true, tmp, ntmp, true, 1,
                      &frozen, &nfrozen);
        cells_free(tmp, ntmp);
        cells_free(pt->pt_frozen, pt->pt_nfrozen);
        pt->pt_frozen = fit(frozen, nfrozen, nfrozen + 1, /* (rare) */
                            sizeof(vg_cell_t));
        pt->pt_nfrozen = nfrozen;
        /* Alerts: first published as the whole history gives them now
         * (as if nothing were pruned), then the pruned events' alerts
         * leave the state: final, they are never retracted. So a prune
         * changes no alert either, whenever it happens. */
        diff_alerts(ch, acap, pt, &full);
        for (int i = 0; i < pt->pt_nalerts;) {
                int keep = 0;
                for (int j = 0; j < kept.dv_nalerts && !keep; j++)
                        keep = !strcmp(kept.dv_alerts[j].al_alert_id,
                                       pt->pt_alerts[i].al_alert_id);
                if (!keep) {
                        vg_record_clear(VG_REC_ALERT, &pt->pt_alerts[i]);
                        memmove(&pt->pt_alerts[i], &pt->pt_alerts[i + 1],
                                sizeof(vg_alert_t) *
                                        (size_t)(pt->pt_nalerts - i - 1));
                        pt->pt_nalerts--;
                } else
                        i++;
        }
        vg_derived_clear(&full);
        vg_derived_clear(&kept);
        return pruned;
}

/* ev applied; owned (ev or NULL): its strings are moved when kept;
 * without derive, ev only added (vg_engine_insert_take) */
static void engine_apply(const vg_rules_conf_t *rc, vg_patient_t *pt,
                         const vg_event_t *ev, vg_event_t *owned,
                         int64_t watermark, vg_changes_t *ch, bool derive) {
        vg_derived_t dv;
        vg_cell_t *total, *delta;
        int ntotal, ndelta, acap = 0;
        int64_t oldest = INT64_MAX;
        bool known;

        memset(ch, 0, sizeof(*ch));
        if (ev) {
                /* Older than the patient's horizon: changes nothing, goes
                 * to the DLQ (SPEC §7), whether or not anything was pruned
                 * yet. */
                if (ev->ev_occurred_at <
                    vg_patient_horizon(rc, pt, watermark)) {
                        ch->ch_too_late = 1;
                        return;
                }
                int at = stored_at(pt, ev->ev_event_id);
                if (at >= 0 && !vg_record_equal(ev->ev_type, ev,
                                                &pt->pt_events[at]))
                        ch->ch_variant = 1; /* (counted as a conflict) */
                if (at >= 0 ? !variant_first(ev, &pt->pt_events[at])
                            : seen_pruned(pt, ev)) {
                        ch->ch_duplicate = 1;
                        return;
                }
                if (at >= 0) { /* (the variant kept in its place) */
                        vg_record_clear(pt->pt_events[at].ev_type,
                                        &pt->pt_events[at]);
                        if (owned)
                                vg_record_move(ev->ev_type,
                                               &pt->pt_events[at], owned);
                        else
                                vg_record_copy(ev->ev_type,
                                               &pt->pt_events[at], ev);
                } else {
                        if (pt->pt_nevents == pt->pt_cap) {
                                /* (most patients have a few events: a
                                 * quarter more, not twice) */
                                pt->pt_cap += 1 + pt->pt_cap / 4;
                                pt->pt_events = vg_realloc(
                                        pt->pt_events,
                                        sizeof(vg_event_t) *
                                                (size_t)pt->pt_cap);
                        }
                        if (owned)
                                vg_record_move(
                                        ev->ev_type,
                                        &pt->pt_events[pt->pt_nevents++],
                                        owned);
                        else
                                vg_record_copy(
                                        ev->ev_type,
                                        &pt->pt_events[pt->pt_nevents++], ev);
                }
                /* (added only when the pruning below would remove
                 * nothing: then the events kept, their count and what a
                 * later event may be refused for are as they would be) */
                if (!derive && !prune_possible(rc, pt, watermark)) {
                        pt->pt_next_due = VG_DUE_UNDERIVED;
                        return;
                }
        }
        ch->ch_pruned = prune(rc, pt, watermark, ch, &acap);

        /* The alert ids of the last derivation taken over (SHA-256 was 4 %
         * of file mode's instructions), when this engine made them (a
         * state read from the store, or written by an earlier release,
         * gets its ids made again) and they are few (the look-up is a
         * scan). */
        known = pt->pt_ids_made && pt->pt_nalerts <= 32;
        vg_rules_derive_ex(rc, pt->pt_id, pt->pt_events, pt->pt_nevents,
                           watermark, known ? pt->pt_alerts : NULL,
                           known ? pt->pt_nalerts : 0, pt->pt_old_stays,
                           pt->pt_nold_stays, &dv);
        ch->ch_conflicts = dv.dv_conflicts;

        /* Cells: total = frozen + derived; delta = total - last. */
        cells_combine(pt->pt_frozen, pt->pt_nfrozen, false, dv.dv_cells,
                      dv.dv_ncells, true, 1, &total, &ntotal);
        cells_combine(total, ntotal, false, pt->pt_cells, pt->pt_ncells, true,
                      -1, &delta, &ndelta);
        ch->ch_deltas = delta;
        ch->ch_ndeltas = ndelta;
        cells_free(pt->pt_cells, pt->pt_ncells);
        pt->pt_cells = fit(total, ntotal, pt->pt_nfrozen + dv.dv_ncells,
                           sizeof(vg_cell_t));
        pt->pt_ncells = ntotal;

        diff_alerts(ch, &acap, pt, &dv);

        pt->pt_next_due = dv.dv_next_due;
        if ((oldest = next_prune(rc, pt, watermark)) < pt->pt_next_due)
                pt->pt_next_due = oldest;
        vg_derived_clear(&dv);
}

void vg_engine_apply(const vg_rules_conf_t *rc, vg_patient_t *pt,
                     const vg_event_t *ev, int64_t watermark,
                     vg_changes_t *ch) {
        engine_apply(rc, pt, ev, NULL, watermark, ch, true);
}

void vg_engine_apply_take(const vg_rules_conf_t *rc, vg_patient_t *pt,
                          vg_event_t *ev, int64_t watermark,
                          vg_changes_t *ch) {
        engine_apply(rc, pt, ev, ev, watermark, ch, true);
}

void vg_engine_insert_take(const vg_rules_conf_t *rc, vg_patient_t *pt,
                           vg_event_t *ev, int64_t watermark,
                           vg_changes_t *ch) {
        engine_apply(rc, pt, ev, ev, watermark, ch, false);
}
