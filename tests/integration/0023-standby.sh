#!/usr/bin/env bash
# 0023-standby: num.standby.replicas=1. Two instances each keep a warm copy
# of the other's partitions (read from the changelog as it is written).
# One is killed with SIGKILL while events flow: the other takes its
# partitions over from its copies, restoring only what the copies lacked
# (incremental, never whole), and the final results equal file mode.
source "$(dirname "$0")/lib/common.sh"
S=it23.$$.$(date +%s)
topic_args "$S"
P=4
"$VIGIL" topics create -p $P "${T[@]}" >/dev/null
"$VIGIL" simulate -n "${STANDBY_PATIENTS:-4000}" --seed 23 --out "$TMP/ev.jsonl" \
  2>/dev/null
"$VIGIL" process --input "$TMP/ev.jsonl" --partitions $P \
  --alerts "$TMP/fa.jsonl" --indicators "$TMP/fi.jsonl" 2>/dev/null
split -n l/2 "$TMP/ev.jsonl" "$TMP/chunk."
G=(-X group.id="$S.g" -X kafka.session.timeout.ms=6000
   -X num.standby.replicas=1)

"$VIGIL" produce "${T[@]}" "$TMP/chunk.aa" 2>/dev/null
for m in a b; do
  "$VIGIL" process "${T[@]}" "${G[@]}" -X state.dir="$TMP/$m" \
    2> "$TMP/$m.log" &
  eval "pid_$m=\$!"
done
# shellcheck disable=SC2154
{ wait_log "$TMP/a.log" "standby for partition" 60
  wait_log "$TMP/b.log" "standby for partition" 60; }
grep -h "standby for partition" "$TMP/a.log" "$TMP/b.log" | sed 's/^[^ ]* /  /'
sleep 3
"$VIGIL" produce "${T[@]}" "$TMP/chunk.ab" 2>/dev/null &
prod=$!
sleep 1
t0=$(date +%s.%N)
from=$(($(wc -l < "$TMP/b.log") + 1))
# shellcheck disable=SC2154
kill -9 "$pid_a"
wait "$pid_a" 2>/dev/null || true
wait_log "$TMP/b.log" "assigned 20 topic-partitions" 60 "$from"
t1=$(date +%s.%N)
echo "takeover after SIGKILL (session timeout 6 s): $(echo "$t1 - $t0" | bc | cut -c1-5) s"
tail -n "+$from" "$TMP/b.log" \
  | grep "becomes active\|standby\|restored from\|partitions restored" \
  | sed 's/^[^ ]* /  /'
grep -q "restoring from .*whole" <(tail -n "+$from" "$TMP/b.log") \
  && fail "a partition was restored whole despite its standby copy"
n=$(tail -n "+$from" "$TMP/b.log" | grep -c "restored from .*incremental" || true)
[ "$n" -ge 2 ] || fail "the dead instance's partitions were not taken over from copies ($n incremental restores)"
wait $prod || fail "produce failed"
sleep 3
# shellcheck disable=SC2154
kill -TERM "$pid_b"
wait "$pid_b" || fail "b: $(tail -3 "$TMP/b.log")"
"$VIGIL" process "${T[@]}" "${G[@]}" -X state.dir="$TMP/b" --exit-idle 3 \
  2> "$TMP/b2.log" || fail "b (last run): $(tail -3 "$TMP/b2.log")"
"$PY" "$(dirname "$0")/lib/compare_process.py" "$VIGIL_BOOTSTRAP" \
  "$S.alerts" "$S.parts" "$TMP/fa.jsonl" "$TMP/fi.jsonl"
echo PASS
