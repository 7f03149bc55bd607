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
        volatile int x = 0;
        for (int i = 0; i < n; i++)
                x += i;
}

static void work(void *opaque, int p, int w, const pturn_t *t) {
        world_t *wd = opaque;
        if (atomic_fetch_add(&wd->inside[p], 1) != 0)
                atomic_fetch_add(&wd->overlaps, 1);
        atomic_fetch_or(&wd->workers_seen, 1 << w);
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

/* Bunches of records of random partitions, put as the loop puts them:
 * every partition's records come out in order, one thread at a time,
 * and every worker takes part. */
static void order_and_exclusion(void **st) {
        world_t *wd = world_new();
        rd_kafka_message_t *ms = msgs();
        int64_t next[NPART] = {0};
        char err[256];
        process_pool_t *pp = process_pool_new(3, work, wd, err, sizeof(err));
        int i = 0;
        (void)st;
        assert_non_null(pp);
        srand(7);
        while (i < NMSG) {
                int p = rand() % NPART, n = 1 + rand() % 60;
                bool hold = rand() % 2;
                rd_kafka_message_t *b[300];
                if (n > NMSG - i)
                        n = NMSG - i;
                for (int k = 0; k < n; k++, i++) {
                        ms[i].partition = p;
                        ms[i].offset = next[p]++;
                        ms[i].key_len = hold;
                        b[k] = &ms[i];
                }
                process_pool_put(pp, p, b, n, hold, 0);
                /* puts while workers have partitions, as in a stream */
                spin(20000);
        }
        process_pool_quiesce(pp);
        assert_int_equal(process_pool_queued(pp), 0);
        for (int p = 0; p < NPART; p++) {
                assert_int_equal(atomic_load(&wd->seen[p]), next[p]);
                assert_int_equal(wd->last[p], next[p] - 1);
        }
        assert_int_equal(atomic_load(&wd->overlaps), 0);
        assert_int_equal(atomic_load(&wd->disorder), 0);
        assert_int_equal(atomic_load(&wd->bad_hold), 0);
        /* the workers took part side by side (at least two of three) */
        assert_true(__builtin_popcount((unsigned)atomic_load(
                            &wd->workers_seen)) >= 2);
        process_pool_destroy(pp);
        free(ms);
        free(wd);
}

/* A commit request is run after every record put before it, also while a
 * worker has the partition when the request comes. */
static void requests_after_records(void **st) {
        world_t *wd = world_new();
        rd_kafka_message_t *ms = msgs();
        char err[256];
        process_pool_t *pp = process_pool_new(2, work, wd, err, sizeof(err));
        int per = NMSG / NPART / 10, i = 0;
        (void)st;
        assert_non_null(pp);
        for (int round = 0; round < 10; round++) {
                for (int p = 0; p < NPART; p++) {
                        rd_kafka_message_t *b[NMSG / NPART / 10];
                        for (int k = 0; k < per; k++, i++) {
                                ms[i].partition = p;
                                ms[i].offset = (int64_t)round * per + k;
                                b[k] = &ms[i];
                        }
                        process_pool_put(pp, p, b, per, false, 0);
                }
                /* the request's hold travels with it: the last one's */
                atomic_store(&wd->want_req_hold, round % 2);
                for (int p = 0; p < NPART; p++) {
                        atomic_store(&wd->commit_expect[p],
                                     (int64_t)(round + 1) * per);
                        process_pool_put(pp, p, NULL, 0, !(round % 2),
                                         PP_TICK);
                        process_pool_put(pp, p, NULL, 0, round % 2,
                                         PP_COMMIT);
                }
                process_pool_quiesce(pp);
        }
        for (int p = 0; p < NPART; p++) {
                assert_int_equal(atomic_load(&wd->seen[p]), 10 * per);
                /* one per round at least; never merged into nothing */
                assert_in_range(atomic_load(&wd->commits[p]), 10, 10);
        }
        assert_int_equal(atomic_load(&wd->early_commit), 0);
        assert_int_equal(atomic_load(&wd->disorder), 0);
        assert_int_equal(atomic_load(&wd->bad_hold), 0);
        process_pool_destroy(pp);
        free(ms);
        free(wd);
}

/* Records and a request put while a worker is in the partition's turn
 * (held at a gate there): the next turn runs those records, then the
 * request. */
static void request_during_a_turn(void **st) {
        world_t *wd = world_new();
        rd_kafka_message_t *ms = msgs();
        rd_kafka_message_t *b[100];
        char err[256];
        process_pool_t *pp = process_pool_new(2, work, wd, err, sizeof(err));
        (void)st;
        assert_non_null(pp);
        for (int k = 0; k < 200; k++) {
                ms[k].partition = 0;
                ms[k].offset = k;
        }
        atomic_store(&wd->gate, 1);
        for (int k = 0; k < 100; k++)
                b[k] = &ms[k];
        process_pool_put(pp, 0, b, 100, false, 0);
        for (int i = 0; i < 10000 && !atomic_load(&wd->in_gate); i++)
                spin(100000);
        assert_int_equal(atomic_load(&wd->in_gate), 1);
        for (int k = 0; k < 100; k++)
                b[k] = &ms[100 + k];
        process_pool_put(pp, 0, b, 100, false, 0);
        atomic_store(&wd->commit_expect[0], 200);
        process_pool_put(pp, 0, NULL, 0, false, PP_COMMIT);
        atomic_store(&wd->gate, 0);
        process_pool_quiesce(pp);
        assert_int_equal(atomic_load(&wd->seen[0]), 200);
        assert_int_equal(atomic_load(&wd->commits[0]), 1);
        assert_int_equal(atomic_load(&wd->early_commit), 0);
        assert_int_equal(atomic_load(&wd->overlaps), 0);
        assert_int_equal(atomic_load(&wd->disorder), 0);
        process_pool_destroy(pp);
        free(ms);
        free(wd);
}

/* A partition the caller claims waits; the others go on. */
static void claim_holds_the_partition(void **st) {
        world_t *wd = world_new();
        rd_kafka_message_t *ms = msgs();
        rd_kafka_message_t *b[100];
        char err[256];
        process_pool_t *pp = process_pool_new(2, work, wd, err, sizeof(err));
        (void)st;
        assert_non_null(pp);
        assert_true(process_pool_claim(pp, 0, true));
        for (int p = 0; p < 2; p++) {
                for (int k = 0; k < 100; k++) {
                        ms[p * 100 + k].partition = p;
                        ms[p * 100 + k].offset = k;
                        b[k] = &ms[p * 100 + k];
                }
                process_pool_put(pp, p, b, 100, false, 0);
        }
        /* partition 1 done while 0 waits, with a worker free for it */
        assert_true(wait_for(&wd->seen[1], 100));
        assert_int_equal(atomic_load(&wd->seen[0]), 0);
        assert_int_equal(process_pool_queued(pp), 100);
        process_pool_release(pp, 0);
        process_pool_quiesce(pp);
        assert_int_equal(atomic_load(&wd->seen[0]), 100);
        assert_int_equal(process_pool_queued(pp), 0);
        /* unclaimed and idle: taken at once without waiting */
        assert_true(process_pool_claim(pp, 1, false));
        process_pool_release(pp, 1);
        process_pool_destroy(pp);
        free(ms);
        free(wd);
}

/* wait_below returns once the workers have brought the queue down. */
static void wait_below(void **st) {
        world_t *wd = world_new();
        rd_kafka_message_t *ms = msgs();
        rd_kafka_message_t **b = calloc(NMSG, sizeof(*b));
        char err[256];
        process_pool_t *pp = process_pool_new(1, work, wd, err, sizeof(err));
        (void)st;
        assert_non_null(pp);
        assert_non_null(b);
        for (int k = 0; k < NMSG; k++) {
                ms[k].partition = 3;
                ms[k].offset = k;
                b[k] = &ms[k];
        }
        process_pool_put(pp, 3, b, NMSG, false, 0);
        process_pool_wait_below(pp, 0, NULL);
        assert_int_equal(process_pool_queued(pp), 0);
        assert_int_equal(atomic_load(&wd->seen[3]), NMSG);
        process_pool_quiesce(pp);
        process_pool_destroy(pp);
        free(b);
        free(ms);
        free(wd);
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
