/*
 * process_int.h - what the parts of vigil process share: the processor's
 * state (proc_t) and its metrics and health (process_metrics.c).
 */
#ifndef PROCESS_INT_H
#define PROCESS_INT_H

#include "vg_config.h"
#include "vg_kafka.h"
#include "vg_metrics.h"
#include "vg_outbox.h"
#include "vg_partition.h"

#include <stdatomic.h>
#include <librdkafka/rdkafka.h>

#define MAX_PARTITIONS 1024

enum { HEALTH_UNASSIGNED, HEALTH_LAG_UNKNOWN, HEALTH_LAGGING, HEALTH_BACKLOG,
       HEALTH_READY };

typedef struct pstate_s {
        vg_part_t *ps_part;
        int        ps_batch;       /* events in the open batch */
        int64_t    ps_batch_start; /* when the batch opened, ms */
} pstate_t;

typedef struct proc_s {
        const vg_conf_t  *pr_conf;
        vg_rules_conf_t   pr_rc;
        size_t            pr_cache_patients; /* state.cache_patients */
        int64_t           pr_parts_ms;       /* parts.interval_ms */
        vg_part_topics_t  pr_topics;
        const char       *pr_inputs[VG_EVENT_TYPES]; /* by vg_rectype_t */
        vg_codec_t       *pr_codec;
        rd_kafka_t       *pr_consumer;
        vg_pub_t         *pr_pub;         /* drains the outboxes */
        pstate_t          pr_parts[MAX_PARTITIONS];
        int               pr_npartitions;
        int               pr_nparts_out;   /* partitions of the parts
                                            * topic */
        const char       *pr_state_dir;
        int               pr_max_events;
        int64_t           pr_max_ms;
        int               pr_fatal;
        int64_t           pr_events;
        int64_t           pr_assigned_at;  /* last assignment, ms; 0: none */
        int64_t           pr_last_empty;   /* last poll that found the
                                            * local queue empty, ms */
        int64_t           pr_last_record;  /* last record handled, ms */
        int64_t           pr_resumed_at;   /* records came back after a
                                            * silence, ms */
        bool              pr_wm_hold;      /* this iteration: keep the
                                            * watermarks where they are */
        /* Metrics (vg_metrics.h) and health */
        vg_metrics_t     *pr_reg;
        vg_metric_t      *pm_consumed, *pm_processed, *pm_dup, *pm_dlq,
                         *pm_alerts, *pm_outbox, *pm_lag, *pm_latency,
                         *pm_commit, *pm_rebalances, *pm_assigned, *pm_ready,
                         *pm_wm, *pm_topic_time, *pm_caught_up,
                         *pm_too_late, *pm_pruned;
        vg_part_stats_t   pr_last[MAX_PARTITIONS]; /* stats already counted */
        int64_t           pr_total_lag;   /* log end (librdkafka statistics)
                                           * minus the stored offsets */
        bool              pr_lag_known;   /* every assigned partition's */
        int               pr_nassigned;   /* topic-partitions assigned */
        atomic_int        pr_health;      /* HEALTH_* for /readyz */
        vg_http_t        *pr_http;
        int               pr_lock;        /* state.dir lock (vg_lock.h) */
        size_t            pr_max_bytes;   /* input.max_bytes */
} proc_t;

/* The event type (vg_rectype_t) of an input topic, or -1. */
int process_input_type(const proc_t *pr, const char *topic);

/* Registers every metric (pr_reg and pm_*). */
void process_metrics_init(proc_t *pr);
/* Counts what partition p did since the last call (after each commit). */
void process_metrics_part(proc_t *pr, int p);
/* Forgets the series of a partition no longer owned. */
void process_metrics_forget(proc_t *pr, int p);
/* Gauges (outbox, assignment, watermarks) and the /readyz state. */
void process_health_update(proc_t *pr);
/* /readyz (vg_http_start's callback). */
bool process_ready_cb(void *opaque, char *reason, size_t size);
/* librdkafka statistics (statistics.interval.ms): consumer lag. */
int process_stats_cb(rd_kafka_t *rk, char *json, size_t len, void *opaque);

/* process_help.c: prints `vigil process --help` to stdout. */
void vg_process_help(void);

#endif /* PROCESS_INT_H */
