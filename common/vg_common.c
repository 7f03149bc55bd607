/*
 * vg_common.c - status codes, allocation wrappers, byte buffer, log.
 */
#include "vg_common.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/time.h>

const char *vg_err2str(vg_err_t err) {
        switch (err) {
        case VG_OK:           return "success";
        case VG_ERR_ARG:      return "invalid argument";
        case VG_ERR_DECODE:   return "undecodable record";
        case VG_ERR_INVALID:  return "invalid record";
        case VG_ERR_NOENT:    return "not found";
        case VG_ERR_IO:       return "I/O error";
        case VG_ERR_STORE:    return "state store error";
        case VG_ERR_KAFKA:    return "Kafka error";
        case VG_ERR_NOMEM:    return "out of memory";
        case VG_ERR_INTERNAL: return "internal error";
        }
        return "unknown error";
}

static void oom(size_t size) {
        fprintf(stderr, "vigil: out of memory allocating %zu bytes\n", size);
        abort();
}

void *vg_malloc(size_t size) {
        void *p = malloc(size ? size : 1);
        if (!p)
                oom(size);
        return p;
}

void *vg_calloc(size_t nmemb, size_t size) {
        void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);
        if (!p)
                oom(nmemb * size);
        return p;
}

void *vg_realloc(void *ptr, size_t size) {
        void *p = realloc(ptr, size ? size : 1);
        if (!p)
                oom(size);
        return p;
}

char *vg_strdup(const char *s) {
        return s ? vg_strndup(s, strlen(s)) : NULL;
}

char *vg_strndup(const char *s, size_t n) {
        char *p = vg_malloc(n + 1);
        memcpy(p, s, n);
        p[n] = '\0';
        return p;
}

void vg_free(void *ptr) {
        free(ptr);
}

vg_err_t vg_seterr(char *errstr, size_t errstr_size, vg_err_t err,
                   const char *fmt, ...) {
        va_list ap;
        if (errstr && errstr_size > 0) {
                va_start(ap, fmt);
                vsnprintf(errstr, errstr_size, fmt, ap);
                va_end(ap);
        }
        return err;
}

void vg_buf_init(vg_buf_t *vb) {
        vb->vb_data = NULL;
        vb->vb_len = vb->vb_size = 0;
}

void vg_buf_free(vg_buf_t *vb) {
        if (!vb)
                return;
        vg_free(vb->vb_data);
        vg_buf_init(vb);
}

void vg_buf_reset(vg_buf_t *vb) {
        vb->vb_len = 0;
        if (vb->vb_data)
                vb->vb_data[0] = '\0';
}

void vg_buf_reserve(vg_buf_t *vb, size_t extra) {
        size_t need = vb->vb_len + extra + 1;
        if (need <= vb->vb_size)
                return;
        size_t size = vb->vb_size ? vb->vb_size : 64;
        while (size < need)
                size *= 2;
        vb->vb_data = vg_realloc(vb->vb_data, size);
        vb->vb_size = size;
}

void *vg_buf_grow(vg_buf_t *vb, size_t len) {
        vg_buf_reserve(vb, len);
        vb->vb_len += len;
        vb->vb_data[vb->vb_len] = '\0';
        return vb->vb_data + vb->vb_len - len;
}

void vg_buf_puts(vg_buf_t *vb, const char *s) {
        vg_buf_append(vb, s, strlen(s));
}

void vg_buf_printf(vg_buf_t *vb, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(NULL, 0, fmt, ap);
        va_end(ap);
        if (n < 0)
                return;
        vg_buf_reserve(vb, (size_t)n);
        va_start(ap, fmt);
        vsnprintf(vb->vb_data + vb->vb_len, (size_t)n + 1, fmt, ap);
        va_end(ap);
        vb->vb_len += (size_t)n;
}

int vg_log_level = VG_LOG_INFO;

void vg_log(vg_loglevel_t level, const char *component, const char *fmt, ...) {
        static const char *names[] = {[VG_LOG_ERROR] = "ERROR",
                                      [VG_LOG_WARN] = "WARN",
                                      [VG_LOG_INFO] = "INFO",
                                      [VG_LOG_DEBUG] = "DEBUG"};
        char msg[1024], ts[32];
        struct timeval tv;
        struct tm tm;
        va_list ap;

        if ((int)level > vg_log_level)
                return;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        /* One event, one line: flatten embedded newlines. */
        for (char *p = msg; *p; p++)
                if (*p == '\n' || *p == '\r')
                        *p = ' ';
        gettimeofday(&tv, NULL);
        gmtime_r(&tv.tv_sec, &tm);
        strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
        fprintf(stderr, "%s.%03dZ %-5s %s: %s\n", ts, (int)(tv.tv_usec / 1000),
                names[level], component ? component : "vigil", msg);
}

bool vg_all_digits(const char *s, size_t n) {
        if (strlen(s) != n)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!isdigit((unsigned char)s[i]))
                        return false;
        return true;
}

/* Whether the six digits d are a personnummer's date: YYMMDD, the day
 * maybe a samordningsnummer's (+ 60). */
static bool pnr_date6(const char *d) {
        int m = (d[2] - '0') * 10 + (d[3] - '0');
        int day = (d[4] - '0') * 10 + (d[5] - '0');
        if (day > 60)
                day -= 60;
        return m >= 1 && m <= 12 && day >= 1 && day <= 31;
}

/* Whether the first four digits of d are a year from 1800 to 2100. */
static bool pnr_year(const char *d) {
        int y = (d[0] - '0') * 1000 + (d[1] - '0') * 100 + (d[2] - '0') * 10 +
                (d[3] - '0');
        return y >= 1800 && y <= 2100;
}

/* Whether the digits d[0..len) (10 or 12) are a personnummer: a date (a
 * year from 1800 to 2100 for 12) and a valid check digit (Luhn). */
static bool pnr_window(const char *d, size_t len) {
        int sum = 0;
        if (len == 12) {
                if (!pnr_year(d))
                        return false;
                d += 2;
        }
        if (!pnr_date6(d))
                return false;
        for (int i = 0; i < 10; i++) {
                int v = (d[i] - '0') * (i % 2 ? 1 : 2);
                sum += v > 9 ? v - 9 : v;
        }
        return sum % 10 == 0;
}

/* Whether a run of n > 10 digits (not 12) starts or ends with a
 * personnummer (one with a counter before or after it): the check digit
 * must hold, so that a date-time or an epoch time in a message is seldom
 * taken for one. */
static bool digits_hold_pnr(const char *s, size_t n) {
        return pnr_window(s, 10) || pnr_window(s + n - 10, 10) ||
               (n > 12 && (pnr_window(s, 12) || pnr_window(s + n - 12, 12)));
}

static bool pnr_sep(unsigned char c) {
        return c >= 0x80 || (c && strchr(" -+?|/._\\", c));
}

size_t vg_pnr_grouped(const char *s, size_t n, bool valid) {
        char d[12];
        size_t nd = 0, i = 0, best = 0;
        int groups = 0;
        for (;;) {
                size_t g = i, sep;
                while (i < n && isdigit((unsigned char)s[i])) {
                        if (nd == sizeof(d))
                                return best;
                        d[nd++] = s[i++];
                }
                if (i == g)
                        return best;
                groups++;
                if (groups >= 2 && i - g == 4 &&
                    (valid ? (nd == 10 || nd == 12) && pnr_window(d, nd)
                           : (nd == 10 && pnr_date6(d)) ||
                                     (nd == 12 && pnr_date6(d + 2) &&
                                      pnr_year(d))))
                        best = i;
                for (sep = 0; sep < 6 && i + sep < n &&
                              pnr_sep((unsigned char)s[i + sep]);
                     sep++)
                        ;
                if (!sep || i + sep >= n ||
                    !isdigit((unsigned char)s[i + sep]))
                        return best;
                i += sep;
        }
}

/* Replaces, in place, every substring spelt like a personnummer (see
 * vg_common.h) by as many 'X', valid or not: a mistyped personnummer is
 * still personal data. Used on every message that quotes input (producers/
 * vg_pseudo.h's vg_pseudo_redact is this). */
void vg_redact_pnr(char *s) {
        size_t n = strlen(s);
        for (size_t i = 0; i < n;) {
                size_t j = i, d1, d2 = 0, len;
                if (!isdigit((unsigned char)s[i]) ||
                    (i > 0 && isdigit((unsigned char)s[i - 1]))) {
                        i++;
                        continue;
                }
                if ((len = vg_pnr_grouped(s + i, n - i, false))) {
                        memset(s + i, 'X', len);
                        i += len;
                        continue;
                }
                while (j < n && isdigit((unsigned char)s[j]))
                        j++;
                d1 = j - i;
                len = d1;
                /* 8 or 6 digits (or more, ending in a date), a separator
                 * and 4 or more */
                if (d1 >= 6 && j < n &&
                    (s[j] == '-' || s[j] == '+' || s[j] == ' ') &&
                    (d1 == 6 || d1 == 8 || pnr_date6(s + j - 6))) {
                        size_t k = j + 1;
                        while (k < n && isdigit((unsigned char)s[k]))
                                k++;
                        d2 = k - j - 1;
                        if (d2 >= 4)
                                len = k - i;
                }
                /* 12 or 10 digits; a longer run that starts or ends with
                 * one (a control id made of a personnummer and a
                 * counter) */
                if (d1 == 12 || d1 == 10 || d2 >= 4 ||
                    (d1 > 10 && digits_hold_pnr(s + i, d1))) {
                        memset(s + i, 'X', len);
                        i += len;
                } else
                        i = j;
        }
}

/* Code points that show nothing (or nothing of their own) in an id, from
 * Unicode's Default_Ignorable_Code_Point and bidi controls: two ids that
 * differ only in them look the same. Ranges, inclusive, in order. */
static const struct {
        unsigned lo, hi;
} invisible[] = {
        {0x00ad, 0x00ad},   {0x034f, 0x034f},   {0x061c, 0x061c},
        {0x115f, 0x1160},   {0x17b4, 0x17b5},   {0x180b, 0x180f},
        {0x200b, 0x200f},   {0x2028, 0x202e},   {0x2060, 0x206f},
        {0x3164, 0x3164},   {0xfe00, 0xfe0f},   {0xfeff, 0xfeff},
        {0xffa0, 0xffa0},   {0xfff0, 0xfffb},   {0x1bca0, 0x1bca3},
        {0x1d173, 0x1d17a}, {0xe0000, 0xe0fff},
};

bool vg_text_control(const char *str, size_t n) {
        const unsigned char *s = (const unsigned char *)str;
        for (size_t i = 0; i < n; i++) {
                unsigned cp;
                size_t len;
                if (s[i] < 0x20 || s[i] == 0x7f)
                        return true;
                if (s[i] < 0x80)
                        continue;
                len = s[i] >= 0xf0   ? 4
                      : s[i] >= 0xe0 ? 3
                      : s[i] >= 0xc0 ? 2
                                     : 1;
                if (len == 1 || i + len > n)
                        continue; /* (not UTF-8: the caller's check) */
                cp = s[i] & (0x7f >> len);
                for (size_t k = 1; k < len; k++)
                        cp = cp << 6 | (s[i + k] & 0x3f);
                if (cp >= 0x80 && cp <= 0x9f)
                        return true; /* C1 */
                for (size_t r = 0; r < VG_ARRAY_SIZE(invisible); r++)
                        if (cp >= invisible[r].lo && cp <= invisible[r].hi)
                                return true;
                i += len - 1;
        }
        return false;
}

size_t vg_utf8_char(const unsigned char *s, size_t n) {
        size_t len;
        unsigned char lo = 0x80, hi = 0xbf; /* the second byte's range */
        if (s[0] < 0x80)
                return 1;
        if (s[0] >= 0xc2 && s[0] <= 0xdf)
                len = 2;
        else if (s[0] >= 0xe0 && s[0] <= 0xef)
                len = 3;
        else if (s[0] >= 0xf0 && s[0] <= 0xf4)
                len = 4;
        else
                return 0;
        if (n < len)
                return 0;
        if (s[0] == 0xe0) /* (overlong) */
                lo = 0xa0;
        else if (s[0] == 0xed) /* (surrogates) */
                hi = 0x9f;
        else if (s[0] == 0xf0) /* (overlong) */
                lo = 0x90;
        else if (s[0] == 0xf4) /* (beyond U+10FFFF) */
                hi = 0x8f;
        if (s[1] < lo || s[1] > hi)
                return 0;
        for (size_t i = 2; i < len; i++)
                if ((s[i] & 0xc0) != 0x80)
                        return 0;
        return len;
}

size_t vg_join(char *buf, size_t size, char sep, const char *const *parts,
               int n) {
        size_t len = 0;
        if (!size)
                return 0;
        for (int i = 0; i < n; i++) {
                size_t pl = strlen(parts[i]);
                if (i && len + 1 < size)
                        buf[len++] = sep;
                if (pl > size - 1 - len)
                        pl = size - 1 - len;
                memcpy(buf + len, parts[i], pl);
                len += pl;
        }
        buf[len] = '\0';
        return len;
}

static int i64_cmp(const void *a, const void *b) {
        int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
        return x < y ? -1 : x > y;
}

void vg_sort_i64(int64_t *t, size_t n) {
        if (n > 32) {
                /* (a long history comes mostly in order: checked first,
                 * as a merge sort of sorted input still costs n log n) */
                size_t i = 1;
                while (i < n && t[i - 1] <= t[i])
                        i++;
                if (i < n)
                        qsort(t, n, sizeof(*t), i64_cmp);
                return;
        }
        for (size_t i = 1; i < n; i++) {
                int64_t x = t[i];
                size_t j = i;
                for (; j > 0 && t[j - 1] > x; j--)
                        t[j] = t[j - 1];
                t[j] = x;
        }
}

/* Eight bytes a step (multiply and fold) into h. */
static uint64_t hash_words(uint64_t h, const unsigned char *p, size_t n) {
        uint64_t w;
        for (; n >= 8; p += 8, n -= 8) {
                memcpy(&w, p, 8);
                h = (h ^ w) * 0xff51afd7ed558ccdull;
                h ^= h >> 32;
        }
        if (n) {
                w = 0;
                memcpy(&w, p, n);
                h = (h ^ w) * 0xc4ceb9fe1a85ec53ull;
                h ^= h >> 32;
        }
        return h;
}

/* murmur3's final mix */
static uint64_t fmix64(uint64_t h) {
        h ^= h >> 33;
        h *= 0xff51afd7ed558ccdull;
        h ^= h >> 33;
        return h;
}

uint32_t vg_hash_str(const char *s) {
        /* The keys here are 30-100 bytes, and a byte-at-a-time hash was a
         * tenth of file mode's instructions. Not persisted: only
         * in-memory tables use it. */
        size_t n = strlen(s);
        return (uint32_t)fmix64(hash_words(0x9e3779b97f4a7c15ull ^ n,
                                           (const unsigned char *)s, n));
}

uint64_t vg_hash_bytes(uint64_t h, const void *p, size_t n) {
        return fmix64(hash_words(h ^ n, p, n));
}
