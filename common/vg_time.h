/*
 * vg_time.h - instants (UTC epoch milliseconds), RFC 3339 text, and the
 * calendar dates of SPEC §4 in Europe/Stockholm.
 *
 * The Stockholm rules are compiled in (no tzdata, no TZ environment, no
 * process-global state): CET (UTC+1), and CEST (UTC+2) from the last Sunday
 * of March 01:00 UTC to the last Sunday of October 01:00 UTC (EU rule, in
 * force since 1996; 1980-1995 summer time ended on the last Sunday of
 * September). Before 1980 Sweden kept CET all year (1916 aside, ignored).
 */
#ifndef VG_TIME_H
#define VG_TIME_H

#include "vg_common.h"

#define VG_MS_PER_DAY  86400000LL
#define VG_MS_PER_HOUR 3600000LL
/* 1900-01-01T00:00:00Z: no event happens before it (SPEC §3 through
 * EVENTS.md; birth dates may). */
#define VG_MS_1900     (-2208988800000LL)
/* The death_at a register entry may report (vg_event_validate): from
 * 0001-01-02T00:00Z to before 9999-12-31T00:00Z, so that its local date
 * has a four-digit year whatever the offset. */
#define VG_MS_DEATH_MIN (-62135510400000LL)
#define VG_MS_DEATH_END (253402214400000LL)

/* Time zones the rules can use (SPEC [timezone]). */
typedef enum vg_tz_e {
        VG_TZ_STOCKHOLM = 0, /* Europe/Stockholm (default) */
        VG_TZ_UTC            /* UTC, for tests and non-Swedish use */
} vg_tz_t;

/* "Europe/Stockholm" or "UTC" -> tz; -1 if unknown. */
int vg_tz_parse(const char *name, vg_tz_t *tzp);
const char *vg_tz_name(vg_tz_t tz);

/* Days since 1970-01-01 of a proleptic Gregorian date. Can't fail. */
int64_t vg_days_from_civil(int64_t y, unsigned m, unsigned d);
void vg_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d);

/* Parse RFC 3339 ("2026-03-01T08:15:00Z", fraction optional, "Z" or
 * "+hh:mm"/"-hh:mm"). Returns 0 and the instant in *msp, or -1. */
int vg_time_parse(const char *s, int64_t *msp);
/* The same, and its offset from UTC in minutes in *off_minp (if not NULL):
 * 0 for "Z", "+00:00" and "-00:00". */
int vg_time_parse_off(const char *s, int64_t *msp, int *off_minp);

/* Format as RFC 3339 UTC; milliseconds only when non-zero.
 * buf must hold VG_TIME_BUFSZ bytes. Returns buf. */
#define VG_TIME_BUFSZ 40
char *vg_time_format(int64_t ms, char *buf);

/* UTC offset of tz at instant ms, in milliseconds. */
int64_t vg_tz_offset(vg_tz_t tz, int64_t ms);

/* Local calendar date of ms, as days since 1970-01-01. */
int64_t vg_local_day(vg_tz_t tz, int64_t ms);

/* SPEC §4 days(a, b) = local date of b minus local date of a. */
int64_t vg_days_between(vg_tz_t tz, int64_t a, int64_t b);

/* Period "YYYY-MM" of the local date of ms; buf must hold 8 bytes. */
char *vg_period(vg_tz_t tz, int64_t ms, char *buf);

/* Current wall-clock time, epoch milliseconds (the shell's clock). */
int64_t vg_now_ms(void);
/* Monotonic clock, microseconds, for durations. */
int64_t vg_now_us(void);
/* ms milliseconds from now on clock clk (CLOCK_REALTIME, CLOCK_MONOTONIC),
 * as pthread_cond_timedwait takes a deadline. */
struct timespec;
void vg_deadline_after(int clk, int64_t ms, struct timespec *ts);

#endif /* VG_TIME_H */
