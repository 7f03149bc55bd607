#!/usr/bin/env bash
# 0024-catch-up: catching up on a backlog, vigil process does not end a
# batch each time its local queue runs empty until the next fetch comes:
# while a topic of the partition has 1,000 or more records still to fetch,
# a batch grows to batch.max_events or batch.max_ms. Live, with no backlog,
# a batch still commits as soon as the local queue is empty. The results
# equal file mode's.
source "$(dirname "$0")/lib/common.sh"
S=it24.$$.$(date +%s)
topic_args "$S"
"$VIGIL" topics create -p 1 "${T[@]}" >/dev/null
"$VIGIL" simulate -n 4000 --seed 24 --out "$TMP/ev.jsonl" 2>/dev/null
head -n -40 "$TMP/ev.jsonl" > "$TMP/history.jsonl"
tail -n 40 "$TMP/ev.jsonl" > "$TMP/live.jsonl"
"$VIGIL" process --input "$TMP/ev.jsonl" --partitions 1 \
  --alerts "$TMP/fa.jsonl" --indicators "$TMP/fi.jsonl" 2>/dev/null
"$VIGIL" produce "${T[@]}" "$TMP/history.jsonl" 2>/dev/null
n=$(wc -l < "$TMP/history.jsonl")
adm=$(grep -c '"type":"admission"' "$TMP/history.jsonl")
[ "$adm" -ge 3000 ] || fail "only $adm admissions: too small a backlog to test"

# The backlog: from empty state, batches bounded by batch.max_events only
# (batch.max_ms 60 s is more than the run needs).
"$VIGIL" process "${T[@]}" -X state.dir="$TMP/state" -X group.id="$S.g" \
  -X batch.max_events=4000 -X batch.max_ms=60000 -X stream.idle_ms=200 \
  -X kafka.max.partition.fetch.bytes=16384 -X kafka.fetch.min.bytes=1000000 \
  -X kafka.fetch.wait.max.ms=20 \
  --exit-idle 2 2> "$TMP/backlog.log" || fail "$(tail -3 "$TMP/backlog.log")"
line=$(grep "partition 0: released" "$TMP/backlog.log") \
  || fail "no release line: $(tail -3 "$TMP/backlog.log")"
echo "backlog of $n events: ${line#*INFO  }"
ev=$(sed -n 's/.*released (\([0-9]*\) events in.*/\1/p' <<<"$line")
b=$(sed -n 's/.* events in \([0-9]*\) batches.*/\1/p' <<<"$line")
[ "$ev" = "$n" ] || fail "handled $ev events, not $n"
# ceil(n / 4000) batches by batch.max_events, one for the end of the
# backlog (below 1,000 records left), and empty ones while the run idles
# before its exit (the watermark's moves, parts due each second). Small
# fetches (16 KiB a partition, a response every 20 ms) leave the local
# queue empty between fetches: ending a batch there made 45-47 batches.
max=$(( (n + 3999) / 4000 + 10 ))
[ "$b" -le "$max" ] || fail "$b batches for $n events: more than $max"

# Live: the same state, the last events written while it runs. Their batch
# commits when the local queue is empty, long before batch.max_ms (60 s)
# and before the run's end (--exit-idle 15) would commit it: its changelog
# records reach the changelog topic within seconds.
changelog() { # the end offset of the changelog (a transaction moves it)
  kcat -Q -b "$VIGIL_BOOTSTRAP" -t "$S.g.changelog:0:-1" 2>/dev/null \
    | sed -n 's/.* offset \([0-9]*\).*/\1/p'
}
c0=$(changelog)
[ -n "$c0" ] || fail "no changelog records after the backlog"
"$VIGIL" process "${T[@]}" -X state.dir="$TMP/state" -X group.id="$S.g" \
  -X batch.max_ms=60000 -X stream.idle_ms=200 --exit-idle 15 \
  2> "$TMP/live.log" &
pid=$!
wait_log "$TMP/live.log" "assigned 5 topic-partitions" 60
sleep 1
c1=$(changelog)
t0=$(date +%s)
"$VIGIL" produce "${T[@]}" "$TMP/live.jsonl" 2>/dev/null
c2=$c1
while [ $(($(date +%s) - t0)) -lt 8 ]; do
  c2=$(changelog)
  [ "$c2" -gt "$c1" ] && break
  sleep 0.2
done
t1=$(date +%s)
wait "$pid" || fail "live run: $(tail -3 "$TMP/live.log")"
echo "live: changelog end offset $c0 -> $c1 -> $c2, $((t1 - t0)) s after the events were written"
[ "$c2" -gt "$c1" ] || fail "no live batch committed within 8 s (batch.max_ms 60 s)"
"$PY" "$(dirname "$0")/lib/compare_process.py" "$VIGIL_BOOTSTRAP" \
  "$S.alerts" "$S.parts" "$TMP/fa.jsonl" "$TMP/fi.jsonl"
echo PASS
