/*
 * test_pseudo.c - personnummer normalisation, HMAC-SHA256 pseudonyms and
 * key files (SPEC §8, producers/vg_pseudo.c).
 *
 * Test numbers: 19121212-1212 is Skatteverket's well-known test
 * personnummer; the others were made up and given their Luhn check digit
 * (Luhn over YYMMDDNNN, weights 2,1,2,...).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vg_common.h"
#include "vg_pseudo.h"
#include "vg_time.h"

/* "Today" for every test: 2026-03-01. */
static int64_t today(void) {
        return vg_days_from_civil(2026, 3, 1);
}

static void expect_norm(const char *pnr, const char *want) {
        char out[VG_PSEUDO_PNR_BUFSZ], errstr[256] = "";
        if (vg_pseudo_normalise(pnr, today(), out, errstr, sizeof(errstr)))
                fail_msg("'%s' rejected: %s", pnr, errstr);
        assert_string_equal(out, want);
        assert_true(vg_pseudo_is_pnr(pnr, today()));
}

/* Rejected with an error containing want, and never quoting the input or
 * any digit of it. */
static void expect_bad(const char *pnr, const char *want) {
        char out[VG_PSEUDO_PNR_BUFSZ] = "x", errstr[256] = "";
        if (vg_pseudo_normalise(pnr, today(), out, errstr, sizeof(errstr)) !=
            VG_ERR_INVALID)
                fail_msg("'%s' accepted as %s", pnr, out);
        if (!strstr(errstr, want))
                fail_msg("'%s': error '%s' does not mention '%s'", pnr,
                         errstr, want);
        assert_string_equal(out, "");
        for (const char *p = errstr; *p; p++)
                if (*p >= '0' && *p <= '9')
                        fail_msg("'%s': error '%s' contains a digit", pnr,
                                 errstr);
        assert_false(vg_pseudo_is_pnr(pnr, today()));
}

static void test_forms(void **state) {
        (void)state;
        /* The five accepted spellings. */
        expect_norm("19121212-1212", "191212121212");
        expect_norm("191212121212", "191212121212");
        expect_norm("121212+1212", "191212121212");
        expect_norm("121212-1212", "201212121212"); /* latest century */
        expect_norm("1212121212", "201212121212");
        expect_norm("20121212-1212", "201212121212");
        expect_norm("811218-9876", "198112189876");
        expect_norm("8112189876", "198112189876");
}

static void test_century(void **state) {
        (void)state;
        /* Today (2026-03-01) is not in the future: 2026. */
        expect_norm("260301-1236", "202603011236");
        /* Tomorrow would be: the century before. */
        expect_norm("260302-1235", "192603021235");
        expect_norm("2603021235", "192603021235");
        /* '+' = 100 years or more: one more century back. */
        expect_norm("260301+1236", "192603011236");
        expect_norm("260302+1235", "182603021235");
        expect_norm("500101+2342", "185001012342");
        expect_norm("500101-2342", "195001012342");
        /* Leap days follow the chosen century: 2000 is leap, 1900 not. */
        expect_norm("000229-9873", "200002299873");
        expect_bad("000229+9873", "invalid date");
        expect_norm("20000229-9873", "200002299873");
        expect_bad("19000229-9873", "invalid date");
}

static void test_samordningsnummer(void **state) {
        (void)state;
        /* Day 03 + 60 = 63; kept as 63 in the normalised form. */
        expect_norm("701063-1237", "197010631237");
        expect_norm("19701063-1237", "197010631237");
        expect_norm("7010631237", "197010631237");
        expect_bad("701063-1238", "invalid check digit");
        /* Day 92 (= 32) and the gap 32..60 are not dates. */
        expect_bad("701092-1230", "invalid date");
        expect_bad("701045-1230", "invalid date");
}

static void test_check_digit(void **state) {
        (void)state;
        expect_bad("19121212-1213", "invalid check digit");
        expect_bad("191212121210", "invalid check digit");
        expect_bad("121212-1211", "invalid check digit");
        expect_bad("1212121219", "invalid check digit");
}

static void test_bad_date(void **state) {
        (void)state;
        expect_bad("19121312-1212", "invalid date"); /* month 13 */
        expect_bad("19120012-1212", "invalid date"); /* month 0 */
        expect_bad("19121200-1212", "invalid date"); /* day 0 */
        expect_bad("19120230-1212", "invalid date"); /* 30 February */
        expect_bad("19120431-1212", "invalid date"); /* 31 April */
        expect_bad("20260302-1235", "invalid date"); /* tomorrow */
        expect_bad("17991231-1234", "invalid date"); /* before 1800 */
        expect_bad("121312-1212", "invalid date");
}

static void test_bad_format(void **state) {
        (void)state;
        expect_bad("", "invalid format");
        expect_bad(NULL, "invalid format");
        expect_bad("1912121212120", "invalid format");  /* 13 digits */
        expect_bad("19121212121", "invalid format");    /* 11 digits */
        expect_bad("191212121", "invalid format");      /* 9 digits */
        expect_bad("19121212+1212", "invalid format");  /* '+' needs YY */
        expect_bad("19121212_1212", "invalid format");
        expect_bad("1912-12-12-1212", "invalid format");
        expect_bad("121212--1212", "invalid format");
        expect_bad(" 191212121212", "invalid format");
        expect_bad("191212121212 ", "invalid format");
        expect_bad("12121a-1212", "invalid format");
        expect_bad("1212121212\n", "invalid format");
        expect_bad("p1", "invalid format");
}

/* Expected values generated independently with Python's hmac module:
 *
 *   python3 -c 'import hmac,hashlib
 *   for k,m in [(b"Jefe",b"what do ya want for nothing?"),
 *               (b"vigil-test-key-0123456789",b"191212121212"),
 *               (bytes(range(32)),b"201212121212"),
 *               (b"k"*100,b"197010631237")]:
 *       print(hmac.new(k,m,hashlib.sha256).hexdigest())'
 *
 * The first is RFC 4231 test case 2 (HMAC-SHA256), as printed there. The
 * last key is longer than SHA-256's 64-byte block (so it is hashed first). */
static void test_hmac_vectors(void **state) {
        unsigned char bin[32], longkey[100];
        char hex[VG_PSEUDO_HEX_BUFSZ];
        (void)state;

        assert_int_equal(vg_pseudo_hmac("Jefe", 4,
                                        "what do ya want for nothing?", hex),
                         VG_OK);
        assert_string_equal(hex, "5bdcc146bf60754e6a042426089575c7"
                                 "5a003f089d2739839dec58b964ec3843");

        assert_int_equal(vg_pseudo_hmac("vigil-test-key-0123456789", 25,
                                        "191212121212", hex),
                         VG_OK);
        assert_string_equal(hex, "be53d6374617a3f0172ae0af3301686b"
                                 "bbbdc09e12dfb8046ee3aac471c12d7e");

        for (int i = 0; i < 32; i++)
                bin[i] = (unsigned char)i;
        assert_int_equal(vg_pseudo_hmac(bin, sizeof(bin), "201212121212", hex),
                         VG_OK);
        assert_string_equal(hex, "f0014419c88308f9656d979b0dcf120d"
                                 "21e6b3e955f01a9cde953cf4cb57d2f0");

        memset(longkey, 'k', sizeof(longkey));
        assert_int_equal(vg_pseudo_hmac(longkey, sizeof(longkey),
                                        "197010631237", hex),
                         VG_OK);
        assert_string_equal(hex, "d050c0dfc96aa7f341662991b91d39c2"
                                 "d71178b5fb0ccb258d9b8300463fc733");
}

/* vg_hex, which writes the pseudonyms, alert ids and stored hex strings:
 * every byte value, both nibbles, and the NUL after exactly 2n digits. */
static void test_hex(void **state) {
        unsigned char all[256];
        char out[2 * 256 + 2];
        (void)state;
        for (int i = 0; i < 256; i++)
                all[i] = (unsigned char)i;
        memset(out, 'x', sizeof(out));
        assert_ptr_equal(vg_hex(out, all, 256), out);
        for (int i = 0; i < 256; i++) {
                char want[3];
                snprintf(want, sizeof(want), "%02x", i);
                assert_memory_equal(out + 2 * i, want, 2);
        }
        assert_int_equal(out[512], '\0');
        assert_int_equal(out[513], 'x');
        memset(out, 'x', sizeof(out));
        vg_hex(out, all, 0);
        assert_int_equal(out[0], '\0');
        assert_int_equal(out[1], 'x');
        vg_hex(out, "\xa5\x0f", 2);
        assert_string_equal(out, "a50f");
}

/* Every spelling of one person gives one pseudonym. */
static void test_same_person_same_pseudonym(void **state) {
        static const char *forms[] = {"19121212-1212", "191212121212",
                                      "121212+1212"};
        static const char key[] = "vigil-test-key-0123456789";
        char norm[VG_PSEUDO_PNR_BUFSZ], errstr[256], hex[VG_PSEUDO_HEX_BUFSZ];
        (void)state;

        for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
                assert_int_equal(vg_pseudo_normalise(forms[i], today(), norm,
                                                     errstr, sizeof(errstr)),
                                 VG_OK);
                assert_int_equal(vg_pseudo_hmac(key, strlen(key), norm, hex),
                                 VG_OK);
                assert_string_equal(hex, "be53d6374617a3f0172ae0af3301686b"
                                         "bbbdc09e12dfb8046ee3aac471c12d7e");
        }
}

/* Writes data to a new temporary file of the given mode; returns its path
 * (static buffer). */
static const char *temp_key(const void *data, size_t len, mode_t mode) {
        static char path[64];
        int fd;
        snprintf(path, sizeof(path), "/tmp/vg_test_pseudo.XXXXXX");
        fd = mkstemp(path);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, data, len), (ssize_t)len);
        close(fd);
        assert_int_equal(chmod(path, mode), 0);
        return path;
}

static void test_key_file(void **state) {
        vg_pseudo_key_t key;
        char errstr[512];
        int gr;
        const char *path;
        (void)state;

        /* One trailing newline is stripped, mode 0600 is quiet. */
        path = temp_key("0123456789abcdef\n", 17, 0600);
        assert_int_equal(vg_pseudo_key_load(path, &key, &gr, errstr,
                                            sizeof(errstr)),
                         VG_OK);
        assert_int_equal(key.pk_len, 16);
        assert_memory_equal(key.pk_data, "0123456789abcdef", 16);
        assert_int_equal(gr, 0);
        vg_pseudo_key_clear(&key);
        assert_null(key.pk_data);
        unlink(path);

        /* Only one newline; binary bytes kept; group-readable flagged. */
        path = temp_key("\0\1\2\3\4\5\6\7\x08\x09\x0a\x0b\x0c\x0d\x0e\n\n", 17,
                        0640);
        assert_int_equal(vg_pseudo_key_load(path, &key, &gr, errstr,
                                            sizeof(errstr)),
                         VG_OK);
        assert_int_equal(key.pk_len, 16);
        assert_int_equal(key.pk_data[0], 0);
        assert_int_equal(key.pk_data[15], '\n');
        assert_int_equal(gr, 1);
        vg_pseudo_key_clear(&key);
        unlink(path);

        /* CRLF counts as one newline. */
        path = temp_key("0123456789abcdef\r\n", 18, 0600);
        assert_int_equal(vg_pseudo_key_load(path, &key, &gr, errstr,
                                            sizeof(errstr)),
                         VG_OK);
        assert_int_equal(key.pk_len, 16);
        vg_pseudo_key_clear(&key);
        unlink(path);

        /* Too short, empty, just a newline, missing. */
        path = temp_key("0123456789abcde\n", 16, 0600);
        assert_int_equal(vg_pseudo_key_load(path, &key, &gr, errstr,
                                            sizeof(errstr)),
                         VG_ERR_ARG);
        assert_non_null(strstr(errstr, "at least 16"));
        assert_null(key.pk_data);
        unlink(path);
        path = temp_key("", 0, 0600);
        assert_int_equal(vg_pseudo_key_load(path, &key, &gr, errstr,
                                            sizeof(errstr)),
                         VG_ERR_ARG);
        assert_non_null(strstr(errstr, "is empty"));
        unlink(path);
        path = temp_key("\n", 1, 0600);
        assert_int_equal(vg_pseudo_key_load(path, &key, &gr, errstr,
                                            sizeof(errstr)),
                         VG_ERR_ARG);
        assert_non_null(strstr(errstr, "is empty"));
        unlink(path);
        assert_int_equal(vg_pseudo_key_load("/nonexistent/vigil.key", &key,
                                            &gr, errstr, sizeof(errstr)),
                         VG_ERR_IO);
        assert_non_null(strstr(errstr, "/nonexistent/vigil.key"));
        assert_non_null(strstr(errstr, "No such file"));

        vg_pseudo_key_clear(NULL);
}

/* Screening: every spelling of a personnummer, valid or not, is redacted
 * and recognised; longer digit runs, dates and hex pseudonyms are not. */
static void test_redact_and_spelt_like(void **state) {
        static const struct {
                const char *in, *redacted;
                bool spelt;
        } cases[] = {
                {"x 19121212-1212 y", "x XXXXXXXXXXXXX y", true},
                {"191212121212", "XXXXXXXXXXXX", true},
                {"121212-1212", "XXXXXXXXXXX", true},
                {"121212+1212", "XXXXXXXXXXX", true},
                {"121212 1212", "XXXXXXXXXXX", true},
                {"1212121212", "XXXXXXXXXX", true},
                {"19121212-1213", "XXXXXXXXXXXXX", true}, /* bad Luhn */
                {"1234567890123", "1234567890123", false}, /* 13 digits */
                /* a personnummer with digits next to it (a control id
                 * made of one and a counter) */
                {"(MSH-10 1912121212121)", "(MSH-10 XXXXXXXXXXXXX)", false},
                {"0191212121212", "XXXXXXXXXXXXX", false},
                {"19121212121212", "XXXXXXXXXXXXXX", false},
                {"19121212-12121", "XXXXXXXXXXXXXX", false},
                {"121212-12123", "XXXXXXXXXXXX", false},
                {"1121212-1212", "XXXXXXXXXXXX", false},
                {"45031012320", "XXXXXXXXXXX", false}, /* 11 digits */
                {"14503101232", "XXXXXXXXXXX", false},
                {"45037023440", "XXXXXXXXXXX", false}, /* samordning */
                {"119121212-1212", "XXXXXXXXXXXXXX", false},
                /* a date-time control id and epoch times stay (the check
                 * digit does not hold); a run of 10 or 12 never does */
                {"MSH-10 20260301081500001", "MSH-10 20260301081500001",
                 false},
                {"1767301054365 ms", "1767301054365 ms", false},
                {"1764950400000 ms", "1764950400000 ms", false},
                {"1912121212131", "1912121212131", false}, /* bad Luhn */
                {"123456789", "123456789", false},
                /* in groups (attacks: an MSH-10 printed with '?' for a
                 * space, an escaped '|', an en dash), valid or not */
                {"(MSH-10 19400101?1230)", "(MSH-10 XXXXXXXXXXXXX)", true},
                {"(MSH-10 1940-01-01-1230)", "(MSH-10 XXXXXXXXXXXXXXX)", true},
                {"19400101|1230", "XXXXXXXXXXXXX", true},
                {"id 19400101\xe2\x80\x93" "1230.", "id XXXXXXXXXXXXXXX.", true},
                {"19400101???1230", "XXXXXXXXXXXXXXX", true},
                {"40-01-01 1230", "XXXXXXXXXXXXX", true},
                {"19400101 - 1230", "XXXXXXXXXXXXXXX", true},
                {"Encounter/19400101?1230", "Encounter/XXXXXXXXXXXXX", true},
                /* (a review: a dash between spaces, as word processors
                 * write it, five bytes; its '?'s as a message prints it) */
                {"19400101 \xe2\x80\x93 1230", "XXXXXXXXXXXXXXXXX", true},
                {"(MSH-10 19400101?????1230)", "(MSH-10 XXXXXXXXXXXXXXXXX)",
                 true},
                {"19400101 -- 1230", "XXXXXXXXXXXXXXXX", true},
                /* an id of a date and a counter: masked in a message, but
                 * not refused as a field unless its check digit holds */
                {"2026-03-01-0001", "XXXXXXXXXXXXXXX", false},
                {"VK-2026-03-01-0042", "VK-XXXXXXXXXXXXXXX", false},
                {"1940-01-01-1231", "XXXXXXXXXXXXXXX", false},
                /* not: a time, four separators, 3+5 digits, a bad date,
                 * a year out of range, a letter next to it */
                {"2026-03-01 08:15:00", "2026-03-01 08:15:00", false},
                {"19400101 ,,, 1230", "19400101 ,,, 1230", false},
                {"1940010 11230", "1940010 11230", false},
                {"1940-13-01-1230", "1940-13-01-1230", false},
                {"1740-01-01-1230", "1740-01-01-1230", false},
                {"127.0.0.1:44915", "127.0.0.1:44915", false},
                {"2026-11-30", "2026-11-30", false},
                {"20261130-12", "20261130-12", false},
                {"ab191212121212cd", "abXXXXXXXXXXXXcd", false}, /* hex */
                {"", "", false},
        };
        (void)state;
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                char buf[64];
                snprintf(buf, sizeof(buf), "%s", cases[i].in);
                vg_pseudo_redact(buf);
                assert_string_equal(buf, cases[i].redacted);
                assert_int_equal(vg_pseudo_spelt_like(cases[i].in),
                                 cases[i].spelt);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_forms),
                cmocka_unit_test(test_century),
                cmocka_unit_test(test_samordningsnummer),
                cmocka_unit_test(test_check_digit),
                cmocka_unit_test(test_bad_date),
                cmocka_unit_test(test_bad_format),
                cmocka_unit_test(test_hmac_vectors),
                cmocka_unit_test(test_hex),
                cmocka_unit_test(test_same_person_same_pseudonym),
                cmocka_unit_test(test_key_file),
                cmocka_unit_test(test_redact_and_spelt_like),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
