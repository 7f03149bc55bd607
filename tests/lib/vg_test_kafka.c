/*
 * vg_test_kafka.c - helpers for integration tests against a real broker.
 */
#include "vg_test_kafka.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

const char *vgt_bootstrap(void) {
        const char *b = getenv("VIGIL_BOOTSTRAP");
        if (!b || !*b) {
                fprintf(stderr,
                        "FAIL: VIGIL_BOOTSTRAP is not set: integration tests "
                        "need a real Kafka broker.\n"
                        "Start one with: export VIGIL_BOOTSTRAP=$(ops/kafka-local "
                        "start)\n"
                        "or run the whole suite with ops/test.\n");
                exit(1);
        }
        return b;
}

char *vgt_unique_topic(const char *prefix, char *buf, size_t size) {
        snprintf(buf, size, "%s.%d.%ld", prefix, (int)getpid(),
                 (long)time(NULL));
        return buf;
}

static void set(rd_kafka_conf_t *conf, const char *k, const char *v) {
        char errstr[256];
        if (rd_kafka_conf_set(conf, k, v, errstr, sizeof(errstr)) !=
            RD_KAFKA_CONF_OK) {
                fprintf(stderr, "FAIL: %s=%s: %s\n", k, v, errstr);
                exit(1);
        }
}

void vgt_create_topic(const char *topic, int partitions) {
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        char errstr[256];
        rd_kafka_t *rk;
        rd_kafka_NewTopic_t *nt;
        rd_kafka_queue_t *q;
        rd_kafka_event_t *ev;
        const rd_kafka_CreateTopics_result_t *res;
        const rd_kafka_topic_result_t **tr;
        size_t n;

        set(conf, "bootstrap.servers", vgt_bootstrap());
        rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
        if (!rk) {
                fprintf(stderr, "FAIL: rd_kafka_new: %s\n", errstr);
                exit(1);
        }
        nt = rd_kafka_NewTopic_new(topic, partitions, 1, errstr,
                                   sizeof(errstr));
        q = rd_kafka_queue_new(rk);
        rd_kafka_CreateTopics(rk, &nt, 1, NULL, q);
        ev = rd_kafka_queue_poll(q, 30000);
        if (!ev || rd_kafka_event_error(ev)) {
                fprintf(stderr, "FAIL: CreateTopics %s: %s\n", topic,
                        ev ? rd_kafka_event_error_string(ev) : "timeout");
                exit(1);
        }
        res = rd_kafka_event_CreateTopics_result(ev);
        tr = rd_kafka_CreateTopics_result_topics(res, &n);
        if (n != 1 || (rd_kafka_topic_result_error(tr[0]) &&
                       rd_kafka_topic_result_error(tr[0]) !=
                               RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)) {
                fprintf(stderr, "FAIL: CreateTopics %s: %s\n", topic,
                        n ? rd_kafka_topic_result_error_string(tr[0]) : "?");
                exit(1);
        }
        rd_kafka_event_destroy(ev);
        rd_kafka_NewTopic_destroy(nt);
        rd_kafka_queue_destroy(q);
        rd_kafka_destroy(rk);
}

rd_kafka_t *vgt_producer(void) {
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        char errstr[256];
        rd_kafka_t *rk;
        set(conf, "bootstrap.servers", vgt_bootstrap());
        set(conf, "enable.idempotence", "true");
        set(conf, "acks", "all");
        rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
        if (!rk) {
                fprintf(stderr, "FAIL: producer: %s\n", errstr);
                exit(1);
        }
        return rk;
}

rd_kafka_t *vgt_consumer(const char *group) {
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        char errstr[256];
        rd_kafka_t *rk;
        set(conf, "bootstrap.servers", vgt_bootstrap());
        set(conf, "group.id", group);
        set(conf, "auto.offset.reset", "earliest");
        set(conf, "enable.auto.commit", "false");
        rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
        if (!rk) {
                fprintf(stderr, "FAIL: consumer: %s\n", errstr);
                exit(1);
        }
        rd_kafka_poll_set_consumer(rk);
        return rk;
}
