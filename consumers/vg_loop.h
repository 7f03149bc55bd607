/*
 * vg_loop.h - the one Kafka consume loop of vigil process and vigil
 * aggregate: poll, hand each record or partition-EOF to the component,
 * let it commit what is due, tick, drain the outboxes through the
 * publisher, report health, log progress, and stop on a signal or when it
 * has been idle for --exit-idle seconds with everything settled and
 * published.
 *
 * The component owns its batches and state; the loop owns the rhythm.
 */
#ifndef VG_LOOP_H
#define VG_LOOP_H

#include "vg_common.h"
#include "vg_outbox.h"

#include <signal.h>
#include <librdkafka/rdkafka.h>

typedef struct vg_loop_s {
        rd_kafka_t  *lp_rk;          /* the consumer, subscribed or assigned */
        vg_pub_t    *lp_pub;         /* drains the outboxes */
        const char  *lp_name;        /* log component: "process", ... */
        const char  *lp_what;        /* what a record is: "events", ... */
        int          lp_exit_idle;   /* seconds; 0: until stopped */
        volatile sig_atomic_t *lp_stop; /* set by a signal handler */
        void        *lp_opaque;      /* passed to every callback */
        /* A record (m->err == 0). -1: fatal (errstr set); 1: the callback
         * keeps the message (and destroys it later); 0: done with it. */
        int  (*lp_record)(void *opaque, rd_kafka_message_t *m, int64_t now,
                          char *errstr, size_t errstr_size);
        /* A partition-EOF (optional). 1: the callback keeps the message
         * (and destroys it later); 0: done with it; -1: fatal (errstr
         * set). */
        int  (*lp_eof)(void *opaque, rd_kafka_message_t *m, int64_t now,
                       char *errstr, size_t errstr_size);
        /* After every poll: commit the batches that are due. drained: the
         * poll found the local queue empty. -1: fatal. */
        int  (*lp_commit)(void *opaque, int64_t now, bool drained,
                          char *errstr, size_t errstr_size);
        /* Every 100 ms (optional): time-driven work. -1: fatal. */
        int  (*lp_tick)(void *opaque, int64_t now, char *errstr,
                        size_t errstr_size);
        /* Every second (optional): gauges, /readyz. */
        void (*lp_health)(void *opaque, int64_t now);
        /* --exit-idle: true when the component holds nothing unfinished
         * (no open batch, outboxes empty, time-driven work done) and has
         * been ready for exit_idle seconds by its own measure (e.g. since
         * its assignment). */
        bool (*lp_settled)(void *opaque, int64_t now, int64_t idle_ms);
        /* Drains the publisher (optional; without it, vg_pub_drain on
         * lp_pub after every poll). -1: fatal. */
        int  (*lp_drain)(void *opaque, int64_t now, char *errstr,
                         size_t errstr_size);
        /* Wake librdkafka's fetcher. While catching up, librdkafka 2.0
         * stops fetching once its queue holds queued.min.messages records
         * (or queued.max.messages.kbytes) and decides again when its
         * broker threads are woken, else a second later; the loop wakes
         * them (from a thread of its own: a request to the leaders of the
         * assigned partitions) once the queue is down to half its peak
         * (of 1,000 records or more). */
        bool         lp_wake_fetcher;
        int64_t      lp_wakes;       /* out: wake-ups asked */
        int64_t      lp_records;     /* out: records handed over */
        int          lp_fatal;       /* out: 1 after a fatal error */
} vg_loop_t;

/* Runs until *lp_stop, --exit-idle or a fatal error. Returns 0 or -1
 * (errstr set). The caller commits, flushes and closes afterwards. */
int vg_loop_run(vg_loop_t *lp, char *errstr, size_t errstr_size);

#endif /* VG_LOOP_H */
