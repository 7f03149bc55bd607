/*
 * vg_process_file.c - `vigil process --input`: the engine over a file, no
 * broker. Emulates the input partitions (stream time is per partition) with
 * in-memory SQLite stores, so it runs exactly the Kafka mode's code.
 */
#include "vg_process.h"
#include "vg_agg.h"
#include "vg_codec.h"
#include "vg_kafka.h"
#include "vg_partition.h"
#include "vg_lines.h"
#include "vg_meter.h"
#include "vg_record_json.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include <avro.h>

void vg_process_rules_conf(const vg_conf_t *conf, vg_rules_conf_t *rc) {
        vg_agg_rules_conf(conf, rc);
        rc->rc_retention_days = (int)vg_conf_int(conf, "rules.retention_days");
        rc->rc_max_events = (int)vg_conf_int(conf, "rules.max_patient_events");
        rc->rc_idle_ms = vg_conf_int(conf, "stream.idle_ms");
}

char *vg_process_alert_json(const vg_alert_t *al) {
        json_t *obj = vg_record_to_json(VG_REC_ALERT, al), *v;
        const char *key;
        void *tmp;
        char *s, *r;
        json_object_foreach_safe(obj, tmp, key, v) {
                if (json_is_null(v))
                        json_object_del(obj, key);
        }
        s = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER);
        r = vg_strdup(s);
        free(s);
        json_decref(obj);
        return r;
}

typedef struct drain_s {
        vg_codec_t *codec;
        json_t     *alerts;   /* alert_id -> JSON text of the last status */
        json_t     *raised;   /* alert_id -> true: was ACTIVE at some time */
        long        churn;    /* alerts raised ACTIVE, later RETRACTED */
        int         failed;
} drain_t;

static void drain_cb(const vg_outrec_t *r, void *opaque) {
        drain_t *d = opaque;
        vg_anyrec_t rec;
        vg_rectype_t t;
        char errstr[256], *js;

        if (vg_codec_decode(d->codec, r->or_value, r->or_value_len,
                            VG_REC_ALERT, &t, &rec, NULL, errstr,
                            sizeof(errstr)))
                return; /* indicator parts and DLQ rows: not for output */
        js = vg_process_alert_json(&rec.al);
        if (rec.al.al_status == VG_STATUS_ACTIVE)
                json_object_set_new(d->raised, rec.al.al_alert_id,
                                    json_true());
        else if (json_is_true(json_object_get(d->raised, rec.al.al_alert_id))) {
                d->churn++;
                json_object_set_new(d->raised, rec.al.al_alert_id,
                                    json_false());
        }
        json_object_set_new(d->alerts, rec.al.al_alert_id, json_string(js));
        vg_free(js);
        vg_record_clear(t, &rec);
}

/* Totals of all partitions, keyed as the indicators topic is
 * ("indicator|area|period|breakdown"): months and (SPEC §6.2) the quarters
 * and years that sum them. Collected unsorted, then sorted and summed. */
typedef struct total_s {
        char    *tt_key;
        int64_t  tt_num, tt_den;
        bool     tt_count;
} total_t;

typedef struct totals_s {
        total_t *ts_v;
        size_t   ts_n, ts_cap;
} totals_t;

static void total_add(totals_t *ts, const char *ind, const char *area,
                      const char *period, const char *bd, int64_t num,
                      int64_t den, bool count) {
        char full[VG_CASE_KEY_MAX + 16];
        total_t *t;
        vg_join(full, sizeof(full), '|',
                (const char *const[]){ind, area, period, bd}, 4);
        if (ts->ts_n == ts->ts_cap) {
                ts->ts_cap = ts->ts_cap ? ts->ts_cap * 2 : 4096;
                ts->ts_v = vg_realloc(ts->ts_v, sizeof(*ts->ts_v) * ts->ts_cap);
        }
        t = &ts->ts_v[ts->ts_n++];
        t->tt_key = vg_strdup(full);
        t->tt_num = num;
        t->tt_den = den;
        t->tt_count = count;
}

static void cells_cb(const char *key, int64_t num, int64_t den, bool count,
                     void *opaque) {
        totals_t *ts = opaque;
        char *k = vg_strdup(key), *save = NULL, q[8], y[5];
        char *ind = strtok_r(k, "|", &save), *area = strtok_r(NULL, "|", &save),
             *period = strtok_r(NULL, "|", &save),
             *bd = strtok_r(NULL, "|", &save);
        if (!ind || !area || !period) {
                vg_free(k);
                return;
        }
        if (!bd)
                bd = "all";
        total_add(ts, ind, area, period, bd, num, den, count);
        if (!vg_rules_period_parents(period, q, y)) {
                total_add(ts, ind, area, q, bd, num, den, count);
                total_add(ts, ind, area, y, bd, num, den, count);
        }
        vg_free(k);
}

static int total_cmp(const void *a, const void *b) {
        return strcmp(((const total_t *)a)->tt_key,
                      ((const total_t *)b)->tt_key);
}

/* Sorts by key and sums equal keys; returns how many are left. */
static size_t totals_merge(totals_t *ts) {
        size_t o = 0;
        if (ts->ts_n > 1)
                qsort(ts->ts_v, ts->ts_n, sizeof(*ts->ts_v), total_cmp);
        for (size_t i = 0; i < ts->ts_n; i++) {
                if (o && !strcmp(ts->ts_v[o - 1].tt_key, ts->ts_v[i].tt_key)) {
                        ts->ts_v[o - 1].tt_num += ts->ts_v[i].tt_num;
                        ts->ts_v[o - 1].tt_den += ts->ts_v[i].tt_den;
                        vg_free(ts->ts_v[i].tt_key);
                        continue;
                }
                ts->ts_v[o++] = ts->ts_v[i];
        }
        return ts->ts_n = o;
}

static void totals_free(totals_t *ts) {
        for (size_t i = 0; i < ts->ts_n; i++)
                vg_free(ts->ts_v[i].tt_key);
        vg_free(ts->ts_v);
}

static int key_cmp(const void *a, const void *b) {
        return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Writes the values of obj (sorted by key) as lines. */
static void write_sorted(json_t *obj, FILE *out,
                         void (*line)(const char *key, json_t *v, FILE *out,
                                      void *opaque),
                         void *opaque) {
        size_t n = json_object_size(obj), i = 0;
        const char **keys = vg_calloc(n + 1, sizeof(*keys));
        const char *key;
        json_t *v;
        json_object_foreach(obj, key, v) keys[i++] = key;
        qsort(keys, n, sizeof(*keys), key_cmp);
        for (i = 0; i < n; i++)
                line(keys[i], json_object_get(obj, keys[i]), out, opaque);
        vg_free(keys);
}

static void alert_line(const char *key, json_t *v, FILE *out, void *opaque) {
        (void)key, (void)opaque;
        fprintf(out, "%s\n", json_string_value(v));
}

/* What completeness rests on (SPEC §6.1), over all partitions. */
typedef struct progress_s {
        const vg_rules_conf_t *pg_rc;
        int64_t                pg_min_wm;      /* VG_WM_NONE: incomplete */
        int64_t                pg_data_since;  /* VG_WM_NONE: unknown */
} progress_t;

/* Writes the indicator values (merged totals, in key order). */
static void write_values(const totals_t *ts, FILE *out,
                         const progress_t *pg) {
        vg_buf_t b;
        vg_buf_init(&b);
        for (size_t i = 0; i < ts->ts_n; i++) {
                const total_t *t = &ts->ts_v[i];
                char k[VG_CASE_KEY_MAX + 16], *save = NULL;
                char *ind, *area, *period, *bd;
                vg_ivalue_t iv = {0};
                /* A row exists where the denominator (for a count: the
                 * count) is above zero (SPEC §6). */
                if (!((t->tt_count && t->tt_num > 0) ||
                      (!t->tt_count && t->tt_den > 0)))
                        continue;
                snprintf(k, sizeof(k), "%s", t->tt_key);
                ind = strtok_r(k, "|", &save);
                area = strtok_r(NULL, "|", &save);
                period = strtok_r(NULL, "|", &save);
                bd = strtok_r(NULL, "|", &save);
                iv.iv_indicator = ind;
                iv.iv_area = area;
                iv.iv_period = period;
                iv.iv_breakdown = bd ? bd : "all";
                iv.iv_numerator = t->tt_num;
                iv.iv_denominator = (vg_optl_t){!t->tt_count, t->tt_den};
                iv.iv_complete = vg_rules_complete(pg->pg_rc, ind, period,
                                                   pg->pg_min_wm);
                iv.iv_history_complete = vg_rules_history_complete(
                        pg->pg_rc, ind, period, pg->pg_data_since);
                iv.iv_data_since = (vg_optl_t){
                        pg->pg_data_since != VG_WM_NONE, pg->pg_data_since};
                vg_ivalue_put_json(&b, &iv);
                vg_buf_append(&b, "\n", 1);
                if (b.vb_len >= 1 << 16) {
                        fwrite(b.vb_data, 1, b.vb_len, out);
                        vg_buf_reset(&b);
                }
        }
        if (b.vb_len) /* (an empty buffer has no data pointer) */
                fwrite(b.vb_data, 1, b.vb_len, out);
        vg_buf_free(&b);
}

/* Where events come from: JSON Lines, or an Avro object container file
 * whose records are Vigil event records (or a union of them). */
typedef struct src_s {
        FILE              *sr_in;
        const char        *sr_name;
        vg_lines_t         sr_lines;   /* JSON Lines, bounded */
        long               sr_no;      /* line or record number */
        size_t             sr_max;     /* input.max_bytes */
        avro_file_reader_t sr_avro;    /* NULL: JSON Lines */
        avro_value_iface_t *sr_iface;
        avro_value_t       sr_value;
        vg_codec_t        *sr_codec;
} src_t;

static int src_open(src_t *sr, FILE *in, const char *name, vg_codec_t *codec,
                    char *errstr, size_t errstr_size) {
        char magic[4];
        size_t got;
        size_t max = sr->sr_max;
        memset(sr, 0, sizeof(*sr));
        sr->sr_max = max;
        sr->sr_in = in;
        sr->sr_name = name;
        sr->sr_codec = codec;
        vg_lines_init(&sr->sr_lines, in, name, sr->sr_max);
        /* Only a seekable file can be sniffed and rewound; a pipe is read
         * as JSON Lines (container files are read from files). */
        if (fseek(in, 0, SEEK_CUR))
                return 0;
        got = fread(magic, 1, 4, in);
        if (fseek(in, 0, SEEK_SET))
                return vg_seterr(errstr, errstr_size, VG_ERR_IO,
                                 "%s: cannot rewind", name), -1;
        if (got == 4 && !memcmp(magic, "Obj\x01", 4)) {
                avro_schema_t ws;
                if (avro_file_reader_fp(in, name, 0, &sr->sr_avro)) {
                        vg_seterr(errstr, errstr_size, VG_ERR_IO,
                                  "%s: not a readable Avro container file: "
                                  "%s", name, avro_strerror());
                        sr->sr_avro = NULL;
                        return -1;
                }
                ws = avro_file_reader_get_writer_schema(sr->sr_avro);
                if (!vg_codec_schema_known(codec, ws, errstr, errstr_size)) {
                        char e[512];
                        snprintf(e, sizeof(e), "%s", errstr);
                        vg_seterr(errstr, errstr_size, VG_ERR_DECODE, "%s: %s",
                                  name, e);
                        avro_schema_decref(ws);
                        return -1;
                }
                sr->sr_iface = avro_generic_class_from_schema(ws);
                avro_schema_decref(ws);
                if (sr->sr_iface &&
                    avro_generic_value_new(sr->sr_iface, &sr->sr_value)) {
                        avro_value_iface_decref(sr->sr_iface);
                        sr->sr_iface = NULL;
                }
                if (!sr->sr_iface) {
                        vg_seterr(errstr, errstr_size, VG_ERR_IO, "%s: %s",
                                  name, avro_strerror());
                        return -1;
                }
                return 0;
        }
        return 0;
}

static void src_close(src_t *sr) {
        if (sr->sr_iface) {
                avro_value_decref(&sr->sr_value);
                avro_value_iface_decref(sr->sr_iface);
        }
        if (sr->sr_avro)
                avro_file_reader_close(sr->sr_avro);
        vg_lines_free(&sr->sr_lines);
}

/* 1: *ev filled; 0: end; -1: bad record (errstr; skip it); -2: fatal.
 * ev must have room for any record (vg_anyrec_t). */
static int src_next(src_t *sr, vg_event_t *ev, char *errstr,
                    size_t errstr_size) {
        if (sr->sr_avro) {
                vg_rectype_t t;
                int r;
                avro_value_reset(&sr->sr_value);
                r = avro_file_reader_read_value(sr->sr_avro, &sr->sr_value);
                if (r == EOF)
                        return 0;
                sr->sr_no++;
                if (r) {
                        vg_seterr(errstr, errstr_size, VG_ERR_DECODE,
                                  "record %ld: %s", sr->sr_no,
                                  avro_strerror());
                        return -2;
                }
                if (vg_codec_from_value(sr->sr_codec, &sr->sr_value, &t, ev,
                                        errstr, errstr_size))
                        return -1;
                if (!VG_REC_IS_EVENT(t)) {
                        vg_record_clear(t, ev);
                        vg_seterr(errstr, errstr_size, VG_ERR_DECODE,
                                  "not a care event");
                        return -1;
                }
                return 1;
        }
        for (;;) {
                char *line;
                size_t len;
                int r = vg_lines_next(&sr->sr_lines, &line, &len, errstr,
                                      errstr_size);
                sr->sr_no = r == VG_LINES_FATAL ? sr->sr_lines.lr_lineno + 1
                                                : sr->sr_lines.lr_lineno;
                if (r == VG_LINES_END)
                        return 0;
                if (r == VG_LINES_FATAL)
                        return -2;
                if (r == VG_LINES_BAD)
                        return -1;
                if (len == 0)
                        continue;
                return vg_event_from_jsonl(line, len, ev, errstr, errstr_size)
                               ? -1
                               : 1;
        }
}

int vg_process_file(const vg_conf_t *conf, FILE *in, const char *name,
                    int partitions, FILE *alerts_out, FILE *ind_out,
                    long *invalidp) {
        vg_rules_conf_t rc;
        vg_part_topics_t topics;
        vg_codec_t *codec;
        vg_part_t **parts;
        int *batch;
        char errstr[512];
        src_t sr;
        long invalid = 0, events = 0, too_late = 0;
        int64_t pruned = 0;
        int max_events = (int)vg_conf_int(conf, "batch.max_events"), rc_ = 0;
        int64_t now = vg_now_ms();
        vg_meter_t pg_line;
        drain_t d;
        progress_t pg;
        totals_t totals = {0};

        vg_process_rules_conf(conf, &rc);
        topics.pt_alerts = vg_conf_str(conf, "topic.alerts");
        topics.pt_parts = vg_conf_str(conf, "topic.indicator_parts");
        topics.pt_dlq = vg_conf_str(conf, "topic.dlq");
        if (!(codec = vg_codec_new(errstr, sizeof(errstr)))) {
                vg_error("process", "%s", errstr);
                return 1;
        }
        memset(&sr, 0, sizeof(sr));
        sr.sr_max = (size_t)vg_conf_int(conf, "input.max_bytes");
        parts = vg_calloc((size_t)partitions, sizeof(*parts));
        batch = vg_calloc((size_t)partitions, sizeof(*batch));
        for (int p = 0; p < partitions; p++)
                if (!(parts[p] = vg_part_open(":memory:", p, &rc, codec,
                                              &topics, errstr,
                                              sizeof(errstr)))) {
                        vg_error("process", "%s", errstr);
                        rc_ = 1;
                        goto done;
                } else {
                        /* One run, no restart: state in memory only, and
                         * the counters are read at the end (no parts). */
                        vg_part_set_parts(parts[p], false);
                        vg_part_set_memory_only(parts[p]);
                }

        vg_meter_init(&pg_line, "process", "events",
                         vg_meter_file_size(in));
        if (src_open(&sr, in, name, codec, errstr, sizeof(errstr))) {
                vg_error("process", "%s", errstr);
                rc_ = 1;
                goto done;
        }
        for (;;) {
                vg_anyrec_t any;
                vg_event_t ev;
                vg_part_t *part;
                int p, r = src_next(&sr, &any.ev, errstr, sizeof(errstr));

                if (r == 1)
                        ev = any.ev;

                if (r == 0)
                        break;
                if (r == -2) {
                        vg_error("process", "%s:%ld: %s", name, sr.sr_no,
                                 errstr);
                        rc_ = 1;
                        goto done;
                }
                if (r == 1 && vg_pnr_like(ev.ev_patient_id,
                                          strlen(ev.ev_patient_id))) {
                        /* SPEC §8: not processed, and not echoed */
                        snprintf(errstr, sizeof(errstr),
                                 "patient_id looks like a personnummer: "
                                 "not processed (personal-data)");
                        r = -1;
                        vg_record_clear(ev.ev_type, &ev);
                }
                if (r == -1 ||
                    vg_event_validate(&ev, now, errstr, sizeof(errstr))) {
                        fprintf(stderr, "%s:%ld: %s\n", name, sr.sr_no,
                                errstr);
                        if (r == 1)
                                vg_record_clear(ev.ev_type, &ev);
                        invalid++;
                        continue;
                }
                p = vg_kafka_murmur2_partition(ev.ev_patient_id,
                                               strlen(ev.ev_patient_id),
                                               partitions);
                part = parts[p];
                if (vg_part_begin(part, now, errstr, sizeof(errstr))) {
                        vg_error("process", "%s", errstr);
                        vg_record_clear(ev.ev_type, &ev);
                        rc_ = 1;
                        goto done;
                }
                {
                        vg_err_t e = vg_part_event(part, &ev, errstr,
                                                   sizeof(errstr));
                        if (e == VG_ERR_INVALID) { /* too late, or the
                                                  * patient limit */
                                const char *why = vg_part_rejected(part);
                                too_late += why && !strcmp(why, "too-late");
                                fprintf(stderr, "%s:%ld: %s\n", name,
                                        sr.sr_no, errstr);
                                vg_record_clear(ev.ev_type, &ev);
                                invalid++;
                                continue;
                        }
                        if (e) {
                                vg_error("process", "%s:%ld: %s", name,
                                         sr.sr_no, errstr);
                                vg_record_clear(ev.ev_type, &ev);
                                rc_ = 1;
                                goto done;
                        }
                }
                if (++batch[p] >= max_events &&
                    vg_part_commit(part, errstr, sizeof(errstr))) {
                        vg_error("process", "%s:%ld: %s", name, sr.sr_no,
                                 errstr);
                        vg_record_clear(ev.ev_type, &ev);
                        rc_ = 1;
                        goto done;
                }
                if (batch[p] >= max_events)
                        batch[p] = 0;
                vg_record_clear(ev.ev_type, &ev);
                events++;
                if ((events & 255) == 0)
                        vg_meter_update(&pg_line, events,
                                           sr.sr_avro ? 0 : sr.sr_lines.lr_offset);
        }

        vg_meter_end(&pg_line);
        d.codec = codec;
        d.alerts = json_object();
        d.raised = json_object();
        d.churn = 0;
        d.failed = 0;
        pg.pg_rc = &rc;
        pg.pg_min_wm = INT64_MAX;
        pg.pg_data_since = INT64_MAX;
        for (int p = 0; p < partitions; p++) {
                int64_t wm, since;
                /* End of input: every event type is caught up, so the
                 * watermark is the largest topic time (SPEC §5.5) and what
                 * it makes due falls due now. */
                vg_part_end_of_input(parts[p]);
                if (vg_part_begin(parts[p], now, errstr, sizeof(errstr)) ||
                    vg_part_commit(parts[p], errstr, sizeof(errstr))) {
                        vg_error("process", "%s", errstr);
                        rc_ = 1;
                }
                /* A partition with no events has no watermark: left out. */
                if ((wm = vg_part_watermark(parts[p])) != VG_WM_NONE &&
                    wm < pg.pg_min_wm)
                        pg.pg_min_wm = wm;
                if ((since = vg_part_data_since(parts[p])) != VG_WM_NONE &&
                    since < pg.pg_data_since)
                        pg.pg_data_since = since;
                vg_part_outbox_scan(parts[p], 0, INT32_MAX, drain_cb, &d);
                vg_part_cells(parts[p], cells_cb, &totals);
        }
        if (pg.pg_min_wm == INT64_MAX)
                pg.pg_min_wm = VG_WM_NONE;
        if (pg.pg_data_since == INT64_MAX)
                pg.pg_data_since = VG_WM_NONE;
        if (alerts_out)
                write_sorted(d.alerts, alerts_out, alert_line, NULL);
        totals_merge(&totals);
        if (ind_out)
                write_values(&totals, ind_out, &pg);
        for (int p = 0; p < partitions; p++)
                pruned += vg_part_stats(parts[p])->ps_pruned;
        vg_info("process",
                "%s: %ld events, %ld invalid lines (%ld of them too late), "
                "%zu alerts (%ld raised and later retracted), %zu indicator "
                "cells, %d partition(s), %lld events pruned by retention",
                name, events, invalid, too_late, json_object_size(d.alerts),
                d.churn, totals.ts_n, partitions, (long long)pruned);
        json_decref(d.alerts);
        json_decref(d.raised);
        totals_free(&totals);
done:
        for (int p = 0; p < partitions; p++)
                vg_part_close(parts[p]);
        vg_free(parts);
        vg_free(batch);
        src_close(&sr);
        vg_codec_destroy(codec);
        if (invalidp)
                *invalidp = invalid;
        return rc_;
}
