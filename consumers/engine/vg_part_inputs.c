/*
 * vg_part_inputs.c - which input record a partition's state processed
 * last, per input topic: its offset and a hash of its key and value, kept
 * in the store's meta ("in_last.<topic>", "in_hash1.<topic>") with the
 * batch that processed it, and in the changelog's meta record (so a
 * restored state has them too), with the topic's next offset then.
 *
 * On assignment the consumer resumes one record early, at that record, and
 * compares it (process_work.c, process_resume_offset): an input topic
 * deleted and re-created, then filled again past the offsets the state
 * holds, has other records there, which would otherwise be skipped
 * without a word (docs/RUNBOOK.md, section 9, "An input topic deleted and
 * re-created").
 */
#include "vg_part_int.h"

#include <stdio.h>

void vg_part_note_input(vg_part_t *part, const char *topic, int64_t offset,
                        int64_t hash) {
        size_t len = strlen(topic);
        int i;
        if (!part->pa_in_batch || len >= sizeof(part->pa_last[0].pl_topic))
                return;
        for (i = 0; i < part->pa_nlast; i++)
                if (!strcmp(part->pa_last[i].pl_topic, topic))
                        break;
        if (i == part->pa_nlast) {
                if (i == (int)(sizeof(part->pa_last) /
                               sizeof(part->pa_last[0])))
                        return;
                memcpy(part->pa_last[i].pl_topic, topic, len + 1);
                part->pa_nlast++;
        }
        part->pa_last[i].pl_offset = offset;
        part->pa_last[i].pl_hash = hash;
}

static vg_err_t put(vg_part_t *part, const char *what, const char *topic,
                    int64_t v, char *errstr, size_t errstr_size) {
        sqlite3_stmt *s = vg_part_st(part, S_SET_META);
        char key[300];
        int rc;
        snprintf(key, sizeof(key), "%s.%s", what, topic);
        sqlite3_bind_text(s, 1, key, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(s, 2, v);
        rc = sqlite3_step(s);
        sqlite3_reset(s);
        if (rc != SQLITE_DONE)
                return vg_part_db_err(part, errstr, errstr_size,
                                      "store meta");
        return VG_OK;
}

/* The keys: the record's offset, the hash of its key and value (the "1":
 * process_record_hash's first form; another form gets another key, so
 * that a hash of one form is never compared with one of another), and
 * the topic's next offset when they were written. A state whose offset
 * has moved since without them (an earlier release processed on, or
 * restored an incremental copy it wrote) has a stale record: not used. */
#define K_LAST "in_last"
#define K_HASH "in_hash1"
#define K_NEXT "in_next"

vg_err_t vg_part_inputs_flush(vg_part_t *part, char *errstr,
                              size_t errstr_size) {
        vg_err_t err = VG_OK;
        for (int i = 0; !err && i < part->pa_noffs; i++)
                err = put(part, K_NEXT, part->pa_offs[i].po_topic,
                          part->pa_offs[i].po_next, errstr, errstr_size);
        for (int i = 0; !err && i < part->pa_nlast; i++) {
                err = put(part, K_LAST, part->pa_last[i].pl_topic,
                          part->pa_last[i].pl_offset, errstr, errstr_size);
                if (!err)
                        err = put(part, K_HASH, part->pa_last[i].pl_topic,
                                  part->pa_last[i].pl_hash, errstr,
                                  errstr_size);
        }
        part->pa_noffs = part->pa_nlast = 0;
        return err;
}

static int64_t meta(vg_part_t *part, const char *what, const char *topic,
                    int64_t def) {
        char key[300];
        snprintf(key, sizeof(key), "%s.%s", what, topic);
        return vg_part_meta_int(part, key, def);
}

bool vg_part_input_last(vg_part_t *part, const char *topic, int64_t *offset,
                        int64_t *hash) {
        int64_t next = vg_part_offset(part, topic);
        *offset = meta(part, K_LAST, topic, -1);
        *hash = meta(part, K_HASH, topic, 0);
        /* (none: a state of an earlier release, nothing read yet, or one
         * whose offset moved on without them) */
        return *offset >= 0 && *offset < next &&
               meta(part, K_NEXT, topic, -1) == next;
}

void vg_part_cl_inputs_meta(vg_part_t *part, const char *topic,
                            json_t *meta_rec) {
        int64_t off, hash;
        char key[300];
        if (!vg_part_input_last(part, topic, &off, &hash))
                return;
        snprintf(key, sizeof(key), K_LAST ".%s", topic);
        json_object_set_new(meta_rec, key, json_integer(off));
        snprintf(key, sizeof(key), K_HASH ".%s", topic);
        json_object_set_new(meta_rec, key, json_integer(hash));
        snprintf(key, sizeof(key), K_NEXT ".%s", topic);
        json_object_set_new(meta_rec, key,
                            json_integer(vg_part_offset(part, topic)));
}
