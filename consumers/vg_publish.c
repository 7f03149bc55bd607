/*
 * vg_publish.c - small-number protection (SPEC v2 §6.4): which indicator
 * rows a public output hides. Pure: rows in, a state per row out.
 *
 * The rows are keyed "indicator\1area\1period\1breakdown" and sorted, so
 * that a total is found by binary search and everything is visited in an
 * order that does not depend on the caller's. Each row that has a total
 * row above it in some relation becomes one entry (relation key, part,
 * total); the entries sorted by relation key and part key are the
 * relations, each a run of parts sharing one total.
 */
#include "vg_publish.h"
#include "vg_areas.h"
#include "vg_common.h"
#include "vg_config.h"
#include "vg_record.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SEP "\001"
#define NO_TOTAL ((size_t)-1) /* the death_place.* deaths: no row */

typedef struct rowkey_s {
        char  *rk_key;
        size_t rk_idx;
} rowkey_t;

typedef struct entry_s {
        char  *e_rel;   /* relation key */
        size_t e_part;  /* row index of the part */
        size_t e_total; /* row index of the total, or NO_TOTAL */
        const char *e_part_key;
} entry_t;

typedef struct rel_s {
        size_t r_first; /* into the sorted entries */
        size_t r_count;
        size_t r_total;
        bool   r_by_num; /* death_place: the parts are numerators */
} rel_t;

/* The deaths of one area, period and breakdown: the one denominator its
 * death_place.* and eol_* rows all show. It is known while any of them is
 * visible, so it is hidden only by hiding them all; its relations (a
 * region and its kommuner, ...) are the deaths', across the indicators:
 * one row hidden per indicator left the deaths known from the others'
 * rows (the heart-failure deaths of a kommun, 2, were its deaths less
 * those of two diagnoses shown in other death_place.* rows). */
typedef struct grp_s {
        char   *g_key;     /* "area\1period\1breakdown" */
        size_t *g_rows;    /* its rows */
        size_t  g_nrows;
        int64_t g_den;
} grp_t;

typedef struct gent_s {
        char  *ge_rel;   /* relation key */
        size_t ge_part;  /* group index */
        size_t ge_total; /* group index */
} gent_t;

static const char *bd_of(const vg_pubrow_t *r) {
        return r->pr_breakdown ? r->pr_breakdown : "all";
}

static char *join4(const char *a, const char *b, const char *c,
                   const char *d) {
        size_t n = strlen(a) + strlen(b) + strlen(c) + strlen(d) + 4;
        char *s = vg_malloc(n);
        snprintf(s, n, "%s" SEP "%s" SEP "%s" SEP "%s", a, b, c, d);
        return s;
}

static char *prefixed(const char *prefix, const char *key,
                      const char *suffix) {
        size_t n = strlen(prefix) + strlen(key) + strlen(suffix) + 3;
        char *s = vg_malloc(n);
        snprintf(s, n, "%s" SEP "%s%s%s", prefix, key, *suffix ? SEP : "",
                 suffix);
        return s;
}

/* The area a row's area adds up into: a kommun's region, a region's SE;
 * false for SE and anything else. */
static bool area_parent(const char *area, char *out /* [3] or more */) {
        if (vg_all_digits(area, 4)) {
                snprintf(out, 3, "%.2s", area);
                return true;
        }
        if (vg_all_digits(area, 2)) {
                snprintf(out, 3, "SE");
                return true;
        }
        return false;
}

/* The period a period adds up into: a month's quarter, a quarter's year. */
static bool period_parent(const char *p, char *out /* [8] */) {
        if (strlen(p) == 7 && p[4] == '-' && isdigit((unsigned char)p[5]) &&
            isdigit((unsigned char)p[6])) {
                int m = (p[5] - '0') * 10 + (p[6] - '0');
                if (m < 1 || m > 12)
                        return false;
                snprintf(out, 8, "%.4s-Q%d", p, (m - 1) / 3 + 1);
                return true;
        }
        if (strlen(p) == 7 && p[4] == '-' && p[5] == 'Q' && p[6] >= '1' &&
            p[6] <= '4') {
                snprintf(out, 8, "%.4s", p);
                return true;
        }
        return false;
}

/* A total a cell is a part of: its kind ('A' an area's, 'B' breakdown
 * all's for one dimension, 'P' a period's), the total's area, period and
 * breakdown, and the dimension ("" but for 'B'). */
typedef struct up_s {
        char        u_kind[2];
        const char *u_area, *u_period, *u_bd;
        char        u_up[8];  /* a parent area or period */
        char        u_dim[64];
} up_t;

/* The totals the cell (area, period, bd) is a part of, at most three. */
static int totals_of(const char *area, const char *period, const char *bd,
                     up_t up[3]) {
        const char *colon = strchr(bd, ':');
        int n = 0;
        memset(up, 0, 3 * sizeof(*up));
        if (area_parent(area, up[n].u_up)) {
                up[n].u_kind[0] = 'A';
                up[n].u_area = up[n].u_up;
                up[n].u_period = period;
                up[n++].u_bd = bd;
        }
        if (strcmp(bd, "all") && colon) {
                up[n].u_kind[0] = 'B';
                up[n].u_area = area;
                up[n].u_period = period;
                up[n].u_bd = "all";
                snprintf(up[n++].u_dim, sizeof(up->u_dim), "%.*s",
                         (int)(colon - bd), bd);
        }
        if (period_parent(period, up[n].u_up)) {
                up[n].u_kind[0] = 'P';
                up[n].u_area = area;
                up[n].u_period = up[n].u_up;
                up[n++].u_bd = bd;
        }
        return n;
}

static int rowkey_cmp(const void *a, const void *b) {
        return strcmp(((const rowkey_t *)a)->rk_key,
                      ((const rowkey_t *)b)->rk_key);
}

static int entry_cmp(const void *a, const void *b) {
        const entry_t *x = a, *y = b;
        int c = strcmp(x->e_rel, y->e_rel);
        return c ? c : strcmp(x->e_part_key, y->e_part_key);
}

/* Row index of key, or NO_TOTAL. */
static size_t find_row(const rowkey_t *keys, size_t n, const char *key) {
        rowkey_t k = {(char *)key, 0};
        const rowkey_t *f = bsearch(&k, keys, n, sizeof(*keys), rowkey_cmp);
        return f ? f->rk_idx : NO_TOTAL;
}

static bool small(int64_t x, int64_t min_count) {
        return x >= 1 && x < min_count;
}

static bool hidden(const vg_pubrow_t *r) {
        return r->pr_state != VG_PUB_VISIBLE;
}

/* The size by which the smallest visible part is chosen: the number of
 * cases the part stands for in this relation. */
static int64_t part_size(const vg_pubrow_t *r, bool by_num) {
        return by_num || !r->pr_has_den ? r->pr_num : r->pr_den;
}

/* Is part a better complement than b (smaller; zero only last)? Entries are
 * in key order, so the first of equals wins. */
static bool better(const vg_pubrow_t *a, const vg_pubrow_t *b, bool by_num) {
        int64_t sa = part_size(a, by_num), sb = part_size(b, by_num);
        if ((sa == 0) != (sb == 0))
                return sb == 0;
        if (sa != sb)
                return sa < sb;
        return a->pr_num < b->pr_num;
}

static int grp_cmp(const void *a, const void *b) {
        return strcmp(((const grp_t *)a)->g_key, ((const grp_t *)b)->g_key);
}

static int gent_cmp(const void *a, const void *b) {
        const gent_t *x = a, *y = b;
        int c = strcmp(x->ge_rel, y->ge_rel);
        if (c)
                return c;
        return x->ge_part < y->ge_part ? -1 : x->ge_part > y->ge_part;
}

static size_t find_grp(const grp_t *g, size_t n, const char *key) {
        grp_t k = {(char *)key, NULL, 0, 0};
        const grp_t *f = bsearch(&k, g, n, sizeof(*g), grp_cmp);
        return f ? (size_t)(f - g) : NO_TOTAL;
}

static char *join3(const char *a, const char *b, const char *c) {
        size_t n = strlen(a) + strlen(b) + strlen(c) + 3;
        char *s = vg_malloc(n);
        snprintf(s, n, "%s" SEP "%s" SEP "%s", a, b, c);
        return s;
}

/* Whose denominator is the deaths: the death_place.* rows and the eol_*
 * ones (docs/INDICATORS.md §1). */
static bool deaths_den(const char *indicator) {
        return !strncmp(indicator, "death_place.", 12) ||
               !strcmp(indicator, "eol_admission_30d") ||
               !strcmp(indicator, "eol_readmission_30d");
}

static void grp_add(grp_t *g, size_t row) {
        g->g_rows = vg_realloc(g->g_rows, (g->g_nrows + 1) * sizeof(size_t));
        g->g_rows[g->g_nrows++] = row;
}

/* The rows that show the deaths, grouped by area, period and breakdown,
 * sorted by key; their number in *ngp. A register_coverage row shows them
 * too once every death's register deadline has passed (its denominator is
 * then the deaths): it joins its group when its denominator is the
 * group's. */
static grp_t *death_groups(const vg_pubrow_t *rows, size_t n, size_t *ngp) {
        grp_t *g = vg_calloc(n + 1, sizeof(*g));
        size_t ng = 0, w = 0;
        for (size_t i = 0; i < n; i++) {
                const vg_pubrow_t *r = &rows[i];
                if (!deaths_den(r->pr_indicator))
                        continue;
                g[ng].g_key = join3(r->pr_area, r->pr_period, bd_of(r));
                g[ng].g_rows = vg_malloc(sizeof(size_t));
                g[ng].g_rows[0] = i;
                g[ng].g_nrows = 1;
                g[ng].g_den = r->pr_den;
                ng++;
        }
        qsort(g, ng, sizeof(*g), grp_cmp);
        for (size_t i = 0; i < ng; i++) { /* merge equal keys */
                if (w && !strcmp(g[w - 1].g_key, g[i].g_key)) {
                        grp_t *d = &g[w - 1];
                        grp_add(d, g[i].g_rows[0]);
                        if (rows[g[i].g_rows[0]].pr_den > d->g_den)
                                d->g_den = rows[g[i].g_rows[0]].pr_den;
                        vg_free(g[i].g_key);
                        vg_free(g[i].g_rows);
                } else
                        g[w++] = g[i];
        }
        for (size_t i = 0; i < n; i++) {
                const vg_pubrow_t *r = &rows[i];
                char *k;
                size_t f;
                if (strcmp(r->pr_indicator, "register_coverage"))
                        continue;
                k = join3(r->pr_area, r->pr_period, bd_of(r));
                if ((f = find_grp(g, w, k)) != NO_TOTAL &&
                    g[f].g_den == r->pr_den)
                        grp_add(&g[f], i);
                vg_free(k);
        }
        *ngp = w;
        return g;
}

/* The groups' relations, as the rows' below: each group with its total
 * (a region's, SE's, breakdown all's, a quarter's or year's deaths). */
static gent_t *death_relations(const grp_t *g, size_t ng, size_t *nep) {
        gent_t *e = vg_calloc(3 * ng + 1, sizeof(*e));
        size_t ne = 0;
        for (size_t i = 0; i < ng; i++) {
                char *k = vg_strdup(g[i].g_key), *period, *bd, *tk;
                up_t up[3];
                int nu;
                period = strchr(k, SEP[0]);
                *period++ = '\0';
                bd = strchr(period, SEP[0]);
                *bd++ = '\0';
                nu = totals_of(k, period, bd, up);
                for (int u = 0; u < nu; u++) {
                        size_t t;
                        tk = join3(up[u].u_area, up[u].u_period, up[u].u_bd);
                        if ((t = find_grp(g, ng, tk)) != NO_TOTAL)
                                e[ne++] = (gent_t){prefixed(up[u].u_kind, tk,
                                                            up[u].u_dim),
                                                   i, t};
                        vg_free(tk);
                }
                vg_free(k);
        }
        qsort(e, ne, sizeof(*e), gent_cmp);
        *nep = ne;
        return e;
}

static bool grp_hidden(const grp_t *g, const vg_pubrow_t *rows) {
        for (size_t i = 0; i < g->g_nrows; i++)
                if (!hidden(&rows[g->g_rows[i]]))
                        return false;
        return true;
}

/* Hides every row of g; how many were visible. */
static size_t grp_hide(const grp_t *g, vg_pubrow_t *rows) {
        size_t k = 0;
        for (size_t i = 0; i < g->g_nrows; i++)
                if (!hidden(&rows[g->g_rows[i]])) {
                        rows[g->g_rows[i]].pr_state = VG_PUB_COMPLEMENT;
                        k++;
                }
        return k;
}

/* One pass over the deaths' relations (each a run of entries sharing
 * ge_rel): where exactly one of a relation's deaths is hidden, the
 * smallest visible part (a count of 0 last; ties by key) is hidden in all
 * its rows, else the total. The rows hidden. */
static size_t death_pass(const grp_t *g, const gent_t *e, size_t ne,
                         vg_pubrow_t *rows) {
        size_t hid = 0;
        for (size_t i = 0, j; i < ne; i = j) {
                size_t unknown = 0, best = NO_TOTAL, tot = e[i].ge_total;
                for (j = i; j < ne && !strcmp(e[j].ge_rel, e[i].ge_rel);
                     j++) {
                        const grp_t *p = &g[e[j].ge_part];
                        if (grp_hidden(p, rows))
                                unknown++;
                        else if (best == NO_TOTAL ||
                                 ((p->g_den == 0) != (g[best].g_den == 0)
                                          ? g[best].g_den == 0
                                          : p->g_den < g[best].g_den))
                                best = e[j].ge_part;
                }
                if (grp_hidden(&g[tot], rows))
                        unknown++;
                if (unknown != 1)
                        continue;
                hid += grp_hide(best != NO_TOTAL ? &g[best] : &g[tot], rows);
        }
        return hid;
}

int vg_publish_suppress(vg_pubrow_t *rows, size_t n, int64_t min_count,
                        vg_pubstats_t *st) {
        rowkey_t *keys = vg_calloc(n + 1, sizeof(*keys));
        entry_t *ents = vg_calloc(4 * n + 1, sizeof(*ents));
        rel_t *rels = NULL;
        size_t nent = 0, nrel = 0, passes = 0, nsmall = 0, ncomp = 0;
        grp_t *grps;
        gent_t *gents;
        size_t ngrp, ngent;
        const char **rkey = vg_calloc(n + 1, sizeof(*rkey));

        /* Step 1. */
        for (size_t i = 0; i < n; i++) {
                vg_pubrow_t *r = &rows[i];
                bool s = small(r->pr_num, min_count) ||
                         (r->pr_has_den && small(r->pr_den, min_count));
                r->pr_state = s ? VG_PUB_SMALL : VG_PUB_VISIBLE;
                nsmall += s;
                keys[i].rk_key = join4(r->pr_indicator, r->pr_area,
                                       r->pr_period, bd_of(r));
                keys[i].rk_idx = i;
                rkey[i] = keys[i].rk_key;
        }
        qsort(keys, n, sizeof(*keys), rowkey_cmp);

        /* The relations: each part with the key of its total. */
        for (size_t i = 0; i < n; i++) {
                const vg_pubrow_t *r = &rows[i];
                const char *bd = bd_of(r);
                up_t up[3];
                int nu = totals_of(r->pr_area, r->pr_period, bd, up);
                char *tk;
                for (int u = 0; u < nu; u++) {
                        size_t t;
                        tk = join4(r->pr_indicator, up[u].u_area,
                                   up[u].u_period, up[u].u_bd);
                        if ((t = find_row(keys, n, tk)) != NO_TOTAL)
                                ents[nent++] = (entry_t){
                                        prefixed(up[u].u_kind, tk,
                                                 up[u].u_dim),
                                        i, t, rkey[i]};
                        vg_free(tk);
                }
                if (!strncmp(r->pr_indicator, "death_place.", 12)) {
                        tk = join4("death_place", r->pr_area, r->pr_period,
                                   bd);
                        ents[nent++] = (entry_t){prefixed("D", tk, ""), i,
                                                 NO_TOTAL, rkey[i]};
                        vg_free(tk);
                }
        }
        qsort(ents, nent, sizeof(*ents), entry_cmp);
        rels = vg_calloc(nent + 1, sizeof(*rels));
        for (size_t i = 0; i < nent; i++) {
                if (i == 0 || strcmp(ents[i].e_rel, ents[i - 1].e_rel)) {
                        rels[nrel++] = (rel_t){i, 0, ents[i].e_total,
                                               ents[i].e_rel[0] == 'D'};
                }
                rels[nrel - 1].r_count++;
        }

        grps = death_groups(rows, n, &ngrp);
        gents = death_relations(grps, ngrp, &ngent);

        /* Step 2: until a pass over every relation hides nothing. */
        for (bool changed = true; changed;) {
                size_t d;
                changed = false;
                passes++;
                if ((d = death_pass(grps, gents, ngent, rows))) {
                        ncomp += d;
                        changed = true;
                }
                for (size_t k = 0; k < nrel; k++) {
                        const rel_t *rl = &rels[k];
                        size_t unknown = 0, best = NO_TOTAL;
                        vg_pubrow_t *tot = rl->r_total != NO_TOTAL
                                                   ? &rows[rl->r_total]
                                                   : NULL;
                        for (size_t j = 0; j < rl->r_count; j++) {
                                size_t p = ents[rl->r_first + j].e_part;
                                if (hidden(&rows[p]))
                                        unknown++;
                                else if (best == NO_TOTAL ||
                                         better(&rows[p], &rows[best],
                                                rl->r_by_num))
                                        best = p;
                        }
                        if (tot && hidden(tot))
                                unknown++;
                        if (unknown != 1)
                                continue;
                        if (best != NO_TOTAL)
                                rows[best].pr_state = VG_PUB_COMPLEMENT;
                        else if (tot && !hidden(tot))
                                tot->pr_state = VG_PUB_COMPLEMENT;
                        else
                                continue; /* a lone death_place.* part */
                        ncomp++;
                        changed = true;
                }
        }

        if (st) {
                st->ps_rows = n;
                st->ps_small = nsmall;
                st->ps_complement = ncomp;
                st->ps_relations = nrel;
                for (size_t i = 0; i < ngent; i++)
                        st->ps_relations += i == 0 || strcmp(gents[i].ge_rel,
                                                             gents[i - 1].ge_rel);
                st->ps_passes = passes;
        }
        for (size_t i = 0; i < nent; i++)
                vg_free(ents[i].e_rel);
        for (size_t i = 0; i < ngent; i++)
                vg_free(gents[i].ge_rel);
        for (size_t i = 0; i < ngrp; i++) {
                vg_free(grps[i].g_key);
                vg_free(grps[i].g_rows);
        }
        vg_free(gents);
        vg_free(grps);
        for (size_t i = 0; i < n; i++)
                vg_free(keys[i].rk_key);
        vg_free(ents);
        vg_free(rels);
        vg_free(keys);
        vg_free((void *)rkey);
        return 0;
}

/* YYYY, YYYY-MM (01-12) or YYYY-Qn (1-4): the periods Vigil writes. */
static bool period_form(const char *p) {
        size_t n = p ? strlen(p) : 0;
        /* (no event is older than 1900: SPEC §7) */
        if ((n != 4 && n != 7) || strspn(p, "0123456789") < 4 ||
            atoi(p) < 1900)
                return false;
        if (n == 4)
                return true;
        if (p[4] != '-')
                return false;
        if (p[5] == 'Q')
                return p[6] >= '1' && p[6] <= '4';
        return strspn(p + 5, "0123456789") == 2 &&
               atoi(p + 5) >= 1 && atoi(p + 5) <= 12;
}

/* all, or dimension:value with a dimension of SPEC §6.2 and one of its
 * values: an age band, a symbol of the event's enum, or "unknown" (no
 * such event). */
static bool breakdown_form(const char *b) {
        static const char *const bands[] = {"0-64", "65-74", "75-84", "85+",
                                            "unknown"};
        static const struct {
                const char      *dim;
                const vg_enum_t *ve;
        } dims[] = {{"sex:", &vg_enum_sex},
                    {"diagnosis:", &vg_enum_diag},
                    {"residence:", &vg_enum_residence}};
        if (!b || !strcmp(b, "all"))
                return true;
        if (!strncmp(b, "age:", 4)) {
                for (size_t i = 0; i < sizeof(bands) / sizeof(bands[0]); i++)
                        if (!strcmp(b + 4, bands[i]))
                                return true;
                return false;
        }
        for (size_t i = 0; i < sizeof(dims) / sizeof(dims[0]); i++) {
                size_t n = strlen(dims[i].dim);
                if (!strncmp(b, dims[i].dim, n))
                        return !strcmp(b + n, "unknown") ||
                               vg_enum_find(dims[i].ve, b + n) >= 0;
        }
        return false;
}

const char *vg_pub_cell_refused(const char *indicator, const char *area,
                                const char *period, const char *breakdown) {
        if (!indicator || !vg_conf_known_indicator(indicator))
                return "names no indicator Vigil knows";
        if (!area || !vg_areas_code_form(area))
                return "names no area (SE, 2 or 4 digits)";
        if (vg_pnr_in(period) || vg_pnr_in(breakdown))
                return "holds a personnummer";
        if (!period_form(period))
                return "names no period (YYYY, YYYY-MM or YYYY-Qn)";
        if (!breakdown_form(breakdown))
                return "names no breakdown (all, or age:, sex:, diagnosis: "
                       "or residence: and one of its values)";
        return NULL;
}

const char *vg_pub_figures_refused(const char *indicator, int64_t num,
                                   bool has_den, int64_t den) {
        bool count = indicator && !strncmp(indicator, "ssih_enrolment.", 15);
        if (indicator && count == has_den)
                return count ? "has a denominator where its indicator (a "
                               "count) has none"
                             : "has no denominator where its indicator (a "
                               "rate) has one";
        if (num < 0 || (has_den && (den < 0 || num > den)) ||
            num > VG_PUB_COUNT_MAX || (has_den && den > VG_PUB_COUNT_MAX))
                return "has figures no population has (a negative count, a "
                       "numerator above its denominator, or a count above "
                       "10^12)";
        return NULL;
}

const char *vg_pub_part_refused(const vg_ipart_t *ip) {
        const char *why, *p = ip->ip_period;
        if ((why = vg_pub_cell_refused(ip->ip_indicator, ip->ip_area, p,
                                       ip->ip_breakdown)))
                return why;
        if (strlen(p) != 7 || p[5] == 'Q')
                return "names no month (a processor counts months; quarters "
                       "and years are the aggregator's sums)";
        if ((why = vg_pub_figures_refused(ip->ip_indicator,
                                          ip->ip_numerator,
                                          ip->ip_denominator.set,
                                          ip->ip_denominator.v)))
                return why;
        if (ip->ip_partition < 0 || ip->ip_partition >= VG_PUB_PARTITIONS)
                return "names no partition (0 to 1023)";
        return NULL;
}
