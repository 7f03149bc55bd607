/*
 * serve_state.c - the data `vigil serve` shows: the current alerts (the
 * last record of each alert_id on the compacted alerts topic) and indicator
 * values (the last record per key on the indicators topic), kept by one
 * Kafka thread that reads both topics from the beginning and then follows.
 *
 * Until the alerts topic is read to the end it had when the thread started,
 * records only rebuild the current set; from then on every change also goes
 * to the ring of changes that /alerts/stream serves. Everything here is
 * guarded by st_lock; st_cond is broadcast on every change.
 */
#include "vg_serve.h"
#include "vg_codec.h"
#include "vg_kafka.h"
#include "vg_process.h"
#include "vg_publish.h"
#include "vg_record_json.h"
#include "vg_time.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sv_state_init(sv_state_t *st, size_t history, int64_t base) {
        memset(st, 0, sizeof(*st));
        pthread_mutex_init(&st->st_lock, NULL);
        {
                pthread_condattr_t ca;
                pthread_condattr_init(&ca);
                pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
                pthread_cond_init(&st->st_cond, &ca);
                pthread_condattr_destroy(&ca);
        }
        st->st_index = json_object();
        st->st_values = json_object();
        sv_ring_init(&st->st_ring, history, base);
        st->st_started = vg_now_ms();
}

static void alert_clear(sv_alert_t *a) {
        vg_free(a->sa_id);
        vg_free(a->sa_json);
        vg_free(a->sa_cmp);
        memset(a, 0, sizeof(*a));
}

void sv_state_free(sv_state_t *st) {
        for (size_t i = 0; i < st->st_nalerts; i++)
                alert_clear(&st->st_alerts[i]);
        vg_free(st->st_alerts);
        json_decref(st->st_index);
        json_decref(st->st_values);
        sv_ring_free(&st->st_ring);
        pthread_mutex_destroy(&st->st_lock);
        pthread_cond_destroy(&st->st_cond);
}

/* Where an alert is seen: an INDICATOR_BELOW_TARGET by the area it names,
 * a patient's alert by its kommun, whatever its other field says (a record
 * with both must not reach a second place: docs/SERVE.md). */
static void scope_of(const vg_alert_t *al, sv_scope_t *sc) {
        const char *place = vg_alert_place(al);
        bool area_alert = al->al_rule == VG_RULE_INDICATOR_BELOW_TARGET;
        char *to = area_alert ? sc->sc_area : sc->sc_kommun;
        size_t cap = area_alert ? sizeof(sc->sc_area) : sizeof(sc->sc_kommun);
        memset(sc, 0, sizeof(*sc));
        if (strlen(place) < cap)
                snprintf(to, cap, "%s", place);
        sc->sc_rule = al->al_rule;
        sc->sc_status = al->al_status;
}

/* The alert without emitted_at: what a change is judged by. */
static char *cmp_text(const char *json) {
        json_t *o = json_loads(json, 0, NULL);
        char *s, *r;
        if (!o)
                return vg_strdup(json);
        json_object_del(o, "emitted_at");
        s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
        r = vg_strdup(s ? s : "");
        free(s);
        json_decref(o);
        return r;
}

int sv_state_alert(sv_state_t *st, const vg_alert_t *al, const char *id) {
        json_t *ix = json_object_get(st->st_index, al ? al->al_alert_id : id);
        sv_alert_t *a = ix ? &st->st_alerts[json_integer_value(ix)] : NULL;
        if (!al) { /* a tombstone */
                char *js;
                json_t *o;
                if (!a)
                        return 0;
                o = json_pack("{ss}", "alert_id", a->sa_id);
                js = json_dumps(o, JSON_COMPACT);
                if (st->st_live)
                        sv_ring_push(&st->st_ring, SV_EV_REMOVED,
                                     &a->sa_scope, js);
                free(js);
                json_decref(o);
                json_object_del(st->st_index, id);
                alert_clear(a);
                return 1;
        }
        {
                char *js = vg_process_alert_json(al);
                char *cmp = cmp_text(js);
                if (a && !strcmp(a->sa_cmp, cmp)) {
                        vg_free(js);
                        vg_free(cmp);
                        return 0; /* a re-send */
                }
                if (!a) {
                        if (st->st_nalerts == st->st_cap) {
                                st->st_cap = st->st_cap ? st->st_cap * 2 : 256;
                                st->st_alerts = vg_realloc(
                                        st->st_alerts,
                                        st->st_cap * sizeof(*st->st_alerts));
                        }
                        a = &st->st_alerts[st->st_nalerts];
                        memset(a, 0, sizeof(*a));
                        json_object_set_new(
                                st->st_index, al->al_alert_id,
                                json_integer((json_int_t)st->st_nalerts++));
                        a->sa_id = vg_strdup(al->al_alert_id);
                }
                {
                        sv_scope_t sc;
                        scope_of(al, &sc);
                        /* Moved to another kommun or area (a cancelled
                         * event changed it), or under another rule (a
                         * record made by hand): those who saw it where it
                         * was, or filtered by its rule, see it go; the
                         * change goes to the new place. */
                        if (st->st_live && a->sa_json &&
                            (strcmp(sc.sc_kommun, a->sa_scope.sc_kommun) ||
                             strcmp(sc.sc_area, a->sa_scope.sc_area) ||
                             sc.sc_rule != a->sa_scope.sc_rule)) {
                                json_t *o = json_pack("{ss}", "alert_id",
                                                      a->sa_id);
                                char *rm = json_dumps(o, JSON_COMPACT);
                                sv_ring_push(&st->st_ring, SV_EV_REMOVED,
                                             &a->sa_scope, rm);
                                free(rm);
                                json_decref(o);
                        }
                        a->sa_scope = sc;
                }
                vg_free(a->sa_json);
                vg_free(a->sa_cmp);
                a->sa_json = js;
                a->sa_cmp = cmp;
                if (st->st_live)
                        sv_ring_push(&st->st_ring, SV_EV_ALERT, &a->sa_scope,
                                     js);
        }
        return 1;
}

static int sa_cmp_id(const void *x, const void *y) {
        return strcmp((*(const sv_alert_t *const *)x)->sa_id,
                      (*(const sv_alert_t *const *)y)->sa_id);
}

void sv_state_snapshot(const sv_state_t *st, const sv_ent_t *ent,
                       const sv_filter_t *fl, vg_buf_t *out, size_t *count) {
        const sv_alert_t **sel = vg_calloc(st->st_nalerts + 1, sizeof(*sel));
        size_t n = 0;
        for (size_t i = 0; i < st->st_nalerts; i++) {
                const sv_alert_t *a = &st->st_alerts[i];
                if (!a->sa_id ||
                    !sv_ent_alert(ent, a->sa_scope.sc_kommun,
                                  a->sa_scope.sc_area) ||
                    !sv_filter_match(fl, &a->sa_scope))
                        continue;
                sel[n++] = a;
        }
        if (n > 1)
                qsort(sel, n, sizeof(*sel), sa_cmp_id);
        vg_buf_puts(out, "{\"alerts\":[");
        for (size_t i = 0; i < n; i++) {
                if (i)
                        vg_buf_puts(out, ",");
                vg_buf_puts(out, sel[i]->sa_json);
        }
        vg_buf_puts(out, "]}");
        if (count)
                *count = n;
        vg_free(sel);
}

/* ------------------------------------------------------------------------
 * The Kafka thread
 */

typedef struct topic_s {
        const char *tp_name;
        int         tp_nparts;
        int64_t    *tp_high;    /* end at start, -1 once reached */
        int         tp_left;    /* partitions not yet at that end */
} topic_t;

typedef struct kctx_s {
        sv_state_t *kc_st;
        vg_codec_t *kc_codec;
        topic_t     kc_tp[2];   /* 0 alerts, 1 indicators */
} kctx_t;

static void on_alert(kctx_t *kc, const rd_kafka_message_t *m) {
        sv_state_t *st = kc->kc_st;
        vg_anyrec_t rec;
        vg_rectype_t t;
        const char *pf;
        char errstr[256];
        if (!m->payload) {
                char id[256];
                if (!m->key || m->key_len >= sizeof(id))
                        return;
                memcpy(id, m->key, m->key_len);
                id[m->key_len] = '\0';
                pthread_mutex_lock(&st->st_lock);
                if (sv_state_alert(st, NULL, id))
                        pthread_cond_broadcast(&st->st_cond);
                pthread_mutex_unlock(&st->st_lock);
                return;
        }
        if (vg_codec_decode(kc->kc_codec, m->payload, m->len, VG_REC_ALERT, &t,
                            &rec, NULL, errstr, sizeof(errstr))) {
                vg_warn(SV_CMD, "%s [%d] offset %lld: %s",
                        kc->kc_tp[0].tp_name, m->partition,
                        (long long)m->offset, errstr);
                return;
        }
        if ((pf = vg_alert_pnr_field(&rec.al))) { /* SPEC §8 */
                vg_warn(SV_CMD, "%s [%d] offset %lld: %s holds a "
                        "personnummer: not served", kc->kc_tp[0].tp_name,
                        m->partition, (long long)m->offset, pf);
                /* nor its earlier version, now out of date (an id that
                 * holds one was never served) */
                pthread_mutex_lock(&st->st_lock);
                if (strcmp(pf, "alert_id") &&
                    sv_state_alert(st, NULL, rec.al.al_alert_id))
                        pthread_cond_broadcast(&st->st_cond);
                pthread_mutex_unlock(&st->st_lock);
                vg_record_clear(t, &rec);
                return;
        }
        pthread_mutex_lock(&st->st_lock);
        if (sv_state_alert(st, &rec.al, NULL))
                pthread_cond_broadcast(&st->st_cond);
        pthread_mutex_unlock(&st->st_lock);
        vg_record_clear(t, &rec);
}

static void drop_value(sv_state_t *st, const char *key) {
        pthread_mutex_lock(&st->st_lock);
        json_object_del(st->st_values, key);
        pthread_mutex_unlock(&st->st_lock);
}

static void on_value(kctx_t *kc, const rd_kafka_message_t *m) {
        sv_state_t *st = kc->kc_st;
        vg_anyrec_t rec;
        vg_rectype_t t;
        const char *why;
        char errstr[256], key[512];
        /* A tombstone: the row no longer exists. A record that cannot be
         * read or served (below) replaces its key's row too: the value
         * before it is no longer the topic's. */
        snprintf(key, sizeof(key), "%.*s", (int)m->key_len,
                 m->key ? (const char *)m->key : "");
        if (!m->payload) {
                drop_value(st, key);
                return;
        }
        if (vg_codec_decode(kc->kc_codec, m->payload, m->len, VG_REC_IVALUE,
                            &t, &rec, NULL, errstr, sizeof(errstr))) {
                vg_warn(SV_CMD, "%s [%d] offset %lld: %s",
                        kc->kc_tp[1].tp_name, m->partition,
                        (long long)m->offset, errstr);
                drop_value(st, key);
                return;
        }
        if ((why = vg_pub_cell_refused(rec.iv.iv_indicator, rec.iv.iv_area,
                                       rec.iv.iv_period,
                                       rec.iv.iv_breakdown)) ||
            (why = vg_pub_figures_refused(rec.iv.iv_indicator,
                                          rec.iv.iv_numerator,
                                          rec.iv.iv_denominator.set,
                                          rec.iv.iv_denominator.v))) {
                vg_warn(SV_CMD, "%s [%d] offset %lld: a value that %s (not "
                        "served)", kc->kc_tp[1].tp_name, m->partition,
                        (long long)m->offset, why);
                vg_record_clear(t, &rec);
                drop_value(st, key);
                return;
        }
        /* The topic's key (SPEC §2), so that a tombstone finds its row. */
        snprintf(key, sizeof(key), "%s|%s|%s|%s", rec.iv.iv_indicator,
                 rec.iv.iv_area, rec.iv.iv_period,
                 rec.iv.iv_breakdown ? rec.iv.iv_breakdown : "all");
        {
                json_t *o = vg_ivalue_json(&rec.iv);
                pthread_mutex_lock(&st->st_lock);
                json_object_set_new(st->st_values, key, o);
                pthread_mutex_unlock(&st->st_lock);
        }
        vg_record_clear(t, &rec);
}

/* Marks partition p of topic i as read to its starting end when it is;
 * updates st_live and st_ready. */
static void reached(kctx_t *kc, int i, const rd_kafka_message_t *m) {
        topic_t *tp = &kc->kc_tp[i];
        sv_state_t *st = kc->kc_st;
        int p = m->partition;
        if (p < 0 || p >= tp->tp_nparts || tp->tp_high[p] < 0)
                return;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF
                    ? m->offset < tp->tp_high[p]
                    : m->offset + 1 < tp->tp_high[p])
                return;
        tp->tp_high[p] = -1;
        if (--tp->tp_left > 0)
                return;
        pthread_mutex_lock(&st->st_lock);
        st->st_live = kc->kc_tp[0].tp_left == 0;
        st->st_ready = st->st_live && kc->kc_tp[1].tp_left == 0;
        if (st->st_ready)
                vg_info(SV_CMD, "read %s and %s: %zu alerts, %zu indicator "
                        "values; serving", kc->kc_tp[0].tp_name,
                        kc->kc_tp[1].tp_name, json_object_size(st->st_index),
                        json_object_size(st->st_values));
        pthread_cond_broadcast(&st->st_cond);
        pthread_mutex_unlock(&st->st_lock);
}

/* Assigns every partition of both topics from the beginning and notes
 * where each ends now. */
static vg_err_t assign_all(kctx_t *kc, rd_kafka_t *rk, char *errstr,
                           size_t errstr_size) {
        rd_kafka_topic_partition_list_t *l =
                rd_kafka_topic_partition_list_new(16);
        vg_err_t err = VG_OK;
        for (int i = 0; i < 2 && !err; i++) {
                topic_t *tp = &kc->kc_tp[i];
                char e[256];
                tp->tp_nparts = vg_kafka_partition_count(rk, tp->tp_name,
                                                         10000, e, sizeof(e));
                if (tp->tp_nparts < 0) {
                        err = vg_seterr(errstr, errstr_size, VG_ERR_KAFKA,
                                        "%s", e);
                        break;
                }
                tp->tp_high = vg_calloc((size_t)tp->tp_nparts + 1,
                                        sizeof(*tp->tp_high));
                for (int p = 0; p < tp->tp_nparts; p++) {
                        int64_t lo;
                        if (vg_kafka_query_ends(rk, tp->tp_name, p, &lo,
                                                &tp->tp_high[p], 10000)) {
                                err = vg_seterr(errstr, errstr_size,
                                                VG_ERR_KAFKA,
                                                "cannot read the end of %s "
                                                "[%d]", tp->tp_name, p);
                                break;
                        }
                        if (tp->tp_high[p] > lo)
                                tp->tp_left++;
                        else
                                tp->tp_high[p] = -1;
                        rd_kafka_topic_partition_list_add(l, tp->tp_name, p)
                                ->offset = RD_KAFKA_OFFSET_BEGINNING;
                }
        }
        if (!err && rd_kafka_assign(rk, l))
                err = vg_seterr(errstr, errstr_size, VG_ERR_KAFKA,
                                "cannot assign %s and %s",
                                kc->kc_tp[0].tp_name, kc->kc_tp[1].tp_name);
        rd_kafka_topic_partition_list_destroy(l);
        return err;
}

typedef struct thr_s {
        sv_state_t  *th_st;
        rd_kafka_t  *th_rk;
        kctx_t       th_kc;
} thr_t;

static void *kafka_thread(void *arg) {
        thr_t *th = arg;
        sv_state_t *st = th->th_st;
        kctx_t *kc = &th->th_kc;
        for (;;) {
                rd_kafka_message_t *m;
                bool stop;
                pthread_mutex_lock(&st->st_lock);
                stop = st->st_stop;
                pthread_mutex_unlock(&st->st_lock);
                if (stop)
                        break;
                if (!(m = rd_kafka_consumer_poll(th->th_rk, 200)))
                        continue;
                {
                        const char *tn = m->rkt ? rd_kafka_topic_name(m->rkt)
                                                : "";
                        int i = !strcmp(tn, kc->kc_tp[0].tp_name) ? 0 : 1;
                        if (!m->err)
                                (i == 0 ? on_alert : on_value)(kc, m);
                        else if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                                vg_warn(SV_CMD, "%s: %s", tn,
                                        rd_kafka_message_errstr(m));
                        if (m->rkt && (!m->err ||
                                       m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF))
                                reached(kc, i, m);
                }
                rd_kafka_message_destroy(m);
        }
        rd_kafka_consumer_close(th->th_rk);
        rd_kafka_destroy(th->th_rk);
        vg_codec_destroy(kc->kc_codec);
        for (int i = 0; i < 2; i++)
                vg_free(kc->kc_tp[i].tp_high);
        vg_free(th);
        return NULL;
}

vg_err_t sv_state_start(sv_state_t *st, const vg_conf_t *conf, char *errstr,
                        size_t errstr_size) {
        thr_t *th = vg_calloc(1, sizeof(*th));
        rd_kafka_conf_t *kconf = NULL;
        kctx_t *kc = &th->th_kc;
        bool ready;
        th->th_st = st;
        kc->kc_st = st;
        st->st_conf = conf;
        kc->kc_tp[0].tp_name = vg_conf_str(conf, "topic.alerts");
        kc->kc_tp[1].tp_name = vg_conf_str(conf, "topic.indicators");
        if (!(kc->kc_codec = vg_codec_new(errstr, errstr_size)))
                goto fail;
        if (!(kconf = vg_kafka_conf(conf, errstr, errstr_size)) ||
            vg_kafka_set(kconf, "group.id", "vigil-serve", errstr,
                         errstr_size) ||
            vg_kafka_set(kconf, "enable.auto.commit", "false", errstr,
                         errstr_size) ||
            vg_kafka_set(kconf, "enable.partition.eof", "true", errstr,
                         errstr_size))
                goto fail;
        if (!(th->th_rk = rd_kafka_new(RD_KAFKA_CONSUMER, kconf, errstr,
                                       errstr_size)))
                goto fail;
        kconf = NULL; /* now owned by th_rk */
        if (assign_all(kc, th->th_rk, errstr, errstr_size))
                goto fail;
        /* Empty topics are read to their end at once. */
        pthread_mutex_lock(&st->st_lock);
        st->st_live = kc->kc_tp[0].tp_left == 0;
        st->st_ready = ready = st->st_live && kc->kc_tp[1].tp_left == 0;
        pthread_mutex_unlock(&st->st_lock);
        if (ready)
                vg_info(SV_CMD, "%s and %s are empty; serving",
                        kc->kc_tp[0].tp_name, kc->kc_tp[1].tp_name);
        if (pthread_create(&st->st_thread, NULL, kafka_thread, th)) {
                vg_seterr(errstr, errstr_size, VG_ERR_INTERNAL,
                          "cannot start the Kafka thread");
                goto fail;
        }
        st->st_thread_on = true;
        return VG_OK;
fail:
        if (kconf)
                rd_kafka_conf_destroy(kconf);
        if (th->th_rk)
                rd_kafka_destroy(th->th_rk);
        vg_codec_destroy(kc->kc_codec);
        for (int i = 0; i < 2; i++)
                vg_free(kc->kc_tp[i].tp_high);
        vg_free(th);
        return VG_ERR_KAFKA;
}

void sv_state_stop(sv_state_t *st) {
        pthread_mutex_lock(&st->st_lock);
        st->st_stop = true;
        pthread_cond_broadcast(&st->st_cond);
        pthread_mutex_unlock(&st->st_lock);
        if (st->st_thread_on) {
                pthread_join(st->st_thread, NULL);
                st->st_thread_on = false;
        }
}
