/*
 * vg_part_int.h - what the two halves of a partition share: the store and
 * the batch (vg_partition.c) and what it publishes through its outbox
 * (vg_part_out.c). Not for use outside them.
 */
#ifndef VG_PART_INT_H
#define VG_PART_INT_H

#include "vg_partition.h"
#include "vg_cells.h"
#include "vg_htab.h"

#include <sys/types.h>
#include <sqlite3.h>
#include <jansson.h>

/* 2: the watermark (SPEC v2 §5.5) and settled denominators; a version-1
 * file counted by stream time and is refused (replay: RUNBOOK §13).
 * 3: a patient's contributions are cases (vg_rules.h), not cells. */
#define VG_PART_SCHEMA_VERSION 3

enum {
        S_GET_PATIENT, S_PUT_PATIENT, S_PUT_TIMER, S_DEL_TIMER, S_DUE_TIMERS,
        S_PUT_CELL, S_PARTS_QUEUED, S_GET_OFFSET,
        S_SET_OFFSET, S_SET_META, S_CELLS, S_DEL_PATIENT, S_DEL_CELL,
        S_OFFSETS, S__CNT
};

/* Patient cache entry. The cache outlives commits (hot state in memory,
 * written behind): a patient is read from the store once, and written back
 * only in a commit of a batch that changed it. */
typedef struct pent_s {
        vg_hnode_t     pe_h;        /* first: the table's link */
        vg_patient_t  *pe_pt;
        bool           pe_dirty;    /* changed in the open batch */
        int64_t        pe_due;      /* next_due in the timers table
                                     * (INT64_MAX: no row) */
} pent_t;

struct vg_part_s {
        sqlite3                *pa_db;
        sqlite3_stmt           *pa_stmt[S__CNT];
        int                     pa_partition;   /* input partition number */
        const vg_rules_conf_t  *pa_rc;
        vg_codec_t             *pa_codec;
        vg_part_topics_t        pa_topics;
        vg_wm_t                 pa_wm;          /* topic times, watermark */
        int64_t                 pa_data_since;  /* smallest occurred_at
                                                 * processed; INT64_MAX:
                                                 * none */
        char                  **pa_pkeys;       /* keys of the progress
                                                 * copies: one per parts
                                                 * partition (NULL: one
                                                 * copy, "_progress|P") */
        int                     pa_npkeys;
        int64_t                 pa_pub_wm;      /* progress last queued */
        int64_t                 pa_pub_since;
        bool                    pa_pub_valid;   /* a progress was queued
                                                 * since open */
        bool                    pa_wm_hold;     /* commit keeps the
                                                 * watermark */
        const char             *pa_rejected;    /* DLQ reason of the last
                                                 * refused event */
        int64_t                 pa_now;         /* batch processing time */
        bool                    pa_in_batch;
        /* offsets set in the open batch, written at its commit (a row
         * per topic, not a statement per record) */
        struct {
                char    po_topic[256];
                int64_t po_next;
        }                       pa_offs[8];
        int                     pa_noffs;
        vg_htab_t               pa_cache;       /* pent_t, by patient */
        size_t                  pa_cache_max;   /* patients kept after a
                                                 * commit */
        pent_t                **pa_dirty;       /* patients changed in the
                                                 * open batch */
        size_t                  pa_ndirty, pa_dirty_cap;
        vg_cells_t              pa_cells;       /* the counters */
        bool                    pa_parts;       /* queue IndicatorParts */
        int64_t                 pa_parts_ms;    /* parts.interval_ms */
        int64_t                 pa_parts_at;    /* parts last queued */
        bool                    pa_parts_force; /* queue at next commit */
        bool                    pa_persist;     /* write patients and
                                                 * counters to the store */
        vg_part_stats_t         pa_stats;
        vg_buf_t                pa_buf;         /* encode scratch */
        vg_buf_t                pa_sbuf;        /* patient state scratch */
        vg_outbox_t            *pa_outbox;      /* records to publish */
        char                   *pa_cl_topic;    /* the changelog, or NULL */
        bool                    pa_cl_full;     /* the next commit logs
                                                 * the whole state */
        vg_buf_t                pa_cbuf;        /* changelog scratch */
        json_t                 *pa_cl_meta;     /* restore: the last meta
                                                 * record read */
        char                   *pa_path;        /* the state file */
        ino_t                   pa_ino;         /* its identity at open; */
        dev_t                   pa_dev;         /* 0: :memory: */
};

/* A prepared statement, reset and unbound. */
sqlite3_stmt *vg_part_st(vg_part_t *part, int i);
/* VG_ERR_STORE with errstr "partition P state PATH: what: sqlite error". */
vg_err_t vg_part_db_err(vg_part_t *part, char *errstr, size_t errstr_size,
                        const char *what);

/* vg_part_changelog.c: the changelog rows of a patient written by
 * state_put (its state in pa_sbuf), of a counter, and of the partition's
 * meta (offsets, watermark); at the end of a commit's writes. */
vg_err_t vg_part_cl_patient(vg_part_t *part, const vg_patient_t *pt,
                            char *errstr, size_t errstr_size);
vg_err_t vg_part_cl_cell(vg_part_t *part, const char *key, int64_t num,
                         int64_t den, bool count, char *errstr,
                         size_t errstr_size);
vg_err_t vg_part_cl_commit(vg_part_t *part, char *errstr,
                           size_t errstr_size);
int64_t vg_part_meta_int(vg_part_t *part, const char *key, int64_t def);
void vg_part_reload(vg_part_t *part);

/* vg_part_out.c */
vg_err_t vg_part_queue_alert(vg_part_t *part, vg_alert_t *al, char *errstr,
                             size_t errstr_size);
vg_err_t vg_part_parts_queue(vg_part_t *part, char *errstr,
                             size_t errstr_size);
bool vg_part_progress_due(const vg_part_t *part, int64_t now);
vg_err_t vg_part_queue_progress(vg_part_t *part, char *errstr,
                                size_t errstr_size);

#endif /* VG_PART_INT_H */
