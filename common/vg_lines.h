/*
 * vg_lines.h - bounded JSON Lines input (SPEC §7: a line longer than the
 * limit is an error naming where it is, never an unbounded allocation; a
 * failed allocation or a read error is an error, never the end of input).
 *
 *   vg_lines_t lr;
 *   vg_lines_init(&lr, fp, name, max_bytes);
 *   while ((r = vg_lines_next(&lr, &line, &len, errstr, sizeof(errstr))) != 0)
 *           if (r == VG_LINES_BAD) ... report errstr, go on
 *           else if (r == VG_LINES_FATAL) ... stop, exit non-zero
 *           else ... use line[len]
 *   vg_lines_free(&lr);
 *
 * The reader reads fp's file descriptor in blocks of its own, from where
 * stdio says fp is (so a file may be sniffed and rewound through stdio
 * first; from a pipe read nothing through fp before), taking what a pipe
 * has at once, so a line is returned as soon as it is there. A stream
 * without a descriptor (fmemopen) is read with fread.
 */
#ifndef VG_LINES_H
#define VG_LINES_H

#include "vg_common.h"

#include <signal.h>
#include <stdio.h>

enum { VG_LINES_END = 0, VG_LINES_OK = 1, VG_LINES_BAD = -1,
       VG_LINES_FATAL = -2 };

typedef struct vg_lines_s {
        FILE       *lr_fp;
        const char *lr_name;   /* for messages: the file name */
        char       *lr_buf;
        size_t      lr_cap;
        size_t      lr_max;    /* longest line accepted, bytes */
        long        lr_lineno; /* of the line last returned */
        volatile sig_atomic_t *lr_stop; /* set: stop reading (a signal);
                                         * may be NULL */
        int64_t     lr_offset; /* bytes of input up to the end of the line
                                * last returned (progress; ftell does not
                                * know: the reader reads the file
                                * descriptor itself) */
        char       *lr_rbuf;   /* read-ahead: lr_rbuf[lr_rpos..lr_rlen) */
        size_t      lr_rpos, lr_rlen;
        bool        lr_eof;
} vg_lines_t;

void vg_lines_init(vg_lines_t *lr, FILE *fp, const char *name, size_t max);
/* The next line without its "\n" (or "\r\n"), NUL-terminated, in *linep
 * (valid until the next call); lr_lineno is its number. VG_LINES_BAD:
 * longer than lr_max (the rest of it is skipped; errstr "line longer than
 * MAX bytes ..."); VG_LINES_FATAL: a read error or no memory (errstr says
 * which; the line is lr_lineno + 1). Callers prefix "NAME:LINE: ". */
int vg_lines_next(vg_lines_t *lr, char **linep, size_t *lenp, char *errstr,
                  size_t errstr_size);
/* Frees the buffer, zeroed first (a line may have held personal data). */
void vg_lines_free(vg_lines_t *lr);

/* vg_lines_next for a reader that reports as it goes: the next line's
 * length (its bytes in *linep), or -1 at the end. A line longer than the
 * limit is reported on stderr as "NAME:LINE: line longer than ..." and
 * counted in *bad; a read error or no memory as "vigil CMD: NAME: ..." and
 * ends the input with *failed set. */
ssize_t vg_lines_get(vg_lines_t *lr, const char *cmd, char **linep,
                     long *bad, bool *failed);
/* The longest line of a command without a configuration (codec): the
 * default of input.max_bytes. */
#define VG_LINES_MAX_DEFAULT (1024 * 1024)

/* The inputs of a command: its FILE arguments, or standard input when
 * there are none; "-" is standard input, named "<stdin>" in messages. */
typedef int (*vg_lines_input_fn)(void *opaque, FILE *in, const char *name);
/* Opens each input in turn, calls fn(opaque, stream, name) and closes it
 * (never standard input). An input that cannot be opened is reported on
 * stderr as "vigil CMD: PATH: reason" and counted; with stop_at_open_error
 * nothing after it is read. fn returns 0 to go on, non-zero to stop.
 * Returns the number of inputs that could not be opened. */
int vg_lines_each_input(const char *cmd, char *const *files, int nfiles,
                        bool stop_at_open_error, vg_lines_input_fn fn,
                        void *opaque);
/* Checks that every FILE other than "-" can be opened for reading; reports
 * the first that cannot as above and returns -1, else 0. */
int vg_lines_check_inputs(const char *cmd, char *const *files, int nfiles);

/* One input read with stdio (getline, fread): PATH, or standard input for
 * "-". A directory or a closed standard input is refused here: fopen opens
 * a directory, and the read that then fails ends a getline loop as if the
 * input were empty.
 * On failure reports "vigil CMD: PATH: reason" on stderr and returns NULL.
 * Close what it returns unless it is stdin. */
FILE *vg_lines_open(const char *cmd, const char *path);
/* After a stdio read loop has ended: a read error is not the end of input.
 * Reports it as "vigil CMD: NAME: read error: REASON" and returns -1, else
 * 0. Call it straight after the read that ended the loop (REASON is
 * errno). */
int vg_lines_read_error(const char *cmd, FILE *in, const char *name);

#endif /* VG_LINES_H */
