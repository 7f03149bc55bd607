/*
 * test_pool.c - the partitions' queues and workers of Kafka mode
 * (consumers/process_pool.c): each partition's records are handled in the
 * order they were put, by one thread at a time, requests after the
 * records put before them; a partition the caller claims is not taken by
 * a worker; quiesce returns only when everything is handled.
 *
 * Each record comes with the watermark hold it was put with, the
 * requests with that of the last one.
 *
 * The records are fake (rd_kafka_message_t with a partition and an
 * offset); the work function never destroys them, and every test ends
 * with nothing queued, so the pool never does either.
 */
#include "process_int.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#define NPART 8
#define NMSG  40000

typedef struct world_s {
        atomic_int   inside[NPART];   /* threads in the partition now */
        atomic_int   overlaps;        /* a partition on two threads */
        atomic_int   disorder;        /* an offset out of order */
        atomic_int   early_commit;    /* a commit before its records */
        atomic_llong seen[NPART];     /* records handled */
        int64_t      last[NPART];     /* last offset handled */
        atomic_llong commit_expect[NPART]; /* records put before the
                                             * commit request */
        atomic_int   commits[NPART];
        atomic_int   workers_seen;    /* bit w: worker w ran */
        atomic_int   bad_hold;        /* a record or request with another
                                       * hold than it was put with */
        atomic_bool  want_req_hold;
        atomic_int   gate;            /* 1: partition 0's turn waits */
        atomic_int   in_gate;         /* it is waiting */
} world_t;

static void spin(int n) {
        volatile unsigned x = 0;
        for (int i = 0; i < n; i++)
                x += (unsigned)i;
}

static void work(void *opaque, int p, int w, const pturn_t *t) {
        world_t *wd = opaque;
        if (atomic_fetch_add(&wd->inside[p], 1) != 0)
                atomic_fetch_add(&wd->overlaps, 1);
        /* Until a second worker has run, the first one's turns leave the
         * CPU a moment: on a loaded machine (ctest -j2 beside other tests)
         * one busy worker could otherwise take every partition and the
         * side-by-side check below would fail for want of a core. */
        if (__builtin_popcount((unsigned)(atomic_fetch_or(&wd->workers_seen,
                                                          1 << w) |
                                          1 << w)) == 1) {
                struct timespec ts = {0, 200000L};
                nanosleep(&ts, NULL);
        }
        for (int i = 0; i < t->pt_n; i++) {
                rd_kafka_message_t *m = t->pt_m[i];
                if (m->partition != p || m->offset != wd->last[p] + 1)
                        atomic_fetch_add(&wd->disorder, 1);
                /* (key_len: the hold it was put with) */
                if (t->pt_hold[i] != (m->key_len != 0))
                        atomic_fetch_add(&wd->bad_hold, 1);
                wd->last[p] = m->offset;
                atomic_fetch_add(&wd->seen[p], 1);
                spin(200);
        }
        if (p == 0 && atomic_load(&wd->gate)) {
                atomic_store(&wd->in_gate, 1);
                while (atomic_load(&wd->gate))
                        spin(1000);
                atomic_store(&wd->in_gate, 0);
        }
        if (t->pt_flags & PP_COMMIT) {
                if (atomic_load(&wd->seen[p]) <
                    atomic_load(&wd->commit_expect[p]))
                        atomic_fetch_add(&wd->early_commit, 1);
                if (t->pt_req_hold != atomic_load(&wd->want_req_hold))
                        atomic_fetch_add(&wd->bad_hold, 1);
                atomic_fetch_add(&wd->commits[p], 1);
        }
        atomic_fetch_sub(&wd->inside[p], 1);
}

/* Waits (at most 10 s) until *v == want. */
static bool wait_for(atomic_llong *v, int64_t want) {
        struct timespec ts = {0, 1000000L};
        for (int i = 0; i < 10000 && atomic_load(v) != want; i++)
                nanosleep(&ts, NULL);
        return atomic_load(v) == want;
}

static rd_kafka_message_t *msgs(void) {
        rd_kafka_message_t *ms = calloc(NMSG, sizeof(*ms));
        assert_non_null(ms);
        return ms;
}

static world_t *world_new(void) {
        world_t *wd = calloc(1, sizeof(*wd));
        assert_non_null(wd);
        for (int p = 0; p < NPART; p++)
                wd->last[p] = -1;
        return wd;
}

/* A world, its records and a pool of n workers on them. */
typedef struct fx_s {
        world_t            *wd;
        rd_kafka_message_t *ms;
        process_pool_t     *pp;
} fx_t;

static fx_t fx_new(int n) {
        fx_t fx = {world_new(), msgs(), NULL};
        char err[256];
        fx.pp = process_pool_new(n, work, fx.wd, err, sizeof(err));
        assert_non_null(fx.pp);
        return fx;
}

/* Waits for the workers, checks what every test expects (each partition
 * on one thread at a time, in order, every hold as put, no commit before
 * its records, nothing left queued), and frees it all. */
static void fx_end(fx_t *fx) {
        process_pool_quiesce(fx->pp);
        assert_int_equal(process_pool_queued(fx->pp), 0);
        assert_int_equal(atomic_load(&fx->wd->overlaps), 0);
        assert_int_equal(atomic_load(&fx->wd->disorder), 0);
        assert_int_equal(atomic_load(&fx->wd->bad_hold), 0);
        assert_int_equal(atomic_load(&fx->wd->early_commit), 0);
        process_pool_destroy(fx->pp);
        free(fx->ms);
        free(fx->wd);
}

/* Bunches of records of random partitions, put as the loop puts them:
 * every partition's records come out in order, one thread at a time,
 * each with the hold it was put with, and the workers take part side by
 * side. */
static void order_and_exclusion(void **st) {
        fx_t fx = fx_new(3);
        int64_t next[NPART] = {0};
        int i = 0;
        (void)st;
        srand(7);
        while (i < NMSG) {
                int p = rand() % NPART, n = 1 + rand() % 60;
                bool hold = rand() % 2;
                rd_kafka_message_t *b[60];
                if (n > NMSG - i)
                        n = NMSG - i;
                for (int k = 0; k < n; k++, i++) {
                        fx.ms[i].partition = p;
                        fx.ms[i].offset = next[p]++;
                        fx.ms[i].key_len = hold;
                        b[k] = &fx.ms[i];
                }
                process_pool_put(fx.pp, p, b, n, hold, 0);
                /* puts while workers have partitions, as in a stream */
                spin(20000);
        }
        process_pool_quiesce(fx.pp);
        for (int p = 0; p < NPART; p++) {
                assert_int_equal(atomic_load(&fx.wd->seen[p]), next[p]);
                assert_int_equal(fx.wd->last[p], next[p] - 1);
        }
        /* at least two of the three workers took partitions */
        assert_true(__builtin_popcount((unsigned)atomic_load(
                            &fx.wd->workers_seen)) >= 2);
        fx_end(&fx);
}

/* A commit request is run after every record put before it, with the
 * hold of the last request. */
static void requests_after_records(void **st) {
        fx_t fx = fx_new(2);
        int per = NMSG / NPART / 10, i = 0;
        (void)st;
        for (int round = 0; round < 10; round++) {
                for (int p = 0; p < NPART; p++) {
                        rd_kafka_message_t *b[NMSG / NPART / 10];
                        for (int k = 0; k < per; k++, i++) {
                                fx.ms[i].partition = p;
                                fx.ms[i].offset = (int64_t)round * per + k;
                                b[k] = &fx.ms[i];
                        }
                        process_pool_put(fx.pp, p, b, per, false, 0);
                }
                atomic_store(&fx.wd->want_req_hold, round % 2);
                for (int p = 0; p < NPART; p++) {
                        atomic_store(&fx.wd->commit_expect[p],
                                     (int64_t)(round + 1) * per);
                        process_pool_put(fx.pp, p, NULL, 0, !(round % 2),
                                         PP_TICK);
                        process_pool_put(fx.pp, p, NULL, 0, round % 2,
                                         PP_COMMIT);
                }
                process_pool_quiesce(fx.pp);
        }
        for (int p = 0; p < NPART; p++) {
                assert_int_equal(atomic_load(&fx.wd->seen[p]), 10 * per);
                /* one a round: never lost, never merged across rounds */
                assert_int_equal(atomic_load(&fx.wd->commits[p]), 10);
        }
        fx_end(&fx);
}

/* Puts records offset from..from+n-1 of partition p. */
static void put_range(fx_t *fx, int p, int from, int n) {
        rd_kafka_message_t *b[100];
        for (int k = 0; k < n; k++) {
                rd_kafka_message_t *m = &fx->ms[p * 1000 + from + k];
                m->partition = p;
                m->offset = from + k;
                b[k] = m;
        }
        process_pool_put(fx->pp, p, b, n, false, 0);
}

/* Records and a request put while a worker is in the partition's turn
 * (held at a gate there): the next turn runs those records, then the
 * request. */
static void request_during_a_turn(void **st) {
        fx_t fx = fx_new(2);
        (void)st;
        atomic_store(&fx.wd->gate, 1);
        put_range(&fx, 0, 0, 100);
        for (int i = 0; i < 10000 && !atomic_load(&fx.wd->in_gate); i++)
                spin(100000);
        assert_int_equal(atomic_load(&fx.wd->in_gate), 1);
        put_range(&fx, 0, 100, 100);
        atomic_store(&fx.wd->commit_expect[0], 200);
        process_pool_put(fx.pp, 0, NULL, 0, false, PP_COMMIT);
        atomic_store(&fx.wd->gate, 0);
        process_pool_quiesce(fx.pp);
        assert_int_equal(atomic_load(&fx.wd->seen[0]), 200);
        assert_int_equal(atomic_load(&fx.wd->commits[0]), 1);
        fx_end(&fx);
}

/* A partition the caller claims waits; the others go on. */
static void claim_holds_the_partition(void **st) {
        fx_t fx = fx_new(2);
        (void)st;
        assert_true(process_pool_claim(fx.pp, 0, true));
        put_range(&fx, 0, 0, 100);
        put_range(&fx, 1, 0, 100);
        /* partition 1 done while 0 waits, with a worker free for it */
        assert_true(wait_for(&fx.wd->seen[1], 100));
        assert_int_equal(atomic_load(&fx.wd->seen[0]), 0);
        assert_int_equal(process_pool_queued(fx.pp), 100);
        process_pool_release(fx.pp, 0);
        process_pool_quiesce(fx.pp);
        assert_int_equal(atomic_load(&fx.wd->seen[0]), 100);
        /* unclaimed and idle: taken at once without waiting */
        assert_true(process_pool_claim(fx.pp, 1, false));
        process_pool_release(fx.pp, 1);
        fx_end(&fx);
}

/* wait_below returns once the workers have brought the queue down. */
static void wait_below(void **st) {
        fx_t fx = fx_new(1);
        rd_kafka_message_t **b = calloc(NMSG, sizeof(*b));
        (void)st;
        assert_non_null(b);
        for (int k = 0; k < NMSG; k++) {
                fx.ms[k].partition = 3;
                fx.ms[k].offset = k;
                b[k] = &fx.ms[k];
        }
        process_pool_put(fx.pp, 3, b, NMSG, false, 0);
        process_pool_wait_below(fx.pp, 0, NULL);
        assert_int_equal(process_pool_queued(fx.pp), 0);
        assert_int_equal(atomic_load(&fx.wd->seen[3]), NMSG);
        free(b);
        fx_end(&fx);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(order_and_exclusion),
                cmocka_unit_test(requests_after_records),
                cmocka_unit_test(request_during_a_turn),
                cmocka_unit_test(claim_holds_the_partition),
                cmocka_unit_test(wait_below),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
