/*
 * report_model.h - what the parts of `vigil report` share (not an interface
 * for other commands): the model of the page (values, points, the report), the
 * output macros, the section table and the functions each part offers.
 *
 *   report.c           the command: options, sources, writing the page
 *   report_data.c      reading values and alerts, scope, the model
 *   report_text.c      escaping, labels, numbers, the section table, the
 *                      page's language (--lang: Swedish texts by rp_t)
 *   report_charts.c    SVG: axes, line charts, stacked bars
 *   report_sections.c  the line sections (one per indicator): charts,
 *                      tables; the parts every section uses
 *   report_bars.c      the bar sections: place of death, counts (SSIH)
 *   report_funnel.c    kommuner compared (funnel plot, breakdowns), the
 *                      place of death over the years
 *   report_register.c  the register: coverage, spr.* against targets, the
 *                      deaths not registered
 *   report_page.c      overview, alerts, the page around them
 *   report.css         the page's style sheet, embedded at build time
 */
#ifndef VG_REPORT_MODEL_H
#define VG_REPORT_MODEL_H

#include "vg_agg.h"
#include "vg_publish.h"
#include "vg_codec.h"
#include "vg_config.h"
#include "vg_kafka.h"
#include "vg_record_json.h"
#include "vg_time.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#define CMD "report"

/* consumers/indicators.c */
const char *vg_area_name(const char *area);
vg_pubrow_t *vg_public_rows(json_t *rows, const char **keys, size_t n,
                            int64_t min_count, vg_pubstats_t *st);

/* report.css, embedded by common/embed_data.cmake (NUL-terminated). */
extern const char vg_data_report_css[];

/* One indicator value; strings point into rp_rows_js. */
typedef struct row_s {
        const char *r_ind, *r_area, *r_period;
        int64_t     r_num, r_den;
        bool        r_has_den;
        bool        r_complete;    /* settled (SPEC §6.1); else preliminary */
        bool        r_history;     /* history_complete */
        bool        r_hidden;      /* --public: suppressed (SPEC §6.4) */
} row_t;

/* A value as charts see it. */
typedef struct pt_s {
        bool    set;
        int64_t num, den;
        bool    pre;       /* preliminary: complete = false (SPEC §6.1) */
        bool    nohist;    /* history_complete = false */
        bool    hidden;    /* --public: suppressed, shown as ".." (set is
                            * false: not drawn, not counted) */
} pt_t;

typedef struct rep_s {
        vg_conf_t   *rp_conf;
        vg_codec_t  *rp_codec;
        const char  *rp_title;
        const char  *rp_lang;      /* --lang: "sv" (default) or "en" */
        /* filters */
        const char  *rp_sel[64];   /* -a areas */
        int          rp_nsel;
        const char  *rp_from, *rp_to;
        bool         rp_public;    /* --public (SPEC §6.4) */
        int64_t      rp_min_count; /* publish.min_count */
        json_t      *rp_all_js;    /* every value, quarters and years
                                    * too, keyed as rp_rows_js */
        json_t      *rp_hidden_js; /* --public: keys hidden (a set) */
        size_t       rp_nhidden;   /* --public: rows hidden */
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
        const char  *rp_data_since; /* smallest data_since in scope, or NULL */
        vg_tz_t      rp_tz;
        /* output */
        vg_buf_t     rp_out;
        int          rp_seq;       /* unique ids */
        /* vigil serve: the client went away (vg_report_in_t.ri_gone) */
        bool       (*rp_gone)(void *arg);
        void        *rp_gone_arg;
        bool         rp_stopped;   /* rp_gone said so: draw no more */
} rep_t;

typedef enum { SEC_LINE, SEC_PLACE, SEC_SSIH, SEC_COUNT, SEC_REGISTER }
        sec_kind_t;

typedef struct sec_s {
        sec_kind_t  s_kind;
        const char *s_key;    /* indicator, or group prefix with the dot */
        const char *s_title;
        const char *s_what;
        const char *s_num;    /* numerator / denominator labels */
        const char *s_den;
} sec_t;

typedef struct line_s {
        const pt_t *l_pts;     /* rp_np points of the area */
        const pt_t *l_ref;     /* SE for comparison, or NULL */
        vg_target_t l_tg;
        double      l_ymax, l_step;
} line_t;

typedef struct bars_s {
        size_t       b_nser;
        const char *const *b_names;   /* series labels */
        const char *const *b_colors;
        double      *b_v;        /* [s * np + p]: share or count */
        int64_t     *b_tot;      /* per period: deaths / count; 0 = none */
        bool         b_share;    /* 0..100 % stacks; else counts */
        const bool  *b_pre;      /* per period: preliminary (or NULL) */
        const bool  *b_nohist;   /* per period: incomplete history (or NULL) */
        int64_t      b_ymax, b_step;
} bars_t;

/* Marks an English text that is translated later (by rp_t on the way to
 * the page): the test of the page's language finds every text so marked,
 * or passed to rp_t / rp_tf as a literal, in the table of report_text.c. */
#define N_(s) (s)

/* Appending to the page. */
#define P(r, s) vg_buf_puts(&(r)->rp_out, s)
#define PF(r, ...) vg_buf_printf(&(r)->rp_out, __VA_ARGS__)
#define E(r, s) rp_esc(&(r)->rp_out, s)

/* Colours the charts draw with (report.css has the same as --accent, --bad). */
#define C_LINE   "#1f5fa8"
#define C_REF    "#a3adb8"
#define C_BAD    "#b3261e"
#define C_HIST   "#f3ead6"  /* band behind months with incomplete history */

/* report_data.c */
int rp_area_level(const char *a);
int rp_area_pcmp(const void *a, const void *b);
bool rp_charted(const rep_t *r, const char *area);
const row_t *rp_find_row(const rep_t *r, const char *ind, const char *area,
                         const char *period);
pt_t rp_get_pt(const rep_t *r, const char *ind, const char *area,
               const char *period);
int rp_valid_period(const char *s);
int rp_valid_area(const char *s);
void rp_ivalue_msg(const rd_kafka_message_t *m, void *opaque);
void rp_alert_msg(const rd_kafka_message_t *m, void *opaque);
long rp_read_values(rep_t *r, const char *path);
long rp_read_alerts(rep_t *r, const char *path);
int64_t rp_alert_when(const vg_alert_t *al);
void rp_prepare(rep_t *r);

/* report_text.c */
/* The text of the page's language for an English text: the Swedish one of
 * the table when rp_lang is "sv" (a text without one is written in English,
 * with a warning), else en itself. rp_tf is rp_t for printf formats: the
 * compiler checks the arguments against the English format, and a Swedish
 * one with other conversions is not used. */
const char *rp_t(const rep_t *r, const char *en);
const char *rp_tf(const rep_t *r, const char *en)
        __attribute__((format_arg(2)));
bool rp_lang_valid(const char *lang);
void rp_esc(vg_buf_t *b, const char *s);
extern const char *const rp_month_names[];
const char *rp_month_name(const rep_t *r, int month);
int rp_period_month(const char *period);
void rp_period_label(const rep_t *r, const char *period, char *buf,
                     size_t size);
void rp_fmt_local(const rep_t *r, int64_t ms, bool with_time, char *buf,
                  size_t size);
void rp_area_html(rep_t *r, const char *area, bool with_code);
void rp_area_text(const rep_t *r, const char *area, char *buf, size_t size);
void rp_pct(double v, char *buf, size_t size);
void rp_target_text(const rep_t *r, const vg_target_t *tg, char *buf,
                    size_t size);
sec_t rp_sec_tr(const rep_t *r, const sec_t *s);
extern const sec_t rp_known_secs[];
extern const size_t rp_nknown_secs;  /* entries of rp_known_secs */
bool rp_sec_has(const sec_t *s, const char *ind);
bool rp_known_ind(const char *ind);
bool rp_any_ind(const rep_t *r, const sec_t *s);
void rp_sec_anchor(const sec_t *s, char *buf, size_t size);

/* report_charts.c */
double rp_band(const rep_t *r);
void rp_ratio_scale(double v, double *ymax, double *step);
void rp_count_scale(int64_t v, int64_t *ymax, int64_t *step);
bool rp_pt_uncertain(const rep_t *r, const pt_t *p);
bool rp_pt_missed(const rep_t *r, const line_t *l, const pt_t *p);
void rp_data_since_text(const rep_t *r, char *buf, size_t size);
void rp_svg_line(rep_t *r, const line_t *l, const char *title,
                 const char *desc);
void rp_svg_bars(rep_t *r, const bars_t *b, const char *title,
                 const char *desc);

/* A kommun in a funnel plot (report_funnel.c). */
typedef struct fpt_s {
        const char *f_area;
        int64_t     f_num, f_den;
        double      f_z;       /* (value - p0) / sd at its n; NAN: none */
} fpt_t;

typedef struct funnel_s {
        const fpt_t *f_pts;
        size_t       f_n;
        double       f_p0;      /* the reference area's value */
        vg_target_t  f_tg;
} funnel_t;

/* report_charts.c */
void rp_svg_funnel(rep_t *r, const funnel_t *f, const char *title,
                   const char *desc);

/* report_funnel.c */
bool rp_in_scope(const rep_t *r, const char *area);
void rp_funnel(rep_t *r, const sec_t *s, const char *ind);
void rp_place_years(rep_t *r);

/* report_sections.c: the parts every section uses */
/* The section's opening: anchor, heading (title and code), what it shows. */
void rp_section_head(rep_t *r, const sec_t *s, const char *code);
/* Legend entries for preliminary values and incomplete history. */
void rp_legend_status(rep_t *r, bool pre, bool nohist, bool bars);
/* A note under the legend when some month rests on incomplete history. */
void rp_hist_note(rep_t *r, bool nohist);
/* Month p's column head; preliminary ones say so. */
void rp_period_th(rep_t *r, size_t p, bool pre);
/* Areas that get charts of the ni indicators, in order, into out. */
size_t rp_chart_areas(const rep_t *r, const char *const *inds, size_t ni,
                      const char **out);
/* Kommuner (in scope) with a value of any of the ni indicators. */
size_t rp_kommuner(const rep_t *r, const char *const *inds, size_t ni,
                   const char **out);
/* A region header row (cols wide) when kommun's region is not cur[3]. */
void rp_region_row(rep_t *r, const char *kommun, char *cur, int cols);
/* report_sections.c: the line sections */
void rp_sec_line(rep_t *r, const sec_t *s, const char *ind);
void rp_line_body(rep_t *r, const sec_t *s, const char *ind);

/* report_bars.c */
void rp_sec_place(rep_t *r, const sec_t *s);
void rp_sec_counts(rep_t *r, const sec_t *s, const char *ind);
const char *rp_place_label(const rep_t *r, const char *sym);

/* report_register.c */
bool rp_register_ind(const char *ind);
void rp_sec_register(rep_t *r, const sec_t *s);

/* report_page.c */
/* The page; stops early (rp_stopped) when rp_stop says so. */
void rp_page(rep_t *r);
/* True once rp_gone (if any) has said the page is for nobody: asked
 * between stages and sections. */
bool rp_stop(rep_t *r);

#endif /* VG_REPORT_MODEL_H */
