/*
 * vg_time.c - instants, RFC 3339, and Europe/Stockholm calendar dates.
 */
#include "vg_time.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

int vg_tz_parse(const char *name, vg_tz_t *tzp) {
        if (!strcmp(name, "Europe/Stockholm")) {
                *tzp = VG_TZ_STOCKHOLM;
                return 0;
        }
        if (!strcmp(name, "UTC") || !strcmp(name, "Etc/UTC")) {
                *tzp = VG_TZ_UTC;
                return 0;
        }
        return -1;
}

const char *vg_tz_name(vg_tz_t tz) {
        return tz == VG_TZ_UTC ? "UTC" : "Europe/Stockholm";
}

/* Howard Hinnant's days_from_civil / civil_from_days. */
int64_t vg_days_from_civil(int64_t y, unsigned m, unsigned d) {
        y -= m <= 2;
        const int64_t era = (y >= 0 ? y : y - 399) / 400;
        const unsigned yoe = (unsigned)(y - era * 400);
        const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
        const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        return era * 146097 + (int64_t)doe - 719468;
}

void vg_civil_from_days(int64_t z, int64_t *yp, unsigned *mp, unsigned *dp) {
        z += 719468;
        const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
        const unsigned doe = (unsigned)(z - era * 146097);
        const unsigned yoe =
                (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
        const int64_t y = (int64_t)yoe + era * 400;
        const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        const unsigned mp0 = (5 * doy + 2) / 153;
        const unsigned d = doy - (153 * mp0 + 2) / 5 + 1;
        const unsigned m = mp0 < 10 ? mp0 + 3 : mp0 - 9;
        *yp = y + (m <= 2);
        *mp = m;
        *dp = d;
}

static int64_t floordiv(int64_t a, int64_t b) {
        int64_t q = a / b;
        if ((a % b != 0) && ((a < 0) != (b < 0)))
                q--;
        return q;
}

static int digits(const char *s, int n, int *out) {
        int v = 0;
        for (int i = 0; i < n; i++) {
                if (!isdigit((unsigned char)s[i]))
                        return -1;
                v = v * 10 + (s[i] - '0');
        }
        *out = v;
        return 0;
}

static int days_in_month(int y, int m) {
        static const int dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
        if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
                return 29;
        return dm[m - 1];
}

int vg_time_parse(const char *s, int64_t *msp) {
        return vg_time_parse_off(s, msp, NULL);
}

int vg_time_parse_off(const char *s, int64_t *msp, int *off_minp) {
        int Y, M, D, h, mi, sec, ms = 0;
        const char *p = s;
        int64_t off = 0;

        if (strlen(s) < 20 || digits(p, 4, &Y) || p[4] != '-' ||
            digits(p + 5, 2, &M) || p[7] != '-' || digits(p + 8, 2, &D) ||
            (p[10] != 'T' && p[10] != 't' && p[10] != ' ') ||
            digits(p + 11, 2, &h) || p[13] != ':' || digits(p + 14, 2, &mi) ||
            p[16] != ':' || digits(p + 17, 2, &sec))
                return -1;
        if (M < 1 || M > 12 || D < 1 || D > days_in_month(Y, M) || h > 23 ||
            mi > 59 || sec > 60)
                return -1;
        if (sec == 60) /* leap second: POSIX time has none */
                sec = 59;
        p += 19;
        if (*p == '.') {
                int n = 0, scale = 100;
                p++;
                if (!isdigit((unsigned char)*p))
                        return -1;
                while (isdigit((unsigned char)*p)) {
                        if (n < 3)
                                ms += (*p - '0') * scale, scale /= 10;
                        n++;
                        p++;
                }
        }
        if (*p == 'Z' || *p == 'z') {
                p++;
        } else if (*p == '+' || *p == '-') {
                int oh, om;
                if (digits(p + 1, 2, &oh) || p[3] != ':' ||
                    digits(p + 4, 2, &om) || oh > 23 || om > 59)
                        return -1;
                off = ((int64_t)oh * 60 + om) * 60000 * (*p == '+' ? 1 : -1);
                p += 6;
        } else
                return -1;
        if (*p)
                return -1;
        if (off_minp)
                *off_minp = (int)(off / 60000);
        *msp = vg_days_from_civil(Y, (unsigned)M, (unsigned)D) * VG_MS_PER_DAY +
               ((int64_t)h * 3600 + mi * 60 + sec) * 1000 + ms - off;
        return 0;
}

/* Writes v as exactly w decimal digits (v < 10^w). */
static void put_digits(char *p, unsigned v, int w) {
        while (w-- > 0) {
                p[w] = (char)('0' + v % 10);
                v /= 10;
        }
}

char *vg_time_format(int64_t ms, char *buf) {
        int64_t day = floordiv(ms, VG_MS_PER_DAY);
        int64_t rem = ms % VG_MS_PER_DAY, y; /* no day * DAY: it overflows
                                              * at the int64 edges */
        unsigned m, d;
        int msec;

        if (rem < 0)
                rem += VG_MS_PER_DAY;
        msec = (int)(rem % 1000);
        int s = (int)(rem / 1000);

        vg_civil_from_days(day, &y, &m, &d);
        if (y < 0 || y > 9999) { /* rare: the general form */
                if (msec)
                        snprintf(buf, VG_TIME_BUFSZ,
                                 "%04lld-%02u-%02uT%02d:%02d:%02d.%03dZ",
                                 (long long)y, m, d, s / 3600, (s / 60) % 60,
                                 s % 60, msec);
                else
                        snprintf(buf, VG_TIME_BUFSZ,
                                 "%04lld-%02u-%02uT%02d:%02d:%02dZ",
                                 (long long)y, m, d, s / 3600, (s / 60) % 60,
                                 s % 60);
                return buf;
        }
        /* "YYYY-MM-DDTHH:MM:SS[.mmm]Z", written digit by digit (a hot
         * path: every time in every output line). */
        put_digits(buf, (unsigned)y, 4);
        buf[4] = '-';
        put_digits(buf + 5, m, 2);
        buf[7] = '-';
        put_digits(buf + 8, d, 2);
        buf[10] = 'T';
        put_digits(buf + 11, (unsigned)(s / 3600), 2);
        buf[13] = ':';
        put_digits(buf + 14, (unsigned)((s / 60) % 60), 2);
        buf[16] = ':';
        put_digits(buf + 17, (unsigned)(s % 60), 2);
        if (msec) {
                buf[19] = '.';
                put_digits(buf + 20, (unsigned)msec, 3);
                buf[23] = 'Z';
                buf[24] = '\0';
        } else {
                buf[19] = 'Z';
                buf[20] = '\0';
        }
        return buf;
}

/* UTC instant of 01:00 UTC on the last Sunday of month m of year y. */
static int64_t last_sunday_0100(int64_t y, unsigned m) {
        int64_t last = vg_days_from_civil(y, m, (unsigned)days_in_month((int)y,
                                                                     (int)m));
        /* 1970-01-01 was a Thursday: weekday 0 = Sunday -> (z + 4) % 7. */
        int64_t wd = ((last + 4) % 7 + 7) % 7;
        return (last - wd) * VG_MS_PER_DAY + VG_MS_PER_HOUR;
}

/* The offset of Europe/Stockholm over one UTC year: its bounds and its
 * summer time, kept per thread for the next calls. A run's instants fall
 * in a few years, which its rules visit in turn (an event and the days
 * around it, a period's bounds): one cached year was made again at about
 * every other call, so the last TZ_YEARS years are kept. */
typedef struct tz_year_s {
        int64_t ty_from, ty_to;       /* [from, to): the year, UTC */
        int64_t ty_dst_from, ty_dst_to; /* summer time, UTC; empty before 1980 */
} tz_year_t;

#define TZ_YEARS 4
static _Thread_local tz_year_t tz_cache[TZ_YEARS] = {
        {1, 0, 0, 0}, {1, 0, 0, 0}, {1, 0, 0, 0}, {1, 0, 0, 0}}; /* (empty) */
static _Thread_local unsigned tz_next; /* the entry to make next */

static void tz_year(int64_t ms, tz_year_t *ty) {
        int64_t y;
        unsigned m, d;
        vg_civil_from_days(floordiv(ms, VG_MS_PER_DAY), &y, &m, &d);
        int64_t from = vg_days_from_civil(y, 1, 1),
                to = vg_days_from_civil(y + 1, 1, 1);
        /* (a year at the ends of the int64 range is cut short here; its
         * summer time bounds are not: events are validated to 1900 ..
         * now + 1 day long before) */
        ty->ty_from = from < INT64_MIN / VG_MS_PER_DAY ? INT64_MIN
                                                       : from * VG_MS_PER_DAY;
        ty->ty_to = to > INT64_MAX / VG_MS_PER_DAY ? INT64_MAX
                                                   : to * VG_MS_PER_DAY;
        ty->ty_dst_from = ty->ty_dst_to = 0;
        if (y == 1916) { /* 14 May 23:00 to 1 October 01:00, local (tz
                          * database) */
                ty->ty_dst_from = vg_days_from_civil(1916, 5, 14) *
                                          VG_MS_PER_DAY +
                                  22 * VG_MS_PER_HOUR;
                ty->ty_dst_to = vg_days_from_civil(1916, 9, 30) *
                                        VG_MS_PER_DAY +
                                23 * VG_MS_PER_HOUR;
        } else if (y >= 1980) {
                ty->ty_dst_from = last_sunday_0100(y, 3);
                ty->ty_dst_to = last_sunday_0100(y, y >= 1996 ? 10 : 9);
        }
}

int64_t vg_tz_offset(vg_tz_t tz, int64_t ms) {
        tz_year_t *ty = NULL;

        if (tz == VG_TZ_UTC)
                return 0;
        for (unsigned i = 0; i < TZ_YEARS; i++)
                if (ms >= tz_cache[i].ty_from && ms < tz_cache[i].ty_to) {
                        ty = &tz_cache[i];
                        break;
                }
        if (!ty) {
                ty = &tz_cache[tz_next];
                tz_next = (tz_next + 1) % TZ_YEARS;
                tz_year(ms, ty);
        }
        if (ms >= ty->ty_dst_from && ms < ty->ty_dst_to)
                return 2 * VG_MS_PER_HOUR;
        return VG_MS_PER_HOUR;
}

int64_t vg_local_day(vg_tz_t tz, int64_t ms) {
        return floordiv(ms + vg_tz_offset(tz, ms), VG_MS_PER_DAY);
}

int64_t vg_days_between(vg_tz_t tz, int64_t a, int64_t b) {
        return vg_local_day(tz, b) - vg_local_day(tz, a);
}

char *vg_period(vg_tz_t tz, int64_t ms, char *buf) {
        int64_t y;
        unsigned m, d;
        vg_civil_from_days(vg_local_day(tz, ms), &y, &m, &d);
        put_digits(buf, (unsigned)(y % 10000 + 10000) % 10000, 4);
        buf[4] = '-';
        put_digits(buf + 5, m % 100, 2);
        buf[7] = '\0';
        return buf;
}

int64_t vg_now_ms(void) {
        struct timeval tv;
        gettimeofday(&tv, NULL);
        return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

int64_t vg_now_us(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void vg_deadline_after(int clk, int64_t ms, struct timespec *ts) {
        clock_gettime((clockid_t)clk, ts);
        ts->tv_sec += (time_t)(ms / 1000);
        ts->tv_nsec += (long)(ms % 1000) * 1000000L;
        if (ts->tv_nsec >= 1000000000L) {
                ts->tv_sec++;
                ts->tv_nsec -= 1000000000L;
        }
}
