/*
 * test_outbox.c - the publisher keeps the newest record of a key last, even
 * when a delivery fails (SPEC §7: the last status of an alert is its final
 * one), and gives up with an error on a record that can never be published.
 * Runs on librdkafka's mock cluster with injected produce errors.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vg_outbox.h"
#include "vg_time.h"
#include <librdkafka/rdkafka_mock.h>

#define APIKEY_PRODUCE 0 /* the Kafka protocol's ApiKey of Produce */

static bool not_busy(void *opaque) {
        (void)opaque;
        return false;
}

typedef struct env_s {
        sqlite3                 *db;
        vg_outbox_t             *ob;
        vg_pub_t                *pub;
        rd_kafka_mock_cluster_t *mc;
} env_t;

static void env_init_q(env_t *env, const char *max_messages) {
        char e[512];
        rd_kafka_conf_t *pc = rd_kafka_conf_new();
        assert_int_equal(sqlite3_open(":memory:", &env->db), SQLITE_OK);
        env->ob = vg_outbox_open(env->db, e, sizeof(e));
        assert_non_null(env->ob);
        rd_kafka_conf_set(pc, "test.mock.num.brokers", "1", e, sizeof(e));
        rd_kafka_conf_set(pc, "enable.idempotence", "true", e, sizeof(e));
        rd_kafka_conf_set(pc, "acks", "all", e, sizeof(e));
        rd_kafka_conf_set(pc, "linger.ms", "0", e, sizeof(e));
        rd_kafka_conf_set(pc, "log_level", "0", e, sizeof(e));
        rd_kafka_conf_set(pc, "queue.buffering.max.messages", max_messages,
                          e, sizeof(e));
        env->pub = vg_pub_new(pc, e, sizeof(e));
        assert_non_null(env->pub);
        env->mc = rd_kafka_handle_mock_cluster(vg_pub_handle(env->pub));
        rd_kafka_mock_topic_create(env->mc, "alerts", 1, 1);
        vg_pub_add(env->pub, 0, env->ob, not_busy, NULL);
}

/* One message per request, so that a failed request fails one record
 * while the next one is delivered. */
static void env_init(env_t *env) {
        env_init_q(env, "1");
}

static void env_free(env_t *env) {
        vg_pub_destroy(env->pub, 2000);
        vg_outbox_close(env->ob);
        sqlite3_close(env->db);
}

static void add(env_t *env, const char *key, const char *value) {
        char e[256];
        assert_int_equal(vg_outbox_add(env->ob, "alerts", key, strlen(key),
                                       value, strlen(value), NULL, e,
                                       sizeof(e)),
                         VG_OK);
}

/* The topic's values, in offset order, into out (joined by ","). */
static void topic_values(env_t *env, char *out, size_t size) {
        char e[512];
        rd_kafka_conf_t *cc = rd_kafka_conf_new();
        rd_kafka_t *c;
        rd_kafka_topic_partition_list_t *l;
        int64_t until = vg_now_ms() + 5000;
        out[0] = '\0';
        rd_kafka_conf_set(cc, "bootstrap.servers",
                          rd_kafka_mock_cluster_bootstraps(env->mc), e,
                          sizeof(e));
        rd_kafka_conf_set(cc, "group.id", "t", e, sizeof(e));
        rd_kafka_conf_set(cc, "enable.partition.eof", "true", e, sizeof(e));
        c = rd_kafka_new(RD_KAFKA_CONSUMER, cc, e, sizeof(e));
        assert_non_null(c);
        l = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(l, "alerts", 0)->offset =
                RD_KAFKA_OFFSET_BEGINNING;
        rd_kafka_assign(c, l);
        rd_kafka_topic_partition_list_destroy(l);
        while (vg_now_ms() < until) {
                rd_kafka_message_t *m = rd_kafka_consumer_poll(c, 100);
                int eof;
                if (!m)
                        continue;
                eof = m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF;
                if (!m->err) {
                        if (out[0])
                                strncat(out, ",", size - strlen(out) - 1);
                        strncat(out, (const char *)m->payload,
                                m->len < size - strlen(out) - 1
                                        ? m->len
                                        : size - strlen(out) - 1);
                }
                rd_kafka_message_destroy(m);
                if (eof)
                        break;
        }
        rd_kafka_consumer_close(c);
        rd_kafka_destroy(c);
}

static void test_failed_delivery_keeps_newest_last(void **state) {
        env_t env;
        char e[512], vals[512];
        const char *last;
        (void)state;
        env_init(&env);
        add(&env, "W", "warm");
        assert_int_equal(vg_pub_flush(env.pub, 5000, e, sizeof(e)), 0);
        /* The next produce request fails for good (not retried). */
        rd_kafka_mock_push_request_errors(env.mc, APIKEY_PRODUCE, 1,
                                          RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE);
        add(&env, "X", "ACTIVE");
        add(&env, "X", "RETRACTED");
        for (int i = 0; i < 100 && vg_outbox_depth(env.ob) > 0; i++) {
                assert_int_equal(vg_pub_drain(env.pub, e, sizeof(e)), 0);
                usleep(20000);
        }
        assert_int_equal(vg_outbox_depth(env.ob), 0);
        topic_values(&env, vals, sizeof(vals));
        print_message("topic: %s\n", vals);
        last = strrchr(vals, ',');
        assert_non_null(last);
        /* Whatever was resent, RETRACTED (the newest row) is last. */
        assert_string_equal(last + 1, "RETRACTED");
        assert_non_null(strstr(vals, "ACTIVE"));
        env_free(&env);
}

/* One drain hands the producer as many rows as may be in flight, not a
 * fixed handful: after a backlog, an idle loop drains every 50 ms. */
static void test_drain_fills_pipeline(void **state) {
        enum { N = 3000 };
        env_t env;
        static char vals[N * 8];
        char e[512];
        int n = 0;
        (void)state;
        env_init_q(&env, "100000");
        for (int i = 0; i < N; i++) {
                char v[16];
                snprintf(v, sizeof(v), "v%d", i);
                add(&env, "K", v);
        }
        assert_int_equal(vg_pub_drain(env.pub, e, sizeof(e)), 0);
        /* delivered without another drain */
        assert_int_equal(rd_kafka_flush(vg_pub_handle(env.pub), 5000),
                         RD_KAFKA_RESP_ERR_NO_ERROR);
        topic_values(&env, vals, sizeof(vals));
        for (const char *p = vals; *p; p++)
                n += *p == ',';
        assert_int_equal(n + 1, N);
        assert_non_null(strstr(vals, ",v2999"));
        assert_int_equal(vg_pub_drain(env.pub, e, sizeof(e)), 0);
        assert_int_equal(vg_outbox_depth(env.ob), 0);
        env_free(&env);
}

static void test_permanent_failure_is_fatal(void **state) {
        env_t env;
        char e[512] = "";
        int rc = 0;
        (void)state;
        env_init(&env);
        {
                rd_kafka_resp_err_t errs[50];
                for (int i = 0; i < 50; i++)
                        errs[i] = RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE;
                rd_kafka_mock_push_request_errors_array(env.mc, APIKEY_PRODUCE,
                                                        50, errs);
        }
        add(&env, "Y", "never");
        for (int i = 0; i < 300 && rc == 0; i++) {
                rc = vg_pub_drain(env.pub, e, sizeof(e));
                usleep(10000);
        }
        assert_int_equal(rc, -1);
        assert_non_null(strstr(e, "could not be published"));
        assert_int_equal(vg_outbox_depth(env.ob), 1); /* kept, not lost */
        env_free(&env);
}

/*
 * The cache of rows in memory (vg_outbox_cache): through commits,
 * rollbacks, transactions too large for it and deletes, every scan from
 * every position outside transactions gives what the table holds, byte
 * for byte (a second handle without cache reads the table).
 */
typedef struct rows_s {
        char buf[1 << 16];
        size_t len;
        int n;
} rows_t;

static void rows_cb(const vg_outrec_t *r, void *opaque) {
        rows_t *o = opaque;
        int w = snprintf(o->buf + o->len, sizeof(o->buf) - o->len,
                         "%lld|%s|%d|%s|", (long long)r->or_seq, r->or_topic,
                         (int)r->or_partition,
                         r->or_headers ? r->or_headers : "(none)");
        o->len += (size_t)w;
        for (int k = 0; k < 2; k++) {
                const char *b = k ? r->or_value : r->or_key;
                size_t l = k ? r->or_value_len : r->or_key_len;
                if (!b) {
                        w = snprintf(o->buf + o->len, sizeof(o->buf) - o->len,
                                     "NULL|");
                        o->len += (size_t)w;
                        continue;
                }
                w = snprintf(o->buf + o->len, sizeof(o->buf) - o->len,
                             "%zu:", l);
                o->len += (size_t)w;
                assert_true(o->len + l + 2 < sizeof(o->buf));
                memcpy(o->buf + o->len, b, l);
                o->len += l;
                o->buf[o->len++] = '|';
        }
        if (r->or_resolved) {
                assert_true(o->len + 5 < sizeof(o->buf));
                memcpy(o->buf + o->len, "ref|", 4);
                o->len += 4;
        }
        o->buf[o->len] = '\0';
        o->n++;
}

/* The resolver of the tests: a value made of the key ("R:<key>"), or a
 * tombstone for a key that starts with "gone"; a key "fail" cannot be
 * resolved. */
static int test_resolve(void *opaque, const vg_outrec_t *ref, vg_buf_t *v,
                        char *errstr, size_t errstr_size) {
        int *calls = opaque;
        (*calls)++;
        assert_true(ref->or_resolved);
        assert_null(ref->or_value);
        if (ref->or_key_len == 4 && !memcmp(ref->or_key, "fail", 4)) {
                snprintf(errstr, errstr_size, "cannot resolve");
                return -1;
        }
        if (ref->or_key_len >= 4 && !memcmp(ref->or_key, "gone", 4))
                return 1;
        vg_buf_append(v, "R:", 2);
        vg_buf_append(v, ref->or_key, ref->or_key_len);
        return 0;
}

static void seqs_cb(const vg_outrec_t *r, void *opaque) {
        int64_t *v = opaque;
        v[1 + v[0]++] = r->or_seq;
}

/* The records the table must hold, in order, as rows_cb writes them
 * without their seq: added, committed, not yet deleted - kept here
 * independently of the outbox. */
#define MODEL_MAX 8192
typedef struct model_s {
        char *rec[MODEL_MAX];
        int   n;        /* committed */
        int   ntxn;     /* of the open transaction, after them */
} model_t;

static void model_add(model_t *m, const char *topic, int part,
                      const char *hdr, const char *key, size_t kl,
                      const char *val, size_t vl) {
        char b[1024];
        int w = snprintf(b, sizeof(b), "%s|%d|%s|", topic, part,
                         hdr ? hdr : "(none)");
        if (key)
                w += snprintf(b + w, sizeof(b) - (size_t)w, "%zu:%.*s|", kl,
                              (int)kl, key);
        else
                w += snprintf(b + w, sizeof(b) - (size_t)w, "NULL|");
        if (val)
                snprintf(b + w, sizeof(b) - (size_t)w, "%zu:%.*s|", vl,
                         (int)vl, val);
        else
                snprintf(b + w, sizeof(b) - (size_t)w, "NULL|");
        assert_true(m->n + m->ntxn < MODEL_MAX);
        m->rec[m->n + m->ntxn++] = strdup(b);
}

/* A reference as test_resolve makes it. */
static void model_add_ref(model_t *m, const char *topic, int part,
                          const char *key) {
        char b[1024];
        bool gone = !strncmp(key, "gone", 4);
        if (gone)
                snprintf(b, sizeof(b), "%s|%d|(none)|%zu:%s|NULL|ref|", topic,
                         part, strlen(key), key);
        else
                snprintf(b, sizeof(b), "%s|%d|(none)|%zu:%s|%zu:R:%s|ref|",
                         topic, part, strlen(key), key, strlen(key) + 2, key);
        assert_true(m->n + m->ntxn < MODEL_MAX);
        m->rec[m->n + m->ntxn++] = strdup(b);
}

static void model_end(model_t *m, bool commit) {
        if (commit)
                m->n += m->ntxn;
        else
                for (int i = 0; i < m->ntxn; i++)
                        free(m->rec[m->n + i]);
        m->ntxn = 0;
}

static void model_drop(model_t *m, int k) {
        for (int i = 0; i < k; i++)
                free(m->rec[i]);
        memmove(m->rec, m->rec + k, (size_t)(m->n - k) * sizeof(*m->rec));
        m->n -= k;
}

/* The table's rows through h, seqs left out, against the model's first
 * n records. */
typedef struct noseq_s {
        model_t *m;
        int      i;
        int      bad;
} noseq_t;

static void noseq_cb(const vg_outrec_t *r, void *opaque) {
        noseq_t *ns = opaque;
        rows_t one = {.len = 0};
        const char *body;
        rows_cb(r, &one);
        body = strchr(one.buf, '|') + 1; /* after "<seq>|" */
        if (ns->i >= ns->m->n + ns->m->ntxn ||
            strcmp(body, ns->m->rec[ns->i]))
                ns->bad++;
        ns->i++;
}

static void test_cache_equals_table(void **state) {
        sqlite3 *db;
        vg_outbox_t *ob, *plain;
        char e[512];
        unsigned seed = 12345;
        int rollbacks = 0, overflows = 0, cached_scans = 0, partial = 0,
            inside = 0, resolved = 0;
        int64_t deleted = 0, max_seq = 0;
        static int64_t seqs[1 + MODEL_MAX];
        static model_t model;
        (void)state;
        assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
        ob = vg_outbox_open(db, e, sizeof(e));
        plain = vg_outbox_open(db, e, sizeof(e));
        assert_non_null(ob);
        assert_non_null(plain);
        vg_outbox_set_resolver(ob, test_resolve, &resolved);
        vg_outbox_set_resolver(plain, test_resolve, &resolved);
        /* chunks of at most 3 records: transactions span several, and
         * deletes end inside them */
        vg_outbox_chunk_limits(ob, 3, 1 << 20);
        /* rows already there are read from the table */
        assert_int_equal(vg_outbox_add(ob, "t", "k0", 2, "v0", 2, NULL, e,
                                       sizeof(e)), VG_OK);
        model_add(&model, "t", -1, NULL, "k0", 2, "v0", 2);
        model_end(&model, true);
        seqs[0] = 0;
        assert_int_equal(vg_outbox_scan(plain, 0, 10, seqs_cb, seqs), 1);
        max_seq = seqs[1];
        assert_int_equal(vg_outbox_cache(ob, 3000), 0);
        for (int round = 0; round < 400; round++) {
                int n = (int)((seed = seed * 1103515245 + 12345) >> 16) % 12;
                int what = (int)((seed = seed * 1103515245 + 12345) >> 16) % 10;
                int fresh = 0;
                noseq_t ns = {&model, 0, 0};
                assert_int_equal(sqlite3_exec(db, "BEGIN", NULL, NULL, NULL),
                                 SQLITE_OK);
                for (int i = 0; i < n; i++) {
                        char key[32], val[400];
                        int kind = (round + i) % 6;
                        size_t vl = (size_t)(((unsigned)round * 37u +
                                              (unsigned)i * 101u) %
                                             sizeof(val));
                        snprintf(key, sizeof(key), "key%d.%d", round, i);
                        memset(val, 'a' + (round % 26), sizeof(val));
                        if (kind == 0) { /* a tombstone */
                                assert_int_equal(
                                        vg_outbox_add(ob, "t", key,
                                                      strlen(key), NULL, 0,
                                                      NULL, e, sizeof(e)),
                                        VG_OK);
                                model_add(&model, "t", -1, NULL, key,
                                          strlen(key), NULL, 0);
                        } else if (kind == 1) { /* empty value, no key */
                                assert_int_equal(
                                        vg_outbox_add(ob, "u", NULL, 0, "",
                                                      0, "{\"h\":\"1\"}", e,
                                                      sizeof(e)),
                                        VG_OK);
                                model_add(&model, "u", -1, "{\"h\":\"1\"}",
                                          NULL, 0, "", 0);
                        } else if (kind == 5) { /* a reference */
                                if (i % 2)
                                        memcpy(key, "gone", 4);
                                assert_int_equal(
                                        vg_outbox_add_ref(ob, "cl", round % 3,
                                                          key, strlen(key), e,
                                                          sizeof(e)),
                                        VG_OK);
                                model_add_ref(&model, "cl", round % 3, key);
                        } else if (kind == 2) { /* to a partition */
                                assert_int_equal(
                                        vg_outbox_add_to(ob, "cl", round % 3,
                                                         key, strlen(key),
                                                         val, vl, e,
                                                         sizeof(e)),
                                        VG_OK);
                                model_add(&model, "cl", round % 3, NULL, key,
                                          strlen(key), val, vl);
                        } else {
                                assert_int_equal(
                                        vg_outbox_add(ob, "t", key,
                                                      strlen(key), val, vl,
                                                      NULL, e, sizeof(e)),
                                        VG_OK);
                                model_add(&model, "t", -1, NULL, key,
                                          strlen(key), val, vl);
                        }
                }
                if (what == 5 && n) {
                        /* a scan inside the transaction sees its records
                         * too (what is packed is written first) */
                        assert_true(vg_outbox_scan(ob, 0, MODEL_MAX, noseq_cb,
                                                   &ns) >= 0);
                        assert_int_equal(ns.bad, 0);
                        assert_int_equal(ns.i, model.n + model.ntxn);
                        inside++;
                }
                if (what == 0) {
                        assert_int_equal(sqlite3_exec(db, "ROLLBACK", NULL,
                                                      NULL, NULL),
                                         SQLITE_OK);
                        vg_outbox_txn_end(ob, false);
                        model_end(&model, false);
                        rollbacks += n > 0;
                } else {
                        fresh = model.ntxn;
                        assert_int_equal(vg_outbox_seal(ob, e, sizeof(e)),
                                         VG_OK);
                        assert_int_equal(sqlite3_exec(db, "COMMIT", NULL,
                                                      NULL, NULL),
                                         SQLITE_OK);
                        vg_outbox_txn_end(ob, true);
                        model_end(&model, true);
                        overflows += n >= 8; /* about 3000 bytes */
                }
                /* the table holds what the model holds, in its order */
                ns = (noseq_t){&model, 0, 0};
                assert_true(vg_outbox_scan(plain, 0, MODEL_MAX, noseq_cb,
                                           &ns) >= 0);
                assert_int_equal(ns.bad, 0);
                assert_int_equal(ns.i, model.n);
                /* seqs grow, and a record's seq is never given again: the
                 * records above every seq seen before are this round's */
                seqs[0] = 0;
                assert_true(vg_outbox_scan(plain, 0, MODEL_MAX, seqs_cb,
                                           seqs) >= 0);
                for (int64_t i = 1; i < seqs[0]; i++)
                        assert_true(seqs[i + 1] > seqs[i]);
                if (seqs[0])
                        assert_true(seqs[1] > deleted);
                {
                        int above = 0;
                        for (int64_t i = 1; i <= seqs[0]; i++)
                                above += seqs[i] > max_seq;
                        assert_int_equal(above, fresh);
                        if (seqs[0] && seqs[seqs[0]] > max_seq)
                                max_seq = seqs[seqs[0]];
                }
                /* delivered up to some row, deleted */
                if (what >= 6 && seqs[0]) {
                        int64_t k = 1 + (int64_t)(seed >> 8) % seqs[0];
                        assert_int_equal(vg_outbox_delete_upto(ob, seqs[k], e,
                                                               sizeof(e)),
                                         VG_OK);
                        deleted = seqs[k];
                        model_drop(&model, (int)k);
                        /* the depth counts what is left, also of a chunk
                         * delivered in part */
                        assert_int_equal(vg_outbox_depth(ob), seqs[0] - k);
                        assert_int_equal(vg_outbox_depth(plain),
                                         seqs[0] - k);
                        partial += k < seqs[0] &&
                                   seqs[k] >> 16 == seqs[k + 1] >> 16;
                }
                /* every position: the same rows as the table */
                seqs[0] = 0;
                assert_true(vg_outbox_scan(plain, 0, MODEL_MAX, seqs_cb,
                                           seqs) >= 0);
                for (int64_t i = 0; i <= seqs[0] + 1; i++) {
                        int64_t pos[3];
                        int np = 0;
                        if (i == 0)
                                pos[np++] = deleted > 0 ? deleted - 1 : 0;
                        else if (i <= seqs[0]) {
                                pos[np++] = seqs[i] - 1;
                                pos[np++] = seqs[i];
                        } else
                                pos[np++] = (seqs[0] ? seqs[seqs[0]]
                                                     : deleted) + 1;
                        for (int j = 0; j < np; j++) {
                                rows_t a = {.len = 0}, b = {.len = 0};
                                int max = 1 + (int)((pos[j] + i) % 7);
                                int na = vg_outbox_scan(ob, pos[j], max,
                                                        rows_cb, &a);
                                int nb = vg_outbox_scan(plain, pos[j], max,
                                                        rows_cb, &b);
                                assert_int_equal(na, nb);
                                assert_string_equal(a.buf, b.buf);
                                cached_scans++;
                        }
                }
        }
        print_message("cache: %d scans equal, %d rollbacks, %d large "
                      "transactions, %d deletes inside a chunk, %d scans "
                      "inside a transaction; %d records left as the model "
                      "has them\n",
                      cached_scans, rollbacks, overflows, partial, inside,
                      model.n);
        assert_true(rollbacks > 10);
        assert_true(overflows > 10);
        assert_true(cached_scans > 2000);
        assert_true(partial > 10);
        assert_true(inside > 10);
        assert_true(resolved > 1000);
        model_drop(&model, model.n);
        vg_outbox_close(ob);
        vg_outbox_close(plain);
        sqlite3_close(db);
}

/*
 * References: a scan with no resolver, or whose resolver fails, fails
 * (nothing is handed over as a tombstone); a chunk whose record says both
 * "reference" and "value", or has a flag it does not know, is damaged.
 */
static void count_cb(const vg_outrec_t *r, void *opaque) {
        (void)r;
        (*(int *)opaque)++;
}

static void test_references(void **state) {
        sqlite3 *db;
        vg_outbox_t *ob;
        char e[512];
        int calls = 0, n = 0;
        rows_t rows = {.len = 0};
        (void)state;
        assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
        assert_non_null(ob = vg_outbox_open(db, e, sizeof(e)));
        assert_int_equal(vg_outbox_add(ob, "t", "a", 1, "1", 1, NULL, e,
                                       sizeof(e)), VG_OK);
        assert_int_equal(vg_outbox_add_ref(ob, "cl", 2, "p|x", 3, e,
                                           sizeof(e)), VG_OK);
        /* no resolver: the record before it is handed over, then -1 */
        assert_int_equal(vg_outbox_scan(ob, 0, 10, count_cb, &n), -1);
        assert_int_equal(n, 1);
        vg_outbox_set_resolver(ob, test_resolve, &calls);
        assert_int_equal(vg_outbox_scan(ob, 0, 10, rows_cb, &rows), 2);
        assert_non_null(strstr(rows.buf, "|cl|2|(none)|3:p|x|5:R:p|x|ref|"));
        assert_int_equal(calls, 1);
        /* made anew at every read */
        assert_int_equal(vg_outbox_scan(ob, 0, 10, count_cb, &n), 2);
        assert_int_equal(calls, 2);
        assert_int_equal(vg_outbox_add_ref(ob, "cl", 2, "fail", 4, e,
                                           sizeof(e)), VG_OK);
        n = 0;
        assert_int_equal(vg_outbox_scan(ob, 0, 10, count_cb, &n), -1);
        assert_int_equal(n, 2);
        assert_int_equal(sqlite3_exec(db, "DELETE FROM outbox_chunks", NULL,
                                      NULL, NULL), SQLITE_OK);
        /* flags 0x0a (value and reference), then 0x10 (unknown): each
         * chunk one record: partition 0, topic "t" */
        assert_int_equal(
                sqlite3_exec(db,
                             "INSERT INTO outbox_chunks(n,recs) VALUES(1,"
                             "X'0a000000000200000074000100000078')",
                             NULL, NULL, NULL),
                SQLITE_OK);
        n = 0;
        assert_int_equal(vg_outbox_scan(ob, 0, 10, count_cb, &n), -1);
        assert_int_equal(sqlite3_exec(db,
                                      "UPDATE outbox_chunks SET recs="
                                      "X'10000000000200000074'",
                                      NULL, NULL, NULL),
                         SQLITE_OK);
        assert_int_equal(vg_outbox_scan(ob, 0, 10, count_cb, &n), -1);
        /* the same record with flags 0x02 is a good one: the bytes
         * above are right but for the flags */
        assert_int_equal(sqlite3_exec(db,
                                      "UPDATE outbox_chunks SET recs="
                                      "X'02000000000200000074000100000078'",
                                      NULL, NULL, NULL),
                         SQLITE_OK);
        assert_int_equal(vg_outbox_scan(ob, 0, 10, count_cb, &n), 1);
        assert_int_equal(n, 1);
        vg_outbox_close(ob);
        sqlite3_close(db);
}

/*
 * A file of an earlier release (one row per record, with or without the
 * partition column): its rows are moved into chunks at open, in their
 * order, none lost, none changed, and the old table is gone.
 */
static void test_old_table_moved(void **state) {
        for (int with_part = 0; with_part < 2; with_part++) {
                sqlite3 *db;
                vg_outbox_t *ob;
                char e[512], sql[256];
                rows_t a = {.len = 0};
                sqlite3_stmt *s;
                (void)state;
                assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
                assert_int_equal(
                        sqlite3_exec(db,
                                     with_part
                                             ? "CREATE TABLE outbox(seq "
                                               "INTEGER PRIMARY KEY "
                                               "AUTOINCREMENT, topic TEXT NOT "
                                               "NULL, key BLOB, value BLOB, "
                                               "headers TEXT, part INTEGER)"
                                             : "CREATE TABLE outbox(seq "
                                               "INTEGER PRIMARY KEY "
                                               "AUTOINCREMENT, topic TEXT NOT "
                                               "NULL, key BLOB, value BLOB, "
                                               "headers TEXT)",
                                     NULL, NULL, NULL),
                        SQLITE_OK);
                /* 70,000 rows: more than one chunk holds */
                assert_int_equal(sqlite3_exec(db, "BEGIN", NULL, NULL, NULL),
                                 SQLITE_OK);
                snprintf(sql, sizeof(sql),
                         "INSERT INTO outbox(topic,key,value,headers%s) "
                         "VALUES(?,?,?,?%s)",
                         with_part ? ",part" : "", with_part ? ",?" : "");
                assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL),
                                 SQLITE_OK);
                for (int i = 0; i < 70000; i++) {
                        char k[16], v[16];
                        snprintf(k, sizeof(k), "k%d", i);
                        snprintf(v, sizeof(v), "v%d", i);
                        sqlite3_bind_text(s, 1, i % 2 ? "a" : "b", -1,
                                          SQLITE_TRANSIENT);
                        if (i % 3)
                                sqlite3_bind_blob(s, 2, k, (int)strlen(k),
                                                  SQLITE_TRANSIENT);
                        else
                                sqlite3_bind_null(s, 2);
                        if (i % 5)
                                sqlite3_bind_blob(s, 3, v, (int)strlen(v),
                                                  SQLITE_TRANSIENT);
                        else
                                sqlite3_bind_null(s, 3); /* a tombstone */
                        if (i % 7 == 0)
                                sqlite3_bind_text(s, 4, "{\"h\":\"1\"}",
                                                  -1, SQLITE_TRANSIENT);
                        else
                                sqlite3_bind_null(s, 4);
                        if (with_part)
                                sqlite3_bind_int(s, 5, i % 4);
                        assert_int_equal(sqlite3_step(s), SQLITE_DONE);
                        sqlite3_reset(s);
                        sqlite3_clear_bindings(s);
                }
                sqlite3_finalize(s);
                assert_int_equal(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL),
                                 SQLITE_OK);
                ob = vg_outbox_open(db, e, sizeof(e));
                assert_non_null(ob);
                assert_int_equal(vg_outbox_depth(ob), 70000);
                assert_int_not_equal(
                        sqlite3_exec(db, "SELECT 1 FROM outbox", NULL, NULL,
                                     NULL),
                        SQLITE_OK);
                /* records 0-2 and 69,998-69,999, as they were */
                assert_int_equal(vg_outbox_scan(ob, 0, 3, rows_cb, &a), 3);
                assert_non_null(strstr(a.buf, with_part
                                                      ? "|b|0|{\"h\":\"1\"}|"
                                                        "NULL|NULL|"
                                                      : "|b|-1|{\"h\":\"1\"}"
                                                        "|NULL|NULL|"));
                assert_non_null(strstr(a.buf, with_part
                                                      ? "|a|1|(none)|2:k1|2:v1|"
                                                      : "|a|-1|(none)|2:k1|"
                                                        "2:v1|"));
                assert_non_null(strstr(a.buf, with_part
                                                      ? "|b|2|(none)|2:k2|2:v2|"
                                                      : "|b|-1|(none)|2:k2|"
                                                        "2:v2|"));
                {
                        static int64_t seqs[1 + 70000];
                        rows_t last = {.len = 0};
                        seqs[0] = 0;
                        assert_int_equal(vg_outbox_scan(ob, 0, 70000, seqs_cb,
                                                        seqs),
                                         70000);
                        for (int i = 1; i < 70000; i++)
                                assert_true(seqs[i + 1] > seqs[i]);
                        /* seqs[i + 1] is record i */
                        assert_int_equal(vg_outbox_scan(ob, seqs[69998], 5,
                                                        rows_cb, &last),
                                         2);
                        assert_non_null(strstr(last.buf,
                                               "|(none)|6:k69998|6:v69998|"));
                        assert_non_null(strstr(last.buf,
                                               "|(none)|NULL|6:v69999|"));
                }
                vg_outbox_close(ob);
                sqlite3_close(db);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_failed_delivery_keeps_newest_last),
                cmocka_unit_test(test_permanent_failure_is_fatal),
                cmocka_unit_test(test_drain_fills_pipeline),
                cmocka_unit_test(test_cache_equals_table),
                cmocka_unit_test(test_old_table_moved),
                cmocka_unit_test(test_references),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
