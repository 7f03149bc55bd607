/*
 * report_sections.c - the sections of `vigil report` drawn as lines, one
 * per indicator: the legend, a line chart per area with its description
 * and data table, the kommun table, the funnel plot (report_funnel.c);
 * and the parts every section uses (heading, legend status, history note,
 * month heads, the areas charted, the kommuner and their region rows).
 * The sections drawn as bars are in report_bars.c.
 */
#include "report_model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Legend entries for preliminary values and incomplete history. */
void rp_legend_status(rep_t *r, bool pre, bool nohist, bool bars) {
        if (pre) {
                PF(r, "<span class=\"lg-pre\"><i class=\"sw %s\"></i>",
                   bars ? "pb" : "pr");
                PF(r, rp_tf(r, "%s: preliminary, the month is not settled "
                               "yet"),
                   bars ? rp_t(r, "faint bar, prel.") : rp_t(r, "hollow"));
                P(r, "</span>");
        }
        if (nohist)
                PF(r, "<span class=\"lg-hist\"><i class=\"sw hs\"></i>%s"
                      "</span>", rp_t(r, "shaded: incomplete history"));
}

/* A note under the legend when some month rests on incomplete history. */
void rp_hist_note(rep_t *r, bool nohist) {
        char ds[24];
        if (!nohist)
                return;
        rp_data_since_text(r, ds, sizeof(ds));
        P(r, "<p class=\"note hist-note\">");
        P(r, rp_t(r, "Shaded months rest on incomplete history: the "
                     "indicator looks back before "));
        if (*ds) {
                P(r, "<b>");
                E(r, ds);
                P(r, "</b>, ");
        }
        P(r, rp_t(r, "the first event Vigil has (data since), so cases "
                     "before it are missing from these values."));
        P(r, "</p>\n");
}

/* A month's column head; preliminary ones say so. */
void rp_period_th(rep_t *r, size_t p, bool pre) {
        char per[16];
        rp_period_label(r, r->rp_periods[p], per, sizeof(per));
        PF(r, "<th scope=\"col\"%s>%s%s%s%s</th>",
           pre ? " class=\"prelim\"" : "", per,
           pre ? "<span class=\"pm\">" : "",
           pre ? rp_t(r, "preliminary") : "", pre ? "</span>" : "");
}

/* Where an indicator's target comes from (issue 13): Socialstyrelsen's
 * target levels of 2017 for the register's (SPEC §6.3, unless configured),
 * the region's own choice (target.<indicator>) otherwise. */
static const char *target_from(const rep_t *r, const char *ind) {
        double t;
        int hib;
        if (rp_register_ind(ind) && vg_conf_target(r->rp_conf, ind, &t, &hib) <= 0)
                return !strcmp(ind, "register_coverage")
                               ? rp_t(r, "open comparisons")
                               : rp_t(r, "Socialstyrelsen 2017");
        return rp_t(r, "the region's own choice (target.<indicator>)");
}

static void legend_line(rep_t *r, const char *ind, const vg_target_t *tg,
                        bool ref, bool clipped, bool pre, bool nohist) {
        char tt[32];
        PF(r, "<div class=\"legend\"><span><i class=\"sw ln\"></i>%s</span>",
           rp_t(r, "value per month"));
        if (ref)
                PF(r, "<span><i class=\"sw rf\"></i>%s</span>",
                   rp_t(r, "Sverige, for comparison"));
        if (tg->tg_set) {
                rp_target_text(r, tg, tt, sizeof(tt));
                P(r, "<span><i class=\"sw tg\"></i>");
                PF(r, rp_tf(r, "target %s"), tt);
                PF(r, " (%s)", target_from(r, ind));
                PF(r, "</span><span><i class=\"sw ms\"></i>%s</span>",
                   rp_t(r, "misses the target"));
        }
        P(r, "<span><i class=\"sw un\"></i>");
        PF(r, rp_tf(r, "pale: uncertain, fewer than %lld cases"),
           (long long)r->rp_min_den);
        P(r, "</span>");
        if (clipped)
                PF(r, "<span><svg class=\"sw\" viewBox=\"0 0 12 12\" "
                      "aria-hidden=\"true\"><path d=\"M1.5 10.5 L6 1.5 "
                      "L10.5 10.5 Z\" fill=\"#fff\" stroke=\"" C_LINE "\" "
                      "stroke-width=\"1.6\"/></svg>%s</span>",
                   rp_t(r, "value from very few cases, above the scale (see "
                           "the data table)"));
        rp_legend_status(r, pre, nohist, false);
        P(r, "</div>\n");
        rp_hist_note(r, nohist);
}

/* Has area a value of any of the ni indicators? */
static bool area_has(const rep_t *r, const char *const *inds, size_t ni,
                     const char *area) {
        for (size_t i = 0; i < ni; i++)
                for (size_t p = 0; p < r->rp_np; p++)
                        if (rp_find_row(r, inds[i], area, r->rp_periods[p]))
                                return true;
        return false;
}

/* Areas that get charts of the ni indicators, in order. */
size_t rp_chart_areas(const rep_t *r, const char *const *inds, size_t ni,
                      const char **out) {
        size_t n = 0;
        for (size_t a = 0; a < r->rp_nareas; a++)
                if (rp_charted(r, r->rp_areas[a]) &&
                    area_has(r, inds, ni, r->rp_areas[a]))
                        out[n++] = r->rp_areas[a];
        return n;
}

static void line_pts(const rep_t *r, const char *ind, const char *area,
                     pt_t *pts) {
        for (size_t p = 0; p < r->rp_np; p++)
                pts[p] = rp_get_pt(r, ind, area, r->rp_periods[p]);
}

static void line_desc(rep_t *r, const sec_t *s, const char *ind,
                      const char *aname, const line_t *l, char *buf,
                      size_t size) {
        size_t last = r->rp_np, nunc = 0, nmiss = 0, npts = 0, npre = 0,
               nhist = 0;
        char tt[32], v[16];
        int off;
        for (size_t p = 0; p < r->rp_np; p++) {
                if (!l->l_pts[p].set)
                        continue;
                npts++;
                npre += l->l_pts[p].pre;
                nhist += l->l_pts[p].nohist;
                if (!l->l_pts[p].pre)
                        last = p;
                nunc += rp_pt_uncertain(r, &l->l_pts[p]);
                nmiss += rp_pt_missed(r, l, &l->l_pts[p]) &&
                         !rp_pt_uncertain(r, &l->l_pts[p]);
        }
        rp_target_text(r, &l->l_tg, tt, sizeof(tt));
        off = snprintf(buf, size,
                       rp_tf(r, "Line chart of %s (%s), %s, per month from "
                                "%s to %s: %zu months with data"),
                       s->s_title, ind, aname, r->rp_periods[0],
                       r->rp_periods[r->rp_np - 1], npts);
        if (last < r->rp_np && off > 0 && (size_t)off < size) {
                const pt_t *pt = &l->l_pts[last];
                rp_pct((double)pt->num / (double)pt->den, v, sizeof(v));
                off += snprintf(buf + off, size - (size_t)off,
                                rp_tf(r, "; latest settled %s: %s (%lld of "
                                         "%lld)"),
                                r->rp_periods[last], v, (long long)pt->num,
                                (long long)pt->den);
        }
        if (off > 0 && (size_t)off < size && l->l_tg.tg_set)
                off += snprintf(buf + off, size - (size_t)off,
                                rp_tf(r, ". Target %s, missed in %zu months"),
                                tt, nmiss);
        if (off > 0 && (size_t)off < size)
                off += snprintf(buf + off, size - (size_t)off,
                                rp_tf(r, ". %zu months have fewer than %lld "
                                         "cases (uncertain)."),
                                nunc, (long long)r->rp_min_den);
        if (off > 0 && (size_t)off < size && npre)
                off += snprintf(buf + off, size - (size_t)off,
                                npre == 1
                                        ? rp_tf(r, " %zu month is preliminary "
                                                   "(not settled yet, drawn "
                                                   "hollow).")
                                        : rp_tf(r, " %zu months are "
                                                   "preliminary (not settled "
                                                   "yet, drawn hollow)."),
                                npre);
        if (off > 0 && (size_t)off < size && nhist)
                snprintf(buf + off, size - (size_t)off,
                         nhist == 1
                                 ? rp_tf(r, " %zu month rests on incomplete "
                                            "history (shaded).")
                                 : rp_tf(r, " %zu months rest on incomplete "
                                            "history (shaded)."),
                         nhist);
}

static void line_table(rep_t *r, const sec_t *s, const line_t *l,
                       const char *aname) {
        PF(r, "<details><summary>%s</summary><div class=\"scroll\">"
              "<table><caption>", rp_t(r, "Data table"));
        E(r, s->s_title);
        P(r, ", ");
        E(r, aname);
        PF(r, "</caption><thead><tr><th class=\"l\" scope=\"col\">%s</th>"
              "<th scope=\"col\">%s</th><th scope=\"col\">%s</th>"
              "<th scope=\"col\">%s</th><th class=\"l\" scope=\"col\">"
              "%s</th></tr></thead><tbody>", rp_t(r, "Month"), s->s_num,
           s->s_den, rp_t(r, "Value"), rp_t(r, "Note"));
        for (size_t p = 0; p < r->rp_np; p++) {
                const pt_t *pt = &l->l_pts[p];
                char v[16], per[16];
                bool unc, miss;
                if (pt->hidden) {
                        rp_period_label(r, r->rp_periods[p], per, sizeof(per));
                        PF(r, "<tr><th class=\"l\" scope=\"row\">%s</th>"
                              "<td>..</td><td>..</td><td>..</td>"
                              "<td class=\"l\">%s</td></tr>",
                           per, rp_t(r, "hidden (public)"));
                        continue;
                }
                if (!pt->set)
                        continue;
                unc = rp_pt_uncertain(r, pt);
                miss = rp_pt_missed(r, l, pt);
                rp_pct((double)pt->num / (double)pt->den, v, sizeof(v));
                rp_period_label(r, r->rp_periods[p], per, sizeof(per));
                PF(r, "<tr%s><th class=\"l\" scope=\"row\">%s</th>"
                      "<td>%lld</td><td>%lld</td><td class=\"%s\">%s</td>"
                      "<td class=\"l\">%s%s%s%s%s%s%s</td></tr>",
                   pt->pre ? " class=\"prelim\"" : "", per,
                   (long long)pt->num, (long long)pt->den,
                   unc ? "unc" : miss ? "miss" : "", v,
                   pt->pre ? "<span class=\"pm\">" : "",
                   pt->pre ? rp_t(r, "preliminary") : "",
                   pt->pre ? "</span>" : "",
                   pt->pre && (unc || miss || pt->nohist) ? "; " : "",
                   unc ? rp_t(r, "uncertain (few cases)")
                       : miss ? rp_t(r, "misses the target") : "",
                   (unc || miss) && pt->nohist ? "; " : "",
                   pt->nohist ? rp_t(r, "incomplete history") : "");
        }
        P(r, "</tbody></table></div></details>\n");
}

/* Kommuner (in scope) with a value of any of the ni indicators. */
size_t rp_kommuner(const rep_t *r, const char *const *inds, size_t ni,
                   const char **out) {
        size_t n = 0;
        for (size_t a = 0; a < r->rp_nareas; a++)
                if (rp_area_level(r->rp_areas[a]) == 2 &&
                    area_has(r, inds, ni, r->rp_areas[a]))
                        out[n++] = r->rp_areas[a];
        return n;
}

/* A region header row when the region changes. */
void rp_region_row(rep_t *r, const char *kommun, char *cur, int cols) {
        if (!strncmp(cur, kommun, 2))
                return;
        memcpy(cur, kommun, 2);
        cur[2] = '\0';
        PF(r, "<tr class=\"grp\"><th colspan=\"%d\" scope=\"colgroup\">", cols);
        rp_area_html(r, cur, true);
        P(r, "</th></tr>");
}

static void kommun_line_table(rep_t *r, const sec_t *s, const char *ind,
                              const line_t *proto) {
        const char **ks = vg_calloc(r->rp_nareas + 1, sizeof(char *));
        size_t nk = rp_kommuner(r, &ind, 1, ks);
        char cur[3] = "";
        if (!nk) {
                vg_free(ks);
                return;
        }
        P(r, "<details><summary>");
        PF(r, rp_tf(r, "Kommuner (%zu): value per month"), nk);
        P(r, "</summary><div class=\"scroll\"><table><caption>");
        E(r, s->s_title);
        PF(r, rp_tf(r, " by kommun; each cell is the value and %s / %s"),
           s->s_num, s->s_den);
        PF(r, "</caption><thead><tr><th class=\"l\" scope=\"col\">%s</th>",
           rp_t(r, "Kommun"));
        for (size_t p = 0; p < r->rp_np; p++) {
                /* completeness is per indicator and month (SPEC §6.1) */
                bool pre = false;
                for (size_t k = 0; k < nk && !pre; k++)
                        pre = rp_get_pt(r, ind, ks[k], r->rp_periods[p]).pre;
                rp_period_th(r, p, pre);
        }
        P(r, "</tr></thead><tbody>");
        for (size_t k = 0; k < nk; k++) {
                rp_region_row(r, ks[k], cur, (int)r->rp_np + 1);
                P(r, "<tr><th class=\"l\" scope=\"row\">");
                rp_area_html(r, ks[k], true);
                P(r, "</th>");
                for (size_t p = 0; p < r->rp_np; p++) {
                        pt_t pt = rp_get_pt(r, ind, ks[k], r->rp_periods[p]);
                        char v[16];
                        if (!pt.set) {
                                P(r, pt.hidden ? "<td>..</td>"
                                               : "<td></td>");
                                continue;
                        }
                        rp_pct((double)pt.num / (double)pt.den, v, sizeof(v));
                        PF(r, "<td class=\"%s\">%s<small>%lld/%lld</small>"
                              "</td>",
                           pt.pre ? "prelim"
                           : rp_pt_uncertain(r, &pt) ? "unc"
                           : rp_pt_missed(r, proto, &pt) ? "miss" : "",
                           v, (long long)pt.num, (long long)pt.den);
                }
                P(r, "</tr>");
        }
        P(r, "</tbody></table></div></details>\n");
        vg_free(ks);
}

void rp_section_head(rep_t *r, const sec_t *s, const char *code) {
        char id[96];
        rp_sec_anchor(s, id, sizeof(id));
        P(r, "<section class=\"card ind\" id=\"");
        E(r, id);
        P(r, "\"><h2>");
        E(r, s->s_title);
        P(r, "<code>");
        E(r, code);
        P(r, "</code></h2><p class=\"what\">");
        E(r, s->s_what);
        P(r, "</p>\n");
}

void rp_sec_line(rep_t *r, const sec_t *s, const char *ind) {
        rp_section_head(r, s, ind);
        rp_line_body(r, s, ind);
        P(r, "</section>\n");
}

/* The 12 months up to month `end` (its label per) summed: a steadier
 * figure for a small kommun than one month (SPEC §6.2 sums). With
 * --public, a window holding a hidden month is shown as "..". */
static void rolling_12(rep_t *r, const pt_t *pts, size_t end,
                       const char *per) {
        int y, m, from;
        int64_t num = 0, den = 0;
        size_t months = 0;
        bool hidden = false;
        char first[24], v[16];
        if (sscanf(r->rp_periods[end], "%4d-%2d", &y, &m) != 2)
                return;
        from = y * 12 + (m - 1) - 11;
        snprintf(first, sizeof(first), "%04d-%02d", from / 12, from % 12 + 1);
        for (size_t p = 0; p <= end; p++) {
                if (strcmp(r->rp_periods[p], first) < 0)
                        continue;
                hidden |= pts[p].hidden;
                if (!pts[p].set)
                        continue;
                num += pts[p].num;
                den += pts[p].den;
                months++;
        }
        if (months < 2 || den <= 0)
                return; /* one month: the figure above */
        if (hidden) {
                PF(r, rp_tf(r, "<span class=\"sub\">12 months to %s: ..</span>"),
                   per);
                return;
        }
        rp_pct((double)num / (double)den, v, sizeof(v));
        PF(r, rp_tf(r, "<span class=\"sub\">12 months to %s: %s (%lld/%lld)"
                       "</span>"),
           per, v, (long long)num, (long long)den);
}

/* A line section's body: legend, a chart per area, the kommun table. */
void rp_line_body(rep_t *r, const sec_t *s, const char *ind) {
        const char **areas = vg_calloc(r->rp_nareas + 1, sizeof(char *));
        size_t na = rp_chart_areas(r, &ind, 1, areas);
        pt_t *pts = vg_calloc(r->rp_np + 1, sizeof(pt_t));
        pt_t *ref = vg_calloc(r->rp_np + 1, sizeof(pt_t));
        line_t l;
        double vmax = 0, vmax_all = 0;
        bool have_se = false, any_ref = false, any_fit = false,
             any_pre = false, any_hist = false;

        l.l_tg = vg_agg_target(r->rp_conf, ind);
        /* One y-scale for every chart of the indicator. It fits every value
         * but those from very few cases (under a quarter of
         * min_denominator): a 2-of-2 month would flatten everything else.
         * Those above the scale are marked at the top edge (their numbers
         * are in the tooltips and data tables). */
        for (size_t i = 0; i < r->rp_nrows; i++) {
                const row_t *w = &r->rp_rows[i];
                double v;
                if (strcmp(w->r_ind, ind) || !w->r_has_den ||
                    (!rp_charted(r, w->r_area) && strcmp(w->r_area, "SE")))
                        continue;
                v = (double)w->r_num / (double)w->r_den;
                any_pre |= !w->r_complete;
                any_hist |= !w->r_history;
                if (v > vmax_all)
                        vmax_all = v;
                if (w->r_den * 4 >= r->rp_min_den) {
                        any_fit = true;
                        if (v > vmax)
                                vmax = v;
                }
        }
        if (!any_fit)
                vmax = vmax_all;
        if (l.l_tg.tg_set) {
                /* room above the target line for its label */
                double t = l.l_tg.tg_target * 1.2;
                if (t > 1.0 && l.l_tg.tg_target <= 1.0)
                        t = 1.0;
                if (t > vmax)
                        vmax = t;
        }
        rp_ratio_scale(vmax, &l.l_ymax, &l.l_step);
        line_pts(r, ind, "SE", ref);
        for (size_t p = 0; p < r->rp_np; p++)
                have_se |= ref[p].set;
        for (size_t a = 0; a < na; a++)
                any_ref |= have_se && strcmp(areas[a], "SE");

        legend_line(r, ind, &l.l_tg, any_ref, vmax_all > l.l_ymax + 1e-9, any_pre,
                    any_hist);
        P(r, "<div class=\"grid\">\n");
        for (size_t a = 0; a < na; a++) {
                char aname[128], title[256], desc[1024];
                size_t last = r->rp_np, lpre = r->rp_np;
                line_pts(r, ind, areas[a], pts);
                l.l_pts = pts;
                l.l_ref = have_se && strcmp(areas[a], "SE") ? ref : NULL;
                rp_area_text(r, areas[a], aname, sizeof(aname));
                snprintf(title, sizeof(title), "%s \u2013 %s", s->s_title,
                         aname);
                line_desc(r, s, ind, aname, &l, desc, sizeof(desc));
                P(r, "<figure><figcaption>");
                rp_area_html(r, areas[a], true);
                /* the latest settled month; a newer preliminary apart */
                for (size_t p = 0; p < r->rp_np; p++)
                        if (pts[p].set && !pts[p].pre)
                                last = p;
                        else if (pts[p].set)
                                lpre = p;
                if (last < r->rp_np) {
                        char v[16], per[16];
                        rp_pct((double)pts[last].num / (double)pts[last].den, v,
                            sizeof(v));
                        rp_period_label(r, r->rp_periods[last], per,
                                        sizeof(per));
                        PF(r, "<span class=\"sub\">%s: %s (%lld/%lld)</span>",
                           per, v, (long long)pts[last].num,
                           (long long)pts[last].den);
                        rolling_12(r, pts, last, per);
                }
                if (lpre < r->rp_np && (last == r->rp_np || lpre > last)) {
                        char v[16], per[16];
                        rp_pct((double)pts[lpre].num / (double)pts[lpre].den, v,
                            sizeof(v));
                        rp_period_label(r, r->rp_periods[lpre], per,
                                        sizeof(per));
                        PF(r, "<span class=\"sub prelim\">%s: %s (%lld/%lld) "
                              "%s</span>",
                           per, v, (long long)pts[lpre].num,
                           (long long)pts[lpre].den, rp_t(r, "preliminary"));
                }
                P(r, "</figcaption>\n");
                rp_svg_line(r, &l, title, desc);
                line_table(r, s, &l, aname);
                P(r, "</figure>\n");
        }
        if (!na)
                PF(r, "<p class=\"empty\">%s</p>",
                   rp_t(r, "No area to chart."));
        P(r, "</div>\n");
        l.l_pts = NULL;
        l.l_ref = NULL;
        kommun_line_table(r, s, ind, &l);
        rp_funnel(r, s, ind);
        vg_free(pts);
        vg_free(ref);
        vg_free(areas);
}
