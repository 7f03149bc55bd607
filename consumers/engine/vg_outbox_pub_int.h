/*
 * vg_outbox_pub_int.h - the publisher's insides, shared by its plain
 * (vg_outbox_pub.c) and transactional (vg_outbox_txn.c) halves.
 */
#ifndef VG_OUTBOX_PUB_INT_H
#define VG_OUTBOX_PUB_INT_H

#include "vg_outbox.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

/*
 * Publisher
 *
 * Order matters: the last record of a key on the topic must be the newest
 * (an alert's last status, a cell's latest part). So a slot hands rows to
 * the producer in seq order, and deletes only a delivered *prefix* of what
 * it sent. When a delivery fails, the slot stops sending, waits for what is
 * in flight, and then sends everything after that prefix again, including
 * rows that were delivered after the failed one: the newest row of every
 * key is always published last. A row that keeps failing (PUB_MAX_ROUNDS
 * rounds without progress) is a fatal error, not an endless loop.
 */

#define PUB_SLOTS 1024
#define PUB_MAX_INFLIGHT 10000
#define PUB_MAX_ROUNDS 10
/* A transaction holds whole batches, and stops taking more after this many
 * rows (so that it commits well within transaction.timeout.ms) - unless
 * it holds a record resolved as it was read (a patient's changelog
 * record: the state the last commit wrote), which vouches for the last
 * batch only: then it takes every row there is, up to that batch. What
 * bounds it then is its owner: vigil process waits for its slot
 * (vg_pub_drain_slot_wait) after a commit that leaves more than
 * PROCESS_OUTBOX_WAIT rows in the outbox (process_work.c). */
#define PUB_TXN_ROWS 20000
/* Smaller transactions are committed at once; larger ones stay open while
 * the next batch is processed. */
#define PUB_TXN_PIPELINE 2000

enum { SENT_INFLIGHT = 0, SENT_DELIVERED, SENT_FAILED };

typedef struct sent_s {
        int64_t se_seq;
        int     se_state;
} sent_t;

typedef struct slot_s {
        vg_outbox_t *sl_ob;
        bool (*sl_busy)(void *opaque);
        void        *sl_opaque;
        int64_t      sl_sent_seq;  /* rows up to here handed over */
        int64_t      sl_acked;     /* rows up to here delivered (prefix) */
        int64_t      sl_deleted;   /* rows up to here deleted */
        int          sl_inflight;
        sent_t      *sl_fifo;      /* sent rows, in seq order */
        int          sl_head;      /* first entry not yet acknowledged */
        int          sl_len;
        int          sl_cap;
        bool         sl_failed;    /* a delivery failed: resend after drain */
        int          sl_rounds;    /* resend rounds without progress */
        /* transactional mode */
        char        *sl_cl_topic;  /* the slot's changelog partition */
        int32_t      sl_cl_part;
        vg_pub_committed_cb *sl_cl_cb;
        int64_t      sl_cl_last;   /* its last offset in this transaction */
        int          sl_txn_failed; /* its records that failed (the first
                                     * logged; a fenced producer's purge
                                     * fails them all) */
        rd_kafka_t  *sl_rk;        /* the slot's transactional producer */
        rd_kafka_topic_t **sl_rkts; /* its handles of pb_topics */
        bool         sl_txn_open;  /* a transaction is open */
        /* Its commit runs on sl_thr: until joined, sl_rk and what its
         * delivery reports change (sl_inflight, sl_cl_last) are the
         * thread's. */
        atomic_bool  sl_committing; /* (read by vg_pub_committing on
                                     * any thread) */
        pthread_t    sl_thr;
        atomic_bool  sl_commit_done; /* set by sl_thr as it ends */
        rd_kafka_error_t *sl_commit_err; /* its outcome (NULL: committed) */
        int64_t      sl_commit_us; /* how long it took */
        int64_t      sl_txn_at;    /* since, ms */
        int64_t      sl_cl_done;   /* changelog end committed, not yet
                                    * reported (-1: none) */
        /* nothing after sl_probe_seq when the outbox had had
         * sl_probe_adds rows added (no query until either changes) */
        int64_t      sl_probe_seq;
        uint64_t     sl_probe_adds;
        /* transactional mode: a slot is drained on one thread at a time,
         * perhaps not the loop's (vg_pub_drain_slot), so what a drain
         * changes is the slot's */
        int          sl_txn_rows;  /* rows in the open transaction */
        bool         sl_txn_now;   /* it holds a record resolved as read */
        uint64_t     sl_urgent;    /* vg_outbox_urgent as the last
                                    * transaction began */
        int64_t      sl_hold_since; /* rows held since, monotonic ms
                                     * (0: none) */
        bool         sl_no_wait;   /* the next transaction begins without
                                    * a hold: rows left by a cut or an
                                    * aborted transaction, or queued
                                    * before the slot was (re)assigned,
                                    * may hold an alert */
        char         sl_err[256];  /* its error */
} slot_t;

struct vg_pub_s {
        rd_kafka_t *pb_rk;
        slot_t      pb_slots[PUB_SLOTS];
        atomic_int  pb_fatal;
        char        pb_err[256];   /* the first fatal error (pb_lock) */
        /* Without transactions, the slots' fifos and what a drain of a
         * slot changes, which delivery reports (dr_cb) change too, on
         * whichever thread polls the producer; and pb_err. Recursive: a
         * drain polls when the producer's queue is full. */
        pthread_mutex_t pb_lock;
        bool        pb_txn;        /* transactional mode: a producer per
                                    * slot (sl_rk), none in pb_rk */
        rd_kafka_conf_t *pb_conf;  /* their configuration */
        char      **pb_topics;     /* the topics they write to */
        int         pb_ntopics;
        char       *pb_txn_prefix; /* their transactional.id prefix */
        int         pb_linger_ms;  /* vg_pub_set_linger */
        int         pb_hi;         /* slots above this never used */
};

/* The opaque of a message: slot (< PUB_SLOTS, 10 bits) in the top bits,
 * seq in the low 54 (an outbox's seq is its chunk's rowid x 65,536: room
 * for 2^38 chunks, one per record at most). */
#define TAG_SHIFT 54
#define TAG(id, seq)                                                         \
        ((void *)(((uintptr_t)(id) << TAG_SHIFT) | (uintptr_t)(seq)))
#define TAG_ID(t) ((int)((uintptr_t)(t) >> TAG_SHIFT))
#define TAG_SEQ(t) ((int64_t)((uintptr_t)(t) & ((1ULL << TAG_SHIFT) - 1)))
_Static_assert(sizeof(uintptr_t) == 8 && PUB_SLOTS <= 1 << (64 - TAG_SHIFT),
               "a message's opaque holds its slot and seq");

/* A drain's round of one slot (send_cb's opaque). */
typedef struct send_s {
        vg_pub_t *pub;
        int       id;
        int       stop;
        bool      fatal;  /* transactional mode: an error (sl_err) */
} send_t;

/* vg_outbox_pub.c */
void pub_fatal_set(vg_pub_t *pub, const char *msg);
int pub_fatal_report(vg_pub_t *pub, char *errstr, size_t errstr_size);
int pub_settle(vg_pub_t *pub, slot_t *sl, char *errstr, size_t errstr_size);
void pub_slot_reset(slot_t *sl);
void pub_send_cb(const vg_outrec_t *r, void *opaque);
void pub_count_cb(const vg_outrec_t *r, void *opaque);

/* vg_outbox_txn.c */
int pub_txn_finish(vg_pub_t *pub, slot_t *sl, bool settle);
int pub_txn_slot(vg_pub_t *pub, int id, bool force);
int pub_txn_drain(vg_pub_t *pub, bool force, char *errstr,
                  size_t errstr_size);
bool pub_txn_left(vg_pub_t *pub);

#endif /* VG_OUTBOX_PUB_INT_H */
