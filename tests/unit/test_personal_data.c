/*
 * test_personal_data - SPEC §8: what a consumer takes for a personnummer
 * (vg_pnr_like): the whole value 10 or 12 digits, optionally one '-' or
 * '+' before the last four, a plausible date (day 61-91 for a
 * samordningsnummer), check digit valid or not.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

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

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_spellings),
                cmocka_unit_test(test_not_personnummer),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
