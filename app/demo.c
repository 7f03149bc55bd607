/*
 * demo.c - `vigil demo`: the whole pipeline with no Kafka installed.
 *
 * Starts librdkafka's built-in mock cluster in this process, creates
 * Vigil's topics on it, simulates a population and produces it, runs the
 * processor and then the aggregator until they are idle, and prints the
 * alerts raised and a table of indicators. The mock cluster is fine for a
 * demo (it keeps at most 5 MB per partition), not for volume.
 */
#define _XOPEN_SOURCE 700 /* nftw */
#include "vg_app.h"
#include "vg_cli.h"
#include "vg_codec.h"
#include "vg_config.h"
#include "vg_consumers.h"
#include "vg_kafka.h"
#include "vg_process.h"
#include "vg_producers.h"
#include "vg_simulate.h"

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <sys/stat.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <librdkafka/rdkafka_mock.h>

static void help(void) {
        printf("Usage: vigil demo [options]\n"
               "\n"
               "Runs Vigil end to end with no Kafka installed: an in-process "
               "Kafka mock\n"
               "cluster, a simulated population produced to it, vigil "
               "process and vigil\n"
               "aggregate on it, then the alerts and indicators. Takes about "
               "20 s.\n"
               "\n"
               "Options:\n"
               "  -n, --patients N   population size (default 300)\n"
               "      --seed S       simulation seed (default 1)\n"
               "      --keep DIR     keep the state files in DIR (default: a "
               "temporary\n"
               "                     directory, removed at the end)\n"
               "  -v, --verbose      show the components' logs\n"
               "  -h, --help         this help\n");
}

typedef struct dr_s {
        int64_t ok, failed;
} dr_t;

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
        dr_t *d = opaque;
        (void)rk;
        if (m->err)
                d->failed++;
        else
                d->ok++;
}

static int produce_population(const vg_conf_t *conf, int64_t patients,
                              uint64_t seed) {
        static const char *keys[VG_EVENT_TYPES] = {
                "topic.admissions", "topic.discharges", "topic.deaths",
                "topic.sip", "topic.register"};
        vg_sim_opts_t o;
        vg_sim_t *sim;
        vg_codec_t *codec;
        rd_kafka_conf_t *kconf;
        rd_kafka_t *rk;
        char errstr[512];
        vg_buf_t buf;
        dr_t d = {0, 0};
        size_t n;

        vg_sim_opts_init(&o);
        o.so_patients = patients;
        o.so_seed = seed;
        if (!(sim = vg_sim_new(&o, errstr, sizeof(errstr))) ||
            !(codec = vg_codec_new(errstr, sizeof(errstr))) ||
            !(kconf = vg_kafka_producer_conf(conf, errstr, sizeof(errstr)))) {
                fprintf(stderr, "vigil demo: %s\n", errstr);
                return -1;
        }
        rd_kafka_conf_set_dr_msg_cb(kconf, dr_cb);
        rd_kafka_conf_set_opaque(kconf, &d);
        if (!(rk = rd_kafka_new(RD_KAFKA_PRODUCER, kconf, errstr,
                                sizeof(errstr)))) {
                fprintf(stderr, "vigil demo: %s\n", errstr);
                return -1;
        }
        vg_buf_init(&buf);
        n = vg_sim_count(sim);
        for (size_t i = 0; i < n; i++) {
                vg_event_t ev;
                rd_kafka_resp_err_t err;
                vg_sim_event(sim, i, &ev);
                vg_buf_reset(&buf);
                if (vg_codec_encode(codec, ev.ev_type, &ev, &buf, errstr,
                                    sizeof(errstr))) {
                        fprintf(stderr, "vigil demo: %s\n", errstr);
                        vg_record_clear(ev.ev_type, &ev);
                        continue;
                }
                do {
                        err = rd_kafka_producev(
                                rk,
                                RD_KAFKA_V_TOPIC(vg_conf_str(conf,
                                                             keys[ev.ev_type])),
                                RD_KAFKA_V_KEY(ev.ev_patient_id,
                                               strlen(ev.ev_patient_id)),
                                RD_KAFKA_V_VALUE(buf.vb_data, buf.vb_len),
                                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                RD_KAFKA_V_END);
                        if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL)
                                rd_kafka_poll(rk, 100);
                } while (err == RD_KAFKA_RESP_ERR__QUEUE_FULL);
                if (err)
                        d.failed++;
                vg_record_clear(ev.ev_type, &ev);
        }
        rd_kafka_flush(rk, 60000);
        d.failed += rd_kafka_outq_len(rk); /* never delivered */
        rd_kafka_destroy(rk);
        vg_buf_free(&buf);
        vg_codec_destroy(codec);
        vg_sim_destroy(sim);
        printf("  %lld events produced (%lld failed) for %lld patients\n",
               (long long)d.ok, (long long)d.failed, (long long)patients);
        return d.failed ? -1 : 0;
}

static int rm_cb(const char *path, const struct stat *sb, int flag,
                 struct FTW *ftw) {
        (void)sb;
        (void)flag;
        (void)ftw;
        return remove(path);
}

int vg_cmd_demo(int argc, char **argv) {
        static const struct option opts[] = {
                {"patients", required_argument, NULL, 'n'},
                {"seed", required_argument, NULL, 'S'},
                {"keep", required_argument, NULL, 'K'},
                {"verbose", no_argument, NULL, 'v'},
                {"help", no_argument, NULL, 'h'},
                {NULL, 0, NULL, 0},
        };
        static const char *topic_keys[] = {
                "topic.admissions", "topic.discharges", "topic.deaths",
                "topic.sip", "topic.register", "topic.alerts",
                "topic.indicator_parts",
                "topic.indicators", "topic.dlq"};
        int64_t patients = 300;
        uint64_t seed = 1;
        const char *keep = NULL;
        int c, verbose = 0, rc = VG_EXIT_FAIL;
        char *end, errstr[512], tmpl[] = "/tmp/vigil-demo-XXXXXX", bs[256];
        const char *dir = NULL;
        rd_kafka_conf_t *mconf;
        rd_kafka_t *mrk = NULL;
        rd_kafka_mock_cluster_t *mc = NULL;
        vg_conf_t *conf = vg_conf_new();
        int64_t t0 = vg_now_ms();

        optind = 1;
        while ((c = getopt_long(argc, argv, "n:vh", opts, NULL)) != -1) {
                switch (c) {
                case 'n':
                        patients = strtoll(optarg, &end, 10);
                        if (*end || end == optarg || patients < 1 ||
                            patients > 100000 || *optarg < '0' ||
                            *optarg > '9') {
                                rc = vg_cli_usage_error(
                                        "demo", "--patients: expected 1..100000"
                                        ", got '%s'", optarg);
                                goto out;
                        }
                        break;
                case 'S':
                        if ((rc = vg_sim_parse_seed("demo", optarg,
                                                    &seed)))
                                goto out;
                        break;
                case 'K':
                        keep = optarg;
                        break;
                case 'v':
                        verbose = 1;
                        break;
                case 'h':
                        help();
                        rc = 0;
                        goto out;
                default:
                        rc = vg_cli_usage_error("demo", "bad option");
                        goto out;
                }
        }
        if (optind < argc) {
                rc = vg_cli_usage_error("demo", "unexpected argument '%s'",
                                        argv[optind]);
                goto out;
        }
        if (keep) {
                if (mkdir(keep, 0700) && errno != EEXIST) {
                        fprintf(stderr, "vigil demo: %s: %s\n", keep,
                                strerror(errno));
                        goto out;
                }
                {
                        /* State from an earlier demo would hold offsets of
                         * another (mock) cluster. */
                        DIR *dp = opendir(keep);
                        struct dirent *de;
                        int used = 0;
                        while (dp && (de = readdir(dp)))
                                used |= strcmp(de->d_name, ".") &&
                                        strcmp(de->d_name, "..");
                        if (dp)
                                closedir(dp);
                        if (used) {
                                rc = vg_cli_usage_error(
                                        "demo", "--keep %s: the directory "
                                        "must be new or empty", keep);
                                goto out;
                        }
                }
                dir = keep;
        } else if (!(dir = mkdtemp(tmpl))) {
                fprintf(stderr, "vigil demo: mkdtemp: %s\n", strerror(errno));
                goto out;
        }
        vg_log_level = verbose ? VG_LOG_INFO : VG_LOG_ERROR;

        printf("Vigil demo: %lld simulated patients, Kafka mock cluster in "
               "this process\n\n", (long long)patients);
        mconf = rd_kafka_conf_new();
        if (rd_kafka_conf_set(mconf, "log_level", "2", errstr,
                              sizeof(errstr)) != RD_KAFKA_CONF_OK ||
            !(mrk = rd_kafka_new(RD_KAFKA_PRODUCER, mconf, errstr,
                                 sizeof(errstr))) ||
            !(mc = rd_kafka_mock_cluster_new(mrk, 1))) {
                fprintf(stderr, "vigil demo: cannot start the mock cluster: "
                                "%s\n", errstr);
                goto out;
        }
        snprintf(bs, sizeof(bs), "%s", rd_kafka_mock_cluster_bootstraps(mc));
        if (vg_conf_set(conf, "kafka.bootstrap.servers", bs, errstr,
                        sizeof(errstr)) ||
            vg_conf_set(conf, "state.dir", dir, errstr, sizeof(errstr)) ||
            vg_conf_set(conf, "kafka.log_level", verbose ? "6" : "2", errstr,
                        sizeof(errstr))) {
                fprintf(stderr, "vigil demo: %s\n", errstr);
                goto out;
        }
        for (size_t i = 0; i < VG_ARRAY_SIZE(topic_keys); i++)
                rd_kafka_mock_topic_create(mc, vg_conf_str(conf, topic_keys[i]),
                                           i < VG_EVENT_TYPES ? 3 : 1, 1);
        {
                char cl[512];
                vg_process_changelog_topic(conf, cl, sizeof(cl));
                if (*cl) /* as many partitions as the inputs */
                        rd_kafka_mock_topic_create(mc, cl, 3, 1);
        }

        printf("1. simulate and produce (vigil simulate --publish)\n");
        if (produce_population(conf, patients, seed))
                goto out;
        printf("2. process (vigil process): per-patient rules, exactly-once "
               "state in %s\n", dir);
        if (vg_process_kafka(conf, 2))
                goto out;
        printf("3. aggregate (vigil aggregate): indicator values and "
               "targets\n\n");
        if (vg_aggregate_kafka(conf, 2))
                goto out;
        fflush(stdout);

        {
                char *a_argv[] = {"alerts", "-b", bs, "-X", "log.level=error",
                                  "-X", "kafka.log_level=2", NULL};
                printf("ALERTS (vigil alerts)\n");
                fflush(stdout);
                if (vg_cmd_alerts(7, a_argv))
                        goto out;
        }
        {
                char *i_argv[] = {"indicators", "-b", bs, "-X",
                                  "log.level=error", "-X", "kafka.log_level=2",
                                  "-a", "SE", "--indicator", "readmission_30d",
                                  "--indicator", "sip_within_deadline",
                                  "--indicator", "eol_admission_30d",
                                  "--indicator", "sip_before_death",
                                  "--indicator", "death_place.HOSPITAL",
                                  "--indicator", "death_place.HOME*", NULL};
                printf("\nINDICATORS, Sverige (vigil indicators -a SE ...)\n");
                fflush(stdout);
                if (vg_cmd_indicators(21, i_argv))
                        goto out;
        }
        fflush(stdout);
        printf("\nDone in %.1f s. Try: vigil indicators --help, vigil alerts "
               "--help,\nand README.md for running against a real Kafka "
               "cluster.\n", (double)(vg_now_ms() - t0) / 1000.0);
        rc = 0;
out:
        if (mc)
                rd_kafka_mock_cluster_destroy(mc);
        if (mrk)
                rd_kafka_destroy(mrk);
        if (!keep && dir == tmpl)
                nftw(tmpl, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
        vg_conf_destroy(conf);
        return rc;
}
