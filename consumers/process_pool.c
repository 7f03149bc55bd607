/*
 * process_pool.c - the partitions of Kafka mode side by side
 * (process_int.h): a fork-join pool. The calling thread is worker 0 and
 * runs its share too; process_pool_run returns when every worker has run
 * the function once. Nothing else touches the partitions while it runs,
 * so the loop, the publisher and the rebalance callback see them as one
 * thread left them.
 */
#include "process_int.h"
#include "vg_common.h"

#include <pthread.h>
#include <stdbool.h>
#include <string.h>

typedef struct pworker_s {
        struct process_pool_s *pw_pool;
        int                    pw_id;
        pthread_t              pw_thr;
} pworker_t;

struct process_pool_s {
        int             pp_n;
        int             pp_started;   /* threads running (pp_n - 1) */
        pworker_t      *pp_w;
        pthread_mutex_t pp_lock;
        pthread_cond_t  pp_go;        /* a round starts, or quit */
        pthread_cond_t  pp_done;      /* the last worker finished */
        unsigned        pp_round;
        int             pp_running;   /* workers of the round not done */
        bool            pp_quit;
        void          (*pp_fn)(void *opaque, int worker);
        void           *pp_opaque;
};

static void *pool_main(void *arg) {
        pworker_t *w = arg;
        process_pool_t *pp = w->pw_pool;
        unsigned seen = 0;

        pthread_mutex_lock(&pp->pp_lock);
        for (;;) {
                void (*fn)(void *, int);
                void *opaque;
                while (!pp->pp_quit && pp->pp_round == seen)
                        pthread_cond_wait(&pp->pp_go, &pp->pp_lock);
                if (pp->pp_quit)
                        break;
                seen = pp->pp_round;
                fn = pp->pp_fn;
                opaque = pp->pp_opaque;
                pthread_mutex_unlock(&pp->pp_lock);
                fn(opaque, w->pw_id);
                pthread_mutex_lock(&pp->pp_lock);
                if (--pp->pp_running == 0)
                        pthread_cond_signal(&pp->pp_done);
        }
        pthread_mutex_unlock(&pp->pp_lock);
        return NULL;
}

process_pool_t *process_pool_new(int n, char *errstr, size_t errstr_size) {
        process_pool_t *pp = vg_calloc(1, sizeof(*pp));
        pp->pp_n = n < 1 ? 1 : n;
        pp->pp_w = vg_calloc((size_t)pp->pp_n, sizeof(*pp->pp_w));
        pthread_mutex_init(&pp->pp_lock, NULL);
        pthread_cond_init(&pp->pp_go, NULL);
        pthread_cond_init(&pp->pp_done, NULL);
        for (int i = 1; i < pp->pp_n; i++) {
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

int process_pool_size(const process_pool_t *pp) {
        return pp ? pp->pp_n : 1;
}

void process_pool_run(process_pool_t *pp, void (*fn)(void *opaque, int worker),
                      void *opaque) {
        if (!pp || pp->pp_n == 1) {
                fn(opaque, 0);
                return;
        }
        pthread_mutex_lock(&pp->pp_lock);
        pp->pp_fn = fn;
        pp->pp_opaque = opaque;
        pp->pp_running = pp->pp_n - 1;
        pp->pp_round++;
        pthread_cond_broadcast(&pp->pp_go);
        pthread_mutex_unlock(&pp->pp_lock);
        fn(opaque, 0);
        pthread_mutex_lock(&pp->pp_lock);
        while (pp->pp_running > 0)
                pthread_cond_wait(&pp->pp_done, &pp->pp_lock);
        pthread_mutex_unlock(&pp->pp_lock);
}

void process_pool_destroy(process_pool_t *pp) {
        if (!pp)
                return;
        pthread_mutex_lock(&pp->pp_lock);
        pp->pp_quit = true;
        pthread_cond_broadcast(&pp->pp_go);
        pthread_mutex_unlock(&pp->pp_lock);
        for (int i = 1; i <= pp->pp_started; i++)
                pthread_join(pp->pp_w[i].pw_thr, NULL);
        pthread_cond_destroy(&pp->pp_done);
        pthread_cond_destroy(&pp->pp_go);
        pthread_mutex_destroy(&pp->pp_lock);
        vg_free(pp->pp_w);
        vg_free(pp);
}
