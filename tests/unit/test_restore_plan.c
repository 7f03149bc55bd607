/*
 * test_restore_plan.c - vigil process's decision on an assigned partition
 * (process_restore.c): with the changelog's end E stored in the local file
 * and its high watermark H, a missing file is restored whole, a current
 * one is kept, one behind gets the records from E on, one that holds
 * batches never published while another instance went on is replaced,
 * one with state the changelog lacks is logged whole. Every restore ends
 * with the local tables equal to the instance's that wrote the changelog.
 *
 * On librdkafka's mock cluster, which writes no transaction markers: a
 * publisher's "last + 2" is H + 1 there, not H.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sqlite3.h>

#include "process_int.h"
#include "vg_record_json.h"
#include "vg_time.h"
#include <librdkafka/rdkafka_mock.h>

#define P 2 /* the partition of these tests */

static char dir[64];

typedef struct env_s {
        rd_kafka_t              *mrk;
        rd_kafka_mock_cluster_t *mc;
        vg_conf_t               *conf;
        proc_t                  *pr;
        vg_pub_t                *pub;   /* the writer's publisher */
        int                      n;     /* batches written */
} env_t;

static void env_init(env_t *env, const char *group) {
        char e[512], bs[256];
        rd_kafka_conf_t *c = rd_kafka_conf_new();
        memset(env, 0, sizeof(*env));
        rd_kafka_conf_set(c, "log_level", "2", e, sizeof(e));
        env->mrk = rd_kafka_new(RD_KAFKA_PRODUCER, c, e, sizeof(e));
        assert_non_null(env->mrk);
        env->mc = rd_kafka_mock_cluster_new(env->mrk, 1);
        assert_non_null(env->mc);
        snprintf(bs, sizeof(bs), "%s",
                 rd_kafka_mock_cluster_bootstraps(env->mc));
        assert_int_equal(rd_kafka_mock_topic_create(env->mc, "cl", 4, 1),
                         RD_KAFKA_RESP_ERR_NO_ERROR);
        assert_int_equal(rd_kafka_mock_topic_create(env->mc, "out", 1, 1),
                         RD_KAFKA_RESP_ERR_NO_ERROR);
        env->conf = vg_conf_new();
        assert_int_equal(vg_conf_set(env->conf, "kafka.bootstrap.servers", bs,
                                     e, sizeof(e)),
                         VG_OK);
        assert_int_equal(vg_conf_set(env->conf, "kafka.log_level", "2", e,
                                     sizeof(e)),
                         VG_OK);
        assert_int_equal(vg_conf_set(env->conf, "group.id", group, e,
                                     sizeof(e)),
                         VG_OK);
        env->pr = calloc(1, sizeof(*env->pr));
        env->pr->pr_conf = env->conf;
        vg_rules_conf_default(&env->pr->pr_rc);
        env->pr->pr_codec = vg_codec_new(e, sizeof(e));
        assert_non_null(env->pr->pr_codec);
        env->pr->pr_topics = (vg_part_topics_t){"out", "out", "out"};
        env->pr->pr_cl_topic = "cl";
        env->pr->pr_txn_timeout_ms = 1000;
        env->pr->pr_state_dir = dir;
        c = vg_kafka_conf(env->conf, e, sizeof(e));
        assert_non_null(c);
        rd_kafka_conf_set(c, "group.id", group, e, sizeof(e));
        env->pr->pr_consumer = rd_kafka_new(RD_KAFKA_CONSUMER, c, e,
                                            sizeof(e));
        assert_non_null(env->pr->pr_consumer);
        c = vg_kafka_conf(env->conf, e, sizeof(e));
        assert_non_null(c);
        env->pub = vg_pub_new_txn(c, group, e, sizeof(e));
        assert_non_null(env->pub);
}

static void env_free(env_t *env) {
        vg_pub_destroy(env->pub, 2000);
        rd_kafka_destroy(env->pr->pr_consumer);
        vg_codec_destroy(env->pr->pr_codec);
        free(env->pr);
        vg_conf_destroy(env->conf);
        rd_kafka_mock_cluster_destroy(env->mc);
        rd_kafka_destroy(env->mrk);
}

static vg_part_t *open_part(env_t *env, const char *name) {
        char path[256], e[512];
        vg_part_t *part;
        snprintf(path, sizeof(path), "%s/%s.db", dir, name);
        part = vg_part_open(path, P, &env->pr->pr_rc, env->pr->pr_codec,
                            &env->pr->pr_topics, e, sizeof(e));
        if (!part)
                fail_msg("%s", e);
        return part;
}

/* One batch of 8 patients' events, 20 days after the one before (so
 * that timers fire and counters fill). */
static void batch(env_t *env, vg_part_t *part, int n) {
        char e[512];
        int64_t t = 1772409600000LL /* 2026-03-02 */ +
                    (int64_t)n * 20 * 86400000LL;
        assert_int_equal(vg_part_begin(part, 1000 + n, e, sizeof(e)), VG_OK);
        for (int i = 0; i < 8; i++) {
                char json[1024], ts[VG_TIME_BUFSZ];
                vg_event_t ev;
                if (n % 2 == 0)
                        snprintf(json, sizeof(json),
                                 "{\"type\":\"admission\",\"event_id\":"
                                 "\"a%d-%d\",\"patient_id\":\"q%d\","
                                 "\"occurred_at\":\"%s\",\"kommun\":"
                                 "\"0484\",\"source_system\":\"s\","
                                 "\"stay_id\":\"s%d\",\"facility_id\":\"f\","
                                 "\"care_setting\":\"HOSPITAL_INPATIENT\","
                                 "\"planned\":false,\"age_years\":80,"
                                 "\"sex\":\"MALE\",\"diagnosis_group\":"
                                 "\"COPD\"}",
                                 n, i, i + n % 4, vg_time_format(t + i, ts),
                                 n);
                else
                        snprintf(json, sizeof(json),
                                 "{\"type\":\"discharge\",\"event_id\":"
                                 "\"d%d-%d\",\"patient_id\":\"q%d\","
                                 "\"occurred_at\":\"%s\",\"kommun\":"
                                 "\"0484\",\"source_system\":\"s\","
                                 "\"stay_id\":\"s%d\",\"facility_id\":\"f\","
                                 "\"care_setting\":\"HOSPITAL_INPATIENT\","
                                 "\"disposition\":\"HOME\","
                                 "\"needs_coordination\":true}",
                                 n, i, i + (n - 1) % 4,
                                 vg_time_format(t + i, ts), n - 1);
                assert_int_equal(vg_event_from_jsonl(json, strlen(json), &ev,
                                                     e, sizeof(e)),
                                 VG_OK);
                if (vg_part_event(part, &ev, e, sizeof(e)))
                        fail_msg("%s", e);
                vg_record_clear(ev.ev_type, &ev);
        }
        assert_int_equal(vg_part_set_offset(part, "in", 8 * (n + 1), e,
                                            sizeof(e)),
                         VG_OK);
        vg_part_end_of_input(part);
        if (vg_part_commit(part, e, sizeof(e)))
                fail_msg("%s", e);
}

static bool part_busy(void *opaque) {
        return vg_part_in_batch(opaque);
}

/* The writer: an instance that owns P and publishes its changelog. */
static void writer_start(env_t *env, vg_part_t *w) {
        char e[512];
        vg_part_set_changelog(w, "cl");
        assert_int_equal(vg_pub_claim(env->pub, P, e, sizeof(e)), 0);
        vg_pub_add(env->pub, P, vg_part_outbox(w), part_busy, w);
        vg_pub_set_changelog(env->pub, P, "cl", P,
                             vg_part_changelog_committed);
}

static void writer_batches(env_t *env, vg_part_t *w, int k) {
        char e[512];
        for (int i = 0; i < k; i++)
                batch(env, w, env->n++);
        if (vg_pub_flush(env->pub, 10000, e, sizeof(e)))
                fail_msg("publish: %s", e);
        assert_int_equal(vg_part_outbox_depth(w), 0);
}

static int64_t high_of(env_t *env) {
        int64_t lo, hi;
        assert_int_equal(rd_kafka_query_watermark_offsets(
                                 env->pr->pr_consumer, "cl", P, &lo, &hi,
                                 5000),
                         RD_KAFKA_RESP_ERR_NO_ERROR);
        return hi;
}

/* A part's state tables, one line per row (as test_changelog.c). */
static char *snap(const char *name) {
        static const char *q =
                "SELECT 'P|' || patient_id || '|' || hex(state) FROM patients "
                "UNION ALL SELECT 'T|' || patient_id || '|' || due FROM timers "
                "UNION ALL SELECT 'C|' || key || '|' || num || '/' || den || "
                "'/' || count FROM cells "
                "UNION ALL SELECT 'O|' || topic || '|' || next_offset FROM "
                "offsets "
                "UNION ALL SELECT 'M|' || key || '|' || value FROM meta WHERE "
                "key IN ('watermark','data_since') OR key LIKE 'topic_time.%' "
                "ORDER BY 1";
        char path[256];
        sqlite3 *db;
        sqlite3_stmt *st;
        size_t len = 0;
        char *s = calloc(1, 1);
        snprintf(path, sizeof(path), "%s/%s.db", dir, name);
        assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY,
                                         NULL),
                         SQLITE_OK);
        assert_int_equal(sqlite3_prepare_v2(db, q, -1, &st, NULL), SQLITE_OK);
        while (sqlite3_step(st) == SQLITE_ROW) {
                const char *l = (const char *)sqlite3_column_text(st, 0);
                size_t n = strlen(l);
                s = realloc(s, len + n + 2);
                memcpy(s + len, l, n);
                s[len + n] = '\n';
                s[len + n + 1] = '\0';
                len += n + 1;
        }
        sqlite3_finalize(st);
        sqlite3_close(db);
        return s;
}

static void same_state(const char *a, const char *b) {
        char *sa = snap(a), *sb = snap(b);
        if (strcmp(sa, sb)) {
                const char *pa = sa, *pb = sb;
                while (*pa && *pa == *pb) {
                        pa++;
                        pb++;
                }
                fail_msg("%s and %s differ near:\n  %.120s\n  %.120s", a, b,
                         pa, pb);
        }
        assert_true(strstr(sa, "\nC|") != NULL); /* not trivially */
        free(sa);
        free(sb);
}

static vg_part_t *plan(env_t *env, vg_part_t *part, const char *name) {
        char path[256];
        snprintf(path, sizeof(path), "%s/%s.db", dir, name);
        part = process_restore_plan(env->pr, P, part, path);
        assert_non_null(part);
        env->pr->pr_parts[P].ps_part = part;
        return part;
}

static void run(env_t *env) {
        assert_int_equal(process_restore_run(env->pr), 0);
}

static void test_missing_then_behind(void **state) {
        env_t env;
        vg_part_t *w, *l;
        pstate_t *ps;
        int64_t h, e1;
        (void)state;
        env_init(&env, "plan-a");
        ps = &env.pr->pr_parts[P];
        w = open_part(&env, "a-writer");
        writer_start(&env, w);
        writer_batches(&env, w, 6);
        h = high_of(&env);
        print_message("    changelog: high watermark %lld, the writer's "
                      "end %lld\n", (long long)h,
                      (long long)vg_part_changelog_end(w));
        /* the writer's own file: current */
        assert_true(vg_part_changelog_end(w) >= h);
        /* no local file: restored whole */
        l = plan(&env, open_part(&env, "a-local"), "a-local");
        assert_true(ps->ps_rs);
        assert_true(ps->ps_rs_full);
        assert_int_equal(ps->ps_rs_high, h);
        run(&env);
        assert_false(ps->ps_rs);
        same_state("a-writer", "a-local");
        e1 = vg_part_changelog_end(l);
        assert_int_equal(e1, h);
        assert_false(vg_part_changelog_pending(l));
        /* the writer goes on: the local file is behind by what it wrote
         * since; the records from E on are applied */
        writer_batches(&env, w, 4);
        l = plan(&env, l, "a-local");
        assert_true(ps->ps_rs);
        assert_false(ps->ps_rs_full);
        assert_int_equal(ps->ps_rs_from, e1);
        run(&env);
        print_message("    incremental: %lld records from offset %lld\n",
                      (long long)ps->ps_rs_records, (long long)e1);
        assert_true(ps->ps_rs_records > 0);
        assert_true(ps->ps_rs_records <= high_of(&env) - e1);
        same_state("a-writer", "a-local");
        assert_int_equal(vg_part_changelog_end(l), high_of(&env));
        /* nothing new: current, nothing to do */
        l = plan(&env, l, "a-local");
        assert_false(ps->ps_rs);
        assert_false(vg_part_changelog_pending(l));
        vg_part_close(l);
        vg_part_close(w);
        env_free(&env);
}

/* Local batches never published: kept when nobody else wrote; replaced
 * by the changelog when another instance went on. */
static void test_ahead(void **state) {
        env_t env;
        vg_part_t *w, *l;
        pstate_t *ps;
        (void)state;
        env_init(&env, "plan-b");
        ps = &env.pr->pr_parts[P];
        w = open_part(&env, "b-writer");
        writer_start(&env, w);
        writer_batches(&env, w, 3);
        l = plan(&env, open_part(&env, "b-local"), "b-local");
        run(&env);
        same_state("b-writer", "b-local");
        /* the local instance processes a batch it could not publish */
        vg_part_set_changelog(l, "cl");
        batch(&env, l, 50);
        assert_true(vg_part_outbox_depth(l) > 0);
        l = plan(&env, l, "b-local");
        assert_false(ps->ps_rs); /* ahead by its outbox: kept */
        assert_true(vg_part_outbox_depth(l) > 0);
        /* the writer goes on meanwhile: the local file is off the line */
        writer_batches(&env, w, 2);
        l = plan(&env, l, "b-local");
        assert_true(ps->ps_rs);
        assert_true(ps->ps_rs_full);
        assert_int_equal(vg_part_outbox_depth(l), 0); /* a new file */
        run(&env);
        same_state("b-writer", "b-local");
        vg_part_close(l);
        vg_part_close(w);
        env_free(&env);
}

/* State the changelog lacks is logged whole. */
static void test_logged_whole(void **state) {
        env_t env;
        vg_part_t *l;
        pstate_t *ps;
        (void)state;
        env_init(&env, "plan-c");
        ps = &env.pr->pr_parts[P];
        /* a file of an earlier release (never logged), changelog empty */
        l = open_part(&env, "c-local");
        batch(&env, l, 0);
        batch(&env, l, 1);
        l = plan(&env, l, "c-local");
        assert_false(ps->ps_rs);
        assert_true(vg_part_changelog_pending(l));
        vg_part_close(l);
        /* a new file, changelog empty: nothing to log */
        l = plan(&env, open_part(&env, "c-new"), "c-new");
        assert_false(ps->ps_rs);
        assert_false(vg_part_changelog_pending(l));
        vg_part_close(l);
        env_free(&env);
}

/* A file logged to changelog "cl" up to E, and the changelog now ends
 * before E: recreated. Its state must be logged whole, or the changelog
 * never holds the patients and counters this file does not change
 * again. Recreated and refilled a little: that case is caught
 * (H < E - 1); recreated and still empty: caught too (H <= low), a
 * gap these tests found. */
/* A file logged to "cl" once, up to E = 42. */
static void logged_file(env_t *env, const char *name) {
        vg_part_t *l = open_part(env, name);
        vg_part_set_changelog(l, "cl");
        batch(env, l, 0);
        batch(env, l, 1);
        vg_part_changelog_committed(l, 40); /* published up to 42 */
        vg_part_close(l);
}

static void test_recreated(void **state) {
        env_t env;
        vg_part_t *l;
        pstate_t *ps;
        char e[512];
        rd_kafka_conf_t *c;
        rd_kafka_t *pk;
        (void)state;
        env_init(&env, "plan-d");
        ps = &env.pr->pr_parts[P];
        logged_file(&env, "d-local");
        /* the changelog recreated and refilled with a little */
        c = vg_kafka_conf(env.conf, e, sizeof(e));
        pk = rd_kafka_new(RD_KAFKA_PRODUCER, c, e, sizeof(e));
        assert_non_null(pk);
        for (int i = 0; i < 3; i++)
                assert_int_equal(rd_kafka_producev(pk, RD_KAFKA_V_TOPIC("cl"),
                                                   RD_KAFKA_V_PARTITION(P),
                                                   RD_KAFKA_V_KEY("p|x", 3),
                                                   RD_KAFKA_V_VALUE("v", 1),
                                                   RD_KAFKA_V_END),
                                 RD_KAFKA_RESP_ERR_NO_ERROR);
        assert_int_equal(rd_kafka_flush(pk, 5000), RD_KAFKA_RESP_ERR_NO_ERROR);
        rd_kafka_destroy(pk);
        l = plan(&env, open_part(&env, "d-local"), "d-local");
        assert_false(ps->ps_rs);
        assert_true(vg_part_changelog_pending(l));
        vg_part_close(l);
        env_free(&env);
}

/* Fixed (this test failed before): the changelog
 * recreated and still empty. process_restore_plan() returns at "high <=
 * lo" before it compares with E, so the file's state is not logged whole:
 * the changelog then only ever gets what later batches change, and a
 * restore from it lacks every patient and counter they do not touch. */
static void test_gap_recreated_empty(void **state) {
        env_t env;
        vg_part_t *l;
        bool pending;
        (void)state;
        env_init(&env, "plan-e");
        logged_file(&env, "e-local");
        l = plan(&env, open_part(&env, "e-local"), "e-local");
        assert_false(env.pr->pr_parts[P].ps_rs);
        pending = vg_part_changelog_pending(l);
        vg_part_close(l);
        env_free(&env);
        if (!pending)
                fail_msg("changelog empty, the local file logged to it up "
                         "to 42: its state is not logged whole");
}

static int setup(void **state) {
        (void)state;
        snprintf(dir, sizeof(dir), "/tmp/vg-test-plan-XXXXXX");
        return mkdtemp(dir) ? 0 : -1;
}

static void touch_files(int p) {
        const char *sfx[] = {"", "-wal", "-shm"};
        for (int i = 0; i < 3; i++) {
                char f[256];
                FILE *fp;
                snprintf(f, sizeof(f), "%s/partition-%d.db%s", dir, p, sfx[i]);
                assert_non_null(fp = fopen(f, "w"));
                fclose(fp);
        }
}

static int files_left(int p) {
        const char *sfx[] = {"", "-wal", "-shm"};
        int n = 0;
        for (int i = 0; i < 3; i++) {
                char f[256];
                snprintf(f, sizeof(f), "%s/partition-%d.db%s", dir, p, sfx[i]);
                n += access(f, F_OK) == 0;
        }
        return n;
}

/* state.cleanup_delay_ms: the files of a partition released that long ago
 * go (with -wal and -shm); not a millisecond earlier, not while it is
 * owned or kept as a standby copy, never without a changelog. */
static void test_cleanup(void **state) {
        proc_t *pr = calloc(1, sizeof(*pr));
        vg_part_t *fake = (vg_part_t *)(void *)&pr; /* never dereferenced */
        (void)state;
        pr->pr_state_dir = dir;
        pr->pr_cleanup_ms = 600000;
        pr->pr_assigned_at = 1; /* not in a rebalance */
        for (int p = 20; p < 24; p++) {
                touch_files(p);
                pr->pr_released_at[p] = 1000;
        }
        pr->pr_parts[21].ps_part = fake; /* owned again */
        pr->pr_sb[22] = fake;            /* a standby copy */
        /* no changelog: local files are the only copy */
        process_cleanup(pr, 1000 + 600000);
        for (int p = 20; p < 24; p++)
                assert_int_equal(files_left(p), 3);
        pr->pr_cl_topic = "cl";
        process_cleanup(pr, 1000 + 600000 - 1);
        for (int p = 20; p < 24; p++)
                assert_int_equal(files_left(p), 3);
        process_cleanup(pr, 1000 + 600000);
        assert_int_equal(files_left(20), 0);
        assert_int_equal(files_left(21), 3);
        assert_int_equal(files_left(22), 3);
        assert_int_equal(files_left(23), 0);
        assert_int_equal(pr->pr_released_at[20], 0);
        /* in a rebalance (revoked, not yet assigned): nothing goes */
        touch_files(23);
        pr->pr_released_at[23] = 1000;
        pr->pr_assigned_at = 0;
        process_cleanup(pr, 1000 + 600000);
        assert_int_equal(files_left(23), 3);
        pr->pr_assigned_at = 1;
        /* removed once: a file made again later stays until released */
        touch_files(20);
        process_cleanup(pr, 1000 + 2 * 600000);
        assert_int_equal(files_left(20), 3);
        free(pr);
}

static int teardown(void **state) {
        char cmd[128];
        (void)state;
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        return system(cmd) == 0 ? 0 : -1;
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_missing_then_behind),
                cmocka_unit_test(test_ahead),
                cmocka_unit_test(test_logged_whole),
                cmocka_unit_test(test_recreated),
                cmocka_unit_test(test_gap_recreated_empty),
                cmocka_unit_test(test_cleanup),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
