/*
 * sim_population.c - the synthetic population of vg_simulate.h: options,
 * places (hospitals and kommuner of the run), every patient's story
 * (sim_story.c) taken in turn and cut to the period, the stream's
 * imperfections (cancellations, re-entries, duplicates, out-of-order
 * lateness), emission order, counts, and the events as vg_event_t. The
 * model is described in sim_model.h.
 */
#include "sim_model.h"
#include "vg_kommuner.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
        /* Register entries are numbered apart. */
        if (x->se_type != y->se_type)
                return x->se_type < y->se_type ? -1 : 1;
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

/* The random stream of an event's imperfections: a register entry's is
 * its own (sim_model.h). */
static sim_rng_t *rng_of(sim_gen_t *g, const sim_ev_t *e) {
        return e->se_type == VG_REC_REGISTER ? &g->rng_reg : &g->rng;
}

static int64_t jitter(sim_gen_t *g, const sim_ev_t *e) {
        return g->sim->window > 0 ? rng_ms(rng_of(g, e), 0, g->sim->window)
                                  : 0;
}

static uint32_t next_seq(vg_sim_t *sim, const sim_ev_t *e) {
        return e->se_type == VG_REC_REGISTER ? sim->next_rseq++
                                             : sim->next_seq++;
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
                    (g->dies && e.se_at > g->death_at &&
                     e.se_type != VG_REC_REGISTER))
                        continue;
                e.se_patient = idx;
                e.se_seq = next_seq(sim, &e);
                e.se_key = e.se_at + jitter(g, &e);
                sim_append(sim, &e);
        }
        originals = sim->nev;
        for (size_t i = first; i < originals; i++) {
                sim_ev_t c;
                sim_rng_t *r = rng_of(g, &sim->ev[i]);
                int64_t at, lim, delay;
                if (!rng_bern(r, sim->cancel_rate))
                        continue;
                c = sim->ev[i];
                delay = days_ms(rng_exp(r, 0.25));  /* mean 6 h */
                at = c.se_at + 5 * MINUTE + (delay > 3 * DAY ? 3 * DAY : delay);
                lim = last - 1000;
                if (g->dies && g->death_at < lim &&
                    c.se_type != VG_REC_REGISTER)
                        lim = g->death_at;
                if (at > lim)
                        at = lim;
                if (at < c.se_at)
                        at = c.se_at;
                c.se_cancels = c.se_seq + 1;
                c.se_seq = next_seq(sim, &c);
                c.se_at = floor_sec(at);
                c.se_key = c.se_at + jitter(g, &c);
                sim_append(sim, &c);
                if (rng_bern(r, 0.7)) {
                        sim_ev_t re = sim->ev[i];
                        re.se_seq = next_seq(sim, &re);
                        re.se_key = re.se_at + jitter(g, &re);
                        sim_append(sim, &re);
                }
        }
        all = sim->nev;
        for (size_t i = first; i < all; i++) {
                sim_ev_t d;
                if (!rng_bern(rng_of(g, &sim->ev[i]), sim->dup_rate))
                        continue;
                d = sim->ev[i];
                d.se_flags |= SF_DUP;
                d.se_key += jitter(g, &d);
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
                /* The register quality score: fixed by the code (FNV-1a),
                 * the same in every run. */
                {
                        uint64_t hsh = 0xcbf29ce484222325ULL;
                        for (int j = 0; j < 4; j++)
                                hsh = (hsh ^ (unsigned char)code[j]) *
                                      0x100000001b3ULL;
                        k->spr_q = (double)(splitmix64(&hsh) >> 11) *
                                   0x1.0p-53;
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
        sim->reg = !o->so_no_register;
        if (sim_setup_places(sim, o, errstr, errstr_size)) {
                vg_sim_destroy(sim);
                return NULL;
        }
        sim->npat = o->so_patients;
        sim->pat = vg_calloc((size_t)sim->npat, sizeof(*sim->pat));

        memset(&g, 0, sizeof(g));
        g.sim = sim;
        for (int64_t i = 0; i < sim->npat; i++) {
                sim_gen_patient(sim, &g, (uint32_t)i);
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
                else if (e->se_type == VG_REC_REGISTER)
                        st->ss_register++;
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
        else if (ev->ev_type == VG_REC_REGISTER)
                st->ss_register++;
        else
                st->ss_sips++;
}

static char *sim_event_id(const vg_sim_t *sim, int type, uint32_t seq) {
        char buf[64];
        snprintf(buf, sizeof(buf), "%s-%" PRIu64 "-%" PRIu32,
                 type == VG_REC_REGISTER ? "spr" : "sim", sim->seed, seq);
        return vg_strdup(buf);
}

/* Where a register entry was made: the unit of the place of death. */
static void sim_unit(const sim_ev_t *e, const sim_hosp_t *h,
                     const sim_kommun_t *k, char *buf, size_t size) {
        switch (e->se_code) {
        case VG_POD_HOSPITAL:
                snprintf(buf, size, "%s", h->id);
                break;
        case VG_POD_PALLIATIVE_UNIT:
                snprintf(buf, size, "%s", h->pal);
                break;
        case VG_POD_HOME_WITH_SSIH:
                snprintf(buf, size, "%s", h->ssih);
                break;
        case VG_POD_NURSING_HOME:
                snprintf(buf, size, "K%s-SABO", k->code);
                break;
        case VG_POD_SHORT_TERM_CARE:
                snprintf(buf, size, "K%s-KTP", k->code);
                break;
        default:  /* HOME, OTHER, UNKNOWN: the kommun's home care */
                snprintf(buf, size, "K%s-HSV", k->code);
                break;
        }
}

int vg_sim_event(const vg_sim_t *sim, size_t i, vg_event_t *ev) {
        const sim_ev_t *e = &sim->ev[i];
        const sim_patient_t *p = &sim->pat[e->se_patient];
        const sim_kommun_t *k = &sim->kom[p->sp_kommun];
        const sim_hosp_t *h = &sim->hosp[e->se_hosp];
        char buf[96];

        memset(ev, 0, sizeof(*ev));
        ev->ev_type = (vg_rectype_t)e->se_type;
        ev->ev_event_id = sim_event_id(sim, e->se_type, e->se_seq);
        ev->ev_patient_id = vg_strdup(p->sp_id);
        ev->ev_occurred_at = e->se_at;
        ev->ev_kommun = vg_strdup(k->code);
        ev->ev_source_system = vg_strdup(
                e->se_type == VG_REC_REGISTER ? "sim-spr"
                : e->se_flags & SF_KOMMUN     ? "sim-kommun"
                                              : "sim-his");
        ev->ev_residence = p->sp_residence;
        if (e->se_cancels)
                ev->ev_cancels_event_id = sim_event_id(sim, e->se_type,
                                                       e->se_cancels - 1);
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
        case VG_REC_REGISTER:
                ev->ev_death_at = p->sp_death_at;
                sim_unit(e, h, k, buf, sizeof(buf));
                ev->ev_unit_id = vg_strdup(buf);
                ev->ev_expected = (e->se_flags & SF_EXPECTED) != 0;
                for (int q = 0; q < VG_Q__CNT; q++)
                        ev->ev_answers[q] = (int)(e->se_answers >> (2 * q)) & 3;
                ev->ev_pressure_ulcer =
                        (int)(e->se_answers >> SA_ULCER_SHIFT) & 3;
                break;
        default:
                snprintf(buf, sizeof(buf), "sip-%.16s-%u", p->sp_id,
                         (unsigned)e->se_stay);
                ev->ev_sip_id = vg_strdup(buf);
                break;
        }
        return e->se_flags & SF_DUP ? VG_SIM_DUPLICATE : 0;
}
