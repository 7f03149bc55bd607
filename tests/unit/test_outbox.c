/*
 * test_outbox.c - the publisher keeps the newest record of a key last, even
 * when a delivery fails (SPEC §7: the last status of an alert is its final
 * one), and gives up with an error on a record that can never be published.
 * Runs on librdkafka's mock cluster with injected produce errors.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>
#include <unistd.h>

#include "vg_outbox.h"
#include "vg_time.h"
#include <librdkafka/rdkafka_mock.h>

#define APIKEY_PRODUCE 0 /* the Kafka protocol's ApiKey of Produce */

static bool not_busy(void *opaque) {
        (void)opaque;
        return false;
}

typedef struct env_s {
        sqlite3                 *db;
        vg_outbox_t             *ob;
        vg_pub_t                *pub;
        rd_kafka_mock_cluster_t *mc;
} env_t;

static void env_init(env_t *env) {
        char e[512];
        rd_kafka_conf_t *pc = rd_kafka_conf_new();
        assert_int_equal(sqlite3_open(":memory:", &env->db), SQLITE_OK);
        env->ob = vg_outbox_open(env->db, e, sizeof(e));
        assert_non_null(env->ob);
        rd_kafka_conf_set(pc, "test.mock.num.brokers", "1", e, sizeof(e));
        rd_kafka_conf_set(pc, "enable.idempotence", "true", e, sizeof(e));
        rd_kafka_conf_set(pc, "acks", "all", e, sizeof(e));
        rd_kafka_conf_set(pc, "linger.ms", "0", e, sizeof(e));
        rd_kafka_conf_set(pc, "log_level", "0", e, sizeof(e));
        /* One message per request, so that a failed request fails one
         * record while the next one is delivered. */
        rd_kafka_conf_set(pc, "queue.buffering.max.messages", "1", e,
                          sizeof(e));
        env->pub = vg_pub_new(pc, e, sizeof(e));
        assert_non_null(env->pub);
        env->mc = rd_kafka_handle_mock_cluster(vg_pub_handle(env->pub));
        rd_kafka_mock_topic_create(env->mc, "alerts", 1, 1);
        vg_pub_add(env->pub, 0, env->ob, not_busy, NULL);
}

static void env_free(env_t *env) {
        vg_pub_destroy(env->pub, 2000);
        vg_outbox_close(env->ob);
        sqlite3_close(env->db);
}

static void add(env_t *env, const char *key, const char *value) {
        char e[256];
        assert_int_equal(vg_outbox_add(env->ob, "alerts", key, strlen(key),
                                       value, strlen(value), NULL, e,
                                       sizeof(e)),
                         VG_OK);
}

/* The topic's values, in offset order, into out (joined by ","). */
static void topic_values(env_t *env, char *out, size_t size) {
        char e[512];
        rd_kafka_conf_t *cc = rd_kafka_conf_new();
        rd_kafka_t *c;
        rd_kafka_topic_partition_list_t *l;
        int64_t until = vg_now_ms() + 5000;
        out[0] = '\0';
        rd_kafka_conf_set(cc, "bootstrap.servers",
                          rd_kafka_mock_cluster_bootstraps(env->mc), e,
                          sizeof(e));
        rd_kafka_conf_set(cc, "group.id", "t", e, sizeof(e));
        rd_kafka_conf_set(cc, "enable.partition.eof", "true", e, sizeof(e));
        c = rd_kafka_new(RD_KAFKA_CONSUMER, cc, e, sizeof(e));
        assert_non_null(c);
        l = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(l, "alerts", 0)->offset =
                RD_KAFKA_OFFSET_BEGINNING;
        rd_kafka_assign(c, l);
        rd_kafka_topic_partition_list_destroy(l);
        while (vg_now_ms() < until) {
                rd_kafka_message_t *m = rd_kafka_consumer_poll(c, 100);
                int eof;
                if (!m)
                        continue;
                eof = m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF;
                if (!m->err) {
                        if (out[0])
                                strncat(out, ",", size - strlen(out) - 1);
                        strncat(out, (const char *)m->payload,
                                m->len < size - strlen(out) - 1
                                        ? m->len
                                        : size - strlen(out) - 1);
                }
                rd_kafka_message_destroy(m);
                if (eof)
                        break;
        }
        rd_kafka_consumer_close(c);
        rd_kafka_destroy(c);
}

static void test_failed_delivery_keeps_newest_last(void **state) {
        env_t env;
        char e[512], vals[512];
        const char *last;
        (void)state;
        env_init(&env);
        add(&env, "W", "warm");
        assert_int_equal(vg_pub_flush(env.pub, 5000, e, sizeof(e)), 0);
        /* The next produce request fails for good (not retried). */
        rd_kafka_mock_push_request_errors(env.mc, APIKEY_PRODUCE, 1,
                                          RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE);
        add(&env, "X", "ACTIVE");
        add(&env, "X", "RETRACTED");
        for (int i = 0; i < 100 && vg_outbox_depth(env.ob) > 0; i++) {
                assert_int_equal(vg_pub_drain(env.pub, e, sizeof(e)), 0);
                usleep(20000);
        }
        assert_int_equal(vg_outbox_depth(env.ob), 0);
        topic_values(&env, vals, sizeof(vals));
        print_message("topic: %s\n", vals);
        last = strrchr(vals, ',');
        assert_non_null(last);
        /* Whatever was resent, RETRACTED (the newest row) is last. */
        assert_string_equal(last + 1, "RETRACTED");
        assert_non_null(strstr(vals, "ACTIVE"));
        env_free(&env);
}

static void test_permanent_failure_is_fatal(void **state) {
        env_t env;
        char e[512] = "";
        int rc = 0;
        (void)state;
        env_init(&env);
        {
                rd_kafka_resp_err_t errs[50];
                for (int i = 0; i < 50; i++)
                        errs[i] = RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE;
                rd_kafka_mock_push_request_errors_array(env.mc, APIKEY_PRODUCE,
                                                        50, errs);
        }
        add(&env, "Y", "never");
        for (int i = 0; i < 300 && rc == 0; i++) {
                rc = vg_pub_drain(env.pub, e, sizeof(e));
                usleep(10000);
        }
        assert_int_equal(rc, -1);
        assert_non_null(strstr(e, "could not be published"));
        assert_int_equal(vg_outbox_depth(env.ob), 1); /* kept, not lost */
        env_free(&env);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_failed_delivery_keeps_newest_last),
                cmocka_unit_test(test_permanent_failure_is_fatal),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
