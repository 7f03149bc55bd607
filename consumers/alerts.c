/*
 * alerts.c - `vigil alerts`: read care.alerts.v1, dedupe by alert_id (the
 * last status wins) and print, up to now or following new alerts.
 *
 * It reads with its own assignment of every partition from the beginning
 * (no consumer group, nothing committed), so it never disturbs the
 * processors and always sees the whole topic.
 */
#include "vg_areas.h"
#include "vg_cli.h"
#include "vg_codec.h"
#include "vg_consumers.h"
#include "vg_config.h"
#include "vg_kafka.h"
#include "vg_process.h"
#include "vg_record_json.h"
#include "vg_time.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <ctype.h>
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
               "current end of the topic and exits. With --follow it first "
               "prints the\n"
               "current alerts (as without it), then every change as it "
               "arrives until\n"
               "interrupted.\n"
               "\n"
               "The table shows the alert's own time (TIME, UTC: readmission, "
               "SIP deadline,\n"
               "death, or the indicator's period), the kommun with its name, "
               "and the whole\n"
               "patient_id and anchor.\n"
               "\n"
               "Options:\n"
               "  -f, --follow          keep reading; print each alert "
               "change as it comes\n"
               "                        (re-sends of the same status are not "
               "repeated; the\n"
               "                        retraction of an alert shown is "
               "always printed)\n"
               "      --from-beginning  with --follow: replay every change "
               "from the beginning\n"
               "                        of the topic instead of starting "
               "from the current\n"
               "                        alerts\n"
               "  -a, --area A          only area A: a kommun (0484), a "
               "region (04) or SE\n"
               "                        (repeatable)\n"
               "      --rule R          only rule R (READMISSION_30D, "
               "SIP_OVERDUE, ...)\n"
               "      --kommun K        only kommun K (4 digits)\n"
               "      --region R        only region R (2 digits): alerts whose "
               "kommun or area\n"
               "                        is in it (as vigil serve files them)\n"
               "  -s, --status S        only status S (ACTIVE or RETRACTED)\n"
               "      --all             with no --status: include RETRACTED "
               "(default: ACTIVE\n"
               "                        only)\n"
               "  -j, --json            JSON Lines (docs/EVENTS.md §8.1) "
               "instead of a table\n"
               VG_CLI_CONF_HELP
               "  -h, --help            this help\n"
               "\n"
               "Exit status: 0 ok, 1 Kafka error, 2 usage error.\n");
}

#define MAX_AREAS 32

typedef struct filt_s {
        int         rule;    /* -1 any */
        int         status;  /* -1 any */
        const char *kommun;
        const char *region;
        const char *areas[MAX_AREAS];
        int         area_cnt;
        int         all;
        int         json;
} filt_t;

static int in_region(const vg_alert_t *al, const char *region) {
        char buf[3];
        return !strcmp(vg_alert_region(al, buf), region);
}

static int area_matches(const filt_t *f, const vg_alert_t *al) {
        const char *place = vg_alert_place(al);
        if (!f->area_cnt)
                return 1;
        for (int i = 0; i < f->area_cnt; i++) {
                const char *a = f->areas[i];
                if (!strcmp(a, "SE"))
                        return 1;
                if (!strcmp(place, a))
                        return 1;
                if (strlen(a) == 2 && in_region(al, a))
                        return 1;
        }
        return 0;
}

static int matches(const filt_t *f, const vg_alert_t *al) {
        if (f->rule >= 0 && al->al_rule != f->rule)
                return 0;
        if (f->status >= 0 && al->al_status != f->status)
                return 0;
        if (f->status < 0 && !f->all && al->al_status != VG_STATUS_ACTIVE)
                return 0;
        if (f->kommun && strcmp(vg_alert_place(al), f->kommun))
                return 0;
        if (f->region && !in_region(al, f->region))
                return 0;
        return area_matches(f, al);
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

/* The alert's own time: when what it is about happened or fell due. */
static void fmt_when(const vg_alert_t *al, char *buf) {
        vg_optl_t em = {1, al->al_emitted_at};
        switch (al->al_rule) {
        case VG_RULE_READMISSION_30D:
                fmt_date(&al->al_readmitted_at, buf);
                return;
        case VG_RULE_SIP_OVERDUE:
                fmt_date(&al->al_deadline, buf);
                return;
        case VG_RULE_INDICATOR_BELOW_TARGET:
                if (al->al_period) {
                        snprintf(buf, 17, "%s", al->al_period);
                        return;
                }
                break;
        default:
                if (al->al_died_at.set) {
                        fmt_date(&al->al_died_at, buf);
                        return;
                }
        }
        fmt_date(&em, buf);
}

/* "0480 Nyköping"; the area for area alerts. */
static void fmt_place(const vg_alert_t *al, char *buf, size_t size) {
        /* where it is filed (vg_alert_place): an area alert by its area */
        const char *code = *vg_alert_place(al) ? vg_alert_place(al)
                           : al->al_kommun    ? al->al_kommun
                                              : al->al_area;
        const char *name = vg_areas_name(code);
        if (!code)
                snprintf(buf, size, "-");
        else if (name && strcmp(name, code))
                snprintf(buf, size, "%s %s", code, name);
        else
                snprintf(buf, size, "%s", code);
}

/* Display width of UTF-8 text (one column per code point). */
static int utf8_width(const char *s) {
        int n = 0;
        for (; *s; s++)
                n += ((unsigned char)*s & 0xC0) != 0x80;
        return n;
}

/* s on the terminal: a control character (an id may hold one; an escape
 * sequence would drive the terminal) as '?'. */
static void put_text(const char *s) {
        for (; *s; s++)
                putchar((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s);
}

static void pad(const char *s, int width) {
        int w = utf8_width(s);
        put_text(s);
        for (; w < width; w++)
                putchar(' ');
}

typedef struct widths_s {
        int place, patient, anchor;
} widths_t;

static const widths_t min_widths = {6, 12, 8};

static void print_header(const widths_t *w) {
        printf("%-9s  %-22s  %-16s  ", "STATUS", "RULE", "TIME (UTC)");
        pad("KOMMUN", w->place);
        printf("  ");
        pad("PATIENT", w->patient);
        printf("  ");
        pad("ANCHOR", w->anchor);
        printf("  DETAILS\n");
}

static void print_alert(const filt_t *f, const widths_t *w,
                        const vg_alert_t *al) {
        char a[24], b[24], when[24], place[160];
        if (f->json) {
                char *js = vg_process_alert_json(al);
                printf("%s\n", js);
                vg_free(js);
                return;
        }
        fmt_when(al, when);
        fmt_place(al, place, sizeof(place));
        printf("%-9s  %-22s  %-16s  ",
               vg_enum_str(&vg_enum_status, al->al_status),
               vg_enum_str(&vg_enum_rule, al->al_rule), when);
        pad(place, w->place);
        printf("  ");
        pad(al->al_patient_id ? al->al_patient_id : "-", w->patient);
        printf("  ");
        pad(al->al_anchor ? al->al_anchor : "-", w->anchor);
        printf("  ");
        switch (al->al_rule) {
        case VG_RULE_READMISSION_30D:
                fmt_date(&al->al_index_discharged_at, a);
                fmt_date(&al->al_readmitted_at, b);
                printf("discharged %s (", a);
                put_text(al->al_index_stay_id ? al->al_index_stay_id : "-");
                printf("), readmitted %s, %lld days\n", b,
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

static void widen(widths_t *w, const vg_alert_t *al) {
        char place[160];
        int n;
        fmt_place(al, place, sizeof(place));
        if ((n = utf8_width(place)) > w->place)
                w->place = n;
        if (al->al_patient_id && (n = utf8_width(al->al_patient_id)) >
                                          w->patient)
                w->patient = n;
        if (al->al_anchor && (n = utf8_width(al->al_anchor)) > w->anchor)
                w->anchor = n;
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
        if ((c = strcmp(vg_alert_place(x), vg_alert_place(y))) || /* (as
                                                                  * shown) */
            (c = nstrcmp(x->al_kommun, y->al_kommun)) ||
            (c = nstrcmp(x->al_area, y->al_area)) ||
            (c = nstrcmp(x->al_anchor, y->al_anchor)))
                return c;
        return alert_id_cmp(a, b);
}

typedef struct actx_s {
        filt_t     *ac_f;
        vg_codec_t *ac_codec;
        int         ac_live;    /* print changes as they come */
        json_t     *ac_latest;  /* alert_id -> JSON line of its last status */
        json_t     *ac_seen;    /* alert_id -> last status */
        const char *ac_topic;
        widths_t    ac_w;
} actx_t;

static void alert_rec(actx_t *ac, vg_rectype_t t, vg_anyrec_t *rec) {
        json_t *prev = json_object_get(ac->ac_seen, rec->al.al_alert_id);
        int was = prev ? (int)json_integer_value(prev) : -1;
        if (ac->ac_live && was != rec->al.al_status) {
                /* Print changes only: a re-send of the same status is not
                 * news; a retraction of an alert shown before is, whatever
                 * the status filter. */
                filt_t any = *ac->ac_f;
                any.status = -1;
                any.all = 1;
                if (matches(ac->ac_f, &rec->al) ||
                    (rec->al.al_status == VG_STATUS_RETRACTED &&
                     was == VG_STATUS_ACTIVE && matches(&any, &rec->al))) {
                        print_alert(ac->ac_f, &ac->ac_w, &rec->al);
                        fflush(stdout);
                }
        }
        json_object_set_new(ac->ac_seen, rec->al.al_alert_id,
                            json_integer(rec->al.al_status));
        if (!ac->ac_live) {
                char *js = vg_record_to_jsonl(t, rec);
                json_object_set_new(ac->ac_latest, rec->al.al_alert_id,
                                    json_string(js));
                vg_free(js);
        }
}

static void alert_msg(const rd_kafka_message_t *m, void *opaque) {
        actx_t *ac = opaque;
        vg_anyrec_t rec;
        vg_rectype_t t;
        vg_decode_reason_t reason;
        const char *pf;
        char errstr[512];

        if (vg_codec_decode(ac->ac_codec, m->payload, m->len, VG_REC_ALERT, &t,
                            &rec, &reason, errstr, sizeof(errstr))) {
                vg_warn("alerts", "%s [%d] offset %lld: %s", ac->ac_topic,
                        m->partition, (long long)m->offset, errstr);
                return;
        }
        if ((pf = vg_alert_pnr_field(&rec.al))) { /* SPEC §8 */
                vg_warn("alerts", "%s [%d] offset %lld: %s holds a "
                        "personnummer: not shown", ac->ac_topic,
                        m->partition, (long long)m->offset, pf);
                /* nor its earlier version, now out of date */
                json_object_del(ac->ac_latest, rec.al.al_alert_id);
        } else
                alert_rec(ac, t, &rec);
        vg_record_clear(t, &rec);
}

/* Prints the alerts collected in ac_latest that pass the filter, sorted;
 * returns how many were shown. */
static size_t print_latest(actx_t *ac, int header) {
        const filt_t *f = ac->ac_f;
        size_t n = json_object_size(ac->ac_latest), cnt = 0, shown = 0;
        vg_alert_t *all = vg_calloc(n + 1, sizeof(*all));
        char errstr[512];
        const char *key;
        json_t *v;
        json_object_foreach(ac->ac_latest, key, v) {
                json_t *obj = json_loads(json_string_value(v), 0, NULL);
                if (obj && !vg_record_from_json(VG_REC_ALERT, obj, &all[cnt],
                                                errstr, sizeof(errstr)))
                        cnt++;
                json_decref(obj);
        }
        if (cnt > 1)
                qsort(all, cnt, sizeof(*all),
                      f->json ? alert_id_cmp : alert_cmp);
        for (size_t i = 0; i < cnt; i++)
                if (matches(f, &all[i]))
                        widen(&ac->ac_w, &all[i]);
        if (header && !f->json)
                print_header(&ac->ac_w);
        for (size_t i = 0; i < cnt; i++) {
                if (matches(f, &all[i])) {
                        print_alert(f, &ac->ac_w, &all[i]);
                        shown++;
                }
                vg_record_clear(VG_REC_ALERT, &all[i]);
        }
        vg_free(all);
        fflush(stdout);
        return shown;
}

/* --follow: reads every partition from the beginning; the records that
 * were there when it started are collected quietly and printed as one
 * deduped set (unless from_beginning), then every change is printed as it
 * comes. */
static int follow_topic(const vg_conf_t *conf, actx_t *ac, int from_beginning,
                        char *errstr, size_t errstr_size) {
        rd_kafka_conf_t *kconf = vg_kafka_conf(conf, errstr, errstr_size);
        rd_kafka_topic_partition_list_t *l = NULL;
        rd_kafka_t *rk = NULL;
        int64_t *high = NULL, last;
        int nparts, rc = -1, left = 0;
        const char *topic = ac->ac_topic;

        if (!kconf ||
            vg_kafka_set(kconf, "group.id", "vigil-alerts", errstr,
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
                if (high[p] > lo && !from_beginning)
                        left++;
                else
                        high[p] = -1;
                rd_kafka_topic_partition_list_add(l, topic, p)->offset =
                        RD_KAFKA_OFFSET_BEGINNING;
        }
        if (rd_kafka_assign(rk, l)) {
                vg_seterr(errstr, errstr_size, VG_ERR_KAFKA,
                          "cannot assign %s", topic);
                goto out;
        }
        ac->ac_live = 0;
        if (left == 0) {
                if (!from_beginning)
                        print_latest(ac, 1);
                else if (!ac->ac_f->json)
                        print_header(&ac->ac_w);
                ac->ac_live = 1;
        }
        last = vg_now_ms();
        while (!stop_requested) {
                rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
                if (!m) {
                        if (!ac->ac_live && vg_now_ms() - last > 30000) {
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
                        alert_msg(m, ac);
                else if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                        vg_warn("kafka", "%s: %s", topic,
                                rd_kafka_message_errstr(m));
                if (!ac->ac_live && m->partition >= 0 &&
                    m->partition < nparts && high[m->partition] >= 0 &&
                    (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF
                             ? m->offset >= high[m->partition]
                             : m->offset + 1 >= high[m->partition])) {
                        high[m->partition] = -1;
                        if (--left == 0) {
                                print_latest(ac, 1);
                                ac->ac_live = 1;
                        }
                }
                rd_kafka_message_destroy(m);
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

/* Short options that went (one meaning per letter across commands). */
static int moved_option(int opt) {
        static const struct { int c; const char *now; } moved[] = {
                {'g', "--region"}, {'k', "--kommun"}, {'r', "--rule"},
        };
        for (size_t i = 0; i < VG_ARRAY_SIZE(moved); i++)
                if (moved[i].c == opt)
                        return vg_cli_usage_error(
                                "alerts", "-%c is not an option of vigil "
                                "alerts any more (a short option means the "
                                "same in every command); use %s",
                                opt, moved[i].now);
        return vg_cli_usage_error("alerts", "bad option");
}

int vg_cmd_alerts(int argc, char **argv) {
        static const struct option opts[] = {
                {"follow", no_argument, NULL, 'f'},
                {"from-beginning", no_argument, NULL, 'B'},
                {"area", required_argument, NULL, 'a'},
                {"rule", required_argument, NULL, 'R'},
                {"kommun", required_argument, NULL, 'K'},
                {"region", required_argument, NULL, 'G'},
                {"status", required_argument, NULL, 's'},
                {"all", no_argument, NULL, 'A'},
                {"json", no_argument, NULL, 'j'},
                {"help", no_argument, NULL, 'h'},
                {NULL, 0, NULL, 0},
        };
        filt_t f;
        int c, rc = 0, follow = 0, from_beginning = 0;
        vg_conf_t *conf = vg_conf_new();
        vg_codec_t *codec = NULL;
        char errstr[512];
        actx_t ac;
        json_t *latest = NULL;

        memset(&f, 0, sizeof(f));
        f.rule = f.status = -1;
        memset(&ac, 0, sizeof(ac));
        optind = 1;
        while ((c = getopt_long(argc, argv, "fa:s:jh" VG_CLI_CONF_OPTS,
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
                case 'B':
                        from_beginning = 1;
                        break;
                case 'a':
                        if (strcmp(optarg, "SE") && !vg_areas_name(optarg)) {
                                rc = vg_cli_usage_error(
                                        "alerts",
                                        "--area: '%s' is not a kommun (4 "
                                        "digits), a region (2 digits) or SE",
                                        optarg);
                                goto out;
                        }
                        if (f.area_cnt == MAX_AREAS) {
                                rc = vg_cli_usage_error(
                                        "alerts", "--area: at most %d",
                                        MAX_AREAS);
                                goto out;
                        }
                        f.areas[f.area_cnt++] = optarg;
                        break;
                case 'R':
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
                case 'K':
                case 'G':
                        /* (a filter that can match nothing shows nothing,
                         * and says nothing: refused) */
                        if (!vg_all_digits(optarg, c == 'K' ? 4 : 2)) {
                                rc = vg_cli_usage_error(
                                        "alerts", "--%s: '%s' is not %s",
                                        c == 'K' ? "kommun" : "region",
                                        optarg,
                                        c == 'K' ? "a kommun code (4 digits)"
                                                 : "a region code (2 "
                                                   "digits)");
                                goto out;
                        }
                        if (c == 'K')
                                f.kommun = optarg;
                        else
                                f.region = optarg;
                        break;
                case 'A':
                        f.all = 1;
                        break;
                case 'j':
                        f.json = 1;
                        break;
                case 'h':
                        help();
                        goto out;
                default:
                        rc = moved_option(optopt);
                        goto out;
                }
        }
        if (optind < argc) {
                rc = vg_cli_usage_error("alerts", "unexpected argument '%s'",
                                        argv[optind]);
                goto out;
        }
        if (from_beginning && !follow) {
                rc = vg_cli_usage_error("alerts", "--from-beginning needs "
                                        "--follow");
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
        ac.ac_latest = latest;
        ac.ac_seen = json_object();
        ac.ac_topic = vg_conf_str(conf, "topic.alerts");
        ac.ac_w = min_widths;
        signal(SIGINT, on_signal);
        signal(SIGTERM, on_signal);
        if (follow) {
                /* Room for ids as the simulator and HMAC pseudonyms make
                 * them; longer ones are printed whole, out of line. */
                ac.ac_w.place = 24;
                ac.ac_w.patient = 16;
                ac.ac_w.anchor = 12;
                if (follow_topic(conf, &ac, from_beginning, errstr,
                                 sizeof(errstr))) {
                        vg_error("alerts", "%s", errstr);
                        rc = VG_EXIT_FAIL;
                }
                goto out;
        }
        if (vg_kafka_read_topic(conf, ac.ac_topic, 0, &stop_requested,
                                alert_msg, &ac, errstr, sizeof(errstr))) {
                vg_error("alerts", "%s", errstr);
                rc = VG_EXIT_FAIL;
                goto out;
        }
        {
                size_t shown = print_latest(&ac, 1);
                if (!f.json)
                        fprintf(stderr, "%zu of %zu alerts shown\n", shown,
                                json_object_size(latest));
        }
out:
        if (latest)
                json_decref(ac.ac_seen);
        json_decref(latest);
        vg_codec_destroy(codec);
        vg_conf_destroy(conf);
        return rc;
}
