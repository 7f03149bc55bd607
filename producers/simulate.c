/*
 * simulate.c - `vigil simulate`: a realistic synthetic population of care
 * events (SPEC §3), as JSON Lines (SPEC §9) or produced to Kafka.
 *
 * The model (all figures are tunable constants below; observed rates on a
 * 2000-patient run are checked by tests/unit/test_simulate.c):
 *
 * Population. Each patient has a pseudonymous patient_id (hex SHA-256 of
 * the seed and the patient's index; never a personnummer), a date of birth
 * (age at the period start: 8 % 30-64, the rest 65-98 peaking around 81),
 * sex (52 % female, 0.2 % unknown), one diagnosis group (cancer 35 %,
 * heart failure 17 %, dementia 13 %, COPD 12 %, kidney failure 7 %, other
 * 16 %) and a home kommun drawn by population (vg_kommuner.c), which gives
 * the home hospital. Some live in a nursing home (SÄBO) from the start
 * (40 % of dementia, 18 % of the 85+, 6 % of others); others move there.
 *
 * Time. Everything is simulated from 60 days before the period (warm-up, so
 * the period opens with stays in progress) to its end; only events inside
 * [start, end) are emitted, so some discharges have their admission before
 * the period. Instants are whole seconds; "local" means Europe/Stockholm.
 *
 * Hospital stays (HOSPITAL_INPATIENT). Unplanned admissions arrive as a
 * Poisson process per patient (0.5-1.3 a year by diagnosis, x1.2 for the
 * 80+, x0.7 under 65, x0.8 in a nursing home, rising up to three-fold over
 * the last 90 days of life); planned (elective) admissions, mostly cancer
 * treatment, come on weekday mornings and stop 45 days before death:
 * about a quarter of admissions are planned. Length of stay is log-normal
 * (median 5.5 days unplanned, 3 planned, cut to whole days; discharges in
 * the daytime), so the median stay is about 4 days with a long tail.
 * Dispositions: mostly HOME (or back to the nursing home), ~8 %
 * SHORT_TERM_CARE (a municipal korttidsplats stay follows, median 12
 * days), a few NURSING_HOME for those not yet living there (the patient
 * moves), ~3 % TRANSFER_ACUTE (an unplanned admission at the referral
 * hospital 20 minutes to 4 hours later: a transfer continuation), ~1 %
 * AGAINST_ADVICE, some OTHER. needs_coordination is more likely for the
 * old, the chronically ill (multimorbid) and for discharges to municipal
 * care, rarely for planned stays and transfers.
 * Readmissions: this population is admitted often, so the background
 * process alone readmits about one index discharge in nine within 30 days;
 * on top of it a discharge schedules an extra unplanned readmission (home
 * hospital, 0.2-30 days later, skewed early) with probability 1-3 % by
 * diagnosis (x2 after AGAINST_ADVICE, x0.4 after a planned stay). Observed:
 * 12-15 % of index discharges readmitted within 30 local days.
 *
 * SIPs. For a hospital discharge needing coordination (not DIED or
 * TRANSFER_ACUTE): 70 % get a SipCreated within 72 hours (a fifth of these
 * already during the stay), 13 % a late one (73 hours to ~6 weeks), 17 %
 * none. Half of SSIH enrolments and 40 % of moves to a nursing home also
 * bring a SIP.
 *
 * Deaths. A patient dies in the period with probability 1 - exp(-h * days /
 * 365), h by diagnosis (cancer 0.9, dementia 0.58, heart failure 0.45,
 * kidney 0.4, COPD 0.36, other 0.18 a year; x1.3 at 85+, x0.6 under 65,
 * x1.4 in a nursing home): ~25 % over 180 days, ~38 % of cancer patients.
 * The death instant is uniform over the period. Place of death by diagnosis
 * and residence gives overall about hospital 38 %, nursing home 26-28 %,
 * home 8-12 %, home with SSIH 9 %, palliative unit 7 %, short-term care
 * 5 %, other/unknown 4-5 %; expected is true for ~90 % of cancer and dementia
 * deaths, 50-65 % of others. The last phase is built backwards from death:
 *   HOSPITAL         a final unplanned stay (median 4 days) ending with a
 *                    Discharge DIED at the death instant;
 *   PALLIATIVE_UNIT  a palliative unit stay (median ~9 days), often after a
 *                    hospital stay discharged PALLIATIVE_UNIT, Discharge
 *                    DIED at death;
 *   SHORT_TERM_CARE  likewise a korttidsplats stay;
 *   NURSING_HOME     a move to SÄBO weeks to months before (unless already
 *                    resident); the SÄBO stay gets a Discharge DIED;
 *   HOME_WITH_SSIH   an SSIH enrolment (median ~5 weeks) ending DIED;
 *   HOME, OTHER, UNKNOWN  nothing but the Death.
 * Palliative cancer patients are often enrolled in SSIH (specialised
 * palliative home care) before dying in hospital or a palliative unit;
 * during SSIH a quarter of unplanned admissions go to a palliative unit
 * (respite, discharged HOME). Some surviving cancer patients get SSIH too.
 * No event of a patient is later than their death instant; the Death and
 * the DIED discharges of ongoing stays share that instant.
 *
 * Errors of the publishing systems. Each event is cancelled with
 * probability --cancel-rate: a cancellation is a copy of the event's
 * record with a new event_id and cancels_event_id set, 5 minutes to 3 days
 * later (never after the death or the period); 70 % of cancelled events
 * are re-entered (same content, new event_id, same occurred_at), as after
 * HL7 A11/A13. Each event (cancellations too) is re-sent identically with
 * probability --dup-rate.
 *
 * Emission order. Events are emitted by occurred_at, each delayed by a
 * deterministic random 0..H hours (--out-of-order-hours), so consumers see
 * arrival up to H hours out of order; duplicates come after their
 * original. With H = 0 emission is in occurred_at order.
 *
 * Determinism: one xoshiro256** stream per patient, seeded by splitmix64
 * from (seed, patient index); the same options give byte-identical output.
 *
 * Ids: event_id "sim-<seed>-<n>", stay_id "st-<first 16 hex of
 * patient_id>-<k>" (k = 0 for a nursing home stay begun before the
 * simulation), sip_id "sip-<16 hex>-<k>"; facilities: hospital codes
 * (vg_kommuner.c), palliative units "PAL-ESK" etc., SSIH teams
 * "SSIH-<hospital>", municipal "K<kommun>-KTP" (short-term care) and
 * "K<kommun>-SABO"; source_system "sim-his" (region) or "sim-kommun".
 */
#include "vg_simulate.h"
#include "vg_kommuner.h"
#include "vg_producers.h"
#include "vg_cli.h"
#include "vg_codec.h"
#include "vg_config.h"
#include "vg_kafka.h"
#include "vg_record.h"
#include "vg_record_json.h"
#include "vg_time.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#define DAY    VG_MS_PER_DAY
#define HOUR   VG_MS_PER_HOUR
#define MINUTE 60000LL
#define NEVER  INT64_MAX

#define WARMUP_DAYS 60

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

/* ------------------------------------------------------------------ */
/* PRNG: xoshiro256** seeded with splitmix64                          */
/* ------------------------------------------------------------------ */

typedef struct sim_rng_s {
        uint64_t s[4];
} sim_rng_t;

static uint64_t splitmix64(uint64_t *x) {
        uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
}

static void rng_seed(sim_rng_t *r, uint64_t seed, uint64_t stream) {
        uint64_t x = seed;
        x = splitmix64(&x) ^ (stream * 0xd1b54a32d192ed03ULL);
        for (int i = 0; i < 4; i++)
                r->s[i] = splitmix64(&x);
}

static uint64_t rotl(uint64_t x, int k) {
        return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(sim_rng_t *r) {
        uint64_t *s = r->s;
        uint64_t result = rotl(s[1] * 5, 7) * 9;
        uint64_t t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = rotl(s[3], 45);
        return result;
}

/* Uniform in [0, 1). */
static double rng_u01(sim_rng_t *r) {
        return (double)(rng_next(r) >> 11) * 0x1.0p-53;
}

static bool rng_bern(sim_rng_t *r, double p) {
        return rng_u01(r) < p;
}

static double rng_exp(sim_rng_t *r, double mean) {
        return -mean * log1p(-rng_u01(r));
}

static double rng_normal(sim_rng_t *r) {
        double u1 = 1.0 - rng_u01(r), u2 = rng_u01(r);
        return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

static double rng_lognormal(sim_rng_t *r, double median, double sigma) {
        return median * exp(sigma * rng_normal(r));
}

/* Uniform in [lo, hi) (lo if hi <= lo). */
static int64_t rng_ms(sim_rng_t *r, int64_t lo, int64_t hi) {
        if (hi <= lo)
                return lo;
        return lo + (int64_t)(rng_u01(r) * (double)(hi - lo));
}

/* Index drawn with weights w[0..n-1] (not all zero). */
static int rng_pick(sim_rng_t *r, const double *w, int n) {
        double sum = 0, x;
        for (int i = 0; i < n; i++)
                sum += w[i];
        x = rng_u01(r) * sum;
        for (int i = 0; i < n; i++) {
                if (x < w[i])
                        return i;
                x -= w[i];
        }
        for (int i = n - 1; i > 0; i--)
                if (w[i] > 0)
                        return i;
        return 0;
}

/* ------------------------------------------------------------------ */
/* Time helpers (Europe/Stockholm)                                    */
/* ------------------------------------------------------------------ */

static int64_t floor_sec(int64_t ms) {
        int64_t r = ms % 1000;
        return r < 0 ? ms - r - 1000 : ms - r;
}

static int64_t days_ms(double days) {
        return (int64_t)(days * (double)DAY);
}

static int64_t local_day(int64_t ms) {
        return vg_local_day(VG_TZ_STOCKHOLM, ms);
}

/* The instant local day `day` (days since 1970-01-01) begins. Midnight is
 * never inside a DST change (those are at 02:00/03:00 local). */
static int64_t local_midnight(int64_t day) {
        int64_t guess = day * DAY;
        return guess - vg_tz_offset(VG_TZ_STOCKHOLM, guess - HOUR);
}

/* 0 = Sunday .. 6 = Saturday (1970-01-01 was a Thursday). */
static int weekday(int64_t day) {
        int64_t w = (day + 4) % 7;
        return (int)(w < 0 ? w + 7 : w);
}

static int age_on(int64_t birth_day, int64_t day) {
        int64_t y1, y2;
        unsigned m1, d1, m2, d2;
        vg_civil_from_days(birth_day, &y1, &m1, &d1);
        vg_civil_from_days(day, &y2, &m2, &d2);
        return (int)(y2 - y1 - (m2 < m1 || (m2 == m1 && d2 < d1)));
}

/* ------------------------------------------------------------------ */
/* Generated data                                                     */
/* ------------------------------------------------------------------ */

/* se_flags */
#define SF_PLANNED  0x01
#define SF_NEEDS    0x02
#define SF_EXPECTED 0x04
#define SF_DUP      0x08
#define SF_KOMMUN   0x10  /* source_system sim-kommun (else sim-his) */

/* One event, compact; vg_sim_event() makes the strings. */
typedef struct sim_ev_s {
        int64_t  se_at;       /* occurred_at */
        int64_t  se_key;      /* emission order */
        uint32_t se_patient;  /* index into vg_sim_t.pat */
        uint32_t se_seq;      /* event_id number (while a patient is being
                               * generated: generation order) */
        uint32_t se_cancels;  /* 0, or se_seq + 1 of the cancelled event */
        uint16_t se_stay;     /* stay number (admission, discharge) or SIP
                               * number (sip_created) */
        uint8_t  se_type;     /* vg_rectype_t */
        uint8_t  se_setting;  /* vg_care_setting_t */
        uint8_t  se_hosp;     /* index into vg_sim_t.hosp */
        uint8_t  se_code;     /* disposition or place of death */
        uint8_t  se_flags;    /* SF_* */
} sim_ev_t;

typedef struct sim_hosp_s {
        char id[16];      /* "MSE" */
        char pal[16];     /* palliative unit, "PAL-ESK" */
        char ssih[24];    /* SSIH team, "SSIH-MSE" */
        int  referral;    /* index of the TRANSFER_ACUTE target, -1: none */
} sim_hosp_t;

typedef struct sim_kommun_s {
        char   code[5];
        double weight;
        int    hosp;      /* home hospital */
} sim_kommun_t;

typedef struct sim_patient_s {
        char     sp_id[65];     /* patient_id: 64 hex digits */
        int64_t  sp_birth_day;  /* days since 1970-01-01 */
        uint16_t sp_kommun;     /* index into vg_sim_t.kom */
        uint8_t  sp_sex;
        uint8_t  sp_diag;
} sim_patient_t;

struct vg_sim_s {
        uint64_t        seed;
        uint64_t     idseed;     /* seed of the pseudonyms: seed and the
                                   * options that shape the population */
        int64_t         start, end;   /* period */
        int64_t         cutoff;       /* emit events before this */
        int64_t         window;       /* out-of-order window, ms */
        double          dup_rate, cancel_rate;
        sim_hosp_t     *hosp;
        int             nhosp;
        sim_kommun_t   *kom;
        int             nkom;
        double          kom_total;
        sim_patient_t  *pat;
        int64_t         npat;
        sim_ev_t       *ev;
        size_t          nev, cap;
        uint32_t        next_seq;
        vg_sim_stats_t  stats;
};

/* The state of one patient while it is generated. */
typedef struct sim_gen_s {
        vg_sim_t      *sim;
        sim_rng_t      rng;
        sim_patient_t *p;
        int            diag;
        int            age;        /* at the period start */
        int            hosp;       /* home hospital */
        sim_ev_t      *ev;         /* this patient's events, any order */
        size_t         nev, cap;
        int            nstays;     /* stays numbered 1..nstays */
        int            nsips;
        bool           resident;   /* lives in a nursing home */
        int            nh_stay;    /* its stay number (0: begun before the
                                    * simulation), -1 if none */
        bool           dies;
        int64_t        death_at;   /* NEVER if the patient survives */
        int            pod;        /* place of death */
        bool           expected;
        int64_t        ssih_from;  /* SSIH enrolment [from, to), or NEVER */
        int64_t        ssih_to;
        int64_t        readm;      /* scheduled readmission, or NEVER */
        int64_t        warm;       /* simulation start (before the period) */
} sim_gen_t;

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

static void patient_id(uint64_t seed, uint64_t idx, char *out) {
        static const char hex[] = "0123456789abcdef";
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
        for (int i = 0; i < 32; i++) {
                out[2 * i] = hex[md[i] >> 4];
                out[2 * i + 1] = hex[md[i] & 15];
        }
        out[64] = '\0';
}

/* Attributes, then the last phase (if the patient dies), then the hospital
 * episodes before it, then the death. */
static void gen_patient(vg_sim_t *sim, sim_gen_t *g, uint32_t idx) {
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
        if (g->dies)
                gen_death_final(g);
}

/* ------------------------------------------------------------------ */
/* Emission                                                           */
/* ------------------------------------------------------------------ */

static int cmp_gen(const void *a, const void *b) {
        const sim_ev_t *x = a, *y = b;
        if (x->se_at != y->se_at)
                return x->se_at < y->se_at ? -1 : 1;
        return x->se_seq < y->se_seq ? -1 : x->se_seq > y->se_seq;
}

static int cmp_emit(const void *a, const void *b) {
        const sim_ev_t *x = a, *y = b;
        if (x->se_key != y->se_key)
                return x->se_key < y->se_key ? -1 : 1;
        if (x->se_seq != y->se_seq)
                return x->se_seq < y->se_seq ? -1 : 1;
        return (x->se_flags & SF_DUP) - (y->se_flags & SF_DUP);
}

static sim_ev_t *sim_append(vg_sim_t *sim, const sim_ev_t *e) {
        if (sim->nev == sim->cap) {
                sim->cap = sim->cap ? sim->cap * 2 : 4096;
                sim->ev = vg_realloc(sim->ev, sim->cap * sizeof(*sim->ev));
        }
        sim->ev[sim->nev] = *e;
        return &sim->ev[sim->nev++];
}

static int64_t jitter(sim_gen_t *g) {
        return g->sim->window > 0 ? rng_ms(&g->rng, 0, g->sim->window) : 0;
}

/* Orders the patient's events, numbers stays and SIPs by time, keeps those
 * in the period, gives them event numbers and emission keys, then adds
 * cancellations, re-entries and duplicates. */
static void sim_take_patient(vg_sim_t *sim, sim_gen_t *g, uint32_t idx) {
        uint16_t *stay_map, *sip_map;
        uint16_t nst = 0, nsp = 0;
        size_t first = sim->nev, originals, all;
        int64_t last = sim->cutoff < sim->end ? sim->cutoff : sim->end;

        if (g->nev > 1)
                qsort(g->ev, g->nev, sizeof(*g->ev), cmp_gen);
        stay_map = vg_calloc((size_t)g->nstays + 1, sizeof(*stay_map));
        sip_map = vg_calloc((size_t)g->nsips + 1, sizeof(*sip_map));
        for (size_t i = 0; i < g->nev; i++) {
                sim_ev_t *e = &g->ev[i];
                uint16_t *map = e->se_type == VG_REC_SIP ? sip_map : stay_map;
                uint16_t *n = e->se_type == VG_REC_SIP ? &nsp : &nst;
                if (e->se_type == VG_REC_DEATH || e->se_stay == 0)
                        continue;
                if (!map[e->se_stay])
                        map[e->se_stay] = ++*n;
                e->se_stay = map[e->se_stay];
        }
        vg_free(stay_map);
        vg_free(sip_map);

        for (size_t i = 0; i < g->nev; i++) {
                sim_ev_t e = g->ev[i];
                if (e.se_at < sim->start || e.se_at >= last ||
                    (g->dies && e.se_at > g->death_at))
                        continue;
                e.se_patient = idx;
                e.se_seq = sim->next_seq++;
                e.se_key = e.se_at + jitter(g);
                sim_append(sim, &e);
        }
        originals = sim->nev;
        for (size_t i = first; i < originals; i++) {
                sim_ev_t c;
                int64_t at, lim, delay;
                if (!rng_bern(&g->rng, sim->cancel_rate))
                        continue;
                c = sim->ev[i];
                delay = days_ms(rng_exp(&g->rng, 0.25));  /* mean 6 h */
                at = c.se_at + 5 * MINUTE + (delay > 3 * DAY ? 3 * DAY : delay);
                lim = last - 1000;
                if (g->dies && g->death_at < lim)
                        lim = g->death_at;
                if (at > lim)
                        at = lim;
                if (at < c.se_at)
                        at = c.se_at;
                c.se_cancels = c.se_seq + 1;
                c.se_seq = sim->next_seq++;
                c.se_at = floor_sec(at);
                c.se_key = c.se_at + jitter(g);
                sim_append(sim, &c);
                if (rng_bern(&g->rng, 0.7)) {
                        sim_ev_t r = sim->ev[i];
                        r.se_seq = sim->next_seq++;
                        r.se_key = r.se_at + jitter(g);
                        sim_append(sim, &r);
                }
        }
        all = sim->nev;
        for (size_t i = first; i < all; i++) {
                sim_ev_t d;
                if (!rng_bern(&g->rng, sim->dup_rate))
                        continue;
                d = sim->ev[i];
                d.se_flags |= SF_DUP;
                d.se_key += jitter(g);
                sim_append(sim, &d);
        }
}

void vg_sim_opts_init(vg_sim_opts_t *o) {
        int64_t day = vg_days_from_civil(2026, 1, 1);
        memset(o, 0, sizeof(*o));
        o->so_patients = 1000;
        o->so_start_ms = local_midnight(day);
        o->so_end_ms = local_midnight(day + 180);
        o->so_seed = 1;
        o->so_window_ms = 6 * HOUR;
        o->so_dup_rate = 0.005;
        o->so_cancel_rate = 0.005;
}

static int sim_hosp_index(vg_sim_t *sim, const char *id) {
        for (int i = 0; i < sim->nhosp; i++)
                if (!strcmp(sim->hosp[i].id, id))
                        return i;
        return -1;
}

static int sim_hosp_add(vg_sim_t *sim, const char *id, const char *pal) {
        sim_hosp_t *h;
        sim->hosp = vg_realloc(sim->hosp,
                               (size_t)(sim->nhosp + 1) * sizeof(*sim->hosp));
        h = &sim->hosp[sim->nhosp];
        memset(h, 0, sizeof(*h));
        snprintf(h->id, sizeof(h->id), "%s", id);
        snprintf(h->pal, sizeof(h->pal), "%s", pal);
        snprintf(h->ssih, sizeof(h->ssih), "SSIH-%s", id);
        h->referral = -1;
        return sim->nhosp++;
}

static bool is_kommun_code(const char *s) {
        return s && strlen(s) == 4 && s[0] >= '0' && s[0] <= '9' &&
               s[1] >= '0' && s[1] <= '9' && s[2] >= '0' && s[2] <= '9' &&
               s[3] >= '0' && s[3] <= '9';
}

/* Hospitals of the table, then the kommuner of the run; a kommun not in
 * the table gets a generic hospital of its region ("H12", no transfers). */
static vg_err_t sim_setup_places(vg_sim_t *sim, const vg_sim_opts_t *o,
                                 char *errstr, size_t errstr_size) {
        int n = o->so_kommuner ? o->so_nkommuner : (int)vg_kommuner_cnt;

        if (n <= 0 || n > 65535)
                return vg_seterr(errstr, errstr_size, VG_ERR_ARG,
                                 "no kommuner to simulate");
        for (size_t i = 0; i < vg_hospitals_cnt; i++)
                sim_hosp_add(sim, vg_hospitals[i].hs_id,
                             vg_hospitals[i].hs_palliative);
        for (size_t i = 0; i < vg_hospitals_cnt; i++)
                sim->hosp[i].referral =
                        sim_hosp_index(sim, vg_hospitals[i].hs_referral);
        sim->kom = vg_calloc((size_t)n, sizeof(*sim->kom));
        for (int i = 0; i < n; i++) {
                const char *code = o->so_kommuner ? o->so_kommuner[i]
                                                  : vg_kommuner[i].km_code;
                const vg_kommun_t *km;
                sim_kommun_t *k = &sim->kom[sim->nkom];
                if (!is_kommun_code(code))
                        return vg_seterr(errstr, errstr_size, VG_ERR_ARG,
                                         "kommun \"%.16s\" is not a 4-digit "
                                         "SCB code", code ? code : "");
                memcpy(k->code, code, 5);
                km = vg_kommun_find(code);
                if (km) {
                        k->weight = km->km_population;
                        k->hosp = sim_hosp_index(sim, km->km_hospital);
                } else {
                        char id[16], pal[16];
                        snprintf(id, sizeof(id), "H%.2s", code);
                        snprintf(pal, sizeof(pal), "PAL-%.2s", code);
                        k->weight = 20000;
                        k->hosp = sim_hosp_index(sim, id);
                        if (k->hosp < 0) {
                                if (sim->nhosp >= 250)
                                        return vg_seterr(errstr, errstr_size,
                                                         VG_ERR_ARG,
                                                         "too many regions");
                                k->hosp = sim_hosp_add(sim, id, pal);
                        }
                }
                sim->kom_total += k->weight;
                sim->nkom++;
        }
        return VG_OK;
}

vg_sim_t *vg_sim_new(const vg_sim_opts_t *o, char *errstr,
                     size_t errstr_size) {
        vg_sim_t *sim;
        sim_gen_t g;

        if (o->so_patients < 1 || o->so_patients > VG_SIM_MAX_PATIENTS) {
                vg_seterr(errstr, errstr_size, VG_ERR_ARG,
                          "patients: %" PRId64 " is not between 1 and %lld",
                          o->so_patients, VG_SIM_MAX_PATIENTS);
                return NULL;
        }
        if (o->so_end_ms <= o->so_start_ms) {
                vg_seterr(errstr, errstr_size, VG_ERR_ARG,
                          "the period is empty");
                return NULL;
        }
        if (!(o->so_dup_rate >= 0 && o->so_dup_rate <= 1) ||
            !(o->so_cancel_rate >= 0 && o->so_cancel_rate <= 1) ||
            o->so_window_ms < 0) {
                vg_seterr(errstr, errstr_size, VG_ERR_ARG,
                          "rates must be within [0, 1] and the window not "
                          "negative");
                return NULL;
        }
        sim = vg_calloc(1, sizeof(*sim));
        sim->seed = o->so_seed;
        /* Pseudonyms depend on every option that shapes the population, so
         * that two different runs with one seed never share a patient (their
         * events would otherwise collide on (patient_id, event_id) and be
         * dropped as duplicates). The same options still give the same
         * bytes. */
        {
                uint64_t h = o->so_seed ^ 0x6a09e667f3bcc908ULL;
                uint64_t parts[3] = {(uint64_t)o->so_start_ms,
                                     (uint64_t)o->so_end_ms,
                                     (uint64_t)o->so_patients};
                for (int i = 0; i < 3; i++)
                        h = (h ^ parts[i]) * 0x100000001b3ULL + (h >> 29);
                for (int i = 0; o->so_kommuner && i < o->so_nkommuner; i++)
                        for (const char *q = o->so_kommuner[i]; *q; q++)
                                h = (h ^ (unsigned char)*q) * 0x100000001b3ULL;
                sim->idseed = h;
        }
        sim->start = o->so_start_ms;
        sim->end = o->so_end_ms;
        sim->cutoff = o->so_not_after_ms > 0 ? o->so_not_after_ms : NEVER;
        sim->window = o->so_window_ms;
        sim->dup_rate = o->so_dup_rate;
        sim->cancel_rate = o->so_cancel_rate;
        if (sim_setup_places(sim, o, errstr, errstr_size)) {
                vg_sim_destroy(sim);
                return NULL;
        }
        sim->npat = o->so_patients;
        sim->pat = vg_calloc((size_t)sim->npat, sizeof(*sim->pat));

        memset(&g, 0, sizeof(g));
        g.sim = sim;
        for (int64_t i = 0; i < sim->npat; i++) {
                gen_patient(sim, &g, (uint32_t)i);
                sim_take_patient(sim, &g, (uint32_t)i);
        }
        vg_free(g.ev);
        if (sim->nev > 1)
                qsort(sim->ev, sim->nev, sizeof(*sim->ev), cmp_emit);

        sim->stats.ss_patients = sim->npat;
        for (size_t i = 0; i < sim->nev; i++) {
                const sim_ev_t *e = &sim->ev[i];
                vg_sim_stats_t *st = &sim->stats;
                st->ss_events++;
                if (e->se_flags & SF_DUP)
                        st->ss_duplicates++;
                else if (e->se_cancels)
                        st->ss_cancellations++;
                else if (e->se_type == VG_REC_ADMISSION)
                        st->ss_admissions++;
                else if (e->se_type == VG_REC_DISCHARGE)
                        st->ss_discharges++;
                else if (e->se_type == VG_REC_DEATH)
                        st->ss_deaths++;
                else
                        st->ss_sips++;
        }
        return sim;
}

void vg_sim_destroy(vg_sim_t *sim) {
        if (!sim)
                return;
        vg_free(sim->hosp);
        vg_free(sim->kom);
        vg_free(sim->pat);
        vg_free(sim->ev);
        vg_free(sim);
}

size_t vg_sim_count(const vg_sim_t *sim) {
        return sim->nev;
}

const vg_sim_stats_t *vg_sim_stats(const vg_sim_t *sim) {
        return &sim->stats;
}

void vg_sim_stats_add(vg_sim_stats_t *st, const vg_event_t *ev, int flags) {
        st->ss_events++;
        if (flags & VG_SIM_DUPLICATE)
                st->ss_duplicates++;
        else if (ev->ev_cancels_event_id)
                st->ss_cancellations++;
        else if (ev->ev_type == VG_REC_ADMISSION)
                st->ss_admissions++;
        else if (ev->ev_type == VG_REC_DISCHARGE)
                st->ss_discharges++;
        else if (ev->ev_type == VG_REC_DEATH)
                st->ss_deaths++;
        else
                st->ss_sips++;
}

static char *sim_event_id(const vg_sim_t *sim, uint32_t seq) {
        char buf[64];
        snprintf(buf, sizeof(buf), "sim-%" PRIu64 "-%" PRIu32, sim->seed, seq);
        return vg_strdup(buf);
}

int vg_sim_event(const vg_sim_t *sim, size_t i, vg_event_t *ev) {
        const sim_ev_t *e = &sim->ev[i];
        const sim_patient_t *p = &sim->pat[e->se_patient];
        const sim_kommun_t *k = &sim->kom[p->sp_kommun];
        const sim_hosp_t *h = &sim->hosp[e->se_hosp];
        char buf[96];

        memset(ev, 0, sizeof(*ev));
        ev->ev_type = (vg_rectype_t)e->se_type;
        ev->ev_event_id = sim_event_id(sim, e->se_seq);
        ev->ev_patient_id = vg_strdup(p->sp_id);
        ev->ev_occurred_at = e->se_at;
        ev->ev_kommun = vg_strdup(k->code);
        ev->ev_source_system = vg_strdup(e->se_flags & SF_KOMMUN ? "sim-kommun"
                                                                 : "sim-his");
        if (e->se_cancels)
                ev->ev_cancels_event_id = sim_event_id(sim, e->se_cancels - 1);
        switch (e->se_type) {
        case VG_REC_ADMISSION:
        case VG_REC_DISCHARGE:
                snprintf(buf, sizeof(buf), "st-%.16s-%u", p->sp_id,
                         (unsigned)e->se_stay);
                ev->ev_stay_id = vg_strdup(buf);
                switch (e->se_setting) {
                case VG_CS_HOSPITAL_INPATIENT:
                        snprintf(buf, sizeof(buf), "%s", h->id);
                        break;
                case VG_CS_PALLIATIVE_UNIT:
                        snprintf(buf, sizeof(buf), "%s", h->pal);
                        break;
                case VG_CS_SSIH:
                        snprintf(buf, sizeof(buf), "%s", h->ssih);
                        break;
                case VG_CS_SHORT_TERM_CARE:
                        snprintf(buf, sizeof(buf), "K%s-KTP", k->code);
                        break;
                default:
                        snprintf(buf, sizeof(buf), "K%s-SABO", k->code);
                        break;
                }
                ev->ev_facility_id = vg_strdup(buf);
                ev->ev_care_setting = e->se_setting;
                if (e->se_type == VG_REC_DISCHARGE) {
                        ev->ev_disposition = e->se_code;
                        ev->ev_needs_coordination =
                                (e->se_flags & SF_NEEDS) != 0;
                        break;
                }
                ev->ev_planned = (e->se_flags & SF_PLANNED) != 0;
                ev->ev_age_years = age_on(p->sp_birth_day, local_day(e->se_at));
                ev->ev_sex = p->sp_sex;
                ev->ev_diagnosis_group = p->sp_diag;
                break;
        case VG_REC_DEATH:
                ev->ev_place_of_death = e->se_code;
                ev->ev_expected = (e->se_flags & SF_EXPECTED) != 0;
                ev->ev_age_years = age_on(p->sp_birth_day, local_day(e->se_at));
                ev->ev_sex = p->sp_sex;
                ev->ev_diagnosis_group = p->sp_diag;
                break;
        default:
                snprintf(buf, sizeof(buf), "sip-%.16s-%u", p->sp_id,
                         (unsigned)e->se_stay);
                ev->ev_sip_id = vg_strdup(buf);
                break;
        }
        return e->se_flags & SF_DUP ? VG_SIM_DUPLICATE : 0;
}

/* ------------------------------------------------------------------ */
/* The command                                                        */
/* ------------------------------------------------------------------ */

static volatile sig_atomic_t sim_stop;

static void on_signal(int sig) {
        (void)sig;
        sim_stop++;
}

static void help(void) {
        printf("Usage: vigil simulate [options]\n"
               "\n"
               "Generates a realistic synthetic population of care events "
               "(admissions,\n"
               "discharges, deaths, SIPs) and writes them as JSON Lines or "
               "produces them to\n"
               "Kafka. The same options always give the same events "
               "(byte-identical output).\n"
               "\n"
               "Population and period:\n"
               "  -n, --patients N         number of patients (default "
               "1000)\n"
               "      --start YYYY-MM-DD   first day of the period, "
               "Europe/Stockholm\n"
               "                           (default 2026-01-01)\n"
               "      --days D             length of the period in days "
               "(default 180)\n"
               "      --seed S             random seed, 0..2^64-1 (default "
               "1)\n"
               "      --kommuner LIST      comma-separated 4-digit kommun "
               "codes, or 2-digit\n"
               "                           region codes for every kommun of "
               "the region in\n"
               "                           the built-in table (default: "
               "04,06,18 =\n"
               "                           Sörmland, Jönköping, Örebro, "
               "weighted by population)\n"
               "\n"
               "Stream imperfections:\n"
               "      --out-of-order-hours H\n"
               "                           emit each event up to H hours "
               "late (default 6;\n"
               "                           0: strictly in occurred_at "
               "order)\n"
               "      --dup-rate R         share of events re-sent "
               "identically (default 0.005;\n"
               "                           \"0.5%%\" also accepted)\n"
               "      --cancel-rate R      share of events cancelled by a "
               "later event with\n"
               "                           cancels_event_id (default "
               "0.005)\n"
               "\n"
               "Output:\n"
               "  -o, --out FILE           write JSON Lines to FILE "
               "(default: stdout)\n"
               "      --publish            produce to Kafka instead: topics "
               "topic.admissions,\n"
               "                           topic.discharges, topic.deaths, "
               "topic.sip; key\n"
               "                           patient_id; Avro single-object "
               "values; idempotent\n"
               "                           producer, acks=all\n"
               "      --rate R             at most R events per second "
               "(default 0: as fast\n"
               "                           as possible)\n"
               VG_CLI_CONF_HELP
               "  -h, --help               this help\n"
               "\n"
               "Events after the start of today (local time) are left out, "
               "so a period\n"
               "reaching today is cut short. A summary goes to stderr, with "
               "a progress line\n"
               "when stderr is a terminal.\n"
               "\n"
               "Exit status: 0 success, 1 failure (write or delivery errors, "
               "interrupted),\n"
               "2 usage error.\n");
}

static int parse_i64(const char *opt, const char *s, int64_t min, int64_t max,
                     int64_t *out) {
        char *end;
        long long v;
        errno = 0;
        v = strtoll(s, &end, 10);
        if (!*s || *end || errno == ERANGE)
                return vg_cli_usage_error("simulate", "%s: '%s' is not a "
                                          "whole number", opt, s);
        if (v < min || v > max)
                return vg_cli_usage_error("simulate", "%s: %lld is not between "
                                          "%lld and %lld", opt, v,
                                          (long long)min, (long long)max);
        *out = v;
        return 0;
}

static int parse_dbl(const char *opt, const char *s, double min, double max,
                     bool percent_ok, double *out) {
        char *end;
        double v;
        errno = 0;
        v = strtod(s, &end);
        if (end != s && percent_ok && !strcmp(end, "%")) {
                v /= 100;
                end++;
        }
        if (!*s || end == s || *end || errno == ERANGE || !isfinite(v))
                return vg_cli_usage_error("simulate", "%s: '%s' is not a "
                                          "number", opt, s);
        if (v < min || v > max)
                return vg_cli_usage_error("simulate", "%s: %s is not between "
                                          "%g and %g", opt, s, min, max);
        *out = v;
        return 0;
}

static int parse_seed(const char *s, uint64_t *out) {
        char *end;
        unsigned long long v;
        errno = 0;
        v = strtoull(s, &end, 10);
        if (!*s || *s == '-' || *s == '+' || *s == ' ' || *end ||
            errno == ERANGE)
                return vg_cli_usage_error("simulate", "--seed: '%s' is not a "
                                          "number from 0 to 2^64-1", s);
        *out = v;
        return 0;
}

/* Strict YYYY-MM-DD, 1900-01-01 .. 9999-12-31. */
static int parse_date(const char *s, int64_t *dayp) {
        int64_t y, yy;
        unsigned m, d, mm, dd;
        if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
                goto bad;
        for (int i = 0; i < 10; i++)
                if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
                        goto bad;
        y = atoi(s);
        m = (unsigned)atoi(s + 5);
        d = (unsigned)atoi(s + 8);
        if (y < 1901 || m < 1 || m > 12 || d < 1 || d > 31)
                goto bad;
        *dayp = vg_days_from_civil(y, m, d);
        vg_civil_from_days(*dayp, &yy, &mm, &dd);
        if (yy != y || mm != m || dd != d)
                goto bad;
        return 0;
bad:
        return vg_cli_usage_error("simulate", "--start: '%s' is not a date "
                                  "YYYY-MM-DD (from 1901)", s);
}

/* --kommuner: appends codes to *listp (deduplicated). */
static int parse_kommuner(const char *arg, char ***listp, int *np) {
        char *copy = vg_strdup(arg), *save = NULL, *tok;
        int rc = 0;

        for (tok = strtok_r(copy, ",", &save); tok && !rc;
             tok = strtok_r(NULL, ",", &save)) {
                size_t len;
                while (*tok == ' ')
                        tok++;
                len = strlen(tok);
                while (len > 0 && tok[len - 1] == ' ')
                        tok[--len] = '\0';
                if (len == 2 && tok[0] >= '0' && tok[0] <= '9' &&
                    tok[1] >= '0' && tok[1] <= '9') {
                        int found = 0;
                        for (size_t i = 0; i < vg_kommuner_cnt; i++) {
                                const char *c = vg_kommuner[i].km_code;
                                int dup = 0;
                                if (strncmp(c, tok, 2))
                                        continue;
                                found = 1;
                                for (int j = 0; j < *np; j++)
                                        dup |= !strcmp((*listp)[j], c);
                                if (dup)
                                        continue;
                                *listp = vg_realloc(*listp, sizeof(**listp) *
                                                            (size_t)(*np + 1));
                                (*listp)[(*np)++] = vg_strdup(c);
                        }
                        if (!found)
                                rc = vg_cli_usage_error(
                                        "simulate", "--kommuner: no kommun of "
                                        "region %s in the built-in table "
                                        "(give 4-digit codes)", tok);
                } else if (is_kommun_code(tok)) {
                        int dup = 0;
                        for (int j = 0; j < *np; j++)
                                dup |= !strcmp((*listp)[j], tok);
                        if (!dup) {
                                *listp = vg_realloc(*listp, sizeof(**listp) *
                                                            (size_t)(*np + 1));
                                (*listp)[(*np)++] = vg_strdup(tok);
                        }
                } else
                        rc = vg_cli_usage_error(
                                "simulate", "--kommuner: '%s' is not a "
                                "4-digit kommun or 2-digit region code", tok);
        }
        if (!rc && *np == 0)
                rc = vg_cli_usage_error("simulate", "--kommuner: empty list");
        vg_free(copy);
        return rc;
}

/* Kafka output. */
typedef struct sim_pub_s {
        rd_kafka_t *rk;
        vg_codec_t *codec;
        const char *topics[VG_EVENT_TYPES];
        vg_buf_t    buf;
        int64_t     failed;  /* not delivered (delivery reports, errors) */
} sim_pub_t;

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
        sim_pub_t *pub = opaque;
        (void)rk;
        if (!m->err)
                return;
        if (pub->failed++ < 5)
                vg_error("simulate", "delivery to %s failed: %s",
                         rd_kafka_topic_name(m->rkt), rd_kafka_err2str(m->err));
}

static int pub_open(sim_pub_t *pub, vg_conf_t *conf) {
        char errstr[512];
        rd_kafka_conf_t *kconf;

        pub->topics[VG_REC_ADMISSION] = vg_conf_str(conf, "topic.admissions");
        pub->topics[VG_REC_DISCHARGE] = vg_conf_str(conf, "topic.discharges");
        pub->topics[VG_REC_DEATH] = vg_conf_str(conf, "topic.deaths");
        pub->topics[VG_REC_SIP] = vg_conf_str(conf, "topic.sip");
        if (!(pub->codec = vg_codec_new(errstr, sizeof(errstr)))) {
                fprintf(stderr, "vigil simulate: %s\n", errstr);
                return VG_EXIT_FAIL;
        }
        if (!(kconf = vg_kafka_producer_conf(conf, errstr, sizeof(errstr)))) {
                fprintf(stderr, "vigil simulate: %s\n", errstr);
                return VG_EXIT_USAGE;
        }
        rd_kafka_conf_set_dr_msg_cb(kconf, dr_cb);
        rd_kafka_conf_set_opaque(kconf, pub);
        if (!(pub->rk = rd_kafka_new(RD_KAFKA_PRODUCER, kconf, errstr,
                                     sizeof(errstr)))) {
                fprintf(stderr, "vigil simulate: cannot create the Kafka "
                        "producer: %s\n", errstr);
                rd_kafka_conf_destroy(kconf);
                return VG_EXIT_FAIL;
        }
        return 0;
}

static void pub_send(sim_pub_t *pub, const vg_event_t *ev) {
        char errstr[512];
        rd_kafka_resp_err_t err;

        vg_buf_reset(&pub->buf);
        if (vg_codec_encode(pub->codec, ev->ev_type, ev, &pub->buf, errstr,
                            sizeof(errstr))) {
                vg_error("simulate", "event %s: %s", ev->ev_event_id, errstr);
                pub->failed++;
                return;
        }
        for (;;) {
                err = rd_kafka_producev(
                        pub->rk,
                        RD_KAFKA_V_TOPIC(pub->topics[ev->ev_type]),
                        RD_KAFKA_V_KEY(ev->ev_patient_id,
                                       strlen(ev->ev_patient_id)),
                        RD_KAFKA_V_VALUE(pub->buf.vb_data, pub->buf.vb_len),
                        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                        RD_KAFKA_V_END);
                if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
                        break;
                rd_kafka_poll(pub->rk, 100);  /* wait for room */
        }
        if (err) {
                if (pub->failed < 5)
                        vg_error("simulate", "cannot produce to %s: %s",
                                 pub->topics[ev->ev_type],
                                 rd_kafka_err2str(err));
                pub->failed++;
        }
        rd_kafka_poll(pub->rk, 0);
}

/* Waits until every message is delivered or has failed; a second signal
 * purges what is left (counted as failed). */
static void pub_close(sim_pub_t *pub) {
        if (pub->rk) {
                bool purged = false;
                while (rd_kafka_outq_len(pub->rk) > 0) {
                        rd_kafka_flush(pub->rk, 1000);
                        if (sim_stop > 1 && !purged) {
                                rd_kafka_purge(pub->rk,
                                               RD_KAFKA_PURGE_F_QUEUE |
                                               RD_KAFKA_PURGE_F_INFLIGHT);
                                purged = true;
                        }
                }
                rd_kafka_destroy(pub->rk);
        }
        vg_codec_destroy(pub->codec);
        vg_buf_free(&pub->buf);
}

static double mono_now(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Sleeps until `until` (CLOCK_MONOTONIC seconds). */
static void sleep_until(double until) {
        double d = until - mono_now();
        struct timespec ts;
        if (d <= 0)
                return;
        ts.tv_sec = (time_t)d;
        ts.tv_nsec = (long)((d - (double)ts.tv_sec) * 1e9);
        nanosleep(&ts, NULL);
}

int vg_cmd_simulate(int argc, char **argv) {
        enum {
                OPT_START = 256, OPT_DAYS, OPT_SEED, OPT_KOMMUNER, OPT_RATE,
                OPT_PUBLISH, OPT_OOO, OPT_DUP, OPT_CANCEL
        };
        static const struct option opts[] = {
                {"patients", required_argument, NULL, 'n'},
                {"start", required_argument, NULL, OPT_START},
                {"days", required_argument, NULL, OPT_DAYS},
                {"seed", required_argument, NULL, OPT_SEED},
                {"kommuner", required_argument, NULL, OPT_KOMMUNER},
                {"rate", required_argument, NULL, OPT_RATE},
                {"out", required_argument, NULL, 'o'},
                {"publish", no_argument, NULL, OPT_PUBLISH},
                {"out-of-order-hours", required_argument, NULL, OPT_OOO},
                {"dup-rate", required_argument, NULL, OPT_DUP},
                {"cancel-rate", required_argument, NULL, OPT_CANCEL},
                {"help", no_argument, NULL, 'h'},
                {NULL, 0, NULL, 0},
        };
        vg_sim_opts_t so;
        vg_conf_t *conf = NULL;
        vg_sim_t *sim = NULL;
        sim_pub_t pub;
        vg_sim_stats_t st;
        char **kommuner = NULL, errstr[512];
        int nkommuner = 0, c, rc = VG_EXIT_OK, progress;
        int64_t start_day = vg_days_from_civil(2026, 1, 1), days = 180, v;
        int64_t today;
        double rate = 0, hours = 6, t0, next_progress = 0;
        const char *out_path = NULL;
        bool publish = false;
        FILE *out = NULL;
        size_t n, i;
        struct sigaction sa, old_int, old_term;

        if (vg_cli_wants_help(argc, argv)) {
                help();
                return VG_EXIT_OK;
        }
        vg_sim_opts_init(&so);
        memset(&pub, 0, sizeof(pub));
        vg_buf_init(&pub.buf);
        conf = vg_conf_new();
        optind = 1;
        while (!rc && (c = getopt_long(argc, argv, "n:o:h" VG_CLI_CONF_OPTS,
                                       opts, NULL)) != -1) {
                if (vg_cli_conf_option(conf, "simulate", c, optarg, &rc))
                        continue;
                switch (c) {
                case 'n':
                        rc = parse_i64("--patients", optarg, 1,
                                       VG_SIM_MAX_PATIENTS, &so.so_patients);
                        break;
                case OPT_START:
                        rc = parse_date(optarg, &start_day);
                        break;
                case OPT_DAYS:
                        rc = parse_i64("--days", optarg, 1, 36600, &days);
                        break;
                case OPT_SEED:
                        rc = parse_seed(optarg, &so.so_seed);
                        break;
                case OPT_KOMMUNER:
                        rc = parse_kommuner(optarg, &kommuner, &nkommuner);
                        break;
                case OPT_RATE:
                        rc = parse_dbl("--rate", optarg, 0, 1e9, false, &rate);
                        break;
                case 'o':
                        out_path = optarg;
                        break;
                case OPT_PUBLISH:
                        publish = true;
                        break;
                case OPT_OOO:
                        rc = parse_dbl("--out-of-order-hours", optarg, 0,
                                       24 * 365, false, &hours);
                        break;
                case OPT_DUP:
                        rc = parse_dbl("--dup-rate", optarg, 0, 1, true,
                                       &so.so_dup_rate);
                        break;
                case OPT_CANCEL:
                        rc = parse_dbl("--cancel-rate", optarg, 0, 1, true,
                                       &so.so_cancel_rate);
                        break;
                case 'h':
                        help();
                        goto done;
                default:
                        rc = vg_cli_usage_error("simulate", "bad option");
                        break;
                }
        }
        if (!rc && optind < argc)
                rc = vg_cli_usage_error("simulate", "unexpected argument '%s'",
                                        argv[optind]);
        if (!rc && publish && out_path)
                rc = vg_cli_usage_error("simulate", "--out and --publish "
                                        "exclude each other");
        /* Always, so that pending -X values are released. */
        if (vg_cli_conf_finish(conf, "simulate") && !rc)
                rc = VG_EXIT_USAGE;
        if (rc)
                goto done;

        so.so_start_ms = local_midnight(start_day);
        so.so_end_ms = local_midnight(start_day + days);
        so.so_window_ms = (int64_t)(hours * (double)HOUR);
        so.so_kommuner = (const char **)kommuner;
        so.so_nkommuner = nkommuner;
        /* Nothing after the start of today: every event is in the past. */
        today = local_midnight(local_day(vg_now_ms()));
        so.so_not_after_ms = today;
        if (so.so_start_ms >= today) {
                rc = vg_cli_usage_error("simulate", "--start: the period "
                                        "must begin before today");
                goto done;
        }
        if (so.so_end_ms > today) {
                char d[VG_TIME_BUFSZ];
                fprintf(stderr, "simulate: the period reaches today; events "
                        "from %.10s on are left out (the output changes from "
                        "day to day)\n", vg_time_format(today + 12 * HOUR, d));
        }
        if (!(sim = vg_sim_new(&so, errstr, sizeof(errstr)))) {
                rc = vg_cli_usage_error("simulate", "%s", errstr);
                goto done;
        }

        if (publish) {
                if ((rc = pub_open(&pub, conf)))
                        goto done;
        } else if (out_path && strcmp(out_path, "-")) {
                if (!(out = fopen(out_path, "w"))) {
                        fprintf(stderr, "vigil simulate: %s: %s\n", out_path,
                                strerror(errno));
                        rc = VG_EXIT_FAIL;
                        goto done;
                }
        } else
                out = stdout;

        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = on_signal;
        sigemptyset(&sa.sa_mask);
        sim_stop = 0;
        sigaction(SIGINT, &sa, &old_int);
        sigaction(SIGTERM, &sa, &old_term);

        memset(&st, 0, sizeof(st));
        st.ss_patients = so.so_patients;
        progress = isatty(STDERR_FILENO);
        n = vg_sim_count(sim);
        t0 = mono_now();
        for (i = 0; i < n && !sim_stop; i++) {
                vg_event_t ev;
                int flags;

                if (rate > 0)
                        sleep_until(t0 + (double)i / rate);
                flags = vg_sim_event(sim, i, &ev);
                if (publish)
                        pub_send(&pub, &ev);
                else {
                        char *js = vg_record_to_jsonl(ev.ev_type, &ev);
                        fputs(js, out);
                        putc('\n', out);
                        vg_free(js);
                }
                vg_sim_stats_add(&st, &ev, flags);
                vg_record_clear(ev.ev_type, &ev);
                if (progress && (i & 1023) == 0) {
                        double now = mono_now();
                        if (now >= next_progress) {
                                fprintf(stderr, "\rsimulate: %zu events "
                                        "(%d%%)", i, (int)(100.0 * (double)i /
                                                           (double)n));
                                next_progress = now + 0.2;
                        }
                }
        }
        if (progress)
                fputs("\r\033[K", stderr);
        if (sim_stop) {
                fprintf(stderr, "simulate: interrupted after %zu of %zu "
                        "events\n", i, n);
                rc = VG_EXIT_FAIL;
        }
        if (publish) {
                pub_close(&pub);
                pub.rk = NULL;
                pub.codec = NULL;
                if (pub.failed) {
                        fprintf(stderr, "simulate: %" PRId64 " of %" PRId64
                                " events were not delivered\n", pub.failed,
                                st.ss_events);
                        rc = VG_EXIT_FAIL;
                }
        } else {
                if (fflush(out) || ferror(out)) {
                        fprintf(stderr, "vigil simulate: write error: %s\n",
                                strerror(errno));
                        rc = VG_EXIT_FAIL;
                }
                if (out != stdout && fclose(out)) {
                        fprintf(stderr, "vigil simulate: %s: %s\n", out_path,
                                strerror(errno));
                        rc = VG_EXIT_FAIL;
                }
                out = NULL;
        }
        sigaction(SIGINT, &old_int, NULL);
        sigaction(SIGTERM, &old_term, NULL);
        v = st.ss_events;
        fprintf(stderr, "simulate: %" PRId64 " patients, %" PRId64 " events (%"
                PRId64 " admissions, %" PRId64 " discharges, %" PRId64
                " deaths, %" PRId64 " sips, %" PRId64 " cancellations, %"
                PRId64 " duplicates)\n", st.ss_patients, v, st.ss_admissions,
                st.ss_discharges, st.ss_deaths, st.ss_sips,
                st.ss_cancellations, st.ss_duplicates);
done:
        if (out && out != stdout)
                fclose(out);
        pub_close(&pub);
        vg_sim_destroy(sim);
        for (int k = 0; k < nkommuner; k++)
                vg_free(kommuner[k]);
        vg_free(kommuner);
        vg_conf_destroy(conf);
        return rc;
}
