/*
 * sim_story.c - one patient's care story for `vigil simulate`: the model's
 * constants, then the event builders, hospital stays (dispositions,
 * transfers, readmissions), short-term care, palliative unit respite, SSIH,
 * the move to a nursing home, and the last phase before death. The model
 * is described in sim_model.h.
 */
#include "sim_model.h"

#include <string.h>

#include <openssl/evp.h>

/* ------------------------------------------------------------------ */
/* Model constants                                                    */
/* ------------------------------------------------------------------ */

/* Indexed by vg_diag_t: CANCER, COPD, HEART_FAILURE, KIDNEY_FAILURE,
 * DEMENTIA, OTHER. */
static const double diag_share[VG_DG__CNT] = {.35, .12, .17, .07, .13, .16};
/* Unplanned and planned hospital admissions per year. */
static const double unplanned_rate[VG_DG__CNT] = {0.85, 1.2, 1.3, 1.0, 0.6,
                                                  0.5};
static const double planned_rate[VG_DG__CNT] = {1.1, 0.3, 0.4, 0.7, 0.06,
                                                0.5};
/* Probability that an index discharge is followed by a readmission. */
static const double readm_prob[VG_DG__CNT] = {.01, .03, .03, .02, .01, .01};
/* Death hazard per year. */
static const double death_hazard[VG_DG__CNT] = {.90, .36, .45, .40, .58,
                                                .18};
/* Share of deaths that were expected. */
static const double expected_prob[VG_DG__CNT] = {.92, .60, .60, .65, .88,
                                                 .50};

/* Place of death weights, indexed by vg_place_t: HOSPITAL, PALLIATIVE_UNIT,
 * NURSING_HOME, SHORT_TERM_CARE, HOME, HOME_WITH_SSIH, OTHER, UNKNOWN. */
static const double pod_resident[VG_POD__CNT] = {14, 0, 82, 0, 0, 0, 2, 2};
static const double pod_cancer[VG_POD__CNT] = {38, 14, 8, 6, 9, 19, 3, 2};
static const double pod_other[VG_POD__CNT] = {46, 3, 24, 6, 15, 3, 2, 1};

/* Residence weights, indexed by vg_residence_t: ORDINARY_HOME,
 * NURSING_HOME, SHORT_TERM_CARE, OTHER, UNKNOWN. */
static const double res_resident[VG_RES__CNT] = {0, 95, 0, 0, 5};
static const double res_home[VG_RES__CNT] = {88, 0, 3, 5, 4};
static const double res_home_80[VG_RES__CNT] = {86, 0, 5, 5, 4};

/* Register entries: the share of deaths registered, of those the share
 * registered late (60-200 days). */
#define REG_EXPECTED   0.875
#define REG_UNEXPECTED 0.25
#define REG_LATE       0.10
#define REG_FLIP       0.05  /* entry's expected differs from the death's */
#define REG_UNKNOWN    0.03  /* UNKNOWN answers */
/* YES rate of each answer (vg_question_t) for the kommun with the lowest
 * and the highest quality score. */
static const double ans_lo[VG_Q__CNT] = {.80, .75, .70, .70, .92,
                                         .86, .75, .80, .75, .65};
static const double ans_hi[VG_Q__CNT] = {.90, .90, .85, .85, .985,
                                         .94, .85, .90, .85, .75};

/* ------------------------------------------------------------------ */
/* Event builders                                                     */
/* ------------------------------------------------------------------ */

static bool municipal(int setting) {
        return setting == VG_CS_SHORT_TERM_CARE ||
               setting == VG_CS_NURSING_HOME;
}

static sim_ev_t *gen_add(sim_gen_t *g, vg_rectype_t type, int64_t at) {
        sim_ev_t *e;
        if (g->nev == g->cap) {
                g->cap = g->cap ? g->cap * 2 : 64;
                g->ev = vg_realloc(g->ev, g->cap * sizeof(*g->ev));
        }
        e = &g->ev[g->nev];
        memset(e, 0, sizeof(*e));
        e->se_at = floor_sec(at);
        e->se_type = (uint8_t)type;
        e->se_seq = (uint32_t)g->nev;
        g->nev++;
        return e;
}

static int gen_admit(sim_gen_t *g, int setting, int hosp, int64_t at,
                     bool planned) {
        sim_ev_t *e = gen_add(g, VG_REC_ADMISSION, at);
        e->se_stay = (uint16_t)++g->nstays;
        e->se_setting = (uint8_t)setting;
        e->se_hosp = (uint8_t)hosp;
        e->se_flags = (planned ? SF_PLANNED : 0) |
                      (municipal(setting) ? SF_KOMMUN : 0);
        return g->nstays;
}

static void gen_discharge(sim_gen_t *g, int stay, int setting, int hosp,
                          int64_t at, int disp, bool needs) {
        sim_ev_t *e = gen_add(g, VG_REC_DISCHARGE, at);
        e->se_stay = (uint16_t)stay;
        e->se_setting = (uint8_t)setting;
        e->se_hosp = (uint8_t)hosp;
        e->se_code = (uint8_t)disp;
        e->se_flags = (needs ? SF_NEEDS : 0) |
                      (municipal(setting) ? SF_KOMMUN : 0);
}

/* A SIP at `at`, unless the patient is dead by then. */
static void gen_sip(sim_gen_t *g, int64_t at) {
        sim_ev_t *e;
        if (g->dies && at > g->death_at)
                return;
        e = gen_add(g, VG_REC_SIP, at);
        e->se_stay = (uint16_t)++g->nsips;
        e->se_flags = SF_KOMMUN;
}

/* The SIP, if any, of a hospital discharge needing coordination. */
static void gen_discharge_sip(sim_gen_t *g, int64_t adm, int64_t dis) {
        double r = rng_u01(&g->rng);
        if (r < 0.70) {
                if (rng_bern(&g->rng, 0.2)) {  /* during the stay */
                        double f = 0.3 + 0.65 * rng_u01(&g->rng);
                        gen_sip(g, adm + (int64_t)((double)(dis - adm) * f));
                } else
                        gen_sip(g, dis + rng_ms(&g->rng, HOUR, 70 * HOUR));
        } else if (r < 0.83) {
                int64_t late = days_ms(rng_exp(&g->rng, 4.0));
                if (late > 42 * DAY)
                        late = 42 * DAY;
                gen_sip(g, dis + 73 * HOUR + late);
        }
}

static void gen_move_nh(sim_gen_t *g, int64_t at) {
        g->nh_stay = gen_admit(g, VG_CS_NURSING_HOME, g->hosp, at, true);
        g->resident = true;
        if (rng_bern(&g->rng, 0.4))
                gen_sip(g, at + rng_ms(&g->rng, 0, 14 * DAY));
}

static void gen_ssih(sim_gen_t *g, int64_t from, int64_t to, int disp) {
        int stay = gen_admit(g, VG_CS_SSIH, g->hosp, from, true);
        gen_discharge(g, stay, VG_CS_SSIH, g->hosp, to, disp,
                      disp == VG_DISP_HOME);
        g->ssih_from = from;
        g->ssih_to = to;
        if (rng_bern(&g->rng, 0.5)) {
                int64_t at = from + rng_ms(&g->rng, 0, 10 * DAY);
                if (at < to)
                        gen_sip(g, at);
        }
}

static bool in_ssih(const sim_gen_t *g, int64_t t) {
        return g->ssih_from != NEVER && t >= g->ssih_from && t < g->ssih_to;
}

/* ------------------------------------------------------------------ */
/* Stays                                                              */
/* ------------------------------------------------------------------ */

static int pick_disposition(sim_gen_t *g, bool planned, bool no_transfer) {
        /* HOME, NURSING_HOME, SHORT_TERM_CARE, PALLIATIVE_UNIT,
         * TRANSFER_ACUTE, AGAINST_ADVICE, DIED, OTHER */
        double w[8] = {72, 0.5, 5, 0, 4.5, 1.5, 0, 4};
        if (g->resident) {
                w[0] = 0;
                w[1] = 88;
                w[2] = 1;
                w[5] = 0.5;
                w[7] = 3;
        } else if (g->age >= 75) {
                w[1] = 3;
                w[2] = 12;
        }
        if (planned) {
                w[2] *= 0.4;
                w[4] = 1;
                w[5] = 0.2;
        }
        if (no_transfer || g->sim->hosp[g->hosp].referral < 0)
                w[4] = 0;
        return rng_pick(&g->rng, w, 8);
}

static bool pick_needs(sim_gen_t *g, int disp, bool planned) {
        double p = g->age < 65 ? .10 : g->age < 75 ? .25 : g->age < 85 ? .42
                                                                        : .55;
        if (g->diag != VG_DG_CANCER && g->diag != VG_DG_OTHER)
                p += .12;  /* chronic, usually multimorbid */
        if (planned)
                p *= .5;
        switch (disp) {
        case VG_DISP_SHORT_TERM_CARE:
                p = p > .85 ? p : .85;
                break;
        case VG_DISP_NURSING_HOME:
                if (!g->resident)
                        p = .8;
                break;
        case VG_DISP_PALLIATIVE_UNIT:
                p = .7;
                break;
        case VG_DISP_TRANSFER_ACUTE:
                p = .05;
                break;
        case VG_DISP_AGAINST_ADVICE:
                p = .3;
                break;
        case VG_DISP_DIED:
                p = 0;
                break;
        }
        return rng_bern(&g->rng, p > .95 ? .95 : p);
}

#define HS_NO_TRANSFER 0x1  /* a transfer continuation: no further transfer */
#define HS_NO_FOLLOW   0x2  /* forced disposition: the caller generates what
                             * follows; no readmission is scheduled */

static int64_t gen_stc(sim_gen_t *g, int64_t at, int64_t horizon);

/* A HOSPITAL_INPATIENT stay at hospital hosp admitted at adm, and what
 * follows its discharge (a SIP, a scheduled readmission, a transfer
 * continuation, a short-term care stay, a move to a nursing home). Nothing
 * reaches horizon: the stay is cut short to end an hour before it if
 * needed. dis > 0 fixes the discharge instant; disp < 0 picks the
 * disposition. Returns when the patient is back where they live, or
 * horizon if the stay could not start. */
static int64_t gen_hstay(sim_gen_t *g, int hosp, int64_t adm, int64_t dis,
                         bool planned, int64_t horizon, int disp,
                         unsigned flags) {
        bool cut = false, needs;
        int stay;

        if (adm >= horizon - 3 * HOUR)
                return horizon;
        if (dis <= 0) {
                double los = rng_lognormal(&g->rng, planned ? 3.0 : 5.5,
                                           planned ? 0.7 : 0.85);
                int64_t los_days = los > 120 ? 120 : (int64_t)los;
                dis = local_midnight(local_day(adm) + los_days) + 9 * HOUR +
                      rng_ms(&g->rng, 0, 8 * HOUR);
                if (dis < adm + 2 * HOUR)
                        dis = adm + 2 * HOUR + rng_ms(&g->rng, 0, 6 * HOUR);
        }
        if (dis > horizon - HOUR) {
                dis = horizon - HOUR;
                cut = true;
        }
        if (disp < 0) {
                disp = pick_disposition(g, planned, flags & HS_NO_TRANSFER);
                /* No room for what would follow. */
                if ((cut || dis + 8 * HOUR >= horizon) &&
                    (disp == VG_DISP_TRANSFER_ACUTE ||
                     disp == VG_DISP_SHORT_TERM_CARE ||
                     disp == VG_DISP_NURSING_HOME))
                        disp = g->resident ? VG_DISP_NURSING_HOME
                                           : VG_DISP_HOME;
        }
        needs = pick_needs(g, disp, planned);
        stay = gen_admit(g, VG_CS_HOSPITAL_INPATIENT, hosp, adm, planned);
        gen_discharge(g, stay, VG_CS_HOSPITAL_INPATIENT, hosp, dis, disp,
                      needs);
        if (needs && disp != VG_DISP_TRANSFER_ACUTE && disp != VG_DISP_DIED)
                gen_discharge_sip(g, adm, dis);
        if (flags & HS_NO_FOLLOW)
                return dis;
        if (disp != VG_DISP_TRANSFER_ACUTE) {
                double p = readm_prob[g->diag];
                if (planned)
                        p *= 0.4;
                if (disp == VG_DISP_AGAINST_ADVICE)
                        p *= 2;
                if (rng_bern(&g->rng, p)) {
                        double d = 0.2 + rng_exp(&g->rng, 7.0);
                        if (d < 30)
                                g->readm = dis + days_ms(d);
                }
        }
        switch (disp) {
        case VG_DISP_TRANSFER_ACUTE:
                return gen_hstay(g, g->sim->hosp[hosp].referral,
                                 dis + rng_ms(&g->rng, 20 * MINUTE, 4 * HOUR),
                                 0, false, horizon, -1,
                                 flags | HS_NO_TRANSFER);
        case VG_DISP_SHORT_TERM_CARE:
                return gen_stc(g, dis + rng_ms(&g->rng, HOUR, 6 * HOUR),
                               horizon);
        case VG_DISP_NURSING_HOME:
                if (!g->resident) {
                        int64_t at = dis + rng_ms(&g->rng, HOUR, 6 * HOUR);
                        gen_move_nh(g, at);
                        return at;
                }
                return dis;
        default:
                return dis;
        }
}

/* A short-term care (korttidsplats) stay after a hospital discharge. It
 * ends early, TRANSFER_ACUTE, when a scheduled readmission falls inside. */
static int64_t gen_stc(sim_gen_t *g, int64_t at, int64_t horizon) {
        int64_t end;
        int stay, disp;
        double r;

        if (at >= horizon - 3 * HOUR)
                return horizon;
        stay = gen_admit(g, VG_CS_SHORT_TERM_CARE, g->hosp, at, false);
        end = at + days_ms(rng_lognormal(&g->rng, 12, 0.6));
        end = local_midnight(local_day(end)) + 10 * HOUR +
              rng_ms(&g->rng, 0, 5 * HOUR);
        if (end < at + 4 * HOUR)
                end = at + 4 * HOUR;
        r = rng_u01(&g->rng);
        disp = r < .72 ? VG_DISP_HOME
               : r < .92 && !g->resident ? VG_DISP_NURSING_HOME
                                         : VG_DISP_OTHER;
        if (g->readm != NEVER && g->readm < end && g->readm > at + 2 * HOUR) {
                end = g->readm - rng_ms(&g->rng, 30 * MINUTE, 90 * MINUTE);
                disp = VG_DISP_TRANSFER_ACUTE;
        }
        if (end > horizon - HOUR) {
                end = horizon - HOUR;
                disp = VG_DISP_HOME;
        }
        gen_discharge(g, stay, VG_CS_SHORT_TERM_CARE, g->hosp, end, disp,
                      disp == VG_DISP_NURSING_HOME);
        if (disp == VG_DISP_NURSING_HOME) {
                int64_t mv = end + rng_ms(&g->rng, HOUR, 4 * HOUR);
                if (mv < horizon) {
                        gen_move_nh(g, mv);
                        return mv;
                }
        }
        return end;
}

/* A palliative unit stay during SSIH (symptom control, respite). */
static int64_t gen_pu_respite(sim_gen_t *g, int64_t at, int64_t horizon) {
        int64_t end;
        int stay;

        if (at >= horizon - 3 * HOUR)
                return horizon;
        end = at + days_ms(rng_lognormal(&g->rng, 7, 0.5));
        if (end > horizon - HOUR)
                end = horizon - HOUR;
        stay = gen_admit(g, VG_CS_PALLIATIVE_UNIT, g->hosp, at, false);
        gen_discharge(g, stay, VG_CS_PALLIATIVE_UNIT, g->hosp, end,
                      VG_DISP_HOME, false);
        return end;
}

/* ------------------------------------------------------------------ */
/* A patient's life                                                   */
/* ------------------------------------------------------------------ */

/* Admissions per day at t. */
static double rate_unplanned(const sim_gen_t *g, int64_t t) {
        double r = unplanned_rate[g->diag];
        r *= g->age < 65 ? 0.7 : g->age < 80 ? 1.0 : 1.2;
        if (g->resident)
                r *= 0.8;
        if (g->dies) {
                double left = (double)(g->death_at - t) / (double)DAY;
                if (left < 90)
                        r *= 1 + 2 * (1 - (left > 0 ? left : 0) / 90);
        }
        return r / 365.0;
}

static double rate_planned(const sim_gen_t *g, int64_t t) {
        if (g->dies && g->death_at - t < 45 * DAY)
                return 0;
        return planned_rate[g->diag] * (g->resident ? 0.3 : 1.0) / 365.0;
}

/* First weekday 07:00-09:00 local at or after `at`. */
static int64_t next_weekday_morning(sim_gen_t *g, int64_t at) {
        int64_t day = local_day(at);
        if (at >= local_midnight(day) + 7 * HOUR)
                day++;
        while (weekday(day) == 0 || weekday(day) == 6)
                day++;
        return local_midnight(day) + 7 * HOUR + rng_ms(&g->rng, 0, 2 * HOUR);
}

/* The move to a nursing home that a NURSING_HOME death needs, at move_at
 * (or now, if that is past): often through a hospital stay. */
static int64_t gen_forced_move(sim_gen_t *g, int64_t t, int64_t move_at,
                               int64_t horizon) {
        int64_t at = move_at > t + HOUR ? move_at : t + HOUR;
        if (at >= horizon - 3 * HOUR)
                return horizon;
        if (rng_bern(&g->rng, 0.6)) {
                int64_t adm = at - days_ms(rng_lognormal(&g->rng, 5, 0.7));
                if (adm < t + HOUR)
                        adm = t + HOUR;
                return gen_hstay(g, g->hosp, adm, 0, false, horizon,
                                 VG_DISP_NURSING_HOME, 0);
        }
        gen_move_nh(g, at);
        return at;
}

/* Hospital episodes from `from`: a Poisson process of unplanned and
 * planned admissions plus scheduled readmissions, re-drawn at least every
 * 14 days as the rates change. No admission at or after stop; nothing at
 * or after horizon (>= stop; stays are cut short before it). */
static void gen_forward(sim_gen_t *g, int64_t from, int64_t stop,
                        int64_t horizon, int64_t move_at) {
        const int64_t step = 14 * DAY;
        int64_t t = from;

        while (t < stop) {
                double ru = rate_unplanned(g, t), rp = rate_planned(g, t);
                int64_t next = NEVER, lim = t + step, old;
                bool planned = false, is_readm = false;

                if (g->readm != NEVER && g->readm < t)
                        g->readm = NEVER;  /* fell inside another stay */
                if (ru + rp > 0) {
                        int64_t gap = days_ms(rng_exp(&g->rng,
                                                      1.0 / (ru + rp)));
                        if (gap < step) {
                                next = t + gap;
                                planned = rng_bern(&g->rng, rp / (ru + rp));
                        }
                }
                if (g->readm < lim && g->readm <= next) {
                        next = g->readm;
                        planned = false;
                        is_readm = true;
                }
                if (!g->resident && move_at != NEVER &&
                    move_at <= (next < lim ? next : lim)) {
                        t = gen_forced_move(g, t, move_at, horizon);
                        continue;
                }
                if (next == NEVER) {
                        t = lim;
                        continue;
                }
                if (planned)
                        next = next_weekday_morning(g, next);
                if (next >= stop)
                        break;
                old = g->readm;
                g->readm = NEVER;
                if (!planned && in_ssih(g, next) && rng_bern(&g->rng, 0.25)) {
                        t = gen_pu_respite(g, next, horizon);
                } else {
                        int hosp = g->hosp;
                        int ref = g->sim->hosp[hosp].referral;
                        if (planned && g->diag == VG_DG_CANCER && ref >= 0 &&
                            rng_bern(&g->rng, 0.15))
                                hosp = ref;  /* surgery at the referral
                                              * hospital */
                        t = gen_hstay(g, hosp, next, 0, planned, horizon, -1,
                                      0);
                }
                /* A planned stay does not cancel a pending readmission that
                 * is still ahead. */
                if (g->readm == NEVER && !is_readm && old != NEVER && old > t)
                        g->readm = old;
        }
}

/* The last phase before death, built backwards from it (see the top of
 * the file). Sets the horizon of ordinary hospital episodes and, for a
 * NURSING_HOME death, when the patient moves there. */
static void gen_death_setup(sim_gen_t *g, int64_t *horizonp,
                            int64_t *move_atp) {
        int64_t D = g->death_at;
        bool cancer = g->diag == VG_DG_CANCER;

        switch (g->pod) {
        case VG_POD_HOSPITAL: {
                double los = rng_lognormal(&g->rng, 4, 0.9);
                int64_t F = D - days_ms(los > 45 ? 45 : los);
                if (F > D - 3 * HOUR)
                        F = D - 3 * HOUR - rng_ms(&g->rng, 0, 6 * HOUR);
                gen_hstay(g, g->hosp, F, D, false, NEVER, VG_DISP_DIED,
                          HS_NO_FOLLOW);
                if (rng_bern(&g->rng, cancer ? .35 : .05))
                        gen_ssih(g, F - days_ms(3 + rng_exp(&g->rng, 30)), D,
                                 VG_DISP_DIED);
                *horizonp = F;
                break;
        }
        case VG_POD_PALLIATIVE_UNIT:
        case VG_POD_SHORT_TERM_CARE: {
                bool pu = g->pod == VG_POD_PALLIATIVE_UNIT;
                double len = pu ? 0.5 + rng_exp(&g->rng, 9)
                                : 1 + rng_exp(&g->rng, 10);
                int64_t P = D - days_ms(len > 60 ? 60 : len), first = P;
                int stay;
                if (rng_bern(&g->rng, pu ? .55 : .7)) {
                        int64_t dis = P - rng_ms(&g->rng, HOUR, 3 * HOUR);
                        double l = rng_lognormal(&g->rng, 4, 0.8);
                        first = dis - days_ms(l < 0.25 ? 0.25 : l);
                        gen_hstay(g, g->hosp, first, dis, false, D,
                                  pu ? VG_DISP_PALLIATIVE_UNIT
                                     : VG_DISP_SHORT_TERM_CARE,
                                  HS_NO_FOLLOW);
                }
                stay = gen_admit(g, pu ? VG_CS_PALLIATIVE_UNIT
                                       : VG_CS_SHORT_TERM_CARE,
                                 g->hosp, P, pu && rng_bern(&g->rng, .5));
                gen_discharge(g, stay, pu ? VG_CS_PALLIATIVE_UNIT
                                          : VG_CS_SHORT_TERM_CARE,
                              g->hosp, D, VG_DISP_DIED, false);
                if (pu && rng_bern(&g->rng, cancer ? .5 : .15))
                        gen_ssih(g, first - days_ms(5 + rng_exp(&g->rng, 40)),
                                 P - 30 * MINUTE, VG_DISP_PALLIATIVE_UNIT);
                *horizonp = first;
                break;
        }
        case VG_POD_NURSING_HOME:
                if (!g->resident) {
                        int64_t mv = D - days_ms(10 + rng_exp(&g->rng, 60));
                        if (mv <= g->warm) {
                                g->resident = true;  /* moved long ago */
                                g->nh_stay = 0;
                        } else
                                *move_atp = mv;
                }
                *horizonp = D - rng_ms(&g->rng, 6 * HOUR, 2 * DAY);
                break;
        case VG_POD_HOME_WITH_SSIH: {
                double len = 5 + rng_exp(&g->rng, 40);
                gen_ssih(g, D - days_ms(len > 240 ? 240 : len), D,
                         VG_DISP_DIED);
                *horizonp = D - rng_ms(&g->rng, 6 * HOUR, 2 * DAY);
                break;
        }
        default: /* HOME, OTHER, UNKNOWN */
                *horizonp = D - rng_ms(&g->rng, 2 * HOUR, 3 * DAY);
                break;
        }
        g->readm = NEVER;
}

static void gen_death_final(sim_gen_t *g) {
        sim_ev_t *e;
        if (g->pod == VG_POD_NURSING_HOME && g->nh_stay >= 0)
                gen_discharge(g, g->nh_stay, VG_CS_NURSING_HOME, g->hosp,
                              g->death_at, VG_DISP_DIED, false);
        e = gen_add(g, VG_REC_DEATH, g->death_at);
        e->se_code = (uint8_t)g->pod;
        e->se_flags = (g->expected ? SF_EXPECTED : 0) |
                      (g->pod == VG_POD_NURSING_HOME ||
                               g->pod == VG_POD_SHORT_TERM_CARE
                       ? SF_KOMMUN
                       : 0);
}

/* Residence (boendeform): where the patient lives at the end of the story
 * (sim_model.h); the same on every Admission and Death. */
static void gen_residence(sim_gen_t *g) {
        const double *w = g->resident ? res_resident
                          : g->age >= 80 ? res_home_80
                                         : res_home;
        g->p->sp_residence = (uint8_t)rng_pick(&g->rng_reg, w, VG_RES__CNT);
}

static int pick_answer(sim_rng_t *r, double yes) {
        double unk = REG_UNKNOWN, x = rng_u01(r);
        if (yes > 1)
                yes = 1;
        if (1 - yes < 2 * unk)
                unk = (1 - yes) / 2;
        return x < yes ? VG_ANS_YES : x < yes + unk ? VG_ANS_UNKNOWN
                                                    : VG_ANS_NO;
}

/* The Svenska palliativregistret entry of a death, if any (sim_model.h). */
static void gen_register(sim_gen_t *g) {
        sim_rng_t *r = &g->rng_reg;
        const sim_kommun_t *k = &g->sim->kom[g->p->sp_kommun];
        int64_t day, at;
        uint32_t ans = 0;
        double f, g24;
        bool expected = g->expected;
        sim_ev_t *e;

        if (!rng_bern(r, g->expected ? REG_EXPECTED : REG_UNEXPECTED))
                return;
        if (rng_bern(r, REG_LATE))
                day = 60 + (int64_t)(rng_u01(r) * 141);
        else {
                double d = rng_lognormal(r, 11, 0.7);
                day = d < 1 ? 1 : d > 40 ? 40 : (int64_t)d;
        }
        day += local_day(g->death_at);
        at = local_midnight(day) + 8 * HOUR + rng_ms(r, 0, 9 * HOUR);
        if (rng_bern(r, REG_FLIP))
                expected = !expected;
        f = g->expected ? 1.0 : 0.75;
        for (int q = 0; q < VG_Q__CNT; q++) {
                /* The kommun's score, a little different per question. */
                double u = k->spr_q + 0.15 * (rng_u01(r) - 0.5);
                u = u < 0 ? 0 : u > 1 ? 1 : u;
                ans |= (uint32_t)pick_answer(
                               r, f * (ans_lo[q] +
                                       u * (ans_hi[q] - ans_lo[q])))
                       << (2 * q);
        }
        {
                /* NONE, GRADE_1, GRADE_2_4, UNKNOWN */
                double w[4];
                g24 = 0.15 - 0.10 * k->spr_q;
                w[0] = 1 - 0.06 - 0.04 - g24;
                w[1] = 0.06;
                w[2] = g24;
                w[3] = 0.04;
                ans |= (uint32_t)rng_pick(r, w, 4) << SA_ULCER_SHIFT;
        }
        e = gen_add(g, VG_REC_REGISTER, at);
        e->se_answers = ans;
        e->se_code = (uint8_t)g->pod;
        e->se_hosp = (uint8_t)g->hosp;
        e->se_flags = expected ? SF_EXPECTED : 0;
}

static void patient_id(uint64_t seed, uint64_t idx, char *out) {
        unsigned char msg[32], md[EVP_MAX_MD_SIZE];
        unsigned int mdlen = 0;
        memcpy(msg, "vigil-simulate:", 16);
        for (int i = 0; i < 8; i++) {
                msg[16 + i] = (unsigned char)(seed >> (8 * i));
                msg[24 + i] = (unsigned char)(idx >> (8 * i));
        }
        if (!EVP_Digest(msg, sizeof(msg), md, &mdlen, EVP_sha256(), NULL) ||
            mdlen != 32) {
                /* No SHA-256 (should not happen): a splitmix64 pseudonym. */
                uint64_t x = seed ^ (idx * 0x9e3779b97f4a7c15ULL);
                for (int i = 0; i < 32; i += 8) {
                        uint64_t v = splitmix64(&x);
                        for (int j = 0; j < 8; j++)
                                md[i + j] = (unsigned char)(v >> (8 * j));
                }
        }
        vg_hex(out, md, 32);
}

/* Attributes, then the last phase (if the patient dies), then the hospital
 * episodes before it, then the death. */
void sim_gen_patient(vg_sim_t *sim, sim_gen_t *g, uint32_t idx) {
        sim_patient_t *p = &sim->pat[idx];
        int64_t start_day = local_day(sim->start), horizon, move_at = NEVER;
        double x, h, period_days;
        const double sex_w[3] = {52, 47.8, 0.2};

        g->nev = 0;
        g->nstays = g->nsips = 0;
        g->readm = g->ssih_from = g->ssih_to = NEVER;
        g->nh_stay = -1;
        g->warm = sim->start - WARMUP_DAYS * DAY;
        g->p = p;
        rng_seed(&g->rng, sim->seed, idx);
        /* A stream of its own, so that the rest of the story does not
         * depend on the register (--no-register). */
        rng_seed(&g->rng_reg, sim->seed ^ 0x5350524547495354ULL, idx);
        patient_id(sim->idseed, idx, p->sp_id);

        if (rng_bern(&g->rng, 0.08))
                g->age = 30 + (int)(rng_u01(&g->rng) * 35);
        else
                g->age = 65 + (int)(34 * (rng_u01(&g->rng) + rng_u01(&g->rng) +
                                          rng_u01(&g->rng)) / 3);
        p->sp_birth_day = start_day -
                          (int64_t)(((double)g->age + rng_u01(&g->rng)) *
                                    365.2425);
        p->sp_sex = (uint8_t)rng_pick(&g->rng, sex_w, 3);
        g->diag = rng_pick(&g->rng, diag_share, VG_DG__CNT);
        p->sp_diag = (uint8_t)g->diag;
        x = rng_u01(&g->rng) * sim->kom_total;
        p->sp_kommun = (uint16_t)(sim->nkom - 1);
        for (int i = 0; i < sim->nkom; i++) {
                if (x < sim->kom[i].weight) {
                        p->sp_kommun = (uint16_t)i;
                        break;
                }
                x -= sim->kom[i].weight;
        }
        g->hosp = sim->kom[p->sp_kommun].hosp;
        g->resident = rng_bern(&g->rng, g->diag == VG_DG_DEMENTIA ? .40
                                        : g->age >= 85             ? .18
                                                                   : .06);
        if (g->resident)
                g->nh_stay = 0;

        period_days = (double)(sim->end - sim->start) / (double)DAY;
        h = death_hazard[g->diag] *
            (g->age >= 85 ? 1.3 : g->age < 65 ? 0.6 : 1.0) *
            (g->resident ? 1.4 : 1.0);
        g->dies = rng_bern(&g->rng, 1 - exp(-h * period_days / 365.0));
        g->death_at = NEVER;
        if (g->dies) {
                g->death_at = floor_sec(
                        sim->start + rng_ms(&g->rng, 0, sim->end - sim->start));
                g->pod = rng_pick(&g->rng,
                                  g->resident ? pod_resident
                                  : g->diag == VG_DG_CANCER ? pod_cancer
                                                            : pod_other,
                                  VG_POD__CNT);
                g->expected = rng_bern(&g->rng, expected_prob[g->diag]);
        }

        /* A survivor's stays may go on after the period (what follows its
         * end is generated, then left out); the dying stop before death. */
        horizon = sim->end + 365 * DAY;
        if (g->dies)
                gen_death_setup(g, &horizon, &move_at);
        else if (g->diag == VG_DG_CANCER && rng_bern(&g->rng, 0.06)) {
                int64_t from = rng_ms(&g->rng, g->warm, sim->end);
                gen_ssih(g, from, from + days_ms(20 + rng_exp(&g->rng, 60)),
                         VG_DISP_HOME);
        }
        gen_forward(g, g->warm, horizon < sim->end ? horizon : sim->end,
                    horizon, move_at);
        p->sp_death_at = g->death_at;
        gen_residence(g);
        if (g->dies) {
                gen_death_final(g);
                if (sim->reg)
                        gen_register(g);
        }
}
