/*
 * hl7_listen_kafka.c - from a received message to Kafka, for `vigil hl7
 * listen` (hl7_listen_int.h): convert (vg_hl7), encode, publish with the
 * producer of `vigil produce`, and the delivery report that decides its
 * ACK; the producer's set-up and the start-up check of its two topics.
 *
 * The personnummer (PID-3) is only seen by vg_hl7_convert, which replaces
 * it by its pseudonym.
 */
#include "hl7_listen_int.h"
#include "vg_cli.h"
#include "vg_time.h"

#include <stdio.h>
#include <string.h>

/* How long the start-up topic check waits for the broker. */
#define METADATA_TIMEOUT_MS 5000

/* ------------------------------------------------------------------ */
/* A message to Kafka                                                 */
/* ------------------------------------------------------------------ */

static const char *trig_label(const char *trig) {
        static const char *const known[] = {"A01", "A03", "A08", "A11",
                                            "A13", "A40"};
        for (size_t i = 0; i < VG_ARRAY_SIZE(known); i++)
                if (!strcmp(trig, known[i]))
                        return known[i];
        return "other";
}

static void dr_msg_cb(rd_kafka_t *rk, const rd_kafka_message_t *m,
                      void *opaque) {
        hl_t *hl = opaque;
        hitem_t *it = m->_private;
        char text[256];

        (void)rk;
        if (!it)
                return;
        hl->hl_in_flight--;
        vg_metric_set(hl->hm_in_flight, NULL, hl->hl_in_flight);
        if (!m->err) {
                vg_debug(CMD, "message %ld (MSH-10 %s): stored in %s [%d] at "
                         "offset %lld", it->hi_no, it->hi_ctrl,
                         rd_kafka_topic_name(m->rkt), (int)m->partition,
                         (long long)m->offset);
                hl_item_finish(hl, it, VG_HL7_AA, 0, NULL);
                return;
        }
        snprintf(text, sizeof(text), "event not stored in Kafka (%s)%s; "
                 "send the message again", rd_kafka_err2str(m->err),
                 rd_kafka_message_status(m) ==
                                 RD_KAFKA_MSG_STATUS_POSSIBLY_PERSISTED
                         ? ", possibly stored: a re-sent message is a "
                           "duplicate with the same event_id"
                         : "");
        hl_item_finish(hl, it, VG_HL7_AE, VG_HL7_E_INTERNAL, text);
}

static void error_cb(rd_kafka_t *rk, int err, const char *reason,
                     void *opaque) {
        hl_t *hl = opaque;
        if (vg_kafka_producer_error(CMD, rk, err, reason))
                hl->hl_fatal = 1;
}

/* Converts the message of it and publishes its event, or answers it at
 * once (A08, refused, producer refused). */
void hl_item_handle(hl_t *hl, hitem_t *it, const vg_hl7_frame_t *fm) {
        char errstr[512];
        vg_event_t ev;
        vg_hl7_res_t res;
        rd_kafka_resp_err_t err;
        vg_err_t e;

        int nmsh;

        /* (a frame past input.max_bytes keeps its first segment: the MSH
         * the AR answers) */
        vg_hl7_msh_read(fm->fm_data, fm->fm_len, &it->hi_msh);
        it->hi_trig = trig_label(it->hi_msh.hh_trigger);
        vg_hl7_ctrl_print(it->hi_msh.hh_ctrl, it->hi_ctrl);
        if (fm->fm_too_long) {
                snprintf(errstr, sizeof(errstr), "message longer than %zu "
                         "bytes (input.max_bytes)", hl->hl_max_bytes);
                hl_item_finish(hl, it, VG_HL7_AR, VG_HL7_E_DATA_TYPE, errstr);
                return;
        }
        /* One frame is one message (docs/HOSPITAL.md §7.1): converted, a
         * frame of two gave the first one's event and AA, the second one
         * lost without a word. */
        if ((nmsh = vg_hl7_msh_count(fm->fm_data, fm->fm_len)) > 1) {
                snprintf(errstr, sizeof(errstr), "%d messages (MSH segments) "
                         "in one MLLP frame: send each in a frame of its "
                         "own", nmsh);
                hl_item_finish(hl, it, VG_HL7_AR, VG_HL7_E_SEGMENT_SEQUENCE,
                               errstr);
                return;
        }
        hl->hl_ctx.hx_now_ms = vg_now_ms();
        res = vg_hl7_convert(&hl->hl_ctx, fm->fm_data, fm->fm_len, &ev,
                             it->hi_ctrl, errstr, sizeof(errstr));
        if (res == VG_HL7_SKIPPED) {
                hl_item_finish(hl, it, VG_HL7_AA, 0, errstr);
                return;
        }
        if (res != VG_HL7_EVENT) {
                hl_item_finish(hl, it, VG_HL7_AR,
                               vg_hl7_refusal_code(&it->hi_msh, errstr),
                               errstr);
                return;
        }
        if (hl->hl_fatal) {
                vg_record_clear(ev.ev_type, &ev);
                hl_item_finish(hl, it, VG_HL7_AE, VG_HL7_E_INTERNAL,
                               "the Kafka producer failed; send the message "
                               "again later");
                return;
        }
        vg_buf_reset(&hl->hl_enc);
        if ((e = vg_codec_encode(hl->hl_codec, ev.ev_type, &ev, &hl->hl_enc,
                                 errstr, sizeof(errstr)))) {
                vg_record_clear(ev.ev_type, &ev);
                vg_pseudo_redact(errstr);
                hl_item_finish(hl, it, VG_HL7_AE, VG_HL7_E_INTERNAL, errstr);
                return;
        }
        err = rd_kafka_producev(
                hl->hl_rk, RD_KAFKA_V_TOPIC(hl->hl_topics[ev.ev_type]),
                RD_KAFKA_V_KEY(ev.ev_patient_id, strlen(ev.ev_patient_id)),
                RD_KAFKA_V_VALUE(hl->hl_enc.vb_data, hl->hl_enc.vb_len),
                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                RD_KAFKA_V_OPAQUE(it), RD_KAFKA_V_END);
        vg_debug(CMD, "connection %ld message %ld (MSH-10 %s): %s %s for %s",
                 it->hi_conn ? it->hi_conn->hc_id : 0L, it->hi_no,
                 it->hi_ctrl, it->hi_trig,
                 err ? "not queued" : "queued", hl->hl_topics[ev.ev_type]);
        vg_record_clear(ev.ev_type, &ev);
        if (err) {
                snprintf(errstr, sizeof(errstr), "event not queued for Kafka "
                         "(%s); send the message again",
                         rd_kafka_err2str(err));
                hl_item_finish(hl, it, VG_HL7_AE, VG_HL7_E_INTERNAL, errstr);
                return;
        }
        hl->hl_in_flight++;
        vg_metric_set(hl->hm_in_flight, NULL, hl->hl_in_flight);
}

/* Purges what librdkafka still holds (its messages get failed delivery
 * reports, hence AE) and serves those reports for up to 2 s. */
void hl_purge_all(hl_t *hl) {
        rd_kafka_purge(hl->hl_rk, RD_KAFKA_PURGE_F_QUEUE |
                                          RD_KAFKA_PURGE_F_INFLIGHT);
        for (int i = 0; i < 20 && hl->hl_in_flight > 0; i++)
                rd_kafka_poll(hl->hl_rk, 100);
}

/* ------------------------------------------------------------------ */
/* The producer                                                       */
/* ------------------------------------------------------------------ */

/* The producer. Returns 0, or an exit status after a message. */
int hl_kafka_setup(hl_t *hl) {
        char errstr[512], ms[32];
        rd_kafka_conf_t *kconf;

        /* Idempotent, acks=all, murmur2: the producer of vigil produce. */
        if (!(kconf = vg_kafka_producer_conf(hl->hl_conf, errstr,
                                             sizeof(errstr)))) {
                fprintf(stderr, "vigil %s: %s\n", CMD, errstr);
                return VG_EXIT_USAGE;
        }
        snprintf(ms, sizeof(ms), "%d", hl->hl_ack_ms);
        /* An event not confirmed in time is answered AE: the sender
         * retries. No auto-creation (co-partitioning, SPEC §2). */
        if (vg_kafka_set(kconf, "message.timeout.ms", ms, errstr,
                         sizeof(errstr)) ||
            vg_kafka_set(kconf, "allow.auto.create.topics", "false", errstr,
                         sizeof(errstr))) {
                fprintf(stderr, "vigil %s: %s\n", CMD, errstr);
                rd_kafka_conf_destroy(kconf);
                return VG_EXIT_USAGE;
        }
        {
                size_t bs = sizeof(hl->hl_bootstrap);
                if (rd_kafka_conf_get(kconf, "bootstrap.servers",
                                      hl->hl_bootstrap, &bs) !=
                    RD_KAFKA_CONF_OK)
                        snprintf(hl->hl_bootstrap, sizeof(hl->hl_bootstrap),
                                 "?");
        }
        rd_kafka_conf_set_dr_msg_cb(kconf, dr_msg_cb);
        rd_kafka_conf_set_error_cb(kconf, error_cb);
        rd_kafka_conf_set_opaque(kconf, hl);
        hl->hl_rk = rd_kafka_new(RD_KAFKA_PRODUCER, kconf, errstr,
                                 sizeof(errstr));
        if (!hl->hl_rk) {
                fprintf(stderr, "vigil %s: cannot create the producer: %s\n",
                        CMD, errstr);
                rd_kafka_conf_destroy(kconf);
                return VG_EXIT_USAGE;
        }
        kconf = NULL; /* now owned by hl_rk */
        /* Delivery reports wake the poll() loop through this pipe. */
        hl->hl_mainq = rd_kafka_queue_get_main(hl->hl_rk);
        rd_kafka_queue_io_event_enable(hl->hl_mainq, hl->hl_kpipe[1], "k", 1);
        return 0;
}

/* Checks the two topics the listener writes. A broker that does not answer
 * is only a warning (messages get AE until it does); a missing topic is an
 * error. Returns 0 or VG_EXIT_FAIL. */
int hl_check_topics(hl_t *hl) {
        const struct rd_kafka_metadata *md = NULL;
        const char *unknown =
                rd_kafka_err2str(RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART);
        static const int types[] = {VG_REC_ADMISSION, VG_REC_DISCHARGE};
        char errstr[512];
        int cnt[2];
        rd_kafka_resp_err_t err;

        err = rd_kafka_metadata(hl->hl_rk, 0, NULL, &md, METADATA_TIMEOUT_MS);
        if (err) {
                vg_warn(CMD, "the Kafka broker (%s) does not answer (%s): "
                        "listening anyway; messages are answered AE until "
                        "their events can be stored",
                        hl->hl_bootstrap, rd_kafka_err2str(err));
                return 0;
        }
        rd_kafka_metadata_destroy(md);
        for (int i = 0; i < 2; i++) {
                const char *t = hl->hl_topics[types[i]];
                cnt[i] = vg_kafka_partition_count(hl->hl_rk, t,
                                                  METADATA_TIMEOUT_MS, errstr,
                                                  sizeof(errstr));
                if (cnt[i] >= 0)
                        continue;
                if (strstr(errstr, unknown))
                        fprintf(stderr, "vigil %s: topic %s does not exist "
                                "(create it: vigil topics create)\n", CMD, t);
                else
                        fprintf(stderr, "vigil %s: %s\n", CMD, errstr);
                return VG_EXIT_FAIL;
        }
        if (cnt[0] != cnt[1])
                vg_warn(CMD, "%s has %d partitions, %s %d: consumers refuse "
                        "to start until the input topics are co-partitioned",
                        hl->hl_topics[VG_REC_ADMISSION], cnt[0],
                        hl->hl_topics[VG_REC_DISCHARGE], cnt[1]);
        return 0;
}
