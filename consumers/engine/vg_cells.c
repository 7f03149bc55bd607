/*
 * vg_cells.c - a partition's indicator counters in memory (vg_cells.h).
 */
#include "vg_cells.h"
#include "vg_common.h"
#include "vg_rules.h"

#include <stdlib.h>
#include <string.h>

/* A case and the cells it adds to. */
typedef struct vg_case_s {
        vg_hnode_t ca_h;  /* first: the table's link */
        int        ca_n;
        vg_counter_t *ca_cells[VG_CASE_CELLS];
        char       ca_key[];
} vg_case_t;

static bool cell_eq(const vg_hnode_t *n, const void *key) {
        return !strcmp(((const vg_counter_t *)n)->cl_key, key);
}

static bool case_eq(const vg_hnode_t *n, const void *key) {
        return !strcmp(((const vg_case_t *)n)->ca_key, key);
}

static void node_free(vg_hnode_t *n) {
        vg_free(n);
}

void vg_cells_init(vg_cells_t *cs) {
        memset(cs, 0, sizeof(*cs));
}

void vg_cells_clear(vg_cells_t *cs) {
        vg_htab_clear(&cs->cs_cases, node_free);
        vg_htab_clear(&cs->cs_cells, node_free);
        cs->cs_ndirty = 0;
        cs->cs_npending = 0;
}

void vg_cells_free(vg_cells_t *cs) {
        vg_htab_free(&cs->cs_cases, node_free);
        vg_htab_free(&cs->cs_cells, node_free);
        vg_free(cs->cs_dirty);
        vg_free(cs->cs_pending);
        memset(cs, 0, sizeof(*cs));
}

static void list_push(vg_counter_t ***v, size_t *n, size_t *cap, vg_counter_t *c) {
        if (*n == *cap) {
                *cap = *cap ? *cap * 2 : 1024;
                *v = vg_realloc(*v, sizeof(**v) * *cap);
        }
        (*v)[(*n)++] = c;
}

static vg_counter_t *cell_new(vg_cells_t *cs, const char *key, uint32_t h,
                           bool count) {
        size_t len = strlen(key);
        vg_counter_t *c = vg_calloc(1, sizeof(*c) + len + 1);
        memcpy(c->cl_key, key, len + 1);
        c->cl_h.hn_hash = h;
        c->cl_count = count;
        vg_htab_insert(&cs->cs_cells, &c->cl_h);
        return c;
}

void vg_cells_load(vg_cells_t *cs, const char *key, int64_t num, int64_t den,
                   bool count, bool pending) {
        vg_counter_t *c = cell_new(cs, key, vg_hash_str(key), count);
        c->cl_num = num;
        c->cl_den = den;
        if (pending)
                vg_cells_mark_pending(cs, c);
}

/* The case's entry, made on first sight: its cells looked up (or made)
 * once. NULL if it is not a case. */
static vg_case_t *case_get(vg_cells_t *cs, const char *case_key,
                           bool count) {
        uint32_t h = vg_hash_str(case_key);
        vg_case_t *ca = (vg_case_t *)vg_htab_find(&cs->cs_cases, h, case_eq,
                                                  case_key);
        char cells[VG_CASE_CELLS][VG_CASE_KEY_MAX];
        size_t len;
        int n;

        if (ca)
                return ca;
        if ((n = vg_rules_case_cells(case_key, cells)) < 0)
                return NULL;
        len = strlen(case_key);
        ca = vg_calloc(1, sizeof(*ca) + len + 1);
        memcpy(ca->ca_key, case_key, len + 1);
        ca->ca_h.hn_hash = h;
        ca->ca_n = n;
        for (int i = 0; i < n; i++) {
                uint32_t ch = vg_hash_str(cells[i]);
                vg_counter_t *c = (vg_counter_t *)vg_htab_find(&cs->cs_cells, ch,
                                                         cell_eq, cells[i]);
                ca->ca_cells[i] = c ? c : cell_new(cs, cells[i], ch, count);
        }
        vg_htab_insert(&cs->cs_cases, &ca->ca_h);
        return ca;
}

int vg_cells_add_case(vg_cells_t *cs, const char *case_key, int64_t num,
                      int64_t den, bool count) {
        vg_case_t *ca = case_get(cs, case_key, count);
        if (!ca)
                return -1;
        for (int i = 0; i < ca->ca_n; i++) {
                vg_counter_t *c = ca->ca_cells[i];
                c->cl_num += num;
                c->cl_den += den;
                if (!c->cl_dirty) {
                        c->cl_dirty = true;
                        list_push(&cs->cs_dirty, &cs->cs_ndirty,
                                  &cs->cs_dirty_cap, c);
                }
        }
        return 0;
}

void vg_cells_mark_pending(vg_cells_t *cs, vg_counter_t *c) {
        if (c->cl_pending)
                return;
        c->cl_pending = true;
        list_push(&cs->cs_pending, &cs->cs_npending, &cs->cs_pending_cap, c);
}

static int cell_cmp(const void *a, const void *b) {
        return strcmp((*(vg_counter_t *const *)a)->cl_key,
                      (*(vg_counter_t *const *)b)->cl_key);
}

void vg_cells_sort_pending(vg_cells_t *cs) {
        if (cs->cs_npending > 1)
                qsort(cs->cs_pending, cs->cs_npending,
                      sizeof(*cs->cs_pending), cell_cmp);
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
        vg_counter_t **all = vg_malloc(sizeof(*all) * (cs->cs_cells.ht_n + 1));
        size_t n = 0;
        VG_HTAB_FOREACH(&cs->cs_cells, x)
                all[n++] = (vg_counter_t *)x;
        if (n > 1)
                qsort(all, n, sizeof(*all), cell_cmp);
        *out = all;
        return n;
}
