/*
 * vg_lines.c - bounded JSON Lines input (vg_lines.h).
 */
#include "vg_lines.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void vg_lines_init(vg_lines_t *lr, FILE *fp, const char *name, size_t max) {
        memset(lr, 0, sizeof(*lr));
        lr->lr_fp = fp;
        lr->lr_name = name;
        lr->lr_max = max;
}

void vg_lines_free(vg_lines_t *lr) {
        if (lr->lr_buf)
                memset(lr->lr_buf, 0, lr->lr_cap);
        free(lr->lr_buf);
        lr->lr_buf = NULL;
        lr->lr_cap = 0;
}

int vg_lines_next(vg_lines_t *lr, char **linep, size_t *lenp, char *errstr,
                  size_t errstr_size) {
        size_t len = 0, seen = 0;
        bool too_long = false;
        int c;

        for (;;) {
                /* An endless line (/dev/zero) must not outlive a signal. */
                if ((++seen & 0xffff) == 0 && lr->lr_stop && *lr->lr_stop)
                        return vg_seterr(errstr, errstr_size, VG_ERR_IO,
                                         "interrupted"),
                               VG_LINES_FATAL;
                c = getc_unlocked(lr->lr_fp);
                if (c == EOF) {
                        if (ferror(lr->lr_fp))
                                return vg_seterr(errstr, errstr_size,
                                                 VG_ERR_IO,
                                                 "read error: %s",
                                                 strerror(errno)),
                                       VG_LINES_FATAL;
                        if (len == 0 && !too_long)
                                return VG_LINES_END;
                        break; /* a last line without "\n" */
                }
                if (c == '\n')
                        break;
                if (too_long)
                        continue;
                if (len + 1 > lr->lr_max) {
                        too_long = true;
                        continue;
                }
                if (len + 2 > lr->lr_cap) {
                        size_t cap = lr->lr_cap ? lr->lr_cap * 2 : 4096;
                        char *b;
                        if (cap > lr->lr_max + 2)
                                cap = lr->lr_max + 2;
                        if (!(b = realloc(lr->lr_buf, cap)))
                                return vg_seterr(errstr, errstr_size,
                                                 VG_ERR_NOMEM,
                                                 "out of memory reading a "
                                                 "line of %zu bytes", len),
                                       VG_LINES_FATAL;
                        lr->lr_buf = b;
                        lr->lr_cap = cap;
                }
                lr->lr_buf[len++] = (char)c;
        }
        lr->lr_lineno++;
        if (too_long)
                return vg_seterr(errstr, errstr_size, VG_ERR_ARG,
                                 "line longer than %zu bytes "
                                 "(input.max_bytes): skipped", lr->lr_max),
                       VG_LINES_BAD;
        if (!lr->lr_buf && !(lr->lr_buf = malloc(1)))
                return vg_seterr(errstr, errstr_size, VG_ERR_NOMEM,
                                 "out of memory"),
                       VG_LINES_FATAL;
        if (len > 0 && lr->lr_buf[len - 1] == '\r')
                len--;
        lr->lr_buf[len] = '\0';
        *linep = lr->lr_buf;
        *lenp = len;
        return VG_LINES_OK;
}
