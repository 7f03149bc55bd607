/*
 * report_bars.c - the sections of `vigil report` drawn as stacked bars:
 * place of death (shares by place, per month) and counts (SSIH enrolments
 * by age band, or one count indicator), each with its data tables, the
 * kommun table and the place of death over the years.
 */
#include "report_model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Series of a group section: the indicators with the prefix, in a known
 * order (enum order for places, age bands for SSIH), others after. */
static const char *const place_colors[] = {
        "#d55e00", /* HOSPITAL */
        "#cc79a7", /* PALLIATIVE_UNIT */
        "#0072b2", /* NURSING_HOME */
        "#56b4e9", /* SHORT_TERM_CARE */
        "#009e73", /* HOME */
        "#8fd6b8", /* HOME_WITH_SSIH */
        "#e69f00", /* OTHER */
        "#bdbdbd", /* UNKNOWN */
};
static const char *const age_bands[] = {"0-64", "65-74", "75-84", "85+"};
static const char *const age_colors[] = {"#c6dbef", "#6baed6", "#2171b5",
                                         "#08306b", "#8c8c8c"};

/* The label of a place of death in the page's language; a symbol this
 * version does not know is its own label. */
const char *rp_place_label(const rep_t *r, const char *sym) {
        static const struct { const char *sym, *label; } l[] = {
                {"HOSPITAL", N_("Hospital")},
                {"PALLIATIVE_UNIT", N_("Palliative unit")},
                {"NURSING_HOME", N_("Nursing home")},
                {"SHORT_TERM_CARE", N_("Short-term care")},
                {"HOME", N_("Home")},
                {"HOME_WITH_SSIH", N_("Home with SSIH")},
                {"OTHER", N_("Other")},
                {"UNKNOWN", N_("Unknown")},
        };
        for (size_t i = 0; i < VG_ARRAY_SIZE(l); i++)
                if (!strcmp(l[i].sym, sym))
                        return rp_t(r, l[i].label);
        return sym;
}

static int place_rank(const char *ind) {
        int v = vg_enum_find(&vg_enum_place, ind + strlen("death_place."));
        return v < 0 ? 1000 : v;
}

static int place_cmp(const void *pa, const void *pb) {
        const char *a = *(const char *const *)pa, *b = *(const char *const *)pb;
        int ra = place_rank(a), rb = place_rank(b);
        return ra != rb ? ra - rb : strcmp(a, b);
}

/* Are any values of the ni indicators in charted areas preliminary, or on
 * incomplete history? */
static void group_status(const rep_t *r, const char *const *inds, size_t ni,
                         bool *pre, bool *nohist) {
        *pre = *nohist = false;
        for (size_t i = 0; i < r->rp_nrows; i++) {
                const row_t *w = &r->rp_rows[i];
                if (!rp_charted(r, w->r_area))
                        continue;
                for (size_t k = 0; k < ni; k++)
                        if (!strcmp(w->r_ind, inds[k])) {
                                *pre |= !w->r_complete;
                                *nohist |= !w->r_history;
                                break;
                        }
        }
}

/* Per month of area: is any of the ni indicators preliminary, or on
 * incomplete history? */
static void area_status(const rep_t *r, const char *const *inds, size_t ni,
                        const char *area, bool *pre, bool *nohist) {
        for (size_t p = 0; p < r->rp_np; p++) {
                pre[p] = nohist[p] = false;
                for (size_t i = 0; i < ni; i++) {
                        pt_t pt = rp_get_pt(r, inds[i], area,
                                            r->rp_periods[p]);
                        pre[p] |= pt.pre;
                        nohist[p] |= pt.nohist;
                }
        }
}

static size_t group_inds(const rep_t *r, const sec_t *s, const char **out) {
        size_t n = 0;
        for (size_t i = 0; i < r->rp_ninds; i++)
                if (rp_sec_has(s, r->rp_inds[i]))
                        out[n++] = r->rp_inds[i];
        return n;
}

/* What a bar section works with. */
typedef struct bsec_s {
        const char **bs_inds;    /* its indicators */
        size_t       bs_ni;
        const char **bs_areas;   /* areas charted */
        size_t       bs_na;
        const char **bs_ks;      /* kommuner with a value */
        size_t       bs_nk;
        bars_t       bs_b;       /* the chart, refilled for each area */
        bool        *bs_pre;     /* per month of that area: preliminary, */
        bool        *bs_nohist;  /* incomplete history */
        bool         bs_any_pre, bs_any_hist; /* of any value charted */
} bsec_t;

/* The section of ind alone, or (ind NULL) of the indicators of group s,
 * with nser series (0: one per indicator). */
static void bsec_open(const rep_t *r, bsec_t *bs, const sec_t *s,
                      const char *ind, size_t nser) {
        memset(bs, 0, sizeof(*bs));
        bs->bs_inds = vg_calloc(r->rp_ninds + 1, sizeof(char *));
        bs->bs_areas = vg_calloc(r->rp_nareas + 1, sizeof(char *));
        bs->bs_ks = vg_calloc(r->rp_nareas + 1, sizeof(char *));
        if (ind) {
                bs->bs_inds[0] = ind;
                bs->bs_ni = 1;
        } else {
                bs->bs_ni = group_inds(r, s, bs->bs_inds);
        }
        bs->bs_na = rp_chart_areas(r, bs->bs_inds, bs->bs_ni, bs->bs_areas);
        bs->bs_nk = rp_kommuner(r, bs->bs_inds, bs->bs_ni, bs->bs_ks);
        group_status(r, bs->bs_inds, bs->bs_ni, &bs->bs_any_pre,
                     &bs->bs_any_hist);
        bs->bs_pre = vg_calloc(r->rp_np + 1, sizeof(bool));
        bs->bs_nohist = vg_calloc(r->rp_np + 1, sizeof(bool));
        bs->bs_b.b_nser = nser ? nser : bs->bs_ni;
        bs->bs_b.b_v = vg_calloc(bs->bs_b.b_nser * r->rp_np + 1,
                                 sizeof(double));
        bs->bs_b.b_tot = vg_calloc(r->rp_np + 1, sizeof(int64_t));
        bs->bs_b.b_pre = bs->bs_pre;
        bs->bs_b.b_nohist = bs->bs_nohist;
}

/* The legend's end (preliminary, history) and the grid of charts opened. */
static void bsec_legend_end(rep_t *r, const bsec_t *bs) {
        rp_legend_status(r, bs->bs_any_pre, bs->bs_any_hist, true);
        P(r, "</div>\n");
        rp_hist_note(r, bs->bs_any_hist);
        P(r, "<div class=\"grid\">\n");
}

/* The chart of area (bs_b filled for it) in a figure captioned with the
 * area and sub; the figure is left open for its data table. */
static void bsec_figure(rep_t *r, bsec_t *bs, const char *area,
                        const char *sub, const char *title,
                        const char *desc) {
        area_status(r, bs->bs_inds, bs->bs_ni, area, bs->bs_pre,
                    bs->bs_nohist);
        P(r, "<figure><figcaption>");
        rp_area_html(r, area, true);
        P(r, "<span class=\"sub\">");
        P(r, sub);
        P(r, "</span></figcaption>\n");
        rp_svg_bars(r, &bs->bs_b, title, desc);
}

/* The section's end: the place of death over the years, then frees. */
static void bsec_close(rep_t *r, bsec_t *bs) {
        rp_place_years(r);
        P(r, "</section>\n");
        vg_free(bs->bs_b.b_v);
        vg_free(bs->bs_b.b_tot);
        vg_free(bs->bs_pre);
        vg_free(bs->bs_nohist);
        vg_free(bs->bs_ks);
        vg_free(bs->bs_inds);
        vg_free(bs->bs_areas);
}

/* --public (SPEC §6.4): whether a value of inds in area is hidden at
 * period p, or at any period shown (p == rp_np). A month with one hidden
 * is shown as "..", and so is every total over it: summed without it, a
 * total next to a public row that has it gives the hidden count by one
 * subtraction (an attack: "62 deaths in 6 months" beside a year of 65). */
static bool any_hidden(const rep_t *r, const char **inds, size_t ni,
                       const char *area, size_t p) {
        for (size_t q = p < r->rp_np ? p : 0;
             q < (p < r->rp_np ? p + 1 : r->rp_np); q++)
                for (size_t i = 0; i < ni; i++)
                        if (rp_get_pt(r, inds[i], area, r->rp_periods[q])
                                    .hidden)
                                return true;
        return false;
}

/* --public with --from or --to: a sum over the months shown, beside a
 * public quarter or year that the range cuts, gives the months left out
 * (one of them hidden) by one subtraction: such sums are "..". */
static bool range_cut(const rep_t *r) {
        return r->rp_public && (r->rp_from || r->rp_to);
}

/* n, or ".." when hidden, into buf. */
static const char *count_text(char *buf, size_t size, int64_t n,
                              bool hidden) {
        if (hidden)
                snprintf(buf, size, "..");
        else
                snprintf(buf, size, "%lld", (long long)n);
        return buf;
}

void rp_sec_place(rep_t *r, const sec_t *s) {
        bsec_t bs;
        bars_t *b = &bs.bs_b;
        char cur[3] = "";

        bsec_open(r, &bs, s, NULL, 0);
        const char **inds = bs.bs_inds, **areas = bs.bs_areas, **ks = bs.bs_ks;
        size_t ni = bs.bs_ni, na = bs.bs_na, nk = bs.bs_nk;
        bool *pre = bs.bs_pre;
        const char **names = vg_calloc(ni + 1, sizeof(char *));
        const char **colors = vg_calloc(ni + 1, sizeof(char *));
        bool *hid_den; /* per month: its deaths hidden (public) */

        qsort(inds, ni, sizeof(char *), place_cmp);
        for (size_t i = 0; i < ni; i++) {
                int rk = place_rank(inds[i]);
                names[i] = rp_place_label(r, inds[i] + strlen("death_place."));
                colors[i] = rk < (int)VG_ARRAY_SIZE(place_colors)
                                    ? place_colors[rk] : "#7f7f7f";
        }
        b->b_names = names;
        b->b_colors = colors;
        b->b_share = true;
        hid_den = vg_calloc(r->rp_np + 1, sizeof(*hid_den));

        rp_section_head(r, s, "death_place.*");
        P(r, "<div class=\"legend\">");
        for (size_t i = 0; i < ni; i++) {
                PF(r, "<span><i class=\"sw\" style=\"background:%s\"></i>",
                   colors[i]);
                E(r, names[i]);
                P(r, "</span>");
        }
        P(r, "<span><i class=\"sw ht\"></i>");
        PF(r, rp_tf(r, "n=deaths; striped and *: fewer than %lld deaths "
                       "(uncertain)"),
           (long long)r->rp_min_den);
        P(r, "</span>");
        bsec_legend_end(r, &bs);
        for (size_t a = 0; a < na; a++) {
                char aname[128], title[256], desc[1024], sub[96], dn[24];
                int64_t deaths = 0;
                size_t months = 0;
                bool hid_any = false;
                /* A hidden place is "..", its share left out of the bar;
                 * the month's deaths are any shown place's denominator
                 * (the suppression never leaves one place alone hidden,
                 * SPEC §6.4), and ".." when every place is hidden - so
                 * is every total over that month. */
                for (size_t p = 0; p < r->rp_np; p++) {
                        bool hid = false;
                        b->b_tot[p] = 0;
                        for (size_t i = 0; i < ni; i++) {
                                pt_t pt = rp_get_pt(r, inds[i], areas[a],
                                                 r->rp_periods[p]);
                                b->b_v[i * r->rp_np + p] =
                                        pt.set ? (double)pt.num /
                                                         (double)pt.den
                                               : 0;
                                if (pt.set)
                                        b->b_tot[p] = pt.den;
                                hid |= pt.hidden;
                        }
                        hid_den[p] = hid && !b->b_tot[p];
                        hid_any |= hid_den[p];
                        deaths += b->b_tot[p];
                        months += b->b_tot[p] > 0 || hid_den[p];
                }
                count_text(dn, sizeof(dn), deaths, hid_any || range_cut(r));
                rp_area_text(r, areas[a], aname, sizeof(aname));
                snprintf(title, sizeof(title),
                         rp_tf(r, "Place of death \u2013 %s"), aname);
                snprintf(desc, sizeof(desc),
                         rp_tf(r, "Stacked bar chart of the share of deaths "
                                  "by place, per month from %s to %s, %s: "
                                  "%s deaths in %zu months. Months with "
                                  "fewer than %lld deaths are faded and "
                                  "marked *."),
                         r->rp_periods[0], r->rp_periods[r->rp_np - 1], aname,
                         dn, months, (long long)r->rp_min_den);
                snprintf(sub, sizeof(sub), rp_tf(r, "%s deaths"), dn);
                bsec_figure(r, &bs, areas[a], sub, title, desc);
                /* data table: places x months */
                PF(r, "<details><summary>%s</summary>"
                      "<div class=\"scroll\"><table><caption>%s",
                   rp_t(r, "Data table"), rp_t(r, "Deaths by place, "));
                E(r, aname);
                PF(r, "%s</caption><thead><tr><th class=\"l\" scope=\"col\">"
                      "%s</th>",
                   rp_t(r, "; number and share of the month's deaths"),
                   rp_t(r, "Place"));
                for (size_t p = 0; p < r->rp_np; p++)
                        rp_period_th(r, p, pre[p]);
                P(r, "</tr></thead><tbody>");
                for (size_t i = 0; i < ni; i++) {
                        P(r, "<tr><th class=\"l\" scope=\"row\">");
                        E(r, inds[i]);
                        P(r, "</th>");
                        for (size_t p = 0; p < r->rp_np; p++) {
                                double v = b->b_v[i * r->rp_np + p];
                                if (rp_get_pt(r, inds[i], areas[a],
                                              r->rp_periods[p]).hidden)
                                        P(r, "<td>..</td>");
                                else if (!b->b_tot[p])
                                        P(r, "<td></td>");
                                else
                                        PF(r, "<td%s>%.0f<small>%.0f%%</small>"
                                              "</td>",
                                           b->b_tot[p] < r->rp_min_den
                                                   ? " class=\"unc\"" : "",
                                           v * (double)b->b_tot[p], v * 100);
                        }
                        P(r, "</tr>");
                }
                PF(r, "<tr><th class=\"l\" scope=\"row\">%s</th>",
                   rp_t(r, "Deaths"));
                for (size_t p = 0; p < r->rp_np; p++)
                        PF(r, "<td><b>%s</b></td>",
                           count_text(dn, sizeof(dn), b->b_tot[p],
                                      hid_den[p]));
                P(r, "</tr></tbody></table></div></details>\n</figure>\n");
        }
        P(r, "</div>\n");

        /* kommuner: totals over the periods shown */
        if (nk) {
                P(r, "<details><summary>");
                PF(r, rp_tf(r, "Kommuner (%zu): deaths by place, %s to %s"),
                   nk, r->rp_periods[0], r->rp_periods[r->rp_np - 1]);
                PF(r, "</summary><div class=\"scroll\"><table><caption>%s"
                      "</caption><thead><tr>"
                      "<th class=\"l\" scope=\"col\">%s</th>"
                      "<th scope=\"col\">%s</th>",
                   rp_t(r, "Deaths by place and kommun, all months shown; "
                           "number and share"),
                   rp_t(r, "Kommun"), rp_t(r, "Deaths"));
                for (size_t i = 0; i < ni; i++) {
                        P(r, "<th scope=\"col\">");
                        E(r, names[i]);
                        P(r, "</th>");
                }
                P(r, "</tr></thead><tbody>");
                for (size_t k = 0; k < nk; k++) {
                        int64_t deaths = 0;
                        bool hid = false; /* a month's deaths hidden */
                        rp_region_row(r, ks[k], cur, (int)ni + 2);
                        for (size_t p = 0; p < r->rp_np; p++) {
                                bool seen = false, h = false;
                                for (size_t i = 0; i < ni && !seen; i++) {
                                        pt_t pt = rp_get_pt(r, inds[i], ks[k],
                                                         r->rp_periods[p]);
                                        if (pt.set) {
                                                deaths += pt.den;
                                                seen = true;
                                        }
                                        h |= pt.hidden;
                                }
                                hid |= h && !seen;
                        }
                        hid |= range_cut(r);
                        P(r, "<tr><th class=\"l\" scope=\"row\">");
                        rp_area_html(r, ks[k], true);
                        if (hid)
                                P(r, "</th><td><b>..</b></td>");
                        else
                                PF(r, "</th><td%s><b>%lld</b></td>",
                                   deaths < r->rp_min_den ? " class=\"unc\""
                                                          : "",
                                   (long long)deaths);
                        for (size_t i = 0; i < ni; i++) {
                                int64_t num = 0;
                                /* (a sum over a hidden month: "..") */
                                if (range_cut(r) ||
                                    any_hidden(r, &inds[i], 1, ks[k],
                                               r->rp_np)) {
                                        P(r, "<td>..</td>");
                                        continue;
                                }
                                for (size_t p = 0; p < r->rp_np; p++)
                                        num += rp_get_pt(r, inds[i], ks[k],
                                                      r->rp_periods[p]).num;
                                if (hid)
                                        PF(r, "<td>%lld</td>",
                                           (long long)num);
                                else if (deaths)
                                        PF(r, "<td>%lld<small>%.0f%%</small>"
                                              "</td>", (long long)num,
                                           100.0 * (double)num /
                                                   (double)deaths);
                                else
                                        P(r, "<td></td>");
                        }
                        P(r, "</tr>");
                }
                P(r, "</tbody></table></div></details>\n");
        }
        bsec_close(r, &bs);
        vg_free(names);
        vg_free(colors);
        vg_free(hid_den);
}

/* Age rp_band of "ssih_enrolment.<AGE>.<DIAG>": index into age_bands, or
 * VG_ARRAY_SIZE(age_bands) for anything else. */
static size_t ssih_age(const char *ind) {
        const char *a = ind + strlen("ssih_enrolment.");
        for (size_t i = 0; i < VG_ARRAY_SIZE(age_bands); i++) {
                size_t l = strlen(age_bands[i]);
                if (!strncmp(a, age_bands[i], l) && a[l] == '.')
                        return i;
        }
        return VG_ARRAY_SIZE(age_bands);
}

static const char *ssih_diag(const char *ind) {
        const char *a = ind + strlen("ssih_enrolment."), *d = strchr(a, '.');
        return d ? d + 1 : a;
}

/* Count sections: SSIH stacked by age rp_band (with a group prefix), or one
 * count indicator as plain bars (ind != NULL). */
void rp_sec_counts(rep_t *r, const sec_t *s, const char *ind) {
        size_t nb = ind ? 1 : 5;
        const char *single_name[1] = {ind}, *single_color[1] = {C_LINE};
        const char *age_tr[5];
        const char *diags[VG_DG__CNT + 8];
        size_t nd = 0;
        bsec_t bs;
        bars_t *b = &bs.bs_b;
        int64_t maxtot = 0;
        char cur[3] = "";

        bsec_open(r, &bs, s, ind, nb);
        const char **inds = bs.bs_inds, **areas = bs.bs_areas, **ks = bs.bs_ks;
        size_t ni = bs.bs_ni, na = bs.bs_na, nk = bs.bs_nk;
        bool *pre = bs.bs_pre;

        /* diagnosis groups present, in enum order */
        for (int d = 0; !ind && d < vg_enum_diag.ve_cnt; d++)
                for (size_t i = 0; i < ni; i++)
                        if (!strcmp(ssih_diag(inds[i]),
                                    vg_enum_diag.ve_symbols[d])) {
                                diags[nd++] = vg_enum_diag.ve_symbols[d];
                                break;
                        }
        b->b_names = ind ? single_name : NULL;
        b->b_colors = ind ? single_color : age_colors;
        if (!ind) {
                static const char *const age_names[] = {
                        N_("age 0\u201364"), N_("age 65\u201374"),
                        N_("age 75\u201384"), N_("age 85+"), N_("other age")};
                for (size_t i = 0; i < VG_ARRAY_SIZE(age_names); i++)
                        age_tr[i] = rp_t(r, age_names[i]);
                b->b_names = age_tr;
        }
        /* one scale for every chart of the section */
        for (size_t a = 0; a < na; a++)
                for (size_t p = 0; p < r->rp_np; p++) {
                        int64_t t = 0;
                        for (size_t i = 0; i < ni; i++)
                                t += rp_get_pt(r, inds[i], areas[a],
                                            r->rp_periods[p]).num;
                        if (t > maxtot)
                                maxtot = t;
                }
        rp_count_scale((maxtot * 112 + 99) / 100, &b->b_ymax, &b->b_step);

        rp_section_head(r, s, ind ? ind : "ssih_enrolment.*");
        P(r, "<div class=\"legend\">");
        for (size_t i = 0; i < nb; i++) {
                bool used = ind != NULL;
                for (size_t k = 0; !used && k < ni; k++)
                        used = ssih_age(inds[k]) == i;
                if (!used)
                        continue;
                PF(r, "<span><i class=\"sw\" style=\"background:%s\"></i>",
                   b->b_colors[i]);
                E(r, b->b_names[i]);
                P(r, "</span>");
        }
        PF(r, "<span>%s</span>",
           rp_t(r, "number above each bar: total of the month"));
        bsec_legend_end(r, &bs);
        for (size_t a = 0; a < na; a++) {
                char aname[128], title[256], desc[1024], sub[96], tn[24];
                int64_t total = 0;
                bool hid_any = range_cut(r) ||
                               any_hidden(r, inds, ni, areas[a], r->rp_np);
                memset(b->b_v, 0, nb * r->rp_np * sizeof(double));
                for (size_t p = 0; p < r->rp_np; p++) {
                        b->b_tot[p] = 0;
                        if (any_hidden(r, inds, ni, areas[a], p))
                                continue; /* (no bar: "..") */
                        for (size_t i = 0; i < ni; i++) {
                                pt_t pt = rp_get_pt(r, inds[i], areas[a],
                                                 r->rp_periods[p]);
                                size_t k = ind ? 0 : ssih_age(inds[i]);
                                b->b_v[k * r->rp_np + p] += (double)pt.num;
                                b->b_tot[p] += pt.num;
                        }
                        total += b->b_tot[p];
                }
                rp_area_text(r, areas[a], aname, sizeof(aname));
                snprintf(title, sizeof(title), "%s \u2013 %s", s->s_title,
                         aname);
                count_text(tn, sizeof(tn), total, hid_any);
                snprintf(desc, sizeof(desc),
                         ind ? rp_tf(r, "Bar chart of the number per month "
                                        "from %s to %s, %s: %s in total.")
                             : rp_tf(r, "Bar chart of the number per month, "
                                        "stacked by age band from %s to %s, "
                                        "%s: %s in total."),
                         r->rp_periods[0], r->rp_periods[r->rp_np - 1], aname,
                         tn);
                snprintf(sub, sizeof(sub), rp_tf(r, "%s in total"), tn);
                bsec_figure(r, &bs, areas[a], sub, title, desc);
                PF(r, "<details><summary>%s</summary>"
                      "<div class=\"scroll\"><table><caption>",
                   rp_t(r, "Data table"));
                E(r, s->s_title);
                P(r, ", ");
                E(r, aname);
                PF(r, "</caption><thead><tr><th class=\"l\" scope=\"col\">"
                      "%s</th>", rp_t(r, "Indicator"));
                for (size_t p = 0; p < r->rp_np; p++)
                        rp_period_th(r, p, pre[p]);
                PF(r, "<th scope=\"col\">%s</th></tr></thead><tbody>",
                   rp_t(r, "Total"));
                for (size_t i = 0; i < ni; i++) {
                        int64_t t = 0;
                        bool th = range_cut(r) ||
                                  any_hidden(r, &inds[i], 1, areas[a],
                                             r->rp_np);
                        P(r, "<tr><th class=\"l\" scope=\"row\">");
                        E(r, inds[i]);
                        P(r, "</th>");
                        for (size_t p = 0; p < r->rp_np; p++) {
                                pt_t pt = rp_get_pt(r, inds[i], areas[a],
                                                 r->rp_periods[p]);
                                t += pt.num;
                                if (pt.hidden)
                                        P(r, "<td>..</td>");
                                else if (pt.num)
                                        PF(r, "<td>%lld</td>",
                                           (long long)pt.num);
                                else
                                        P(r, "<td></td>");
                        }
                        PF(r, "<td><b>%s</b></td></tr>",
                           count_text(tn, sizeof(tn), t, th));
                }
                PF(r, "<tr><th class=\"l\" scope=\"row\">%s</th>",
                   rp_t(r, "Total"));
                for (size_t p = 0; p < r->rp_np; p++)
                        PF(r, "<td><b>%s</b></td>",
                           count_text(tn, sizeof(tn), b->b_tot[p],
                                      any_hidden(r, inds, ni, areas[a], p)));
                PF(r, "<td><b>%s</b></td></tr></tbody></table></div>"
                      "</details>\n</figure>\n",
                   count_text(tn, sizeof(tn), total, hid_any));
        }
        P(r, "</div>\n");

        if (nk) {
                P(r, "<details><summary>");
                PF(r, rp_tf(r, "Kommuner (%zu): totals %s to %s"), nk,
                   r->rp_periods[0], r->rp_periods[r->rp_np - 1]);
                P(r, "</summary><div class=\"scroll\"><table><caption>");
                E(r, s->s_title);
                PF(r, "%s</caption><thead><tr>"
                      "<th class=\"l\" scope=\"col\">%s</th>",
                   rp_t(r, " by kommun, all months shown"),
                   rp_t(r, "Kommun"));
                if (!ind) {
                        for (size_t i = 0; i < VG_ARRAY_SIZE(age_bands); i++)
                                PF(r, "<th scope=\"col\">%s</th>",
                                   b->b_names[i]);
                        for (size_t d = 0; d < nd; d++) {
                                P(r, "<th scope=\"col\">");
                                E(r, diags[d]);
                                P(r, "</th>");
                        }
                }
                PF(r, "<th scope=\"col\">%s</th></tr></thead><tbody>",
                   rp_t(r, "Total"));
                for (size_t k = 0; k < nk; k++) {
                        int64_t byage[VG_ARRAY_SIZE(age_bands) + 1] = {0},
                                bydiag[VG_ARRAY_SIZE(diags)] = {0}, total = 0;
                        for (size_t i = 0; i < ni; i++) {
                                int64_t t = 0;
                                for (size_t p = 0; p < r->rp_np; p++)
                                        t += rp_get_pt(r, inds[i], ks[k],
                                                    r->rp_periods[p]).num;
                                total += t;
                                if (ind)
                                        continue;
                                byage[ssih_age(inds[i])] += t;
                                for (size_t d = 0; d < nd; d++)
                                        if (!strcmp(ssih_diag(inds[i]),
                                                    diags[d]))
                                                bydiag[d] += t;
                        }
                        bool hid = range_cut(r) ||
                                   any_hidden(r, inds, ni, ks[k], r->rp_np);
                        if (!total && !hid)
                                continue;
                        rp_region_row(r, ks[k], cur,
                                   ind ? 2 : (int)(nd + 6));
                        P(r, "<tr><th class=\"l\" scope=\"row\">");
                        rp_area_html(r, ks[k], true);
                        P(r, "</th>");
                        if (hid) { /* (totals over a hidden month) */
                                for (size_t i = 0;
                                     !ind && i < VG_ARRAY_SIZE(age_bands) + nd;
                                     i++)
                                        P(r, "<td>..</td>");
                                P(r, "<td>..</td></tr>");
                                continue;
                        }
                        for (size_t i = 0; !ind && i < VG_ARRAY_SIZE(age_bands);
                             i++)
                                PF(r, "<td>%lld</td>", (long long)byage[i]);
                        for (size_t d = 0; !ind && d < nd; d++)
                                PF(r, "<td>%lld</td>", (long long)bydiag[d]);
                        PF(r, "<td><b>%lld</b></td></tr>", (long long)total);
                }
                P(r, "</tbody></table></div></details>\n");
        }
        bsec_close(r, &bs);
}
