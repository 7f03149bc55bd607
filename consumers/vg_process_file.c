/*
 * vg_process_file.c - `vigil process --input`: the engine over a file, no
 * broker. Emulates the input partitions (stream time is per partition) with
 * in-memory SQLite stores, so it runs the Kafka mode's rules, batches and
 * commits; only what is kept to the end differs (vg_partition.h,
 * vg_part_set_memory_only: patients, counters and timers in memory; alerts
 * handed over as they are emitted, not through the outbox).
 */
#include "vg_process.h"
#include "vg_process_file_out.h"
#include "vg_agg.h"
#include "vg_codec.h"
#include "vg_htab.h"
#include "vg_kafka.h"
#include "vg_partition.h"
#include "vg_lines.h"
#include "vg_meter.h"
#include "vg_ocf.h"
#include "vg_record_json.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <jansson.h>
#include <avro.h>

void vg_process_rules_conf(const vg_conf_t *conf, vg_rules_conf_t *rc) {
        vg_agg_rules_conf(conf, rc);
        rc->rc_retention_days = (int)vg_conf_int(conf, "rules.retention_days");
        rc->rc_max_events = (int)vg_conf_int(conf, "rules.max_patient_events");
        rc->rc_idle_ms = vg_conf_int(conf, "stream.idle_ms");
}

/* Where events come from: JSON Lines, or an Avro object container file
 * whose records are Vigil event records (or a union of them). */
typedef struct src_s {
        FILE              *sr_in;
        const char        *sr_name;
        vg_lines_t         sr_lines;   /* JSON Lines, bounded */
        long               sr_no;      /* line or record number */
        size_t             sr_max;     /* input.max_bytes */
        avro_file_reader_t sr_avro;    /* NULL: JSON Lines */
        avro_value_iface_t *sr_iface;
        avro_value_t       sr_value;
        vg_codec_t        *sr_codec;
} src_t;

static int src_open(src_t *sr, FILE *in, const char *name, vg_codec_t *codec,
                    char *errstr, size_t errstr_size) {
        char magic[4];
        size_t got;
        size_t max = sr->sr_max;
        memset(sr, 0, sizeof(*sr));
        sr->sr_max = max;
        sr->sr_in = in;
        sr->sr_name = name;
        sr->sr_codec = codec;
        vg_lines_init(&sr->sr_lines, in, name, sr->sr_max);
        /* Only a seekable file can be sniffed and rewound; a pipe is read
         * as JSON Lines (container files are read from files). */
        if (fseek(in, 0, SEEK_CUR))
                return 0;
        got = fread(magic, 1, 4, in);
        if (fseek(in, 0, SEEK_SET))
                return vg_seterr(errstr, errstr_size, VG_ERR_IO,
                                 "%s: cannot rewind", name), -1;
        if (got == 4 && !memcmp(magic, "Obj\x01", 4)) {
                avro_schema_t ws;
                /* (Avro C trusts a block's count and inflates it whole) */
                if (vg_ocf_check(in, name, errstr, errstr_size))
                        return -1;
                if (avro_file_reader_fp(in, name, 0, &sr->sr_avro)) {
                        vg_seterr(errstr, errstr_size, VG_ERR_IO,
                                  "%s: not a readable Avro container file: "
                                  "%s", name, avro_strerror());
                        sr->sr_avro = NULL;
                        return -1;
                }
                ws = avro_file_reader_get_writer_schema(sr->sr_avro);
                if (!vg_codec_schema_known(codec, ws, errstr, errstr_size)) {
                        char e[512];
                        snprintf(e, sizeof(e), "%s", errstr);
                        vg_seterr(errstr, errstr_size, VG_ERR_DECODE, "%s: %s",
                                  name, e);
                        avro_schema_decref(ws);
                        return -1;
                }
                sr->sr_iface = avro_generic_class_from_schema(ws);
                avro_schema_decref(ws);
                if (sr->sr_iface &&
                    avro_generic_value_new(sr->sr_iface, &sr->sr_value)) {
                        avro_value_iface_decref(sr->sr_iface);
                        sr->sr_iface = NULL;
                }
                if (!sr->sr_iface) {
                        vg_seterr(errstr, errstr_size, VG_ERR_IO, "%s: %s",
                                  name, avro_strerror());
                        return -1;
                }
                return 0;
        }
        return 0;
}

static void src_close(src_t *sr) {
        if (sr->sr_iface) {
                avro_value_decref(&sr->sr_value);
                avro_value_iface_decref(sr->sr_iface);
        }
        if (sr->sr_avro)
                avro_file_reader_close(sr->sr_avro);
        vg_lines_free(&sr->sr_lines);
}

/* 1: *ev filled; 0: end; -1: bad record (errstr; skip it); -2: fatal.
 * ev must have room for any record (vg_anyrec_t). */
static int src_next(src_t *sr, vg_event_t *ev, char *errstr,
                    size_t errstr_size) {
        if (sr->sr_avro) {
                vg_rectype_t t;
                size_t size;
                int r;
                avro_value_reset(&sr->sr_value);
                r = avro_file_reader_read_value(sr->sr_avro, &sr->sr_value);
                if (r == EOF)
                        return 0;
                sr->sr_no++;
                if (r) {
                        vg_seterr(errstr, errstr_size, VG_ERR_DECODE,
                                  "record %ld: %s", sr->sr_no,
                                  avro_strerror());
                        return -2;
                }
                /* SPEC §7's bound, as a line's and a Kafka record's (its
                 * encoded size: what a producer of it would send) */
                if (avro_value_sizeof(&sr->sr_value, &size)) {
                        vg_seterr(errstr, errstr_size, VG_ERR_DECODE,
                                  "record %ld: its size cannot be worked "
                                  "out (%s): skipped", sr->sr_no,
                                  avro_strerror());
                        return -1;
                }
                if (size > sr->sr_max) {
                        vg_seterr(errstr, errstr_size, VG_ERR_ARG,
                                  "record %ld: longer than %zu bytes "
                                  "(input.max_bytes): skipped",
                                  sr->sr_no, sr->sr_max);
                        return -1;
                }
                if (vg_codec_from_value(sr->sr_codec, &sr->sr_value, &t, ev,
                                        errstr, errstr_size))
                        return -1;
                if (!VG_REC_IS_EVENT(t)) {
                        vg_record_clear(t, ev);
                        vg_seterr(errstr, errstr_size, VG_ERR_DECODE,
                                  "not a care event");
                        return -1;
                }
                return 1;
        }
        for (;;) {
                char *line;
                size_t len;
                int r = vg_lines_next(&sr->sr_lines, &line, &len, errstr,
                                      errstr_size);
                sr->sr_no = r == VG_LINES_FATAL ? sr->sr_lines.lr_lineno + 1
                                                : sr->sr_lines.lr_lineno;
                if (r == VG_LINES_END)
                        return 0;
                if (r == VG_LINES_FATAL)
                        return -2;
                if (r == VG_LINES_BAD)
                        return -1;
                /* (a blank line, spaces and tabs too, is skipped, as
                 * vigil produce skips it) */
                size_t i = 0;
                while (i < len && (line[i] == ' ' || line[i] == '\t' ||
                                   line[i] == '\r' || line[i] == '\f' ||
                                   line[i] == '\v'))
                        i++;
                if (i == len)
                        continue;
                return vg_event_from_jsonl(line, len, ev, errstr, errstr_size)
                               ? -1
                               : 1;
        }
}

/*
 * Workers: the emulated partitions run side by side, each on one thread
 * (partition p on worker p % n), in input order within the partition, so
 * the outcome is the same as on one thread. The reader (the calling
 * thread) parses and validates lines and hands events over in chunks.
 */

/* Patients kept decoded between events, over all partitions (the others
 * packed: vg_part_set_decoded). Decoded, a simulated patient takes about
 * three times the memory, and an event of one costs about two thirds of
 * the CPU (no decode before it, no encode after): 424 MiB more peak RSS
 * on a simulated population larger than this, a quarter to a third less
 * CPU for one within it (docs/ARCHITECTURE.md, "File mode: the first
 * patients decoded"). The bound counts patients, not bytes: longer
 * histories take more. */
#define DECODED_PATIENTS 150000

#define FW_CHUNK   256 /* events per hand-over */
#define FW_INFLIGHT 64 /* chunks queued per worker at most */

typedef struct fev_s {
        vg_event_t ev;
        long       no;   /* line or record number */
        int        part; /* its partition */
        uint32_t   hash; /* vg_hash_str of its patient_id */
} fev_t;

typedef struct fchunk_s {
        struct fchunk_s *next;
        int              n;
        fev_t            v[FW_CHUNK];
} fchunk_t;

typedef struct fctx_s fctx_t;

typedef struct fworker_s {
        fctx_t         *fw_ctx;
        int             fw_id;
        int             fw_nworkers;
        pthread_t       fw_thr;
        pthread_mutex_t fw_lock;
        pthread_cond_t  fw_cond;     /* queue changed */
        fchunk_t       *fw_head, *fw_tail;
        int             fw_queued;
        bool            fw_end;      /* no more chunks */
        fchunk_t       *fw_fill;     /* the reader's chunk being filled */
        vg_codec_t     *fw_codec;    /* its partitions' encoder */
        long            fw_events, fw_invalid, fw_too_late;
        int             fw_fatal;    /* 1: a fatal error (logged) */
        falerts_t       fw_alerts;   /* its partitions' alerts, */
        tshards_t       fw_cells;    /* and counters, by shard, at the end;
                                      * shard fw_id of all workers is
                                      * summed in its own */
} fworker_t;

struct fctx_s {
        const char  *fc_name;
        int          fc_max_events;
        int64_t      fc_now;
        vg_part_t  **fc_parts;
        int         *fc_batch;
        int          fc_nparts;
        bool         fc_exiting;     /* the process exits after: the
                                      * patients are not freed */
        atomic_int   fc_stop;        /* a worker failed: stop reading */
        int64_t     *fc_wm, *fc_since, *fc_pruned; /* per partition, at
                                                    * the end */
        fworker_t   *fc_w;
        pthread_mutex_t fc_lock;
        pthread_cond_t  fc_cond;
        int          fc_celled;      /* workers whose cells are in shards */
        int          fc_nend;        /* workers ending (INT_MAX: not
                                      * known yet) */
        int          fc_scanned;     /* workers done with fw_alerts and
                                      * their shard (closing their
                                      * partitions now) */
};

/* One event on its partition: 0, or -1 on a fatal error (logged). */
static int fw_event(fworker_t *w, fev_t *f) {
        fctx_t *c = w->fw_ctx;
        int p = f->part;
        vg_part_t *part = c->fc_parts[p];
        char errstr[512];
        vg_err_t e;

        if (vg_part_begin(part, c->fc_now, errstr, sizeof(errstr))) {
                vg_error("process", "%s", errstr);
                return -1;
        }
        e = vg_part_event_hashed(part, &f->ev, f->hash, errstr,
                                 sizeof(errstr));
        if (e == VG_ERR_INVALID) { /* too late, or the patient limit */
                const char *why = vg_part_rejected(part);
                w->fw_too_late += why && !strcmp(why, "too-late");
                vg_log(VG_LOG_ERROR, "process",
                       "%s:%ld: %s", c->fc_name, f->no, errstr);
                w->fw_invalid++;
                return 0;
        }
        if (e) {
                vg_error("process", "%s:%ld: %s", c->fc_name, f->no, errstr);
                return -1;
        }
        w->fw_events++;
        if (++c->fc_batch[p] >= c->fc_max_events) {
                c->fc_batch[p] = 0;
                if (vg_part_commit(part, errstr, sizeof(errstr))) {
                        vg_error("process", "%s:%ld: %s", c->fc_name, f->no,
                                 errstr);
                        return -1;
                }
        }
        return 0;
}

/* End of input on the worker's partitions: every event type is caught
 * up, so the watermark is the largest topic time (SPEC §5.5) and what it
 * makes due falls due now. */
static int fw_finish(fworker_t *w, int nworkers) {
        fctx_t *c = w->fw_ctx;
        char errstr[512];
        int r = 0;
        for (int p = w->fw_id; p < c->fc_nparts; p += nworkers) {
                vg_part_end_of_input(c->fc_parts[p]);
                if (vg_part_begin(c->fc_parts[p], c->fc_now, errstr,
                                  sizeof(errstr)) ||
                    vg_part_commit(c->fc_parts[p], errstr, sizeof(errstr))) {
                        vg_error("process", "%s", errstr);
                        r = -1;
                }
        }
        return r;
}

/* The end, on each worker: its partitions' end of input, their alerts
 * and counters collected (the counters in shards); once every worker has
 * done so, its own shard summed over all workers and sorted; then (while
 * the reader writes) their state freed, or left to an exiting process. */
static void *fw_end_main(void *arg) {
        fworker_t *w = arg;
        fctx_t *c = w->fw_ctx;
        totals_t *mine = &w->fw_cells.tsh_v[w->fw_id];
        if (fw_finish(w, w->fw_nworkers))
                w->fw_fatal = 1;
        for (int p = w->fw_id; !w->fw_fatal && p < c->fc_nparts;
             p += w->fw_nworkers) {
                vg_part_t *part = c->fc_parts[p];
                c->fc_wm[p] = vg_part_watermark(part);
                c->fc_since[p] = vg_part_data_since(part);
                c->fc_pruned[p] = vg_part_stats(part)->ps_pruned;
                vg_part_cells_unsorted(part, vg_totals_cell, &w->fw_cells);
        }
        if (!w->fw_fatal)
                vg_falerts_json(&w->fw_alerts);
        pthread_mutex_lock(&c->fc_lock);
        c->fc_celled++;
        pthread_cond_broadcast(&c->fc_cond);
        while (c->fc_celled < c->fc_nend)
                pthread_cond_wait(&c->fc_cond, &c->fc_lock);
        pthread_mutex_unlock(&c->fc_lock);
        for (int o = 0; !w->fw_fatal && o < c->fc_nend; o++)
                if (o != w->fw_id) { /* (shard fw_id is this worker's) */
                        totals_t *t = &c->fc_w[o].fw_cells.tsh_v[w->fw_id];
                        vg_totals_sum(mine, t);
                        vg_totals_free(t);
                }
        if (!w->fw_fatal) {
                vg_totals_parents(mine);
                vg_totals_merge(mine);
        }
        pthread_mutex_lock(&c->fc_lock);
        c->fc_scanned++;
        pthread_cond_broadcast(&c->fc_cond);
        pthread_mutex_unlock(&c->fc_lock);
        for (int p = w->fw_id; p < c->fc_nparts; p += w->fw_nworkers) {
                if (c->fc_exiting)
                        vg_part_close_exiting(c->fc_parts[p]);
                else
                        vg_part_close(c->fc_parts[p]);
                c->fc_parts[p] = NULL;
        }
        return NULL;
}

typedef struct fpool_s {
        fworker_t *fp_w;
        int        fp_n;
} fpool_t;

static void *fw_main(void *arg) {
        fworker_t *w = arg;
        fctx_t *c = w->fw_ctx;
        for (;;) {
                fchunk_t *ch;
                pthread_mutex_lock(&w->fw_lock);
                while (!w->fw_head && !w->fw_end)
                        pthread_cond_wait(&w->fw_cond, &w->fw_lock);
                if (!(ch = w->fw_head)) {
                        pthread_mutex_unlock(&w->fw_lock);
                        break;
                }
                if (!(w->fw_head = ch->next))
                        w->fw_tail = NULL;
                w->fw_queued--;
                pthread_cond_signal(&w->fw_cond);
                pthread_mutex_unlock(&w->fw_lock);
                for (int i = 0; i < ch->n; i++) {
                        fev_t *f = &ch->v[i];
                        /* The patients of the next events, a step each
                         * (with millions of patients most of an event's
                         * time went waiting for memory) */
                        for (int s = 0; s < 3 && !w->fw_fatal; s++) {
                                int j = i + 10 - 2 * s;
                                if (j < ch->n)
                                        vg_part_prefetch(
                                                c->fc_parts[ch->v[j].part],
                                                ch->v[j].hash, s);
                        }
                        if (!w->fw_fatal &&
                            !atomic_load(&c->fc_stop) && fw_event(w, f)) {
                                w->fw_fatal = 1;
                                atomic_store(&c->fc_stop, 1);
                        }
                        vg_record_clear(f->ev.ev_type, &f->ev);
                }
                vg_free(ch);
        }
        return NULL;
}

/* Hands the worker's filled chunk over (waits while its queue is full). */
static void fw_flush(fworker_t *w) {
        fchunk_t *ch = w->fw_fill;
        if (!ch || !ch->n)
                return;
        w->fw_fill = NULL;
        ch->next = NULL;
        pthread_mutex_lock(&w->fw_lock);
        while (w->fw_queued >= FW_INFLIGHT)
                pthread_cond_wait(&w->fw_cond, &w->fw_lock);
        if (w->fw_tail)
                w->fw_tail->next = ch;
        else
                w->fw_head = ch;
        w->fw_tail = ch;
        w->fw_queued++;
        pthread_cond_signal(&w->fw_cond);
        pthread_mutex_unlock(&w->fw_lock);
}

/* Queues an event (ownership moves) for the worker of its partition. */
static void fw_push(fpool_t *fp, int nparts, const vg_event_t *ev, long no) {
        int p = vg_kafka_murmur2_partition(ev->ev_patient_id,
                                           strlen(ev->ev_patient_id), nparts);
        fworker_t *w = &fp->fp_w[p % fp->fp_n];
        if (!w->fw_fill)
                w->fw_fill = vg_malloc(sizeof(*w->fw_fill)), w->fw_fill->n = 0;
        w->fw_fill->v[w->fw_fill->n].ev = *ev;
        w->fw_fill->v[w->fw_fill->n].no = no;
        w->fw_fill->v[w->fw_fill->n].part = p;
        w->fw_fill->v[w->fw_fill->n].hash = vg_hash_str(ev->ev_patient_id);
        if (++w->fw_fill->n == FW_CHUNK)
                fw_flush(w);
}

/* Ends the input, waits for the workers; each then finishes its
 * partitions (in parallel). Returns -1 if any failed. */
static int fw_join(fpool_t *fp) {
        int r = 0;
        for (int i = 0; i < fp->fp_n; i++) {
                fworker_t *w = &fp->fp_w[i];
                fw_flush(w);
                pthread_mutex_lock(&w->fw_lock);
                w->fw_end = true;
                pthread_cond_signal(&w->fw_cond);
                pthread_mutex_unlock(&w->fw_lock);
        }
        for (int i = 0; i < fp->fp_n; i++) {
                pthread_join(fp->fp_w[i].fw_thr, NULL);
                if (fp->fp_w[i].fw_fatal)
                        r = -1;
        }
        return r;
}

/* Threads for the run: process.threads, 0 = one per core; at most one
 * per partition. */
static int fw_count(const vg_conf_t *conf, int partitions) {
        long n = (long)vg_conf_int(conf, "process.threads");
        if (n <= 0) {
                n = sysconf(_SC_NPROCESSORS_ONLN);
                if (n < 1)
                        n = 1;
        }
        return (int)(n < partitions ? n : partitions);
}

static int process_file(const vg_conf_t *conf, FILE *in, const char *name,
                        int partitions, FILE *alerts_out, FILE *ind_out,
                        long *invalidp, bool exiting) {
        vg_rules_conf_t rc;
        vg_part_topics_t topics;
        vg_codec_t *codec;
        char errstr[512];
        src_t sr;
        long invalid = 0, events = 0, too_late = 0, read = 0;
        int64_t pruned = 0;
        int rc_ = 0, started = 0, e;
        vg_meter_t pg_line;
        progress_t pg;
        long churn = 0;
        size_t nalerts, ncells = 0;
        totals_t **shards = NULL;
        fctx_t fc;
        fpool_t fp;

        vg_process_rules_conf(conf, &rc);
        topics.pt_alerts = vg_conf_str(conf, "topic.alerts");
        topics.pt_parts = vg_conf_str(conf, "topic.indicator_parts");
        topics.pt_dlq = vg_conf_str(conf, "topic.dlq");
        if (!(codec = vg_codec_new(errstr, sizeof(errstr)))) {
                vg_error("process", "%s", errstr);
                return 1;
        }
        memset(&sr, 0, sizeof(sr));
        memset(&fc, 0, sizeof(fc));
        sr.sr_max = (size_t)vg_conf_int(conf, "input.max_bytes");
        fc.fc_name = name;
        fc.fc_max_events = (int)vg_conf_int(conf, "batch.max_events");
        fc.fc_now = vg_now_ms();
        fc.fc_nparts = partitions;
        fc.fc_exiting = exiting;
        fc.fc_parts = vg_calloc((size_t)partitions, sizeof(*fc.fc_parts));
        fc.fc_batch = vg_calloc((size_t)partitions, sizeof(*fc.fc_batch));
        fc.fc_wm = vg_calloc((size_t)partitions, sizeof(*fc.fc_wm));
        fc.fc_since = vg_calloc((size_t)partitions, sizeof(*fc.fc_since));
        fc.fc_pruned = vg_calloc((size_t)partitions, sizeof(*fc.fc_pruned));
        pthread_mutex_init(&fc.fc_lock, NULL);
        pthread_cond_init(&fc.fc_cond, NULL);
        atomic_init(&fc.fc_stop, 0);
        fp.fp_n = fw_count(conf, partitions);
        fp.fp_w = vg_calloc((size_t)fp.fp_n, sizeof(*fp.fp_w));
        fc.fc_w = fp.fp_w;
        fc.fc_nend = INT_MAX;
        for (int i = 0; i < fp.fp_n; i++) {
                fworker_t *w = &fp.fp_w[i];
                w->fw_ctx = &fc;
                w->fw_id = i;
                w->fw_nworkers = fp.fp_n;
                w->fw_cells.tsh_n = fp.fp_n;
                w->fw_cells.tsh_v = vg_calloc((size_t)fp.fp_n,
                                              sizeof(*w->fw_cells.tsh_v));
                pthread_mutex_init(&w->fw_lock, NULL);
                pthread_cond_init(&w->fw_cond, NULL);
        }
        for (int i = 0; i < fp.fp_n; i++) {
                fworker_t *w = &fp.fp_w[i];
                /* A codec's Avro values are not shared between threads. */
                if (!(w->fw_codec = vg_codec_new(errstr, sizeof(errstr)))) {
                        vg_error("process", "%s", errstr);
                        rc_ = 1;
                        goto done;
                }
        }
        for (int p = 0; p < partitions; p++)
                if (!(fc.fc_parts[p] = vg_part_open(
                              ":memory:", p, &rc,
                              fp.fp_w[p % fp.fp_n].fw_codec, &topics, errstr,
                              sizeof(errstr)))) {
                        vg_error("process", "%s", errstr);
                        rc_ = 1;
                        goto done;
                } else {
                        /* One run, no restart: state in memory only, and
                         * the counters are read at the end (no parts). */
                        vg_part_set_parts(fc.fc_parts[p], false);
                        vg_part_set_memory_only(fc.fc_parts[p]);
                        vg_part_set_decoded(fc.fc_parts[p],
                                            DECODED_PATIENTS / partitions);
                        vg_part_set_alert_sink(
                                fc.fc_parts[p], vg_falerts_put,
                                &fp.fp_w[p % fp.fp_n].fw_alerts);
                }

        vg_meter_init(&pg_line, "process", "events",
                         vg_meter_file_size(in));
        if (src_open(&sr, in, name, codec, errstr, sizeof(errstr))) {
                vg_error("process", "%s", errstr);
                rc_ = 1;
                goto done;
        }
        for (; started < fp.fp_n; started++)
                if ((e = pthread_create(&fp.fp_w[started].fw_thr, NULL,
                                        fw_main, &fp.fp_w[started]))) {
                        vg_error("process", "cannot start a thread: %s",
                                 strerror(e));
                        rc_ = 1;
                        break;
                }
        while (!rc_ && !atomic_load(&fc.fc_stop)) {
                vg_anyrec_t any;
                vg_event_t ev;
                int r = src_next(&sr, &any.ev, errstr, sizeof(errstr));
                const char *pf;

                if (r == 1)
                        ev = any.ev;

                if (r == 0)
                        break;
                if (r == -2) {
                        vg_error("process", "%s:%ld: %s", name, sr.sr_no,
                                 errstr);
                        rc_ = 1;
                        atomic_store(&fc.fc_stop, 1); /* (the workers too) */
                        break;
                }
                if (r == 1 && (pf = vg_event_pnr_field(&ev))) {
                        /* SPEC §8: not processed, and not echoed (in any
                         * field: it would be written to the outputs) */
                        snprintf(errstr, sizeof(errstr),
                                 "%s looks like a personnummer: not "
                                 "processed (personal-data)", pf);
                        r = -1;
                        vg_record_clear(ev.ev_type, &ev);
                }
                /* ("the future" from when the line is read: a run on a
                 * stream goes on for as long as it is fed) */
                if (r == -1 ||
                    vg_event_validate(&ev, vg_now_ms(), errstr,
                                      sizeof(errstr))) {
                        vg_redact_pnr(errstr);
                        vg_log(VG_LOG_ERROR, "process",
                               "%s:%ld: %s", name, sr.sr_no,
                               errstr);
                        if (r == 1)
                                vg_record_clear(ev.ev_type, &ev);
                        invalid++;
                        continue;
                }
                fw_push(&fp, partitions, &ev, sr.sr_no);
                if ((++read & 255) == 0)
                        vg_meter_update(&pg_line, read,
                                        sr.sr_avro ? 0
                                                   : sr.sr_lines.lr_offset);
        }
        vg_meter_end(&pg_line);
        {
                /* (only the workers started are joined) */
                fpool_t run = {fp.fp_w, started};
                if (fw_join(&run))
                        rc_ = 1;
        }
        for (int i = 0; i < started; i++) {
                events += fp.fp_w[i].fw_events;
                invalid += fp.fp_w[i].fw_invalid;
                too_late += fp.fp_w[i].fw_too_late;
        }
        if (rc_)
                goto done;
        /* Each worker ends its partitions (fw_end_main). */
        started = 0;
        for (; started < fp.fp_n; started++)
                if ((e = pthread_create(&fp.fp_w[started].fw_thr, NULL,
                                        fw_end_main, &fp.fp_w[started]))) {
                        vg_error("process", "cannot start a thread: %s",
                                 strerror(e));
                        rc_ = 1;
                        break;
                }
        pthread_mutex_lock(&fc.fc_lock);
        fc.fc_nend = started; /* (the workers wait for each other) */
        pthread_cond_broadcast(&fc.fc_cond);
        while (fc.fc_scanned < started)
                pthread_cond_wait(&fc.fc_cond, &fc.fc_lock);
        pthread_mutex_unlock(&fc.fc_lock);
        for (int i = 0; i < started; i++)
                if (fp.fp_w[i].fw_fatal)
                        rc_ = 1;
        if (rc_) {
                for (int i = 0; i < started; i++)
                        pthread_join(fp.fp_w[i].fw_thr, NULL);
                goto done;
        }
        shards = vg_calloc((size_t)started + 1, sizeof(*shards));
        for (int i = 0; i < started; i++) {
                churn += fp.fp_w[i].fw_alerts.fs_churn;
                shards[i] = &fp.fp_w[i].fw_cells.tsh_v[i];
        }
        pg.pg_rc = &rc;
        pg.pg_min_wm = INT64_MAX;
        pg.pg_data_since = INT64_MAX;
        for (int p = 0; p < partitions; p++) {
                /* A partition with no events has no watermark: left out. */
                if (fc.fc_wm[p] != VG_WM_NONE && fc.fc_wm[p] < pg.pg_min_wm)
                        pg.pg_min_wm = fc.fc_wm[p];
                if (fc.fc_since[p] != VG_WM_NONE &&
                    fc.fc_since[p] < pg.pg_data_since)
                        pg.pg_data_since = fc.fc_since[p];
                pruned += fc.fc_pruned[p];
        }
        if (pg.pg_min_wm == INT64_MAX)
                pg.pg_min_wm = VG_WM_NONE;
        if (pg.pg_data_since == INT64_MAX)
                pg.pg_data_since = VG_WM_NONE;
        {
                /* The aggregator's alerts on the final values too (SPEC
                 * §5.5: the same final results as Kafka mode). */
                falerts_t targets = {0};
                falerts_t **all = vg_malloc(sizeof(*all) *
                                            (size_t)(fp.fp_n + 1));
                vg_totals_targets(shards, started, &pg, conf, fc.fc_now,
                                  &targets);
                vg_falerts_json(&targets);
                for (int i = 0; i < fp.fp_n; i++)
                        all[i] = &fp.fp_w[i].fw_alerts;
                all[fp.fp_n] = &targets;
                nalerts = vg_falerts_write(all, fp.fp_n + 1, alerts_out);
                vg_free(all);
                vg_falerts_free(&targets);
        }
        ncells = vg_totals_write(shards, started, ind_out, &pg);
        for (int i = 0; i < started; i++)
                pthread_join(fp.fp_w[i].fw_thr, NULL);
        vg_info("process",
                "%s: %ld events, %ld invalid lines (%ld of them too late), "
                "%zu alerts (%ld raised and later retracted), %zu indicator "
                "values, %d partition(s), %lld events pruned by retention",
                name, events, invalid, too_late, nalerts, churn, ncells,
                partitions, (long long)pruned);
done:
        for (int p = 0; p < partitions; p++)
                vg_part_close(fc.fc_parts[p]);
        for (int i = 0; i < fp.fp_n; i++) {
                fworker_t *w = &fp.fp_w[i];
                while (w->fw_head || w->fw_fill) { /* (not started) */
                        fchunk_t *ch = w->fw_head ? w->fw_head : w->fw_fill;
                        if (ch == w->fw_head)
                                w->fw_head = ch->next;
                        else
                                w->fw_fill = NULL;
                        for (int k = 0; k < ch->n; k++)
                                vg_record_clear(ch->v[k].ev.ev_type,
                                                &ch->v[k].ev);
                        vg_free(ch);
                }
                vg_falerts_free(&w->fw_alerts);
                for (int k = 0; w->fw_cells.tsh_v && k < fp.fp_n; k++)
                        vg_totals_free(&w->fw_cells.tsh_v[k]);
                vg_free(w->fw_cells.tsh_v);
                if (w->fw_codec)
                        vg_codec_destroy(w->fw_codec);
                pthread_mutex_destroy(&w->fw_lock);
                pthread_cond_destroy(&w->fw_cond);
        }
        vg_free(fp.fp_w);
        vg_free(shards);
        vg_free(fc.fc_parts);
        vg_free(fc.fc_batch);
        vg_free(fc.fc_wm);
        vg_free(fc.fc_since);
        vg_free(fc.fc_pruned);
        pthread_mutex_destroy(&fc.fc_lock);
        pthread_cond_destroy(&fc.fc_cond);
        src_close(&sr);
        vg_codec_destroy(codec);
        if (invalidp)
                *invalidp = invalid;
        return rc_;
}

int vg_process_file(const vg_conf_t *conf, FILE *in, const char *name,
                    int partitions, FILE *alerts_out, FILE *ind_out,
                    long *invalidp) {
        return process_file(conf, in, name, partitions, alerts_out, ind_out,
                            invalidp, false);
}

int vg_process_file_exiting(const vg_conf_t *conf, FILE *in,
                            const char *name, int partitions,
                            FILE *alerts_out, FILE *ind_out,
                            long *invalidp) {
        return process_file(conf, in, name, partitions, alerts_out, ind_out,
                            invalidp, true);
}
