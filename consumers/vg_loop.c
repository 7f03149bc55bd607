/*
 * vg_loop.c - the consume loop shared by vigil process and vigil aggregate
 * (vg_loop.h).
 */
#include "vg_loop.h"
#include "vg_time.h"

int vg_loop_run(vg_loop_t *lp, char *errstr, size_t errstr_size) {
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
                if (m) {
                        int r = 0;
                        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                                if (lp->lp_eof)
                                        r = lp->lp_eof(lp->lp_opaque, m, now);
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
