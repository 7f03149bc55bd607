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
                const char *a = json_string_value(json_object_get(o, "area"));
                const char *p = json_string_value(json_object_get(o, "period"));
                const char *i = json_string_value(
                        json_object_get(o, "indicator"));
                const char *bd = json_string_value(
                        json_object_get(o, "breakdown"));
                if (!a || !p || !i || strcmp(i, ind) || strcmp(a, ref) ||
                    strlen(p) != 4 || (bd && strcmp(bd, "all")))
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
                const char *a = json_string_value(json_object_get(o, "area"));
                const char *p = json_string_value(json_object_get(o, "period"));
                const char *i = json_string_value(
                        json_object_get(o, "indicator"));
                const char *bd = json_string_value(
                        json_object_get(o, "breakdown"));
                json_t *row;
                fpt_t *fp;
                if (!a || !p || !i || strcmp(i, ind) || strcmp(p, year) ||
                    rp_area_level(a) != 2 || (bd && strcmp(bd, "all")) ||
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
                fp->f_z = sd1 > 0 ? ((double)fp->f_num / (double)fp->f_den -
                                     f.f_p0) /
                                            (sd1 / sqrt((double)fp->f_den))
                                  : NAN;
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
                const char *cmp =
                        isnan(p->f_z)    ? "\u2013"
                        : p->f_z > 3.09  ? rp_t(r, "above (outside 99.8 %)")
                        : p->f_z > 1.96  ? rp_t(r, "above (outside 95 %)")
                        : p->f_z < -3.09 ? rp_t(r, "below (outside 99.8 %)")
                        : p->f_z < -1.96 ? rp_t(r, "below (outside 95 %)")
                                         : rp_t(r, "within the limits");
                rp_pct((double)p->f_num / (double)p->f_den, v, sizeof(v));
                PF(r, "<tr><td>%zu</td><th class=\"l\" scope=\"row\">", i + 1);
                rp_area_html(r, p->f_area, true);
                PF(r, "</th><td>%lld</td><td>%lld</td><td class=\"%s\">%s</td>"
                      "<td class=\"l\">%s</td></tr>",
                   (long long)p->f_num, (long long)p->f_den,
                   fabs(isnan(p->f_z) ? 0 : p->f_z) > 3.09 ? "miss" : "", v,
                   cmp);
        }
        P(r, "</tbody></table></div></details></figure>\n");
        vg_free(pts);
}
