/*
 * report_page.c - the page of `vigil report` around the sections: the
 * overview of key figures, the table of ACTIVE alerts, the document with
 * its head, style sheet (report.css), navigation and footer.
 */
#include "report_model.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------
 * Overview and alerts
 */

static const char *rule_label(const rep_t *r, int rule) {
        switch (rule) {
        case VG_RULE_READMISSION_30D:
                return rp_t(r, "Readmission within 30 days");
        case VG_RULE_SIP_OVERDUE:
                return rp_t(r, "SIP overdue after discharge");
        case VG_RULE_INDICATOR_BELOW_TARGET:
                return rp_t(r, "Indicator misses target");
        case VG_RULE_DEATH_NOT_REGISTERED:
                return rp_t(r, "Death not registered");
        default: return "";
        }
}

static const char *rule_kpi(const rep_t *r, int rule) {
        switch (rule) {
        case VG_RULE_READMISSION_30D: return rp_t(r, "readmission alerts");
        case VG_RULE_SIP_OVERDUE: return rp_t(r, "overdue SIP alerts");
        case VG_RULE_INDICATOR_BELOW_TARGET:
                return rp_t(r, "indicators below target");
        case VG_RULE_DEATH_NOT_REGISTERED:
                return rp_t(r, "deaths not registered");
        default: return rp_t(r, "other alerts");
        }
}

static bool ind_has_den(const rep_t *r, const char *ind) {
        for (size_t i = 0; i < r->rp_nrows; i++)
                if (!strcmp(r->rp_rows[i].r_ind, ind))
                        return r->rp_rows[i].r_has_den;
        return false;
}

static void overview(rep_t *r) {
        const char *focus = NULL;
        size_t byrule[8] = {0};
        int64_t deaths = 0;
        for (size_t a = 0; a < r->rp_nareas && !focus; a++)
                if (rp_charted(r, r->rp_areas[a]))
                        focus = r->rp_areas[a];
        for (size_t i = 0; i < r->rp_nalerts; i++)
                if (r->rp_alerts[i].al_rule >= 0 &&
                    r->rp_alerts[i].al_rule < (int)VG_ARRAY_SIZE(byrule))
                        byrule[r->rp_alerts[i].al_rule]++;
        for (size_t i = 0; focus && i < r->rp_nrows; i++)
                if (!strcmp(r->rp_rows[i].r_ind, "death_place.HOSPITAL") &&
                    !strcmp(r->rp_rows[i].r_area, focus))
                        deaths += r->rp_rows[i].r_den;

        P(r, "<section class=\"card\" id=\"overview\"><h2>");
        P(r, rp_t(r, "Overview"));
        P(r, "</h2>\n<div class=\"cards\">");
        if (r->rp_public) {
                /* No alerts, and no sums over months that a hidden month
                 * could be worked out from. */
                focus = NULL;
                PF(r, "<div class=\"kpi\"><b>%zu</b><span>", r->rp_nhidden);
                PF(r, rp_tf(r, "values hidden (fewer than %lld cases, or "
                               "revealing one)"),
                   (long long)r->rp_min_count);
                P(r, "</span></div>");
        } else
                PF(r, "<a class=\"kpi\" href=\"#alerts\" "
                      "style=\"text-decoration:none;color:inherit\"><b>%zu"
                      "</b><span>%s</span></a>",
                   r->rp_nalerts, rp_t(r, "active alerts"));
        for (int k = 0; k < (int)VG_ARRAY_SIZE(byrule); k++)
                if (byrule[k])
                        PF(r, "<div class=\"kpi\"><b>%zu</b><span>%s</span>"
                              "</div>", byrule[k], rule_kpi(r, k));
        if (focus && deaths) {
                PF(r, "<div class=\"kpi\"><b>%lld</b><span>%s",
                   (long long)deaths, rp_t(r, "deaths, "));
                rp_area_html(r, focus, false);
                P(r, "</span></div>");
        }
        if (r->rp_np) {
                PF(r, "<div class=\"kpi\"><b>%zu</b><span>", r->rp_np);
                PF(r, rp_tf(r, "months, %s to %s"), r->rp_periods[0],
                   r->rp_periods[r->rp_np - 1]);
                P(r, "</span></div>");
        }
        P(r, "</div>\n");
        if (!focus) {
                P(r, "<p class=\"empty\">");
                P(r, rp_t(r, "No indicator values in the selected areas and "
                             "months."));
                P(r, "</p></section>\n");
                return;
        }
        /* The headline figures are of settled months: a running month is
         * shown apart as preliminary and never judged (SPEC §5.4). */
        P(r, "<div class=\"scroll\"><table id=\"latest\"><caption>");
        P(r, rp_t(r, "Latest settled (complete) month of each indicator, "));
        rp_area_html(r, focus, true);
        P(r, rp_t(r, "; a newer month that is not settled yet is shown apart "
                     "as preliminary and not judged against the target"));
        PF(r, "</caption><thead><tr><th class=\"l\" scope=\"col\">%s</th>"
              "<th scope=\"col\">%s</th><th scope=\"col\">%s</th>"
              "<th scope=\"col\">%s</th><th scope=\"col\">%s</th>"
              "<th class=\"l\" scope=\"col\">%s</th><th class=\"l\" "
              "scope=\"col\">%s</th></tr></thead><tbody>",
           rp_t(r, "Indicator"), rp_t(r, "Month"), rp_t(r, "Value"),
           rp_t(r, "Cases"), rp_t(r, "Target"), rp_t(r, "Status"),
           rp_t(r, "Newer, preliminary"));
        for (size_t j = 0; j < rp_nknown_secs + r->rp_ninds; j++) {
                const char *ind;
                const sec_t *s = NULL;
                vg_target_t tg;
                pt_t pt = {0}, pp = {0};
                size_t last = r->rp_np, lpre = r->rp_np;
                char v[16], tt[32], per[16], id[96];
                if (j < rp_nknown_secs) {
                        /* SPEC order first */
                        s = &rp_known_secs[j];
                        ind = s->s_key;
                        if (s->s_kind != SEC_LINE)
                                continue;
                } else {
                        ind = r->rp_inds[j - rp_nknown_secs];
                        /* the register's indicators have one section but
                         * a headline each */
                        if ((rp_known_ind(ind) && !rp_register_ind(ind)) ||
                            !ind_has_den(r, ind))
                                continue;
                }
                for (size_t p = r->rp_np; p-- > 0;) {
                        pt_t q = rp_get_pt(r, ind, focus, r->rp_periods[p]);
                        if (q.set && !q.pre) {
                                pt = q;
                                last = p;
                                break;
                        }
                        if (q.set && lpre == r->rp_np) {
                                pp = q;
                                lpre = p;
                        }
                }
                if (last == r->rp_np && lpre == r->rp_np)
                        continue;
                tg = vg_agg_target(r->rp_conf, ind);
                rp_target_text(r, &tg, tt, sizeof(tt));
                P(r, "<tr data-ind=\"");
                E(r, ind);
                P(r, "\" data-period=\"");
                if (last < r->rp_np)
                        E(r, r->rp_periods[last]);
                P(r, "\"><th class=\"l\" scope=\"row\"><a href=\"#");
                if (s) {
                        rp_sec_anchor(s, id, sizeof(id));
                        E(r, id);
                } else if (rp_register_ind(ind)) {
                        P(r, "register");
                } else {
                        P(r, "ind-");
                        E(r, ind);
                }
                P(r, "\">");
                E(r, s ? rp_t(r, s->s_title) : ind);
                P(r, "</a></th>");
                if (last < r->rp_np) {
                        rp_pct((double)pt.num / (double)pt.den, v, sizeof(v));
                        rp_period_label(r, r->rp_periods[last], per,
                                        sizeof(per));
                        PF(r, "<td class=\"hm\">%s</td><td class=\"hv\">%s"
                              "</td><td>%lld/%lld</td>", per, v,
                           (long long)pt.num, (long long)pt.den);
                } else {
                        P(r, "<td class=\"hm\">\u2013</td><td class=\"hv\">"
                             "\u2013</td><td></td>");
                }
                PF(r, "<td>%s</td><td class=\"l\">", tt);
                if (last == r->rp_np) {
                        PF(r, "<span class=\"st-unc\">%s</span>",
                           rp_t(r, "no settled month yet"));
                } else if (pt.den < r->rp_min_den) {
                        P(r, "<span class=\"st-unc\">");
                        PF(r, rp_tf(r, "uncertain (fewer than %lld cases)"),
                           (long long)r->rp_min_den);
                        P(r, "</span>");
                } else if (!tg.tg_set) {
                        P(r, "\u2013");
                } else if (vg_agg_breach(&tg, pt.num, pt.den, r->rp_min_den)) {
                        PF(r, "<span class=\"st-miss\">%s</span>",
                           rp_t(r, "misses the target"));
                } else {
                        PF(r, "<span class=\"st-ok\">%s</span>",
                           rp_t(r, "meets the target"));
                }
                if (last < r->rp_np && pt.nohist)
                        PF(r, "<br><span class=\"st-hist\">%s</span>",
                           rp_t(r, "incomplete history"));
                P(r, "</td><td class=\"l\">");
                if (lpre < r->rp_np) {
                        rp_pct((double)pp.num / (double)pp.den, v, sizeof(v));
                        rp_period_label(r, r->rp_periods[lpre], per,
                                        sizeof(per));
                        PF(r, "<span class=\"prelim\" data-period=\"%s\">"
                              "%s: %s (%lld/%lld) <span class=\"pm\">"
                              "%s</span></span>",
                           r->rp_periods[lpre], per, v, (long long)pp.num,
                           (long long)pp.den, rp_t(r, "preliminary"));
                }
                P(r, "</td></tr>");
        }
        P(r, "</tbody></table></div></section>\n");
}

static void alert_details(rep_t *r, const vg_alert_t *al) {
        char a[24], b[24];
        switch (al->al_rule) {
        case VG_RULE_READMISSION_30D:
                rp_fmt_local(r, al->al_index_discharged_at.v, true, a, sizeof(a));
                rp_fmt_local(r, al->al_readmitted_at.v, true, b, sizeof(b));
                PF(r, rp_tf(r, "Readmitted <b>%lld %s</b> after discharge: "
                               "discharged <span class=\"nw\">%s</span>, "
                               "readmitted <span class=\"nw\">%s</span>"),
                   (long long)al->al_days_between.v,
                   al->al_days_between.v == 1 ? rp_t(r, "day")
                                              : rp_t(r, "days"),
                   al->al_index_discharged_at.set ? a : "?",
                   al->al_readmitted_at.set ? b : "?");
                PF(r, "<small class=\"ids\">%s ", rp_t(r, "stays"));
                E(r, al->al_index_stay_id ? al->al_index_stay_id : "?");
                P(r, " \u2192 ");
                E(r, al->al_readmission_stay_id ? al->al_readmission_stay_id
                                                : "?");
                P(r, "</small>");
                break;
        case VG_RULE_SIP_OVERDUE:
                rp_fmt_local(r, al->al_discharged_at.v, true, a, sizeof(a));
                rp_fmt_local(r, al->al_deadline.v, true, b, sizeof(b));
                PF(r, rp_tf(r, "No SIP by the deadline <b class=\"nw\">%s"
                               "</b>; discharged <span class=\"nw\">%s"
                               "</span>"),
                   al->al_deadline.set ? b : "?",
                   al->al_discharged_at.set ? a : "?");
                PF(r, "<small class=\"ids\">%s ", rp_t(r, "stay"));
                E(r, al->al_stay_id ? al->al_stay_id : "?");
                P(r, "</small>");
                break;
        case VG_RULE_INDICATOR_BELOW_TARGET:
                E(r, al->al_indicator ? al->al_indicator : "?");
                P(r, rp_t(r, " in "));
                if (al->al_area)
                        rp_area_html(r, al->al_area, true);
                P(r, ", ");
                E(r, al->al_period ? al->al_period : "?");
                if (al->al_value.set)
                        PF(r, ": %.1f%%", al->al_value.v * 100);
                if (al->al_numerator.set && al->al_denominator.set)
                        PF(r, rp_tf(r, " (%lld of %lld)"),
                           (long long)al->al_numerator.v,
                           (long long)al->al_denominator.v);
                if (al->al_target.set) {
                        vg_target_t tg = vg_agg_target(
                                r->rp_conf, al->al_indicator ? al->al_indicator
                                                             : "");
                        PF(r, rp_tf(r, ", target %s%g%%"),
                           !tg.tg_set ? ""
                           : tg.tg_higher_is_better ? "\u2265 " : "\u2264 ",
                           al->al_target.v * 100);
                }
                break;
        default:
                P(r, rp_t(r, "Anchor "));
                E(r, al->al_anchor);
        }
}

/* Region an alert counts under (vg_alert_region: from its kommun or area,
 * "SE" for national ones, "" for none: an area of another length is not
 * cut to a region's two characters), copied into buf. */
static const char *alert_region(const vg_alert_t *al, char buf[3]) {
        char tmp[3];
        const char *g = vg_alert_region(al, tmp);
        snprintf(buf, 3, "%s", strlen(g) == 2 ? g : "");
        return buf;
}

static void alerts_section(rep_t *r) {
        const char *regions[64];
        char rbuf[64][3], buf[3];
        size_t nreg = 0, byrule[8] = {0};
        size_t (*cnt)[64] = vg_calloc(8, sizeof(*cnt));

        for (size_t i = 0; i < r->rp_nalerts; i++) {
                const vg_alert_t *al = &r->rp_alerts[i];
                const char *reg = alert_region(al, buf);
                size_t g;
                int ru = al->al_rule;
                if (ru < 0 || ru >= (int)VG_ARRAY_SIZE(byrule))
                        continue;
                for (g = 0; g < nreg && strcmp(regions[g], reg); g++)
                        ;
                if (g == nreg && nreg < VG_ARRAY_SIZE(regions)) {
                        memcpy(rbuf[nreg], buf, sizeof(buf));
                        regions[nreg] = rbuf[nreg];
                        nreg++;
                }
                byrule[ru]++;
        }
        qsort(regions, nreg, sizeof(char *), rp_area_pcmp);
        for (size_t i = 0; i < r->rp_nalerts; i++) {
                const vg_alert_t *al = &r->rp_alerts[i];
                const char *reg = alert_region(al, buf);
                for (size_t g = 0; g < nreg; g++)
                        if (!strcmp(regions[g], reg) && al->al_rule >= 0 &&
                            al->al_rule < (int)VG_ARRAY_SIZE(byrule))
                                cnt[al->al_rule][g]++;
        }
        PF(r, "<section class=\"card\" id=\"alerts\"><h2>%s</h2>\n"
              "<p id=\"alert-count\" data-count=\"%zu\"><b>%zu</b> %s",
           rp_t(r, "Active alerts"), r->rp_nalerts, r->rp_nalerts,
           r->rp_nalerts == 1 ? rp_t(r, "active alert")
                              : rp_t(r, "active alerts"));
        PF(r, rp_tf(r, " (of %zu alerts read, deduplicated by alert id; the "
                       "last status of each counts). Times are local ("),
           r->rp_alerts_read);
        E(r, vg_tz_name(r->rp_tz));
        P(r, rp_t(r, "); patients appear by a shortened pseudonym."));
        P(r, "</p>\n");
        if (!r->rp_nalerts) {
                PF(r, "<p class=\"empty\">%s</p></section>\n",
                   rp_t(r, "No active alerts."));
                vg_free(cnt);
                return;
        }
        /* counts by rule and region */
        PF(r, "<div class=\"scroll\"><table id=\"alert-counts\"><caption>%s"
              "</caption><thead><tr><th class=\"l\" scope=\"col\">%s</th>",
           rp_t(r, "Active alerts by rule and region"), rp_t(r, "Rule"));
        for (size_t g = 0; g < nreg; g++) {
                P(r, "<th scope=\"col\">");
                if (*regions[g])
                        rp_area_html(r, regions[g], false);
                else
                        P(r, rp_t(r, "No region"));
                P(r, "</th>");
        }
        PF(r, "<th scope=\"col\">%s</th></tr></thead><tbody>",
           rp_t(r, "Total"));
        for (int k = 0; k < (int)VG_ARRAY_SIZE(byrule); k++) {
                if (!byrule[k])
                        continue;
                PF(r, "<tr><th class=\"l\" scope=\"row\">%s <span "
                      "class=\"code\">%s</span></th>",
                   rule_label(r, k), vg_enum_str(&vg_enum_rule, k));
                for (size_t g = 0; g < nreg; g++)
                        PF(r, "<td>%zu</td>", cnt[k][g]);
                PF(r, "<td><b>%zu</b></td></tr>", byrule[k]);
        }
        P(r, "</tbody></table></div>\n");
        vg_free(cnt);

        PF(r, "<div class=\"scroll\"><table id=\"alert-list\"><caption>%s"
              "</caption><thead><tr><th class=\"l\" scope=\"col\">%s</th>"
              "<th class=\"l\" scope=\"col\">%s</th><th class=\"l\" "
              "scope=\"col\">%s</th><th class=\"l\" scope=\"col\">%s</th>"
              "<th class=\"l\" scope=\"col\">%s</th></tr></thead><tbody>\n",
           rp_t(r, "Active alerts, newest first within each rule"),
           rp_t(r, "Rule"), rp_t(r, "Kommun"), rp_t(r, "Patient"),
           rp_t(r, "Date"), rp_t(r, "Details"));
        for (size_t i = 0; i < r->rp_nalerts; i++) {
                const vg_alert_t *al = &r->rp_alerts[i];
                char d[24];
                PF(r, "<tr><td class=\"l\"><span class=\"rule r%d\">",
                   al->al_rule & 3);
                E(r, vg_enum_str(&vg_enum_rule, al->al_rule));
                P(r, "</span></td><td class=\"l\">");
                /* where it is filed (vg_alert_place): an area alert by
                 * its area, whatever kommun a record names */
                const char *place = vg_alert_place(al);
                if (*place && al->al_rule == VG_RULE_INDICATOR_BELOW_TARGET) {
                        rp_area_html(r, place, true);
                } else if (*place) {
                        E(r, place);
                        if (*vg_area_name(place)) {
                                P(r, " ");
                                E(r, vg_area_name(place));
                        }
                } else if (al->al_area) {
                        rp_area_html(r, al->al_area, true);
                } else if (al->al_region) {
                        rp_area_html(r, al->al_region, true);
                }
                P(r, "</td><td class=\"l\"><code>");
                if (al->al_patient_id) {
                        char pat[16];
                        snprintf(pat, sizeof(pat), "%.8s", al->al_patient_id);
                        E(r, pat);
                        if (strlen(al->al_patient_id) > 8)
                                P(r, "\u2026");
                } else {
                        P(r, "\u2013");
                }
                P(r, "</code></td><td class=\"l\">");
                if (al->al_rule == VG_RULE_INDICATOR_BELOW_TARGET)
                        E(r, al->al_period ? al->al_period : "");
                else {
                        rp_fmt_local(r, rp_alert_when(al), false, d, sizeof(d));
                        E(r, d);
                }
                P(r, "</td><td class=\"wrap\">");
                alert_details(r, al);
                P(r, "</td></tr>\n");
        }
        P(r, "</tbody></table></div></section>\n");
}

bool rp_stop(rep_t *r) {
        if (!r->rp_stopped && r->rp_gone && r->rp_gone(r->rp_gone_arg))
                r->rp_stopped = true;
        return r->rp_stopped;
}

void rp_page(rep_t *r) {
        char now[24], iso[VG_TIME_BUFSZ];
        int64_t t = vg_now_ms();
        rp_fmt_local(r, t, true, now, sizeof(now));
        vg_time_format(t, iso);

        P(r, "<!DOCTYPE html>\n<html lang=\"");
        P(r, r->rp_lang);
        P(r, "\">\n<head>\n"
             "<meta charset=\"utf-8\">\n"
             "<meta name=\"viewport\" content=\"width=device-width, "
             "initial-scale=1\">\n"
             "<meta http-equiv=\"Content-Security-Policy\" "
             "content=\"default-src 'none'; style-src 'unsafe-inline'\">\n"
             "<meta name=\"generator\" content=\"vigil " VIGIL_VERSION
             "\">\n<title>");
        E(r, r->rp_title);
        PF(r, "</title>\n<style>\n%s</style>\n</head>\n<body>\n", vg_data_report_css);

        P(r, "<header class=\"top\"><h1>");
        E(r, r->rp_title);
        PF(r, "</h1><dl class=\"meta\"><div><dt>%s</dt><dd><time "
              "datetime=\"", rp_t(r, "Generated"));
        E(r, iso);
        P(r, "\">");
        E(r, now);
        P(r, " ");
        E(r, vg_tz_name(r->rp_tz));
        PF(r, "</time></dd></div><div><dt>%s</dt><dd>",
           rp_t(r, "Indicators"));
        E(r, r->rp_src_ind);
        PF(r, "</dd></div><div><dt>%s</dt><dd>", rp_t(r, "Alerts"));
        E(r, r->rp_src_al);
        PF(r, "</dd></div><div><dt>%s</dt><dd>", rp_t(r, "Areas"));
        if (!r->rp_nsel)
                P(r, rp_t(r, "all"));
        for (int i = 0; i < r->rp_nsel; i++) {
                char a[128];
                rp_area_text(r, r->rp_sel[i], a, sizeof(a));
                if (i)
                        P(r, ", ");
                E(r, a);
        }
        PF(r, "</dd></div><div><dt>%s</dt><dd>", rp_t(r, "Months"));
        if (r->rp_np)
                PF(r, "%s \u2013 %s", r->rp_periods[0],
                   r->rp_periods[r->rp_np - 1]);
        else
                P(r, rp_t(r, "none"));
        PF(r, "</dd></div><div><dt>%s</dt><dd>",
           rp_t(r, "Uncertain below"));
        PF(r, rp_tf(r, "%lld cases"), (long long)r->rp_min_den);
        P(r, "</dd></div></dl></header>\n");

        /* navigation */
        PF(r, "<nav aria-label=\"%s\"><a href=\"#overview\">%s</a>",
           rp_t(r, "Sections"), rp_t(r, "Overview"));
        for (size_t k = 0; k < rp_nknown_secs; k++) {
                char id[96];
                /* the register's section is always there: it lists the
                 * deaths not registered, or says there is no data */
                if (rp_known_secs[k].s_kind != SEC_REGISTER &&
                    (!r->rp_np || !rp_any_ind(r, &rp_known_secs[k])))
                        continue;
                rp_sec_anchor(&rp_known_secs[k], id, sizeof(id));
                P(r, "<a href=\"#");
                E(r, id);
                P(r, "\">");
                E(r, rp_t(r, rp_known_secs[k].s_title));
                P(r, "</a>");
        }
        for (size_t i = 0; r->rp_np && i < r->rp_ninds; i++) {
                if (rp_known_ind(r->rp_inds[i]))
                        continue;
                P(r, "<a href=\"#ind-");
                E(r, r->rp_inds[i]);
                P(r, "\">");
                E(r, r->rp_inds[i]);
                P(r, "</a>");
        }
        if (!r->rp_public)
                PF(r, "<a href=\"#alerts\">%s</a>", rp_t(r, "Active alerts"));
        P(r, "</nav>\n<main>\n");
        if (r->rp_public) {
                P(r, "<p class=\"public\" role=\"note\">");
                PF(r, rp_tf(r, "<b>Public version.</b> Values with a count "
                               "from 1 to %lld (publish.min_count \u2212 1), "
                               "and values from which one of them could be "
                               "worked out by subtraction, are shown as "
                               "<b>..</b> and are not drawn. The page holds "
                               "no patient-level data."),
                   (long long)r->rp_min_count - 1);
                P(r, "</p>\n");
        }

        overview(r);
        for (size_t k = 0; k < rp_nknown_secs; k++) {
                sec_t s = rp_sec_tr(r, &rp_known_secs[k]);
                if (rp_stop(r))
                        return;
                if (s.s_kind == SEC_REGISTER)
                        rp_sec_register(r, &s);
                else if (!r->rp_np || !rp_any_ind(r, &s))
                        continue;
                else if (s.s_kind == SEC_LINE)
                        rp_sec_line(r, &s, s.s_key);
                else if (s.s_kind == SEC_PLACE)
                        rp_sec_place(r, &s);
                else
                        rp_sec_counts(r, &s, NULL);
        }
        /* indicators this version does not know: one section each (its
         * title is its name) */
        for (size_t i = 0; r->rp_np && i < r->rp_ninds; i++) {
                const char *ind = r->rp_inds[i];
                sec_t s = {SEC_LINE, ind, ind, N_("Value per month."),
                           N_("Numerator"), N_("Denominator")};
                if (rp_known_ind(ind))
                        continue;
                if (rp_stop(r))
                        return;
                if (ind_has_den(r, ind)) {
                        s = rp_sec_tr(r, &s);
                        rp_sec_line(r, &s, ind);
                } else {
                        s.s_kind = SEC_COUNT;
                        s.s_what = N_("Count per month.");
                        s.s_num = N_("Count");
                        s = rp_sec_tr(r, &s);
                        rp_sec_counts(r, &s, ind);
                }
        }
        if (rp_stop(r))
                return;
        if (!r->rp_public)
                alerts_section(r);
        P(r, "</main>\n<footer>");
        PF(r, rp_tf(r, "Generated by vigil %s (vigil report). Values with "
                       "fewer than %lld cases (aggregate.min_denominator) are "
                       "shown but marked uncertain; values of months not "
                       "settled yet (complete = false) are preliminary, drawn "
                       "hollow and never judged against a target; shaded "
                       "months rest on history before the first event Vigil "
                       "has (history_complete = false); targets come from the "
                       "target.&lt;indicator&gt; configuration, by default for "
                       "the register Socialstyrelsen's target levels (2017). "
                       "This page loads no external resources."),
           VIGIL_VERSION, (long long)r->rp_min_den);
        P(r, "</footer>\n</body>\n</html>\n");
}
