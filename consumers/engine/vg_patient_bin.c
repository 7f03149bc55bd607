/*
 * vg_patient_bin.c - a patient's state in the compact binary form the
 * partition store and the changelog hold, and back (vg_patient_store.h).
 */
#include "vg_patient_bin_int.h"
#include "vg_patient_store.h"

#include <limits.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/*
 * The binary form the partition store writes (the JSON text of earlier
 * releases, vg_patient_store.c, is still read):
 *
 *   0xB1 0x03 (or 0x04)             magic, version
 *   events:  n, then per event its type byte and its fields in the field
 *            table's order, patient_id left out (it is the row's key)
 *   old ids, old cancelled ids: n, strings
 *   old stays (version 4 only, written when there are some): n, strings
 *   alerts:  n, then per alert its fields
 *   cells, frozen: n, then key, num, den, count
 *   next_due
 *   the checksum (32 bits, little-endian) of all the bytes before it:
 *   vg_patient_sum.c (sum64: versions 2 to 4; FNV-1a: version 1, still
 *   read)
 *
 * n is a varint; int, long and time zigzag varints;
 * optional values a 0/1 byte and the value; bool one byte; enum its index
 * as a varint; double 8 bytes as the machine holds it (a state file is
 * read where it was written). About a sixth of the JSON's size, and no
 * parse tree to read it back. Every read is bounds-checked and the
 * checksum must match: a corrupt state is an error, never a crash.
 *
 * Strings (versions 3 and 4; versions 1 and 2 wrote each as its length and
 * bytes): a varint v whose two low bits say what follows,
 *   0  the string's v >> 2 bytes;
 *   1  the string numbered v >> 2, written before in these bytes;
 *   2  v >> 2 (at least 1) bytes whose lowercase hex is the string
 *      (kommun codes, alert ids, hex pseudonyms and digits of even length);
 *   3  (v == 3) 16 bytes: a UUID in its lowercase 8-4-4-4-12 form.
 * The strings written as 0, 2 or 3 are numbered from 0 in the order they
 * come, the first STR_TAB of them. A patient's events and alerts repeat
 * kommun, source system, stay and facility ids: on the benchmark's
 * patients, events and alerts took 241 bytes instead of 368, and cells
 * with key names 115 instead of 309 (docs/ARCHITECTURE.md).
 * Key fields (below, cells_bin) are a varint v: v >> 1 bytes follow, or
 * (v odd) the field is key_names[v >> 1].
 */

#define BIN_MAGIC 0xB1
/* The hash of the encoder's probe tables (in memory only, never stored):
 * the length and the first and last 8 bytes, multiplied, its high bits
 * taken. A patient's strings differ in those (ids end in their own
 * numbers); strings that share them only probe further. FNV-1a, a
 * multiply per byte, was 2.6 % of Kafka mode's samples in perf. */
static uint32_t probe_hash(const char *s, size_t n) {
        uint64_t a = 0, b = 0;
        if (n >= 8) {
                memcpy(&a, s, 8);
                memcpy(&b, s + n - 8, 8);
        } else
                memcpy(&a, s, n);
        a = (a ^ (b << 29 | b >> 35) ^ n) * 0x9E3779B97F4A7C15u;
        return (uint32_t)(a >> 32);
}

static bool is_hex_digit(char c) {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

static unsigned hex_val(char c) {
        return c <= '9' ? (unsigned)(c - '0') : (unsigned)(c - 'a' + 10);
}

static bool is_hex(const char *s, size_t n) {
        if (!n || n % 2)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!is_hex_digit(s[i]))
                        return false;
        return true;
}

static bool is_uuid(const char *s, size_t n) {
        if (n != 36)
                return false;
        for (size_t i = 0; i < 36; i++)
                if (i == 8 || i == 13 || i == 18 || i == 23 ? s[i] != '-'
                                                            : !is_hex_digit(s[i]))
                        return false;
        return true;
}

static void put_hex(vg_buf_t *b, const char *s, size_t n) {
        for (size_t i = 0; i < n; i += 2) {
                unsigned char c = (unsigned char)(hex_val(s[i]) << 4 |
                                                  hex_val(s[i + 1]));
                vg_buf_append(b, &c, 1);
        }
}

static void put_str_n(stab_t *t, vg_buf_t *b, const char *s, size_t n) {
        uint32_t h = probe_hash(s, n);
        size_t i = h & (STR_SLOTS - 1);
        /* (the hash first: a long history's ids are of one length, and
         * once the table is full each new one probes past several) */
        for (; t->st_slot[i]; i = (i + 1) & (STR_SLOTS - 1)) {
                int k = t->st_slot[i] - 1;
                if (t->st_h[k] == h && t->st_len[k] == n &&
                    !memcmp(t->st_s[k], s, n)) {
                        vg_buf_put_varint(b, (uint64_t)k << 2 | 1);
                        return;
                }
        }
        if (t->st_n < STR_TAB) {
                t->st_s[t->st_n] = s;
                t->st_len[t->st_n] = n;
                t->st_h[t->st_n] = h;
                t->st_slot[i] = (unsigned char)++t->st_n;
        }
        if (is_uuid(s, n)) {
                vg_buf_put_varint(b, 3);
                put_hex(b, s, 8);
                put_hex(b, s + 9, 4);
                put_hex(b, s + 14, 4);
                put_hex(b, s + 19, 4);
                put_hex(b, s + 24, 12);
        } else if (is_hex(s, n)) {
                vg_buf_put_varint(b, (uint64_t)(n / 2) << 2 | 2);
                put_hex(b, s, n);
        } else {
                vg_buf_put_varint(b, (uint64_t)n << 2);
                vg_buf_append(b, s, n);
        }
}

static void put_str(stab_t *t, vg_buf_t *b, const char *s) {
        size_t n = strlen(s), at = b->vb_len;
        put_str_n(t, b, s, n);
        t->st_slack += STR_BOUND(n) - (b->vb_len - at);
}

static void put_zz(vg_buf_t *b, int64_t v) {
        vg_buf_put_varint(b, ((uint64_t)v << 1) ^ (0 - ((uint64_t)v >> 63)));
}

static void put_byte(vg_buf_t *b, unsigned char c) {
        vg_buf_append(b, &c, 1);
}

#define FP(rec, f, T) ((T *)((char *)(rec) + (f)->vf_offset))
#define CFP(rec, f, T) ((const T *)((const char *)(rec) + (f)->vf_offset))

/* (by its offset: a strcmp per field of every event was 1.7 % of Kafka
 * mode's CPU) */
static bool is_patient_id(vg_rectype_t type, const vg_field_t *f) {
        return VG_REC_IS_EVENT(type) &&
               f->vf_offset == offsetof(vg_event_t, ev_patient_id);
}

void vg_pbin_rec_write(stab_t *t, vg_buf_t *b, vg_rectype_t type,
                       const void *rec) {
        const vg_rectype_desc_t *rt = vg_rectype(type);
        for (int i = 0; i < rt->rt_nfields; i++) {
                const vg_field_t *f = &rt->rt_fields[i];
                const vg_optl_t *ol = CFP(rec, f, vg_optl_t);
                const vg_optd_t *od = CFP(rec, f, vg_optd_t);
                const char *s;
                if (is_patient_id(type, f))
                        continue;
                switch (f->vf_type) {
                case VG_F_STRING:
                        s = *CFP(rec, f, char *);
                        put_str(t, b, s ? s : "");
                        break;
                case VG_F_OSTRING:
                        s = *CFP(rec, f, char *);
                        put_byte(b, s != NULL);
                        if (s)
                                put_str(t, b, s);
                        break;
                case VG_F_TIME:
                case VG_F_LONG:
                        put_zz(b, *CFP(rec, f, int64_t));
                        break;
                case VG_F_INT:
                        put_zz(b, *CFP(rec, f, int32_t));
                        break;
                case VG_F_OTIME:
                case VG_F_OINT:
                case VG_F_OLONG:
                case VG_F_OBOOL:
                        put_byte(b, ol->set);
                        if (ol->set)
                                put_zz(b, ol->v);
                        break;
                case VG_F_BOOL:
                        put_byte(b, *CFP(rec, f, bool));
                        break;
                case VG_F_ENUM:
                        vg_buf_put_varint(b, (uint64_t)*CFP(rec, f, int));
                        break;
                case VG_F_ODOUBLE:
                        put_byte(b, od->set);
                        if (od->set)
                                vg_buf_append(b, &od->v, sizeof(od->v));
                        break;
                }
        }
}

/* A case key is "|"-separated fields, and a patient's keys share most of
 * them (kommun, age band, sex, diagnosis, residence): each key is written
 * as its field count, a bitmap of the fields equal to the previous key's,
 * and the other fields. A key of more than 8 fields is written whole
 * (count 0xFF). */
#define KEY_FIELDS 8

/* Version 3's names of key fields, by number: the indicators (the first
 * field of every case key). The numbers are stored: never reorder; a
 * name added is a new format version (a reader of this one refuses a
 * number past its table as corrupt). */
static const char *const key_names[] = {
        "readmission_30d", "sip_within_deadline", "eol_admission_30d",
        "eol_readmission_30d", "sip_before_death", "register_coverage",
        "death_place.HOSPITAL", "death_place.PALLIATIVE_UNIT",
        "death_place.NURSING_HOME", "death_place.SHORT_TERM_CARE",
        "death_place.HOME", "death_place.HOME_WITH_SSIH", "death_place.OTHER",
        "death_place.UNKNOWN", "spr.eol_conversation", "spr.pain_assessed",
        "spr.symptoms_assessed", "spr.oral_health_assessed",
        "spr.prn_opioid", "spr.prn_anxiolytic", "spr.prn_antiemetic",
        "spr.prn_antisecretory", "spr.present_at_death",
        "spr.bereavement_offered", "spr.pressure_ulcer_free",
        "ssih_enrolment.0-64.CANCER", "ssih_enrolment.0-64.COPD",
        "ssih_enrolment.0-64.HEART_FAILURE",
        "ssih_enrolment.0-64.KIDNEY_FAILURE", "ssih_enrolment.0-64.DEMENTIA",
        "ssih_enrolment.0-64.OTHER", "ssih_enrolment.65-74.CANCER",
        "ssih_enrolment.65-74.COPD", "ssih_enrolment.65-74.HEART_FAILURE",
        "ssih_enrolment.65-74.KIDNEY_FAILURE",
        "ssih_enrolment.65-74.DEMENTIA", "ssih_enrolment.65-74.OTHER",
        "ssih_enrolment.75-84.CANCER", "ssih_enrolment.75-84.COPD",
        "ssih_enrolment.75-84.HEART_FAILURE",
        "ssih_enrolment.75-84.KIDNEY_FAILURE",
        "ssih_enrolment.75-84.DEMENTIA", "ssih_enrolment.75-84.OTHER",
        "ssih_enrolment.85+.CANCER", "ssih_enrolment.85+.COPD",
        "ssih_enrolment.85+.HEART_FAILURE",
        "ssih_enrolment.85+.KIDNEY_FAILURE", "ssih_enrolment.85+.DEMENTIA",
        "ssih_enrolment.85+.OTHER",
};
#define NKEY_NAMES ((int)(sizeof(key_names) / sizeof(key_names[0])))
#define NAME_SLOTS 128

/* key_names' number + 1 by hash, made once (the workers encode at once) */
static unsigned char name_slot[NAME_SLOTS];
static size_t name_len[NKEY_NAMES];
static pthread_once_t names_once = PTHREAD_ONCE_INIT;

static void names_init(void) {
        for (int k = 0; k < NKEY_NAMES; k++) {
                size_t i;
                name_len[k] = strlen(key_names[k]);
                i = probe_hash(key_names[k], name_len[k]) & (NAME_SLOTS - 1);
                while (name_slot[i])
                        i = (i + 1) & (NAME_SLOTS - 1);
                name_slot[i] = (unsigned char)(k + 1);
        }
}

static int key_name(const char *f, size_t l) {
        size_t i = probe_hash(f, l) & (NAME_SLOTS - 1);
        for (; name_slot[i]; i = (i + 1) & (NAME_SLOTS - 1)) {
                int k = name_slot[i] - 1;
                if (name_len[k] == l && !memcmp(key_names[k], f, l))
                        return k;
        }
        return -1;
}

int vg_patient_key_name(const char *field, size_t len) {
        pthread_once(&names_once, names_init);
        return key_name(field, len);
}

static void put_field(vg_buf_t *b, const char *f, size_t l) {
        int k = key_name(f, l);
        if (k >= 0) {
                vg_buf_put_varint(b, (uint64_t)k << 1 | 1);
                return;
        }
        vg_buf_put_varint(b, (uint64_t)l << 1);
        vg_buf_append(b, f, l);
}

static int key_split(const char *k, const char *f[KEY_FIELDS],
                     size_t len[KEY_FIELDS]) {
        int n = 0;
        for (const char *p = k;; p++) {
                if (*p != '|' && *p)
                        continue;
                if (n == KEY_FIELDS)
                        return -1;
                f[n] = k;
                len[n++] = (size_t)(p - k);
                if (!*p)
                        return n;
                k = p + 1;
        }
}

/* Whether key k has the same text after its first field as the previous
 * key (split in pf, pl, pn): most of a patient's keys differ only in the
 * indicator. If so, k's fields are set in f, l without splitting k (those
 * after the first point into k where the previous key's were) and their
 * count is returned; else -1. */
static int key_same_tail(const char *k, const char *pf[KEY_FIELDS],
                         const size_t pl[KEY_FIELDS], int pn,
                         const char *f[KEY_FIELDS], size_t l[KEY_FIELDS]) {
        const char *bar = strchr(k, '|');
        size_t tail;
        if (pn < 2 || !bar)
                return -1;
        /* the previous key's text after its first field */
        tail = (size_t)(pf[pn - 1] + pl[pn - 1] - (pf[1] - 1));
        if (strncmp(bar, pf[1] - 1, tail) || bar[tail])
                return -1;
        f[0] = k;
        l[0] = (size_t)(bar - k);
        for (int j = 1; j < pn; j++) {
                f[j] = bar + 1 + (pf[j] - pf[1]);
                l[j] = pl[j];
        }
        return pn;
}

static void cells_bin(stab_t *t, vg_buf_t *b, const vg_cell_t *c, int n) {
        const char *pf[KEY_FIELDS];
        size_t pl[KEY_FIELDS];
        int pn = 0;
        vg_buf_put_varint(b, (uint64_t)n);
        for (int i = 0; i < n; i++) {
                const char *f[KEY_FIELDS];
                size_t l[KEY_FIELDS];
                int fn = key_same_tail(c[i].ce_key, pf, pl, pn, f, l);
                unsigned char same = 0;
                if (fn > 0) { /* (fields 1.. equal; the first compared) */
                        same = (unsigned char)((1u << fn) - 2);
                        if (l[0] == pl[0] && !memcmp(f[0], pf[0], l[0]))
                                same |= 1;
                } else if ((fn = key_split(c[i].ce_key, f, l)) > 0)
                        for (int j = 0; j < fn; j++)
                                if (j < pn && l[j] == pl[j] &&
                                    !memcmp(f[j], pf[j], l[j]))
                                        same |= (unsigned char)(1u << j);
                if (fn < 0) {
                        put_byte(b, 0xFF);
                        put_str(t, b, c[i].ce_key);
                        pn = 0;
                } else {
                        put_byte(b, (unsigned char)fn);
                        put_byte(b, same);
                        for (int j = 0; j < fn; j++)
                                if (!(same & (1u << j)))
                                        put_field(b, f[j], l[j]);
                        memcpy(pf, f, sizeof(f));
                        memcpy(pl, l, sizeof(l));
                        pn = fn;
                }
                put_zz(b, c[i].ce_num);
                put_zz(b, c[i].ce_den);
                put_byte(b, c[i].ce_count);
        }
}

size_t vg_patient_encode(const vg_patient_t *pt, vg_buf_t *b) {
        size_t start = b->vb_len;
        unsigned char sum[4];
        uint32_t h;
        stab_t t;
        t.st_n = 0;
        t.st_slack = 0;
        memset(t.st_slot, 0, sizeof(t.st_slot));
        pthread_once(&names_once, names_init);
        put_byte(b, BIN_MAGIC);
        /* (version 3 unless there are pruned stays: what earlier
         * releases read) */
        put_byte(b, pt->pt_nold_stays ? BIN_VERSION : 3);
        vg_buf_put_varint(b, (uint64_t)pt->pt_nevents);
        for (int i = 0; i < pt->pt_nevents; i++) {
                put_byte(b, (unsigned char)pt->pt_events[i].ev_type);
                vg_pbin_rec_write(&t, b, pt->pt_events[i].ev_type,
                          &pt->pt_events[i]);
        }
        vg_buf_put_varint(b, (uint64_t)pt->pt_nold);
        for (int i = 0; i < pt->pt_nold; i++)
                put_str(&t, b, pt->pt_old_ids[i]);
        vg_buf_put_varint(b, (uint64_t)pt->pt_nold_cancelled);
        for (int i = 0; i < pt->pt_nold_cancelled; i++)
                put_str(&t, b, pt->pt_old_cancelled[i]);
        if (pt->pt_nold_stays) {
                vg_buf_put_varint(b, (uint64_t)pt->pt_nold_stays);
                for (int i = 0; i < pt->pt_nold_stays; i++)
                        put_str(&t, b, pt->pt_old_stays[i]);
        }
        vg_buf_put_varint(b, (uint64_t)pt->pt_nalerts);
        for (int i = 0; i < pt->pt_nalerts; i++)
                vg_pbin_rec_write(&t, b, VG_REC_ALERT, &pt->pt_alerts[i]);
        cells_bin(&t, b, pt->pt_cells, pt->pt_ncells);
        cells_bin(&t, b, pt->pt_frozen, pt->pt_nfrozen);
        put_zz(b, pt->pt_next_due);
        h = vg_patient_checksum(b->vb_data + start, b->vb_len - start);
        for (int i = 0; i < 4; i++)
                sum[i] = (unsigned char)(h >> (8 * i));
        vg_buf_append(b, sum, 4);
        return b->vb_len - start + t.st_slack;
}

/* Only the strings' bytes depend on what was numbered before them: the
 * rest of the state writes the same bytes with ev added. */
size_t vg_patient_event_growth(const vg_event_t *ev) {
        const vg_rectype_desc_t *rt = vg_rectype(ev->ev_type);
        size_t g = 1 + 10 + 10; /* type byte; event count, next_due */
        for (int i = 0; i < rt->rt_nfields; i++) {
                const vg_field_t *f = &rt->rt_fields[i];
                const char *s;
                if (is_patient_id(ev->ev_type, f))
                        continue;
                if (f->vf_type == VG_F_STRING ||
                    f->vf_type == VG_F_OSTRING) {
                        s = *CFP(ev, f, char *);
                        g += 1 + STR_BOUND(s ? strlen(s) : 0);
                } else /* (a varint, a presence byte, a double) */
                        g += 1 + 10;
        }
        return g;
}

static uint64_t get_varint(rd_t *r) {
        uint64_t v = 0;
        for (int shift = 0; shift < 64; shift += 7) {
                unsigned char c;
                if (r->p >= r->end) {
                        r->bad = true;
                        return 0;
                }
                c = *r->p++;
                v |= (uint64_t)(c & 0x7f) << shift;
                if (!(c & 0x80))
                        return v;
        }
        r->bad = true;
        return 0;
}

static int64_t get_zz(rd_t *r) {
        uint64_t u = get_varint(r);
        return (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
}

static unsigned char get_byte(rd_t *r) {
        if (r->p >= r->end) {
                r->bad = true;
                return 0;
        }
        return *r->p++;
}

/* A count of items of at least one byte each: never more than remain. */
static int get_count(rd_t *r) {
        uint64_t n = get_varint(r);
        if (n > (uint64_t)(r->end - r->p) || n > INT32_MAX) {
                r->bad = true;
                return 0;
        }
        return (int)n;
}

/* A string of version 3 (after its varint v), or NULL (r->bad). */
static char *get_str3(rd_t *r, uint64_t v) {
        uint64_t n = v >> 2;
        const unsigned char *p = r->p;
        char *s;
        switch (v & 3) {
        case 1:
                /* (a repeat costs a byte or two and may make a long
                 * string: what all make is bounded, r->budget) */
                if (n >= (uint64_t)r->ntab || r->tlen[n] > r->budget)
                        break;
                r->budget -= r->tlen[n];
                return vg_strdup(r->tab[n]);
        case 3:
                if (n || r->end - p < 16)
                        break;
                s = vg_malloc(37);
                vg_hex(s, p, 4);
                vg_hex(s + 9, p + 4, 2);
                vg_hex(s + 14, p + 6, 2);
                vg_hex(s + 19, p + 8, 2);
                vg_hex(s + 24, p + 10, 6);
                /* (each wrote a NUL after its digits: the dashes
                 * take their places, the last ends the string) */
                s[8] = s[13] = s[18] = s[23] = '-';
                r->p += 16;
                return s;
        case 2:
                if (!n || n > (uint64_t)(r->end - p))
                        break;
                s = vg_malloc(2 * (size_t)n + 1);
                vg_hex(s, p, (size_t)n);
                r->p += n;
                return s;
        default:
                if (n > (uint64_t)(r->end - p) || memchr(p, '\0', (size_t)n))
                        break;
                r->p += n;
                return vg_strndup((const char *)p, (size_t)n);
        }
        r->bad = true;
        return NULL;
}

static char *get_str(rd_t *r) {
        uint64_t n = get_varint(r);
        char *s;
        if (r->bad)
                return NULL;
        if (r->version >= 3) {
                if ((s = get_str3(r, n)) && (n & 3) != 1 &&
                    r->ntab < STR_TAB) {
                        r->tlen[r->ntab] = strlen(s);
                        r->tab[r->ntab++] = s;
                }
                return s;
        }
        if (n > (uint64_t)(r->end - r->p) || memchr(r->p, '\0', (size_t)n)) {
                r->bad = true;
                return NULL;
        }
        s = vg_strndup((const char *)r->p, (size_t)n);
        r->p += n;
        return s;
}

/* A count, then that many strings, into a new array (*out, *n; those
 * read before a bad one are kept, to be freed with the patient). */
static void get_strs(rd_t *r, char ***out, int *n) {
        int cnt = get_count(r);
        *out = vg_calloc((size_t)cnt + 1, sizeof(char *));
        for (int i = 0; i < cnt && !r->bad; i++)
                if (((*out)[*n] = get_str(r)))
                        (*n)++;
}

void vg_pbin_rec_read(rd_t *r, vg_rectype_t type, void *rec,
                      const char *patient_id) {
        const vg_rectype_desc_t *rt = vg_rectype(type);
        memset(rec, 0, rt->rt_size);
        if (VG_REC_IS_EVENT(type))
                ((vg_event_t *)rec)->ev_type = type;
        for (int i = 0; i < rt->rt_nfields && !r->bad; i++) {
                const vg_field_t *f = &rt->rt_fields[i];
                vg_optl_t *ol = FP(rec, f, vg_optl_t);
                vg_optd_t *od = FP(rec, f, vg_optd_t);
                int64_t v;
                uint64_t u;
                if (is_patient_id(type, f)) {
                        *FP(rec, f, char *) = vg_strdup(patient_id);
                        continue;
                }
                switch (f->vf_type) {
                case VG_F_STRING:
                        *FP(rec, f, char *) = get_str(r);
                        break;
                case VG_F_OSTRING:
                        if (get_byte(r))
                                *FP(rec, f, char *) = get_str(r);
                        break;
                case VG_F_TIME:
                case VG_F_LONG:
                        *FP(rec, f, int64_t) = get_zz(r);
                        break;
                case VG_F_INT:
                        v = get_zz(r);
                        if (v < INT32_MIN || v > INT32_MAX)
                                r->bad = true;
                        *FP(rec, f, int32_t) = (int32_t)v;
                        break;
                case VG_F_OTIME:
                case VG_F_OINT:
                case VG_F_OLONG:
                case VG_F_OBOOL:
                        if ((ol->set = get_byte(r) != 0))
                                ol->v = get_zz(r);
                        break;
                case VG_F_BOOL:
                        *FP(rec, f, bool) = get_byte(r) != 0;
                        break;
                case VG_F_ENUM:
                        u = get_varint(r);
                        if (u >= (uint64_t)f->vf_enum->ve_cnt)
                                r->bad = true;
                        *FP(rec, f, int) = (int)(r->bad ? 0 : u);
                        break;
                case VG_F_ODOUBLE:
                        if ((od->set = get_byte(r) != 0)) {
                                if ((size_t)(r->end - r->p) < sizeof(od->v)) {
                                        r->bad = true;
                                        break;
                                }
                                memcpy(&od->v, r->p, sizeof(od->v));
                                r->p += sizeof(od->v);
                        }
                        break;
                }
        }
}

/* The next field of a key as written by cells_bin: length and bytes (no
 * "|", no NUL). */
static bool get_field(rd_t *r, const unsigned char **p, size_t *len) {
        uint64_t n = get_varint(r);
        if (r->version >= 3 && !r->bad) {
                if (n & 1) {
                        if (n >> 1 >= (uint64_t)NKEY_NAMES) {
                                r->bad = true;
                                return false;
                        }
                        *p = (const unsigned char *)key_names[n >> 1];
                        *len = name_len[n >> 1];
                        return true;
                }
                n >>= 1;
        }
        if (r->bad || n > (uint64_t)(r->end - r->p) ||
            memchr(r->p, '|', (size_t)n) || memchr(r->p, '\0', (size_t)n)) {
                r->bad = true;
                return false;
        }
        *p = r->p;
        *len = (size_t)n;
        r->p += n;
        return true;
}

/* A key whose fields after the first are those of the previous key prev
 * (split in po, pl, pn): its first field, read or (first_same) the
 * previous key's, and prev's text from the "|" before its field 1 - most
 * keys of a patient differ only in the indicator. Its fields in fo, fl;
 * NULL if the first field is bad. */
static char *key_with_tail(rd_t *r, bool first_same, const char *prev,
                           const size_t po[KEY_FIELDS],
                           const size_t pl[KEY_FIELDS], int pn,
                           size_t fo[KEY_FIELDS], size_t fl[KEY_FIELDS]) {
        const unsigned char *f0 = (const unsigned char *)prev;
        size_t l0 = pl[0], off = po[1] - 1;
        size_t tail = po[pn - 1] + pl[pn - 1] - off;
        char *key;
        if (!first_same && !get_field(r, &f0, &l0))
                return NULL;
        key = vg_malloc(l0 + tail + 1);
        memcpy(key, f0, l0);
        memcpy(key + l0, prev + off, tail);
        key[l0 + tail] = '\0';
        fo[0] = 0;
        fl[0] = l0;
        for (int j = 1; j < pn; j++) {
                fo[j] = l0 + po[j] - off;
                fl[j] = pl[j];
        }
        return key;
}

/* A key of fn fields: those whose bit is set in same are the previous
 * key's (prev, split in po, pl, pn), the others read; built in kb. Its
 * fields in fo, fl; NULL (r->bad) if bad. */
static char *key_fields(rd_t *r, int fn, unsigned same, const char *prev,
                        const size_t po[KEY_FIELDS],
                        const size_t pl[KEY_FIELDS], int pn,
                        size_t fo[KEY_FIELDS], size_t fl[KEY_FIELDS],
                        vg_buf_t *kb) {
        if (same >> fn)
                r->bad = true;
        vg_buf_reset(kb);
        for (int j = 0; j < fn && !r->bad; j++) {
                const unsigned char *fp;
                if (j)
                        vg_buf_append(kb, "|", 1);
                fo[j] = kb->vb_len;
                if (same & (1u << j)) {
                        if (j >= pn) {
                                r->bad = true;
                                break;
                        }
                        fl[j] = pl[j];
                        vg_buf_append(kb, prev + po[j], pl[j]);
                } else if (get_field(r, &fp, &fl[j])) {
                        vg_buf_append(kb, fp, fl[j]);
                }
        }
        return r->bad ? NULL : vg_strndup(kb->vb_data, kb->vb_len);
}

static void cells_read(rd_t *r, vg_cell_t **out, int *n) {
        int cnt = get_count(r), pn = 0;
        /* the previous key's fields: offsets in its key, lengths */
        size_t po[KEY_FIELDS], pl[KEY_FIELDS];
        vg_buf_t kb;
        /* (cnt is at most the bytes left: the array is cut to its
         * length, as vg_engine_apply() keeps it) */
        *out = cnt ? vg_malloc(sizeof(vg_cell_t) * (size_t)cnt) : NULL;
        *n = 0;
        vg_buf_init(&kb);
        for (int i = 0; i < cnt && !r->bad; i++) {
                unsigned char fn = get_byte(r);
                size_t fo[KEY_FIELDS], fl[KEY_FIELDS];
                char *key = NULL;
                if (fn == 0xFF) {
                        key = get_str(r);
                        pn = 0;
                } else if (fn < 1 || fn > KEY_FIELDS) {
                        r->bad = true;
                } else {
                        unsigned char same = get_byte(r);
                        const char *prev = *n ? (*out)[*n - 1].ce_key : "";
                        key = fn == pn && fn >= 2 &&
                                              (same | 1u) == (1u << fn) - 1
                                      ? key_with_tail(r, same & 1, prev, po,
                                                      pl, fn, fo, fl)
                                      : key_fields(r, fn, same, prev, po, pl,
                                                   pn, fo, fl, &kb);
                        if (key) {
                                memcpy(po, fo, sizeof(fo));
                                memcpy(pl, fl, sizeof(fl));
                                pn = fn;
                        }
                }
                int64_t num = get_zz(r), den = get_zz(r);
                bool count = get_byte(r) != 0;
                /* (a key made of the previous one's fields costs a few
                 * bytes: bounded as repeats are) */
                if (key && strlen(key) > r->budget)
                        r->bad = true;
                else if (key)
                        r->budget -= strlen(key);
                if (!r->bad && key) {
                        (*out)[*n].ce_key = key;
                        (*out)[*n].ce_num = num;
                        (*out)[*n].ce_den = den;
                        (*out)[*n].ce_count = count;
                        (*n)++;
                } else {
                        r->bad = true;
                        vg_free(key);
                }
        }
        vg_buf_free(&kb);
}

static vg_patient_t *decode_bin(const char *patient_id, const void *data,
                                size_t len, bool check, char *errstr,
                                size_t errstr_size) {
        const unsigned char *d = data;
        rd_t r;
        vg_patient_t *pt;
        int n, version = len >= 2 ? d[1] : 0;

        if (version < 1 || version > BIN_VERSION)
                return vg_seterr(errstr, errstr_size, VG_ERR_STORE,
                                 "patient state of %s is corrupt or of a "
                                 "newer release (format %d; this one reads "
                                 "1 to %d)",
                                 patient_id, version, BIN_VERSION),
                       NULL;
        r.p = d;
        r.end = d + (len >= 4 ? len - 4 : 0);
        r.bad = len < 4;
        r.version = version;
        r.ntab = 0;
        /* Repeats (strings, key fields) make at most 64 MiB, or 64 times
         * the state's bytes if more: far above any patient's (its events
         * and alerts repeat a few ids each), while a crafted state with a
         * matching checksum could otherwise ask for terabytes. */
        r.budget = len > ((size_t)1 << 20) ? 64 * len : (size_t)64 << 20;
        pthread_once(&names_once, names_init);
        if (!r.bad && check) {
                uint32_t h = vg_patient_checksum(d, len - 4), want = 0;
                for (int i = 0; i < 4; i++)
                        want |= (uint32_t)d[len - 4 + i] << (8 * i);
                r.bad = h != want;
        }
        if (r.bad)
                return vg_seterr(errstr, errstr_size, VG_ERR_STORE,
                                 "patient state of %s is corrupt "
                                 "(checksum)", patient_id),
                       NULL;
        pt = vg_patient_new(patient_id);

        if (get_byte(&r) != BIN_MAGIC || get_byte(&r) != version)
                r.bad = true;
        n = get_count(&r);
        pt->pt_cap = n + 1;
        pt->pt_events = vg_calloc((size_t)pt->pt_cap, sizeof(vg_event_t));
        for (int i = 0; i < n && !r.bad; i++) {
                int type = get_byte(&r);
                if (!VG_REC_IS_EVENT(type)) {
                        r.bad = true;
                        break;
                }
                vg_pbin_rec_read(&r, (vg_rectype_t)type, &pt->pt_events[i],
                                 patient_id);
                pt->pt_nevents++; /* cleared with the patient if bad */
        }
        get_strs(&r, &pt->pt_old_ids, &pt->pt_nold);
        get_strs(&r, &pt->pt_old_cancelled, &pt->pt_nold_cancelled);
        if (version >= 4)
                get_strs(&r, &pt->pt_old_stays, &pt->pt_nold_stays);
        n = get_count(&r);
        pt->pt_alerts = vg_calloc((size_t)n + 1, sizeof(vg_alert_t));
        for (int i = 0; i < n && !r.bad; i++) {
                vg_pbin_rec_read(&r, VG_REC_ALERT, &pt->pt_alerts[i],
                                 patient_id);
                pt->pt_nalerts++;
        }
        cells_read(&r, &pt->pt_cells, &pt->pt_ncells);
        cells_read(&r, &pt->pt_frozen, &pt->pt_nfrozen);
        pt->pt_next_due = get_zz(&r);
        if (r.bad || r.p != r.end) {
                vg_seterr(errstr, errstr_size, VG_ERR_STORE,
                          "patient state of %s is corrupt", patient_id);
                vg_patient_destroy(pt);
                return NULL;
        }
        return pt;
}

vg_patient_t *vg_patient_decode(const char *patient_id, const void *data,
                                size_t len, char *errstr,
                                size_t errstr_size) {
        vg_patient_t *pt;
        char *text;
        if (len && *(const unsigned char *)data == BIN_MAGIC)
                return decode_bin(patient_id, data, len, true, errstr,
                                  errstr_size);
        /* The JSON text of earlier releases. */
        text = vg_strndup(data, len);
        pt = vg_patient_parse(patient_id, text, errstr, errstr_size);
        vg_free(text);
        return pt;
}

vg_patient_t *vg_patient_decode_own(const char *patient_id, const void *data,
                                    size_t len, char *errstr,
                                    size_t errstr_size) {
        return decode_bin(patient_id, data, len, false, errstr, errstr_size);
}
