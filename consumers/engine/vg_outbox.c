/*
 * vg_outbox.c - the transactional outbox in SQLite (its publisher is in
 * vg_outbox_pub.c).
 */
#include "vg_outbox.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { O_ADD, O_SCAN, O_DELUPTO, O_DEPTH, O__CNT };

static const char *osql[O__CNT] = {
        [O_ADD] = "INSERT INTO outbox(topic,key,value,headers,part) "
                  "VALUES(?,?,?,?,?)",
        [O_SCAN] = "SELECT seq, topic, key, value, headers, part FROM outbox "
                   "WHERE seq>? ORDER BY seq LIMIT ?",
        [O_DELUPTO] = "DELETE FROM outbox WHERE seq<=?",
        [O_DEPTH] = "SELECT count(*) FROM outbox",
};

/* A row kept in memory (vg_outbox_cache): the struct, then its topic,
 * headers, key and value in the same allocation. */
typedef struct memrow_s {
        vg_outrec_t mr_rec;
        size_t      mr_size;
} memrow_t;

struct vg_outbox_s {
        sqlite3      *ob_db;
        sqlite3_stmt *ob_stmt[O__CNT];
        uint64_t      ob_adds;   /* rows added through this handle */
        /* The cache: every committed row with seq > ob_cover not yet
         * deleted is in ob_rows[ob_head .. ob_ncommit), the rows of the
         * open transaction after them, up to ob_n. */
        size_t        ob_cache_max;   /* bytes; 0: no cache */
        size_t        ob_cache_bytes;
        int64_t       ob_cover;
        int64_t       ob_last;        /* seq of the last row added */
        bool          ob_overflow;    /* the open transaction's rows did
                                       * not fit */
        memrow_t    **ob_rows;
        size_t        ob_head, ob_ncommit, ob_n, ob_cap;
};

vg_outbox_t *vg_outbox_open(sqlite3 *db, char *errstr, size_t errstr_size) {
        vg_outbox_t *ob = vg_calloc(1, sizeof(*ob));
        ob->ob_db = db;
        if (sqlite3_exec(db,
                         "CREATE TABLE IF NOT EXISTS outbox(seq INTEGER "
                         "PRIMARY KEY AUTOINCREMENT, topic TEXT NOT NULL, "
                         "key BLOB, value BLOB, headers TEXT, part INTEGER)",
                         NULL, NULL, NULL) != SQLITE_OK)
                goto err;
        {
                /* Files of earlier releases lack the partition column. */
                sqlite3_stmt *s = NULL;
                bool has = false;
                if (sqlite3_prepare_v2(db, "PRAGMA table_info(outbox)", -1,
                                       &s, NULL) != SQLITE_OK)
                        goto err;
                while (sqlite3_step(s) == SQLITE_ROW)
                        if (!strcmp((const char *)sqlite3_column_text(s, 1),
                                    "part"))
                                has = true;
                sqlite3_finalize(s);
                if (!has && sqlite3_exec(db, "ALTER TABLE outbox ADD COLUMN "
                                         "part INTEGER", NULL, NULL,
                                         NULL) != SQLITE_OK)
                        goto err;
        }
        for (int i = 0; i < O__CNT; i++)
                if (sqlite3_prepare_v3(db, osql[i], -1,
                                       SQLITE_PREPARE_PERSISTENT,
                                       &ob->ob_stmt[i], NULL) != SQLITE_OK)
                        goto err;
        return ob;
err:
        vg_seterr(errstr, errstr_size, VG_ERR_STORE, "outbox: %s",
                  sqlite3_errmsg(db));
        vg_outbox_close(ob);
        return NULL;
}

/* Frees the cached rows [from, ob_n). */
static void cache_drop_from(vg_outbox_t *ob, size_t from) {
        for (size_t i = from; i < ob->ob_n; i++) {
                ob->ob_cache_bytes -= ob->ob_rows[i]->mr_size;
                free(ob->ob_rows[i]);
        }
        ob->ob_n = from;
        if (ob->ob_ncommit > from)
                ob->ob_ncommit = from;
        if (ob->ob_n == ob->ob_head)
                ob->ob_n = ob->ob_ncommit = ob->ob_head = 0;
}

void vg_outbox_close(vg_outbox_t *ob) {
        if (!ob)
                return;
        cache_drop_from(ob, ob->ob_head);
        vg_free(ob->ob_rows);
        for (int i = 0; i < O__CNT; i++)
                sqlite3_finalize(ob->ob_stmt[i]);
        vg_free(ob);
}

int vg_outbox_cache(vg_outbox_t *ob, size_t max_bytes) {
        sqlite3_stmt *s;
        int rc;
        if (!sqlite3_get_autocommit(ob->ob_db))
                return -1; /* only outside transactions */
        cache_drop_from(ob, ob->ob_head);
        ob->ob_cache_max = 0;
        ob->ob_overflow = false;
        if (!max_bytes)
                return 0;
        /* What is there now is read from the table. */
        if (sqlite3_prepare_v2(ob->ob_db, "SELECT max(seq) FROM outbox", -1,
                               &s, NULL) != SQLITE_OK)
                return -1;
        rc = sqlite3_step(s);
        ob->ob_cover = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
        sqlite3_finalize(s);
        if (rc != SQLITE_ROW)
                return -1;
        ob->ob_last = ob->ob_cover;
        ob->ob_cache_max = max_bytes;
        return 0;
}

/* Keeps a copy of the row just added (seq ob_last), or notes that the
 * transaction's rows do not fit. */
static void cache_add(vg_outbox_t *ob, const char *topic, int32_t partition,
                      const void *key, size_t key_len, const void *value,
                      size_t value_len, const char *headers) {
        size_t tl = strlen(topic) + 1, hl = headers ? strlen(headers) + 1 : 0;
        size_t size = sizeof(memrow_t) + tl + hl + key_len + value_len;
        memrow_t *mr;
        char *b;
        if (ob->ob_overflow)
                return;
        if (ob->ob_cache_bytes + size > ob->ob_cache_max) {
                ob->ob_overflow = true;
                return;
        }
        if (!(mr = malloc(size))) {
                ob->ob_overflow = true;
                return;
        }
        if (ob->ob_n == ob->ob_cap) {
                if (ob->ob_head > 0) { /* room at the front first */
                        memmove(ob->ob_rows, ob->ob_rows + ob->ob_head,
                                (ob->ob_n - ob->ob_head) *
                                        sizeof(*ob->ob_rows));
                        ob->ob_n -= ob->ob_head;
                        ob->ob_ncommit -= ob->ob_head;
                        ob->ob_head = 0;
                }
                if (ob->ob_n == ob->ob_cap) {
                        ob->ob_cap = ob->ob_cap ? ob->ob_cap * 2 : 1024;
                        ob->ob_rows = vg_realloc(ob->ob_rows,
                                                 ob->ob_cap *
                                                         sizeof(*ob->ob_rows));
                }
        }
        b = (char *)(mr + 1);
        mr->mr_size = size;
        mr->mr_rec.or_seq = ob->ob_last;
        mr->mr_rec.or_partition = partition;
        mr->mr_rec.or_topic = memcpy(b, topic, tl);
        b += tl;
        mr->mr_rec.or_headers = headers ? memcpy(b, headers, hl) : NULL;
        b += hl;
        /* as vg_outbox_scan gives them: none is NULL, empty is "" */
        mr->mr_rec.or_key = key ? (key_len ? memcpy(b, key, key_len) : "")
                                : NULL;
        mr->mr_rec.or_key_len = key ? key_len : 0;
        b += key_len;
        mr->mr_rec.or_value = value ? (value_len ? memcpy(b, value, value_len)
                                                 : "")
                                    : NULL;
        mr->mr_rec.or_value_len = value ? value_len : 0;
        ob->ob_rows[ob->ob_n++] = mr;
        ob->ob_cache_bytes += size;
}

void vg_outbox_txn_end(vg_outbox_t *ob, bool committed) {
        if (!ob->ob_cache_max)
                return;
        if (!committed) {
                /* its seqs are given again */
                cache_drop_from(ob, ob->ob_ncommit);
                ob->ob_last = ob->ob_ncommit > ob->ob_head
                                      ? ob->ob_rows[ob->ob_ncommit - 1]
                                                ->mr_rec.or_seq
                                      : ob->ob_cover;
                if (ob->ob_last < ob->ob_cover)
                        ob->ob_last = ob->ob_cover;
        } else if (ob->ob_overflow) {
                /* The table has them; the cache starts after them. */
                cache_drop_from(ob, ob->ob_head);
                ob->ob_cover = ob->ob_last;
        } else
                ob->ob_ncommit = ob->ob_n;
        ob->ob_overflow = false;
}

static sqlite3_stmt *ost(vg_outbox_t *ob, int i) {
        sqlite3_reset(ob->ob_stmt[i]);
        sqlite3_clear_bindings(ob->ob_stmt[i]);
        return ob->ob_stmt[i];
}

static vg_err_t add(vg_outbox_t *ob, const char *topic, int32_t partition,
                    const void *key, size_t key_len, const void *value,
                    size_t value_len, const char *headers, char *errstr,
                    size_t errstr_size) {
        sqlite3_stmt *s = ost(ob, O_ADD);
        int rc;
        sqlite3_bind_text(s, 1, topic, -1, SQLITE_STATIC);
        if (partition >= 0)
                sqlite3_bind_int(s, 5, partition);
        if (key)
                sqlite3_bind_blob(s, 2, key, (int)key_len, SQLITE_STATIC);
        if (value) /* NULL: a tombstone (deletes the key when compacted) */
                sqlite3_bind_blob(s, 3, value, (int)value_len, SQLITE_STATIC);
        if (headers)
                sqlite3_bind_text(s, 4, headers, -1, SQLITE_STATIC);
        rc = sqlite3_step(s);
        sqlite3_reset(s);
        if (rc != SQLITE_DONE)
                return vg_seterr(errstr, errstr_size, VG_ERR_STORE,
                                 "outbox: queue record: %s",
                                 sqlite3_errmsg(ob->ob_db));
        if (ob->ob_cache_max) {
                ob->ob_last = sqlite3_last_insert_rowid(ob->ob_db);
                cache_add(ob, topic, partition, key, key_len, value,
                          value_len, headers);
        }
        return VG_OK;
}

vg_err_t vg_outbox_add(vg_outbox_t *ob, const char *topic, const void *key,
                       size_t key_len, const void *value, size_t value_len,
                       const char *headers, char *errstr,
                       size_t errstr_size) {
        ob->ob_adds++;
        return add(ob, topic, -1, key, key_len, value, value_len, headers,
                   errstr, errstr_size);
}

vg_err_t vg_outbox_add_to(vg_outbox_t *ob, const char *topic,
                          int32_t partition, const void *key, size_t key_len,
                          const void *value, size_t value_len, char *errstr,
                          size_t errstr_size) {
        ob->ob_adds++;
        return add(ob, topic, partition, key, key_len, value, value_len, NULL,
                   errstr, errstr_size);
}

uint64_t vg_outbox_adds(const vg_outbox_t *ob) {
        return ob->ob_adds;
}

int vg_outbox_scan(vg_outbox_t *ob, int64_t after_seq, int max,
                   void (*cb)(const vg_outrec_t *rec, void *opaque),
                   void *opaque) {
        sqlite3_stmt *s;
        int n = 0, rc;
        if (ob->ob_cache_max && after_seq >= ob->ob_cover) {
                /* From memory: the committed rows after after_seq. */
                size_t lo = ob->ob_head, hi = ob->ob_ncommit;
                while (lo < hi) {
                        size_t mid = lo + (hi - lo) / 2;
                        if (ob->ob_rows[mid]->mr_rec.or_seq <= after_seq)
                                lo = mid + 1;
                        else
                                hi = mid;
                }
                for (; lo < ob->ob_ncommit && n < max; lo++, n++)
                        cb(&ob->ob_rows[lo]->mr_rec, opaque);
                return n;
        }
        s = ost(ob, O_SCAN);
        sqlite3_bind_int64(s, 1, after_seq);
        sqlite3_bind_int(s, 2, max);
        while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
                vg_outrec_t r;
                r.or_seq = sqlite3_column_int64(s, 0);
                r.or_topic = (const char *)sqlite3_column_text(s, 1);
                /* A zero-length blob reads back as NULL: keep "empty"
                 * (a value of 0 bytes) apart from "none" (SQL NULL). */
                r.or_key = sqlite3_column_type(s, 2) == SQLITE_NULL
                                   ? NULL
                                   : sqlite3_column_blob(s, 2)
                                             ? sqlite3_column_blob(s, 2)
                                             : (const void *)"";
                r.or_key_len = (size_t)sqlite3_column_bytes(s, 2);
                r.or_value = sqlite3_column_type(s, 3) == SQLITE_NULL
                                     ? NULL
                                     : sqlite3_column_blob(s, 3)
                                               ? sqlite3_column_blob(s, 3)
                                               : (const void *)"";
                r.or_value_len = (size_t)sqlite3_column_bytes(s, 3);
                r.or_headers = (const char *)sqlite3_column_text(s, 4);
                r.or_partition = sqlite3_column_type(s, 5) == SQLITE_NULL
                                         ? -1
                                         : sqlite3_column_int(s, 5);
                cb(&r, opaque);
                n++;
        }
        sqlite3_reset(s);
        return rc == SQLITE_DONE ? n : -1;
}

vg_err_t vg_outbox_delete_upto(vg_outbox_t *ob, int64_t seq, char *errstr,
                               size_t errstr_size) {
        sqlite3_stmt *s = ost(ob, O_DELUPTO);
        int rc;
        sqlite3_bind_int64(s, 1, seq);
        rc = sqlite3_step(s);
        sqlite3_reset(s);
        if (rc != SQLITE_DONE)
                return vg_seterr(errstr, errstr_size, VG_ERR_STORE,
                                 "outbox: delete delivered records: %s",
                                 sqlite3_errmsg(ob->ob_db));
        if (ob->ob_cache_max) {
                /* Outside a transaction: the committed rows only. */
                size_t i = ob->ob_head;
                while (i < ob->ob_ncommit &&
                       ob->ob_rows[i]->mr_rec.or_seq <= seq) {
                        ob->ob_cache_bytes -= ob->ob_rows[i]->mr_size;
                        free(ob->ob_rows[i]);
                        i++;
                }
                ob->ob_head = i;
                if (ob->ob_head == ob->ob_n)
                        ob->ob_n = ob->ob_ncommit = ob->ob_head = 0;
        }
        return VG_OK;
}

int64_t vg_outbox_depth(vg_outbox_t *ob) {
        sqlite3_stmt *s = ost(ob, O_DEPTH);
        int64_t n = 0;
        if (sqlite3_step(s) == SQLITE_ROW)
                n = sqlite3_column_int64(s, 0);
        sqlite3_reset(s);
        return n;
}
