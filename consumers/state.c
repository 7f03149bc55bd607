/*
 * state.c - `vigil state`: what `vigil process` keeps in state.dir, one
 * SQLite file per input partition (partition-N.db), read without changing
 * it:
 *
 *   list                 one line per partition file
 *   show PART            a partition: every meta row, offsets, counts, size
 *   patient PSEUDONYM    one patient's derived state
 *   export PART -o FILE  a consistent copy (SQLite online backup)
 *   import FILE          a copy put back as partition-N.db (the one
 *                        subcommand that writes; never under a processor)
 *
 * Contents: help and options; opening a partition file read-only; show and
 * list (built as JSON, printed as JSON or text); patient; export, import.
 *
 * The schema is vg_partition.c's and vg_outbox.c's: this file reads it with
 * its own queries and only the columns it names, and prints every meta row
 * whatever its key, so keys added later show up without a change here.
 * Nothing that looks like a personnummer is printed (docs/EVENTS.md §7):
 * every string of a patient's state is checked before it is shown.
 */
#include "vg_cli.h"
#include "vg_config.h"
#include "vg_consumers.h"
#include "vg_lock.h"
#include "vg_partition.h"
#include "vg_patient_store.h"
#include "vg_record_json.h"
#include "vg_time.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <jansson.h>
#include <sqlite3.h>

#define CMD "state"
#define JSON_FLAGS (JSON_COMPACT | JSON_PRESERVE_ORDER)
#define WITHHELD "(withheld: looks like a personnummer)"

/* What the command line asked for. */
typedef struct sopts_s {
        const char *so_dir;       /* state.dir */
        const char *so_out;       /* export -o */
        const char *so_part;      /* --partition */
        bool        so_json;      /* -j */
        bool        so_force;     /* --force */
        bool        so_check;     /* show --check */
} sopts_t;

static void help(void) {
        printf("Usage: vigil state list [-j]\n"
               "       vigil state show PART [-j] [--check]\n"
               "       vigil state patient PSEUDONYM [--partition PART] "
               "[-j]\n"
               "       vigil state export PART -o FILE [--force]\n"
               "       vigil state import FILE [--partition N] [--force]\n"
               "\n"
               "Inspects what vigil process keeps in state.dir: one SQLite "
               "file per input\n"
               "partition (partition-N.db) holding its patients, indicator "
               "counters, timers,\n"
               "watermark, input offsets and the outbox of records still to "
               "publish. Files\n"
               "are only read: list, show, patient and export work while "
               "the processor runs.\n"
               "Only import writes, and only while no processor holds "
               "state.dir.\n"
               "\n"
               "  list         one line per partition file: size on disk "
               "(database + WAL),\n"
               "               patients, counter cells, timers, outbox "
               "depth, watermark (UTC),\n"
               "               schema version\n"
               "  show PART    one partition: every meta row (times also as "
               "UTC), the next\n"
               "               offset of each input topic, counts, the "
               "outbox by topic, size\n"
               "  patient P    one patient's state, by pseudonym (its "
               "patient_id), from every\n"
               "               partition file: stored events, ids pruned by "
               "retention,\n"
               "               contributions (cases), the ACTIVE alerts last "
               "published, the\n"
               "               next timer. P must be the pseudonym: a "
               "personnummer is refused,\n"
               "               and no value that looks like one is printed\n"
               "  export PART  a consistent copy of a partition file "
               "(SQLite online backup,\n"
               "               safe while the processor runs), created with "
               "mode 0600\n"
               "  import FILE  puts a copy (an export) back as "
               "partition-N.db, N as the file\n"
               "               says, after checking it (quick_check, schema "
               "version, partition);\n"
               "               refused while a processor holds state.dir, "
               "and over an existing\n"
               "               partition file without --force; removes the "
               "partition's stale\n"
               "               -wal/-shm files. The processor resumes from "
               "the file's offsets.\n"
               "\n"
               "PART is a partition number (state.dir/partition-N.db) or the "
               "path of a\n"
               "partition file (an export).\n"
               "\n"
               "Options:\n"
               "  -j, --json            JSON: list prints one object per "
               "partition (JSON\n"
               "                        Lines), show one object, patient one "
               "per partition\n"
               "                        holding the patient; show --json "
               "describes the content\n"
               "                        (the same for a copy), not the "
               "files\n"
               "      --check           show: also run SQLite's quick_check "
               "over the file\n"
               "      --partition PART  patient: look in PART only; import: "
               "the partition\n"
               "                        the file must hold\n"
               "  -o, --out FILE        export: the file to write (refused "
               "if it exists)\n"
               "      --force           export: replace FILE; import: "
               "replace the partition\n"
               "                        file (the state it holds is lost)\n"
               "  -F FILE               configuration properties file "
               "(default: $VIGIL_CONFIG,\n"
               "                        else ./vigil.conf if present)\n"
               "  -X KEY=VALUE          set a configuration key; the "
               "directory is state.dir\n"
               "                        (-X state.dir=DIR)\n"
               "  -h, --help            this help\n"
               "\n"
               "Exit status: 0 done, 1 failed (a file missing, unreadable or "
               "damaged, no\n"
               "such patient, import refused), 2 usage error (a personnummer "
               "given as\n"
               "PSEUDONYM too).\n"
               "\n"
               "See docs/RUNBOOK.md, \"Inspecting state: vigil state\".\n");
}

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int fail(const char *fmt, ...) {
        va_list ap;
        fprintf(stderr, "vigil " CMD ": ");
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
        return VG_EXIT_FAIL;
}

/*
 * Personal data
 */

/* Does s hold a personnummer (vg_pnr_like: 10 or 12 digits, a plausible
 * date, maybe '-' or '+' before the last four), the whole value or a part
 * standing on its own (not touching a letter or digit)? A hex pseudonym
 * is not taken for one. */
static bool pnr_in(const char *s) {
        size_t n = strlen(s);
        for (size_t i = 0; i < n; i++) {
                if (!isdigit((unsigned char)s[i]) ||
                    (i && isalnum((unsigned char)s[i - 1])))
                        continue;
                for (size_t len = 10; len <= 13 && i + len <= n; len++)
                        if ((i + len == n ||
                             !isalnum((unsigned char)s[i + len])) &&
                            vg_pnr_like(s + i, len))
                                return true;
        }
        return false;
}

/* Replaces every string in j that holds a personnummer. */
static void redact(json_t *j) {
        const char *k;
        json_t *v;
        size_t i;
        if (json_is_object(j)) {
                json_object_foreach(j, k, v) {
                        if (json_is_string(v) && pnr_in(json_string_value(v)))
                                json_object_set_new(j, k, json_string(WITHHELD));
                        else
                                redact(v);
                }
        } else if (json_is_array(j)) {
                json_array_foreach(j, i, v) {
                        if (json_is_string(v) && pnr_in(json_string_value(v)))
                                json_array_set_new(j, i, json_string(WITHHELD));
                        else
                                redact(v);
                }
        }
}

/*
 * Partition files
 */

/* An epoch-ms time as RFC 3339, null for none (VG_WM_NONE; data_since
 * stores INT64_MAX for none). */
static json_t *jtime(int64_t ms) {
        char buf[VG_TIME_BUFSZ];
        if (ms == INT64_MIN || ms == INT64_MAX)
                return json_null();
        return json_string(vg_time_format(ms, buf));
}

static const char *jtext(const json_t *j, char *buf, size_t n) {
        if (!j || json_is_null(j))
                return "-";
        if (json_is_string(j))
                return json_string_value(j);
        if (json_is_integer(j))
                snprintf(buf, n, "%lld", (long long)json_integer_value(j));
        else if (json_is_true(j) || json_is_false(j))
                snprintf(buf, n, "%s", json_is_true(j) ? "true" : "false");
        else {
                char *d = json_dumps(j, JSON_FLAGS | JSON_ENCODE_ANY);
                snprintf(buf, n, "%s", d ? d : "?");
                free(d);
        }
        return buf;
}

static void fmt_size(int64_t b, char *buf, size_t n) {
        if (b < 1000)
                snprintf(buf, n, "%lld B", (long long)b);
        else if (b < 1000000)
                snprintf(buf, n, "%.1f KB", (double)b / 1e3);
        else if (b < 1000000000)
                snprintf(buf, n, "%.1f MB", (double)b / 1e6);
        else
                snprintf(buf, n, "%.1f GB", (double)b / 1e9);
}

/* SQLite's error in words an operator can act on. */
static const char *db_why(sqlite3 *db, int rc) {
        switch (rc & 0xff) {
        case SQLITE_NOTADB:
                return "not a SQLite database";
        case SQLITE_CORRUPT:
                return "damaged (SQLite: database disk image is malformed)";
        }
        return db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
}

static vg_err_t db_err(char *errstr, size_t n, const char *path,
                       const char *what, sqlite3 *db, int rc) {
        return vg_seterr(errstr, n, VG_ERR_STORE, "%s: %s%s%s", path,
                         what ? what : "", what ? ": " : "", db_why(db, rc));
}

/* Opens path read-only and checks that it is a partition file: a SQLite
 * database with the store's tables. NULL + errstr. (Opening a WAL database
 * read-only leaves its -wal and -shm files in place, empty if they were
 * not there: SQLite needs them to read, and cannot remove them read-only.) */
static sqlite3 *part_open(const char *path, char *errstr, size_t n) {
        static const char *const tables[] = {"meta",   "offsets", "patients",
                                             "timers", "cells",   "outbox"};
        struct stat st;
        sqlite3 *db = NULL;
        sqlite3_stmt *s = NULL;
        int rc;

        if (stat(path, &st)) {
                vg_seterr(errstr, n, VG_ERR_IO, "%s: %s", path,
                          strerror(errno));
                return NULL;
        }
        if (!S_ISREG(st.st_mode)) {
                vg_seterr(errstr, n, VG_ERR_IO, "%s: not a regular file",
                          path);
                return NULL;
        }
        if ((rc = sqlite3_open_v2(path, &db,
                                  SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX,
                                  NULL)) != SQLITE_OK) {
                db_err(errstr, n, path, NULL, db, rc);
                sqlite3_close(db);
                return NULL;
        }
        sqlite3_busy_timeout(db, 5000);
        if ((rc = sqlite3_prepare_v2(db,
                                     "SELECT 1 FROM sqlite_master WHERE "
                                     "type='table' AND name=?",
                                     -1, &s, NULL)) != SQLITE_OK)
                goto err;
        for (size_t i = 0; i < VG_ARRAY_SIZE(tables); i++) {
                sqlite3_reset(s);
                sqlite3_bind_text(s, 1, tables[i], -1, SQLITE_STATIC);
                rc = sqlite3_step(s);
                if (rc == SQLITE_DONE) {
                        vg_seterr(errstr, n, VG_ERR_STORE,
                                  "%s: not a vigil partition file (no table "
                                  "%s)", path, tables[i]);
                        sqlite3_finalize(s);
                        sqlite3_close(db);
                        return NULL;
                }
                if (rc != SQLITE_ROW)
                        goto err;
        }
        sqlite3_finalize(s);
        return db;
err:
        db_err(errstr, n, path, NULL, db, rc);
        sqlite3_finalize(s);
        sqlite3_close(db);
        return NULL;
}

/* The integer in the first column of the first row of sql (with text
 * parameter arg, if any), or def when there is no row or it is NULL.
 * Returns -1 with errstr on error. */
static int q_int(sqlite3 *db, const char *path, const char *sql,
                 const char *arg, int64_t def, int64_t *out, char *errstr,
                 size_t n) {
        sqlite3_stmt *s = NULL;
        int rc = sqlite3_prepare_v2(db, sql, -1, &s, NULL);
        *out = def;
        if (rc == SQLITE_OK) {
                if (arg)
                        sqlite3_bind_text(s, 1, arg, -1, SQLITE_STATIC);
                rc = sqlite3_step(s);
                if (rc == SQLITE_ROW &&
                    sqlite3_column_type(s, 0) != SQLITE_NULL)
                        *out = sqlite3_column_int64(s, 0);
        }
        sqlite3_finalize(s);
        if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
                db_err(errstr, n, path, NULL, db, rc);
                return -1;
        }
        return 0;
}

/* A meta value as JSON, whatever its type. */
static json_t *col_json(sqlite3_stmt *s, int i) {
        switch (sqlite3_column_type(s, i)) {
        case SQLITE_INTEGER:
                return json_integer(sqlite3_column_int64(s, i));
        case SQLITE_FLOAT:
                return json_real(sqlite3_column_double(s, i));
        case SQLITE_TEXT:
                return json_stringn((const char *)sqlite3_column_text(s, i),
                                    (size_t)sqlite3_column_bytes(s, i));
        case SQLITE_BLOB:
                return json_pack("{s:I}", "blob_bytes",
                                 (json_int_t)sqlite3_column_bytes(s, i));
        }
        return json_null();
}

/* Is meta key a time (epoch ms)? The keys vg_partition.c writes as times,
 * and any later one named *_at. */
static bool meta_is_time(const char *key) {
        size_t n = strlen(key);
        return !strcmp(key, "watermark") || !strcmp(key, "data_since") ||
               !strncmp(key, "topic_time.", 11) ||
               (n > 3 && !strcmp(key + n - 3, "_at"));
}

/* The event type of meta key topic_time.T, or NULL. */
static const char *topic_time_type(const char *key) {
        char *end;
        long t;
        if (strncmp(key, "topic_time.", 11))
                return NULL;
        t = strtol(key + 11, &end, 10);
        if (*end || end == key + 11 || t < 0 || t >= VG_EVENT_TYPES)
                return NULL;
        return vg_rectype((vg_rectype_t)t)->rt_json_type;
}

/* Rows of sql (key TEXT, value) into object o; -1 + errstr on error. */
static int q_rows(sqlite3 *db, const char *path, const char *sql, json_t *o,
                  char *errstr, size_t n) {
        sqlite3_stmt *s = NULL;
        int rc = sqlite3_prepare_v2(db, sql, -1, &s, NULL);
        while (rc == SQLITE_OK && (rc = sqlite3_step(s)) == SQLITE_ROW) {
                const char *k = (const char *)sqlite3_column_text(s, 0);
                json_object_set_new(o, k ? k : "", col_json(s, 1));
                rc = SQLITE_OK;
        }
        sqlite3_finalize(s);
        if (rc != SQLITE_DONE) {
                db_err(errstr, n, path, NULL, db, rc);
                return -1;
        }
        return 0;
}

static int64_t jint(const json_t *o, const char *key, int64_t def) {
        const json_t *v = json_object_get(o, key);
        return json_is_integer(v) ? (int64_t)json_integer_value(v) : def;
}

/* A partition's content as JSON: meta (every row), offsets, counts,
 * outbox by topic, size in pages. Read in one transaction, so the numbers
 * belong together. Only what the file holds: a copy gives the same
 * object. NULL + errstr. */
static json_t *part_json(sqlite3 *db, const char *path, bool check,
                         char *errstr, size_t n) {
        static const struct {
                const char *name, *sql;
        } counts[] = {
                {"patients", "SELECT count(*) FROM patients"},
                {"cells", "SELECT count(*) FROM cells"},
                {"cells_pending", "SELECT count(*) FROM cells WHERE pending"},
                {"timers", "SELECT count(*) FROM timers"},
                {"outbox", "SELECT count(*) FROM outbox"},
        };
        json_t *o = json_object(), *meta = json_object(),
               *offsets = json_object(), *cnt = json_object(),
               *outbox = json_object(), *tt = json_object(), *v;
        const char *k;
        int64_t x, pages, psize, pfree;

        errstr[0] = '\0';
        if (sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK ||
            q_rows(db, path, "SELECT key, value FROM meta ORDER BY key", meta,
                   errstr, n) ||
            q_rows(db, path,
                   "SELECT topic, next_offset FROM offsets ORDER BY topic",
                   offsets, errstr, n) ||
            q_rows(db, path,
                   "SELECT topic, count(*) FROM outbox GROUP BY topic "
                   "ORDER BY topic",
                   outbox, errstr, n))
                goto err;
        v = json_object_get(meta, "partition");
        json_object_set_new(o, "partition",
                            json_is_integer(v) ? json_incref(v) : json_null());
        v = json_object_get(meta, "schema_version");
        json_object_set_new(o, "schema_version",
                            json_is_integer(v) ? json_incref(v) : json_null());
        json_object_set_new(o, "watermark",
                            jtime(jint(meta, "watermark", INT64_MIN)));
        json_object_set_new(o, "data_since",
                            jtime(jint(meta, "data_since", INT64_MAX)));
        json_object_foreach(meta, k, v) {
                const char *type = topic_time_type(k);
                if (type && json_is_integer(v))
                        json_object_set_new(tt, type,
                                            jtime(json_integer_value(v)));
        }
        json_object_set_new(o, "topic_times", tt);
        tt = NULL;
        json_object_set_new(o, "offsets", offsets);
        offsets = NULL;
        for (size_t i = 0; i < VG_ARRAY_SIZE(counts); i++) {
                if (q_int(db, path, counts[i].sql, NULL, 0, &x, errstr, n))
                        goto err;
                json_object_set_new(cnt, counts[i].name, json_integer(x));
        }
        json_object_set_new(o, "counts", cnt);
        cnt = NULL;
        if (q_int(db, path, "SELECT min(due) FROM timers", NULL, INT64_MAX,
                  &x, errstr, n))
                goto err;
        json_object_set_new(o, "next_timer_due", jtime(x));
        json_object_set_new(o, "outbox", outbox);
        outbox = NULL;
        if (q_int(db, path, "PRAGMA page_count", NULL, 0, &pages, errstr, n) ||
            q_int(db, path, "PRAGMA page_size", NULL, 0, &psize, errstr, n) ||
            q_int(db, path, "PRAGMA freelist_count", NULL, 0, &pfree, errstr,
                  n))
                goto err;
        json_object_set_new(o, "content",
                            json_pack("{s:I,s:I,s:I,s:I}", "bytes",
                                      (json_int_t)(pages * psize), "pages",
                                      (json_int_t)pages, "page_size",
                                      (json_int_t)psize, "free_pages",
                                      (json_int_t)pfree));
        if (check) {
                sqlite3_stmt *s = NULL;
                json_t *res = json_array();
                int rc = sqlite3_prepare_v2(db, "PRAGMA quick_check(20)", -1,
                                            &s, NULL);
                while (rc == SQLITE_OK &&
                       (rc = sqlite3_step(s)) == SQLITE_ROW) {
                        const char *t = (const char *)sqlite3_column_text(s, 0);
                        json_array_append_new(res, json_string(t ? t : "?"));
                        rc = SQLITE_OK;
                }
                sqlite3_finalize(s);
                if (rc != SQLITE_DONE)
                        json_array_append_new(res,
                                              json_string(db_why(db, rc)));
                json_object_set_new(o, "quick_check", res);
        }
        json_object_set_new(o, "meta", meta);
        sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
        return o;
err:
        if (!*errstr)
                db_err(errstr, n, path, NULL, db, sqlite3_errcode(db));
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        json_decref(o);
        json_decref(meta);
        json_decref(offsets);
        json_decref(cnt);
        json_decref(outbox);
        json_decref(tt);
        return NULL;
}

/* True if quick_check passed (a part_json with check). */
static bool check_ok(const json_t *o) {
        const json_t *q = json_object_get(o, "quick_check");
        return json_array_size(q) == 1 &&
               json_is_string(json_array_get(q, 0)) &&
               !strcmp(json_string_value(json_array_get(q, 0)), "ok");
}

/* Bytes of path on disk, 0 if none. */
static int64_t file_bytes(const char *path) {
        struct stat st;
        return stat(path, &st) ? 0 : (int64_t)st.st_size;
}

/* Numbers of the partition files in dir (partition-N.db), sorted; -1 +
 * errstr if dir cannot be read. */
static int part_numbers(const char *dir, int **out, char *errstr, size_t n) {
        DIR *dp = opendir(dir);
        struct dirent *de;
        int *v = NULL, cnt = 0, cap = 0;
        *out = NULL;
        if (!dp) {
                vg_seterr(errstr, n, VG_ERR_IO,
                          "state.dir %s: %s (set it with -X state.dir=DIR "
                          "or in the -F file)", dir, strerror(errno));
                return -1;
        }
        while ((de = readdir(dp))) {
                const char *p = de->d_name;
                char *end;
                long num;
                if (strncmp(p, "partition-", 10) ||
                    !isdigit((unsigned char)p[10]))
                        continue;
                errno = 0;
                num = strtol(p + 10, &end, 10);
                if (errno || strcmp(end, ".db") || num > INT_MAX)
                        continue;
                if (cnt == cap) {
                        cap = cap ? cap * 2 : 16;
                        v = vg_realloc(v, sizeof(*v) * (size_t)cap);
                }
                v[cnt++] = (int)num;
        }
        closedir(dp);
        for (int i = 1; i < cnt; i++) /* few: insertion sort */
                for (int j = i; j > 0 && v[j - 1] > v[j]; j--) {
                        int t = v[j];
                        v[j] = v[j - 1];
                        v[j - 1] = t;
                }
        *out = v;
        return cnt;
}

/* PART (a partition number or a file's path) -> path; *num is the
 * partition number, or -1 for a path. */
static int part_arg(const sopts_t *so, const char *arg, char *path,
                    size_t size, int *num) {
        size_t len = strlen(arg);
        *num = -1;
        if (len && len <= 9 && strspn(arg, "0123456789") == len) {
                *num = atoi(arg);
                snprintf(path, size, "%s/partition-%d.db", so->so_dir, *num);
                if (access(path, F_OK)) {
                        char errstr[512], list[256] = "";
                        int *nums, cnt;
                        size_t at = 0;
                        cnt = part_numbers(so->so_dir, &nums, errstr,
                                           sizeof(errstr));
                        if (cnt < 0)
                                return fail("%s", errstr);
                        for (int i = 0; i < cnt && at < sizeof(list) - 16;
                             i++)
                                at += (size_t)snprintf(list + at,
                                                       sizeof(list) - at,
                                                       "%s%d", i ? ", " : "",
                                                       nums[i]);
                        vg_free(nums);
                        return fail("no partition %d in state.dir %s (%s%s)",
                                    *num, so->so_dir,
                                    cnt ? "partitions here: " : "no partition "
                                                                "files",
                                    list);
                }
                return 0;
        }
        if (!len)
                return vg_cli_usage_error(CMD, "PART: expected a partition "
                                          "number or a partition file");
        snprintf(path, size, "%s", arg);
        return 0;
}

/*
 * list, show
 */

static void print_show(const json_t *o, const char *path, int num) {
        char a[64], b[64], c[64];
        const json_t *cnt = json_object_get(o, "counts"),
                     *ct = json_object_get(o, "content"), *v;
        const char *k;
        int64_t db = file_bytes(path), wal;
        char wpath[PATH_MAX + 8];

        snprintf(wpath, sizeof(wpath), "%s-wal", path);
        wal = file_bytes(wpath);
        printf("partition       %s", jtext(json_object_get(o, "partition"),
                                           a, sizeof(a)));
        if (num >= 0 && jint(o, "partition", num) != num)
                printf("  (but the file is named partition-%d.db!)", num);
        printf("\n");
        fmt_size(db + wal, a, sizeof(a));
        printf("file            %s, %s on disk (database %lld B, wal %lld "
               "B)\n", path, a, (long long)db, (long long)wal);
        fmt_size(jint(ct, "bytes", 0), a, sizeof(a));
        printf("content         %s (%lld pages of %lld B, %lld free)\n", a,
               (long long)jint(ct, "pages", 0),
               (long long)jint(ct, "page_size", 0),
               (long long)jint(ct, "free_pages", 0));
        if ((v = json_object_get(o, "quick_check")))
                printf("quick_check     %s\n",
                       check_ok(o) ? "ok" : "FAILED (see below)");
        printf("schema version  %s\n",
               jtext(json_object_get(o, "schema_version"), a, sizeof(a)));
        printf("watermark       %s\n",
               jtext(json_object_get(o, "watermark"), a, sizeof(a)));
        printf("data since      %s\n",
               jtext(json_object_get(o, "data_since"), a, sizeof(a)));
        printf("topic times    ");
        json_object_foreach(json_object_get(o, "topic_times"), k, v)
                printf(" %s %s", k, jtext(v, a, sizeof(a)));
        printf("\n");
        printf("patients        %lld\n", (long long)jint(cnt, "patients", 0));
        printf("timers          %lld, next due %s\n",
               (long long)jint(cnt, "timers", 0),
               jtext(json_object_get(o, "next_timer_due"), a, sizeof(a)));
        printf("counter cells   %lld (%lld with a part still to queue)\n",
               (long long)jint(cnt, "cells", 0),
               (long long)jint(cnt, "cells_pending", 0));
        printf("outbox          %lld records to publish\n",
               (long long)jint(cnt, "outbox", 0));
        json_object_foreach(json_object_get(o, "outbox"), k, v)
                printf("                  %-32s %s\n", k,
                       jtext(v, a, sizeof(a)));
        printf("offsets         next offset to consume, by input topic\n");
        json_object_foreach(json_object_get(o, "offsets"), k, v)
                printf("                  %-32s %s\n", k,
                       jtext(v, a, sizeof(a)));
        printf("meta            every row\n");
        json_object_foreach(json_object_get(o, "meta"), k, v) {
                const char *type = topic_time_type(k);
                b[0] = c[0] = '\0';
                if (meta_is_time(k) && json_is_integer(v)) {
                        json_t *t = jtime(json_integer_value(v));
                        snprintf(b, sizeof(b), "  %s",
                                 json_is_null(t) ? "(none)"
                                                 : json_string_value(t));
                        json_decref(t);
                }
                if (type)
                        snprintf(c, sizeof(c), "  (%s)", type);
                printf("                  %-20s %s%s%s\n", k,
                       jtext(v, a, sizeof(a)), b, c);
        }
        if ((v = json_object_get(o, "quick_check")) && !check_ok(o)) {
                size_t i;
                json_t *e;
                json_array_foreach(v, i, e)
                        printf("quick_check: %s\n", json_string_value(e));
        }
}

static int cmd_show(const sopts_t *so, const char *arg) {
        char path[PATH_MAX], errstr[1024] = "";
        int num, rc;
        sqlite3 *db;
        json_t *o;

        if ((rc = part_arg(so, arg, path, sizeof(path), &num)))
                return rc;
        if (!(db = part_open(path, errstr, sizeof(errstr))))
                return fail("%s", errstr);
        o = part_json(db, path, so->so_check, errstr, sizeof(errstr));
        sqlite3_close(db);
        if (!o)
                return fail("%s", errstr);
        if (so->so_json) {
                json_dumpf(o, stdout, JSON_FLAGS);
                putchar('\n');
        } else
                print_show(o, path, num);
        rc = so->so_check && !check_ok(o) ? VG_EXIT_FAIL : VG_EXIT_OK;
        if (rc)
                fail("%s: damaged: quick_check failed", path);
        json_decref(o);
        return rc;
}

/* The pid of the process holding dir/name (vg_lock_dir), 0 if none. */
static long lock_holder(const char *dir, const char *name) {
        char path[PATH_MAX + 32];
        struct flock fl;
        long pid = 0;
        int fd;
        snprintf(path, sizeof(path), "%s/%s", dir, name);
        if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
                return 0;
        memset(&fl, 0, sizeof(fl));
        fl.l_type = F_WRLCK;
        fl.l_whence = SEEK_SET;
        if (!fcntl(fd, F_GETLK, &fl) && fl.l_type != F_UNLCK)
                pid = fl.l_pid > 0 ? (long)fl.l_pid : -1;
        close(fd);
        return pid;
}

static int cmd_list(const sopts_t *so) {
        char errstr[1024], path[PATH_MAX];
        int *nums, cnt, rc = VG_EXIT_OK;
        long pid;

        if ((cnt = part_numbers(so->so_dir, &nums, errstr, sizeof(errstr))) <
            0)
                return fail("%s", errstr);
        pid = lock_holder(so->so_dir, "process.lock");
        if (!so->so_json) {
                printf("state.dir %s: %d partition file%s", so->so_dir, cnt,
                       cnt == 1 ? "" : "s");
                if (pid)
                        printf(", in use by vigil process (pid %ld)", pid);
                printf("\n%4s %10s %9s %9s %8s %8s  %-24s %6s\n", "PART",
                       "SIZE", "PATIENTS", "CELLS", "TIMERS", "OUTBOX",
                       "WATERMARK", "SCHEMA");
        }
        for (int i = 0; i < cnt; i++) {
                char wpath[PATH_MAX + 8], sz[32], a[64], b[64];
                int64_t bytes;
                sqlite3 *db;
                json_t *o = NULL, *c;

                snprintf(path, sizeof(path), "%s/partition-%d.db", so->so_dir,
                         nums[i]);
                snprintf(wpath, sizeof(wpath), "%s-wal", path);
                errstr[0] = '\0';
                if ((db = part_open(path, errstr, sizeof(errstr))))
                        o = part_json(db, path, false, errstr, sizeof(errstr));
                sqlite3_close(db);
                bytes = file_bytes(path) + file_bytes(wpath);
                if (!o) {
                        rc = VG_EXIT_FAIL;
                        if (so->so_json) {
                                json_t *e = json_pack(
                                        "{s:i,s:I,s:s}", "partition", nums[i],
                                        "bytes_on_disk", (json_int_t)bytes,
                                        "error", errstr);
                                json_dumpf(e, stdout, JSON_FLAGS);
                                putchar('\n');
                                json_decref(e);
                        } else
                                printf("%4d  error: %s\n", nums[i], errstr);
                        continue;
                }
                if (jint(o, "partition", nums[i]) != nums[i]) {
                        fail("%s holds partition %lld", path,
                             (long long)jint(o, "partition", -1));
                        rc = VG_EXIT_FAIL;
                }
                c = json_object_get(o, "counts");
                if (so->so_json) {
                        json_t *e = json_pack(
                                "{s:i,s:I,s:I,s:I,s:I,s:I,s:O,s:O}",
                                "partition", nums[i], "bytes_on_disk",
                                (json_int_t)bytes, "patients",
                                (json_int_t)jint(c, "patients", 0), "cells",
                                (json_int_t)jint(c, "cells", 0), "timers",
                                (json_int_t)jint(c, "timers", 0), "outbox",
                                (json_int_t)jint(c, "outbox", 0), "watermark",
                                json_object_get(o, "watermark"),
                                "schema_version",
                                json_object_get(o, "schema_version"));
                        json_dumpf(e, stdout, JSON_FLAGS);
                        putchar('\n');
                        json_decref(e);
                } else {
                        fmt_size(bytes, sz, sizeof(sz));
                        printf("%4d %10s %9lld %9lld %8lld %8lld  %-24s %6s\n",
                               nums[i], sz, (long long)jint(c, "patients", 0),
                               (long long)jint(c, "cells", 0),
                               (long long)jint(c, "timers", 0),
                               (long long)jint(c, "outbox", 0),
                               jtext(json_object_get(o, "watermark"), a,
                                     sizeof(a)),
                               jtext(json_object_get(o, "schema_version"), b,
                                     sizeof(b)));
                }
                json_decref(o);
        }
        vg_free(nums);
        return rc;
}

/*
 * patient
 */

static json_t *cases_json(const vg_cell_t *c, int n) {
        json_t *a = json_array();
        for (int i = 0; i < n; i++)
                json_array_append_new(
                        a, json_pack("{s:s,s:I,s:o}", "key", c[i].ce_key,
                                     "numerator", (json_int_t)c[i].ce_num,
                                     "denominator",
                                     c[i].ce_count
                                             ? json_null()
                                             : json_integer(c[i].ce_den)));
        return a;
}

static json_t *strs_json(char *const *v, int n) {
        json_t *a = json_array();
        for (int i = 0; i < n; i++)
                json_array_append_new(a, json_string(v[i]));
        return a;
}

/* By occurred_at, then event_id (the rules do not depend on the order
 * events arrived in). */
static int ev_cmp(const void *a, const void *b) {
        const vg_event_t *x = *(const vg_event_t *const *)a,
                         *y = *(const vg_event_t *const *)b;
        if (x->ev_occurred_at != y->ev_occurred_at)
                return x->ev_occurred_at < y->ev_occurred_at ? -1 : 1;
        return strcmp(x->ev_event_id ? x->ev_event_id : "",
                      y->ev_event_id ? y->ev_event_id : "");
}

/* The patient id's state in db as JSON (redacted): 1 found, 0 not there,
 * -1 + errstr. */
static int patient_json(sqlite3 *db, const char *path, int num,
                        const char *id, json_t **out, char *errstr,
                        size_t n) {
        sqlite3_stmt *s = NULL;
        vg_patient_t *pt = NULL;
        const vg_event_t **evs;
        int64_t wm, due, part;
        json_t *o, *a;
        int rc;

        *out = NULL;
        if (sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
                db_err(errstr, n, path, NULL, db, sqlite3_errcode(db));
                return -1;
        }
        rc = sqlite3_prepare_v2(db,
                                "SELECT state FROM patients WHERE "
                                "patient_id=?",
                                -1, &s, NULL);
        if (rc == SQLITE_OK) {
                sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
                rc = sqlite3_step(s);
        }
        if (rc == SQLITE_ROW) {
                char e[256];
                if (!(pt = vg_patient_decode(
                              id, sqlite3_column_blob(s, 0),
                              (size_t)sqlite3_column_bytes(s, 0), e,
                              sizeof(e)))) {
                        vg_seterr(errstr, n, VG_ERR_STORE,
                                  "%s: the patient's state cannot be read "
                                  "(%s)", path, e);
                        rc = -1;
                }
        } else if (rc != SQLITE_DONE) {
                db_err(errstr, n, path, "read patient", db, rc);
                rc = -1;
        }
        sqlite3_finalize(s);
        if (rc != SQLITE_ROW ||
            q_int(db, path, "SELECT value FROM meta WHERE key='watermark'",
                  NULL, INT64_MIN, &wm, errstr, n) ||
            q_int(db, path, "SELECT value FROM meta WHERE key='partition'",
                  NULL, num, &part, errstr, n) ||
            q_int(db, path, "SELECT due FROM timers WHERE patient_id=?", id,
                  INT64_MAX, &due, errstr, n)) {
                sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
                vg_patient_destroy(pt);
                return rc == SQLITE_DONE ? 0 : -1;
        }
        sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);

        o = json_object();
        json_object_set_new(o, "patient_id", json_string(pt->pt_id));
        json_object_set_new(o, "partition", part >= 0 ? json_integer(part)
                                                      : json_null());
        json_object_set_new(o, "watermark", jtime(wm));
        json_object_set_new(o, "timer_due", jtime(due));
        json_object_set_new(o, "next_due", jtime(pt->pt_next_due));
        a = json_array();
        evs = vg_malloc(sizeof(*evs) * (size_t)(pt->pt_nevents + 1));
        for (int i = 0; i < pt->pt_nevents; i++)
                evs[i] = &pt->pt_events[i];
        qsort(evs, (size_t)pt->pt_nevents, sizeof(*evs), ev_cmp);
        for (int i = 0; i < pt->pt_nevents; i++)
                json_array_append_new(a,
                                      vg_record_to_json(evs[i]->ev_type,
                                                        evs[i]));
        vg_free(evs);
        json_object_set_new(o, "events", a);
        json_object_set_new(o, "pruned_event_ids",
                            strs_json(pt->pt_old_ids, pt->pt_nold));
        json_object_set_new(o, "pruned_cancelled_ids",
                            strs_json(pt->pt_old_cancelled,
                                      pt->pt_nold_cancelled));
        json_object_set_new(o, "cases", cases_json(pt->pt_cells,
                                                   pt->pt_ncells));
        json_object_set_new(o, "frozen_cases", cases_json(pt->pt_frozen,
                                                          pt->pt_nfrozen));
        a = json_array();
        for (int i = 0; i < pt->pt_nalerts; i++) {
                json_t *al = vg_record_to_json(VG_REC_ALERT,
                                               &pt->pt_alerts[i]);
                /* stamped when published, not kept in the state */
                json_object_del(al, "emitted_at");
                json_array_append_new(a, al);
        }
        json_object_set_new(o, "alerts", a);
        vg_patient_destroy(pt);
        redact(o);
        *out = o;
        return 1;
}

/* key=value of every non-null member of o but those in skip. */
static void print_fields(const json_t *o, const char *const *skip) {
        const char *k;
        json_t *v;
        char buf[256];
        json_object_foreach((json_t *)o, k, v) {
                bool skipped = json_is_null(v);
                for (int i = 0; skip[i] && !skipped; i++)
                        skipped = !strcmp(skip[i], k);
                if (!skipped)
                        printf(" %s=%s", k, jtext(v, buf, sizeof(buf)));
        }
}

static void print_cases(const char *title, const json_t *a) {
        size_t i;
        json_t *c;
        char n1[32], n2[32];
        printf("%s (%zu)\n", title, json_array_size(a));
        if (json_array_size(a))
                printf("  %8s %8s  %s\n", "NUM", "DEN", "KEY");
        json_array_foreach(a, i, c)
                printf("  %8s %8s  %s\n",
                       jtext(json_object_get(c, "numerator"), n1, sizeof(n1)),
                       jtext(json_object_get(c, "denominator"), n2,
                             sizeof(n2)),
                       json_string_value(json_object_get(c, "key")));
}

static void print_patient(const json_t *o, const char *path) {
        static const char *const ev_skip[] = {"type", "event_id", "patient_id",
                                              "occurred_at", "kommun", NULL};
        static const char *const al_skip[] = {"rule", "status", "alert_id",
                                              "patient_id", NULL};
        char a[64], b[64];
        const json_t *evs = json_object_get(o, "events"),
                     *als = json_object_get(o, "alerts"), *e, *ids;
        size_t i;
        int64_t wm_ms = INT64_MIN, due_ms = INT64_MIN;

        printf("patient         %s\n",
               json_string_value(json_object_get(o, "patient_id")));
        printf("partition       %s (%s)\n",
               jtext(json_object_get(o, "partition"), a, sizeof(a)), path);
        printf("watermark       %s (the partition's)\n",
               jtext(json_object_get(o, "watermark"), a, sizeof(a)));
        printf("timer due       %s",
               jtext(json_object_get(o, "timer_due"), a, sizeof(a)));
        if (json_is_string(json_object_get(o, "watermark")) &&
            json_is_string(json_object_get(o, "timer_due")) &&
            !vg_time_parse(json_string_value(json_object_get(o, "watermark")),
                           &wm_ms) &&
            !vg_time_parse(json_string_value(json_object_get(o, "timer_due")),
                           &due_ms)) {
                int64_t d = due_ms - wm_ms;
                if (d <= 0)
                        printf(" (at or before the watermark: fires at the "
                               "next commit)");
                else
                        printf(" (in %lld d %lld h of event time)",
                               (long long)(d / VG_MS_PER_DAY),
                               (long long)(d % VG_MS_PER_DAY / VG_MS_PER_HOUR));
        }
        printf("\n");
        if (strcmp(jtext(json_object_get(o, "timer_due"), a, sizeof(a)),
                   jtext(json_object_get(o, "next_due"), b, sizeof(b))))
                printf("next due        %s (in the patient's state)\n", b);
        printf("events (%zu, by occurred_at)\n", json_array_size(evs));
        json_array_foreach(evs, i, e) {
                printf("  %-24s %-15s %-20s kommun=%s",
                       jtext(json_object_get(e, "occurred_at"), a, sizeof(a)),
                       json_string_value(json_object_get(e, "type")),
                       json_string_value(json_object_get(e, "event_id")),
                       jtext(json_object_get(e, "kommun"), b, sizeof(b)));
                print_fields(e, ev_skip);
                printf("\n");
        }
        ids = json_object_get(o, "pruned_event_ids");
        printf("pruned by retention (%zu event ids)", json_array_size(ids));
        json_array_foreach(ids, i, e)
                printf(" %s", json_string_value(e));
        printf("\n");
        ids = json_object_get(o, "pruned_cancelled_ids");
        if (json_array_size(ids)) {
                printf("cancelled by pruned events (%zu)",
                       json_array_size(ids));
                json_array_foreach(ids, i, e)
                        printf(" %s", json_string_value(e));
                printf("\n");
        }
        print_cases("contributions (cases)", json_object_get(o, "cases"));
        print_cases("frozen contributions (of pruned events)",
                    json_object_get(o, "frozen_cases"));
        printf("ACTIVE alerts, as last published (%zu)\n",
               json_array_size(als));
        json_array_foreach(als, i, e) {
                printf("  %-16s alert_id=%s",
                       json_string_value(json_object_get(e, "rule")),
                       json_string_value(json_object_get(e, "alert_id")));
                print_fields(e, al_skip);
                printf("\n");
        }
}

static int cmd_patient(const sopts_t *so, const char *id) {
        char path[PATH_MAX], errstr[1024];
        int *nums = NULL, cnt, found = 0, bad = 0, num = -1, rc;

        if (vg_pnr_like(id, strlen(id)) || pnr_in(id))
                /* never echoed */
                return vg_cli_usage_error(
                        CMD, "patient: the argument looks like a "
                             "personnummer; give the patient's pseudonym "
                             "(its patient_id), never a personnummer");
        if (!*id)
                return vg_cli_usage_error(CMD, "patient: empty PSEUDONYM");
        if (so->so_part) {
                if ((rc = part_arg(so, so->so_part, path, sizeof(path), &num)))
                        return rc;
                cnt = 1;
        } else if ((cnt = part_numbers(so->so_dir, &nums, errstr,
                                       sizeof(errstr))) < 0)
                return fail("%s", errstr);
        for (int i = 0; i < cnt; i++) {
                sqlite3 *db;
                json_t *o = NULL;
                int r = -1;
                if (!so->so_part) {
                        num = nums[i];
                        snprintf(path, sizeof(path), "%s/partition-%d.db",
                                 so->so_dir, num);
                }
                errstr[0] = '\0';
                if ((db = part_open(path, errstr, sizeof(errstr))))
                        r = patient_json(db, path, num, id, &o, errstr,
                                         sizeof(errstr));
                sqlite3_close(db);
                if (r < 0) {
                        fail("%s", errstr);
                        bad++;
                        continue;
                }
                if (!r)
                        continue;
                if (so->so_json) {
                        json_dumpf(o, stdout, JSON_FLAGS);
                        putchar('\n');
                } else {
                        if (found)
                                printf("\n");
                        print_patient(o, path);
                }
                found++;
                json_decref(o);
        }
        vg_free(nums);
        if (!found) {
                if (so->so_part)
                        return fail("no patient %.128s in %s%s", id, path,
                                    bad ? " (which could not be read)" : "");
                return fail("no patient %.128s in state.dir %s (%d partition "
                            "file%s searched, %d could not be read)",
                            id, so->so_dir, cnt, cnt == 1 ? "" : "s", bad);
        }
        if (found > 1)
                vg_warn(CMD, "the patient is in %d partition files: stale "
                        "files of an earlier partition count? (docs/"
                        "RUNBOOK.md)", found);
        return bad ? VG_EXIT_FAIL : VG_EXIT_OK;
}

/*
 * export, import
 */

/* Copies the database src into the new, empty file at dst (SQLite online
 * backup: one read transaction, a consistent snapshot even while another
 * process writes). */
static vg_err_t backup(sqlite3 *src, const char *src_path, const char *dst,
                       char *errstr, size_t n) {
        sqlite3 *db = NULL;
        sqlite3_backup *bk;
        int rc, tries = 0;

        if ((rc = sqlite3_open_v2(dst, &db,
                                  SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
                                  NULL)) != SQLITE_OK) {
                db_err(errstr, n, dst, NULL, db, rc);
                sqlite3_close(db);
                return VG_ERR_STORE;
        }
        if (!(bk = sqlite3_backup_init(db, "main", src, "main"))) {
                db_err(errstr, n, dst, "backup", db, sqlite3_errcode(db));
                sqlite3_close(db);
                return VG_ERR_STORE;
        }
        do {
                rc = sqlite3_backup_step(bk, -1);
                if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
                        sqlite3_sleep(100);
        } while ((rc == SQLITE_OK || rc == SQLITE_BUSY ||
                  rc == SQLITE_LOCKED) && ++tries < 600);
        sqlite3_backup_finish(bk);
        if (rc != SQLITE_DONE) {
                /* a read error is the source's */
                db_err(errstr, n, src_path, "copy", NULL, rc);
                sqlite3_close(db);
                return VG_ERR_STORE;
        }
        if ((rc = sqlite3_close(db)) != SQLITE_OK) {
                db_err(errstr, n, dst, "close", NULL, rc);
                return VG_ERR_STORE;
        }
        return VG_OK;
}

/* A new empty file path (mode 0600) from template tmpl ("...XXXXXX"). */
static vg_err_t make_tmp(char *tmpl, char *errstr, size_t n) {
        int fd = mkstemp(tmpl);
        if (fd < 0)
                return vg_seterr(errstr, n, VG_ERR_IO, "%s: %s", tmpl,
                                 strerror(errno));
        fchmod(fd, 0600);
        close(fd);
        return VG_OK;
}

static void fsync_path(const char *path, int flags) {
        int fd = open(path, flags | O_CLOEXEC);
        if (fd >= 0) {
                if (fsync(fd)) {
                        /* best effort: the data is written already */
                }
                close(fd);
        }
}

static void fsync_dir_of(const char *path) {
        char dir[PATH_MAX];
        char *slash;
        snprintf(dir, sizeof(dir), "%s", path);
        if ((slash = strrchr(dir, '/')))
                *(slash == dir ? slash + 1 : slash) = '\0';
        else
                snprintf(dir, sizeof(dir), ".");
        fsync_path(dir, O_RDONLY | O_DIRECTORY);
}

static void unlink_sidecars(const char *path) {
        char p[PATH_MAX + 8];
        snprintf(p, sizeof(p), "%s-wal", path);
        unlink(p);
        snprintf(p, sizeof(p), "%s-shm", path);
        unlink(p);
        snprintf(p, sizeof(p), "%s-journal", path);
        unlink(p);
}

static int cmd_export(const sopts_t *so, const char *arg) {
        char path[PATH_MAX], tmp[PATH_MAX + 16], errstr[1024] = "";
        int num, rc;
        sqlite3 *db;
        json_t *o;
        struct stat st;

        if (!so->so_out)
                return vg_cli_usage_error(CMD, "export: -o FILE is needed");
        if ((rc = part_arg(so, arg, path, sizeof(path), &num)))
                return rc;
        if (!stat(so->so_out, &st) && !so->so_force)
                return fail("export: %s exists (--force replaces it)",
                            so->so_out);
        if (!(db = part_open(path, errstr, sizeof(errstr))))
                return fail("%s", errstr);
        snprintf(tmp, sizeof(tmp), "%s.XXXXXX", so->so_out);
        if (make_tmp(tmp, errstr, sizeof(errstr)) ||
            backup(db, path, tmp, errstr, sizeof(errstr))) {
                sqlite3_close(db);
                unlink(tmp);
                unlink_sidecars(tmp);
                return fail("export: %s", errstr);
        }
        sqlite3_close(db);
        /* What was written is what was read: check the copy (errors
         * name the partition file, which the copy is of). */
        o = NULL;
        if ((db = part_open(tmp, errstr, sizeof(errstr))))
                o = part_json(db, path, true, errstr, sizeof(errstr));
        sqlite3_close(db);
        unlink_sidecars(tmp);
        if (!o || !check_ok(o)) {
                unlink(tmp);
                json_decref(o);
                return fail("export: %s; nothing written",
                            *errstr ? errstr
                                    : "the copy fails quick_check: the "
                                      "partition file is damaged");
        }
        fsync_path(tmp, O_RDONLY);
        if (so->so_force)
                unlink_sidecars(so->so_out);
        if (rename(tmp, so->so_out)) {
                rc = fail("export: %s: %s", so->so_out, strerror(errno));
                unlink(tmp);
                json_decref(o);
                return rc;
        }
        fsync_dir_of(so->so_out);
        {
                char sz[32], pn[32], wm[64];
                const json_t *c = json_object_get(o, "counts");
                fmt_size(jint(json_object_get(o, "content"), "bytes", 0), sz,
                         sizeof(sz));
                printf("exported partition %s (%lld patients, watermark %s, "
                       "%s) to %s\n",
                       jtext(json_object_get(o, "partition"), pn, sizeof(pn)),
                       (long long)jint(c, "patients", 0),
                       jtext(json_object_get(o, "watermark"), wm, sizeof(wm)),
                       sz, so->so_out);
        }
        json_decref(o);
        return VG_EXIT_OK;
}

/* The schema version this binary's store writes, asked of vg_partition.c
 * itself (a partition created and committed in a temporary directory), so
 * that the two cannot drift apart. -1 + errstr. */
static int64_t current_schema(char *errstr, size_t n) {
        const char *t = getenv("TMPDIR");
        char dir[PATH_MAX], path[PATH_MAX + 16];
        vg_rules_conf_t rc;
        vg_part_topics_t topics = {"alerts", "parts", "dlq"};
        vg_part_t *part;
        sqlite3 *db;
        int64_t v = -1;

        errstr[0] = '\0';
        snprintf(dir, sizeof(dir), "%s/vigil-state-XXXXXX",
                 t && *t ? t : "/tmp");
        if (!mkdtemp(dir)) {
                vg_seterr(errstr, n, VG_ERR_IO, "%s: %s", dir,
                          strerror(errno));
                return -1;
        }
        snprintf(path, sizeof(path), "%s/probe.db", dir);
        vg_rules_conf_default(&rc);
        if ((part = vg_part_open(path, 0, &rc, NULL, &topics, errstr, n))) {
                vg_part_set_parts(part, false);
                if (!vg_part_begin(part, vg_now_ms(), errstr, n) &&
                    !vg_part_commit(part, errstr, n)) {
                        vg_part_close(part);
                        part = NULL;
                        if ((db = part_open(path, errstr, n)) &&
                            q_int(db, path,
                                  "SELECT value FROM meta WHERE "
                                  "key='schema_version'",
                                  NULL, -1, &v, errstr, n))
                                v = -1;
                        sqlite3_close(db);
                }
                vg_part_close(part);
        }
        unlink_sidecars(path);
        unlink(path);
        rmdir(dir);
        if (v < 0 && !*errstr)
                vg_seterr(errstr, n, VG_ERR_INTERNAL,
                          "the store wrote no schema_version");
        return v;
}

static int cmd_import(const sopts_t *so, const char *file) {
        char target[PATH_MAX], tmp[PATH_MAX + 32], errstr[1024] = "",
             rfile[PATH_MAX], rtarget[PATH_MAX];
        sqlite3 *db;
        json_t *o;
        int64_t cur, part, want = -1;
        int lock = -1, rc = VG_EXIT_FAIL;
        long pid;

        if (so->so_part) {
                long long v;
                if ((rc = vg_cli_int_arg(CMD, "partition", so->so_part, 0,
                                         INT_MAX, &v)))
                        return rc;
                want = v;
                rc = VG_EXIT_FAIL;
        }
        /* The file first: nothing in state.dir is touched for a bad one. */
        if (!(db = part_open(file, errstr, sizeof(errstr))))
                return fail("import: %s", errstr);
        o = part_json(db, file, true, errstr, sizeof(errstr));
        sqlite3_close(db);
        if (!o)
                return fail("import: %s", errstr);
        if (!check_ok(o)) {
                json_t *e = json_array_get(json_object_get(o, "quick_check"),
                                           0);
                fail("import: %s is damaged (quick_check: %s); not imported",
                     file, json_is_string(e) ? json_string_value(e) : "?");
                goto out;
        }
        if ((cur = current_schema(errstr, sizeof(errstr))) < 0) {
                fail("import: %s", errstr);
                goto out;
        }
        if (jint(o, "schema_version", -1) != cur) {
                fail("import: %s has state schema version %s, this release "
                     "uses %lld: not imported (docs/RUNBOOK.md, Upgrades)",
                     file,
                     jtext(json_object_get(o, "schema_version"), errstr,
                           sizeof(errstr)),
                     (long long)cur);
                goto out;
        }
        if ((part = jint(o, "partition", -1)) < 0 || part > INT_MAX) {
                fail("import: %s names no partition (meta 'partition'): "
                     "not a partition file that has committed", file);
                goto out;
        }
        if (want >= 0 && part != want) {
                fail("import: %s holds partition %lld, not %lld", file,
                     (long long)part, (long long)want);
                goto out;
        }
        snprintf(target, sizeof(target), "%s/partition-%lld.db", so->so_dir,
                 (long long)part);
        if (realpath(file, rfile) && realpath(target, rtarget) &&
            !strcmp(rfile, rtarget)) {
                fail("import: %s is partition %lld of state.dir already",
                     file, (long long)part);
                goto out;
        }
        /* Never under a running processor: it holds state.dir's lock. */
        if ((pid = lock_holder(so->so_dir, "process.lock"))) {
                fail("import: state.dir %s is in use by a running vigil "
                     "process (pid %ld): stop it first; a partition file "
                     "must not be replaced under it", so->so_dir, pid);
                goto out;
        }
        if ((lock = vg_lock_dir(so->so_dir, "process.lock", errstr,
                                sizeof(errstr))) < 0) {
                fail("import: %s", errstr);
                goto out;
        }
        if (!access(target, F_OK) && !so->so_force) {
                fail("import: %s exists: --force replaces it (the state it "
                     "holds is lost; export it first to keep it)", target);
                goto out;
        }
        snprintf(tmp, sizeof(tmp), "%s/.partition-%lld.db.import-XXXXXX",
                 so->so_dir, (long long)part);
        if (!(db = part_open(file, errstr, sizeof(errstr))) ||
            make_tmp(tmp, errstr, sizeof(errstr))) {
                sqlite3_close(db);
                fail("import: %s", errstr);
                goto out;
        }
        if (backup(db, file, tmp, errstr, sizeof(errstr))) {
                sqlite3_close(db);
                unlink(tmp);
                unlink_sidecars(tmp);
                fail("import: %s", errstr);
                goto out;
        }
        sqlite3_close(db);
        fsync_path(tmp, O_RDONLY);
        /* A stale WAL would be replayed onto the new file: gone first. */
        unlink_sidecars(target);
        if (rename(tmp, target)) {
                fail("import: %s: %s", target, strerror(errno));
                unlink(tmp);
                goto out;
        }
        fsync_dir_of(target);
        printf("imported %s as partition %lld of state.dir %s (%lld "
               "patients, watermark %s)\n",
               file, (long long)part, so->so_dir,
               (long long)jint(json_object_get(o, "counts"), "patients", 0),
               jtext(json_object_get(o, "watermark"), errstr,
                     sizeof(errstr)));
        rc = VG_EXIT_OK;
out:
        vg_unlock_dir(lock);
        json_decref(o);
        return rc;
}

/*
 * Options, dispatch
 */

enum { OPT_PARTITION = 256, OPT_FORCE, OPT_CHECK };
enum { SUB_LIST, SUB_SHOW, SUB_PATIENT, SUB_EXPORT, SUB_IMPORT };

int vg_cmd_state(int argc, char **argv) {
        static const struct option opts[] = {
                {"json", no_argument, NULL, 'j'},
                {"out", required_argument, NULL, 'o'},
                {"partition", required_argument, NULL, OPT_PARTITION},
                {"force", no_argument, NULL, OPT_FORCE},
                {"check", no_argument, NULL, OPT_CHECK},
                {"help", no_argument, NULL, 'h'},
                {NULL, 0, NULL, 0},
        };
        /* Each subcommand: its argument (NULL: none), its options. */
        static const struct {
                const char *name, *arg;
                bool json, out, part, force, check;
        } subs[] = {
                [SUB_LIST] = {"list", NULL, true, false, false, false, false},
                [SUB_SHOW] = {"show", "PART", true, false, false, false, true},
                [SUB_PATIENT] = {"patient", "PSEUDONYM", true, false, true,
                                 false, false},
                [SUB_EXPORT] = {"export", "PART", false, true, false, true,
                                false},
                [SUB_IMPORT] = {"import", "FILE", false, false, true, true,
                                false},
        };
        sopts_t so;
        vg_conf_t *conf = vg_conf_new();
        int c, rc = 0, want_help = 0, sub = -1, nargs;
        char **args;

        memset(&so, 0, sizeof(so));
        optind = 1;
        while ((c = getopt_long(argc, argv, "jo:hF:X:", opts, NULL)) != -1) {
                if (c == 'F' || c == 'X') {
                        if (vg_cli_conf_option(conf, CMD, c, optarg, &rc) &&
                            rc)
                                goto out;
                        continue;
                }
                switch (c) {
                case 'j':
                        so.so_json = true;
                        break;
                case 'o':
                        so.so_out = optarg;
                        break;
                case OPT_PARTITION:
                        so.so_part = optarg;
                        break;
                case OPT_FORCE:
                        so.so_force = true;
                        break;
                case OPT_CHECK:
                        so.so_check = true;
                        break;
                case 'h':
                        want_help = 1;
                        break;
                default:
                        rc = vg_cli_usage_error(CMD, "bad option");
                        goto out;
                }
        }
        if (want_help) {
                help();
                goto out;
        }
        args = argv + optind;
        nargs = argc - optind;
        if (!nargs) {
                rc = vg_cli_usage_error(CMD, "expected a subcommand: list, "
                                        "show, patient, export or import");
                goto out;
        }
        for (size_t i = 0; i < VG_ARRAY_SIZE(subs); i++)
                if (!strcmp(args[0], subs[i].name))
                        sub = (int)i;
        if (sub < 0) {
                rc = vg_cli_usage_error(CMD, "unknown subcommand \"%.32s\"",
                                        args[0]);
                goto out;
        }
        if (nargs - 1 != (subs[sub].arg ? 1 : 0)) {
                rc = vg_cli_usage_error(CMD, "%s: expected %s%s",
                                        subs[sub].name,
                                        subs[sub].arg ? "one " : "no argument",
                                        subs[sub].arg ? subs[sub].arg : "");
                goto out;
        }
        if ((so.so_json && !subs[sub].json) || (so.so_out && !subs[sub].out) ||
            (so.so_part && !subs[sub].part) ||
            (so.so_force && !subs[sub].force) ||
            (so.so_check && !subs[sub].check)) {
                rc = vg_cli_usage_error(
                        CMD, "%s: %s is not an option of %s",
                        subs[sub].name,
                        so.so_json && !subs[sub].json   ? "--json"
                        : so.so_out && !subs[sub].out   ? "--out"
                        : so.so_part && !subs[sub].part ? "--partition"
                        : so.so_force && !subs[sub].force ? "--force"
                                                          : "--check",
                        subs[sub].name);
                goto out;
        }
        if ((rc = vg_cli_conf_finish(conf, CMD)))
                goto out;
        so.so_dir = vg_conf_str(conf, "state.dir");
        switch (sub) {
        case SUB_LIST:
                rc = cmd_list(&so);
                break;
        case SUB_SHOW:
                rc = cmd_show(&so, args[1]);
                break;
        case SUB_PATIENT:
                rc = cmd_patient(&so, args[1]);
                break;
        case SUB_EXPORT:
                rc = cmd_export(&so, args[1]);
                break;
        default:
                rc = cmd_import(&so, args[1]);
                break;
        }
out:
        fflush(stdout);
        vg_conf_destroy(conf);
        return rc;
}
