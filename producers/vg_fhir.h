/*
 * vg_fhir.h - FHIR R4 resources (JSON) to care events (docs/HOSPITAL.md,
 * "FHIR R4").
 *
 * Pure: no I/O and no clock (the caller passes "now"). One input line holds
 * one resource or a Bundle; vg_fhir_convert turns it into one item per
 * resource read (a Bundle's entries in order):
 *   - Encounter: in-progress -> an admission, finished -> a discharge,
 *     entered-in-error -> two cancellations (of the admission and of the
 *     discharge the Encounter records); other statuses are skipped;
 *   - Patient with deceasedDateTime, or a death Observation (LOINC 81956-5
 *     or SNOMED CT 419620001; entered-in-error cancels it) -> a death;
 *   - anything else is read only for what other entries refer to.
 * Event ids are derived from the resource's identity (its identifier, else
 * its id), so a re-sent resource is a duplicate and entered-in-error names
 * the events it cancels. A personnummer in a Patient identifier (or a
 * Reference's identifier) becomes patient_id = hex(HMAC-SHA256(key,
 * personnummer)) as in vg_hl7; no message ever quotes it or any other
 * patient data. The site mapping (care setting, kommun, diagnosis group,
 * disposition, planned, needs_coordination) is the HL7 one (vg_hl7_map_t).
 */
#ifndef VG_FHIR_H
#define VG_FHIR_H

#include "vg_common.h"
#include "vg_hl7.h"
#include "vg_record.h"
#include "vg_time.h"

typedef struct vg_fhir_ctx_s {
        const vg_hl7_map_t  *fx_map;       /* site mapping (shared) */
        const unsigned char *fx_key;       /* pseudonym key (required) */
        size_t               fx_keylen;
        vg_tz_t              fx_tz;        /* times without an offset */
        int64_t              fx_now_ms;    /* wall clock, for validation */
        size_t               fx_max_bytes; /* longest line; 0: no limit */
} vg_fhir_ctx_t;

typedef enum vg_fhir_res_e {
        VG_FHIR_EVENT = 0, /* fi_ev[0 .. fi_nev) are events to write */
        VG_FHIR_SKIPPED,   /* nothing to write; fi_msg says why (a note) */
        VG_FHIR_CONTEXT,   /* a Bundle entry that records nothing itself
                            * (a Patient without a death, a Condition, a
                            * Location, ...): no note */
        VG_FHIR_INVALID    /* refused; fi_msg says why */
} vg_fhir_res_t;

#define VG_FHIR_EVENTS_MAX 2
/* Size of fi_name: "Type/id" as it may be printed. */
#define VG_FHIR_NAME_BUFSZ 80

typedef struct vg_fhir_item_s {
        vg_fhir_res_t fi_res;
        int           fi_entry;   /* 1-based Bundle entry; 0: the line */
        char          fi_name[VG_FHIR_NAME_BUFSZ]; /* "Encounter/e1",
                                   * printable, redacted; "Encounter" without
                                   * an id; "?" without a resourceType */
        int           fi_nev;     /* events in fi_ev */
        vg_event_t    fi_ev[VG_FHIR_EVENTS_MAX];
        char         *fi_msg;     /* SKIPPED, INVALID: the reason, never
                                   * quoting personal data; else NULL */
} vg_fhir_item_t;

typedef struct vg_fhir_out_s {
        vg_fhir_item_t *fo_item;
        size_t          fo_cnt;
        size_t          fo_size;  /* allocated items */
} vg_fhir_out_t;

/* Converts one line (a resource or a Bundle, JSON). out is emptied first;
 * the caller frees it with vg_fhir_out_clear. Returns VG_OK, or
 * VG_ERR_INVALID with errstr when the line is refused as a whole (longer
 * than fx_max_bytes, not JSON, not an object with a resourceType); out is
 * then empty. errstr and every fi_msg pass vg_pseudo_redact. Can't crash
 * on any input. */
vg_err_t vg_fhir_convert(const vg_fhir_ctx_t *cx, const char *line,
                         size_t len, vg_fhir_out_t *out, char *errstr,
                         size_t errstr_size);
/* Frees the items and their events; out may be empty. */
void vg_fhir_out_clear(vg_fhir_out_t *out);

/* Parses a FHIR date YYYY-MM-DD (00:00 local time in tz) or dateTime
 * YYYY-MM-DDThh:mm:ss[.f...](Z|+hh:mm|-hh:mm); a dateTime without an
 * offset is local time in tz, read as vg_hl7_time_parse reads one.
 * Fractions beyond milliseconds are dropped. Returns 0 and *msp, or -1. */
int vg_fhir_time_parse(const char *s, vg_tz_t tz, int64_t *msp);

/* The event id of what a resource records, into out[VG_FHIR_ID_BUFSZ]:
 * "fhir-" + the first 32 hex digits of SHA-256(scope NUL key NUL what). */
#define VG_FHIR_ID_BUFSZ 38
void vg_fhir_event_id(const char *scope, const char *key, const char *what,
                      char *out);

#endif /* VG_FHIR_H */
