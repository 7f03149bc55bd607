/*
 * produce_int.h - what the parts of `vigil produce` share (not an
 * interface for other code: vg_producers.h declares the command; only
 * `vigil simulate --publish` borrows the topic check, so that both
 * producers refuse a missing broker or topic the same way). The parts,
 * by job:
 *
 *   produce.c        the command: options, help, signals, the run (by
 *                    default every line is produced as soon as it is
 *                    valid; --strict holds everything back until the
 *                    whole input is checked), the summary
 *   produce_input.c  the input: JSON Lines read, pseudonymised, validated
 *                    and encoded, or events converted by vg_conv
 *                    (--format hl7v2|fhir) passing the same checks; what
 *                    --strict holds back
 *   produce_kafka.c  Kafka: the producer (acks=all enforced), topic
 *                    checks, produce with QUEUE_FULL back-off, delivery
 *                    reports, flush
 */
#ifndef PRODUCE_INT_H
#define PRODUCE_INT_H

#include "vg_codec.h"
#include "vg_config.h"
#include "vg_conv.h"
#include "vg_kafka.h"
#include "vg_pseudo.h"
#include "vg_record.h"

#include <signal.h>
#include <stdio.h>

#define CMD "produce"

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
        vg_conv_fmt_t     pr_fmt;         /* --format */
        vg_conv_t        *pr_conv;        /* hl7v2, fhir: the converter */
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
        long              pr_conv_refused;/* converted events refused by
                                           * check_encode (in pr_rejected
                                           * and in the converter's
                                           * invalid count) */
        int               pr_read_err;    /* an input was not read whole */
        int               pr_fatal;       /* fatal producer error seen */
} prod_t;

/* Set by SIGINT/SIGTERM (produce.c): the first stops reading input, a
 * second one also stops waiting for delivery reports. */
extern volatile sig_atomic_t produce_stop_signal, produce_stop_count;

/* produce_input.c */

/* vg_lines_each_input: reads one input (opaque: the prod_t), JSON Lines
 * or converted. Returns non-zero when no more inputs are to be read. */
int produce_read_one(void *opaque, FILE *in, const char *name);
/* Frees what --strict held back. */
void produce_free_pending(prod_t *pr);

/* produce_kafka.c */

/* Refuses kafka.* settings that contradict acks=all and idempotence.
 * Returns 0 or VG_EXIT_USAGE after a message. */
int produce_check_kafka_overrides(const vg_conf_t *conf);
/* Creates the producer; bootstrap receives bootstrap.servers. Returns 0,
 * or an exit status after a message. */
int produce_kafka_setup(prod_t *pr, char *bootstrap, size_t bootstrap_size);
/* The broker answers and every target topic exists. Returns 0 or
 * VG_EXIT_FAIL after a message. */
int produce_check_topics(prod_t *pr, const char *bootstrap);
/* The same for any producer rk (created with allow.auto.create.topics
 * false, or the check may create what it looks for) and its topics by
 * vg_rectype_t; messages start "vigil CMD: ". Waits up to 10 s per
 * metadata request. */
int produce_check_topics_of(const char *cmd, rd_kafka_t *rk,
                            const char *const topics[VG_EVENT_TYPES],
                            const char *bootstrap);
/* Hands one encoded event to librdkafka; a refused one counts as failed. */
void produce_one(prod_t *pr, int type, const char *key, const void *value,
                 size_t len, const pmsg_t *src);
/* Waits up to --timeout for every delivery report; what is missing then
 * counts as failed. */
void produce_flush_all(prod_t *pr);
/* The same for any producer (simulate's too): waits until *reported (what
 * the delivery callback counted) reaches queued, up to timeout_ms, or
 * signal_ms once *stop is set (0: no shorter wait); *stop > 1 ends the
 * wait. What is outstanding then is purged and added to *failed, never
 * left to message.timeout.ms. */
void produce_drain(const char *cmd, rd_kafka_t *rk, long queued,
                   long *reported, long *failed, int64_t timeout_ms,
                   int64_t signal_ms, const volatile sig_atomic_t *stop);

#endif /* PRODUCE_INT_H */
