/*
 * test_targets.c - the default targets (docs/INDICATORS.md §6; issue 12:
 * register_coverage and the spr.* indicators at Socialstyrelsen's target
 * levels of 2017) as the aggregator evaluates them (vg_agg_target,
 * vg_agg_breach): for each default a value exactly at it (met), just on
 * the good side (met) and just on the bad side (missed), at several
 * denominators; the minimum denominator; target.<indicator> overriding or
 * switching a default off; and the table of docs/INDICATORS.md §6 read
 * from the file, so that the page and the code cannot drift apart.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vg_agg.h"
#include "vg_config.h"

/* The defaults as docs/INDICATORS.md §6 gives them: per mille, so that
 * the edges below are exact integers. */
static const struct {
        const char *ind;
        int         permille;
        bool        higher_is_better;
} defaults[] = {
        {"readmission_30d", 100, false},
        {"sip_within_deadline", 900, true},
        {"spr.eol_conversation", 980, true},
        {"spr.pain_assessed", 1000, true},
        {"spr.oral_health_assessed", 900, true},
        {"spr.prn_opioid", 980, true},
        {"spr.prn_anxiolytic", 980, true},
        {"spr.pressure_ulcer_free", 900, true},
        {"register_coverage", 700, true},
};

static vg_conf_t *conf_new(void) {
        vg_conf_t *c = vg_conf_new();
        assert_non_null(c);
        return c;
}

static void conf_set(vg_conf_t *c, const char *key, const char *value) {
        char errstr[256];
        if (vg_conf_set(c, key, value, errstr, sizeof(errstr)))
                fail_msg("%s=%s: %s", key, value, errstr);
}

static void test_defaults_known(void **state) {
        vg_conf_t *c = conf_new();
        (void)state;
        for (size_t i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++) {
                vg_target_t t = vg_agg_target(c, defaults[i].ind);
                if (!t.tg_set)
                        fail_msg("%s: no default target", defaults[i].ind);
                assert_true(t.tg_higher_is_better ==
                            defaults[i].higher_is_better);
                assert_true(t.tg_target * 1000.0 > defaults[i].permille - 1e-6 &&
                            t.tg_target * 1000.0 < defaults[i].permille + 1e-6);
        }
        /* Indicators without a default, the register's others among them,
         * and names that only start like one. */
        {
                static const char *const none[] = {
                        "spr.symptoms_assessed", "spr.prn_antiemetic",
                        "spr.present_at_death", "spr.bereavement_offered",
                        "death_place.HOME", "sip_before_death",
                        "eol_admission_30d", "register_coverage.x", "spr.",
                        "spr.pain", "",
                };
                for (size_t i = 0; i < sizeof(none) / sizeof(none[0]); i++)
                        if (vg_agg_target(c, none[i]).tg_set)
                                fail_msg("'%s' has a default target",
                                         none[i]);
        }
        vg_conf_destroy(c);
}

/* Each default, at denominators 20 (the minimum), 50, 100, 1000 and
 * 10000: the value exactly at the target meets it; the next count towards
 * the bad side misses it; the next towards the good side meets it. */
static void test_each_side(void **state) {
        static const int64_t dens[] = {20, 50, 100, 1000, 10000};
        vg_conf_t *c = conf_new();
        int64_t min_den = vg_conf_int(c, "aggregate.min_denominator");
        (void)state;
        assert_int_equal(min_den, 20);
        for (size_t i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++) {
                vg_target_t t = vg_agg_target(c, defaults[i].ind);
                bool hib = defaults[i].higher_is_better;
                for (size_t k = 0; k < sizeof(dens) / sizeof(dens[0]); k++) {
                        int64_t den = dens[k];
                        /* The numerator at the target when it is whole,
                         * else the one just below the target. */
                        bool exact = den * defaults[i].permille % 1000 == 0;
                        int64_t at = den * defaults[i].permille / 1000;
                        int64_t worse, better;
                        if (exact) {
                                worse = hib ? at - 1 : at + 1;
                                better = hib ? at + 1 : at - 1;
                                if (vg_agg_breach(&t, at, den, min_den))
                                        fail_msg("%s: %lld/%lld is the "
                                                 "target and missed",
                                                 defaults[i].ind,
                                                 (long long)at,
                                                 (long long)den);
                        } else {
                                worse = hib ? at : at + 1;
                                better = hib ? at + 1 : at;
                        }
                        if (worse >= 0 && worse <= den &&
                            !vg_agg_breach(&t, worse, den, min_den))
                                fail_msg("%s: %lld/%lld is on the bad side "
                                         "and met", defaults[i].ind,
                                         (long long)worse, (long long)den);
                        if (better >= 0 && better <= den &&
                            vg_agg_breach(&t, better, den, min_den))
                                fail_msg("%s: %lld/%lld is on the good side "
                                         "and missed", defaults[i].ind,
                                         (long long)better, (long long)den);
                }
        }
        vg_conf_destroy(c);
}

/* The same edges spelt out, as docs/INDICATORS.md §6 words them. */
static void test_named_edges(void **state) {
        vg_conf_t *c = conf_new();
        vg_target_t t;
        (void)state;
        t = vg_agg_target(c, "register_coverage"); /* >= 70 % */
        assert_false(vg_agg_breach(&t, 70, 100, 20));
        assert_true(vg_agg_breach(&t, 69, 100, 20));
        assert_true(vg_agg_breach(&t, 6999, 10000, 20));
        assert_false(vg_agg_breach(&t, 7001, 10000, 20));
        assert_false(vg_agg_breach(&t, 14, 20, 20));
        assert_true(vg_agg_breach(&t, 13, 20, 20));
        t = vg_agg_target(c, "spr.pain_assessed"); /* >= 100 % */
        assert_false(vg_agg_breach(&t, 20, 20, 20));
        assert_true(vg_agg_breach(&t, 9999, 10000, 20)); /* one not YES */
        t = vg_agg_target(c, "spr.eol_conversation"); /* >= 98 % */
        assert_false(vg_agg_breach(&t, 49, 50, 20));
        assert_true(vg_agg_breach(&t, 48, 50, 20));
        assert_true(vg_agg_breach(&t, 979, 1000, 20));
        assert_false(vg_agg_breach(&t, 981, 1000, 20));
        t = vg_agg_target(c, "spr.prn_opioid");
        assert_false(vg_agg_breach(&t, 98, 100, 20));
        assert_true(vg_agg_breach(&t, 97, 100, 20));
        t = vg_agg_target(c, "spr.prn_anxiolytic");
        assert_false(vg_agg_breach(&t, 98, 100, 20));
        assert_true(vg_agg_breach(&t, 97, 100, 20));
        t = vg_agg_target(c, "spr.oral_health_assessed"); /* >= 90 % */
        assert_false(vg_agg_breach(&t, 18, 20, 20));
        assert_true(vg_agg_breach(&t, 17, 20, 20));
        assert_true(vg_agg_breach(&t, 899, 1000, 20));
        t = vg_agg_target(c, "spr.pressure_ulcer_free");
        assert_false(vg_agg_breach(&t, 90, 100, 20));
        assert_true(vg_agg_breach(&t, 89, 100, 20));
        t = vg_agg_target(c, "readmission_30d"); /* <= 10 % */
        assert_false(vg_agg_breach(&t, 10, 100, 20));
        assert_true(vg_agg_breach(&t, 11, 100, 20));
        assert_true(vg_agg_breach(&t, 101, 1000, 20));
        assert_false(vg_agg_breach(&t, 0, 20, 20));
        vg_conf_destroy(c);
}

/* Too few cases: no judgement either way (aggregate.min_denominator). */
static void test_min_denominator(void **state) {
        vg_conf_t *c = conf_new();
        vg_target_t t = vg_agg_target(c, "register_coverage");
        (void)state;
        assert_false(vg_agg_breach(&t, 0, 19, 20));
        assert_true(vg_agg_breach(&t, 0, 20, 20));
        assert_false(vg_agg_breach(&t, 0, 0, 0));
        t = vg_agg_target(c, "spr.pain_assessed");
        assert_false(vg_agg_breach(&t, 18, 19, 20));
        assert_true(vg_agg_breach(&t, 19, 20, 20));
        vg_conf_destroy(c);
}

/* target.<indicator> replaces a default, or switches it off. */
static void test_configured(void **state) {
        vg_conf_t *c = conf_new();
        vg_target_t t;
        (void)state;
        conf_set(c, "target.register_coverage", ">=0.8");
        conf_set(c, "target.spr.pain_assessed", "off");
        conf_set(c, "target.spr.pressure_ulcer_free", "<=0.5");
        t = vg_agg_target(c, "register_coverage");
        assert_true(t.tg_set && t.tg_higher_is_better);
        assert_true(vg_agg_breach(&t, 79, 100, 20)); /* met under 0.70 */
        assert_false(vg_agg_breach(&t, 80, 100, 20));
        t = vg_agg_target(c, "spr.pain_assessed");
        assert_false(t.tg_set);
        assert_false(vg_agg_breach(&t, 0, 100, 20));
        t = vg_agg_target(c, "spr.pressure_ulcer_free");
        assert_true(t.tg_set && !t.tg_higher_is_better);
        assert_true(vg_agg_breach(&t, 51, 100, 20));
        assert_false(vg_agg_breach(&t, 50, 100, 20));
        /* The others keep their defaults. */
        t = vg_agg_target(c, "spr.prn_opioid");
        assert_true(t.tg_set);
        assert_true(vg_agg_breach(&t, 97, 100, 20));
        vg_conf_destroy(c);
}

/* docs/INDICATORS.md §6's table: every row "| `IND` | ≥ 0.98 | ... |" is
 * what vg_agg_target gives, and every default of the code is a row. */
static void test_doc_table(void **state) {
        const char *path = VIGIL_TEST_DATA "/../../docs/INDICATORS.md";
        FILE *fp = fopen(path, "r");
        char line[1024];
        bool in_targets = false;
        size_t rows = 0;
        vg_conf_t *c = conf_new();
        (void)state;
        if (!fp)
                fail_msg("cannot open %s", path);
        while (fgets(line, sizeof(line), fp)) {
                char ind[128], op[8];
                double v;
                vg_target_t t;
                if (!strncmp(line, "## ", 3)) {
                        in_targets = strstr(line, "Targets") != NULL;
                        continue;
                }
                if (!in_targets ||
                    sscanf(line, "| `%127[^`]` | %7s %lf |", ind, op, &v) != 3)
                        continue;
                t = vg_agg_target(c, ind);
                if (!t.tg_set)
                        fail_msg("%s: documented target, none in the code",
                                 ind);
                if (strcmp(op, t.tg_higher_is_better ? "≥" : "≤") ||
                    t.tg_target != v)
                        fail_msg("%s: documented %s %.2f, code %s %.2f", ind,
                                 op, v, t.tg_higher_is_better ? "≥" : "≤",
                                 t.tg_target);
                rows++;
        }
        fclose(fp);
        assert_int_equal(rows, sizeof(defaults) / sizeof(defaults[0]));
        vg_conf_destroy(c);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_defaults_known),
                cmocka_unit_test(test_each_side),
                cmocka_unit_test(test_named_edges),
                cmocka_unit_test(test_min_denominator),
                cmocka_unit_test(test_configured),
                cmocka_unit_test(test_doc_table),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
