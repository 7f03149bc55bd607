/*
 * lag_time.c - the event-time part of `vigil lag` for the processor's
 * group (SPEC §5.5): per input partition the watermark the processor last
 * published (its PartitionProgress on the indicator-parts topic), and per
 * input topic partition the occurred_at of the last record the group has
 * committed past, whether the group is at the topic's end, and which topic
 * holds the watermark back. A source system that has stalled shows as the
 * one topic whose time falls behind the others.
 *
 * Read only: the parts topic is read to its end by a reader outside the
 * group, and one record per input topic partition (the one before the
 * committed offset) is fetched by assignment, never by subscription.
 */
#include "vg_codec.h"
#include "vg_kafka.h"
#include "vg_ops.h"
#include "vg_time.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct progress_ctx_s {
        vg_codec_t *pc_codec;
        int64_t    *pc_wm;      /* [n] watermark, VG_LAG_NONE if none */
        int         pc_n;
} progress_ctx_t;

static void progress_cb(const rd_kafka_message_t *m, void *opaque) {
        progress_ctx_t *pc = opaque;
        vg_anyrec_t rec;
        vg_rectype_t t;
        char errstr[256];
        if (!m->payload || m->key_len < 10 ||
            memcmp(m->key, "_progress|", 10))
                return;
        if (vg_codec_decode(pc->pc_codec, m->payload, m->len,
                            VG_REC_PROGRESS, &t, &rec, NULL, errstr,
                            sizeof(errstr)))
                return;
        /* A processor sends a copy to every partition of the topic: the
         * newest is the largest (a watermark never moves back). */
        if (rec.pp.pp_partition >= 0 && rec.pp.pp_partition < pc->pc_n &&
            rec.pp.pp_watermark.set &&
            (pc->pc_wm[rec.pp.pp_partition] == VG_LAG_NONE ||
             rec.pp.pp_watermark.v > pc->pc_wm[rec.pp.pp_partition]))
                pc->pc_wm[rec.pp.pp_partition] = rec.pp.pp_watermark.v;
        vg_record_clear(t, &rec);
}

int vg_lag_watermarks(const vg_conf_t *conf, int64_t *wm, int n,
                      char *errstr, size_t errstr_size) {
        progress_ctx_t pc;
        int rc;
        for (int p = 0; p < n; p++)
                wm[p] = VG_LAG_UNKNOWN;
        if (!(pc.pc_codec = vg_codec_new(errstr, errstr_size)))
                return -1;
        pc.pc_wm = wm;
        pc.pc_n = n;
        rc = vg_kafka_read_topic(conf, vg_conf_str(conf, "topic.indicator_parts"),
                                 0, NULL, progress_cb, &pc, errstr,
                                 errstr_size);
        vg_codec_destroy(pc.pc_codec);
        return rc;
}

int vg_lag_topic_times(const vg_conf_t *conf, vg_lag_tp_t *tps, int n,
                       int timeout_ms, char *errstr, size_t errstr_size) {
        rd_kafka_conf_t *kconf = vg_kafka_conf(conf, errstr, errstr_size);
        rd_kafka_topic_partition_list_t *l = NULL;
        rd_kafka_t *rk = NULL;
        vg_codec_t *codec = NULL;
        int rc = -1, left = 0;
        int64_t until;

        for (int i = 0; i < n; i++)
                tps[i].lt_time = VG_LAG_UNKNOWN;
        if (!kconf ||
            vg_kafka_set(kconf, "group.id", "vigil-lag-reader", errstr,
                         errstr_size) ||
            vg_kafka_set(kconf, "enable.auto.commit", "false", errstr,
                         errstr_size) ||
            !(codec = vg_codec_new(errstr, errstr_size)))
                goto out;
        if (!(rk = rd_kafka_new(RD_KAFKA_CONSUMER, kconf, errstr,
                                errstr_size)))
                goto out;
        kconf = NULL;
        l = rd_kafka_topic_partition_list_new(n > 0 ? n : 1);
        for (int i = 0; i < n; i++)
                if (tps[i].lt_committed > 0) {
                        rd_kafka_topic_partition_list_add(
                                l, tps[i].lt_topic, tps[i].lt_partition)
                                ->offset = tps[i].lt_committed - 1;
                        left++;
                }
        if (!left) {
                rc = 0;
                goto out;
        }
        if (rd_kafka_assign(rk, l)) {
                vg_seterr(errstr, errstr_size, VG_ERR_KAFKA,
                          "cannot assign the input topics");
                goto out;
        }
        until = vg_now_ms() + timeout_ms;
        while (left > 0 && vg_now_ms() < until) {
                rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
                vg_anyrec_t rec;
                vg_rectype_t t;
                char e[256];
                if (!m)
                        continue;
                for (int i = 0; !m->err && i < n; i++) {
                        vg_lag_tp_t *tp = &tps[i];
                        if (tp->lt_time != VG_LAG_UNKNOWN ||
                            tp->lt_partition != m->partition ||
                            m->offset != tp->lt_committed - 1 ||
                            strcmp(tp->lt_topic, rd_kafka_topic_name(m->rkt)))
                                continue;
                        left--;
                        tp->lt_time = VG_LAG_NONE; /* not a valid event */
                        if (!vg_codec_decode(codec, m->payload, m->len, -1,
                                             &t, &rec, NULL, e, sizeof(e))) {
                                if (VG_REC_IS_EVENT(t))
                                        tp->lt_time = rec.ev.ev_occurred_at;
                                vg_record_clear(t, &rec);
                        }
                }
                rd_kafka_message_destroy(m);
        }
        rc = 0;
out:
        if (kconf)
                rd_kafka_conf_destroy(kconf);
        if (l)
                rd_kafka_topic_partition_list_destroy(l);
        if (rk) {
                rd_kafka_consumer_close(rk);
                rd_kafka_destroy(rk);
        }
        vg_codec_destroy(codec);
        return rc;
}

int vg_lag_holder(const vg_lag_tp_t *tps, int n, int partition) {
        int best = -1;
        for (int i = 0; i < n; i++) {
                const vg_lag_tp_t *tp = &tps[i];
                if (tp->lt_partition != partition || VG_LAG_AT_END(tp))
                        continue;
                if (tp->lt_time <= VG_LAG_UNKNOWN) /* nothing read yet */
                        return i;
                if (best < 0 || tp->lt_time < tps[best].lt_time)
                        best = i;
        }
        return best;
}
