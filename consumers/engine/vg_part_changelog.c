/*
 * vg_part_changelog.c - a partition's changelog: every committed change of
 * its state, as records of a compacted topic, and the restore from them.
 *
 * In Kafka mode each commit queues, in the same SQLite transaction and
 * through the same outbox as its alerts and parts, one record per patient
 * it wrote, one per counter it wrote and one "m" record with the offsets,
 * watermark and topic times. They go to partition P of the changelog (P =
 * the input partition number), and the transactional publisher sends a
 * batch's changelog records and its outputs in one Kafka transaction: a
 * read_committed reader of the changelog sees whole batches, each with the
 * outputs it produced already visible. Compaction keeps the latest record
 * per key, which is the partition's state.
 *
 *   key "p|<patient_id>"  value 01, next due (8 bytes, big-endian; 2^63-1:
 *                         none), the patient's state (vg_patient_store.c)
 *   key "c|<cell key>"    value 02, num, den (8 bytes each), count (1)
 *   key "m"               value 03, JSON: partition, schema_version,
 *                         offsets {topic: next offset}, meta {watermark,
 *                         topic_time.N, data_since}, rules (the rules.*
 *                         settings, vg_rules_conf_text: a restore with
 *                         other ones is refused)
 *
 * A patient's record is queued as a reference (vg_outbox_add_ref) and made
 * when the outbox is read (vg_part_cl_resolve), from the state the last
 * commit wrote - its store row, or its cached bytes when they are that
 * row - instead of a copy of the state written to the outbox in the
 * commit: the state is in the file already. That is the same record as
 * long as whoever reads the outbox reads it between batches only and
 * sends whole batches up to the last one: the publisher skips a
 * partition with a batch open, and a transaction that holds a record
 * made so takes every row there is (vg_outbox_txn.c); after a crash, the
 * file's outbox holds batches k+1..m and its state is m's. So a committed
 * Kafka transaction still holds the outputs of batches up to some m and
 * the changelog records of the patients they changed as of m.
 *
 * Timers are not logged: a patient's next-due time travels with it. The
 * pending flags of counters are not logged either: a restored partition
 * marks every counter pending, so its first parts re-send whole values
 * (harmless: the latest part per key wins).
 */
#include "vg_part_int.h"
#include "vg_patient_store.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { CL_PATIENT = 1, CL_CELL = 2, CL_META = 3 };

static void put64(vg_buf_t *b, int64_t v) {
        unsigned char *p = vg_buf_grow(b, 8);
        uint64_t u = (uint64_t)v;
        for (int i = 7; i >= 0; i--, u >>= 8)
                p[i] = (unsigned char)(u & 0xff);
}

static int64_t get64(const unsigned char *p) {
        uint64_t u = 0;
        for (int i = 0; i < 8; i++)
                u = (u << 8) | p[i];
        return (int64_t)u;
}

/* Queues key (a prefix and a name) with the value in pa_cbuf. */
static vg_err_t cl_add(vg_part_t *part, const char *prefix, const char *name,
                       const void *value, size_t value_len, char *errstr,
                       size_t errstr_size) {
        size_t plen = strlen(prefix), nlen = strlen(name);
        char stack[256], *key = plen + nlen <= sizeof(stack)
                                        ? stack
                                        : vg_malloc(plen + nlen);
        vg_err_t err;
        memcpy(key, prefix, plen);
        memcpy(key + plen, name, nlen);
        err = vg_outbox_add_to(part->pa_outbox, part->pa_cl_topic,
                               part->pa_partition, key, plen + nlen, value,
                               value_len, errstr, errstr_size);
        if (key != stack)
                vg_free(key);
        return err;
}

/* A patient record's value: 01, next due, the stored state. */
static void patient_value(vg_buf_t *b, int64_t due, const void *state,
                          size_t state_len) {
        vg_buf_append(b, "\x01", 1);
        put64(b, due);
        vg_buf_append(b, state, state_len);
}

static vg_err_t patient_row(vg_part_t *part, const char *id, int64_t due,
                            const void *state, size_t state_len,
                            char *errstr, size_t errstr_size) {
        vg_buf_reset(&part->pa_cbuf);
        patient_value(&part->pa_cbuf, due, state, state_len);
        return cl_add(part, "p|", id, part->pa_cbuf.vb_data,
                      part->pa_cbuf.vb_len, errstr, errstr_size);
}

vg_err_t vg_part_cl_patient(vg_part_t *part, const char *id, char *errstr,
                            size_t errstr_size) {
        size_t len;
        char stack[256], *key;
        vg_err_t err;
        if (!part->pa_cl_topic || part->pa_cl_full)
                return VG_OK;
        len = strlen(id);
        key = len + 2 <= sizeof(stack) ? stack : vg_malloc(len + 2);
        memcpy(key, "p|", 2);
        memcpy(key + 2, id, len);
        err = vg_outbox_add_ref(part->pa_outbox, part->pa_cl_topic,
                                part->pa_partition, key, len + 2, errstr,
                                errstr_size);
        if (key != stack)
                vg_free(key);
        return err;
}

/* A patient's changelog record as it is now committed: its cached form
 * when that is the committed one (not changed in an open batch), else its
 * rows. The outbox is read between batches only (the publisher skips a
 * partition in a batch), so this is the state the last commit wrote. */
int vg_part_cl_resolve(void *opaque, const vg_outrec_t *ref, vg_buf_t *value,
                       char *errstr, size_t errstr_size) {
        vg_part_t *part = opaque;
        const char *k = ref->or_key;
        char stack[256], *id;
        pent_t *pe;
        sqlite3_stmt *s;
        int rc = 0;
        if (!k || ref->or_key_len < 3 || memcmp(k, "p|", 2)) {
                vg_seterr(errstr, errstr_size, VG_ERR_STORE,
                          "partition %d: a reference that is not a patient's "
                          "changelog record", part->pa_partition);
                return -1;
        }
        id = ref->or_key_len - 1 <= sizeof(stack)
                     ? stack
                     : vg_malloc(ref->or_key_len - 1);
        memcpy(id, k + 2, ref->or_key_len - 2);
        id[ref->or_key_len - 2] = '\0';
        pe = vg_part_cached(part, id);
        if (pe && !pe->pe_dirty) {
                if (!pe->pe_blob) { /* (no bytes: encoded after the header) */
                        patient_value(value, pe->pe_pt->pt_next_due, NULL, 0);
                        vg_patient_encode(pe->pe_pt, value);
                } else
                        patient_value(value, pe->pe_next_due, pe->pe_blob,
                                      pe->pe_blen);
                goto out;
        }
        s = vg_part_st(part, S_CL_PATIENT);
        sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
        switch (sqlite3_step(s)) {
        case SQLITE_ROW:
                patient_value(value,
                              sqlite3_column_type(s, 1) == SQLITE_NULL
                                      ? INT64_MAX
                                      : sqlite3_column_int64(s, 1),
                              sqlite3_column_blob(s, 0),
                              (size_t)sqlite3_column_bytes(s, 0));
                break;
        case SQLITE_DONE: /* no such patient (now): a tombstone */
                rc = 1;
                break;
        default:
                vg_part_db_err(part, errstr, errstr_size,
                               "changelog: read patient");
                rc = -1;
        }
        sqlite3_reset(s);
out:
        if (id != stack)
                vg_free(id);
        return rc;
}

static vg_err_t cell_row(vg_part_t *part, const char *key, int64_t num,
                         int64_t den, bool count, char *errstr,
                         size_t errstr_size) {
        vg_buf_reset(&part->pa_cbuf);
        vg_buf_append(&part->pa_cbuf, "\x02", 1);
        put64(&part->pa_cbuf, num);
        put64(&part->pa_cbuf, den);
        vg_buf_append(&part->pa_cbuf, count ? "\x01" : "\x00", 1);
        return cl_add(part, "c|", key, part->pa_cbuf.vb_data,
                      part->pa_cbuf.vb_len, errstr, errstr_size);
}

vg_err_t vg_part_cl_cell(vg_part_t *part, const char *key, int64_t num,
                         int64_t den, bool count, char *errstr,
                         size_t errstr_size) {
        if (!part->pa_cl_topic || part->pa_cl_full)
                return VG_OK;
        return cell_row(part, key, num, den, count, errstr, errstr_size);
}

/* The whole state (a local file the changelog does not hold yet); the
 * flag is cleared when the commit succeeds. */
static vg_err_t cl_dump(vg_part_t *part, char *errstr, size_t errstr_size) {
        sqlite3_stmt *s = NULL;
        vg_err_t err = VG_OK;
        int rc;
        int64_t n = 0;
        if (sqlite3_prepare_v2(part->pa_db,
                               "SELECT p.patient_id, p.state, t.due FROM "
                               "patients p LEFT JOIN timers t USING "
                               "(patient_id)",
                               -1, &s, NULL) != SQLITE_OK)
                return vg_part_db_err(part, errstr, errstr_size,
                                      "changelog: read patients");
        while (!err && (rc = sqlite3_step(s)) == SQLITE_ROW) {
                err = patient_row(part, (const char *)sqlite3_column_text(s, 0),
                                  sqlite3_column_type(s, 2) == SQLITE_NULL
                                          ? INT64_MAX
                                          : sqlite3_column_int64(s, 2),
                                  sqlite3_column_blob(s, 1),
                                  (size_t)sqlite3_column_bytes(s, 1), errstr,
                                  errstr_size);
                n++;
        }
        sqlite3_finalize(s);
        if (err)
                return err;
        s = vg_part_st(part, S_CELLS);
        while (!err && (rc = sqlite3_step(s)) == SQLITE_ROW) {
                err = cell_row(part,
                                      (const char *)sqlite3_column_text(s, 0),
                                      sqlite3_column_int64(s, 1),
                                      sqlite3_column_int64(s, 2),
                                      sqlite3_column_int(s, 3) != 0, errstr,
                                      errstr_size);
                n++;
        }
        sqlite3_reset(s);
        if (!err)
                vg_info("partition", "partition %d: whole state (%lld "
                        "records) queued to changelog %s",
                        part->pa_partition, (long long)n, part->pa_cl_topic);
        return err;
}

vg_err_t vg_part_cl_commit(vg_part_t *part, char *errstr,
                           size_t errstr_size) {
        json_t *m, *offs, *meta;
        sqlite3_stmt *s;
        char *txt, key[24];
        vg_err_t err = VG_OK;

        if (!part->pa_cl_topic)
                return VG_OK;
        if (part->pa_cl_full && (err = cl_dump(part, errstr, errstr_size)))
                return err;
        m = json_object();
        offs = json_object();
        meta = json_object();
        json_object_set_new(m, "partition", json_integer(part->pa_partition));
        json_object_set_new(m, "schema_version",
                            json_integer(VG_PART_CL_SCHEMA_VERSION));
        s = vg_part_st(part, S_OFFSETS);
        while (sqlite3_step(s) == SQLITE_ROW)
                json_object_set_new(offs,
                                    (const char *)sqlite3_column_text(s, 0),
                                    json_integer(sqlite3_column_int64(s, 1)));
        sqlite3_reset(s);
        {
                const char *k;
                json_t *v;
                json_object_foreach(offs, k, v)
                        vg_part_cl_inputs_meta(part, k, meta);
        }
        for (int t = 0; t < VG_EVENT_TYPES; t++) {
                snprintf(key, sizeof(key), "topic_time.%d", t);
                json_object_set_new(meta, key,
                                    json_integer(
                                            part->pa_wm.wm_topics[t].wt_time));
        }
        json_object_set_new(meta, "watermark",
                            json_integer(part->pa_wm.wm_value));
        json_object_set_new(meta, "data_since",
                            json_integer(part->pa_data_since));
        json_object_set_new(m, "offsets", offs);
        json_object_set_new(m, "meta", meta);
        {
                char rules[VG_RULES_CONF_TEXT];
                vg_rules_conf_text(part->pa_rc, rules, sizeof(rules));
                json_object_set_new(m, "rules", json_string(rules));
        }
        txt = json_dumps(m, JSON_COMPACT | JSON_SORT_KEYS);
        json_decref(m);
        vg_buf_reset(&part->pa_cbuf);
        vg_buf_append(&part->pa_cbuf, "\x03", 1);
        vg_buf_puts(&part->pa_cbuf, txt);
        free(txt);
        err = cl_add(part, "m", "", part->pa_cbuf.vb_data,
                     part->pa_cbuf.vb_len, errstr, errstr_size);
        if (!err) {
                /* which changelog this file is logged to */
                s = vg_part_st(part, S_SET_META);
                sqlite3_bind_text(s, 1, "changelog_topic", -1, SQLITE_STATIC);
                sqlite3_bind_text(s, 2, part->pa_cl_topic, -1, SQLITE_STATIC);
                if (sqlite3_step(s) != SQLITE_DONE)
                        err = vg_part_db_err(part, errstr, errstr_size,
                                             "store meta");
                sqlite3_reset(s);
        }
        return err;
}

/* Text meta value of key, or NULL (to be freed). */
static char *meta_text(vg_part_t *part, const char *key) {
        sqlite3_stmt *s;
        char *v = NULL;
        if (sqlite3_prepare_v2(part->pa_db, "SELECT value FROM meta WHERE "
                               "key=?", -1, &s, NULL) != SQLITE_OK)
                return NULL;
        sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
        if (sqlite3_step(s) == SQLITE_ROW &&
            sqlite3_column_type(s, 0) == SQLITE_TEXT)
                v = vg_strdup((const char *)sqlite3_column_text(s, 0));
        sqlite3_finalize(s);
        return v;
}

static vg_err_t step_done(vg_part_t *part, sqlite3_stmt *s, const char *what,
                          char *errstr, size_t errstr_size);

void vg_part_rules_diff(const char *was, const char *now, char *out,
                        size_t size) {
        size_t o = 0;
        out[0] = '\0';
        for (const char *p = now; *p;) {
                size_t n = strcspn(p, " "), k = strcspn(p, "=");
                const char *q = was;
                char old[64] = "none";
                for (; *q; q += strcspn(q, " "), q += *q == ' ')
                        if (!strncmp(q, p, k + 1)) {
                                size_t m = strcspn(q, " ") - k - 1;
                                snprintf(old, sizeof(old), "%.*s",
                                         (int)(m < 63 ? m : 63), q + k + 1);
                                break;
                        }
                if ((strlen(old) != n - k - 1 ||
                     strncmp(old, p + k + 1, n - k - 1)) &&
                    o < size)
                        o += (size_t)snprintf(out + o, size - o,
                                              "%s%.*s %s -> %.*s",
                                              o ? ", " : "", (int)k, p, old,
                                              (int)(n - k - 1), p + k + 1);
                p += n;
                p += *p == ' ';
        }
}

/* A state (where) built with the rules.* settings was, refused when they
 * are not this process's: its results and new ones would mix two rule
 * books, and one member's settings would decide a partition's results
 * (SPEC §5: final results depend on the events alone). */
static vg_err_t rules_check(vg_part_t *part, const char *was,
                            const char *where, char *errstr,
                            size_t errstr_size) {
        char now[VG_RULES_CONF_TEXT], diff[512];
        vg_rules_conf_text(part->pa_rc, now, sizeof(now));
        if (!strcmp(was, now))
                return VG_OK;
        vg_part_rules_diff(was, now, diff, sizeof(diff));
        /* (VG_ERR_ARG: the process's settings, not the records, are in
         * question; a standby stops on it as the owner does) */
        return vg_seterr(errstr, errstr_size, VG_ERR_ARG,
                         "partition %d: %s holds a state built with other "
                         "settings (%s): set them back, or replay every "
                         "partition from the beginning with a new changelog "
                         "(docs/RUNBOOK.md section 9)",
                         part->pa_partition, where, diff[0] ? diff : was);
}

static vg_err_t set_meta_text(vg_part_t *part, const char *key,
                              const char *v, char *errstr,
                              size_t errstr_size) {
        sqlite3_stmt *s = vg_part_st(part, S_SET_META);
        sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 2, v, -1, SQLITE_STATIC);
        return step_done(part, s, "store meta", errstr, errstr_size);
}

vg_err_t vg_part_rules_open(vg_part_t *part, char *errstr,
                            size_t errstr_size) {
        char *was = meta_text(part, "rules"), now[VG_RULES_CONF_TEXT];
        vg_err_t err;
        if (was) {
                err = rules_check(part, was, part->pa_path, errstr,
                                  errstr_size);
                vg_free(was);
                return err;
        }
        /* a new file, or one of an earlier release: these from now on */
        vg_rules_conf_text(part->pa_rc, now, sizeof(now));
        return set_meta_text(part, "rules", now, errstr, errstr_size);
}

static bool has_data(vg_part_t *part) {
        sqlite3_stmt *s;
        bool any = false;
        if (sqlite3_prepare_v2(part->pa_db,
                               "SELECT 1 FROM patients UNION ALL SELECT 1 "
                               "FROM offsets LIMIT 1", -1, &s,
                               NULL) != SQLITE_OK)
                return true;
        any = sqlite3_step(s) == SQLITE_ROW;
        sqlite3_finalize(s);
        return any;
}

void vg_part_set_changelog(vg_part_t *part, const char *topic) {
        char *was;
        vg_free(part->pa_cl_topic);
        part->pa_cl_topic = topic ? vg_strdup(topic) : NULL;
        if (!topic)
                return;
        /* A file logged elsewhere or never (an earlier release, another
         * group): the first commit logs all of it. */
        was = meta_text(part, "changelog_topic");
        if ((!was || strcmp(was, topic)) && has_data(part))
                part->pa_cl_full = true;
        vg_free(was);
}

int64_t vg_part_changelog_end(vg_part_t *part) {
        char *was = meta_text(part, "changelog_topic");
        int64_t end = -1;
        if (was && part->pa_cl_topic && !strcmp(was, part->pa_cl_topic))
                end = vg_part_meta_int(part, "changelog_end", -1);
        vg_free(was);
        return end;
}

void vg_part_changelog_full(vg_part_t *part) {
        if (part->pa_cl_topic)
                part->pa_cl_full = true;
}

bool vg_part_changelog_pending(const vg_part_t *part) {
        return part->pa_cl_full;
}

/* The publisher committed a transaction with this partition's rows; last:
 * the offset of its last changelog record (-1: none). After it come the
 * commit marker: the changelog ends at last + 2 unless someone else
 * writes. Outside batches (the publisher skips busy outboxes). */
void vg_part_changelog_committed(void *opaque, int64_t last) {
        vg_part_t *part = opaque;
        sqlite3_stmt *s;
        if (last < 0 || part->pa_in_batch)
                return;
        s = vg_part_st(part, S_SET_META);
        sqlite3_bind_text(s, 1, "changelog_end", -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 2, last + 2);
        if (sqlite3_step(s) != SQLITE_DONE)
                vg_warn("partition", "partition %d: cannot store the "
                        "changelog's end: %s", part->pa_partition,
                        sqlite3_errmsg(part->pa_db));
        sqlite3_reset(s);
}

/*
 * Restore
 */

vg_err_t vg_part_restore_begin(vg_part_t *part, char *errstr,
                               size_t errstr_size) {
        if (part->pa_in_batch)
                return vg_seterr(errstr, errstr_size, VG_ERR_INTERNAL,
                                 "restore inside a batch");
        if (sqlite3_exec(part->pa_db, "BEGIN IMMEDIATE", NULL, NULL, NULL) !=
            SQLITE_OK)
                return vg_part_db_err(part, errstr, errstr_size, "BEGIN");
        json_decref(part->pa_cl_meta);
        part->pa_cl_meta = NULL;
        vg_part_rows_unknown(part); /* (it writes patient rows) */
        return VG_OK;
}

static vg_err_t step_done(vg_part_t *part, sqlite3_stmt *s, const char *what,
                          char *errstr, size_t errstr_size) {
        int rc = sqlite3_step(s);
        sqlite3_reset(s);
        if (rc != SQLITE_DONE)
                return vg_part_db_err(part, errstr, errstr_size, what);
        return VG_OK;
}

static vg_err_t bad(vg_part_t *part, const char *what, char *errstr,
                    size_t errstr_size) {
        return vg_seterr(errstr, errstr_size, VG_ERR_INVALID,
                         "changelog %s [%d]: %s (written by another "
                         "release, or not a Vigil changelog)",
                         part->pa_cl_topic ? part->pa_cl_topic : "?",
                         part->pa_partition, what);
}

vg_err_t vg_part_restore_row(vg_part_t *part, const void *key_,
                             size_t key_len, const void *value_,
                             size_t value_len, char *errstr,
                             size_t errstr_size) {
        const char *key = key_;
        const unsigned char *v = value_;
        char name[4096];
        sqlite3_stmt *s;
        vg_err_t err;

        if (!key || key_len < 1)
                return bad(part, "a record without a key", errstr,
                           errstr_size);
        if (key_len == 1 && key[0] == 'm') {
                json_t *m;
                json_error_t je;
                if (!v || value_len < 2 || v[0] != CL_META ||
                    !(m = json_loadb((const char *)v + 1, value_len - 1, 0,
                                     &je)))
                        return bad(part, "a bad meta record", errstr,
                                   errstr_size);
                json_decref(part->pa_cl_meta);
                part->pa_cl_meta = m;
                return VG_OK;
        }
        if (key_len < 3 || key[1] != '|' || key_len - 2 >= sizeof(name) ||
            memchr(key, 0, key_len))
                return bad(part, "a record with a bad key", errstr,
                           errstr_size);
        memcpy(name, key + 2, key_len - 2);
        name[key_len - 2] = '\0';
        switch (key[0]) {
        case 'p':
                if (!v) { /* tombstone */
                        s = vg_part_st(part, S_DEL_PATIENT);
                        sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
                        if ((err = step_done(part, s, "restore patient",
                                             errstr, errstr_size)))
                                return err;
                        s = vg_part_st(part, S_DEL_TIMER);
                        sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
                        return step_done(part, s, "restore timer", errstr,
                                         errstr_size);
                }
                if (value_len < 10 || v[0] != CL_PATIENT)
                        return bad(part, "a bad patient record", errstr,
                                   errstr_size);
                {
                        /* a state that decodes (its checksum holds) */
                        char e2[256], what[400];
                        vg_patient_t *pt = vg_patient_decode(
                                name, v + 9, value_len - 9, e2, sizeof(e2));
                        if (!pt) {
                                snprintf(what, sizeof(what),
                                         "a patient record whose state does "
                                         "not decode: %s", e2);
                                return bad(part, what, errstr, errstr_size);
                        }
                        vg_patient_destroy(pt);
                }
                s = vg_part_st(part, S_PUT_PATIENT);
                sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
                sqlite3_bind_blob(s, 2, v + 9, (int)(value_len - 9),
                                  SQLITE_STATIC);
                if ((err = step_done(part, s, "restore patient", errstr,
                                     errstr_size)))
                        return err;
                if (get64(v + 1) == INT64_MAX) {
                        s = vg_part_st(part, S_DEL_TIMER);
                        sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
                } else {
                        s = vg_part_st(part, S_PUT_TIMER);
                        sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
                        sqlite3_bind_int64(s, 2, get64(v + 1));
                }
                return step_done(part, s, "restore timer", errstr,
                                 errstr_size);
        case 'c':
                if (!v) {
                        s = vg_part_st(part, S_DEL_CELL);
                        sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
                        return step_done(part, s, "restore counter", errstr,
                                         errstr_size);
                }
                if (value_len != 18 || v[0] != CL_CELL)
                        return bad(part, "a bad counter record", errstr,
                                   errstr_size);
                s = vg_part_st(part, S_PUT_CELL);
                sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
                sqlite3_bind_int64(s, 2, get64(v + 1));
                sqlite3_bind_int64(s, 3, get64(v + 9));
                sqlite3_bind_int(s, 4, v[17] != 0);
                sqlite3_bind_int(s, 5, 1); /* its part: sent again */
                return step_done(part, s, "restore counter", errstr,
                                 errstr_size);
        default:
                return bad(part, "a record of an unknown kind", errstr,
                           errstr_size);
        }
}

static vg_err_t set_meta_int(vg_part_t *part, const char *key, int64_t v,
                             char *errstr, size_t errstr_size) {
        sqlite3_stmt *s = vg_part_st(part, S_SET_META);
        sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 2, v);
        return step_done(part, s, "restore meta", errstr, errstr_size);
}

static vg_err_t restore_finish(vg_part_t *part, int64_t end, bool reload,
                               char *errstr, size_t errstr_size);

vg_err_t vg_part_restore_end(vg_part_t *part, int64_t end, char *errstr,
                             size_t errstr_size) {
        return restore_finish(part, end, true, errstr, errstr_size);
}

vg_err_t vg_part_restore_checkpoint(vg_part_t *part, int64_t end,
                                    char *errstr, size_t errstr_size) {
        return restore_finish(part, end, false, errstr, errstr_size);
}

static vg_err_t restore_finish(vg_part_t *part, int64_t end, bool reload,
                               char *errstr, size_t errstr_size) {
        json_t *m = part->pa_cl_meta, *offs, *meta, *v;
        const char *k;
        vg_err_t err = VG_OK;

        if (m) {
                json_int_t pn = json_integer_value(
                        json_object_get(m, "partition"));
                json_int_t sv = json_integer_value(
                        json_object_get(m, "schema_version"));
                offs = json_object_get(m, "offsets");
                meta = json_object_get(m, "meta");
                if (pn != part->pa_partition)
                        err = bad(part, "its meta names another partition",
                                  errstr, errstr_size);
                else if (sv != VG_PART_CL_SCHEMA_VERSION)
                        err = vg_seterr(errstr, errstr_size, VG_ERR_INVALID,
                                        "changelog %s [%d] holds state "
                                        "schema %lld, this release %d: "
                                        "replay from the beginning "
                                        "(docs/RUNBOOK.md, Upgrades)",
                                        part->pa_cl_topic, part->pa_partition,
                                        (long long)sv,
                                        VG_PART_CL_SCHEMA_VERSION);
                else if (!json_is_object(offs) || !json_is_object(meta))
                        err = bad(part, "a meta record without offsets",
                                  errstr, errstr_size);
                else if (json_is_string(json_object_get(m, "rules"))) {
                        const char *was = json_string_value(
                                json_object_get(m, "rules"));
                        char where[300];
                        snprintf(where, sizeof(where), "changelog %s",
                                 part->pa_cl_topic ? part->pa_cl_topic : "?");
                        if (!(err = rules_check(part, was, where, errstr,
                                                errstr_size)))
                                err = set_meta_text(part, "rules", was,
                                                    errstr, errstr_size);
                }
                json_object_foreach(offs, k, v) {
                        sqlite3_stmt *s;
                        if (err)
                                break;
                        if (!json_is_integer(v) || json_integer_value(v) < 0) {
                                err = bad(part, "an offset not a number",
                                          errstr, errstr_size);
                                break;
                        }
                        s = vg_part_st(part, S_SET_OFFSET);
                        sqlite3_bind_text(s, 1, k, -1, SQLITE_STATIC);
                        sqlite3_bind_int64(s, 2, json_integer_value(v));
                        err = step_done(part, s, "restore offsets", errstr,
                                        errstr_size);
                }
                json_object_foreach(meta, k, v) {
                        if (err)
                                break;
                        if (!json_is_integer(v)) {
                                err = bad(part, "a meta value not a number",
                                          errstr, errstr_size);
                                break;
                        }
                        err = set_meta_int(part, k, json_integer_value(v),
                                           errstr, errstr_size);
                }
        }
        if (!err)
                err = set_meta_int(part, "partition", part->pa_partition,
                                   errstr, errstr_size);
        if (!err)
                err = set_meta_int(part, "schema_version",
                                   VG_PART_SCHEMA_VERSION, errstr,
                                   errstr_size);
        if (!err)
                err = set_meta_int(part, "changelog_end", end, errstr,
                                   errstr_size);
        if (!err && part->pa_cl_topic) {
                sqlite3_stmt *s = vg_part_st(part, S_SET_META);
                sqlite3_bind_text(s, 1, "changelog_topic", -1, SQLITE_STATIC);
                sqlite3_bind_text(s, 2, part->pa_cl_topic, -1, SQLITE_STATIC);
                err = step_done(part, s, "restore meta", errstr, errstr_size);
        }
        if (!err)
                err = vg_outbox_seal(part->pa_outbox, errstr, errstr_size);
        if (!err && sqlite3_exec(part->pa_db, "COMMIT", NULL, NULL, NULL) !=
                            SQLITE_OK)
                err = vg_part_db_err(part, errstr, errstr_size, "COMMIT");
        if (err)
                sqlite3_exec(part->pa_db, "ROLLBACK", NULL, NULL, NULL);
        vg_outbox_txn_end(part->pa_outbox, !err);
        json_decref(part->pa_cl_meta);
        part->pa_cl_meta = NULL;
        /* Memory as restored; the next commit publishes a progress. */
        if (reload)
                vg_part_reload(part);
        part->pa_cl_full = false;
        return err;
}

void vg_part_rollback_restore(vg_part_t *part) {
        sqlite3_exec(part->pa_db, "ROLLBACK", NULL, NULL, NULL);
        vg_outbox_txn_end(part->pa_outbox, false);
        json_decref(part->pa_cl_meta);
        part->pa_cl_meta = NULL;
        vg_part_reload(part);
}
