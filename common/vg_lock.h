/*
 * vg_lock.h - one process per state directory: an advisory write lock
 * (fcntl) on a lock file in it, held while the process runs, released by
 * the kernel when it exits in any way (kill -9 included).
 */
#ifndef VG_LOCK_H
#define VG_LOCK_H

#include "vg_common.h"

/* Creates dir (mode 0700) if needed and locks dir/name. Returns the lock's
 * file descriptor (keep it open), or -1 with errstr: "state.dir DIR is in
 * use by another vigil process (pid N)" when another process holds it. */
int vg_lock_dir(const char *dir, const char *name, char *errstr,
                size_t errstr_size);
/* Releases (closes) a lock from vg_lock_dir; fd < 0 is a no-op. */
void vg_unlock_dir(int fd);

#endif /* VG_LOCK_H */
