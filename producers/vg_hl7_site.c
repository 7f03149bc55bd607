/*
 * vg_hl7_site.c - reading the site mapping file (vg_hl7_site.h).
 */
#include "vg_hl7_site.h"
#include "vg_cli.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static char *trim(char *s) {
        char *e;
        while (*s == ' ' || *s == '\t')
                s++;
        e = s + strlen(s);
        while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' ||
                         e[-1] == '\n'))
                *--e = '\0';
        return s;
}

int vg_hl7_map_load(vg_hl7_map_t *map, const char *path, const char *cmd) {
        char line[4096], errstr[512];
        long lineno = 0;
        int rc = 0;
        FILE *fp = fopen(path, "r");

        struct stat st;

        if (!fp || (!fstat(fileno(fp), &st) && S_ISDIR(st.st_mode))) {
                fprintf(stderr, "vigil %s: hl7.mapping_file %s: %s\n", cmd,
                        path, fp ? strerror(EISDIR) : strerror(errno));
                if (fp)
                        fclose(fp);
                return VG_EXIT_FAIL;
        }
        while (!rc && fgets(line, sizeof(line), fp)) {
                char *s, *eq;
                lineno++;
                if (!strchr(line, '\n') && !feof(fp)) {
                        fprintf(stderr, "vigil %s: %s:%ld: line longer than "
                                "%zu bytes\n", cmd, path, lineno,
                                sizeof(line) - 2);
                        rc = VG_EXIT_USAGE;
                        break;
                }
                s = trim(line);
                if (!*s || *s == '#' || *s == '!')
                        continue;
                if (!(eq = strchr(s, '='))) {
                        fprintf(stderr, "vigil %s: %s:%ld: expected "
                                "key=value\n", cmd, path, lineno);
                        rc = VG_EXIT_USAGE;
                        break;
                }
                *eq = '\0';
                if (vg_hl7_map_set(map, trim(s), trim(eq + 1), errstr,
                                   sizeof(errstr))) {
                        fprintf(stderr, "vigil %s: %s:%ld: %s\n", cmd, path,
                                lineno, errstr);
                        rc = VG_EXIT_USAGE;
                }
        }
        if (!rc && ferror(fp)) {
                fprintf(stderr, "vigil %s: %s: read error: %s\n", cmd, path,
                        strerror(errno));
                rc = VG_EXIT_FAIL;
        }
        fclose(fp);
        return rc;
}
