/*
 * test_metrics.c - vg_metrics: registration rules, the text exposition
 * format 0.0.4 of each metric type (label and HELP escaping, number
 * formatting, cumulative histogram buckets), many series, concurrent
 * updates, and the HTTP server (/metrics, /healthz, /readyz, 404, 405, bad
 * addresses) through a tiny HTTP client over a socket.
 *
 *   test_metrics --dump FILE   writes the rendering of the registry built by
 *                              populate() to FILE and exits (used by
 *                              tests/interop/test_metrics_parse.sh, whose
 *                              metrics_parse.py expects exactly these
 *                              values: keep both in step).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>

#include "vg_metrics.h"

/* Silences the logged programming errors the tests provoke on purpose. */
static int quiet(void) {
        int old = vg_log_level;
        vg_log_level = 0;
        return old;
}

static char *render(vg_metrics_t *reg) {
        vg_buf_t b;
        vg_buf_init(&b);
        vg_metrics_render(reg, &b);
        vg_buf_puts(&b, "");   /* non-NULL even when empty */
        return b.vb_data;
}

static void assert_render(vg_metrics_t *reg, const char *want) {
        char *got = render(reg);
        if (strcmp(got, want) != 0) {
                print_error("--- want\n%s--- got\n%s---\n", want, got);
                vg_free(got);
                fail();
        }
        vg_free(got);
}

/*
 * The registry of --dump and of test_populated (metrics_parse.py expects
 * these values).
 */
static const double batch_bounds[] = {0.005, 0.01, 0.1, 1, 2.5};

static vg_metrics_t *populate(void) {
        vg_metrics_t *reg = vg_metrics_new();
        static const char *const topic[] = {"topic"};
        static const char *const tp[] = {"topic", "partition"};
        static const char *const kase[] = {"case"};
        static const char *const part[] = {"partition"};
        static const char *const x[] = {"x"};

        vg_metric_t *ev = vg_metrics_counter(reg,
                "vigil_events_consumed_total", "Events consumed, by topic.",
                1, topic);
        vg_metric_inc(ev, (const char *const[]){"care.admissions.v1"}, 40);
        vg_metric_inc(ev, (const char *const[]){"care.deaths.v1"}, 7);
        vg_metric_inc(ev, (const char *const[]){"care.admissions.v1"}, 2);
        vg_metric_inc(ev, (const char *const[]){"a\\b\"c\nd \xc3\x96rebro"},
                      1.5);

        vg_metrics_counter(reg, "vigil_restarts_total",
                           "Restarts.\nSecond line, a backslash \\ and "
                           "\"quotes\".", 0, NULL);

        vg_metric_t *lag = vg_metrics_gauge(reg, "vigil_partition_lag",
                                            "Consumer lag.", 2, tp);
        vg_metric_set(lag, (const char *const[]){"care.admissions.v1", "0"},
                      12);
        vg_metric_set(lag, (const char *const[]){"care.admissions.v1", "1"},
                      -3.25);
        vg_metric_set(lag, (const char *const[]){"care.deaths.v1", "0"}, 0.1);
        vg_metric_set(lag, (const char *const[]){"care.deaths.v1", "1"},
                      1e21);
        vg_metric_set(lag, (const char *const[]){"care.sip.v1", "0"},
                      1.5e-7);
        vg_metric_inc(lag, (const char *const[]){"care.admissions.v1", "0"},
                      -2);

        vg_metric_t *sp = vg_metrics_gauge(reg, "vigil_test_special",
                                           "Special values.", 1, kase);
        vg_metric_set(sp, (const char *const[]){"nan"}, NAN);
        vg_metric_set(sp, (const char *const[]){"pinf"}, INFINITY);
        vg_metric_set(sp, (const char *const[]){"ninf"}, -INFINITY);
        vg_metric_set(sp, (const char *const[]){""}, 5);

        vg_metric_t *bs = vg_metrics_histogram(reg, "vigil_batch_seconds",
                "Batch duration in seconds.", 1, part,
                VG_ARRAY_SIZE(batch_bounds), batch_bounds);
        static const double obs0[] = {0.001, 0.005, 0.05, 0.5, 3, 1};
        for (size_t i = 0; i < VG_ARRAY_SIZE(obs0); i++)
                vg_metric_observe(bs, (const char *const[]){"0"}, obs0[i]);
        vg_metric_observe(bs, (const char *const[]){"1"}, 0.02);

        vg_metrics_histogram(reg, "vigil_apply_seconds", "", 0, NULL, 1,
                             (const double[]){1});
        vg_metrics_gauge(reg, "vigil_unused", "Never set.", 1, x);
        return reg;
}

static const char populated_text[] =
        "# HELP vigil_events_consumed_total Events consumed, by topic.\n"
        "# TYPE vigil_events_consumed_total counter\n"
        "vigil_events_consumed_total{topic=\"care.admissions.v1\"} 42\n"
        "vigil_events_consumed_total{topic=\"care.deaths.v1\"} 7\n"
        "vigil_events_consumed_total{topic=\"a\\\\b\\\"c\\nd \xc3\x96rebro\"}"
        " 1.5\n"
        "# HELP vigil_restarts_total Restarts.\\nSecond line, a backslash "
        "\\\\ and \"quotes\".\n"
        "# TYPE vigil_restarts_total counter\n"
        "vigil_restarts_total 0\n"
        "# HELP vigil_partition_lag Consumer lag.\n"
        "# TYPE vigil_partition_lag gauge\n"
        "vigil_partition_lag{topic=\"care.admissions.v1\",partition=\"0\"} 10\n"
        "vigil_partition_lag{topic=\"care.admissions.v1\",partition=\"1\"}"
        " -3.25\n"
        "vigil_partition_lag{topic=\"care.deaths.v1\",partition=\"0\"} 0.1\n"
        "vigil_partition_lag{topic=\"care.deaths.v1\",partition=\"1\"} 1e+21\n"
        "vigil_partition_lag{topic=\"care.sip.v1\",partition=\"0\"} 1.5e-07\n"
        "# HELP vigil_test_special Special values.\n"
        "# TYPE vigil_test_special gauge\n"
        "vigil_test_special{case=\"nan\"} NaN\n"
        "vigil_test_special{case=\"pinf\"} +Inf\n"
        "vigil_test_special{case=\"ninf\"} -Inf\n"
        "vigil_test_special{case=\"\"} 5\n"
        "# HELP vigil_batch_seconds Batch duration in seconds.\n"
        "# TYPE vigil_batch_seconds histogram\n"
        "vigil_batch_seconds_bucket{partition=\"0\",le=\"0.005\"} 2\n"
        "vigil_batch_seconds_bucket{partition=\"0\",le=\"0.01\"} 2\n"
        "vigil_batch_seconds_bucket{partition=\"0\",le=\"0.1\"} 3\n"
        "vigil_batch_seconds_bucket{partition=\"0\",le=\"1\"} 5\n"
        "vigil_batch_seconds_bucket{partition=\"0\",le=\"2.5\"} 5\n"
        "vigil_batch_seconds_bucket{partition=\"0\",le=\"+Inf\"} 6\n"
        "vigil_batch_seconds_sum{partition=\"0\"} 4.556\n"
        "vigil_batch_seconds_count{partition=\"0\"} 6\n"
        "vigil_batch_seconds_bucket{partition=\"1\",le=\"0.005\"} 0\n"
        "vigil_batch_seconds_bucket{partition=\"1\",le=\"0.01\"} 0\n"
        "vigil_batch_seconds_bucket{partition=\"1\",le=\"0.1\"} 1\n"
        "vigil_batch_seconds_bucket{partition=\"1\",le=\"1\"} 1\n"
        "vigil_batch_seconds_bucket{partition=\"1\",le=\"2.5\"} 1\n"
        "vigil_batch_seconds_bucket{partition=\"1\",le=\"+Inf\"} 1\n"
        "vigil_batch_seconds_sum{partition=\"1\"} 0.02\n"
        "vigil_batch_seconds_count{partition=\"1\"} 1\n"
        "# HELP vigil_apply_seconds\n"
        "# TYPE vigil_apply_seconds histogram\n"
        "vigil_apply_seconds_bucket{le=\"1\"} 0\n"
        "vigil_apply_seconds_bucket{le=\"+Inf\"} 0\n"
        "vigil_apply_seconds_sum 0\n"
        "vigil_apply_seconds_count 0\n";

static void test_populated(void **state) {
        (void)state;
        vg_metrics_t *reg = populate();
        assert_render(reg, populated_text);
        vg_metrics_destroy(reg);
}

static void test_counter(void **state) {
        (void)state;
        vg_metrics_t *reg = vg_metrics_new();
        static const char *const ln[] = {"topic", "outcome"};
        vg_metric_t *c = vg_metrics_counter(reg, "vigil_x_total", "X.", 2,
                                            ln);
        assert_non_null(c);
        /* Labelled and not yet updated: the family is not shown. */
        assert_render(reg, "");
        vg_metric_inc(c, (const char *const[]){"t1", "ok"}, 1);
        vg_metric_inc(c, (const char *const[]){"t1", NULL}, 2);
        vg_metric_inc(c, (const char *const[]){"t1", "ok"}, 0.5);
        vg_metrics_counter_add(reg, "vigil_x_total",
                               (const char *const[]){"t2", "ok"}, 3);
        assert_true(vg_metric_value(c, (const char *const[]){"t1", "ok"})
                    == 1.5);
        assert_true(vg_metric_value(c, (const char *const[]){"t1", ""}) == 2);
        assert_true(vg_metric_value(c, (const char *const[]){"zz", "ok"})
                    == 0);
        assert_render(reg,
                      "# HELP vigil_x_total X.\n"
                      "# TYPE vigil_x_total counter\n"
                      "vigil_x_total{topic=\"t1\",outcome=\"ok\"} 1.5\n"
                      "vigil_x_total{topic=\"t1\",outcome=\"\"} 2\n"
                      "vigil_x_total{topic=\"t2\",outcome=\"ok\"} 3\n");

        /* Misuse is ignored: decrement, NaN, set/observe on a counter,
         * missing label values, NULL handle, unknown name. */
        int old = quiet();
        vg_metric_inc(c, (const char *const[]){"t1", "ok"}, -1);
        vg_metric_inc(c, (const char *const[]){"t1", "ok"}, NAN);
        vg_metric_set(c, (const char *const[]){"t1", "ok"}, 100);
        vg_metric_observe(c, (const char *const[]){"t1", "ok"}, 100);
        vg_metric_inc(c, NULL, 1);
        vg_metric_inc(NULL, NULL, 1);
        vg_metric_set(NULL, NULL, 1);
        vg_metric_observe(NULL, NULL, 1);
        vg_metric_remove(NULL, NULL);
        vg_metrics_counter_add(reg, "vigil_nope_total", NULL, 1);
        vg_metrics_gauge_set(reg, "vigil_nope", NULL, 1);
        vg_metrics_observe(reg, "vigil_nope", NULL, 1);
        vg_log_level = old;
        assert_true(vg_metric_value(c, (const char *const[]){"t1", "ok"})
                    == 1.5);
        assert_true(vg_metric_value(NULL, NULL) == 0);

        /* Unlabelled counters exist from the start. */
        vg_metric_t *u = vg_metrics_counter(reg, "vigil_u_total", NULL, 0,
                                            NULL);
        vg_metric_inc(u, NULL, 0);
        assert_render(reg,
                      "# HELP vigil_x_total X.\n"
                      "# TYPE vigil_x_total counter\n"
                      "vigil_x_total{topic=\"t1\",outcome=\"ok\"} 1.5\n"
                      "vigil_x_total{topic=\"t1\",outcome=\"\"} 2\n"
                      "vigil_x_total{topic=\"t2\",outcome=\"ok\"} 3\n"
                      "# HELP vigil_u_total\n"
                      "# TYPE vigil_u_total counter\n"
                      "vigil_u_total 0\n");
        vg_metrics_destroy(reg);
        vg_metrics_destroy(NULL);
}

static void test_gauge_numbers(void **state) {
        (void)state;
        static const struct {
                double v;
                const char *text;
        } cases[] = {
                {0, "0"},           {-0.0, "-0"},      {3, "3"},
                {-42, "-42"},       {0.1, "0.1"},      {1.0 / 3, "0.3333333333333333"},
                {2.5e-10, "2.5e-10"}, {123456.789, "123456.789"},
                {1e15, "1e+15"},    {999999999999999, "999999999999999"},
                {1e21, "1e+21"},    {9007199254740993.0, "9007199254740992"},
                {1.7976931348623157e308, "1.7976931348623157e+308"},
                {5e-324, "5e-324"}, {INFINITY, "+Inf"}, {-INFINITY, "-Inf"},
                {NAN, "NaN"},
        };
        vg_metrics_t *reg = vg_metrics_new();
        vg_metric_t *g = vg_metrics_gauge(reg, "g", "", 0, NULL);
        char want[128];
        for (size_t i = 0; i < VG_ARRAY_SIZE(cases); i++) {
                vg_metric_set(g, NULL, cases[i].v);
                snprintf(want, sizeof(want),
                         "# HELP g\n# TYPE g gauge\ng %s\n", cases[i].text);
                assert_render(reg, want);
                if (!isnan(cases[i].v) && !isinf(cases[i].v))
                        assert_true(strtod(cases[i].text, NULL)
                                    == cases[i].v);
        }
        /* Gauges go up and down. */
        vg_metric_set(g, NULL, 10);
        vg_metric_inc(g, NULL, -12.5);
        vg_metrics_gauge_set(reg, "g", NULL, vg_metric_value(g, NULL) + 1);
        assert_true(vg_metric_value(g, NULL) == -1.5);
        int old = quiet();
        vg_metric_observe(g, NULL, 1);
        vg_log_level = old;
        assert_render(reg, "# HELP g\n# TYPE g gauge\ng -1.5\n");
        vg_metrics_destroy(reg);
}

static void test_escaping(void **state) {
        (void)state;
        vg_metrics_t *reg = vg_metrics_new();
        static const char *const ln[] = {"v"};
        vg_metric_t *g = vg_metrics_gauge(reg, "esc",
                "back\\slash \"quote\" new\nline \\n end", 1, ln);
        vg_metric_set(g, (const char *const[]){"\\"}, 1);
        vg_metric_set(g, (const char *const[]){"\""}, 2);
        vg_metric_set(g, (const char *const[]){"\n"}, 3);
        vg_metric_set(g, (const char *const[]){"a\\\"b\"\\\nc\\n}{=,"}, 4);
        vg_metric_set(g, (const char *const[]){"tab\there \xe6\x9d\xb1"}, 5);
        assert_render(reg,
                "# HELP esc back\\\\slash \"quote\" new\\nline \\\\n end\n"
                "# TYPE esc gauge\n"
                "esc{v=\"\\\\\"} 1\n"
                "esc{v=\"\\\"\"} 2\n"
                "esc{v=\"\\n\"} 3\n"
                "esc{v=\"a\\\\\\\"b\\\"\\\\\\nc\\\\n}{=,\"} 4\n"
                "esc{v=\"tab\there \xe6\x9d\xb1\"} 5\n");
        /* The escaped forms are distinct series from the raw ones. */
        assert_true(vg_metric_value(g, (const char *const[]){"\\"}) == 1);
        assert_true(vg_metric_value(g, (const char *const[]){"\\\\"}) == 0);
        vg_metrics_destroy(reg);
}

static void test_histogram(void **state) {
        (void)state;
        vg_metrics_t *reg = vg_metrics_new();
        static const char *const ln[] = {"stage"};
        /* A trailing +Inf is accepted and implicit. */
        vg_metric_t *h = vg_metrics_histogram(reg, "h_seconds", "H.", 1, ln,
                4, (const double[]){-1, 0.25, 10, INFINITY});
        assert_non_null(h);
        vg_metric_observe(h, (const char *const[]){"a"}, -5);     /* -1 */
        vg_metric_observe(h, (const char *const[]){"a"}, -1);     /* -1 */
        vg_metric_observe(h, (const char *const[]){"a"}, 0.25);   /* 0.25 */
        vg_metric_observe(h, (const char *const[]){"a"}, 0.2500001);
        vg_metric_observe(h, (const char *const[]){"a"}, 10);     /* 10 */
        vg_metric_observe(h, (const char *const[]){"a"}, 11);     /* +Inf */
        vg_metric_observe(h, (const char *const[]){"a"}, INFINITY);
        vg_metrics_observe(reg, "h_seconds", (const char *const[]){"b"},
                           0.125);
        assert_true(vg_metric_value(h, (const char *const[]){"a"}) == 7);
        assert_render(reg,
                "# HELP h_seconds H.\n"
                "# TYPE h_seconds histogram\n"
                "h_seconds_bucket{stage=\"a\",le=\"-1\"} 2\n"
                "h_seconds_bucket{stage=\"a\",le=\"0.25\"} 3\n"
                "h_seconds_bucket{stage=\"a\",le=\"10\"} 5\n"
                "h_seconds_bucket{stage=\"a\",le=\"+Inf\"} 7\n"
                "h_seconds_sum{stage=\"a\"} +Inf\n"
                "h_seconds_count{stage=\"a\"} 7\n"
                "h_seconds_bucket{stage=\"b\",le=\"-1\"} 0\n"
                "h_seconds_bucket{stage=\"b\",le=\"0.25\"} 1\n"
                "h_seconds_bucket{stage=\"b\",le=\"10\"} 1\n"
                "h_seconds_bucket{stage=\"b\",le=\"+Inf\"} 1\n"
                "h_seconds_sum{stage=\"b\"} 0.125\n"
                "h_seconds_count{stage=\"b\"} 1\n");

        /* No bounds: only +Inf; NaN counts there and poisons the sum. */
        vg_metric_t *z = vg_metrics_histogram(reg, "z", "", 0, NULL, 0, NULL);
        vg_metric_observe(z, NULL, 1);
        vg_metric_observe(z, NULL, NAN);
        vg_metric_remove(h, (const char *const[]){"a"});
        vg_metric_remove(h, (const char *const[]){"nope"});
        int old = quiet();
        vg_metric_inc(z, NULL, 1);
        vg_metric_set(z, NULL, 1);
        vg_log_level = old;
        assert_render(reg,
                "# HELP h_seconds H.\n"
                "# TYPE h_seconds histogram\n"
                "h_seconds_bucket{stage=\"b\",le=\"-1\"} 0\n"
                "h_seconds_bucket{stage=\"b\",le=\"0.25\"} 1\n"
                "h_seconds_bucket{stage=\"b\",le=\"10\"} 1\n"
                "h_seconds_bucket{stage=\"b\",le=\"+Inf\"} 1\n"
                "h_seconds_sum{stage=\"b\"} 0.125\n"
                "h_seconds_count{stage=\"b\"} 1\n"
                "# HELP z\n"
                "# TYPE z histogram\n"
                "z_bucket{le=\"+Inf\"} 2\n"
                "z_sum NaN\n"
                "z_count 2\n");
        vg_metrics_destroy(reg);
}

static void test_registration(void **state) {
        (void)state;
        vg_metrics_t *reg = vg_metrics_new();
        static const char *const ab[] = {"a", "b"};
        static const char *const ba[] = {"b", "a"};
        static const double b1[] = {1, 2};
        int old = quiet();

        vg_metric_t *c = vg_metrics_counter(reg, "ns:c_total", "C.", 2, ab);
        assert_non_null(c);
        /* Same definition: same handle; anything different: NULL. */
        assert_ptr_equal(vg_metrics_counter(reg, "ns:c_total", "C.", 2, ab),
                         c);
        assert_ptr_equal(vg_metrics_find(reg, "ns:c_total"), c);
        assert_null(vg_metrics_find(reg, "nope"));
        assert_null(vg_metrics_find(NULL, "nope"));
        assert_null(vg_metrics_counter(reg, "ns:c_total", "D.", 2, ab));
        assert_null(vg_metrics_counter(reg, "ns:c_total", "C.", 2, ba));
        assert_null(vg_metrics_counter(reg, "ns:c_total", "C.", 1, ab));
        assert_null(vg_metrics_gauge(reg, "ns:c_total", "C.", 2, ab));

        /* Names. */
        assert_null(vg_metrics_counter(reg, "c", "", 0, NULL));
        assert_null(vg_metrics_counter(reg, "1_total", "", 0, NULL));
        assert_null(vg_metrics_gauge(reg, "a-b", "", 0, NULL));
        assert_null(vg_metrics_gauge(reg, "", "", 0, NULL));
        assert_null(vg_metrics_gauge(reg, NULL, "", 0, NULL));
        assert_null(vg_metrics_gauge(NULL, "g", "", 0, NULL));
        assert_null(vg_metrics_gauge(reg, "g\n", "", 0, NULL));
        assert_non_null(vg_metrics_gauge(reg, "_g:1", "", 0, NULL));

        /* Label names. */
        assert_null(vg_metrics_gauge(reg, "g1", "", 1,
                                     (const char *const[]){"__a"}));
        assert_null(vg_metrics_gauge(reg, "g1", "", 1,
                                     (const char *const[]){"a:b"}));
        assert_null(vg_metrics_gauge(reg, "g1", "", 1,
                                     (const char *const[]){"1a"}));
        assert_null(vg_metrics_gauge(reg, "g1", "", 1,
                                     (const char *const[]){NULL}));
        assert_null(vg_metrics_gauge(reg, "g1", "", 2,
                                     (const char *const[]){"a", "a"}));
        assert_null(vg_metrics_gauge(reg, "g1", "", 1, NULL));
        assert_non_null(vg_metrics_gauge(reg, "g1", "", 1,
                                         (const char *const[]){"le"}));

        /* Histograms: bounds, reserved "le", suffixes, series clashes. */
        vg_metric_t *h = vg_metrics_histogram(reg, "h", "", 0, NULL, 2, b1);
        assert_non_null(h);
        assert_ptr_equal(vg_metrics_histogram(reg, "h", "", 0, NULL, 3,
                         (const double[]){1, 2, INFINITY}), h);
        assert_null(vg_metrics_histogram(reg, "h", "", 0, NULL, 1, b1));
        assert_null(vg_metrics_histogram(reg, "h2", "", 2, NULL,
                                         2, (const double[]){2, 1}));
        assert_null(vg_metrics_histogram(reg, "h2", "", 0, NULL,
                                         2, (const double[]){1, 1}));
        assert_null(vg_metrics_histogram(reg, "h2", "", 0, NULL,
                                         2, (const double[]){NAN, 1}));
        assert_null(vg_metrics_histogram(reg, "h2", "", 0, NULL,
                                         2, (const double[]){INFINITY,
                                                             INFINITY}));
        assert_null(vg_metrics_histogram(reg, "h2", "", 0, NULL, 2, NULL));
        assert_null(vg_metrics_histogram(reg, "h2", "", 1,
                                         (const char *const[]){"le"},
                                         2, b1));
        assert_null(vg_metrics_histogram(reg, "h2_count", "", 0, NULL,
                                         2, b1));
        assert_null(vg_metrics_gauge(reg, "h_sum", "", 0, NULL));
        assert_null(vg_metrics_counter(reg, "h_bucket", "", 0, NULL));
        vg_metrics_gauge(reg, "k_count", "", 0, NULL);
        assert_null(vg_metrics_histogram(reg, "k", "", 0, NULL, 2, b1));
        /* -Inf is a valid (if odd) first bound. */
        assert_non_null(vg_metrics_histogram(reg, "h3", "", 0, NULL, 2,
                        (const double[]){-INFINITY, 0}));
        vg_log_level = old;
        vg_metrics_destroy(reg);
}

/* Many series: the index grows, removal keeps the others and their order. */
static void test_many_series(void **state) {
        (void)state;
        vg_metrics_t *reg = vg_metrics_new();
        static const char *const ln[] = {"k", "p"};
        vg_metric_t *c = vg_metrics_counter(reg, "many_total", "", 2, ln);
        char k[16], p[16];
        const char *v[2] = {k, p};
        for (int round = 0; round < 3; round++)
                for (int i = 0; i < 2000; i++) {
                        snprintf(k, sizeof(k), "k%d", i % 100);
                        snprintf(p, sizeof(p), "%d", i / 100);
                        vg_metric_inc(c, v, i + 1);
                }
        for (int i = 0; i < 2000; i += 2) {
                snprintf(k, sizeof(k), "k%d", i % 100);
                snprintf(p, sizeof(p), "%d", i / 100);
                vg_metric_remove(c, v);
        }
        for (int i = 0; i < 2000; i++) {
                snprintf(k, sizeof(k), "k%d", i % 100);
                snprintf(p, sizeof(p), "%d", i / 100);
                assert_true(vg_metric_value(c, v)
                            == (i % 2 ? 3.0 * (i + 1) : 0));
        }
        char *text = render(reg);
        const char *pos = text;
        size_t lines = 0;
        for (int i = 1; i < 2000; i += 2) {
                char want[64];
                snprintf(want, sizeof(want), "many_total{k=\"k%d\",p=\"%d\"} "
                         "%d\n", i % 100, i / 100, 3 * (i + 1));
                const char *at = strstr(pos, want);
                assert_non_null(at);
                pos = at + strlen(want);
                lines++;
        }
        assert_int_equal(lines, 1000);
        vg_free(text);

        /* The series limit. */
        int old = quiet();
        for (int i = 0; i < VG_METRICS_MAX_SERIES + 10; i++) {
                snprintf(k, sizeof(k), "x%d", i);
                vg_metric_inc(c, v, 1);
        }
        vg_log_level = old;
        snprintf(k, sizeof(k), "x%d", VG_METRICS_MAX_SERIES - 1000 - 1);
        assert_true(vg_metric_value(c, v) == 1);
        snprintf(k, sizeof(k), "x%d", VG_METRICS_MAX_SERIES - 1000);
        assert_true(vg_metric_value(c, v) == 0);
        vg_metrics_destroy(reg);
}

/*
 * HTTP
 */

typedef struct resp_s {
        int    status;
        char   ctype[128];
        char   allow[64];
        char  *body;      /* NUL-terminated */
        size_t body_len;
} resp_t;

static void resp_free(resp_t *r) {
        vg_free(r->body);
        r->body = NULL;
}

static void header(const char *head, const char *name, char *out,
                   size_t size) {
        size_t n = strlen(name);
        out[0] = '\0';
        for (const char *l = strstr(head, "\r\n"); l; l = strstr(l, "\r\n")) {
                l += 2;
                if (strncasecmp(l, name, n) == 0 && l[n] == ':') {
                        const char *v = l + n + 1, *e = strstr(v, "\r\n");
                        while (*v == ' ')
                                v++;
                        snprintf(out, size, "%.*s", (int)(e - v), v);
                        return;
                }
        }
}

/* One request over a fresh connection (Connection: close); reads to EOF. */
static void http(int port, const char *method, const char *path, resp_t *r) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in sin;
        struct timeval tv = {10, 0};
        char req[256];
        vg_buf_t raw;

        memset(r, 0, sizeof(*r));
        assert_true(fd >= 0);
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        memset(&sin, 0, sizeof(sin));
        sin.sin_family = AF_INET;
        sin.sin_port = htons((uint16_t)port);
        sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
        int n = snprintf(req, sizeof(req),
                         "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                         "Connection: close\r\n%s\r\n", method, path,
                         strcmp(method, "POST") == 0 ? "Content-Length: 0\r\n"
                                                     : "");
        assert_int_equal(write(fd, req, (size_t)n), n);
        vg_buf_init(&raw);
        for (;;) {
                char *p = vg_buf_grow(&raw, 4096);
                ssize_t got = read(fd, p, 4096);
                assert_true(got >= 0);
                raw.vb_len -= 4096 - (size_t)got;
                raw.vb_data[raw.vb_len] = '\0';
                if (got == 0)
                        break;
        }
        close(fd);

        char *eoh = strstr(raw.vb_data, "\r\n\r\n");
        assert_non_null(eoh);
        *eoh = '\0';
        assert_int_equal(sscanf(raw.vb_data, "HTTP/1.%*d %d", &r->status), 1);
        header(raw.vb_data, "Content-Type", r->ctype, sizeof(r->ctype));
        header(raw.vb_data, "Allow", r->allow, sizeof(r->allow));
        r->body_len = raw.vb_len - (size_t)(eoh + 4 - raw.vb_data);
        r->body = vg_strndup(eoh + 4, r->body_len);
        vg_buf_free(&raw);
}

typedef struct readiness_s {
        pthread_mutex_t lock;
        bool            ready;
        const char     *reason;
        int             calls;
} readiness_t;

static bool ready_cb(void *opaque, char *reason, size_t size) {
        readiness_t *rd = opaque;
        bool ok;
        pthread_mutex_lock(&rd->lock);
        ok = rd->ready;
        rd->calls++;
        if (!ok && rd->reason)
                snprintf(reason, size, "%s", rd->reason);
        pthread_mutex_unlock(&rd->lock);
        return ok;
}

static void set_ready(readiness_t *rd, bool ready, const char *reason) {
        pthread_mutex_lock(&rd->lock);
        rd->ready = ready;
        rd->reason = reason;
        pthread_mutex_unlock(&rd->lock);
}

static void test_http(void **state) {
        (void)state;
        char errstr[256] = "";
        readiness_t rd = {PTHREAD_MUTEX_INITIALIZER, true, NULL, 0};
        vg_metrics_t *reg = populate();
        vg_http_t *hs = vg_http_start(reg, "127.0.0.1:0", ready_cb, &rd,
                                      errstr, sizeof(errstr));
        resp_t r;

        if (!hs)
                fail_msg("vg_http_start: %s", errstr);
        int port = vg_http_port(hs);
        assert_true(port > 0 && port < 65536);

        http(port, "GET", "/metrics", &r);
        assert_int_equal(r.status, 200);
        assert_string_equal(r.ctype, "text/plain; version=0.0.4; "
                                     "charset=utf-8");
        assert_string_equal(r.body, populated_text);
        resp_free(&r);

        /* A scrape sees updates; the query string is ignored. */
        vg_metrics_counter_add(reg, "vigil_restarts_total", NULL, 1);
        http(port, "GET", "/metrics?x=1", &r);
        assert_int_equal(r.status, 200);
        assert_non_null(strstr(r.body, "\nvigil_restarts_total 1\n"));
        resp_free(&r);

        http(port, "HEAD", "/metrics", &r);
        assert_int_equal(r.status, 200);
        assert_int_equal(r.body_len, 0);
        resp_free(&r);

        http(port, "GET", "/healthz", &r);
        assert_int_equal(r.status, 200);
        assert_string_equal(r.body, "ok\n");
        assert_string_equal(r.ctype, "text/plain; charset=utf-8");
        resp_free(&r);

        http(port, "GET", "/readyz", &r);
        assert_int_equal(r.status, 200);
        assert_string_equal(r.body, "ready\n");
        resp_free(&r);

        set_ready(&rd, false, "partitions not assigned yet");
        http(port, "GET", "/readyz", &r);
        assert_int_equal(r.status, 503);
        assert_string_equal(r.body, "partitions not assigned yet\n");
        resp_free(&r);

        set_ready(&rd, false, NULL);
        http(port, "GET", "/readyz", &r);
        assert_int_equal(r.status, 503);
        assert_string_equal(r.body, "not ready\n");
        resp_free(&r);
        assert_int_equal(rd.calls, 3);

        set_ready(&rd, true, NULL);
        http(port, "GET", "/readyz", &r);
        assert_int_equal(r.status, 200);
        resp_free(&r);

        static const char *const notfound[] = {"/", "/metricsx", "/metrics/",
                                               "/health", "/READYZ"};
        for (size_t i = 0; i < VG_ARRAY_SIZE(notfound); i++) {
                http(port, "GET", notfound[i], &r);
                assert_int_equal(r.status, 404);
                resp_free(&r);
        }
        http(port, "POST", "/nope", &r);
        assert_int_equal(r.status, 404);
        resp_free(&r);

        static const char *const methods[] = {"POST", "PUT", "DELETE",
                                              "OPTIONS"};
        for (size_t i = 0; i < VG_ARRAY_SIZE(methods); i++) {
                http(port, methods[i], "/metrics", &r);
                assert_int_equal(r.status, 405);
                assert_string_equal(r.allow, "GET, HEAD");
                resp_free(&r);
        }
        http(port, "POST", "/readyz", &r);
        assert_int_equal(r.status, 405);
        resp_free(&r);

        /* The port is taken: a second server says so. */
        char addr[64];
        snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
        int old = quiet();
        vg_http_t *hs2 = vg_http_start(reg, addr, NULL, NULL, errstr,
                                       sizeof(errstr));
        vg_log_level = old;
        assert_null(hs2);
        assert_non_null(strstr(errstr, addr));
        print_message("port in use: %s\n", errstr);

        vg_http_stop(hs);
        vg_http_stop(NULL);
        assert_int_equal(vg_http_port(NULL), 0);
        vg_metrics_destroy(reg);
}

static void test_http_empty_and_v6(void **state) {
        (void)state;
        char errstr[256];
        vg_metrics_t *reg = vg_metrics_new();
        resp_t r;
        /* All interfaces, no ready callback, empty registry. */
        vg_http_t *hs = vg_http_start(reg, ":0", NULL, NULL, errstr,
                                      sizeof(errstr));
        if (!hs)
                fail_msg("vg_http_start(:0): %s", errstr);
        http(vg_http_port(hs), "GET", "/metrics", &r);
        assert_int_equal(r.status, 200);
        assert_int_equal(r.body_len, 0);
        resp_free(&r);
        http(vg_http_port(hs), "GET", "/readyz", &r);
        assert_int_equal(r.status, 200);
        resp_free(&r);
        vg_http_stop(hs);

        hs = vg_http_start(reg, "localhost:0", NULL, NULL, errstr,
                           sizeof(errstr));
        if (!hs)
                fail_msg("vg_http_start(localhost:0): %s", errstr);
        vg_http_stop(hs);

        /* IPv6 loopback, where the host has it. */
        hs = vg_http_start(reg, "[::1]:0", NULL, NULL, errstr,
                           sizeof(errstr));
        if (hs)
                assert_true(vg_http_port(hs) > 0);
        else
                print_message("no IPv6 loopback here: %s\n", errstr);
        vg_http_stop(hs);
        vg_metrics_destroy(reg);
}

static void test_http_bad_addr(void **state) {
        (void)state;
        static const char *const bad[] = {
                "", "9464", "127.0.0.1", "127.0.0.1:", "127.0.0.1:65536",
                "127.0.0.1:-1", "127.0.0.1:94a4", "127.0.0.1:123456",
                "::1:9464", "[::1]", "[::1]9464", "[]:9464",
                "[127.0.0.1]:9464", "no-such-host.invalid:9464",
                "127.0.0.1: 9464", "1.2.3.4.5:80",
        };
        vg_metrics_t *reg = vg_metrics_new();
        char errstr[256];
        for (size_t i = 0; i < VG_ARRAY_SIZE(bad); i++) {
                errstr[0] = '\0';
                vg_http_t *hs = vg_http_start(reg, bad[i], NULL, NULL,
                                              errstr, sizeof(errstr));
                if (hs)
                        fail_msg("'%s' accepted", bad[i]);
                assert_non_null(strstr(errstr, "address"));
        }
        errstr[0] = '\0';
        assert_null(vg_http_start(reg, NULL, NULL, NULL, errstr,
                                  sizeof(errstr)));
        assert_true(errstr[0] != '\0');
        assert_null(vg_http_start(NULL, ":0", NULL, NULL, errstr,
                                  sizeof(errstr)));
        vg_metrics_destroy(reg);
}

/* Updates from several threads while the server scrapes: nothing lost,
 * every scrape well-formed. */
typedef struct worker_s {
        vg_metric_t *c;
        vg_metric_t *h;
        int          id;
} worker_t;

#define WORKER_INCS 5000

static void *worker(void *arg) {
        worker_t *w = arg;
        char id[8];
        snprintf(id, sizeof(id), "%d", w->id % 2);
        const char *v[1] = {id};
        for (int i = 0; i < WORKER_INCS; i++) {
                vg_metric_inc(w->c, v, 1);
                vg_metric_observe(w->h, v, i % 3);
        }
        return NULL;
}

static void test_concurrency(void **state) {
        (void)state;
        char errstr[256];
        vg_metrics_t *reg = vg_metrics_new();
        static const char *const ln[] = {"w"};
        worker_t w[4];
        pthread_t th[4];
        vg_metric_t *c = vg_metrics_counter(reg, "conc_total", "", 1, ln);
        vg_metric_t *h = vg_metrics_histogram(reg, "conc", "", 1, ln, 2,
                                              (const double[]){0, 1});
        vg_http_t *hs = vg_http_start(reg, "127.0.0.1:0", NULL, NULL, errstr,
                                      sizeof(errstr));
        if (!hs)
                fail_msg("vg_http_start: %s", errstr);
        for (int i = 0; i < 4; i++) {
                w[i] = (worker_t){c, h, i};
                assert_int_equal(pthread_create(&th[i], NULL, worker, &w[i]),
                                 0);
        }
        for (int i = 0; i < 20; i++) {
                resp_t r;
                http(vg_http_port(hs), "GET", "/metrics", &r);
                assert_int_equal(r.status, 200);
                assert_true(r.body_len == 0
                            || r.body[r.body_len - 1] == '\n');
                resp_free(&r);
        }
        for (int i = 0; i < 4; i++)
                pthread_join(th[i], NULL);
        assert_true(vg_metric_value(c, (const char *const[]){"0"})
                    == 2 * WORKER_INCS);
        assert_true(vg_metric_value(c, (const char *const[]){"1"})
                    == 2 * WORKER_INCS);
        assert_true(vg_metric_value(h, (const char *const[]){"1"})
                    == 2 * WORKER_INCS);
        vg_http_stop(hs);
        vg_metrics_destroy(reg);
}

static int dump(const char *path) {
        vg_metrics_t *reg = populate();
        char *text = render(reg);
        FILE *f = fopen(path, "w");
        int rc = 0;
        if (!f || fputs(text, f) == EOF || fclose(f) != 0) {
                perror(path);
                rc = 1;
        }
        vg_free(text);
        vg_metrics_destroy(reg);
        return rc;
}

int main(int argc, char **argv) {
        if (argc == 3 && strcmp(argv[1], "--dump") == 0)
                return dump(argv[2]);
        if (argc > 1) {
                fprintf(stderr, "usage: %s [--dump FILE]\n", argv[0]);
                return 2;
        }
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_populated),
                cmocka_unit_test(test_counter),
                cmocka_unit_test(test_gauge_numbers),
                cmocka_unit_test(test_escaping),
                cmocka_unit_test(test_histogram),
                cmocka_unit_test(test_registration),
                cmocka_unit_test(test_many_series),
                cmocka_unit_test(test_http),
                cmocka_unit_test(test_http_empty_and_v6),
                cmocka_unit_test(test_http_bad_addr),
                cmocka_unit_test(test_concurrency),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
