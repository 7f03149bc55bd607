/*
 * main.c - the vigil binary: git-style dispatch to subcommands.
 */
#include "vg_app.h"
#include "vg_cli.h"
#include "vg_codec.h"
#include "vg_consumers.h"
#include "vg_ops.h"
#include "vg_producers.h"

#include <librdkafka/rdkafka.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef VIGIL_JEMALLOC
#include <jemalloc/jemalloc.h>

/* jemalloc's options, unless MALLOC_CONF says otherwise: pages freed are
 * given back to the system after about a second instead of ten, and at
 * once instead of through jemalloc's "muzzy" stage (a catch-up frees
 * librdkafka's fetch buffers and a batch's records in bursts). Kafka mode
 * on 825,905 events, this setting alone: peak RSS 437-453 MiB against
 * 479-492, the rate the same (docs/ARCHITECTURE.md, "Memory: freed pages
 * returned"). */
const char *malloc_conf = "dirty_decay_ms:1000,muzzy_decay_ms:0";
#endif

/* The malloc this binary runs on (CMake's VIGIL_ALLOCATOR), for
 * --version: a benchmark figure means little without it. */
static void malloc_name(char *buf, size_t size) {
#ifdef VIGIL_JEMALLOC
        const char *v = NULL;
        size_t len = sizeof(v);
        if (mallctl("version", (void *)&v, &len, NULL, 0) == 0 && v)
                snprintf(buf, size, "jemalloc %.*s", (int)strcspn(v, "-"), v);
        else
                snprintf(buf, size, "jemalloc");
#else
        snprintf(buf, size, "system");
#endif
}

static const vg_cmd_t commands[] = {
        {"demo",     vg_cmd_demo,     "run the whole pipeline on a built-in "
                                      "Kafka mock (no Kafka needed)"},
        {"process",  vg_cmd_process,  "compute alerts and indicator counts "
                                      "(Kafka or file mode)"},
        {"aggregate", vg_cmd_aggregate, "sum indicator parts into values, "
                                      "evaluate targets"},
        {"alerts",   vg_cmd_alerts,   "print alerts from the alerts topic "
                                      "(deduped, filtered)"},
        {"indicators", vg_cmd_indicators, "show indicator values (table, JSON, "
                                      "CSV)"},
        {"report",   vg_cmd_report,   "write a self-contained HTML report of indicators and alerts"},
        {"serve",    vg_cmd_serve,    "serve alerts and indicators over HTTP to "
                                      "callers with tokens (live)"},
        {"topics",   vg_cmd_topics,   "create or check Vigil's topics"},
        {"lag",      vg_cmd_lag,      "show consumer group lag per partition"},
        {"state",    vg_cmd_state,    "inspect, export or import a processor's "
                                      "partition state (state.dir)"},
        {"config",   vg_cmd_config,   "show the effective configuration or "
                                      "its reference"},
        {"codec",    vg_cmd_codec,    "encode/decode Avro single-object records, "
                                      "show schemas"},
        {"produce",  vg_cmd_produce,  "publish care events (JSON Lines, HL7 v2 "
                                      "or FHIR) to Kafka"},
        {"convert",  vg_cmd_convert,  "turn HL7 v2 ADT messages or FHIR R4 "
                                      "resources into JSON Lines care "
                                      "events (no Kafka)"},
        {"hl7",      vg_cmd_hl7,      "hl7 listen: MLLP server, ADT messages "
                                      "to Kafka, ACK after delivery"},
        {"simulate", vg_cmd_simulate, "generate a realistic synthetic population of care events"},
        {NULL, NULL, NULL},
};

/* The command running, for the message below. */
static const char *cmd_name = "";

/* What a command wrote to standard output must have got there: a full disk
 * or /dev/full is a failure, not exit 0 (as coreutils' close_stdout). At
 * exit, so that every way out of every command is covered; a command that
 * reported its own write error has cleared it (vg_cli_close_out). */
static void stdout_at_exit(void) {
        if (vg_cli_close_out(cmd_name, stdout, "standard output"))
                _exit(VG_EXIT_FAIL);
}

static void usage(FILE *fp) {
        fprintf(fp,
                "Usage: vigil <command> [options]\n"
                "\n"
                "Vigil computes end-of-life care indicators and alerts "
                "continuously from\n"
                "care events on Kafka.\n"
                "\n"
                "Commands:\n");
        for (const vg_cmd_t *c = commands; c->vc_name; c++)
                fprintf(fp, "  %-10s %s\n", c->vc_name, c->vc_summary);
        fprintf(fp,
                "\n"
                "Options:\n"
                "  -h, --help     this help\n"
                "  -V, --version  print the version, and the librdkafka, SQLite and malloc\n"
                "                 it runs on\n"
                "\n"
                "Run 'vigil <command> --help' for the options of a command.\n");
}

int main(int argc, char **argv) {
        /* No global memory statistics in SQLite: they take a process-wide
         * mutex on every allocation, which the partitions' connections
         * (one per worker thread in file mode) would contend for. Before
         * any other SQLite call. */
        sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
        atexit(stdout_at_exit);
        if (argc < 2) {
                usage(stderr);
                return VG_EXIT_USAGE;
        }
        if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") ||
            !strcmp(argv[1], "help")) {
                if (argc > 2 && strcmp(argv[1], "help") == 0) {
                        char *hargv[] = {argv[2], "--help", NULL};
                        for (const vg_cmd_t *c = commands; c->vc_name; c++)
                                if (!strcmp(c->vc_name, argv[2]))
                                        return c->vc_main(2, hargv);
                        fprintf(stderr, "vigil: '%s' is not a vigil "
                                "command. See 'vigil --help'.\n", argv[2]);
                        return VG_EXIT_USAGE;
                }
                usage(stdout);
                return VG_EXIT_OK;
        }
        if (!strcmp(argv[1], "-V") || !strcmp(argv[1], "--version") ||
            !strcmp(argv[1], "version")) {
                char mname[64];
                malloc_name(mname, sizeof(mname));
                printf("vigil %s\n"
                       "librdkafka %s, SQLite %s, malloc: %s\n",
                       VIGIL_VERSION, rd_kafka_version_str(),
                       sqlite3_libversion(), mname);
                return VG_EXIT_OK;
        }
        for (const vg_cmd_t *c = commands; c->vc_name; c++)
                if (!strcmp(c->vc_name, argv[1])) {
                        cmd_name = c->vc_name;
                        return c->vc_main(argc - 1, argv + 1);
                }
        fprintf(stderr,
                "vigil: '%s' is not a vigil command. See 'vigil --help'.\n",
                argv[1]);
        return VG_EXIT_USAGE;
}
