#!/usr/bin/env bash
# 0015-register: the register stream (SPEC v2 §3, §5.3, §6) on a real broker.
#
#   1. A simulated population with register data (vigil simulate: residence
#      on admissions and deaths, Svenska palliativregistret entries, some
#      late, some never) is produced to five fresh topics, processed and
#      aggregated (--exit-idle); the ACTIVE alerts (DEATH_NOT_REGISTERED
#      among them, every field), the indicator parts and the aggregated
#      values (register_coverage and spr.* among them) equal file mode on
#      the same events (lib/compare_process.py).
#   2. Upgrade: the first half of another population's admissions and
#      deaths is already on the topics as version-1 records (written by
#      fastavro under schemas/history/*.v1.avsc, single-object encoded with
#      the v1 fingerprint) when a version-2 producer (vigil produce) sends
#      the rest; the processor reads both, and the results equal file mode
#      on the same events with residence UNKNOWN for the version-1 ones.
source "$(dirname "$0")/lib/common.sh"
P=3

# run_kafka SET: process and aggregate the topics of SET to the end.
run_kafka() {
  "$VIGIL" process "${T[@]}" -X state.dir="$TMP/$1.state" -X group.id="$S.g" \
    --exit-idle 3 2> "$TMP/$1.process.log" \
    || fail "$1: process: $(tail -3 "$TMP/$1.process.log")"
  "$VIGIL" aggregate "${T[@]}" -X state.dir="$TMP/$1.state" --exit-idle 3 \
    2> "$TMP/$1.aggregate.log" \
    || fail "$1: aggregate: $(tail -3 "$TMP/$1.aggregate.log")"
}

# check_file SET: file mode of $TMP/SET.ref.jsonl has what this test is about.
check_file() {
  local dnr reg spr cov
  dnr=$(grep -c '"rule":"DEATH_NOT_REGISTERED","status":"ACTIVE"' "$TMP/$1.alerts.jsonl" || true)
  reg=$(grep -c '"type":"register_entry"' "$TMP/$1.ref.jsonl" || true)
  spr=$(grep -c '"indicator":"spr\.' "$TMP/$1.ind.jsonl" || true)
  cov=$(grep -c '"indicator":"register_coverage"' "$TMP/$1.ind.jsonl" || true)
  echo "$1: $(wc -l < "$TMP/$1.ref.jsonl") events, $reg register entries;" \
       "file mode: $dnr ACTIVE DEATH_NOT_REGISTERED, $cov register_coverage" \
       "and $spr spr.* values"
  [ "$reg" -gt 20 ] && [ "$dnr" -gt 3 ] && [ "$spr" -gt 50 ] && [ "$cov" -gt 5 ] \
    || fail "$1: too little register data to compare"
}

# --- 1. a simulated population with register data ----------------------------

S=it15a.$$.$(date +%s)
topic_args "$S"
"$VIGIL" topics create -p $P "${T[@]}" >/dev/null
# A period in the past, so that the output does not depend on today.
"$VIGIL" simulate -n 800 --start 2025-03-01 --days 400 --seed 15 \
  --out "$TMP/a.ref.jsonl" 2>/dev/null
"$VIGIL" process --input "$TMP/a.ref.jsonl" --partitions $P \
  --alerts "$TMP/a.alerts.jsonl" --indicators "$TMP/a.ind.jsonl" 2>/dev/null
check_file a
"$VIGIL" produce "${T[@]}" "$TMP/a.ref.jsonl" 2> "$TMP/a.produce.log" \
  || fail "produce: $(tail -2 "$TMP/a.produce.log")"
n=$(wc -l < "$TMP/a.ref.jsonl")
grep -q "produce: $n delivered, 0 failed, 0 rejected" "$TMP/a.produce.log" \
  || fail "produce summary: $(tail -1 "$TMP/a.produce.log")"
[ "$(kcat -C -b "$VIGIL_BOOTSTRAP" -t "$S.reg" -e -o beginning -q -f 'x\n' | wc -l)" \
  = "$(grep -c '"type":"register_entry"' "$TMP/a.ref.jsonl")" ] \
  || fail "the register topic does not hold every register entry"
run_kafka a
"$PY" "$(dirname "$0")/lib/compare_process.py" "$VIGIL_BOOTSTRAP" \
  "$S.alerts" "$S.parts" "$TMP/a.alerts.jsonl" "$TMP/a.ind.jsonl" "$S.ind" \
  || fail "population: Kafka mode differs from file mode"
echo "ok 1 - simulated population with register data: Kafka mode equals file mode"

# --- 2. upgrade: version-1 records already on the topics ---------------------

S=it15b.$$.$(date +%s)
topic_args "$S"
"$VIGIL" topics create -p $P "${T[@]}" >/dev/null
"$VIGIL" simulate -n 500 --start 2025-03-01 --days 300 --seed 16 \
  --dup-rate 0 --out "$TMP/b.jsonl" 2>/dev/null
total=$(wc -l < "$TMP/b.jsonl")
half=$((total / 2))
# Splits the first half: admissions and deaths as version-1 Avro messages
# (kcat input: key, KEYSEP, value, MSGSEP), the rest as JSON Lines for vigil
# produce; the reference for file mode has residence UNKNOWN on the former.
KSEP='@@vigil-key@@'
MSEP='@@vigil-end-of-message@@'
"$PY" - "$VIGIL_SRC" "$TMP/b.jsonl" "$half" "$TMP" "$KSEP" "$MSEP" <<'PY'
import datetime, json, os, sys
import fastavro
from fastavro.schema import fingerprint, to_parsing_canonical_form
src, path, half, tmp, ksep, msep = sys.argv[1:7]
half = int(half)
ksep, msep = ksep.encode(), msep.encode()
v1 = {}
for t, name in (("admission", "Admission"), ("death", "Death")):
    with open(os.path.join(src, "schemas", "history", name + ".v1.avsc")) as f:
        raw = json.load(f)
    assert not any(x["name"] == "residence" for x in raw["fields"])
    fp = bytes.fromhex(fingerprint(to_parsing_canonical_form(raw),
                                   "CRC-64-AVRO"))
    v1[t] = (fastavro.parse_schema(raw), fp, open(os.path.join(
        tmp, "b.v1.%s.bin" % t), "wb"))
def ms(s):
    d = datetime.datetime.fromisoformat(s.replace("Z", "+00:00"))
    return int(round(d.timestamp() * 1000))
ref = open(os.path.join(tmp, "b.ref.jsonl"), "w")
rest = open(os.path.join(tmp, "b.v2first.jsonl"), "w")
tail = open(os.path.join(tmp, "b.v2.jsonl"), "w")
n1 = 0
for i, line in enumerate(open(path)):
    e = json.loads(line)
    if i < half and e["type"] in v1:
        schema, fp, out = v1[e["type"]]
        rec = {k: v for k, v in e.items() if k not in ("type", "residence")}
        rec["occurred_at"] = ms(rec["occurred_at"])
        import io
        buf = io.BytesIO()
        fastavro.schemaless_writer(buf, schema, rec, strict=True)
        msg = b"\xc3\x01" + fp + buf.getvalue()
        key = e["patient_id"].encode()
        assert ksep not in msg and msep not in msg
        out.write(key + ksep + msg + msep)
        n1 += 1
        e["residence"] = "UNKNOWN"
        ref.write(json.dumps(e) + "\n")
        continue
    ref.write(line)
    (rest if i < half else tail).write(line)
open(os.path.join(tmp, "b.v1.count"), "w").write("%d\n" % n1)
print("upgrade: %d version-1 admissions and deaths, then %d more events"
      % (n1, sum(1 for _ in open(path)) - n1))
PY
# Version 1 first, partitioned as Vigil's producers do (murmur2 of the key).
for t in admission:adm death:dea; do
  kcat -P -b "$VIGIL_BOOTSTRAP" -t "$S.${t#*:}" -X partitioner=murmur2_random \
    -K "$KSEP" -D "$MSEP" -l "$TMP/b.v1.${t%%:*}.bin" \
    || fail "kcat could not produce the version-1 ${t%%:*}s"
done
v1n=0
for t in adm dea; do
  c=$(kcat -C -b "$VIGIL_BOOTSTRAP" -t "$S.$t" -e -o beginning -q -f 'x\n' 2>/dev/null | wc -l)
  v1n=$((v1n + c))
done
[ "$v1n" = "$(cat "$TMP/b.v1.count")" ] \
  || fail "$v1n version-1 records on the topics, expected $(cat "$TMP/b.v1.count")"
# Every version-1 message is in the partition Kafka's murmur2 gives its key
# (co-partitioned with the rest), carries the v1 fingerprint, and decodes
# (vigil codec decode) to its event with residence UNKNOWN.
"$PY" - "$VIGIL_BOOTSTRAP" "$S" "$VIGIL_SRC" "$TMP" "$VIGIL" <<'PY' \
  || fail "version-1 messages misplaced or not read as the events"
import json, os, sys
sys.path.insert(0, os.path.join(sys.argv[3], "tests", "integration", "produce"))
sys.path.insert(0, os.path.join(sys.argv[3], "tests", "integration", "lib"))
from compare import murmur2_partition
import topics
from fastavro.schema import fingerprint, to_parsing_canonical_form
b, s, src, tmp, vigil = sys.argv[1:6]
import datetime
def topics_ms(x):
    d = datetime.datetime.fromisoformat(x.replace("Z", "+00:00"))
    return int(round(d.timestamp() * 1000))
fps = set()
for n in ("Admission", "Death"):
    raw = json.load(open(os.path.join(src, "schemas", "history", n + ".v1.avsc")))
    fps.add(fingerprint(to_parsing_canonical_form(raw), "CRC-64-AVRO"))
bad = n = 0
for t in ("adm", "dea"):
    for p, _o, k, v in topics.read_topic(b, "%s.%s" % (s, t)):
        n += 1
        k = k.encode() if isinstance(k, str) else k
        if murmur2_partition(k, 3) != int(p) or v[2:10].hex() not in fps:
            bad += 1
print("upgrade: %d version-1 messages, %d misplaced or not v1" % (n, bad))
# As Vigil reads them: every field equal to the event, residence UNKNOWN.
import subprocess
ref = {}
for line in open(os.path.join(tmp, "b.ref.jsonl")):
    e = json.loads(line)
    ref[(e["patient_id"], e["event_id"])] = e
hexes = []
for t in ("adm", "dea"):
    hexes += [v.hex() for _p, _o, _k, v in topics.read_topic(b, "%s.%s" % (s, t))]
out = subprocess.run([vigil, "codec", "decode"], input="\n".join(hexes).encode(),
                     stdout=subprocess.PIPE, check=True).stdout.decode()
got = [json.loads(x) for x in out.splitlines()]
diff = 0
for g in got:
    w = ref.get((g["patient_id"], g["event_id"]))
    if w is None or g["residence"] != "UNKNOWN" or any(
            g.get(k) != v for k, v in w.items()
            if k not in ("occurred_at",)) or \
            topics_ms(g["occurred_at"]) != topics_ms(w["occurred_at"]):
        diff += 1
        if diff <= 3:
            print("decoded %s\n  event %s" % (g, w))
print("upgrade: vigil codec decode: %d version-1 records, %d differ from the "
      "events with residence UNKNOWN" % (len(got), diff))
bad += diff + (len(got) != n)
sys.exit(1 if bad else 0)
PY
for f in b.v2first b.v2; do
  "$VIGIL" produce "${T[@]}" "$TMP/$f.jsonl" 2> "$TMP/$f.produce.log" \
    || fail "produce $f: $(tail -2 "$TMP/$f.produce.log")"
done
"$VIGIL" process --input "$TMP/b.ref.jsonl" --partitions $P \
  --alerts "$TMP/b.alerts.jsonl" --indicators "$TMP/b.ind.jsonl" 2>/dev/null
check_file b
run_kafka b
dlq=$(kcat -C -b "$VIGIL_BOOTSTRAP" -t "$S.dlq" -e -o beginning -q -f 'x\n' 2>/dev/null | wc -l)
[ "$dlq" = 0 ] || fail "upgrade: $dlq record(s) went to the DLQ"
"$PY" "$(dirname "$0")/lib/compare_process.py" "$VIGIL_BOOTSTRAP" \
  "$S.alerts" "$S.parts" "$TMP/b.alerts.jsonl" "$TMP/b.ind.jsonl" "$S.ind" \
  || fail "upgrade: Kafka mode differs from file mode (residence UNKNOWN for v1)"
echo "ok 2 - upgrade: $v1n version-1 records before the version-2 producer; Kafka mode equals file mode with residence UNKNOWN for them"
echo PASS
