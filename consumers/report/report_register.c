/*
 * report_register.c - the register section of `vigil report` (issue 12):
 * Svenska palliativregistret. Three parts:
 *
 *   coverage     register_coverage per month, Sverige and each region
 *                charted with the target line (70 %: the register's results
 *                may be used in open comparisons only above it), kommuner
 *                in a table;
 *   indicators   the spr.* values of the latest settled month per region
 *                and kommun against their targets (by default
 *                Socialstyrelsen's target levels of 2017), misses marked;
 *                a newer, preliminary month apart and never judged;
 *   unregistered the ACTIVE DEATH_NOT_REGISTERED alerts, per kommun.
 *
 * Every part says so when its data is absent (rules.register=off, or no
 * register feed yet): the section is always on the page.
 */
#include "report_model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The answers in the register's order (docs/EVENTS.md §3.5), then the
 * pressure ulcers; names Vigil does not know follow, sorted. */
static const struct {
        const char *ind, *label;
} spr_known[] = {
        {"spr.eol_conversation", N_("End-of-life conversation")},
        {"spr.pain_assessed", N_("Pain assessed")},
        {"spr.symptoms_assessed", N_("Other symptoms assessed")},
        {"spr.oral_health_assessed", N_("Oral health assessed")},
        {"spr.prn_opioid", N_("As-needed opioid")},
        {"spr.prn_anxiolytic", N_("As-needed anxiolytic")},
        {"spr.prn_antiemetic", N_("As-needed antiemetic")},
        {"spr.prn_antisecretory", N_("As-needed antisecretory")},
        {"spr.present_at_death", N_("Someone present at death")},
        {"spr.bereavement_offered", N_("Bereavement talk offered")},
        {"spr.pressure_ulcer_free",
         N_("Free of pressure ulcers (grade 2\u20134)")},
};

#define COVERAGE "register_coverage"

static const char *spr_label(const rep_t *r, const char *ind) {
        for (size_t i = 0; i < VG_ARRAY_SIZE(spr_known); i++)
                if (!strcmp(spr_known[i].ind, ind))
                        return rp_t(r, spr_known[i].label);
        return ind + 4;
}

/* Where a target comes from: the configuration, or Vigil's default (SPEC
 * §6.3: Socialstyrelsen's target levels of 2017 for spr.*). */
static const char *target_source(const rep_t *r, const char *ind,
                                 const vg_target_t *tg) {
        double t;
        int hib;
        if (!tg->tg_set)
                return rp_t(r, "no target");
        if (vg_conf_target(r->rp_conf, ind, &t, &hib) > 0)
                return rp_t(r, "configured (target.<indicator>)");
        if (!strcmp(ind, COVERAGE))
                return rp_t(r, "open comparisons");
        return rp_t(r, "Socialstyrelsen 2017");
}

static bool has_rows(const rep_t *r, const char *ind) {
        for (size_t p = 0; p < r->rp_np; p++)
                for (size_t a = 0; a < r->rp_nareas; a++)
                        if (rp_find_row(r, ind, r->rp_areas[a],
                                        r->rp_periods[p]))
                                return true;
        return false;
}

/* The spr.* indicators with values, in spr_known order, others after. */
static size_t spr_inds(const rep_t *r, const char **out) {
        size_t n = 0;
        for (size_t k = 0; k < VG_ARRAY_SIZE(spr_known); k++)
                for (size_t i = 0; i < r->rp_ninds; i++)
                        if (!strcmp(r->rp_inds[i], spr_known[k].ind))
                                out[n++] = r->rp_inds[i];
        for (size_t i = 0; i < r->rp_ninds; i++) {
                bool known = false;
                if (strncmp(r->rp_inds[i], "spr.", 4))
                        continue;
                for (size_t k = 0; k < VG_ARRAY_SIZE(spr_known); k++)
                        known |= !strcmp(r->rp_inds[i], spr_known[k].ind);
                if (!known)
                        out[n++] = r->rp_inds[i];
        }
        return n;
}

/* ------------------------------------------------------------------------
 * Coverage
 */

static void coverage(rep_t *r) {
        static const sec_t cov_en = {
                SEC_LINE, COVERAGE, N_("Register coverage"),
                N_("Share of deaths whose register deadline has passed that "
                   "have an entry in the register, by month of death."),
                N_("Registered"), N_("Deaths due")};
        sec_t cov = rp_sec_tr(r, &cov_en);
        vg_target_t tg = vg_agg_target(r->rp_conf, COVERAGE);
        char tt[32];

        rp_target_text(r, &tg, tt, sizeof(tt));
        PF(r, "<h3 id=\"register-coverage\">%s <code>" COVERAGE
              "</code></h3>\n<p class=\"what\">", rp_t(r, "Coverage"));
        E(r, cov.s_what);
        P(r, rp_t(r, " A late entry still counts."));
        P(r, "</p>\n<p class=\"note-70\" id=\"register-70\">");
        P(r, rp_t(r, "<b>Below 70&nbsp;% coverage the register's results "
                     "should not be used in open comparisons</b>: they may "
                     "be published only where more than 70&nbsp;% of the "
                     "deaths are registered. "));
        if (tg.tg_set) {
                P(r, rp_t(r, "The dashed line is the target "));
                E(r, tt);
                P(r, " (");
                E(r, target_source(r, COVERAGE, &tg));
                P(r, ").");
        }
        P(r, "</p>\n");
        if (!r->rp_np || !has_rows(r, COVERAGE)) {
                PF(r, "<p class=\"empty\" id=\"register-coverage-none\">%s"
                      "</p>\n",
                   rp_t(r, "No register data: no register_coverage values "
                           "in the inputs (rules.register=off, or no death "
                           "is due yet)."));
                return;
        }
        rp_line_body(r, &cov, COVERAGE);
}

/* ------------------------------------------------------------------------
 * Quality indicators
 */

/* One row of the spr table: the area's value of each indicator in period.
 * Counts the misses (complete values from enough cases, below the target)
 * and the uncertain values below the target. */
static void spr_row(rep_t *r, const char *const *inds, size_t ni,
                    const vg_target_t *tgs, const char *area,
                    const char *period, size_t *nmiss, size_t *nbelow) {
        P(r, "<tr data-area=\"");
        E(r, area);
        P(r, "\"><th class=\"l\" scope=\"row\">");
        rp_area_html(r, area, true);
        P(r, "</th>");
        for (size_t i = 0; i < ni; i++) {
                pt_t pt = rp_get_pt(r, inds[i], area, period);
                const vg_target_t *tg = &tgs[i];
                double v;
                bool miss, below;
                char val[16];
                if (!pt.set || pt.den <= 0) {
                        P(r, pt.hidden ? "<td>..</td>" : "<td></td>");
                        continue;
                }
                v = (double)pt.num / (double)pt.den;
                below = tg->tg_set && (tg->tg_higher_is_better
                                               ? v < tg->tg_target - 1e-12
                                               : v > tg->tg_target + 1e-12);
                /* judged on settled values only (SPEC §5.4) */
                miss = !pt.pre && vg_agg_breach(tg, pt.num, pt.den,
                                                r->rp_min_den);
                rp_pct(v, val, sizeof(val));
                P(r, "<td data-ind=\"");
                E(r, inds[i]);
                PF(r, "\" class=\"%s\"",
                   pt.pre ? "prelim"
                   : miss ? "miss"
                   : rp_pt_uncertain(r, &pt) ? "unc" : "");
                if (!pt.pre && !miss && below) {
                        P(r, " title=\"");
                        PF(r, rp_tf(r, "below the target, but on fewer than "
                                       "%lld cases: uncertain"),
                           (long long)r->rp_min_den);
                        P(r, "\"");
                        (*nbelow)++;
                }
                PF(r, ">%s<small>%lld/%lld</small>", val, (long long)pt.num,
                   (long long)pt.den);
                if (miss) {
                        PF(r, "<span class=\"mk\">%s</span>",
                           rp_t(r, "misses"));
                        (*nmiss)++;
                } else if (!pt.pre && below) {
                        PF(r, "<span class=\"mk-u\">%s</span>",
                           rp_t(r, "below"));
                }
                P(r, "</td>");
        }
        P(r, "</tr>");
}

/* The table head: indicator names, then their targets and the source. */
static void spr_head(rep_t *r, const char *const *inds, size_t ni,
                     const vg_target_t *tgs) {
        PF(r, "<thead><tr><th class=\"l\" scope=\"col\">%s</th>",
           rp_t(r, "Area"));
        for (size_t i = 0; i < ni; i++) {
                /* the indicator's name in the tooltip: the column is
                 * narrow */
                P(r, "<th class=\"spr\" scope=\"col\" data-ind=\"");
                E(r, inds[i]);
                P(r, "\" title=\"");
                E(r, inds[i]);
                P(r, "\">");
                E(r, spr_label(r, inds[i]));
                P(r, "</th>");
        }
        PF(r, "</tr><tr class=\"tgt\"><th class=\"l\" scope=\"row\">%s"
              "</th>", rp_t(r, "Target"));
        for (size_t i = 0; i < ni; i++) {
                char tt[32];
                rp_target_text(r, &tgs[i], tt, sizeof(tt));
                P(r, "<td data-ind=\"");
                E(r, inds[i]);
                if (tgs[i].tg_set)
                        PF(r, "\" data-target=\"%g\">%s", tgs[i].tg_target,
                           tt);
                else
                        P(r, "\">\u2013");
                P(r, "<small class=\"src\">");
                E(r, target_source(r, inds[i], &tgs[i]));
                P(r, "</small></td>");
        }
        P(r, "</tr></thead>");
}

/* The spr table of one month: Sverige and the regions, kommuner behind
 * <details>. pre: the month is not settled (nothing is judged). */
static void spr_table(rep_t *r, const char *const *inds, size_t ni,
                      const vg_target_t *tgs, const char *period, bool pre) {
        const char **ks = vg_calloc(r->rp_nareas + 1, sizeof(char *));
        size_t nk = 0, nmiss = 0, nbelow = 0;
        char per[16], cur[3] = "";
        bool any_top = false;

        rp_period_label(r, period, per, sizeof(per));
        PF(r, "<div class=\"scroll\"><table class=\"spr%s\" id=\"spr-%s\" "
              "data-period=\"%s\"><caption>",
           pre ? " prelim" : "", pre ? "prelim" : "latest", period);
        if (pre)
                PF(r, rp_tf(r, "Register quality indicators, %s <span "
                               "class=\"pm\">preliminary</span>: the month "
                               "is not settled yet, so no value is judged "
                               "against its target"), per);
        else
                PF(r, rp_tf(r, "Register quality indicators, %s: the latest "
                               "settled month; share of expected deaths with "
                               "an entry answering yes, and entries yes / "
                               "entries"), per);
        P(r, "</caption>");
        spr_head(r, inds, ni, tgs);
        P(r, "<tbody>");
        for (size_t a = 0; a < r->rp_nareas; a++) {
                const char *area = r->rp_areas[a];
                bool any = false;
                for (size_t i = 0; i < ni && !any; i++)
                        any = rp_find_row(r, inds[i], area, period) != NULL;
                if (!any)
                        continue;
                if (rp_area_level(area) == 2) {
                        ks[nk++] = area;
                        continue;
                }
                spr_row(r, inds, ni, tgs, area, period, &nmiss, &nbelow);
                any_top = true;
        }
        if (!any_top)
                PF(r, "<tr><td class=\"l empty\" colspan=\"%zu\">%s"
                      "</td></tr>", ni + 1,
                   rp_t(r, "No value for Sverige or a region."));
        P(r, "</tbody></table></div>\n");
        if (nk) {
                PF(r, "<details><summary>Kommuner (%zu), %s</summary>"
                      "<div class=\"scroll\"><table class=\"spr%s\" "
                      "id=\"spr-%s-kommuner\" data-period=\"%s\"><caption>",
                   nk, per, pre ? " prelim" : "", pre ? "prelim" : "latest",
                   period);
                PF(r, rp_tf(r, "Register quality indicators by kommun, %s"),
                   per);
                PF(r, "%s</caption>", pre ? rp_t(r, " (preliminary)") : "");
                spr_head(r, inds, ni, tgs);
                P(r, "<tbody>");
                for (size_t k = 0; k < nk; k++) {
                        if (strncmp(cur, ks[k], 2)) {
                                memcpy(cur, ks[k], 2);
                                PF(r, "<tr class=\"grp\"><th colspan=\"%zu\" "
                                      "scope=\"colgroup\">", ni + 1);
                                rp_area_html(r, cur, true);
                                P(r, "</th></tr>");
                        }
                        spr_row(r, inds, ni, tgs, ks[k], period, &nmiss,
                                &nbelow);
                }
                P(r, "</tbody></table></div></details>\n");
        }
        if (!pre) {
                PF(r, "<p class=\"note\" id=\"spr-summary\" "
                      "data-misses=\"%zu\">", nmiss);
                PF(r, nmiss == 1
                              ? rp_tf(r, "<b>%zu</b> value of %s misses the "
                                         "target (marked <span class=\"mk\">"
                                         "misses</span>); ")
                              : rp_tf(r, "<b>%zu</b> values of %s miss the "
                                         "target (marked <span class=\"mk\">"
                                         "misses</span>); "),
                   nmiss, per);
                PF(r, nbelow == 1
                              ? rp_tf(r, "%zu more is below it on fewer than "
                                         "%lld cases (uncertain, marked <span "
                                         "class=\"mk-u\">below</span>).")
                              : rp_tf(r, "%zu more are below it on fewer than "
                                         "%lld cases (uncertain, marked <span "
                                         "class=\"mk-u\">below</span>)."),
                   nbelow, (long long)r->rp_min_den);
                P(r, "</p>\n");
        }
        vg_free(ks);
}

static void quality(rep_t *r) {
        const char **inds = vg_calloc(r->rp_ninds + 1, sizeof(char *));
        size_t ni = spr_inds(r, inds);
        vg_target_t *tgs = vg_calloc(ni + 1, sizeof(*tgs));
        const char *done = NULL, *pre = NULL;

        PF(r, "<h3 id=\"register-spr\">%s <code>spr.*</code></h3>\n"
              "<p class=\"what\">", rp_t(r, "Quality indicators"));
        P(r, rp_t(r, "From the register's end-of-life questionnaire, "
                     "expected deaths only, by month of death: the share "
                     "answering yes (an unknown answer counts as not done). "
                     "Targets are Socialstyrelsen's target levels for "
                     "palliative care (2017) unless target.&lt;indicator&gt; "
                     "sets another; values from fewer than "));
        PF(r, rp_tf(r, "%lld cases are uncertain and not judged."),
           (long long)r->rp_min_den);
        P(r, "</p>\n");
        for (size_t i = 0; i < ni; i++)
                tgs[i] = vg_agg_target(r->rp_conf, inds[i]);
        /* the latest settled month of any spr.* value, and a newer month
         * that is not settled */
        for (size_t i = 0; i < r->rp_nrows; i++) {
                const row_t *w = &r->rp_rows[i];
                if (strncmp(w->r_ind, "spr.", 4))
                        continue;
                if (w->r_complete && (!done || strcmp(w->r_period, done) > 0))
                        done = w->r_period;
        }
        for (size_t i = 0; i < r->rp_nrows; i++) {
                const row_t *w = &r->rp_rows[i];
                if (strncmp(w->r_ind, "spr.", 4) || w->r_complete ||
                    (done && strcmp(w->r_period, done) <= 0))
                        continue;
                if (!pre || strcmp(w->r_period, pre) > 0)
                        pre = w->r_period;
        }
        if (!ni) {
                PF(r, "<p class=\"empty\" id=\"spr-none\">%s</p>\n",
                   rp_t(r, "No register data: the inputs have no spr.* "
                           "values (no register entries yet, or "
                           "rules.register=off)."));
        } else {
                if (done)
                        spr_table(r, inds, ni, tgs, done, false);
                else
                        PF(r, "<p class=\"empty\">%s</p>\n",
                           rp_t(r, "No settled month yet: every spr.* value "
                                   "is preliminary."));
                if (pre) {
                        char per[16];
                        rp_period_label(r, pre, per, sizeof(per));
                        PF(r, "<details class=\"spr-pre\"%s><summary>",
                           done ? "" : " open");
                        PF(r, rp_tf(r, "Newer month, preliminary: %s (not "
                                       "settled, not judged)"), per);
                        P(r, "</summary>\n");
                        spr_table(r, inds, ni, tgs, pre, true);
                        P(r, "</details>\n");
                }
        }
        vg_free(tgs);
        vg_free(inds);
}

/* ------------------------------------------------------------------------
 * Deaths not registered
 */

static int dnr_cmp(const void *pa, const void *pb) {
        const vg_alert_t *a = *(const vg_alert_t *const *)pa,
                         *b = *(const vg_alert_t *const *)pb;
        int c = strcmp(a->al_kommun ? a->al_kommun : "",
                       b->al_kommun ? b->al_kommun : "");
        int64_t ta = a->al_died_at.set ? a->al_died_at.v : 0,
                tb = b->al_died_at.set ? b->al_died_at.v : 0;
        if (c)
                return c;
        if (ta != tb)
                return ta < tb ? -1 : 1; /* longest overdue first */
        return strcmp(a->al_alert_id, b->al_alert_id);
}

/*
 * INTERNAL ONLY. This list names patients (by pseudonym) with the date and
 * place of their death. `vigil report` has no public variant yet: every
 * page it writes is an internal report. A public page (an option in
 * report.c, when it comes) must leave this list out - the coverage chart
 * and the spr table hold no patient and may stay.
 */
static void unregistered(rep_t *r) {
        const vg_alert_t **dn = vg_calloc(r->rp_nalerts + 1, sizeof(*dn));
        size_t n = 0, nk = 0;
        const char *cur = NULL;

        for (size_t i = 0; i < r->rp_nalerts; i++)
                if (r->rp_alerts[i].al_rule == VG_RULE_DEATH_NOT_REGISTERED)
                        dn[n++] = &r->rp_alerts[i];
        qsort(dn, n, sizeof(*dn), dnr_cmp);
        for (size_t i = 0; i < n; i++)
                if (!i || strcmp(dn[i]->al_kommun ? dn[i]->al_kommun : "",
                                 dn[i - 1]->al_kommun ? dn[i - 1]->al_kommun
                                                      : ""))
                        nk++;

        PF(r, "<h3 id=\"register-unregistered\">%s <code>DEATH_NOT_REGISTERED"
              "</code></h3>\n<p class=\"internal\">%s</p>\n<p class=\"what\" "
              "id=\"unregistered-count\" data-count=\"%zu\"><b>%zu</b> %s",
           rp_t(r, "Deaths not registered, per kommun"),
           rp_t(r, "<b>Internal report.</b> This list identifies patients by "
                   "pseudonym only; keep it out of anything published."),
           n, n, n == 1 ? rp_t(r, "death") : rp_t(r, "deaths"));
        PF(r, rp_tf(r, " past the register deadline without an entry (active "
                       "DEATH_NOT_REGISTERED alerts) in %zu %s."),
           nk, nk == 1 ? "kommun" : "kommuner");
        P(r, rp_t(r, " Grouped per kommun, the kommun of the death: an alert "
                     "has no care unit (the reporting unit, unit_id, is only "
                     "on register entries). Times are local ("));
        E(r, vg_tz_name(r->rp_tz));
        P(r, rp_t(r, "); the deadline is the instant the death became "
                     "overdue."));
        P(r, "</p>\n");
        if (!n) {
                PF(r, "<p class=\"empty\">%s</p>\n",
                   rp_t(r, "No active DEATH_NOT_REGISTERED alerts: every "
                           "death past its deadline is registered, or the "
                           "register rules are off."));
                vg_free(dn);
                return;
        }
        PF(r, "<div class=\"scroll\"><table id=\"unregistered\"><caption>%s"
              "</caption><thead><tr><th class=\"l\" scope=\"col\">%s</th>"
              "<th class=\"l\" scope=\"col\">%s</th>"
              "<th class=\"l\" scope=\"col\">%s</th><th class=\"l\" "
              "scope=\"col\">%s</th><th class=\"l\" scope=\"col\">"
              "%s</th></tr></thead><tbody>\n",
           rp_t(r, "Deaths not registered, per kommun, longest overdue "
                   "first"),
           rp_t(r, "Patient (pseudonym)"), rp_t(r, "Kommun"),
           rp_t(r, "Died"), rp_t(r, "Deadline"), rp_t(r, "Place of death"));
        for (size_t i = 0; i < n; i++) {
                const vg_alert_t *al = dn[i];
                const char *k = al->al_kommun ? al->al_kommun : "";
                char died[24], dl[24], pat[16];
                if (!cur || strcmp(cur, k)) {
                        size_t cnt = 0;
                        for (size_t j = i; j < n; j++)
                                cnt += !strcmp(dn[j]->al_kommun
                                                       ? dn[j]->al_kommun
                                                       : "", k);
                        cur = k;
                        P(r, "<tr class=\"grp\" data-kommun=\"");
                        E(r, k);
                        P(r, "\"><th colspan=\"5\" scope=\"colgroup\">");
                        if (*k && rp_valid_area(k))
                                rp_area_html(r, k, true);
                        else
                                P(r, rp_t(r, "No kommun"));
                        PF(r, " <span class=\"code\">\u2013 %zu %s"
                              "</span></th></tr>\n", cnt,
                           cnt == 1 ? rp_t(r, "death") : rp_t(r, "deaths"));
                }
                P(r, "<tr class=\"dnr\" data-kommun=\"");
                E(r, k);
                P(r, "\"><td class=\"l\"><code title=\"");
                E(r, al->al_patient_id ? al->al_patient_id : "");
                P(r, "\">");
                snprintf(pat, sizeof(pat), "%.12s",
                         al->al_patient_id ? al->al_patient_id : "\u2013");
                E(r, pat);
                if (al->al_patient_id && strlen(al->al_patient_id) > 12)
                        P(r, "\u2026");
                P(r, "</code></td><td class=\"l\">");
                if (*vg_area_name(k))
                        E(r, vg_area_name(k));
                else
                        E(r, k);
                rp_fmt_local(r, al->al_died_at.v, true, died, sizeof(died));
                rp_fmt_local(r, al->al_deadline.v, true, dl, sizeof(dl));
                PF(r, "</td><td class=\"l nw\">%s</td><td class=\"l nw\">"
                      "%s</td><td class=\"l\">",
                   al->al_died_at.set ? died : "?",
                   al->al_deadline.set ? dl : "?");
                E(r, al->al_place_of_death
                             ? rp_place_label(r, al->al_place_of_death)
                             : "\u2013");
                P(r, "</td></tr>\n");
        }
        P(r, "</tbody></table></div>\n");
        vg_free(dn);
}

void rp_sec_register(rep_t *r, const sec_t *s) {
        char id[32];
        rp_sec_anchor(s, id, sizeof(id));
        PF(r, "<section class=\"card ind reg\" id=\"%s\"><h2>", id);
        E(r, s->s_title);
        P(r, "<code>register_coverage, spr.*</code></h2><p class=\"what\">");
        E(r, s->s_what);
        P(r, "</p>\n");
        coverage(r);
        quality(r);
        if (!r->rp_public) /* a list of deaths: patient-level */
                unregistered(r);
        P(r, "</section>\n");
}
