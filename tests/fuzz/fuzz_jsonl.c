/*
 * fuzz_jsonl.c - libFuzzer harness of the JSON Lines event parser:
 * vg_event_from_jsonl (and vg_event_validate on what it accepts) on an
 * arbitrary line must accept it or say why, never crash or leak.
 */
#include "vg_record.h"
#include "vg_record_json.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char errstr[512];
        vg_event_t ev;
        /* A line as the readers hand it over: NUL-terminated after len. */
        char *line = malloc(size + 1);

        vg_log_level = VG_LOG_ERROR;
        if (!line)
                return 0;
        memcpy(line, data, size);
        line[size] = '\0';
        memset(&ev, 0, sizeof(ev));
        if (vg_event_from_jsonl(line, size, &ev, errstr, sizeof(errstr)) ==
            VG_OK) {
                (void)vg_event_validate(&ev, 1790000000000LL, errstr,
                                        sizeof(errstr));
                vg_record_clear(ev.ev_type, &ev);
        }
        free(line);
        return 0;
}
