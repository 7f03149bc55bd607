/*
 * vg_agg.h - the aggregator's state (SPEC §5.4, §6): the latest
 * IndicatorPart per (cell, partition), their sums per cell, and the
 * INDICATOR_BELOW_TARGET alerts, in one SQLite file with the input offsets
 * and an outbox, one transaction per batch (as vg_partition).
 */
#ifndef VG_AGG_H
#define VG_AGG_H

#include "vg_codec.h"
#include "vg_config.h"
#include "vg_outbox.h"
#include "vg_rules.h"

typedef struct vg_agg_s vg_agg_t;

/* A target: value must be >= (higher_is_better) or <= target. */
typedef struct vg_target_s {
        bool   tg_set;
        double tg_target;
        bool   tg_higher_is_better;
} vg_target_t;

/* Target of an indicator from target.<indicator> keys, else the SPEC §6
 * examples (readmission_30d <= 0.10, sip_within_deadline >= 0.90);
 * "target.X=off" disables. */
vg_target_t vg_agg_target(const vg_conf_t *conf, const char *indicator);

/* Pure evaluation (SPEC §5.4): is the value of a cell in breach? */
bool vg_agg_breach(const vg_target_t *tg, int64_t num, int64_t den,
                   int64_t min_denominator);

/* Whether value iv is on the bad side of its target tg as SPEC §5.4 says:
 * breakdown all, complete (or preliminary, with alert_preliminary), a
 * denominator of at least min_denominator. The aggregator, and file mode
 * at the end of its input. */
bool vg_agg_value_breach(const vg_target_t *tg, const vg_ivalue_t *iv,
                         bool alert_preliminary, int64_t min_denominator);

/* The INDICATOR_BELOW_TARGET alert of value iv (its strings point into iv
 * and into the struct). */
typedef struct vg_agg_alert_s {
        vg_alert_t aa_al;
        char       aa_anchor[512];
        char       aa_id[33];
        char       aa_region[3];
} vg_agg_alert_t;
void vg_agg_alert(const vg_ivalue_t *iv, const vg_target_t *tg, int status,
                  int64_t now, vg_agg_alert_t *out);

/* path may be ":memory:". conf supplies targets, min_denominator, topics.
 * codec and conf must outlive the aggregator. */
vg_agg_t *vg_agg_open(const char *path, const vg_conf_t *conf,
                      vg_codec_t *codec, char *errstr, size_t errstr_size);
void vg_agg_close(vg_agg_t *agg);

vg_err_t vg_agg_begin(vg_agg_t *agg, int64_t now_ms, char *errstr,
                      size_t errstr_size);
vg_err_t vg_agg_part(vg_agg_t *agg, const vg_ipart_t *ip, char *errstr,
                     size_t errstr_size);
/* The latest PartitionProgress of an input partition (SPEC §6.1) as read
 * from partition source of the parts topic (0 for a file). */
vg_err_t vg_agg_progress(vg_agg_t *agg, const vg_progress_t *pp, int source,
                         char *errstr, size_t errstr_size);
/* How many partitions the parts topic has (default 1): an input
 * partition's progress counts once a copy came from each of them. */
void vg_agg_set_sources(vg_agg_t *agg, int n);
/* How many input partitions there are: until each has published progress,
 * no value is complete. 0 (the default): those that published. */
void vg_agg_set_input_partitions(vg_agg_t *agg, int n);
/* The smallest watermark over the input partitions (VG_WM_NONE while some
 * partition has published none) and data_since (VG_WM_NONE: unknown). */
int64_t vg_agg_min_watermark(const vg_agg_t *agg);
int64_t vg_agg_data_since(const vg_agg_t *agg);
/* When the targets or the other settings alerts depend on differ from
 * those the state's alerts were evaluated with (or none are stored), all
 * published values are evaluated again in a batch of their own: alerts
 * raised, refreshed or retracted by the settings now (SPEC §5.4), queued
 * on the outbox. Call with no batch open, once the partitions are set.
 * Returns the values evaluated again (0: the same settings), or -1. */
int vg_agg_recheck(vg_agg_t *agg, int64_t now_ms, char *errstr,
                   size_t errstr_size);
/* The rules configuration that completeness needs (timezone, rules.*). */
void vg_agg_rules_conf(const vg_conf_t *conf, vg_rules_conf_t *rc);
vg_err_t vg_agg_set_offset(vg_agg_t *agg, const char *topic, int partition,
                           int64_t next_offset, char *errstr,
                           size_t errstr_size);
int64_t vg_agg_offset(vg_agg_t *agg, const char *topic, int partition);
/* Sums changed cells, queues IndicatorValues and alert changes, COMMIT. */
vg_err_t vg_agg_commit(vg_agg_t *agg, char *errstr, size_t errstr_size);
bool vg_agg_in_batch(const vg_agg_t *agg);
vg_outbox_t *vg_agg_outbox(vg_agg_t *agg);

/* Every value row (denominator, or count, above zero), sorted by cell;
 * an error if the store cannot sum them. */
vg_err_t vg_agg_values(vg_agg_t *agg,
                       void (*cb)(const vg_ivalue_t *iv, void *opaque),
                       void *opaque, char *errstr, size_t errstr_size);

#endif /* VG_AGG_H */
