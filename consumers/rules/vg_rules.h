/*
 * vg_rules.h - the rule book of SPEC §5.0-§5.2 and §6 as one pure function.
 *
 *   vg_rules_derive(conf, patient, events, watermark) -> alerts, cells
 *
 * Given every stored event of one patient (duplicates already dropped,
 * cancellations included as events) and the partition's watermark (SPEC
 * §5.5, vg_wm.h; VG_WM_NONE when there is none yet: nothing is due), it
 * returns the patient's ACTIVE alerts and the patient's contributions to the
 * indicator cells ("indicator|area|period" -> numerator, denominator), plus
 * the next watermark at which the answer can change without a new event.
 * No I/O, no clock, no global state: the same events and watermark always
 * give the same result, whatever order the events arrived in.
 */
#ifndef VG_RULES_H
#define VG_RULES_H

#include "vg_common.h"
#include "vg_record.h"
#include "vg_time.h"
#include "vg_wm.h"

typedef struct vg_rules_conf_s {
        vg_tz_t rc_tz;                     /* calendar-date time zone */
        int     rc_window_days;            /* READMISSION_30D window [30] */
        int64_t rc_sip_deadline_ms;        /* SIP deadline after discharge
                                            * [72 h] */
        int     rc_retention_days;         /* history kept [400] */
        int     rc_eol_days;               /* eol_admission_30d [30] */
        int     rc_sip_before_death_days;  /* sip_before_death [365] */
        int     rc_max_events;             /* events kept per patient; more
                                            * go to the DLQ [5000] */
        bool    rc_register;               /* register rules on [true] */
        int     rc_register_deadline_days; /* DEATH_NOT_REGISTERED [30] */
        int64_t rc_idle_ms;                /* stream.idle_ms: a topic at its
                                            * end this long is caught up
                                            * [5000] */
} vg_rules_conf_t;

/* SPEC defaults. */
void vg_rules_conf_default(vg_rules_conf_t *rc);

/* The settings that change results, as "key=value ..." (keys as in
 * rules.*, and timezone), always in one order: what a state was built
 * with. */
#define VG_RULES_CONF_TEXT 320
void vg_rules_conf_text(const vg_rules_conf_t *rc, char *buf, size_t size);

/* One indicator contribution. What the rules derive are cases, keyed
 * "indicator|kommun|period|age|sex|diagnosis|residence" (a breakdown the
 * indicator has none of is "-"); the partition's counters are cells,
 * keyed "indicator|area|period" (breakdown all) and
 * "indicator|area|period|<breakdown>:<value>" (SPEC §6.2), for the kommun,
 * its region and SE: vg_rules_case_cells() expands one into the other. */
typedef struct vg_cell_s {
        char    *ce_key;    /* a case key (above) */
        int64_t  ce_num;    /* numerator (count for counts) */
        int64_t  ce_den;    /* denominator (0 for counts) */
        bool     ce_count;  /* a count: no denominator */
} vg_cell_t;

typedef struct vg_derived_s {
        vg_alert_t *dv_alerts;     /* ACTIVE alerts, sorted by alert_id */
        int         dv_nalerts;
        vg_cell_t  *dv_cells;      /* contributions, sorted by key */
        int         dv_ncells;
        int64_t     dv_next_due;   /* next watermark that may change the
                                    * result; INT64_MAX if none */
        int         dv_conflicts;  /* extra admissions/discharges of a stay,
                                    * extra deaths */
} vg_derived_t;

/* Derives. events[n] are the patient's stored events in any order. out is
 * overwritten (call vg_derived_clear first if reused). Can't fail. */
void vg_rules_derive(const vg_rules_conf_t *rc, const char *patient_id,
                     const vg_event_t *events, int n, int64_t watermark,
                     vg_derived_t *out);

/* The same, with the alerts this patient's last derivation gave (known,
 * nknown; any order): an alert of the same rule and anchor takes its id
 * from there instead of hashing again (alert_id is a function of rule,
 * patient and anchor alone, SPEC §5). */
void vg_rules_derive_known(const vg_rules_conf_t *rc, const char *patient_id,
                           const vg_event_t *events, int n, int64_t watermark,
                           const vg_alert_t *known, int nknown,
                           vg_derived_t *out);

/* The same, with the stay_ids of stays pruned by retention (old_stays,
 * nold; any order): an admission or discharge of one of them is not its
 * stay's - that was the pruned one - and counts as a conflict, as it did
 * with the whole history (docs/RULES.md §8). */
void vg_rules_derive_ex(const vg_rules_conf_t *rc, const char *patient_id,
                        const vg_event_t *events, int n, int64_t watermark,
                        const vg_alert_t *known, int nknown,
                        char *const *old_stays, int nold,
                        vg_derived_t *out);

void vg_derived_clear(vg_derived_t *dv);

#define VG_CASE_KEY_MAX 128  /* longest case or cell key, with its NUL */
#define VG_CASE_CELLS   15   /* cells of one case: 3 areas x (1 + 4) */

/* Splits a case key into its seven fields (f[i], len[i]: not
 * NUL-terminated): 0, or -1 if it does not have seven non-empty fields. */
int vg_rules_case_split(const char *case_key, const char *f[7],
                        size_t len[7]);

/* The counter cells of a case key, written to cells[]; returns how many
 * (9 or 15), or -1 if case_key is not a case key. */
int vg_rules_case_cells(const char *case_key,
                        char cells[VG_CASE_CELLS][VG_CASE_KEY_MAX]);

/* Deterministic alert id: 32 hex chars of SHA-256 of rule, subject and
 * anchor, each followed by a NUL byte, into buf[33]. */
char *vg_rules_alert_id(int rule, const char *subject, const char *anchor,
                        char *buf);

/* Age band of SPEC §6: "0-64", "65-74", "75-84", "85+". */
const char *vg_rules_age_band(int age);

/* First UTC instant whose local date is `day` (days since 1970-01-01). */
int64_t vg_rules_local_midnight(vg_tz_t tz, int64_t day);

/* Local midnights that start (S) and end (E, the first instant of the next
 * period) a period "YYYY-MM", "YYYY-Qn" or "YYYY". -1 if period is not one
 * of those. */
int vg_rules_period_bounds(vg_tz_t tz, const char *period, int64_t *startp,
                           int64_t *endp);

/* The quarter ("YYYY-Qn", quarter[8]) and year ("YYYY", year[5]) a month
 * "YYYY-MM" belongs to (SPEC §6.2: their counts are the sums of their
 * months'). -1 if month is not a month. */
int vg_rules_period_parents(const char *month, char *quarter, char *year);

/* SPEC §6.1 complete: the smallest watermark over all partitions (min_wm;
 * VG_WM_NONE: some partition has none, so nothing is complete) is at least
 * E plus the indicator's settling time. False for a bad period. */
bool vg_rules_complete(const vg_rules_conf_t *rc, const char *indicator,
                       const char *period, int64_t min_wm);

/* SPEC §6.1 history_complete: false when the indicator's rule could have
 * looked back before data_since (VG_WM_NONE: unknown, which counts as
 * before) from the start of the period; true for rules that never look
 * back. */
bool vg_rules_history_complete(const vg_rules_conf_t *rc,
                               const char *indicator, const char *period,
                               int64_t data_since);

#endif /* VG_RULES_H */
