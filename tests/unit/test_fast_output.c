/*
 * test_fast_output.c - vg_record_put_output_json writes exactly the bytes
 * jansson writes (json_dumps of vg_record_to_json without its nulls,
 * JSON_COMPACT | JSON_PRESERVE_ORDER: what file mode, `vigil alerts` and
 * `vigil serve` wrote before), on alerts at the edges (every optional
 * unset or set, reals of every magnitude and sign, integral reals, times
 * before 1970 and after 9999) and on 200,000 random ones; and declines
 * (-1) whatever jansson writes otherwise: control characters and
 * non-ASCII bytes in a string, reals that are not finite.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vg_record.h"
#include "vg_record_json.h"

#include <jansson.h>

/* jansson's path: the tree, its nulls removed, dumped. */
static char *slow(const vg_alert_t *al) {
        json_t *obj = vg_record_to_json(VG_REC_ALERT, al), *v;
        const char *key;
        void *tmp;
        char *s;
        json_object_foreach_safe(obj, tmp, key, v) {
                if (json_is_null(v))
                        json_object_del(obj, key);
        }
        s = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER);
        json_decref(obj);
        return s;
}

static int check(const vg_alert_t *al) {
        vg_buf_t b;
        char *want = slow(al);
        int r;
        assert_non_null(want);
        vg_buf_init(&b);
        r = vg_record_put_output_json(&b, VG_REC_ALERT, al);
        if (!r && strcmp(b.vb_data, want))
                fail_msg("fast:  %s\njansson: %s", b.vb_data, want);
        free(want);
        vg_buf_free(&b);
        return r;
}

static uint64_t g_rng = 0x5eed0fa57ULL;
static uint64_t rnd64(void) {
        uint64_t z = (g_rng += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
}
static int rnd(int n) {
        return (int)(rnd64() % (uint64_t)n);
}

static const double reals[] = {
        0.0,  -0.0, 1.0,   -1.0,   0.5,     0.85,    0.1,     1.0 / 3,
        2.0 / 3, 100.0, 1e-5, 1e-4, 1.5e-7, 123456789.0, 1e16, 1e17,
        1e20, 1e21, 1e22, 1e100, -1e-300, DBL_MIN, DBL_MAX, 5e-324,
        0.30000000000000004, 12345.678, 1e15, 9007199254740993.0,
};

/* An alert with every field set or unset at random, strings printable
 * ASCII (with '"' and '\\' sometimes). */
static void random_alert(vg_alert_t *al, char strs[8][24]) {
        static const char alphabet[] =
                "abcXYZ0189-_|:/ \"\\{}[],.";
        char **fields[] = {&al->al_patient_id, &al->al_kommun,
                           &al->al_region,     &al->al_anchor,
                           &al->al_index_stay_id,
                           &al->al_readmission_stay_id,
                           &al->al_stay_id,    &al->al_indicator};
        vg_optl_t *ol[] = {&al->al_index_discharged_at, &al->al_readmitted_at,
                           &al->al_days_between,        &al->al_discharged_at,
                           &al->al_deadline,            &al->al_numerator,
                           &al->al_denominator,         &al->al_died_at,
                           &al->al_complete};
        memset(al, 0, sizeof(*al));
        for (int i = 0; i < 8; i++) {
                int n = rnd(20);
                for (int k = 0; k < n; k++)
                        strs[i][k] = alphabet[rnd(sizeof(alphabet) - 1)];
                strs[i][n] = '\0';
                *fields[i] = rnd(4) ? strs[i] : NULL;
        }
        al->al_alert_id = strs[0];
        al->al_area = rnd(2) ? strs[1] : NULL;
        al->al_period = rnd(2) ? strs[2] : NULL;
        al->al_place_of_death = rnd(2) ? strs[3] : NULL;
        al->al_rule = rnd(4);
        al->al_status = rnd(2);
        al->al_emitted_at = (int64_t)(rnd64() % 400000000000000ULL) -
                            100000000000000LL;
        for (size_t i = 0; i < sizeof(ol) / sizeof(ol[0]); i++) {
                ol[i]->set = rnd(2);
                ol[i]->v = rnd(3) ? (int64_t)(rnd64() % 4000000000000ULL)
                                  : (int64_t)rnd64();
        }
        al->al_days_between.v %= 100;
        al->al_complete.v = rnd(2);
        al->al_value.set = rnd(2);
        al->al_target.set = rnd(2);
        al->al_value.v = rnd(2) ? reals[rnd(sizeof(reals) / sizeof(reals[0]))]
                                : (double)rnd(1000000) / (1 + rnd(1000));
        al->al_target.v = rnd(2) ? (double)rnd(101) / 100
                                 : ldexp((double)rnd64(), rnd(200) - 100);
}

static void test_edges(void **state) {
        char s[8][24];
        (void)state;
        for (size_t i = 0; i < sizeof(reals) / sizeof(reals[0]); i++) {
                vg_alert_t al;
                random_alert(&al, s);
                al.al_value = (vg_optd_t){true, reals[i]};
                al.al_target = (vg_optd_t){true, -reals[i]};
                assert_int_equal(check(&al), 0);
        }
        {
                vg_alert_t al = {0};
                al.al_alert_id = "a";
                assert_int_equal(check(&al), 0); /* the least there is */
                al.al_emitted_at = -86400000LL * 365 * 3000; /* year < 0 */
                assert_int_equal(check(&al), 0);
                al.al_emitted_at = 300000000000000LL; /* year > 9999 */
                assert_int_equal(check(&al), 0);
        }
}

static void test_declines(void **state) {
        char s[8][24];
        vg_alert_t al;
        (void)state;
        random_alert(&al, s);
        al.al_kommun = "a\nb";
        assert_int_equal(check(&al), -1);
        al.al_kommun = "G\xc3\xb6teborg"; /* (valid UTF-8: jansson's) */
        assert_int_equal(check(&al), -1);
        al.al_kommun = "\x7f";
        assert_int_equal(check(&al), -1);
        al.al_kommun = "ok";
        al.al_value = (vg_optd_t){true, NAN};
        assert_int_equal(check(&al), -1);
        al.al_value = (vg_optd_t){true, INFINITY};
        assert_int_equal(check(&al), -1);
        al.al_value = (vg_optd_t){true, 0.25};
        assert_int_equal(check(&al), 0);
}

static void test_random(void **state) {
        char s[8][24];
        int n = getenv("VG_FAST_OUTPUT_N") ? atoi(getenv("VG_FAST_OUTPUT_N"))
                                           : 200000;
        (void)state;
        for (int i = 0; i < n; i++) {
                vg_alert_t al;
                random_alert(&al, s);
                assert_int_equal(check(&al), 0);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_edges),
                cmocka_unit_test(test_declines),
                cmocka_unit_test(test_random),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
