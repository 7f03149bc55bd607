/*
 * serve_views.c - the bodies `vigil serve` answers with: the current
 * alerts (/alerts), indicator values as JSON or CSV (/indicators, the
 * columns of `vigil indicators --format csv`), the report page (/report),
 * and the query check of /alerts/stream. Each shows only what the caller's
 * entitlement covers (serve_auth.c); query filters narrow that further.
 */
#include "vg_serve.h"
#include "vg_agg.h"
#include "vg_areas.h"
#include "vg_record.h"
#include "vg_report.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define JSON_T "application/json; charset=utf-8"

/* /report shares the state's value objects with the page (references,
 * not copies) and reads them after st_lock is let go: this takes a
 * jansson whose reference counts are atomic and whose reads are safe
 * from several threads. (The state never changes a value object: it
 * replaces or deletes it.) */
#if !defined(JANSSON_THREAD_SAFE_REFCOUNT) || !JANSSON_THREAD_SAFE_REFCOUNT
#error "jansson without thread-safe reference counts"
#endif

static unsigned bad_request(vg_buf_t *out, const char **ctype,
                            const char *msg) {
        json_t *o = json_pack("{ssss}", "error", "bad-request", "message",
                              msg);
        char *s = json_dumps(o, JSON_COMPACT);
        vg_buf_reset(out);
        vg_buf_puts(out, s);
        vg_buf_puts(out, "\n");
        free(s);
        json_decref(o);
        *ctype = JSON_T;
        return 400;
}

/* Query parameters: each known key at most once. */
typedef struct qchk_s {
        const char *const *qk_keys;   /* NULL-terminated */
        unsigned           qk_seen;   /* bit per key */
        char               qk_err[256];
        sv_filter_t       *qk_fl;     /* alert filters, or NULL */
} qchk_t;

static int check_param(void *arg, const char *key, const char *val) {
        qchk_t *qk = arg;
        int i;
        for (i = 0; qk->qk_keys[i]; i++)
                if (!strcmp(qk->qk_keys[i], key))
                        break;
        if (!qk->qk_keys[i]) {
                /* the key only: a value could be anything */
                snprintf(qk->qk_err, sizeof(qk->qk_err),
                         "unknown query parameter (expected one of: ");
                for (int k = 0; qk->qk_keys[k]; k++)
                        snprintf(qk->qk_err + strlen(qk->qk_err),
                                 sizeof(qk->qk_err) - strlen(qk->qk_err),
                                 "%s%s", k ? ", " : "", qk->qk_keys[k]);
                snprintf(qk->qk_err + strlen(qk->qk_err),
                         sizeof(qk->qk_err) - strlen(qk->qk_err), ")");
                return 1;
        }
        if (qk->qk_seen & (1u << i)) {
                snprintf(qk->qk_err, sizeof(qk->qk_err), "%s: given twice",
                         key);
                return 1;
        }
        qk->qk_seen |= 1u << i;
        if (qk->qk_fl && sv_filter_set(qk->qk_fl, key, val, qk->qk_err,
                                       sizeof(qk->qk_err)))
                return 1;
        return 0;
}

static const char *const alert_keys[] = {"kommun", "region", "rule", "status",
                                         NULL};
static const char *const stream_keys[] = {"kommun", "region", "rule", NULL};

unsigned sv_view_stream_query(const sv_query_t *q, sv_filter_t *fl,
                              vg_buf_t *out) {
        qchk_t qk = {stream_keys, 0, "", fl};
        const char *ctype;
        sv_filter_init(fl);
        if (q->q_each(q->q_opaque, check_param, &qk))
                return bad_request(out, &ctype, qk.qk_err);
        return 200;
}

unsigned sv_view_alerts(sv_server_t *sv, const sv_caller_t *cl,
                        const sv_query_t *q, vg_buf_t *out,
                        const char **ctype) {
        sv_filter_t fl;
        qchk_t qk = {alert_keys, 0, "", &fl};
        sv_state_t *st = sv->sv_state;
        vg_buf_t set;
        size_t n;
        char last[SV_ID_MAX];
        sv_filter_init(&fl);
        if (q->q_each(q->q_opaque, check_param, &qk))
                return bad_request(out, ctype, qk.qk_err);
        vg_buf_init(&set);
        pthread_mutex_lock(&st->st_lock);
        sv_state_snapshot(st, &cl->cl_ent, &fl, &set, &n);
        sv_ring_id(&st->st_ring, &cl->cl_ent,
                   sv_ring_count(&st->st_ring, &cl->cl_ent), last);
        pthread_mutex_unlock(&st->st_lock);
        /* last_event_id: /alerts/stream with it as Last-Event-ID goes on
         * from this very set; it counts the caller's areas' changes only
         * (serve_sse.c). */
        vg_buf_printf(out, "{\"last_event_id\":\"%s\",\"count\":%zu,",
                      last, n);
        vg_buf_puts(out, set.vb_data + 1);
        vg_buf_puts(out, "\n");
        vg_buf_free(&set);
        *ctype = JSON_T;
        return 200;
}

/* ------------------------------------------------------------------------
 * /indicators
 */

static const char *const ind_keys[] = {"indicator", "area", "period", "from",
                                       "to", "breakdown", "format", NULL};

static bool valid_month(const char *s) {
        return s && strlen(s) == 7 && isdigit((unsigned char)s[0]) &&
               isdigit((unsigned char)s[1]) && isdigit((unsigned char)s[2]) &&
               isdigit((unsigned char)s[3]) && s[4] == '-' &&
               ((s[5] == '0' && s[6] >= '1' && s[6] <= '9') ||
                (s[5] == '1' && s[6] >= '0' && s[6] <= '2'));
}

/* The kind of a period and its first month (first[8]). */
static const char *period_kind(const char *p, char *first) {
        size_t n = strlen(p);
        memset(first, 0, 8);
        memcpy(first, p, n < 7 ? n : 7);
        if (n == 4) {
                memcpy(first + 4, "-01", 3);
                return "year";
        }
        if (n == 7 && p[5] == 'Q' && p[6] >= '1' && p[6] <= '4') {
                int m = 3 * (p[6] - '1') + 1;
                first[5] = (char)('0' + m / 10);
                first[6] = (char)('0' + m % 10);
                return "quarter";
        }
        return "month";
}

static bool breakdown_matches(const char *bd, const char *dim) {
        size_t n = strlen(dim);
        if (!strcmp(dim, "any"))
                return true;
        if (!strcmp(dim, "all"))
                return !strcmp(bd, "all");
        return !strncmp(bd, dim, n) && bd[n] == ':';
}

static int key_cmp(const void *a, const void *b) {
        return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* A CSV field: quoted when it holds a comma, quote or line break, and
 * with a leading ' when a spreadsheet would take it for a formula. */
static void csv_field(vg_buf_t *out, const char *s) {
        bool quote = strpbrk(s, ",\"\r\n") != NULL;
        if (quote)
                vg_buf_puts(out, "\"");
        if (strchr("=+-@", s[0]) && s[0])
                vg_buf_puts(out, "'");
        for (; *s; s++) {
                if (*s == '"')
                        vg_buf_puts(out, "\"");
                vg_buf_append(out, s, 1);
        }
        if (quote)
                vg_buf_puts(out, "\"");
}

typedef struct indq_s {
        const char *iq_ind, *iq_area, *iq_period, *iq_from, *iq_to,
                   *iq_bd;
        bool        iq_csv;
} indq_t;

static unsigned ind_query(const sv_query_t *q, indq_t *iq, vg_buf_t *out,
                          const char **ctype) {
        qchk_t qk = {ind_keys, 0, "", NULL};
        const char *fmt;
        if (q->q_each(q->q_opaque, check_param, &qk))
                return bad_request(out, ctype, qk.qk_err);
        iq->iq_ind = q->q_get(q->q_opaque, "indicator");
        iq->iq_area = q->q_get(q->q_opaque, "area");
        iq->iq_period = q->q_get(q->q_opaque, "period");
        iq->iq_from = q->q_get(q->q_opaque, "from");
        iq->iq_to = q->q_get(q->q_opaque, "to");
        iq->iq_bd = q->q_get(q->q_opaque, "breakdown");
        fmt = q->q_get(q->q_opaque, "format");
        if (!iq->iq_period)
                iq->iq_period = "month";
        if (!iq->iq_bd)
                iq->iq_bd = "all";
        if (strcmp(iq->iq_period, "month") && strcmp(iq->iq_period, "quarter")
            && strcmp(iq->iq_period, "year") && strcmp(iq->iq_period, "all"))
                return bad_request(out, ctype, "period: expected month, "
                                   "quarter, year or all");
        if (strcmp(iq->iq_bd, "all") && strcmp(iq->iq_bd, "age") &&
            strcmp(iq->iq_bd, "sex") && strcmp(iq->iq_bd, "diagnosis") &&
            strcmp(iq->iq_bd, "residence") && strcmp(iq->iq_bd, "any"))
                return bad_request(out, ctype, "breakdown: expected all, age, "
                                   "sex, diagnosis, residence or any");
        if ((iq->iq_from && !valid_month(iq->iq_from)) ||
            (iq->iq_to && !valid_month(iq->iq_to)))
                return bad_request(out, ctype, "from, to: expected YYYY-MM");
        if (iq->iq_area && strcmp(iq->iq_area, "SE") &&
            !vg_areas_name(iq->iq_area))
                return bad_request(out, ctype, "area: expected a kommun "
                                   "(0484), a region (04) or SE");
        /* (each value is matched while the state is locked) */
        if (iq->iq_ind && !sv_glob_valid(iq->iq_ind)) {
                char msg[128];
                snprintf(msg, sizeof(msg), "indicator: expected a glob of at "
                         "most %d bytes and %d wildcards (*, ?, [...]; no "
                         "[:class:])",
                         SV_GLOB_MAX, SV_GLOB_WILD);
                return bad_request(out, ctype, msg);
        }
        if (fmt && strcmp(fmt, "json") && strcmp(fmt, "csv"))
                return bad_request(out, ctype, "format: expected json or "
                                   "csv");
        iq->iq_csv = fmt ? !strcmp(fmt, "csv")
                         : q->q_accept && strstr(q->q_accept, "text/csv") &&
                                   !strstr(q->q_accept, "application/json");
        return 200;
}

/* One row in the CSV's columns (JSON: the same names). */
static void put_row(sv_server_t *sv, const indq_t *iq, json_t *o,
                    vg_buf_t *out, size_t *shown) {
        const char *ind = json_string_value(json_object_get(o, "indicator"));
        const char *area = json_string_value(json_object_get(o, "area"));
        const char *period = json_string_value(json_object_get(o, "period"));
        const char *bd = json_string_value(json_object_get(o, "breakdown"));
        const char *since = json_string_value(json_object_get(o,
                                                              "data_since"));
        const char *name;
        json_t *jd = json_object_get(o, "denominator");
        json_int_t num = json_integer_value(json_object_get(o, "numerator"));
        json_int_t den = json_integer_value(jd);
        bool has_den = json_is_integer(jd), missed;
        bool complete = json_is_true(json_object_get(o, "complete"));
        bool hist = json_is_true(json_object_get(o, "history_complete"));
        vg_target_t tg;
        char first[8];
        if (!ind || !area || !period)
                return;
        bd = bd ? bd : "all";
        if (iq->iq_ind && !sv_glob_match(iq->iq_ind, ind))
                return;
        if (iq->iq_area && strcmp(iq->iq_area, area))
                return;
        {
                const char *k = period_kind(period, first);
                if (strcmp(iq->iq_period, "all") && strcmp(iq->iq_period, k))
                        return;
                if ((iq->iq_from && strcmp(first, iq->iq_from) < 0) ||
                    (iq->iq_to && strcmp(first, iq->iq_to) > 0))
                        return;
        }
        if (!breakdown_matches(bd, iq->iq_bd) ||
            (has_den ? den <= 0 : num <= 0))
                return;
        tg = vg_agg_target(sv->sv_conf, ind);
        /* A preliminary value is not a breach (SPEC §5.4). */
        missed = has_den &&
                 (complete || vg_conf_bool(sv->sv_conf,
                                           "aggregate.alert_preliminary")) &&
                 vg_agg_breach(&tg, num, den,
                               vg_conf_int(sv->sv_conf,
                                           "aggregate.min_denominator"));
        name = vg_areas_name(area);
        if (!iq->iq_csv) {
                json_t *r = json_object();
                char *s;
                json_object_set_new(r, "indicator", json_string(ind));
                json_object_set_new(r, "area", json_string(area));
                json_object_set_new(r, "area_name",
                                    json_string(name ? name : ""));
                json_object_set_new(r, "period", json_string(period));
                json_object_set_new(r, "breakdown", json_string(bd));
                json_object_set_new(r, "numerator", json_integer(num));
                json_object_set_new(r, "denominator",
                                    has_den ? json_integer(den) : json_null());
                json_object_set_new(r, "value",
                                    has_den ? json_real((double)num /
                                                        (double)den)
                                            : json_null());
                json_object_set_new(r, "target",
                                    tg.tg_set && has_den
                                            ? json_real(tg.tg_target)
                                            : json_null());
                json_object_set_new(r, "target_missed", json_boolean(missed));
                json_object_set_new(r, "complete", json_boolean(complete));
                json_object_set_new(r, "history_complete",
                                    json_boolean(hist));
                json_object_set_new(r, "data_since",
                                    since ? json_string(since) : json_null());
                s = json_dumps(r, JSON_COMPACT | JSON_PRESERVE_ORDER);
                vg_buf_puts(out, *shown ? ",\n" : "\n");
                vg_buf_puts(out, s);
                free(s);
                json_decref(r);
        } else {
                csv_field(out, ind);
                vg_buf_printf(out, ",%s,", area);
                csv_field(out, name ? name : "");
                vg_buf_printf(out, ",%s,", period);
                csv_field(out, bd);
                if (has_den)
                        vg_buf_printf(out, ",%lld,%lld,%.6f", (long long)num,
                                      (long long)den,
                                      (double)num / (double)den);
                else
                        vg_buf_printf(out, ",%lld,,", (long long)num);
                if (tg.tg_set && has_den)
                        vg_buf_printf(out, ",%.6f", tg.tg_target);
                else
                        vg_buf_puts(out, ",");
                vg_buf_printf(out, ",%s,%s,%s,%s\r\n",
                              missed ? "true" : "false",
                              complete ? "true" : "false",
                              hist ? "true" : "false", since ? since : "");
        }
        (*shown)++;
}

unsigned sv_view_indicators(sv_server_t *sv, const sv_caller_t *cl,
                            const sv_query_t *q, vg_buf_t *out,
                            const char **ctype) {
        sv_state_t *st = sv->sv_state;
        indq_t iq;
        unsigned status;
        size_t n, m = 0, shown = 0;
        const char **keys, *key;
        json_t *o;
        memset(&iq, 0, sizeof(iq));
        if ((status = ind_query(q, &iq, out, ctype)) != 200)
                return status;
        if (iq.iq_csv)
                vg_buf_puts(out, "indicator,area,area_name,period,breakdown,"
                                 "numerator,denominator,value,target,"
                                 "target_missed,complete,history_complete,"
                                 "data_since\r\n");
        else
                vg_buf_puts(out, "{\"indicators\":[");
        pthread_mutex_lock(&st->st_lock);
        n = json_object_size(st->st_values);
        keys = vg_calloc(n + 1, sizeof(*keys));
        json_object_foreach(st->st_values, key, o) {
                const char *area = json_string_value(json_object_get(o,
                                                                     "area"));
                if (sv_ent_area(&cl->cl_ent, area))
                        keys[m++] = key;
        }
        qsort(keys, m, sizeof(*keys), key_cmp);
        for (size_t i = 0; i < m; i++)
                put_row(sv, &iq, json_object_get(st->st_values, keys[i]), out,
                        &shown);
        pthread_mutex_unlock(&st->st_lock);
        vg_free(keys);
        if (iq.iq_csv) {
                *ctype = "text/csv; charset=utf-8; header=present";
        } else {
                vg_buf_printf(out, "%s],\"count\":%zu}\n", shown ? "\n" : "",
                              shown);
                *ctype = JSON_T;
        }
        return 200;
}

/* ------------------------------------------------------------------------
 * /report
 */

static const char *const report_keys[] = {"lang", "from", "to", NULL};

unsigned sv_view_report(sv_server_t *sv, const sv_caller_t *cl,
                        const sv_query_t *q, vg_buf_t *out,
                        const char **ctype, bool (*gone)(void *arg),
                        void *arg) {
        qchk_t qk = {report_keys, 0, "", NULL};
        sv_state_t *st = sv->sv_state;
        vg_report_in_t in;
        const char *areas[SV_MAX_AREAS], *key;
        json_t *values = json_object(), *alerts = json_object(), *o;
        size_t n = 0;
        bool drawn;
        if (q->q_each(q->q_opaque, check_param, &qk)) {
                json_decref(values);
                json_decref(alerts);
                return bad_request(out, ctype, qk.qk_err);
        }
        memset(&in, 0, sizeof(in));
        in.ri_lang = q->q_get(q->q_opaque, "lang");
        in.ri_from = q->q_get(q->q_opaque, "from");
        in.ri_to = q->q_get(q->q_opaque, "to");
        if ((in.ri_lang && strcmp(in.ri_lang, "sv") &&
             strcmp(in.ri_lang, "en")) ||
            (in.ri_from && !valid_month(in.ri_from)) ||
            (in.ri_to && !valid_month(in.ri_to))) {
                json_decref(values);
                json_decref(alerts);
                return bad_request(out, ctype, "lang: sv or en; from, to: "
                                   "YYYY-MM");
        }
        /* Only what the caller may see goes into the page's model: the
         * state's own objects, shared (each was deep-copied here, and
         * twice more by the page: for SE on 360,664 values 1.45 GB of
         * peak memory). A look at the client every 4096 values. */
        pthread_mutex_lock(&st->st_lock);
        json_object_foreach(st->st_values, key, o) {
                if (gone && ++n % 4096 == 0 && gone(arg)) {
                        pthread_mutex_unlock(&st->st_lock);
                        json_decref(values);
                        json_decref(alerts);
                        return SV_CLIENT_GONE;
                }
                if (sv_ent_area(&cl->cl_ent, json_string_value(
                                                     json_object_get(o, "area"))))
                        json_object_set(values, key, o);
        }
        for (size_t i = 0; i < st->st_nalerts; i++) {
                const sv_alert_t *a = &st->st_alerts[i];
                json_t *js;
                if (!a->sa_id || a->sa_scope.sc_status != VG_STATUS_ACTIVE ||
                    !sv_ent_alert(&cl->cl_ent, a->sa_scope.sc_kommun,
                                  a->sa_scope.sc_area))
                        continue;
                if ((js = json_loads(a->sa_json, 0, NULL)))
                        json_object_set_new(alerts, a->sa_id, js);
        }
        pthread_mutex_unlock(&st->st_lock);
        in.ri_conf = sv->sv_conf;
        in.ri_values = values;
        in.ri_alerts = alerts;
        in.ri_gone = gone;
        in.ri_gone_arg = arg;
        if (!cl->cl_ent.se_all) {
                for (int i = 0; i < cl->cl_ent.se_n; i++)
                        areas[i] = cl->cl_ent.se_areas[i];
                in.ri_areas = areas;
                in.ri_nareas = cl->cl_ent.se_n;
        }
        drawn = vg_report_render(&in, out);
        json_decref(values);
        json_decref(alerts);
        *ctype = "text/html; charset=utf-8";
        return drawn ? 200 : SV_CLIENT_GONE;
}
