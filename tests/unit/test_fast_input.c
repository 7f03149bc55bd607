/*
 * test_fast_input.c - the fast input path gives exactly what the plain
 * path gives:
 *   - vg_event_from_jsonl's flat-line scanner against jansson's path
 *     (json_loadb + vg_event_from_json) on boundary cases and on 200,000
 *     random mutations of real lines: the same result, the same record,
 *     the same error text;
 *   - vg_lines' own read-ahead on lines across its 64 KiB blocks, CRLF, a
 *     last line without "\n", the length limit at its edge, NUL bytes, a
 *     file sniffed and rewound through stdio first, and a pipe.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vg_lines.h"
#include "vg_record.h"
#include "vg_record_json.h"

static const char *samples[] = {
        "{\"type\":\"admission\",\"event_id\":\"e1\",\"patient_id\":\"p1\","
        "\"occurred_at\":\"2026-01-02T03:04:05Z\",\"kommun\":\"0484\","
        "\"source_system\":\"s\",\"cancels_event_id\":null,\"stay_id\":\"s1\","
        "\"facility_id\":\"f\",\"care_setting\":\"HOSPITAL_INPATIENT\","
        "\"planned\":false,\"age_years\":85,\"sex\":\"FEMALE\","
        "\"diagnosis_group\":\"COPD\",\"residence\":\"ORDINARY_HOME\"}",
        "{\"type\":\"discharge\",\"event_id\":\"e2\",\"patient_id\":\"p1\","
        "\"occurred_at\":1767322800123,\"kommun\":\"0484\","
        "\"source_system\":\"s\",\"cancels_event_id\":null,\"stay_id\":\"s1\","
        "\"facility_id\":\"f\",\"care_setting\":\"HOSPITAL_INPATIENT\","
        "\"disposition\":\"DIED\",\"needs_coordination\":true}",
        "{\"type\":\"death\",\"event_id\":\"sim-7-138725\",\"patient_id\":"
        "\"2d95\",\"occurred_at\":\"2025-12-31T22:15:44.5Z\",\"kommun\":"
        "\"0488\",\"source_system\":\"sim-his\",\"cancels_event_id\":null,"
        "\"place_of_death\":\"HOSPITAL\",\"expected\":true,\"age_years\":85,"
        "\"sex\":\"MALE\",\"diagnosis_group\":\"OTHER\",\"residence\":"
        "\"ORDINARY_HOME\"}",
        "{\"type\":\"sip_created\",\"event_id\":\"e4\",\"patient_id\":\"p2\","
        "\"occurred_at\":\"2026-01-02T03:04:05Z\",\"kommun\":\"0662\","
        "\"source_system\":\"k\",\"cancels_event_id\":\"e3\",\"sip_id\":"
        "\"sip-1\"}",
        "{\"type\":\"register_entry\",\"event_id\":\"spr-3-10\",\"patient_id\":"
        "\"c864\",\"occurred_at\":\"2026-01-07T14:48:53Z\",\"kommun\":\"1863\","
        "\"source_system\":\"sim-spr\",\"cancels_event_id\":null,\"death_at\":"
        "\"2026-01-05T16:22:04Z\",\"unit_id\":\"LIN\",\"expected\":true,"
        "\"eol_conversation\":\"YES\",\"pain_assessed\":\"UNKNOWN\","
        "\"symptoms_assessed\":\"YES\",\"oral_health_assessed\":\"YES\","
        "\"prn_opioid\":\"YES\",\"prn_anxiolytic\":\"YES\",\"prn_antiemetic\":"
        "\"YES\",\"prn_antisecretory\":\"YES\",\"present_at_death\":\"NO\","
        "\"bereavement_offered\":\"YES\",\"pressure_ulcer\":\"NONE\"}",
};
#define NSAMPLES (sizeof(samples) / sizeof(samples[0]))

/* The plain path: jansson parses, the field rules read its tree. */
static vg_err_t slow_path(const char *line, size_t len, vg_event_t *ev,
                          char *errstr, size_t errstr_size) {
        json_error_t jerr;
        json_t *obj = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
        vg_err_t err;
        memset(ev, 0, sizeof(*ev));
        if (!obj)
                return vg_seterr(errstr, errstr_size, VG_ERR_INVALID,
                                 "not valid JSON: column %d: %s", jerr.column,
                                 vg_json_error_text(jerr.text));
        err = vg_event_from_json(obj, ev, errstr, errstr_size);
        json_decref(obj);
        return err;
}

static char *dump(const vg_event_t *ev) {
        json_t *o = vg_record_to_json(ev->ev_type, ev);
        char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
        json_decref(o);
        return s;
}

static int accepted; /* lines both paths took, over all calls */
static int scanned;  /* of which the scanner took, not jansson's path */

static void same(const char *line, size_t len) {
        vg_event_t a, b;
        char ea[512] = "", eb[512] = "";
        vg_err_t ra = vg_event_from_jsonl(line, len, &a, ea, sizeof(ea));
        vg_err_t rb = slow_path(line, len, &b, eb, sizeof(eb));
        if (ra != rb)
                fail_msg("fast %d, jansson %d on: %.*s", ra, rb, (int)len,
                         line);
        if (ra) {
                if (strcmp(ea, eb))
                        fail_msg("errors differ: '%s' / '%s'", ea, eb);
                return;
        }
        char *da = dump(&a), *db = dump(&b);
        if (strcmp(da, db))
                fail_msg("records differ:\n%s\n%s", da, db);
        accepted++;
        {
                vg_event_t c;
                if (vg_event_from_flat_jsonl(line, len, &c)) {
                        char *dc = dump(&c);
                        if (strcmp(dc, db))
                                fail_msg("scanner's record differs:\n%s\n%s",
                                         dc, db);
                        scanned++;
                        free(dc);
                        vg_record_clear(c.ev_type, &c);
                }
        }
        free(da);
        free(db);
        vg_record_clear(a.ev_type, &a);
        vg_record_clear(b.ev_type, &b);
}

static void same_str(const char *line) {
        same(line, strlen(line));
}

/* Replaces the first "from" in sample i by "to", then compares. */
static void same_edit(int i, const char *from, const char *to) {
        char buf[2048];
        const char *at = strstr(samples[i], from);
        assert_non_null(at);
        snprintf(buf, sizeof(buf), "%.*s%s%s", (int)(at - samples[i]),
                 samples[i], to, at + strlen(from));
        same_str(buf);
}

static void test_boundaries(void **state) {
        (void)state;
        /* The scanner takes a "type" member for the event's type without
         * looking it up among the fields: none is named so. */
        for (int t = 0; t < VG_REC__CNT; t++) {
                const vg_rectype_desc_t *rt = vg_rectype((vg_rectype_t)t);
                for (int i = 0; VG_REC_IS_EVENT(t) && i < rt->rt_nfields; i++)
                        assert_string_not_equal(rt->rt_fields[i].vf_name,
                                                "type");
        }
        accepted = scanned = 0;
        for (size_t i = 0; i < NSAMPLES; i++)
                same_str(samples[i]);
        assert_int_equal(accepted, (int)NSAMPLES);
        assert_int_equal(scanned, (int)NSAMPLES); /* (none left to jansson) */

        /* Numbers at and past the edges of int32 and int64. */
        same_edit(0, "85", "2147483647");
        same_edit(0, "85", "2147483648");
        same_edit(0, "85", "-2147483648");
        same_edit(0, "85", "-2147483649");
        same_edit(0, "85", "-0");
        same_edit(0, "85", "0");
        same_edit(0, "85", "085");
        same_edit(0, "85", "85.0");
        same_edit(0, "85", "8.5e1");
        same_edit(0, "85", "85E0");
        same_edit(0, "85", "-");
        same_edit(0, "85", "+85");
        same_edit(0, "85", "null");
        same_edit(0, "85", "\"85\"");
        same_edit(1, "1767322800123", "9223372036854775807");
        same_edit(1, "1767322800123", "9223372036854775808");
        same_edit(1, "1767322800123", "-9223372036854775808");
        same_edit(1, "1767322800123", "-9223372036854775809");
        same_edit(1, "1767322800123", "99999999999999999999999");
        /* Strings: escapes, non-ASCII, control characters. */
        same_edit(0, "\"s1\"", "\"s\\u00e51\"");
        same_edit(0, "\"s1\"", "\"s\\\"1\"");
        same_edit(0, "\"s1\"", "\"s\\u00001\"");
        same_edit(0, "\"s1\"", "\"s\xc3\xa5" "1\"");
        same_edit(0, "\"s1\"", "\"s\xff" "1\"");
        same_edit(0, "\"s1\"", "\"s\t1\"");
        same_edit(0, "\"s1\"", "\"s\x7f" "1\"");
        same_edit(0, "\"s1\"", "\"\"");
        same_edit(0, "\"planned\"", "\"pl\\u0061nned\"");
        /* The type member: missing, twice, other spellings, not a
         * string. */
        same_edit(0, "\"type\":\"admission\",", "");
        same_edit(0, "\"type\":\"admission\"",
                  "\"type\":\"admission\",\"type\":\"admission\"");
        same_edit(0, "\"admission\"", "\"Admission\"");
        same_edit(0, "\"admission\"", "\"ADMISSION\"");
        same_edit(0, "\"admission\"", "\"discharge\"");
        same_edit(0, "\"admission\"", "1");
        same_edit(0, "\"admission\"", "null");
        /* Members: unknown, twice, missing, nested, a default. */
        same_edit(0, "\"planned\":false", "\"planned\":false,\"x\":1");
        same_edit(0, "\"planned\":false", "\"planned\":false,\"planned\":true");
        same_edit(0, "\"planned\":false,", "");
        same_edit(0, ",\"residence\":\"ORDINARY_HOME\"", "");
        same_edit(0, "false", "{}");
        same_edit(0, "false", "[]");
        same_edit(0, "false", "[false]");
        same_edit(0, "false", "fals");
        same_edit(0, "false", "FALSE");
        same_edit(0, "\"COPD\"", "\"NOPE\"");
        same_edit(0, "\"COPD\"", "\"12345678\"");
        same_edit(0, "\"2026-01-02T03:04:05Z\"", "\"2026-02-30T03:04:05Z\"");
        same_edit(0, "\"2026-01-02T03:04:05Z\"", "-1");
        same_edit(0, "\"2026-01-02T03:04:05Z\"", "1.5");
        /* Whitespace and framing. */
        same_edit(0, "{", " \t{ ");
        same_edit(0, "\":", "\" : ");
        same_edit(0, ",\"", " , \"");
        same_edit(0, "{", "{\r\n");
        same_edit(0, "{", "\xef\xbb\xbf{");
        same_edit(0, "{", "[{");
        same_edit(0, "{", "{,");
        same_str("");
        same_str("{}");
        same_str("{ }");
        same_str("[]");
        same_str("null");
        same_str("{\"type\":\"admission\"}");
        same_str("{\"type\":\"admission\"");
        same_str("{\"type\"");
        char trailing[2048];
        snprintf(trailing, sizeof(trailing), "%s  x", samples[0]);
        same_str(trailing);
        snprintf(trailing, sizeof(trailing), "%s{}", samples[0]);
        same_str(trailing);
        snprintf(trailing, sizeof(trailing), "%s \t\r", samples[0]);
        same_str(trailing);
        /* A NUL byte inside the line. */
        memcpy(trailing, samples[3], strlen(samples[3]) + 1);
        trailing[40] = '\0';
        same(trailing, strlen(samples[3]));
        /* A line longer than the scanner's buffer: jansson's path. */
        {
                size_t n = strlen(samples[3]) + 5000;
                char *big = malloc(n + 1);
                const char *at = strstr(samples[3], "\"sip-1\"");
                size_t head = (size_t)(at - samples[3]) + 1;
                memcpy(big, samples[3], head);
                memset(big + head, 'x', 5000);
                strcpy(big + head + 5000, samples[3] + head);
                same(big, n);
                free(big);
        }
}

/* SPEC §9: occurred_at is "an RFC 3339 UTC string" (milliseconds
 * optional) or epoch milliseconds. Its UTC forms are read, both paths
 * alike; a time with another offset names an instant too, but is not a
 * UTC string, and is refused with the field's name. */
static void test_utc_only(void **state) {
        static const struct {
                const char *t;
                int64_t     ms; /* -1: refused, -2: refused as not UTC */
        } c[] = {
                {"2026-01-02T03:04:05Z", 1767323045000},
                {"2026-01-02T03:04:05z", 1767323045000},
                {"2026-01-02T03:04:05.250Z", 1767323045250},
                {"2026-01-02T03:04:05.2Z", 1767323045200},
                {"2026-01-02T03:04:05+00:00", 1767323045000},
                {"2026-01-02T03:04:05-00:00", 1767323045000},
                {"2026-01-02T04:04:05+01:00", -2},
                {"2026-01-02T02:04:05-01:00", -2},
                {"2026-01-02T03:04:05+00:01", -2},
                {"2026-01-02T03:04:05+0000", -1},
                {"2026-01-02T03:04:05", -1},
                {"2026-01-02T03:04:05+00:00Z", -1},
                {"2026-01-02T03:04:05Z\\u0000", -1},
                {"2026-01-02T03:04:05\\u0000Z", -1},
                {"2026-01-02T03:04:05ZZ", -1},
                {"2026-01-02", -1},
        };
        (void)state;
        for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
                char to[96], line[2048], err[512] = "";
                vg_event_t ev;
                vg_err_t r;
                snprintf(to, sizeof(to), "\"%s\"", c[i].t);
                same_edit(0, "\"2026-01-02T03:04:05Z\"", to);
                snprintf(line, sizeof(line), "%.*s%s%s",
                         (int)(strstr(samples[0], "\"2026-01-02") -
                               samples[0]),
                         samples[0], to,
                         strstr(samples[0], "05Z\"") + 4);
                r = vg_event_from_jsonl(line, strlen(line), &ev, err,
                                        sizeof(err));
                if (c[i].ms < 0) {
                        char want[128];
                        if (r == VG_OK)
                                fail_msg("%s: read as %lld, not refused",
                                         c[i].t, (long long)ev.ev_occurred_at);
                        /* (a NUL: the JSON reader refuses the line) */
                        if (strstr(c[i].t, "u0000"))
                                snprintf(want, sizeof(want), "u0000");
                        else if (c[i].ms == -2)
                                snprintf(want, sizeof(want),
                                         "occurred_at: %s is not in UTC",
                                         c[i].t);
                        else
                                snprintf(want, sizeof(want),
                                         "occurred_at: expected an RFC "
                                         "3339 UTC time");
                        if (!strstr(err, want))
                                fail_msg("%s: error '%s', not '%s'", c[i].t,
                                         err, want);
                        continue;
                }
                if (r != VG_OK)
                        fail_msg("%s: refused: %s", c[i].t, err);
                if (ev.ev_occurred_at != c[i].ms)
                        fail_msg("%s: %lld, not %lld", c[i].t,
                                 (long long)ev.ev_occurred_at,
                                 (long long)c[i].ms);
                vg_record_clear(ev.ev_type, &ev);
        }
}

/* A string of len bytes in place of from in sample i: c at at, and
 * after it (if there is room) one of three bytes. */
static void string_at(int i, const char *from, int len, int at,
                      unsigned char c, int next) {
        char str[64], to[72];
        memset(str, 'a' + at % 26, (size_t)len);
        str[len] = '\0';
        str[at] = (char)c;
        if (at + 1 < len)
                str[at + 1] = "\x01\x21\xff"[next];
        snprintf(to, sizeof(to), "\"%s\"", str);
        same_edit(i, from, to);
}

/* The scanner reads a string 16 or 8 bytes at a time: each byte value that
 * ends a string or is refused in one, and its neighbours that are not,
 * at every place of strings of every length to 40, alone and before
 * bytes a borrow or carry could mark. */
static void test_string_words(void **state) {
        static const unsigned char vals[] = {
                '"', '\\', 0x01, 0x1f, 0x7f, 0x80, 0xc3, 0xff, /* stop */
                0x20, 0x21, 0x23, 0x5b, 0x5d, 0x7e, '0', 'a'};  /* not */
        /* Strings of 1 to 40 bytes (the scanner's blocks of 16, its words
         * of 8 and its last bytes), in the middle of a line (stay_id, 170
         * bytes after it: blocks of 16 to the stop) and last (sip_id, 2
         * bytes after it: the line's end cuts each loop short). */
        static const struct { int sample; const char *from; } places[] = {
                {0, "\"s1\""}, {3, "\"sip-1\""}};
        enum { LMAX = 40 };
        int expect = 0;
        (void)state;
        accepted = scanned = 0;
        for (size_t pl = 0; pl < 2; pl++)
                for (int len = 1; len <= LMAX; len++) {
                        expect += len - 1 + 3;
                        for (size_t v = 0; v < sizeof(vals); v++)
                                for (int at = 0; at < len; at++)
                                        for (int next = 0; next < 3; next++)
                                                string_at(places[pl].sample,
                                                          places[pl].from,
                                                          len, at, vals[v],
                                                          next);
                }
        /* (both paths took the strings of printable ASCII and DEL,
         * which JSON allows and the scanner leaves to jansson: each such
         * byte before 0x21, or last with any of the three after it:
         * len - 1 + 3 strings of each length and place) */
        assert_int_equal(accepted, 9 * expect);
        /* (and the scanner all of them but those with DEL) */
        assert_int_equal(scanned, 8 * expect);
}

/* xorshift64*: the same mutations every run. */
static uint64_t rng = 88172645463325252ull;
static uint64_t next_rand(void) {
        rng ^= rng >> 12;
        rng ^= rng << 25;
        rng ^= rng >> 27;
        return rng * 2685821657736338717ull;
}

static void test_mutations(void **state) {
        static const char alphabet[] = "{}[]\":,\\ 0123456789-.eE+tfnulrsa"
                                       "\x00\x01\x7f\x80\xc3\xa5\xff\t\r\n";
        char buf[2048];
        (void)state;
        accepted = 0;
        for (int k = 0; k < 200000; k++) {
                const char *s = samples[next_rand() % NSAMPLES];
                size_t len = strlen(s);
                int edits = 1 + (int)(next_rand() % 3);
                memcpy(buf, s, len);
                for (int e = 0; e < edits; e++) {
                        size_t at = next_rand() % len;
                        char c = alphabet[next_rand() % (sizeof(alphabet) - 1)];
                        switch (next_rand() % 3) {
                        case 0: /* replace */
                                buf[at] = c;
                                break;
                        case 1: /* delete */
                                memmove(buf + at, buf + at + 1, len - at - 1);
                                len--;
                                break;
                        default: /* insert */
                                if (len + 1 >= sizeof(buf))
                                        break;
                                memmove(buf + at + 1, buf + at, len - at);
                                buf[at] = c;
                                len++;
                        }
                }
                buf[len] = '\0';
                same(buf, len);
        }
        /* Some mutations must leave a line both paths accept, or the loop
         * compared errors only. */
        print_message("%d of 200000 mutated lines accepted by both paths\n",
                      accepted);
        assert_true(accepted > 1000);
}

/*
 * vg_lines
 */

static FILE *temp_with(const char *data, size_t len) {
        FILE *fp = tmpfile();
        assert_non_null(fp);
        assert_int_equal(fwrite(data, 1, len, fp), len);
        rewind(fp);
        return fp;
}

typedef struct got_s {
        int    rc[16];
        char  *line[16];
        size_t len[16];
        int    n;
} got_t;

static void read_all(FILE *fp, size_t max, got_t *g) {
        vg_lines_t lr;
        char *line, errstr[256];
        size_t len;
        int r;
        memset(g, 0, sizeof(*g));
        vg_lines_init(&lr, fp, "t", max);
        while ((r = vg_lines_next(&lr, &line, &len, errstr, sizeof(errstr))) !=
               VG_LINES_END) {
                assert_true(g->n < 16);
                g->rc[g->n] = r;
                if (r == VG_LINES_OK) {
                        g->line[g->n] = malloc(len + 1);
                        memcpy(g->line[g->n], line, len + 1);
                        g->len[g->n] = len;
                        assert_int_equal(line[len], '\0');
                } else {
                        assert_int_equal(r, VG_LINES_BAD);
                        assert_non_null(strstr(errstr, "line longer than"));
                }
                assert_int_equal(lr.lr_lineno, g->n + 1);
                g->n++;
        }
        vg_lines_free(&lr);
}

static void got_free(got_t *g) {
        for (int i = 0; i < g->n; i++)
                free(g->line[i]);
}

static void test_lines(void **state) {
        got_t g;
        FILE *fp;
        (void)state;

        /* CRLF, an empty line, a NUL byte, a last line without "\n". */
        static const char d1[] = "ab\r\n\ncd\0e\nlast";
        fp = temp_with(d1, sizeof(d1) - 1);
        read_all(fp, 100, &g);
        assert_int_equal(g.n, 4);
        assert_string_equal(g.line[0], "ab");
        assert_int_equal(g.len[1], 0);
        assert_int_equal(g.len[2], 4);
        assert_memory_equal(g.line[2], "cd\0e", 4);
        assert_string_equal(g.line[3], "last");
        got_free(&g);
        fclose(fp);

        /* A UTF-8 byte order mark (Windows tools) before the first line
         * is left out; anywhere else it is part of the line. */
        static const char bom[] = "\xef\xbb\xbf{}\r\n\xef\xbb\xbfx\n";
        fp = temp_with(bom, sizeof(bom) - 1);
        read_all(fp, 100, &g);
        assert_int_equal(g.n, 2);
        assert_string_equal(g.line[0], "{}");
        assert_int_equal(g.len[0], 2);
        assert_string_equal(g.line[1], "\xef\xbb\xbfx");
        got_free(&g);
        fclose(fp);

        /* The limit at its edge: 5 bytes pass with max 5, 6 do not (the
         * "\r" counts before it is cut), and reading goes on after. */
        static const char d2[] = "12345\n123456\n1234\r\nxy\n";
        fp = temp_with(d2, sizeof(d2) - 1);
        read_all(fp, 5, &g);
        assert_int_equal(g.n, 4);
        assert_int_equal(g.rc[0], VG_LINES_OK);
        assert_int_equal(g.rc[1], VG_LINES_BAD);
        assert_int_equal(g.rc[2], VG_LINES_OK);
        assert_string_equal(g.line[2], "1234");
        assert_string_equal(g.line[3], "xy");
        got_free(&g);
        fclose(fp);

        /* Lines across the read-ahead's blocks: 100,000 and 150,000 bytes,
         * and a too-long one of 300,000 between them. */
        {
                size_t n = 100000 + 1 + 300000 + 1 + 150000 + 1;
                char *d = malloc(n);
                memset(d, 'a', 100000);
                d[100000] = '\n';
                memset(d + 100001, 'b', 300000);
                d[400001] = '\n';
                memset(d + 400002, 'c', 150000);
                d[n - 1] = '\n';
                fp = temp_with(d, n);
                read_all(fp, 200000, &g);
                assert_int_equal(g.n, 3);
                assert_int_equal(g.len[0], 100000);
                assert_memory_equal(g.line[0], d, 100000);
                assert_int_equal(g.rc[1], VG_LINES_BAD);
                assert_int_equal(g.len[2], 150000);
                assert_memory_equal(g.line[2], d + 400002, 150000);
                got_free(&g);
                fclose(fp);
                free(d);
        }

        /* Sniffed and rewound through stdio first, as vigil process does
         * to find an Avro container file. */
        {
                char magic[4];
                fp = temp_with("first\nsecond\n", 13);
                assert_int_equal(fread(magic, 1, 4, fp), 4);
                assert_int_equal(fseek(fp, 0, SEEK_SET), 0);
                read_all(fp, 100, &g);
                assert_int_equal(g.n, 2);
                assert_string_equal(g.line[0], "first");
                assert_string_equal(g.line[1], "second");
                got_free(&g);
                fclose(fp);
        }

        /* A stream without a file descriptor. */
        {
                static char mem[] = "m1\r\nm2\n\nm3";
                fp = fmemopen(mem, sizeof(mem) - 1, "r");
                read_all(fp, 100, &g);
                assert_int_equal(g.n, 4);
                assert_string_equal(g.line[0], "m1");
                assert_int_equal(g.len[2], 0);
                assert_string_equal(g.line[3], "m3");
                got_free(&g);
                fclose(fp);
        }

        /* A pipe. */
        {
                int fd[2];
                assert_int_equal(pipe(fd), 0);
                assert_int_equal(write(fd[1], "p1\np2", 5), 5);
                close(fd[1]);
                fp = fdopen(fd[0], "r");
                read_all(fp, 100, &g);
                assert_int_equal(g.n, 2);
                assert_string_equal(g.line[1], "p2");
                got_free(&g);
                fclose(fp);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_boundaries),
                cmocka_unit_test(test_utc_only),
                cmocka_unit_test(test_string_words),
                cmocka_unit_test(test_mutations),
                cmocka_unit_test(test_lines),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
