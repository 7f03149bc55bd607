#!/usr/bin/env bash
# SPEC v2 §6.4 property test (issue 13): for random simulated populations,
# `vigil indicators --public` shows no count in 1..publish.min_count-1, and
# no hidden count is a visible total minus visible parts in any relation
# (region/kommuner, SE/regions, all/breakdown, quarter/months,
# year/quarters, deaths/death_place.*). The check is check_public.py,
# written apart from consumers/vg_publish.c. Also: the table and CSV show
# the same rows hidden as '..', and without --public the counts are exact.
# PUBLIC_SEED=S adds a population with seed S (default: a random one,
# printed, so that a failure can be repeated).
set -euo pipefail
VIGIL=${VIGIL:-$(cd "$(dirname "$0")/../.." && pwd)/build/vigil}
HERE=$(cd "$(dirname "$0")" && pwd)
fail() { echo "FAIL: $*" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
unset VIGIL_CONFIG

extra=${PUBLIC_SEED:-$(( (RANDOM << 15 | RANDOM) + 1 ))}
echo "random population: seed $extra (PUBLIC_SEED=$extra repeats it)"

# patients seed days min_count, and whether to compare the formats too
runs=(
  "300 1 120 5 yes"
  "2000 7 200 5 yes"
  "3000 $extra 365 5 no"
  "1500 11 365 10 no"
)
for r in "${runs[@]}"; do
  read -r n seed days min formats <<< "$r"
  label="n=$n seed=$seed days=$days min_count=$min"
  "$VIGIL" simulate -n "$n" --seed "$seed" --days "$days" -o ev.jsonl 2> /dev/null
  "$VIGIL" process --input ev.jsonl --indicators ind.jsonl --alerts /dev/null \
    --partitions 2 2> /dev/null
  "$VIGIL" indicators -i ind.jsonl --public --period all --breakdown any \
    --format json -X publish.min_count="$min" > pub.jsonl
  python3 "$HERE/check_public.py" ind.jsonl pub.jsonl --min-count "$min" \
    --label "$label" || fail "$label"
  [ "$formats" = yes ] || continue

  # The table and CSV hide the same rows; the table says how many.
  "$VIGIL" indicators -i ind.jsonl --public --period all --breakdown any \
    --format csv -X publish.min_count="$min" > pub.csv
  "$VIGIL" indicators -i ind.jsonl --public --period all --breakdown any \
    -X publish.min_count="$min" > pub.txt 2> pub.err
  hidden=$(grep -c '"suppressed":true' pub.jsonl || true)
  csv_hidden=$(awk -F'"' '{print $3}' pub.csv | grep -c '^,[^,]*,[^,]*,\.\.,' || true)
  txt_hidden=$(grep -c ' \.\. ' pub.txt || true)
  [ "$csv_hidden" = "$hidden" ] || fail "$label: csv hides $csv_hidden rows, json $hidden"
  [ "$txt_hidden" = "$hidden" ] || fail "$label: table hides $txt_hidden rows, json $hidden"
  grep -q "^public: $hidden of [0-9]* rows hidden" pub.err \
    || fail "$label: table summary: $(cat pub.err)"

  # Internal output (no --public) keeps the exact counts.
  "$VIGIL" indicators -i ind.jsonl --period all --breakdown any --format json > int.jsonl
  python3 - ind.jsonl int.jsonl <<'EOF' || fail "$label: internal output changed"
import json, sys
def rows(p):
    out = {}
    for line in open(p, encoding="utf-8"):
        o = json.loads(line)
        d = o.get("denominator")
        if (d if d is not None else o["numerator"]) > 0:
            out[(o["indicator"], o["area"], o["period"], o.get("breakdown") or "all")] = \
                (o["numerator"], d, "suppressed" in o)
    return out
a, b = rows(sys.argv[1]), rows(sys.argv[2])
sys.exit(0 if a == b and not any(s for _, _, s in b.values()) else 1)
EOF
done

# JSON and CSV carry the same fields, in the same order, with the same
# values (value and area_name included), public or not.
for pubflag in "" --public; do
  # (a target of 12.5 %: the CSV's was a whole percent, "12%")
  tg=(-X 'target.readmission_30d=<=0.125')
  "$VIGIL" indicators -i ind.jsonl $pubflag "${tg[@]}" --period all --breakdown any --format json > same.jsonl 2>/dev/null
  "$VIGIL" indicators -i ind.jsonl $pubflag "${tg[@]}" --period all --breakdown any --format csv > same.csv 2>/dev/null
  grep -q ',0.125000,' same.csv || fail "no target 0.125 in the CSV: $(head -3 same.csv)"
  python3 - same.jsonl same.csv <<'EOF' || fail "json and csv differ (${pubflag:-internal})"
import csv, json, sys
js = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
rows = list(csv.reader(open(sys.argv[2], encoding="utf-8")))
head, rows = rows[0], rows[1:]
assert len(js) == len(rows) > 0, (len(js), len(rows))
keys = [k for k in js[0] if k != "suppressed"]
assert keys == head, (keys, head)
def text(v):
    if v is None: return ""
    if v is True: return "true"
    if v is False: return "false"
    if isinstance(v, float): return "%.6f" % v
    return str(v)
for o, r in zip(js, rows):
    for k, c in zip(head, r):
        if k == "target_missed" and o[k] is None:
            assert c == "..", (k, c)
            continue
        assert text(o[k]) == c, (k, o[k], c)
    if o.get("denominator") not in (None, ".."):  # exact where shown
        assert abs(o["value"] - o["numerator"] / o["denominator"]) < 1e-9
    assert o["area_name"], o
EOF
done

# publish.min_count=1 hides nothing.
"$VIGIL" indicators -i ind.jsonl --public --period all --breakdown any \
  --format json -X publish.min_count=1 > one.jsonl
! grep -q '"suppressed":true' one.jsonl || fail "publish.min_count=1 hid rows"
echo "PASS"
