/*
 * vg_hl7.c - HL7 v2.5 ADT messages to care events (docs/HOSPITAL.md).
 *
 * Contents:
 *   - the framer (MLLP, blank lines, "MSH" at a line start);
 *   - the site mapping and its built-in defaults;
 *   - the message model: segments, fields, repetitions, components,
 *     subcomponents and escapes, on slices of the caller's bytes;
 *   - HL7 times;
 *   - the converter.
 *
 * Pure: no I/O, no clock. A personnummer read from PID-3 is kept in one
 * stack buffer, wiped after use, and never formatted into a message; every
 * error text is passed through vg_pseudo_redact() before it is returned.
 */
#include "vg_hl7.h"
#include "vg_pseudo.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

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

void vg_hl7_framer_feed(vg_hl7_framer_t *fr, const void *data, size_t len,
                        vg_hl7_frame_cb cb, void *opaque) {
        const char *p = data;
        for (size_t i = 0; i < len; i++)
                frame_byte(fr, p[i], cb, opaque);
}

void vg_hl7_framer_end(vg_hl7_framer_t *fr, vg_hl7_frame_cb cb, void *opaque) {
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
/* Site mapping                                                       */
/* ------------------------------------------------------------------ */

/* One "code or prefix -> enum value" entry. */
typedef struct map_ent_s {
        char *me_code;
        int   me_value;
} map_ent_t;

typedef struct map_tab_s {
        map_ent_t *mt_ent;
        size_t     mt_cnt;
} map_tab_t;

struct vg_hl7_map_s {
        int        hm_care_default;   /* vg_care_setting_t */
        map_tab_t  hm_care_class;     /* PV1-2 -> care setting */
        map_tab_t  hm_care_location;  /* PV1-3 prefix -> care setting */
        char       hm_kommun[5];      /* "" = none */
        map_tab_t  hm_diag;           /* ICD-10 prefix -> diagnosis group */
        int        hm_diag_default;
        map_tab_t  hm_disp;           /* PV1-36 -> disposition */
        int        hm_disp_default;
        char      *hm_planned;        /* PV1-4 codes meaning planned */
        bool       hm_needs_coord;
};

static void tab_set(map_tab_t *t, const char *code, int value) {
        for (size_t i = 0; i < t->mt_cnt; i++)
                if (!strcmp(t->mt_ent[i].me_code, code)) {
                        t->mt_ent[i].me_value = value;
                        return;
                }
        t->mt_ent = vg_realloc(t->mt_ent, (t->mt_cnt + 1) * sizeof(*t->mt_ent));
        t->mt_ent[t->mt_cnt].me_code = vg_strdup(code);
        t->mt_ent[t->mt_cnt].me_value = value;
        t->mt_cnt++;
}

static void tab_free(map_tab_t *t) {
        for (size_t i = 0; i < t->mt_cnt; i++)
                vg_free(t->mt_ent[i].me_code);
        vg_free(t->mt_ent);
        t->mt_ent = NULL;
        t->mt_cnt = 0;
}

/* Exact match: the value, or -1. */
static int tab_exact(const map_tab_t *t, const char *code) {
        for (size_t i = 0; i < t->mt_cnt; i++)
                if (!strcmp(t->mt_ent[i].me_code, code))
                        return t->mt_ent[i].me_value;
        return -1;
}

/* Longest prefix of s in t: the value, or -1. */
static int tab_prefix(const map_tab_t *t, const char *s) {
        size_t best = 0;
        int v = -1;
        for (size_t i = 0; i < t->mt_cnt; i++) {
                size_t n = strlen(t->mt_ent[i].me_code);
                if (n > best && !strncmp(s, t->mt_ent[i].me_code, n)) {
                        best = n;
                        v = t->mt_ent[i].me_value;
                }
        }
        return v;
}

vg_hl7_map_t *vg_hl7_map_new(void) {
        static const struct { const char *c; int v; } diag[] = {
                {"C", VG_DG_CANCER},         {"I50", VG_DG_HEART_FAILURE},
                {"J44", VG_DG_COPD},         {"N18", VG_DG_KIDNEY_FAILURE},
                {"F00", VG_DG_DEMENTIA},     {"F01", VG_DG_DEMENTIA},
                {"F02", VG_DG_DEMENTIA},     {"F03", VG_DG_DEMENTIA},
                {"G30", VG_DG_DEMENTIA},
        };
        /* HL7 table 0112 (discharge disposition). */
        static const struct { const char *c; int v; } disp[] = {
                {"01", VG_DISP_HOME},            {"06", VG_DISP_HOME},
                {"02", VG_DISP_TRANSFER_ACUTE},  {"03", VG_DISP_NURSING_HOME},
                {"04", VG_DISP_SHORT_TERM_CARE}, {"07", VG_DISP_AGAINST_ADVICE},
                {"20", VG_DISP_DIED},            {"50", VG_DISP_HOME},
                {"51", VG_DISP_PALLIATIVE_UNIT},
        };
        vg_hl7_map_t *map = vg_calloc(1, sizeof(*map));

        map->hm_care_default = VG_CS_HOSPITAL_INPATIENT;
        map->hm_diag_default = VG_DG_OTHER;
        map->hm_disp_default = VG_DISP_OTHER;
        map->hm_planned = vg_strdup("C");
        for (size_t i = 0; i < VG_ARRAY_SIZE(diag); i++)
                tab_set(&map->hm_diag, diag[i].c, diag[i].v);
        for (size_t i = 0; i < VG_ARRAY_SIZE(disp); i++)
                tab_set(&map->hm_disp, disp[i].c, disp[i].v);
        return map;
}

void vg_hl7_map_destroy(vg_hl7_map_t *map) {
        if (!map)
                return;
        tab_free(&map->hm_care_class);
        tab_free(&map->hm_care_location);
        tab_free(&map->hm_diag);
        tab_free(&map->hm_disp);
        vg_free(map->hm_planned);
        vg_free(map);
}

/* value as a symbol of ve into *out, or an error naming key. */
static vg_err_t map_sym(const vg_enum_t *ve, const char *key,
                        const char *value, int *out, char *errstr,
                        size_t errstr_size) {
        int v = vg_enum_find(ve, value);
        if (v < 0) {
                char syms[512] = "";
                for (int i = 0; i < ve->ve_cnt; i++)
                        snprintf(syms + strlen(syms), sizeof(syms) - strlen(syms),
                                 "%s%s", i ? ", " : "", ve->ve_symbols[i]);
                return vg_seterr(errstr, errstr_size, VG_ERR_ARG,
                                 "%s: expected one of %s", key, syms);
        }
        *out = v;
        return VG_OK;
}

/* The part of key after prefix, or NULL if key does not start with it or
 * nothing follows. */
static const char *key_rest(const char *key, const char *prefix) {
        size_t n = strlen(prefix);
        return !strncmp(key, prefix, n) && key[n] ? key + n : NULL;
}

vg_err_t vg_hl7_map_set(vg_hl7_map_t *map, const char *key,
                        const char *value, char *errstr, size_t errstr_size) {
        const char *rest;
        vg_err_t err;
        int v = 0;

        if (!strcmp(key, "care_setting.default"))
                return map_sym(&vg_enum_care_setting, key, value,
                               &map->hm_care_default, errstr, errstr_size);
        if ((rest = key_rest(key, "care_setting.class."))) {
                if ((err = map_sym(&vg_enum_care_setting, key, value, &v,
                                   errstr, errstr_size)))
                        return err;
                tab_set(&map->hm_care_class, rest, v);
                return VG_OK;
        }
        if ((rest = key_rest(key, "care_setting.location."))) {
                if ((err = map_sym(&vg_enum_care_setting, key, value, &v,
                                   errstr, errstr_size)))
                        return err;
                tab_set(&map->hm_care_location, rest, v);
                return VG_OK;
        }
        if (!strcmp(key, "kommun.default")) {
                if (*value && (strlen(value) != 4 ||
                               strspn(value, "0123456789") != 4))
                        return vg_seterr(errstr, errstr_size, VG_ERR_ARG,
                                         "%s: expected a 4-digit SCB code "
                                         "or nothing", key);
                snprintf(map->hm_kommun, sizeof(map->hm_kommun), "%s", value);
                return VG_OK;
        }
        if (!strcmp(key, "diagnosis.default"))
                return map_sym(&vg_enum_diag, key, value,
                               &map->hm_diag_default, errstr, errstr_size);
        if ((rest = key_rest(key, "diagnosis."))) {
                char up[64];
                size_t i;
                if ((err = map_sym(&vg_enum_diag, key, value, &v, errstr,
                                   errstr_size)))
                        return err;
                for (i = 0; rest[i] && i + 1 < sizeof(up); i++)
                        up[i] = (char)toupper((unsigned char)rest[i]);
                up[i] = '\0';
                tab_set(&map->hm_diag, up, v);
                return VG_OK;
        }
        if (!strcmp(key, "disposition.default"))
                return map_sym(&vg_enum_disposition, key, value,
                               &map->hm_disp_default, errstr, errstr_size);
        if ((rest = key_rest(key, "disposition."))) {
                if ((err = map_sym(&vg_enum_disposition, key, value, &v,
                                   errstr, errstr_size)))
                        return err;
                tab_set(&map->hm_disp, rest, v);
                return VG_OK;
        }
        if (!strcmp(key, "planned.admission_types")) {
                vg_free(map->hm_planned);
                map->hm_planned = vg_strdup(value);
                return VG_OK;
        }
        if (!strcmp(key, "needs_coordination.default")) {
                if (strcmp(value, "true") && strcmp(value, "false"))
                        return vg_seterr(errstr, errstr_size, VG_ERR_ARG,
                                         "%s: expected true or false", key);
                map->hm_needs_coord = !strcmp(value, "true");
                return VG_OK;
        }
        return vg_seterr(errstr, errstr_size, VG_ERR_ARG,
                         "unknown key \"%.64s\" (see docs/HOSPITAL.md)", key);
}

/* True if code is one of the comma-separated codes of list. */
static bool in_list(const char *list, const char *code) {
        size_t n = strlen(code);
        const char *p = list;
        if (!n)
                return false;
        while (p && *p) {
                const char *e = strchr(p, ',');
                size_t m = e ? (size_t)(e - p) : strlen(p);
                while (m && p[0] == ' ')
                        p++, m--;
                while (m && p[m - 1] == ' ')
                        m--;
                if (m == n && !strncmp(p, code, n))
                        return true;
                p = e ? e + 1 : NULL;
        }
        return false;
}

/* ------------------------------------------------------------------ */
/* The message model                                                  */
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
        sl_t *hm_seg;                            /* segments */
        int   hm_nseg;
} hmsg_t;

/* The n-th (0-based) piece of s split at sep (sep 0: s is one piece). */
static sl_t piece(sl_t s, char sep, int n) {
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

/* Splits msg into segments and reads the MSH separators. Returns 0, or -1
 * with errstr. */
static int msg_parse(hmsg_t *m, const char *msg, size_t len, char *errstr,
                     size_t errstr_size) {
        size_t i = 0, start = 0, nenc;
        const char *enc;

        memset(m, 0, sizeof(*m));
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
                if (i > start) {
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

static void msg_free(hmsg_t *m) {
        vg_free(m->hm_seg);
        m->hm_seg = NULL;
}

/* The first segment named id, or a NULL slice. */
static sl_t seg_find(const hmsg_t *m, const char *id) {
        sl_t none = {NULL, 0};
        for (int i = 0; i < m->hm_nseg; i++) {
                sl_t s = m->hm_seg[i];
                if (s.s_n >= 3 && !memcmp(s.s_p, id, 3) &&
                    (s.s_n == 3 || s.s_p[3] == m->hm_fs))
                        return s;
        }
        return none;
}

/* Field n (HL7 numbering) of segment seg; for MSH, MSH-1 is the separator
 * itself and MSH-2 the encoding characters. */
static sl_t field(const hmsg_t *m, sl_t seg, int n) {
        bool msh = seg.s_p && seg.s_n >= 3 && !memcmp(seg.s_p, "MSH", 3);
        if (msh && n == 1) {
                sl_t r = {seg.s_p + 3, 1};
                return r;
        }
        return piece(seg, m->hm_fs, msh ? n - 1 : n);
}

/* Component c, subcomponent s (both 1-based) of repetition r (0-based). */
static sl_t part(const hmsg_t *m, sl_t f, int r, int c, int s) {
        sl_t x = piece(f, m->hm_rs, r);
        x = piece(x, m->hm_cs, c - 1);
        return piece(x, m->hm_ss, s - 1);
}

static int hexval(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        c = (char)toupper((unsigned char)c);
        return c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Unescapes s into out[VAL_MAX], trimmed of surrounding spaces. Returns 0,
 * or -1 when the value does not fit. \F\ \S\ \T\ \R\ \E\ give the
 * separators, \Xhh..\ bytes; other escapes (\H\, \N\, \.br\, ...) are
 * dropped; an unterminated escape is kept as it is. */
static int unescape(const hmsg_t *m, sl_t s, char *out) {
        size_t o = 0, i = 0;
        for (i = 0; s.s_p && i < s.s_n; i++) {
                char c = s.s_p[i];
                if (m->hm_ec && c == m->hm_ec) {
                        const char *end = memchr(s.s_p + i + 1, m->hm_ec,
                                                 s.s_n - i - 1);
                        if (end) {
                                const char *e = s.s_p + i + 1;
                                size_t n = (size_t)(end - e);
                                char rep = 0;
                                if (n == 1) {
                                        switch (e[0]) {
                                        case 'F': rep = m->hm_fs; break;
                                        case 'S': rep = m->hm_cs; break;
                                        case 'T': rep = m->hm_ss; break;
                                        case 'R': rep = m->hm_rs; break;
                                        case 'E': rep = m->hm_ec; break;
                                        default: break;
                                        }
                                }
                                if (rep) {
                                        if (o + 1 >= VAL_MAX)
                                                return -1;
                                        out[o++] = rep;
                                } else if (n >= 3 && e[0] == 'X' &&
                                           n % 2 == 1) {
                                        for (size_t k = 1; k + 1 < n; k += 2) {
                                                int h = hexval(e[k]),
                                                    l = hexval(e[k + 1]);
                                                if (h < 0 || l < 0)
                                                        continue;
                                                if (o + 1 >= VAL_MAX)
                                                        return -1;
                                                out[o++] = (char)(h * 16 + l);
                                        }
                                }
                                i = (size_t)(end - s.s_p);
                                continue;
                        }
                }
                if (o + 1 >= VAL_MAX)
                        return -1;
                out[o++] = c;
        }
        out[o] = '\0';
        /* Trim; drop control characters (a NUL from \X00\ among them). */
        {
                size_t a = 0, b = o, w = 0;
                while (a < b && isspace((unsigned char)out[a]))
                        a++;
                while (b > a && isspace((unsigned char)out[b - 1]))
                        b--;
                for (size_t k = a; k < b; k++)
                        if ((unsigned char)out[k] >= 0x20 && out[k] != 0x7f)
                                out[w++] = out[k];
                out[w] = '\0';
        }
        return 0;
}

/* The value of SEG-f.c.s (first repetition) into out[VAL_MAX]; "" when
 * absent. Returns 0, or -1 with errstr when too long. */
static int getv(const hmsg_t *m, const char *seg, int f, int c, int s,
                char *out, char *errstr, size_t errstr_size) {
        sl_t sg = seg_find(m, seg);
        out[0] = '\0';
        if (!sg.s_p)
                return 0;
        if (unescape(m, part(m, field(m, sg, f), 0, c, s), out)) {
                vg_seterr(errstr, errstr_size, VG_ERR_INVALID,
                          "%s-%d: longer than %d bytes", seg, f, VAL_MAX - 1);
                return -1;
        }
        return 0;
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
            f[3] > 23 || f[4] > 59 || f[5] > 59)
                return -1;
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

/* ------------------------------------------------------------------ */
/* Ids                                                                */
/* ------------------------------------------------------------------ */

static void hash_id(const char *a, const char *b, const char *c, char *out) {
        static const char hex[] = "0123456789abcdef";
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int mdlen = 0;
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();

        memset(md, 0, sizeof(md));
        if (ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL)) {
                EVP_DigestUpdate(ctx, a, strlen(a) + 1);
                EVP_DigestUpdate(ctx, b, strlen(b) + 1);
                EVP_DigestUpdate(ctx, c, strlen(c));
                EVP_DigestFinal_ex(ctx, md, &mdlen);
        }
        EVP_MD_CTX_free(ctx);
        memcpy(out, "hl7-", 4);
        for (int i = 0; i < 16; i++) {
                out[4 + 2 * i] = hex[md[i] >> 4];
                out[4 + 2 * i + 1] = hex[md[i] & 0xf];
        }
        out[VG_HL7_ID_BUFSZ - 1] = '\0';
}

void vg_hl7_event_id(const char *facility, const char *visit,
                     const char *what, char *out) {
        hash_id(facility, visit, what, out);
}

/* ------------------------------------------------------------------ */
/* The converter                                                      */
/* ------------------------------------------------------------------ */

/* A short code from the message as it may be quoted in an error: up to 8
 * letters and digits, else "(unprintable)". */
static const char *quotable(const char *s, char *buf, size_t size) {
        size_t n = strlen(s);
        if (n == 0 || n > 8 || n >= size)
                return "(unprintable)";
        for (size_t i = 0; i < n; i++)
                if (!isalnum((unsigned char)s[i]))
                        return "(unprintable)";
        memcpy(buf, s, n + 1);
        return buf;
}

/* ctrl[VG_HL7_CTRL_BUFSZ] = MSH-10 as it may be printed. */
static void set_ctrl(const char *id, char *ctrl) {
        size_t n = 0;
        for (size_t i = 0; id[i] && n + 1 < VG_HL7_CTRL_BUFSZ; i++)
                ctrl[n++] = isgraph((unsigned char)id[i]) ? id[i] : '?';
        ctrl[n] = '\0';
        vg_pseudo_redact(ctrl);
        if (!n)
                snprintf(ctrl, VG_HL7_CTRL_BUFSZ, "?");
}

/* Everything the converter reads from one message. */
typedef struct adt_s {
        char a_app[VAL_MAX];       /* MSH-3.1 sending application */
        char a_fac[VAL_MAX];       /* MSH-4.1 sending facility */
        char a_type[VAL_MAX];      /* MSH-9.1 */
        char a_trig[VAL_MAX];      /* MSH-9.2, else EVN-1 */
        char a_ctrl[VAL_MAX];      /* MSH-10 */
        char a_ver[VAL_MAX];       /* MSH-12.1 */
        char a_evn2[VAL_MAX];      /* EVN-2.1 recorded */
        char a_evn6[VAL_MAX];      /* EVN-6.1 occurred */
        char a_birth[VAL_MAX];     /* PID-7.1 */
        char a_sex[VAL_MAX];       /* PID-8 */
        char a_kommun[5];          /* PID-11.9 of a repetition, 4 digits */
        char a_class[VAL_MAX];     /* PV1-2 */
        char a_loc[VAL_MAX];       /* PV1-3.1 point of care */
        char a_locfac[VAL_MAX];    /* PV1-3.4.1 facility */
        char a_admtype[VAL_MAX];   /* PV1-4 */
        char a_visit[VAL_MAX];     /* PV1-19.1 */
        char a_disp[VAL_MAX];      /* PV1-36 */
        char a_dg[VAL_MAX];        /* DG1-3.1 of the first DG1 with one */
} adt_t;

static int read_adt(const hmsg_t *m, adt_t *a, char *e, size_t es) {
        sl_t pid;

        if (getv(m, "MSH", 3, 1, 1, a->a_app, e, es) ||
            getv(m, "MSH", 4, 1, 1, a->a_fac, e, es) ||
            getv(m, "MSH", 9, 1, 1, a->a_type, e, es) ||
            getv(m, "MSH", 9, 2, 1, a->a_trig, e, es) ||
            getv(m, "MSH", 10, 1, 1, a->a_ctrl, e, es) ||
            getv(m, "MSH", 12, 1, 1, a->a_ver, e, es) ||
            getv(m, "EVN", 2, 1, 1, a->a_evn2, e, es) ||
            getv(m, "EVN", 6, 1, 1, a->a_evn6, e, es) ||
            getv(m, "PID", 7, 1, 1, a->a_birth, e, es) ||
            getv(m, "PID", 8, 1, 1, a->a_sex, e, es) ||
            getv(m, "PV1", 2, 1, 1, a->a_class, e, es) ||
            getv(m, "PV1", 3, 1, 1, a->a_loc, e, es) ||
            getv(m, "PV1", 3, 4, 1, a->a_locfac, e, es) ||
            getv(m, "PV1", 4, 1, 1, a->a_admtype, e, es) ||
            getv(m, "PV1", 19, 1, 1, a->a_visit, e, es) ||
            getv(m, "PV1", 36, 1, 1, a->a_disp, e, es))
                return -1;
        if (!a->a_trig[0] && getv(m, "EVN", 1, 1, 1, a->a_trig, e, es))
                return -1;
        /* PID-11: the first repetition whose county/parish code (XAD.9)
         * is a 4-digit kommun code. */
        pid = seg_find(m, "PID");
        if (pid.s_p) {
                sl_t f = field(m, pid, 11);
                for (int r = 0; r < 20; r++) {
                        char v[VAL_MAX];
                        sl_t x = piece(f, m->hm_rs, r);
                        if (!x.s_p)
                                break;
                        if (!unescape(m, part(m, x, 0, 9, 1), v) &&
                            strlen(v) == 4 && strspn(v, "0123456789") == 4) {
                                memcpy(a->a_kommun, v, 5);
                                break;
                        }
                }
        }
        for (int i = 0; i < m->hm_nseg && !a->a_dg[0]; i++) {
                sl_t s = m->hm_seg[i];
                if (s.s_n >= 4 && !memcmp(s.s_p, "DG1", 3) &&
                    s.s_p[3] == m->hm_fs &&
                    unescape(m, part(m, field(m, s, 3), 0, 1, 1), a->a_dg))
                        a->a_dg[0] = '\0';
        }
        return 0;
}

/* patient_id = the pseudonym of PID-3.1 (first repetition). */
static int patient(const vg_hl7_ctx_t *cx, const hmsg_t *m, vg_event_t *ev,
                   char *errstr, size_t errstr_size) {
        char pnr[VAL_MAX], norm[VG_PSEUDO_PNR_BUFSZ], hex[VG_PSEUDO_HEX_BUFSZ];
        char e[128];
        int rc = -1;

        if (!cx->hx_keylen) {
                vg_seterr(errstr, errstr_size, VG_ERR_ARG,
                          "no pseudonym key: set pseudonym.key_file");
                return -1;
        }
        if (getv(m, "PID", 3, 1, 1, pnr, errstr, errstr_size))
                goto done;
        if (!seg_find(m, "PID").s_p) {
                vg_seterr(errstr, errstr_size, VG_ERR_INVALID,
                          "no PID segment");
                goto done;
        }
        if (!pnr[0]) {
                vg_seterr(errstr, errstr_size, VG_ERR_INVALID,
                          "PID-3: missing (the patient's personnummer)");
                goto done;
        }
        if (vg_pseudo_normalise(pnr, vg_local_day(cx->hx_tz, cx->hx_now_ms),
                                norm, e, sizeof(e))) {
                vg_seterr(errstr, errstr_size, VG_ERR_INVALID,
                          "PID-3: not a personnummer: %s", e);
                goto done;
        }
        if (vg_pseudo_hmac(cx->hx_key, cx->hx_keylen, norm, hex)) {
                vg_seterr(errstr, errstr_size, VG_ERR_INTERNAL,
                          "PID-3: HMAC-SHA256 failed");
                goto done;
        }
        ev->ev_patient_id = vg_strdup(hex);
        rc = 0;
done:
        OPENSSL_cleanse(pnr, sizeof(pnr));
        OPENSSL_cleanse(norm, sizeof(norm));
        return rc;
}

/* Whole years between birth and the local date of at. -1 if after it. */
static int age_at(vg_tz_t tz, int64_t birth_ms, int64_t at) {
        int64_t by, ay;
        unsigned bm, bd, am, ad;
        int age;
        vg_civil_from_days(vg_local_day(tz, birth_ms), &by, &bm, &bd);
        vg_civil_from_days(vg_local_day(tz, at), &ay, &am, &ad);
        age = (int)(ay - by);
        if (am < bm || (am == bm && ad < bd))
                age--;
        return age;
}

typedef enum { T_A01, T_A03, T_A11, T_A13 } trig_t;

static vg_hl7_res_t convert(const vg_hl7_ctx_t *cx, const hmsg_t *m,
                            adt_t *a, vg_event_t *ev, char *errstr,
                            size_t es) {
        const vg_hl7_map_t *map = cx->hx_map;
        char q[16], id[VG_HL7_ID_BUFSZ];
        const char *tstr;
        trig_t t;
        int v;

        if (read_adt(m, a, errstr, es))
                return VG_HL7_INVALID;
        if (strcmp(a->a_type, "ADT")) {
                vg_seterr(errstr, es, VG_ERR_INVALID,
                          "MSH-9: message type %s is not supported (only "
                          "ADT)", a->a_type[0] ? quotable(a->a_type, q,
                                                          sizeof(q))
                                               : "missing");
                return VG_HL7_INVALID;
        }
        if (a->a_ver[0] && strncmp(a->a_ver, "2.", 2)) {
                vg_seterr(errstr, es, VG_ERR_INVALID,
                          "MSH-12: version %s is not HL7 v2",
                          quotable(a->a_ver, q, sizeof(q)));
                return VG_HL7_INVALID;
        }
        if (!strcmp(a->a_trig, "A01"))
                t = T_A01;
        else if (!strcmp(a->a_trig, "A03"))
                t = T_A03;
        else if (!strcmp(a->a_trig, "A11"))
                t = T_A11;
        else if (!strcmp(a->a_trig, "A13"))
                t = T_A13;
        else if (!strcmp(a->a_trig, "A08")) {
                vg_seterr(errstr, es, VG_ERR_NOENT,
                          "A08 update skipped: no A08 change is mapped to "
                          "an event");
                return VG_HL7_SKIPPED;
        } else if (!strcmp(a->a_trig, "A40")) {
                vg_seterr(errstr, es, VG_ERR_INVALID,
                          "A40 merge is not supported (SPEC §10)");
                return VG_HL7_INVALID;
        } else {
                vg_seterr(errstr, es, VG_ERR_INVALID,
                          "ADT trigger %s is not supported (supported: A01, "
                          "A03, A11, A13; A08 is skipped)",
                          a->a_trig[0] ? quotable(a->a_trig, q, sizeof(q))
                                       : "missing (MSH-9.2 and EVN-1)");
                return VG_HL7_INVALID;
        }
        if (!a->a_fac[0]) {
                vg_seterr(errstr, es, VG_ERR_INVALID,
                          "MSH-4: sending facility missing (needed for the "
                          "event id)");
                return VG_HL7_INVALID;
        }
        if ((t == T_A11 || t == T_A13) && !a->a_ctrl[0]) {
                vg_seterr(errstr, es, VG_ERR_INVALID,
                          "MSH-10: message control id missing (needed for "
                          "the cancellation's event id)");
                return VG_HL7_INVALID;
        }
        if (!seg_find(m, "PID").s_p) {
                vg_seterr(errstr, es, VG_ERR_INVALID, "no PID segment");
                return VG_HL7_INVALID;
        }
        if (!seg_find(m, "PV1").s_p) {
                vg_seterr(errstr, es, VG_ERR_INVALID, "no PV1 segment");
                return VG_HL7_INVALID;
        }
        if (!a->a_visit[0]) {
                vg_seterr(errstr, es, VG_ERR_INVALID,
                          "PV1-19: visit number missing (the stay_id)");
                return VG_HL7_INVALID;
        }
        if (!seg_find(m, "EVN").s_p) {
                vg_seterr(errstr, es, VG_ERR_INVALID,
                          "no EVN segment (EVN-6 or EVN-2 give "
                          "occurred_at)");
                return VG_HL7_INVALID;
        }
        tstr = a->a_evn6[0] ? a->a_evn6 : a->a_evn2;
        if (!tstr[0]) {
                vg_seterr(errstr, es, VG_ERR_INVALID,
                          "EVN-6 and EVN-2: both missing (occurred_at)");
                return VG_HL7_INVALID;
        }
        if (vg_hl7_time_parse(tstr, 12, cx->hx_tz, &ev->ev_occurred_at)) {
                vg_seterr(errstr, es, VG_ERR_INVALID,
                          "%s: not an HL7 time YYYYMMDDHHMM[SS[.S]][+/-ZZZZ]",
                          a->a_evn6[0] ? "EVN-6" : "EVN-2");
                return VG_HL7_INVALID;
        }
        if (!a->a_loc[0] && !a->a_locfac[0]) {
                vg_seterr(errstr, es, VG_ERR_INVALID,
                          "PV1-3: assigned location missing (point of care "
                          "or facility: the facility_id)");
                return VG_HL7_INVALID;
        }
        if (a->a_kommun[0])
                ev->ev_kommun = vg_strdup(a->a_kommun);
        else if (map->hm_kommun[0])
                ev->ev_kommun = vg_strdup(map->hm_kommun);
        else {
                vg_seterr(errstr, es, VG_ERR_INVALID,
                          "PID-11: no 4-digit kommun code in the county/"
                          "parish component (XAD.9) and no kommun.default in "
                          "the mapping file");
                return VG_HL7_INVALID;
        }
        if (patient(cx, m, ev, errstr, es))
                return VG_HL7_INVALID;

        ev->ev_type = t == T_A01 || t == T_A11 ? VG_REC_ADMISSION
                                               : VG_REC_DISCHARGE;
        ev->ev_source_system = vg_strdup("hl7:");
        if (a->a_app[0]) {
                size_t n = strlen(a->a_app);
                ev->ev_source_system = vg_realloc(ev->ev_source_system, n + 5);
                memcpy(ev->ev_source_system + 4, a->a_app, n + 1);
        } else
                ev->ev_source_system[3] = '\0'; /* "hl7" */
        ev->ev_stay_id = vg_strdup(a->a_visit);
        ev->ev_facility_id = vg_strdup(a->a_loc[0] ? a->a_loc : a->a_locfac);
        v = tab_prefix(&map->hm_care_location, ev->ev_facility_id);
        if (v < 0)
                v = tab_exact(&map->hm_care_class, a->a_class);
        ev->ev_care_setting = v >= 0 ? v : map->hm_care_default;
        ev->ev_residence = VG_RES_UNKNOWN;

        switch (t) {
        case T_A01:
        case T_A03:
                vg_hl7_event_id(a->a_fac, a->a_visit,
                                t == T_A01 ? "admission" : "discharge", id);
                ev->ev_event_id = vg_strdup(id);
                break;
        case T_A11:
        case T_A13:
                hash_id(a->a_fac, a->a_ctrl, t == T_A11 ? "A11" : "A13", id);
                ev->ev_event_id = vg_strdup(id);
                vg_hl7_event_id(a->a_fac, a->a_visit,
                                t == T_A11 ? "admission" : "discharge", id);
                ev->ev_cancels_event_id = vg_strdup(id);
                break;
        }

        if (ev->ev_type == VG_REC_ADMISSION) {
                int64_t birth;
                char up[VAL_MAX];
                size_t i;
                ev->ev_planned = in_list(map->hm_planned, a->a_admtype);
                ev->ev_sex = !strcmp(a->a_sex, "F")   ? VG_SEX_FEMALE
                             : !strcmp(a->a_sex, "M") ? VG_SEX_MALE
                                                      : VG_SEX_UNKNOWN;
                for (i = 0; a->a_dg[i] && i + 1 < sizeof(up); i++)
                        up[i] = (char)toupper((unsigned char)a->a_dg[i]);
                up[i] = '\0';
                v = up[0] ? tab_prefix(&map->hm_diag, up) : -1;
                ev->ev_diagnosis_group = v >= 0 ? v : map->hm_diag_default;
                if (!a->a_birth[0]) {
                        if (t == T_A01) {
                                vg_seterr(errstr, es, VG_ERR_INVALID,
                                          "PID-7: birth date missing "
                                          "(age_years)");
                                return VG_HL7_INVALID;
                        }
                        ev->ev_age_years = 0; /* unused on a cancellation */
                } else if (vg_hl7_time_parse(a->a_birth, 8, cx->hx_tz,
                                             &birth) ||
                           (v = age_at(cx->hx_tz, birth,
                                       ev->ev_occurred_at)) < 0 ||
                           v > 150) {
                        vg_seterr(errstr, es, VG_ERR_INVALID,
                                  "PID-7: not a birth date YYYYMMDD up to "
                                  "150 years before the event");
                        return VG_HL7_INVALID;
                } else
                        ev->ev_age_years = v;
        } else {
                v = tab_exact(&map->hm_disp, a->a_disp);
                ev->ev_disposition = v >= 0 ? v : map->hm_disp_default;
                ev->ev_needs_coordination = map->hm_needs_coord;
        }

        /* What the event carries must not look like a personnummer. */
        {
                const char *f[] = {"stay_id", ev->ev_stay_id, "facility_id",
                                   ev->ev_facility_id, "source_system",
                                   ev->ev_source_system};
                for (size_t i = 0; i < VG_ARRAY_SIZE(f); i += 2)
                        if (vg_pseudo_spelt_like(f[i + 1])) {
                                vg_seterr(errstr, es, VG_ERR_INVALID,
                                          "%s: looks like a personnummer, "
                                          "which must not be published",
                                          f[i]);
                                return VG_HL7_INVALID;
                        }
        }
        if (vg_event_validate(ev, cx->hx_now_ms, errstr, es))
                return VG_HL7_INVALID;
        return VG_HL7_EVENT;
}

vg_hl7_res_t vg_hl7_convert(const vg_hl7_ctx_t *cx, const char *msg,
                            size_t len, vg_event_t *ev, char *ctrl,
                            char *errstr, size_t errstr_size) {
        hmsg_t m;
        adt_t *a;
        vg_hl7_res_t res;

        memset(ev, 0, sizeof(*ev));
        snprintf(ctrl, VG_HL7_CTRL_BUFSZ, "?");
        if (errstr_size)
                errstr[0] = '\0';
        if (msg_parse(&m, msg, len, errstr, errstr_size)) {
                msg_free(&m);
                vg_pseudo_redact(errstr);
                return VG_HL7_INVALID;
        }
        a = vg_calloc(1, sizeof(*a));
        /* MSH-10 first, so that every error can name the message. */
        if (!getv(&m, "MSH", 10, 1, 1, a->a_ctrl, errstr, errstr_size))
                set_ctrl(a->a_ctrl, ctrl);
        res = convert(cx, &m, a, ev, errstr, errstr_size);
        if (res != VG_HL7_EVENT)
                vg_record_clear(ev->ev_type, ev);
        OPENSSL_cleanse(a, sizeof(*a));
        vg_free(a);
        msg_free(&m);
        vg_pseudo_redact(errstr);
        return res;
}
