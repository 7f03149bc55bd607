/*
 * process_int.h - what the parts of vigil process share: the processor's
 * state (proc_t) and its metrics and health (process_metrics.c).
 */
#ifndef PROCESS_INT_H
#define PROCESS_INT_H

#include "vg_config.h"
#include "vg_kafka.h"
#include "vg_metrics.h"
#include "vg_outbox.h"
#include "vg_partition.h"
#include "vg_publish.h"

#include <pthread.h>
#include <stdatomic.h>
#include <librdkafka/rdkafka.h>

#define MAX_PARTITIONS VG_PUB_PARTITIONS /* (the aggregator's bound) */
/* Of a batch's events, those past this many are only added to their
 * patients, each derived once at the commit (vg_part_set_defer): catching
 * up, a batch holds hundreds of thousands; live, at 5,000 events/s and
 * batch.linger_ms 20, about 20 a partition, each derived as it comes.
 * 2,006,280 events from empty state, three runs alternating: 127.8-
 * 153.0k -> 157.8-180.0k events/s, CPU 26.3-31.1 -> 20.9-25.3 s
 * (docs/ARCHITECTURE.md, 'Catching up, a patient derived once a
 * batch'). */
#define PROCESS_DEFER_AFTER 1000

/* A partition whose outbox holds more records than this after a commit
 * waits until they are published (process_part_commit). A batch queues
 * about 1.1 records per event while catching up (2,006,280 events from
 * empty state: 1.29 million changelog records, 730,000 parts, 170,000
 * alerts), and a catch-up batch lasts batch.max_ms (15 s: 150,000 to
 * 330,000 events of a partition on two cores), so this is several
 * batches; a partition faster than about 60,000 events/s fills it in one
 * (batch.max_events 1,000,000) and then waits after each batch, which
 * keeps its transactions within one batch's records. */
#define PROCESS_OUTBOX_WAIT 1000000

enum { HEALTH_UNASSIGNED, HEALTH_LAG_UNKNOWN, HEALTH_LAGGING, HEALTH_BACKLOG,
       HEALTH_READY };

typedef struct pstate_s {
        vg_part_t *ps_part;
        int        ps_batch;       /* events in the open batch */
        int64_t    ps_batch_start; /* when the batch opened, ms */
        /* its outbox's depth when last asked, and the rows added to it
         * by then (process_part_commit) */
        const vg_outbox_t *ps_ob;
        int64_t    ps_ob_depth;
        uint64_t   ps_ob_adds;
        /* a restore planned (process_restore.c) */
        bool       ps_rs, ps_rs_full, ps_rs_done, ps_rs_waiting;
        int        ps_rs_worker;   /* the restore thread reading it */
        int64_t    ps_rs_from;     /* first changelog offset to read */
        int64_t    ps_rs_high;     /* read at least to here */
        int64_t    ps_rs_at;       /* read to here */
        int64_t    ps_rs_records;
        /* records polled, not yet put on the partition's queue (the
         * loop's; process.c) */
        rd_kafka_message_t **ps_held;
        int        ps_nheld, ps_held_cap;
        bool       ps_open;        /* the loop's: records put since its
                                    * last commit request */
        int64_t    ps_polled[VG_EVENT_TYPES]; /* the loop's: next offset
                                    * after the last record polled, by
                                    * type; 0: none, or at the end since */
        int64_t    ps_polled_at[VG_EVENT_TYPES]; /* ... when, ms */
        int64_t    ps_pos[VG_EVENT_TYPES]; /* the loop's: next offset
                                    * after the last record or partition
                                    * EOF polled; -1: none yet */
        int64_t    ps_target[VG_EVENT_TYPES]; /* the broker's end when
                                    * records came back after a silence
                                    * (process_resume_mark); -1: unknown */
        int64_t    ps_backlog_at;  /* the loop's: backlog() last asked */
        bool       ps_backlog;     /* ... and its answer */
        /* the worker's that has the partition */
        int64_t    ps_nevents;     /* events handled in its turn */
        bool       ps_committed;   /* a batch committed in its turn */
        bool       ps_commit_asked; /* the loop asked for a commit that
                                    * batch.linger_ms put off */
        const vg_outbox_t *ps_urgent_ob; /* vg_outbox_urgent(ob) as of */
        uint64_t   ps_urgent;      /* ... the last commit */
        int64_t    ps_end[VG_EVENT_TYPES]; /* an input topic's end, read
                                    * to, to store with the next batch
                                    * (process_work.c); 0: none */
        int64_t    ps_end_at;      /* the first such end since the last
                                    * stored, ms (0: none) */
        int64_t    ps_verify[VG_EVENT_TYPES]; /* the offset of the last
                                    * record the state processed, to
                                    * compare when it comes again
                                    * (process_resume.c); -1: none */
        int64_t    ps_vhash[VG_EVENT_TYPES]; /* ... and its hash */
        /* event-time alignment (process_align.c) */
        atomic_llong ps_seen[VG_EVENT_TYPES]; /* the worker's: the newest
                                    * occurred_at of a valid event, by
                                    * type; INT64_MIN: none */
        bool       ps_paused[VG_EVENT_TYPES]; /* the loop's: paused by
                                    * process_align() */
        int64_t    ps_pauses;      /* the loop's: pauses since assigned */
} pstate_t;

/* An end read to waits this long for a batch to store it with before it
 * gets a batch of its own (live, the next records' batch takes it). */
#define PROCESS_END_WAIT_MS 1000

/* process_pool.c: a queue per partition and n workers that take the
 * partitions with work, one thread per partition at a time. A worker's
 * turn (process_work_fn) runs the records and partition-EOFs queued for
 * partition p, in order (it destroys them), then the requests (PP_*) made
 * meanwhile. Each record carries the watermark hold the loop had when it
 * put it, and the requests the hold of the last one (a record is handled,
 * and a commit asked for, as of what the loop had polled then). */
enum { PP_COMMIT = 1, /* commit the open batch */
       PP_TICK = 2,   /* time-driven work (a batch due by age, the
                       * watermark, parts) */
       PP_SNAP = 4    /* count the outbox for the snapshot */ };
typedef struct pturn_s {
        rd_kafka_message_t **pt_m;     /* records and partition-EOFs */
        const bool          *pt_hold;  /* the hold each was put with */
        int                  pt_n;
        unsigned             pt_flags; /* PP_* */
        bool                 pt_req_hold; /* the hold of the last
                                           * PP_COMMIT or PP_TICK */
} pturn_t;
typedef void process_work_fn(void *opaque, int p, int w, const pturn_t *t);
typedef struct process_pool_s process_pool_t;
process_pool_t *process_pool_new(int n, process_work_fn *fn, void *opaque,
                                 char *errstr, size_t errstr_size);
/* Queues n records (copied pointers; the pool owns them) put with the
 * watermark hold given, and requests, on partition p, and wakes a
 * worker. */
void process_pool_put(process_pool_t *pp, int p, rd_kafka_message_t **m,
                      int n, bool hold, unsigned flags);
/* Records queued, not yet handled. */
int64_t process_pool_queued(process_pool_t *pp);
/* Waits until at most limit records are queued (or *stop). */
void process_pool_wait_below(process_pool_t *pp, int64_t limit,
                             const atomic_int *stop);
/* The calling thread owns partition p until process_pool_release (no
 * worker takes it meanwhile); with wait, once its worker gives it back;
 * without, false if a worker has it. */
bool process_pool_claim(process_pool_t *pp, int p, bool wait);
void process_pool_release(process_pool_t *pp, int p);
/* Waits until nothing is queued and no partition is owned: then the
 * caller has every partition to itself until it puts something. */
void process_pool_quiesce(process_pool_t *pp);
/* Stops the workers (each ends what it took) and drops what is queued. */
void process_pool_destroy(process_pool_t *pp);

/* What the loop's thread reads of a partition a worker may have: copied
 * by its worker at the end of each turn (process.c, under pr_snap_lock). */
typedef struct psnap_s {
        vg_wm_t  sn_wm;                      /* the watermark */
        int64_t  sn_off[VG_EVENT_TYPES];     /* next offsets, by type */
        int64_t  sn_depth;                   /* outbox records (PP_SNAP) */
        int64_t  sn_cached;                  /* patients in memory (PP_SNAP) */
} psnap_t;

typedef struct proc_s {
        const vg_conf_t  *pr_conf;
        vg_rules_conf_t   pr_rc;
        size_t            pr_cache_patients; /* state.cache_patients */
        int64_t           pr_lead_ms;        /* stream.lead_ms */
        int64_t           pr_queue_max;      /* process.queue_max */
        int64_t           pr_parts_ms;       /* parts.interval_ms */
        vg_part_topics_t  pr_topics;
        const char       *pr_inputs[VG_EVENT_TYPES]; /* by vg_rectype_t */
        vg_codec_t       *pr_codec;       /* the loop's thread's */
        vg_codec_t      **pr_wcodec;      /* worker w's */
        int               pr_nwork;       /* entries of pr_wcodec */
        process_pool_t   *pr_pool;        /* process.threads workers */
        int               pr_nheld;       /* records held, all partitions */
        int64_t           pr_held_at;     /* the oldest held, ms */
        pthread_mutex_t   pr_snap_lock;
        psnap_t           pr_snap[MAX_PARTITIONS];
        int64_t           pr_drained_at;  /* the loop last drained the
                                           * publisher's slots, ms */
        rd_kafka_t       *pr_consumer;
        vg_pub_t         *pr_pub;         /* drains the outboxes */
        pstate_t          pr_parts[MAX_PARTITIONS];
        int               pr_npartitions;
        int               pr_nparts_out;   /* partitions of the parts
                                            * topic */
        const char       *pr_state_dir;
        int               pr_max_events;
        int64_t           pr_max_ms;
        int64_t           pr_linger_ms;  /* batch.linger_ms */
        atomic_int        pr_fatal;       /* set by any worker */
        atomic_llong      pr_events;      /* handled, by the workers */
        int64_t           pr_started_at;   /* vg_process_kafka entered, ms */
        atomic_bool       pr_first_batch;  /* a batch was committed */
        int64_t           pr_assigned_at;  /* last assignment, ms; 0: none */
        int64_t           pr_last_empty;   /* last poll that found the
                                            * local queue empty, ms */
        int64_t           pr_last_record;  /* last record handled, ms */
        int64_t           pr_resumed_at;   /* records came back after a
                                            * silence, ms */
        atomic_bool       pr_wm_hold;      /* keep the watermarks where
                                            * they are (set by the loop,
                                            * applied by the workers) */
        /* Metrics (vg_metrics.h) and health */
        vg_metrics_t     *pr_reg;
        vg_metric_t      *pm_consumed, *pm_processed, *pm_dup, *pm_dlq,
                         *pm_alerts, *pm_outbox, *pm_cached, *pm_lag, *pm_latency,
                         *pm_commit, *pm_rebalances, *pm_assigned, *pm_ready,
                         *pm_wm, *pm_topic_time, *pm_caught_up,
                         *pm_too_late, *pm_pruned, *pm_key_mismatch;
        atomic_long       pr_key_mismatches; /* records keyed otherwise than
                                              * by their patient_id */
        vg_part_stats_t   pr_last[MAX_PARTITIONS]; /* stats already counted */
        int64_t           pr_stats_at;    /* last statistics, ms */
        int64_t           pr_trouble_at;  /* last statistics in which a
                                           * leader of an input partition
                                           * was not up, or silent (a
                                           * fetch gets an answer every
                                           * fetch.wait.max.ms), ms */
        int64_t           pr_total_lag;   /* log end (librdkafka statistics)
                                           * minus the stored offsets */
        bool              pr_lag_known;   /* every assigned partition's */
        int               pr_nassigned;   /* topic-partitions assigned */
        atomic_int        pr_health;      /* HEALTH_* for /readyz */
        vg_http_t        *pr_http;
        int               pr_lock;        /* state.dir lock (vg_lock.h) */
        size_t            pr_max_bytes;   /* input.max_bytes */
        /* Changelog (process_restore.c) */
        char             *pr_cl_topic;    /* NULL: changelog.enabled=false */
        int64_t           pr_txn_timeout_ms; /* producer's
                                              * transaction.timeout.ms */
        int64_t           pr_cleanup_ms;  /* state.cleanup_delay_ms */
        int64_t           pr_released_at[MAX_PARTITIONS]; /* a local file
                                           * not owned since, ms; 0: - */
        vg_metric_t      *pm_restored;
        /* Standby replicas (process_standby.c) */
        int               pr_standbys;    /* num.standby.replicas */
        rd_kafka_t       *pr_sb_rk;       /* reads their changelog */
        vg_part_t        *pr_sb[MAX_PARTITIONS]; /* standby copies */
        int64_t           pr_sb_at[MAX_PARTITIONS]; /* read to; -1: none */
        bool              pr_sb_open[MAX_PARTITIONS]; /* chunk open */
        int64_t           pr_sb_opened[MAX_PARTITIONS];
        int64_t           pr_sb_checked;  /* membership last read, ms */
        /* The group's commits read for other rules.* settings
         * (process_rules_guard.c) */
        struct process_rg_s *pr_rg;
} proc_t;

/* Worker w's Avro codec (w % process.threads; each worker has its own).
 * A partition opens with one; a worker that takes it sets its own
 * (vg_part_set_codec). */
vg_codec_t *process_part_codec(const proc_t *pr, int w);

/* process_resume.c: where an input topic-partition of partition p is
 * resumed (its last record processed, to compare, when known); whether a
 * record (or partition-EOF) of it is to be handled, false after
 * process_fatal() when it shows the topic was re-created; a record's
 * hash. */
int64_t process_resume_offset(proc_t *pr, int p, const char *topic);
bool process_resume_check(proc_t *pr, int p, const rd_kafka_message_t *m);
int64_t process_record_hash(const rd_kafka_message_t *m);

/* process_rules_guard.c: every offset this member commits carries its
 * rules.* settings (and timezone) and their fingerprint as its metadata
 * (process_rg_metadata sets tp's). On each assignment (the first starts
 * it) and every PROCESS_RG_INTERVAL_MS after, a thread of its own reads
 * the group's committed offsets of every partition of the input topics
 * and stops the processor (process_fatal) when one was committed, since
 * this member started, by a member with other settings: two rule books
 * would publish side by side (docs/RUNBOOK.md section 9).
 * process_rg_stop ends the thread (before the consumer is destroyed). */
#define PROCESS_RG_INTERVAL_MS 3000
void process_rg_metadata(proc_t *pr, rd_kafka_topic_partition_t *tp);
void process_rg_assigned(proc_t *pr);
void process_rg_stop(proc_t *pr);

/* process.c: logs msg as an error and stops the processor (from a
 * worker: the loop stops at its next turn). */
void process_fatal(proc_t *pr, const char *msg);
/* Every input topic of each partition number assigned (co-partitioning),
 * or process_fatal() naming the topics missing (process_align.c). */
/* The stop's deadline (process_stop.c): past ms, the process ends with
 * exit status 1, logging why; process_stop_done() before it cancels it.
 * NULL: none could be set (the stop goes on without). */
typedef struct process_stop_s process_stop_t;
process_stop_t *process_stop_deadline(int ms);
void process_stop_done(process_stop_t *st);

void process_check_copartitioned(proc_t *pr,
                                 const rd_kafka_topic_partition_list_t *l);
/* process_record.c: handles record m of an assigned partition on the
 * worker that took it, with that worker's codec; errors that
 * lose nothing go to the DLQ, others are fatal. */
void process_record(proc_t *pr, rd_kafka_message_t *m, vg_codec_t *codec);

/* process_work.c: a worker's turn with partition p (process_work_fn). */
void process_part_work(void *opaque, int p, int w, const pturn_t *t);
/* Commits partition p's open batch (its SQLite transaction; after a
 * fatal error it is rolled back), on the thread that has it ... */
void process_part_commit(proc_t *pr, int p);
/* ... then its metrics and its offsets to Kafka, if it committed. */
void process_part_committed(proc_t *pr, int p);
/* Copies what the loop's metrics read of partition p (watermark; with
 * full, offsets and outbox count) into its snapshot. */
void process_part_snap(proc_t *pr, int p, bool full);
/* Partition p's snapshot (the loop's thread). */
void process_snap_get(proc_t *pr, int p, psnap_t *sn);
/* True on a worker's thread (a fatal error there does not stop the loop
 * from that thread). */
bool process_on_worker(void);

/* The event type (vg_rectype_t) of an input topic, or -1. */
int process_input_type(const proc_t *pr, const char *topic);

/* Registers every metric (pr_reg and pm_*). */
void process_metrics_init(proc_t *pr);
/* Counts what partition p did since the last call (after each commit). */
void process_metrics_part(proc_t *pr, int p);
/* Forgets the series of a partition no longer owned. */
void process_metrics_forget(proc_t *pr, int p);
/* Gauges (outbox, assignment, watermarks) and the /readyz state. */
void process_health_update(proc_t *pr);
/* /readyz (vg_http_start's callback). */
bool process_ready_cb(void *opaque, char *reason, size_t size);
/* librdkafka statistics (statistics.interval.ms): consumer lag. */
int process_stats_cb(rd_kafka_t *rk, char *json, size_t len, void *opaque);

/* Without the changelog: warns when partition p starts over from the
 * input topics' beginning although the group has offsets committed
 * (process_restore.c). */
void process_warn_rebuild(proc_t *pr, int p, vg_part_t *part);
/* process_restore.c: decides what the freshly opened local state of
 * partition p (file path) needs - nothing, to be logged whole, or a
 * restore (planned in pr_parts[p]; a whole one reopens the file empty);
 * returns the part to use, or NULL (logged; the part is closed). */
vg_part_t *process_restore_plan(proc_t *pr, int p, vg_part_t *part,
                                const char *path);
/* Runs every planned restore with one consumer. 0, or -1 (logged). */
int process_restore_run(proc_t *pr);
/* Removes a state file with its -wal and -shm (a warning if one cannot
 * be removed). */
void process_remove_files(const char *path);
/* Removes local files of partitions released state.cleanup_delay_ms ago. */
void process_cleanup(proc_t *pr, int64_t now);
/* Counts the partition files in state.dir as released now, so that those
 * not assigned within state.cleanup_delay_ms are removed then. */
void process_note_local_files(proc_t *pr);
/* Checks the topics at the start: the five input topics co-partitioned
 * (sets pr_npartitions), the outputs there (pr_nparts_out), and with a
 * changelog, that it has as many partitions (created, compacted, if
 * missing). 0, or -1 + errstr. */
int process_check_topics(proc_t *pr, char *errstr, size_t errstr_size);

/* process_standby.c: keeps the standby copies (every tick); before
 * partition p is opened as active; after a rebalance; at the end. */
void process_standby_tick(proc_t *pr, int64_t now);
void process_standby_release(proc_t *pr, int p);
void process_standby_recheck(proc_t *pr);
void process_standby_stop(proc_t *pr);
/* Records of input type t of partition p still to fetch after the last
 * polled, as of the newest high watermark librdkafka has (a stale one only
 * makes it look smaller; 0 if it has none). On the loop. */
int64_t process_to_fetch(proc_t *pr, int p, int t);
/* process_align.c: catching up, pauses the input topic-partitions that
 * are more than stream.lead_ms ahead in event time of the slowest one of
 * their partition still being read, and resumes them (every tick, on the
 * loop); before partition p is released, resumes what it paused. */
void process_align(proc_t *pr, int64_t now);
/* Records came back after a silence longer than stream.idle_ms: asks the
 * broker where each input topic-partition ends now, what was written in
 * the silence (process_resume_read). */
void process_resume_mark(proc_t *pr);
/* The consumer's fetch.wait.max.ms: a fetch's longest wait, ms. */
int64_t process_fetch_wait_ms(rd_kafka_t *rk);
/* Whether every input topic-partition has been polled to where it ended
 * at process_resume_mark(); false when that is not known. */
bool process_resume_read(proc_t *pr, int64_t now);
void process_align_release(proc_t *pr, int p);
/* On partition p's worker: a valid event of input type t, at occurred_at
 * ms. */
static inline void process_align_seen(pstate_t *ps, int t, int64_t at) {
        if (at > atomic_load_explicit(&ps->ps_seen[t], memory_order_relaxed))
                atomic_store_explicit(&ps->ps_seen[t], at,
                                      memory_order_relaxed);
}

/* A consumer-protocol assignment (ListGroups' member_assignment, len
 * bytes): sets owner[p] = member for every partition p < MAX_PARTITIONS of
 * topic in it. false if malformed (every length is checked). */
bool process_parse_assignment(const unsigned char *b, int len,
                              const char *topic, int member, int *owner);

#endif /* PROCESS_INT_H */
