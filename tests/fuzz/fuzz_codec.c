/*
 * fuzz_codec.c - libFuzzer harness of the Avro decoder: vg_codec_decode on
 * arbitrary bytes must return a record or VG_ERR_DECODE with a reason, never
 * crash, leak or read out of bounds; a record it returns must encode again.
 * Its direct path (vg_codec_direct.c) and Avro C's must agree: both read
 * the bytes to the same record, or both refuse them for the same reason.
 * The same bytes after "Obj" 0x01, as a container file, go to vg_ocf_check
 * (file mode's look before Avro C reads one): an answer, never a crash.
 */
#define _GNU_SOURCE
#include "vg_codec_int.h"
#include "vg_record_json.h"
#include "vg_ocf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static vg_codec_t *codec;

static void codec_free(void) {
        vg_codec_destroy(codec);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char errstr[512];
        vg_anyrec_t rec;
        vg_rectype_t t;
        vg_decode_reason_t reason;

        if (!codec) {
                vg_log_level = VG_LOG_ERROR;
                if (!(codec = vg_codec_new(errstr, sizeof(errstr))))
                        abort();
                atexit(codec_free);
        }
        {
                unsigned char *ocf = malloc(size + 4);
                FILE *fp;
                if (!ocf)
                        abort();
                memcpy(ocf, "Obj\x01", 4);
                memcpy(ocf + 4, data, size);
                if ((fp = fmemopen(ocf, size + 4, "r"))) {
                        (void)vg_ocf_check(fp, "fuzz", errstr,
                                           sizeof(errstr));
                        fclose(fp);
                }
                free(ocf);
        }
        vg_err_t err = vg_codec_decode(codec, data, size, -1, &t, &rec,
                                       &reason, errstr, sizeof(errstr));
        {
                vg_anyrec_t ref;
                vg_rectype_t rt;
                vg_decode_reason_t rr;
                vg_err_t e;
                codec->vc_no_direct = true;
                e = vg_codec_decode(codec, data, size, -1, &rt, &ref, &rr,
                                    errstr, sizeof(errstr));
                codec->vc_no_direct = false;
                if ((e == VG_OK) != (err == VG_OK) || (e && rr != reason))
                        abort(); /* the paths disagree */
                if (!e) {
                        char *a = vg_record_to_jsonl(t, &rec);
                        char *b = vg_record_to_jsonl(rt, &ref);
                        if (t != rt || !a != !b || (a && strcmp(a, b)))
                                abort();
                        vg_free(a);
                        vg_free(b);
                        vg_record_clear(rt, &ref);
                }
        }
        if (err == VG_OK) {
                vg_buf_t out;
                vg_buf_init(&out);
                if (vg_codec_encode(codec, t, &rec, &out, errstr,
                                    sizeof(errstr)) != VG_OK)
                        abort(); /* decoded, so it must encode */
                vg_buf_free(&out);
                vg_record_clear(t, &rec);
        }
        return 0;
}
