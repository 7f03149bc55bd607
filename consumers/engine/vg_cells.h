/*
 * vg_cells.h - a partition's indicator counters in memory: the counter
 * cells (indicator|area|period[|breakdown] -> numerator, denominator),
 * grouped by their "indicator|area|period" base. A case (vg_rules.h: the
 * patient-level key "indicator|kommun|period|age|sex|diagnosis|residence"
 * a rule counts under) counts in the base and breakdown cells of its
 * kommun, region and SE. A case is added to its kommun's cells (a lookup
 * in the small table of bases, then a scan of that base's few breakdown
 * cells - no per-case table, and no cell key built, once its cells
 * exist); what those changed by is added to the region's and SE's once,
 * by vg_cells_settle() before any cell is read (a commit): a batch adds
 * many cases to one kommun cell, and the region's and SE's were two
 * thirds of the cells a case added to.
 *
 * Three lists say what a commit must do: kommun cells changed since the
 * last settle (up: add to their region's and SE's), cells changed in the
 * open batch (dirty: write them) and cells whose IndicatorPart is not
 * queued yet (pending). Cells never move in memory until
 * vg_cells_clear().
 */
#ifndef VG_CELLS_H
#define VG_CELLS_H

#include "vg_htab.h"

#include <stdbool.h>
#include <stdint.h>

/* A cell holds no key of its own: its key is its base's "indicator|area|
 * period", then "|dim:value" for a breakdown cell (vg_cells_key), whose
 * "dim:value" the table keeps once (a few dozen distinct ones). Cells are
 * allocated in slabs and never move until vg_cells_clear(). */
typedef struct vg_counter_s {
        int64_t     cl_num, cl_den;
        const char *cl_base;    /* its base's key */
        const char *cl_bd;      /* "dim:value" (NULL: the base cell) */
        uint16_t    cl_blen;    /* strlen(cl_base) */
        uint8_t     cl_bdlen;   /* strlen(cl_bd) */
        uint8_t     cl_dim;     /* its breakdown (0..3), if cl_bd */
        bool        cl_dirty;   /* changed in the open batch */
        bool        cl_pending; /* changed since its part was queued */
        bool        cl_count;   /* a count: no denominator */
        bool        cl_up;      /* a kommun's cell changed since the
                                 * last settle: on cs_up */
} vg_counter_t;

/* A kommun's cell changed since the last vg_cells_settle(): its base,
 * its value before, and the count flag of the case that changed it
 * first (which a region's or SE's cell it makes takes). */
struct vg_base_s;
typedef struct vg_cell_up_s {
        vg_counter_t     *cu_cell;
        struct vg_base_s *cu_base;
        int64_t           cu_num, cu_den;
        bool              cu_count;
} vg_cell_up_t;

#define VG_CELLS_SLAB 1024 /* cells per slab */

typedef struct vg_cells_s {
        vg_htab_t   cs_bases;   /* "indicator|area|period" -> its cells */
        vg_htab_t   cs_bds;     /* the "dim:value" strings, interned */
        vg_counter_t **cs_slab; /* every cell, in order of creation */
        size_t      cs_nslab, cs_slab_cap, cs_nall;
        vg_counter_t **cs_dirty;   /* changed in the open batch */
        size_t      cs_ndirty, cs_dirty_cap;
        vg_counter_t **cs_pending; /* part not queued yet */
        size_t      cs_npending, cs_pending_cap;
        vg_cell_up_t *cs_up;    /* region and SE still to add to */
        size_t      cs_nup, cs_up_cap;
} vg_cells_t;

/* The i-th cell made (i < cs_nall). */
static inline vg_counter_t *vg_cells_at(const vg_cells_t *cs, size_t i) {
        return &cs->cs_slab[i / VG_CELLS_SLAB][i % VG_CELLS_SLAB];
}

/* The cell's key in buf (VG_CASE_KEY_MAX bytes: every key is shorter);
 * its length. */
size_t vg_cells_key(const vg_counter_t *c, char *buf);

void vg_cells_init(vg_cells_t *cs);
/* Drops every cell; the three lists are emptied. */
void vg_cells_clear(vg_cells_t *cs);
void vg_cells_free(vg_cells_t *cs);

/* A cell as stored (loading the committed counters): not dirty; pending
 * as given. Only after vg_cells_clear() (or init): a kommun's cell loaded
 * while on the up list would take the jump to its region and SE. */
void vg_cells_load(vg_cells_t *cs, const char *key, int64_t num, int64_t den,
                   bool count, bool pending);
/* Adds a case's delta to its kommun's cells (created if new, with the
 * count flag given), marking them dirty; its region's and SE's by the
 * next vg_cells_settle(), which must come before any cell is read. -1 if
 * case_key is not a case (vg_rules_case_cells refuses it); nothing is
 * changed then. */
int vg_cells_add_case(vg_cells_t *cs, const char *case_key, int64_t num,
                      int64_t den, bool count);
/* Adds what the kommuns' cells changed by since the last settle to the
 * same cells of their regions and of SE, marking those dirty: then every
 * cell is as if each case had been added to all its cells at once. */
void vg_cells_settle(vg_cells_t *cs);
/* Puts a cell on the pending list (once). */
void vg_cells_mark_pending(vg_cells_t *cs, vg_counter_t *c);
/* Sorts the pending list by key (as strcmp orders the keys). */
void vg_cells_sort_pending(vg_cells_t *cs);
/* The counters changed in the open batch by key (as strcmp orders the
 * keys). */
void vg_cells_sort_dirty(vg_cells_t *cs);
/* After a commit: no cell is dirty any more. */
void vg_cells_batch_done(vg_cells_t *cs);
/* After the pending parts were committed: none is pending any more. */
void vg_cells_parts_done(vg_cells_t *cs);
/* Every cell sorted by key, in *out (the caller frees it); the count. */
size_t vg_cells_sorted(const vg_cells_t *cs, vg_counter_t ***out);

#endif /* VG_CELLS_H */
