/*
 * vg_part_timers.c - a commit's timers: the next-due times of the batch's
 * patients written, and every patient whose timer the watermark has
 * passed re-derived at it, by due time then id.
 *
 * With a store, most patients whose timer fires at a commit are the
 * batch's own (catching up: all but a few), and their timer rows hold
 * what they were before the batch. Those are not written first and read
 * back: they are fired from memory, merged in (due, id) order with the
 * rows of the other patients, whose rows are read a page at a time.
 */
#include "vg_part_int.h"

#include <stdlib.h>

#define PAGE 256

static int pe_due_cmp(const void *pa, const void *pb) {
        const pent_t *a = *(pent_t *const *)pa, *b = *(pent_t *const *)pb;
        return vg_due_id_cmp(vg_pent_next_due(a), a->pe_id,
                             vg_pent_next_due(b), b->pe_id);
}

/*
 * Catching up, a batch holds several events of most of its patients, and
 * deriving a patient after each of them (the rules, the diff, the
 * counters, the alerts) was about a quarter of Kafka mode's CPU.
 * With vg_part_set_defer(after), an open batch's events past the first
 * `after` are only added to their patients, whose timers are then due at
 * once (VG_DUE_UNDERIVED): the commit derives each once, at its
 * watermark, as it re-derives a patient whose timer the watermark has
 * passed. Same states, counters and final alerts; alerts raised and
 * retracted within the batch are not raised. A live batch holds fewer
 * events than `after`: each is derived as it comes, so that an alert it
 * raises still commits its batch at once (batch.linger_ms waits only for
 * batches that raise none). Before the partition has a watermark, a
 * patient not derived since its events is still due at the commit
 * (fire_at): derived there at none, as each event would have been.
 */
void vg_part_set_defer(vg_part_t *part, int64_t after) {
        part->pa_defer_after = after;
}

bool vg_part_defers(vg_part_t *part) {
        return part->pa_defer_after >= 0 &&
               ++part->pa_batch_events > part->pa_defer_after;
}

/* The time timers fall due at by the watermark wm: with none yet, only
 * the patients not derived since their events (VG_DUE_UNDERIVED). */
static int64_t fire_at(int64_t wm) {
        return wm == VG_WM_NONE ? VG_DUE_UNDERIVED : wm;
}

/* Re-derives one patient (decoded) at the watermark. */
static vg_err_t fire(vg_part_t *part, pent_t *pe, char *errstr,
                     size_t errstr_size) {
        vg_changes_t ch;
        vg_err_t err;
        if (pe->pe_pt->pt_next_due == VG_DUE_UNDERIVED)
                part->pa_stats.ps_deferred++;
        else
                part->pa_stats.ps_timers++;
        vg_engine_apply(part->pa_rc, pe->pe_pt, NULL, part->pa_wm.wm_value,
                        &ch);
        vg_part_dirty(part, pe);
        err = vg_part_apply_changes(part, &ch, errstr, errstr_size);
        vg_changes_clear(&ch);
        vg_part_pack(part, pe, true);
        if (!err) /* state: once, at the end */
                err = vg_part_timer_put(part, pe, errstr, errstr_size);
        return err;
}

/* Memory-only: off the timer heap, in the same order. */
static vg_err_t fire_heap(vg_part_t *part, char *errstr,
                          size_t errstr_size) {
        for (;;) {
                pent_t *due[PAGE];
                size_t n = vg_part_timers_due(
                        part, fire_at(part->pa_wm.wm_value), due, PAGE);
                vg_err_t err = VG_OK;
                if (!n)
                        return VG_OK;
                for (size_t i = 0; !err && i < n; i++)
                        if (!(err = vg_part_unpack(due[i], errstr,
                                                   errstr_size)))
                                err = fire(part, due[i], errstr,
                                           errstr_size);
                if (err)
                        return err;
        }
}

/* The next page of timer rows due at the watermark after (*due, *id);
 * moves (*due, *id) to its last. -1 on error. */
static int page(vg_part_t *part, int64_t *due, char **id, char **ids,
                int64_t *dues, char *errstr, size_t errstr_size) {
        sqlite3_stmt *s = vg_part_st(part, S_DUE_TIMERS);
        int n = 0, rc = SQLITE_DONE;
        sqlite3_bind_int64(s, 1, fire_at(part->pa_wm.wm_value));
        sqlite3_bind_int64(s, 2, *due);
        sqlite3_bind_text(s, 3, *id, -1, SQLITE_STATIC);
        sqlite3_bind_int(s, 4, PAGE);
        while (n < PAGE && (rc = sqlite3_step(s)) == SQLITE_ROW) {
                const char *t = (const char *)sqlite3_column_text(s, 0);
                if (!t) { /* (out of memory) */
                        rc = SQLITE_NOMEM;
                        break;
                }
                ids[n] = vg_strdup(t);
                dues[n++] = sqlite3_column_int64(s, 1);
        }
        sqlite3_reset(s);
        if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
                while (n)
                        vg_free(ids[--n]);
                vg_part_db_err(part, errstr, errstr_size, "read timers");
                return -1;
        }
        if (n) {
                vg_free(*id);
                *id = vg_strdup(ids[n - 1]);
                *due = dues[n - 1];
        }
        return n;
}

/* With a store: d (nd of the batch's patients, due at the watermark, their
 * rows not written) merged with the rows due of every other patient. Of
 * the batch's patients, only those in d can have a row due (the others'
 * rows hold their next-due time, after the watermark: pe_due is always
 * the row's), and theirs is stale: skipped. */
static vg_err_t fire_store(vg_part_t *part, pent_t **d, size_t nd,
                           char *errstr, size_t errstr_size) {
        char *ids[PAGE], *last_id = vg_strdup("");
        int64_t dues[PAGE], last_due = INT64_MIN;
        int n = 0, j = 0;
        bool more = true;
        size_t i = 0;
        vg_err_t err = VG_OK;

        if (nd > 1)
                qsort(d, nd, sizeof(*d), pe_due_cmp);
        while (!err) {
                pent_t *pe;
                bool read = false;
                if (j == n && more) {
                        while (n)
                                vg_free(ids[--n]);
                        j = 0;
                        if ((n = page(part, &last_due, &last_id, ids, dues,
                                      errstr, errstr_size)) < 0) {
                                n = 0;
                                err = VG_ERR_STORE;
                                break;
                        }
                        more = n == PAGE;
                }
                if (i < nd &&
                    (j == n || vg_due_id_cmp(vg_pent_next_due(d[i]),
                                             d[i]->pe_id, dues[j],
                                             ids[j]) < 0)) {
                        pe = d[i++];
                        if (vg_part_unpack(pe, errstr, errstr_size))
                                pe = NULL;
                } else if (j < n) {
                        const char *id = ids[j++];
                        uint32_t h = vg_hash_str(id);
                        pe = vg_part_cached_h(part, id, h);
                        if (pe && pe->pe_dirty)
                                continue;
                        /* (cached: decoded as it is, not looked up again) */
                        if (pe && vg_part_unpack(pe, errstr, errstr_size))
                                pe = NULL;
                        else if (!pe) {
                                pe = vg_part_patient_h(part, id, h, errstr,
                                                       errstr_size);
                                /* read for its timer: fired, then written
                                 * and dropped if the cache is full (the
                                 * commit would hold it otherwise) */
                                read = true;
                        }
                } else
                        break;
                err = pe ? fire(part, pe, errstr, errstr_size) : VG_ERR_STORE;
                if (!err && read)
                        err = vg_part_cache_evict(part, pe, errstr,
                                                  errstr_size);
        }
        while (n)
                vg_free(ids[--n]);
        vg_free(last_id);
        return err;
}

bool vg_part_would_fire(vg_part_t *part, int64_t now_ms) {
        vg_wm_t wm = part->pa_wm;
        sqlite3_stmt *s;
        int64_t at;
        bool due;
        if (!part->pa_in_batch)
                return false;
        /* The batch's time is now (its commit's, as for a batch begun now:
         * a topic that has been at its end for stream.idle_ms since it
         * began no longer holds the watermark back). */
        if (now_ms > part->pa_now)
                part->pa_now = now_ms;
        if (!part->pa_wm_hold) /* as vg_part_commit would */
                vg_wm_update(&wm, part->pa_now);
        at = fire_at(wm.wm_value);
        /* The batch's patients: their next-due times as they are now (on
         * the heap, or in their rows, as they were before the batch). */
        for (size_t i = 0; i < part->pa_ndirty; i++) {
                int64_t d = vg_pent_next_due(part->pa_dirty[i]);
                if (d != INT64_MAX && d <= at)
                        return true;
        }
        if (part->pa_mtimers)
                return part->pa_ntheap && part->pa_theap[0]->pe_due <= at;
        /* The others' rows (a stale row of the batch's may say yes). */
        s = vg_part_st(part, S_DUE_TIMERS);
        sqlite3_bind_int64(s, 1, at);
        sqlite3_bind_int64(s, 2, INT64_MIN);
        sqlite3_bind_text(s, 3, "", 0, SQLITE_STATIC);
        sqlite3_bind_int(s, 4, 1);
        due = sqlite3_step(s) != SQLITE_DONE; /* (an error: yes, commit) */
        sqlite3_reset(s);
        return due;
}

vg_err_t vg_part_commit_timers(vg_part_t *part, char *errstr,
                               size_t errstr_size) {
        int64_t at = fire_at(part->pa_wm.wm_value);
        size_t n0, nd = 0;
        pent_t **d = NULL;
        vg_err_t err = VG_OK;

        /* In key order (the timers table's), as the states after. */
        vg_part_sort_dirty(part, 0);
        n0 = part->pa_ndirty;
        for (size_t i = 0; !err && i < n0; i++) {
                pent_t *pe = part->pa_dirty[i];
                int64_t due = vg_pent_next_due(pe);
                if (!part->pa_mtimers && due != INT64_MAX && due <= at) {
                        if (!d)
                                d = vg_malloc(sizeof(*d) * n0);
                        d[nd++] = pe;
                } else
                        err = vg_part_timer_put(part, pe, errstr,
                                                errstr_size);
        }
        if (!err)
                err = part->pa_mtimers
                              ? fire_heap(part, errstr, errstr_size)
                              : fire_store(part, d, nd, errstr, errstr_size);
        vg_free(d);
        /* (the patients fired join the batch) */
        vg_part_sort_dirty(part, n0);
        return err;
}
