/*
 * vg_hl7_ack.c - HL7 v2 acknowledgements (vg_hl7_ack.h, docs/HOSPITAL.md
 * §7).
 *
 * Contents: the MLLP reader; reading the header (MSH) of a received
 * message; escaping a reason text into a field; building the ACK; the MLLP
 * envelope.
 *
 * Pure: no I/O, no clock. Only header fields are read: PID and every other
 * segment holding patient data are never looked at.
 */
#include "vg_hl7_ack.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#define MLLP_START 0x0B
#define MLLP_END   0x1C
/* MSA-3 is ST(80) in HL7 v2.5; ERR-8 is TX(250). */
#define MSA_TEXT_MAX 80
#define ERR_TEXT_MAX 250

/* ------------------------------------------------------------------ */
/* The MLLP reader                                                    */
/* ------------------------------------------------------------------ */

void vg_hl7_mllp_init(vg_hl7_mllp_t *ml, size_t max_bytes) {
        memset(ml, 0, sizeof(*ml));
        vg_buf_init(&ml->ml_buf);
        ml->ml_max = max_bytes;
}

static void mllp_reset(vg_hl7_mllp_t *ml) {
        if (ml->ml_buf.vb_len)
                OPENSSL_cleanse(ml->ml_buf.vb_data, ml->ml_buf.vb_len);
        vg_buf_reset(&ml->ml_buf);
        ml->ml_too_long = false;
        ml->ml_head_open = false;
}

static bool is_blank(char c) {
        return c == '\r' || c == '\n' || c == ' ' || c == '\t';
}

/* Past ml_max: takes p[n) into the first segment being kept, up to its
 * terminator (blank lines before it, which vg_hl7_msh_read skips, are not
 * one), or drops it all once VG_HL7_HEAD_MAX bytes have no end. */
static void head_take(vg_hl7_mllp_t *ml, const char *p, size_t n) {
        size_t room = VG_HL7_HEAD_MAX - ml->ml_buf.vb_len, i;
        bool text = false;
        for (i = 0; i < ml->ml_buf.vb_len && !text; i++)
                text = !is_blank(ml->ml_buf.vb_data[i]);
        for (i = 0; i < n && i < room; i++) {
                if (text && (p[i] == '\r' || p[i] == '\n')) {
                        vg_buf_append(&ml->ml_buf, p, i + 1);
                        ml->ml_head_open = false;
                        return;
                }
                text = text || !is_blank(p[i]);
        }
        if (i == room) { /* (no end within the bound: none kept) */
                if (ml->ml_buf.vb_len)
                        OPENSSL_cleanse(ml->ml_buf.vb_data,
                                        ml->ml_buf.vb_len);
                vg_buf_reset(&ml->ml_buf);
                ml->ml_head_open = false;
                return;
        }
        vg_buf_append(&ml->ml_buf, p, n);
}

/* Appends n bytes of the frame. Past ml_max the frame is dropped but for
 * its first segment (the AR answers its MSH: MSA-2 names the message),
 * kept when it ends within VG_HL7_HEAD_MAX bytes, however the bytes come
 * in. */
static void mllp_append(vg_hl7_mllp_t *ml, const char *p, size_t n) {
        size_t have = ml->ml_buf.vb_len, i;
        bool text = false;
        if (!n)
                return;
        if (ml->ml_too_long) {
                if (ml->ml_head_open)
                        head_take(ml, p, n);
                return;
        }
        if (n <= ml->ml_max - have) {
                vg_buf_append(&ml->ml_buf, p, n);
                return;
        }
        ml->ml_too_long = true;
        ml->ml_head_open = true;
        for (i = 0; i < have && i < VG_HL7_HEAD_MAX; i++) {
                char c = ml->ml_buf.vb_data[i];
                if (text && (c == '\r' || c == '\n')) {
                        OPENSSL_cleanse(ml->ml_buf.vb_data + i + 1,
                                        have - i - 1);
                        ml->ml_buf.vb_len = i + 1;
                        ml->ml_buf.vb_data[i + 1] = '\0';
                        ml->ml_head_open = false;
                        return;
                }
                text = text || !is_blank(c);
        }
        if (have > VG_HL7_HEAD_MAX) {
                OPENSSL_cleanse(ml->ml_buf.vb_data + VG_HL7_HEAD_MAX,
                                have - VG_HL7_HEAD_MAX);
                ml->ml_buf.vb_len = VG_HL7_HEAD_MAX;
        }
        head_take(ml, p, n);
}

void vg_hl7_mllp_feed(vg_hl7_mllp_t *ml, const void *data, size_t len,
                      vg_hl7_frame_cb cb, void *opaque) {
        const char *p = data, *end = p + len;

        while (p < end) {
                if (ml->ml_after_end) {
                        ml->ml_after_end = false;
                        if (*p == '\r') {
                                p++;
                                continue;
                        }
                }
                if (!ml->ml_in) {
                        if (*p == MLLP_START) {
                                ml->ml_in = true;
                                mllp_reset(ml);
                        } else if (*p != '\r' && *p != '\n' && *p != ' ' &&
                                   *p != '\t')
                                ml->ml_outside++;
                        p++;
                        continue;
                }
                {
                        /* The frame's bytes up to the next 0x0B or 0x1C. */
                        const char *q = p;
                        while (q < end && *q != MLLP_START && *q != MLLP_END)
                                q++;
                        mllp_append(ml, p, (size_t)(q - p));
                        p = q;
                        if (p == end)
                                break;
                }
                if (*p == MLLP_START) { /* a new frame: the last was cut */
                        ml->ml_cut++;
                        mllp_reset(ml);
                        p++;
                        continue;
                }
                /* 0x1C: the frame is complete. */
                {
                        vg_hl7_frame_t fm = {NULL, 0, ml->ml_too_long};
                        if (!ml->ml_too_long || ml->ml_buf.vb_len) {
                                fm.fm_data = ml->ml_buf.vb_len
                                                     ? ml->ml_buf.vb_data
                                                     : "";
                                fm.fm_len = ml->ml_buf.vb_len;
                        }
                        cb(opaque, &fm);
                }
                mllp_reset(ml);
                ml->ml_in = false;
                ml->ml_after_end = true;
                p++;
        }
}

void vg_hl7_mllp_free(vg_hl7_mllp_t *ml) {
        if (!ml)
                return;
        mllp_reset(ml);
        vg_buf_free(&ml->ml_buf);
}

/* ------------------------------------------------------------------ */
/* The header                                                         */
/* ------------------------------------------------------------------ */

/* Copies s[0..n) into dst[cap] without control characters; a value that
 * does not fit is left out (an ACK must not carry half an id). */
static void copy_raw(char *dst, size_t cap, const char *s, size_t n) {
        size_t o = 0;
        dst[0] = '\0';
        if (n >= cap)
                return;
        for (size_t i = 0; i < n; i++)
                if ((unsigned char)s[i] >= 0x20 && s[i] != 0x7f)
                        dst[o++] = s[i];
        dst[o] = '\0';
}

/* Copies a code (MSH-9 components, MSH-11, MSH-12): kept only when it is
 * made of letters, digits, '.', '_' and '-', fits, and has fewer than ten
 * digits (no code has as many; a personnummer has: the ACK does not
 * repeat one). */
static void copy_code(char *dst, size_t cap, const char *s, size_t n) {
        size_t digits = 0;
        dst[0] = '\0';
        if (n >= cap)
                return;
        for (size_t i = 0; i < n; i++) {
                if (!isalnum((unsigned char)s[i]) && s[i] != '.' &&
                    s[i] != '_' && s[i] != '-')
                        return;
                if (isdigit((unsigned char)s[i]) && ++digits == 10)
                        return;
        }
        memcpy(dst, s, n);
        dst[n] = '\0';
}

/* The n-th (0-based) piece of s[0..len) split at sep, or NULL. */
static const char *piece(const char *s, size_t len, char sep, int n,
                         size_t *outn) {
        size_t start = 0;
        int k = 0;
        for (size_t i = 0; i <= len; i++) {
                if (i == len || (sep && s[i] == sep)) {
                        if (k == n) {
                                *outn = i - start;
                                return s + start;
                        }
                        k++;
                        start = i + 1;
                }
        }
        *outn = 0;
        return NULL;
}

static void msh_defaults(vg_hl7_msh_t *h) {
        memset(h, 0, sizeof(*h));
        h->hh_fs = '|';
        memcpy(h->hh_enc, "^~\\&", 5);
}

/* EVN-1 (its first component) into hh_trigger: the trigger of a message
 * whose MSH-9.2 is empty (docs/HOSPITAL.md §2). msg[len) is what follows
 * the MSH segment. */
static void evn_trigger(const char *msg, size_t len, vg_hl7_msh_t *h) {
        size_t i = 0;
        while (i < len) {
                size_t s, n, cn;
                const char *p, *c;
                while (i < len && (msg[i] == '\r' || msg[i] == '\n'))
                        i++;
                for (s = i; i < len && msg[i] != '\r' && msg[i] != '\n'; i++)
                        ;
                if (i - s < 3 || memcmp(msg + s, "EVN", 3) ||
                    (i - s > 3 && msg[s + 3] != h->hh_fs))
                        continue;
                /* (the first EVN, as the converter takes it) */
                if ((p = piece(msg + s, i - s, h->hh_fs, 1, &n)) &&
                    (p = piece(p, n, h->hh_enc[1], 0, &n)) && /* (first
                                                                 * repetition) */
                    (c = piece(p, n, h->hh_enc[0], 0, &cn)))
                        copy_code(h->hh_trigger, sizeof(h->hh_trigger), c,
                                  cn);
                return;
        }
}

int vg_hl7_msh_read(const char *msg, size_t len, vg_hl7_msh_t *h) {
        size_t seg_len, nenc, n, bom;
        const char *p;
        char fs;
        bool trig_given = false; /* MSH-9.2 not empty */

        msh_defaults(h);
        if (!msg)
                return -1;
        bom = vg_bom_len(msg, len); /* (a file's, a frame's) */
        msg += bom, len -= bom;
        while (len > 0 && isspace((unsigned char)msg[0]))
                msg++, len--;
        if (len < 5 || memcmp(msg, "MSH", 3))
                return -1;
        fs = msg[3];
        if (isalnum((unsigned char)fs) || (unsigned char)fs < 0x21 ||
            fs == 0x7f)
                return -1;
        for (seg_len = 0; seg_len < len && msg[seg_len] != '\r' &&
                          msg[seg_len] != '\n';
             seg_len++)
                ;
        for (nenc = 0; 4 + nenc < seg_len && msg[4 + nenc] != fs; nenc++)
                ;
        if (nenc < 1 || nenc > 5)
                return -1;
        for (size_t i = 0; i < nenc; i++) {
                char c = msg[4 + i];
                if (isalnum((unsigned char)c) || (unsigned char)c < 0x21 ||
                    c == 0x7f || c == fs || memchr(msg + 4, c, i))
                        return -1;
        }
        h->hh_ok = true;
        h->hh_fs = fs;
        memcpy(h->hh_enc, msg + 4, nenc);
        h->hh_enc[nenc] = '\0';

        /* Piece k of the segment split at fs is MSH-(k+1) for k >= 2. */
#define FIELD(num) piece(msg, seg_len, fs, (num) - 1, &n)
        if ((p = FIELD(3)))
                copy_raw(h->hh_send_app, sizeof(h->hh_send_app), p, n);
        if ((p = FIELD(4)))
                copy_raw(h->hh_send_fac, sizeof(h->hh_send_fac), p, n);
        if ((p = FIELD(5)))
                copy_raw(h->hh_recv_app, sizeof(h->hh_recv_app), p, n);
        if ((p = FIELD(6)))
                copy_raw(h->hh_recv_fac, sizeof(h->hh_recv_fac), p, n);
        if ((p = FIELD(10)))
                copy_raw(h->hh_ctrl, sizeof(h->hh_ctrl), p, n);
        if ((p = FIELD(9))) {
                size_t fn = n, cn;
                const char *c;
                char rs = nenc > 1 ? h->hh_enc[1] : 0;
                p = piece(p, fn, rs, 0, &fn); /* first repetition */
                if ((c = piece(p, fn, h->hh_enc[0], 0, &cn)))
                        copy_code(h->hh_type, sizeof(h->hh_type), c, cn);
                if ((c = piece(p, fn, h->hh_enc[0], 1, &cn)) && cn) {
                        copy_code(h->hh_trigger, sizeof(h->hh_trigger), c, cn);
                        trig_given = true; /* (even if not a code) */
                }
        }
        if ((p = FIELD(11))) {
                size_t cn;
                const char *c = piece(p, n, h->hh_enc[0], 0, &cn);
                if (c)
                        copy_code(h->hh_proc, sizeof(h->hh_proc), c, cn);
        }
        if ((p = FIELD(12))) {
                size_t cn;
                const char *c = piece(p, n, h->hh_enc[0], 0, &cn);
                if (c)
                        copy_code(h->hh_version, sizeof(h->hh_version), c,
                                  cn);
                if (c && cn && !h->hh_version[0])
                        strcpy(h->hh_version, "?"); /* given, not a code */
        }
#undef FIELD
        if (!trig_given)
                evn_trigger(msg + seg_len, len - seg_len, h);
        return 0;
}

/* ------------------------------------------------------------------ */
/* Codes                                                              */
/* ------------------------------------------------------------------ */

const char *vg_hl7_ack_name(vg_hl7_ack_t code) {
        switch (code) {
        case VG_HL7_AA: return "AA";
        case VG_HL7_AE: return "AE";
        case VG_HL7_AR: return "AR";
        }
        return "AE";
}

const char *vg_hl7_err_name(int code) {
        switch (code) {
        case VG_HL7_E_SEGMENT_SEQUENCE: return "Segment sequence error";
        case VG_HL7_E_REQUIRED_MISSING: return "Required field missing";
        case VG_HL7_E_DATA_TYPE:        return "Data type error";
        case VG_HL7_E_MESSAGE_TYPE:     return "Unsupported message type";
        case VG_HL7_E_EVENT_CODE:       return "Unsupported event code";
        case VG_HL7_E_VERSION:          return "Unsupported version id";
        case VG_HL7_E_INTERNAL:         return "Application internal error";
        }
        return "Application error";
}

bool vg_hl7_version_ok(const char *v) {
        bool digit = false;
        if (!*v)
                return true;
        if (strncmp(v, "2.", 2))
                return false;
        for (v += 2; *v; v++) {
                if (isdigit((unsigned char)*v))
                        digit = true;
                else if (*v == '.' && digit)
                        digit = false;
                else
                        return false;
        }
        return digit;
}

int vg_hl7_refusal_code(const vg_hl7_msh_t *h, const char *reason) {
        static const char *const ok[] = {"A01", "A03", "A08", "A11", "A13"};
        bool known = false;

        if (!h || !h->hh_ok)
                return VG_HL7_E_SEGMENT_SEQUENCE;
        if (strcmp(h->hh_type, "ADT"))
                return VG_HL7_E_MESSAGE_TYPE;
        if (!vg_hl7_version_ok(h->hh_version))
                return VG_HL7_E_VERSION;
        for (size_t i = 0; i < VG_ARRAY_SIZE(ok); i++)
                known |= !strcmp(h->hh_trigger, ok[i]);
        if (h->hh_trigger[0] && !known)
                return VG_HL7_E_EVENT_CODE;
        /* (HL7 table 0357: 100 is also "required segments are
         * missing") */
        if (reason && (strstr(reason, "not an HL7 segment") ||
                       (!strncmp(reason, "no ", 3) &&
                        strstr(reason, " segment"))))
                return VG_HL7_E_SEGMENT_SEQUENCE;
        if (reason && strstr(reason, "missing"))
                return VG_HL7_E_REQUIRED_MISSING;
        return VG_HL7_E_DATA_TYPE;
}

/* ------------------------------------------------------------------ */
/* The ACK                                                            */
/* ------------------------------------------------------------------ */

/* Appends text escaped for a field of h's message, at most max bytes, never
 * cutting an escape sequence or a UTF-8 character; control characters and
 * malformed UTF-8 become '?' or a space. */
static void put_text(vg_buf_t *out, const vg_hl7_msh_t *h, const char *text,
                     size_t max) {
        const char *enc = h->hh_enc;
        size_t nenc = strlen(enc), used = 0, n = text ? strlen(text) : 0;
        char ec = nenc > 2 ? enc[2] : 0;

        for (size_t i = 0; i < n;) {
                const unsigned char *s = (const unsigned char *)text + i;
                char unit[8];
                size_t un = 0, step = 1;
                char esc = 0;

                if (*s == (unsigned char)h->hh_fs)
                        esc = 'F';
                else if (nenc > 0 && *s == (unsigned char)enc[0])
                        esc = 'S';
                else if (nenc > 1 && *s == (unsigned char)enc[1])
                        esc = 'R';
                else if (nenc > 2 && *s == (unsigned char)enc[2])
                        esc = 'E';
                else if (nenc > 3 && *s == (unsigned char)enc[3])
                        esc = 'T';
                else if (nenc > 4 && *s == (unsigned char)enc[4])
                        esc = 'P';
                if (esc && ec) {
                        unit[0] = ec;
                        unit[1] = esc;
                        unit[2] = ec;
                        un = 3;
                } else if (esc || *s < 0x20 || *s == 0x7f) {
                        unit[0] = ' ';
                        un = 1;
                } else if (*s < 0x80) {
                        unit[0] = (char)*s;
                        un = 1;
                } else if ((step = vg_utf8_char(s, n - i)) > 0) {
                        memcpy(unit, s, step);
                        un = step;
                } else {
                        step = 1;
                        unit[0] = '?';
                        un = 1;
                }
                if (used + un > max)
                        break;
                vg_buf_append(out, unit, un);
                used += un;
                i += step;
        }
}

/* Appends a field value of the ACK's own (an id): letters, digits, '.',
 * '_' and '-' only. */
static void put_id(vg_buf_t *out, const char *s) {
        for (; s && *s; s++)
                if (isalnum((unsigned char)*s) || *s == '.' || *s == '_' ||
                    *s == '-')
                        vg_buf_append(out, s, 1);
}

void vg_hl7_ack_build(const vg_hl7_msh_t *h, vg_hl7_ack_t code, int err_code,
                      const char *text, int64_t now_ms, const char *ack_id,
                      vg_buf_t *out) {
        vg_hl7_msh_t none;
        char fs, cs, ts[32];
        time_t secs;
        struct tm tm;

        if (!h || !h->hh_ok) {
                /* Keep MSA-2 (what the sender can match) even without a
                 * usable MSH; everything else is the default. */
                msh_defaults(&none);
                if (h)
                        memcpy(none.hh_ctrl, h->hh_ctrl, sizeof(none.hh_ctrl));
                h = &none;
        }
        fs = h->hh_fs;
        cs = h->hh_enc[0];

        secs = (time_t)(now_ms >= 0 ? now_ms / 1000 : 0);
        if (!gmtime_r(&secs, &tm))
                memset(&tm, 0, sizeof(tm));
        if (!strftime(ts, sizeof(ts), "%Y%m%d%H%M%S+0000", &tm))
                snprintf(ts, sizeof(ts), "19700101000000+0000");

        /* MSH: the sender of the message becomes the receiver. */
        vg_buf_printf(out, "MSH%c%s%c", fs, h->hh_enc, fs);
        vg_buf_puts(out, h->hh_recv_app[0] ? h->hh_recv_app : "VIGIL");
        vg_buf_printf(out, "%c%s%c%s%c%s%c%s%c%cACK", fs, h->hh_recv_fac, fs,
                      h->hh_send_app, fs, h->hh_send_fac, fs, ts, fs, fs);
        if (h->hh_trigger[0])
                vg_buf_printf(out, "%c%s%cACK", cs, h->hh_trigger, cs);
        vg_buf_printf(out, "%c", fs);
        put_id(out, ack_id);
        vg_buf_printf(out, "%c%s%c%s\r", fs,
                      h->hh_proc[0] ? h->hh_proc : "P", fs,
                      h->hh_version[0] && vg_hl7_version_ok(h->hh_version)
                              ? h->hh_version
                              : "2.5");

        /* MSA: the code, the message's control id, the reason. */
        vg_buf_printf(out, "MSA%c%s%c%s", fs, vg_hl7_ack_name(code), fs,
                      h->hh_ctrl);
        if (text && *text) {
                vg_buf_printf(out, "%c", fs);
                put_text(out, h, text, MSA_TEXT_MAX);
        }
        vg_buf_puts(out, "\r");

        if (code == VG_HL7_AA)
                return;
        if (!err_code)
                err_code = code == VG_HL7_AE ? VG_HL7_E_INTERNAL
                                             : VG_HL7_E_DATA_TYPE;
        /* ERR-3 code^text^HL70357, ERR-4 severity E, ERR-8 the reason. */
        vg_buf_printf(out, "ERR%c%c%c%d%c", fs, fs, fs, err_code, cs);
        put_text(out, h, vg_hl7_err_name(err_code), ERR_TEXT_MAX);
        vg_buf_printf(out, "%cHL70357%cE%c%c%c%c", cs, fs, fs, fs, fs, fs);
        put_text(out, h, text, ERR_TEXT_MAX);
        vg_buf_puts(out, "\r");
}

void vg_hl7_mllp_wrap(const char *data, size_t len, vg_buf_t *out) {
        static const char start = MLLP_START, end[2] = {MLLP_END, '\r'};
        vg_buf_append(out, &start, 1);
        if (len)
                vg_buf_append(out, data, len);
        vg_buf_append(out, end, 2);
}
