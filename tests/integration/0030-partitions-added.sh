#!/usr/bin/env bash
# 0030-partitions-added: partitions added to one input topic while vigil
# process runs (against the runbook: patients move between partitions) stop
# it with exit 1 and a message that says what happened, within seconds (the
# consumer's metadata is refreshed every 10 s), not at librdkafka's
# five-minute refresh while events land where their history is not.
# An input topic deleted while it runs stops it the same way (exit 1 within
# seconds, the message naming the topic), and the process ends: librdkafka
# 2.0.2's destroy waited for ever after that, holding state.dir's lock.
source "$(dirname "$0")/lib/common.sh"
S=it30.$$.$(date +%s)
topic_args "$S"
"$VIGIL" topics create -p 2 "${T[@]}" >/dev/null
"$VIGIL" simulate -n 50 --seed 30 --out "$TMP/ev.jsonl" 2>/dev/null
"$VIGIL" produce "${T[@]}" "$TMP/ev.jsonl" 2>/dev/null
"$VIGIL" process "${T[@]}" -X state.dir="$TMP/st" -X group.id="$S.g" \
  2> "$TMP/p.log" &
pid=$!
wait_log "$TMP/p.log" "assigned 10 topic-partitions" 60
"$VIGIL_SRC/ops/kafka-local" topics-tool --bootstrap-server "$VIGIL_BOOTSTRAP" \
  --alter --topic "$S.sip" --partitions 3 >/dev/null 2>&1 \
  || fail "kafka-topics --alter did not add a partition"
t0=$(date +%s)
for _ in $(seq 1 600); do
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
if kill -0 "$pid" 2>/dev/null; then
  kill "$pid"; wait "$pid" 2>/dev/null
  fail "still running $(( $(date +%s) - t0 )) s after a partition was added: $(tail -3 "$TMP/p.log")"
fi
set +e; wait "$pid"; rc=$?; set -e
echo "stopped $(( $(date +%s) - t0 )) s after the partition was added, exit $rc"
[ "$rc" = 1 ] || fail "exit $rc, want 1: $(tail -3 "$TMP/p.log")"
grep -q "ERROR process: .*partitions were added to an input topic\|ERROR process: assignment breaks co-partitioning" "$TMP/p.log" \
  || fail "no message naming the cause: $(grep -E 'ERROR|WARN' "$TMP/p.log" | tail -5)"
grep -E "ERROR" "$TMP/p.log" | head -3
[ "$(grep -c 'ERROR' "$TMP/p.log")" = 1 ] \
  || fail "more than the one error: $(grep ERROR "$TMP/p.log")"

# An input topic deleted while vigil process runs (topics of its own).
topic_args "$S.d"
"$VIGIL" topics create -p 2 "${T[@]}" >/dev/null
"$VIGIL" produce "${T[@]}" "$TMP/ev.jsonl" 2>/dev/null
"$VIGIL" process "${T[@]}" -X state.dir="$TMP/st2" -X group.id="$S.g2" \
  2> "$TMP/d.log" &
pid=$!
wait_log "$TMP/d.log" "assigned 1[0-9] topic-partitions" 60
"$VIGIL_SRC/ops/kafka-local" topics-tool --bootstrap-server "$VIGIL_BOOTSTRAP" \
  --delete --topic "$S.d.dea" >/dev/null 2>&1 \
  || fail "kafka-topics --delete did not delete the topic"
t0=$(date +%s)
for _ in $(seq 1 600); do
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
if kill -0 "$pid" 2>/dev/null; then
  kill -9 "$pid"; wait "$pid" 2>/dev/null
  fail "still running $(( $(date +%s) - t0 )) s after an input topic was deleted: $(tail -3 "$TMP/d.log")"
fi
set +e; wait "$pid"; rc=$?; set -e
echo "stopped $(( $(date +%s) - t0 )) s after $S.d.dea was deleted, exit $rc"
[ "$rc" = 1 ] || fail "exit $rc, want 1: $(tail -3 "$TMP/d.log")"
grep -q "ERROR process: .*not of $S.d.dea (an input topic deleted" "$TMP/d.log" \
  || fail "no message naming the deleted topic: $(grep -E 'ERROR|WARN' "$TMP/d.log" | tail -5)"
grep -E "ERROR" "$TMP/d.log" | head -3
echo PASS
