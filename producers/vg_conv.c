/*
 * vg_conv.c - hospital messages from files and pipes to care events
 * (vg_conv.h): the key, the site mapping, and the reading, converting and
 * reporting loop of HL7 v2 and FHIR inputs.
 *
 * Messages name a unit by "FILE:N (MSH-10 X)" (HL7, N its number in FILE)
 * or "FILE:LINE [entry K] (Type/id)" (FHIR), never by patient data.
 */
#include "vg_conv.h"
#include "vg_cli.h"
#include "vg_fhir.h"
#include "vg_hl7.h"
#include "vg_hl7_site.h"
#include "vg_lines.h"
#include "vg_time.h"

#include <errno.h>
#include <string.h>

struct vg_conv_s {
        const char             *cv_cmd;
        vg_conv_fmt_t           cv_fmt;
        vg_hl7_map_t           *cv_map;
        vg_hl7_ctx_t            cv_hl7;
        vg_fhir_ctx_t           cv_fhir;
        size_t                  cv_max;     /* input.max_bytes */
        vg_conv_stats_t         cv_stats;
        /* The input being read. */
        const char             *cv_name;
        long                    cv_unit;    /* message number (HL7) */
        vg_conv_event_fn        cv_fn;
        void                   *cv_opaque;
        volatile sig_atomic_t  *cv_stop;
        bool                    cv_stopped; /* fn asked to stop */
};

int vg_conv_fmt_parse(const char *s, vg_conv_fmt_t *fmt) {
        if (!strcmp(s, "jsonl"))
                *fmt = VG_CONV_JSONL;
        else if (!strcmp(s, "hl7v2"))
                *fmt = VG_CONV_HL7V2;
        else if (!strcmp(s, "fhir"))
                *fmt = VG_CONV_FHIR;
        else
                return -1;
        return 0;
}

int vg_conv_key_load(const char *cmd, const vg_conf_t *conf,
                     const char *key_file, bool required,
                     vg_pseudo_key_t *key) {
        char errstr[512];
        int group_readable;
        vg_err_t err;

        if (!key_file)
                key_file = vg_conf_str(conf, "pseudonym.key_file");
        if (!key_file || !*key_file) {
                if (!required)
                        return 0;
                return vg_cli_usage_error(
                        cmd, "pseudonym.key_file is not set: a pseudonym key "
                        "is required to turn the patient's personnummer "
                        "(HL7 PID-3, a FHIR Patient identifier) into "
                        "patient_id (-X pseudonym.key_file=FILE or "
                        "--key-file FILE)");
        }
        if ((err = vg_pseudo_key_load(key_file, key, &group_readable,
                                      errstr, sizeof(errstr)))) {
                /* A file that cannot be read fails as any input does; one
                 * read that holds no usable key is a configuration error,
                 * as a bad mapping file is. */
                fprintf(stderr, "vigil %s: %s\n", cmd, errstr);
                return err == VG_ERR_IO ? VG_EXIT_FAIL : VG_EXIT_USAGE;
        }
        if (group_readable)
                vg_warn(cmd, "pseudonym key file %s is readable by group or "
                        "others; chmod 600 it", key_file);
        return 0;
}

vg_conv_t *vg_conv_new(const char *cmd, vg_conv_fmt_t fmt,
                       const vg_conf_t *conf, const vg_pseudo_key_t *key,
                       const char *mapping, int *exitp) {
        vg_conv_t *cv = vg_calloc(1, sizeof(*cv));
        vg_tz_t tz;
        int rc;

        cv->cv_cmd = cmd;
        cv->cv_fmt = fmt;
        if (vg_tz_parse(vg_conf_str(conf, "timezone"), &tz)) {
                *exitp = vg_cli_usage_error(cmd, "timezone: not supported");
                goto bad;
        }
        cv->cv_max = (size_t)vg_conf_int(conf, "input.max_bytes");
        cv->cv_map = vg_hl7_map_new();
        if (!mapping)
                mapping = vg_conf_str(conf, "hl7.mapping_file");
        if (mapping && *mapping &&
            (rc = vg_hl7_map_load(cv->cv_map, mapping, cmd))) {
                *exitp = rc;
                goto bad;
        }
        cv->cv_hl7.hx_map = cv->cv_map;
        cv->cv_hl7.hx_key = key->pk_data;
        cv->cv_hl7.hx_keylen = key->pk_len;
        cv->cv_hl7.hx_tz = tz;
        cv->cv_fhir.fx_map = cv->cv_map;
        cv->cv_fhir.fx_key = key->pk_data;
        cv->cv_fhir.fx_keylen = key->pk_len;
        cv->cv_fhir.fx_tz = tz;
        cv->cv_fhir.fx_max_bytes = cv->cv_max;
        return cv;
bad:
        vg_conv_destroy(cv);
        return NULL;
}

void vg_conv_destroy(vg_conv_t *cv) {
        if (!cv)
                return;
        vg_hl7_map_destroy(cv->cv_map);
        vg_free(cv);
}

const vg_conv_stats_t *vg_conv_stats(const vg_conv_t *cv) {
        return &cv->cv_stats;
}

const char *vg_conv_units(const vg_conv_t *cv) {
        return cv->cv_fmt == VG_CONV_FHIR ? "resources" : "messages";
}

/* Hands ev to the caller and counts what it did with it. */
static void take(vg_conv_t *cv, const vg_event_t *ev, long unit) {
        int r;
        if (cv->cv_stopped)
                return;
        r = cv->cv_fn(cv->cv_opaque, ev, cv->cv_name, unit);
        if (r == 0)
                cv->cv_stats.cs_events++;
        else if (r > 0)
                cv->cv_stats.cs_invalid++;
        else
                cv->cv_stopped = true;
}

/* ------------------------------------------------------------------ */
/* HL7 v2                                                             */
/* ------------------------------------------------------------------ */

static void on_message(void *opaque, const vg_hl7_frame_t *fm) {
        vg_conv_t *cv = opaque;
        char ctrl[VG_HL7_CTRL_BUFSZ], errstr[512];
        vg_event_t ev;
        vg_hl7_res_t res;

        if (cv->cv_stopped)
                return;
        cv->cv_unit++;
        cv->cv_stats.cs_read++;
        if (fm->fm_too_long) {
                vg_log(VG_LOG_ERROR, cv->cv_cmd,
                       "%s:%ld (MSH-10 ?): message longer than %zu "
                       "bytes (input.max_bytes)", cv->cv_name, cv->cv_unit,
                       cv->cv_max);
                cv->cv_stats.cs_invalid++;
                return;
        }
        cv->cv_hl7.hx_now_ms = vg_now_ms();
        res = vg_hl7_convert(&cv->cv_hl7, fm->fm_data, fm->fm_len, &ev, ctrl,
                             errstr, sizeof(errstr));
        if (res == VG_HL7_SKIPPED) {
                vg_log(VG_LOG_INFO, cv->cv_cmd,
                       "%s:%ld (MSH-10 %s): %s", cv->cv_name,
                       cv->cv_unit, ctrl, errstr);
                cv->cv_stats.cs_skipped++;
                return;
        }
        if (res != VG_HL7_EVENT) {
                vg_log(VG_LOG_ERROR, cv->cv_cmd,
                       "%s:%ld (MSH-10 %s): %s", cv->cv_name,
                       cv->cv_unit, ctrl, errstr);
                cv->cv_stats.cs_invalid++;
                return;
        }
        take(cv, &ev, cv->cv_unit);
        vg_record_clear(ev.ev_type, &ev);
}

static int hl7_input(vg_conv_t *cv, FILE *in) {
        vg_hl7_framer_t fr;
        char buf[65536];
        size_t n;
        int rc = 0;

        vg_hl7_framer_init(&fr, cv->cv_max);
        while (!cv->cv_stopped && !(cv->cv_stop && *cv->cv_stop) &&
               (n = fread(buf, 1, sizeof(buf), in)) > 0)
                vg_hl7_framer_feed(&fr, buf, n, on_message, cv);
        if (ferror(in)) {
                fprintf(stderr, "vigil %s: %s: read error: %s\n", cv->cv_cmd,
                        cv->cv_name, strerror(errno));
                rc = -1;
        } else if (!cv->cv_stopped && !(cv->cv_stop && *cv->cv_stop))
                vg_hl7_framer_end(&fr, on_message, cv);
        vg_hl7_framer_free(&fr);
        memset(buf, 0, sizeof(buf)); /* held personal data */
        return rc;
}

/* ------------------------------------------------------------------ */
/* FHIR                                                               */
/* ------------------------------------------------------------------ */

/* "FILE:LINE", "FILE:LINE (Type/id)" or "FILE:LINE entry K (Type/id)". */
static void fhir_where(const vg_conv_t *cv, long line,
                       const vg_fhir_item_t *it, char *buf, size_t size) {
        if (!it)
                snprintf(buf, size, "%s:%ld", cv->cv_name, line);
        else if (it->fi_entry)
                snprintf(buf, size, "%s:%ld entry %d (%s)", cv->cv_name, line,
                         it->fi_entry, it->fi_name);
        else
                snprintf(buf, size, "%s:%ld (%s)", cv->cv_name, line,
                         it->fi_name);
}

static void fhir_line(vg_conv_t *cv, const char *line, size_t len,
                      long lineno) {
        vg_fhir_out_t out;
        char errstr[512], where[1024];

        cv->cv_fhir.fx_now_ms = vg_now_ms();
        if (vg_fhir_convert(&cv->cv_fhir, line, len, &out, errstr,
                            sizeof(errstr))) {
                fhir_where(cv, lineno, NULL, where, sizeof(where));
                vg_log(VG_LOG_ERROR, cv->cv_cmd, "%s: %s", where, errstr);
                cv->cv_stats.cs_read++;
                cv->cv_stats.cs_invalid++;
                return;
        }
        for (size_t i = 0; i < out.fo_cnt && !cv->cv_stopped; i++) {
                const vg_fhir_item_t *it = &out.fo_item[i];
                cv->cv_stats.cs_read++;
                switch (it->fi_res) {
                case VG_FHIR_EVENT:
                        for (int k = 0; k < it->fi_nev; k++)
                                take(cv, &it->fi_ev[k], lineno);
                        break;
                case VG_FHIR_CONTEXT:
                        cv->cv_stats.cs_skipped++;
                        break;
                case VG_FHIR_SKIPPED:
                        fhir_where(cv, lineno, it, where, sizeof(where));
                        vg_log(VG_LOG_INFO, cv->cv_cmd,
                               "%s: %s", where, it->fi_msg);
                        cv->cv_stats.cs_skipped++;
                        break;
                default:
                        fhir_where(cv, lineno, it, where, sizeof(where));
                        vg_log(VG_LOG_ERROR, cv->cv_cmd,
                               "%s: %s", where, it->fi_msg);
                        cv->cv_stats.cs_invalid++;
                }
        }
        vg_fhir_out_clear(&out);
}

static bool blank(const char *s, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
                        return false;
        return true;
}

static int fhir_input(vg_conv_t *cv, FILE *in) {
        vg_lines_t lr;
        char *line, errstr[256];
        size_t n;
        int r, rc = 0;

        vg_lines_init(&lr, in, cv->cv_name, cv->cv_max);
        lr.lr_stop = cv->cv_stop;
        while (!cv->cv_stopped && !(cv->cv_stop && *cv->cv_stop) &&
               (r = vg_lines_next(&lr, &line, &n, errstr, sizeof(errstr))) !=
                       VG_LINES_END) {
                if (r == VG_LINES_FATAL) {
                        if (!(cv->cv_stop && *cv->cv_stop))
                                fprintf(stderr, "vigil %s: %s:%ld: %s\n",
                                        cv->cv_cmd, cv->cv_name,
                                        lr.lr_lineno + 1, errstr);
                        rc = -1;
                        break;
                }
                if (r == VG_LINES_BAD) { /* too long: named, skipped */
                        vg_log(VG_LOG_ERROR, cv->cv_cmd,
                               "%s:%ld: %s", cv->cv_name,
                               lr.lr_lineno, errstr);
                        cv->cv_stats.cs_read++;
                        cv->cv_stats.cs_invalid++;
                        continue;
                }
                if (!blank(line, n))
                        fhir_line(cv, line, n, lr.lr_lineno);
        }
        vg_lines_free(&lr); /* zeroed: a line may hold a personnummer */
        return rc;
}

int vg_conv_input(vg_conv_t *cv, FILE *in, const char *name,
                  vg_conv_event_fn fn, void *opaque,
                  volatile sig_atomic_t *stop) {
        int rc;

        cv->cv_name = name;
        cv->cv_unit = 0;
        cv->cv_fn = fn;
        cv->cv_opaque = opaque;
        cv->cv_stop = stop;
        cv->cv_stopped = false;
        rc = cv->cv_fmt == VG_CONV_FHIR ? fhir_input(cv, in)
                                        : hl7_input(cv, in);
        if (cv->cv_stopped || (stop && *stop))
                rc = -1;
        return rc;
}
