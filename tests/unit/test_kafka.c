/*
 * test_kafka.c - vg_kafka_murmur2_partition() gives the partitions of the
 * Java client's DefaultPartitioner: toPositive(Utils.murmur2(key)) % n.
 * The expected numbers were computed with a Python port of Kafka's
 * Utils.murmur2 (checked against the vectors of Kafka's UtilsTest), not with
 * librdkafka.
 *
 * Also: Vigil's librdkafka defaults give way to the user's value under
 * either of the property's names (vg_kafka_default's alias table).
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

/* What kconf holds for key after the output producers' compression default
 * and a linger default, given kafka.* keys kv (NULL-terminated). */
static void defaults_with(const char *const *kv, const char *key, char *v,
                          size_t vs) {
        vg_conf_t *conf = vg_conf_new();
        char err[512];
        rd_kafka_conf_t *kc;
        for (; *kv; kv++)
                assert_int_equal(vg_conf_set_kv(conf, *kv, err, sizeof(err)),
                                 VG_OK);
        kc = vg_kafka_conf(conf, err, sizeof(err));
        assert_non_null(kc);
        assert_int_equal(vg_kafka_compress_default(conf, kc, err,
                                                   sizeof(err)),
                         VG_OK);
        assert_int_equal(vg_kafka_default(conf, kc, "queue.buffering.max.ms",
                                          "33", err, sizeof(err)),
                         VG_OK);
        assert_int_equal(rd_kafka_conf_get(kc, key, v, &vs),
                         RD_KAFKA_CONF_OK);
        rd_kafka_conf_destroy(kc);
        vg_conf_destroy(conf);
}

static void test_default_gives_way_to_alias(void **state) {
        static const char *const none[] = {NULL};
        static const char *const codec[] = {"kafka.compression.codec=none",
                                            NULL};
        static const char *const type[] = {"kafka.compression.type=gzip",
                                           NULL};
        static const char *const linger[] = {"kafka.linger.ms=7", NULL};
        char v[64];
        (void)state;
        defaults_with(none, "compression.codec", v, sizeof(v));
        assert_string_equal(v, "lz4");
        defaults_with(none, "queue.buffering.max.ms", v, sizeof(v));
        assert_string_equal(v, "33");
        defaults_with(codec, "compression.type", v, sizeof(v));
        assert_string_equal(v, "none");
        defaults_with(type, "compression.codec", v, sizeof(v));
        assert_string_equal(v, "gzip");
        defaults_with(linger, "queue.buffering.max.ms", v, sizeof(v));
        assert_string_equal(v, "7");
        defaults_with(linger, "compression.type", v, sizeof(v));
        assert_string_equal(v, "lz4");
}

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
                cmocka_unit_test(test_default_gives_way_to_alias),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
