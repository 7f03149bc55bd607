#!/usr/bin/env bash
# 0025-txn-input: input written in Kafka transactions, as by a hospital
# system with an exactly-once producer (tests/lib/txn_produce.c): every
# chunk of events is one committed transaction, and a fifth of the events
# go in transactions that are aborted; half before a first run, a third
# during a second one, restarted from the stored state and offsets, and
# the rest with its last transaction held open over a third run, then
# committed before a fourth.
# vigil process reads with read_committed: each run handles exactly the
# events committed for it, and the results equal file mode's on the
# committed events only. The commit and abort markers after the last event of a partition
# are passed too: the group's committed offsets reach the end of every
# input partition (lag 0), so that lag tools and alerts on lag see a
# caught-up processor as caught up; and so do the aggregator's on the
# parts topic, which vigil process writes in transactions, and its values
# equal file mode's.
source "$(dirname "$0")/lib/common.sh"
TXN=${VIGIL_BUILD:-$VIGIL_SRC/build}/tests/vigil-test-txn-produce
[ -x "$TXN" ] || fail "$TXN not built (cmake --build build)"
S=it25.$$.$(date +%s)
topic_args "$S"
"$VIGIL" topics create -p 3 "${T[@]}" >/dev/null
"$VIGIL" simulate -n 3000 --seed 25 --out "$TMP/ev.jsonl" 2>/dev/null
head -n -1500 "$TMP/ev.jsonl" > "$TMP/h1.jsonl"
head -n -500 "$TMP/ev.jsonl" | tail -n 1000 > "$TMP/h2.jsonl"
tail -n 500 "$TMP/ev.jsonl" > "$TMP/h3.jsonl"
txn() { # txn IN KEPT [HOLD]: the events of IN in transactions, a fifth aborted
  "$TXN" "$VIGIL_BOOTSTRAP" "$S" 5 200 "$@" 2> "$TMP/txn.log" \
    || fail "$(cat "$TMP/txn.log")"
  cat "$TMP/txn.log"
}
run() { # run LOG EXIT_IDLE: vigil process on the state and group of the test
  "$VIGIL" process "${T[@]}" -X state.dir="$TMP/state" -X group.id="$S.g" \
    -X stream.idle_ms=200 --exit-idle "$2" 2> "$1"
}
handled() { sed -n 's/.*stopped after \([0-9]*\) events.*/\1/p' "$1"; }
caught_up() {
  "$VIGIL" lag "${T[@]}" -g "$S.g" --max-lag 0 > "$TMP/lag.txt" 2>&1 \
    || fail "lag after the run: $(cat "$TMP/lag.txt")"
}

# The history, then a run to its end.
txn "$TMP/h1.jsonl" "$TMP/k1.jsonl"
n1=$(wc -l < "$TMP/k1.jsonl")
[ "$n1" -lt "$(wc -l < "$TMP/h1.jsonl")" ] || fail "nothing was aborted"
run "$TMP/run1.log" 2 || fail "$(tail -3 "$TMP/run1.log")"
echo "committed $n1 events; vigil process handled $(handled "$TMP/run1.log")"
[ "$(handled "$TMP/run1.log")" = "$n1" ] || fail "handled $(handled "$TMP/run1.log") events, not the $n1 committed"
caught_up

# Live: a restart from the state and offsets stored (the ends included),
# the rest written in transactions while it runs (the ends of partitions
# read to, between records).
run "$TMP/run2.log" 10 &
pid=$!
wait_log "$TMP/run2.log" "assigned 15 topic-partitions" 60
txn "$TMP/h2.jsonl" "$TMP/k2.jsonl"
n2=$(wc -l < "$TMP/k2.jsonl")
wait "$pid" || fail "live run: $(tail -3 "$TMP/run2.log")"
echo "committed $n2 more; vigil process handled $(handled "$TMP/run2.log") after its restart"
[ "$(handled "$TMP/run2.log")" = "$n2" ] || fail "handled $(handled "$TMP/run2.log") events after the restart, not the $n2 committed since"
caught_up

# An upstream transaction left open: a read_committed consumer reads to
# the last stable offset, before its records, and may store no offset
# past them (the end it reads to is that offset, not the log's end). The
# rest of the events, the last of their transactions held open while
# vigil process runs to idle; then committed, and a restart handles
# exactly the held events.
txn "$TMP/h3.jsonl" "$TMP/k3.jsonl" "$TMP/hold" &
tpid=$!
for _ in $(seq 1 600); do
  [ -e "$TMP/hold.open" ] && break
  kill -0 "$tpid" 2>/dev/null || break
  sleep 0.1
done
[ -e "$TMP/hold.open" ] || fail "the helper held no transaction open: $(cat "$TMP/txn.log")"
nh=$(cat "$TMP/hold.open")
n3=$(wc -l < "$TMP/k3.jsonl")
run "$TMP/run3.log" 2 || fail "$(tail -3 "$TMP/run3.log")"
echo "committed $((n3 - nh)) more and $nh held open; vigil process handled $(handled "$TMP/run3.log")"
[ "$(handled "$TMP/run3.log")" = "$((n3 - nh))" ] || fail "handled $(handled "$TMP/run3.log") events with a transaction open, not the $((n3 - nh)) committed"
touch "$TMP/hold"
wait "$tpid" || fail "txn_produce: $(cat "$TMP/txn.log")"
run "$TMP/run4.log" 2 || fail "$(tail -3 "$TMP/run4.log")"
echo "the held transaction committed; vigil process handled $(handled "$TMP/run4.log") after a restart"
[ "$(handled "$TMP/run4.log")" = "$nh" ] || fail "handled $(handled "$TMP/run4.log") events after the held transaction committed, not its $nh"
caught_up
cat "$TMP/k1.jsonl" "$TMP/k2.jsonl" "$TMP/k3.jsonl" > "$TMP/kept.jsonl"
"$VIGIL" process --input "$TMP/kept.jsonl" --partitions 3 \
  --alerts "$TMP/fa.jsonl" --indicators "$TMP/fi.jsonl" 2>/dev/null
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
# Its values (read_committed: the parts of committed transactions only)
# equal file mode's on the committed events.
"$PY" "$(dirname "$0")/lib/compare_process.py" "$VIGIL_BOOTSTRAP" \
  "$S.alerts" "$S.parts" "$TMP/fa.jsonl" "$TMP/fi.jsonl" "$S.ind" \
  || fail "the aggregator's values differ from file mode's"
echo PASS
