/*
 * vg_htab.h - the partition's in-memory tables: a chained hash table of
 * intrusive nodes that doubles as it fills (load factor 1). The caller
 * embeds a vg_hnode_t first in its entries and says how keys compare.
 */
#ifndef VG_HTAB_H
#define VG_HTAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct vg_hnode_s {
        struct vg_hnode_s *hn_next;
        uint32_t           hn_hash; /* vg_hash_str of the key */
} vg_hnode_t;

typedef struct vg_htab_s {
        vg_hnode_t **ht_b;  /* buckets */
        size_t       ht_nb; /* power of two, or 0 */
        size_t       ht_n;  /* entries */
} vg_htab_t;

typedef bool (*vg_htab_eq_cb)(const vg_hnode_t *n, const void *key);

/* The entry with hash h whose key eq() matches, or NULL. */
vg_hnode_t *vg_htab_find(const vg_htab_t *ht, uint32_t h, vg_htab_eq_cb eq,
                         const void *key);
/* Inserts n (n->hn_hash set; no entry with its key yet). */
void vg_htab_insert(vg_htab_t *ht, vg_hnode_t *n);
/* Empties the table, calling del (may be NULL) on every entry; keeps the
 * buckets. */
void vg_htab_clear(vg_htab_t *ht, void (*del)(vg_hnode_t *n));
/* Clears and frees the buckets. */
void vg_htab_free(vg_htab_t *ht, void (*del)(vg_hnode_t *n));
/* Unlinks n, which the table holds (not deleted). */
void vg_htab_remove(vg_htab_t *ht, vg_hnode_t *n);
/* Every entry, in no order. */
#define VG_HTAB_FOREACH(ht, x)                                                 \
        for (size_t x##_b = 0; x##_b < (ht)->ht_nb; x##_b++)                   \
                for (vg_hnode_t *x = (ht)->ht_b[x##_b]; x; x = x->hn_next)

#endif /* VG_HTAB_H */
