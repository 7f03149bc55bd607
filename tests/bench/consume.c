/*
 * consume.c - the ceiling for tests/bench/run: a plain librdkafka consumer
 * of the given topics, no processing, from the beginning to the end of
 * every partition. Prints "<messages> <seconds> <messages/s>".
 *
 *   vigil-bench-consume BROKERS GROUP TOPIC...
 *
 * Counted from the first message to the last partition's end (EOF comes
 * for empty partitions too), so group join time is left out as it is for
 * vigil process's figure.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <librdkafka/rdkafka.h>

static double now_s(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int g_assigned = -1; /* partitions assigned; -1: not yet */

static void rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                      rd_kafka_topic_partition_list_t *parts, void *opaque) {
        (void)opaque;
        if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
                g_assigned = parts->cnt;
                rd_kafka_assign(rk, parts);
        } else {
                rd_kafka_assign(rk, NULL);
        }
}

int main(int argc, char **argv) {
        char err[512];
        rd_kafka_conf_t *conf;
        rd_kafka_t *rk;
        rd_kafka_topic_partition_list_t *topics;
        long long n = 0;
        int eofs = 0;
        double t0 = 0, t1 = 0, deadline;

        if (argc < 4) {
                fprintf(stderr, "usage: %s BROKERS GROUP TOPIC...\n", argv[0]);
                return 64;
        }
        conf = rd_kafka_conf_new();
        if (rd_kafka_conf_set(conf, "bootstrap.servers", argv[1], err,
                              sizeof(err)) ||
            rd_kafka_conf_set(conf, "group.id", argv[2], err, sizeof(err)) ||
            rd_kafka_conf_set(conf, "auto.offset.reset", "earliest", err,
                              sizeof(err)) ||
            rd_kafka_conf_set(conf, "enable.auto.commit", "false", err,
                              sizeof(err)) ||
            rd_kafka_conf_set(conf, "enable.partition.eof", "true", err,
                              sizeof(err)) ||
            rd_kafka_conf_set(conf, "partition.assignment.strategy", "range",
                              err, sizeof(err))) {
                fprintf(stderr, "config: %s\n", err);
                return 1;
        }
        rd_kafka_conf_set_rebalance_cb(conf, rebalance);
        if (!(rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err)))) {
                fprintf(stderr, "%s\n", err);
                return 1;
        }
        rd_kafka_poll_set_consumer(rk);
        topics = rd_kafka_topic_partition_list_new(argc - 3);
        for (int i = 3; i < argc; i++)
                rd_kafka_topic_partition_list_add(topics, argv[i],
                                                  RD_KAFKA_PARTITION_UA);
        rd_kafka_subscribe(rk, topics);
        rd_kafka_topic_partition_list_destroy(topics);
        deadline = now_s() + 600;
        while (now_s() < deadline) {
                rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
                if (!m)
                        continue;
                if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                        t1 = now_s();
                        eofs++;
                } else if (m->err) {
                        fprintf(stderr, "consume: %s\n",
                                rd_kafka_message_errstr(m));
                } else {
                        if (!n)
                                t0 = now_s();
                        n++;
                }
                rd_kafka_message_destroy(m);
                if (g_assigned > 0 && eofs >= g_assigned)
                        break;
        }
        rd_kafka_consumer_close(rk);
        rd_kafka_destroy(rk);
        if (g_assigned <= 0 || eofs < g_assigned || !n) {
                fprintf(stderr, "did not reach the end of every partition "
                                "(%lld messages)\n", n);
                return 1;
        }
        printf("%lld %.3f %.0f\n", n, t1 - t0, (double)n / (t1 - t0));
        return 0;
}
