/*
 * vg_report.h - the report page for other commands: `vigil serve` draws
 * the page of `vigil report` from the values and alerts it keeps.
 */
#ifndef VG_REPORT_H
#define VG_REPORT_H

#include "vg_common.h"
#include "vg_config.h"

#include <jansson.h>

typedef struct vg_report_in_s {
        const vg_conf_t   *ri_conf;
        json_t            *ri_values;  /* topic key -> SPEC §9 value object
                                        * (read, not kept) */
        json_t            *ri_alerts;  /* alert_id -> SPEC §9 alert object */
        const char *const *ri_areas;   /* the page's areas (as report -a);
                                        * none: every area */
        int                ri_nareas;
        const char        *ri_lang;    /* "sv" or "en" */
        const char        *ri_from;    /* YYYY-MM or NULL */
        const char        *ri_to;
        bool             (*ri_gone)(void *arg); /* asked between the
                                        * page's stages (a few dozen
                                        * times): true, stop; or NULL */
        void              *ri_gone_arg;
} vg_report_in_t;

/* Appends the page (as `vigil report --html` writes it) to out and
 * returns true; false, out untouched, when ri_gone said stop. The value
 * and alert objects are shared, not copied, and only read: nobody may
 * change them meanwhile (dropping references is fine: jansson's counts
 * are atomic). Pages are drawn one at a time (a lock): callable from any
 * thread. */
bool vg_report_render(const vg_report_in_t *in, vg_buf_t *out);

#endif /* VG_REPORT_H */
