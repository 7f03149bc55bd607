/*
 * fuzz_config.c - libFuzzer harness of the configuration parser: an
 * arbitrary properties file (vg_conf_load_file) and an arbitrary -X
 * key=value (vg_conf_set_kv) are accepted or refused with a message, never
 * crash or leak; what is accepted dumps.
 */
#define _GNU_SOURCE
#include "vg_config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static int fd = -1;
        static FILE *devnull;
        char path[64], errstr[512];
        vg_conf_t *conf = vg_conf_new();
        char *kv;

        if (fd < 0) {
                vg_log_level = VG_LOG_ERROR;
                fd = memfd_create("vigil-fuzz-conf", 0);
                devnull = fopen("/dev/null", "w");
                if (fd < 0 || !devnull)
                        abort();
        }
        if (ftruncate(fd, 0) || pwrite(fd, data, size, 0) != (ssize_t)size)
                abort();
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
        if (vg_conf_load_file(conf, path, errstr, sizeof(errstr)) == VG_OK)
                vg_conf_dump(conf, devnull);

        /* The same bytes as one -X argument (up to the first NUL). */
        kv = malloc(size + 1);
        if (kv) {
                memcpy(kv, data, size);
                kv[size] = '\0';
                (void)vg_conf_set_kv(conf, kv, errstr, sizeof(errstr));
                free(kv);
        }
        vg_conf_destroy(conf);
        return 0;
}
