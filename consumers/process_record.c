/*
 * process_record.c - one input record of vigil process in Kafka mode, on
 * its partition's worker (process_pool.c, process.c): the checks of SPEC
 * §7 and §8 (personnummer-like key or patient_id, size), decode, validate,
 * apply to the partition's open batch or queue a DLQ row, and store the
 * next offset. Touches only the partition's own state and the metrics
 * (which lock), so partitions run side by side.
 */
#include "vg_codec.h"
#include "vg_consumers.h"
#include "vg_metrics.h"
#include "vg_partition.h"
#include "process_int.h"

#include <stdio.h>
#include <string.h>

/* A record whose key or patient_id looks like a personnummer (SPEC §8):
 * to the DLQ with reason personal-data, its key and value left out (the
 * headers still name topic, partition and offset); the log names no
 * value. */
static void personal_data(proc_t *pr, pstate_t *ps, rd_kafka_message_t *m,
                          const char *topic, int type, const char *what) {
        char errstr[512], detail[128];
        const char *v[1] = {"personal-data"};
        vg_err_t err;
        snprintf(detail, sizeof(detail),
                 "the %s looks like a personnummer: not processed", what);
        vg_part_activity(ps->ps_part, type);
        vg_metric_inc(pr->pm_dlq, v, 1);
        vg_warn("process", "%s [%d] offset %lld: %s -> DLQ (key and value "
                "left out)", topic, m->partition, (long long)m->offset,
                detail);
        err = vg_part_dlq(ps->ps_part, NULL, 0, "", 0, "personal-data",
                          detail, topic, m->partition, m->offset, errstr,
                          sizeof(errstr));
        if (!err)
                err = vg_part_set_offset(ps->ps_part, topic, m->offset + 1,
                                         errstr, sizeof(errstr));
        if (err) {
                process_fatal(pr, errstr);
                return;
        }
        ps->ps_batch++;
        ps->ps_nevents++;
}

void process_record(proc_t *pr, rd_kafka_message_t *m, vg_codec_t *codec) {
        const char *topic = rd_kafka_topic_name(m->rkt);
        int type = process_input_type(pr, topic), p = m->partition;
        pstate_t *ps;
        vg_anyrec_t rec;
        vg_rectype_t t;
        vg_decode_reason_t reason;
        char errstr[512];
        const char *pf;
        vg_err_t err;

        if (type < 0 || p < 0 || p >= MAX_PARTITIONS ||
            !pr->pr_parts[p].ps_part)
                return;
        ps = &pr->pr_parts[p];
        if (!vg_part_in_batch(ps->ps_part)) {
                if (vg_part_begin(ps->ps_part, vg_now_ms(), errstr,
                                  sizeof(errstr))) {
                        process_fatal(pr, errstr);
                        return;
                }
                ps->ps_batch_start = vg_now_ms();
        }
        /* SPEC §8: a key that looks like a personnummer is not processed,
         * and the DLQ gets neither key nor value; checked before decoding
         * so that an undecodable record is treated the same way. */
        if (m->key && vg_pnr_like(m->key, m->key_len)) {
                personal_data(pr, ps, m, topic, type, "key");
                return;
        }
        /* SPEC §7: bounded input; the message is named by its place. */
        if (m->len + m->key_len > pr->pr_max_bytes) {
                const char *v[1] = {"too-large"};
                snprintf(errstr, sizeof(errstr),
                         "%zu bytes (key and value), more than "
                         "input.max_bytes (%zu)", m->len + m->key_len,
                         pr->pr_max_bytes);
                vg_part_activity(ps->ps_part, type);
                vg_metric_inc(pr->pm_dlq, v, 1);
                vg_warn("process", "%s [%d] offset %lld: %s -> DLQ", topic, p,
                        (long long)m->offset, errstr);
                {
                        char e2[512];
                        err = vg_part_dlq(ps->ps_part, m->key, m->key_len,
                                          m->payload, m->len, "too-large",
                                          errstr, topic, p, m->offset, e2,
                                          sizeof(e2));
                        if (!err)
                                err = vg_part_set_offset(ps->ps_part, topic,
                                                         m->offset + 1, e2,
                                                         sizeof(e2));
                        if (err) {
                                process_fatal(pr, e2);
                                return;
                        }
                }
                ps->ps_batch++;
                ps->ps_nevents++;
                return;
        }
        err = vg_codec_decode(codec, m->payload, m->payload ? m->len : 0,
                              type, &t, &rec, &reason, errstr, sizeof(errstr));
        /* ... nor one with a personnummer in another field: processed,
         * it would be written to the state, the changelog and alerts
         * (SPEC §8: "No component writes a personnummer ...") */
        if (!err && (pf = vg_event_pnr_field(&rec.ev))) {
                vg_record_clear(t, &rec);
                personal_data(pr, ps, m, topic, type, pf);
                return;
        }
        if (err)
                vg_part_activity(ps->ps_part, type);
        if (err) {
                vg_warn("process", "%s [%d] offset %lld: %s: %s -> DLQ", topic,
                        p, (long long)m->offset, vg_decode_reason_str(reason),
                        errstr);
                const char *v[1] = {vg_decode_reason_str(reason)};
                vg_metric_inc(pr->pm_dlq, v, 1);
                err = vg_part_dlq(ps->ps_part, m->key, m->key_len, m->payload,
                                  m->len, vg_decode_reason_str(reason), errstr,
                                  topic, p, m->offset, errstr, sizeof(errstr));
        } else if (vg_event_validate(&rec.ev, vg_now_ms(), errstr,
                                     sizeof(errstr))) {
                char detail[512];
                snprintf(detail, sizeof(detail), "%s", errstr);
                vg_redact_pnr(detail); /* (it quotes the field) */
                const char *v[1] = {"invalid"};
                vg_part_activity(ps->ps_part, type);
                vg_metric_inc(pr->pm_dlq, v, 1);
                vg_warn("process", "%s [%d] offset %lld: invalid: %s -> DLQ",
                        topic, p, (long long)m->offset, detail);
                err = vg_part_dlq(ps->ps_part, m->key, m->key_len, m->payload,
                                  m->len, "invalid", detail, topic, p,
                                  m->offset, errstr, sizeof(errstr));
                vg_record_clear(t, &rec);
        } else {
                /* SPEC §2: inputs are keyed by patient_id, which puts all
                 * of a patient's events in one partition number of every
                 * topic. Another key (or none) may put them in another
                 * partition, where they are not seen together: processed
                 * (this partition cannot tell where the rest went), but
                 * counted and said, not silent. */
                size_t idlen = strlen(rec.ev.ev_patient_id);
                process_align_seen(ps, type, rec.ev.ev_occurred_at);
                if (!m->key || m->key_len != idlen ||
                    memcmp(m->key, rec.ev.ev_patient_id, idlen)) {
                        long k = atomic_fetch_add(&pr->pr_key_mismatches,
                                                  1) + 1;
                        vg_metric_inc(pr->pm_key_mismatch, NULL, 1);
                        if (k <= 10 || k % 1000 == 0)
                                vg_warn("process", "%s [%d] offset %lld: the "
                                        "key is not the event's patient_id "
                                        "(%ld such records so far): a "
                                        "producer that keys otherwise "
                                        "splits patients across partitions "
                                        "(SPEC §2)", topic, p,
                                        (long long)m->offset, k);
                }
                err = vg_part_event_hashed(
                        ps->ps_part, &rec.ev,
                        vg_hash_str(rec.ev.ev_patient_id), errstr,
                        sizeof(errstr));
                vg_record_clear(t, &rec);
                if (err == VG_ERR_INVALID) { /* patient-limit, too-late */
                        char detail[512];
                        const char *why = vg_part_rejected(ps->ps_part);
                        const char *v[1] = {why};
                        snprintf(detail, sizeof(detail), "%s", errstr);
                        vg_redact_pnr(detail);
                        vg_metric_inc(pr->pm_dlq, v, 1);
                        vg_warn("process", "%s [%d] offset %lld: %s -> DLQ",
                                topic, p, (long long)m->offset, detail);
                        err = vg_part_dlq(ps->ps_part, m->key, m->key_len,
                                          m->payload, m->len, why, detail,
                                          topic, p, m->offset, errstr,
                                          sizeof(errstr));
                }
        }
        if (!err)
                err = vg_part_set_offset(ps->ps_part, topic, m->offset + 1,
                                         errstr, sizeof(errstr));
        if (err) {
                process_fatal(pr, errstr);
                return;
        }
        ps->ps_batch++;
        ps->ps_nevents++;
}
