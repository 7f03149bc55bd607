/*
 * vg_fhir_int.h - what the parts of the FHIR R4 converter share (not an
 * interface for other code: vg_fhir.h is). The parts, by job:
 *
 *   vg_fhir_json.c       reading JSON: strings, arrays, codings, ICD-10
 *                        codes, FHIR dates and times, event ids
 *   vg_fhir.c            the line (a resource or a Bundle), references
 *                        between its entries, a resource's identity and
 *                        status, the items and what every event carries;
 *                        vg_fhir_convert
 *   vg_fhir_patient.c    the patient: personnummer -> patient_id, birth
 *                        date, sex, kommun; age at an event
 *   vg_fhir_encounter.c  Encounter -> admission, discharge, cancellations
 *   vg_fhir_death.c      Patient.deceasedDateTime and death Observations
 *                        -> death, its place and diagnosis group
 *
 * All pure: no I/O, no clock. A personnummer is copied only into stack
 * buffers that are wiped after use, the parsed tree's strings are wiped
 * before it is freed, and every message passes vg_pseudo_redact.
 */
#ifndef VG_FHIR_INT_H
#define VG_FHIR_INT_H

#include "vg_fhir.h"
#include "vg_pseudo.h"

#include <jansson.h>

/* Longest string the converter takes from a resource (ids, codes). */
#define VAL_MAX 256

/* ------------------------------------------------------------------ */
/* Reading JSON (vg_fhir_json.c)                                      */
/* ------------------------------------------------------------------ */

bool fhir_in_set(const char *s, const char *const *set, size_t n);
/* A short code from the input as it may be quoted in a message: up to 24
 * letters, digits, '-' and '.', else "(not shown)". */
const char *fhir_quotable(const char *s);
/* obj[key] as a string: *out NULL when absent. Returns 0, or -1 with a
 * message naming what when it is not a string, is longer than VAL_MAX - 1
 * or holds a control character. */
int fhir_get_str(json_t *obj, const char *key, const char *what,
                 const char **out, char *e, size_t es);
/* obj[key] as a string or NULL, without complaints. */
const char *fhir_peek_str(json_t *obj, const char *key);
/* The i-th element of obj[key] when it is an array; a lone object counts
 * as an array of one (lenient about 0..1 vs 0..*). */
json_t *fhir_elem(json_t *obj, const char *key, size_t i);
size_t fhir_elems(json_t *obj, const char *key);
/* True if a Coding or CodeableConcept cc has coding system/code. */
bool fhir_has_coding(json_t *cc, const char *system, const char *code);
/* The first ICD-10 code of CodeableConcept cc, or NULL. */
const char *fhir_icd10_code(json_t *cc);
bool fhir_all_digits(const char *s, size_t n);
/* obj[key] as a time into *ms: 1 when there is one, 0 when absent, -1
 * with a message when it is not a date or dateTime. */
int fhir_get_time(const vg_fhir_ctx_t *cx, json_t *obj, const char *key,
                  const char *what, int64_t *ms, char *e, size_t es);
/* Wipes the string values of a parsed tree before it is freed. */
void fhir_wipe_json(json_t *v, int depth);
/* The resourceType of res, or NULL. */
const char *fhir_res_type(json_t *res);

/* ------------------------------------------------------------------ */
/* The line, the items (vg_fhir.c)                                    */
/* ------------------------------------------------------------------ */

typedef struct line_s {
        json_t      *ln_root;
        json_t     **ln_res;     /* each entry's resource (NULL: none) */
        const char **ln_url;     /* each entry's fullUrl (or NULL) */
        size_t       ln_cnt;
        const char  *ln_source;  /* Bundle.meta.source, or NULL */
        char       (*ln_pid)[VG_PSEUDO_HEX_BUFSZ]; /* each entry's subject's
                                  * patient_id, once asked ("": none) */
        bool        *ln_pid_known;
        /* The entries by fullUrl and by (resourceType, id): open
         * addressing, an entry's index + 1 per slot (0: empty), the
         * strings the tree's own (fhir_resolve, without a scan of the
         * Bundle per reference) */
        size_t      *ln_byurl, *ln_byid, ln_slots;
        const char **ln_type, **ln_id;
} line_t;

/* The resource of the line a Reference object ref points to, of type
 * want, or NULL. */
json_t *fhir_resolve(const line_t *ln, json_t *ref, const char *want);
/* A name for what a Reference points to (for facility_id); *out NULL when
 * there is none. Returns 0 or -1 with a message. */
int fhir_ref_name(const line_t *ln, json_t *ref, const char *type,
                  const char *what, const char **out, char *e, size_t es);
/* The identity of a resource, for its event ids. Returns 0, or -1 with a
 * message. */
int fhir_identity(json_t *res, const char *type, const char **scope,
                  const char **key, char *e, size_t es);
/* res.status of a resource of type into *status: present and one of
 * set. Returns 0, or -1 with a message. */
int fhir_get_status(json_t *res, const char *type, const char *const *set,
                    size_t n, const char **status, char *e, size_t es);

typedef struct pat_s {
        char     pt_id[VG_PSEUDO_HEX_BUFSZ]; /* patient_id */
        int64_t  pt_birth;        /* birth date, local 00:00 as epoch ms */
        int      pt_sex;          /* vg_sex_t */
        json_t  *pt_res;          /* the Patient resource (borrowed:
                                   * its addresses), or NULL */
} pat_t;

/* What every event of the item carries. */
typedef struct common_s {
        const char *cm_source;   /* source_system */
        const char *cm_kommun;
        char        cm_res[5];   /* the Patient's residence, or "" */
        pat_t       cm_pat;
} common_t;

/* Sets the item's result and message (redacted). */
void fhir_item_msg(vg_fhir_item_t *it, vg_fhir_res_t res, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
/* source_system "fhir:" + meta.source of the resource, else of the
 * Bundle; "fhir" when neither has one. */
int fhir_source_of(const line_t *ln, json_t *res, char *out, size_t size,
                   char *e, size_t es);
/* kommun: the Patient's residence at time at (any of its addresses'
 * times for a cancellation, whose kommun is not used), else
 * kommun.default. */
int fhir_kommun_of(const vg_fhir_ctx_t *cx, common_t *cm, int64_t at,
                   bool cancel, char *e, size_t es);
/* Adds the event of what (e.g. "admission") a resource (scope, key)
 * records, or with cancel the event that cancels it. */
vg_event_t *fhir_record_event(vg_fhir_item_t *it, vg_rectype_t type,
                              const common_t *cm, const char *scope,
                              const char *key, const char *what, bool cancel,
                              int64_t at);
/* Ends item it with its events when they pass the checks every event
 * passes, else refuses it (message in e). cm is wiped. */
void fhir_item_done(const vg_fhir_ctx_t *cx, vg_fhir_item_t *it, common_t *cm,
                    char *e, size_t es);
/* Refuses item it with message e: no events. cm is wiped. */
void fhir_item_refuse(vg_fhir_item_t *it, common_t *cm, const char *e);

/* ------------------------------------------------------------------ */
/* The patient (vg_fhir_patient.c)                                    */
/* ------------------------------------------------------------------ */

/* Fills pt from the Patient resource pres (may be NULL) and, when it has
 * no personnummer, the Reference's identifier ref_id (may be NULL).
 * where: the element named in messages. Returns 0 or -1 with a message. */
int fhir_patient_of(const vg_fhir_ctx_t *cx, json_t *pres, json_t *ref,
                    const char *where, pat_t *pt, char *e, size_t es);
/* The patient of a resource's subject Reference. */
int fhir_subject_of(const vg_fhir_ctx_t *cx, const line_t *ln, json_t *res,
                    const char *type, pat_t *pt, char *e, size_t es);
/* patient_id of entry i's subject, or "" when it has none usable. */
const char *fhir_entry_pid(const vg_fhir_ctx_t *cx, const line_t *ln, size_t i);
/* age_years and sex of ev (at ev_occurred_at) from pt. Unless cancel, an
 * age over 150 or a birth after the event is refused: -1 with a message
 * naming when ("period.start", "the death"). */
/* The kommun (out[5], "" for none) of pt's residence at time at (any
 * time: at ignored): fhir_kommun_of's. 0, or -1 with a message. */
int fhir_residence(const vg_fhir_ctx_t *cx, const pat_t *pt, int64_t at,
                   bool any_time, char *out, char *e, size_t es);
int fhir_age_sex(const vg_fhir_ctx_t *cx, vg_event_t *ev, const pat_t *pt,
                 bool cancel, const char *when, char *e, size_t es);

/* ------------------------------------------------------------------ */
/* The resources (vg_fhir_encounter.c, vg_fhir_death.c)               */
/* ------------------------------------------------------------------ */

void fhir_conv_encounter(const vg_fhir_ctx_t *cx, const line_t *ln, json_t *enc,
                         vg_fhir_item_t *it);
/* disposition of a CodeableConcept (the site mapping, else FHIR codes). */
int fhir_disposition_of(const vg_hl7_map_t *map, json_t *cc);
/* facility_id: Encounter.location[0].location, else serviceProvider. */
int fhir_facility_of(const line_t *ln, json_t *enc, const char **fac, char *e,
                     size_t es);
void fhir_conv_patient(const vg_fhir_ctx_t *cx, const line_t *ln, json_t *res,
                       vg_fhir_item_t *it, bool in_bundle);
void fhir_conv_observation(const vg_fhir_ctx_t *cx, const line_t *ln,
                           json_t *obs, vg_fhir_item_t *it, bool in_bundle);

#endif /* VG_FHIR_INT_H */
