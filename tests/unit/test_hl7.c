/*
 * test_hl7.c - HL7 v2 ADT to care events (producers/vg_hl7.c,
 * docs/HOSPITAL.md): framing, separators and escapes, each trigger, event
 * ids, times and clock changes, missing fields, refusals, and that no
 * personnummer ever reaches an event or an error (helpers:
 * hl7_helpers.h).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "hl7_helpers.h"
#include "vg_hl7_ack.h"

/* ------------------------------------------------------------------ */

static void test_a01(void **state) {
        vg_event_t ev;
        char hex[VG_PSEUDO_HEX_BUFSZ];
        (void)state;
        expect_event(A01("C1"), &ev);
        assert_int_equal(ev.ev_type, VG_REC_ADMISSION);
        assert_string_equal(ev.ev_stay_id, "V1001");
        assert_string_equal(ev.ev_facility_id, "MED3");
        assert_string_equal(ev.ev_kommun, "0484");
        assert_string_equal(ev.ev_source_system, "hl7:HIS-A");
        assert_null(ev.ev_cancels_event_id);
        assert_true(ev.ev_planned); /* PV1-4 C = elective */
        assert_int_equal(ev.ev_sex, VG_SEX_FEMALE);
        assert_int_equal(ev.ev_age_years, 80);
        assert_int_equal(ev.ev_diagnosis_group, VG_DG_HEART_FAILURE);
        assert_int_equal(ev.ev_care_setting, VG_CS_HOSPITAL_INPATIENT);
        /* 08:15 CET = 07:15 UTC */
        assert_int_equal(ev.ev_occurred_at, utc(2026, 3, 1, 7, 15));
        vg_pseudo_hmac(KEY, sizeof(KEY) - 1, PNR, hex);
        assert_string_equal(ev.ev_patient_id, hex);
        assert_int_equal(strncmp(ev.ev_event_id, "hl7-", 4), 0);
        assert_int_equal(strlen(ev.ev_event_id), 36);
        vg_record_clear(ev.ev_type, &ev);
}

static void test_triggers_and_ids(void **state) {
        vg_event_t a1, a1b, a3, a11, a13, a11b;
        char errstr[256];
        (void)state;
        expect_event(A01("C1"), &a1);
        /* Re-sent with a new control id and another time: same event id. */
        expect_event(MSH("A01", "C9") "EVN|A01|20260301090000\r" PID
                     PV1("V1001", ""), &a1b);
        assert_string_equal(a1.ev_event_id, a1b.ev_event_id);
        expect_event(MSH("A03", "C2") "EVN|A03|20260306134000\r" PID
                     PV1("V1001", "03"), &a3);
        assert_int_equal(a3.ev_type, VG_REC_DISCHARGE);
        assert_int_equal(a3.ev_disposition, VG_DISP_NURSING_HOME);
        assert_false(a3.ev_needs_coordination);
        assert_string_not_equal(a3.ev_event_id, a1.ev_event_id);
        expect_event(MSH("A11", "C3") "EVN|A11|20260301100000\r" PID
                     PV1("V1001", ""), &a11);
        assert_int_equal(a11.ev_type, VG_REC_ADMISSION);
        assert_string_equal(a11.ev_cancels_event_id, a1.ev_event_id);
        assert_string_not_equal(a11.ev_event_id, a1.ev_event_id);
        /* The same A11 re-sent: the same id (a duplicate). */
        expect_event(MSH("A11", "C3") "EVN|A11|20260301100000\r" PID
                     PV1("V1001", ""), &a11b);
        assert_string_equal(a11.ev_event_id, a11b.ev_event_id);
        expect_event(MSH("A13", "C4") "EVN|A13|20260306150000\r" PID
                     PV1("V1001", ""), &a13);
        assert_int_equal(a13.ev_type, VG_REC_DISCHARGE);
        assert_string_equal(a13.ev_cancels_event_id, a3.ev_event_id);
        assert_string_not_equal(a13.ev_event_id, a11.ev_event_id);
        /* Another facility, same visit number: another stay. */
        {
                char id[VG_HL7_ID_BUFSZ];
                vg_hl7_event_id("KSK", "V1001", "admission", id);
                assert_string_not_equal(id, a1.ev_event_id);
                vg_hl7_event_id("MSE", "V1001", "admission", id);
                assert_string_equal(id, a1.ev_event_id);
        }
        vg_record_clear(a1.ev_type, &a1);
        vg_record_clear(a1b.ev_type, &a1b);
        vg_record_clear(a3.ev_type, &a3);
        vg_record_clear(a11.ev_type, &a11);
        vg_record_clear(a11b.ev_type, &a11b);
        vg_record_clear(a13.ev_type, &a13);

        /* A08 skipped, A40 and others refused. */
        {
                vg_event_t ev;
                assert_int_equal(conv(MSH("A08", "C5") "EVN|A08|20260301\r"
                                      PID PV1("V1001", ""),
                                      &ev, errstr, sizeof(errstr)),
                                 VG_HL7_SKIPPED);
                assert_non_null(strstr(errstr, "A08"));
        }
        expect_error(MSH("A40", "C6") "EVN|A40|20260301081500\r" PID
                     "MRG|191212121212\r",
                     "A40 merge is not supported (docs/HOSPITAL.md §6)");
        expect_error(MSH("A02", "C7") "EVN|A02|20260301081500\r" PID
                     PV1("V1001", ""), "ADT trigger A02 is not supported");
        expect_error("MSH|^~\\&|LAB|MSE|||x||ORU^R01|C8|P|2.5\r",
                     "message type ORU is not supported");
}

static void test_separators_and_escapes(void **state) {
        vg_event_t ev;
        (void)state;
        /* Other separators: field #, component !, repetition $, escape
         * /, subcomponent %; escapes in PV1-3.1 and PV1-19. */
        expect_event("MSH#!$/%#HIS-A#MSE#VIGIL#REG#20260301081500##ADT!A01#"
                     "C1#P#2.5\r"
                     "EVN#A01#20260301081500\r"
                     "PID#1##" PNR "!!!SKV!PN##X##19450310#M###$!!!!!!!!0484\r"
                     "PV1#1#I#M/F/E/S/D/T/X/R/Y/E/Z#E###############V/S/1\r",
                     &ev);
        assert_string_equal(ev.ev_facility_id, "M#E!D%X$Y/Z");
        assert_string_equal(ev.ev_stay_id, "V!1");
        assert_int_equal(ev.ev_sex, VG_SEX_MALE);
        assert_false(ev.ev_planned); /* E = emergency */
        assert_string_equal(ev.ev_kommun, "0484"); /* 2nd repetition */
        vg_record_clear(ev.ev_type, &ev);
        /* Standard separators, \X41\ hex, \H\ dropped. */
        expect_event(MSH("A01", "C1") "EVN|A01|20260301081500\r" PID
                     "PV1|1|I|\\H\\W\\X41\\RD\\F\\1||||||||||||||||V\\T\\2\r",
                     &ev);
        assert_string_equal(ev.ev_facility_id, "WARD|1");
        assert_string_equal(ev.ev_stay_id, "V&2");
        assert_int_equal(ev.ev_diagnosis_group, VG_DG_OTHER);
        vg_record_clear(ev.ev_type, &ev);
        /* Invisible characters would make two visits look one: C1 (U+0085
         * NEL), a bidi override (U+202E), a zero-width space, a line
         * separator, U+FEFF inside a value; as bytes or escaped. */
        expect_error(MSH("A01", "C1") "EVN|A01|20260301081500\r" PID
                     PV1("V1\xc2\x85", ""), "PV1-19: holds a control");
        expect_error(MSH("A01", "C1") "EVN|A01|20260301081500\r" PID
                     PV1("V1\xe2\x80\xae", ""), "PV1-19: holds a control");
        expect_error(MSH("A01", "C1") "EVN|A01|20260301081500\r" PID
                     PV1("V1\\XE2808B\\", ""), "PV1-19: holds a control");
        expect_error(MSH("A01", "C1") "EVN|A01|20260301081500\r" PID
                     PV1("V\xe2\x80\xa8" "1", ""), "PV1-19: holds a control");
        expect_error(MSH("A01", "C1") "EVN|A01|20260301081500\r" PID
                     PV1("V1\xef\xbb\xbf", ""), "PV1-19: holds a control");
        /* a soft hyphen, a combining grapheme joiner, a tag (4 bytes) */
        expect_error(MSH("A01", "C1") "EVN|A01|20260301081500\r" PID
                     PV1("V\xc2\xad" "1", ""), "PV1-19: holds a control");
        expect_error(MSH("A01", "C1") "EVN|A01|20260301081500\r" PID
                     PV1("V\xcd\x8f" "1", ""), "PV1-19: holds a control");
        expect_error(MSH("A01", "C1") "EVN|A01|20260301081500\r" PID
                     PV1("V1\xf3\xa0\x80\x81", ""), "PV1-19: holds a control");
        /* Other letters are not: U+00C5 (Å), U+2013 (en dash), U+1F600
         * (4 bytes). */
        expect_event(MSH("A01", "C1") "EVN|A01|20260301081500\r" PID
                     PV1("\xc3\x85V\xe2\x80\x93" "1\xf0\x9f\x98\x80", ""),
                     &ev);
        assert_string_equal(ev.ev_stay_id,
                            "\xc3\x85V\xe2\x80\x93" "1\xf0\x9f\x98\x80");
        vg_record_clear(ev.ev_type, &ev);
        /* Spaces around a value are trimmed, also those that look like
         * one (an attack: no-break and ideographic spaces made three
         * stays of V1001); one inside stays. */
        {
                static const char *const padded[] = {
                        " V1001 ", "\xc2\xa0V1001\xc2\xa0",
                        "\xe3\x80\x80V1001", "V1001\xe2\x80\x89 \xe2\x80\xaf",
                        "\xe1\x9a\x80\xe2\x81\x9fV1001"};
                for (size_t i = 0; i < 5; i++) {
                        char msg[512];
                        snprintf(msg, sizeof(msg),
                                 MSH("A01", "C1") "EVN|A01|20260301081500\r"
                                 PID PV1("%s", ""), padded[i]);
                        expect_event(msg, &ev);
                        assert_string_equal(ev.ev_stay_id, "V1001");
                        vg_record_clear(ev.ev_type, &ev);
                }
                expect_event(MSH("A01", "C1") "EVN|A01|20260301081500\r" PID
                             PV1("V1\xc2\xa0" "001", ""), &ev);
                assert_string_equal(ev.ev_stay_id, "V1\xc2\xa0" "001");
                vg_record_clear(ev.ev_type, &ev);
        }
        /* A segment is named by three letters or digits: a message run
         * together with the one before it, behind a part of a byte order
         * mark, a space or a NUL, refuses the message instead of being
         * skipped as an unknown segment (the second admission was lost). */
        expect_error(A01("C1") "\xef\xbb" A01("C2"), "segment 6: not an HL7");
        expect_error(A01("C1") " " A01("C2"), "segment 6: not an HL7");
        /* Two messages in one (an MLLP frame of a file, as the listener
         * refuses one): refused whole, named by the first one's MSH-10. */
        expect_error(A01("C1") A01("C2"),
                     "2 messages (MSH segments) in one MLLP frame");
        /* MSH-12: "2." and digits; a text such as 2.x is no version. */
        expect_error("MSH|^~\\&|HIS-A|MSE|VIGIL|REG|20260301081500||ADT^A01|"
                     "C1|P|2.x\rEVN|A01|20260301081500\r" PID PV1("V1", ""),
                     "MSH-12: version 2.x is not HL7 v2");
        expect_event("MSH|^~\\&|HIS-A|MSE|VIGIL|REG|20260301081500||ADT^A01|"
                     "C1|P|2.5.1\rEVN|A01|20260301081500\r" PID PV1("V1", ""),
                     &ev);
        vg_record_clear(ev.ev_type, &ev);
        /* A UTF-8 byte order mark before MSH (files from Windows tools). */
        expect_event("\xef\xbb\xbf" A01("C1"), &ev);
        assert_string_equal(ev.ev_stay_id, "V1001");
        vg_record_clear(ev.ev_type, &ev);
}

/* A header the acknowledgement cannot read (vg_hl7_msh_read) is refused by
 * the converter too: the listener must never publish a message whose AA
 * names no MSH-10. MSH-2 with a character used twice or a control
 * character, a control character as field separator. */
static void test_header_ack_can_read(void **state) {
        static const char *bad[] = {
                "MSH|^~\\&^|HIS-A|MSE|VIGIL|REG|20260301081500||ADT^A01|Z1|P|2.5\r",
                "MSH|^~\\&~|HIS-A|MSE|VIGIL|REG|20260301081500||ADT^A01|Z1|P|2.5\r",
                "MSH|^~\\&\t|HIS-A|MSE|VIGIL|REG|20260301081500||ADT^A01|Z1|P|2.5\r",
                "MSH\t^~\\&\tHIS-A\tMSE\tVIGIL\tREG\t20260301081500\t\tADT^A01"
                "\tZ1\tP\t2.5\r",
        };
        (void)state;
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                char msg[1024], err[512];
                vg_event_t ev;
                vg_hl7_msh_t h;
                const char *body = strchr(A01("C1"), '\r') + 1;
                snprintf(msg, sizeof(msg), "%s%s", bad[i], body);
                assert_int_not_equal(vg_hl7_msh_read(msg, strlen(msg), &h),
                                     0);
                assert_int_equal(conv(msg, &ev, err, sizeof(err)),
                                 VG_HL7_INVALID);
                assert_non_null(strstr(err, "MSH-1/MSH-2"));
        }
}

static void test_segment_endings(void **state) {
        static const char *ends[] = {"\r", "\n", "\r\n"};
        char *ids[3];
        (void)state;
        for (int i = 0; i < 3; i++) {
                char msg[2048], *p;
                vg_event_t ev;
                snprintf(msg, sizeof(msg), "%s", A01("C1"));
                /* Replace every \r by the ending. */
                {
                        char out[4096];
                        size_t o = 0;
                        for (p = msg; *p; p++) {
                                if (*p == '\r') {
                                        memcpy(out + o, ends[i],
                                               strlen(ends[i]));
                                        o += strlen(ends[i]);
                                } else
                                        out[o++] = *p;
                        }
                        out[o] = '\0';
                        expect_event(out, &ev);
                }
                ids[i] = vg_strdup(ev.ev_event_id);
                assert_string_equal(ev.ev_stay_id, "V1001");
                assert_int_equal(ev.ev_diagnosis_group, VG_DG_HEART_FAILURE);
                vg_record_clear(ev.ev_type, &ev);
        }
        assert_string_equal(ids[0], ids[1]);
        assert_string_equal(ids[0], ids[2]);
        for (int i = 0; i < 3; i++)
                vg_free(ids[i]);
}

/* Framing: collects the messages. */
typedef struct coll_s {
        char *msgs[16];
        int   n;
        int   too_long;
} coll_t;

static void collect(void *opaque, const vg_hl7_frame_t *fm) {
        coll_t *c = opaque;
        if (fm->fm_too_long) {
                c->too_long++;
                return;
        }
        if (c->n < 16)
                c->msgs[c->n++] = vg_strndup(fm->fm_data, fm->fm_len);
}

static void frame(const char *in, size_t len, size_t max, size_t chunk,
                  coll_t *c) {
        vg_hl7_framer_t fr;
        memset(c, 0, sizeof(*c));
        vg_hl7_framer_init(&fr, max);
        for (size_t i = 0; i < len; i += chunk)
                vg_hl7_framer_feed(&fr, in + i, len - i < chunk ? len - i : chunk,
                                   collect, c);
        vg_hl7_framer_end(&fr, collect, c);
        vg_hl7_framer_free(&fr);
}

static void coll_free(coll_t *c) {
        for (int i = 0; i < c->n; i++)
                vg_free(c->msgs[i]);
}

static void test_framing(void **state) {
        /* MLLP, then blank-line separated, then MSH at a line start. */
        static const char in[] =
                "\x0bMSH|^~\\&|A\rEVN|x\r\x1c\r"
                "\x0bMSH|^~\\&|B\rPID|y\x1c\r"
                "MSH|^~\\&|C\r\nEVN|z\r\n\r\n"
                "MSH|^~\\&|D\nPID|w\n"
                "MSH|^~\\&|E\r";
        coll_t c;
        (void)state;
        for (size_t chunk = 1; chunk <= sizeof(in); chunk *= 3) {
                frame(in, sizeof(in) - 1, 1 << 20, chunk, &c);
                assert_int_equal(c.n, 5);
                assert_string_equal(c.msgs[0], "MSH|^~\\&|A\rEVN|x");
                assert_string_equal(c.msgs[1], "MSH|^~\\&|B\rPID|y");
                assert_string_equal(c.msgs[2], "MSH|^~\\&|C\rEVN|z");
                assert_string_equal(c.msgs[3], "MSH|^~\\&|D\rPID|w");
                assert_string_equal(c.msgs[4], "MSH|^~\\&|E");
                coll_free(&c);
        }
        /* Too long: reported, the next message still found. */
        {
                char big[3000];
                memset(big, 'x', sizeof(big));
                memcpy(big, "MSH|^~\\&|", 9);
                memcpy(big + 2000, "\rMSH|^~\\&|F\r", 12);
                frame(big, 2012, 1024, 7, &c);
                assert_int_equal(c.too_long, 1);
                assert_int_equal(c.n, 1);
                assert_string_equal(c.msgs[0], "MSH|^~\\&|F");
                coll_free(&c);
        }
        /* A byte order mark at a line's start (files put together with
         * cat) is left out, and starts no message of its own; bytes that
         * only begin like one are kept. */
        {
                static const char bom[] =
                        "\xef\xbb\xbfMSH|^~\\&|G\rEVN|x\r"
                        "\xef\xbb\xbfMSH|^~\\&|H\r\xef\xbbX|y\r\xef";
                for (size_t chunk = 1; chunk <= sizeof(bom); chunk *= 2) {
                        frame(bom, sizeof(bom) - 1, 1024, chunk, &c);
                        assert_int_equal(c.n, 2);
                        assert_string_equal(c.msgs[0], "MSH|^~\\&|G\rEVN|x");
                        assert_string_equal(c.msgs[1],
                                            "MSH|^~\\&|H\r\xef\xbbX|y\r\xef");
                        coll_free(&c);
                }
        }
        /* An MLLP frame is one message, as hl7 listen reads it: a blank
         * line in it does not split it (a file of frames lost such a
         * message that the listener took), nor does a second MSH (the
         * converter refuses that frame whole); its bytes are kept as
         * they came, a byte order mark too (the converter skips one
         * before MSH, and refuses U+FEFF inside a value). Outside
         * frames, blank lines still split. */
        {
                static const char fr_in[] =
                        "\x0bMSH|^~\\&|A\r\n\r\nEVN|x\r\x1c\r"
                        "\x0bMSH|^~\\&|B\rMSH|^~\\&|C\r\x1c\r"
                        "\x0bPV1|V\xef\xbb\xbf\r\xef\xbb\xbfMSH|D\x1c\r"
                        "MSH|^~\\&|E\r\rEVN|y\r";
                for (size_t chunk = 1; chunk <= sizeof(fr_in); chunk *= 3) {
                        frame(fr_in, sizeof(fr_in) - 1, 1024, chunk, &c);
                        assert_int_equal(c.n, 5);
                        assert_string_equal(c.msgs[0],
                                            "MSH|^~\\&|A\r\n\r\nEVN|x");
                        assert_string_equal(c.msgs[1],
                                            "MSH|^~\\&|B\rMSH|^~\\&|C");
                        assert_string_equal(
                                c.msgs[2],
                                "PV1|V\xef\xbb\xbf\r\xef\xbb\xbfMSH|D");
                        assert_string_equal(c.msgs[3], "MSH|^~\\&|E");
                        assert_string_equal(c.msgs[4], "EVN|y");
                        coll_free(&c);
                }
        }
        /* Nothing but whitespace and framing bytes: no message. */
        frame("\x0b\x1c\r\n \r\n\x0b", 8, 1024, 1, &c);
        assert_int_equal(c.n, 0);
        assert_int_equal(c.too_long, 0);
}

static void test_times(void **state) {
        int64_t ms;
        (void)state;
        /* Winter: CET (UTC+1). */
        assert_int_equal(vg_hl7_time_parse("202601151230", 12, VG_TZ_STOCKHOLM,
                                           &ms), 0);
        assert_int_equal(ms, utc(2026, 1, 15, 11, 30));
        /* Summer: CEST (UTC+2). */
        assert_int_equal(vg_hl7_time_parse("20260715123045", 12,
                                           VG_TZ_STOCKHOLM, &ms), 0);
        assert_int_equal(ms, utc(2026, 7, 15, 10, 30) + 45000);
        /* With an offset the zone does not matter. */
        assert_int_equal(vg_hl7_time_parse("20260715123045.25+0000", 12,
                                           VG_TZ_STOCKHOLM, &ms), 0);
        assert_int_equal(ms, utc(2026, 7, 15, 12, 30) + 45250);
        assert_int_equal(vg_hl7_time_parse("202601151230-0500", 12,
                                           VG_TZ_STOCKHOLM, &ms), 0);
        assert_int_equal(ms, utc(2026, 1, 15, 17, 30));
        /* UTC zone configured. */
        assert_int_equal(vg_hl7_time_parse("202607151230", 12, VG_TZ_UTC,
                                           &ms), 0);
        assert_int_equal(ms, utc(2026, 7, 15, 12, 30));
        /* 2026-03-29 02:30 does not exist in Stockholm: the offset before
         * the change (+1) -> 01:30 UTC. */
        assert_int_equal(vg_hl7_time_parse("202603290230", 12, VG_TZ_STOCKHOLM,
                                           &ms), 0);
        assert_int_equal(ms, utc(2026, 3, 29, 1, 30));
        /* 2026-10-25 02:30 happens twice: the first (CEST) -> 00:30 UTC. */
        assert_int_equal(vg_hl7_time_parse("202610250230", 12, VG_TZ_STOCKHOLM,
                                           &ms), 0);
        assert_int_equal(ms, utc(2026, 10, 25, 0, 30));
        /* Bad ones. */
        assert_int_equal(vg_hl7_time_parse("20260301", 12, VG_TZ_UTC, &ms), -1);
        assert_int_equal(vg_hl7_time_parse("202602301200", 12, VG_TZ_UTC, &ms),
                         -1);
        assert_int_equal(vg_hl7_time_parse("202603011260", 12, VG_TZ_UTC, &ms),
                         -1);
        assert_int_equal(vg_hl7_time_parse("202603011200+01", 12, VG_TZ_UTC,
                                           &ms), -1);
        assert_int_equal(vg_hl7_time_parse("2026030112x0", 12, VG_TZ_UTC, &ms),
                         -1);
        assert_int_equal(vg_hl7_time_parse("", 8, VG_TZ_UTC, &ms), -1);
        assert_int_equal(vg_hl7_time_parse("19450310", 8, VG_TZ_UTC, &ms), 0);
}

static void test_event_time_in_message(void **state) {
        vg_event_t ev;
        (void)state;
        /* EVN-6 wins over EVN-2; summer time without offset. */
        expect_event(MSH("A03", "C2") "EVN|A03|20260301081500||||20260706134000"
                     "\r" PID PV1("V1001", "20"), &ev);
        assert_int_equal(ev.ev_occurred_at, utc(2026, 7, 6, 11, 40));
        assert_int_equal(ev.ev_disposition, VG_DISP_DIED);
        vg_record_clear(ev.ev_type, &ev);
        /* EVN-2 with an offset. */
        expect_event(MSH("A03", "C2") "EVN|A03|202603060940+0000\r" PID
                     PV1("V1001", "xx"), &ev);
        assert_int_equal(ev.ev_occurred_at, utc(2026, 3, 6, 9, 40));
        assert_int_equal(ev.ev_disposition, VG_DISP_OTHER);
        vg_record_clear(ev.ev_type, &ev);
}

static void test_missing_fields(void **state) {
        (void)state;
        expect_error(MSH("A01", "C1") "EVN|A01|20260301081500\r"
                     "PID|1||||X||19450310|F|||^^^^^^^^0484\r" PV1("V1", ""),
                     "PID-3: missing");
        expect_error(MSH("A01", "C1") "EVN|A01|20260301081500\r"
                     PV1("V1", ""), "no PID segment");
        expect_error(MSH("A01", "C1") "EVN|A01|20260301081500\r" PID
                     PV1("", ""), "PV1-19: visit number missing");
        expect_error(MSH("A01", "C1") "EVN|A01\r" PID PV1("V1", ""),
                     "EVN-6 and EVN-2: both missing");
        expect_error(MSH("A01", "C1") PID PV1("V1", ""), "no EVN segment");
        expect_error(MSH("A01", "C1") "EVN|A01|2026030108\r" PID PV1("V1", ""),
                     "EVN-2: not an HL7 time");
        expect_error(MSH("A01", "C1") "EVN|A01|20260301081500\r" PID,
                     "no PV1 segment");
        /* A second PID (another patient), PV1 or EVN was dropped unseen. */
        expect_error(MSH("A01", "C1") "EVN|A01|20260301081500\r" PID PID
                     PV1("V1", ""), "2 PID segments");
        expect_error(MSH("A01", "C1") "EVN|A01|20260301081500\r" PID
                     PV1("V1", "") PV1("V2", ""), "2 PV1 segments");
        expect_error(MSH("A03", "C1") "EVN|A03|20260301081500\r"
                     "EVN|A03|20260302081500\r" PID PV1("V1", ""),
                     "2 EVN segments");
        expect_error(MSH("A01", "C1") "EVN|A01|20260301081500\r"
                     "PID|1||" PNR "||X||19450310|F\r" PV1("V1", ""),
                     "PID-11: no 4-digit kommun code");
        expect_error(MSH("A01", "C1") "EVN|A01|20260301081500\r"
                     "PID|1||" PNR "||X|||F|||^^^^^^^^0484\r" PV1("V1", ""),
                     "PID-7: birth date missing");
        expect_error("MSH|^~\\&|HIS-A||||x||ADT^A01|C1|P|2.5\r"
                     "EVN|A01|20260301081500\r" PID PV1("V1", ""),
                     "MSH-4: sending facility missing");
        expect_error(MSH("A11", "") "EVN|A11|20260301081500\r" PID
                     PV1("V1", ""), "MSH-10: message control id missing");
        /* A bad personnummer: refused without quoting it. */
        expect_error(MSH("A01", "C1") "EVN|A01|20260301081500\r"
                     "PID|1||191212121213||X||19450310|F|||^^^^^^^^0484\r"
                     PV1("V1", ""), "PID-3: not a personnummer");
        /* An event too far in the future: its time is blamed. */
        expect_error(MSH("A01", "C1") "EVN|A01|20300301081500\r" PID
                     PV1("V1", ""), "EVN-2: more than 1 day in the future");
        /* A visit number spelt like a personnummer is not published. */
        expect_error(MSH("A01", "C1") "EVN|A01|20260301081500\r" PID
                     PV1("191212121212", ""), "stay_id: looks like a personnummer");
}

static void test_no_key(void **state) {
        vg_hl7_ctx_t cx = ctx();
        vg_event_t ev;
        char ctrl[VG_HL7_CTRL_BUFSZ], errstr[256];
        (void)state;
        cx.hx_keylen = 0;
        assert_int_equal(vg_hl7_convert(&cx, A01("C1"), strlen(A01("C1")),
                                        &ev, ctrl, errstr, sizeof(errstr)),
                         VG_HL7_INVALID);
        assert_non_null(strstr(errstr, "pseudonym.key_file"));
        assert_string_equal(ctrl, "C1");
}

static void test_pnr_never_printed(void **state) {
        vg_hl7_ctx_t cx = ctx();
        vg_event_t ev;
        char ctrl[VG_HL7_CTRL_BUFSZ], errstr[256];
        /* The personnummer in MSH-10 and in the trigger. */
        static const char m1[] =
                "MSH|^~\\&|HIS-A|MSE|||x||ADT^A01|19121212-1212|P|2.5\r"
                "EVN|A01|2026\r";
        static const char m2[] =
                "MSH|^~\\&|HIS-A|MSE|||x||ADT^191212121212|C|P|2.5\r";
        static const char m3[] =
                "MSH|^~\\&|HIS-A|MSE|||x||191212121212^A01|C|P|2.5\r";
        (void)state;
        assert_int_equal(vg_hl7_convert(&cx, m1, strlen(m1), &ev, ctrl, errstr,
                                        sizeof(errstr)), VG_HL7_INVALID);
        assert_no_pnr(ctrl);
        assert_no_pnr(errstr);
        assert_int_equal(vg_hl7_convert(&cx, m2, strlen(m2), &ev, ctrl, errstr,
                                        sizeof(errstr)), VG_HL7_INVALID);
        assert_no_pnr(errstr);
        assert_int_equal(vg_hl7_convert(&cx, m3, strlen(m3), &ev, ctrl, errstr,
                                        sizeof(errstr)), VG_HL7_INVALID);
        assert_no_pnr(errstr);
}

static void test_garbage(void **state) {
        static const char *bad[] = {
                "", "M", "MSH", "MSH|", "MSH|^", "MSH|^~\\&", "MSHxxxxxxxx",
                "MSH|^~\\&|", "MSH1^~\\&|a", "MSH|||||", "MSH|^^\\&|a|b",
                "PID|1||" PNR, "MSH|^~\\&|A|B|||x||ADT^A01|C|P|2.5\rPV1",
                "MSH|^~\\&|A|B|||x||ADT^A01|C|P|2.5\rEVN|A01|\\",
                "MSH|^~\\&|A|B|||x||ADT^A01|C|P|2.5\rPID|1||\\X4\\|\\E",
        };
        vg_hl7_ctx_t cx = ctx();
        char ctrl[VG_HL7_CTRL_BUFSZ], errstr[256], buf[600];
        vg_event_t ev;
        unsigned seed = 12345;
        (void)state;
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                assert_int_equal(vg_hl7_convert(&cx, bad[i], strlen(bad[i]),
                                                &ev, ctrl, errstr,
                                                sizeof(errstr)),
                                 VG_HL7_INVALID);
                assert_true(errstr[0] != '\0');
                assert_no_pnr(errstr);
        }
        /* Truncations of a good message and random bytes: never crash. */
        {
                const char *good = A01("C1");
                size_t n = strlen(good);
                for (size_t k = 0; k < n; k++) {
                        vg_hl7_res_t r = vg_hl7_convert(&cx, good, k, &ev,
                                                        ctrl, errstr,
                                                        sizeof(errstr));
                        if (r == VG_HL7_EVENT)
                                vg_record_clear(ev.ev_type, &ev);
                        else
                                assert_no_pnr(errstr);
                }
        }
        for (int t = 0; t < 2000; t++) {
                size_t n = 9 + (size_t)(rand_r(&seed) % 500);
                vg_hl7_res_t r;
                memcpy(buf, "MSH|^~\\&|", 9);
                for (size_t k = 9; k < n; k++)
                        buf[k] = "|^~\\&\r\nA01PIDEVNPV1 0123456789"
                                [rand_r(&seed) % 31];
                r = vg_hl7_convert(&cx, buf, n, &ev, ctrl, errstr,
                                   sizeof(errstr));
                if (r == VG_HL7_EVENT)
                        vg_record_clear(ev.ev_type, &ev);
        }
}

/* Found by tests/fuzz/fuzz_hl7: a value that is not UTF-8 (a Latin-1
 * byte, or one written as \Xhh\) was accepted and written to the JSON
 * line as null, which vigil produce then refused. */
static void test_not_utf8(void **state) {
        vg_event_t ev;
        (void)state;
        /* Latin-1 'Ä' (0xC4) in PV1-3.1, as a byte and as an escape. */
        expect_error(MSH("A01", "C1") "EVN|A01|20260301081500\r" PID
                     "PV1|1|I|MED\xc4||||||||||||||||V1001\r",
                     "PV1-3: not valid UTF-8");
        expect_error(MSH("A01", "C1") "EVN|A01|20260301081500\r" PID
                     "PV1|1|I|MED\\XC4\\||||||||||||||||V1001\r",
                     "PV1-3: not valid UTF-8");
        /* A truncated sequence in PV1-19, an overlong '/' in MSH-3, a
         * UTF-16 surrogate (U+D800) in PV1-19. */
        expect_error(MSH("A01", "C1") "EVN|A01|20260301081500\r" PID
                     "PV1|1|I|MED3||||||||||||||||V\xc3\r",
                     "PV1-19: not valid UTF-8");
        expect_error("MSH|^~\\&|HIS\xc0\xaf|MSE|VIGIL|REG|20260301081500||"
                     "ADT^A01|C1|P|2.5\r"
                     "EVN|A01|20260301081500\r" PID PV1("V1001", ""),
                     "MSH-3: not valid UTF-8");
        expect_error(MSH("A01", "C1") "EVN|A01|20260301081500\r" PID
                     "PV1|1|I|MED3||||||||||||||||V\xed\xa0\x80\r",
                     "PV1-19: not valid UTF-8");
        /* The same 'Ä' in UTF-8 (0xC3 0x84), and a 4-byte character. */
        expect_event(MSH("A01", "C1") "EVN|A01|20260301081500\r" PID
                     "PV1|1|I|MED\xc3\x84||||||||||||||||V\xf0\x9f\x98\x80\r",
                     &ev);
        assert_string_equal(ev.ev_facility_id, "MED\xc3\x84");
        assert_string_equal(ev.ev_stay_id, "V\xf0\x9f\x98\x80");
        vg_record_clear(ev.ev_type, &ev);
}

/* MSH-18 8859/1 or 8859/15 (HL7 table 0211): the message's bytes are
 * ISO 8859 and read as such; other values (and none) read UTF-8. */
static void test_latin1(void **state) {
#define MSH18(cs)                                                              \
        "MSH|^~\\&|HIS-A|MSE|VIGIL|REG|20260301081500||ADT^A01|C1|P|2.5|||||" \
        "|" cs "\r"
        vg_event_t ev;
        (void)state;
        expect_event(MSH18("8859/1") "EVN|A01|20260301081500\r" PID
                     "PV1|1|I|AVD\xc4||||||||||||||||V\xe5" "1\r",
                     &ev);
        assert_string_equal(ev.ev_facility_id, "AVD\xc3\x84"); /* Ä */
        assert_string_equal(ev.ev_stay_id, "V\xc3\xa5" "1");   /* å */
        vg_record_clear(ev.ev_type, &ev);
        /* 8859-15: 0xA4 is the euro sign (in 8859-1 the currency sign) */
        expect_event(MSH18("8859/15") "EVN|A01|20260301081500\r" PID
                     "PV1|1|I|W\xa4||||||||||||||||V1\r",
                     &ev);
        assert_string_equal(ev.ev_facility_id, "W\xe2\x82\xac");
        vg_record_clear(ev.ev_type, &ev);
        expect_event(MSH18("ISO-8859-1") "EVN|A01|20260301081500\r" PID
                     "PV1|1|I|W\xa4||||||||||||||||V1\r",
                     &ev);
        assert_string_equal(ev.ev_facility_id, "W\xc2\xa4");
        vg_record_clear(ev.ev_type, &ev);
        /* Declared UTF-8, or another set: the Latin-1 byte is refused */
        expect_error(MSH18("UNICODE UTF-8") "EVN|A01|20260301081500\r" PID
                     "PV1|1|I|AVD\xc4||||||||||||||||V1\r",
                     "PV1-3: not valid UTF-8");
        expect_error(MSH18("8859/2") "EVN|A01|20260301081500\r" PID
                     "PV1|1|I|AVD\xc4||||||||||||||||V1\r",
                     "PV1-3: not valid UTF-8");
        /* A byte 0x80-0x9F is no character in 8859-1 (a C1 control) */
        expect_error(MSH18("8859/1") "EVN|A01|20260301081500\r" PID
                     "PV1|1|I|AVD\x85||||||||||||||||V1\r",
                     "PV1-3");
        /* An \X..\ escape names a byte of the character set too */
        expect_event(MSH18("8859/1") "EVN|A01|20260301081500\r" PID
                     "PV1|1|I|AVD\\XC4\\||||||||||||||||V1\r",
                     &ev);
        assert_string_equal(ev.ev_facility_id, "AVD\xc3\x84");
        vg_record_clear(ev.ev_type, &ev);
        /* A frame's UTF-8 byte order mark is still skipped */
        expect_event("\xef\xbb\xbf" MSH18("8859/1")
                     "EVN|A01|20260301081500\r" PID
                     "PV1|1|I|AVD\xc4||||||||||||||||V1\r",
                     &ev);
        assert_string_equal(ev.ev_facility_id, "AVD\xc3\x84");
        vg_record_clear(ev.ev_type, &ev);
        /* A separator above 0x7F (0xA6 as the field separator) */
        expect_event("MSH\xa6^~\\&\xa6HIS-A\xa6MSE\xa6VIGIL\xa6REG\xa6"
                     "20260301081500\xa6\xa6" "ADT^A01\xa6" "C1\xa6P\xa6"
                     "2.5\xa6\xa6\xa6\xa6\xa6\xa6" "8859/1\r"
                     "EVN\xa6" "A01\xa6" "20260301081500\r"
                     "PID\xa6" "1\xa6\xa6" PNR "^^^SKV^PN\xa6\xa6X\xa6\xa6"
                     "19450310\xa6" "F\xa6\xa6\xa6^^^^^^H^^0484\r"
                     "PV1\xa6" "1\xa6I\xa6" "AVD\xc4\xa6\xa6\xa6\xa6\xa6"
                     "\xa6\xa6\xa6\xa6\xa6\xa6\xa6\xa6\xa6\xa6\xa6"
                     "V1\r",
                     &ev);
        assert_string_equal(ev.ev_facility_id, "AVD\xc3\x84");
        assert_string_equal(ev.ev_kommun, "0484");
        vg_record_clear(ev.ev_type, &ev);
        /* MSH-4 goes into the event id as sent (its bytes): the same id
         * with or without MSH-18, and for \XD6\ and a raw 0xD6 */
        {
                static const char *const msgs[] = {
                        "MSH|^~\\&|HIS-A|S\xd6S|VIGIL|REG|20260301081500"
                        "||ADT^A01|C1|P|2.5||||||8859/1\r",
                        "MSH|^~\\&|HIS-A|S\\XD6\\S|VIGIL|REG|"
                        "20260301081500||ADT^A01|C1|P|2.5\r"};
                char id[64], msg[512];
                vg_hl7_event_id("S\xd6S", "V1", "admission", id);
                for (size_t i = 0; i < 2; i++) {
                        snprintf(msg, sizeof(msg),
                                 "%sEVN|A01|20260301081500\r" PID
                                 "PV1|1|I|W||||||||||||||||V1\r",
                                 msgs[i]);
                        expect_event(msg, &ev);
                        assert_string_equal(ev.ev_event_id, id);
                        vg_record_clear(ev.ev_type, &ev);
                }
        }
#undef MSH18
}

/* SPEC §3: kommun is the municipality of residence. PID-11's address
 * type (XAD.7) decides: H, L, P or RH first, else an untyped address;
 * never a temporary (C), business (B), bad (BA) or mailing (M) one. */
static void test_residence(void **state) {
        static const struct {
                const char *addrs, *want;
        } cases[] = {
                {"^^^^^^C^^0180~^^^^^^H^^0484", "0484"},
                {"^^^^^^^^0180~^^^^^^H^^0484", "0484"},  /* untyped, home */
                {"^^^^^^B^^0180~^^^^^^^^0484", "0484"},  /* business */
                {"^^^^^^BA^^0180~^^^^^^L^^0484", "0484"},
                {"^^^^^^M^^0180~^^^^^^RH^^0484", "0484"},
                {"^^^^^^P^^0484~^^^^^^H^^0180", "0484"}, /* first home */
                {"^^^^^^^^0484~^^^^^^^^0180", "0484"},   /* first untyped */
                {"^^^^^^H~^^^^^^C^^0180~^^^^^^^^0484", "0484"},
                /* a repetition that does not read, after an untyped
                 * address: skipped (the first with a code was taken so) */
                {"^^^^^^^^0180~^^^^^^^^\\X01\\", "0180"},
        };
        (void)state;
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
                expect_kommun(MSH("A01", "C1") "EVN|A01|20260301081500\r",
                              cases[i].addrs, cases[i].want);
        /* Only a temporary address: none (no kommun.default here) */
        expect_error(MSH("A01", "C1") "EVN|A01|20260301081500\r"
                     PIDA("^^^^^^C^^0180") PV1("V1001", ""),
                     "PID-11: no 4-digit kommun code");
}

/* MSH-4 given as its universal id alone (HD.2); a personnummer where an
 * event id is hashed from without a key (MSH-4, and MSH-10 of A11/A13)
 * is refused, as FHIR refuses it. */
static void test_event_id_sources(void **state) {
        vg_event_t ev;
        char id[64];
        (void)state;
        expect_event("MSH|^~\\&|HIS-A|^1.2.752.1^ISO|VIGIL|REG|"
                     "20260301081500||ADT^A01|C1|P|2.5\r"
                     "EVN|A01|20260301081500\r" PID PV1("V1001", ""),
                     &ev);
        vg_hl7_event_id("1.2.752.1", "V1001", "admission", id);
        assert_string_equal(ev.ev_event_id, id);
        vg_record_clear(ev.ev_type, &ev);
        expect_error("MSH|^~\\&|HIS-A|" PNR "|VIGIL|REG|20260301081500||"
                     "ADT^A01|C1|P|2.5\r"
                     "EVN|A01|20260301081500\r" PID PV1("V1001", ""),
                     "MSH-4: looks like a personnummer");
        expect_error(MSH("A11", "194001011230") "EVN|A11|20260301081500\r"
                     PID PV1("V1001", ""),
                     "MSH-10: looks like a personnummer");
        /* (A01's MSH-10 goes into no id: only the ACK, which masks it) */
        expect_event(MSH("A01", "194001011230") "EVN|A01|20260301081500\r"
                     PID PV1("V1001", ""),
                     &ev);
        vg_record_clear(ev.ev_type, &ev);
}

static void test_mapping(void **state) {
        vg_hl7_map_t *m = vg_hl7_map_new();
        vg_hl7_map_t *saved = map;
        char errstr[256];
        vg_event_t ev;
        (void)state;
        assert_int_equal(vg_hl7_map_set(m, "care_setting.location.MED",
                                        "PALLIATIVE_UNIT", errstr,
                                        sizeof(errstr)), VG_OK);
        assert_int_equal(vg_hl7_map_set(m, "diagnosis.i50", "COPD", errstr,
                                        sizeof(errstr)), VG_OK);
        assert_int_equal(vg_hl7_map_set(m, "diagnosis.I50.9", "DEMENTIA",
                                        errstr, sizeof(errstr)), VG_OK);
        assert_int_equal(vg_hl7_map_set(m, "disposition.03", "HOME", errstr,
                                        sizeof(errstr)), VG_OK);
        assert_int_equal(vg_hl7_map_set(m, "needs_coordination.default",
                                        "true", errstr, sizeof(errstr)), VG_OK);
        assert_int_equal(vg_hl7_map_set(m, "planned.admission_types", "R, E",
                                        errstr, sizeof(errstr)), VG_OK);
        assert_int_equal(vg_hl7_map_set(m, "kommun.default", "0180", errstr,
                                        sizeof(errstr)), VG_OK);
        assert_int_equal(vg_hl7_map_set(m, "kommun.default", "180", errstr,
                                        sizeof(errstr)), VG_ERR_ARG);
        assert_int_equal(vg_hl7_map_set(m, "disposition.09", "MOON", errstr,
                                        sizeof(errstr)), VG_ERR_ARG);
        assert_non_null(strstr(errstr, "AGAINST_ADVICE"));
        assert_int_equal(vg_hl7_map_set(m, "colour", "red", errstr,
                                        sizeof(errstr)), VG_ERR_ARG);
        assert_non_null(strstr(errstr, "unknown key"));
        map = m;
        expect_event(A01("C1"), &ev);
        assert_int_equal(ev.ev_care_setting, VG_CS_PALLIATIVE_UNIT);
        assert_int_equal(ev.ev_diagnosis_group, VG_DG_DEMENTIA); /* longest */
        assert_false(ev.ev_planned); /* C no longer planned */
        vg_record_clear(ev.ev_type, &ev);
        expect_event(MSH("A03", "C2") "EVN|A03|20260306134000\r"
                     "PID|1||" PNR "||X||19450310|F\r" PV1("V1001", "03"),
                     &ev);
        assert_string_equal(ev.ev_kommun, "0180");
        assert_int_equal(ev.ev_disposition, VG_DISP_HOME);
        assert_true(ev.ev_needs_coordination);
        vg_record_clear(ev.ev_type, &ev);
        map = saved;
        vg_hl7_map_destroy(m);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_a01),
                cmocka_unit_test(test_triggers_and_ids),
                cmocka_unit_test(test_separators_and_escapes),
                cmocka_unit_test(test_header_ack_can_read),
                cmocka_unit_test(test_segment_endings),
                cmocka_unit_test(test_framing),
                cmocka_unit_test(test_times),
                cmocka_unit_test(test_event_time_in_message),
                cmocka_unit_test(test_missing_fields),
                cmocka_unit_test(test_no_key),
                cmocka_unit_test(test_pnr_never_printed),
                cmocka_unit_test(test_garbage),
                cmocka_unit_test(test_not_utf8),
                cmocka_unit_test(test_latin1),
                cmocka_unit_test(test_residence),
                cmocka_unit_test(test_event_id_sources),
                cmocka_unit_test(test_mapping),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
