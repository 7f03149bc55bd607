/*
 * vg_record_json.h - the JSON forms of the records of vg_record.h: SPEC §9
 * JSON Lines in and out, the compact form of the state store, the SPEC §9
 * indicator-value object. The only part of the record model that needs
 * jansson.
 */
#ifndef VG_RECORD_JSON_H
#define VG_RECORD_JSON_H

#include "vg_record.h"

#include <jansson.h>

/* The SPEC §9 JSON form of an indicator value: {"indicator", "area",
 * "period", "breakdown", "numerator", "denominator" (null for counts),
 * "complete", "history_complete", "data_since" (RFC 3339 or null)}. New
 * reference. */
json_t *vg_ivalue_json(const vg_ivalue_t *iv);
/* The same object as compact JSON text, fields in the same order (what
 * json_dumps(vg_ivalue_json(iv), JSON_COMPACT | JSON_PRESERVE_ORDER)
 * gives), appended to out: for many rows. */
void vg_ivalue_put_json(vg_buf_t *out, const vg_ivalue_t *iv);
/* Reads that form back, and the version-1 form without the last four
 * (breakdown "all", complete false, history_complete true, data_since
 * null). iv is the caller's to clear with vg_record_clear(). */
vg_err_t vg_ivalue_from_json(json_t *obj, vg_ivalue_t *iv, char *errstr,
                             size_t errstr_size);

/* JSON (SPEC §9) -> record. obj must be a JSON object; for events the
 * "type" member selects the record type (type = -1 means: read it).
 * On error returns VG_ERR_INVALID with errstr "field: reason". */
vg_err_t vg_record_from_json(vg_rectype_t type, json_t *obj, void *rec,
                             char *errstr, size_t errstr_size);
vg_err_t vg_event_from_json(json_t *obj, vg_event_t *ev, char *errstr,
                            size_t errstr_size);
/* Parses one JSON Lines line into an event. */
vg_err_t vg_event_from_jsonl(const char *line, size_t len, vg_event_t *ev,
                             char *errstr, size_t errstr_size);
/* vg_event_from_jsonl's scanner of flat lines alone (for tests): true,
 * and the event in *ev (vg_record_clear it), if it read the line; false
 * where vg_event_from_jsonl hands the line to jansson. */
bool vg_event_from_flat_jsonl(const char *line, size_t len, vg_event_t *ev);

/* Record -> JSON object (members in schema order; events get "type" first,
 * null optionals are omitted for events and kept for outputs). */
json_t *vg_record_to_json(vg_rectype_t type, const void *rec);
/* Appends rec as compact JSON for machines (state files): times as epoch
 * milliseconds, null optionals left out; vg_record_from_json reads it. */
void vg_record_write_json(vg_buf_t *out, vg_rectype_t type, const void *rec);
/* Appends s as a JSON string literal. */
void vg_json_put_string(vg_buf_t *out, const char *s);

/* Appends an output record (not an event) as compact JSON with its null
 * fields left out: the very bytes json_dumps gives for
 * vg_record_to_json() without its nulls (JSON_COMPACT |
 * JSON_PRESERVE_ORDER), without building the tree. -1 if a string is not
 * printable ASCII or a number not finite (out then holds a part of it):
 * use jansson's path for that record. */
int vg_record_put_output_json(vg_buf_t *out, vg_rectype_t type,
                              const void *rec);

/* Record -> one compact JSON line (malloc'd, no newline). */
char *vg_record_to_jsonl(vg_rectype_t type, const void *rec);

/* jansson's error text without its " near '...'" excerpt of the input
 * (which could hold a personnummer, SPEC §8). Modifies text in place and
 * returns it. */
char *vg_json_error_text(char *text);

#endif /* VG_RECORD_JSON_H */
