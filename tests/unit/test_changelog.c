/*
 * test_changelog.c - a partition's changelog (vg_part_changelog.c) holds
 * its whole state: the records a part queues to it, restored into a fresh
 * part, give the same tables (patients, timers, counters, offsets, stream
 * time), whether restored at once or in two steps; the restored part goes
 * on exactly as the original does (same alerts, same changelog, same
 * figures); a file with state that was never logged logs all of it once;
 * a damaged or foreign record is refused with a clear error and changes
 * nothing. No Kafka: the changelog is the outbox rows of topic "cl", with
 * their index as offset.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>

#include "vg_partition.h"
#include "vg_record_json.h"
#include "vg_time.h"

#define CL "cl"
#define NPAT 60  /* patients of the story */
#define PARTN 3  /* the parts' partition number (not 0: a missing
                  * "partition" reads as 0) */

static vg_rules_conf_t rc;
static vg_codec_t *codec;
static vg_part_topics_t topics = {"alerts", "parts", "dlq"};
static char dir[64];
static int64_t T0; /* 2026-03-02T00:00:00Z */

#define MIN_ ((int64_t)60000)
#define HOUR_ (60 * MIN_)
#define DAY_ (24 * HOUR_)

/*
 * Outbox rows
 */

typedef struct rec_s {
        int64_t seq;
        char   *topic;
        char   *key;     /* NUL-terminated copy (keys here are text) */
        size_t  klen;
        void   *val;     /* NULL: a tombstone */
        size_t  vlen;
        int32_t part;
} rec_t;

typedef struct recs_s {
        rec_t  *r;
        int     n, cap;
        int64_t last_seq; /* scanned up to */
} recs_t;

static void rec_cb(const vg_outrec_t *o, void *opaque) {
        recs_t *rs = opaque;
        rec_t *r;
        if (rs->n == rs->cap) {
                rs->cap = rs->cap ? rs->cap * 2 : 256;
                rs->r = realloc(rs->r, sizeof(*rs->r) * (size_t)rs->cap);
        }
        assert_true(o->or_seq > rs->last_seq); /* in seq order */
        r = &rs->r[rs->n++];
        r->seq = o->or_seq;
        r->topic = strdup(o->or_topic);
        r->klen = o->or_key_len;
        r->key = calloc(1, o->or_key_len + 1);
        if (o->or_key_len)
                memcpy(r->key, o->or_key, o->or_key_len);
        r->vlen = o->or_value_len;
        r->val = NULL;
        if (o->or_value) {
                r->val = malloc(o->or_value_len + 1);
                if (o->or_value_len)
                        memcpy(r->val, o->or_value, o->or_value_len);
        }
        r->part = o->or_partition;
        rs->last_seq = o->or_seq;
}

/* Appends every row queued since the last call, in seq order. */
static void collect(vg_part_t *part, recs_t *rs) {
        int n;
        do {
                n = vg_part_outbox_scan(part, rs->last_seq, 500, rec_cb, rs);
                assert_true(n >= 0);
        } while (n == 500);
}

static void recs_free(recs_t *rs) {
        for (int i = 0; i < rs->n; i++) {
                free(rs->r[i].topic);
                free(rs->r[i].key);
                free(rs->r[i].val);
        }
        free(rs->r);
        memset(rs, 0, sizeof(*rs));
}

/* The changelog's records (topic "cl") among rs->r[from..], into cl;
 * every one goes to the part's partition, every other row to the
 * producer's partitioner. */
static void changelog_of(const recs_t *rs, int from, recs_t *cl) {
        for (int i = from; i < rs->n; i++) {
                const rec_t *r = &rs->r[i];
                vg_outrec_t o = {r->seq, r->topic, r->key, r->klen, r->val,
                                 r->vlen, NULL, r->part, false};
                if (strcmp(r->topic, CL)) {
                        assert_int_equal(r->part, -1);
                        continue;
                }
                assert_int_equal(r->part, PARTN);
                rec_cb(&o, cl);
        }
}

/*
 * The story: NPAT patients over 11 batches (admissions, discharges that
 * need a SIP within 72 hours, SIPs in time and late, deaths before a
 * deadline, cancellations, duplicates, register entries, readmissions,
 * and events of a "clock" patient that move the watermark past
 * deadlines).
 */

enum { TP_ADM, TP_DIS, TP_SIP, TP_DEATH, TP_REG, TP__CNT };
static const char *tp_name[TP__CNT] = {"in.admission", "in.discharge",
                                       "in.sip", "in.death", "in.register"};

typedef struct batch_s {
        vg_part_t *part;
        int64_t    offs[TP__CNT];
        int        events;
} batch_t;

static const char *kommun_of(int i) {
        static const char *k[] = {"0484", "0180", "0680", "1280"};
        return k[i % 4];
}

static void emit(batch_t *b, int tp, const char *json) {
        vg_event_t e;
        char err[512];
        vg_err_t rc_;
        if (vg_event_from_jsonl(json, strlen(json), &e, err, sizeof(err)))
                fail_msg("%s: %s", json, err);
        rc_ = vg_part_event(b->part, &e, err, sizeof(err));
        if (rc_ != VG_OK) /* the story has no record to refuse */
                fail_msg("%s: %s", json, err);
        vg_record_clear(e.ev_type, &e);
        b->offs[tp]++;
        b->events++;
}

#define COMMON_FMT                                                             \
        "{\"type\":\"%s\",\"event_id\":\"%s\",\"patient_id\":\"%s\","          \
        "\"occurred_at\":\"%s\",\"kommun\":\"%s\",\"source_system\":\"s\"%s"

static void common(char *buf, size_t size, const char *type, const char *id,
                   const char *pid, int64_t at, const char *kommun,
                   const char *cancels) {
        char t[VG_TIME_BUFSZ], c[128] = "";
        if (cancels)
                snprintf(c, sizeof(c), ",\"cancels_event_id\":\"%s\"",
                         cancels);
        snprintf(buf, size, COMMON_FMT, type, id, pid,
                 vg_time_format(at, t), kommun, c);
}

static void adm(batch_t *b, int i, const char *id, int64_t at,
                const char *stay, const char *cancels) {
        char pid[32], j[1024], c[512];
        snprintf(pid, sizeof(pid), "pat-%03d", i);
        common(c, sizeof(c), "admission", id, pid, at, kommun_of(i), cancels);
        snprintf(j, sizeof(j),
                 "%s,\"stay_id\":\"%s\",\"facility_id\":\"f\","
                 "\"care_setting\":\"HOSPITAL_INPATIENT\",\"planned\":false,"
                 "\"age_years\":%d,\"sex\":\"%s\",\"diagnosis_group\":"
                 "\"COPD\"}",
                 c, stay, 70 + i % 25, i % 2 ? "MALE" : "FEMALE");
        emit(b, TP_ADM, j);
}

static void dis(batch_t *b, int i, const char *id, int64_t at,
                const char *stay, const char *cancels) {
        char pid[32], j[1024], c[512];
        snprintf(pid, sizeof(pid), "pat-%03d", i);
        common(c, sizeof(c), "discharge", id, pid, at, kommun_of(i), cancels);
        snprintf(j, sizeof(j),
                 "%s,\"stay_id\":\"%s\",\"facility_id\":\"f\","
                 "\"care_setting\":\"HOSPITAL_INPATIENT\",\"disposition\":"
                 "\"HOME\",\"needs_coordination\":true}",
                 c, stay);
        emit(b, TP_DIS, j);
}

static void sip(batch_t *b, const char *pid, int i, const char *id,
                int64_t at, const char *cancels) {
        char j[1024], c[512];
        common(c, sizeof(c), "sip_created", id, pid, at, kommun_of(i),
               cancels);
        snprintf(j, sizeof(j), "%s,\"sip_id\":\"%s\"}", c, id);
        emit(b, TP_SIP, j);
}

static void psip(batch_t *b, int i, const char *id, int64_t at,
                 const char *cancels) {
        char pid[32];
        snprintf(pid, sizeof(pid), "pat-%03d", i);
        sip(b, pid, i, id, at, cancels);
}

static void death(batch_t *b, int i, const char *id, int64_t at,
                  const char *cancels) {
        char pid[32], j[1024], c[512];
        snprintf(pid, sizeof(pid), "pat-%03d", i);
        common(c, sizeof(c), "death", id, pid, at, kommun_of(i), cancels);
        snprintf(j, sizeof(j),
                 "%s,\"place_of_death\":\"HOME\",\"expected\":true,"
                 "\"age_years\":%d,\"sex\":\"%s\",\"diagnosis_group\":"
                 "\"COPD\"}",
                 c, 70 + i % 25, i % 2 ? "MALE" : "FEMALE");
        emit(b, TP_DEATH, j);
}

static void reg(batch_t *b, int i, const char *id, int64_t at,
                int64_t died) {
        char pid[32], j[2048], c[512], d[VG_TIME_BUFSZ];
        snprintf(pid, sizeof(pid), "pat-%03d", i);
        common(c, sizeof(c), "register_entry", id, pid, at, kommun_of(i),
               NULL);
        snprintf(j, sizeof(j),
                 "%s,\"death_at\":\"%s\",\"unit_id\":\"LIN\","
                 "\"expected\":true,\"eol_conversation\":\"YES\","
                 "\"pain_assessed\":\"YES\",\"symptoms_assessed\":\"NO\","
                 "\"oral_health_assessed\":\"YES\",\"prn_opioid\":\"YES\","
                 "\"prn_anxiolytic\":\"NO\",\"prn_antiemetic\":\"YES\","
                 "\"prn_antisecretory\":\"YES\",\"present_at_death\":\"NO\","
                 "\"bereavement_offered\":\"YES\",\"pressure_ulcer\":"
                 "\"NONE\"}",
                 c, vg_time_format(died, d));
        emit(b, TP_REG, j);
}

/* An event of the clock patient (moves the watermark to at). */
static void clock_(batch_t *b, int n, int64_t at) {
        char id[32];
        snprintf(id, sizeof(id), "clk-%d", n);
        sip(b, "clock", 0, id, at, NULL);
}

#define ID(fmt, i) (snprintf(id, sizeof(id), fmt, (i)), id)

static void story(batch_t *b, int n) {
        char id[64], id2[64];
        for (int i = 0; i < NPAT; i++) {
                int64_t o = i * 10 * MIN_;
                switch (n) {
                case 0: /* admitted */
                        adm(b, i, ID("a-%d", i), T0 + o, ID("s-%d", i), NULL);
                        break;
                case 1: /* discharged home, needing a SIP within 72 h */
                        dis(b, i, ID("d-%d", i), T0 + DAY_ + o,
                            ID("s-%d", i), NULL);
                        if (i % 9 == 0) /* a duplicate */
                                adm(b, i, ID("a-%d", i), T0 + o,
                                    (snprintf(id2, sizeof(id2), "s-%d", i),
                                     id2),
                                    NULL);
                        break;
                case 2:
                        if (i % 3 == 0) /* a SIP in time */
                                psip(b, i, ID("x-%d", i), T0 + 2 * DAY_ + o,
                                     NULL);
                        if (i % 7 == 0) /* died before the deadline */
                                death(b, i, ID("m-%d", i),
                                      T0 + 2 * DAY_ + 5 * HOUR_, NULL);
                        if (i % 5 == 0) { /* the discharge cancelled */
                                snprintf(id2, sizeof(id2), "d-%d", i);
                                dis(b, i, ID("cd-%d", i), T0 + 2 * DAY_ + o,
                                    "s-x", id2);
                        }
                        break;
                case 3: /* readmissions; the watermark passes deadlines */
                        if (i % 10 == 1)
                                adm(b, i, ID("a2-%d", i), T0 + 5 * DAY_ + o,
                                    ID("s2-%d", i), NULL);
                        break;
                case 4:
                        if (i % 4 == 1) /* late SIPs: alerts retracted */
                                psip(b, i, ID("y-%d", i), T0 + 3 * DAY_ + o,
                                     NULL);
                        if (i % 10 == 1)
                                dis(b, i, ID("d2-%d", i), T0 + 6 * DAY_ + o,
                                    ID("s2-%d", i), NULL);
                        break;
                case 5:
                        if (i % 7 == 3)
                                death(b, i, ID("m-%d", i), T0 + 8 * DAY_ + o,
                                      NULL);
                        if (i % 14 == 3)
                                reg(b, i, ID("r-%d", i), T0 + 9 * DAY_ + o,
                                    T0 + 8 * DAY_ + o);
                        break;
                case 6:
                        if (i % 14 == 10) { /* a death cancelled */
                                snprintf(id2, sizeof(id2), "m-%d", i);
                                death(b, i, ID("cm-%d", i),
                                      T0 + 10 * DAY_ + o, id2);
                        }
                        if (i % 6 == 0) { /* a SIP cancelled: overdue now */
                                snprintf(id2, sizeof(id2), "x-%d", i);
                                psip(b, i, ID("cx-%d", i),
                                     T0 + 10 * DAY_ + o, id2);
                        }
                        break;
                case 7: /* new stays: timers pending at the restore */
                        if (i % 11 == 2) {
                                adm(b, i, ID("a4-%d", i),
                                    T0 + 44 * DAY_ + o, ID("s4-%d", i), NULL);
                                dis(b, i, ID("d4-%d", i),
                                    T0 + 45 * DAY_ + o, ID("s4-%d", i), NULL);
                        }
                        break;
                case 8: /* after the restore */
                        if (i % 4 == 0 && i % 3 && i % 5 && i % 7)
                                psip(b, i, ID("z-%d", i), T0 + 3 * DAY_ + o,
                                     NULL); /* retracts an alert of before */
                        if (i % 14 == 10) /* registered at last */
                                reg(b, i, ID("r-%d", i), T0 + 46 * DAY_ + o,
                                    T0 + 8 * DAY_ + o);
                        if (i % 8 == 5) {
                                adm(b, i, ID("a3-%d", i),
                                    T0 + 46 * DAY_ + o, ID("s3-%d", i), NULL);
                                dis(b, i, ID("d3-%d", i),
                                    T0 + 47 * DAY_ + o, ID("s3-%d", i), NULL);
                        }
                        break;
                case 9:
                        if (i % 16 == 5) /* a SIP in time for some */
                                psip(b, i, ID("w-%d", i),
                                     T0 + 48 * DAY_ + o, NULL);
                        if (i % 7 == 5)
                                death(b, i, ID("m9-%d", i),
                                      T0 + 49 * DAY_ + o, NULL);
                        break;
                case 10:
                        if (i % 7 == 5 && i % 2) {
                                snprintf(id2, sizeof(id2), "m9-%d", i);
                                death(b, i, ID("cm9-%d", i),
                                      T0 + 52 * DAY_ + o, id2);
                        }
                        break;
                default:
                        break;
                }
        }
        switch (n) {
        case 3: clock_(b, 3, T0 + 5 * DAY_); break;
        case 5: clock_(b, 5, T0 + 9 * DAY_); break;
        case 7: clock_(b, 7, T0 + 45 * DAY_); break;
        case 9: clock_(b, 9, T0 + 51 * DAY_); break;
        case 10: clock_(b, 10, T0 + 80 * DAY_); break;
        default: break;
        }
}

/* Applies batch n of the story in one transaction (now: wall clock). */
static void run_batch_offs(vg_part_t *part, int n, int64_t *offs) {
        batch_t b = {part, {0}, 0};
        char err[512];
        memcpy(b.offs, offs, sizeof(b.offs));
        assert_int_equal(vg_part_begin(part, 1000 + n, err, sizeof(err)),
                         VG_OK);
        story(&b, n);
        for (int t = 0; t < TP__CNT; t++)
                if (b.offs[t] != offs[t])
                        assert_int_equal(vg_part_set_offset(part, tp_name[t],
                                                            b.offs[t], err,
                                                            sizeof(err)),
                                         VG_OK);
        memcpy(offs, b.offs, sizeof(b.offs));
        vg_part_end_of_input(part);
        if (vg_part_commit(part, err, sizeof(err)))
                fail_msg("batch %d: %s", n, err);
}

/*
 * Parts and their tables
 */

static vg_part_t *open_part(const char *name) {
        char path[256], err[512];
        vg_part_t *part;
        snprintf(path, sizeof(path), "%s/%s.db", dir, name);
        part = vg_part_open(path, PARTN, &rc, codec, &topics, err,
                            sizeof(err));
        if (!part)
                fail_msg("%s", err);
        return part;
}

static void appendf(char **s, size_t *len, size_t *cap, const char *fmt,
                    ...) {
        va_list ap;
        int n;
        for (;;) {
                va_start(ap, fmt);
                n = vsnprintf(*s + *len, *cap - *len, fmt, ap);
                va_end(ap);
                if ((size_t)n < *cap - *len)
                        break;
                *cap = *cap * 2 + (size_t)n;
                *s = realloc(*s, *cap);
        }
        *len += (size_t)n;
}

/* The state tables of a part's file, read through a connection of our
 * own, one line per row: patients (id, state), timers, cells (key, num,
 * den, count), offsets, and the meta rows of stream time. */
static char *snap(const char *name) {
        static const char *q[] = {
                "SELECT 'P', patient_id, hex(state) FROM patients ORDER BY 2",
                "SELECT 'T', patient_id, due FROM timers ORDER BY 2",
                "SELECT 'C', key, num || '/' || den || '/' || count FROM "
                "cells ORDER BY 2",
                "SELECT 'O', topic, next_offset FROM offsets ORDER BY 2",
                "SELECT 'M', key, value FROM meta WHERE key IN ('watermark',"
                "'data_since','partition','schema_version') OR key LIKE "
                "'topic_time.%' ORDER BY 2",
        };
        char path[256];
        sqlite3 *db;
        size_t len = 0, cap = 4096;
        char *s = malloc(cap);
        s[0] = '\0';
        snprintf(path, sizeof(path), "%s/%s.db", dir, name);
        assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY,
                                         NULL),
                         SQLITE_OK);
        for (size_t i = 0; i < sizeof(q) / sizeof(q[0]); i++) {
                sqlite3_stmt *st;
                assert_int_equal(sqlite3_prepare_v2(db, q[i], -1, &st, NULL),
                                 SQLITE_OK);
                while (sqlite3_step(st) == SQLITE_ROW)
                        appendf(&s, &len, &cap, "%s|%s|%s\n",
                                sqlite3_column_text(st, 0),
                                sqlite3_column_text(st, 1),
                                sqlite3_column_text(st, 2));
                sqlite3_finalize(st);
        }
        sqlite3_close(db);
        return s;
}

static int64_t query_int(const char *name, const char *sql) {
        char path[256];
        sqlite3 *db;
        sqlite3_stmt *st;
        int64_t v = -1;
        snprintf(path, sizeof(path), "%s/%s.db", dir, name);
        assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY,
                                         NULL),
                         SQLITE_OK);
        assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL),
                         SQLITE_OK);
        if (sqlite3_step(st) == SQLITE_ROW)
                v = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
        sqlite3_close(db);
        return v;
}

/* s holds line (a whole line). */
static bool has_line(const char *s, const char *line) {
        size_t l = strlen(line);
        for (const char *p = s; *p; p = strchr(p, '\n') + 1)
                if (!strncmp(p, line, l) && p[l] == '\n')
                        return true;
        return false;
}

static int count_lines(const char *s, char kind) {
        int n = 0;
        for (const char *p = s; *p; p = strchr(p, '\n') + 1)
                if (*p == kind)
                        n++;
        return n;
}

/* Fails with the first line that differs. */
#define same_snap(a, b, what) same_snap_at((a), (b), (what), __FILE__, __LINE__)
static void same_snap_at(const char *a, const char *b, const char *what,
                         const char *file, int line) {
        const char *pa = a, *pb = b;
        int ln = 1;
        if (!strcmp(a, b))
                return;
        while (*pa && *pb) {
                const char *ea = strchr(pa, '\n'), *eb = strchr(pb, '\n');
                if (ea - pa != eb - pb || memcmp(pa, pb, (size_t)(ea - pa)))
                        break;
                pa = ea + 1;
                pb = eb + 1;
                ln++;
        }
        print_error("%s: line %d differs:\n  expected: %.200s\n  got:      "
                    "%.200s\n", what, ln, *pa ? pa : "(end)",
                    *pb ? pb : "(end)");
        _fail(file, line);
}

typedef struct cells_s {
        char  *s;
        size_t len, cap;
} cells_t;

static void cells_cb(const char *key, int64_t num, int64_t den, bool count,
                     void *opaque) {
        cells_t *c = opaque;
        appendf(&c->s, &c->len, &c->cap, "%s=%lld/%lld%s\n", key,
                (long long)num, (long long)den, count ? "c" : "");
}

/* The counters as the part holds them in memory. */
static char *mem_cells(vg_part_t *part) {
        cells_t c = {malloc(4096), 0, 4096};
        c.s[0] = '\0';
        vg_part_cells(part, cells_cb, &c);
        return c.s;
}

/* The part's counters in memory are still cells (mem_cells). */
static void same_memory_as(vg_part_t *part, const char *cells) {
        char *c = mem_cells(part);
        same_snap(cells, c, "counters in memory");
        free(c);
}

static void same_memory(vg_part_t *a, vg_part_t *b) {
        char *ca = mem_cells(a), *cb = mem_cells(b);
        assert_int_equal(vg_part_watermark(a), vg_part_watermark(b));
        assert_int_equal(vg_part_data_since(a), vg_part_data_since(b));
        for (int t = 0; t < VG_EVENT_TYPES; t++)
                assert_int_equal(vg_part_wm(a)->wm_topics[t].wt_time,
                                 vg_part_wm(b)->wm_topics[t].wt_time);
        for (int t = 0; t < TP__CNT; t++)
                assert_int_equal(vg_part_offset(a, tp_name[t]),
                                 vg_part_offset(b, tp_name[t]));
        same_snap(ca, cb, "counters in memory");
        free(ca);
        free(cb);
}

/* Restores cl->r[from..to) into part; the changelog's end: to. */
static vg_err_t restore(vg_part_t *part, const recs_t *cl, int from, int to,
                        char *err, size_t errsz) {
        vg_err_t e;
        if ((e = vg_part_restore_begin(part, err, errsz)))
                return e;
        for (int i = from; i < to; i++)
                if ((e = vg_part_restore_row(part, cl->r[i].key,
                                             cl->r[i].klen, cl->r[i].val,
                                             cl->r[i].vlen, err, errsz)))
                        return e;
        return vg_part_restore_end(part, to, err, errsz);
}

/*
 * Part A: the story's first 8 batches, logged to CL; after each batch its
 * tables (snap) and where its changelog records end.
 */
typedef struct story_s {
        vg_part_t *a;
        recs_t     rows;         /* every outbox row */
        recs_t     cl;           /* its changelog records */
        char      *snaps[8];     /* A's tables after batch n */
        int        cl_end[8];    /* changelog records after batch n */
        int64_t    offs[TP__CNT];
} story_t;

static void story_run(story_t *s, const char *name, int batches) {
        memset(s, 0, sizeof(*s));
        s->a = open_part(name);
        vg_part_set_changelog(s->a, CL);
        assert_false(vg_part_changelog_pending(s->a)); /* a new file */
        for (int n = 0; n < batches; n++) {
                int from = s->rows.n;
                run_batch_offs(s->a, n, s->offs);
                collect(s->a, &s->rows);
                changelog_of(&s->rows, from, &s->cl);
                /* a batch's records end with its meta record */
                assert_true(s->cl.n > 0);
                assert_string_equal(s->cl.r[s->cl.n - 1].key, "m");
                s->cl_end[n] = s->cl.n;
                s->snaps[n] = snap(name);
        }
}

static void story_free(story_t *s) {
        vg_part_close(s->a);
        recs_free(&s->rows);
        recs_free(&s->cl);
        for (int i = 0; i < 8; i++)
                free(s->snaps[i]);
}

/* Every patient record of rs (key "p|<id>") against the patients and
 * timers tables of file name as a connection of our own reads them
 * (committed rows): value 01, next due (big-endian; 2^63-1: no timer),
 * the stored state. Returns how many were compared. */
static int patient_records_committed(const recs_t *rs, const char *name) {
        char path[256];
        sqlite3 *db;
        sqlite3_stmt *st;
        int n = 0;
        snprintf(path, sizeof(path), "%s/%s.db", dir, name);
        assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY,
                                         NULL),
                         SQLITE_OK);
        assert_int_equal(
                sqlite3_prepare_v2(db,
                                   "SELECT p.state, coalesce(t.due, "
                                   "9223372036854775807) FROM patients p "
                                   "LEFT JOIN timers t USING (patient_id) "
                                   "WHERE p.patient_id=?",
                                   -1, &st, NULL),
                SQLITE_OK);
        for (int i = 0; i < rs->n; i++) {
                const rec_t *r = &rs->r[i];
                const unsigned char *v = r->val;
                uint64_t due = 0;
                if (strcmp(r->topic, CL) || strncmp(r->key, "p|", 2))
                        continue;
                sqlite3_bind_text(st, 1, r->key + 2, -1, SQLITE_STATIC);
                assert_int_equal(sqlite3_step(st), SQLITE_ROW);
                assert_non_null(v);
                assert_true(r->vlen >= 9);
                assert_int_equal(v[0], 1);
                for (int k = 1; k <= 8; k++)
                        due = due << 8 | v[k];
                assert_int_equal((int64_t)due, sqlite3_column_int64(st, 1));
                assert_int_equal(r->vlen - 9,
                                 (size_t)sqlite3_column_bytes(st, 0));
                if (memcmp(v + 9, sqlite3_column_blob(st, 0), r->vlen - 9))
                        fail_msg("%s: the record is not the committed "
                                 "state", r->key);
                sqlite3_reset(st);
                n++;
        }
        sqlite3_finalize(st);
        sqlite3_close(db);
        return n;
}

/*
 * A patient's changelog record is queued as a reference and made when the
 * outbox is read, from the state the last commit wrote: read while an
 * open batch has changed the patient again, or once the patient has left
 * the memory cache, it is still exactly the committed rows.
 */
static void test_records_are_committed_state(void **state) {
        vg_part_t *part = open_part("refs");
        int64_t offs[TP__CNT] = {0};
        recs_t rs = {0};
        batch_t b = {part, {0}, 0};
        char err[512];
        int n;
        (void)state;
        vg_part_set_changelog(part, CL);
        run_batch_offs(part, 0, offs); /* admissions */
        collect(part, &rs);
        assert_int_equal(patient_records_committed(&rs, "refs"), NPAT);
        /* batch 1 open: every patient changed again, not committed */
        assert_int_equal(vg_part_begin(part, 2000, err, sizeof(err)), VG_OK);
        story(&b, 1);
        recs_free(&rs);
        collect(part, &rs);
        assert_int_equal(patient_records_committed(&rs, "refs"), NPAT);
        vg_part_end_of_input(part);
        assert_int_equal(vg_part_commit(part, err, sizeof(err)), VG_OK);
        /* committed: every record (batch 0's too) is batch 1's state now */
        recs_free(&rs);
        collect(part, &rs);
        assert_int_equal(patient_records_committed(&rs, "refs"), 2 * NPAT);
        /* most patients out of memory: read from the store */
        vg_part_set_cache(part, 2);
        run_batch_offs(part, 2, offs);
        recs_free(&rs);
        collect(part, &rs);
        n = patient_records_committed(&rs, "refs");
        assert_true(n > 2 * NPAT);
        print_message("    %d patient records compared with the committed "
                      "rows\n", n);
        recs_free(&rs);
        vg_part_close(part);
}

static void set_schema(const char *name, int v) {
        char path[256], sql[96];
        sqlite3 *db;
        snprintf(path, sizeof(path), "%s/%s.db", dir, name);
        snprintf(sql, sizeof(sql),
                 "UPDATE meta SET value=%d WHERE key='schema_version'", v);
        assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
        assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_changes(db), 1);
        sqlite3_close(db);
}

/* Schema 4 is 3 with references in the outbox: a file of 3 opens as it
 * is and says 4 after its next commit; 2 and 5 are refused. */
static void test_schema_versions(void **state) {
        vg_part_t *part = open_part("schema");
        int64_t offs[TP__CNT] = {0};
        char path[256], err[512];
        (void)state;
        run_batch_offs(part, 0, offs);
        vg_part_close(part);
        assert_int_equal(query_int("schema", "SELECT value FROM meta WHERE "
                                             "key='schema_version'"), 4);
        snprintf(path, sizeof(path), "%s/schema.db", dir);
        for (int v = 2; v <= 5; v += 3) {
                set_schema("schema", v);
                assert_null(vg_part_open(path, PARTN, &rc, codec, &topics,
                                         err, sizeof(err)));
                assert_non_null(strstr(err, "is not one this release opens "
                                            "(3-4)"));
        }
        set_schema("schema", 3);
        part = open_part("schema");
        run_batch_offs(part, 1, offs);
        vg_part_close(part);
        assert_int_equal(query_int("schema", "SELECT value FROM meta WHERE "
                                             "key='schema_version'"), 4);
}

/* A state records the rules.* settings it was built with (in its file and
 * in the changelog's "m" records); a process with others refuses it,
 * naming what differs: its results and new ones would mix two rule books,
 * and a member's own settings would decide the partitions it takes over
 * (an attack found both: RUNBOOK §9's replay after a rules change
 * restored the old state from the changelog without a word). A file of
 * an earlier release, without them, takes this process's. */
static void test_rules_settings(void **state) {
        story_t s;
        vg_rules_conf_t rc2 = rc;
        vg_part_t *b;
        char path[256], err[512];
        sqlite3 *db;
        (void)state;
        rc2.rc_window_days = 10;
        rc2.rc_sip_deadline_ms = 24 * VG_MS_PER_HOUR;
        story_run(&s, "rules-a", 2);
        vg_part_close(s.a);
        s.a = NULL;
        snprintf(path, sizeof(path), "%s/rules-a.db", dir);
        assert_null(vg_part_open(path, PARTN, &rc2, codec, &topics, err,
                                 sizeof(err)));
        assert_non_null(strstr(err, "rules-a.db holds a state built with "
                                    "other settings (window_days 30 -> 10, "
                                    "sip_deadline_hours 72 -> 24)"));
        assert_non_null(strstr(err, "RUNBOOK"));
        s.a = open_part("rules-a"); /* (its own settings: opens) */
        /* restored from the changelog */
        snprintf(path, sizeof(path), "%s/rules-b.db", dir);
        b = vg_part_open(path, PARTN, &rc2, codec, &topics, err,
                         sizeof(err));
        assert_non_null(b);
        vg_part_set_changelog(b, CL);
        assert_int_not_equal(restore(b, &s.cl, 0, s.cl.n, err, sizeof(err)),
                             VG_OK);
        assert_non_null(strstr(err, "changelog " CL " holds a state built "
                                    "with other settings (window_days 30 "
                                    "-> 10"));
        vg_part_close(b);
        /* an earlier release's file: no settings recorded */
        snprintf(path, sizeof(path), "%s/rules-a.db", dir);
        vg_part_close(s.a);
        s.a = NULL;
        assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
        assert_int_equal(sqlite3_exec(db, "DELETE FROM meta WHERE "
                                          "key='rules'", NULL, NULL, NULL),
                         SQLITE_OK);
        assert_int_equal(sqlite3_changes(db), 1);
        sqlite3_close(db);
        b = vg_part_open(path, PARTN, &rc2, codec, &topics, err,
                         sizeof(err));
        if (!b)
                fail_msg("%s", err);
        vg_part_close(b);
        assert_null(vg_part_open(path, PARTN, &rc, codec, &topics, err,
                                 sizeof(err)));
        assert_non_null(strstr(err, "window_days 10 -> 30"));
        story_free(&s);
}

static void test_restore_whole(void **state) {
        story_t s;
        vg_part_t *b;
        char err[512], *sb;
        int np = 0, nc = 0, nm = 0, ncells;
        const vg_part_stats_t *st;
        (void)state;
        story_run(&s, "whole-a", 8);
        st = vg_part_stats(s.a);
        /* the story does what it says */
        print_message("    %d changelog records of %d outbox rows; %lld "
                      "events, %lld cancellations, %lld duplicates, %lld "
                      "timer re-derivations, alerts SIP %lld/%lld, "
                      "register %lld/%lld\n",
                      s.cl.n, s.rows.n, (long long)st->ps_events,
                      (long long)st->ps_cancellations,
                      (long long)st->ps_duplicates, (long long)st->ps_timers,
                      (long long)st->ps_alerts[VG_RULE_SIP_OVERDUE][0],
                      (long long)st->ps_alerts[VG_RULE_SIP_OVERDUE][1],
                      (long long)st->ps_alerts[VG_RULE_DEATH_NOT_REGISTERED]
                                              [0],
                      (long long)st->ps_alerts[VG_RULE_DEATH_NOT_REGISTERED]
                                              [1]);
        assert_true(st->ps_cancellations > 0);
        assert_true(st->ps_duplicates > 0);
        assert_true(st->ps_timers > 0);
        assert_true(st->ps_alerts[VG_RULE_SIP_OVERDUE][VG_STATUS_ACTIVE] >
                    0);
        assert_true(st->ps_alerts[VG_RULE_SIP_OVERDUE][VG_STATUS_RETRACTED] >
                    0);
        assert_true(st->ps_alerts[VG_RULE_DEATH_NOT_REGISTERED]
                                 [VG_STATUS_ACTIVE] > 0);
        for (int i = 0; i < s.cl.n; i++) {
                np += s.cl.r[i].key[0] == 'p';
                nc += s.cl.r[i].key[0] == 'c';
                nm += !strcmp(s.cl.r[i].key, "m");
                assert_non_null(s.cl.r[i].val); /* no tombstones */
        }
        assert_int_equal(nm, 8); /* one per batch */
        assert_int_equal(np + nc + nm, s.cl.n);
        /* A's state at the end is not trivial */
        assert_int_equal(count_lines(s.snaps[7], 'P'), NPAT + 1);
        assert_true(count_lines(s.snaps[7], 'T') > 0);
        ncells = count_lines(s.snaps[7], 'C');
        assert_true(ncells > 50);

        b = open_part("whole-b");
        vg_part_set_changelog(b, CL);
        assert_int_equal(vg_part_changelog_end(b), -1);
        if (restore(b, &s.cl, 0, s.cl.n, err, sizeof(err)))
                fail_msg("restore: %s", err);
        sb = snap("whole-b");
        same_snap(s.snaps[7], sb, "restored tables");
        /* every counter comes back pending: its part is sent again */
        assert_int_equal(query_int("whole-b", "SELECT count(*) FROM cells "
                                              "WHERE pending=1"),
                         ncells);
        assert_int_equal(query_int("whole-a", "SELECT count(*) FROM cells "
                                              "WHERE pending=1"),
                         0);
        assert_int_equal(vg_part_changelog_end(b), s.cl.n);
        assert_false(vg_part_changelog_pending(b));
        same_memory(s.a, b);
        /* and after a reopen */
        vg_part_close(b);
        b = open_part("whole-b");
        vg_part_set_changelog(b, CL);
        assert_false(vg_part_changelog_pending(b)); /* logged to CL */
        assert_int_equal(vg_part_changelog_end(b), s.cl.n);
        same_memory(s.a, b);
        /* another changelog: its end is unknown */
        vg_part_set_changelog(b, "cl2");
        assert_int_equal(vg_part_changelog_end(b), -1);
        vg_part_close(b);
        free(sb);
        story_free(&s);
}

/* A new part name, restored from the whole of s's changelog. */
static vg_part_t *restored_part(const char *name, const story_t *s) {
        char err[512];
        vg_part_t *p = open_part(name);
        vg_part_set_changelog(p, CL);
        if (restore(p, &s->cl, 0, s->cl.n, err, sizeof(err)))
                fail_msg("restore: %s", err);
        return p;
}

/* A restore writes patient rows: the part, opened on an empty file, no
 * longer takes a patient it has not cached for a new one. Batch 0 again
 * (every patient's admission) is all duplicates, each looked up. */
static void test_restore_then_events(void **state) {
        story_t s;
        vg_part_t *c;
        int64_t offs[TP__CNT] = {0};
        (void)state;
        story_run(&s, "rte-a", 2);
        c = restored_part("rte-c", &s);
        run_batch_offs(c, 0, offs);
        assert_int_equal(vg_part_stats(c)->ps_events, NPAT);
        assert_int_equal(vg_part_stats(c)->ps_duplicates, NPAT);
        assert_int_equal(vg_part_stats(c)->ps_lookups, NPAT);
        vg_part_close(c);
        story_free(&s);
}

static void test_restore_incremental(void **state) {
        story_t s;
        vg_part_t *c;
        char err[512], *sc;
        (void)state;
        story_run(&s, "inc-a", 8);
        for (int k = 0; k < 7; k++) {
                char name[32];
                snprintf(name, sizeof(name), "inc-c%d", k);
                c = open_part(name);
                vg_part_set_changelog(c, CL);
                /* up to batch k's meta record: A as of batch k */
                if (restore(c, &s.cl, 0, s.cl_end[k], err, sizeof(err)))
                        fail_msg("restore to batch %d: %s", k, err);
                assert_int_equal(vg_part_changelog_end(c), s.cl_end[k]);
                sc = snap(name);
                same_snap(s.snaps[k], sc, "restored prefix");
                free(sc);
                /* the rest, as a second restore on top */
                if (restore(c, &s.cl, vg_part_changelog_end(c), s.cl.n, err,
                            sizeof(err)))
                        fail_msg("restore from batch %d: %s", k, err);
                assert_int_equal(vg_part_changelog_end(c), s.cl.n);
                sc = snap(name);
                same_snap(s.snaps[7], sc, "restored in two steps");
                free(sc);
                same_memory(s.a, c);
                vg_part_close(c);
        }
        /* a standby: checkpoints batch by batch (memory not reloaded),
         * then an end without records */
        c = open_part("inc-standby");
        vg_part_set_changelog(c, CL);
        for (int k = 0, from = 0; k < 8; from = s.cl_end[k], k++) {
                assert_int_equal(vg_part_restore_begin(c, err, sizeof(err)),
                                 VG_OK);
                for (int i = from; i < s.cl_end[k]; i++)
                        if (vg_part_restore_row(c, s.cl.r[i].key,
                                                s.cl.r[i].klen, s.cl.r[i].val,
                                                s.cl.r[i].vlen, err,
                                                sizeof(err)))
                                fail_msg("standby, batch %d: %s", k, err);
                if (vg_part_restore_checkpoint(c, s.cl_end[k], err,
                                               sizeof(err)))
                        fail_msg("standby, batch %d: %s", k, err);
                assert_int_equal(vg_part_changelog_end(c), s.cl_end[k]);
                sc = snap("inc-standby");
                same_snap(s.snaps[k], sc, "standby checkpoint");
                free(sc);
        }
        assert_int_equal(vg_part_restore_begin(c, err, sizeof(err)), VG_OK);
        assert_int_equal(vg_part_restore_end(c, s.cl.n, err, sizeof(err)),
                         VG_OK);
        same_memory(s.a, c);
        vg_part_close(c);
        story_free(&s);
}

/* Rows of topic among rs->r[from..], as "key=hex(value)" lines. */
static char *rows_of(const recs_t *rs, int from, const char *topic) {
        size_t len = 0, cap = 4096;
        char *s = malloc(cap);
        s[0] = '\0';
        for (int i = from; i < rs->n; i++) {
                const rec_t *r = &rs->r[i];
                if (strcmp(r->topic, topic))
                        continue;
                appendf(&s, &len, &cap, "%s=", r->key);
                if (!r->val)
                        appendf(&s, &len, &cap, "(null)");
                for (size_t j = 0; r->val && j < r->vlen; j++)
                        appendf(&s, &len, &cap, "%02x",
                                ((unsigned char *)r->val)[j]);
                appendf(&s, &len, &cap, "\n");
        }
        return s;
}

static int64_t alerts_of(const vg_part_stats_t *st, int status) {
        int64_t n = 0;
        for (int r = 0; r < 4; r++)
                n += st->ps_alerts[r][status];
        return n;
}

static void test_restored_goes_on_alike(void **state) {
        story_t s;
        vg_part_t *b;
        recs_t rb = {0};
        char *ra, *rbs, *sa, *sb;
        int a_from;
        int64_t boffs[TP__CNT], a0[2], b0[2];
        (void)state;
        story_run(&s, "eq-a", 8);
        b = restored_part("eq-b", &s);
        memcpy(boffs, s.offs, sizeof(boffs));
        a_from = s.rows.n;
        for (int st = 0; st < 2; st++) {
                a0[st] = alerts_of(vg_part_stats(s.a), st);
                b0[st] = alerts_of(vg_part_stats(b), st);
        }
        for (int n = 8; n < 11; n++) {
                run_batch_offs(s.a, n, s.offs);
                run_batch_offs(b, n, boffs);
        }
        collect(s.a, &s.rows);
        collect(b, &rb);
        for (int st = 0; st < 2; st++) {
                int64_t na = alerts_of(vg_part_stats(s.a), st) - a0[st];
                int64_t nb = alerts_of(vg_part_stats(b), st) - b0[st];
                print_message("    status %d: %lld alerts after the restore "
                              "(original %lld)\n", st, (long long)nb,
                              (long long)na);
                assert_true(na > 0); /* raised and retracted, both */
                assert_int_equal(na, nb);
        }
        /* the same alerts, byte for byte, in the same order */
        ra = rows_of(&s.rows, a_from, "alerts");
        rbs = rows_of(&rb, 0, "alerts");
        assert_true(strlen(ra) > 0);
        same_snap(ra, rbs, "alerts after the restore");
        free(ra);
        free(rbs);
        /* the same changelog records */
        ra = rows_of(&s.rows, a_from, CL);
        rbs = rows_of(&rb, 0, CL);
        same_snap(ra, rbs, "changelog after the restore");
        free(ra);
        free(rbs);
        /* the same dead letters (none expected, but alike) */
        ra = rows_of(&s.rows, a_from, "dlq");
        rbs = rows_of(&rb, 0, "dlq");
        same_snap(ra, rbs, "dead letters after the restore");
        free(ra);
        free(rbs);
        /* the same tables and figures */
        sa = snap("eq-a");
        sb = snap("eq-b");
        same_snap(sa, sb, "tables after further batches");
        same_memory(s.a, b);
        /* B's first commit sent every part again, none is pending now */
        assert_int_equal(query_int("eq-b", "SELECT count(*) FROM cells "
                                           "WHERE pending=1"),
                         0);
        free(sa);
        free(sb);
        recs_free(&rb);
        vg_part_close(b);
        story_free(&s);
}

/* A file with state committed without a changelog logs all of it in its
 * next commit, once. */
static void test_whole_state_dump(void **state) {
        vg_part_t *d, *e;
        recs_t rows = {0}, cl = {0};
        int64_t offs[TP__CNT] = {0}, npat, ncell, wm;
        char err[512], *before, *after, *sd, *se;
        int np = 0, nc = 0, nm = 0, from;
        (void)state;
        d = open_part("dump-d");
        for (int n = 0; n < 4; n++)
                run_batch_offs(d, n, offs);
        collect(d, &rows);
        for (int i = 0; i < rows.n; i++)
                assert_string_not_equal(rows.r[i].topic, CL);
        /* logged from now on: all of it in the next commit */
        vg_part_set_changelog(d, CL);
        assert_true(vg_part_changelog_pending(d));
        from = rows.n;
        run_batch_offs(d, 4, offs);
        assert_false(vg_part_changelog_pending(d));
        collect(d, &rows);
        changelog_of(&rows, from, &cl);
        npat = query_int("dump-d", "SELECT count(*) FROM patients");
        ncell = query_int("dump-d", "SELECT count(*) FROM cells");
        for (int i = 0; i < cl.n; i++) {
                np += cl.r[i].key[0] == 'p';
                nc += cl.r[i].key[0] == 'c';
                nm += !strcmp(cl.r[i].key, "m");
                /* each key once */
                for (int j = 0; j < i; j++)
                        assert_string_not_equal(cl.r[i].key, cl.r[j].key);
        }
        print_message("    whole state: %d patient, %d counter, %d meta "
                      "records (%lld patients, %lld counters)\n",
                      np, nc, nm, (long long)npat, (long long)ncell);
        assert_int_equal(np, npat);
        assert_int_equal(nc, ncell);
        assert_int_equal(nm, 1);
        assert_string_equal(cl.r[cl.n - 1].key, "m");
        /* the dump alone restores the whole state */
        e = open_part("dump-e");
        vg_part_set_changelog(e, CL);
        if (restore(e, &cl, 0, cl.n, err, sizeof(err)))
                fail_msg("restore: %s", err);
        sd = snap("dump-d");
        se = snap("dump-e");
        same_snap(sd, se, "restored from the whole-state dump");
        free(se);
        /* the next commit logs only what it changed */
        before = sd;
        {
                recs_t cl5 = {0};
                int np5 = 0, nc5 = 0, nchanged = 0;
                int64_t nall;
                from = rows.n;
                run_batch_offs(d, 5, offs);
                collect(d, &rows);
                changelog_of(&rows, from, &cl5);
                after = snap("dump-d");
                wm = vg_part_watermark(d);
                for (int i = 0; i < cl5.n; i++) {
                        const char *k = cl5.r[i].key;
                        char pat[64], line[256];
                        np5 += k[0] == 'p';
                        nc5 += k[0] == 'c';
                        if (k[0] != 'p')
                                continue;
                        /* a patient of this batch's events, or one whose
                         * timer fell due */
                        snprintf(pat, sizeof(pat), "%s", k + 2);
                        snprintf(line, sizeof(line), "T|%s|", pat);
                        if (!strstr(before, line) ||
                            atoll(strstr(before, line) + strlen(line)) > wm) {
                                int i_ = atoi(pat + 4);
                                assert_true(!strncmp(pat, "pat-", 4) ||
                                            !strcmp(pat, "clock"));
                                assert_true(!strcmp(pat, "clock") ||
                                            i_ % 7 == 3 || i_ % 14 == 3);
                        }
                }
                /* every patient or counter changed is logged */
                for (const char *p = after; *p; p = strchr(p, '\n') + 1) {
                        const char *eol = strchr(p, '\n');
                        char line[4096], key[512];
                        size_t l = (size_t)(eol - p);
                        const char *bar;
                        if ((*p != 'P' && *p != 'C') || l >= sizeof(line))
                                continue;
                        memcpy(line, p, l);
                        line[l] = '\0';
                        if (has_line(before, line))
                                continue; /* unchanged */
                        nchanged++;
                        bar = strrchr(line, '|'); /* keys hold '|' */
                        snprintf(key, sizeof(key), "%c|%.*s",
                                 *p == 'P' ? 'p' : 'c',
                                 (int)(bar - line - 2), line + 2);
                        {
                                int found = 0;
                                for (int i = 0; i < cl5.n && !found; i++)
                                        found = !strcmp(cl5.r[i].key, key);
                                if (!found)
                                        fail_msg("%s changed, not logged",
                                                 key);
                        }
                }
                nall = query_int("dump-d", "SELECT count(*) FROM patients")
                       + query_int("dump-d", "SELECT count(*) FROM cells");
                print_message("    next commit: %d patient, %d counter "
                              "records; %d patients or counters changed of "
                              "%lld\n", np5, nc5, nchanged, (long long)nall);
                assert_true(np5 > 0 && np5 < npat);
                /* what changed, and nothing else */
                assert_int_equal(np5 + nc5, nchanged);
                assert_true(np5 + nc5 < nall);
                free(after);
                recs_free(&cl5);
        }
        free(before);
        /* a reopened file logged to CL is not dumped again; to another
         * changelog, it is */
        vg_part_close(d);
        d = open_part("dump-d");
        vg_part_set_changelog(d, CL);
        assert_false(vg_part_changelog_pending(d));
        vg_part_set_changelog(d, "cl2");
        assert_true(vg_part_changelog_pending(d));
        vg_part_set_changelog(d, NULL);
        /* vg_part_changelog_full: the next commit dumps again */
        vg_part_set_changelog(d, CL);
        vg_part_changelog_full(d);
        assert_true(vg_part_changelog_pending(d));
        vg_part_close(d);
        vg_part_close(e);
        recs_free(&rows);
        recs_free(&cl);
}

/*
 * Bad records
 */

typedef struct badrec_s {
        const char *what;
        const char *key;
        size_t      klen;
        const char *val;   /* NULL: a tombstone */
        size_t      vlen;
        const char *expect; /* in the error */
} badrec_t;

#define S_(s) s, sizeof(s) - 1
#define DUE8 "\x00\x00\x00\x00\x00\x00\x00\x01"

static const badrec_t bad_rows[] = {
        {"unknown kind", S_("x|abc"), S_("\x01" DUE8 "state"), "unknown"},
        {"no '|' in the key", S_("pabc"), S_("\x01" DUE8 "state"), "bad key"},
        {"a key of a kind and '|' only", S_("p|"), S_("\x01" DUE8 "s"),
         "bad key"},
        {"an empty key", "", 0, S_("\x01" DUE8 "s"), "without a key"},
        {"a NUL inside the key", S_("p|ab\0cd"), S_("\x01" DUE8 "s"),
         "bad key"},
        {"a patient value of 9 bytes", S_("p|pat-000"), S_("\x01" DUE8),
         "bad patient"},
        {"a patient value of 1 byte", S_("p|pat-000"), S_("\x01"),
         "bad patient"},
        {"an empty patient value", S_("p|pat-000"), "", 0, "bad patient"},
        {"a patient value of version 2", S_("p|pat-000"),
         S_("\x02" DUE8 "state"), "bad patient"},
        {"a counter value of 17 bytes", S_("c|readmission_30d|SE|2026-03"),
         S_("\x02" "\0\0\0\0\0\0\0\1" "\0\0\0\0\0\0\0\2"), "bad counter"},
        {"a counter value of 19 bytes", S_("c|readmission_30d|SE|2026-03"),
         S_("\x02" "\0\0\0\0\0\0\0\1" "\0\0\0\0\0\0\0\2" "\0\0"),
         "bad counter"},
        {"a counter value of version 1", S_("c|readmission_30d|SE|2026-03"),
         S_("\x01" "\0\0\0\0\0\0\0\1" "\0\0\0\0\0\0\0\2" "\0"),
         "bad counter"},
        {"a meta record not JSON", S_("m"), S_("\x03{\"partition\":3,"),
         "bad meta"},
        {"a meta record of version 1", S_("m"),
         S_("\x01{\"partition\":3}"), "bad meta"},
        {"a meta tombstone", S_("m"), NULL, 0, "bad meta"},
        {"a meta record of 1 byte", S_("m"), S_("\x03"), "bad meta"},
};

/* A meta record's JSON: the good one with one change. */
#define META_OK(part, sv, offs, meta)                                          \
        "\x03{\"meta\":{" meta "},\"offsets\":{" offs "},\"partition\":" part  \
        ",\"schema_version\":" sv "}"
#define GOOD_META "\"watermark\":1,\"data_since\":1"
#define GOOD_OFFS "\"in.sip\":99999"

static const badrec_t bad_metas[] = {
        {"a meta naming another partition", S_("m"),
         S_(META_OK("4", "3", GOOD_OFFS, GOOD_META)), "another partition"},
        {"a meta naming no partition", S_("m"),
         S_("\x03{\"meta\":{},\"offsets\":{},\"schema_version\":3}"),
         "another partition"},
        {"a meta of schema version 2", S_("m"),
         S_(META_OK("3", "2", GOOD_OFFS, GOOD_META)), "schema 2"},
        {"a meta of schema version 4", S_("m"),
         S_(META_OK("3", "4", GOOD_OFFS, GOOD_META)), "schema 4"},
        {"a meta without offsets", S_("m"),
         S_("\x03{\"meta\":{},\"partition\":3,\"schema_version\":3}"),
         "without offsets"},
        {"a meta value not a number", S_("m"),
         S_(META_OK("3", "3", GOOD_OFFS, "\"watermark\":\"soon\"")),
         "not a number"},
        {"a JSON array", S_("m"), S_("\x03[3]"), "another partition"},
};

/* A valid patient and counter record, written before the bad one: they
 * must be rolled back with it. */
static void good_rows(vg_part_t *p, const recs_t *cl) {
        char err[512];
        int done_p = 0, done_c = 0;
        for (int i = cl->n - 1; i >= 0 && !(done_p && done_c); i--) {
                const rec_t *r = &cl->r[i];
                char key[128];
                if (r->key[0] == 'p' && !done_p) {
                        snprintf(key, sizeof(key), "p|pat-new");
                        done_p = 1;
                } else if (r->key[0] == 'c' && !done_c) {
                        snprintf(key, sizeof(key),
                                 "c|sip_within_deadline|SE|2099-01");
                        done_c = 1;
                } else
                        continue;
                if (vg_part_restore_row(p, key, strlen(key), r->val, r->vlen,
                                        err, sizeof(err)))
                        fail_msg("%s", err);
        }
        assert_true(done_p && done_c);
}

static void test_bad_records(void **state) {
        story_t s;
        vg_part_t *p;
        char err[512], *s0, *s1, *mem0;
        int64_t wm, end;
        (void)state;
        story_run(&s, "bad-src", 3); /* valid records to copy from */
        p = restored_part("bad-p", &s);
        s0 = snap("bad-p");
        mem0 = mem_cells(p);
        wm = vg_part_watermark(p);
        end = vg_part_changelog_end(p);
        assert_int_equal(end, s.cl.n);
        for (size_t i = 0; i < sizeof(bad_rows) / sizeof(bad_rows[0]); i++) {
                const badrec_t *b = &bad_rows[i];
                vg_err_t e;
                err[0] = '\0';
                assert_int_equal(vg_part_restore_begin(p, err, sizeof(err)),
                                 VG_OK);
                good_rows(p, &s.cl);
                e = vg_part_restore_row(p, b->key, b->klen, b->val, b->vlen,
                                        err, sizeof(err));
                print_message("    %s: %s\n", b->what, err);
                if (e != VG_ERR_INVALID)
                        fail_msg("%s: accepted (%d)", b->what, (int)e);
                assert_non_null(strstr(err, b->expect));
                assert_non_null(strstr(err, "changelog cl [3]"));
                /* the shell throws the restore away (the last case:
                 * closes the part without it) */
                if (i + 1 < sizeof(bad_rows) / sizeof(bad_rows[0])) {
                        vg_part_rollback_restore(p);
                        same_memory_as(p, mem0);
                } else {
                        vg_part_close(p);
                        p = open_part("bad-p");
                        vg_part_set_changelog(p, CL);
                }
                s1 = snap("bad-p");
                same_snap(s0, s1, b->what);
                free(s1);
                assert_int_equal(vg_part_watermark(p), wm);
                assert_int_equal(vg_part_changelog_end(p), end);
        }
        for (size_t i = 0; i < sizeof(bad_metas) / sizeof(bad_metas[0]);
             i++) {
                const badrec_t *b = &bad_metas[i];
                vg_err_t e;
                err[0] = '\0';
                assert_int_equal(vg_part_restore_begin(p, err, sizeof(err)),
                                 VG_OK);
                good_rows(p, &s.cl);
                /* a meta record is checked at the end */
                assert_int_equal(vg_part_restore_row(p, b->key, b->klen,
                                                     b->val, b->vlen, err,
                                                     sizeof(err)),
                                 VG_OK);
                e = vg_part_restore_end(p, end + 1000, err, sizeof(err));
                print_message("    %s: %s\n", b->what, err);
                if (e != VG_ERR_INVALID)
                        fail_msg("%s: accepted (%d)", b->what, (int)e);
                assert_non_null(strstr(err, b->expect));
                assert_non_null(strstr(err, "changelog cl [3]"));
                /* rolled back, in the file and in memory, without a
                 * reopen */
                s1 = snap("bad-p");
                same_snap(s0, s1, b->what);
                free(s1);
                assert_int_equal(vg_part_watermark(p), wm);
                assert_int_equal(vg_part_changelog_end(p), end);
                assert_int_equal(vg_part_offset(p, "in.sip"),
                                 s.offs[TP_SIP]);
                same_memory_as(p, mem0);
        }
        /* and the part still works */
        {
                int64_t offs[TP__CNT];
                memcpy(offs, s.offs, sizeof(offs));
                run_batch_offs(p, 3, offs);
                assert_true(vg_part_watermark(p) > wm);
        }
        free(s0);
        free(mem0);
        vg_part_close(p);
        story_free(&s);
}

/*
 * Gaps found by these tests and fixed: each failed before its fix.
 */

/* A patient record whose state is not a state (vg_patient_decode refuses
 * it, by its checksum) is restored as it is; every later batch with an
 * event of that patient then fails. */
static void test_gap_corrupt_patient_state(void **state) {
        story_t s;
        vg_part_t *p;
        char err[512];
        vg_err_t e;
        (void)state;
        story_run(&s, "gap1-src", 3);
        p = restored_part("gap1-p", &s);
        err[0] = '\0';
        assert_int_equal(vg_part_restore_begin(p, err, sizeof(err)), VG_OK);
        e = vg_part_restore_row(p, S_("p|pat-000"),
                                S_("\x01" DUE8 "not a state at all"), err,
                                sizeof(err));
        if (e == VG_OK) {
                vg_event_t ev;
                char j[1024], c[512];
                assert_int_equal(vg_part_restore_end(p, 1, err, sizeof(err)),
                                 VG_OK);
                /* the patient's next event */
                assert_int_equal(vg_part_begin(p, 5, err, sizeof(err)),
                                 VG_OK);
                common(c, sizeof(c), "sip_created", "late-1", "pat-000",
                       T0 + DAY_, "0484", NULL);
                snprintf(j, sizeof(j), "%s,\"sip_id\":\"q\"}", c);
                assert_int_equal(vg_event_from_jsonl(j, strlen(j), &ev, err,
                                                     sizeof(err)),
                                 VG_OK);
                e = vg_part_event(p, &ev, err, sizeof(err));
                vg_record_clear(ev.ev_type, &ev);
                vg_part_rollback(p);
                vg_part_close(p);
                story_free(&s);
                fail_msg("a corrupt patient state is restored; the next "
                         "event of that patient: %s", e ? err : "applied");
        }
        print_message("    %s\n", err);
        vg_part_rollback_restore(p);
        vg_part_close(p);
        story_free(&s);
}

/* An offset that is not an integer is stored as 0 (json_integer_value):
 * the input topic is read again from its beginning. */
static void test_gap_offset_not_a_number(void **state) {
        static const badrec_t gaps[] = {
                {"an offset that is a string", S_("m"),
                 S_(META_OK("3", "3", "\"in.sip\":\"12\"", GOOD_META)),
                 "not a number"},
                {"an offset that is not an integer", S_("m"),
                 S_(META_OK("3", "3", "\"in.sip\":12.5", GOOD_META)),
                 "not a number"},
        };
        story_t s;
        vg_part_t *p;
        char err[512];
        const char *accepted = NULL;
        int64_t end;
        (void)state;
        story_run(&s, "gap2-src", 3);
        p = restored_part("gap2-p", &s);
        end = vg_part_changelog_end(p);
        for (size_t i = 0; i < sizeof(gaps) / sizeof(gaps[0]); i++) {
                const badrec_t *b = &gaps[i];
                vg_err_t e;
                err[0] = '\0';
                assert_int_equal(vg_part_restore_begin(p, err, sizeof(err)),
                                 VG_OK);
                assert_int_equal(vg_part_restore_row(p, b->key, b->klen,
                                                     b->val, b->vlen, err,
                                                     sizeof(err)),
                                 VG_OK);
                e = vg_part_restore_end(p, end, err, sizeof(err));
                print_message("    %s: %s (in.sip now at %lld, was %lld)\n",
                              b->what, e ? err : "accepted",
                              (long long)vg_part_offset(p, "in.sip"),
                              (long long)s.offs[TP_SIP]);
                if (e != VG_ERR_INVALID && !accepted)
                        accepted = b->what;
        }
        vg_part_close(p);
        story_free(&s);
        if (accepted)
                fail_msg("%s: accepted", accepted);
}

static void test_committed_end(void **state) {
        vg_part_t *p = open_part("end-p");
        int64_t offs[TP__CNT] = {0};
        char err[512];
        (void)state;
        vg_part_set_changelog(p, CL);
        run_batch_offs(p, 0, offs);
        assert_int_equal(vg_part_changelog_end(p), -1); /* not published */
        vg_part_changelog_committed(p, 41);
        assert_int_equal(vg_part_changelog_end(p), 43); /* + the marker */
        vg_part_changelog_committed(p, -1); /* no changelog row in it */
        assert_int_equal(vg_part_changelog_end(p), 43);
        vg_part_changelog_committed(p, 0);
        assert_int_equal(vg_part_changelog_end(p), 2);
        vg_part_changelog_committed(p, 99);
        /* inside a batch: not stored (the publisher skips busy parts) */
        assert_int_equal(vg_part_begin(p, 5, err, sizeof(err)), VG_OK);
        vg_part_changelog_committed(p, 500);
        vg_part_rollback(p);
        assert_int_equal(vg_part_changelog_end(p), 101);
        /* it survives a reopen */
        vg_part_close(p);
        p = open_part("end-p");
        assert_int_equal(vg_part_changelog_end(p), -1); /* no changelog */
        vg_part_set_changelog(p, CL);
        assert_int_equal(vg_part_changelog_end(p), 101);
        vg_part_close(p);
}

static int setup(void **state) {
        char err[256];
        (void)state;
        vg_rules_conf_default(&rc);
        if (vg_time_parse("2026-03-02T00:00:00Z", &T0))
                return -1;
        snprintf(dir, sizeof(dir), "/tmp/vg-test-changelog-XXXXXX");
        if (!mkdtemp(dir))
                return -1;
        codec = vg_codec_new(err, sizeof(err));
        return codec ? 0 : -1;
}

static int teardown(void **state) {
        char cmd[128];
        (void)state;
        vg_codec_destroy(codec);
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        return system(cmd) == 0 ? 0 : -1;
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_records_are_committed_state),
                cmocka_unit_test(test_schema_versions),
                cmocka_unit_test(test_rules_settings),
                cmocka_unit_test(test_restore_whole),
                cmocka_unit_test(test_restore_then_events),
                cmocka_unit_test(test_restore_incremental),
                cmocka_unit_test(test_restored_goes_on_alike),
                cmocka_unit_test(test_whole_state_dump),
                cmocka_unit_test(test_bad_records),
                cmocka_unit_test(test_committed_end),
                cmocka_unit_test(test_gap_corrupt_patient_state),
                cmocka_unit_test(test_gap_offset_not_a_number),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
