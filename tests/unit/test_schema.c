/*
 * test_schema.c - Parsing Canonical Form and CRC-64-AVRO fingerprints against
 * Apache Avro's own vectors (tests/data/avro-schema-tests.txt) and against
 * vectors of Vigil's schemas made with fastavro
 * (tests/data/vigil-schema-vectors.txt, see tests/interop/gen_vectors.py).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vg_schema.h"

typedef struct vec_s {
        char *input;      /* schema JSON (or a file path for file vectors) */
        char *canonical;  /* expected canonical form */
        int   has_fp;
        int64_t fp;       /* expected fingerprint, signed */
} vec_t;

static char *slurp(const char *path, size_t *lenp) {
        FILE *fp = fopen(path, "rb");
        char *buf;
        long n;
        if (!fp)
                return NULL;
        fseek(fp, 0, SEEK_END);
        n = ftell(fp);
        fseek(fp, 0, SEEK_SET);
        buf = malloc((size_t)n + 1);
        if (fread(buf, 1, (size_t)n, fp) != (size_t)n) {
                fclose(fp);
                free(buf);
                return NULL;
        }
        buf[n] = '\0';
        fclose(fp);
        if (lenp)
                *lenp = (size_t)n;
        return buf;
}

/* Parses the <<INPUT / <<canonical / <<fingerprint format of Apache Avro's
 * share/test/data/schema-tests.txt (also used for Vigil's own vectors, whose
 * input tag is <<file). */
static int parse_vectors(const char *path, const char *input_tag, vec_t *v,
                         int max) {
        char *text = slurp(path, NULL), *line, *save = NULL;
        int n = -1, in_multi = 0;
        vg_buf_t multi;
        size_t tlen = strlen(input_tag);

        assert_non_null(text);
        vg_buf_init(&multi);
        for (line = strtok_r(text, "\n", &save); line;
             line = strtok_r(NULL, "\n", &save)) {
                if (in_multi) {
                        if (!strcmp(line, "INPUT")) {
                                v[n].input = strdup(multi.vb_data);
                                in_multi = 0;
                        } else {
                                vg_buf_puts(&multi, line);
                                vg_buf_puts(&multi, "\n");
                        }
                        continue;
                }
                if (!strncmp(line, input_tag, tlen)) {
                        n++;
                        assert_true(n < max);
                        memset(&v[n], 0, sizeof(v[n]));
                        if (line[tlen] == '\0') { /* multi-line input */
                                in_multi = 1;
                                vg_buf_reset(&multi);
                        } else
                                v[n].input = strdup(line + tlen + 1);
                } else if (!strncmp(line, "<<canonical ", 12) && n >= 0) {
                        v[n].canonical = strdup(line + 12);
                } else if (!strncmp(line, "<<fingerprint ", 14) && n >= 0) {
                        v[n].fp = strtoll(line + 14, NULL, 10);
                        v[n].has_fp = 1;
                }
        }
        vg_buf_free(&multi);
        free(text);
        return n + 1;
}

static void free_vectors(vec_t *v, int n) {
        for (int i = 0; i < n; i++) {
                free(v[i].input);
                free(v[i].canonical);
        }
}

static void test_apache_vectors(void **state) {
        vec_t v[64];
        int n = parse_vectors(VIGIL_TEST_DATA "/avro-schema-tests.txt",
                              "<<INPUT", v, 64);
        int fps = 0;
        char errstr[256];

        (void)state;
        assert_true(n >= 30); /* the file has 34 vectors */
        for (int i = 0; i < n; i++) {
                char *c = vg_schema_canonical(v[i].input, strlen(v[i].input),
                                              errstr, sizeof(errstr));
                if (!c)
                        fail_msg("vector %d: %s: %s", i, v[i].input, errstr);
                if (strcmp(c, v[i].canonical))
                        fail_msg("vector %d: canonical\n got: %s\nwant: %s", i,
                                 c, v[i].canonical);
                if (v[i].has_fp) {
                        uint64_t fp = vg_schema_crc64(c, strlen(c));
                        if ((int64_t)fp != v[i].fp)
                                fail_msg("vector %d: fingerprint %lld, want "
                                         "%lld", i, (long long)fp,
                                         (long long)v[i].fp);
                        fps++;
                }
                vg_free(c);
        }
        assert_true(fps >= 17);
        free_vectors(v, n);
}

static void test_vigil_vectors(void **state) {
        vec_t v[32];
        int n = parse_vectors(VIGIL_TEST_DATA "/vigil-schema-vectors.txt",
                              "<<file", v, 32);
        char errstr[256], path[512];

        (void)state;
        assert_true(n >= 9); /* every current schema */
        for (int i = 0; i < n; i++) {
                size_t len;
                char *json, *c;
                uint64_t fp;
                snprintf(path, sizeof(path), "%s/../../%s", VIGIL_TEST_DATA,
                         v[i].input);
                json = slurp(path, &len);
                if (!json)
                        fail_msg("cannot read %s", path);
                c = vg_schema_canonical(json, len, errstr, sizeof(errstr));
                assert_non_null(c);
                if (strcmp(c, v[i].canonical))
                        fail_msg("%s: canonical\n got: %s\nwant: %s",
                                 v[i].input, c, v[i].canonical);
                assert_int_equal(vg_schema_fingerprint(json, len, &fp, errstr,
                                                       sizeof(errstr)),
                                 VG_OK);
                assert_true(v[i].has_fp);
                if ((int64_t)fp != v[i].fp)
                        fail_msg("%s: fingerprint %lld, want %lld", v[i].input,
                                 (long long)fp, (long long)v[i].fp);
                vg_free(c);
                free(json);
        }
        free_vectors(v, n);
}

static void test_embedded_match_files(void **state) {
        /* Every current schema file is compiled in. */
        int cur = 0;
        (void)state;
        for (const vg_schema_file_t *f = vg_schema_files; f->vsf_name; f++)
                cur += f->vsf_current;
        assert_int_equal(cur, 9);
}

static void test_bad_schemas(void **state) {
        static const char *bad[] = {
                "", "{", "42", "{\"type\":\"record\"}",
                "{\"type\":\"record\",\"name\":\"x\"}",
                "{\"type\":\"enum\",\"name\":\"e\",\"symbols\":[1]}",
                "{\"type\":\"array\"}", "{\"type\":\"map\"}",
                "{\"type\":\"fixed\",\"name\":\"f\"}", "{\"name\":\"x\"}",
        };
        char errstr[256];
        (void)state;
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                errstr[0] = '\0';
                char *c = vg_schema_canonical(bad[i], strlen(bad[i]), errstr,
                                              sizeof(errstr));
                if (c)
                        fail_msg("accepted bad schema '%s' as '%s'", bad[i], c);
                assert_true(strlen(errstr) > 0);
        }
}

static void test_crc_empty(void **state) {
        (void)state;
        /* The fingerprint of no bytes is the EMPTY constant itself. */
        assert_true(vg_schema_crc64("", 0) == 0xc15d213aa4d7a795ULL);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_apache_vectors),
                cmocka_unit_test(test_vigil_vectors),
                cmocka_unit_test(test_embedded_match_files),
                cmocka_unit_test(test_bad_schemas),
                cmocka_unit_test(test_crc_empty),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
