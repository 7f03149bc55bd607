/*
 * lag.c - `vigil lag`: a consumer group's lag per partition: committed
 * offset, log end offset (high watermark) and their difference, with totals
 * per topic and overall; --max-lag turns it into a monitoring check.
 *
 * Committed offsets come from the Admin API (ListConsumerGroupOffsets, one
 * OffsetFetch to the group coordinator), so the group is only read, never
 * joined: running `vigil lag` against a live group does not trigger a
 * rebalance (the client never subscribes nor assigns partitions; see
 * vg_cmd_lag() on why it still has a group.id). Topic metadata is requested
 * for all topics so that asking about a missing topic never auto-creates it.
 */
#include "vg_cli.h"
#include "vg_config.h"
#include "vg_kafka.h"
#include "vg_ops.h"
#include "vg_time.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <jansson.h>

/* This command's exit statuses (documented in --help). 2 means "lag above
 * --max-lag", so usage errors use EX_USAGE from <sysexits.h> instead of
 * the VG_EXIT_USAGE every other command uses. */
#define LAG_EXIT_OK      0
#define LAG_EXIT_FAIL    1
#define LAG_EXIT_LAG     2
#define LAG_EXIT_USAGE   64

#define LAG_CMD "lag"

static const char *const input_topic_keys[] = {
        "topic.admissions", "topic.discharges", "topic.deaths", "topic.sip",
        "topic.register",
};

static void help(void) {
        printf("Usage: vigil lag [options]\n"
               "\n"
               "Shows how far a consumer group is behind: for every partition "
               "of the chosen\n"
               "topics, the group's committed offset, the log end offset "
               "(high watermark)\n"
               "and the lag, their difference, with a total per topic and "
               "overall.\n"
               "\n"
               "The group is only read (Kafka's OffsetFetch), never joined: "
               "running this\n"
               "against a live processor does not disturb it.\n"
               "\n"
               "  lag = END - COMMITTED\n"
               "  A partition where the group has committed nothing shows "
               "COMMITTED as \"-\"\n"
               "  (null in JSON) and lag = END - the log start offset (low "
               "watermark): every\n"
               "  retained record counts as unconsumed, as vigil process "
               "starts such a\n"
               "  partition from the earliest offset. A negative difference "
               "(committed past\n"
               "  the end, e.g. after a topic was re-created) counts as 0.\n"
               "\n"
               "Topics: those given with --topic; by default every topic the "
               "group has\n"
               "committed offsets for (all its partitions are shown, "
               "committed or not), and\n"
               "for the processor's group (group.id) its five input topics "
               "too. If\n"
               "the group has committed nothing at all (a new or unknown "
               "group), the five\n"
               "input topics (topic.admissions, topic.discharges, "
               "topic.deaths, topic.sip, topic.register)\n"
               "are shown, with a warning on stderr.\n"
               "\n"
               "For the processor's group (group.id) an event-time section "
               "follows: per\n"
               "input partition the watermark the processor last published "
               "(its\n"
               "PartitionProgress on topic.indicator_parts) and the input "
               "topic that holds\n"
               "it back (not at its end, with the oldest last event); per "
               "input topic\n"
               "partition the occurred_at of the last record the group "
               "committed past, and\n"
               "whether the group is at its end. A stalled source shows as "
               "the one topic\n"
               "whose time falls behind the others (docs/RULES.md, \"The "
               "watermark\").\n"
               "\n"
               "Options:\n"
               "  -g, --group GROUP     consumer group (default: the "
               "group.id configuration\n"
               "                        key, vigil-processor unless set)\n"
               "      --topic TOPIC     a topic to show (repeatable; default: "
               "see above)\n"
               "  -j, --json            one JSON document instead of a "
               "table:\n"
               "                          {\"group\": G,\n"
               "                           \"partitions\": [{\"topic\": T, "
               "\"partition\": P,\n"
               "                             \"committed\": N or null, "
               "\"end\": N, \"lag\": N}, ...],\n"
               "                           \"topics\": [{\"topic\": T, "
               "\"lag\": N}, ...],\n"
               "                           \"total_lag\": N,\n"
               "                           \"event_time\": [{\"partition\": P, "
               "\"watermark\": T or null,\n"
               "                             \"held_by\": TOPIC or null, "
               "\"topics\": [{\"topic\": T,\n"
               "                             \"time\": T or null, "
               "\"at_end\": B}, ...]}, ...]}\n"
               "                        (event_time for the processor's "
               "group only)\n"
               "  -m, --max-lag N       exit with status 2 when the total "
               "lag is above N\n"
               "                        (for cron jobs and monitoring "
               "checks); the table or\n"
               "                        JSON is printed either way\n"
               "      --timeout SEC     how long to wait for the cluster "
               "per request\n"
               "                        (default 10)\n"
               VG_CLI_CONF_HELP
               "  -h, --help            this help\n"
               "\n"
               "Exit status (differs from the other vigil commands, where 2 "
               "is a usage\n"
               "error):\n"
               "  0   ok (total lag not above --max-lag, if given)\n"
               "  1   error: cluster unreachable, a --topic that does not "
               "exist, offsets\n"
               "      that cannot be read\n"
               "  2   total lag above --max-lag\n"
               "  64  usage or configuration error (EX_USAGE): bad option, "
               "bad value,\n"
               "      bad -F file or -X key\n"
               "\n"
               "Examples:\n"
               "  vigil lag                               the processors' "
               "group\n"
               "  vigil lag -g vigil-aggregator           the aggregator "
               "(aggregate.group.id)\n"
               "  vigil lag --topic care.admissions.v1 --json\n"
               "  vigil lag -m 10000 >/dev/null; [ $? = 2 ] && echo behind\n");
}

typedef struct ltopic_s {
        char    *lt_name;
        int      lt_nparts;
        int64_t *lt_committed;  /* [nparts], -1 = nothing committed */
        int64_t *lt_low;        /* [nparts] log start offset */
        int64_t *lt_high;       /* [nparts] log end offset */
        int64_t  lt_lag;        /* sum over the partitions */
} ltopic_t;

typedef struct lag_s {
        ltopic_t *lg_topics;
        int       lg_cnt;
} lag_t;

static ltopic_t *lag_find(lag_t *lg, const char *name) {
        for (int i = 0; i < lg->lg_cnt; i++)
                if (!strcmp(lg->lg_topics[i].lt_name, name))
                        return &lg->lg_topics[i];
        return NULL;
}

static void lag_add(lag_t *lg, const char *name) {
        ltopic_t *lt;
        if (lag_find(lg, name))
                return;
        lg->lg_topics = vg_realloc(lg->lg_topics,
                                   sizeof(*lg->lg_topics) *
                                           (size_t)(lg->lg_cnt + 1));
        lt = &lg->lg_topics[lg->lg_cnt++];
        memset(lt, 0, sizeof(*lt));
        lt->lt_name = vg_strdup(name);
}

static void lag_clear(lag_t *lg) {
        for (int i = 0; i < lg->lg_cnt; i++) {
                vg_free(lg->lg_topics[i].lt_name);
                vg_free(lg->lg_topics[i].lt_committed);
                vg_free(lg->lg_topics[i].lt_low);
                vg_free(lg->lg_topics[i].lt_high);
        }
        vg_free(lg->lg_topics);
        lg->lg_topics = NULL;
        lg->lg_cnt = 0;
}

static int topic_cmp(const void *a, const void *b) {
        return strcmp(((const ltopic_t *)a)->lt_name,
                      ((const ltopic_t *)b)->lt_name);
}

static void committed_err(char *errstr, size_t errstr_size, const char *group,
                          const char *bootstrap, rd_kafka_resp_err_t err,
                          const char *msg) {
        int net = err == RD_KAFKA_RESP_ERR__TIMED_OUT ||
                  err == RD_KAFKA_RESP_ERR__TRANSPORT ||
                  err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN;
        vg_seterr(errstr, errstr_size, VG_ERR_KAFKA,
                  "cannot read the committed offsets of group %s: %s%s%s%s",
                  group, msg, net ? " (is the cluster at " : "",
                  net ? bootstrap : "", net ? " reachable?)" : "");
}

static int64_t now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Errors of a coordinator that is moving or still loading the offsets
 * (e.g. a broker that just started): worth asking again. */
static int coord_retriable(rd_kafka_resp_err_t err) {
        return err == RD_KAFKA_RESP_ERR_NOT_COORDINATOR ||
               err == RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS ||
               err == RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE;
}

/* One ListConsumerGroupOffsets request; 0, or -1 with *errp and errstr. */
static int list_committed_once(rd_kafka_t *rk, const char *group,
                               int timeout_ms, const char *bootstrap,
                               rd_kafka_topic_partition_list_t **committedp,
                               rd_kafka_resp_err_t *errp, char *errstr,
                               size_t errstr_size) {
        rd_kafka_ListConsumerGroupOffsets_t *req;
        rd_kafka_AdminOptions_t *opts;
        rd_kafka_queue_t *q;
        rd_kafka_event_t *ev;
        const rd_kafka_ListConsumerGroupOffsets_result_t *res;
        const rd_kafka_group_result_t **groups;
        const rd_kafka_error_t *gerr;
        const rd_kafka_topic_partition_list_t *parts;
        size_t cnt;
        char e[512];
        int rc = -1;

        *errp = RD_KAFKA_RESP_ERR__FAIL;
        opts = rd_kafka_AdminOptions_new(
                rk, RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPOFFSETS);
        if (rd_kafka_AdminOptions_set_request_timeout(opts, timeout_ms, e,
                                                      sizeof(e))) {
                vg_seterr(errstr, errstr_size, VG_ERR_INTERNAL, "%s", e);
                rd_kafka_AdminOptions_destroy(opts);
                return -1;
        }
        q = rd_kafka_queue_new(rk);
        /* NULL partitions: every partition the group has committed for. */
        req = rd_kafka_ListConsumerGroupOffsets_new(group, NULL);
        rd_kafka_ListConsumerGroupOffsets(rk, &req, 1, opts, q);
        rd_kafka_ListConsumerGroupOffsets_destroy(req);
        rd_kafka_AdminOptions_destroy(opts);

        /* The request timeout bounds the wait; the margin covers queueing. */
        ev = rd_kafka_queue_poll(q, timeout_ms + 5000);
        if (!ev || rd_kafka_event_error(ev)) {
                *errp = ev ? rd_kafka_event_error(ev)
                           : RD_KAFKA_RESP_ERR__TIMED_OUT;
                committed_err(errstr, errstr_size, group, bootstrap, *errp,
                              ev ? rd_kafka_event_error_string(ev)
                                 : "timed out");
                goto out;
        }
        res = rd_kafka_event_ListConsumerGroupOffsets_result(ev);
        groups = res ? rd_kafka_ListConsumerGroupOffsets_result_groups(res,
                                                                       &cnt)
                     : NULL;
        if (!groups || cnt != 1) {
                vg_seterr(errstr, errstr_size, VG_ERR_KAFKA,
                          "cannot read the committed offsets of group %s: "
                          "unexpected reply", group);
                goto out;
        }
        if ((gerr = rd_kafka_group_result_error(groups[0]))) {
                *errp = rd_kafka_error_code(gerr);
                committed_err(errstr, errstr_size, group, bootstrap, *errp,
                              rd_kafka_error_string(gerr));
                goto out;
        }
        parts = rd_kafka_group_result_partitions(groups[0]);
        *committedp = parts ? rd_kafka_topic_partition_list_copy(parts)
                            : rd_kafka_topic_partition_list_new(0);
        *errp = RD_KAFKA_RESP_ERR_NO_ERROR;
        rc = 0;
out:
        if (ev)
                rd_kafka_event_destroy(ev);
        rd_kafka_queue_destroy(q);
        return rc;
}

/* The group's committed offsets (every partition it has committed for), in
 * *committedp, asking again while the coordinator is not ready, within
 * timeout_ms. Returns 0, or -1 with errstr. */
static int list_committed(rd_kafka_t *rk, const char *group, int timeout_ms,
                          const char *bootstrap,
                          rd_kafka_topic_partition_list_t **committedp,
                          char *errstr, size_t errstr_size) {
        int64_t deadline = now_ms() + timeout_ms, left;
        rd_kafka_resp_err_t err;

        for (;;) {
                left = deadline - now_ms();
                if (!list_committed_once(rk, group,
                                         left > 1000 ? (int)left : 1000,
                                         bootstrap, committedp, &err, errstr,
                                         errstr_size))
                        return 0;
                if (!coord_retriable(err) || now_ms() + 250 >= deadline)
                        return -1;
                vg_debug(LAG_CMD, "%s; retrying", errstr);
                nanosleep(&(struct timespec){0, 250 * 1000 * 1000}, NULL);
        }
}

/* Fills partition counts and watermarks of every topic in lg. A topic that
 * does not exist is an error if must_exist, else skipped (lt_nparts -1)
 * with a warning. Returns 0, or -1 with errstr. */
static int read_ends(rd_kafka_t *rk, lag_t *lg, int must_exist, int timeout_ms,
                     char *errstr, size_t errstr_size) {
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_resp_err_t err;
        int rc = -1;

        /* All topics: a request naming a missing topic could create it. */
        if ((err = rd_kafka_metadata(rk, 1, NULL, &md, timeout_ms))) {
                vg_seterr(errstr, errstr_size, VG_ERR_KAFKA,
                          "cannot get cluster metadata: %s (is the broker "
                          "reachable?)", rd_kafka_err2str(err));
                return -1;
        }
        for (int i = 0; i < lg->lg_cnt; i++) {
                ltopic_t *lt = &lg->lg_topics[i];
                const struct rd_kafka_metadata_topic *mt = NULL;
                for (int j = 0; j < md->topic_cnt; j++)
                        if (!strcmp(md->topics[j].topic, lt->lt_name)) {
                                mt = &md->topics[j];
                                break;
                        }
                if (!mt || mt->err) {
                        const char *why = mt ? rd_kafka_err2str(mt->err)
                                             : "no such topic";
                        if (must_exist) {
                                vg_seterr(errstr, errstr_size, VG_ERR_NOENT,
                                          "topic %s: %s", lt->lt_name, why);
                                goto out;
                        }
                        vg_warn(LAG_CMD, "topic %s (offsets committed by the "
                                "group): %s; skipped", lt->lt_name, why);
                        lt->lt_nparts = -1;
                        continue;
                }
                lt->lt_nparts = mt->partition_cnt;
                lt->lt_committed = vg_calloc((size_t)lt->lt_nparts + 1,
                                             sizeof(int64_t));
                lt->lt_low = vg_calloc((size_t)lt->lt_nparts + 1,
                                       sizeof(int64_t));
                lt->lt_high = vg_calloc((size_t)lt->lt_nparts + 1,
                                        sizeof(int64_t));
                for (int p = 0; p < lt->lt_nparts; p++) {
                        lt->lt_committed[p] = -1;
                        if ((err = vg_kafka_query_ends(
                                     rk, lt->lt_name, p, &lt->lt_low[p],
                                     &lt->lt_high[p], timeout_ms))) {
                                vg_seterr(errstr, errstr_size, VG_ERR_KAFKA,
                                          "cannot read the log end offset of "
                                          "%s [%d]: %s", lt->lt_name, p,
                                          rd_kafka_err2str(err));
                                goto out;
                        }
                }
        }
        rc = 0;
out:
        rd_kafka_metadata_destroy(md);
        return rc;
}

/* A partition's lag: from the committed offset, or the log start offset if
 * nothing is committed, to the log end offset; never negative. */
static int64_t part_lag(const ltopic_t *lt, int p) {
        int64_t l = lt->lt_high[p] - (lt->lt_committed[p] >= 0
                                              ? lt->lt_committed[p]
                                              : lt->lt_low[p]);
        return l > 0 ? l : 0;
}

/* Applies the committed offsets and computes the lags; returns the total. */
static int64_t compute(lag_t *lg,
                       const rd_kafka_topic_partition_list_t *committed) {
        int64_t total = 0;
        for (int i = 0; committed && i < committed->cnt; i++) {
                const rd_kafka_topic_partition_t *tp = &committed->elems[i];
                ltopic_t *lt = lag_find(lg, tp->topic);
                if (!lt || tp->partition < 0 ||
                    tp->partition >= lt->lt_nparts)
                        continue;
                if (tp->err)
                        vg_warn(LAG_CMD, "%s [%" PRId32 "]: %s", tp->topic,
                                tp->partition, rd_kafka_err2str(tp->err));
                else if (tp->offset >= 0)
                        lt->lt_committed[tp->partition] = tp->offset;
        }
        for (int i = 0; i < lg->lg_cnt; i++) {
                ltopic_t *lt = &lg->lg_topics[i];
                lt->lt_lag = 0;
                for (int p = 0; p < lt->lt_nparts; p++)
                        lt->lt_lag += part_lag(lt, p);
                total += lt->lt_lag;
        }
        return total;
}

static void print_table(const lag_t *lg, const char *group, int64_t total) {
        int w = (int)strlen("TOPIC"), shown = 0;
        for (int i = 0; i < lg->lg_cnt; i++) {
                int n = (int)strlen(lg->lg_topics[i].lt_name);
                if (lg->lg_topics[i].lt_nparts < 0)
                        continue;
                shown++;
                if (n > w)
                        w = n;
        }
        printf("Consumer group: %s\n\n", group);
        printf("%-*s  %9s  %12s  %12s  %12s\n", w, "TOPIC", "PARTITION",
               "COMMITTED", "END", "LAG");
        for (int i = 0; i < lg->lg_cnt; i++) {
                const ltopic_t *lt = &lg->lg_topics[i];
                if (lt->lt_nparts < 0)
                        continue;
                for (int p = 0; p < lt->lt_nparts; p++) {
                        char c[24];
                        if (lt->lt_committed[p] >= 0)
                                snprintf(c, sizeof(c), "%" PRId64,
                                         lt->lt_committed[p]);
                        else
                                strcpy(c, "-");
                        printf("%-*s  %9d  %12s  %12" PRId64 "  %12" PRId64
                               "\n", w, lt->lt_name, p, c, lt->lt_high[p],
                               part_lag(lt, p));
                }
                if (shown > 1)
                        printf("%-*s  %9s  %12s  %12s  %12" PRId64 "\n", w,
                               lt->lt_name, "total", "", "", lt->lt_lag);
        }
        printf("%-*s  %9s  %12s  %12s  %12" PRId64 "\n", w, "TOTAL", "", "",
               "", total);
}

/* The event-time view (lag_time.c) of the input topics in lg: NULL when lg
 * has none of them. Prints a table unless json, returns the JSON array:
 * [{"partition", "watermark", "held_by", "topics": [{"topic", "time",
 *   "at_end"}]}]. */
static json_t *event_time(const vg_conf_t *conf, const lag_t *lg, int json,
                          int timeout_ms) {
        vg_lag_tp_t *tps;
        int n = 0, np = 0;
        int64_t *wm;
        char errstr[512], t1[32];
        json_t *arr;

        for (int i = 0; i < lg->lg_cnt; i++)
                for (size_t k = 0; k < VG_ARRAY_SIZE(input_topic_keys); k++)
                        if (lg->lg_topics[i].lt_nparts > 0 &&
                            !strcmp(lg->lg_topics[i].lt_name,
                                    vg_conf_str(conf, input_topic_keys[k]))) {
                                n += lg->lg_topics[i].lt_nparts;
                                if (lg->lg_topics[i].lt_nparts > np)
                                        np = lg->lg_topics[i].lt_nparts;
                        }
        if (!n)
                return NULL;
        tps = vg_calloc((size_t)n, sizeof(*tps));
        n = 0;
        for (int i = 0; i < lg->lg_cnt; i++)
                for (size_t k = 0; k < VG_ARRAY_SIZE(input_topic_keys); k++) {
                        const ltopic_t *lt = &lg->lg_topics[i];
                        if (lt->lt_nparts <= 0 ||
                            strcmp(lt->lt_name,
                                   vg_conf_str(conf, input_topic_keys[k])))
                                continue;
                        for (int p = 0; p < lt->lt_nparts; p++)
                                tps[n++] = (vg_lag_tp_t){
                                        lt->lt_name, p, lt->lt_committed[p],
                                        lt->lt_low[p], lt->lt_high[p], 0};
                }
        wm = vg_calloc((size_t)np, sizeof(*wm));
        if (vg_lag_topic_times(conf, tps, n, timeout_ms, errstr,
                               sizeof(errstr)) ||
            vg_lag_watermarks(conf, wm, np, errstr, sizeof(errstr)))
                vg_warn(LAG_CMD, "event time: %s", errstr);
        arr = json_array();
        if (!json)
                printf("\nEvent time (docs/RULES.md, \"The watermark\"):\n"
                       "%-9s  %-24s  %s\n", "PARTITION", "WATERMARK",
                       "HELD BACK BY (the input topic not at its end with "
                       "the oldest last event)");
        for (int p = 0; p < np; p++) {
                int h = vg_lag_holder(tps, n, p);
                json_t *o = json_object(), *ts = json_array();
                char held[512];
                const char *w = wm[p] == VG_LAG_UNKNOWN ? "no progress yet"
                                : wm[p] == VG_LAG_NONE ? "none"
                                                       : vg_time_format(wm[p], t1);
                if (h < 0)
                        snprintf(held, sizeof(held),
                                 "- (every input topic at its end)");
                else if (tps[h].lt_time <= VG_LAG_UNKNOWN)
                        snprintf(held, sizeof(held), "%s (nothing read yet)",
                                 tps[h].lt_topic);
                else {
                        char t2[32];
                        snprintf(held, sizeof(held), "%s (last event %s)",
                                 tps[h].lt_topic,
                                 vg_time_format(tps[h].lt_time, t2));
                }
                if (!json)
                        printf("%-9d  %-24s  %s\n", p, w, held);
                json_object_set_new(o, "partition", json_integer(p));
                json_object_set_new(o, "watermark",
                                    wm[p] > VG_LAG_UNKNOWN
                                            ? json_string(vg_time_format(wm[p], t1))
                                            : json_null());
                json_object_set_new(o, "held_by",
                                    h >= 0 ? json_string(tps[h].lt_topic)
                                           : json_null());
                for (int i = 0; i < n; i++) {
                        if (tps[i].lt_partition != p)
                                continue;
                        json_array_append_new(
                                ts, json_pack("{s:s, s:o, s:b}", "topic",
                                              tps[i].lt_topic, "time",
                                              tps[i].lt_time > VG_LAG_UNKNOWN
                                                      ? json_string(vg_time_format(
                                                                tps[i].lt_time, t1))
                                                      : json_null(),
                                              "at_end",
                                              VG_LAG_AT_END(&tps[i])));
                }
                json_object_set_new(o, "topics", ts);
                json_array_append_new(arr, o);
        }
        if (!json) {
                printf("\n%-*s  %9s  %-24s  %s\n", 24, "TOPIC", "PARTITION",
                       "LAST EVENT TIME", "AT END");
                for (int i = 0; i < n; i++)
                        printf("%-*s  %9d  %-24s  %s\n", 24, tps[i].lt_topic,
                               tps[i].lt_partition,
                               tps[i].lt_time > VG_LAG_UNKNOWN
                                       ? vg_time_format(tps[i].lt_time, t1)
                                       : "-",
                               VG_LAG_AT_END(&tps[i]) ? "yes" : "no");
        }
        vg_free(tps);
        vg_free(wm);
        return arr;
}

static void print_json(const lag_t *lg, const char *group, int64_t total,
                       json_t *event) {
        json_t *doc = json_object(), *parts = json_array(),
               *topics = json_array();
        char *s;
        for (int i = 0; i < lg->lg_cnt; i++) {
                const ltopic_t *lt = &lg->lg_topics[i];
                if (lt->lt_nparts < 0)
                        continue;
                for (int p = 0; p < lt->lt_nparts; p++) {
                        json_t *o = json_object();
                        json_object_set_new(o, "topic",
                                            json_string(lt->lt_name));
                        json_object_set_new(o, "partition", json_integer(p));
                        json_object_set_new(
                                o, "committed",
                                lt->lt_committed[p] >= 0
                                        ? json_integer(lt->lt_committed[p])
                                        : json_null());
                        json_object_set_new(o, "end",
                                            json_integer(lt->lt_high[p]));
                        json_object_set_new(o, "lag",
                                            json_integer(part_lag(lt, p)));
                        json_array_append_new(parts, o);
                }
                json_array_append_new(
                        topics, json_pack("{s:s, s:I}", "topic", lt->lt_name,
                                          "lag", (json_int_t)lt->lt_lag));
        }
        json_object_set_new(doc, "group", json_string(group));
        json_object_set_new(doc, "partitions", parts);
        json_object_set_new(doc, "topics", topics);
        json_object_set_new(doc, "total_lag", json_integer(total));
        if (event)
                json_object_set_new(doc, "event_time", event);
        s = json_dumps(doc, JSON_PRESERVE_ORDER | JSON_COMPACT);
        printf("%s\n", s);
        free(s);
        json_decref(doc);
}

static int parse_int(const char *s, long long min, long long max,
                     long long *out) {
        char *end;
        long long v;
        if (!(*s == '-' || (*s >= '0' && *s <= '9'))) /* (no ' ', '+') */
                return -1;
        errno = 0;
        v = strtoll(s, &end, 10);
        if (*end || errno || v < min || v > max)
                return -1;
        *out = v;
        return 0;
}

int vg_cmd_lag(int argc, char **argv) {
        enum { OPT_TIMEOUT = 256 };
        static const struct option opts[] = {
                {"group", required_argument, NULL, 'g'},
                {"topic", required_argument, NULL, 'T'},
                {"json", no_argument, NULL, 'j'},
                {"max-lag", required_argument, NULL, 'm'},
                {"timeout", required_argument, NULL, OPT_TIMEOUT},
                {"help", no_argument, NULL, 'h'},
                {NULL, 0, NULL, 0},
        };
        int c, rc = 0, json = 0, explicit_topics, timeout_ms = 10000;
        long long max_lag = -1, v;
        const char *group = NULL;
        vg_conf_t *conf = vg_conf_new();
        rd_kafka_conf_t *kconf = NULL;
        rd_kafka_t *rk = NULL;
        rd_kafka_topic_partition_list_t *committed = NULL;
        lag_t lg = {NULL, 0};
        int64_t total;
        char errstr[512], bootstrap[256];
        size_t bsz = sizeof(bootstrap);

        optind = 1;
        opterr = 1;
        while ((c = getopt_long(argc, argv, "g:t:jm:h" VG_CLI_CONF_OPTS, opts,
                                NULL)) != -1) {
                if (vg_cli_conf_option(conf, LAG_CMD, c, optarg, &rc)) {
                        if (rc) {
                                rc = LAG_EXIT_USAGE;
                                goto out;
                        }
                        continue;
                }
                switch (c) {
                case 'g':
                        if (!*optarg) {
                                vg_cli_usage_error(LAG_CMD,
                                                   "--group: empty name");
                                rc = LAG_EXIT_USAGE;
                                goto out;
                        }
                        group = optarg;
                        break;
                case 't':
                        /* (-t is --type in vigil codec: a short option
                         * means one thing everywhere) */
                        vg_cli_usage_error(LAG_CMD, "-t is not an option "
                                           "of vigil lag any more (a short "
                                           "option means the same in every "
                                           "command: -t is --type); use "
                                           "--topic");
                        rc = LAG_EXIT_USAGE;
                        goto out;
                case 'T':
                        if (!*optarg) {
                                vg_cli_usage_error(LAG_CMD,
                                                   "--topic: empty name");
                                rc = LAG_EXIT_USAGE;
                                goto out;
                        }
                        lag_add(&lg, optarg);
                        break;
                case 'j':
                        json = 1;
                        break;
                case 'm':
                        if (parse_int(optarg, 0, INT64_MAX, &v)) {
                                vg_cli_usage_error(
                                        LAG_CMD,
                                        "--max-lag: expected a number >= 0, "
                                        "got '%s'", optarg);
                                rc = LAG_EXIT_USAGE;
                                goto out;
                        }
                        max_lag = v;
                        break;
                case OPT_TIMEOUT:
                        if (parse_int(optarg, 1, 3600, &v)) {
                                vg_cli_usage_error(
                                        LAG_CMD,
                                        "--timeout: expected seconds (1 to "
                                        "3600), got '%s'", optarg);
                                rc = LAG_EXIT_USAGE;
                                goto out;
                        }
                        timeout_ms = (int)v * 1000;
                        break;
                case 'h':
                        help();
                        goto out;
                default:
                        vg_cli_usage_error(LAG_CMD, "bad option");
                        rc = LAG_EXIT_USAGE;
                        goto out;
                }
        }
        if (optind < argc) {
                vg_cli_usage_error(LAG_CMD, "unexpected argument '%s'",
                                   argv[optind]);
                rc = LAG_EXIT_USAGE;
                goto out;
        }
        if (vg_cli_conf_finish(conf, LAG_CMD)) {
                rc = LAG_EXIT_USAGE;
                goto out;
        }
        if (!group)
                group = vg_conf_str(conf, "group.id");
        if (!group || !*group) {
                vg_cli_usage_error(LAG_CMD, "no group: give --group or set "
                                   "group.id");
                rc = LAG_EXIT_USAGE;
                goto out;
        }
        explicit_topics = lg.lg_cnt > 0;

        /* A consumer handle with group.id set to the group but never
         * subscribed nor assigned: it does not join the group. The group.id
         * is needed even so: librdkafka (2.0.2 and later, issue #5040)
         * crashes in ListConsumerGroupOffsets when the coordinator answers
         * NOT_COORDINATOR (a freshly started broker) on a handle without a
         * consumer group. Nothing is stored, so nothing can be committed. */
        if (!(kconf = vg_kafka_conf(conf, errstr, sizeof(errstr))) ||
            vg_kafka_set(kconf, "group.id", group, errstr, sizeof(errstr)) ||
            vg_kafka_set(kconf, "enable.auto.commit", "false", errstr,
                         sizeof(errstr)) ||
            vg_kafka_set(kconf, "enable.auto.offset.store", "false", errstr,
                         sizeof(errstr))) {
                fprintf(stderr, "vigil %s: %s\n", LAG_CMD, errstr);
                rc = LAG_EXIT_USAGE;
                goto out;
        }
        if (rd_kafka_conf_get(kconf, "bootstrap.servers", bootstrap, &bsz) !=
            RD_KAFKA_CONF_OK)
                strcpy(bootstrap, "?");
        if (!(rk = rd_kafka_new(RD_KAFKA_CONSUMER, kconf, errstr,
                                sizeof(errstr)))) {
                vg_error(LAG_CMD, "%s", errstr);
                rc = LAG_EXIT_FAIL;
                goto out;
        }
        kconf = NULL;

        if (list_committed(rk, group, timeout_ms, bootstrap, &committed,
                           errstr, sizeof(errstr))) {
                vg_error(LAG_CMD, "%s", errstr);
                rc = LAG_EXIT_FAIL;
                goto out;
        }
        if (!explicit_topics) {
                for (int i = 0; i < committed->cnt; i++)
                        lag_add(&lg, committed->elems[i].topic);
                /* The processor's group: its five input topics always, so
                 * that a topic with no commit yet still shows its backlog. */
                if (lg.lg_cnt > 0 &&
                    !strcmp(group, vg_conf_str(conf, "group.id")))
                        for (size_t i = 0; i < VG_ARRAY_SIZE(input_topic_keys);
                             i++)
                                lag_add(&lg,
                                        vg_conf_str(conf, input_topic_keys[i]));
                if (lg.lg_cnt > 1)
                        qsort(lg.lg_topics, (size_t)lg.lg_cnt,
                              sizeof(*lg.lg_topics), topic_cmp);
        }
        if (!lg.lg_cnt) {
                vg_warn(LAG_CMD, "group %s has no committed offsets; showing "
                        "the input topics", group);
                for (size_t i = 0; i < VG_ARRAY_SIZE(input_topic_keys); i++)
                        lag_add(&lg, vg_conf_str(conf, input_topic_keys[i]));
                explicit_topics = 1;
        }
        if (read_ends(rk, &lg, explicit_topics, timeout_ms, errstr,
                      sizeof(errstr))) {
                vg_error(LAG_CMD, "%s", errstr);
                rc = LAG_EXIT_FAIL;
                goto out;
        }
        total = compute(&lg, committed);
        if (json) {
                json_t *ev = !strcmp(group, vg_conf_str(conf, "group.id"))
                                     ? event_time(conf, &lg, 1, timeout_ms)
                                     : NULL;
                print_json(&lg, group, total, ev);
        } else {
                print_table(&lg, group, total);
                /* The processor's group: where its event time stands. */
                if (!strcmp(group, vg_conf_str(conf, "group.id")))
                        json_decref(event_time(conf, &lg, 0, timeout_ms));
        }
        if (max_lag >= 0 && total > max_lag) {
                fprintf(stderr,
                        "vigil %s: group %s: total lag %" PRId64
                        " is above --max-lag %lld\n",
                        LAG_CMD, group, total, max_lag);
                rc = LAG_EXIT_LAG;
        }
out:
        if (kconf) /* rd_kafka_new() frees it only on success */
                rd_kafka_conf_destroy(kconf);
        if (committed)
                rd_kafka_topic_partition_list_destroy(committed);
        if (rk) {
                rd_kafka_consumer_close(rk);
                rd_kafka_destroy(rk);
        }
        lag_clear(&lg);
        vg_conf_destroy(conf);
        return rc;
}
