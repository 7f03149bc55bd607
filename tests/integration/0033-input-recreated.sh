#!/usr/bin/env bash
# 0033-input-recreated: an input topic deleted and re-created, then filled
# with more records than the state had read of it (so the state's offsets
# are valid positions again, in other records), is refused: vigil process
# exits 1 naming the topic and the runbook's section, instead of skipping
# as many new records as it had read before without a word. A restart on
# the same topics (records added, nothing re-created) resumes as before and
# ends with file mode's results (nothing lost or counted twice by resuming
# at the last record processed to compare it).
source "$(dirname "$0")/lib/common.sh"
S=it33.$$.$(date +%s)
topic_args "$S"
G=(-X group.id="$S.g" -X state.dir="$TMP/st" -X stream.idle_ms=1000)
"$VIGIL" topics create -p 2 "${T[@]}" >/dev/null
"$VIGIL" simulate -n 150 --seed 33 --out "$TMP/a.jsonl" 2>/dev/null
"$VIGIL" simulate -n 150 --seed 34 --out "$TMP/b.jsonl" 2>/dev/null
"$VIGIL" simulate -n 600 --seed 35 --out "$TMP/c.jsonl" 2>/dev/null
cat "$TMP/a.jsonl" "$TMP/b.jsonl" > "$TMP/ab.jsonl"
file_reference "$TMP/ab.jsonl" "$TMP/fa.jsonl" "$TMP/fi.jsonl"

"$VIGIL" produce "${T[@]}" "$TMP/a.jsonl" 2>/dev/null
"$VIGIL" process "${T[@]}" "${G[@]}" --exit-idle 3 2> "$TMP/r1.log" \
  || fail "first run: $(tail -3 "$TMP/r1.log")"
"$VIGIL" produce "${T[@]}" "$TMP/b.jsonl" 2>/dev/null
"$VIGIL" process "${T[@]}" "${G[@]}" --exit-idle 3 2> "$TMP/r2.log" \
  || fail "restart on the same topics: $(tail -3 "$TMP/r2.log")"
"$PY" "$(dirname "$0")/lib/compare_process.py" "$VIGIL_BOOTSTRAP" \
  "$S.alerts" "$S.parts" "$TMP/fa.jsonl" "$TMP/fi.jsonl" > "$TMP/cmp.txt" \
  || fail "restart on the same topics: Kafka mode differs from file mode: $(tail -3 "$TMP/cmp.txt")"
tail -1 "$TMP/cmp.txt"

# Re-created: more records than before (c has twice the patients of a and b).
KT=("$VIGIL_SRC/ops/kafka-local" topics-tool --bootstrap-server "$VIGIL_BOOTSTRAP")
"${KT[@]}" --delete --topic "$S.adm" >/dev/null 2>&1 || fail "cannot delete $S.adm"
for _ in $(seq 1 50); do
  "${KT[@]}" --create --topic "$S.adm" --partitions 2 >/dev/null 2>&1 && break
  sleep 0.2
done
"$VIGIL" produce "${T[@]}" "$TMP/c.jsonl" 2>/dev/null
set +e
"$VIGIL" process "${T[@]}" "${G[@]}" --exit-idle 3 2> "$TMP/r3.log"
rc=$?
set -e
[ "$rc" = 1 ] || fail "after $S.adm was re-created: exit $rc, want 1 (the first records of the new topic skipped?): $(grep -E 'WARN|ERROR' "$TMP/r3.log" | tail -3)"
grep -q "ERROR process: partition [01]: $S.adm \[[01]\] .*deleted and re-created.*RUNBOOK.md section 9" "$TMP/r3.log" \
  || fail "no error naming the re-created topic: $(grep -E 'WARN|ERROR' "$TMP/r3.log" | tail -3)"
grep -m1 "ERROR" "$TMP/r3.log"
echo PASS
