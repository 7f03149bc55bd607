/*
 * rules_helpers.h - test helpers for the rule book (SPEC §5.0-§5.2, §6):
 * building events in C, deriving, looking up alerts and indicator cells.
 * Header-only (static inline) so that each test file compiles it on its own.
 * Include after <cmocka.h>.
 */
#ifndef RULES_HELPERS_H
#define RULES_HELPERS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vg_common.h"
#include "vg_engine.h"
#include "vg_record.h"
#include "vg_rules.h"
#include "vg_time.h"
#include "vg_partition.h"

#define TH_PATIENT "p1"
#define TH_KOMMUN  "0484" /* region 04 */
#define TH_KOMMUN2 "0180" /* region 01 */

#define H(n) ((int64_t)(n) * VG_MS_PER_HOUR)
#define DAYS(n) ((int64_t)(n) * VG_MS_PER_DAY)

/* RFC 3339 -> epoch ms; fails the test on a typo. */
static inline int64_t T(const char *s) {
        int64_t ms;
        if (vg_time_parse(s, &ms))
                fail_msg("cannot parse time %s", s);
        return ms;
}

/* A growable list of events (all strings heap-owned). */
typedef struct evs_s {
        vg_event_t *ev;
        int         n;
        int         cap;
} evs_t;

static inline void evs_free(evs_t *e) {
        for (int i = 0; i < e->n; i++)
                vg_record_clear(e->ev[i].ev_type, &e->ev[i]);
        vg_free(e->ev);
        memset(e, 0, sizeof(*e));
}

/* Appends a complete record of type with the §3 common fields. */
static inline vg_event_t *evs_push(evs_t *e, vg_rectype_t type,
                                   const char *patient, const char *id,
                                   int64_t at) {
        vg_event_t *ev;
        if (e->n == e->cap) {
                e->cap = e->cap ? e->cap * 2 : 16;
                e->ev = vg_realloc(e->ev, sizeof(*e->ev) * (size_t)e->cap);
        }
        ev = &e->ev[e->n++];
        memset(ev, 0, sizeof(*ev));
        ev->ev_type = type;
        ev->ev_event_id = vg_strdup(id);
        ev->ev_patient_id = vg_strdup(patient);
        ev->ev_occurred_at = at;
        ev->ev_kommun = vg_strdup(TH_KOMMUN);
        ev->ev_source_system = vg_strdup("test");
        switch (type) {
        case VG_REC_ADMISSION:
                ev->ev_stay_id = vg_strdup("s?");
                ev->ev_facility_id = vg_strdup("f1");
                ev->ev_care_setting = VG_CS_HOSPITAL_INPATIENT;
                ev->ev_age_years = 80;
                ev->ev_sex = VG_SEX_FEMALE;
                ev->ev_diagnosis_group = VG_DG_CANCER;
                ev->ev_residence = VG_RES_UNKNOWN;
                break;
        case VG_REC_DISCHARGE:
                ev->ev_stay_id = vg_strdup("s?");
                ev->ev_facility_id = vg_strdup("f1");
                ev->ev_care_setting = VG_CS_HOSPITAL_INPATIENT;
                ev->ev_disposition = VG_DISP_HOME;
                break;
        case VG_REC_DEATH:
                ev->ev_residence = VG_RES_UNKNOWN;
                ev->ev_place_of_death = VG_POD_HOME;
                ev->ev_expected = true;
                ev->ev_age_years = 80;
                ev->ev_sex = VG_SEX_FEMALE;
                ev->ev_diagnosis_group = VG_DG_CANCER;
                break;
        case VG_REC_SIP:
                ev->ev_sip_id = vg_strdup(id);
                break;
        case VG_REC_REGISTER:
                ev->ev_death_at = at;
                ev->ev_unit_id = vg_strdup("unit-1");
                ev->ev_expected = true;
                ev->ev_pressure_ulcer = VG_PU_NONE;
                break;
        default:
                fail_msg("not an event type: %d", (int)type);
        }
        return ev;
}

static inline void ev_set_str(char **field, const char *v) {
        vg_free(*field);
        *field = v ? vg_strdup(v) : NULL;
}

static inline vg_event_t *ev_kommun(vg_event_t *ev, const char *kommun) {
        ev_set_str(&ev->ev_kommun, kommun);
        return ev;
}

/* Admission of stay at `at` (patient p1, kommun 0484, age 80, CANCER). */
static inline vg_event_t *adm(evs_t *e, const char *id, int64_t at,
                              const char *stay, int setting, bool planned) {
        vg_event_t *ev = evs_push(e, VG_REC_ADMISSION, TH_PATIENT, id, at);
        ev_set_str(&ev->ev_stay_id, stay);
        ev->ev_care_setting = setting;
        ev->ev_planned = planned;
        return ev;
}

/* Unplanned HOSPITAL_INPATIENT admission. */
static inline vg_event_t *hadm(evs_t *e, const char *id, int64_t at,
                               const char *stay) {
        return adm(e, id, at, stay, VG_CS_HOSPITAL_INPATIENT, false);
}

static inline vg_event_t *dis(evs_t *e, const char *id, int64_t at,
                              const char *stay, int setting, int disp,
                              bool needs) {
        vg_event_t *ev = evs_push(e, VG_REC_DISCHARGE, TH_PATIENT, id, at);
        ev_set_str(&ev->ev_stay_id, stay);
        ev->ev_care_setting = setting;
        ev->ev_disposition = disp;
        ev->ev_needs_coordination = needs;
        return ev;
}

/* HOSPITAL_INPATIENT discharge with disposition disp, no coordination. */
static inline vg_event_t *hdis(evs_t *e, const char *id, int64_t at,
                               const char *stay, int disp) {
        return dis(e, id, at, stay, VG_CS_HOSPITAL_INPATIENT, disp, false);
}

static inline vg_event_t *death(evs_t *e, const char *id, int64_t at,
                                int place, bool expected) {
        vg_event_t *ev = evs_push(e, VG_REC_DEATH, TH_PATIENT, id, at);
        ev->ev_place_of_death = place;
        ev->ev_expected = expected;
        return ev;
}

static inline vg_event_t *sip(evs_t *e, const char *id, int64_t at) {
        return evs_push(e, VG_REC_SIP, TH_PATIENT, id, at);
}

/* A cancellation: a complete record of `type` whose cancels_event_id is
 * target. Its other fields are deliberately "active-looking" (unplanned
 * hospital admission, HOME discharge needing coordination, ...) so that a
 * rule that wrongly reads them would react. */
static inline vg_event_t *cancel(evs_t *e, const char *id, int64_t at,
                                 vg_rectype_t type, const char *target) {
        vg_event_t *ev = evs_push(e, type, TH_PATIENT, id, at);
        ev_set_str(&ev->ev_cancels_event_id, target);
        if (type == VG_REC_ADMISSION || type == VG_REC_DISCHARGE)
                ev_set_str(&ev->ev_stay_id, "s-cancel");
        if (type == VG_REC_DISCHARGE)
                ev->ev_needs_coordination = true;
        return ev;
}

static inline const vg_event_t *evs_find(const evs_t *e, const char *id) {
        for (int i = 0; i < e->n; i++)
                if (!strcmp(e->ev[i].ev_event_id, id))
                        return &e->ev[i];
        fail_msg("no event %s", id);
        return NULL;
}

/*
 * Derivation and look-ups
 */

static inline void th_conf(vg_rules_conf_t *rc) {
        vg_rules_conf_default(rc);
}

/* Commits a partition batch as if the consumer had read every input topic
 * to its end (file mode's end of input): the watermark is then the largest
 * topic time, the old "stream time" of a partition read evenly. */
static inline vg_err_t th_commit(vg_part_t *part, char *errstr,
                                 size_t errstr_size) {
        vg_part_end_of_input(part);
        return vg_part_commit(part, errstr, errstr_size);
}

static inline void derive_at(const evs_t *e, int64_t stream,
                             vg_derived_t *dv) {
        vg_rules_conf_t rc;
        th_conf(&rc);
        vg_derived_clear(dv);
        vg_rules_derive(&rc, TH_PATIENT, e->ev, e->n, stream, dv);
}

/* Stream time = the largest occurred_at of the events (SPEC §5.2). */
static inline int64_t evs_max_time(const evs_t *e) {
        int64_t m = INT64_MIN;
        for (int i = 0; i < e->n; i++)
                if (e->ev[i].ev_occurred_at > m)
                        m = e->ev[i].ev_occurred_at;
        return m;
}

/* The first derived case that counts in counter cell key (for its
 * ce_count); NULL if none. */
static inline const vg_cell_t *cell_find(const vg_derived_t *dv,
                                         const char *key) {
        for (int i = 0; i < dv->dv_ncells; i++) {
                char cells[VG_CASE_CELLS][VG_CASE_KEY_MAX];
                int n = vg_rules_case_cells(dv->dv_cells[i].ce_key, cells);
                for (int c = 0; c < n; c++)
                        if (!strcmp(cells[c], key))
                                return &dv->dv_cells[i];
        }
        return NULL;
}

/* Counter cell key ("ind|area|period[|breakdown]") as the partition
 * counts it: the sum over the derived cases that expand into it
 * (vg_rules_case_cells). A missing cell is 0/0. */
static inline void cell_get(const vg_derived_t *dv, const char *key,
                            int64_t *num, int64_t *den) {
        *num = *den = 0;
        for (int i = 0; i < dv->dv_ncells; i++) {
                char cells[VG_CASE_CELLS][VG_CASE_KEY_MAX];
                int n = vg_rules_case_cells(dv->dv_cells[i].ce_key, cells);
                assert_true(n == 9 || n == 15);
                for (int c = 0; c < n; c++)
                        if (!strcmp(cells[c], key)) {
                                *num += dv->dv_cells[i].ce_num;
                                *den += dv->dv_cells[i].ce_den;
                        }
        }
}

static inline void dump_cells(const vg_derived_t *dv) {
        for (int i = 0; i < dv->dv_ncells; i++)
                print_message("    cell %s = %lld/%lld%s\n",
                              dv->dv_cells[i].ce_key,
                              (long long)dv->dv_cells[i].ce_num,
                              (long long)dv->dv_cells[i].ce_den,
                              dv->dv_cells[i].ce_count ? " (count)" : "");
}

/* Asserts num/den of "ind|area|period" (missing = 0/0). */
#define expect_cell(dv, ind, area, period, enum_, eden_)                       \
        expect_cell_at((dv), (ind), (area), (period), (enum_), (eden_),        \
                       __FILE__, __LINE__)

static inline void expect_cell_at(const vg_derived_t *dv, const char *ind,
                                  const char *area, const char *period,
                                  int64_t enum_, int64_t eden,
                                  const char *file, int line) {
        char key[256];
        int64_t num, den;
        snprintf(key, sizeof(key), "%s|%s|%s", ind, area, period);
        cell_get(dv, key, &num, &den);
        if (num != enum_ || den != eden) {
                dump_cells(dv);
                print_error("%s: expected %lld/%lld, got %lld/%lld\n", key,
                            (long long)enum_, (long long)eden, (long long)num,
                            (long long)den);
                _fail(file, line);
        }
}

/* Same figure for the kommun, its region and SE. */
#define expect_cell3(dv, ind, kommun, period, enum_, eden_)                    \
        do {                                                                   \
                char reg_[3] = {(kommun)[0], (kommun)[1], 0};                  \
                expect_cell((dv), (ind), (kommun), (period), (enum_), (eden_));\
                expect_cell((dv), (ind), reg_, (period), (enum_), (eden_));    \
                expect_cell((dv), (ind), "SE", (period), (enum_), (eden_));    \
        } while (0)

/* Kommun and region only (for "nothing under this other kommun"). */
#define expect_cell_kr(dv, ind, kommun, period, enum_, eden_)                  \
        do {                                                                   \
                char reg_[3] = {(kommun)[0], (kommun)[1], 0};                  \
                expect_cell((dv), (ind), (kommun), (period), (enum_), (eden_));\
                expect_cell((dv), (ind), reg_, (period), (enum_), (eden_));    \
        } while (0)

/* Sum over the counter cells whose key starts with prefix (for "nothing
 * at all"): every cell each derived case expands into. */
static inline void cell_sum_prefix(const vg_derived_t *dv, const char *prefix,
                                   int64_t *num, int64_t *den) {
        size_t l = strlen(prefix);
        *num = *den = 0;
        for (int i = 0; i < dv->dv_ncells; i++) {
                char cells[VG_CASE_CELLS][VG_CASE_KEY_MAX];
                int n = vg_rules_case_cells(dv->dv_cells[i].ce_key, cells);
                for (int c = 0; c < n; c++)
                        if (!strncmp(cells[c], prefix, l)) {
                                *num += dv->dv_cells[i].ce_num;
                                *den += dv->dv_cells[i].ce_den;
                        }
        }
}

static inline int count_alerts(const vg_derived_t *dv, int rule) {
        int n = 0;
        for (int i = 0; i < dv->dv_nalerts; i++)
                if (dv->dv_alerts[i].al_rule == rule)
                        n++;
        return n;
}

static inline const vg_alert_t *find_alert(const vg_derived_t *dv, int rule,
                                           const char *anchor) {
        for (int i = 0; i < dv->dv_nalerts; i++)
                if (dv->dv_alerts[i].al_rule == rule &&
                    !strcmp(dv->dv_alerts[i].al_anchor, anchor))
                        return &dv->dv_alerts[i];
        return NULL;
}

static inline void dump_alerts(const vg_derived_t *dv) {
        char b1[VG_TIME_BUFSZ], b2[VG_TIME_BUFSZ];
        for (int i = 0; i < dv->dv_nalerts; i++) {
                const vg_alert_t *a = &dv->dv_alerts[i];
                print_message(
                        "    alert %s rule=%d anchor=%s kommun=%s idx=%s "
                        "idx_at=%s days=%lld stay=%s deadline=%s\n",
                        a->al_alert_id, a->al_rule, a->al_anchor,
                        a->al_kommun,
                        a->al_index_stay_id ? a->al_index_stay_id : "-",
                        a->al_index_discharged_at.set
                                ? vg_time_format(a->al_index_discharged_at.v,
                                                 b1)
                                : "-",
                        (long long)a->al_days_between.v,
                        a->al_stay_id ? a->al_stay_id : "-",
                        a->al_deadline.set
                                ? vg_time_format(a->al_deadline.v, b2)
                                : "-");
        }
}

#define expect_nalerts(dv, rule, n)                                            \
        do {                                                                   \
                if (count_alerts((dv), (rule)) != (n)) {                       \
                        dump_alerts(dv);                                       \
                        fail_msg("expected %d alerts of rule %d, got %d",      \
                                 (n), (rule), count_alerts((dv), (rule)));     \
                }                                                              \
        } while (0)

#define expect_alert(dv, rule, anchor)                                         \
        expect_alert_at((dv), (rule), (anchor), __FILE__, __LINE__)

static inline const vg_alert_t *expect_alert_at(const vg_derived_t *dv,
                                                int rule, const char *anchor,
                                                const char *file, int line) {
        const vg_alert_t *a = find_alert(dv, rule, anchor);
        if (!a) {
                dump_alerts(dv);
                print_error("no alert of rule %d anchored on %s\n", rule,
                            anchor);
                _fail(file, line);
        }
        return a;
}

#endif /* RULES_HELPERS_H */
