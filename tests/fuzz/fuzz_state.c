/*
 * fuzz_state.c - libFuzzer harness of a patient's stored state
 * (vg_patient_bin.c): vg_patient_decode on arbitrary bytes must return a
 * patient or a "corrupt" error, never crash, leak or read out of bounds.
 * The input's last four bytes are replaced by the checksum of the bytes
 * before them (so that mutations reach every read, not just the sum). A
 * patient it returns must encode, and its encoding read back must encode
 * to the same bytes. vg_patient_decode_own (no checksum) gets the bytes
 * as they came.
 */
#include "vg_patient_store.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define PID "fuzz-patient"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char errstr[512];
        unsigned char *c;
        vg_patient_t *pt;

        vg_log_level = VG_LOG_ERROR;
        vg_patient_destroy(vg_patient_decode_own(PID, data, size, errstr,
                                                 sizeof(errstr)));
        if (size < 6 || data[0] != 0xB1) /* (JSON: jansson's, not ours) */
                return 0;
        c = malloc(size);
        memcpy(c, data, size);
        {
                uint32_t h = vg_patient_checksum(c, size - 4);
                for (int i = 0; i < 4; i++)
                        c[size - 4 + i] = (unsigned char)(h >> (8 * i));
        }
        if ((pt = vg_patient_decode(PID, c, size, errstr, sizeof(errstr)))) {
                vg_buf_t a, b;
                vg_patient_t *back;
                vg_buf_init(&a);
                vg_buf_init(&b);
                vg_patient_encode(pt, &a);
                if (!(back = vg_patient_decode(PID, a.vb_data, a.vb_len,
                                               errstr, sizeof(errstr))))
                        abort(); /* its own encoding refused */
                vg_patient_encode(back, &b);
                if (a.vb_len != b.vb_len ||
                    memcmp(a.vb_data, b.vb_data, a.vb_len))
                        abort(); /* not read back to the same state */
                vg_patient_destroy(back);
                vg_patient_destroy(pt);
                vg_buf_free(&a);
                vg_buf_free(&b);
        } else if (!strstr(errstr, "corrupt")) {
                abort();
        }
        free(c);
        return 0;
}
