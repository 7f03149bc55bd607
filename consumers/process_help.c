/*
 * process_help.c - the command line of `vigil process`: --help (what the
 * command does, its modes and options), the options, and the dispatch to
 * file mode (vg_process_file.c) or Kafka mode (process.c).
 */
#include "process_int.h"
#include "vg_cli.h"
#include "vg_consumers.h"
#include "vg_lines.h"
#include "vg_process.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static void help(void) {
        printf("Usage: vigil process [options]                  (Kafka mode)\n"
               "       vigil process --input FILE [options]     (file mode)\n"
               "\n"
               "Computes the alerts (docs/RULES.md) and indicator counts "
               "(docs/INDICATORS.md) per patient.\n"
               "\n"
               "Kafka mode consumes the five input topics as consumer group "
               "group.id, keeps\n"
               "per-partition state in SQLite under state.dir (one "
               "transaction per batch:\n"
               "state, input offsets and outgoing records together), and "
               "publishes alerts,\n"
               "indicator parts and dead letters. It resumes from its "
               "stored offsets after a\n"
               "stop or a crash. Every commit is also logged to the "
               "compacted changelog topic\n"
               "(topic.changelog, default <group.id>.changelog; created if "
               "missing), in one\n"
               "Kafka transaction per partition with the records it "
               "produced; a partition\n"
               "assigned without its state, or with an older copy, is "
               "restored from it first.\n"
               "SIGINT/SIGTERM finish the batch, commit, publish and leave "
               "the group (exit 0);\n"
               "a second one ends the process at once.\n"
               "\n"
               "File mode runs the same engine over JSON Lines events with no "
               "broker and\n"
               "writes the final alerts (one line per alert_id, last status) "
               "and the\n"
               "indicator values of every area (kommun, region, SE) and "
               "period;\n"
               "its alerts include the INDICATOR_BELOW_TARGET that vigil "
               "aggregate would\n"
               "have raised on those values (docs/RULES.md §6).\n"
               "\n"
               "Options:\n"
               "  -i, --input FILE       file mode: read events from FILE "
               "(- for stdin): JSON\n"
               "                         Lines, or an Avro object container "
               "file of event\n"
               "                         records (or a union of them)\n"
               "  -p, --partitions N     file mode: emulate N input "
               "partitions (default 1;\n"
               "                         use the topics' partition count to "
               "match Kafka mode)\n"
               "      --alerts FILE      file mode: write alerts to FILE "
               "(default or -:\n"
               "                         stdout; a file is replaced only "
               "when the run ends)\n"
               "      --indicators FILE  file mode: write indicator values to "
               "FILE (default\n"
               "                         stdout, after the alerts)\n"
               "      --exit-idle SEC    Kafka mode: exit 0 once nothing "
               "arrived for SEC\n"
               "                         seconds, every input topic is "
               "caught up\n"
               "                         (stream.idle_ms) and every record "
               "is published\n"
               VG_CLI_CONF_HELP
               "  -h, --help             this help\n"
               "\n"
               "Configuration keys used: topic.*, group.id, state.dir, "
               "timezone, rules.*,\n"
               "batch.max_events, batch.max_ms, batch.linger_ms, "
               "stream.idle_ms,\n"
               "stream.lead_ms, process.threads, process.queue_max, "
               "parts.interval_ms,\n"
               "changelog.enabled, changelog.linger_ms, "
               "state.cache_patients,\n"
               "state.cleanup_delay_ms, num.standby.replicas, "
               "input.max_bytes,\n"
               "http.listen, health.*, kafka.*; file mode also target.*, "
               "aggregate.alert_preliminary,\n"
               "aggregate.min_denominator (see 'vigil config --doc'). With http.listen set (e.g. "
               "127.0.0.1:9464), Kafka mode serves\n"
               "/metrics (Prometheus), /healthz and /readyz (200 when "
               "assigned, lag at most\n"
               "health.max_lag and outbox at most health.max_outbox; 503 "
               "otherwise).\n"
               "\n"
               "Exit status: 0 done, 1 fatal error (state stays consistent; "
               "restart resumes),\n"
               "2 usage error, 3 file mode finished but some lines were "
               "invalid.\n");
}

/* Whether path (may be NULL) is the file st describes. */
static bool same_inode(const char *path, const struct stat *st) {
        struct stat so;
        return path && !stat(path, &so) && so.st_dev == st->st_dev &&
               so.st_ino == st->st_ino;
}

int vg_cmd_process(int argc, char **argv) {
        static const struct option opts[] = {
                {"input", required_argument, NULL, 'i'},
                {"partitions", required_argument, NULL, 'p'},
                {"alerts", required_argument, NULL, 'A'},
                {"indicators", required_argument, NULL, 'I'},
                {"exit-idle", required_argument, NULL, 'E'},
                {"help", no_argument, NULL, 'h'},
                {NULL, 0, NULL, 0},
        };
        const char *input = NULL, *alerts_path = NULL, *ind_path = NULL;
        int c, rc = 0, partitions = 1, exit_idle = 0;
        vg_conf_t *conf = vg_conf_new();
        long long num;
        static const char *const once[] = {"input", NULL};
        if ((rc = vg_cli_once("process", argc, argv, "i:p:h" VG_CLI_CONF_OPTS,
                              opts, once)))
                goto out;
        optind = 1;
        while ((c = getopt_long(argc, argv, "i:p:h" VG_CLI_CONF_OPTS, opts,
                                NULL)) != -1) {
                if (vg_cli_conf_option(conf, "process", c, optarg, &rc)) {
                        if (rc)
                                goto out;
                        continue;
                }
                switch (c) {
                case 'i':
                        input = optarg;
                        break;
                case 'p':
                        if ((rc = vg_cli_int_arg("process", "partitions",
                                                 optarg, 1, MAX_PARTITIONS,
                                                 &num)))
                                goto out;
                        partitions = (int)num;
                        break;
                case 'A':
                        alerts_path = optarg;
                        break;
                case 'I':
                        ind_path = optarg;
                        break;
                case 'E':
                        if ((rc = vg_cli_int_arg("process", "exit-idle", optarg,
                                                 1, 86400, &num)))
                                goto out;
                        exit_idle = (int)num;
                        break;
                case 'h':
                        help();
                        goto out;
                default:
                        rc = vg_cli_usage_error("process", "bad option");
                        goto out;
                }
        }
        if (optind < argc) {
                rc = vg_cli_usage_error("process", "unexpected argument '%s'",
                                        argv[optind]);
                goto out;
        }
        if ((rc = vg_cli_conf_finish(conf, "process")))
                goto out;
        if (!input && (alerts_path || ind_path || partitions != 1)) {
                rc = vg_cli_usage_error("process",
                                        "--alerts, --indicators and "
                                        "--partitions need --input");
                goto out;
        }
        if (input && exit_idle) {
                rc = vg_cli_usage_error("process", "--exit-idle is for Kafka "
                                        "mode (file mode ends with its "
                                        "input)");
                goto out;
        }
        if (input) {
                FILE *in = stdin;
                vg_cli_out_t ao = {0}, io = {0};
                long invalid = 0;
                struct stat st;
                if (!(in = vg_lines_open("process", input))) {
                        rc = VG_EXIT_FAIL;
                        goto out;
                }
                /* An output over the input (given by name, or on standard
                 * input) would empty it before it is read: refused. */
                if (!fstat(fileno(in), &st) && S_ISREG(st.st_mode) &&
                    (same_inode(alerts_path, &st) ||
                     same_inode(ind_path, &st))) {
                        if (in != stdin)
                                fclose(in);
                        rc = vg_cli_usage_error("process", "an output file is "
                                                "the input %s",
                                                strcmp(input, "-") ? input
                                                                   : "<stdin>");
                        goto out;
                }
                /* Each output is written to a file beside it and renamed
                 * over it at the end: a run that fails or is interrupted
                 * leaves what was there (vg_cli_out_open). */
                if (alerts_path && ind_path &&
                    vg_cli_same_output(alerts_path, ind_path)) {
                        /* (both outputs in one file would overwrite each
                         * other) */
                        rc = vg_cli_usage_error("process", "--alerts and "
                                                "--indicators name the same "
                                                "file %s", alerts_path);
                } else if ((rc = vg_cli_out_open("process", &ao,
                                                 alerts_path)) ||
                           (rc = vg_cli_out_open("process", &io, ind_path))) {
                        ;
                } else {
                        rc = vg_process_file_exiting(
                                conf, in,
                                strcmp(input, "-") ? input : "<stdin>",
                                partitions, ao.co_fp, io.co_fp, &invalid);
                        if (!rc && invalid)
                                rc = 3;
                }
                if (in != stdin)
                        fclose(in);
                /* (each checked: a full disk is not exit 0; kept when the
                 * run finished, exit 3 included) */
                {
                        vg_cli_out_t *const outs[] = {&ao, &io};
                        if (vg_cli_out_end("process", outs, 2,
                                           !rc || rc == 3))
                                rc = VG_EXIT_FAIL;
                }
        } else
                rc = vg_process_kafka(conf, exit_idle);
out:
        vg_conf_destroy(conf);
        return rc;
}
