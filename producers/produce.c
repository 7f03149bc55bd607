/*
 * produce.c - `vigil produce`: publish JSON Lines care events (SPEC §9) to
 * their Kafka topics (SPEC §2) with an idempotent producer.
 *
 * Contents:
 *   - options and help;
 *   - one line: parse, pseudonymise a personnummer (SPEC §8, vg_pseudo),
 *     validate (SPEC §3, §7), encode (vg_codec);
 *   - Kafka: producer set-up with acks=all enforced, topic checks, produce
 *     with QUEUE_FULL back-off, delivery reports, flush;
 *   - the command: by default every line is produced as soon as it is
 *     valid and bad lines are skipped; --strict reads and checks the whole
 *     input first and produces nothing if a line is bad.
 *
 * A personnummer never leaves this file: it is replaced by its pseudonym
 * before the event is decoded, errors about it never quote it, and any
 * message quoting input is passed through vg_pseudo_redact() first.
 */
#include "vg_cli.h"
#include "vg_codec.h"
#include "vg_config.h"
#include "vg_kafka.h"
#include "vg_lines.h"
#include "vg_meter.h"
#include "vg_pseudo.h"
#include "vg_producers.h"
#include "vg_record.h"
#include "vg_record_json.h"
#include "vg_time.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CMD "produce"
/* How long the topic checks wait for the broker. */
#define METADATA_TIMEOUT_MS 10000
#define DEFAULT_TIMEOUT_S 60.0

/* Where a message came from, for its delivery report. */
typedef struct pmsg_s {
        const char *pm_file;   /* input name (argv or "<stdin>") */
        long        pm_line;   /* 1-based line number */
} pmsg_t;

/* A valid, encoded event held back by --strict until all input is read. */
typedef struct pending_s {
        int     pd_type;       /* VG_REC_ADMISSION..VG_REC_SIP */
        char   *pd_key;        /* patient_id */
        char   *pd_value;      /* single-object Avro bytes */
        size_t  pd_len;
        pmsg_t  pd_src;
} pending_t;

typedef struct prod_s {
        vg_conf_t        *pr_conf;
        vg_codec_t       *pr_codec;
        rd_kafka_t       *pr_rk;          /* NULL with --dry-run */
        const char       *pr_topics[VG_EVENT_TYPES]; /* by vg_rectype_t */
        vg_pseudo_key_t   pr_key;         /* empty: no personnummer input */
        int64_t           pr_now_ms;      /* wall clock for validation */
        int64_t           pr_today;       /* local date, for personnummer */
        int               pr_strict;
        int               pr_dry_run;
        double            pr_timeout_s;   /* flush wait after the input */
        vg_buf_t          pr_enc;         /* encode buffer */
        pending_t        *pr_pending;     /* --strict */
        size_t            pr_pending_cnt;
        size_t            pr_pending_size;
        long              pr_valid;       /* lines that passed every check */
        long              pr_queued;      /* accepted by librdkafka */
        long              pr_reported;    /* delivery reports received */
        long              pr_delivered;
        long              pr_failed;
        long              pr_rejected;    /* invalid lines */
        int               pr_fatal;       /* fatal producer error seen */
} prod_t;

/* Set by SIGINT/SIGTERM: the first stops reading input, a second one also
 * stops waiting for delivery reports. */
static volatile sig_atomic_t stop_signal, stop_count;

static void on_signal(int sig) {
        stop_signal = sig;
        stop_count++;
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
               "  -k, --key-file FILE  pseudonym key (default: config key "
               "pseudonym.key_file)\n"
               "      --strict         produce nothing unless every line is "
               "valid\n"
               "      --dry-run        check and encode only; no broker "
               "needed\n"
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
               "(rejected = invalid lines, failed = valid events Kafka did "
               "not accept). Use\n"
               "-X log.level=debug for one line per delivered event.\n"
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
/* Rejected lines                                                     */
/* ------------------------------------------------------------------ */

/* Prints "file:line: msg" for a rejected line, redacted. */
static void reject(prod_t *pr, const char *file, long lineno, const char *msg) {
        char buf[1024];
        snprintf(buf, sizeof(buf), "%s", msg);
        vg_pseudo_redact(buf);
        fprintf(stderr, "%s:%ld: %s\n", file, lineno, buf);
        pr->pr_rejected++;
}

/* ------------------------------------------------------------------ */
/* One line                                                           */
/* ------------------------------------------------------------------ */

/* Replaces "personnummer" by "patient_id" = its pseudonym. Returns 0, or -1
 * with errstr "personnummer: reason" (never quoting the number). */
static int pseudonymise(prod_t *pr, json_t *obj, char *errstr,
                        size_t errstr_size) {
        json_t *pnr = json_object_get(obj, "personnummer");
        char norm[VG_PSEUDO_PNR_BUFSZ], hex[VG_PSEUDO_HEX_BUFSZ], e[256];
        vg_err_t err;

        if (!pnr) {
                json_t *pid = json_object_get(obj, "patient_id");
                if (json_is_string(pid) &&
                    vg_pseudo_is_pnr(json_string_value(pid), pr->pr_today)) {
                        vg_seterr(errstr, errstr_size, VG_ERR_INVALID,
                                  "patient_id: is a personnummer, which must "
                                  "not be published (send it as "
                                  "\"personnummer\" with --key-file)");
                        return -1;
                }
                return 0;
        }
        if (json_object_get(obj, "patient_id")) {
                vg_seterr(errstr, errstr_size, VG_ERR_INVALID,
                          "personnummer: both personnummer and patient_id "
                          "given (give one)");
                return -1;
        }
        if (!json_is_string(pnr)) {
                vg_seterr(errstr, errstr_size, VG_ERR_INVALID,
                          "personnummer: expected a string");
                return -1;
        }
        if (!pr->pr_key.pk_len) {
                vg_seterr(errstr, errstr_size, VG_ERR_INVALID,
                          "personnummer: no pseudonym key (use --key-file)");
                return -1;
        }
        if (vg_pseudo_normalise(json_string_value(pnr), pr->pr_today, norm, e,
                                sizeof(e))) {
                vg_seterr(errstr, errstr_size, VG_ERR_INVALID,
                          "personnummer: %s", e);
                return -1;
        }
        err = vg_pseudo_hmac(pr->pr_key.pk_data, pr->pr_key.pk_len, norm, hex);
        memset(norm, 0, sizeof(norm));
        if (err) {
                vg_seterr(errstr, errstr_size, err,
                          "personnummer: HMAC-SHA256 failed");
                return -1;
        }
        json_object_del(obj, "personnummer");
        json_object_set_new(obj, "patient_id", json_string(hex));
        return 0;
}

/* Parses, pseudonymises, validates and encodes one non-blank line into ev
 * and pr->pr_enc. Returns 0, or -1 after reporting the line as rejected. */
static int prepare(prod_t *pr, const char *file, long lineno, const char *line,
                   size_t len, vg_event_t *ev) {
        char errstr[512];
        json_error_t jerr;
        json_t *obj;
        vg_err_t err;

        memset(ev, 0, sizeof(*ev));
        obj = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
        if (!obj) {
                /* jansson quotes the offending token ("... near '...'"):
                 * drop it, it may be a personnummer. */
                char *near = strstr(jerr.text, " near '");
                if (near)
                        *near = '\0';
                snprintf(errstr, sizeof(errstr),
                         "not valid JSON: column %d: %s", jerr.column,
                         jerr.text);
                reject(pr, file, lineno, errstr);
                return -1;
        }
        pr->pr_today = vg_local_day(VG_TZ_STOCKHOLM, vg_now_ms());
        if (json_is_object(obj) &&
            pseudonymise(pr, obj, errstr, sizeof(errstr))) {
                json_decref(obj);
                reject(pr, file, lineno, errstr);
                return -1;
        }
        err = vg_event_from_json(obj, ev, errstr, sizeof(errstr));
        json_decref(obj);
        if (!err) { /* SPEC §8: no personnummer in any field, valid or not */
                const vg_rectype_desc_t *rt = vg_rectype(ev->ev_type);
                for (int i = 0; i < rt->rt_nfields && !err; i++) {
                        const vg_field_t *f = &rt->rt_fields[i];
                        const char *v;
                        if (f->vf_type != VG_F_STRING &&
                            f->vf_type != VG_F_OSTRING)
                                continue;
                        v = *(char *const *)((const char *)ev +
                                             f->vf_offset);
                        if (v && vg_pseudo_spelt_like(v))
                                err = vg_seterr(errstr, sizeof(errstr),
                                                VG_ERR_INVALID,
                                                "%s: looks like a "
                                                "personnummer, which must "
                                                "not be published",
                                                f->vf_name);
                }
        }
        if (!err) {
                /* The clock moves on in a long-running pipe. */
                pr->pr_now_ms = vg_now_ms();
                pr->pr_today = vg_local_day(VG_TZ_STOCKHOLM, pr->pr_now_ms);
                err = vg_event_validate(ev, pr->pr_now_ms, errstr,
                                        sizeof(errstr));
        }
        if (!err) {
                vg_buf_reset(&pr->pr_enc);
                err = vg_codec_encode(pr->pr_codec, ev->ev_type, ev,
                                      &pr->pr_enc, errstr, sizeof(errstr));
        }
        if (err) {
                vg_record_clear(ev->ev_type, ev);
                reject(pr, file, lineno, errstr);
                return -1;
        }
        pr->pr_valid++;
        return 0;
}

/* ------------------------------------------------------------------ */
/* Kafka                                                              */
/* ------------------------------------------------------------------ */

static void dr_msg_cb(rd_kafka_t *rk, const rd_kafka_message_t *m,
                      void *opaque) {
        prod_t *pr = opaque;
        pmsg_t *pm = m->_private;

        pr->pr_reported++;
        if (m->err) {
                pr->pr_failed++;
                fprintf(stderr, "%s:%ld: not delivered to %s: %s\n",
                        pm->pm_file, pm->pm_line, rd_kafka_topic_name(m->rkt),
                        rd_kafka_err2str(m->err));
        } else {
                pr->pr_delivered++;
                vg_debug(CMD, "%s:%ld: delivered to %s [%d] at offset %lld",
                         pm->pm_file, pm->pm_line, rd_kafka_topic_name(m->rkt),
                         (int)m->partition, (long long)m->offset);
        }
        vg_free(pm);
}

static void error_cb(rd_kafka_t *rk, int err, const char *reason,
                     void *opaque) {
        prod_t *pr = opaque;
        char fatal[512];

        if (err == RD_KAFKA_RESP_ERR__FATAL) {
                rd_kafka_fatal_error(rk, fatal, sizeof(fatal));
                vg_error(CMD, "fatal producer error, stopping: %s", fatal);
                pr->pr_fatal = 1;
        } else
                vg_warn(CMD, "kafka: %s: %s",
                        rd_kafka_err2name((rd_kafka_resp_err_t)err), reason);
}

/* SPEC §7: the producer is idempotent with acks=all. Rejects user settings
 * that contradict it: applies the kafka.* keys over the required values
 * and reads them back. Returns 0 or VG_EXIT_USAGE after a message. */
static int check_kafka_overrides(const vg_conf_t *conf) {
        static const struct {
                const char *key, *want, *alt;
        } req[] = {
                {"enable.idempotence", "true", NULL},
                {"acks", "-1", "all"},
        };
        rd_kafka_conf_t *probe = rd_kafka_conf_new();
        char errstr[512], v[64];
        int rc = 0;

        for (size_t i = 0; i < VG_ARRAY_SIZE(req); i++)
                if (vg_kafka_set(probe, req[i].key,
                                 req[i].alt ? req[i].alt : req[i].want, errstr,
                                 sizeof(errstr)))
                        goto bad;
        if (vg_conf_kafka(conf, probe, errstr, sizeof(errstr)))
                goto bad;
        for (size_t i = 0; i < VG_ARRAY_SIZE(req); i++) {
                size_t vn = sizeof(v);
                if (rd_kafka_conf_get(probe, req[i].key, v, &vn) !=
                            RD_KAFKA_CONF_OK ||
                    (strcmp(v, req[i].want) &&
                     (!req[i].alt || strcmp(v, req[i].alt)))) {
                        fprintf(stderr,
                                "vigil %s: kafka.%s=%s is not allowed: events "
                                "are produced by an idempotent producer with "
                                "acks=all (docs/RUNBOOK.md); remove the setting\n",
                                CMD, req[i].key, v);
                        rc = VG_EXIT_USAGE;
                        break;
                }
        }
        rd_kafka_conf_destroy(probe);
        return rc;
bad:
        fprintf(stderr, "vigil %s: %s\n", CMD, errstr);
        rd_kafka_conf_destroy(probe);
        return VG_EXIT_USAGE;
}

/* Creates the producer. Returns 0, or an exit status after a message. */
static int kafka_setup(prod_t *pr, char *bootstrap, size_t bootstrap_size) {
        char errstr[512];
        rd_kafka_conf_t *kconf;

        /* Idempotent, acks=all (check_kafka_overrides() refused contrary
         * settings) and the murmur2 partitioner every Vigil producer uses,
         * so a patient's events share a partition number (SPEC §2). */
        if (!(kconf = vg_kafka_producer_conf(pr->pr_conf, errstr,
                                             sizeof(errstr)))) {
                fprintf(stderr, "vigil %s: %s\n", CMD, errstr);
                return VG_EXIT_USAGE;
        }
        /* No auto-creation: a topic created by a producer gets the broker's
         * default partition count and breaks co-partitioning (SPEC §2). */
        if (vg_kafka_set(kconf, "allow.auto.create.topics", "false", errstr,
                         sizeof(errstr))) {
                fprintf(stderr, "vigil %s: %s\n", CMD, errstr);
                rd_kafka_conf_destroy(kconf);
                return VG_EXIT_FAIL;
        }
        if (rd_kafka_conf_get(kconf, "bootstrap.servers", bootstrap,
                              &bootstrap_size) != RD_KAFKA_CONF_OK)
                snprintf(bootstrap, bootstrap_size, "?");
        rd_kafka_conf_set_dr_msg_cb(kconf, dr_msg_cb);
        rd_kafka_conf_set_error_cb(kconf, error_cb);
        rd_kafka_conf_set_opaque(kconf, pr);
        pr->pr_rk = rd_kafka_new(RD_KAFKA_PRODUCER, kconf, errstr,
                                 sizeof(errstr));
        if (!pr->pr_rk) {
                fprintf(stderr, "vigil %s: cannot create the producer: %s\n",
                        CMD, errstr);
                rd_kafka_conf_destroy(kconf);
                return VG_EXIT_USAGE;
        }
        kconf = NULL; /* now owned by pr_rk */
        return 0;
}

/* Checks that the broker answers and every target topic exists, before
 * anything is produced. Returns 0 or VG_EXIT_FAIL after a message. */
static int check_topics(prod_t *pr, const char *bootstrap) {
        const struct rd_kafka_metadata *md = NULL;
        const char *unknown =
                rd_kafka_err2str(RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART);
        char errstr[512];
        int cnt[VG_EVENT_TYPES], mismatch = 0;
        rd_kafka_resp_err_t err;

        /* Broker metadata without topics: is anyone there? */
        err = rd_kafka_metadata(pr->pr_rk, 0, NULL, &md, METADATA_TIMEOUT_MS);
        if (err) {
                fprintf(stderr,
                        "vigil %s: cannot reach the Kafka broker at %s: %s "
                        "(is it running? set it with -b or "
                        "kafka.bootstrap.servers)\n",
                        CMD, bootstrap, rd_kafka_err2str(err));
                return VG_EXIT_FAIL;
        }
        rd_kafka_metadata_destroy(md);
        for (int t = 0; t < VG_EVENT_TYPES; t++) {
                cnt[t] = vg_kafka_partition_count(pr->pr_rk, pr->pr_topics[t],
                                                  METADATA_TIMEOUT_MS, errstr,
                                                  sizeof(errstr));
                if (cnt[t] >= 0) {
                        mismatch |= cnt[t] != cnt[0];
                        continue;
                }
                if (strstr(errstr, unknown))
                        fprintf(stderr,
                                "vigil %s: topic %s does not exist (create "
                                "it, see README); nothing produced\n",
                                CMD, pr->pr_topics[t]);
                else
                        fprintf(stderr, "vigil %s: %s; nothing produced\n",
                                CMD, errstr);
                return VG_EXIT_FAIL;
        }
        if (mismatch)
                vg_warn(CMD,
                        "input topics have different partition counts (%s: "
                        "%d, %s: %d, %s: %d, %s: %d); consumers refuse to "
                        "start until they are equal (docs/EVENTS.md)",
                        pr->pr_topics[0], cnt[0], pr->pr_topics[1], cnt[1],
                        pr->pr_topics[2], cnt[2], pr->pr_topics[3], cnt[3]);
        return 0;
}

/* Hands one encoded event to librdkafka (copied). On QUEUE_FULL serves
 * delivery reports for 100 ms and retries. A refused message counts as
 * failed. */
static void produce_one(prod_t *pr, int type, const char *key,
                        const void *value, size_t len, const pmsg_t *src) {
        pmsg_t *pm = vg_malloc(sizeof(*pm));
        rd_kafka_resp_err_t err;

        *pm = *src;
        for (;;) {
                err = rd_kafka_producev(
                        pr->pr_rk, RD_KAFKA_V_TOPIC(pr->pr_topics[type]),
                        RD_KAFKA_V_KEY(key, strlen(key)),
                        RD_KAFKA_V_VALUE((void *)value, len),
                        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                        RD_KAFKA_V_OPAQUE(pm), RD_KAFKA_V_END);
                if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL || pr->pr_fatal ||
                    stop_signal)
                        break;
                rd_kafka_poll(pr->pr_rk, 100);
        }
        if (err) {
                pr->pr_failed++;
                if (err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE)
                        fprintf(stderr,
                                "%s:%ld: not produced: the encoded event is "
                                "%zu bytes, more than the producer's "
                                "message.max.bytes\n",
                                src->pm_file, src->pm_line, len);
                else
                        fprintf(stderr, "%s:%ld: not produced: %s\n",
                                src->pm_file, src->pm_line,
                                rd_kafka_err2str(err));
                vg_free(pm);
                return;
        }
        pr->pr_queued++;
        rd_kafka_poll(pr->pr_rk, 0);
}

/* Waits up to --timeout for every delivery report; what is still
 * outstanding then is purged and counted as failed. */
static void flush_all(prod_t *pr) {
        int64_t deadline = vg_now_ms() + (int64_t)(pr->pr_timeout_s * 1000);

        while (pr->pr_reported < pr->pr_queued) {
                int64_t left = deadline - vg_now_ms();
                if (left <= 0 || stop_count > 1)
                        break;
                rd_kafka_flush(pr->pr_rk, left > 500 ? 500 : (int)left);
        }
        if (pr->pr_reported < pr->pr_queued) {
                vg_error(CMD, "%ld event(s) not delivered within %.0f s; "
                         "counting them as failed",
                         pr->pr_queued - pr->pr_reported, pr->pr_timeout_s);
                rd_kafka_purge(pr->pr_rk, RD_KAFKA_PURGE_F_QUEUE |
                                                  RD_KAFKA_PURGE_F_INFLIGHT);
                /* Purged messages get (failed) delivery reports. */
                for (int i = 0; i < 20 && pr->pr_reported < pr->pr_queued; i++)
                        rd_kafka_poll(pr->pr_rk, 100);
                /* Any report still missing: failed, not lost silently. */
                pr->pr_failed += pr->pr_queued - pr->pr_reported;
                pr->pr_reported = pr->pr_queued;
        }
}

/* ------------------------------------------------------------------ */
/* Input                                                              */
/* ------------------------------------------------------------------ */

static void keep_pending(prod_t *pr, const vg_event_t *ev, const pmsg_t *src) {
        pending_t *pd;
        if (pr->pr_pending_cnt == pr->pr_pending_size) {
                pr->pr_pending_size = pr->pr_pending_size ? 2 * pr->pr_pending_size
                                                          : 64;
                pr->pr_pending = vg_realloc(pr->pr_pending,
                                            pr->pr_pending_size *
                                                    sizeof(*pr->pr_pending));
        }
        pd = &pr->pr_pending[pr->pr_pending_cnt++];
        pd->pd_type = ev->ev_type;
        pd->pd_key = vg_strdup(ev->ev_patient_id);
        pd->pd_value = vg_malloc(pr->pr_enc.vb_len ? pr->pr_enc.vb_len : 1);
        memcpy(pd->pd_value, pr->pr_enc.vb_data, pr->pr_enc.vb_len);
        pd->pd_len = pr->pr_enc.vb_len;
        pd->pd_src = *src;
}

static void free_pending(prod_t *pr) {
        for (size_t i = 0; i < pr->pr_pending_cnt; i++) {
                vg_free(pr->pr_pending[i].pd_key);
                vg_free(pr->pr_pending[i].pd_value);
        }
        vg_free(pr->pr_pending);
        pr->pr_pending = NULL;
        pr->pr_pending_cnt = pr->pr_pending_size = 0;
}

static bool is_blank(const char *s, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (!isspace((unsigned char)s[i]))
                        return false;
        return true;
}

/* Reads one input. Returns 0, or -1 when reading must stop (read error,
 * --strict and a bad line, a signal, a fatal producer error). */
static int read_input(prod_t *pr, FILE *in, const char *name) {
        vg_lines_t lr;
        char *line, errstr[256];
        size_t n;
        int rc = 0, r;

        vg_meter_t pg;
        vg_lines_init(&lr, in, name,
                      (size_t)vg_conf_int(pr->pr_conf, "input.max_bytes"));
        lr.lr_stop = &stop_signal;
        vg_meter_init(&pg, "produce", "lines", vg_meter_file_size(in));
        while (!stop_signal && !pr->pr_fatal &&
               (r = vg_lines_next(&lr, &line, &n, errstr, sizeof(errstr))) !=
                       VG_LINES_END) {
                vg_event_t ev;
                pmsg_t src = {name, lr.lr_lineno};

                if ((lr.lr_lineno & 255) == 0)
                        vg_meter_update(&pg, lr.lr_lineno, ftell(in));

                if (r == VG_LINES_FATAL) {
                        if (!stop_signal)
                                fprintf(stderr, "vigil %s: %s:%ld: %s\n", CMD,
                                        name, lr.lr_lineno + 1, errstr);
                        rc = -1;
                        break;
                }
                if (r == VG_LINES_BAD) { /* too long: named, skipped */
                        reject(pr, name, lr.lr_lineno, errstr);
                        if (pr->pr_strict) {
                                rc = -1;
                                break;
                        }
                        continue;
                }
                if (is_blank(line, n))
                        continue;
                if (prepare(pr, name, lr.lr_lineno, line, n, &ev)) {
                        if (pr->pr_strict) {
                                rc = -1;
                                break;
                        }
                        continue;
                }
                if (pr->pr_strict && !pr->pr_dry_run)
                        keep_pending(pr, &ev, &src);
                else if (!pr->pr_dry_run)
                        produce_one(pr, ev.ev_type, ev.ev_patient_id,
                                    pr->pr_enc.vb_data, pr->pr_enc.vb_len,
                                    &src);
                vg_record_clear(ev.ev_type, &ev);
        }
        vg_meter_end(&pg);
        if (stop_signal || pr->pr_fatal)
                rc = -1;
        vg_lines_free(&lr); /* zeroed: a line may hold a personnummer */
        return rc;
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
        static const struct option opts[] = {
                {"key-file", required_argument, NULL, 'k'},
                {"strict", no_argument, NULL, 'S'},
                {"dry-run", no_argument, NULL, 'N'},
                {"timeout", required_argument, NULL, 'T'},
                {"help", no_argument, NULL, 'h'},
                {NULL, 0, NULL, 0},
        };
        prod_t pr = {0};
        const char *key_file = NULL;
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
                        rc = optopt && strchr("snt", optopt)
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
        if (rc || (rc = check_kafka_overrides(pr.pr_conf)))
                goto done;

        /* Every input must be readable before anything is produced. */
        nfiles = argc - optind;
        for (int i = optind; i < argc; i++) {
                FILE *fp;
                if (!strcmp(argv[i], "-"))
                        continue;
                if (!(fp = fopen(argv[i], "r"))) {
                        fprintf(stderr, "vigil %s: %s: %s\n", CMD, argv[i],
                                strerror(errno));
                        rc = VG_EXIT_FAIL;
                        goto done;
                }
                fclose(fp);
        }

        if (!key_file)
                key_file = vg_conf_str(pr.pr_conf, "pseudonym.key_file");
        if (key_file && *key_file) {
                int group_readable;
                if (vg_pseudo_key_load(key_file, &pr.pr_key, &group_readable,
                                       errstr, sizeof(errstr))) {
                        fprintf(stderr, "vigil %s: %s\n", CMD, errstr);
                        rc = VG_EXIT_FAIL;
                        goto done;
                }
                if (group_readable)
                        vg_warn(CMD, "pseudonym key file %s is readable by "
                                "group or others; chmod 600 it", key_file);
        }
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
            ((rc = kafka_setup(&pr, bootstrap, sizeof(bootstrap))) ||
             (rc = check_topics(&pr, bootstrap))))
                goto done;

        /* SIGINT/SIGTERM: stop reading, still wait for what was sent. No
         * SA_RESTART, so a read from a terminal or pipe returns. */
        sa.sa_handler = on_signal;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGINT, &sa, &old_int);
        sigaction(SIGTERM, &sa, &old_term);

        for (int i = 0; i < (nfiles ? nfiles : 1); i++) {
                const char *path = nfiles ? argv[optind + i] : "-";
                int is_stdin = !strcmp(path, "-");
                FILE *in = is_stdin ? stdin : fopen(path, "r");
                int r;
                if (!in) {
                        fprintf(stderr, "vigil %s: %s: %s\n", CMD, path,
                                strerror(errno));
                        rc = VG_EXIT_FAIL;
                        if (pr.pr_strict)
                                break;
                        continue;
                }
                r = read_input(&pr, in, is_stdin ? "<stdin>" : path);
                if (!is_stdin)
                        fclose(in);
                if (r) {
                        rc = VG_EXIT_FAIL;
                        /* A read error only ends this file, unless --strict. */
                        if (pr.pr_strict || stop_signal || pr.pr_fatal)
                                break;
                }
        }
        if (stop_signal) {
                vg_warn(CMD, "interrupted (signal %d): no more input read",
                        (int)stop_signal);
                interrupted = 1;
        }

        if (pr.pr_strict && (rc || pr.pr_rejected)) {
                if (!pr.pr_dry_run)
                        fprintf(stderr, "vigil %s: --strict: nothing "
                                "produced\n", CMD);
        } else if (pr.pr_strict && !pr.pr_dry_run) {
                for (size_t i = 0; i < pr.pr_pending_cnt && !pr.pr_fatal &&
                                   !stop_signal;
                     i++) {
                        pending_t *pd = &pr.pr_pending[i];
                        produce_one(&pr, pd->pd_type, pd->pd_key, pd->pd_value,
                                    pd->pd_len, &pd->pd_src);
                }
        }
        if (pr.pr_rk)
                flush_all(&pr);
        sigaction(SIGINT, &old_int, NULL);
        sigaction(SIGTERM, &old_term, NULL);

        if (pr.pr_dry_run)
                fprintf(stderr, "produce: dry run: %ld valid, %ld rejected "
                        "(nothing produced)\n", pr.pr_valid, pr.pr_rejected);
        else
                fprintf(stderr, "produce: %ld delivered, %ld failed, %ld "
                        "rejected\n", pr.pr_delivered, pr.pr_failed,
                        pr.pr_rejected);
        if (rc || interrupted || pr.pr_failed || pr.pr_rejected || pr.pr_fatal)
                rc = VG_EXIT_FAIL;

done:
        if (pr.pr_rk)
                rd_kafka_destroy(pr.pr_rk);
        free_pending(&pr);
        vg_codec_destroy(pr.pr_codec);
        vg_pseudo_key_clear(&pr.pr_key);
        vg_buf_free(&pr.pr_enc);
        vg_conf_destroy(pr.pr_conf);
        return rc;
}
