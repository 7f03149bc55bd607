/*
 * vg_outbox.c - the transactional outbox in SQLite (its publisher is in
 * vg_outbox_pub.c).
 */
#include "vg_outbox.h"

#include <stdint.h>
#include <stdio.h>
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

struct vg_outbox_s {
        sqlite3      *ob_db;
        sqlite3_stmt *ob_stmt[O__CNT];
        uint64_t      ob_adds;   /* rows added through this handle */
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

void vg_outbox_close(vg_outbox_t *ob) {
        if (!ob)
                return;
        for (int i = 0; i < O__CNT; i++)
                sqlite3_finalize(ob->ob_stmt[i]);
        vg_free(ob);
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
        sqlite3_stmt *s = ost(ob, O_SCAN);
        int n = 0, rc;
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
