#!/usr/bin/env bash
# 0009-crash-loop: SPEC §7 "after any crash (kill -9 at any instant) the
# indicator values and the set of ACTIVE alerts equal those of a run that
# never crashed". The processor and the aggregator are killed with SIGKILL
# at pseudo-random instants, again and again, while events keep arriving;
# then they run to the end and the topics must equal file mode exactly.
#
# CI runs a small population; the crash suite at scale (cmake --build build
# --target crash-suite: about a million events, 20 kills of each) runs the
# same script with CRASH_PATIENTS, CRASH_DAYS, CRASH_CHUNKS and
# CRASH_KILLS (per chunk) set.
source "$(dirname "$0")/lib/common.sh"
S=it9.$$.$(date +%s)
topic_args "$S"
P=3
NP=${CRASH_PATIENTS:-1200} DAYS=${CRASH_DAYS:-150}
CHUNKS=${CRASH_CHUNKS:-4} KILLS=${CRASH_KILLS:-2}
"$VIGIL" topics create -p $P "${T[@]}" >/dev/null
"$VIGIL" simulate -n "$NP" --seed 99 --days "$DAYS" --out "$TMP/ev.jsonl" 2>/dev/null
total=$(wc -l < "$TMP/ev.jsonl")
"$VIGIL" process --input "$TMP/ev.jsonl" --partitions $P \
  --alerts "$TMP/file-alerts.jsonl" --indicators "$TMP/file-ind.jsonl" 2>/dev/null
split -n "l/$CHUNKS" "$TMP/ev.jsonl" "$TMP/chunk."

ST=(-X state.dir="$TMP/state" -X batch.max_events=15 -X batch.max_ms=50
    -X group.id="$S.g" -X kafka.group.instance.id=crash-1)
RANDOM=42   # reproducible kill instants
kills=0
for chunk in "$TMP"/chunk.*; do
  "$VIGIL" produce "${T[@]}" "$chunk" 2>/dev/null &
  prod=$!
  for _ in $(seq 1 "$KILLS"); do
    "$VIGIL" process "${T[@]}" "${ST[@]}" 2>> "$TMP/process.log" &
    p=$!
    "$VIGIL" aggregate "${T[@]}" -X state.dir="$TMP/state" -X batch.max_events=15 \
      2>> "$TMP/aggregate.log" &
    a=$!
    sleep "$(printf '0.%02d' $((RANDOM % 90 + 10)))"
    kill -9 $p $a 2>/dev/null || true
    wait $p $a 2>/dev/null || true
    kills=$((kills + 1))
  done
  wait $prod || fail "produce $chunk failed"
done
echo "events: $total; processor and aggregator killed $kills times each"

"$VIGIL" process "${T[@]}" "${ST[@]}" --exit-idle 3 2>> "$TMP/process.log" \
  || fail "final process run: $(tail -3 "$TMP/process.log")"
"$VIGIL" aggregate "${T[@]}" -X state.dir="$TMP/state" --exit-idle 3 \
  2>> "$TMP/aggregate.log" || fail "final aggregate run: $(tail -3 "$TMP/aggregate.log")"
grep -c "stopped after" "$TMP/process.log" | grep -qx 1 \
  || fail "a killed run logged a clean stop: the kill came too late to test anything"

"$PY" "$(dirname "$0")/lib/compare_process.py" "$VIGIL_BOOTSTRAP" \
  "$S.alerts" "$S.parts" "$TMP/file-alerts.jsonl" "$TMP/file-ind.jsonl" "$S.ind"
echo PASS
