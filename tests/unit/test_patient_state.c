/*
 * test_patient_state.c - a patient's state in the partition store: the
 * binary form reads back to exactly the state that was written (every
 * record type, optional fields set and unset, cancellations, alerts, cells,
 * pruned ids and frozen cells), is a fraction of the JSON text's size, and
 * the JSON text of earlier releases is still read, and so are formats 1
 * (FNV-1a's checksum) and 2 (bytes an earlier release wrote). Format 3's
 * strings (numbered, hex, UUIDs) and key names are checked byte by byte.
 * Corrupt bytes - every truncation, 20,000 random flips - are refused (a
 * checksum), never a crash; so are 20,000 flipped states whose checksum
 * was made to match, which reach the decoder's every read. Each event
 * type's patient_id is where the store looks for it (left out of the
 * bytes).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "vg_config.h"
#include "vg_engine.h"
#include "vg_patient_store.h"
#include "vg_record_json.h"
#include "vg_rules.h"
#include "vg_time.h"

#include "patient_format2.h"

#define PID "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
#define COMMON(type, id, t)                                                    \
        "{\"type\":\"" type "\",\"event_id\":\"" id "\",\"patient_id\":\""     \
        PID "\",\"occurred_at\":\"" t "\",\"kommun\":\"0484\","                \
        "\"source_system\":\"s\","

static const char *story[] = {
        COMMON("admission", "a1", "2024-03-01T10:00:00Z")
        "\"cancels_event_id\":null,\"stay_id\":\"s1\",\"facility_id\":\"f\","
        "\"care_setting\":\"HOSPITAL_INPATIENT\",\"planned\":false,"
        "\"age_years\":80,\"sex\":\"MALE\",\"diagnosis_group\":\"COPD\","
        "\"residence\":\"NURSING_HOME\"}",
        COMMON("discharge", "d1", "2024-03-05T10:00:00.250Z")
        "\"stay_id\":\"s1\",\"facility_id\":\"f\",\"care_setting\":"
        "\"HOSPITAL_INPATIENT\",\"disposition\":\"HOME\","
        "\"needs_coordination\":true}",
        COMMON("admission", "a2", "2024-03-20T10:00:00Z")
        "\"stay_id\":\"s2\",\"facility_id\":\"f\",\"care_setting\":"
        "\"HOSPITAL_INPATIENT\",\"planned\":true,\"age_years\":-3,\"sex\":\"MALE\","
        "\"diagnosis_group\":\"COPD\"}",
        COMMON("discharge", "d2", "2024-03-25T10:00:00Z")
        "\"stay_id\":\"s2\",\"facility_id\":\"f\",\"care_setting\":"
        "\"HOSPITAL_INPATIENT\",\"disposition\":\"AGAINST_ADVICE\","
        "\"needs_coordination\":true}",
        COMMON("sip_created", "x1", "2024-03-26T10:00:00Z")
        "\"cancels_event_id\":\"nothing-yet\",\"sip_id\":\"sip-1\"}",
        COMMON("death", "m1", "2025-06-01T03:00:00Z")
        "\"place_of_death\":\"HOSPITAL\",\"expected\":true,\"age_years\":81,"
        "\"sex\":\"MALE\",\"diagnosis_group\":\"COPD\","
        "\"residence\":\"ORDINARY_HOME\"}",
        COMMON("register_entry", "r1", "2025-06-20T08:00:00Z")
        "\"death_at\":\"2025-06-01T03:00:00Z\",\"unit_id\":\"LIN\","
        "\"expected\":true,\"eol_conversation\":\"YES\",\"pain_assessed\":"
        "\"UNKNOWN\",\"symptoms_assessed\":\"NO\",\"oral_health_assessed\":"
        "\"YES\",\"prn_opioid\":\"YES\",\"prn_anxiolytic\":\"NO\","
        "\"prn_antiemetic\":\"YES\",\"prn_antisecretory\":\"YES\","
        "\"present_at_death\":\"NO\",\"bereavement_offered\":\"YES\","
        "\"pressure_ulcer\":\"NONE\"}",
        /* the patient's newest event, far later: its horizon moves on */
        COMMON("sip_created", "x2", "2027-01-01T00:00:00Z")
        "\"sip_id\":\"sip-2\"}",
};

/* 2028-01-01T00:00:00Z */
#define T_AHEAD 1830297600000LL

static char *json_of(const vg_patient_t *pt) {
        return vg_patient_serialize(pt);
}

/* The story applied event by event with the watermark following it, then
 * far ahead (alerts, closed windows, a prune of the 2024 stays). */
static vg_patient_t *build(void) {
        vg_rules_conf_t rc;
        vg_patient_t *pt = vg_patient_new(PID);
        vg_rules_conf_default(&rc);
        for (size_t i = 0; i < sizeof(story) / sizeof(story[0]); i++) {
                vg_event_t ev;
                vg_changes_t ch;
                char err[256];
                if (vg_event_from_jsonl(story[i], strlen(story[i]), &ev, err,
                                        sizeof(err)))
                        fail_msg("story[%zu]: %s", i, err);
                vg_engine_apply(&rc, pt, &ev, ev.ev_occurred_at, &ch);
                vg_changes_clear(&ch);
                vg_record_clear(ev.ev_type, &ev);
        }
        return pt;
}

static void roundtrip(const vg_patient_t *pt) {
        vg_buf_t a, b;
        char err[256], *ja, *jb;
        vg_patient_t *back;
        vg_buf_init(&a);
        vg_buf_init(&b);
        vg_patient_encode(pt, &a);
        back = vg_patient_decode(PID, a.vb_data, a.vb_len, err, sizeof(err));
        if (!back)
                fail_msg("decode: %s", err);
        vg_patient_encode(back, &b);
        assert_int_equal(a.vb_len, b.vb_len);
        assert_memory_equal(a.vb_data, b.vb_data, a.vb_len);
        ja = json_of(pt);
        jb = json_of(back);
        assert_string_equal(ja, jb);
        print_message("    %d events, %d alerts, %d cells, %d frozen, %d "
                      "pruned ids: %zu bytes binary, %zu bytes JSON\n",
                      pt->pt_nevents, pt->pt_nalerts, pt->pt_ncells,
                      pt->pt_nfrozen, pt->pt_nold, a.vb_len, strlen(ja));
        assert_true(a.vb_len * 2 < strlen(ja));
        vg_free(ja);
        vg_free(jb);
        vg_patient_destroy(back);
        vg_buf_free(&a);
        vg_buf_free(&b);
}

static void test_roundtrip(void **state) {
        vg_patient_t *pt = build();
        vg_rules_conf_t rc;
        vg_changes_t ch;
        (void)state;
        assert_true(pt->pt_nevents >= 2);
        assert_true(pt->pt_ncells > 0);
        roundtrip(pt);
        /* Far ahead: alerts due, then a prune (frozen cells, old ids). */
        vg_rules_conf_default(&rc);
        vg_engine_apply(&rc, pt, NULL, T_AHEAD, &ch);
        vg_changes_clear(&ch);
        assert_true(pt->pt_nold > 0);
        assert_true(pt->pt_nfrozen > 0);
        roundtrip(pt);
        vg_patient_destroy(pt);
}

static void reseal(unsigned char *c, size_t len);

/* What formats 1 to 3 do not hold: the ids of the stays pruned. */
static void drop_old_stays(vg_patient_t *pt) {
        for (int i = 0; i < pt->pt_nold_stays; i++)
                vg_free(pt->pt_old_stays[i]);
        pt->pt_nold_stays = 0;
}

/* Format 4 is format 3 with the pruned stays' ids: written only by a
 * patient that has some (build()'s 2024 stays were pruned), so that other
 * states stay readable by earlier releases. */
static void test_format4_old_stays(void **state) {
        vg_patient_t *pt = build(), *back;
        vg_buf_t b;
        char err[256];
        (void)state;
        vg_buf_init(&b);
        assert_true(pt->pt_nold_stays > 0);
        vg_patient_encode(pt, &b);
        assert_int_equal(b.vb_data[1], 4);
        back = vg_patient_decode(PID, b.vb_data, b.vb_len, err, sizeof(err));
        if (!back)
                fail_msg("decode: %s", err);
        assert_int_equal(back->pt_nold_stays, pt->pt_nold_stays);
        for (int i = 0; i < pt->pt_nold_stays; i++)
                assert_string_equal(back->pt_old_stays[i],
                                    pt->pt_old_stays[i]);
        vg_patient_destroy(back);
        /* read as format 3, the list is bytes too many: corrupt */
        b.vb_data[1] = 3;
        reseal((unsigned char *)b.vb_data, b.vb_len);
        assert_null(vg_patient_decode(PID, b.vb_data, b.vb_len, err,
                                      sizeof(err)));
        assert_non_null(strstr(err, "corrupt"));
        /* without pruned stays: format 3 */
        drop_old_stays(pt);
        b.vb_len = 0;
        vg_patient_encode(pt, &b);
        assert_int_equal(b.vb_data[1], 3);
        vg_buf_free(&b);
        vg_patient_destroy(pt);
}

/* A state written as JSON text by an earlier release reads the same. */
static void test_reads_json(void **state) {
        vg_patient_t *pt = build(), *back;
        char *text = json_of(pt), *again, err[256];
        (void)state;
        back = vg_patient_decode(PID, text, strlen(text), err, sizeof(err));
        if (!back)
                fail_msg("%s", err);
        again = json_of(back);
        assert_string_equal(text, again);
        vg_free(text);
        vg_free(again);
        vg_patient_destroy(back);
        vg_patient_destroy(pt);
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t next_rand(void) {
        rng ^= rng >> 12;
        rng ^= rng << 25;
        rng ^= rng >> 27;
        return rng * 2685821657736338717ull;
}

/* Format 1 as an earlier release wrote it: this release's bytes with
 * version 1 and FNV-1a (32 bits, little-endian) of the bytes before it. */
static void as_format1(unsigned char *c, size_t len) {
        uint32_t h = 2166136261u;
        c[1] = 1;
        for (size_t i = 0; i + 4 < len; i++)
                h = (h ^ c[i]) * 16777619u;
        for (int i = 0; i < 4; i++)
                c[len - 4 + i] = (unsigned char)(h >> (8 * i));
}

/* The checksum of c's bytes before it, by the format c[1] says. */
static void reseal(unsigned char *c, size_t len) {
        uint32_t h = vg_patient_checksum(c, len - 4);
        for (int i = 0; i < 4; i++)
                c[len - 4 + i] = (unsigned char)(h >> (8 * i));
}

/* The bytes format 2 wrote (patient_format2.h) and format 1 (the same
 * with FNV-1a) read back to the same state as build() makes now, which is
 * written in format 3, in fewer bytes. */
static void test_reads_earlier_formats(void **state) {
        vg_patient_t *pt = build(), *back;
        vg_buf_t a;
        unsigned char c[sizeof(patient_format2)];
        char err[256], *ja, *jb;
        (void)state;
        vg_buf_init(&a);
        drop_old_stays(pt); /* (format 4's) */
        vg_patient_encode(pt, &a);
        assert_int_equal((unsigned char)a.vb_data[1], 3);
        print_message("    format 3: %zu bytes, format 2: %zu\n", a.vb_len,
                      sizeof(patient_format2));
        assert_true(a.vb_len * 3 < sizeof(patient_format2) * 2);
        ja = json_of(pt);
        for (int f = 2; f >= 1; f--) {
                memcpy(c, patient_format2, sizeof(c));
                if (f == 1)
                        as_format1(c, sizeof(c));
                back = vg_patient_decode(PID, c, sizeof(c), err, sizeof(err));
                if (!back)
                        fail_msg("format %d: %s", f, err);
                jb = json_of(back);
                assert_string_equal(ja, jb);
                vg_free(jb);
                vg_patient_destroy(back);
                /* and its checksum is checked: a changed byte is refused */
                c[sizeof(c) / 2] ^= 0x40;
                assert_null(vg_patient_decode(PID, c, sizeof(c), err,
                                              sizeof(err)));
                assert_non_null(strstr(err, "corrupt"));
        }
        /* a format this release does not know */
        a.vb_data[1] = 5;
        assert_null(vg_patient_decode(PID, a.vb_data, a.vb_len, err,
                                      sizeof(err)));
        assert_non_null(strstr(err, "format 5"));
        vg_free(ja);
        vg_buf_free(&a);
        vg_patient_destroy(pt);
}

/* Format 3's strings, byte by byte (as a patient's pruned ids, the only
 * strings between two counts): numbered in order, a repeat written as
 * its number; lowercase hex of even length as bytes; a lowercase UUID as
 * 16 bytes; anything else as its length and bytes. */
static void test_strings(void **state) {
        static const char *const ids[] = {
                "0484", "0484", "abc", "ABCD",
                "9f86d081-8841-4c7d-a59a-2feaa0c55ad0",
                "9F86D081-8841-4C7D-A59A-2FEAA0C55AD0", "", "abc", "012",
                "9f86d081-8841-4c7d-a59a-2feaa0c55ad0", "ab",
                "9f86d081-8841-4c7d-a59a2feaa0c55ad0-",
        };
        enum { NI = sizeof(ids) / sizeof(ids[0]) };
        static const unsigned char want[] = {
                0xB1, 0x03, 0,  /* magic, format, no events */
                NI,
                10, 0x04, 0x84, /* #0 hex */
                1,              /* #0 */
                12, 'a', 'b', 'c', /* #1 */
                16, 'A', 'B', 'C', 'D', /* #2 */
                3, 0x9f, 0x86, 0xd0, 0x81, 0x88, 0x41, 0x4c, 0x7d, 0xa5,
                0x9a, 0x2f, 0xea, 0xa0, 0xc5, 0x5a, 0xd0, /* #3 UUID */
                0x90, 0x01, '9', 'F', '8', '6', 'D', '0', '8', '1', '-', '8',
                '8', '4', '1', '-', '4', 'C', '7', 'D', '-', 'A', '5', '9',
                'A', '-', '2', 'F', 'E', 'A', 'A', '0', 'C', '5', '5', 'A',
                'D', '0', /* #4, 36 bytes */
                0,              /* #5 "" */
                5,              /* #1 */
                12, '0', '1', '2', /* #6: odd length */
                13,             /* #3 */
                6, 0xab,        /* #7 */
                0x90, 0x01, '9', 'f', '8', '6', 'd', '0', '8', '1', '-', '8',
                '8', '4', '1', '-', '4', 'c', '7', 'd', '-', 'a', '5', '9',
                'a', '2', 'f', 'e', 'a', 'a', '0', 'c', '5', '5', 'a', 'd',
                '0', '-', /* #8: a dash out of place */
                0, 0, 0, 0,     /* no cancelled ids, alerts, cells, frozen */
                0,              /* next due 0 */
        };
        vg_patient_t *pt = vg_patient_new(PID), *back;
        vg_buf_t a;
        char err[256];
        (void)state;
        pt->pt_next_due = 0;
        pt->pt_old_ids = vg_calloc(NI, sizeof(char *));
        for (int i = 0; i < NI; i++)
                pt->pt_old_ids[i] = vg_strdup(ids[i]);
        pt->pt_nold = NI;
        vg_buf_init(&a);
        vg_patient_encode(pt, &a);
        assert_int_equal(a.vb_len, sizeof(want) + 4);
        assert_memory_equal(a.vb_data, want, sizeof(want));
        back = vg_patient_decode(PID, a.vb_data, a.vb_len, err, sizeof(err));
        if (!back)
                fail_msg("decode: %s", err);
        assert_int_equal(back->pt_nold, NI);
        for (int i = 0; i < NI; i++)
                assert_string_equal(back->pt_old_ids[i], ids[i]);
        vg_patient_destroy(back);
        vg_patient_destroy(pt);
        vg_buf_free(&a);
}

/* Only the first 255 strings are numbered: 300 distinct ones, then each
 * again, read back the same, the first 255 repeats as their numbers and
 * the 45 after them written again whole. */
static void test_string_table_full(void **state) {
        enum { NS = 300 };
        vg_patient_t *pt = vg_patient_new(PID), *back;
        vg_buf_t a;
        char err[256];
        (void)state;
        pt->pt_next_due = 0;
        pt->pt_old_ids = vg_calloc(2 * NS, sizeof(char *));
        for (int i = 0; i < 2 * NS; i++) {
                char id[32];
                snprintf(id, sizeof(id), "event-%d", i % NS);
                pt->pt_old_ids[i] = vg_strdup(id);
        }
        pt->pt_nold = 2 * NS;
        vg_buf_init(&a);
        vg_patient_encode(pt, &a);
        back = vg_patient_decode(PID, a.vb_data, a.vb_len, err, sizeof(err));
        if (!back)
                fail_msg("decode: %s", err);
        assert_int_equal(back->pt_nold, 2 * NS);
        for (int i = 0; i < 2 * NS; i++)
                assert_string_equal(back->pt_old_ids[i], pt->pt_old_ids[i]);
        /* magic, format, no events, 600 (2 bytes); "event-0".."event-9"
         * 8 bytes each, "event-10".."event-99" 9, the other 200 10; the
         * numbers 0-31 one byte, 32-254 two; 45 strings of 10 again; five
         * zeros (no cancelled ids, alerts, cells, frozen; due 0); the sum */
        assert_int_equal(a.vb_len, 2 + 1 + 2 + (10 * 8 + 90 * 9 + 200 * 10) +
                                           (32 + 223 * 2) + 45 * 10 + 5 + 4);
        vg_patient_destroy(back);
        vg_patient_destroy(pt);
        vg_buf_free(&a);
}

/* vg_patient_encode's bound (the size check of Kafka mode's long
 * histories rests on it, vg_partition.c): a state that only gains events
 * encodes to at most the bound when it was encoded plus each event's
 * vg_patient_event_growth. The events' new strings fill the string
 * table, so that the pruned ids after them, numbered before, are written
 * whole: the encoding grows by far more than the events' own bytes, and
 * more than the length when it was encoded plus their growth. */
static void test_encode_bound(void **state) {
        enum { NOLD = 200, REPEAT = 20, NEV = 80 };
        vg_patient_t *pt = vg_patient_new(PID);
        size_t bound, len0, sum = 0;
        vg_buf_t a;
        bool past_len = false;
        (void)state;
        pt->pt_next_due = 0;
        pt->pt_old_ids = vg_calloc(NOLD * REPEAT, sizeof(char *));
        for (int i = 0; i < NOLD * REPEAT; i++) {
                char id[32];
                snprintf(id, sizeof(id), "old-%d", i % NOLD);
                pt->pt_old_ids[pt->pt_nold++] = vg_strdup(id);
        }
        vg_buf_init(&a);
        bound = vg_patient_encode(pt, &a);
        len0 = a.vb_len;
        assert_true(bound >= len0);
        pt->pt_events = vg_calloc(NEV, sizeof(vg_event_t));
        pt->pt_cap = NEV;
        for (int i = 0; i < NEV; i++) {
                char json[1024], err[256];
                vg_event_t ev;
                snprintf(json, sizeof(json),
                         COMMON("admission", "event-%d",
                                "2024-03-01T10:00:00Z")
                         "\"stay_id\":\"stay-%d\",\"facility_id\":"
                         "\"facility-%d\",\"care_setting\":"
                         "\"HOSPITAL_INPATIENT\",\"planned\":false,"
                         "\"age_years\":80,\"sex\":\"MALE\","
                         "\"diagnosis_group\":\"COPD\"}",
                         i, i, i);
                if (vg_event_from_jsonl(json, strlen(json), &ev, err,
                                        sizeof(err)))
                        fail_msg("%s: %s", json, err);
                sum += vg_patient_event_growth(&ev);
                vg_record_move(ev.ev_type, &pt->pt_events[pt->pt_nevents++],
                               &ev);
                vg_record_clear(VG_REC_ADMISSION, &ev);
                pt->pt_next_due = VG_DUE_UNDERIVED;
                vg_buf_reset(&a);
                vg_patient_encode(pt, &a);
                assert_true(a.vb_len <= bound + sum);
                past_len |= a.vb_len > len0 + sum;
        }
        print_message("    %d events added: %zu bytes, bound %zu + %zu "
                      "(encoded first: %zu bytes)\n",
                      NEV, a.vb_len, bound, sum, len0);
        assert_true(past_len);
        vg_patient_destroy(pt);
        vg_buf_free(&a);
}

/* Format 3's reads that no encoder makes are refused, each beside bytes
 * that differ only there and are read: a string numbered before any, or
 * past the strings numbered; a UUID tag with a count; hex of no bytes; a
 * NUL in a string; a key name past the table's end. */
static void test_format3_refused(void **state) {
#define TAIL 0, 0, 0, 0, 0 /* no cancelled ids, alerts, cells, frozen; due */
#define U16 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16
        static const struct {
                const char   *what;
                unsigned char good[32], bad[32];
                size_t        n;
        } cases[] = {
                {"#0 before any", {0xB1, 3, 0, 1, 0, TAIL},
                 {0xB1, 3, 0, 1, 1, TAIL}, 10},
                {"#1 after one", {0xB1, 3, 0, 2, 4, 'x', 1, TAIL},
                 {0xB1, 3, 0, 2, 4, 'x', 5, TAIL}, 12},
                {"UUID tag with a count", {0xB1, 3, 0, 1, 3, U16, TAIL},
                 {0xB1, 3, 0, 1, 7, U16, TAIL}, 26},
                {"hex of no bytes", {0xB1, 3, 0, 1, 6, 0xab, TAIL},
                 {0xB1, 3, 0, 1, 2, 0xab, TAIL}, 11},
                {"a NUL in a string", {0xB1, 3, 0, 1, 8, 'a', 'b', TAIL},
                 {0xB1, 3, 0, 1, 8, 'a', 0, TAIL}, 12},
                {"key name 49",
                 {0xB1, 3, 0, 0, 0, 0, 1, 1, 0, 97, 0, 0, 0, 0, 0},
                 {0xB1, 3, 0, 0, 0, 0, 1, 1, 0, 99, 0, 0, 0, 0, 0}, 15},
        };
#undef TAIL
#undef U16
        (void)state;
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                unsigned char c[40];
                size_t n = cases[i].n + 4;
                char err[256];
                vg_patient_t *back;
                memcpy(c, cases[i].good, cases[i].n);
                reseal(c, n);
                back = vg_patient_decode(PID, c, n, err, sizeof(err));
                if (!back)
                        fail_msg("%s, the good bytes: %s", cases[i].what, err);
                vg_patient_destroy(back);
                memcpy(c, cases[i].bad, cases[i].n);
                reseal(c, n);
                back = vg_patient_decode(PID, c, n, err, sizeof(err));
                if (back)
                        fail_msg("%s: read", cases[i].what);
                assert_non_null(strstr(err, "corrupt"));
        }
}

/* Every indicator Vigil knows has a key name of its own, at the number
 * states store (the table's order, written out here: a name moved in the
 * table would read stored keys as another indicator's), and build()'s
 * keys are written with theirs. */
static void test_key_names(void **state) {
        static const char *const named[] = {
                "readmission_30d", "sip_within_deadline", "eol_admission_30d",
                "eol_readmission_30d", "sip_before_death", "register_coverage",
                "death_place.HOSPITAL", "death_place.PALLIATIVE_UNIT",
                "death_place.NURSING_HOME", "death_place.SHORT_TERM_CARE",
                "death_place.HOME", "death_place.HOME_WITH_SSIH",
                "death_place.OTHER", "death_place.UNKNOWN",
                "spr.eol_conversation", "spr.pain_assessed",
                "spr.symptoms_assessed", "spr.oral_health_assessed",
                "spr.prn_opioid", "spr.prn_anxiolytic", "spr.prn_antiemetic",
                "spr.prn_antisecretory", "spr.present_at_death",
                "spr.bereavement_offered", "spr.pressure_ulcer_free",
        };
        static const char *const ages[] = {"0-64", "65-74", "75-84", "85+"};
        static const char *const diags[] = {"CANCER", "COPD", "HEART_FAILURE",
                                            "KIDNEY_FAILURE", "DEMENTIA",
                                            "OTHER"};
        enum { NN = sizeof(named) / sizeof(named[0]) };
        vg_patient_t *pt = build();
        (void)state;
        for (int i = 0; i < NN + 24; i++) {
                char name[64];
                int k;
                if (i < NN)
                        snprintf(name, sizeof(name), "%s", named[i]);
                else
                        snprintf(name, sizeof(name), "ssih_enrolment.%s.%s",
                                 ages[(i - NN) / 6], diags[(i - NN) % 6]);
                if (!vg_conf_known_indicator(name))
                        fail_msg("%s: not an indicator", name);
                k = vg_patient_key_name(name, strlen(name));
                if (k != i) /* (in the table's order) */
                        fail_msg("%s: key name %d, not %d", name, k, i);
        }
        assert_int_equal(vg_patient_key_name("readmission_30d", 15), 0);
        assert_int_equal(vg_patient_key_name("death_place.HOME", 16), 10);
        assert_int_equal(vg_patient_key_name("spr.pressure_ulcer_free", 23),
                         24);
        assert_int_equal(vg_patient_key_name("ssih_enrolment.0-64.CANCER",
                                             26),
                         25);
        assert_int_equal(vg_patient_key_name("ssih_enrolment.85+.OTHER", 24),
                         48);
        assert_int_equal(vg_patient_key_name("readmission_30", 14), -1);
        assert_int_equal(vg_patient_key_name("nope", 4), -1);
        for (int i = 0; i < pt->pt_ncells; i++) {
                const char *k = pt->pt_cells[i].ce_key;
                if (vg_patient_key_name(k, strcspn(k, "|")) < 0)
                        fail_msg("%s: no key name", k);
        }
        vg_patient_destroy(pt);
}

/* Format 3's checksum sees every bit of the last word of a state whose
 * length (checksum left out) is a multiple of eight, the case format 2's
 * fold missed; and every bit of the other words. */
static void test_checksum_every_bit(void **state) {
        vg_patient_t *pt = vg_patient_new(PID);
        vg_buf_t a;
        char err[256], pad[16] = "";
        (void)state;
        pt->pt_next_due = 0;
        pt->pt_old_ids = vg_calloc(1, sizeof(char *));
        pt->pt_nold = 1;
        vg_buf_init(&a);
        for (int k = 0; k < 8; k++) { /* a pruned id of k x's */
                pad[k] = 'x';
                vg_free(pt->pt_old_ids[0]);
                pt->pt_old_ids[0] = vg_strdup(pad);
                vg_buf_reset(&a);
                vg_patient_encode(pt, &a);
                if ((a.vb_len - 4) % 8 == 0)
                        break;
        }
        assert_int_equal((a.vb_len - 4) % 8, 0);
        for (size_t bit = 0; bit < (a.vb_len - 4) * 8; bit++) {
                unsigned char *c = (unsigned char *)a.vb_data;
                vg_patient_t *back;
                c[bit / 8] ^= (unsigned char)(1u << (bit % 8));
                back = vg_patient_decode(PID, c, a.vb_len, err, sizeof(err));
                c[bit / 8] ^= (unsigned char)(1u << (bit % 8));
                if (back)
                        fail_msg("bit %zu of %zu bytes flipped: read", bit,
                                 a.vb_len - 4);
        }
        vg_buf_free(&a);
        vg_patient_destroy(pt);
}

/* What repeats make is bounded (64 MiB, or 64 times the state's bytes):
 * a 2,000-byte string then 40,000 repeats of it (80 MB from 42 kB) is
 * refused as corrupt; 100 repeats (200 kB from 2 kB, far more than any
 * patient's ratio) are read. */
static void test_repeats_bounded(void **state) {
        static const int reps[] = {100, 40000};
        (void)state;
        for (int t = 0; t < 2; t++) {
                int n = reps[t];
                size_t len = 2 + 1 + 3 + 2 + 2000 + (size_t)n + 5 + 4, o = 0;
                unsigned char *c = malloc(len);
                vg_patient_t *back;
                char err[256];
                c[o++] = 0xB1;
                c[o++] = 3;
                c[o++] = 0; /* no events */
                c[o++] = (unsigned char)(((n + 1) & 0x7f) | 0x80);
                c[o++] = (unsigned char)((((n + 1) >> 7) & 0x7f) | 0x80);
                c[o++] = (unsigned char)((n + 1) >> 14);
                c[o++] = 0xC0; /* 2000 << 2 = 8000, a varint */
                c[o++] = 0x3E;
                memset(c + o, 'a', 2000);
                o += 2000;
                memset(c + o, 1, (size_t)n); /* #0 again */
                o += (size_t)n;
                memset(c + o, 0, 5);
                o += 5 + 4;
                assert_int_equal(o, len);
                reseal(c, len);
                back = vg_patient_decode(PID, c, len, err, sizeof(err));
                if (t == 0) {
                        if (!back)
                                fail_msg("100 repeats: %s", err);
                        assert_int_equal(back->pt_nold, n + 1);
                        assert_int_equal(strlen(back->pt_old_ids[n]), 2000);
                } else {
                        assert_null(back);
                        assert_non_null(strstr(err, "corrupt"));
                }
                vg_patient_destroy(back);
                free(c);
        }
}

/* A copy of a's bytes with 1 to 4 random bytes in [2, end) set at
 * random (the magic and version kept). */
static unsigned char *flipped(const vg_buf_t *a, size_t end) {
        unsigned char *c = malloc(a->vb_len);
        memcpy(c, a->vb_data, a->vb_len);
        for (int f = 0; f < 1 + (int)(next_rand() % 4); f++)
                c[2 + next_rand() % (end - 2)] = (unsigned char)next_rand();
        return c;
}

/* Cell keys are written as a field count, a bitmap of the fields equal to
 * the previous key's and the other fields (a key of more than 8 fields
 * whole, after 0xFF, as a string): a field as its length doubled and its
 * bytes, or an indicator's key name as its number doubled plus one. The
 * bytes are checked against this description, written out by hand - keys
 * that differ only in the first field, equal keys, a shorter and a longer
 * key with the same leading fields, empty fields, a key of 9 fields and
 * the key after it, one-field keys, indicators' names - and read back to
 * the same keys. */
static void test_cell_keys(void **state) {
        static const char *const keys[] = {
                "a|0484|2024-03|x", "bb|0484|2024-03|x", "bb|0484|2024-03|x",
                "c|0484|2024-03",   "c|0484|2024-03|x|", "d||2024-03|x|",
                "e||2024-03|x|",    "f|1|2|3|4|5|6|7|8", "g|0484|2024-03|x",
                "h",                "h", "death_place.HOME|0484|2024-03|x",
                "spr.pain_assessed|0484|2024-03|x",
        };
        enum { NK = sizeof(keys) / sizeof(keys[0]) };
        static const int64_t num[NK] = {1, 0, -1}, den[NK] = {1, 1};
        static const unsigned char want[] = {
                0xB1, 0x03, 0, 0, 0, 0, /* magic, format; no events, ids,
                                         * cancellations, alerts */
                NK,
                4, 0x00, 2, 'a', 8, '0', '4', '8', '4', 14, '2', '0', '2',
                '4', '-', '0', '3', 2, 'x', 2, 2, 0,
                4, 0x0E, 4, 'b', 'b', 0, 2, 0,
                4, 0x0F, 1, 0, 1,
                3, 0x06, 2, 'c', 0, 0, 0,
                5, 0x07, 2, 'x', 0, 0, 0, 0,
                5, 0x1C, 2, 'd', 0, 0, 0, 0,
                5, 0x1E, 2, 'e', 0, 0, 0,
                0xFF, 68, 'f', '|', '1', '|', '2', '|', '3', '|', '4', '|',
                '5', '|', '6', '|', '7', '|', '8', 0, 0, 0,
                4, 0x00, 2, 'g', 8, '0', '4', '8', '4', 14, '2', '0', '2',
                '4', '-', '0', '3', 2, 'x', 0, 0, 0,
                1, 0x00, 2, 'h', 0, 0, 0,
                1, 0x01, 0, 0, 0,
                4, 0x00, 21, 8, '0', '4', '8', '4', 14, '2', '0', '2', '4',
                '-', '0', '3', 2, 'x', 0, 0, 0, /* death_place.HOME: 10 */
                4, 0x0E, 31, 0, 0, 0, /* spr.pain_assessed: 15 */
                0, /* no frozen cells */
                0, /* next due 0 */
        };
        vg_patient_t *pt = vg_patient_new(PID), *back;
        vg_buf_t a;
        char err[256];
        (void)state;
        pt->pt_next_due = 0;
        pt->pt_cells = vg_calloc(NK, sizeof(vg_cell_t));
        for (int i = 0; i < NK; i++) {
                pt->pt_cells[i].ce_key = vg_strdup(keys[i]);
                pt->pt_cells[i].ce_num = num[i];
                pt->pt_cells[i].ce_den = den[i];
                pt->pt_cells[i].ce_count = i == 2;
        }
        pt->pt_ncells = NK;
        vg_buf_init(&a);
        vg_patient_encode(pt, &a);
        assert_int_equal(a.vb_len, sizeof(want) + 4); /* + the checksum */
        assert_memory_equal(a.vb_data, want, sizeof(want));
        back = vg_patient_decode(PID, a.vb_data, a.vb_len, err, sizeof(err));
        if (!back)
                fail_msg("decode: %s", err);
        assert_int_equal(back->pt_ncells, NK);
        for (int i = 0; i < NK; i++) {
                assert_string_equal(back->pt_cells[i].ce_key, keys[i]);
                assert_int_equal(back->pt_cells[i].ce_num, num[i]);
                assert_int_equal(back->pt_cells[i].ce_den, den[i]);
                assert_int_equal(back->pt_cells[i].ce_count, i == 2);
        }
        vg_patient_destroy(back);
        vg_patient_destroy(pt);
        vg_buf_free(&a);
}

static void test_corrupt(void **state) {
        vg_patient_t *pt = build(), *back;
        vg_buf_t a;
        char err[256];
        int read_back = 0;
        (void)state;
        vg_buf_init(&a);
        vg_patient_encode(pt, &a);
        /* Every proper prefix is refused. */
        for (size_t n = 1; n < a.vb_len; n++) {
                back = vg_patient_decode(PID, a.vb_data, n, err, sizeof(err));
                if (back)
                        fail_msg("a prefix of %zu of %zu bytes was read", n,
                                 a.vb_len);
                assert_non_null(strstr(err, "corrupt"));
        }
        /* Flipped bytes: refused or read, never a crash (ASan run). */
        for (int k = 0; k < 20000; k++) {
                unsigned char *c = flipped(&a, a.vb_len);
                if (!memcmp(c, a.vb_data, a.vb_len)) { /* no change */
                        free(c);
                        continue;
                }
                back = vg_patient_decode(PID, c, a.vb_len, err, sizeof(err));
                read_back += back != NULL;
                vg_patient_destroy(back);
                free(c);
        }
        print_message("    20000 flipped states: %d read, the rest refused\n",
                      read_back);
        /* the checksum refuses every changed one */
        assert_int_equal(read_back, 0);
        /* Flipped states with a matching checksum: the decoder's own
         * checks refuse or read them, never a crash (ASan run). */
        read_back = 0;
        for (int k = 0; k < 20000; k++) {
                unsigned char *c = flipped(&a, a.vb_len - 4);
                reseal(c, a.vb_len);
                back = vg_patient_decode(PID, c, a.vb_len, err, sizeof(err));
                read_back += back != NULL;
                vg_patient_destroy(back);
                free(c);
        }
        print_message("    20000 flipped states, checksum made to match: %d "
                      "read, the rest refused\n", read_back);
        assert_true(read_back < 20000);
        vg_buf_free(&a);
        vg_patient_destroy(pt);
}

/* vg_patient_decode_own (the cache's own bytes): the same patient; the
 * checksum not computed (a changed checksum is still read), every bound
 * still checked (each proper prefix refused; flipped bytes refused or
 * read, never a crash under ASan). */
static void test_decode_own(void **state) {
        vg_patient_t *pt = build(), *back;
        vg_buf_t a;
        char err[256], *ja, *jb;
        int read_back = 0;
        (void)state;
        vg_buf_init(&a);
        vg_patient_encode(pt, &a);
        back = vg_patient_decode_own(PID, a.vb_data, a.vb_len, err,
                                     sizeof(err));
        if (!back)
                fail_msg("own bytes: %s", err);
        ja = json_of(pt);
        jb = json_of(back);
        assert_string_equal(ja, jb);
        vg_patient_destroy(back);
        vg_free(jb);
        a.vb_data[a.vb_len - 1] ^= 0x5A;
        assert_null(vg_patient_decode(PID, a.vb_data, a.vb_len, err,
                                      sizeof(err)));
        back = vg_patient_decode_own(PID, a.vb_data, a.vb_len, err,
                                     sizeof(err));
        if (!back)
                fail_msg("own bytes, checksum changed: %s", err);
        jb = json_of(back);
        assert_string_equal(ja, jb);
        vg_patient_destroy(back);
        for (size_t n = 1; n < a.vb_len; n++) {
                back = vg_patient_decode_own(PID, a.vb_data, n, err,
                                             sizeof(err));
                if (back)
                        fail_msg("a prefix of %zu of %zu bytes was read", n,
                                 a.vb_len);
                assert_non_null(strstr(err, "corrupt"));
        }
        /* (a crash check, under ASan in CI) */
        for (int k = 0; k < 20000; k++) {
                unsigned char *c = flipped(&a, a.vb_len - 4);
                back = vg_patient_decode_own(PID, c, a.vb_len, err,
                                             sizeof(err));
                read_back += back != NULL;
                vg_patient_destroy(back);
                free(c);
        }
        print_message("    20000 flipped own states: %d read, the rest "
                      "refused\n", read_back);
        assert_true(read_back < 20000);
        vg_free(ja);
        vg_free(jb);
        vg_buf_free(&a);
        vg_patient_destroy(pt);
}

/* The store leaves an event's patient_id out (the row's key) by the
 * field's offset: each event type has exactly one field of that name, at
 * that offset, and no other field there. */
static void test_patient_id_field(void **state) {
        (void)state;
        for (int t = VG_REC_ADMISSION; t <= VG_REC_REGISTER; t++) {
                const vg_rectype_desc_t *rt = vg_rectype((vg_rectype_t)t);
                int named = 0, at = 0;
                for (int i = 0; i < rt->rt_nfields; i++) {
                        const vg_field_t *f = &rt->rt_fields[i];
                        bool is = !strcmp(f->vf_name, "patient_id");
                        named += is;
                        if (f->vf_offset ==
                            offsetof(vg_event_t, ev_patient_id)) {
                                assert_true(is);
                                at++;
                        }
                }
                assert_int_equal(named, 1);
                assert_int_equal(at, 1);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_patient_id_field),
                cmocka_unit_test(test_roundtrip),
                cmocka_unit_test(test_format4_old_stays),
                cmocka_unit_test(test_cell_keys),
                cmocka_unit_test(test_reads_json),
                cmocka_unit_test(test_reads_earlier_formats),
                cmocka_unit_test(test_strings),
                cmocka_unit_test(test_string_table_full),
                cmocka_unit_test(test_encode_bound),
                cmocka_unit_test(test_format3_refused),
                cmocka_unit_test(test_key_names),
                cmocka_unit_test(test_checksum_every_bit),
                cmocka_unit_test(test_repeats_bounded),
                cmocka_unit_test(test_corrupt),
                cmocka_unit_test(test_decode_own),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
