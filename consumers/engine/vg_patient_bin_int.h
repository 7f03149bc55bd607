/*
 * vg_patient_bin_int.h - the binary form's record writer and reader
 * (vg_patient_bin.c), shared with vg_patient_tail.c: events added to a
 * packed patient without decoding it.
 */
#ifndef VG_PATIENT_BIN_INT_H
#define VG_PATIENT_BIN_INT_H

#include "vg_engine.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BIN_VERSION 4
#define STR_TAB 255 /* strings numbered per state */
#define STR_SLOTS 512

/* An encoder's strings numbered so far: a probe table of their number
 * + 1, by hash (at most STR_TAB of STR_SLOTS used: a probe ends). */
typedef struct stab_s {
        const char   *st_s[STR_TAB];
        size_t        st_len[STR_TAB];
        uint32_t      st_h[STR_TAB]; /* their probe_hash */
        int           st_n;
        unsigned char st_slot[STR_SLOTS];
        size_t        st_slack; /* STR_BOUND(n) less the bytes written,
                                 * summed over the strings */
} stab_t;

/* The most bytes a string of n bytes takes, numbered or not: its length
 * varint (at most 5 bytes below 2^30 bytes, else 10) and its bytes (a
 * number's varint is at most 2 bytes, hex and UUIDs are shorter). */
#define STR_BOUND(n) ((n) + ((n) < ((size_t)1 << 30) ? 5 : 10))

/* A bounds-checked reader: any short or bad read sets rd_bad. */
typedef struct rd_s {
        const unsigned char *p, *end;
        bool bad;
        int version;
        int ntab;
        const char *tab[STR_TAB]; /* the strings numbered (version 3) */
        size_t tlen[STR_TAB];
        size_t budget; /* bytes that repeats may still make */
} rd_t;

/* A record's fields (an event's but its patient_id) appended to b, its
 * strings numbered in t (t->st_n 0, t->st_slot zeroed: a new numbering). */
void vg_pbin_rec_write(stab_t *t, vg_buf_t *b, vg_rectype_t type,
                       const void *rec);
/* A record read back into rec (zeroed first; an event's patient_id set
 * to patient_id); r->bad if it does not read. */
void vg_pbin_rec_read(rd_t *r, vg_rectype_t type, void *rec,
                      const char *patient_id);

#endif /* VG_PATIENT_BIN_INT_H */
