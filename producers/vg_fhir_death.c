/*
 * vg_fhir_death.c - deaths from FHIR (vg_fhir_int.h): a Patient with
 * deceasedDateTime, or a death Observation (LOINC 81956-5 or SNOMED CT
 * 419620001; entered-in-error cancels it); the place of death from an
 * Encounter of the line, the diagnosis group from its Conditions.
 */
#include "vg_fhir_int.h"

#include <stdio.h>
#include <string.h>

static const char *const obs_statuses[] = {
        "registered", "preliminary", "final", "amended", "corrected",
        "cancelled", "entered-in-error", "unknown",
};

/* The first ICD-10 code of a Condition of patient pid in the line (not
 * entered-in-error or refuted), or NULL. */
static const char *condition_code(const vg_fhir_ctx_t *cx, const line_t *ln,
                                  const char *pid) {
        for (size_t i = 0; i < ln->ln_cnt; i++) {
                json_t *c = ln->ln_res[i];
                const char *code, *cpid, *t = fhir_res_type(c);
                json_t *vs = json_object_get(c, "verificationStatus");
                if (!t || strcmp(t, "Condition") ||
                    !(code = fhir_icd10_code(json_object_get(c, "code"))))
                        continue;
                if (fhir_has_coding(vs, "http://terminology.hl7.org/"
                                        "CodeSystem/condition-ver-status",
                                    "entered-in-error") ||
                    fhir_has_coding(vs, "http://terminology.hl7.org/"
                                        "CodeSystem/condition-ver-status",
                                    "refuted"))
                        continue;
                cpid = fhir_entry_pid(cx, ln, i);
                if (cpid[0] && !strcmp(cpid, pid))
                        return code;
        }
        return NULL;
}

static int place_of_setting(int cs) {
        switch (cs) {
        case VG_CS_HOSPITAL_INPATIENT: return VG_POD_HOSPITAL;
        case VG_CS_PALLIATIVE_UNIT:    return VG_POD_PALLIATIVE_UNIT;
        case VG_CS_SSIH:               return VG_POD_HOME_WITH_SSIH;
        case VG_CS_SHORT_TERM_CARE:    return VG_POD_SHORT_TERM_CARE;
        case VG_CS_NURSING_HOME:       return VG_POD_NURSING_HOME;
        default:                       return VG_POD_UNKNOWN;
        }
}

/* place_of_death from an Encounter: the place of its care setting. */
static int place_of_encounter(const vg_fhir_ctx_t *cx, const line_t *ln,
                              json_t *enc) {
        const char *fac = NULL,
                   *cls = fhir_peek_str(json_object_get(enc, "class"), "code");
        char e[8];
        if (fhir_facility_of(ln, enc, &fac, e, sizeof(e)))
                return VG_POD_UNKNOWN;
        return place_of_setting(vg_hl7_map_care_setting(cx->fx_map, fac, cls));
}

/* The place of a patient's death from the line: an Encounter of the
 * patient discharged as died (disposition DIED). UNKNOWN otherwise. */
static int place_of_patient(const vg_fhir_ctx_t *cx, const line_t *ln,
                            const char *pid) {
        for (size_t i = 0; i < ln->ln_cnt; i++) {
                json_t *enc = ln->ln_res[i];
                const char *epid, *t = fhir_res_type(enc);
                if (!t || strcmp(t, "Encounter") ||
                    fhir_disposition_of(cx->fx_map,
                                        json_object_get(
                                           json_object_get(enc,
                                                           "hospitalization"),
                                           "dischargeDisposition")) !=
                            VG_DISP_DIED)
                        continue;
                epid = fhir_entry_pid(cx, ln, i);
                if (epid[0] && !strcmp(epid, pid))
                        return place_of_encounter(cx, ln, enc);
        }
        return VG_POD_UNKNOWN;
}

/* Fills a death event from what the patient and the line say. */
static int death_fields(const vg_fhir_ctx_t *cx, const line_t *ln,
                        vg_event_t *ev, const common_t *cm, bool cancel,
                        char *e, size_t es) {
        if (fhir_age_sex(cx, ev, &cm->cm_pat, cancel, "the death", e, es))
                return -1;
        ev->ev_diagnosis_group = vg_hl7_map_diagnosis(
                cx->fx_map, condition_code(cx, ln, cm->cm_pat.pt_id));
        ev->ev_expected = false;
        return 0;
}

void fhir_conv_patient(const vg_fhir_ctx_t *cx, const line_t *ln,
                       json_t *res, vg_fhir_item_t *it, bool in_bundle) {
        char e[512], src[VAL_MAX + 8];
        common_t cm;
        int64_t at = 0;
        int r;
        vg_event_t *ev;

        memset(&cm, 0, sizeof(cm));
        if (json_object_get(res, "deceasedBoolean") &&
            json_object_get(res, "deceasedDateTime")) {
                /* deceased[x] is a choice: one of them, never both */
                snprintf(e, sizeof(e), "Patient: deceasedBoolean and "
                         "deceasedDateTime together (deceased[x] takes "
                         "one)");
                goto bad;
        }
        r = fhir_get_time(cx, res, "deceasedDateTime",
                          "Patient.deceasedDateTime", &at, e, sizeof(e));
        if (r < 0)
                goto bad;
        if (r == 0) {
                if (json_is_true(json_object_get(res, "deceasedBoolean")))
                        fhir_item_msg(it, VG_FHIR_SKIPPED,
                                      "Patient.deceasedBoolean without "
                                      "deceasedDateTime: no death recorded "
                                      "(its time is needed)");
                else if (in_bundle)
                        it->fi_res = VG_FHIR_CONTEXT;
                else
                        fhir_item_msg(it, VG_FHIR_SKIPPED,
                                      "Patient without deceasedDateTime: no "
                                      "event");
                return;
        }
        if (fhir_source_of(ln, res, src, sizeof(src), e, sizeof(e)) ||
            fhir_patient_of(cx, res, NULL, "Patient", &cm.cm_pat, e,
                            sizeof(e)) ||
            fhir_kommun_of(cx, &cm, at, false, e, sizeof(e)))
                goto bad;
        cm.cm_source = src;
        /* One death per patient: the id is the patient's. */
        ev = fhir_record_event(it, VG_REC_DEATH, &cm, "Patient",
                               cm.cm_pat.pt_id, "death", false, at);
        ev->ev_place_of_death = place_of_patient(cx, ln, cm.cm_pat.pt_id);
        if (death_fields(cx, ln, ev, &cm, false, e, sizeof(e)))
                goto bad;
        fhir_item_done(cx, it, &cm, e, sizeof(e));
        return;
bad:
        fhir_item_refuse(it, &cm, e);
}

static bool is_death_observation(json_t *obs) {
        json_t *code = json_object_get(obs, "code");
        return fhir_has_coding(code, "http://loinc.org", "81956-5") ||
               fhir_has_coding(code, "http://snomed.info/sct", "419620001");
}

void fhir_conv_observation(const vg_fhir_ctx_t *cx, const line_t *ln,
                           json_t *obs, vg_fhir_item_t *it,
                           bool in_bundle) {
        char e[512], src[VAL_MAX + 8];
        const char *status, *scope, *key;
        static const char *const times[] = {"valueDateTime",
                                            "effectiveDateTime",
                                            "effectiveInstant"};
        common_t cm;
        int64_t at = 0;
        int r = 0;
        bool cancel;
        vg_event_t *ev;

        memset(&cm, 0, sizeof(cm));
        if (!is_death_observation(obs)) {
                if (in_bundle)
                        it->fi_res = VG_FHIR_CONTEXT;
                else
                        fhir_item_msg(it, VG_FHIR_SKIPPED,
                                      "Observation: not a death (code LOINC "
                                      "81956-5 or SNOMED CT 419620001): no "
                                      "event");
                return;
        }
        if (fhir_get_status(obs, "Observation", obs_statuses,
                            VG_ARRAY_SIZE(obs_statuses), &status, e, sizeof(e)))
                goto bad;
        cancel = !strcmp(status, "entered-in-error");
        if (!cancel && strcmp(status, "final") && strcmp(status, "amended") &&
            strcmp(status, "corrected")) {
                fhir_item_msg(it, VG_FHIR_SKIPPED,
                              "death Observation status %s: no event (final, "
                              "amended or corrected give a death, "
                              "entered-in-error cancels it)", status);
                return;
        }
        if (fhir_identity(obs, "Observation", &scope, &key, e, sizeof(e)) ||
            fhir_source_of(ln, obs, src, sizeof(src), e, sizeof(e)))
                goto bad;
        if (cancel)
                r = fhir_get_time(cx, json_object_get(obs, "meta"),
                                  "lastUpdated",
                                  "Observation.meta.lastUpdated", &at, e,
                                  sizeof(e));
        for (size_t i = 0; r == 0 && i < VG_ARRAY_SIZE(times); i++) {
                char what[48];
                snprintf(what, sizeof(what), "Observation.%s", times[i]);
                r = fhir_get_time(cx, obs, times[i], what, &at, e, sizeof(e));
        }
        if (r == 0)
                vg_seterr(e, sizeof(e), VG_ERR_INVALID,
                          "Observation.valueDateTime and effectiveDateTime: "
                          "both missing (the time of death)");
        if (r <= 0)
                goto bad;
        cm.cm_source = src;
        if (fhir_subject_of(cx, ln, obs, "Observation", &cm.cm_pat, e,
                            sizeof(e)) ||
            fhir_kommun_of(cx, &cm, at, cancel, e, sizeof(e)))
                goto bad;
        ev = fhir_record_event(it, VG_REC_DEATH, &cm, scope, key, "death",
                               cancel, at);
        {
                json_t *enc = fhir_resolve(
                        ln, json_object_get(obs, "encounter"), "Encounter");
                ev->ev_place_of_death = enc ? place_of_encounter(cx, ln, enc)
                                            : VG_POD_UNKNOWN;
        }
        if (death_fields(cx, ln, ev, &cm, cancel, e, sizeof(e)))
                goto bad;
        fhir_item_done(cx, it, &cm, e, sizeof(e));
        return;
bad:
        fhir_item_refuse(it, &cm, e);
}
