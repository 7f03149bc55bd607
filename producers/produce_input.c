/*
 * produce_input.c - the input of `vigil produce` (produce_int.h): each
 * JSON line parsed, its personnummer pseudonymised (SPEC §8, vg_pseudo),
 * validated (SPEC §3, §7) and encoded (vg_codec); with --format
 * hl7v2|fhir the events come from vg_conv instead (the mapping `vigil
 * convert` uses) and pass the same checks from validation on. A valid
 * event is produced at once, or held back by --strict.
 *
 * A personnummer never leaves this file: it is replaced by its pseudonym
 * before the event is decoded, errors about it never quote it, and any
 * message quoting input is passed through vg_pseudo_redact() first.
 */
#include "produce_int.h"
#include "vg_lines.h"
#include "vg_meter.h"
#include "vg_record_json.h"
#include "vg_time.h"

#include <ctype.h>
#include <string.h>

#include <openssl/evp.h>

/* ------------------------------------------------------------------ */
/* Rejected lines                                                     */
/* ------------------------------------------------------------------ */

/* Prints "file:line: msg" for a rejected line, redacted. */
static void reject(prod_t *pr, const char *file, long lineno, const char *msg) {
        char buf[1024];
        snprintf(buf, sizeof(buf), "%s", msg);
        vg_pseudo_redact(buf);
        vg_log(VG_LOG_ERROR, "produce", "%s:%ld: %s", file, lineno, buf);
        pr->pr_rejected++;
}

/* ------------------------------------------------------------------ */
/* One line                                                           */
/* ------------------------------------------------------------------ */

/* Replaces "personnummer" by "patient_id" = its pseudonym. Returns 0, or -1
 * with errstr "personnummer: reason" (never quoting the number). */
static int pseudonymise(prod_t *pr, json_t *obj, char *errstr,
                        size_t errstr_size) {
        json_t *pnr = json_object_get(obj, "personnummer");
        char norm[VG_PSEUDO_PNR_BUFSZ], hex[VG_PSEUDO_HEX_BUFSZ], e[256];
        vg_err_t err;

        if (!pnr) {
                json_t *pid = json_object_get(obj, "patient_id");
                if (json_is_string(pid) &&
                    vg_pseudo_is_pnr(json_string_value(pid), pr->pr_today)) {
                        vg_seterr(errstr, errstr_size, VG_ERR_INVALID,
                                  "patient_id: is a personnummer, which must "
                                  "not be published (send it as "
                                  "\"personnummer\" with --key-file)");
                        return -1;
                }
                return 0;
        }
        if (json_object_get(obj, "patient_id")) {
                vg_seterr(errstr, errstr_size, VG_ERR_INVALID,
                          "personnummer: both personnummer and patient_id "
                          "given (give one)");
                return -1;
        }
        if (!json_is_string(pnr)) {
                vg_seterr(errstr, errstr_size, VG_ERR_INVALID,
                          "personnummer: expected a string");
                return -1;
        }
        if (!pr->pr_key.pk_len) {
                vg_seterr(errstr, errstr_size, VG_ERR_INVALID,
                          "personnummer: no pseudonym key (use --key-file)");
                return -1;
        }
        if (vg_pseudo_normalise(json_string_value(pnr), pr->pr_today, norm, e,
                                sizeof(e))) {
                vg_seterr(errstr, errstr_size, VG_ERR_INVALID,
                          "personnummer: %s", e);
                return -1;
        }
        err = vg_pseudo_hmac(pr->pr_key.pk_data, pr->pr_key.pk_len, norm, hex);
        memset(norm, 0, sizeof(norm));
        if (err) {
                vg_seterr(errstr, errstr_size, err,
                          "personnummer: HMAC-SHA256 failed");
                return -1;
        }
        json_object_del(obj, "personnummer");
        json_object_set_new(obj, "patient_id", json_string(hex));
        return 0;
}

/* Debug, --dry-run: the topic and SHA-256 of the encoded value, so two
 * runs can be compared event by event without printing the events. */
static void debug_encoded(prod_t *pr, const char *file, long lineno,
                          const vg_event_t *ev) {
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int mdlen = 0;
        char out[2 * EVP_MAX_MD_SIZE + 1];

        if (vg_log_level < VG_LOG_DEBUG ||
            !EVP_Digest(pr->pr_enc.vb_data ? pr->pr_enc.vb_data : "",
                        pr->pr_enc.vb_len, md, &mdlen, EVP_sha256(), NULL))
                return;
        vg_hex(out, md, mdlen);
        vg_debug(CMD, "%s:%ld: valid, for %s: sha256 %s (dry run)", file,
                 lineno, pr->pr_topics[ev->ev_type], out);
}

/* What every event passes however it was read (a JSON line, an HL7
 * message, a FHIR resource): no personnummer in any field, validation,
 * encoding into pr->pr_enc. Returns 0, or -1 after reporting it as
 * rejected (ev cleared). */
static int check_encode(prod_t *pr, const char *file, long lineno,
                        vg_event_t *ev) {
        char errstr[512];
        vg_err_t err = VG_OK;
        const vg_rectype_desc_t *rt = vg_rectype(ev->ev_type);

        /* SPEC §8: no personnummer in any field, valid or not */
        for (int i = 0; i < rt->rt_nfields && !err; i++) {
                const vg_field_t *f = &rt->rt_fields[i];
                const char *v;
                if (f->vf_type != VG_F_STRING && f->vf_type != VG_F_OSTRING)
                        continue;
                v = *(char *const *)((const char *)ev + f->vf_offset);
                if (v && vg_pseudo_spelt_like(v))
                        err = vg_seterr(errstr, sizeof(errstr),
                                        VG_ERR_INVALID,
                                        "%s: looks like a personnummer, "
                                        "which must not be published",
                                        f->vf_name);
        }
        if (!err) {
                /* The clock moves on in a long-running pipe. */
                pr->pr_now_ms = vg_now_ms();
                pr->pr_today = vg_local_day(VG_TZ_STOCKHOLM, pr->pr_now_ms);
                err = vg_event_validate(ev, pr->pr_now_ms, errstr,
                                        sizeof(errstr));
        }
        if (!err) {
                vg_buf_reset(&pr->pr_enc);
                err = vg_codec_encode(pr->pr_codec, ev->ev_type, ev,
                                      &pr->pr_enc, errstr, sizeof(errstr));
        }
        if (err) {
                vg_record_clear(ev->ev_type, ev);
                reject(pr, file, lineno, errstr);
                return -1;
        }
        pr->pr_valid++;
        if (pr->pr_dry_run)
                debug_encoded(pr, file, lineno, ev);
        return 0;
}

/* Parses, pseudonymises, validates and encodes one non-blank line into ev
 * and pr->pr_enc. Returns 0, or -1 after reporting the line as rejected. */
static int prepare(prod_t *pr, const char *file, long lineno, const char *line,
                   size_t len, vg_event_t *ev) {
        char errstr[512];
        json_error_t jerr;
        json_t *obj;
        vg_err_t err;

        memset(ev, 0, sizeof(*ev));
        obj = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
        if (!obj) {
                /* jansson quotes the offending token ("... near '...'"):
                 * dropped, it may be a personnummer. */
                snprintf(errstr, sizeof(errstr),
                         "not valid JSON: column %d: %s", jerr.column,
                         vg_json_error_text(jerr.text));
                reject(pr, file, lineno, errstr);
                return -1;
        }
        pr->pr_today = vg_local_day(VG_TZ_STOCKHOLM, vg_now_ms());
        if (json_is_object(obj) &&
            pseudonymise(pr, obj, errstr, sizeof(errstr))) {
                json_decref(obj);
                reject(pr, file, lineno, errstr);
                return -1;
        }
        err = vg_event_from_json(obj, ev, errstr, sizeof(errstr));
        json_decref(obj);
        if (err) {
                vg_record_clear(ev->ev_type, ev);
                reject(pr, file, lineno, errstr);
                return -1;
        }
        return check_encode(pr, file, lineno, ev);
}

/* ------------------------------------------------------------------ */
/* Input                                                              */
/* ------------------------------------------------------------------ */

static void keep_pending(prod_t *pr, const vg_event_t *ev, const pmsg_t *src) {
        pending_t *pd;
        if (pr->pr_pending_cnt == pr->pr_pending_size) {
                pr->pr_pending_size = pr->pr_pending_size ? 2 * pr->pr_pending_size
                                                          : 64;
                pr->pr_pending = vg_realloc(pr->pr_pending,
                                            pr->pr_pending_size *
                                                    sizeof(*pr->pr_pending));
        }
        pd = &pr->pr_pending[pr->pr_pending_cnt++];
        pd->pd_type = ev->ev_type;
        pd->pd_key = vg_strdup(ev->ev_patient_id);
        pd->pd_value = vg_malloc(pr->pr_enc.vb_len ? pr->pr_enc.vb_len : 1);
        memcpy(pd->pd_value, pr->pr_enc.vb_data, pr->pr_enc.vb_len);
        pd->pd_len = pr->pr_enc.vb_len;
        pd->pd_src = *src;
}

void produce_free_pending(prod_t *pr) {
        for (size_t i = 0; i < pr->pr_pending_cnt; i++) {
                vg_free(pr->pr_pending[i].pd_key);
                vg_free(pr->pr_pending[i].pd_value);
        }
        vg_free(pr->pr_pending);
        pr->pr_pending = NULL;
        pr->pr_pending_cnt = pr->pr_pending_size = 0;
}

static bool is_blank(const char *s, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (!isspace((unsigned char)s[i]))
                        return false;
        return true;
}

/* A valid event encoded in pr->pr_enc: produced now, held back by
 * --strict, or nothing (--dry-run). */
static void publish(prod_t *pr, const vg_event_t *ev, const pmsg_t *src) {
        if (pr->pr_strict && !pr->pr_dry_run) {
                /* after a bad line or message nothing will be produced */
                if (pr->pr_rejected ||
                    (pr->pr_conv && vg_conv_stats(pr->pr_conv)->cs_invalid))
                        produce_free_pending(pr);
                else
                        keep_pending(pr, ev, src);
        } else if (!pr->pr_dry_run)
                produce_one(pr, ev->ev_type, ev->ev_patient_id,
                            pr->pr_enc.vb_data, pr->pr_enc.vb_len, src);
}

/* --format hl7v2|fhir: vg_conv hands over each event it converted. */
static int on_converted(void *opaque, const vg_event_t *cev,
                        const char *file, long unit) {
        prod_t *pr = opaque;
        pmsg_t src = {file, unit};
        vg_event_t ev;

        if (produce_stop_signal || pr->pr_fatal)
                return -1;
        vg_record_copy(cev->ev_type, &ev, cev);
        if (check_encode(pr, file, unit, &ev)) {
                /* (--strict: every unit is still checked and reported;
                 * nothing will be produced) */
                pr->pr_conv_refused++;
                return 1;
        }
        publish(pr, &ev, &src);
        vg_record_clear(ev.ev_type, &ev);
        return 0;
}

/* Reads one input. Returns 0, or -1 when reading must stop (read error,
 * --strict and a bad line, a signal, a fatal producer error). */
static int read_input(prod_t *pr, FILE *in, const char *name) {
        vg_lines_t lr;
        char *line, errstr[256];
        size_t n;
        int rc = 0, r;

        vg_meter_t pg;
        vg_lines_init(&lr, in, name,
                      (size_t)vg_conf_int(pr->pr_conf, "input.max_bytes"));
        lr.lr_stop = &produce_stop_signal;
        vg_meter_init(&pg, "produce", "lines", vg_meter_file_size(in));
        while (!produce_stop_signal && !pr->pr_fatal &&
               (r = vg_lines_next(&lr, &line, &n, errstr, sizeof(errstr))) !=
                       VG_LINES_END) {
                vg_event_t ev;
                pmsg_t src = {name, lr.lr_lineno};

                if ((lr.lr_lineno & 255) == 0)
                        vg_meter_update(&pg, lr.lr_lineno, ftell(in));

                if (r == VG_LINES_FATAL) {
                        if (!produce_stop_signal)
                                fprintf(stderr, "vigil %s: %s:%ld: %s\n", CMD,
                                        name, lr.lr_lineno + 1, errstr);
                        rc = -1;
                        break;
                }
                if (r == VG_LINES_BAD) { /* too long: named, skipped */
                        reject(pr, name, lr.lr_lineno, errstr);
                        continue;
                }
                if (is_blank(line, n))
                        continue;
                /* A bad line is reported and skipped; with --strict too,
                 * so that every bad line is named (publish then keeps
                 * nothing more) */
                if (prepare(pr, name, lr.lr_lineno, line, n, &ev))
                        continue;
                publish(pr, &ev, &src);
                vg_record_clear(ev.ev_type, &ev);
        }
        vg_meter_end(&pg);
        if (produce_stop_signal || pr->pr_fatal)
                rc = -1;
        vg_lines_free(&lr); /* zeroed: a line may hold a personnummer */
        return rc;
}

/* vg_lines_each_input: one input, JSON Lines or converted. Returns
 * non-zero when no more inputs are to be read. */
int produce_read_one(void *opaque, FILE *in, const char *name) {
        prod_t *pr = opaque;
        int r = pr->pr_conv ? vg_conv_input(pr->pr_conv, in, name,
                                            on_converted, pr,
                                            &produce_stop_signal)
                            : read_input(pr, in, name);
        if (!r)
                return 0;
        pr->pr_read_err = 1;
        /* A read error only ends this file, unless --strict. */
        return pr->pr_strict || produce_stop_signal || pr->pr_fatal;
}
