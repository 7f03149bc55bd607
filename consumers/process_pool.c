/*
 * process_pool.c - the partitions of Kafka mode side by side
 * (process_int.h): a queue of records per partition and workers that run
 * continuously. The loop's thread puts records (and requests) on a
 * partition's queue; a free worker takes a partition that has work and no
 * owner, runs everything queued for it, and gives it back. So one
 * partition is handled by one thread at a time, in the order its records
 * were put, while the loop goes on polling and the other workers take the
 * other partitions: no worker waits for another one to finish.
 *
 * The loop's thread may own a partition too (process_pool_claim: what it
 * does with the partition's store or publisher slot between the workers'
 * turns), or wait until nothing is queued or owned (process_pool_quiesce:
 * then it has every partition to itself, as before a rebalance).
 */
#include "process_int.h"
#include "vg_common.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>

enum { OWN_NONE = 0, OWN_WORKER, OWN_LOOP };

typedef struct pqueue_s {
        rd_kafka_message_t **pq_m;    /* records and partition-EOFs, in order */
        bool                *pq_hold; /* the hold each was put with */
        int                  pq_n, pq_cap;
        unsigned             pq_flags; /* PP_* requested */
        bool                 pq_req_hold; /* the hold of the last request */
        int                  pq_own;   /* OWN_* */
} pqueue_t;

typedef struct pworker_s {
        struct process_pool_s *pw_pool;
        int                    pw_id;
        pthread_t              pw_thr;
        rd_kafka_message_t   **pw_m;   /* what the worker took */
        bool                  *pw_hold;
        int                    pw_cap;
} pworker_t;

struct process_pool_s {
        int             pp_n;
        int             pp_started;   /* threads running */
        pworker_t      *pp_w;
        pthread_mutex_t pp_lock;
        pthread_cond_t  pp_work;      /* a partition has work, or quit */
        pthread_cond_t  pp_progress;  /* a partition was given back */
        pqueue_t        pp_q[MAX_PARTITIONS];
        int             pp_hi;        /* partitions above never used */
        int             pp_next;      /* where the next search starts */
        int64_t         pp_queued;    /* records put, not yet handled */
        bool            pp_quit;
        process_work_fn *pp_fn;
        void           *pp_opaque;
};

static bool has_work(const pqueue_t *q) {
        return q->pq_n > 0 || q->pq_flags;
}

/* A partition with work and no owner, the search going round from where
 * the last one ended (fair to every partition); -1: none. Locked. */
static int take_next(process_pool_t *pp) {
        for (int i = 0; i < pp->pp_hi; i++) {
                int p = (pp->pp_next + i) % pp->pp_hi;
                if (pp->pp_q[p].pq_own == OWN_NONE &&
                    has_work(&pp->pp_q[p])) {
                        pp->pp_next = (p + 1) % pp->pp_hi;
                        return p;
                }
        }
        return -1;
}

static void *pool_main(void *arg) {
        pworker_t *w = arg;
        process_pool_t *pp = w->pw_pool;

        pthread_mutex_lock(&pp->pp_lock);
        for (;;) {
                pqueue_t *q;
                pturn_t t;
                rd_kafka_message_t **m;
                bool *hold;
                int p = -1, cap;
                while (!pp->pp_quit && (p = take_next(pp)) < 0)
                        pthread_cond_wait(&pp->pp_work, &pp->pp_lock);
                if (pp->pp_quit)
                        break;
                q = &pp->pp_q[p];
                q->pq_own = OWN_WORKER;
                /* Its queue is the worker's now, and the worker's arrays
                 * (emptied after the last partition it took) the queue's. */
                m = q->pq_m;
                hold = q->pq_hold;
                cap = q->pq_cap;
                t.pt_m = m;
                t.pt_hold = hold;
                t.pt_n = q->pq_n;
                t.pt_flags = q->pq_flags;
                t.pt_req_hold = q->pq_req_hold;
                q->pq_m = w->pw_m;
                q->pq_hold = w->pw_hold;
                q->pq_cap = w->pw_cap;
                q->pq_n = 0;
                q->pq_flags = 0;
                w->pw_m = m;
                w->pw_hold = hold;
                w->pw_cap = cap;
                pthread_mutex_unlock(&pp->pp_lock);
                pp->pp_fn(pp->pp_opaque, p, w->pw_id, &t);
                pthread_mutex_lock(&pp->pp_lock);
                q->pq_own = OWN_NONE;
                pp->pp_queued -= t.pt_n;
                if (has_work(q)) /* put while it was taken */
                        pthread_cond_signal(&pp->pp_work);
                pthread_cond_broadcast(&pp->pp_progress);
        }
        pthread_mutex_unlock(&pp->pp_lock);
        return NULL;
}

process_pool_t *process_pool_new(int n, process_work_fn *fn, void *opaque,
                                 char *errstr, size_t errstr_size) {
        process_pool_t *pp = vg_calloc(1, sizeof(*pp));
        pp->pp_n = n < 1 ? 1 : n;
        pp->pp_w = vg_calloc((size_t)pp->pp_n, sizeof(*pp->pp_w));
        pp->pp_fn = fn;
        pp->pp_opaque = opaque;
        pthread_mutex_init(&pp->pp_lock, NULL);
        pthread_cond_init(&pp->pp_work, NULL);
        pthread_cond_init(&pp->pp_progress, NULL);
        for (int i = 0; i < pp->pp_n; i++) {
                int e;
                pp->pp_w[i].pw_pool = pp;
                pp->pp_w[i].pw_id = i;
                if ((e = pthread_create(&pp->pp_w[i].pw_thr, NULL, pool_main,
                                        &pp->pp_w[i]))) {
                        vg_seterr(errstr, errstr_size, VG_ERR_INTERNAL,
                                  "cannot start a worker thread: %s",
                                  strerror(e));
                        process_pool_destroy(pp);
                        return NULL;
                }
                pp->pp_started++;
        }
        return pp;
}

void process_pool_put(process_pool_t *pp, int p, rd_kafka_message_t **m,
                      int n, bool hold, unsigned flags) {
        pqueue_t *q;
        if (p < 0 || p >= MAX_PARTITIONS || (n <= 0 && !flags))
                return;
        q = &pp->pp_q[p];
        pthread_mutex_lock(&pp->pp_lock);
        if (p >= pp->pp_hi)
                pp->pp_hi = p + 1;
        if (q->pq_n + n > q->pq_cap) {
                int cap = q->pq_cap ? q->pq_cap : 64;
                while (cap < q->pq_n + n)
                        cap *= 2;
                q->pq_m = vg_realloc(q->pq_m, (size_t)cap * sizeof(*q->pq_m));
                q->pq_hold = vg_realloc(q->pq_hold,
                                        (size_t)cap * sizeof(*q->pq_hold));
                q->pq_cap = cap;
        }
        for (int i = 0; i < n; i++) {
                q->pq_m[q->pq_n + i] = m[i];
                q->pq_hold[q->pq_n + i] = hold;
        }
        q->pq_n += n;
        q->pq_flags |= flags;
        if (flags & (PP_COMMIT | PP_TICK))
                q->pq_req_hold = hold;
        pp->pp_queued += n;
        if (q->pq_own == OWN_NONE)
                pthread_cond_signal(&pp->pp_work);
        pthread_mutex_unlock(&pp->pp_lock);
}

int64_t process_pool_queued(process_pool_t *pp) {
        int64_t n;
        pthread_mutex_lock(&pp->pp_lock);
        n = pp->pp_queued;
        pthread_mutex_unlock(&pp->pp_lock);
        return n;
}

/* Waits on pp_progress for at most ms. Locked. */
static void wait_progress(process_pool_t *pp, int ms) {
        struct timespec ts;
        vg_deadline_after(CLOCK_REALTIME, ms, &ts);
        pthread_cond_timedwait(&pp->pp_progress, &pp->pp_lock, &ts);
}

void process_pool_wait_below(process_pool_t *pp, int64_t limit,
                             const atomic_int *stop) {
        pthread_mutex_lock(&pp->pp_lock);
        while (pp->pp_queued > limit && !(stop && atomic_load(stop)))
                wait_progress(pp, 100);
        pthread_mutex_unlock(&pp->pp_lock);
}

bool process_pool_claim(process_pool_t *pp, int p, bool wait) {
        pqueue_t *q;
        bool got;
        if (p < 0 || p >= MAX_PARTITIONS)
                return false;
        q = &pp->pp_q[p];
        pthread_mutex_lock(&pp->pp_lock);
        while (wait && q->pq_own != OWN_NONE)
                wait_progress(pp, 100);
        if ((got = q->pq_own == OWN_NONE))
                q->pq_own = OWN_LOOP;
        pthread_mutex_unlock(&pp->pp_lock);
        return got;
}

void process_pool_release(process_pool_t *pp, int p) {
        pqueue_t *q = &pp->pp_q[p];
        pthread_mutex_lock(&pp->pp_lock);
        q->pq_own = OWN_NONE;
        if (has_work(q))
                pthread_cond_signal(&pp->pp_work);
        pthread_mutex_unlock(&pp->pp_lock);
}

/* Anything queued or owned. Locked. */
static bool pool_active(const process_pool_t *pp) {
        for (int p = 0; p < pp->pp_hi; p++)
                if (pp->pp_q[p].pq_own != OWN_NONE || has_work(&pp->pp_q[p]))
                        return true;
        return false;
}

void process_pool_quiesce(process_pool_t *pp) {
        pthread_mutex_lock(&pp->pp_lock);
        while (pool_active(pp))
                wait_progress(pp, 100);
        pthread_mutex_unlock(&pp->pp_lock);
}

void process_pool_destroy(process_pool_t *pp) {
        if (!pp)
                return;
        pthread_mutex_lock(&pp->pp_lock);
        pp->pp_quit = true;
        pthread_cond_broadcast(&pp->pp_work);
        pthread_mutex_unlock(&pp->pp_lock);
        for (int i = 0; i < pp->pp_started; i++)
                pthread_join(pp->pp_w[i].pw_thr, NULL);
        /* What no worker took (after a fatal error): dropped, consumed
         * again after a restart. */
        for (int p = 0; p < MAX_PARTITIONS; p++) {
                for (int i = 0; i < pp->pp_q[p].pq_n; i++)
                        rd_kafka_message_destroy(pp->pp_q[p].pq_m[i]);
                vg_free(pp->pp_q[p].pq_m);
                vg_free(pp->pp_q[p].pq_hold);
        }
        for (int i = 0; i < pp->pp_n; i++) {
                vg_free(pp->pp_w[i].pw_m);
                vg_free(pp->pp_w[i].pw_hold);
        }
        pthread_cond_destroy(&pp->pp_progress);
        pthread_cond_destroy(&pp->pp_work);
        pthread_mutex_destroy(&pp->pp_lock);
        vg_free(pp->pp_w);
        vg_free(pp);
}
