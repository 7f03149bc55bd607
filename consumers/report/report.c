/*
 * report.c - `vigil report`: one self-contained HTML page of indicator
 * values (SPEC §6) and current ACTIVE alerts (SPEC §5), for people who
 * follow up care and have no dashboard.
 *
 * Data comes from the compacted indicators topic (latest value per key
 * "indicator|area|period") and the alerts topic (deduped by alert_id, the
 * last status wins), as `vigil indicators` and `vigil alerts` read them, or
 * from JSON Lines files (--indicators, --alerts) as `vigil process --input`
 * writes them.
 *
 * The page loads nothing: inline CSS, inline SVG charts drawn here, no
 * script; a Content-Security-Policy of default-src 'none' makes a browser
 * refuse (and report) anything external. Every chart has <title>/<desc> and
 * a data table behind <details>. All text is HTML-escaped.
 *
 * This file is the command (options, sources, writing the page);
 * report_model.h lists the other parts.
 */
#include "report_model.h"
#include "vg_cli.h"
#include "vg_consumers.h"
#include "vg_record_json.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <jansson.h>


/* ------------------------------------------------------------------------
 * Command
 */

static void help(void) {
        printf("Usage: vigil report --html FILE [options]\n"
               "\n"
               "Writes one self-contained HTML page (inline CSS and SVG, no "
               "script, nothing\n"
               "loaded from elsewhere) with a chart per indicator "
               "and area - Sverige\n"
               "and each region, kommuner in tables - and a table of the "
               "current ACTIVE\n"
               "alerts with counts by rule. Targets (target.<indicator>) "
               "are drawn as dashed\n"
               "lines; values with fewer than aggregate.min_denominator "
               "cases are marked\n"
               "uncertain. Values of months not settled yet (complete = "
               "false) are\n"
               "preliminary: drawn hollow, labelled, never judged against "
               "the target; the\n"
               "overview shows the latest settled month of each indicator. "
               "Months whose\n"
               "value rests on history before the first event (history_"
               "complete = false)\n"
               "are shaded. Every chart has a text description and a data "
               "table. The\n"
               "indicators are described in docs/INDICATORS.md. The page is "
               "in Swedish\n"
               "unless --lang en (numbers keep the decimal point).\n"
               "\n"
               "Indicator values come from the indicators topic "
               "(topic.indicators), alerts\n"
               "from the alerts topic (topic.alerts), each unless a file is "
               "given.\n"
               "\n"
               "Options:\n"
               "      --html FILE        write the page to FILE ('-': "
               "standard output)\n"
               "      --indicators FILE  read indicator values from a JSON "
               "Lines file, as\n"
               "                         written by vigil process --input "
               "... --indicators\n"
               "      --alerts FILE      read alerts from a JSON Lines file, "
               "as written by\n"
               "                         vigil process --input ... --alerts "
               "or vigil alerts --json\n"
               "  -a, --area A           only area A (repeatable): SE, a "
               "region (04; its\n"
               "                         kommuner are listed in the tables) "
               "or a kommun\n"
               "                         (0484; gets its own charts); alerts "
               "of those areas\n"
               "      --from YYYY-MM     only months from this one on\n"
               "      --to YYYY-MM       only months up to this one\n"
               "      --lang LANG        language of the page: sv "
               "(default) or en\n"
               "      --title TEXT       page title (default: \"Vigil "
               "\u2013 vård i livets slut\",\n"
               "                         with --lang en \"Vigil \u2013 "
               "end-of-life care report\")\n"
               "      --public           a page to share outside the care "
               "team\n"
               "                         (docs/INDICATORS.md section 7): "
               "values are hidden\n"
               "                         as in vigil indicators --public\n"
               "                         (publish.min_count), shown as "
               "'..', and the page has\n"
               "                         no patient-level data: no alerts "
               "are read or listed\n"
               VG_CLI_CONF_HELP
               "  -h, --help             this help\n"
               "\n"
               "Exit status: 0 ok, 1 error (an input could not be read, or "
               "had invalid\n"
               "lines: they are reported and skipped, the page is still "
               "written), 2 usage\n"
               "error.\n");
}

static void kafka_source(const rep_t *r, const char *topic, char *buf,
                         size_t size) {
        const vg_conf_t *conf = r->rp_conf;
        char errstr[256], bs[256] = "?";
        size_t bsz = sizeof(bs);
        rd_kafka_conf_t *kc = vg_kafka_conf(conf, errstr, sizeof(errstr));
        if (kc) {
                if (rd_kafka_conf_get(kc, "bootstrap.servers", bs, &bsz) !=
                    RD_KAFKA_CONF_OK)
                        snprintf(bs, sizeof(bs), "?");
                rd_kafka_conf_destroy(kc);
        }
        snprintf(buf, size, rp_tf(r, "Kafka topic %s at %s"), topic, bs);
}

/* Writes the rp_page to path, whole or not at all (vg_cli_out_open: a
 * file beside it renamed over it; standard output, a device or a FIFO
 * directly). */
static int write_page(const rep_t *r, const char *path) {
        vg_cli_out_t o;
        vg_cli_out_t *const outs[] = {&o};
        if (vg_cli_out_open(CMD, &o, path))
                return -1;
        fwrite(r->rp_out.vb_data, 1, r->rp_out.vb_len, o.co_fp);
        return vg_cli_out_end(CMD, outs, 1, true) ? -1 : 0;
}

enum { OPT_HTML = 256, OPT_IND, OPT_ALERTS, OPT_FROM, OPT_TO, OPT_TITLE,
       OPT_PUBLIC, OPT_LANG };

int vg_cmd_report(int argc, char **argv) {
        static const struct option opts[] = {
                {"html", required_argument, NULL, OPT_HTML},
                {"indicators", required_argument, NULL, OPT_IND},
                {"alerts", required_argument, NULL, OPT_ALERTS},
                {"area", required_argument, NULL, 'a'},
                {"from", required_argument, NULL, OPT_FROM},
                {"to", required_argument, NULL, OPT_TO},
                {"title", required_argument, NULL, OPT_TITLE},
                {"public", no_argument, NULL, OPT_PUBLIC},
                {"lang", required_argument, NULL, OPT_LANG},
                {"help", no_argument, NULL, 'h'},
                {NULL, 0, NULL, 0},
        };
        rep_t r;
        const char *html = NULL, *ind_file = NULL, *al_file = NULL,
                   *title = NULL;
        char errstr[512];
        int c, rc = 0;
        long bad = 0, n;

        memset(&r, 0, sizeof(r));
        r.rp_conf = vg_conf_new();
        r.rp_lang = "sv";
        vg_buf_init(&r.rp_out);
        static const char *const once[] = {"alerts", "indicators", NULL};
        if ((rc = vg_cli_once(CMD, argc, argv, "a:h" VG_CLI_CONF_OPTS,
                              opts, once)))
                goto out;
        optind = 1;
        while ((c = getopt_long(argc, argv, "a:h" VG_CLI_CONF_OPTS, opts,
                                NULL)) != -1) {
                if (vg_cli_conf_option(r.rp_conf, CMD, c, optarg, &rc)) {
                        if (rc)
                                goto out;
                        continue;
                }
                switch (c) {
                case OPT_HTML:
                        html = optarg;
                        if (!*html) { /* (found only after the whole run) */
                                rc = vg_cli_usage_error(
                                        CMD, "--html: '' (an empty file "
                                        "name)");
                                goto out;
                        }
                        break;
                case OPT_IND:
                        ind_file = optarg;
                        break;
                case OPT_ALERTS:
                        al_file = optarg;
                        break;
                case OPT_TITLE:
                        title = optarg;
                        break;
                case OPT_LANG:
                        if (!rp_lang_valid(optarg)) {
                                rc = vg_cli_usage_error(
                                        CMD, "--lang: expected sv or en, got "
                                             "'%s'", optarg);
                                goto out;
                        }
                        r.rp_lang = optarg;
                        break;
                case OPT_PUBLIC:
                        r.rp_public = true;
                        break;
                case 'a':
                        if (!rp_valid_area(optarg)) {
                                rc = vg_cli_usage_error(
                                        CMD,
                                        "--area: expected SE, a 2-digit "
                                        "region or a 4-digit kommun, got "
                                        "'%s'", optarg);
                                goto out;
                        }
                        if (r.rp_nsel >= (int)VG_ARRAY_SIZE(r.rp_sel)) {
                                rc = vg_cli_usage_error(
                                        CMD, "--area: at most %d areas",
                                        (int)VG_ARRAY_SIZE(r.rp_sel));
                                goto out;
                        }
                        if (strcmp(optarg, "SE") && !*vg_area_name(optarg))
                                vg_warn(CMD, "--area %s: no kommun or region "
                                        "Vigil knows has this code (its "
                                        "values are shown if there are any)",
                                        optarg);
                        r.rp_sel[r.rp_nsel++] = optarg;
                        break;
                case OPT_FROM:
                case OPT_TO:
                        if (!rp_valid_period(optarg)) {
                                rc = vg_cli_usage_error(
                                        CMD, "--%s: expected YYYY-MM, got '%s'",
                                        c == OPT_FROM ? "from" : "to", optarg);
                                goto out;
                        }
                        if (c == OPT_FROM)
                                r.rp_from = optarg;
                        else
                                r.rp_to = optarg;
                        break;
                case 'h':
                        help();
                        goto out;
                default:
                        rc = vg_cli_usage_error(CMD, "bad option");
                        goto out;
                }
        }
        if (optind < argc) {
                rc = vg_cli_usage_error(CMD, "unexpected argument '%s'",
                                        argv[optind]);
                goto out;
        }
        if (!html) {
                rc = vg_cli_usage_error(CMD, "--html FILE is required");
                goto out;
        }
        if (r.rp_from && r.rp_to && strcmp(r.rp_from, r.rp_to) > 0) {
                rc = vg_cli_usage_error(CMD, "--from %s is after --to %s",
                                        r.rp_from, r.rp_to);
                goto out;
        }
        if (ind_file && al_file && !strcmp(ind_file, "-") &&
            !strcmp(al_file, "-")) {
                rc = vg_cli_usage_error(CMD, "only one input can be standard "
                                             "input");
                goto out;
        }
        /* (the page renamed over an input would replace it) */
        if (html && strcmp(html, "-") &&
            ((ind_file && vg_cli_same_regular_file(html, ind_file)) ||
             (al_file && vg_cli_same_regular_file(html, al_file)))) {
                rc = vg_cli_usage_error(CMD, "--html %s is an input file",
                                        html);
                goto out;
        }
        if (r.rp_public && al_file) {
                rc = vg_cli_usage_error(CMD, "--public reads no alerts (the "
                                             "public page has no patient-"
                                             "level data): drop --alerts");
                goto out;
        }
        if ((rc = vg_cli_conf_finish(r.rp_conf, CMD)))
                goto out;
        r.rp_title = title ? title
                           : rp_t(&r, "Vigil \u2013 end-of-life care report");
        r.rp_min_count = vg_conf_int(r.rp_conf, "publish.min_count");
        r.rp_min_den = vg_conf_int(r.rp_conf, "aggregate.min_denominator");
        if (vg_tz_parse(vg_conf_str(r.rp_conf, "timezone"), &r.rp_tz))
                r.rp_tz = VG_TZ_STOCKHOLM;
        r.rp_rows_js = json_object();
        r.rp_alerts_js = json_object();
        r.rp_all_js = json_object();

        if (ind_file) {
                if ((n = rp_read_values(&r, ind_file)) < 0) {
                        rc = VG_EXIT_FAIL;
                        goto out;
                }
                bad += n;
                snprintf(r.rp_src_ind, sizeof(r.rp_src_ind),
                         rp_tf(&r, "file %s"), ind_file);
        }
        if (al_file) {
                if ((n = rp_read_alerts(&r, al_file)) < 0) {
                        rc = VG_EXIT_FAIL;
                        goto out;
                }
                bad += n;
                snprintf(r.rp_src_al, sizeof(r.rp_src_al),
                         rp_tf(&r, "file %s"), al_file);
        }
        if (r.rp_public)
                snprintf(r.rp_src_al, sizeof(r.rp_src_al), "%s",
                         rp_t(&r, "none (public page)"));
        if ((!ind_file || (!al_file && !r.rp_public)) &&
            !(r.rp_codec = vg_codec_new(errstr, sizeof(errstr)))) {
                vg_error(CMD, "%s", errstr);
                rc = VG_EXIT_FAIL;
                goto out;
        }
        if (!ind_file) {
                const char *topic = vg_conf_str(r.rp_conf, "topic.indicators");
                if (vg_kafka_read_topic(r.rp_conf, topic, 0, NULL, rp_ivalue_msg,
                                        &r, errstr, sizeof(errstr))) {
                        vg_error(CMD, "%s: %s", topic, errstr);
                        rc = VG_EXIT_FAIL;
                        goto out;
                }
                kafka_source(&r, topic, r.rp_src_ind,
                             sizeof(r.rp_src_ind));
        }
        if (!al_file && !r.rp_public) {
                const char *topic = vg_conf_str(r.rp_conf, "topic.alerts");
                if (vg_kafka_read_topic(r.rp_conf, topic, 0, NULL, rp_alert_msg,
                                        &r, errstr, sizeof(errstr))) {
                        vg_error(CMD, "%s: %s", topic, errstr);
                        rc = VG_EXIT_FAIL;
                        goto out;
                }
                kafka_source(&r, topic, r.rp_src_al,
                             sizeof(r.rp_src_al));
        }
        {
                size_t nvals = json_object_size(r.rp_rows_js);
                size_t len = strlen(r.rp_src_ind);
                snprintf(r.rp_src_ind + len, sizeof(r.rp_src_ind) - len,
                         rp_tf(&r, " (%zu values)"), nvals);
                len = strlen(r.rp_src_al);
                if (!r.rp_public)
                        snprintf(r.rp_src_al + len,
                                 sizeof(r.rp_src_al) - len,
                                 rp_tf(&r, " (%zu alerts)"),
                                 json_object_size(r.rp_alerts_js));
        }

        rp_prepare(&r);
        rp_page(&r);
        if (write_page(&r, html)) {
                rc = VG_EXIT_FAIL;
                goto out;
        }
        if (r.rp_public)
                vg_info(CMD, "%s: public page, %zu values (%zu months, %zu "
                             "areas), %zu of them hidden (publish.min_count "
                             "%lld), no alerts", html, r.rp_nrows, r.rp_np,
                        r.rp_nareas, r.rp_nhidden,
                        (long long)r.rp_min_count);
        else
                vg_info(CMD, "%s: %zu values (%zu months, %zu areas), %zu "
                             "active alerts", html, r.rp_nrows, r.rp_np,
                        r.rp_nareas, r.rp_nalerts);
        if (bad) {
                vg_error(CMD, "%ld invalid input line%s skipped (exit 1)",
                         bad, bad == 1 ? "" : "s");
                rc = VG_EXIT_FAIL;
        }
out:
        for (size_t i = 0; i < r.rp_nalerts; i++)
                vg_record_clear(VG_REC_ALERT, &r.rp_alerts[i]);
        vg_free(r.rp_alerts);
        vg_free(r.rp_rows);
        vg_free(r.rp_periods);
        vg_free(r.rp_inds);
        vg_free(r.rp_areas);
        json_decref(r.rp_rows_js);
        json_decref(r.rp_alerts_js);
        json_decref(r.rp_all_js);
        json_decref(r.rp_hidden_js);
        vg_buf_free(&r.rp_out);
        vg_codec_destroy(r.rp_codec);
        vg_conf_destroy(r.rp_conf);
        return rc;
}
