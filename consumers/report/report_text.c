/*
 * report_text.c - how `vigil report` writes things: HTML escaping, month
 * and area labels, local times, percentages, targets, and the table of the
 * page's sections (SPEC §6 order).
 */
#include "report_model.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------
 * Text
 */

void rp_esc(vg_buf_t *b, const char *s) {
        const char *p = s ? s : "";
        while (*p) {
                size_t run = strcspn(p, "&<>\"'");
                vg_buf_append(b, p, run);
                p += run;
                switch (*p) {
                case '&': vg_buf_puts(b, "&amp;"); break;
                case '<': vg_buf_puts(b, "&lt;"); break;
                case '>': vg_buf_puts(b, "&gt;"); break;
                case '"': vg_buf_puts(b, "&quot;"); break;
                case '\'': vg_buf_puts(b, "&#39;"); break;
                default: return;
                }
                p++;
        }
}


const char *const rp_month_names[] = {"Jan", "Feb", "Mar", "Apr", "May",
                                          "Jun", "Jul", "Aug", "Sep", "Oct",
                                          "Nov", "Dec"};

int rp_period_month(const char *period) {
        int m = strlen(period) >= 7 ? atoi(period + 5) : 0;
        return m >= 1 && m <= 12 ? m : 0;
}

/* "Mar 2026" (or the period itself if it is not YYYY-MM). */
void rp_period_label(const char *period, char *buf, size_t size) {
        int m = rp_period_month(period);
        if (m)
                snprintf(buf, size, "%s %.4s", rp_month_names[m - 1], period);
        else
                snprintf(buf, size, "%s", period);
}

/* Local "YYYY-MM-DD HH:MM" (or only the date) in the configured zone. */
void rp_fmt_local(const rep_t *r, int64_t ms, bool with_time, char *buf,
                  size_t size) {
        char t[VG_TIME_BUFSZ];
        vg_time_format(ms + vg_tz_offset(r->rp_tz, ms), t);
        if (with_time)
                snprintf(buf, size, "%.10s %.5s", t, t + 11);
        else
                snprintf(buf, size, "%.10s", t);
}

/* "Region Sörmland" + " (04)": the display name, code when it has none. */
void rp_area_html(rep_t *r, const char *area, bool with_code) {
        const char *name = vg_area_name(area);
        if (*name) {
                E(r, name);
                if (with_code && rp_area_level(area)) {
                        P(r, " <span class=\"code\">");
                        E(r, area);
                        P(r, "</span>");
                }
        } else {
                P(r, "Area ");
                E(r, area);
        }
}

void rp_area_text(const char *area, char *buf, size_t size) {
        const char *name = vg_area_name(area);
        if (!*name)
                snprintf(buf, size, "area %s", area);
        else if (rp_area_level(area))
                snprintf(buf, size, "%s (%s)", name, area);
        else
                snprintf(buf, size, "%s", name);
}

void rp_pct(double v, char *buf, size_t size) {
        snprintf(buf, size, "%.1f%%", 100.0 * v);
}

/* "≤ 10%" */
void rp_target_text(const vg_target_t *tg, char *buf, size_t size) {
        if (!tg->tg_set)
                snprintf(buf, size, "none");
        else
                snprintf(buf, size, "%s %g%%",
                         tg->tg_higher_is_better ? "\u2265" : "\u2264",
                         tg->tg_target * 100);
}

/* ------------------------------------------------------------------------
 * Sections
 */



/* In SPEC §6 order. */
const sec_t rp_known_secs[] = {
        {SEC_LINE, "readmission_30d", "Readmission within 30 days",
         "Share of hospital discharges (index discharges) followed by an "
         "unplanned readmission within 30 days, by month of discharge. "
         "Lower is better.",
         "Readmitted", "Index discharges"},
        {SEC_PLACE, "death_place.", "Place of death",
         "Where people died, as a share of all deaths of the month.",
         "Deaths here", "Deaths"},
        {SEC_LINE, "eol_admission_30d",
         "Hospital admission in the last 30 days of life",
         "Share of deaths preceded by at least one unplanned hospital "
         "admission within 30 days, by month of death. Lower is better.",
         "With admission", "Deaths"},
        {SEC_LINE, "eol_readmission_30d",
         "Two or more hospital admissions in the last 30 days of life",
         "Share of deaths preceded by two or more unplanned hospital "
         "admissions within 30 days, by month of death. Lower is better.",
         "With \u2265 2 admissions", "Deaths"},
        {SEC_LINE, "sip_before_death", "SIP before an expected death",
         "Share of expected deaths with a coordinated individual plan (SIP) "
         "made within the year before death, by month of death. Higher is "
         "better.",
         "With SIP", "Expected deaths"},
        {SEC_LINE, "sip_within_deadline", "SIP in time after discharge",
         "Share of discharges needing coordination that got a SIP before the "
         "deadline, by month of discharge. Higher is better.",
         "SIP in time", "Discharges"},
        {SEC_SSIH, "ssih_enrolment.",
         "Enrolment in specialised palliative home care (SSIH)",
         "Number of new SSIH stays by month of admission, by age band; the "
         "data table also splits them by diagnosis group.",
         "Enrolments", ""},
        /* register_coverage and spr.* (rp_sec_has): one section */
        {SEC_REGISTER, "spr.", "Svenska palliativregistret",
         "The Swedish Register of Palliative Care: how many deaths are in "
         "the register (coverage), its quality indicators against their "
         "target levels, and the deaths still not registered.",
         "Registered", "Deaths due"},
};
const size_t rp_nknown_secs = VG_ARRAY_SIZE(rp_known_secs);

bool rp_sec_has(const sec_t *s, const char *ind) {
        size_t kl = strlen(s->s_key);
        if (s->s_kind == SEC_REGISTER)
                return rp_register_ind(ind);
        if (s->s_key[kl - 1] == '.')
                return !strncmp(ind, s->s_key, kl);
        return !strcmp(ind, s->s_key);
}

bool rp_known_ind(const char *ind) {
        for (size_t i = 0; i < VG_ARRAY_SIZE(rp_known_secs); i++)
                if (rp_sec_has(&rp_known_secs[i], ind))
                        return true;
        return false;
}

bool rp_any_ind(const rep_t *r, const sec_t *s) {
        for (size_t i = 0; i < r->rp_ninds; i++)
                if (rp_sec_has(s, r->rp_inds[i]))
                        return true;
        return false;
}

void rp_sec_anchor(const sec_t *s, char *buf, size_t size) {
        size_t kl = strlen(s->s_key);
        if (s->s_kind == SEC_REGISTER) {
                snprintf(buf, size, "register");
                return;
        }
        snprintf(buf, size, "ind-%.*s", (int)(s->s_key[kl - 1] == '.' ? kl - 1
                                                                      : kl),
                 s->s_key);
}

/* A row of Svenska palliativregistret (the register section draws them). */
bool rp_register_ind(const char *ind) {
        return !strcmp(ind, "register_coverage") || !strncmp(ind, "spr.", 4);
}
