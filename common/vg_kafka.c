/*
 * vg_kafka.c - librdkafka set-up shared by every command.
 */
#include "vg_kafka.h"
#include "vg_time.h"

#include <string.h>
#include <unistd.h>

static void log_cb(const rd_kafka_t *rk, int level, const char *fac,
                   const char *buf) {
        vg_loglevel_t l = level <= 3   ? VG_LOG_ERROR
                          : level <= 4 ? VG_LOG_WARN
                          : level <= 6 ? VG_LOG_INFO
                                       : VG_LOG_DEBUG;
        /* kafka.* keys go to every client of a command: a consumer key
         * (kafka.session.timeout.ms, kafka.group.instance.id) on its
         * producers, or a producer key (kafka.compression.type) on its
         * consumers, is expected, not a warning. */
        if (!strcmp(fac, "CONFWARN") &&
            (strstr(buf, "is a consumer property and will be ignored by "
                         "this producer") ||
             strstr(buf, "is a producer property and will be ignored by "
                         "this consumer")))
                l = VG_LOG_DEBUG;
        vg_log(l, "kafka", "%s: %s: %s", rd_kafka_name(rk), fac, buf);
}

vg_err_t vg_kafka_set(rd_kafka_conf_t *kconf, const char *key,
                      const char *value, char *errstr, size_t errstr_size) {
        char e[512];
        if (rd_kafka_conf_set(kconf, key, value, e, sizeof(e)) !=
            RD_KAFKA_CONF_OK)
                return vg_seterr(errstr, errstr_size, VG_ERR_ARG, "%s: %s",
                                 key, e);
        return VG_OK;
}

/* librdkafka's other names for properties (its CONFIGURATION.md): a
 * user who sets either name has chosen. Of those Vigil sets defaults for,
 * only compression.type has one; the others are here for the defaults
 * to come (session.timeout.ms, queued.min.messages, fetch.wait.max.ms,
 * transaction.timeout.ms and queue.buffering.max.messages have none). */
static const char *const kafka_alias[][2] = {
        {"compression.type", "compression.codec"},
        {"queue.buffering.max.ms", "linger.ms"},
        {"message.timeout.ms", "delivery.timeout.ms"},
};

static bool kafka_user_set(const vg_conf_t *conf, const char *key) {
        if (vg_conf_kafka_get(conf, key))
                return true;
        for (size_t i = 0; i < sizeof(kafka_alias) / sizeof(*kafka_alias);
             i++)
                for (int j = 0; j < 2; j++)
                        if (!strcmp(kafka_alias[i][j], key) &&
                            vg_conf_kafka_get(conf, kafka_alias[i][!j]))
                                return true;
        return false;
}

vg_err_t vg_kafka_default(const vg_conf_t *conf, rd_kafka_conf_t *kconf,
                          const char *key, const char *value, char *errstr,
                          size_t errstr_size) {
        if (kafka_user_set(conf, key))
                return VG_OK;
        return vg_kafka_set(kconf, key, value, errstr, errstr_size);
}

/* lz4 rather than none: what vigil process writes (patient states and
 * counters to the changelog, alerts, parts) is records of the same few
 * shapes, and the broker shares the machine. Catching up on 2,006,280
 * events (6 partitions, this 2-core machine, alternating runs): 66.0-76.8k
 * events/s against 60.8-63.6k, lower CPU per event in each of five pairs;
 * zstd 66.6-71.7k (docs/ARCHITECTURE.md). kafka.compression.type or its
 * alias kafka.compression.codec overrides it (kafka_alias). */
vg_err_t vg_kafka_compress_default(const vg_conf_t *conf,
                                   rd_kafka_conf_t *kconf, char *errstr,
                                   size_t errstr_size) {
        return vg_kafka_default(conf, kconf, "compression.type", "lz4", errstr,
                                errstr_size);
}

rd_kafka_conf_t *vg_kafka_conf(const vg_conf_t *conf, char *errstr,
                               size_t errstr_size) {
        rd_kafka_conf_t *kconf;
        /* A consumer group is Vigil's to name: kafka.group.id set after
         * it committed the offsets of vigil process to another group than
         * the one it logged and named its changelog after. */
        if (vg_conf_kafka_get(conf, "group.id")) {
                vg_seterr(errstr, errstr_size, VG_ERR_ARG,
                          "kafka.group.id: set group.id (vigil process) or "
                          "aggregate.group.id (vigil aggregate) instead; "
                          "Vigil names its consumer groups from them");
                return NULL;
        }
        kconf = rd_kafka_conf_new();
        rd_kafka_conf_set_log_cb(kconf, log_cb);
        if (vg_kafka_set(kconf, "bootstrap.servers", VG_DEFAULT_BOOTSTRAP,
                         errstr, errstr_size) ||
            vg_kafka_set(kconf, "client.id", "vigil", errstr, errstr_size) ||
            /* Never create a topic as a side effect of a metadata request:
             * it would get the broker's default partition count. */
            vg_kafka_set(kconf, "allow.auto.create.topics", "false", errstr,
                         errstr_size) ||
            vg_conf_kafka(conf, kconf, errstr, errstr_size)) {
                rd_kafka_conf_destroy(kconf);
                return NULL;
        }
        return kconf;
}

rd_kafka_conf_t *vg_kafka_producer_conf(const vg_conf_t *conf, char *errstr,
                                        size_t errstr_size) {
        rd_kafka_conf_t *kconf = vg_kafka_conf(conf, errstr, errstr_size);
        const char *pt;
        char v[64];
        size_t vs = sizeof(v);
        if (!kconf)
                return NULL;
        if (rd_kafka_conf_get(kconf, "acks", v, &vs) == RD_KAFKA_CONF_OK &&
            strcmp(v, "all") && strcmp(v, "-1")) {
                vg_seterr(errstr, errstr_size, VG_ERR_ARG,
                          "acks=%s (kafka.acks or kafka.request.required."
                          "acks): Vigil requires acks=all (exactly-once "
                          "publishing, docs/ARCHITECTURE.md)",
                          v);
                rd_kafka_conf_destroy(kconf);
                return NULL;
        }
        /* The partitioner must place a patient where file mode does (and
         * where Java clients do): another one is refused, not overridden
         * without a word. */
        if ((pt = vg_conf_kafka_get(conf, "partitioner")) &&
            strcmp(pt, "murmur2_random") && strcmp(pt, "murmur2")) {
                vg_seterr(errstr, errstr_size, VG_ERR_ARG,
                          "kafka.partitioner=%s: Vigil's producers use "
                          "murmur2_random (each patient in the partition "
                          "file mode and Java clients place it: "
                          "docs/EVENTS.md, co-partitioning)", pt);
                rd_kafka_conf_destroy(kconf);
                return NULL;
        }
        /* (set to false it was made true without a word; vigil
         * produce refuses it) */
        if ((pt = vg_conf_kafka_get(conf, "enable.idempotence")) &&
            strcmp(pt, "true")) {
                vg_seterr(errstr, errstr_size, VG_ERR_ARG,
                          "kafka.enable.idempotence=%s: Vigil's producers "
                          "are idempotent (exactly-once publishing, "
                          "docs/ARCHITECTURE.md)", pt);
                rd_kafka_conf_destroy(kconf);
                return NULL;
        }
        if (vg_kafka_set(kconf, "partitioner", "murmur2_random", errstr,
                         errstr_size) ||
            vg_kafka_set(kconf, "enable.idempotence", "true", errstr,
                         errstr_size) ||
            vg_kafka_set(kconf, "acks", "all", errstr, errstr_size)) {
                rd_kafka_conf_destroy(kconf);
                return NULL;
        }
        return kconf;
}

bool vg_kafka_producer_error(const char *cmd, rd_kafka_t *rk, int err,
                             const char *reason) {
        char fatal[512];

        if (err != RD_KAFKA_RESP_ERR__FATAL) {
                vg_warn(cmd, "kafka: %s: %s",
                        rd_kafka_err2name((rd_kafka_resp_err_t)err), reason);
                return false;
        }
        rd_kafka_fatal_error(rk, fatal, sizeof(fatal));
        vg_error(cmd, "fatal producer error, stopping: %s", fatal);
        return true;
}

rd_kafka_resp_err_t vg_kafka_query_ends(rd_kafka_t *rk, const char *topic,
                                        int32_t p, int64_t *lo, int64_t *hi,
                                        int timeout_ms) {
        int64_t until = vg_now_ms() + timeout_ms;
        int each = timeout_ms < 10000 ? timeout_ms : 10000;
        for (;;) {
                rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(
                        rk, topic, p, lo, hi, each);
                if ((err != RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION &&
                     err != RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE &&
                     err != RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART &&
                     err != RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION &&
                     err != RD_KAFKA_RESP_ERR__TRANSPORT) ||
                    vg_now_ms() >= until)
                        return err;
                usleep(200 * 1000);
        }
}

int vg_kafka_partition_count(rd_kafka_t *rk, const char *topic, int timeout_ms,
                             char *errstr, size_t errstr_size) {
        rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
        int64_t until = vg_now_ms() + 2000; /* a topic just created may take
                                             * a moment to appear */
        int cnt = -1;

        if (!rkt) {
                vg_seterr(errstr, errstr_size, VG_ERR_ARG,
                          "topic \"%.64s\": not a valid topic name (%s)",
                          topic, rd_kafka_err2str(rd_kafka_last_error()));
                return -1;
        }
        for (;;) {
                const struct rd_kafka_metadata *md = NULL;
                rd_kafka_resp_err_t err =
                        rd_kafka_metadata(rk, 0, rkt, &md, timeout_ms);
                if (err == RD_KAFKA_RESP_ERR__TIMED_OUT ||
                    err == RD_KAFKA_RESP_ERR__TRANSPORT ||
                    err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN ||
                    err == RD_KAFKA_RESP_ERR__RESOLVE) {
                        char bs[512] = "?";
                        size_t bsz = sizeof(bs);
                        rd_kafka_conf_get(rd_kafka_conf(rk),
                                          "bootstrap.servers", bs, &bsz);
                        vg_seterr(errstr, errstr_size, VG_ERR_KAFKA,
                                  "cannot reach the Kafka cluster at %s "
                                  "(%s within %d ms; is the broker running, "
                                  "and is -b / kafka.bootstrap.servers "
                                  "right?)",
                                  bs, rd_kafka_err2str(err), timeout_ms);
                        break;
                }
                if (err) {
                        vg_seterr(errstr, errstr_size, VG_ERR_KAFKA,
                                  "cannot get metadata of topic %s: %s (is "
                                  "the broker reachable?)",
                                  topic, rd_kafka_err2str(err));
                        break;
                }
                if (md->topic_cnt == 1 && !md->topics[0].err) {
                        cnt = md->topics[0].partition_cnt;
                        rd_kafka_metadata_destroy(md);
                        break;
                }
                vg_seterr(errstr, errstr_size, VG_ERR_NOENT,
                          "topic %s: %s (create it with 'vigil topics "
                          "create', see README)",
                          topic,
                          md->topic_cnt ? rd_kafka_err2str(md->topics[0].err)
                                        : "not found");
                rd_kafka_metadata_destroy(md);
                if (vg_now_ms() >= until)
                        break;
                rd_kafka_poll(rk, 250);
        }
        rd_kafka_topic_destroy(rkt);
        return cnt;
}

int vg_kafka_murmur2_partition(const void *key, size_t len, int cnt) {
        /* The plain murmur2 partitioner uses neither the topic handle nor
         * the opaques: (murmur2(key) & 0x7fffffff) % cnt. */
        return (int)rd_kafka_msg_partitioner_murmur2(NULL, key, len,
                                                     (int32_t)cnt, NULL, NULL);
}

int vg_kafka_read_topic(const vg_conf_t *conf, const char *topic, int follow,
                        volatile int *stop,
                        void (*cb)(const rd_kafka_message_t *m, void *opaque),
                        void *opaque, char *errstr, size_t errstr_size) {
        rd_kafka_conf_t *kconf = vg_kafka_conf(conf, errstr, errstr_size);
        rd_kafka_topic_partition_list_t *l = NULL;
        rd_kafka_t *rk = NULL;
        int64_t *high = NULL, last;
        int nparts, rc = -1, left;

        if (!kconf ||
            vg_kafka_set(kconf, "group.id", "vigil-reader", errstr,
                         errstr_size) ||
            vg_kafka_set(kconf, "enable.auto.commit", "false", errstr,
                         errstr_size) ||
            vg_kafka_set(kconf, "enable.partition.eof", "true", errstr,
                         errstr_size))
                goto out;
        if (!(rk = rd_kafka_new(RD_KAFKA_CONSUMER, kconf, errstr,
                                errstr_size)))
                goto out;
        kconf = NULL;
        if ((nparts = vg_kafka_partition_count(rk, topic, 10000, errstr,
                                               errstr_size)) < 0)
                goto out;
        high = vg_calloc((size_t)nparts, sizeof(*high));
        l = rd_kafka_topic_partition_list_new(nparts);
        left = 0;
        for (int p = 0; p < nparts; p++) {
                int64_t lo;
                rd_kafka_resp_err_t err =
                        vg_kafka_query_ends(rk, topic, p, &lo, &high[p], 10000);
                if (err) {
                        vg_seterr(errstr, errstr_size, VG_ERR_KAFKA,
                                  "cannot read the end of %s [%d]: %s", topic,
                                  p, rd_kafka_err2str(err));
                        goto out;
                }
                if (high[p] > lo)
                        left++;
                else
                        high[p] = -1; /* empty: nothing to wait for */
                rd_kafka_topic_partition_list_add(l, topic, p)->offset =
                        RD_KAFKA_OFFSET_BEGINNING;
        }
        if (rd_kafka_assign(rk, l)) {
                vg_seterr(errstr, errstr_size, VG_ERR_KAFKA,
                          "cannot assign %s", topic);
                goto out;
        }
        last = vg_now_ms();
        while (!(stop && *stop) && (follow || left > 0)) {
                rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
                if (!m) {
                        /* Reading up to the end must end: a broker that
                         * went away is an error, not a hang. */
                        if (!follow && vg_now_ms() - last > 30000) {
                                vg_seterr(errstr, errstr_size, VG_ERR_KAFKA,
                                          "%s: nothing received for 30 s "
                                          "before the end of the topic (is "
                                          "the broker reachable?)", topic);
                                goto out;
                        }
                        continue;
                }
                last = vg_now_ms();
                if (!m->err)
                        cb(m, opaque);
                else if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                        vg_warn("kafka", "%s: %s", topic,
                                rd_kafka_message_errstr(m));
                if (m->partition >= 0 && m->partition < nparts &&
                    high[m->partition] >= 0 &&
                    (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF
                             ? m->offset >= high[m->partition]
                             : m->offset + 1 >= high[m->partition])) {
                        high[m->partition] = -1;
                        left--;
                }
                rd_kafka_message_destroy(m);
        }
        if (!follow && stop && *stop && left > 0) {
                vg_seterr(errstr, errstr_size, VG_ERR_KAFKA,
                          "interrupted before the end of %s", topic);
                goto out;
        }
        rc = 0;
out:
        if (kconf)
                rd_kafka_conf_destroy(kconf);
        if (l)
                rd_kafka_topic_partition_list_destroy(l);
        if (rk) {
                rd_kafka_consumer_close(rk);
                rd_kafka_destroy(rk);
        }
        vg_free(high);
        return rc;
}
