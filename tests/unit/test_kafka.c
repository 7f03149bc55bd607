/*
 * test_kafka.c - vg_kafka_murmur2_partition() gives the partitions of the
 * Java client's DefaultPartitioner: toPositive(Utils.murmur2(key)) % n.
 * The expected numbers were computed with a Python port of Kafka's
 * Utils.murmur2 (checked against the vectors of Kafka's UtilsTest), not with
 * librdkafka.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "vg_kafka.h"

static const int counts[] = {1, 2, 3, 6, 12, 100};

static const struct {
        const char *key;
        int         part[6];  /* for each of counts[] */
} vectors[] = {
        {"", {0, 1, 0, 3, 9, 81}},
        {"a", {0, 0, 1, 4, 4, 24}},
        {"ab", {0, 0, 2, 2, 2, 34}},
        {"abc", {0, 1, 0, 3, 3, 7}},
        {"foo", {0, 0, 2, 2, 8, 16}},
        {"foobar", {0, 0, 0, 0, 6, 66}},
        {"21", {0, 0, 0, 0, 0, 40}},
        {"p-000123", {0, 0, 1, 4, 4, 8}},
        {"e66f0bcae6d1be7ab949a4cf4e327d889af5ffcb39c3cf74af0d7a93182e3d1a",
         {0, 1, 2, 5, 5, 5}},
};

static void test_java_partitions(void **state) {
        (void)state;
        for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++)
                for (size_t j = 0; j < 6; j++) {
                        int p = vg_kafka_murmur2_partition(
                                vectors[i].key, strlen(vectors[i].key),
                                counts[j]);
                        if (p != vectors[i].part[j])
                                fail_msg("key \"%s\", %d partitions: %d, "
                                         "Java gives %d", vectors[i].key,
                                         counts[j], p, vectors[i].part[j]);
                }
}

/* Every byte of the key counts, whatever its alignment in memory. */
static void test_unaligned_key(void **state) {
        char buf[80];
        (void)state;
        for (size_t off = 0; off < 4; off++) {
                memcpy(buf + off, "foobar", 6);
                assert_int_equal(vg_kafka_murmur2_partition(buf + off, 6, 100),
                                 66);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_java_partitions),
                cmocka_unit_test(test_unaligned_key),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
