/*
 * process_metrics.c - the metrics of vigil process (/metrics) and its
 * health (/readyz): counters of what each partition did, consumer lag from
 * librdkafka's statistics, the watermark and topic times of each owned
 * partition, the outbox depth.
 */
#include "process_int.h"
#include "vg_time.h"

#include <stdio.h>
#include <string.h>
#include <jansson.h>

int process_input_type(const proc_t *pr, const char *topic) {
        for (int t = 0; t < VG_EVENT_TYPES; t++)
                if (!strcmp(pr->pr_inputs[t], topic))
                        return t;
        return -1;
}


bool process_ready_cb(void *opaque, char *reason, size_t size) {
        proc_t *pr = opaque;
        switch (atomic_load(&pr->pr_health)) {
        case HEALTH_READY:
                return true;
        case HEALTH_LAGGING:
                snprintf(reason, size, "consumer lag above health.max_lag");
                return false;
        case HEALTH_LAG_UNKNOWN:
                snprintf(reason, size, "consumer lag not known yet (the "
                         "first statistics come after "
                         "kafka.statistics.interval.ms)");
                return false;
        case HEALTH_BACKLOG:
                snprintf(reason, size,
                         "outbox backlog above health.max_outbox");
                return false;
        default:
                snprintf(reason, size, "no partitions assigned");
                return false;
        }
}

void process_metrics_init(proc_t *pr) {
        static const char *l_topic[] = {"topic"}, *l_reason[] = {"reason"},
                          *l_alert[] = {"rule", "status"},
                          *l_tp[] = {"topic", "partition"};
        static const double lat_b[] = {0.01, 0.05, 0.1, 0.5, 1, 5, 10, 60,
                                       300, 3600};
        static const double com_b[] = {0.0005, 0.001, 0.0025, 0.005, 0.01,
                                       0.025, 0.05, 0.1, 0.25, 1, 2.5, 10};
        vg_metrics_t *r = pr->pr_reg = vg_metrics_new();
        pr->pm_consumed = vg_metrics_counter(r, "vigil_events_consumed_total",
                                             "Records consumed, by topic.", 1,
                                             l_topic);
        pr->pm_processed = vg_metrics_counter(
                r, "vigil_events_processed_total",
                "Valid events applied to patient state (incl. duplicates).", 0,
                NULL);
        pr->pm_dup = vg_metrics_counter(r, "vigil_events_duplicate_total",
                                        "Events with an event_id already seen.",
                                        0, NULL);
        pr->pm_dlq = vg_metrics_counter(r, "vigil_events_dlq_total",
                                        "Records sent to the DLQ, by reason.",
                                        1, l_reason);
        pr->pm_key_mismatch = vg_metrics_counter(
                r, "vigil_events_key_mismatch_total",
                "Valid events whose Kafka key is not their patient_id "
                "(SPEC §2: such a producer breaks co-partitioning).",
                0, NULL);
        pr->pm_alerts = vg_metrics_counter(r, "vigil_alerts_emitted_total",
                                           "Alerts queued for publishing.", 2,
                                           l_alert);
        pr->pm_outbox = vg_metrics_gauge(r, "vigil_outbox_depth",
                                         "Records waiting in the outboxes.", 0,
                                         NULL);
        pr->pm_cached = vg_metrics_gauge(
                r, "vigil_state_patients_in_memory",
                "Patients held in memory by the owned partitions "
                "(state.cache_patients bounds each).",
                0, NULL);
        pr->pm_lag = vg_metrics_gauge(r, "vigil_consumer_lag",
                                      "Consumer lag per input partition "
                                      "(librdkafka statistics).",
                                      2, l_tp);
        pr->pm_latency = vg_metrics_histogram(
                r, "vigil_processing_latency_seconds",
                "From a record's Kafka timestamp to its processing.", 0, NULL,
                VG_ARRAY_SIZE(lat_b), lat_b);
        pr->pm_commit = vg_metrics_histogram(r, "vigil_sqlite_commit_seconds",
                                             "Duration of a batch's SQLite "
                                             "COMMIT.",
                                             0, NULL, VG_ARRAY_SIZE(com_b),
                                             com_b);
        pr->pm_rebalances = vg_metrics_counter(r, "vigil_rebalances_total",
                                               "Partition assignments and "
                                               "revocations.",
                                               0, NULL);
        pr->pm_assigned = vg_metrics_gauge(r, "vigil_assigned_partitions",
                                           "Input topic-partitions assigned.",
                                           0, NULL);
        pr->pm_wm = vg_metrics_gauge(
                r, "vigil_watermark_seconds",
                "Watermark of each input partition (docs/RULES.md), Unix time; "
                "absent while it has none.",
                1, l_tp + 1);
        pr->pm_topic_time = vg_metrics_gauge(
                r, "vigil_topic_time_seconds",
                "Largest occurred_at consumed per input topic partition, "
                "Unix time.",
                2, l_tp);
        pr->pm_caught_up = vg_metrics_gauge(
                r, "vigil_topic_caught_up",
                "1 when the input topic partition is at its end and idle "
                "for stream.idle_ms (it no longer holds the watermark).",
                2, l_tp);
        pr->pm_too_late = vg_metrics_counter(
                r, "vigil_events_too_late_total",
                "Records older than their patient's retention horizon (DLQ "
                "too-late).",
                0, NULL);
        pr->pm_pruned = vg_metrics_counter(
                r, "vigil_events_pruned_total",
                "Events moved out of patient histories by retention (their "
                "figures frozen).",
                0, NULL);
        pr->pm_restored = vg_metrics_counter(
                r, "vigil_changelog_restored_records_total",
                "Changelog records applied to restore partitions' state.",
                0, NULL);
        vg_metric_inc(pr->pm_too_late, NULL, 0);
        vg_metric_inc(pr->pm_pruned, NULL, 0);
        vg_metric_inc(pr->pm_restored, NULL, 0);
        /* Every DLQ reason from the start, so that dashboards and alert
         * rules see 0, not nothing. */
        {
                static const char *reasons[] = {
                        "bad-header", "unknown-fingerprint", "truncated",
                        "trailing-bytes", "bad-length", "bad-value",
                        "resolution", "wrong-type", "invalid",
                        "patient-limit", "too-late", "personal-data",
                        "too-large"};
                for (size_t i = 0; i < VG_ARRAY_SIZE(reasons); i++) {
                        const char *v[1] = {reasons[i]};
                        vg_metric_inc(pr->pm_dlq, v, 0);
                }
        }
        pr->pm_ready = vg_metrics_gauge(r, "vigil_ready",
                                        "1 when /readyz answers ready.", 0,
                                        NULL);
}

/* Counts what a partition did since the last call (after each commit). */
void process_metrics_part(proc_t *pr, int p) {
        const vg_part_stats_t *s = vg_part_stats(pr->pr_parts[p].ps_part);
        vg_part_stats_t *l = &pr->pr_last[p];
        vg_metric_inc(pr->pm_processed, NULL,
                      (double)(s->ps_events - l->ps_events));
        vg_metric_inc(pr->pm_dup, NULL,
                      (double)(s->ps_duplicates - l->ps_duplicates));
        for (int r = 0; r < 4; r++)
                for (int st = 0; st < 2; st++) {
                        const char *v[2] = {vg_enum_str(&vg_enum_rule, r),
                                            vg_enum_str(&vg_enum_status, st)};
                        int64_t d = s->ps_alerts[r][st] - l->ps_alerts[r][st];
                        if (d)
                                vg_metric_inc(pr->pm_alerts, v, (double)d);
                }
        vg_metric_inc(pr->pm_too_late, NULL,
                      (double)(s->ps_too_late - l->ps_too_late));
        vg_metric_inc(pr->pm_pruned, NULL,
                      (double)(s->ps_pruned - l->ps_pruned));
        if (s->ps_commits != l->ps_commits)
                vg_metric_observe(pr->pm_commit, NULL,
                                  (double)s->ps_commit_us / 1e6);
        *l = *s;
}

static void health_state(proc_t *pr);

/* Whether the brokers that lead the assigned input partitions are
 * answering (process_resume_mark): each is up and has sent something
 * within fetch.wait.max.ms (a fetch's longest wait) and 2 s more. */
static void stats_brokers(proc_t *pr, rd_kafka_t *rk, json_t *brokers,
                          const int *leaders, int nleaders) {
        int64_t now = vg_now_ms(), wait_ms = process_fetch_wait_ms(rk);
        const char *name;
        json_t *b;
        bool trouble = nleaders < 0; /* (more than it can tell) */
        json_object_foreach(brokers, name, b) {
                int id = (int)json_integer_value(json_object_get(b, "nodeid"));
                const char *st = json_string_value(json_object_get(b, "state"));
                json_int_t rxidle = json_integer_value(
                        json_object_get(b, "rxidle"));
                const char *src =
                        json_string_value(json_object_get(b, "source"));
                bool leads = false;
                /* (not the group coordinator's connection, a "logical"
                 * broker, which hears only a heartbeat every few s) */
                for (int i = 0; i < nleaders && !leads &&
                                (!src || strcmp(src, "logical"));
                     i++)
                        leads = leaders[i] == id;
                if (leads && (!st || strcmp(st, "UP") || rxidle < 0 ||
                              rxidle / 1000 > wait_ms + 2000))
                        trouble = true;
        }
        pr->pr_stats_at = now;
        if (trouble)
                pr->pr_trouble_at = now;
}

/* librdkafka statistics (statistics.interval.ms): consumer lag, and
 * whether the input partitions' leaders answer. */
int process_stats_cb(rd_kafka_t *rk, char *json, size_t len, void *opaque) {
        proc_t *pr = opaque;
        json_t *root = json_loadb(json, len, 0, NULL), *topics, *t;
        const char *tname;
        int64_t total = 0;
        int seen = 0, leaders[64], nleaders = 0;
        bool leaders_lost = false;
        if (!root)
                return 0;
        topics = json_object_get(root, "topics");
        json_object_foreach(topics, tname, t) {
                json_t *parts = json_object_get(t, "partitions"), *pt;
                const char *pname;
                if (process_input_type(pr, tname) < 0)
                        continue;
                json_object_foreach(parts, pname, pt) {
                        /* Lag = the log end offset (as of the last fetch)
                         * minus the next offset the partition's state has
                         * committed: what is really not processed yet
                         * (librdkafka's consumer_lag counts from the
                         * offsets committed to Kafka, which trail). */
                        json_int_t hi = json_integer_value(
                                json_object_get(pt, "hi_offset"));
                        json_int_t lo = json_integer_value(
                                json_object_get(pt, "lo_offset"));
                        const char *fs = json_string_value(
                                json_object_get(pt, "fetch_state"));
                        const char *v[2] = {tname, pname};
                        int p = atoi(pname);
                        int64_t next, lag;
                        if (!strcmp(pname, "-1"))
                                continue;
                        if (!fs || strcmp(fs, "active") || hi < 0 || p < 0 ||
                            p >= MAX_PARTITIONS || !pr->pr_parts[p].ps_part) {
                                vg_metric_remove(pr->pm_lag, v);
                                continue;
                        }
                        {
                                psnap_t sn;
                                int ty = process_input_type(pr, tname);
                                process_snap_get(pr, p, &sn);
                                next = ty >= 0 ? sn.sn_off[ty] : -1;
                        }
                        if (next < 0)
                                next = lo > 0 ? lo : 0;
                        lag = hi > next ? hi - next : 0;
                        vg_metric_set(pr->pm_lag, v, (double)lag);
                        total += lag;
                        seen++;
                        {
                                /* (each leader once; more brokers than
                                 * that: trouble, to be safe) */
                                int id = (int)json_integer_value(
                                        json_object_get(pt, "leader"));
                                int i = 0;
                                while (i < nleaders && leaders[i] != id)
                                        i++;
                                if (i == nleaders &&
                                    nleaders < (int)VG_ARRAY_SIZE(leaders))
                                        leaders[nleaders++] = id;
                                else if (i == nleaders)
                                        leaders_lost = true;
                        }
                }
        }
        stats_brokers(pr, rk, json_object_get(root, "brokers"), leaders,
                      leaders_lost ? -1 : nleaders);
        pr->pr_total_lag = total;
        /* Ready only once the lag of every assigned input partition is
         * known: at start nothing is known, which is not "no lag". */
        pr->pr_lag_known = pr->pr_nassigned > 0 && seen >= pr->pr_nassigned;
        json_decref(root);
        /* /readyz follows the lag as it is learnt (on the loop's thread),
         * not only at the next health update (which
         * also sets the watermark gauges, together with the caught-up
         * flags). */
        health_state(pr);
        return 0;
}

/* Watermark, topic times and caught-up flags of the owned partitions. */
static void metrics_wm(proc_t *pr, int64_t now) {
        for (int p = 0; p < pr->pr_npartitions; p++) {
                psnap_t sn;
                const vg_wm_t *wm = &sn.sn_wm;
                char pn[16];
                const char *v[2];
                if (!pr->pr_parts[p].ps_part)
                        continue;
                process_snap_get(pr, p, &sn);
                snprintf(pn, sizeof(pn), "%d", p);
                v[0] = pn;
                if (wm->wm_value != VG_WM_NONE)
                        vg_metric_set(pr->pm_wm, v,
                                      (double)wm->wm_value / 1000.0);
                for (int t = 0; t < VG_EVENT_TYPES; t++) {
                        v[0] = pr->pr_inputs[t];
                        v[1] = pn;
                        if (wm->wm_topics[t].wt_time != VG_WM_NONE)
                                vg_metric_set(pr->pm_topic_time, v,
                                              (double)wm->wm_topics[t].wt_time /
                                                      1000.0);
                        vg_metric_set(pr->pm_caught_up, v,
                                      vg_wm_caught_up(wm, t, now));
                }
        }
}

/* Forgets the series of a partition no longer owned. */
void process_metrics_forget(proc_t *pr, int p) {
        char pn[16];
        const char *v[2];
        snprintf(pn, sizeof(pn), "%d", p);
        v[0] = pn;
        vg_metric_remove(pr->pm_wm, v);
        for (int t = 0; t < VG_EVENT_TYPES; t++) {
                v[0] = pr->pr_inputs[t];
                v[1] = pn;
                vg_metric_remove(pr->pm_topic_time, v);
                vg_metric_remove(pr->pm_caught_up, v);
        }
}

/* The /readyz state (and the ready gauge) from the lag and the outboxes. */
static void health_state(proc_t *pr) {
        int64_t depth = 0, cached = 0;
        int h;
        for (int p = 0; p < pr->pr_npartitions; p++)
                if (pr->pr_parts[p].ps_part) {
                        psnap_t sn;
                        process_snap_get(pr, p, &sn);
                        depth += sn.sn_depth;
                        cached += sn.sn_cached;
                }
        vg_metric_set(pr->pm_outbox, NULL, (double)depth);
        vg_metric_set(pr->pm_cached, NULL, (double)cached);
        vg_metric_set(pr->pm_assigned, NULL, pr->pr_nassigned);
        if (!pr->pr_assigned_at)
                h = HEALTH_UNASSIGNED;
        else if (!pr->pr_lag_known)
                h = HEALTH_LAG_UNKNOWN;
        else if (pr->pr_total_lag > vg_conf_int(pr->pr_conf, "health.max_lag"))
                h = HEALTH_LAGGING;
        else if (depth > vg_conf_int(pr->pr_conf, "health.max_outbox"))
                h = HEALTH_BACKLOG;
        else
                h = HEALTH_READY;
        atomic_store(&pr->pr_health, h);
        vg_metric_set(pr->pm_ready, NULL, h == HEALTH_READY);
}

void process_health_update(proc_t *pr) {
        metrics_wm(pr, vg_now_ms());
        health_state(pr);
}

