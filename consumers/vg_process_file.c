/*
 * vg_process_file.c - `vigil process --input`: the engine over a file, no
 * broker. Emulates the input partitions (stream time is per partition) with
 * in-memory SQLite stores, so it runs exactly the Kafka mode's code.
 */
#include "vg_process.h"
#include "vg_codec.h"
#include "vg_kafka.h"
#include "vg_partition.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

void vg_process_rules_conf(const vg_conf_t *conf, vg_rules_conf_t *rc) {
        vg_rules_conf_default(rc);
        vg_tz_parse(vg_conf_str(conf, "timezone"), &rc->rc_tz);
        rc->rc_window_days = (int)vg_conf_int(conf, "rules.window_days");
        rc->rc_sip_deadline_ms =
                vg_conf_int(conf, "rules.sip_deadline_hours") * VG_MS_PER_HOUR;
        rc->rc_retention_days = (int)vg_conf_int(conf, "rules.retention_days");
        rc->rc_eol_days = (int)vg_conf_int(conf, "rules.eol_days");
        rc->rc_sip_before_death_days =
                (int)vg_conf_int(conf, "rules.sip_before_death_days");
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
        json_object_set_new(d->alerts, rec.al.al_alert_id, json_string(js));
        vg_free(js);
        vg_record_clear(t, &rec);
}

/* Totals of all partitions: key -> [num, den, count]. */
static void cells_cb(const char *key, int64_t num, int64_t den, bool count,
                     void *opaque) {
        json_t *tot = opaque, *cur = json_object_get(tot, key);
        if (!cur) {
                json_object_set_new(tot, key,
                                    json_pack("[IIb]", (json_int_t)num,
                                              (json_int_t)den, count));
                return;
        }
        json_array_set_new(cur, 0,
                           json_integer(json_integer_value(
                                                json_array_get(cur, 0)) +
                                        num));
        json_array_set_new(cur, 1,
                           json_integer(json_integer_value(
                                                json_array_get(cur, 1)) +
                                        den));
}

static int key_cmp(const void *a, const void *b) {
        return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Writes the values of obj (sorted by key) as lines. */
static void write_sorted(json_t *obj, FILE *out,
                         void (*line)(const char *key, json_t *v, FILE *out)) {
        size_t n = json_object_size(obj), i = 0;
        const char **keys = vg_calloc(n + 1, sizeof(*keys));
        const char *key;
        json_t *v;
        json_object_foreach(obj, key, v) keys[i++] = key;
        qsort(keys, n, sizeof(*keys), key_cmp);
        for (i = 0; i < n; i++)
                line(keys[i], json_object_get(obj, keys[i]), out);
        vg_free(keys);
}

static void alert_line(const char *key, json_t *v, FILE *out) {
        (void)key;
        fprintf(out, "%s\n", json_string_value(v));
}

static void value_line(const char *key, json_t *v, FILE *out) {
        char *k = vg_strdup(key), *save = NULL;
        char *ind = strtok_r(k, "|", &save), *area = strtok_r(NULL, "|", &save),
             *period = strtok_r(NULL, "|", &save);
        json_int_t num = json_integer_value(json_array_get(v, 0));
        json_int_t den = json_integer_value(json_array_get(v, 1));
        int count = json_is_true(json_array_get(v, 2));
        json_t *o;
        char *s;

        /* A row exists where the denominator (for a count: the count) is
         * above zero (SPEC §6). */
        if ((count && num > 0) || (!count && den > 0)) {
                o = json_object();
                json_object_set_new(o, "indicator", json_string(ind));
                json_object_set_new(o, "area", json_string(area));
                json_object_set_new(o, "period", json_string(period));
                json_object_set_new(o, "numerator", json_integer(num));
                json_object_set_new(o, "denominator",
                                    count ? json_null() : json_integer(den));
                s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
                fprintf(out, "%s\n", s);
                free(s);
                json_decref(o);
        }
        vg_free(k);
}

int vg_process_file(const vg_conf_t *conf, FILE *in, const char *name,
                    int partitions, FILE *alerts_out, FILE *ind_out,
                    long *invalidp) {
        vg_rules_conf_t rc;
        vg_part_topics_t topics;
        vg_codec_t *codec;
        vg_part_t **parts;
        int *batch;
        char errstr[512], *line = NULL;
        size_t cap = 0;
        ssize_t n;
        long lineno = 0, invalid = 0, events = 0;
        int max_events = (int)vg_conf_int(conf, "batch.max_events"), rc_ = 0;
        int64_t now = vg_now_ms();
        drain_t d;
        json_t *totals;

        vg_process_rules_conf(conf, &rc);
        topics.pt_alerts = vg_conf_str(conf, "topic.alerts");
        topics.pt_parts = vg_conf_str(conf, "topic.indicator_parts");
        topics.pt_dlq = vg_conf_str(conf, "topic.dlq");
        if (!(codec = vg_codec_new(errstr, sizeof(errstr)))) {
                vg_error("process", "%s", errstr);
                return 1;
        }
        parts = vg_calloc((size_t)partitions, sizeof(*parts));
        batch = vg_calloc((size_t)partitions, sizeof(*batch));
        for (int p = 0; p < partitions; p++)
                if (!(parts[p] = vg_part_open(":memory:", p, &rc, codec,
                                              &topics, errstr,
                                              sizeof(errstr)))) {
                        vg_error("process", "%s", errstr);
                        rc_ = 1;
                        goto done;
                }

        while ((n = getline(&line, &cap, in)) != -1) {
                vg_event_t ev;
                vg_part_t *part;
                int p;

                lineno++;
                while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
                        line[--n] = '\0';
                if (n == 0)
                        continue;
                if (vg_event_from_jsonl(line, (size_t)n, &ev, errstr,
                                        sizeof(errstr)) ||
                    vg_event_validate(&ev, now, errstr, sizeof(errstr))) {
                        fprintf(stderr, "%s:%ld: %s\n", name, lineno, errstr);
                        vg_record_clear(ev.ev_type, &ev);
                        invalid++;
                        continue;
                }
                p = vg_kafka_murmur2_partition(ev.ev_patient_id,
                                               strlen(ev.ev_patient_id),
                                               partitions);
                part = parts[p];
                if (vg_part_begin(part, now, errstr, sizeof(errstr)) ||
                    vg_part_event(part, &ev, errstr, sizeof(errstr)) ||
                    (++batch[p] >= max_events &&
                     vg_part_commit(part, errstr, sizeof(errstr)))) {
                        vg_error("process", "%s:%ld: %s", name, lineno,
                                 errstr);
                        vg_record_clear(ev.ev_type, &ev);
                        rc_ = 1;
                        goto done;
                }
                if (batch[p] >= max_events)
                        batch[p] = 0;
                vg_record_clear(ev.ev_type, &ev);
                events++;
        }
        if (ferror(in)) {
                vg_error("process", "%s: read error", name);
                rc_ = 1;
                goto done;
        }

        d.codec = codec;
        d.alerts = json_object();
        d.failed = 0;
        totals = json_object();
        for (int p = 0; p < partitions; p++) {
                if (vg_part_commit(parts[p], errstr, sizeof(errstr))) {
                        vg_error("process", "%s", errstr);
                        rc_ = 1;
                }
                vg_part_outbox_scan(parts[p], 0, INT32_MAX, drain_cb, &d);
                vg_part_cells(parts[p], cells_cb, totals);
        }
        if (alerts_out)
                write_sorted(d.alerts, alerts_out, alert_line);
        if (ind_out)
                write_sorted(totals, ind_out, value_line);
        vg_info("process",
                "%s: %ld events, %ld invalid lines, %zu alerts, %zu indicator "
                "cells, %d partition(s)",
                name, events, invalid, json_object_size(d.alerts),
                json_object_size(totals), partitions);
        json_decref(d.alerts);
        json_decref(totals);
done:
        for (int p = 0; p < partitions; p++)
                vg_part_close(parts[p]);
        vg_free(parts);
        vg_free(batch);
        vg_codec_destroy(codec);
        free(line);
        if (invalidp)
                *invalidp = invalid;
        return rc_;
}
