/*
 * vg_rules_period.c - periods ("YYYY", "YYYY-Qn", "YYYY-MM") and when an
 * indicator's value for one is complete (SPEC §6.1): its bounds in local
 * time, its quarter and year, and whether the watermark and the data
 * since cover it; local midnights and age bands. Part of the rule book
 * (vg_rules.h): pure.
 */
#include "vg_rules.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

static int parse_uint(const char *s, int n, int *out) {
        int v = 0;
        for (int i = 0; i < n; i++) {
                if (s[i] < '0' || s[i] > '9')
                        return -1;
                v = v * 10 + (s[i] - '0');
        }
        *out = v;
        return 0;
}

/* The bounds of the periods asked for last, per thread: a value's
 * completeness is asked for each value queued or written, of a few dozen
 * periods, and each asked for its bounds (a local midnight is six
 * vg_local_day). Keyed by the period's bytes (at most 7, so a period
 * fits in 8) and the time zone; a memo, so the function stays pure. */
#define PB_SLOTS 32
typedef struct pb_memo_s {
        uint64_t pb_key;   /* the period's bytes, 0: empty */
        int      pb_tz;
        int64_t  pb_start, pb_end;
} pb_memo_t;
static _Thread_local pb_memo_t pb_memo[PB_SLOTS];

static int period_bounds(vg_tz_t tz, const char *period, size_t len,
                         int64_t *startp, int64_t *endp);

int vg_rules_period_bounds(vg_tz_t tz, const char *period, int64_t *startp,
                           int64_t *endp) {
        size_t len = period ? strlen(period) : 0;
        uint64_t key = 0;
        pb_memo_t *pb;
        if (len < 4 || len > 7)
                return -1;
        memcpy(&key, period, len);
        pb = &pb_memo[(key * 0x9e3779b97f4a7c15ull) >> 59]; /* 32 slots */
        if (pb->pb_key != key || pb->pb_tz != (int)tz) {
                if (period_bounds(tz, period, len, startp, endp))
                        return -1;
                pb->pb_key = key;
                pb->pb_tz = (int)tz;
                pb->pb_start = *startp;
                pb->pb_end = *endp;
                return 0;
        }
        *startp = pb->pb_start;
        *endp = pb->pb_end;
        return 0;
}

static int period_bounds(vg_tz_t tz, const char *period, size_t len,
                         int64_t *startp, int64_t *endp) {
        int y, m0, m1, q;
        if (parse_uint(period, 4, &y))
                return -1;
        if (len == 4) { /* YYYY */
                m0 = 1, m1 = 13;
        } else if (len == 7 && period[4] == '-' && period[5] == 'Q') {
                if (parse_uint(period + 6, 1, &q) || q < 1 || q > 4)
                        return -1;
                m0 = 3 * (q - 1) + 1, m1 = m0 + 3;
        } else if (len == 7 && period[4] == '-') {
                if (parse_uint(period + 5, 2, &m0) || m0 < 1 || m0 > 12)
                        return -1;
                m1 = m0 + 1;
        } else
                return -1;
        *startp = vg_rules_local_midnight(tz, vg_days_from_civil(y, (unsigned)m0,
                                                                 1));
        *endp = m1 == 13 ? vg_rules_local_midnight(
                                   tz, vg_days_from_civil(y + 1, 1, 1))
                         : vg_rules_local_midnight(
                                   tz, vg_days_from_civil(y, (unsigned)m1, 1));
        return 0;
}

int vg_rules_period_parents(const char *month, char *quarter, char *year) {
        int y, m;
        if (!month || strlen(month) != 7 || month[4] != '-' ||
            parse_uint(month, 4, &y) || parse_uint(month + 5, 2, &m) ||
            m < 1 || m > 12)
                return -1;
        /* y has 4 digits (parsed from 4 characters) */
        memcpy(quarter, month, 4);
        quarter[4] = '-';
        quarter[5] = 'Q';
        quarter[6] = (char)('1' + (m - 1) / 3);
        quarter[7] = '\0';
        memcpy(year, month, 4);
        year[4] = '\0';
        (void)y;
        return 0;
}

static bool starts_with(const char *s, const char *prefix) {
        return !strncmp(s, prefix, strlen(prefix));
}

bool vg_rules_complete(const vg_rules_conf_t *rc, const char *indicator,
                       const char *period, int64_t min_wm) {
        int64_t start, end, settled;
        if (min_wm == VG_WM_NONE ||
            vg_rules_period_bounds(rc->rc_tz, period, &start, &end))
                return false;
        if (!strcmp(indicator, "readmission_30d"))
                settled = vg_rules_local_midnight(
                        rc->rc_tz,
                        vg_local_day(rc->rc_tz, end) + rc->rc_window_days);
        else if (!strcmp(indicator, "register_coverage") ||
                 starts_with(indicator, "spr."))
                settled = vg_rules_local_midnight(
                        rc->rc_tz, vg_local_day(rc->rc_tz, end) +
                                           rc->rc_register_deadline_days);
        else if (!strcmp(indicator, "sip_within_deadline"))
                settled = end + rc->rc_sip_deadline_ms;
        else
                settled = end;
        return min_wm >= settled;
}

bool vg_rules_history_complete(const vg_rules_conf_t *rc,
                               const char *indicator, const char *period,
                               int64_t data_since) {
        int64_t start, end, back;
        if (!strcmp(indicator, "sip_before_death"))
                back = rc->rc_sip_before_death_days;
        else if (!strcmp(indicator, "eol_admission_30d") ||
                 !strcmp(indicator, "eol_readmission_30d"))
                back = rc->rc_eol_days;
        else if (!strcmp(indicator, "sip_within_deadline"))
                back = -1; /* 720 hours, an absolute span */
        else
                return true;
        if (vg_rules_period_bounds(rc->rc_tz, period, &start, &end))
                return false;
        if (data_since == VG_WM_NONE)
                return false;
        if (back < 0)
                return start - 720 * VG_MS_PER_HOUR >= data_since;
        return vg_days_between(rc->rc_tz, data_since, start) >= back;
}

const char *vg_rules_age_band(int age) {
        if (age < 65)
                return "0-64";
        if (age < 75)
                return "65-74";
        if (age < 85)
                return "75-84";
        return "85+";
}

int64_t vg_rules_local_midnight(vg_tz_t tz, int64_t day) {
        /* Local midnight is day*DAY minus the offset in force then; try the
         * larger offset first and verify. */
        for (int64_t off = 2; off >= 0; off--) {
                int64_t t = day * VG_MS_PER_DAY - off * VG_MS_PER_HOUR;
                if (vg_local_day(tz, t) == day &&
                    vg_local_day(tz, t - 1) == day - 1)
                        return t;
        }
        return day * VG_MS_PER_DAY - vg_tz_offset(tz, day * VG_MS_PER_DAY);
}
