/*
 * vg_metrics.h - Prometheus metrics: a registry of counters, gauges and
 * histograms, rendered in the text exposition format 0.0.4, and a small
 * HTTP server (libmicrohttpd) serving /metrics, /healthz and /readyz.
 *
 * Typical use:
 *
 *   vg_metrics_t *reg = vg_metrics_new();
 *   static const char *const tl[] = {"topic"};
 *   vg_metric_t *consumed = vg_metrics_counter(reg,
 *           "vigil_events_consumed_total", "Events consumed.", 1, tl);
 *   ...
 *   const char *const lv[] = {"care.admissions.v1"};
 *   vg_metric_inc(consumed, lv, 1);
 *   ...
 *   vg_http_t *http = vg_http_start(reg, "127.0.0.1:9464", ready, st,
 *                                   errstr, sizeof(errstr));
 *   ...
 *   vg_http_stop(http);          (before the registry goes)
 *   vg_metrics_destroy(reg);
 *
 * Thread safety: every vg_metrics_* / vg_metric_* function may be called
 * from any thread; the registry has one mutex, held for the duration of a
 * single update or of a whole rendering (so a scrape sees a consistent
 * snapshot). Updates are O(number of labels) plus a hash lookup.
 */
#ifndef VG_METRICS_H
#define VG_METRICS_H

#include "vg_common.h"

/* Content-Type of vg_metrics_render's output (what /metrics sends). */
#define VG_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* Distinct label-value sets one metric keeps at most; updates that would
 * create more are dropped (and logged once per metric). A guard against
 * unbounded label values, which would be a bug. */
#define VG_METRICS_MAX_SERIES 10000

typedef struct vg_metrics_s vg_metrics_t;   /* a registry */
typedef struct vg_metric_s vg_metric_t;     /* one metric family */

typedef enum vg_metric_type_e {
        VG_METRIC_COUNTER,
        VG_METRIC_GAUGE,
        VG_METRIC_HISTOGRAM
} vg_metric_type_t;

vg_metrics_t *vg_metrics_new(void);
/* Frees the registry and every metric in it (handles become invalid).
 * Stop any vg_http server using it first. NULL-safe. */
void vg_metrics_destroy(vg_metrics_t *reg);

/*
 * Registration. Each returns a handle owned by the registry (valid until
 * vg_metrics_destroy), or NULL after a programming error, which is logged:
 *   - name not [a-zA-Z_:][a-zA-Z0-9_:]*; a counter's name not ending in
 *     "_total"; a histogram's name ending in _bucket, _sum or _count;
 *   - a label name not [a-zA-Z_][a-zA-Z0-9_]*, starting with "__",
 *     repeated, or "le" on a histogram; nlabels > 0 with label_names NULL;
 *   - histogram bounds not strictly increasing, or NaN; a final +Inf is
 *     allowed and ignored (the +Inf bucket is always there);
 *   - the name (or, for a histogram, one of its _bucket/_sum/_count series
 *     names) already taken by a different definition.
 * Registering exactly the same definition again (type, help, labels, bounds)
 * returns the existing handle, so modules may each declare what they use.
 * help may be NULL (""). All strings and arrays are copied.
 *
 * A metric without labels is exposed from the start (value 0); one with
 * labels shows a series only once that label-value set has been updated,
 * and the family only once it has a series (as Prometheus' Go client).
 * Families are rendered in registration order, series in creation order.
 */
vg_metric_t *vg_metrics_counter(vg_metrics_t *reg, const char *name,
                                const char *help, size_t nlabels,
                                const char *const *label_names);
vg_metric_t *vg_metrics_gauge(vg_metrics_t *reg, const char *name,
                              const char *help, size_t nlabels,
                              const char *const *label_names);
/* bounds[nbounds]: upper bounds ("le") of the buckets, ascending. */
vg_metric_t *vg_metrics_histogram(vg_metrics_t *reg, const char *name,
                                  const char *help, size_t nlabels,
                                  const char *const *label_names,
                                  size_t nbounds, const double *bounds);

/* The metric registered under name, or NULL. */
vg_metric_t *vg_metrics_find(vg_metrics_t *reg, const char *name);

/*
 * Updates. label_values has exactly the metric's nlabels entries, in the
 * order of its label names (NULL when it has none); a NULL entry means "".
 * Values are copied when a new series is created. m == NULL is a no-op, so
 * a failed registration does not crash its callers. Misuse (wrong type, a
 * counter decreased or given NaN, label_values NULL on a labelled metric)
 * is ignored and logged once per metric.
 */
/* Counter: adds by >= 0. Gauge: adds by (may be negative). */
void vg_metric_inc(vg_metric_t *m, const char *const *label_values,
                   double by);
/* Gauge only: sets the value. */
void vg_metric_set(vg_metric_t *m, const char *const *label_values,
                   double v);
/* Histogram only: counts v in the first bucket with v <= le (and all
 * following ones, cumulatively, when rendered), adds it to _sum. */
void vg_metric_observe(vg_metric_t *m, const char *const *label_values,
                       double v);
/* Forgets one series (e.g. a partition's gauges after it was revoked);
 * no-op if absent. */
void vg_metric_remove(vg_metric_t *m, const char *const *label_values);
/* Current value of a counter or gauge series, or a histogram series'
 * count; 0 if the series does not exist (m NULL: 0). For tests/summaries. */
double vg_metric_value(vg_metric_t *m, const char *const *label_values);

/* By-name conveniences: vg_metrics_find + the update (no-op, logged once,
 * when the name is not registered). Prefer keeping the handle in hot
 * paths. */
void vg_metrics_counter_add(vg_metrics_t *reg, const char *name,
                            const char *const *label_values, double by);
void vg_metrics_gauge_set(vg_metrics_t *reg, const char *name,
                          const char *const *label_values, double v);
void vg_metrics_observe(vg_metrics_t *reg, const char *name,
                        const char *const *label_values, double v);

/*
 * Appends the text exposition format 0.0.4 of every metric to out:
 *   # HELP <name> <help, with \ and newline escaped>
 *   # TYPE <name> counter|gauge|histogram
 *   <name>{l1="v1",...} <value>
 * label values escape \, " and newline; histograms render
 * <name>_bucket{...,le="<bound>"} cumulatively up to le="+Inf", then
 * <name>_sum and <name>_count. Numbers are the shortest text that reads
 * back as the same double ("0.1", "3", "1e+21", "+Inf", "-Inf", "NaN").
 */
void vg_metrics_render(vg_metrics_t *reg, vg_buf_t *out);

/*
 * HTTP server (libmicrohttpd, own polling thread):
 *   GET /metrics  200, VG_METRICS_CONTENT_TYPE, vg_metrics_render(reg)
 *   GET /healthz  200 "ok\n" while the server runs
 *   GET /readyz   200 "ready\n" if ready(opaque, reason, size) returns
 *                 true (or ready is NULL); else 503 "<reason>\n" ("not
 *                 ready" when the callback left reason empty)
 *   other paths   404; known path, method other than GET/HEAD: 405 (with
 *                 "Allow: GET, HEAD"). HEAD is GET without the body.
 * The query string is ignored. ready is called from the server's thread:
 * it must be thread-safe and quick (it runs once per /readyz request).
 */
typedef struct vg_http_s vg_http_t;

typedef bool (*vg_http_ready_cb)(void *opaque, char *reason,
                                 size_t reason_size);

/* addr is "host:port": "127.0.0.1:9464", "[::1]:9464", "localhost:9464"
 * (first address the name resolves to), ":9464" or "*:9464" (all
 * interfaces, IPv6 and IPv4 if available). Port 0 binds a free port, see
 * vg_http_port. Returns NULL + errstr (VG_ERR_ARG-style message for a bad
 * address, or why binding failed). reg (not owned) and opaque must outlive
 * the server. */
vg_http_t *vg_http_start(vg_metrics_t *reg, const char *addr,
                         vg_http_ready_cb ready, void *opaque,
                         char *errstr, size_t errstr_size);
/* The port actually bound (useful after port 0); 0 for NULL. */
int vg_http_port(const vg_http_t *http);
/* Stops the server (waits for its thread) and frees it. NULL-safe. */
void vg_http_stop(vg_http_t *http);

#endif /* VG_METRICS_H */
