/*
 * vg_cli.h - what the subcommands of the vigil binary share: the command
 * type, exit codes and option helpers. The commands themselves are declared
 * next to their code (vg_consumers.h, vg_producers.h, vg_ops.h, vg_codec.h,
 * vg_app.h; vigil config here) and listed in app/main.c.
 *
 * Every command is `int cmd(int argc, char **argv)` with argv[0] the command
 * name; it returns the process exit status:
 *   0 success, 1 failure (something could not be done), 2 usage error
 *   (bad option or input), 3 partial success where a command says so.
 */
#ifndef VG_CLI_H
#define VG_CLI_H

#include "vg_common.h"

#include <stdio.h>

#define VG_EXIT_OK      0
#define VG_EXIT_FAIL    1
#define VG_EXIT_USAGE   2

typedef struct vg_cmd_s {
        const char *vc_name;              /* "produce" */
        int (*vc_main)(int argc, char **argv);
        const char *vc_summary;           /* one line for `vigil --help` */
} vg_cmd_t;

/* vigil config (vg_cmd_config.c): the effective configuration, its doc. */
int vg_cmd_config(int argc, char **argv);

/* Handles the options every Kafka command shares; returns 1 if c was one of
 * them (after applying it, or printing an error and setting *rc to
 * VG_EXIT_USAGE), 0 otherwise.
 *   -F FILE   properties file      -X key=value   override
 *   -b HOSTS  kafka.bootstrap.servers
 * Call vg_cli_conf_finish() after option parsing. */
struct vg_conf_s;
#define VG_CLI_CONF_OPTS "F:X:b:"
int vg_cli_conf_option(struct vg_conf_s *conf, const char *cmd, int c,
                       const char *arg, int *rc);
/* Loads the default config file if no -F was given, applies -X options in
 * order after it, sets the log level. Returns 0, or VG_EXIT_USAGE after
 * printing the error. */
int vg_cli_conf_finish(struct vg_conf_s *conf, const char *cmd);
/* Text for --help describing -F/-X/-b. */
#define VG_CLI_CONF_HELP                                                       \
        "  -F FILE        configuration properties file (default: "            \
        "$VIGIL_CONFIG,\n"                                                     \
        "                 else ./vigil.conf if present)\n"                     \
        "  -X KEY=VALUE   set a configuration key (repeatable; kafka.* keys "   \
        "go to\n"                                                              \
        "                 librdkafka, e.g. -X kafka.security.protocol=SSL)\n"  \
        "  -b BROKERS     shorthand for -X kafka.bootstrap.servers=BROKERS\n"  \
        "                 (default localhost:9092)\n"

/* Refuses an input option (long names in once, NULL-ended) given twice,
 * before the command's own getopt_long loop (which must start again at
 * optind = 1): two --input files would read the last only. Any other
 * option given twice counts as the last one, as -X does, so that a
 * wrapper's default can be overridden. Returns 0, or VG_EXIT_USAGE after
 * printing which option. */
struct option;
int vg_cli_once(const char *cmd, int argc, char **argv, const char *shorts,
                const struct option *longs, const char *const *once);

/* Parses option value arg of --opt as an integer in [min, max] into *out;
 * on error prints "vigil <cmd>: --opt: expected ..." and returns
 * VG_EXIT_USAGE, else 0. */
int vg_cli_int_arg(const char *cmd, const char *opt, const char *arg,
                   long long min, long long max, long long *out);

/* True if argv holds -h or --help before any "--". */
bool vg_cli_wants_help(int argc, char **argv);

/* Whether paths a and b name the same existing regular file (the same
 * device and inode: a link or another spelling of one path too), which a
 * command must not both read and write, or write twice. Devices such as
 * /dev/null are not: writing them twice harms nothing. */
bool vg_cli_same_regular_file(const char *a, const char *b);

/* For two outputs about to be opened ("-": standard output): whether they
 * are one regular file, pipe or socket (the same device and inode: two
 * streams would cut each other's lines; both "-" are one stream), or,
 * when neither exists yet, whether they would be one file (F and ./F, a
 * link to F that does not exist yet): the real path of the directory and
 * the name. */
bool vg_cli_same_output(const char *a, const char *b);

/* Whether path does not exist, or is a regular file itself (not a link,
 * a device, a FIFO, a directory): what a command may rename a finished
 * temporary file over. */
bool vg_cli_plain_or_absent(const char *path);

/* Ends an output stream of cmd opened by the caller (name: what messages
 * call it): stdout is flushed, any other stream closed. A write that failed
 * at any time since it was opened (a full disk, /dev/full) is reported as
 * "vigil <cmd>: <name>: write error: ..." and gives VG_EXIT_FAIL; else 0.
 * stdout's error is cleared once reported (app/main.c checks it at exit). */
int vg_cli_close_out(const char *cmd, FILE *fp, const char *name);

/* An output written whole or not at all. A regular file (or a path not
 * there yet) is written to a file of its own beside it ("<path>.tmp.
 * XXXXXX", made with O_EXCL, with the mode the file has) and renamed over
 * path only by vg_cli_out_end(keep): a failed or interrupted run leaves
 * what was there before. "-" is standard output; a device, a FIFO or a
 * link (/dev/stdout, /dev/null) is written directly, since a rename would
 * replace the device or the link itself, and so is a file of several
 * hard links or in a directory we may not write (as before). */
typedef struct vg_cli_out_s {
        FILE       *co_fp;   /* NULL until opened */
        const char *co_path; /* as given ("-": standard output) */
        char       *co_tmp;  /* the temporary file, or NULL */
} vg_cli_out_t;

/* Opens o for path (may be NULL: standard output). On an error prints
 * "vigil <cmd>: <path>: <reason>" and returns VG_EXIT_FAIL. Until it is
 * ended, SIGINT and SIGTERM remove its temporary file before the process
 * dies of them. */
int vg_cli_out_open(const char *cmd, vg_cli_out_t *o, const char *path);
/* Ends outs[n] (opened or not) together: closes each (stdout: flushed, as
 * vg_cli_close_out), then, if keep and every write and close succeeded,
 * renames each temporary file over its path; else removes them. Returns
 * 0, or VG_EXIT_FAIL after printing why. */
int vg_cli_out_end(const char *cmd, vg_cli_out_t *const *outs, int n,
                   bool keep);
/* What messages call o: its path, or "standard output". */
const char *vg_cli_out_name(const vg_cli_out_t *o);

/* mkstemp(tmpl) (the caller keeps tmpl until it untracks it): a file
 * that the signals that remove an output's temporary file
 * (vg_cli_out_open) remove too before the process dies of them; with
 * sqlite, its -journal, -wal and -shm as well. Returns the descriptor, or
 * -1 (errno). At most four are tracked at once, outputs' included.
 * Untrack it once it is renamed or removed. */
int vg_cli_tmp_make(char *tmpl, bool sqlite);
void vg_cli_tmp_untrack(char *path);

/* Prints "vigil <cmd>: <msg>" to stderr and returns VG_EXIT_USAGE. */
int vg_cli_usage_error(const char *cmd, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

#endif /* VG_CLI_H */
