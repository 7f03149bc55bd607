/*
 * test_json_time.c - JSON Lines events (SPEC §9), validation (SPEC §3, §7)
 * and the calendar dates of SPEC §4 in Europe/Stockholm.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>
#include <time.h>

#include "vg_record.h"
#include "vg_record_json.h"
#include "vg_time.h"

#define ADM                                                                    \
        "\"type\":\"admission\",\"event_id\":\"e1\",\"patient_id\":\"p1\","    \
        "\"kommun\":\"0484\",\"source_system\":\"s\",\"stay_id\":\"s1\","      \
        "\"facility_id\":\"f\",\"care_setting\":\"HOSPITAL_INPATIENT\","       \
        "\"planned\":false,\"sex\":\"FEMALE\",\"diagnosis_group\":\"COPD\""

static int64_t T(const char *s) {
        int64_t ms;
        if (vg_time_parse(s, &ms))
                fail_msg("cannot parse %s", s);
        return ms;
}

static void expect_err(const char *line, const char *want) {
        vg_event_t ev;
        char errstr[512] = "";
        if (vg_event_from_jsonl(line, strlen(line), &ev, errstr,
                                sizeof(errstr)) != VG_ERR_INVALID)
                fail_msg("accepted: %s", line);
        if (!strstr(errstr, want))
                fail_msg("error '%s' does not mention '%s'", errstr, want);
}

static void test_json_errors(void **state) {
        (void)state;
        expect_err("{", "not valid JSON");
        expect_err("[1]", "expected a JSON object");
        expect_err("{\"event_id\":\"x\"}", "type: missing");
        expect_err("{\"type\":\"admit\"}", "unknown event type \"admit\"");
        expect_err("{" ADM ",\"occurred_at\":\"2026-03-01T08:15:00Z\"}",
                   "age_years: missing (expected an integer)");
        expect_err("{" ADM ",\"age_years\":\"81\",\"occurred_at\":"
                   "\"2026-03-01T08:15:00Z\"}",
                   "age_years: expected an integer");
        expect_err("{" ADM ",\"age_years\":1e3,\"occurred_at\":1}",
                   "age_years: expected an integer");
        expect_err("{" ADM ",\"age_years\":81,\"occurred_at\":\"yesterday\"}",
                   "occurred_at: expected an RFC 3339");
        expect_err("{" ADM ",\"age_years\":81,\"occurred_at\":"
                   "\"2026-02-30T00:00:00Z\"}",
                   "occurred_at");
        expect_err("{" ADM ",\"age_years\":81,\"occurred_at\":1,\"colour\":1}",
                   "colour: unknown field for admission");
        expect_err("{" ADM ",\"age_years\":81,\"occurred_at\":1,"
                   "\"event_id\":\"again\"}",
                   "duplicate");
        expect_err("{" ADM ",\"age_years\":99999999999,\"occurred_at\":1}",
                   "out of range");
        const char *bad_enum =
                "{\"type\":\"death\",\"event_id\":\"e\",\"patient_id\":\"p\","
                "\"occurred_at\":1,\"kommun\":\"0484\",\"source_system\":\"s\","
                "\"place_of_death\":\"MOON\",\"expected\":true,\"age_years\":1,"
                "\"sex\":\"MALE\",\"diagnosis_group\":\"COPD\"}";
        expect_err(bad_enum, "place_of_death: unknown symbol \"MOON\" "
                             "(expected one of HOSPITAL|");
}

static void test_json_ok_and_defaults(void **state) {
        vg_event_t ev;
        char errstr[512];
        const char *l = "{" ADM ",\"age_years\":81,\"occurred_at\":"
                        "\"2026-03-01T08:15:00.5Z\"}";
        (void)state;
        assert_int_equal(vg_event_from_jsonl(l, strlen(l), &ev, errstr,
                                             sizeof(errstr)),
                         VG_OK);
        assert_int_equal(ev.ev_type, VG_REC_ADMISSION);
        assert_null(ev.ev_cancels_event_id);
        assert_int_equal(ev.ev_occurred_at, T("2026-03-01T08:15:00Z") + 500);
        char *js = vg_record_to_jsonl(VG_REC_ADMISSION, &ev);
        assert_non_null(strstr(js, "\"occurred_at\":\"2026-03-01T08:15:00.500Z\""));
        assert_non_null(strstr(js, "\"cancels_event_id\":null"));
        vg_free(js);
        vg_record_clear(VG_REC_ADMISSION, &ev);
}

static void test_validate(void **state) {
        vg_event_t ev = {0};
        char errstr[256];
        int64_t now = T("2026-11-22T12:00:00Z");
        (void)state;
        ev.ev_type = VG_REC_SIP;
        ev.ev_event_id = "e";
        ev.ev_patient_id = "p";
        ev.ev_kommun = "0484";
        ev.ev_occurred_at = now;
        assert_int_equal(vg_event_validate(&ev, now, errstr, sizeof(errstr)),
                         VG_OK);
        ev.ev_occurred_at = now + VG_MS_PER_DAY; /* exactly 1 day: ok */
        assert_int_equal(vg_event_validate(&ev, now, errstr, sizeof(errstr)),
                         VG_OK);
        ev.ev_occurred_at = now + VG_MS_PER_DAY + 1;
        assert_int_equal(vg_event_validate(&ev, now, errstr, sizeof(errstr)),
                         VG_ERR_INVALID);
        assert_non_null(strstr(errstr, "future"));
        ev.ev_occurred_at = T("1900-01-01T00:00:00Z");
        assert_int_equal(vg_event_validate(&ev, now, errstr, sizeof(errstr)),
                         VG_OK);
        ev.ev_occurred_at--;
        assert_int_equal(vg_event_validate(&ev, now, errstr, sizeof(errstr)),
                         VG_ERR_INVALID);
        assert_non_null(strstr(errstr, "1900"));
        ev.ev_occurred_at = now;
        const char *kommuner[] = {"484", "04840", "04a4", "", " 484"};
        for (size_t i = 0; i < VG_ARRAY_SIZE(kommuner); i++) {
                ev.ev_kommun = (char *)kommuner[i];
                assert_int_equal(vg_event_validate(&ev, now, errstr,
                                                   sizeof(errstr)),
                                 VG_ERR_INVALID);
                assert_non_null(strstr(errstr, "kommun"));
        }
        ev.ev_kommun = "0484";
        ev.ev_event_id = "";
        assert_int_equal(vg_event_validate(&ev, now, errstr, sizeof(errstr)),
                         VG_ERR_INVALID);
        assert_non_null(strstr(errstr, "event_id"));
        ev.ev_event_id = "e";
        ev.ev_patient_id = "";
        assert_int_equal(vg_event_validate(&ev, now, errstr, sizeof(errstr)),
                         VG_ERR_INVALID);
        assert_non_null(strstr(errstr, "patient_id"));
        ev.ev_patient_id = "p";
        /* An empty cancels_event_id names no event: refused (it vanished
         * without a trace); null is no cancellation. */
        ev.ev_cancels_event_id = "";
        assert_int_equal(vg_event_validate(&ev, now, errstr, sizeof(errstr)),
                         VG_ERR_INVALID);
        assert_non_null(strstr(errstr, "cancels_event_id"));
        ev.ev_cancels_event_id = "x";
        assert_int_equal(vg_event_validate(&ev, now, errstr, sizeof(errstr)),
                         VG_OK);
        ev.ev_cancels_event_id = NULL;
        /* A register entry's death_at: SPEC §7 refuses a record for its
         * occurred_at only, so a death before 1900 or in the future is
         * taken; refused only outside the years 0001-9999 (it sets the
         * spr.* period, "YYYY-MM"; year 9999 wrapped to year 0). */
        ev.ev_type = VG_REC_REGISTER;
        ev.ev_death_at = now + VG_MS_PER_DAY + 1;
        assert_int_equal(vg_event_validate(&ev, now, errstr, sizeof(errstr)),
                         VG_OK);
        ev.ev_death_at = T("1900-01-01T00:00:00Z") - 1;
        assert_int_equal(vg_event_validate(&ev, now, errstr, sizeof(errstr)),
                         VG_OK);
        ev.ev_death_at = T("0001-01-02T00:00:00Z");
        assert_int_equal(vg_event_validate(&ev, now, errstr, sizeof(errstr)),
                         VG_OK);
        ev.ev_death_at--;
        assert_int_equal(vg_event_validate(&ev, now, errstr, sizeof(errstr)),
                         VG_ERR_INVALID);
        assert_non_null(strstr(errstr, "death_at"));
        assert_non_null(strstr(errstr, "0001-9999"));
        ev.ev_death_at = T("9999-12-30T23:59:59.999Z");
        assert_int_equal(vg_event_validate(&ev, now, errstr, sizeof(errstr)),
                         VG_OK);
        ev.ev_death_at++;
        assert_int_equal(vg_event_validate(&ev, now, errstr, sizeof(errstr)),
                         VG_ERR_INVALID);
        ev.ev_death_at = INT64_MAX;
        assert_int_equal(vg_event_validate(&ev, now, errstr, sizeof(errstr)),
                         VG_ERR_INVALID);
        ev.ev_death_at = INT64_MIN;
        assert_int_equal(vg_event_validate(&ev, now, errstr, sizeof(errstr)),
                         VG_ERR_INVALID);
        /* A cancellation's death_at is not used (SPEC §3): not looked at. */
        ev.ev_cancels_event_id = "r1";
        assert_int_equal(vg_event_validate(&ev, now, errstr, sizeof(errstr)),
                         VG_OK);
        ev.ev_cancels_event_id = NULL;
        /* (another type's death_at is not a field of it) */
        ev.ev_type = VG_REC_SIP;
        assert_int_equal(vg_event_validate(&ev, now, errstr, sizeof(errstr)),
                         VG_OK);
}

static void test_time_parse_format(void **state) {
        char buf[VG_TIME_BUFSZ];
        int64_t ms;
        (void)state;
        assert_int_equal(T("1970-01-01T00:00:00Z"), 0);
        assert_int_equal(T("1970-01-01T01:00:00+01:00"), 0);
        assert_int_equal(T("1969-12-31T23:59:59.999Z"), -1);
        assert_string_equal(vg_time_format(-1, buf),
                            "1969-12-31T23:59:59.999Z");
        assert_string_equal(vg_time_format(T("2024-02-29T23:00:00Z"), buf),
                            "2024-02-29T23:00:00Z");
        assert_int_equal(vg_time_parse("2023-02-29T00:00:00Z", &ms), -1);
        assert_int_equal(vg_time_parse("2026-03-01T08:15:00", &ms), -1);
        assert_int_equal(vg_time_parse("2026-03-01T08:15:00Zjunk", &ms), -1);
        assert_int_equal(vg_time_parse("2026-3-01T08:15:00Z", &ms), -1);
        /* The offset it read, in minutes: what tells a UTC string. */
        {
                static const struct {
                        const char *s;
                        int         off;
                } z[] = {{"2026-03-01T08:15:00Z", 0},
                         {"2026-03-01T08:15:00z", 0},
                         {"2026-03-01T08:15:00+00:00", 0},
                         {"2026-03-01T08:15:00-00:00", 0},
                         {"2026-03-01T09:15:00+01:00", 60},
                         {"2026-03-01T02:45:00-05:30", -330},
                         {"2026-03-01T08:16:00+00:01", 1}};
                for (size_t i = 0; i < sizeof(z) / sizeof(z[0]); i++) {
                        int off = 12345;
                        assert_int_equal(vg_time_parse_off(z[i].s, &ms, &off),
                                         0);
                        assert_int_equal(off, z[i].off);
                        assert_int_equal(ms, T("2026-03-01T08:15:00Z"));
                }
        }
}

static void test_stockholm_dates(void **state) {
        char p[8];
        (void)state;
        /* Winter: UTC+1. 22:59Z is 23:59 local on the same day, 23:00Z is
         * already the next local day. */
        assert_int_equal(vg_days_between(VG_TZ_STOCKHOLM,
                                         T("2026-01-10T12:00:00Z"),
                                         T("2026-01-10T22:59:59Z")),
                         0);
        assert_int_equal(vg_days_between(VG_TZ_STOCKHOLM,
                                         T("2026-01-10T12:00:00Z"),
                                         T("2026-01-10T23:00:00Z")),
                         1);
        /* In UTC those are the same day. */
        assert_int_equal(vg_days_between(VG_TZ_UTC, T("2026-01-10T12:00:00Z"),
                                         T("2026-01-10T23:00:00Z")),
                         0);
        /* Summer: UTC+2. 2026 DST: 29 March 01:00Z to 25 October 01:00Z. */
        assert_int_equal(vg_tz_offset(VG_TZ_STOCKHOLM,
                                      T("2026-03-29T00:59:59Z")),
                         VG_MS_PER_HOUR);
        assert_int_equal(vg_tz_offset(VG_TZ_STOCKHOLM,
                                      T("2026-03-29T01:00:00Z")),
                         2 * VG_MS_PER_HOUR);
        assert_int_equal(vg_tz_offset(VG_TZ_STOCKHOLM,
                                      T("2026-10-25T00:59:59Z")),
                         2 * VG_MS_PER_HOUR);
        assert_int_equal(vg_tz_offset(VG_TZ_STOCKHOLM,
                                      T("2026-10-25T01:00:00Z")),
                         VG_MS_PER_HOUR);
        assert_int_equal(vg_days_between(VG_TZ_STOCKHOLM,
                                         T("2026-07-01T21:59:00Z"),
                                         T("2026-07-01T22:00:00Z")),
                         1);
        /* A day with 23 hours still counts as one day. */
        assert_int_equal(vg_days_between(VG_TZ_STOCKHOLM,
                                         T("2026-03-28T12:00:00Z"),
                                         T("2026-03-29T11:00:00Z")),
                         1);
        /* Period of local month: 2026-03-31T22:30Z is 00:30 on 1 April. */
        assert_string_equal(vg_period(VG_TZ_STOCKHOLM,
                                      T("2026-03-31T22:30:00Z"), p),
                            "2026-04");
        assert_string_equal(vg_period(VG_TZ_UTC, T("2026-03-31T22:30:00Z"), p),
                            "2026-03");
        assert_string_equal(vg_period(VG_TZ_STOCKHOLM,
                                      T("2026-12-31T23:00:00Z"), p),
                            "2027-01");
        /* 1916: summer time from 14 May 23:00 to 1 October 01:00 local
         * (the tz database's Europe/Stockholm); none from 1917 to 1979. */
        assert_int_equal(vg_tz_offset(VG_TZ_STOCKHOLM,
                                      T("1916-05-14T21:59:59.999Z")),
                         VG_MS_PER_HOUR);
        assert_int_equal(vg_tz_offset(VG_TZ_STOCKHOLM,
                                      T("1916-05-14T22:00:00Z")),
                         2 * VG_MS_PER_HOUR);
        assert_int_equal(vg_tz_offset(VG_TZ_STOCKHOLM,
                                      T("1916-09-30T22:59:59.999Z")),
                         2 * VG_MS_PER_HOUR);
        assert_int_equal(vg_tz_offset(VG_TZ_STOCKHOLM,
                                      T("1916-09-30T23:00:00Z")),
                         VG_MS_PER_HOUR);
        assert_string_equal(vg_period(VG_TZ_STOCKHOLM,
                                      T("1916-06-30T22:30:00Z"), p),
                            "1916-07");
        assert_int_equal(vg_tz_offset(VG_TZ_STOCKHOLM,
                                      T("1917-06-30T22:30:00Z")),
                         VG_MS_PER_HOUR);
        /* 1995: summer time ended on the last Sunday of September. */
        assert_int_equal(vg_tz_offset(VG_TZ_STOCKHOLM,
                                      T("1995-10-10T12:00:00Z")),
                         VG_MS_PER_HOUR);
        assert_int_equal(vg_tz_offset(VG_TZ_STOCKHOLM,
                                      T("1996-10-10T12:00:00Z")),
                         2 * VG_MS_PER_HOUR);
}

/* The last Sunday of month m (1-12) of year y, 01:00 UTC, found with the
 * C library's calendar (not vg_time's). */
static int64_t last_sunday_utc(int y, int m) {
        struct tm tm = {0};
        tm.tm_year = y - 1900;
        tm.tm_mon = m; /* the first of the next month */
        tm.tm_mday = 1;
        tm.tm_hour = 1;
        time_t t = timegm(&tm);
        do {
                t -= 86400;
                gmtime_r(&t, &tm);
        } while (tm.tm_wday != 0);
        return (int64_t)t * 1000;
}

/* Stockholm's offset around each summer time bound of 1975-2035, the
 * years visited out of order and each more than once (vg_tz_offset keeps
 * a few years per thread: a year made again must not take another's
 * place wrongly). No summer time before 1980; it ended on the last
 * Sunday of September until 1995, of October since. */
static void test_stockholm_years(void **state) {
        (void)state;
        for (int i = 0; i < 3 * 61; i++) {
                int y = 1975 + (i * 37) % 61;
                int64_t on = last_sunday_utc(y, 3),
                        off = last_sunday_utc(y, y >= 1996 ? 10 : 9);
                int64_t summer = y >= 1980 ? 2 * VG_MS_PER_HOUR
                                           : VG_MS_PER_HOUR;
                assert_int_equal(vg_tz_offset(VG_TZ_STOCKHOLM, on - 1),
                                 VG_MS_PER_HOUR);
                assert_int_equal(vg_tz_offset(VG_TZ_STOCKHOLM, on), summer);
                assert_int_equal(vg_tz_offset(VG_TZ_STOCKHOLM, off - 1),
                                 summer);
                assert_int_equal(vg_tz_offset(VG_TZ_STOCKHOLM, off),
                                 VG_MS_PER_HOUR);
                /* the year's first and last instants, local time */
                struct tm tm = {0};
                tm.tm_year = y - 1900;
                tm.tm_mday = 1;
                int64_t jan1 = (int64_t)timegm(&tm) * 1000;
                assert_int_equal(vg_tz_offset(VG_TZ_STOCKHOLM, jan1 - 1),
                                 VG_MS_PER_HOUR);
                assert_int_equal(vg_tz_offset(VG_TZ_STOCKHOLM, jan1),
                                 VG_MS_PER_HOUR);
                assert_int_equal(vg_local_day(VG_TZ_STOCKHOLM,
                                              jan1 - VG_MS_PER_HOUR),
                                 jan1 / VG_MS_PER_DAY);
                assert_int_equal(vg_local_day(VG_TZ_STOCKHOLM,
                                              jan1 - VG_MS_PER_HOUR - 1),
                                 jan1 / VG_MS_PER_DAY - 1);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_json_errors),
                cmocka_unit_test(test_json_ok_and_defaults),
                cmocka_unit_test(test_validate),
                cmocka_unit_test(test_time_parse_format),
                cmocka_unit_test(test_stockholm_dates),
                cmocka_unit_test(test_stockholm_years),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
