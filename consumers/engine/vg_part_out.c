/*
 * vg_part_out.c - what a partition publishes, queued in its outbox inside
 * the batch's transaction: alerts, dead letters, the IndicatorPart of every
 * counter changed since the last parts were queued (at most every
 * parts.interval_ms), and the PartitionProgress that vouches for them,
 * one copy per partition of the parts topic; and the counters as they
 * are (vg_part_cells*).
 */
#include "vg_part_int.h"
#include "vg_rules.h"

#include <stdio.h>
#include <string.h>
#include <jansson.h>

/*
 * Outbox
 */

static vg_err_t part_outbox_add(vg_part_t *part, const char *topic,
                           const void *key, size_t key_len, const void *value,
                           size_t value_len, const char *headers, char *errstr,
                           size_t errstr_size) {
        return vg_outbox_add(part->pa_outbox, topic, key, key_len, value,
                             value_len, headers, errstr, errstr_size);
}

vg_err_t vg_part_queue_alert(vg_part_t *part, vg_alert_t *al, char *errstr,
                            size_t errstr_size) {
        vg_err_t err;
        al->al_emitted_at = part->pa_now;
        if (part->pa_alert_sink) {
                part->pa_stats.ps_alerts[al->al_rule & 3][al->al_status & 1]++;
                part->pa_alert_sink(al, part->pa_alert_opaque);
                return VG_OK;
        }
        vg_buf_reset(&part->pa_buf);
        if ((err = vg_codec_encode(part->pa_codec, VG_REC_ALERT, al,
                                   &part->pa_buf, errstr, errstr_size)))
                return err;
        part->pa_stats.ps_alerts[al->al_rule & 3][al->al_status & 1]++;
        if ((err = part_outbox_add(part, part->pa_topics.pt_alerts,
                                   al->al_alert_id, strlen(al->al_alert_id),
                                   part->pa_buf.vb_data, part->pa_buf.vb_len,
                                   NULL, errstr, errstr_size)))
                return err;
        vg_outbox_mark_urgent(part->pa_outbox); /* not held back */
        return VG_OK;
}

vg_err_t vg_part_dlq(vg_part_t *part, const void *key, size_t key_len,
                     const void *value, size_t value_len, const char *reason,
                     const char *detail, const char *topic, int partition,
                     int64_t offset, char *errstr, size_t errstr_size) {
        json_t *h = json_object();
        char *hs, num[32], d1[512], d2[512];
        vg_err_t err;

        /* A copy must fit in a Kafka message (librdkafka's
         * message.max.bytes, 1,000,000 by default; input.max_bytes lets
         * 1 MiB in): a larger record goes without key and value, which a
         * publisher could never deliver (the partition would stop). */
        if (key_len + value_len > VG_DLQ_COPY_MAX) {
                snprintf(d1, sizeof(d1), "%s (key and value left out: %zu "
                         "bytes, more than a DLQ record holds, %d)",
                         detail ? detail : reason, key_len + value_len,
                         VG_DLQ_COPY_MAX);
                key = NULL; /* (left out: an empty value) */
                value = "";
                key_len = value_len = 0;
                detail = d1;
        }
        /* SPEC §8: the DLQ copies no personnummer. A record refused for
         * another reason (undecodable, invalid, too late) whose key or value
         * holds one anywhere (a patient_id before the bytes that broke it,
         * a key with a space after it) goes without both, as a
         * personal-data record does; its reason stays. */
        if ((key && vg_pnr_in_bytes(key, key_len)) ||
            (value && vg_pnr_in_bytes(value, value_len))) {
                key = NULL; /* (left out: an empty value) */
                value = "";
                key_len = value_len = 0;
                /* (a long detail is cut: the note is what matters) */
                if (snprintf(d2, sizeof(d2), "%s (key and value left out: "
                             "they hold a personnummer)",
                             detail ? detail : reason) >= (int)sizeof(d2))
                        memcpy(d2 + sizeof(d2) - 4, "...", 4);
                detail = d2;
        }
        json_object_set_new(h, "vigil.reason", json_string(reason));
        if (detail) {
                json_t *d = json_string(detail); /* NULL if not UTF-8 */
                if (d)
                        json_object_set_new(h, "vigil.detail", d);
        }
        json_object_set_new(h, "vigil.topic", json_string(topic));
        snprintf(num, sizeof(num), "%d", partition);
        json_object_set_new(h, "vigil.partition", json_string(num));
        snprintf(num, sizeof(num), "%lld", (long long)offset);
        json_object_set_new(h, "vigil.offset", json_string(num));
        hs = json_dumps(h, JSON_COMPACT | JSON_SORT_KEYS);
        json_decref(h);
        err = part_outbox_add(part, part->pa_topics.pt_dlq, key, key_len,
                              value, value_len, hs, errstr, errstr_size);
        free(hs);
        if (!err)
                part->pa_stats.ps_dlq++;
        return err;
}

/* Queues an IndicatorPart for one counter cell. */
static vg_err_t queue_part(vg_part_t *part, const vg_counter_t *c, char *errstr,
                           size_t errstr_size) {
        char k[VG_CASE_KEY_MAX], *f[4] = {k, NULL, NULL, NULL}, *bd;
        char pkey[VG_CASE_KEY_MAX + 32], *pk;
        size_t kl = vg_cells_key(c, k);
        int nf = 1;
        vg_ipart_t ip = {0};
        vg_err_t err;

        /* "ind|area|period" is breakdown all; else a 4th part. The key of
         * its part is "ind|area|period|breakdown|partition". (Split and
         * joined by hand: strtok_r and snprintf were 3 % of Kafka mode's
         * instructions, a part being queued for each changed cell.) */
        memcpy(pkey, k, kl);
        for (char *p = k; nf < 4 && (p = memchr(p, '|', kl - (size_t)(p - k)));)
                *p++ = '\0', f[nf++] = p;
        if (nf < 3 || !*f[0] || !*f[1] || !*f[2] || (nf == 4 && !*f[3]))
                return vg_seterr(errstr, errstr_size, VG_ERR_INTERNAL,
                                 "bad counter key %.*s", (int)c->cl_blen,
                                 c->cl_base);
        pk = pkey + kl;
        if (nf == 3) {
                bd = "all";
                memcpy(pk, "|all", 4);
                pk += 4;
        } else
                bd = f[3];
        *pk++ = '|';
        pk = vg_utoa(pk, (uint64_t)part->pa_partition);
        *pk = '\0';
        ip.ip_indicator = f[0];
        ip.ip_area = f[1];
        ip.ip_period = f[2];
        ip.ip_breakdown = bd;
        ip.ip_partition = part->pa_partition;
        /* As far as this partition can tell; the aggregator decides over
         * all partitions (SPEC §6.1). */
        ip.ip_complete = vg_rules_complete(part->pa_rc, f[0], f[2],
                                           part->pa_wm.wm_value);
        ip.ip_history_complete = vg_rules_history_complete(
                part->pa_rc, f[0], f[2], vg_part_data_since(part));
        ip.ip_data_since = (vg_optl_t){part->pa_data_since != INT64_MAX,
                                       part->pa_data_since};
        ip.ip_numerator = c->cl_num;
        ip.ip_denominator = (vg_optl_t){!c->cl_count, c->cl_den};
        ip.ip_updated_at = part->pa_now;
        vg_buf_reset(&part->pa_buf);
        err = vg_codec_encode(part->pa_codec, VG_REC_IPART, &ip,
                              &part->pa_buf, errstr, errstr_size);
        if (!err)
                err = part_outbox_add(part, part->pa_topics.pt_parts, pkey,
                                 strlen(pkey), part->pa_buf.vb_data,
                                 part->pa_buf.vb_len, NULL, errstr,
                                 errstr_size);
        return err;
}

/* Queues the IndicatorPart of every pending cell, in key order, and marks
 * them queued. */
vg_err_t vg_part_parts_queue(vg_part_t *part, char *errstr,
                            size_t errstr_size) {
        sqlite3_stmt *s;
        int rc;
        if (!part->pa_cells.cs_npending)
                return VG_OK;
        vg_cells_sort_pending(&part->pa_cells);
        for (size_t i = 0; i < part->pa_cells.cs_npending; i++) {
                vg_err_t err = queue_part(part, part->pa_cells.cs_pending[i],
                                          errstr, errstr_size);
                if (err)
                        return err;
        }
        /* Stored as queued: the cells of this batch were written so
         * (cells_flush); those of earlier batches one by one here (a
         * scan of the whole table for them cost more, live, than the
         * batch). */
        for (size_t i = 0; part->pa_persist && i < part->pa_cells.cs_npending;
             i++) {
                vg_counter_t *c = part->pa_cells.cs_pending[i];
                char key[VG_CASE_KEY_MAX];
                if (c->cl_dirty)
                        continue;
                s = vg_part_st(part, S_PARTS_QUEUED);
                sqlite3_bind_text(s, 1, key, (int)vg_cells_key(c, key),
                                  SQLITE_STATIC);
                rc = sqlite3_step(s);
                sqlite3_reset(s);
                if (rc != SQLITE_DONE)
                        return vg_part_db_err(part, errstr, errstr_size,
                                      "mark parts queued");
        }
        return VG_OK;
}

bool vg_part_progress_due(const vg_part_t *part, int64_t now) {
        if (part->pa_pub_valid && part->pa_pub_wm == part->pa_wm.wm_value &&
            part->pa_pub_since == part->pa_data_since)
                return false;
        /* A null watermark is published only for an empty partition (the
         * aggregator leaves it out); one that is held back publishes
         * nothing yet, which holds every value incomplete. */
        return part->pa_wm.wm_value != VG_WM_NONE ||
               vg_wm_empty(&part->pa_wm, now);
}

vg_err_t vg_part_queue_progress(vg_part_t *part, char *errstr,
                               size_t errstr_size) {
        vg_progress_t pp = {0};
        char key[32];
        vg_err_t err = VG_OK;
        if (!vg_part_progress_due(part, part->pa_now))
                return VG_OK;
        pp.pp_partition = part->pa_partition;
        pp.pp_watermark = (vg_optl_t){part->pa_wm.wm_value != VG_WM_NONE,
                                      part->pa_wm.wm_value};
        pp.pp_data_since = (vg_optl_t){part->pa_data_since != INT64_MAX,
                                       part->pa_data_since};
        pp.pp_updated_at = part->pa_now;
        snprintf(key, sizeof(key), "_progress|%d", part->pa_partition);
        vg_buf_reset(&part->pa_buf);
        if ((err = vg_codec_encode(part->pa_codec, VG_REC_PROGRESS, &pp,
                                   &part->pa_buf, errstr, errstr_size)))
                return err;
        /* A copy in every partition of the parts topic, each after the
         * parts it vouches for there (the aggregator waits for all). */
        for (int i = 0; !err && i < (part->pa_npkeys ? part->pa_npkeys : 1);
             i++) {
                const char *k = part->pa_npkeys ? part->pa_pkeys[i] : key;
                err = part_outbox_add(part, part->pa_topics.pt_parts, k, strlen(k),
                                 part->pa_buf.vb_data, part->pa_buf.vb_len,
                                 NULL, errstr, errstr_size);
        }
        if (err)
                return err;
        part->pa_pub_valid = true;
        part->pa_pub_wm = part->pa_wm.wm_value;
        part->pa_pub_since = part->pa_data_since;
        return VG_OK;
}

bool vg_part_parts_due(const vg_part_t *part, int64_t now_ms) {
        if (!part->pa_parts)
                return false;
        if (!part->pa_cells.cs_npending && !vg_part_progress_due(part, now_ms))
                return false;
        return part->pa_parts_force ||
               now_ms - part->pa_parts_at >= part->pa_parts_ms;
}

void vg_part_set_parts_interval(vg_part_t *part, int64_t ms) {
        part->pa_parts_ms = ms;
}

void vg_part_force_parts(vg_part_t *part) {
        part->pa_parts_force = true;
}

vg_outbox_t *vg_part_outbox(vg_part_t *part) {
        return part->pa_outbox;
}

int vg_part_outbox_scan(vg_part_t *part, int64_t after_seq, int max,
                        void (*cb)(const vg_outrec_t *rec, void *opaque),
                        void *opaque) {
        return vg_outbox_scan(part->pa_outbox, after_seq, max, cb, opaque);
}

int64_t vg_part_outbox_depth(vg_part_t *part) {
        return vg_outbox_depth(part->pa_outbox);
}

void vg_part_set_progress_keys(vg_part_t *part, const char *const *keys,
                               int n) {
        for (int i = 0; i < part->pa_npkeys; i++)
                vg_free(part->pa_pkeys[i]);
        vg_free(part->pa_pkeys);
        part->pa_pkeys = NULL;
        part->pa_npkeys = 0;
        if (n <= 0)
                return;
        part->pa_pkeys = vg_calloc((size_t)n, sizeof(*part->pa_pkeys));
        for (int i = 0; i < n; i++)
                part->pa_pkeys[i] = vg_strdup(keys[i]);
        part->pa_npkeys = n;
}

void vg_part_cells(vg_part_t *part,
                   void (*cb)(const char *key, int64_t num, int64_t den,
                              bool count, void *opaque),
                   void *opaque) {
        vg_counter_t **all;
        char key[VG_CASE_KEY_MAX];
        size_t n;
        vg_cells_settle(&part->pa_cells);
        n = vg_cells_sorted(&part->pa_cells, &all);
        for (size_t i = 0; i < n; i++) {
                vg_cells_key(all[i], key);
                cb(key, all[i]->cl_num, all[i]->cl_den, all[i]->cl_count,
                   opaque);
        }
        vg_free(all);
}

void vg_part_cells_unsorted(vg_part_t *part,
                            void (*cb)(const char *key, int64_t num,
                                       int64_t den, bool count,
                                       void *opaque),
                            void *opaque) {
        const vg_cells_t *cs = &part->pa_cells;
        char key[VG_CASE_KEY_MAX];
        vg_cells_settle(&part->pa_cells);
        for (size_t i = 0; i < cs->cs_nall; i++) {
                const vg_counter_t *c = vg_cells_at(cs, i);
                vg_cells_key(c, key);
                cb(key, c->cl_num, c->cl_den, c->cl_count, opaque);
        }
}
