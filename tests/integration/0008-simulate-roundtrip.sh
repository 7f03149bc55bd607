#!/usr/bin/env bash
# 0008-simulate-roundtrip: a simulated population, produced with `vigil
# produce` and with `vigil simulate --publish`, is on the five input topics
# exactly (count per topic, every field, key = patient_id), as decoded by
# fastavro. And the processor refuses input topics that are not
# co-partitioned.
source "$(dirname "$0")/lib/common.sh"
"$VIGIL" simulate -n 250 --seed 8 --out "$TMP/ev.jsonl" 2>/dev/null
n=$(wc -l < "$TMP/ev.jsonl")

S=it8a.$$.$(date +%s); topic_args "$S"
"$VIGIL" topics create -p 3 "${T[@]}" >/dev/null
"$VIGIL" produce "${T[@]}" "$TMP/ev.jsonl" 2> "$TMP/produce.log" \
  || fail "produce: $(tail -2 "$TMP/produce.log")"
grep -q "produce: $n delivered, 0 failed, 0 rejected" "$TMP/produce.log" \
  || fail "produce summary: $(tail -1 "$TMP/produce.log")"
"$PY" "$(dirname "$0")/lib/compare_events.py" "$VIGIL_BOOTSTRAP" "$S" "$TMP/ev.jsonl"

S=it8b.$$.$(date +%s); topic_args "$S"
"$VIGIL" topics create -p 2 "${T[@]}" >/dev/null
"$VIGIL" simulate -n 250 --seed 8 --publish "${T[@]}" 2> "$TMP/sim.log" \
  || fail "simulate --publish: $(tail -2 "$TMP/sim.log")"
"$PY" "$(dirname "$0")/lib/compare_events.py" "$VIGIL_BOOTSTRAP" "$S" "$TMP/ev.jsonl"

# Not co-partitioned: the deaths topic has another partition count.
S=it8c.$$.$(date +%s); topic_args "$S"
"$VIGIL" topics create -p 2 "${T[@]}" -X "topic.deaths=$S.dea-other" >/dev/null
# creates $S.dea with 3 partitions; the others exist with 2: topics create
# itself says so and fails
set +e
"$VIGIL" topics create -p 3 "${T[@]}" > "$TMP/create.out" 2>&1
rc=$?
set -e
[ "$rc" = 1 ] && grep -q "not co-partitioned" "$TMP/create.out" \
  || fail "topics create accepted non-co-partitioned inputs (exit $rc): $(cat "$TMP/create.out")"
set +e
"$VIGIL" process "${T[@]}" -X state.dir="$TMP/st" --exit-idle 1 2> "$TMP/cp.log"
rc=$?
set -e
[ "$rc" = 1 ] || fail "process with mismatched partitions exited $rc"
grep -q "input topics are not co-partitioned: .* has 2 partitions, $S.dea has 3" "$TMP/cp.log" \
  || fail "no clear co-partitioning message: $(cat "$TMP/cp.log")"
echo PASS
