/*
 * vg_hl7_map.c - the site mapping of the HL7 v2 converter (vg_hl7.h,
 * docs/HOSPITAL.md §4): care setting, kommun, diagnosis group,
 * disposition, planned and needs_coordination, with built-in defaults, set
 * key by key from the mapping file (read by vg_hl7_site.c), and the
 * lookups the converters make. Pure: no I/O.
 */
#include "vg_hl7.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

/* Longest ICD-10 code or prefix compared, bytes with the NUL: a longer
 * diagnosis.<prefix> key is shortened to it. */
#define DIAG_MAX 64

/* One "code or prefix -> enum value" entry. */
typedef struct map_ent_s {
        char *me_code;
        int   me_value;
} map_ent_t;

typedef struct map_tab_s {
        map_ent_t *mt_ent;
        size_t     mt_cnt;
} map_tab_t;

struct vg_hl7_map_s {
        int        hm_care_default;   /* vg_care_setting_t */
        map_tab_t  hm_care_class;     /* PV1-2 -> care setting */
        map_tab_t  hm_care_location;  /* PV1-3 prefix -> care setting */
        char       hm_kommun[5];      /* "" = none */
        map_tab_t  hm_diag;           /* ICD-10 prefix -> diagnosis group */
        int        hm_diag_default;
        map_tab_t  hm_disp;           /* PV1-36 -> disposition */
        int        hm_disp_default;
        char      *hm_planned;        /* PV1-4 codes meaning planned */
        bool       hm_needs_coord;
};

static void tab_set(map_tab_t *t, const char *code, int value) {
        for (size_t i = 0; i < t->mt_cnt; i++)
                if (!strcmp(t->mt_ent[i].me_code, code)) {
                        t->mt_ent[i].me_value = value;
                        return;
                }
        t->mt_ent = vg_realloc(t->mt_ent, (t->mt_cnt + 1) * sizeof(*t->mt_ent));
        t->mt_ent[t->mt_cnt].me_code = vg_strdup(code);
        t->mt_ent[t->mt_cnt].me_value = value;
        t->mt_cnt++;
}

static void tab_free(map_tab_t *t) {
        for (size_t i = 0; i < t->mt_cnt; i++)
                vg_free(t->mt_ent[i].me_code);
        vg_free(t->mt_ent);
        t->mt_ent = NULL;
        t->mt_cnt = 0;
}

/* Exact match: the value, or -1. */
static int tab_exact(const map_tab_t *t, const char *code) {
        for (size_t i = 0; i < t->mt_cnt; i++)
                if (!strcmp(t->mt_ent[i].me_code, code))
                        return t->mt_ent[i].me_value;
        return -1;
}

/* Longest prefix of s in t: the value, or -1. */
static int tab_prefix(const map_tab_t *t, const char *s) {
        size_t best = 0;
        int v = -1;
        for (size_t i = 0; i < t->mt_cnt; i++) {
                size_t n = strlen(t->mt_ent[i].me_code);
                if (n > best && !strncmp(s, t->mt_ent[i].me_code, n)) {
                        best = n;
                        v = t->mt_ent[i].me_value;
                }
        }
        return v;
}

vg_hl7_map_t *vg_hl7_map_new(void) {
        static const struct { const char *c; int v; } diag[] = {
                {"C", VG_DG_CANCER},         {"I50", VG_DG_HEART_FAILURE},
                {"J44", VG_DG_COPD},         {"N18", VG_DG_KIDNEY_FAILURE},
                {"F00", VG_DG_DEMENTIA},     {"F01", VG_DG_DEMENTIA},
                {"F02", VG_DG_DEMENTIA},     {"F03", VG_DG_DEMENTIA},
                {"G30", VG_DG_DEMENTIA},
        };
        /* HL7 table 0112 (discharge disposition). */
        static const struct { const char *c; int v; } disp[] = {
                {"01", VG_DISP_HOME},            {"06", VG_DISP_HOME},
                {"02", VG_DISP_TRANSFER_ACUTE},  {"03", VG_DISP_NURSING_HOME},
                {"04", VG_DISP_SHORT_TERM_CARE}, {"07", VG_DISP_AGAINST_ADVICE},
                {"20", VG_DISP_DIED},            {"50", VG_DISP_HOME},
                {"51", VG_DISP_PALLIATIVE_UNIT},
        };
        vg_hl7_map_t *map = vg_calloc(1, sizeof(*map));

        map->hm_care_default = VG_CS_HOSPITAL_INPATIENT;
        map->hm_diag_default = VG_DG_OTHER;
        map->hm_disp_default = VG_DISP_OTHER;
        map->hm_planned = vg_strdup("C");
        for (size_t i = 0; i < VG_ARRAY_SIZE(diag); i++)
                tab_set(&map->hm_diag, diag[i].c, diag[i].v);
        for (size_t i = 0; i < VG_ARRAY_SIZE(disp); i++)
                tab_set(&map->hm_disp, disp[i].c, disp[i].v);
        return map;
}

void vg_hl7_map_destroy(vg_hl7_map_t *map) {
        if (!map)
                return;
        tab_free(&map->hm_care_class);
        tab_free(&map->hm_care_location);
        tab_free(&map->hm_diag);
        tab_free(&map->hm_disp);
        vg_free(map->hm_planned);
        vg_free(map);
}

/* value as a symbol of ve into *out, or an error naming key. */
static vg_err_t map_sym(const vg_enum_t *ve, const char *key,
                        const char *value, int *out, char *errstr,
                        size_t errstr_size) {
        int v = vg_enum_find(ve, value);
        if (v < 0) {
                char syms[512] = "";
                for (int i = 0; i < ve->ve_cnt; i++)
                        snprintf(syms + strlen(syms), sizeof(syms) - strlen(syms),
                                 "%s%s", i ? ", " : "", ve->ve_symbols[i]);
                return vg_seterr(errstr, errstr_size, VG_ERR_ARG,
                                 "%s: expected one of %s", key, syms);
        }
        *out = v;
        return VG_OK;
}

/* The part of key after prefix, or NULL if key does not start with it or
 * nothing follows. */
static const char *key_rest(const char *key, const char *prefix) {
        size_t n = strlen(prefix);
        return !strncmp(key, prefix, n) && key[n] ? key + n : NULL;
}

/* A table key's value (a symbol of ve) into t under code, or an error
 * naming key. */
static vg_err_t tab_set_sym(map_tab_t *t, const char *code,
                            const vg_enum_t *ve, const char *key,
                            const char *value, char *errstr,
                            size_t errstr_size) {
        int v = 0;
        vg_err_t err = map_sym(ve, key, value, &v, errstr, errstr_size);
        if (!err)
                tab_set(t, code, v);
        return err;
}

/* s (may be NULL) in capitals into up[size], shortened to fit. */
static void upcase(const char *s, char *up, size_t size) {
        size_t i;
        for (i = 0; s && s[i] && i + 1 < size; i++)
                up[i] = (char)toupper((unsigned char)s[i]);
        up[i] = '\0';
}

vg_err_t vg_hl7_map_set(vg_hl7_map_t *map, const char *key,
                        const char *value, char *errstr, size_t errstr_size) {
        const char *rest;

        if (!strcmp(key, "care_setting.default"))
                return map_sym(&vg_enum_care_setting, key, value,
                               &map->hm_care_default, errstr, errstr_size);
        if ((rest = key_rest(key, "care_setting.class.")))
                return tab_set_sym(&map->hm_care_class, rest,
                                   &vg_enum_care_setting, key, value, errstr,
                                   errstr_size);
        if ((rest = key_rest(key, "care_setting.location.")))
                return tab_set_sym(&map->hm_care_location, rest,
                                   &vg_enum_care_setting, key, value, errstr,
                                   errstr_size);
        if (!strcmp(key, "kommun.default")) {
                if (*value && (strlen(value) != 4 ||
                               strspn(value, "0123456789") != 4))
                        return vg_seterr(errstr, errstr_size, VG_ERR_ARG,
                                         "%s: expected a 4-digit SCB code "
                                         "or nothing", key);
                snprintf(map->hm_kommun, sizeof(map->hm_kommun), "%s", value);
                return VG_OK;
        }
        if (!strcmp(key, "diagnosis.default"))
                return map_sym(&vg_enum_diag, key, value,
                               &map->hm_diag_default, errstr, errstr_size);
        if ((rest = key_rest(key, "diagnosis."))) {
                char up[DIAG_MAX];
                upcase(rest, up, sizeof(up));
                return tab_set_sym(&map->hm_diag, up, &vg_enum_diag, key,
                                   value, errstr, errstr_size);
        }
        if (!strcmp(key, "disposition.default"))
                return map_sym(&vg_enum_disposition, key, value,
                               &map->hm_disp_default, errstr, errstr_size);
        if ((rest = key_rest(key, "disposition.")))
                return tab_set_sym(&map->hm_disp, rest, &vg_enum_disposition,
                                   key, value, errstr, errstr_size);
        if (!strcmp(key, "planned.admission_types")) {
                vg_free(map->hm_planned);
                map->hm_planned = vg_strdup(value);
                return VG_OK;
        }
        if (!strcmp(key, "needs_coordination.default")) {
                if (strcmp(value, "true") && strcmp(value, "false"))
                        return vg_seterr(errstr, errstr_size, VG_ERR_ARG,
                                         "%s: expected true or false", key);
                map->hm_needs_coord = !strcmp(value, "true");
                return VG_OK;
        }
        return vg_seterr(errstr, errstr_size, VG_ERR_ARG,
                         "unknown key \"%.64s\" (see docs/HOSPITAL.md)", key);
}

/* True if code is one of the comma-separated codes of list. */
static bool in_list(const char *list, const char *code) {
        size_t n = strlen(code);
        const char *p = list;
        if (!n)
                return false;
        while (p && *p) {
                const char *e = strchr(p, ',');
                size_t m = e ? (size_t)(e - p) : strlen(p);
                while (m && p[0] == ' ')
                        p++, m--;
                while (m && p[m - 1] == ' ')
                        m--;
                if (m == n && !strncmp(p, code, n))
                        return true;
                p = e ? e + 1 : NULL;
        }
        return false;
}

/* ------------------------------------------------------------------ */
/* Lookups: the HL7 converter's and those of the other formats that   */
/* share the mapping (vg_fhir.c)                                      */
/* ------------------------------------------------------------------ */

int vg_hl7_map_care_setting(const vg_hl7_map_t *map, const char *facility_id,
                            const char *class_code) {
        int v = facility_id ? tab_prefix(&map->hm_care_location, facility_id)
                            : -1;
        if (v < 0 && class_code)
                v = tab_exact(&map->hm_care_class, class_code);
        return v >= 0 ? v : map->hm_care_default;
}

int vg_hl7_map_diagnosis(const vg_hl7_map_t *map, const char *icd10) {
        char up[DIAG_MAX];
        int v;
        upcase(icd10, up, sizeof(up));
        v = up[0] ? tab_prefix(&map->hm_diag, up) : -1;
        return v >= 0 ? v : map->hm_diag_default;
}

int vg_hl7_map_disposition_find(const vg_hl7_map_t *map, const char *code) {
        return code ? tab_exact(&map->hm_disp, code) : -1;
}

int vg_hl7_map_disposition_default(const vg_hl7_map_t *map) {
        return map->hm_disp_default;
}

const char *vg_hl7_map_kommun_default(const vg_hl7_map_t *map) {
        return map->hm_kommun;
}

bool vg_hl7_map_planned(const vg_hl7_map_t *map, const char *code) {
        return code && in_list(map->hm_planned, code);
}

bool vg_hl7_map_needs_coordination(const vg_hl7_map_t *map) {
        return map->hm_needs_coord;
}
