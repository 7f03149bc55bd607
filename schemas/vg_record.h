/*
 * vg_record.h - the records of SPEC §3, §5, §6 as C structs, described by one
 * field table per record type. The tables drive the Avro codec (vg_codec),
 * the JSON Lines forms of SPEC §9 (vg_record_json) and validation, so a field
 * is declared once. Pure: libc only, no JSON library.
 */
#ifndef VG_RECORD_H
#define VG_RECORD_H

#include "vg_common.h"

typedef enum vg_rectype_e {
        VG_REC_ADMISSION = 0,
        VG_REC_DISCHARGE,
        VG_REC_DEATH,
        VG_REC_SIP,
        VG_REC_REGISTER,
        VG_REC_ALERT,
        VG_REC_IPART,
        VG_REC_IVALUE,
        VG_REC_PROGRESS,
        VG_REC__CNT
} vg_rectype_t;

#define VG_REC_IS_EVENT(t) ((t) >= VG_REC_ADMISSION && (t) <= VG_REC_REGISTER)
#define VG_EVENT_TYPES 5

/* Enums: values are indexes into the symbol tables below. */
typedef enum { VG_CS_HOSPITAL_INPATIENT, VG_CS_PALLIATIVE_UNIT, VG_CS_SSIH,
               VG_CS_SHORT_TERM_CARE, VG_CS_NURSING_HOME } vg_care_setting_t;
typedef enum { VG_SEX_FEMALE, VG_SEX_MALE, VG_SEX_UNKNOWN } vg_sex_t;
typedef enum { VG_DG_CANCER, VG_DG_COPD, VG_DG_HEART_FAILURE,
               VG_DG_KIDNEY_FAILURE, VG_DG_DEMENTIA, VG_DG_OTHER,
               VG_DG__CNT } vg_diag_t;
typedef enum { VG_DISP_HOME, VG_DISP_NURSING_HOME, VG_DISP_SHORT_TERM_CARE,
               VG_DISP_PALLIATIVE_UNIT, VG_DISP_TRANSFER_ACUTE,
               VG_DISP_AGAINST_ADVICE, VG_DISP_DIED,
               VG_DISP_OTHER } vg_disposition_t;
typedef enum { VG_POD_HOSPITAL, VG_POD_PALLIATIVE_UNIT, VG_POD_NURSING_HOME,
               VG_POD_SHORT_TERM_CARE, VG_POD_HOME, VG_POD_HOME_WITH_SSIH,
               VG_POD_OTHER, VG_POD_UNKNOWN, VG_POD__CNT } vg_place_t;
typedef enum { VG_RES_ORDINARY_HOME, VG_RES_NURSING_HOME,
               VG_RES_SHORT_TERM_CARE, VG_RES_OTHER, VG_RES_UNKNOWN,
               VG_RES__CNT } vg_residence_t;
typedef enum { VG_ANS_YES, VG_ANS_NO, VG_ANS_UNKNOWN } vg_answer_t;
typedef enum { VG_PU_NONE, VG_PU_GRADE_1, VG_PU_GRADE_2_4,
               VG_PU_UNKNOWN } vg_ulcer_t;
/* The YES/NO/UNKNOWN answers of a RegisterEntry, in schema order. */
typedef enum { VG_Q_EOL_CONVERSATION, VG_Q_PAIN_ASSESSED,
               VG_Q_SYMPTOMS_ASSESSED, VG_Q_ORAL_HEALTH_ASSESSED,
               VG_Q_PRN_OPIOID, VG_Q_PRN_ANXIOLYTIC, VG_Q_PRN_ANTIEMETIC,
               VG_Q_PRN_ANTISECRETORY, VG_Q_PRESENT_AT_DEATH,
               VG_Q_BEREAVEMENT_OFFERED, VG_Q__CNT } vg_question_t;
/* Field names of the answers, by vg_question_t. */
extern const char *const vg_question_names[VG_Q__CNT];
typedef enum { VG_RULE_READMISSION_30D, VG_RULE_SIP_OVERDUE,
               VG_RULE_INDICATOR_BELOW_TARGET,
               VG_RULE_DEATH_NOT_REGISTERED } vg_rule_t;
typedef enum { VG_STATUS_ACTIVE, VG_STATUS_RETRACTED } vg_status_t;

typedef struct vg_enum_s {
        const char         *ve_name;     /* Avro name, e.g. "CareSetting" */
        const char *const  *ve_symbols;  /* symbols in schema order */
        int                 ve_cnt;      /* number of symbols */
} vg_enum_t;

extern const vg_enum_t vg_enum_care_setting, vg_enum_sex, vg_enum_diag,
        vg_enum_disposition, vg_enum_place, vg_enum_rule, vg_enum_status,
        vg_enum_residence, vg_enum_answer, vg_enum_ulcer;

/* Symbol of value v, or "?" when out of range. */
const char *vg_enum_str(const vg_enum_t *ve, int v);
/* Value of symbol s, or -1. */
int vg_enum_find(const vg_enum_t *ve, const char *s);

/* Optional numbers (Avro ["null", long|int|double]). */
typedef struct vg_optl_s { bool set; int64_t v; } vg_optl_t;
typedef struct vg_optd_s { bool set; double v; } vg_optd_t;

/* An input event (SPEC §3): one struct for all four types; ev_type says
 * which fields are meaningful. Strings are heap-owned (vg_record_clear). */
typedef struct vg_event_s {
        vg_rectype_t ev_type;              /* VG_REC_ADMISSION..REGISTER */
        char        *ev_event_id;          /* unique per patient */
        char        *ev_patient_id;        /* pseudonym */
        int64_t      ev_occurred_at;       /* event time, epoch ms UTC */
        char        *ev_kommun;            /* 4-digit SCB code */
        char        *ev_source_system;     /* publishing system */
        char        *ev_cancels_event_id;  /* NULL, or the event it retracts */
        char        *ev_stay_id;           /* admission, discharge */
        char        *ev_facility_id;       /* admission, discharge */
        int          ev_care_setting;      /* admission, discharge */
        bool         ev_planned;           /* admission */
        int32_t      ev_age_years;         /* admission, death */
        int          ev_sex;               /* admission, death */
        int          ev_diagnosis_group;   /* admission, death */
        int          ev_disposition;       /* discharge */
        bool         ev_needs_coordination;/* discharge */
        int          ev_place_of_death;    /* death */
        bool         ev_expected;          /* death, register_entry */
        int          ev_residence;         /* admission, death (v2) */
        char        *ev_sip_id;            /* sip_created */
        int64_t      ev_death_at;          /* register_entry: the death */
        char        *ev_unit_id;           /* register_entry */
        int          ev_answers[VG_Q__CNT];/* register_entry: vg_answer_t */
        int          ev_pressure_ulcer;    /* register_entry: vg_ulcer_t */
} vg_event_t;

/* An alert (SPEC §5). Rule-specific fields are NULL / unset when unused. */
typedef struct vg_alert_s {
        char      *al_alert_id;            /* hash of rule, subject, anchor */
        int        al_rule;                /* vg_rule_t */
        int        al_status;              /* vg_status_t */
        char      *al_patient_id;          /* NULL for area alerts */
        char      *al_kommun;
        char      *al_region;
        char      *al_anchor;
        int64_t    al_emitted_at;          /* processing time */
        char      *al_index_stay_id;       /* READMISSION_30D */
        vg_optl_t  al_index_discharged_at;
        char      *al_readmission_stay_id;
        vg_optl_t  al_readmitted_at;
        vg_optl_t  al_days_between;
        char      *al_stay_id;             /* SIP_OVERDUE */
        vg_optl_t  al_discharged_at;
        vg_optl_t  al_deadline;
        char      *al_indicator;           /* INDICATOR_BELOW_TARGET */
        char      *al_area;
        char      *al_period;
        vg_optl_t  al_numerator;
        vg_optl_t  al_denominator;
        vg_optd_t  al_value;
        vg_optd_t  al_target;
        vg_optl_t  al_died_at;             /* DEATH_NOT_REGISTERED (v2) */
        char      *al_place_of_death;
        vg_optl_t  al_complete;            /* INDICATOR_BELOW_TARGET (v2):
                                            * boolean, unset = null */
} vg_alert_t;

/* One partition's whole count of one indicator cell (SPEC §6). */
typedef struct vg_ipart_s {
        char      *ip_indicator;
        char      *ip_area;
        char      *ip_period;
        char      *ip_breakdown;           /* "all", "age:85+", ... (v2) */
        int32_t    ip_partition;
        int64_t    ip_numerator;
        vg_optl_t  ip_denominator;         /* unset for counts */
        int64_t    ip_updated_at;
        bool       ip_complete;            /* v2; see vg_ivalue_t */
        bool       ip_history_complete;
        vg_optl_t  ip_data_since;
} vg_ipart_t;

/* An indicator value of one area and period. */
typedef struct vg_ivalue_s {
        char      *iv_indicator;
        char      *iv_area;
        char      *iv_period;
        char      *iv_breakdown;           /* "all", ... (v2) */
        int64_t    iv_numerator;
        vg_optl_t  iv_denominator;
        vg_optd_t  iv_value;
        int64_t    iv_updated_at;
        bool       iv_complete;            /* settled (SPEC §6.1) */
        bool       iv_history_complete;    /* no look-back before data_since */
        vg_optl_t  iv_data_since;          /* epoch ms, unset = unknown */
} vg_ivalue_t;

/* How far one input partition's processing has come (SPEC §6.1). */
typedef struct vg_progress_s {
        int32_t    pp_partition;
        vg_optl_t  pp_watermark;           /* unset: no watermark yet */
        vg_optl_t  pp_data_since;          /* unset: nothing processed */
        int64_t    pp_updated_at;
} vg_progress_t;

/* Field kinds of the tables. */
typedef enum vg_ftype_e {
        VG_F_STRING,   /* char *, required, Avro string */
        VG_F_OSTRING,  /* char *, NULL = null, Avro ["null","string"] */
        VG_F_TIME,     /* int64_t, Avro long timestamp-millis */
        VG_F_OTIME,    /* vg_optl_t, Avro ["null", timestamp-millis] */
        VG_F_INT,      /* int32_t, Avro int */
        VG_F_OINT,     /* vg_optl_t, Avro ["null","int"] */
        VG_F_LONG,     /* int64_t, Avro long */
        VG_F_OLONG,    /* vg_optl_t, Avro ["null","long"] */
        VG_F_BOOL,     /* bool, Avro boolean */
        VG_F_ENUM,     /* int, Avro enum */
        VG_F_ODOUBLE,  /* vg_optd_t, Avro ["null","double"] */
        VG_F_OBOOL     /* vg_optl_t (v 0/1), Avro ["null","boolean"] */
} vg_ftype_t;

typedef struct vg_field_s {
        const char      *vf_name;    /* Avro and JSON field name */
        vg_ftype_t       vf_type;
        size_t           vf_offset;  /* offset in the record struct */
        const vg_enum_t *vf_enum;    /* VG_F_ENUM only */
} vg_field_t;

typedef struct vg_rectype_desc_s {
        vg_rectype_t      rt_type;
        const char       *rt_name;      /* Avro record name, e.g. "Admission" */
        const char       *rt_json_type; /* SPEC §9 "type", e.g. "admission" */
        const char       *rt_topic;     /* default topic (SPEC §2) */
        size_t            rt_size;      /* sizeof the struct */
        const vg_field_t *rt_fields;
        int               rt_nfields;
} vg_rectype_desc_t;

const vg_rectype_desc_t *vg_rectype(vg_rectype_t type);
/* By Avro name ("Admission") or JSON type ("admission"); NULL if unknown. */
const vg_rectype_desc_t *vg_rectype_by_name(const char *name);

/* Frees the strings of a record and zeroes it. rec may be NULL. */
void vg_record_clear(vg_rectype_t type, void *rec);
/* Deep copy of src into dst (dst is overwritten, not freed). */
void vg_record_copy(vg_rectype_t type, void *dst, const void *src);
/* src into dst, its strings moved: they are dst's now, NULL in src (its
 * other fields are left as they were). dst is overwritten, not freed. */
void vg_record_move(vg_rectype_t type, void *dst, void *src);

/* Field-by-field equality of two records of type. */
bool vg_record_equal(vg_rectype_t type, const void *a, const void *b);
/* A total order of two records of one type, field by field in the table's
 * order (a NULL or unset value first): -1, 0 (vg_record_equal) or 1. */
int vg_record_cmp(vg_rectype_t type, const void *a, const void *b);

/* SPEC §3 / §7 validity of a decoded event at wall-clock time now_ms:
 * non-empty event_id and patient_id, occurred_at from 1900-01-01 to now + 1
 * day, 4-digit kommun. Enums and types are checked by the decoders. */
/* Why an event time is out of SPEC §7's bounds (before 1900, more than a
 * day after now_ms), or NULL: vg_event_validate's check, which the hospital
 * converters also make on the field they read the time from. */
const char *vg_event_time_refused(int64_t ms, int64_t now_ms);

vg_err_t vg_event_validate(const vg_event_t *ev, int64_t now_ms, char *errstr,
                           size_t errstr_size);

/* SPEC §8: does the whole of s[len] look like a personnummer? 10 or 12
 * digits, optionally one '-' or '+' before the last four, with a plausible
 * date (day 61-91 for a samordningsnummer; the century of a 10-digit form
 * is unknown, so 29 February is plausible), check digit valid or not. Such
 * a record is not processed (DLQ personal-data). */
bool vg_pnr_like(const char *s, size_t len);

/* Does s hold a personnummer (vg_pnr_like), the whole value or a part
 * standing on its own (not touching a letter or digit)? A hex pseudonym
 * is not taken for one. */
bool vg_pnr_in(const char *s);
/* The same over n bytes that may hold anything (a Kafka key or value),
 * looser (SPEC §8: "anywhere"): one touching a letter counts too, but in
 * a run of 32 or more lowercase hex characters (a hex pseudonym). */
bool vg_pnr_in_bytes(const void *data, size_t n);

/* The name of the first of an alert's string fields (its ids, kommun,
 * region, area, period, ...) whose whole value looks like a personnummer
 * (vg_pnr_like, SPEC §8's rule), or NULL. */
const char *vg_alert_pnr_field(const vg_alert_t *al);
/* The same for an event's string fields (patient_id, event_id, stay_id,
 * ...): SPEC §8 "No component writes a personnummer to a log, a topic or
 * a state file", so such an event is not processed (personal-data). */
const char *vg_event_pnr_field(const vg_event_t *ev);

/* Region code of a kommun (first two digits) into buf[3]. */
char *vg_region_of(const char *kommun, char *buf);

/* The area an alert is about, as every reader files it (vigil serve,
 * alerts, report): an INDICATOR_BELOW_TARGET alert's area, any other
 * alert's kommun, whatever its other fields say ("" when it has none). */
const char *vg_alert_place(const vg_alert_t *al);
/* The region an alert is filed under, as vigil serve files it: the first
 * two digits of its place when that is a kommun (4 characters); else an
 * area alert's area itself (a region, "SE"), and "" for any other (no
 * kommun, or one of another length: in no region). The record's own
 * region field is not read, so a record whose fields disagree is filed
 * by its kommun. */
const char *vg_alert_region(const vg_alert_t *al, char buf[3]);
/* The same for a place: an alert's kommun, or (area true) the area an
 * INDICATOR_BELOW_TARGET names. */
const char *vg_place_region(const char *place, bool area, char buf[3]);

#endif /* VG_RECORD_H */
