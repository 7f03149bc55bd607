/*
 * txn_produce.c - test helper of 0025: writes JSON Lines events to the five
 * input topics the way a hospital system with an exactly-once producer
 * would, in Kafka transactions. Every CHUNK lines make two transactions:
 * one with the lines it keeps, committed, and one with the lines it drops
 * (every ABORT_MOD-th line, from the second on), aborted. A read_committed
 * consumer sees the kept lines only, with commit and abort markers between
 * them and after the last. The kept lines go to KEPT, for file mode.
 * With HOLD, the last transaction of kept lines is left open: its records
 * are written (a read_committed consumer stops before them, at the last
 * stable offset), HOLD.open then says how many there are, and the
 * transaction commits once the file HOLD exists (2 minutes at most).
 *
 *   txn_produce BOOTSTRAP PREFIX ABORT_MOD CHUNK EVENTS KEPT [HOLD]
 *
 * Topics PREFIX.adm, .dis, .dea, .sip, .reg (tests/integration/lib/
 * common.sh's topic_args); key patient_id, murmur2, as vigil produce.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "vg_codec.h"
#include "vg_record_json.h"

static void die(const char *what, rd_kafka_error_t *e) {
        fprintf(stderr, "txn_produce: %s: %s\n", what,
                e ? rd_kafka_error_string(e) : "failed");
        exit(1);
}

/* Says that n records wait in an open transaction (HOLD.open, made whole
 * by a rename), then waits for HOLD. */
static void hold_open(const char *hold, int n) {
        char tmp[4096], open_[4096];
        FILE *f;
        snprintf(tmp, sizeof(tmp), "%s.tmp", hold);
        snprintf(open_, sizeof(open_), "%s.open", hold);
        if (!(f = fopen(tmp, "w")) || fprintf(f, "%d\n", n) < 0 ||
            fclose(f) || rename(tmp, open_))
                die("hold: write", NULL);
        for (int i = 0; access(hold, F_OK); i++) {
                if (i == 1200)
                        die("hold: nobody made the file in 2 minutes", NULL);
                usleep(100 * 1000);
        }
}

static void txn(rd_kafka_t *rk, vg_codec_t *codec, char **lines, int n,
                const char *prefix, bool commit, const char *hold) {
        static const char *const suffix[] = {"adm", "dis", "dea", "sip",
                                             "reg"};
        rd_kafka_error_t *e;
        if (!n)
                return;
        if ((e = rd_kafka_begin_transaction(rk)))
                die("begin", e);
        for (int i = 0; i < n; i++) {
                vg_event_t ev;
                vg_buf_t b;
                char err[256], topic[256];
                rd_kafka_resp_err_t r;
                if (vg_event_from_jsonl(lines[i], strlen(lines[i]), &ev, err,
                                        sizeof(err))) {
                        fprintf(stderr, "txn_produce: %s\n", err);
                        exit(1);
                }
                vg_buf_init(&b);
                if (vg_codec_encode(codec, ev.ev_type, &ev, &b, err,
                                    sizeof(err))) {
                        fprintf(stderr, "txn_produce: %s\n", err);
                        exit(1);
                }
                snprintf(topic, sizeof(topic), "%s.%s", prefix,
                         suffix[ev.ev_type - VG_REC_ADMISSION]);
                do {
                        r = rd_kafka_producev(
                                rk, RD_KAFKA_V_TOPIC(topic),
                                RD_KAFKA_V_KEY(ev.ev_patient_id,
                                               strlen(ev.ev_patient_id)),
                                RD_KAFKA_V_VALUE(b.vb_data, b.vb_len),
                                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                RD_KAFKA_V_END);
                        if (r == RD_KAFKA_RESP_ERR__QUEUE_FULL)
                                rd_kafka_poll(rk, 100);
                } while (r == RD_KAFKA_RESP_ERR__QUEUE_FULL);
                if (r)
                        die(rd_kafka_err2str(r), NULL);
                vg_buf_free(&b);
                vg_record_clear(ev.ev_type, &ev);
        }
        /* Delivered first: the aborted events are in the log, for the
         * consumer to skip (an abort could drop what is still queued). */
        if (rd_kafka_flush(rk, 60000))
                die("flush", NULL);
        if (hold)
                hold_open(hold, n);
        e = commit ? rd_kafka_commit_transaction(rk, 60000)
                   : rd_kafka_abort_transaction(rk, 60000);
        if (e)
                die(commit ? "commit" : "abort", e);
}

int main(int argc, char **argv) {
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        rd_kafka_error_t *e;
        vg_codec_t *codec;
        rd_kafka_t *rk;
        char err[512], *line = NULL, **keep, **drop, tid[64];
        size_t cap = 0;
        int mod, chunk, nk = 0, nd = 0, no = 0, kept = 0, dropped = 0;
        FILE *in, *out;

        if (argc != 7 && argc != 8) {
                fprintf(stderr, "usage: txn_produce BOOTSTRAP PREFIX "
                                "ABORT_MOD CHUNK EVENTS KEPT [HOLD]\n");
                return 2;
        }
        mod = atoi(argv[3]);
        chunk = atoi(argv[4]);
        if (mod < 2 || chunk < 1 || !(in = fopen(argv[5], "r")) ||
            !(out = fopen(argv[6], "w"))) {
                fprintf(stderr, "txn_produce: bad arguments\n");
                return 2;
        }
        snprintf(tid, sizeof(tid), "vigil-test-txn-%d", (int)getpid());
        if (rd_kafka_conf_set(conf, "bootstrap.servers", argv[1], err,
                              sizeof(err)) ||
            rd_kafka_conf_set(conf, "transactional.id", tid, err,
                              sizeof(err)) ||
            rd_kafka_conf_set(conf, "partitioner", "murmur2_random", err,
                              sizeof(err)) ||
            !(rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err)))) {
                fprintf(stderr, "txn_produce: %s\n", err);
                return 1;
        }
        if ((e = rd_kafka_init_transactions(rk, 60000)))
                die("init", e);
        if (!(codec = vg_codec_new(err, sizeof(err)))) {
                fprintf(stderr, "txn_produce: %s\n", err);
                return 1;
        }
        keep = calloc((size_t)chunk, sizeof(*keep));
        drop = calloc((size_t)chunk, sizeof(*drop));
        for (;;) {
                ssize_t len = getline(&line, &cap, in);
                if (len > 0) {
                        if (line[len - 1] == '\n')
                                line[len - 1] = '\0';
                        if (no++ % mod == 1) {
                                drop[nd++] = strdup(line);
                        } else {
                                keep[nk++] = strdup(line);
                                fprintf(out, "%s\n", line);
                        }
                }
                if (nk + nd == chunk || (len <= 0 && nk + nd)) {
                        /* (the last kept lines: held open with HOLD;
                         * KEPT complete while it waits) */
                        if (fflush(out))
                                die("write KEPT", NULL);
                        if (len <= 0 && argc == 8 && !nk)
                                die("hold: the last chunk keeps no line "
                                    "(EVENTS a multiple of CHUNK?)", NULL);
                        txn(rk, codec, keep, nk, argv[2], true,
                            len <= 0 && argc == 8 ? argv[7] : NULL);
                        txn(rk, codec, drop, nd, argv[2], false, NULL);
                        kept += nk;
                        dropped += nd;
                        while (nk)
                                free(keep[--nk]);
                        while (nd)
                                free(drop[--nd]);
                }
                if (len <= 0)
                        break;
        }
        if (argc == 8 && access(argv[7], F_OK))
                die("hold: no transaction was held (EVENTS a multiple of "
                    "CHUNK?)", NULL);
        fclose(in);
        if (fclose(out))
                return 1;
        fprintf(stderr, "txn_produce: %d events committed, %d aborted\n",
                kept, dropped);
        free(keep);
        free(drop);
        free(line);
        vg_codec_destroy(codec);
        rd_kafka_destroy(rk);
        return 0;
}
