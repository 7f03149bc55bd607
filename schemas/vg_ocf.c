/*
 * vg_ocf.c - a bounded look at an Avro object container file (vg_ocf.h).
 *
 * The layout (Avro specification, "Object Container Files"): "Obj" 0x01;
 * the metadata, a map of bytes (blocks of a zigzag count, and with a
 * negative count their byte size, then key and value each as a length and
 * bytes; a count of 0 ends it); 16 bytes of sync marker; then blocks: the
 * record count, the byte size, the (compressed) records, the sync marker.
 */
#include "vg_ocf.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define META_MAX_ENTRIES 1024
#define META_MAX_BYTES   ((int64_t)1 << 20) /* a key or value (a schema) */
#define CHUNK            65536

typedef enum { C_NULL, C_DEFLATE, C_SNAPPY } codec_t;

/* A zigzag varint long; -1 at the end of the file or a malformed one. */
static int read_long(FILE *in, int64_t *v) {
        uint64_t u = 0;
        for (int shift = 0; shift < 64; shift += 7) {
                int c = getc(in);
                if (c == EOF)
                        return -1;
                u |= (uint64_t)(c & 0x7f) << shift;
                if (!(c & 0x80)) {
                        *v = (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
                        return 0;
                }
        }
        return -1;
}

/* Reads n bytes into buf (NULL: skips them). */
static int read_n(FILE *in, unsigned char *buf, int64_t n) {
        unsigned char tmp[4096];
        while (n > 0) {
                size_t k = n < (int64_t)sizeof(tmp) ? (size_t)n : sizeof(tmp);
                if (fread(buf ? buf : tmp, 1, k, in) != k)
                        return -1;
                if (buf)
                        buf += k;
                n -= (int64_t)k;
        }
        return 0;
}

static vg_err_t meta_read(FILE *in, const char *name, codec_t *codec,
                          char *errstr, size_t errstr_size) {
        int entries = 0;
        *codec = C_NULL;
        for (;;) {
                int64_t cnt, bytes;
                if (read_long(in, &cnt))
                        goto bad;
                if (cnt == 0)
                        return VG_OK;
                if (cnt < 0) {
                        if (cnt == INT64_MIN || read_long(in, &bytes))
                                goto bad;
                        cnt = -cnt;
                }
                if (cnt > META_MAX_ENTRIES - entries)
                        goto bad;
                entries += (int)cnt;
                for (int64_t i = 0; i < cnt; i++) {
                        unsigned char key[64], val[16];
                        int64_t kl, vl;
                        bool is_codec;
                        if (read_long(in, &kl) || kl < 0 ||
                            kl > META_MAX_BYTES)
                                goto bad;
                        is_codec = kl == 10;
                        if (read_n(in, is_codec ? key : NULL, kl))
                                goto bad;
                        is_codec = is_codec && !memcmp(key, "avro.codec", 10);
                        if (read_long(in, &vl) || vl < 0 ||
                            vl > META_MAX_BYTES)
                                goto bad;
                        if (!is_codec) {
                                if (read_n(in, NULL, vl))
                                        goto bad;
                                continue;
                        }
                        if (vl >= (int64_t)sizeof(val) ||
                            read_n(in, val, vl))
                                goto bad;
                        val[vl] = '\0';
                        if (!strcmp((char *)val, "null"))
                                *codec = C_NULL;
                        else if (!strcmp((char *)val, "deflate"))
                                *codec = C_DEFLATE;
                        else if (!strcmp((char *)val, "snappy"))
                                *codec = C_SNAPPY;
                        else
                                return vg_seterr(errstr, errstr_size,
                                                 VG_ERR_DECODE,
                                                 "%s: Avro codec '%s' is not "
                                                 "read (null, deflate or "
                                                 "snappy)",
                                                 name, (char *)val);
                }
        }
bad:
        return vg_seterr(errstr, errstr_size, VG_ERR_DECODE,
                         "%s: not a readable Avro container file (its "
                         "metadata is cut short or malformed)", name);
}

/* The decompressed size of a deflate block of size bytes, read from in:
 * -1 if it is malformed, or more than VG_OCF_BLOCK_MAX. */
static int64_t deflate_size(FILE *in, int64_t size) {
        unsigned char *ib = malloc(CHUNK), *ob = malloc(CHUNK);
        z_stream z;
        int64_t out = -1;
        int zr = Z_OK;
        memset(&z, 0, sizeof(z));
        if (!ib || !ob || inflateInit2(&z, -15) != Z_OK) {
                free(ib);
                free(ob);
                return -1;
        }
        while (size > 0 && zr != Z_STREAM_END) {
                size_t k = size < CHUNK ? (size_t)size : CHUNK;
                if (fread(ib, 1, k, in) != k)
                        goto done;
                size -= (int64_t)k;
                z.next_in = ib;
                z.avail_in = (uInt)k;
                do {
                        z.next_out = ob;
                        z.avail_out = CHUNK;
                        zr = inflate(&z, Z_NO_FLUSH);
                        if (zr != Z_OK && zr != Z_STREAM_END &&
                            zr != Z_BUF_ERROR)
                                goto done;
                        if (z.total_out > VG_OCF_BLOCK_MAX)
                                goto done;
                } while (z.avail_out == 0 && zr != Z_STREAM_END);
        }
        /* (bytes after the stream's end are the writer's business) */
        if (zr == Z_STREAM_END && !read_n(in, NULL, size))
                out = (int64_t)z.total_out;
done:
        inflateEnd(&z);
        free(ib);
        free(ob);
        return out;
}

/* The decompressed size of a snappy block (its raw form's length varint,
 * then a CRC-32 of 4 bytes after the data): -1 if malformed. */
static int64_t snappy_size(FILE *in, int64_t size) {
        uint64_t u = 0;
        int64_t used = 0;
        for (int shift = 0; shift < 35; shift += 7) {
                int c;
                if (used == size || (c = getc(in)) == EOF)
                        return -1;
                used++;
                u |= (uint64_t)(c & 0x7f) << shift;
                if (!(c & 0x80))
                        return size < 4 + used || read_n(in, NULL, size - used)
                                       ? -1
                                       : (int64_t)u;
        }
        return -1;
}

vg_err_t vg_ocf_check(FILE *in, const char *name, char *errstr,
                      size_t errstr_size) {
        unsigned char magic[4], sync[16], s2[16];
        codec_t codec;
        vg_err_t err;
        long block = 0;

        if (fseek(in, 0, SEEK_SET))
                return vg_seterr(errstr, errstr_size, VG_ERR_IO,
                                 "%s: cannot rewind", name);
        if (fread(magic, 1, 4, in) != 4 || memcmp(magic, "Obj\x01", 4))
                return vg_seterr(errstr, errstr_size, VG_ERR_DECODE,
                                 "%s: not an Avro container file", name);
        if ((err = meta_read(in, name, &codec, errstr, errstr_size)))
                return err;
        if (fread(sync, 1, 16, in) != 16)
                return vg_seterr(errstr, errstr_size, VG_ERR_DECODE,
                                 "%s: not a readable Avro container file (no "
                                 "sync marker)", name);
        for (;;) {
                int64_t cnt, size, raw;
                int c = getc(in);
                if (c == EOF)
                        break;
                ungetc(c, in);
                block++;
                if (read_long(in, &cnt) || read_long(in, &size) || cnt < 0 ||
                    size < 0 || size > (int64_t)VG_OCF_BLOCK_MAX)
                        return vg_seterr(errstr, errstr_size, VG_ERR_DECODE,
                                         "%s: block %ld: a record count or "
                                         "size that is malformed, negative "
                                         "or above %zu bytes",
                                         name, block, VG_OCF_BLOCK_MAX);
                raw = codec == C_DEFLATE  ? deflate_size(in, size)
                      : codec == C_SNAPPY ? snappy_size(in, size)
                      : read_n(in, NULL, size) ? -1
                                              : size;
                if (raw < 0 || raw > (int64_t)VG_OCF_BLOCK_MAX)
                        return vg_seterr(errstr, errstr_size, VG_ERR_DECODE,
                                         "%s: block %ld: cut short, "
                                         "malformed, or above %zu bytes "
                                         "decompressed",
                                         name, block, VG_OCF_BLOCK_MAX);
                if (cnt > raw)
                        return vg_seterr(errstr, errstr_size, VG_ERR_DECODE,
                                         "%s: block %ld: %lld records in "
                                         "%lld bytes",
                                         name, block, (long long)cnt,
                                         (long long)raw);
                if (fread(s2, 1, 16, in) != 16 || memcmp(s2, sync, 16))
                        return vg_seterr(errstr, errstr_size, VG_ERR_DECODE,
                                         "%s: block %ld: not followed by the "
                                         "file's sync marker",
                                         name, block);
        }
        if (ferror(in) || fseek(in, 0, SEEK_SET))
                return vg_seterr(errstr, errstr_size, VG_ERR_IO,
                                 "%s: read error", name);
        return VG_OK;
}
