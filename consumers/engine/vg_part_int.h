/*
 * vg_part_int.h - what the two halves of a partition share: the store and
 * the batch (vg_partition.c) and what it publishes through its outbox
 * (vg_part_out.c). Not for use outside them.
 */
#ifndef VG_PART_INT_H
#define VG_PART_INT_H

#include "vg_partition.h"
#include "vg_cells.h"
#include "vg_htab.h"

#include <string.h>
#include <sys/types.h>
#include <sqlite3.h>
#include <jansson.h>

/* 2: the watermark (SPEC v2 §5.5) and settled denominators; a version-1
 * file counted by stream time and is refused (replay: RUNBOOK §13).
 * 3: a patient's contributions are cases (vg_rules.h), not cells.
 * 4: the outbox may hold references (a patient's changelog record, made
 * when it is sent: vg_outbox_add_ref), which a release that writes 3
 * would send as tombstones; so such a release refuses a file of 4, while
 * this one opens a file of 3 as it is (nothing else changed) and writes 4
 * with its first commit. */
#define VG_PART_SCHEMA_VERSION 4
#define VG_PART_SCHEMA_OLDEST 3
/* The changelog's records are as they were with store schema 3: its meta
 * record still says 3, so that a release that writes 3 restores it. */
#define VG_PART_CL_SCHEMA_VERSION 3

enum {
        S_GET_PATIENT, S_PUT_PATIENT, S_PUT_TIMER, S_DEL_TIMER, S_DUE_TIMERS,
        S_PUT_CELL, S_PARTS_QUEUED, S_GET_OFFSET,
        S_SET_OFFSET, S_SET_META, S_CELLS, S_DEL_PATIENT, S_DEL_CELL,
        S_OFFSETS, S_CL_PATIENT, S__CNT
};

/* Patient cache entry (vg_part_cache.c): the patient decoded (pe_pt), or
 * packed as its store row's bytes (pe_blob; pe_pt NULL). */
/* The largest patient state a persisting partition stores: inside a
 * Kafka message (librdkafka's message.max.bytes, 1,000,000 by default),
 * with room for its key, for its changelog record and an alert that
 * copies its strings (an alert's strings are its events', which the
 * state holds). About 9,000 events of ordinary size. */
#define VG_PART_STATE_MAX 900000
/* A patient of more events than this stays decoded, the others are
 * packed between events (vg_part_pack). */
#define VG_PART_PACK_EVENTS 32
/* The most key and value bytes a DLQ record copies (its headers are a
 * few hundred bytes more). */
#define VG_DLQ_COPY_MAX 960000

typedef struct pent_s {
        vg_hnode_t     pe_h;        /* first: the table's link */
        vg_patient_t  *pe_pt;       /* decoded, or NULL: packed */
        unsigned char *pe_blob;     /* its store row's bytes, or NULL */
        uint32_t       pe_blen;
        bool           pe_dirty;    /* changed in the open batch */
        bool           pe_ref;      /* used since the cache's clock hand
                                     * last passed it */
        bool           pe_ids_made; /* packed: its pt_ids_made (the bytes
                                     * were encoded by this process) */
        bool           pe_kept;     /* memory-only: one of the first
                                     * pa_decoded_max, kept decoded (and
                                     * without bytes) */
        int64_t        pe_due;      /* next_due in the timers table
                                     * (INT64_MAX: no row; the row is
                                     * always this, which a commit's
                                     * timers rely on); memory-only:
                                     * its key on the timer heap
                                     * (INT64_MAX: not on it) */
        int64_t        pe_next_due; /* the patient's next_due, as packed */
        union {
                uint32_t pe_tix;    /* memory-only: 1 + its place in the
                                     * timer heap (0: not on it; a heap
                                     * of 2^32 patients would not fit in
                                     * memory) */
                uint32_t pe_bound;  /* persisting: at least the bytes of
                                     * pe_pt encoded (vg_patient_encode's
                                     * bound; 0: not known) */
        };
        /* Persisting, packed: events added since pe_blob was made, not
         * decoded (vg_part_tail_event: pe_blob holds the state before
         * them), and bounds on its events that decide whether the next
         * one may be added so (valid while pe_sum). */
        int32_t        pe_newest;   /* minutes since 1900, the newest's
                                     * occurred_at rounded up (INT32_MIN:
                                     * no events) */
        int32_t        pe_oldest;   /* the oldest's, rounded down
                                     * (INT32_MAX: none) */
        uint32_t       pe_tlen;
        uint64_t       pe_idmask;   /* two bits of each event's id */
        unsigned char *pe_tail;     /* (vg_patient_tail_add) or NULL */
        uint16_t       pe_nev;      /* its events (below
                                     * VG_PART_PACK_EVENTS) */
        bool           pe_sum;      /* the bounds hold: packed by a
                                     * persisting partition, no event
                                     * pruned, at most VG_PART_PACK_EVENTS
                                     * events */
        char           pe_id[];     /* patient_id */
} pent_t;

/* Timers' order, (due, id) of a against (due, id) of b: the timers
 * table's (S_DUE_TIMERS, BINARY collation), the heap's, a commit's. */
static inline int vg_due_id_cmp(int64_t da, const char *ia, int64_t db,
                                const char *ib) {
        if (da != db)
                return da < db ? -1 : 1;
        return strcmp(ia, ib);
}

/* The patient's next-due time, decoded or packed. */
static inline int64_t vg_pent_next_due(const pent_t *pe) {
        return pe->pe_pt ? pe->pe_pt->pt_next_due : pe->pe_next_due;
}

struct vg_part_s {
        sqlite3                *pa_db;
        sqlite3_stmt           *pa_stmt[S__CNT];
        int                     pa_partition;   /* input partition number */
        const vg_rules_conf_t  *pa_rc;
        vg_codec_t             *pa_codec;
        vg_part_topics_t        pa_topics;
        vg_wm_t                 pa_wm;          /* topic times, watermark */
        int64_t                 pa_data_since;  /* smallest occurred_at
                                                 * processed; INT64_MAX:
                                                 * none */
        char                  **pa_pkeys;       /* keys of the progress
                                                 * copies: one per parts
                                                 * partition (NULL: one
                                                 * copy, "_progress|P") */
        int                     pa_npkeys;
        int64_t                 pa_pub_wm;      /* progress last queued */
        int64_t                 pa_pub_since;
        bool                    pa_pub_valid;   /* a progress was queued
                                                 * since open */
        bool                    pa_wm_hold;     /* commit keeps the
                                                 * watermark */
        const char             *pa_rejected;    /* DLQ reason of the last
                                                 * refused event */
        int64_t                 pa_now;         /* batch processing time */
        bool                    pa_in_batch;
        /* offsets set in the open batch, written at its commit (a row
         * per topic, not a statement per record) */
        struct {
                char    po_topic[256];
                int64_t po_next;
        }                       pa_offs[8];
        int                     pa_noffs;
        /* the last input record of each topic in the open batch
         * (vg_part_inputs.c), written at its commit */
        struct {
                char    pl_topic[256];
                int64_t pl_offset, pl_hash;
        }                       pa_last[8];
        int                     pa_nlast;
        vg_htab_t               pa_cache;       /* pent_t, by patient */
        size_t                  pa_cache_max;   /* patients kept in
                                                 * memory (a batch's
                                                 * changed ones written
                                                 * early beyond it) */
        size_t                  pa_clock;       /* the cache's clock hand:
                                                 * the bucket its next trim
                                                 * starts at */
        pent_t                **pa_dirty;       /* patients changed in the
                                                 * open batch */
        size_t                  pa_ndirty, pa_dirty_cap;
        vg_cells_t              pa_cells;       /* the counters */
        bool                    pa_parts;       /* queue IndicatorParts */
        int64_t                 pa_parts_ms;    /* parts.interval_ms */
        int64_t                 pa_parts_at;    /* parts last queued */
        bool                    pa_parts_force; /* queue at next commit */
        bool                    pa_persist;     /* write patients and
                                                 * counters to the store */
        /* Memory-only (file mode): the timers in a heap of patients by
         * (pe_due, id) instead of the timers table (vg_part_cache.c) */
        bool                    pa_mtimers;
        /* No patient row that is not in the cache (a store empty at
         * its open, or memory-only with none at the start: none is
         * written while memory-only): a patient not cached is new, not
         * looked up */
        bool                    pa_no_rows;
        /* ... but those of the patients that left the cache since: the
         * hashes of their ids (an open-addressed set; 0 stands for none,
         * a hash of 0 is kept as 1) */
        uint32_t               *pa_gone;
        size_t                  pa_ngone, pa_gone_cap;
        void                  (*pa_alert_sink)(const vg_alert_t *al,
                                               void *opaque);
        void                   *pa_alert_opaque;
        pent_t                **pa_theap;
        size_t                  pa_ntheap, pa_theap_cap;
        vg_part_stats_t         pa_stats;
        vg_buf_t                pa_buf;         /* encode scratch */
        vg_buf_t                pa_sbuf;        /* patient state scratch */
        size_t                  pa_sbound;      /* its encoding's bound */
        vg_outbox_t            *pa_outbox;      /* records to publish */
        char                   *pa_cl_topic;    /* the changelog, or NULL */
        bool                    pa_cl_full;     /* the next commit logs
                                                 * the whole state */
        vg_buf_t                pa_cbuf;        /* changelog scratch */
        json_t                 *pa_cl_meta;     /* restore: the last meta
                                                 * record read */
        char                   *pa_path;        /* the state file */
        ino_t                   pa_ino;         /* its identity at open; */
        dev_t                   pa_dev;         /* 0: :memory: */
        int64_t                 pa_defer_after; /* vg_part_set_defer */
        int64_t                 pa_batch_events; /* of the open batch,
                                                  * given to keep */
        size_t                  pa_decoded;     /* memory-only: patients */
        size_t                  pa_decoded_max; /* kept decoded (pe_kept) */
};

/* Whether the open batch's next event, given to keep, is only added to
 * its patient, who is derived at the commit (vg_part_timers.c). */
bool vg_part_defers(vg_part_t *part);

/* A prepared statement, reset and unbound. */
sqlite3_stmt *vg_part_st(vg_part_t *part, int i);
/* VG_ERR_STORE with errstr "partition P state PATH: what: sqlite error". */
vg_err_t vg_part_db_err(vg_part_t *part, char *errstr, size_t errstr_size,
                        const char *what);

/* vg_part_cache.c: the patients in memory. */
/* The cached entry of a patient as it is (packed or not), or NULL. */
pent_t *vg_part_cached(vg_part_t *part, const char *id);
/* The same, h being vg_hash_str(id). */
pent_t *vg_part_cached_h(vg_part_t *part, const char *id, uint32_t h);
/* The cached patient, read from the store (or new) on first sight, and
 * decoded; NULL + errstr if the store fails or holds bad bytes. */
pent_t *vg_part_patient(vg_part_t *part, const char *id, char *errstr,
                        size_t errstr_size);
/* The same, h being vg_hash_str(id). */
pent_t *vg_part_patient_h(vg_part_t *part, const char *id, uint32_t h,
                          char *errstr, size_t errstr_size);
/* A cached entry decoded, if it is packed; VG_ERR_STORE + errstr if its
 * bytes are bad. */
vg_err_t vg_part_unpack(pent_t *pe, char *errstr, size_t errstr_size);
/* After an event or a timer was applied: the patient packed (encoded
 * anew if changed); or kept decoded if it has more than
 * VG_PART_PACK_EVENTS events (its bytes dropped if changed, and in a
 * memory-only partition always), or is one of a memory-only partition's
 * first (vg_part_set_decoded: without bytes). */
void vg_part_pack(vg_part_t *part, pent_t *pe, bool changed);
/* Encodes pe's decoded patient into part->pa_sbuf (its bytes, not yet
 * kept; pa_sbound their bound); vg_part_keep_bytes then keeps them as
 * pe's packed state. */
void vg_part_encode(vg_part_t *part, const pent_t *pe);
void vg_part_keep_bytes(vg_part_t *part, pent_t *pe);
/* An event (hash: of its patient's id) of a cached, packed patient of a
 * persisting partition, in a batch that defers (vg_part_defers): added to
 * the patient's tail without decoding it, as vg_engine_insert_take()
 * would add it, and counted, if its bounds show that this is all that
 * the event does (not too late, no prune possible, not a repeat, room
 * within rules.max_patient_events and half of VG_PART_STATE_MAX). Else
 * false, and *asked is what vg_part_defers() said if it was asked (its
 * count moves once per event; -1: not asked). */
bool vg_part_tail_event(vg_part_t *part, const vg_event_t *ev,
                        uint32_t hash, int *asked);
/* The patient is changed in this batch: its state is written at commit. */
void vg_part_dirty(vg_part_t *part, pent_t *pe);
/* Persisting partitions: sorts the changed patients by id (the order of
 * the timers and patients tables; in a store of an earlier release, of
 * the patients' key index), so that a commit
 * writes its rows in the B-trees' order; nothing to do unless some were
 * added at index `from` or after (the first `from` are sorted already). */
void vg_part_sort_dirty(vg_part_t *part, size_t from);
/* Writes a patient's next-due time to the timers table (memory-only: the
 * timer heap), if it moved. */
vg_err_t vg_part_timer_put(vg_part_t *part, pent_t *pe, char *errstr,
                           size_t errstr_size);
/* Writes a patient's state (and its changelog row). */
vg_err_t vg_part_state_put(vg_part_t *part, pent_t *pe, char *errstr,
                           size_t errstr_size);
/* Memory-only: the patients whose timer is due at wm (at most max, in
 * the order of S_DUE_TIMERS: by due time, then id), taken off the heap. */
size_t vg_part_timers_due(vg_part_t *part, int64_t wm, pent_t **out,
                          size_t max);
/* The store may hold rows of patients not cached (a rollback, a restore):
 * every patient not cached is looked up. */
void vg_part_rows_unknown(vg_part_t *part);
/* Empties the cache (and the list of changed patients). */
void vg_part_cache_drop(vg_part_t *part);
void vg_part_cache_free(vg_part_t *part);
/* If the cache has no room for room more patients within pa_cache_max,
 * leaves about three quarters of it in memory: drops patients not used
 * since the clock hand last passed them, and writes those changed in the
 * open batch first (their state, timer and changelog rows, in the batch's
 * transaction: a catch-up batch is not bounded by the cache otherwise).
 * Not while the caller holds a cached entry, but spare (which may be
 * NULL): the patient about to be used, which stays. */
vg_err_t vg_part_cache_trim(vg_part_t *part, const pent_t *spare,
                            size_t room, char *errstr, size_t errstr_size);
/* During a commit's timers: above pa_cache_max patients, pe (read from
 * the store for its timer, changed in the open batch, its timer row
 * written) is written now and leaves memory, as a trim would. */
vg_err_t vg_part_cache_evict(vg_part_t *part, pent_t *pe, char *errstr,
                             size_t errstr_size);

/* vg_part_timers.c: a commit's timers. Writes the next-due times of the
 * batch's patients and re-derives every patient whose timer the
 * watermark has passed, by due time then id (those join the batch). */
vg_err_t vg_part_commit_timers(vg_part_t *part, char *errstr,
                               size_t errstr_size);

/* vg_partition.c: queues a change's alerts and adds its deltas to the
 * counters. */
vg_err_t vg_part_apply_changes(vg_part_t *part, vg_changes_t *ch,
                               char *errstr, size_t errstr_size);

/* vg_part_changelog.c: the changelog rows of a patient (its id, next-due
 * time and stored state), of a counter, and of the partition's meta
 * (offsets, watermark); at the end of a commit's writes. */
vg_err_t vg_part_cl_patient(vg_part_t *part, const char *id, char *errstr,
                            size_t errstr_size);
/* The value of a patient's record queued by vg_part_cl_patient (a
 * reference), made when the outbox is read (vg_outbox_resolve_fn). */
int vg_part_cl_resolve(void *opaque, const vg_outrec_t *ref, vg_buf_t *value,
                       char *errstr, size_t errstr_size);
vg_err_t vg_part_cl_cell(vg_part_t *part, const char *key, int64_t num,
                         int64_t den, bool count, char *errstr,
                         size_t errstr_size);
/* The rules.* settings of an opened store: recorded when it has none,
 * else the same as this process's or an error (vg_part_changelog.c). */
vg_err_t vg_part_rules_open(vg_part_t *part, char *errstr,
                            size_t errstr_size);
vg_err_t vg_part_cl_commit(vg_part_t *part, char *errstr,
                           size_t errstr_size);
int64_t vg_part_meta_int(vg_part_t *part, const char *key, int64_t def);
void vg_part_reload(vg_part_t *part);

/* vg_part_inputs.c: the last input record of each topic, to the store
 * at a commit (from vg_part_commit), with the batch's next offsets (and
 * lets the batch's offsets and records go), and to the changelog's meta
 * record. */
vg_err_t vg_part_inputs_flush(vg_part_t *part, char *errstr,
                              size_t errstr_size);
void vg_part_cl_inputs_meta(vg_part_t *part, const char *topic,
                            json_t *meta);

/* vg_part_out.c */
vg_err_t vg_part_queue_alert(vg_part_t *part, vg_alert_t *al, char *errstr,
                             size_t errstr_size);
vg_err_t vg_part_parts_queue(vg_part_t *part, char *errstr,
                             size_t errstr_size);
bool vg_part_progress_due(const vg_part_t *part, int64_t now);
vg_err_t vg_part_queue_progress(vg_part_t *part, char *errstr,
                                size_t errstr_size);

#endif /* VG_PART_INT_H */
