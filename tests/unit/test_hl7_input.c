/*
 * test_hl7_input.c - the edges of HL7 v2 input (docs/HOSPITAL.md §1, §3):
 * escape sequences left open or not defined by HL7. Each of these once
 * gave a wrong event without a word; each test of them here failed on the
 * code before its fix. Helpers: hl7_helpers.h.
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

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_escape_open),
                cmocka_unit_test(test_escape_defined),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
