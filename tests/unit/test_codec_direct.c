/*
 * test_codec_direct.c - the codec's direct path (vg_codec_direct.c)
 * against Avro C's path, which stays the reference: every current schema
 * has a plan; on 20,000 random records of each type (strings empty, long,
 * multi-byte; optionals set and unset; integers at their limits; every
 * enum symbol) both write the same bytes and read them back to the same
 * record; on 200,000 mangled copies (bytes flipped, set to 0x00, 0x80 or
 * 0xFF, cut short, lengthened) both accept or both refuse, with the same
 * reason, and what they accept they read the same. A value Avro C's path
 * refuses to write (a required string missing, an enum or int out of
 * range) is declined by the direct path and refused by Avro C's, with
 * its words. The older schema versions shipped (other fields) have no
 * plan. The direct functions are also called on their own, so that a
 * direct path that declined everything (and left it all to Avro C's)
 * would fail.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vg_codec_int.h"
#include "vg_record_json.h"

static vg_codec_t *codec;
static uint64_t rng = 0x2545F4914F6CDD1Dull;

static uint64_t rnd(void) {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        return rng;
}

static int setup(void **state) {
        char errstr[256];
        (void)state;
        if (!(codec = vg_codec_new(errstr, sizeof(errstr))))
                fail_msg("vg_codec_new: %s", errstr);
        return 0;
}

static int teardown(void **state) {
        (void)state;
        vg_codec_destroy(codec);
        return 0;
}

static char *rnd_string(void) {
        static const char *const pieces[] = {"a", "Z", "0", "|", " ", "\"",
                                             "\\", "\xc3\xa5", "\xe2\x82\xac",
                                             "\xf0\x9f\x98\x80", "\x7f"};
        size_t n = rnd() % 4 == 0 ? 0 : rnd() % 40, len = 0;
        char *s;
        if (rnd() % 50 == 0)
                n = 200 + rnd() % 300; /* a length of two bytes */
        s = malloc(n * 4 + 1);
        for (size_t i = 0; i < n; i++) {
                const char *p = pieces[rnd() % (sizeof(pieces) /
                                                 sizeof(pieces[0]))];
                memcpy(s + len, p, strlen(p));
                len += strlen(p);
        }
        s[len] = '\0';
        return s;
}

static int64_t rnd_long(void) {
        switch (rnd() % 6) {
        case 0: return INT64_MIN;
        case 1: return INT64_MAX;
        case 2: return 0;
        case 3: return -(int64_t)(rnd() % 1000);
        default: return (int64_t)rnd();
        }
}

static int32_t rnd_int(void) {
        switch (rnd() % 5) {
        case 0: return INT32_MIN;
        case 1: return INT32_MAX;
        case 2: return -1;
        default: return (int32_t)(rnd() % 200);
        }
}

/* A random record of type, every field filled as its kind allows. */
static void rnd_record(vg_rectype_t type, void *rec) {
        const vg_rectype_desc_t *rt = vg_rectype(type);
        memset(rec, 0, rt->rt_size);
        if (VG_REC_IS_EVENT(type))
                ((vg_event_t *)rec)->ev_type = type;
        for (int i = 0; i < rt->rt_nfields; i++) {
                const vg_field_t *f = &rt->rt_fields[i];
                char *at = (char *)rec + f->vf_offset;
                bool set = rnd() % 3 != 0;
                switch (f->vf_type) {
                case VG_F_STRING:
                        *(char **)at = rnd_string();
                        break;
                case VG_F_OSTRING:
                        *(char **)at = set ? rnd_string() : NULL;
                        break;
                case VG_F_TIME:
                case VG_F_LONG:
                        *(int64_t *)at = rnd_long();
                        break;
                case VG_F_INT:
                        *(int32_t *)at = rnd_int();
                        break;
                case VG_F_OTIME:
                case VG_F_OLONG:
                        *(vg_optl_t *)at = (vg_optl_t){set, set ? rnd_long()
                                                                : 0};
                        break;
                case VG_F_OINT:
                        *(vg_optl_t *)at = (vg_optl_t){set, set ? rnd_int()
                                                                : 0};
                        break;
                case VG_F_BOOL:
                        *(bool *)at = rnd() & 1;
                        break;
                case VG_F_OBOOL:
                        *(vg_optl_t *)at =
                                (vg_optl_t){set, set ? (int64_t)(rnd() & 1)
                                                     : 0};
                        break;
                case VG_F_ENUM:
                        *(int *)at = (int)(rnd() % (uint64_t)f->vf_enum
                                                           ->ve_cnt);
                        break;
                case VG_F_ODOUBLE: {
                        static const double edge[] = {0.0, -0.0, DBL_MAX,
                                                      -DBL_MIN, 1e-310, 0.5};
                        double d = rnd() % 2 ? edge[rnd() % 6]
                                             : ((double)rnd() / 7.0 -
                                                1e18);
                        *(vg_optd_t *)at = (vg_optd_t){set, set ? d : 0};
                        break;
                }
                }
        }
}

/* The record as text: what both paths must agree on. */
static char *text_of(vg_rectype_t type, const void *rec) {
        json_t *j = vg_record_to_json(type, rec);
        char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
        json_decref(j);
        return s;
}

static vg_err_t enc(bool direct, vg_rectype_t type, const void *rec,
                    vg_buf_t *out, char *err) {
        vg_err_t e;
        codec->vc_no_direct = !direct;
        e = vg_codec_encode(codec, type, rec, out, err, 256);
        codec->vc_no_direct = false;
        return e;
}

/* Decodes data both ways: both succeed with the same record (its text in
 * *textp, caller frees) or both fail with the same reason. */
static int dec_both(const void *data, size_t len, char **textp) {
        vg_anyrec_t a, b;
        vg_rectype_t ta = VG_REC_ADMISSION, tb = VG_REC_ADMISSION;
        vg_decode_reason_t ra, rb;
        char err[256];
        vg_err_t ea, eb;
        codec->vc_no_direct = true;
        ea = vg_codec_decode(codec, data, len, -1, &ta, &a, &rb, err,
                             sizeof(err));
        rb = ea ? rb : VG_DECODE_OK;
        codec->vc_no_direct = false;
        eb = vg_codec_decode(codec, data, len, -1, &tb, &b, &ra, err,
                             sizeof(err));
        ra = eb ? ra : VG_DECODE_OK;
        assert_int_equal(ea != VG_OK, eb != VG_OK);
        assert_int_equal(ra, rb);
        if (ea)
                return -1;
        assert_int_equal(ta, tb);
        {
                char *x = text_of(ta, &a), *y = text_of(tb, &b);
                assert_string_equal(x, y);
                free(y);
                if (textp)
                        *textp = x;
                else
                        free(x);
        }
        vg_record_clear(ta, &a);
        vg_record_clear(tb, &b);
        return 0;
}

static const vg_codec_schema_t *current(vg_rectype_t t) {
        return &codec->vc_schemas[codec->vc_current[t]];
}

static void test_plans(void **state) {
        int older = 0;
        (void)state;
        for (int t = 0; t < VG_REC__CNT; t++)
                if (!current(t)->vcs_plan || !current(t)->vcs_plan->cp_encode)
                        fail_msg("%s: the current schema has no direct plan",
                                 vg_rectype(t)->rt_name);
        for (int i = 0; i < codec->vc_cnt; i++) {
                const vg_codec_schema_t *s = &codec->vc_schemas[i];
                if (s == current(s->vcs_type))
                        continue;
                older++;
                /* (every older version shipped has other fields) */
                assert_int_not_equal(avro_schema_record_size(s->vcs_schema),
                                     vg_rectype(s->vcs_type)->rt_nfields);
                assert_null(s->vcs_plan);
        }
        assert_true(older > 0);
}

static void test_random_records(void **state) {
        vg_buf_t a, b;
        char err[256];
        (void)state;
        vg_buf_init(&a);
        vg_buf_init(&b);
        for (int t = 0; t < VG_REC__CNT; t++)
                for (int k = 0; k < 20000; k++) {
                        vg_anyrec_t rec;
                        char *before, *after;
                        rnd_record(t, &rec);
                        vg_buf_reset(&a);
                        vg_buf_reset(&b);
                        if (enc(false, t, &rec, &a, err))
                                fail_msg("Avro C's path: %s", err);
                        if (enc(true, t, &rec, &b, err))
                                fail_msg("direct: %s", err);
                        assert_int_equal(a.vb_len, b.vb_len);
                        assert_memory_equal(a.vb_data, b.vb_data, a.vb_len);
                        /* the direct path itself took it, both ways */
                        {
                                vg_buf_t d;
                                vg_anyrec_t back;
                                vg_buf_init(&d);
                                assert_int_equal(vg_codec_direct_encode(
                                                         current(t)->vcs_plan,
                                                         &rec, &d),
                                                 0);
                                assert_int_equal(d.vb_len,
                                                 a.vb_len - VG_SOE_HEADER_LEN);
                                memset(&back, 0, sizeof(back));
                                assert_int_equal(vg_codec_direct_decode(
                                                         current(t)->vcs_plan,
                                                         t, d.vb_data,
                                                         d.vb_len, &back),
                                                 0);
                                vg_record_clear(t, &back);
                                vg_buf_free(&d);
                        }
                        before = text_of(t, &rec);
                        if (dec_both(b.vb_data, b.vb_len, &after))
                                fail_msg("%s: its own bytes refused",
                                         vg_rectype(t)->rt_name);
                        assert_string_equal(before, after);
                        free(before);
                        free(after);
                        vg_record_clear(t, &rec);
                }
        vg_buf_free(&a);
        vg_buf_free(&b);
}

static void test_mangled(void **state) {
        vg_buf_t a;
        char err[256];
        int taken = 0, refused = 0;
        (void)state;
        vg_buf_init(&a);
        for (int k = 0; k < 200000; k++) {
                vg_rectype_t t = (vg_rectype_t)(rnd() % VG_REC__CNT);
                vg_anyrec_t rec;
                unsigned char *c;
                size_t len, body;
                rnd_record(t, &rec);
                vg_buf_reset(&a);
                if (enc(true, t, &rec, &a, err))
                        fail_msg("%s", err);
                vg_record_clear(t, &rec);
                len = a.vb_len;
                c = malloc(len + 8);
                memcpy(c, a.vb_data, len);
                body = len - VG_SOE_HEADER_LEN; /* (the header kept) */
                switch (rnd() % 5) {
                case 0: /* cut short */
                        len = VG_SOE_HEADER_LEN + rnd() % body;
                        break;
                case 1: /* lengthened */
                        for (int i = 0; i < 1 + (int)(rnd() % 8); i++)
                                c[len++] = (unsigned char)rnd();
                        break;
                default: { /* 1-3 bytes set */
                        static const unsigned char v[] = {0x00, 0x80, 0xFF,
                                                          0x01, 0x7F};
                        for (int i = 0; i < 1 + (int)(rnd() % 3); i++)
                                c[VG_SOE_HEADER_LEN + rnd() % body] =
                                        rnd() % 2 ? v[rnd() % 5]
                                                  : (unsigned char)rnd();
                }
                }
                if (dec_both(c, len, NULL))
                        refused++;
                else
                        taken++;
                free(c);
        }
        print_message("    200000 mangled records: %d read the same by both "
                      "paths, %d refused by both for the same reason\n",
                      taken, refused);
        assert_true(taken > 1000 && refused > 1000);
        vg_buf_free(&a);
}

/* What Avro C's path refuses to write, the direct one declines (and
 * leaves the buffer as it was); the codec refuses it with Avro C's
 * path's words and writes nothing. */
static void refused(vg_rectype_t t, const void *rec) {
        vg_buf_t d, a, b;
        char ea[256], eb[256];
        vg_buf_init(&d);
        vg_buf_init(&a);
        vg_buf_init(&b);
        vg_buf_append(&d, "x", 1);
        assert_int_equal(vg_codec_direct_encode(current(t)->vcs_plan, rec, &d),
                         -1);
        assert_int_equal(d.vb_len, 1);
        assert_string_equal(d.vb_data, "x");
        assert_int_not_equal(enc(false, t, rec, &a, ea), VG_OK);
        assert_int_not_equal(enc(true, t, rec, &b, eb), VG_OK);
        assert_string_equal(ea, eb);
        assert_int_equal(a.vb_len, 0);
        assert_int_equal(b.vb_len, 0);
        vg_buf_free(&d);
        vg_buf_free(&a);
        vg_buf_free(&b);
}

static void test_refused_values(void **state) {
        vg_alert_t al;
        vg_event_t ev;
        (void)state;
        rnd_record(VG_REC_ALERT, &al);
        vg_free(al.al_alert_id);
        al.al_alert_id = NULL; /* required */
        refused(VG_REC_ALERT, &al);
        vg_record_clear(VG_REC_ALERT, &al);
        rnd_record(VG_REC_ADMISSION, &ev);
        ev.ev_care_setting = 99; /* out of range */
        refused(VG_REC_ADMISSION, &ev);
        vg_record_clear(VG_REC_ADMISSION, &ev);
        rnd_record(VG_REC_ALERT, &al);
        al.al_days_between = (vg_optl_t){true, (int64_t)INT32_MAX + 1};
        refused(VG_REC_ALERT, &al);
        vg_record_clear(VG_REC_ALERT, &al);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_plans),
                cmocka_unit_test(test_random_records),
                cmocka_unit_test(test_mangled),
                cmocka_unit_test(test_refused_values),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
