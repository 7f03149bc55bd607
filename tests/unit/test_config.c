/*
 * test_config.c - the configuration table: files, -X overrides, types,
 * ranges, targets, kafka.* passthrough.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "vg_config.h"

static char *write_tmp(const char *text, mode_t mode) {
        static char path[64];
        int fd;
        strcpy(path, "/tmp/vigil-conf-XXXXXX");
        fd = mkstemp(path);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
        close(fd);
        chmod(path, mode);
        return path;
}

static void test_defaults_and_overrides(void **state) {
        vg_conf_t *c = vg_conf_new();
        char e[256];
        char *p = write_tmp("# comment\n! also\n\nrules.window_days = 14\n"
                            "topic.alerts=a.v1\n",
                            0600);
        (void)state;
        assert_int_equal(vg_conf_int(c, "rules.window_days"), 30);
        assert_string_equal(vg_conf_str(c, "topic.dlq"), "care.dlq.v1");
        assert_int_equal(vg_conf_load_file(c, p, e, sizeof(e)), VG_OK);
        assert_int_equal(vg_conf_int(c, "rules.window_days"), 14);
        assert_string_equal(vg_conf_str(c, "topic.alerts"), "a.v1");
        assert_int_equal(vg_conf_set_kv(c, "rules.window_days=7", e,
                                        sizeof(e)),
                         VG_OK);
        assert_int_equal(vg_conf_int(c, "rules.window_days"), 7);
        unlink(p);
        vg_conf_destroy(c);
}

static void expect_file_error(const char *text, const char *want) {
        vg_conf_t *c = vg_conf_new();
        char e[256] = "";
        char *p = write_tmp(text, 0600);
        assert_int_equal(vg_conf_load_file(c, p, e, sizeof(e)), VG_ERR_ARG);
        if (!strstr(e, want) || !strstr(e, ":2: "))
                fail_msg("error '%s' lacks '%s' or the line number", e, want);
        unlink(p);
        vg_conf_destroy(c);
}

static void test_errors(void **state) {
        vg_conf_t *c = vg_conf_new();
        char e[256];
        (void)state;
        expect_file_error("# first line is fine\nok.comment=1\n",
                          "unknown configuration key");
        expect_file_error("# x\nnot a pair\n", "expected key=value");
        expect_file_error("# x\nwhat=1\n", "unknown configuration key");
        expect_file_error("# x\nrules.window_days=abc\n", "expected an integer");
        expect_file_error("# x\nrules.window_days=0\n", "out of range");
        expect_file_error("# x\ntimezone=Mars/Olympus\n", "not supported");
        expect_file_error("# x\ntarget.readmission_30d=0.1\n",
                          "expected \">=F\" (higher is better)");
        expect_file_error("# x\ntarget.readmission_30d=<=nan\n", "got \"<=nan\"");
        expect_file_error("# x\ntarget.readmission_30d=>0.9\n", "got \">0.9\"");
        expect_file_error("# x\ntopic.alerts=bad topic!\n",
                          "not a valid Kafka topic name");
        expect_file_error("# x\ntarget.readmission_30d=<=2\n", "from 0 to 1");
        assert_int_equal(vg_conf_set_kv(c, "novalue", e, sizeof(e)),
                         VG_ERR_ARG);
        assert_int_equal(vg_conf_load_file(c, "/nonexistent/vigil.conf", e,
                                           sizeof(e)),
                         VG_ERR_IO);
        assert_non_null(strstr(e, "/nonexistent/vigil.conf"));
        assert_int_equal(vg_conf_load_file(c, "/tmp", e, sizeof(e)),
                         VG_ERR_IO);
        assert_non_null(strstr(e, "not a regular file"));
        vg_conf_destroy(c);
}

/* Issue 15 (5): the edges of the file and of a few keys. */
static void test_edges(void **state) {
        vg_conf_t *c = vg_conf_new();
        char e[512] = "", path[64] = "/tmp/vigil-conf-XXXXXX";
        static const char nul[] = "# x\nrules.window_days=1\0002\n";
        int fd = mkstemp(path);
        (void)state;
        assert_true(fd >= 0);
        assert_int_equal(write(fd, nul, sizeof(nul) - 1),
                         (ssize_t)sizeof(nul) - 1);
        close(fd);
        assert_int_equal(vg_conf_load_file(c, path, e, sizeof(e)),
                         VG_ERR_ARG);
        if (!strstr(e, ":2: NUL byte") || strstr(e, "too long"))
                fail_msg("NUL byte reported as '%s'", e);
        unlink(path);
        /* A long line is still "too long", with its number. */
        {
                char *big = malloc(6000);
                memset(big, 'a', 5000);
                strcpy(big + 5000, "\n");
                char *text = malloc(6100);
                snprintf(text, 6100, "# x\n%s", big);
                expect_file_error(text, "line too long");
                free(big);
                free(text);
        }
        /* A byte order mark on line 1 is not part of the key. */
        {
                char *p = write_tmp("\xef\xbb\xbfrules.window_days=9\n",
                                    0600);
                assert_int_equal(vg_conf_load_file(c, p, e, sizeof(e)),
                                 VG_OK);
                assert_int_equal(vg_conf_int(c, "rules.window_days"), 9);
                unlink(p);
        }
        expect_file_error("# x\ngroup.id=\n", "group.id: must not be empty");
        expect_file_error("# x\naggregate.group.id = \n",
                          "must not be empty");
        expect_file_error("# x\nstate.dir=\n", "must not be empty");
        expect_file_error("# x\nhttp.listen=9464\n", "expected host:port");
        expect_file_error("# x\nhttp.listen=127.0.0.1:99999\n",
                          "port must be a number");
        expect_file_error("# x\nhttp.listen=localhost:\n",
                          "port must be a number");
        expect_file_error("# x\nhttp.listen=::1:9464\n", "in brackets");
        expect_file_error("# x\nhttp.listen=[::1:9464\n", "[ipv6]:port");
        expect_file_error("# x\nhttp.listen=no-such-host.invalid:9464\n",
                          "no-such-host.invalid");
        expect_file_error("# x\nhttp.listen=\n", "empty");
        assert_int_equal(vg_conf_set(c, "http.listen", "127.0.0.1:9464", e,
                                     sizeof(e)), VG_OK);
        assert_int_equal(vg_conf_set(c, "http.listen", ":0", e, sizeof(e)),
                         VG_OK);
        assert_int_equal(vg_conf_set(c, "http.listen", "*:9464", e,
                                     sizeof(e)), VG_OK);
        assert_int_equal(vg_conf_set(c, "http.listen", "[::1]:9464", e,
                                     sizeof(e)), VG_OK);
        /* target.* names an indicator Vigil knows. */
        expect_file_error("# x\ntarget.readmision_30d=<=0.1\n",
                          "no indicator \"readmision_30d\"");
        expect_file_error("# x\ntarget.death_place.MOON=off\n",
                          "no indicator");
        expect_file_error("# x\ntarget.ssih_enrolment.85+=>=0.5\n",
                          "no indicator");
        expect_file_error("# x\ntarget.spr.nonsense=>=0.5\n", "no indicator");
        static const char *const ok[] = {
                "readmission_30d", "sip_within_deadline",
                "death_place.HOME_WITH_SSIH", "eol_admission_30d",
                "eol_readmission_30d", "sip_before_death",
                "ssih_enrolment.85+.CANCER", "ssih_enrolment.0-64.OTHER",
                "register_coverage", "spr.pain_assessed",
                "spr.pressure_ulcer_free", NULL};
        for (int i = 0; ok[i]; i++) {
                char key[128];
                snprintf(key, sizeof(key), "target.%s", ok[i]);
                if (vg_conf_set(c, key, ">=0.5", e, sizeof(e)))
                        fail_msg("%s refused: %s", key, e);
        }
        vg_conf_destroy(c);
}

static void test_targets(void **state) {
        vg_conf_t *c = vg_conf_new();
        char e[256];
        double t;
        int hib;
        (void)state;
        assert_int_equal(vg_conf_target(c, "readmission_30d", &t, &hib), 0);
        vg_conf_set(c, "target.readmission_30d", "<=0.15", e, sizeof(e));
        vg_conf_set(c, "target.sip_within_deadline", ">=0.8", e, sizeof(e));
        vg_conf_set(c, "target.death_place.HOME", "off", e, sizeof(e));
        assert_int_equal(vg_conf_target(c, "readmission_30d", &t, &hib), 1);
        assert_true(t > 0.149 && t < 0.151 && !hib);
        assert_int_equal(vg_conf_target(c, "sip_within_deadline", &t, &hib),
                         1);
        assert_true(hib);
        assert_int_equal(vg_conf_target(c, "death_place.HOME", &t, &hib), -1);
        vg_conf_destroy(c);
}

static void test_kafka_passthrough(void **state) {
        vg_conf_t *c = vg_conf_new();
        rd_kafka_conf_t *k = rd_kafka_conf_new();
        char e[256], v[64];
        size_t vs = sizeof(v);
        (void)state;
        assert_int_equal(vg_conf_set(c, "kafka.client.id", "x1", e, sizeof(e)),
                         VG_OK);
        assert_int_equal(vg_conf_kafka(c, k, e, sizeof(e)), VG_OK);
        assert_int_equal(rd_kafka_conf_get(k, "client.id", v, &vs),
                         RD_KAFKA_CONF_OK);
        assert_string_equal(v, "x1");
        /* refused when set, naming the key (so a file's line is named
         * too), and never stored */
        assert_int_equal(vg_conf_set(c, "kafka.no.such.property", "1", e,
                                     sizeof(e)),
                         VG_ERR_ARG);
        assert_non_null(strstr(e, "kafka.no.such.property"));
        assert_int_equal(vg_conf_kafka(c, k, e, sizeof(e)), VG_OK);
        assert_int_equal(vg_conf_set(c, "kafka.", "1", e, sizeof(e)),
                         VG_ERR_ARG);
        rd_kafka_conf_destroy(k);
        vg_conf_destroy(c);
}

static void test_dump_masks_secrets(void **state) {
        vg_conf_t *c = vg_conf_new();
        char e[256], *buf = NULL;
        size_t len = 0;
        FILE *fp = open_memstream(&buf, &len);
        (void)state;
        vg_conf_set(c, "kafka.sasl.password", "hunter2", e, sizeof(e));
        vg_conf_dump(c, fp);
        fclose(fp);
        assert_null(strstr(buf, "hunter2"));
        assert_non_null(strstr(buf, "kafka.sasl.password=***"));
        assert_non_null(strstr(buf, "rules.window_days=30"));
        free(buf);
        vg_conf_destroy(c);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_defaults_and_overrides),
                cmocka_unit_test(test_errors),
                cmocka_unit_test(test_edges),
                cmocka_unit_test(test_targets),
                cmocka_unit_test(test_kafka_passthrough),
                cmocka_unit_test(test_dump_masks_secrets),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
