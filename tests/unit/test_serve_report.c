/*
 * test_serve_report.c - GET /report of vigil serve (consumers/serve/,
 * consumers/report/report_serve.c) when its client goes away: a request
 * waiting its turn leaves the queue, a page being drawn stops at the next
 * stage; and it shares the state's values rather than copying them.
 * (Apart from test_serve.c, which is past 900 lines.)
 *
 *   test_report_gone_waiting  over HTTP: a real server, a socket closed
 *   test_report_gone_drawing  the page stopped at each of its stages
 *   test_report_shares_values the page reads the state's values, not
 *                             copies
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>

#include "vg_report.h"
#include "vg_serve.h"
#include "serve_http.h"

#define TOKEN "tok-0123456789abcdef"

static void sleep_ms(long ms) {
        struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
}

/* Waits up to 10 s for sv_report_waiting() == n. */
static bool waiting_becomes(int n) {
        for (int i = 0; i < 1000; i++) {
                if (sv_report_waiting() == n)
                        return true;
                sleep_ms(10);
        }
        return false;
}

/* A connection to the server with GET /report sent. */
static int ask_report(int port) {
        struct sockaddr_in sa;
        struct timeval tv = {10, 0};
        char req[256];
        int fd = socket(AF_INET, SOCK_STREAM, 0), n;
        assert_true(fd >= 0);
        memset(&sa, 0, sizeof(sa));
        sa.sin_family = AF_INET;
        sa.sin_port = htons((uint16_t)port);
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        n = snprintf(req, sizeof(req), "GET /report HTTP/1.1\r\nHost: t\r\n"
                     "Authorization: Bearer " TOKEN "\r\n\r\n");
        assert_int_equal(write(fd, req, (size_t)n), n);
        return fd;
}

/* The server logs to stderr, sent to a file while it runs: a failed check
 * puts stderr back first, so that cmocka's message is seen. */
static int saved_stderr = -1;

static void stderr_back(void) {
        if (saved_stderr < 0)
                return;
        fflush(stderr);
        dup2(saved_stderr, 2);
        close(saved_stderr);
        saved_stderr = -1;
}

#define CHECK(c)                                                  \
        do {                                                      \
                if (!(c)) {                                       \
                        stderr_back();                            \
                        fail_msg("%s:%d: %s", __FILE__, __LINE__, #c); \
                }                                                 \
        } while (0)

static void set(vg_conf_t *conf, const char *key, const char *value) {
        char err[256];
        assert_int_equal(vg_conf_set(conf, key, value, err, sizeof(err)),
                         VG_OK);
}

/* The defect: with a thread per connection, a /report request waiting its
 * turn (one page at a time) never noticed its client had gone; it kept
 * its place, then had its page drawn for nobody while the others waited.
 * Here the test holds the one turn; client A asks and closes its socket:
 * its request leaves the queue (and the log says so) while the turn is
 * still held; client B, asking next, is served as soon as it is let go. */
static void test_report_gone_waiting(void **state) {
        vg_conf_t *conf = vg_conf_new();
        sv_state_t st;
        sv_server_t sv;
        char hex[65], tokens[128], err[256], got[64];
        char logpath[] = "/tmp/test_serve_report.XXXXXX";
        int a, b, logfd;
        ssize_t n;
        FILE *fp;
        char line[512];
        bool logged = false, leaked = false;
        (void)state;
        set(conf, "serve.port", "0");
        set(conf, "serve.listen", "127.0.0.1");
        sv_sha256_hex(TOKEN, strlen(TOKEN), hex);
        snprintf(tokens, sizeof(tokens), "%s t SE\n", hex);
        memset(&sv, 0, sizeof(sv));
        assert_int_equal(sv_tokens_parse(tokens, strlen(tokens), "tok",
                                         &sv.sv_tokens, err, sizeof(err)),
                         VG_OK);
        sv_state_init(&st, 10, 700);
        st.st_live = st.st_ready = true;
        sv.sv_conf = conf;
        sv.sv_state = &st;
        sv.sv_session_ms = 3600 * 1000;
        sv.sv_heartbeat_ms = 1000;
        sv.sv_rl = sv_rl_new(5, 60000, 16);
        pthread_rwlock_init(&sv.sv_tok_lock, NULL);
        pthread_mutex_init(&sv.sv_auth_lock, NULL);
        /* the server's log, to read */
        logfd = mkstemp(logpath);
        assert_true(logfd >= 0);
        fflush(stderr);
        saved_stderr = dup(2);
        dup2(logfd, 2);
        CHECK(sv_http_start(&sv, err, sizeof(err)) == VG_OK);

        CHECK(sv_report_enter(NULL, NULL) == SV_REP_IN);
        a = ask_report(sv.sv_port);
        CHECK(waiting_becomes(1));
        close(a);
        /* (before: it waited on as long as the turn was held) */
        CHECK(waiting_becomes(0));
        b = ask_report(sv.sv_port);
        CHECK(waiting_becomes(1));
        sv_report_leave();
        n = read(b, got, sizeof(got) - 1);
        CHECK(n > 12);
        got[n] = '\0';
        CHECK(!memcmp(got, "HTTP/1.1 200", 12));
        close(b);

        sv_http_stop(&sv);
        stderr_back();
        fp = fdopen(logfd, "r");
        assert_non_null(fp);
        rewind(fp);
        while (fgets(line, sizeof(line), fp)) {
                if (strstr(line, "INFO  serve: /report of t abandoned while "
                                 "waiting its turn"))
                        logged = true;
                if (strstr(line, TOKEN) || strstr(line, hex))
                        leaked = true;
        }
        fclose(fp);
        unlink(logpath);
        assert_true(logged);
        assert_false(leaked);
        sv_state_free(&st);
        sv_rl_free(sv.sv_rl);
        pthread_rwlock_destroy(&sv.sv_tok_lock);
        pthread_mutex_destroy(&sv.sv_auth_lock);
        sv_tokens_free(&sv.sv_tokens);
        vg_conf_destroy(conf);
}

/* ri_gone: says "gone" at its g_at-th call (0: never); counts calls. */
typedef struct gone_s {
        int g_calls, g_at;
} gone_t;

static bool gone_at(void *arg) {
        gone_t *g = arg;
        return ++g->g_calls == g->g_at;
}

/* A page stopped at each of its stages in turn: nothing is written, and
 * (under ASan) nothing is left behind; never stopped, the page is
 * drawn. */
static void test_report_gone_drawing(void **state) {
        vg_conf_t *conf = vg_conf_new();
        json_t *values = json_object(), *alerts = json_object();
        vg_report_in_t in;
        vg_buf_t out;
        gone_t g = {0, 0};
        int stages;
        (void)state;
        for (int m = 1; m <= 6; m++) {
                char period[8], key[64];
                snprintf(period, sizeof(period), "2026-%02d", m);
                snprintf(key, sizeof(key), "spr.pain_assessed|0484|%s|all",
                         period);
                json_object_set_new(
                        values, key,
                        json_pack("{sssssssIsIsbsbss}", "indicator",
                                  "spr.pain_assessed", "area", "0484",
                                  "period", period, "numerator",
                                  (json_int_t)7, "denominator",
                                  (json_int_t)10, "complete", 1,
                                  "history_complete", 1, "breakdown",
                                  "all"));
        }
        memset(&in, 0, sizeof(in));
        in.ri_conf = conf;
        in.ri_values = values;
        in.ri_alerts = alerts;
        in.ri_gone = gone_at;
        in.ri_gone_arg = &g;
        vg_buf_init(&out);
        assert_true(vg_report_render(&in, &out));
        assert_non_null(strstr(out.vb_data, "</html>"));
        stages = g.g_calls;
        assert_true(stages >= 3);
        for (int k = 1; k <= stages; k++) {
                vg_buf_reset(&out);
                g.g_calls = 0;
                g.g_at = k;
                assert_false(vg_report_render(&in, &out));
                assert_int_equal(out.vb_len, 0);
                assert_int_equal(g.g_calls, k); /* not asked again */
        }
        vg_buf_free(&out);
        json_decref(values);
        json_decref(alerts);
        vg_conf_destroy(conf);
}

/* The page reads the state's value objects themselves, not copies (the
 * defect: each SE page deep-copied every value three times, 1.45 GB of
 * peak memory on 360,664 values). Seen from ri_gone, which the page asks
 * first once it holds its values: the state's object is then referred
 * to by the state, the view's set and the page's two maps; afterwards by
 * the state alone. */
typedef struct probe_s {
        json_t *pb_obj;
        size_t  pb_refs;   /* pb_obj's count at the first look */
        int     pb_calls;
} probe_t;

static bool probe(void *arg) {
        probe_t *pb = arg;
        if (!pb->pb_calls++)
                pb->pb_refs = pb->pb_obj->refcount;
        return false;
}

static const char *no_get(void *opaque, const char *key) {
        (void)opaque;
        (void)key;
        return NULL;
}

static int no_each(void *opaque,
                   int (*fn)(void *arg, const char *key, const char *val),
                   void *arg) {
        (void)opaque;
        (void)fn;
        (void)arg;
        return 0;
}

static void test_report_shares_values(void **state) {
        vg_conf_t *conf = vg_conf_new();
        sv_state_t st;
        sv_server_t sv;
        sv_caller_t cl;
        sv_query_t q = {no_get, no_each, NULL, NULL};
        probe_t pb = {NULL, 0, 0};
        vg_buf_t out;
        const char *ctype = NULL;
        (void)state;
        sv_state_init(&st, 10, 700);
        st.st_live = st.st_ready = true;
        pb.pb_obj = json_pack("{sssssssIsIsbsbss}", "indicator",
                              "spr.pain_assessed", "area", "0484", "period",
                              "2026-03", "numerator", (json_int_t)7,
                              "denominator", (json_int_t)10, "complete", 1,
                              "history_complete", 1, "breakdown", "all");
        json_object_set_new(st.st_values, "spr.pain_assessed|0484|2026-03|all",
                            pb.pb_obj);
        memset(&sv, 0, sizeof(sv));
        sv.sv_conf = conf;
        sv.sv_state = &st;
        memset(&cl, 0, sizeof(cl));
        snprintf(cl.cl_name, sizeof(cl.cl_name), "t");
        cl.cl_ent.se_all = true;
        vg_buf_init(&out);
        assert_int_equal(sv_view_report(&sv, &cl, &q, &out, &ctype, probe,
                                        &pb),
                         200);
        assert_non_null(strstr(out.vb_data, "</html>"));
        assert_true(pb.pb_calls > 0);
        /* (before: 1, the page read copies) */
        assert_true(pb.pb_refs >= 3);
        assert_int_equal(pb.pb_obj->refcount, 1);
        vg_buf_free(&out);
        sv_state_free(&st);
        vg_conf_destroy(conf);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_report_gone_waiting),
                cmocka_unit_test(test_report_gone_drawing),
                cmocka_unit_test(test_report_shares_values),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
