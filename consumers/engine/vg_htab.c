/*
 * vg_htab.c - chained hash table of intrusive nodes (vg_htab.h).
 */
#include "vg_htab.h"
#include "vg_common.h"

vg_hnode_t *vg_htab_find(const vg_htab_t *ht, uint32_t h, vg_htab_eq_cb eq,
                         const void *key) {
        if (!ht->ht_nb)
                return NULL;
        for (vg_hnode_t *n = ht->ht_b[h & (ht->ht_nb - 1)]; n; n = n->hn_next)
                if (n->hn_hash == h && eq(n, key))
                        return n;
        return NULL;
}

void vg_htab_insert(vg_htab_t *ht, vg_hnode_t *n) {
        if (ht->ht_n >= ht->ht_nb) { /* load 1: double */
                size_t nb = ht->ht_nb ? ht->ht_nb * 2 : 1024;
                vg_hnode_t **b = vg_calloc(nb, sizeof(*b));
                for (size_t i = 0; i < ht->ht_nb; i++)
                        for (vg_hnode_t *x = ht->ht_b[i], *next; x; x = next) {
                                next = x->hn_next;
                                x->hn_next = b[x->hn_hash & (nb - 1)];
                                b[x->hn_hash & (nb - 1)] = x;
                        }
                vg_free(ht->ht_b);
                ht->ht_b = b;
                ht->ht_nb = nb;
        }
        n->hn_next = ht->ht_b[n->hn_hash & (ht->ht_nb - 1)];
        ht->ht_b[n->hn_hash & (ht->ht_nb - 1)] = n;
        ht->ht_n++;
}

void vg_htab_clear(vg_htab_t *ht, void (*del)(vg_hnode_t *n)) {
        for (size_t i = 0; i < ht->ht_nb; i++) {
                for (vg_hnode_t *x = ht->ht_b[i], *next; x; x = next) {
                        next = x->hn_next;
                        if (del)
                                del(x);
                }
                ht->ht_b[i] = NULL;
        }
        ht->ht_n = 0;
}

void vg_htab_free(vg_htab_t *ht, void (*del)(vg_hnode_t *n)) {
        vg_htab_clear(ht, del);
        vg_free(ht->ht_b);
        ht->ht_b = NULL;
        ht->ht_nb = 0;
}

void vg_htab_remove(vg_htab_t *ht, vg_hnode_t *n) {
        for (vg_hnode_t **pp = &ht->ht_b[n->hn_hash & (ht->ht_nb - 1)]; *pp;
             pp = &(*pp)->hn_next)
                if (*pp == n) {
                        *pp = n->hn_next;
                        ht->ht_n--;
                        return;
                }
}
