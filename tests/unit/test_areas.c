/*
 * test_areas.c - the embedded kommun and region tables (common/vg_areas.c,
 * common/data/kommuner.tsv, common/data/regioner.tsv).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <string.h>

#include "vg_areas.h"

static const char *const region_codes[] = {
        "01", "03", "04", "05", "06", "07", "08", "09", "10", "12", "13",
        "14", "17", "18", "19", "20", "21", "22", "23", "24", "25",
};

static void test_counts(void **state) {
        (void)state;
        assert_int_equal(vg_areas_kommun_count(), 290);
        assert_int_equal(vg_areas_region_count(), 21);
        assert_null(vg_areas_kommun_code(290));
        assert_null(vg_areas_region_code(21));
}

/* The regions are exactly the 21 län codes, in order, each with a name. */
static void test_regions(void **state) {
        (void)state;
        for (size_t i = 0; i < sizeof(region_codes) / sizeof(*region_codes);
             i++) {
                const char *name;
                assert_string_equal(vg_areas_region_code(i), region_codes[i]);
                name = vg_areas_name(region_codes[i]);
                assert_non_null(name);
                assert_true(strlen(name) > 0);
                assert_false(vg_areas_is_kommun(region_codes[i]));
        }
        assert_string_equal(vg_areas_name("01"), "Region Stockholm");
        assert_string_equal(vg_areas_name("04"), "Region Sörmland");
        assert_string_equal(vg_areas_name("06"), "Region Jönköpings län");
        assert_string_equal(vg_areas_name("14"), "Västra Götalandsregionen");
        assert_string_equal(vg_areas_name("18"), "Region Örebro län");
        assert_string_equal(vg_areas_name("23"), "Region Jämtland Härjedalen");
        assert_string_equal(vg_areas_name("25"), "Region Norrbotten");
}

/* Every kommun: 4 digits, strictly increasing, its region exists, a
 * non-empty name that is not also another kommun's. */
static void test_kommuner(void **state) {
        const char *prev = NULL;
        size_t n = vg_areas_kommun_count();
        (void)state;
        for (size_t i = 0; i < n; i++) {
                const char *code = vg_areas_kommun_code(i), *name;
                char region[3];
                assert_non_null(code);
                assert_int_equal(strlen(code), 4);
                assert_int_equal(strspn(code, "0123456789"), 4);
                if (prev)
                        assert_true(strcmp(prev, code) < 0);
                prev = code;
                assert_true(vg_areas_is_kommun(code));
                memcpy(region, code, 2);
                region[2] = '\0';
                assert_non_null(vg_areas_name(region));
                name = vg_areas_name(code);
                assert_non_null(name);
                assert_true(strlen(name) > 0);
                for (size_t j = 0; j < i; j++)
                        assert_string_not_equal(
                                vg_areas_name(vg_areas_kommun_code(j)), name);
        }
}

static void test_spot_checks(void **state) {
        static const struct {
                const char *code, *name;
        } want[] = {
                {"0114", "Upplands Väsby"}, {"0180", "Stockholm"},
                {"0380", "Uppsala"},        {"0484", "Eskilstuna"},
                {"0680", "Jönköping"},      {"0980", "Gotland"},
                {"1280", "Malmö"},          {"1480", "Göteborg"},
                {"1880", "Örebro"},         {"2180", "Gävle"},
                {"2480", "Umeå"},           {"2584", "Kiruna"},
                {"0330", "Knivsta"},        {"0331", "Heby"},
                {"2023", "Malung-Sälen"},   {"1256", "Östra Göinge"},
        };
        (void)state;
        for (size_t i = 0; i < sizeof(want) / sizeof(*want); i++) {
                assert_true(vg_areas_is_kommun(want[i].code));
                assert_string_equal(vg_areas_name(want[i].code), want[i].name);
        }
}

static void test_other_codes(void **state) {
        (void)state;
        assert_string_equal(vg_areas_name("SE"), "Sverige");
        assert_false(vg_areas_is_kommun("SE"));
        /* Unknown or malformed. */
        assert_null(vg_areas_name(NULL));
        assert_null(vg_areas_name(""));
        assert_null(vg_areas_name("0000"));
        assert_null(vg_areas_name("0100"));  /* region 01, no such kommun */
        assert_null(vg_areas_name("1917"));  /* Heby's code before 2007 */
        assert_null(vg_areas_name("02"));    /* no län 02 */
        assert_null(vg_areas_name("00"));
        assert_null(vg_areas_name("26"));
        assert_null(vg_areas_name("se"));
        assert_null(vg_areas_name("1280 "));
        assert_null(vg_areas_name("128"));
        assert_null(vg_areas_name("12800"));
        assert_null(vg_areas_name("12a0"));
        assert_null(vg_areas_name("Malmö"));
        assert_false(vg_areas_is_kommun(NULL));
        assert_false(vg_areas_is_kommun("0000"));
        assert_false(vg_areas_is_kommun("04"));
}

/* First use from several threads at once: all see the same tables. */
static void *lookup(void *arg) {
        (void)arg;
        return (void *)vg_areas_name("1280");
}

static void test_threads(void **state) {
        pthread_t th[4];
        void *res[4];
        (void)state;
        for (int i = 0; i < 4; i++)
                assert_int_equal(pthread_create(&th[i], NULL, lookup, NULL), 0);
        for (int i = 0; i < 4; i++) {
                assert_int_equal(pthread_join(th[i], &res[i]), 0);
                assert_non_null(res[i]);
                assert_string_equal((const char *)res[i], "Malmö");
        }
}

int main(void) {
        /* test_threads first, so that it is the first use of the tables. */
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_threads),
                cmocka_unit_test(test_counts),
                cmocka_unit_test(test_regions),
                cmocka_unit_test(test_kommuner),
                cmocka_unit_test(test_spot_checks),
                cmocka_unit_test(test_other_codes),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
