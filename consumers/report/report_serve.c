/*
 * report_serve.c - vg_report.h: the page of `vigil report` from values and
 * alerts held by the caller (vigil serve), rather than read by the command
 * from topics or files. The same model, checks and drawing as report.c.
 */
#include "report_model.h"
#include "vg_report.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define SERVE_MAX_COUNT 1000000000000000LL /* as report_data.c */

static pthread_mutex_t render_lock = PTHREAD_MUTEX_INITIALIZER;

static bool quarter_or_year(const char *p) {
        size_t n = strlen(p);
        return n == 4 || (n == 7 && p[5] == 'Q');
}

/* As report_data.c's put_value: the value if it can be drawn. The
 * caller's object itself, shared by both maps (nothing of the page
 * changes a value object). */
static void put_value(rep_t *r, const char *key, json_t *o) {
        const char *ind = json_string_value(json_object_get(o, "indicator"));
        const char *area = json_string_value(json_object_get(o, "area"));
        const char *period = json_string_value(json_object_get(o, "period"));
        json_t *jd = json_object_get(o, "denominator");
        json_int_t num = json_integer_value(json_object_get(o, "numerator"));
        if (!ind || !*ind || !area || !period || !rp_valid_area(area) ||
            (!rp_valid_period(period) && !quarter_or_year(period)) ||
            num < 0 || num > SERVE_MAX_COUNT ||
            (json_is_integer(jd) && (json_integer_value(jd) < 0 ||
                                     json_integer_value(jd) >
                                             SERVE_MAX_COUNT)))
                return;
        json_object_set(r->rp_all_js, key, o);
        if (!quarter_or_year(period))
                json_object_set(r->rp_rows_js, key, o);
}

/* The source of a served page: the topic, not the broker's address (a
 * caller of vigil serve has no business with the network behind it). */
static void kafka_source(const rep_t *r, const char *topic, char *buf,
                         size_t size) {
        snprintf(buf, size, rp_tf(r, "Kafka topic %s"), topic);
}

/* Values taken between two looks at the client (rp_stop). */
#define LOOK_EVERY 4096

bool vg_report_render(const vg_report_in_t *in, vg_buf_t *out) {
        rep_t r;
        const char *key;
        json_t *o;
        size_t len, n = 0;
        bool drawn;

        pthread_mutex_lock(&render_lock);
        memset(&r, 0, sizeof(r));
        r.rp_conf = (vg_conf_t *)in->ri_conf;
        r.rp_lang = in->ri_lang && rp_lang_valid(in->ri_lang) ? in->ri_lang
                                                              : "sv";
        for (int i = 0; i < in->ri_nareas &&
                        i < (int)VG_ARRAY_SIZE(r.rp_sel); i++)
                r.rp_sel[r.rp_nsel++] = in->ri_areas[i];
        r.rp_from = in->ri_from;
        r.rp_to = in->ri_to;
        vg_buf_init(&r.rp_out);
        r.rp_title = rp_t(&r, "Vigil \u2013 end-of-life care report");
        r.rp_min_count = vg_conf_int(r.rp_conf, "publish.min_count");
        r.rp_min_den = vg_conf_int(r.rp_conf, "aggregate.min_denominator");
        if (vg_tz_parse(vg_conf_str(r.rp_conf, "timezone"), &r.rp_tz))
                r.rp_tz = VG_TZ_STOCKHOLM;
        r.rp_rows_js = json_object();
        r.rp_alerts_js = json_object();
        r.rp_all_js = json_object();
        r.rp_gone = in->ri_gone;
        r.rp_gone_arg = in->ri_gone_arg;
        json_object_foreach(in->ri_values, key, o) {
                if (++n % LOOK_EVERY == 0 && rp_stop(&r))
                        goto done;
                put_value(&r, key, o);
        }
        json_object_foreach(in->ri_alerts, key, o)
                json_object_set(r.rp_alerts_js, key, o);
        kafka_source(&r, vg_conf_str(r.rp_conf, "topic.indicators"),
                     r.rp_src_ind, sizeof(r.rp_src_ind));
        kafka_source(&r, vg_conf_str(r.rp_conf, "topic.alerts"),
                     r.rp_src_al, sizeof(r.rp_src_al));
        len = strlen(r.rp_src_ind);
        snprintf(r.rp_src_ind + len, sizeof(r.rp_src_ind) - len,
                 rp_tf(&r, " (%zu values)"), json_object_size(r.rp_rows_js));
        len = strlen(r.rp_src_al);
        snprintf(r.rp_src_al + len, sizeof(r.rp_src_al) - len,
                 rp_tf(&r, " (%zu alerts)"), json_object_size(r.rp_alerts_js));

        if (rp_stop(&r))
                goto done;
        rp_prepare(&r);
        if (rp_stop(&r))
                goto done;
        rp_page(&r);
        if (!rp_stop(&r))
                vg_buf_append(out, r.rp_out.vb_data ? r.rp_out.vb_data : "",
                              r.rp_out.vb_len);

done:
        drawn = !r.rp_stopped;
        for (size_t i = 0; i < r.rp_nalerts; i++)
                vg_record_clear(VG_REC_ALERT, &r.rp_alerts[i]);
        vg_free(r.rp_alerts);
        vg_free(r.rp_rows);
        vg_free(r.rp_periods);
        vg_free(r.rp_inds);
        vg_free(r.rp_areas);
        json_decref(r.rp_rows_js);
        json_decref(r.rp_alerts_js);
        json_decref(r.rp_all_js);
        json_decref(r.rp_hidden_js);
        vg_buf_free(&r.rp_out);
        pthread_mutex_unlock(&render_lock);
        return drawn;
}
