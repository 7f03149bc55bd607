/*
 * process_resume.c - vigil process resumes an input topic-partition one
 * record early, at the last record its state processed, and checks that
 * it is the same record (offset, and a hash of its key and value:
 * vg_part_inputs.c). An input topic deleted and re-created, then filled
 * again past the state's offsets, holds other records there: resuming at
 * the stored offset would skip that many new records without a word. A
 * topic that now ends before that record (re-created, fewer records) is
 * refused the same way. The processor stops with exit 1 and says what to
 * do (docs/RUNBOOK.md, section 9, "An input topic deleted and
 * re-created"). A record gone by retention cannot be compared: the first
 * record after it is taken as it comes, as before.
 */
#include "vg_partition.h"
#include "process_int.h"

#include <stdio.h>
#include <string.h>

int64_t process_record_hash(const rd_kafka_message_t *m) {
        uint64_t h = vg_hash_bytes(0x9e3779b97f4a7c15ull, m->key,
                                   m->key ? m->key_len : 0);
        /* (the key's hash starts the value's: key and value apart) */
        return (int64_t)(vg_hash_bytes(h, m->payload,
                                       m->payload ? m->len : 0) >> 1);
}

int64_t process_resume_offset(proc_t *pr, int p, const char *topic) {
        pstate_t *ps = &pr->pr_parts[p];
        int t = process_input_type(pr, topic);
        int64_t off = vg_part_offset(ps->ps_part, topic), last, hash;
        if (t < 0)
                return off >= 0 ? off : RD_KAFKA_OFFSET_BEGINNING;
        ps->ps_verify[t] = -1;
        if (off < 0)
                return RD_KAFKA_OFFSET_BEGINNING;
        if (!vg_part_input_last(ps->ps_part, topic, &last, &hash))
                return off;
        ps->ps_verify[t] = last;
        ps->ps_vhash[t] = hash;
        return last;
}

static void refuse(proc_t *pr, int p, const char *topic, const char *what,
                   long long at, long long last) {
        char msg[900];
        snprintf(msg, sizeof(msg),
                 "partition %d: %s [%d] %s %lld, but this state processed "
                 "a record at offset %lld: the topic was deleted and "
                 "re-created (or its records replaced); resuming would "
                 "skip or mix records. Stopping: replay every partition "
                 "from the beginning with a new changelog, or give the "
                 "new records a new topic (docs/RUNBOOK.md section 9, "
                 "\"An input topic deleted and re-created\")", p, topic,
                 p, what, at, last);
        process_fatal(pr, msg);
}

bool process_resume_check(proc_t *pr, int p, const rd_kafka_message_t *m) {
        pstate_t *ps = &pr->pr_parts[p];
        const char *topic = rd_kafka_topic_name(m->rkt);
        int t = process_input_type(pr, topic);
        int64_t last;
        if (t < 0 || (last = ps->ps_verify[t]) < 0)
                return true;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                if (m->offset <= last) {
                        ps->ps_verify[t] = -1;
                        refuse(pr, p, topic, "ends at offset", m->offset,
                               last);
                        return false;
                }
                return true;
        }
        ps->ps_verify[t] = -1;
        if (m->offset < last) {
                refuse(pr, p, topic, "was read from offset", m->offset,
                       last);
                return false;
        }
        if (m->offset > last) /* (gone by retention: nothing to compare) */
                return true;
        if (process_record_hash(m) != ps->ps_vhash[t]) {
                refuse(pr, p, topic, "holds another record at offset",
                       m->offset, last);
                return false;
        }
        return false; /* the same record: processed already */
}
