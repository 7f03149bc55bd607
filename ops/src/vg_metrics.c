/*
 * vg_metrics.c - Prometheus metrics registry and the text exposition
 * format 0.0.4 (vg_metrics_render). The /metrics, /healthz, /readyz HTTP
 * server that serves it is in vg_metrics_http.c.
 *
 * Storage: a registry is an array of metric families (registration order)
 * under one mutex. A family keeps its series (one per label-value set) in an
 * array (creation order, which is the rendering order) indexed by an
 * open-addressing hash table of array positions.
 */
#include "vg_metrics.h"

#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COMP "metrics"

/* Misuse kinds, logged once per metric (bits of vm_warned). */
#define WARN_TYPE     0x01u
#define WARN_LABELS   0x02u
#define WARN_NEGATIVE 0x04u
#define WARN_SERIES   0x08u

typedef struct ser_s {
        char    **s_values;   /* [vm_nlabels] */
        uint64_t  s_hash;
        double    s_value;    /* counter, gauge */
        double    s_sum;      /* histogram */
        uint64_t  s_count;    /* histogram */
        uint64_t *s_buckets;  /* histogram: [vm_nbounds + 1], not cumulative;
                               * the last one is +Inf */
} ser_t;

struct vg_metric_s {
        vg_metrics_t     *vm_reg;
        vg_metric_type_t  vm_type;
        char             *vm_name;
        char             *vm_help;
        size_t            vm_nlabels;
        char            **vm_labels;
        size_t            vm_nbounds;
        double           *vm_bounds;
        ser_t           **vm_ser;      /* creation order */
        size_t            vm_nser;
        size_t            vm_sersize;
        uint32_t         *vm_ht;       /* series index + 1; 0 = empty */
        size_t            vm_htsize;   /* power of 2, or 0 */
        unsigned          vm_warned;   /* WARN_* already logged */
};

struct vg_metrics_s {
        pthread_mutex_t   mr_lock;
        vg_metric_t     **mr_m;
        size_t            mr_n;
        size_t            mr_size;
        unsigned          mr_warned_noname;
};

static const char *type_name(vg_metric_type_t type) {
        switch (type) {
        case VG_METRIC_COUNTER:   return "counter";
        case VG_METRIC_GAUGE:     return "gauge";
        case VG_METRIC_HISTOGRAM: return "histogram";
        }
        return "untyped";
}

/*
 * Registry
 */

vg_metrics_t *vg_metrics_new(void) {
        vg_metrics_t *reg = vg_calloc(1, sizeof(*reg));
        pthread_mutex_init(&reg->mr_lock, NULL);
        return reg;
}

static void ser_free(ser_t *s, size_t nlabels) {
        if (!s)
                return;
        for (size_t i = 0; i < nlabels; i++)
                vg_free(s->s_values[i]);
        vg_free(s->s_values);
        vg_free(s->s_buckets);
        vg_free(s);
}

static void metric_free(vg_metric_t *m) {
        if (!m)
                return;
        for (size_t i = 0; i < m->vm_nser; i++)
                ser_free(m->vm_ser[i], m->vm_nlabels);
        vg_free(m->vm_ser);
        vg_free(m->vm_ht);
        for (size_t i = 0; i < m->vm_nlabels; i++)
                vg_free(m->vm_labels[i]);
        vg_free(m->vm_labels);
        vg_free(m->vm_bounds);
        vg_free(m->vm_name);
        vg_free(m->vm_help);
        vg_free(m);
}

void vg_metrics_destroy(vg_metrics_t *reg) {
        if (!reg)
                return;
        for (size_t i = 0; i < reg->mr_n; i++)
                metric_free(reg->mr_m[i]);
        vg_free(reg->mr_m);
        pthread_mutex_destroy(&reg->mr_lock);
        vg_free(reg);
}

static bool valid_metric_name(const char *s) {
        if (!s || !*s)
                return false;
        for (const char *p = s; *p; p++) {
                char c = *p;
                bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
                             || c == '_' || c == ':';
                if (!alpha && !(p > s && c >= '0' && c <= '9'))
                        return false;
        }
        return true;
}

static bool valid_label_name(const char *s) {
        if (!s || !*s || strncmp(s, "__", 2) == 0)
                return false;
        for (const char *p = s; *p; p++) {
                char c = *p;
                bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
                             || c == '_';
                if (!alpha && !(p > s && c >= '0' && c <= '9'))
                        return false;
        }
        return true;
}

static bool ends_with(const char *s, const char *suffix) {
        size_t n = strlen(s), k = strlen(suffix);
        return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* Writes into names[] the sample names a family named name of type type
 * exposes; returns how many. */
static int sample_names(vg_metric_type_t type, const char *name,
                        char names[3][256]) {
        if (type != VG_METRIC_HISTOGRAM) {
                snprintf(names[0], 256, "%s", name);
                return 1;
        }
        snprintf(names[0], 256, "%s_bucket", name);
        snprintf(names[1], 256, "%s_sum", name);
        snprintf(names[2], 256, "%s_count", name);
        return 3;
}

/* Caller holds the lock. */
static vg_metric_t *find_locked(vg_metrics_t *reg, const char *name) {
        for (size_t i = 0; i < reg->mr_n; i++)
                if (strcmp(reg->mr_m[i]->vm_name, name) == 0)
                        return reg->mr_m[i];
        return NULL;
}

/* Caller holds the lock. True if a registered family other than one named
 * name exposes a sample name that a new family (type, name) would. */
static bool names_clash_locked(vg_metrics_t *reg, vg_metric_type_t type,
                               const char *name, const char **other) {
        char mine[3][256], theirs[3][256];
        int nm = sample_names(type, name, mine);
        for (size_t i = 0; i < reg->mr_n; i++) {
                vg_metric_t *o = reg->mr_m[i];
                int no = sample_names(o->vm_type, o->vm_name, theirs);
                for (int a = 0; a < nm; a++)
                        for (int b = 0; b < no; b++)
                                if (strcmp(mine[a], theirs[b]) == 0) {
                                        *other = o->vm_name;
                                        return true;
                                }
        }
        return false;
}

static bool same_definition(const vg_metric_t *m, vg_metric_type_t type,
                            const char *help, size_t nlabels,
                            const char *const *label_names, size_t nbounds,
                            const double *bounds) {
        if (m->vm_type != type || strcmp(m->vm_help, help) != 0
            || m->vm_nlabels != nlabels || m->vm_nbounds != nbounds)
                return false;
        for (size_t i = 0; i < nlabels; i++)
                if (strcmp(m->vm_labels[i], label_names[i]) != 0)
                        return false;
        for (size_t i = 0; i < nbounds; i++)
                if (m->vm_bounds[i] != bounds[i])
                        return false;
        return true;
}

static ser_t *ser_new(const vg_metric_t *m, const char *const *values,
                      uint64_t hash);

static vg_metric_t *metric_register(vg_metrics_t *reg, vg_metric_type_t type,
                                    const char *name, const char *help,
                                    size_t nlabels,
                                    const char *const *label_names,
                                    size_t nbounds, const double *bounds) {
        const char *tn = type_name(type);
        vg_metric_t *m;
        const char *other = NULL;

        if (!reg) {
                vg_error(COMP, "%s %s: no registry", tn, name ? name : "?");
                return NULL;
        }
        if (!help)
                help = "";
        if (!valid_metric_name(name) || strlen(name) > 200) {
                vg_error(COMP, "%s '%s': invalid metric name", tn,
                         name ? name : "(null)");
                return NULL;
        }
        if (type == VG_METRIC_COUNTER && !ends_with(name, "_total")) {
                vg_error(COMP, "counter %s: name must end in _total", name);
                return NULL;
        }
        if (type == VG_METRIC_HISTOGRAM
            && (ends_with(name, "_bucket") || ends_with(name, "_sum")
                || ends_with(name, "_count"))) {
                vg_error(COMP, "histogram %s: name must not end in _bucket, "
                         "_sum or _count", name);
                return NULL;
        }
        if (nlabels > 0 && !label_names) {
                vg_error(COMP, "%s %s: %zu labels but no label names", tn,
                         name, nlabels);
                return NULL;
        }
        for (size_t i = 0; i < nlabels; i++) {
                if (!valid_label_name(label_names[i])) {
                        vg_error(COMP, "%s %s: invalid label name '%s'", tn,
                                 name, label_names[i] ? label_names[i]
                                                      : "(null)");
                        return NULL;
                }
                if (type == VG_METRIC_HISTOGRAM
                    && strcmp(label_names[i], "le") == 0) {
                        vg_error(COMP, "histogram %s: label name 'le' is "
                                 "reserved", name);
                        return NULL;
                }
                for (size_t j = 0; j < i; j++)
                        if (strcmp(label_names[i], label_names[j]) == 0) {
                                vg_error(COMP, "%s %s: label '%s' repeated",
                                         tn, name, label_names[i]);
                                return NULL;
                        }
        }
        if (type == VG_METRIC_HISTOGRAM) {
                if (nbounds > 0 && !bounds) {
                        vg_error(COMP, "histogram %s: no bounds", name);
                        return NULL;
                }
                /* A trailing +Inf is implicit. */
                if (nbounds > 0 && isinf(bounds[nbounds - 1])
                    && bounds[nbounds - 1] > 0)
                        nbounds--;
                for (size_t i = 0; i < nbounds; i++)
                        if (isnan(bounds[i]) || (isinf(bounds[i])
                                                 && bounds[i] > 0)
                            || (i > 0 && !(bounds[i] > bounds[i - 1]))) {
                                vg_error(COMP, "histogram %s: bounds must be "
                                         "strictly increasing numbers", name);
                                return NULL;
                        }
        } else {
                nbounds = 0;
        }

        pthread_mutex_lock(&reg->mr_lock);
        m = find_locked(reg, name);
        if (m) {
                if (!same_definition(m, type, help, nlabels, label_names,
                                     nbounds, bounds)) {
                        vg_error(COMP, "%s %s: already registered with a "
                                 "different definition", tn, name);
                        m = NULL;
                }
                pthread_mutex_unlock(&reg->mr_lock);
                return m;
        }
        if (names_clash_locked(reg, type, name, &other)) {
                vg_error(COMP, "%s %s: its series names clash with metric %s",
                         tn, name, other);
                pthread_mutex_unlock(&reg->mr_lock);
                return NULL;
        }

        m = vg_calloc(1, sizeof(*m));
        m->vm_reg = reg;
        m->vm_type = type;
        m->vm_name = vg_strdup(name);
        m->vm_help = vg_strdup(help);
        m->vm_nlabels = nlabels;
        m->vm_labels = vg_calloc(nlabels ? nlabels : 1, sizeof(char *));
        for (size_t i = 0; i < nlabels; i++)
                m->vm_labels[i] = vg_strdup(label_names[i]);
        m->vm_nbounds = nbounds;
        m->vm_bounds = vg_calloc(nbounds ? nbounds : 1, sizeof(double));
        for (size_t i = 0; i < nbounds; i++)
                m->vm_bounds[i] = bounds[i];
        /* Without labels, the one series exists from the start. */
        if (nlabels == 0) {
                m->vm_ser = vg_calloc(1, sizeof(ser_t *));
                m->vm_sersize = 1;
                m->vm_ser[0] = ser_new(m, NULL, 0);
                m->vm_nser = 1;
        }

        if (reg->mr_n == reg->mr_size) {
                reg->mr_size = reg->mr_size ? 2 * reg->mr_size : 16;
                reg->mr_m = vg_realloc(reg->mr_m,
                                       reg->mr_size * sizeof(vg_metric_t *));
        }
        reg->mr_m[reg->mr_n++] = m;
        pthread_mutex_unlock(&reg->mr_lock);
        return m;
}

vg_metric_t *vg_metrics_counter(vg_metrics_t *reg, const char *name,
                                const char *help, size_t nlabels,
                                const char *const *label_names) {
        return metric_register(reg, VG_METRIC_COUNTER, name, help, nlabels,
                               label_names, 0, NULL);
}

vg_metric_t *vg_metrics_gauge(vg_metrics_t *reg, const char *name,
                              const char *help, size_t nlabels,
                              const char *const *label_names) {
        return metric_register(reg, VG_METRIC_GAUGE, name, help, nlabels,
                               label_names, 0, NULL);
}

vg_metric_t *vg_metrics_histogram(vg_metrics_t *reg, const char *name,
                                  const char *help, size_t nlabels,
                                  const char *const *label_names,
                                  size_t nbounds, const double *bounds) {
        return metric_register(reg, VG_METRIC_HISTOGRAM, name, help, nlabels,
                               label_names, nbounds, bounds);
}

vg_metric_t *vg_metrics_find(vg_metrics_t *reg, const char *name) {
        vg_metric_t *m;
        if (!reg || !name)
                return NULL;
        pthread_mutex_lock(&reg->mr_lock);
        m = find_locked(reg, name);
        pthread_mutex_unlock(&reg->mr_lock);
        return m;
}

/*
 * Series lookup
 */

static const char *lv(const char *const *values, size_t i) {
        return values[i] ? values[i] : "";
}

/* FNV-1a over the values, each followed by a 0xff separator (which cannot
 * make two different sets equal: the values are compared anyway). */
static uint64_t values_hash(const vg_metric_t *m, const char *const *values) {
        uint64_t h = 14695981039346656037ull;
        for (size_t i = 0; i < m->vm_nlabels; i++) {
                for (const unsigned char *p = (const unsigned char *)lv(values,
                                                                        i);
                     *p; p++) {
                        h ^= *p;
                        h *= 1099511628211ull;
                }
                h ^= 0xffu;
                h *= 1099511628211ull;
        }
        return h;
}

static bool values_equal(const vg_metric_t *m, const ser_t *s,
                         const char *const *values) {
        for (size_t i = 0; i < m->vm_nlabels; i++)
                if (strcmp(s->s_values[i], lv(values, i)) != 0)
                        return false;
        return true;
}

static ser_t *ser_new(const vg_metric_t *m, const char *const *values,
                      uint64_t hash) {
        ser_t *s = vg_calloc(1, sizeof(*s));
        s->s_hash = hash;
        s->s_values = vg_calloc(m->vm_nlabels ? m->vm_nlabels : 1,
                                sizeof(char *));
        for (size_t i = 0; i < m->vm_nlabels; i++)
                s->s_values[i] = vg_strdup(lv(values, i));
        if (m->vm_type == VG_METRIC_HISTOGRAM)
                s->s_buckets = vg_calloc(m->vm_nbounds + 1, sizeof(uint64_t));
        return s;
}

static void ht_insert(vg_metric_t *m, size_t idx) {
        size_t mask = m->vm_htsize - 1;
        size_t pos = (size_t)m->vm_ser[idx]->s_hash & mask;
        while (m->vm_ht[pos])
                pos = (pos + 1) & mask;
        m->vm_ht[pos] = (uint32_t)(idx + 1);
}

/* Rebuilds the index with room for at least `need` series at <= 50% load. */
static void ht_rebuild(vg_metric_t *m, size_t need) {
        size_t size = 16;
        while (size < 2 * need)
                size *= 2;
        vg_free(m->vm_ht);
        m->vm_ht = vg_calloc(size, sizeof(uint32_t));
        m->vm_htsize = size;
        for (size_t i = 0; i < m->vm_nser; i++)
                ht_insert(m, i);
}

/* Caller holds the lock. Returns the series' position, or -1. */
static long ser_find(vg_metric_t *m, const char *const *values,
                     uint64_t hash) {
        if (!m->vm_htsize)
                return -1;
        size_t mask = m->vm_htsize - 1;
        for (size_t pos = (size_t)hash & mask; m->vm_ht[pos];
             pos = (pos + 1) & mask) {
                size_t idx = m->vm_ht[pos] - 1;
                ser_t *s = m->vm_ser[idx];
                if (s->s_hash == hash && values_equal(m, s, values))
                        return (long)idx;
        }
        return -1;
}

/* Caller holds the lock. Logs misuse once per metric (kind: WARN_*). */
static void misuse(vg_metric_t *m, unsigned kind, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
static void misuse(vg_metric_t *m, unsigned kind, const char *fmt, ...) {
        char msg[256];
        va_list ap;
        if (m->vm_warned & kind)
                return;
        m->vm_warned |= kind;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        vg_error(COMP, "%s %s: %s (ignored; logged once)",
                 type_name(m->vm_type), m->vm_name, msg);
}

/* Caller holds the lock. The series for values, created if needed; NULL
 * after misuse or when the series limit is reached. */
static ser_t *ser_get(vg_metric_t *m, const char *const *values,
                      bool create) {
        if (m->vm_nlabels == 0)
                return m->vm_ser[0];
        if (!values) {
                misuse(m, WARN_LABELS, "label values missing");
                return NULL;
        }
        uint64_t hash = values_hash(m, values);
        long idx = ser_find(m, values, hash);
        if (idx >= 0)
                return m->vm_ser[idx];
        if (!create)
                return NULL;
        if (m->vm_nser >= VG_METRICS_MAX_SERIES) {
                misuse(m, WARN_SERIES, "more than %d label-value sets",
                       VG_METRICS_MAX_SERIES);
                return NULL;
        }
        if (m->vm_nser == m->vm_sersize) {
                m->vm_sersize = m->vm_sersize ? 2 * m->vm_sersize : 8;
                m->vm_ser = vg_realloc(m->vm_ser,
                                       m->vm_sersize * sizeof(ser_t *));
        }
        m->vm_ser[m->vm_nser++] = ser_new(m, values, hash);
        if (2 * m->vm_nser > m->vm_htsize)
                ht_rebuild(m, m->vm_nser);
        else
                ht_insert(m, m->vm_nser - 1);
        return m->vm_ser[m->vm_nser - 1];
}

/*
 * Updates
 */

void vg_metric_inc(vg_metric_t *m, const char *const *label_values,
                   double by) {
        ser_t *s;
        if (!m)
                return;
        pthread_mutex_lock(&m->vm_reg->mr_lock);
        if (m->vm_type == VG_METRIC_HISTOGRAM)
                misuse(m, WARN_TYPE, "vg_metric_inc on a histogram");
        else if (m->vm_type == VG_METRIC_COUNTER && !(by >= 0))
                misuse(m, WARN_NEGATIVE, "counter increment %g", by);
        else if ((s = ser_get(m, label_values, true)))
                s->s_value += by;
        pthread_mutex_unlock(&m->vm_reg->mr_lock);
}

void vg_metric_set(vg_metric_t *m, const char *const *label_values,
                   double v) {
        ser_t *s;
        if (!m)
                return;
        pthread_mutex_lock(&m->vm_reg->mr_lock);
        if (m->vm_type != VG_METRIC_GAUGE)
                misuse(m, WARN_TYPE, "vg_metric_set on a non-gauge");
        else if ((s = ser_get(m, label_values, true)))
                s->s_value = v;
        pthread_mutex_unlock(&m->vm_reg->mr_lock);
}

void vg_metric_observe(vg_metric_t *m, const char *const *label_values,
                       double v) {
        ser_t *s;
        if (!m)
                return;
        pthread_mutex_lock(&m->vm_reg->mr_lock);
        if (m->vm_type != VG_METRIC_HISTOGRAM) {
                misuse(m, WARN_TYPE, "vg_metric_observe on a non-histogram");
        } else if ((s = ser_get(m, label_values, true))) {
                /* First bucket with v <= le; NaN ends up in +Inf. */
                size_t lo = 0, hi = m->vm_nbounds;
                while (lo < hi) {
                        size_t mid = lo + (hi - lo) / 2;
                        if (v <= m->vm_bounds[mid])
                                hi = mid;
                        else
                                lo = mid + 1;
                }
                s->s_buckets[lo]++;
                s->s_count++;
                s->s_sum += v;
        }
        pthread_mutex_unlock(&m->vm_reg->mr_lock);
}

void vg_metric_remove(vg_metric_t *m, const char *const *label_values) {
        if (!m || m->vm_nlabels == 0 || !label_values)
                return;
        pthread_mutex_lock(&m->vm_reg->mr_lock);
        long idx = ser_find(m, label_values, values_hash(m, label_values));
        if (idx >= 0) {
                ser_free(m->vm_ser[idx], m->vm_nlabels);
                memmove(m->vm_ser + idx, m->vm_ser + idx + 1,
                        (m->vm_nser - (size_t)idx - 1) * sizeof(ser_t *));
                m->vm_nser--;
                ht_rebuild(m, m->vm_nser);
        }
        pthread_mutex_unlock(&m->vm_reg->mr_lock);
}

double vg_metric_value(vg_metric_t *m, const char *const *label_values) {
        double v = 0;
        ser_t *s;
        if (!m)
                return 0;
        pthread_mutex_lock(&m->vm_reg->mr_lock);
        if ((s = ser_get(m, label_values, false)))
                v = m->vm_type == VG_METRIC_HISTOGRAM ? (double)s->s_count
                                                      : s->s_value;
        pthread_mutex_unlock(&m->vm_reg->mr_lock);
        return v;
}

static vg_metric_t *find_or_warn(vg_metrics_t *reg, const char *name) {
        vg_metric_t *m = vg_metrics_find(reg, name);
        if (!m && reg) {
                pthread_mutex_lock(&reg->mr_lock);
                bool first = !reg->mr_warned_noname;
                reg->mr_warned_noname = 1;
                pthread_mutex_unlock(&reg->mr_lock);
                if (first)
                        vg_error(COMP, "update of unregistered metric %s "
                                 "(ignored; logged once)", name ? name : "?");
        }
        return m;
}

void vg_metrics_counter_add(vg_metrics_t *reg, const char *name,
                            const char *const *label_values, double by) {
        vg_metric_inc(find_or_warn(reg, name), label_values, by);
}

void vg_metrics_gauge_set(vg_metrics_t *reg, const char *name,
                          const char *const *label_values, double v) {
        vg_metric_set(find_or_warn(reg, name), label_values, v);
}

void vg_metrics_observe(vg_metrics_t *reg, const char *name,
                        const char *const *label_values, double v) {
        vg_metric_observe(find_or_warn(reg, name), label_values, v);
}

/*
 * Rendering
 */

/* Shortest text that strtod reads back as v; Prometheus spellings of the
 * special values. Always '.' as the decimal point, whatever the locale. */
static void fmt_double(char *buf, size_t size, double v) {
        if (isnan(v)) {
                snprintf(buf, size, "NaN");
                return;
        }
        if (isinf(v)) {
                snprintf(buf, size, "%s", v > 0 ? "+Inf" : "-Inf");
                return;
        }
        if (v == floor(v) && fabs(v) < 1e15) {
                snprintf(buf, size, "%.0f", v);
                return;
        }
        for (int prec = 1; prec <= 17; prec++) {
                snprintf(buf, size, "%.*g", prec, v);
                if (strtod(buf, NULL) == v)
                        break;
        }
        for (char *p = buf; *p; p++)
                if (*p == ',')
                        *p = '.';
}

static void put_double(vg_buf_t *out, double v) {
        char num[40];
        fmt_double(num, sizeof(num), v);
        vg_buf_puts(out, num);
}

/* HELP text escapes backslash and newline; label values also '"'. */
static void put_escaped(vg_buf_t *out, const char *s, bool quote) {
        const char *run = s;
        for (const char *p = s; *p; p++) {
                const char *esc = NULL;
                if (*p == '\\')
                        esc = "\\\\";
                else if (*p == '\n')
                        esc = "\\n";
                else if (*p == '"' && quote)
                        esc = "\\\"";
                if (!esc)
                        continue;
                vg_buf_append(out, run, (size_t)(p - run));
                vg_buf_puts(out, esc);
                run = p + 1;
        }
        vg_buf_puts(out, run);
}

/* name{labels[,le="le"]} (braces only when there are labels). */
static void put_series_name(vg_buf_t *out, const vg_metric_t *m,
                            const ser_t *s, const char *suffix,
                            const char *le) {
        vg_buf_puts(out, m->vm_name);
        vg_buf_puts(out, suffix);
        if (m->vm_nlabels == 0 && !le)
                return;
        vg_buf_puts(out, "{");
        for (size_t i = 0; i < m->vm_nlabels; i++) {
                if (i)
                        vg_buf_puts(out, ",");
                vg_buf_puts(out, m->vm_labels[i]);
                vg_buf_puts(out, "=\"");
                put_escaped(out, s->s_values[i], true);
                vg_buf_puts(out, "\"");
        }
        if (le) {
                if (m->vm_nlabels)
                        vg_buf_puts(out, ",");
                vg_buf_puts(out, "le=\"");
                vg_buf_puts(out, le);
                vg_buf_puts(out, "\"");
        }
        vg_buf_puts(out, "}");
}

static void render_metric(vg_buf_t *out, const vg_metric_t *m) {
        char le[40];
        if (m->vm_nser == 0)
                return;
        vg_buf_printf(out, "# HELP %s", m->vm_name);
        if (*m->vm_help) {
                vg_buf_puts(out, " ");
                put_escaped(out, m->vm_help, false);
        }
        vg_buf_printf(out, "\n# TYPE %s %s\n", m->vm_name,
                      type_name(m->vm_type));
        for (size_t i = 0; i < m->vm_nser; i++) {
                const ser_t *s = m->vm_ser[i];
                if (m->vm_type != VG_METRIC_HISTOGRAM) {
                        put_series_name(out, m, s, "", NULL);
                        vg_buf_puts(out, " ");
                        put_double(out, s->s_value);
                        vg_buf_puts(out, "\n");
                        continue;
                }
                uint64_t cum = 0;
                for (size_t b = 0; b <= m->vm_nbounds; b++) {
                        cum += s->s_buckets[b];
                        if (b < m->vm_nbounds)
                                fmt_double(le, sizeof(le), m->vm_bounds[b]);
                        else
                                snprintf(le, sizeof(le), "+Inf");
                        put_series_name(out, m, s, "_bucket", le);
                        vg_buf_printf(out, " %" PRIu64 "\n", cum);
                }
                put_series_name(out, m, s, "_sum", NULL);
                vg_buf_puts(out, " ");
                put_double(out, s->s_sum);
                vg_buf_puts(out, "\n");
                put_series_name(out, m, s, "_count", NULL);
                vg_buf_printf(out, " %" PRIu64 "\n", s->s_count);
        }
}

void vg_metrics_render(vg_metrics_t *reg, vg_buf_t *out) {
        if (!reg || !out)
                return;
        pthread_mutex_lock(&reg->mr_lock);
        for (size_t i = 0; i < reg->mr_n; i++)
                render_metric(out, reg->mr_m[i]);
        pthread_mutex_unlock(&reg->mr_lock);
}
