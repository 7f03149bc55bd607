/*
 * vg_kafka.h - librdkafka set-up shared by every command: configuration
 * from vg_conf (kafka.* passthrough), logs routed to vg_log, topic metadata.
 */
#ifndef VG_KAFKA_H
#define VG_KAFKA_H

#include "vg_common.h"
#include "vg_config.h"

#include <librdkafka/rdkafka.h>

#define VG_DEFAULT_BOOTSTRAP "localhost:9092"

/* A librdkafka configuration from conf: bootstrap.servers defaults to
 * localhost:9092, librdkafka's logs go to vg_log, then every kafka.* key is
 * applied (so users can override anything). NULL + errstr on a bad key. */
rd_kafka_conf_t *vg_kafka_conf(const vg_conf_t *conf, char *errstr,
                               size_t errstr_size);

/* vg_kafka_conf() for producers: enable.idempotence=true, acks=all (a
 * kafka.acks other than all is an error) and Kafka's murmur2 partitioner,
 * so a patient lands in the partition file mode emulates. */
rd_kafka_conf_t *vg_kafka_producer_conf(const vg_conf_t *conf, char *errstr,
                                        size_t errstr_size);

/* Sets one librdkafka property; VG_ERR_ARG + errstr if rejected. */
vg_err_t vg_kafka_set(rd_kafka_conf_t *kconf, const char *key,
                      const char *value, char *errstr, size_t errstr_size);

/* A default of Vigil's: sets key to value unless conf has kafka.<key>,
 * or kafka.<its librdkafka alias> (compression.codec for compression.type,
 * linger.ms, delivery.timeout.ms): the user's value, already in kconf,
 * wins. */
vg_err_t vg_kafka_default(const vg_conf_t *conf, rd_kafka_conf_t *kconf,
                          const char *key, const char *value, char *errstr,
                          size_t errstr_size);

/* The output producers' compression (vigil process, vigil aggregate):
 * compression.type=lz4 unless kafka.compression.type or its alias
 * kafka.compression.codec is set. */
vg_err_t vg_kafka_compress_default(const vg_conf_t *conf,
                                   rd_kafka_conf_t *kconf, char *errstr,
                                   size_t errstr_size);

/* For a producer's error callback (rd_kafka_conf_set_error_cb): logs err
 * as "CMD: kafka: NAME: reason" (a warning), or a fatal error as "CMD:
 * fatal producer error, stopping: ..." and returns true: the caller stops
 * producing. */
bool vg_kafka_producer_error(const char *cmd, rd_kafka_t *rk, int err,
                             const char *reason);

/* The low and high watermark offsets of topic [p], as
 * rd_kafka_query_watermark_offsets(). A topic created a moment ago may have
 * no leader for a partition yet, and those errors come at once: asked again
 * every 200 ms until timeout_ms have passed. Other errors return at once. */
rd_kafka_resp_err_t vg_kafka_query_ends(rd_kafka_t *rk, const char *topic,
                                        int32_t p, int64_t *lo, int64_t *hi,
                                        int timeout_ms);

/* Number of partitions of topic, or -1 with errstr (missing topic, broker
 * unreachable within timeout_ms). */
int vg_kafka_partition_count(rd_kafka_t *rk, const char *topic, int timeout_ms,
                             char *errstr, size_t errstr_size);

/* Reads every partition of topic from the beginning with a group-less
 * consumer (nothing committed) and calls cb for each message, until the end
 * of every partition as it was when reading started, or, with follow,
 * until *stop becomes non-zero. Returns 0, or -1 with errstr. */
int vg_kafka_read_topic(const vg_conf_t *conf, const char *topic, int follow,
                        volatile int *stop,
                        void (*cb)(const rd_kafka_message_t *m, void *opaque),
                        void *opaque, char *errstr, size_t errstr_size);

/* Kafka's murmur2 partitioner (Java client default, librdkafka
 * "murmur2_random" for non-empty keys): the partition of key among cnt,
 * computed by librdkafka's rd_kafka_msg_partitioner_murmur2. */
int vg_kafka_murmur2_partition(const void *key, size_t len, int cnt);


#endif /* VG_KAFKA_H */
