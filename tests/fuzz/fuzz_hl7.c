/*
 * fuzz_hl7.c - libFuzzer harness of the HL7 v2 parser (producers/vg_hl7*.c,
 * docs/HOSPITAL.md): the framer (vg_hl7_framer_*) on an arbitrary byte
 * stream and the converter (vg_hl7_convert) on every message it cuts and on
 * the whole input as one message. Never a crash or a leak, and these
 * invariants (abort() when one breaks, which libFuzzer reports as a crash):
 *   - the framer cuts the same messages whatever the stream's chunking
 *     (all at once, or in pieces of 1..7 bytes); none longer than its limit;
 *   - converting a message twice gives the same answer;
 *   - an accepted event passes vg_event_validate, has an "hl7-" event id
 *     and a 64-hex-digit patient_id, no field spelt like a personnummer,
 *     and reads back equal from the JSON line it is written as;
 *   - an error or skip says why, its text has no run of 10 or more digits
 *     (nothing quoted from the input could be a personnummer) and the
 *     control id printed with it is printable and redacted.
 */
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

/* Longest message the framer passes on: small, so that fuzzed input
 * reaches the too-long path too. */
#define FRAME_MAX 4096

static const unsigned char KEY[] = "fuzz-key-0123456789abcdef";

#define CHECK(cond, ...)                                                       \
        do {                                                                   \
                if (!(cond)) {                                                 \
                        fprintf(stderr, "fuzz_hl7: %s:%d: %s: ", __FILE__,   \
                                __LINE__, #cond);                              \
                        fprintf(stderr, __VA_ARGS__);                          \
                        fputc('\n', stderr);                                   \
                        abort();                                               \
                }                                                              \
        } while (0)

/* The site mappings: the built-in defaults (no kommun.default), and one
 * with a site's keys set (kommun.default among them). */
static vg_hl7_map_t *map_plain, *map_site;

static void maps_init(void) {
        static const char *const keys[][2] = {
                {"kommun.default", "0484"},
                {"care_setting.location.MED", "HOSPITAL_INPATIENT"},
                {"care_setting.location.MED3", "PALLIATIVE_UNIT"},
                {"care_setting.class.H", "SSIH"},
                {"diagnosis.C", "CANCER"},
                {"diagnosis.I50", "HEART_FAILURE"},
                {"disposition.07", "HOME"},
                {"disposition.default", "OTHER"},
                {"planned.admission_types", "C, R,E"},
                {"needs_coordination.default", "true"},
        };
        char errstr[256];
        if (map_plain)
                return;
        map_plain = vg_hl7_map_new();
        map_site = vg_hl7_map_new();
        for (size_t i = 0; i < VG_ARRAY_SIZE(keys); i++)
                CHECK(!vg_hl7_map_set(map_site, keys[i][0], keys[i][1],
                                      errstr, sizeof(errstr)),
                      "mapping key: %s", errstr);
}

static vg_hl7_ctx_t ctx_of(const vg_hl7_map_t *map) {
        vg_hl7_ctx_t cx;
        memset(&cx, 0, sizeof(cx));
        cx.hx_map = map;
        cx.hx_key = KEY;
        cx.hx_keylen = sizeof(KEY) - 1;
        cx.hx_tz = VG_TZ_STOCKHOLM;
        cx.hx_now_ms = 1790000000000LL; /* 2026-09-21 */
        return cx;
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

static void check_event(const vg_hl7_ctx_t *cx, const vg_event_t *ev) {
        char errstr[512];
        char *line;
        vg_event_t back;
        const char *strs[] = {ev->ev_stay_id, ev->ev_facility_id,
                              ev->ev_source_system, ev->ev_kommun};

        CHECK(ev->ev_type == VG_REC_ADMISSION ||
                      ev->ev_type == VG_REC_DISCHARGE,
              "type %d", (int)ev->ev_type);
        CHECK(!vg_event_validate(ev, cx->hx_now_ms, errstr, sizeof(errstr)),
              "accepted event fails validation: %s", errstr);
        CHECK(ev->ev_event_id && !strncmp(ev->ev_event_id, "hl7-", 4) &&
                      strlen(ev->ev_event_id) == VG_HL7_ID_BUFSZ - 1,
              "event_id '%s'", ev->ev_event_id ? ev->ev_event_id : "");
        CHECK(!ev->ev_cancels_event_id ||
                      (!strncmp(ev->ev_cancels_event_id, "hl7-", 4) &&
                       strlen(ev->ev_cancels_event_id) ==
                               VG_HL7_ID_BUFSZ - 1),
              "cancels_event_id");
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

/* Converts msg[0..len) (copied to a buffer of exactly len bytes, so ASan
 * sees a read past its end); checks the answer; twice when twice. */
static void convert(const vg_hl7_map_t *map, const char *msg, size_t len,
                    bool twice) {
        vg_hl7_ctx_t cx = ctx_of(map);
        char errstr[512], ctrl[VG_HL7_CTRL_BUFSZ];
        char *copy = malloc(len ? len : 1);
        vg_event_t ev;
        vg_hl7_res_t r;

        if (!copy)
                return;
        if (len)
                memcpy(copy, msg, len);
        memset(errstr, 'Z', sizeof(errstr));
        memset(ctrl, 'Z', sizeof(ctrl));
        r = vg_hl7_convert(&cx, copy, len, &ev, ctrl, errstr, sizeof(errstr));
        CHECK(r == VG_HL7_EVENT || r == VG_HL7_SKIPPED || r == VG_HL7_INVALID,
              "result %d", (int)r);
        CHECK(memchr(ctrl, '\0', sizeof(ctrl)) && ctrl[0], "ctrl");
        for (const char *p = ctrl; *p; p++)
                CHECK(isgraph((unsigned char)*p), "ctrl not printable");
        CHECK(!vg_pseudo_spelt_like(ctrl), "ctrl '%s' spelt like a "
              "personnummer", ctrl);
        CHECK(memchr(errstr, '\0', sizeof(errstr)), "errstr unterminated");
        if (r != VG_HL7_EVENT) {
                CHECK(errstr[0], "refused (%d) without a reason", (int)r);
                CHECK(digit_run(errstr) < 10 && !vg_pseudo_spelt_like(errstr),
                      "error quotes a long digit run: '%s'", errstr);
        } else
                check_event(&cx, &ev);

        if (twice) {
                char errstr2[512], ctrl2[VG_HL7_CTRL_BUFSZ];
                vg_event_t ev2;
                vg_hl7_res_t r2 = vg_hl7_convert(&cx, copy, len, &ev2, ctrl2,
                                                 errstr2, sizeof(errstr2));
                CHECK(r2 == r && !strcmp(ctrl, ctrl2) &&
                              (r == VG_HL7_EVENT
                                       ? vg_record_equal(ev.ev_type, &ev,
                                                         &ev2)
                                       : !strcmp(errstr, errstr2)),
                      "a second conversion differs");
                if (r2 == VG_HL7_EVENT)
                        vg_record_clear(ev2.ev_type, &ev2);
        }
        if (r == VG_HL7_EVENT)
                vg_record_clear(ev.ev_type, &ev);
        free(copy);
}

/* The framer's messages, serialised: flag byte, length, bytes. */
typedef struct frames_s {
        vg_buf_t fs_buf;
        size_t   fs_cnt;
        bool     fs_convert; /* also convert each message */
} frames_t;

static void on_frame(void *opaque, const vg_hl7_frame_t *fm) {
        frames_t *fs = opaque;
        unsigned char flag = fm->fm_too_long;
        size_t len = fm->fm_too_long ? 0 : fm->fm_len;

        CHECK(fm->fm_too_long ? fm->fm_data == NULL : fm->fm_data != NULL,
              "fm_data vs fm_too_long");
        CHECK(len <= FRAME_MAX, "a message of %zu bytes passed the limit",
              len);
        CHECK(fm->fm_too_long || len > 0, "an empty message");
        vg_buf_append(&fs->fs_buf, &flag, 1);
        vg_buf_append(&fs->fs_buf, &len, sizeof(len));
        if (len)
                vg_buf_append(&fs->fs_buf, fm->fm_data, len);
        fs->fs_cnt++;
        if (fs->fs_convert && !fm->fm_too_long)
                convert(map_site, fm->fm_data, len, true);
}

static void frame_all(const uint8_t *data, size_t size, size_t chunk,
                      frames_t *fs) {
        vg_hl7_framer_t fr;
        vg_hl7_framer_init(&fr, FRAME_MAX);
        for (size_t at = 0; at < size; at += chunk)
                vg_hl7_framer_feed(&fr, data + at,
                                   size - at < chunk ? size - at : chunk,
                                   on_frame, fs);
        vg_hl7_framer_end(&fr, on_frame, fs);
        vg_hl7_framer_free(&fr);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        frames_t a, b;

        vg_log_level = VG_LOG_ERROR;
        maps_init();

        /* The stream as vigil convert and vigil hl7 listen read it. */
        memset(&a, 0, sizeof(a));
        memset(&b, 0, sizeof(b));
        vg_buf_init(&a.fs_buf);
        vg_buf_init(&b.fs_buf);
        a.fs_convert = true;
        frame_all(data, size, size ? size : 1, &a);
        frame_all(data, size, 1 + size % 7, &b);
        CHECK(a.fs_cnt == b.fs_cnt && a.fs_buf.vb_len == b.fs_buf.vb_len &&
                      (!a.fs_buf.vb_len ||
                       !memcmp(a.fs_buf.vb_data, b.fs_buf.vb_data,
                               a.fs_buf.vb_len)),
              "the messages depend on the chunking (%zu vs %zu)", a.fs_cnt,
              b.fs_cnt);
        vg_buf_free(&a.fs_buf);
        vg_buf_free(&b.fs_buf);

        /* The whole input as one message, MLLP bytes and all. */
        convert(map_plain, (const char *)data, size, false);
        return 0;
}
