/*
 * test_hl7_input.c - the edges of HL7 v2 input (docs/HOSPITAL.md §1, §3):
 * escape sequences left open or not defined by HL7, the dates of PID-11's
 * addresses, and text that is not what MSH-18 (character set) says it is.
 * Each of these once gave a wrong event without a word; each test of them
 * here failed on the code before its fix. Helpers: hl7_helpers.h.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "hl7_helpers.h"

#define EVN "EVN|A01|20260301081500\r" /* 2026-03-01 08:15 local */

/* ------------------------------------------------------------------ */
/* Escapes                                                            */
/* ------------------------------------------------------------------ */

/* HL7 v2.5 2.7: an escape sequence is the escape character, a code, data
 * and the escape character again; a \ in text is \E\. One left open (at
 * the end of a component, field, segment or message) was kept as it was,
 * so "V1\" and "V1\E\" made one stay; one closed by the next escape
 * ("\T x\F\") was taken for an unknown escape and dropped with the text in
 * it: stay "VF\1". Both are refused now, naming the field. */
static void test_escape_open(void **state) {
        static const struct {
                const char *pv1, *want;
        } bad[] = {
                {"PV1|1|I|MED3||||||||||||||||V1\\X41\r", "PV1-19: an escape"},
                {"PV1|1|I|MED3||||||||||||||||V1\\T\r", "PV1-19: an escape"},
                {"PV1|1|I|MED3||||||||||||||||V1\\|||\r", "PV1-19: an escape"},
                {"PV1|1|I|MED3||||||||||||||||V1\\\r", "PV1-19: an escape"},
                {"PV1|1|I|MED3||||||||||||||||V1\\", "PV1-19: an escape"},
                {"PV1|1|I|MED\\^12||||||||||||||||V1\r", "PV1-3: an escape"},
                {"PV1|1|I|MED3||||||||||||||||V\\T x\\F\\1\r",
                 "PV1-19: an escape sequence HL7"},
                {"PV1|1|I|MED3||||||||||||||||V\\Hx\\1\r",
                 "PV1-19: an escape sequence HL7"},
                {"PV1|1|I|MED3||||||||||||||||V\\Q\\1\r",
                 "PV1-19: an escape sequence HL7"},
                {"PV1|1|I|MED3||||||||||||||||V\\\\1\r",
                 "PV1-19: an escape sequence HL7"},
        };
        (void)state;
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                char msg[1024];
                snprintf(msg, sizeof(msg), MSH("A01", "C1") EVN PID "%s",
                         bad[i].pv1);
                expect_error(msg, bad[i].want);
        }
}

/* The escapes HL7 defines still read as before: separators, \E\, hex;
 * formatting (\H\ \N\ \.br\ \.sp2\) and locally defined (\Zxx\) dropped. */
static void test_escape_defined(void **state) {
        vg_event_t ev;
        (void)state;
        expect_event(MSH("A01", "C1") EVN PID
                     "PV1|1|I|\\H\\W\\.br\\A\\.sp2\\RD\\N\\\\Z01\\|||||||||||"
                     "|||||V\\E\\1\r",
                     &ev);
        assert_string_equal(ev.ev_facility_id, "WARD");
        assert_string_equal(ev.ev_stay_id, "V\\1");
        vg_record_clear(ev.ev_type, &ev);
}

/* ------------------------------------------------------------------ */
/* Address dates                                                      */
/* ------------------------------------------------------------------ */


/* SPEC §3: kommun is where the patient lives when the event happens. An
 * address whose expiration date (XAD.14) is before the event, whose
 * effective date (XAD.13) is after it, or whose date range (XAD.12:
 * start&end) does not hold it, decided the kommun when it came first. */
static void test_address_dates(void **state) {
        static const struct {
                const char *addrs, *want;
        } cases[] = {
                /* expired, then the new home */
                {"^^^^^^H^^0180^^^^^20200301~^^^^^^H^^0484", "0484"},
                {"^^^^^^H^^0180^^^^^202602~^^^^^^H^^0484", "0484"},
                {"^^^^^^H^^0180^^^^^202603010814~^^^^^^H^^0484", "0484"},
                /* not yet effective */
                {"^^^^^^H^^0180^^^^20270101~^^^^^^H^^0484", "0484"},
                {"^^^^^^H^^0180^^^^202603010816~^^^^^^H^^0484", "0484"},
                /* a date range (XAD.12) that ended or has not begun */
                {"^^^^^^H^^0180^^^20150101&20200301~^^^^^^H^^0484", "0484"},
                {"^^^^^^H^^0180^^^20270101&~^^^^^^H^^0484", "0484"},
                /* untyped addresses too */
                {"^^^^^^^^0180^^^^^20200301~^^^^^^^^0484", "0484"},
                /* an end is its whole day, month, minute: it holds */
                {"^^^^^^H^^0180^^^^^20260301~^^^^^^H^^0484", "0180"},
                {"^^^^^^H^^0180^^^^^202603~^^^^^^H^^0484", "0180"},
                {"^^^^^^H^^0180^^^^^2026~^^^^^^H^^0484", "0180"},
                {"^^^^^^H^^0180^^^^^202603010815~^^^^^^H^^0484", "0180"},
                {"^^^^^^H^^0180^^^^20260301^20260302~^^^^^^H^^0484", "0180"},
                {"^^^^^^H^^0180^^^20200101&20261231~^^^^^^H^^0484", "0180"},
                {"^^^^^^H^^0180^^^^202603010815~^^^^^^H^^0484", "0180"},
        };
        vg_event_t ev;
        (void)state;
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
                expect_kommun(MSH("A01", "C1") EVN, cases[i].addrs,
                              cases[i].want);
        /* Every address expired: none (no kommun.default here). */
        expect_error(MSH("A01", "C1") EVN
                     PIDA("^^^^^^H^^0180^^^^^20200301") PV1("V1001", ""),
                     "PID-11: no 4-digit kommun code");
        /* A date that is not an HL7 date refuses the message. */
        expect_error(MSH("A01", "C1") EVN
                     PIDA("^^^^^^H^^0180^^^^^2026-03-01") PV1("V1001", ""),
                     "PID-11: XAD.14");
        /* ... in an address that could be taken: not in a business
         * address, nor after the home address is found. */
        expect_event(MSH("A01", "C1") EVN
                     PIDA("^^^^^^B^^0180^^^^^2026-03-01~^^^^^^H^^0484~"
                          "^^^^^^H^^0180^^^^^x") PV1("V1001", ""),
                     &ev);
        assert_string_equal(ev.ev_kommun, "0484");
        vg_record_clear(ev.ev_type, &ev);
        /* A cancellation's kommun is not used: its dates are not read. */
        expect_event(MSH("A11", "C2") "EVN|A11|20260301081500\r"
                     PIDA("^^^^^^H^^0180^^^^^20200301") PV1("V1001", ""),
                     &ev);
        assert_string_equal(ev.ev_kommun, "0180");
        vg_record_clear(ev.ev_type, &ev);
}

/* ------------------------------------------------------------------ */
/* Character sets                                                     */
/* ------------------------------------------------------------------ */

#define MSH18(cs)                                                              \
        "MSH|^~\\&|HIS-A|MSE|VIGIL|REG|20260301081500||ADT^A01|C1|P|2.5|||||" \
        "|" cs "\r"

/* UTF-8 sent as 8859/1 (MSH-18) was read as Latin-1: "VäXJö" became
 * "VÃ¤XJÃ¶" in facility_id, and "SKÖVDE" (Ö is C3 96) was refused as
 * "holds a control character". Latin-1 bytes without MSH-18 were refused
 * only in the fields an event carries: DG1-3, PV1-2, PV1-36 were read and
 * mapped as they were. Now any value read that is not text in the
 * message's character set refuses the message, naming the field and the
 * character set. */
static void test_charset(void **state) {
        vg_event_t ev;
        (void)state;
        expect_error(MSH18("8859/1") EVN PID
                     "PV1|1|I|V\xc3\xa4XJ\xc3\xb6||||||||||||||||V1\r",
                     "PV1-3: UTF-8 text, but MSH-18 says ISO 8859");
        expect_error(MSH18("8859/15") EVN PID
                     "PV1|1|I|MED3||||||||||||||||V\xc3\xa5" "1\r",
                     "PV1-19: UTF-8 text, but MSH-18 says ISO 8859");
        expect_error(MSH18("8859/1") EVN PID
                     "PV1|1|I|SK\xc3\x96VDE||||||||||||||||V1\r",
                     "PV1-3: UTF-8 text, but MSH-18 says ISO 8859");
        expect_error(MSH18("8859/1") EVN PID
                     "PV1|1|I|AVD\x96||||||||||||||||V1\r",
                     "PV1-3: not ISO 8859 text");
        /* Latin-1 in a message read as UTF-8, in fields no event carries */
        expect_error(MSH("A01", "C1") EVN PID PV1("V1", "")
                     "DG1|1||I50\xe5^x^I10\r",
                     "DG1-3: not valid UTF-8");
        expect_error(MSH18("UNICODE UTF-8") EVN PID
                     "PV1|1|I\xc4|MED3||||||||||||||||V1\r",
                     "PV1-2: not valid UTF-8");
        expect_error(MSH("A01", "C1") EVN PID PV1("V1", "0\xe5" "1"),
                     "PV1-36: not valid UTF-8");
        /* What was right stays right: Latin-1 declared so (Ã then a
         * digit is no UTF-8), UTF-8 undeclared; MSH-4 is hashed as its
         * bytes, whatever the character set. */
        expect_event(MSH18("8859/1") EVN PID
                     "PV1|1|I|V\xc4XJ\xd6||||||||||||||||V\xc3" "1\r",
                     &ev);
        assert_string_equal(ev.ev_facility_id, "V\xc3\x84XJ\xc3\x96");
        assert_string_equal(ev.ev_stay_id, "V\xc3\x83" "1");
        vg_record_clear(ev.ev_type, &ev);
        expect_event(MSH("A01", "C1") EVN PID
                     "PV1|1|I|V\xc3\xa4XJ\xc3\xb6||||||||||||||||V1\r",
                     &ev);
        assert_string_equal(ev.ev_facility_id, "V\xc3\xa4XJ\xc3\xb6");
        vg_record_clear(ev.ev_type, &ev);
        expect_event("MSH|^~\\&|HIS-A|S\xd6S|VIGIL|REG|20260301081500||"
                     "ADT^A01|C1|P|2.5\r" EVN PID PV1("V1", ""),
                     &ev);
        vg_record_clear(ev.ev_type, &ev);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_escape_open),
                cmocka_unit_test(test_escape_defined),
                cmocka_unit_test(test_address_dates),
                cmocka_unit_test(test_charset),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
