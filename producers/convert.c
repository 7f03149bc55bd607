/*
 * convert.c - `vigil convert --from hl7v2`: HL7 v2.5 ADT messages from
 * files or standard input to JSON Lines care events on standard output
 * (docs/HOSPITAL.md), no Kafka. The parsing and the mapping are vg_hl7's;
 * this file reads the input, the site mapping file and the pseudonym key,
 * and prints events, errors and the summary.
 *
 * Errors name a message by "FILE:N (MSH-10 X)", N its number in FILE,
 * never by patient data.
 */
#include "vg_cli.h"
#include "vg_config.h"
#include "vg_hl7.h"
#include "vg_producers.h"
#include "vg_pseudo.h"
#include "vg_record.h"
#include "vg_record_json.h"
#include "vg_time.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CMD "convert"
/* Exit status when some messages were invalid (as vigil process
 * --input for invalid lines). */
#define EXIT_SOME_INVALID 3

typedef struct conv_s {
        vg_hl7_ctx_t  cv_ctx;
        const char   *cv_name;      /* input being read, for messages */
        long          cv_msgno;     /* message number within it */
        long          cv_read;      /* messages read, all inputs */
        long          cv_written;   /* events written */
        long          cv_skipped;   /* A08 */
        long          cv_invalid;   /* refused messages */
        size_t        cv_max;       /* input.max_bytes */
        int           cv_out_err;   /* writing stdout failed */
} conv_t;

static void help(void) {
        printf("Usage: vigil convert --from hl7v2 [options] [FILE...]\n"
               "\n"
               "Reads HL7 v2.5 ADT messages from the FILEs, or standard "
               "input when there is\n"
               "none or FILE is \"-\", and prints the care events they "
               "record as JSON Lines\n"
               "on standard output, as `vigil produce` and `vigil process "
               "--input` read them.\n"
               "No Kafka is used. Messages are separated by MLLP framing "
               "(0x0B ... 0x1C 0x0D),\n"
               "by blank lines or by a line starting with MSH; segments end "
               "with CR, LF or\n"
               "CR LF.\n"
               "\n"
               "A01 gives an admission, A03 a discharge, A11 and A13 "
               "cancellations of them;\n"
               "A08 is skipped (a note on stderr); A40 and every other "
               "trigger are refused.\n"
               "PID-3 (a personnummer) becomes patient_id = hex(HMAC-SHA256"
               "(key, personnummer))\n"
               "with the key of pseudonym.key_file, which is required. The "
               "mapping of every\n"
               "field and the site mapping file (hl7.mapping_file) are "
               "described in\n"
               "docs/HOSPITAL.md.\n"
               "\n"
               "Options:\n"
               "      --from FORMAT    input format: hl7v2 (required; fhir "
               "is not supported yet)\n"
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
               "(HL7 times without\n"
               "an offset are local time there), input.max_bytes (longest "
               "message).\n"
               "\n"
               "A refused message is reported on stderr as\n"
               "  FILE:N (MSH-10 ID): REASON\n"
               "(N = the message's number in FILE) and the others are still "
               "converted. Ends\n"
               "with a summary on stderr:\n"
               "  convert: M messages read, E events written, S skipped, I "
               "invalid\n"
               "\n"
               "Exit status: 0 every message converted or skipped; 1 a file "
               "could not be read\n"
               "or standard output not written; 2 usage or configuration "
               "error (no pseudonym\n"
               "key, a bad mapping file); 3 some messages were invalid.\n");
}

/* ------------------------------------------------------------------ */
/* The mapping file                                                   */
/* ------------------------------------------------------------------ */

static char *trim(char *s) {
        char *e;
        while (*s == ' ' || *s == '\t')
                s++;
        e = s + strlen(s);
        while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' ||
                         e[-1] == '\n'))
                *--e = '\0';
        return s;
}

/* Reads the properties file path into map. Returns 0, VG_EXIT_FAIL (cannot
 * read) or VG_EXIT_USAGE (bad content), after printing the error. */
static int load_mapping(vg_hl7_map_t *map, const char *path) {
        char line[4096], errstr[512];
        long lineno = 0;
        int rc = 0;
        FILE *fp = fopen(path, "r");

        if (!fp) {
                fprintf(stderr, "vigil %s: hl7.mapping_file %s: %s\n", CMD,
                        path, strerror(errno));
                return VG_EXIT_FAIL;
        }
        while (!rc && fgets(line, sizeof(line), fp)) {
                char *s, *eq;
                lineno++;
                if (!strchr(line, '\n') && !feof(fp)) {
                        fprintf(stderr, "vigil %s: %s:%ld: line longer than "
                                "%zu bytes\n", CMD, path, lineno,
                                sizeof(line) - 2);
                        rc = VG_EXIT_USAGE;
                        break;
                }
                s = trim(line);
                if (!*s || *s == '#' || *s == '!')
                        continue;
                if (!(eq = strchr(s, '='))) {
                        fprintf(stderr, "vigil %s: %s:%ld: expected "
                                "key=value\n", CMD, path, lineno);
                        rc = VG_EXIT_USAGE;
                        break;
                }
                *eq = '\0';
                if (vg_hl7_map_set(map, trim(s), trim(eq + 1), errstr,
                                   sizeof(errstr))) {
                        fprintf(stderr, "vigil %s: %s:%ld: %s\n", CMD, path,
                                lineno, errstr);
                        rc = VG_EXIT_USAGE;
                }
        }
        if (!rc && ferror(fp)) {
                fprintf(stderr, "vigil %s: %s: read error\n", CMD, path);
                rc = VG_EXIT_FAIL;
        }
        fclose(fp);
        return rc;
}

/* ------------------------------------------------------------------ */
/* Messages                                                           */
/* ------------------------------------------------------------------ */

static void on_message(void *opaque, const vg_hl7_frame_t *fm) {
        conv_t *cv = opaque;
        char ctrl[VG_HL7_CTRL_BUFSZ], errstr[512];
        vg_event_t ev;
        vg_hl7_res_t res;

        cv->cv_msgno++;
        cv->cv_read++;
        if (fm->fm_too_long) {
                fprintf(stderr, "%s:%ld (MSH-10 ?): message longer than %zu "
                        "bytes (input.max_bytes)\n", cv->cv_name,
                        cv->cv_msgno, cv->cv_max);
                cv->cv_invalid++;
                return;
        }
        cv->cv_ctx.hx_now_ms = vg_now_ms();
        res = vg_hl7_convert(&cv->cv_ctx, fm->fm_data, fm->fm_len, &ev, ctrl,
                             errstr, sizeof(errstr));
        if (res == VG_HL7_SKIPPED) {
                fprintf(stderr, "%s:%ld (MSH-10 %s): note: %s\n", cv->cv_name,
                        cv->cv_msgno, ctrl, errstr);
                cv->cv_skipped++;
                return;
        }
        if (res != VG_HL7_EVENT) {
                fprintf(stderr, "%s:%ld (MSH-10 %s): %s\n", cv->cv_name,
                        cv->cv_msgno, ctrl, errstr);
                cv->cv_invalid++;
                return;
        }
        {
                char *line = vg_record_to_jsonl(ev.ev_type, &ev);
                if (line) {
                        if (fputs(line, stdout) == EOF ||
                            putchar('\n') == EOF)
                                cv->cv_out_err = 1;
                        else
                                cv->cv_written++;
                        vg_free(line);
                } else {
                        fprintf(stderr, "%s:%ld (MSH-10 %s): cannot write the "
                                "event as JSON\n", cv->cv_name, cv->cv_msgno,
                                ctrl);
                        cv->cv_invalid++;
                }
        }
        vg_record_clear(ev.ev_type, &ev);
}

/* Converts one input. Returns 0, or -1 on a read error (reported). */
static int convert_input(conv_t *cv, FILE *in, const char *name) {
        vg_hl7_framer_t fr;
        char buf[65536];
        size_t n;
        int rc = 0;

        cv->cv_name = name;
        cv->cv_msgno = 0;
        vg_hl7_framer_init(&fr, cv->cv_max);
        while ((n = fread(buf, 1, sizeof(buf), in)) > 0 && !cv->cv_out_err)
                vg_hl7_framer_feed(&fr, buf, n, on_message, cv);
        if (ferror(in)) {
                fprintf(stderr, "vigil %s: %s: read error: %s\n", CMD, name,
                        strerror(errno));
                rc = -1;
        } else
                vg_hl7_framer_end(&fr, on_message, cv);
        vg_hl7_framer_free(&fr);
        memset(buf, 0, sizeof(buf)); /* held personal data */
        return rc;
}

/* ------------------------------------------------------------------ */
/* The command                                                        */
/* ------------------------------------------------------------------ */

int vg_cmd_convert(int argc, char **argv) {
        enum { OPT_FROM = 256, OPT_MAPPING };
        static const struct option opts[] = {
                {"from", required_argument, NULL, OPT_FROM},
                {"key-file", required_argument, NULL, 'k'},
                {"mapping", required_argument, NULL, OPT_MAPPING},
                {"help", no_argument, NULL, 'h'},
                {NULL, 0, NULL, 0},
        };
        conv_t cv;
        vg_conf_t *conf = NULL;
        vg_hl7_map_t *map = NULL;
        vg_pseudo_key_t key = {NULL, 0};
        const char *from = NULL, *key_file = NULL, *mapping = NULL;
        char errstr[512];
        int c, rc = 0, nfiles, io_err = 0;

        if (vg_cli_wants_help(argc, argv)) {
                help();
                return VG_EXIT_OK;
        }
        memset(&cv, 0, sizeof(cv));
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
                        rc = vg_cli_usage_error(CMD, "bad option (see "
                                                "'vigil convert --help')");
                }
        }
        if (vg_cli_conf_finish(conf, CMD) && !rc)
                rc = VG_EXIT_USAGE;
        if (rc)
                goto done;
        if (!from) {
                rc = vg_cli_usage_error(CMD, "--from is required (--from "
                                        "hl7v2)");
                goto done;
        }
        if (!strcmp(from, "fhir")) {
                rc = vg_cli_usage_error(CMD, "--from fhir: not supported yet "
                                        "(only --from hl7v2)");
                goto done;
        }
        if (strcmp(from, "hl7v2")) {
                rc = vg_cli_usage_error(CMD, "--from: unknown format \"%.32s\" "
                                        "(use hl7v2)", from);
                goto done;
        }
        if (vg_tz_parse(vg_conf_str(conf, "timezone"), &cv.cv_ctx.hx_tz)) {
                rc = vg_cli_usage_error(CMD, "timezone: not supported");
                goto done;
        }
        cv.cv_max = (size_t)vg_conf_int(conf, "input.max_bytes");

        /* The pseudonym key is required: PID-3 is a personnummer. */
        if (!key_file)
                key_file = vg_conf_str(conf, "pseudonym.key_file");
        if (!key_file || !*key_file) {
                rc = vg_cli_usage_error(
                        CMD, "pseudonym.key_file is not set: a pseudonym key "
                        "is required to turn PID-3 into patient_id (-X "
                        "pseudonym.key_file=FILE or --key-file FILE)");
                goto done;
        }
        {
                int group_readable;
                if (vg_pseudo_key_load(key_file, &key, &group_readable,
                                       errstr, sizeof(errstr))) {
                        fprintf(stderr, "vigil %s: %s\n", CMD, errstr);
                        rc = VG_EXIT_FAIL;
                        goto done;
                }
                if (group_readable)
                        vg_warn(CMD, "pseudonym key file %s is readable by "
                                "group or others; chmod 600 it", key_file);
        }
        map = vg_hl7_map_new();
        if (!mapping)
                mapping = vg_conf_str(conf, "hl7.mapping_file");
        if (mapping && *mapping && (rc = load_mapping(map, mapping)))
                goto done;
        cv.cv_ctx.hx_map = map;
        cv.cv_ctx.hx_key = key.pk_data;
        cv.cv_ctx.hx_keylen = key.pk_len;

        nfiles = argc - optind;
        for (int i = 0; i < (nfiles ? nfiles : 1) && !cv.cv_out_err; i++) {
                const char *path = nfiles ? argv[optind + i] : "-";
                int is_stdin = !strcmp(path, "-");
                FILE *in = is_stdin ? stdin : fopen(path, "rb");
                if (!in) {
                        fprintf(stderr, "vigil %s: %s: %s\n", CMD, path,
                                strerror(errno));
                        io_err = 1;
                        continue;
                }
                if (convert_input(&cv, in, is_stdin ? "<stdin>" : path))
                        io_err = 1;
                if (!is_stdin)
                        fclose(in);
        }
        if (fflush(stdout) == EOF || ferror(stdout))
                cv.cv_out_err = 1;
        if (cv.cv_out_err) {
                fprintf(stderr, "vigil %s: writing standard output: %s\n",
                        CMD, strerror(errno));
                io_err = 1;
        }
        fprintf(stderr, "convert: %ld messages read, %ld events written, %ld "
                "skipped, %ld invalid\n", cv.cv_read, cv.cv_written,
                cv.cv_skipped, cv.cv_invalid);
        rc = io_err ? VG_EXIT_FAIL
             : cv.cv_invalid ? EXIT_SOME_INVALID
                             : VG_EXIT_OK;
done:
        vg_hl7_map_destroy(map);
        vg_pseudo_key_clear(&key);
        vg_conf_destroy(conf);
        return rc;
}
