/*
 * state_int.h - what the parts of `vigil state` share: the options
 * (sopts_t) and, from state.c, opening a partition file read-only and
 * reading it as JSON; the subcommands of state_inspect.c (list, show,
 * patient) and state_copy.c (export, import).
 */
#ifndef STATE_INT_H
#define STATE_INT_H

#include "vg_common.h"

#include <jansson.h>
#include <sqlite3.h>

#define CMD "state"
#define JSON_FLAGS (JSON_COMPACT | JSON_PRESERVE_ORDER)

/* What the command line asked for. */
typedef struct sopts_s {
        const char *so_dir;       /* state.dir */
        const char *so_out;       /* export -o */
        const char *so_part;      /* --partition */
        bool        so_json;      /* -j */
        bool        so_force;     /* --force */
        bool        so_check;     /* show --check */
} sopts_t;

/* state.c: "vigil state: <message>" on stderr; returns VG_EXIT_FAIL. */
int state_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* An epoch-ms time as RFC 3339, null for none. */
json_t *state_jtime(int64_t ms);
/* A JSON value as text ("-" for none), formatted into buf if need be. */
const char *state_jtext(const json_t *j, char *buf, size_t n);
/* A size in B, KB, MB or GB. */
void state_fmt_size(int64_t b, char *buf, size_t n);
/* errstr = "path: [what: ]SQLite's error in words"; returns VG_ERR_STORE. */
vg_err_t state_db_err(char *errstr, size_t n, const char *path,
                      const char *what, sqlite3 *db, int rc);
/* A partition file opened read-only (checked to be one); NULL + errstr. */
sqlite3 *state_part_open(const char *path, char *errstr, size_t n);
/* The integer of sql's first row (text parameter arg, if any), or def;
 * -1 + errstr on error. */
int state_q_int(sqlite3 *db, const char *path, const char *sql,
                const char *arg, int64_t def, int64_t *out, char *errstr,
                size_t n);
/* The event type of meta key topic_time.T, or NULL. */
const char *state_topic_time_type(const char *key);
/* Integer member key of o, or def. */
int64_t state_jint(const json_t *o, const char *key, int64_t def);
/* A partition's content as JSON (with quick_check if check); NULL +
 * errstr. */
json_t *state_part_json(sqlite3 *db, const char *path, bool check,
                        char *errstr, size_t n);
/* True if quick_check passed (a state_part_json with check). */
bool state_check_ok(const json_t *o);
/* The numbers of dir's partition files, sorted, in *out (vg_free it);
 * -1 + errstr. */
int state_part_numbers(const char *dir, int **out, char *errstr, size_t n);
/* PART (a partition number or a file's path) -> path; *num is the
 * number, -1 for a path. 0, or an exit status (reported). */
int state_part_arg(const sopts_t *so, const char *arg, char *path,
                   size_t size, int *num);
/* The pid of the process holding dir/name's lock: 0 none, -1 unknown. */
long state_lock_holder(const char *dir, const char *name);

/* state_inspect.c: the subcommands; each returns an exit status. */
int state_cmd_list(const sopts_t *so);
int state_cmd_show(const sopts_t *so, const char *arg);
int state_cmd_patient(const sopts_t *so, const char *id);

/* state_copy.c */
int state_cmd_export(const sopts_t *so, const char *arg);
int state_cmd_import(const sopts_t *so, const char *file);

#endif /* STATE_INT_H */
