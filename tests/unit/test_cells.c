/*
 * test_cells.c - a partition's counters in memory (vg_cells.h). A cell
 * keeps no key of its own, so these check what is made of it: the cells a
 * case adds to are vg_rules_case_cells()'s, with their keys, its region's
 * and SE's once settled (as if added at once, from cells loaded or not,
 * also after a clear in between);
 * every stored key loads and reads back as it was, those of other forms
 * kept whole; and the cells come out sorted exactly as strcmp orders their
 * keys, also where one base is a prefix of another ("i|01|2026" and
 * "i|01|2026-05") and for bytes below '|' and above 0x7f; a case near the
 * length limit makes only keys that fit, or is refused.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vg_cells.h"
#include "vg_rules.h"

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint32_t rnd(uint32_t n) {
        rng_state ^= rng_state << 13;
        rng_state ^= rng_state >> 7;
        rng_state ^= rng_state << 17;
        return (uint32_t)(rng_state % n);
}

static const char *pick(const char *const *v, size_t n) {
        return v[rnd((uint32_t)n)];
}
#define PICK(v) pick(v, sizeof(v) / sizeof(v[0]))

static void test_case_cells(void **st) {
        static const char *const inds[] = {"readmission_30d",
                                           "death_place.HOME", "sip_x"};
        static const char *const kommuner[] = {"0180", "1283", "2584"};
        static const char *const periods[] = {"2026-01", "2026", "2026-Q2"};
        static const char *const ages[] = {"0-64", "85+", "-"};
        static const char *const sexes[] = {"MALE", "FEMALE", "-"};
        static const char *const diags[] = {"CANCER", "KIDNEY_FAILURE", "-",
                                            "a-much-longer-diagnosis-group"};
        static const char *const res[] = {"ORDINARY_HOME", "-", "NURSING"};
        (void)st;
        for (int round = 0; round < 500; round++) {
                char ckey[VG_CASE_KEY_MAX];
                char want[VG_CASE_CELLS][VG_CASE_KEY_MAX];
                char got[VG_CASE_KEY_MAX];
                vg_cells_t cs;
                int n;
                snprintf(ckey, sizeof(ckey), "%s|%s|%s|%s|%s|%s|%s",
                         PICK(inds), PICK(kommuner), PICK(periods), PICK(ages),
                         PICK(sexes), PICK(diags), PICK(res));
                n = vg_rules_case_cells(ckey, want);
                assert_true(n > 0);
                vg_cells_init(&cs);
                assert_int_equal(vg_cells_add_case(&cs, ckey, 1, 2, false), 0);
                assert_int_equal(vg_cells_add_case(&cs, ckey, 1, 0, false), 0);
                /* (the kommun's cells now, its region's and SE's at the
                 * settle; made in that order) */
                assert_int_equal(cs.cs_nall, (size_t)n / 3);
                vg_cells_settle(&cs);
                assert_int_equal(cs.cs_nall, (size_t)n);
                assert_int_equal(cs.cs_ndirty, (size_t)n);
                for (int i = 0; i < n; i++) { /* (each once) */
                        const vg_counter_t *c = vg_cells_at(&cs, (size_t)i);
                        int j = 0;
                        assert_true(vg_cells_key(c, got) < VG_CASE_KEY_MAX);
                        while (j < n && strcmp(want[j], got))
                                j++;
                        assert_true(j < n);
                        want[j][0] = '\0';
                        assert_int_equal(c->cl_num, 2);
                        assert_int_equal(c->cl_den, 2);
                        assert_true(c->cl_dirty);
                }
                vg_cells_free(&cs);
        }
}

/* A random key: a base of 1-5 fields (each a few characters from a set
 * with '-', ' ', '|'-free bytes below and above it, and UTF-8), then maybe
 * a breakdown "dim:value" or a field that is not one. */
static void rand_key(char *k, size_t size) {
        static const char *const parts[] = {
                "i", "ind", "i2", "01", "0180", "SE", "2026", "2026-05",
                "2026-0", "-", " ", "a b", "\xc3\xa5", "~", "x", "09"};
        static const char *const dims[] = {"age:", "sex:", "diagnosis:",
                                           "residence:", "other:", ""};
        size_t n = 0;
        int fields = 3 + (int)rnd(3);
        if (rnd(8) == 0)
                fields -= 2;
        for (int f = 0; f < fields; f++)
                n += (size_t)snprintf(k + n, size - n, "%s%s", f ? "|" : "",
                                      PICK(parts));
        if (fields == 3 && rnd(3)) {
                n += (size_t)snprintf(k + n, size - n, "|%s%s", PICK(dims),
                                      PICK(parts));
                if (rnd(4) == 0)
                        n += (size_t)snprintf(k + n, size - n, "%s",
                                              PICK(parts));
        }
}

static int str_cmp(const void *a, const void *b) {
        return strcmp(*(char *const *)a, *(char *const *)b);
}

static void test_sorted_like_strcmp(void **st) {
        enum { N = 3000 };
        (void)st;
        for (int round = 0; round < 20; round++) {
                char *keys[N];
                size_t nk = 0;
                vg_cells_t cs;
                vg_counter_t **all;
                size_t n;
                vg_cells_init(&cs);
                for (int i = 0; i < N; i++) {
                        char k[VG_CASE_KEY_MAX];
                        rand_key(k, sizeof(k));
                        keys[nk++] = strdup(k);
                        vg_cells_load(&cs, k, i, -i, i % 2, i % 3 == 0);
                }
                qsort(keys, nk, sizeof(*keys), str_cmp);
                {
                        size_t w = 0; /* (distinct keys) */
                        for (size_t i = 0; i < nk; i++) {
                                if (w && !strcmp(keys[w - 1], keys[i])) {
                                        free(keys[i]);
                                        continue;
                                }
                                keys[w++] = keys[i];
                        }
                        nk = w;
                }
                n = vg_cells_sorted(&cs, &all);
                assert_int_equal(n, nk);
                for (size_t i = 0; i < n; i++) {
                        char got[VG_CASE_KEY_MAX];
                        vg_cells_key(all[i], got);
                        assert_string_equal(got, keys[i]);
                }
                free(all);
                /* The pending list (every third key loaded pending, and
                 * now all of them) sorts the same way. */
                for (size_t i = 0; i < cs.cs_nall; i++)
                        vg_cells_mark_pending(&cs, vg_cells_at(&cs, i));
                assert_int_equal(cs.cs_npending, nk);
                vg_cells_sort_pending(&cs);
                for (size_t i = 0; i < cs.cs_npending; i++) {
                        char got[VG_CASE_KEY_MAX];
                        vg_cells_key(cs.cs_pending[i], got);
                        assert_string_equal(got, keys[i]);
                }
                vg_cells_parts_done(&cs);
                assert_int_equal(cs.cs_npending, 0);
                for (size_t i = 0; i < nk; i++)
                        free(keys[i]);
                vg_cells_free(&cs);
        }
}

/* Loading a key again sets that cell, not a new one; the values are the
 * last ones loaded; a key as long as the limit is left out. */
static void test_load_again(void **st) {
        vg_cells_t cs;
        char k[VG_CASE_KEY_MAX + 8], got[VG_CASE_KEY_MAX];
        (void)st;
        vg_cells_init(&cs);
        vg_cells_load(&cs, "i|01|2026-05|age:85+", 1, 2, false, false);
        vg_cells_load(&cs, "i|01|2026-05", 3, 4, false, false);
        vg_cells_load(&cs, "i|01|2026-05|age:85+", 5, 6, true, true);
        assert_int_equal(cs.cs_nall, 2);
        assert_int_equal(vg_cells_at(&cs, 0)->cl_num, 5);
        assert_int_equal(vg_cells_at(&cs, 0)->cl_den, 6);
        assert_true(vg_cells_at(&cs, 0)->cl_count);
        assert_int_equal(cs.cs_npending, 1);
        vg_cells_key(vg_cells_at(&cs, 1), got);
        assert_string_equal(got, "i|01|2026-05");
        memset(k, 'x', VG_CASE_KEY_MAX);
        k[VG_CASE_KEY_MAX] = '\0';
        vg_cells_load(&cs, k, 1, 1, false, false);
        assert_int_equal(cs.cs_nall, 2);
        k[VG_CASE_KEY_MAX - 1] = '\0'; /* (the longest kept) */
        vg_cells_load(&cs, k, 1, 1, false, false);
        assert_int_equal(cs.cs_nall, 3);
        assert_int_equal(vg_cells_key(vg_cells_at(&cs, 2), got),
                         VG_CASE_KEY_MAX - 1);
        vg_cells_free(&cs);
}

/* Cases near the length limit: every key a case makes is shorter than
 * VG_CASE_KEY_MAX, or the case is refused and nothing changes; also with
 * no breakdown at all (only the bases), and with a 1-character kommun,
 * whose region "N0" is longer. Breakdown values of one length that share
 * their first 8 bytes are different cells. */
static void test_limits(void **st) {
        char ind[VG_CASE_KEY_MAX], ckey[3 * VG_CASE_KEY_MAX];
        char got[VG_CASE_KEY_MAX];
        (void)st;
        for (size_t il = 90; il < 125; il++) {
                for (int form = 0; form < 3; form++) {
                        vg_cells_t cs;
                        int rc;
                        memset(ind, 'i', il);
                        ind[il] = '\0';
                        snprintf(ckey, sizeof(ckey), "%s|%s|2026-05|%s", ind,
                                 form == 1 ? "1" : "0180",
                                 form == 2 ? "85+|MALE|-|-" : "-|-|-|-");
                        vg_cells_init(&cs);
                        rc = vg_cells_add_case(&cs, ckey, 1, 1, false);
                        vg_cells_settle(&cs);
                        if (rc) {
                                assert_int_equal(rc, -1);
                                assert_int_equal(cs.cs_nall, 0);
                        } else {
                                assert_true(cs.cs_nall >= 3);
                                for (size_t i = 0; i < cs.cs_nall; i++)
                                        assert_true(vg_cells_key(
                                                vg_cells_at(&cs, i), got) <
                                                    VG_CASE_KEY_MAX);
                        }
                        /* (the shortest are always taken) */
                        if (il == 90)
                                assert_int_equal(rc, 0);
                        vg_cells_free(&cs);
                }
        }
        {
                vg_cells_t cs;
                vg_cells_init(&cs);
                assert_int_equal(vg_cells_add_case(&cs, "i|0180|2026|-|-|"
                                                   "KIDNEY_A1|-", 1, 0, true),
                                 0);
                assert_int_equal(vg_cells_add_case(&cs, "i|0180|2026|-|-|"
                                                   "KIDNEY_A2|-", 1, 0, true),
                                 0);
                vg_cells_settle(&cs);
                assert_int_equal(cs.cs_nall, 9); /* 3 bases, 3 x 2 values */
                assert_int_equal(vg_cells_at(&cs, 0)->cl_num, 2);
                assert_int_equal(vg_cells_at(&cs, 1)->cl_num, 1);
                vg_cells_key(vg_cells_at(&cs, 1), got);
                assert_string_equal(got, "i|0180|2026|diagnosis:KIDNEY_A1");
                vg_cells_free(&cs);
        }
}

/* More cells than one slab holds stay where they were made. */
static void test_slabs(void **st) {
        vg_cells_t cs;
        const vg_counter_t *first;
        char k[64], got[VG_CASE_KEY_MAX];
        (void)st;
        vg_cells_init(&cs);
        vg_cells_load(&cs, "i|01|2026", 7, 7, false, false);
        first = vg_cells_at(&cs, 0);
        for (int i = 0; i < 20 * VG_CELLS_SLAB; i++) {
                snprintf(k, sizeof(k), "i|01|%d|sex:%d", i / 3, i % 3);
                vg_cells_load(&cs, k, i, 0, false, false);
        }
        /* (past the first 16 slabs: the list of slabs grew) */
        assert_int_equal(cs.cs_nall, 1 + 20 * VG_CELLS_SLAB);
        assert_ptr_equal(vg_cells_at(&cs, 0), first);
        assert_int_equal(first->cl_num, 7);
        vg_cells_key(vg_cells_at(&cs, 20 * VG_CELLS_SLAB), got);
        assert_string_equal(got, "i|01|6826|sex:1");
        assert_int_equal(vg_cells_at(&cs, 20 * VG_CELLS_SLAB)->cl_num,
                         20 * VG_CELLS_SLAB - 1);
        vg_cells_clear(&cs);
        assert_int_equal(cs.cs_nall, 0);
        vg_cells_load(&cs, "i|01|2026", 1, 1, false, false);
        assert_int_equal(cs.cs_nall, 1);
        vg_cells_free(&cs);
}

/* The value of key in the reference (ref_n keys), added if new. */
struct ref_s {
        char    key[VG_CASE_KEY_MAX];
        int64_t num, den;
        bool    count;   /* as first made */
        bool    touched; /* since the last batch_done */
};

static struct ref_s *ref_get(struct ref_s *ref, size_t *n, const char *key,
                             bool count) {
        for (size_t i = 0; i < *n; i++)
                if (!strcmp(ref[i].key, key))
                        return &ref[i];
        memset(&ref[*n], 0, sizeof(ref[*n]));
        ref[*n].count = count;
        snprintf(ref[*n].key, sizeof(ref[*n].key), "%s", key);
        return &ref[(*n)++];
}

/* Stored cells loaded (as a partition opens): a kommun's, its region's
 * and SE's of some cases, with values and count flags of their own (a
 * stored flag may differ from the case's: the cell keeps it). */
static void load_some(vg_cells_t *cs, struct ref_s *ref, size_t *nref) {
        static const char *const keys[] = {
                "i0|0180|2026", "i0|01|2026", "i0|SE|2026",
                "i0|0180|2026|age:85+", "i0|01|2026|age:85+",
                "i1|1283|2026-01|residence:ORDINARY_HOMEX",
                "i1|12|2026-01|residence:ORDINARY_HOMEX",
                "i1|SE|2026-01|sex:MALE", "i1|10|2026|diagnosis:CANCER"};
        for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
                int64_t num = (int64_t)rnd(100), den = (int64_t)rnd(100);
                bool count = rnd(2);
                struct ref_s *r;
                if (rnd(3) == 0)
                        continue;
                vg_cells_load(cs, keys[i], num, den, count, false);
                r = ref_get(ref, nref, keys[i], count);
                r->num = num;
                r->den = den;
                r->count = count;
                r->touched = false;
        }
}

/* Cases added at random (kommuner of one region, a two-character kommun
 * whose base is another's region's, deltas of either sign, counts and
 * rates, breakdown values past 8 bytes), from stored cells loaded or
 * none, settled at random: then every cell is as if each case had been
 * added to all of vg_rules_case_cells()'s cells at once (a cell made by
 * one takes its count flag), no other cell exists, and each cell a case
 * touched since the last batch_done is dirty. Sometimes the cells are
 * cleared before a settle (a rollback's reload) and loaded again. */
static void test_settle(void **st) {
        static const char *const kommuner[] = {"0180", "0181", "01", "1283",
                                               "1", "2584"};
        static const char *const periods[] = {"2026-01", "2026"};
        static const char *const ages[] = {"0-64", "85+", "-"};
        static const char *const sexes[] = {"MALE", "FEMALE", "-"};
        static const char *const diags[] = {"CANCER", "-"};
        static const char *const res[] = {"-", "ORDINARY_HOME",
                                          "ORDINARY_HOMEX", "NURSING"};
        enum { MAXREF = 4096 };
        struct ref_s *ref = calloc(MAXREF, sizeof(*ref));
        (void)st;
        for (int round = 0; round < 40; round++) {
                vg_cells_t cs;
                size_t nref = 0, settled = 0;
                vg_cells_init(&cs);
                if (round % 2) /* (stored cells first) */
                        load_some(&cs, ref, &nref);
                for (int step = 0; step < 400; step++) {
                        char ckey[VG_CASE_KEY_MAX];
                        char cells[VG_CASE_CELLS][VG_CASE_KEY_MAX];
                        int64_t num = (int64_t)rnd(5) - 2,
                                den = (int64_t)rnd(5) - 2;
                        unsigned ind = rnd(2);
                        int n;
                        snprintf(ckey, sizeof(ckey), "i%u|%s|%s|%s|%s|%s|%s",
                                 ind, PICK(kommuner), PICK(periods),
                                 PICK(ages), PICK(sexes), PICK(diags),
                                 PICK(res));
                        n = vg_rules_case_cells(ckey, cells);
                        assert_true(n > 0);
                        assert_int_equal(vg_cells_add_case(&cs, ckey, num, den,
                                                           ind == 1),
                                         0);
                        for (int i = 0; i < n; i++) {
                                struct ref_s *r = ref_get(ref, &nref,
                                                          cells[i], ind == 1);
                                assert_true(nref < MAXREF);
                                r->num += num;
                                r->den += den;
                                r->touched = true;
                        }
                        if (rnd(25) && step < 399)
                                continue;
                        if (rnd(8) == 0) { /* a rollback: all read again */
                                vg_cells_clear(&cs);
                                nref = 0;
                                if (rnd(2))
                                        load_some(&cs, ref, &nref);
                        }
                        vg_cells_settle(&cs);
                        settled++;
                        assert_int_equal(cs.cs_nall, nref);
                        for (size_t i = 0; i < cs.cs_nall; i++) {
                                char got[VG_CASE_KEY_MAX];
                                const vg_counter_t *c = vg_cells_at(&cs, i);
                                size_t before = nref;
                                struct ref_s *r;
                                vg_cells_key(c, got);
                                r = ref_get(ref, &nref, got, false);
                                assert_int_equal(nref, before);
                                assert_int_equal(c->cl_num, r->num);
                                assert_int_equal(c->cl_den, r->den);
                                assert_int_equal(c->cl_count, r->count);
                                assert_int_equal(c->cl_dirty, r->touched);
                        }
                        if (rnd(2)) {
                                vg_cells_batch_done(&cs);
                                for (size_t i = 0; i < nref; i++)
                                        ref[i].touched = false;
                        }
                }
                assert_true(settled > 0);
                vg_cells_free(&cs);
        }
        free(ref);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_case_cells),
                cmocka_unit_test(test_sorted_like_strcmp),
                cmocka_unit_test(test_load_again),
                cmocka_unit_test(test_limits),
                cmocka_unit_test(test_slabs),
                cmocka_unit_test(test_settle),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
