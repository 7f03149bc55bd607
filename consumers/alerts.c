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
#include "vg_consumers.h"
#include "vg_config.h"
#include "vg_kafka.h"
#include "vg_process.h"
#include "vg_record_json.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

static volatile int stop_requested;

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
               "                        (re-sends of the same status are not "
               "repeated; the\n"
               "                        retraction of an alert shown is "
               "always printed)\n"
               "  -r, --rule R          only rule R (READMISSION_30D, "
               "SIP_OVERDUE, ...)\n"
               "  -k, --kommun K        only kommun K (4 digits)\n"
               "  -g, --region R        only region R (2 digits)\n"
               "  -s, --status S        only status S (ACTIVE or RETRACTED)\n"
               "  -a, --all             with no --status: include RETRACTED "
               "(default: ACTIVE\n"
               "                        only)\n"
               "  -j, --json            JSON Lines (docs/EVENTS.md §8.1) "
               "instead of a table\n"
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
        snprintf(pat, sizeof(pat), "%.12s",
                 al->al_patient_id ? al->al_patient_id : "-");
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

static int nstrcmp(const char *a, const char *b) {
        return strcmp(a ? a : "", b ? b : "");
}

/* JSON: by alert_id (stable for machines). */
static int alert_id_cmp(const void *a, const void *b) {
        return strcmp(((const vg_alert_t *)a)->al_alert_id,
                      ((const vg_alert_t *)b)->al_alert_id);
}

/* Table: by rule, kommun, then the anchor, for people. */
static int alert_cmp(const void *a, const void *b) {
        const vg_alert_t *x = a, *y = b;
        int c;
        if (x->al_rule != y->al_rule)
                return x->al_rule - y->al_rule;
        if ((c = nstrcmp(x->al_kommun, y->al_kommun)) ||
            (c = nstrcmp(x->al_area, y->al_area)) ||
            (c = nstrcmp(x->al_anchor, y->al_anchor)))
                return c;
        return alert_id_cmp(a, b);
}

typedef struct actx_s {
        filt_t     *ac_f;
        vg_codec_t *ac_codec;
        int         ac_follow;
        json_t     *ac_latest;  /* alert_id -> JSON line of its last status */
        json_t     *ac_seen;    /* --follow: alert_id -> last status shown */
        const char *ac_topic;
} actx_t;

static void alert_msg(const rd_kafka_message_t *m, void *opaque) {
        actx_t *ac = opaque;
        vg_anyrec_t rec;
        vg_rectype_t t;
        vg_decode_reason_t reason;
        char errstr[512];

        if (vg_codec_decode(ac->ac_codec, m->payload, m->len, VG_REC_ALERT, &t,
                            &rec, &reason, errstr, sizeof(errstr))) {
                vg_warn("alerts", "%s [%d] offset %lld: %s", ac->ac_topic,
                        m->partition, (long long)m->offset, errstr);
                return;
        }
        if (ac->ac_follow) {
                /* Print changes only: a re-send of the same status is not
                 * news; a retraction of an alert shown before is, whatever
                 * the status filter. */
                json_t *prev = json_object_get(ac->ac_seen, rec.al.al_alert_id);
                int was = prev ? (int)json_integer_value(prev) : -1;
                filt_t any = *ac->ac_f;
                any.status = -1;
                any.all = 1;
                if (was != rec.al.al_status) {
                        int shown = matches(ac->ac_f, &rec.al) ||
                                    (rec.al.al_status == VG_STATUS_RETRACTED &&
                                     was == VG_STATUS_ACTIVE &&
                                     matches(&any, &rec.al));
                        json_object_set_new(ac->ac_seen, rec.al.al_alert_id,
                                            json_integer(rec.al.al_status));
                        if (shown) {
                                print_alert(ac->ac_f, &rec.al);
                                fflush(stdout);
                        }
                }
        } else {
                char *js = vg_record_to_jsonl(t, &rec);
                json_object_set_new(ac->ac_latest, rec.al.al_alert_id,
                                    json_string(js));
                vg_free(js);
        }
        vg_record_clear(t, &rec);
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
        int c, rc = 0, follow = 0;
        vg_conf_t *conf = vg_conf_new();
        vg_codec_t *codec = NULL;
        char errstr[512];
        actx_t ac;
        json_t *latest = NULL;

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
        if (!(codec = vg_codec_new(errstr, sizeof(errstr)))) {
                vg_error("alerts", "%s", errstr);
                rc = VG_EXIT_FAIL;
                goto out;
        }
        latest = json_object();
        ac.ac_f = &f;
        ac.ac_codec = codec;
        ac.ac_follow = follow;
        ac.ac_latest = latest;
        ac.ac_seen = json_object();
        ac.ac_topic = vg_conf_str(conf, "topic.alerts");
        signal(SIGINT, on_signal);
        signal(SIGTERM, on_signal);
        if (follow && !f.json)
                print_header();
        if (vg_kafka_read_topic(conf, ac.ac_topic, follow, &stop_requested,
                                alert_msg, &ac, errstr, sizeof(errstr))) {
                vg_error("alerts", "%s", errstr);
                rc = VG_EXIT_FAIL;
                goto out;
        }
        if (!follow) {
                size_t n = json_object_size(latest), cnt = 0, shown = 0;
                vg_alert_t *all = vg_calloc(n + 1, sizeof(*all));
                const char *key;
                json_t *v;
                json_object_foreach(latest, key, v) {
                        json_t *obj = json_loads(json_string_value(v), 0, NULL);
                        if (obj && !vg_record_from_json(VG_REC_ALERT, obj,
                                                        &all[cnt], errstr,
                                                        sizeof(errstr)))
                                cnt++;
                        json_decref(obj);
                }
                if (cnt > 1)
                        qsort(all, cnt, sizeof(*all),
                              f.json ? alert_id_cmp : alert_cmp);
                if (!f.json)
                        print_header();
                for (size_t i = 0; i < cnt; i++) {
                        if (matches(&f, &all[i])) {
                                print_alert(&f, &all[i]);
                                shown++;
                        }
                        vg_record_clear(VG_REC_ALERT, &all[i]);
                }
                vg_free(all);
                fflush(stdout);
                if (!f.json)
                        fprintf(stderr, "%zu of %zu alerts shown\n", shown, n);
        }
out:
        if (latest)
                json_decref(ac.ac_seen);
        json_decref(latest);
        vg_codec_destroy(codec);
        vg_conf_destroy(conf);
        return rc;
}
