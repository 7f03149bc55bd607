/*
 * vg_hl7.h - HL7 v2.5 ADT messages to care events (docs/HOSPITAL.md).
 *
 * Three pure parts, no I/O and no clock (the caller passes "now"):
 *   - the framer cuts a byte stream into messages (MLLP 0x0B ... 0x1C 0x0D,
 *     blank lines, or a line starting with "MSH"), bounded in size;
 *   - the site mapping (care setting, kommun, diagnosis group, disposition,
 *     planned, needs_coordination) with built-in defaults, set key by key;
 *   - the converter: one message -> one event (A01, A03, A11, A13), a skip
 *     (A08) or an error whose text never quotes personal data.
 */
#ifndef VG_HL7_H
#define VG_HL7_H

#include "vg_common.h"
#include "vg_record.h"
#include "vg_time.h"

/* ------------------------------------------------------------------ */
/* Framing                                                            */
/* ------------------------------------------------------------------ */

/* One message cut from the stream. Segments are separated by '\r' (input
 * "\r", "\n" and "\r\n" all become '\r'), but in an MLLP frame, which is
 * one message as it came (blank lines and every MSH in it included, as
 * vg_hl7_ack.c's reader gives hl7 listen a frame). fm_data is valid during
 * the callback only. */
typedef struct vg_hl7_frame_s {
        const char *fm_data;     /* the message; when fm_too_long, NULL
                                  * or (MLLP) its first segment alone, for
                                  * the header of its AR */
        size_t      fm_len;      /* its length */
        bool        fm_too_long; /* longer than the limit: dropped */
} vg_hl7_frame_t;

typedef void (*vg_hl7_frame_cb)(void *opaque, const vg_hl7_frame_t *fm);

typedef struct vg_hl7_framer_s {
        vg_buf_t hf_buf;       /* the message so far */
        size_t   hf_max;       /* longest message accepted, bytes */
        size_t   hf_line_at;   /* offset in hf_buf where the line starts */
        size_t   hf_line_len;  /* characters of the current line so far */
        char     hf_head[3];   /* its first three characters */
        bool     hf_line_blank;/* the current line is whitespace so far */
        bool     hf_content;   /* the message has a non-blank character */
        size_t   hf_lines;     /* complete non-blank lines in it */
        bool     hf_too_long;  /* the message passed hf_max */
        bool     hf_prev_cr;   /* the last byte was '\r' */
        int      hf_bom;       /* bytes of a byte order mark held at a
                                * line's start (0 to 2) */
        bool     hf_in_frame;  /* after an MLLP 0x0B, before its 0x1C */
} vg_hl7_framer_t;

void vg_hl7_framer_init(vg_hl7_framer_t *fr, size_t max_bytes);
/* Feeds bytes; calls cb for every message completed by them. */
void vg_hl7_framer_feed(vg_hl7_framer_t *fr, const void *data, size_t len,
                        vg_hl7_frame_cb cb, void *opaque);
/* End of input: calls cb for the last message, if any. */
void vg_hl7_framer_end(vg_hl7_framer_t *fr, vg_hl7_frame_cb cb, void *opaque);
/* Wipes (a message holds a personnummer) and frees. fr may be NULL. */
void vg_hl7_framer_free(vg_hl7_framer_t *fr);

/* ------------------------------------------------------------------ */
/* Site mapping                                                       */
/* ------------------------------------------------------------------ */

typedef struct vg_hl7_map_s vg_hl7_map_t;

/* A mapping holding the built-in defaults (docs/HOSPITAL.md §4). */
vg_hl7_map_t *vg_hl7_map_new(void);
void vg_hl7_map_destroy(vg_hl7_map_t *map);
/* Sets one mapping-file key (care_setting.default,
 * care_setting.class.<PV1-2>, care_setting.location.<prefix>,
 * kommun.default, diagnosis.<ICD-10 prefix>, diagnosis.default,
 * disposition.<PV1-36>, disposition.default, planned.admission_types,
 * needs_coordination.default). VG_ERR_ARG with errstr on an unknown key or
 * a bad value. */
vg_err_t vg_hl7_map_set(vg_hl7_map_t *map, const char *key,
                        const char *value, char *errstr, size_t errstr_size);

/* ------------------------------------------------------------------ */
/* Conversion                                                         */
/* ------------------------------------------------------------------ */

typedef struct vg_hl7_ctx_s {
        const vg_hl7_map_t  *hx_map;     /* site mapping */
        const unsigned char *hx_key;     /* pseudonym key (required) */
        size_t               hx_keylen;
        vg_tz_t              hx_tz;      /* HL7 times without an offset */
        int64_t              hx_now_ms;  /* wall clock, for validation */
} vg_hl7_ctx_t;

typedef enum vg_hl7_res_e {
        VG_HL7_EVENT = 0,  /* *ev holds an event to write */
        VG_HL7_SKIPPED,    /* nothing to write (A08); errstr says why */
        VG_HL7_INVALID     /* refused; errstr says why */
} vg_hl7_res_t;

/* The segments of d[0..n) that begin with "MSH" (at its start or after a
 * '\r' or '\n'): more than one is more than one message. */
int vg_hl7_msh_count(const char *d, size_t n);

/* Size of the ctrl buffer: MSH-10 as it may be printed. */
#define VG_HL7_CTRL_BUFSZ 64

/* ctrl[VG_HL7_CTRL_BUFSZ] = MSH-10 (id) as it may be printed: printable,
 * redacted and shortened, or "?" when empty. */
void vg_hl7_ctrl_print(const char *id, char *ctrl);

/* Converts one message (segments separated by '\r', '\n' or "\r\n") into
 * *ev (zeroed first; the caller clears it with vg_record_clear when
 * VG_HL7_EVENT is returned). ctrl[VG_HL7_CTRL_BUFSZ] receives MSH-10,
 * printable, redacted and shortened, or "?" when there is none. errstr
 * never holds a personnummer (vg_pseudo_redact is applied to it) nor any
 * patient data. Can't crash on any input. */
vg_hl7_res_t vg_hl7_convert(const vg_hl7_ctx_t *cx, const char *msg,
                            size_t len, vg_event_t *ev, char *ctrl,
                            char *errstr, size_t errstr_size);

/* Parses an HL7 TS/DTM value YYYYMMDD[HH[MM[SS[.S+]]]][+/-ZZZZ] with at
 * least min_digits digits (8: a date, 12: to the minute). Without an offset
 * it is local time in tz (a time skipped by a clock change counts with the
 * offset before the change; a repeated one is its first occurrence).
 * Returns 0 and *msp, or -1. */
int vg_hl7_time_parse(const char *s, int min_digits, vg_tz_t tz,
                      int64_t *msp);

/* The deterministic event id of what facility records for visit
 * ("admission" or "discharge"), into out[VG_HL7_ID_BUFSZ]:
 * "hl7-" + the first 32 hex digits of SHA-256(facility NUL visit NUL what). */
#define VG_HL7_ID_BUFSZ 37
void vg_hl7_event_id(const char *facility, const char *visit,
                     const char *what, char *out);

/* ------------------------------------------------------------------ */
/* Site mapping lookups, for the formats sharing the mapping (vg_fhir) */
/* ------------------------------------------------------------------ */

/* care_setting: the longest care_setting.location.<prefix> of facility_id,
 * else care_setting.class.<class_code>, else care_setting.default (either
 * argument may be NULL). Can't fail. */
int vg_hl7_map_care_setting(const vg_hl7_map_t *map, const char *facility_id,
                            const char *class_code);
/* diagnosis_group: the longest diagnosis.<prefix> of the ICD-10 code
 * (case-insensitive), else diagnosis.default (also for NULL or ""). */
int vg_hl7_map_diagnosis(const vg_hl7_map_t *map, const char *icd10);
/* disposition.<code> exactly (built-in or the site's), or -1. */
int vg_hl7_map_disposition_find(const vg_hl7_map_t *map, const char *code);
/* disposition.default. */
int vg_hl7_map_disposition_default(const vg_hl7_map_t *map);
/* kommun.default: a 4-digit code, or "" when there is none. */
const char *vg_hl7_map_kommun_default(const vg_hl7_map_t *map);
/* True if code is one of planned.admission_types (NULL: false). */
bool vg_hl7_map_planned(const vg_hl7_map_t *map, const char *code);
/* needs_coordination.default. */
bool vg_hl7_map_needs_coordination(const vg_hl7_map_t *map);

#endif /* VG_HL7_H */
