/*
 * aggregate.c - `vigil aggregate`: sums the processors' IndicatorParts into
 * IndicatorValues for every area and period, and raises and retracts
 * INDICATOR_BELOW_TARGET alerts (SPEC §5.4, §6).
 *
 * Kafka mode reads every partition of the indicator-parts topic itself
 * (assign, not subscribe: a cell's parts from all processor partitions must
 * meet in one place) from the offsets in its own store, with the same
 * one-transaction-per-batch and outbox rules as the processor (SPEC §7).
 * Offsets are also committed to Kafka under aggregate.group.id for lag
 * tools. Running a second instance is harmless (it publishes the same
 * values) but useless.
 */
#include "vg_agg.h"
#include "vg_areas.h"
#include "vg_cli.h"
#include "vg_consumers.h"
#include "vg_kafka.h"
#include "vg_lines.h"
#include "vg_loop.h"
#include "vg_lock.h"
#include "vg_metrics.h"
#include "vg_outbox.h"
#include "vg_process.h"
#include "vg_publish.h"
#include "vg_record_json.h"
#include "vg_time.h"

#include <getopt.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <jansson.h>

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig) {
        (void)sig;
        stop_requested = 1;
}

static void help(void) {
        printf("Usage: vigil aggregate [options]                (Kafka mode)\n"
               "       vigil aggregate --input FILE [options]   (file mode)\n"
               "\n"
               "Keeps the latest IndicatorPart of every (indicator, area, "
               "period, partition),\n"
               "sums them and publishes IndicatorValue records to the "
               "compacted topic\n"
               "topic.indicators (key indicator|area|period). Evaluates the "
               "targets\n"
               "(target.<indicator>=>=F or <=F; defaults readmission_30d<=0.10,"
               "\n"
               "sip_within_deadline>=0.90, register_coverage>=0.70 and the "
               "register's\n"
               "spr.* targets, docs/CONFIGURATION.md) for periods with at "
               "least\n"
               "aggregate.min_denominator cases and raises / retracts "
               "INDICATOR_BELOW_TARGET\n"
               "alerts on topic.alerts.\n"
               "State, offsets and outgoing records are committed together in "
               "SQLite\n"
               "(state.dir/aggregate.db).\n"
               "\n"
               "File mode reads IndicatorPart JSON Lines and writes the "
               "IndicatorValue JSON\n"
               "Lines of every cell.\n"
               "\n"
               "With http.listen set, Kafka mode serves /metrics, /healthz "
               "and /readyz.\n"
               "\n"
               "Options:\n"
               "  -i, --input FILE     file mode: read parts from FILE (- "
               "for stdin)\n"
               "      --exit-idle SEC  Kafka mode: exit once nothing arrived "
               "for SEC seconds\n"
               "                       and everything is published\n"
               VG_CLI_CONF_HELP
               "  -h, --help           this help\n"
               "\n"
               "Exit status: 0 done, 1 fatal error, 2 usage error, 3 file "
               "mode with invalid\n"
               "lines.\n");
}

static void value_json_cb(const vg_ivalue_t *iv, void *opaque) {
        json_t *o = vg_ivalue_json(iv);
        char *js = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
        fprintf(opaque, "%s\n", js);
        free(js);
        json_decref(o);
}

static int file_main(const vg_conf_t *conf, const char *input) {
        const char *why;
        FILE *in;
        char errstr[512], *line = NULL;
        ssize_t n;
        long lineno = 0, invalid = 0;
        bool failed = false;
        vg_lines_t lr;
        vg_codec_t *codec;
        vg_agg_t *agg;
        int rc = 0;

        if (!(in = vg_lines_open("aggregate", input)))
                return 1;
        if (!(codec = vg_codec_new(errstr, sizeof(errstr))) ||
            !(agg = vg_agg_open(":memory:", conf, codec, errstr,
                                sizeof(errstr)))) {
                vg_error("aggregate", "%s", errstr);
                vg_codec_destroy(codec);
                if (in != stdin)
                        fclose(in);
                return 1;
        }
        vg_agg_begin(agg, vg_now_ms(), errstr, sizeof(errstr));
        vg_lines_init(&lr, in, input,
                      (size_t)vg_conf_int(conf, "input.max_bytes"));
        while ((n = vg_lines_get(&lr, "aggregate", &line, &invalid,
                                 &failed)) != -1) {
                vg_ipart_t ip;
                json_error_t jerr;
                json_t *obj;
                lineno = lr.lr_lineno;
                if (n == 0)
                        continue;
                obj = json_loadb(line, (size_t)n, 0, &jerr);
                if (obj && json_object_get(obj, "watermark")) {
                        /* a PartitionProgress line */
                        vg_progress_t pp;
                        if (vg_record_from_json(VG_REC_PROGRESS, obj, &pp,
                                                errstr, sizeof(errstr))) {
                                vg_log(VG_LOG_ERROR, "aggregate",
                                       "%s:%ld: %s", input,
                                       lineno, errstr);
                                invalid++;
                        } else if (vg_agg_progress(agg, &pp, 0, errstr,
                                                   sizeof(errstr))) {
                                vg_error("aggregate", "%s", errstr);
                                rc = 1;
                        }
                        json_decref(obj);
                        if (rc)
                                break;
                        continue;
                }
                if (obj && !json_object_get(obj, "breakdown"))
                        /* version 1 lines: breakdown "all" */
                        json_object_set_new(obj, "breakdown",
                                            json_string("all"));
                if (!obj || vg_record_from_json(VG_REC_IPART, obj, &ip, errstr,
                                                sizeof(errstr))) {
                        vg_log(VG_LOG_ERROR, "aggregate",
                               "%s:%ld: %s", input, lineno,
                               obj ? errstr : vg_json_error_text(jerr.text));
                        json_decref(obj);
                        invalid++;
                        continue;
                }
                json_decref(obj);
                if ((why = vg_pub_part_refused(&ip))) {
                        vg_log(VG_LOG_ERROR, "aggregate",
                               "%s:%ld: an IndicatorPart %s", input,
                               lineno, why);
                        vg_record_clear(VG_REC_IPART, &ip);
                        invalid++;
                        continue;
                }
                if (vg_agg_part(agg, &ip, errstr, sizeof(errstr))) {
                        vg_error("aggregate", "%s", errstr);
                        rc = 1;
                }
                vg_record_clear(VG_REC_IPART, &ip);
                if (rc)
                        break;
        }
        /* A read error is not the end of input: values from part of it
         * would be wrong, not short. */
        if (!rc && failed)
                rc = 1;
        if (!rc && vg_agg_commit(agg, errstr, sizeof(errstr))) {
                vg_error("aggregate", "%s", errstr);
                rc = 1;
        }
        if (!rc && vg_agg_values(agg, value_json_cb, stdout, errstr,
                                 sizeof(errstr))) {
                vg_error("aggregate", "%s", errstr);
                rc = 1;
        }
        vg_agg_close(agg);
        vg_codec_destroy(codec);
        vg_lines_free(&lr);
        if (in != stdin)
                fclose(in);
        return rc ? rc : invalid ? 3 : 0;
}

static bool agg_busy(void *opaque) {
        return vg_agg_in_batch(opaque);
}

static void commit_kafka(rd_kafka_t *rk, vg_agg_t *agg, const char *topic,
                         int nparts) {
        rd_kafka_topic_partition_list_t *l =
                rd_kafka_topic_partition_list_new(nparts);
        for (int p = 0; p < nparts; p++) {
                int64_t off = vg_agg_offset(agg, topic, p);
                if (off >= 0)
                        rd_kafka_topic_partition_list_add(l, topic, p)->offset =
                                off;
        }
        if (l->cnt)
                rd_kafka_commit(rk, l, 1);
        rd_kafka_topic_partition_list_destroy(l);
}

typedef struct ametrics_s {
        vg_metrics_t *am_reg;
        vg_metric_t  *am_parts, *am_values, *am_outbox, *am_commit, *am_ready;
        atomic_int    am_is_ready;  /* read by the HTTP thread */
} ametrics_t;

static bool agg_ready_cb(void *opaque, char *reason, size_t size) {
        ametrics_t *am = opaque;
        if (atomic_load(&am->am_is_ready))
                return true;
        snprintf(reason, size, "outbox backlog above health.max_outbox");
        return false;
}

static void ametrics_init(ametrics_t *am) {
        static const double com_b[] = {0.0005, 0.001, 0.0025, 0.005, 0.01,
                                       0.025, 0.05, 0.1, 0.25, 1};
        am->am_reg = vg_metrics_new();
        am->am_parts = vg_metrics_counter(am->am_reg,
                                          "vigil_parts_consumed_total",
                                          "IndicatorPart records consumed.",
                                          0, NULL);
        am->am_values = vg_metrics_counter(
                am->am_reg, "vigil_indicator_values_published_total",
                "IndicatorValue records queued for publishing.", 0, NULL);
        am->am_outbox = vg_metrics_gauge(am->am_reg, "vigil_outbox_depth",
                                         "Records waiting in the outbox.", 0,
                                         NULL);
        am->am_commit = vg_metrics_histogram(
                am->am_reg, "vigil_sqlite_commit_seconds",
                "Duration of a batch's SQLite commit.", 0, NULL,
                VG_ARRAY_SIZE(com_b), com_b);
        am->am_ready = vg_metrics_gauge(am->am_reg, "vigil_ready",
                                        "1 when /readyz answers ready.", 0,
                                        NULL);
        atomic_init(&am->am_is_ready, 0);
}

/*
 * The consume loop's callbacks (vg_loop.h).
 */

typedef struct aloop_s {
        const vg_conf_t *ag_conf;
        rd_kafka_t      *ag_rk;
        vg_agg_t        *ag_agg;
        vg_codec_t      *ag_codec;
        ametrics_t      *ag_am;
        const char      *ag_topic;       /* topic.indicator_parts */
        int              ag_nparts;
        int64_t          ag_max_events, ag_max_ms;
        int              ag_batch;       /* records in the open batch */
        int64_t          ag_batch_start; /* when it opened, ms */
        int64_t         *ag_end;         /* per partition: its end, read
                                          * to (agg_eof), 0: none */
        int64_t          ag_end_at;      /* the first such end since the
                                          * last stored, ms (0: none) */
} aloop_t;

/* An end read to waits this long for a batch to store it with before it
 * gets a batch of its own (live, the next records' batch takes it). */
#define END_WAIT_MS 1000

/* One IndicatorPart or PartitionProgress (a tombstone or another record
 * is skipped; its offset still counts). */
static int agg_record(void *opaque, rd_kafka_message_t *m, int64_t now,
                      char *errstr, size_t errstr_size) {
        aloop_t *ag = opaque;
        const char *why;
        vg_anyrec_t rec;
        vg_rectype_t t;
        vg_decode_reason_t reason;
        if (!ag->ag_batch) {
                if (vg_agg_begin(ag->ag_agg, now, errstr, errstr_size))
                        return -1;
                ag->ag_batch_start = now;
        }
        if (!m->payload) {
                /* a tombstone: nothing to aggregate */
        } else if (vg_codec_decode(ag->ag_codec, m->payload, m->len, -1, &t,
                                   &rec, &reason, errstr, errstr_size)) {
                vg_warn("aggregate", "%s [%d] offset %lld: %s: %s (skipped)",
                        ag->ag_topic, m->partition, (long long)m->offset,
                        vg_decode_reason_str(reason), errstr);
        } else if (t != VG_REC_IPART && t != VG_REC_PROGRESS) {
                vg_warn("aggregate", "%s [%d] offset %lld: a %s record "
                        "(skipped)", ag->ag_topic, m->partition,
                        (long long)m->offset, vg_rectype(t)->rt_name);
                vg_record_clear(t, &rec);
        } else if (t == VG_REC_IPART &&
                   (why = vg_pub_part_refused(&rec.ip))) {
                /* Not a processor's (a part is summed into a published
                 * value and a key: SPEC §8, no personnummer to a topic) */
                vg_warn("aggregate", "%s [%d] offset %lld: an "
                        "IndicatorPart %s (skipped)", ag->ag_topic,
                        m->partition, (long long)m->offset, why);
                vg_record_clear(t, &rec);
        } else {
                vg_err_t e = t == VG_REC_IPART
                                     ? vg_agg_part(ag->ag_agg, &rec.ip, errstr,
                                                   errstr_size)
                                     : vg_agg_progress(ag->ag_agg, &rec.pp,
                                                       m->partition, errstr,
                                                       errstr_size);
                vg_metric_inc(ag->ag_am->am_parts, NULL, 1);
                vg_record_clear(t, &rec);
                if (e)
                        return -1;
        }
        if (vg_agg_set_offset(ag->ag_agg, ag->ag_topic, m->partition,
                              m->offset + 1, errstr, errstr_size))
                return -1;
        ag->ag_batch++;
        return 0;
}

/* The end of a partition of the parts topic: its offset may lie past the
 * last record (vigil process publishes in Kafka transactions: their commit
 * markers, and the records of aborted ones, are never handed over). Kept,
 * and stored with the next batch (agg_ends), so that the group's offsets
 * reach the end (lag 0). */
static int agg_eof(void *opaque, rd_kafka_message_t *m, int64_t now,
                   char *errstr, size_t errstr_size) {
        aloop_t *ag = opaque;
        (void)errstr, (void)errstr_size;
        if (m->partition < 0 || m->partition >= ag->ag_nparts ||
            m->offset <= ag->ag_end[m->partition] || m->offset <= 0 ||
            m->offset <= vg_agg_offset(ag->ag_agg, ag->ag_topic,
                                       m->partition))
                return 0; /* (the end is the offset stored already) */
        ag->ag_end[m->partition] = m->offset;
        if (!ag->ag_end_at)
                ag->ag_end_at = now;
        return 0;
}

/* Stores the ends kept that lie past a partition's offset, in the open
 * batch, or in one opened for them. */
static int agg_ends(aloop_t *ag, int64_t now, char *errstr,
                    size_t errstr_size) {
        for (int p = 0; p < ag->ag_nparts; p++) {
                int64_t next;
                if (!ag->ag_end[p])
                        continue;
                next = vg_agg_offset(ag->ag_agg, ag->ag_topic, p);
                if (ag->ag_end[p] > (next > 0 ? next : 0)) {
                        if (!ag->ag_batch) {
                                if (vg_agg_begin(ag->ag_agg, now, errstr,
                                                 errstr_size))
                                        return -1;
                                ag->ag_batch_start = now;
                        }
                        if (vg_agg_set_offset(ag->ag_agg, ag->ag_topic, p,
                                              ag->ag_end[p], errstr,
                                              errstr_size))
                                return -1;
                        ag->ag_batch++; /* (a batch to commit) */
                }
                ag->ag_end[p] = 0;
        }
        ag->ag_end_at = 0;
        return 0;
}

static int agg_commit(void *opaque, int64_t now, bool drained, char *errstr,
                      size_t errstr_size) {
        aloop_t *ag = opaque;
        int64_t c0, d0;
        if (ag->ag_end_at &&
            (ag->ag_batch || now - ag->ag_end_at >= END_WAIT_MS) &&
            agg_ends(ag, now, errstr, errstr_size))
                return -1;
        if (!ag->ag_batch ||
            !(ag->ag_batch >= ag->ag_max_events ||
              now - ag->ag_batch_start >= ag->ag_max_ms || drained))
                return 0;
        c0 = vg_now_us();
        d0 = vg_outbox_depth(vg_agg_outbox(ag->ag_agg));
        if (vg_agg_commit(ag->ag_agg, errstr, errstr_size))
                return -1;
        vg_metric_observe(ag->ag_am->am_commit, NULL,
                          (double)(vg_now_us() - c0) / 1e6);
        vg_metric_inc(ag->ag_am->am_values, NULL,
                      (double)(vg_outbox_depth(vg_agg_outbox(ag->ag_agg)) -
                               d0));
        ag->ag_batch = 0;
        commit_kafka(ag->ag_rk, ag->ag_agg, ag->ag_topic, ag->ag_nparts);
        return 0;
}

static void agg_health(void *opaque, int64_t now) {
        aloop_t *ag = opaque;
        int64_t depth = vg_outbox_depth(vg_agg_outbox(ag->ag_agg));
        int ready = depth <= vg_conf_int(ag->ag_conf, "health.max_outbox");
        (void)now;
        atomic_store(&ag->ag_am->am_is_ready, ready);
        vg_metric_set(ag->ag_am->am_outbox, NULL, (double)depth);
        vg_metric_set(ag->ag_am->am_ready, NULL, ready);
}

static bool agg_settled(void *opaque, int64_t now, int64_t idle_ms) {
        aloop_t *ag = opaque;
        (void)now, (void)idle_ms;
        return !ag->ag_batch && !ag->ag_end_at &&
               vg_outbox_depth(vg_agg_outbox(ag->ag_agg)) == 0;
}

int vg_aggregate_kafka(const vg_conf_t *conf, int exit_idle) {
        const char *topic = vg_conf_str(conf, "topic.indicator_parts");
        const char *dir = vg_conf_str(conf, "state.dir");
        int64_t max_events = vg_conf_int(conf, "batch.max_events");
        int64_t max_ms = vg_conf_int(conf, "batch.max_ms");
        rd_kafka_conf_t *cconf = NULL, *pconf = NULL;
        rd_kafka_t *rk = NULL;
        rd_kafka_topic_partition_list_t *l = NULL;
        vg_codec_t *codec = NULL;
        vg_agg_t *agg = NULL;
        vg_pub_t *pub = NULL;
        char errstr[512], path[4096];
        int nparts, ninputs, rc = 1, batch = 0;
        ametrics_t am;
        vg_http_t *http = NULL;
        int64_t consumed = 0;
        aloop_t ag = {0};
        int lock = -1;

        ametrics_init(&am);
        if ((lock = vg_lock_dir(dir, "aggregate.lock", errstr,
                                sizeof(errstr))) < 0) {
                vg_error("aggregate", "%s", errstr);
                vg_metrics_destroy(am.am_reg);
                return 1;
        }
        if (vg_conf_str(conf, "http.listen") &&
            !(http = vg_http_start(am.am_reg, vg_conf_str(conf, "http.listen"),
                                   agg_ready_cb, &am, errstr,
                                   sizeof(errstr))))
                goto err;
        if (http)
                vg_info("aggregate", "serving /metrics, /healthz, /readyz on "
                        "%s (port %d)", vg_conf_str(conf, "http.listen"),
                        vg_http_port(http));
        umask(077);
        snprintf(path, sizeof(path), "%s/aggregate.db", dir);
        if (!(codec = vg_codec_new(errstr, sizeof(errstr))) ||
            !(agg = vg_agg_open(path, conf, codec, errstr, sizeof(errstr))))
                goto err;
        if (!(cconf = vg_kafka_conf(conf, errstr, sizeof(errstr))) ||
            vg_kafka_set(cconf, "group.id",
                         vg_conf_str(conf, "aggregate.group.id"), errstr,
                         sizeof(errstr)) ||
            vg_conf_kafka(conf, cconf, errstr, sizeof(errstr)) ||
            vg_kafka_set(cconf, "enable.auto.commit", "false", errstr,
                         sizeof(errstr)) ||
            vg_kafka_set(cconf, "enable.auto.offset.store", "false", errstr,
                         sizeof(errstr)) ||
            vg_kafka_set(cconf, "enable.partition.eof", "true", errstr,
                         sizeof(errstr)))
                goto err;
        if (!(rk = rd_kafka_new(RD_KAFKA_CONSUMER, cconf, errstr,
                                sizeof(errstr))))
                goto err;
        cconf = NULL;
        if (!(pconf = vg_kafka_producer_conf(conf, errstr, sizeof(errstr))))
                goto err;
        if (vg_kafka_compress_default(conf, pconf, errstr, sizeof(errstr))) {
                rd_kafka_conf_destroy(pconf);
                goto err;
        }
        pub = vg_pub_new(pconf, errstr, sizeof(errstr));
        pconf = NULL;
        if (!pub)
                goto err;
        vg_pub_add(pub, 0, vg_agg_outbox(agg), agg_busy, agg);
        if ((ninputs = vg_kafka_partition_count(
                     rk, vg_conf_str(conf, "topic.admissions"), 10000, errstr,
                     sizeof(errstr))) < 0 ||
            (nparts = vg_kafka_partition_count(rk, topic, 10000, errstr,
                                               sizeof(errstr))) < 0 ||
            vg_kafka_partition_count(rk, vg_conf_str(conf, "topic.indicators"),
                                     10000, errstr, sizeof(errstr)) < 0 ||
            vg_kafka_partition_count(rk, vg_conf_str(conf, "topic.alerts"),
                                     10000, errstr, sizeof(errstr)) < 0)
                goto err;
        /* Until every input partition has published progress, no value is
         * complete (SPEC §6.1). */
        vg_agg_set_input_partitions(agg, ninputs);
        vg_agg_set_sources(agg, nparts);
        {
                int n = vg_agg_recheck(agg, vg_now_ms(), errstr,
                                       sizeof(errstr));
                if (n < 0)
                        goto err;
                if (n > 0)
                        vg_info("aggregate", "targets or alert settings "
                                "changed since the state's alerts were "
                                "evaluated: %d published values evaluated "
                                "again", n);
        }
        l = rd_kafka_topic_partition_list_new(nparts);
        for (int p = 0; p < nparts; p++) {
                int64_t off = vg_agg_offset(agg, topic, p);
                rd_kafka_topic_partition_list_add(l, topic, p)->offset =
                        off >= 0 ? off : RD_KAFKA_OFFSET_BEGINNING;
        }
        if (rd_kafka_assign(rk, l)) {
                vg_seterr(errstr, sizeof(errstr), VG_ERR_KAFKA,
                          "cannot assign %s", topic);
                goto err;
        }
        vg_info("aggregate", "reading %s (%d partitions); state %s", topic,
                nparts, path);
        signal(SIGINT, on_signal);
        signal(SIGTERM, on_signal);
        {
                vg_loop_t lp = {0};
                ag.ag_conf = conf;
                ag.ag_rk = rk;
                ag.ag_agg = agg;
                ag.ag_codec = codec;
                ag.ag_am = &am;
                ag.ag_topic = topic;
                ag.ag_nparts = nparts;
                ag.ag_end = vg_calloc((size_t)nparts + 1, sizeof(int64_t));
                ag.ag_max_events = max_events;
                ag.ag_max_ms = max_ms;
                lp.lp_rk = rk;
                lp.lp_pub = pub;
                lp.lp_name = "aggregate";
                lp.lp_what = "parts";
                lp.lp_exit_idle = exit_idle;
                lp.lp_stop = &stop_requested;
                lp.lp_opaque = &ag;
                lp.lp_record = agg_record;
                lp.lp_eof = agg_eof;
                lp.lp_commit = agg_commit;
                lp.lp_health = agg_health;
                lp.lp_settled = agg_settled;
                if (vg_loop_run(&lp, errstr, sizeof(errstr)))
                        goto err;
                consumed = lp.lp_records;
                batch = ag.ag_batch;
        }
        if (batch && vg_agg_commit(agg, errstr, sizeof(errstr)))
                goto err;
        if (vg_pub_flush(pub, 30000, errstr, sizeof(errstr)))
                goto err;
        vg_info("aggregate", "stopped after %lld parts", (long long)consumed);
        rc = 0;
        goto out;
err:
        vg_error("aggregate", "%s", errstr);
out:
        if (l)
                rd_kafka_topic_partition_list_destroy(l);
        if (cconf)
                rd_kafka_conf_destroy(cconf);
        if (rk) {
                rd_kafka_consumer_close(rk);
                rd_kafka_destroy(rk);
        }
        vg_pub_destroy(pub, 5000);
        vg_agg_close(agg);
        vg_codec_destroy(codec);
        vg_free(ag.ag_end);
        vg_http_stop(http);
        vg_metrics_destroy(am.am_reg);
        vg_unlock_dir(lock);
        return rc;
}

int vg_cmd_aggregate(int argc, char **argv) {
        static const struct option opts[] = {
                {"input", required_argument, NULL, 'i'},
                {"exit-idle", required_argument, NULL, 'E'},
                {"help", no_argument, NULL, 'h'},
                {NULL, 0, NULL, 0},
        };
        const char *input = NULL;
        int c, rc = 0, exit_idle = 0;
        vg_conf_t *conf = vg_conf_new();
        long long num;
        static const char *const once[] = {"input", NULL};
        if ((rc = vg_cli_once("aggregate", argc, argv, "i:h" VG_CLI_CONF_OPTS,
                              opts, once)))
                goto out;
        optind = 1;
        while ((c = getopt_long(argc, argv, "i:h" VG_CLI_CONF_OPTS, opts,
                                NULL)) != -1) {
                if (vg_cli_conf_option(conf, "aggregate", c, optarg, &rc)) {
                        if (rc)
                                goto out;
                        continue;
                }
                switch (c) {
                case 'i':
                        input = optarg;
                        break;
                case 'E':
                        if ((rc = vg_cli_int_arg("aggregate", "exit-idle", optarg,
                                                 1, 86400, &num)))
                                goto out;
                        exit_idle = (int)num;
                        break;
                case 'h':
                        help();
                        goto out;
                default:
                        rc = vg_cli_usage_error("aggregate", "bad option");
                        goto out;
                }
        }
        if (optind < argc) {
                rc = vg_cli_usage_error("aggregate",
                                        "unexpected argument '%s'",
                                        argv[optind]);
                goto out;
        }
        if ((rc = vg_cli_conf_finish(conf, "aggregate")))
                goto out;
        rc = input ? file_main(conf, input) : vg_aggregate_kafka(conf, exit_idle);
out:
        vg_conf_destroy(conf);
        return rc;
}
