/*
 * 0001-codec-roundtrip - one record of every type through a real broker:
 * encode (single-object), produce with an idempotent producer, consume back
 * with a consumer group, decode, compare field by field (as JSON).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vg_codec.h"
#include "vg_record_json.h"
#include "vg_test_kafka.h"

static const char *records[VG_REC__CNT] = {
        "{\"type\":\"admission\",\"event_id\":\"e1\",\"patient_id\":\"p1\","
        "\"occurred_at\":\"2026-03-01T08:15:00Z\",\"kommun\":\"0484\","
        "\"source_system\":\"his-a\",\"cancels_event_id\":null,\"stay_id\":"
        "\"s1\",\"facility_id\":\"MSE\",\"care_setting\":\"HOSPITAL_INPATIENT\","
        "\"planned\":false,\"age_years\":81,\"sex\":\"FEMALE\","
        "\"diagnosis_group\":\"HEART_FAILURE\"}",
        "{\"type\":\"discharge\",\"event_id\":\"e2\",\"patient_id\":\"p1\","
        "\"occurred_at\":\"2026-03-04T10:00:00.250Z\",\"kommun\":\"0484\","
        "\"source_system\":\"his-a\",\"cancels_event_id\":\"e0\",\"stay_id\":"
        "\"s1\",\"facility_id\":\"MSE\",\"care_setting\":\"HOSPITAL_INPATIENT\","
        "\"disposition\":\"HOME\",\"needs_coordination\":true}",
        "{\"type\":\"death\",\"event_id\":\"e3\",\"patient_id\":\"p1\","
        "\"occurred_at\":\"2026-04-01T03:00:00Z\",\"kommun\":\"0484\","
        "\"source_system\":\"his-a\",\"cancels_event_id\":null,"
        "\"place_of_death\":\"HOME_WITH_SSIH\",\"expected\":true,"
        "\"age_years\":81,\"sex\":\"FEMALE\",\"diagnosis_group\":\"CANCER\"}",
        "{\"type\":\"sip_created\",\"event_id\":\"e4\",\"patient_id\":\"p1\","
        "\"occurred_at\":\"2026-03-05T09:00:00Z\",\"kommun\":\"0484\","
        "\"source_system\":\"\\u00d6rebro\",\"cancels_event_id\":null,"
        "\"sip_id\":\"sip-1\"}",
        "{\"type\":\"register_entry\",\"event_id\":\"e5\",\"patient_id\":"
        "\"p1\",\"occurred_at\":\"2026-04-20T09:00:00Z\",\"kommun\":\"0484\","
        "\"source_system\":\"spr\",\"cancels_event_id\":null,\"death_at\":"
        "\"2026-04-01T03:00:00Z\",\"unit_id\":\"u-7\",\"expected\":true,"
        "\"eol_conversation\":\"YES\",\"pain_assessed\":\"NO\","
        "\"symptoms_assessed\":\"UNKNOWN\",\"oral_health_assessed\":\"YES\","
        "\"prn_opioid\":\"YES\",\"prn_anxiolytic\":\"YES\","
        "\"prn_antiemetic\":\"NO\",\"prn_antisecretory\":\"YES\","
        "\"present_at_death\":\"YES\",\"bereavement_offered\":\"NO\","
        "\"pressure_ulcer\":\"GRADE_1\"}",
        "{\"alert_id\":\"a1\",\"rule\":\"SIP_OVERDUE\",\"status\":\"ACTIVE\","
        "\"patient_id\":\"p1\",\"kommun\":\"0484\",\"region\":\"04\","
        "\"anchor\":\"s1\",\"emitted_at\":\"2026-03-08T10:00:00Z\","
        "\"stay_id\":\"s1\",\"discharged_at\":\"2026-03-04T10:00:00Z\","
        "\"deadline\":\"2026-03-07T10:00:00Z\"}",
        "{\"indicator\":\"readmission_30d\",\"area\":\"0484\",\"period\":"
        "\"2026-03\",\"breakdown\":\"age:85+\",\"partition\":3,"
        "\"numerator\":1,\"denominator\":4,"
        "\"updated_at\":\"2026-03-08T10:00:00Z\",\"complete\":true,"
        "\"history_complete\":false,\"data_since\":null}",
        "{\"indicator\":\"ssih_enrolment.85+.CANCER\",\"area\":\"SE\","
        "\"period\":\"2026-03\",\"breakdown\":\"all\",\"numerator\":12,"
        "\"denominator\":null,\"value\":null,\"updated_at\":"
        "\"2026-03-08T10:00:00Z\",\"complete\":false,\"history_complete\":"
        "true,\"data_since\":\"2025-01-01T00:00:00Z\"}",
        "{\"partition\":3,\"watermark\":\"2026-03-08T09:00:00Z\","
        "\"data_since\":null,\"updated_at\":\"2026-03-08T10:00:00Z\"}",
};

int main(void) {
        char errstr[512], topic[128];
        vg_codec_t *codec = vg_codec_new(errstr, sizeof(errstr));
        rd_kafka_t *p, *c;
        char *want[VG_REC__CNT];
        int got = 0, failures = 0;

        if (!codec) {
                fprintf(stderr, "FAIL: %s\n", errstr);
                return 1;
        }
        vgt_unique_topic("it.codec", topic, sizeof(topic));
        vgt_create_topic(topic, 1);
        p = vgt_producer();
        for (int t = 0; t < VG_REC__CNT; t++) {
                vg_anyrec_t rec;
                json_error_t jerr;
                json_t *obj = json_loads(records[t], 0, &jerr);
                vg_buf_t buf;
                vg_err_t err;
                if (!obj) {
                        fprintf(stderr, "FAIL: record %d: %s\n", t, jerr.text);
                        return 1;
                }
                err = VG_REC_IS_EVENT(t)
                              ? vg_event_from_json(obj, &rec.ev, errstr,
                                                   sizeof(errstr))
                              : vg_record_from_json(t, obj, &rec, errstr,
                                                    sizeof(errstr));
                json_decref(obj);
                if (err) {
                        fprintf(stderr, "FAIL: record %d: %s\n", t, errstr);
                        return 1;
                }
                want[t] = vg_record_to_jsonl(t, &rec);
                vg_buf_init(&buf);
                if (vg_codec_encode(codec, t, &rec, &buf, errstr,
                                    sizeof(errstr))) {
                        fprintf(stderr, "FAIL: encode %d: %s\n", t, errstr);
                        return 1;
                }
                if (rd_kafka_producev(p, RD_KAFKA_V_TOPIC(topic),
                                      RD_KAFKA_V_KEY("k", 1),
                                      RD_KAFKA_V_VALUE(buf.vb_data,
                                                       buf.vb_len),
                                      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                      RD_KAFKA_V_END)) {
                        fprintf(stderr, "FAIL: produce\n");
                        return 1;
                }
                vg_buf_free(&buf);
                vg_record_clear(t, &rec);
        }
        if (rd_kafka_flush(p, 30000) || rd_kafka_outq_len(p)) {
                fprintf(stderr, "FAIL: flush: messages not delivered\n");
                return 1;
        }
        rd_kafka_destroy(p);

        c = vgt_consumer(topic);
        rd_kafka_topic_partition_list_t *sub =
                rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(sub, topic, RD_KAFKA_PARTITION_UA);
        rd_kafka_subscribe(c, sub);
        rd_kafka_topic_partition_list_destroy(sub);
        for (int tries = 0; got < VG_REC__CNT && tries < 300; tries++) {
                rd_kafka_message_t *m = rd_kafka_consumer_poll(c, 100);
                vg_anyrec_t rec;
                vg_rectype_t t;
                vg_decode_reason_t reason;
                char *js;
                if (!m)
                        continue;
                if (m->err) {
                        if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                                fprintf(stderr, "consumer: %s\n",
                                        rd_kafka_message_errstr(m));
                        rd_kafka_message_destroy(m);
                        continue;
                }
                if (vg_codec_decode(codec, m->payload, m->len, -1, &t, &rec,
                                    &reason, errstr, sizeof(errstr))) {
                        fprintf(stderr, "FAIL: decode offset %lld: %s\n",
                                (long long)m->offset, errstr);
                        return 1;
                }
                js = vg_record_to_jsonl(t, &rec);
                if ((int)m->offset != got || (int)t != got ||
                    strcmp(js, want[t])) {
                        fprintf(stderr,
                                "FAIL: offset %lld type %d\n got: %s\nwant: "
                                "%s\n",
                                (long long)m->offset, (int)t, js,
                                want[got < VG_REC__CNT ? got : 0]);
                        failures++;
                } else
                        printf("ok %s: %s\n", vg_rectype(t)->rt_name, js);
                vg_free(js);
                vg_record_clear(t, &rec);
                rd_kafka_message_destroy(m);
                got++;
        }
        rd_kafka_consumer_close(c);
        rd_kafka_destroy(c);
        for (int t = 0; t < VG_REC__CNT; t++)
                vg_free(want[t]);
        vg_codec_destroy(codec);
        if (got != VG_REC__CNT) {
                fprintf(stderr, "FAIL: consumed %d of %d records\n", got,
                        VG_REC__CNT);
                return 1;
        }
        if (failures)
                return 1;
        printf("PASS: %d records through topic %s\n", got, topic);
        return 0;
}
