/*
 * process.c - `vigil process` in Kafka mode: the per-patient rule engine
 * as a consumer group on the five input topics. The command line is in
 * process_help.c, file mode in vg_process_file.c; the topic checks at the
 * start, the changelog restore and the local files in process_restore.c.
 *
 * Kafka mode: the loop's thread consumes and puts each record on its
 * partition's queue; a worker that takes the partition (process_pool.c)
 * decodes and validates it (bad -> DLQ row), applies it (vg_part_event),
 * commits the partition's batch (state, offsets, outbox: one SQLite
 * transaction) when it is full, old or the input is drained (with no
 * backlog left to fetch for the partition), commits the offsets to Kafka
 * too (for lag tools) and drains the partition's outbox (with the
 * changelog: its own transactional producer) deleting rows delivered.
 *
 * Partitions are assigned with the range assignor, which gives one member
 * the same partition number of every subscribed topic (co-partitioning);
 * the state of partition number N lives in state.dir/partition-N.db.
 */
#include "vg_cli.h"
#include "vg_codec.h"
#include "vg_consumers.h"
#include "vg_config.h"
#include "vg_kafka.h"
#include "vg_loop.h"
#include "vg_lock.h"
#include "vg_metrics.h"
#include "vg_outbox.h"
#include "vg_partition.h"
#include "vg_process.h"
#include "process_int.h"

#include <stdatomic.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <limits.h>
#include <unistd.h>
#include <jansson.h>


/* A stop ends within this (process_stop.c; systemd allows 60 s). */
#define STOP_DEADLINE_MS 45000

static volatile sig_atomic_t stop_requested;

/* The first SIGINT or SIGTERM asks for a clean stop (the batch committed,
 * the outbox published, the group left); a second one, while that takes
 * long (a broker not answering), ends the process at once. Installed
 * before anything else is set up: a stop asked for in the first seconds
 * (topics checked, the changelog created) is a clean one too. */
static void on_signal(int sig) {
        static volatile sig_atomic_t signalled; /* (a fatal error's stop is
                                                 * no first signal) */
        if (signalled) {
                signal(sig, SIG_DFL);
                raise(sig);
                return;
        }
        signalled = 1;
        stop_requested = 1;
}

/*
 * Kafka mode
 */


void process_fatal(proc_t *pr, const char *msg) {
        vg_error("process", "%s", msg);
        pr->pr_fatal = 1;
        if (!process_on_worker()) /* a worker's: the loop stops */
                stop_requested = 1;
}

vg_codec_t *process_part_codec(const proc_t *pr, int w) {
        return pr->pr_nwork > 0 && pr->pr_wcodec[w % pr->pr_nwork]
                       ? pr->pr_wcodec[w % pr->pr_nwork]
                       : pr->pr_codec;
}

static bool part_busy(void *opaque) {
        return vg_part_in_batch(opaque);
}

/* Keys "_progress|P|K" that the producers' partitioner (murmur2) puts in
 * each partition of the parts topic, K the smallest that lands there: the
 * progress of input partition P goes to every one (SPEC §6.1; the
 * aggregator counts it once a copy came from each). */
static void progress_keys(proc_t *pr, vg_part_t *part, int p) {
        int n = pr->pr_nparts_out, found = 0;
        char **keys;
        if (n <= 0)
                return;
        keys = vg_calloc((size_t)n, sizeof(*keys));
        for (int k = 0; found < n && k < 1000000; k++) {
                char key[48];
                int len = snprintf(key, sizeof(key), "_progress|%d|%d", p, k);
                int q = vg_kafka_murmur2_partition(key, (size_t)len, n);
                if (q >= 0 && q < n && !keys[q]) {
                        keys[q] = vg_strdup(key);
                        found++;
                }
        }
        if (found == n)
                vg_part_set_progress_keys(part, (const char *const *)keys, n);
        else
                vg_warn("process", "no progress key found for every parts "
                        "partition: one copy only");
        for (int q = 0; q < n; q++)
                vg_free(keys[q]);
        vg_free(keys);
}

static vg_part_t *part_open(proc_t *pr, int p) {
        char path[4096], errstr[512];
        pstate_t *ps = &pr->pr_parts[p];
        if (ps->ps_part)
                return ps->ps_part;
        snprintf(path, sizeof(path), "%s/partition-%d.db", pr->pr_state_dir, p);
        process_standby_release(pr, p); /* a warm copy becomes active */
        ps->ps_part = vg_part_open(path, p, &pr->pr_rc,
                                   process_part_codec(pr, p), &pr->pr_topics,
                                   errstr, sizeof(errstr));
        if (!ps->ps_part) {
                process_fatal(pr, errstr);
                return NULL;
        }
        pr->pr_released_at[p] = 0;
        /* The partition's producer first: it fences the previous owner
         * and aborts what that one left open, so the restore reads a
         * changelog nobody else writes to. */
        if (pr->pr_cl_topic &&
            vg_pub_claim(pr->pr_pub, p, errstr, sizeof(errstr))) {
                process_fatal(pr, errstr);
                return NULL;
        }
        if (pr->pr_cl_topic &&
            !(ps->ps_part = process_restore_plan(pr, p, ps->ps_part,
                                                 path))) {
                process_fatal(pr, "a partition's state could not be "
                                  "restored (see above)");
                return NULL;
        }
        if (!pr->pr_cl_topic || !ps->ps_rs) /* (nothing to restore) */
                process_warn_rebuild(pr, p, ps->ps_part);
        vg_part_set_cache(ps->ps_part, pr->pr_cache_patients);
        vg_part_set_defer(ps->ps_part, PROCESS_DEFER_AFTER);
        progress_keys(pr, ps->ps_part, p);
        vg_part_set_parts_interval(ps->ps_part, pr->pr_parts_ms);
        ps->ps_batch = 0;
        memset(ps->ps_end, 0, sizeof(ps->ps_end)); /* (of an earlier
                                                    * assignment) */
        ps->ps_end_at = 0;
        memset(ps->ps_polled, 0, sizeof(ps->ps_polled));
        memset(ps->ps_pos, -1, sizeof(ps->ps_pos)); /* (-1 each) */
        for (int t = 0; t < VG_EVENT_TYPES; t++) {
                atomic_store(&ps->ps_seen[t], INT64_MIN);
                ps->ps_paused[t] = false; /* (resumed when released) */
        }
        ps->ps_pauses = 0;
        ps->ps_backlog_at = 0;
        ps->ps_urgent_ob = NULL; /* a new outbox: its first batch commits */
        ps->ps_commit_asked = false;
        memset(&pr->pr_last[p], 0, sizeof(pr->pr_last[p]));
        process_part_snap(pr, p, true);
        vg_pub_add(pr->pr_pub, p, vg_part_outbox(ps->ps_part), part_busy,
                   ps->ps_part);
        if (pr->pr_cl_topic)
                vg_pub_set_changelog(pr->pr_pub, p, pr->pr_cl_topic, p,
                                     vg_part_changelog_committed);
        {
                char wm[32] = "none";
                if (vg_part_watermark(ps->ps_part) != VG_WM_NONE)
                        vg_time_format(vg_part_watermark(ps->ps_part), wm);
                vg_info("process", "partition %d: state %s, watermark %s, "
                        "%lld records to publish", p, path, wm,
                        (long long)vg_part_outbox_depth(ps->ps_part));
        }
        return ps->ps_part;
}

static void batch_commit(proc_t *pr, int p) {
        process_part_commit(pr, p);
        process_part_committed(pr, p);
}

/*
 * The workers (process_pool.c): the records polled are held per partition
 * by the loop and put on the partition's queue in bunches; a worker takes
 * a partition with work and handles its records in offset order, so the
 * results depend neither on the number of workers nor on which one took
 * it. The loop goes on polling meanwhile. Before what must see every
 * record polled and have the partitions to itself (a rebalance, a stop),
 * the loop waits until the workers have handled everything.
 */

#define HOLD_MAX   500   /* records held at most before they are put */
#define HOLD_MS    2     /* ... or held this long, ms */
#define DRAIN_MS   1     /* the loop drains the publisher's slots */
#define BACKLOG    1000  /* records still to fetch in a topic: a backlog */
#define BACKLOG_MS 1000  /* ... while its records came this recently */

/* Puts what the loop holds for partition p on its queue, with flags. */
static void put_held(proc_t *pr, int p, unsigned flags) {
        pstate_t *ps = &pr->pr_parts[p];
        if (ps->ps_nheld)
                ps->ps_open = true;
        process_pool_put(pr->pr_pool, p, ps->ps_held, ps->ps_nheld,
                         atomic_load(&pr->pr_wm_hold), flags);
        pr->pr_nheld -= ps->ps_nheld;
        ps->ps_nheld = 0;
}

static void put_all_held(proc_t *pr) {
        for (int p = 0; p < pr->pr_npartitions && pr->pr_nheld > 0; p++)
                if (pr->pr_parts[p].ps_nheld)
                        put_held(pr, p, 0);
        pr->pr_nheld = 0;
}

/* Whether a topic of partition p has a backlog behind the records polled:
 * BACKLOG or more records to the high watermark its last fetch brought,
 * while its records still come (within BACKLOG_MS). A stale watermark only
 * makes it look smaller; records a read_committed consumer skips (an open
 * or aborted transaction upstream), or a topic whose fetches fail, stop
 * counting after BACKLOG_MS. Asked at most every 10 ms (librdkafka takes
 * its locks for each topic). */
int64_t process_to_fetch(proc_t *pr, int p, int t) {
        int64_t lo, hi;
        if (rd_kafka_get_watermark_offsets(pr->pr_consumer, pr->pr_inputs[t],
                                           p, &lo, &hi))
                return 0;
        return hi - pr->pr_parts[p].ps_polled[t];
}

static bool backlog(proc_t *pr, int p, int64_t now) {
        pstate_t *ps = &pr->pr_parts[p];
        if (now - ps->ps_backlog_at < 10)
                return ps->ps_backlog;
        ps->ps_backlog_at = now;
        ps->ps_backlog = false;
        for (int t = 0; t < VG_EVENT_TYPES && !ps->ps_backlog; t++)
                ps->ps_backlog = ps->ps_polled[t] > 0 &&
                                 now - ps->ps_polled_at[t] < BACKLOG_MS &&
                                 process_to_fetch(pr, p, t) >= BACKLOG;
        return ps->ps_backlog;
}

/* Hands over what is held and waits until the workers have handled
 * everything (before what must see every record polled and have the
 * partitions to itself: a rebalance, a commit of all, the end). */
static void flush_held(proc_t *pr) {
        put_all_held(pr);
        process_pool_quiesce(pr->pr_pool);
        if (pr->pr_fatal)
                stop_requested = 1;
}

/* Holds a record or a partition-EOF of an assigned partition for its
 * queue; false if it is not one to handle. */
static bool hold(proc_t *pr, rd_kafka_message_t *m, int64_t now) {
        const char *topic = m->rkt ? rd_kafka_topic_name(m->rkt) : NULL;
        int p = m->partition, t = topic ? process_input_type(pr, topic) : -1;
        pstate_t *ps;
        if (t < 0 || p < 0 || p >= MAX_PARTITIONS || !pr->pr_parts[p].ps_part)
                return false;
        ps = &pr->pr_parts[p];
        ps->ps_polled[t] = m->err ? 0 : m->offset + 1; /* EOF: at the end */
        ps->ps_pos[t] = m->err ? m->offset : m->offset + 1;
        ps->ps_polled_at[t] = now;
        if (!m->err) {
                const char *v[1] = {topic};
                int64_t ts = rd_kafka_message_timestamp(m, NULL);
                vg_metric_inc(pr->pm_consumed, v, 1);
                if (ts > 0)
                        vg_metric_observe(pr->pm_latency, NULL,
                                          (double)(now - ts) / 1000.0);
        }
        if (ps->ps_nheld == ps->ps_held_cap) {
                ps->ps_held_cap = ps->ps_held_cap ? ps->ps_held_cap * 2 : 64;
                ps->ps_held = vg_realloc(ps->ps_held,
                                         (size_t)ps->ps_held_cap *
                                                 sizeof(*ps->ps_held));
        }
        ps->ps_held[ps->ps_nheld++] = m;
        if (!pr->pr_nheld++)
                pr->pr_held_at = now;
        if (ps->ps_nheld >= HOLD_MAX)
                put_held(pr, p, 0);
        return true;
}

/* Commits every open batch and queues every pending part (before a stop
 * or a revocation: what the partition counted goes out now). */
static void commit_all(proc_t *pr) {
        char errstr[512];
        int64_t now;
        flush_held(pr);
        now = vg_now_ms();
        for (int p = 0; p < pr->pr_npartitions; p++) {
                vg_part_t *part = pr->pr_parts[p].ps_part;
                if (part && !pr->pr_fatal) {
                        vg_part_hold_watermark(part,
                                               atomic_load(&pr->pr_wm_hold));
                        vg_part_force_parts(part);
                        /* (a batch for the parts due, or the ends read
                         * to, process_work.c) */
                        if (!vg_part_in_batch(part) &&
                            (vg_part_parts_due(part, now) ||
                             pr->pr_parts[p].ps_end_at) &&
                            vg_part_begin(part, now, errstr,
                                          sizeof(errstr))) {
                                process_fatal(pr, errstr);
                                continue;
                        }
                }
                batch_commit(pr, p);
        }
}

static void close_partitions(proc_t *pr,
                             const rd_kafka_topic_partition_list_t *l) {
        char errstr[512];
        commit_all(pr);
        if (vg_pub_flush(pr->pr_pub, 30000, errstr, sizeof(errstr)))
                process_fatal(pr, errstr);
        for (int i = 0; i < l->cnt; i++) {
                int p = l->elems[i].partition;
                if (p >= 0 && p < MAX_PARTITIONS && pr->pr_parts[p].ps_part) {
                        const vg_part_stats_t *st =
                                vg_part_stats(pr->pr_parts[p].ps_part);
                        process_align_release(pr, p);
                        vg_info("process",
                                "partition %d: released (%lld events in "
                                "%lld batches since assigned, %lld of them "
                                "added to packed patients; %lld timer "
                                "re-derivations, %lld patients derived at "
                                "their batch's commit, %lld patient states "
                                "written, %lld of them before their "
                                "batch's commit, %lld looked up in state.dir; "
                                "%lld too late, "
                                "%lld pruned by retention, %lld to the DLQ; "
                                "%lld input pauses, stream.lead_ms)",
                                p, (long long)st->ps_events,
                                (long long)st->ps_commits,
                                (long long)st->ps_tail,
                                (long long)st->ps_timers,
                                (long long)st->ps_deferred,
                                (long long)st->ps_states,
                                (long long)st->ps_early,
                                (long long)st->ps_lookups,
                                (long long)st->ps_too_late,
                                (long long)st->ps_pruned,
                                (long long)st->ps_dlq,
                                (long long)pr->pr_parts[p].ps_pauses);
                        vg_pub_remove(pr->pr_pub, p, 30000);
                        process_metrics_forget(pr, p);
                        vg_part_close(pr->pr_parts[p].ps_part);
                        pr->pr_parts[p].ps_part = NULL;
                        pr->pr_released_at[p] = vg_now_ms();
                }
        }
}

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *l, void *opaque) {
        proc_t *pr = opaque;
        flush_held(pr); /* what was polled before it, handled before it */
        if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
                for (int i = 0; i < l->cnt; i++) {
                        rd_kafka_topic_partition_t *tp = &l->elems[i];
                        if (tp->partition >= MAX_PARTITIONS) {
                                process_fatal(pr, "partition number too large");
                                continue;
                        }
                        if (tp->partition >= pr->pr_npartitions) {
                                char msg[512];
                                snprintf(msg, sizeof(msg),
                                         "%s has partition %d, more than the "
                                         "%d the state was built with: "
                                         "partitions were added to an input "
                                         "topic, which moves patients "
                                         "between partitions; stopping (see "
                                         "the runbook: never add partitions "
                                         "to input topics)",
                                         tp->topic, tp->partition,
                                         pr->pr_npartitions);
                                process_fatal(pr, msg);
                                continue;
                        }
                        part_open(pr, tp->partition);
                }
                /* The restores planned, all at once; then the offsets. */
                if (!pr->pr_fatal && process_restore_run(pr))
                        process_fatal(pr, "partitions' state could not be "
                                          "restored (see above)");
                for (int i = 0; i < l->cnt; i++) {
                        rd_kafka_topic_partition_t *tp = &l->elems[i];
                        if (tp->partition < MAX_PARTITIONS &&
                            pr->pr_parts[tp->partition].ps_part)
                                tp->offset = process_resume_offset(
                                        pr, tp->partition, tp->topic);
                }
                /* Co-partitioning: every input topic of each number. */
                if (!pr->pr_fatal) /* (said why already) */
                        process_check_copartitioned(pr, l);
                vg_info("process", "assigned %d topic-partitions", l->cnt);
                process_standby_recheck(pr);
                process_rg_assigned(pr); /* the group's settings, read */
                pr->pr_assigned_at = vg_now_ms();
                pr->pr_nassigned = l->cnt;
                pr->pr_lag_known = false; /* until the next statistics */
                vg_metric_inc(pr->pm_rebalances, NULL, 1);
                rd_kafka_assign(rk, l);
        } else {
                vg_info("process", "revoked %d topic-partitions", l->cnt);
                process_standby_recheck(pr);
                close_partitions(pr, l);
                pr->pr_assigned_at = 0;
                pr->pr_nassigned = 0;
                pr->pr_lag_known = false;
                vg_metric_inc(pr->pm_rebalances, NULL, 1);
                rd_kafka_assign(rk, NULL);
        }
}

/* A partition-EOF: the consumer is at the end of that topic partition
 * (handled by the partition's worker after the records before it). */
static int handle_eof(void *opaque, rd_kafka_message_t *m, int64_t now,
                      char *errstr, size_t errstr_size) {
        (void)errstr;
        (void)errstr_size;
        return hold(opaque, m, now) ? 1 : 0;
}

/* Time-driven work every 100 ms: each partition's on its worker. */
static void tick(proc_t *pr, int64_t now) {
        process_cleanup(pr, now);
        put_all_held(pr);
        for (int p = 0; p < pr->pr_npartitions; p++)
                if (pr->pr_parts[p].ps_part)
                        process_pool_put(pr->pr_pool, p, NULL, 0,
                                         atomic_load(&pr->pr_wm_hold),
                                         PP_TICK);
}

/*
 * The consume loop's callbacks (vg_loop.h).
 */

static int loop_record(void *opaque, rd_kafka_message_t *m, int64_t now,
                       char *errstr, size_t errstr_size) {
        proc_t *pr = opaque;
        /* Records again after a silence longer than stream.idle_ms (a
         * broker pause, a network cut): every topic counted as caught up
         * in the silence may have a backlog that later fetches bring. */
        if (now - pr->pr_last_record > pr->pr_rc.rc_idle_ms) {
                pr->pr_resumed_at = now;
                /* held from this record on (the worker that takes it
                 * sees it), not from the next commit */
                atomic_store(&pr->pr_wm_hold, true);
                process_resume_mark(pr); /* (process_align.c) */
        }
        pr->pr_last_record = now;
        if (pr->pr_fatal) {
                vg_seterr(errstr, errstr_size, VG_ERR_INTERNAL,
                          "stopped after a fatal error (logged above)");
                return -1;
        }
        return hold(pr, m, now) ? 1 : 0; /* 1: kept for its queue */
}

static int loop_commit(void *opaque, int64_t now, bool drained, char *errstr,
                       size_t errstr_size) {
        proc_t *pr = opaque;
        /* The watermark moves only when what was fetched has been read:
         * the local queue empty, or stream.idle_ms of records without a
         * pause. After a broker pause the topics that were caught up come
         * back with a backlog in the same fetch; until their records are
         * read they must not count as caught up, or deadlines fall due
         * before the records that meet them (SPEC §5: no alerts a
         * time-ordered replay would not raise). */
        if (drained)
                pr->pr_last_empty = now;
        /* ... and after records come back from a silence, until what
         * the broker held then is polled, or for stream.idle_ms. */
        if (pr->pr_resumed_at && process_resume_read(pr, now)) {
                put_all_held(pr); /* (held, as they came) */
                pr->pr_resumed_at = 0;
        }
        atomic_store(&pr->pr_wm_hold,
                     (!drained &&
                      now - pr->pr_last_empty < pr->pr_rc.rc_idle_ms) ||
                             now - pr->pr_resumed_at < pr->pr_rc.rc_idle_ms);
        if (drained || pr->pr_nheld >= HOLD_MAX ||
            (pr->pr_nheld && now - pr->pr_held_at >= HOLD_MS))
                put_all_held(pr);
        /* A batch is due when the local queue is empty (batch.max_events
         * and batch.max_ms commit it on its worker): every partition that
         * had records since its last commit - unless a topic of it has a
         * backlog, when the queue is empty only until the next fetch
         * comes. Catching up, a batch then holds up to batch.max_events or
         * batch.max_ms of events, and each patient, counter and timer it
         * changes is written once for all of them (each batch rewrote
         * most pages of the patients table). */
        if (drained)
                for (int p = 0; p < pr->pr_npartitions; p++) {
                        pstate_t *ps = &pr->pr_parts[p];
                        if (ps->ps_part && ps->ps_open &&
                            !backlog(pr, p, now)) {
                                process_pool_put(pr->pr_pool, p, NULL, 0,
                                                 atomic_load(&pr->pr_wm_hold),
                                                 PP_COMMIT);
                                ps->ps_open = false;
                        }
                }
        /* The workers keep up with the polls: at most process.queue_max
         * wait for them (librdkafka's fetch queue holds the rest). */
        process_pool_wait_below(pr->pr_pool, pr->pr_queue_max,
                                &pr->pr_fatal);
        if (pr->pr_fatal)
                vg_seterr(errstr, errstr_size, VG_ERR_INTERNAL,
                          "stopped after a fatal error (logged above)");
        return pr->pr_fatal ? -1 : 0;
}

/* Time passes without records too: a topic becomes caught up after
 * stream.idle_ms at its end, and the watermark it held back moves
 * (deadlines fall due). */
static int loop_tick(void *opaque, int64_t now, char *errstr,
                     size_t errstr_size) {
        proc_t *pr = opaque;
        process_standby_tick(pr, now);
        process_align(pr, now);
        tick(pr, now);
        if (pr->pr_fatal)
                vg_seterr(errstr, errstr_size, VG_ERR_INTERNAL,
                          "stopped after a fatal error (logged above)");
        return pr->pr_fatal ? -1 : 0;
}

static void loop_health(void *opaque, int64_t now) {
        proc_t *pr = opaque;
        (void)now;
        process_health_update(pr);
        /* the outboxes counted again for the next update */
        for (int p = 0; p < pr->pr_npartitions; p++)
                if (pr->pr_parts[p].ps_part)
                        process_pool_put(pr->pr_pool, p, NULL, 0, false,
                                         PP_SNAP);
}

/* Assigned for idle_ms, every topic caught up, its watermark committed
 * (what is due has fallen due) and every outbox empty. */
static bool loop_settled(void *opaque, int64_t now, int64_t idle_ms) {
        proc_t *pr = opaque;
        if (pr->pr_nheld || !pr->pr_assigned_at ||
            now - pr->pr_assigned_at < idle_ms)
                return false;
        for (int p = 0; p < pr->pr_npartitions; p++) {
                vg_part_t *part = pr->pr_parts[p].ps_part;
                bool busy;
                if (!part)
                        continue;
                process_pool_claim(pr->pr_pool, p, true);
                busy = vg_part_in_batch(part) ||
                       pr->pr_parts[p].ps_end_at ||
                       vg_part_outbox_depth(part) > 0 ||
                       !vg_part_caught_up(part, now);
                process_pool_release(pr->pr_pool, p);
                if (busy)
                        return false;
        }
        return true;
}

/* The publisher's slots (vg_loop.h's lp_drain), every DRAIN_MS: those
 * of partitions no worker has at the moment (a worker drains its
 * partition's slot itself after its turn). */
static int loop_drain(void *opaque, int64_t now, char *errstr,
                      size_t errstr_size) {
        proc_t *pr = opaque;
        if (vg_pub_poll(pr->pr_pub, errstr, errstr_size))
                return -1;
        if (now - pr->pr_drained_at < DRAIN_MS)
                return 0;
        pr->pr_drained_at = now;
        for (int p = 0; p < pr->pr_npartitions; p++) {
                int r;
                if (!pr->pr_parts[p].ps_part ||
                    !process_pool_claim(pr->pr_pool, p, false))
                        continue;
                r = vg_pub_drain_slot(pr->pr_pub, p, errstr, errstr_size);
                process_pool_release(pr->pr_pool, p);
                if (r)
                        return -1;
        }
        return 0;
}

static const char *const consumer_defaults[][2] = {
        {"session.timeout.ms", "10000"},
        {"queued.min.messages", "30000"},
        {"topic.metadata.refresh.interval.ms", "10000"},
};

int vg_process_kafka(const vg_conf_t *conf, int exit_idle) {
        proc_t *pr = vg_calloc(1, sizeof(*pr));
        process_stop_t *stop = NULL;
        rd_kafka_conf_t *cconf = NULL, *pconf = NULL;
        rd_kafka_topic_partition_list_t *sub;
        char errstr[512];
        int rc = 1;

        signal(SIGINT, on_signal);
        signal(SIGTERM, on_signal);
        pr->pr_started_at = vg_now_ms();
        pr->pr_lock = -1;
        pthread_mutex_init(&pr->pr_snap_lock, NULL);
        pr->pr_conf = conf;
        vg_process_rules_conf(conf, &pr->pr_rc);
        pr->pr_cache_patients = (size_t)vg_conf_int(conf, "state.cache_patients");
        pr->pr_parts_ms = vg_conf_int(conf, "parts.interval_ms");
        pr->pr_lead_ms = vg_conf_int(conf, "stream.lead_ms");
        pr->pr_queue_max = vg_conf_int(conf, "process.queue_max");
        pr->pr_topics.pt_alerts = vg_conf_str(conf, "topic.alerts");
        pr->pr_topics.pt_parts = vg_conf_str(conf, "topic.indicator_parts");
        pr->pr_topics.pt_dlq = vg_conf_str(conf, "topic.dlq");
        pr->pr_inputs[VG_REC_ADMISSION] = vg_conf_str(conf, "topic.admissions");
        pr->pr_inputs[VG_REC_DISCHARGE] = vg_conf_str(conf, "topic.discharges");
        pr->pr_inputs[VG_REC_DEATH] = vg_conf_str(conf, "topic.deaths");
        pr->pr_inputs[VG_REC_SIP] = vg_conf_str(conf, "topic.sip");
        pr->pr_inputs[VG_REC_REGISTER] = vg_conf_str(conf, "topic.register");
        pr->pr_state_dir = vg_conf_str(conf, "state.dir");
        pr->pr_max_events = (int)vg_conf_int(conf, "batch.max_events");
        pr->pr_max_ms = vg_conf_int(conf, "batch.max_ms");
        pr->pr_linger_ms = vg_conf_int(conf, "batch.linger_ms");
        pr->pr_max_bytes = (size_t)vg_conf_int(conf, "input.max_bytes");
        pr->pr_cleanup_ms = vg_conf_int(conf, "state.cleanup_delay_ms");
        pr->pr_standbys = (int)vg_conf_int(conf, "num.standby.replicas");
        {
                char t[512];
                vg_process_changelog_topic(conf, t, sizeof(t));
                if (*t)
                        pr->pr_cl_topic = vg_strdup(t);
        }

        process_metrics_init(pr);
        atomic_init(&pr->pr_health, HEALTH_UNASSIGNED);
        if (vg_conf_str(conf, "http.listen") &&
            !(pr->pr_http = vg_http_start(pr->pr_reg,
                                          vg_conf_str(conf, "http.listen"),
                                          process_ready_cb, pr, errstr,
                                          sizeof(errstr))))
                goto err;
        if (pr->pr_http)
                vg_info("process", "serving /metrics, /healthz, /readyz on "
                        "%s (port %d)", vg_conf_str(conf, "http.listen"),
                        vg_http_port(pr->pr_http));
        /* One processor per state.dir (a second one would fight over the
         * same files); the aggregator's lock is another file. */
        if ((pr->pr_lock = vg_lock_dir(pr->pr_state_dir, "process.lock",
                                       errstr, sizeof(errstr))) < 0)
                goto err;
        umask(077); /* state files 0600 (SPEC §8) */
        if (!(pr->pr_codec = vg_codec_new(errstr, sizeof(errstr))))
                goto err;

        /* Consumer */
        if (!(cconf = vg_kafka_conf(conf, errstr, sizeof(errstr))) ||
            vg_kafka_set(cconf, "group.id", vg_conf_str(conf, "group.id"),
                         errstr, sizeof(errstr)) ||
            vg_conf_kafka(conf, cconf, errstr, sizeof(errstr)) ||
            vg_kafka_set(cconf, "enable.auto.commit", "false", errstr,
                         sizeof(errstr)) ||
            vg_kafka_set(cconf, "enable.auto.offset.store", "false", errstr,
                         sizeof(errstr)) ||
            vg_kafka_set(cconf, "auto.offset.reset", "earliest", errstr,
                         sizeof(errstr)) ||
            /* the end of a topic partition is an event: the watermark
             * needs it (SPEC §5.5), for empty partitions too */
            vg_kafka_set(cconf, "enable.partition.eof", "true", errstr,
                         sizeof(errstr)) ||
            vg_kafka_set(cconf, "partition.assignment.strategy", "range",
                         errstr, sizeof(errstr)))
                goto err;
        /* Defaults a kafka.* key overrides (docs/ARCHITECTURE.md):
         * session.timeout.ms, so a crashed instance's partitions move
         * sooner (librdkafka 45 s); queued.min.messages, a shorter fetch
         * queue that the loop refills by waking the fetcher (vg_loop.h:
         * as busy workers, 20-30 MiB less peak RSS); and
         * topic.metadata.refresh.interval.ms, so partitions added to an
         * input topic while it runs are seen within 10 s (librdkafka: 5
         * minutes, while events land away from their history). */
        for (size_t i = 0; i < VG_ARRAY_SIZE(consumer_defaults); i++)
                if (vg_kafka_default(conf, cconf, consumer_defaults[i][0],
                                     consumer_defaults[i][1], errstr,
                                     sizeof(errstr)))
                        goto err;
        rd_kafka_conf_set_opaque(cconf, pr);
        rd_kafka_conf_set_rebalance_cb(cconf, rebalance_cb);
        rd_kafka_conf_set_stats_cb(cconf, process_stats_cb);
        {
                char v[32];
                size_t vs = sizeof(v);
                if (rd_kafka_conf_get(cconf, "statistics.interval.ms", v,
                                      &vs) == RD_KAFKA_CONF_OK &&
                    !strcmp(v, "0") &&
                    vg_kafka_set(cconf, "statistics.interval.ms", "5000",
                                 errstr, sizeof(errstr)))
                        goto err;
        }
        if (!(pr->pr_consumer = rd_kafka_new(RD_KAFKA_CONSUMER, cconf, errstr,
                                             sizeof(errstr))))
                goto err;
        cconf = NULL;
        rd_kafka_poll_set_consumer(pr->pr_consumer);

        /* Producer: transactional with a changelog (a batch's changelog
         * records and outputs become visible together) */
        if (!(pconf = vg_kafka_producer_conf(conf, errstr, sizeof(errstr))) ||
            vg_kafka_compress_default(conf, pconf, errstr, sizeof(errstr)))
                goto err; /* pconf is destroyed there */
        if (pr->pr_cl_topic) {
                char id[1024], v[32];
                size_t vs = sizeof(v);
                /* 120 s unless set: a transaction must hold a whole batch,
                 * and the first one of a large partition (its state logged
                 * whole, or every part re-sent after a restore) is big. A
                 * dead owner's open transaction does not wait this long:
                 * the next owner's claim aborts it at once. */
                if (vg_kafka_default(conf, pconf, "transaction.timeout.ms",
                                     "120000", errstr, sizeof(errstr)))
                        goto err; /* pconf is destroyed there */
                /* 20,000 records in each partition's producer unless set
                 * (librdkafka's default is 100,000): a transaction takes
                 * all that its outbox holds, and six producers' queues of
                 * a catching-up run held about 90 MiB more at 1 million
                 * patients (1,061 against 946 MiB peak RSS, the rate the
                 * same); a full queue makes the drain wait for
                 * deliveries. */
                if (vg_kafka_default(conf, pconf,
                                     "queue.buffering.max.messages", "20000",
                                     errstr, sizeof(errstr)))
                        goto err;
                if (rd_kafka_conf_get(pconf, "transaction.timeout.ms", v,
                                      &vs) == RD_KAFKA_CONF_OK)
                        pr->pr_txn_timeout_ms = atoll(v);
                /* a producer per partition: "<prefix>.<partition>" */
                snprintf(id, sizeof(id), "vigil-process.%s",
                         vg_conf_str(conf, "group.id"));
                vg_info("process", "changelog %s, transactional.id %s.<P> "
                        "for partition P", pr->pr_cl_topic, id);
                pr->pr_pub = vg_pub_new_txn(pconf, id, errstr,
                                            sizeof(errstr));
        } else
                pr->pr_pub = vg_pub_new(pconf, errstr, sizeof(errstr));
        pconf = NULL; /* owned by the publisher, even on failure */
        if (!pr->pr_pub)
                goto err;
        if (pr->pr_cl_topic) {
                const char *outs[4] = {pr->pr_topics.pt_alerts,
                                       pr->pr_topics.pt_parts,
                                       pr->pr_topics.pt_dlq, pr->pr_cl_topic};
                vg_pub_set_topics(pr->pr_pub, outs, 4);
                vg_pub_set_linger(pr->pr_pub,
                                  vg_conf_int(conf, "changelog.linger_ms"));
        }
        process_note_local_files(pr);

        if (process_check_topics(pr, errstr, sizeof(errstr)))
                goto err;
        {
                /* The partitions' workers: process.threads, 0 = one per
                 * core; at most one per partition. Each has its codec;
                 * the loop's thread keeps pr_codec (standby copies). */
                long n = (long)vg_conf_int(conf, "process.threads");
                if (n <= 0 && (n = sysconf(_SC_NPROCESSORS_ONLN)) < 1)
                        n = 1;
                if (n > pr->pr_npartitions)
                        n = pr->pr_npartitions > 0 ? pr->pr_npartitions : 1;
                pr->pr_wcodec = vg_calloc((size_t)n, sizeof(*pr->pr_wcodec));
                pr->pr_nwork = (int)n;
                for (int w = 0; w < n; w++)
                        if (!(pr->pr_wcodec[w] = vg_codec_new(
                                      errstr, sizeof(errstr))))
                                goto err;
                if (!(pr->pr_pool = process_pool_new((int)n, process_part_work, pr,
                                                     errstr,
                                                     sizeof(errstr))))
                        goto err;
                if (n > 1)
                        vg_info("process", "%ld partition workers "
                                "(process.threads)", n);
        }
        sub = rd_kafka_topic_partition_list_new(VG_EVENT_TYPES);
        for (int t = 0; t < VG_EVENT_TYPES; t++)
                rd_kafka_topic_partition_list_add(sub, pr->pr_inputs[t],
                                                  RD_KAFKA_PARTITION_UA);
        if (rd_kafka_subscribe(pr->pr_consumer, sub)) {
                rd_kafka_topic_partition_list_destroy(sub);
                vg_seterr(errstr, sizeof(errstr), VG_ERR_KAFKA,
                          "cannot subscribe");
                goto err;
        }
        rd_kafka_topic_partition_list_destroy(sub);
        vg_info("process",
                "consuming %s, %s, %s, %s, %s (%d partitions) as group %s; "
                "state in %s",
                pr->pr_inputs[0], pr->pr_inputs[1], pr->pr_inputs[2],
                pr->pr_inputs[3], pr->pr_inputs[4], pr->pr_npartitions,
                vg_conf_str(conf, "group.id"), pr->pr_state_dir);

        {
                vg_loop_t lp = {0};
                lp.lp_rk = pr->pr_consumer;
                lp.lp_pub = pr->pr_pub;
                lp.lp_name = "process";
                lp.lp_what = "records";
                lp.lp_exit_idle = exit_idle;
                lp.lp_stop = &stop_requested;
                lp.lp_opaque = pr;
                lp.lp_record = loop_record;
                lp.lp_eof = handle_eof;
                lp.lp_commit = loop_commit;
                lp.lp_tick = loop_tick;
                lp.lp_health = loop_health;
                lp.lp_settled = loop_settled;
                lp.lp_drain = loop_drain;
                lp.lp_wake_fetcher = true;
                if (vg_loop_run(&lp, errstr, sizeof(errstr)) &&
                    !pr->pr_fatal)
                        process_fatal(pr, errstr);
                /* --exit-idle ends a backfill: say if part of it was
                 * another member's (a killed static member keeps its
                 * partitions until its session times out) */
                else if (exit_idle && !stop_requested && !pr->pr_fatal &&
                         pr->pr_nassigned <
                                 VG_EVENT_TYPES * pr->pr_npartitions)
                        vg_warn("process",
                                "exiting idle with %d of the %d input "
                                "topic-partitions assigned: the group's "
                                "other members hold the rest (or a member "
                                "that stopped without leaving the group, "
                                "until its session.timeout.ms), and their "
                                "records are processed where they are "
                                "assigned",
                                pr->pr_nassigned,
                                VG_EVENT_TYPES * pr->pr_npartitions);
        }
        vg_info("process", "stopping: committing and publishing");
        stop = process_stop_deadline(STOP_DEADLINE_MS);
        commit_all(pr);
        if (vg_pub_flush(pr->pr_pub, 30000, errstr, sizeof(errstr)))
                process_fatal(pr, errstr);
        rd_kafka_consumer_close(pr->pr_consumer); /* revokes: closes parts */
        rc = pr->pr_fatal ? 1 : 0;
        vg_info("process", "stopped after %lld events", (long long)pr->pr_events);
        goto out;
err:
        vg_error("process", "%s", errstr);
out:
        /* the workers first: they hold records and use the partitions */
        process_pool_destroy(pr->pr_pool);
        if (cconf)
                rd_kafka_conf_destroy(cconf);
        if (pconf)
                rd_kafka_conf_destroy(pconf);
        process_standby_stop(pr);
        process_rg_stop(pr); /* (it reads with the consumer) */
        for (int p = 0; p < MAX_PARTITIONS; p++) {
                pstate_t *ps = &pr->pr_parts[p];
                for (int i = 0; i < ps->ps_nheld; i++)
                        rd_kafka_message_destroy(ps->ps_held[i]);
                vg_free(ps->ps_held);
        }
        /* (with an input topic deleted while assigned, librdkafka 2.0.2's
         * destroy never returns: the stop's deadline ends the process) */
        if (pr->pr_consumer)
                rd_kafka_destroy(pr->pr_consumer);
        vg_pub_destroy(pr->pr_pub, 5000);
        vg_http_stop(pr->pr_http);
        vg_metrics_destroy(pr->pr_reg);
        for (int p = 0; p < MAX_PARTITIONS; p++)
                vg_part_close(pr->pr_parts[p].ps_part);
        vg_unlock_dir(pr->pr_lock);
        for (int w = 0; w < pr->pr_nwork; w++)
                vg_codec_destroy(pr->pr_wcodec[w]);
        vg_free(pr->pr_wcodec);
        vg_codec_destroy(pr->pr_codec);
        vg_free(pr->pr_cl_topic);
        pthread_mutex_destroy(&pr->pr_snap_lock);
        vg_free(pr);
        process_stop_done(stop);
        return rc;
}
