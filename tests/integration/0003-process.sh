#!/usr/bin/env bash
# 0003-process: simulate -> produce -> process (Kafka mode, with a kill -9
# and a graceful restart mid-stream) -> the alerts and indicator-parts
# topics, decoded by fastavro, equal file mode on the same events; so do
# the aggregator's values and its INDICATOR_BELOW_TARGET alerts (file mode
# writes those of its final values, SPEC §5.5).
source "$(dirname "$0")/lib/common.sh"
S=it3.$$.$(date +%s)
topic_args "$S"
P=3
"$VIGIL" topics create -p $P "${T[@]}" >/dev/null
"$VIGIL" simulate -n 400 --seed 42 --days 150 --out "$TMP/events.jsonl" 2>/dev/null
total=$(wc -l < "$TMP/events.jsonl")
half=$((total / 2))
head -n $half "$TMP/events.jsonl" > "$TMP/a.jsonl"
tail -n +$((half + 1)) "$TMP/events.jsonl" > "$TMP/b.jsonl"
echo "events: $total ($half + $((total - half)))"

# Reference: file mode with the same number of partitions.
"$VIGIL" process --input "$TMP/events.jsonl" --partitions $P \
  --alerts "$TMP/file-alerts.jsonl" --indicators "$TMP/file-ind.jsonl"

# Static membership: a restarted member takes its place at once, without
# waiting for the killed one's session to time out.
STATE=(-X state.dir="$TMP/state" -X batch.max_events=25 -X group.id="$S.g"
       -X kafka.group.instance.id=proc-1)
"$VIGIL" produce "${T[@]}" "$TMP/a.jsonl"

# Run 1: killed with SIGKILL mid-stream.
"$VIGIL" process "${T[@]}" "${STATE[@]}" 2> "$TMP/run1.log" &
pid=$!
for _ in $(seq 1 100); do
  grep -q "assigned" "$TMP/run1.log" && break; sleep 0.1
done
sleep 0.5
kill -9 $pid; wait $pid 2>/dev/null || true
echo "run 1 killed (SIGKILL)"

# Run 2: more events arrive, stopped gracefully with SIGTERM.
"$VIGIL" produce "${T[@]}" "$TMP/b.jsonl"
"$VIGIL" process "${T[@]}" "${STATE[@]}" 2> "$TMP/run2.log" &
pid=$!
for _ in $(seq 1 200); do
  grep -q "assigned" "$TMP/run2.log" && break; sleep 0.1
done
sleep 1
kill -TERM $pid; wait $pid || fail "run 2 did not stop cleanly: $(tail -3 "$TMP/run2.log")"
grep -q "stopped after" "$TMP/run2.log" || fail "run 2 did not log its stop"
echo "run 2 stopped (SIGTERM)"

# A SIGTERM before the group is joined (topics checked, the changelog
# looked up) is a clean stop too: exit 0, not killed by the signal. (Its
# own group: run 3 below must not wait for this one's member.)
"$VIGIL" process "${T[@]}" -X state.dir="$TMP/early" -X group.id="$S.early" \
  2> "$TMP/early.log" &
pid=$!
sleep 0.2
kill -TERM $pid
wait $pid || fail "SIGTERM in the first 0.2 s: exit $? ($(tail -2 "$TMP/early.log"))"
grep -q "stopped after" "$TMP/early.log" || fail "early SIGTERM: no stop logged"
echo "SIGTERM 0.2 s after start: a clean stop"

# Run 3: to the end. Duplicates re-sent on top must change nothing.
head -n 50 "$TMP/events.jsonl" | "$VIGIL" produce "${T[@]}" 2>/dev/null
"$VIGIL" process "${T[@]}" "${STATE[@]}" --exit-idle 3 2> "$TMP/run3.log" \
  || fail "run 3: $(tail -3 "$TMP/run3.log")"
echo "run 3 done"
# the only member, with every partition: no word of others at its exit
grep -q "exiting idle with" "$TMP/run3.log" \
  && fail "run 3 says others hold partitions: $(grep 'exiting idle with' "$TMP/run3.log")"

ls -l "$TMP"/state/*.db | awk '{print $1}' | sort -u | grep -qx -- '-rw-------' \
  || fail "state files are not mode 0600: $(ls -l "$TMP"/state)"

# The aggregator sums the parts into values (killed once mid-way too).
"$VIGIL" aggregate "${T[@]}" -X state.dir="$TMP/state" -X batch.max_events=40 \
  2> "$TMP/agg1.log" &
pid=$!
sleep 1.5; kill -9 $pid; wait $pid 2>/dev/null || true
"$VIGIL" aggregate "${T[@]}" -X state.dir="$TMP/state" --exit-idle 3 \
  2> "$TMP/agg2.log" || fail "aggregate: $(tail -3 "$TMP/agg2.log")"
echo "aggregate done"

# What people read: vigil indicators from the topic equals file mode, line
# for line; the CSV has a row per value.
# (File mode's values read back by the same command: the JSON it prints
# adds area_name, value and the target to the value records.)
"$VIGIL" indicators "${T[@]}" --period all --breakdown any --format json > "$TMP/ind-cli.jsonl" 2>/dev/null
"$VIGIL" indicators -i "$TMP/file-ind.jsonl" --period all --breakdown any --format json > "$TMP/ind-file.jsonl" 2>/dev/null
[ "$(wc -l < "$TMP/ind-file.jsonl")" = "$(wc -l < "$TMP/file-ind.jsonl")" ] \
  || fail "vigil indicators -i: not one line per file-mode value"
diff -q "$TMP/ind-cli.jsonl" "$TMP/ind-file.jsonl" >/dev/null \
  || { diff "$TMP/ind-cli.jsonl" "$TMP/ind-file.jsonl" | head -5; fail "vigil indicators --format json differs from file mode"; }
[ "$(("$(wc -l < "$TMP/file-ind.jsonl")" + 1))" = "$("$VIGIL" indicators "${T[@]}" --period all --breakdown any --format csv 2>/dev/null | wc -l)" ] \
  || fail "CSV row count"
echo "vigil indicators: $(wc -l < "$TMP/ind-cli.jsonl") values equal file mode"

"$PY" "$(dirname "$0")/lib/compare_process.py" "$VIGIL_BOOTSTRAP" \
  "$S.alerts" "$S.parts" "$TMP/file-alerts.jsonl" "$TMP/file-ind.jsonl" "$S.ind" \
  --targets || fail "Kafka mode (processor and aggregator) differs from file mode"
echo "PASS"
