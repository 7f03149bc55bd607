/*
 * vg_fhir.c - FHIR R4 resources to care events (vg_fhir.h,
 * docs/HOSPITAL.md "FHIR R4").
 *
 * The parts, by job (vg_fhir_int.h): vg_fhir_json.c reads JSON, dates
 * and times; this file reads the line (a resource or a Bundle) and the
 * references between its entries, a resource's identity and status, and
 * makes the items and what every event carries; vg_fhir_patient.c the
 * patient; vg_fhir_encounter.c and vg_fhir_death.c the resources that
 * record events.
 *
 * Pure: no I/O, no clock. A personnummer is copied only into stack buffers
 * that are wiped after use, the parsed tree's strings are wiped before it is
 * freed, and every message passes vg_pseudo_redact.
 */
#include "vg_fhir_int.h"
#include "vg_record_json.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

/* ------------------------------------------------------------------ */
/* The line: a resource or a Bundle                                   */
/* ------------------------------------------------------------------ */

/* The resource of the line a Reference object ref points to: by fullUrl,
 * else by "Type/id" (the last two segments of a relative or absolute
 * reference, "/_history/n" dropped). want: the type it must have. */
static size_t id_hash(const char *type, const char *id) {
        return vg_hash_str(type) * 31u ^ vg_hash_str(id);
}

/* The first entry whose fullUrl is url, or SIZE_MAX. */
static size_t by_url(const line_t *ln, const char *url) {
        size_t mask = ln->ln_slots - 1;
        for (size_t s = vg_hash_str(url) & mask; ln->ln_byurl[s];
             s = (s + 1) & mask)
                if (!strcmp(ln->ln_url[ln->ln_byurl[s] - 1], url))
                        return ln->ln_byurl[s] - 1;
        return SIZE_MAX;
}

/* The first entry of resourceType type and id id, or SIZE_MAX. */
static size_t by_id(const line_t *ln, const char *type, const char *id) {
        size_t mask = ln->ln_slots - 1;
        for (size_t s = id_hash(type, id) & mask; ln->ln_byid[s];
             s = (s + 1) & mask) {
                size_t i = ln->ln_byid[s] - 1;
                if (!strcmp(ln->ln_type[i], type) && !strcmp(ln->ln_id[i], id))
                        return i;
        }
        return SIZE_MAX;
}

/* The index of entries 0..ln_cnt-1 (ln_res, ln_url set). An entry whose
 * fullUrl an earlier one has: its index, else SIZE_MAX; *iddup the same
 * for an entry whose resourceType and id an earlier one has, with other
 * identifiers (another patient, perhaps: a copy, or a later version of
 * the same one, is not ambiguous, and the first is the one named). */
static size_t line_index(line_t *ln, size_t *iddup) {
        size_t mask, dup = SIZE_MAX;
        *iddup = SIZE_MAX;
        for (ln->ln_slots = 16; ln->ln_slots < 2 * ln->ln_cnt;)
                ln->ln_slots *= 2;
        mask = ln->ln_slots - 1;
        ln->ln_byurl = vg_calloc(ln->ln_slots, sizeof(*ln->ln_byurl));
        ln->ln_byid = vg_calloc(ln->ln_slots, sizeof(*ln->ln_byid));
        ln->ln_type = vg_calloc(ln->ln_cnt + 1, sizeof(*ln->ln_type));
        ln->ln_id = vg_calloc(ln->ln_cnt + 1, sizeof(*ln->ln_id));
        for (size_t i = 0; i < ln->ln_cnt; i++) {
                size_t s, k;
                if (ln->ln_url[i]) {
                        if (dup == SIZE_MAX &&
                            by_url(ln, ln->ln_url[i]) != SIZE_MAX)
                                dup = i;
                        for (s = vg_hash_str(ln->ln_url[i]) & mask;
                             ln->ln_byurl[s]; s = (s + 1) & mask)
                                ;
                        ln->ln_byurl[s] = i + 1;
                }
                if (!ln->ln_res[i] ||
                    !(ln->ln_type[i] = fhir_res_type(ln->ln_res[i])) ||
                    !(ln->ln_id[i] = fhir_peek_str(ln->ln_res[i], "id")))
                        continue;
                if (*iddup == SIZE_MAX &&
                    (k = by_id(ln, ln->ln_type[i], ln->ln_id[i])) !=
                            SIZE_MAX) {
                        json_t *a = json_object_get(ln->ln_res[k],
                                                    "identifier"),
                               *b = json_object_get(ln->ln_res[i],
                                                    "identifier");
                        /* (json_equal is false for two NULLs: neither
                         * has identifiers) */
                        if (a != b && !json_equal(a, b))
                                *iddup = i;
                }
                for (s = id_hash(ln->ln_type[i], ln->ln_id[i]) & mask;
                     ln->ln_byid[s]; s = (s + 1) & mask)
                        ;
                ln->ln_byid[s] = i + 1;
        }
        return dup;
}

json_t *fhir_resolve(const line_t *ln, json_t *ref, const char *want) {
        const char *r = fhir_peek_str(ref, "reference");
        char buf[VAL_MAX], *type, *id, *h;
        size_t i;

        if (!r || r[0] == '#')
                return NULL;
        if (!ln->ln_slots) { /* (a resource alone: no index) */
                for (i = 0; i < ln->ln_cnt; i++)
                        if (ln->ln_url[i] && !strcmp(ln->ln_url[i], r))
                                break;
        } else
                i = by_url(ln, r);
        /* (the first with that fullUrl; one without a resource: on) */
        if (i < ln->ln_cnt && ln->ln_res[i]) {
                const char *t = fhir_res_type(ln->ln_res[i]);
                return t && !strcmp(t, want) ? ln->ln_res[i] : NULL;
        }
        snprintf(buf, sizeof(buf), "%s", r);
        if ((h = strstr(buf, "/_history/")))
                *h = '\0';
        if (!(id = strrchr(buf, '/')))
                return NULL;
        *id++ = '\0';
        type = strrchr(buf, '/') ? strrchr(buf, '/') + 1 : buf;
        if (strcmp(type, want) || !*id)
                return NULL;
        if (ln->ln_slots)
                return (i = by_id(ln, want, id)) != SIZE_MAX ? ln->ln_res[i]
                                                             : NULL;
        for (i = 0; i < ln->ln_cnt; i++) {
                const char *t = fhir_res_type(ln->ln_res[i]),
                           *rid = fhir_peek_str(ln->ln_res[i], "id");
                if (t && rid && !strcmp(t, want) && !strcmp(rid, id))
                        return ln->ln_res[i];
        }
        return NULL;
}

/* A name for what a Reference points to, for facility_id: its
 * identifier.value, else the resolved resource's first identifier value,
 * else its id, else the last segment of a relative or absolute reference.
 * *out NULL when there is none. */
int fhir_ref_name(const line_t *ln, json_t *ref, const char *type,
                  const char *what, const char **out, char *e, size_t es) {
        json_t *res;
        const char *r;

        if (fhir_get_str(json_object_get(ref, "identifier"), "value", what,
                         out, e, es))
                return -1;
        if (*out)
                return 0;
        if ((res = fhir_resolve(ln, ref, type))) {
                for (size_t i = 0, n = fhir_elems(res, "identifier"); i < n;
                     i++) {
                        if (fhir_get_str(fhir_elem(res, "identifier", i),
                                         "value", what, out, e, es))
                                return -1;
                        if (*out)
                                return 0;
                }
                return fhir_get_str(res, "id", what, out, e, es);
        }
        if (fhir_get_str(ref, "reference", what, &r, e, es))
                return -1;
        if (r && strchr(r, '/') && !strstr(r, "/_history/") &&
            r[strlen(r) - 1] != '/')
                *out = strrchr(r, '/') + 1;
        return 0;
}

/* The identity of a resource, for its event ids: the first identifier
 * with a value (scope: its system, or ""), else its id (scope: the
 * resource type). Returns 0, or -1 with a message. */
int fhir_identity(json_t *res, const char *type, const char **scope,
                  const char **key, char *e, size_t es) {
        char what[64];
        snprintf(what, sizeof(what), "%s.identifier", type);
        for (size_t i = 0, n = fhir_elems(res, "identifier"); i < n; i++) {
                json_t *id = fhir_elem(res, "identifier", i);
                if (fhir_get_str(id, "value", what, key, e, es) ||
                    fhir_get_str(id, "system", what, scope, e, es))
                        return -1;
                if (*key) {
                        if (!*scope)
                                *scope = "";
                        goto check;
                }
        }
        snprintf(what, sizeof(what), "%s.id", type);
        if (fhir_get_str(res, "id", what, key, e, es))
                return -1;
        if (!*key) {
                vg_seterr(e, es, VG_ERR_INVALID,
                          "%s: no identifier and no id (one is needed for "
                          "the event id)", type);
                return -1;
        }
        *scope = type;
check:
        /* It goes into an event id (and an Encounter's is the stay_id):
         * never a personnummer. */
        if (vg_pseudo_spelt_like(*key)) {
                vg_seterr(e, es, VG_ERR_INVALID,
                          "%s: looks like a personnummer, which must not be "
                          "published (it would make the event id)", what);
                return -1;
        }
        return 0;
}

int fhir_get_status(json_t *res, const char *type, const char *const *set,
                    size_t n, const char **status, char *e, size_t es) {
        char what[32];
        snprintf(what, sizeof(what), "%s.status", type);
        if (fhir_get_str(res, "status", what, status, e, es))
                return -1;
        if (!*status) {
                vg_seterr(e, es, VG_ERR_INVALID, "%s: missing", what);
                return -1;
        }
        if (!fhir_in_set(*status, set, n)) {
                vg_seterr(e, es, VG_ERR_INVALID,
                          "%s: \"%s\" is not an R4 %c%s status", what,
                          fhir_quotable(*status),
                          tolower((unsigned char)type[0]), type + 1);
                return -1;
        }
        return 0;
}

/* ------------------------------------------------------------------ */
/* Items                                                              */
/* ------------------------------------------------------------------ */

void fhir_item_msg(vg_fhir_item_t *it, vg_fhir_res_t res, const char *fmt,
                   ...) {
        char buf[512];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);
        vg_pseudo_redact(buf);
        vg_free(it->fi_msg);
        it->fi_msg = vg_strdup(buf);
        it->fi_res = res;
}

static void item_events_clear(vg_fhir_item_t *it) {
        for (int i = 0; i < VG_FHIR_EVENTS_MAX; i++)
                vg_record_clear(it->fi_ev[i].ev_type, &it->fi_ev[i]);
        it->fi_nev = 0;
}

/* "Type/id", printable, at most 64 characters, redacted. */
static void item_name(vg_fhir_item_t *it, json_t *res) {
        const char *t = fhir_res_type(res), *id = fhir_peek_str(res, "id");
        size_t n = 0;
        char buf[VG_FHIR_NAME_BUFSZ];

        snprintf(buf, sizeof(buf), "%.32s%s%.40s", t ? t : "?",
                 t && id ? "/" : "", t && id ? id : "");
        for (size_t i = 0; buf[i] && n + 1 < sizeof(it->fi_name); i++)
                it->fi_name[n++] = isgraph((unsigned char)buf[i]) ? buf[i]
                                                                  : '?';
        it->fi_name[n] = '\0';
        vg_pseudo_redact(it->fi_name);
}

static vg_event_t *new_event(vg_fhir_item_t *it, vg_rectype_t type,
                             const common_t *cm, const char *event_id,
                             int64_t at) {
        vg_event_t *ev = &it->fi_ev[it->fi_nev++];
        memset(ev, 0, sizeof(*ev));
        ev->ev_type = type;
        ev->ev_event_id = vg_strdup(event_id);
        ev->ev_patient_id = vg_strdup(cm->cm_pat.pt_id);
        ev->ev_occurred_at = at;
        ev->ev_kommun = vg_strdup(cm->cm_kommun);
        ev->ev_source_system = vg_strdup(cm->cm_source);
        ev->ev_residence = VG_RES_UNKNOWN;
        ev->ev_sex = VG_SEX_UNKNOWN;
        ev->ev_diagnosis_group = VG_DG_OTHER;
        ev->ev_place_of_death = VG_POD_UNKNOWN;
        return ev;
}

/* source_system "fhir:" + meta.source of the resource, else of the
 * Bundle; "fhir" when neither has one. */
int fhir_source_of(const line_t *ln, json_t *res, char *out, size_t size,
                   char *e, size_t es) {
        const char *s;
        if (fhir_get_str(json_object_get(res, "meta"), "source", "meta.source",
                         &s, e, es))
                return -1;
        if (!s)
                s = ln->ln_source;
        snprintf(out, size, "fhir%s%s", s ? ":" : "", s ? s : "");
        return 0;
}

/* kommun: the Patient's residence (SPEC §3: the municipality of
 * residence, fhir_residence()), else kommun.default. */
int fhir_kommun_of(const vg_fhir_ctx_t *cx, common_t *cm, int64_t at,
                   bool cancel, char *e, size_t es) {
        const char *def = vg_hl7_map_kommun_default(cx->fx_map);
        if (fhir_residence(cx, &cm->cm_pat, at, cancel, cm->cm_res, e, es))
                return -1;
        cm->cm_kommun = cm->cm_res[0] ? cm->cm_res : def[0] ? def : NULL;
        if (!cm->cm_kommun) {
                vg_seterr(e, es, VG_ERR_INVALID,
                          "Patient.address: no 4-digit kommun code in "
                          "district (and no kommun.default in the mapping "
                          "file)");
                return -1;
        }
        return 0;
}

/* The checks every event passes before it is written. */
static int check_events(const vg_fhir_ctx_t *cx, vg_fhir_item_t *it,
                        char *e, size_t es) {
        for (int i = 0; i < it->fi_nev; i++) {
                vg_event_t *ev = &it->fi_ev[i];
                const char *f[] = {"stay_id", ev->ev_stay_id, "facility_id",
                                   ev->ev_facility_id, "source_system",
                                   ev->ev_source_system};
                for (size_t k = 0; k < VG_ARRAY_SIZE(f); k += 2)
                        if (f[k + 1] && vg_pseudo_spelt_like(f[k + 1])) {
                                vg_seterr(e, es, VG_ERR_INVALID,
                                          "%s: looks like a personnummer, "
                                          "which must not be published",
                                          f[k]);
                                return -1;
                        }
                if (vg_event_validate(ev, cx->fx_now_ms, e, es))
                        return -1;
        }
        return 0;
}

vg_event_t *fhir_record_event(vg_fhir_item_t *it, vg_rectype_t type,
                              const common_t *cm, const char *scope,
                              const char *key, const char *what, bool cancel,
                              int64_t at) {
        char id[VG_FHIR_ID_BUFSZ], cid[VG_FHIR_ID_BUFSZ], w[48];
        vg_event_t *ev;

        vg_fhir_event_id(scope, key, what, id);
        if (!cancel)
                return new_event(it, type, cm, id, at);
        snprintf(w, sizeof(w), "entered-in-error %s", what);
        vg_fhir_event_id(scope, key, w, cid);
        ev = new_event(it, type, cm, cid, at);
        ev->ev_cancels_event_id = vg_strdup(id);
        return ev;
}

void fhir_item_refuse(vg_fhir_item_t *it, common_t *cm, const char *e) {
        OPENSSL_cleanse(cm, sizeof(*cm));
        item_events_clear(it);
        fhir_item_msg(it, VG_FHIR_INVALID, "%s", e);
}

void fhir_item_done(const vg_fhir_ctx_t *cx, vg_fhir_item_t *it, common_t *cm,
                    char *e, size_t es) {
        if (check_events(cx, it, e, es)) {
                fhir_item_refuse(it, cm, e);
                return;
        }
        it->fi_res = VG_FHIR_EVENT;
        OPENSSL_cleanse(cm, sizeof(*cm));
}

/* ------------------------------------------------------------------ */
/* The line                                                           */
/* ------------------------------------------------------------------ */

static void line_alloc(line_t *ln) {
        ln->ln_res = vg_calloc(ln->ln_cnt + 1, sizeof(*ln->ln_res));
        ln->ln_url = vg_calloc(ln->ln_cnt + 1, sizeof(*ln->ln_url));
        ln->ln_pid = vg_calloc(ln->ln_cnt + 1, sizeof(*ln->ln_pid));
        ln->ln_pid_known = vg_calloc(ln->ln_cnt + 1,
                                     sizeof(*ln->ln_pid_known));
}

static vg_fhir_item_t *add_item(vg_fhir_out_t *out, int entry, json_t *res) {
        vg_fhir_item_t *it;
        if (out->fo_cnt == out->fo_size) {
                out->fo_size = out->fo_size ? 2 * out->fo_size : 4;
                out->fo_item = vg_realloc(out->fo_item,
                                          out->fo_size *
                                                  sizeof(*out->fo_item));
        }
        it = &out->fo_item[out->fo_cnt++];
        memset(it, 0, sizeof(*it));
        it->fi_entry = entry;
        item_name(it, res);
        return it;
}

static void conv_resource(const vg_fhir_ctx_t *cx, const line_t *ln,
                          json_t *res, vg_fhir_item_t *it, bool in_bundle) {
        const char *t = fhir_res_type(res);
        if (!json_is_object(res) || !t) {
                fhir_item_msg(it, VG_FHIR_INVALID,
                              "not a FHIR resource (an object with a "
                              "resourceType)");
        } else if (!strcmp(t, "Encounter"))
                fhir_conv_encounter(cx, ln, res, it);
        else if (!strcmp(t, "Patient"))
                fhir_conv_patient(cx, ln, res, it, in_bundle);
        else if (!strcmp(t, "Observation"))
                fhir_conv_observation(cx, ln, res, it, in_bundle);
        else if (!strcmp(t, "Bundle"))
                fhir_item_msg(it, VG_FHIR_INVALID,
                              "a Bundle inside a Bundle is not read");
        else if (in_bundle)
                it->fi_res = VG_FHIR_CONTEXT;
        else
                fhir_item_msg(it, VG_FHIR_SKIPPED,
                              "%s: not a resource Vigil reads (Encounter, "
                              "Patient, Observation or a Bundle of them): no "
                              "event", fhir_quotable(t));
}

vg_err_t vg_fhir_convert(const vg_fhir_ctx_t *cx, const char *line,
                         size_t len, vg_fhir_out_t *out, char *errstr,
                         size_t errstr_size) {
        json_error_t jerr;
        line_t ln;
        json_t *root, *entries;
        const char *t;
        size_t dup, iddup;
        vg_err_t err = VG_OK;

        memset(out, 0, sizeof(*out));
        memset(&ln, 0, sizeof(ln));
        if (errstr_size)
                errstr[0] = '\0';
        if (cx->fx_max_bytes && len > cx->fx_max_bytes)
                return vg_seterr(errstr, errstr_size, VG_ERR_INVALID,
                                 "longer than %zu bytes (input.max_bytes)",
                                 cx->fx_max_bytes);
        root = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
        if (!root) {
                err = vg_seterr(errstr, errstr_size, VG_ERR_INVALID,
                                "not valid JSON: column %d: %s", jerr.column,
                                vg_json_error_text(jerr.text));
                goto done;
        }
        if (!json_is_object(root) || !(t = fhir_res_type(root))) {
                err = vg_seterr(errstr, errstr_size, VG_ERR_INVALID,
                                "not a FHIR resource (a JSON object with a "
                                "resourceType)");
                goto done;
        }
        ln.ln_root = root;
        if (strcmp(t, "Bundle")) {
                ln.ln_cnt = 1;
                line_alloc(&ln);
                ln.ln_res[0] = root;
                conv_resource(cx, &ln, root, add_item(out, 0, root), false);
                goto done;
        }
        entries = json_object_get(root, "entry");
        if (entries && !json_is_array(entries)) {
                err = vg_seterr(errstr, errstr_size, VG_ERR_INVALID,
                                "Bundle.entry: expected an array");
                goto done;
        }
        if (fhir_get_str(json_object_get(root, "meta"), "source",
                         "Bundle.meta.source", &ln.ln_source, errstr,
                         errstr_size)) {
                err = VG_ERR_INVALID;
                goto done;
        }
        ln.ln_cnt = json_array_size(entries);
        line_alloc(&ln);
        for (size_t i = 0; i < ln.ln_cnt; i++) {
                json_t *en = json_array_get(entries, i);
                json_t *res = json_object_get(en, "resource");
                ln.ln_res[i] = json_is_object(res) ? res : NULL;
                ln.ln_url[i] = fhir_peek_str(en, "fullUrl");
        }
        /* bdl-7: fullUrl is unique in a Bundle; with two, a reference
         * could name either resource. */
        if ((dup = line_index(&ln, &iddup)) != SIZE_MAX) {
                err = vg_seterr(errstr, errstr_size, VG_ERR_INVALID,
                                "Bundle.entry[%zu].fullUrl: the same as "
                                "entry[%zu]'s (a fullUrl must be unique in "
                                "a Bundle)",
                                dup, by_url(&ln, ln.ln_url[dup]));
                goto done;
        }
        /* Nor two resources of one type and id but other identifiers: a
         * reference such as Patient/p1 could name either (the first was
         * taken, and an event could go to the other one's patient). */
        if (iddup != SIZE_MAX) {
                /* (the id is not quoted: it may be anything, a
                 * personnummer too) */
                err = vg_seterr(errstr, errstr_size, VG_ERR_INVALID,
                                "Bundle.entry[%zu].resource: the same "
                                "resourceType and id as entry[%zu]'s, with "
                                "other identifiers: a reference to it could "
                                "name either",
                                iddup, by_id(&ln, ln.ln_type[iddup],
                                             ln.ln_id[iddup]));
                goto done;
        }
        if (!ln.ln_cnt) {
                fhir_item_msg(add_item(out, 0, root), VG_FHIR_SKIPPED,
                              "Bundle without entries: no event");
                goto done;
        }
        for (size_t i = 0; i < ln.ln_cnt; i++) {
                json_t *en = json_array_get(entries, i);
                vg_fhir_item_t *it = add_item(out, (int)i + 1, ln.ln_res[i]);
                const char *method = fhir_peek_str(
                        json_object_get(en, "request"), "method");
                if (!ln.ln_res[i] || (method && !strcmp(method, "DELETE")))
                        fhir_item_msg(it, VG_FHIR_SKIPPED,
                                      "entry without a resource, or a "
                                      "DELETE: no event");
                else
                        conv_resource(cx, &ln, ln.ln_res[i], it, true);
        }
done:
        vg_free(ln.ln_res);
        vg_free(ln.ln_url);
        vg_free(ln.ln_byurl);
        vg_free(ln.ln_byid);
        vg_free(ln.ln_type);
        vg_free(ln.ln_id);
        vg_free(ln.ln_pid);
        vg_free(ln.ln_pid_known);
        if (root) {
                fhir_wipe_json(root, 0);
                json_decref(root);
        }
        if (errstr_size)
                vg_pseudo_redact(errstr);
        return err;
}

void vg_fhir_out_clear(vg_fhir_out_t *out) {
        for (size_t i = 0; i < out->fo_cnt; i++) {
                item_events_clear(&out->fo_item[i]);
                vg_free(out->fo_item[i].fi_msg);
        }
        vg_free(out->fo_item);
        out->fo_item = NULL;
        out->fo_cnt = out->fo_size = 0;
}
