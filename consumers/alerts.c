/*
 * alerts.c - `vigil alerts`: read care.alerts.v1, dedupe by alert_id (the
 * last status wins) and print, up to now or following new alerts.
 *
 * It reads with its own assignment of every partition from the beginning
 * (no consumer group, nothing committed), so it never disturbs the
 * processors and always sees the whole topic.
 */
#include "vg_cli.h"
#include "vg_codec.h"
#include "vg_config.h"
#include "vg_kafka.h"
#include "vg_process.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig) {
        (void)sig;
        stop_requested = 1;
}

static void help(void) {
        printf("Usage: vigil alerts [options]\n"
               "\n"
               "Prints the alerts on the alerts topic (topic.alerts), deduped "
               "by alert_id:\n"
               "the last status of each alert wins. Without --follow it reads "
               "up to the\n"
               "current end of the topic and exits; with --follow it prints "
               "every change\n"
               "as it arrives until interrupted.\n"
               "\n"
               "Options:\n"
               "  -f, --follow          keep reading; print each alert "
               "change as it comes\n"
               "  -r, --rule R          only rule R (READMISSION_30D, "
               "SIP_OVERDUE, ...)\n"
               "  -k, --kommun K        only kommun K (4 digits)\n"
               "  -g, --region R        only region R (2 digits)\n"
               "  -s, --status S        only status S (ACTIVE or RETRACTED)\n"
               "  -a, --all             with no --status: include RETRACTED "
               "(default: ACTIVE\n"
               "                        only)\n"
               "  -j, --json            JSON Lines (SPEC §9) instead of a "
               "table\n"
               VG_CLI_CONF_HELP
               "  -h, --help            this help\n"
               "\n"
               "Exit status: 0 ok, 1 Kafka error, 2 usage error.\n");
}

typedef struct filt_s {
        int         rule;    /* -1 any */
        int         status;  /* -1 any */
        const char *kommun;
        const char *region;
        int         all;
        int         json;
} filt_t;

static int matches(const filt_t *f, const vg_alert_t *al) {
        if (f->rule >= 0 && al->al_rule != f->rule)
                return 0;
        if (f->status >= 0 && al->al_status != f->status)
                return 0;
        if (f->status < 0 && !f->all && al->al_status != VG_STATUS_ACTIVE)
                return 0;
        if (f->kommun && (!al->al_kommun || strcmp(al->al_kommun, f->kommun)))
                return 0;
        if (f->region && (!al->al_region || strcmp(al->al_region, f->region)))
                return 0;
        return 1;
}

static void fmt_date(const vg_optl_t *o, char *buf) {
        char t[VG_TIME_BUFSZ];
        if (!o->set) {
                strcpy(buf, "-");
                return;
        }
        vg_time_format(o->v, t);
        snprintf(buf, 17, "%.10s %.5s", t, t + 11);
}

static void print_header(void) {
        printf("%-9s  %-22s  %-6s  %-12s  %-16s  %s\n", "STATUS", "RULE",
               "KOMMUN", "PATIENT", "ANCHOR", "DETAILS");
}

static void print_alert(const filt_t *f, const vg_alert_t *al) {
        char a[24], b[24], pat[13];
        if (f->json) {
                char *js = vg_process_alert_json(al);
                printf("%s\n", js);
                vg_free(js);
                return;
        }
        snprintf(pat, sizeof(pat), "%.8s%s", al->al_patient_id ? al->al_patient_id : "-",
                 al->al_patient_id && strlen(al->al_patient_id) > 8 ? "…" : "");
        printf("%-9s  %-22s  %-6s  %-12s  %-16.16s  ",
               vg_enum_str(&vg_enum_status, al->al_status),
               vg_enum_str(&vg_enum_rule, al->al_rule),
               al->al_kommun ? al->al_kommun : "-", pat, al->al_anchor);
        switch (al->al_rule) {
        case VG_RULE_READMISSION_30D:
                fmt_date(&al->al_index_discharged_at, a);
                fmt_date(&al->al_readmitted_at, b);
                printf("discharged %s (%s), readmitted %s, %lld days\n", a,
                       al->al_index_stay_id ? al->al_index_stay_id : "-", b,
                       (long long)al->al_days_between.v);
                break;
        case VG_RULE_SIP_OVERDUE:
                fmt_date(&al->al_discharged_at, a);
                fmt_date(&al->al_deadline, b);
                printf("discharged %s, SIP due %s\n", a, b);
                break;
        case VG_RULE_INDICATOR_BELOW_TARGET:
                printf("%s %s %s: %.1f%% (target %.1f%%)\n",
                       al->al_indicator ? al->al_indicator : "?",
                       al->al_area ? al->al_area : "?",
                       al->al_period ? al->al_period : "?",
                       al->al_value.v * 100, al->al_target.v * 100);
                break;
        default:
                printf("\n");
        }
}

static int key_cmp(const void *a, const void *b) {
        return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int vg_cmd_alerts(int argc, char **argv) {
        static const struct option opts[] = {
                {"follow", no_argument, NULL, 'f'},
                {"rule", required_argument, NULL, 'r'},
                {"kommun", required_argument, NULL, 'k'},
                {"region", required_argument, NULL, 'g'},
                {"status", required_argument, NULL, 's'},
                {"all", no_argument, NULL, 'a'},
                {"json", no_argument, NULL, 'j'},
                {"help", no_argument, NULL, 'h'},
                {NULL, 0, NULL, 0},
        };
        filt_t f = {-1, -1, NULL, NULL, 0, 0};
        int c, rc = 0, follow = 0, nparts;
        vg_conf_t *conf = vg_conf_new();
        rd_kafka_conf_t *kconf = NULL;
        rd_kafka_t *rk = NULL;
        vg_codec_t *codec = NULL;
        rd_kafka_topic_partition_list_t *l = NULL;
        int64_t *high = NULL;
        char errstr[512];
        const char *topic;
        json_t *latest = NULL; /* alert_id -> JSON of the alert */

        optind = 1;
        while ((c = getopt_long(argc, argv, "fr:k:g:s:ajh" VG_CLI_CONF_OPTS,
                                opts, NULL)) != -1) {
                if (vg_cli_conf_option(conf, "alerts", c, optarg, &rc)) {
                        if (rc)
                                goto out;
                        continue;
                }
                switch (c) {
                case 'f':
                        follow = 1;
                        break;
                case 'r':
                        if ((f.rule = vg_enum_find(&vg_enum_rule, optarg)) <
                            0) {
                                rc = vg_cli_usage_error(
                                        "alerts", "unknown rule '%s'", optarg);
                                goto out;
                        }
                        break;
                case 's':
                        if ((f.status = vg_enum_find(&vg_enum_status,
                                                     optarg)) < 0) {
                                rc = vg_cli_usage_error(
                                        "alerts",
                                        "--status: expected ACTIVE or "
                                        "RETRACTED, got '%s'", optarg);
                                goto out;
                        }
                        break;
                case 'k':
                        f.kommun = optarg;
                        break;
                case 'g':
                        f.region = optarg;
                        break;
                case 'a':
                        f.all = 1;
                        break;
                case 'j':
                        f.json = 1;
                        break;
                case 'h':
                        help();
                        goto out;
                default:
                        rc = vg_cli_usage_error("alerts", "bad option");
                        goto out;
                }
        }
        if (optind < argc) {
                rc = vg_cli_usage_error("alerts", "unexpected argument '%s'",
                                        argv[optind]);
                goto out;
        }
        if ((rc = vg_cli_conf_finish(conf, "alerts")))
                goto out;
        topic = vg_conf_str(conf, "topic.alerts");
        rc = VG_EXIT_FAIL;
        if (!(codec = vg_codec_new(errstr, sizeof(errstr))) ||
            !(kconf = vg_kafka_conf(conf, errstr, sizeof(errstr))) ||
            vg_kafka_set(kconf, "group.id", "vigil-alerts-reader", errstr,
                         sizeof(errstr)) ||
            vg_kafka_set(kconf, "enable.auto.commit", "false", errstr,
                         sizeof(errstr)))
                goto err;
        if (!(rk = rd_kafka_new(RD_KAFKA_CONSUMER, kconf, errstr,
                                sizeof(errstr))))
                goto err;
        kconf = NULL;
        if ((nparts = vg_kafka_partition_count(rk, topic, 10000, errstr,
                                               sizeof(errstr))) < 0)
                goto err;
        l = rd_kafka_topic_partition_list_new(nparts);
        high = vg_calloc((size_t)nparts, sizeof(*high));
        for (int p = 0; p < nparts; p++) {
                int64_t lo;
                if (rd_kafka_query_watermark_offsets(rk, topic, p, &lo,
                                                     &high[p], 10000)) {
                        vg_seterr(errstr, sizeof(errstr), VG_ERR_KAFKA,
                                  "cannot read the end of %s [%d]", topic, p);
                        goto err;
                }
                rd_kafka_topic_partition_list_add(l, topic, p)->offset =
                        RD_KAFKA_OFFSET_BEGINNING;
        }
        rd_kafka_assign(rk, l);
        latest = json_object();
        signal(SIGINT, on_signal);
        signal(SIGTERM, on_signal);
        if (follow && !f.json)
                print_header();
        while (!stop_requested) {
                rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
                int done = 1;
                if (m && !m->err) {
                        vg_anyrec_t rec;
                        vg_rectype_t t;
                        vg_decode_reason_t reason;
                        if (vg_codec_decode(codec, m->payload, m->len,
                                            VG_REC_ALERT, &t, &rec, &reason,
                                            errstr, sizeof(errstr))) {
                                vg_warn("alerts", "%s [%d] offset %lld: %s",
                                        topic, m->partition,
                                        (long long)m->offset, errstr);
                        } else {
                                if (follow) {
                                        if (matches(&f, &rec.al)) {
                                                print_alert(&f, &rec.al);
                                                fflush(stdout);
                                        }
                                } else {
                                        char *js =
                                                vg_record_to_jsonl(t, &rec);
                                        json_object_set_new(
                                                latest, rec.al.al_alert_id,
                                                json_string(js));
                                        vg_free(js);
                                }
                                vg_record_clear(t, &rec);
                        }
                        if (m->offset + 1 >= high[m->partition])
                                high[m->partition] = -1; /* reached */
                } else if (m && m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                        vg_warn("alerts", "%s", rd_kafka_message_errstr(m));
                if (m)
                        rd_kafka_message_destroy(m);
                if (follow)
                        continue;
                for (int p = 0; p < nparts; p++) {
                        int64_t lo, pos;
                        rd_kafka_topic_partition_list_t *q;
                        if (high[p] <= 0) /* empty or reached */
                                continue;
                        q = rd_kafka_topic_partition_list_new(1);
                        rd_kafka_topic_partition_list_add(q, topic, p);
                        rd_kafka_position(rk, q);
                        pos = q->elems[0].offset;
                        rd_kafka_topic_partition_list_destroy(q);
                        (void)lo;
                        if (pos < high[p])
                                done = 0;
                }
                if (done)
                        break;
        }
        if (!follow) {
                size_t n = json_object_size(latest), i = 0, shown = 0;
                const char **keys = vg_calloc(n + 1, sizeof(*keys));
                const char *key;
                json_t *v;
                json_object_foreach(latest, key, v) keys[i++] = key;
                qsort(keys, n, sizeof(*keys), key_cmp);
                if (!f.json)
                        print_header();
                for (i = 0; i < n; i++) {
                        vg_alert_t al;
                        json_t *obj = json_loads(
                                json_string_value(json_object_get(latest,
                                                                  keys[i])),
                                0, NULL);
                        if (obj && !vg_record_from_json(VG_REC_ALERT, obj, &al,
                                                        errstr,
                                                        sizeof(errstr))) {
                                if (matches(&f, &al)) {
                                        print_alert(&f, &al);
                                        shown++;
                                }
                                vg_record_clear(VG_REC_ALERT, &al);
                        }
                        json_decref(obj);
                }
                vg_free(keys);
                if (!f.json)
                        fprintf(stderr, "%zu of %zu alerts shown\n", shown, n);
        }
        rc = 0;
        goto out;
err:
        vg_error("alerts", "%s", errstr);
out:
        json_decref(latest);
        if (l)
                rd_kafka_topic_partition_list_destroy(l);
        vg_free(high);
        if (kconf)
                rd_kafka_conf_destroy(kconf);
        if (rk) {
                rd_kafka_consumer_close(rk);
                rd_kafka_destroy(rk);
        }
        vg_codec_destroy(codec);
        vg_conf_destroy(conf);
        return rc;
}
