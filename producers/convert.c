/*
 * convert.c - `vigil convert --from hl7v2|fhir`: HL7 v2.5 ADT messages or
 * FHIR R4 resources from files or standard input to JSON Lines care events
 * on standard output (docs/HOSPITAL.md), no Kafka. Reading, converting and
 * reporting are vg_conv's (shared with `vigil produce --format`); this file
 * has the options and prints the events and the summary.
 */
#include "vg_cli.h"
#include "vg_config.h"
#include "vg_conv.h"
#include "vg_lines.h"
#include "vg_producers.h"
#include "vg_pseudo.h"
#include "vg_record.h"
#include "vg_record_json.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CMD "convert"
/* Exit status when some messages were invalid (as vigil process
 * --input for invalid lines). */
#define EXIT_SOME_INVALID 3

typedef struct conv_out_s {
        vg_conv_t *co_conv;
        int        co_out_err;  /* writing stdout failed */
        int        co_io_err;   /* an input could not be read */
} conv_out_t;

static void help(void) {
        printf("Usage: vigil convert --from hl7v2|fhir [options] [FILE...]\n"
               "\n"
               "Reads hospital messages from the FILEs, or standard input "
               "when there is none\n"
               "or FILE is \"-\", and prints the care events they record as "
               "JSON Lines on\n"
               "standard output, as `vigil produce` and `vigil process "
               "--input` read them.\n"
               "No Kafka is used; `vigil produce --format hl7v2|fhir` "
               "publishes the same\n"
               "events directly.\n"
               "\n"
               "--from hl7v2: HL7 v2.5 ADT messages, separated by MLLP "
               "framing (0x0B ...\n"
               "0x1C 0x0D), by blank lines or by a line starting with MSH "
               "(a frame is one\n"
               "message, as hl7 listen reads it); segments end with CR, LF "
               "or CR LF. A01 gives\n"
               "an admission, A03 a discharge, A11 and A13 cancellations of "
               "them; A08 is\n"
               "skipped (a note on stderr); A40 and every other trigger are "
               "refused.\n"
               "\n"
               "--from fhir: FHIR R4 JSON, one resource or Bundle per line. "
               "An Encounter\n"
               "in-progress gives an admission, finished a discharge, "
               "entered-in-error\n"
               "cancellations of both; a Patient with deceasedDateTime or "
               "a death Observation\n"
               "(LOINC 81956-5, SNOMED CT 419620001) gives a death. Other "
               "resources of a\n"
               "Bundle are read for what the others refer to.\n"
               "\n"
               "The patient's personnummer (PID-3, a Patient identifier) "
               "becomes patient_id =\n"
               "hex(HMAC-SHA256(key, personnummer)) with the key of "
               "pseudonym.key_file, which\n"
               "is required. Event ids come from the message (facility and "
               "visit, or the\n"
               "resource's identifier), so a re-sent message is a duplicate "
               "and a\n"
               "cancellation names the event it cancels. Both formats share "
               "the site mapping\n"
               "file (hl7.mapping_file). Every field is described in "
               "docs/HOSPITAL.md.\n"
               "\n"
               "Options:\n"
               "      --from FORMAT    input format: hl7v2 or fhir "
               "(required)\n"
               "  -k, --key-file FILE  pseudonym key (default: config key "
               "pseudonym.key_file)\n"
               "      --mapping FILE   site mapping file (default: config "
               "key hl7.mapping_file;\n"
               "                       none: the built-in defaults)\n"
               "  -h, --help           this help\n"
               "\n"
               "Configuration:\n"
               VG_CLI_CONF_HELP
               "Keys used: pseudonym.key_file, hl7.mapping_file, timezone "
               "(times without an\n"
               "offset are local time there), input.max_bytes (longest "
               "message or line).\n"
               "\n"
               "A refused message is reported on stderr as\n"
               "  FILE:N (MSH-10 ID): REASON              (hl7v2: N = the "
               "message's number)\n"
               "  FILE:LINE [entry K] (TYPE/ID): REASON   (fhir: K = the "
               "Bundle entry)\n"
               "and the others are still converted. Ends with a summary on "
               "stderr:\n"
               "  convert: M messages|resources read, E events written, S "
               "skipped, I invalid\n"
               "\n"
               "Exit status: 0 everything converted or skipped; 1 a file "
               "(input, key or mapping)\n"
               "could not be read or standard output not written; 2 usage "
               "or configuration\n"
               "error (no pseudonym key, a key file that holds no usable "
               "key, a bad mapping\n"
               "file); 3 some messages or resources were invalid.\n");
}

/* Prints one event as a JSON line. */
static int print_event(void *opaque, const vg_event_t *ev, const char *file,
                       long unit) {
        conv_out_t *co = opaque;
        char *line = vg_record_to_jsonl(ev->ev_type, ev);

        if (!line) {
                vg_log(VG_LOG_ERROR, "convert",
                       "%s:%ld: cannot write the event as JSON",
                       file, unit);
                return 1;
        }
        if (fputs(line, stdout) == EOF || putchar('\n') == EOF)
                co->co_out_err = 1;
        vg_free(line);
        return co->co_out_err ? -1 : 0;
}

static int convert_input(void *opaque, FILE *in, const char *name) {
        conv_out_t *co = opaque;
        if (vg_conv_input(co->co_conv, in, name, print_event, co, NULL) &&
            !co->co_out_err)
                co->co_io_err = 1;
        return co->co_out_err; /* stop after an output error */
}

int vg_cmd_convert(int argc, char **argv) {
        enum { OPT_FROM = 256, OPT_MAPPING };
        static const struct option opts[] = {
                {"from", required_argument, NULL, OPT_FROM},
                {"key-file", required_argument, NULL, 'k'},
                {"mapping", required_argument, NULL, OPT_MAPPING},
                {"help", no_argument, NULL, 'h'},
                {NULL, 0, NULL, 0},
        };
        conv_out_t co = {0};
        vg_conf_t *conf = NULL;
        vg_pseudo_key_t key = {NULL, 0};
        vg_conv_fmt_t fmt;
        const char *from = NULL, *key_file = NULL, *mapping = NULL;
        const vg_conv_stats_t *st;
        int c, rc = 0;

        if (vg_cli_wants_help(argc, argv)) {
                help();
                return VG_EXIT_OK;
        }
        conf = vg_conf_new();
        optind = 1;
        while (!rc && (c = getopt_long(argc, argv, VG_CLI_CONF_OPTS "k:h",
                                       opts, NULL)) != -1) {
                if (vg_cli_conf_option(conf, CMD, c, optarg, &rc))
                        continue;
                switch (c) {
                case OPT_FROM:
                        from = optarg;
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
        if (vg_cli_conf_finish(conf, CMD) && !rc)
                rc = VG_EXIT_USAGE;
        if (rc)
                goto done;
        if (!from) {
                rc = vg_cli_usage_error(CMD, "--from is required (--from "
                                        "hl7v2 or --from fhir)");
                goto done;
        }
        if (vg_conv_fmt_parse(from, &fmt) || fmt == VG_CONV_JSONL) {
                rc = vg_cli_usage_error(CMD, "--from: unknown format \"%.32s\" "
                                        "(use hl7v2 or fhir)", from);
                goto done;
        }
        if ((rc = vg_conv_key_load(CMD, conf, key_file, true, &key)))
                goto done;
        if (!(co.co_conv = vg_conv_new(CMD, fmt, conf, &key, mapping, &rc)))
                goto done;

        if (vg_lines_each_input(CMD, argv + optind, argc - optind, false,
                                convert_input, &co))
                co.co_io_err = 1;
        if (fflush(stdout) == EOF || ferror(stdout))
                co.co_out_err = 1;
        if (co.co_out_err) {
                fprintf(stderr, "vigil %s: writing standard output: %s\n",
                        CMD, strerror(errno));
                co.co_io_err = 1;
        }
        st = vg_conv_stats(co.co_conv);
        /* (standard output not written: its events were made, not
         * written) */
        vg_log(VG_LOG_INFO, "convert", "%ld %s read, %ld events %s, %ld "
               "skipped, %ld invalid", st->cs_read,
               vg_conv_units(co.co_conv), st->cs_events,
               co.co_out_err ? "made (standard output not written)"
                             : "written",
               st->cs_skipped, st->cs_invalid);
        rc = co.co_io_err     ? VG_EXIT_FAIL
             : st->cs_invalid ? EXIT_SOME_INVALID
                              : VG_EXIT_OK;
done:
        vg_conv_destroy(co.co_conv);
        vg_pseudo_key_clear(&key);
        vg_conf_destroy(conf);
        return rc;
}
