/*
 * test_hl7_ack.c - HL7 v2 over MLLP (producers/vg_hl7_ack.c,
 * docs/HOSPITAL.md §7): the MLLP reader (one frame, one message, however
 * the bytes arrive), the header read from a received message, the ACK
 * built from it (addresses swapped, MSA-2 = MSH-10, the message's own
 * separators, ERR for AE and AR, reasons escaped and shortened), the table
 * 0357 code of a refusal, and that no input can make the ACK malformed.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vg_hl7_ack.h"

/* 2026-03-01T08:15:00Z */
#define NOW_MS 1772352900000LL
#define TS     "20260301081500+0000"

#define MSG_A01                                                                \
        "MSH|^~\\&|HIS-A|MSE^1.2.3^ISO|VIGIL|REG|20260301091500||ADT^A01^"    \
        "ADT_A01|M-0001|P|2.5\r"                                               \
        "EVN|A01|20260301091500\r"                                             \
        "PID|1||191212121212^^^SKV^PN\r"

static char *ack(const char *msg, vg_hl7_ack_t code, int err,
                 const char *text) {
        vg_hl7_msh_t h;
        vg_buf_t out;
        vg_hl7_msh_read(msg, msg ? strlen(msg) : 0, &h);
        vg_buf_init(&out);
        vg_hl7_ack_build(&h, code, err, text, NOW_MS, "VG1", &out);
        return out.vb_data; /* NUL-terminated; the caller frees */
}

/* The n-th segment (0-based) of s, without its '\r', in a static buffer. */
static const char *segment(const char *s, int n) {
        static char buf[2048];
        const char *e;
        for (; n > 0 && s; n--)
                s = (s = strchr(s, '\r')) ? s + 1 : NULL;
        if (!s || !*s)
                return "";
        e = strchr(s, '\r');
        snprintf(buf, sizeof(buf), "%.*s", (int)(e ? e - s : (long)strlen(s)),
                 s);
        return buf;
}

static int count_segments(const char *s) {
        int n = 0;
        for (; *s; s++)
                n += *s == '\r';
        return n;
}

/* ------------------------------------------------------------------ */
/* The MLLP reader                                                    */
/* ------------------------------------------------------------------ */

/* The frames a reader emitted, as "<bytes>" or "TOO LONG", joined by
 * " | ". */
static char frames[4096];

static void collect(void *opaque, const vg_hl7_frame_t *fm) {
        (void)opaque;
        if (frames[0])
                strcat(frames, " | ");
        if (fm->fm_too_long) {
                strcat(frames, "TOO LONG");
                if (fm->fm_data) { /* its first segment, kept */
                        strcat(frames, " <");
                        strncat(frames, fm->fm_data, fm->fm_len);
                        strcat(frames, ">");
                }
        } else {
                assert_non_null(fm->fm_data);
                if (!fm->fm_len)
                        strcat(frames, "(empty)");
                strncat(frames, fm->fm_data, fm->fm_len);
        }
}

/* Feeds s (n bytes) whole, then byte by byte into a second reader, then in
 * 3-byte pieces: all three give the same frames, which are returned. */
static const char *read_frames(const char *s, size_t n, size_t max,
                               size_t *outside, size_t *cut) {
        static char whole[4096];
        vg_hl7_mllp_t ml;
        frames[0] = '\0';
        vg_hl7_mllp_init(&ml, max);
        vg_hl7_mllp_feed(&ml, s, n, collect, NULL);
        snprintf(whole, sizeof(whole), "%s", frames);
        *outside = ml.ml_outside;
        *cut = ml.ml_cut;
        vg_hl7_mllp_free(&ml);
        for (size_t step = 1; step <= 3; step += 2) {
                frames[0] = '\0';
                vg_hl7_mllp_init(&ml, max);
                for (size_t i = 0; i < n; i += step)
                        vg_hl7_mllp_feed(&ml, s + i, n - i < step ? n - i : step,
                                         collect, NULL);
                assert_string_equal(frames, whole);
                assert_int_equal(ml.ml_outside, *outside);
                assert_int_equal(ml.ml_cut, *cut);
                vg_hl7_mllp_free(&ml);
        }
        return whole;
}

#define FRAMES(lit, max) read_frames(lit, sizeof(lit) - 1, max, &out, &cut)

static void test_mllp_reader(void **state) {
        size_t out, cut;
        (void)state;
        /* One frame, one message, byte for byte (blank lines and LF kept:
         * they do not split a frame). */
        assert_string_equal(FRAMES("\x0bMSH|a\rPID|b\r\rNTE|c\n\x1c\r", 100),
                            "MSH|a\rPID|b\r\rNTE|c\n");
        assert_int_equal(out, 0);
        /* Two frames, line breaks between them, 0x1C without its CR. */
        assert_string_equal(
                FRAMES("\x0b" "A\x1c\r\r\n\x0b" "B\x1c\x0b" "C\x1c", 100),
                "A | B | C");
        assert_int_equal(out, 0);
        /* Bytes outside frames are no message; counted. */
        assert_string_equal(FRAMES("junk\x0b" "A\x1c\rmore junk\r\n", 100),
                            "A");
        assert_int_equal(out, 12);
        assert_string_equal(FRAMES("MSH|no frame\x1c\r", 100), "");
        assert_int_equal(out, 12);
        /* A new start byte cuts the frame short: only the new one counts. */
        assert_string_equal(FRAMES("\x0b" "A-cut\x0b" "B\x1c\r", 100), "B");
        assert_int_equal(cut, 1);
        /* An empty frame is a (empty) message; an unfinished one none. */
        assert_string_equal(FRAMES("\x0b\x1c\r\x0bpartial", 100), "(empty)");
        /* At the limit, over it, and a good frame after one too long. */
        assert_string_equal(FRAMES("\x0b" "0123456789\x1c\r", 10),
                            "0123456789");
        assert_string_equal(
                FRAMES("\x0b" "0123456789X\x1c\r\x0bok\x1c\r", 10),
                "TOO LONG <0123456789X> | ok"); /* (one segment) */
        /* Over it, the first segment is kept (the AR answers its MSH:
         * MSA-2 names the message), whether the limit is passed in it or
         * after it, and nothing else. */
        assert_string_equal(FRAMES("\x0bMSH|x|C1\rPID|0123456789\x1c\r", 12),
                            "TOO LONG <MSH|x|C1\r>");
        assert_string_equal(FRAMES("\x0bMSH|x|C1\nPID|0123456789\x1c\r", 4),
                            "TOO LONG <MSH|x|C1\n>");
        /* (blank lines before it are not its end: vg_hl7_msh_read skips
         * them) */
        assert_string_equal(FRAMES("\x0b\r\n MSH|x|C1\rPID|0123456789\x1c\r",
                                   6),
                            "TOO LONG <\r\n MSH|x|C1\r>");
        /* ... when it ends within VG_HL7_HEAD_MAX bytes */
        {
                static char big[VG_HL7_HEAD_MAX + 64];
                size_t n = 0;
                big[n++] = 0x0b;
                memcpy(big + n, "MSH|", 4), n += 4;
                memset(big + n, 'a', VG_HL7_HEAD_MAX), n += VG_HL7_HEAD_MAX;
                memcpy(big + n, "\rPID|\x1c\r", 8), n += 8;
                assert_string_equal(read_frames(big, n, 100, &out, &cut),
                                    "TOO LONG");
        }
}

/* ------------------------------------------------------------------ */
/* Headers and ACKs                                                   */
/* ------------------------------------------------------------------ */

static void test_header(void **state) {
        vg_hl7_msh_t h;
        (void)state;
        assert_int_equal(vg_hl7_msh_read(MSG_A01, strlen(MSG_A01), &h), 0);
        assert_true(h.hh_ok);
        assert_int_equal(h.hh_fs, '|');
        assert_string_equal(h.hh_enc, "^~\\&");
        assert_string_equal(h.hh_send_app, "HIS-A");
        assert_string_equal(h.hh_send_fac, "MSE^1.2.3^ISO");
        assert_string_equal(h.hh_recv_app, "VIGIL");
        assert_string_equal(h.hh_recv_fac, "REG");
        assert_string_equal(h.hh_type, "ADT");
        assert_string_equal(h.hh_trigger, "A01");
        assert_string_equal(h.hh_ctrl, "M-0001");
        assert_string_equal(h.hh_proc, "P");
        assert_string_equal(h.hh_version, "2.5");
}

/* vg_hl7_msh_read's trigger of m (which has a usable MSH). */
static const char *trigger_of(const char *m) {
        static vg_hl7_msh_t h;
        assert_int_equal(vg_hl7_msh_read(m, strlen(m), &h), 0);
        return h.hh_trigger;
}

static void test_header_forms(void **state) {
        vg_hl7_msh_t h;
        const char *m;
        (void)state;
        /* Leading blank lines, LF segment ends, a repeated MSH-9, MSH-12
         * with components, MSH-11 with a mode. */
        m = "\r\n  MSH|^~\\&|A|B|C|D|x||ADT^A03~ORU^R01|42|T^A|2.3.1^X\nEVN|A03";
        assert_int_equal(vg_hl7_msh_read(m, strlen(m), &h), 0);
        assert_string_equal(h.hh_trigger, "A03");
        assert_string_equal(h.hh_ctrl, "42");
        assert_string_equal(h.hh_proc, "T");
        assert_string_equal(h.hh_version, "2.3.1");
        /* MSH-9.2 empty: the trigger is EVN-1 (its first repetition and
         * component), as the converter takes it (docs/HOSPITAL.md §2) -
         * for the ACK's MSH-9 and the metrics */
        assert_string_equal(trigger_of("MSH|^~\\&|A|B|C|D|x||ADT|42|P|2.5\r"
                                       "PID|1\rEVN|A11^x~A01|2026"), "A11");
        assert_string_equal(trigger_of("MSH|^~\\&|A|B|C|D|x||ADT^A01|42|P|2.5"
                                       "\nEVN|A03|2026"), "A01");
        assert_string_equal(trigger_of("MSH|^~\\&|A|B|C|D|x||ADT|42|P|2.5\r"
                                       "EVNX|A03\rEVN"), "");
        /* only the first EVN, and only when MSH-9.2 is empty (one that is
         * not a code is no trigger: the converter refuses it) */
        assert_string_equal(trigger_of("MSH|^~\\&|A|B|C|D|x||ADT|42|P|2.5\r"
                                       "EVN\rEVN|A03"), "");
        assert_string_equal(trigger_of("MSH|^~\\&|A|B|C|D|x||ADT^A0!|42|P|2.5"
                                       "\rEVN|A01"), "");
        /* Ten digits or more are no code (a personnummer in MSH-9.2 or
         * MSH-12): left out, so the ACK does not repeat it; nine are. */
        m = "MSH|^~\\&|A|B|C|D|x||ADT^191212121212|42|P|191212121212\rEVN|A01";
        assert_int_equal(vg_hl7_msh_read(m, strlen(m), &h), 0);
        assert_string_equal(h.hh_trigger, "");
        assert_string_equal(h.hh_version, "?"); /* given, not shown */
        assert_int_equal(vg_hl7_refusal_code(&h, "x"), 203);
        assert_string_equal(trigger_of("MSH|^~\\&|A|B|C|D|x||ADT^A12345678|4"),
                            "A12345678");
        /* A UTF-8 byte order mark before MSH. */
        m = "\xef\xbb\xbfMSH|^~\\&|A|B|C|D|x||ADT^A03|42|P|2.5";
        assert_int_equal(vg_hl7_msh_read(m, strlen(m), &h), 0);
        assert_string_equal(h.hh_trigger, "A03");
        /* The shortest header: no fields after MSH-2. */
        m = "MSH|^~\\&";
        assert_int_equal(vg_hl7_msh_read(m, strlen(m), &h), 0);
        assert_string_equal(h.hh_ctrl, "");
        assert_string_equal(h.hh_trigger, "");
        /* Not a header. */
        assert_int_equal(vg_hl7_msh_read("garbage", 7, &h), -1);
        assert_false(h.hh_ok);
        assert_int_equal(vg_hl7_msh_read("MSH", 3, &h), -1);
        assert_int_equal(vg_hl7_msh_read("MSHA^~\\&|", 9, &h), -1);
        assert_int_equal(vg_hl7_msh_read("MSH||", 5, &h), -1); /* no enc */
        assert_int_equal(vg_hl7_msh_read("MSH|^^~\\&|", 10, &h), -1);
        assert_int_equal(vg_hl7_msh_read("MSH|^~\\&x|", 10, &h), -1);
        assert_int_equal(vg_hl7_msh_read(NULL, 0, &h), -1);
        assert_int_equal(h.hh_fs, '|'); /* defaults */
        /* A code with a separator-like or odd character is left out,
         * a control character in an echoed field dropped. */
        m = "MSH|^~\\&|A\tB||||||AD T^A0\"1|C\t1|P|2.5";
        assert_int_equal(vg_hl7_msh_read(m, strlen(m), &h), 0);
        assert_string_equal(h.hh_send_app, "AB");
        assert_string_equal(h.hh_type, "");
        assert_string_equal(h.hh_trigger, "");
        assert_string_equal(h.hh_ctrl, "C1");
}

static void test_aa(void **state) {
        char *a = ack(MSG_A01, VG_HL7_AA, 0, NULL);
        (void)state;
        assert_string_equal(
                a, "MSH|^~\\&|VIGIL|REG|HIS-A|MSE^1.2.3^ISO|" TS
                   "||ACK^A01^ACK|VG1|P|2.5\r"
                   "MSA|AA|M-0001\r");
        free(a);
        /* An AA may say why nothing was published (A08). */
        a = ack(MSG_A01, VG_HL7_AA, 0, "A08 update skipped");
        assert_string_equal(segment(a, 1), "MSA|AA|M-0001|A08 update skipped");
        assert_int_equal(count_segments(a), 2);
        free(a);
}

static void test_ae_ar(void **state) {
        char *a = ack(MSG_A01, VG_HL7_AE, 0, "event not stored in Kafka");
        (void)state;
        assert_string_equal(segment(a, 1),
                            "MSA|AE|M-0001|event not stored in Kafka");
        assert_string_equal(segment(a, 2),
                            "ERR|||207^Application internal error^HL70357|E"
                            "||||event not stored in Kafka");
        assert_int_equal(count_segments(a), 3);
        free(a);
        a = ack(MSG_A01, VG_HL7_AR, VG_HL7_E_EVENT_CODE,
                "A40 merge is not supported");
        assert_string_equal(segment(a, 1),
                            "MSA|AR|M-0001|A40 merge is not supported");
        assert_string_equal(segment(a, 2),
                            "ERR|||201^Unsupported event code^HL70357|E||||"
                            "A40 merge is not supported");
        free(a);
        /* AR without a code: data type error; no text: empty fields. */
        a = ack(MSG_A01, VG_HL7_AR, 0, NULL);
        assert_string_equal(segment(a, 1), "MSA|AR|M-0001");
        assert_string_equal(segment(a, 2),
                            "ERR|||102^Data type error^HL70357|E||||");
        free(a);
}

static void test_escaped_text(void **state) {
        char *a = ack(MSG_A01, VG_HL7_AR, 0, "a|b^c~d\\e&f\rg\x01h");
        (void)state;
        assert_string_equal(segment(a, 1),
                            "MSA|AR|M-0001|a\\F\\b\\S\\c\\R\\d\\E\\e\\T\\f g h");
        assert_int_equal(count_segments(a), 3);
        free(a);
}

static void test_own_separators(void **state) {
        /* '#' fields, '*' components, '%' repetitions, '!' escape, '@'
         * subcomponents: the ACK uses them, echoed fields stay valid. */
        const char *m = "MSH#*%!@#HIS*X#MSE#VIG#REG#1##ADT*A03#C|1#P#2.4";
        char *a = ack(m, VG_HL7_AE, 0, "x#y*z|");
        (void)state;
        assert_string_equal(segment(a, 0), "MSH#*%!@#VIG#REG#HIS*X#MSE#" TS
                                           "##ACK*A03*ACK#VG1#P#2.4");
        assert_string_equal(segment(a, 1), "MSA#AE#C|1#x!F!y!S!z|");
        assert_string_equal(segment(a, 2),
                            "ERR###207*Application internal error*HL70357#E"
                            "####x!F!y!S!z|");
        free(a);
        /* Only two encoding characters: no escape, a separator in the
         * text becomes a space. */
        m = "MSH|^~|A|B|C|D|||ADT^A01|9|P|2.5";
        a = ack(m, VG_HL7_AR, 0, "p|q^r");
        assert_string_equal(segment(a, 1), "MSA|AR|9|p q r");
        free(a);
}

static void test_no_header(void **state) {
        char *a = ack("hello", VG_HL7_AR, VG_HL7_E_SEGMENT_SEQUENCE,
                      "not an HL7 v2 message");
        (void)state;
        assert_string_equal(a, "MSH|^~\\&|VIGIL||||" TS "||ACK|VG1|P|2.5\r"
                               "MSA|AR||not an HL7 v2 message\r"
                               "ERR|||100^Segment sequence error^HL70357|E"
                               "||||not an HL7 v2 message\r");
        free(a);
        a = ack(NULL, VG_HL7_AR, 0, NULL);
        assert_string_equal(segment(a, 1), "MSA|AR|");
        free(a);
        /* Version 3 is not echoed (the ACK is v2); an unknown processing
         * id neither. */
        a = ack("MSH|^~\\&|A|B|C|D|||ADT^A01|7||3.0", VG_HL7_AR, 0, NULL);
        assert_string_equal(segment(a, 0), "MSH|^~\\&|C|D|A|B|" TS
                                           "||ACK^A01^ACK|VG1|P|2.5");
        free(a);
}

static void test_long_values(void **state) {
        char msg[1024];
        char *a;
        vg_hl7_msh_t h;
        (void)state;
        /* MSH-10 of 199 characters is echoed, of 200 left out. */
        for (int len = 199; len <= 200; len++) {
                char ctrl[256];
                memset(ctrl, 'c', (size_t)len);
                ctrl[len] = '\0';
                snprintf(msg, sizeof(msg), "MSH|^~\\&|A|B|C|D|||ADT^A01|%s|P|"
                         "2.5", ctrl);
                vg_hl7_msh_read(msg, strlen(msg), &h);
                assert_int_equal(strlen(h.hh_ctrl), len == 199 ? 199 : 0);
        }
        /* A long reason: MSA-3 at most 80 bytes, ERR-8 at most 250, never
         * cut in an escape or a UTF-8 character. */
        {
                char text[600] = "";
                const char *msa, *p;
                size_t n;
                for (int i = 0; i < 60; i++)
                        strcat(text, i % 3 ? "\xc3\xa5" : "|x"); /* å */
                strcat(text, "...");
                for (int i = 0; i < 80; i++)
                        strcat(text, "ab|");
                a = ack(MSG_A01, VG_HL7_AE, 0, text);
                msa = segment(a, 1);
                p = msa + strlen("MSA|AE|M-0001|");
                n = strlen(p);
                assert_true(n <= 80 && n >= 75);
                /* ends on a complete unit */
                assert_true((unsigned char)p[n - 1] < 0x80 ||
                            ((unsigned char)p[n - 2] == 0xc3 &&
                             (unsigned char)p[n - 1] == 0xa5));
                assert_true(p[n - 1] != '\\' || (n >= 3 && p[n - 3] == '\\'));
                p = strrchr(segment(a, 2), '|') + 1;
                assert_true(strlen(p) <= 250 && strlen(p) >= 245);
                free(a);
        }
        /* MSH-12 echoed only when it is a version read here. */
        a = ack("MSH|^~\\&|A|B|VIGIL|REG|x||ADT^191212121212|7|P|2.x",
                VG_HL7_AR, 0, NULL);
        assert_string_equal(segment(a, 0),
                            "MSH|^~\\&|VIGIL|REG|A|B|" TS "||ACK|VG1|P|2.5");
        free(a);
        /* Malformed UTF-8 becomes '?'. */
        a = ack(MSG_A01, VG_HL7_AR, 0, "a\xc3(b\xff");
        assert_string_equal(segment(a, 1), "MSA|AR|M-0001|a?(b?");
        free(a);
}

static void test_refusal_codes(void **state) {
#define H(trig, ver) "MSH|^~\\&|A|B|C|D|||" trig "|1|P|" ver
        static const struct {
                const char *msg, *reason;
                int         code;
        } cases[] = {
                {"garbage", "x", 100},
                {H("ORU^R01", "2.5"), "x", 200},
                {H("", "2.5"), "x", 200},
                {H("ADT^A01", "3.0"), "x", 203},
                {H("ADT^A40", "2.5"), "x", 201},
                {H("ADT^A02", "2.5"), "x", 201},
                {H("ADT^A01", "2.5"), "PID-3: missing", 101},
                {H("ADT^A01", "2.5"), "PID-7: not a birth date", 102},
                /* A version is "2." and digits, maybe more ".digits";
                 * empty is read as 2.5. */
                {H("ADT^A01", "2.x"), "x", 203},
                {H("ADT^A01", "2."), "x", 203},
                {H("ADT^A01", "2.5."), "x", 203},
                {H("ADT^A01", "2.5.1"), "x", 102},
                {H("ADT^A01", ""), "x", 102},
                {H("ADT^A01", "2.5"), "segment 6: not an HL7 segment (...)",
                 100},
                /* A required segment missing (table 0357: 100), as
                 * vg_hl7_convert words it; a field's "no ..." is not. */
                {H("ADT^A01", "2.5"), "no PID segment", 100},
                {H("ADT^A01", "2.5"), "no EVN segment (EVN-6 or EVN-2 ...)",
                 100},
                {H("ADT^A01", "2.5"), "PID-11: no 4-digit kommun code", 102},
                /* No trigger in MSH-9 (EVN-1 may carry it): by the
                 * reason. */
                {H("ADT", "2.5"), "x", 102},
        };
#undef H
        vg_hl7_msh_t h;
        (void)state;
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                vg_hl7_msh_read(cases[i].msg, strlen(cases[i].msg), &h);
                if (vg_hl7_refusal_code(&h, cases[i].reason) != cases[i].code)
                        fail_msg("%s (%s): code %d, want %d", cases[i].msg,
                                 cases[i].reason,
                                 vg_hl7_refusal_code(&h, cases[i].reason),
                                 cases[i].code);
        }
        assert_int_equal(vg_hl7_refusal_code(NULL, NULL), 100);
        assert_string_equal(vg_hl7_err_name(201), "Unsupported event code");
        assert_string_equal(vg_hl7_err_name(999), "Application error");
        assert_string_equal(vg_hl7_ack_name(VG_HL7_AR), "AR");
}

static void test_mllp(void **state) {
        vg_buf_t out;
        (void)state;
        vg_buf_init(&out);
        vg_hl7_mllp_wrap("MSA|AA|1\r", 9, &out);
        assert_int_equal(out.vb_len, 12);
        assert_memory_equal(out.vb_data, "\x0bMSA|AA|1\r\x1c\r", 12);
        vg_buf_reset(&out);
        vg_hl7_mllp_wrap(NULL, 0, &out);
        assert_memory_equal(out.vb_data, "\x0b\x1c\r", 3);
        vg_buf_free(&out);
}

/* Random headers and reasons: the ACK is always MSH, MSA (and ERR), each
 * segment ending in '\r' with no other control byte (so no MLLP byte and
 * no extra segment), MSA-2 the MSH-10 that was read, and the ACK reads
 * back as a header with the swapped addresses. */
static void test_random(void **state) {
        static const char alphabet[] = "|^~\\&#*%!@abcXYZ019 .-\t\r\n\x0b\x1c"
                                       "\xc3\xa5\xff";
        unsigned seed = 12345;
        (void)state;
        for (int round = 0; round < 20000; round++) {
                char msg[200], text[120];
                size_t n = 0, tn;
                vg_hl7_msh_t h, back;
                vg_buf_t out;
                const char *msa;
                vg_hl7_ack_t code = (vg_hl7_ack_t)(round % 3);

#define RND() (seed = seed * 1103515245u + 12345u, (seed >> 16) & 0x7fff)
                if (round % 4) { /* mostly something like a header */
                        memcpy(msg, "MSH", 3);
                        n = 3;
                }
                while (n < sizeof(msg) - 1 && RND() % 40)
                        msg[n++] = alphabet[RND() % (sizeof(alphabet) - 1)];
                msg[n] = '\0';
                for (tn = 0; tn < sizeof(text) - 1 && RND() % 30; tn++)
                        text[tn] = alphabet[RND() % (sizeof(alphabet) - 1)];
                text[tn] = '\0';
#undef RND
                vg_hl7_msh_read(msg, n, &h);
                vg_buf_init(&out);
                vg_hl7_ack_build(&h, code, 0, text, NOW_MS, "VG1", &out);
                assert_int_equal(count_segments(out.vb_data),
                                 code == VG_HL7_AA ? 2 : 3);
                for (size_t i = 0; i < out.vb_len; i++) {
                        unsigned char c = (unsigned char)out.vb_data[i];
                        assert_true(c == '\r' || c >= 0x20);
                        assert_true(c != 0x7f);
                }
                assert_int_equal(out.vb_data[out.vb_len - 1], '\r');
                assert_int_equal(vg_hl7_msh_read(out.vb_data, out.vb_len,
                                                 &back), 0);
                assert_string_equal(back.hh_type, "ACK");
                if (h.hh_ok) {
                        assert_string_equal(back.hh_send_fac, h.hh_recv_fac);
                        assert_string_equal(back.hh_recv_app, h.hh_send_app);
                        assert_string_equal(back.hh_recv_fac, h.hh_send_fac);
                }
                /* MSA-2 is the control id read, exactly. */
                msa = strchr(out.vb_data, '\r') + 1;
                {
                        char want[VG_HL7_MSH_FIELD_MAX + 16];
                        snprintf(want, sizeof(want), "MSA%c%s%c%s", back.hh_fs,
                                 vg_hl7_ack_name(code), back.hh_fs,
                                 h.hh_ctrl);
                        assert_memory_equal(msa, want, strlen(want));
                        assert_true(msa[strlen(want)] == '\r' ||
                                    msa[strlen(want)] == back.hh_fs);
                }
                vg_buf_free(&out);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_mllp_reader),
                cmocka_unit_test(test_header),
                cmocka_unit_test(test_header_forms),
                cmocka_unit_test(test_aa),
                cmocka_unit_test(test_ae_ar),
                cmocka_unit_test(test_escaped_text),
                cmocka_unit_test(test_own_separators),
                cmocka_unit_test(test_no_header),
                cmocka_unit_test(test_long_values),
                cmocka_unit_test(test_refusal_codes),
                cmocka_unit_test(test_mllp),
                cmocka_unit_test(test_random),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
