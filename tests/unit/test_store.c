/*
 * test_store - the partition store's file at its edges (issue 15): a
 * damaged file is refused at open with its path named; a file deleted or
 * replaced while in use stops the commit with an error instead of
 * committing into the void. The patients table: WITHOUT ROWID in a new
 * file, and a file of an earlier release (a rowid table and its index)
 * still read and written as it is.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "vg_partition.h"
#include "vg_record_json.h"

static vg_rules_conf_t rc;
static vg_codec_t *codec;
static vg_part_topics_t topics = {"alerts", "parts", "dlq"};
static char dir[64];

static void patient_event(vg_part_t *part, const char *id,
                          const char *patient) {
        char json[512], err[256];
        vg_event_t e;
        snprintf(json, sizeof(json),
                 "{\"type\":\"sip_created\",\"event_id\":\"%s\","
                 "\"patient_id\":\"%s\",\"occurred_at\":"
                 "\"2026-03-01T08:00:00Z\",\"kommun\":\"0484\","
                 "\"source_system\":\"t\",\"sip_id\":\"s\"}", id,
                 patient);
        assert_int_equal(vg_event_from_jsonl(json, strlen(json), &e, err,
                                             sizeof(err)), VG_OK);
        assert_int_equal(vg_part_begin(part, 1, err, sizeof(err)), VG_OK);
        assert_int_equal(vg_part_event(part, &e, err, sizeof(err)), VG_OK);
        vg_record_clear(e.ev_type, &e);
}

static void one_event(vg_part_t *part, const char *id) {
        patient_event(part, id, "p");
}

/* A new store of partition n in path (dir/partition-n.db) with one event
 * committed, closed again. */
static void store_one(char *path, size_t size, int n) {
        char err[512];
        vg_part_t *part;
        snprintf(path, size, "%s/partition-%d.db", dir, n);
        part = vg_part_open(path, n, &rc, codec, &topics, err, sizeof(err));
        assert_non_null(part);
        one_event(part, "e1");
        assert_int_equal(vg_part_commit(part, err, sizeof(err)), VG_OK);
        vg_part_close(part);
}

static void test_damaged_file_named(void **state) {
        char path[128], err[512];
        vg_part_t *part;
        int fd;
        (void)state;
        store_one(path, sizeof(path), 0);
        /* random bytes over the first pages (header included) */
        fd = open(path, O_WRONLY);
        assert_true(fd >= 0);
        for (int i = 0; i < 64; i++)
                assert_int_equal(pwrite(fd, "\xde\xad\xbe\xef garbage!!!", 16,
                                        i * 97), 16);
        close(fd);
        part = vg_part_open(path, 0, &rc, codec, &topics, err, sizeof(err));
        assert_null(part);
        print_message("    %s\n", err);
        assert_non_null(strstr(err, path));
}

static void test_deleted_while_in_use(void **state) {
        char path[128], err[512];
        vg_part_t *part;
        (void)state;
        snprintf(path, sizeof(path), "%s/partition-1.db", dir);
        part = vg_part_open(path, 1, &rc, codec, &topics, err, sizeof(err));
        assert_non_null(part);
        one_event(part, "e1");
        assert_int_equal(vg_part_commit(part, err, sizeof(err)), VG_OK);
        one_event(part, "e2");
        assert_int_equal(unlink(path), 0);
        assert_int_not_equal(vg_part_commit(part, err, sizeof(err)), VG_OK);
        print_message("    %s\n", err);
        assert_non_null(strstr(err, path));
        vg_part_close(part);
}

/* The patients table's CREATE statement in path, and its row count. */
static void patients_table(const char *path, char *sql, size_t size,
                           int *rows) {
        sqlite3 *db;
        sqlite3_stmt *st;
        assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
        assert_int_equal(sqlite3_prepare_v2(db, "SELECT sql, (SELECT count(*)"
                                            " FROM patients) FROM "
                                            "sqlite_master WHERE name="
                                            "'patients'", -1, &st, NULL),
                         SQLITE_OK);
        assert_int_equal(sqlite3_step(st), SQLITE_ROW);
        snprintf(sql, size, "%s", (const char *)sqlite3_column_text(st, 0));
        *rows = sqlite3_column_int(st, 1);
        sqlite3_finalize(st);
        sqlite3_close(db);
}

static void test_patients_layouts(void **state) {
        char path[128], err[512], sql[256];
        vg_part_t *part;
        sqlite3 *db;
        int rows;
        (void)state;
        store_one(path, sizeof(path), 2);
        patients_table(path, sql, sizeof(sql), &rows);
        assert_non_null(strstr(sql, "WITHOUT ROWID"));
        assert_int_equal(rows, 1);

        /* The earlier releases' table: rowid, an index on patient_id. */
        assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
        assert_int_equal(
                sqlite3_exec(db,
                             "BEGIN; CREATE TABLE old(patient_id TEXT "
                             "PRIMARY KEY, state TEXT NOT NULL); INSERT "
                             "INTO old SELECT * FROM patients; DROP TABLE "
                             "patients; ALTER TABLE old RENAME TO patients;"
                             " COMMIT;",
                             NULL, NULL, NULL),
                SQLITE_OK);
        sqlite3_close(db);

        /* p's state is read from it (e1 again is a duplicate), q's is
         * added to it, and it stays as it is. */
        for (int round = 0; round < 2; round++) {
                part = vg_part_open(path, 2, &rc, codec, &topics, err,
                                    sizeof(err));
                assert_non_null(part);
                one_event(part, "e1");
                patient_event(part, "e2", "q");
                assert_int_equal(vg_part_commit(part, err, sizeof(err)),
                                 VG_OK);
                assert_int_equal(vg_part_stats(part)->ps_duplicates,
                                 round == 0 ? 1 : 2);
                vg_part_close(part);
                patients_table(path, sql, sizeof(sql), &rows);
                assert_null(strstr(sql, "WITHOUT ROWID"));
                assert_int_equal(rows, 2);
        }
}

/* Memory-only (file mode) looks up no patient in a store that had no
 * rows when it was set, and still in one that had: p's e1 again is then
 * a duplicate, and p and q were looked up there. */
static void test_memory_only_rows(void **state) {
        char path[128], err[512];
        vg_part_t *part;
        (void)state;
        store_one(path, sizeof(path), 3);
        for (int stored = 1; stored >= 0; stored--) {
                part = vg_part_open(stored ? path : ":memory:", 3, &rc, codec,
                                    &topics, err, sizeof(err));
                assert_non_null(part);
                vg_part_set_memory_only(part);
                one_event(part, "e1");
                patient_event(part, "e2", "q");
                one_event(part, "e1");
                assert_int_equal(vg_part_commit(part, err, sizeof(err)),
                                 VG_OK);
                /* (the second e1 is one on both) */
                assert_int_equal(vg_part_stats(part)->ps_duplicates,
                                 stored ? 2 : 1);
                assert_int_equal(vg_part_stats(part)->ps_events, 3);
                assert_int_equal(vg_part_stats(part)->ps_lookups,
                                 stored ? 2 : 0);
                vg_part_close(part);
        }
}

/* A persisted partition on an empty store looks up no patient until the
 * cache drops one: after a trim (above vg_part_set_cache's limit) and,
 * on another empty store, after a rollback (the cache read again), the
 * patients' rows are looked up again, so their first events again are
 * duplicates; a store opened with rows looks up from the start. */
static void test_persisted_rows(void **state) {
        char path[128], path2[128], err[512];
        const vg_part_stats_t *st;
        vg_part_t *part;
        (void)state;
        snprintf(path, sizeof(path), "%s/partition-4.db", dir);
        part = vg_part_open(path, 4, &rc, codec, &topics, err, sizeof(err));
        assert_non_null(part);
        st = vg_part_stats(part);
        one_event(part, "e1");
        patient_event(part, "e2", "q");
        assert_int_equal(vg_part_commit(part, err, sizeof(err)), VG_OK);
        assert_int_equal(st->ps_lookups, 0);
        /* a trim (before the next event: the cache holds none now)
         * drops q, and p once q's event comes: q's row is read, its e2
         * a duplicate (p, whose event e3 is, stays for it) */
        vg_part_set_cache(part, 0);
        one_event(part, "e3");
        assert_int_equal(vg_part_commit(part, err, sizeof(err)), VG_OK);
        assert_int_equal(st->ps_lookups, 0);
        patient_event(part, "e2", "q");
        assert_int_equal(vg_part_commit(part, err, sizeof(err)), VG_OK);
        assert_int_equal(st->ps_duplicates, 1);
        assert_int_equal(st->ps_lookups, 1);
        vg_part_close(part);
        /* a rollback drops the cache: p's row is read, e1 a duplicate */
        snprintf(path2, sizeof(path2), "%s/partition-5.db", dir);
        part = vg_part_open(path2, 5, &rc, codec, &topics, err, sizeof(err));
        assert_non_null(part);
        st = vg_part_stats(part);
        one_event(part, "e1");
        assert_int_equal(vg_part_commit(part, err, sizeof(err)), VG_OK);
        one_event(part, "e3");
        vg_part_rollback(part);
        one_event(part, "e1");
        assert_int_equal(vg_part_commit(part, err, sizeof(err)), VG_OK);
        assert_int_equal(st->ps_duplicates, 1);
        assert_int_equal(st->ps_lookups, 1);
        vg_part_close(part);
        /* opened with rows: looked up at once */
        part = vg_part_open(path, 4, &rc, codec, &topics, err, sizeof(err));
        assert_non_null(part);
        patient_event(part, "e5", "r");
        one_event(part, "e3");
        assert_int_equal(vg_part_commit(part, err, sizeof(err)), VG_OK);
        assert_int_equal(vg_part_stats(part)->ps_duplicates, 1);
        assert_int_equal(vg_part_stats(part)->ps_lookups, 2);
        vg_part_close(part);
}

/* The cache bounds a batch too: beyond vg_part_set_cache's limit, the
 * batch's changed patients are written before its commit (in its
 * transaction) and leave memory, and every one is stored by the commit;
 * a first start still looks up none of its new patients. */
static void test_cache_bounds_batch(void **state) {
        char path[128], err[512], eid[32], pid[32];
        const vg_part_stats_t *st;
        vg_part_t *part;
        (void)state;
        snprintf(path, sizeof(path), "%s/partition-6.db", dir);
        part = vg_part_open(path, 6, &rc, codec, &topics, err, sizeof(err));
        assert_non_null(part);
        st = vg_part_stats(part);
        vg_part_set_cache(part, 4);
        for (int i = 0; i < 40; i++) {
                snprintf(eid, sizeof(eid), "b%d", i);
                snprintf(pid, sizeof(pid), "pt%d", i);
                patient_event(part, eid, pid);
                /* (the limit, the patient of the event included) */
                assert_true(vg_part_patients_in_memory(part) <= 4);
        }
        assert_true(vg_part_in_batch(part));
        assert_true(st->ps_early >= 35);
        assert_int_equal(vg_part_commit(part, err, sizeof(err)), VG_OK);
        assert_int_equal(st->ps_states, 40);
        /* the store was empty: a new patient is not looked up, though
         * others have left the cache (their ids' hashes are known) */
        assert_int_equal(st->ps_lookups, 0);
        vg_part_close(part);
        /* every patient's event is stored: each again is a duplicate */
        part = vg_part_open(path, 6, &rc, codec, &topics, err, sizeof(err));
        assert_non_null(part);
        st = vg_part_stats(part);
        for (int i = 0; i < 40; i++) {
                snprintf(eid, sizeof(eid), "b%d", i);
                snprintf(pid, sizeof(pid), "pt%d", i);
                patient_event(part, eid, pid);
        }
        assert_int_equal(vg_part_commit(part, err, sizeof(err)), VG_OK);
        assert_int_equal(st->ps_duplicates, 40);
        assert_int_equal(st->ps_lookups, 40);
        vg_part_close(part);
}

static int setup(void **state) {
        char err[256];
        (void)state;
        vg_rules_conf_default(&rc);
        snprintf(dir, sizeof(dir), "/tmp/vg-test-store-XXXXXX");
        if (!mkdtemp(dir))
                return -1;
        codec = vg_codec_new(err, sizeof(err));
        return codec ? 0 : -1;
}

static int teardown(void **state) {
        char cmd[128];
        (void)state;
        vg_codec_destroy(codec);
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        return system(cmd) == 0 ? 0 : -1;
}

/* The DLQ rows of a batch: each row's key length (-1: none) and value
 * length (-1: none, a tombstone). */
typedef struct {
        int n;
        long key[8], val[8];
} dlq_rows_t;

static void dlq_cb(const vg_outrec_t *r, void *opaque) {
        dlq_rows_t *d = opaque;
        if (strcmp(r->or_topic, "dlq") || d->n == 8)
                return;
        d->key[d->n] = r->or_key ? (long)r->or_key_len : -1;
        d->val[d->n++] = r->or_value ? (long)r->or_value_len : -1;
}

/* SPEC §7: a refused record goes to the DLQ unchanged. A tombstone (no
 * value) stays one; an empty value stays empty; a key and value left out
 * (a personnummer in the key, or too large to copy) are an empty value,
 * a tombstone's as well. */
static void test_dlq_values(void **state) {
        char path[128], err[512];
        vg_part_t *part;
        dlq_rows_t d = {0};
        size_t big_len = 970000;
        char *big = malloc(big_len);
        (void)state;
        assert_non_null(big);
        memset(big, 'k', big_len);
        snprintf(path, sizeof(path), "%s/partition-7.db", dir);
        part = vg_part_open(path, 7, &rc, codec, &topics, err, sizeof(err));
        assert_non_null(part);
        assert_int_equal(vg_part_begin(part, 1, err, sizeof(err)), VG_OK);
        assert_int_equal(vg_part_dlq(part, "k1", 2, NULL, 0, "bad-header",
                                     "no value (a tombstone)", "adm", 7, 0,
                                     err, sizeof(err)), VG_OK);
        assert_int_equal(vg_part_dlq(part, "k2", 2, "", 0, "bad-header",
                                     NULL, "adm", 7, 1, err, sizeof(err)),
                         VG_OK);
        assert_int_equal(vg_part_dlq(part, "191212121212 ", 13, NULL, 0,
                                     "bad-header", NULL, "adm", 7, 2, err,
                                     sizeof(err)), VG_OK);
        assert_int_equal(vg_part_dlq(part, big, big_len, NULL, 0,
                                     "too-large", NULL, "adm", 7, 3, err,
                                     sizeof(err)), VG_OK);
        assert_int_equal(vg_part_dlq(part, "k5", 2, "x", 1, "invalid", NULL,
                                     "adm", 7, 4, err, sizeof(err)), VG_OK);
        assert_int_equal(vg_part_commit(part, err, sizeof(err)), VG_OK);
        assert_true(vg_part_outbox_scan(part, 0, 100, dlq_cb, &d) >= 5);
        assert_int_equal(d.n, 5);
        assert_int_equal(d.key[0], 2);
        assert_int_equal(d.val[0], -1); /* the tombstone */
        assert_int_equal(d.val[1], 0);  /* empty, not none */
        assert_int_equal(d.key[2], -1); /* left out: personnummer */
        assert_int_equal(d.val[2], 0);
        assert_int_equal(d.key[3], -1); /* left out: too large */
        assert_int_equal(d.val[3], 0);
        assert_int_equal(d.val[4], 1);
        vg_part_close(part);
        /* the same read back from the store (not the outbox's memory) */
        part = vg_part_open(path, 7, &rc, codec, &topics, err, sizeof(err));
        assert_non_null(part);
        memset(&d, 0, sizeof(d));
        assert_true(vg_part_outbox_scan(part, 0, 100, dlq_cb, &d) >= 5);
        assert_int_equal(d.n, 5);
        assert_int_equal(d.val[0], -1);
        assert_int_equal(d.val[1], 0);
        assert_int_equal(d.val[2], 0);
        assert_int_equal(d.val[3], 0);
        vg_part_close(part);
        free(big);
}

/* The last input record a state processed (vg_part_inputs.c): kept with
 * the batch that processed it, and used only while the topic's offset is
 * where that batch left it. A state whose offset moved on without it (an
 * earlier release processed on; modelled by writing the offsets table as
 * that release does) has a stale record: comparing it would skip a record
 * and read the ones after it again. A later batch with no record of the
 * topic (it moved past a transaction's marker) keeps the record valid. */
static void test_last_input_record(void **state) {
        char path[128], err[512];
        int64_t off, hash;
        vg_part_t *part;
        sqlite3 *db;
        (void)state;
        snprintf(path, sizeof(path), "%s/partition-8.db", dir);
        part = vg_part_open(path, 8, &rc, codec, &topics, err, sizeof(err));
        assert_non_null(part);
        assert_false(vg_part_input_last(part, "adm", &off, &hash));
        one_event(part, "e1");
        vg_part_note_input(part, "adm", 41, 12345);
        assert_int_equal(vg_part_set_offset(part, "adm", 42, err, sizeof(err)),
                         VG_OK);
        assert_int_equal(vg_part_commit(part, err, sizeof(err)), VG_OK);
        assert_true(vg_part_input_last(part, "adm", &off, &hash));
        assert_int_equal(off, 41);
        assert_int_equal(hash, 12345);
        /* past a marker: the offset moves, the record is still the last */
        assert_int_equal(vg_part_begin(part, 1, err, sizeof(err)), VG_OK);
        assert_int_equal(vg_part_set_offset(part, "adm", 43, err, sizeof(err)),
                         VG_OK);
        assert_int_equal(vg_part_commit(part, err, sizeof(err)), VG_OK);
        assert_true(vg_part_input_last(part, "adm", &off, &hash));
        assert_int_equal(off, 41);
        vg_part_close(part);
        /* an earlier release moves the offset alone */
        assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
        assert_int_equal(sqlite3_exec(db,
                                      "UPDATE offsets SET next_offset=60 "
                                      "WHERE topic='adm'",
                                      NULL, NULL, NULL),
                         SQLITE_OK);
        assert_int_equal(sqlite3_changes(db), 1);
        sqlite3_close(db);
        part = vg_part_open(path, 8, &rc, codec, &topics, err, sizeof(err));
        assert_non_null(part);
        assert_int_equal(vg_part_offset(part, "adm"), 60);
        assert_false(vg_part_input_last(part, "adm", &off, &hash));
        vg_part_close(part);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_damaged_file_named),
                cmocka_unit_test(test_deleted_while_in_use),
                cmocka_unit_test(test_patients_layouts),
                cmocka_unit_test(test_memory_only_rows),
                cmocka_unit_test(test_persisted_rows),
                cmocka_unit_test(test_cache_bounds_batch),
                cmocka_unit_test(test_dlq_values),
                cmocka_unit_test(test_last_input_record),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
