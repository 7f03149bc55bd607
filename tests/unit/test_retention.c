/*
 * test_retention.c - pruning after rules.retention_days (SPEC §7) never
 * changes a figure: what pruned events contributed is frozen exactly, a
 * cancellation that arrives after its target was pruned changes nothing,
 * and a target that arrives after its cancellation was pruned stays void.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdint.h>
#include <string.h>

#include "vg_partition.h"
#include "vg_patient_store.h"
#include "vg_record_json.h"
#include "rules_helpers.h"

static vg_rules_conf_t rc;
static vg_codec_t *codec;
static vg_part_topics_t topics = {"alerts", "parts", "dlq"};

static void parse(const char *json, vg_event_t *e) {
        char err[256];
        if (vg_event_from_jsonl(json, strlen(json), e, err, sizeof(err)))
                fail_msg("%s: %s", json, err);
}

static void ev(vg_part_t *part, const char *json) {
        vg_event_t e;
        char err[256];
        parse(json, &e);
        assert_int_equal(vg_part_begin(part, 0, err, sizeof(err)), VG_OK);
        if (vg_part_event(part, &e, err, sizeof(err)))
                fail_msg("%s", err);
        assert_int_equal(th_commit(part, err, sizeof(err)), VG_OK);
        vg_record_clear(e.ev_type, &e);
}

typedef struct look_s {
        const char *key;
        int64_t     num, den;
        int         found;
} look_t;

static void look_cb(const char *key, int64_t num, int64_t den, bool count,
                    void *opaque) {
        look_t *l = opaque;
        (void)count;
        if (!strcmp(key, l->key)) {
                l->num = num;
                l->den = den;
                l->found = 1;
        }
}

static look_t cell(vg_part_t *part, const char *key) {
        look_t l = {key, 0, 0, 0};
        vg_part_cells(part, look_cb, &l);
        return l;
}

/* The counter cell key holds num / den (0 / 0 when it is not there). */
static void part_cell_is(vg_part_t *part, const char *key, int64_t num,
                         int64_t den) {
        look_t c = cell(part, key);
        assert_int_equal(c.num, num);
        assert_int_equal(c.den, den);
}

/* No case in cell key: absent, or its denominator 0. */
static void part_den0(vg_part_t *part, const char *key) {
        look_t c = cell(part, key);
        assert_int_equal(c.found ? c.den : 0, 0);
}

#define DEATH(id, t, extra)                                                    \
        "{\"type\":\"death\",\"event_id\":\"" id "\",\"patient_id\":\"p\","      \
        "\"occurred_at\":\"" t "\",\"kommun\":\"0484\",\"source_system\":"     \
        "\"s\",\"place_of_death\":\"HOME\",\"expected\":true,\"age_years\":"   \
        "80,\"sex\":\"MALE\",\"diagnosis_group\":\"COPD\"" extra "}"
#define ADM(id, t)                                                             \
        "{\"type\":\"admission\",\"event_id\":\"" id "\",\"patient_id\":"      \
        "\"p\",\"occurred_at\":\"" t "\",\"kommun\":\"0484\","                 \
        "\"source_system\":\"s\",\"stay_id\":\"" id "\",\"facility_id\":"      \
        "\"f\",\"care_setting\":\"HOSPITAL_INPATIENT\",\"planned\":false,"     \
        "\"age_years\":80,\"sex\":\"MALE\",\"diagnosis_group\":\"COPD\"}"
/* An admission of stay `stay` (ADM: its own id). */
#define ADM_STAY(id, stay, t)                                                  \
        "{\"type\":\"admission\",\"event_id\":\"" id "\",\"patient_id\":"      \
        "\"p\",\"occurred_at\":\"" t "\",\"kommun\":\"0484\","                 \
        "\"source_system\":\"s\",\"stay_id\":\"" stay "\",\"facility_id\":"    \
        "\"f\",\"care_setting\":\"HOSPITAL_INPATIENT\",\"planned\":false,"     \
        "\"age_years\":80,\"sex\":\"MALE\",\"diagnosis_group\":\"COPD\"}"
/* Another patient's event: only moves the partition's watermark. */
#define CLOCK(id, t)                                                           \
        "{\"type\":\"sip_created\",\"event_id\":\"" id "\",\"patient_id\":"    \
        "\"q\",\"occurred_at\":\"" t "\",\"kommun\":\"0680\","                 \
        "\"source_system\":\"s\",\"sip_id\":\"x\"}"

/* The tests of open_part() run on a partition of each kind: persisting
 * (Kafka mode's), and memory-only (file mode's) with none, the first or
 * the first two of its patients kept decoded (vg_part_set_decoded; the
 * others packed between events). */
static int g_kind;

static int kind_setup(void **state) {
        g_kind = (int)(intptr_t)*state;
        return 0;
}

static vg_part_t *open_part(void) {
        char err[256];
        vg_part_t *part = vg_part_open(":memory:", 0, &rc, codec, &topics, err,
                                       sizeof(err));
        assert_non_null(part);
        if (g_kind > 0) {
                vg_part_set_memory_only(part);
                vg_part_set_decoded(part, (size_t)g_kind - 1);
        }
        return part;
}

/* The patient's own event: moves its newest stored event (and the
 * watermark). */
#define OWN(id, t)                                                             \
        "{\"type\":\"sip_created\",\"event_id\":\"" id "\",\"patient_id\":"    \
        "\"p\",\"occurred_at\":\"" t "\",\"kommun\":\"0484\","                 \
        "\"source_system\":\"s\",\"sip_id\":\"x\"}"

#define DIS(id, stay, t)                                                       \
        "{\"type\":\"discharge\",\"event_id\":\"" id "\",\"patient_id\":"      \
        "\"p\",\"occurred_at\":\"" t "\",\"kommun\":\"0484\","                 \
        "\"source_system\":\"s\",\"stay_id\":\"" stay "\",\"facility_id\":"    \
        "\"f\",\"care_setting\":\"HOSPITAL_INPATIENT\",\"disposition\":"      \
        "\"HOME\",\"needs_coordination\":false}"
/* A cancellation of target (the patient's own event). */
#define OWN_CANCEL(id, t, target)                                              \
        "{\"type\":\"sip_created\",\"event_id\":\"" id "\",\"patient_id\":"    \
        "\"p\",\"occurred_at\":\"" t "\",\"kommun\":\"0484\","                 \
        "\"source_system\":\"s\",\"sip_id\":\"x\",\"cancels_event_id\":\""    \
        target "\"}"

#define DIS_SIP(id, stay, t)                                                   \
        "{\"type\":\"discharge\",\"event_id\":\"" id "\",\"patient_id\":"      \
        "\"p\",\"occurred_at\":\"" t "\",\"kommun\":\"0484\","                 \
        "\"source_system\":\"s\",\"stay_id\":\"" stay "\",\"facility_id\":"    \
        "\"f\",\"care_setting\":\"HOSPITAL_INPATIENT\",\"disposition\":"      \
        "\"HOME\",\"needs_coordination\":true}"
#define REG(id, t, death_at)                                                   \
        "{\"type\":\"register_entry\",\"event_id\":\"" id "\",\"patient_id\":" \
        "\"p\",\"occurred_at\":\"" t "\",\"kommun\":\"0484\","                 \
        "\"source_system\":\"s\",\"death_at\":\"" death_at "\",\"unit_id\":"   \
        "\"u\",\"expected\":true,\"eol_conversation\":\"YES\","                \
        "\"pain_assessed\":\"YES\",\"symptoms_assessed\":\"YES\","             \
        "\"oral_health_assessed\":\"YES\",\"prn_opioid\":\"YES\","             \
        "\"prn_anxiolytic\":\"YES\",\"prn_antiemetic\":\"YES\","               \
        "\"prn_antisecretory\":\"YES\",\"present_at_death\":\"YES\","          \
        "\"bereavement_offered\":\"YES\",\"pressure_ulcer\":\"NONE\"}"

/* Applies one event in its own batch; returns vg_part_event's result. */
static vg_err_t ev_rc(vg_part_t *part, const char *json) {
        vg_event_t e;
        char err[256];
        vg_err_t rc_;
        parse(json, &e);
        assert_int_equal(vg_part_begin(part, 0, err, sizeof(err)), VG_OK);
        rc_ = vg_part_event(part, &e, err, sizeof(err));
        assert_int_equal(th_commit(part, err, sizeof(err)), VG_OK);
        vg_record_clear(e.ev_type, &e);
        return rc_;
}

/* SPEC v2 §7: the horizon is per patient, the earlier of the watermark and
 * the patient's newest stored event, minus 400 days. Another patient's
 * events move only the watermark: nothing of this patient is pruned. */
static void test_horizon_is_per_patient(void **state) {
        vg_part_t *part = open_part();
        (void)state;
        ev(part, ADM("a1", "2024-01-01T10:00:00Z"));
        ev(part, DEATH("d1", "2024-01-21T10:00:00Z", ""));
        ev(part, CLOCK("q1", "2027-03-01T00:00:00Z"));
        assert_int_equal(vg_part_stats(part)->ps_pruned, 0);
        /* nor is a late event of the patient too late: its newest event is
         * the death, so the horizon is 2022-12-17 */
        assert_int_equal(ev_rc(part, ADM("a0", "2023-06-01T10:00:00Z")),
                         VG_OK);
        assert_int_equal(vg_part_stats(part)->ps_too_late, 0);
        vg_part_close(part);
}

static void test_frozen_exact_and_late_cancellation(void **state) {
        vg_part_t *part = open_part();
        (void)state;
        /* a readmission: two stays, the second 10 days after the first */
        ev(part, ADM("a1", "2024-01-01T10:00:00Z"));
        ev(part, DIS("d1", "a1", "2024-01-05T10:00:00Z"));
        ev(part, ADM("a2", "2024-01-15T10:00:00Z"));
        ev(part, DIS("d2", "a2", "2024-01-20T10:00:00Z"));
        /* The patient's own later event moves its horizon to 2025-04-27,
         * more than the rules' reach (400 days) after the stays: they are
         * pruned; the figures must not move. */
        part_den0(part, "readmission_30d|SE|2024-01"); /* (not settled yet) */
        ev(part, OWN("q1", "2026-06-01T00:00:00Z"));
        assert_int_equal(vg_part_stats(part)->ps_pruned, 4);
        part_cell_is(part, "readmission_30d|SE|2024-01", 1, 2);
        /* A cancellation of the pruned readmission arrives (itself within
         * the horizon): it can no longer change frozen figures, and must
         * not leave num > den. */
        ev(part, OWN_CANCEL("c1", "2026-06-02T00:00:00Z", "a2"));
        part_cell_is(part, "readmission_30d|SE|2024-01", 1, 2);
        vg_part_close(part);
}

/* SPEC §5.0 and §7: the death is the earliest Death, later ones are
 * conflicts; pruning must not let a later one take its place (figures
 * that no run without pruning has). A death in 2021 with its register
 * entry, a second Death five years on, and the patient's own event after:
 * the second stays a conflict (no death figures for 2026-02, no
 * DEATH_NOT_REGISTERED for it); the first is still the death. */
static void test_earliest_death_kept(void **state) {
        vg_part_t *part = open_part();
        look_t c;
        (void)state;
        ev(part, ADM("a0", "2019-06-10T10:00:00Z"));
        ev(part, DIS("b0", "a0", "2019-06-12T10:00:00Z"));
        ev(part, DEATH("x1", "2021-02-01T10:00:00Z", ""));
        ev(part, REG("r1", "2021-02-10T10:00:00Z", "2021-02-01T10:00:00Z"));
        ev(part, DEATH("x2", "2026-02-01T10:00:00Z", ""));
        ev(part, OWN("q1", "2026-06-01T00:00:00Z"));
        ev(part, OWN("q2", "2027-09-01T00:00:00Z"));
        /* the stay of 2019 (more than the reach before the death) goes;
         * the death and everything after it stay */
        assert_int_equal(vg_part_stats(part)->ps_pruned, 2);
        part_den0(part, "death_place.HOME|SE|2026-02");
        part_den0(part, "register_coverage|SE|2026-02");
        part_cell_is(part, "death_place.HOME|SE|2021-02", 1, 1);
        part_cell_is(part, "register_coverage|SE|2021-02", 1, 1);
        /* and the death can still be cancelled, as without pruning: the
         * second one is the death then */
        ev(part, DEATH("c1", "2027-09-02T00:00:00Z",
                       ",\"cancels_event_id\":\"x1\""));
        part_den0(part, "death_place.HOME|SE|2021-02");
        c = cell(part, "death_place.HOME|SE|2026-02");
        assert_int_equal(c.den, 1);
        vg_part_close(part);
}

/* A discharge that needs coordination five years after the death: its SIP
 * trigger is void (the death is before its deadline, SPEC §5.2) with or
 * without pruning. */
static void test_void_trigger_after_old_death(void **state) {
        vg_part_t *part = open_part();
        (void)state;
        ev(part, DEATH("x1", "2021-02-01T10:00:00Z", ""));
        ev(part, OWN("q0", "2026-01-01T00:00:00Z"));
        ev(part, ADM("a1", "2026-02-25T10:00:00Z"));
        ev(part, DIS_SIP("d1", "a1", "2026-03-01T10:00:00Z"));
        ev(part, OWN("q1", "2026-06-01T00:00:00Z"));
        part_den0(part, "sip_within_deadline|SE|2026-03");
        vg_part_close(part);
}

/* A stay is never split: a long stay whose admission is more than the
 * reach before its discharge, with the patient's SIP in between, keeps its
 * admission until the discharge comes, so the SIP window starts at the
 * admission (SPEC §5.2: [admission, deadline]) as without pruning. */
static void test_long_stay_not_split(void **state) {
        vg_part_t *part = open_part();
        (void)state;
        ev(part, ADM("a1", "2024-01-01T10:00:00Z"));
        ev(part, OWN("s1", "2025-06-01T10:00:00Z"));
        ev(part, OWN("q1", "2026-09-01T00:00:00Z"));
        assert_int_equal(vg_part_stats(part)->ps_pruned, 0);
        ev(part, DIS_SIP("d1", "a1", "2026-09-05T10:00:00Z"));
        ev(part, OWN("q2", "2026-12-01T00:00:00Z"));
        part_cell_is(part, "sip_within_deadline|SE|2026-09", 1, 1);
        /* the stay closed and settled, a later event lets it go whole */
        ev(part, OWN("q3", "2030-01-01T00:00:00Z"));
        assert_true(vg_part_stats(part)->ps_pruned >= 2);
        part_cell_is(part, "sip_within_deadline|SE|2026-09", 1, 1);
        vg_part_close(part);
}

/* A stay_id that comes again after its whole stay was pruned (a source
 * that recycles ids): with the whole history, the new admission and
 * discharge are conflicts of the old stay, whose first discharge stays
 * its discharge (SPEC §5.0). So the admission ten days after the new
 * discharge is no readmission, and the new discharge is no index
 * discharge (docs/RULES.md §8). The engine before took them for a new
 * stay: readmission_30d 1 of 2 for 2026-06. */
static void test_stay_id_reused_after_prune(void **state) {
        vg_part_t *part = open_part();
        (void)state;
        ev(part, ADM("s1", "2024-01-01T10:00:00Z"));
        ev(part, DIS("d1", "s1", "2024-01-05T10:00:00Z"));
        ev(part, OWN("q1", "2026-06-01T00:00:00Z"));
        assert_int_equal(vg_part_stats(part)->ps_pruned, 2);
        ev(part, ADM_STAY("a2", "s1", "2026-06-10T10:00:00Z"));
        ev(part, DIS("d2", "s1", "2026-06-15T10:00:00Z"));
        ev(part, ADM("s3", "2026-06-25T10:00:00Z"));
        ev(part, DIS("d3", "s3", "2026-06-28T10:00:00Z"));
        ev(part, OWN("q2", "2026-09-01T00:00:00Z"));
        part_cell_is(part, "readmission_30d|SE|2026-06", 0, 1);
        part_cell_is(part, "readmission_30d|SE|2024-01", 0, 1);
        vg_part_close(part);
}

/* A cancellation long before its target (SPEC §5.0: a cancellation may
 * come first): a cut between them would drop the cancellation and leave
 * the target live for the rules. Kept together, the death stays void. */
static void test_cancellation_kept_with_target(void **state) {
        vg_part_t *part = open_part();
        (void)state;
        ev(part, DEATH("c1", "2020-01-01T10:00:00Z",
                       ",\"cancels_event_id\":\"d1\""));
        ev(part, DEATH("d1", "2021-06-01T10:00:00Z", ""));
        ev(part, OWN("q1", "2023-01-01T00:00:00Z"));
        ev(part, OWN("q2", "2023-06-01T00:00:00Z"));
        assert_int_equal(vg_part_stats(part)->ps_pruned, 0);
        part_den0(part, "death_place.HOME|SE|2021-06");
        vg_part_close(part);
}

/* A pruned cancellation's target that comes later as a cancellation
 * itself still cancels (cancelling a cancellation has no effect, SPEC
 * §5.0): it is not taken for a void target (a plain one is:
 * test_late_target_of_pruned_cancellation). */
static void test_cancelled_cancellation_still_cancels(void **state) {
        vg_part_t *part = open_part();
        look_t c;
        (void)state;
        ev(part, OWN_CANCEL("c1", "2020-01-01T10:00:00Z", "x"));
        ev(part, DEATH("d1", "2023-01-01T10:00:00Z", ""));
        assert_int_equal(vg_part_stats(part)->ps_pruned, 1);
        c = cell(part, "death_place.HOME|SE|2023-01");
        assert_int_equal(c.den, 1);
        ev(part, DEATH("x", "2023-01-15T10:00:00Z",
                       ",\"cancels_event_id\":\"d1\""));
        part_den0(part, "death_place.HOME|SE|2023-01");
        vg_part_close(part);
}

/* SPEC v2 §7: a record older than its patient's horizon goes to the DLQ
 * with reason too-late and changes nothing, whether or not anything was
 * pruned; exactly at the horizon it is not too late. */
static void test_too_late(void **state) {
        vg_part_t *part = open_part();
        look_t c;
        (void)state;
        ev(part, ADM("a1", "2025-03-01T10:00:00Z"));
        /* horizon = 2025-03-01T10:00Z - 400 days = 2024-01-26T10:00Z */
        assert_int_equal(ev_rc(part, DEATH("d0", "2024-01-26T09:59:59.999Z",
                                           "")),
                         VG_ERR_INVALID);
        assert_string_equal(vg_part_rejected(part), "too-late");
        assert_int_equal(vg_part_stats(part)->ps_too_late, 1);
        part_den0(part, "death_place.HOME|SE|2024-01");
        /* a cancellation that old is too late as well: a1 stays */
        assert_int_equal(ev_rc(part, DEATH("c0", "2024-01-01T00:00:00Z",
                                           ",\"cancels_event_id\":\"a1\"")),
                         VG_ERR_INVALID);
        assert_int_equal(vg_part_stats(part)->ps_too_late, 2);
        /* at the horizon: applied */
        assert_int_equal(ev_rc(part, DEATH("d1", "2024-01-26T10:00:00Z", "")),
                         VG_OK);
        c = cell(part, "death_place.HOME|SE|2024-01");
        assert_int_equal(c.den, 1);
        assert_int_equal(vg_part_stats(part)->ps_too_late, 2);
        vg_part_close(part);
}

static void test_late_target_of_pruned_cancellation(void **state) {
        vg_part_t *part = open_part();
        (void)state;
        /* The cancellation arrives first, is pruned, then its target (not
         * too late: its time is within the horizon of the newest event). */
        ev(part, DEATH("c1", "2024-01-11T00:00:00Z",
                       ",\"cancels_event_id\":\"d1\""));
        ev(part, OWN("q1", "2026-06-01T00:00:00Z"));
        assert_int_equal(vg_part_stats(part)->ps_pruned, 1);
        /* horizon 2025-04-27: d1 is not too late */
        ev(part, DEATH("d1", "2025-05-10T00:00:00Z", ""));
        part_den0(part, "death_place.HOME|SE|2025-05");
        vg_part_close(part);
}

static void test_partial_prune_then_cancel(void **state) {
        vg_part_t *part = open_part();
        look_t c;
        (void)state;
        /* The horizon falls between the admission and the death: pruning
         * the admission alone would change the death's figures, so nothing
         * is pruned; cancelling the death then removes it cleanly. */
        ev(part, ADM("a1", "2024-01-01T10:00:00Z"));
        ev(part, DEATH("d1", "2024-01-21T10:00:00Z", ""));
        ev(part, OWN("q1", "2025-02-14T00:00:00Z"));
        ev(part, DEATH("c1", "2025-02-15T00:00:00Z",
                       ",\"cancels_event_id\":\"d1\""));
        c = cell(part, "eol_admission_30d|SE|2024-01");
        assert_int_equal(c.found ? c.num : 0, 0);
        assert_int_equal(c.found ? c.den : 0, 0);
        vg_part_close(part);
}

static void test_no_gap_no_prune(void **state) {
        vg_part_t *part = open_part();
        (void)state;
        /* Events closer together than the rules' reach are kept together,
         * even past retention_days, until a gap appears. */
        ev(part, OWN("a1", "2024-01-01T10:00:00Z"));
        ev(part, OWN("a2", "2024-11-01T10:00:00Z"));
        ev(part, OWN("q1", "2025-02-15T00:00:00Z"));
        assert_int_equal(vg_part_stats(part)->ps_pruned, 0);
        /* still no gap wider than the rules' reach */
        ev(part, OWN("q2", "2025-12-15T00:00:00Z"));
        assert_int_equal(vg_part_stats(part)->ps_pruned, 0);
        /* q3 leaves one after q2 (807 days) but q2 is not yet older than
         * the horizon (2026-04-27) by the rules' reach: nothing goes */
        ev(part, OWN("q3", "2027-06-01T00:00:00Z"));
        assert_int_equal(vg_part_stats(part)->ps_pruned, 0);
        /* q4: horizon 2027-01-26, minus the reach 2025-12-22: the four
         * before the gap go */
        ev(part, OWN("q4", "2028-03-01T00:00:00Z"));
        assert_int_equal(vg_part_stats(part)->ps_pruned, 4);
        vg_part_close(part);
}


/* SPEC §7 "nothing else is dropped silently": a record not older than its
 * patient's horizon is applied with everything it relates to - so retention
 * must not prune a partner it may still meet. An index discharge, the same
 * patient's event 400 days and 2 hours later (horizon: 2 hours after the
 * discharge), then a late readmission 5 hours after the discharge: not too
 * late, and it readmits the discharge. */
static void test_late_partner_within_horizon(void **state) {
        vg_part_t *part = open_part();
        (void)state;
        ev(part, ADM("a1", "2024-03-01T10:00:00Z"));
        ev(part, DIS("x1", "a1", "2024-03-05T10:00:00Z"));
        ev(part, OWN("q1", "2025-04-09T12:00:00Z"));
        assert_int_equal(ev_rc(part, ADM("a2", "2024-03-05T15:00:00Z")),
                         VG_OK);
        assert_int_equal(vg_part_stats(part)->ps_too_late, 0);
        part_cell_is(part, "readmission_30d|SE|2024-03", 1, 1);
        vg_part_close(part);
}

/* Catching up (vg_part_set_defer), an event is added without deriving
 * its patient only when retention would prune nothing then: otherwise
 * the events kept, and so what rules.max_patient_events refuses, would
 * depend on it. A patient at the limit less one, its events old: another
 * patient's event 2.4 years on moves the watermark, and this patient's two
 * new events in one batch are both kept (the first prunes the old ones,
 * as when derived as they come), the counters the same as without
 * deferring. (A stay, not a death: a death is never pruned.) */
static void defer_cells_cb(const char *key, int64_t num, int64_t den,
                           bool count, void *opaque) {
        char *out = opaque, line[300];
        snprintf(line, sizeof(line), "%s %lld %lld %d\n", key,
                 (long long)num, (long long)den, (int)count);
        if (strlen(out) + strlen(line) < 8192)
                strcat(out, line);
}

/* A run's cells (text, in cells) and counts (st, if not NULL), and the
 * partition closed. */
static void close_run(vg_part_t *part, char *cells, vg_part_stats_t *st) {
        cells[0] = '\0';
        vg_part_cells(part, defer_cells_cb, cells);
        if (st)
                *st = *vg_part_stats(part);
        vg_part_close(part);
}

static void defer_run(int64_t after, char *cells, int *refused) {
        char err[256], json[512];
        vg_rules_conf_t r = rc;
        vg_part_t *part;
        r.rc_max_events = 10;
        part = vg_part_open(":memory:", 0, &r, codec, &topics, err,
                            sizeof(err));
        assert_non_null(part);
        vg_part_set_defer(part, after);
        /* batch 1: a stay and seven SIPs, derived as they come */
        assert_int_equal(vg_part_begin(part, 0, err, sizeof(err)), VG_OK);
        for (int i = 0; i < 9; i++) {
                vg_event_t e;
                if (i == 0)
                        snprintf(json, sizeof(json), "%s",
                                 ADM("a", "2024-01-01T00:00:00Z"));
                else if (i == 1)
                        snprintf(json, sizeof(json), "%s",
                                 DIS("d", "a", "2024-01-01T00:30:00Z"));
                else
                        snprintf(json, sizeof(json),
                                 "{\"type\":\"sip_created\",\"event_id\":"
                                 "\"s%d\",\"patient_id\":\"p\","
                                 "\"occurred_at\":\"2024-01-01T%02d:00:00Z\","
                                 "\"kommun\":\"0484\",\"source_system\":"
                                 "\"s\",\"sip_id\":\"x%d\"}",
                                 i, i, i);
                parse(json, &e);
                if (vg_part_event(part, &e, err, sizeof(err)))
                        fail_msg("%s", err);
                vg_record_clear(e.ev_type, &e);
        }
        assert_int_equal(th_commit(part, err, sizeof(err)), VG_OK);
        /* batch 2: the other patient's event; batch 3: this patient's
         * two; given to keep as Kafka mode gives them */
        *refused = 0;
        for (int i = 0; i < 3; i++) {
                vg_event_t e;
                if (i < 2)
                        assert_int_equal(
                                vg_part_begin(part, 0, err, sizeof(err)),
                                VG_OK);
                snprintf(json, sizeof(json),
                         "{\"type\":\"sip_created\",\"event_id\":\"n%d\","
                         "\"patient_id\":\"%s\",\"occurred_at\":"
                         "\"2026-06-01T%02d:00:00Z\",\"kommun\":\"0484\","
                         "\"source_system\":\"s\",\"sip_id\":\"y%d\"}",
                         i, i ? "p" : "q", 10 + i, i);
                parse(json, &e);
                if (vg_part_event_hashed(part, &e,
                                         vg_hash_str(e.ev_patient_id), err,
                                         sizeof(err))) {
                        print_message("    deferring after %lld, event %d "
                                      "refused: %s\n",
                                      (long long)after, i, err);
                        (*refused)++;
                }
                vg_record_clear(e.ev_type, &e);
                if (i != 1)
                        assert_int_equal(th_commit(part, err, sizeof(err)),
                                         VG_OK);
        }
        close_run(part, cells, NULL);
}

static void test_defer_prunes_as_derived(void **state) {
        char eager[8192], deferred[8192];
        int refused_eager, refused_deferred;
        (void)state;
        defer_run(-1, eager, &refused_eager);
        defer_run(0, deferred, &refused_deferred);
        assert_int_equal(refused_eager, 0);
        assert_int_equal(refused_deferred, 0);
        assert_true(strstr(eager, "readmission_30d") != NULL);
        assert_string_equal(eager, deferred);
}

/* vg_engine_inserts_only says what vg_engine_insert_take does: an event
 * after which a prune is possible is derived with the others at once,
 * another only added. Kafka mode's long histories skip their size check
 * on its word (vg_partition.c). Checked where the outcome flips, found by
 * bisection over the event's time (the watermark fixed) and over the
 * watermark (the event's time fixed), and 1 ms either side; with no
 * watermark, only added. */
static bool only_added(const vg_patient_t *base, int64_t t, int64_t wm,
                       bool *said) {
        vg_buf_t b;
        vg_patient_t *pt;
        vg_event_t e;
        vg_changes_t ch;
        char err[256];
        const char *json = OWN("x9", "2020-01-01T00:00:00Z");
        bool only;
        vg_buf_init(&b);
        vg_patient_encode(base, &b);
        pt = vg_patient_decode("p", b.vb_data, b.vb_len, err, sizeof(err));
        assert_non_null(pt);
        parse(json, &e);
        e.ev_occurred_at = t;
        *said = vg_engine_inserts_only(&rc, pt, &e, wm);
        vg_engine_insert_take(&rc, pt, &e, wm, &ch);
        assert_false(ch.ch_too_late || ch.ch_duplicate);
        only = pt->pt_next_due == VG_DUE_UNDERIVED;
        if (only) /* (nothing else changed) */
                assert_true(!ch.ch_pruned && !ch.ch_nalerts &&
                            !ch.ch_ndeltas);
        vg_changes_clear(&ch);
        vg_record_clear(e.ev_type, &e);
        vg_patient_destroy(pt);
        vg_buf_free(&b);
        return only;
}

/* The first x in (lo, hi] where the outcome is derived (by event time:
 * wm fixed, x the time; else the watermark, t fixed), checked there and
 * 1 ms either side against vg_engine_inserts_only. */
static void flip(const vg_patient_t *base, bool by_time, int64_t lo,
                 int64_t hi, int64_t fixed) {
        bool said;
        assert_true(only_added(base, by_time ? lo : fixed,
                               by_time ? fixed : lo, &said));
        assert_false(only_added(base, by_time ? hi : fixed,
                                by_time ? fixed : hi, &said));
        while (hi - lo > 1) {
                int64_t mid = lo + (hi - lo) / 2;
                if (only_added(base, by_time ? mid : fixed,
                               by_time ? fixed : mid, &said))
                        lo = mid;
                else
                        hi = mid;
        }
        for (int64_t x = lo - 1; x <= hi + 1; x++) {
                bool only = only_added(base, by_time ? x : fixed,
                                       by_time ? fixed : x, &said);
                assert_int_equal(only, said);
        }
        print_message("    flips at %lld (%s)\n", (long long)hi,
                      by_time ? "event time" : "watermark");
}

/* Patient p: an admission at t0 (2020-01-01) and its own event `later`
 * days after, applied with no watermark (nothing pruned). */
static vg_patient_t *two_events(int later, int64_t *t0) {
        vg_patient_t *pt = vg_patient_new("p");
        const char *json[] = {ADM("a1", "2020-01-01T00:00:00Z"),
                              OWN("x1", "2020-01-01T00:00:00Z")};
        for (int i = 0; i < 2; i++) {
                vg_event_t e;
                vg_changes_t ch;
                parse(json[i], &e);
                if (i)
                        e.ev_occurred_at = *t0 + later * VG_MS_PER_DAY;
                else
                        *t0 = e.ev_occurred_at;
                vg_engine_apply(&rc, pt, &e, VG_WM_NONE, &ch);
                vg_changes_clear(&ch);
                vg_record_clear(e.ev_type, &e);
        }
        assert_int_equal(pt->pt_nevents, 2);
        return pt;
}

static void test_inserts_only_boundary(void **state) {
        int64_t t0, day = VG_MS_PER_DAY;
        vg_patient_t *near = two_events(10, &t0), *far = two_events(2000, &t0);
        bool said;
        (void)state;
        /* the event the newest: its time moves the horizon on (the
         * watermark far ahead) */
        flip(near, true, t0 + 10 * day, t0 + 3000 * day, t0 + 3000 * day);
        /* the watermark moves it (the patient's newest event later; the
         * event a day before that, never too late) */
        flip(far, false, t0 + day, t0 + 2000 * day, t0 + 1999 * day);
        /* no watermark: only added, whenever */
        assert_true(only_added(near, t0 + 3000 * day, VG_WM_NONE, &said));
        assert_true(said);
        vg_patient_destroy(near);
        vg_patient_destroy(far);
}

/* SPEC §3: an event_id is unique for its patient; a repeat has no effect.
 * One that differs (here an admission and a SIP sharing "e1") is kept by
 * type, then fields, whichever comes first: the same figures in either
 * order (an attack's: the readmission counted or not with the order, and
 * Kafka mode disagreed with file mode). variant_case: an index discharge
 * on 2026-03-01, then a and b (two events of one id), then the watermark past the window: the March readmission is
 * counted (1 of 1) whichever of a and b came first. The partition is
 * returned open. */
static vg_part_t *variant_case(const char *a, const char *b) {
        vg_part_t *part = open_part();
        ev(part, ADM("a0", "2026-02-25T10:00:00Z"));
        ev(part, DIS("d0", "a0", "2026-03-01T10:00:00Z"));
        ev(part, a);
        ev(part, b);
        ev(part, CLOCK("q1", "2026-06-01T00:00:00Z"));
        part_cell_is(part, "readmission_30d|SE|2026-03", 1, 1);
        return part;
}

static void test_repeat_that_differs(void **state) {
        /* an admission and a SIP "e1" */
        static const char *const adm = ADM("e1", "2026-03-10T10:00:00Z"),
                              *const sip = OWN("e1", "2026-03-12T10:00:00Z");
        /* ... and of one type: two admissions "e2", one within the index
         * discharge's 30 days and one after; the earlier is kept (its
         * occurred_at is the first field that differs) */
        static const char *const early = ADM("e2", "2026-03-20T10:00:00Z"),
                              *const late = ADM("e2", "2026-04-15T10:00:00Z");
        (void)state;
        for (int order = 0; order < 2; order++) {
                vg_part_t *part = variant_case(order ? sip : adm,
                                               order ? adm : sip);
                /* (and the same repeat once more: a duplicate) */
                ev(part, sip);
                part_cell_is(part, "readmission_30d|SE|2026-03", 1, 1);
                vg_part_close(part);
                vg_part_close(variant_case(order ? late : early,
                                           order ? early : late));
        }
}

/* rules.max_patient_events: a full history still takes the first
 * cancellation of each of its stored events (an erroneous event can
 * always be retracted), and nothing else new: not a second cancellation
 * of the same target, not a cancellation of a cancellation (it would
 * have no effect, SPEC §5.0), not one of an id it does not hold. The
 * limit 3 here (the setting's least is 100). */
static void test_full_history_takes_first_cancel(void **state) {
        vg_rules_conf_t saved = rc;
        vg_part_t *part;
        (void)state;
        rc.rc_max_events = 3;
        part = open_part();
        ev(part, OWN("s1", "2024-05-01T10:00:00Z"));
        ev(part, OWN("s2", "2024-05-02T10:00:00Z"));
        ev(part, DEATH("x1", "2024-05-03T10:00:00Z", ""));
        part_cell_is(part, "death_place.HOME|SE|2024-05", 1, 1);
        assert_int_equal(ev_rc(part, OWN("s3", "2024-05-03T11:00:00Z")),
                         VG_ERR_INVALID);
        assert_int_equal(ev_rc(part, DEATH("c1", "2024-05-04T10:00:00Z",
                                           ",\"cancels_event_id\":\"x1\"")),
                         VG_OK);
        part_den0(part, "death_place.HOME|SE|2024-05");
        assert_int_equal(ev_rc(part, DEATH("c2", "2024-05-04T11:00:00Z",
                                           ",\"cancels_event_id\":\"x1\"")),
                         VG_ERR_INVALID);
        assert_int_equal(
                ev_rc(part, OWN_CANCEL("c3", "2024-05-04T12:00:00Z", "c1")),
                VG_ERR_INVALID);
        assert_int_equal(
                ev_rc(part, OWN_CANCEL("c4", "2024-05-04T13:00:00Z", "zz")),
                VG_ERR_INVALID);
        /* (the kept cancellation again: a duplicate) */
        assert_int_equal(ev_rc(part, DEATH("c1", "2024-05-04T10:00:00Z",
                                           ",\"cancels_event_id\":\"x1\"")),
                         VG_OK);
        part_den0(part, "death_place.HOME|SE|2024-05");
        /* ... and a variant of it that would take its place (a review's
         * way past the limit: the target cancelled no more, another first
         * cancellation, a variant of that, without end): refused */
        assert_int_equal(
                ev_rc(part, "{\"type\":\"discharge\",\"event_id\":\"c1\","
                            "\"patient_id\":\"p\",\"occurred_at\":"
                            "\"2024-05-04T09:00:00Z\",\"kommun\":\"0484\","
                            "\"source_system\":\"s\",\"stay_id\":\"z\","
                            "\"facility_id\":\"f\",\"care_setting\":"
                            "\"HOSPITAL_INPATIENT\",\"disposition\":\"HOME\","
                            "\"needs_coordination\":false,"
                            "\"cancels_event_id\":\"s1\"}"),
                VG_ERR_INVALID);
        part_den0(part, "death_place.HOME|SE|2024-05");
        vg_part_close(part);
        rc = saved;
}

/* Catching up, an event of a packed patient goes on its tail undecoded
 * (vg_part_tail_event) only when that is all it would do: runs of one
 * batch, events given to keep as Kafka mode gives them, deferring from
 * the first (after 0) against deriving each as it comes (after -1). Too
 * late by the horizon (d0), exactly at it (d1), a repeat (a1 again), a
 * repeat that differs (s1 with another sip_id), a cancellation, another
 * patient, and an event that lets retention prune (n1, 2.4 years on):
 * the same refusals, counts and cells both ways; the deferred run adds
 * some undecoded (it fails when a repeat or a too-late event is put on
 * a tail). */
static const char *const tail_events[] = {
        ADM("a1", "2025-03-01T10:00:00Z"),
        NULL, /* (a commit: the watermark set) */
        DEATH("d0", "2024-01-26T09:59:59.999Z", ""),
        DEATH("d1", "2024-01-26T10:00:00Z", ""),
        ADM("a1", "2025-03-01T10:00:00Z"),
        OWN("s1", "2025-03-02T10:00:00Z"),
        "{\"type\":\"sip_created\",\"event_id\":\"s1\",\"patient_id\":"
        "\"p\",\"occurred_at\":\"2025-03-02T10:00:00Z\",\"kommun\":"
        "\"0484\",\"source_system\":\"s\",\"sip_id\":\"other\"}",
        OWN_CANCEL("c1", "2025-03-03T10:00:00Z", "s1"),
        CLOCK("q1", "2025-03-04T10:00:00Z"),
        DIS("x1", "a1", "2025-03-05T10:00:00Z"),
        NULL,
        CLOCK("q2", "2027-08-01T09:00:00Z"),
        NULL,
        OWN("n1", "2027-08-01T10:00:00Z"),
        OWN("n2", "2027-08-02T10:00:00Z"),
};
#define NTAIL ((int)(sizeof(tail_events) / sizeof(tail_events[0])))

static void tail_run(int64_t after, char *cells, vg_part_stats_t *st,
                     int *refused) {
        char err[256];
        vg_part_t *part = vg_part_open(":memory:", 0, &rc, codec, &topics,
                                       err, sizeof(err));
        assert_non_null(part);
        vg_part_set_defer(part, after);
        *refused = 0;
        assert_int_equal(vg_part_begin(part, 0, err, sizeof(err)), VG_OK);
        for (int i = 0; i < NTAIL; i++) {
                vg_event_t e;
                if (!tail_events[i]) {
                        assert_int_equal(th_commit(part, err, sizeof(err)),
                                         VG_OK);
                        assert_int_equal(
                                vg_part_begin(part, 0, err, sizeof(err)),
                                VG_OK);
                        continue;
                }
                parse(tail_events[i], &e);
                if (vg_part_event_hashed(part, &e,
                                         vg_hash_str(e.ev_patient_id), err,
                                         sizeof(err)))
                        *refused |= 1 << i;
                vg_record_clear(e.ev_type, &e);
        }
        assert_int_equal(th_commit(part, err, sizeof(err)), VG_OK);
        close_run(part, cells, st);
}

static void test_tail_as_decoded(void **state) {
        char eager[8192], deferred[8192];
        vg_part_stats_t a, b;
        int ra, rb;
        (void)state;
        tail_run(-1, eager, &a, &ra);
        tail_run(0, deferred, &b, &rb);
        print_message("    refused 0x%x and 0x%x; %lld added undecoded\n",
                      ra, rb, (long long)b.ps_tail);
        assert_int_equal(ra, 1 << 2); /* d0 only: too late */
        assert_int_equal(rb, ra);
        assert_int_equal(a.ps_tail, 0);
        assert_true(b.ps_tail >= 3);
        assert_int_equal(b.ps_too_late, a.ps_too_late);
        assert_int_equal(b.ps_duplicates, a.ps_duplicates);
        assert_int_equal(b.ps_duplicates, 1);
        assert_int_equal(b.ps_conflicts, a.ps_conflicts);
        assert_true(b.ps_conflicts >= 1); /* (s1 again, another sip_id) */
        assert_int_equal(b.ps_cancellations, a.ps_cancellations);
        assert_int_equal(b.ps_events, a.ps_events);
        assert_int_equal(b.ps_pruned, a.ps_pruned);
        assert_true(b.ps_pruned > 0);
        assert_string_equal(deferred, eager);
}

static int setup(void **state) {
        char err[256];
        (void)state;
        vg_rules_conf_default(&rc);
        codec = vg_codec_new(err, sizeof(err));
        return codec ? 0 : -1;
}

static int teardown(void **state) {
        (void)state;
        vg_codec_destroy(codec);
        return 0;
}

int main(void) {
/* t on each kind of partition (open_part) */
#define KINDS(t)                                                               \
        {#t " (persisting)", t, kind_setup, NULL, (void *)0},                  \
        {#t " (memory-only, all packed)", t, kind_setup, NULL, (void *)1},     \
        {#t " (memory-only, 1 decoded)", t, kind_setup, NULL, (void *)2},      \
        {#t " (memory-only, 2 decoded)", t, kind_setup, NULL, (void *)3}
        const struct CMUnitTest tests[] = {
                KINDS(test_horizon_is_per_patient),
                KINDS(test_frozen_exact_and_late_cancellation),
                KINDS(test_too_late),
                KINDS(test_late_target_of_pruned_cancellation),
                KINDS(test_partial_prune_then_cancel),
                KINDS(test_no_gap_no_prune),
                KINDS(test_late_partner_within_horizon),
                KINDS(test_earliest_death_kept),
                KINDS(test_void_trigger_after_old_death),
                KINDS(test_long_stay_not_split),
                KINDS(test_cancellation_kept_with_target),
                KINDS(test_cancelled_cancellation_still_cancels),
                KINDS(test_stay_id_reused_after_prune),
                KINDS(test_full_history_takes_first_cancel),
                KINDS(test_repeat_that_differs),
                cmocka_unit_test(test_defer_prunes_as_derived),
                cmocka_unit_test(test_inserts_only_boundary),
                cmocka_unit_test(test_tail_as_decoded),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
