/*
 * test_patient_state.c - a patient's state in the partition store: the
 * binary form reads back to exactly the state that was written (every
 * record type, optional fields set and unset, cancellations, alerts, cells,
 * pruned ids and frozen cells), is a fraction of the JSON text's size, and
 * the JSON text of earlier releases is still read, and so is format 1
 * (FNV-1a's checksum). Corrupt bytes - every truncation, 20,000 random
 * flips - are refused (a checksum), never a crash; so are 20,000 flipped
 * states whose checksum was made to match, which reach the decoder's
 * every read. Each event type's patient_id is where the store looks for
 * it (left out of the bytes).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "vg_engine.h"
#include "vg_patient_store.h"
#include "vg_record_json.h"
#include "vg_rules.h"
#include "vg_time.h"

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

static void test_reads_format1(void **state) {
        vg_patient_t *pt = build(), *back;
        vg_buf_t a;
        char err[256], *ja, *jb;
        (void)state;
        vg_buf_init(&a);
        vg_patient_encode(pt, &a);
        assert_int_equal((unsigned char)a.vb_data[1], 2);
        as_format1((unsigned char *)a.vb_data, a.vb_len);
        back = vg_patient_decode(PID, a.vb_data, a.vb_len, err, sizeof(err));
        if (!back)
                fail_msg("format 1: %s", err);
        ja = json_of(pt);
        jb = json_of(back);
        assert_string_equal(ja, jb);
        /* and its checksum is checked: a changed byte is refused */
        a.vb_data[a.vb_len / 2] ^= 0x40;
        assert_null(vg_patient_decode(PID, a.vb_data, a.vb_len, err,
                                      sizeof(err)));
        assert_non_null(strstr(err, "corrupt"));
        /* a format this release does not know */
        a.vb_data[1] = 3;
        assert_null(vg_patient_decode(PID, a.vb_data, a.vb_len, err,
                                      sizeof(err)));
        assert_non_null(strstr(err, "format 3"));
        vg_free(ja);
        vg_free(jb);
        vg_buf_free(&a);
        vg_patient_destroy(back);
        vg_patient_destroy(pt);
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
 * whole, after 0xFF). The bytes are checked against this description,
 * written out by hand - keys that differ only in the first field, equal
 * keys, a shorter and a longer key with the same leading fields, empty
 * fields, a key of 9 fields and the key after it, one-field keys - and
 * read back to the same keys. */
static void test_cell_keys(void **state) {
        static const char *const keys[] = {
                "a|0484|2024-03|x", "bb|0484|2024-03|x", "bb|0484|2024-03|x",
                "c|0484|2024-03",   "c|0484|2024-03|x|", "d||2024-03|x|",
                "e||2024-03|x|",    "f|1|2|3|4|5|6|7|8", "g|0484|2024-03|x",
                "h",                "h",
        };
        enum { NK = sizeof(keys) / sizeof(keys[0]) };
        static const int64_t num[NK] = {1, 0, -1}, den[NK] = {1, 1};
        static const unsigned char want[] = {
                0xB1, 0x02, 0, 0, 0, 0, /* magic, format; no events, ids,
                                         * cancellations, alerts */
                NK,
                4, 0x00, 1, 'a', 4, '0', '4', '8', '4', 7, '2', '0', '2', '4',
                '-', '0', '3', 1, 'x', 2, 2, 0,
                4, 0x0E, 2, 'b', 'b', 0, 2, 0,
                4, 0x0F, 1, 0, 1,
                3, 0x06, 1, 'c', 0, 0, 0,
                5, 0x07, 1, 'x', 0, 0, 0, 0,
                5, 0x1C, 1, 'd', 0, 0, 0, 0,
                5, 0x1E, 1, 'e', 0, 0, 0,
                0xFF, 17, 'f', '|', '1', '|', '2', '|', '3', '|', '4', '|',
                '5', '|', '6', '|', '7', '|', '8', 0, 0, 0,
                4, 0x00, 1, 'g', 4, '0', '4', '8', '4', 7, '2', '0', '2', '4',
                '-', '0', '3', 1, 'x', 0, 0, 0,
                1, 0x00, 1, 'h', 0, 0, 0,
                1, 0x01, 0, 0, 0,
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
        /* Flipped states with a matching checksum (format 1, whose sum is
         * easy to make here): the decoder's own checks refuse or read
         * them, never a crash (ASan run). */
        read_back = 0;
        for (int k = 0; k < 20000; k++) {
                unsigned char *c = flipped(&a, a.vb_len - 4);
                as_format1(c, a.vb_len);
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
                cmocka_unit_test(test_cell_keys),
                cmocka_unit_test(test_reads_json),
                cmocka_unit_test(test_reads_format1),
                cmocka_unit_test(test_corrupt),
                cmocka_unit_test(test_decode_own),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
