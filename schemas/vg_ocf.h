/*
 * vg_ocf.h - a bounded look at an Avro object container file before Avro C
 * reads it.
 *
 * Avro C trusts a block's record count and inflates a deflate block whole:
 * a 1.5 MB file whose one block inflates to 1.5 GB made `vigil process
 * --input` allocate that much (and crash where memory is short), and a
 * block that claims 10^9 records was read for minutes. vg_ocf_check reads
 * the file once, block by block, without keeping it: the header and its
 * metadata, each block's count and size against the bytes that are there,
 * the sync marker after each, and for a deflate or snappy block the size
 * it decompresses to (deflate inflated in pieces and counted, snappy's
 * own length header), at most VG_OCF_BLOCK_MAX, with at most one record
 * per decompressed byte. Codecs other than null, deflate and snappy are
 * refused.
 */
#ifndef VG_OCF_H
#define VG_OCF_H

#include "vg_common.h"

#include <stdio.h>

/* The most bytes one block may hold decompressed (Avro writers make
 * blocks of 16 to 64 KiB). */
#define VG_OCF_BLOCK_MAX ((size_t)64 << 20)

/* Checks the container file in (read from its start; left at its start).
 * VG_OK, or an error naming the block and why (VG_ERR_DECODE), or
 * VG_ERR_IO. */
vg_err_t vg_ocf_check(FILE *in, const char *name, char *errstr,
                      size_t errstr_size);

#endif /* VG_OCF_H */
