/*
 * fuzz_jsonl.c - libFuzzer harness of the JSON Lines event parser:
 * vg_event_from_jsonl (and vg_event_validate on what it accepts) on an
 * arbitrary line must accept it or say why, never crash or leak; and its
 * fast path must give what jansson's path (json_loadb +
 * vg_event_from_json) gives: the same result, record and error text.
 */
#include "vg_record.h"
#include "vg_record_json.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static vg_err_t slow_path(const char *line, size_t len, vg_event_t *ev,
                          char *errstr, size_t errstr_size) {
        json_error_t jerr;
        json_t *obj = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
        vg_err_t err;
        memset(ev, 0, sizeof(*ev));
        if (!obj)
                return vg_seterr(errstr, errstr_size, VG_ERR_INVALID,
                                 "not valid JSON: column %d: %s", jerr.column,
                                 vg_json_error_text(jerr.text));
        err = vg_event_from_json(obj, ev, errstr, errstr_size);
        json_decref(obj);
        return err;
}

static char *dump(const vg_event_t *ev) {
        json_t *o = vg_record_to_json(ev->ev_type, ev);
        char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
        json_decref(o);
        return s;
}

/* The two paths must agree; abort() (a finding) when they do not. */
static void compare(const char *line, size_t len, vg_err_t ra,
                    const vg_event_t *a, const char *ea) {
        char eb[512];
        vg_event_t b;
        vg_err_t rb = slow_path(line, len, &b, eb, sizeof(eb));
        if (ra != rb || (ra && strcmp(ea, eb))) {
                fprintf(stderr, "paths differ: %d '%s' / %d '%s'\n", ra, ea,
                        rb, eb);
                abort();
        }
        if (!ra) {
                char *da = dump(a), *db = dump(&b);
                if (strcmp(da, db)) {
                        fprintf(stderr, "records differ:\n%s\n%s\n", da, db);
                        abort();
                }
                free(da);
                free(db);
                vg_record_clear(b.ev_type, &b);
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char errstr[512];
        vg_event_t ev;
        /* A line as the readers hand it over: NUL-terminated after len. */
        char *line = malloc(size + 1);

        vg_log_level = VG_LOG_ERROR;
        if (!line)
                return 0;
        memcpy(line, data, size);
        line[size] = '\0';
        memset(&ev, 0, sizeof(ev));
        vg_err_t r = vg_event_from_jsonl(line, size, &ev, errstr,
                                         sizeof(errstr));
        compare(line, size, r, &ev, errstr);
        if (r == VG_OK) {
                (void)vg_event_validate(&ev, 1790000000000LL, errstr,
                                        sizeof(errstr));
                vg_record_clear(ev.ev_type, &ev);
        }
        free(line);
        return 0;
}
