#!/usr/bin/env bash
# 0012-backfill (SPEC v2 §5.5, §6.1, §7): three years of history produced
# to the input topics first, grouped by type (SIPs, register entries, then deaths, then
# admissions, then discharges: the small topics far ahead), then processed
# with default retention. Results equal file mode (ACTIVE alerts, indicator
# parts, aggregated values with complete / history_complete / data_since);
# a second replay from the beginning (another group, another state dir,
# other output topics, and without transactions: changelog.enabled=false,
# the publisher's other path) gives the same; neither raises more alerts that it
# later retracts than file mode does. Then a record older than its
# patient's horizon goes to the DLQ as too-late and no figure changes.
source "$(dirname "$0")/lib/common.sh"
S=it12.$$.$(date +%s)
topic_args "$S"
P=3
"$VIGIL" topics create -p $P "${T[@]}" >/dev/null
"$VIGIL" simulate -n 1000 --days 1100 --start 2024-01-01 --seed 11 \
  --out "$TMP/events.jsonl" 2>/dev/null
total=$(wc -l < "$TMP/events.jsonl")

"$VIGIL" process --input "$TMP/events.jsonl" --partitions $P \
  --alerts "$TMP/file-alerts.jsonl" --indicators "$TMP/file-ind.jsonl" \
  2> "$TMP/file.log"
file_churn=$(sed -n 's/.*alerts (\([0-9]*\) raised and later retracted).*/\1/p' "$TMP/file.log")
[ -n "$file_churn" ] || fail "no churn count from file mode: $(cat "$TMP/file.log")"

for type in sip_created register_entry death admission discharge; do
  grep "\"type\":\"$type\"" "$TMP/events.jsonl" > "$TMP/$type.jsonl"
  "$VIGIL" produce "${T[@]}" "$TMP/$type.jsonl" 2>>"$TMP/produce.log" \
    || fail "produce $type: $(tail -2 "$TMP/produce.log")"
done
echo "history: $total events over 3 years produced by type (SIPs first)"

replay() { # name [process options]: process + aggregate from the beginning
  local n=$1; shift
  local O=(-X "topic.alerts=$S.$n.alerts" -X "topic.indicator_parts=$S.$n.parts"
           -X "topic.indicators=$S.$n.ind" -X "topic.dlq=$S.$n.dlq")
  "$VIGIL" topics create -p $P "${T[@]}" "${O[@]}" >/dev/null 2>&1 || true
  local t0=$(date +%s.%N)
  "$VIGIL" process "${T[@]}" "${O[@]}" -X state.dir="$TMP/$n" \
    -X group.id="$S.$n" "$@" --exit-idle 2 2> "$TMP/$n.log" \
    || fail "$n: process: $(tail -3 "$TMP/$n.log")"
  "$VIGIL" aggregate "${T[@]}" "${O[@]}" -X state.dir="$TMP/$n-agg" \
    -X aggregate.group.id="$S.$n.agg" --exit-idle 2 2> "$TMP/$n-agg.log" \
    || fail "$n: aggregate: $(tail -3 "$TMP/$n-agg.log")"
  echo "$n: processed in $(echo "$(date +%s.%N) - $t0" | bc | cut -c1-5) s"
  "$PY" "$(dirname "$0")/lib/compare_process.py" "$VIGIL_BOOTSTRAP" \
    "$S.$n.alerts" "$S.$n.parts" "$TMP/file-alerts.jsonl" \
    "$TMP/file-ind.jsonl" "$S.$n.ind" || fail "$n differs from file mode"
  churn=$("$PY" -c "
import sys; sys.path.insert(0, '$(dirname "$0")/lib')
import topics; print(topics.alert_churn('$VIGIL_BOOTSTRAP', '$S.$n.alerts'))")
  echo "$n: alerts raised and later retracted: $churn (file mode: $file_churn)"
  [ "$churn" -le "$file_churn" ] || fail "$n: $churn alerts raised then retracted, file mode $file_churn"
}
replay r1
replay r2 -X changelog.enabled=false
grep -q "transactional.id" "$TMP/r1.log" || fail "r1 published without transactions"
if grep -q "transactional.id" "$TMP/r2.log"; then
  fail "r2 published in transactions (changelog.enabled=false ignored)"
fi
grep -q "no state in state.dir but offsets committed" "$TMP/r2.log" \
  && fail "r2: a first run warned of a rebuild"
# Without the changelog, a lost state file means a rebuild that cannot
# correct what was published before: said in a warning per partition.
rm -rf "$TMP/r2"
"$VIGIL" process "${T[@]}" -X "topic.alerts=$S.r2.alerts" \
  -X "topic.indicator_parts=$S.r2.parts" -X "topic.dlq=$S.r2.dlq" \
  -X state.dir="$TMP/r2" -X group.id="$S.r2" -X changelog.enabled=false \
  --exit-idle 2 2> "$TMP/r2b.log" || fail "r2 again: $(tail -3 "$TMP/r2b.log")"
[ "$(grep -c "WARN .*no state in state.dir but offsets committed" "$TMP/r2b.log")" = $P ] \
  || fail "r2 again without its state: no warning per partition ($(grep WARN "$TMP/r2b.log" | head -3))"
echo "r2 without its state file: rebuilt, with a warning per partition"

# Too late: an admission of a patient whose newest stored event is more
# than 400 days after it. Nothing changes but the DLQ.
"$PY" - "$TMP/events.jsonl" > "$TMP/late.jsonl" <<'PY'
import json, sys, datetime
ev = [json.loads(l) for l in open(sys.argv[1])]
def t(s): return datetime.datetime.fromisoformat(s.replace("Z", "+00:00"))
newest = {}
for e in ev:
    newest[e["patient_id"]] = max(newest.get(e["patient_id"], t(e["occurred_at"])), t(e["occurred_at"]))
pid = max(newest, key=lambda p: newest[p] - min(t(e["occurred_at"]) for e in ev if e["patient_id"] == p))
old = newest[pid] - datetime.timedelta(days=420)
print(json.dumps({"type": "admission", "event_id": "too-late-1", "patient_id": pid,
  "occurred_at": old.strftime("%Y-%m-%dT%H:%M:%SZ"), "kommun": "0484",
  "source_system": "it12", "stay_id": "late-stay", "facility_id": "f",
  "care_setting": "HOSPITAL_INPATIENT", "planned": False, "age_years": 80,
  "sex": "MALE", "diagnosis_group": "OTHER"}))
PY
"$VIGIL" produce "${T[@]}" "$TMP/late.jsonl" 2>>"$TMP/produce.log"
O=(-X "topic.alerts=$S.r1.alerts" -X "topic.indicator_parts=$S.r1.parts"
   -X "topic.indicators=$S.r1.ind" -X "topic.dlq=$S.r1.dlq")
"$VIGIL" process "${T[@]}" "${O[@]}" -X state.dir="$TMP/r1" \
  -X group.id="$S.r1" --exit-idle 2 2> "$TMP/late.log" \
  || fail "too-late run: $(tail -3 "$TMP/late.log")"
grep -q "too late" "$TMP/late.log" || fail "no too-late in the log: $(tail -5 "$TMP/late.log")"
"$PY" -c "
import sys; sys.path.insert(0, '$(dirname "$0")/lib')
import topics
r = topics.dlq_reasons('$VIGIL_BOOTSTRAP', '$S.r1.dlq')
print('DLQ:', r)
sys.exit(0 if r.get('too-late') == 1 else 1)" || fail "the DLQ has no single too-late record"
"$PY" "$(dirname "$0")/lib/compare_process.py" "$VIGIL_BOOTSTRAP" \
  "$S.r1.alerts" "$S.r1.parts" "$TMP/file-alerts.jsonl" "$TMP/file-ind.jsonl" \
  || fail "a too-late record changed a figure"
echo "PASS"
