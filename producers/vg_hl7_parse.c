/*
 * vg_hl7_parse.c - reading HL7 v2 text (vg_hl7.h, vg_hl7_int.h).
 *
 * Contents:
 *   - the framer: a byte stream cut into messages (MLLP, blank lines,
 *     "MSH" at a line start), bounded in size;
 *   - the message model: segments, fields, repetitions, components,
 *     subcomponents and escapes, on slices of the caller's bytes;
 *   - HL7 times (TS/DTM).
 *
 * Pure: no I/O, no clock. A message holds a personnummer: the framer wipes
 * its buffer when it is done with one.
 */
#include "vg_hl7_int.h"

#include <ctype.h>
#include <stdint.h>
#include <string.h>

#include <openssl/crypto.h>

/* ------------------------------------------------------------------ */
/* Framing                                                            */
/* ------------------------------------------------------------------ */

#define MLLP_START 0x0B
#define MLLP_END   0x1C

void vg_hl7_framer_init(vg_hl7_framer_t *fr, size_t max_bytes) {
        memset(fr, 0, sizeof(*fr));
        vg_buf_init(&fr->hf_buf);
        fr->hf_max = max_bytes;
        fr->hf_line_blank = true;
}

static void frame_reset(vg_hl7_framer_t *fr) {
        if (fr->hf_buf.vb_len)
                OPENSSL_cleanse(fr->hf_buf.vb_data, fr->hf_buf.vb_len);
        vg_buf_reset(&fr->hf_buf);
        fr->hf_line_at = 0;
        fr->hf_line_len = 0;
        fr->hf_line_blank = true;
        fr->hf_content = false;
        fr->hf_too_long = false;
        fr->hf_lines = 0;
}

/* Emits the first len bytes of the message (all of it when too long). */
static void frame_emit(vg_hl7_framer_t *fr, size_t len, vg_hl7_frame_cb cb,
                       void *opaque) {
        vg_hl7_frame_t fm = {NULL, 0, fr->hf_too_long};
        if (!fr->hf_content)
                return;
        if (!fr->hf_too_long) {
                /* Trailing segment terminators are not part of it. */
                while (len > 0 && fr->hf_buf.vb_data[len - 1] == '\r')
                        len--;
                fm.fm_data = fr->hf_buf.vb_data;
                fm.fm_len = len;
        }
        cb(opaque, &fm);
}

static void frame_append(vg_hl7_framer_t *fr, char c) {
        if (fr->hf_too_long)
                return;
        if (fr->hf_buf.vb_len + 1 > fr->hf_max) {
                fr->hf_too_long = true;
                OPENSSL_cleanse(fr->hf_buf.vb_data, fr->hf_buf.vb_len);
                vg_buf_reset(&fr->hf_buf);
                return;
        }
        vg_buf_append(&fr->hf_buf, &c, 1);
}

static void frame_byte(vg_hl7_framer_t *fr, char c, vg_hl7_frame_cb cb,
                       void *opaque) {
        bool prev_cr = fr->hf_prev_cr;

        fr->hf_prev_cr = c == '\r';
        if (c == MLLP_START || c == MLLP_END) {
                frame_emit(fr, fr->hf_buf.vb_len, cb, opaque);
                frame_reset(fr);
                fr->hf_in_frame = c == MLLP_START;
                return;
        }
        if (fr->hf_in_frame) {
                /* A frame is one message, as hl7 listen reads it: a blank
                 * line or an MSH line inside it does not split it (one
                 * with more than one MSH is refused whole, by
                 * vg_hl7_convert). */
                if (!isspace((unsigned char)c))
                        fr->hf_content = true;
                frame_append(fr, c);
                return;
        }
        if (c == '\n' && prev_cr)
                return; /* "\r\n" is one terminator */
        if (c == '\r' || c == '\n') {
                if (fr->hf_line_blank) {
                        /* A blank line ends a message. */
                        if (fr->hf_content) {
                                frame_emit(fr, fr->hf_line_at, cb, opaque);
                                frame_reset(fr);
                        }
                        return;
                }
                frame_append(fr, '\r');
                fr->hf_lines++;
                fr->hf_line_at = fr->hf_buf.vb_len;
                fr->hf_line_len = 0;
                fr->hf_line_blank = true;
                return;
        }
        if (fr->hf_line_len < 3)
                fr->hf_head[fr->hf_line_len] = c;
        fr->hf_line_len++;
        if (fr->hf_line_len == 3 && !memcmp(fr->hf_head, "MSH", 3) &&
            fr->hf_lines > 0) {
                /* "MSH" at a line start begins the next message. */
                frame_emit(fr, fr->hf_line_at, cb, opaque);
                frame_reset(fr);
                fr->hf_line_len = 3;
                memcpy(fr->hf_head, "MSH", 3);
                frame_append(fr, 'M');
                frame_append(fr, 'S');
                fr->hf_content = true;
                fr->hf_line_blank = false;
        }
        if (!isspace((unsigned char)c)) {
                fr->hf_line_blank = false;
                fr->hf_content = true;
        }
        frame_append(fr, c);
}

/* A UTF-8 byte order mark at a line's start is left out (files saved by
 * Windows tools, put together with cat: "\xEF\xBB\xBFMSH|" starts a
 * message as "MSH|" does); its bytes are held until they make one. */
static void frame_byte_bom(vg_hl7_framer_t *fr, char c, vg_hl7_frame_cb cb,
                           void *opaque) {
        static const char bom[] = VG_BOM;
        /* (in an MLLP frame every byte is kept, as hl7 listen gets it) */
        if (!fr->hf_in_frame && fr->hf_line_len == 0 &&
            c == bom[fr->hf_bom]) {
                if (++fr->hf_bom == 3)
                        fr->hf_bom = 0; /* a whole mark: dropped */
                return;
        }
        for (int k = 0; k < fr->hf_bom; k++) /* not a mark after all */
                frame_byte(fr, bom[k], cb, opaque);
        fr->hf_bom = 0;
        frame_byte(fr, c, cb, opaque);
}

void vg_hl7_framer_feed(vg_hl7_framer_t *fr, const void *data, size_t len,
                        vg_hl7_frame_cb cb, void *opaque) {
        const char *p = data;
        for (size_t i = 0; i < len; i++)
                frame_byte_bom(fr, p[i], cb, opaque);
}

void vg_hl7_framer_end(vg_hl7_framer_t *fr, vg_hl7_frame_cb cb, void *opaque) {
        for (int k = 0; k < fr->hf_bom; k++) /* a mark cut short */
                frame_byte(fr, VG_BOM[k], cb, opaque);
        fr->hf_bom = 0;
        frame_emit(fr, fr->hf_buf.vb_len, cb, opaque);
        frame_reset(fr);
}

void vg_hl7_framer_free(vg_hl7_framer_t *fr) {
        if (!fr)
                return;
        frame_reset(fr);
        vg_buf_free(&fr->hf_buf);
}

/* ------------------------------------------------------------------ */
/* The message model                                                  */
/* ------------------------------------------------------------------ */

/* The n-th (0-based) piece of s split at sep (sep 0: s is one piece). */
sl_t hl7_piece(sl_t s, char sep, int n) {
        sl_t r = {s.s_p, 0};
        size_t i = 0, start = 0;
        int k = 0;
        if (!s.s_p)
                return r;
        for (i = 0; i <= s.s_n; i++) {
                if (i == s.s_n || (sep && s.s_p[i] == sep)) {
                        if (k == n) {
                                r.s_p = s.s_p + start;
                                r.s_n = i - start;
                                return r;
                        }
                        k++;
                        start = i + 1;
                }
        }
        r.s_p = NULL;
        return r;
}

/* Whether s[0..n) is only white space. */
static bool blank(const char *s, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (!isspace((unsigned char)s[i]))
                        return false;
        return true;
}

/* Splits msg into segments and reads the MSH separators. Returns 0, or -1
 * with errstr. */
int hl7_msg_parse(hmsg_t *m, const char *msg, size_t len, char *errstr,
                  size_t errstr_size) {
        size_t i = 0, start = 0, nenc, bom;
        const char *enc;

        memset(m, 0, sizeof(*m));
        bom = vg_bom_len(msg, len); /* (a file's, a frame's) */
        msg += bom, len -= bom;
        while (len > 0 && isspace((unsigned char)msg[0]))
                msg++, len--;
        if (len < 8 || memcmp(msg, "MSH", 3)) {
                vg_seterr(errstr, errstr_size, VG_ERR_INVALID,
                          "not an HL7 v2 message (does not start with an "
                          "MSH segment)");
                return -1;
        }
        m->hm_fs = msg[3];
        if (isalnum((unsigned char)m->hm_fs) || m->hm_fs == '\r' ||
            m->hm_fs == '\n' || m->hm_fs == ' ') {
                vg_seterr(errstr, errstr_size, VG_ERR_INVALID,
                          "MSH-1: not a usable field separator");
                return -1;
        }
        enc = msg + 4;
        for (nenc = 0; 4 + nenc < len && enc[nenc] != m->hm_fs &&
                       enc[nenc] != '\r' && enc[nenc] != '\n';
             nenc++)
                ;
        if (nenc < 1 || nenc > 5 || 4 + nenc >= len ||
            enc[nenc] != m->hm_fs) {
                vg_seterr(errstr, errstr_size, VG_ERR_INVALID,
                          "MSH-2: expected 1 to 5 encoding characters "
                          "followed by the field separator");
                return -1;
        }
        m->hm_cs = enc[0];
        m->hm_rs = nenc > 1 ? enc[1] : 0;
        m->hm_ec = nenc > 2 ? enc[2] : 0;
        m->hm_ss = nenc > 3 ? enc[3] : 0;
        {
                char seps[5] = {m->hm_fs, m->hm_cs, m->hm_rs, m->hm_ec,
                                m->hm_ss};
                for (int a = 0; a < 5; a++)
                        for (int b = a + 1; b < 5; b++)
                                if (seps[a] && seps[a] == seps[b]) {
                                        vg_seterr(errstr, errstr_size,
                                                  VG_ERR_INVALID,
                                                  "MSH-2: separators are "
                                                  "not distinct");
                                        return -1;
                                }
                for (int a = 1; a < 5; a++)
                        if (seps[a] && (isalnum((unsigned char)seps[a]) ||
                                        seps[a] == ' ')) {
                                vg_seterr(errstr, errstr_size,
                                          VG_ERR_INVALID,
                                          "MSH-2: a separator is a letter, "
                                          "digit or space");
                                return -1;
                        }
        }
        m->hm_seg = vg_malloc(sizeof(*m->hm_seg) * 16);
        for (i = 0; i <= len; i++) {
                if (i < len && msg[i] != '\r' && msg[i] != '\n')
                        continue;
                if (i > start && !blank(msg + start, i - start)) {
                        const char *g = msg + start;
                        size_t gn = i - start;
                        /* A segment is named by three letters or digits:
                         * anything else (a byte order mark, a space or a
                         * NUL before "MSH") is a message run together
                         * with this one, never an unknown segment to
                         * skip, or that message would be lost unseen. */
                        if (gn < 3 || !isalnum((unsigned char)g[0]) ||
                            !isalnum((unsigned char)g[1]) ||
                            !isalnum((unsigned char)g[2])) {
                                vg_seterr(errstr, errstr_size,
                                          VG_ERR_INVALID,
                                          "segment %d: not an HL7 segment "
                                          "(no name of three letters or "
                                          "digits: two messages run "
                                          "together?)",
                                          m->hm_nseg + 1);
                                return -1;
                        }
                        if (m->hm_nseg == MAX_SEGMENTS) {
                                vg_seterr(errstr, errstr_size,
                                          VG_ERR_INVALID,
                                          "more than %d segments",
                                          MAX_SEGMENTS);
                                return -1;
                        }
                        if (m->hm_nseg >= 16 &&
                            (m->hm_nseg & (m->hm_nseg - 1)) == 0)
                                m->hm_seg = vg_realloc(
                                        m->hm_seg, sizeof(*m->hm_seg) * 2 *
                                                           (size_t)m->hm_nseg);
                        m->hm_seg[m->hm_nseg].s_p = msg + start;
                        m->hm_seg[m->hm_nseg].s_n = i - start;
                        m->hm_nseg++;
                }
                start = i + 1;
        }
        return 0;
}

void hl7_msg_free(hmsg_t *m) {
        vg_free(m->hm_seg);
        m->hm_seg = NULL;
}

/* The first segment named id, or a NULL slice. */
sl_t hl7_seg_find(const hmsg_t *m, const char *id) {
        sl_t none = {NULL, 0};
        for (int i = 0; i < m->hm_nseg; i++) {
                sl_t s = m->hm_seg[i];
                if (s.s_n >= 3 && !memcmp(s.s_p, id, 3) &&
                    (s.s_n == 3 || s.s_p[3] == m->hm_fs))
                        return s;
        }
        return none;
}

int hl7_seg_count(const hmsg_t *m, const char *id) {
        int n = 0;
        for (int i = 0; i < m->hm_nseg; i++) {
                sl_t s = m->hm_seg[i];
                n += s.s_n >= 3 && !memcmp(s.s_p, id, 3) &&
                     (s.s_n == 3 || s.s_p[3] == m->hm_fs);
        }
        return n;
}

/* Field n (HL7 numbering) of segment seg; for MSH, MSH-1 is the separator
 * itself and MSH-2 the encoding characters. */
sl_t hl7_field(const hmsg_t *m, sl_t seg, int n) {
        bool msh = seg.s_p && seg.s_n >= 3 && !memcmp(seg.s_p, "MSH", 3);
        if (msh && n == 1) {
                sl_t r = {seg.s_p + 3, 1};
                return r;
        }
        return hl7_piece(seg, m->hm_fs, msh ? n - 1 : n);
}

/* Component c, subcomponent s (both 1-based) of repetition r (0-based). */
sl_t hl7_part(const hmsg_t *m, sl_t f, int r, int c, int s) {
        sl_t x = hl7_piece(f, m->hm_rs, r);
        x = hl7_piece(x, m->hm_cs, c - 1);
        return hl7_piece(x, m->hm_ss, s - 1);
}

static int hexval(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        c = (char)toupper((unsigned char)c);
        return c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* The bytes of the space at p[0..n): ' ', or one of Unicode's space
 * separators in UTF-8 (U+00A0 no-break, U+1680, U+2000-U+200A, U+202F,
 * U+205F, U+3000 ideographic), which look like one; 0 if none. */
static size_t space_len(const char *p, size_t n) {
        const unsigned char *u = (const unsigned char *)p;
        if (n >= 1 && u[0] == ' ')
                return 1;
        if (n >= 2 && u[0] == 0xc2 && u[1] == 0xa0)
                return 2;
        if (n >= 3 && ((u[0] == 0xe1 && u[1] == 0x9a && u[2] == 0x80) ||
                       (u[0] == 0xe2 && u[1] == 0x80 &&
                        (u[2] <= 0x8a || u[2] == 0xaf)) ||
                       (u[0] == 0xe2 && u[1] == 0x81 && u[2] == 0x9f) ||
                       (u[0] == 0xe3 && u[1] == 0x80 && u[2] == 0x80)))
                return 3;
        return 0;
}

/* The bytes of such a space that p[0..n) ends with; 0 if none. */
static size_t space_end(const char *p, size_t n) {
        for (size_t k = 1; k <= 3 && k <= n; k++)
                if (space_len(p + n - k, k) == k)
                        return k;
        return 0;
}

/* out[0, *n) in ISO 8859-1 (part 1) or 8859-15 (part 15: 8 code points
 * differ) made UTF-8 in place; HL7_TOO_LONG when it would not fit in
 * VAL_MAX bytes with its NUL. */
static int latin_to_utf8(int part, char *out, size_t *n) {
        static const struct {
                unsigned char b;
                uint16_t      u;
        } l9[] = {{0xA4, 0x20AC}, {0xA6, 0x0160}, {0xA8, 0x0161},
                  {0xB4, 0x017D}, {0xB8, 0x017E}, {0xBC, 0x0152},
                  {0xBD, 0x0153}, {0xBE, 0x0178}};
        char in[VAL_MAX]; /* (cleansed: PID-3 passes here) */
        size_t o = 0, len = *n;
        int rc = 0;
        memcpy(in, out, len);
        for (size_t i = 0; i < len && !rc; i++) {
                unsigned u = (unsigned char)in[i];
                for (size_t k = 0; part == 15 && k < VG_ARRAY_SIZE(l9); k++)
                        if (l9[k].b == u)
                                u = l9[k].u;
                if (o + (u < 0x80 ? 1 : u < 0x800 ? 2 : 3) >= VAL_MAX) {
                        rc = HL7_TOO_LONG;
                        break;
                }
                if (u < 0x80) {
                        out[o++] = (char)u;
                } else if (u < 0x800) {
                        out[o++] = (char)(0xC0 | (u >> 6));
                        out[o++] = (char)(0x80 | (u & 0x3F));
                } else {
                        out[o++] = (char)(0xE0 | (u >> 12));
                        out[o++] = (char)(0x80 | ((u >> 6) & 0x3F));
                        out[o++] = (char)(0x80 | (u & 0x3F));
                }
        }
        OPENSSL_cleanse(in, len);
        *n = o;
        out[o] = '\0';
        return rc;
}

/* (vg_hl7_int.h) */
bool hl7_utf8_valid(const char *str, size_t n) {
        const unsigned char *s = (const unsigned char *)str;
        for (size_t i = 0, len; i < n; i += len)
                if (!(len = vg_utf8_char(s + i, n - i)))
                        return false;
        return true;
}

/* Whether out[0..n), bytes of a message declared ISO 8859-1 or 8859-15
 * (MSH-18), are text in it: 0, or HL7_UTF8_AS_LATIN when they are UTF-8
 * with a character beyond ASCII ("\xC3\xA5", a UTF-8 a-ring, would read
 * as "A-tilde yen"; Latin-1 text seldom is UTF-8 too: each letter such as
 * 0xC4 would need a symbol 0x80-0xBF after it),
 * HL7_NOT_LATIN when they hold a byte 0x80-0x9F, which is no character in
 * either (Windows-1252 text, such as a curly quote 0x92). */
static int latin_check(const char *out, size_t n) {
        bool high = false;
        for (size_t i = 0; i < n; i++)
                high |= (unsigned char)out[i] >= 0x80;
        if (high && hl7_utf8_valid(out, n))
                return HL7_UTF8_AS_LATIN;
        for (size_t i = 0; i < n; i++)
                if ((unsigned char)out[i] >= 0x80 &&
                    (unsigned char)out[i] <= 0x9F)
                        return HL7_NOT_LATIN;
        return 0;
}

/* Whether e[0..n) is all hex digits. */
static bool all_hex(const char *e, size_t n) {
        for (size_t k = 0; k < n; k++)
                if (hexval(e[k]) < 0)
                        return false;
        return true;
}

/* The escape sequence e[0..n), between two escape characters, against
 * HL7 v2.5 2.7: ESC_SEP a separator (*rep; \F\ \S\ \T\ \R\ \E\ of
 * one the message has), ESC_HEX \Xhh..\, ESC_DROP one that gives no text
 * here (\H\ \N\ highlighting, \.br\ \.sp2\ ... formatting, \Zxx\
 * locally defined, \Cxxyy\ \Mxxyyzz\ character set switches), ESC_BAD
 * anything else - such as the text between an escape character left open
 * and the next escape ("\T x\F\"), which must not be dropped unseen. */
enum { ESC_SEP, ESC_HEX, ESC_DROP, ESC_BAD };
static int escape_kind(const hmsg_t *m, const char *e, size_t n, char *rep) {
        static const char *const fmt[] = {".sp", ".br", ".fi", ".nf",
                                          ".in", ".ti", ".sk", ".ce"};
        *rep = 0;
        if (n == 0)
                return ESC_BAD;
        if (e[0] == 'X')
                return ESC_HEX;
        if (n == 1) {
                switch (e[0]) {
                case 'F': *rep = m->hm_fs; break;
                case 'S': *rep = m->hm_cs; break;
                case 'T': *rep = m->hm_ss; break;
                case 'R': *rep = m->hm_rs; break;
                case 'E': *rep = m->hm_ec; break;
                case 'H':
                case 'N': return ESC_DROP;
                default: break;
                }
                return *rep ? ESC_SEP : ESC_BAD;
        }
        if (e[0] == 'Z' || (e[0] == 'C' && n == 5 && all_hex(e + 1, 4)) ||
            (e[0] == 'M' && n == 7 && all_hex(e + 1, 6)))
                return ESC_DROP;
        for (size_t k = 0; k < VG_ARRAY_SIZE(fmt); k++) {
                size_t d = 3;
                if (n < 3 || memcmp(e, fmt[k], 3))
                        continue;
                d += d < n && (e[d] == '+' || e[d] == '-');
                while (d < n && isdigit((unsigned char)e[d]))
                        d++;
                return d == n ? ESC_DROP : ESC_BAD;
        }
        return ESC_BAD;
}

/* Unescapes s into out[VAL_MAX], trimmed of surrounding spaces (also
 * Unicode's, such as a no-break space: two ids that differ only in them
 * look alike). Returns 0;
 * HL7_TOO_LONG when the value does not fit; HL7_CONTROL when it holds a
 * control character (a tab, a NUL from \X00\: removing one would make two
 * visits one id, and no field read here holds one); HL7_BAD_HEX for an
 * \X..\ that is not pairs of hex digits; HL7_OPEN_ESCAPE for an escape
 * character with no other after it in s, HL7_BAD_ESCAPE for a sequence
 * HL7 v2.5 does not define (escape_kind). \F\ \S\ \T\ \R\ \E\ give the
 * separators, \Xhh..\ bytes; formatting and other escapes that give no
 * text (\H\, \N\, \.br\, \Zxx\ ...) are dropped. */
int hl7_unescape(const hmsg_t *m, sl_t s, char *out) {
        size_t o = 0, i = 0;
        for (i = 0; s.s_p && i < s.s_n; i++) {
                char c = s.s_p[i], rep;
                if (m->hm_ec && c == m->hm_ec) {
                        /* (s is one component or subcomponent: an escape
                         * sequence holds no separator) */
                        const char *e = s.s_p + i + 1;
                        const char *end = memchr(e, m->hm_ec, s.s_n - i - 1);
                        size_t n;
                        if (!end) {
                                out[0] = '\0';
                                return HL7_OPEN_ESCAPE;
                        }
                        n = (size_t)(end - e);
                        switch (escape_kind(m, e, n, &rep)) {
                        case ESC_SEP:
                                if (o + 1 >= VAL_MAX)
                                        return HL7_TOO_LONG;
                                out[o++] = rep;
                                break;
                        case ESC_HEX:
                                if (n < 3 || n % 2 == 0)
                                        return HL7_BAD_HEX;
                                for (size_t k = 1; k + 1 < n; k += 2) {
                                        int h = hexval(e[k]),
                                            l = hexval(e[k + 1]);
                                        if (h < 0 || l < 0)
                                                return HL7_BAD_HEX;
                                        if (o + 1 >= VAL_MAX)
                                                return HL7_TOO_LONG;
                                        out[o++] = (char)(h * 16 + l);
                                }
                                break;
                        case ESC_DROP:
                                break;
                        default:
                                out[0] = '\0';
                                return HL7_BAD_ESCAPE;
                        }
                        i = (size_t)(end - s.s_p);
                        continue;
                }
                if (o + 1 >= VAL_MAX)
                        return HL7_TOO_LONG;
                out[o++] = c;
        }
        out[o] = '\0';
        /* The bytes must be text in the message's character set (MSH-18):
         * read in another, they would make other ids and names. */
        if (!m->hm_bytes) {
                int cs = m->hm_latin ? latin_check(out, o)
                         : hl7_utf8_valid(out, o) ? 0
                                                  : HL7_NOT_UTF8;
                if (cs) {
                        out[0] = '\0';
                        return cs;
                }
        }
        if (m->hm_latin && latin_to_utf8(m->hm_latin, out, &o)) {
                out[0] = '\0';
                return HL7_TOO_LONG;
        }
        {
                size_t a = 0, b = o, w = 0;
                if (vg_text_control(out, o)) {
                        out[0] = '\0';
                        return HL7_CONTROL;
                }
                size_t k;
                while (a < b && (k = space_len(out + a, b - a)))
                        a += k;
                while (b > a && (k = space_end(out + a, b - a)))
                        b -= k;
                for (k = a; k < b; k++)
                        out[w++] = out[k];
                out[w] = '\0';
        }
        return 0;
}

/* What each hl7_unescape failure says after the field's name, by -u. */
static const char *const unescape_why[] = {
        [-HL7_CONTROL] = "holds a control character (a tab, one escaped as "
                         "\\X..\\, or an invisible one such as U+0085 or "
                         "U+202E)",
        [-HL7_BAD_HEX] = "an \\X..\\ escape that is not pairs of hex "
                         "digits",
        [-HL7_OPEN_ESCAPE] = "an escape sequence with no closing escape "
                             "character (HL7 v2.5 2.7: a \\ in text is "
                             "written \\E\\)",
        [-HL7_BAD_ESCAPE] = "an escape sequence HL7 v2.5 does not define (an "
                            "escape character left open? a \\ in text is "
                            "written \\E\\)",
        [-HL7_NOT_UTF8] = "not valid UTF-8 (HL7 v2 text is read as UTF-8 "
                          "unless MSH-18 is 8859/1 or 8859/15)",
        [-HL7_UTF8_AS_LATIN] = "UTF-8 text, but MSH-18 says ISO 8859-1 or "
                               "8859-15 (send MSH-18 UNICODE UTF-8, or the "
                               "text in ISO 8859)",
        [-HL7_NOT_LATIN] = "not ISO 8859 text, as MSH-18 says it is (a byte "
                           "0x80-0x9F is no character in 8859-1 or 8859-15: "
                           "Windows-1252 text?)",
};

int hl7_unescape_error(int u, const char *field, char *errstr,
                       size_t errstr_size) {
        if (u == HL7_TOO_LONG)
                vg_seterr(errstr, errstr_size, VG_ERR_INVALID,
                          "%s: longer than %d bytes", field, VAL_MAX - 1);
        else
                vg_seterr(errstr, errstr_size, VG_ERR_INVALID, "%s: %s",
                          field,
                          -u > 0 && -u < (int)VG_ARRAY_SIZE(unescape_why) &&
                                          unescape_why[-u]
                                  ? unescape_why[-u]
                                  : unescape_why[-HL7_BAD_HEX]);
        return -1;
}

/* The value of SEG-f.c.s (first repetition) into out[VAL_MAX]; "" when
 * absent. Returns 0, or -1 with errstr (hl7_unescape_error). */
int hl7_getv(const hmsg_t *m, const char *seg, int f, int c, int s,
             char *out, char *errstr, size_t errstr_size) {
        sl_t sg = hl7_seg_find(m, seg);
        char field[16];
        int u;
        out[0] = '\0';
        if (!sg.s_p)
                return 0;
        u = hl7_unescape(m, hl7_part(m, hl7_field(m, sg, f), 0, c, s), out);
        if (!u)
                return 0;
        snprintf(field, sizeof(field), "%s-%d", seg, f);
        return hl7_unescape_error(u, field, errstr, errstr_size);
}

/* ------------------------------------------------------------------ */
/* Times                                                              */
/* ------------------------------------------------------------------ */

static int digits(const char *s, int n) {
        int v = 0;
        for (int i = 0; i < n; i++) {
                if (s[i] < '0' || s[i] > '9')
                        return -1;
                v = v * 10 + (s[i] - '0');
        }
        return v;
}

static int dim(int y, int mo) {
        static const int d[] = {31, 28, 31, 30, 31, 30,
                                31, 31, 30, 31, 30, 31};
        bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
        return mo == 2 && leap ? 29 : d[mo - 1];
}

int vg_hl7_time_parse(const char *s, int min_digits, vg_tz_t tz,
                      int64_t *msp) {
        int f[6] = {0, 1, 1, 0, 0, 0}; /* y mo d h mi s */
        static const int width[6] = {4, 2, 2, 2, 2, 2};
        int nd = 0, ms = 0, sign = 0, off = 0;
        size_t i = 0, n = strlen(s);
        int64_t local;

        for (int k = 0; k < 6; k++) {
                int v;
                if (i + (size_t)width[k] > n || (v = digits(s + i, width[k])) < 0)
                        break;
                f[k] = v;
                i += (size_t)width[k];
                nd += width[k];
        }
        if (nd < min_digits || nd < 4)
                return -1;
        if (i < n && s[i] == '.') {
                int scale = 100, fd = 0;
                if (nd < 14)
                        return -1;
                i++;
                while (i < n && isdigit((unsigned char)s[i])) {
                        ms += (s[i] - '0') * scale;
                        scale /= 10;
                        i++;
                        fd++;
                }
                if (fd == 0 || fd > 4)
                        return -1;
        }
        if (i < n && (s[i] == '+' || s[i] == '-')) {
                int hh, mm;
                sign = s[i] == '+' ? 1 : -1;
                if (n - i != 5 || (hh = digits(s + i + 1, 2)) < 0 ||
                    (mm = digits(s + i + 3, 2)) < 0 || hh > 14 || mm > 59)
                        return -1;
                off = sign * (hh * 60 + mm);
                i = n;
        }
        if (i != n)
                return -1;
        if (f[1] < 1 || f[1] > 12 || f[2] < 1 || f[2] > dim(f[0], f[1]) ||
            f[3] > 23 || f[4] > 59 || f[5] > 60)
                return -1;
        if (f[5] == 60) /* a leap second (FHIR's dateTime allows one): */
                f[5] = 59; /* POSIX time has none, read as JSON's is */
        local = (vg_days_from_civil(f[0], (unsigned)f[1], (unsigned)f[2]) *
                         86400LL +
                 f[3] * 3600LL + f[4] * 60LL + f[5]) *
                        1000LL +
                ms;
        if (sign) {
                *msp = local - off * 60000LL;
                return 0;
        }
        {
                /* The offsets a day before and after: a valid reading
                 * t = local - o has offset(t) == o. */
                int64_t o1 = vg_tz_offset(tz, local - VG_MS_PER_DAY);
                int64_t o2 = vg_tz_offset(tz, local + VG_MS_PER_DAY);
                int64_t t1 = local - o1, t2 = local - o2;
                bool ok1 = vg_tz_offset(tz, t1) == o1,
                     ok2 = vg_tz_offset(tz, t2) == o2;
                if (ok1 && ok2)
                        *msp = t1 < t2 ? t1 : t2;
                else if (ok2 && !ok1)
                        *msp = t2;
                else
                        *msp = t1; /* in a gap: the offset before it */
        }
        return 0;
}

int hl7_time_span(const char *s, vg_tz_t tz, int64_t *from, int64_t *to) {
        size_t nd = strspn(s, "0123456789");
        int64_t next;
        char buf[32];

        if (vg_hl7_time_parse(s, 4, tz, from))
                return -1;
        switch (s[nd] == '.' ? 0 : nd) {
        case 14: *to = *from + 999; return 0;       /* its second */
        case 12: *to = *from + 59999; return 0;     /* its minute */
        case 10: *to = *from + 3599999; return 0;   /* its hour */
        case 4:
        case 6:
        case 8: break;
        default: *to = *from; return 0;             /* (a fraction) */
        }
        {
                /* A date, month or year: to the start of the next one. */
                int64_t y = digits(s, 4);
                unsigned mo = nd >= 6 ? (unsigned)digits(s + 4, 2) : 1,
                         d = nd >= 8 ? (unsigned)digits(s + 6, 2) : 1;
                if (nd == 4)
                        y++;
                else if (nd == 6 && ++mo > 12)
                        mo = 1, y++;
                else if (nd == 8)
                        vg_civil_from_days(vg_days_from_civil(y, mo, d) + 1,
                                           &y, &mo, &d);
                snprintf(buf, sizeof(buf), "%04d%02u%02u%s", (int)y, mo, d,
                         s + nd);
                if (y > 9999 || strlen(s + nd) > 5 ||
                    vg_hl7_time_parse(buf, 8, tz, &next))
                        *to = INT64_MAX; /* (the end of year 9999) */
                else
                        *to = next - 1;
        }
        return 0;
}
