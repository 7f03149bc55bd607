/*
 * test_codec.c - single-object encoding: round trips of every record type,
 * every class of bad input, and schema evolution (old writer -> current
 * reader with defaults filled in).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <math.h>
#include <string.h>

#include "vg_codec.h"
#include "vg_record_json.h"
#include "vg_schema.h"
#include "vg_time.h"

static vg_codec_t *codec;

static int setup(void **state) {
        char errstr[256];
        (void)state;
        codec = vg_codec_new(errstr, sizeof(errstr));
        if (!codec)
                fail_msg("vg_codec_new: %s", errstr);
        return 0;
}

static int teardown(void **state) {
        (void)state;
        vg_codec_destroy(codec);
        return 0;
}

static const char *sample_json[] = {
        "{\"type\":\"admission\",\"event_id\":\"e1\",\"patient_id\":\"p1\","
        "\"occurred_at\":\"2026-03-01T08:15:00Z\",\"kommun\":\"0484\","
        "\"source_system\":\"his-a\",\"stay_id\":\"s1\",\"facility_id\":"
        "\"MSE\",\"care_setting\":\"HOSPITAL_INPATIENT\",\"planned\":false,"
        "\"age_years\":81,\"sex\":\"FEMALE\",\"diagnosis_group\":"
        "\"HEART_FAILURE\"}",
        "{\"type\":\"discharge\",\"event_id\":\"e2\",\"patient_id\":\"p1\","
        "\"occurred_at\":1772353800123,\"kommun\":\"0484\",\"source_system\":"
        "\"his-a\",\"cancels_event_id\":\"e0\",\"stay_id\":\"s1\","
        "\"facility_id\":\"MSE\",\"care_setting\":\"HOSPITAL_INPATIENT\","
        "\"disposition\":\"AGAINST_ADVICE\",\"needs_coordination\":true}",
        "{\"type\":\"death\",\"event_id\":\"e3\",\"patient_id\":\"p\\u00e5\","
        "\"occurred_at\":\"1900-01-01T00:00:00Z\",\"kommun\":\"1880\","
        "\"source_system\":\"\\u00d6rebro \\u2013 \\u6771\\u4eac\","
        "\"place_of_death\":\"HOME_WITH_SSIH\",\"expected\":true,"
        "\"age_years\":2147483647,\"sex\":\"UNKNOWN\",\"diagnosis_group\":"
        "\"OTHER\"}",
        "{\"type\":\"sip_created\",\"event_id\":\"e4\",\"patient_id\":\"p1\","
        "\"occurred_at\":\"2026-03-02T00:00:00.001Z\",\"kommun\":\"0680\","
        "\"source_system\":\"kommun\",\"sip_id\":\"sip-1\"}",
};

static void roundtrip(vg_rectype_t type, const void *rec) {
        vg_buf_t buf;
        vg_anyrec_t out;
        vg_rectype_t t2;
        char errstr[256], *a, *b;

        vg_buf_init(&buf);
        if (vg_codec_encode(codec, type, rec, &buf, errstr, sizeof(errstr)))
                fail_msg("encode: %s", errstr);
        assert_true(buf.vb_len > VG_SOE_HEADER_LEN);
        assert_int_equal((unsigned char)buf.vb_data[0], 0xc3);
        assert_int_equal((unsigned char)buf.vb_data[1], 0x01);
        if (vg_codec_decode(codec, buf.vb_data, buf.vb_len, (int)type, &t2,
                            &out, NULL, errstr, sizeof(errstr)))
                fail_msg("decode: %s", errstr);
        assert_int_equal(t2, type);
        a = vg_record_to_jsonl(type, rec);
        b = vg_record_to_jsonl(type, &out);
        assert_string_equal(a, b);
        vg_free(a);
        vg_free(b);
        vg_record_clear(type, &out);
        vg_buf_free(&buf);
}

static void test_roundtrip_events(void **state) {
        (void)state;
        for (size_t i = 0; i < VG_ARRAY_SIZE(sample_json); i++) {
                vg_event_t ev;
                char errstr[256];
                if (vg_event_from_jsonl(sample_json[i], strlen(sample_json[i]),
                                        &ev, errstr, sizeof(errstr)))
                        fail_msg("sample %zu: %s", i, errstr);
                roundtrip(ev.ev_type, &ev);
                vg_record_clear(ev.ev_type, &ev);
        }
}

static void test_roundtrip_outputs(void **state) {
        vg_alert_t al = {0};
        vg_ipart_t ip = {0};
        vg_ivalue_t iv = {0};
        (void)state;

        al.al_alert_id = "a1";
        al.al_rule = VG_RULE_READMISSION_30D;
        al.al_status = VG_STATUS_RETRACTED;
        al.al_patient_id = "p1";
        al.al_kommun = "0484";
        al.al_region = "04";
        al.al_anchor = "s2";
        al.al_emitted_at = 1772353800000;
        al.al_index_stay_id = "s1";
        al.al_index_discharged_at = (vg_optl_t){true, -5};
        al.al_days_between = (vg_optl_t){true, 30};
        al.al_value = (vg_optd_t){true, 0.125};
        al.al_denominator = (vg_optl_t){true, INT64_MAX};
        roundtrip(VG_REC_ALERT, &al);
        /* version 2 fields */
        al.al_died_at = (vg_optl_t){true, 1772353800001};
        al.al_place_of_death = "HOME";
        al.al_complete = (vg_optl_t){true, 0};
        roundtrip(VG_REC_ALERT, &al);
        al.al_complete = (vg_optl_t){true, 1};
        roundtrip(VG_REC_ALERT, &al);

        ip.ip_indicator = "death_place.HOME";
        ip.ip_area = "SE";
        ip.ip_period = "2026-03";
        ip.ip_breakdown = "age:85+";
        ip.ip_complete = true;
        ip.ip_data_since = (vg_optl_t){true, 1700000000000};
        ip.ip_partition = 5;
        ip.ip_numerator = 3;
        ip.ip_denominator = (vg_optl_t){true, 7};
        ip.ip_updated_at = 1;
        roundtrip(VG_REC_IPART, &ip);
        ip.ip_denominator.set = false; /* a count */
        ip.ip_numerator = INT64_MIN;
        roundtrip(VG_REC_IPART, &ip);

        iv.iv_indicator = "ssih_enrolment.85+.CANCER";
        iv.iv_area = "04";
        iv.iv_period = "2026-12";
        iv.iv_breakdown = "all";
        iv.iv_numerator = 12;
        iv.iv_updated_at = 2;
        iv.iv_history_complete = true;
        roundtrip(VG_REC_IVALUE, &iv);

        {
                vg_progress_t pp = {0};
                pp.pp_partition = 3;
                pp.pp_updated_at = 5;
                roundtrip(VG_REC_PROGRESS, &pp); /* nulls */
                pp.pp_watermark = (vg_optl_t){true, 1772353800000};
                pp.pp_data_since = (vg_optl_t){true, -1};
                roundtrip(VG_REC_PROGRESS, &pp);
        }
}

/* Encodes sample 0 (an admission) into buf. */
static void encode_sample(vg_buf_t *buf) {
        vg_event_t ev;
        char errstr[256];
        vg_buf_init(buf);
        assert_int_equal(vg_event_from_jsonl(sample_json[0],
                                             strlen(sample_json[0]), &ev,
                                             errstr, sizeof(errstr)),
                         VG_OK);
        assert_int_equal(vg_codec_encode(codec, ev.ev_type, &ev, buf, errstr,
                                         sizeof(errstr)),
                         VG_OK);
        vg_record_clear(ev.ev_type, &ev);
}

static void expect_fail(const void *data, size_t len,
                        vg_decode_reason_t want, const char *what) {
        vg_anyrec_t out;
        vg_rectype_t t;
        vg_decode_reason_t reason = VG_DECODE_OK;
        char errstr[256] = "";
        vg_err_t err = vg_codec_decode(codec, data, len, -1, &t, &out, &reason,
                                       errstr, sizeof(errstr));
        if (err != VG_ERR_DECODE)
                fail_msg("%s: decoded although it should not", what);
        if (reason != want)
                fail_msg("%s: reason %s (%s), want %s", what,
                         vg_decode_reason_str(reason), errstr,
                         vg_decode_reason_str(want));
        assert_true(strlen(errstr) > 0);
}

static void test_bad_header(void **state) {
        vg_buf_t buf;
        (void)state;
        encode_sample(&buf);
        expect_fail("", 0, VG_DECODE_BAD_HEADER, "empty");
        expect_fail(buf.vb_data, 5, VG_DECODE_BAD_HEADER, "short header");
        buf.vb_data[0] = 0x00;
        expect_fail(buf.vb_data, buf.vb_len, VG_DECODE_BAD_HEADER, "magic");
        buf.vb_data[0] = (char)0xc3;
        buf.vb_data[1] = 0x02;
        expect_fail(buf.vb_data, buf.vb_len, VG_DECODE_BAD_HEADER, "version");
        buf.vb_data[1] = 0x01;
        buf.vb_data[5] ^= 0x40;
        expect_fail(buf.vb_data, buf.vb_len, VG_DECODE_UNKNOWN_FINGERPRINT,
                    "fingerprint");
        {
                /* a fingerprint whose hex looks like a personnummer
                 * (docs/EVENTS.md §7) is not repeated in the error every
                 * reader logs: ab191212121212cd, little-endian */
                static const unsigned char fp[8] = {0xcd, 0x12, 0x12, 0x12,
                                                    0x12, 0x12, 0x19, 0xab};
                vg_anyrec_t out;
                vg_rectype_t t;
                char errstr[256] = "";
                memcpy(buf.vb_data + 2, fp, 8);
                assert_int_equal(vg_codec_decode(codec, buf.vb_data,
                                                 buf.vb_len, -1, &t, &out,
                                                 NULL, errstr,
                                                 sizeof(errstr)),
                                 VG_ERR_DECODE);
                assert_non_null(strstr(errstr, "fingerprint ab"));
                assert_null(strstr(errstr, "1212"));
        }
        vg_buf_free(&buf);
}

static void test_truncated_and_trailing(void **state) {
        vg_buf_t buf;
        (void)state;
        encode_sample(&buf);
        /* Every proper prefix of the body fails, none crashes. */
        for (size_t n = VG_SOE_HEADER_LEN; n < buf.vb_len; n++) {
                vg_anyrec_t out;
                vg_rectype_t t;
                vg_decode_reason_t reason;
                char errstr[256];
                assert_int_equal(vg_codec_decode(codec, buf.vb_data, n, -1, &t,
                                                 &out, &reason, errstr,
                                                 sizeof(errstr)),
                                 VG_ERR_DECODE);
        }
        expect_fail(buf.vb_data, buf.vb_len - 1, VG_DECODE_TRUNCATED,
                    "last byte missing");
        vg_buf_append(&buf, "\0", 1);
        expect_fail(buf.vb_data, buf.vb_len, VG_DECODE_TRAILING_BYTES,
                    "trailing byte");
        vg_buf_free(&buf);
}

/* A hand-made SipCreated body: header + fields, with one field crafted. */
static size_t craft_sip(unsigned char *out, const unsigned char *event_id_len,
                        size_t elen) {
        uint64_t fp = vg_codec_fingerprint(codec, VG_REC_SIP);
        size_t n = 0;
        out[n++] = 0xc3;
        out[n++] = 0x01;
        for (int i = 0; i < 8; i++)
                out[n++] = (unsigned char)(fp >> (8 * i));
        memcpy(out + n, event_id_len, elen);
        n += elen;
        return n;
}

static void test_bad_lengths(void **state) {
        unsigned char buf[64];
        size_t n;
        (void)state;
        /* zigzag(-1) = 0x01: negative string length */
        n = craft_sip(buf, (const unsigned char *)"\x01", 1);
        expect_fail(buf, n, VG_DECODE_BAD_LENGTH, "negative length");
        /* a huge length (2^62) that must not reach malloc */
        n = craft_sip(buf,
                      (const unsigned char *)"\xfe\xff\xff\xff\xff\xff\xff\xff"
                                             "\x7f",
                      9);
        expect_fail(buf, n, VG_DECODE_TRUNCATED, "huge length");
        /* an over-long varint (11 bytes) */
        n = craft_sip(buf,
                      (const unsigned char *)"\xff\xff\xff\xff\xff\xff\xff\xff"
                                             "\xff\xff\x01",
                      11);
        expect_fail(buf, n, VG_DECODE_BAD_VALUE, "varint too long");
}

/* Encodes a SipCreated then overwrites the union index of cancels_event_id,
 * which follows event_id, patient_id, occurred_at, kommun, source_system. */
static void test_bad_union_and_enum(void **state) {
        vg_event_t ev = {0};
        vg_buf_t buf;
        char errstr[256];
        size_t pos;
        (void)state;

        ev.ev_type = VG_REC_SIP;
        ev.ev_event_id = "a";
        ev.ev_patient_id = "b";
        ev.ev_occurred_at = 0; /* one byte: 0x00 */
        ev.ev_kommun = "0484";
        ev.ev_source_system = "c";
        ev.ev_sip_id = "d";
        vg_buf_init(&buf);
        assert_int_equal(vg_codec_encode(codec, VG_REC_SIP, &ev, &buf, errstr,
                                         sizeof(errstr)),
                         VG_OK);
        pos = VG_SOE_HEADER_LEN + 2 + 2 + 1 + 5 + 2;
        assert_int_equal(buf.vb_data[pos], 0x00); /* null branch */
        buf.vb_data[pos] = 0x04;                  /* branch 2: none */
        expect_fail(buf.vb_data, buf.vb_len, VG_DECODE_BAD_VALUE,
                    "union branch");
        buf.vb_data[pos] = 0x01; /* branch -1 */
        expect_fail(buf.vb_data, buf.vb_len, VG_DECODE_BAD_VALUE,
                    "negative union branch");
        vg_buf_free(&buf);

        /* Discharge: last two fields are disposition (enum) and boolean. */
        vg_event_t d = {0};
        d.ev_type = VG_REC_DISCHARGE;
        d.ev_event_id = d.ev_patient_id = d.ev_source_system = "x";
        d.ev_kommun = "0484";
        d.ev_stay_id = d.ev_facility_id = "s";
        d.ev_disposition = VG_DISP_OTHER;
        vg_buf_init(&buf);
        assert_int_equal(vg_codec_encode(codec, VG_REC_DISCHARGE, &d, &buf,
                                         errstr, sizeof(errstr)),
                         VG_OK);
        assert_int_equal(buf.vb_data[buf.vb_len - 2], 7 * 2);
        buf.vb_data[buf.vb_len - 2] = 8 * 2; /* symbol 8 does not exist */
        expect_fail(buf.vb_data, buf.vb_len, VG_DECODE_BAD_VALUE,
                    "enum index");
        buf.vb_data[buf.vb_len - 2] = 7 * 2;
        buf.vb_data[buf.vb_len - 1] = 2; /* boolean neither 0 nor 1 */
        expect_fail(buf.vb_data, buf.vb_len, VG_DECODE_BAD_VALUE, "boolean");
        buf.vb_data[buf.vb_len - 1] = 0;
        /* event_id "x" -> invalid UTF-8 byte */
        buf.vb_data[VG_SOE_HEADER_LEN + 1] = (char)0xff;
        expect_fail(buf.vb_data, buf.vb_len, VG_DECODE_BAD_VALUE, "utf-8");
        buf.vb_data[VG_SOE_HEADER_LEN + 1] = 0;
        expect_fail(buf.vb_data, buf.vb_len, VG_DECODE_BAD_VALUE, "NUL");
        vg_buf_free(&buf);
}

static void test_non_finite_double(void **state) {
        vg_ivalue_t iv = {0};
        vg_buf_t buf;
        char errstr[256];
        double nan = NAN;
        (void)state;
        iv.iv_indicator = "i";
        iv.iv_area = "SE";
        iv.iv_period = "2026-01";
        iv.iv_breakdown = "all";
        iv.iv_value = (vg_optd_t){true, 0.5};
        vg_buf_init(&buf);
        assert_int_equal(vg_codec_encode(codec, VG_REC_IVALUE, &iv, &buf,
                                         errstr, sizeof(errstr)),
                         VG_OK);
        /* value is the union before updated_at (1 byte: 0), complete,
         * history_complete (1 byte each) and data_since (null: 1 byte);
         * its 8 double bytes end 4 bytes before the end. */
        memcpy(buf.vb_data + buf.vb_len - 12, &nan, 8);
        expect_fail(buf.vb_data, buf.vb_len, VG_DECODE_BAD_VALUE, "NaN");
        vg_buf_free(&buf);
}

/* Random corruption of valid records: every outcome must be a clean
 * decode or a clean error (ASan/UBSan builds check there is nothing worse),
 * and a successful decode must re-encode. A small fixed-seed fuzz. */
static void test_random_mutations(void **state) {
        uint64_t x = 0x9e3779b97f4a7c15ULL;
        int ok = 0, bad = 0;
        (void)state;
        for (size_t k = 0; k < VG_ARRAY_SIZE(sample_json); k++) {
                vg_event_t ev;
                vg_buf_t buf;
                char errstr[256];
                assert_int_equal(vg_event_from_jsonl(sample_json[k],
                                                     strlen(sample_json[k]),
                                                     &ev, errstr,
                                                     sizeof(errstr)),
                                 VG_OK);
                vg_buf_init(&buf);
                assert_int_equal(vg_codec_encode(codec, ev.ev_type, &ev, &buf,
                                                 errstr, sizeof(errstr)),
                                 VG_OK);
                vg_record_clear(ev.ev_type, &ev);
                for (int i = 0; i < 20000; i++) {
                        unsigned char m[512];
                        size_t len = buf.vb_len;
                        vg_anyrec_t out;
                        vg_rectype_t t;
                        int flips;
                        memcpy(m, buf.vb_data, len);
                        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                        flips = 1 + (int)(x % 4);
                        for (int f = 0; f < flips; f++) {
                                x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                                /* keep the header most of the time so the
                                 * body walker is what gets exercised */
                                size_t pos = VG_SOE_HEADER_LEN +
                                             x % (len - VG_SOE_HEADER_LEN);
                                m[pos] = (unsigned char)(x >> 24);
                        }
                        if (x % 7 == 0)
                                len = VG_SOE_HEADER_LEN +
                                      (x >> 8) % (len - VG_SOE_HEADER_LEN);
                        if (vg_codec_decode(codec, m, len, -1, &t, &out, NULL,
                                            errstr, sizeof(errstr)) == VG_OK) {
                                vg_buf_t again;
                                vg_buf_init(&again);
                                vg_codec_encode(codec, t, &out, &again, errstr,
                                                sizeof(errstr));
                                vg_buf_free(&again);
                                vg_record_clear(t, &out);
                                ok++;
                        } else
                                bad++;
                }
                vg_buf_free(&buf);
        }
        print_message("mutations: %d decoded, %d refused\n", ok, bad);
        /* Both outcomes must occur, or the mutations test nothing. */
        assert_true(ok > 0 && bad > 0);
}

static void test_wrong_type(void **state) {
        vg_buf_t buf;
        vg_anyrec_t out;
        vg_rectype_t t;
        vg_decode_reason_t reason;
        char errstr[256];
        (void)state;
        encode_sample(&buf); /* an Admission */
        assert_int_equal(vg_codec_decode(codec, buf.vb_data, buf.vb_len,
                                         VG_REC_DEATH, &t, &out, &reason,
                                         errstr, sizeof(errstr)),
                         VG_ERR_DECODE);
        assert_int_equal(reason, VG_DECODE_WRONG_TYPE);
        vg_buf_free(&buf);
}

static void test_encode_rejects_missing(void **state) {
        vg_event_t ev = {0};
        vg_buf_t buf;
        char errstr[256];
        (void)state;
        ev.ev_type = VG_REC_SIP;
        ev.ev_event_id = "a";
        vg_buf_init(&buf);
        assert_int_equal(vg_codec_encode(codec, VG_REC_SIP, &ev, &buf, errstr,
                                         sizeof(errstr)),
                         VG_ERR_INVALID);
        assert_non_null(strstr(errstr, "patient_id"));
        vg_buf_free(&buf);
}

/* Schema evolution: an older Discharge writer without cancels_event_id and
 * needs_coordination, and with a shorter Disposition enum. The current reader
 * gets cancels_event_id = null (its default) and needs_coordination = false
 * (the default this old schema's reader would declare)... but the current
 * reader has no default for needs_coordination, so registering a writer that
 * lacks it must fail; the writer below keeps it. */
static const char old_discharge[] =
        "{\"type\":\"record\",\"name\":\"Discharge\",\"namespace\":"
        "\"se.vigil.care\",\"fields\":["
        "{\"name\":\"event_id\",\"type\":\"string\"},"
        "{\"name\":\"patient_id\",\"type\":\"string\"},"
        "{\"name\":\"occurred_at\",\"type\":\"int\"},"
        "{\"name\":\"kommun\",\"type\":\"string\"},"
        "{\"name\":\"source_system\",\"type\":\"string\"},"
        "{\"name\":\"stay_id\",\"type\":\"string\"},"
        "{\"name\":\"facility_id\",\"type\":\"string\"},"
        "{\"name\":\"care_setting\",\"type\":{\"type\":\"enum\",\"name\":"
        "\"CareSetting\",\"symbols\":[\"HOSPITAL_INPATIENT\",\"SSIH\"]}},"
        "{\"name\":\"disposition\",\"type\":{\"type\":\"enum\",\"name\":"
        "\"Disposition\",\"symbols\":[\"DIED\",\"HOME\",\"ALIEN\"]}},"
        "{\"name\":\"needs_coordination\",\"type\":\"boolean\"},"
        "{\"name\":\"retired_field\",\"type\":\"long\"}]}";

static const char old_missing_required[] =
        "{\"type\":\"record\",\"name\":\"SipCreated\",\"namespace\":"
        "\"se.vigil.care\",\"fields\":["
        "{\"name\":\"event_id\",\"type\":\"string\"}]}";

static size_t put_str(unsigned char *p, const char *s) {
        size_t n = strlen(s), k = 0;
        p[k++] = (unsigned char)(n * 2);
        memcpy(p + k, s, n);
        return k + n;
}

static void test_evolution(void **state) {
        char errstr[256];
        unsigned char buf[256];
        size_t n = 0;
        vg_anyrec_t out;
        vg_rectype_t t;
        vg_decode_reason_t reason;
        uint64_t fp;
        (void)state;

        assert_int_equal(vg_codec_add_writer(codec, old_missing_required,
                                             strlen(old_missing_required),
                                             errstr, sizeof(errstr)),
                         VG_ERR_ARG);
        assert_non_null(strstr(errstr, "no default"));

        if (vg_codec_add_writer(codec, old_discharge, strlen(old_discharge),
                                errstr, sizeof(errstr)))
                fail_msg("add_writer: %s", errstr);
        assert_int_equal(vg_schema_fingerprint(old_discharge,
                                               strlen(old_discharge), &fp,
                                               errstr, sizeof(errstr)),
                         VG_OK);
        buf[n++] = 0xc3;
        buf[n++] = 0x01;
        for (int i = 0; i < 8; i++)
                buf[n++] = (unsigned char)(fp >> (8 * i));
        n += put_str(buf + n, "e9");
        n += put_str(buf + n, "p9");
        buf[n++] = 0x54; /* int 42 (widened to long) */
        n += put_str(buf + n, "0484");
        n += put_str(buf + n, "old");
        n += put_str(buf + n, "s9");
        n += put_str(buf + n, "f9");
        buf[n++] = 0x02; /* care_setting index 1 = SSIH (index 2 in reader) */
        buf[n++] = 0x02; /* disposition index 1 = HOME (index 0 in reader) */
        buf[n++] = 0x01; /* needs_coordination */
        buf[n++] = 0x06; /* retired_field = 3: skipped */
        if (vg_codec_decode(codec, buf, n, VG_REC_DISCHARGE, &t, &out, &reason,
                            errstr, sizeof(errstr)))
                fail_msg("old writer: %s: %s", vg_decode_reason_str(reason),
                         errstr);
        assert_int_equal(t, VG_REC_DISCHARGE);
        assert_string_equal(out.ev.ev_event_id, "e9");
        assert_int_equal(out.ev.ev_occurred_at, 42);
        assert_null(out.ev.ev_cancels_event_id); /* default filled */
        assert_int_equal(out.ev.ev_care_setting, VG_CS_SSIH);
        assert_int_equal(out.ev.ev_disposition, VG_DISP_HOME);
        assert_true(out.ev.ev_needs_coordination);
        vg_record_clear(t, &out);

        /* A symbol the reader does not know: resolution error, no crash. */
        buf[n - 3] = 0x04; /* ALIEN */
        expect_fail(buf, n, VG_DECODE_RESOLUTION, "unknown enum symbol");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_roundtrip_events),
                cmocka_unit_test(test_roundtrip_outputs),
                cmocka_unit_test(test_bad_header),
                cmocka_unit_test(test_truncated_and_trailing),
                cmocka_unit_test(test_bad_lengths),
                cmocka_unit_test(test_bad_union_and_enum),
                cmocka_unit_test(test_wrong_type),
                cmocka_unit_test(test_non_finite_double),
                cmocka_unit_test(test_random_mutations),
                cmocka_unit_test(test_encode_rejects_missing),
                cmocka_unit_test(test_evolution),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
