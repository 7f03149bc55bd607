#!/usr/bin/env bash
# 0010-scale-out: two processors in one consumer group (static members, own
# state dirs as on two hosts) split the partitions; the range assignor keeps
# each partition number's four topics together; together they give exactly
# file mode's results.
source "$(dirname "$0")/lib/common.sh"
S=it10.$$.$(date +%s)
topic_args "$S"
"$VIGIL" topics create -p 3 "${T[@]}" >/dev/null
"$VIGIL" simulate -n 300 --seed 5 --out "$TMP/ev.jsonl" 2>/dev/null
"$VIGIL" process --input "$TMP/ev.jsonl" --partitions 3 \
  --alerts "$TMP/fa.jsonl" --indicators "$TMP/fi.jsonl" 2>/dev/null
for m in a b; do
  "$VIGIL" process "${T[@]}" -X state.dir="$TMP/state-$m" -X group.id="$S.g" \
    -X kafka.group.instance.id="$m" --exit-idle 10 2> "$TMP/$m.log" &
  eval "pid_$m=\$!"
done
# The events are produced once both members hold their share (of 3
# partitions, 2 and 1: 10 and 5 topic partitions): produced before, the
# first member to join can handle them all before the second one's
# rebalance.
for m in a b; do
  wait_log "$TMP/$m.log" "assigned \(5\|10\) topic-partitions" 60
done
"$VIGIL" produce "${T[@]}" "$TMP/ev.jsonl" 2>/dev/null
# shellcheck disable=SC2154
wait "$pid_a" || fail "member a: $(tail -3 "$TMP/a.log")"
# shellcheck disable=SC2154
wait "$pid_b" || fail "member b: $(tail -3 "$TMP/b.log")"
ea=$(sed -n 's/.*stopped after \([0-9]*\) events.*/\1/p' "$TMP/a.log")
eb=$(sed -n 's/.*stopped after \([0-9]*\) events.*/\1/p' "$TMP/b.log")
echo "member a processed $ea events, member b $eb"
[ "${ea:-0}" -gt 0 ] && [ "${eb:-0}" -gt 0 ] \
  || fail "the members did not share the work: a=$ea b=$eb"
grep -h "assigned" "$TMP/a.log" "$TMP/b.log"
# an idle exit with a share of the partitions says so
for m in a b; do
  grep -q "WARN  process: exiting idle with \(5\|10\) of the 15 input topic-partitions" "$TMP/$m.log" \
    || fail "member $m did not say it exited with a share: $(grep -i 'exiting' "$TMP/$m.log")"
done
"$PY" "$(dirname "$0")/lib/compare_process.py" "$VIGIL_BOOTSTRAP" \
  "$S.alerts" "$S.parts" "$TMP/fa.jsonl" "$TMP/fi.jsonl"
echo PASS
