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
 * Contents: help, options and dispatch; opening a partition file
 * read-only and reading it as JSON, what the subcommands share. list,
 * show and patient are in state_inspect.c, export and import in
 * state_copy.c (state_int.h).
 *
 * The schema is vg_partition.c's and vg_outbox.c's: these files read it
 * with their own queries and only the columns they name, and show prints
 * every meta row whatever its key, so keys added later show up without a
 * change here.
 * Nothing that looks like a personnummer is printed (docs/EVENTS.md §7):
 * every string of a patient's state is checked before it is shown.
 */
#include "vg_cli.h"
#include "vg_config.h"
#include "vg_consumers.h"
#include "vg_record.h"
#include "vg_time.h"
#include "vg_outbox.h"
#include "state_int.h"

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
               "(SQLite may leave a file's -wal and -shm beside it: the "
               "reader's shared\n"
               "memory, never a change.) Only import writes, and only while "
               "no processor\n"
               "holds state.dir.\n"
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
               "               says, after checking it (quick_check, every "
               "patient's state\n"
               "               readable, schema version, partition);\n"
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

int state_fail(const char *fmt, ...) {
        va_list ap;
        fprintf(stderr, "vigil " CMD ": ");
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
        return VG_EXIT_FAIL;
}

/*
 * Partition files
 */

/* An epoch-ms time as RFC 3339, null for none (VG_WM_NONE; data_since
 * stores INT64_MAX for none). */
json_t *state_jtime(int64_t ms) {
        char buf[VG_TIME_BUFSZ];
        if (ms == INT64_MIN || ms == INT64_MAX)
                return json_null();
        return json_string(vg_time_format(ms, buf));
}

const char *state_jtext(const json_t *j, char *buf, size_t n) {
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

void state_fmt_size(int64_t b, char *buf, size_t n) {
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

vg_err_t state_db_err(char *errstr, size_t n, const char *path,
                      const char *what, sqlite3 *db, int rc) {
        return vg_seterr(errstr, n, VG_ERR_STORE, "%s: %s%s%s", path,
                         what ? what : "", what ? ": " : "", db_why(db, rc));
}

/* Opens path read-only and checks that it is a partition file: a SQLite
 * database with the store's tables. NULL + errstr. (Opening a WAL database
 * read-only leaves its -wal and -shm files in place, empty if they were
 * not there: SQLite needs them to read, and cannot remove them read-only.) */
sqlite3 *state_part_open(const char *path, char *errstr, size_t n) {
        /* (the outbox is a table of chunks since schema 3's outbox_chunks,
         * one row per record before: either will do) */
        static const char *const tables[] = {"meta", "offsets", "patients",
                                             "timers", "cells"};
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
                state_db_err(errstr, n, path, NULL, db, rc);
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
        state_db_err(errstr, n, path, NULL, db, rc);
        sqlite3_finalize(s);
        sqlite3_close(db);
        return NULL;
}

/* The integer in the first column of the first row of sql (with text
 * parameter arg, if any), or def when there is no row or it is NULL.
 * Returns -1 with errstr on error. */
int state_q_int(sqlite3 *db, const char *path, const char *sql,
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
                state_db_err(errstr, n, path, NULL, db, rc);
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

/* The event type of meta key topic_time.T, or NULL. */
const char *state_topic_time_type(const char *key) {
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
                state_db_err(errstr, n, path, NULL, db, rc);
                return -1;
        }
        return 0;
}

int64_t state_jint(const json_t *o, const char *key, int64_t def) {
        const json_t *v = json_object_get(o, key);
        return json_is_integer(v) ? (int64_t)json_integer_value(v) : def;
}

static void topic_cb(const char *topic, void *opaque) {
        json_t *o = opaque, *v = json_object_get(o, topic);
        if (v)
                json_integer_set(v, json_integer_value(v) + 1);
        else
                json_object_set_new(o, topic, json_integer(1));
}

static int key_cmp(const void *a, const void *b) {
        return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The records in the outbox by topic, in topic order, into o; their
 * number in *total. */
static int outbox_topics(sqlite3 *db, const char *path, json_t *o,
                         int64_t *total, char *errstr, size_t n) {
        json_t *by = json_object(), *v;
        const char **keys;
        const char *k;
        size_t nk = 0;
        if (vg_outbox_topics(db, topic_cb, by)) {
                json_decref(by);
                vg_seterr(errstr, n, VG_ERR_STORE,
                          "%s: the outbox cannot be read (a damaged chunk, "
                          "or: %s)", path, sqlite3_errmsg(db));
                return -1;
        }
        keys = vg_calloc(json_object_size(by) + 1, sizeof(*keys));
        json_object_foreach(by, k, v) keys[nk++] = k;
        qsort(keys, nk, sizeof(*keys), key_cmp);
        *total = 0;
        for (size_t i = 0; i < nk; i++) {
                v = json_object_get(by, keys[i]);
                *total += json_integer_value(v);
                json_object_set(o, keys[i], v);
        }
        vg_free(keys);
        json_decref(by);
        return 0;
}

/* A partition's content as JSON: meta (every row), offsets, counts,
 * outbox by topic, size in pages. Read in one transaction, so the numbers
 * belong together. Only what the file holds: a copy gives the same
 * object. NULL + errstr. */
json_t *state_part_json(sqlite3 *db, const char *path, bool check,
                        char *errstr, size_t n) {
        static const struct {
                const char *name, *sql;
        } counts[] = {
                {"patients", "SELECT count(*) FROM patients"},
                {"cells", "SELECT count(*) FROM cells"},
                {"cells_pending", "SELECT count(*) FROM cells WHERE pending"},
                {"timers", "SELECT count(*) FROM timers"},
        };
        json_t *o = json_object(), *meta = json_object(),
               *offsets = json_object(), *cnt = json_object(),
               *outbox = json_object(), *tt = json_object(), *v;
        const char *k;
        int64_t x, pages, psize, pfree, queued = 0;

        errstr[0] = '\0';
        if (sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK ||
            q_rows(db, path, "SELECT key, value FROM meta ORDER BY key", meta,
                   errstr, n) ||
            q_rows(db, path,
                   "SELECT topic, next_offset FROM offsets ORDER BY topic",
                   offsets, errstr, n) ||
            outbox_topics(db, path, outbox, &queued, errstr, n))
                goto err;
        v = json_object_get(meta, "partition");
        json_object_set_new(o, "partition",
                            json_is_integer(v) ? json_incref(v) : json_null());
        v = json_object_get(meta, "schema_version");
        json_object_set_new(o, "schema_version",
                            json_is_integer(v) ? json_incref(v) : json_null());
        json_object_set_new(
                o, "watermark",
                state_jtime(state_jint(meta, "watermark", INT64_MIN)));
        json_object_set_new(
                o, "data_since",
                state_jtime(state_jint(meta, "data_since", INT64_MAX)));
        json_object_foreach(meta, k, v) {
                const char *type = state_topic_time_type(k);
                if (type && json_is_integer(v))
                        json_object_set_new(tt, type,
                                            state_jtime(json_integer_value(v)));
        }
        json_object_set_new(o, "topic_times", tt);
        tt = NULL;
        json_object_set_new(o, "offsets", offsets);
        offsets = NULL;
        for (size_t i = 0; i < VG_ARRAY_SIZE(counts); i++) {
                if (state_q_int(db, path, counts[i].sql, NULL, 0, &x, errstr,
                                n))
                        goto err;
                json_object_set_new(cnt, counts[i].name, json_integer(x));
        }
        json_object_set_new(cnt, "outbox", json_integer(queued));
        json_object_set_new(o, "counts", cnt);
        cnt = NULL;
        if (state_q_int(db, path, "SELECT min(due) FROM timers", NULL,
                        INT64_MAX, &x, errstr, n))
                goto err;
        json_object_set_new(o, "next_timer_due", state_jtime(x));
        json_object_set_new(o, "outbox", outbox);
        outbox = NULL;
        if (state_q_int(db, path, "PRAGMA page_count", NULL, 0, &pages, errstr,
                        n) ||
            state_q_int(db, path, "PRAGMA page_size", NULL, 0, &psize, errstr,
                        n) ||
            state_q_int(db, path, "PRAGMA freelist_count", NULL, 0, &pfree,
                        errstr, n))
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
                state_db_err(errstr, n, path, NULL, db, sqlite3_errcode(db));
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        json_decref(o);
        json_decref(meta);
        json_decref(offsets);
        json_decref(cnt);
        json_decref(outbox);
        json_decref(tt);
        return NULL;
}

/* True if quick_check passed (a state_part_json with check). */
bool state_check_ok(const json_t *o) {
        const json_t *q = json_object_get(o, "quick_check");
        return json_array_size(q) == 1 &&
               json_is_string(json_array_get(q, 0)) &&
               !strcmp(json_string_value(json_array_get(q, 0)), "ok");
}

/* Numbers of the partition files in dir (partition-N.db), sorted; -1 +
 * errstr if dir cannot be read. */
int state_part_numbers(const char *dir, int **out, char *errstr, size_t n) {
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
int state_part_arg(const sopts_t *so, const char *arg, char *path,
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
                        cnt = state_part_numbers(so->so_dir, &nums, errstr,
                                                 sizeof(errstr));
                        if (cnt < 0)
                                return state_fail("%s", errstr);
                        for (int i = 0; i < cnt && at < sizeof(list) - 16;
                             i++)
                                at += (size_t)snprintf(list + at,
                                                       sizeof(list) - at,
                                                       "%s%d", i ? ", " : "",
                                                       nums[i]);
                        vg_free(nums);
                        return state_fail(
                                "no partition %d in state.dir %s (%s%s)", *num,
                                so->so_dir,
                                cnt ? "partitions here: "
                                    : "no partition files",
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

/* The pid of the process holding dir/name (vg_lock_dir), 0 if none. */
long state_lock_holder(const char *dir, const char *name) {
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
                        if (!*optarg) { /* (a copy was made, then not put
                                         * anywhere) */
                                rc = vg_cli_usage_error(
                                        CMD, "--out: '' (an empty file "
                                        "name)");
                                goto out;
                        }
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
                rc = state_cmd_list(&so);
                break;
        case SUB_SHOW:
                rc = state_cmd_show(&so, args[1]);
                break;
        case SUB_PATIENT:
                rc = state_cmd_patient(&so, args[1]);
                break;
        case SUB_EXPORT:
                rc = state_cmd_export(&so, args[1]);
                break;
        default:
                rc = state_cmd_import(&so, args[1]);
                break;
        }
out:
        fflush(stdout);
        vg_conf_destroy(conf);
        return rc;
}
