/*
 * state_copy.c - `vigil state export` and `import`: a consistent copy of
 * a partition file (SQLite online backup, safe while the processor
 * runs), and a copy put back as partition-N.db after checking it
 * (quick_check, schema version, partition), never under a running
 * processor: the one subcommand that writes.
 */
#include "vg_cli.h"
#include "vg_common.h"
#include "vg_lock.h"
#include "vg_partition.h"
#include "vg_patient_store.h"
#include "vg_time.h"
#include "state_int.h"

#include <errno.h>
#include <libgen.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <jansson.h>
#include <sqlite3.h>

/*
 * export, import
 */

/* Copies the database src into the new, empty file at dst (SQLite online
 * backup: one read transaction, a consistent snapshot even while another
 * process writes). Errors name dst as shown (what the copy is for, not
 * its temporary name). */
static vg_err_t backup(sqlite3 *src, const char *src_path, const char *dst,
                       const char *shown, char *errstr, size_t n) {
        sqlite3 *db = NULL;
        sqlite3_backup *bk;
        int rc, tries = 0;

        if ((rc = sqlite3_open_v2(dst, &db,
                                  SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
                                  NULL)) != SQLITE_OK) {
                state_db_err(errstr, n, shown, NULL, db, rc);
                sqlite3_close(db);
                return VG_ERR_STORE;
        }
        if (!(bk = sqlite3_backup_init(db, "main", src, "main"))) {
                state_db_err(errstr, n, shown, "backup", db, sqlite3_errcode(db));
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
                state_db_err(errstr, n, src_path, "copy", NULL, rc);
                sqlite3_close(db);
                return VG_ERR_STORE;
        }
        if ((rc = sqlite3_close(db)) != SQLITE_OK) {
                state_db_err(errstr, n, shown, "close", NULL, rc);
                return VG_ERR_STORE;
        }
        return VG_OK;
}

/* A new empty file path (mode 0600) from template tmpl ("...XXXXXX");
 * an error names the file it stands for (shown), not the template. */
static vg_err_t make_tmp(char *tmpl, const char *shown, char *errstr,
                         size_t n) {
        /* (a signal takes it and its journal away: vg_cli_tmp_make) */
        int fd = vg_cli_tmp_make(tmpl, true);
        if (fd < 0)
                return vg_seterr(errstr, n, VG_ERR_IO, "%s: %s", shown,
                                 strerror(errno));
        fchmod(fd, 0600);
        close(fd);
        return VG_OK;
}

/* Patients of file whose state cannot be read (checksum, bounds), the
 * first's reason in why; -1 (errstr) if the table cannot be read. A file
 * sound to SQLite (quick_check) but whose states were damaged would be
 * imported, and each such patient fail the processor when next used. */
static long unreadable_states(const char *file, long *total, char *why,
                              size_t why_n, char *errstr, size_t n) {
        sqlite3 *db = state_part_open(file, errstr, n);
        sqlite3_stmt *s = NULL;
        long bad = 0;
        int rc;
        *total = 0;
        if (!db)
                return -1;
        rc = sqlite3_prepare_v2(db, "SELECT patient_id, state FROM patients",
                                -1, &s, NULL);
        while (rc == SQLITE_OK && (rc = sqlite3_step(s)) == SQLITE_ROW) {
                char e[256];
                vg_patient_t *pt = vg_patient_decode(
                        (const char *)sqlite3_column_text(s, 0),
                        sqlite3_column_blob(s, 1),
                        (size_t)sqlite3_column_bytes(s, 1), e, sizeof(e));
                if (!pt && !bad++)
                        snprintf(why, why_n, "%s", e);
                vg_patient_destroy(pt);
                (*total)++;
                rc = SQLITE_OK;
        }
        if (rc != SQLITE_DONE) {
                state_db_err(errstr, n, file, "read patients", db, rc);
                bad = -1;
        }
        sqlite3_finalize(s);
        sqlite3_close(db);
        return bad;
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

/* The temporary copy tmp (vg_cli_tmp_make), removed, and untracked. */
static void drop_tmp(char *tmp) {
        unlink(tmp);
        unlink_sidecars(tmp);
        vg_cli_tmp_untrack(tmp);
}

int state_cmd_export(const sopts_t *so, const char *arg) {
        char path[PATH_MAX], tmp[PATH_MAX + 16], errstr[1024] = "";
        int num, rc;
        sqlite3 *db;
        json_t *o;
        struct stat st;

        if (!so->so_out)
                return vg_cli_usage_error(CMD, "export: -o FILE is needed");
        if (!strcmp(so->so_out, "-"))
                return vg_cli_usage_error(CMD, "export: -o takes a file (a "
                                          "copy is a SQLite database, not "
                                          "written to standard output)");
        if (!vg_cli_plain_or_absent(so->so_out)) {
                /* (the copy is renamed over it: a device such as /dev/null,
                 * or a link, would be replaced) */
                struct stat ost;
                if (lstat(so->so_out, &ost))
                        return state_fail("export: %s: %s", so->so_out,
                                          strerror(errno));
                return state_fail("export: %s is not a regular file",
                                  so->so_out);
        }
        if ((rc = state_part_arg(so, arg, path, sizeof(path), &num)))
                return rc;
        {
                /* state.dir is the processor's: a copy renamed over one
                 * of its files (partition-N.db, with --force) replaced a
                 * live partition's state */
                char *dn = vg_strdup(so->so_out), d1[PATH_MAX], d2[PATH_MAX];
                bool inside = realpath(dirname(dn), d1) &&
                              realpath(so->so_dir, d2) && !strcmp(d1, d2);
                vg_free(dn);
                if (inside)
                        return state_fail("export: %s is in state.dir (%s), "
                                          "whose files are the processor's: "
                                          "export to another directory",
                                          so->so_out, so->so_dir);
        }
        if (!stat(so->so_out, &st) && !so->so_force)
                return state_fail("export: %s exists (--force replaces it)",
                                  so->so_out);
        if (!(db = state_part_open(path, errstr, sizeof(errstr))))
                return state_fail("%s", errstr);
        snprintf(tmp, sizeof(tmp), "%s.XXXXXX", so->so_out);
        if (make_tmp(tmp, so->so_out, errstr, sizeof(errstr)) ||
            backup(db, path, tmp, so->so_out, errstr, sizeof(errstr))) {
                sqlite3_close(db);
                drop_tmp(tmp);
                return state_fail("export: %s", errstr);
        }
        sqlite3_close(db);
        /* What was written is what was read: check the copy (errors
         * name the partition file, which the copy is of). */
        o = NULL;
        if ((db = state_part_open(tmp, errstr, sizeof(errstr))))
                o = state_part_json(db, path, true, errstr, sizeof(errstr));
        sqlite3_close(db);
        unlink_sidecars(tmp);
        if (!o || !state_check_ok(o)) {
                drop_tmp(tmp);
                json_decref(o);
                return state_fail("export: %s; nothing written",
                                  *errstr ? errstr
                                          : "the copy fails quick_check: the "
                                            "partition file is damaged");
        }
        fsync_path(tmp, O_RDONLY);
        if (so->so_force)
                unlink_sidecars(so->so_out);
        if (rename(tmp, so->so_out)) {
                rc = state_fail("export: %s: %s", so->so_out, strerror(errno));
                drop_tmp(tmp);
                json_decref(o);
                return rc;
        }
        vg_cli_tmp_untrack(tmp); /* (renamed) */
        fsync_dir_of(so->so_out);
        {
                char sz[32], pn[32], wm[64];
                const json_t *c = json_object_get(o, "counts");
                state_fmt_size(
                        state_jint(json_object_get(o, "content"), "bytes", 0),
                        sz, sizeof(sz));
                printf("exported partition %s (%lld patients, watermark %s, "
                       "%s) to %s\n",
                       state_jtext(json_object_get(o, "partition"), pn,
                                   sizeof(pn)),
                       (long long)state_jint(c, "patients", 0),
                       state_jtext(json_object_get(o, "watermark"), wm,
                                   sizeof(wm)),
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
                        if ((db = state_part_open(path, errstr, n)) &&
                            state_q_int(db, path,
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

int state_cmd_import(const sopts_t *so, const char *file) {
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
        if (!(db = state_part_open(file, errstr, sizeof(errstr))))
                return state_fail("import: %s", errstr);
        o = state_part_json(db, file, true, errstr, sizeof(errstr));
        sqlite3_close(db);
        if (!o)
                return state_fail("import: %s", errstr);
        if (!state_check_ok(o)) {
                json_t *e = json_array_get(json_object_get(o, "quick_check"),
                                           0);
                state_fail(
                        "import: %s is damaged (quick_check: %s); not imported",
                        file, json_is_string(e) ? json_string_value(e) : "?");
                goto out;
        }
        {
                char why[256] = "";
                long total, bad = unreadable_states(file, &total, why,
                                                    sizeof(why), errstr,
                                                    sizeof(errstr));
                if (bad) {
                        if (bad < 0)
                                state_fail("import: %s", errstr);
                        else
                                state_fail("import: %s: %ld of %ld patients' "
                                           "states cannot be read (the "
                                           "first: %s); not imported",
                                           file, bad, total, why);
                        goto out;
                }
        }
        if ((cur = current_schema(errstr, sizeof(errstr))) < 0) {
                state_fail("import: %s", errstr);
                goto out;
        }
        if (state_jint(o, "schema_version", -1) != cur &&
            !vg_part_schema_opens(state_jint(o, "schema_version", -1))) {
                state_fail(
                        "import: %s has state schema version %s, this release "
                        "uses %lld: not imported (docs/RUNBOOK.md, Upgrades)",
                        file,
                        state_jtext(json_object_get(o, "schema_version"),
                                    errstr, sizeof(errstr)),
                        (long long)cur);
                goto out;
        }
        if ((part = state_jint(o, "partition", -1)) < 0 || part > INT_MAX) {
                state_fail("import: %s names no partition (meta 'partition'): "
                           "not a partition file that has committed", file);
                goto out;
        }
        if (want >= 0 && part != want) {
                state_fail("import: %s holds partition %lld, not %lld", file,
                           (long long)part, (long long)want);
                goto out;
        }
        snprintf(target, sizeof(target), "%s/partition-%lld.db", so->so_dir,
                 (long long)part);
        if (realpath(file, rfile) && realpath(target, rtarget) &&
            !strcmp(rfile, rtarget)) {
                state_fail("import: %s is partition %lld of state.dir already",
                           file, (long long)part);
                goto out;
        }
        /* Never under a running processor: it holds state.dir's lock. */
        if ((pid = state_lock_holder(so->so_dir, "process.lock"))) {
                state_fail("import: state.dir %s is in use by a running vigil "
                           "process (pid %ld): stop it first; a partition file "
                           "must not be replaced under it", so->so_dir, pid);
                goto out;
        }
        if ((lock = vg_lock_dir(so->so_dir, "process.lock", errstr,
                                sizeof(errstr))) < 0) {
                state_fail("import: %s", errstr);
                goto out;
        }
        if (!access(target, F_OK) && !so->so_force) {
                state_fail(
                        "import: %s exists: --force replaces it (the state it "
                        "holds is lost; export it first to keep it)",
                        target);
                goto out;
        }
        snprintf(tmp, sizeof(tmp), "%s/.partition-%lld.db.import-XXXXXX",
                 so->so_dir, (long long)part);
        if (!(db = state_part_open(file, errstr, sizeof(errstr))) ||
            make_tmp(tmp, so->so_dir, errstr, sizeof(errstr))) {
                sqlite3_close(db);
                state_fail("import: %s", errstr);
                goto out;
        }
        if (backup(db, file, tmp, target, errstr, sizeof(errstr))) {
                sqlite3_close(db);
                drop_tmp(tmp);
                state_fail("import: %s", errstr);
                goto out;
        }
        sqlite3_close(db);
        fsync_path(tmp, O_RDONLY);
        /* A stale WAL would be replayed onto the new file: gone first. */
        unlink_sidecars(target);
        if (rename(tmp, target)) {
                state_fail("import: %s: %s", target, strerror(errno));
                drop_tmp(tmp);
                goto out;
        }
        vg_cli_tmp_untrack(tmp); /* (renamed) */
        fsync_dir_of(target);
        printf("imported %s as partition %lld of state.dir %s (%lld "
               "patients, watermark %s)\n",
               file, (long long)part, so->so_dir,
               (long long)state_jint(json_object_get(o, "counts"), "patients",
                                     0),
               state_jtext(json_object_get(o, "watermark"), errstr,
                           sizeof(errstr)));
        rc = VG_EXIT_OK;
out:
        vg_unlock_dir(lock);
        json_decref(o);
        return rc;
}
