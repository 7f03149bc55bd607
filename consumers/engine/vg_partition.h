/*
 * vg_partition.h - one input partition's state in SQLite: patient histories,
 * indicator counters, timers, stream time, input offsets and the outbox of
 * records still to publish, all changed in one transaction per batch.
 *
 * The same code serves Kafka mode (a file per partition in state.dir) and
 * file mode (":memory:"), so both run exactly the same engine.
 *
 *   vg_part_open()         open or create; schema migrated
 *   vg_part_begin()        start a batch (BEGIN IMMEDIATE)
 *   vg_part_event()        apply one valid event
 *   vg_part_dlq()          queue an invalid record for the DLQ
 *   vg_part_set_offset()   remember the next input offset of a topic
 *   vg_part_commit()       fire due timers, queue indicator parts, COMMIT
 *   vg_part_outbox()       the outbox of queued records (vg_outbox.h)
 */
#ifndef VG_PARTITION_H
#define VG_PARTITION_H

#include "vg_codec.h"
#include "vg_engine.h"
#include "vg_outbox.h"

typedef struct vg_part_s vg_part_t;

/* Topics the outbox publishes to. */
typedef struct vg_part_topics_s {
        const char *pt_alerts;
        const char *pt_parts;
        const char *pt_dlq;
} vg_part_topics_t;

/* Counters of one partition since open (for metrics and summaries). */
typedef struct vg_part_stats_s {
        int64_t ps_events;       /* valid events applied */
        int64_t ps_duplicates;   /* of which duplicates */
        int64_t ps_cancellations;/* of which cancellations */
        int64_t ps_tail;         /* of all, added to a packed patient
                                  * undecoded (vg_part_tail_add) */
        int64_t ps_conflicts;    /* conflicts seen (stays, deaths) */
        int64_t ps_dlq;          /* records sent to the DLQ */
        int64_t ps_alerts[4][2]; /* alerts queued, by rule and status */
        int64_t ps_timers;       /* timer re-derivations */
        int64_t ps_deferred;     /* patients derived at their batch's
                                  * commit, their events added before
                                  * (catching up: vg_part_timers.c) */
        int64_t ps_states;       /* patient states written */
        int64_t ps_early;        /* of which before their batch's commit
                                  * (the cache full: state.cache_patients) */
        int64_t ps_lookups;      /* patients looked up in the store (not
                                  * in memory) */
        int64_t ps_pruned;       /* events pruned by retention */
        int64_t ps_too_late;     /* events older than their patient's
                                  * horizon (DLQ too-late) */
        int64_t ps_commits;      /* transactions committed */
        int64_t ps_commit_us;    /* time of the last COMMIT, microseconds */
} vg_part_stats_t;

/* Whether this release opens a state file of that schema version (meta
 * schema_version). */
bool vg_part_schema_opens(int64_t version);

/* Opens path (":memory:" for none) for input partition number partition.
 * NULL + errstr on failure. The codec and topics must outlive the part. */
vg_part_t *vg_part_open(const char *path, int partition,
                        const vg_rules_conf_t *rc, vg_codec_t *codec,
                        const vg_part_topics_t *topics, char *errstr,
                        size_t errstr_size);
void vg_part_close(vg_part_t *part);
/* As vg_part_close, for a process about to exit: the patients in memory
 * are left to it, not freed one by one (each a few dozen allocations;
 * freeing them was 8 % of file mode's CPU at 500,000 patients). They stay
 * reachable, for leak checkers; an AddressSanitizer build frees them. */
void vg_part_close_exiting(vg_part_t *part);

int vg_part_partition(const vg_part_t *part);
const vg_part_stats_t *vg_part_stats(const vg_part_t *part);
/* Patients held in memory now: at most vg_part_set_cache's limit (but
 * one, for a limit of 0) between events, and the one a commit's timer
 * read from the store. */
size_t vg_part_patients_in_memory(const vg_part_t *part);
/* The partition's watermark (SPEC §5.5) as of the last commit;
 * VG_WM_NONE while it has none. */
int64_t vg_part_watermark(const vg_part_t *part);
/* Topic times and at-its-end flags (for metrics and vigil lag). */
const vg_wm_t *vg_part_wm(const vg_part_t *part);
/* Smallest occurred_at of any event processed; VG_WM_NONE if none. */
int64_t vg_part_data_since(const vg_part_t *part);

/* The consumer reached the end of input topic (an event type index) at
 * wall-clock now_ms; or an invalid record of it arrived (activity). */
void vg_part_eof(vg_part_t *part, int topic, int64_t now_ms);
void vg_part_activity(vg_part_t *part, int topic);
/* File mode: the input has ended; every topic is caught up. */
void vg_part_end_of_input(vg_part_t *part);
/* Would a commit at now_ms move the watermark? (Then a batch, even an
 * empty one, should be committed: deadlines may fall due.) */
bool vg_part_wm_pending(const vg_part_t *part, int64_t now_ms);
/* hold: the next commits keep the watermark where it is (the shell knows
 * that records it has fetched are still unread). */
void vg_part_hold_watermark(vg_part_t *part, bool hold);
/* Every input topic caught up at now_ms and the watermark committed: what
 * the partition has read is final until new records arrive. */
bool vg_part_caught_up(const vg_part_t *part, int64_t now_ms);
bool vg_part_in_batch(const vg_part_t *part);
/* Whether committing the open batch at now_ms would fire a timer (the
 * watermark it would set has passed a patient's next-due time): the
 * alerts a batch raises are raised by its commit's timers, or queued by
 * its events (vg_outbox_urgent). The batch's time (vg_part_begin's) moves
 * to now_ms, if later. */
bool vg_part_would_fire(vg_part_t *part, int64_t now_ms);

/* Next offset to consume of topic, or -1 if none is stored. */
int64_t vg_part_offset(vg_part_t *part, const char *topic);

/* now_ms stamps emitted_at / updated_at of the records this batch queues
 * and is the wall-clock time of the watermark computed at commit. */
vg_err_t vg_part_begin(vg_part_t *part, int64_t now_ms, char *errstr,
                       size_t errstr_size);
/* Applies a valid event. VG_ERR_INVALID (nothing changed) if the patient
 * already holds rules.max_patient_events events, or the event is older
 * than the patient's retention horizon: the caller sends the record to the
 * DLQ with the reason vg_part_rejected() names ("patient-limit",
 * "too-late"); other errors are fatal for the batch. The event's topic time
 * counts in every case. */
vg_err_t vg_part_event(vg_part_t *part, const vg_event_t *ev, char *errstr,
                       size_t errstr_size);
/* The same, hash being vg_hash_str(ev->ev_patient_id) (file mode's
 * reader computes it ahead, for vg_part_prefetch), and ev's strings moved
 * into the state when it is kept (vg_engine_apply_take: NULL in ev then;
 * the caller still clears it). Both modes' readers use this one. */
vg_err_t vg_part_event_hashed(vg_part_t *part, vg_event_t *ev,
                              uint32_t hash, char *errstr,
                              size_t errstr_size);
const char *vg_part_rejected(const vg_part_t *part);
/* A hint, for a memory-only partition (nothing else): the patient (hash:
 * vg_hash_str of the id) has an event coming. Step 0 asks the CPU to load
 * its bucket of the patient table, step 1 the entry the bucket points to,
 * step 2 the first bytes of its packed state, each step reading mostly
 * what the one before loaded: called a few events ahead, step 0 first,
 * the event then finds them in the cache. Nothing changes; on the thread
 * that has the partition. */
void vg_part_prefetch(const vg_part_t *part, uint32_t hash, int step);
/* Queues a refused record for the DLQ, its key and value copied as they
 * came (value NULL: a tombstone, copied as one; a key or value left out,
 * a personnummer's or one too large, goes as an empty one). */
vg_err_t vg_part_dlq(vg_part_t *part, const void *key, size_t key_len,
                     const void *value, size_t value_len, const char *reason,
                     const char *detail, const char *topic, int partition,
                     int64_t offset, char *errstr, size_t errstr_size);
vg_err_t vg_part_set_offset(vg_part_t *part, const char *topic,
                            int64_t next_offset, char *errstr,
                            size_t errstr_size);
/* The input record at offset of topic was the last one of the batch
 * (vg_part_inputs.c: hash, of its key and value, checked on resuming). */
void vg_part_note_input(vg_part_t *part, const char *topic, int64_t offset,
                        int64_t hash);
/* The last input record of topic the stored state processed, if known
 * (and before its next offset). */
bool vg_part_input_last(vg_part_t *part, const char *topic, int64_t *offset,
                        int64_t *hash);
vg_err_t vg_part_commit(vg_part_t *part, char *errstr, size_t errstr_size);
/* Rolls back an open batch (on error or shutdown without commit). */
void vg_part_rollback(vg_part_t *part);

/* The partition's outbox (vg_outbox.h), for the publisher. */
vg_outbox_t *vg_part_outbox(vg_part_t *part);
/* Shorthands of vg_outbox_scan() / vg_outbox_depth() on it. */
int vg_part_outbox_scan(vg_part_t *part, int64_t after_seq, int max,
                        void (*cb)(const vg_outrec_t *rec, void *opaque),
                        void *opaque);
int64_t vg_part_outbox_depth(vg_part_t *part);

/* Patients kept in memory after a commit (default 200000); more are
 * dropped and read from the store when needed again. */
/* The keys of the PartitionProgress copies, one landing in each partition
 * of the parts topic (the Kafka shell finds them with the producers'
 * partitioner); none (the default): one copy keyed "_progress|P". */
void vg_part_set_progress_keys(vg_part_t *part, const char *const *keys,
                               int n);
void vg_part_set_cache(vg_part_t *part, size_t max_patients);
/* Memory-only: the first max_patients patients a partition would pack
 * (with events, of at most 32: longer ones stay decoded anyway) are kept
 * decoded for good, the others packed between events (vg_part_cache.c;
 * default 0: all packed). */
void vg_part_set_decoded(vg_part_t *part, size_t max_patients);
/* The codec the partition encodes with from now on (a worker's, for its
 * turn with the partition: a codec is used by one thread at a time). */
void vg_part_set_codec(vg_part_t *part, vg_codec_t *codec);
/* queue false: commits queue no IndicatorParts (file mode reads the
 * counters at the end instead). Default true. */
void vg_part_set_parts(vg_part_t *part, bool queue);

/* Parts are queued at most every ms milliseconds (default 0: every
 * commit): cells changed since are pending (stored so), and their parts
 * and then the partition's progress are queued together in the first
 * commit after the interval. */
void vg_part_set_parts_interval(vg_part_t *part, int64_t ms);
/* Pending parts or progress to queue, and the interval has passed (or a
 * flush was forced): commit a batch, even an empty one. */
bool vg_part_parts_due(const vg_part_t *part, int64_t now_ms);
/* The next commit queues what is pending whatever the interval (before a
 * partition is released or the process stops). */
void vg_part_force_parts(vg_part_t *part);

/* Catching up: of an open batch's events (given to keep,
 * vg_part_event_hashed), those past the first `after` are only added to
 * their patients, who are derived once each at the commit
 * (vg_part_timers.c). -1 (the default): every event derived as it comes. */
void vg_part_set_defer(vg_part_t *part, int64_t after);

/* File mode: patients, counters and timers live in memory only (none is
 * dropped, none is written to the store); offsets and the outbox still
 * use it. Right after vg_part_open() of a new store. A rollback then
 * loses the patients: for a run that stops at its first error. */
void vg_part_set_memory_only(vg_part_t *part);
/* File mode: each alert the partition emits is given to sink (in the order
 * they are emitted, emitted_at set; sink copies what it keeps) instead of
 * being queued in the outbox. */
void vg_part_set_alert_sink(vg_part_t *part,
                            void (*sink)(const vg_alert_t *al, void *opaque),
                            void *opaque);

/* Calls cb for every counter cell of this partition, in key order (the
 * counters as of the last change, committed or not). */
void vg_part_cells(vg_part_t *part,
                   void (*cb)(const char *key, int64_t num, int64_t den,
                              bool count, void *opaque),
                   void *opaque);
/* The same in no particular order (file mode sums them in a table). */
void vg_part_cells_unsorted(vg_part_t *part,
                            void (*cb)(const char *key, int64_t num,
                                       int64_t den, bool count,
                                       void *opaque),
                            void *opaque);

/*
 * Changelog (vg_part_changelog.c): Kafka mode logs every commit's changes
 * to partition P of a compacted topic, through the outbox; a partition
 * whose local file is missing or behind is restored from it.
 */
/* Log to topic from the next commit on. A file with state that was not
 * logged to topic (an earlier release, another changelog) logs all of it
 * in its next commit. */
void vg_part_set_changelog(vg_part_t *part, const char *topic);

/* The settings of was (vg_rules_conf_text) that now differ from, as
 * "key was -> now, ..." (empty when none do). */
void vg_part_rules_diff(const char *was, const char *now, char *out,
                        size_t size);
/* Where the changelog ended after this file's last logged commit (its
 * high watermark, if nobody else wrote); -1 if unknown, or the file was
 * logged to another topic. */
int64_t vg_part_changelog_end(vg_part_t *part);
/* The next commit logs the whole state (the changelog lost it). */
void vg_part_changelog_full(vg_part_t *part);
bool vg_part_changelog_pending(const vg_part_t *part);
/* The publisher's vg_pub_committed_cb (opaque: the part). */
void vg_part_changelog_committed(void *opaque, int64_t last);
/* Restore: begin (a transaction), each record of the changelog in
 * order, end (applies the last meta record: offsets, watermark, topic
 * times; stores end as the changelog's end; commits; reloads memory).
 * Every counter comes back pending: its part is published again. */
vg_err_t vg_part_restore_begin(vg_part_t *part, char *errstr,
                               size_t errstr_size);
vg_err_t vg_part_restore_row(vg_part_t *part, const void *key,
                             size_t key_len, const void *value,
                             size_t value_len, char *errstr,
                             size_t errstr_size);
vg_err_t vg_part_restore_end(vg_part_t *part, int64_t end, char *errstr,
                             size_t errstr_size);
/* vg_part_restore_end without reloading memory (a standby copy, which is
 * not processed: the next restore_begin goes on). */
vg_err_t vg_part_restore_checkpoint(vg_part_t *part, int64_t end,
                                    char *errstr, size_t errstr_size);
/* Throws a restore away (rolled back; memory reloaded). */
void vg_part_rollback_restore(vg_part_t *part);

#endif /* VG_PARTITION_H */
