#!/usr/bin/env bash
# 0029-lead (stream.lead_ms): catching up a history, the input topics of a
# partition are kept within stream.lead_ms of each other in event time by
# pausing the topic-partitions ahead. The deaths topic starts a year ahead
# and is paused; a second member joins meanwhile, so the partition is
# revoked while paused and comes back to the first member (the range
# assignor gives the one partition to the member id that sorts first:
# client.id a). librdkafka keeps a pause across an assignment: a
# topic-partition not resumed before its release is never fetched again,
# and the first member never settles. Each event is handled once (the
# members' counts add up to the input) and the results are file mode's
# exactly; the released log lines count the pauses; a run with
# stream.lead_ms=0 pauses nothing.
source "$(dirname "$0")/lib/common.sh"
S=it29.$$.$(date +%s)
topic_args "$S"
P=1
"$VIGIL" topics create -p $P "${T[@]}" >/dev/null
"$VIGIL" simulate -n 8000 --days 700 --start 2024-01-01 --seed 29 \
  --out "$TMP/ev.jsonl" 2>/dev/null
# Deaths only from the second year: the deaths topic starts a year ahead
# of the others and is paused until admissions and discharges get there
# (half the catch-up), so the second member joins while it is paused.
mv "$TMP/ev.jsonl" "$TMP/all.jsonl"
"$PY" - "$TMP/all.jsonl" > "$TMP/ev.jsonl" <<'PY'
import json, sys
for l in open(sys.argv[1]):
    e = json.loads(l)
    if e["type"] != "death" or e["occurred_at"] >= "2025-01-01":
        sys.stdout.write(l)
PY
"$VIGIL" process --input "$TMP/ev.jsonl" --partitions $P \
  --alerts "$TMP/fa.jsonl" --indicators "$TMP/fi.jsonl" 2>/dev/null
# Batches of 50 records, fetches of 16 KiB: the topics come side by side,
# a batch of each at a time, not each in one fetch.
"$VIGIL" produce "${T[@]}" -X kafka.batch.num.messages=50 "$TMP/ev.jsonl" \
  2>"$TMP/produce.log" \
  || fail "produce: $(tail -2 "$TMP/produce.log")"
echo "history: $(wc -l < "$TMP/ev.jsonl") events over 700 days (deaths in the second year only)"

# Batches of 100 events and 200 records queued for the workers at most
# (the times compared are those of records handled): a catch-up of some
# seconds, in which the second member's join is noticed at once
# (heartbeats every 100 ms).
SLOW=(-X kafka.max.partition.fetch.bytes=16384 -X batch.max_events=100
      -X process.queue_max=200 -X kafka.heartbeat.interval.ms=100
      -X log.level=debug)
# paused TP... at the line "revoked" of a log: the topic-partitions paused
# (and not resumed) when the first revoke began
paused_at_revoke() {
  awk '/ DEBUG process: paused / { p[$5 " " $6] = 1 }
       / DEBUG process: resumed / { delete p[$5 " " $6] }
       / INFO  process: revoked / { for (k in p) print k; exit }' "$1"
}

pid_a= pid_b=
# (a member left running would keep the test's output open)
trap 'kill $pid_a $pid_b 2>/dev/null || true; [ -n "${KEEP_TMP:-}" ] && echo "kept $TMP" >&2 || rm -rf "$TMP"' EXIT
"$VIGIL" process "${T[@]}" -X state.dir="$TMP/a" -X group.id="$S.g" \
  -X kafka.client.id=a \
  -X stream.lead_ms=86400000 "${SLOW[@]}" --exit-idle 3 2> "$TMP/a.log" &
pid_a=$!
wait_log "$TMP/a.log" "DEBUG process: paused $S.dea" 60
"$VIGIL" process "${T[@]}" -X state.dir="$TMP/b" -X group.id="$S.g" \
  -X kafka.client.id=b \
  -X stream.lead_ms=86400000 "${SLOW[@]}" --exit-idle 3 2> "$TMP/b.log" &
pid_b=$!
for m in a b; do
  pid=pid_$m
  # (a partition left paused: the member never settles)
  for _ in $(seq 1 1200); do kill -0 "${!pid}" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "${!pid}" 2>/dev/null; then
    kill "${!pid}"
    fail "member $m did not finish within 120 s: $(tail -3 "$TMP/$m.log")"
  fi
  wait "${!pid}" || fail "member $m: $(tail -3 "$TMP/$m.log")"
done
np=$(grep -c " DEBUG process: paused " "$TMP/a.log" || true)
nl=$(sed -n 's/.*released (.* \([0-9]*\) input pauses.*/\1/p' "$TMP/a.log" |
     awk '{s += $1} END {print s + 0}')
held=$(paused_at_revoke "$TMP/a.log" | wc -l)
echo "member a: $np pauses ($nl in its released lines), $held topic-partitions paused when revoked"
[ "$np" -ge 3 ] || fail "member a paused $np times: the test does not test pausing"
[ "$nl" -eq "$np" ] || fail "member a's released lines count $nl pauses, its log $np"
grep -q "INFO  process: revoked" "$TMP/a.log" || fail "member a was not revoked"
paused_at_revoke "$TMP/a.log" | grep -q "^$S.dea " || fail "the deaths topic was not paused when member a's partitions were revoked: $(grep -E 'paused|resumed|revoked|assigned' "$TMP/a.log" | tail -5)"
ea=$(sed -n 's/.*stopped after \([0-9]*\) events.*/\1/p' "$TMP/a.log")
eb=$(sed -n 's/.*stopped after \([0-9]*\) events.*/\1/p' "$TMP/b.log")
[ "$((ea + eb))" -eq "$(wc -l < "$TMP/ev.jsonl")" ] \
  || fail "members a and b handled $ea + $eb events of $(wc -l < "$TMP/ev.jsonl")"
"$PY" "$(dirname "$0")/lib/compare_process.py" "$VIGIL_BOOTSTRAP" \
  "$S.alerts" "$S.parts" "$TMP/fa.jsonl" "$TMP/fi.jsonl" \
  || fail "the members' results differ from file mode"

# stream.lead_ms=0: the same results, nothing paused
O=(-X "topic.alerts=$S.z.alerts" -X "topic.indicator_parts=$S.z.parts"
   -X "topic.indicators=$S.z.ind" -X "topic.dlq=$S.z.dlq")
"$VIGIL" topics create -p $P "${T[@]}" "${O[@]}" >/dev/null 2>&1 || true
"$VIGIL" process "${T[@]}" "${O[@]}" -X state.dir="$TMP/z" \
  -X group.id="$S.z" -X stream.lead_ms=0 "${SLOW[@]}" --exit-idle 3 \
  2> "$TMP/z.log" || fail "lead 0: $(tail -3 "$TMP/z.log")"
if grep -q " DEBUG process: paused " "$TMP/z.log"; then
  fail "stream.lead_ms=0 paused: $(grep -m1 paused "$TMP/z.log")"
fi
"$PY" "$(dirname "$0")/lib/compare_process.py" "$VIGIL_BOOTSTRAP" \
  "$S.z.alerts" "$S.z.parts" "$TMP/fa.jsonl" "$TMP/fi.jsonl" \
  || fail "stream.lead_ms=0 differs from file mode"
echo PASS
