/*
 * test_personal_data - SPEC §8, docs/EVENTS.md §7: what a consumer takes
 * for a personnummer (vg_pnr_like): the whole value 10 or 12 digits,
 * optionally one '-' or '+' before the last four, a plausible date (day
 * 61-91 for a samordningsnummer: day + 60), check digit valid or not; and
 * every edge of day, month, year and check digit.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "vg_record.h"

static bool like(const char *s) {
        return vg_pnr_like(s, strlen(s));
}

static void test_spellings(void **state) {
        (void)state;
        assert_true(like("191212121212"));
        assert_true(like("19121212-1212"));
        assert_true(like("1212121212"));
        assert_true(like("121212-1212"));
        assert_true(like("121212+1212"));  /* 100 years or older */
        assert_true(like("19121212-1213")); /* check digit wrong */
        assert_true(like("19121272-1213")); /* samordningsnummer, day 12 */
        assert_true(like("121291-0000"));   /* day 31 + 60 */
        assert_true(like("20240229-1234")); /* leap day */
        assert_true(like("000229-1234"));   /* century unknown */
}

static void test_not_personnummer(void **state) {
        (void)state;
        assert_false(like("191213121212"));  /* month 13 */
        assert_false(like("121232-1212"));   /* day 32 */
        assert_false(like("19121292-1212")); /* day 92 */
        assert_false(like("20230229-1234")); /* no leap day in 2023 */
        assert_false(like("17990101-1234")); /* year before 1800 */
        assert_false(like("1212121"));       /* 7 digits */
        assert_false(like("12121212121"));   /* 11 digits */
        assert_false(like("1212121212121")); /* 13 digits */
        assert_false(like("121212--1212"));
        assert_false(like("1212-121212"));   /* separator not before last 4 */
        assert_false(like("121212 1212"));
        assert_false(like("p-121212-1212")); /* not the whole value */
        assert_false(like("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822c"));
        assert_false(like(""));
        assert_false(vg_pnr_like(NULL, 0));
        /* only the first len bytes count */
        assert_true(vg_pnr_like("1212121212xyz", 10));
}

/* like() of prefix + two-digit day dd + suffix. */
static bool like_day(const char *prefix, int dd, const char *suffix) {
        char buf[32];
        snprintf(buf, sizeof(buf), "%s%02d%s", prefix, dd, suffix);
        return like(buf);
}

/* The day at its edges (SPEC §8, docs/EVENTS.md §7): 1-31 is a date of a
 * 31-day month, a samordningsnummer adds 60, so 61-91 are its days 1-31;
 * 0, 32-60 and 92-99 are no day at all. Both forms, both separators. */
static void test_day_edges(void **state) {
        static const char *const forms[][2] = {
                {"191201", "-1212"}, {"191201", "1212"}, {"1201", "-1212"},
                {"1201", "+1212"},   {"1201", "1212"},   {"191201", "+1212"},
        };
        (void)state;
        for (size_t f = 0; f < sizeof(forms) / sizeof(forms[0]); f++) {
                const char *pre = forms[f][0], *suf = forms[f][1];
                for (int dd = 0; dd <= 99; dd++) {
                        bool want = (dd >= 1 && dd <= 31) ||
                                    (dd >= 61 && dd <= 91);
                        if (like_day(pre, dd, suf) != want)
                                fail_msg("%s%02d%s: %s, want %s", pre, dd,
                                         suf, want ? "not taken" : "taken",
                                         want ? "taken" : "not");
                }
        }
        /* The four named in the SPEC's range, spelt out. */
        assert_false(like("19120160-1212")); /* 60: day 0 */
        assert_true(like("19120161-1212"));  /* 61: day 1 */
        assert_true(like("19120191-1212"));  /* 91: day 31 of January */
        assert_false(like("19120192-1212")); /* 92: day 32 */
        assert_false(like("120160-1212"));
        assert_true(like("120161-1212"));
        assert_true(like("120191-1212"));
        assert_false(like("120192-1212"));
        /* The examples of docs/EVENTS.md §7. */
        assert_true(like("121261-1212"));
        assert_true(like("121291-1212"));
        assert_false(like("121260-1212"));
        assert_false(like("121292-1212"));
        assert_false(like("120491-1212"));
}

/* A samordningsnummer's day minus 60 must be a date of its month, as a
 * personnummer's day must: 30-day months, February and leap years. */
static void test_day_of_month(void **state) {
        (void)state;
        assert_true(like("19120430-1212"));  /* 30 April */
        assert_false(like("19120431-1212")); /* no 31 April */
        assert_true(like("19120490-1212"));  /* 30 + 60 */
        assert_false(like("19120491-1212")); /* 31 + 60 */
        assert_false(like("19121131-1212")); /* no 31 November */
        assert_false(like("19121191-1212"));
        assert_true(like("19121231-1212"));
        assert_true(like("19121291-1212"));
        /* February: 29 only in a leap year when the century is known;
         * 1900 is not a leap year, 2000 is. */
        assert_true(like("20240229-1234"));
        assert_true(like("20240289-1234"));
        assert_false(like("20230229-1234"));
        assert_false(like("20230289-1234"));
        assert_false(like("19000229-1234"));
        assert_true(like("20000229-1234"));
        assert_true(like("20000289-1234"));
        assert_false(like("20240230-1234"));
        assert_false(like("20240290-1234"));
        /* 10 digits: the century is unknown, so 29 February may be. */
        assert_true(like("230229-1234"));
        assert_true(like("230289-1234"));
        assert_false(like("230230-1234"));
        assert_false(like("230290-1234"));
}

/* Months 01-12 only; years from 1800 in the 12-digit form. */
static void test_month_and_year_edges(void **state) {
        (void)state;
        for (int mm = 0; mm <= 99; mm++) {
                char p12[32], p10[32];
                bool want = mm >= 1 && mm <= 12;
                snprintf(p12, sizeof(p12), "1912%02d01-1212", mm);
                snprintf(p10, sizeof(p10), "12%02d01-1212", mm);
                if (like(p12) != want || like(p10) != want)
                        fail_msg("month %02d: %d/%d, want %d", mm, like(p12),
                                 like(p10), want);
                /* The same month with a samordningsnummer day. */
                snprintf(p12, sizeof(p12), "1912%02d61-1212", mm);
                if (like(p12) != want)
                        fail_msg("month %02d, day 61: %d", mm, like(p12));
        }
        /* Vigil's bound of a plausible year (docs/EVENTS.md §7). */
        assert_true(like("18000101-1234"));
        assert_false(like("17991231-1234"));
}

/* The check digit counts for nothing: a mistyped personnummer is still
 * personal data (SPEC §8 "check digit valid or not"). */
static void test_check_digit(void **state) {
        (void)state;
        for (int c = 0; c <= 9; c++) {
                char b[32];
                snprintf(b, sizeof(b), "121212-121%d", c); /* 2 is valid */
                assert_true(like(b));
                snprintf(b, sizeof(b), "19121212121%d", c);
                assert_true(like(b));
                snprintf(b, sizeof(b), "121272+121%d", c); /* 9 is valid */
                assert_true(like(b));
        }
}

/* Avro bytes (a DLQ copy): a string's length byte before it, or the next
 * string's after it, may read as a digit or a letter ('0' is 24
 * characters, 'B' 33). The string is looked at on its own too. An attack
 * found both shapes copied to the DLQ whole. */
static void test_in_avro_bytes(void **state) {
        static const char *const pnrs[] = {"121212-1212", "191212121212",
                                           "19121212-1212", "1212121212"};
        (void)state;
        for (size_t p = 0; p < sizeof(pnrs) / sizeof(pnrs[0]); p++) {
                for (size_t len = 10; len <= 300; len++) {
                        unsigned char b[400];
                        size_t n = 0, plen = strlen(pnrs[p]), zz = len * 2;
                        if (len < plen)
                                continue;
                        b[n++] = 0x02; /* a field before: "x" */
                        b[n++] = 'x';
                        if (zz < 0x80) {
                                b[n++] = (unsigned char)zz;
                        } else {
                                b[n++] = (unsigned char)(zz | 0x80);
                                b[n++] = (unsigned char)(zz >> 7);
                        }
                        /* the personnummer first, then letters */
                        memcpy(b + n, pnrs[p], plen);
                        memset(b + n + plen, 'y', len - plen);
                        if (len > plen)
                                b[n + plen] = ' ';
                        n += len;
                        b[n++] = '0'; /* the next string: 24 characters */
                        if (!vg_pnr_in_bytes(b, n))
                                fail_msg("%s in a string of %zu: not found",
                                         pnrs[p], len);
                }
        }
        /* The attack's shape: exactly the personnummer, then a string of
         * 24 characters. */
        {
                const char b[] = "\x16" "121212-1212" "0" "yyyyyyyyyyyyyyyyyyyyyyyy";
                assert_true(vg_pnr_in_bytes(b, sizeof(b) - 1));
                assert_false(vg_pnr_in(b + 1)); /* (a string's own rule) */
        }
        /* A hex pseudonym's digit runs stay what they are. */
        {
                const char b[] = "\x80\x01" "9f86d0818a1212121212bc7d659a2feaa0c55ad015a3bf4f1b2b0b822c5d3e4f6a7b8c9d0e1f2a3b4c5d6e7f80";
                assert_false(vg_pnr_in_bytes(b, sizeof(b) - 1));
        }
        /* Anywhere else, also touching letters (an attack's records: the
         * DLQ copied them); a string's own rule stays strict. */
        {
                static const char *const touch[] = {
                        "zz191212121212x", "garbageA19121212-1212Amore",
                        "garbage 19121212-1212X more",
                        "XXXXXXXX19121212-1212",
                        "st-1212121212abcdef-2", /* (a 16-hex run) */
                        "9f86d0818a121212-1212bc7d659a2feaa0c55ad015a3bf4f",
                };
                for (size_t i = 0; i < sizeof(touch) / sizeof(*touch); i++) {
                        if (!vg_pnr_in_bytes(touch[i], strlen(touch[i])))
                                fail_msg("%s: not found", touch[i]);
                        assert_false(vg_pnr_in(touch[i]));
                }
                /* (digits on both sides: a longer number, none) */
                assert_false(vg_pnr_in_bytes("x91912121212129", 15));
        }
}

/* SPEC §8's rule (the whole value) for every string field of an event or
 * an alert: an event with one is not processed (it would be written to the
 * state and the topics), an alert with one is not shown; a value that only
 * holds one among other characters is a pseudonym, as the SPEC's rule
 * says ("p-121212-1212": its alerts were hidden by readers that looked
 * for one anywhere). */
static void test_fields(void **state) {
        vg_event_t ev = {0};
        vg_alert_t al = {0};
        (void)state;
        ev.ev_type = VG_REC_DISCHARGE;
        ev.ev_event_id = "e1";
        ev.ev_patient_id = "p-121212-1212";
        ev.ev_kommun = "0484";
        ev.ev_source_system = "s";
        ev.ev_stay_id = "x 121212-1212";
        ev.ev_facility_id = "f";
        assert_null(vg_event_pnr_field(&ev));
        ev.ev_stay_id = "191212121212";
        assert_string_equal(vg_event_pnr_field(&ev), "stay_id");
        ev.ev_stay_id = "s1";
        ev.ev_event_id = "121212-1212";
        assert_string_equal(vg_event_pnr_field(&ev), "event_id");
        ev.ev_event_id = "e1";
        ev.ev_cancels_event_id = "19121212-1212";
        assert_string_equal(vg_event_pnr_field(&ev), "cancels_event_id");
        ev.ev_cancels_event_id = NULL;
        ev.ev_patient_id = "1212121212";
        assert_string_equal(vg_event_pnr_field(&ev), "patient_id");
        al.al_alert_id = "a1";
        al.al_patient_id = "p-121212-1212";
        al.al_kommun = "0484";
        al.al_anchor = "x 121212-1212";
        assert_null(vg_alert_pnr_field(&al));
        al.al_region = "121212-1212";
        assert_string_equal(vg_alert_pnr_field(&al), "region");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_spellings),
                cmocka_unit_test(test_not_personnummer),
                cmocka_unit_test(test_day_edges),
                cmocka_unit_test(test_day_of_month),
                cmocka_unit_test(test_month_and_year_edges),
                cmocka_unit_test(test_check_digit),
                cmocka_unit_test(test_in_avro_bytes),
                cmocka_unit_test(test_fields),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
