#!/usr/bin/env bash
# 0027-compression: vigil process compresses what it writes (lz4 unless
# kafka.compression.type or kafka.compression.codec is set; docs/
# CONFIGURATION.md, kafka.<property>). The same 1,500 patients' events are
# processed twice from empty state, each into its own topics and group:
#   - by default: the changelog, the alerts and the indicator values take
#     less room in the broker's log than the keys and values of their
#     records (read back with kcat) - they are compressed;
#   - with kafka.compression.codec=none (librdkafka's alias of
#     compression.type, which Vigil's default must not override): each
#     takes more room than its records' bytes (Kafka's framing,
#     uncompressed);
#   - both runs log every patient's state (a record keyed by each of the
#     events' patients): compression changes how the records are stored,
#     not which;
#   - vigil aggregate, run after each (with the compression option, and a
#     group of its own), writes the indicator values the same way (its
#     own producer, the same default).
# Needs kcat and ops/kafka-local (kafka-log-dirs).
source "$(dirname "$0")/lib/common.sh"
command -v kcat >/dev/null || fail "kcat not found (see ops/setup.sh)"

"$VIGIL" simulate -n 1500 --seed 27 --out "$TMP/ev.jsonl" 2>/dev/null
S=it27.$$.$(date +%s)

# run NAME [OPTIONS...]: the events processed into topics $S.NAME.*,
# group $S.NAME.g (changelog $S.NAME.g.changelog).
run() {
  local name=$1
  shift
  topic_args "$S.$name"
  "$VIGIL" topics create -p 2 "${T[@]}" >/dev/null
  "$VIGIL" produce "${T[@]}" "$TMP/ev.jsonl" 2>/dev/null
  "$VIGIL" process "${T[@]}" -X state.dir="$TMP/$name.st" \
    -X group.id="$S.$name.g" -X stream.idle_ms=200 "$@" --exit-idle 1 \
    2> "$TMP/$name.log" || fail "$name: vigil process: $(tail -3 "$TMP/$name.log")"
  "$VIGIL" aggregate "${T[@]}" -X state.dir="$TMP/$name.st" \
    -X aggregate.group.id="$S.$name.agg" "$@" \
    --exit-idle 3 2> "$TMP/$name.agg.log" ||
    fail "$name: vigil aggregate: $(tail -3 "$TMP/$name.agg.log")"
}
# payload TOPIC: "records bytes patients" - the number of records of
# TOPIC, the sum of their keys' and values' lengths, and the number of
# patients' keys ("p|<patient_id>") among them.
payload() {
  timeout -k 10 120 kcat -C -b "$VIGIL_BOOTSTRAP" -t "$1" -e -q \
    -f '%K\t%S\t%k\n' > "$TMP/payload" 2> "$TMP/payload.err" ||
    fail "kcat on $1: $(tail -3 "$TMP/payload.err")"
  awk -F'\t' '{n++; b += ($1 > 0 ? $1 : 0) + ($2 > 0 ? $2 : 0)
               if (substr($3, 1, 2) == "p|") p[$3] = 1}
    END {for (k in p) np++; print n + 0, b + 0, np + 0}' "$TMP/payload"
}
# logsize TOPIC: the bytes of TOPIC's partitions in the broker's log.
logsize() {
  "$VIGIL_SRC/ops/kafka-local" log-dirs-tool --bootstrap-server "$VIGIL_BOOTSTRAP" \
    --describe --topic-list "$1" > "$TMP/logdirs" 2> "$TMP/logdirs.err" ||
    fail "log-dirs-tool on $1: $(tail -3 "$TMP/logdirs.err")"
  grep '^{' "$TMP/logdirs" | python3 -c 'import json, sys
d = json.load(sys.stdin)
print(sum(p["size"] for b in d["brokers"] for l in b["logDirs"] for p in l["partitions"]))' ||
    fail "log-dirs-tool on $1: no sizes in $(head -c 300 "$TMP/logdirs")"
}

run lz4
run none -X kafka.compression.codec=none

npat=$(python3 -c 'import json, sys
print(len({json.loads(l)["patient_id"] for l in open(sys.argv[1])}))' "$TMP/ev.jsonl")
for t in g.changelog alerts ind; do
  # (not in < <(...) or $(...): a fail there would not end the test)
  payload "$S.lz4.$t" > "$TMP/p1"
  payload "$S.none.$t" > "$TMP/p0"
  logsize "$S.lz4.$t" > "$TMP/s1"
  logsize "$S.none.$t" > "$TMP/s0"
  read -r n1 b1 p1 < "$TMP/p1"
  read -r n0 b0 p0 < "$TMP/p0"
  s1=$(cat "$TMP/s1")
  s0=$(cat "$TMP/s0")
  echo "$t: $n1 records of $b1 bytes, log $s1 bytes (lz4); $n0 records of $b0 bytes, log $s0 bytes (none)"
  [ "$n1" -gt 100 ] && [ "$n0" -gt 100 ] || fail "$t: only $n1 and $n0 records"
  # (how many records depends on the batches; that every patient's state
  # is logged does not)
  [ "$t" != g.changelog ] || { [ "$p1" = "$npat" ] && [ "$p0" = "$npat" ]; } ||
    fail "$t: $p1 patients logged by default, $p0 uncompressed, of $npat"
  [ "$s0" -ge "$b0" ] ||
    fail "$t: kafka.compression.codec=none, yet the log ($s0 bytes) is smaller than its records ($b0)"
  [ "$s1" -lt "$b1" ] ||
    fail "$t: not compressed by default: the log ($s1 bytes) holds its records ($b1) uncompressed"
done
echo "PASS 0027-compression"
