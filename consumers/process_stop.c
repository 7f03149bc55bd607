/*
 * process_stop.c - the deadline of vigil process's stop (process_int.h).
 *
 * A stop commits the open batches and publishes the outbox. With the
 * broker not answering, librdkafka's blocking calls (a transaction's
 * commit: a minute, retried) held a SIGTERM'd process for as long as the
 * outage (105 s in an attack), past the 60 s a service manager allows;
 * and with an input topic deleted while it was assigned, librdkafka
 * 2.0.2's rd_kafka_destroy() never returned at all.
 * What a stop has not published is safe: it is committed in state.dir's
 * outbox and goes out at the next start, as after a crash (a transaction
 * left open is aborted by the broker or fenced by the next start). So
 * past the deadline the process ends, saying so.
 */
#include "process_int.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

struct process_stop_s {
        pthread_t       ps_thr;
        pthread_mutex_t ps_lock;
        pthread_cond_t  ps_cond;
        bool            ps_done;
        int             ps_ms;
};

static void *stop_main(void *arg) {
        process_stop_t *st = arg;
        struct timespec until;
        bool done;
        vg_deadline_after(CLOCK_MONOTONIC, st->ps_ms, &until);
        pthread_mutex_lock(&st->ps_lock);
        while (!st->ps_done &&
               pthread_cond_timedwait(&st->ps_cond, &st->ps_lock, &until) ==
                       0)
                ;
        done = st->ps_done;
        pthread_mutex_unlock(&st->ps_lock);
        if (!done) {
                /* (exit 1: the stop did not do all it should, whatever
                 * made it stop; an error during it may be logged) */
                vg_warn("process",
                        "stop not finished after %d s (Kafka not "
                        "answering, or librdkafka not shutting down): "
                        "exiting with status 1; what was not "
                        "published stays committed in state.dir's outbox "
                        "and goes out at the next start",
                        st->ps_ms / 1000);
                fflush(NULL);
                _exit(1);
        }
        return NULL;
}

process_stop_t *process_stop_deadline(int ms) {
        process_stop_t *st = calloc(1, sizeof(*st));
        pthread_condattr_t ca;
        if (!st)
                return NULL;
        st->ps_ms = ms;
        if (pthread_mutex_init(&st->ps_lock, NULL)) {
                free(st);
                return NULL;
        }
        /* (monotonic: a step of the wall clock does not move it) */
        if (pthread_condattr_init(&ca) ||
            pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) ||
            pthread_cond_init(&st->ps_cond, &ca)) {
                pthread_mutex_destroy(&st->ps_lock);
                free(st);
                return NULL;
        }
        pthread_condattr_destroy(&ca);
        if (pthread_create(&st->ps_thr, NULL, stop_main, st)) {
                pthread_mutex_destroy(&st->ps_lock);
                pthread_cond_destroy(&st->ps_cond);
                free(st);
                return NULL; /* (no deadline: the stop as before) */
        }
        return st;
}

void process_stop_done(process_stop_t *st) {
        if (!st)
                return;
        pthread_mutex_lock(&st->ps_lock);
        st->ps_done = true;
        pthread_cond_signal(&st->ps_cond);
        pthread_mutex_unlock(&st->ps_lock);
        pthread_join(st->ps_thr, NULL);
        pthread_mutex_destroy(&st->ps_lock);
        pthread_cond_destroy(&st->ps_cond);
        free(st);
}
