#!/usr/bin/env bash
# 0022-restore-crash: a partition's state restored from the changelog, with
# crashes where a restore and a rebalance are weakest.
#
#  1. Instance A builds the state (and the changelog) of the first part of
#     a population, and stops.
#  2. Instance B starts with an empty state dir (a new machine): it must
#     restore every partition from the changelog. It is killed (SIGKILL)
#     in the middle of the restore, three times; each restart must restore
#     again ("whole"), never go on from a half-restored file.
#  3. More events arrive while B runs; A starts again with its old files
#     (now behind the changelog): the group rebalances, A restores
#     incrementally, and B is killed during that rebalance.
#  4. A ends alone, with the rest of the events.
# The final ACTIVE alerts and indicator values must equal file mode.
#  5. Other rules.* settings are refused, from A's files and from the
#     changelog; a replay to a new changelog gives file mode's results
#     with them (docs/RUNBOOK.md section 9).
source "$(dirname "$0")/lib/common.sh"
S=it22.$$.$(date +%s)
topic_args "$S"
P=3
"$VIGIL" topics create -p $P "${T[@]}" >/dev/null
"$VIGIL" simulate -n "${RESTORE_PATIENTS:-6000}" --seed 22 --out "$TMP/ev.jsonl" \
  2>/dev/null
"$VIGIL" process --input "$TMP/ev.jsonl" --partitions $P \
  --alerts "$TMP/fa.jsonl" --indicators "$TMP/fi.jsonl" 2>/dev/null
split -n l/3 "$TMP/ev.jsonl" "$TMP/chunk."
G=(-X group.id="$S.g" -X kafka.session.timeout.ms=6000)

# 1. A builds the first third.
"$VIGIL" produce "${T[@]}" "$TMP/chunk.aa" 2>/dev/null
"$VIGIL" process "${T[@]}" "${G[@]}" -X state.dir="$TMP/a" --exit-idle 3 \
  2> "$TMP/a1.log" || fail "A: $(tail -3 "$TMP/a1.log")"
recs=$(kcat -C -b "$VIGIL_BOOTSTRAP" -t "$S.g.changelog" -e -q -f 'x\n' \
       2>/dev/null | wc -l)
echo "changelog: $recs records after the first third"
[ "$recs" -gt 1000 ] || fail "changelog has only $recs records"

# 2. B restores from nothing, killed mid-restore three times.
killed=0
for i in 1 2 3; do
  : > "$TMP/b$i.log"
  "$VIGIL" process "${T[@]}" "${G[@]}" -X state.dir="$TMP/b" \
    2> "$TMP/b$i.log" &
  b=$!
  wait_log "$TMP/b$i.log" "restoring from" 60
  if ! grep -q "partitions restored from" "$TMP/b$i.log"; then
    kill -9 $b; killed=$((killed + 1))
  else
    kill -9 $b
  fi
  wait $b 2>/dev/null || true
  grep -m4 -h "restor" "$TMP/b$i.log" | sed 's/^[^ ]* /  B run '"$i"': /'
done
echo "B killed $killed times before its restore had finished"
[ "$killed" -ge 1 ] || fail "no kill landed inside a restore (restores too fast?)"
for i in 2 3; do
  grep -q "restoring from .*whole" "$TMP/b$i.log" \
    || fail "B run $i did not restore whole after a killed restore"
done

# 3. B runs; more events; A comes back (behind) and B dies in the
#    rebalance.
"$VIGIL" process "${T[@]}" "${G[@]}" -X state.dir="$TMP/b" 2> "$TMP/b4.log" &
b=$!
wait_log "$TMP/b4.log" "assigned" 60
"$VIGIL" produce "${T[@]}" "$TMP/chunk.ab" 2>/dev/null
sleep 2
"$VIGIL" process "${T[@]}" "${G[@]}" -X state.dir="$TMP/a" 2> "$TMP/a2.log" &
a=$!
wait_log "$TMP/b4.log" "revoked" 60
sleep 0.2
kill -9 $b
wait $b 2>/dev/null || true
echo "B killed during the rebalance A's return caused"
"$VIGIL" produce "${T[@]}" "$TMP/chunk.ac" 2>/dev/null

# 4. A ends alone.
wait_log "$TMP/a2.log" "assigned 15 topic-partitions" 60
sleep 3
kill -TERM $a
wait $a || fail "A (second run): $(tail -3 "$TMP/a2.log")"
"$VIGIL" process "${T[@]}" "${G[@]}" -X state.dir="$TMP/a" --exit-idle 3 \
  2> "$TMP/a3.log" || fail "A (last run): $(tail -3 "$TMP/a3.log")"
grep -h "restor" "$TMP/a2.log" "$TMP/a3.log" | sed 's/^[^ ]* /  A: /'
grep -q "restored from .*incremental" "$TMP/a2.log" "$TMP/a3.log" \
  || fail "A never restored incrementally from its old files"

"$PY" "$(dirname "$0")/lib/compare_process.py" "$VIGIL_BOOTSTRAP" \
  "$S.alerts" "$S.parts" "$TMP/fa.jsonl" "$TMP/fi.jsonl"

# 5. Other rules.* settings: refused, from the files and from the
#    changelog, naming what differs (a replay by RUNBOOK section 9 before
#    it had a new changelog restored the old state without a word); the
#    replay to a new changelog (and, to compare, new output topics) gives
#    file mode's results with the new settings.
R=(-X rules.window_days=10 -X rules.sip_deadline_hours=24)
for d in a fresh; do
  rc=0
  "$VIGIL" process "${T[@]}" "${G[@]}" "${R[@]}" -X state.dir="$TMP/$d" \
    --exit-idle 3 2> "$TMP/r-$d.log" || rc=$?
  [ $rc = 1 ] && grep -q "holds a state built with other settings (window_days 30 -> 10, sip_deadline_hours 72 -> 24)" "$TMP/r-$d.log" ||
    fail "other rules on $d: exit $rc, $(grep -m2 ERROR "$TMP/r-$d.log")"
done
grep -q "changelog $S.g.changelog holds" "$TMP/r-fresh.log" || fail "not named: the changelog"
echo "ok - other rules.* settings refused from the files and from the changelog"
"$VIGIL" process --input "$TMP/ev.jsonl" --partitions $P "${R[@]}" \
  --alerts "$TMP/fa2.jsonl" --indicators "$TMP/fi2.jsonl" 2>/dev/null
"$VIGIL" topics create -p $P "${T[@]}" -X "topic.alerts=$S.alerts2" \
  -X "topic.indicator_parts=$S.parts2" >/dev/null
"$VIGIL" process "${T[@]}" "${G[@]}" "${R[@]}" -X state.dir="$TMP/replay" \
  -X "topic.changelog=$S.g.changelog.2" -X "topic.alerts=$S.alerts2" \
  -X "topic.indicator_parts=$S.parts2" --exit-idle 3 2> "$TMP/replay.log" ||
  fail "replay: $(tail -3 "$TMP/replay.log")"
"$PY" "$(dirname "$0")/lib/compare_process.py" "$VIGIL_BOOTSTRAP" \
  "$S.alerts2" "$S.parts2" "$TMP/fa2.jsonl" "$TMP/fi2.jsonl"
echo "ok - the replay to a new changelog: file mode's results with the new settings"
echo PASS
