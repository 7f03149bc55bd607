/*
 * vg_patient_sum.c - the checksum a patient's binary state ends with
 * (vg_patient_bin.c), by the format version in its second byte.
 */
#include "vg_patient_store.h"

#include <string.h>

/* FNV-1a: format 1's checksum */
static uint32_t fnv1a(const unsigned char *p, size_t n) {
        uint32_t h = 2166136261u;
        for (size_t i = 0; i < n; i++)
                h = (h ^ p[i]) * 16777619u;
        return h;
}

/* n <= 8 bytes as a little-endian word (one load on the machines this
 * runs on). */
static uint64_t le64(const unsigned char *p, size_t n) {
        uint64_t w = 0;
        memcpy(&w, p, n);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
        w = __builtin_bswap64(w);
#endif
        return w;
}

/* Eight bytes a step, each step a bijection of the 64-bit running value
 * (so one changed word changes it), then (version 3) mixed and folded to
 * 32 bits: a change goes unnoticed with a chance of 2^-32. FNV-1a's byte
 * at a time was 2 % of Kafka mode's CPU once a patient was encoded and
 * decoded per event. Version 2 folded without the last mix, and missed
 * a change in the high half of the last word of a state whose length
 * (checksum left out) is a multiple of eight: the fold cancels it (a
 * multiplication carries a change only upwards). It is still read. */
static uint32_t sum64(const unsigned char *p, size_t n, int version) {
        uint64_t h = 0x9e3779b97f4a7c15ull ^ n;
        for (; n >= 8; p += 8, n -= 8) {
                h = (h ^ le64(p, 8)) * 0xff51afd7ed558ccdull;
                h ^= h >> 32;
        }
        if (n) {
                h = (h ^ le64(p, n)) * 0xc4ceb9fe1a85ec53ull;
                h ^= h >> 29;
        }
        if (version >= 3) { /* (MurmurHash3's fmix64) */
                h ^= h >> 33;
                h *= 0xff51afd7ed558ccdull;
                h ^= h >> 33;
                h *= 0xc4ceb9fe1a85ec53ull;
                h ^= h >> 33;
        }
        return (uint32_t)(h ^ (h >> 32));
}

uint32_t vg_patient_checksum(const void *data, size_t len) {
        const unsigned char *d = data;
        int version = len >= 2 ? d[1] : 0;
        return version == 1 ? fnv1a(d, len) : sum64(d, len, version);
}
