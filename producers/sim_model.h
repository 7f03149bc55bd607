/*
 * sim_model.h - the simulator's internals, shared by its files (not public
 * API; the public one is vg_simulate.h):
 *
 *   sim_story.c       one patient's care story: attributes, hospital,
 *                     short-term care, SSIH and nursing home stays, SIPs,
 *                     death (the model's constants are there)
 *   sim_population.c  the population: places, every patient's story in
 *                     turn, the stream's imperfections (cancellations,
 *                     re-entries, duplicates, lateness), emission order,
 *                     vg_sim_* (vg_simulate.h)
 *   simulate.c        the command `vigil simulate`
 *
 * Here: the compact event and the run's data, the random streams and the
 * Europe/Stockholm time helpers.
 *
 * The model (all figures are tunable constants in sim_story.c; observed
 * rates on a 2000-patient run are checked by tests/unit/test_simulate.c):
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
 * No event of a patient is later than their death instant (but the
 * register entry); the Death and the DIED discharges of ongoing stays share
 * that instant.
 *
 * Residence (boendeform, on every Admission and Death; one per patient,
 * where they live at the end of their story): a patient who lives in a
 * nursing home then (from the start or after a move) is NURSING_HOME (95 %,
 * else UNKNOWN); others are ORDINARY_HOME 88 %, SHORT_TERM_CARE 3 % (5 % at
 * 80+), OTHER 5 %, UNKNOWN 4 %. Of the patients with an admission or a
 * death about 65 % are ORDINARY_HOME and a quarter NURSING_HOME (a third
 * of the 85+ and the demented), 3-4 % each of the others.
 *
 * Register entries (Svenska palliativregistret, RegisterEntry; none with
 * --no-register). 87.5 % of expected and 25 % of unexpected deaths get an
 * entry: 90 % of these 1-40 local days after the death (median ~12), the
 * rest late, 60-200 days after; an entry after the period's end is not
 * emitted (not yet registered). death_at is the Death's occurred_at,
 * expected the Death's (flipped for 5 %), unit_id where the patient died
 * (the hospital, palliative unit, SSIH team, "K<kommun>-SABO", "-KTP", or
 * the kommun's home care "K<kommun>-HSV"), source_system "sim-spr".
 * Answers are YES with a rate between a low and a high national figure,
 * placed by a quality score of the kommun (fixed by its code) so that some
 * kommuner reach Socialstyrelsen's targets and most do not: eol_conversation
 * 80-90 %, pain_assessed 75-90 %, symptoms_assessed 70-85 %,
 * oral_health_assessed 70-85 %, prn_opioid 92-98.5 %, prn_anxiolytic
 * 86-94 %, prn_antiemetic 75-85 %, prn_antisecretory 80-90 %,
 * present_at_death 75-85 %, bereavement_offered 65-75 % (x0.75 for an
 * unexpected death); UNKNOWN 3 % (less where YES leaves no room), the rest
 * NO. pressure_ulcer: GRADE_1 6 %, UNKNOWN 4 %, GRADE_2_4 5-15 % by kommun
 * (10 % on average), the rest NONE (~80 %). Entries take their own random
 * stream and event numbers ("spr-<seed>-<n>"), so --no-register leaves
 * exactly the register lines out of the same run.
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
#ifndef SIM_MODEL_H
#define SIM_MODEL_H

#include "vg_simulate.h"
#include "vg_record.h"
#include "vg_time.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#define DAY    VG_MS_PER_DAY
#define HOUR   VG_MS_PER_HOUR
#define MINUTE 60000LL
#define NEVER  INT64_MAX

#define WARMUP_DAYS 60

/* ------------------------------------------------------------------ */
/* PRNG: xoshiro256** seeded with splitmix64                          */
/* ------------------------------------------------------------------ */

typedef struct sim_rng_s {
        uint64_t s[4];
} sim_rng_t;

static inline uint64_t splitmix64(uint64_t *x) {
        uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
}

static inline void rng_seed(sim_rng_t *r, uint64_t seed, uint64_t stream) {
        uint64_t x = seed;
        x = splitmix64(&x) ^ (stream * 0xd1b54a32d192ed03ULL);
        for (int i = 0; i < 4; i++)
                r->s[i] = splitmix64(&x);
}

static inline uint64_t rotl(uint64_t x, int k) {
        return (x << k) | (x >> (64 - k));
}

static inline uint64_t rng_next(sim_rng_t *r) {
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
static inline double rng_u01(sim_rng_t *r) {
        return (double)(rng_next(r) >> 11) * 0x1.0p-53;
}

static inline bool rng_bern(sim_rng_t *r, double p) {
        return rng_u01(r) < p;
}

static inline double rng_exp(sim_rng_t *r, double mean) {
        return -mean * log1p(-rng_u01(r));
}

static inline double rng_normal(sim_rng_t *r) {
        double u1 = 1.0 - rng_u01(r), u2 = rng_u01(r);
        return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

static inline double rng_lognormal(sim_rng_t *r, double median,
                                   double sigma) {
        return median * exp(sigma * rng_normal(r));
}

/* Uniform in [lo, hi) (lo if hi <= lo). */
static inline int64_t rng_ms(sim_rng_t *r, int64_t lo, int64_t hi) {
        if (hi <= lo)
                return lo;
        return lo + (int64_t)(rng_u01(r) * (double)(hi - lo));
}

/* Index drawn with weights w[0..n-1] (not all zero). */
static inline int rng_pick(sim_rng_t *r, const double *w, int n) {
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

static inline int64_t floor_sec(int64_t ms) {
        int64_t r = ms % 1000;
        return r < 0 ? ms - r - 1000 : ms - r;
}

static inline int64_t days_ms(double days) {
        return (int64_t)(days * (double)DAY);
}

static inline int64_t local_day(int64_t ms) {
        return vg_local_day(VG_TZ_STOCKHOLM, ms);
}

/* The instant local day `day` (days since 1970-01-01) begins. Midnight is
 * never inside a DST change (those are at 02:00/03:00 local). */
static inline int64_t local_midnight(int64_t day) {
        int64_t guess = day * DAY;
        return guess - vg_tz_offset(VG_TZ_STOCKHOLM, guess - HOUR);
}

/* 0 = Sunday .. 6 = Saturday (1970-01-01 was a Thursday). */
static inline int weekday(int64_t day) {
        int64_t w = (day + 4) % 7;
        return (int)(w < 0 ? w + 7 : w);
}

static inline int age_on(int64_t birth_day, int64_t day) {
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

/* se_answers of a register entry: 2 bits per vg_question_t (vg_answer_t),
 * then 2 bits of vg_ulcer_t. */
#define SA_ULCER_SHIFT (2 * VG_Q__CNT)

/* One event, compact; vg_sim_event() makes the strings. */
typedef struct sim_ev_s {
        int64_t  se_at;       /* occurred_at */
        int64_t  se_key;      /* emission order */
        uint32_t se_patient;  /* index into vg_sim_t.pat */
        uint32_t se_seq;      /* event_id number (while a patient is being
                               * generated: generation order) */
        uint32_t se_cancels;  /* 0, or se_seq + 1 of the cancelled event */
        uint32_t se_answers;  /* register entry: SA_* */
        uint16_t se_stay;     /* stay number (admission, discharge) or SIP
                               * number (sip_created) */
        /* A register entry's se_seq and se_cancels count apart from the
         * other events' ("spr-<seed>-<n>"). */
        uint8_t  se_type;     /* vg_rectype_t */
        uint8_t  se_setting;  /* vg_care_setting_t */
        uint8_t  se_hosp;     /* index into vg_sim_t.hosp */
        uint8_t  se_code;     /* disposition or place of death (death,
                               * register entry) */
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
        double spr_q;     /* register quality score, 0..1 (by code) */
} sim_kommun_t;

typedef struct sim_patient_s {
        char     sp_id[65];     /* patient_id: 64 hex digits */
        int64_t  sp_birth_day;  /* days since 1970-01-01 */
        int64_t  sp_death_at;   /* the death instant, or NEVER */
        uint16_t sp_kommun;     /* index into vg_sim_t.kom */
        uint8_t  sp_sex;
        uint8_t  sp_diag;
        uint8_t  sp_residence;  /* vg_residence_t */
} sim_patient_t;

struct vg_sim_s {
        uint64_t        seed;
        uint64_t     idseed;     /* seed of the pseudonyms: seed and the
                                   * options that shape the population */
        int64_t         start, end;   /* period */
        int64_t         cutoff;       /* emit events before this */
        int64_t         window;       /* out-of-order window, ms */
        double          dup_rate, cancel_rate;
        bool            reg;          /* register entries */
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
        uint32_t        next_rseq;    /* register entries' numbers */
        vg_sim_stats_t  stats;
};

/* The state of one patient while it is generated. */
typedef struct sim_gen_s {
        vg_sim_t      *sim;
        sim_rng_t      rng;
        sim_rng_t      rng_reg;    /* residence and register entry */
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


/* A 4-digit SCB kommun code (--kommuner, the run's places). */
static inline bool is_kommun_code(const char *s) {
        return s && strlen(s) == 4 && s[0] >= '0' && s[0] <= '9' &&
               s[1] >= '0' && s[1] <= '9' && s[2] >= '0' && s[2] <= '9' &&
               s[3] >= '0' && s[3] <= '9';
}

/* Generates patient idx of sim into g (its events in g->ev, any order;
 * g->sim set by the caller, g->ev reused from patient to patient). */
void sim_gen_patient(vg_sim_t *sim, sim_gen_t *g, uint32_t idx);

#endif /* SIM_MODEL_H */
