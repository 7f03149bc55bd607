/*
 * simulate.c - `vigil simulate`: a realistic synthetic population of care
 * events (SPEC §3), as JSON Lines (SPEC §9) or produced to Kafka: options,
 * output, publishing, pacing. The population itself is made by
 * sim_population.c and sim_story.c; the model is described in sim_model.h.
 */
#include "produce_int.h"
#include "sim_model.h"
#include "vg_simulate.h"
#include "vg_areas.h"
#include "vg_kommuner.h"
#include "vg_producers.h"
#include "vg_cli.h"
#include "vg_codec.h"
#include "vg_config.h"
#include "vg_kafka.h"
#include "vg_record.h"
#include "vg_record_json.h"
#include "vg_time.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------------ */
/* The command                                                        */
/* ------------------------------------------------------------------ */

/* How long the end of a run waits for delivery reports (as produce's
 * default --timeout), and how long after SIGINT/SIGTERM. */
#define FLUSH_TIMEOUT_MS        60000
#define SIGNAL_FLUSH_TIMEOUT_MS 2000

/* Set by SIGINT/SIGTERM: the first stops making events and shortens the
 * wait for delivery reports, a second one ends the wait. */
static volatile sig_atomic_t sim_stop;

static void on_signal(int sig) {
        (void)sig;
        sim_stop++;
}

static void help(void) {
        printf("Usage: vigil simulate [options]\n"
               "\n"
               "Generates a realistic synthetic population of care events "
               "(admissions,\n"
               "discharges, deaths, SIPs, Svenska palliativregistret entries) "
               "and writes them\n"
               "as JSON Lines or produces them to Kafka. The same options "
               "always give the same\n"
               "events (byte-identical output). See docs/EVENTS.md for the "
               "records.\n"
               "\n"
               "Population and period:\n"
               "  -n, --patients N         number of patients (default "
               "1000)\n"
               "      --start YYYY-MM-DD   first day of the period, "
               "Europe/Stockholm\n"
               "                           (default 2026-01-01)\n"
               "      --days D             length of the period in days "
               "(default 180)\n"
               "      --seed S             random seed, 0..2^64-1 (default "
               "1)\n"
               "      --kommuner LIST      comma-separated 4-digit kommun "
               "codes, or 2-digit\n"
               "                           region codes for every kommun of "
               "the region in\n"
               "                           the built-in table (default: "
               "04,06,18 =\n"
               "                           Sörmland, Jönköping, Örebro, "
               "weighted by population)\n"
               "\n"
               "Residence and the register:\n"
               "  Every admission and death has the patient's residence "
               "(mostly\n"
               "  ORDINARY_HOME, a quarter NURSING_HOME, some "
               "SHORT_TERM_CARE,\n"
               "  OTHER, UNKNOWN). Most expected deaths get a register_entry "
               "1-40 days\n"
               "  later, some 60-200 days later, 12.5 %% never; a quarter of "
               "unexpected\n"
               "  deaths get one too. Answers are YES at rates near the "
               "national ones,\n"
               "  better or worse by kommun; entries after the period's end "
               "are left out.\n"
               "      --no-register        no register entries (the rest "
               "of the output is the\n"
               "                           same)\n"
               "\n"
               "Stream imperfections:\n"
               "      --out-of-order-hours H\n"
               "                           emit each event up to H hours "
               "late (default 6;\n"
               "                           0: strictly in occurred_at "
               "order)\n"
               "      --dup-rate R         share of events re-sent "
               "identically (default 0.005;\n"
               "                           \"0.5%%\" also accepted)\n"
               "      --cancel-rate R      share of events cancelled by a "
               "later event with\n"
               "                           cancels_event_id (default "
               "0.005)\n"
               "\n"
               "Output:\n"
               "  -o, --out FILE           write JSON Lines to FILE "
               "(default: stdout): written\n"
               "                           beside it and put in place at "
               "the end, so a run\n"
               "                           that fails or is interrupted "
               "leaves FILE as it\n"
               "                           was; with --rate, written in "
               "place as it goes (a\n"
               "                           live feed: what was written "
               "stays)\n"
               "      --publish            produce to Kafka instead: topics "
               "topic.admissions,\n"
               "                           topic.discharges, topic.deaths, "
               "topic.sip,\n"
               "                           topic.register; key\n"
               "                           patient_id; Avro single-object "
               "values; idempotent\n"
               "                           producer, acks=all\n"
               "      --rate R             at most R events per second "
               "(default 0: as fast\n"
               "                           as possible)\n"
               VG_CLI_CONF_HELP
               "  -h, --help               this help\n"
               "\n"
               "Events after the start of today (local time) are left out, "
               "so a period\n"
               "reaching today is cut short. A summary goes to stderr, with "
               "a progress line\n"
               "when stderr is a terminal.\n"
               "\n"
               "Exit status: 0 success, 1 failure (write or delivery errors, "
               "interrupted),\n"
               "2 usage error.\n");
}

static int parse_i64(const char *opt, const char *s, int64_t min, int64_t max,
                     int64_t *out) {
        char *end;
        long long v;
        errno = 0;
        v = strtoll(s, &end, 10);
        if (!*s || *end || errno == ERANGE ||
            !(*s == '-' || (*s >= '0' && *s <= '9')))
                return vg_cli_usage_error("simulate", "%s: '%s' is not a "
                                          "whole number", opt, s);
        if (v < min || v > max)
                return vg_cli_usage_error("simulate", "%s: %lld is not between "
                                          "%lld and %lld", opt, v,
                                          (long long)min, (long long)max);
        *out = v;
        return 0;
}

static int parse_dbl(const char *opt, const char *s, double min, double max,
                     bool percent_ok, double *out) {
        char *end;
        double v;
        errno = 0;
        v = strtod(s, &end);
        if (end != s && percent_ok && !strcmp(end, "%")) {
                v /= 100;
                end++;
        }
        if (!*s || end == s || *end || errno == ERANGE || !isfinite(v))
                return vg_cli_usage_error("simulate", "%s: '%s' is not a "
                                          "number", opt, s);
        if (v < min || v > max)
                return vg_cli_usage_error("simulate", "%s: %s is not between "
                                          "%g and %g", opt, s, min, max);
        *out = v;
        return 0;
}

int vg_sim_parse_seed(const char *cmd, const char *s, uint64_t *out) {
        char *end;
        unsigned long long v;
        errno = 0;
        v = strtoull(s, &end, 10);
        if (!*s || *s == '-' || *s == '+' || *s == ' ' || *end ||
            errno == ERANGE)
                return vg_cli_usage_error(cmd, "--seed: '%s' is not a "
                                          "number from 0 to 2^64-1", s);
        *out = v;
        return 0;
}

/* Strict YYYY-MM-DD, 1900-01-01 .. 9999-12-31. */
static int parse_date(const char *s, int64_t *dayp) {
        int64_t y, yy;
        unsigned m, d, mm, dd;
        if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
                goto bad;
        for (int i = 0; i < 10; i++)
                if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
                        goto bad;
        y = atoi(s);
        m = (unsigned)atoi(s + 5);
        d = (unsigned)atoi(s + 8);
        if (y < 1901 || m < 1 || m > 12 || d < 1 || d > 31)
                goto bad;
        *dayp = vg_days_from_civil(y, m, d);
        vg_civil_from_days(*dayp, &yy, &mm, &dd);
        if (yy != y || mm != m || dd != d)
                goto bad;
        return 0;
bad:
        return vg_cli_usage_error("simulate", "--start: '%s' is not a date "
                                  "YYYY-MM-DD (from 1901)", s);
}

/* --kommuner: appends codes to *listp (deduplicated). */
static int parse_kommuner(const char *arg, char ***listp, int *np) {
        char *copy, *save = NULL, *tok;
        int rc = 0;

        /* (strtok_r skips empty items: "04,,0000" and a comma at either
         * end are most likely a typo) */
        for (const char *p = arg;;) {
                const char *q = strchr(p, ',');
                size_t n = q ? (size_t)(q - p) : strlen(p), i = 0;
                while (i < n && p[i] == ' ')
                        i++;
                if (i == n)
                        return vg_cli_usage_error("simulate", "--kommuner: "
                                                  "an empty item in '%s'",
                                                  arg);
                if (!q)
                        break;
                p = q + 1;
        }
        copy = vg_strdup(arg);
        for (tok = strtok_r(copy, ",", &save); tok && !rc;
             tok = strtok_r(NULL, ",", &save)) {
                size_t len;
                while (*tok == ' ')
                        tok++;
                len = strlen(tok);
                while (len > 0 && tok[len - 1] == ' ')
                        tok[--len] = '\0';
                if (len == 2 && tok[0] >= '0' && tok[0] <= '9' &&
                    tok[1] >= '0' && tok[1] <= '9') {
                        int found = 0;
                        for (size_t i = 0; i < vg_kommuner_cnt; i++) {
                                const char *c = vg_kommuner[i].km_code;
                                int dup = 0;
                                if (strncmp(c, tok, 2))
                                        continue;
                                found = 1;
                                for (int j = 0; j < *np; j++)
                                        dup |= !strcmp((*listp)[j], c);
                                if (dup)
                                        continue;
                                *listp = vg_realloc(*listp, sizeof(**listp) *
                                                            (size_t)(*np + 1));
                                (*listp)[(*np)++] = vg_strdup(c);
                        }
                        if (!found)
                                rc = vg_cli_usage_error(
                                        "simulate", "--kommuner: no kommun of "
                                        "region %s in the built-in table "
                                        "(give 4-digit codes)", tok);
                } else if (is_kommun_code(tok)) {
                        int dup = 0;
                        /* (events for it are still valid: SPEC §3 asks 4
                         * digits; a typo is what this catches) */
                        for (int j = 0; j < *np; j++)
                                dup |= !strcmp((*listp)[j], tok);
                        if (!dup && !vg_areas_is_kommun(tok))
                                vg_warn("simulate", "--kommuner: %s is not a "
                                        "kommun of the built-in table (SCB "
                                        "codes): its events carry no "
                                        "kommun name in reports", tok);
                        if (!dup) {
                                *listp = vg_realloc(*listp, sizeof(**listp) *
                                                            (size_t)(*np + 1));
                                (*listp)[(*np)++] = vg_strdup(tok);
                        }
                } else
                        rc = vg_cli_usage_error(
                                "simulate", "--kommuner: '%s' is not a "
                                "4-digit kommun or 2-digit region code", tok);
        }
        if (!rc && *np == 0)
                rc = vg_cli_usage_error("simulate", "--kommuner: empty list");
        vg_free(copy);
        return rc;
}

/* Kafka output. */
typedef struct sim_pub_s {
        rd_kafka_t *rk;
        vg_codec_t *codec;
        const char *topics[VG_EVENT_TYPES];
        vg_buf_t    buf;
        long        queued;   /* accepted by librdkafka */
        long        reported; /* delivery reports received */
        long        failed;   /* not delivered (delivery reports, errors) */
} sim_pub_t;

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
        sim_pub_t *pub = opaque;
        (void)rk;
        pub->reported++;
        if (!m->err)
                return;
        if (pub->failed++ < 5)
                vg_error("simulate", "delivery to %s failed: %s",
                         rd_kafka_topic_name(m->rkt), rd_kafka_err2str(m->err));
}

/* Creates the producer and checks, as `vigil produce` does, that the
 * broker answers and every topic exists before anything is made: an
 * unreachable broker would otherwise hold each event until
 * message.timeout.ms (300 s). Returns 0, or an exit status after a
 * message. */
static int pub_open(sim_pub_t *pub, vg_conf_t *conf) {
        char errstr[512], bootstrap[512];
        size_t bootstrap_size = sizeof(bootstrap);
        rd_kafka_conf_t *kconf;

        pub->topics[VG_REC_ADMISSION] = vg_conf_str(conf, "topic.admissions");
        pub->topics[VG_REC_DISCHARGE] = vg_conf_str(conf, "topic.discharges");
        pub->topics[VG_REC_DEATH] = vg_conf_str(conf, "topic.deaths");
        pub->topics[VG_REC_SIP] = vg_conf_str(conf, "topic.sip");
        pub->topics[VG_REC_REGISTER] = vg_conf_str(conf, "topic.register");
        if (!(pub->codec = vg_codec_new(errstr, sizeof(errstr)))) {
                fprintf(stderr, "vigil simulate: %s\n", errstr);
                return VG_EXIT_FAIL;
        }
        if (!(kconf = vg_kafka_producer_conf(conf, errstr, sizeof(errstr)))) {
                fprintf(stderr, "vigil simulate: %s\n", errstr);
                return VG_EXIT_USAGE;
        }
        /* No auto-creation: a topic created by a producer gets the broker's
         * default partition count and breaks co-partitioning (SPEC §2). */
        if (vg_kafka_set(kconf, "allow.auto.create.topics", "false", errstr,
                         sizeof(errstr))) {
                fprintf(stderr, "vigil simulate: %s\n", errstr);
                rd_kafka_conf_destroy(kconf);
                return VG_EXIT_FAIL;
        }
        if (rd_kafka_conf_get(kconf, "bootstrap.servers", bootstrap,
                              &bootstrap_size) != RD_KAFKA_CONF_OK)
                snprintf(bootstrap, sizeof(bootstrap), "?");
        rd_kafka_conf_set_dr_msg_cb(kconf, dr_cb);
        rd_kafka_conf_set_opaque(kconf, pub);
        if (!(pub->rk = rd_kafka_new(RD_KAFKA_PRODUCER, kconf, errstr,
                                     sizeof(errstr)))) {
                fprintf(stderr, "vigil simulate: cannot create the Kafka "
                        "producer: %s\n", errstr);
                rd_kafka_conf_destroy(kconf);
                return VG_EXIT_FAIL;
        }
        return produce_check_topics_of("simulate", pub->rk, pub->topics,
                                       bootstrap);
}

static void pub_send(sim_pub_t *pub, const vg_event_t *ev) {
        char errstr[512];
        rd_kafka_resp_err_t err;

        vg_buf_reset(&pub->buf);
        if (vg_codec_encode(pub->codec, ev->ev_type, ev, &pub->buf, errstr,
                            sizeof(errstr))) {
                vg_error("simulate", "event %s: %s", ev->ev_event_id, errstr);
                pub->failed++;
                return;
        }
        for (;;) {
                err = rd_kafka_producev(
                        pub->rk,
                        RD_KAFKA_V_TOPIC(pub->topics[ev->ev_type]),
                        RD_KAFKA_V_KEY(ev->ev_patient_id,
                                       strlen(ev->ev_patient_id)),
                        RD_KAFKA_V_VALUE(pub->buf.vb_data, pub->buf.vb_len),
                        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                        RD_KAFKA_V_END);
                /* A full queue never empties while the broker is gone:
                 * a signal must not wait for it. */
                if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL || sim_stop)
                        break;
                rd_kafka_poll(pub->rk, 100);  /* wait for room */
        }
        if (err) {
                if (pub->failed < 5)
                        vg_error("simulate", "cannot produce to %s: %s",
                                 pub->topics[ev->ev_type],
                                 rd_kafka_err2str(err));
                pub->failed++;
        } else
                pub->queued++;
        rd_kafka_poll(pub->rk, 0);
}

/* Waits for every delivery report (produce_drain): up to FLUSH_TIMEOUT_MS,
 * or SIGNAL_FLUSH_TIMEOUT_MS once a signal has come (a second one stops
 * the wait). */
static void pub_flush(sim_pub_t *pub) {
        produce_drain("simulate", pub->rk, pub->queued, &pub->reported,
                      &pub->failed, FLUSH_TIMEOUT_MS, SIGNAL_FLUSH_TIMEOUT_MS,
                      &sim_stop);
}

/* Frees the producer (pub_flush() first, or what is queued is lost). */
static void pub_close(sim_pub_t *pub) {
        if (pub->rk) {
                /* Whatever is left (an early error) is not waited for. */
                rd_kafka_purge(pub->rk, RD_KAFKA_PURGE_F_QUEUE |
                                                RD_KAFKA_PURGE_F_INFLIGHT);
                rd_kafka_destroy(pub->rk);
        }
        vg_codec_destroy(pub->codec);
        vg_buf_free(&pub->buf);
}

static double mono_now(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Sleeps until `until` (CLOCK_MONOTONIC seconds). */
static void sleep_until(double until) {
        double d = until - mono_now();
        struct timespec ts;
        if (d <= 0)
                return;
        ts.tv_sec = (time_t)d;
        ts.tv_nsec = (long)((d - (double)ts.tv_sec) * 1e9);
        nanosleep(&ts, NULL);
}

int vg_cmd_simulate(int argc, char **argv) {
        enum {
                OPT_START = 256, OPT_DAYS, OPT_SEED, OPT_KOMMUNER, OPT_RATE,
                OPT_PUBLISH, OPT_OOO, OPT_DUP, OPT_CANCEL, OPT_NO_REGISTER
        };
        static const struct option opts[] = {
                {"patients", required_argument, NULL, 'n'},
                {"start", required_argument, NULL, OPT_START},
                {"days", required_argument, NULL, OPT_DAYS},
                {"seed", required_argument, NULL, OPT_SEED},
                {"kommuner", required_argument, NULL, OPT_KOMMUNER},
                {"rate", required_argument, NULL, OPT_RATE},
                {"out", required_argument, NULL, 'o'},
                {"publish", no_argument, NULL, OPT_PUBLISH},
                {"out-of-order-hours", required_argument, NULL, OPT_OOO},
                {"dup-rate", required_argument, NULL, OPT_DUP},
                {"cancel-rate", required_argument, NULL, OPT_CANCEL},
                {"no-register", no_argument, NULL, OPT_NO_REGISTER},
                {"help", no_argument, NULL, 'h'},
                {NULL, 0, NULL, 0},
        };
        vg_sim_opts_t so;
        vg_conf_t *conf = NULL;
        vg_sim_t *sim = NULL;
        sim_pub_t pub;
        vg_sim_stats_t st;
        char **kommuner = NULL, errstr[512];
        int nkommuner = 0, c, rc = VG_EXIT_OK, progress;
        int64_t start_day = vg_days_from_civil(2026, 1, 1), days = 180, v;
        int64_t today;
        double rate = 0, hours = 6, t0, next_progress = 0;
        const char *out_path = NULL;
        bool publish = false;
        FILE *out = NULL;
        vg_cli_out_t oo = {0};
        size_t n, i;
        struct sigaction sa, old_int, old_term;

        if (vg_cli_wants_help(argc, argv)) {
                help();
                return VG_EXIT_OK;
        }
        vg_sim_opts_init(&so);
        memset(&pub, 0, sizeof(pub));
        vg_buf_init(&pub.buf);
        conf = vg_conf_new();
        optind = 1;
        while (!rc && (c = getopt_long(argc, argv, "n:o:h" VG_CLI_CONF_OPTS,
                                       opts, NULL)) != -1) {
                if (vg_cli_conf_option(conf, "simulate", c, optarg, &rc))
                        continue;
                switch (c) {
                case 'n':
                        rc = parse_i64("--patients", optarg, 1,
                                       VG_SIM_MAX_PATIENTS, &so.so_patients);
                        break;
                case OPT_START:
                        rc = parse_date(optarg, &start_day);
                        break;
                case OPT_DAYS:
                        rc = parse_i64("--days", optarg, 1, 36600, &days);
                        break;
                case OPT_SEED:
                        rc = vg_sim_parse_seed("simulate", optarg, &so.so_seed);
                        break;
                case OPT_KOMMUNER:
                        rc = parse_kommuner(optarg, &kommuner, &nkommuner);
                        break;
                case OPT_RATE:
                        rc = parse_dbl("--rate", optarg, 0, 1e9, false, &rate);
                        break;
                case 'o':
                        out_path = optarg;
                        break;
                case OPT_PUBLISH:
                        publish = true;
                        break;
                case OPT_OOO:
                        rc = parse_dbl("--out-of-order-hours", optarg, 0,
                                       24 * 365, false, &hours);
                        break;
                case OPT_DUP:
                        rc = parse_dbl("--dup-rate", optarg, 0, 1, true,
                                       &so.so_dup_rate);
                        break;
                case OPT_CANCEL:
                        rc = parse_dbl("--cancel-rate", optarg, 0, 1, true,
                                       &so.so_cancel_rate);
                        break;
                case OPT_NO_REGISTER:
                        so.so_no_register = true;
                        break;
                case 'h':
                        help();
                        goto done;
                default:
                        rc = vg_cli_usage_error("simulate", "bad option");
                        break;
                }
        }
        if (!rc && optind < argc)
                rc = vg_cli_usage_error("simulate", "unexpected argument '%s'",
                                        argv[optind]);
        if (!rc && publish && out_path)
                rc = vg_cli_usage_error("simulate", "--out and --publish "
                                        "exclude each other");
        /* Always, so that pending -X values are released. */
        if (vg_cli_conf_finish(conf, "simulate") && !rc)
                rc = VG_EXIT_USAGE;
        if (rc)
                goto done;

        so.so_start_ms = local_midnight(start_day);
        so.so_end_ms = local_midnight(start_day + days);
        so.so_window_ms = (int64_t)(hours * (double)HOUR);
        so.so_kommuner = (const char **)kommuner;
        so.so_nkommuner = nkommuner;
        /* Nothing after the start of today: every event is in the past. */
        today = local_midnight(local_day(vg_now_ms()));
        so.so_not_after_ms = today;
        if (so.so_start_ms >= today) {
                rc = vg_cli_usage_error("simulate", "--start: the period "
                                        "must begin before today");
                goto done;
        }
        if (so.so_end_ms > today) {
                char d[VG_TIME_BUFSZ];
                vg_log(VG_LOG_WARN, "simulate",
                       "the period reaches today; events "
                       "from %.10s on are left out (the output changes from "
                       "day to day)", vg_time_format(today + 12 * HOUR, d));
        }
        if (!(sim = vg_sim_new(&so, errstr, sizeof(errstr)))) {
                rc = vg_cli_usage_error("simulate", "%s", errstr);
                goto done;
        }

        if (publish) {
                if ((rc = pub_open(&pub, conf)))
                        goto done;
        } else {
                /* written beside the file and renamed over it at the end:
                 * a run that fails or is interrupted leaves what was
                 * there (a full disk left a cut file in its place) */
                if (rate > 0 && out_path && *out_path &&
                    strcmp(out_path, "-")) { /* (a feed read as it grows) */
                        if (!(oo.co_fp = fopen(out_path, "w"))) {
                                fprintf(stderr, "vigil simulate: %s: %s\n",
                                        out_path, strerror(errno));
                                rc = VG_EXIT_FAIL;
                                goto done;
                        }
                        oo.co_path = out_path;
                } else if ((rc = vg_cli_out_open("simulate", &oo, out_path)))
                        goto done;
                out = oo.co_fp;
        }

        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = on_signal;
        sigemptyset(&sa.sa_mask);
        sim_stop = 0;
        sigaction(SIGINT, &sa, &old_int);
        sigaction(SIGTERM, &sa, &old_term);

        memset(&st, 0, sizeof(st));
        st.ss_patients = so.so_patients;
        progress = isatty(STDERR_FILENO);
        n = vg_sim_count(sim);
        t0 = mono_now();
        for (i = 0; i < n && !sim_stop; i++) {
                vg_event_t ev;
                int flags;

                if (rate > 0)
                        sleep_until(t0 + (double)i / rate);
                flags = vg_sim_event(sim, i, &ev);
                if (publish)
                        pub_send(&pub, &ev);
                else {
                        char *js = vg_record_to_jsonl(ev.ev_type, &ev);
                        fputs(js, out);
                        putc('\n', out);
                        vg_free(js);
                }
                vg_sim_stats_add(&st, &ev, flags);
                vg_record_clear(ev.ev_type, &ev);
                if (progress && (i & 1023) == 0) {
                        double now = mono_now();
                        if (now >= next_progress) {
                                fprintf(stderr, "\rsimulate: %zu events "
                                        "(%d%%)", i, (int)(100.0 * (double)i /
                                                           (double)n));
                                next_progress = now + 0.2;
                        }
                }
        }
        if (progress)
                fputs("\r\033[K", stderr);
        if (sim_stop) {
                vg_log(VG_LOG_WARN, "simulate", "interrupted after %zu of %zu "
                       "events", i, n);
                rc = VG_EXIT_FAIL;
        }
        if (publish) {
                pub_flush(&pub);
                pub_close(&pub);
                pub.rk = NULL;
                pub.codec = NULL;
                if (pub.failed) {
                        vg_log(VG_LOG_ERROR, "simulate", "%ld of %" PRId64
                               " events were not delivered", pub.failed,
                               st.ss_events);
                        rc = VG_EXIT_FAIL;
                }
        } else {
                vg_cli_out_t *const outs[] = {&oo};
                if (vg_cli_out_end("simulate", outs, 1, !rc))
                        rc = VG_EXIT_FAIL;
                out = NULL;
        }
        sigaction(SIGINT, &old_int, NULL);
        sigaction(SIGTERM, &old_term, NULL);
        v = st.ss_events;
        vg_log(VG_LOG_INFO, "simulate",
               "%" PRId64 " patients, %" PRId64 " events (%"
               PRId64 " admissions, %" PRId64 " discharges, %" PRId64
               " deaths, %" PRId64 " sips, %" PRId64 " register entries, %"
               PRId64 " cancellations, %" PRId64 " duplicates)",
               st.ss_patients, v, st.ss_admissions, st.ss_discharges,
               st.ss_deaths, st.ss_sips, st.ss_register,
               st.ss_cancellations, st.ss_duplicates);
done:
        if (out) {
                vg_cli_out_t *const outs[] = {&oo};
                vg_cli_out_end("simulate", outs, 1, false);
        }
        pub_close(&pub);
        vg_sim_destroy(sim);
        for (int k = 0; k < nkommuner; k++)
                vg_free(kommuner[k]);
        vg_free(kommuner);
        vg_conf_destroy(conf);
        return rc;
}
