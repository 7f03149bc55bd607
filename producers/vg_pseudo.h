/*
 * vg_pseudo.h - pseudonymisation of Swedish personal identity numbers
 * (SPEC §8): patient_id = lowercase hex(HMAC-SHA256(key, personnummer)).
 *
 * The personnummer is first normalised to 12 digits YYYYMMDDXXXX, so every
 * accepted spelling of one person gives the same patient_id:
 *
 *     YYYYMMDD-XXXX   YYYYMMDDXXXX   YYMMDD-XXXX   YYMMDD+XXXX   YYMMDDXXXX
 *
 * The check digit (last X) is the Luhn digit of the 10-digit form
 * YYMMDDXXXX. A samordningsnummer (coordination number) has day + 60.
 *
 * Error messages never contain the number or any part of it: callers may
 * print them as they are.
 */
#ifndef VG_PSEUDO_H
#define VG_PSEUDO_H

#include "vg_common.h"

/* Normalised personnummer "YYYYMMDDXXXX" plus NUL. */
#define VG_PSEUDO_PNR_BUFSZ 13
/* 64 lowercase hex digits plus NUL. */
#define VG_PSEUDO_HEX_BUFSZ 65
/* Shortest key accepted (bytes). */
#define VG_PSEUDO_KEY_MIN 16

/* Normalises pnr into out[VG_PSEUDO_PNR_BUFSZ]. today is the current local
 * date as days since 1970-01-01 (vg_days_from_civil); it picks the century
 * of the 10-digit forms: the latest century whose date is not after today,
 * minus 100 years with '+' (a person of 100 or more). Checks the format,
 * the date (day 61-91 allowed: samordningsnummer; not after today) and the
 * Luhn check digit. Returns VG_OK, or VG_ERR_INVALID with errstr
 * "invalid format ...", "invalid date" or "invalid check digit" (never
 * echoing the input). Pure: no I/O, no clock. */
vg_err_t vg_pseudo_normalise(const char *pnr, int64_t today, char *out,
                             char *errstr, size_t errstr_size);

/* True if s is a valid personnummer in any accepted spelling (with the
 * same rules as vg_pseudo_normalise). */
bool vg_pseudo_is_pnr(const char *s, int64_t today);

/* hexout[VG_PSEUDO_HEX_BUFSZ] = lowercase hex(HMAC-SHA256(key, normalised))
 * with OpenSSL. Returns VG_OK, or VG_ERR_ARG / VG_ERR_INTERNAL (key too
 * long for OpenSSL, HMAC failed) with hexout set to "". */
vg_err_t vg_pseudo_hmac(const void *key, size_t keylen, const char *normalised,
                        char *hexout);

/* A pseudonym key loaded from a file. */
typedef struct vg_pseudo_key_s {
        unsigned char *pk_data;  /* key bytes (heap, wiped on free) */
        size_t         pk_len;   /* number of bytes */
} vg_pseudo_key_t;

/* Loads the key file at path: its raw bytes, minus one trailing newline
 * ("\n" or "\r\n"). Fails (VG_ERR_IO: cannot read; VG_ERR_ARG: empty or
 * shorter than VG_PSEUDO_KEY_MIN bytes) with errstr naming the path. Sets
 * *group_readablep to 1 when group or others may read the file (callers
 * warn). */
vg_err_t vg_pseudo_key_load(const char *path, vg_pseudo_key_t *key,
                            int *group_readablep, char *errstr,
                            size_t errstr_size);

/* Wipes and frees the key; key may be NULL or empty. */
void vg_pseudo_key_clear(vg_pseudo_key_t *key);

/* Replaces, in place, every run spelt like a personnummer (12 or 10
 * digits, or 8/6 digits, '-', '+' or ' ', 4 digits; not inside a longer
 * digit run) by as many 'X', valid or not: a mistyped personnummer is still
 * personal data. For any message that quotes input. Pure. */
void vg_pseudo_redact(char *s);

/* True if s holds something spelt like a personnummer (10 or 12 digits, or
 * 6/8 digits, '-', '+' or ' ', 4 digits), valid or not, standing on its
 * own: not touching a letter or digit, so a hex pseudonym is not taken for
 * one. Pure. */
bool vg_pseudo_spelt_like(const char *s);

#endif /* VG_PSEUDO_H */
