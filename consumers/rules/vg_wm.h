/*
 * vg_wm.h - the watermark of one partition (SPEC §5.5): pure bookkeeping of
 * what the consumer has read, no clock and no I/O (the caller passes the
 * wall-clock time it reads).
 *
 * Per input topic of the partition it keeps the topic time (the largest
 * occurred_at of any valid record consumed from it) and whether the topic
 * is at its end (a partition-EOF seen, and when). A topic is caught up once
 * it has been at its end, with no record since, for idle_ms. Then:
 *
 *   - a topic that has delivered nothing and is not caught up holds the
 *     watermark back entirely (no watermark yet, or no progress);
 *   - otherwise the watermark is the smallest topic time among the topics
 *     that are not caught up, or the largest topic time when all are;
 *   - it never moves back.
 *
 * File mode feeds the same code: each event type is a topic, the lines in
 * order are the consumption order, and vg_wm_end_of_input() marks every
 * topic caught up at the end.
 */
#ifndef VG_WM_H
#define VG_WM_H

#include "vg_common.h"

#define VG_WM_MAX_TOPICS 8
#define VG_WM_NONE INT64_MIN /* no watermark / no topic time */

typedef struct vg_wm_topic_s {
        int64_t wt_time;    /* topic time, epoch ms; VG_WM_NONE: nothing yet */
        bool    wt_eof;     /* at its end, no record since wt_eof_at */
        int64_t wt_eof_at;  /* wall-clock ms it reached its end */
} vg_wm_topic_t;

typedef struct vg_wm_s {
        int            wm_ntopics;                  /* input topics */
        vg_wm_topic_t  wm_topics[VG_WM_MAX_TOPICS]; /* by topic index */
        int64_t        wm_idle_ms;                  /* stream.idle_ms */
        int64_t        wm_value;                    /* watermark or NONE */
} vg_wm_t;

/* No topic time, nothing at its end, no watermark. Can't fail. */
void vg_wm_init(vg_wm_t *wm, int ntopics, int64_t idle_ms);

/* A valid record of topic was consumed (duplicates and cancellations
 * included): raises the topic time, and the topic is no longer at its
 * end. */
void vg_wm_record(vg_wm_t *wm, int topic, int64_t occurred_at);

/* The consumer reached the end of topic at wall-clock time now (a
 * partition-EOF). A repeated EOF without a record between keeps the first
 * time. */
void vg_wm_eof(vg_wm_t *wm, int topic, int64_t now);

/* A record arrived that is not valid (DLQ): the topic is not at its end,
 * but its time does not move. */
void vg_wm_activity(vg_wm_t *wm, int topic);

/* File mode: every topic is caught up, whatever the time. */
void vg_wm_end_of_input(vg_wm_t *wm);

/* Is topic caught up at wall-clock time now? */
bool vg_wm_caught_up(const vg_wm_t *wm, int topic, int64_t now);

/* Recomputes the watermark at wall-clock time now and returns it (NONE if
 * there is none yet). Never lower than before. */
int64_t vg_wm_update(vg_wm_t *wm, int64_t now);

/* Every topic caught up at now and none has delivered anything: the
 * partition is empty (its watermark stays null). */
bool vg_wm_empty(const vg_wm_t *wm, int64_t now);

/* The topic that holds the watermark at wall-clock time now: the one not
 * caught up with the smallest topic time (or that has delivered nothing);
 * -1 when every topic is caught up. */
int vg_wm_holder(const vg_wm_t *wm, int64_t now);

#endif /* VG_WM_H */
