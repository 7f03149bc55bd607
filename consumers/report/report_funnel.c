/*
 * report_funnel.c - kommuner compared for a council (issue 13): for one
 * indicator and the latest year, each kommun's value against its number of
 * cases in a funnel plot, with the 95 % and 99.8 % limits around the
 * reference area's value (the region chosen with -a, else Sverige), and
 * the same kommuner ranked in a table. The fair way to compare a kommun of
 * 40 deaths a year with one of 4,000: a small kommun far from the line may
 * still be inside its limits.
 *
 * Year values are what the aggregator publishes (SPEC §6.2), and with
 * --public the ones vigil indicators --public hides are left out (listed
 * as hidden): no sum over months is formed here.
 */
#include "report_model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A row of rp_all_js: ind|area|period|all, if it exists with cases. */
static json_t *year_row(const rep_t *r, const char *ind, const char *area,
                        const char *year, bool *hidden) {
        char key[256];
        json_t *o, *d;
        snprintf(key, sizeof(key), "%s|%s|%s|all", ind, area, year);
        *hidden = r->rp_hidden_js && json_object_get(r->rp_hidden_js, key);
        o = json_object_get(r->rp_all_js, key);
        d = json_object_get(o, "denominator");
        if (!o || !json_is_integer(d) || json_integer_value(d) <= 0)
                return NULL;
        return o;
}

/* The indicator, area and period of value row o of rp_all_js; false when
 * one is missing or o is a breakdown (not "all"). */
static bool row_id(json_t *o, const char **ind, const char **area,
                   const char **period) {
        const char *bd = json_string_value(json_object_get(o, "breakdown"));
        *ind = json_string_value(json_object_get(o, "indicator"));
        *area = json_string_value(json_object_get(o, "area"));
        *period = json_string_value(json_object_get(o, "period"));
        return *ind && *area && *period && (!bd || !strcmp(bd, "all"));
}

/* (num/den - p0) / the standard error at den, sd1 = sqrt(p0 (1 - p0));
 * NAN when sd1 is 0. */
static double zscore(int64_t num, int64_t den, double p0, double sd1) {
        return sd1 > 0 ? ((double)num / (double)den - p0) /
                                 (sd1 / sqrt((double)den))
                       : NAN;
}

/* A value against the reference, by its z: outside the 99.8 % or 95 %
 * limits, or within them. */
static const char *verdict(const rep_t *r, double z) {
        return isnan(z)    ? "\u2013"
               : z > 3.09  ? rp_t(r, "above (outside 99.8 %)")
               : z > 1.96  ? rp_t(r, "above (outside 95 %)")
               : z < -3.09 ? rp_t(r, "below (outside 99.8 %)")
               : z < -1.96 ? rp_t(r, "below (outside 95 %)")
                           : rp_t(r, "within the limits");
}

static int fpt_cmp(const void *a, const void *b) {
        const fpt_t *x = a, *y = b;
        double vx = (double)x->f_num / (double)x->f_den;
        double vy = (double)y->f_num / (double)y->f_den;
        if (vx != vy)
                return vx > vy ? -1 : 1;
        return strcmp(x->f_area, y->f_area);
}

/* The reference: the one region -a names, else Sverige. */
static const char *reference(const rep_t *r) {
        if (r->rp_nsel == 1 && rp_area_level(r->rp_sel[0]) == 1)
                return r->rp_sel[0];
        return "SE";
}

static void breakdown_table(rep_t *r, const sec_t *s, const char *ind,
                            const char *ref, const char *refname,
                            const char *year, double p0);

void rp_funnel(rep_t *r, const sec_t *s, const char *ind) {
        const char *ref = reference(r), *key;
        char year[8] = "", refname[128], title[256], desc[512], p0s[16];
        json_t *o, *refrow;
        fpt_t *pts;
        size_t n = 0, nhidden = 0, cap = json_object_size(r->rp_all_js) + 1;
        funnel_t f;
        bool hid, prelim;
        double sd1;

        /* the latest year of the reference area */
        json_object_foreach(r->rp_all_js, key, o) {
                const char *i, *a, *p;
                if (!row_id(o, &i, &a, &p) || strcmp(i, ind) ||
                    strcmp(a, ref) || strlen(p) != 4)
                        continue;
                if (strcmp(p, year) > 0)
                        snprintf(year, sizeof(year), "%s", p);
        }
        if (!*year)
                return;
        refrow = year_row(r, ind, ref, year, &hid);
        if (!refrow || hid)
                return;
        prelim = !json_is_true(json_object_get(refrow, "complete"));
        f.f_p0 = (double)json_integer_value(json_object_get(refrow, "numerator")) /
                 (double)json_integer_value(json_object_get(refrow, "denominator"));
        f.f_tg = vg_agg_target(r->rp_conf, ind);
        sd1 = sqrt(f.f_p0 * (1 - f.f_p0));
        pts = vg_calloc(cap, sizeof(*pts));
        json_object_foreach(r->rp_all_js, key, o) {
                const char *i, *a, *p;
                json_t *row;
                fpt_t *fp;
                if (!row_id(o, &i, &a, &p) || strcmp(i, ind) ||
                    strcmp(p, year) || rp_area_level(a) != 2 ||
                    !rp_in_scope(r, a) ||
                    (strcmp(ref, "SE") && strncmp(a, ref, 2)))
                        continue;
                if (!(row = year_row(r, ind, a, year, &hid)))
                        continue;
                if (hid) {
                        nhidden++;
                        continue;
                }
                fp = &pts[n++];
                fp->f_area = a;
                fp->f_num = json_integer_value(json_object_get(row, "numerator"));
                fp->f_den = json_integer_value(
                        json_object_get(row, "denominator"));
                fp->f_z = zscore(fp->f_num, fp->f_den, f.f_p0, sd1);
        }
        if (!n) {
                vg_free(pts);
                return;
        }
        qsort(pts, n, sizeof(*pts), fpt_cmp);
        f.f_pts = pts;
        f.f_n = n;
        rp_area_text(r, ref, refname, sizeof(refname));
        rp_pct(f.f_p0, p0s, sizeof(p0s));

        P(r, "<h3>");
        PF(r, rp_tf(r, "Kommuner compared, %s"), year);
        if (prelim)
                PF(r, " <span class=\"pm\">%s</span>",
                   rp_t(r, "preliminary"));
        P(r, "</h3>");
        P(r, "<p class=\"what\">");
        P(r, rp_t(r, "Each kommun's value against its number of cases "
                     "(funnel plot). The solid line is "));
        E(r, refname);
        PF(r, rp_tf(r, " (%s); the curves are the 95 %% (inner) and 99.8 %% "
                       "(outer) limits within which a kommun of that size "
                       "falls by chance alone. A kommun outside the outer "
                       "limits differs from "), p0s);
        E(r, refname);
        P(r, rp_t(r, " more than chance explains; a small kommun far from "
                     "the line may still be inside."));
        if (nhidden)
                PF(r, nhidden == 1
                              ? rp_tf(r, " %zu kommun with few cases is "
                                         "hidden (public page).")
                              : rp_tf(r, " %zu kommuner with few cases are "
                                         "hidden (public page)."),
                   nhidden);
        P(r, "</p>\n<figure>");
        snprintf(title, sizeof(title),
                 rp_tf(r, "%s \u2013 kommuner compared, %s"), s->s_title,
                 year);
        snprintf(desc, sizeof(desc),
                 rp_tf(r, "Funnel plot of %zu kommuner: value against cases, "
                          "with 95 %% and 99.8 %% limits around %s (%s)."),
                 n, refname, p0s);
        rp_svg_funnel(r, &f, title, desc);
        PF(r, "<details><summary>%s</summary><div class=\"scroll\">"
              "<table><caption>", rp_t(r, "Data table"));
        E(r, title);
        PF(r, "</caption><thead><tr><th scope=\"col\">#</th><th class=\"l\" "
              "scope=\"col\">%s</th><th scope=\"col\">%s</th>"
              "<th scope=\"col\">%s</th><th scope=\"col\">%s</th>"
              "<th class=\"l\" scope=\"col\">%s", rp_t(r, "Kommun"),
           s->s_num, s->s_den, rp_t(r, "Value"), rp_t(r, "Against "));
        E(r, refname);
        P(r, "</th></tr></thead><tbody>");
        for (size_t i = 0; i < n; i++) {
                const fpt_t *p = &pts[i];
                char v[16];
                rp_pct((double)p->f_num / (double)p->f_den, v, sizeof(v));
                PF(r, "<tr><td>%zu</td><th class=\"l\" scope=\"row\">", i + 1);
                rp_area_html(r, p->f_area, true);
                PF(r, "</th><td>%lld</td><td>%lld</td><td class=\"%s\">%s</td>"
                      "<td class=\"l\">%s</td></tr>",
                   (long long)p->f_num, (long long)p->f_den,
                   fabs(isnan(p->f_z) ? 0 : p->f_z) > 3.09 ? "miss" : "", v,
                   verdict(r, p->f_z));
        }
        P(r, "</tbody></table></div></details></figure>\n");
        breakdown_table(r, s, ind, ref, refname, year, f.f_p0);
        vg_free(pts);
}

/* ------------------------------------------------------------------------
 * Breakdowns (SPEC §6.2): the reference area's value by age, sex,
 * diagnosis and form of housing for the same year, each group against the
 * area's own value with the same limits - "on equal terms regardless of
 * age, disease and form of housing".
 */

static const struct {
        const char *bd;
        const char *label;
} bd_labels[] = {
        {"age:0-64", N_("age 0\u201364")},
        {"age:65-74", N_("age 65\u201374")},
        {"age:75-84", N_("age 75\u201384")},
        {"age:85+", N_("age 85+")},
        {"age:unknown", N_("age not known")},
        {"sex:FEMALE", N_("women")},
        {"sex:MALE", N_("men")},
        {"sex:UNKNOWN", N_("sex not recorded")},
        {"sex:unknown", N_("sex not known")},
        {"diagnosis:CANCER", N_("cancer")},
        {"diagnosis:COPD", N_("COPD")},
        {"diagnosis:HEART_FAILURE", N_("heart failure")},
        {"diagnosis:KIDNEY_FAILURE", N_("kidney failure")},
        {"diagnosis:DEMENTIA", N_("dementia")},
        {"diagnosis:OTHER", N_("other diagnosis")},
        {"diagnosis:unknown", N_("diagnosis not known")},
        {"residence:ORDINARY_HOME", N_("ordinary home")},
        {"residence:NURSING_HOME", N_("nursing home")},
        {"residence:SHORT_TERM_CARE", N_("short-term care")},
        {"residence:OTHER", N_("other housing")},
        {"residence:UNKNOWN", N_("housing not recorded")},
        {"residence:unknown", N_("housing not known")},
};

static void breakdown_table(rep_t *r, const sec_t *s, const char *ind,
                            const char *ref, const char *refname,
                            const char *year, double p0) {
        double sd1 = sqrt(p0 * (1 - p0));
        size_t shown = 0, hidden = 0;
        char title[256];
        snprintf(title, sizeof(title),
                 rp_tf(r, "%s \u2013 %s by age, sex, diagnosis and housing, "
                          "%s"), s->s_title, refname, year);
        for (size_t k = 0; k < VG_ARRAY_SIZE(bd_labels); k++) {
                char key[256];
                snprintf(key, sizeof(key), "%s|%s|%s|%s", ind, ref, year,
                         bd_labels[k].bd);
                if (json_object_get(r->rp_all_js, key))
                        shown++;
        }
        if (!shown)
                return;
        PF(r, "<details><summary>%s</summary><div class=\"scroll\">"
              "<table class=\"bd\"><caption>",
           rp_t(r, "By age, sex, diagnosis and housing"));
        E(r, title);
        PF(r, "</caption><thead><tr><th class=\"l\" scope=\"col\">%s</th>"
              "<th scope=\"col\">%s</th><th scope=\"col\">%s</th>"
              "<th scope=\"col\">%s</th><th class=\"l\" scope=\"col\">%s",
           rp_t(r, "Group"), s->s_num, s->s_den, rp_t(r, "Value"),
           rp_t(r, "Against "));
        E(r, refname);
        P(r, "</th></tr></thead><tbody>");
        for (size_t k = 0; k < VG_ARRAY_SIZE(bd_labels); k++) {
                char key[256], v[16];
                json_t *o;
                int64_t num, den;
                double z;
                snprintf(key, sizeof(key), "%s|%s|%s|%s", ind, ref, year,
                         bd_labels[k].bd);
                o = json_object_get(r->rp_all_js, key);
                if (!o || !json_is_integer(json_object_get(o, "denominator")))
                        continue;
                num = json_integer_value(json_object_get(o, "numerator"));
                den = json_integer_value(json_object_get(o, "denominator"));
                if (den <= 0)
                        continue;
                PF(r, "<tr><th class=\"l\" scope=\"row\">%s</th>",
                   rp_t(r, bd_labels[k].label));
                if (r->rp_hidden_js && json_object_get(r->rp_hidden_js, key)) {
                        hidden++;
                        P(r, "<td>..</td><td>..</td><td>..</td><td></td></tr>");
                        continue;
                }
                z = zscore(num, den, p0, sd1);
                rp_pct((double)num / (double)den, v, sizeof(v));
                PF(r, "<td>%lld</td><td>%lld</td><td class=\"%s\">%s</td>"
                      "<td class=\"l\">%s</td></tr>",
                   (long long)num, (long long)den,
                   !isnan(z) && fabs(z) > 3.09 ? "miss" : "", v,
                   verdict(r, z));
        }
        P(r, "</tbody></table></div></details>\n");
        (void)hidden;
}

/* ------------------------------------------------------------------------
 * Place of death per kommun over the years: the share of deaths in
 * hospital, at home (with or without SSIH) and in nursing homes, per year,
 * and the change from the first year to the last ("förändring i andel").
 */

static const struct {
        const char *label;
        const char *places[2];
} place_groups[] = {
        {N_("in hospital"), {"HOSPITAL", NULL}},
        {N_("at home (with or without SSIH)"), {"HOME", "HOME_WITH_SSIH"}},
        {N_("in a nursing home"), {"NURSING_HOME", NULL}},
};

/* Deaths of area in year and those in the group's places: 1; 0 when
 * there is none; -1 when a value it needs is hidden (--public). */
static int place_share(const rep_t *r, const char *area, const char *year,
                       size_t g, int64_t *num, int64_t *den) {
        *num = *den = 0;
        for (int i = 0; i < 2 && place_groups[g].places[i]; i++) {
                char key[160];
                json_t *o;
                snprintf(key, sizeof(key), "death_place.%s|%s|%s|all",
                         place_groups[g].places[i], area, year);
                if (r->rp_hidden_js && json_object_get(r->rp_hidden_js, key))
                        return -1;
                o = json_object_get(r->rp_all_js, key);
                if (!o)
                        continue; /* none there: a known 0 */
                *num += json_integer_value(json_object_get(o, "numerator"));
                *den = json_integer_value(json_object_get(o, "denominator"));
        }
        if (!*den) {
                /* no row of the group: the deaths from any place's row */
                char key[160];
                json_t *o;
                snprintf(key, sizeof(key), "death_place.HOSPITAL|%s|%s|all",
                         area, year);
                if (r->rp_hidden_js && json_object_get(r->rp_hidden_js, key))
                        return -1;
                o = json_object_get(r->rp_all_js, key);
                *den = o ? json_integer_value(json_object_get(o, "denominator"))
                         : 0;
        }
        return *den > 0;
}

static int str_cmpp(const void *a, const void *b) {
        return strcmp(*(const char *const *)a, *(const char *const *)b);
}

void rp_place_years(rep_t *r) {
        const char *key, **years, **areas;
        json_t *o, *yset = json_object(), *aset = json_object();
        size_t ny = 0, na = 0;
        const char *ref = reference(r);

        json_object_foreach(r->rp_all_js, key, o) {
                const char *i, *a, *p;
                if (!row_id(o, &i, &a, &p) || strncmp(i, "death_place.", 12) ||
                    strlen(p) != 4 ||
                    !(rp_area_level(a) == 2 ? rp_in_scope(r, a) &&
                                                      (!strcmp(ref, "SE") ||
                                                       !strncmp(a, ref, 2))
                                            : !strcmp(a, ref)))
                        continue;
                json_object_set_new(yset, p, json_true());
                json_object_set_new(aset, a, json_true());
        }
        years = vg_calloc(json_object_size(yset) + 1, sizeof(char *));
        areas = vg_calloc(json_object_size(aset) + 1, sizeof(char *));
        json_object_foreach(yset, key, o) years[ny++] = key;
        json_object_foreach(aset, key, o) areas[na++] = key;
        qsort(years, ny, sizeof(char *), str_cmpp);
        qsort(areas, na, sizeof(char *), rp_area_pcmp);
        if (ny && na) {
                PF(r, "<h3>%s</h3><p class=\"what\">%s</p>",
                   rp_t(r, "Place of death per kommun over the years"),
                   rp_t(r, "The share of each year's deaths in hospital, at "
                           "home and in nursing homes, and the change in "
                           "percentage points from the first year to the "
                           "last."));
                for (size_t g = 0; g < VG_ARRAY_SIZE(place_groups); g++) {
                        PF(r, "<details><summary>%s %s</summary>"
                              "<div class=\"scroll\"><table><caption>",
                           rp_t(r, "Deaths"), rp_t(r, place_groups[g].label));
                        PF(r, "%s %s", rp_t(r, "Deaths"),
                           rp_t(r, place_groups[g].label));
                        PF(r, "</caption><thead><tr><th class=\"l\" "
                              "scope=\"col\">%s</th>", rp_t(r, "Area"));
                        for (size_t y = 0; y < ny; y++)
                                PF(r, "<th scope=\"col\">%s</th>", years[y]);
                        PF(r, "<th scope=\"col\">%s</th></tr></thead><tbody>",
                           rp_t(r, "Change"));
                        for (size_t a = 0; a < na; a++) {
                                /* the change: from the first year's column
                                 * to the last's, both shown (a hidden one
                                 * makes it hidden; one year is no change) */
                                double first = NAN, last = NAN;
                                int fs = 0, ls = 0;
                                P(r, "<tr><th class=\"l\" scope=\"row\">");
                                rp_area_html(r, areas[a], true);
                                P(r, "</th>");
                                for (size_t y = 0; y < ny; y++) {
                                        int64_t num, den;
                                        char v[16];
                                        int st = place_share(r, areas[a],
                                                             years[y], g,
                                                             &num, &den);
                                        if (y == 0)
                                                fs = st;
                                        if (y == ny - 1)
                                                ls = st;
                                        if (st <= 0) {
                                                P(r, st ? "<td>..</td>"
                                                        : "<td></td>");
                                                continue;
                                        }
                                        rp_pct((double)num / (double)den, v,
                                               sizeof(v));
                                        PF(r, "<td>%s<small>%lld/%lld</small>"
                                              "</td>", v, (long long)num,
                                           (long long)den);
                                        if (y == 0)
                                                first = (double)num /
                                                        (double)den;
                                        last = (double)num / (double)den;
                                }
                                if (ny > 1 && fs > 0 && ls > 0)
                                        PF(r, "<td>%+.1f</td></tr>",
                                           100.0 * (last - first));
                                else if (ny > 1 && (fs < 0 || ls < 0))
                                        P(r, "<td>..</td></tr>");
                                else
                                        P(r, "<td></td></tr>");
                        }
                        P(r, "</tbody></table></div></details>\n");
                }
        }
        vg_free(years);
        vg_free(areas);
        json_decref(yset);
        json_decref(aset);
}
