/*
 * vg_partition.c - one input partition's state in SQLite.
 *
 * Contents: schema, open/close, apply (events), counters, offsets,
 * commit; the patients in memory are vg_part_cache.c's, the timers a
 * commit fires vg_part_timers.c's; what a partition publishes is queued
 * by vg_part_out.c.
 *
 * Durability: WAL with synchronous=NORMAL. A process crash (kill -9) loses
 * nothing committed; a power loss may lose the last transactions, and then
 * consumption resumes from the older offsets stored with them, so the state
 * stays consistent and re-publishing is harmless (alerts are deduped by
 * alert_id, indicator parts are whole values).
 */
#include "vg_part_int.h"
#include "vg_patient_store.h"
#include "vg_outbox.h"
#include "vg_time.h"

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>
#include <jansson.h>

#define SCHEMA_VERSION VG_PART_SCHEMA_VERSION /* vg_part_int.h */

/* An AddressSanitizer build frees a closing process's patients
 * (vg_part_close_exiting), so that its leak check sees every one. */
#if defined(__SANITIZE_ADDRESS__)
#define VG_FREE_AT_EXIT 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define VG_FREE_AT_EXIT 1
#endif
#endif

#ifndef VG_FREE_AT_EXIT
/* Patient tables left to an exiting process: reachable from here. */
typedef struct kept_s {
        struct kept_s *next;
        vg_htab_t      ht;
} kept_t;
static _Atomic(kept_t *) kept;
#endif

/* Rows of the outbox kept in memory too (vg_outbox_cache), per partition:
 * the publisher sends them without reading them back. */
#define OUTBOX_CACHE_BYTES ((size_t)8 << 20)

static const char *schema_sql =
        "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value);"
        "CREATE TABLE IF NOT EXISTS offsets(topic TEXT PRIMARY KEY,"
        "  next_offset INTEGER NOT NULL);"
        "CREATE TABLE IF NOT EXISTS patients(patient_id TEXT PRIMARY KEY,"
        "  state TEXT NOT NULL) WITHOUT ROWID;"
        "CREATE TABLE IF NOT EXISTS timers(patient_id TEXT PRIMARY KEY,"
        "  due INTEGER NOT NULL) WITHOUT ROWID;"
        "CREATE INDEX IF NOT EXISTS timers_due ON timers(due);"
        "CREATE TABLE IF NOT EXISTS cells(key TEXT PRIMARY KEY,"
        "  num INTEGER NOT NULL, den INTEGER NOT NULL,"
        "  count INTEGER NOT NULL,"
        "  pending INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;"; /* pending:
                                              * part not queued yet */

static const char *stmt_sql[S__CNT] = {
        [S_GET_PATIENT] = "SELECT state FROM patients WHERE patient_id=?",
        [S_PUT_PATIENT] = "INSERT INTO patients VALUES(?,?) ON CONFLICT"
                         "(patient_id) DO UPDATE SET state=excluded.state",
        [S_PUT_TIMER] = "INSERT INTO timers VALUES(?,?) ON CONFLICT"
                       "(patient_id) DO UPDATE SET due=excluded.due",
        [S_DEL_TIMER] = "DELETE FROM timers WHERE patient_id=?",
        [S_DUE_TIMERS] = "SELECT patient_id, due FROM timers WHERE due<=?1 "
                         "AND (due, patient_id)>(?2, ?3) "
                         "ORDER BY due, patient_id LIMIT ?4",
        [S_PUT_CELL] = "INSERT INTO cells VALUES(?,?,?,?,?) ON CONFLICT"
                      "(key) DO UPDATE SET num=excluded.num, "
                      "den=excluded.den, count=excluded.count, "
                      "pending=excluded.pending",
        [S_PARTS_QUEUED] = "UPDATE cells SET pending=0 WHERE key=?",
        [S_GET_OFFSET] = "SELECT next_offset FROM offsets WHERE topic=?",
        [S_SET_OFFSET] = "INSERT INTO offsets VALUES(?,?) ON CONFLICT"
                        "(topic) DO UPDATE SET next_offset="
                        "excluded.next_offset",
        [S_SET_META] = "INSERT INTO meta VALUES(?,?) ON CONFLICT(key) "
                      "DO UPDATE SET value=excluded.value",
        [S_CELLS] = "SELECT key, num, den, count, pending FROM cells",
        [S_DEL_PATIENT] = "DELETE FROM patients WHERE patient_id=?",
        [S_DEL_CELL] = "DELETE FROM cells WHERE key=?",
        [S_OFFSETS] = "SELECT topic, next_offset FROM offsets ORDER BY topic",
        [S_CL_PATIENT] = "SELECT p.state, t.due FROM patients p LEFT JOIN "
                         "timers t USING (patient_id) WHERE "
                         "p.patient_id=?",
};

static vg_err_t cells_load(vg_part_t *part, char *errstr,
                           size_t errstr_size);

bool vg_part_schema_opens(int64_t version) {
        return version >= VG_PART_SCHEMA_OLDEST &&
               version <= VG_PART_SCHEMA_VERSION;
}

vg_err_t vg_part_db_err(vg_part_t *part, char *errstr, size_t errstr_size,
                       const char *what) {
        return vg_seterr(errstr, errstr_size, VG_ERR_STORE,
                         "partition %d state %s: %s: %s", part->pa_partition,
                         part->pa_path, what, sqlite3_errmsg(part->pa_db));
}

/* The state file is still the one opened: not deleted, not replaced (a
 * deleted file would take the commits with it, unseen). */
static vg_err_t file_check(vg_part_t *part, char *errstr, size_t errstr_size) {
        struct stat st;
        if (!part->pa_ino)
                return VG_OK; /* :memory: */
        if (stat(part->pa_path, &st))
                return vg_seterr(errstr, errstr_size, VG_ERR_STORE,
                                 "partition %d state %s: %s (deleted while "
                                 "in use? nothing more is committed; "
                                 "restart to rebuild it)",
                                 part->pa_partition, part->pa_path,
                                 strerror(errno));
        if (st.st_ino != part->pa_ino || st.st_dev != part->pa_dev)
                return vg_seterr(errstr, errstr_size, VG_ERR_STORE,
                                 "partition %d state %s was replaced while "
                                 "in use; nothing more is committed; "
                                 "restart", part->pa_partition,
                                 part->pa_path);
        return VG_OK;
}

sqlite3_stmt *vg_part_st(vg_part_t *part, int i) {
        sqlite3_reset(part->pa_stmt[i]);
        sqlite3_clear_bindings(part->pa_stmt[i]);
        return part->pa_stmt[i];
}

int64_t vg_part_meta_int(vg_part_t *part, const char *key, int64_t def) {
        sqlite3_stmt *s;
        int64_t v = def;
        if (sqlite3_prepare_v2(part->pa_db,
                               "SELECT value FROM meta WHERE key=?", -1, &s,
                               NULL) != SQLITE_OK)
                return def;
        sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
        if (sqlite3_step(s) == SQLITE_ROW)
                v = sqlite3_column_int64(s, 0);
        sqlite3_finalize(s);
        return v;
}

/* Topic times, watermark and data_since as of the last commit (the
 * at-its-end flags are the consumer's and stay as they are). */
static void wm_load(vg_part_t *part) {
        char key[32];
        for (int t = 0; t < VG_EVENT_TYPES; t++) {
                snprintf(key, sizeof(key), "topic_time.%d", t);
                part->pa_wm.wm_topics[t].wt_time =
                        vg_part_meta_int(part, key, VG_WM_NONE);
        }
        part->pa_wm.wm_value = vg_part_meta_int(part, "watermark", VG_WM_NONE);
        part->pa_data_since = vg_part_meta_int(part, "data_since", INT64_MAX);
}

/* (sqlite3_exec stops at a first row: SQLITE_ABORT) */
static int exists_cb(void *opaque, int n, char **vals, char **names) {
        (void)opaque, (void)n, (void)vals, (void)names;
        return 1;
}

/* Whether the store holds no patient row (an error: it may). */
static bool no_patient_rows(vg_part_t *part) {
        return sqlite3_exec(part->pa_db, "SELECT 1 FROM patients LIMIT 1",
                            exists_cb, NULL, NULL) == SQLITE_OK;
}

vg_part_t *vg_part_open(const char *path, int partition,
                        const vg_rules_conf_t *rc, vg_codec_t *codec,
                        const vg_part_topics_t *topics, char *errstr,
                        size_t errstr_size) {
        vg_part_t *part = vg_calloc(1, sizeof(*part));
        char *err = NULL;
        int64_t stored_partition;

        part->pa_partition = partition;
        part->pa_defer_after = -1;
        part->pa_path = vg_strdup(path);
        part->pa_rc = rc;
        part->pa_codec = codec;
        part->pa_topics = *topics;
        vg_buf_init(&part->pa_buf);
        vg_buf_init(&part->pa_sbuf);
        vg_buf_init(&part->pa_cbuf);
        if (sqlite3_open_v2(path, &part->pa_db,
                            SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                                    SQLITE_OPEN_NOMUTEX,
                            NULL) != SQLITE_OK) {
                vg_part_db_err(part, errstr, errstr_size, path);
                vg_part_close(part);
                return NULL;
        }
        sqlite3_busy_timeout(part->pa_db, 5000);
        if (strcmp(path, ":memory:")) {
                struct stat st;
                sqlite3_stmt *qc = NULL;
                const char *res = NULL;
                if (!stat(path, &st)) {
                        part->pa_ino = st.st_ino;
                        part->pa_dev = st.st_dev;
                }
                /* A damaged file is found now, and named. */
                if (sqlite3_prepare_v2(part->pa_db, "PRAGMA quick_check(1)",
                                       -1, &qc, NULL) == SQLITE_OK &&
                    sqlite3_step(qc) == SQLITE_ROW)
                        res = (const char *)sqlite3_column_text(qc, 0);
                if (!res || strcmp(res, "ok")) {
                        vg_seterr(errstr, errstr_size, VG_ERR_STORE,
                                  "%s: not a sound state file (%s); move it "
                                  "away to rebuild partition %d from the "
                                  "topics (docs/RUNBOOK.md, Reset and "
                                  "replay)", path,
                                  res ? res : sqlite3_errmsg(part->pa_db),
                                  partition);
                        sqlite3_finalize(qc);
                        vg_part_close(part);
                        return NULL;
                }
                sqlite3_finalize(qc);
        }
        /* SQLite's page cache: 8 MiB per partition. It holds the pages a
         * batch changes (more than fit are written to the WAL before the
         * commit) and the B-tree pages lookups pass through; the
         * patients are in vg_part's own cache. 8 rather than 16 MiB:
         * peak RSS at 1 million patients 927-935 MiB against 1,009 (two
         * runs each, alternating), the rate and CPU the same there
         * (94.2-97.0k events/s against 93.4-97.7k); on 825,905 events the
         * same CPU, the rate a little lower in each of three pairs
         * (docs/ARCHITECTURE.md). 4 MiB saved 20 MiB more but cost 5-7 %
         * more CPU.
         *
         * The WAL is copied back into the file by the commit that takes
         * it past wal_autocheckpoint pages, which holds that partition's
         * alerts meanwhile: 2,000 pages (8 MB) rather than 8,192 took the
         * p99 alert latency at 5,000 events/s from 49-62 ms to 40-41 (5
         * and 2 runs alternating; 1,000 pages: 42-45), the rate the
         * same within noise. */
        if (sqlite3_exec(part->pa_db,
                         VG_STORE_PRAGMAS "PRAGMA cache_size=-8192; "
                         "PRAGMA wal_autocheckpoint=2000;",
                         NULL, NULL, &err) != SQLITE_OK ||
            sqlite3_exec(part->pa_db, schema_sql, NULL, NULL, &err) !=
                    SQLITE_OK) {
                vg_seterr(errstr, errstr_size, VG_ERR_STORE, "%s: %s", path,
                          err ? err : "?");
                sqlite3_free(err);
                vg_part_close(part);
                return NULL;
        }
        for (int i = 0; i < S__CNT; i++)
                if (sqlite3_prepare_v3(part->pa_db, stmt_sql[i], -1,
                                       SQLITE_PREPARE_PERSISTENT,
                                       &part->pa_stmt[i], NULL) != SQLITE_OK) {
                        vg_part_db_err(part, errstr, errstr_size, stmt_sql[i]);
                        vg_part_close(part);
                        return NULL;
                }
        if (!vg_part_schema_opens(vg_part_meta_int(part, "schema_version",
                                                   SCHEMA_VERSION))) {
                vg_seterr(errstr, errstr_size, VG_ERR_STORE,
                          "%s: state schema version %lld is not one this "
                          "release opens (%d-%d): this state was built by "
                          "another release; move the state directory away "
                          "and replay from the beginning (docs/RUNBOOK.md, "
                          "Upgrades)", path,
                          (long long)vg_part_meta_int(part, "schema_version", 0),
                          VG_PART_SCHEMA_OLDEST, SCHEMA_VERSION);
                vg_part_close(part);
                return NULL;
        }
        stored_partition = vg_part_meta_int(part, "partition", partition);
        if (stored_partition != partition) {
                vg_seterr(errstr, errstr_size, VG_ERR_STORE,
                          "%s holds partition %lld, not %d", path,
                          (long long)stored_partition, partition);
                vg_part_close(part);
                return NULL;
        }
        if (!(part->pa_outbox = vg_outbox_open(part->pa_db, errstr,
                                               errstr_size)) ||
            vg_outbox_cache(part->pa_outbox, OUTBOX_CACHE_BYTES)) {
                if (part->pa_outbox)
                        vg_seterr(errstr, errstr_size, VG_ERR_STORE,
                                  "%s: outbox: %s", path,
                                  sqlite3_errmsg(part->pa_db));
                vg_part_close(part);
                return NULL;
        }
        vg_outbox_set_resolver(part->pa_outbox, vg_part_cl_resolve, part);
        vg_wm_init(&part->pa_wm, VG_EVENT_TYPES, rc->rc_idle_ms);
        wm_load(part);
        part->pa_cache_max = 200000;
        part->pa_parts = true;
        part->pa_parts_ms = 0;
        part->pa_persist = true;
        /* An empty store (a first start, a replay): a patient not in the
         * cache has no row to look up until the cache drops one
         * (vg_part_cache_trim, _drop) or a restore writes rows. */
        part->pa_no_rows = no_patient_rows(part);
        if (cells_load(part, errstr, errstr_size) ||
            vg_part_rules_open(part, errstr, errstr_size)) {
                vg_part_close(part);
                return NULL;
        }
        return part;
}

/*
 * Counters (vg_cells)
 */

/* The counters as committed (at open, and after a rollback). */
static vg_err_t cells_load(vg_part_t *part, char *errstr,
                           size_t errstr_size) {
        sqlite3_stmt *s = vg_part_st(part, S_CELLS);
        int rc;
        vg_cells_clear(&part->pa_cells);
        while ((rc = sqlite3_step(s)) == SQLITE_ROW)
                vg_cells_load(&part->pa_cells,
                              (const char *)sqlite3_column_text(s, 0),
                              sqlite3_column_int64(s, 1),
                              sqlite3_column_int64(s, 2),
                              sqlite3_column_int(s, 3) != 0,
                              sqlite3_column_int(s, 4) != 0);
        sqlite3_reset(s);
        if (rc != SQLITE_DONE)
                return vg_part_db_err(part, errstr, errstr_size, "read counters");
        return VG_OK;
}

void vg_part_close(vg_part_t *part) {
        if (!part)
                return;
        if (part->pa_in_batch)
                vg_part_rollback(part);
        vg_part_cache_free(part);
        vg_cells_free(&part->pa_cells);
        vg_part_set_progress_keys(part, NULL, 0);
        vg_outbox_close(part->pa_outbox);
        for (int i = 0; i < S__CNT; i++)
                sqlite3_finalize(part->pa_stmt[i]);
        sqlite3_close(part->pa_db);
        vg_buf_free(&part->pa_buf);
        vg_buf_free(&part->pa_sbuf);
        vg_buf_free(&part->pa_cbuf);
        vg_free(part->pa_cl_topic);
        json_decref(part->pa_cl_meta);
        vg_free(part->pa_path);
        vg_free(part);
}

void vg_part_close_exiting(vg_part_t *part) {
#ifndef VG_FREE_AT_EXIT
        if (part && !part->pa_in_batch && part->pa_cache.ht_n) {
                kept_t *k = vg_malloc(sizeof(*k));
                k->ht = part->pa_cache;
                k->next = atomic_load(&kept);
                while (!atomic_compare_exchange_weak(&kept, &k->next, k))
                        ;
                memset(&part->pa_cache, 0, sizeof(part->pa_cache));
                part->pa_ndirty = 0; /* (entries of the table kept) */
                part->pa_ntheap = 0;
        }
#endif
        vg_part_close(part);
}

int vg_part_partition(const vg_part_t *part) {
        return part->pa_partition;
}

const vg_part_stats_t *vg_part_stats(const vg_part_t *part) {
        return &part->pa_stats;
}

size_t vg_part_patients_in_memory(const vg_part_t *part) {
        return part->pa_cache.ht_n;
}

int64_t vg_part_watermark(const vg_part_t *part) {
        return part->pa_wm.wm_value;
}

const vg_wm_t *vg_part_wm(const vg_part_t *part) {
        return &part->pa_wm;
}

int64_t vg_part_data_since(const vg_part_t *part) {
        return part->pa_data_since == INT64_MAX ? VG_WM_NONE
                                                : part->pa_data_since;
}

const char *vg_part_rejected(const vg_part_t *part) {
        return part->pa_rejected;
}

void vg_part_eof(vg_part_t *part, int topic, int64_t now_ms) {
        vg_wm_eof(&part->pa_wm, topic, now_ms);
}

void vg_part_activity(vg_part_t *part, int topic) {
        vg_wm_activity(&part->pa_wm, topic);
}

void vg_part_end_of_input(vg_part_t *part) {
        vg_wm_end_of_input(&part->pa_wm);
}

void vg_part_hold_watermark(vg_part_t *part, bool hold) {
        part->pa_wm_hold = hold;
}

bool vg_part_caught_up(const vg_part_t *part, int64_t now_ms) {
        for (int t = 0; t < part->pa_wm.wm_ntopics; t++)
                if (!vg_wm_caught_up(&part->pa_wm, t, now_ms))
                        return false;
        if (part->pa_cells.cs_npending || vg_part_progress_due(part, now_ms))
                return false; /* parts or progress still to queue */
        return !vg_part_wm_pending(part, now_ms);
}

bool vg_part_wm_pending(const vg_part_t *part, int64_t now_ms) {
        vg_wm_t wm = part->pa_wm;
        return vg_wm_update(&wm, now_ms) != part->pa_wm.wm_value;
}

bool vg_part_in_batch(const vg_part_t *part) {
        return part->pa_in_batch;
}

int64_t vg_part_offset(vg_part_t *part, const char *topic) {
        sqlite3_stmt *s;
        int64_t off = -1;
        for (int i = 0; i < part->pa_noffs; i++) /* set in the batch */
                if (!strcmp(part->pa_offs[i].po_topic, topic))
                        return part->pa_offs[i].po_next;
        s = vg_part_st(part, S_GET_OFFSET);
        sqlite3_bind_text(s, 1, topic, -1, SQLITE_STATIC);
        if (sqlite3_step(s) == SQLITE_ROW)
                off = sqlite3_column_int64(s, 0);
        sqlite3_reset(s);
        return off;
}

vg_err_t vg_part_begin(vg_part_t *part, int64_t now_ms, char *errstr,
                       size_t errstr_size) {
        if (part->pa_in_batch)
                return VG_OK;
        if (sqlite3_exec(part->pa_db, "BEGIN IMMEDIATE", NULL, NULL, NULL) !=
            SQLITE_OK)
                return vg_part_db_err(part, errstr, errstr_size, "BEGIN");
        part->pa_in_batch = true;
        part->pa_batch_events = 0;
        part->pa_now = now_ms;
        return VG_OK;
}

void vg_part_rollback(vg_part_t *part) {
        if (!part->pa_in_batch)
                return;
        sqlite3_exec(part->pa_db, "ROLLBACK", NULL, NULL, NULL);
        vg_outbox_txn_end(part->pa_outbox, false);
        part->pa_in_batch = false;
        part->pa_noffs = part->pa_nlast = 0;
        /* What memory holds may be ahead of the store: read it again. */
        vg_part_reload(part);
}

/* Memory as the store has it (after a rollback or a restore). */
void vg_part_reload(vg_part_t *part) {
        char e[256];
        vg_part_cache_drop(part);
        wm_load(part);
        if (cells_load(part, e, sizeof(e)))
                vg_error("partition", "%s", e);
}

/*
 * Apply
 */

vg_err_t vg_part_apply_changes(vg_part_t *part, vg_changes_t *ch,
                               char *errstr, size_t errstr_size) {
        vg_err_t err;
        part->pa_stats.ps_conflicts += ch->ch_conflicts || ch->ch_variant;
        part->pa_stats.ps_pruned += ch->ch_pruned;
        for (int i = 0; i < ch->ch_nalerts; i++)
                if ((err = vg_part_queue_alert(part, &ch->ch_alerts[i], errstr,
                                       errstr_size)))
                        return err;
        for (int i = 0; i < ch->ch_ndeltas; i++) {
                const vg_delta_t *d = &ch->ch_deltas[i];
                if (vg_cells_add_case(&part->pa_cells, d->ce_key, d->ce_num,
                                      d->ce_den, d->ce_count))
                        return vg_seterr(errstr, errstr_size, VG_ERR_INTERNAL,
                                         "bad case key %s", d->ce_key);
        }
        return VG_OK;
}

/* ev applied; owned (ev or NULL): its strings are moved when kept */
static vg_err_t part_event(vg_part_t *part, const vg_event_t *ev,
                           vg_event_t *owned, uint32_t hash, char *errstr,
                           size_t errstr_size) {
        vg_patient_t *pt;
        pent_t *pe;
        vg_changes_t ch;
        vg_err_t err;
        bool changed, defer, grow, cancels = ev->ev_cancels_event_id != NULL;
        size_t growth = 0;
        int asked = -1;

        if (!part->pa_in_batch)
                return vg_seterr(errstr, errstr_size, VG_ERR_INTERNAL,
                                 "vg_part_event outside a batch");
        /* A valid record consumed: its topic's time, and the watermark as
         * of it (SPEC §5.5, §7: too late by the horizon when consumed,
         * not when its batch ends), unless the shell holds it (after a
         * broker pause, until what was fetched is read). Timers fire at
         * commit. */
        vg_wm_record(&part->pa_wm, ev->ev_type, ev->ev_occurred_at);
        if (!part->pa_wm_hold)
                vg_wm_update(&part->pa_wm, part->pa_now);
        /* Beyond the cache, patients leave memory now, not at the commit
         * (the batch's changed ones written early, in its transaction). */
        if (part->pa_persist &&
            part->pa_cache.ht_n >= part->pa_cache_max) {
                pent_t *spare = vg_part_cached_h(part, ev->ev_patient_id,
                                                 hash);
                if ((err = vg_part_cache_trim(part, spare, spare ? 0 : 1,
                                              errstr, errstr_size)))
                        return err;
        }
        if (owned && vg_part_tail_event(part, ev, hash, &asked))
                return VG_OK; /* (added undecoded: vg_part_cache.c) */
        if (!(pe = vg_part_patient_h(part, ev->ev_patient_id, hash, errstr,
                                   errstr_size)))
                return VG_ERR_STORE;
        pt = pe->pe_pt;
        /* (a stored event's first cancellation kept, a variant not) */
        if (pt->pt_nevents >= part->pa_rc->rc_max_events &&
            (vg_patient_has_event(pt, ev) ? vg_patient_replaces(pt, ev)
                                          : !vg_patient_first_cancel(pt, ev))) {
                int n = pt->pt_nevents;
                part->pa_rejected = "patient-limit";
                vg_part_pack(part, pe, false);
                return vg_seterr(errstr, errstr_size, VG_ERR_INVALID,
                                 "patient history full: %d events "
                                 "(rules.max_patient_events)",
                                 n);
        }
        defer = asked >= 0 ? asked : owned && vg_part_defers(part);
        /* A long history stays decoded (vg_part_pack). When the event is
         * only added to it, and the bound on its bytes with the event
         * is within half of VG_PART_STATE_MAX, the size check below
         * passes (and the deferral's condition holds): not encoded before
         * or after, its bound grown by the event's. */
        grow = part->pa_persist && defer &&
               pt->pt_nevents >= VG_PART_PACK_EVENTS && pe->pe_bound &&
               pe->pe_bound + (growth = vg_patient_event_growth(ev)) <=
                       VG_PART_STATE_MAX / 2 &&
               vg_engine_inserts_only(part->pa_rc, pt, ev,
                                      part->pa_wm.wm_value);
        /* A patient just read from the store (or new, or long) is held
         * decoded without its bytes: made now, so that an event refused
         * below for the state's size goes back to them (an empty patient
         * in their place lost the stored history at the next event). */
        if (part->pa_persist && !pe->pe_blob && !grow) {
                vg_part_encode(part, pe);
                vg_part_keep_bytes(part, pe);
        }
        /* (a state past half its bound derived as before: the size check
         * below then sees what the derivation adds too) */
        if (defer && (grow || pe->pe_blen <= VG_PART_STATE_MAX / 2))
                vg_engine_insert_take(part->pa_rc, pt, owned,
                                      part->pa_wm.wm_value, &ch);
        else if (owned)
                vg_engine_apply_take(part->pa_rc, pt, owned,
                                     part->pa_wm.wm_value, &ch);
        else
                vg_engine_apply(part->pa_rc, pt, ev, part->pa_wm.wm_value,
                                &ch);
        if (ch.ch_too_late) {
                char when[32];
                part->pa_stats.ps_too_late++;
                part->pa_rejected = "too-late";
                vg_changes_clear(&ch);
                vg_part_pack(part, pe, false);
                return vg_seterr(errstr, errstr_size, VG_ERR_INVALID,
                                 "too late: occurred_at %s is older than the "
                                 "patient's retention horizon "
                                 "(rules.retention_days)",
                                 vg_time_format(ev->ev_occurred_at, when));
        }
        /* A patient's stored state is also one changelog record, and an
         * alert copies its event's strings: both must fit in a Kafka
         * message. An event that would take the state past
         * VG_PART_STATE_MAX goes to the DLQ as patient-limit and changes
         * nothing (the state before it is still in pe_blob). Encoded here
         * once: vg_part_pack below takes these bytes. */
        if (grow && !ch.ch_duplicate) {
                assert(pt->pt_next_due == VG_DUE_UNDERIVED && !ch.ch_pruned);
                pe->pe_bound += (uint32_t)growth;
                vg_free(pe->pe_blob); /* (stale) */
                pe->pe_blob = NULL;
                pe->pe_blen = 0;
        } else if (part->pa_persist && !ch.ch_duplicate) {
                vg_part_encode(part, pe);
                if (part->pa_sbuf.vb_len > VG_PART_STATE_MAX) {
                        size_t len = part->pa_sbuf.vb_len;
                        vg_changes_clear(&ch);
                        /* packed as it was: pe_blob holds the state before
                         * (and pe_next_due its timer) */
                        vg_patient_destroy(pt);
                        pe->pe_pt = NULL;
                        part->pa_rejected = "patient-limit";
                        return vg_seterr(errstr, errstr_size, VG_ERR_INVALID,
                                         "patient state would be %zu bytes, "
                                         "more than %d (a Kafka message "
                                         "holds it: docs/EVENTS.md §5)",
                                         len, VG_PART_STATE_MAX);
                }
                vg_part_keep_bytes(part, pe);
        }
        if (ev->ev_occurred_at < part->pa_data_since)
                part->pa_data_since = ev->ev_occurred_at;
        part->pa_stats.ps_events++;
        if (!ch.ch_duplicate)
                vg_part_dirty(part, pe);
        if (ch.ch_duplicate)
                part->pa_stats.ps_duplicates++;
        else if (cancels)
                part->pa_stats.ps_cancellations++;
        changed = !ch.ch_duplicate && !part->pa_persist; /* (made above) */
        err = vg_part_apply_changes(part, &ch, errstr, errstr_size);
        vg_changes_clear(&ch);
        vg_part_pack(part, pe, changed);
        return err;
}

vg_err_t vg_part_event(vg_part_t *part, const vg_event_t *ev, char *errstr,
                       size_t errstr_size) {
        return part_event(part, ev, NULL, vg_hash_str(ev->ev_patient_id),
                          errstr, errstr_size);
}

vg_err_t vg_part_event_hashed(vg_part_t *part, vg_event_t *ev, uint32_t hash,
                              char *errstr, size_t errstr_size) {
        return part_event(part, ev, ev, hash, errstr, errstr_size);
}

/* Writes every counter changed in this batch: pending (its part still
 * to be queued) unless this commit queues the parts (queued). */
static vg_err_t cells_flush(vg_part_t *part, bool queued, char *errstr,
                            size_t errstr_size) {
        if (part->pa_persist) /* (in key order, as the patients) */
                vg_cells_sort_dirty(&part->pa_cells);
        for (size_t i = 0; part->pa_persist && i < part->pa_cells.cs_ndirty;
             i++) {
                vg_counter_t *c = part->pa_cells.cs_dirty[i];
                char key[VG_CASE_KEY_MAX];
                sqlite3_stmt *s;
                int rc;
                s = vg_part_st(part, S_PUT_CELL);
                sqlite3_bind_text(s, 1, key, (int)vg_cells_key(c, key),
                                  SQLITE_STATIC);
                sqlite3_bind_int64(s, 2, c->cl_num);
                sqlite3_bind_int64(s, 3, c->cl_den);
                sqlite3_bind_int(s, 4, c->cl_count);
                sqlite3_bind_int(s, 5, c->cl_pending && !queued);
                rc = sqlite3_step(s);
                sqlite3_reset(s);
                if (rc != SQLITE_DONE)
                        return vg_part_db_err(part, errstr, errstr_size,
                                      "write counter");
                if ((rc = vg_part_cl_cell(part, key, c->cl_num,
                                          c->cl_den, c->cl_count, errstr,
                                          errstr_size)))
                        return (vg_err_t)rc;
        }
        return VG_OK;
}

static vg_err_t offset_put(vg_part_t *part, const char *topic,
                           int64_t next_offset, char *errstr,
                           size_t errstr_size) {
        sqlite3_stmt *s = vg_part_st(part, S_SET_OFFSET);
        int rc;
        sqlite3_bind_text(s, 1, topic, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 2, next_offset);
        rc = sqlite3_step(s);
        sqlite3_reset(s);
        if (rc != SQLITE_DONE)
                return vg_part_db_err(part, errstr, errstr_size, "store offset");
        return VG_OK;
}

/* The batch's offsets into the offsets table (in its transaction). */
static vg_err_t offsets_flush(vg_part_t *part, char *errstr,
                              size_t errstr_size) {
        vg_err_t err = VG_OK;
        for (int i = 0; !err && i < part->pa_noffs; i++)
                err = offset_put(part, part->pa_offs[i].po_topic,
                                 part->pa_offs[i].po_next, errstr,
                                 errstr_size);
        /* (it lets them go; on an error the rollback does) */
        return err ? err : vg_part_inputs_flush(part, errstr, errstr_size);
}

vg_err_t vg_part_set_offset(vg_part_t *part, const char *topic,
                            int64_t next_offset, char *errstr,
                            size_t errstr_size) {
        size_t len = strlen(topic);
        int i;
        if (!part->pa_in_batch || len >= sizeof(part->pa_offs[0].po_topic))
                return offset_put(part, topic, next_offset, errstr,
                                  errstr_size);
        for (i = 0; i < part->pa_noffs; i++)
                if (!strcmp(part->pa_offs[i].po_topic, topic))
                        break;
        if (i == part->pa_noffs) {
                if (i == (int)(sizeof(part->pa_offs) /
                               sizeof(part->pa_offs[0])))
                        return offset_put(part, topic, next_offset, errstr,
                                          errstr_size);
                memcpy(part->pa_offs[i].po_topic, topic, len + 1);
                part->pa_noffs++;
        }
        part->pa_offs[i].po_next = next_offset;
        return VG_OK;
}

static vg_err_t set_meta(vg_part_t *part, const char *key, int64_t v,
                         char *errstr, size_t errstr_size) {
        sqlite3_stmt *s = vg_part_st(part, S_SET_META);
        int rc;
        sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 2, v);
        rc = sqlite3_step(s);
        sqlite3_reset(s);
        if (rc != SQLITE_DONE)
                return vg_part_db_err(part, errstr, errstr_size, "store meta");
        return VG_OK;
}

/* Queues a PartitionProgress when the watermark or data_since changed
 * since the last one (SPEC §6.1), and always once after open. */
static vg_err_t wm_store(vg_part_t *part, char *errstr, size_t errstr_size) {
        char key[32];
        vg_err_t err = VG_OK;
        for (int t = 0; !err && t < VG_EVENT_TYPES; t++) {
                snprintf(key, sizeof(key), "topic_time.%d", t);
                err = set_meta(part, key, part->pa_wm.wm_topics[t].wt_time,
                               errstr, errstr_size);
        }
        if (!err)
                err = set_meta(part, "watermark", part->pa_wm.wm_value, errstr,
                               errstr_size);
        if (!err)
                err = set_meta(part, "data_since", part->pa_data_since,
                               errstr, errstr_size);
        return err;
}

vg_err_t vg_part_commit(vg_part_t *part, char *errstr, size_t errstr_size) {
        vg_err_t err = VG_OK;
        bool pub_valid = part->pa_pub_valid, flush = false;
        int64_t pub_wm = part->pa_pub_wm, pub_since = part->pa_pub_since;

        if (!part->pa_in_batch)
                return VG_OK;
        /* The watermark as of this batch's records and the consumer's
         * at-its-end flags (SPEC §5.5); never back. */
        if (!part->pa_wm_hold)
                vg_wm_update(&part->pa_wm, part->pa_now);
        err = offsets_flush(part, errstr, errstr_size);
        /* The timers of the batch's patients, and every timer the
         * watermark has passed (vg_part_timers.c: those patients join the
         * batch); then the state of every patient changed, written once,
         * in key order (consecutive writes share their B-tree's path). */
        if (!err)
                err = vg_part_commit_timers(part, errstr, errstr_size);
        for (size_t i = 0; !err && part->pa_persist && i < part->pa_ndirty;
             i++)
                err = vg_part_state_put(part, part->pa_dirty[i], errstr,
                                        errstr_size);
        if (!err && part->pa_persist)
                part->pa_stats.ps_states += (int64_t)part->pa_ndirty;
        /* Parts, then the progress that covers them, at most every
         * parts.interval_ms: a part is a whole value, so a cell changed in
         * many batches is published once, and a progress record never
         * runs ahead of the parts it vouches for (SPEC §6.1). First the
         * regions' and SE's counters catch up with their kommuns' (the
         * batch's cases were added to those only: vg_cells.h). */
        vg_cells_settle(&part->pa_cells);
        for (size_t i = 0; !err && part->pa_parts &&
                           i < part->pa_cells.cs_ndirty;
             i++)
                vg_cells_mark_pending(&part->pa_cells,
                                      part->pa_cells.cs_dirty[i]);
        flush = !err && vg_part_parts_due(part, part->pa_now);
        if (!err)
                err = cells_flush(part, flush, errstr, errstr_size);
        if (!err && flush) {
                err = vg_part_parts_queue(part, errstr, errstr_size);
                if (!err)
                        err = vg_part_queue_progress(part, errstr, errstr_size);
        }
        if (!err)
                err = wm_store(part, errstr, errstr_size);
        if (!err)
                err = set_meta(part, "partition", part->pa_partition, errstr,
                               errstr_size);
        if (!err)
                err = set_meta(part, "schema_version", SCHEMA_VERSION, errstr,
                               errstr_size);
        if (!err)
                err = vg_part_cl_commit(part, errstr, errstr_size);
        if (!err)
                err = file_check(part, errstr, errstr_size);
        if (!err) /* what the outbox holds packed in memory */
                err = vg_outbox_seal(part->pa_outbox, errstr, errstr_size);
        if (!err) {
                int64_t t0 = vg_now_us();
                if (sqlite3_exec(part->pa_db, "COMMIT", NULL, NULL, NULL) !=
                    SQLITE_OK)
                        err = vg_part_db_err(part, errstr, errstr_size, "COMMIT");
                part->pa_stats.ps_commit_us = vg_now_us() - t0;
        }
        if (err) {
                vg_part_rollback(part);
                part->pa_pub_valid = pub_valid;
                part->pa_pub_wm = pub_wm;
                part->pa_pub_since = pub_since;
                return err;
        }
        vg_outbox_txn_end(part->pa_outbox, true);
        part->pa_in_batch = false;
        part->pa_cl_full = false; /* the changelog has it all now */
        part->pa_stats.ps_commits++;
        for (size_t i = 0; i < part->pa_ndirty; i++)
                part->pa_dirty[i]->pe_dirty = false;
        part->pa_ndirty = 0;
        vg_cells_batch_done(&part->pa_cells);
        if (flush) {
                /* The commit holds the parts: none is pending now. */
                vg_cells_parts_done(&part->pa_cells);
                part->pa_parts_at = part->pa_now;
                part->pa_parts_force = false;
        }
        if (part->pa_persist) /* (dropped ones are read again when
                               * needed; none is changed now) */
                (void)vg_part_cache_trim(part, NULL, 0, errstr, errstr_size);
        return VG_OK;
}

void vg_part_set_cache(vg_part_t *part, size_t max_patients) {
        part->pa_cache_max = max_patients;
}

void vg_part_set_codec(vg_part_t *part, vg_codec_t *codec) {
        part->pa_codec = codec;
}

void vg_part_set_decoded(vg_part_t *part, size_t max_patients) {
        part->pa_decoded_max = max_patients;
}

void vg_part_set_parts(vg_part_t *part, bool queue) {
        part->pa_parts = queue;
}

void vg_part_set_alert_sink(vg_part_t *part,
                            void (*sink)(const vg_alert_t *al, void *opaque),
                            void *opaque) {
        part->pa_alert_sink = sink;
        part->pa_alert_opaque = opaque;
}

void vg_part_set_memory_only(vg_part_t *part) {
        part->pa_persist = false;
        part->pa_mtimers = true; /* (a new file: no timer rows) */
        part->pa_no_rows = no_patient_rows(part);
        vg_outbox_cache(part->pa_outbox, 0);
}
