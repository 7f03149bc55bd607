/*
 * vg_rules_conf.c - around the rule book: its settings (vg_rules_conf_t:
 * the SPEC's defaults, and the text a partition's state records them by),
 * and case keys split and expanded into the counter cells they count in.
 */
#include "vg_rules.h"

#include <stdio.h>
#include <string.h>

void vg_rules_conf_default(vg_rules_conf_t *rc) {
        rc->rc_tz = VG_TZ_STOCKHOLM;
        rc->rc_window_days = 30;
        rc->rc_sip_deadline_ms = 72 * VG_MS_PER_HOUR;
        rc->rc_retention_days = 400;
        rc->rc_eol_days = 30;
        rc->rc_sip_before_death_days = 365;
        rc->rc_max_events = 5000;
        rc->rc_register = true;
        rc->rc_register_deadline_days = 30;
        rc->rc_idle_ms = 5000;
}

void vg_rules_conf_text(const vg_rules_conf_t *rc, char *buf, size_t size) {
        /* (stream.idle_ms is left out: when a topic counts as caught up
         * changes no final result) */
        snprintf(buf, size,
                 "timezone=%s window_days=%d sip_deadline_hours=%lld "
                 "retention_days=%d eol_days=%d sip_before_death_days=%d "
                 "max_patient_events=%d register=%s "
                 "register_deadline_days=%d",
                 vg_tz_name(rc->rc_tz), rc->rc_window_days,
                 (long long)(rc->rc_sip_deadline_ms / VG_MS_PER_HOUR),
                 rc->rc_retention_days, rc->rc_eol_days,
                 rc->rc_sip_before_death_days, rc->rc_max_events,
                 rc->rc_register ? "true" : "false",
                 rc->rc_register_deadline_days);
}

/* Appends s to p (bounded by end); returns the new end of text. */
static char *put(char *p, const char *end, const char *s, size_t n) {
        if (p + n >= end)
                n = (size_t)(end - p - 1);
        memcpy(p, s, n);
        p[n] = '\0';
        return p + n;
}

int vg_rules_case_split(const char *case_key, const char *f[7],
                        size_t len[7]) {
        const char *p = case_key;
        for (int i = 0; i < 7; i++) {
                const char *bar = strchr(p, '|');
                if ((bar == NULL) != (i == 6))
                        return -1;
                f[i] = p;
                len[i] = bar ? (size_t)(bar - p) : strlen(p);
                if (!len[i])
                        return -1;
                p = bar ? bar + 1 : p;
        }
        return 0;
}

int vg_rules_case_cells(const char *case_key,
                        char cells[VG_CASE_CELLS][VG_CASE_KEY_MAX]) {
        static const char *bd_name[4] = {"age:", "sex:", "diagnosis:",
                                         "residence:"};
        const char *f[7];
        size_t len[7];
        char region[3], kommun[8];
        const char *areas[3];
        size_t alen[3];
        int n = 0;

        if (vg_rules_case_split(case_key, f, len))
                return -1;
        if (len[1] >= sizeof(kommun))
                return -1;
        memcpy(kommun, f[1], len[1]);
        kommun[len[1]] = '\0';
        areas[0] = kommun, alen[0] = len[1];
        areas[1] = vg_region_of(kommun, region), alen[1] = strlen(region);
        areas[2] = "SE", alen[2] = 2;
        for (int a = 0; a < 3; a++) {
                /* "indicator|area|period", then one per breakdown */
                char base[VG_CASE_KEY_MAX], *end = base + sizeof(base), *q;
                size_t blen;
                q = put(base, end, f[0], len[0]);
                q = put(q, end, "|", 1);
                q = put(q, end, areas[a], alen[a]);
                q = put(q, end, "|", 1);
                q = put(q, end, f[2], len[2]);
                blen = (size_t)(q - base);
                memcpy(cells[n++], base, blen + 1);
                for (int b = 0; b < 4; b++) {
                        const char *v = f[3 + b];
                        size_t vl = len[3 + b];
                        char *c = cells[n], *cend = c + VG_CASE_KEY_MAX;
                        if (vl == 1 && v[0] == '-')
                                continue;
                        memcpy(c, base, blen);
                        q = put(c + blen, cend, "|", 1);
                        q = put(q, cend, bd_name[b], strlen(bd_name[b]));
                        put(q, cend, v, vl);
                        n++;
                }
        }
        return n;
}
