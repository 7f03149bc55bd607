/*
 * indicators.c - `vigil indicators`: current indicator values for people
 * (aligned table), programs (JSON Lines) and spreadsheets (CSV).
 *
 * Reads the compacted indicators topic (latest value per key), or with
 * --input a JSON Lines file of values (as written by `vigil process
 * --input` or `vigil aggregate --input`). --public hides small numbers
 * (vg_publish.c) over every row read, before any filter, so that no
 * combination of filtered outputs shows more than the whole would.
 */
#include "vg_agg.h"
#include "vg_areas.h"
#include "vg_cli.h"
#include "vg_codec.h"
#include "vg_consumers.h"
#include "vg_kafka.h"
#include "vg_lines.h"
#include "vg_publish.h"
#include "vg_record_json.h"

#include <ctype.h>
#include <fnmatch.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

/* Display name of an area: kommun name, region name or "Sverige"; "" if
 * unknown. */
const char *vg_area_name(const char *area) {
        const char *name = vg_areas_name(area);
        return name ? name : "";
}

static void help(void) {
        printf("Usage: vigil indicators [options]\n"
               "\n"
               "Shows indicator values (docs/INDICATORS.md) from the "
               "indicators topic\n(topic.indicators, "
               "written by vigil aggregate), or from a JSON Lines file\n"
               "with --input.\n"
               "\n"
               "Options:\n"
               "      --indicator PAT  only indicators matching the glob PAT, "
               "e.g.\n"
               "                       'death_place.*' (repeatable)\n"
               "  -a, --area A         only area A: a kommun (0484), a region "
               "(04) or SE\n"
               "                       (repeatable)\n"
               "      --from YYYY-MM   only periods from this month on\n"
               "      --to YYYY-MM     only periods up to this month (a quarter "
               "or year by its\n"
               "                       first month)\n"
               "      --period KIND    month (default), quarter (YYYY-Qn), "
               "year (YYYY) or all;\n"
               "                       quarters and years are the sums of "
               "their months\n"
               "      --breakdown DIM  all (default: the whole population), "
               "age, sex,\n"
               "                       diagnosis, residence (one row per "
               "value, 'unknown'\n"
               "                       when the event had none) or any "
               "(every row)\n"
               "      --format F       table (default), json (JSON Lines, "
               "docs/EVENTS.md §8.2)\n"
               "                       or csv\n"
               "  -j, --json           the same as --format json\n"
               "      --public         for people outside the care team: "
               "hide, as '..', every\n"
               "                       row with a count from 1 to "
               "publish.min_count - 1 and\n"
               "                       enough other rows that none can be "
               "worked out by\n"
               "                       subtraction (docs/INDICATORS.md "
               "§7)\n"
               "  -i, --input FILE     read values from a JSON Lines file "
               "instead of Kafka\n"
               VG_CLI_CONF_HELP
               "  -h, --help           this help\n"
               "\n"
               "The table shows numerator, denominator, the value in %%, the "
               "target\n"
               "(target.<indicator>) and '!' where the target is missed for a "
               "period with at\n"
               "least aggregate.min_denominator cases.\n"
               "\n"
               "Exit status: 0 ok, 1 error, 2 usage error.\n");
}

typedef struct ictx_s {
        json_t     *ic_rows;    /* "indicator|area|period" -> value object */
        vg_codec_t *ic_codec;
} ictx_t;

static void put_row(ictx_t *ic, const vg_ivalue_t *iv) {
        char key[512];
        /* The topic's key (SPEC §2), so that a tombstone finds its row. */
        snprintf(key, sizeof(key), "%s|%s|%s|%s", iv->iv_indicator,
                 iv->iv_area, iv->iv_period,
                 iv->iv_breakdown ? iv->iv_breakdown : "all");
        json_object_set_new(ic->ic_rows, key, vg_ivalue_json(iv));
}

static void msg_cb(const rd_kafka_message_t *m, void *opaque) {
        ictx_t *ic = opaque;
        vg_anyrec_t rec;
        vg_rectype_t t;
        const char *why;
        char errstr[256];
        char key[512];
        /* A tombstone: the row no longer exists. A record that cannot be
         * read or shown (below) replaces its key's row too: the value
         * before it is no longer the topic's. */
        snprintf(key, sizeof(key), "%.*s", (int)m->key_len,
                 m->key ? (const char *)m->key : "");
        json_object_del(ic->ic_rows, key);
        if (!m->payload)
                return;
        if (vg_codec_decode(ic->ic_codec, m->payload, m->len, VG_REC_IVALUE,
                            &t, &rec, NULL, errstr, sizeof(errstr))) {
                vg_warn("indicators", "offset %lld: %s", (long long)m->offset,
                        errstr);
                return;
        }
        if ((why = vg_pub_cell_refused(rec.iv.iv_indicator, rec.iv.iv_area,
                                       rec.iv.iv_period,
                                       rec.iv.iv_breakdown)) ||
            (why = vg_pub_figures_refused(rec.iv.iv_indicator,
                                          rec.iv.iv_numerator,
                                          rec.iv.iv_denominator.set,
                                          rec.iv.iv_denominator.v))) {
                vg_warn("indicators", "offset %lld: a value that %s (not "
                        "shown)", (long long)m->offset, why);
                vg_record_clear(t, &rec);
                return;
        }
        put_row(ic, &rec.iv);
        vg_record_clear(t, &rec);
}

static int read_file(ictx_t *ic, const char *path, size_t max_bytes) {
        FILE *in = vg_lines_open("indicators", path);
        const char *why;
        char *line = NULL, errstr[512];
        ssize_t n;
        long lineno = 0, too_long = 0;
        int bad = 0;
        bool failed = false;
        vg_lines_t lr;
        if (!in)
                return -1;
        vg_lines_init(&lr, in, path, max_bytes);
        while ((n = vg_lines_get(&lr, "indicators", &line, &too_long,
                                 &failed)) != -1) {
                json_t *o;
                json_error_t jerr;
                vg_ivalue_t iv;
                lineno = lr.lr_lineno;
                if (n == 0)
                        continue;
                o = json_loadb(line, (size_t)n, 0, &jerr);
                if (!o)
                        snprintf(errstr, sizeof(errstr), "%s",
                                 vg_json_error_text(jerr.text));
                if (!o || vg_ivalue_from_json(o, &iv, errstr,
                                              sizeof(errstr))) {
                        vg_log(VG_LOG_ERROR, "indicators",
                               "%s:%ld: %s", path, lineno, errstr);
                        json_decref(o);
                        bad = 1;
                        continue;
                }
                if ((why = vg_pub_cell_refused(iv.iv_indicator, iv.iv_area,
                                               iv.iv_period,
                                               iv.iv_breakdown)) ||
                    (why = vg_pub_figures_refused(iv.iv_indicator,
                                                  iv.iv_numerator,
                                                  iv.iv_denominator.set,
                                                  iv.iv_denominator.v))) {
                        vg_log(VG_LOG_ERROR, "indicators",
                               "%s:%ld: a value that %s", path,
                               lineno, why);
                        vg_record_clear(VG_REC_IVALUE, &iv);
                        json_decref(o);
                        bad = 1;
                        continue;
                }
                put_row(ic, &iv);
                vg_record_clear(VG_REC_IVALUE, &iv);
                json_decref(o);
        }
        if (too_long)
                bad = 1;
        if (failed)
                bad = -1; /* not a short file: show nothing */
        vg_lines_free(&lr);
        if (in != stdin)
                fclose(in);
        return bad;
}

static int key_cmp(const void *a, const void *b) {
        return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int valid_period(const char *s) {
        int m;
        if (strlen(s) != 7 || s[4] != '-')
                return 0;
        for (int i = 0; i < 7; i++)
                if (i != 4 && !isdigit((unsigned char)s[i]))
                        return 0;
        m = (s[5] - '0') * 10 + (s[6] - '0');
        return m >= 1 && m <= 12;
}

/* The kind of a period ("month", "quarter", "year") and its first month
 * ("YYYY-MM", first[8]). */
static const char *period_kind(const char *p, char *first) {
        size_t n = strlen(p);
        /* first: "YYYY-MM", built by hand (periods are checked strings) */
        memset(first, 0, 8);
        memcpy(first, p, n < 7 ? n : 7);
        if (n == 4) {
                memcpy(first + 4, "-01", 3);
                return "year";
        }
        if (n == 7 && p[5] == 'Q' && p[6] >= '1' && p[6] <= '4') {
                int m = 3 * (p[6] - '1') + 1;
                first[5] = (char)('0' + m / 10);
                first[6] = (char)('0' + m % 10);
                return "quarter";
        }
        return "month";
}

static bool period_matches(const char *p, const char *kind, const char *from,
                           const char *to) {
        char first[8];
        const char *k = period_kind(p, first);
        if (strcmp(kind, "all") && strcmp(kind, k))
                return false;
        return !(from && strcmp(first, from) < 0) &&
               !(to && strcmp(first, to) > 0);
}

static bool breakdown_matches(const char *bd, const char *dim) {
        size_t n = strlen(dim);
        if (!strcmp(dim, "any"))
                return true;
        if (!strcmp(dim, "all"))
                return !strcmp(bd, "all");
        return !strncmp(bd, dim, n) && bd[n] == ':';
}

/* The rows of a public output (parallel to keys, n of them) with what
 * vg_publish_suppress decided. A row with no case (a tombstone's leftover,
 * or a denominator of 0) is not shown and takes no part. vigil report
 * --public decides with it too, so both hide the same cells. */
vg_pubrow_t *vg_public_rows(json_t *rows, const char **keys, size_t n,
                            int64_t min_count, vg_pubstats_t *st) {
        vg_pubrow_t *pub = vg_calloc(n + 1, sizeof(*pub));
        size_t *idx = vg_calloc(n + 1, sizeof(*idx)), m = 0;
        vg_pubrow_t *in = vg_calloc(n + 1, sizeof(*in));
        for (size_t i = 0; i < n; i++) {
                json_t *o = json_object_get(rows, keys[i]);
                json_t *jd = json_object_get(o, "denominator");
                const char *bd = json_string_value(
                        json_object_get(o, "breakdown"));
                vg_pubrow_t r = {
                        .pr_indicator = json_string_value(
                                json_object_get(o, "indicator")),
                        .pr_area = json_string_value(
                                json_object_get(o, "area")),
                        .pr_period = json_string_value(
                                json_object_get(o, "period")),
                        .pr_breakdown = bd ? bd : "all",
                        .pr_num = json_integer_value(
                                json_object_get(o, "numerator")),
                        .pr_den = json_integer_value(jd),
                        .pr_has_den = json_is_integer(jd),
                };
                if (!r.pr_indicator || !r.pr_area || !r.pr_period ||
                    (r.pr_has_den ? r.pr_den <= 0 : r.pr_num <= 0))
                        continue;
                idx[m] = i;
                in[m++] = r;
        }
        vg_publish_suppress(in, m, min_count, st);
        for (size_t j = 0; j < m; j++)
                pub[idx[j]] = in[j];
        vg_free(in);
        vg_free(idx);
        return pub;
}

int vg_cmd_indicators(int argc, char **argv) {
        static const struct option opts[] = {
                {"indicator", required_argument, NULL, 'N'},
                {"area", required_argument, NULL, 'a'},
                {"from", required_argument, NULL, 'f'},
                {"to", required_argument, NULL, 't'},
                {"period", required_argument, NULL, 'P'},
                {"breakdown", required_argument, NULL, 'B'},
                {"format", required_argument, NULL, 'O'},
                {"json", no_argument, NULL, 'j'},
                {"input", required_argument, NULL, 'i'},
                {"public", no_argument, NULL, 'Q'},
                {"help", no_argument, NULL, 'h'},
                {NULL, 0, NULL, 0},
        };
        const char *pats[32], *areas[64], *from = NULL, *to = NULL,
                   *format = "table", *input = NULL, *pkind = "month",
                   *bdim = "all";
        int npats = 0, nareas = 0, c, rc = 0, public = 0;
        vg_conf_t *conf = vg_conf_new();
        ictx_t ic = {NULL, NULL};
        char errstr[512];
        static const char *const once[] = {"input", NULL};
        if ((rc = vg_cli_once("indicators", argc, argv,
                              "a:i:jho:" VG_CLI_CONF_OPTS, opts, once)))
                goto out;
        optind = 1;
        while ((c = getopt_long(argc, argv, "a:i:jho:" VG_CLI_CONF_OPTS, opts,
                                NULL)) != -1) {
                if (vg_cli_conf_option(conf, "indicators", c, optarg, &rc)) {
                        if (rc)
                                goto out;
                        continue;
                }
                switch (c) {
                case 'N':
                        if (npats == (int)VG_ARRAY_SIZE(pats)) {
                                rc = vg_cli_usage_error(
                                        "indicators", "at most %d -n "
                                        "patterns", (int)VG_ARRAY_SIZE(pats));
                                goto out;
                        }
                        pats[npats++] = optarg;
                        break;
                case 'a':
                        /* (as report: a code that cannot name an area
                         * would show nothing, silently) */
                        if (!vg_areas_code_form(optarg)) {
                                rc = vg_cli_usage_error(
                                        "indicators",
                                        "--area: expected SE, a 2-digit "
                                        "region or a 4-digit kommun, got "
                                        "'%s'", optarg);
                                goto out;
                        }
                        if (nareas == (int)VG_ARRAY_SIZE(areas)) {
                                rc = vg_cli_usage_error(
                                        "indicators", "at most %d -a areas",
                                        (int)VG_ARRAY_SIZE(areas));
                                goto out;
                        }
                        if (strcmp(optarg, "SE") && !vg_areas_name(optarg))
                                vg_warn("indicators", "--area %s: no kommun "
                                        "or region Vigil knows has this "
                                        "code (its values are shown if "
                                        "there are any)", optarg);
                        areas[nareas++] = optarg;
                        break;
                case 'f':
                case 't':
                        if (!valid_period(optarg)) {
                                rc = vg_cli_usage_error(
                                        "indicators",
                                        "--%s: expected YYYY-MM, got '%s'",
                                        c == 'f' ? "from" : "to", optarg);
                                goto out;
                        }
                        if (c == 'f')
                                from = optarg;
                        else
                                to = optarg;
                        break;
                case 'j':
                        format = "json";
                        break;
                case 'P':
                        if (strcmp(optarg, "month") &&
                            strcmp(optarg, "quarter") &&
                            strcmp(optarg, "year") && strcmp(optarg, "all")) {
                                rc = vg_cli_usage_error(
                                        "indicators",
                                        "--period: expected month, quarter, "
                                        "year or all, got '%s'", optarg);
                                goto out;
                        }
                        pkind = optarg;
                        break;
                case 'B':
                        if (strcmp(optarg, "all") && strcmp(optarg, "age") &&
                            strcmp(optarg, "sex") &&
                            strcmp(optarg, "diagnosis") &&
                            strcmp(optarg, "residence") &&
                            strcmp(optarg, "any")) {
                                rc = vg_cli_usage_error(
                                        "indicators",
                                        "--breakdown: expected all, age, sex, "
                                        "diagnosis, residence or any, got "
                                        "'%s'", optarg);
                                goto out;
                        }
                        bdim = optarg;
                        break;
                case 'o':
                        /* (-o is --out, a file, in simulate and state: a
                         * short option means one thing everywhere) */
                        rc = vg_cli_usage_error("indicators", "-o is not an "
                                                "option of vigil indicators "
                                                "any more (a short option "
                                                "means the same in every "
                                                "command: -o is --out); use "
                                                "--format (or -j for json)");
                        goto out;
                case 'O':
                        if (strcmp(optarg, "table") && strcmp(optarg, "json") &&
                            strcmp(optarg, "csv")) {
                                rc = vg_cli_usage_error(
                                        "indicators",
                                        "--format: expected table, json or "
                                        "csv, got '%s'", optarg);
                                goto out;
                        }
                        format = optarg;
                        break;
                case 'i':
                        input = optarg;
                        break;
                case 'Q':
                        public = 1;
                        break;
                case 'h':
                        help();
                        goto out;
                default:
                        rc = optopt == 'n'
                                     ? vg_cli_usage_error(
                                               "indicators",
                                               "-n is not an option of vigil "
                                               "indicators any more (a short "
                                               "option means the same in "
                                               "every command); use "
                                               "--indicator")
                                     : vg_cli_usage_error("indicators",
                                                          "bad option");
                        goto out;
                }
        }
        if (optind < argc) {
                rc = vg_cli_usage_error("indicators",
                                        "unexpected argument '%s'",
                                        argv[optind]);
                goto out;
        }
        if (from && to && strcmp(from, to) > 0) {
                rc = vg_cli_usage_error("indicators", "--from %s is after "
                                        "--to %s", from, to);
                goto out;
        }
        if ((rc = vg_cli_conf_finish(conf, "indicators")))
                goto out;
        ic.ic_rows = json_object();
        if (input) {
                int r = read_file(&ic, input,
                                  (size_t)vg_conf_int(conf, "input.max_bytes"));
                if (r < 0) {
                        rc = VG_EXIT_FAIL;
                        goto out;
                }
                rc = r ? VG_EXIT_FAIL : 0;
        } else {
                if (!(ic.ic_codec = vg_codec_new(errstr, sizeof(errstr))) ||
                    vg_kafka_read_topic(conf, vg_conf_str(conf, "topic.indicators"),
                                        0, NULL, msg_cb, &ic, errstr,
                                        sizeof(errstr))) {
                        vg_error("indicators", "%s", errstr);
                        rc = VG_EXIT_FAIL;
                        goto out;
                }
        }

        {
                size_t n = json_object_size(ic.ic_rows), i = 0, shown = 0;
                unsigned kinds = 0; /* period kinds seen: 1 month, 2 quarter, 4 year */
                const char **keys = vg_calloc(n + 1, sizeof(*keys));
                const char *key;
                json_t *v;
                int64_t min_den = vg_conf_int(conf, "aggregate.min_denominator");
                int prelim_alerts =
                        vg_conf_bool(conf, "aggregate.alert_preliminary");
                vg_pubrow_t *pub = NULL;
                vg_pubstats_t pst = {0};
                json_object_foreach(ic.ic_rows, key, v) keys[i++] = key;
                qsort(keys, n, sizeof(*keys), key_cmp);
                if (public)
                        pub = vg_public_rows(ic.ic_rows, keys, n,
                                          vg_conf_int(conf,
                                                      "publish.min_count"),
                                          &pst);
                if (!strcmp(format, "table"))
                        printf("%-32s %-4s %-22s %-7s %7s %7s %7s %8s "
                               "%-7s\n",
                               "INDICATOR", "AREA", "NAME", "PERIOD", "NUM",
                               "DEN", "VALUE", "TARGET", "STATUS");
                else if (!strcmp(format, "csv"))
                        printf("indicator,area,area_name,period,breakdown,"
                               "numerator,denominator,value,target,"
                               "target_missed,complete,history_complete,"
                               "data_since\n");
                for (i = 0; i < n; i++) {
                        json_t *o = json_object_get(ic.ic_rows, keys[i]);
                        const char *ind = json_string_value(
                                json_object_get(o, "indicator"));
                        const char *area =
                                json_string_value(json_object_get(o, "area"));
                        const char *period = json_string_value(
                                json_object_get(o, "period"));
                        json_int_t num = json_integer_value(
                                json_object_get(o, "numerator"));
                        json_t *jd = json_object_get(o, "denominator");
                        int has_den = json_is_integer(jd), ok = npats == 0,
                            aok = nareas == 0, missed;
                        json_int_t den = json_integer_value(jd);
                        int complete = json_is_true(
                                json_object_get(o, "complete"));
                        int hist = json_is_true(
                                json_object_get(o, "history_complete"));
                        const char *since = json_string_value(
                                json_object_get(o, "data_since"));
                        const char *bd = json_string_value(
                                json_object_get(o, "breakdown"));
                        vg_target_t tg = vg_agg_target(conf, ind);
                        char val[16] = "", tgt[16] = "";
                        int hide = pub && pub[i].pr_state != VG_PUB_VISIBLE;
                        for (int p = 0; p < npats && !ok; p++)
                                ok = !fnmatch(pats[p], ind, 0);
                        for (int a = 0; a < nareas && !aok; a++)
                                aok = !strcmp(areas[a], area);
                        {
                                char first[8];
                                const char *k = period_kind(period, first);
                                kinds |= k[0] == 'm' ? 1 : k[0] == 'q' ? 2 : 4;
                        }
                        if (!ok || !aok ||
                            !period_matches(period, pkind, from, to) ||
                            !breakdown_matches(bd ? bd : "all", bdim))
                                continue;
                        if (has_den ? den <= 0 : num <= 0)
                                continue;
                        /* A preliminary value is not a breach (SPEC §5.4). */
                        missed = has_den && !hide &&
                                 (complete || prelim_alerts) &&
                                 vg_agg_breach(&tg, num, den, min_den);
                        if (has_den)
                                snprintf(val, sizeof(val), "%.1f%%",
                                         100.0 * (double)num / (double)den);
                        if (tg.tg_set && has_den)
                                snprintf(tgt, sizeof(tgt), "%s%.0f%%",
                                         tg.tg_higher_is_better ? ">=" : "<=",
                                         tg.tg_target * 100);
                        shown++;
                        if (hide) /* a public row shown as '..' */
                                snprintf(val, sizeof(val), "..");
                        if (!strcmp(format, "json")) {
                                /* The CSV's columns, in its order. */
                                json_t *r = json_object();
                                char *s;
                                json_object_set(r, "indicator",
                                                json_object_get(o, "indicator"));
                                json_object_set(r, "area",
                                                json_object_get(o, "area"));
                                json_object_set_new(
                                        r, "area_name",
                                        json_string(vg_area_name(area)));
                                json_object_set(r, "period",
                                                json_object_get(o, "period"));
                                json_object_set_new(
                                        r, "breakdown",
                                        json_string(bd ? bd : "all"));
                                if (hide) {
                                        json_object_set_new(r, "numerator",
                                                            json_string(".."));
                                        json_object_set_new(
                                                r, "denominator",
                                                has_den ? json_string("..")
                                                        : json_null());
                                        json_object_set_new(
                                                r, "value",
                                                has_den ? json_string("..")
                                                        : json_null());
                                } else {
                                        json_object_set_new(
                                                r, "numerator",
                                                json_integer(num));
                                        json_object_set_new(
                                                r, "denominator",
                                                has_den ? json_integer(den)
                                                        : json_null());
                                        json_object_set_new(
                                                r, "value",
                                                has_den ? json_real(
                                                                  (double)num /
                                                                  (double)den)
                                                        : json_null());
                                }
                                json_object_set_new(
                                        r, "target",
                                        tg.tg_set && has_den
                                                ? json_real(tg.tg_target)
                                                : json_null());
                                json_object_set_new(
                                        r, "target_missed",
                                        hide ? json_null()
                                             : json_boolean(missed));
                                json_object_set_new(r, "complete",
                                                    json_boolean(complete));
                                json_object_set_new(r, "history_complete",
                                                    json_boolean(hist));
                                json_object_set_new(
                                        r, "data_since",
                                        since ? json_string(since)
                                              : json_null());
                                if (pub)
                                        json_object_set_new(
                                                r, "suppressed",
                                                json_boolean(hide));
                                s = json_dumps(r, JSON_COMPACT |
                                                          JSON_PRESERVE_ORDER);
                                printf("%s\n", s);
                                free(s);
                                json_decref(r);
                        } else if (!strcmp(format, "csv")) {
                                printf("%s,%s,\"%s\",%s,%s,", ind, area,
                                       vg_area_name(area), period,
                                       bd ? bd : "all");
                                if (hide)
                                        printf("..,%s", has_den ? "..,.." : ",");
                                else if (has_den)
                                        printf("%lld,%lld,%.6f", (long long)num,
                                               (long long)den,
                                               (double)num / (double)den);
                                else
                                        printf("%lld,,", (long long)num);
                                /* the target as the value: a fraction
                                 * (12.5 % was "12%", a third "33%") */
                                if (tg.tg_set && has_den)
                                        snprintf(tgt, sizeof(tgt), "%.6f",
                                                 tg.tg_target);
                                printf(",%s,%s,%s,%s,%s\n",
                                       tg.tg_set && has_den ? tgt : "",
                                       hide ? ".." : missed ? "true" : "false",
                                       complete ? "true" : "false",
                                       hist ? "true" : "false",
                                       since ? since : "");
                        } else {
                                char nums[24], dens[24], label[160];
                                const char *name = vg_area_name(area);
                                /* a breakdown row: its value after the
                                 * indicator */
                                if (bd && strcmp(bd, "all"))
                                        snprintf(label, sizeof(label),
                                                 "%s [%s]", ind, bd);
                                else
                                        snprintf(label, sizeof(label), "%s",
                                                 ind);
                                snprintf(nums, sizeof(nums), "%lld",
                                         (long long)num);
                                snprintf(dens, sizeof(dens), "%lld",
                                         (long long)den);
                                if (hide) {
                                        snprintf(nums, sizeof(nums), "..");
                                        snprintf(dens, sizeof(dens), "..");
                                }
                                /* pad by display width: UTF-8 names */
                                int w = 0;
                                for (const char *p = name; *p; p++)
                                        w += ((*p & 0xc0) != 0x80);
                                printf("%-32s %-4s %s%*s %-7s %7s %7s %7s "
                                       "%8s %s%s%s\n",
                                       label, area, name,
                                       22 - w > 0 ? 22 - w : 0,
                                       "", period, nums,
                                       has_den ? dens : "-", has_den ? val : "-",
                                       tgt, complete ? "final" : "prelim",
                                       hist ? "" : "*", missed ? " !" : "");
                        }
                }
                fflush(stdout);
                if (!shown && n && strcmp(pkind, "all") &&
                    !(kinds & (pkind[0] == 'm' ? 1 : pkind[0] == 'q' ? 2 : 4)))
                        fprintf(stderr,
                                "vigil indicators: no %s values to show: the "
                                "values are of %s%s%s%s%s (--period)\n",
                                pkind, kinds & 1 ? "months" : "",
                                (kinds & 1) && (kinds & 6) ? ", " : "",
                                kinds & 2 ? "quarters" : "",
                                (kinds & 2) && (kinds & 4) ? ", " : "",
                                kinds & 4 ? "years" : "");
                if (!strcmp(format, "table"))
                        fprintf(stderr,
                                "%zu of %zu values shown (prelim: the period "
                                "is not settled yet; *: rests on history "
                                "before the first event Vigil has)\n",
                                shown, n);
                if (pub && !strcmp(format, "table"))
                        fprintf(stderr,
                                "public: %zu of %zu rows hidden as '..' (%zu "
                                "with a count from 1 to %lld, %zu more so "
                                "that none can be worked out by "
                                "subtraction)\n",
                                pst.ps_small + pst.ps_complement, pst.ps_rows,
                                pst.ps_small,
                                (long long)vg_conf_int(conf,
                                                       "publish.min_count") - 1,
                                pst.ps_complement);
                vg_free(pub);
                vg_free(keys);
        }
out:
        json_decref(ic.ic_rows);
        vg_codec_destroy(ic.ic_codec);
        vg_conf_destroy(conf);
        return rc;
}
