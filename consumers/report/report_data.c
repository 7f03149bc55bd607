/*
 * report_data.c - the data of `vigil report`: indicator values and alerts
 * read from their topics or from JSON Lines files, the areas and months in
 * scope, and the sorted model the page is drawn from.
 */
#include "report_model.h"
#include "vg_areas.h"
#include "vg_lines.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------
 * Data
 */




int rp_area_level(const char *a) {
        if (!strcmp(a, "SE"))
                return 0;
        return strlen(a) == 2 ? 1 : 2;
}

static int area_cmp(const char *a, const char *b) {
        int la = rp_area_level(a), lb = rp_area_level(b);
        return la != lb ? la - lb : strcmp(a, b);
}

static int row_cmp(const void *pa, const void *pb) {
        const row_t *a = pa, *b = pb;
        int c = strcmp(a->r_ind, b->r_ind);
        if (!c)
                c = strcmp(a->r_area, b->r_area);
        if (!c)
                c = strcmp(a->r_period, b->r_period);
        return c;
}

static int str_cmp(const void *a, const void *b) {
        return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int rp_area_pcmp(const void *a, const void *b) {
        return area_cmp(*(const char *const *)a, *(const char *const *)b);
}

/* Is area within the -a selection? A region selects its kommuner too. */
bool rp_in_scope(const rep_t *r, const char *area) {
        if (!r->rp_nsel)
                return true;
        for (int i = 0; i < r->rp_nsel; i++) {
                const char *s = r->rp_sel[i];
                if (!strcmp(s, area))
                        return true;
                if (rp_area_level(s) == 1 && rp_area_level(area) == 2 &&
                    !strncmp(area, s, 2))
                        return true;
        }
        return false;
}

/* Does area get its own charts? SE and regions, or what -a names. */
bool rp_charted(const rep_t *r, const char *area) {
        if (!r->rp_nsel)
                return rp_area_level(area) <= 1;
        for (int i = 0; i < r->rp_nsel; i++)
                if (!strcmp(r->rp_sel[i], area))
                        return true;
        return false;
}

static bool alert_in_scope(const rep_t *r, const vg_alert_t *al) {
        char buf[3];
        if (!r->rp_nsel)
                return true;
        for (int i = 0; i < r->rp_nsel; i++) {
                const char *s = r->rp_sel[i];
                int lv = rp_area_level(s);
                if (lv == 0)
                        return true;
                if (!strcmp(vg_alert_place(al), s))
                        return true;
                if (lv == 1 && !strcmp(vg_alert_region(al, buf), s))
                        return true;
        }
        return false;
}

const row_t *rp_find_row(const rep_t *r, const char *ind, const char *area,
                         const char *period) {
        row_t key = {ind, area, period, 0, 0, false, false, false, false};
        if (!r->rp_nrows)
                return NULL;
        return bsearch(&key, r->rp_rows, r->rp_nrows, sizeof(key), row_cmp);
}

pt_t rp_get_pt(const rep_t *r, const char *ind, const char *area,
               const char *period) {
        const row_t *w = rp_find_row(r, ind, area, period);
        pt_t p = {0};
        if (w && w->r_hidden) {
                p.hidden = true;
        } else if (w) {
                p.set = true;
                p.num = w->r_num;
                p.den = w->r_has_den ? w->r_den : 0;
                p.pre = !w->r_complete;
                p.nohist = !w->r_history;
        }
        return p;
}

int rp_valid_period(const char *s) {
        return strlen(s) == 7 && s[4] == '-' && s[0] >= '0' && s[0] <= '9' &&
               s[1] >= '0' && s[1] <= '9' && s[2] >= '0' && s[2] <= '9' &&
               s[3] >= '0' && s[3] <= '9' && atoi(s + 5) >= 1 && atoi(s + 5) <= 12 &&
               s[5] >= '0' && s[5] <= '1' && s[6] >= '0' && s[6] <= '9';
}

int rp_valid_area(const char *s) {
        return vg_areas_code_form(s);
}

/* A value row's cell is usable: SPEC §6 areas and YYYY-MM periods (they are
 * printed as they are). */
static bool is_quarter_or_year(const char *p) {
        size_t n = p ? strlen(p) : 0;
        return n == 4 || (n == 7 && p[5] == 'Q');
}

static const char *bad_cell(const char *area, const char *period) {
        if (!rp_valid_area(area))
                return "area: expected SE, a 2-digit region or a 4-digit kommun";
        if (!rp_valid_period(period) && !is_quarter_or_year(period))
                return "period: expected YYYY-MM";
        return NULL;
}

#define REPORT_MAX_COUNT 1000000000000000LL /* 1e15: no overflow in charts */

static void put_value(rep_t *r, const vg_ivalue_t *iv) {
        const char *ind = iv->iv_indicator, *area = iv->iv_area,
                   *period = iv->iv_period;
        int64_t num = iv->iv_numerator;
        const vg_optl_t *den = &iv->iv_denominator;
        char key[512];
        /* No indicator name, or figures no population has: not drawable
         * (and the chart arithmetic must not overflow). */
        if (!*ind || num < 0 || num > REPORT_MAX_COUNT ||
            (den->set && (den->v < 0 || den->v > REPORT_MAX_COUNT))) {
                vg_warn(CMD, "skipped a value of %s %s %s: empty name or "
                        "figures out of range", *ind ? ind : "(no name)",
                        area, period);
                return;
        }
        /* The topic's key (SPEC §2), so that a tombstone finds its row. */
        snprintf(key, sizeof(key), "%s|%s|%s|%s", ind, area, period,
                 iv->iv_breakdown ? iv->iv_breakdown : "all");
        json_object_set_new(r->rp_all_js, key, vg_ivalue_json(iv));
        if (is_quarter_or_year(period))
                return; /* for the suppression only (not drawn yet) */
        json_object_set_new(r->rp_rows_js, key, vg_ivalue_json(iv));
}

void rp_ivalue_msg(const rd_kafka_message_t *m, void *opaque) {
        rep_t *r = opaque;
        vg_anyrec_t rec;
        vg_rectype_t t;
        char errstr[256];
        const char *bad;
        char key[512];
        /* A tombstone: the row no longer exists. A record that cannot be
         * read or drawn (below) replaces its key's row too: the value
         * before it is no longer the topic's. */
        snprintf(key, sizeof(key), "%.*s", (int)m->key_len,
                 m->key ? (const char *)m->key : "");
        json_object_del(r->rp_rows_js, key);
        json_object_del(r->rp_all_js, key);
        if (!m->payload)
                return;
        if (vg_codec_decode(r->rp_codec, m->payload, m->len, VG_REC_IVALUE, &t,
                            &rec, NULL, errstr, sizeof(errstr))) {
                vg_warn(CMD, "indicators [%d] offset %lld: %s", m->partition,
                        (long long)m->offset, errstr);
                return;
        }
        /* Quarters and years (SPEC §6.2) and breakdown rows are not drawn
         * yet: skipped quietly. */

        if ((bad = vg_pub_cell_refused(rec.iv.iv_indicator, rec.iv.iv_area,
                                       rec.iv.iv_period,
                                       rec.iv.iv_breakdown)) ||
            (bad = bad_cell(rec.iv.iv_area, rec.iv.iv_period)) ||
            (bad = vg_pub_figures_refused(rec.iv.iv_indicator,
                                          rec.iv.iv_numerator,
                                          rec.iv.iv_denominator.set,
                                          rec.iv.iv_denominator.v))) {
                vg_warn(CMD, "indicators [%d] offset %lld: %s", m->partition,
                        (long long)m->offset, bad);
                vg_record_clear(t, &rec);
                return;
        }
        put_value(r, &rec.iv);
        vg_record_clear(t, &rec);
}

void rp_alert_msg(const rd_kafka_message_t *m, void *opaque) {
        rep_t *r = opaque;
        vg_anyrec_t rec;
        vg_rectype_t t;
        const char *pf;
        char errstr[256];
        if (vg_codec_decode(r->rp_codec, m->payload, m->len, VG_REC_ALERT, &t,
                            &rec, NULL, errstr, sizeof(errstr))) {
                vg_warn(CMD, "alerts [%d] offset %lld: %s", m->partition,
                        (long long)m->offset, errstr);
                return;
        }
        if ((pf = vg_alert_pnr_field(&rec.al))) { /* SPEC §8 */
                vg_warn(CMD, "alerts [%d] offset %lld: %s holds a "
                        "personnummer: left out", m->partition,
                        (long long)m->offset, pf);
                /* nor its earlier version, now out of date */
                json_object_del(r->rp_alerts_js, rec.al.al_alert_id);
        } else
                json_object_set_new(r->rp_alerts_js, rec.al.al_alert_id,
                                    vg_record_to_json(VG_REC_ALERT, &rec.al));
        vg_record_clear(t, &rec);
}

/* JSON Lines values; returns the number of bad lines, or -1. */
long rp_read_values(rep_t *r, const char *path) {
        FILE *in = vg_lines_open(CMD, path);
        char *line = NULL;
        ssize_t n;
        long lineno = 0, bad = 0;
        bool failed = false;
        vg_lines_t lr;
        if (!in)
                return -1;
        vg_lines_init(&lr, in, path,
                      (size_t)vg_conf_int(r->rp_conf, "input.max_bytes"));
        while ((n = vg_lines_get(&lr, CMD, &line, &bad, &failed)) != -1) {
                json_error_t jerr;
                json_t *o;
                vg_ivalue_t iv;
                char errstr[256];
                const char *why;
                lineno = lr.lr_lineno;
                if (n == 0)
                        continue;
                o = json_loadb(line, (size_t)n, 0, &jerr);
                if (!o || !json_is_string(json_object_get(o, "indicator")) ||
                    !json_is_string(json_object_get(o, "area")) ||
                    !json_is_string(json_object_get(o, "period")) ||
                    !json_is_integer(json_object_get(o, "numerator"))) {
                        vg_log(VG_LOG_ERROR, "report",
                               "%s:%ld: %s", path, lineno,
                               o ? "expected indicator, area, period, "
                                   "numerator"
                                 : vg_json_error_text(jerr.text));
                        json_decref(o);
                        bad++;
                        continue;
                }

                if ((why = vg_pub_cell_refused(
                             json_string_value(json_object_get(o, "indicator")),
                             json_string_value(json_object_get(o, "area")),
                             json_string_value(json_object_get(o, "period")),
                             json_string_value(
                                     json_object_get(o, "breakdown")))) ||
                    (why = bad_cell(
                             json_string_value(json_object_get(o, "area")),
                             json_string_value(
                                     json_object_get(o, "period"))))) {
                        vg_log(VG_LOG_ERROR, "report",
                               "%s:%ld: %s", path, lineno, why);
                        json_decref(o);
                        bad++;
                        continue;
                }
                if (vg_ivalue_from_json(o, &iv, errstr, sizeof(errstr))) {
                        vg_log(VG_LOG_ERROR, "report",
                               "%s:%ld: %s", path, lineno, errstr);
                        json_decref(o);
                        bad++;
                        continue;
                }
                if ((why = vg_pub_figures_refused(
                             iv.iv_indicator, iv.iv_numerator,
                             iv.iv_denominator.set, iv.iv_denominator.v))) {
                        vg_log(VG_LOG_ERROR, "report", "%s:%ld: a value that %s",
                               path, lineno, why);
                        bad++;
                } else
                        put_value(r, &iv);
                vg_record_clear(VG_REC_IVALUE, &iv);
                json_decref(o);
        }
        if (failed)
                bad = -1; /* not a short file: write no page */
        vg_lines_free(&lr);
        if (in != stdin)
                fclose(in);
        return bad;
}

/* JSON Lines alerts (SPEC §9); returns the number of bad lines, or -1. */
long rp_read_alerts(rep_t *r, const char *path) {
        FILE *in = vg_lines_open(CMD, path);
        const char *pf;
        char *line = NULL, errstr[256];
        ssize_t n;
        long lineno = 0, bad = 0;
        bool failed = false;
        vg_lines_t lr;
        if (!in)
                return -1;
        vg_lines_init(&lr, in, path,
                      (size_t)vg_conf_int(r->rp_conf, "input.max_bytes"));
        while ((n = vg_lines_get(&lr, CMD, &line, &bad, &failed)) != -1) {
                json_error_t jerr;
                json_t *o;
                vg_alert_t al;
                lineno = lr.lr_lineno;
                if (n == 0)
                        continue;
                if (!(o = json_loadb(line, (size_t)n, 0, &jerr))) {
                        vg_log(VG_LOG_ERROR, "report",
                               "%s:%ld: %s", path, lineno,
                               vg_json_error_text(jerr.text));
                        bad++;
                        continue;
                }
                if (vg_record_from_json(VG_REC_ALERT, o, &al, errstr,
                                        sizeof(errstr))) {
                        vg_log(VG_LOG_ERROR, "report",
                               "%s:%ld: %s", path, lineno, errstr);
                        json_decref(o);
                        bad++;
                        continue;
                }
                if ((pf = vg_alert_pnr_field(&al))) { /* SPEC §8 */
                        vg_log(VG_LOG_ERROR, "report",
                               "%s:%ld: %s holds a personnummer: "
                               "left out", path, lineno, pf);
                        json_object_del(r->rp_alerts_js, al.al_alert_id);
                        vg_record_clear(VG_REC_ALERT, &al);
                        json_decref(o);
                        bad++;
                        continue;
                }
                json_object_set(r->rp_alerts_js, al.al_alert_id, o);
                vg_record_clear(VG_REC_ALERT, &al);
                json_decref(o);
        }
        if (failed)
                bad = -1; /* not a short file: write no page */
        vg_lines_free(&lr);
        if (in != stdin)
                fclose(in);
        return bad;
}

/* Date an alert is about, for sorting and the "Date" column. */
int64_t rp_alert_when(const vg_alert_t *al) {
        if (al->al_rule == VG_RULE_READMISSION_30D && al->al_readmitted_at.set)
                return al->al_readmitted_at.v;
        if (al->al_rule == VG_RULE_SIP_OVERDUE && al->al_deadline.set)
                return al->al_deadline.v;
        /* the death it is about (as vigil alerts shows it) */
        if (al->al_rule == VG_RULE_DEATH_NOT_REGISTERED && al->al_died_at.set)
                return al->al_died_at.v;
        /* A target alert is about its period (alert_cmp); when it was
         * emitted is processing time, which differs between replays. */
        if (al->al_rule == VG_RULE_INDICATOR_BELOW_TARGET)
                return 0;
        return al->al_emitted_at; /* (a version-1 record: nothing else) */
}

static int alert_cmp(const void *pa, const void *pb) {
        const vg_alert_t *a = pa, *b = pb;
        int64_t ta, tb;
        if (a->al_rule != b->al_rule)
                return a->al_rule - b->al_rule;
        if (a->al_rule == VG_RULE_INDICATOR_BELOW_TARGET && a->al_period &&
            b->al_period && strcmp(a->al_period, b->al_period))
                return -strcmp(a->al_period, b->al_period);
        ta = rp_alert_when(a);
        tb = rp_alert_when(b);
        if (ta != tb)
                return ta > tb ? -1 : 1; /* newest first */
        return strcmp(a->al_alert_id, b->al_alert_id);
}

/* --public: which values to hide (SPEC §6.4), decided over every value
 * read, quarters, years and breakdowns too, exactly as `vigil indicators
 * --public --period all --breakdown any` decides: so the page and that
 * table hide the same cells. Returns the keys hidden (a set). */
static json_t *public_hidden(rep_t *r) {
        size_t n = json_object_size(r->rp_all_js), m = 0;
        const char **keys = vg_calloc(n + 1, sizeof(*keys));
        json_t *hidden = json_object(), *o;
        vg_pubrow_t *rows;
        const char *key;
        json_object_foreach(r->rp_all_js, key, o) keys[m++] = key;
        rows = vg_public_rows(r->rp_all_js, keys, m, r->rp_min_count, NULL);
        for (size_t i = 0; i < m; i++)
                if (rows[i].pr_state != VG_PUB_VISIBLE)
                        json_object_set_new(hidden, keys[i], json_true());
        vg_free(rows);
        vg_free(keys);
        return hidden;
}

/* Rows in scope, sorted; the distinct periods, indicators and areas; the
 * ACTIVE alerts in scope. */
void rp_prepare(rep_t *r) {
        size_t n = json_object_size(r->rp_rows_js), i, k;
        const char *key;
        json_t *o;
        json_t *pset = json_object(), *iset = json_object(),
               *aset = json_object();
        json_t *hidden = r->rp_hidden_js =
                r->rp_public ? public_hidden(r) : NULL;

        r->rp_rows = vg_calloc(n + 1, sizeof(*r->rp_rows));
        json_object_foreach(r->rp_rows_js, key, o) {
                row_t w;
                json_t *d = json_object_get(o, "denominator");
                w.r_ind = json_string_value(json_object_get(o, "indicator"));
                w.r_area = json_string_value(json_object_get(o, "area"));
                w.r_period = json_string_value(json_object_get(o, "period"));
                w.r_num = json_integer_value(json_object_get(o, "numerator"));
                w.r_has_den = json_is_integer(d);
                w.r_den = json_integer_value(d);
                w.r_complete = json_is_true(json_object_get(o, "complete"));
                w.r_history = !json_is_false(
                        json_object_get(o, "history_complete"));
                w.r_hidden = hidden && json_object_get(hidden, key);
                /* Breakdown rows are for the council's tables (not yet
                 * drawn): the charts show "all". */
                if (json_is_string(json_object_get(o, "breakdown")) &&
                    strcmp(json_string_value(json_object_get(o, "breakdown")),
                           "all"))
                        continue;
                /* A row exists where the denominator (count) is above zero
                 * (SPEC §6). */
                if (w.r_has_den ? w.r_den <= 0 : w.r_num <= 0)
                        continue;
                if (!rp_in_scope(r, w.r_area) ||
                    (r->rp_from && strcmp(w.r_period, r->rp_from) < 0) ||
                    (r->rp_to && strcmp(w.r_period, r->rp_to) > 0))
                        continue;
                r->rp_rows[r->rp_nrows++] = w;
                r->rp_nhidden += w.r_hidden;
                {
                        const char *ds = json_string_value(
                                json_object_get(o, "data_since"));
                        if (ds && (!r->rp_data_since ||
                                   strcmp(ds, r->rp_data_since) < 0))
                                r->rp_data_since = ds;
                }
                json_object_set_new(pset, w.r_period, json_true());
                json_object_set_new(iset, w.r_ind, json_true());
                json_object_set_new(aset, w.r_area, json_true());
        }
        qsort(r->rp_rows, r->rp_nrows, sizeof(*r->rp_rows), row_cmp);

        /* The set keys die with the sets: point at the rows' strings. */
        r->rp_periods = vg_calloc(json_object_size(pset) + 1, sizeof(char *));
        r->rp_inds = vg_calloc(json_object_size(iset) + 1, sizeof(char *));
        r->rp_areas = vg_calloc(json_object_size(aset) + 1, sizeof(char *));
        for (i = 0; i < r->rp_nrows; i++) {
                const row_t *w = &r->rp_rows[i];
                if (json_is_true(json_object_get(pset, w->r_period))) {
                        json_object_set_new(pset, w->r_period, json_false());
                        r->rp_periods[r->rp_np++] = w->r_period;
                }
                if (json_is_true(json_object_get(iset, w->r_ind))) {
                        json_object_set_new(iset, w->r_ind, json_false());
                        r->rp_inds[r->rp_ninds++] = w->r_ind;
                }
                if (json_is_true(json_object_get(aset, w->r_area))) {
                        json_object_set_new(aset, w->r_area, json_false());
                        r->rp_areas[r->rp_nareas++] = w->r_area;
                }
        }
        qsort(r->rp_periods, r->rp_np, sizeof(char *), str_cmp);
        qsort(r->rp_inds, r->rp_ninds, sizeof(char *), str_cmp);
        qsort(r->rp_areas, r->rp_nareas, sizeof(char *), rp_area_pcmp);
        json_decref(pset);
        json_decref(iset);
        json_decref(aset);

        n = json_object_size(r->rp_alerts_js);
        r->rp_alerts_read = n;
        r->rp_alerts = vg_calloc(n + 1, sizeof(*r->rp_alerts));
        k = 0;
        json_object_foreach(r->rp_alerts_js, key, o) {
                char errstr[256];
                vg_alert_t *al = &r->rp_alerts[k];
                if (vg_record_from_json(VG_REC_ALERT, o, al, errstr,
                                        sizeof(errstr)))
                        continue; /* checked when read */
                if (al->al_status != VG_STATUS_ACTIVE ||
                    !alert_in_scope(r, al)) {
                        vg_record_clear(VG_REC_ALERT, al);
                        continue;
                }
                k++;
        }
        r->rp_nalerts = k;
        qsort(r->rp_alerts, k, sizeof(*r->rp_alerts), alert_cmp);
}
