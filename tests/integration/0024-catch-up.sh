#!/usr/bin/env bash
# 0024-catch-up: catching up on a backlog, vigil process does not end a
# batch each time its local queue runs empty until the next fetch comes:
# while a topic of the partition has 1,000 or more records still to fetch,
# a batch grows to batch.max_events or batch.max_ms. Live, with no backlog,
# a batch still commits as soon as the local queue is empty. librdkafka's
# queue holds 30,000 records unless kafka.queued.min.messages is set, and
# the loop wakes librdkafka's fetcher once that queue, having been full,
# is down to half. The results equal file mode's.
source "$(dirname "$0")/lib/common.sh"
S=it24.$$.$(date +%s)
topic_args "$S"
"$VIGIL" topics create -p 1 "${T[@]}" >/dev/null
"$VIGIL" simulate -n 10000 --seed 24 --out "$TMP/ev.jsonl" 2>/dev/null
head -n -40 "$TMP/ev.jsonl" > "$TMP/history.jsonl"
tail -n 40 "$TMP/ev.jsonl" > "$TMP/live.jsonl"
"$VIGIL" process --input "$TMP/ev.jsonl" --partitions 1 \
  --alerts "$TMP/fa.jsonl" --indicators "$TMP/fi.jsonl" 2>/dev/null
"$VIGIL" produce "${T[@]}" "$TMP/history.jsonl" 2>/dev/null
n=$(wc -l < "$TMP/history.jsonl")
adm=$(grep -c '"type":"admission"' "$TMP/history.jsonl")
[ "$adm" -ge 8000 ] || fail "only $adm admissions: too small a backlog to test"

# The backlog, from empty state. Small fetches (16 KiB a partition, a
# response every 20 ms at most) leave the local queue empty between
# fetches: ending a batch there made a batch per fetch (about 150 here).
# batch.max_ms 60 s is more than the run needs: batch.max_events bounds.
t0=$(date +%s)
"$VIGIL" process "${T[@]}" -X state.dir="$TMP/state" -X group.id="$S.g" \
  -X batch.max_events=4000 -X batch.max_ms=60000 -X stream.idle_ms=200 \
  -X kafka.max.partition.fetch.bytes=16384 -X kafka.fetch.min.bytes=1000000 \
  -X kafka.fetch.wait.max.ms=20 \
  --exit-idle 2 2> "$TMP/backlog.log" || fail "$(tail -3 "$TMP/backlog.log")"
secs=$(($(date +%s) - t0))
line=$(grep "partition 0: released" "$TMP/backlog.log") \
  || fail "no release line: $(tail -3 "$TMP/backlog.log")"
echo "backlog of $n events in $secs s: ${line#*INFO  }"
ev=$(sed -n 's/.*released (\([0-9]*\) events in.*/\1/p' <<<"$line")
b=$(sed -n 's/.* events in \([0-9]*\) batches.*/\1/p' <<<"$line")
[ "$ev" = "$n" ] || fail "handled $ev events, not $n"
# ceil(n / 4000) batches by batch.max_events; then, with under 1,000
# records left in every topic, a batch per fetch again (about 25 at most
# at 16 KiB); and empty ones while the run idles before its exit (the
# watermark's moves, parts due each second).
max=$(( (n + 3999) / 4000 + 40 ))
[ "$b" -le "$max" ] || fail "$b batches for $n events: more than $max"
# A backlog that never ended would hold the last batch for batch.max_ms.
[ "$secs" -lt 45 ] || fail "the backlog took $secs s"

# Live: the same state, the last events written while it runs. Their batch
# commits when the local queue is empty, long before batch.max_ms (60 s)
# and before the run's end (--exit-idle 15) would commit it: the group's
# offsets (committed after each batch) reach the end within seconds.
# (With librdkafka's fetch log, for the queue's limit below.)
"$VIGIL" process "${T[@]}" -X state.dir="$TMP/state" -X group.id="$S.g" \
  -X batch.max_ms=60000 -X stream.idle_ms=200 --exit-idle 15 \
  -X log.level=debug -X kafka.debug=fetch 2> "$TMP/live.log" &
pid=$!
wait_log "$TMP/live.log" "assigned 5 topic-partitions" 60
t0=$(date +%s)
"$VIGIL" produce "${T[@]}" "$TMP/live.jsonl" 2>/dev/null
ok=0
while [ $(($(date +%s) - t0)) -lt 8 ]; do
  if "$VIGIL" lag "${T[@]}" -g "$S.g" --max-lag 0 >/dev/null 2>&1; then
    ok=1; break
  fi
  sleep 0.2
done
t1=$(date +%s)
wait "$pid" || fail "live run: $(tail -3 "$TMP/live.log")"
[ $ok = 1 ] || fail "the live events were not committed within 8 s (batch.max_ms 60 s)"
echo "live: $(wc -l < "$TMP/live.jsonl") events committed $((t1 - t0)) s after they were written"

# vigil process sets librdkafka's queue to 30,000 records (the loop wakes
# its fetcher, below), and kafka.queued.min.messages wins.
# (librdkafka 2.0's fetch log: "... (0/30000 msgs, 0/65536 kb queued ...)
# is fetchable", once per partition at least as its fetches start.)
grep -q "/30000 msgs" "$TMP/live.log" \
  || fail "librdkafka's queue limit is not 30,000: $(grep -m1 -o '[0-9]*/[0-9]* msgs' "$TMP/live.log" || true)"
# The whole backlog again (a group and state of its own, outputs to topics
# of their own) with a queue of 1,234 records: the queue fills and stops
# librdkafka's fetches many times over, and each time the loop wakes its
# fetcher once the queue is down to half its peak (vg_loop.h,
# lp_wake_fetcher): requests the brokers answered.
topic_args "$S.w"
W=("${T[@]}")
topic_args "$S"
"$VIGIL" topics create -p 1 "${W[@]}" >/dev/null
"$VIGIL" process "${T[@]}" -X topic.alerts="$S.w.alerts" \
  -X topic.indicator_parts="$S.w.parts" -X topic.indicators="$S.w.ind" \
  -X topic.dlq="$S.w.dlq" -X state.dir="$TMP/state-w" -X group.id="$S.w.g" \
  -X stream.idle_ms=200 -X kafka.queued.min.messages=1234 --exit-idle 1 \
  -X log.level=debug -X kafka.debug=fetch 2> "$TMP/set.log" \
  || fail "$(tail -3 "$TMP/set.log")"
grep -q "/1234 msgs" "$TMP/set.log" \
  || fail "kafka.queued.min.messages=1234 not used: $(grep -m1 -o '[0-9]*/[0-9]* msgs' "$TMP/set.log" || true)"
grep -q "released ($(wc -l < "$TMP/ev.jsonl") events" "$TMP/set.log" \
  || fail "the backlog with a queue of 1,234: $(grep -m1 'released' "$TMP/set.log" || tail -3 "$TMP/set.log")"
wline=$(grep -m1 "librdkafka's fetcher: [0-9]* wake-ups asked" "$TMP/set.log" || true)
answered=$(sed -n 's/.* \([0-9]*\) requests answered.*/\1/p' <<<"$wline")
stops=$(grep -c "not fetchable: queued.min.messages exceeded" "$TMP/set.log" || true)
echo "a queue of 1,234 records: librdkafka stopped fetching $stops times (per topic-partition); ${wline#*process: }"
[ -n "$answered" ] && [ "$answered" -ge 1 ] \
  || fail "the loop never woke librdkafka's fetcher (${wline:-no count}; $stops stops)"
"$PY" "$(dirname "$0")/lib/compare_process.py" "$VIGIL_BOOTSTRAP" \
  "$S.alerts" "$S.parts" "$TMP/fa.jsonl" "$TMP/fi.jsonl"
echo PASS
