/*
 * vg_cli.c - helpers shared by the subcommands.
 */
#include "vg_cli.h"
#include "vg_config.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <getopt.h>
#include <sys/stat.h>
#include <unistd.h>

bool vg_cli_wants_help(int argc, char **argv) {
        for (int i = 1; i < argc; i++) {
                if (!strcmp(argv[i], "--"))
                        return false;
                if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
                        return true;
        }
        return false;
}

int vg_cli_once(const char *cmd, int argc, char **argv, const char *shorts,
                const struct option *longs, const char *const *once) {
        int c, li, oe = opterr, rc = 0, n = 0;
        bool seen[16] = {false};
        if (vg_cli_wants_help(argc, argv))
                return 0; /* (--help wins, as over any other mistake) */
        while (once[n])
                n++;
        opterr = 0; /* (the command's own loop names a bad option) */
        optind = 1;
        while (!rc && (li = -1, c = getopt_long(argc, argv, shorts, longs,
                                                &li)) != -1) {
                for (int i = 0; li < 0 && c != '?' && longs[i].name; i++)
                        if (!longs[i].flag && longs[i].val == c)
                                li = i;
                for (int k = 0; li >= 0 && k < n && k < 16; k++) {
                        if (strcmp(once[k], longs[li].name))
                                continue;
                        if (seen[k])
                                rc = vg_cli_usage_error(cmd, "--%s: given "
                                                        "twice (one file "
                                                        "per run)",
                                                        once[k]);
                        seen[k] = true;
                }
        }
        opterr = oe;
        optind = 1;
        return rc;
}

int vg_cli_int_arg(const char *cmd, const char *opt, const char *arg,
                   long long min, long long max, long long *out) {
        char *end;
        long long v;
        errno = 0;
        v = strtoll(arg, &end, 10);
        /* (strtoll also skips spaces and takes a '+': written as the
         * configuration's integers are, digits and a '-' only) */
        if (errno || end == arg || *end || v < min || v > max ||
            !(*arg == '-' || (*arg >= '0' && *arg <= '9')))
                return vg_cli_usage_error(cmd,
                                          "--%s: expected an integer from "
                                          "%lld to %lld, got '%s'",
                                          opt, min, max, arg);
        *out = v;
        return 0;
}

/* The absolute form of a path that does not exist: its directory's real
 * path, '/', its last name; a dangling link is followed to what it would
 * create (depth: links left to follow). False when the directory cannot be
 * resolved. */
static bool absent_path(const char *path, char out[PATH_MAX], int depth) {
        char dir[PATH_MAX], real[PATH_MAX], link[PATH_MAX];
        const char *slash = strrchr(path, '/'), *base;
        struct stat st;
        ssize_t ln;
        size_t n;
        if (strlen(path) >= sizeof(dir))
                return false;
        if (!lstat(path, &st)) {
                if (!S_ISLNK(st.st_mode) || depth <= 0 ||
                    (ln = readlink(path, link, sizeof(link) - 1)) <= 0)
                        return false;
                link[ln] = '\0';
                if (link[0] != '/' && slash) { /* relative to the link */
                        n = (size_t)(slash - path) + 1;
                        if (n + (size_t)ln >= sizeof(dir))
                                return false;
                        memcpy(dir, path, n);
                        memcpy(dir + n, link, (size_t)ln + 1);
                        memcpy(link, dir, n + (size_t)ln + 1);
                }
                return absent_path(link, out, depth - 1);
        }
        if (!slash) {
                strcpy(dir, ".");
                base = path;
        } else {
                n = slash == path ? 1 : (size_t)(slash - path);
                memcpy(dir, path, n);
                dir[n] = '\0';
                base = slash + 1;
        }
        if (!*base || !strcmp(base, ".") || !strcmp(base, "..") ||
            !realpath(dir, real))
                return false;
        return snprintf(out, PATH_MAX, "%s/%s", real, base) < PATH_MAX;
}

bool vg_cli_same_regular_file(const char *a, const char *b) {
        struct stat sa, sb;
        return !stat(a, &sa) && !stat(b, &sb) && S_ISREG(sa.st_mode) &&
               sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

bool vg_cli_same_output(const char *a, const char *b) {
        struct stat sa, sb;
        char pa[PATH_MAX], pb[PATH_MAX];
        bool ea, na, eb, nb;
        if (!strcmp(a, "-") && !strcmp(b, "-"))
                return false; /* (one stream: whole lines) */
        /* ("-": standard output itself, with or without /dev/stdout) */
        ea = !(strcmp(a, "-") ? stat(a, &sa) : fstat(STDOUT_FILENO, &sa));
        na = !ea && errno == ENOENT;
        eb = !(strcmp(b, "-") ? stat(b, &sb) : fstat(STDOUT_FILENO, &sb));
        nb = !eb && errno == ENOENT;
        if (ea && eb) /* a pipe or socket too: two streams' buffers
                       * would cut each other's lines */
                return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino &&
                       (S_ISREG(sa.st_mode) || S_ISFIFO(sa.st_mode) ||
                        S_ISSOCK(sa.st_mode));
        /* Neither there yet: the same file once one is made? */
        return na && nb && absent_path(a, pa, 8) && absent_path(b, pb, 8) &&
               !strcmp(pa, pb);
}

bool vg_cli_plain_or_absent(const char *path) {
        struct stat st;
        if (lstat(path, &st))
                return errno == ENOENT;
        return S_ISREG(st.st_mode);
}

int vg_cli_close_out(const char *cmd, FILE *fp, const char *name) {
        /* (ferror: a failed write whose error fflush no longer sees) */
        int bad = ferror(fp), err = 0;
        if (fp == stdout ? fflush(fp) != 0 : fclose(fp) != 0)
                err = errno;
        if (!bad && !err)
                return 0;
        fprintf(stderr, "vigil%s%s: %s: write error%s%s\n", *cmd ? " " : "",
                cmd, name, err ? ": " : "", err ? strerror(err) : "");
        if (fp == stdout) /* (reported once: not again at exit) */
                clearerr(fp);
        return VG_EXIT_FAIL;
}

/* The temporary files of outputs not ended yet, for the signal handler
 * (set and cleared on the main thread, with the signals blocked). */
#define OUT_TMPS 4
static char *volatile out_tmps[OUT_TMPS];
/* (a SQLite file's: its -journal, -wal and -shm go with it) */
static volatile bool out_db[OUT_TMPS];

static const int out_deadly[] = {SIGHUP, SIGPIPE, SIGQUIT, SIGXFSZ};

/* unlink(path + suffix), async-signal-safe (no snprintf) */
static void out_unlink_sfx(const char *path, const char *sfx) {
        char p[PATH_MAX + 16];
        size_t n = strlen(path), m = strlen(sfx);
        if (n + m >= sizeof(p))
                return;
        memcpy(p, path, n);
        memcpy(p + n, sfx, m + 1);
        unlink(p);
}

static void out_signal(int sig) {
        for (int i = 0; i < OUT_TMPS; i++) {
                char *t = out_tmps[i];
                if (!t)
                        continue;
                unlink(t);
                if (out_db[i]) {
                        out_unlink_sfx(t, "-journal");
                        out_unlink_sfx(t, "-wal");
                        out_unlink_sfx(t, "-shm");
                }
        }
        signal(sig, SIG_DFL);
        raise(sig);
}

static void out_track_db(char *tmp, char *untrack, bool db) {
        sigset_t all, old;
        sigfillset(&all);
        sigprocmask(SIG_BLOCK, &all, &old);
        for (int i = 0; i < OUT_TMPS; i++)
                if (untrack ? out_tmps[i] == untrack : !out_tmps[i]) {
                        out_tmps[i] = tmp;
                        out_db[i] = tmp && db;
                        break;
                }
        if (tmp) {
                struct sigaction sa;
                memset(&sa, 0, sizeof(sa));
                sa.sa_handler = out_signal;
                sigemptyset(&sa.sa_mask);
                sigaction(SIGINT, &sa, NULL);
                sigaction(SIGTERM, &sa, NULL);
                /* A closed terminal or reader ends the process too: those
                 * it would die of take the files with them (one ignored
                 * or handled elsewhere is left so) */
                for (size_t i = 0; i < sizeof(out_deadly) /
                                               sizeof(out_deadly[0]); i++) {
                        struct sigaction cur;
                        if (!sigaction(out_deadly[i], NULL, &cur) &&
                            cur.sa_handler == SIG_DFL)
                                sigaction(out_deadly[i], &sa, NULL);
                }
        }
        sigprocmask(SIG_SETMASK, &old, NULL);
}

static void out_track(char *tmp, char *untrack) {
        out_track_db(tmp, untrack, false);
}

int vg_cli_tmp_make(char *tmpl, bool sqlite) {
        sigset_t all, old;
        int fd, en;
        sigfillset(&all);
        sigprocmask(SIG_BLOCK, &all, &old);
        fd = mkstemp(tmpl);
        en = errno;
        if (fd >= 0)
                out_track_db(tmpl, NULL, sqlite);
        sigprocmask(SIG_SETMASK, &old, NULL);
        errno = en;
        return fd;
}

void vg_cli_tmp_untrack(char *path) {
        out_track_db(NULL, path, false);
}

/* Whether path's file may be replaced by a rename: a new name, or a
 * regular file of one link in a directory we may write (else the rename
 * would break its other links, or cannot be done: it is written in
 * place, as before). */
static bool out_renamable(const char *path, struct stat *st, bool *exists) {
        char *dn = vg_strdup(path), *slash = strrchr(dn, '/');
        bool ok;
        *exists = !stat(path, st);
        if (slash)
                slash[slash == dn ? 1 : 0] = '\0';
        ok = (!*exists || st->st_nlink == 1) &&
             !access(slash ? dn : ".", W_OK);
        vg_free(dn);
        return ok;
}

int vg_cli_out_open(const char *cmd, vg_cli_out_t *o, const char *path) {
        struct stat st;
        bool exists;
        sigset_t all, old;
        size_t len;
        mode_t mode;
        int fd, en;
        o->co_fp = NULL;
        o->co_path = path;
        o->co_tmp = NULL;
        if (!path || !strcmp(path, "-")) {
                o->co_fp = stdout;
                return 0;
        }
        if (!*path) /* (its temporary would be made, and the rename fail
                     * only after the whole run) */
                return vg_cli_usage_error(cmd, "'' (an empty file name) "
                                          "given as an output");
        if (!vg_cli_plain_or_absent(path) || !out_renamable(path, &st,
                                                              &exists)) {
                if ((o->co_fp = fopen(path, "w")))
                        return 0;
                fprintf(stderr, "vigil %s: %s: %s\n", cmd, path,
                        strerror(errno));
                return VG_EXIT_FAIL;
        }
        if (exists) {
                mode = st.st_mode & 07777; /* (the file's, kept) */
        } else {
                mode = umask(0); /* (as fopen would make it) */
                umask(mode);
                mode = 0666 & ~mode;
        }
        len = strlen(path) + 16;
        o->co_tmp = vg_malloc(len);
        snprintf(o->co_tmp, len, "%s.tmp.XXXXXX", path);
        /* A name of its own (O_EXCL, never through a link someone put
         * there), known to the signal handler before it exists. */
        sigfillset(&all);
        sigprocmask(SIG_BLOCK, &all, &old);
        fd = mkstemp(o->co_tmp);
        en = errno;
        if (fd >= 0)
                out_track(o->co_tmp, NULL);
        sigprocmask(SIG_SETMASK, &old, NULL);
        if (fd >= 0 && (fchmod(fd, mode) || !(o->co_fp = fdopen(fd, "w"))))
                en = errno;
        if (!o->co_fp) { /* (named as given, never by its temporary) */
                fprintf(stderr, "vigil %s: %s: %s\n", cmd, path,
                        strerror(en));
                if (fd >= 0) {
                        close(fd);
                        unlink(o->co_tmp);
                        out_track(NULL, o->co_tmp);
                }
                vg_free(o->co_tmp);
                o->co_tmp = NULL;
                return VG_EXIT_FAIL;
        }
        return 0;
}

const char *vg_cli_out_name(const vg_cli_out_t *o) {
        return o->co_path && strcmp(o->co_path, "-") ? o->co_path
                                                     : "standard output";
}

int vg_cli_out_end(const char *cmd, vg_cli_out_t *const *outs, int n,
                   bool keep) {
        int rc = 0;
        /* Every output closed (and checked) before any is renamed: a
         * failure of the last leaves all as they were. */
        for (int i = 0; i < n; i++) {
                vg_cli_out_t *o = outs[i];
                if (o->co_fp &&
                    vg_cli_close_out(cmd, o->co_fp, vg_cli_out_name(o)))
                        rc = VG_EXIT_FAIL;
                o->co_fp = NULL;
        }
        for (int i = 0; i < n; i++) {
                vg_cli_out_t *o = outs[i];
                if (!o->co_tmp)
                        continue;
                if (keep && !rc && rename(o->co_tmp, o->co_path)) {
                        fprintf(stderr, "vigil %s: %s: %s\n", cmd,
                                o->co_path, strerror(errno));
                        rc = VG_EXIT_FAIL;
                }
                if (!keep || rc)
                        unlink(o->co_tmp);
                out_track(NULL, o->co_tmp);
                vg_free(o->co_tmp);
                o->co_tmp = NULL;
        }
        return rc;
}

int vg_cli_usage_error(const char *cmd, const char *fmt, ...) {
        va_list ap;
        fprintf(stderr, "vigil %s: ", cmd);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fprintf(stderr, " (see 'vigil %s --help')\n", cmd);
        return VG_EXIT_USAGE;
}

/* -X and -b values are kept until vg_cli_conf_finish() so that they apply
 * after the file, whatever the order on the command line. */
static char **pending;
static int pending_cnt;
static int file_loaded;

int vg_cli_conf_option(vg_conf_t *conf, const char *cmd, int c,
                       const char *arg, int *rc) {
        char errstr[512];
        switch (c) {
        case 'F':
                if (vg_conf_load_file(conf, arg, errstr, sizeof(errstr))) {
                        fprintf(stderr, "vigil %s: %s\n", cmd, errstr);
                        *rc = VG_EXIT_USAGE;
                }
                file_loaded = 1;
                return 1;
        case 'X':
        case 'b': {
                char *kv;
                if (c == 'b') {
                        size_t n = strlen(arg) + 32;
                        kv = vg_malloc(n);
                        snprintf(kv, n, "kafka.bootstrap.servers=%s", arg);
                } else
                        kv = vg_strdup(arg);
                pending = vg_realloc(pending,
                                     sizeof(*pending) * (size_t)(pending_cnt + 1));
                pending[pending_cnt++] = kv;
                return 1;
        }
        }
        return 0;
}

int vg_cli_conf_finish(vg_conf_t *conf, const char *cmd) {
        char errstr[512];
        int rc = 0;
        const char *lvl;

        if (!file_loaded && vg_conf_load_default(conf, errstr, sizeof(errstr))) {
                const char *env = getenv("VIGIL_CONFIG");
                /* (say where the name came from: no -F was given) */
                fprintf(stderr, "vigil %s: %s%s\n", cmd,
                        env && *env ? "$VIGIL_CONFIG: " : "", errstr);
                rc = VG_EXIT_USAGE;
        }
        for (int i = 0; i < pending_cnt; i++) {
                if (!rc && vg_conf_set_kv(conf, pending[i], errstr,
                                          sizeof(errstr))) {
                        fprintf(stderr, "vigil %s: -X %s\n", cmd, errstr);
                        rc = VG_EXIT_USAGE;
                }
                vg_free(pending[i]);
        }
        vg_free(pending);
        pending = NULL;
        pending_cnt = 0;
        file_loaded = 0;
        if (!rc) { /* kafka.* keys: librdkafka judges them, now */
                rd_kafka_conf_t *k = rd_kafka_conf_new();
                if (vg_conf_kafka(conf, k, errstr, sizeof(errstr))) {
                        fprintf(stderr, "vigil %s: %s\n", cmd, errstr);
                        rc = VG_EXIT_USAGE;
                }
                rd_kafka_conf_destroy(k);
        }
        lvl = vg_conf_str(conf, "log.level");
        vg_log_level = !strcmp(lvl, "error")  ? VG_LOG_ERROR
                       : !strcmp(lvl, "warn") ? VG_LOG_WARN
                       : !strcmp(lvl, "debug") ? VG_LOG_DEBUG
                                               : VG_LOG_INFO;
        return rc;
}
