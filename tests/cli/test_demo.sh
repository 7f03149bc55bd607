#!/usr/bin/env bash
# The README's first command ends in `vigil demo`: it must run with no
# Kafka and show alerts and indicators.
set -euo pipefail
VIGIL=${VIGIL:-$(cd "$(dirname "$0")/../.." && pwd)/build/vigil}
out=$(mktemp); trap 'rm -f "$out"' EXIT
"$VIGIL" demo --patients 200 > "$out" 2>&1 || { cat "$out"; echo "FAIL: demo exited non-zero" >&2; exit 1; }
fail() { cat "$out"; echo "FAIL: $*" >&2; exit 1; }
grep -q "events produced (0 failed)" "$out" || fail "no events produced"
grep -q "^ALERTS" "$out" || fail "no alerts section"
grep -Eq "^ACTIVE +(READMISSION_30D|SIP_OVERDUE)" "$out" || fail "no per-patient alert shown"
grep -q "^INDICATORS" "$out" || fail "no indicators section"
grep -Eq "^readmission_30d +SE +Sverige +20[0-9]{2}-[0-9]{2} +[0-9]+ +[0-9]+ +[0-9.]+%" "$out" \
  || fail "no readmission_30d row for SE"
grep -Eq "^death_place.HOSPITAL +SE" "$out" || fail "no death_place row"
echo "PASS: demo shows $(grep -Ec '^ACTIVE' "$out") active alerts and $(grep -Ec ' SE +Sverige ' "$out") indicator rows"
