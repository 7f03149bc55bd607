"""Checks a screenshot of `vigil report`: a PNG of the expected size that
is not blank and shows the report's chart colours.

    check_png.py FILE WIDTH HEIGHT

Standard library only (zlib, struct): no Pillow needed. Exit 1 on failure.
"""
import struct
import sys
import zlib

# Colours the report draws (consumers/report/) and the least number of
# pixels of each expected in the first 4000 px of a 400-patient report.
SIGNATURES = {
    "value line #1f5fa8": ((0x1f, 0x5f, 0xa8), 2000),
    "target line #b3261e": ((0xb3, 0x26, 0x1e), 300),
    "header #16324f": ((0x16, 0x32, 0x4f), 20000),
    "death place: hospital #d55e00": ((0xd5, 0x5e, 0x00), 1000),
    "death place: nursing home #0072b2": ((0x00, 0x72, 0xb2), 1000),
    # months whose value rests on incomplete history are shaded (SPEC §6.1)
    "incomplete history band #f3ead6": ((0xf3, 0xea, 0xd6), 5000),
}


def read_png(path):
    with open(path, "rb") as fp:
        data = fp.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG file")
    pos, idat, hdr = 8, [], None
    while pos + 8 <= len(data):
        length, ctype = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if ctype == b"IHDR":
            hdr = struct.unpack(">IIBBBBB", body)
        elif ctype == b"IDAT":
            idat.append(body)
        elif ctype == b"IEND":
            break
    if hdr is None:
        raise ValueError("no IHDR chunk")
    width, height, depth, ctype, _, _, interlace = hdr
    if depth != 8 or ctype not in (2, 6) or interlace:
        raise ValueError("unsupported PNG: depth %d colour type %d interlace %d"
                         % (depth, ctype, interlace))
    bpp = 3 if ctype == 2 else 4
    raw = zlib.decompress(b"".join(idat))
    stride = width * bpp
    if len(raw) != height * (stride + 1):
        raise ValueError("image data has %d bytes, expected %d"
                         % (len(raw), height * (stride + 1)))
    rows, prev, i = [], bytearray(stride), 0
    for _ in range(height):
        f = raw[i]
        line = bytearray(raw[i + 1:i + 1 + stride])
        i += stride + 1
        if f == 1:
            for x in range(bpp, stride):
                line[x] = (line[x] + line[x - bpp]) & 255
        elif f == 2:
            for x in range(stride):
                line[x] = (line[x] + prev[x]) & 255
        elif f == 3:
            for x in range(stride):
                a = line[x - bpp] if x >= bpp else 0
                line[x] = (line[x] + ((a + prev[x]) >> 1)) & 255
        elif f == 4:
            for x in range(stride):
                a = line[x - bpp] if x >= bpp else 0
                b = prev[x]
                c = prev[x - bpp] if x >= bpp else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pr = a if pa <= pb and pa <= pc else b if pb <= pc else c
                line[x] = (line[x] + pr) & 255
        elif f != 0:
            raise ValueError("bad filter type %d" % f)
        rows.append(bytes(line))
        prev = line
    return width, height, bpp, rows


def main():
    path, want_w, want_h = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    try:
        width, height, bpp, rows = read_png(path)
    except (OSError, ValueError, zlib.error) as e:
        print("FAIL: %s: %s" % (path, e))
        return 1
    bad = 0
    if (width, height) != (want_w, want_h):
        print("FAIL: screenshot is %dx%d, expected %dx%d"
              % (width, height, want_w, want_h))
        bad += 1
    counts = {}
    nonwhite = 0
    for row in rows:
        for x in range(0, len(row), bpp):
            px = (row[x], row[x + 1], row[x + 2])
            counts[px] = counts.get(px, 0) + 1
    total = width * height
    for px, n in counts.items():
        if min(px) < 235:
            nonwhite += n
    share = nonwhite / total
    print("screenshot %dx%d: %.1f%% non-white pixels, %d distinct colours"
          % (width, height, 100 * share, len(counts)))
    if share < 0.05:
        print("FAIL: the page looks blank (%.2f%% non-white)" % (100 * share))
        bad += 1
    if len(counts) < 50:
        print("FAIL: only %d distinct colours: nothing rendered?" % len(counts))
        bad += 1
    for name, (rgb, least) in SIGNATURES.items():
        n = sum(c for px, c in counts.items()
                if all(abs(px[k] - rgb[k]) <= 6 for k in range(3)))
        print("  %-36s %7d px" % (name, n))
        if n < least:
            print("FAIL: %s: %d pixels, expected at least %d" % (name, n, least))
            bad += 1
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
