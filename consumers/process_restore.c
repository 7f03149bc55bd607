/*
 * process_restore.c - vigil process: a partition's state from its
 * changelog, when the local file is missing or behind (docs/ARCHITECTURE.md,
 * "State that moves with its partitions").
 *
 * On assignment of partition P, with E = where the changelog ended after
 * the local file's last logged commit and H = the changelog's high
 * watermark now:
 *
 *   changelog empty            the local file (if any) is logged whole
 *   H <= E                     local is current (or ahead: its outbox
 *                              holds what the changelog will get)
 *   H > E, nothing unsent      local is behind: the records from E on
 *                              are applied to it
 *   otherwise                  local is missing, from another changelog,
 *                              or holds batches never published while the
 *                              changelog moved on (another instance went
 *                              on without them, or only the abort of the
 *                              transaction this one left open when it
 *                              died: not told apart yet, so this costs a
 *                              whole restore too): it is replaced by the
 *                              whole changelog
 *
 * The changelog is read with isolation.level=read_committed, to H at
 * least: records of a transaction left open by an instance that died
 * mid-commit are waited for until that transaction is aborted (at most the
 * producer's transaction.timeout.ms).
 *
 * Also here: the topics checked at the start (the input topics
 * co-partitioned, the changelog created if missing, with as many
 * partitions), and the local files: those of partitions no longer owned
 * are removed after state.cleanup_delay_ms.
 */
#include "process_int.h"
#include "vg_process.h"
#include "vg_time.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/*
 * The topics
 */

void vg_process_changelog_topic(const vg_conf_t *conf, char *buf,
                                size_t size) {
        if (!vg_conf_bool(conf, "changelog.enabled"))
                snprintf(buf, size, "%s", "");
        else if (vg_conf_str(conf, "topic.changelog"))
                snprintf(buf, size, "%s", vg_conf_str(conf, "topic.changelog"));
        else
                snprintf(buf, size, "%s.changelog",
                         vg_conf_str(conf, "group.id"));
}

/* The changelog: compacted, one partition per input partition number;
 * created if missing, as Kafka Streams creates its internal topics. */
static int changelog_topic(proc_t *pr, int parts, char *errstr,
                           size_t errstr_size) {
        char e[512];
        int n = vg_kafka_partition_count(pr->pr_consumer, pr->pr_cl_topic,
                                         10000, e, sizeof(e));
        if (n < 0) {
                rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(
                        pr->pr_cl_topic, parts, -1, e, sizeof(e));
                rd_kafka_queue_t *q = rd_kafka_queue_new(pr->pr_consumer);
                rd_kafka_event_t *ev;
                const rd_kafka_topic_result_t **res;
                size_t rn = 0;
                int rc = -1;
                if (!nt) {
                        rd_kafka_queue_destroy(q);
                        vg_seterr(errstr, errstr_size, VG_ERR_KAFKA,
                                  "changelog %s: %s", pr->pr_cl_topic, e);
                        return -1;
                }
                rd_kafka_NewTopic_set_config(nt, "cleanup.policy", "compact");
                /* Segments roll every minute, so that compaction (of
                 * closed segments only) keeps a restore short, even
                 * right after a backfill. */
                rd_kafka_NewTopic_set_config(nt, "segment.ms", "60000");
                rd_kafka_CreateTopics(pr->pr_consumer, &nt, 1, NULL, q);
                ev = rd_kafka_queue_poll(q, 30000);
                if (ev && !rd_kafka_event_error(ev)) {
                        res = rd_kafka_CreateTopics_result_topics(
                                rd_kafka_event_CreateTopics_result(ev), &rn);
                        if (rn == 1 &&
                            (!rd_kafka_topic_result_error(res[0]) ||
                             rd_kafka_topic_result_error(res[0]) ==
                                     RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS))
                                rc = 0;
                        else if (rn == 1)
                                snprintf(e, sizeof(e), "%s",
                                         rd_kafka_topic_result_error_string(
                                                 res[0]));
                } else
                        snprintf(e, sizeof(e), "%s",
                                 ev ? rd_kafka_event_error_string(ev)
                                    : "timed out");
                if (ev)
                        rd_kafka_event_destroy(ev);
                rd_kafka_NewTopic_destroy(nt);
                rd_kafka_queue_destroy(q);
                if (rc) {
                        vg_seterr(errstr, errstr_size, VG_ERR_KAFKA,
                                  "changelog %s is missing and cannot be "
                                  "created: %s (create it compacted with "
                                  "%d partitions, or set "
                                  "changelog.enabled=false)",
                                  pr->pr_cl_topic, e, parts);
                        return -1;
                }
                vg_info("process", "created changelog %s (%d partitions, "
                        "compacted)", pr->pr_cl_topic, parts);
                /* metadata catches up */
                for (int i = 0; i < 50 && n != parts; i++) {
                        n = vg_kafka_partition_count(pr->pr_consumer,
                                                     pr->pr_cl_topic, 10000,
                                                     e, sizeof(e));
                        if (n != parts)
                                rd_kafka_poll(pr->pr_consumer, 100);
                }
        }
        if (n != parts) {
                vg_seterr(errstr, errstr_size, VG_ERR_ARG,
                          "changelog %s has %d partitions, the input topics "
                          "%d: they must be equal (see the runbook, "
                          "Changelog)", pr->pr_cl_topic, n, parts);
                return -1;
        }
        return 0;
}

int process_check_topics(proc_t *pr, char *errstr, size_t errstr_size) {
        int cnt[VG_EVENT_TYPES];
        const char *outs[3] = {pr->pr_topics.pt_alerts, pr->pr_topics.pt_parts,
                               pr->pr_topics.pt_dlq};
        for (int t = 0; t < VG_EVENT_TYPES; t++) {
                cnt[t] = vg_kafka_partition_count(pr->pr_consumer,
                                                  pr->pr_inputs[t], 10000,
                                                  errstr, errstr_size);
                if (cnt[t] < 0)
                        return -1;
        }
        for (int t = 1; t < VG_EVENT_TYPES; t++)
                if (cnt[t] != cnt[0]) {
                        vg_seterr(errstr, errstr_size, VG_ERR_ARG,
                                  "input topics are not co-partitioned: %s "
                                  "has %d partitions, %s has %d; all five "
                                  "input topics must have the same count",
                                  pr->pr_inputs[0], cnt[0], pr->pr_inputs[t],
                                  cnt[t]);
                        return -1;
                }
        if (cnt[0] > MAX_PARTITIONS) {
                vg_seterr(errstr, errstr_size, VG_ERR_ARG,
                          "%d partitions: at most %d supported", cnt[0],
                          MAX_PARTITIONS);
                return -1;
        }
        for (int i = 0; i < 3; i++) {
                int n = vg_kafka_partition_count(pr->pr_consumer, outs[i],
                                                 10000, errstr, errstr_size);
                if (n < 0)
                        return -1;
                if (i == 1)
                        pr->pr_nparts_out = n;
        }
        pr->pr_npartitions = cnt[0];
        if (pr->pr_cl_topic)
                return changelog_topic(pr, cnt[0], errstr, errstr_size);
        return 0;
}

/*
 * Restore
 */

/* Reads the changelog partitions planned for restore that are this
 * worker's (the k-th planned partition, k % nworkers == worker), all at
 * once, into their parts (vg_part_restore_row). Workers share nothing but
 * pr's configuration: each has its own partitions, parts and consumer. */
static vg_err_t read_changelog(proc_t *pr, int worker, int nworkers,
                               int64_t *total, char *errstr,
                               size_t errstr_size) {
        const vg_conf_t *conf = pr->pr_conf;
        rd_kafka_conf_t *kc = vg_kafka_conf(conf, errstr, errstr_size);
        rd_kafka_t *rk = NULL;
        rd_kafka_topic_partition_list_t *l;
        char gid[512];
        int64_t t0 = vg_now_ms(), last_log = t0;
        int64_t deadline = t0 + pr->pr_txn_timeout_ms * 2 + 60000;
        int left = 0;
        vg_err_t err = VG_OK;

        snprintf(gid, sizeof(gid), "%s.restore",
                 vg_conf_str(conf, "group.id"));
        if (!kc || vg_kafka_set(kc, "group.id", gid, errstr, errstr_size) ||
            vg_kafka_set(kc, "enable.auto.commit", "false", errstr,
                         errstr_size) ||
            vg_kafka_set(kc, "enable.partition.eof", "true", errstr,
                         errstr_size) ||
            vg_kafka_set(kc, "isolation.level", "read_committed", errstr,
                         errstr_size) ||
            /* (a tuning: a kafka.fetch.wait.max.ms of the user's wins) */
            vg_kafka_default(conf, kc, "fetch.wait.max.ms", "20", errstr,
                             errstr_size)) {
                if (kc)
                        rd_kafka_conf_destroy(kc);
                return VG_ERR_KAFKA;
        }
        if (!(rk = rd_kafka_new(RD_KAFKA_CONSUMER, kc, errstr,
                                errstr_size))) {
                rd_kafka_conf_destroy(kc);
                return VG_ERR_KAFKA;
        }
        rd_kafka_poll_set_consumer(rk);
        l = rd_kafka_topic_partition_list_new(4);
        for (int p = 0, k = 0; p < MAX_PARTITIONS && !err; p++) {
                pstate_t *ps = &pr->pr_parts[p];
                if (!ps->ps_rs || k++ % nworkers != worker)
                        continue;
                ps->ps_rs_worker = worker;
                rd_kafka_topic_partition_list_add(l, pr->pr_cl_topic, p)
                        ->offset = ps->ps_rs_from;
                err = vg_part_restore_begin(ps->ps_part, errstr, errstr_size);
                left++;
        }
        if (!err && rd_kafka_assign(rk, l))
                err = vg_seterr(errstr, errstr_size, VG_ERR_KAFKA,
                                "cannot read changelog %s", pr->pr_cl_topic);
        rd_kafka_topic_partition_list_destroy(l);
        while (!err && left > 0) {
                rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
                int64_t now = vg_now_ms();
                pstate_t *ps;
                if (now - last_log >= 5000) {
                        for (int p = 0; p < MAX_PARTITIONS; p++)
                                if (pr->pr_parts[p].ps_rs_worker == worker &&
                                    pr->pr_parts[p].ps_rs &&
                                    !pr->pr_parts[p].ps_rs_done)
                                        vg_info("process", "partition %d: "
                                                "restoring from %s: %lld "
                                                "records, offset %lld of "
                                                "%lld", p, pr->pr_cl_topic,
                                                (long long)pr->pr_parts[p]
                                                        .ps_rs_records,
                                                (long long)pr->pr_parts[p]
                                                        .ps_rs_at,
                                                (long long)pr->pr_parts[p]
                                                        .ps_rs_high);
                        last_log = now;
                }
                if (now > deadline) {
                        err = vg_seterr(errstr, errstr_size, VG_ERR_KAFKA,
                                        "changelog %s: %d partitions not "
                                        "read to their end: nothing came "
                                        "for %lld s",
                                        pr->pr_cl_topic, left,
                                        (long long)(pr->pr_txn_timeout_ms * 2
                                                    + 60000) / 1000);
                        break;
                }
                if (!m)
                        continue;
                if (m->partition < 0 || m->partition >= MAX_PARTITIONS ||
                    !(ps = &pr->pr_parts[m->partition])->ps_rs ||
                    ps->ps_rs_worker != worker || ps->ps_rs_done) {
                        rd_kafka_message_destroy(m);
                        continue;
                }
                if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                        ps->ps_rs_at = m->offset;
                        if (m->offset >= ps->ps_rs_high) {
                                ps->ps_rs_done = true;
                                left--;
                        } else if (!ps->ps_rs_waiting) {
                                vg_info("process", "partition %d: changelog "
                                        "%s has a transaction open at "
                                        "offset %lld: waiting until it "
                                        "ends", m->partition,
                                        pr->pr_cl_topic,
                                        (long long)m->offset);
                                ps->ps_rs_waiting = true;
                        }
                } else if (m->err) {
                        if (m->err != RD_KAFKA_RESP_ERR__TRANSPORT &&
                            m->err != RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN &&
                            m->err != RD_KAFKA_RESP_ERR__TIMED_OUT)
                                err = vg_seterr(errstr, errstr_size,
                                                VG_ERR_KAFKA,
                                                "changelog %s [%d]: %s",
                                                pr->pr_cl_topic, m->partition,
                                                rd_kafka_message_errstr(m));
                } else {
                        /* a deadline on silence, not on the work */
                        deadline = now + pr->pr_txn_timeout_ms * 2 + 60000;
                        err = vg_part_restore_row(ps->ps_part, m->key,
                                                  m->key_len, m->payload,
                                                  m->len, errstr,
                                                  errstr_size);
                        ps->ps_rs_at = m->offset + 1;
                        ps->ps_rs_records++;
                        (*total)++;
                }
                rd_kafka_message_destroy(m);
        }
        rd_kafka_consumer_close(rk);
        rd_kafka_destroy(rk);
        return err;
}

void process_remove_files(const char *path) {
        char f[4200];
        const char *sfx[] = {"", "-wal", "-shm"};
        for (int i = 0; i < 3; i++) {
                snprintf(f, sizeof(f), "%s%s", path, sfx[i]);
                if (unlink(f) && errno != ENOENT)
                        vg_warn("process", "cannot remove %s: %s", f,
                                strerror(errno));
        }
}

vg_part_t *process_restore_plan(proc_t *pr, int p, vg_part_t *part,
                                const char *path) {
        pstate_t *ps = &pr->pr_parts[p];
        int64_t lo = 0, high = 0, end, depth;
        char errstr[512];
        rd_kafka_resp_err_t kerr;
        bool full;

        ps->ps_rs = ps->ps_rs_done = ps->ps_rs_waiting = false;
        ps->ps_rs_records = 0;
        vg_part_set_changelog(part, pr->pr_cl_topic);
        end = vg_part_changelog_end(part);
        depth = vg_part_outbox_depth(part);
        /* A changelog created a moment ago may have no leader yet. */
        kerr = vg_kafka_query_ends(pr->pr_consumer, pr->pr_cl_topic, p, &lo,
                                   &high, 30000);
        if (kerr) {
                snprintf(errstr, sizeof(errstr),
                         "cannot read the end of changelog %s [%d]: %s",
                         pr->pr_cl_topic, p, rd_kafka_err2str(kerr));
                goto fail;
        }
        if (high <= lo) {
                /* Nothing in it (new, or recreated): it starts from this
                 * file, whole. */
                if (end >= 0)
                        vg_part_changelog_full(part);
                if (vg_part_changelog_pending(part))
                        vg_info("process", "partition %d: changelog %s is "
                                "empty: the local state goes to it whole",
                                p, pr->pr_cl_topic);
                return part;
        }
        if (end >= 0 && high <= end) {
                if (high < end - 1) {
                        vg_warn("process", "partition %d: changelog %s ends "
                                "at %lld, before the %lld this state was "
                                "logged to (recreated?): the local state "
                                "goes to it whole", p, pr->pr_cl_topic,
                                (long long)high, (long long)end);
                        vg_part_changelog_full(part);
                }
                return part; /* current, or ahead by its outbox */
        }
        full = end < 0 || depth > 0;
        if (full) {
                if (end >= 0 || depth > 0 || vg_part_changelog_pending(part))
                        vg_warn("process", "partition %d: local state %s "
                                "is not on changelog %s's line (%s): "
                                "replaced by the changelog's", p, path,
                                pr->pr_cl_topic,
                                depth > 0 ? "it holds batches never "
                                            "published, and the changelog "
                                            "has records after its own: "
                                            "another instance's, or the "
                                            "transaction this one left "
                                            "open when it stopped, aborted"
                                          : "logged elsewhere or not at all");
                vg_part_close(part);
                process_remove_files(path);
                if (!(part = vg_part_open(path, p, &pr->pr_rc,
                                          process_part_codec(pr, p),
                                          &pr->pr_topics, errstr,
                                          sizeof(errstr))))
                        goto fail_closed;
                vg_part_set_changelog(part, pr->pr_cl_topic);
        }
        ps->ps_rs = true;
        ps->ps_rs_full = full;
        ps->ps_rs_from = full ? RD_KAFKA_OFFSET_BEGINNING : end;
        ps->ps_rs_at = full ? lo : end;
        ps->ps_rs_high = high;
        vg_info("process", "partition %d: restoring from %s (%s, to offset "
                "%lld)", p, pr->pr_cl_topic,
                full ? "whole" : "the records since the local state",
                (long long)high);
        return part;
fail:
        vg_part_close(part);
fail_closed:
        vg_error("process", "partition %d: restore: %s", p, errstr);
        return NULL;
}

typedef struct worker_s {
        proc_t    *w_pr;
        int        w_idx, w_n;
        int64_t    w_total;
        vg_err_t   w_err;
        char       w_errstr[512];
        pthread_t  w_thr;
} worker_t;

static void *worker_main(void *arg) {
        worker_t *w = arg;
        w->w_err = read_changelog(w->w_pr, w->w_idx, w->w_n, &w->w_total,
                                  w->w_errstr, sizeof(w->w_errstr));
        return NULL;
}

int process_restore_run(proc_t *pr) {
        int64_t t0 = vg_now_ms(), total = 0;
        char errstr[512] = "";
        vg_err_t err = VG_OK;
        int n = 0, nw;
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        worker_t *w;
        for (int p = 0; p < MAX_PARTITIONS; p++)
                n += pr->pr_parts[p].ps_rs;
        if (!n)
                return 0;
        /* One worker per core at most: each partition's store is its own
         * SQLite file, so restores run side by side. */
        nw = n < cores ? n : (cores > 1 ? (int)cores : 1);
        w = vg_calloc((size_t)nw, sizeof(*w));
        for (int i = 0; i < nw; i++) {
                w[i].w_pr = pr;
                w[i].w_idx = i;
                w[i].w_n = nw;
                if (i > 0 && pthread_create(&w[i].w_thr, NULL, worker_main,
                                            &w[i])) {
                        w[i].w_err = VG_ERR_INTERNAL;
                        snprintf(w[i].w_errstr, sizeof(w[i].w_errstr),
                                 "cannot start a restore thread");
                        w[i].w_n = -1; /* not started */
                }
        }
        worker_main(&w[0]);
        for (int i = 1; i < nw; i++)
                if (w[i].w_n > 0)
                        pthread_join(w[i].w_thr, NULL);
        for (int i = 0; i < nw; i++) {
                total += w[i].w_total;
                if (w[i].w_err && !err) {
                        err = w[i].w_err;
                        snprintf(errstr, sizeof(errstr), "%s", w[i].w_errstr);
                }
        }
        vg_free(w);
        for (int p = 0; p < MAX_PARTITIONS; p++) {
                pstate_t *ps = &pr->pr_parts[p];
                char e2[512];
                if (!ps->ps_rs)
                        continue;
                ps->ps_rs = false;
                if (err) {
                        vg_part_rollback_restore(ps->ps_part);
                        continue;
                }
                if (vg_part_restore_end(ps->ps_part, ps->ps_rs_at, e2,
                                        sizeof(e2))) {
                        snprintf(errstr, sizeof(errstr), "%s", e2);
                        err = VG_ERR_STORE;
                        continue;
                }
                {
                        char wm[32] = "none";
                        if (vg_part_watermark(ps->ps_part) != VG_WM_NONE)
                                vg_time_format(vg_part_watermark(ps->ps_part),
                                               wm);
                        vg_info("process", "partition %d: restored from %s "
                                "(%lld records, %s): watermark %s", p,
                                pr->pr_cl_topic,
                                (long long)ps->ps_rs_records,
                                ps->ps_rs_full ? "whole" : "incremental", wm);
                }
        }
        if (err) {
                vg_error("process", "restore: %s", errstr);
                return -1;
        }
        vg_info("process", "%d partitions restored from %s: %lld records in "
                "%lld ms", n, pr->pr_cl_topic, (long long)total,
                (long long)(vg_now_ms() - t0));
        vg_metric_inc(pr->pm_restored, NULL, total);
        return 0;
}

/*
 * Local files
 */

/* Local files of partitions not assigned within state.cleanup_delay_ms
 * of the start are removed then (process_cleanup). */
void process_note_local_files(proc_t *pr) {
        DIR *d = opendir(pr->pr_state_dir);
        struct dirent *de;
        if (!d)
                return;
        while ((de = readdir(d))) {
                int p, n = 0;
                if (sscanf(de->d_name, "partition-%d.db%n", &p, &n) == 1 &&
                    !de->d_name[n] && p >= 0 && p < MAX_PARTITIONS)
                        pr->pr_released_at[p] = vg_now_ms();
        }
        closedir(d);
}

/* Files of partitions this instance no longer owns are removed after
 * state.cleanup_delay_ms (their state is in the changelog). */
void process_cleanup(proc_t *pr, int64_t now) {
        /* Not in the middle of a rebalance (revoked, not yet assigned):
         * the partition may come straight back. */
        if (!pr->pr_cl_topic || !pr->pr_assigned_at)
                return;
        for (int p = 0; p < MAX_PARTITIONS; p++) {
                char path[4096];
                int64_t age = now - pr->pr_released_at[p];
                if (!pr->pr_released_at[p] || pr->pr_parts[p].ps_part ||
                    pr->pr_sb[p] || age < pr->pr_cleanup_ms)
                        continue;
                pr->pr_released_at[p] = 0;
                snprintf(path, sizeof(path), "%s/partition-%d.db",
                         pr->pr_state_dir, p);
                if (access(path, F_OK))
                        continue;
                process_remove_files(path);
                vg_info("process", "partition %d: not owned for %lld s: "
                        "local state %s removed (it is in changelog %s)", p,
                        (long long)age / 1000, path,
                        pr->pr_cl_topic);
        }
}

/* Without the changelog (or with an empty one: deleted, re-created), a
 * partition whose file holds no offsets while the group has some
 * committed starts over from the input topics' beginning:
 * what the partition published before (IndicatorParts of counters that no
 * longer have cases, ACTIVE alerts) is not corrected by that rebuild. Said
 * once per partition (docs/RUNBOOK.md, section 7). */
void process_warn_rebuild(proc_t *pr, int p, vg_part_t *part) {
        rd_kafka_topic_partition_list_t *l;
        bool committed = false;
        for (int t = 0; t < VG_EVENT_TYPES; t++)
                if (vg_part_offset(part, pr->pr_inputs[t]) >= 0)
                        return; /* (the file was used before) */
        l = rd_kafka_topic_partition_list_new(VG_EVENT_TYPES);
        for (int t = 0; t < VG_EVENT_TYPES; t++)
                rd_kafka_topic_partition_list_add(l, pr->pr_inputs[t], p);
        if (!rd_kafka_committed(pr->pr_consumer, l, 10000))
                for (int i = 0; i < l->cnt; i++)
                        committed |= !l->elems[i].err &&
                                     l->elems[i].offset > 0;
        rd_kafka_topic_partition_list_destroy(l);
        if (committed && !pr->pr_cl_topic)
                vg_warn("process", "partition %d: no state in state.dir but "
                        "offsets committed by the group, and no changelog "
                        "(changelog.enabled=false): rebuilt from the input "
                        "topics' beginning; counters and ACTIVE alerts it "
                        "published before and no longer has are not "
                        "corrected (docs/RUNBOOK.md, section 7)", p);
        else if (committed)
                vg_warn("process", "partition %d: no state in state.dir and "
                        "changelog %s is empty, but offsets committed by "
                        "the group: the changelog was deleted or "
                        "re-created, or topic.changelog names a new one (a "
                        "replay, section 9); rebuilt from the input topics' "
                        "beginning (what retention removed from them is "
                        "lost); counters and ACTIVE alerts it published "
                        "before and no longer has are not corrected "
                        "(docs/RUNBOOK.md, section 12)", p, pr->pr_cl_topic);
}
