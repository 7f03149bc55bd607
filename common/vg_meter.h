/*
 * vg_meter.h - a progress line for long work on a terminal: what is
 * being done, how much, the rate, the share done and the time left, on
 * one line of stderr rewritten in place; nothing at all when stderr is not
 * a terminal (logs stay one line per event).
 */
#ifndef VG_METER_H
#define VG_METER_H

#include "vg_common.h"

#include <stdio.h>

typedef struct vg_meter_s {
        const char *pg_what;     /* "process", "produce", ... */
        const char *pg_unit;     /* "events" */
        bool        pg_tty;      /* stderr is a terminal */
        bool        pg_shown;    /* a line is on the screen */
        int64_t     pg_start;    /* ms */
        int64_t     pg_next;     /* next redraw, ms */
        int64_t     pg_total;    /* of the measure the share is of; 0:
                                  * unknown */
} vg_meter_t;

/* total: what the share is measured in (bytes of the input file, or a
 * count); 0 if unknown (a pipe): no share, no time left. */
void vg_meter_init(vg_meter_t *pg, const char *what, const char *unit,
                      int64_t total);
/* Size of a regular file being read, else 0 (for vg_meter_init). */
int64_t vg_meter_file_size(FILE *fp);
/* count items done; done of total (bytes read, or items). Redraws at
 * most 5 times a second. */
void vg_meter_update(vg_meter_t *pg, int64_t count, int64_t done);
/* Clears the line. */
void vg_meter_end(vg_meter_t *pg);

#endif /* VG_METER_H */
