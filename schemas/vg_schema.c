/*
 * vg_schema.c - Parsing Canonical Form and CRC-64-AVRO fingerprints.
 *
 * The canonical form follows the transformations of the Avro specification:
 * PRIMITIVES (bare names), FULLNAMES (namespaces resolved), STRIP (only
 * name/type/fields/symbols/items/values/size kept), ORDER (that order),
 * STRINGS (unescaped UTF-8), INTEGERS (plain decimal), WHITESPACE (none).
 * The JSON is parsed with jansson; the output is written by hand so that the
 * attribute order is exactly the specified one.
 */
#include "vg_schema.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#define CRC64_EMPTY 0xc15d213aa4d7a795ULL

uint64_t vg_schema_crc64(const void *data, size_t len) {
        static uint64_t table[256];
        static int init;
        const unsigned char *p = data;
        uint64_t fp = CRC64_EMPTY;

        if (!init) { /* idempotent: racing initialisers write the same values */
                for (int i = 0; i < 256; i++) {
                        uint64_t f = (uint64_t)i;
                        for (int j = 0; j < 8; j++)
                                f = (f >> 1) ^ (CRC64_EMPTY & (0 - (f & 1)));
                        table[i] = f;
                }
                init = 1;
        }
        for (size_t i = 0; i < len; i++)
                fp = (fp >> 8) ^ table[(fp ^ p[i]) & 0xff];
        return fp;
}

static const char *primitives[] = {"null", "boolean", "int", "long", "float",
                                   "double", "bytes", "string", NULL};

static int is_primitive(const char *s) {
        for (int i = 0; primitives[i]; i++)
                if (!strcmp(s, primitives[i]))
                        return 1;
        return 0;
}

/* A JSON string literal: escapes only what JSON requires, UTF-8 kept. */
static void put_string(vg_buf_t *out, const char *s) {
        json_t *js = json_string(s);
        char *txt = js ? json_dumps(js, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
        vg_buf_puts(out, txt ? txt : "\"\"");
        free(txt);
        json_decref(js);
}

/* Fullname of name in namespace ns (ns may be NULL or ""). */
static void fullname(const char *name, const char *ns, char *out,
                     size_t out_size) {
        if (strchr(name, '.') || !ns || !*ns || is_primitive(name))
                snprintf(out, out_size, "%s", name);
        else
                snprintf(out, out_size, "%s.%s", ns, name);
}

static int canon(json_t *s, const char *ns, vg_buf_t *out, char *errstr,
                 size_t errstr_size, int depth);

static int canon_named(json_t *s, const char *type, const char *ns,
                       vg_buf_t *out, char *errstr, size_t errstr_size,
                       int depth) {
        json_t *jname = json_object_get(s, "name");
        json_t *jns = json_object_get(s, "namespace");
        char full[1024], newns[1024];
        const char *dot;

        if (!json_is_string(jname)) {
                vg_seterr(errstr, errstr_size, VG_ERR_ARG,
                          "%s without a \"name\"", type);
                return -1;
        }
        if (json_is_string(jns) && !strchr(json_string_value(jname), '.'))
                fullname(json_string_value(jname), json_string_value(jns), full,
                         sizeof(full));
        else
                fullname(json_string_value(jname), ns, full, sizeof(full));
        /* Namespace for nested definitions: the fullname's qualifier. */
        dot = strrchr(full, '.');
        if (dot)
                snprintf(newns, sizeof(newns), "%.*s", (int)(dot - full), full);
        else
                newns[0] = '\0';

        vg_buf_puts(out, "{\"name\":");
        put_string(out, full);
        vg_buf_puts(out, ",\"type\":");
        put_string(out, type);

        if (!strcmp(type, "record") || !strcmp(type, "error")) {
                json_t *fields = json_object_get(s, "fields");
                size_t i;
                json_t *f;
                if (!json_is_array(fields)) {
                        vg_seterr(errstr, errstr_size, VG_ERR_ARG,
                                  "record %s without \"fields\" array", full);
                        return -1;
                }
                vg_buf_puts(out, ",\"fields\":[");
                json_array_foreach(fields, i, f) {
                        json_t *fn = json_object_get(f, "name");
                        json_t *ft = json_object_get(f, "type");
                        if (!json_is_string(fn) || !ft) {
                                vg_seterr(errstr, errstr_size, VG_ERR_ARG,
                                          "record %s: field %zu needs \"name\" "
                                          "and \"type\"", full, i);
                                return -1;
                        }
                        if (i > 0)
                                vg_buf_puts(out, ",");
                        vg_buf_puts(out, "{\"name\":");
                        put_string(out, json_string_value(fn));
                        vg_buf_puts(out, ",\"type\":");
                        if (canon(ft, newns, out, errstr, errstr_size,
                                  depth + 1))
                                return -1;
                        vg_buf_puts(out, "}");
                }
                vg_buf_puts(out, "]");
        } else if (!strcmp(type, "enum")) {
                json_t *syms = json_object_get(s, "symbols");
                size_t i;
                json_t *sym;
                if (!json_is_array(syms)) {
                        vg_seterr(errstr, errstr_size, VG_ERR_ARG,
                                  "enum %s without \"symbols\" array", full);
                        return -1;
                }
                vg_buf_puts(out, ",\"symbols\":[");
                json_array_foreach(syms, i, sym) {
                        if (!json_is_string(sym)) {
                                vg_seterr(errstr, errstr_size, VG_ERR_ARG,
                                          "enum %s: symbol %zu is not a string",
                                          full, i);
                                return -1;
                        }
                        if (i > 0)
                                vg_buf_puts(out, ",");
                        put_string(out, json_string_value(sym));
                }
                vg_buf_puts(out, "]");
        } else { /* fixed */
                json_t *size = json_object_get(s, "size");
                json_int_t n;
                if (json_is_integer(size))
                        n = json_integer_value(size);
                else if (json_is_string(size))
                        n = strtoll(json_string_value(size), NULL, 10);
                else {
                        vg_seterr(errstr, errstr_size, VG_ERR_ARG,
                                  "fixed %s without \"size\"", full);
                        return -1;
                }
                vg_buf_printf(out, ",\"size\":%lld", (long long)n);
        }
        vg_buf_puts(out, "}");
        return 0;
}

static int canon(json_t *s, const char *ns, vg_buf_t *out, char *errstr,
                 size_t errstr_size, int depth) {
        if (depth > 64) {
                vg_seterr(errstr, errstr_size, VG_ERR_ARG,
                          "schema nested too deeply");
                return -1;
        }
        if (json_is_string(s)) {
                char full[1024];
                fullname(json_string_value(s), ns, full, sizeof(full));
                put_string(out, full);
                return 0;
        }
        if (json_is_array(s)) { /* union */
                size_t i;
                json_t *b;
                vg_buf_puts(out, "[");
                json_array_foreach(s, i, b) {
                        if (i > 0)
                                vg_buf_puts(out, ",");
                        if (canon(b, ns, out, errstr, errstr_size, depth + 1))
                                return -1;
                }
                vg_buf_puts(out, "]");
                return 0;
        }
        if (json_is_object(s)) {
                json_t *jt = json_object_get(s, "type");
                const char *t;
                if (!jt) {
                        vg_seterr(errstr, errstr_size, VG_ERR_ARG,
                                  "schema object without \"type\"");
                        return -1;
                }
                if (!json_is_string(jt)) /* {"type": {...}} or ["..."] */
                        return canon(jt, ns, out, errstr, errstr_size,
                                     depth + 1);
                t = json_string_value(jt);
                if (is_primitive(t)) {
                        put_string(out, t);
                        return 0;
                }
                if (!strcmp(t, "record") || !strcmp(t, "error") ||
                    !strcmp(t, "enum") || !strcmp(t, "fixed"))
                        return canon_named(s, t, ns, out, errstr, errstr_size,
                                           depth);
                if (!strcmp(t, "array")) {
                        json_t *items = json_object_get(s, "items");
                        if (!items) {
                                vg_seterr(errstr, errstr_size, VG_ERR_ARG,
                                          "array without \"items\"");
                                return -1;
                        }
                        vg_buf_puts(out, "{\"type\":\"array\",\"items\":");
                        if (canon(items, ns, out, errstr, errstr_size,
                                  depth + 1))
                                return -1;
                        vg_buf_puts(out, "}");
                        return 0;
                }
                if (!strcmp(t, "map")) {
                        json_t *values = json_object_get(s, "values");
                        if (!values) {
                                vg_seterr(errstr, errstr_size, VG_ERR_ARG,
                                          "map without \"values\"");
                                return -1;
                        }
                        vg_buf_puts(out, "{\"type\":\"map\",\"values\":");
                        if (canon(values, ns, out, errstr, errstr_size,
                                  depth + 1))
                                return -1;
                        vg_buf_puts(out, "}");
                        return 0;
                }
                /* A reference to a named type written as {"type":"Name"}. */
                return canon(jt, ns, out, errstr, errstr_size, depth + 1);
        }
        vg_seterr(errstr, errstr_size, VG_ERR_ARG,
                  "not a schema (expected a string, array or object)");
        return -1;
}

char *vg_schema_canonical(const char *json, size_t len, char *errstr,
                          size_t errstr_size) {
        json_error_t jerr;
        json_t *root = json_loadb(json, len, JSON_DECODE_ANY, &jerr);
        vg_buf_t out;

        if (!root) {
                vg_seterr(errstr, errstr_size, VG_ERR_ARG,
                          "schema is not JSON: line %d: %s", jerr.line,
                          jerr.text);
                return NULL;
        }
        vg_buf_init(&out);
        if (canon(root, NULL, &out, errstr, errstr_size, 0)) {
                json_decref(root);
                vg_buf_free(&out);
                return NULL;
        }
        json_decref(root);
        return out.vb_data ? out.vb_data : vg_strdup("");
}

vg_err_t vg_schema_fingerprint(const char *json, size_t len, uint64_t *fpp,
                               char *errstr, size_t errstr_size) {
        char *c = vg_schema_canonical(json, len, errstr, errstr_size);
        if (!c)
                return VG_ERR_ARG;
        *fpp = vg_schema_crc64(c, strlen(c));
        vg_free(c);
        return VG_OK;
}
