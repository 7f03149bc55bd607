/*
 * process_work.c - a worker's turn with a partition of vigil process in
 * Kafka mode (process_pool.c takes the partitions, process.c fills their
 * queues): its records and partition-EOFs in order, each as of the
 * watermark hold it was put with, then the requests (commit, tick,
 * snapshot), the partition's publisher slot, its offsets to Kafka, and
 * the snapshot the loop's metrics read.
 */
#include "vg_consumers.h"
#include "vg_outbox.h"
#include "vg_partition.h"
#include "process_int.h"

#include <inttypes.h>
#include <stdatomic.h>
#include <string.h>

/* On a worker's thread: a fatal error there stops the loop at its next
 * turn (process_fatal), not from here. */
static _Thread_local bool on_worker;

bool process_on_worker(void) {
        return on_worker;
}

/* Copies what the loop's metrics read of partition p (on the thread that
 * has it): its watermark; with full, its offsets and outbox count too
 * (queries: once a second, PP_SNAP). */
void process_part_snap(proc_t *pr, int p, bool full) {
        vg_part_t *part = pr->pr_parts[p].ps_part;
        psnap_t *sn = &pr->pr_snap[p];
        int64_t off[VG_EVENT_TYPES], d = 0, c = 0;
        if (full) {
                d = vg_part_outbox_depth(part);
                c = (int64_t)vg_part_patients_in_memory(part);
                for (int t = 0; t < VG_EVENT_TYPES; t++)
                        off[t] = vg_part_offset(part, pr->pr_inputs[t]);
        }
        pthread_mutex_lock(&pr->pr_snap_lock);
        sn->sn_wm = *vg_part_wm(part);
        if (full) {
                memcpy(sn->sn_off, off, sizeof(off));
                sn->sn_depth = d;
                sn->sn_cached = c;
        }
        pthread_mutex_unlock(&pr->pr_snap_lock);
}

void process_snap_get(proc_t *pr, int p, psnap_t *sn) {
        pthread_mutex_lock(&pr->pr_snap_lock);
        *sn = pr->pr_snap[p];
        pthread_mutex_unlock(&pr->pr_snap_lock);
}

/* Commits Kafka offsets (async) equal to the stored ones of partition p,
 * with this member's rules.* settings as their metadata. */
static void commit_kafka_offsets(proc_t *pr, int p) {
        rd_kafka_topic_partition_list_t *l =
                rd_kafka_topic_partition_list_new(VG_EVENT_TYPES);
        for (int t = 0; t < VG_EVENT_TYPES; t++) {
                int64_t off = vg_part_offset(pr->pr_parts[p].ps_part,
                                             pr->pr_inputs[t]);
                if (off >= 0) {
                        rd_kafka_topic_partition_t *tp =
                                rd_kafka_topic_partition_list_add(
                                        l, pr->pr_inputs[t], p);
                        tp->offset = off;
                        /* (the settings: process_rules_guard.c) */
                        process_rg_metadata(pr, tp);
                }
        }
        if (l->cnt)
                rd_kafka_commit(pr->pr_consumer, l, 1);
        rd_kafka_topic_partition_list_destroy(l);
}

/* Stores the ends kept that lie past a topic's offset, in the open batch
 * (process_part_commit, before it commits). */
static vg_err_t part_ends(proc_t *pr, pstate_t *ps, char *errstr,
                          size_t errstr_size) {
        for (int t = 0; t < VG_EVENT_TYPES; t++) {
                int64_t next;
                if (!ps->ps_end[t])
                        continue;
                next = vg_part_offset(ps->ps_part, pr->pr_inputs[t]);
                if (ps->ps_end[t] > (next > 0 ? next : 0) &&
                    vg_part_set_offset(ps->ps_part, pr->pr_inputs[t],
                                       ps->ps_end[t], errstr, errstr_size))
                        return VG_ERR_STORE;
                ps->ps_end[t] = 0;
        }
        ps->ps_end_at = 0;
        return VG_OK;
}

/* The part of a batch's commit that any worker may run (the SQLite
 * transaction); the loop does the rest (part_committed). */
void process_part_commit(proc_t *pr, int p) {
        pstate_t *ps = &pr->pr_parts[p];
        const vg_outbox_t *ob;
        uint64_t adds;
        char errstr[512];
        if (!ps->ps_part || !vg_part_in_batch(ps->ps_part))
                return;
        if (pr->pr_fatal) {
                /* A batch that saw an error may be half applied: throw it
                 * away; its records are consumed again after a restart. */
                vg_part_rollback(ps->ps_part);
                ps->ps_batch = 0;
                return;
        }
        if ((ps->ps_end_at &&
             part_ends(pr, ps, errstr, sizeof(errstr))) ||
            vg_part_commit(ps->ps_part, errstr, sizeof(errstr))) {
                process_fatal(pr, errstr);
                return;
        }
        ps->ps_batch = 0;
        ps->ps_committed = true;
        ps->ps_commit_asked = false;
        /* Backpressure: a partition whose outbox the broker does not
         * take as fast as it fills (a slow broker, failing transactions)
         * waits for it here, so that it, and the transaction that takes
         * all of it (vg_outbox_txn.c), stays bounded. The depth (a
         * query) is asked only when it may be over the bound: it is at
         * most what it was when last asked plus the rows added since. */
        ob = vg_part_outbox(ps->ps_part);
        ps->ps_urgent_ob = ob;
        ps->ps_urgent = vg_outbox_urgent(ob);
        adds = vg_outbox_adds(ob);
        if (ps->ps_ob != ob || ps->ps_ob_depth + (int64_t)(adds -
                                                   ps->ps_ob_adds) >
                                       PROCESS_OUTBOX_WAIT) {
                ps->ps_ob = ob;
                ps->ps_ob_adds = adds;
                ps->ps_ob_depth = vg_part_outbox_depth(ps->ps_part);
        }
        if (ps->ps_ob_depth > PROCESS_OUTBOX_WAIT) {
                int64_t t0 = vg_now_ms();
                if (vg_pub_drain_slot_wait(pr->pr_pub, p, errstr,
                                           sizeof(errstr))) {
                        process_fatal(pr, errstr);
                        return;
                }
                vg_info("process", "partition %d: waited %" PRId64 " ms for "
                        "its outbox to be published (it held more than %d "
                        "records)", p, vg_now_ms() - t0, PROCESS_OUTBOX_WAIT);
                ps->ps_ob_depth = vg_part_outbox_depth(ps->ps_part);
        }
}

/* After commits of partition p: its metrics, its offsets to Kafka. */
void process_part_committed(proc_t *pr, int p) {
        if (!pr->pr_parts[p].ps_committed)
                return;
        pr->pr_parts[p].ps_committed = false;
        if (!atomic_exchange(&pr->pr_first_batch, true)) {
                /* for operators and tests/bench/run: how long a start
                 * (opening the state, restoring, the group's assignment)
                 * took before work was done */
                vg_info("process", "first batch committed %" PRId64
                        " ms after start (partition %d)",
                        vg_now_ms() - pr->pr_started_at, p);
        }
        process_metrics_part(pr, p);
        commit_kafka_offsets(pr, p);
}

/* Whether a commit the loop asked for (its queue empty) is made now:
 * with batch.linger_ms, a batch that would raise no alert waits until it
 * is that old (live, a batch of the records of about that long instead
 * of a few: each commit writes every page its patients, counters and
 * timers are on). One with an alert queued by its events, or whose
 * commit would fire a timer (what raises most alerts), commits at once. */
static bool commit_now(const proc_t *pr, const pstate_t *ps, int64_t now) {
        const vg_outbox_t *ob = vg_part_outbox(ps->ps_part);
        if (pr->pr_linger_ms <= 0) /* as without it: no query */
                return true;
        /* (the timers asked first: it moves the batch's time to now,
         * which the commit's watermark is then computed at) */
        return ob != ps->ps_urgent_ob ||
               vg_outbox_urgent(ob) != ps->ps_urgent ||
               vg_part_would_fire(ps->ps_part, now) ||
               now - ps->ps_batch_start >= pr->pr_linger_ms;
}

/* Time-driven work of a partition on its worker: a batch batch.max_ms
 * old commits (after any turn), and so does one whose commit the loop
 * asked for, at once or once it is due (commit_now); with nothing open,
 * on a tick, an empty batch commits if the watermark would move or parts
 * are due. */
static void part_tick(proc_t *pr, int p, int64_t now, bool tick,
                      bool hold) {
        pstate_t *ps = &pr->pr_parts[p];
        char errstr[512];
        if (vg_part_in_batch(ps->ps_part)) {
                if (now - ps->ps_batch_start >= pr->pr_max_ms ||
                    (ps->ps_commit_asked && commit_now(pr, ps, now)))
                        process_part_commit(pr, p);
                return;
        }
        if (!tick || hold ||
            (!vg_part_wm_pending(ps->ps_part, now) &&
             !vg_part_parts_due(ps->ps_part, now) &&
             !(ps->ps_end_at && now - ps->ps_end_at >= PROCESS_END_WAIT_MS)))
                return;
        if (vg_part_begin(ps->ps_part, now, errstr, sizeof(errstr))) {
                process_fatal(pr, errstr);
                return;
        }
        process_part_commit(pr, p);
}

/* A partition-EOF, in its place among the partition's records. */
static void part_eof(proc_t *pr, int p, rd_kafka_message_t *m) {
        pstate_t *ps = &pr->pr_parts[p];
        int type = process_input_type(pr, rd_kafka_topic_name(m->rkt));
        if (type < 0)
                return;
        vg_part_eof(ps->ps_part, type, vg_now_ms());
        /* The end (m->offset) may lie past the last record handled: the
         * markers of a transactional producer's commits and aborts, and
         * the records of aborted transactions, which read_committed never
         * hands over. Kept, and stored with the next batch (part_ends),
         * so that the group's offsets reach the end (lag 0) and a restart
         * does not fetch them again. (Without them, the end is the
         * offset stored already: nothing to keep.) */
        if (m->offset > ps->ps_end[type] &&
            m->offset > vg_part_offset(ps->ps_part, pr->pr_inputs[type]) &&
            m->offset > 0) {
                ps->ps_end[type] = m->offset;
                if (!ps->ps_end_at)
                        ps->ps_end_at = vg_now_ms();
        }
}

/* A worker's turn with partition p (process_work_fn). */
void process_part_work(void *opaque, int p, int w, const pturn_t *t) {
        proc_t *pr = opaque;
        pstate_t *ps = &pr->pr_parts[p];
        vg_codec_t *codec = process_part_codec(pr, w);
        char errstr[512];

        on_worker = true;
        if (ps->ps_part) /* what it encodes in this turn: this worker's */
                vg_part_set_codec(ps->ps_part, codec);
        for (int i = 0; i < t->pt_n; i++) {
                rd_kafka_message_t *m = t->pt_m[i];
                /* after a fatal error: dropped, consumed again after a
                 * restart */
                if (ps->ps_part && !pr->pr_fatal) {
                        /* as of what the loop had polled when it put it */
                        vg_part_hold_watermark(ps->ps_part, t->pt_hold[i]);
                        if (!process_resume_check(pr, p, m))
                                ; /* (compared, or refused) */
                        else if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
                                part_eof(pr, p, m);
                        else {
                                process_record(pr, m, codec);
                                if (!pr->pr_fatal && ps->ps_part)
                                        vg_part_note_input(
                                                ps->ps_part,
                                                rd_kafka_topic_name(m->rkt),
                                                m->offset,
                                                process_record_hash(m));
                                if (ps->ps_batch >= pr->pr_max_events)
                                        process_part_commit(pr, p);
                        }
                }
                rd_kafka_message_destroy(m);
        }
        if (ps->ps_part && !pr->pr_fatal) {
                bool hold = t->pt_flags & (PP_COMMIT | PP_TICK)
                                    ? t->pt_req_hold
                            : t->pt_n ? t->pt_hold[t->pt_n - 1]
                                      : atomic_load(&pr->pr_wm_hold);
                vg_part_hold_watermark(ps->ps_part, hold);
                /* (part_tick commits it, now or once it is due) */
                if ((t->pt_flags & PP_COMMIT) &&
                    vg_part_in_batch(ps->ps_part))
                        ps->ps_commit_asked = true;
                part_tick(pr, p, vg_now_ms(), t->pt_flags & PP_TICK, hold);
                /* The partition's outbox goes out from its worker too. */
                if (!pr->pr_fatal &&
                    vg_pub_drain_slot(pr->pr_pub, p, errstr, sizeof(errstr)))
                        process_fatal(pr, errstr);
                process_part_snap(pr, p, t->pt_flags & PP_SNAP);
        }
        atomic_fetch_add(&pr->pr_events, ps->ps_nevents);
        ps->ps_nevents = 0;
        process_part_committed(pr, p);
}
