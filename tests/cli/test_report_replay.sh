#!/usr/bin/env bash
# The care team's report is the same for two replays of the same events
# (SPEC §5: emitted_at is processing time, never part of a comparison): the
# same alerts with another emitted_at, in another order, give the same page
# but for its header (when it was made, the file names). Found by an
# attack: DEATH_NOT_REGISTERED and INDICATOR_BELOW_TARGET alerts were dated
# and sorted by emitted_at, so a replay on another day showed every death
# alert on that day, in another order.
set -euo pipefail
VIGIL=${VIGIL:-$(cd "$(dirname "$0")/../.." && pwd)/build/vigil}
PY=python3
TMP=$(mktemp -d); trap 'rm -rf "$TMP"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

"$VIGIL" simulate -n 3000 --days 400 --start 2025-01-01 --seed 5 \
  --out "$TMP/ev.jsonl" 2>/dev/null
"$VIGIL" process --input "$TMP/ev.jsonl" -p 2 --alerts "$TMP/a1.jsonl" \
  --indicators "$TMP/i.jsonl" 2>/dev/null
for r in DEATH_NOT_REGISTERED INDICATOR_BELOW_TARGET; do
  n=$(grep -c "\"rule\":\"$r\",\"status\":\"ACTIVE\"" "$TMP/a1.jsonl" || true)
  [ "$n" -ge 20 ] || fail "only $n ACTIVE $r alerts to sort"
done
# the replay: another day, lines reversed
"$PY" - "$TMP/a1.jsonl" "$TMP/a2.jsonl" <<'PY'
import json, sys
alerts = [json.loads(l) for l in open(sys.argv[1])]
for a in alerts:
    a["emitted_at"] = "2027-01-09T10:00:00.000Z"
with open(sys.argv[2], "w") as f:
    f.writelines(json.dumps(a) + "\n" for a in reversed(alerts))
PY
for n in 1 2; do
  "$VIGIL" report --lang en --html "$TMP/r$n.html" --indicators "$TMP/i.jsonl" \
    --alerts "$TMP/a$n.jsonl" 2> "$TMP/r$n.log" || fail "report: $(cat "$TMP/r$n.log")"
  grep -v '<header class="top">' "$TMP/r$n.html" > "$TMP/r$n.body"
done
grep -q '2027-01-09' "$TMP/r2.body" && fail "the replay's emitted_at is shown as an alert's date"
diff -q "$TMP/r1.body" "$TMP/r2.body" >/dev/null || {
  diff "$TMP/r1.body" "$TMP/r2.body" | head -6
  fail "the two replays' reports differ ($(diff "$TMP/r1.body" "$TMP/r2.body" | grep -c '^<') lines)"
}
echo "ok - two replays (emitted_at, order): the same report, $(wc -l < "$TMP/r1.body") lines"
echo "PASS"
