/*
 * vg_part_cache.c - a partition's patients in memory (vg_part_int.h).
 *
 * The cache outlives commits (hot state in memory, written behind): a
 * patient is read from the store once, and written back only in a batch
 * that changed it - at its commit, or earlier in its transaction when the
 * cache is full (vg_part_cache_trim: a catch-up batch of a large
 * population changes more patients than the cache holds).
 *
 * Packed: a partition keeps each patient in memory as the bytes a store
 * row holds (vg_patient_encode: a few hundred bytes) and decodes it only
 * while an event or a timer is applied to it; the decoded form is three
 * to five times larger (an event is a struct and a string per field). A
 * changed patient is encoded once, right after the change, and its commit
 * writes those bytes. File mode (nothing written) keeps them packed too
 * (2.9 times less memory for 1.4 times the CPU per event), but for the
 * first ones it holds (vg_part_set_decoded, docs/ARCHITECTURE.md). A
 * patient of more than VG_PART_PACK_EVENTS stays decoded (vg_part_pack).
 *
 * An entry's pe_pt, when set, is the patient; otherwise its pe_blob is.
 * Bytes an entry holds are always its patient's as it is (dropped where
 * it changes; a patient read from the store is held decoded without them
 * until its first pack, which encodes it, changed or not).
 */
#include "vg_part_int.h"
#include "vg_patient_store.h"

#include <limits.h>
#include <stddef.h>
#include <string.h>
#include <sqlite3.h>

static void pent_del(vg_hnode_t *n) {
        pent_t *pe = (pent_t *)n;
        vg_patient_destroy(pe->pe_pt);
        vg_free(pe->pe_blob);
        vg_free(pe->pe_tail);
        vg_free(pe);
}

static bool pent_eq(const vg_hnode_t *n, const void *key) {
        return !strcmp(((const pent_t *)n)->pe_id, key);
}

/* The patients that left the cache of a store without other rows
 * (pa_no_rows): only they, of those not cached, have a row to look up. */
static uint32_t gone_key(uint32_t h) {
        return h ? h : 1;
}

static bool gone_has(const vg_part_t *part, uint32_t h) {
        size_t mask = part->pa_gone_cap - 1;
        if (!part->pa_ngone)
                return false;
        h = gone_key(h);
        for (size_t i = h & mask;; i = (i + 1) & mask) {
                if (part->pa_gone[i] == h)
                        return true;
                if (!part->pa_gone[i])
                        return false;
        }
}

static void gone_put(uint32_t *set, size_t cap, uint32_t h) {
        size_t i = h & (cap - 1);
        while (set[i] && set[i] != h)
                i = (i + 1) & (cap - 1);
        set[i] = h;
}

static void gone_add(vg_part_t *part, uint32_t h) {
        h = gone_key(h);
        /* (bounded by the cache: beyond, every patient not cached is
         * looked up, as in a store opened with rows) */
        if (part->pa_ngone >= 4 * part->pa_cache_max + 65536) {
                vg_part_rows_unknown(part);
                return;
        }
        if (2 * (part->pa_ngone + 1) > part->pa_gone_cap) { /* half full */
                size_t cap = part->pa_gone_cap ? part->pa_gone_cap * 2 : 1024;
                uint32_t *set = vg_calloc(cap, sizeof(*set));
                for (size_t i = 0; i < part->pa_gone_cap; i++)
                        if (part->pa_gone[i])
                                gone_put(set, cap, part->pa_gone[i]);
                vg_free(part->pa_gone);
                part->pa_gone = set;
                part->pa_gone_cap = cap;
        }
        if (!gone_has(part, h)) {
                gone_put(part->pa_gone, part->pa_gone_cap, h);
                part->pa_ngone++;
        }
}

void vg_part_rows_unknown(vg_part_t *part) {
        part->pa_no_rows = false;
        vg_free(part->pa_gone);
        part->pa_gone = NULL;
        part->pa_ngone = part->pa_gone_cap = 0;
}

void vg_part_cache_drop(vg_part_t *part) {
        part->pa_decoded = 0;
        vg_htab_clear(&part->pa_cache, pent_del);
        if (part->pa_persist) /* (rows of patients no longer cached) */
                vg_part_rows_unknown(part);
        part->pa_ndirty = 0;
        part->pa_ntheap = 0;
}

void vg_part_cache_free(vg_part_t *part) {
        vg_htab_free(&part->pa_cache, pent_del);
        vg_part_rows_unknown(part);
        vg_free(part->pa_theap);
        part->pa_theap = NULL;
        part->pa_ntheap = part->pa_theap_cap = 0;
        vg_free(part->pa_dirty);
        part->pa_dirty = NULL;
        part->pa_ndirty = part->pa_dirty_cap = 0;
}

/* A patient changed in the open batch, written before the commit: its
 * timer row first (the commit's timers read it: vg_part_timers.c), then
 * its state and changelog rows, as vg_part_commit would have. */
static vg_err_t spill(vg_part_t *part, pent_t *pe, char *errstr,
                      size_t errstr_size) {
        vg_err_t err = vg_part_timer_put(part, pe, errstr, errstr_size);
        if (!err)
                err = vg_part_state_put(part, pe, errstr, errstr_size);
        if (!err) {
                part->pa_stats.ps_states++;
                part->pa_stats.ps_early++;
        }
        return err;
}

vg_err_t vg_part_cache_trim(vg_part_t *part, const pent_t *spare,
                            size_t room, char *errstr, size_t errstr_size) {
        vg_htab_t *ht = &part->pa_cache;
        size_t max = part->pa_cache_max, i, n = 0;
        size_t keep = max - max / 4;
        vg_hnode_t *written = NULL; /* unlinked, freed once off pa_dirty */
        vg_err_t err = VG_OK;

        if (ht->ht_n + room <= max)
                return VG_OK;
        if (keep + room > max) /* (a cache of a few) */
                keep = max > room ? max - room : 0;
        if (spare && keep < 1) /* (it stays) */
                keep = 1;
        /* CLOCK: the hand goes round the buckets, clearing each entry's
         * mark (used since the hand last passed) and dropping those it
         * finds unmarked; a second round finds every one unmarked but
         * spare, so it ends. */
        i = part->pa_clock & (ht->ht_nb - 1);
        while (!err && ht->ht_n > keep) {
                vg_hnode_t **pp = &ht->ht_b[i];
                while (*pp && ht->ht_n > keep) {
                        pent_t *pe = (pent_t *)*pp;
                        if (pe->pe_ref || pe == spare) {
                                pe->pe_ref = false;
                                pp = &pe->pe_h.hn_next;
                                continue;
                        }
                        if (pe->pe_dirty &&
                            (err = spill(part, pe, errstr, errstr_size)))
                                break;
                        *pp = pe->pe_h.hn_next;
                        ht->ht_n--;
                        if (part->pa_no_rows) /* (it may have a row now) */
                                gone_add(part, pe->pe_h.hn_hash);
                        if (pe->pe_dirty) {
                                pe->pe_dirty = false;
                                pe->pe_h.hn_next = written;
                                written = &pe->pe_h;
                                n++;
                        } else
                                pent_del(&pe->pe_h);
                }
                if (!err)
                        i = (i + 1) & (ht->ht_nb - 1);
        }
        part->pa_clock = i;
        if (n) { /* off the batch's list (it keeps its order) */
                size_t k = 0;
                for (size_t j = 0; j < part->pa_ndirty; j++)
                        if (part->pa_dirty[j]->pe_dirty)
                                part->pa_dirty[k++] = part->pa_dirty[j];
                part->pa_ndirty = k;
        }
        while (written) {
                vg_hnode_t *next = written->hn_next;
                pent_del(written);
                written = next;
        }
        return err;
}

vg_err_t vg_part_cache_evict(vg_part_t *part, pent_t *pe, char *errstr,
                             size_t errstr_size) {
        vg_err_t err;
        size_t j;
        if (part->pa_cache.ht_n <= part->pa_cache_max || !pe->pe_dirty)
                return VG_OK;
        /* (its timer row is written already: fire did) */
        if ((err = spill(part, pe, errstr, errstr_size)))
                return err;
        /* off the batch's list (it was added last, by its timer) */
        for (j = part->pa_ndirty; j > 0 && part->pa_dirty[j - 1] != pe; j--)
                ;
        if (j > 0) {
                memmove(&part->pa_dirty[j - 1], &part->pa_dirty[j],
                        (part->pa_ndirty - j) * sizeof(*part->pa_dirty));
                part->pa_ndirty--;
        }
        pe->pe_dirty = false;
        vg_htab_remove(&part->pa_cache, &pe->pe_h);
        if (part->pa_no_rows)
                gone_add(part, pe->pe_h.hn_hash);
        pent_del(&pe->pe_h);
        return VG_OK;
}

/* The timer heap of a memory-only partition: a binary min-heap of the
 * patients with a timer, by (pe_due, pe_id) as the timers table's
 * S_DUE_TIMERS orders them (BINARY collation: strcmp), each knowing its
 * place (pe_tix) so that a moved timer is re-placed, not added twice. */
static bool th_less(const pent_t *a, const pent_t *b) {
        return vg_due_id_cmp(a->pe_due, a->pe_id, b->pe_due, b->pe_id) < 0;
}

static void th_place(vg_part_t *part, size_t i, pent_t *pe) {
        part->pa_theap[i] = pe;
        pe->pe_tix = (uint32_t)(i + 1);
}

static void th_up(vg_part_t *part, size_t i) {
        pent_t *pe = part->pa_theap[i];
        while (i > 0 && th_less(pe, part->pa_theap[(i - 1) / 2])) {
                th_place(part, i, part->pa_theap[(i - 1) / 2]);
                i = (i - 1) / 2;
        }
        th_place(part, i, pe);
}

static void th_down(vg_part_t *part, size_t i) {
        pent_t *pe = part->pa_theap[i];
        size_t n = part->pa_ntheap, c;
        while ((c = 2 * i + 1) < n) {
                if (c + 1 < n &&
                    th_less(part->pa_theap[c + 1], part->pa_theap[c]))
                        c++;
                if (!th_less(part->pa_theap[c], pe))
                        break;
                th_place(part, i, part->pa_theap[c]);
                i = c;
        }
        th_place(part, i, pe);
}

static void th_remove(vg_part_t *part, pent_t *pe) {
        size_t i = pe->pe_tix - 1;
        pent_t *last = part->pa_theap[--part->pa_ntheap];
        pe->pe_tix = 0;
        pe->pe_due = INT64_MAX;
        if (last == pe)
                return;
        th_place(part, i, last);
        th_down(part, i);
        th_up(part, last->pe_tix - 1);
}

static void th_set(vg_part_t *part, pent_t *pe, int64_t due) {
        if (pe->pe_tix) {
                if (due == INT64_MAX) {
                        th_remove(part, pe);
                        return;
                }
                pe->pe_due = due;
                th_down(part, pe->pe_tix - 1);
                th_up(part, pe->pe_tix - 1);
                return;
        }
        if (due == INT64_MAX)
                return;
        if (part->pa_ntheap == part->pa_theap_cap) {
                part->pa_theap_cap = part->pa_theap_cap ? part->pa_theap_cap * 2
                                                        : 1024;
                part->pa_theap = vg_realloc(part->pa_theap,
                                            sizeof(*part->pa_theap) *
                                                    part->pa_theap_cap);
        }
        pe->pe_due = due;
        th_place(part, part->pa_ntheap++, pe);
        th_up(part, part->pa_ntheap - 1);
}

vg_err_t vg_part_unpack(pent_t *pe, char *errstr, size_t errstr_size) {
        if (pe->pe_pt)
                return VG_OK;
        if (!(pe->pe_pt = vg_patient_decode_own(pe->pe_id, pe->pe_blob,
                                                pe->pe_blen, errstr,
                                                errstr_size)))
                return VG_ERR_STORE;
        /* (its alert ids as they were when this process packed it: made
         * by this engine if they were then) */
        pe->pe_pt->pt_ids_made = pe->pe_ids_made;
        if (pe->pe_tail) {
                /* the events added since: the bytes, the state before
                 * them, are stale now (its bound holds) */
                if (vg_patient_tail_apply(pe->pe_pt, pe->pe_tail,
                                          pe->pe_tlen)) {
                        vg_patient_destroy(pe->pe_pt);
                        pe->pe_pt = NULL;
                        return vg_seterr(errstr, errstr_size, VG_ERR_STORE,
                                         "patient %s: events added to it "
                                         "do not read back", pe->pe_id);
                }
                vg_free(pe->pe_tail);
                pe->pe_tail = NULL;
                pe->pe_tlen = 0;
                vg_free(pe->pe_blob);
                pe->pe_blob = NULL;
                pe->pe_blen = 0;
        }
        return VG_OK;
}

/* Minutes since 1900-01-01T00:00Z of t, rounded down (lo) and up (hi);
 * false where an int32_t does not hold them. */
#define MS_1900 (-2208988800000LL)
static bool minutes(int64_t t, int32_t *lo, int32_t *hi) {
        int64_t m;
        if (t < MS_1900 || t - MS_1900 > (int64_t)(INT32_MAX - 1) * 60000)
                return false;
        m = (t - MS_1900) / 60000;
        *lo = (int32_t)m;
        *hi = (int32_t)(m + ((t - MS_1900) % 60000 != 0));
        return true;
}

static int64_t ms_of(int32_t m) {
        return MS_1900 + (int64_t)m * 60000;
}

/* Two bits of 64 chosen by id (vg_hash_str, the tables' own hash): an
 * id whose bits are not both in a patient's mask is none of its events'
 * ids. */
static uint64_t id_bits(const char *s) {
        uint32_t h = vg_hash_str(s);
        return (uint64_t)1 << (h & 63) | (uint64_t)1 << (h >> 26);
}

/* pe's bounds, from its patient as its bytes now hold it. */
static void pent_sum(pent_t *pe, const vg_patient_t *pt) {
        pe->pe_sum = pt->pt_nevents < VG_PART_PACK_EVENTS && !pt->pt_nold &&
                     !pt->pt_nold_cancelled;
        pe->pe_nev = (uint16_t)(pe->pe_sum ? pt->pt_nevents : 0);
        pe->pe_newest = INT32_MIN;
        pe->pe_oldest = INT32_MAX;
        pe->pe_idmask = 0;
        for (int i = 0; pe->pe_sum && i < pt->pt_nevents; i++) {
                const vg_event_t *e = &pt->pt_events[i];
                int32_t lo, hi;
                if (!minutes(e->ev_occurred_at, &lo, &hi)) {
                        pe->pe_sum = false;
                        break;
                }
                if (hi > pe->pe_newest)
                        pe->pe_newest = hi;
                if (lo < pe->pe_oldest)
                        pe->pe_oldest = lo;
                pe->pe_idmask |= id_bits(e->ev_event_id);
        }
}

static bool tail_add(vg_part_t *part, pent_t *pe, const vg_event_t *ev) {
        const vg_rules_conf_t *rc = part->pa_rc;
        uint64_t bits;
        size_t growth;
        int32_t lo, hi;
        if (!pe->pe_sum || pe->pe_pt || !pe->pe_blob || !pe->pe_bound ||
            pe->pe_nev + 1 >= VG_PART_PACK_EVENTS ||
            !minutes(ev->ev_occurred_at, &lo, &hi))
                return false;
        bits = id_bits(ev->ev_event_id);
        if ((pe->pe_idmask & bits) == bits || /* (may be a repeat) */
            !vg_engine_adds_only(rc,
                                 pe->pe_nev ? ms_of(pe->pe_newest)
                                            : INT64_MIN,
                                 pe->pe_nev ? ms_of(pe->pe_oldest)
                                            : INT64_MAX,
                                 ev, part->pa_wm.wm_value))
                return false;
        growth = vg_patient_event_growth(ev);
        if (pe->pe_bound + growth > VG_PART_STATE_MAX / 2)
                return false;
        vg_buf_reset(&part->pa_sbuf);
        vg_patient_tail_add(&part->pa_sbuf, ev);
        pe->pe_tail = vg_realloc(pe->pe_tail,
                                 pe->pe_tlen + part->pa_sbuf.vb_len);
        memcpy(pe->pe_tail + pe->pe_tlen, part->pa_sbuf.vb_data,
               part->pa_sbuf.vb_len);
        pe->pe_tlen += (uint32_t)part->pa_sbuf.vb_len;
        pe->pe_bound += (uint32_t)growth;
        pe->pe_nev++;
        if (hi > pe->pe_newest)
                pe->pe_newest = hi;
        if (lo < pe->pe_oldest)
                pe->pe_oldest = lo;
        pe->pe_idmask |= bits;
        /* derived at the commit, as an event deferred decoded is */
        pe->pe_next_due = VG_DUE_UNDERIVED;
        pe->pe_ref = true;
        vg_part_dirty(part, pe);
        if (ev->ev_occurred_at < part->pa_data_since)
                part->pa_data_since = ev->ev_occurred_at;
        part->pa_stats.ps_events++;
        part->pa_stats.ps_tail++;
        if (ev->ev_cancels_event_id)
                part->pa_stats.ps_cancellations++;
        return true;
}

bool vg_part_tail_event(vg_part_t *part, const vg_event_t *ev,
                        uint32_t hash, int *asked) {
        pent_t *pe;
        /* (the limit not reached - rules.max_patient_events: the caller
         * would ask defers() too) */
        if (!part->pa_persist ||
            !(pe = vg_part_cached_h(part, ev->ev_patient_id, hash)) ||
            !pe->pe_sum || pe->pe_pt ||
            pe->pe_nev >= part->pa_rc->rc_max_events)
                return false;
        return (*asked = vg_part_defers(part)) && tail_add(part, pe, ev);
}

pent_t *vg_part_cached(vg_part_t *part, const char *id) {
        return vg_part_cached_h(part, id, vg_hash_str(id));
}

pent_t *vg_part_cached_h(vg_part_t *part, const char *id, uint32_t h) {
        return (pent_t *)vg_htab_find(&part->pa_cache, h, pent_eq, id);
}

void vg_part_prefetch(const vg_part_t *part, uint32_t hash, int step) {
        const vg_htab_t *ht = &part->pa_cache;
        const vg_hnode_t *n;
        const pent_t *pe;

        /* Safe for any partition: each step walks the table as it is now
         * (a rollback or a trim unlinks entries before freeing them), on
         * the thread that has the partition, and keeps nothing. Only for
         * a memory-only one, though: in Kafka mode an event's misses are
         * a small part of its cost (docs/ARCHITECTURE.md). */
        if (part->pa_persist || !ht->ht_nb)
                return;
        if (step == 0) {
                __builtin_prefetch(&ht->ht_b[hash & (ht->ht_nb - 1)]);
                return;
        }
        n = ht->ht_b[hash & (ht->ht_nb - 1)];
        if (step == 1) {
                if (n)
                        __builtin_prefetch(n);
                return;
        }
        while (n && n->hn_hash != hash) /* (another id may share it) */
                n = n->hn_next;
        if (!n || !(pe = (const pent_t *)n)->pe_blob)
                return;
        for (uint32_t i = 0; i < pe->pe_blen && i < 256; i += 64)
                __builtin_prefetch(pe->pe_blob + i);
}

pent_t *vg_part_patient(vg_part_t *part, const char *id, char *errstr,
                        size_t errstr_size) {
        return vg_part_patient_h(part, id, vg_hash_str(id), errstr,
                                 errstr_size);
}

pent_t *vg_part_patient_h(vg_part_t *part, const char *id, uint32_t h,
                          char *errstr, size_t errstr_size) {
        pent_t *pe = (pent_t *)vg_htab_find(&part->pa_cache, h, pent_eq, id);
        sqlite3_stmt *s = NULL;
        vg_patient_t *pt;
        size_t idlen, size;
        int64_t due = INT64_MAX;

        if (pe) {
                pe->pe_ref = true;
                return vg_part_unpack(pe, errstr, errstr_size) ? NULL : pe;
        }
        /* (a store without rows that are not cached, pa_no_rows, has
         * none to look for, but those of the patients that left the
         * cache) */
        if (!part->pa_no_rows || gone_has(part, h)) {
                s = vg_part_st(part, S_GET_PATIENT);
                sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
                part->pa_stats.ps_lookups++;
        }
        switch (s ? sqlite3_step(s) : SQLITE_DONE) {
        case SQLITE_ROW:
                pt = vg_patient_decode(id, sqlite3_column_blob(s, 0),
                                       (size_t)sqlite3_column_bytes(s, 0),
                                       errstr, errstr_size);
                if (!pt) {
                        sqlite3_reset(s);
                        return NULL;
                }
                /* Its timer row was written with its state. */
                due = pt->pt_next_due;
                break;
        case SQLITE_DONE:
                pt = vg_patient_new(id);
                break;
        default:
                vg_part_db_err(part, errstr, errstr_size, "read patient");
                sqlite3_reset(s);
                return NULL;
        }
        idlen = strlen(id);
        /* (the id from where it starts, not after the struct's tail
         * padding: 156 bytes, not 161, for a 64-character id, which
         * jemalloc rounds to 160, not 192) */
        size = offsetof(pent_t, pe_id) + idlen + 1;
        pe = vg_calloc(1, size > sizeof(*pe) ? size : sizeof(*pe));
        memcpy(pe->pe_id, id, idlen + 1);
        if (s)
                sqlite3_reset(s);
        pe->pe_pt = pt;
        pe->pe_ref = true;
        pe->pe_h.hn_hash = h;
        pe->pe_due = due;
        pe->pe_next_due = due;
        vg_htab_insert(&part->pa_cache, &pe->pe_h);
        if (part->pa_mtimers && due != INT64_MAX) {
                /* (memory-only on a store that had rows: its timer goes
                 * on the heap, not left in the table) */
                pe->pe_due = INT64_MAX;
                th_set(part, pe, due);
        }
        return pe;
}

void vg_part_encode(vg_part_t *part, const pent_t *pe) {
        vg_buf_reset(&part->pa_sbuf);
        part->pa_sbound = vg_patient_encode(pe->pe_pt, &part->pa_sbuf);
}

/* (the bytes of pe_pt as it is: its next-due time and ids with them) */
void vg_part_keep_bytes(vg_part_t *part, pent_t *pe) {
        pe->pe_blob = vg_realloc(pe->pe_blob, part->pa_sbuf.vb_len);
        memcpy(pe->pe_blob, part->pa_sbuf.vb_data, part->pa_sbuf.vb_len);
        pe->pe_blen = (uint32_t)part->pa_sbuf.vb_len;
        pe->pe_next_due = pe->pe_pt->pt_next_due;
        pe->pe_ids_made = pe->pe_pt->pt_ids_made;
        if (part->pa_persist) {
                pe->pe_bound = part->pa_sbound <= UINT32_MAX
                                       ? (uint32_t)part->pa_sbound
                                       : 0;
                pent_sum(pe, pe->pe_pt);
        }
}

void vg_part_pack(vg_part_t *part, pent_t *pe, bool changed) {
        if (!pe->pe_pt || pe->pe_kept)
                return;
        /* A memory-only partition keeps its first pa_decoded_max patients
         * (with events, and short: a long one stays decoded anyway)
         * decoded for good: two thirds of the CPU per event, and no
         * churn (docs/ARCHITECTURE.md). Without bytes (those of one
         * packed before, with no events then, are stale from now on). */
        if (!part->pa_persist && part->pa_decoded < part->pa_decoded_max &&
            pe->pe_pt->pt_nevents > 0 &&
            pe->pe_pt->pt_nevents <= VG_PART_PACK_EVENTS) {
                vg_free(pe->pe_blob);
                pe->pe_blob = NULL;
                pe->pe_blen = 0;
                pe->pe_kept = true;
                part->pa_decoded++;
                return;
        }
        /* A long history stays decoded: packing costs a decode and an
         * encode of the whole history per event (at 200 events each,
         * three times the CPU of the rest: docs/ARCHITECTURE.md). Its
         * bytes are dropped once stale (file mode: at once; they are
         * not written); a persisting partition keeps bytes just made,
         * and their bound while nothing but events is added
         * (vg_partition.c). */
        if (pe->pe_pt->pt_nevents > VG_PART_PACK_EVENTS) {
                if (changed || !part->pa_persist) {
                        vg_free(pe->pe_blob);
                        pe->pe_blob = NULL;
                        pe->pe_blen = 0;
                }
                if (changed && part->pa_persist)
                        pe->pe_bound = 0;
                return;
        }
        if (changed || !pe->pe_blob) {
                vg_part_encode(part, pe);
                if (part->pa_sbuf.vb_len > INT_MAX) {
                        /* (kept decoded: SQLite takes no more; the old
                         * bytes are stale now) */
                        vg_free(pe->pe_blob);
                        pe->pe_blob = NULL;
                        pe->pe_blen = 0;
                        if (part->pa_persist)
                                pe->pe_bound = 0;
                        return;
                }
                vg_part_keep_bytes(part, pe);
        }
        pe->pe_next_due = pe->pe_pt->pt_next_due;
        pe->pe_ids_made = pe->pe_pt->pt_ids_made;
        vg_patient_destroy(pe->pe_pt);
        pe->pe_pt = NULL;
}

void vg_part_dirty(vg_part_t *part, pent_t *pe) {
        if (pe->pe_dirty)
                return;
        if (part->pa_ndirty == part->pa_dirty_cap) {
                part->pa_dirty_cap = part->pa_dirty_cap ? part->pa_dirty_cap * 2
                                                        : 256;
                part->pa_dirty = vg_realloc(part->pa_dirty,
                                            sizeof(*part->pa_dirty) *
                                                    part->pa_dirty_cap);
        }
        part->pa_dirty[part->pa_ndirty++] = pe;
        pe->pe_dirty = true;
}

size_t vg_part_timers_due(vg_part_t *part, int64_t wm, pent_t **out,
                          size_t max) {
        size_t n = 0;
        while (n < max && part->pa_ntheap && part->pa_theap[0]->pe_due <= wm) {
                out[n] = part->pa_theap[0];
                th_remove(part, out[n++]);
        }
        return n;
}

static int pe_cmp(const void *pa, const void *pb) {
        return strcmp((*(pent_t *const *)pa)->pe_id,
                      (*(pent_t *const *)pb)->pe_id);
}

void vg_part_sort_dirty(vg_part_t *part, size_t from) {
        if (part->pa_persist && part->pa_ndirty > from &&
            part->pa_ndirty > 1)
                qsort(part->pa_dirty, part->pa_ndirty, sizeof(*part->pa_dirty),
                      pe_cmp);
}

vg_err_t vg_part_timer_put(vg_part_t *part, pent_t *pe, char *errstr,
                           size_t errstr_size) {
        int64_t next = vg_pent_next_due(pe);
        sqlite3_stmt *s;
        int rc;
        if (next == pe->pe_due)
                return VG_OK;
        if (part->pa_mtimers) {
                th_set(part, pe, next);
                return VG_OK;
        }
        if (next == INT64_MAX) {
                s = vg_part_st(part, S_DEL_TIMER);
                sqlite3_bind_text(s, 1, pe->pe_id, -1, SQLITE_STATIC);
        } else {
                s = vg_part_st(part, S_PUT_TIMER);
                sqlite3_bind_text(s, 1, pe->pe_id, -1, SQLITE_STATIC);
                sqlite3_bind_int64(s, 2, next);
        }
        rc = sqlite3_step(s);
        sqlite3_reset(s);
        if (rc != SQLITE_DONE)
                return vg_part_db_err(part, errstr, errstr_size, "write timer");
        pe->pe_due = next;
        return VG_OK;
}

vg_err_t vg_part_state_put(vg_part_t *part, pent_t *pe, char *errstr,
                           size_t errstr_size) {
        sqlite3_stmt *s = vg_part_st(part, S_PUT_PATIENT);
        const void *state;
        size_t len;
        int rc;
        /* (bytes an entry holds are its patient's as it is: they are
         * dropped where it changes, vg_part_pack; a long history decoded
         * without them keeps the bytes written, for its changelog record
         * and its next event; events added to its tail are first added
         * to it, the bytes made again) */
        if (pe->pe_tail &&
            vg_part_unpack(pe, errstr, errstr_size) != VG_OK)
                return VG_ERR_STORE;
        vg_part_pack(part, pe, false);
        if (!pe->pe_blob) {
                vg_part_encode(part, pe);
                if (part->pa_sbuf.vb_len <= INT_MAX)
                        vg_part_keep_bytes(part, pe);
        }
        if (!pe->pe_blob) { /* (kept decoded: too large to keep) */
                state = part->pa_sbuf.vb_data;
                len = part->pa_sbuf.vb_len;
        } else {
                state = pe->pe_blob;
                len = pe->pe_blen;
        }
        sqlite3_bind_text(s, 1, pe->pe_id, -1, SQLITE_STATIC);
        sqlite3_bind_blob(s, 2, state, (int)len, SQLITE_STATIC);
        rc = sqlite3_step(s);
        sqlite3_reset(s);
        if (rc != SQLITE_DONE)
                return vg_part_db_err(part, errstr, errstr_size, "write patient");
        /* (its changelog record is made from the committed state when
         * it is sent: vg_part_cl_resolve) */
        return vg_part_cl_patient(part, pe->pe_id, errstr, errstr_size);
}
