/*
 * vg_hl7_int.h - what the parts of the HL7 v2 converter share (not an
 * interface for other code: vg_hl7.h is). The parts, by job:
 *
 *   vg_hl7_parse.c  reading HL7 v2 text: the framer (MLLP, blank lines,
 *                   "MSH" at a line start), the message model (segments,
 *                   fields, repetitions, components, subcomponents and
 *                   escapes, on slices of the caller's bytes), HL7 times
 *   vg_hl7_map.c    the site mapping: built-in defaults, the mapping
 *                   file's keys, the lookups
 *   vg_hl7.c        the converter: one message -> one event, event ids
 *
 * All pure: no I/O, no clock.
 */
#ifndef VG_HL7_INT_H
#define VG_HL7_INT_H

#include "vg_hl7.h"

/* ------------------------------------------------------------------ */
/* The message model (vg_hl7_parse.c)                                 */
/* ------------------------------------------------------------------ */

/* A slice of the message. */
typedef struct sl_s {
        const char *s_p;
        size_t      s_n;
} sl_t;

#define MAX_SEGMENTS 1000
/* Longest field value the converter copies out. */
#define VAL_MAX 256

typedef struct hmsg_s {
        char  hm_fs, hm_cs, hm_rs, hm_ec, hm_ss; /* separators; 0 = none */
        int   hm_latin; /* values are ISO 8859-1 (1) or 8859-15 (15),
                         * made UTF-8 by hl7_unescape; 0: UTF-8 */
        bool  hm_bytes; /* values are bytes as sent, in no character set
                         * (what only goes into a hash: MSH-4, MSH-10) */
        sl_t *hm_seg;                            /* segments */
        int   hm_nseg;
} hmsg_t;

/* True if s[0..n) is well-formed UTF-8 (no overlong form, no surrogate,
 * at most U+10FFFF). */
bool hl7_utf8_valid(const char *s, size_t n);
/* Splits msg into segments and reads the MSH separators. Returns 0, or -1
 * with errstr; hl7_msg_free(m) in both cases. */
int hl7_msg_parse(hmsg_t *m, const char *msg, size_t len, char *errstr,
                  size_t errstr_size);
void hl7_msg_free(hmsg_t *m);
/* The n-th (0-based) piece of s split at sep (sep 0: s is one piece). */
sl_t hl7_piece(sl_t s, char sep, int n);
/* The first segment named id, or a NULL slice. */
sl_t hl7_seg_find(const hmsg_t *m, const char *id);
/* How many segments are named id. */
int hl7_seg_count(const hmsg_t *m, const char *id);
/* Field n (HL7 numbering) of segment seg; for MSH, MSH-1 is the separator
 * itself and MSH-2 the encoding characters. */
sl_t hl7_field(const hmsg_t *m, sl_t seg, int n);
/* Component c, subcomponent s (both 1-based) of repetition r (0-based). */
sl_t hl7_part(const hmsg_t *m, sl_t f, int r, int c, int s);
/* Unescapes s into out[VAL_MAX], trimmed of surrounding spaces. Returns 0,
 * or one of these: */
#define HL7_TOO_LONG (-1) /* the value does not fit */
#define HL7_CONTROL  (-2) /* it holds a control character (also escaped) */
#define HL7_BAD_HEX  (-3) /* an \X..\ escape that is not pairs of hex */
#define HL7_OPEN_ESCAPE (-4) /* an escape character with no closing one */
#define HL7_BAD_ESCAPE  (-5) /* an escape sequence HL7 v2.5 does not define */
#define HL7_NOT_UTF8      (-6) /* not UTF-8 (MSH-18 empty, UTF-8 or other) */
#define HL7_UTF8_AS_LATIN (-7) /* UTF-8 text in a message declared 8859 */
#define HL7_NOT_LATIN     (-8) /* a byte 0x80-0x9F in one declared 8859 */
/* Whether hl7_unescape's u refuses the message (all but HL7_TOO_LONG,
 * which some fields read as "no value"). */
#define HL7_REFUSED(u) ((u) != 0 && (u) != HL7_TOO_LONG)
int hl7_unescape(const hmsg_t *m, sl_t s, char *out);
/* The message for hl7_unescape's error u in field ("PV1-19") into errstr;
 * returns -1. */
int hl7_unescape_error(int u, const char *field, char *errstr,
                       size_t errstr_size);
/* The value of SEG-f.c.s (first repetition) into out[VAL_MAX]; "" when
 * absent. Returns 0, or -1 with errstr (too long, a control character, an
 * escape that is bad or left open). */
int hl7_getv(const hmsg_t *m, const char *seg, int f, int c, int s,
             char *out, char *errstr, size_t errstr_size);

/* ------------------------------------------------------------------ */
/* Times (vg_hl7_parse.c)                                             */
/* ------------------------------------------------------------------ */

/* The span an HL7 time (DTM, YYYY[MM[DD[HH[MM[SS[.S...]]]]]][+/-ZZZZ])
 * covers: *from its first millisecond, *to its last (20260301: all of
 * that local day; 2026: the year; to the second: that second). Without an
 * offset it is local time in tz, as vg_hl7_time_parse reads it. Returns
 * 0, or -1 when s is not an HL7 time. */
int hl7_time_span(const char *s, vg_tz_t tz, int64_t *from, int64_t *to);

#endif /* VG_HL7_INT_H */
