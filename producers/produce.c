/*
 * produce.c - `vigil produce`: publish JSON Lines care events (SPEC §9) to
 * their Kafka topics (SPEC §2) with an idempotent producer.
 *
 * By default every line is produced as soon as it is valid and bad lines
 * are skipped; --strict reads and checks the whole input first and
 * produces nothing if a line is bad.
 *
 * The parts (produce_int.h): this file is the command (options, help,
 * signals, the run and its summary); produce_input.c reads, checks and
 * encodes the input (a personnummer never leaves it); produce_kafka.c is
 * the producer and its delivery reports.
 */
#include "produce_int.h"
#include "vg_cli.h"
#include "vg_lines.h"
#include "vg_producers.h"
#include "vg_time.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_TIMEOUT_S 60.0

/* Set by SIGINT/SIGTERM: the first stops reading input, a second one also
 * stops waiting for delivery reports. */
volatile sig_atomic_t produce_stop_signal, produce_stop_count;

static void on_signal(int sig) {
        produce_stop_signal = sig;
        produce_stop_count++;
}

static void help(void) {
        printf("Usage: vigil produce [options] [FILE...]\n"
               "\n"
               "Publishes care events, one JSON object per line, to the "
               "topic of\n"
               "their type (topic.admissions, topic.discharges, topic.deaths, "
               "topic.sip,\n"
               "topic.register)\n"
               "with key patient_id, Avro single-object encoded, by an "
               "idempotent producer\n"
               "(enable.idempotence=true, acks=all, murmur2 partitioner; "
               "these cannot be\n"
               "overridden). Reads the FILEs in order, or standard input "
               "when there is none\n"
               "or FILE is \"-\". Blank lines are ignored. Every target "
               "topic must exist: they\n"
               "are checked before anything is produced (topics are never "
               "auto-created).\n"
               "The events and their fields are described in "
               "docs/EVENTS.md.\n"
               "\n"
               "--format hl7v2 or fhir reads HL7 v2.5 ADT messages or FHIR R4 "
               "resources\n"
               "instead, turned into events exactly as `vigil convert --from "
               "FORMAT` turns\n"
               "them (docs/HOSPITAL.md; pseudonym.key_file is then required, "
               "the site mapping\n"
               "is hl7.mapping_file or --mapping), so `vigil convert --from "
               "FORMAT | vigil\n"
               "produce` publishes the same events. A refused message or "
               "resource is reported\n"
               "as convert reports it and counts as rejected.\n"
               "\n"
               "A bad line is reported on stderr as FILE:LINE: FIELD: "
               "REASON. By default it\n"
               "is skipped and the other lines are still produced; with "
               "--strict the whole\n"
               "input is checked first and nothing is produced if any line "
               "is bad.\n"
               "\n"
               "Personnummer (docs/EVENTS.md §7): a line may carry "
               "\"personnummer\" instead of\n"
               "\"patient_id\" (YYYYMMDD-XXXX, YYYYMMDDXXXX, YYMMDD-XXXX, "
               "YYMMDD+XXXX for\n"
               "100 years or older, or YYMMDDXXXX; samordningsnummer "
               "accepted). With a key\n"
               "file, patient_id = lowercase hex(HMAC-SHA256(key, "
               "YYYYMMDDXXXX)); the\n"
               "personnummer itself is never published, logged or printed. "
               "The key is the\n"
               "file's bytes without one trailing newline, at least %d "
               "bytes.\n"
               "\n"
               "Options:\n"
               "      --format FORMAT  input format: jsonl (default), hl7v2 "
               "or fhir\n"
               "  -k, --key-file FILE  pseudonym key (default: config key "
               "pseudonym.key_file)\n"
               "      --mapping FILE   hl7v2, fhir: site mapping file "
               "(default: config key\n"
               "                       hl7.mapping_file; none: the built-in "
               "defaults)\n"
               "      --strict         produce nothing unless every line is "
               "valid\n"
               "      --dry-run        check and encode only; no broker "
               "needed (with\n"
               "                       -X log.level=debug: one line per valid "
               "event with its\n"
               "                       topic and the SHA-256 of its encoded "
               "value)\n"
               "      --timeout SECS   wait at most SECS after the input ends "
               "for delivery\n"
               "                       reports (default %.0f); undelivered "
               "messages count\n"
               "                       as failed\n"
               "  -h, --help           this help\n"
               "\n"
               "Configuration:\n"
               VG_CLI_CONF_HELP
               "\n"
               "Prints a summary on stderr:\n"
               "  produce: N delivered, F failed, R rejected\n"
               "(rejected = invalid lines, messages or resources, failed = "
               "valid events Kafka\n"
               "did not accept). With hl7v2 and fhir the conversion's "
               "summary comes first:\n"
               "  produce: M messages|resources read, E events, S skipped, "
               "I invalid\n"
               "Use -X log.level=debug for one line per delivered event.\n"
               "\n"
               "Exit status: 0 every event delivered and no line rejected; "
               "1 a line was\n"
               "rejected, a delivery failed, a file could not be read, a "
               "topic is missing or\n"
               "the broker is unreachable; 2 usage or configuration "
               "error.\n",
               VG_PSEUDO_KEY_MIN, DEFAULT_TIMEOUT_S);
}

/* ------------------------------------------------------------------ */
/* The command                                                        */
/* ------------------------------------------------------------------ */

static int parse_timeout(const char *s, double *out) {
        char *end;
        double v;
        errno = 0;
        v = strtod(s, &end);
        if (errno || end == s || *end || !(v > 0) || v > 86400)
                return -1;
        *out = v;
        return 0;
}

int vg_cmd_produce(int argc, char **argv) {
        enum { OPT_FORMAT = 256, OPT_MAPPING };
        static const struct option opts[] = {
                {"format", required_argument, NULL, OPT_FORMAT},
                {"mapping", required_argument, NULL, OPT_MAPPING},
                {"key-file", required_argument, NULL, 'k'},
                {"strict", no_argument, NULL, 'S'},
                {"dry-run", no_argument, NULL, 'N'},
                {"timeout", required_argument, NULL, 'T'},
                {"help", no_argument, NULL, 'h'},
                {NULL, 0, NULL, 0},
        };
        prod_t pr = {0};
        const char *key_file = NULL, *mapping = NULL, *format = NULL;
        char errstr[512], bootstrap[512];
        int c, rc = 0, nfiles, interrupted = 0;
        struct sigaction sa = {0}, old_int, old_term;

        pr.pr_timeout_s = DEFAULT_TIMEOUT_S;
        pr.pr_conf = vg_conf_new();
        vg_buf_init(&pr.pr_enc);

        optind = 1;
        while (!rc && (c = getopt_long(argc, argv,
                                       VG_CLI_CONF_OPTS "k:h", opts,
                                       NULL)) != -1) {
                if (vg_cli_conf_option(pr.pr_conf, CMD, c, optarg, &rc))
                        continue;
                switch (c) {
                case OPT_FORMAT:
                        format = optarg;
                        break;
                case OPT_MAPPING:
                        mapping = optarg;
                        break;
                case 'k':
                        key_file = optarg;
                        break;
                case 'S':
                        pr.pr_strict = 1;
                        break;
                case 'N':
                        pr.pr_dry_run = 1;
                        break;
                case 'T':
                        if (parse_timeout(optarg, &pr.pr_timeout_s))
                                rc = vg_cli_usage_error(
                                        CMD, "--timeout: expected seconds "
                                        "(a number > 0, at most 86400)");
                        break;
                case 'h':
                        help();
                        rc = -1;
                        break;
                default:
                        /* (optopt of a long option is its value, over
                         * 255: strchr would find the string's NUL) */
                        rc = optopt > 0 && optopt < 256 &&
                                             strchr("snt", optopt)
                                     ? vg_cli_usage_error(
                                               CMD,
                                               "-%c is not an option of vigil "
                                               "produce any more (a short "
                                               "option means the same in "
                                               "every command); use %s",
                                               optopt,
                                               optopt == 's' ? "--strict"
                                               : optopt == 'n'
                                                       ? "--dry-run"
                                                       : "--timeout")
                                     : vg_cli_usage_error(CMD, "bad option");
                }
        }
        /* Always run finish: it frees the pending -X options. */
        if (vg_cli_conf_finish(pr.pr_conf, CMD) && !rc)
                rc = VG_EXIT_USAGE;
        if (rc == -1) {
                rc = VG_EXIT_OK;
                goto done;
        }
        if (rc || (rc = produce_check_kafka_overrides(pr.pr_conf)))
                goto done;
        if (format && vg_conv_fmt_parse(format, &pr.pr_fmt)) {
                rc = vg_cli_usage_error(CMD, "--format: unknown format "
                                        "\"%.32s\" (use jsonl, hl7v2 or "
                                        "fhir)", format);
                goto done;
        }
        if (mapping && pr.pr_fmt == VG_CONV_JSONL) {
                rc = vg_cli_usage_error(CMD, "--mapping is for --format "
                                        "hl7v2 or fhir");
                goto done;
        }

        /* Every input must be readable before anything is produced. */
        nfiles = argc - optind;
        if (vg_lines_check_inputs(CMD, argv + optind, nfiles)) {
                rc = VG_EXIT_FAIL;
                goto done;
        }

        /* Hospital formats carry personnummer: the key is required. */
        if ((rc = vg_conv_key_load(CMD, pr.pr_conf, key_file,
                                   pr.pr_fmt != VG_CONV_JSONL, &pr.pr_key)))
                goto done;
        if (pr.pr_fmt != VG_CONV_JSONL &&
            !(pr.pr_conv = vg_conv_new(CMD, pr.pr_fmt, pr.pr_conf,
                                       &pr.pr_key, mapping, &rc)))
                goto done;
        if (!(pr.pr_codec = vg_codec_new(errstr, sizeof(errstr)))) {
                fprintf(stderr, "vigil %s: %s\n", CMD, errstr);
                rc = VG_EXIT_FAIL;
                goto done;
        }
        pr.pr_topics[VG_REC_ADMISSION] =
                vg_conf_str(pr.pr_conf, "topic.admissions");
        pr.pr_topics[VG_REC_DISCHARGE] =
                vg_conf_str(pr.pr_conf, "topic.discharges");
        pr.pr_topics[VG_REC_DEATH] = vg_conf_str(pr.pr_conf, "topic.deaths");
        pr.pr_topics[VG_REC_SIP] = vg_conf_str(pr.pr_conf, "topic.sip");
        pr.pr_topics[VG_REC_REGISTER] =
                vg_conf_str(pr.pr_conf, "topic.register");
        pr.pr_now_ms = vg_now_ms();
        pr.pr_today = vg_local_day(VG_TZ_STOCKHOLM, pr.pr_now_ms);

        if (!pr.pr_dry_run &&
            ((rc = produce_kafka_setup(&pr, bootstrap, sizeof(bootstrap))) ||
             (rc = produce_check_topics(&pr, bootstrap))))
                goto done;

        /* SIGINT/SIGTERM: stop reading, still wait for what was sent. No
         * SA_RESTART, so a read from a terminal or pipe returns. */
        sa.sa_handler = on_signal;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGINT, &sa, &old_int);
        sigaction(SIGTERM, &sa, &old_term);

        if (vg_lines_each_input(CMD, argv + optind, nfiles, pr.pr_strict,
                                produce_read_one, &pr) ||
            pr.pr_read_err)
                rc = VG_EXIT_FAIL;
        if (pr.pr_conv) {
                /* Refused messages and resources are rejected input; the
                 * events check_encode refused are counted already. */
                const vg_conv_stats_t *st = vg_conv_stats(pr.pr_conv);
                pr.pr_rejected += st->cs_invalid - pr.pr_conv_refused;
                vg_log(VG_LOG_INFO, CMD, "%ld %s read, %ld events, %ld "
                       "skipped, %ld invalid", st->cs_read,
                       vg_conv_units(pr.pr_conv), st->cs_events,
                       st->cs_skipped, st->cs_invalid);
        }
        if (produce_stop_signal) {
                vg_warn(CMD, "interrupted (signal %d): no more input read",
                        (int)produce_stop_signal);
                interrupted = 1;
        }

        if (pr.pr_strict && (rc || pr.pr_rejected)) {
                if (!pr.pr_dry_run)
                        fprintf(stderr, "vigil %s: --strict: nothing "
                                "produced\n", CMD);
        } else if (pr.pr_strict && !pr.pr_dry_run) {
                for (size_t i = 0; i < pr.pr_pending_cnt && !pr.pr_fatal &&
                                   !produce_stop_signal;
                     i++) {
                        pending_t *pd = &pr.pr_pending[i];
                        produce_one(&pr, pd->pd_type, pd->pd_key, pd->pd_value,
                                    pd->pd_len, &pd->pd_src);
                }
        }
        if (pr.pr_rk)
                produce_flush_all(&pr);
        sigaction(SIGINT, &old_int, NULL);
        sigaction(SIGTERM, &old_term, NULL);

        if (pr.pr_dry_run)
                vg_log(VG_LOG_INFO, CMD, "dry run: %ld valid, %ld rejected "
                       "(nothing produced)", pr.pr_valid, pr.pr_rejected);
        else
                vg_log(pr.pr_failed || pr.pr_rejected ? VG_LOG_WARN
                                                      : VG_LOG_INFO,
                       CMD, "%ld delivered, %ld failed, %ld rejected",
                       pr.pr_delivered, pr.pr_failed, pr.pr_rejected);
        if (rc || interrupted || pr.pr_failed || pr.pr_rejected || pr.pr_fatal)
                rc = VG_EXIT_FAIL;

done:
        if (pr.pr_rk)
                rd_kafka_destroy(pr.pr_rk);
        produce_free_pending(&pr);
        vg_conv_destroy(pr.pr_conv);
        vg_codec_destroy(pr.pr_codec);
        vg_pseudo_key_clear(&pr.pr_key);
        vg_buf_free(&pr.pr_enc);
        vg_conf_destroy(pr.pr_conf);
        return rc;
}
