/*
 * vg_lock.c - one process per state directory (vg_lock.h).
 */
#include "vg_lock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int vg_lock_dir(const char *dir, const char *name, char *errstr,
                size_t errstr_size) {
        char path[4096], pid[32];
        struct flock fl;
        int fd;

        /* mkdir -p: every missing parent too, each 0700 */
        snprintf(path, sizeof(path), "%s", dir);
        for (char *p = path + 1; ; p++) {
                char c = *p;
                if (c != '/' && c != '\0')
                        continue;
                *p = '\0';
                if (mkdir(path, 0700) && errno != EEXIST) {
                        vg_seterr(errstr, errstr_size, VG_ERR_IO,
                                  "state.dir %s: cannot create %s: %s", dir,
                                  path, strerror(errno));
                        return -1;
                }
                *p = c;
                if (!c)
                        break;
        }
        snprintf(path, sizeof(path), "%s/%s", dir, name);
        if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0) {
                vg_seterr(errstr, errstr_size, VG_ERR_IO, "%s: %s", path,
                          strerror(errno));
                return -1;
        }
        memset(&fl, 0, sizeof(fl));
        fl.l_type = F_WRLCK;
        fl.l_whence = SEEK_SET;
        if (fcntl(fd, F_SETLK, &fl)) {
                int e = errno;
                if (e == EACCES || e == EAGAIN) {
                        memset(&fl, 0, sizeof(fl));
                        fl.l_type = F_WRLCK;
                        fl.l_whence = SEEK_SET;
                        if (!fcntl(fd, F_GETLK, &fl) && fl.l_type != F_UNLCK)
                                snprintf(pid, sizeof(pid), " (pid %ld)",
                                         (long)fl.l_pid);
                        else
                                pid[0] = '\0';
                        vg_seterr(errstr, errstr_size, VG_ERR_ARG,
                                  "state.dir %s is in use by another vigil "
                                  "process%s (lock %s); give each instance "
                                  "a state.dir of its own",
                                  dir, pid, path);
                } else
                        vg_seterr(errstr, errstr_size, VG_ERR_IO,
                                  "%s: cannot lock: %s", path, strerror(e));
                close(fd);
                return -1;
        }
        /* For people: who holds it (the lock itself is what counts). */
        snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
        if (ftruncate(fd, 0) == 0 && write(fd, pid, strlen(pid)) < 0) {
                /* informative only */
        }
        return fd;
}

void vg_unlock_dir(int fd) {
        if (fd >= 0)
                close(fd);
}
