/*
 * vg_cli.c - helpers shared by the subcommands.
 */
#include "vg_cli.h"

#include <stdio.h>
#include <string.h>

bool vg_cli_wants_help(int argc, char **argv) {
        for (int i = 1; i < argc; i++) {
                if (!strcmp(argv[i], "--"))
                        return false;
                if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
                        return true;
        }
        return false;
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
