/*
 * vg_partition.c - one input partition's state in SQLite.
 *
 * Contents: schema, open/close, patient cache, apply (event, timers),
 * counters and indicator parts, outbox, offsets, commit.
 *
 * Durability: WAL with synchronous=NORMAL. A process crash (kill -9) loses
 * nothing committed; a power loss may lose the last transactions, and then
 * consumption resumes from the older offsets stored with them, so the state
 * stays consistent and re-publishing is harmless (alerts are deduped by
 * alert_id, indicator parts are whole values).
 */
#include "vg_partition.h"
#include "vg_patient_store.h"
#include "vg_outbox.h"
#include "vg_time.h"

#include <errno.h>
#include <limits.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>
#include <jansson.h>

/* 2: the watermark (SPEC v2 §5.5) and settled denominators; a version-1
 * file counted by stream time and is refused (replay: RUNBOOK §13).
 * 3: a patient's contributions are cases (vg_rules.h), not cells. */
#define SCHEMA_VERSION 3

static const char *schema_sql =
        "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value);"
        "CREATE TABLE IF NOT EXISTS offsets(topic TEXT PRIMARY KEY,"
        "  next_offset INTEGER NOT NULL);"
        "CREATE TABLE IF NOT EXISTS patients(patient_id TEXT PRIMARY KEY,"
        "  state TEXT NOT NULL);"
        "CREATE TABLE IF NOT EXISTS timers(patient_id TEXT PRIMARY KEY,"
        "  due INTEGER NOT NULL);"
        "CREATE INDEX IF NOT EXISTS timers_due ON timers(due);"
        "CREATE TABLE IF NOT EXISTS cells(key TEXT PRIMARY KEY,"
        "  num INTEGER NOT NULL, den INTEGER NOT NULL,"
        "  count INTEGER NOT NULL,"
        "  pending INTEGER NOT NULL DEFAULT 0);"; /* part not queued yet */

enum {
        S_GET_PATIENT, S_PUT_PATIENT, S_PUT_TIMER, S_DEL_TIMER, S_DUE_TIMERS,
        S_PUT_CELL, S_PARTS_QUEUED, S_GET_OFFSET,
        S_SET_OFFSET, S_SET_META, S_CELLS, S__CNT
};

static const char *stmt_sql[S__CNT] = {
        [S_GET_PATIENT] = "SELECT state FROM patients WHERE patient_id=?",
        [S_PUT_PATIENT] = "INSERT OR REPLACE INTO patients VALUES(?,?)",
        [S_PUT_TIMER] = "INSERT OR REPLACE INTO timers VALUES(?,?)",
        [S_DEL_TIMER] = "DELETE FROM timers WHERE patient_id=?",
        [S_DUE_TIMERS] = "SELECT patient_id FROM timers WHERE due<=? "
                         "ORDER BY due, patient_id LIMIT 256",
        [S_PUT_CELL] = "INSERT OR REPLACE INTO cells VALUES(?,?,?,?,?)",
        [S_PARTS_QUEUED] = "UPDATE cells SET pending=0 WHERE pending",
        [S_GET_OFFSET] = "SELECT next_offset FROM offsets WHERE topic=?",
        [S_SET_OFFSET] = "INSERT OR REPLACE INTO offsets VALUES(?,?)",
        [S_SET_META] = "INSERT OR REPLACE INTO meta VALUES(?,?)",
        [S_CELLS] = "SELECT key, num, den, count, pending FROM cells",
};

/* Patient cache entry. The cache outlives commits (hot state in memory,
 * written behind): a patient is read from the store once, and written back
 * only in a commit of a batch that changed it. */
typedef struct hnode_s {
        struct hnode_s *hn_next;
        uint32_t        hn_hash;
} hnode_t;

typedef struct pent_s {
        hnode_t        pe_h;        /* first: the table's link */
        vg_patient_t  *pe_pt;
        bool           pe_dirty;    /* changed in the open batch */
        int64_t        pe_due;      /* next_due in the timers table
                                     * (INT64_MAX: no row) */
} pent_t;

/* Counter cell (the cells table, kept in memory, written behind). */
typedef struct cent_s {
        hnode_t        cn_h;        /* first: the table's link */
        bool           cn_dirty;    /* changed in the open batch */
        bool           cn_pending;  /* changed since its last part */
        bool           cn_count;
        int64_t        cn_num, cn_den;
        char           cn_key[];
} cent_t;

/* A chained hash table that doubles as it fills. */
typedef struct htab_s {
        hnode_t **ht_b;     /* buckets: chains of pent_t or cent_t */
        size_t   ht_nb;     /* power of two */
        size_t   ht_n;
} htab_t;

struct vg_part_s {
        sqlite3                *pa_db;
        sqlite3_stmt           *pa_stmt[S__CNT];
        int                     pa_partition;   /* input partition number */
        const vg_rules_conf_t  *pa_rc;
        vg_codec_t             *pa_codec;
        vg_part_topics_t        pa_topics;
        vg_wm_t                 pa_wm;          /* topic times, watermark */
        int64_t                 pa_data_since;  /* smallest occurred_at
                                                 * processed; INT64_MAX:
                                                 * none */
        int64_t                 pa_pub_wm;      /* progress last queued */
        int64_t                 pa_pub_since;
        bool                    pa_pub_valid;   /* a progress was queued
                                                 * since open */
        bool                    pa_wm_hold;     /* commit keeps the
                                                 * watermark */
        const char             *pa_rejected;    /* DLQ reason of the last
                                                 * refused event */
        int64_t                 pa_now;         /* batch processing time */
        bool                    pa_in_batch;
        htab_t                  pa_cache;       /* pent_t, by patient */
        size_t                  pa_cache_max;   /* patients kept after a
                                                 * commit */
        pent_t                **pa_dirty;       /* patients changed in the
                                                 * open batch */
        size_t                  pa_ndirty, pa_dirty_cap;
        htab_t                  pa_cells;       /* cent_t, by key */
        cent_t                **pa_cdirty;      /* cells changed in the
                                                 * open batch */
        size_t                  pa_ncdirty, pa_cdirty_cap;
        bool                    pa_parts;       /* queue IndicatorParts */
        cent_t                **pa_pending;     /* cells whose part is not
                                                 * queued yet */
        size_t                  pa_npending, pa_pending_cap;
        int64_t                 pa_parts_ms;    /* parts.interval_ms */
        int64_t                 pa_parts_at;    /* parts last queued */
        bool                    pa_parts_force; /* queue at next commit */
        bool                    pa_persist;     /* write patients and
                                                 * counters to the store */
        vg_part_stats_t         pa_stats;
        vg_buf_t                pa_buf;         /* encode scratch */
        vg_outbox_t            *pa_outbox;      /* records to publish */
        char                   *pa_path;        /* the state file */
        ino_t                   pa_ino;         /* its identity at open; */
        dev_t                   pa_dev;         /* 0: :memory: */
};

static vg_err_t cells_load(vg_part_t *part, char *errstr,
                           size_t errstr_size);
static bool progress_due(const vg_part_t *part, int64_t now);

static vg_err_t db_err(vg_part_t *part, char *errstr, size_t errstr_size,
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

static sqlite3_stmt *st(vg_part_t *part, int i) {
        sqlite3_reset(part->pa_stmt[i]);
        sqlite3_clear_bindings(part->pa_stmt[i]);
        return part->pa_stmt[i];
}

static int64_t meta_int(vg_part_t *part, const char *key, int64_t def) {
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
        char key[16];
        for (int t = 0; t < VG_EVENT_TYPES; t++) {
                snprintf(key, sizeof(key), "topic_time.%d", t);
                part->pa_wm.wm_topics[t].wt_time =
                        meta_int(part, key, VG_WM_NONE);
        }
        part->pa_wm.wm_value = meta_int(part, "watermark", VG_WM_NONE);
        part->pa_data_since = meta_int(part, "data_since", INT64_MAX);
}

vg_part_t *vg_part_open(const char *path, int partition,
                        const vg_rules_conf_t *rc, vg_codec_t *codec,
                        const vg_part_topics_t *topics, char *errstr,
                        size_t errstr_size) {
        vg_part_t *part = vg_calloc(1, sizeof(*part));
        char *err = NULL;
        int64_t stored_partition;

        part->pa_partition = partition;
        part->pa_path = vg_strdup(path);
        part->pa_rc = rc;
        part->pa_codec = codec;
        part->pa_topics = *topics;
        vg_buf_init(&part->pa_buf);
        if (sqlite3_open_v2(path, &part->pa_db,
                            SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                                    SQLITE_OPEN_NOMUTEX,
                            NULL) != SQLITE_OK) {
                db_err(part, errstr, errstr_size, path);
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
        if (sqlite3_exec(part->pa_db,
                         "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
                         "PRAGMA cache_size=-16384; PRAGMA temp_store=MEMORY; "
                         "PRAGMA wal_autocheckpoint=8192;",
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
                        db_err(part, errstr, errstr_size, stmt_sql[i]);
                        vg_part_close(part);
                        return NULL;
                }
        if (meta_int(part, "schema_version", SCHEMA_VERSION) !=
            SCHEMA_VERSION) {
                vg_seterr(errstr, errstr_size, VG_ERR_STORE,
                          "%s: state schema version %lld is not %d: this "
                          "state was built by an earlier release; move the "
                          "state directory away and replay from the "
                          "beginning (docs/RUNBOOK.md, Upgrades)", path,
                          (long long)meta_int(part, "schema_version", 0),
                          SCHEMA_VERSION);
                vg_part_close(part);
                return NULL;
        }
        stored_partition = meta_int(part, "partition", partition);
        if (stored_partition != partition) {
                vg_seterr(errstr, errstr_size, VG_ERR_STORE,
                          "%s holds partition %lld, not %d", path,
                          (long long)stored_partition, partition);
                vg_part_close(part);
                return NULL;
        }
        if (!(part->pa_outbox = vg_outbox_open(part->pa_db, errstr,
                                               errstr_size))) {
                vg_part_close(part);
                return NULL;
        }
        vg_wm_init(&part->pa_wm, VG_EVENT_TYPES, rc->rc_idle_ms);
        wm_load(part);
        part->pa_cache_max = 200000;
        part->pa_parts = true;
        part->pa_parts_ms = 0;
        part->pa_persist = true;
        if (cells_load(part, errstr, errstr_size)) {
                vg_part_close(part);
                return NULL;
        }
        return part;
}

/*
 * Hash tables (patients, counter cells)
 */

static hnode_t *ht_find(const htab_t *ht, uint32_t h,
                        bool (*eq)(const hnode_t *n, const void *key),
                        const void *key) {
        hnode_t *n;
        if (!ht->ht_nb)
                return NULL;
        for (n = ht->ht_b[h & (ht->ht_nb - 1)]; n; n = n->hn_next)
                if (n->hn_hash == h && eq(n, key))
                        return n;
        return NULL;
}

static void ht_insert(htab_t *ht, hnode_t *n) {
        if (ht->ht_n >= ht->ht_nb) { /* load 1: double */
                size_t nb = ht->ht_nb ? ht->ht_nb * 2 : 1024;
                hnode_t **b = vg_calloc(nb, sizeof(*b));
                for (size_t i = 0; i < ht->ht_nb; i++)
                        for (hnode_t *x = ht->ht_b[i], *next; x; x = next) {
                                next = x->hn_next;
                                x->hn_next = b[x->hn_hash & (nb - 1)];
                                b[x->hn_hash & (nb - 1)] = x;
                        }
                vg_free(ht->ht_b);
                ht->ht_b = b;
                ht->ht_nb = nb;
        }
        n->hn_next = ht->ht_b[n->hn_hash & (ht->ht_nb - 1)];
        ht->ht_b[n->hn_hash & (ht->ht_nb - 1)] = n;
        ht->ht_n++;
}

/* Empties the table, calling del on every node. */
static void ht_clear(htab_t *ht, void (*del)(hnode_t *n)) {
        for (size_t i = 0; i < ht->ht_nb; i++) {
                for (hnode_t *x = ht->ht_b[i], *next; x; x = next) {
                        next = x->hn_next;
                        del(x);
                }
                ht->ht_b[i] = NULL;
        }
        ht->ht_n = 0;
}

static void pent_del(hnode_t *n) {
        pent_t *pe = (pent_t *)n;
        vg_patient_destroy(pe->pe_pt);
        vg_free(pe);
}

static void cent_del(hnode_t *n) {
        vg_free(n);
}

static bool pent_eq(const hnode_t *n, const void *key) {
        return !strcmp(((const pent_t *)n)->pe_pt->pt_id, key);
}

static bool cent_eq(const hnode_t *n, const void *key) {
        return !strcmp(((const cent_t *)n)->cn_key, key);
}

static void cache_drop(vg_part_t *part) {
        ht_clear(&part->pa_cache, pent_del);
        part->pa_ndirty = 0;
}

/* After a commit: above pa_cache_max patients, drop (clean) ones until
 * three quarters are left; they are read from the store when next
 * needed. */
static void cache_trim(vg_part_t *part) {
        htab_t *ht = &part->pa_cache;
        size_t keep = part->pa_cache_max - part->pa_cache_max / 4;
        if (ht->ht_n <= part->pa_cache_max)
                return;
        for (size_t i = 0; i < ht->ht_nb && ht->ht_n > keep; i++)
                while (ht->ht_b[i] && ht->ht_n > keep) {
                        hnode_t *x = ht->ht_b[i];
                        ht->ht_b[i] = x->hn_next;
                        pent_del(x);
                        ht->ht_n--;
                }
}

static void pending_add(vg_part_t *part, cent_t *c) {
        if (c->cn_pending)
                return;
        if (part->pa_npending == part->pa_pending_cap) {
                part->pa_pending_cap = part->pa_pending_cap
                                               ? part->pa_pending_cap * 2
                                               : 1024;
                part->pa_pending = vg_realloc(part->pa_pending,
                                              sizeof(*part->pa_pending) *
                                                      part->pa_pending_cap);
        }
        part->pa_pending[part->pa_npending++] = c;
        c->cn_pending = true;
}

/* The counters as committed (at open, and after a rollback). */
static vg_err_t cells_load(vg_part_t *part, char *errstr,
                           size_t errstr_size) {
        sqlite3_stmt *s = st(part, S_CELLS);
        int rc;
        ht_clear(&part->pa_cells, cent_del);
        part->pa_ncdirty = 0;
        part->pa_npending = 0;
        while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
                const char *key = (const char *)sqlite3_column_text(s, 0);
                size_t len = strlen(key);
                cent_t *c = vg_malloc(sizeof(*c) + len + 1);
                memcpy(c->cn_key, key, len + 1);
                c->cn_h.hn_hash = vg_hash_str(key);
                c->cn_num = sqlite3_column_int64(s, 1);
                c->cn_den = sqlite3_column_int64(s, 2);
                c->cn_count = sqlite3_column_int(s, 3) != 0;
                c->cn_dirty = false;
                c->cn_pending = false;
                ht_insert(&part->pa_cells, &c->cn_h);
                if (sqlite3_column_int(s, 4))
                        pending_add(part, c);
        }
        sqlite3_reset(s);
        if (rc != SQLITE_DONE)
                return db_err(part, errstr, errstr_size, "read counters");
        return VG_OK;
}

void vg_part_close(vg_part_t *part) {
        if (!part)
                return;
        if (part->pa_in_batch)
                vg_part_rollback(part);
        cache_drop(part);
        vg_free(part->pa_cache.ht_b);
        vg_free(part->pa_dirty);
        ht_clear(&part->pa_cells, cent_del);
        vg_free(part->pa_cells.ht_b);
        vg_free(part->pa_cdirty);
        vg_free(part->pa_pending);
        vg_outbox_close(part->pa_outbox);
        for (int i = 0; i < S__CNT; i++)
                sqlite3_finalize(part->pa_stmt[i]);
        sqlite3_close(part->pa_db);
        vg_buf_free(&part->pa_buf);
        vg_free(part->pa_path);
        vg_free(part);
}

int vg_part_partition(const vg_part_t *part) {
        return part->pa_partition;
}

const vg_part_stats_t *vg_part_stats(const vg_part_t *part) {
        return &part->pa_stats;
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
        if (part->pa_npending || progress_due(part, now_ms))
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
        sqlite3_stmt *s = st(part, S_GET_OFFSET);
        int64_t off = -1;
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
                return db_err(part, errstr, errstr_size, "BEGIN");
        part->pa_in_batch = true;
        part->pa_now = now_ms;
        return VG_OK;
}

void vg_part_rollback(vg_part_t *part) {
        if (!part->pa_in_batch)
                return;
        sqlite3_exec(part->pa_db, "ROLLBACK", NULL, NULL, NULL);
        part->pa_in_batch = false;
        /* What memory holds may be ahead of the store: read it again. */
        cache_drop(part);
        wm_load(part);
        {
                char e[256];
                if (cells_load(part, e, sizeof(e)))
                        vg_error("partition", "%s", e);
        }
}

/*
 * Patient cache
 */

static pent_t *patient_get(vg_part_t *part, const char *id, char *errstr,
                           size_t errstr_size) {
        uint32_t h = vg_hash_str(id);
        pent_t *pe = (pent_t *)ht_find(&part->pa_cache, h, pent_eq, id);
        sqlite3_stmt *s;
        vg_patient_t *pt;
        int64_t due = INT64_MAX;

        if (pe)
                return pe;
        s = st(part, S_GET_PATIENT);
        sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
        switch (sqlite3_step(s)) {
        case SQLITE_ROW:
                pt = vg_patient_parse(id, (const char *)sqlite3_column_text(s, 0),
                                      errstr, errstr_size);
                if (!pt) {
                        sqlite3_reset(s);
                        return NULL;
                }
                /* Its timer row was written with its state. */
                due = pt->pt_next_due;
                break;
        case SQLITE_DONE:
                pt = vg_patient_new(id);
                break;
        default:
                db_err(part, errstr, errstr_size, "read patient");
                sqlite3_reset(s);
                return NULL;
        }
        sqlite3_reset(s);
        pe = vg_calloc(1, sizeof(*pe));
        pe->pe_pt = pt;
        pe->pe_h.hn_hash = h;
        pe->pe_due = due;
        ht_insert(&part->pa_cache, &pe->pe_h);
        return pe;
}

/* The patient is changed in this batch: its state is written at commit. */
static void patient_dirty(vg_part_t *part, pent_t *pe) {
        if (pe->pe_dirty)
                return;
        if (part->pa_ndirty == part->pa_dirty_cap) {
                part->pa_dirty_cap = part->pa_dirty_cap ? part->pa_dirty_cap * 2
                                                        : 256;
                part->pa_dirty = vg_realloc(part->pa_dirty,
                                            sizeof(*part->pa_dirty) *
                                                    part->pa_dirty_cap);
        }
        part->pa_dirty[part->pa_ndirty++] = pe;
        pe->pe_dirty = true;
}

/* Writes a patient's next-due time to the timers table, if it moved. */
static vg_err_t timer_put(vg_part_t *part, pent_t *pe, char *errstr,
                          size_t errstr_size) {
        const vg_patient_t *pt = pe->pe_pt;
        sqlite3_stmt *s;
        int rc;
        if (pt->pt_next_due == pe->pe_due)
                return VG_OK;
        if (pt->pt_next_due == INT64_MAX) {
                s = st(part, S_DEL_TIMER);
                sqlite3_bind_text(s, 1, pt->pt_id, -1, SQLITE_STATIC);
        } else {
                s = st(part, S_PUT_TIMER);
                sqlite3_bind_text(s, 1, pt->pt_id, -1, SQLITE_STATIC);
                sqlite3_bind_int64(s, 2, pt->pt_next_due);
        }
        rc = sqlite3_step(s);
        sqlite3_reset(s);
        if (rc != SQLITE_DONE)
                return db_err(part, errstr, errstr_size, "write timer");
        pe->pe_due = pt->pt_next_due;
        return VG_OK;
}

/* Writes a patient's state. */
static vg_err_t state_put(vg_part_t *part, const vg_patient_t *pt,
                          char *errstr, size_t errstr_size) {
        char *text = vg_patient_serialize(pt);
        sqlite3_stmt *s = st(part, S_PUT_PATIENT);
        int rc;
        sqlite3_bind_text(s, 1, pt->pt_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 2, text, -1, SQLITE_STATIC);
        rc = sqlite3_step(s);
        sqlite3_reset(s);
        vg_free(text);
        if (rc != SQLITE_DONE)
                return db_err(part, errstr, errstr_size, "write patient");
        return VG_OK;
}

/*
 * Counters
 */

/* Adds to one counter cell (created if new) and marks it changed. */
static void cell_add(vg_part_t *part, const char *key, int64_t num,
                     int64_t den, bool count) {
        uint32_t h = vg_hash_str(key);
        cent_t *c = (cent_t *)ht_find(&part->pa_cells, h, cent_eq, key);
        if (!c) {
                size_t len = strlen(key);
                c = vg_calloc(1, sizeof(*c) + len + 1);
                memcpy(c->cn_key, key, len + 1);
                c->cn_h.hn_hash = h;
                c->cn_count = count;
                ht_insert(&part->pa_cells, &c->cn_h);
        }
        c->cn_num += num;
        c->cn_den += den;
        if (c->cn_dirty)
                return;
        if (part->pa_ncdirty == part->pa_cdirty_cap) {
                part->pa_cdirty_cap = part->pa_cdirty_cap
                                              ? part->pa_cdirty_cap * 2
                                              : 1024;
                part->pa_cdirty = vg_realloc(part->pa_cdirty,
                                             sizeof(*part->pa_cdirty) *
                                                     part->pa_cdirty_cap);
        }
        part->pa_cdirty[part->pa_ncdirty++] = c;
        c->cn_dirty = true;
}

/*
 * Outbox
 */

static vg_err_t outbox_add(vg_part_t *part, const char *topic,
                           const void *key, size_t key_len, const void *value,
                           size_t value_len, const char *headers, char *errstr,
                           size_t errstr_size) {
        return vg_outbox_add(part->pa_outbox, topic, key, key_len, value,
                             value_len, headers, errstr, errstr_size);
}

static vg_err_t queue_alert(vg_part_t *part, vg_alert_t *al, char *errstr,
                            size_t errstr_size) {
        vg_err_t err;
        al->al_emitted_at = part->pa_now;
        vg_buf_reset(&part->pa_buf);
        if ((err = vg_codec_encode(part->pa_codec, VG_REC_ALERT, al,
                                   &part->pa_buf, errstr, errstr_size)))
                return err;
        part->pa_stats.ps_alerts[al->al_rule & 3][al->al_status & 1]++;
        return outbox_add(part, part->pa_topics.pt_alerts, al->al_alert_id,
                          strlen(al->al_alert_id), part->pa_buf.vb_data,
                          part->pa_buf.vb_len, NULL, errstr, errstr_size);
}

vg_err_t vg_part_dlq(vg_part_t *part, const void *key, size_t key_len,
                     const void *value, size_t value_len, const char *reason,
                     const char *detail, const char *topic, int partition,
                     int64_t offset, char *errstr, size_t errstr_size) {
        json_t *h = json_object();
        char *hs, num[32];
        vg_err_t err;

        json_object_set_new(h, "vigil.reason", json_string(reason));
        if (detail) {
                json_t *d = json_string(detail); /* NULL if not UTF-8 */
                if (d)
                        json_object_set_new(h, "vigil.detail", d);
        }
        json_object_set_new(h, "vigil.topic", json_string(topic));
        snprintf(num, sizeof(num), "%d", partition);
        json_object_set_new(h, "vigil.partition", json_string(num));
        snprintf(num, sizeof(num), "%lld", (long long)offset);
        json_object_set_new(h, "vigil.offset", json_string(num));
        hs = json_dumps(h, JSON_COMPACT | JSON_SORT_KEYS);
        json_decref(h);
        err = outbox_add(part, part->pa_topics.pt_dlq, key, key_len,
                         value ? value : "", value_len, hs, errstr,
                         errstr_size);
        free(hs);
        if (!err)
                part->pa_stats.ps_dlq++;
        return err;
}

/*
 * Apply
 */

static vg_err_t apply_changes(vg_part_t *part, vg_changes_t *ch, char *errstr,
                              size_t errstr_size) {
        vg_err_t err;
        part->pa_stats.ps_conflicts += ch->ch_conflicts ? 1 : 0;
        part->pa_stats.ps_pruned += ch->ch_pruned;
        for (int i = 0; i < ch->ch_nalerts; i++)
                if ((err = queue_alert(part, &ch->ch_alerts[i], errstr,
                                       errstr_size)))
                        return err;
        for (int i = 0; i < ch->ch_ndeltas; i++) {
                const vg_delta_t *d = &ch->ch_deltas[i];
                char cells[VG_CASE_CELLS][VG_CASE_KEY_MAX];
                int n = vg_rules_case_cells(d->ce_key, cells);
                if (n < 0)
                        return vg_seterr(errstr, errstr_size, VG_ERR_INTERNAL,
                                         "bad case key %s", d->ce_key);
                for (int c = 0; c < n; c++)
                        cell_add(part, cells[c], d->ce_num, d->ce_den,
                                 d->ce_count);
        }
        return VG_OK;
}

vg_err_t vg_part_event(vg_part_t *part, const vg_event_t *ev, char *errstr,
                       size_t errstr_size) {
        vg_patient_t *pt;
        pent_t *pe;
        vg_changes_t ch;
        vg_err_t err;

        if (!part->pa_in_batch)
                return vg_seterr(errstr, errstr_size, VG_ERR_INTERNAL,
                                 "vg_part_event outside a batch");
        /* A valid record consumed: its topic's time (SPEC §5.5). */
        vg_wm_record(&part->pa_wm, ev->ev_type, ev->ev_occurred_at);
        if (!(pe = patient_get(part, ev->ev_patient_id, errstr, errstr_size)))
                return VG_ERR_STORE;
        pt = pe->pe_pt;
        if (pt->pt_nevents >= part->pa_rc->rc_max_events &&
            !vg_patient_has_event(pt, ev->ev_event_id)) {
                part->pa_rejected = "patient-limit";
                return vg_seterr(errstr, errstr_size, VG_ERR_INVALID,
                                 "patient history full: %d events "
                                 "(rules.max_patient_events)",
                                 pt->pt_nevents);
        }
        vg_engine_apply(part->pa_rc, pt, ev, part->pa_wm.wm_value, &ch);
        if (ch.ch_too_late) {
                char when[32];
                part->pa_stats.ps_too_late++;
                part->pa_rejected = "too-late";
                vg_changes_clear(&ch);
                return vg_seterr(errstr, errstr_size, VG_ERR_INVALID,
                                 "too late: occurred_at %s is older than the "
                                 "patient's retention horizon "
                                 "(rules.retention_days)",
                                 vg_time_format(ev->ev_occurred_at, when));
        }
        if (ev->ev_occurred_at < part->pa_data_since)
                part->pa_data_since = ev->ev_occurred_at;
        part->pa_stats.ps_events++;
        if (!ch.ch_duplicate)
                patient_dirty(part, pe);
        if (ch.ch_duplicate)
                part->pa_stats.ps_duplicates++;
        else if (ev->ev_cancels_event_id)
                part->pa_stats.ps_cancellations++;
        err = apply_changes(part, &ch, errstr, errstr_size);
        vg_changes_clear(&ch);
        return err;
}

/* Re-derives every patient whose timer is due at the watermark. */
static vg_err_t fire_timers(vg_part_t *part, char *errstr,
                            size_t errstr_size) {
        for (;;) {
                sqlite3_stmt *s = st(part, S_DUE_TIMERS);
                char *ids[256];
                int n = 0;
                vg_err_t err = VG_OK;

                sqlite3_bind_int64(s, 1, part->pa_wm.wm_value);
                while (n < 256 && sqlite3_step(s) == SQLITE_ROW)
                        ids[n++] = vg_strdup(
                                (const char *)sqlite3_column_text(s, 0));
                sqlite3_reset(s);
                if (!n)
                        return VG_OK;
                for (int i = 0; i < n; i++) {
                        pent_t *pe = NULL;
                        vg_changes_t ch;
                        if (!err &&
                            !(pe = patient_get(part, ids[i], errstr,
                                               errstr_size)))
                                err = VG_ERR_STORE;
                        if (!err) {
                                vg_engine_apply(part->pa_rc, pe->pe_pt, NULL,
                                                part->pa_wm.wm_value, &ch);
                                part->pa_stats.ps_timers++;
                                patient_dirty(part, pe);
                                err = apply_changes(part, &ch, errstr,
                                                    errstr_size);
                                vg_changes_clear(&ch);
                                if (!err) /* state: once, at the end */
                                        err = timer_put(part, pe, errstr,
                                                        errstr_size);
                        }
                        vg_free(ids[i]);
                }
                if (err)
                        return err;
        }
}

static int cent_cmp(const void *a, const void *b) {
        return strcmp((*(cent_t *const *)a)->cn_key,
                      (*(cent_t *const *)b)->cn_key);
}

/* Queues an IndicatorPart for one counter cell. */
static vg_err_t queue_part(vg_part_t *part, const cent_t *c, char *errstr,
                           size_t errstr_size) {
        char k[VG_CASE_KEY_MAX], *ind, *area, *period, *bd, *save = NULL;
        char pkey[VG_CASE_KEY_MAX + 32];
        vg_ipart_t ip = {0};
        vg_err_t err;

        snprintf(k, sizeof(k), "%s", c->cn_key);
        ind = strtok_r(k, "|", &save);
        area = strtok_r(NULL, "|", &save);
        period = strtok_r(NULL, "|", &save);
        /* "ind|area|period" is breakdown all; else a 4th part */
        bd = strtok_r(NULL, "|", &save);
        if (!bd)
                bd = "all";
        if (!ind || !area || !period)
                return vg_seterr(errstr, errstr_size, VG_ERR_INTERNAL,
                                 "bad counter key %s", c->cn_key);
        ip.ip_indicator = ind;
        ip.ip_area = area;
        ip.ip_period = period;
        ip.ip_breakdown = bd;
        ip.ip_partition = part->pa_partition;
        /* As far as this partition can tell; the aggregator decides over
         * all partitions (SPEC §6.1). */
        ip.ip_complete = vg_rules_complete(part->pa_rc, ind, period,
                                           part->pa_wm.wm_value);
        ip.ip_history_complete = vg_rules_history_complete(
                part->pa_rc, ind, period, vg_part_data_since(part));
        ip.ip_data_since = (vg_optl_t){part->pa_data_since != INT64_MAX,
                                       part->pa_data_since};
        ip.ip_numerator = c->cn_num;
        ip.ip_denominator = (vg_optl_t){!c->cn_count, c->cn_den};
        ip.ip_updated_at = part->pa_now;
        snprintf(pkey, sizeof(pkey), "%s|%s|%s|%s|%d", ind, area, period, bd,
                 part->pa_partition);
        vg_buf_reset(&part->pa_buf);
        err = vg_codec_encode(part->pa_codec, VG_REC_IPART, &ip,
                              &part->pa_buf, errstr, errstr_size);
        if (!err)
                err = outbox_add(part, part->pa_topics.pt_parts, pkey,
                                 strlen(pkey), part->pa_buf.vb_data,
                                 part->pa_buf.vb_len, NULL, errstr,
                                 errstr_size);
        return err;
}

/* Writes every counter changed in this batch (its part still to be
 * queued: pending). */
static vg_err_t cells_flush(vg_part_t *part, char *errstr,
                            size_t errstr_size) {
        for (size_t i = 0; i < part->pa_ncdirty; i++) {
                cent_t *c = part->pa_cdirty[i];
                sqlite3_stmt *s;
                int rc;
                if (part->pa_parts)
                        pending_add(part, c);
                if (!part->pa_persist)
                        continue;
                s = st(part, S_PUT_CELL);
                sqlite3_bind_text(s, 1, c->cn_key, -1, SQLITE_STATIC);
                sqlite3_bind_int64(s, 2, c->cn_num);
                sqlite3_bind_int64(s, 3, c->cn_den);
                sqlite3_bind_int(s, 4, c->cn_count);
                sqlite3_bind_int(s, 5, c->cn_pending);
                rc = sqlite3_step(s);
                sqlite3_reset(s);
                if (rc != SQLITE_DONE)
                        return db_err(part, errstr, errstr_size,
                                      "write counter");
        }
        return VG_OK;
}

/* Queues the IndicatorPart of every pending cell, in key order, and marks
 * them queued. */
static vg_err_t parts_queue(vg_part_t *part, char *errstr,
                            size_t errstr_size) {
        sqlite3_stmt *s;
        int rc;
        if (!part->pa_npending)
                return VG_OK;
        if (part->pa_npending > 1)
                qsort(part->pa_pending, part->pa_npending,
                      sizeof(*part->pa_pending), cent_cmp);
        for (size_t i = 0; i < part->pa_npending; i++) {
                vg_err_t err = queue_part(part, part->pa_pending[i], errstr,
                                          errstr_size);
                if (err)
                        return err;
        }
        if (part->pa_persist) {
                s = st(part, S_PARTS_QUEUED);
                rc = sqlite3_step(s);
                sqlite3_reset(s);
                if (rc != SQLITE_DONE)
                        return db_err(part, errstr, errstr_size,
                                      "mark parts queued");
        }
        return VG_OK;
}

/* Clears the pending marks in memory once the commit holds the parts. */
static void parts_queued(vg_part_t *part) {
        for (size_t i = 0; i < part->pa_npending; i++)
                part->pa_pending[i]->cn_pending = false;
        part->pa_npending = 0;
}

vg_err_t vg_part_set_offset(vg_part_t *part, const char *topic,
                            int64_t next_offset, char *errstr,
                            size_t errstr_size) {
        sqlite3_stmt *s = st(part, S_SET_OFFSET);
        int rc;
        sqlite3_bind_text(s, 1, topic, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 2, next_offset);
        rc = sqlite3_step(s);
        sqlite3_reset(s);
        if (rc != SQLITE_DONE)
                return db_err(part, errstr, errstr_size, "store offset");
        return VG_OK;
}

static vg_err_t set_meta(vg_part_t *part, const char *key, int64_t v,
                         char *errstr, size_t errstr_size) {
        sqlite3_stmt *s = st(part, S_SET_META);
        int rc;
        sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 2, v);
        rc = sqlite3_step(s);
        sqlite3_reset(s);
        if (rc != SQLITE_DONE)
                return db_err(part, errstr, errstr_size, "store meta");
        return VG_OK;
}

/* Queues a PartitionProgress when the watermark or data_since changed
 * since the last one (SPEC §6.1), and always once after open. */
static bool progress_due(const vg_part_t *part, int64_t now) {
        if (part->pa_pub_valid && part->pa_pub_wm == part->pa_wm.wm_value &&
            part->pa_pub_since == part->pa_data_since)
                return false;
        /* A null watermark is published only for an empty partition (the
         * aggregator leaves it out); one that is held back publishes
         * nothing yet, which holds every value incomplete. */
        return part->pa_wm.wm_value != VG_WM_NONE ||
               vg_wm_empty(&part->pa_wm, now);
}

static vg_err_t queue_progress(vg_part_t *part, char *errstr,
                               size_t errstr_size) {
        vg_progress_t pp = {0};
        char key[32];
        vg_err_t err;
        if (!progress_due(part, part->pa_now))
                return VG_OK;
        pp.pp_partition = part->pa_partition;
        pp.pp_watermark = (vg_optl_t){part->pa_wm.wm_value != VG_WM_NONE,
                                      part->pa_wm.wm_value};
        pp.pp_data_since = (vg_optl_t){part->pa_data_since != INT64_MAX,
                                       part->pa_data_since};
        pp.pp_updated_at = part->pa_now;
        snprintf(key, sizeof(key), "_progress|%d", part->pa_partition);
        vg_buf_reset(&part->pa_buf);
        if ((err = vg_codec_encode(part->pa_codec, VG_REC_PROGRESS, &pp,
                                   &part->pa_buf, errstr, errstr_size)) ||
            (err = outbox_add(part, part->pa_topics.pt_parts, key, strlen(key),
                              part->pa_buf.vb_data, part->pa_buf.vb_len, NULL,
                              errstr, errstr_size)))
                return err;
        part->pa_pub_valid = true;
        part->pa_pub_wm = part->pa_wm.wm_value;
        part->pa_pub_since = part->pa_data_since;
        return VG_OK;
}

static vg_err_t wm_store(vg_part_t *part, char *errstr, size_t errstr_size) {
        char key[16];
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
        /* Timers of the batch's patients first, so that the timers table
         * holds their latest next-due times; then every timer the
         * watermark has passed (those patients join the batch); then the
         * state of every patient changed, written once. */
        for (size_t i = 0; !err && i < part->pa_ndirty; i++)
                err = timer_put(part, part->pa_dirty[i], errstr, errstr_size);
        if (!err && part->pa_wm.wm_value != VG_WM_NONE)
                err = fire_timers(part, errstr, errstr_size);
        for (size_t i = 0; !err && part->pa_persist && i < part->pa_ndirty;
             i++)
                err = state_put(part, part->pa_dirty[i]->pe_pt, errstr,
                                errstr_size);
        if (!err)
                err = cells_flush(part, errstr, errstr_size);
        /* Parts, then the progress that covers them, at most every
         * parts.interval_ms: a part is a whole value, so a cell changed in
         * many batches is published once, and a progress record never
         * runs ahead of the parts it vouches for (SPEC §6.1). */
        if (!err && (flush = vg_part_parts_due(part, part->pa_now))) {
                err = parts_queue(part, errstr, errstr_size);
                if (!err)
                        err = queue_progress(part, errstr, errstr_size);
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
                err = file_check(part, errstr, errstr_size);
        if (!err) {
                int64_t t0 = vg_now_us();
                if (sqlite3_exec(part->pa_db, "COMMIT", NULL, NULL, NULL) !=
                    SQLITE_OK)
                        err = db_err(part, errstr, errstr_size, "COMMIT");
                part->pa_stats.ps_commit_us = vg_now_us() - t0;
        }
        if (err) {
                vg_part_rollback(part);
                part->pa_pub_valid = pub_valid;
                part->pa_pub_wm = pub_wm;
                part->pa_pub_since = pub_since;
                return err;
        }
        part->pa_in_batch = false;
        part->pa_stats.ps_commits++;
        for (size_t i = 0; i < part->pa_ndirty; i++)
                part->pa_dirty[i]->pe_dirty = false;
        part->pa_ndirty = 0;
        for (size_t i = 0; i < part->pa_ncdirty; i++)
                part->pa_cdirty[i]->cn_dirty = false;
        part->pa_ncdirty = 0;
        if (flush) {
                parts_queued(part);
                part->pa_parts_at = part->pa_now;
                part->pa_parts_force = false;
        }
        if (part->pa_persist)
                cache_trim(part);
        return VG_OK;
}

bool vg_part_parts_due(const vg_part_t *part, int64_t now_ms) {
        if (!part->pa_parts)
                return false;
        if (!part->pa_npending && !progress_due(part, now_ms))
                return false;
        return part->pa_parts_force ||
               now_ms - part->pa_parts_at >= part->pa_parts_ms;
}

void vg_part_set_parts_interval(vg_part_t *part, int64_t ms) {
        part->pa_parts_ms = ms;
}

void vg_part_force_parts(vg_part_t *part) {
        part->pa_parts_force = true;
}

vg_outbox_t *vg_part_outbox(vg_part_t *part) {
        return part->pa_outbox;
}

int vg_part_outbox_scan(vg_part_t *part, int64_t after_seq, int max,
                        void (*cb)(const vg_outrec_t *rec, void *opaque),
                        void *opaque) {
        return vg_outbox_scan(part->pa_outbox, after_seq, max, cb, opaque);
}

int64_t vg_part_outbox_depth(vg_part_t *part) {
        return vg_outbox_depth(part->pa_outbox);
}

void vg_part_cells(vg_part_t *part,
                   void (*cb)(const char *key, int64_t num, int64_t den,
                              bool count, void *opaque),
                   void *opaque) {
        cent_t **all = vg_malloc(sizeof(*all) * (part->pa_cells.ht_n + 1));
        size_t n = 0;
        for (size_t b = 0; b < part->pa_cells.ht_nb; b++)
                for (hnode_t *x = part->pa_cells.ht_b[b]; x; x = x->hn_next)
                        all[n++] = (cent_t *)x;
        if (n > 1)
                qsort(all, n, sizeof(*all), cent_cmp);
        for (size_t i = 0; i < n; i++)
                cb(all[i]->cn_key, all[i]->cn_num, all[i]->cn_den,
                   all[i]->cn_count, opaque);
        vg_free(all);
}

void vg_part_set_cache(vg_part_t *part, size_t max_patients) {
        part->pa_cache_max = max_patients;
}

void vg_part_set_parts(vg_part_t *part, bool queue) {
        part->pa_parts = queue;
}

void vg_part_set_memory_only(vg_part_t *part) {
        part->pa_persist = false;
}
