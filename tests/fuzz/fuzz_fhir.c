/*
 * fuzz_fhir.c - libFuzzer harness of the FHIR R4 converter
 * (producers/vg_fhir.c, docs/HOSPITAL.md "FHIR R4"): vg_fhir_convert on an
 * arbitrary line must accept it or say why, never crash or leak. Also
 * these invariants (abort() when one breaks, which libFuzzer reports as a
 * crash):
 *   - a line refused as a whole gives no items and a reason; an accepted
 *     one gives at least one item, each with a result it may have;
 *   - an EVENT item holds 1..VG_FHIR_EVENTS_MAX events, every other none;
 *     a SKIPPED or INVALID one says why, the others say nothing;
 *   - every event passes vg_event_validate, has a "fhir-" event id and a
 *     64-hex-digit patient_id, no field spelt like a personnummer, and
 *     reads back equal from the JSON line it is written as;
 *   - no message has a run of 10 or more digits (nothing quoted from the
 *     input could be a personnummer); item names are printable, redacted.
 */
#include "vg_fhir.h"
#include "vg_hl7.h"
#include "vg_pseudo.h"
#include "vg_record.h"
#include "vg_record_json.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* input.max_bytes: small, so that fuzzed input reaches the limit too. */
#define LINE_MAX_BYTES 16384

static const unsigned char KEY[] = "fuzz-key-0123456789abcdef";

#define CHECK(cond, ...)                                                       \
        do {                                                                   \
                if (!(cond)) {                                                 \
                        fprintf(stderr, "fuzz_fhir: %s:%d: %s: ", __FILE__,  \
                                __LINE__, #cond);                              \
                        fprintf(stderr, __VA_ARGS__);                          \
                        fputc('\n', stderr);                                   \
                        abort();                                               \
                }                                                              \
        } while (0)

static vg_hl7_map_t *map;

static void map_init(void) {
        static const char *const keys[][2] = {
                {"kommun.default", "0484"},
                {"care_setting.location.MED", "HOSPITAL_INPATIENT"},
                {"care_setting.class.HH", "SSIH"},
                {"diagnosis.C", "CANCER"},
                {"diagnosis.I50", "HEART_FAILURE"},
                {"disposition.home", "HOME"},
                {"planned.admission_types", "R,EL"},
        };
        char errstr[256];
        if (map)
                return;
        map = vg_hl7_map_new();
        for (size_t i = 0; i < VG_ARRAY_SIZE(keys); i++)
                CHECK(!vg_hl7_map_set(map, keys[i][0], keys[i][1], errstr,
                                      sizeof(errstr)),
                      "mapping key: %s", errstr);
}

/* The longest run of digits in s. */
static size_t digit_run(const char *s) {
        size_t best = 0, cur = 0;
        for (; *s; s++) {
                cur = isdigit((unsigned char)*s) ? cur + 1 : 0;
                if (cur > best)
                        best = cur;
        }
        return best;
}

static bool is_hex64(const char *s) {
        if (!s || strlen(s) != 64)
                return false;
        for (; *s; s++)
                if (!isdigit((unsigned char)*s) && !(*s >= 'a' && *s <= 'f'))
                        return false;
        return true;
}

static bool fhir_id(const char *s) {
        return s && !strncmp(s, "fhir-", 5) &&
               strlen(s) == VG_FHIR_ID_BUFSZ - 1;
}

static void check_message(const char *what, const char *s) {
        CHECK(s && s[0], "%s: empty", what);
        CHECK(digit_run(s) < 10 && !vg_pseudo_spelt_like(s),
              "%s quotes a long digit run: '%s'", what, s);
}

static void check_event(const vg_fhir_ctx_t *cx, const vg_event_t *ev) {
        char errstr[512];
        char *line;
        vg_event_t back;
        const char *strs[] = {ev->ev_stay_id, ev->ev_facility_id,
                              ev->ev_source_system, ev->ev_kommun};

        CHECK(VG_REC_IS_EVENT(ev->ev_type), "type %d", (int)ev->ev_type);
        CHECK(!vg_event_validate(ev, cx->fx_now_ms, errstr, sizeof(errstr)),
              "accepted event fails validation: %s", errstr);
        CHECK(fhir_id(ev->ev_event_id), "event_id '%s'",
              ev->ev_event_id ? ev->ev_event_id : "");
        CHECK(!ev->ev_cancels_event_id || fhir_id(ev->ev_cancels_event_id),
              "cancels_event_id '%s'", ev->ev_cancels_event_id);
        CHECK(is_hex64(ev->ev_patient_id), "patient_id is not a pseudonym");
        for (size_t i = 0; i < VG_ARRAY_SIZE(strs); i++)
                CHECK(!strs[i] || !vg_pseudo_spelt_like(strs[i]),
                      "a field is spelt like a personnummer");
        /* What vigil convert writes, vigil produce reads back the same. */
        line = vg_record_to_jsonl(ev->ev_type, ev);
        CHECK(line != NULL, "not written as JSON");
        memset(&back, 0, sizeof(back));
        CHECK(vg_event_from_jsonl(line, strlen(line), &back, errstr,
                                  sizeof(errstr)) == VG_OK,
              "its JSON line is refused: %s", errstr);
        CHECK(back.ev_type == ev->ev_type &&
                      vg_record_equal(ev->ev_type, ev, &back),
              "its JSON line reads back different");
        vg_record_clear(back.ev_type, &back);
        vg_free(line);
}

static void check_item(const vg_fhir_ctx_t *cx, const vg_fhir_item_t *it,
                       size_t idx) {
        CHECK(it->fi_res == VG_FHIR_EVENT || it->fi_res == VG_FHIR_SKIPPED ||
                      it->fi_res == VG_FHIR_CONTEXT ||
                      it->fi_res == VG_FHIR_INVALID,
              "item %zu: result %d", idx, (int)it->fi_res);
        CHECK(it->fi_entry >= 0, "item %zu: entry %d", idx, it->fi_entry);
        CHECK(memchr(it->fi_name, '\0', sizeof(it->fi_name)) &&
                      it->fi_name[0],
              "item %zu: name", idx);
        for (const char *p = it->fi_name; *p; p++)
                CHECK(isgraph((unsigned char)*p), "item %zu: name not "
                      "printable", idx);
        CHECK(!vg_pseudo_spelt_like(it->fi_name),
              "item %zu: name '%s' spelt like a personnummer", idx,
              it->fi_name);
        if (it->fi_res == VG_FHIR_EVENT) {
                CHECK(it->fi_nev >= 1 && it->fi_nev <= VG_FHIR_EVENTS_MAX,
                      "item %zu: %d events", idx, it->fi_nev);
                CHECK(!it->fi_msg, "item %zu: an event with a message",
                      idx);
                for (int i = 0; i < it->fi_nev; i++)
                        check_event(cx, &it->fi_ev[i]);
        } else {
                CHECK(it->fi_nev == 0, "item %zu: %d events with result %d",
                      idx, it->fi_nev, (int)it->fi_res);
                if (it->fi_res == VG_FHIR_CONTEXT)
                        CHECK(!it->fi_msg, "item %zu: context with a "
                              "message", idx);
                else
                        check_message("item message", it->fi_msg);
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char errstr[512];
        vg_fhir_ctx_t cx;
        vg_fhir_out_t out;
        vg_err_t err;
        /* Exactly size bytes, no NUL: a read past the end is an error. */
        char *line = malloc(size ? size : 1);

        vg_log_level = VG_LOG_ERROR;
        if (!line)
                return 0;
        map_init();
        if (size)
                memcpy(line, data, size);
        memset(&cx, 0, sizeof(cx));
        cx.fx_map = map;
        cx.fx_key = KEY;
        cx.fx_keylen = sizeof(KEY) - 1;
        cx.fx_tz = VG_TZ_STOCKHOLM;
        cx.fx_now_ms = 1790000000000LL; /* 2026-09-21 */
        cx.fx_max_bytes = LINE_MAX_BYTES;

        memset(errstr, 'Z', sizeof(errstr));
        err = vg_fhir_convert(&cx, line, size, &out, errstr, sizeof(errstr));
        CHECK(err == VG_OK || err == VG_ERR_INVALID, "result %d", (int)err);
        CHECK(memchr(errstr, '\0', sizeof(errstr)), "errstr unterminated");
        if (err) {
                CHECK(out.fo_cnt == 0, "refused with %zu items", out.fo_cnt);
                check_message("error", errstr);
        } else {
                CHECK(out.fo_cnt >= 1, "accepted without an item");
                CHECK(!errstr[0], "accepted with an error '%s'", errstr);
                for (size_t i = 0; i < out.fo_cnt; i++)
                        check_item(&cx, &out.fo_item[i], i);
        }
        vg_fhir_out_clear(&out);
        free(line);
        return 0;
}
