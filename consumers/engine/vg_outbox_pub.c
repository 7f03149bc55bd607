/*
 * vg_outbox_pub.c - the publisher of transactional outboxes
 * (vg_outbox.h): rows to Kafka in order, deleted once delivered or
 * committed.
 */
#include "vg_outbox_pub_int.h"
#include "vg_time.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <jansson.h>


static void pub_lock_init(vg_pub_t *pub) {
        pthread_mutexattr_t a;
        pthread_mutexattr_init(&a);
        pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
        pthread_mutex_init(&pub->pb_lock, &a);
        pthread_mutexattr_destroy(&a);
}

/* Notes the first fatal error (any thread). */
void pub_fatal_set(vg_pub_t *pub, const char *msg) {
        pthread_mutex_lock(&pub->pb_lock);
        if (!pub->pb_err[0])
                snprintf(pub->pb_err, sizeof(pub->pb_err), "%s",
                         msg && *msg ? msg : "a publishing error (see above)");
        pthread_mutex_unlock(&pub->pb_lock);
        pub->pb_fatal = 1;
}

/* The fatal error into errstr; -1. */
int pub_fatal_report(vg_pub_t *pub, char *errstr, size_t errstr_size) {
        pthread_mutex_lock(&pub->pb_lock);
        vg_seterr(errstr, errstr_size, VG_ERR_KAFKA, "%s",
                  pub->pb_err[0] ? pub->pb_err
                                 : "a publishing error (see above)");
        pthread_mutex_unlock(&pub->pb_lock);
        return -1;
}

static sent_t *fifo_find(slot_t *sl, int64_t seq) {
        int lo = sl->sl_head, hi = sl->sl_len - 1;
        while (lo <= hi) { /* seqs increase along the fifo */
                int mid = lo + (hi - lo) / 2;
                if (sl->sl_fifo[mid].se_seq == seq)
                        return &sl->sl_fifo[mid];
                if (sl->sl_fifo[mid].se_seq < seq)
                        lo = mid + 1;
                else
                        hi = mid - 1;
        }
        return NULL;
}

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m,
                  void *opaque) {
        vg_pub_t *pub = opaque;
        int id = TAG_ID(m->_private);
        slot_t *sl;
        sent_t *se;
        (void)rk;
        if (id < 0 || id >= PUB_SLOTS)
                return;
        sl = &pub->pb_slots[id];
        if (pub->pb_txn) {
                sl->sl_inflight--;
                /* A failed record fails the commit (and the transaction is
                 * aborted and sent again); a delivered changelog row tells
                 * where the slot's changelog now ends. */
                if (m->err) {
                        if (!sl->sl_txn_failed++)
                                vg_warn("publish", "could not publish to "
                                        "%s: %s (the transaction fails; "
                                        "its other records that fail are "
                                        "counted, not logged)",
                                        rd_kafka_topic_name(m->rkt),
                                        rd_kafka_err2str(m->err));
                } else if (sl->sl_cl_topic && m->partition == sl->sl_cl_part &&
                         m->offset > sl->sl_cl_last &&
                         !strcmp(rd_kafka_topic_name(m->rkt),
                                 sl->sl_cl_topic))
                        sl->sl_cl_last = m->offset;
                return;
        }
        pthread_mutex_lock(&pub->pb_lock);
        sl->sl_inflight--;
        if (!sl->sl_ob || !(se = fifo_find(sl, TAG_SEQ(m->_private)))) {
                pthread_mutex_unlock(&pub->pb_lock);
                return;
        }
        if (m->err) {
                vg_error("publish", "could not publish to %s: %s; will "
                         "resend from the first undelivered record",
                         rd_kafka_topic_name(m->rkt), rd_kafka_err2str(m->err));
                se->se_state = SENT_FAILED;
                sl->sl_failed = true;
        } else
                se->se_state = SENT_DELIVERED;
        pthread_mutex_unlock(&pub->pb_lock);
}

vg_pub_t *vg_pub_new(rd_kafka_conf_t *pconf, char *errstr,
                     size_t errstr_size) {
        vg_pub_t *pub = vg_calloc(1, sizeof(*pub));
        char e[512];
        pub_lock_init(pub);
        rd_kafka_conf_set_opaque(pconf, pub);
        rd_kafka_conf_set_dr_msg_cb(pconf, dr_cb);
        if (!(pub->pb_rk = rd_kafka_new(RD_KAFKA_PRODUCER, pconf, e,
                                        sizeof(e)))) {
                vg_seterr(errstr, errstr_size, VG_ERR_KAFKA, "producer: %s", e);
                rd_kafka_conf_destroy(pconf);
                pthread_mutex_destroy(&pub->pb_lock);
                vg_free(pub);
                return NULL;
        }
        return pub;
}

vg_pub_t *vg_pub_new_txn(rd_kafka_conf_t *pconf, const char *txn_prefix,
                         char *errstr, size_t errstr_size) {
        vg_pub_t *pub = vg_calloc(1, sizeof(*pub));
        (void)errstr;
        (void)errstr_size;
        pub_lock_init(pub);
        rd_kafka_conf_set_opaque(pconf, pub);
        rd_kafka_conf_set_dr_msg_cb(pconf, dr_cb);
        pub->pb_txn = true;
        pub->pb_conf = pconf;
        pub->pb_txn_prefix = vg_strdup(txn_prefix);
        return pub;
}


static void slot_unclaim(slot_t *sl) {
        if (!sl->sl_rk)
                return;
        for (int i = 0; sl->sl_rkts && sl->sl_rkts[i]; i++)
                rd_kafka_topic_destroy(sl->sl_rkts[i]);
        vg_free(sl->sl_rkts);
        sl->sl_rkts = NULL;
        rd_kafka_flush(sl->sl_rk, 5000);
        rd_kafka_destroy(sl->sl_rk);
        sl->sl_rk = NULL;
}

/* Transactional mode: the slot's own producer, transactional.id
 * "<prefix>.<id>". Its init_transactions() fences an earlier producer
 * with that id (the previous owner of the partition, if it is still
 * alive) and aborts what it left open. */
int vg_pub_claim(vg_pub_t *pub, int id, char *errstr, size_t errstr_size) {
        slot_t *sl = &pub->pb_slots[id];
        rd_kafka_conf_t *c;
        rd_kafka_error_t *e;
        char tid[1024], es[512];
        if (id >= pub->pb_hi)
                pub->pb_hi = id + 1;
        if (!pub->pb_txn || sl->sl_rk)
                return 0;
        snprintf(tid, sizeof(tid), "%s.%d", pub->pb_txn_prefix, id);
        c = rd_kafka_conf_dup(pub->pb_conf);
        if (rd_kafka_conf_set(c, "transactional.id", tid, es, sizeof(es)) !=
                    RD_KAFKA_CONF_OK ||
            !(sl->sl_rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, es,
                                       sizeof(es)))) {
                rd_kafka_conf_destroy(c);
                vg_seterr(errstr, errstr_size, VG_ERR_KAFKA, "producer %s: %s",
                          tid, es);
                return -1;
        }
        /* Handles now: librdkafka looks up their leaders at once. */
        sl->sl_rkts = vg_calloc((size_t)pub->pb_ntopics + 1,
                                sizeof(*sl->sl_rkts));
        for (int i = 0, k = 0; i < pub->pb_ntopics; i++)
                if ((sl->sl_rkts[k] = rd_kafka_topic_new(
                             sl->sl_rk, pub->pb_topics[i], NULL)))
                        k++;
        if ((e = rd_kafka_init_transactions(sl->sl_rk, 60000))) {
                vg_seterr(errstr, errstr_size, VG_ERR_KAFKA,
                          "producer %s: cannot start transactions: %s", tid,
                          rd_kafka_error_string(e));
                rd_kafka_error_destroy(e);
                slot_unclaim(sl);
                return -1;
        }
        return 0;
}

void vg_pub_set_topics(vg_pub_t *pub, const char *const *topics, int n) {
        for (int i = 0; i < pub->pb_ntopics; i++)
                vg_free(pub->pb_topics[i]);
        vg_free(pub->pb_topics);
        pub->pb_topics = vg_calloc((size_t)n + 1, sizeof(*pub->pb_topics));
        for (int i = 0; i < n; i++)
                pub->pb_topics[i] = vg_strdup(topics[i]);
        pub->pb_ntopics = n;
}

void vg_pub_set_changelog(vg_pub_t *pub, int id, const char *topic,
                          int32_t partition, vg_pub_committed_cb *cb) {
        slot_t *sl = &pub->pb_slots[id];
        vg_free(sl->sl_cl_topic);
        sl->sl_cl_topic = topic ? vg_strdup(topic) : NULL;
        sl->sl_cl_part = partition;
        sl->sl_cl_cb = cb;
}

void vg_pub_destroy(vg_pub_t *pub, int timeout_ms) {
        if (!pub)
                return;
        if (pub->pb_rk) {
                rd_kafka_flush(pub->pb_rk, timeout_ms);
                rd_kafka_destroy(pub->pb_rk);
        }
        for (int i = 0; i < PUB_SLOTS; i++) {
                /* A commit under way ends first (its outbox may be gone:
                 * its rows stay queued). */
                if (pub_txn_finish(pub, &pub->pb_slots[i], false))
                        vg_error("publish", "%s", pub->pb_slots[i].sl_err);
                slot_unclaim(&pub->pb_slots[i]);
                vg_free(pub->pb_slots[i].sl_fifo);
                vg_free(pub->pb_slots[i].sl_cl_topic);
        }
        if (pub->pb_conf)
                rd_kafka_conf_destroy(pub->pb_conf);
        vg_pub_set_topics(pub, NULL, 0);
        vg_free(pub->pb_topics);
        vg_free(pub->pb_txn_prefix);
        pthread_mutex_destroy(&pub->pb_lock);
        vg_free(pub);
}

void pub_slot_reset(slot_t *sl) {
        sl->sl_sent_seq = sl->sl_acked = sl->sl_deleted = 0;
        sl->sl_head = sl->sl_len = 0;
        sl->sl_failed = false;
        sl->sl_rounds = 0;
        sl->sl_txn_open = false;
        sl->sl_cl_done = -1;
        sl->sl_probe_seq = -1;
        sl->sl_hold_since = 0;
        sl->sl_urgent = sl->sl_ob ? vg_outbox_urgent(sl->sl_ob) : 0;
        sl->sl_no_wait = true;
}

void vg_pub_add(vg_pub_t *pub, int id, vg_outbox_t *ob,
                bool (*busy)(void *opaque), void *opaque) {
        slot_t *sl = &pub->pb_slots[id];
        if (id >= pub->pb_hi)
                pub->pb_hi = id + 1;
        char e[256];
        if (pub_txn_finish(pub, sl, false))
                pub_fatal_set(pub, sl->sl_err); /* the next drain reports it */
        else if (vg_pub_claim(pub, id, e, sizeof(e)))
                pub_fatal_set(pub, e);
        sl->sl_ob = ob;
        sl->sl_busy = busy;
        sl->sl_opaque = opaque;
        /* everything still queued is sent again, in order */
        pub_slot_reset(sl);
}

/* Advances the acknowledged prefix and deletes it (outside batches). */
/* -1: an error (errstr), for the caller to make fatal. */
int pub_settle(vg_pub_t *pub, slot_t *sl, char *errstr,
                  size_t errstr_size) {
        int moved = 0;
        while (sl->sl_head < sl->sl_len &&
               sl->sl_fifo[sl->sl_head].se_state == SENT_DELIVERED) {
                sl->sl_acked = sl->sl_fifo[sl->sl_head].se_seq;
                sl->sl_head++;
                moved = 1;
        }
        if (moved)
                sl->sl_rounds = 0;
        if (sl->sl_head == sl->sl_len)
                sl->sl_head = sl->sl_len = 0;
        if (sl->sl_failed && sl->sl_inflight == 0) {
                /* Resend everything after the delivered prefix. */
                if (++sl->sl_rounds > PUB_MAX_ROUNDS) {
                        vg_seterr(errstr, errstr_size, VG_ERR_KAFKA,
                                  "a record could not be published after %d "
                                  "attempts (see the errors above)",
                                  PUB_MAX_ROUNDS);
                        return -1;
                }
                sl->sl_sent_seq = sl->sl_acked;
                sl->sl_probe_seq = -1; /* rows to send again */
                sl->sl_head = sl->sl_len = 0;
                sl->sl_failed = false;
        }
        if (sl->sl_acked > sl->sl_deleted &&
            !(sl->sl_busy && sl->sl_busy(sl->sl_opaque))) {
                if (vg_outbox_delete_upto(sl->sl_ob, sl->sl_acked, errstr,
                                          errstr_size))
                        return -1;
                sl->sl_deleted = sl->sl_acked;
        }
        return 0;
}

void vg_pub_remove(vg_pub_t *pub, int id, int timeout_ms) {
        slot_t *sl = &pub->pb_slots[id];
        int64_t until = vg_now_ms() + timeout_ms;
        char e[256];
        while (!pub->pb_txn && sl->sl_inflight > 0 && vg_now_ms() < until)
                rd_kafka_poll(pub->pb_rk, 50);
        if (sl->sl_ob && !pub->pb_txn) {
                pthread_mutex_lock(&pub->pb_lock);
                if (pub_settle(pub, sl, e, sizeof(e)))
                        pub_fatal_set(pub, e);
                pthread_mutex_unlock(&pub->pb_lock);
        }
        /* A commit under way ends, and what it committed is deleted, before
         * the slot goes; an error is reported by the next drain. */
        if (pub_txn_finish(pub, sl, true))
                pub_fatal_set(pub, sl->sl_err);
        sl->sl_ob = NULL;
        sl->sl_busy = NULL;
        vg_pub_set_changelog(pub, id, NULL, -1, NULL);
        slot_unclaim(sl);
        pub_slot_reset(sl);
}


static rd_kafka_headers_t *headers_of(const char *json) {
        json_t *h, *v;
        const char *k;
        rd_kafka_headers_t *hdrs;
        if (!json || !(h = json_loads(json, 0, NULL)))
                return NULL;
        hdrs = rd_kafka_headers_new(json_object_size(h));
        json_object_foreach(h, k, v) {
                if (json_is_string(v))
                        rd_kafka_header_add(hdrs, k, -1, json_string_value(v),
                                            -1);
        }
        json_decref(h);
        return hdrs;
}

void pub_send_cb(const vg_outrec_t *r, void *opaque) {
        send_t *sd = opaque;
        slot_t *sl = &sd->pub->pb_slots[sd->id];
        rd_kafka_resp_err_t err;
        int32_t part = r->or_partition >= 0 ? r->or_partition
                                            : RD_KAFKA_PARTITION_UA;
        rd_kafka_t *rk = sd->pub->pb_txn ? sl->sl_rk : sd->pub->pb_rk;

        /* A failure reported meanwhile (served by the poll below) stops
         * this round: the slot resends from its prefix later. */
        if (sd->stop || sl->sl_failed || r->or_seq <= sl->sl_sent_seq)
                return;
        for (;;) {
                rd_kafka_headers_t *hdrs = headers_of(r->or_headers);
                if (hdrs)
                        err = rd_kafka_producev(
                                rk, RD_KAFKA_V_TOPIC(r->or_topic),
                                RD_KAFKA_V_PARTITION(part),
                                RD_KAFKA_V_KEY(r->or_key, r->or_key_len),
                                RD_KAFKA_V_VALUE((void *)r->or_value,
                                                 r->or_value_len),
                                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                RD_KAFKA_V_OPAQUE(TAG(sd->id, r->or_seq)),
                                RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_END);
                else
                        err = rd_kafka_producev(
                                rk, RD_KAFKA_V_TOPIC(r->or_topic),
                                RD_KAFKA_V_PARTITION(part),
                                RD_KAFKA_V_KEY(r->or_key, r->or_key_len),
                                RD_KAFKA_V_VALUE((void *)r->or_value,
                                                 r->or_value_len),
                                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                RD_KAFKA_V_OPAQUE(TAG(sd->id, r->or_seq)),
                                RD_KAFKA_V_END);
                if (err && hdrs)
                        rd_kafka_headers_destroy(hdrs);
                if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
                        break;
                if (!sd->pub->pb_txn) {
                        /* The rest next drain: a poll here would wait
                         * with pb_lock held, which the thread serving
                         * the delivery reports that free the queue may
                         * be waiting for. */
                        sd->stop = 1;
                        return;
                }
                rd_kafka_poll(rk, 100);
                if (sl->sl_failed) {
                        sd->stop = 1;
                        return;
                }
        }
        if (err) {
                if (sd->pub->pb_txn) {
                        snprintf(sl->sl_err, sizeof(sl->sl_err),
                                 "cannot publish to %s: %s", r->or_topic,
                                 rd_kafka_err2str(err));
                        sd->fatal = true;
                } else {
                        char e[256];
                        snprintf(e, sizeof(e), "cannot publish to %s: %s",
                                 r->or_topic, rd_kafka_err2str(err));
                        pub_fatal_set(sd->pub, e);
                }
                sd->stop = 1;
                return;
        }
        if (sd->pub->pb_txn) { /* the transaction tracks them */
                sl->sl_sent_seq = r->or_seq;
                sl->sl_inflight++;
                /* A batch ends with its changelog meta record ("m"):
                 * enough rows, and the transaction may end here. */
                sl->sl_txn_now |= r->or_resolved;
                if (++sl->sl_txn_rows >= PUB_TXN_ROWS && !sl->sl_txn_now &&
                    sl->sl_cl_topic && r->or_key_len == 1 &&
                    *(const char *)r->or_key == 'm' &&
                    r->or_partition == sl->sl_cl_part &&
                    !strcmp(r->or_topic, sl->sl_cl_topic))
                        sd->stop = 1;
                return;
        }
        if (sl->sl_len == sl->sl_cap) {
                sl->sl_cap = sl->sl_cap ? sl->sl_cap * 2 : 256;
                sl->sl_fifo = vg_realloc(sl->sl_fifo,
                                         sizeof(sent_t) * (size_t)sl->sl_cap);
        }
        sl->sl_fifo[sl->sl_len].se_seq = r->or_seq;
        sl->sl_fifo[sl->sl_len].se_state = SENT_INFLIGHT;
        sl->sl_len++;
        sl->sl_sent_seq = r->or_seq;
        sl->sl_inflight++;
}

void pub_count_cb(const vg_outrec_t *r, void *opaque) {
        (void)r;
        (*(int *)opaque)++;
}

static void plain_slot(vg_pub_t *pub, int id);


int vg_pub_drain_slot(vg_pub_t *pub, int id, char *errstr,
                      size_t errstr_size) {
        if (id < 0 || id >= PUB_SLOTS)
                return 0;
        if (!pub->pb_txn) {
                if (!pub->pb_fatal)
                        plain_slot(pub, id);
                return pub->pb_fatal
                               ? pub_fatal_report(pub, errstr, errstr_size)
                               : 0;
        }
        if (pub_txn_slot(pub, id, false)) {
                pub_fatal_set(pub, pub->pb_slots[id].sl_err);
                return pub_fatal_report(pub, errstr, errstr_size);
        }
        return 0;
}


/* Without transactions: settles slot id and hands it rows to send (on the
 * thread that has the slot's partition; pb_lock keeps out the delivery
 * reports, which other threads may serve meanwhile). */
static void plain_slot(vg_pub_t *pub, int id) {
        slot_t *sl = &pub->pb_slots[id];
        send_t sd = {pub, id, 0, false};
        char e[256];
        if (!sl->sl_ob)
                return;
        pthread_mutex_lock(&pub->pb_lock);
        if (pub_settle(pub, sl, e, sizeof(e))) {
                pub_fatal_set(pub, e);
                goto out;
        }
        if (sl->sl_failed || (sl->sl_busy && sl->sl_busy(sl->sl_opaque)) ||
            sl->sl_inflight >= PUB_MAX_INFLIGHT)
                goto out;
        /* Compact the fifo before it grows further. */
        if (sl->sl_head > 0) {
                memmove(sl->sl_fifo, sl->sl_fifo + sl->sl_head,
                        sizeof(sent_t) * (size_t)(sl->sl_len - sl->sl_head));
                sl->sl_len -= sl->sl_head;
                sl->sl_head = 0;
        }
        if (sl->sl_probe_seq == sl->sl_sent_seq &&
            sl->sl_probe_adds == vg_outbox_adds(sl->sl_ob))
                goto out; /* nothing new */
        /* As many rows as may still be in flight: after a backlog, a
         * loop with nothing to read drains only every 50 ms. */
        switch (vg_outbox_scan(sl->sl_ob, sl->sl_sent_seq,
                               PUB_MAX_INFLIGHT - sl->sl_inflight,
                               pub_send_cb, &sd)) {
        case -1: /* not a silent stall */
                pub_fatal_set(pub, "cannot read the outbox (logged above)");
                break;
        case 0:
                sl->sl_probe_seq = sl->sl_sent_seq;
                sl->sl_probe_adds = vg_outbox_adds(sl->sl_ob);
                break;
        default:
                break;
        }
out:
        pthread_mutex_unlock(&pub->pb_lock);
}

int vg_pub_drain(vg_pub_t *pub, char *errstr, size_t errstr_size) {
        if (pub->pb_fatal)
                return pub_fatal_report(pub, errstr, errstr_size);
        if (pub->pb_txn)
                return pub_txn_drain(pub, false, errstr, errstr_size);
        rd_kafka_poll(pub->pb_rk, 0);
        for (int id = 0; id < pub->pb_hi && !pub->pb_fatal; id++)
                plain_slot(pub, id);
        rd_kafka_poll(pub->pb_rk, 0);
        return pub->pb_fatal ? pub_fatal_report(pub, errstr, errstr_size) : 0;
}

int vg_pub_poll(vg_pub_t *pub, char *errstr, size_t errstr_size) {
        if (pub->pb_fatal)
                return pub_fatal_report(pub, errstr, errstr_size);
        if (!pub->pb_txn)
                rd_kafka_poll(pub->pb_rk, 0);
        return 0;
}

int vg_pub_flush(vg_pub_t *pub, int timeout_ms, char *errstr,
                 size_t errstr_size) {
        int64_t until = vg_now_ms() + timeout_ms;
        if (vg_pub_drain(pub, errstr, errstr_size))
                return -1;
        if (pub->pb_txn) {
                /* Commit what is open; an aborted transaction leaves its
                 * rows queued: again. */
                do {
                        if (pub->pb_fatal)
                                return pub_fatal_report(pub, errstr,
                                                        errstr_size);
                        if (pub_txn_drain(pub, true, errstr, errstr_size))
                                return -1;
                } while (pub_txn_left(pub) && vg_now_ms() < until);
                return 0;
        }
        while (rd_kafka_outq_len(pub->pb_rk) > 0 && vg_now_ms() < until) {
                rd_kafka_poll(pub->pb_rk, 50);
                if (vg_pub_drain(pub, errstr, errstr_size))
                        return -1;
        }
        return vg_pub_drain(pub, errstr, errstr_size);
}

void vg_pub_set_linger(vg_pub_t *pub, int ms) {
        pub->pb_linger_ms = ms > 0 ? ms : 0;
}

bool vg_pub_committing(const vg_pub_t *pub) {
        if (!pub->pb_txn)
                return false;
        for (int id = 0; id < pub->pb_hi; id++)
                if (pub->pb_slots[id].sl_committing)
                        return true;
        return false;
}

int vg_pub_inflight(const vg_pub_t *pub) {
        int n = 0;
        if (!pub->pb_txn)
                return rd_kafka_outq_len(pub->pb_rk);
        for (int id = 0; id < pub->pb_hi; id++)
                if (pub->pb_slots[id].sl_rk)
                        n += rd_kafka_outq_len(pub->pb_slots[id].sl_rk);
        return n;
}

rd_kafka_t *vg_pub_handle(vg_pub_t *pub) {
        return pub->pb_rk;
}
