/*
 * topics.c - `vigil topics`: create and check Vigil's topics (SPEC §2).
 */
#include "vg_cli.h"
#include "vg_config.h"
#include "vg_kafka.h"
#include "vg_ops.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>

typedef struct tdef_s {
        const char *key;       /* config key of the topic name */
        int         inputs;    /* input topic: gets --partitions */
        int         compacted; /* cleanup.policy=compact */
} tdef_t;

static const tdef_t tdefs[] = {
        {"topic.admissions", 1, 0},       {"topic.discharges", 1, 0},
        {"topic.deaths", 1, 0},           {"topic.sip", 1, 0},
        {"topic.register", 1, 0},
        {"topic.alerts", 0, 1},           {"topic.indicator_parts", 0, 1},
        {"topic.indicators", 0, 1},       {"topic.dlq", 0, 0},
};

static void help(void) {
        printf("Usage: vigil topics create [options]\n"
               "       vigil topics check [options]\n"
               "\n"
               "  create   creates every Vigil topic that does not exist yet: "
               "the five input\n"
               "           topics with --partitions partitions each "
               "(co-partitioned), the\n"
               "           DLQ topic, and the compacted alerts (the last "
               "record per alert_id\n"
               "           is its status), indicator-parts and indicators "
               "topics. Existing\n"
               "           topics are left as they are.\n"
               "  check    prints each topic's partition count; exit 1 if one "
               "is missing or\n"
               "           the input topics are not co-partitioned\n"
               "\n"
               "Options:\n"
               "  -p, --partitions N    partitions of the input topics "
               "(default 6)\n"
               "      --output-partitions N  partitions of the other topics "
               "(default 3)\n"
               "  -R, --replication N   replication factor (default 1; use 3 "
               "in production)\n"
               "      --input-retention-ms MS  retention.ms of the input "
               "topics (default -1:\n"
               "                        keep forever, so that a lost state "
               "file can be rebuilt\n"
               "                        from the topics' beginning)\n"
               VG_CLI_CONF_HELP
               "  -h, --help            this help\n");
}

static int create(rd_kafka_t *rk, const vg_conf_t *conf, int parts,
                  int out_parts, int repl, const char *in_retention) {
        rd_kafka_NewTopic_t *nt[VG_ARRAY_SIZE(tdefs)];
        rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
        rd_kafka_event_t *ev;
        const rd_kafka_topic_result_t **res;
        size_t n, cnt = VG_ARRAY_SIZE(tdefs);
        char errstr[512];
        int rc = 0;

        for (size_t i = 0; i < cnt; i++) {
                nt[i] = rd_kafka_NewTopic_new(vg_conf_str(conf, tdefs[i].key),
                                              tdefs[i].inputs ? parts
                                                              : out_parts,
                                              repl, errstr, sizeof(errstr));
                if (!nt[i]) {
                        vg_error("topics", "%s", errstr);
                        return 1;
                }
                if (tdefs[i].compacted)
                        rd_kafka_NewTopic_set_config(nt[i], "cleanup.policy",
                                                     "compact");
                if (tdefs[i].inputs)
                        rd_kafka_NewTopic_set_config(nt[i], "retention.ms",
                                                     in_retention);
        }
        rd_kafka_CreateTopics(rk, nt, cnt, NULL, q);
        ev = rd_kafka_queue_poll(q, 60000);
        if (!ev || rd_kafka_event_error(ev)) {
                vg_error("topics", "create: %s",
                         ev ? rd_kafka_event_error_string(ev)
                            : "timed out (is the broker reachable?)");
                rc = 1;
        } else {
                res = rd_kafka_CreateTopics_result_topics(
                        rd_kafka_event_CreateTopics_result(ev), &n);
                for (size_t i = 0; i < n; i++) {
                        rd_kafka_resp_err_t e =
                                rd_kafka_topic_result_error(res[i]);
                        if (!e)
                                printf("created  %s\n",
                                       rd_kafka_topic_result_name(res[i]));
                        else if (e == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
                                printf("exists   %s\n",
                                       rd_kafka_topic_result_name(res[i]));
                        else {
                                printf("FAILED   %s: %s\n",
                                       rd_kafka_topic_result_name(res[i]),
                                       rd_kafka_topic_result_error_string(
                                               res[i]));
                                rc = 1;
                        }
                }
        }
        if (ev)
                rd_kafka_event_destroy(ev);
        for (size_t i = 0; i < cnt; i++)
                rd_kafka_NewTopic_destroy(nt[i]);
        rd_kafka_queue_destroy(q);
        return rc;
}

static int check(rd_kafka_t *rk, const vg_conf_t *conf) {
        int rc = 0, in = -1;
        char errstr[512];
        for (size_t i = 0; i < VG_ARRAY_SIZE(tdefs); i++) {
                const char *t = vg_conf_str(conf, tdefs[i].key);
                int n = vg_kafka_partition_count(rk, t, 10000, errstr,
                                                 sizeof(errstr));
                if (n < 0) {
                        printf("MISSING  %s: %s\n", t, errstr);
                        rc = 1;
                        continue;
                }
                printf("ok       %-28s %d partitions\n", t, n);
                if (tdefs[i].inputs) {
                        if (in >= 0 && n != in) {
                                printf("ERROR    input topics are not "
                                       "co-partitioned\n");
                                rc = 1;
                        }
                        in = n;
                }
        }
        return rc;
}

/* Asks the cluster for its brokers (no topics) within timeout_ms: a broker
 * that is down is one clear error, not a timeout per topic. */
static int reachable(rd_kafka_t *rk, int timeout_ms) {
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, NULL, &md,
                                                    timeout_ms);
        char bs[512] = "?";
        size_t bsz = sizeof(bs);
        if (!err && md->broker_cnt > 0) {
                rd_kafka_metadata_destroy(md);
                return 1;
        }
        if (md)
                rd_kafka_metadata_destroy(md);
        rd_kafka_conf_get(rd_kafka_conf(rk), "bootstrap.servers", bs, &bsz);
        fprintf(stderr,
                "vigil topics: cannot reach the Kafka cluster at %s (%s "
                "within %d s); is the broker running, and are -b / "
                "kafka.bootstrap.servers right?\n",
                bs, err ? rd_kafka_err2str(err) : "no broker in the answer",
                timeout_ms / 1000);
        return 0;
}

static int parse_pos(const char *s, int *out) {
        char *end;
        long v;
        if (*s < '0' || *s > '9') /* (digits only: no ' ', '+', '') */
                return -1;
        v = strtol(s, &end, 10);
        if (*end || v < 1 || v > 10000)
                return -1;
        *out = (int)v;
        return 0;
}

int vg_cmd_topics(int argc, char **argv) {
        static const struct option opts[] = {
                {"partitions", required_argument, NULL, 'p'},
                {"output-partitions", required_argument, NULL, 'O'},
                {"replication", required_argument, NULL, 'R'},
                {"input-retention-ms", required_argument, NULL, 'T'},
                {"help", no_argument, NULL, 'h'},
                {NULL, 0, NULL, 0},
        };
        int c, rc = 0, parts = 6, out_parts = 3, repl = 1;
        const char *in_retention = "-1";
        long long num;
        vg_conf_t *conf = vg_conf_new();
        rd_kafka_conf_t *kconf;
        rd_kafka_t *rk = NULL;
        const char *sub;
        char errstr[512];

        optind = 1;
        while ((c = getopt_long(argc, argv, "p:R:h" VG_CLI_CONF_OPTS, opts,
                                NULL)) != -1) {
                if (vg_cli_conf_option(conf, "topics", c, optarg, &rc)) {
                        if (rc)
                                goto out;
                        continue;
                }
                switch (c) {
                case 'p':
                case 'O':
                case 'R':
                        if (parse_pos(optarg, c == 'p'   ? &parts
                                              : c == 'O' ? &out_parts
                                                         : &repl)) {
                                rc = vg_cli_usage_error(
                                        "topics",
                                        "--%s: expected a number from 1 to "
                                        "10000, got '%s'",
                                        c == 'p'   ? "partitions"
                                        : c == 'O' ? "output-partitions"
                                                   : "replication",
                                        optarg);
                                goto out;
                        }
                        break;
                case 'T':
                        if ((rc = vg_cli_int_arg("topics", "input-retention-ms",
                                                 optarg, -1, INT64_MAX, &num)))
                                goto out;
                        in_retention = optarg;
                        break;
                case 'h':
                        help();
                        goto out;
                default:
                        rc = vg_cli_usage_error("topics", "bad option");
                        goto out;
                }
        }
        if (optind != argc - 1 || (strcmp(argv[optind], "create") &&
                                   strcmp(argv[optind], "check"))) {
                rc = vg_cli_usage_error("topics",
                                        "expected 'create' or 'check'");
                goto out;
        }
        sub = argv[optind];
        if ((rc = vg_cli_conf_finish(conf, "topics")))
                goto out;
        if (!(kconf = vg_kafka_conf(conf, errstr, sizeof(errstr))) ||
            !(rk = rd_kafka_new(RD_KAFKA_PRODUCER, kconf, errstr,
                                sizeof(errstr)))) {
                vg_error("topics", "%s", errstr);
                rc = 1;
                goto out;
        }
        if (!reachable(rk, 10000)) {
                rc = 1;
                goto out;
        }
        if (!strcmp(sub, "create")) {
                rc = create(rk, conf, parts, out_parts, repl, in_retention);
                /* Topics that existed may differ: say so, fail on it. */
                if (!rc && check(rk, conf))
                        rc = 1;
        } else
                rc = check(rk, conf);
out:
        if (rk)
                rd_kafka_destroy(rk);
        vg_conf_destroy(conf);
        return rc;
}
