/*
 * vg_outbox.c - the transactional outbox in SQLite (its publisher is in
 * vg_outbox_pub.c).
 *
 * Records are stored in chunks: one row holds up to CHUNK_MAX records or
 * about CHUNK_BYTES, packed one after the other. A batch queues hundreds
 * of thousands of records (IndicatorParts, changelog rows, alerts) that
 * are read back once, in order, and deleted once delivered: as a row each,
 * every record cost an INSERT, a read and a DELETE of its own. A record's
 * seq is its chunk's rowid times 65536 plus its place in the chunk, so
 * seqs still grow with every record and name it exactly.
 *
 * With the cache (vg_outbox_cache) the records of a transaction are
 * packed in memory and written when a chunk is full and by
 * vg_outbox_seal() before COMMIT; without it (or outside a transaction)
 * every record is written at once, a chunk of its own.
 */
#include "vg_outbox.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK_SHIFT 16
#define CHUNK_RECS  ((1 << CHUNK_SHIFT) - 1) /* a chunk's records at most */
/* What a chunk holds by default: a scan reads a chunk whole each time
 * (the publisher asks for up to PUB_MAX_INFLIGHT, 10,000, at a time),
 * so not too much. */
#define CHUNK_MAX   4095
#define CHUNK_BYTES ((size_t)256 << 10)
/* A record larger than this is refused (SQLite's blobs end at 1e9). */
#define RECORD_MAX  ((size_t)512 << 20)

enum { O_ADD, O_SCAN, O_DELUPTO, O_DELMARK, O_DEPTH, O__CNT };

static const char *osql[O__CNT] = {
        [O_ADD] = "INSERT INTO outbox_chunks(n,recs) VALUES(?,?)",
        [O_SCAN] = "SELECT seq, n, recs, (SELECT coalesce(max(upto),0) FROM "
                   "outbox_deleted) FROM outbox_chunks WHERE seq>=? "
                   "ORDER BY seq",
        /* Whole chunks; of one delivered in part, how far (so that its
         * first records are not sent again after a restart). */
        [O_DELUPTO] = "DELETE FROM outbox_chunks WHERE seq<?1 OR "
                      "(seq=?1 AND n<=?2)",
        [O_DELMARK] = "INSERT OR REPLACE INTO outbox_deleted SELECT 0, ?1 "
                      "WHERE EXISTS(SELECT 1 FROM outbox_chunks WHERE "
                      "seq=?2)",
        [O_DEPTH] = "SELECT coalesce(sum(n),0) - coalesce((SELECT "
                    "(d.upto & 65535) + 1 FROM outbox_deleted d JOIN "
                    "outbox_chunks c ON c.seq = d.upto >> 16),0) FROM "
                    "outbox_chunks",
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
        uint64_t      ob_urgent; /* of which marked urgent */
        vg_buf_t      ob_chunk;  /* records packed, not written yet */
        int           ob_chunk_n;
        bool          ob_lost;           /* a chunk could not be written in
                                          * the open transaction */
        int           ob_chunk_max;      /* records per chunk at most */
        size_t        ob_chunk_bytes;    /* a chunk is full at this size */
        /* The cache: every committed row with seq > ob_cover not yet
         * deleted is in ob_rows[ob_head .. ob_ncommit), the rows of the
         * open transaction after them, up to ob_n. */
        size_t        ob_cache_max;   /* bytes; 0: no cache */
        size_t        ob_cache_bytes;
        int64_t       ob_cover;
        int64_t       ob_last;        /* seq of the last row written */
        bool          ob_overflow;    /* the open transaction's rows did
                                       * not fit */
        memrow_t    **ob_rows;
        size_t        ob_head, ob_ncommit, ob_n, ob_cap;
        vg_outbox_resolve_fn ob_resolve;  /* references' values */
        void         *ob_ropaque;
        vg_buf_t      ob_rbuf;            /* the last one resolved */
};

/*
 * A chunk: records one after the other, each
 *   flags (1 byte: key, value, headers present; a reference), partition
 *   (4), topic length (4) and topic with its NUL,
 *   [key length (4), key], [value length (4), value],
 *   [headers length (4), headers with their NUL];
 * numbers little-endian. A reference (RF_REF) has no value: it is made
 * when the record is read (vg_outbox_add_ref). A release from before
 * references would take one for a tombstone; the partition store's
 * schema version 4 keeps such a release from opening the file.
 */
enum { RF_KEY = 1, RF_VALUE = 2, RF_HEADERS = 4, RF_REF = 8 };

static void put32(vg_buf_t *b, uint32_t v) {
        unsigned char *p = vg_buf_grow(b, 4);
        p[0] = (unsigned char)v;
        p[1] = (unsigned char)(v >> 8);
        p[2] = (unsigned char)(v >> 16);
        p[3] = (unsigned char)(v >> 24);
}

static uint32_t get32(const unsigned char *p) {
        return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
               (uint32_t)p[3] << 24;
}

static void rec_pack(vg_buf_t *b, const char *topic, int32_t partition,
                     const void *key, size_t key_len, const void *value,
                     size_t value_len, const char *headers, bool ref) {
        size_t tl = strlen(topic) + 1;
        unsigned char f = (unsigned char)((key ? RF_KEY : 0) |
                                          (value ? RF_VALUE : 0) |
                                          (headers ? RF_HEADERS : 0) |
                                          (ref ? RF_REF : 0));
        vg_buf_append(b, &f, 1);
        put32(b, (uint32_t)partition);
        put32(b, (uint32_t)tl);
        vg_buf_append(b, topic, tl);
        if (key) {
                put32(b, (uint32_t)key_len);
                vg_buf_append(b, key, key_len);
        }
        if (value) {
                put32(b, (uint32_t)value_len);
                vg_buf_append(b, value, value_len);
        }
        if (headers) {
                size_t hl = strlen(headers) + 1;
                put32(b, (uint32_t)hl);
                vg_buf_append(b, headers, hl);
        }
}

/* A length-prefixed field at *off of p[0, len): NULL if it does not fit. */
static const unsigned char *field(const unsigned char *p, size_t len,
                                  size_t *off, size_t *flen) {
        const unsigned char *f;
        if (len - *off < 4)
                return NULL;
        *flen = get32(p + *off);
        *off += 4;
        if (*flen > len - *off)
                return NULL;
        f = p + *off;
        *off += *flen;
        return f;
}

/* The record at *off of chunk p[0, len) into r (pointing into p); -1 if
 * the chunk is damaged. */
static int rec_unpack(const unsigned char *p, size_t len, size_t *off,
                      vg_outrec_t *r) {
        unsigned char f;
        size_t tl, l;
        const unsigned char *t;
        if (len - *off < 5)
                return -1;
        f = p[*off];
        if ((f & ~(RF_KEY | RF_VALUE | RF_HEADERS | RF_REF)) ||
            ((f & RF_REF) && (f & RF_VALUE)))
                return -1;
        r->or_partition = (int32_t)get32(p + *off + 1);
        *off += 5;
        if (!(t = field(p, len, off, &tl)) || !tl || t[tl - 1])
                return -1;
        r->or_topic = (const char *)t;
        r->or_key = NULL;
        r->or_key_len = 0;
        r->or_value = NULL;
        r->or_value_len = 0;
        r->or_headers = NULL;
        r->or_resolved = (f & RF_REF) != 0; /* (a reference, to resolve) */
        if (f & RF_KEY) {
                if (!(r->or_key = field(p, len, off, &l)))
                        return -1;
                r->or_key_len = l;
        }
        if (f & RF_VALUE) {
                if (!(r->or_value = field(p, len, off, &l)))
                        return -1;
                r->or_value_len = l;
        }
        if (f & RF_HEADERS) {
                if (!(t = field(p, len, off, &l)) || !l || t[l - 1])
                        return -1;
                r->or_headers = (const char *)t;
        }
        return 0;
}

static sqlite3_stmt *ost(vg_outbox_t *ob, int i) {
        sqlite3_reset(ob->ob_stmt[i]);
        sqlite3_clear_bindings(ob->ob_stmt[i]);
        return ob->ob_stmt[i];
}

static vg_err_t db_err(vg_outbox_t *ob, const char *what, char *errstr,
                       size_t errstr_size) {
        return vg_seterr(errstr, errstr_size, VG_ERR_STORE, "outbox: %s: %s",
                         what, sqlite3_errmsg(ob->ob_db));
}

static vg_err_t seal(vg_outbox_t *ob, char *errstr, size_t errstr_size);

/* Moves the rows of an earlier release's one-row-per-record table into
 * chunks, in their order, and drops it. */
static vg_err_t migrate(vg_outbox_t *ob, char *errstr, size_t errstr_size) {
        sqlite3_stmt *s = NULL;
        bool has_part = false, has_old = false;
        vg_err_t err = VG_OK;
        int rc;
        if (sqlite3_prepare_v2(ob->ob_db, "PRAGMA table_info(outbox)", -1, &s,
                               NULL) != SQLITE_OK)
                return db_err(ob, "read old outbox", errstr, errstr_size);
        while (sqlite3_step(s) == SQLITE_ROW) {
                has_old = true;
                if (!strcmp((const char *)sqlite3_column_text(s, 1), "part"))
                        has_part = true;
        }
        sqlite3_finalize(s);
        if (!has_old)
                return VG_OK;
        if (sqlite3_exec(ob->ob_db, "BEGIN IMMEDIATE", NULL, NULL, NULL) !=
            SQLITE_OK)
                return db_err(ob, "BEGIN", errstr, errstr_size);
        if (sqlite3_prepare_v2(ob->ob_db,
                               has_part ? "SELECT topic, key, value, headers, "
                                          "part FROM outbox ORDER BY seq"
                                        : "SELECT topic, key, value, headers, "
                                          "NULL FROM outbox ORDER BY seq",
                               -1, &s, NULL) != SQLITE_OK) {
                err = db_err(ob, "read old outbox", errstr, errstr_size);
                goto out;
        }
        while (!err && (rc = sqlite3_step(s)) == SQLITE_ROW) {
                const char *topic = (const char *)sqlite3_column_text(s, 0);
                const void *k = sqlite3_column_blob(s, 1),
                           *v = sqlite3_column_blob(s, 2);
                const char *h = (const char *)sqlite3_column_text(s, 3);
                if (sqlite3_column_type(s, 1) != SQLITE_NULL && !k)
                        k = "";
                if (sqlite3_column_type(s, 2) != SQLITE_NULL && !v)
                        v = "";
                rec_pack(&ob->ob_chunk, topic ? topic : "",
                         sqlite3_column_type(s, 4) == SQLITE_NULL
                                 ? -1
                                 : sqlite3_column_int(s, 4),
                         k, (size_t)sqlite3_column_bytes(s, 1), v,
                         (size_t)sqlite3_column_bytes(s, 2), h, false);
                if (++ob->ob_chunk_n == ob->ob_chunk_max ||
                    ob->ob_chunk.vb_len >= ob->ob_chunk_bytes)
                        err = seal(ob, errstr, errstr_size);
        }
        if (!err && rc != SQLITE_DONE)
                err = db_err(ob, "read old outbox", errstr, errstr_size);
        sqlite3_finalize(s);
        if (!err)
                err = seal(ob, errstr, errstr_size);
        if (!err && sqlite3_exec(ob->ob_db, "DROP TABLE outbox", NULL, NULL,
                                 NULL) != SQLITE_OK)
                err = db_err(ob, "drop old outbox", errstr, errstr_size);
out:
        if (!err && sqlite3_exec(ob->ob_db, "COMMIT", NULL, NULL, NULL) !=
                            SQLITE_OK)
                err = db_err(ob, "COMMIT", errstr, errstr_size);
        if (err) {
                sqlite3_exec(ob->ob_db, "ROLLBACK", NULL, NULL, NULL);
                vg_buf_reset(&ob->ob_chunk);
                ob->ob_chunk_n = 0;
        }
        return err;
}

vg_outbox_t *vg_outbox_open(sqlite3 *db, char *errstr, size_t errstr_size) {
        vg_outbox_t *ob = vg_calloc(1, sizeof(*ob));
        ob->ob_db = db;
        ob->ob_chunk_max = CHUNK_MAX;
        ob->ob_chunk_bytes = CHUNK_BYTES;
        vg_buf_init(&ob->ob_chunk);
        vg_buf_init(&ob->ob_rbuf);
        if (sqlite3_exec(db,
                         "CREATE TABLE IF NOT EXISTS outbox_chunks(seq "
                         "INTEGER PRIMARY KEY AUTOINCREMENT, n INTEGER NOT "
                         "NULL, recs BLOB NOT NULL);"
                         "CREATE TABLE IF NOT EXISTS outbox_deleted(id "
                         "INTEGER PRIMARY KEY, upto INTEGER NOT NULL)",
                         NULL, NULL, NULL) != SQLITE_OK)
                goto err;
        for (int i = 0; i < O__CNT; i++)
                if (sqlite3_prepare_v3(db, osql[i], -1,
                                       SQLITE_PREPARE_PERSISTENT,
                                       &ob->ob_stmt[i], NULL) != SQLITE_OK)
                        goto err;
        if (sqlite3_get_autocommit(db) && migrate(ob, errstr, errstr_size)) {
                vg_outbox_close(ob);
                return NULL;
        }
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
        vg_buf_free(&ob->ob_chunk);
        vg_buf_free(&ob->ob_rbuf);
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
        if (sqlite3_prepare_v2(ob->ob_db,
                               "SELECT coalesce(max(seq),0) FROM "
                               "outbox_chunks",
                               -1, &s, NULL) != SQLITE_OK)
                return -1;
        rc = sqlite3_step(s);
        ob->ob_cover = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) *
                                                  ((int64_t)1 << CHUNK_SHIFT) +
                                                  CHUNK_RECS
                                        : 0;
        sqlite3_finalize(s);
        if (rc != SQLITE_ROW)
                return -1;
        ob->ob_last = ob->ob_cover;
        ob->ob_cache_max = max_bytes;
        return 0;
}

/* A key or value copied to b, as vg_outbox_scan gives them: none is NULL,
 * empty is "". */
static const void *blob_copy(char *b, const void *p, size_t n) {
        return p ? (n ? memcpy(b, p, n) : "") : NULL;
}

/* Keeps a copy of a row just written, or notes that the transaction's
 * rows do not fit. */
static void cache_add(vg_outbox_t *ob, const vg_outrec_t *r) {
        size_t tl = strlen(r->or_topic) + 1,
               hl = r->or_headers ? strlen(r->or_headers) + 1 : 0;
        size_t size = sizeof(memrow_t) + tl + hl + r->or_key_len +
                      r->or_value_len;
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
        mr->mr_rec.or_seq = r->or_seq;
        mr->mr_rec.or_partition = r->or_partition;
        mr->mr_rec.or_resolved = r->or_resolved; /* (a reference) */
        mr->mr_rec.or_topic = memcpy(b, r->or_topic, tl);
        b += tl;
        mr->mr_rec.or_headers = r->or_headers ? memcpy(b, r->or_headers, hl)
                                              : NULL;
        b += hl;
        mr->mr_rec.or_key = blob_copy(b, r->or_key, r->or_key_len);
        mr->mr_rec.or_key_len = r->or_key_len;
        b += r->or_key_len;
        mr->mr_rec.or_value = blob_copy(b, r->or_value, r->or_value_len);
        mr->mr_rec.or_value_len = r->or_value_len;
        ob->ob_rows[ob->ob_n++] = mr;
        ob->ob_cache_bytes += size;
}

/* Writes the records packed so far as one chunk (and keeps them in the
 * cache). */
static vg_err_t seal(vg_outbox_t *ob, char *errstr, size_t errstr_size) {
        sqlite3_stmt *s;
        int64_t base;
        int rc;
        if (!ob->ob_chunk_n)
                return VG_OK;
        s = ost(ob, O_ADD);
        sqlite3_bind_int(s, 1, ob->ob_chunk_n);
        sqlite3_bind_blob(s, 2, ob->ob_chunk.vb_data,
                          (int)ob->ob_chunk.vb_len, SQLITE_STATIC);
        rc = sqlite3_step(s);
        sqlite3_reset(s);
        if (rc != SQLITE_DONE) {
                vg_buf_reset(&ob->ob_chunk);
                ob->ob_chunk_n = 0;
                /* those records are gone: the transaction must not
                 * commit (vg_outbox_seal says so until it ends) */
                ob->ob_lost = !sqlite3_get_autocommit(ob->ob_db);
                return vg_seterr(errstr, errstr_size, VG_ERR_STORE,
                                 "outbox: queue records: %s",
                                 sqlite3_errmsg(ob->ob_db));
        }
        base = sqlite3_last_insert_rowid(ob->ob_db) *
               ((int64_t)1 << CHUNK_SHIFT);
        if (ob->ob_cache_max) {
                const unsigned char *p =
                        (const unsigned char *)ob->ob_chunk.vb_data;
                size_t off = 0;
                for (int i = 0; i < ob->ob_chunk_n; i++) {
                        vg_outrec_t r;
                        if (rec_unpack(p, ob->ob_chunk.vb_len, &off, &r))
                                abort(); /* packed just now */
                        r.or_seq = base + i;
                        cache_add(ob, &r);
                }
        }
        ob->ob_last = base + ob->ob_chunk_n - 1;
        vg_buf_reset(&ob->ob_chunk);
        ob->ob_chunk_n = 0;
        return VG_OK;
}

void vg_outbox_chunk_limits(vg_outbox_t *ob, int max_records,
                            size_t max_bytes) {
        ob->ob_chunk_max = max_records < 1 || max_records > CHUNK_RECS
                                   ? CHUNK_MAX
                                   : max_records;
        ob->ob_chunk_bytes = max_bytes ? max_bytes : CHUNK_BYTES;
}

vg_err_t vg_outbox_seal(vg_outbox_t *ob, char *errstr, size_t errstr_size) {
        if (ob->ob_lost)
                return vg_seterr(errstr, errstr_size, VG_ERR_STORE,
                                 "outbox: records of this transaction "
                                 "could not be written");
        return seal(ob, errstr, errstr_size);
}

void vg_outbox_txn_end(vg_outbox_t *ob, bool committed) {
        ob->ob_lost = false;
        if (ob->ob_chunk_n) {
                /* Not sealed before COMMIT: an owner's bug, and these
                 * records are not in the store. */
                if (committed)
                        vg_error("outbox", "%d records queued but not "
                                 "written before COMMIT (dropped)",
                                 ob->ob_chunk_n);
                vg_buf_reset(&ob->ob_chunk);
                ob->ob_chunk_n = 0;
        }
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

static vg_err_t add(vg_outbox_t *ob, const char *topic, int32_t partition,
                    const void *key, size_t key_len, const void *value,
                    size_t value_len, const char *headers, bool ref,
                    char *errstr, size_t errstr_size) {
        vg_err_t err;
        if (key_len > RECORD_MAX || value_len > RECORD_MAX - key_len)
                return vg_seterr(errstr, errstr_size, VG_ERR_INVALID,
                                 "outbox: record of %zu bytes too large",
                                 key_len + value_len);
        /* a large record starts a chunk of its own */
        if (ob->ob_chunk_n &&
            ob->ob_chunk.vb_len + key_len + value_len > ob->ob_chunk_bytes &&
            (err = seal(ob, errstr, errstr_size)))
                return err;
        rec_pack(&ob->ob_chunk, topic, partition, key, key_len, value,
                 value_len, headers, ref);
        ob->ob_chunk_n++;
        /* Packed until the chunk is full or the transaction commits only
         * when the owner ends its transactions with vg_outbox_seal() and
         * vg_outbox_txn_end() (it uses the cache). */
        if (ob->ob_cache_max && !sqlite3_get_autocommit(ob->ob_db) &&
            ob->ob_chunk_n < ob->ob_chunk_max &&
            ob->ob_chunk.vb_len < ob->ob_chunk_bytes)
                return VG_OK;
        return seal(ob, errstr, errstr_size);
}

vg_err_t vg_outbox_add(vg_outbox_t *ob, const char *topic, const void *key,
                       size_t key_len, const void *value, size_t value_len,
                       const char *headers, char *errstr,
                       size_t errstr_size) {
        ob->ob_adds++;
        return add(ob, topic, -1, key, key_len, value, value_len, headers,
                   false, errstr, errstr_size);
}

vg_err_t vg_outbox_add_to(vg_outbox_t *ob, const char *topic,
                          int32_t partition, const void *key, size_t key_len,
                          const void *value, size_t value_len, char *errstr,
                          size_t errstr_size) {
        ob->ob_adds++;
        return add(ob, topic, partition, key, key_len, value, value_len, NULL,
                   false, errstr, errstr_size);
}

vg_err_t vg_outbox_add_ref(vg_outbox_t *ob, const char *topic,
                           int32_t partition, const void *key,
                           size_t key_len, char *errstr, size_t errstr_size) {
        ob->ob_adds++;
        return add(ob, topic, partition, key, key_len, NULL, 0, NULL, true,
                   errstr, errstr_size);
}

void vg_outbox_set_resolver(vg_outbox_t *ob, vg_outbox_resolve_fn fn,
                            void *opaque) {
        ob->ob_resolve = fn;
        ob->ob_ropaque = opaque;
}

/* Hands r to cb, a reference with its value made now; -1 when it cannot
 * be made (logged). */
static int give(vg_outbox_t *ob, const vg_outrec_t *r,
                void (*cb)(const vg_outrec_t *rec, void *opaque),
                void *opaque) {
        vg_outrec_t v;
        char e[512];
        int rc;
        if (!r->or_resolved) {
                cb(r, opaque);
                return 0;
        }
        if (!ob->ob_resolve) {
                vg_error("outbox", "record %lld is a reference and this "
                         "outbox has no resolver", (long long)r->or_seq);
                return -1;
        }
        vg_buf_reset(&ob->ob_rbuf);
        if ((rc = ob->ob_resolve(ob->ob_ropaque, r, &ob->ob_rbuf, e,
                                 sizeof(e))) < 0) {
                vg_error("outbox", "record %lld: %s", (long long)r->or_seq, e);
                return -1;
        }
        v = *r;
        v.or_value = NULL; /* 1: a tombstone */
        v.or_value_len = 0;
        if (rc == 0) {
                v.or_value = ob->ob_rbuf.vb_len ? ob->ob_rbuf.vb_data : "";
                v.or_value_len = ob->ob_rbuf.vb_len;
        }
        cb(&v, opaque);
        return 0;
}

uint64_t vg_outbox_adds(const vg_outbox_t *ob) {
        return ob->ob_adds;
}

void vg_outbox_mark_urgent(vg_outbox_t *ob) {
        ob->ob_urgent++;
}

uint64_t vg_outbox_urgent(const vg_outbox_t *ob) {
        return ob->ob_urgent;
}

int vg_outbox_scan(vg_outbox_t *ob, int64_t after_seq, int max,
                   void (*cb)(const vg_outrec_t *rec, void *opaque),
                   void *opaque) {
        sqlite3_stmt *s;
        int n = 0, rc;
        char e[256];
        if (ob->ob_cache_max && after_seq >= ob->ob_cover &&
            !ob->ob_chunk_n) {
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
                        if (give(ob, &ob->ob_rows[lo]->mr_rec, cb, opaque))
                                return -1;
                return n;
        }
        /* Inside a transaction, the table sees what it packed too. */
        if (seal(ob, e, sizeof(e)))
                return -1;
        s = ost(ob, O_SCAN);
        sqlite3_bind_int64(s, 1, after_seq < 0 ? 0 : after_seq >> CHUNK_SHIFT);
        rc = SQLITE_DONE;
        while (n < max && (rc = sqlite3_step(s)) == SQLITE_ROW) {
                int64_t base = sqlite3_column_int64(s, 0) *
                               ((int64_t)1 << CHUNK_SHIFT),
                        deleted = sqlite3_column_int64(s, 3);
                int cn = sqlite3_column_int(s, 1);
                const unsigned char *p = sqlite3_column_blob(s, 2);
                size_t len = (size_t)sqlite3_column_bytes(s, 2), off = 0;
                if (cn < 1 || cn > CHUNK_RECS || !p) {
                        vg_error("outbox", "damaged chunk %lld (%d records)",
                                 (long long)(base >> CHUNK_SHIFT), cn);
                        sqlite3_reset(s);
                        return -1;
                }
                for (int i = 0; i < cn && n < max; i++) {
                        vg_outrec_t r;
                        if (rec_unpack(p, len, &off, &r)) {
                                vg_error("outbox", "damaged chunk %lld "
                                         "(record %d)",
                                         (long long)(base >> CHUNK_SHIFT), i);
                                sqlite3_reset(s);
                                return -1;
                        }
                        r.or_seq = base + i;
                        if (r.or_seq <= after_seq ||
                            (r.or_seq <= deleted &&
                             base >> CHUNK_SHIFT == deleted >> CHUNK_SHIFT))
                                continue;
                        if (give(ob, &r, cb, opaque)) {
                                sqlite3_reset(s);
                                return -1;
                        }
                        n++;
                }
                rc = SQLITE_DONE;
        }
        sqlite3_reset(s);
        return rc == SQLITE_DONE || rc == SQLITE_ROW ? n : -1;
}

vg_err_t vg_outbox_delete_upto(vg_outbox_t *ob, int64_t seq, char *errstr,
                               size_t errstr_size) {
        sqlite3_stmt *s = ost(ob, O_DELUPTO);
        int rc;
        sqlite3_bind_int64(s, 1, seq >> CHUNK_SHIFT);
        sqlite3_bind_int64(s, 2, (seq & CHUNK_RECS) + 1);
        rc = sqlite3_step(s);
        sqlite3_reset(s);
        if (rc == SQLITE_DONE) {
                s = ost(ob, O_DELMARK);
                sqlite3_bind_int64(s, 1, seq);
                sqlite3_bind_int64(s, 2, seq >> CHUNK_SHIFT);
                rc = sqlite3_step(s);
                sqlite3_reset(s);
        }
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
        return n + ob->ob_chunk_n;
}

int vg_outbox_topics(sqlite3 *db,
                     void (*cb)(const char *topic, void *opaque),
                     void *opaque) {
        sqlite3_stmt *s = NULL;
        int64_t deleted = 0;
        int rc;
        if (sqlite3_prepare_v2(db, "SELECT coalesce(max(upto),0) FROM "
                               "outbox_deleted", -1, &s, NULL) == SQLITE_OK &&
            sqlite3_step(s) == SQLITE_ROW)
                deleted = sqlite3_column_int64(s, 0);
        sqlite3_finalize(s);
        /* an earlier release's table, not yet moved into chunks */
        if (sqlite3_prepare_v2(db, "SELECT topic FROM outbox", -1, &s,
                               NULL) == SQLITE_OK) {
                while ((rc = sqlite3_step(s)) == SQLITE_ROW)
                        cb((const char *)sqlite3_column_text(s, 0), opaque);
                sqlite3_finalize(s);
                if (rc != SQLITE_DONE)
                        return -1;
        }
        if (sqlite3_prepare_v2(db, "SELECT seq, n, recs FROM outbox_chunks",
                               -1, &s, NULL) != SQLITE_OK)
                return 0; /* neither table: nothing queued */
        while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
                int64_t base = sqlite3_column_int64(s, 0) *
                               ((int64_t)1 << CHUNK_SHIFT);
                int cn = sqlite3_column_int(s, 1);
                const unsigned char *p = sqlite3_column_blob(s, 2);
                size_t len = (size_t)sqlite3_column_bytes(s, 2), off = 0;
                for (int i = 0; i < cn; i++) {
                        vg_outrec_t r;
                        if (!p || rec_unpack(p, len, &off, &r)) {
                                sqlite3_finalize(s);
                                return -1;
                        }
                        if (base + i > deleted ||
                            base >> CHUNK_SHIFT != deleted >> CHUNK_SHIFT)
                                cb(r.or_topic, opaque);
                }
        }
        sqlite3_finalize(s);
        return rc == SQLITE_DONE ? 0 : -1;
}
