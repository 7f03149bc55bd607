/*
 * vg_common.h - what every Vigil module shares: status codes, allocation
 * wrappers, small string helpers and the log.
 *
 * Conventions (see docs/ARCHITECTURE.md):
 *   - one module = one vg_<module>.c/.h pair, one prefix;
 *   - functions that can fail return vg_err_t and fill errstr[errstr_size];
 *   - destructors accept NULL.
 */
#ifndef VG_COMMON_H
#define VG_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <stdarg.h>
#include <string.h>

typedef enum vg_err_e {
        VG_OK = 0,
        VG_ERR_ARG,        /* bad argument or input (user error) */
        VG_ERR_DECODE,     /* record cannot be decoded */
        VG_ERR_INVALID,    /* record decodes but violates SPEC §3 */
        VG_ERR_NOENT,      /* not found */
        VG_ERR_IO,         /* file or network I/O failed */
        VG_ERR_STORE,      /* SQLite failed */
        VG_ERR_KAFKA,      /* librdkafka failed */
        VG_ERR_NOMEM,      /* allocation failed */
        VG_ERR_INTERNAL    /* a bug */
} vg_err_t;

const char *vg_err2str(vg_err_t err);

/* Allocation wrappers: abort with a message on out-of-memory, so callers need
 * no NULL checks for small allocations. Sizes from untrusted input must be
 * validated before they get here. */
void *vg_malloc(size_t size);
void *vg_calloc(size_t nmemb, size_t size);
void *vg_realloc(void *ptr, size_t size);
char *vg_strdup(const char *s);
char *vg_strndup(const char *s, size_t n);
void vg_free(void *ptr);

/* snprintf into errstr, always NUL-terminated; returns err for chaining:
 *   return vg_seterr(errstr, errstr_size, VG_ERR_ARG, "bad %s", x); */
vg_err_t vg_seterr(char *errstr, size_t errstr_size, vg_err_t err,
                   const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

/* Growable byte buffer. */
typedef struct vg_buf_s {
        char   *vb_data;  /* bytes, NUL-terminated for convenience */
        size_t  vb_len;   /* bytes used */
        size_t  vb_size;  /* bytes allocated */
} vg_buf_t;

void vg_buf_init(vg_buf_t *vb);
void vg_buf_free(vg_buf_t *vb);
void vg_buf_reset(vg_buf_t *vb);
/* Makes room for extra more bytes and the NUL (vg_buf_append's slow
 * path). */
void vg_buf_reserve(vg_buf_t *vb, size_t extra);
/* Inline: the state encoders append a byte or a few at a time. */
static inline void vg_buf_append(vg_buf_t *vb, const void *data,
                                 size_t len) {
        if (vb->vb_len + len >= vb->vb_size)
                vg_buf_reserve(vb, len);
        if (len)
                memcpy(vb->vb_data + vb->vb_len, data, len);
        vb->vb_len += len;
        vb->vb_data[vb->vb_len] = '\0';
}
/* Appends v as a base-128 varint (seven bits a byte, the low ones first,
 * as Avro and the state store write integers), in place: the encoders'
 * hot path. */
static inline void vg_buf_put_varint(vg_buf_t *vb, uint64_t v) {
        unsigned char *d;
        if (vb->vb_len + 10 >= vb->vb_size)
                vg_buf_reserve(vb, 10);
        d = (unsigned char *)vb->vb_data + vb->vb_len;
        for (; v >= 0x80; v >>= 7)
                *d++ = (unsigned char)(v | 0x80);
        *d++ = (unsigned char)v;
        vb->vb_len = (size_t)((char *)d - vb->vb_data);
        vb->vb_data[vb->vb_len] = '\0';
}
/* Appends len uninitialised bytes; returns where they start. */
void *vg_buf_grow(vg_buf_t *vb, size_t len);
void vg_buf_puts(vg_buf_t *vb, const char *s);
void vg_buf_printf(vg_buf_t *vb, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

/* A 32-bit hash of a NUL-terminated string: the one hash for in-memory
 * tables (not for partitioning: that is Kafka's murmur2). Can't fail. */
uint32_t vg_hash_str(const char *s);
/* A 64-bit hash of n bytes at p, chained from h (start with any seed):
 * eight bytes a step, each step a bijection of the running value, then
 * mixed. Stable across runs and releases on one byte order (stored by
 * the processor: process_resume.c). p may be NULL when n is 0. */
uint64_t vg_hash_bytes(uint64_t h, const void *p, size_t n);

/* Sorts t[0, n) ascending: by insertion when n is small (a patient's few
 * events: qsort's set-up cost more than the sorting), by qsort beyond. */
void vg_sort_i64(int64_t *t, size_t n);

/* v in decimal at out (at most 20 digits, no NUL); returns the end. */
static inline char *vg_utoa(char *out, uint64_t v) {
        char t[20];
        int n = 0;
        do
                t[n++] = (char)('0' + v % 10);
        while ((v /= 10) != 0);
        while (n)
                *out++ = t[--n];
        return out;
}

/* The n bytes at p as lowercase hex: 2n characters at out, then a NUL
 * (out holds 2n + 1 bytes); returns out. (Inline: the state decoder
 * writes a UUID in five pieces.) */
static inline char *vg_hex(char *out, const void *p, size_t n) {
        static const char digits[] = "0123456789abcdef";
        const unsigned char *b = p;
        for (size_t i = 0; i < n; i++) {
                out[2 * i] = digits[b[i] >> 4];
                out[2 * i + 1] = digits[b[i] & 15];
        }
        out[2 * n] = '\0';
        return out;
}

/* The length of a UTF-8 byte order mark (Windows tools write one at the
 * start of a file) at s[0..n): 3, or 0 when there is none. */
#define VG_BOM "\xef\xbb\xbf"
static inline size_t vg_bom_len(const char *s, size_t n) {
        return n >= 3 && !memcmp(s, VG_BOM, 3) ? 3 : 0;
}

/* Replaces, in place, every run spelt like a personnummer by as many 'X':
 * a run of 12 or 10 digits; a longer run that starts or ends with 10 or
 * 12 that are a personnummer with a valid check digit (a personnummer
 * and a counter: "1912121212121"); 8 or 6 digits, or more ending in a
 * date, then '-', '+' or ' ' and 4 or more; and any spelling of
 * vg_pnr_grouped(). For a message that quotes input (a log line, a DLQ
 * record's reason). Pure. */
void vg_redact_pnr(char *s);
/* The length of a personnummer spelt in groups at s[0..n) (s[0] a digit),
 * or 0: digit groups joined by one to six bytes each of ' ', '-', '+',
 * '?', '|', '/', '.', '_', '\\' or non-ASCII (" \u2013 ", an en dash between
 * spaces, is five bytes; '?' is how a message shows a character it cannot
 * print), the last group 4 digits, 10 or 12 digits in all that begin with
 * a plausible date (YYMMDD, or YYYYMMDD with a year 1800-2100; a
 * samordningsnummer's day + 60): "1940-01-01-1230", "19400101 1230",
 * "400101|1230". valid: the check digit must hold too (to refuse a field:
 * an id made of a date and a counter, "2026-03-01-0042", seldom passes it;
 * a message masks one whether or not). The longest such spelling (12
 * digits before 10). Pure. */
size_t vg_pnr_grouped(const char *s, size_t n, bool valid);
/* Whether the UTF-8 text s[0..n) holds a control character: C0, DEL, C1
 * (U+0080..U+009F), or an invisible character that would make two ids look
 * one (Unicode's default-ignorable code points: zero-width characters,
 * soft hyphen, bidi marks, overrides and isolates, variation selectors,
 * fillers, tags; line and paragraph separators, U+FEFF). Pure. */
bool vg_text_control(const char *s, size_t n);
/* The length (1-4) of the well-formed UTF-8 character at s, of the n >= 1
 * bytes there, or 0 when there is none (a stray or missing continuation
 * byte, an overlong form, a surrogate, beyond U+10FFFF). Pure. */
size_t vg_utf8_char(const unsigned char *s, size_t n);
/* Whether s is exactly n ASCII digits (a kommun code: 4, a region: 2). */
bool vg_all_digits(const char *s, size_t n);

/* Writes parts[0..n) joined by sep into buf[size], NUL-terminated and cut
 * short where it does not fit, as snprintf("%s|%s...") would; returns the
 * length written. The hot paths' keys: no format parsing. */
size_t vg_join(char *buf, size_t size, char sep, const char *const *parts,
               int n);

/* Log to stderr, one line per event: "<ISO time> <LEVEL> <component>: msg".
 * Never log a personnummer (SPEC §8): log patient_id or nothing. */
typedef enum vg_loglevel_e {
        VG_LOG_ERROR = 3,
        VG_LOG_WARN  = 4,
        VG_LOG_INFO  = 6,
        VG_LOG_DEBUG = 7
} vg_loglevel_t;

extern int vg_log_level;
void vg_log(vg_loglevel_t level, const char *component, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
#define vg_error(comp, ...) vg_log(VG_LOG_ERROR, comp, __VA_ARGS__)
#define vg_warn(comp, ...)  vg_log(VG_LOG_WARN, comp, __VA_ARGS__)
#define vg_info(comp, ...)  vg_log(VG_LOG_INFO, comp, __VA_ARGS__)
#define vg_debug(comp, ...) vg_log(VG_LOG_DEBUG, comp, __VA_ARGS__)

#define VG_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#endif /* VG_COMMON_H */
