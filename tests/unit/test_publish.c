/*
 * test_publish.c - small-number protection (consumers/vg_publish.c, SPEC v2
 * §6.4): step 1 hides counts 1..min_count-1; step 2 hides further rows
 * until no relation (region/kommuner, SE/regions, all/breakdown dimension,
 * quarter/months, year/quarters, deaths/death_place.*) has exactly one
 * unknown; chains across relations; the fixed point does not depend on the
 * order of the rows.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vg_publish.h"

#define R(ind, area, period, bd, num, den)                                   \
        {ind, area, period, bd, num, den, true, VG_PUB_VISIBLE}
#define C(ind, area, period, bd, num)                                        \
        {ind, area, period, bd, num, 0, false, VG_PUB_VISIBLE}

static vg_pubstate_t state(const vg_pubrow_t *rows, size_t n, const char *ind,
                           const char *area, const char *period,
                           const char *bd) {
        for (size_t i = 0; i < n; i++)
                if (!strcmp(rows[i].pr_indicator, ind) &&
                    !strcmp(rows[i].pr_area, area) &&
                    !strcmp(rows[i].pr_period, period) &&
                    !strcmp(rows[i].pr_breakdown ? rows[i].pr_breakdown
                                                 : "all",
                            bd))
                        return rows[i].pr_state;
        fail_msg("no row %s %s %s %s", ind, area, period, bd);
        return VG_PUB_VISIBLE;
}

#define ST(rows, ind, area, period, bd)                                      \
        state(rows, VG_N(rows), ind, area, period, bd)
#define VG_N(a) (sizeof(a) / sizeof((a)[0]))

static size_t count_state(const vg_pubrow_t *rows, size_t n, vg_pubstate_t s) {
        size_t c = 0;
        for (size_t i = 0; i < n; i++)
                c += rows[i].pr_state == s;
        return c;
}

/* --- an independent, quadratic check of the outcome ------------------- */

static const char *bd(const vg_pubrow_t *r) {
        return r->pr_breakdown ? r->pr_breakdown : "all";
}

static bool is_digits(const char *s, size_t n) {
        if (strlen(s) != n)
                return false;
        for (size_t i = 0; i < n; i++)
                if (s[i] < '0' || s[i] > '9')
                        return false;
        return true;
}

/* Is p a part of total t in the relation of kind k ('A' area, 'B' the
 * dimension dim, 'P' period)? */
static bool part_of(const vg_pubrow_t *t, const vg_pubrow_t *p, char k,
                    const char *dim) {
        if (strcmp(t->pr_indicator, p->pr_indicator))
                return false;
        if (k == 'A') {
                if (strcmp(t->pr_period, p->pr_period) || strcmp(bd(t), bd(p)))
                        return false;
                if (!strcmp(t->pr_area, "SE"))
                        return is_digits(p->pr_area, 2);
                return is_digits(t->pr_area, 2) && is_digits(p->pr_area, 4) &&
                       !strncmp(t->pr_area, p->pr_area, 2);
        }
        if (k == 'B')
                return !strcmp(t->pr_area, p->pr_area) &&
                       !strcmp(t->pr_period, p->pr_period) &&
                       !strcmp(bd(t), "all") &&
                       !strncmp(bd(p), dim, strlen(dim)) &&
                       bd(p)[strlen(dim)] == ':';
        /* 'P': a quarter's months, a year's quarters */
        if (strcmp(t->pr_area, p->pr_area) || strcmp(bd(t), bd(p)))
                return false;
        if (strlen(t->pr_period) == 7 && t->pr_period[5] == 'Q') {
                int q = t->pr_period[6] - '0', m;
                if (strlen(p->pr_period) != 7 || p->pr_period[5] == 'Q' ||
                    strncmp(t->pr_period, p->pr_period, 4))
                        return false;
                m = atoi(p->pr_period + 5);
                return (m - 1) / 3 + 1 == q;
        }
        return strlen(t->pr_period) == 4 && strlen(p->pr_period) == 7 &&
               p->pr_period[5] == 'Q' &&
               !strncmp(t->pr_period, p->pr_period, 4);
}

/* Fails when some area, period or breakdown relation of rows has exactly
 * one unknown (a row whose state is not 0). */
static void assert_relations(const vg_pubrow_t *rows, size_t n) {
        static const char *const dims[] = {"age", "sex", "diagnosis",
                                           "residence"};
        for (size_t t = 0; t < n; t++) {
                for (int k = 0; k < 3 + 3; k++) {
                        char kind = k == 0 ? 'A' : k == 1 ? 'P' : 'B';
                        const char *dim = k >= 2 ? dims[k - 2] : "";
                        int parts = 0, unknown = rows[t].pr_state != 0;
                        for (size_t p = 0; p < n; p++)
                                if (p != t &&
                                    part_of(&rows[t], &rows[p], kind, dim)) {
                                        parts++;
                                        unknown += rows[p].pr_state != 0;
                                }
                        if (parts && unknown == 1)
                                fail_msg("relation %c%s of %s %s %s %s has "
                                         "one unknown", kind, dim,
                                         rows[t].pr_indicator,
                                         rows[t].pr_area, rows[t].pr_period,
                                         bd(&rows[t]));
                }
        }
}

/* The deaths of each area, period and breakdown that has death_place.*
 * or eol_* rows (their denominator is the deaths), as rows of one
 * indicator "deaths": unknown (state 1) when every one of those rows is
 * hidden (any visible one shows it), for the same relations; at most n. */
static size_t deaths_of(const vg_pubrow_t *rows, size_t n, vg_pubrow_t *d) {
        size_t nd = 0;
        for (size_t i = 0; i < n; i++) {
                size_t j;
                if (strncmp(rows[i].pr_indicator, "death_place.", 12) &&
                    strncmp(rows[i].pr_indicator, "eol_", 4))
                        continue;
                for (j = 0; j < nd; j++)
                        if (!strcmp(d[j].pr_area, rows[i].pr_area) &&
                            !strcmp(d[j].pr_period, rows[i].pr_period) &&
                            !strcmp(bd(&d[j]), bd(&rows[i])))
                                break;
                if (j == nd) {
                        d[nd] = rows[i];
                        d[nd].pr_indicator = "deaths";
                        d[nd++].pr_state = 1;
                }
                if (rows[i].pr_state == 0)
                        d[j].pr_state = 0;
        }
        /* a register_coverage row whose denominator is the deaths (every
         * register deadline passed) shows them too */
        for (size_t i = 0; i < n; i++) {
                if (strcmp(rows[i].pr_indicator, "register_coverage") ||
                    rows[i].pr_state != 0)
                        continue;
                for (size_t j = 0; j < nd; j++)
                        if (!strcmp(d[j].pr_area, rows[i].pr_area) &&
                            !strcmp(d[j].pr_period, rows[i].pr_period) &&
                            !strcmp(bd(&d[j]), bd(&rows[i])) &&
                            d[j].pr_den == rows[i].pr_den)
                                d[j].pr_state = 0;
        }
        return nd;
}

/* Fails when some relation has exactly one unknown: of the rows, of the
 * deaths they show, or of the deaths and their eight death_place.*
 * numerators. */
static void assert_safe(const vg_pubrow_t *rows, size_t n) {
        vg_pubrow_t *d = calloc(n + 1, sizeof(*d));
        assert_non_null(d);
        assert_relations(rows, n);
        assert_relations(d, deaths_of(rows, n, d));
        free(d);
        for (size_t t = 0; t < n; t++) {
                /* the deaths of this row's area/period/breakdown */
                if (!strncmp(rows[t].pr_indicator, "death_place.", 12)) {
                        int unknown = 0;
                        for (size_t p = 0; p < n; p++)
                                if (!strncmp(rows[p].pr_indicator,
                                             "death_place.", 12) &&
                                    !strcmp(rows[p].pr_area,
                                            rows[t].pr_area) &&
                                    !strcmp(rows[p].pr_period,
                                            rows[t].pr_period) &&
                                    !strcmp(bd(&rows[p]), bd(&rows[t])))
                                        unknown += rows[p].pr_state != 0;
                        if (unknown == 1)
                                fail_msg("death_place of %s %s %s has one "
                                         "unknown", rows[t].pr_area,
                                         rows[t].pr_period, bd(&rows[t]));
                }
        }
}

/* --- step 1 ----------------------------------------------------------- */

static void test_small(void **st) {
        vg_pubrow_t rows[] = {
                R("readmission_30d", "0484", "2026-03", "all", 0, 30),
                R("readmission_30d", "0480", "2026-03", "all", 4, 30),
                R("readmission_30d", "0481", "2026-03", "all", 5, 5),
                R("readmission_30d", "0482", "2026-03", "all", 0, 4),
                C("ssih_enrolment.85+.CANCER", "0484", "2026-03", "all", 3),
                C("ssih_enrolment.85+.CANCER", "0480", "2026-03", "all", 5),
        };
        vg_pubstats_t ps;
        (void)st;
        assert_int_equal(vg_publish_suppress(rows, VG_N(rows), 5, &ps), 0);
        assert_int_equal(rows[0].pr_state, VG_PUB_VISIBLE); /* 0 is not small */
        assert_int_equal(rows[1].pr_state, VG_PUB_SMALL);
        assert_int_equal(rows[2].pr_state, VG_PUB_VISIBLE);
        assert_int_equal(rows[3].pr_state, VG_PUB_SMALL); /* denominator */
        assert_int_equal(rows[4].pr_state, VG_PUB_SMALL); /* count */
        assert_int_equal(rows[5].pr_state, VG_PUB_VISIBLE);
        assert_int_equal(ps.ps_rows, 6);
        assert_int_equal(ps.ps_small, 3);
        assert_int_equal(ps.ps_complement, 0);

        /* publish.min_count 1 hides nothing; 6 hides 5 too */
        vg_publish_suppress(rows, VG_N(rows), 1, &ps);
        assert_int_equal(count_state(rows, VG_N(rows), VG_PUB_VISIBLE), 6);
        vg_publish_suppress(rows, VG_N(rows), 6, NULL);
        assert_int_equal(rows[2].pr_state, VG_PUB_SMALL);
        assert_int_equal(rows[5].pr_state, VG_PUB_SMALL);
}

/* --- each relation ---------------------------------------------------- */

/* A region and its kommuner: one small kommun, region visible -> the
 * smallest other kommun (by denominator) is hidden too. */
static void test_region_kommuner(void **st) {
        vg_pubrow_t rows[] = {
                R("readmission_30d", "04", "2026-03", "all", 20, 100),
                R("readmission_30d", "0480", "2026-03", "all", 2, 30),
                R("readmission_30d", "0481", "2026-03", "all", 10, 40),
                R("readmission_30d", "0482", "2026-03", "all", 8, 30),
                /* another region: two small kommuner, nothing more */
                R("readmission_30d", "06", "2026-03", "all", 10, 60),
                R("readmission_30d", "0604", "2026-03", "all", 2, 20),
                R("readmission_30d", "0617", "2026-03", "all", 3, 20),
                R("readmission_30d", "0680", "2026-03", "all", 5, 20),
        };
        (void)st;
        vg_publish_suppress(rows, VG_N(rows), 5, NULL);
        assert_int_equal(rows[1].pr_state, VG_PUB_SMALL);
        assert_int_equal(rows[3].pr_state, VG_PUB_COMPLEMENT);
        assert_int_equal(rows[2].pr_state, VG_PUB_VISIBLE);
        assert_int_equal(rows[0].pr_state, VG_PUB_VISIBLE);
        assert_int_equal(rows[5].pr_state, VG_PUB_SMALL);
        assert_int_equal(rows[6].pr_state, VG_PUB_SMALL);
        assert_int_equal(rows[7].pr_state, VG_PUB_VISIBLE);
        assert_int_equal(rows[4].pr_state, VG_PUB_VISIBLE);
        assert_safe(rows, VG_N(rows));
}

/* SE and the regions: a region hidden -> another region hidden. A hidden
 * total whose parts are all visible -> a part hidden. */
static void test_se_regions(void **st) {
        vg_pubrow_t rows[] = {
                R("sip_before_death", "SE", "2026-03", "all", 40, 80),
                R("sip_before_death", "04", "2026-03", "all", 3, 20),
                R("sip_before_death", "06", "2026-03", "all", 20, 30),
                R("sip_before_death", "18", "2026-03", "all", 17, 30),
                /* a total small by itself (made up: not the sum of its
                 * parts), its parts all visible: one of them is hidden */
                R("eol_admission_30d", "SE", "2026-03", "all", 4, 80),
                R("eol_admission_30d", "04", "2026-03", "all", 0, 40),
                R("eol_admission_30d", "06", "2026-03", "all", 0, 40),
        };
        (void)st;
        vg_publish_suppress(rows, VG_N(rows), 5, NULL);
        assert_int_equal(rows[1].pr_state, VG_PUB_SMALL);
        /* 06 and 18 tie on 30; 06 has the larger numerator */
        assert_int_equal(rows[3].pr_state, VG_PUB_COMPLEMENT);
        assert_int_equal(rows[2].pr_state, VG_PUB_VISIBLE);
        assert_int_equal(rows[0].pr_state, VG_PUB_VISIBLE);
        assert_int_equal(rows[4].pr_state, VG_PUB_SMALL);
        /* a tie on everything: the first by key (area 04) */
        assert_int_equal(rows[5].pr_state, VG_PUB_COMPLEMENT);
        assert_int_equal(rows[6].pr_state, VG_PUB_VISIBLE);
        assert_safe(rows, VG_N(rows));
}

/* 'all' and one dimension: each dimension on its own. */
static void test_breakdown(void **st) {
        vg_pubrow_t rows[] = {
                R("readmission_30d", "0484", "2026-03", "all", 12, 60),
                R("readmission_30d", "0484", "2026-03", "age:0-64", 1, 10),
                R("readmission_30d", "0484", "2026-03", "age:65-74", 3, 20),
                R("readmission_30d", "0484", "2026-03", "age:85+", 8, 30),
                R("readmission_30d", "0484", "2026-03", "sex:FEMALE", 6, 30),
                R("readmission_30d", "0484", "2026-03", "sex:MALE", 6, 30),
                R("readmission_30d", "0484", "2026-03", "diagnosis:CANCER", 2,
                  30),
                R("readmission_30d", "0484", "2026-03", "diagnosis:OTHER", 10,
                  25),
                R("readmission_30d", "0484", "2026-03", "diagnosis:unknown",
                  0, 5),
        };
        (void)st;
        vg_publish_suppress(rows, VG_N(rows), 5, NULL);
        /* age: two small, nothing more */
        assert_int_equal(ST(rows, "readmission_30d", "0484", "2026-03",
                            "age:85+"), VG_PUB_VISIBLE);
        /* sex: untouched */
        assert_int_equal(rows[4].pr_state, VG_PUB_VISIBLE);
        assert_int_equal(rows[5].pr_state, VG_PUB_VISIBLE);
        /* diagnosis: CANCER small; the smallest other (unknown, 5) hidden */
        assert_int_equal(rows[6].pr_state, VG_PUB_SMALL);
        assert_int_equal(rows[8].pr_state, VG_PUB_COMPLEMENT);
        assert_int_equal(rows[7].pr_state, VG_PUB_VISIBLE);
        assert_int_equal(rows[0].pr_state, VG_PUB_VISIBLE);
        assert_safe(rows, VG_N(rows));
}

/* A quarter and its months; a year and its quarters. */
static void test_periods(void **st) {
        vg_pubrow_t rows[] = {
                R("register_coverage", "0484", "2026-01", "all", 10, 12),
                R("register_coverage", "0484", "2026-02", "all", 2, 8),
                R("register_coverage", "0484", "2026-03", "all", 9, 10),
                R("register_coverage", "0484", "2026-Q1", "all", 21, 30),
                R("register_coverage", "0484", "2026-04", "all", 9, 10),
                R("register_coverage", "0484", "2026-Q2", "all", 9, 10),
                R("register_coverage", "0484", "2026-07", "all", 3, 10),
                R("register_coverage", "0484", "2026-Q3", "all", 3, 10),
                R("register_coverage", "0484", "2026", "all", 33, 50),
        };
        (void)st;
        vg_publish_suppress(rows, VG_N(rows), 5, NULL);
        /* Q1: February small, March (10 < 12) hidden with it */
        assert_int_equal(rows[1].pr_state, VG_PUB_SMALL);
        assert_int_equal(rows[2].pr_state, VG_PUB_COMPLEMENT);
        assert_int_equal(rows[0].pr_state, VG_PUB_VISIBLE);
        assert_int_equal(rows[3].pr_state, VG_PUB_VISIBLE);
        /* Q3 (= July) small by itself; the year then has one hidden
         * quarter: Q2, the smallest, hidden; Q2 has one month, April,
         * which is then its sum: hidden too (the chain) */
        assert_int_equal(rows[6].pr_state, VG_PUB_SMALL);
        assert_int_equal(rows[7].pr_state, VG_PUB_SMALL);
        assert_int_equal(rows[5].pr_state, VG_PUB_COMPLEMENT);
        assert_int_equal(rows[4].pr_state, VG_PUB_COMPLEMENT);
        assert_int_equal(rows[8].pr_state, VG_PUB_VISIBLE);
        assert_safe(rows, VG_N(rows));
}

/* The deaths and the eight death_place.* numerators (docs/INDICATORS.md
 * §7's example). */
static void test_death_place(void **st) {
        static const char *const places[] = {
                "death_place.HOSPITAL", "death_place.NURSING_HOME",
                "death_place.HOME", "death_place.HOME_WITH_SSIH",
                "death_place.SHORT_TERM_CARE", "death_place.HOSPICE",
                "death_place.OTHER", "death_place.UNKNOWN"};
        const int64_t two_small[8] = {9, 8, 2, 4, 0, 0, 0, 0};
        const int64_t one_small[8] = {9, 8, 2, 5, 0, 0, 0, 0};
        vg_pubrow_t rows[8];
        (void)st;
        for (int i = 0; i < 8; i++)
                rows[i] = (vg_pubrow_t)R(places[i], "0484", "2026-03", "all",
                                         two_small[i], 23);
        vg_publish_suppress(rows, 8, 5, NULL);
        assert_int_equal(count_state(rows, 8, VG_PUB_SMALL), 2);
        assert_int_equal(count_state(rows, 8, VG_PUB_COMPLEMENT), 0);
        assert_int_equal(rows[2].pr_state, VG_PUB_SMALL);
        assert_int_equal(rows[3].pr_state, VG_PUB_SMALL);

        /* HOME alone small: 24 - 9 - 8 - 5 = 2; the smallest non-zero
         * place (HOME_WITH_SSIH, 5) is hidden, not a zero one */
        for (int i = 0; i < 8; i++)
                rows[i] = (vg_pubrow_t)R(places[i], "0484", "2026-03", "all",
                                         one_small[i], 24);
        vg_publish_suppress(rows, 8, 5, NULL);
        assert_int_equal(rows[2].pr_state, VG_PUB_SMALL);
        assert_int_equal(rows[3].pr_state, VG_PUB_COMPLEMENT);
        assert_int_equal(count_state(rows, 8, VG_PUB_VISIBLE), 6);
        assert_safe(rows, 8);

        /* HOME small beside HOSPITAL and zeros: HOSPITAL, the one other
         * non-zero place, is hidden rather than a zero one (which would
         * leave HOME + it = 3) */
        for (int i = 0; i < 8; i++)
                rows[i] = (vg_pubrow_t)R(places[i], "0484", "2026-03", "all",
                                         i == 0 ? 20 : i == 2 ? 3 : 0, 23);
        vg_publish_suppress(rows, 8, 5, NULL);
        assert_int_equal(rows[2].pr_state, VG_PUB_SMALL);
        assert_int_equal(count_state(rows, 8, VG_PUB_COMPLEMENT), 1);
        assert_int_equal(rows[0].pr_state, VG_PUB_COMPLEMENT);
        assert_safe(rows, 8);
}

/* --- a chain across relations, and the fixed point ------------------- */

/* One small breakdown row in a kommun (0480 FEMALE) hides another: 0480
 * MALE (breakdown relation) or 0481 FEMALE (area relation); each of those
 * leaves one unknown in a relation the other way, and so on: in the end all
 * four kommun rows by sex are hidden, over more than one pass. */
static vg_pubrow_t chain_rows[] = {
        R("readmission_30d", "04", "2026-03", "all", 40, 200),
        R("readmission_30d", "04", "2026-03", "sex:FEMALE", 20, 100),
        R("readmission_30d", "04", "2026-03", "sex:MALE", 20, 100),
        R("readmission_30d", "0480", "2026-03", "all", 20, 100),
        R("readmission_30d", "0480", "2026-03", "sex:FEMALE", 3, 40),
        R("readmission_30d", "0480", "2026-03", "sex:MALE", 17, 60),
        R("readmission_30d", "0481", "2026-03", "all", 20, 100),
        R("readmission_30d", "0481", "2026-03", "sex:FEMALE", 10, 50),
        R("readmission_30d", "0481", "2026-03", "sex:MALE", 10, 50),
        R("readmission_30d", "SE", "2026-03", "all", 60, 300),
        R("readmission_30d", "SE", "2026-03", "sex:FEMALE", 30, 150),
        R("readmission_30d", "SE", "2026-03", "sex:MALE", 30, 150),
        R("readmission_30d", "06", "2026-03", "all", 20, 100),
        R("readmission_30d", "06", "2026-03", "sex:FEMALE", 10, 50),
        R("readmission_30d", "06", "2026-03", "sex:MALE", 10, 50),
};

/* The deaths are one denominator of the eight death_place.* rows: one
 * hidden in all of them must not be the deaths of its total less those
 * shown in any of them (the attack's Flen 2025: heart-failure deaths 2 =
 * 13 - 6 cancer - 5 dementia, the two shown in different indicators' rows
 * while each indicator's own relation had two unknowns or hid another
 * part). Deaths by diagnosis 13 = 6 + 5 + 2; HOME and HOSPITAL only. */
static void test_death_place_deaths(void **st) {
        static const char *const places[] = {
                "death_place.HOSPITAL", "death_place.NURSING_HOME",
                "death_place.HOME", "death_place.HOME_WITH_SSIH",
                "death_place.SHORT_TERM_CARE", "death_place.HOSPICE",
                "death_place.OTHER", "death_place.UNKNOWN"};
        static const char *const bds[] = {"all", "diagnosis:CANCER",
                                          "diagnosis:DEMENTIA",
                                          "diagnosis:HEART_FAILURE"};
        const int64_t den[4] = {13, 6, 5, 2};
        const int64_t hosp[4] = {7, 5, 0, 2}, home[4] = {6, 1, 5, 0};
        /* eol_admission_30d shows the deaths too: its dementia row (0/5)
         * stays visible by its own relations (cancer 1/6 hidden) */
        const int64_t eol[4] = {1, 1, 0, 0};
        vg_pubrow_t rows[40];
        size_t n = 0;
        (void)st;
        for (int i = 0; i < 8; i++)
                for (int b = 0; b < 4; b++)
                        rows[n++] = (vg_pubrow_t)R(
                                places[i], "0482", "2025", bds[b],
                                i == 0 ? hosp[b] : i == 2 ? home[b] : 0,
                                den[b]);
        for (int b = 0; b < 4; b++)
                rows[n++] = (vg_pubrow_t)R("eol_admission_30d", "0482",
                                           "2025", bds[b], eol[b], den[b]);
        /* and register_coverage, every deadline passed: the deaths again
         * (its cancer row 6/6 visible by its own relations) */
        for (int b = 0; b < 4; b++)
                rows[n++] = (vg_pubrow_t)R("register_coverage", "0482",
                                           "2025", bds[b], den[b], den[b]);
        vg_publish_suppress(rows, n, 5, NULL);
        assert_safe(rows, n);
        /* heart failure (2) in all eight; and with it another diagnosis
         * in all eight: a second unknown death count */
        {
                vg_pubrow_t d[40];
                size_t nd = deaths_of(rows, n, d), unknown = 0;
                assert_int_equal(nd, 4);
                for (size_t i = 0; i < nd; i++)
                        unknown += d[i].pr_state != 0;
                assert_int_equal(unknown, 2);
                assert_int_equal(d[0].pr_state, 0); /* all: 13 shown */
        }
}

static void test_chain(void **st) {
        vg_pubrow_t *rows = chain_rows;
        size_t n = VG_N(chain_rows);
        vg_pubstats_t ps;
        (void)st;
        vg_publish_suppress(rows, n, 5, &ps);
        assert_int_equal(rows[4].pr_state, VG_PUB_SMALL);
        assert_int_equal(rows[5].pr_state, VG_PUB_COMPLEMENT);
        assert_int_equal(rows[7].pr_state, VG_PUB_COMPLEMENT);
        assert_int_equal(rows[8].pr_state, VG_PUB_COMPLEMENT);
        /* the totals stay: region 04 by sex has two unknowns each way */
        assert_int_equal(rows[1].pr_state, VG_PUB_VISIBLE);
        assert_int_equal(rows[2].pr_state, VG_PUB_VISIBLE);
        assert_int_equal(rows[3].pr_state, VG_PUB_VISIBLE);
        assert_int_equal(rows[6].pr_state, VG_PUB_VISIBLE);
        assert_int_equal(ps.ps_small, 1);
        assert_int_equal(ps.ps_complement, 3);
        assert_true(ps.ps_passes >= 2);
        assert_safe(rows, n);
}

/* A longer chain: hiding a quarter's only month hides the quarter; the
 * quarter then is the one hidden kommun of its region. */
static void test_chain_periods(void **st) {
        vg_pubrow_t rows[] = {
                /* breakdown: age:85+ of 0480 in January is small, the other
                 * band (65-74) hidden with it */
                R("readmission_30d", "0480", "2026-01", "all", 10, 50),
                R("readmission_30d", "0480", "2026-01", "age:65-74", 8, 46),
                R("readmission_30d", "0480", "2026-01", "age:85+", 2, 4),
                /* the quarter has only January: its rows are January's */
                R("readmission_30d", "0480", "2026-Q1", "all", 10, 50),
                R("readmission_30d", "0480", "2026-Q1", "age:65-74", 8, 46),
                R("readmission_30d", "0480", "2026-Q1", "age:85+", 2, 4),
                /* region 04 in Q1, age:65-74: 0480 and 0481 */
                R("readmission_30d", "0481", "2026-Q1", "age:65-74", 9, 54),
                R("readmission_30d", "04", "2026-Q1", "age:65-74", 17, 100),
        };
        (void)st;
        vg_publish_suppress(rows, VG_N(rows), 5, NULL);
        assert_int_equal(rows[2].pr_state, VG_PUB_SMALL);
        assert_int_equal(rows[5].pr_state, VG_PUB_SMALL);
        assert_int_equal(rows[1].pr_state, VG_PUB_COMPLEMENT);
        assert_int_equal(rows[4].pr_state, VG_PUB_COMPLEMENT);
        /* and so the other kommun of the region */
        assert_int_equal(rows[6].pr_state, VG_PUB_COMPLEMENT);
        assert_int_equal(rows[7].pr_state, VG_PUB_VISIBLE);
        assert_int_equal(rows[0].pr_state, VG_PUB_VISIBLE);
        assert_int_equal(rows[3].pr_state, VG_PUB_VISIBLE);
        assert_safe(rows, VG_N(rows));
}

/* A total with a single part, the part hidden: the total goes too. */
static void test_total_hidden(void **st) {
        vg_pubrow_t rows[] = {
                R("readmission_30d", "0480", "2026-01", "all", 10, 50),
                R("readmission_30d", "0480", "2026-01", "sex:FEMALE", 2, 20),
                R("readmission_30d", "0480", "2026-01", "sex:MALE", 8, 30),
                /* the quarter has only January; its sex:MALE row not hidden
                 * by the breakdown relation of the quarter alone */
                R("readmission_30d", "0480", "2026-Q1", "sex:MALE", 8, 30),
        };
        (void)st;
        vg_publish_suppress(rows, VG_N(rows), 5, NULL);
        assert_int_equal(rows[1].pr_state, VG_PUB_SMALL);
        assert_int_equal(rows[2].pr_state, VG_PUB_COMPLEMENT);
        assert_int_equal(rows[3].pr_state, VG_PUB_COMPLEMENT);
        assert_int_equal(rows[0].pr_state, VG_PUB_VISIBLE);
        assert_safe(rows, VG_N(rows));
}

/* Random populations: the fixed point is safe, a second run changes
 * nothing, and shuffling the rows gives the same states. */
static uint64_t rng = 88172645463325252ULL;
static uint64_t next(void) {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        return rng;
}

static void test_fixed_point(void **st) {
        static const char *const areas[] = {"SE", "04", "0480", "0481",
                                            "0482", "06", "0680", "0604"};
        static const char *const periods[] = {"2026-01", "2026-02",
                                              "2026-03", "2026-Q1", "2026"};
        static const char *const bds[] = {"all", "sex:FEMALE", "sex:MALE",
                                          "age:0-64", "age:85+"};
        static const char *const inds[] = {"readmission_30d",
                                           "death_place.HOME",
                                           "death_place.HOSPITAL",
                                           "death_place.OTHER"};
        enum { N = 4 * 8 * 5 * 5 };
        static vg_pubrow_t rows[N], copy[N];
        (void)st;
        for (int round = 0; round < 30; round++) {
                size_t n = 0;
                /* the death_place.* rows of a cell share their denominator
                 * and exist together (SPEC §6) */
                for (size_t a = 0; a < VG_N(areas); a++)
                        for (size_t p = 0; p < VG_N(periods); p++)
                                for (size_t b = 0; b < VG_N(bds); b++) {
                                        int64_t dd = 1 + (int64_t)(next() % 40);
                                        bool deaths = next() % 6 != 0;
                                        for (size_t i = 0; i < VG_N(inds);
                                             i++) {
                                                bool dp = i > 0;
                                                int64_t den =
                                                        dp ? dd
                                                           : 1 + (int64_t)(next() % 40);
                                                if (dp ? !deaths
                                                       : next() % 6 == 0)
                                                        continue;
                                                rows[n++] = (vg_pubrow_t)R(
                                                        inds[i], areas[a],
                                                        periods[p], bds[b],
                                                        (int64_t)(next() %
                                                                  (den + 1)),
                                                        den);
                                        }
                                }
                vg_publish_suppress(rows, n, 5, NULL);
                assert_safe(rows, n);
                memcpy(copy, rows, n * sizeof(*rows));
                /* shuffle, suppress again, compare by key */
                for (size_t i = n - 1; i > 0; i--) {
                        size_t j = next() % (i + 1);
                        vg_pubrow_t t = rows[i];
                        rows[i] = rows[j];
                        rows[j] = t;
                }
                vg_publish_suppress(rows, n, 5, NULL);
                for (size_t i = 0; i < n; i++)
                        assert_int_equal(
                                copy[i].pr_state,
                                state(rows, n, copy[i].pr_indicator,
                                      copy[i].pr_area, copy[i].pr_period,
                                      copy[i].pr_breakdown));
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_small),
                cmocka_unit_test(test_region_kommuner),
                cmocka_unit_test(test_se_regions),
                cmocka_unit_test(test_breakdown),
                cmocka_unit_test(test_periods),
                cmocka_unit_test(test_death_place),
                cmocka_unit_test(test_chain),
                cmocka_unit_test(test_death_place_deaths),
                cmocka_unit_test(test_chain_periods),
                cmocka_unit_test(test_total_hidden),
                cmocka_unit_test(test_fixed_point),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
