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
# stops_with_1 LOG WHAT: vigil process ($pid) exits 1 within 60 s of WHAT
# (killed, and the test failed, if not).
stops_with_1() {
  local t0 rc
  t0=$(date +%s)
  for _ in $(seq 1 600); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    kill -9 "$pid"; wait "$pid" 2>/dev/null
    fail "still running $(( $(date +%s) - t0 )) s after $2: $(tail -3 "$1")"
  fi
  set +e; wait "$pid"; rc=$?; set -e
  echo "stopped $(( $(date +%s) - t0 )) s after $2, exit $rc"
  [ "$rc" = 1 ] || fail "exit $rc, want 1: $(tail -3 "$1")"
}
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
stops_with_1 "$TMP/p.log" "a partition was added"
grep -q "ERROR process: .*partitions were added to an input topic\|ERROR process: assignment breaks co-partitioning" "$TMP/p.log" \
  || fail "no message naming the cause: $(grep -E 'ERROR|WARN' "$TMP/p.log" | tail -5)"
grep -E "ERROR" "$TMP/p.log" | head -3
[ "$(grep -c 'ERROR process:' "$TMP/p.log")" = 1 ] \
  || fail "more than the one error: $(grep 'ERROR process:' "$TMP/p.log")"

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
stops_with_1 "$TMP/d.log" "$S.d.dea was deleted"
grep -q "ERROR process: .*not of $S.d.dea (an input topic deleted" "$TMP/d.log" \
  || fail "no message naming the deleted topic: $(grep -E 'ERROR|WARN' "$TMP/d.log" | tail -5)"
grep -E "ERROR" "$TMP/d.log" | head -3
echo PASS
