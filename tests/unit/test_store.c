/*
 * test_store - the partition store's file at its edges (issue 15): a
 * damaged file is refused at open with its path named; a file deleted or
 * replaced while in use stops the commit with an error instead of
 * committing into the void.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vg_partition.h"
#include "vg_record_json.h"

static vg_rules_conf_t rc;
static vg_codec_t *codec;
static vg_part_topics_t topics = {"alerts", "parts", "dlq"};
static char dir[64];

static void one_event(vg_part_t *part, const char *id) {
        char json[512], err[256];
        vg_event_t e;
        snprintf(json, sizeof(json),
                 "{\"type\":\"sip_created\",\"event_id\":\"%s\","
                 "\"patient_id\":\"p\",\"occurred_at\":"
                 "\"2026-03-01T08:00:00Z\",\"kommun\":\"0484\","
                 "\"source_system\":\"t\",\"sip_id\":\"s\"}", id);
        assert_int_equal(vg_event_from_jsonl(json, strlen(json), &e, err,
                                             sizeof(err)), VG_OK);
        assert_int_equal(vg_part_begin(part, 1, err, sizeof(err)), VG_OK);
        assert_int_equal(vg_part_event(part, &e, err, sizeof(err)), VG_OK);
        vg_record_clear(e.ev_type, &e);
}

static void test_damaged_file_named(void **state) {
        char path[128], err[512];
        vg_part_t *part;
        int fd;
        (void)state;
        snprintf(path, sizeof(path), "%s/partition-0.db", dir);
        part = vg_part_open(path, 0, &rc, codec, &topics, err, sizeof(err));
        assert_non_null(part);
        one_event(part, "e1");
        assert_int_equal(vg_part_commit(part, err, sizeof(err)), VG_OK);
        vg_part_close(part);
        /* random bytes over the first pages (header included) */
        fd = open(path, O_WRONLY);
        assert_true(fd >= 0);
        for (int i = 0; i < 64; i++)
                assert_int_equal(pwrite(fd, "\xde\xad\xbe\xef garbage!!!", 16,
                                        i * 97), 16);
        close(fd);
        part = vg_part_open(path, 0, &rc, codec, &topics, err, sizeof(err));
        assert_null(part);
        print_message("    %s\n", err);
        assert_non_null(strstr(err, path));
}

static void test_deleted_while_in_use(void **state) {
        char path[128], err[512];
        vg_part_t *part;
        (void)state;
        snprintf(path, sizeof(path), "%s/partition-1.db", dir);
        part = vg_part_open(path, 1, &rc, codec, &topics, err, sizeof(err));
        assert_non_null(part);
        one_event(part, "e1");
        assert_int_equal(vg_part_commit(part, err, sizeof(err)), VG_OK);
        one_event(part, "e2");
        assert_int_equal(unlink(path), 0);
        assert_int_not_equal(vg_part_commit(part, err, sizeof(err)), VG_OK);
        print_message("    %s\n", err);
        assert_non_null(strstr(err, path));
        vg_part_close(part);
}

static int setup(void **state) {
        char err[256];
        (void)state;
        vg_rules_conf_default(&rc);
        snprintf(dir, sizeof(dir), "/tmp/vg-test-store-XXXXXX");
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
                cmocka_unit_test(test_damaged_file_named),
                cmocka_unit_test(test_deleted_while_in_use),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
