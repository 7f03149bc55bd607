#!/usr/bin/env bash
# 0027-compression: vigil process compresses what it writes (lz4 unless
# kafka.compression.type or kafka.compression.codec is set; docs/
# CONFIGURATION.md, kafka.<property>). The same 1,500 patients' events are
# processed twice from empty state, each into its own topics and group:
#   - by default: the changelog and the alerts take less room in the
#     broker's log than the keys and values of their records (read back
#     with kcat) - they are compressed;
#   - with kafka.compression.codec=none (librdkafka's alias of
#     compression.type, which Vigil's default must not override): each
#     takes more room than its records' bytes (Kafka's framing,
#     uncompressed);
#   - both runs end with the same records (the same keys, and their
#     latest values' lengths summed within 0.1 %): compression changes how they are
#     stored, not what they are.
# Needs kcat and ops/kafka-local (kafka-log-dirs).
source "$(dirname "$0")/lib/common.sh"

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
}
# payload TOPIC: "records bytes keys latest" - the number of records of
# TOPIC, the sum of their keys' and values' lengths, the number of keys,
# and the sum of the lengths of each key's latest value.
payload() {
  kcat -C -b "$VIGIL_BOOTSTRAP" -t "$1" -e -q -f '%K\t%S\t%k\n' |
    awk -F'\t' '{n++; b += ($1 > 0 ? $1 : 0) + ($2 > 0 ? $2 : 0); last[$3] = $2}
      END {for (k in last) {nk++; l += (last[k] > 0 ? last[k] : 0)}
           print n + 0, b + 0, nk + 0, l + 0}'
}
# logsize TOPIC: the bytes of TOPIC's partitions in the broker's log.
logsize() {
  "$VIGIL_SRC/ops/kafka-local" log-dirs-tool --bootstrap-server "$VIGIL_BOOTSTRAP" \
    --describe --topic-list "$1" 2>/dev/null | grep '^{' |
    python3 -c 'import json, sys
d = json.load(sys.stdin)
print(sum(p["size"] for b in d["brokers"] for l in b["logDirs"] for p in l["partitions"]))'
}

run lz4
run none -X kafka.compression.codec=none

for t in g.changelog alerts; do
  read -r n1 b1 k1 l1 < <(payload "$S.lz4.$t")
  read -r n0 b0 k0 l0 < <(payload "$S.none.$t")
  s1=$(logsize "$S.lz4.$t")
  s0=$(logsize "$S.none.$t")
  echo "$t: $n1 records of $b1 bytes, log $s1 bytes (lz4); $n0 records of $b0 bytes, log $s0 bytes (none)"
  [ "$n1" -gt 100 ] && [ "$n0" -gt 100 ] || fail "$t: only $n1 and $n0 records"
  # (how many records depends on the batches; the keys and what is
  # latest for each do not)
  # latest: within 0.1 % (times of the run, such as a partition's
  # progress, are in some of them)
  [ "$k1" = "$k0" ] && [ $(( (l1 - l0) * 1000 )) -le "$l0" ] &&
    [ $(( (l0 - l1) * 1000 )) -le "$l0" ] ||
    fail "$t: $k1 keys ($l1 bytes latest) by default, $k0 ($l0) uncompressed"
  [ "$s0" -ge "$b0" ] ||
    fail "$t: kafka.compression.codec=none, yet the log ($s0 bytes) is smaller than its records ($b0)"
  [ "$s1" -lt "$b1" ] ||
    fail "$t: not compressed by default: the log ($s1 bytes) holds its records ($b1) uncompressed"
done
echo "PASS 0027-compression"
