#!/usr/bin/env bash
# 0025-txn-input: input written in Kafka transactions, as by a hospital
# system with an exactly-once producer (tests/lib/txn_produce.c): every
# chunk of events is one committed transaction, and a fifth of the events
# go in transactions that are aborted. vigil process reads with
# read_committed: its results equal file mode's on the committed events
# only. The commit and abort markers after the last event of a partition
# are passed too: the group's committed offsets reach the end of every
# input partition (lag 0), so that lag tools and alerts on lag see a
# caught-up processor as caught up; and so do the aggregator's on the
# parts topic, which vigil process writes in transactions.
source "$(dirname "$0")/lib/common.sh"
TXN=${VIGIL_BUILD:-$VIGIL_SRC/build}/tests/vigil-test-txn-produce
[ -x "$TXN" ] || fail "$TXN not built (cmake --build build)"
S=it25.$$.$(date +%s)
topic_args "$S"
"$VIGIL" topics create -p 3 "${T[@]}" >/dev/null
"$VIGIL" simulate -n 3000 --seed 25 --out "$TMP/ev.jsonl" 2>/dev/null
"$TXN" "$VIGIL_BOOTSTRAP" "$S" 5 200 "$TMP/ev.jsonl" "$TMP/kept.jsonl" \
  2> "$TMP/txn.log" || fail "$(cat "$TMP/txn.log")"
cat "$TMP/txn.log"
n=$(wc -l < "$TMP/kept.jsonl")
[ "$n" -lt "$(wc -l < "$TMP/ev.jsonl")" ] || fail "nothing was aborted"
"$VIGIL" process --input "$TMP/kept.jsonl" --partitions 3 \
  --alerts "$TMP/fa.jsonl" --indicators "$TMP/fi.jsonl" 2>/dev/null

"$VIGIL" process "${T[@]}" -X state.dir="$TMP/state" -X group.id="$S.g" \
  -X stream.idle_ms=200 --exit-idle 2 2> "$TMP/run.log" \
  || fail "$(tail -3 "$TMP/run.log")"
got=$(sed -n 's/.*stopped after \([0-9]*\) events.*/\1/p' "$TMP/run.log")
echo "committed $n events; vigil process handled ${got:-?}"
[ "$got" = "$n" ] || fail "handled ${got:-no} events, not the $n committed"
"$VIGIL" lag "${T[@]}" -g "$S.g" --max-lag 0 > "$TMP/lag.txt" 2>&1 \
  || fail "lag after the run: $(cat "$TMP/lag.txt")"
"$PY" "$(dirname "$0")/lib/compare_process.py" "$VIGIL_BOOTSTRAP" \
  "$S.alerts" "$S.parts" "$TMP/fa.jsonl" "$TMP/fi.jsonl"

# vigil process publishes its parts in Kafka transactions too (with the
# changelog): the aggregator's offsets also reach the end of every
# partition of the parts topic.
"$VIGIL" aggregate "${T[@]}" -X state.dir="$TMP/agg" \
  -X aggregate.group.id="$S.agg" --exit-idle 2 2> "$TMP/agg.log" \
  || fail "aggregate: $(tail -3 "$TMP/agg.log")"
"$VIGIL" lag "${T[@]}" -g "$S.agg" --topic "$S.parts" --max-lag 0 \
  > "$TMP/alag.txt" 2>&1 || fail "aggregator's lag: $(cat "$TMP/alag.txt")"
echo "aggregator: $(grep -c . "$TMP/alag.txt") lines of lag, total 0"
echo PASS
