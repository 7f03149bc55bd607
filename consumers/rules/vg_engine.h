/*
 * vg_engine.h - one patient's state and the recompute-and-diff step.
 *
 * A patient holds its stored events (duplicates dropped), the ids of pruned
 * events, the total it contributed last time (alerts and cells) and the
 * cells frozen from pruned events. vg_engine_apply() adds an event (or
 * none, when a timer fires), re-derives with vg_rules_derive() and returns
 * what changed: alerts to publish (ACTIVE or RETRACTED) and cell deltas.
 * Pure: no I/O, no clock (the text form for the store is
 * vg_patient_store.h, beside the store).
 */
#ifndef VG_ENGINE_H
#define VG_ENGINE_H

#include "vg_rules.h"

typedef struct vg_patient_s {
        char       *pt_id;         /* patient_id */
        vg_event_t *pt_events;     /* stored events, arrival order */
        int         pt_nevents;
        int         pt_cap;
        char      **pt_old_ids;    /* event ids pruned by retention */
        int         pt_nold;
        char      **pt_old_cancelled; /* targets of pruned cancellations */
        int         pt_nold_cancelled;
        char      **pt_old_stays;  /* stay_ids of pruned stays: a later
                                    * admission or discharge of one is not
                                    * its first (docs/RULES.md §8) */
        int         pt_nold_stays;
        vg_alert_t *pt_alerts;     /* ACTIVE alerts published last, sorted */
        int         pt_nalerts;
        bool        pt_ids_made;   /* pt_alerts' ids made by this process's
                                    * engine, not read from a stored state:
                                    * a derivation may take them over */
        vg_cell_t  *pt_cells;      /* total contribution last time, sorted */
        int         pt_ncells;
        vg_cell_t  *pt_frozen;     /* contribution of pruned events, sorted */
        int         pt_nfrozen;
        int64_t     pt_next_due;   /* next watermark to re-derive at */
} vg_patient_t;

/* A cell delta to apply to the partition's counters. */
typedef vg_cell_t vg_delta_t;

typedef struct vg_changes_s {
        vg_alert_t *ch_alerts;     /* to publish: status ACTIVE or RETRACTED */
        int         ch_nalerts;
        vg_delta_t *ch_deltas;     /* non-zero cell deltas */
        int         ch_ndeltas;
        int         ch_duplicate;  /* the event was a duplicate: no effect */
        int         ch_variant;    /* ... or a repeat that differs from the
                                    * stored event (kept or not) */
        int         ch_conflicts;  /* conflicts seen in the derivation */
        int         ch_pruned;     /* events pruned by retention */
        int         ch_too_late;   /* the event is older than the patient's
                                    * horizon: no effect, DLQ too-late */
} vg_changes_t;

vg_patient_t *vg_patient_new(const char *patient_id);
void vg_patient_destroy(vg_patient_t *pt);

/* True if the patient has seen event ev's id (stored or pruned; the
 * target of a pruned cancellation too, unless ev is a cancellation). */
bool vg_patient_has_event(const vg_patient_t *pt, const vg_event_t *ev);

/* True if ev is the first cancellation of one of the patient's stored
 * events: one that is not itself a cancellation, and that no stored event
 * cancels yet. rules.max_patient_events keeps such a cancellation of a
 * full history (an erroneous event can always be retracted); at most one
 * per stored event, so a history stays within twice the limit. */
bool vg_patient_first_cancel(const vg_patient_t *pt, const vg_event_t *ev);

/* True if ev repeats the id of a stored event, differs from it, and is
 * kept in its place (SPEC §3 expects identical repeats; of two that
 * differ, one is kept by a fixed order: RULES.md §1). A full history
 * (rules.max_patient_events) refuses such a replacement, or a cancellation
 * replaced by a variant could be followed by another first one without
 * end. */
bool vg_patient_replaces(const vg_patient_t *pt, const vg_event_t *ev);

/* Applies ev (may be NULL: re-derive only) at the partition's watermark
 * (VG_WM_NONE: none yet). ch is overwritten; free with vg_changes_clear().
 * An event older than the patient's horizon changes nothing and sets
 * ch_too_late. */
void vg_engine_apply(const vg_rules_conf_t *rc, vg_patient_t *pt,
                     const vg_event_t *ev, int64_t watermark,
                     vg_changes_t *ch);
/* The same, ev's strings moved into the patient's history when it is
 * kept (no copy): NULL in ev then, its other fields as they were. The
 * caller still clears ev. */
void vg_engine_apply_take(const vg_rules_conf_t *rc, vg_patient_t *pt,
                          vg_event_t *ev, int64_t watermark,
                          vg_changes_t *ch);

/* pt_next_due of a patient given events it has not been derived for: due
 * at any watermark. */
#define VG_DUE_UNDERIVED (INT64_MIN + 1)

/* As vg_engine_apply_take, but ev is only added (too late and duplicate
 * found as there): no derivation, no alerts, no deltas; pt_next_due is
 * VG_DUE_UNDERIVED, and a re-derivation (ev NULL) later returns what the
 * events added since the last one changed. Unless retention might prune
 * an event now: then ev is applied as by vg_engine_apply_take (pruned
 * when it comes, as then, so that the events kept and a limit on them
 * are the same). A catching-up
 * batch adds a patient's events so and derives it once, at its commit:
 * the same state and totals, without the alerts that would have been
 * raised and retracted within the batch. */
void vg_engine_insert_take(const vg_rules_conf_t *rc, vg_patient_t *pt,
                           vg_event_t *ev, int64_t watermark,
                           vg_changes_t *ch);
/* Whether vg_engine_insert_take(rc, pt, ev, watermark) adds ev and does
 * nothing else (no too late, no prune possible), for a patient known only
 * by bounds on its events' times: newest at least the newest's
 * occurred_at (INT64_MIN: no events), oldest at most the oldest's
 * (INT64_MAX: none); ev's event_id none of its events' and no event of
 * it pruned (the caller knows). False may be said where it would: the
 * bounds are loose. */
bool vg_engine_adds_only(const vg_rules_conf_t *rc, int64_t newest,
                        int64_t oldest, const vg_event_t *ev,
                        int64_t watermark);
/* Whether vg_engine_insert_take(rc, pt, ev, watermark) would only add ev
 * (or change nothing): no retention prune possible with ev added, so no
 * derivation, no alert, no delta, and pt grows by ev alone. */
bool vg_engine_inserts_only(const vg_rules_conf_t *rc, const vg_patient_t *pt,
                            const vg_event_t *ev, int64_t watermark);

/* Retention horizon of the patient at the watermark (SPEC §7): the earlier
 * of the watermark and the newest stored event, minus retention_days;
 * INT64_MIN when there is none (no watermark or no stored event). */
int64_t vg_patient_horizon(const vg_rules_conf_t *rc, const vg_patient_t *pt,
                           int64_t watermark);

void vg_changes_clear(vg_changes_t *ch);

#endif /* VG_ENGINE_H */
