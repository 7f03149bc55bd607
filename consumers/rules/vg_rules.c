/*
 * vg_rules.c - SPEC §5.0-§5.2 and §6 as a pure function of a patient's
 * events and the partition's watermark (SPEC §5.5).
 *
 * Contents:
 *   select    - drop cancelled events, choose each stay's admission and
 *               discharge and the patient's death (SPEC §5.0)
 *   readmit   - index discharges, transfer continuations, readmissions
 *               (SPEC §5.1)
 *   sip       - SIP triggers, deadlines, satisfaction, voiding (SPEC §5.2)
 *   cells     - indicator contributions (SPEC §6)
 *   timers    - the next watermark at which anything can change
 * Periods and completeness (SPEC §6.1) are in vg_rules_period.c, the
 * settings' defaults and text, and case keys to cells, in
 * vg_rules_conf.c.
 */
/* (before any header: SHA256_Init, sha256() below) */
#define OPENSSL_SUPPRESS_DEPRECATED
#include "vg_rules.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/sha.h>

/* SHA-256 by the low-level calls (deprecated in OpenSSL 3, still there):
 * SHA256() and the EVP calls look the digest up among the providers at
 * each call - some 8,900 and 5,300 instructions for an id's 100 bytes,
 * against 2,500 here - with an id per derived alert at every event and
 * timer. */
static void sha256(const void *data, size_t len, unsigned char *md) {
        SHA256_CTX c;
        SHA256_Init(&c);
        SHA256_Update(&c, data, len);
        SHA256_Final(md, &c);
}

char *vg_rules_alert_id(int rule, const char *subject, const char *anchor,
                        char *buf) {
        unsigned char md[SHA256_DIGEST_LENGTH];
        const char *parts[3] = {vg_enum_str(&vg_enum_rule, rule),
                                subject ? subject : "", anchor ? anchor : ""};
        char small[512];
        vg_buf_t in;
        size_t len = 0;
        /* NUL-separated: no id can contain NUL (the codec refuses it), so
         * ("a|b", "c") and ("a", "b|c") cannot collide. */
        vg_buf_init(&in);
        for (int i = 0; i < 3; i++)
                len += strlen(parts[i]) + 1;
        if (len <= sizeof(small)) {
                char *q = small;
                for (int i = 0; i < 3; i++) {
                        size_t pl = strlen(parts[i]) + 1;
                        memcpy(q, parts[i], pl);
                        q += pl;
                }
                sha256(small, len, md);
        } else {
                for (int i = 0; i < 3; i++)
                        vg_buf_append(&in, parts[i], strlen(parts[i]) + 1);
                sha256(in.vb_data, in.vb_len, md);
                vg_buf_free(&in);
        }
        return vg_hex(buf, md, 16);
}

/*
 * Select
 */

static int str_cmp(const char *a, const char *b) {
        return strcmp(a ? a : "", b ? b : "");
}

/* SPEC §5.0 ordering: occurred_at, then stay_id, then event_id. */
static int ev_order(const vg_event_t *a, const vg_event_t *b) {
        int c;
        if (a->ev_occurred_at != b->ev_occurred_at)
                return a->ev_occurred_at < b->ev_occurred_at ? -1 : 1;
        if ((c = str_cmp(a->ev_stay_id, b->ev_stay_id)))
                return c;
        return str_cmp(a->ev_event_id, b->ev_event_id);
}

static int ev_order_q(const void *a, const void *b) {
        return ev_order(*(const vg_event_t *const *)a,
                        *(const vg_event_t *const *)b);
}

/* v[0, n) in SPEC order: by insertion for a patient's few events (stable,
 * as glibc's qsort, a merge sort, is), by qsort beyond. */
static void sort_events(const vg_event_t **v, int n) {
        if (n > 32) {
                /* (a long history comes mostly in order: checked first,
                 * as a merge sort of sorted input still costs n log n) */
                int i = 1;
                while (i < n && ev_order(v[i - 1], v[i]) <= 0)
                        i++;
                if (i < n)
                        qsort(v, (size_t)n, sizeof(*v), ev_order_q);
                return;
        }
        for (int i = 1; i < n; i++) {
                const vg_event_t *x = v[i];
                int j = i;
                for (; j > 0 && ev_order(v[j - 1], x) > 0; j--)
                        v[j] = v[j - 1];
                v[j] = x;
        }
}

/* A stay: its chosen admission and discharge (either may be missing). */
typedef struct stay_s {
        const char       *st_id;
        const vg_event_t *st_adm;
        const vg_event_t *st_dis;
} stay_t;

typedef struct sel_s {
        const vg_event_t **live;   /* non-cancelled, non-cancellation events,
                                    * ordered */
        int                nlive;
        stay_t            *stays;
        int                nstays;
        const vg_event_t  *death;  /* chosen death or NULL */
        const vg_event_t  *entry;  /* chosen register entry or NULL */
        int                conflicts;
        int               *stay_idx;   /* open-addressing index of stays */
        int                stay_cap;   /* its size, a power of two */
        int64_t           *transfers;  /* TRANSFER_ACUTE hospital discharge
                                        * times, sorted */
        int                ntransfers;
        int64_t           *sips;       /* SIP times, sorted */
        int                nsips;
        const char       **targets;    /* cancellation targets (scratch) */
        const vg_event_t **adms;       /* a rule's scratch: admissions */
        const vg_event_t **latest;     /* and their latest discharges */
        void              *mem;        /* the arrays, if not in few */
        _Alignas(16) char  few[2048];  /* the arrays of a few events */
} sel_t;

static int str_qcmp(const void *a, const void *b) {
        return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Is id the target of one of the (sorted) cancellations? */
static int is_cancelled(const char **targets, int ntargets, const char *id) {
        return ntargets > 0 &&
               bsearch(&id, targets, (size_t)ntargets, sizeof(*targets),
                       str_qcmp) != NULL;
}

static stay_t *stay_get(sel_t *s, const char *id) {
        unsigned m = (unsigned)s->stay_cap - 1, h = vg_hash_str(id) & m;
        for (;; h = (h + 1) & m) {
                int i = s->stay_idx[h];
                if (i < 0)
                        break;
                if (!strcmp(s->stays[i].st_id, id))
                        return &s->stays[i];
        }
        s->stay_idx[h] = s->nstays;
        s->stays[s->nstays].st_id = id;
        s->stays[s->nstays].st_adm = NULL;
        s->stays[s->nstays].st_dis = NULL;
        return &s->stays[s->nstays++];
}

/* The selection's arrays for n events, zeroed, in one block: in s->few
 * for a patient's few events (they were six allocations a derivation, 3 %
 * of file mode's instructions), allocated beyond. The arrays of pointers
 * and of int64_t first, so that each is aligned. */
static void select_alloc(sel_t *s, int n) {
        size_t m = (size_t)n + 1, need;
        char *p;
        for (s->stay_cap = 16; s->stay_cap < 2 * n + 2; s->stay_cap *= 2)
                ;
        need = m * (4 * sizeof(const vg_event_t *) + sizeof(stay_t) +
                    2 * sizeof(int64_t)) +
               sizeof(int) * (size_t)s->stay_cap;
        p = need <= sizeof(s->few) ? s->few : vg_malloc(need);
        s->mem = p == s->few ? NULL : p;
        memset(p, 0, need);
        s->targets = (const char **)(void *)p, p += m * sizeof(void *);
        s->live = (const vg_event_t **)(void *)p, p += m * sizeof(void *);
        s->adms = (const vg_event_t **)(void *)p, p += m * sizeof(void *);
        s->latest = (const vg_event_t **)(void *)p, p += m * sizeof(void *);
        s->stays = (stay_t *)(void *)p, p += m * sizeof(stay_t);
        s->transfers = (int64_t *)(void *)p, p += m * sizeof(int64_t);
        s->sips = (int64_t *)(void *)p, p += m * sizeof(int64_t);
        s->stay_idx = (int *)(void *)p;
        memset(s->stay_idx, 0xff, sizeof(int) * (size_t)s->stay_cap);
}

static bool old_stay(char *const *old, int nold, const char *id) {
        for (int i = 0; i < nold; i++)
                if (!strcmp(old[i], id))
                        return true;
        return false;
}

static void select_events(const vg_event_t *events, int n,
                          char *const *old, int nold, sel_t *s) {
        const char **targets;
        int ntargets = 0;

        select_alloc(s, n);
        targets = s->targets;
        s->nlive = s->nstays = s->conflicts = s->nsips = 0;
        s->death = NULL;
        s->entry = NULL;
        /* Cancellation targets, sorted once: O(n log n) in all. A
         * cancellation of itself is ignored. */
        for (int i = 0; i < n; i++)
                if (events[i].ev_cancels_event_id &&
                    strcmp(events[i].ev_cancels_event_id,
                           events[i].ev_event_id))
                        targets[ntargets++] = events[i].ev_cancels_event_id;
        if (ntargets > 1)
                qsort(targets, (size_t)ntargets, sizeof(*targets), str_qcmp);
        for (int i = 0; i < n; i++) {
                const vg_event_t *e = &events[i];
                if (e->ev_cancels_event_id) /* a cancellation: no other use */
                        continue;
                if (is_cancelled(targets, ntargets, e->ev_event_id))
                        continue;
                s->live[s->nlive++] = e;
        }
        sort_events(s->live, s->nlive);
        for (int i = 0; i < s->nlive; i++) {
                const vg_event_t *e = s->live[i];
                stay_t *st;
                /* (a stay pruned had its first admission and discharge,
                 * docs/RULES.md §8) */
                if (nold && (e->ev_type == VG_REC_ADMISSION ||
                             e->ev_type == VG_REC_DISCHARGE) &&
                    e->ev_stay_id && old_stay(old, nold, e->ev_stay_id)) {
                        s->conflicts++;
                        continue;
                }
                switch (e->ev_type) {
                case VG_REC_ADMISSION:
                        st = stay_get(s, e->ev_stay_id);
                        if (st->st_adm) /* ordered: the first one wins */
                                s->conflicts++;
                        else
                                st->st_adm = e;
                        break;
                case VG_REC_DISCHARGE:
                        st = stay_get(s, e->ev_stay_id);
                        if (st->st_dis)
                                s->conflicts++;
                        else
                                st->st_dis = e;
                        break;
                case VG_REC_REGISTER:
                        /* Ordered by (occurred_at, "", event_id): the first
                         * is the entry (SPEC §5.0); others conflict. */
                        if (s->entry)
                                s->conflicts++;
                        else
                                s->entry = e;
                        break;
                case VG_REC_DEATH:
                        /* Ordered by (occurred_at, "", event_id): the first
                         * is the earliest with the smallest event_id. */
                        if (s->death)
                                s->conflicts++;
                        else
                                s->death = e;
                        break;
                case VG_REC_SIP: /* (ordered) */
                        s->sips[s->nsips++] = e->ev_occurred_at;
                        break;
                default:
                        break;
                }
        }
        s->ntransfers = 0;
        for (int i = 0; i < s->nstays; i++) {
                const vg_event_t *d = s->stays[i].st_dis;
                if (d && d->ev_care_setting == VG_CS_HOSPITAL_INPATIENT &&
                    d->ev_disposition == VG_DISP_TRANSFER_ACUTE)
                        s->transfers[s->ntransfers++] = d->ev_occurred_at;
        }
        if (s->ntransfers > 1)
                vg_sort_i64(s->transfers, (size_t)s->ntransfers);
}

static void select_free(sel_t *s) {
        vg_free(s->mem);
}

/*
 * Output helpers
 */

typedef struct out_s {
        const vg_rules_conf_t *rc;
        const char            *patient;
        vg_derived_t          *dv;
        int                    acap, ccap;
        size_t                *klen;        /* dv_cells' key lengths */
        const vg_alert_t      *known;       /* the last derivation's alerts */
        int                    nknown;
        int64_t                watermark;   /* VG_WM_NONE: none yet */
        int64_t                per_at;      /* per: the period of per_at */
        bool                   per_ok;
        char                   per[8];
} out_t;

static void due_at(out_t *o, int64_t t) {
        if (t > o->watermark && t < o->dv->dv_next_due)
                o->dv->dv_next_due = t;
}

/* Adds num/den to one cell (found or created): key[0, n). The lengths
 * compared first (a derivation's keys differ mostly in the indicator and
 * period: most lengths differ too). */
static void cell_put(out_t *o, const char *key, size_t n, int num, int den,
                     bool count) {
        vg_cell_t *c = NULL;
        for (int i = 0; i < o->dv->dv_ncells; i++)
                if (o->klen[i] == n &&
                    !memcmp(o->dv->dv_cells[i].ce_key, key, n)) {
                        c = &o->dv->dv_cells[i];
                        break;
                }
        if (!c) {
                if (o->dv->dv_ncells == o->ccap) {
                        o->ccap = o->ccap ? o->ccap * 2 : 32;
                        o->dv->dv_cells = vg_realloc(
                                o->dv->dv_cells,
                                sizeof(vg_cell_t) * (size_t)o->ccap);
                        o->klen = vg_realloc(o->klen, sizeof(*o->klen) *
                                                              (size_t)o->ccap);
                }
                o->klen[o->dv->dv_ncells] = n;
                c = &o->dv->dv_cells[o->dv->dv_ncells++];
                c->ce_key = vg_malloc(n + 1);
                memcpy(c->ce_key, key, n + 1);
                c->ce_num = c->ce_den = 0;
                c->ce_count = count;
        }
        c->ce_num += num;
        c->ce_den += den;
}

/* Adds to the case "indicator|kommun|period|age|sex|diagnosis|residence"
 * (vg_rules_case_cells() expands it into the counter cells). attr: the
 * event whose age, sex, diagnosis and residence the case has (NULL:
 * unknown). ssih_enrolment.* already splits age and diagnosis: those two
 * are "-" (no breakdown of their own). */
static void cell_add(out_t *o, const char *indicator, const char *kommun,
                     int64_t anchor_time, const vg_event_t *attr, int num,
                     int den, bool count) {
        char key[VG_CASE_KEY_MAX];
        size_t n;
        bool ssih = !strncmp(indicator, "ssih_enrolment.", 15);
        const char *age = "unknown", *sex = "unknown", *diag = "unknown",
                   *res = "unknown";
        if (attr) {
                age = vg_rules_age_band(attr->ev_age_years);
                sex = vg_enum_str(&vg_enum_sex, attr->ev_sex);
                diag = vg_enum_str(&vg_enum_diag, attr->ev_diagnosis_group);
                res = vg_enum_str(&vg_enum_residence, attr->ev_residence);
        }
        if (ssih)
                age = diag = "-";
        /* (a derivation's cells are mostly of one or two periods) */
        if (!o->per_ok || o->per_at != anchor_time) {
                vg_period(o->rc->rc_tz, anchor_time, o->per);
                o->per_at = anchor_time;
                o->per_ok = true;
        }
        n = vg_join(key, sizeof(key), '|',
                    (const char *const[]){indicator, kommun, o->per, age,
                                          sex, diag, res},
                    7);
        cell_put(o, key, n, num, den, count);
}

static vg_alert_t *alert_new(out_t *o, int rule, const char *anchor,
                             const char *kommun) {
        vg_alert_t *al;
        char id[33], region[3];
        const char *known = NULL;
        /* (its id as the last derivation made it) */
        for (int i = 0; i < o->nknown && !known; i++)
                if (o->known[i].al_rule == rule &&
                    !strcmp(o->known[i].al_anchor, anchor))
                        known = o->known[i].al_alert_id;
        if (o->dv->dv_nalerts == o->acap) {
                o->acap = o->acap ? o->acap * 2 : 8;
                o->dv->dv_alerts = vg_realloc(o->dv->dv_alerts,
                                              sizeof(vg_alert_t) *
                                                      (size_t)o->acap);
        }
        al = &o->dv->dv_alerts[o->dv->dv_nalerts++];
        memset(al, 0, sizeof(*al));
        al->al_alert_id = vg_strdup(
                known ? known
                      : vg_rules_alert_id(rule, o->patient, anchor, id));
        al->al_rule = rule;
        al->al_status = VG_STATUS_ACTIVE;
        al->al_patient_id = vg_strdup(o->patient);
        al->al_kommun = vg_strdup(kommun);
        al->al_region = vg_strdup(vg_region_of(kommun, region));
        al->al_anchor = vg_strdup(anchor);
        return al;
}

/*
 * Readmissions (SPEC §5.1)
 */

static int is_hosp(const vg_event_t *e) {
        return e && e->ev_care_setting == VG_CS_HOSPITAL_INPATIENT;
}

static int64_t days(const out_t *o, int64_t a, int64_t b) {
        return vg_days_between(o->rc->rc_tz, a, b);
}

/* Is admission a a transfer continuation of some TRANSFER_ACUTE discharge?
 * The latest such discharge at or before a is the nearest in local days,
 * so only it needs checking (binary search). */
static int is_transfer_continuation(const out_t *o, const sel_t *s,
                                    const vg_event_t *a) {
        int lo = 0, hi = s->ntransfers - 1, best = -1;
        while (lo <= hi) {
                int mid = lo + (hi - lo) / 2;
                if (s->transfers[mid] <= a->ev_occurred_at) {
                        best = mid;
                        lo = mid + 1;
                } else
                        hi = mid - 1;
        }
        return best >= 0 &&
               days(o, s->transfers[best], a->ev_occurred_at) <= 1;
}

static int is_index_discharge(const vg_event_t *d) {
        return is_hosp(d) && d->ev_disposition != VG_DISP_DIED &&
               d->ev_disposition != VG_DISP_TRANSFER_ACUTE &&
               d->ev_disposition != VG_DISP_AGAINST_ADVICE;
}

/* The chosen HOSPITAL_INPATIENT admissions, in SPEC order. */
static int hosp_admissions(const sel_t *s, const vg_event_t **out) {
        int n = 0;
        for (int j = 0; j < s->nstays; j++)
                if (is_hosp(s->stays[j].st_adm))
                        out[n++] = s->stays[j].st_adm;
        if (n > 1)
                sort_events(out, n);
        return n;
}

/* The first of adms (ordered by time first) after time t: nadm if none
 * (a binary search, as a patient may have thousands). */
static int first_adm_after(const vg_event_t **adms, int nadm, int64_t t) {
        int lo = 0, hi = nadm;
        while (lo < hi) {
                int mid = lo + (hi - lo) / 2;
                if (adms[mid]->ev_occurred_at <= t)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return lo;
}

/* The readmission among adms[from, nadm) (ordered), those before end (the
 * local midnight that ends the index discharge's window): its place, or
 * -1. */
static int readmission_of(const out_t *o, const sel_t *s,
                          const vg_event_t **adms, int from, int nadm,
                          int64_t end) {
        for (int i = from; i < nadm; i++) {
                const vg_event_t *a = adms[i];
                if (a->ev_occurred_at >= end)
                        break; /* ordered: later ones are further away */
                if (a->ev_planned || is_transfer_continuation(o, s, a))
                        continue;
                return i;
        }
        return -1;
}

static void rule_readmission(out_t *o, const sel_t *s) {
        const vg_event_t **adms = s->adms, **latest = s->latest;
        int nadm = hosp_admissions(s, adms); /* (latest: zeroed) */
        int64_t wm_day = o->watermark != VG_WM_NONE
                                 ? vg_local_day(o->rc->rc_tz, o->watermark)
                                 : 0;

        for (int i = 0; i < s->nstays; i++) {
                const vg_event_t *d = s->stays[i].st_dis, *a = NULL;
                int64_t close_day, end = 0;
                int k, from;
                bool settled;
                if (!is_index_discharge(d))
                        continue;
                /* The window: days(D, A) <= window until the local
                 * midnight (end) that ends its last day. Counted once
                 * settled, readmitted or not (SPEC §6): when days(D,
                 * watermark) > window. */
                close_day = vg_local_day(o->rc->rc_tz, d->ev_occurred_at) +
                            o->rc->rc_window_days + 1;
                settled = o->watermark != VG_WM_NONE && wm_day >= close_day;
                from = first_adm_after(adms, nadm, d->ev_occurred_at);
                if (from < nadm || !settled) /* (once: a few conversions) */
                        end = vg_rules_local_midnight(o->rc->rc_tz,
                                                      close_day);
                if ((k = readmission_of(o, s, adms, from, nadm, end)) >= 0) {
                        a = adms[k];
                        if (!latest[k] || ev_order(d, latest[k]) > 0)
                                latest[k] = d;
                }
                if (settled)
                        cell_add(o, "readmission_30d", d->ev_kommun,
                                 d->ev_occurred_at, s->stays[i].st_adm,
                                 a != NULL, 1, false);
                else
                        due_at(o, end);
        }
        for (int k = 0; k < nadm; k++) {
                const vg_event_t *a = adms[k], *d = latest[k];
                vg_alert_t *al;
                if (!d)
                        continue;
                /* Raised once the watermark has reached A, so that every
                 * discharge that could make A a transfer continuation has
                 * been read (SPEC §5.1). */
                if (o->watermark == VG_WM_NONE ||
                    o->watermark < a->ev_occurred_at) {
                        due_at(o, a->ev_occurred_at);
                        continue;
                }
                al = alert_new(o, VG_RULE_READMISSION_30D, a->ev_stay_id,
                               a->ev_kommun);
                al->al_index_stay_id = vg_strdup(d->ev_stay_id);
                al->al_index_discharged_at = (vg_optl_t){true,
                                                         d->ev_occurred_at};
                al->al_readmission_stay_id = vg_strdup(a->ev_stay_id);
                al->al_readmitted_at = (vg_optl_t){true, a->ev_occurred_at};
                al->al_days_between = (vg_optl_t){
                        true, days(o, d->ev_occurred_at, a->ev_occurred_at)};
        }
}

/*
 * SIP_OVERDUE (SPEC §5.2) and sip_within_deadline
 */

/* The first of t[0, n) (ascending) at or after from: n if none. */
static int first_at(const int64_t *t, int n, int64_t from) {
        int lo = 0, hi = n;
        while (lo < hi) {
                int mid = lo + (hi - lo) / 2;
                if (t[mid] < from)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return lo;
}

static void rule_sip(out_t *o, const sel_t *s) {
        for (int i = 0; i < s->nstays; i++) {
                const vg_event_t *d = s->stays[i].st_dis;
                const vg_event_t *adm = s->stays[i].st_adm;
                int64_t deadline, from;
                int satisfied, due, j;
                if (!is_hosp(d) || !d->ev_needs_coordination ||
                    d->ev_disposition == VG_DISP_DIED ||
                    d->ev_disposition == VG_DISP_TRANSFER_ACUTE)
                        continue;
                deadline = d->ev_occurred_at + o->rc->rc_sip_deadline_ms;
                if (s->death && s->death->ev_occurred_at < deadline)
                        continue; /* void */
                from = adm ? adm->ev_occurred_at
                           : d->ev_occurred_at - 720 * VG_MS_PER_HOUR;
                j = first_at(s->sips, s->nsips, from); /* in [from, dl] */
                satisfied = j < s->nsips && s->sips[j] <= deadline;
                due = o->watermark != VG_WM_NONE && o->watermark > deadline;
                if (!due)
                        due_at(o, deadline + 1);
                /* Only due triggers are settled (SPEC §6). */
                if (due)
                        cell_add(o, "sip_within_deadline", d->ev_kommun,
                                 d->ev_occurred_at, adm, satisfied, 1, false);
                if (due && !satisfied) {
                        vg_alert_t *al = alert_new(o, VG_RULE_SIP_OVERDUE,
                                                   d->ev_stay_id,
                                                   d->ev_kommun);
                        al->al_stay_id = vg_strdup(d->ev_stay_id);
                        al->al_discharged_at = (vg_optl_t){true,
                                                           d->ev_occurred_at};
                        al->al_deadline = (vg_optl_t){true, deadline};
                }
        }
}

/*
 * Death indicators (SPEC §6)
 */

static void death_cells(out_t *o, const sel_t *s) {
        const vg_event_t *dth = s->death;
        const vg_event_t **adms;
        int nadm, eol = 0;
        int64_t dday;
        char ind[64];

        if (!dth)
                return;
        for (int p = 0; p < vg_enum_place.ve_cnt; p++) {
                vg_join(ind, sizeof(ind), '.',
                        (const char *const[]){"death_place",
                                              vg_enum_place.ve_symbols[p]},
                        2);
                cell_add(o, ind, dth->ev_kommun, dth->ev_occurred_at, dth,
                         dth->ev_place_of_death == p, 1, false);
        }
        adms = s->adms;
        nadm = hosp_admissions(s, adms);
        dday = vg_local_day(o->rc->rc_tz, dth->ev_occurred_at);
        for (int i = 0; i < nadm; i++) {
                const vg_event_t *a = adms[i];
                if (a->ev_occurred_at > dth->ev_occurred_at ||
                    dday - vg_local_day(o->rc->rc_tz, a->ev_occurred_at) >
                            o->rc->rc_eol_days ||
                    a->ev_planned || is_transfer_continuation(o, s, a))
                        continue;
                eol++;
        }
        cell_add(o, "eol_admission_30d", dth->ev_kommun, dth->ev_occurred_at,
                 dth,
                 eol >= 1, 1, false);
        cell_add(o, "eol_readmission_30d", dth->ev_kommun,
                 dth->ev_occurred_at, dth, eol >= 2, 1, false);
        if (dth->ev_expected) {
                /* a SIP at or before the death, at most that many local
                 * days before it: the first from the local midnight that
                 * starts the first of those days */
                int64_t from = vg_rules_local_midnight(
                        o->rc->rc_tz,
                        dday - o->rc->rc_sip_before_death_days);
                int i = first_at(s->sips, s->nsips, from);
                cell_add(o, "sip_before_death", dth->ev_kommun,
                         dth->ev_occurred_at, dth,
                         i < s->nsips && s->sips[i] <= dth->ev_occurred_at,
                         1, false);
        }
}

static void ssih_cells(out_t *o, const sel_t *s) {
        char ind[96];
        for (int i = 0; i < s->nstays; i++) {
                const vg_event_t *a = s->stays[i].st_adm;
                if (!a || a->ev_care_setting != VG_CS_SSIH)
                        continue;
                vg_join(ind, sizeof(ind), '.',
                        (const char *const[]){
                                "ssih_enrolment",
                                vg_rules_age_band(a->ev_age_years),
                                vg_enum_str(&vg_enum_diag,
                                            a->ev_diagnosis_group)},
                        3);
                cell_add(o, ind, a->ev_kommun, a->ev_occurred_at, a, 1, 0,
                         true);
        }
}

/*
 * DEATH_NOT_REGISTERED (SPEC §5.3), register_coverage and spr.* (§6)
 */

static void rule_register(out_t *o, const sel_t *s) {
        const vg_event_t *dth = s->death, *en = s->entry;
        char ind[64];

        if (!o->rc->rc_register)
                return;
        if (dth) {
                int64_t days_limit = o->rc->rc_register_deadline_days;
                /* The local midnight that ends the deadline day: due from
                 * there on, i.e. when days(death, watermark) > limit. */
                int64_t end = vg_rules_local_midnight(
                        o->rc->rc_tz,
                        vg_local_day(o->rc->rc_tz, dth->ev_occurred_at) +
                                days_limit + 1);
                bool due = o->watermark != VG_WM_NONE &&
                           days(o, dth->ev_occurred_at, o->watermark) >
                                   days_limit;
                if (!due) {
                        due_at(o, end);
                } else {
                        cell_add(o, "register_coverage", dth->ev_kommun,
                                 dth->ev_occurred_at, dth, en != NULL, 1, false);
                        if (!en) {
                                vg_alert_t *al = alert_new(
                                        o, VG_RULE_DEATH_NOT_REGISTERED,
                                        dth->ev_event_id, dth->ev_kommun);
                                al->al_died_at = (vg_optl_t){
                                        true, dth->ev_occurred_at};
                                al->al_deadline = (vg_optl_t){true, end};
                                al->al_place_of_death = vg_strdup(vg_enum_str(
                                        &vg_enum_place,
                                        dth->ev_place_of_death));
                        }
                }
        }
        /* The register's quality indicators: entries of expected deaths,
         * anchored on the death they report, in the entry's kommun. */
        if (en && en->ev_expected) {
                for (int q = 0; q < VG_Q__CNT; q++) {
                        vg_join(ind, sizeof(ind), '.',
                                (const char *const[]){"spr",
                                                      vg_question_names[q]},
                                2);
                        cell_add(o, ind, en->ev_kommun, en->ev_death_at,
                                 s->death,
                                 en->ev_answers[q] == VG_ANS_YES, 1, false);
                }
                cell_add(o, "spr.pressure_ulcer_free", en->ev_kommun,
                         en->ev_death_at, s->death,
                         en->ev_pressure_ulcer == VG_PU_NONE ||
                                 en->ev_pressure_ulcer == VG_PU_GRADE_1,
                         1, false);
        }
}

/*
 * Derive
 */

static int alert_cmp(const void *a, const void *b) {
        return strcmp(((const vg_alert_t *)a)->al_alert_id,
                      ((const vg_alert_t *)b)->al_alert_id);
}

static int cell_cmp(const void *a, const void *b) {
        return strcmp(((const vg_cell_t *)a)->ce_key,
                      ((const vg_cell_t *)b)->ce_key);
}

/* By key: a derivation has a dozen or two cells, and qsort's set-up cost
 * more than the sorting (2 % of Kafka mode's samples). The keys are
 * distinct (cell_put combines them), so any sort gives the same order. */
static void cells_sort(vg_cell_t *c, int n) {
        if (n > 32) {
                qsort(c, (size_t)n, sizeof(*c), cell_cmp);
                return;
        }
        for (int i = 1; i < n; i++) {
                vg_cell_t x = c[i];
                int j = i;
                while (j > 0 && cell_cmp(&c[j - 1], &x) > 0) {
                        c[j] = c[j - 1];
                        j--;
                }
                c[j] = x;
        }
}

void vg_derived_clear(vg_derived_t *dv) {
        if (!dv)
                return;
        for (int i = 0; i < dv->dv_nalerts; i++)
                vg_record_clear(VG_REC_ALERT, &dv->dv_alerts[i]);
        vg_free(dv->dv_alerts);
        for (int i = 0; i < dv->dv_ncells; i++)
                vg_free(dv->dv_cells[i].ce_key);
        vg_free(dv->dv_cells);
        memset(dv, 0, sizeof(*dv));
        dv->dv_next_due = INT64_MAX;
}

void vg_rules_derive(const vg_rules_conf_t *rc, const char *patient_id,
                     const vg_event_t *events, int n, int64_t watermark,
                     vg_derived_t *out) {
        vg_rules_derive_known(rc, patient_id, events, n, watermark, NULL, 0,
                              out);
}

void vg_rules_derive_known(const vg_rules_conf_t *rc, const char *patient_id,
                           const vg_event_t *events, int n, int64_t watermark,
                           const vg_alert_t *known, int nknown,
                           vg_derived_t *out) {
        vg_rules_derive_ex(rc, patient_id, events, n, watermark, known,
                           nknown, NULL, 0, out);
}

void vg_rules_derive_ex(const vg_rules_conf_t *rc, const char *patient_id,
                        const vg_event_t *events, int n, int64_t watermark,
                        const vg_alert_t *known, int nknown,
                        char *const *old_stays, int nold,
                        vg_derived_t *out) {
        out_t o;
        sel_t s;

        memset(out, 0, sizeof(*out));
        out->dv_next_due = INT64_MAX;
        o.rc = rc;
        o.patient = patient_id;
        o.dv = out;
        o.acap = o.ccap = 0;
        o.klen = NULL;
        o.known = known;
        o.nknown = nknown;
        o.watermark = watermark;
        o.per_ok = false;

        select_events(events, n, old_stays, nold, &s);
        rule_readmission(&o, &s);
        rule_sip(&o, &s);
        death_cells(&o, &s);
        ssih_cells(&o, &s);
        rule_register(&o, &s);
        out->dv_conflicts = s.conflicts;
        select_free(&s);
        vg_free(o.klen);

        /* Cells whose contribution is all zero carry no information. */
        for (int i = 0; i < out->dv_ncells;) {
                if (!out->dv_cells[i].ce_num && !out->dv_cells[i].ce_den &&
                    !out->dv_cells[i].ce_count) {
                        vg_free(out->dv_cells[i].ce_key);
                        out->dv_cells[i] = out->dv_cells[--out->dv_ncells];
                } else
                        i++;
        }
        if (out->dv_nalerts > 1)
                qsort(out->dv_alerts, (size_t)out->dv_nalerts,
                      sizeof(vg_alert_t), alert_cmp);
        cells_sort(out->dv_cells, out->dv_ncells);
}
