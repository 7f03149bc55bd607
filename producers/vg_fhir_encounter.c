/*
 * vg_fhir_encounter.c - FHIR Encounter to care events (vg_fhir_int.h):
 * in-progress -> an admission, finished -> a discharge, entered-in-error
 * -> the cancellations of both; its facility, care setting, diagnosis
 * group (its diagnosis Conditions, else reasonCode), planned, disposition.
 */
#include "vg_fhir_int.h"

#include <string.h>

/* FHIR discharge-disposition codes with an obvious event symbol; the
 * site's disposition.<code> comes first, disposition.default after. */
static const struct {
        const char *code;
        int         disp;
} fhir_disp[] = {
        {"home", VG_DISP_HOME},       {"alt-home", VG_DISP_HOME},
        {"hosp", VG_DISP_PALLIATIVE_UNIT},
        {"long", VG_DISP_NURSING_HOME},
        {"snf", VG_DISP_SHORT_TERM_CARE},
        {"aadvice", VG_DISP_AGAINST_ADVICE},
        {"exp", VG_DISP_DIED},
};

static const char *const enc_statuses[] = {
        "planned", "arrived", "triaged", "in-progress", "onleave",
        "finished", "cancelled", "entered-in-error", "unknown",
};

/* The Encounter's ICD-10 code: of the Condition of its diagnosis with the
 * lowest rank (in order when none has one) found in the line, else the
 * first in reasonCode. NULL when none. */
static const char *encounter_code(const line_t *ln, json_t *enc) {
        const char *best = NULL;
        json_int_t best_rank = 0;
        for (size_t i = 0, n = fhir_elems(enc, "diagnosis"); i < n; i++) {
                json_t *d = fhir_elem(enc, "diagnosis", i);
                json_t *rk = json_object_get(d, "rank");
                json_int_t rank = json_is_integer(rk) ? json_integer_value(rk)
                                                      : INT32_MAX;
                json_t *c = fhir_resolve(ln, json_object_get(d, "condition"),
                                         "Condition");
                const char *code = fhir_icd10_code(json_object_get(c, "code"));
                if (code && (!best || rank < best_rank)) {
                        best = code;
                        best_rank = rank;
                }
        }
        for (size_t i = 0, n = fhir_elems(enc, "reasonCode"); !best && i < n;
             i++)
                best = fhir_icd10_code(fhir_elem(enc, "reasonCode", i));
        return best;
}

/* disposition of a CodeableConcept: the site's disposition.<code> or the
 * built-in FHIR codes, coding by coding, else disposition.default. */
int fhir_disposition_of(const vg_hl7_map_t *map, json_t *cc) {
        for (size_t i = 0, n = fhir_elems(cc, "coding"); i < n; i++) {
                const char *code =
                        fhir_peek_str(fhir_elem(cc, "coding", i), "code");
                int v = vg_hl7_map_disposition_find(map, code);
                if (v >= 0)
                        return v;
                for (size_t k = 0; code && k < VG_ARRAY_SIZE(fhir_disp); k++)
                        if (!strcmp(code, fhir_disp[k].code))
                                return fhir_disp[k].disp;
        }
        return vg_hl7_map_disposition_default(map);
}

/* facility_id: Encounter.location[0].location, else serviceProvider. */
int fhir_facility_of(const line_t *ln, json_t *enc, const char **fac,
                     char *e, size_t es) {
        json_t *loc =
                json_object_get(fhir_elem(enc, "location", 0), "location");
        json_t *org = json_object_get(enc, "serviceProvider");
        *fac = NULL;
        if (json_is_object(loc) &&
            fhir_ref_name(ln, loc, "Location", "Encounter.location.location",
                          fac, e, es))
                return -1;
        if (!*fac && json_is_object(org) &&
            fhir_ref_name(ln, org, "Organization", "Encounter.serviceProvider",
                          fac, e, es))
                return -1;
        if (!*fac) {
                vg_seterr(e, es, VG_ERR_INVALID,
                          "Encounter.location and Encounter.serviceProvider: "
                          "both missing (the facility_id)");
                return -1;
        }
        return 0;
}

typedef enum { ST_ADMIT, ST_DISCHARGE, ST_CANCEL } enc_kind_t;

void fhir_conv_encounter(const vg_fhir_ctx_t *cx, const line_t *ln,
                         json_t *enc, vg_fhir_item_t *it) {
        const vg_hl7_map_t *map = cx->fx_map;
        char e[512], src[VAL_MAX + 8];
        const char *status, *scope, *key, *fac, *cls = NULL, *code;
        json_t *period = json_object_get(enc, "period");
        common_t cm;
        enc_kind_t kind;
        int64_t at = 0;
        int r;

        memset(&cm, 0, sizeof(cm));
        if (fhir_get_status(enc, "Encounter", enc_statuses,
                            VG_ARRAY_SIZE(enc_statuses), &status, e, sizeof(e)))
                goto bad;
        if (!strcmp(status, "in-progress"))
                kind = ST_ADMIT;
        else if (!strcmp(status, "finished"))
                kind = ST_DISCHARGE;
        else if (!strcmp(status, "entered-in-error"))
                kind = ST_CANCEL;
        else {
                fhir_item_msg(it, VG_FHIR_SKIPPED,
                              "Encounter status %s: no event (in-progress "
                              "gives an admission, finished a discharge, "
                              "entered-in-error cancels them)", status);
                return;
        }
        if (fhir_identity(enc, "Encounter", &scope, &key, e, sizeof(e)) ||
            fhir_facility_of(ln, enc, &fac, e, sizeof(e)) ||
            fhir_source_of(ln, enc, src, sizeof(src), e, sizeof(e)))
                goto bad;
        if (fhir_get_str(json_object_get(enc, "class"), "code",
                         "Encounter.class.code", &cls, e, sizeof(e)))
                goto bad;
        cm.cm_source = src;
        if (fhir_subject_of(cx, ln, enc, "Encounter", &cm.cm_pat, e,
                            sizeof(e)))
                goto bad;

        /* occurred_at */
        switch (kind) {
        case ST_ADMIT:
                r = fhir_get_time(cx, period, "start", "Encounter.period.start",
                                  &at, e, sizeof(e));
                if (r == 0)
                        vg_seterr(e, sizeof(e), VG_ERR_INVALID,
                                  "Encounter.period.start: missing (when "
                                  "the admission happened)");
                break;
        case ST_DISCHARGE:
                r = fhir_get_time(cx, period, "end", "Encounter.period.end",
                                  &at, e, sizeof(e));
                if (r == 0)
                        vg_seterr(e, sizeof(e), VG_ERR_INVALID,
                                  "Encounter.period.end: missing (when the "
                                  "discharge happened)");
                break;
        default:
                r = fhir_get_time(cx, json_object_get(enc, "meta"),
                                  "lastUpdated", "Encounter.meta.lastUpdated",
                                  &at, e, sizeof(e));
                if (r == 0)
                        r = fhir_get_time(cx, period, "end",
                                          "Encounter.period.end", &at, e,
                                          sizeof(e));
                if (r == 0)
                        r = fhir_get_time(cx, period, "start",
                                          "Encounter.period.start", &at, e,
                                          sizeof(e));
                if (r == 0)
                        vg_seterr(e, sizeof(e), VG_ERR_INVALID,
                                  "Encounter.meta.lastUpdated, period.end "
                                  "and period.start: all missing (when the "
                                  "cancellation happened)");
        }
        if (r <= 0 || fhir_kommun_of(cx, &cm, at, kind == ST_CANCEL, e,
                                          sizeof(e)))
                goto bad;

        for (int i = 0; i < (kind == ST_CANCEL ? 2 : 1); i++) {
                bool admit = kind == ST_ADMIT || (kind == ST_CANCEL && i == 0);
                const char *what = admit ? "admission" : "discharge";
                vg_event_t *ev = fhir_record_event(
                        it, admit ? VG_REC_ADMISSION : VG_REC_DISCHARGE, &cm,
                        scope, key, what, kind == ST_CANCEL, at);
                ev->ev_stay_id = vg_strdup(key);
                ev->ev_facility_id = vg_strdup(fac);
                ev->ev_care_setting = vg_hl7_map_care_setting(map, fac, cls);
                if (admit) {
                        json_t *pr = json_object_get(enc, "priority");
                        ev->ev_planned = false;
                        for (size_t k = 0, n = fhir_elems(pr, "coding"); k < n;
                             k++) {
                                const char *c = fhir_peek_str(
                                        fhir_elem(pr, "coding", k), "code");
                                if (c && (!strcmp(c, "EL") ||
                                          vg_hl7_map_planned(map, c)))
                                        ev->ev_planned = true;
                        }
                        if (fhir_age_sex(cx, ev, &cm.cm_pat, kind == ST_CANCEL,
                                         "period.start", e, sizeof(e)))
                                goto bad;
                        code = encounter_code(ln, enc);
                        ev->ev_diagnosis_group =
                                vg_hl7_map_diagnosis(map, code);
                } else {
                        json_t *hosp = json_object_get(enc, "hospitalization");
                        ev->ev_disposition = fhir_disposition_of(
                                map, json_object_get(hosp,
                                                     "dischargeDisposition"));
                        ev->ev_needs_coordination =
                                vg_hl7_map_needs_coordination(map);
                }
        }
        fhir_item_done(cx, it, &cm, e, sizeof(e));
        return;
bad:
        fhir_item_refuse(it, &cm, e);
}
