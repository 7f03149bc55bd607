#!/usr/bin/env bash
# 0034-changelog-deleted: the changelog topic deleted while the state dir
# survives, then the processor restarted (it creates the changelog again,
# empty). A partition whose file is there goes to the new changelog whole;
# a partition whose file is gone too (another member's, or lost) cannot be
# restored from anything: it is rebuilt from the input topics' beginning,
# and the processor says so (WARN naming the empty changelog and the
# group's committed offsets) instead of a silent restore of nothing. With
# the history still in the input topics, the results equal file mode's.
source "$(dirname "$0")/lib/common.sh"
S=it34.$$.$(date +%s)
topic_args "$S"
G=(-X group.id="$S.g" -X state.dir="$TMP/st" -X stream.idle_ms=1000)
"$VIGIL" topics create -p 2 "${T[@]}" >/dev/null
"$VIGIL" simulate -n 200 --seed 34 --out "$TMP/a.jsonl" 2>/dev/null
"$VIGIL" simulate -n 200 --seed 35 --out "$TMP/b.jsonl" 2>/dev/null
cat "$TMP/a.jsonl" "$TMP/b.jsonl" > "$TMP/ab.jsonl"
file_reference "$TMP/ab.jsonl" "$TMP/fa.jsonl" "$TMP/fi.jsonl"
"$VIGIL" produce "${T[@]}" "$TMP/a.jsonl" 2>/dev/null
"$VIGIL" process "${T[@]}" "${G[@]}" --exit-idle 3 2> "$TMP/r1.log" \
  || fail "first run: $(tail -3 "$TMP/r1.log")"
"$VIGIL_SRC/ops/kafka-local" topics-tool --bootstrap-server "$VIGIL_BOOTSTRAP" \
  --delete --topic "$S.g.changelog" >/dev/null 2>&1 || fail "cannot delete the changelog"
rm -f "$TMP"/st/partition-1.db*
"$VIGIL" produce "${T[@]}" "$TMP/b.jsonl" 2>/dev/null
for _ in $(seq 1 20); do # (until the deletion is through)
  "$VIGIL" process "${T[@]}" "${G[@]}" --exit-idle 3 2> "$TMP/r2.log" \
    && break
  grep -q "changelog .*exists\|marked for deletion" "$TMP/r2.log" \
    || fail "restart: $(tail -3 "$TMP/r2.log")"
  sleep 0.5
done
grep -q "partition 0: changelog $S.g.changelog is empty: the local state goes to it whole" "$TMP/r2.log" \
  || fail "partition 0's file not logged whole: $(grep -E 'partition 0' "$TMP/r2.log" | tail -3)"
grep -q "WARN  process: partition 1: no state in state.dir and changelog $S.g.changelog is empty, but offsets committed by the group" "$TMP/r2.log" \
  || fail "partition 1 rebuilt from nothing without a warning: $(grep -E 'WARN|partition 1' "$TMP/r2.log" | tail -3)"
grep -m1 "WARN" "$TMP/r2.log"
grep -q "WARN  process: partition 0: no state" "$TMP/r2.log" \
  && fail "partition 0 (its file kept) warned: $(grep 'partition 0: no state' "$TMP/r2.log")"
"$PY" "$(dirname "$0")/lib/compare_process.py" "$VIGIL_BOOTSTRAP" \
  "$S.alerts" "$S.parts" "$TMP/fa.jsonl" "$TMP/fi.jsonl" > "$TMP/cmp.txt" \
  || fail "after the changelog was deleted: Kafka mode differs from file mode: $(tail -3 "$TMP/cmp.txt")"
tail -1 "$TMP/cmp.txt"
echo PASS
