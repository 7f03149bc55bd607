/*
 * vg_process_file_out.h - what `vigil process --input` writes at the end
 * (vg_process_file_out.c): each alert's last status, and the indicator
 * values summed over the emulated partitions. Not for use outside
 * vg_process_file.c.
 *
 * Both are collected per worker while it runs its partitions (no lock);
 * at the end each worker sums and sorts one shard of the totals, and the
 * reader's thread writes the alerts and merges the sorted shards as it
 * writes them. vg_process_alert_json (vg_process.h) is here too: `vigil
 * alerts` and `vigil serve` write alerts with it.
 */
#ifndef VG_PROCESS_FILE_OUT_H
#define VG_PROCESS_FILE_OUT_H

#include "vg_config.h"
#include "vg_htab.h"
#include "vg_record.h"
#include "vg_rules.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* Alerts by alert_id: the last status of each, as queued. */
typedef struct falerts_s {
        vg_htab_t fs_ht;
        long      fs_churn; /* alerts raised ACTIVE, later RETRACTED */
} falerts_t;

/* A partition's alert sink (vg_part_set_alert_sink): opaque is the
 * worker's falerts_t. */
void vg_falerts_put(const vg_alert_t *al, void *opaque);
/* Each alert's JSON line made (on the worker, before the merge). */
void vg_falerts_json(falerts_t *fs);
/* Writes the alerts of the n collections fs[] (their JSON made) sorted
 * by alert_id, if out; returns how many there are. */
size_t vg_falerts_write(falerts_t *const *fs, int n, FILE *out);
void vg_falerts_free(falerts_t *fs);

/* Indicator totals keyed as the indicators topic is
 * ("indicator|area|period|breakdown"). */
typedef struct total_s total_t;
typedef struct totals_s {
        vg_htab_t  ts_ht;
        total_t  **ts_v;  /* sorted, after vg_totals_merge() */
        size_t     ts_n;
} totals_t;

/* Totals split in n shards by "indicator|area" (so a month, its quarter
 * and its year are in one shard): each worker sums one shard. */
typedef struct tshards_s {
        totals_t *tsh_v;
        int       tsh_n;
} tshards_t;

/* A partition's counter cell (vg_part_cells_unsorted's callback; opaque
 * is a tshards_t): added to its period's total in its shard ("all" when
 * it has no breakdown). */
void vg_totals_cell(const char *key, int64_t num, int64_t den, bool count,
                    void *opaque);
/* The quarters and years (SPEC §6.2) that sum the months added so far. */
void vg_totals_parents(totals_t *ts);
/* to += from */
void vg_totals_sum(totals_t *to, const totals_t *from);
/* Lists the totals in key order; returns how many there are. */
size_t vg_totals_merge(totals_t *ts);
void vg_totals_free(totals_t *ts);

/* What completeness rests on (SPEC §6.1), over all partitions. */
typedef struct progress_s {
        const vg_rules_conf_t *pg_rc;
        int64_t                pg_min_wm;      /* VG_WM_NONE: incomplete */
        int64_t                pg_data_since;  /* VG_WM_NONE: unknown */
} progress_t;

/* Writes the indicator values of the n shards ts[] (each merged), in key
 * order over all of them, to out (NULL: counts only). Returns the number
 * of values (the cells with a row: SPEC §6). */
size_t vg_totals_write(totals_t *const *ts, int n, FILE *out,
                       const progress_t *pg);

/* The INDICATOR_BELOW_TARGET alerts of the final values (SPEC §5.4, §5.5:
 * file mode's final results are Kafka mode's, whose aggregator raises
 * them): each value of the n shards ts[] in breach of its target (as
 * vigil aggregate judges it: vg_agg_value_breach, the targets and
 * aggregate.* keys of conf) put in fs as ACTIVE, emitted at now. */
void vg_totals_targets(totals_t *const *ts, int n, const progress_t *pg,
                       const vg_conf_t *conf, int64_t now, falerts_t *fs);

#endif /* VG_PROCESS_FILE_OUT_H */
