/*
 * process_align.c - catching up, the input topics of a partition kept
 * within stream.lead_ms of each other in event time (vigil process in
 * Kafka mode; process_int.h).
 *
 * librdkafka fetches each topic-partition at its own pace. Catching up a
 * backlog of the five input topics, one of a partition can be months of
 * event time ahead of another (2 million simulated events: when half had
 * been applied, deaths, SIP and register were at June, admissions at
 * February). The results do not depend on it (the watermark is the
 * slowest topic's, and the rules do not depend on arrival order), but
 * the patients the topic ahead touches are touched again only when the
 * others get there: a bounded cache (state.cache_patients) has dropped
 * many of them by then and reads them back. So, as Kafka Streams picks
 * the record with the lowest timestamp among its task's partitions, a
 * topic-partition more than stream.lead_ms ahead of the slowest one of
 * its partition that still has records coming, and itself MIN_BACKLOG
 * records or more still to fetch, is paused until that one has caught up
 * with it, or stops holding it: at its end (a
 * partition-EOF), or without a record for STALL_MS while others come (a
 * failing fetch, an open transaction upstream), so that a pause never
 * waits on something that does not move. A topic's time is the newest
 * occurred_at of the valid events of it handled so far (as for the
 * watermark): one event far ahead (a day in the future is accepted) makes
 * it look ahead until the others get there, or reach their ends. Live, every topic is at its end between records
 * and nothing is paused.
 *
 * librdkafka (2.0.2, rd_kafka_toppar_pause_resume) fetches a resumed
 * partition from the offset after the last record polled, and drops what
 * it had fetched beyond that (a version barrier): nothing is skipped.
 * Its pause outlives an assignment, so what was paused is resumed before
 * a partition is released (process_align_release).
 */
#include "process_int.h"

#include <stdint.h>

/* A topic without a record for this long holds no other back, while the
 * loop polls others (a loop that waits for its workers, a long commit,
 * polls nothing: that is no stall); nor does one without a record for
 * STALL_MAX_MS, whatever the loop does. */
#define STALL_MS     1000
#define STALL_MAX_MS 10000
/* A topic with fewer records than this still to fetch is not paused: it
 * is read to its end soon anyway, and a pause drops what was fetched
 * (a small catch-up would wait for fetches again for nothing). */
#define MIN_BACKLOG 200

/* Adds or logs: the pause (or resume) of topic t of partition p. */
static void align_list(rd_kafka_topic_partition_list_t **l, proc_t *pr,
                       int t, int p) {
        if (!*l)
                *l = rd_kafka_topic_partition_list_new(8);
        rd_kafka_topic_partition_list_add(*l, pr->pr_inputs[t], p);
}

/* Pauses or resumes what l names; one that fails keeps the state it had
 * (librdkafka's: a resume of a partition not paused would drop what it
 * fetched, and a pause not undone outlives the assignment). */
static void align_apply(proc_t *pr, rd_kafka_topic_partition_list_t *l,
                        bool pause) {
        rd_kafka_resp_err_t err;
        if (!l)
                return;
        err = pause ? rd_kafka_pause_partitions(pr->pr_consumer, l)
                    : rd_kafka_resume_partitions(pr->pr_consumer, l);
        for (int i = 0; i < l->cnt; i++) {
                rd_kafka_topic_partition_t *tp = &l->elems[i];
                int t = process_input_type(pr, tp->topic);
                if (err || tp->err) {
                        vg_warn("process", "cannot %s %s [%d]: %s",
                                pause ? "pause" : "resume", tp->topic,
                                tp->partition,
                                rd_kafka_err2str(err ? err : tp->err));
                        if (t >= 0 && tp->partition >= 0 &&
                            tp->partition < MAX_PARTITIONS) {
                                pstate_t *ps = &pr->pr_parts[tp->partition];
                                ps->ps_paused[t] = !pause;
                                ps->ps_pauses -= pause; /* (not made) */
                        }
                } else
                        vg_debug("process", "%s %s [%d] (stream.lead_ms)",
                                 pause ? "paused" : "resumed", tp->topic,
                                 tp->partition);
        }
        rd_kafka_topic_partition_list_destroy(l);
}

void process_align(proc_t *pr, int64_t now) {
        rd_kafka_topic_partition_list_t *pause = NULL, *resume = NULL;
        if (pr->pr_lead_ms <= 0)
                return;
        for (int p = 0; p < pr->pr_npartitions; p++) {
                pstate_t *ps = &pr->pr_parts[p];
                int64_t seen[VG_EVENT_TYPES], slowest = INT64_MAX;
                if (!ps->ps_part)
                        continue;
                /* The slowest topic still being read: records polled
                 * since its last end, recently, and not paused. */
                for (int t = 0; t < VG_EVENT_TYPES; t++) {
                        seen[t] = atomic_load_explicit(&ps->ps_seen[t],
                                                       memory_order_relaxed);
                        int64_t quiet = now - ps->ps_polled_at[t];
                        if (!ps->ps_paused[t] && ps->ps_polled[t] > 0 &&
                            (quiet < STALL_MS ||
                             (quiet < STALL_MAX_MS &&
                              pr->pr_last_record - ps->ps_polled_at[t] <
                                      STALL_MS)) &&
                            seen[t] != INT64_MIN && seen[t] < slowest)
                                slowest = seen[t];
                }
                for (int t = 0; t < VG_EVENT_TYPES; t++) {
                        bool want;
                        if (slowest == INT64_MAX || seen[t] == INT64_MIN)
                                want = false;
                        else if (ps->ps_paused[t]) /* until caught up */
                                want = seen[t] > slowest;
                        else
                                want = ps->ps_polled[t] > 0 &&
                                       seen[t] - slowest > pr->pr_lead_ms &&
                                       process_to_fetch(pr, p, t) >=
                                               MIN_BACKLOG;
                        if (want == ps->ps_paused[t])
                                continue;
                        ps->ps_paused[t] = want;
                        if (want)
                                ps->ps_pauses++;
                        align_list(want ? &pause : &resume, pr, t, p);
                }
        }
        align_apply(pr, pause, true);
        align_apply(pr, resume, false);
}

void process_align_release(proc_t *pr, int p) {
        rd_kafka_topic_partition_list_t *resume = NULL;
        pstate_t *ps = &pr->pr_parts[p];
        for (int t = 0; t < VG_EVENT_TYPES; t++)
                if (ps->ps_paused[t]) {
                        ps->ps_paused[t] = false;
                        align_list(&resume, pr, t, p);
                }
        align_apply(pr, resume, false);
}

/* The input topics an assignment l has no partition p of, into buf
 * (", "-separated). */
static void missing_inputs(const proc_t *pr,
                           const rd_kafka_topic_partition_list_t *l, int p,
                           char *buf, size_t size) {
        size_t n = 0;
        buf[0] = '\0';
        for (int t = 0; t < VG_EVENT_TYPES; t++) {
                bool has = false;
                for (int j = 0; j < l->cnt && !has; j++)
                        has = l->elems[j].partition == p &&
                              !strcmp(l->elems[j].topic, pr->pr_inputs[t]);
                if (!has && n < size)
                        n += (size_t)snprintf(buf + n, size - n, "%s%s",
                                              n ? ", " : "", pr->pr_inputs[t]);
        }
}

void process_check_copartitioned(proc_t *pr,
                                 const rd_kafka_topic_partition_list_t *l) {
        for (int i = 0; i < l->cnt; i++) {
                char msg[512], miss[256];
                int n = 0;
                for (int j = 0; j < l->cnt; j++)
                        n += l->elems[j].partition == l->elems[i].partition;
                if (n == VG_EVENT_TYPES)
                        continue;
                /* A topic missing: deleted while we ran (the group drops
                 * a topic that is gone), or spread by another assignor. */
                missing_inputs(pr, l, l->elems[i].partition, miss,
                               sizeof(miss));
                snprintf(msg, sizeof(msg),
                         "assignment breaks co-partitioning: partition %d "
                         "of %d input topics only, not of %s (an input "
                         "topic deleted while running? else use the range "
                         "assignor)",
                         l->elems[i].partition, n, miss);
                process_fatal(pr, msg);
                return;
        }
}

/*
 * Records back after a silence (a broker pause, a network cut, or a
 * quiet source): the topics counted as caught up in the silence may
 * have a backlog that later fetches bring, so the loop holds the
 * watermarks (process.c, loop_commit) - until everything the broker
 * held when the first record came back has been polled, or for
 * stream.idle_ms when that cannot be told. Without the first, a quiet
 * source's next record waited stream.idle_ms for its alert (SPEC §5.1:
 * "in live operation that is at once"). The broker's ends are asked
 * (ListOffsets), not taken from librdkafka's cache: that goes stale
 * while nothing is fetched. A topic-partition that has not been polled
 * since it was assigned, or whose end cannot be had in time, is unknown:
 * the time-based hold.
 */
int64_t process_fetch_wait_ms(rd_kafka_t *rk) {
        char v[32];
        size_t vs = sizeof(v);
        if (rd_kafka_conf_get(rd_kafka_conf(rk), "fetch.wait.max.ms", v,
                              &vs) == RD_KAFKA_CONF_OK)
                return atoll(v);
        return 500; /* (librdkafka's default) */
}

void process_resume_mark(proc_t *pr) {
        rd_kafka_topic_partition_list_t *l =
                rd_kafka_topic_partition_list_new(VG_EVENT_TYPES *
                                                  pr->pr_npartitions);
        /* (each broker answers after the fetch it holds) */
        int64_t timeout_ms = process_fetch_wait_ms(pr->pr_consumer) + 1000;
        /* Only a quiet source: the statistics found the input partitions'
         * leaders answering through the silence. After a broker outage
         * the other sources' backlogs may reach the broker later than
         * this (each producer reconnects in its own time), and the
         * time-based hold waits for them as before. */
        bool quiet = pr->pr_stats_at > pr->pr_last_record &&
                     pr->pr_trouble_at <= pr->pr_last_record;
        for (int p = 0; p < pr->pr_npartitions; p++) {
                pstate_t *ps = &pr->pr_parts[p];
                for (int t = 0; t < VG_EVENT_TYPES; t++) {
                        ps->ps_target[t] = -1;
                        if (ps->ps_part && quiet) /* (the end: -1) */
                                rd_kafka_topic_partition_list_add(
                                        l, pr->pr_inputs[t], p)
                                        ->offset = RD_KAFKA_OFFSET_END;
                }
        }
        if (l->cnt &&
            !rd_kafka_offsets_for_times(pr->pr_consumer, l, (int)timeout_ms))
                for (int i = 0; i < l->cnt; i++) {
                        const rd_kafka_topic_partition_t *e = &l->elems[i];
                        int t = process_input_type(pr, e->topic);
                        if (!e->err && e->offset >= 0 && t >= 0)
                                pr->pr_parts[e->partition].ps_target[t] =
                                        e->offset;
                }
        rd_kafka_topic_partition_list_destroy(l);
}

bool process_resume_read(proc_t *pr, int64_t now) {
        if (now - pr->pr_resumed_at >= pr->pr_rc.rc_idle_ms)
                return true; /* (the time-based hold is over anyway) */
        for (int p = 0; p < pr->pr_npartitions; p++) {
                const pstate_t *ps = &pr->pr_parts[p];
                for (int t = 0; ps->ps_part && t < VG_EVENT_TYPES; t++)
                        if (ps->ps_target[t] < 0 ||
                            ps->ps_pos[t] < ps->ps_target[t])
                                return false;
        }
        vg_debug("process", "records back after a quiet silence: what the "
                 "broker held then read in %lld ms, watermarks no longer "
                 "held", (long long)(now - pr->pr_resumed_at));
        return true;
}
