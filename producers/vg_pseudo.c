/*
 * vg_pseudo.c - personnummer normalisation and HMAC-SHA256 pseudonyms
 * (SPEC §8). Normalisation and HMAC are pure; the key loader reads a file.
 *
 * Nothing here formats a personnummer into a message: errors say what is
 * wrong, never with what.
 */
#include "vg_pseudo.h"
#include "vg_time.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

/* Key files larger than this are surely not key files. */
#define KEY_MAX (64 * 1024)

static bool all_digits(const char *s, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (s[i] < '0' || s[i] > '9')
                        return false;
        return true;
}

static int num(const char *s, size_t n) {
        int v = 0;
        for (size_t i = 0; i < n; i++)
                v = v * 10 + (s[i] - '0');
        return v;
}

static bool is_leap(int64_t y) {
        return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int64_t y, int m) {
        static const int dim[] = {31, 28, 31, 30, 31, 30,
                                  31, 31, 30, 31, 30, 31};
        return m == 2 && is_leap(y) ? 29 : dim[m - 1];
}

/* Luhn over the 10 digits d[0..9] (YYMMDDNNNC): true if C is right. */
static bool luhn_ok(const char *d) {
        int sum = 0;
        for (int i = 0; i < 9; i++) {
                int v = (d[i] - '0') * (i % 2 == 0 ? 2 : 1);
                sum += v > 9 ? v - 9 : v;
        }
        return (10 - sum % 10) % 10 == d[9] - '0';
}

/* (y, m, d) after (ty, tm, td)? */
static bool after(int64_t y, int m, int d, int64_t ty, unsigned tm,
                  unsigned td) {
        if (y != ty)
                return y > ty;
        if ((unsigned)m != tm)
                return (unsigned)m > tm;
        return (unsigned)d > td;
}

vg_err_t vg_pseudo_normalise(const char *pnr, int64_t today, char *out,
                             char *errstr, size_t errstr_size) {
        char digits[13]; /* 10 or 12 digits, no separator */
        size_t len = pnr ? strlen(pnr) : 0, nd;
        char sep = 0;
        int64_t year, ty;
        unsigned tm, td;
        int month, day, rday;

        out[0] = '\0';
        /* Format: 8 or 6 date digits, an optional separator, 4 digits. */
        if (len == 13 && pnr[8] == '-' && all_digits(pnr, 8) &&
            all_digits(pnr + 9, 4)) {
                memcpy(digits, pnr, 8);
                memcpy(digits + 8, pnr + 9, 4);
                nd = 12;
        } else if (len == 12 && all_digits(pnr, 12)) {
                memcpy(digits, pnr, 12);
                nd = 12;
        } else if (len == 11 && (pnr[6] == '-' || pnr[6] == '+') &&
                   all_digits(pnr, 6) && all_digits(pnr + 7, 4)) {
                memcpy(digits, pnr, 6);
                memcpy(digits + 6, pnr + 7, 4);
                sep = pnr[6];
                nd = 10;
        } else if (len == 10 && all_digits(pnr, 10)) {
                memcpy(digits, pnr, 10);
                nd = 10;
        } else
                return vg_seterr(errstr, errstr_size, VG_ERR_INVALID,
                                 "invalid format (expected YYYYMMDD-XXXX, "
                                 "YYYYMMDDXXXX, YYMMDD-XXXX, YYMMDD+XXXX or "
                                 "YYMMDDXXXX)");
        digits[nd] = '\0';

        vg_civil_from_days(today, &ty, &tm, &td);
        month = num(digits + nd - 8, 2);
        day = num(digits + nd - 6, 2);
        rday = day > 60 ? day - 60 : day; /* samordningsnummer: day + 60 */
        if (nd == 12) {
                year = num(digits, 4);
        } else {
                /* The latest year ending in YY whose date is not after
                 * today; '+' = born 100 or more years before that. */
                int yy = num(digits, 2);
                year = ty - (((ty % 100) - yy + 100) % 100);
                if (month >= 1 && month <= 12 &&
                    after(year, month, rday, ty, tm, td))
                        year -= 100;
                if (sep == '+')
                        year -= 100;
        }
        if (month < 1 || month > 12 || rday < 1 || year < 1800 ||
            rday > days_in_month(year, month) ||
            (day > 31 && day < 61) || after(year, month, rday, ty, tm, td))
                return vg_seterr(errstr, errstr_size, VG_ERR_INVALID,
                                 "invalid date");
        if (!luhn_ok(digits + nd - 10))
                return vg_seterr(errstr, errstr_size, VG_ERR_INVALID,
                                 "invalid check digit");
        /* YYYYMMDDXXXX */
        out[0] = (char)('0' + year / 1000);
        out[1] = (char)('0' + year / 100 % 10);
        out[2] = (char)('0' + year / 10 % 10);
        out[3] = (char)('0' + year % 10);
        memcpy(out + 4, digits + nd - 8, 8);
        out[12] = '\0';
        return VG_OK;
}

bool vg_pseudo_is_pnr(const char *s, int64_t today) {
        char out[VG_PSEUDO_PNR_BUFSZ], errstr[128];
        bool ok = vg_pseudo_normalise(s, today, out, errstr,
                                      sizeof(errstr)) == VG_OK;
        OPENSSL_cleanse(out, sizeof(out));
        return ok;
}

vg_err_t vg_pseudo_hmac(const void *key, size_t keylen, const char *normalised,
                        char *hexout) {
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int mdlen = 0;

        hexout[0] = '\0';
        if (keylen > INT_MAX)
                return VG_ERR_ARG;
        if (!HMAC(EVP_sha256(), keylen ? key : "", (int)keylen,
                  (const unsigned char *)normalised, strlen(normalised), md,
                  &mdlen) ||
            mdlen != 32)
                return VG_ERR_INTERNAL;
        vg_hex(hexout, md, mdlen);
        return VG_OK;
}

vg_err_t vg_pseudo_key_load(const char *path, vg_pseudo_key_t *key,
                            int *group_readablep, char *errstr,
                            size_t errstr_size) {
        unsigned char *buf = NULL;
        size_t len = 0;
        struct stat st;
        vg_err_t err = VG_OK;
        int fd;

        memset(key, 0, sizeof(*key));
        *group_readablep = 0;
        if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
                return vg_seterr(errstr, errstr_size, VG_ERR_IO,
                                 "pseudonym key file %s: %s", path,
                                 strerror(errno));
        if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
            (st.st_mode & (S_IRGRP | S_IROTH)))
                *group_readablep = 1;
        buf = vg_malloc(KEY_MAX + 1);
        for (;;) {
                ssize_t n = read(fd, buf + len, KEY_MAX + 1 - len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        err = vg_seterr(errstr, errstr_size, VG_ERR_IO,
                                        "pseudonym key file %s: %s", path,
                                        strerror(errno));
                        goto done;
                }
                if (n == 0)
                        break;
                len += (size_t)n;
                if (len > KEY_MAX) {
                        err = vg_seterr(errstr, errstr_size, VG_ERR_ARG,
                                        "pseudonym key file %s: larger than "
                                        "%d bytes, not a key", path, KEY_MAX);
                        goto done;
                }
        }
        /* One trailing newline is not part of the key. */
        if (len > 0 && buf[len - 1] == '\n') {
                len--;
                if (len > 0 && buf[len - 1] == '\r')
                        len--;
        }
        if (len == 0)
                err = vg_seterr(errstr, errstr_size, VG_ERR_ARG,
                                "pseudonym key file %s is empty", path);
        else if (len < VG_PSEUDO_KEY_MIN)
                err = vg_seterr(errstr, errstr_size, VG_ERR_ARG,
                                "pseudonym key file %s: key is %zu bytes, at "
                                "least %d needed", path, len,
                                VG_PSEUDO_KEY_MIN);
done:
        close(fd);
        if (err) {
                OPENSSL_cleanse(buf, KEY_MAX + 1);
                vg_free(buf);
                return err;
        }
        key->pk_data = vg_malloc(len);
        memcpy(key->pk_data, buf, len);
        key->pk_len = len;
        OPENSSL_cleanse(buf, KEY_MAX + 1);
        vg_free(buf);
        return VG_OK;
}

void vg_pseudo_key_clear(vg_pseudo_key_t *key) {
        if (!key)
                return;
        if (key->pk_data) {
                OPENSSL_cleanse(key->pk_data, key->pk_len);
                vg_free(key->pk_data);
        }
        key->pk_data = NULL;
        key->pk_len = 0;
}

/* ------------------------------------------------------------------ */
/* Screening text for anything spelt like a personnummer               */
/* ------------------------------------------------------------------ */

/* (common/vg_common.c: the consumers quote input in messages too) */
void vg_pseudo_redact(char *s) {
        vg_redact_pnr(s);
}

/* True if s holds something spelt like a personnummer (10 or 12 digits,
 * or 6/8 digits, '-', '+' or ' ', 4 digits, or in groups: vg_pnr_grouped)
 * standing on its own: not touching a letter or digit, so a hex pseudonym
 * is not taken for one. */
bool vg_pseudo_spelt_like(const char *s) {
        size_t n = strlen(s);
        for (size_t i = 0; i < n; i++) {
                size_t j = i, d1, end;
                if (!isdigit((unsigned char)s[i]) ||
                    (i > 0 && isalnum((unsigned char)s[i - 1])))
                        continue;
                /* (in groups: "1940-01-01-1230", "19400101 1230", the
                 * check digit valid: an id of a date and a counter is
                 * seldom one) */
                if ((end = vg_pnr_grouped(s + i, n - i, true)) &&
                    (i + end == n || !isalnum((unsigned char)s[i + end])))
                        return true;
                while (j < n && isdigit((unsigned char)s[j]))
                        j++;
                d1 = j - i;
                end = j;
                if ((d1 == 8 || d1 == 6) && j + 5 <= n &&
                    (s[j] == '-' || s[j] == '+' || s[j] == ' ')) {
                        size_t k = j + 1;
                        while (k < n && isdigit((unsigned char)s[k]))
                                k++;
                        if (k - j - 1 == 4)
                                d1 = 10, end = k;
                }
                if ((d1 == 10 || d1 == 12) &&
                    (end == n || !isalnum((unsigned char)s[end])))
                        return true;
                i = j;
        }
        return false;
}
