/*
 * process_rules_guard.c - two rule books never publish side by side for
 * long (process_int.h, docs/RUNBOOK.md section 9).
 *
 * A state records the rules.* settings (and timezone) it was built with,
 * and a member given a partition built with other ones refuses it. That
 * needs a state: members with different settings started at the same
 * moment on an empty changelog (a new group) each built their own
 * partitions with their own settings and published alerts under both
 * rule books until one was handed a partition the other built (an attack
 * saw 378 SIP_OVERDUE alerts with a 48-hour deadline beside 225 with 72).
 *
 * So every offset a member commits carries, as its metadata (Kafka keeps
 * it with the offset; OffsetCommit and TxnOffsetCommit send it, and
 * OffsetFetch returns it: librdkafka 2.0.2, rdkafka_request.c), the text
 * the state check compares and its fingerprint:
 *
 *   vigil-rules/1 fp=<16 hex digits> t=<epoch ms> <vg_rules_conf_text>
 *
 * and each member reads the group's committed offsets of every partition
 * of the input topics (not only its own) on assignment and every
 * PROCESS_RG_INTERVAL_MS, on a thread of its own (rd_kafka_committed
 * blocks; the poll loop never waits for it). One committed with another
 * fingerprint stops the member (exit 1), naming what differs.
 *
 * Offsets committed before this member's first read are taken as they
 * were found: a replay after a rules change (section 9) starts with every
 * commit made under the old settings, which are not being published
 * under any longer. Such an offset counts once it is committed again
 * (the time in the metadata makes each commit's text new). Offsets
 * without the prefix (earlier releases, other tools) and partitions never
 * committed are accepted.
 */
#include "process_int.h"
#include "vg_common.h"
#include "vg_time.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RG_PREFIX "vigil-rules/1 "
#define RG_TIMEOUT_MS 3000 /* one read of the committed offsets */
#define RG_MD_MAX (VG_RULES_CONF_TEXT + 64)

typedef struct process_rg_s {
        pthread_t       rg_thread;
        pthread_mutex_t rg_lock;
        pthread_cond_t  rg_cond;
        bool            rg_stop;   /* process_rg_stop */
        bool            rg_kick;   /* an assignment: read now */
        bool            rg_based;  /* rg_base holds the first read */
        int             rg_n;      /* entries of rg_base */
        char          **rg_base;   /* [t * partitions + p]: the metadata
                                    * found at the first read, or NULL */
} process_rg_t;

/* FNV-1a, 64 bits: a name for a settings text, not a secret. */
static uint64_t rg_fp(const char *s) {
        uint64_t h = 14695981039346656037ULL;
        for (; *s; s++)
                h = (h ^ (unsigned char)*s) * 1099511628211ULL;
        return h;
}

void process_rg_metadata(proc_t *pr, rd_kafka_topic_partition_t *tp) {
        char text[VG_RULES_CONF_TEXT], md[RG_MD_MAX];
        int n;
        vg_rules_conf_text(&pr->pr_rc, text, sizeof(text));
        n = snprintf(md, sizeof(md), RG_PREFIX "fp=%016" PRIx64 " t=%" PRId64
                     " %s", rg_fp(text), vg_now_ms(), text);
        if (n <= 0 || (size_t)n >= sizeof(md))
                return;
        /* (librdkafka frees it with the list: malloc's) */
        if (!(tp->metadata = malloc((size_t)n)))
                return;
        memcpy(tp->metadata, md, (size_t)n);
        tp->metadata_size = (size_t)n;
}

/* The settings text and fingerprint of metadata md, false if it is not
 * this format (an earlier release's commit: nothing). */
static bool rg_parse(const char *md, uint64_t *fp, const char **text) {
        unsigned long long h;
        long long t;
        int at = -1;
        if (strncmp(md, RG_PREFIX, strlen(RG_PREFIX)) ||
            sscanf(md + strlen(RG_PREFIX), "fp=%16llx t=%lld %n", &h, &t,
                   &at) < 2 || at < 0)
                return false;
        *fp = (uint64_t)h;
        *text = md + strlen(RG_PREFIX) + at;
        return true;
}

/* Stops the processor for the commit of topic [p] with metadata md
 * (fingerprint fp, settings theirs). */
static void rg_refuse(proc_t *pr, const char *topic, int p, uint64_t fp,
                      const char *theirs, const char *mine) {
        char diff[512], msg[1536];
        vg_part_rules_diff(theirs, mine, diff, sizeof(diff));
        snprintf(msg, sizeof(msg),
                 "partition %d: %s [%d] was committed by another member of "
                 "the group with other rules.* settings (fingerprint "
                 "%016" PRIx64 ", this member %016" PRIx64 "; theirs -> "
                 "this member's: %s): two rule books would publish alerts "
                 "side by side; stopping: give every member of the group "
                 "the same rules.* settings and timezone (compare `vigil "
                 "config`), then start them again (docs/RUNBOOK.md section "
                 "9)",
                 p, topic, p, fp, rg_fp(mine), diff[0] ? diff : theirs);
        process_fatal(pr, msg);
}

/* One read of the group's committed offsets; true when it stopped the
 * processor (nothing more to read). */
static bool rg_check(proc_t *pr, process_rg_t *rg) {
        char mine[VG_RULES_CONF_TEXT], md[RG_MD_MAX];
        int np = pr->pr_npartitions, stale = 0;
        bool first = !rg->rg_based, refused = false;
        rd_kafka_topic_partition_list_t *l;
        uint64_t myfp;
        if (np <= 0)
                return false;
        vg_rules_conf_text(&pr->pr_rc, mine, sizeof(mine));
        myfp = rg_fp(mine);
        l = rd_kafka_topic_partition_list_new(VG_EVENT_TYPES * np);
        for (int t = 0; t < VG_EVENT_TYPES; t++)
                for (int p = 0; p < np; p++)
                        rd_kafka_topic_partition_list_add(l, pr->pr_inputs[t],
                                                          p);
        if (rd_kafka_committed(pr->pr_consumer, l, RG_TIMEOUT_MS)) {
                rd_kafka_topic_partition_list_destroy(l);
                return false; /* (read again at the next turn) */
        }
        if (first && !rg->rg_base) {
                rg->rg_n = VG_EVENT_TYPES * np;
                rg->rg_base = vg_calloc((size_t)rg->rg_n,
                                        sizeof(*rg->rg_base));
        }
        for (int i = 0; i < l->cnt && !refused; i++) {
                const rd_kafka_topic_partition_t *e = &l->elems[i];
                int t = process_input_type(pr, e->topic), k;
                size_t n = e->metadata_size < sizeof(md) - 1
                                   ? e->metadata_size
                                   : sizeof(md) - 1;
                const char *theirs;
                uint64_t fp;
                if (t < 0 || e->partition < 0 || e->partition >= np ||
                    e->err || e->offset < 0 || !e->metadata || !n)
                        continue; /* (never committed, or no metadata) */
                k = t * np + e->partition;
                memcpy(md, e->metadata, n);
                md[n] = '\0';
                if (first)
                        rg->rg_base[k] = vg_strdup(md);
                if (!rg_parse(md, &fp, &theirs) || fp == myfp)
                        continue;
                if (first || (rg->rg_base[k] && !strcmp(rg->rg_base[k], md))) {
                        stale++; /* (committed before this member looked) */
                        continue;
                }
                rg_refuse(pr, e->topic, e->partition, fp, theirs, mine);
                refused = true;
        }
        rd_kafka_topic_partition_list_destroy(l);
        if (first) {
                rg->rg_based = true;
                if (stale)
                        vg_info("process", "%d input topic-partitions hold "
                                "offsets committed before this member "
                                "started by members with other rules.* "
                                "settings (a replay after a change of them, "
                                "docs/RUNBOOK.md section 9): ignored unless "
                                "committed again with them", stale);
        }
        return refused;
}

static void *rg_main(void *opaque) {
        proc_t *pr = opaque;
        process_rg_t *rg = pr->pr_rg;
        pthread_mutex_lock(&rg->rg_lock);
        while (!rg->rg_stop) {
                struct timespec ts;
                bool done;
                vg_deadline_after(CLOCK_MONOTONIC, PROCESS_RG_INTERVAL_MS, &ts);
                while (!rg->rg_stop && !rg->rg_kick &&
                       pthread_cond_timedwait(&rg->rg_cond, &rg->rg_lock,
                                              &ts) == 0)
                        ;
                if (rg->rg_stop)
                        break;
                rg->rg_kick = false;
                pthread_mutex_unlock(&rg->rg_lock);
                done = rg_check(pr, rg);
                pthread_mutex_lock(&rg->rg_lock);
                if (done)
                        break;
        }
        pthread_mutex_unlock(&rg->rg_lock);
        return NULL;
}

void process_rg_assigned(proc_t *pr) {
        process_rg_t *rg = pr->pr_rg;
        pthread_condattr_t ca;
        if (rg) {
                pthread_mutex_lock(&rg->rg_lock);
                rg->rg_kick = true;
                pthread_cond_signal(&rg->rg_cond);
                pthread_mutex_unlock(&rg->rg_lock);
                return;
        }
        rg = vg_calloc(1, sizeof(*rg));
        pthread_mutex_init(&rg->rg_lock, NULL);
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&rg->rg_cond, &ca);
        pthread_condattr_destroy(&ca);
        rg->rg_kick = true;
        pr->pr_rg = rg;
        if (pthread_create(&rg->rg_thread, NULL, rg_main, pr)) {
                vg_warn("process", "cannot start the thread that compares "
                        "the group's rules.* settings: not compared");
                pthread_cond_destroy(&rg->rg_cond);
                pthread_mutex_destroy(&rg->rg_lock);
                vg_free(rg);
                pr->pr_rg = NULL;
        }
}

void process_rg_stop(proc_t *pr) {
        process_rg_t *rg = pr->pr_rg;
        if (!rg)
                return;
        pthread_mutex_lock(&rg->rg_lock);
        rg->rg_stop = true;
        pthread_cond_signal(&rg->rg_cond);
        pthread_mutex_unlock(&rg->rg_lock);
        pthread_join(rg->rg_thread, NULL);
        for (int i = 0; i < rg->rg_n; i++)
                vg_free(rg->rg_base[i]);
        vg_free(rg->rg_base);
        pthread_cond_destroy(&rg->rg_cond);
        pthread_mutex_destroy(&rg->rg_lock);
        vg_free(rg);
        pr->pr_rg = NULL;
}
