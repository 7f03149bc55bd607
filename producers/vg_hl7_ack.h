/*
 * vg_hl7_ack.h - HL7 v2 over MLLP (docs/HOSPITAL.md §7): the MLLP reader
 * (one frame, one message), what an ACK needs from the header of the
 * message it answers, the ACK itself, and the MLLP envelope. Pure: no I/O,
 * no clock (the caller passes the time and the ACK's own control id).
 *
 * The ACK of a message
 *
 *   MSH|^~\&|HIS-A|MSE|VIGIL|REG|...||ADT^A01^ADT_A01|M1|P|2.5
 *
 * is
 *
 *   MSH|^~\&|VIGIL|REG|HIS-A|MSE|<now>||ACK^A01^ACK|<id>|P|2.5
 *   MSA|AA|M1
 *
 * (sending and receiving application and facility swapped, MSA-2 = the
 * message's MSH-10), written with the message's own separators; AE and AR
 * add the reason in MSA-3 and an ERR segment (ERR-3 an HL7 table 0357
 * code, ERR-4 E, ERR-8 the reason).
 */
#ifndef VG_HL7_ACK_H
#define VG_HL7_ACK_H

#include "vg_common.h"
#include "vg_hl7.h"

/* The MLLP reader of a connection: 0x0B <message> 0x1C 0x0D. Unlike the
 * file framer of vg_hl7.h, the bytes of one frame are one message (a blank
 * line in it does not split it) and bytes outside frames are not messages:
 * every frame gets one answer, nothing else does. */
/* The most bytes of a frame past max_bytes kept: its first segment. */
#define VG_HL7_HEAD_MAX 4096

typedef struct vg_hl7_mllp_s {
        vg_buf_t ml_buf;       /* the frame so far */
        size_t   ml_max;       /* longest message accepted, bytes */
        bool     ml_in;        /* inside a frame (after 0x0B) */
        bool     ml_too_long;  /* this frame passed ml_max: dropped */
        bool     ml_head_open; /* ... its first segment still being kept */
        bool     ml_after_end; /* 0x1C just seen: a 0x0D may follow */
        size_t   ml_outside;   /* bytes outside frames, ignored (not
                                * counting CR, LF, space, tab) */
        size_t   ml_cut;       /* frames cut short by a new 0x0B */
} vg_hl7_mllp_t;

void vg_hl7_mllp_init(vg_hl7_mllp_t *ml, size_t max_bytes);
/* Feeds bytes; calls cb for every frame they complete (fm_too_long when it
 * was longer than max_bytes; its bytes are not kept but its first segment,
 * when that ends within VG_HL7_HEAD_MAX bytes: the MSH its AR answers).
 * An unfinished frame at a new 0x0B is dropped (counted in ml_cut). A
 * 0x1C ends a frame; the 0x0D after it may be left out. */
void vg_hl7_mllp_feed(vg_hl7_mllp_t *ml, const void *data, size_t len,
                      vg_hl7_frame_cb cb, void *opaque);
/* Wipes (a frame holds a personnummer) and frees. ml may be NULL. */
void vg_hl7_mllp_free(vg_hl7_mllp_t *ml);

/* Longest MSH field copied into an ACK (MSH-10 is at most 199 characters
 * from HL7 v2.7 on); a longer one is left out. */
#define VG_HL7_MSH_FIELD_MAX 199

/* The header fields an ACK echoes, as sent (escapes and components kept,
 * control characters dropped). Empty strings when absent. */
typedef struct vg_hl7_msh_s {
        bool hh_ok;          /* the message starts with a usable MSH */
        char hh_fs;          /* MSH-1 field separator ('|' when !hh_ok) */
        char hh_enc[6];      /* MSH-2 encoding characters ("^~\&") */
        char hh_send_app[VG_HL7_MSH_FIELD_MAX + 1];  /* MSH-3 */
        char hh_send_fac[VG_HL7_MSH_FIELD_MAX + 1];  /* MSH-4 */
        char hh_recv_app[VG_HL7_MSH_FIELD_MAX + 1];  /* MSH-5 */
        char hh_recv_fac[VG_HL7_MSH_FIELD_MAX + 1];  /* MSH-6 */
        char hh_type[16];    /* MSH-9.1, e.g. "ADT" */
        char hh_trigger[16]; /* MSH-9.2, else EVN-1, e.g. "A01" */
        char hh_ctrl[VG_HL7_MSH_FIELD_MAX + 1];      /* MSH-10 */
        char hh_proc[16];    /* MSH-11, e.g. "P" */
        char hh_version[16]; /* MSH-12.1, e.g. "2.5" */
} vg_hl7_msh_t;

/* Reads the MSH segment at the start of msg (leading whitespace skipped;
 * segments end with '\r' or '\n'), and EVN-1 when MSH-9.2 is empty (the
 * trigger, as vg_hl7_convert takes it). Fills *h in every case: without a
 * usable MSH, hh_ok is false and h holds the defaults. Returns 0 or -1
 * (no usable MSH). Can't crash on any input. */
int vg_hl7_msh_read(const char *msg, size_t len, vg_hl7_msh_t *h);

typedef enum vg_hl7_ack_e {
        VG_HL7_AA = 0,  /* accepted: the event is in Kafka (or nothing to do) */
        VG_HL7_AE,      /* error: not stored now; the sender should retry */
        VG_HL7_AR       /* rejected: the message will never be accepted */
} vg_hl7_ack_t;

/* "AA", "AE" or "AR". */
const char *vg_hl7_ack_name(vg_hl7_ack_t code);

/* HL7 table 0357 (message error condition codes) used in ERR-3. */
#define VG_HL7_E_SEGMENT_SEQUENCE 100  /* no MSH first: not a message */
#define VG_HL7_E_REQUIRED_MISSING 101
#define VG_HL7_E_DATA_TYPE        102
#define VG_HL7_E_MESSAGE_TYPE     200  /* not ADT */
#define VG_HL7_E_EVENT_CODE       201  /* trigger not supported (A40, A02) */
#define VG_HL7_E_VERSION          203  /* not HL7 v2 */
#define VG_HL7_E_INTERNAL         207  /* the receiver failed (AE) */

/* The text of a table 0357 code ("Unsupported event code"), or
 * "Application error" for one not listed above. */
const char *vg_hl7_err_name(int code);

/* The table 0357 code for refusing a message whose header is h and whose
 * conversion failed with reason: 100 without an MSH, 200 when MSH-9.1 is
 * not ADT, 203 when MSH-12 is not 2.x, 201 when the trigger is not one of
 * A01 A03 A08 A11 A13, else 101 when reason says something is missing,
 * else 102. */
int vg_hl7_refusal_code(const vg_hl7_msh_t *h, const char *reason);

/* Whether v (MSH-12.1) is a version read here: "2.", digits, maybe more
 * ".digits" ("2.5", "2.5.1"); an empty one is read as 2.5. */
bool vg_hl7_version_ok(const char *v);

/* Appends the ACK to out: MSH, MSA and, for AE and AR, ERR; every segment
 * ends with '\r'. h is the header of the message answered (see
 * vg_hl7_msh_read; a header with !hh_ok gives empty MSA-2 and addresses).
 * err_code is ERR-3 (0: VG_HL7_E_INTERNAL for AE, VG_HL7_E_DATA_TYPE for
 * AR); text is the reason (NULL or "" for none; an AA may carry one, e.g.
 * "A08 update skipped"), escaped with the message's escape character and
 * shortened to 80 bytes in MSA-3 and 250 in ERR-8, never in the middle of
 * a UTF-8 character. now_ms gives MSH-7 (UTC, "+0000"); ack_id is the
 * ACK's own MSH-10 (printable, up to 20 characters by convention). Can't
 * fail. */
void vg_hl7_ack_build(const vg_hl7_msh_t *h, vg_hl7_ack_t code, int err_code,
                      const char *text, int64_t now_ms, const char *ack_id,
                      vg_buf_t *out);

/* Appends data wrapped in MLLP: 0x0B data 0x1C 0x0D. */
void vg_hl7_mllp_wrap(const char *data, size_t len, vg_buf_t *out);

#endif /* VG_HL7_ACK_H */
