/*
 * hl7_listen.c - `vigil hl7 listen`: an MLLP server that turns HL7 v2 ADT
 * messages into care events, publishes them with the idempotent producer
 * and acknowledges each message only after Kafka confirmed its event
 * (SPEC §10, docs/HOSPITAL.md §7).
 *
 * The parts (hl7_listen_int.h): this file is the command (help, options,
 * set-up, shutdown); hl7_listen_conn.c the sockets; hl7_listen_loop.c the
 * poll() loop and the ACK queue of each connection; hl7_listen_kafka.c the
 * conversion, the producer and its delivery reports.
 *
 * Every message gets exactly one answer on its connection, in order:
 *   AA  its event is in Kafka (delivery report without error), or there is
 *       nothing to publish (A08);
 *   AE  its event could not be stored within hl7.ack_timeout_ms, or the
 *       producer refused it: the sender should send it again;
 *   AR  it can never be accepted (not HL7, not ADT, A40, a field missing
 *       or invalid, longer than input.max_bytes).
 * The personnummer (PID-3) is only seen by vg_hl7_convert, which replaces
 * it by its pseudonym; logs name a message by its connection, number and
 * redacted MSH-10 only.
 */
#include "hl7_listen_int.h"
#include "vg_cli.h"
#include "vg_conv.h"
#include "vg_hl7_site.h"
#include "vg_producers.h"
#include "vg_time.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* ------------------------------------------------------------------ */
/* Help                                                               */
/* ------------------------------------------------------------------ */

static void help_hl7(void) {
        printf("Usage: vigil hl7 <subcommand> [options]\n"
               "\n"
               "HL7 v2 over the network (docs/HOSPITAL.md).\n"
               "\n"
               "Subcommands:\n"
               "  listen   MLLP server: ADT messages in, care events to "
               "Kafka, ACKs back\n"
               "\n"
               "Run 'vigil hl7 listen --help' for its options. Files of "
               "HL7 messages are\n"
               "converted by 'vigil convert --from hl7v2'.\n");
}

static void help_listen(void) {
        printf("Usage: vigil hl7 listen [options]\n"
               "\n"
               "Accepts HL7 v2 ADT messages over MLLP (0x0B message 0x1C "
               "0x0D) on TCP,\n"
               "turns A01, A03, A11 and A13 into care events exactly as "
               "'vigil convert\n"
               "--from hl7v2' does (same site mapping, same event ids), "
               "publishes each to\n"
               "topic.admissions or topic.discharges with the idempotent "
               "producer of\n"
               "'vigil produce' (acks=all, key patient_id, murmur2), and "
               "answers every\n"
               "message with an HL7 ACK, in order:\n"
               "  AA  after Kafka confirmed the event (its delivery "
               "report), or for an A08\n"
               "      (nothing to publish; MSA-3 says it was skipped)\n"
               "  AE  the event was not confirmed within "
               "hl7.ack_timeout_ms or the producer\n"
               "      refused it: send the message again (a re-sent "
               "message is a duplicate\n"
               "      with the same event_id, never counted twice)\n"
               "  AR  the message can never be accepted: not HL7, not "
               "ADT, A40 and other\n"
               "      triggers, a missing or invalid field, longer than "
               "input.max_bytes\n"
               "AE and AR carry the reason in MSA-3 and an ERR segment. "
               "PID-3 (personnummer)\n"
               "becomes patient_id = hex(HMAC-SHA256(key, personnummer)) "
               "and is never logged.\n"
               "\n"
               "There is no TLS in this command: put stunnel or another "
               "TLS terminator in\n"
               "front of it (docs/HOSPITAL.md §7) and keep hl7.listen on "
               "127.0.0.1.\n"
               "\n"
               "Options:\n"
               "  -l, --listen ADDR    address to accept connections on "
               "(default: config key\n"
               "                       hl7.listen, 127.0.0.1:2575): "
               "host:port, [ipv6]:port,\n"
               "                       :port for every interface; port 0 "
               "picks a free port\n"
               "  -k, --key-file FILE  pseudonym key (default: config key "
               "pseudonym.key_file;\n"
               "                       required)\n"
               "      --mapping FILE   site mapping file (default: config "
               "key hl7.mapping_file;\n"
               "                       none: the built-in defaults)\n"
               "  -h, --help           this help\n"
               "\n"
               "Configuration:\n"
               VG_CLI_CONF_HELP
               "Keys used: hl7.listen, hl7.ack_timeout_ms (also librdkafka's "
               "message.timeout.ms),\n"
               "hl7.max_connections, hl7.idle_timeout_ms, hl7.mapping_file, "
               "pseudonym.key_file,\n"
               "input.max_bytes (longest message), timezone, "
               "topic.admissions,\n"
               "topic.discharges, http.listen (/metrics, /healthz, /readyz), "
               "kafka.*.\n"
               "\n"
               "Logs one line per connection opened and closed (with its "
               "counts), per refused\n"
               "or failed message (AE, AR; -X log.level=debug: every "
               "message) and a summary\n"
               "at exit:\n"
               "  hl7 listen: stopped: M messages (A AA, E AE, R AR), C "
               "connections (N refused)\n"
               "SIGTERM or SIGINT: stop accepting and reading, answer the "
               "messages already\n"
               "received (waiting for their delivery reports), flush the "
               "producer, close;\n"
               "a second signal stops waiting for Kafka (the messages "
               "left get AE).\n"
               "\n"
               "Exit status: 0 stopped by a signal; 1 cannot listen, "
               "reach Kafka's topics\n"
               "(a topic missing), read the key or mapping file, or the "
               "producer failed; 2 usage\n"
               "or configuration error (no key, a key file that holds no "
               "usable key, a bad\n"
               "mapping file).\n");
}

/* ------------------------------------------------------------------ */
/* The command                                                        */
/* ------------------------------------------------------------------ */

static bool ready_cb(void *opaque, char *reason, size_t size) {
        hl_t *hl = opaque;
        int st = atomic_load(&hl->hl_state);
        if (st == 1)
                return true;
        snprintf(reason, size, "%s", st ? "stopping" : "starting");
        return false;
}

static void metrics_init(hl_t *hl) {
        static const char *const msg_labels[] = {"trigger", "ack"};
        static const char *const conn_labels[] = {"result"};
        static const double secs[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                      0.5,   1,    2.5,   5,    10,  30};
        vg_metrics_t *r = hl->hl_reg = vg_metrics_new();

        hl->hm_msgs = vg_metrics_counter(
                r, "vigil_hl7_messages_total",
                "HL7 messages answered, by trigger (A01, A03, A08, A11, A13, "
                "A40 or other) and acknowledgement code (AA, AE, AR).",
                2, msg_labels);
        hl->hm_ack_secs = vg_metrics_histogram(
                r, "vigil_hl7_ack_seconds",
                "Seconds from a message's last byte to its ACK being ready "
                "(for AA: the delivery report).",
                0, NULL, VG_ARRAY_SIZE(secs), secs);
        hl->hm_open = vg_metrics_gauge(r, "vigil_hl7_connections",
                                       "MLLP connections open.", 0, NULL);
        hl->hm_conns = vg_metrics_counter(
                r, "vigil_hl7_connections_total",
                "MLLP connections accepted, or refused over "
                "hl7.max_connections.", 1, conn_labels);
        hl->hm_in_flight = vg_metrics_gauge(
                r, "vigil_hl7_in_flight",
                "Events handed to the producer, waiting for their delivery "
                "report (and their ACK).", 0, NULL);
        hl->hm_ready = vg_metrics_gauge(r, "vigil_ready",
                                        "1 when /readyz answers ready.", 0,
                                        NULL);
}

static int make_pipe(int p[2]) {
        if (pipe(p))
                return -1;
        if (hl_set_flags(p[0]) || hl_set_flags(p[1])) {
                close(p[0]);
                close(p[1]);
                p[0] = p[1] = -1;
                return -1;
        }
        return 0;
}

static int cmd_listen(int argc, char **argv) {
        enum { OPT_MAPPING = 256 };
        static const struct option opts[] = {
                {"listen", required_argument, NULL, 'l'},
                {"key-file", required_argument, NULL, 'k'},
                {"mapping", required_argument, NULL, OPT_MAPPING},
                {"help", no_argument, NULL, 'h'},
                {NULL, 0, NULL, 0},
        };
        hl_t *hl;
        vg_http_t *http = NULL;
        const char *key_file = NULL, *mapping = NULL, *addr = NULL;
        char errstr[512];
        int c, rc = 0, usage;
        struct sigaction sa, old_int, old_term, old_pipe;
        bool signals_set = false;

        if (vg_cli_wants_help(argc, argv)) {
                help_listen();
                return VG_EXIT_OK;
        }
        hl = vg_calloc(1, sizeof(*hl));
        hl->hl_lfd = -1;
        hl->hl_kpipe[0] = hl->hl_kpipe[1] = -1;
        atomic_init(&hl->hl_state, 0);
        vg_buf_init(&hl->hl_enc);
        vg_buf_init(&hl->hl_tmp);
        hl->hl_conf = vg_conf_new();
        optind = 1;
        while (!rc && (c = getopt_long(argc, argv, VG_CLI_CONF_OPTS "l:k:h",
                                       opts, NULL)) != -1) {
                if (vg_cli_conf_option(hl->hl_conf, CMD, c, optarg, &rc))
                        continue;
                switch (c) {
                case 'l':
                        addr = optarg;
                        break;
                case 'k':
                        key_file = optarg;
                        break;
                case OPT_MAPPING:
                        mapping = optarg;
                        break;
                default:
                        rc = vg_cli_usage_error(CMD, "bad option");
                }
        }
        if (vg_cli_conf_finish(hl->hl_conf, CMD) && !rc)
                rc = VG_EXIT_USAGE;
        if (!rc && optind < argc)
                rc = vg_cli_usage_error(CMD, "unexpected argument "
                                        "\"%.64s\"", argv[optind]);
        if (rc)
                goto done;

        if (vg_tz_parse(vg_conf_str(hl->hl_conf, "timezone"),
                        &hl->hl_ctx.hx_tz)) {
                rc = vg_cli_usage_error(CMD, "timezone: not supported");
                goto done;
        }
        hl->hl_max_bytes = (size_t)vg_conf_int(hl->hl_conf, "input.max_bytes");
        hl->hl_ack_ms = (int)vg_conf_int(hl->hl_conf, "hl7.ack_timeout_ms");
        hl->hl_max_conns = (int)vg_conf_int(hl->hl_conf,
                                            "hl7.max_connections");
        hl->hl_idle_ms = vg_conf_int(hl->hl_conf, "hl7.idle_timeout_ms");
        hl->hl_topics[VG_REC_ADMISSION] =
                vg_conf_str(hl->hl_conf, "topic.admissions");
        hl->hl_topics[VG_REC_DISCHARGE] =
                vg_conf_str(hl->hl_conf, "topic.discharges");
        if (!addr)
                addr = vg_conf_str(hl->hl_conf, "hl7.listen");

        if ((rc = vg_conv_key_load(CMD, hl->hl_conf, key_file, true,
                                   &hl->hl_key)))
                goto done;
        hl->hl_map = vg_hl7_map_new();
        if (!mapping)
                mapping = vg_conf_str(hl->hl_conf, "hl7.mapping_file");
        if (mapping && *mapping &&
            (rc = vg_hl7_map_load(hl->hl_map, mapping, CMD)))
                goto done;
        hl->hl_ctx.hx_map = hl->hl_map;
        hl->hl_ctx.hx_key = hl->hl_key.pk_data;
        hl->hl_ctx.hx_keylen = hl->hl_key.pk_len;
        if (!(hl->hl_codec = vg_codec_new(errstr, sizeof(errstr)))) {
                fprintf(stderr, "vigil %s: %s\n", CMD, errstr);
                rc = VG_EXIT_FAIL;
                goto done;
        }

        if ((hl->hl_lfd = hl_listen_on(addr, &usage)) < 0) {
                rc = usage ? VG_EXIT_USAGE : VG_EXIT_FAIL;
                goto done;
        }
        if (make_pipe(hl_sig_pipe) || make_pipe(hl->hl_kpipe)) {
                fprintf(stderr, "vigil %s: pipe: %s\n", CMD, strerror(errno));
                rc = VG_EXIT_FAIL;
                goto done;
        }
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = hl_on_signal;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGINT, &sa, &old_int);
        sigaction(SIGTERM, &sa, &old_term);
        sa.sa_handler = SIG_IGN;
        sigaction(SIGPIPE, &sa, &old_pipe);
        signals_set = true;
        hl_stop_count = 0;

        if ((rc = hl_kafka_setup(hl)) || (rc = hl_check_topics(hl)))
                goto done;
        metrics_init(hl);
        if (vg_conf_str(hl->hl_conf, "http.listen")) {
                if (!(http = vg_http_start(hl->hl_reg,
                                           vg_conf_str(hl->hl_conf,
                                                       "http.listen"),
                                           ready_cb, hl, errstr,
                                           sizeof(errstr)))) {
                        fprintf(stderr, "vigil %s: http.listen: %s\n", CMD,
                                errstr);
                        rc = VG_EXIT_FAIL;
                        goto done;
                }
                vg_info(CMD, "serving /metrics, /healthz, /readyz on %s "
                        "(port %d)", vg_conf_str(hl->hl_conf, "http.listen"),
                        vg_http_port(http));
        }
        atomic_store(&hl->hl_state, 1);
        vg_metric_set(hl->hm_ready, NULL, 1);
        vg_info(CMD, "ready: events to %s and %s, ACK after delivery "
                "(hl7.ack_timeout_ms=%d), at most %d connections",
                hl->hl_topics[VG_REC_ADMISSION],
                hl->hl_topics[VG_REC_DISCHARGE], hl->hl_ack_ms,
                hl->hl_max_conns);

        rc = hl_serve(hl);

        /* Everything answered: what librdkafka still holds is nobody's. */
        if (rd_kafka_flush(hl->hl_rk, 2000) != RD_KAFKA_RESP_ERR_NO_ERROR)
                vg_warn(CMD, "producer not flushed within 2 s");
        if (hl->hl_in_flight > 0)
                hl_purge_all(hl);
        vg_info(CMD, "stopped: %ld messages (%ld AA, %ld AE, %ld AR), %ld "
                "connections (%ld refused)", hl->hl_msgs,
                hl->hl_acks[VG_HL7_AA], hl->hl_acks[VG_HL7_AE],
                hl->hl_acks[VG_HL7_AR], hl->hl_conns_total,
                hl->hl_conns_refused);

done:
        hl_stop_listening(hl);
        vg_http_stop(http);
        if (hl->hl_mainq)
                rd_kafka_queue_destroy(hl->hl_mainq);
        if (hl->hl_rk)
                rd_kafka_destroy(hl->hl_rk);
        while (hl->hl_conns)
                hl_conn_close(hl, hl->hl_conns, "shutting down");
        if (signals_set) {
                sigaction(SIGINT, &old_int, NULL);
                sigaction(SIGTERM, &old_term, NULL);
                sigaction(SIGPIPE, &old_pipe, NULL);
        }
        for (int i = 0; i < 2; i++) {
                if (hl_sig_pipe[i] >= 0)
                        close(hl_sig_pipe[i]);
                hl_sig_pipe[i] = -1;
                if (hl->hl_kpipe[i] >= 0)
                        close(hl->hl_kpipe[i]);
        }
        vg_metrics_destroy(hl->hl_reg);
        vg_codec_destroy(hl->hl_codec);
        vg_hl7_map_destroy(hl->hl_map);
        vg_pseudo_key_clear(&hl->hl_key);
        vg_buf_free(&hl->hl_enc);
        vg_buf_free(&hl->hl_tmp);
        vg_conf_destroy(hl->hl_conf);
        vg_free(hl);
        return rc;
}

/* ------------------------------------------------------------------ */
/* vigil hl7                                                          */
/* ------------------------------------------------------------------ */

int vg_cmd_hl7(int argc, char **argv) {
        if (argc < 2)
                return vg_cli_usage_error("hl7", "missing subcommand "
                                          "(listen)");
        if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") ||
            !strcmp(argv[1], "help")) {
                help_hl7();
                return VG_EXIT_OK;
        }
        if (!strcmp(argv[1], "listen"))
                return cmd_listen(argc - 1, argv + 1);
        return vg_cli_usage_error("hl7", "unknown subcommand \"%.32s\"",
                                  argv[1]);
}
