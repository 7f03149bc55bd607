/*
 * vg_conv.h - hospital messages from files and pipes to care events: what
 * `vigil convert --from` and `vigil produce --format` share, so both give
 * the same events from the same input (docs/HOSPITAL.md).
 *
 * It reads one input at a time, cuts it into HL7 v2 messages (vg_hl7
 * framer) or FHIR lines (vg_lines), converts each with vg_hl7 or vg_fhir
 * under one site mapping, reports refused and skipped ones on stderr
 * without personal data, and hands every event to the caller's function.
 */
#ifndef VG_CONV_H
#define VG_CONV_H

#include "vg_common.h"
#include "vg_config.h"
#include "vg_pseudo.h"
#include "vg_record.h"

#include <signal.h>
#include <stdio.h>

typedef enum vg_conv_fmt_e {
        VG_CONV_JSONL = 0, /* events already (no conversion) */
        VG_CONV_HL7V2,     /* HL7 v2.5 ADT (vg_hl7) */
        VG_CONV_FHIR       /* FHIR R4 JSON, a resource or Bundle a line */
} vg_conv_fmt_t;

/* "jsonl", "hl7v2" or "fhir" into *fmt; -1 if unknown. */
int vg_conv_fmt_parse(const char *s, vg_conv_fmt_t *fmt);

/* Loads the pseudonym key of key_file, else of pseudonym.key_file, and
 * warns when group or others may read it. required: a missing key is a
 * usage error naming why (hospital formats carry personnummer). Returns 0
 * (key may stay empty when not required), or an exit status after
 * printing "vigil CMD: reason". */
int vg_conv_key_load(const char *cmd, const vg_conf_t *conf,
                     const char *key_file, bool required,
                     vg_pseudo_key_t *key);

typedef struct vg_conv_s vg_conv_t;

/* A conversion of fmt (HL7V2 or FHIR) for command cmd with key (kept by
 * reference: it must outlive the conversion): the site mapping file
 * mapping, else hl7.mapping_file, else the built-in defaults; timezone and
 * input.max_bytes from conf. NULL with *exitp after printing the error. */
vg_conv_t *vg_conv_new(const char *cmd, vg_conv_fmt_t fmt,
                       const vg_conf_t *conf, const vg_pseudo_key_t *key,
                       const char *mapping, int *exitp);
void vg_conv_destroy(vg_conv_t *cv);

/* Called with every event; file and unit (the message's number in an HL7
 * input, the line of a FHIR one) say where it came from. Returns 0 when
 * the event was taken, 1 when the caller refused it (after saying why; it
 * counts as invalid), -1 to stop reading. */
typedef int (*vg_conv_event_fn)(void *opaque, const vg_event_t *ev,
                                const char *file, long unit);

/* Converts one input. Returns 0, or -1 after a read error (reported) or
 * when fn or *stop (may be NULL; a signal) stopped it. */
int vg_conv_input(vg_conv_t *cv, FILE *in, const char *name,
                  vg_conv_event_fn fn, void *opaque,
                  volatile sig_atomic_t *stop);

typedef struct vg_conv_stats_s {
        long cs_read;     /* messages or resources read, all inputs */
        long cs_events;   /* events taken by fn */
        long cs_skipped;  /* read, nothing to write (a note) */
        long cs_invalid;  /* refused, here or by fn */
} vg_conv_stats_t;

const vg_conv_stats_t *vg_conv_stats(const vg_conv_t *cv);
/* "messages" (HL7) or "resources" (FHIR), for the summary line. */
const char *vg_conv_units(const vg_conv_t *cv);

#endif /* VG_CONV_H */
