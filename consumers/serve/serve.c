/*
 * serve.c - `vigil serve`: the served view of SPEC §11. Options and
 * configuration, the --hash-token helper, and the run: read the tokens,
 * start the Kafka thread (serve_state.c) and the HTTP server
 * (serve_http.c), reload the tokens on SIGHUP, stop on SIGINT/SIGTERM.
 */
#include "vg_serve.h"
#include "vg_cli.h"
#include "vg_consumers.h"
#include "vg_time.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

static volatile sig_atomic_t stop_requested, reload_requested;

static void on_signal(int sig) {
        if (sig == SIGHUP)
                reload_requested = 1;
        else
                stop_requested = 1;
}

static void help(void) {
        printf("Usage: vigil serve [options]\n"
               "       vigil serve --hash-token [NAME AREAS] < TOKEN\n"
               "\n"
               "An HTTP server for care coordinators and their systems: it "
               "keeps the current\n"
               "alerts (topic.alerts, read from the beginning, so a restart "
               "rebuilds them)\n"
               "and indicator values (topic.indicators) and serves, to "
               "callers with a bearer\n"
               "token, only the kommuner or region the token is entitled "
               "to:\n"
               "\n"
               "  GET /                the caller's current alerts, in "
               "Swedish, updated live\n"
               "                       (a browser logs in with its token "
               "on the page)\n"
               "  GET /alerts          JSON; ?kommun= ?region= ?rule= "
               "?status=ACTIVE|RETRACTED|all\n"
               "  GET /alerts/stream   Server-Sent Events of every alert "
               "change, resumable\n"
               "                       with Last-Event-ID; ?kommun= ?region= "
               "?rule=\n"
               "  GET /indicators      JSON, or CSV with ?format=csv (or "
               "Accept: text/csv);\n"
               "                       ?indicator= ?area= ?period= ?from= "
               "?to= ?breakdown=\n"
               "  GET /report          the page of vigil report; ?lang=sv|en "
               "?from= ?to=\n"
               "  GET /healthz         200 when both topics are read, 503 "
               "before (no token)\n"
               "\n"
               "Tokens: serve.tokens names a file of lines 'SHA256-HEX NAME "
               "AREAS' (AREAS:\n"
               "kommun codes 0484,0480, a region code 04, or SE for every "
               "area). Without a\n"
               "token, or with a wrong one: 401; after serve.auth_burst wrong "
               "ones from one\n"
               "address: 429 until serve.auth_refill_ms per attempt has "
               "passed. SIGHUP reads\n"
               "the file again. Every request is logged to stderr: time, "
               "address, token\n"
               "name, method, route and status. TLS: serve.tls_cert and "
               "serve.tls_key.\n"
               "See docs/SERVE.md.\n"
               "\n"
               "Options:\n"
               "      --hash-token   read a token from standard input and "
               "print its SHA-256\n"
               "                     (with NAME AREAS: the whole line for "
               "serve.tokens)\n"
               VG_CLI_CONF_HELP
               "  -h, --help         this help\n"
               "\n"
               "Exit status: 0 stopped by a signal, 1 error (Kafka, the "
               "port), 2 usage error\n"
               "(options, configuration, the tokens file).\n");
}

/* --hash-token: the token from stdin (one line), its hash or whole line. */
static int hash_token(int argc, char **argv) {
        char line[4096], hex[65], err[256];
        size_t n;
        sv_ent_t ent;
        if (argc != 0 && argc != 2)
                return vg_cli_usage_error(SV_CMD, "--hash-token takes no "
                                          "arguments, or a NAME and AREAS");
        if (argc == 2) {
                if (!sv_token_name_valid(argv[0]))
                        return vg_cli_usage_error(
                                SV_CMD, "--hash-token: expected a name (1 to "
                                "%d letters, digits, '.', '_' or '-', no "
                                "personnummer: the access log writes it)",
                                SV_NAME_MAX);
                if (sv_ent_parse(argv[1], &ent, err, sizeof(err)))
                        return vg_cli_usage_error(SV_CMD, "--hash-token: %s",
                                                  err);
        }
        if (isatty(STDIN_FILENO))
                fprintf(stderr, "vigil serve: type the token and press "
                                "Enter (it is not shown again)\n");
        if (!fgets(line, sizeof(line), stdin))
                return vg_cli_usage_error(SV_CMD, "--hash-token: no token on "
                                          "standard input");
        n = strlen(line);
        while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
                line[--n] = '\0';
        if (n < SV_MIN_TOKEN || strpbrk(line, " \t")) {
                OPENSSL_cleanse(line, sizeof(line));
                return vg_cli_usage_error(
                        SV_CMD, "--hash-token: a token is at least %d "
                        "characters without spaces; make one with e.g. "
                        "'openssl rand -hex 32'", SV_MIN_TOKEN);
        }
        sv_sha256_hex(line, n, hex);
        OPENSSL_cleanse(line, sizeof(line));
        if (argc == 2)
                printf("%s %s %s\n", hex, argv[0], argv[1]);
        else
                printf("%s\n", hex);
        return VG_EXIT_OK;
}

static void reload_tokens(sv_server_t *sv) {
        sv_tokens_t ts, old;
        char err[512];
        if (sv_tokens_load(sv->sv_tokens_path, &ts, err, sizeof(err))) {
                vg_error(SV_CMD, "SIGHUP: %s; keeping the tokens read before",
                         err);
                return;
        }
        pthread_rwlock_wrlock(&sv->sv_tok_lock);
        old = sv->sv_tokens;
        sv->sv_tokens = ts;
        pthread_rwlock_unlock(&sv->sv_tok_lock);
        sv_tokens_free(&old);
        vg_info(SV_CMD, "SIGHUP: read %zu tokens from %s", ts.ts_n,
                sv->sv_tokens_path);
}

int vg_cmd_serve(int argc, char **argv) {
        enum { OPT_HASH = 256 };
        static const struct option opts[] = {
                {"hash-token", no_argument, NULL, OPT_HASH},
                {"help", no_argument, NULL, 'h'},
                {NULL, 0, NULL, 0},
        };
        vg_conf_t *conf = vg_conf_new();
        sv_state_t st;
        sv_server_t sv;
        char errstr[512];
        int c, rc = 0, hash = 0;
        bool state_on = false, http_on = false;
        const char *host;

        memset(&sv, 0, sizeof(sv));
        optind = 1;
        while ((c = getopt_long(argc, argv, "h" VG_CLI_CONF_OPTS, opts,
                                NULL)) != -1) {
                if (vg_cli_conf_option(conf, SV_CMD, c, optarg, &rc)) {
                        if (rc)
                                goto out;
                        continue;
                }
                switch (c) {
                case OPT_HASH:
                        hash = 1;
                        break;
                case 'h':
                        help();
                        goto out;
                default:
                        rc = vg_cli_usage_error(SV_CMD, "bad option");
                        goto out;
                }
        }
        if (hash) {
                rc = hash_token(argc - optind, argv + optind);
                goto out;
        }
        if (optind < argc) {
                rc = vg_cli_usage_error(SV_CMD, "unexpected argument '%s'",
                                        argv[optind]);
                goto out;
        }
        if ((rc = vg_cli_conf_finish(conf, SV_CMD)))
                goto out;
        if (!(sv.sv_tokens_path = vg_conf_str(conf, "serve.tokens")) ||
            !*sv.sv_tokens_path) {
                rc = vg_cli_usage_error(SV_CMD, "serve.tokens is not set: "
                                        "name the tokens file (-X "
                                        "serve.tokens=FILE; docs/SERVE.md)");
                goto out;
        }
        if (sv_tokens_load(sv.sv_tokens_path, &sv.sv_tokens, errstr,
                           sizeof(errstr))) {
                rc = vg_cli_usage_error(SV_CMD, "%s", errstr);
                goto out;
        }
        sv.sv_conf = conf;
        sv.sv_state = &st;
        sv.sv_session_ms = vg_conf_int(conf, "serve.session_hours") *
                           3600 * 1000;
        sv.sv_heartbeat_ms = vg_conf_int(conf, "serve.heartbeat_ms");
        /* (half: the timeout counts whole seconds from the last write) */
        if (2 * sv.sv_heartbeat_ms >
            vg_conf_int(conf, "serve.idle_timeout_ms")) {
                rc = vg_cli_usage_error(
                        SV_CMD, "serve.heartbeat_ms (%lld) must be at most "
                        "half of serve.idle_timeout_ms (%lld): a quiet stream "
                        "would be closed",
                        (long long)sv.sv_heartbeat_ms,
                        (long long)vg_conf_int(conf, "serve.idle_timeout_ms"));
                goto out;
        }
        sv.sv_rl = sv_rl_new((int)vg_conf_int(conf, "serve.auth_burst"),
                             vg_conf_int(conf, "serve.auth_refill_ms"), 4096);
        pthread_rwlock_init(&sv.sv_tok_lock, NULL);
        pthread_mutex_init(&sv.sv_auth_lock, NULL);
        sv_page_init();

        signal(SIGPIPE, SIG_IGN);
        signal(SIGINT, on_signal);
        signal(SIGTERM, on_signal);
        signal(SIGHUP, on_signal);
        /* Ids of this run's changes start above every id of an earlier run
         * (serve_sse.c). */
        sv_state_init(&st, (size_t)vg_conf_int(conf, "serve.history"),
                      vg_now_ms() * 1000);
        state_on = true;
        if (sv_http_start(&sv, errstr, sizeof(errstr))) {
                vg_error(SV_CMD, "%s", errstr);
                rc = strstr(errstr, "serve.") ? VG_EXIT_USAGE : VG_EXIT_FAIL;
                goto out;
        }
        http_on = true;
        host = vg_conf_str(conf, "serve.listen");
        vg_info(SV_CMD, "listening on %s://%s%s%s:%d (%zu tokens from %s)",
                sv.sv_tls ? "https" : "http", strchr(host, ':') ? "[" : "",
                *host ? host : "*", strchr(host, ':') ? "]" : "", sv.sv_port,
                sv.sv_tokens.ts_n, sv.sv_tokens_path);
        if (!sv.sv_tls && strcmp(host, "127.0.0.1") &&
            strcmp(host, "localhost") && strcmp(host, "::1"))
                vg_warn(SV_CMD, "serve.listen=%s without TLS: tokens and "
                        "alerts cross the network in the clear; set "
                        "serve.tls_cert and serve.tls_key, or listen on "
                        "127.0.0.1 behind a TLS reverse proxy "
                        "(docs/SERVE.md)", *host ? host : "*");
        if (sv_state_start(&st, conf, errstr, sizeof(errstr))) {
                vg_error(SV_CMD, "%s", errstr);
                rc = VG_EXIT_FAIL;
                goto out;
        }
        while (!stop_requested) {
                if (reload_requested) {
                        reload_requested = 0;
                        reload_tokens(&sv);
                }
                usleep(100 * 1000);
        }
        vg_info(SV_CMD, "stopping");
out:
        if (http_on)
                sv_http_stop(&sv);
        if (state_on) {
                sv_state_stop(&st);
                sv_state_free(&st);
        }
        if (sv.sv_rl) {
                sv_rl_free(sv.sv_rl);
                pthread_rwlock_destroy(&sv.sv_tok_lock);
                pthread_mutex_destroy(&sv.sv_auth_lock);
        }
        sv_tokens_free(&sv.sv_tokens);
        vg_conf_destroy(conf);
        return rc;
}
