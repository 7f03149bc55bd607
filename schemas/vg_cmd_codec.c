/*
 * vg_cmd_codec.c - `vigil codec`: look at the wire format by hand.
 *
 *   vigil codec schemas            fingerprints and canonical forms
 *   vigil codec encode [FILE]      JSON Lines -> one hex line per record
 *   vigil codec decode [FILE]      hex lines (or --raw bytes) -> JSON Lines
 */
#include "vg_cli.h"
#include "vg_codec.h"
#include "vg_lines.h"
#include "vg_record.h"
#include "vg_record_json.h"
#include "vg_time.h"

#include <ctype.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void help(void) {
        printf("Usage: vigil codec schemas\n"
               "       vigil codec encode [--type T] [FILE]\n"
               "       vigil codec decode [--raw] [FILE]\n"
               "\n"
               "Encodes and decodes Vigil records in the Kafka wire format: "
               "Avro single-object\n"
               "encoding (C3 01, 8-byte little-endian CRC-64-AVRO "
               "fingerprint of the schema's\n"
               "Parsing Canonical Form, Avro binary body).\n"
               "\n"
               "  schemas      list every record type with its fingerprint "
               "and canonical form\n"
               "  encode       read JSON Lines (docs/EVENTS.md) from FILE or stdin, "
               "write one hex line\n"
               "               per record\n"
               "  decode       read hex lines from FILE or stdin, write JSON "
               "Lines; with --raw,\n"
               "               read the whole input as one binary record "
               "(e.g. from kcat -f '%%s')\n"
               "\n"
               "Options:\n"
               "  -t, --type T   record type for encode: admission, discharge, "
               "death,\n"
               "                 sip_created, register_entry (default: the "
               "\"type\" member\n"
               "                 of each line),\n"
               "                 alert, indicator_part, indicator_value\n"
               "  -r, --raw      decode: input is one raw binary record\n"
               "      --allow-personnummer\n"
               "                 encode and show an event or alert even when "
               "a field is a\n"
               "                 personnummer (to make test records for the "
               "DLQ's\n"
               "                 personal-data path; refused by default, "
               "SPEC §8)\n"
               "  -h, --help     this help\n"
               "\n"
               "Exit status: 0 all records converted, 1 some failed, 2 usage "
               "error.\n");
}

static int hexval(int c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        c = tolower(c);
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        return -1;
}

static int do_schemas(vg_codec_t *codec) {
        for (int t = 0; t < VG_REC__CNT; t++)
                printf("%-15s %016llx %s\n", vg_rectype(t)->rt_name,
                       (unsigned long long)vg_codec_fingerprint(codec, t),
                       vg_codec_canonical(codec, t));
        return VG_EXIT_OK;
}

/* --allow-personnummer */
static bool allow_pnr;

/* SPEC §8 for a tool too: the field of an event or alert whose whole
 * value is a personnummer (so not encoded, nor printed decoded), or NULL */
static const char *cell_pnr_field(const char *ind, const char *area,
                                  const char *period, const char *bd) {
        return vg_pnr_in(ind)      ? "indicator"
               : vg_pnr_in(area)   ? "area"
               : vg_pnr_in(period) ? "period"
               : vg_pnr_in(bd)     ? "breakdown"
                                   : NULL;
}

static const char *pnr_field(int type, const vg_anyrec_t *rec) {
        const vg_ivalue_t *iv = &rec->iv;
        const vg_ipart_t *ip = &rec->ip;
        return allow_pnr                 ? NULL
               : VG_REC_IS_EVENT(type) ? vg_event_pnr_field(&rec->ev)
               : type == VG_REC_ALERT ? vg_alert_pnr_field(&rec->al)
               : type == VG_REC_IVALUE
                       ? cell_pnr_field(iv->iv_indicator, iv->iv_area,
                                        iv->iv_period, iv->iv_breakdown)
               : type == VG_REC_IPART
                       ? cell_pnr_field(ip->ip_indicator, ip->ip_area,
                                        ip->ip_period, ip->ip_breakdown)
                       : NULL;
}

static int do_encode(vg_codec_t *codec, FILE *in, const char *name, int type) {
        char *line = NULL, errstr[512];
        ssize_t n;
        long lineno = 0, too_long = 0;
        int failed = 0;
        bool rd_failed = false;
        vg_buf_t out;
        vg_lines_t lr;

        vg_buf_init(&out);
        vg_lines_init(&lr, in, name, VG_LINES_MAX_DEFAULT);
        while ((n = vg_lines_get(&lr, "codec", &line, &too_long,
                                 &rd_failed)) != -1) {
                vg_anyrec_t rec;
                json_error_t jerr;
                json_t *obj;
                vg_err_t err;
                const char *pf;
                int rtype = type;

                lineno = lr.lr_lineno;
                if (n == 0)
                        continue;
                obj = json_loadb(line, (size_t)n, JSON_REJECT_DUPLICATES,
                                 &jerr);
                if (!obj) {
                        vg_log(VG_LOG_ERROR, "codec",
                               "%s:%ld: not valid JSON: %s", name,
                               lineno, vg_json_error_text(jerr.text));
                        failed++;
                        continue;
                }
                if (rtype < 0) {
                        err = vg_event_from_json(obj, &rec.ev, errstr,
                                                 sizeof(errstr));
                        rtype = rec.ev.ev_type;
                } else
                        err = vg_record_from_json(rtype, obj, &rec, errstr,
                                                  sizeof(errstr));
                json_decref(obj);
                if (!err && (pf = pnr_field(rtype, &rec))) {
                        snprintf(errstr, sizeof(errstr), "%s looks like a "
                                 "personnummer: not encoded (personal-data)",
                                 pf);
                        vg_record_clear(rtype, &rec);
                        err = VG_ERR_INVALID;
                } else if (!err) {
                        vg_buf_reset(&out);
                        err = vg_codec_encode(codec, rtype, &rec, &out, errstr,
                                              sizeof(errstr));
                        vg_record_clear(rtype, &rec);
                }
                if (err) {
                        vg_redact_pnr(errstr); /* (it may quote a value) */
                        vg_log(VG_LOG_ERROR, "codec",
                               "%s:%ld: %s", name, lineno, errstr);
                        failed++;
                        continue;
                }
                for (size_t i = 0; i < out.vb_len; i++)
                        printf("%02x", (unsigned char)out.vb_data[i]);
                putchar('\n');
        }
        failed += (int)too_long + rd_failed;
        vg_lines_free(&lr);
        vg_buf_free(&out);
        return failed ? VG_EXIT_FAIL : VG_EXIT_OK;
}

static int decode_one(vg_codec_t *codec, const char *data, size_t len,
                      const char *name, long lineno) {
        vg_anyrec_t rec;
        vg_rectype_t type;
        vg_decode_reason_t reason;
        char errstr[512], *js;
        const char *pf;

        if (vg_codec_decode(codec, data, len, -1, &type, &rec, &reason, errstr,
                            sizeof(errstr))) {
                vg_log(VG_LOG_ERROR, "codec", "%s:%ld: %s: %s", name, lineno,
                       vg_decode_reason_str(reason), errstr);
                return -1;
        }
        if ((pf = pnr_field(type, &rec))) {
                vg_log(VG_LOG_ERROR, "codec", "%s:%ld: personal-data: %s "
                       "looks like a personnummer: not shown", name, lineno,
                       pf);
                vg_record_clear(type, &rec);
                return -1;
        }
        js = vg_record_to_jsonl(type, &rec);
        printf("%s\n", js);
        vg_free(js);
        vg_record_clear(type, &rec);
        return 0;
}

static int do_decode(vg_codec_t *codec, FILE *in, const char *name, int raw) {
        vg_buf_t buf;
        int failed = 0;

        vg_buf_init(&buf);
        if (raw) {
                char chunk[65536];
                size_t n;
                bool big = false;
                while ((n = fread(chunk, 1, sizeof(chunk), in)) > 0 && !big)
                        if (!(big = buf.vb_len + n > VG_LINES_MAX_DEFAULT))
                                vg_buf_append(&buf, chunk, n);
                if (big)
                        vg_log(VG_LOG_ERROR, "codec",
                               "%s: a record longer than %d bytes (the "
                               "default of input.max_bytes)",
                               name, VG_LINES_MAX_DEFAULT);
                /* Part of a record is no record: do not decode it. */
                failed = big || vg_lines_read_error("codec", in, name) ||
                         decode_one(codec, buf.vb_data ? buf.vb_data : "",
                                    buf.vb_len, name, 1) != 0;
        } else {
                char *line = NULL;
                ssize_t n;
                long lineno = 0, too_long = 0;
                bool rd_failed = false;
                vg_lines_t lr;
                /* (hex: two characters a byte) */
                vg_lines_init(&lr, in, name, 2 * VG_LINES_MAX_DEFAULT + 2);
                while ((n = vg_lines_get(&lr, "codec", &line, &too_long,
                                         &rd_failed)) != -1) {
                        int bad = 0;
                        lineno = lr.lr_lineno;
                        while (n > 0 && isspace((unsigned char)line[n - 1]))
                                n--;
                        if (n == 0)
                                continue;
                        vg_buf_reset(&buf);
                        for (ssize_t i = 0; i + 1 < n; i += 2) {
                                int hi = hexval(line[i]), lo = hexval(line[i + 1]);
                                char c;
                                if (hi < 0 || lo < 0) {
                                        bad = 1;
                                        break;
                                }
                                c = (char)(hi * 16 + lo);
                                vg_buf_append(&buf, &c, 1);
                        }
                        if (bad || n % 2) {
                                vg_log(VG_LOG_ERROR, "codec",
                                       "%s:%ld: not a hex string",
                                       name, lineno);
                                failed++;
                                continue;
                        }
                        if (decode_one(codec, buf.vb_data, buf.vb_len, name,
                                       lineno))
                                failed++;
                }
                failed += (int)too_long + rd_failed;
                vg_lines_free(&lr);
        }
        vg_buf_free(&buf);
        return failed ? VG_EXIT_FAIL : VG_EXIT_OK;
}

int vg_cmd_codec(int argc, char **argv) {
        static const struct option opts[] = {
                {"type", required_argument, NULL, 't'},
                {"raw", no_argument, NULL, 'r'},
                {"allow-personnummer", no_argument, NULL, 256},
                {"help", no_argument, NULL, 'h'},
                {NULL, 0, NULL, 0},
        };
        int c, type = -1, raw = 0, rc;
        const char *sub, *path = NULL;
        FILE *in = stdin;
        vg_codec_t *codec;
        char errstr[512];

        optind = 1;
        allow_pnr = false;
        while ((c = getopt_long(argc, argv, "t:rh", opts, NULL)) != -1) {
                switch (c) {
                case 't': {
                        const vg_rectype_desc_t *rt = vg_rectype_by_name(optarg);
                        if (!rt)
                                return vg_cli_usage_error(
                                        "codec", "unknown record type '%s'",
                                        optarg);
                        type = rt->rt_type;
                        break;
                }
                case 'r':
                        raw = 1;
                        break;
                case 256:
                        allow_pnr = true;
                        break;
                case 'h':
                        help();
                        return VG_EXIT_OK;
                default:
                        return vg_cli_usage_error("codec", "bad option");
                }
        }
        if (optind >= argc)
                return vg_cli_usage_error("codec",
                                          "missing subcommand (schemas, "
                                          "encode or decode)");
        sub = argv[optind++];
        if (optind < argc)
                path = argv[optind++];
        if (optind < argc)
                return vg_cli_usage_error("codec", "too many arguments");
        if (strcmp(sub, "schemas") && strcmp(sub, "encode") &&
            strcmp(sub, "decode"))
                return vg_cli_usage_error("codec", "unknown subcommand '%s'",
                                          sub);
        if (!strcmp(sub, "schemas") && path)
                return vg_cli_usage_error("codec", "schemas takes no file "
                                          "('%s')", path);
        if (!(codec = vg_codec_new(errstr, sizeof(errstr)))) {
                fprintf(stderr, "vigil codec: %s\n", errstr);
                return VG_EXIT_FAIL;
        }
        if (path && !(in = vg_lines_open("codec", path))) {
                vg_codec_destroy(codec);
                return VG_EXIT_FAIL;
        }
        if (!strcmp(sub, "schemas"))
                rc = do_schemas(codec);
        else if (!strcmp(sub, "encode"))
                rc = do_encode(codec, in, path ? path : "<stdin>", type);
        else
                rc = do_decode(codec, in, path ? path : "<stdin>", raw);
        if (in != stdin)
                fclose(in);
        vg_codec_destroy(codec);
        return rc;
}
