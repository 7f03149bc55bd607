/*
 * vg_patient_store.c - a patient's state as compact JSON text, as earlier
 * releases wrote it to the partition store (SQLite), and back. The binary
 * form written now is vg_patient_bin.c.
 */
#include "vg_patient_store.h"
#include "vg_record_json.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

static void cell_push(vg_cell_t **arr, int *n, int *cap, const char *key,
                      int64_t num, int64_t den, bool count) {
        if (*n == *cap) {
                *cap = *cap ? *cap * 2 : 16;
                *arr = vg_realloc(*arr, sizeof(vg_cell_t) * (size_t)*cap);
        }
        (*arr)[*n].ce_key = vg_strdup(key);
        (*arr)[*n].ce_num = num;
        (*arr)[*n].ce_den = den;
        (*arr)[*n].ce_count = count;
        (*n)++;
}

/*
 * Serialisation: {"e":[events],"o":[ids],"x":[cancelled ids],
 *                 "a":[alerts],"c":[cells],
 *                 "f":[frozen],"n":next_due}
 * A cell is [key, num, den, count].
 */

static void cells_write(vg_buf_t *b, const vg_cell_t *c, int n) {
        vg_buf_append(b, "[", 1);
        for (int i = 0; i < n; i++) {
                if (i)
                        vg_buf_append(b, ",", 1);
                vg_buf_append(b, "[", 1);
                vg_json_put_string(b, c[i].ce_key);
                vg_buf_printf(b, ",%lld,%lld,%s]", (long long)c[i].ce_num,
                              (long long)c[i].ce_den,
                              c[i].ce_count ? "true" : "false");
        }
        vg_buf_append(b, "]", 1);
}

static void strs_write(vg_buf_t *b, char *const *v, int n) {
        vg_buf_append(b, "[", 1);
        for (int i = 0; i < n; i++) {
                if (i)
                        vg_buf_append(b, ",", 1);
                vg_json_put_string(b, v[i]);
        }
        vg_buf_append(b, "]", 1);
}

/* Written by hand (no jansson tree): this runs for every patient touched
 * in every batch. vg_patient_parse() reads it with jansson. */
char *vg_patient_serialize(const vg_patient_t *pt) {
        vg_buf_t b;
        vg_buf_init(&b);
        vg_buf_puts(&b, "{\"e\":[");
        for (int i = 0; i < pt->pt_nevents; i++) {
                if (i)
                        vg_buf_append(&b, ",", 1);
                vg_record_write_json(&b, pt->pt_events[i].ev_type,
                                     &pt->pt_events[i]);
        }
        vg_buf_puts(&b, "],\"o\":");
        strs_write(&b, pt->pt_old_ids, pt->pt_nold);
        vg_buf_puts(&b, ",\"x\":");
        strs_write(&b, pt->pt_old_cancelled, pt->pt_nold_cancelled);
        if (pt->pt_nold_stays) {
                vg_buf_puts(&b, ",\"s\":");
                strs_write(&b, pt->pt_old_stays, pt->pt_nold_stays);
        }
        vg_buf_puts(&b, ",\"a\":[");
        for (int i = 0; i < pt->pt_nalerts; i++) {
                if (i)
                        vg_buf_append(&b, ",", 1);
                vg_record_write_json(&b, VG_REC_ALERT, &pt->pt_alerts[i]);
        }
        vg_buf_puts(&b, "],\"c\":");
        cells_write(&b, pt->pt_cells, pt->pt_ncells);
        vg_buf_puts(&b, ",\"f\":");
        cells_write(&b, pt->pt_frozen, pt->pt_nfrozen);
        vg_buf_printf(&b, ",\"n\":%lld}", (long long)pt->pt_next_due);
        return b.vb_data;
}

static int cells_parse(json_t *arr, vg_cell_t **out, int *n) {
        size_t i;
        json_t *c;
        int cap = 0;
        *out = NULL;
        *n = 0;
        if (!json_is_array(arr))
                return -1;
        json_array_foreach(arr, i, c) {
                const char *key;
                json_int_t num, den;
                int count;
                if (json_unpack(c, "[sIIb]", &key, &num, &den, &count))
                        return -1;
                cell_push(out, n, &cap, key, num, den, count);
        }
        return 0;
}

/* A JSON array of strings (or none) into a new array (*out, *n): -1 on
 * an item that is not a string (those before it kept, to be freed with
 * the patient). */
static int strs_read(json_t *arr, char ***out, int *n) {
        size_t i;
        json_t *v;
        *out = vg_calloc(json_array_size(arr) + 1, sizeof(char *));
        json_array_foreach(arr, i, v) {
                if (!json_is_string(v))
                        return -1;
                (*out)[(*n)++] = vg_strdup(json_string_value(v));
        }
        return 0;
}

vg_patient_t *vg_patient_parse(const char *patient_id, const char *text,
                               char *errstr, size_t errstr_size) {
        json_error_t jerr;
        json_t *root = json_loads(text, 0, &jerr), *arr, *v;
        vg_patient_t *pt;
        size_t i;
        char e[256];

        if (!root) {
                vg_seterr(errstr, errstr_size, VG_ERR_STORE,
                          "patient state is not JSON: %s", jerr.text);
                return NULL;
        }
        pt = vg_patient_new(patient_id);
        arr = json_object_get(root, "e");
        pt->pt_cap = (int)json_array_size(arr) + 1;
        pt->pt_events = vg_calloc((size_t)pt->pt_cap, sizeof(vg_event_t));
        json_array_foreach(arr, i, v) {
                if (vg_event_from_json(v, &pt->pt_events[pt->pt_nevents], e,
                                       sizeof(e)))
                        goto bad;
                pt->pt_nevents++;
        }
        if (strs_read(json_object_get(root, "o"), &pt->pt_old_ids,
                      &pt->pt_nold) ||
            strs_read(json_object_get(root, "x"), &pt->pt_old_cancelled,
                      &pt->pt_nold_cancelled) ||
            strs_read(json_object_get(root, "s"), /* (optional) */
                      &pt->pt_old_stays, &pt->pt_nold_stays))
                goto bad;
        arr = json_object_get(root, "a");
        pt->pt_alerts = vg_calloc(json_array_size(arr) + 1, sizeof(vg_alert_t));
        json_array_foreach(arr, i, v) {
                if (vg_record_from_json(VG_REC_ALERT, v,
                                        &pt->pt_alerts[pt->pt_nalerts], e,
                                        sizeof(e)))
                        goto bad;
                pt->pt_nalerts++;
        }
        if (cells_parse(json_object_get(root, "c"), &pt->pt_cells,
                        &pt->pt_ncells) ||
            cells_parse(json_object_get(root, "f"), &pt->pt_frozen,
                        &pt->pt_nfrozen))
                goto bad;
        v = json_object_get(root, "n");
        pt->pt_next_due = json_is_integer(v) ? json_integer_value(v)
                                             : INT64_MAX;
        json_decref(root);
        return pt;
bad:
        vg_seterr(errstr, errstr_size, VG_ERR_STORE,
                  "patient state of %s is corrupt", patient_id);
        json_decref(root);
        vg_patient_destroy(pt);
        return NULL;
}
