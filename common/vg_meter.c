/*
 * vg_meter.c - a progress line on a terminal (vg_meter.h).
 */
#include "vg_meter.h"
#include "vg_time.h"

#include <sys/stat.h>
#include <unistd.h>

void vg_meter_init(vg_meter_t *pg, const char *what, const char *unit,
                      int64_t total) {
        pg->pg_what = what;
        pg->pg_unit = unit;
        pg->pg_tty = isatty(STDERR_FILENO) == 1;
        pg->pg_shown = false;
        pg->pg_start = vg_now_ms();
        pg->pg_next = pg->pg_start + 500;
        pg->pg_total = total > 0 ? total : 0;
}

int64_t vg_meter_file_size(FILE *fp) {
        struct stat st;
        if (!fp || fstat(fileno(fp), &st) || !S_ISREG(st.st_mode))
                return 0;
        return (int64_t)st.st_size;
}

void vg_meter_update(vg_meter_t *pg, int64_t count, int64_t done) {
        int64_t now;
        double secs, rate;
        if (!pg->pg_tty)
                return;
        now = vg_now_ms();
        if (now < pg->pg_next)
                return;
        pg->pg_next = now + 200;
        secs = (double)(now - pg->pg_start) / 1000.0;
        rate = secs > 0 ? (double)count / secs : 0;
        fprintf(stderr, "\r\033[K%s: %lld %s, %.0f/s", pg->pg_what,
                (long long)count, pg->pg_unit, rate);
        if (pg->pg_total > 0 && done > 0 && done <= pg->pg_total) {
                double share = (double)done / (double)pg->pg_total;
                fprintf(stderr, ", %.0f %%", 100.0 * share);
                if (share > 0.01)
                        fprintf(stderr, ", about %.0f s left",
                                secs * (1.0 - share) / share);
        }
        fflush(stderr);
        pg->pg_shown = true;
}

void vg_meter_end(vg_meter_t *pg) {
        if (pg->pg_tty && pg->pg_shown) {
                fputs("\r\033[K", stderr);
                fflush(stderr);
        }
        pg->pg_shown = false;
}
