/*
 * hl7_helpers.h - test helpers for HL7 v2 to care events
 * (producers/vg_hl7.c, docs/HOSPITAL.md): a message's segments as macros,
 * the converter's context with a test key and the built-in mapping, and
 * converting with a check that no personnummer reaches an event or an
 * error. Header-only (static inline) so that each test file compiles it on
 * its own; the group's setup and teardown make the mapping. Include after
 * <cmocka.h>.
 *
 * 19121212-1212 is Skatteverket's well-known test personnummer.
 */
#ifndef HL7_HELPERS_H
#define HL7_HELPERS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vg_hl7.h"
#include "vg_pseudo.h"
#include "vg_record_json.h"
#include "vg_time.h"

static const unsigned char KEY[] = "0123456789abcdef-test-key";

#define PNR "191212121212"
#define MSH(trig, ctrl)                                                        \
        "MSH|^~\\&|HIS-A|MSE|VIGIL|REG|20260301081500||ADT^" trig "|" ctrl    \
        "|P|2.5\r"
#define PID "PID|1||" PNR "^^^SKV^PN||Svensson^Anna||19450310|F|||Gatan 1^^" \
            "Eskilstuna^^63220^SE^H^^0484\r"
#define PV1(visit, disp)                                                       \
        "PV1|1|I|MED3^12^1^MSE|C|||||||||||||||" visit "|||||||||||||||||"    \
        disp "\r"
#define A01(ctrl)                                                              \
        MSH("A01", ctrl) "EVN|A01|20260301081500\r" PID PV1("V1001", "")      \
        "DG1|1||I50.9^Hjartsvikt^I10\r"

static vg_hl7_map_t *map;

static inline vg_hl7_ctx_t ctx(void) {
        vg_hl7_ctx_t cx;
        memset(&cx, 0, sizeof(cx));
        cx.hx_map = map;
        cx.hx_key = KEY;
        cx.hx_keylen = sizeof(KEY) - 1;
        cx.hx_tz = VG_TZ_STOCKHOLM;
        /* 2026-12-01 */
        cx.hx_now_ms = vg_days_from_civil(2026, 12, 1) * VG_MS_PER_DAY;
        return cx;
}

/* No digit run of a personnummer in s. */
static inline void assert_no_pnr(const char *s) {
        if (strstr(s, "121212") || vg_pseudo_spelt_like(s))
                fail_msg("personnummer in '%s'", s);
}

/* Converts msg, expecting res; checks errstr/JSON for the personnummer. */
static inline vg_hl7_res_t conv(const char *msg, vg_event_t *ev,
                                char *errstr, size_t es) {
        vg_hl7_ctx_t cx = ctx();
        char ctrl[VG_HL7_CTRL_BUFSZ];
        vg_hl7_res_t r = vg_hl7_convert(&cx, msg, strlen(msg), ev, ctrl,
                                        errstr, es);
        assert_no_pnr(errstr);
        assert_no_pnr(ctrl);
        if (r == VG_HL7_EVENT) {
                char *line = vg_record_to_jsonl(ev->ev_type, ev);
                assert_non_null(line);
                assert_no_pnr(line);
                vg_free(line);
        }
        return r;
}

static inline void expect_event(const char *msg, vg_event_t *ev) {
        char errstr[512] = "";
        vg_hl7_res_t r = conv(msg, ev, errstr, sizeof(errstr));
        if (r != VG_HL7_EVENT)
                fail_msg("not converted: %s", errstr);
}

/* A PID segment whose PID-11 (addresses) is addrs (a literal). */
#define PIDA(addrs) "PID|1||" PNR "^^^SKV^PN||X||19450310|F|||" addrs "\r"

/* An A01 of head (MSH, EVN) then PID-11 = addrs: its event's kommun is
 * want. */
static inline void expect_kommun(const char *head, const char *addrs,
                                 const char *want) {
        char msg[1024];
        vg_event_t ev;
        snprintf(msg, sizeof(msg), "%s" PIDA("%s") PV1("V1001", ""), head,
                 addrs);
        expect_event(msg, &ev);
        if (strcmp(ev.ev_kommun, want))
                fail_msg("%s: kommun %s, want %s", addrs, ev.ev_kommun, want);
        vg_record_clear(ev.ev_type, &ev);
}

static inline void expect_error(const char *msg, const char *want) {
        char errstr[512] = "";
        vg_event_t ev;
        vg_hl7_res_t r = conv(msg, &ev, errstr, sizeof(errstr));
        if (r != VG_HL7_INVALID)
                fail_msg("accepted (%d), want error '%s'", r, want);
        if (!strstr(errstr, want))
                fail_msg("error '%s' does not mention '%s'", errstr, want);
}

static inline int64_t utc(int y, int mo, int d, int h, int mi) {
        return (vg_days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400LL +
                h * 3600LL + mi * 60LL) * 1000LL;
}

/* The group's setup and teardown: the built-in mapping. */
static inline int setup(void **state) {
        (void)state;
        map = vg_hl7_map_new();
        return 0;
}

static inline int teardown(void **state) {
        (void)state;
        vg_hl7_map_destroy(map);
        return 0;
}

#endif /* HL7_HELPERS_H */
