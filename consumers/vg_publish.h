/*
 * vg_publish.h - small-number protection for published indicator values
 * (SPEC v2 §6.4, docs/INDICATORS.md §7). A pure function: no I/O, no
 * configuration; the caller passes the rows and publish.min_count.
 */
#ifndef VG_PUBLISH_H
#define VG_PUBLISH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Why a row is hidden. */
typedef enum {
        VG_PUB_VISIBLE = 0,
        VG_PUB_SMALL = 1, /* step 1: a count in 1 .. min_count - 1 */
        VG_PUB_COMPLEMENT = 2, /* step 2: would let a hidden count be worked
                                  out by one subtraction */
} vg_pubstate_t;

/* One indicator value. The strings are borrowed (not copied). */
typedef struct vg_pubrow_s {
        const char   *pr_indicator; /* e.g. "death_place.HOME" */
        const char   *pr_area;      /* kommun (4 digits), region (2), "SE" */
        const char   *pr_period;    /* YYYY-MM, YYYY-Qn or YYYY */
        const char   *pr_breakdown; /* "all" or "dim:value"; NULL = "all" */
        int64_t       pr_num;       /* numerator, or the count */
        int64_t       pr_den;       /* denominator (when pr_has_den) */
        bool          pr_has_den;   /* false: a count indicator */
        vg_pubstate_t pr_state;     /* out */
} vg_pubrow_t;

typedef struct vg_pubstats_s {
        size_t ps_rows;       /* rows given */
        size_t ps_small;      /* hidden in step 1 */
        size_t ps_complement; /* hidden in step 2 */
        size_t ps_relations;  /* relations (total and parts) checked */
        size_t ps_passes;     /* passes over the relations until nothing
                                 changed (the last one changes nothing) */
} vg_pubstats_t;

/*
 * Decides which rows to hide, setting pr_state of each (any previous value
 * is overwritten). Rows must be unique by (indicator, area, period,
 * breakdown); rows with no case (denominator, or count, 0) should be left
 * out, as they are not published.
 *
 * Step 1 hides every row whose numerator, denominator or count is between
 * 1 and min_count - 1. Step 2 then hides further rows until, in every
 * relation, the number of unknowns is not exactly one. A relation is a
 * total and its parts, for the same indicator, breakdown and period kind:
 *   - a region (2 digits) and its kommuner (4 digits starting with it);
 *   - SE and the regions;
 *   - breakdown "all" and the rows of one dimension ("age:*", ...);
 *   - a quarter (YYYY-Qn) and its months, a year and its quarters;
 *   - the deaths of an area/period/breakdown (the common denominator of
 *     the death_place.* rows, taken as always known) and the death_place.*
 *     numerators.
 * A relation whose total row is absent gives nothing away and is skipped;
 * an absent part is a known zero. The unknowns of a relation are its
 * hidden parts plus its total when hidden. When they are exactly one, the
 * smallest visible part is hidden (by denominator, then numerator, with a
 * part of count 0 taken only when no other is left; ties by indicator,
 * area, period, breakdown); when no part is visible, the total is hidden.
 * The relations are visited in a fixed order, pass after pass, until a
 * pass hides nothing: the result depends only on the rows, not on their
 * order.
 *
 * min_count <= 1 hides nothing. Returns 0, or -1 on memory exhaustion
 * (never: the allocators abort). st may be NULL.
 */
int vg_publish_suppress(vg_pubrow_t *rows, size_t n, int64_t min_count,
                        vg_pubstats_t *st);

/* Why an indicator cell (of an IndicatorPart or a value read from a
 * topic) is not one Vigil writes, or NULL: an indicator Vigil does not
 * know, an area that is no area code, a period or breakdown that holds a
 * personnummer, or is not of a form Vigil writes. Such a row is neither
 * summed nor shown (SPEC §8). */
const char *vg_pub_cell_refused(const char *indicator, const char *area,
                                const char *period, const char *breakdown);

/* Why a value's figures are not a population's, or NULL: a negative
 * count, a numerator above its denominator, a count above
 * VG_PUB_COUNT_MAX, or a denominator where the indicator has none (a
 * count: ssih_enrolment.*) or none where it has one (vigil indicators
 * refuses such a row as it refuses a cell above). The bound keeps every
 * sum the aggregator makes (of at most VG_PUB_PARTITIONS parts, twelve
 * months) far within 64 bits. */
#define VG_PUB_COUNT_MAX 1000000000000LL
const char *vg_pub_figures_refused(const char *indicator, int64_t num,
                                   bool has_den, int64_t den);

/* Why an IndicatorPart is not one a processor writes, or NULL: its cell
 * (above), a period that is not a month, its figures (above), or a
 * partition outside 0 .. VG_PUB_PARTITIONS - 1 (vigil process takes at
 * most that many: MAX_PARTITIONS). vigil aggregate sums no such part. */
#define VG_PUB_PARTITIONS 1024
struct vg_ipart_s;
const char *vg_pub_part_refused(const struct vg_ipart_s *ip);

#endif
