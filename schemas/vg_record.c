/*
 * vg_record.c - field tables of every record type; validation (SPEC §3, §7),
 * equality, copy and free, all driven by the tables. Pure: libc only; the
 * JSON forms are in vg_record_json.c.
 */
#include "vg_record.h"
#include "vg_time.h"

#include <ctype.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SYMS(name, ...)                                                        \
        static const char *const name##_syms[] = {__VA_ARGS__};               \

SYMS(cs, "HOSPITAL_INPATIENT", "PALLIATIVE_UNIT", "SSIH", "SHORT_TERM_CARE",
     "NURSING_HOME")
SYMS(sex, "FEMALE", "MALE", "UNKNOWN")
SYMS(dg, "CANCER", "COPD", "HEART_FAILURE", "KIDNEY_FAILURE", "DEMENTIA",
     "OTHER")
SYMS(disp, "HOME", "NURSING_HOME", "SHORT_TERM_CARE", "PALLIATIVE_UNIT",
     "TRANSFER_ACUTE", "AGAINST_ADVICE", "DIED", "OTHER")
SYMS(pod, "HOSPITAL", "PALLIATIVE_UNIT", "NURSING_HOME", "SHORT_TERM_CARE",
     "HOME", "HOME_WITH_SSIH", "OTHER", "UNKNOWN")
SYMS(rule, "READMISSION_30D", "SIP_OVERDUE", "INDICATOR_BELOW_TARGET",
     "DEATH_NOT_REGISTERED")
SYMS(status, "ACTIVE", "RETRACTED")
SYMS(res, "ORDINARY_HOME", "NURSING_HOME", "SHORT_TERM_CARE", "OTHER",
     "UNKNOWN")
SYMS(ans, "YES", "NO", "UNKNOWN")
SYMS(pu, "NONE", "GRADE_1", "GRADE_2_4", "UNKNOWN")

#define ENUM(var, avro, syms)                                                  \
        const vg_enum_t var = {avro, syms##_syms,                              \
                               (int)VG_ARRAY_SIZE(syms##_syms)}
ENUM(vg_enum_care_setting, "CareSetting", cs);
ENUM(vg_enum_sex, "Sex", sex);
ENUM(vg_enum_diag, "DiagnosisGroup", dg);
ENUM(vg_enum_disposition, "Disposition", disp);
ENUM(vg_enum_place, "PlaceOfDeath", pod);
ENUM(vg_enum_rule, "AlertRule", rule);
ENUM(vg_enum_status, "AlertStatus", status);
ENUM(vg_enum_residence, "Residence", res);
ENUM(vg_enum_answer, "Answer", ans);
ENUM(vg_enum_ulcer, "PressureUlcer", pu);

const char *const vg_question_names[VG_Q__CNT] = {
        "eol_conversation", "pain_assessed", "symptoms_assessed",
        "oral_health_assessed", "prn_opioid", "prn_anxiolytic",
        "prn_antiemetic", "prn_antisecretory", "present_at_death",
        "bereavement_offered"};

const char *vg_enum_str(const vg_enum_t *ve, int v) {
        return v >= 0 && v < ve->ve_cnt ? ve->ve_symbols[v] : "?";
}

int vg_enum_find(const vg_enum_t *ve, const char *s) {
        /* (the first bytes compared first: no call for most others) */
        for (int i = 0; i < ve->ve_cnt; i++)
                if (ve->ve_symbols[i][0] == s[0] &&
                    !strcmp(ve->ve_symbols[i], s))
                        return i;
        return -1;
}

#define EV(n, t) {#n, t, offsetof(vg_event_t, ev_##n), NULL}
#define EVE(n, e) {#n, VG_F_ENUM, offsetof(vg_event_t, ev_##n), &e}
#define COMMON                                                                 \
        EV(event_id, VG_F_STRING), EV(patient_id, VG_F_STRING),                \
        EV(occurred_at, VG_F_TIME), EV(kommun, VG_F_STRING),                   \
        EV(source_system, VG_F_STRING),                                        \
        EV(cancels_event_id, VG_F_OSTRING)

static const vg_field_t admission_fields[] = {
        COMMON,
        EV(stay_id, VG_F_STRING),
        EV(facility_id, VG_F_STRING),
        EVE(care_setting, vg_enum_care_setting),
        EV(planned, VG_F_BOOL),
        EV(age_years, VG_F_INT),
        EVE(sex, vg_enum_sex),
        EVE(diagnosis_group, vg_enum_diag),
        EVE(residence, vg_enum_residence),
};
static const vg_field_t discharge_fields[] = {
        COMMON,
        EV(stay_id, VG_F_STRING),
        EV(facility_id, VG_F_STRING),
        EVE(care_setting, vg_enum_care_setting),
        EVE(disposition, vg_enum_disposition),
        EV(needs_coordination, VG_F_BOOL),
};
static const vg_field_t death_fields[] = {
        COMMON,
        EVE(place_of_death, vg_enum_place),
        EV(expected, VG_F_BOOL),
        EV(age_years, VG_F_INT),
        EVE(sex, vg_enum_sex),
        EVE(diagnosis_group, vg_enum_diag),
        EVE(residence, vg_enum_residence),
};
static const vg_field_t sip_fields[] = {
        COMMON,
        EV(sip_id, VG_F_STRING),
};
#define ANS(n, i)                                                              \
        {#n, VG_F_ENUM, offsetof(vg_event_t, ev_answers) + (i) * sizeof(int),  \
         &vg_enum_answer}
static const vg_field_t register_fields[] = {
        COMMON,
        EV(death_at, VG_F_TIME),
        EV(unit_id, VG_F_STRING),
        EV(expected, VG_F_BOOL),
        ANS(eol_conversation, VG_Q_EOL_CONVERSATION),
        ANS(pain_assessed, VG_Q_PAIN_ASSESSED),
        ANS(symptoms_assessed, VG_Q_SYMPTOMS_ASSESSED),
        ANS(oral_health_assessed, VG_Q_ORAL_HEALTH_ASSESSED),
        ANS(prn_opioid, VG_Q_PRN_OPIOID),
        ANS(prn_anxiolytic, VG_Q_PRN_ANXIOLYTIC),
        ANS(prn_antiemetic, VG_Q_PRN_ANTIEMETIC),
        ANS(prn_antisecretory, VG_Q_PRN_ANTISECRETORY),
        ANS(present_at_death, VG_Q_PRESENT_AT_DEATH),
        ANS(bereavement_offered, VG_Q_BEREAVEMENT_OFFERED),
        EVE(pressure_ulcer, vg_enum_ulcer),
};

#define AL(n, t) {#n, t, offsetof(vg_alert_t, al_##n), NULL}
static const vg_field_t alert_fields[] = {
        AL(alert_id, VG_F_STRING),
        {"rule", VG_F_ENUM, offsetof(vg_alert_t, al_rule), &vg_enum_rule},
        {"status", VG_F_ENUM, offsetof(vg_alert_t, al_status),
         &vg_enum_status},
        AL(patient_id, VG_F_OSTRING),
        AL(kommun, VG_F_OSTRING),
        AL(region, VG_F_OSTRING),
        AL(anchor, VG_F_STRING),
        AL(emitted_at, VG_F_TIME),
        AL(index_stay_id, VG_F_OSTRING),
        AL(index_discharged_at, VG_F_OTIME),
        AL(readmission_stay_id, VG_F_OSTRING),
        AL(readmitted_at, VG_F_OTIME),
        AL(days_between, VG_F_OINT),
        AL(stay_id, VG_F_OSTRING),
        AL(discharged_at, VG_F_OTIME),
        AL(deadline, VG_F_OTIME),
        AL(indicator, VG_F_OSTRING),
        AL(area, VG_F_OSTRING),
        AL(period, VG_F_OSTRING),
        AL(numerator, VG_F_OLONG),
        AL(denominator, VG_F_OLONG),
        AL(value, VG_F_ODOUBLE),
        AL(target, VG_F_ODOUBLE),
        AL(died_at, VG_F_OTIME),
        AL(place_of_death, VG_F_OSTRING),
        AL(complete, VG_F_OBOOL),
};

#define IP(n, t) {#n, t, offsetof(vg_ipart_t, ip_##n), NULL}
static const vg_field_t ipart_fields[] = {
        IP(indicator, VG_F_STRING), IP(area, VG_F_STRING),
        IP(period, VG_F_STRING),    IP(breakdown, VG_F_STRING),
        IP(partition, VG_F_INT),    IP(numerator, VG_F_LONG),
        IP(denominator, VG_F_OLONG), IP(updated_at, VG_F_TIME),
        IP(complete, VG_F_BOOL),    IP(history_complete, VG_F_BOOL),
        IP(data_since, VG_F_OTIME),
};

#define IV(n, t) {#n, t, offsetof(vg_ivalue_t, iv_##n), NULL}
static const vg_field_t ivalue_fields[] = {
        IV(indicator, VG_F_STRING), IV(area, VG_F_STRING),
        IV(period, VG_F_STRING),    IV(breakdown, VG_F_STRING),
        IV(numerator, VG_F_LONG),   IV(denominator, VG_F_OLONG),
        IV(value, VG_F_ODOUBLE),    IV(updated_at, VG_F_TIME),
        IV(complete, VG_F_BOOL),    IV(history_complete, VG_F_BOOL),
        IV(data_since, VG_F_OTIME),
};

#define PP(n, t) {#n, t, offsetof(vg_progress_t, pp_##n), NULL}
static const vg_field_t progress_fields[] = {
        PP(partition, VG_F_INT),  PP(watermark, VG_F_OTIME),
        PP(data_since, VG_F_OTIME), PP(updated_at, VG_F_TIME),
};

#define RT(t, n, j, topic, st, f)                                              \
        {t, n, j, topic, sizeof(st), f, (int)VG_ARRAY_SIZE(f)}
static const vg_rectype_desc_t rectypes[VG_REC__CNT] = {
        RT(VG_REC_ADMISSION, "Admission", "admission", "care.admissions.v1",
           vg_event_t, admission_fields),
        RT(VG_REC_DISCHARGE, "Discharge", "discharge", "care.discharges.v1",
           vg_event_t, discharge_fields),
        RT(VG_REC_DEATH, "Death", "death", "care.deaths.v1", vg_event_t,
           death_fields),
        RT(VG_REC_SIP, "SipCreated", "sip_created", "care.sip.v1", vg_event_t,
           sip_fields),
        RT(VG_REC_REGISTER, "RegisterEntry", "register_entry",
           "care.register.v1", vg_event_t, register_fields),
        RT(VG_REC_ALERT, "Alert", "alert", "care.alerts.v1", vg_alert_t,
           alert_fields),
        RT(VG_REC_IPART, "IndicatorPart", "indicator_part",
           "care.indicator-parts.v2", vg_ipart_t, ipart_fields),
        RT(VG_REC_IVALUE, "IndicatorValue", "indicator_value",
           "care.indicators.v2", vg_ivalue_t, ivalue_fields),
        RT(VG_REC_PROGRESS, "PartitionProgress", "partition_progress",
           "care.indicator-parts.v2", vg_progress_t, progress_fields),
};

const vg_rectype_desc_t *vg_rectype(vg_rectype_t type) {
        if ((int)type < 0 || type >= VG_REC__CNT)
                return NULL;
        return &rectypes[type];
}

const vg_rectype_desc_t *vg_rectype_by_name(const char *name) {
        for (int i = 0; i < VG_REC__CNT; i++)
                if ((rectypes[i].rt_name[0] == name[0] &&
                     !strcmp(rectypes[i].rt_name, name)) ||
                    (rectypes[i].rt_json_type[0] == name[0] &&
                     !strcmp(rectypes[i].rt_json_type, name)))
                        return &rectypes[i];
        return NULL;
}

#define FPTR(rec, f, T) ((T *)((char *)(rec) + (f)->vf_offset))
#define CFPTR(rec, f, T) ((const T *)((const char *)(rec) + (f)->vf_offset))

void vg_record_clear(vg_rectype_t type, void *rec) {
        const vg_rectype_desc_t *rt = vg_rectype(type);
        if (!rec || !rt)
                return;
        for (int i = 0; i < rt->rt_nfields; i++) {
                const vg_field_t *f = &rt->rt_fields[i];
                if (f->vf_type == VG_F_STRING || f->vf_type == VG_F_OSTRING) {
                        vg_free(*FPTR(rec, f, char *));
                        *FPTR(rec, f, char *) = NULL;
                }
        }
        /* Events keep their type tag; everything else is zeroed. */
        if (VG_REC_IS_EVENT(type)) {
                memset(rec, 0, rt->rt_size);
                ((vg_event_t *)rec)->ev_type = type;
        } else
                memset(rec, 0, rt->rt_size);
}

void vg_record_copy(vg_rectype_t type, void *dst, const void *src) {
        const vg_rectype_desc_t *rt = vg_rectype(type);
        memcpy(dst, src, rt->rt_size);
        for (int i = 0; i < rt->rt_nfields; i++) {
                const vg_field_t *f = &rt->rt_fields[i];
                if (f->vf_type == VG_F_STRING || f->vf_type == VG_F_OSTRING)
                        *FPTR(dst, f, char *) =
                                vg_strdup(*CFPTR(src, f, char *));
        }
}

void vg_record_move(vg_rectype_t type, void *dst, void *src) {
        const vg_rectype_desc_t *rt = vg_rectype(type);
        memcpy(dst, src, rt->rt_size);
        for (int i = 0; i < rt->rt_nfields; i++) {
                const vg_field_t *f = &rt->rt_fields[i];
                if (f->vf_type == VG_F_STRING || f->vf_type == VG_F_OSTRING)
                        *FPTR(src, f, char *) = NULL;
        }
}

/* (-1, 0, 1 of a against b) */
#define CMP3(x, y) ((x) < (y) ? -1 : (x) > (y) ? 1 : 0)

int vg_record_cmp(vg_rectype_t type, const void *a, const void *b) {
        const vg_rectype_desc_t *rt = vg_rectype(type);
        for (int i = 0; i < rt->rt_nfields; i++) {
                const vg_field_t *f = &rt->rt_fields[i];
                int c = 0;
                switch (f->vf_type) {
                case VG_F_STRING:
                case VG_F_OSTRING: {
                        const char *x = *CFPTR(a, f, char *);
                        const char *y = *CFPTR(b, f, char *);
                        c = !x || !y ? CMP3(x != NULL, y != NULL)
                                     : CMP3(strcmp(x, y), 0);
                        break;
                }
                case VG_F_TIME:
                case VG_F_LONG:
                        c = CMP3(*CFPTR(a, f, int64_t), *CFPTR(b, f, int64_t));
                        break;
                case VG_F_INT:
                        c = CMP3(*CFPTR(a, f, int32_t), *CFPTR(b, f, int32_t));
                        break;
                case VG_F_OTIME:
                case VG_F_OINT:
                case VG_F_OLONG:
                case VG_F_OBOOL: {
                        const vg_optl_t *x = CFPTR(a, f, vg_optl_t);
                        const vg_optl_t *y = CFPTR(b, f, vg_optl_t);
                        c = x->set != y->set ? CMP3(x->set, y->set)
                            : x->set         ? CMP3(x->v, y->v)
                                             : 0;
                        break;
                }
                case VG_F_ODOUBLE: {
                        const vg_optd_t *x = CFPTR(a, f, vg_optd_t);
                        const vg_optd_t *y = CFPTR(b, f, vg_optd_t);
                        c = x->set != y->set ? CMP3(x->set, y->set)
                            : !x->set        ? 0
                            : x->v != y->v   ? (x->v < y->v ? -1 : 1)
                                             : 0; /* (a NaN: after) */
                        break;
                }
                case VG_F_BOOL:
                        c = CMP3(*CFPTR(a, f, bool), *CFPTR(b, f, bool));
                        break;
                case VG_F_ENUM:
                        c = CMP3(*CFPTR(a, f, int), *CFPTR(b, f, int));
                        break;
                }
                if (c)
                        return c;
        }
        return 0;
}

bool vg_record_equal(vg_rectype_t type, const void *a, const void *b) {
        return vg_record_cmp(type, a, b) == 0;
}



static bool pnr_date(int y, int m, int d, bool century_known) {
        static const int mdays[] = {31, 29, 31, 30, 31, 30,
                                    31, 31, 30, 31, 30, 31};
        int max;
        if (m < 1 || m > 12)
                return false;
        max = mdays[m - 1];
        if (m == 2 && century_known &&
            !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
                max = 28;
        if (d > 60) /* samordningsnummer: day + 60 */
                d -= 60;
        return d >= 1 && d <= max;
}

bool vg_pnr_like(const char *s, size_t len) {
        char d[12];
        size_t n = 0;
        int y, m, day;
        if (!s)
                return false;
        for (size_t i = 0; i < len; i++) {
                if (isdigit((unsigned char)s[i])) {
                        if (n == 12)
                                return false;
                        d[n++] = s[i];
                } else if ((s[i] == '-' || s[i] == '+') && len - i == 5 &&
                           (n == 6 || n == 8)) {
                        continue; /* one separator before the last four */
                } else
                        return false;
        }
        if (n != 10 && n != 12)
                return false;
        if (n == 12) {
                y = (d[0] - '0') * 1000 + (d[1] - '0') * 100 +
                    (d[2] - '0') * 10 + (d[3] - '0');
                m = (d[4] - '0') * 10 + (d[5] - '0');
                day = (d[6] - '0') * 10 + (d[7] - '0');
                return y >= 1800 && pnr_date(y, m, day, true);
        }
        m = (d[2] - '0') * 10 + (d[3] - '0');
        day = (d[4] - '0') * 10 + (d[5] - '0');
        return pnr_date(0, m, day, false);
}

/* Whether c is a lowercase hex character. */
static bool lhex(char c) {
        return isdigit((unsigned char)c) || (c >= 'a' && c <= 'f');
}

/* Whether s[i, i + len) of s[0, n) stands on its own. Strict (a string's
 * rule): touching no letter or digit. Loose (bytes that may hold
 * anything, SPEC §8's "anywhere"): touching no digit, and a letter only
 * outside a run of 32 or more lowercase hex characters - a hex pseudonym
 * or a hash, whose digit runs are no personnummer. */
static bool stands(const char *s, size_t n, size_t i, size_t len,
                   bool loose) {
        bool l = i > 0, r = i + len < n, letter;
        size_t a = i, b = i + len;
        if (!loose)
                return !(l && isalnum((unsigned char)s[i - 1])) &&
                       !(r && isalnum((unsigned char)s[i + len]));
        if ((l && isdigit((unsigned char)s[i - 1])) ||
            (r && isdigit((unsigned char)s[i + len])))
                return false;
        letter = (l && isalpha((unsigned char)s[i - 1])) ||
                 (r && isalpha((unsigned char)s[i + len]));
        if (!letter)
                return true;
        for (size_t k = i; k < b; k++)
                if (!lhex(s[k]))
                        return true; /* (a '-' or '+': no hex run) */
        while (a > 0 && lhex(s[a - 1]))
                a--;
        while (b < n && lhex(s[b]))
                b++;
        return b - a < 32;
}

/* Does s hold a personnummer (vg_pnr_like: 10 or 12 digits, a plausible
 * date, maybe '-' or '+' before the last four), the whole value or a part
 * standing on its own (stands())? A hex pseudonym is not taken for one. */
static bool pnr_in_span(const char *s, size_t n, bool loose) {
        for (size_t i = 0; s && i < n; i++) {
                if (!isdigit((unsigned char)s[i]) ||
                    (i && isdigit((unsigned char)s[i - 1])))
                        continue;
                for (size_t len = 10; len <= 13 && i + len <= n; len++)
                        if (vg_pnr_like(s + i, len) &&
                            stands(s, n, i, len, loose))
                                return true;
        }
        return false;
}

/* A personnummer that starts s[n] or ends it, standing on its own
 * (loosely) on the other side. */
static bool pnr_at_ends(const char *s, size_t n) {
        for (size_t len = 10; len <= 13 && len <= n; len++) {
                if (vg_pnr_like(s, len) && stands(s, n, 0, len, true))
                        return true;
                if (vg_pnr_like(s + n - len, len) &&
                    stands(s, n, n - len, len, true))
                        return true;
        }
        return false;
}

/* Avro writes a string as its length (a zigzag varint: 2 x the length)
 * and its bytes, so the bytes around a string may be digits or letters
 * themselves ('0' is the length of 24 characters): each place that reads
 * as the start of a string of 10 to 8191 bytes is also looked at as that
 * string, whose ends stand on their own. Inside it the scan of the whole
 * already looked; only its two ends are new (a few steps a place: a
 * megabyte of any bytes is scanned in milliseconds). */
bool vg_pnr_in_bytes(const void *data, size_t n) {
        const unsigned char *u = data;
        if (!data)
                return false;
        if (pnr_in_span(data, n, true))
                return true;
        for (size_t i = 1; i < n; i++) {
                uint64_t len;
                if (u[i - 1] & 0x80)
                        continue;
                if (i >= 2 && (u[i - 2] & 0x80))
                        len = (uint64_t)(u[i - 2] & 0x7f) |
                              (uint64_t)u[i - 1] << 7;
                else
                        len = u[i - 1];
                if ((len & 1) || len < 20)
                        continue;
                len >>= 1;
                if (len <= n - i &&
                    pnr_at_ends((const char *)u + i, (size_t)len))
                        return true;
        }
        return false;
}

bool vg_pnr_in(const char *s) {
        return s && pnr_in_span(s, strlen(s), false);
}

/* The first string field of rec (type's table) whose whole value looks
 * like a personnummer, or NULL. */
static const char *pnr_field(vg_rectype_t type, const void *rec) {
        const vg_rectype_desc_t *rt = vg_rectype(type);
        for (int i = 0; i < rt->rt_nfields; i++) {
                const vg_field_t *f = &rt->rt_fields[i];
                const char *v;
                if (f->vf_type != VG_F_STRING && f->vf_type != VG_F_OSTRING)
                        continue;
                v = *(char *const *)((const char *)rec + f->vf_offset);
                if (v && vg_pnr_like(v, strlen(v)))
                        return f->vf_name;
        }
        return NULL;
}

const char *vg_alert_pnr_field(const vg_alert_t *al) {
        return pnr_field(VG_REC_ALERT, al);
}

const char *vg_event_pnr_field(const vg_event_t *ev) {
        return pnr_field(ev->ev_type, ev);
}

const char *vg_event_time_refused(int64_t ms, int64_t now_ms) {
        if (ms < VG_MS_1900)
                return "before 1900";
        if (ms > now_ms + VG_MS_PER_DAY)
                return "more than 1 day in the future";
        return NULL;
}

vg_err_t vg_event_validate(const vg_event_t *ev, int64_t now_ms, char *errstr,
                           size_t errstr_size) {
        char t1[VG_TIME_BUFSZ];
        const char *k = ev->ev_kommun, *why;

        if (!ev->ev_event_id || !*ev->ev_event_id)
                return vg_seterr(errstr, errstr_size, VG_ERR_INVALID,
                                 "event_id: must not be empty");
        if (!ev->ev_patient_id || !*ev->ev_patient_id)
                return vg_seterr(errstr, errstr_size, VG_ERR_INVALID,
                                 "patient_id: must not be empty");
        if ((why = vg_event_time_refused(ev->ev_occurred_at, now_ms)))
                return vg_seterr(errstr, errstr_size, VG_ERR_INVALID,
                                 "occurred_at: %s is %s",
                                 vg_time_format(ev->ev_occurred_at, t1), why);
        /* A register entry's death_at sets the period ("YYYY-MM", local)
         * of its spr.* values: refused only where it has none (one at
         * year 9999 or beyond made periods that wrapped to year 0 or
         * 4945). SPEC §7 refuses a record for its occurred_at, not for
         * its death_at, so an entry of a death before 1900 or in the
         * future is counted as it says; a cancellation's death_at is not
         * used (§3) and not looked at. */
        if (ev->ev_type == VG_REC_REGISTER && !ev->ev_cancels_event_id &&
            (ev->ev_death_at < VG_MS_DEATH_MIN ||
             ev->ev_death_at >= VG_MS_DEATH_END))
                return vg_seterr(errstr, errstr_size, VG_ERR_INVALID,
                                 "death_at: %lld (milliseconds since 1970) "
                                 "is outside the years 0001-9999: no period "
                                 "to count it in",
                                 (long long)ev->ev_death_at);
        /* An empty cancels_event_id retracts nothing and names no event
         * (event ids are never empty): refused, not dropped unseen. */
        if (ev->ev_cancels_event_id && !*ev->ev_cancels_event_id)
                return vg_seterr(errstr, errstr_size, VG_ERR_INVALID,
                                 "cancels_event_id: must not be empty (null "
                                 "or left out when the event cancels "
                                 "nothing)");
        if (!k || strlen(k) != 4 || !isdigit((unsigned char)k[0]) ||
            !isdigit((unsigned char)k[1]) || !isdigit((unsigned char)k[2]) ||
            !isdigit((unsigned char)k[3])) {
                /* Echo the value only when it is short and has no long
                 * digit run: a personnummer put in the wrong field must
                 * not reach a log or a DLQ header (SPEC §8). */
                size_t len = k ? strlen(k) : 0, digits = 0;
                for (size_t i = 0; i < len; i++)
                        digits += isdigit((unsigned char)k[i]) != 0;
                if (len <= 8 && digits <= 5)
                        return vg_seterr(errstr, errstr_size, VG_ERR_INVALID,
                                         "kommun: \"%s\" is not a 4-digit "
                                         "SCB code", k ? k : "");
                return vg_seterr(errstr, errstr_size, VG_ERR_INVALID,
                                 "kommun: a value of %zu characters (%zu "
                                 "digits) is not a 4-digit SCB code",
                                 len, digits);
        }
        return VG_OK;
}

char *vg_region_of(const char *kommun, char *buf) {
        buf[0] = kommun && kommun[0] ? kommun[0] : '0';
        buf[1] = kommun && kommun[0] && kommun[1] ? kommun[1] : '0';
        buf[2] = '\0';
        return buf;
}

const char *vg_alert_place(const vg_alert_t *al) {
        const char *p = al->al_rule == VG_RULE_INDICATOR_BELOW_TARGET
                                ? al->al_area
                                : al->al_kommun;
        return p ? p : "";
}

const char *vg_place_region(const char *place, bool area, char buf[3]) {
        /* (a kommun's region; an area alert's region or SE is its own; a
         * kommun or an area of another length is in no region) */
        size_t n = strlen(place);
        if (n == 4)
                return vg_region_of(place, buf);
        return area && n == 2 ? place : "";
}

const char *vg_alert_region(const vg_alert_t *al, char buf[3]) {
        return vg_place_region(vg_alert_place(al),
                               al->al_rule == VG_RULE_INDICATOR_BELOW_TARGET,
                               buf);
}
