/*
 * test_state - `vigil state patient` on a real partition file (issue 16):
 * a patient's state is printed in full, but never a value that looks like
 * a personnummer, wherever a producer put one (an event id, a stay id and
 * so an alert's anchor); a personnummer given as the pseudonym is refused
 * without being echoed; an unknown patient is a clear failure. The file is
 * written by the store itself (vg_part_open on a temporary directory) and
 * the command runs in this process with its output captured.
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
#include <jansson.h>

#include "vg_cli.h"
#include "vg_consumers.h"
#include "vg_partition.h"
#include "vg_record_json.h"

static vg_rules_conf_t rc;
static vg_codec_t *codec;
static vg_part_topics_t topics = {"alerts", "parts", "dlq"};
static char dir[64], dirkv[128];
static char out[1 << 16], err[1 << 12];

#define EV(type, id, at, rest)                                                 \
        "{\"type\":\"" type "\",\"event_id\":\"" id "\",\"patient_id\":"       \
        "\"p1\",\"occurred_at\":\"" at "\",\"kommun\":\"0484\","               \
        "\"source_system\":\"t\"," rest "}"
#define ADM(stay)                                                              \
        "\"stay_id\":\"" stay "\",\"facility_id\":\"F\",\"care_setting\":"     \
        "\"HOSPITAL_INPATIENT\",\"planned\":false,\"age_years\":80,"           \
        "\"sex\":\"FEMALE\",\"diagnosis_group\":\"CANCER\",\"residence\":"     \
        "\"ORDINARY_HOME\""

/* Patient p1: a stay whose id holds a personnummer, an admission whose
 * event id is one, a discharge needing a SIP and a readmission 15 days
 * later: READMISSION_30D (its index stay in the alert) and SIP_OVERDUE
 * (anchored on the stay). */
static const char *const events[] = {
        EV("admission", "121212-1212", "2026-01-01T08:00:00Z",
           ADM("st-19121212-1212")),
        EV("discharge", "d1", "2026-01-05T08:00:00Z",
           "\"stay_id\":\"st-19121212-1212\",\"facility_id\":\"F\","
           "\"care_setting\":\"HOSPITAL_INPATIENT\",\"disposition\":\"HOME\","
           "\"needs_coordination\":true"),
        EV("admission", "a2", "2026-01-20T08:00:00Z", ADM("s2")),
};

/* Writes partition-2.db with p1's events; -1 on failure (in setup: no
 * cmocka assertions there). */
static int build(void) {
        char path[128], e[256];
        vg_part_t *part;
        int bad = 0;
        snprintf(path, sizeof(path), "%s/partition-2.db", dir);
        if (!(part = vg_part_open(path, 2, &rc, codec, &topics, e,
                                  sizeof(e))) ||
            vg_part_begin(part, 1, e, sizeof(e))) {
                fprintf(stderr, "%s\n", e);
                vg_part_close(part);
                return -1;
        }
        for (size_t i = 0; i < sizeof(events) / sizeof(events[0]); i++) {
                vg_event_t ev;
                if (vg_event_from_jsonl(events[i], strlen(events[i]), &ev, e,
                                        sizeof(e)) ||
                    vg_part_event(part, &ev, e, sizeof(e))) {
                        fprintf(stderr, "event %zu: %s\n", i, e);
                        bad = 1;
                }
                vg_record_clear(ev.ev_type, &ev);
        }
        vg_part_end_of_input(part);
        if (!bad && vg_part_commit(part, e, sizeof(e))) {
                fprintf(stderr, "%s\n", e);
                bad = 1;
        }
        vg_part_close(part);
        return bad ? -1 : 0;
}

static void slurp(const char *path, char *buf, size_t size) {
        FILE *f = fopen(path, "r");
        size_t n = f ? fread(buf, 1, size - 1, f) : 0;
        buf[n] = '\0';
        if (f)
                fclose(f);
}

/* Runs vigil state with args (NULL-terminated), stdout in out, stderr in
 * err; returns its exit status. */
static int run(const char *a0, ...) {
        char *argv[16], opath[128], epath[128];
        int argc = 0, so, se, fo, fe, st;
        va_list ap;
        argv[argc++] = "state";
        va_start(ap, a0);
        for (const char *a = a0; a && argc < 12; a = va_arg(ap, const char *))
                argv[argc++] = (char *)a;
        va_end(ap);
        argv[argc++] = "-X";
        argv[argc++] = dirkv;
        argv[argc] = NULL;
        snprintf(opath, sizeof(opath), "%s/out", dir);
        snprintf(epath, sizeof(epath), "%s/err", dir);
        fflush(stdout);
        fflush(stderr);
        so = dup(1);
        se = dup(2);
        fo = open(opath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        fe = open(epath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        dup2(fo, 1);
        dup2(fe, 2);
        st = vg_cmd_state(argc, argv);
        fflush(stdout);
        fflush(stderr);
        dup2(so, 1);
        dup2(se, 2);
        close(so);
        close(se);
        close(fo);
        close(fe);
        slurp(opath, out, sizeof(out));
        slurp(epath, err, sizeof(err));
        return st;
}

/* No trace of the personnummer 19121212-1212 in any spelling. */
static void assert_no_pnr(const char *s) {
        assert_null(strstr(s, "1212-1212"));
        assert_null(strstr(s, "12121212"));
        assert_null(strstr(s, "1212121212"));
}

static void test_patient_text(void **state) {
        (void)state;
        assert_int_equal(run("patient", "p1", NULL), VG_EXIT_OK);
        fputs(out, stderr);
        assert_no_pnr(out);
        assert_no_pnr(err);
        assert_non_null(strstr(out, "partition       2"));
        assert_non_null(strstr(out, "events (3, by occurred_at)"));
        assert_non_null(strstr(out, "withheld: looks like a personnummer"));
        assert_non_null(strstr(out, "READMISSION_30D"));
        assert_non_null(strstr(out, "SIP_OVERDUE"));
        /* the readmission's denominator settles when its window ends */
        assert_non_null(strstr(out, "sip_within_deadline|0484|2026-01|"));
        assert_non_null(strstr(out, "timer due       2026-02-04T23:00:00Z"));
}

static void test_patient_json(void **state) {
        json_error_t je;
        json_t *o, *evs, *al, *e;
        size_t i, withheld = 0;
        (void)state;
        assert_int_equal(run("patient", "p1", "--json", NULL), VG_EXIT_OK);
        assert_no_pnr(out);
        o = json_loads(out, 0, &je);
        assert_non_null(o);
        assert_string_equal(json_string_value(json_object_get(o, "patient_id")),
                            "p1");
        assert_int_equal(json_integer_value(json_object_get(o, "partition")),
                         2);
        evs = json_object_get(o, "events");
        assert_int_equal(json_array_size(evs), 3);
        /* by occurred_at; the first event's id and stay are withheld, the
         * others are shown as they are */
        assert_string_equal(json_string_value(json_object_get(
                                    json_array_get(evs, 1), "event_id")),
                            "d1");
        assert_string_equal(json_string_value(json_object_get(
                                    json_array_get(evs, 2), "stay_id")),
                            "s2");
        json_array_foreach(evs, i, e) {
                const char *id = json_string_value(
                        json_object_get(e, "event_id"));
                withheld += strstr(id, "withheld") != NULL;
                withheld += strstr(json_string_value(
                                           json_object_get(e, "stay_id")),
                                   "withheld") != NULL;
        }
        assert_int_equal(withheld, 3);
        al = json_object_get(o, "alerts");
        assert_int_equal(json_array_size(al), 2);
        json_array_foreach(al, i, e)
                if (!strcmp(json_string_value(json_object_get(e, "rule")),
                            "READMISSION_30D")) {
                        assert_non_null(strstr(json_string_value(
                                json_object_get(e, "index_stay_id")),
                                "withheld"));
                        assert_string_equal(json_string_value(json_object_get(
                                                    e, "anchor")),
                                            "s2");
                }
        assert_int_equal(json_array_size(json_object_get(o, "cases")), 1);
        json_decref(o);
}

static void test_personnummer_refused(void **state) {
        static const char *const pnrs[] = {
                "19121212-1212", "191212121212", "121212-1212", "121212+1212",
                "1212121212", "p 191212121212", "121272-1212",
        };
        (void)state;
        for (size_t i = 0; i < sizeof(pnrs) / sizeof(pnrs[0]); i++) {
                assert_int_equal(run("patient", pnrs[i], NULL),
                                 VG_EXIT_USAGE);
                assert_non_null(strstr(err, "looks like a personnummer"));
                assert_no_pnr(err);
                assert_null(strstr(err, "121272"));
                assert_string_equal(out, "");
        }
        /* digits inside a hex pseudonym, a day that is no date: looked up */
        assert_int_equal(run("patient", "ab19121212121234cd", NULL),
                         VG_EXIT_FAIL);
        assert_non_null(strstr(err, "no patient ab19121212121234cd in "
                                    "state.dir"));
        assert_int_equal(run("patient", "121232-1212", NULL), VG_EXIT_FAIL);
}

static void test_unknown_patient(void **state) {
        (void)state;
        assert_int_equal(run("patient", "nobody", NULL), VG_EXIT_FAIL);
        assert_non_null(strstr(err, "no patient nobody in state.dir"));
        assert_non_null(strstr(err, "1 partition file searched"));
        assert_int_equal(run("patient", "p1", "--partition", "7", NULL),
                         VG_EXIT_FAIL);
        assert_non_null(strstr(err, "no partition 7 in state.dir"));
        assert_non_null(strstr(err, "partitions here: 2"));
        assert_int_equal(run("patient", "p1", "--partition", "2", NULL),
                         VG_EXIT_OK);
}

static int setup(void **state) {
        char e[256];
        (void)state;
        vg_rules_conf_default(&rc);
        snprintf(dir, sizeof(dir), "/tmp/vg-test-state-XXXXXX");
        if (!mkdtemp(dir))
                return -1;
        snprintf(dirkv, sizeof(dirkv), "state.dir=%s", dir);
        if (!(codec = vg_codec_new(e, sizeof(e))))
                return -1;
        return build();
}

static int teardown(void **state) {
        char cmd[128];
        (void)state;
        vg_codec_destroy(codec);
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        return system(cmd) == 0 ? 0 : -1;
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_patient_text),
                cmocka_unit_test(test_patient_json),
                cmocka_unit_test(test_personnummer_refused),
                cmocka_unit_test(test_unknown_patient),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
