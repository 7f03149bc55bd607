/*
 * vg_lines.c - bounded JSON Lines input and the inputs of a command
 * (vg_lines.h).
 */
#include "vg_lines.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#define READ_BLOCK (64 * 1024)

void vg_lines_init(vg_lines_t *lr, FILE *fp, const char *name, size_t max) {
        memset(lr, 0, sizeof(*lr));
        lr->lr_fp = fp;
        lr->lr_name = name;
        lr->lr_max = max;
}

void vg_lines_free(vg_lines_t *lr) {
        if (lr->lr_buf)
                memset(lr->lr_buf, 0, lr->lr_cap);
        if (lr->lr_rbuf)
                memset(lr->lr_rbuf, 0, READ_BLOCK);
        free(lr->lr_buf);
        free(lr->lr_rbuf);
        lr->lr_buf = lr->lr_rbuf = NULL;
        lr->lr_cap = lr->lr_rpos = lr->lr_rlen = 0;
}

static bool stopped(const vg_lines_t *lr) {
        return lr->lr_stop && *lr->lr_stop;
}

/* Refills the read-ahead. 1: bytes, 0: end of input, -1: error (errstr). */
static int fill(vg_lines_t *lr, char *errstr, size_t errstr_size) {
        int fd = fileno(lr->lr_fp);
        ssize_t n;
        if (lr->lr_eof)
                return 0;
        if (fd < 0) { /* a stream without a descriptor (fmemopen) */
                if (!lr->lr_rbuf && !(lr->lr_rbuf = malloc(READ_BLOCK)))
                        return vg_seterr(errstr, errstr_size, VG_ERR_NOMEM,
                                         "out of memory"), -1;
                n = (ssize_t)fread(lr->lr_rbuf, 1, READ_BLOCK, lr->lr_fp);
                if (n == 0 && ferror(lr->lr_fp))
                        return vg_seterr(errstr, errstr_size, VG_ERR_IO,
                                         "read error: %s", strerror(errno)),
                               -1;
                lr->lr_eof = n == 0;
                lr->lr_rpos = 0;
                lr->lr_rlen = (size_t)n;
                return n > 0;
        }
        if (!lr->lr_rbuf) {
                /* A file that was sniffed and rewound through stdio
                 * (fseek may only move inside stdio's buffer): read on
                 * from where stdio says the stream is. */
                off_t at = ftello(lr->lr_fp);
                if (at >= 0 && lseek(fd, at, SEEK_SET) < 0)
                        return vg_seterr(errstr, errstr_size, VG_ERR_IO,
                                         "cannot seek: %s", strerror(errno)),
                               -1;
                if (!(lr->lr_rbuf = malloc(READ_BLOCK)))
                        return vg_seterr(errstr, errstr_size, VG_ERR_NOMEM,
                                         "out of memory"), -1;
        }
        for (;;) {
                /* An endless line (/dev/zero) must not outlive a signal. */
                if (stopped(lr))
                        return vg_seterr(errstr, errstr_size, VG_ERR_IO,
                                         "interrupted"), -1;
                n = read(fd, lr->lr_rbuf, READ_BLOCK);
                if (n > 0)
                        break;
                if (n == 0) {
                        lr->lr_eof = true;
                        return 0;
                }
                if (errno != EINTR)
                        return vg_seterr(errstr, errstr_size, VG_ERR_IO,
                                         "read error: %s", strerror(errno)),
                               -1;
        }
        lr->lr_rpos = 0;
        lr->lr_rlen = (size_t)n;
        return 1;
}

/* Appends n bytes to the line, or marks it too long. 0, or -1 (errstr). */
static int append(vg_lines_t *lr, const char *p, size_t n, size_t *len,
                  bool *too_long, char *errstr, size_t errstr_size) {
        if (*too_long)
                return 0;
        if (n > lr->lr_max + 1 - *len) { /* (+1: a CR of the line end) */
                *too_long = true;
                return 0;
        }
        if (*len + n + 1 > lr->lr_cap) {
                size_t cap = lr->lr_cap ? lr->lr_cap : 4096;
                char *b;
                while (cap < *len + n + 1)
                        cap *= 2;
                if (cap > lr->lr_max + 2)
                        cap = lr->lr_max + 2;
                if (!(b = realloc(lr->lr_buf, cap)))
                        return vg_seterr(errstr, errstr_size, VG_ERR_NOMEM,
                                         "out of memory reading a line of "
                                         "%zu bytes", *len), -1;
                lr->lr_buf = b;
                lr->lr_cap = cap;
        }
        memcpy(lr->lr_buf + *len, p, n);
        *len += n;
        return 0;
}

int vg_lines_next(vg_lines_t *lr, char **linep, size_t *lenp, char *errstr,
                  size_t errstr_size) {
        size_t len = 0, seen = 0;
        bool too_long = false, newline = false;

        while (!newline) {
                const char *p, *nl;
                size_t n;
                if (lr->lr_rpos == lr->lr_rlen) {
                        int r = fill(lr, errstr, errstr_size);
                        if (r < 0)
                                return VG_LINES_FATAL;
                        if (r == 0) {
                                if (seen == 0)
                                        return VG_LINES_END;
                                break; /* a last line without "\n" */
                        }
                }
                p = lr->lr_rbuf + lr->lr_rpos;
                n = lr->lr_rlen - lr->lr_rpos;
                if ((nl = memchr(p, '\n', n))) {
                        n = (size_t)(nl - p);
                        newline = true;
                }
                if (append(lr, p, n, &len, &too_long, errstr, errstr_size))
                        return VG_LINES_FATAL;
                seen += n + newline;
                lr->lr_rpos += n + newline;
        }
        lr->lr_offset += (int64_t)seen;
        lr->lr_lineno++;
        if (len > 0 && lr->lr_buf[len - 1] == '\r')
                len--; /* (the line end: LF or CR LF) */
        if (len > lr->lr_max)
                too_long = true;
        if (too_long)
                return vg_seterr(errstr, errstr_size, VG_ERR_ARG,
                                 "line longer than %zu bytes "
                                 "(input.max_bytes): skipped", lr->lr_max),
                       VG_LINES_BAD;
        if (!lr->lr_buf && !(lr->lr_buf = malloc(1)))
                return vg_seterr(errstr, errstr_size, VG_ERR_NOMEM,
                                 "out of memory"),
                       VG_LINES_FATAL;
        if (lr->lr_lineno == 1 && vg_bom_len(lr->lr_buf, len)) {
                len -= 3; /* (it counts toward lr_max) */
                memmove(lr->lr_buf, lr->lr_buf + 3, len);
        }
        lr->lr_buf[len] = '\0';
        *linep = lr->lr_buf;
        *lenp = len;
        return VG_LINES_OK;
}

int vg_lines_each_input(const char *cmd, char *const *files, int nfiles,
                        bool stop_at_open_error, vg_lines_input_fn fn,
                        void *opaque) {
        int failed = 0;

        for (int i = 0; i < (nfiles ? nfiles : 1); i++) {
                const char *path = nfiles ? files[i] : "-";
                bool is_stdin = !strcmp(path, "-");
                FILE *in = is_stdin ? stdin : fopen(path, "rb");
                int stop;
                if (!in) {
                        fprintf(stderr, "vigil %s: %s: %s\n", cmd, path,
                                strerror(errno));
                        failed++;
                        if (stop_at_open_error)
                                break;
                        continue;
                }
                stop = fn(opaque, in, is_stdin ? "<stdin>" : path);
                if (!is_stdin)
                        fclose(in);
                if (stop)
                        break;
        }
        return failed;
}

int vg_lines_check_inputs(const char *cmd, char *const *files, int nfiles) {
        for (int i = 0; i < nfiles; i++) {
                FILE *fp;
                if (!strcmp(files[i], "-"))
                        continue;
                if (!(fp = fopen(files[i], "rb"))) {
                        fprintf(stderr, "vigil %s: %s: %s\n", cmd, files[i],
                                strerror(errno));
                        return -1;
                }
                fclose(fp);
        }
        return 0;
}

FILE *vg_lines_open(const char *cmd, const char *path) {
        bool is_stdin = !strcmp(path, "-");
        struct stat st;
        FILE *in = is_stdin ? stdin : fopen(path, "rb");
        int err;

        if (!in) {
                fprintf(stderr, "vigil %s: %s: %s\n", cmd,
                        *path ? path : "'' (an empty file name)",
                        strerror(errno));
                return NULL;
        }
        /* A closed standard input (EBADF) or a directory: an error now,
         * not an empty input later. */
        err = fstat(fileno(in), &st) ? errno
              : S_ISDIR(st.st_mode)  ? EISDIR
                                     : 0;
        if (err) {
                fprintf(stderr, "vigil %s: %s: read error: %s\n", cmd,
                        is_stdin ? "<stdin>" : path, strerror(err));
                if (!is_stdin)
                        fclose(in);
                return NULL;
        }
        return in;
}

int vg_lines_read_error(const char *cmd, FILE *in, const char *name) {
        int err = errno;

        if (!ferror(in))
                return 0;
        fprintf(stderr, "vigil %s: %s: read error: %s\n", cmd, name,
                err ? strerror(err) : "I/O error");
        return -1;
}

ssize_t vg_lines_get(vg_lines_t *lr, const char *cmd, char **linep,
                     long *bad, bool *failed) {
        char e[256];
        size_t len;
        int r;
        while ((r = vg_lines_next(lr, linep, &len, e, sizeof(e))) ==
               VG_LINES_BAD) {
                vg_log(VG_LOG_ERROR, cmd,
                       "%s:%ld: %s", lr->lr_name, lr->lr_lineno,
                       e);
                (*bad)++;
        }
        if (r == VG_LINES_FATAL) {
                fprintf(stderr, "vigil %s: %s: %s\n", cmd, lr->lr_name, e);
                *failed = true;
        }
        return r == VG_LINES_OK ? (ssize_t)len : -1;
}
