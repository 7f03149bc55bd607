/*
 * vg_outbox_txn.c - the publisher's transactional mode (vg_outbox.h,
 * vg_pub_new_txn): a producer per slot, whole batches per transaction.
 */
#include "vg_outbox_pub_int.h"
#include "vg_time.h"

#include <stdio.h>
#include <string.h>

/*
 * Transactional mode. Per slot: rows are produced in a transaction (whole
 * batches: a busy slot has a batch open, and its uncommitted rows would
 * be visible to us), which is committed at once when it is small, and
 * otherwise left open while processing goes on and committed at a later
 * drain once its records are delivered (catching up: production overlaps
 * processing). Rows are deleted, and the changelog's end reported, only
 * once the transaction is committed and the slot is not busy. A commit
 * runs on a thread of its own, so the slots' commits run side by side;
 * the slot sends nothing more until a drain has taken its outcome.
 */
/* The hold's clock (monotonic: a step of the wall clock neither holds
 * rows longer nor lets them go sooner). */
static int64_t hold_ms(void) {
        int64_t t = vg_now_us() / 1000;
        return t > 0 ? t : 1; /* 0: no hold */
}

/* librdkafka's blocking commit, retried as long as it says so. On the
 * commit's own thread, or inline. */
static void *commit_main(void *arg) {
        slot_t *sl = arg;
        int64_t t0 = vg_now_us();
        rd_kafka_error_t *e = rd_kafka_commit_transaction(sl->sl_rk, 60000);
        for (int i = 0; e && rd_kafka_error_is_retriable(e) && i < 5; i++) {
                rd_kafka_error_destroy(e);
                e = rd_kafka_commit_transaction(sl->sl_rk, 60000);
        }
        sl->sl_commit_err = e;
        sl->sl_commit_us = vg_now_us() - t0;
        atomic_store(&sl->sl_commit_done, true);
        return NULL;
}

/*
 * Commits the slot's open transaction. Without wait, the commit is started
 * on a thread of its own and this returns 1 while it runs: the partitions'
 * commits run side by side and the loop goes on (one after another, six
 * commits of about 5 ms each held every turn of the loop); a later call
 * takes its outcome. With wait, until it is done. 0: done (committed, or
 * aborted and to be sent again), 1: still committing, -1: fatal.
 *
 * A thread rather than librdkafka's resumable commit (a call with a short
 * timeout, called again): in 2.0.2 a call whose first step (begin commit)
 * times out is not resumable, and that step's late reply is taken as the
 * reply to a step of the next call, which can skip the EndTxn request.
 */
static int txn_commit(vg_pub_t *pub, slot_t *sl, bool wait) {
        rd_kafka_error_t *e;
        if (!sl->sl_committing) {
                atomic_store(&sl->sl_commit_done, false);
                if (!wait && !pthread_create(&sl->sl_thr, NULL, commit_main,
                                             sl)) {
                        sl->sl_committing = true;
                        return 1;
                }
                commit_main(sl); /* waited for, or no thread */
        } else {
                if (!wait && !atomic_load(&sl->sl_commit_done))
                        return 1;
                pthread_join(sl->sl_thr, NULL);
                sl->sl_committing = false;
        }
        e = sl->sl_commit_err;
        sl->sl_commit_err = NULL;
        if (sl->sl_txn_failed > 1)
                vg_warn("publish", "%d records of the transaction could not "
                        "be published (the first is logged above)",
                        sl->sl_txn_failed);
        sl->sl_txn_failed = 0;
        vg_debug("publish", "transaction %s in %lld us",
                 e ? "not committed" : "committed",
                 (long long)sl->sl_commit_us);
        sl->sl_txn_open = false;
        if (e) {
                bool abortable = rd_kafka_error_txn_requires_abort(e);
                snprintf(sl->sl_err, sizeof(sl->sl_err),
                         "transaction not committed: %s%s",
                         rd_kafka_error_string(e),
                         rd_kafka_error_is_fatal(e)
                                 ? " (fenced: another instance owns this "
                                   "partition now)"
                                 : "");
                rd_kafka_error_destroy(e);
                if (!abortable)
                        return -1;
                vg_warn("publish", "%s; aborted, sending again",
                        sl->sl_err);
                sl->sl_err[0] = '\0'; /* not fatal */
                sl->sl_sent_seq = sl->sl_acked;
                sl->sl_probe_seq = -1; /* rows to send again */
                sl->sl_no_wait = true; /* (an alert among them, perhaps) */
                if ((e = rd_kafka_abort_transaction(sl->sl_rk, 60000))) {
                        snprintf(sl->sl_err, sizeof(sl->sl_err),
                                 "cannot abort a transaction: %s",
                                 rd_kafka_error_string(e));
                        rd_kafka_error_destroy(e);
                        return -1;
                }
                if (++sl->sl_rounds > PUB_MAX_ROUNDS) {
                        snprintf(sl->sl_err, sizeof(sl->sl_err),
                                 "no transaction committed after %d "
                                 "attempts (see the errors above)",
                                 PUB_MAX_ROUNDS);
                        return -1;
                }
                return 0;
        }
        sl->sl_rounds = 0;
        sl->sl_inflight = 0;
        sl->sl_acked = sl->sl_sent_seq; /* committed; deleted when idle */
        if (sl->sl_cl_last >= 0)
                sl->sl_cl_done = sl->sl_cl_last;
        return 0;
}

/* Deletes the committed rows and reports the changelog's end (the slot is
 * not busy). */
static int txn_settle(vg_pub_t *pub, slot_t *sl) {
        if (sl->sl_acked <= sl->sl_deleted)
                return 0;
        if (vg_outbox_delete_upto(sl->sl_ob, sl->sl_acked, sl->sl_err,
                                  sizeof(sl->sl_err)))
                return -1;
        sl->sl_deleted = sl->sl_acked;
        if (sl->sl_cl_cb && sl->sl_cl_done >= 0)
                sl->sl_cl_cb(sl->sl_opaque, sl->sl_cl_done);
        sl->sl_cl_done = -1;
        return 0;
}

/* Waits for a commit under way and takes its outcome; with settle, the
 * rows it committed are deleted and the changelog's end reported if the
 * slot is not busy. -1: an error (sl_err). */
int pub_txn_finish(vg_pub_t *pub, slot_t *sl, bool settle) {
        if (!sl->sl_committing)
                return 0;
        if (txn_commit(pub, sl, true))
                return -1;
        if (settle && sl->sl_ob && !sl->sl_txn_open &&
            !(sl->sl_busy && sl->sl_busy(sl->sl_opaque)))
                return txn_settle(pub, sl);
        return 0;
}

int pub_txn_slot(vg_pub_t *pub, int id, bool force) {
        slot_t *sl = &pub->pb_slots[id];
        send_t sd = {pub, id, 0, false};
        rd_kafka_error_t *e;
        bool busy;
        int n = 0, r;

        if (!sl->sl_ob)
                return 0;
        if (!sl->sl_rk) {
                snprintf(sl->sl_err, sizeof(sl->sl_err),
                         "slot %d has no producer", id);
                return -1;
        }
        busy = sl->sl_busy && sl->sl_busy(sl->sl_opaque);
        /* A commit under way: its outcome, if it has one (or once it has,
         * with force); the producer is its thread's until then. */
        if (sl->sl_committing && (r = txn_commit(pub, sl, force)))
                return r < 0 ? -1 : 0;
        rd_kafka_poll(sl->sl_rk, 0);
        if (sl->sl_txn_open &&
            (force || rd_kafka_outq_len(sl->sl_rk) == 0 ||
             vg_now_ms() - sl->sl_txn_at >= 1000) &&
            (r = txn_commit(pub, sl, force)))
                return r < 0 ? -1 : 0;
        if (busy)
                return 0;
        if (txn_settle(pub, sl))
                return -1;
        if (sl->sl_txn_open ||
            (sl->sl_probe_seq == sl->sl_sent_seq &&
             sl->sl_probe_adds == vg_outbox_adds(sl->sl_ob)))
                return 0;
        /* Rows found, none of them urgent: held for a while
         * (vg_pub_set_linger), without a query. */
        if (!force && sl->sl_hold_since && !sl->sl_no_wait &&
            vg_outbox_urgent(sl->sl_ob) == sl->sl_urgent &&
            hold_ms() - sl->sl_hold_since < pub->pb_linger_ms)
                return 0;
        if ((r = vg_outbox_scan(sl->sl_ob, sl->sl_sent_seq, 1, pub_count_cb,
                                &n)) <= 0) {
                if (r < 0) {
                        snprintf(sl->sl_err, sizeof(sl->sl_err),
                                 "cannot read the outbox (logged above)");
                        return -1;
                }
                sl->sl_probe_seq = sl->sl_sent_seq;
                sl->sl_probe_adds = vg_outbox_adds(sl->sl_ob);
                return 0;
        }
        if (!force && pub->pb_linger_ms > 0 && !sl->sl_hold_since &&
            !sl->sl_no_wait && vg_outbox_urgent(sl->sl_ob) == sl->sl_urgent) {
                sl->sl_hold_since = hold_ms();
                return 0;
        }
        /* (not busy: every urgent row counted is in the outbox now; a
         * transaction cut short below leaves the rest unheld) */
        sl->sl_hold_since = 0;
        sl->sl_no_wait = false;
        sl->sl_urgent = vg_outbox_urgent(sl->sl_ob);
        if ((e = rd_kafka_begin_transaction(sl->sl_rk))) {
                snprintf(sl->sl_err, sizeof(sl->sl_err),
                         "cannot begin a transaction: %s",
                         rd_kafka_error_string(e));
                rd_kafka_error_destroy(e);
                return -1;
        }
        sl->sl_txn_open = true;
        sl->sl_txn_failed = 0;
        sl->sl_txn_at = vg_now_ms();
        sl->sl_txn_rows = 0;
        sl->sl_txn_now = false;
        sl->sl_cl_last = -1;
        while (!sd.stop && (r = vg_outbox_scan(sl->sl_ob, sl->sl_sent_seq,
                                               1000, pub_send_cb, &sd)) == 1000)
                ;
        if (sd.stop) /* cut short: what is left may hold an alert */
                sl->sl_no_wait = true;
        /* A row that cannot be read (a store error, a reference that
         * cannot be made): the transaction would end inside a batch, so
         * it is aborted, and the error is fatal. */
        if (!sd.stop && r < 0) {
                snprintf(sl->sl_err, sizeof(sl->sl_err),
                         "cannot read the outbox (logged above)");
                sd.fatal = true;
        }
        if (sd.fatal) {
                if ((e = rd_kafka_abort_transaction(sl->sl_rk, 60000)))
                        rd_kafka_error_destroy(e);
                sl->sl_txn_open = false;
                return -1;
        }
        /* A small transaction (the steady state) is committed now: its
         * alerts go out without waiting for the next drain. */
        if ((force || sl->sl_txn_rows < PUB_TXN_PIPELINE) &&
            (r = txn_commit(pub, sl, force)))
                return r < 0 ? -1 : 0;
        if (!sl->sl_txn_open && txn_settle(pub, sl))
                return -1;
        return 0;
}

int pub_txn_drain(vg_pub_t *pub, bool force, char *errstr,
                     size_t errstr_size) {
        for (int id = 0; id < pub->pb_hi; id++)
                if (pub_txn_slot(pub, id, force)) {
                        pub_fatal_set(pub, pub->pb_slots[id].sl_err);
                        return pub_fatal_report(pub, errstr, errstr_size);
                }
        return 0;
}

/* Work left in a slot that is not busy: rows not deleted, or a
 * transaction open (transactional mode). */
bool pub_txn_left(vg_pub_t *pub) {
        for (int id = 0; id < pub->pb_hi; id++) {
                slot_t *sl = &pub->pb_slots[id];
                int n = 0;
                if (!sl->sl_ob || (sl->sl_busy && sl->sl_busy(sl->sl_opaque)))
                        continue;
                if (sl->sl_txn_open ||
                    vg_outbox_scan(sl->sl_ob, sl->sl_deleted, 1, pub_count_cb,
                                   &n) > 0)
                        return true;
        }
        return false;
}

int vg_pub_drain_slot_wait(vg_pub_t *pub, int id, char *errstr,
                           size_t errstr_size) {
        if (id < 0 || id >= PUB_SLOTS || !pub->pb_txn)
                return vg_pub_drain_slot(pub, id, errstr, errstr_size);
        if (pub_txn_slot(pub, id, true)) {
                pub_fatal_set(pub, pub->pb_slots[id].sl_err);
                return pub_fatal_report(pub, errstr, errstr_size);
        }
        return 0;
}
