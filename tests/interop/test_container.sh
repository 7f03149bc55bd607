#!/usr/bin/env bash
# File mode reads an Avro object container file written by fastavro (union
# of the four event schemas, deflate codec) and gives exactly the results of
# the same events as JSON Lines.
set -euo pipefail
VIGIL_SRC=${VIGIL_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
VIGIL=${VIGIL:-$VIGIL_SRC/build/vigil}
PY=${VIGIL_PYTHON:-${VIGIL_CACHE:-$HOME/.cache/vigil}/venv/bin/python}
"$PY" -c 'import fastavro' 2>/dev/null || {
  echo "FAIL: fastavro not available at $PY: run ops/setup.sh" >&2; exit 1; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
"$VIGIL" simulate -n 300 --seed 11 --dup-rate 0 --out "$tmp/ev.jsonl" 2>/dev/null
"$PY" "$(dirname "$0")/container.py" "$VIGIL_SRC" "$tmp/ev.jsonl" "$tmp/ev.avro"
run() {
  "$VIGIL" process --input "$1" --partitions 2 --alerts "$2.alerts" \
    --indicators "$2.ind" 2>/dev/null
  sed 's/"emitted_at":"[^"]*",//' "$2.alerts" > "$2.alerts.cmp"
}
run "$tmp/ev.jsonl" "$tmp/j"
run "$tmp/ev.avro" "$tmp/a"
diff -q "$tmp/j.alerts.cmp" "$tmp/a.alerts.cmp" >/dev/null || { diff "$tmp/j.alerts.cmp" "$tmp/a.alerts.cmp" | head; echo "FAIL: alerts differ" >&2; exit 1; }
diff -q "$tmp/j.ind" "$tmp/a.ind" >/dev/null || { echo "FAIL: indicators differ" >&2; exit 1; }
n=$(wc -l < "$tmp/a.ind"); a=$(wc -l < "$tmp/a.alerts")
[ "$n" -gt 100 ] && [ "$a" -gt 0 ] || { echo "FAIL: too little output ($a alerts, $n values)" >&2; exit 1; }
# A container file whose writer schema is not one Vigil ships (here an
# "Admission" with an array of a billion nulls: Avro C would loop and
# allocate without bound) is refused at once.
"$PY" - "$tmp/bomb.avro" <<'PY'
import sys, fastavro
s = fastavro.parse_schema({"type": "record", "name": "Admission",
    "namespace": "se.vigil.care",
    "fields": [{"name": "junk", "type": {"type": "array", "items": "null"}}]})
with open(sys.argv[1], "wb") as fp:
    fastavro.writer(fp, s, [{"junk": [None]}])
data = bytearray(open(sys.argv[1], "rb").read())
PY
set +e
timeout 20 "$VIGIL" process --input "$tmp/bomb.avro" > /dev/null 2> "$tmp/bomb.err"; rc=$?
set -e
[ "$rc" = 1 ] && grep -q "not a schema Vigil ships" "$tmp/bomb.err" \
  || { cat "$tmp/bomb.err"; echo "FAIL: unknown writer schema not refused (exit $rc)" >&2; exit 1; }
# Blocks that do not hold what they claim (an attack's files: a deflate
# block of 1.5 MB that inflates to 1.5 GB made Avro C allocate it whole, and
# crash where memory was short; a block claiming 10^9 records was read for
# minutes): refused before Avro C reads them, naming the block. The file's
# own header and schema, its blocks replaced.
"$PY" - "$tmp/ev.avro" "$tmp" <<'PY'
import sys, zlib
data = open(sys.argv[1], "rb").read()
out = sys.argv[2]
def zz(v):  # an Avro long
    u, b = (v << 1) ^ (v >> 63), bytearray()
    while True:
        if u < 0x80:
            b.append(u); return bytes(b)
        b.append((u & 0x7f) | 0x80); u >>= 7
# the header ends with the sync marker, which also ends the first block
sync = data[-16:]
head = data[:data.index(sync) + 16]
def block(count, payload, s=sync):
    return zz(count) + zz(len(payload)) + payload + s
z = zlib.compressobj(9, zlib.DEFLATED, -15)
big = z.compress(bytes(1 << 20) * 100) + z.flush()   # 100 MiB of zeros
open(out + "/zip.avro", "wb").write(head + block(1000, big))
z2 = zlib.compressobj(9, zlib.DEFLATED, -15)
small = z2.compress(bytes(1000)) + z2.flush()
open(out + "/count.avro", "wb").write(head + block(10**9, small))
open(out + "/sync.avro", "wb").write(head + block(1, small, bytes(16)))
open(out + "/cut.avro", "wb").write(head + block(1, small)[:-20])
# a record whose first string claims 2 GiB: Avro C asks malloc for the
# length a varint claims; above Vigil's bound (1 GiB) it is refused
# before (a claim of 10^15 bytes aborted an AddressSanitizer build)
z3 = zlib.compressobj(9, zlib.DEFLATED, -15)
claim = z3.compress(zz(0) + zz(1 << 31) + b"abc") + z3.flush()
open(out + "/str.avro", "wb").write(head + block(1, claim))
PY
for f in zip:"block 1: cut short, malformed, or above 67108864 bytes decompressed" \
         count:"block 1: 1000000000 records in 1000 bytes" \
         sync:"block 1: not followed by the file's sync marker" \
         cut:"block 1: cut short" \
         str:"record 1: Cannot read string value: Cannot allocate buffer"; do
  set +e
  timeout 20 "$VIGIL" process --input "$tmp/${f%%:*}.avro" --alerts "$tmp/x.a" \
    --indicators "$tmp/x.i" > /dev/null 2> "$tmp/ocf.err"; rc=$?
  set -e
  [ "$rc" = 1 ] && grep -qF "${f#*:}" "$tmp/ocf.err" \
    || { cat "$tmp/ocf.err"; echo "FAIL: ${f%%:*}.avro not refused as '${f#*:}' (exit $rc)" >&2; exit 1; }
done
# SPEC §7's bound holds for a container's records as for lines: one whose
# encoding is longer than input.max_bytes is named and skipped (an attack's
# records of 1 and 2 MiB were read, exit 0).
"$PY" - "$tmp/ev.jsonl" "$tmp/long.jsonl" <<'PY'
import json, sys
evs = [json.loads(l) for l in open(sys.argv[1])][:3]
evs[1]["source_system"] = "x" * 3000
open(sys.argv[2], "w").write("".join(json.dumps(e) + "\n" for e in evs))
PY
"$PY" "$(dirname "$0")/container.py" "$VIGIL_SRC" "$tmp/long.jsonl" "$tmp/long.avro" > /dev/null
set +e
"$VIGIL" process --input "$tmp/long.avro" --alerts "$tmp/x.a" --indicators "$tmp/x.i" \
  -X input.max_bytes=2048 > /dev/null 2> "$tmp/long.err"; rc=$?
set -e
[ "$rc" = 3 ] && grep -q "record 2: longer than 2048 bytes (input.max_bytes): skipped" "$tmp/long.err" &&
  grep -q ": 2 events, 1 invalid lines" "$tmp/long.err" \
  || { cat "$tmp/long.err"; echo "FAIL: a container record above input.max_bytes (exit $rc)" >&2; exit 1; }
echo "PASS: container file and JSON Lines agree ($a alerts, $n indicator values)"
