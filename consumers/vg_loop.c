/*
 * vg_loop.c - the consume loop shared by vigil process and vigil aggregate
 * (vg_loop.h).
 */
#include "vg_loop.h"
#include "vg_time.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

/* The fetch waker (lp_wake_fetcher). librdkafka's broker thread decides
 * whether to fetch when something wakes it; a request to the broker does.
 * The request (the newest offsets of the assigned partitions: a ListOffsets
 * to each of their leaders, rd_kafka_offsets_for_times with its deadline
 * kept, unlike 2.0's watermark query) waits for its answers, so it runs
 * here, never on the loop: a first try on the loop itself stalled it
 * whenever the answers were slow. */
#define WAKE_TIMEOUT_MS 500
/* A queue of fewer records is no backlog: no wake-up. */
#define WAKE_MIN_PEAK 1000

typedef struct waker_s {
        rd_kafka_t       *wk_rk;
        rd_kafka_queue_t *wk_q;      /* the consumer's queue */
        size_t            wk_peak;   /* (loop) its longest since the last
                                      * wake-up */
        pthread_t         wk_thread;
        pthread_mutex_t   wk_lock;
        pthread_cond_t    wk_cond;
        bool              wk_want;
        atomic_bool       wk_stop;
        atomic_llong      wk_answered; /* requests the brokers answered */
} waker_t;

static void waker_wake(waker_t *wk) {
        rd_kafka_topic_partition_list_t *l = NULL;
        if (rd_kafka_assignment(wk->wk_rk, &l) || !l)
                return;
        for (int i = 0; i < l->cnt; i++)
                l->elems[i].offset = RD_KAFKA_OFFSET_END; /* (the newest) */
        if (l->cnt && !rd_kafka_offsets_for_times(wk->wk_rk, l,
                                                  WAKE_TIMEOUT_MS))
                atomic_fetch_add(&wk->wk_answered, 1);
        rd_kafka_topic_partition_list_destroy(l);
}

static void *waker_main(void *arg) {
        waker_t *wk = arg;
        pthread_mutex_lock(&wk->wk_lock);
        for (;;) {
                while (!atomic_load(&wk->wk_stop) && !wk->wk_want)
                        pthread_cond_wait(&wk->wk_cond, &wk->wk_lock);
                if (atomic_load(&wk->wk_stop))
                        break;
                wk->wk_want = false;
                pthread_mutex_unlock(&wk->wk_lock);
                waker_wake(wk);
                pthread_mutex_lock(&wk->wk_lock);
        }
        pthread_mutex_unlock(&wk->wk_lock);
        return NULL;
}

/* false: no waker (not asked for, or no consumer queue, or no thread). */
static bool waker_start(waker_t *wk, vg_loop_t *lp) {
        memset(wk, 0, sizeof(*wk));
        atomic_init(&wk->wk_stop, false);
        atomic_init(&wk->wk_answered, 0);
        if (!lp->lp_wake_fetcher)
                return false;
        if (!(wk->wk_q = rd_kafka_queue_get_consumer(lp->lp_rk))) {
                vg_debug(lp->lp_name, "no consumer queue (no group): "
                         "librdkafka's fetcher is not woken");
                return false;
        }
        wk->wk_rk = lp->lp_rk;
        pthread_mutex_init(&wk->wk_lock, NULL);
        pthread_cond_init(&wk->wk_cond, NULL);
        if (pthread_create(&wk->wk_thread, NULL, waker_main, wk)) {
                vg_warn(lp->lp_name, "no thread to wake librdkafka's "
                        "fetcher: catching up may pause each second");
                pthread_cond_destroy(&wk->wk_cond);
                pthread_mutex_destroy(&wk->wk_lock);
                rd_kafka_queue_destroy(wk->wk_q);
                return false;
        }
        return true;
}

static void waker_stop(waker_t *wk) {
        pthread_mutex_lock(&wk->wk_lock);
        atomic_store(&wk->wk_stop, true);
        pthread_cond_signal(&wk->wk_cond);
        pthread_mutex_unlock(&wk->wk_lock);
        pthread_join(wk->wk_thread, NULL);
        pthread_cond_destroy(&wk->wk_cond);
        pthread_mutex_destroy(&wk->wk_lock);
        rd_kafka_queue_destroy(wk->wk_q);
}

/* After a poll: a wake-up once the queue is down to half its longest since
 * the last one (librdkafka stops fetching at queued.min.messages records,
 * or at queued.max.messages.kbytes, whichever comes first: the peak is
 * where it stopped). */
static void waker_check(waker_t *wk, vg_loop_t *lp) {
        size_t len = rd_kafka_queue_length(wk->wk_q);
        if (len > wk->wk_peak) {
                wk->wk_peak = len;
                return;
        }
        if (wk->wk_peak < WAKE_MIN_PEAK || len > wk->wk_peak / 2)
                return;
        wk->wk_peak = len;
        lp->lp_wakes++;
        pthread_mutex_lock(&wk->wk_lock);
        wk->wk_want = true;
        pthread_cond_signal(&wk->wk_cond);
        pthread_mutex_unlock(&wk->wk_lock);
}

static int loop_run(vg_loop_t *lp, waker_t *wk, char *errstr,
                    size_t errstr_size);

int vg_loop_run(vg_loop_t *lp, char *errstr, size_t errstr_size) {
        waker_t wk;
        bool waking = waker_start(&wk, lp);
        int r = loop_run(lp, waking ? &wk : NULL, errstr, errstr_size);
        if (waking) {
                waker_stop(&wk);
                vg_debug(lp->lp_name, "librdkafka's fetcher: %lld "
                         "wake-ups asked (its queue down to half its peak), "
                         "%lld requests answered",
                         (long long)lp->lp_wakes,
                         (long long)atomic_load(&wk.wk_answered));
        }
        return r;
}

static int loop_run(vg_loop_t *lp, waker_t *wk, char *errstr,
                    size_t errstr_size) {
        int64_t last_msg = vg_now_ms(), last_tick = 0, last_health = 0;
        int64_t last_report = vg_now_ms(), reported = 0, commit_since = 0;
        bool busy = false;

        while (!*lp->lp_stop) {
                /* After a record, look without waiting: an empty local
                 * queue ends the batch at once (alerts go out while the
                 * stream is quiet, however few records the batch has);
                 * while it is full, batches grow to batch.max_events
                 * (vigil process: also while a topic of the partition
                 * has a backlog still to fetch). */
                /* ... and briefly while transactions are being committed
                 * (on threads of their own: the next drain takes what
                 * they did and sends the partition's next rows). */
                /* (1 ms for the first 20 ms of commits under way, then
                 * 10 ms: a commit that waits for a slow broker does not
                 * spin the loop) */
                int wait = 50;
                rd_kafka_message_t *m;
                int64_t now;
                if (busy)
                        wait = 0;
                else if (lp->lp_pub && vg_pub_committing(lp->lp_pub)) {
                        int64_t t = vg_now_ms();
                        if (!commit_since)
                                commit_since = t;
                        wait = t - commit_since < 20 ? 1 : 10;
                } else
                        commit_since = 0;
                m = rd_kafka_consumer_poll(lp->lp_rk, wait);
                now = vg_now_ms();
                busy = m != NULL;
                if (wk)
                        waker_check(wk, lp);
                if (m) {
                        int r = 0;
                        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                                if (lp->lp_eof)
                                        r = lp->lp_eof(lp->lp_opaque, m, now,
                                                       errstr, errstr_size);
                        } else if (m->err) {
                                vg_warn(lp->lp_name, "consumer: %s",
                                        rd_kafka_message_errstr(m));
                        } else {
                                r = lp->lp_record(lp->lp_opaque, m, now,
                                                  errstr, errstr_size);
                                lp->lp_records++;
                                last_msg = now;
                        }
                        if (r <= 0) /* > 0: the callback keeps it */
                                rd_kafka_message_destroy(m);
                        if (r < 0)
                                goto fatal;
                }
                if (lp->lp_commit(lp->lp_opaque, now, m == NULL, errstr,
                                  errstr_size))
                        goto fatal;
                if (lp->lp_tick && now - last_tick >= 100) {
                        if (lp->lp_tick(lp->lp_opaque, now, errstr,
                                        errstr_size))
                                goto fatal;
                        last_tick = now;
                }
                if (lp->lp_drain) {
                        if (lp->lp_drain(lp->lp_opaque, now, errstr,
                                         errstr_size))
                                goto fatal;
                } else if (lp->lp_pub &&
                           vg_pub_drain(lp->lp_pub, errstr, errstr_size))
                        goto fatal;
                if (lp->lp_health && now - last_health >= 1000) {
                        lp->lp_health(lp->lp_opaque, now);
                        last_health = now;
                }
                /* Progress while there is some, not every 30 s forever. */
                if (now - last_report >= 30000 &&
                    lp->lp_records != reported) {
                        vg_info(lp->lp_name, "%lld %s so far (%.0f/s)",
                                (long long)lp->lp_records, lp->lp_what,
                                (double)(lp->lp_records - reported) * 1000.0 /
                                        (double)(now - last_report));
                        reported = lp->lp_records;
                        last_report = now;
                }
                if (lp->lp_exit_idle > 0 &&
                    now - last_msg >= lp->lp_exit_idle * 1000LL &&
                    (!lp->lp_pub || (vg_pub_inflight(lp->lp_pub) == 0 &&
                                     !vg_pub_committing(lp->lp_pub))) &&
                    lp->lp_settled(lp->lp_opaque, now,
                                   lp->lp_exit_idle * 1000LL)) {
                        vg_info(lp->lp_name,
                                "idle for %d s and everything published: "
                                "exiting", lp->lp_exit_idle);
                        return 0;
                }
        }
        return 0;
fatal:
        lp->lp_fatal = 1;
        return -1;
}
