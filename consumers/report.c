/*
 * report.c - `vigil report`: one self-contained HTML page of indicator
 * values (SPEC §6) and current ACTIVE alerts (SPEC §5), for people who
 * follow up care and have no dashboard.
 *
 * Data comes from the compacted indicators topic (latest value per key
 * "indicator|area|period") and the alerts topic (deduped by alert_id, the
 * last status wins), as `vigil indicators` and `vigil alerts` read them, or
 * from JSON Lines files (--indicators, --alerts) as `vigil process --input`
 * writes them.
 *
 * The page loads nothing: inline CSS, inline SVG charts drawn here, no
 * script; a Content-Security-Policy of default-src 'none' makes a browser
 * refuse (and report) anything external. Every chart has <title>/<desc> and
 * a data table behind <details>. All text is HTML-escaped.
 */
#include "vg_agg.h"
#include "vg_cli.h"
#include "vg_codec.h"
#include "vg_consumers.h"
#include "vg_kafka.h"
#include "vg_record_json.h"
#include "vg_time.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <jansson.h>

/* consumers/indicators.c */
const char *vg_area_name(const char *area);

#define CMD "report"

/* ------------------------------------------------------------------------
 * Data
 */

/* One indicator value; strings point into rp_rows_js. */
typedef struct row_s {
        const char *r_ind, *r_area, *r_period;
        int64_t     r_num, r_den;
        bool        r_has_den;
} row_t;

/* A value as charts see it. */
typedef struct pt_s {
        bool    set;
        int64_t num, den;
} pt_t;

typedef struct rep_s {
        vg_conf_t   *rp_conf;
        vg_codec_t  *rp_codec;
        const char  *rp_title;
        /* filters */
        const char  *rp_sel[64];   /* -a areas */
        int          rp_nsel;
        const char  *rp_from, *rp_to;
        /* inputs */
        json_t      *rp_rows_js;   /* "ind|area|period" -> value object */
        json_t      *rp_alerts_js; /* alert_id -> alert object */
        char         rp_src_ind[512], rp_src_al[512];
        /* after load */
        row_t       *rp_rows;      /* in scope, sorted (ind, area, period) */
        size_t       rp_nrows;
        const char **rp_periods;   /* distinct, sorted */
        size_t       rp_np;
        const char **rp_inds;      /* distinct, sorted */
        size_t       rp_ninds;
        const char **rp_areas;     /* distinct, SE, regions, kommuner */
        size_t       rp_nareas;
        vg_alert_t  *rp_alerts;    /* ACTIVE, in scope, sorted */
        size_t       rp_nalerts;
        size_t       rp_alerts_read;  /* distinct alert ids */
        int64_t      rp_min_den;
        vg_tz_t      rp_tz;
        /* output */
        vg_buf_t     rp_out;
        int          rp_seq;       /* unique ids */
} rep_t;

static int area_level(const char *a) {
        if (!strcmp(a, "SE"))
                return 0;
        return strlen(a) == 2 ? 1 : 2;
}

static int area_cmp(const char *a, const char *b) {
        int la = area_level(a), lb = area_level(b);
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

static int area_pcmp(const void *a, const void *b) {
        return area_cmp(*(const char *const *)a, *(const char *const *)b);
}

/* Is area within the -a selection? A region selects its kommuner too. */
static bool in_scope(const rep_t *r, const char *area) {
        if (!r->rp_nsel)
                return true;
        for (int i = 0; i < r->rp_nsel; i++) {
                const char *s = r->rp_sel[i];
                if (!strcmp(s, area))
                        return true;
                if (area_level(s) == 1 && area_level(area) == 2 &&
                    !strncmp(area, s, 2))
                        return true;
        }
        return false;
}

/* Does area get its own charts? SE and regions, or what -a names. */
static bool charted(const rep_t *r, const char *area) {
        if (!r->rp_nsel)
                return area_level(area) <= 1;
        for (int i = 0; i < r->rp_nsel; i++)
                if (!strcmp(r->rp_sel[i], area))
                        return true;
        return false;
}

static bool alert_in_scope(const rep_t *r, const vg_alert_t *al) {
        if (!r->rp_nsel)
                return true;
        for (int i = 0; i < r->rp_nsel; i++) {
                const char *s = r->rp_sel[i];
                int lv = area_level(s);
                if (lv == 0)
                        return true;
                if (al->al_area && !strcmp(al->al_area, s))
                        return true;
                if (lv == 1 && ((al->al_region && !strcmp(al->al_region, s)) ||
                                (al->al_kommun && !strncmp(al->al_kommun, s, 2))))
                        return true;
                if (lv == 2 && al->al_kommun && !strcmp(al->al_kommun, s))
                        return true;
        }
        return false;
}

static const row_t *find_row(const rep_t *r, const char *ind, const char *area,
                             const char *period) {
        row_t key = {ind, area, period, 0, 0, false};
        if (!r->rp_nrows)
                return NULL;
        return bsearch(&key, r->rp_rows, r->rp_nrows, sizeof(key), row_cmp);
}

static pt_t get_pt(const rep_t *r, const char *ind, const char *area,
                   const char *period) {
        const row_t *w = find_row(r, ind, area, period);
        pt_t p = {false, 0, 0};
        if (w) {
                p.set = true;
                p.num = w->r_num;
                p.den = w->r_has_den ? w->r_den : 0;
        }
        return p;
}

static int valid_period(const char *s) {
        return strlen(s) == 7 && s[4] == '-' && s[0] >= '0' && s[0] <= '9' &&
               s[1] >= '0' && s[1] <= '9' && s[2] >= '0' && s[2] <= '9' &&
               s[3] >= '0' && s[3] <= '9' && atoi(s + 5) >= 1 && atoi(s + 5) <= 12 &&
               s[5] >= '0' && s[5] <= '1' && s[6] >= '0' && s[6] <= '9';
}

static int valid_area(const char *s) {
        size_t n = strlen(s);
        if (!strcmp(s, "SE"))
                return 1;
        if (n != 2 && n != 4)
                return 0;
        return strspn(s, "0123456789") == n;
}

/* A value row's cell is usable: SPEC §6 areas and YYYY-MM periods (they are
 * printed as they are). */
static const char *bad_cell(const char *area, const char *period) {
        if (!valid_area(area))
                return "area: expected SE, a 2-digit region or a 4-digit kommun";
        if (!valid_period(period))
                return "period: expected YYYY-MM";
        return NULL;
}

#define REPORT_MAX_COUNT 1000000000000000LL /* 1e15: no overflow in charts */

static void put_value(rep_t *r, const char *ind, const char *area,
                      const char *period, int64_t num, const vg_optl_t *den) {
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
        snprintf(key, sizeof(key), "%s|%s|%s", ind, area, period);
        json_object_set_new(r->rp_rows_js, key,
                            vg_indicator_json(ind, area, period, num, den));
}

static void ivalue_msg(const rd_kafka_message_t *m, void *opaque) {
        rep_t *r = opaque;
        vg_anyrec_t rec;
        vg_rectype_t t;
        char errstr[256];
        const char *bad;
        if (!m->payload) { /* tombstone: the row no longer exists */
                char key[512];
                snprintf(key, sizeof(key), "%.*s", (int)m->key_len,
                         m->key ? (const char *)m->key : "");
                json_object_del(r->rp_rows_js, key);
                return;
        }
        if (vg_codec_decode(r->rp_codec, m->payload, m->len, VG_REC_IVALUE, &t,
                            &rec, NULL, errstr, sizeof(errstr))) {
                vg_warn(CMD, "indicators [%d] offset %lld: %s", m->partition,
                        (long long)m->offset, errstr);
                return;
        }
        if ((bad = bad_cell(rec.iv.iv_area, rec.iv.iv_period))) {
                vg_warn(CMD, "indicators [%d] offset %lld: %s", m->partition,
                        (long long)m->offset, bad);
                vg_record_clear(t, &rec);
                return;
        }
        put_value(r, rec.iv.iv_indicator, rec.iv.iv_area, rec.iv.iv_period,
                  rec.iv.iv_numerator, &rec.iv.iv_denominator);
        vg_record_clear(t, &rec);
}

static void alert_msg(const rd_kafka_message_t *m, void *opaque) {
        rep_t *r = opaque;
        vg_anyrec_t rec;
        vg_rectype_t t;
        char errstr[256];
        if (vg_codec_decode(r->rp_codec, m->payload, m->len, VG_REC_ALERT, &t,
                            &rec, NULL, errstr, sizeof(errstr))) {
                vg_warn(CMD, "alerts [%d] offset %lld: %s", m->partition,
                        (long long)m->offset, errstr);
                return;
        }
        json_object_set_new(r->rp_alerts_js, rec.al.al_alert_id,
                            vg_record_to_json(VG_REC_ALERT, &rec.al));
        vg_record_clear(t, &rec);
}

static FILE *open_in(const char *path) {
        FILE *in = strcmp(path, "-") ? fopen(path, "r") : stdin;
        if (!in)
                fprintf(stderr, "vigil %s: %s: %s\n", CMD, path,
                        strerror(errno));
        return in;
}

/* JSON Lines values; returns the number of bad lines, or -1. */
static long read_values(rep_t *r, const char *path) {
        FILE *in = open_in(path);
        char *line = NULL;
        size_t cap = 0;
        ssize_t n;
        long lineno = 0, bad = 0;
        if (!in)
                return -1;
        while ((n = getline(&line, &cap, in)) != -1) {
                json_error_t jerr;
                json_t *o, *d;
                vg_optl_t den;
                const char *why;
                lineno++;
                if (n <= 1)
                        continue;
                o = json_loadb(line, (size_t)n, 0, &jerr);
                if (!o || !json_is_string(json_object_get(o, "indicator")) ||
                    !json_is_string(json_object_get(o, "area")) ||
                    !json_is_string(json_object_get(o, "period")) ||
                    !json_is_integer(json_object_get(o, "numerator"))) {
                        fprintf(stderr, "%s:%ld: %s\n", path, lineno,
                                o ? "expected indicator, area, period, "
                                    "numerator"
                                  : jerr.text);
                        json_decref(o);
                        bad++;
                        continue;
                }
                if ((why = bad_cell(
                             json_string_value(json_object_get(o, "area")),
                             json_string_value(
                                     json_object_get(o, "period"))))) {
                        fprintf(stderr, "%s:%ld: %s\n", path, lineno, why);
                        json_decref(o);
                        bad++;
                        continue;
                }
                d = json_object_get(o, "denominator");
                den.set = json_is_integer(d);
                den.v = json_integer_value(d);
                put_value(r, json_string_value(json_object_get(o, "indicator")),
                          json_string_value(json_object_get(o, "area")),
                          json_string_value(json_object_get(o, "period")),
                          json_integer_value(json_object_get(o, "numerator")),
                          &den);
                json_decref(o);
        }
        free(line);
        if (in != stdin)
                fclose(in);
        return bad;
}

/* JSON Lines alerts (SPEC §9); returns the number of bad lines, or -1. */
static long read_alerts(rep_t *r, const char *path) {
        FILE *in = open_in(path);
        char *line = NULL, errstr[256];
        size_t cap = 0;
        ssize_t n;
        long lineno = 0, bad = 0;
        if (!in)
                return -1;
        while ((n = getline(&line, &cap, in)) != -1) {
                json_error_t jerr;
                json_t *o;
                vg_alert_t al;
                lineno++;
                if (n <= 1)
                        continue;
                if (!(o = json_loadb(line, (size_t)n, 0, &jerr))) {
                        fprintf(stderr, "%s:%ld: %s\n", path, lineno,
                                jerr.text);
                        bad++;
                        continue;
                }
                if (vg_record_from_json(VG_REC_ALERT, o, &al, errstr,
                                        sizeof(errstr))) {
                        fprintf(stderr, "%s:%ld: %s\n", path, lineno, errstr);
                        json_decref(o);
                        bad++;
                        continue;
                }
                json_object_set(r->rp_alerts_js, al.al_alert_id, o);
                vg_record_clear(VG_REC_ALERT, &al);
                json_decref(o);
        }
        free(line);
        if (in != stdin)
                fclose(in);
        return bad;
}

/* Date an alert is about, for sorting and the "Date" column. */
static int64_t alert_when(const vg_alert_t *al) {
        if (al->al_rule == VG_RULE_READMISSION_30D && al->al_readmitted_at.set)
                return al->al_readmitted_at.v;
        if (al->al_rule == VG_RULE_SIP_OVERDUE && al->al_deadline.set)
                return al->al_deadline.v;
        return al->al_emitted_at;
}

static int alert_cmp(const void *pa, const void *pb) {
        const vg_alert_t *a = pa, *b = pb;
        int64_t ta, tb;
        if (a->al_rule != b->al_rule)
                return a->al_rule - b->al_rule;
        if (a->al_rule == VG_RULE_INDICATOR_BELOW_TARGET && a->al_period &&
            b->al_period && strcmp(a->al_period, b->al_period))
                return -strcmp(a->al_period, b->al_period);
        ta = alert_when(a);
        tb = alert_when(b);
        if (ta != tb)
                return ta > tb ? -1 : 1; /* newest first */
        return strcmp(a->al_alert_id, b->al_alert_id);
}

/* Rows in scope, sorted; the distinct periods, indicators and areas; the
 * ACTIVE alerts in scope. */
static void prepare(rep_t *r) {
        size_t n = json_object_size(r->rp_rows_js), i, k;
        const char *key;
        json_t *o;
        json_t *pset = json_object(), *iset = json_object(),
               *aset = json_object();

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
                /* A row exists where the denominator (count) is above zero
                 * (SPEC §6). */
                if (w.r_has_den ? w.r_den <= 0 : w.r_num <= 0)
                        continue;
                if (!in_scope(r, w.r_area) ||
                    (r->rp_from && strcmp(w.r_period, r->rp_from) < 0) ||
                    (r->rp_to && strcmp(w.r_period, r->rp_to) > 0))
                        continue;
                r->rp_rows[r->rp_nrows++] = w;
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
        qsort(r->rp_areas, r->rp_nareas, sizeof(char *), area_pcmp);
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

/* ------------------------------------------------------------------------
 * Text
 */

static void esc(vg_buf_t *b, const char *s) {
        const char *p = s ? s : "";
        while (*p) {
                size_t run = strcspn(p, "&<>\"'");
                vg_buf_append(b, p, run);
                p += run;
                switch (*p) {
                case '&': vg_buf_puts(b, "&amp;"); break;
                case '<': vg_buf_puts(b, "&lt;"); break;
                case '>': vg_buf_puts(b, "&gt;"); break;
                case '"': vg_buf_puts(b, "&quot;"); break;
                case '\'': vg_buf_puts(b, "&#39;"); break;
                default: return;
                }
                p++;
        }
}

#define P(r, s) vg_buf_puts(&(r)->rp_out, s)
#define PF(r, ...) vg_buf_printf(&(r)->rp_out, __VA_ARGS__)
#define E(r, s) esc(&(r)->rp_out, s)

static const char *const month_names[] = {"Jan", "Feb", "Mar", "Apr", "May",
                                          "Jun", "Jul", "Aug", "Sep", "Oct",
                                          "Nov", "Dec"};

static int period_month(const char *period) {
        int m = strlen(period) >= 7 ? atoi(period + 5) : 0;
        return m >= 1 && m <= 12 ? m : 0;
}

/* "Mar 2026" (or the period itself if it is not YYYY-MM). */
static void period_label(const char *period, char *buf, size_t size) {
        int m = period_month(period);
        if (m)
                snprintf(buf, size, "%s %.4s", month_names[m - 1], period);
        else
                snprintf(buf, size, "%s", period);
}

/* Local "YYYY-MM-DD HH:MM" (or only the date) in the configured zone. */
static void fmt_local(const rep_t *r, int64_t ms, bool with_time, char *buf,
                      size_t size) {
        char t[VG_TIME_BUFSZ];
        vg_time_format(ms + vg_tz_offset(r->rp_tz, ms), t);
        if (with_time)
                snprintf(buf, size, "%.10s %.5s", t, t + 11);
        else
                snprintf(buf, size, "%.10s", t);
}

/* "Region Sörmland" + " (04)": the display name, code when it has none. */
static void area_html(rep_t *r, const char *area, bool with_code) {
        const char *name = vg_area_name(area);
        if (*name) {
                E(r, name);
                if (with_code && area_level(area)) {
                        P(r, " <span class=\"code\">");
                        E(r, area);
                        P(r, "</span>");
                }
        } else {
                P(r, "Area ");
                E(r, area);
        }
}

static void area_text(const char *area, char *buf, size_t size) {
        const char *name = vg_area_name(area);
        if (!*name)
                snprintf(buf, size, "area %s", area);
        else if (area_level(area))
                snprintf(buf, size, "%s (%s)", name, area);
        else
                snprintf(buf, size, "%s", name);
}

static void pct(double v, char *buf, size_t size) {
        snprintf(buf, size, "%.1f%%", 100.0 * v);
}

/* "≤ 10%" */
static void target_text(const vg_target_t *tg, char *buf, size_t size) {
        if (!tg->tg_set)
                snprintf(buf, size, "none");
        else
                snprintf(buf, size, "%s %g%%",
                         tg->tg_higher_is_better ? "\u2265" : "\u2264",
                         tg->tg_target * 100);
}

/* ------------------------------------------------------------------------
 * Sections
 */

typedef enum { SEC_LINE, SEC_PLACE, SEC_SSIH, SEC_COUNT } sec_kind_t;

typedef struct sec_s {
        sec_kind_t  s_kind;
        const char *s_key;    /* indicator, or group prefix with the dot */
        const char *s_title;
        const char *s_what;
        const char *s_num;    /* numerator / denominator labels */
        const char *s_den;
} sec_t;

/* In SPEC §6 order. */
static const sec_t known_secs[] = {
        {SEC_LINE, "readmission_30d", "Readmission within 30 days",
         "Share of hospital discharges (index discharges) followed by an "
         "unplanned readmission within 30 days, by month of discharge. "
         "Lower is better.",
         "Readmitted", "Index discharges"},
        {SEC_PLACE, "death_place.", "Place of death",
         "Where people died, as a share of all deaths of the month.",
         "Deaths here", "Deaths"},
        {SEC_LINE, "eol_admission_30d",
         "Hospital admission in the last 30 days of life",
         "Share of deaths preceded by at least one unplanned hospital "
         "admission within 30 days, by month of death. Lower is better.",
         "With admission", "Deaths"},
        {SEC_LINE, "eol_readmission_30d",
         "Two or more hospital admissions in the last 30 days of life",
         "Share of deaths preceded by two or more unplanned hospital "
         "admissions within 30 days, by month of death. Lower is better.",
         "With \u2265 2 admissions", "Deaths"},
        {SEC_LINE, "sip_before_death", "SIP before an expected death",
         "Share of expected deaths with a coordinated individual plan (SIP) "
         "made within the year before death, by month of death. Higher is "
         "better.",
         "With SIP", "Expected deaths"},
        {SEC_LINE, "sip_within_deadline", "SIP in time after discharge",
         "Share of discharges needing coordination that got a SIP before the "
         "deadline, by month of discharge. Higher is better.",
         "SIP in time", "Discharges"},
        {SEC_SSIH, "ssih_enrolment.",
         "Enrolment in specialised palliative home care (SSIH)",
         "Number of new SSIH stays by month of admission, by age band; the "
         "data table also splits them by diagnosis group.",
         "Enrolments", ""},
};

static bool sec_has(const sec_t *s, const char *ind) {
        size_t kl = strlen(s->s_key);
        if (s->s_key[kl - 1] == '.')
                return !strncmp(ind, s->s_key, kl);
        return !strcmp(ind, s->s_key);
}

static bool known_ind(const char *ind) {
        for (size_t i = 0; i < VG_ARRAY_SIZE(known_secs); i++)
                if (sec_has(&known_secs[i], ind))
                        return true;
        return false;
}

static bool any_ind(const rep_t *r, const sec_t *s) {
        for (size_t i = 0; i < r->rp_ninds; i++)
                if (sec_has(s, r->rp_inds[i]))
                        return true;
        return false;
}

static void sec_anchor(const sec_t *s, char *buf, size_t size) {
        size_t kl = strlen(s->s_key);
        snprintf(buf, size, "ind-%.*s", (int)(s->s_key[kl - 1] == '.' ? kl - 1
                                                                      : kl),
                 s->s_key);
}

/* ------------------------------------------------------------------------
 * SVG
 */

#define CW 600          /* viewBox */
#define CH 250
#define ML 48           /* margins */
#define MR 18
#define MT 18
#define MB 40
#define PW (CW - ML - MR)
#define PH (CH - MT - MB)

#define C_LINE   "#1f5fa8"
#define C_REF    "#a3adb8"
#define C_BAD    "#b3261e"

static double band(const rep_t *r) {
        return (double)PW / (double)(r->rp_np ? r->rp_np : 1);
}

static double xc(const rep_t *r, size_t p) {
        return ML + band(r) * ((double)p + 0.5);
}

static void svg_open(rep_t *r, const char *title, const char *desc) {
        int id = ++r->rp_seq;
        PF(r, "<svg class=\"chart\" viewBox=\"0 0 %d %d\" role=\"img\" "
              "aria-labelledby=\"c%d-t c%d-d\" "
              "xmlns=\"http://www.w3.org/2000/svg\">"
              "<title id=\"c%d-t\">", CW, CH, id, id, id);
        E(r, title);
        PF(r, "</title><desc id=\"c%d-d\">", id);
        E(r, desc);
        P(r, "</desc>\n");
}

/* Horizontal grid and y labels: ticks at 0, step, ... ymax. */
static void svg_yaxis(rep_t *r, double ymax, double step, bool percent) {
        P(r, "<g class=\"ax\">");
        for (int i = 0;; i++) {
                double v = step * i;
                double y;
                if (v > ymax + step * 1e-6)
                        break;
                y = MT + PH - PH * v / ymax;
                PF(r, "<line class=\"%s\" x1=\"%d\" x2=\"%d\" y1=\"%.1f\" "
                      "y2=\"%.1f\"/>",
                   i ? "gl" : "base", ML, CW - MR, y, y);
                if (percent)
                        PF(r, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">"
                              "%.0f%%</text>", ML - 6, y + 4, v * 100);
                else
                        PF(r, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">"
                              "%.0f</text>", ML - 6, y + 4, v);
        }
        /* Month labels; the year under the first and under each January. */
        {
                size_t every = (r->rp_np + 11) / 12;
                bool first = true;
                for (size_t p = 0; p < r->rp_np; p++) {
                        const char *per = r->rp_periods[p];
                        int m = period_month(per);
                        if (p % every)
                                continue;
                        PF(r, "<text x=\"%.1f\" y=\"%d\" "
                              "text-anchor=\"middle\">", xc(r, p),
                           MT + PH + 15);
                        if (m)
                                P(r, month_names[m - 1]);
                        else
                                E(r, per);
                        P(r, "</text>");
                        if (m && (first || m == 1))
                                PF(r, "<text class=\"yr\" x=\"%.1f\" y=\"%d\" "
                                      "text-anchor=\"middle\">%.4s</text>",
                                   xc(r, p), MT + PH + 29, per);
                        first = false;
                }
        }
        P(r, "</g>\n");
}

/* Shared y-scale of a percentage chart: a nice maximum >= v. */
static void ratio_scale(double v, double *ymax, double *step) {
        static const double s[][2] = {
                {0.05, 0.01}, {0.10, 0.02}, {0.20, 0.05}, {0.25, 0.05},
                {0.30, 0.10}, {0.40, 0.10}, {0.50, 0.10}, {0.60, 0.20},
                {0.80, 0.20}, {1.00, 0.20},
        };
        for (size_t i = 0; i < VG_ARRAY_SIZE(s); i++)
                if (v <= s[i][0] + 1e-9) {
                        *ymax = s[i][0];
                        *step = s[i][1];
                        return;
                }
        *ymax = ceil(v * 2) / 2;
        *step = *ymax / 5;
}

static void count_scale(int64_t v, int64_t *ymax, int64_t *step) {
        int64_t raw, m = 1;
        if (v < 1)
                v = 1;
        raw = (v + 4) / 5;      /* at most 5 steps */
        while (m * 10 <= raw)
                m *= 10;
        *step = raw <= m ? m : raw <= 2 * m ? 2 * m : raw <= 5 * m ? 5 * m
                                                                   : 10 * m;
        *ymax = (v + *step - 1) / *step * *step;
}

typedef struct line_s {
        const pt_t *l_pts;     /* rp_np points of the area */
        const pt_t *l_ref;     /* SE for comparison, or NULL */
        vg_target_t l_tg;
        double      l_ymax, l_step;
} line_t;

static bool pt_uncertain(const rep_t *r, const pt_t *p) {
        return p->set && p->den < r->rp_min_den;
}

static bool pt_missed(const rep_t *r, const line_t *l, const pt_t *p) {
        return p->set && vg_agg_breach(&l->l_tg, p->num, p->den, r->rp_min_den);
}

/* Above the scale (only values from very few cases can be: sec_line)? */
static bool pt_clipped(const line_t *l, const pt_t *p) {
        return p->set && (double)p->num / (double)p->den > l->l_ymax + 1e-9;
}

static double pt_y(const line_t *l, const pt_t *p) {
        double v = (double)p->num / (double)p->den;
        if (v > l->l_ymax)
                v = l->l_ymax;
        return MT + PH - PH * v / l->l_ymax;
}

/* A polyline with breaks where months are missing or off the scale. */
static void svg_path(rep_t *r, const line_t *l, const pt_t *pts,
                     const char *cls) {
        bool pen = false, any = false;
        for (size_t p = 0; p < r->rp_np; p++) {
                if (!pts[p].set || pt_clipped(l, &pts[p])) {
                        pen = false;
                        continue;
                }
                if (!any)
                        PF(r, "<path class=\"%s\" d=\"", cls);
                any = true;
                PF(r, "%s%.1f %.1f", pen ? " L" : " M", xc(r, p),
                   pt_y(l, &pts[p]));
                pen = true;
        }
        if (any)
                P(r, "\"/>\n");
}

/* Points of pts (or NULL) inside the box x0..x1, ya..yb (baseline). */
static int hits(const rep_t *r, const line_t *l, const pt_t *pts, double x0,
                double x1, double ya, double yb) {
        int n = 0;
        for (size_t p = 0; pts && p < r->rp_np; p++) {
                double x = xc(r, p), y;
                if (!pts[p].set || x < x0 - 5 || x > x1 + 5)
                        continue;
                y = pt_clipped(l, &pts[p]) ? MT : pt_y(l, &pts[p]);
                n += y > ya - 5 && y < yb + 5;
        }
        return n;
}

/* "target <= 10%" next to the target line at y: right or left, above or
 * below, wherever it covers the fewest points. */
static void target_label(rep_t *r, const line_t *l, double y,
                         const char *tt) {
        const double w = 84; /* about the label's width */
        struct { double x; const char *anchor; double base; } c[4] = {
                {CW - MR - 2, "end", y - 5},
                {CW - MR - 2, "end", y + 13},
                {ML + 4, "start", y - 5},
                {ML + 4, "start", y + 13},
        };
        int best = 0, best_n = 1 << 30;
        for (int i = 0; i < 4; i++) {
                double x0 = c[i].anchor[0] == 'e' ? c[i].x - w : c[i].x;
                int n;
                if (c[i].base - 10 < MT || c[i].base > MT + PH)
                        continue; /* off the plot */
                n = hits(r, l, l->l_pts, x0, x0 + w, c[i].base - 10,
                         c[i].base) * 2 +
                    hits(r, l, l->l_ref, x0, x0 + w, c[i].base - 10,
                         c[i].base);
                if (n < best_n) {
                        best = i;
                        best_n = n;
                }
        }
        PF(r, "<text class=\"tl\" x=\"%.1f\" y=\"%.1f\" "
              "text-anchor=\"%s\">target %s</text>\n",
           c[best].x, c[best].base, c[best].anchor, tt);
}

static void svg_line(rep_t *r, const line_t *l, const char *title,
                     const char *desc) {
        svg_open(r, title, desc);
        svg_yaxis(r, l->l_ymax, l->l_step, true);
        if (l->l_tg.tg_set && l->l_tg.tg_target <= l->l_ymax) {
                double y = MT + PH - PH * l->l_tg.tg_target / l->l_ymax;
                char tt[32];
                target_text(&l->l_tg, tt, sizeof(tt));
                PF(r, "<line class=\"target\" x1=\"%d\" x2=\"%d\" y1=\"%.1f\" "
                      "y2=\"%.1f\"/>", ML, CW - MR, y, y);
                target_label(r, l, y, tt);
        }
        if (l->l_ref)
                svg_path(r, l, l->l_ref, "ref");
        svg_path(r, l, l->l_pts, "val");
        for (size_t p = 0; p < r->rp_np; p++) {
                const pt_t *pt = &l->l_pts[p];
                char v[16], per[16];
                bool unc, miss;
                if (!pt->set)
                        continue;
                unc = pt_uncertain(r, pt);
                miss = pt_missed(r, l, pt);
                pct((double)pt->num / (double)pt->den, v, sizeof(v));
                period_label(r->rp_periods[p], per, sizeof(per));
                if (pt_clipped(l, pt)) {
                        double x = xc(r, p);
                        PF(r, "<path class=\"clip\" d=\"M%.1f %d L%.1f %d "
                              "L%.1f %d Z\"><title>%s: %s (%lld of %lld) "
                              "\u2013 very few cases; above the scale"
                              "</title></path>",
                           x - 5, MT + 5, x, MT - 4, x + 5, MT + 5, per, v,
                           (long long)pt->num, (long long)pt->den);
                        continue;
                }
                PF(r, "<circle class=\"%s\" cx=\"%.1f\" cy=\"%.1f\" r=\"%s\">"
                      "<title>%s: %s (%lld of %lld)%s</title></circle>",
                   unc ? "unc" : miss ? "miss" : "pt", xc(r, p), pt_y(l, pt),
                   unc ? "3.6" : "4", per, v, (long long)pt->num,
                   (long long)pt->den,
                   unc ? " \u2013 uncertain: few cases"
                       : miss ? " \u2013 misses the target" : "");
        }
        P(r, "</svg>\n");
}

typedef struct bars_s {
        size_t       b_nser;
        const char *const *b_names;   /* series labels */
        const char *const *b_colors;
        double      *b_v;        /* [s * np + p]: share or count */
        int64_t     *b_tot;      /* per period: deaths / count; 0 = none */
        bool         b_share;    /* 0..100 % stacks; else counts */
        int64_t      b_ymax, b_step;
} bars_t;

static void svg_bars(rep_t *r, const bars_t *b, const char *title,
                     const char *desc) {
        double bw = band(r) * 0.62;
        double ymax = b->b_share ? 1.0 : (double)b->b_ymax;
        if (bw > 44)
                bw = 44;
        svg_open(r, title, desc);
        /* white stripes over uncertain bars (ids are per chart) */
        PF(r, "<defs><pattern id=\"h%d\" width=\"6\" height=\"6\" "
              "patternUnits=\"userSpaceOnUse\" "
              "patternTransform=\"rotate(45)\"><rect width=\"2.2\" "
              "height=\"6\" fill=\"#fff\" fill-opacity=\"0.7\"/>"
              "</pattern></defs>", r->rp_seq);
        svg_yaxis(r, ymax, b->b_share ? 0.25 : (double)b->b_step, b->b_share);
        for (size_t p = 0; p < r->rp_np; p++) {
                double acc = 0, x = xc(r, p) - bw / 2;
                char per[16];
                bool unc = b->b_share && b->b_tot[p] > 0 &&
                           b->b_tot[p] < r->rp_min_den;
                if (!b->b_tot[p])
                        continue;
                period_label(r->rp_periods[p], per, sizeof(per));
                P(r, "<g>");
                for (size_t s = 0; s < b->b_nser; s++) {
                        double v = b->b_v[s * r->rp_np + p];
                        double h = PH * v / ymax, y;
                        if (v <= 0)
                                continue;
                        y = MT + PH - PH * (acc + v) / ymax;
                        acc += v;
                        PF(r, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
                              "height=\"%.1f\" fill=\"%s\"><title>",
                           x, y, bw, h, b->b_colors[s]);
                        E(r, b->b_names[s]);
                        if (b->b_share)
                                PF(r, ", %s: %.0f of %lld (%.1f%%)", per,
                                   v * (double)b->b_tot[p],
                                   (long long)b->b_tot[p], v * 100);
                        else
                                PF(r, ", %s: %.0f", per, v);
                        P(r, "</title></rect>");
                }
                if (unc)
                        PF(r, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
                              "height=\"%.1f\" fill=\"url(#h%d)\">"
                              "<title>%s: %lld deaths, fewer than %lld: "
                              "uncertain</title></rect>",
                           x, MT + PH - PH * acc / ymax, bw, PH * acc / ymax,
                           r->rp_seq, per, (long long)b->b_tot[p],
                           (long long)r->rp_min_den);
                /* n above the bar; uncertain months get a mark */
                PF(r, "<text class=\"n\" x=\"%.1f\" y=\"%.1f\" "
                      "text-anchor=\"middle\">%s%lld%s</text></g>\n",
                   xc(r, p), MT + PH - PH * acc / ymax - 4,
                   b->b_share ? "n=" : "", (long long)b->b_tot[p],
                   unc ? "*" : "");
        }
        P(r, "</svg>\n");
}

/* ------------------------------------------------------------------------
 * Page parts
 */

static const char css[] =
        ":root{--ink:#1b2330;--muted:#5b6573;--rule:#dde2e8;--bg:#f4f6f8;"
        "--accent:" C_LINE ";--bad:" C_BAD ";--ok:#1e7a45}\n"
        "*{box-sizing:border-box}\n"
        "body{margin:0;background:var(--bg);color:var(--ink);"
        "font:14px/1.45 \"DejaVu Sans\",\"Liberation Sans\",Arial,Helvetica,"
        "sans-serif}\n"
        "header.top{background:#16324f;color:#fff;padding:18px 32px 16px}\n"
        "header.top h1{margin:0 0 8px;font-size:22px;font-weight:600}\n"
        ".meta{display:flex;flex-wrap:wrap;gap:2px 28px;margin:0;"
        "font-size:13px}\n"
        ".meta div{display:flex;gap:6px}.meta dt{color:#a9bdd1}"
        ".meta dd{margin:0}\n"
        "nav{background:#fff;border-bottom:1px solid var(--rule);"
        "padding:8px 32px;font-size:13px;display:flex;flex-wrap:wrap;"
        "gap:4px 20px}\n"
        "a{color:var(--accent);text-decoration:none}"
        "a:hover{text-decoration:underline}\n"
        "nav a{white-space:nowrap}\n"
        "main{max-width:1240px;margin:0 auto;padding:8px 24px 32px}\n"
        "section.card{background:#fff;border:1px solid var(--rule);"
        "border-radius:8px;padding:16px 20px 14px;margin:16px 0}\n"
        "h2{font-size:18px;margin:0 0 2px;font-weight:600}\n"
        "h2 code{font:12px \"DejaVu Sans Mono\",monospace;color:var(--muted);"
        "margin-left:10px;font-weight:normal}\n"
        ".what{color:var(--muted);margin:0 0 8px;max-width:900px}\n"
        ".legend{display:flex;flex-wrap:wrap;gap:4px 18px;font-size:12px;"
        "color:var(--muted);margin:4px 0 12px}\n"
        ".legend span{white-space:nowrap}\n"
        ".sw{display:inline-block;width:12px;height:12px;border-radius:2px;"
        "vertical-align:-1px;margin-right:6px}\n"
        ".sw.ln{width:20px;height:0;border-radius:0;border-top:3px solid "
        "var(--accent);vertical-align:3px}\n"
        ".sw.rf{width:20px;height:0;border-radius:0;border-top:2px solid "
        C_REF ";vertical-align:3px}\n"
        ".sw.tg{width:22px;height:0;border-radius:0;border-top:2px dashed "
        "var(--bad);vertical-align:3px}\n"
        ".sw.pt{width:10px;height:10px;border-radius:50%;"
        "background:var(--accent)}\n"
        ".sw.un{width:10px;height:10px;border-radius:50%;background:#fff;"
        "border:2px solid var(--accent)}\n"
        ".sw.ms{width:10px;height:10px;border-radius:50%;"
        "background:var(--bad)}\n"
        "svg.sw{border-radius:0}\n"
        ".grid{display:grid;grid-template-columns:repeat(auto-fill,"
        "minmax(520px,1fr));gap:14px 28px}\n"
        "figure{margin:0;min-width:0}\n"
        "figcaption{font-weight:600;font-size:14px;margin:0 0 2px}\n"
        "figcaption .sub{font-weight:normal;color:var(--muted);font-size:12px;"
        "margin-left:8px}\n"
        ".code{color:var(--muted);font-weight:normal}\n"
        "svg.chart{display:block;width:100%;height:auto}\n"
        "svg.chart text{font-size:11px;fill:#5b6573}\n"
        "svg.chart text.yr{fill:#8a95a1;font-size:10px}\n"
        "svg.chart text.n{font-size:10px;fill:#44505e}\n"
        "svg.chart text.tl{fill:var(--bad);font-size:10.5px;"
        "paint-order:stroke;stroke:#fff;stroke-width:3px;"
        "stroke-linejoin:round}\n"
        "svg.chart text.n{paint-order:stroke;stroke:#fff;stroke-width:2.5px}"
        "\n"
        "svg.chart .gl{stroke:#e9edf1;stroke-width:1}\n"
        "svg.chart .base{stroke:#aab3bd;stroke-width:1}\n"
        "svg.chart .target{stroke:var(--bad);stroke-width:1.6;"
        "stroke-dasharray:7 5}\n"
        "svg.chart path.val{fill:none;stroke:var(--accent);stroke-width:2.4;"
        "stroke-linejoin:round}\n"
        "svg.chart path.ref{fill:none;stroke:" C_REF ";stroke-width:1.6}\n"
        "svg.chart circle.pt{fill:var(--accent);stroke:#fff;"
        "stroke-width:1.2}\n"
        "svg.chart circle.miss{fill:var(--bad);stroke:#fff;"
        "stroke-width:1.2}\n"
        "svg.chart circle.unc{fill:#fff;stroke:var(--accent);"
        "stroke-width:1.8}\n"
        "svg.chart path.clip{fill:#fff;stroke:var(--accent);"
        "stroke-width:1.6}\n"
        ".sw.ht{background:repeating-linear-gradient(135deg,#7d8791 0 3px,"
        "#fff 3px 5px)}\n"
        "details{margin:6px 0 2px}\n"
        "summary{cursor:pointer;color:var(--accent);font-size:12.5px}\n"
        ".scroll{overflow-x:auto}\n"
        "table{border-collapse:collapse;font-size:12.5px;margin:6px 0}\n"
        "caption{text-align:left;color:var(--muted);font-size:12px;"
        "padding:2px 0 4px}\n"
        "th,td{padding:3px 9px;border-bottom:1px solid #e6eaee;"
        "text-align:right;white-space:nowrap}\n"
        "thead th{border-bottom:2px solid #cfd6dd;font-weight:600}\n"
        "th.l,td.l{text-align:left}\n"
        "tr.grp th{text-align:left;background:#f1f4f7;font-weight:600}\n"
        "td.miss{background:#fbe3e0;color:#7d1a14}\n"
        "td.unc{color:#8a95a1;font-style:italic}\n"
        "td small{color:#8a95a1;margin-left:4px}\n"
        "td.wrap{white-space:normal;text-align:left}\n"
        ".nw{white-space:nowrap}\n"
        "small.ids{display:block;color:#8a95a1;font-size:11px;"
        "font-family:\"DejaVu Sans Mono\",monospace}\n"
        ".rule{display:inline-block;border-radius:10px;padding:0 8px;"
        "font-size:11.5px;font-weight:600}\n"
        ".rule.r0{background:#fde8d9;color:#8a3b06}"
        ".rule.r1{background:#e4ecf8;color:#1f4b8a}"
        ".rule.r2{background:#fbe3e0;color:#7d1a14}"
        ".rule.r3{background:#eceff2;color:#44505e}\n"
        ".cards{display:flex;flex-wrap:wrap;gap:12px;margin:8px 0 12px}\n"
        ".kpi{border:1px solid var(--rule);border-radius:6px;"
        "padding:8px 14px;min-width:150px}\n"
        ".kpi b{display:block;font-size:22px;font-weight:600}\n"
        ".kpi span{color:var(--muted);font-size:12px}\n"
        ".st-miss{color:var(--bad);font-weight:600}"
        ".st-ok{color:var(--ok)}.st-unc{color:#8a95a1}\n"
        ".empty{color:var(--muted);font-style:italic}\n"
        "footer{color:var(--muted);font-size:12px;max-width:1240px;"
        "margin:0 auto;padding:0 24px 32px}\n"
        "@media print{nav{display:none}section.card{break-inside:avoid}"
        "body{background:#fff}}\n";

static void legend_line(rep_t *r, const vg_target_t *tg, bool ref,
                        bool clipped) {
        char tt[32];
        P(r, "<div class=\"legend\"><span><i class=\"sw ln\"></i>value per "
             "month</span>");
        if (ref)
                P(r, "<span><i class=\"sw rf\"></i>Sverige, for "
                     "comparison</span>");
        if (tg->tg_set) {
                target_text(tg, tt, sizeof(tt));
                PF(r, "<span><i class=\"sw tg\"></i>target %s</span>"
                      "<span><i class=\"sw ms\"></i>misses the target</span>",
                   tt);
        }
        PF(r, "<span><i class=\"sw un\"></i>uncertain: fewer than %lld "
              "cases</span>", (long long)r->rp_min_den);
        if (clipped)
                P(r, "<span><svg class=\"sw\" viewBox=\"0 0 12 12\" "
                     "aria-hidden=\"true\"><path d=\"M1.5 10.5 L6 1.5 "
                     "L10.5 10.5 Z\" fill=\"#fff\" stroke=\"" C_LINE "\" "
                     "stroke-width=\"1.6\"/></svg>value from very few "
                     "cases, above the scale (see the data table)</span>");
        P(r, "</div>\n");
}

/* Has area a value of any of the ni indicators? */
static bool area_has(const rep_t *r, const char *const *inds, size_t ni,
                     const char *area) {
        for (size_t i = 0; i < ni; i++)
                for (size_t p = 0; p < r->rp_np; p++)
                        if (find_row(r, inds[i], area, r->rp_periods[p]))
                                return true;
        return false;
}

/* Areas that get charts of the ni indicators, in order. */
static size_t chart_areas(const rep_t *r, const char *const *inds, size_t ni,
                          const char **out) {
        size_t n = 0;
        for (size_t a = 0; a < r->rp_nareas; a++)
                if (charted(r, r->rp_areas[a]) &&
                    area_has(r, inds, ni, r->rp_areas[a]))
                        out[n++] = r->rp_areas[a];
        return n;
}

static void line_pts(const rep_t *r, const char *ind, const char *area,
                     pt_t *pts) {
        for (size_t p = 0; p < r->rp_np; p++)
                pts[p] = get_pt(r, ind, area, r->rp_periods[p]);
}

static void line_desc(rep_t *r, const sec_t *s, const char *ind,
                      const char *aname, const line_t *l, char *buf,
                      size_t size) {
        size_t last = r->rp_np, nunc = 0, nmiss = 0, npts = 0;
        char tt[32], v[16];
        int off;
        for (size_t p = 0; p < r->rp_np; p++) {
                if (!l->l_pts[p].set)
                        continue;
                npts++;
                last = p;
                nunc += pt_uncertain(r, &l->l_pts[p]);
                nmiss += pt_missed(r, l, &l->l_pts[p]) &&
                         !pt_uncertain(r, &l->l_pts[p]);
        }
        target_text(&l->l_tg, tt, sizeof(tt));
        off = snprintf(buf, size,
                       "Line chart of %s (%s), %s, per month from %s to %s: "
                       "%zu months with data",
                       s->s_title, ind, aname, r->rp_periods[0],
                       r->rp_periods[r->rp_np - 1], npts);
        if (last < r->rp_np && off > 0 && (size_t)off < size) {
                const pt_t *pt = &l->l_pts[last];
                pct((double)pt->num / (double)pt->den, v, sizeof(v));
                off += snprintf(buf + off, size - (size_t)off,
                                "; latest %s: %s (%lld of %lld)",
                                r->rp_periods[last], v, (long long)pt->num,
                                (long long)pt->den);
        }
        if (off > 0 && (size_t)off < size && l->l_tg.tg_set)
                off += snprintf(buf + off, size - (size_t)off,
                                ". Target %s, missed in %zu months", tt,
                                nmiss);
        if (off > 0 && (size_t)off < size)
                snprintf(buf + off, size - (size_t)off,
                         ". %zu months have fewer than %lld cases "
                         "(uncertain).", nunc, (long long)r->rp_min_den);
}

static void line_table(rep_t *r, const sec_t *s, const line_t *l,
                       const char *aname) {
        P(r, "<details><summary>Data table</summary><div class=\"scroll\">"
             "<table><caption>");
        E(r, s->s_title);
        P(r, ", ");
        E(r, aname);
        PF(r, "</caption><thead><tr><th class=\"l\" scope=\"col\">Month</th>"
              "<th scope=\"col\">%s</th><th scope=\"col\">%s</th>"
              "<th scope=\"col\">Value</th><th class=\"l\" scope=\"col\">"
              "Note</th></tr></thead><tbody>", s->s_num, s->s_den);
        for (size_t p = 0; p < r->rp_np; p++) {
                const pt_t *pt = &l->l_pts[p];
                char v[16], per[16];
                bool unc, miss;
                if (!pt->set)
                        continue;
                unc = pt_uncertain(r, pt);
                miss = pt_missed(r, l, pt);
                pct((double)pt->num / (double)pt->den, v, sizeof(v));
                period_label(r->rp_periods[p], per, sizeof(per));
                PF(r, "<tr><th class=\"l\" scope=\"row\">%s</th><td>%lld</td>"
                      "<td>%lld</td><td class=\"%s\">%s</td><td class=\"l\">"
                      "%s</td></tr>",
                   per, (long long)pt->num, (long long)pt->den,
                   unc ? "unc" : miss ? "miss" : "", v,
                   unc ? "uncertain (few cases)"
                       : miss ? "misses the target" : "");
        }
        P(r, "</tbody></table></div></details>\n");
}

/* Kommuner (in scope) with a value of any of the ni indicators. */
static size_t kommuner(const rep_t *r, const char *const *inds, size_t ni,
                       const char **out) {
        size_t n = 0;
        for (size_t a = 0; a < r->rp_nareas; a++)
                if (area_level(r->rp_areas[a]) == 2 &&
                    area_has(r, inds, ni, r->rp_areas[a]))
                        out[n++] = r->rp_areas[a];
        return n;
}

/* A region header row when the region changes. */
static void region_row(rep_t *r, const char *kommun, char *cur, int cols) {
        if (!strncmp(cur, kommun, 2))
                return;
        memcpy(cur, kommun, 2);
        cur[2] = '\0';
        PF(r, "<tr class=\"grp\"><th colspan=\"%d\" scope=\"colgroup\">", cols);
        area_html(r, cur, true);
        P(r, "</th></tr>");
}

static void kommun_line_table(rep_t *r, const sec_t *s, const char *ind,
                              const line_t *proto) {
        const char **ks = vg_calloc(r->rp_nareas + 1, sizeof(char *));
        size_t nk = kommuner(r, &ind, 1, ks);
        char cur[3] = "";
        if (!nk) {
                vg_free(ks);
                return;
        }
        PF(r, "<details><summary>Kommuner (%zu): value per month</summary>"
              "<div class=\"scroll\"><table><caption>", nk);
        E(r, s->s_title);
        PF(r, " by kommun; each cell is the value and %s / %s</caption>"
              "<thead><tr><th class=\"l\" scope=\"col\">Kommun</th>",
           s->s_num, s->s_den);
        for (size_t p = 0; p < r->rp_np; p++) {
                char per[16];
                period_label(r->rp_periods[p], per, sizeof(per));
                PF(r, "<th scope=\"col\">%s</th>", per);
        }
        P(r, "</tr></thead><tbody>");
        for (size_t k = 0; k < nk; k++) {
                region_row(r, ks[k], cur, (int)r->rp_np + 1);
                P(r, "<tr><th class=\"l\" scope=\"row\">");
                area_html(r, ks[k], true);
                P(r, "</th>");
                for (size_t p = 0; p < r->rp_np; p++) {
                        pt_t pt = get_pt(r, ind, ks[k], r->rp_periods[p]);
                        char v[16];
                        if (!pt.set) {
                                P(r, "<td></td>");
                                continue;
                        }
                        pct((double)pt.num / (double)pt.den, v, sizeof(v));
                        PF(r, "<td class=\"%s\">%s<small>%lld/%lld</small>"
                              "</td>",
                           pt_uncertain(r, &pt) ? "unc"
                           : pt_missed(r, proto, &pt) ? "miss" : "",
                           v, (long long)pt.num, (long long)pt.den);
                }
                P(r, "</tr>");
        }
        P(r, "</tbody></table></div></details>\n");
        vg_free(ks);
}

static void section_head(rep_t *r, const sec_t *s, const char *code) {
        char id[96];
        sec_anchor(s, id, sizeof(id));
        P(r, "<section class=\"card ind\" id=\"");
        E(r, id);
        P(r, "\"><h2>");
        E(r, s->s_title);
        P(r, "<code>");
        E(r, code);
        P(r, "</code></h2><p class=\"what\">");
        E(r, s->s_what);
        P(r, "</p>\n");
}

static void sec_line(rep_t *r, const sec_t *s, const char *ind) {
        const char **areas = vg_calloc(r->rp_nareas + 1, sizeof(char *));
        size_t na = chart_areas(r, &ind, 1, areas);
        pt_t *pts = vg_calloc(r->rp_np + 1, sizeof(pt_t));
        pt_t *ref = vg_calloc(r->rp_np + 1, sizeof(pt_t));
        line_t l;
        double vmax = 0, vmax_all = 0;
        bool have_se = false, any_ref = false, any_fit = false;

        l.l_tg = vg_agg_target(r->rp_conf, ind);
        /* One y-scale for every chart of the indicator. It fits every value
         * but those from very few cases (under a quarter of
         * min_denominator): a 2-of-2 month would flatten everything else.
         * Those above the scale are marked at the top edge (their numbers
         * are in the tooltips and data tables). */
        for (size_t i = 0; i < r->rp_nrows; i++) {
                const row_t *w = &r->rp_rows[i];
                double v;
                if (strcmp(w->r_ind, ind) || !w->r_has_den ||
                    (!charted(r, w->r_area) && strcmp(w->r_area, "SE")))
                        continue;
                v = (double)w->r_num / (double)w->r_den;
                if (v > vmax_all)
                        vmax_all = v;
                if (w->r_den * 4 >= r->rp_min_den) {
                        any_fit = true;
                        if (v > vmax)
                                vmax = v;
                }
        }
        if (!any_fit)
                vmax = vmax_all;
        if (l.l_tg.tg_set) {
                /* room above the target line for its label */
                double t = l.l_tg.tg_target * 1.2;
                if (t > 1.0 && l.l_tg.tg_target <= 1.0)
                        t = 1.0;
                if (t > vmax)
                        vmax = t;
        }
        ratio_scale(vmax, &l.l_ymax, &l.l_step);
        line_pts(r, ind, "SE", ref);
        for (size_t p = 0; p < r->rp_np; p++)
                have_se |= ref[p].set;
        for (size_t a = 0; a < na; a++)
                any_ref |= have_se && strcmp(areas[a], "SE");

        section_head(r, s, ind);
        legend_line(r, &l.l_tg, any_ref, vmax_all > l.l_ymax + 1e-9);
        P(r, "<div class=\"grid\">\n");
        for (size_t a = 0; a < na; a++) {
                char aname[128], title[256], desc[1024];
                size_t last = r->rp_np;
                line_pts(r, ind, areas[a], pts);
                l.l_pts = pts;
                l.l_ref = have_se && strcmp(areas[a], "SE") ? ref : NULL;
                area_text(areas[a], aname, sizeof(aname));
                snprintf(title, sizeof(title), "%s \u2013 %s", s->s_title,
                         aname);
                line_desc(r, s, ind, aname, &l, desc, sizeof(desc));
                P(r, "<figure><figcaption>");
                area_html(r, areas[a], true);
                for (size_t p = 0; p < r->rp_np; p++)
                        if (pts[p].set)
                                last = p;
                if (last < r->rp_np) {
                        char v[16], per[16];
                        pct((double)pts[last].num / (double)pts[last].den, v,
                            sizeof(v));
                        period_label(r->rp_periods[last], per, sizeof(per));
                        PF(r, "<span class=\"sub\">%s: %s (%lld/%lld)</span>",
                           per, v, (long long)pts[last].num,
                           (long long)pts[last].den);
                }
                P(r, "</figcaption>\n");
                svg_line(r, &l, title, desc);
                line_table(r, s, &l, aname);
                P(r, "</figure>\n");
        }
        if (!na)
                P(r, "<p class=\"empty\">No area to chart.</p>");
        P(r, "</div>\n");
        l.l_pts = NULL;
        l.l_ref = NULL;
        kommun_line_table(r, s, ind, &l);
        P(r, "</section>\n");
        vg_free(pts);
        vg_free(ref);
        vg_free(areas);
}

/* Series of a group section: the indicators with the prefix, in a known
 * order (enum order for places, age bands for SSIH), others after. */
static const char *const place_colors[] = {
        "#d55e00", /* HOSPITAL */
        "#cc79a7", /* PALLIATIVE_UNIT */
        "#0072b2", /* NURSING_HOME */
        "#56b4e9", /* SHORT_TERM_CARE */
        "#009e73", /* HOME */
        "#8fd6b8", /* HOME_WITH_SSIH */
        "#e69f00", /* OTHER */
        "#bdbdbd", /* UNKNOWN */
};
static const char *const age_bands[] = {"0-64", "65-74", "75-84", "85+"};
static const char *const age_colors[] = {"#c6dbef", "#6baed6", "#2171b5",
                                         "#08306b", "#8c8c8c"};

static const char *place_label(const char *sym) {
        static const struct { const char *sym, *label; } l[] = {
                {"HOSPITAL", "Hospital"},
                {"PALLIATIVE_UNIT", "Palliative unit"},
                {"NURSING_HOME", "Nursing home"},
                {"SHORT_TERM_CARE", "Short-term care"},
                {"HOME", "Home"},
                {"HOME_WITH_SSIH", "Home with SSIH"},
                {"OTHER", "Other"},
                {"UNKNOWN", "Unknown"},
        };
        for (size_t i = 0; i < VG_ARRAY_SIZE(l); i++)
                if (!strcmp(l[i].sym, sym))
                        return l[i].label;
        return sym;
}

static int place_rank(const char *ind) {
        int v = vg_enum_find(&vg_enum_place, ind + strlen("death_place."));
        return v < 0 ? 1000 : v;
}

static int place_cmp(const void *pa, const void *pb) {
        const char *a = *(const char *const *)pa, *b = *(const char *const *)pb;
        int ra = place_rank(a), rb = place_rank(b);
        return ra != rb ? ra - rb : strcmp(a, b);
}

static size_t group_inds(const rep_t *r, const sec_t *s, const char **out) {
        size_t n = 0;
        for (size_t i = 0; i < r->rp_ninds; i++)
                if (sec_has(s, r->rp_inds[i]))
                        out[n++] = r->rp_inds[i];
        return n;
}

static void sec_place(rep_t *r, const sec_t *s) {
        const char **inds = vg_calloc(r->rp_ninds + 1, sizeof(char *));
        const char **areas = vg_calloc(r->rp_nareas + 1, sizeof(char *));
        size_t ni = group_inds(r, s, inds),
               na = chart_areas(r, inds, ni, areas);
        const char **names = vg_calloc(ni + 1, sizeof(char *));
        const char **colors = vg_calloc(ni + 1, sizeof(char *));
        bars_t b = {0};
        const char **ks;
        size_t nk;
        char cur[3] = "";

        qsort(inds, ni, sizeof(char *), place_cmp);
        for (size_t i = 0; i < ni; i++) {
                int rk = place_rank(inds[i]);
                names[i] = place_label(inds[i] + strlen("death_place."));
                colors[i] = rk < (int)VG_ARRAY_SIZE(place_colors)
                                    ? place_colors[rk] : "#7f7f7f";
        }
        b.b_nser = ni;
        b.b_names = names;
        b.b_colors = colors;
        b.b_v = vg_calloc(ni * r->rp_np + 1, sizeof(double));
        b.b_tot = vg_calloc(r->rp_np + 1, sizeof(int64_t));
        b.b_share = true;

        section_head(r, s, "death_place.*");
        P(r, "<div class=\"legend\">");
        for (size_t i = 0; i < ni; i++) {
                PF(r, "<span><i class=\"sw\" style=\"background:%s\"></i>",
                   colors[i]);
                E(r, names[i]);
                P(r, "</span>");
        }
        PF(r, "<span><i class=\"sw ht\"></i>n=deaths; striped and *: "
              "fewer than %lld deaths (uncertain)</span></div>\n",
           (long long)r->rp_min_den);
        P(r, "<div class=\"grid\">\n");
        for (size_t a = 0; a < na; a++) {
                char aname[128], title[256], desc[1024];
                int64_t deaths = 0;
                size_t months = 0;
                for (size_t p = 0; p < r->rp_np; p++) {
                        b.b_tot[p] = 0;
                        for (size_t i = 0; i < ni; i++) {
                                pt_t pt = get_pt(r, inds[i], areas[a],
                                                 r->rp_periods[p]);
                                b.b_v[i * r->rp_np + p] =
                                        pt.set ? (double)pt.num /
                                                         (double)pt.den
                                               : 0;
                                if (pt.set)
                                        b.b_tot[p] = pt.den;
                        }
                        deaths += b.b_tot[p];
                        months += b.b_tot[p] > 0;
                }
                area_text(areas[a], aname, sizeof(aname));
                snprintf(title, sizeof(title), "Place of death \u2013 %s",
                         aname);
                snprintf(desc, sizeof(desc),
                         "Stacked bar chart of the share of deaths by place, "
                         "per month from %s to %s, %s: %lld deaths in %zu "
                         "months. Months with fewer than %lld deaths are "
                         "faded and marked *.",
                         r->rp_periods[0], r->rp_periods[r->rp_np - 1], aname,
                         (long long)deaths, months, (long long)r->rp_min_den);
                P(r, "<figure><figcaption>");
                area_html(r, areas[a], true);
                PF(r, "<span class=\"sub\">%lld deaths</span></figcaption>\n",
                   (long long)deaths);
                svg_bars(r, &b, title, desc);
                /* data table: places x months */
                P(r, "<details><summary>Data table</summary>"
                     "<div class=\"scroll\"><table><caption>Deaths by place, ");
                E(r, aname);
                P(r, "; number and share of the month's deaths</caption>"
                     "<thead><tr><th class=\"l\" scope=\"col\">Place</th>");
                for (size_t p = 0; p < r->rp_np; p++) {
                        char per[16];
                        period_label(r->rp_periods[p], per, sizeof(per));
                        PF(r, "<th scope=\"col\">%s</th>", per);
                }
                P(r, "</tr></thead><tbody>");
                for (size_t i = 0; i < ni; i++) {
                        P(r, "<tr><th class=\"l\" scope=\"row\">");
                        E(r, inds[i]);
                        P(r, "</th>");
                        for (size_t p = 0; p < r->rp_np; p++) {
                                double v = b.b_v[i * r->rp_np + p];
                                if (!b.b_tot[p])
                                        P(r, "<td></td>");
                                else
                                        PF(r, "<td%s>%.0f<small>%.0f%%</small>"
                                              "</td>",
                                           b.b_tot[p] < r->rp_min_den
                                                   ? " class=\"unc\"" : "",
                                           v * (double)b.b_tot[p], v * 100);
                        }
                        P(r, "</tr>");
                }
                P(r, "<tr><th class=\"l\" scope=\"row\">Deaths</th>");
                for (size_t p = 0; p < r->rp_np; p++)
                        PF(r, "<td><b>%lld</b></td>", (long long)b.b_tot[p]);
                P(r, "</tr></tbody></table></div></details>\n</figure>\n");
        }
        P(r, "</div>\n");

        /* kommuner: totals over the periods shown */
        ks = vg_calloc(r->rp_nareas + 1, sizeof(char *));
        nk = kommuner(r, inds, ni, ks);
        if (nk) {
                PF(r, "<details><summary>Kommuner (%zu): deaths by place, "
                      "%s to %s</summary><div class=\"scroll\"><table>"
                      "<caption>Deaths by place and kommun, all months shown; "
                      "number and share</caption><thead><tr>"
                      "<th class=\"l\" scope=\"col\">Kommun</th>"
                      "<th scope=\"col\">Deaths</th>",
                   nk, r->rp_periods[0], r->rp_periods[r->rp_np - 1]);
                for (size_t i = 0; i < ni; i++) {
                        P(r, "<th scope=\"col\">");
                        E(r, names[i]);
                        P(r, "</th>");
                }
                P(r, "</tr></thead><tbody>");
                for (size_t k = 0; k < nk; k++) {
                        int64_t deaths = 0;
                        region_row(r, ks[k], cur, (int)ni + 2);
                        for (size_t p = 0; p < r->rp_np; p++)
                                for (size_t i = 0; i < ni; i++) {
                                        pt_t pt = get_pt(r, inds[i], ks[k],
                                                         r->rp_periods[p]);
                                        if (pt.set) {
                                                deaths += pt.den;
                                                break;
                                        }
                                }
                        P(r, "<tr><th class=\"l\" scope=\"row\">");
                        area_html(r, ks[k], true);
                        PF(r, "</th><td%s><b>%lld</b></td>",
                           deaths < r->rp_min_den ? " class=\"unc\"" : "",
                           (long long)deaths);
                        for (size_t i = 0; i < ni; i++) {
                                int64_t num = 0;
                                for (size_t p = 0; p < r->rp_np; p++)
                                        num += get_pt(r, inds[i], ks[k],
                                                      r->rp_periods[p]).num;
                                if (deaths)
                                        PF(r, "<td>%lld<small>%.0f%%</small>"
                                              "</td>", (long long)num,
                                           100.0 * (double)num /
                                                   (double)deaths);
                                else
                                        P(r, "<td></td>");
                        }
                        P(r, "</tr>");
                }
                P(r, "</tbody></table></div></details>\n");
        }
        P(r, "</section>\n");
        vg_free(ks);
        vg_free(b.b_v);
        vg_free(b.b_tot);
        vg_free(names);
        vg_free(colors);
        vg_free(inds);
        vg_free(areas);
}

/* Age band of "ssih_enrolment.<AGE>.<DIAG>": index into age_bands, or
 * VG_ARRAY_SIZE(age_bands) for anything else. */
static size_t ssih_age(const char *ind) {
        const char *a = ind + strlen("ssih_enrolment.");
        for (size_t i = 0; i < VG_ARRAY_SIZE(age_bands); i++) {
                size_t l = strlen(age_bands[i]);
                if (!strncmp(a, age_bands[i], l) && a[l] == '.')
                        return i;
        }
        return VG_ARRAY_SIZE(age_bands);
}

static const char *ssih_diag(const char *ind) {
        const char *a = ind + strlen("ssih_enrolment."), *d = strchr(a, '.');
        return d ? d + 1 : a;
}

/* Count sections: SSIH stacked by age band (with a group prefix), or one
 * count indicator as plain bars (ind != NULL). */
static void sec_counts(rep_t *r, const sec_t *s, const char *ind) {
        const char **inds = vg_calloc(r->rp_ninds + 1, sizeof(char *));
        const char **areas = vg_calloc(r->rp_nareas + 1, sizeof(char *));
        size_t ni, na, nb = ind ? 1 : 5;
        const char *single_name[1], *single_color[1] = {C_LINE};
        const char *diags[VG_DG__CNT + 8];
        size_t nd = 0;
        bars_t b = {0};
        int64_t maxtot = 0;
        const char **ks;
        size_t nk;
        char cur[3] = "";

        if (ind) {
                inds[0] = ind;
                ni = 1;
                single_name[0] = ind;
        } else {
                ni = group_inds(r, s, inds);
        }
        na = chart_areas(r, inds, ni, areas);
        /* diagnosis groups present, in enum order */
        for (int d = 0; !ind && d < vg_enum_diag.ve_cnt; d++)
                for (size_t i = 0; i < ni; i++)
                        if (!strcmp(ssih_diag(inds[i]),
                                    vg_enum_diag.ve_symbols[d])) {
                                diags[nd++] = vg_enum_diag.ve_symbols[d];
                                break;
                        }
        b.b_nser = nb;
        b.b_names = ind ? single_name : NULL;
        b.b_colors = ind ? single_color : age_colors;
        b.b_v = vg_calloc(nb * r->rp_np + 1, sizeof(double));
        b.b_tot = vg_calloc(r->rp_np + 1, sizeof(int64_t));
        if (!ind) {
                static const char *const age_names[] = {
                        "age 0\u201364", "age 65\u201374", "age 75\u201384",
                        "age 85+", "other age"};
                b.b_names = age_names;
        }
        /* one scale for every chart of the section */
        for (size_t a = 0; a < na; a++)
                for (size_t p = 0; p < r->rp_np; p++) {
                        int64_t t = 0;
                        for (size_t i = 0; i < ni; i++)
                                t += get_pt(r, inds[i], areas[a],
                                            r->rp_periods[p]).num;
                        if (t > maxtot)
                                maxtot = t;
                }
        count_scale((maxtot * 112 + 99) / 100, &b.b_ymax, &b.b_step);

        section_head(r, s, ind ? ind : "ssih_enrolment.*");
        P(r, "<div class=\"legend\">");
        for (size_t i = 0; i < nb; i++) {
                bool used = ind != NULL;
                for (size_t k = 0; !used && k < ni; k++)
                        used = ssih_age(inds[k]) == i;
                if (!used)
                        continue;
                PF(r, "<span><i class=\"sw\" style=\"background:%s\"></i>",
                   b.b_colors[i]);
                E(r, b.b_names[i]);
                P(r, "</span>");
        }
        P(r, "<span>number above each bar: total of the month</span></div>\n"
             "<div class=\"grid\">\n");
        for (size_t a = 0; a < na; a++) {
                char aname[128], title[256], desc[1024];
                int64_t total = 0;
                memset(b.b_v, 0, nb * r->rp_np * sizeof(double));
                for (size_t p = 0; p < r->rp_np; p++) {
                        b.b_tot[p] = 0;
                        for (size_t i = 0; i < ni; i++) {
                                pt_t pt = get_pt(r, inds[i], areas[a],
                                                 r->rp_periods[p]);
                                size_t k = ind ? 0 : ssih_age(inds[i]);
                                b.b_v[k * r->rp_np + p] += (double)pt.num;
                                b.b_tot[p] += pt.num;
                        }
                        total += b.b_tot[p];
                }
                area_text(areas[a], aname, sizeof(aname));
                snprintf(title, sizeof(title), "%s \u2013 %s", s->s_title,
                         aname);
                snprintf(desc, sizeof(desc),
                         "Bar chart of the number per month%s from %s to %s, "
                         "%s: %lld in total.",
                         ind ? "" : ", stacked by age band",
                         r->rp_periods[0], r->rp_periods[r->rp_np - 1], aname,
                         (long long)total);
                P(r, "<figure><figcaption>");
                area_html(r, areas[a], true);
                PF(r, "<span class=\"sub\">%lld in total</span></figcaption>\n",
                   (long long)total);
                svg_bars(r, &b, title, desc);
                P(r, "<details><summary>Data table</summary>"
                     "<div class=\"scroll\"><table><caption>");
                E(r, s->s_title);
                P(r, ", ");
                E(r, aname);
                P(r, "</caption><thead><tr><th class=\"l\" scope=\"col\">"
                     "Indicator</th>");
                for (size_t p = 0; p < r->rp_np; p++) {
                        char per[16];
                        period_label(r->rp_periods[p], per, sizeof(per));
                        PF(r, "<th scope=\"col\">%s</th>", per);
                }
                P(r, "<th scope=\"col\">Total</th></tr></thead><tbody>");
                for (size_t i = 0; i < ni; i++) {
                        int64_t t = 0;
                        P(r, "<tr><th class=\"l\" scope=\"row\">");
                        E(r, inds[i]);
                        P(r, "</th>");
                        for (size_t p = 0; p < r->rp_np; p++) {
                                pt_t pt = get_pt(r, inds[i], areas[a],
                                                 r->rp_periods[p]);
                                t += pt.num;
                                if (pt.num)
                                        PF(r, "<td>%lld</td>",
                                           (long long)pt.num);
                                else
                                        P(r, "<td></td>");
                        }
                        PF(r, "<td><b>%lld</b></td></tr>", (long long)t);
                }
                P(r, "<tr><th class=\"l\" scope=\"row\">Total</th>");
                for (size_t p = 0; p < r->rp_np; p++)
                        PF(r, "<td><b>%lld</b></td>", (long long)b.b_tot[p]);
                PF(r, "<td><b>%lld</b></td></tr></tbody></table></div>"
                      "</details>\n</figure>\n", (long long)total);
        }
        P(r, "</div>\n");

        ks = vg_calloc(r->rp_nareas + 1, sizeof(char *));
        nk = kommuner(r, inds, ni, ks);
        if (nk) {
                PF(r, "<details><summary>Kommuner (%zu): totals %s to %s"
                      "</summary><div class=\"scroll\"><table><caption>",
                   nk, r->rp_periods[0], r->rp_periods[r->rp_np - 1]);
                E(r, s->s_title);
                P(r, " by kommun, all months shown</caption><thead><tr>"
                     "<th class=\"l\" scope=\"col\">Kommun</th>");
                if (!ind) {
                        for (size_t i = 0; i < VG_ARRAY_SIZE(age_bands); i++)
                                PF(r, "<th scope=\"col\">%s</th>",
                                   b.b_names[i]);
                        for (size_t d = 0; d < nd; d++) {
                                P(r, "<th scope=\"col\">");
                                E(r, diags[d]);
                                P(r, "</th>");
                        }
                }
                P(r, "<th scope=\"col\">Total</th></tr></thead><tbody>");
                for (size_t k = 0; k < nk; k++) {
                        int64_t byage[VG_ARRAY_SIZE(age_bands) + 1] = {0},
                                bydiag[VG_ARRAY_SIZE(diags)] = {0}, total = 0;
                        for (size_t i = 0; i < ni; i++) {
                                int64_t t = 0;
                                for (size_t p = 0; p < r->rp_np; p++)
                                        t += get_pt(r, inds[i], ks[k],
                                                    r->rp_periods[p]).num;
                                total += t;
                                if (ind)
                                        continue;
                                byage[ssih_age(inds[i])] += t;
                                for (size_t d = 0; d < nd; d++)
                                        if (!strcmp(ssih_diag(inds[i]),
                                                    diags[d]))
                                                bydiag[d] += t;
                        }
                        if (!total)
                                continue;
                        region_row(r, ks[k], cur,
                                   ind ? 2 : (int)(nd + 6));
                        P(r, "<tr><th class=\"l\" scope=\"row\">");
                        area_html(r, ks[k], true);
                        P(r, "</th>");
                        for (size_t i = 0; !ind && i < VG_ARRAY_SIZE(age_bands);
                             i++)
                                PF(r, "<td>%lld</td>", (long long)byage[i]);
                        for (size_t d = 0; !ind && d < nd; d++)
                                PF(r, "<td>%lld</td>", (long long)bydiag[d]);
                        PF(r, "<td><b>%lld</b></td></tr>", (long long)total);
                }
                P(r, "</tbody></table></div></details>\n");
        }
        P(r, "</section>\n");
        vg_free(ks);
        vg_free(b.b_v);
        vg_free(b.b_tot);
        vg_free(inds);
        vg_free(areas);
}

/* ------------------------------------------------------------------------
 * Overview and alerts
 */

static const char *rule_label(int rule) {
        switch (rule) {
        case VG_RULE_READMISSION_30D: return "Readmission within 30 days";
        case VG_RULE_SIP_OVERDUE: return "SIP overdue after discharge";
        case VG_RULE_INDICATOR_BELOW_TARGET: return "Indicator misses target";
        case VG_RULE_DEATH_NOT_REGISTERED: return "Death not registered";
        default: return "";
        }
}

static const char *rule_kpi(int rule) {
        switch (rule) {
        case VG_RULE_READMISSION_30D: return "readmission alerts";
        case VG_RULE_SIP_OVERDUE: return "overdue SIP alerts";
        case VG_RULE_INDICATOR_BELOW_TARGET: return "indicators below target";
        case VG_RULE_DEATH_NOT_REGISTERED: return "deaths not registered";
        default: return "other alerts";
        }
}

static bool ind_has_den(const rep_t *r, const char *ind) {
        for (size_t i = 0; i < r->rp_nrows; i++)
                if (!strcmp(r->rp_rows[i].r_ind, ind))
                        return r->rp_rows[i].r_has_den;
        return false;
}

static void overview(rep_t *r) {
        const char *focus = NULL;
        size_t byrule[8] = {0};
        int64_t deaths = 0;
        for (size_t a = 0; a < r->rp_nareas && !focus; a++)
                if (charted(r, r->rp_areas[a]))
                        focus = r->rp_areas[a];
        for (size_t i = 0; i < r->rp_nalerts; i++)
                if (r->rp_alerts[i].al_rule >= 0 &&
                    r->rp_alerts[i].al_rule < (int)VG_ARRAY_SIZE(byrule))
                        byrule[r->rp_alerts[i].al_rule]++;
        for (size_t i = 0; focus && i < r->rp_nrows; i++)
                if (!strcmp(r->rp_rows[i].r_ind, "death_place.HOSPITAL") &&
                    !strcmp(r->rp_rows[i].r_area, focus))
                        deaths += r->rp_rows[i].r_den;

        P(r, "<section class=\"card\" id=\"overview\"><h2>Overview</h2>\n"
             "<div class=\"cards\">");
        PF(r, "<a class=\"kpi\" href=\"#alerts\" style=\"text-decoration:none;"
              "color:inherit\"><b>%zu</b><span>active alerts</span></a>",
           r->rp_nalerts);
        for (int k = 0; k < (int)VG_ARRAY_SIZE(byrule); k++)
                if (byrule[k])
                        PF(r, "<div class=\"kpi\"><b>%zu</b><span>%s</span>"
                              "</div>", byrule[k], rule_kpi(k));
        if (focus && deaths) {
                PF(r, "<div class=\"kpi\"><b>%lld</b><span>deaths, ",
                   (long long)deaths);
                area_html(r, focus, false);
                P(r, "</span></div>");
        }
        if (r->rp_np)
                PF(r, "<div class=\"kpi\"><b>%zu</b><span>months, %s to %s"
                      "</span></div>", r->rp_np, r->rp_periods[0],
                   r->rp_periods[r->rp_np - 1]);
        P(r, "</div>\n");
        if (!focus) {
                P(r, "<p class=\"empty\">No indicator values in the selected "
                     "areas and months.</p></section>\n");
                return;
        }
        P(r, "<div class=\"scroll\"><table><caption>Latest month of each "
             "indicator, ");
        area_html(r, focus, true);
        P(r, "</caption><thead><tr><th class=\"l\" scope=\"col\">Indicator"
             "</th><th scope=\"col\">Month</th><th scope=\"col\">Value</th>"
             "<th scope=\"col\">Cases</th><th scope=\"col\">Target</th>"
             "<th class=\"l\" scope=\"col\">Status</th></tr></thead><tbody>");
        for (size_t j = 0; j < VG_ARRAY_SIZE(known_secs) + r->rp_ninds; j++) {
                const char *ind;
                const sec_t *s = NULL;
                vg_target_t tg;
                pt_t pt = {false, 0, 0};
                size_t last = r->rp_np;
                char v[16], tt[32], per[16], id[96];
                if (j < VG_ARRAY_SIZE(known_secs)) {
                        /* SPEC order first */
                        s = &known_secs[j];
                        ind = s->s_key;
                        if (s->s_kind != SEC_LINE)
                                continue;
                } else {
                        ind = r->rp_inds[j - VG_ARRAY_SIZE(known_secs)];
                        if (known_ind(ind) || !ind_has_den(r, ind))
                                continue;
                }
                for (size_t p = r->rp_np; p-- > 0;) {
                        pt = get_pt(r, ind, focus, r->rp_periods[p]);
                        if (pt.set) {
                                last = p;
                                break;
                        }
                }
                if (last == r->rp_np)
                        continue;
                tg = vg_agg_target(r->rp_conf, ind);
                target_text(&tg, tt, sizeof(tt));
                pct((double)pt.num / (double)pt.den, v, sizeof(v));
                period_label(r->rp_periods[last], per, sizeof(per));
                P(r, "<tr><th class=\"l\" scope=\"row\"><a href=\"#");
                if (s) {
                        sec_anchor(s, id, sizeof(id));
                        E(r, id);
                } else {
                        P(r, "ind-");
                        E(r, ind);
                }
                P(r, "\">");
                E(r, s ? s->s_title : ind);
                PF(r, "</a></th><td>%s</td><td>%s</td><td>%lld/%lld</td>"
                      "<td>%s</td><td class=\"l\">", per, v,
                   (long long)pt.num, (long long)pt.den, tt);
                if (pt.den < r->rp_min_den)
                        PF(r, "<span class=\"st-unc\">uncertain (fewer than "
                              "%lld cases)</span>", (long long)r->rp_min_den);
                else if (!tg.tg_set)
                        P(r, "\u2013");
                else if (vg_agg_breach(&tg, pt.num, pt.den, r->rp_min_den))
                        P(r, "<span class=\"st-miss\">misses the target"
                             "</span>");
                else
                        P(r, "<span class=\"st-ok\">meets the target</span>");
                P(r, "</td></tr>");
        }
        P(r, "</tbody></table></div></section>\n");
}

static void alert_details(rep_t *r, const vg_alert_t *al) {
        char a[24], b[24];
        switch (al->al_rule) {
        case VG_RULE_READMISSION_30D:
                fmt_local(r, al->al_index_discharged_at.v, true, a, sizeof(a));
                fmt_local(r, al->al_readmitted_at.v, true, b, sizeof(b));
                PF(r, "Readmitted <b>%lld day%s</b> after discharge: "
                      "discharged <span class=\"nw\">%s</span>, readmitted "
                      "<span class=\"nw\">%s</span>"
                      "<small class=\"ids\">stays ",
                   (long long)al->al_days_between.v,
                   al->al_days_between.v == 1 ? "" : "s",
                   al->al_index_discharged_at.set ? a : "?",
                   al->al_readmitted_at.set ? b : "?");
                E(r, al->al_index_stay_id ? al->al_index_stay_id : "?");
                P(r, " \u2192 ");
                E(r, al->al_readmission_stay_id ? al->al_readmission_stay_id
                                                : "?");
                P(r, "</small>");
                break;
        case VG_RULE_SIP_OVERDUE:
                fmt_local(r, al->al_discharged_at.v, true, a, sizeof(a));
                fmt_local(r, al->al_deadline.v, true, b, sizeof(b));
                PF(r, "No SIP by the deadline <b class=\"nw\">%s</b>; "
                      "discharged <span class=\"nw\">%s</span>"
                      "<small class=\"ids\">stay ",
                   al->al_deadline.set ? b : "?",
                   al->al_discharged_at.set ? a : "?");
                E(r, al->al_stay_id ? al->al_stay_id : "?");
                P(r, "</small>");
                break;
        case VG_RULE_INDICATOR_BELOW_TARGET:
                E(r, al->al_indicator ? al->al_indicator : "?");
                P(r, " in ");
                if (al->al_area)
                        area_html(r, al->al_area, true);
                P(r, ", ");
                E(r, al->al_period ? al->al_period : "?");
                if (al->al_value.set)
                        PF(r, ": %.1f%%", al->al_value.v * 100);
                if (al->al_numerator.set && al->al_denominator.set)
                        PF(r, " (%lld of %lld)",
                           (long long)al->al_numerator.v,
                           (long long)al->al_denominator.v);
                if (al->al_target.set) {
                        vg_target_t tg = vg_agg_target(
                                r->rp_conf, al->al_indicator ? al->al_indicator
                                                             : "");
                        PF(r, ", target %s%g%%",
                           !tg.tg_set ? ""
                           : tg.tg_higher_is_better ? "\u2265 " : "\u2264 ",
                           al->al_target.v * 100);
                }
                break;
        default:
                P(r, "Anchor ");
                E(r, al->al_anchor);
        }
}

/* Region an alert counts under: its region, "SE" for national ones. */
static const char *alert_region(const vg_alert_t *al) {
        if (al->al_region && *al->al_region)
                return al->al_region;
        if (al->al_area && !strcmp(al->al_area, "SE"))
                return "SE";
        return "";
}

static void alerts_section(rep_t *r) {
        const char *regions[64];
        size_t nreg = 0, byrule[8] = {0};
        size_t (*cnt)[64] = vg_calloc(8, sizeof(*cnt));

        for (size_t i = 0; i < r->rp_nalerts; i++) {
                const vg_alert_t *al = &r->rp_alerts[i];
                const char *reg = alert_region(al);
                size_t g;
                int ru = al->al_rule;
                if (ru < 0 || ru >= (int)VG_ARRAY_SIZE(byrule))
                        continue;
                for (g = 0; g < nreg && strcmp(regions[g], reg); g++)
                        ;
                if (g == nreg && nreg < VG_ARRAY_SIZE(regions))
                        regions[nreg++] = reg;
                byrule[ru]++;
        }
        qsort(regions, nreg, sizeof(char *), area_pcmp);
        for (size_t i = 0; i < r->rp_nalerts; i++) {
                const vg_alert_t *al = &r->rp_alerts[i];
                const char *reg = alert_region(al);
                for (size_t g = 0; g < nreg; g++)
                        if (!strcmp(regions[g], reg) && al->al_rule >= 0 &&
                            al->al_rule < (int)VG_ARRAY_SIZE(byrule))
                                cnt[al->al_rule][g]++;
        }
        PF(r, "<section class=\"card\" id=\"alerts\"><h2>Active alerts</h2>\n"
              "<p id=\"alert-count\" data-count=\"%zu\"><b>%zu</b> active "
              "alert%s", r->rp_nalerts, r->rp_nalerts,
           r->rp_nalerts == 1 ? "" : "s");
        PF(r, " (of %zu alerts read, deduplicated by alert id; the last "
              "status of each counts). Times are local (",
           r->rp_alerts_read);
        E(r, vg_tz_name(r->rp_tz));
        P(r, "); patients appear by a shortened pseudonym.</p>\n");
        if (!r->rp_nalerts) {
                P(r, "<p class=\"empty\">No active alerts.</p></section>\n");
                vg_free(cnt);
                return;
        }
        /* counts by rule and region */
        P(r, "<div class=\"scroll\"><table id=\"alert-counts\"><caption>Active "
             "alerts by rule and region</caption><thead><tr><th class=\"l\" "
             "scope=\"col\">Rule</th>");
        for (size_t g = 0; g < nreg; g++) {
                P(r, "<th scope=\"col\">");
                if (*regions[g])
                        area_html(r, regions[g], false);
                else
                        P(r, "No region");
                P(r, "</th>");
        }
        P(r, "<th scope=\"col\">Total</th></tr></thead><tbody>");
        for (int k = 0; k < (int)VG_ARRAY_SIZE(byrule); k++) {
                if (!byrule[k])
                        continue;
                PF(r, "<tr><th class=\"l\" scope=\"row\">%s <span "
                      "class=\"code\">%s</span></th>",
                   rule_label(k), vg_enum_str(&vg_enum_rule, k));
                for (size_t g = 0; g < nreg; g++)
                        PF(r, "<td>%zu</td>", cnt[k][g]);
                PF(r, "<td><b>%zu</b></td></tr>", byrule[k]);
        }
        P(r, "</tbody></table></div>\n");
        vg_free(cnt);

        P(r, "<div class=\"scroll\"><table id=\"alert-list\"><caption>Active "
             "alerts, newest first within each rule</caption><thead><tr>"
             "<th class=\"l\" scope=\"col\">Rule</th><th class=\"l\" "
             "scope=\"col\">Kommun</th><th class=\"l\" scope=\"col\">Patient"
             "</th><th class=\"l\" scope=\"col\">Date</th><th class=\"l\" "
             "scope=\"col\">Details</th></tr></thead><tbody>\n");
        for (size_t i = 0; i < r->rp_nalerts; i++) {
                const vg_alert_t *al = &r->rp_alerts[i];
                char d[24];
                PF(r, "<tr><td class=\"l\"><span class=\"rule r%d\">",
                   al->al_rule & 3);
                E(r, vg_enum_str(&vg_enum_rule, al->al_rule));
                P(r, "</span></td><td class=\"l\">");
                if (al->al_kommun) {
                        E(r, al->al_kommun);
                        if (*vg_area_name(al->al_kommun)) {
                                P(r, " ");
                                E(r, vg_area_name(al->al_kommun));
                        }
                } else if (al->al_area) {
                        area_html(r, al->al_area, true);
                } else if (al->al_region) {
                        area_html(r, al->al_region, true);
                }
                P(r, "</td><td class=\"l\"><code>");
                if (al->al_patient_id) {
                        char pat[16];
                        snprintf(pat, sizeof(pat), "%.8s", al->al_patient_id);
                        E(r, pat);
                        if (strlen(al->al_patient_id) > 8)
                                P(r, "\u2026");
                } else {
                        P(r, "\u2013");
                }
                P(r, "</code></td><td class=\"l\">");
                if (al->al_rule == VG_RULE_INDICATOR_BELOW_TARGET)
                        E(r, al->al_period ? al->al_period : "");
                else {
                        fmt_local(r, alert_when(al), false, d, sizeof(d));
                        E(r, d);
                }
                P(r, "</td><td class=\"wrap\">");
                alert_details(r, al);
                P(r, "</td></tr>\n");
        }
        P(r, "</tbody></table></div></section>\n");
}

static void page(rep_t *r) {
        char now[24], iso[VG_TIME_BUFSZ];
        int64_t t = vg_now_ms();
        fmt_local(r, t, true, now, sizeof(now));
        vg_time_format(t, iso);

        P(r, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n"
             "<meta charset=\"utf-8\">\n"
             "<meta name=\"viewport\" content=\"width=device-width, "
             "initial-scale=1\">\n"
             "<meta http-equiv=\"Content-Security-Policy\" "
             "content=\"default-src 'none'; style-src 'unsafe-inline'\">\n"
             "<meta name=\"generator\" content=\"vigil " VIGIL_VERSION
             "\">\n<title>");
        E(r, r->rp_title);
        PF(r, "</title>\n<style>\n%s</style>\n</head>\n<body>\n", css);

        P(r, "<header class=\"top\"><h1>");
        E(r, r->rp_title);
        P(r, "</h1><dl class=\"meta\"><div><dt>Generated</dt><dd><time "
             "datetime=\"");
        E(r, iso);
        P(r, "\">");
        E(r, now);
        P(r, " ");
        E(r, vg_tz_name(r->rp_tz));
        P(r, "</time></dd></div><div><dt>Indicators</dt><dd>");
        E(r, r->rp_src_ind);
        P(r, "</dd></div><div><dt>Alerts</dt><dd>");
        E(r, r->rp_src_al);
        P(r, "</dd></div><div><dt>Areas</dt><dd>");
        if (!r->rp_nsel)
                P(r, "all");
        for (int i = 0; i < r->rp_nsel; i++) {
                char a[128];
                area_text(r->rp_sel[i], a, sizeof(a));
                if (i)
                        P(r, ", ");
                E(r, a);
        }
        P(r, "</dd></div><div><dt>Months</dt><dd>");
        if (r->rp_np)
                PF(r, "%s \u2013 %s", r->rp_periods[0],
                   r->rp_periods[r->rp_np - 1]);
        else
                P(r, "none");
        PF(r, "</dd></div><div><dt>Uncertain below</dt><dd>%lld cases</dd>"
              "</div></dl></header>\n",
           (long long)r->rp_min_den);

        /* navigation */
        P(r, "<nav aria-label=\"Sections\"><a href=\"#overview\">Overview</a>");
        for (size_t k = 0; k < VG_ARRAY_SIZE(known_secs); k++) {
                char id[96];
                if (!r->rp_np || !any_ind(r, &known_secs[k]))
                        continue;
                sec_anchor(&known_secs[k], id, sizeof(id));
                P(r, "<a href=\"#");
                E(r, id);
                P(r, "\">");
                E(r, known_secs[k].s_title);
                P(r, "</a>");
        }
        for (size_t i = 0; r->rp_np && i < r->rp_ninds; i++) {
                if (known_ind(r->rp_inds[i]))
                        continue;
                P(r, "<a href=\"#ind-");
                E(r, r->rp_inds[i]);
                P(r, "\">");
                E(r, r->rp_inds[i]);
                P(r, "</a>");
        }
        P(r, "<a href=\"#alerts\">Active alerts</a></nav>\n<main>\n");

        overview(r);
        for (size_t k = 0; r->rp_np && k < VG_ARRAY_SIZE(known_secs); k++) {
                const sec_t *s = &known_secs[k];
                if (!any_ind(r, s))
                        continue;
                if (s->s_kind == SEC_LINE)
                        sec_line(r, s, s->s_key);
                else if (s->s_kind == SEC_PLACE)
                        sec_place(r, s);
                else
                        sec_counts(r, s, NULL);
        }
        /* indicators this version does not know: one section each */
        for (size_t i = 0; r->rp_np && i < r->rp_ninds; i++) {
                const char *ind = r->rp_inds[i];
                sec_t s = {SEC_LINE, ind, ind, "Value per month.",
                           "Numerator", "Denominator"};
                if (known_ind(ind))
                        continue;
                if (ind_has_den(r, ind)) {
                        sec_line(r, &s, ind);
                } else {
                        s.s_kind = SEC_COUNT;
                        s.s_what = "Count per month.";
                        s.s_num = "Count";
                        sec_counts(r, &s, ind);
                }
        }
        alerts_section(r);
        PF(r, "</main>\n<footer>Generated by vigil " VIGIL_VERSION
              " (vigil report). Values with fewer than %lld cases "
              "(aggregate.min_denominator) are shown but marked uncertain; "
              "targets come from the target.&lt;indicator&gt; configuration. "
              "This page loads no external resources.</footer>\n"
              "</body>\n</html>\n",
           (long long)r->rp_min_den);
}

/* ------------------------------------------------------------------------
 * Command
 */

static void help(void) {
        printf("Usage: vigil report --html FILE [options]\n"
               "\n"
               "Writes one self-contained HTML page (inline CSS and SVG, no "
               "script, nothing\n"
               "loaded from elsewhere) with a chart per indicator (SPEC §6) "
               "and area - Sverige\n"
               "and each region, kommuner in tables - and a table of the "
               "current ACTIVE\n"
               "alerts with counts by rule. Targets (target.<indicator>) "
               "are drawn as dashed\n"
               "lines; values with fewer than aggregate.min_denominator "
               "cases are marked\n"
               "uncertain. Every chart has a text description and a data "
               "table.\n"
               "\n"
               "Indicator values come from the indicators topic "
               "(topic.indicators), alerts\n"
               "from the alerts topic (topic.alerts), each unless a file is "
               "given.\n"
               "\n"
               "Options:\n"
               "      --html FILE        write the page to FILE ('-': "
               "standard output)\n"
               "      --indicators FILE  read indicator values from a JSON "
               "Lines file, as\n"
               "                         written by vigil process --input "
               "... --indicators\n"
               "      --alerts FILE      read alerts from a JSON Lines file, "
               "as written by\n"
               "                         vigil process --input ... --alerts "
               "or vigil alerts --json\n"
               "  -a, --area A           only area A (repeatable): SE, a "
               "region (04; its\n"
               "                         kommuner are listed in the tables) "
               "or a kommun\n"
               "                         (0484; gets its own charts); alerts "
               "of those areas\n"
               "      --from YYYY-MM     only months from this one on\n"
               "      --to YYYY-MM       only months up to this one\n"
               "      --title TEXT       page title (default: \"Vigil "
               "\u2013 end-of-life care report\")\n"
               VG_CLI_CONF_HELP
               "  -h, --help             this help\n"
               "\n"
               "Exit status: 0 ok, 1 error (an input could not be read, or "
               "had invalid\n"
               "lines: they are reported and skipped, the page is still "
               "written), 2 usage\n"
               "error.\n");
}

static void kafka_source(const vg_conf_t *conf, const char *topic, char *buf,
                         size_t size) {
        char errstr[256], bs[256] = "?";
        size_t bsz = sizeof(bs);
        rd_kafka_conf_t *kc = vg_kafka_conf(conf, errstr, sizeof(errstr));
        if (kc) {
                if (rd_kafka_conf_get(kc, "bootstrap.servers", bs, &bsz) !=
                    RD_KAFKA_CONF_OK)
                        snprintf(bs, sizeof(bs), "?");
                rd_kafka_conf_destroy(kc);
        }
        snprintf(buf, size, "Kafka topic %s at %s", topic, bs);
}

/* Writes the page to path (atomically: a temporary file renamed). */
static int write_page(const rep_t *r, const char *path) {
        char *tmp;
        FILE *fp;
        size_t len;
        if (!strcmp(path, "-")) {
                if (fwrite(r->rp_out.vb_data, 1, r->rp_out.vb_len, stdout) !=
                            r->rp_out.vb_len ||
                    fflush(stdout)) {
                        fprintf(stderr, "vigil %s: standard output: %s\n", CMD,
                                strerror(errno));
                        return -1;
                }
                return 0;
        }
        len = strlen(path) + 32;
        tmp = vg_malloc(len);
        snprintf(tmp, len, "%s.tmp.%ld", path, (long)getpid());
        if (!(fp = fopen(tmp, "w"))) {
                fprintf(stderr, "vigil %s: cannot write %s: %s\n", CMD, path,
                        strerror(errno));
                vg_free(tmp);
                return -1;
        }
        if (fwrite(r->rp_out.vb_data, 1, r->rp_out.vb_len, fp) !=
                    r->rp_out.vb_len ||
            fclose(fp) != 0) {
                fprintf(stderr, "vigil %s: %s: %s\n", CMD, path,
                        strerror(errno));
                unlink(tmp);
                vg_free(tmp);
                return -1;
        }
        if (rename(tmp, path)) {
                fprintf(stderr, "vigil %s: %s: %s\n", CMD, path,
                        strerror(errno));
                unlink(tmp);
                vg_free(tmp);
                return -1;
        }
        vg_free(tmp);
        return 0;
}

enum { OPT_HTML = 256, OPT_IND, OPT_ALERTS, OPT_FROM, OPT_TO, OPT_TITLE };

int vg_cmd_report(int argc, char **argv) {
        static const struct option opts[] = {
                {"html", required_argument, NULL, OPT_HTML},
                {"indicators", required_argument, NULL, OPT_IND},
                {"alerts", required_argument, NULL, OPT_ALERTS},
                {"area", required_argument, NULL, 'a'},
                {"from", required_argument, NULL, OPT_FROM},
                {"to", required_argument, NULL, OPT_TO},
                {"title", required_argument, NULL, OPT_TITLE},
                {"help", no_argument, NULL, 'h'},
                {NULL, 0, NULL, 0},
        };
        rep_t r;
        const char *html = NULL, *ind_file = NULL, *al_file = NULL;
        char errstr[512];
        int c, rc = 0;
        long bad = 0, n;

        memset(&r, 0, sizeof(r));
        r.rp_conf = vg_conf_new();
        r.rp_title = "Vigil \u2013 end-of-life care report";
        vg_buf_init(&r.rp_out);
        optind = 1;
        while ((c = getopt_long(argc, argv, "a:h" VG_CLI_CONF_OPTS, opts,
                                NULL)) != -1) {
                if (vg_cli_conf_option(r.rp_conf, CMD, c, optarg, &rc)) {
                        if (rc)
                                goto out;
                        continue;
                }
                switch (c) {
                case OPT_HTML:
                        html = optarg;
                        break;
                case OPT_IND:
                        ind_file = optarg;
                        break;
                case OPT_ALERTS:
                        al_file = optarg;
                        break;
                case OPT_TITLE:
                        r.rp_title = optarg;
                        break;
                case 'a':
                        if (!valid_area(optarg)) {
                                rc = vg_cli_usage_error(
                                        CMD,
                                        "--area: expected SE, a 2-digit "
                                        "region or a 4-digit kommun, got "
                                        "'%s'", optarg);
                                goto out;
                        }
                        if (r.rp_nsel >= (int)VG_ARRAY_SIZE(r.rp_sel)) {
                                rc = vg_cli_usage_error(
                                        CMD, "--area: at most %d areas",
                                        (int)VG_ARRAY_SIZE(r.rp_sel));
                                goto out;
                        }
                        r.rp_sel[r.rp_nsel++] = optarg;
                        break;
                case OPT_FROM:
                case OPT_TO:
                        if (!valid_period(optarg)) {
                                rc = vg_cli_usage_error(
                                        CMD, "--%s: expected YYYY-MM, got '%s'",
                                        c == OPT_FROM ? "from" : "to", optarg);
                                goto out;
                        }
                        if (c == OPT_FROM)
                                r.rp_from = optarg;
                        else
                                r.rp_to = optarg;
                        break;
                case 'h':
                        help();
                        goto out;
                default:
                        rc = vg_cli_usage_error(CMD, "bad option");
                        goto out;
                }
        }
        if (optind < argc) {
                rc = vg_cli_usage_error(CMD, "unexpected argument '%s'",
                                        argv[optind]);
                goto out;
        }
        if (!html) {
                rc = vg_cli_usage_error(CMD, "--html FILE is required");
                goto out;
        }
        if (r.rp_from && r.rp_to && strcmp(r.rp_from, r.rp_to) > 0) {
                rc = vg_cli_usage_error(CMD, "--from %s is after --to %s",
                                        r.rp_from, r.rp_to);
                goto out;
        }
        if (ind_file && al_file && !strcmp(ind_file, "-") &&
            !strcmp(al_file, "-")) {
                rc = vg_cli_usage_error(CMD, "only one input can be standard "
                                             "input");
                goto out;
        }
        if ((rc = vg_cli_conf_finish(r.rp_conf, CMD)))
                goto out;
        r.rp_min_den = vg_conf_int(r.rp_conf, "aggregate.min_denominator");
        if (vg_tz_parse(vg_conf_str(r.rp_conf, "timezone"), &r.rp_tz))
                r.rp_tz = VG_TZ_STOCKHOLM;
        r.rp_rows_js = json_object();
        r.rp_alerts_js = json_object();

        if (ind_file) {
                if ((n = read_values(&r, ind_file)) < 0) {
                        rc = VG_EXIT_FAIL;
                        goto out;
                }
                bad += n;
                snprintf(r.rp_src_ind, sizeof(r.rp_src_ind), "file %s",
                         ind_file);
        }
        if (al_file) {
                if ((n = read_alerts(&r, al_file)) < 0) {
                        rc = VG_EXIT_FAIL;
                        goto out;
                }
                bad += n;
                snprintf(r.rp_src_al, sizeof(r.rp_src_al), "file %s",
                         al_file);
        }
        if ((!ind_file || !al_file) &&
            !(r.rp_codec = vg_codec_new(errstr, sizeof(errstr)))) {
                vg_error(CMD, "%s", errstr);
                rc = VG_EXIT_FAIL;
                goto out;
        }
        if (!ind_file) {
                const char *topic = vg_conf_str(r.rp_conf, "topic.indicators");
                if (vg_kafka_read_topic(r.rp_conf, topic, 0, NULL, ivalue_msg,
                                        &r, errstr, sizeof(errstr))) {
                        vg_error(CMD, "%s: %s", topic, errstr);
                        rc = VG_EXIT_FAIL;
                        goto out;
                }
                kafka_source(r.rp_conf, topic, r.rp_src_ind,
                             sizeof(r.rp_src_ind));
        }
        if (!al_file) {
                const char *topic = vg_conf_str(r.rp_conf, "topic.alerts");
                if (vg_kafka_read_topic(r.rp_conf, topic, 0, NULL, alert_msg,
                                        &r, errstr, sizeof(errstr))) {
                        vg_error(CMD, "%s: %s", topic, errstr);
                        rc = VG_EXIT_FAIL;
                        goto out;
                }
                kafka_source(r.rp_conf, topic, r.rp_src_al,
                             sizeof(r.rp_src_al));
        }
        {
                size_t nvals = json_object_size(r.rp_rows_js);
                size_t len = strlen(r.rp_src_ind);
                snprintf(r.rp_src_ind + len, sizeof(r.rp_src_ind) - len,
                         " (%zu values)", nvals);
                len = strlen(r.rp_src_al);
                snprintf(r.rp_src_al + len, sizeof(r.rp_src_al) - len,
                         " (%zu alerts)", json_object_size(r.rp_alerts_js));
        }

        prepare(&r);
        page(&r);
        if (write_page(&r, html)) {
                rc = VG_EXIT_FAIL;
                goto out;
        }
        vg_info(CMD, "%s: %zu values (%zu months, %zu areas), %zu active "
                     "alerts", html, r.rp_nrows, r.rp_np, r.rp_nareas,
                r.rp_nalerts);
        if (bad) {
                fprintf(stderr, "vigil %s: %ld invalid input line%s "
                                "skipped\n", CMD, bad, bad == 1 ? "" : "s");
                rc = VG_EXIT_FAIL;
        }
out:
        for (size_t i = 0; i < r.rp_nalerts; i++)
                vg_record_clear(VG_REC_ALERT, &r.rp_alerts[i]);
        vg_free(r.rp_alerts);
        vg_free(r.rp_rows);
        vg_free(r.rp_periods);
        vg_free(r.rp_inds);
        vg_free(r.rp_areas);
        json_decref(r.rp_rows_js);
        json_decref(r.rp_alerts_js);
        vg_buf_free(&r.rp_out);
        vg_codec_destroy(r.rp_codec);
        vg_conf_destroy(r.rp_conf);
        return rc;
}
