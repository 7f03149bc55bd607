/*
 * process_standby.c - vigil process: standby replicas (num.standby.replicas).
 *
 * An instance keeps warm copies of partitions that other members own, by
 * reading their changelog into its own state.dir/partition-P.db as it is
 * written. When such a partition is assigned to it, the restore on
 * assignment (process_restore.c) only has the last records to apply.
 *
 * Who keeps which copy: every 10 s (and after a rebalance) the instance
 * reads the group's members and assignments (ListGroups/DescribeGroups),
 * sorts the members by member id, and for each partition P owned by the
 * member at index i takes the members i+1 .. i+R (mod the member count,
 * R = num.standby.replicas, never the owner) as its standbys. Every member
 * computes the same answer from the same group state, with no assignor of
 * our own.
 *
 * A standby file is applied in chunks: each chunk ends with a commit that
 * stores the changelog position reached as the file's changelog end. A
 * chunk can end inside a batch's records; the restore on assignment reads
 * from that position to the changelog's end, so the file is whole again
 * before it is used.
 */
#include "process_int.h"
#include "vg_time.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SB_CHECK_MS 10000     /* membership re-read */
#define SB_CHUNK_MS 1000      /* a standby file commits at least this often */
#define SB_POLL_MS 20         /* per tick, reading the changelog */

static void sb_path(const proc_t *pr, int p, char *buf, size_t size) {
        snprintf(buf, size, "%s/partition-%d.db", pr->pr_state_dir, p);
}

/* Commits what the standby file p has applied. */
static void sb_checkpoint(proc_t *pr, int p) {
        char errstr[512];
        if (!pr->pr_sb[p] || !pr->pr_sb_open[p])
                return;
        pr->pr_sb_open[p] = false;
        switch (vg_part_restore_checkpoint(pr->pr_sb[p], pr->pr_sb_at[p],
                                           errstr, sizeof(errstr))) {
        case VG_OK:
                break;
        case VG_ERR_ARG: { /* other rules.* settings: stops, as the owner
                            * of the partition would (RUNBOOK section 9) */
                char msg[600];
                snprintf(msg, sizeof(msg), "standby partition %d: %s", p,
                         errstr);
                process_fatal(pr, msg);
                break;
        }
        default:
                vg_warn("process", "standby partition %d: %s", p, errstr);
        }
}

static void sb_close(proc_t *pr, int p) {
        if (!pr->pr_sb[p])
                return;
        sb_checkpoint(pr, p);
        vg_part_close(pr->pr_sb[p]);
        pr->pr_sb[p] = NULL;
}

/* Opens the standby file of p; its changelog position, or -1 (start from
 * the beginning: a new file, or one not on the changelog's line). */
static vg_part_t *sb_open(proc_t *pr, int p, int64_t *from) {
        char path[4096], errstr[512];
        vg_part_t *part;
        int64_t end;
        sb_path(pr, p, path, sizeof(path));
        if (!(part = vg_part_open(path, p, &pr->pr_rc, pr->pr_codec,
                                  &pr->pr_topics, errstr, sizeof(errstr)))) {
                vg_warn("process", "standby partition %d: %s", p, errstr);
                return NULL;
        }
        vg_part_set_changelog(part, pr->pr_cl_topic);
        end = vg_part_changelog_end(part);
        if (end < 0 || vg_part_outbox_depth(part) > 0) {
                bool had = vg_part_changelog_pending(part) ||
                           vg_part_outbox_depth(part) > 0;
                vg_part_close(part);
                if (had)
                        vg_info("process", "standby partition %d: local "
                                "file %s is not on the changelog's line: "
                                "started again", p, path);
                process_remove_files(path);
                if (!(part = vg_part_open(path, p, &pr->pr_rc, pr->pr_codec,
                                          &pr->pr_topics, errstr,
                                          sizeof(errstr)))) {
                        vg_warn("process", "standby partition %d: %s", p,
                                errstr);
                        return NULL;
                }
                vg_part_set_changelog(part, pr->pr_cl_topic);
                end = -1;
        }
        *from = end;
        return part;
}

/* (Re)assigns the standby consumer to the standby partitions. */
static void sb_assign(proc_t *pr) {
        rd_kafka_topic_partition_list_t *l =
                rd_kafka_topic_partition_list_new(4);
        for (int p = 0; p < MAX_PARTITIONS; p++)
                if (pr->pr_sb[p])
                        rd_kafka_topic_partition_list_add(l, pr->pr_cl_topic,
                                                          p)
                                ->offset = pr->pr_sb_at[p] >= 0
                                                   ? pr->pr_sb_at[p]
                                                   : RD_KAFKA_OFFSET_BEGINNING;
        if (rd_kafka_assign(pr->pr_sb_rk, l->cnt ? l : NULL))
                vg_warn("process", "standby: cannot assign the changelog");
        rd_kafka_topic_partition_list_destroy(l);
}

static int cmp_str(const void *a, const void *b) {
        return strcmp(*(char *const *)a, *(char *const *)b);
}

static int16_t rd16(const unsigned char *p) {
        return (int16_t)((p[0] << 8) | p[1]);
}

static int32_t rd32(const unsigned char *p) {
        return (int32_t)(((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
                         ((uint32_t)p[2] << 8) | p[3]);
}

/* The partitions of topic in a consumer-protocol assignment: sets
 * owner[p] = member for each. Bounds-checked; false if malformed. */
bool process_parse_assignment(const unsigned char *b, int len,
                              const char *topic, int member, int *owner) {
        int off = 2, nt;
        size_t tl = strlen(topic);
        if (len < 6)
                return len == 0;
        nt = rd32(b + off);
        off += 4;
        for (int t = 0; t < nt; t++) {
                int16_t sl;
                int32_t np;
                bool ours;
                if (off + 2 > len)
                        return false;
                sl = rd16(b + off);
                off += 2;
                if (sl < 0 || off + sl + 4 > len)
                        return false;
                ours = (size_t)sl == tl && !memcmp(b + off, topic, tl);
                off += sl;
                np = rd32(b + off);
                off += 4;
                if (np < 0 || (int64_t)off + (int64_t)np * 4 > len)
                        return false;
                for (int i = 0; i < np; i++, off += 4) {
                        int32_t p = rd32(b + off);
                        if (ours && p >= 0 && p < MAX_PARTITIONS)
                                owner[p] = member;
                }
        }
        return true;
}

/* Which partitions this instance should keep copies of: want[p]. */
static bool sb_wanted(proc_t *pr, bool *want) {
        const struct rd_kafka_group_list *gl = NULL;
        const struct rd_kafka_group_info *g;
        char *me = rd_kafka_memberid(pr->pr_consumer), **ids = NULL;
        int *owner = NULL, m, mine = -1;
        bool ok = false;

        if (!me || !*me)
                goto out;
        if (rd_kafka_list_groups(pr->pr_consumer,
                                 vg_conf_str(pr->pr_conf, "group.id"), &gl,
                                 5000) ||
            !gl || gl->group_cnt != 1)
                goto out;
        g = &gl->groups[0];
        if (strcmp(g->state, "Stable") || g->member_cnt < 1)
                goto out;
        m = g->member_cnt;
        ids = vg_calloc((size_t)m, sizeof(*ids));
        for (int i = 0; i < m; i++)
                ids[i] = g->members[i].member_id;
        qsort(ids, (size_t)m, sizeof(*ids), cmp_str);
        owner = vg_calloc(MAX_PARTITIONS, sizeof(*owner));
        for (int p = 0; p < MAX_PARTITIONS; p++)
                owner[p] = -1;
        for (int i = 0; i < m; i++) {
                const struct rd_kafka_group_member_info *mi = &g->members[i];
                int idx = -1;
                for (int k = 0; k < m; k++)
                        if (!strcmp(ids[k], mi->member_id))
                                idx = k;
                if (!strcmp(mi->member_id, me))
                        mine = idx;
                if (!process_parse_assignment(mi->member_assignment,
                                      mi->member_assignment_size,
                                      pr->pr_inputs[0], idx, owner))
                        goto out;
        }
        if (mine < 0)
                goto out;
        for (int p = 0; p < pr->pr_npartitions && p < MAX_PARTITIONS; p++) {
                want[p] = false;
                if (owner[p] < 0 || owner[p] == mine)
                        continue;
                for (int r = 1; r <= pr->pr_standbys && r < m; r++)
                        if ((owner[p] + r) % m == mine)
                                want[p] = true;
        }
        ok = true;
out:
        if (gl)
                rd_kafka_group_list_destroy(gl);
        vg_free(ids);
        vg_free(owner);
        if (me)
                rd_kafka_mem_free(pr->pr_consumer, me);
        return ok;
}

static int sb_start(proc_t *pr) {
        char errstr[512], gid[512];
        rd_kafka_conf_t *kc = vg_kafka_conf(pr->pr_conf, errstr,
                                            sizeof(errstr));
        snprintf(gid, sizeof(gid), "%s.standby",
                 vg_conf_str(pr->pr_conf, "group.id"));
        if (!kc || vg_kafka_set(kc, "group.id", gid, errstr, sizeof(errstr)) ||
            vg_kafka_set(kc, "enable.auto.commit", "false", errstr,
                         sizeof(errstr)) ||
            vg_kafka_set(kc, "isolation.level", "read_committed", errstr,
                         sizeof(errstr)) ||
            !(pr->pr_sb_rk = rd_kafka_new(RD_KAFKA_CONSUMER, kc, errstr,
                                          sizeof(errstr)))) {
                if (kc)
                        rd_kafka_conf_destroy(kc);
                vg_warn("process", "standby replicas off: %s", errstr);
                pr->pr_standbys = 0;
                return -1;
        }
        rd_kafka_poll_set_consumer(pr->pr_sb_rk);
        return 0;
}

void process_standby_tick(proc_t *pr, int64_t now) {
        int64_t until;
        if (pr->pr_standbys <= 0 || !pr->pr_cl_topic)
                return;
        if (!pr->pr_sb_rk && sb_start(pr))
                return;
        if (now - pr->pr_sb_checked >= SB_CHECK_MS) {
                bool want[MAX_PARTITIONS] = {false}, changed = false;
                pr->pr_sb_checked = now;
                if (sb_wanted(pr, want)) {
                        for (int p = 0; p < MAX_PARTITIONS; p++) {
                                if (want[p] && !pr->pr_sb[p] &&
                                    !pr->pr_parts[p].ps_part) {
                                        int64_t from = -1;
                                        if (!(pr->pr_sb[p] =
                                                      sb_open(pr, p, &from)))
                                                continue;
                                        pr->pr_sb_at[p] = from;
                                        pr->pr_sb_open[p] = false;
                                        pr->pr_released_at[p] = 0;
                                        vg_info("process", "standby for "
                                                "partition %d (from %s)", p,
                                                from >= 0 ? "its local file"
                                                          : "the changelog's "
                                                            "beginning");
                                        changed = true;
                                } else if (!want[p] && pr->pr_sb[p]) {
                                        sb_close(pr, p);
                                        pr->pr_released_at[p] = now;
                                        vg_info("process", "no longer "
                                                "standby for partition %d",
                                                p);
                                        changed = true;
                                }
                        }
                        if (changed)
                                sb_assign(pr);
                }
        }
        /* Apply what the changelog has, a little each tick. */
        until = vg_now_ms() + SB_POLL_MS;
        while (vg_now_ms() < until) {
                rd_kafka_message_t *m = rd_kafka_consumer_poll(pr->pr_sb_rk,
                                                               0);
                int p;
                char errstr[512];
                if (!m)
                        break;
                p = m->partition;
                if (!m->err && p >= 0 && p < MAX_PARTITIONS && pr->pr_sb[p] &&
                    m->offset >= pr->pr_sb_at[p]) {
                        if (!pr->pr_sb_open[p]) {
                                if (vg_part_restore_begin(pr->pr_sb[p], errstr,
                                                          sizeof(errstr))) {
                                        vg_warn("process", "standby "
                                                "partition %d: %s", p,
                                                errstr);
                                        rd_kafka_message_destroy(m);
                                        break;
                                }
                                pr->pr_sb_open[p] = true;
                                pr->pr_sb_opened[p] = now;
                        }
                        if (vg_part_restore_row(pr->pr_sb[p], m->key,
                                                m->key_len, m->payload,
                                                m->len, errstr,
                                                sizeof(errstr))) {
                                /* Not applied: start this copy again. */
                                vg_warn("process", "standby partition %d: "
                                        "%s: the copy starts again", p,
                                        errstr);
                                vg_part_rollback_restore(pr->pr_sb[p]);
                                pr->pr_sb_open[p] = false;
                                vg_part_close(pr->pr_sb[p]);
                                pr->pr_sb[p] = NULL;
                                pr->pr_sb_checked = 0;
                        } else
                                pr->pr_sb_at[p] = m->offset + 1;
                }
                rd_kafka_message_destroy(m);
        }
        for (int p = 0; p < MAX_PARTITIONS; p++)
                if (pr->pr_sb[p] && pr->pr_sb_open[p] &&
                    now - pr->pr_sb_opened[p] >= SB_CHUNK_MS)
                        sb_checkpoint(pr, p);
}

/* Partition p is being assigned to this instance: its standby copy (if
 * any) is committed and closed; the restore on assignment goes on from
 * it. */
void process_standby_release(proc_t *pr, int p) {
        if (p < 0 || p >= MAX_PARTITIONS || !pr->pr_sb[p])
                return;
        sb_close(pr, p);
        vg_info("process", "standby partition %d becomes active (copy at "
                "changelog offset %lld)", p, (long long)pr->pr_sb_at[p]);
        if (pr->pr_sb_rk)
                sb_assign(pr);
}

/* A rebalance: read the membership again at the next tick. */
void process_standby_recheck(proc_t *pr) {
        pr->pr_sb_checked = 0;
}

void process_standby_stop(proc_t *pr) {
        for (int p = 0; p < MAX_PARTITIONS; p++)
                sb_close(pr, p);
        if (pr->pr_sb_rk) {
                rd_kafka_consumer_close(pr->pr_sb_rk);
                rd_kafka_destroy(pr->pr_sb_rk);
                pr->pr_sb_rk = NULL;
        }
}
