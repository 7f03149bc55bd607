/*
 * vg_wm.c - the watermark of one partition (SPEC §5.5). See vg_wm.h.
 */
#include "vg_wm.h"

#include <string.h>

/* A file's end is caught up at any time. */
#define EOF_FOREVER (INT64_MIN / 2)

void vg_wm_init(vg_wm_t *wm, int ntopics, int64_t idle_ms) {
        memset(wm, 0, sizeof(*wm));
        if (ntopics > VG_WM_MAX_TOPICS)
                ntopics = VG_WM_MAX_TOPICS;
        wm->wm_ntopics = ntopics;
        wm->wm_idle_ms = idle_ms < 0 ? 0 : idle_ms;
        wm->wm_value = VG_WM_NONE;
        for (int t = 0; t < VG_WM_MAX_TOPICS; t++)
                wm->wm_topics[t].wt_time = VG_WM_NONE;
}

static vg_wm_topic_t *topic_of(vg_wm_t *wm, int topic) {
        return topic >= 0 && topic < wm->wm_ntopics ? &wm->wm_topics[topic]
                                                   : NULL;
}

void vg_wm_record(vg_wm_t *wm, int topic, int64_t occurred_at) {
        vg_wm_topic_t *wt = topic_of(wm, topic);
        if (!wt)
                return;
        if (occurred_at > wt->wt_time)
                wt->wt_time = occurred_at;
        wt->wt_eof = false;
}

void vg_wm_activity(vg_wm_t *wm, int topic) {
        vg_wm_topic_t *wt = topic_of(wm, topic);
        if (wt)
                wt->wt_eof = false;
}

void vg_wm_eof(vg_wm_t *wm, int topic, int64_t now) {
        vg_wm_topic_t *wt = topic_of(wm, topic);
        if (!wt || wt->wt_eof)
                return;
        wt->wt_eof = true;
        wt->wt_eof_at = now;
}

void vg_wm_end_of_input(vg_wm_t *wm) {
        for (int t = 0; t < wm->wm_ntopics; t++) {
                wm->wm_topics[t].wt_eof = true;
                wm->wm_topics[t].wt_eof_at = EOF_FOREVER;
        }
}

bool vg_wm_caught_up(const vg_wm_t *wm, int topic, int64_t now) {
        const vg_wm_topic_t *wt;
        if (topic < 0 || topic >= wm->wm_ntopics)
                return false;
        wt = &wm->wm_topics[topic];
        return wt->wt_eof && (wt->wt_eof_at == EOF_FOREVER ||
                              now - wt->wt_eof_at >= wm->wm_idle_ms);
}

int64_t vg_wm_update(vg_wm_t *wm, int64_t now) {
        int64_t min_open = INT64_MAX, max_all = VG_WM_NONE, cand;
        bool open = false;

        for (int t = 0; t < wm->wm_ntopics; t++) {
                int64_t tt = wm->wm_topics[t].wt_time;
                if (vg_wm_caught_up(wm, t, now)) {
                        if (tt > max_all)
                                max_all = tt;
                        continue;
                }
                if (tt == VG_WM_NONE) /* delivered nothing: holds it back */
                        return wm->wm_value;
                open = true;
                if (tt < min_open)
                        min_open = tt;
        }
        cand = open ? min_open : max_all;
        if (cand > wm->wm_value)
                wm->wm_value = cand;
        return wm->wm_value;
}

bool vg_wm_empty(const vg_wm_t *wm, int64_t now) {
        for (int t = 0; t < wm->wm_ntopics; t++)
                if (wm->wm_topics[t].wt_time != VG_WM_NONE ||
                    !vg_wm_caught_up(wm, t, now))
                        return false;
        return true;
}

int vg_wm_holder(const vg_wm_t *wm, int64_t now) {
        int best = -1;
        for (int t = 0; t < wm->wm_ntopics; t++) {
                int64_t tt = wm->wm_topics[t].wt_time;
                if (vg_wm_caught_up(wm, t, now))
                        continue;
                if (tt == VG_WM_NONE)
                        return t;
                if (best < 0 || tt < wm->wm_topics[best].wt_time)
                        best = t;
        }
        return best;
}
