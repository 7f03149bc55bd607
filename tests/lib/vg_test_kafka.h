/*
 * vg_test_kafka.h - helpers for integration tests against a real broker.
 *
 * The broker address comes from VIGIL_BOOTSTRAP (ops/kafka-local start
 * prints it; ops/test sets it). Without it a test fails loudly: an
 * integration test never passes without a broker.
 */
#ifndef VG_TEST_KAFKA_H
#define VG_TEST_KAFKA_H

#include <librdkafka/rdkafka.h>

/* The bootstrap address, or exits 1 with a message saying how to get one. */
const char *vgt_bootstrap(void);

/* A topic name unique to this run: "<prefix>.<pid>.<time>". */
char *vgt_unique_topic(const char *prefix, char *buf, size_t size);

/* Creates a topic; exits on failure. */
void vgt_create_topic(const char *topic, int partitions);

/* Producer and consumer with test-friendly settings. */
rd_kafka_t *vgt_producer(void);
rd_kafka_t *vgt_consumer(const char *group);

#endif
