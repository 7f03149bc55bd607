#!/usr/bin/env bash
# 0030-partitions-added: partitions added to one input topic while vigil
# process runs (against the runbook: patients move between partitions) stop
# it with exit 1 and a message that says what happened, within seconds (the
# consumer's metadata is refreshed every 10 s), not at librdkafka's
# five-minute refresh while events land where their history is not.
# An input topic deleted while it runs stops it the same way (exit 1, the
# message naming the topic), and the process ends: librdkafka 2.0.2's
# destroy waits for ever after that (it held state.dir's lock), so the
# stop's 45 s deadline ends it.
source "$(dirname "$0")/lib/common.sh"
# run_then LOG WHAT TOOL-ARGS...: vigil process on the topics of T (state
# and group named after LOG) until assigned, then kafka-topics TOOL-ARGS;
# it must exit 1 within 90 s of that (killed, and the test failed, if not).
run_then() {
  local log=$1 what=$2 t0 rc; shift 2
  "$VIGIL" process "${T[@]}" -X state.dir="$log.st" -X group.id="$S.$(basename "$log")" \
    2> "$log" &
  pid=$!
  wait_log "$log" "assigned 10 topic-partitions" 60
  "$VIGIL_SRC/ops/kafka-local" topics-tool --bootstrap-server "$VIGIL_BOOTSTRAP" \
    "$@" >/dev/null 2>&1 || fail "kafka-topics $*: failed"
  t0=$(date +%s)
  for _ in $(seq 1 900); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    kill -9 "$pid"; wait "$pid" 2>/dev/null
    fail "still running $(( $(date +%s) - t0 )) s after $what: $(tail -3 "$log")"
  fi
  set +e; wait "$pid"; rc=$?; set -e
  echo "stopped $(( $(date +%s) - t0 )) s after $what, exit $rc"
  [ "$rc" = 1 ] || fail "exit $rc, want 1: $(tail -3 "$log")"
}
S=it30.$$.$(date +%s)
topic_args "$S"
"$VIGIL" topics create -p 2 "${T[@]}" >/dev/null
"$VIGIL" simulate -n 50 --seed 30 --out "$TMP/ev.jsonl" 2>/dev/null
"$VIGIL" produce "${T[@]}" "$TMP/ev.jsonl" 2>/dev/null
run_then "$TMP/p.log" "a partition was added" \
  --alter --topic "$S.sip" --partitions 3
grep -q "ERROR process: .*partitions were added to an input topic\|ERROR process: assignment breaks co-partitioning" "$TMP/p.log" \
  || fail "no message naming the cause: $(grep -E 'ERROR|WARN' "$TMP/p.log" | tail -5)"
grep -m3 -E "ERROR" "$TMP/p.log"
[ "$(grep -c 'ERROR process:' "$TMP/p.log")" = 1 ] \
  || fail "more than the one error: $(grep 'ERROR process:' "$TMP/p.log")"

# An input topic deleted while vigil process runs (topics of its own).
topic_args "$S.d"
"$VIGIL" topics create -p 2 "${T[@]}" >/dev/null
"$VIGIL" produce "${T[@]}" "$TMP/ev.jsonl" 2>/dev/null
run_then "$TMP/d.log" "$S.d.dea was deleted" --delete --topic "$S.d.dea"
grep -q "ERROR process: .*not of $S.d.dea (an input topic deleted" "$TMP/d.log" \
  || fail "no message naming the deleted topic: $(grep -E 'ERROR|WARN' "$TMP/d.log" | tail -5)"
grep -m4 -E "ERROR|WARN  process" "$TMP/d.log"
echo PASS
