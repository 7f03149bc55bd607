/*
 * vg_cells.c - a partition's indicator counters in memory (vg_cells.h).
 */
#include "vg_cells.h"
#include "vg_common.h"
#include "vg_record.h"
#include "vg_rules.h"

#include <stdlib.h>
#include <string.h>

/* The breakdowns, in the order of a case's fields (age, sex, diagnosis,
 * residence) and as they are named in a cell key. */
static const char *const bd_name[4] = {"age:", "sex:", "diagnosis:",
                                       "residence:"};
static const size_t bd_len[4] = {4, 4, 10, 10};

/* A breakdown cell of a base as its base finds it: the value's length and
 * first 8 bytes beside the cell, so that a scan does not visit cells that
 * do not match (cells are scattered in memory: each visit was a cache
 * miss, a twelfth of file mode's CPU). */
struct bd_s {
        uint64_t      bd_pre;
        size_t        bd_len;
        vg_counter_t *bd_cell;
};

/* The first 8 bytes of v[0, vl), zero-padded. */
static uint64_t bd_prefix(const char *v, size_t vl) {
        uint64_t w = 0;
        memcpy(&w, v, vl < 8 ? vl : 8);
        return w;
}

/* "indicator|area|period" and its cells: the base cell (NULL until first
 * added to) and the breakdown cells, a few per dimension; for the base of
 * a case's kommun, the bases of its region and of SE once looked up. */
typedef struct vg_base_s {
        vg_hnode_t     ba_h;    /* first: the table's link */
        vg_counter_t  *ba_all;
        struct bd_s   *ba_bd[4];
        int            ba_nbd[4], ba_bd_cap[4];
        struct vg_base_s *ba_up[2]; /* region, SE (NULL: not yet) */
        size_t         ba_len;
        char           ba_key[];
} vg_base_t;

static bool base_eq(const vg_hnode_t *n, const void *key) {
        return !strcmp(((const vg_base_t *)n)->ba_key, key);
}

static void base_free(vg_hnode_t *n) {
        vg_base_t *b = (vg_base_t *)n;
        for (int d = 0; d < 4; d++)
                vg_free(b->ba_bd[d]);
        vg_free(b);
}

/* An interned "dim:value". */
typedef struct {
        vg_hnode_t bs_h;
        char       bs_s[];
} bdstr_t;

static bool bdstr_eq(const vg_hnode_t *n, const void *key) {
        return !strcmp(((const bdstr_t *)n)->bs_s, key);
}

static void bdstr_free(vg_hnode_t *n) {
        vg_free(n);
}

void vg_cells_init(vg_cells_t *cs) {
        memset(cs, 0, sizeof(*cs));
}

void vg_cells_clear(vg_cells_t *cs) {
        vg_htab_clear(&cs->cs_bases, base_free);
        vg_htab_clear(&cs->cs_bds, bdstr_free);
        for (size_t i = 0; i < cs->cs_nslab; i++)
                vg_free(cs->cs_slab[i]);
        cs->cs_nslab = 0;
        cs->cs_nall = 0;
        cs->cs_ndirty = 0;
        cs->cs_npending = 0;
        cs->cs_nup = 0;
}

void vg_cells_free(vg_cells_t *cs) {
        vg_cells_clear(cs);
        vg_htab_free(&cs->cs_bases, base_free);
        vg_htab_free(&cs->cs_bds, bdstr_free);
        vg_free(cs->cs_slab);
        vg_free(cs->cs_dirty);
        vg_free(cs->cs_pending);
        vg_free(cs->cs_up);
        memset(cs, 0, sizeof(*cs));
}

/* v (n elements of elem bytes) with room for one more: its capacity
 * doubled when full (first when none). */
static void *room(void *v, size_t n, size_t *cap, size_t first,
                  size_t elem) {
        if (n < *cap)
                return v;
        *cap = *cap ? *cap * 2 : first;
        return vg_realloc(v, elem * *cap);
}

static void list_push(vg_counter_t ***v, size_t *n, size_t *cap,
                      vg_counter_t *c) {
        *v = room(*v, *n, cap, 1024, sizeof(**v));
        (*v)[(*n)++] = c;
}

/* "dim:value" as the table keeps it (made on first sight). */
static const char *bd_intern(vg_cells_t *cs, int dim, const char *v,
                             size_t vl) {
        char s[VG_CASE_KEY_MAX];
        uint32_t h;
        bdstr_t *b;
        memcpy(s, bd_name[dim], bd_len[dim]);
        memcpy(s + bd_len[dim], v, vl);
        s[bd_len[dim] + vl] = '\0';
        h = vg_hash_str(s);
        if ((b = (bdstr_t *)vg_htab_find(&cs->cs_bds, h, bdstr_eq, s)))
                return b->bs_s;
        b = vg_malloc(sizeof(*b) + bd_len[dim] + vl + 1);
        memcpy(b->bs_s, s, bd_len[dim] + vl + 1);
        b->bs_h.hn_hash = h;
        vg_htab_insert(&cs->cs_bds, &b->bs_h);
        return b->bs_s;
}

size_t vg_cells_key(const vg_counter_t *c, char *buf) {
        size_t n = c->cl_blen;
        memcpy(buf, c->cl_base, n);
        if (c->cl_bd) {
                buf[n++] = '|';
                memcpy(buf + n, c->cl_bd, c->cl_bdlen);
                n += c->cl_bdlen;
        }
        buf[n] = '\0';
        return n;
}

/* The base of key[0, len), made on first sight. */
static vg_base_t *base_get(vg_cells_t *cs, const char *key, size_t len) {
        uint32_t h = vg_hash_str(key);
        vg_base_t *b = (vg_base_t *)vg_htab_find(&cs->cs_bases, h, base_eq,
                                                 key);
        if (b)
                return b;
        b = vg_calloc(1, sizeof(*b) + len + 1);
        memcpy(b->ba_key, key, len + 1);
        b->ba_len = len;
        b->ba_h.hn_hash = h;
        vg_htab_insert(&cs->cs_bases, &b->ba_h);
        return b;
}

/* A new cell of base b: the base cell (dim < 0), or breakdown dim with
 * value v[0, vl). */
static vg_counter_t *cell_new(vg_cells_t *cs, vg_base_t *b, int dim,
                              const char *v, size_t vl, bool count) {
        vg_counter_t *c;
        if (cs->cs_nall == cs->cs_nslab * VG_CELLS_SLAB) {
                cs->cs_slab = room(cs->cs_slab, cs->cs_nslab,
                                   &cs->cs_slab_cap, 16,
                                   sizeof(*cs->cs_slab));
                cs->cs_slab[cs->cs_nslab++] =
                        vg_malloc(sizeof(vg_counter_t) * VG_CELLS_SLAB);
        }
        c = vg_cells_at(cs, cs->cs_nall++);
        memset(c, 0, sizeof(*c));
        c->cl_base = b->ba_key;
        c->cl_blen = (uint16_t)b->ba_len;
        if (dim >= 0) {
                c->cl_bd = bd_intern(cs, dim, v, vl);
                c->cl_bdlen = (uint8_t)(bd_len[dim] + vl);
                c->cl_dim = (uint8_t)dim;
                if (b->ba_nbd[dim] == b->ba_bd_cap[dim]) {
                        b->ba_bd_cap[dim] = b->ba_bd_cap[dim]
                                                    ? b->ba_bd_cap[dim] * 2
                                                    : 4;
                        b->ba_bd[dim] = vg_realloc(
                                b->ba_bd[dim],
                                sizeof(**b->ba_bd) *
                                        (size_t)b->ba_bd_cap[dim]);
                }
                b->ba_bd[dim][b->ba_nbd[dim]].bd_pre = bd_prefix(v, vl);
                b->ba_bd[dim][b->ba_nbd[dim]].bd_len = vl;
                b->ba_bd[dim][b->ba_nbd[dim]++].bd_cell = c;
        } else
                b->ba_all = c;
        c->cl_count = count;
        return c;
}

/* Base b's cell for breakdown dim = v[0, vl) (dim < 0: the base cell). */
static vg_counter_t *cell_get(vg_cells_t *cs, vg_base_t *b, int dim,
                              const char *v, size_t vl, bool count) {
        if (dim < 0)
                return b->ba_all ? b->ba_all
                                 : cell_new(cs, b, dim, v, vl, count);
        uint64_t pre = bd_prefix(v, vl);
        for (int i = 0; i < b->ba_nbd[dim]; i++) {
                const struct bd_s *x = &b->ba_bd[dim][i];
                if (x->bd_pre == pre && x->bd_len == vl &&
                    (vl <= 8 || !memcmp(x->bd_cell->cl_bd + bd_len[dim] + 8,
                                        v + 8, vl - 8)))
                        return x->bd_cell;
        }
        return cell_new(cs, b, dim, v, vl, count);
}

void vg_cells_load(vg_cells_t *cs, const char *key, int64_t num, int64_t den,
                   bool count, bool pending) {
        /* "indicator|area|period" or "indicator|area|period|dim:value";
         * a key of another form (not made by this version) is kept as a
         * base cell of its own, so that it is still published. */
        const char *p = key;
        int dim = -1;
        size_t blen, vl = 0;
        const char *v = NULL;
        char base[VG_CASE_KEY_MAX];
        vg_counter_t *c;
        if (strlen(key) >= VG_CASE_KEY_MAX)
                return; /* (longer than any key this version makes: left
                         * in the store, never published, and a pending
                         * one stays pending there) */
        for (int i = 0; i < 3 && p; i++)
                if ((p = strchr(p, '|')))
                        p++;
        if (p) {
                for (int d = 0; d < 4 && dim < 0; d++)
                        if (!strncmp(p, bd_name[d], bd_len[d]))
                                dim = d, v = p + bd_len[d], vl = strlen(v);
        }
        blen = dim >= 0 ? (size_t)(p - 1 - key) : strlen(key);
        if (blen >= sizeof(base) || (p && dim < 0))
                blen = strlen(key), dim = -1; /* (kept whole) */
        memcpy(base, key, blen);
        base[blen] = '\0';
        c = cell_get(cs, base_get(cs, base, blen), dim, v, vl, count);
        c->cl_num = num;
        c->cl_den = den;
        c->cl_count = count;
        if (pending)
                vg_cells_mark_pending(cs, c);
}

static void cell_add(vg_cells_t *cs, vg_counter_t *c, int64_t num,
                     int64_t den) {
        c->cl_num += num;
        c->cl_den += den;
        if (!c->cl_dirty) {
                c->cl_dirty = true;
                list_push(&cs->cs_dirty, &cs->cs_ndirty, &cs->cs_dirty_cap,
                          c);
        }
}

/* cell_add() to a kommun's cell: on cs_up with its value before, once. */
static void kommun_add(vg_cells_t *cs, vg_base_t *b, vg_counter_t *c,
                       int64_t num, int64_t den, bool count) {
        if (!c->cl_up) {
                cs->cs_up = room(cs->cs_up, cs->cs_nup, &cs->cs_up_cap, 1024,
                                 sizeof(*cs->cs_up));
                cs->cs_up[cs->cs_nup++] = (vg_cell_up_t){
                        .cu_cell = c, .cu_base = b, .cu_num = c->cl_num,
                        .cu_den = c->cl_den, .cu_count = count};
                c->cl_up = true;
        }
        cell_add(cs, c, num, den);
}

int vg_cells_add_case(vg_cells_t *cs, const char *case_key, int64_t num,
                      int64_t den, bool count) {
        /* The kommun's cells of vg_rules_case_cells(), in its order. */
        const char *f[7];
        size_t len[7];
        vg_base_t *kb; /* the kommun's base */

        if (vg_rules_case_split(case_key, f, len))
                return -1;
        if (len[1] >= 8) /* (a kommun: 4 digits) */
                return -1;
        /* (every cell key shorter than VG_CASE_KEY_MAX, as
         * vg_cells_load() and vg_cells_key() expect: the bases too, also
         * when no breakdown is given, and the region's "NN" may be
         * longer than the kommun; a case key read from a stored state
         * has no other bound) */
        {
                size_t base = len[0] + (len[1] > 2 ? len[1] : 2) + len[2] + 2;
                if (base >= VG_CASE_KEY_MAX)
                        return -1;
                for (int i = 3; i < 7; i++)
                        if (!(len[i] == 1 && f[i][0] == '-') &&
                            base + 1 + 10 + len[i] >= VG_CASE_KEY_MAX)
                                return -1;
        }
        /* The kommun's base; its region's and SE's found once. */
        {
                char key[VG_CASE_KEY_MAX], *q = key;
                memcpy(q, f[0], len[0]), q += len[0], *q++ = '|';
                memcpy(q, f[1], len[1]), q += len[1], *q++ = '|';
                memcpy(q, f[2], len[2]), q += len[2];
                *q = '\0';
                kb = base_get(cs, key, (size_t)(q - key));
        }
        if (!kb->ba_up[0]) {
                char region[3];
                const char *up[2] = {region, "SE"};
                region[0] = f[1][0];
                region[1] = len[1] > 1 ? f[1][1] : '0';
                region[2] = '\0';
                for (int a = 0; a < 2; a++) {
                        char key[VG_CASE_KEY_MAX], *q = key;
                        memcpy(q, f[0], len[0]), q += len[0], *q++ = '|';
                        memcpy(q, up[a], 2), q += 2, *q++ = '|';
                        memcpy(q, f[2], len[2]), q += len[2];
                        *q = '\0';
                        kb->ba_up[a] =
                                base_get(cs, key, (size_t)(q - key));
                }
        }
        /* (the region's and SE's at the settle) */
        kommun_add(cs, kb, cell_get(cs, kb, -1, NULL, 0, count), num, den,
                   count);
        for (int d = 0; d < 4; d++) {
                const char *v = f[3 + d];
                size_t vl = len[3 + d];
                if (vl == 1 && v[0] == '-')
                        continue;
                kommun_add(cs, kb, cell_get(cs, kb, d, v, vl, count), num,
                           den, count);
        }
        return 0;
}

void vg_cells_settle(vg_cells_t *cs) {
        /* Every delta first: a kommun's base may be another kommun's
         * region's (a kommun code of two characters), whose cells get
         * added to below. */
        for (size_t i = 0; i < cs->cs_nup; i++) {
                vg_cell_up_t *u = &cs->cs_up[i];
                u->cu_num = u->cu_cell->cl_num - u->cu_num;
                u->cu_den = u->cu_cell->cl_den - u->cu_den;
                u->cu_cell->cl_up = false;
        }
        for (size_t i = 0; i < cs->cs_nup; i++) {
                const vg_cell_up_t *u = &cs->cs_up[i];
                const vg_counter_t *c = u->cu_cell;
                const vg_base_t *b = u->cu_base;
                int dim = c->cl_bd ? c->cl_dim : -1;
                const char *v = dim < 0 ? NULL : c->cl_bd + bd_len[dim];
                size_t vl = dim < 0 ? 0 : c->cl_bdlen - bd_len[dim];
                for (int a = 0; a < 2; a++)
                        cell_add(cs,
                                 cell_get(cs, b->ba_up[a], dim, v, vl,
                                          u->cu_count),
                                 u->cu_num, u->cu_den);
        }
        cs->cs_nup = 0;
}

void vg_cells_mark_pending(vg_cells_t *cs, vg_counter_t *c) {
        if (c->cl_pending)
                return;
        c->cl_pending = true;
        list_push(&cs->cs_pending, &cs->cs_npending, &cs->cs_pending_cap, c);
}

/* strcmp of two cells' keys, mostly without making them: a key is its
 * base's, then "|" and "dim:value" for a breakdown cell. */
static int cell_cmp(const void *pa, const void *pb) {
        const vg_counter_t *a = *(vg_counter_t *const *)pa,
                           *b = *(vg_counter_t *const *)pb;
        size_t n = a->cl_blen < b->cl_blen ? a->cl_blen : b->cl_blen;
        int r = memcmp(a->cl_base, b->cl_base, n);
        if (r)
                return r;
        if (a->cl_blen == b->cl_blen) {
                if (!a->cl_bd || !b->cl_bd)
                        return (a->cl_bd != NULL) - (b->cl_bd != NULL);
                return strcmp(a->cl_bd, b->cl_bd);
        }
        {
                /* One base is a prefix of the other (a key of another
                 * form, kept whole): the keys themselves. */
                char ka[VG_CASE_KEY_MAX], kb[VG_CASE_KEY_MAX];
                vg_cells_key(a, ka);
                vg_cells_key(b, kb);
                return strcmp(ka, kb);
        }
}

static void cells_sort(vg_counter_t **l, size_t n) {
        if (n > 1)
                qsort(l, n, sizeof(*l), cell_cmp);
}

void vg_cells_sort_pending(vg_cells_t *cs) {
        cells_sort(cs->cs_pending, cs->cs_npending);
}

void vg_cells_sort_dirty(vg_cells_t *cs) {
        cells_sort(cs->cs_dirty, cs->cs_ndirty);
}

void vg_cells_batch_done(vg_cells_t *cs) {
        for (size_t i = 0; i < cs->cs_ndirty; i++)
                cs->cs_dirty[i]->cl_dirty = false;
        cs->cs_ndirty = 0;
}

void vg_cells_parts_done(vg_cells_t *cs) {
        for (size_t i = 0; i < cs->cs_npending; i++)
                cs->cs_pending[i]->cl_pending = false;
        cs->cs_npending = 0;
}

size_t vg_cells_sorted(const vg_cells_t *cs, vg_counter_t ***out) {
        vg_counter_t **all = vg_malloc(sizeof(*all) * (cs->cs_nall + 1));
        for (size_t i = 0; i < cs->cs_nall; i++)
                all[i] = vg_cells_at(cs, i);
        cells_sort(all, cs->cs_nall);
        *out = all;
        return cs->cs_nall;
}
