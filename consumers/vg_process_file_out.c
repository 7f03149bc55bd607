/*
 * vg_process_file_out.c - the outputs of `vigil process --input`
 * (vg_process_file_out.h): each alert's last status, and the indicator
 * values summed over the emulated partitions.
 */
#include "vg_process_file_out.h"
#include "vg_agg.h"
#include "vg_process.h"
#include "vg_record_json.h"
#include "vg_wm.h"

#include <stdlib.h>
#include <string.h>
#include <jansson.h>

char *vg_process_alert_json(const vg_alert_t *al) {
        json_t *obj, *v;
        const char *key;
        void *tmp;
        char *s, *r;
        vg_buf_t b;
        vg_buf_init(&b);
        if (!vg_record_put_output_json(&b, VG_REC_ALERT, al))
                return b.vb_data; /* (NUL-terminated, vg_malloc'd) */
        vg_buf_free(&b);
        /* A string that is not plain ASCII: jansson checks and writes it. */
        obj = vg_record_to_json(VG_REC_ALERT, al);
        json_object_foreach_safe(obj, tmp, key, v) {
                if (json_is_null(v))
                        json_object_del(obj, key);
        }
        s = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER);
        r = vg_strdup(s);
        free(s);
        json_decref(obj);
        return r;
}

/* An alert's last status; its JSON line once vg_falerts_json() ran. */
typedef struct falert_s {
        vg_hnode_t fa_h;      /* first: the table's link */
        bool       fa_raised; /* was ACTIVE at some time */
        char      *fa_json;
        vg_alert_t fa_al;
} falert_t;

static bool falert_eq(const vg_hnode_t *n, const void *key) {
        return !strcmp(((const falert_t *)n)->fa_al.al_alert_id, key);
}

void vg_falerts_put(const vg_alert_t *al, void *opaque) {
        falerts_t *fs = opaque;
        uint32_t h = vg_hash_str(al->al_alert_id);
        falert_t *a = (falert_t *)vg_htab_find(&fs->fs_ht, h, falert_eq,
                                               al->al_alert_id);
        if (!a) {
                a = vg_calloc(1, sizeof(*a));
                a->fa_h.hn_hash = h;
                vg_htab_insert(&fs->fs_ht, &a->fa_h);
        } else {
                vg_record_clear(VG_REC_ALERT, &a->fa_al);
        }
        vg_record_copy(VG_REC_ALERT, &a->fa_al, al);
        if (al->al_status == VG_STATUS_ACTIVE) {
                a->fa_raised = true;
        } else if (a->fa_raised) {
                fs->fs_churn++;
                a->fa_raised = false;
        }
}

void vg_falerts_json(falerts_t *fs) {
        VG_HTAB_FOREACH(&fs->fs_ht, x) {
                falert_t *a = (falert_t *)x;
                if (!a->fa_json)
                        a->fa_json = vg_process_alert_json(&a->fa_al);
        }
}

static int falert_cmp(const void *a, const void *b) {
        return strcmp((*(falert_t *const *)a)->fa_al.al_alert_id,
                      (*(falert_t *const *)b)->fa_al.al_alert_id);
}

size_t vg_falerts_write(falerts_t *const *fs, int n, FILE *out) {
        size_t all = 0, k = 0, w = 0;
        falert_t **v;
        for (int i = 0; i < n; i++)
                all += fs[i]->fs_ht.ht_n;
        v = vg_malloc(sizeof(*v) * (all + 1));
        for (int i = 0; i < n; i++)
                VG_HTAB_FOREACH(&fs[i]->fs_ht, x) v[k++] = (falert_t *)x;
        qsort(v, k, sizeof(*v), falert_cmp);
        for (size_t i = 0; i < k; i++) {
                /* (an alert_id is one patient's, on one partition: never
                 * in two collections; if it were, one line) */
                if (i + 1 < k && !falert_cmp(&v[i], &v[i + 1]))
                        continue;
                if (out)
                        fprintf(out, "%s\n", v[i]->fa_json);
                w++;
        }
        vg_free(v);
        return w;
}

static void falert_del(vg_hnode_t *n) {
        falert_t *a = (falert_t *)n;
        vg_record_clear(VG_REC_ALERT, &a->fa_al);
        vg_free(a->fa_json);
        vg_free(a);
}

void vg_falerts_free(falerts_t *fs) {
        vg_htab_free(&fs->fs_ht, falert_del);
}

/* A total, by key. */
struct total_s {
        vg_hnode_t tt_h;  /* first: the table's link */
        int64_t    tt_num, tt_den;
        bool       tt_count;
        char       tt_key[];
};

static bool total_eq(const vg_hnode_t *n, const void *key) {
        return !strcmp(((const total_t *)n)->tt_key, key);
}

static void total_put(totals_t *ts, const char *key, size_t len,
                      int64_t num, int64_t den, bool count) {
        uint32_t h = vg_hash_str(key);
        total_t *t = (total_t *)vg_htab_find(&ts->ts_ht, h, total_eq, key);
        if (!t) {
                t = vg_calloc(1, sizeof(*t) + len + 1);
                memcpy(t->tt_key, key, len + 1);
                t->tt_h.hn_hash = h;
                t->tt_count = count;
                vg_htab_insert(&ts->ts_ht, &t->tt_h);
        }
        t->tt_num += num;
        t->tt_den += den;
}

void vg_totals_sum(totals_t *to, const totals_t *from) {
        VG_HTAB_FOREACH(&from->ts_ht, x) {
                const total_t *t = (const total_t *)x;
                total_put(to, t->tt_key, strlen(t->tt_key), t->tt_num,
                          t->tt_den, t->tt_count);
        }
}

/* Adds to "<prefix><period>|<bd>" (prefix: "indicator|area|"). */
static void total_at(totals_t *ts, const char *prefix, size_t plen,
                     const char *period, const char *bd, size_t bdlen,
                     int64_t num, int64_t den, bool count) {
        char full[VG_CASE_KEY_MAX + 16];
        size_t perlen = strlen(period), len = plen + perlen + 1 + bdlen;
        if (len >= sizeof(full))
                return; /* (longer than any cell key) */
        memcpy(full, prefix, plen);
        memcpy(full + plen, period, perlen);
        full[plen + perlen] = '|';
        memcpy(full + plen + perlen + 1, bd, bdlen);
        full[len] = '\0';
        total_put(ts, full, len, num, den, count);
}

/* Splits "indicator|area|period[|breakdown]": the period (copied to
 * period[16]) and where it starts, the breakdown ("all" when none);
 * false if the key is not one. */
static bool key_split(const char *key, char period[16], const char **per,
                      const char **bd, size_t *bdlen) {
        const char *b1 = strchr(key, '|'), *b2 = b1 ? strchr(b1 + 1, '|') : NULL;
        const char *b3;
        size_t perlen;
        if (!b1 || !b2 || b1 == key || b2 == b1 + 1 || !b2[1])
                return false;
        *per = b2 + 1;
        *bd = "all";
        *bdlen = 3;
        if ((b3 = strchr(*per, '|')) && b3[1])
                *bd = b3 + 1, *bdlen = strlen(*bd);
        perlen = b3 ? (size_t)(b3 - *per) : strlen(*per);
        if (!perlen || perlen >= 16)
                return false;
        memcpy(period, *per, perlen);
        period[perlen] = '\0';
        return true;
}

void vg_totals_cell(const char *key, int64_t num, int64_t den, bool count,
                    void *opaque) {
        const tshards_t *sh = opaque;
        const char *per, *bd;
        char period[16];
        size_t bdlen;
        uint32_t h = 2166136261u; /* FNV-1a of "indicator|area|" */
        if (!key_split(key, period, &per, &bd, &bdlen))
                return;
        for (const char *p = key; p < per; p++)
                h = (h ^ (unsigned char)*p) * 16777619u;
        total_at(&sh->tsh_v[h % (uint32_t)sh->tsh_n], key, (size_t)(per - key),
                 period, bd, bdlen, num, den, count);
}

void vg_totals_parents(totals_t *ts) {
        size_t n = 0;
        total_t **v = vg_malloc(sizeof(*v) * (ts->ts_ht.ht_n + 1));
        /* (listed first: adding to the table may grow it) */
        VG_HTAB_FOREACH(&ts->ts_ht, x) v[n++] = (total_t *)x;
        for (size_t i = 0; i < n; i++) {
                const char *key = v[i]->tt_key, *per, *bd;
                char period[16], q[8], y[5];
                size_t bdlen;
                if (key_split(key, period, &per, &bd, &bdlen) &&
                    !vg_rules_period_parents(period, q, y)) {
                        total_at(ts, key, (size_t)(per - key), q, bd, bdlen,
                                 v[i]->tt_num, v[i]->tt_den,
                                 v[i]->tt_count);
                        total_at(ts, key, (size_t)(per - key), y, bd, bdlen,
                                 v[i]->tt_num, v[i]->tt_den,
                                 v[i]->tt_count);
                }
        }
        vg_free(v);
}

static int total_cmp(const void *a, const void *b) {
        return strcmp((*(total_t *const *)a)->tt_key,
                      (*(total_t *const *)b)->tt_key);
}

size_t vg_totals_merge(totals_t *ts) {
        ts->ts_v = vg_malloc(sizeof(*ts->ts_v) * (ts->ts_ht.ht_n + 1));
        ts->ts_n = 0;
        VG_HTAB_FOREACH(&ts->ts_ht, x)
                ts->ts_v[ts->ts_n++] = (total_t *)x;
        if (ts->ts_n > 1)
                qsort(ts->ts_v, ts->ts_n, sizeof(*ts->ts_v), total_cmp);
        return ts->ts_n;
}

static void total_del(vg_hnode_t *n) {
        vg_free(n);
}

void vg_totals_free(totals_t *ts) {
        vg_htab_free(&ts->ts_ht, total_del);
        vg_free(ts->ts_v);
        ts->ts_v = NULL;
}

/* The next total in key order over n merged shards (pos: how far each
 * is read), or NULL at the end. */
static const total_t *next_total(totals_t *const *ts, int n, size_t *pos) {
        int best = -1;
        for (int k = 0; k < n; k++)
                if (pos[k] < ts[k]->ts_n &&
                    (best < 0 || strcmp(ts[k]->ts_v[pos[k]]->tt_key,
                                        ts[best]->ts_v[pos[best]]->tt_key) <
                                         0))
                        best = k;
        return best < 0 ? NULL : ts[best]->ts_v[pos[best]++];
}

/* The value row of total t (SPEC §6: none where the denominator, for a
 * count the count, is zero): false if none. Its strings point into k. */
static bool total_value(const total_t *t, char k[VG_CASE_KEY_MAX + 16],
                        const progress_t *pg, vg_ivalue_t *iv) {
        char *save = NULL, *ind, *area, *period, *bd;
        if (!((t->tt_count && t->tt_num > 0) ||
              (!t->tt_count && t->tt_den > 0)))
                return false;
        memcpy(k, t->tt_key, strlen(t->tt_key) + 1); /* (shorter than k) */
        ind = strtok_r(k, "|", &save);
        area = strtok_r(NULL, "|", &save);
        period = strtok_r(NULL, "|", &save);
        bd = strtok_r(NULL, "|", &save);
        memset(iv, 0, sizeof(*iv));
        iv->iv_indicator = ind;
        iv->iv_area = area;
        iv->iv_period = period;
        iv->iv_breakdown = bd ? bd : "all";
        iv->iv_numerator = t->tt_num;
        iv->iv_denominator = (vg_optl_t){!t->tt_count, t->tt_den};
        if (!t->tt_count)
                iv->iv_value = (vg_optd_t){true, (double)t->tt_num /
                                                         (double)t->tt_den};
        iv->iv_complete = vg_rules_complete(pg->pg_rc, ind, period,
                                            pg->pg_min_wm);
        iv->iv_history_complete = vg_rules_history_complete(
                pg->pg_rc, ind, period, pg->pg_data_since);
        iv->iv_data_since = (vg_optl_t){pg->pg_data_since != VG_WM_NONE,
                                        pg->pg_data_since};
        return true;
}

size_t vg_totals_write(totals_t *const *ts, int n, FILE *out,
                       const progress_t *pg) {
        size_t *pos = vg_calloc((size_t)n + 1, sizeof(*pos)), rows = 0;
        const total_t *t;
        vg_buf_t b;
        vg_buf_init(&b);
        while ((t = next_total(ts, n, pos))) {
                char k[VG_CASE_KEY_MAX + 16];
                vg_ivalue_t iv;
                if (!total_value(t, k, pg, &iv))
                        continue;
                rows++;
                if (!out)
                        continue;
                vg_ivalue_put_json(&b, &iv);
                vg_buf_append(&b, "\n", 1);
                if (b.vb_len >= 1 << 16) {
                        fwrite(b.vb_data, 1, b.vb_len, out);
                        vg_buf_reset(&b);
                }
        }
        if (b.vb_len) /* (an empty buffer has no data pointer) */
                fwrite(b.vb_data, 1, b.vb_len, out);
        vg_buf_free(&b);
        vg_free(pos);
        return rows;
}

void vg_totals_targets(totals_t *const *ts, int n, const progress_t *pg,
                       const vg_conf_t *conf, int64_t now, falerts_t *fs) {
        size_t *pos = vg_calloc((size_t)n + 1, sizeof(*pos));
        bool prelim = vg_conf_bool(conf, "aggregate.alert_preliminary");
        int64_t min_den = vg_conf_int(conf, "aggregate.min_denominator");
        const total_t *t;
        while ((t = next_total(ts, n, pos))) {
                char k[VG_CASE_KEY_MAX + 16];
                vg_ivalue_t iv;
                vg_target_t tg;
                vg_agg_alert_t aa;
                if (t->tt_count || !total_value(t, k, pg, &iv))
                        continue;
                tg = vg_agg_target(conf, iv.iv_indicator);
                if (!vg_agg_value_breach(&tg, &iv, prelim, min_den))
                        continue;
                vg_agg_alert(&iv, &tg, VG_STATUS_ACTIVE, now, &aa);
                vg_falerts_put(&aa.aa_al, fs);
        }
        vg_free(pos);
}
