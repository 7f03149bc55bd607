/*
 * test_standby.c - who keeps standby copies: the consumer-protocol
 * assignment of a group member, as ListGroups returns it, parsed with every
 * length checked (process_standby.c).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "process_int.h"

typedef struct { unsigned char b[512]; int n; } bytes_t;

static void put16(bytes_t *x, int v) {
        x->b[x->n++] = (unsigned char)((v >> 8) & 0xff);
        x->b[x->n++] = (unsigned char)(v & 0xff);
}

static void put32(bytes_t *x, int32_t v) {
        uint32_t u = (uint32_t)v;
        for (int i = 3; i >= 0; i--)
                x->b[x->n++] = (unsigned char)((u >> (8 * i)) & 0xff);
}

static void put_topic(bytes_t *x, const char *t, int np, const int32_t *ps) {
        put16(x, (int)strlen(t));
        memcpy(x->b + x->n, t, strlen(t));
        x->n += (int)strlen(t);
        put32(x, np);
        for (int i = 0; i < np; i++)
                put32(x, ps[i]);
}

/* version 1, two topics, user data null: what the range assignor gives a
 * member that owns partitions 0 and 3 of each input topic */
static bytes_t assignment(void) {
        bytes_t x = {{0}, 0};
        static const int32_t ps[] = {0, 3};
        put16(&x, 1);
        put32(&x, 2);
        put_topic(&x, "in.adm", 2, ps);
        put_topic(&x, "in.sip", 2, ps);
        put32(&x, -1);
        return x;
}

static void reset(int *owner) {
        for (int p = 0; p < MAX_PARTITIONS; p++)
                owner[p] = -1;
}

static void test_valid(void **state) {
        static int owner[MAX_PARTITIONS];
        bytes_t x = assignment();
        (void)state;
        reset(owner);
        assert_true(process_parse_assignment(x.b, x.n, "in.adm", 7, owner));
        for (int p = 0; p < 8; p++)
                assert_int_equal(owner[p], p == 0 || p == 3 ? 7 : -1);
        /* another topic's partitions count for nothing */
        reset(owner);
        assert_true(process_parse_assignment(x.b, x.n, "in.ad", 7, owner));
        assert_true(process_parse_assignment(x.b, x.n, "in.admx", 7, owner));
        for (int p = 0; p < 8; p++)
                assert_int_equal(owner[p], -1);
        /* an empty assignment (a member with nothing) */
        assert_true(process_parse_assignment(x.b, 0, "in.adm", 7, owner));
}

/* Every truncation inside the topics array is refused, none reads past
 * the end (ASan in CI). */
static void test_truncated(void **state) {
        static int owner[MAX_PARTITIONS];
        bytes_t x = assignment();
        int topics_end = x.n - 4; /* before the user data */
        (void)state;
        for (int len = 1; len < topics_end; len++) {
                unsigned char *copy = malloc((size_t)len);
                memcpy(copy, x.b, (size_t)len);
                reset(owner);
                assert_false(process_parse_assignment(copy, len, "in.adm", 1,
                                                      owner));
                free(copy);
        }
}

static void test_bad_counts(void **state) {
        static int owner[MAX_PARTITIONS];
        bytes_t x = {{0}, 0};
        static const int32_t big[] = {5, MAX_PARTITIONS, -1, 2};
        (void)state;
        /* negative partition count */
        put16(&x, 0);
        put32(&x, 1);
        put16(&x, 6);
        memcpy(x.b + x.n, "in.adm", 6);
        x.n += 6;
        put32(&x, -3);
        reset(owner);
        assert_false(process_parse_assignment(x.b, x.n, "in.adm", 1, owner));
        /* a count far beyond the bytes */
        x.n -= 4;
        put32(&x, 0x10000000);
        assert_false(process_parse_assignment(x.b, x.n, "in.adm", 1, owner));
        /* negative topic-name length */
        x.n = 0;
        put16(&x, 0);
        put32(&x, 1);
        put16(&x, -2);
        assert_false(process_parse_assignment(x.b, x.n, "in.adm", 1, owner));
        /* partitions out of range are skipped, the others kept */
        x.n = 0;
        put16(&x, 0);
        put32(&x, 1);
        put_topic(&x, "in.adm", 4, big);
        reset(owner);
        assert_true(process_parse_assignment(x.b, x.n, "in.adm", 2, owner));
        assert_int_equal(owner[5], 2);
        assert_int_equal(owner[2], 2);
        assert_int_equal(owner[0], -1);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_valid),
                cmocka_unit_test(test_truncated),
                cmocka_unit_test(test_bad_counts),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
