/*
 * produce_kafka.c - Kafka for `vigil produce` (produce_int.h): the
 * producer (idempotent, acks=all enforced: contrary kafka.* settings are
 * refused), the topic checks before anything is produced, produce with
 * QUEUE_FULL back-off, delivery reports, the flush at the end.
 */
#include "produce_int.h"
#include "vg_cli.h"
#include "vg_time.h"

#include <string.h>

/* How long the topic checks wait for the broker. */
#define METADATA_TIMEOUT_MS 10000

/* ------------------------------------------------------------------ */
/* Kafka                                                              */
/* ------------------------------------------------------------------ */

static void dr_msg_cb(rd_kafka_t *rk, const rd_kafka_message_t *m,
                      void *opaque) {
        prod_t *pr = opaque;
        pmsg_t *pm = m->_private;

        pr->pr_reported++;
        if (m->err) {
                pr->pr_failed++;
                vg_log(VG_LOG_ERROR, "produce",
                       "%s:%ld: not delivered to %s: %s",
                       pm->pm_file, pm->pm_line, rd_kafka_topic_name(m->rkt),
                       rd_kafka_err2str(m->err));
        } else {
                pr->pr_delivered++;
                vg_debug(CMD, "%s:%ld: delivered to %s [%d] at offset %lld",
                         pm->pm_file, pm->pm_line, rd_kafka_topic_name(m->rkt),
                         (int)m->partition, (long long)m->offset);
        }
        vg_free(pm);
}

static void error_cb(rd_kafka_t *rk, int err, const char *reason,
                     void *opaque) {
        prod_t *pr = opaque;
        if (vg_kafka_producer_error(CMD, rk, err, reason))
                pr->pr_fatal = 1;
}

/* SPEC §7: the producer is idempotent with acks=all, and partitions by
 * murmur2 (SPEC §2). Rejects user settings that contradict them: applies the kafka.* keys over the required values
 * and reads them back. Returns 0 or VG_EXIT_USAGE after a message. */
int produce_check_kafka_overrides(const vg_conf_t *conf) {
        static const char *const eos =
                "events are produced by an idempotent producer with "
                "acks=all (docs/RUNBOOK.md)";
        static const struct {
                const char *key, *want, *alt, *why;
        } req[] = {
                {"enable.idempotence", "true", NULL, NULL},
                {"acks", "-1", "all", NULL},
                {"partitioner", "murmur2_random", "murmur2",
                 "each patient goes to the partition file mode and Java "
                 "clients place it in (docs/EVENTS.md, co-partitioning)"},
        };
        rd_kafka_conf_t *probe = rd_kafka_conf_new();
        char errstr[512], v[64];
        int rc = 0;

        for (size_t i = 0; i < VG_ARRAY_SIZE(req); i++)
                if (vg_kafka_set(probe, req[i].key,
                                 req[i].alt ? req[i].alt : req[i].want, errstr,
                                 sizeof(errstr)))
                        goto bad;
        if (vg_conf_kafka(conf, probe, errstr, sizeof(errstr)))
                goto bad;
        for (size_t i = 0; i < VG_ARRAY_SIZE(req); i++) {
                size_t vn = sizeof(v);
                if (rd_kafka_conf_get(probe, req[i].key, v, &vn) !=
                            RD_KAFKA_CONF_OK ||
                    (strcmp(v, req[i].want) &&
                     (!req[i].alt || strcmp(v, req[i].alt)))) {
                        fprintf(stderr,
                                "vigil %s: kafka.%s=%s is not allowed (set "
                                "as kafka.%s or an alias of it): %s; remove "
                                "the setting\n",
                                CMD, req[i].key, v, req[i].key,
                                req[i].why ? req[i].why : eos);
                        rc = VG_EXIT_USAGE;
                        break;
                }
        }
        rd_kafka_conf_destroy(probe);
        return rc;
bad:
        fprintf(stderr, "vigil %s: %s\n", CMD, errstr);
        rd_kafka_conf_destroy(probe);
        return VG_EXIT_USAGE;
}

/* Creates the producer. Returns 0, or an exit status after a message. */
int produce_kafka_setup(prod_t *pr, char *bootstrap, size_t bootstrap_size) {
        char errstr[512];
        rd_kafka_conf_t *kconf;

        /* Idempotent, acks=all (produce_check_kafka_overrides() refused
         * contrary settings) and the murmur2 partitioner every Vigil
         * producer uses, so a patient's events share a partition number
         * (SPEC §2). */
        if (!(kconf = vg_kafka_producer_conf(pr->pr_conf, errstr,
                                             sizeof(errstr)))) {
                fprintf(stderr, "vigil %s: %s\n", CMD, errstr);
                return VG_EXIT_USAGE;
        }
        /* No auto-creation: a topic created by a producer gets the broker's
         * default partition count and breaks co-partitioning (SPEC §2). */
        if (vg_kafka_set(kconf, "allow.auto.create.topics", "false", errstr,
                         sizeof(errstr))) {
                fprintf(stderr, "vigil %s: %s\n", CMD, errstr);
                rd_kafka_conf_destroy(kconf);
                return VG_EXIT_FAIL;
        }
        if (rd_kafka_conf_get(kconf, "bootstrap.servers", bootstrap,
                              &bootstrap_size) != RD_KAFKA_CONF_OK)
                snprintf(bootstrap, bootstrap_size, "?");
        rd_kafka_conf_set_dr_msg_cb(kconf, dr_msg_cb);
        rd_kafka_conf_set_error_cb(kconf, error_cb);
        rd_kafka_conf_set_opaque(kconf, pr);
        pr->pr_rk = rd_kafka_new(RD_KAFKA_PRODUCER, kconf, errstr,
                                 sizeof(errstr));
        if (!pr->pr_rk) {
                fprintf(stderr, "vigil %s: cannot create the producer: %s\n",
                        CMD, errstr);
                rd_kafka_conf_destroy(kconf);
                return VG_EXIT_USAGE;
        }
        kconf = NULL; /* now owned by pr_rk */
        return 0;
}

/* Checks that the broker answers and every target topic exists, before
 * anything is produced. Returns 0 or VG_EXIT_FAIL after a message. */
int produce_check_topics(prod_t *pr, const char *bootstrap) {
        return produce_check_topics_of(CMD, pr->pr_rk, pr->pr_topics,
                                       bootstrap);
}

int produce_check_topics_of(const char *cmd, rd_kafka_t *rk,
                            const char *const topics[VG_EVENT_TYPES],
                            const char *bootstrap) {
        const struct rd_kafka_metadata *md = NULL;
        const char *unknown =
                rd_kafka_err2str(RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART);
        char errstr[512];
        int cnt[VG_EVENT_TYPES], mismatch = 0;
        rd_kafka_resp_err_t err;

        /* Broker metadata without topics: is anyone there? */
        err = rd_kafka_metadata(rk, 0, NULL, &md, METADATA_TIMEOUT_MS);
        if (err) {
                fprintf(stderr,
                        "vigil %s: cannot reach the Kafka broker at %s: %s "
                        "(is it running? set it with -b or "
                        "kafka.bootstrap.servers)\n",
                        cmd, bootstrap, rd_kafka_err2str(err));
                return VG_EXIT_FAIL;
        }
        rd_kafka_metadata_destroy(md);
        for (int t = 0; t < VG_EVENT_TYPES; t++) {
                cnt[t] = vg_kafka_partition_count(rk, topics[t],
                                                  METADATA_TIMEOUT_MS, errstr,
                                                  sizeof(errstr));
                if (cnt[t] >= 0) {
                        mismatch |= cnt[t] != cnt[0];
                        continue;
                }
                if (strstr(errstr, unknown))
                        fprintf(stderr,
                                "vigil %s: topic %s does not exist (create "
                                "it, see README); nothing produced\n",
                                cmd, topics[t]);
                else
                        fprintf(stderr, "vigil %s: %s; nothing produced\n",
                                cmd, errstr);
                return VG_EXIT_FAIL;
        }
        if (mismatch)
                vg_warn(cmd,
                        "input topics have different partition counts (%s: "
                        "%d, %s: %d, %s: %d, %s: %d); consumers refuse to "
                        "start until they are equal (docs/EVENTS.md)",
                        topics[0], cnt[0], topics[1], cnt[1],
                        topics[2], cnt[2], topics[3], cnt[3]);
        return 0;
}

/* Hands one encoded event to librdkafka (copied). On QUEUE_FULL serves
 * delivery reports for 100 ms and retries. A refused message counts as
 * failed. */
void produce_one(prod_t *pr, int type, const char *key,
                 const void *value, size_t len, const pmsg_t *src) {
        pmsg_t *pm = vg_malloc(sizeof(*pm));
        rd_kafka_resp_err_t err;

        *pm = *src;
        for (;;) {
                err = rd_kafka_producev(
                        pr->pr_rk, RD_KAFKA_V_TOPIC(pr->pr_topics[type]),
                        RD_KAFKA_V_KEY(key, strlen(key)),
                        RD_KAFKA_V_VALUE((void *)value, len),
                        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                        RD_KAFKA_V_OPAQUE(pm), RD_KAFKA_V_END);
                if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL || pr->pr_fatal ||
                    produce_stop_signal)
                        break;
                rd_kafka_poll(pr->pr_rk, 100);
        }
        if (err) {
                pr->pr_failed++;
                if (err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE)
                        vg_log(VG_LOG_ERROR, "produce",
                               "%s:%ld: not produced: the encoded event is "
                               "%zu bytes, more than the producer's "
                               "message.max.bytes",
                               src->pm_file, src->pm_line, len);
                else
                        vg_log(VG_LOG_ERROR, "produce",
                               "%s:%ld: not produced: %s",
                               src->pm_file, src->pm_line,
                               rd_kafka_err2str(err));
                vg_free(pm);
                return;
        }
        pr->pr_queued++;
        rd_kafka_poll(pr->pr_rk, 0);
}

void produce_drain(const char *cmd, rd_kafka_t *rk, long queued,
                   long *reported, long *failed, int64_t timeout_ms,
                   int64_t signal_ms, const volatile sig_atomic_t *stop) {
        int64_t start = vg_now_ms();

        while (*reported < queued && *stop < 2) {
                int64_t left = start +
                               (*stop && signal_ms ? signal_ms : timeout_ms) -
                               vg_now_ms();
                if (left <= 0)
                        break;
                rd_kafka_flush(rk, left > 500 ? 500 : (int)left);
        }
        if (*reported < queued) {
                vg_error(cmd, "%ld event(s) not delivered within %.0f s; "
                         "counting them as failed", queued - *reported,
                         (double)(vg_now_ms() - start) / 1000);
                rd_kafka_purge(rk, RD_KAFKA_PURGE_F_QUEUE |
                                           RD_KAFKA_PURGE_F_INFLIGHT);
                /* Purged messages get (failed) delivery reports. */
                for (int i = 0; i < 20 && *reported < queued; i++)
                        rd_kafka_poll(rk, 100);
                /* Any report still missing: failed, not lost silently. */
                *failed += queued - *reported;
                *reported = queued;
        }
}

void produce_flush_all(prod_t *pr) {
        produce_drain(CMD, pr->pr_rk, pr->pr_queued, &pr->pr_reported,
                      &pr->pr_failed, (int64_t)(pr->pr_timeout_s * 1000), 0,
                      &produce_stop_count);
}
