/*
 * report_charts.c - the SVG charts of `vigil report`: axes and scales, line
 * charts with a reference line and a target, stacked bars.
 */
#include "report_model.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------
 * SVG
 */

#define CW 600          /* viewBox */
#define CH 250
#define ML 48           /* margins */
#define MR 18
#define MT 18
#define MB 40
#define PW (CW - ML - MR)
#define PH (CH - MT - MB)


double rp_band(const rep_t *r) {
        return (double)PW / (double)(r->rp_np ? r->rp_np : 1);
}

static double xc(const rep_t *r, size_t p) {
        return ML + rp_band(r) * ((double)p + 0.5);
}

static void svg_open(rep_t *r, const char *title, const char *desc) {
        int id = ++r->rp_seq;
        PF(r, "<svg class=\"chart\" viewBox=\"0 0 %d %d\" role=\"img\" "
              "aria-labelledby=\"c%d-t c%d-d\" "
              "xmlns=\"http://www.w3.org/2000/svg\">"
              "<title id=\"c%d-t\">", CW, CH, id, id, id);
        E(r, title);
        PF(r, "</title><desc id=\"c%d-d\">", id);
        E(r, desc);
        P(r, "</desc>\n");
}

/* Horizontal grid and y labels: ticks at 0, step, ... ymax. */
/* The y grid and labels; months along x unless months is false. */
static void svg_axes(rep_t *r, double ymax, double step, bool percent,
                     bool months) {
        P(r, "<g class=\"ax\">");
        for (int i = 0;; i++) {
                double v = step * i;
                double y;
                if (v > ymax + step * 1e-6)
                        break;
                y = MT + PH - PH * v / ymax;
                PF(r, "<line class=\"%s\" x1=\"%d\" x2=\"%d\" y1=\"%.1f\" "
                      "y2=\"%.1f\"/>",
                   i ? "gl" : "base", ML, CW - MR, y, y);
                if (percent)
                        PF(r, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">"
                              "%.0f%%</text>", ML - 6, y + 4, v * 100);
                else
                        PF(r, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">"
                              "%.0f</text>", ML - 6, y + 4, v);
        }
        /* Month labels; the year under the first and under each January. */
        if (months) {
                size_t every = (r->rp_np + 11) / 12;
                bool first = true;
                for (size_t p = 0; p < r->rp_np; p++) {
                        const char *per = r->rp_periods[p];
                        int m = rp_period_month(per);
                        if (p % every)
                                continue;
                        PF(r, "<text x=\"%.1f\" y=\"%d\" "
                              "text-anchor=\"middle\">", xc(r, p),
                           MT + PH + 15);
                        if (m)
                                P(r, rp_month_name(r, m));
                        else
                                E(r, per);
                        P(r, "</text>");
                        if (m && (first || m == 1))
                                PF(r, "<text class=\"yr\" x=\"%.1f\" y=\"%d\" "
                                      "text-anchor=\"middle\">%.4s</text>",
                                   xc(r, p), MT + PH + 29, per);
                        first = false;
                }
        }
        P(r, "</g>\n");
}

static void svg_yaxis(rep_t *r, double ymax, double step, bool percent) {
        svg_axes(r, ymax, step, percent, true);
}

/* Shared y-scale of a percentage chart: a nice maximum >= v. */
void rp_ratio_scale(double v, double *ymax, double *step) {
        static const double s[][2] = {
                {0.05, 0.01}, {0.10, 0.02}, {0.20, 0.05}, {0.25, 0.05},
                {0.30, 0.10}, {0.40, 0.10}, {0.50, 0.10}, {0.60, 0.20},
                {0.80, 0.20}, {1.00, 0.20},
        };
        for (size_t i = 0; i < VG_ARRAY_SIZE(s); i++)
                if (v <= s[i][0] + 1e-9) {
                        *ymax = s[i][0];
                        *step = s[i][1];
                        return;
                }
        *ymax = ceil(v * 2) / 2;
        *step = *ymax / 5;
}

void rp_count_scale(int64_t v, int64_t *ymax, int64_t *step) {
        int64_t raw, m = 1;
        if (v < 1)
                v = 1;
        raw = (v + 4) / 5;      /* at most 5 steps */
        while (m * 10 <= raw)
                m *= 10;
        *step = raw <= m ? m : raw <= 2 * m ? 2 * m : raw <= 5 * m ? 5 * m
                                                                   : 10 * m;
        *ymax = (v + *step - 1) / *step * *step;
}


bool rp_pt_uncertain(const rep_t *r, const pt_t *p) {
        return p->set && p->den < r->rp_min_den;
}

/* Breaches are judged on complete values only (SPEC §5.4). */
bool rp_pt_missed(const rep_t *r, const line_t *l, const pt_t *p) {
        return p->set && !p->pre &&
               vg_agg_breach(&l->l_tg, p->num, p->den, r->rp_min_den);
}

/* data_since as a local date ("2026-01-01"), or "" when unknown. */
void rp_data_since_text(const rep_t *r, char *buf, size_t size) {
        int64_t ms;
        if (!r->rp_data_since || vg_time_parse(r->rp_data_since, &ms)) {
                snprintf(buf, size, "%s", "");
                return;
        }
        rp_fmt_local(r, ms, false, buf, size);
}

/* Light bands behind the months whose value rests on incomplete history
 * (history_complete = false), labelled once per run where there is room. */
static void svg_hist_bands(rep_t *r, const bool *nohist) {
        double bw = rp_band(r);
        for (size_t p = 0; nohist && p < r->rp_np; p++) {
                size_t q = p;
                double x0 = ML + bw * (double)p, w;
                char a[16], b[16];
                if (!nohist[p])
                        continue;
                while (q + 1 < r->rp_np && nohist[q + 1])
                        q++;
                w = bw * (double)(q - p + 1);
                rp_period_label(r, r->rp_periods[p], a, sizeof(a));
                rp_period_label(r, r->rp_periods[q], b, sizeof(b));
                PF(r, "<rect class=\"hist\" x=\"%.1f\" y=\"%d\" "
                      "width=\"%.1f\" height=\"%d\" fill=\"" C_HIST "\">"
                      "<title>%s%s%s%s</title></rect>",
                   x0, MT, w, PH, a, p == q ? "" : " \u2013 ",
                   p == q ? "" : b,
                   rp_t(r, ": incomplete history \u2013 the value rests on "
                           "history before the first event Vigil has"));
                if (w >= 92)
                        PF(r, "<text class=\"hl\" x=\"%.1f\" y=\"%d\">"
                              "%s</text>", x0 + 4, MT + 11,
                           rp_t(r, "incomplete history"));
                p = q;
        }
}

/* Above the scale (only values from very few cases can be: rp_sec_line)? */
static bool pt_clipped(const line_t *l, const pt_t *p) {
        return p->set && (double)p->num / (double)p->den > l->l_ymax + 1e-9;
}

static double pt_y(const line_t *l, const pt_t *p) {
        double v = (double)p->num / (double)p->den;
        if (v > l->l_ymax)
                v = l->l_ymax;
        return MT + PH - PH * v / l->l_ymax;
}

/* A polyline with breaks where months are missing or off the scale. With
 * pre, only the segments that end in a preliminary month (drawn dashed);
 * without, the others. */
static void svg_path(rep_t *r, const line_t *l, const pt_t *pts,
                     const char *cls, bool pre) {
        bool pen = false, any = false;
        for (size_t p = 0; p < r->rp_np; p++) {
                bool seg;
                if (!pts[p].set || pt_clipped(l, &pts[p])) {
                        pen = false;
                        continue;
                }
                seg = p > 0 && pts[p - 1].set &&
                      !pt_clipped(l, &pts[p - 1]) &&
                      (pts[p].pre || pts[p - 1].pre) == pre;
                if (!seg) {
                        pen = false;
                        continue;
                }
                if (!any)
                        PF(r, "<path class=\"%s\" d=\"", cls);
                any = true;
                if (!pen)
                        PF(r, " M%.1f %.1f", xc(r, p - 1),
                           pt_y(l, &pts[p - 1]));
                PF(r, " L%.1f %.1f", xc(r, p), pt_y(l, &pts[p]));
                pen = true;
        }
        if (any)
                P(r, "\"/>\n");
}

/* Points of pts (or NULL) inside the box x0..x1, ya..yb (baseline). */
static int hits(const rep_t *r, const line_t *l, const pt_t *pts, double x0,
                double x1, double ya, double yb) {
        int n = 0;
        for (size_t p = 0; pts && p < r->rp_np; p++) {
                double x = xc(r, p), y;
                if (!pts[p].set || x < x0 - 5 || x > x1 + 5)
                        continue;
                y = pt_clipped(l, &pts[p]) ? MT : pt_y(l, &pts[p]);
                n += y > ya - 5 && y < yb + 5;
        }
        return n;
}

/* Characters (not bytes) of UTF-8 text s. */
static size_t utf8_chars(const char *s) {
        size_t n = 0;
        for (; *s; s++)
                n += ((unsigned char)*s & 0xc0) != 0x80;
        return n;
}

/* "target <= 10%" next to the target line at y: right or left, above or
 * below, wherever it covers the fewest points. */
static void target_label(rep_t *r, const line_t *l, double y,
                         const char *tt) {
        /* about the label's width; wider in a language with a longer word */
        const double w = 84 + 6 * ((double)utf8_chars(rp_t(r, "target %s")) -
                                   (double)strlen("target %s"));
        struct { double x; const char *anchor; double base; } c[4] = {
                {CW - MR - 2, "end", y - 5},
                {CW - MR - 2, "end", y + 13},
                {ML + 4, "start", y - 5},
                {ML + 4, "start", y + 13},
        };
        int best = 0, best_n = 1 << 30;
        for (int i = 0; i < 4; i++) {
                double x0 = c[i].anchor[0] == 'e' ? c[i].x - w : c[i].x;
                int n;
                if (c[i].base - 10 < MT || c[i].base > MT + PH)
                        continue; /* off the plot */
                n = hits(r, l, l->l_pts, x0, x0 + w, c[i].base - 10,
                         c[i].base) * 2 +
                    hits(r, l, l->l_ref, x0, x0 + w, c[i].base - 10,
                         c[i].base);
                if (n < best_n) {
                        best = i;
                        best_n = n;
                }
        }
        PF(r, "<text class=\"tl\" x=\"%.1f\" y=\"%.1f\" "
              "text-anchor=\"%s\">",
           c[best].x, c[best].base, c[best].anchor);
        PF(r, rp_tf(r, "target %s"), tt);
        P(r, "</text>\n");
}

void rp_svg_line(rep_t *r, const line_t *l, const char *title,
                 const char *desc) {
        bool nohist[512];
        svg_open(r, title, desc);
        for (size_t p = 0; p < r->rp_np && p < VG_ARRAY_SIZE(nohist); p++)
                nohist[p] = l->l_pts[p].set && l->l_pts[p].nohist;
        if (r->rp_np <= VG_ARRAY_SIZE(nohist))
                svg_hist_bands(r, nohist);
        svg_yaxis(r, l->l_ymax, l->l_step, true);
        if (l->l_tg.tg_set && l->l_tg.tg_target <= l->l_ymax) {
                double y = MT + PH - PH * l->l_tg.tg_target / l->l_ymax;
                char tt[32];
                rp_target_text(r, &l->l_tg, tt, sizeof(tt));
                PF(r, "<line class=\"target\" x1=\"%d\" x2=\"%d\" y1=\"%.1f\" "
                      "y2=\"%.1f\"/>", ML, CW - MR, y, y);
                target_label(r, l, y, tt);
        }
        if (l->l_ref) {
                svg_path(r, l, l->l_ref, "ref", false);
                svg_path(r, l, l->l_ref, "ref refp", true);
        }
        svg_path(r, l, l->l_pts, "val", false);
        svg_path(r, l, l->l_pts, "val valp", true);
        for (size_t p = 0; p < r->rp_np; p++) {
                const pt_t *pt = &l->l_pts[p];
                char v[16], per[16];
                bool unc, miss;
                if (!pt->set)
                        continue;
                unc = rp_pt_uncertain(r, pt);
                miss = rp_pt_missed(r, l, pt);
                rp_pct((double)pt->num / (double)pt->den, v, sizeof(v));
                rp_period_label(r, r->rp_periods[p], per, sizeof(per));
                if (pt_clipped(l, pt)) {
                        double x = xc(r, p);
                        PF(r, "<path class=\"clip%s\" d=\"M%.1f %d L%.1f %d "
                              "L%.1f %d Z\"%s><title>",
                           pt->pre ? " prelim" : "", x - 5, MT + 5, x,
                           MT - 4, x + 5, MT + 5,
                           pt->pre ? " fill=\"none\"" : "");
                        PF(r, rp_tf(r, "%s: %s (%lld of %lld) \u2013 %svery "
                                       "few cases; above the scale%s"),
                           per, v, (long long)pt->num, (long long)pt->den,
                           pt->pre ? rp_t(r, "preliminary (not settled yet); ")
                                   : "",
                           pt->nohist ? rp_t(r, "; incomplete history") : "");
                        P(r, "</title></path>");
                        continue;
                }
                /* preliminary: a hollow ring, never "misses the target" */
                PF(r, "<circle class=\"%s\" cx=\"%.1f\" cy=\"%.1f\" "
                      "r=\"%s\"%s><title>",
                   pt->pre ? "prelim" : unc ? "unc" : miss ? "miss" : "pt",
                   xc(r, p), pt_y(l, pt),
                   pt->pre ? (unc ? "4" : "5") : unc ? "3.6" : "4",
                   pt->pre ? " fill=\"none\"" : "");
                PF(r, rp_tf(r, "%s: %s (%lld of %lld)"), per, v,
                   (long long)pt->num, (long long)pt->den);
                PF(r, "%s%s%s</title></circle>",
                   pt->pre ? rp_t(r, " \u2013 preliminary: not settled yet")
                           : "",
                   unc ? rp_t(r, " \u2013 uncertain: few cases")
                       : miss ? rp_t(r, " \u2013 misses the target") : "",
                   pt->nohist ? rp_t(r, " \u2013 incomplete history") : "");
        }
        P(r, "</svg>\n");
}


void rp_svg_bars(rep_t *r, const bars_t *b, const char *title,
                 const char *desc) {
        double bw = rp_band(r) * 0.62;
        double ymax = b->b_share ? 1.0 : (double)b->b_ymax;
        if (bw > 44)
                bw = 44;
        svg_open(r, title, desc);
        /* white stripes over uncertain bars (ids are per chart) */
        PF(r, "<defs><pattern id=\"h%d\" width=\"6\" height=\"6\" "
              "patternUnits=\"userSpaceOnUse\" "
              "patternTransform=\"rotate(45)\"><rect width=\"2.2\" "
              "height=\"6\" fill=\"#fff\" fill-opacity=\"0.7\"/>"
              "</pattern></defs>", r->rp_seq);
        svg_hist_bands(r, b->b_nohist);
        svg_yaxis(r, ymax, b->b_share ? 0.25 : (double)b->b_step, b->b_share);
        for (size_t p = 0; p < r->rp_np; p++) {
                double acc = 0, x = xc(r, p) - bw / 2;
                char per[16];
                bool unc = b->b_share && b->b_tot[p] > 0 &&
                           b->b_tot[p] < r->rp_min_den;
                bool pre = b->b_pre && b->b_pre[p];
                if (!b->b_tot[p])
                        continue;
                rp_period_label(r, r->rp_periods[p], per, sizeof(per));
                P(r, "<g>");
                for (size_t s = 0; s < b->b_nser; s++) {
                        double v = b->b_v[s * r->rp_np + p];
                        double h = PH * v / ymax, y;
                        if (v <= 0)
                                continue;
                        y = MT + PH - PH * (acc + v) / ymax;
                        acc += v;
                        /* preliminary: outlined, faintly filled */
                        PF(r, "<rect%s x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
                              "height=\"%.1f\" fill=\"%s\"",
                           pre ? " class=\"prelim\"" : "", x, y, bw, h,
                           b->b_colors[s]);
                        if (pre)
                                PF(r, " fill-opacity=\"0.28\" stroke=\"%s\" "
                                      "stroke-width=\"1.4\"",
                                   b->b_colors[s]);
                        P(r, "><title>");
                        E(r, b->b_names[s]);
                        if (b->b_share)
                                PF(r, rp_tf(r, ", %s: %.0f of %lld (%.1f%%)"),
                                   per, v * (double)b->b_tot[p],
                                   (long long)b->b_tot[p], v * 100);
                        else
                                PF(r, ", %s: %.0f", per, v);
                        if (pre)
                                P(r, rp_t(r, " \u2013 preliminary: not "
                                             "settled yet"));
                        P(r, "</title></rect>");
                }
                if (unc) {
                        PF(r, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
                              "height=\"%.1f\" fill=\"url(#h%d)\"><title>",
                           x, MT + PH - PH * acc / ymax, bw, PH * acc / ymax,
                           r->rp_seq);
                        PF(r, rp_tf(r, "%s: %lld deaths, fewer than %lld: "
                                       "uncertain"),
                           per, (long long)b->b_tot[p],
                           (long long)r->rp_min_den);
                        P(r, "</title></rect>");
                }
                /* n above the bar; uncertain months get a mark */
                PF(r, "<text class=\"n\" x=\"%.1f\" y=\"%.1f\" "
                      "text-anchor=\"middle\">%s%lld%s</text>",
                   xc(r, p), MT + PH - PH * acc / ymax - 4,
                   b->b_share ? "n=" : "", (long long)b->b_tot[p],
                   unc ? "*" : "");
                if (pre && acc > 0) {
                        /* inside the bar's top, or above its n if short */
                        double top = MT + PH - PH * acc / ymax;
                        PF(r, "<text class=\"pl\" x=\"%.1f\" y=\"%.1f\" "
                              "text-anchor=\"middle\">%s</text>",
                           xc(r, p), PH * acc / ymax >= 22 ? top + 13
                                                           : top - 15,
                           rp_t(r, "prel."));
                }
                P(r, "</g>\n");
        }
        P(r, "</svg>\n");
}

/* ------------------------------------------------------------------------
 * Funnel plot: each kommun's value against its number of cases, with the
 * 95 % and 99.8 % limits around the reference value p0 (the normal
 * approximation of the binomial: p0 +- z * sqrt(p0 (1 - p0) / n)).
 */

static double funnel_x(double n, double nmax) {
        return ML + PW * n / nmax;
}

static double funnel_y(double v, double ymax) {
        return MT + PH - PH * v / ymax;
}

/* One limit curve, z standard deviations from p0 (clipped to 0 .. ymax). */
static void funnel_limit(rep_t *r, const funnel_t *f, double z, double nmax,
                         double ymax, const char *cls) {
        double sd1 = sqrt(f->f_p0 * (1 - f->f_p0));
        P(r, "<path class=\"");
        P(r, cls);
        P(r, "\" d=\"");
        for (int i = 0; i <= 60; i++) {
                /* denser where the funnel bends: n from 1 up, quadratic */
                double n = 1 + (nmax - 1) * (double)(i * i) / 3600.0;
                double v = f->f_p0 + z * sd1 / sqrt(n);
                if (v < 0)
                        v = 0;
                if (v > ymax)
                        v = ymax;
                PF(r, "%s%.1f %.1f", i ? " L" : "M", funnel_x(n, nmax),
                   funnel_y(v, ymax));
        }
        P(r, "\"/>");
}

void rp_svg_funnel(rep_t *r, const funnel_t *f, const char *title,
                   const char *desc) {
        double nmax = 1, vmax = f->f_p0, ymax, step;
        int64_t xmax, xstep;
        svg_open(r, title, desc);
        for (size_t i = 0; i < f->f_n; i++) {
                double v = (double)f->f_pts[i].f_num /
                           (double)f->f_pts[i].f_den;
                if ((double)f->f_pts[i].f_den > nmax)
                        nmax = (double)f->f_pts[i].f_den;
                if (v > vmax)
                        vmax = v;
        }
        rp_count_scale((int64_t)ceil(nmax), &xmax, &xstep);
        nmax = (double)xmax;
        if (f->f_tg.tg_set && f->f_tg.tg_target > vmax)
                vmax = f->f_tg.tg_target;
        rp_ratio_scale(vmax * 1.1 > 1.0 && vmax <= 1.0 ? 1.0 : vmax * 1.1,
                       &ymax, &step);
        svg_axes(r, ymax, step, true, false);
        /* x axis: cases */
        P(r, "<g class=\"ax\">");
        for (int64_t n = 0; n <= xmax; n += xstep)
                PF(r, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%lld"
                      "</text>", funnel_x((double)n, nmax), MT + PH + 16,
                   (long long)n);
        PF(r, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">%s</text>",
           ML + PW / 2, CH - 4, rp_t(r, "cases"));
        P(r, "</g>");
        if (f->f_p0 > 0 && f->f_p0 < 1) {
                funnel_limit(r, f, 3.09, nmax, ymax, "lim998");
                funnel_limit(r, f, -3.09, nmax, ymax, "lim998");
                funnel_limit(r, f, 1.96, nmax, ymax, "lim95");
                funnel_limit(r, f, -1.96, nmax, ymax, "lim95");
        }
        PF(r, "<line class=\"p0\" x1=\"%d\" x2=\"%d\" y1=\"%.1f\" "
              "y2=\"%.1f\"/>", ML, CW - MR, funnel_y(f->f_p0, ymax),
           funnel_y(f->f_p0, ymax));
        if (f->f_tg.tg_set && f->f_tg.tg_target <= ymax)
                PF(r, "<line class=\"target\" x1=\"%d\" x2=\"%d\" "
                      "y1=\"%.1f\" y2=\"%.1f\"/>", ML, CW - MR,
                   funnel_y(f->f_tg.tg_target, ymax),
                   funnel_y(f->f_tg.tg_target, ymax));
        for (size_t i = 0; i < f->f_n; i++) {
                const fpt_t *p = &f->f_pts[i];
                double v = (double)p->f_num / (double)p->f_den;
                char name[128], pv[16];
                bool out998 = !isnan(p->f_z) && fabs(p->f_z) > 3.09;
                bool out95 = !isnan(p->f_z) && fabs(p->f_z) > 1.96;
                rp_area_text(r, p->f_area, name, sizeof(name));
                rp_pct(v, pv, sizeof(pv));
                PF(r, "<circle class=\"%s\" cx=\"%.1f\" cy=\"%.1f\" r=\"3.6\">"
                      "<title>", out998 ? "miss" : out95 ? "unc" : "pt",
                   funnel_x((double)p->f_den, nmax), funnel_y(v, ymax));
                E(r, name);
                PF(r, rp_tf(r, ": %s (%lld of %lld)"), pv,
                   (long long)p->f_num, (long long)p->f_den);
                PF(r, "%s</title></circle>",
                   out998 ? rp_t(r, " \u2013 outside the 99.8 % limits")
                   : out95 ? rp_t(r, " \u2013 outside the 95 % limits")
                           : "");
        }
        P(r, "</svg>\n");
}
