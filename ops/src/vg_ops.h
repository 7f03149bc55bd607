/*
 * vg_ops.h - the operator commands: vigil topics and lag (see vg_cli.h for
 * the contract).
 */
#ifndef VG_OPS_H
#define VG_OPS_H

int vg_cmd_topics(int argc, char **argv);  /* topics.c */
int vg_cmd_lag(int argc, char **argv);     /* lag.c */

/*
 * The event-time view of vigil lag (lag_time.c).
 */
#include "vg_config.h"

#include <stdint.h>

#define VG_LAG_NONE    INT64_MIN       /* no watermark / not an event */
#define VG_LAG_UNKNOWN (INT64_MIN + 1) /* not read (nothing committed) */

/* One input topic partition as the group sees it. */
typedef struct vg_lag_tp_s {
        const char *lt_topic;
        int         lt_partition;
        int64_t     lt_committed; /* next offset to read; -1: none */
        int64_t     lt_low;       /* log start offset */
        int64_t     lt_end;       /* log end offset */
        int64_t     lt_time;      /* out: occurred_at of the record before
                                   * lt_committed, or NONE / UNKNOWN */
} vg_lag_tp_t;

/* The group has read tp to its end. */
#define VG_LAG_AT_END(tp)                                                      \
        (((tp)->lt_committed >= 0 ? (tp)->lt_committed : (tp)->lt_low) >=      \
         (tp)->lt_end)

/* wm[p] for p < n: the watermark of partition p in the latest
 * PartitionProgress on topic.indicator_parts; VG_LAG_NONE when it has
 * none, VG_LAG_UNKNOWN when it has published no progress. */
int vg_lag_watermarks(const vg_conf_t *conf, int64_t *wm, int n,
                      char *errstr, size_t errstr_size);
/* Fills lt_time of every tps[i] (one fetch by assignment each). */
int vg_lag_topic_times(const vg_conf_t *conf, vg_lag_tp_t *tps, int n,
                       int timeout_ms, char *errstr, size_t errstr_size);
/* Index in tps of the topic that holds partition's watermark back: of the
 * topics not at their end, the one with the smallest time (one with no
 * time first); -1 when all are at their end. */
int vg_lag_holder(const vg_lag_tp_t *tps, int n, int partition);

#endif /* VG_OPS_H */
