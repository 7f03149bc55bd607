#!/usr/bin/env bash
# Event time in file mode (SPEC v2 §5.5, §6, §7), no broker: a simulated
# population spanning three years gives the same final ACTIVE alerts and
# the same indicator values (complete, history_complete and data_since
# included) whatever the order of its lines: the natural order, grouped by
# type (each of SIPs, deaths, admissions, discharges first); with
# retention_days=36500 also reversed and shuffled; and the natural results
# equal those with retention_days=36500 (retention changes no figure and no
# alert). Grouped by type, no alert is raised and later retracted beyond
# what the natural order raises.
set -euo pipefail
VIGIL=${VIGIL:-$(cd "$(dirname "$0")/../.." && pwd)/build/vigil}
PY=python3
TMP=$(mktemp -d); trap 'rm -rf "$TMP"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

"$VIGIL" simulate -n 400 --days 1100 --start 2024-01-01 --seed 11 \
  --out "$TMP/nat.jsonl" 2>/dev/null
n=$(wc -l < "$TMP/nat.jsonl")
[ "$n" -gt 3000 ] || fail "only $n events simulated"

run() { # name file [options]: alerts, indicators, churn count
  local name=$1 file=$2; shift 2
  "$VIGIL" process --input "$file" --partitions 3 "$@" \
    --alerts "$TMP/$name.a" --indicators "$TMP/$name.i" 2> "$TMP/$name.log" \
    || fail "$name: $(tail -2 "$TMP/$name.log")"
  sed -n 's/.*alerts (\([0-9]*\) raised and later retracted).*/\1/p' \
    "$TMP/$name.log" > "$TMP/$name.churn"
  [ -s "$TMP/$name.churn" ] || fail "$name: no churn count in the log"
}
active() { # the final ACTIVE alerts without emitted_at, sorted
  "$PY" -c '
import json, sys
for l in open(sys.argv[1]):
    a = json.loads(l)
    if a["status"] == "ACTIVE":
        a.pop("emitted_at")
        print(json.dumps(a, sort_keys=True))' "$1" | sort
}
same() { # reference name
  cmp -s "$TMP/$1.i" "$TMP/$2.i" || { diff "$TMP/$1.i" "$TMP/$2.i" | head -4;
    fail "$2: indicator values differ from $1"; }
  cmp -s <(active "$TMP/$1.a") <(active "$TMP/$2.a") \
    || fail "$2: ACTIVE alerts differ from $1"
}

run nat "$TMP/nat.jsonl"
for first in sip_created register_entry death admission discharge; do
  { grep "\"type\":\"$first\"" "$TMP/nat.jsonl" || true
    grep -v "\"type\":\"$first\"" "$TMP/nat.jsonl" | sort -t'"' -k4,4 -s || true
  } > "$TMP/g-$first.jsonl"
  run "g-$first" "$TMP/g-$first.jsonl"
  same nat "g-$first"
  [ "$(cat "$TMP/g-$first.churn")" -le "$(cat "$TMP/nat.churn")" ] \
    || fail "$first first: $(cat "$TMP/g-$first.churn") alerts raised and retracted, natural order $(cat "$TMP/nat.churn")"
done
# Wholly reversed or shuffled lines are live records written before the
# history they follow: older than their patient's horizon they are
# too-late (SPEC §7). With retention out of reach, any order gives the same
# results.
tac "$TMP/nat.jsonl" > "$TMP/rev.jsonl"
run rev "$TMP/rev.jsonl" -X rules.retention_days=36500; same nat rev
"$PY" -c '
import random, sys
lines = open(sys.argv[1]).readlines()
random.Random(5).shuffle(lines)
sys.stdout.writelines(lines)' "$TMP/nat.jsonl" > "$TMP/shuf.jsonl"
run shuf "$TMP/shuf.jsonl" -X rules.retention_days=36500; same nat shuf
run keep "$TMP/g-sip_created.jsonl" -X rules.retention_days=36500
same nat keep

# Batching changes nothing (SPEC §5, §7: the watermark is as of each record
# consumed, so a record is too late - or not - whatever batch it is in):
# one event per batch, 7, and the default give the same results, in the
# natural order and shuffled with retention in reach (where records do
# fall too late), with the same too-late count.
toolate() { sed -n 's/.*, \([0-9]*\) invalid lines.*/\1/p' "$TMP/$1.log"; }
for b in 1 7; do
  run "nat-b$b" "$TMP/nat.jsonl" -X batch.max_events=$b; same nat "nat-b$b"
done
set +e
"$VIGIL" process --input "$TMP/shuf.jsonl" --partitions 3 \
  --alerts "$TMP/sr.a" --indicators "$TMP/sr.i" 2> "$TMP/sr.log"
for b in 1 7; do
  "$VIGIL" process --input "$TMP/shuf.jsonl" --partitions 3 \
    -X batch.max_events=$b --alerts "$TMP/sr-b$b.a" \
    --indicators "$TMP/sr-b$b.i" 2> "$TMP/sr-b$b.log"
done
set -e
late=$(toolate sr)
[ -n "$late" ] && [ "$late" -gt 0 ] || fail "shuffled: no record too late (${late:-no count}): the check below would prove nothing"
for b in 1 7; do
  same sr "sr-b$b"
  [ "$(toolate "sr-b$b")" = "$late" ] \
    || fail "shuffled, batch $b: $(toolate "sr-b$b") too late, default batch $late"
done

# Threads change nothing either (process.threads: each partition runs on
# one thread, in input order): 1, 2 and 3 threads give the same results,
# the same too-late count and the same rejected lines (each named by its
# line number; the order of those messages may differ between threads).
rejected() { grep -E ' ERROR +process: [^ ]+:[0-9]+: ' "$TMP/$1.log" | sed 's/^.* ERROR  *process: //' | sort; }
set +e
for t in 1 2 3; do
  "$VIGIL" process --input "$TMP/shuf.jsonl" --partitions 3 \
    -X process.threads=$t --alerts "$TMP/sr-t$t.a" \
    --indicators "$TMP/sr-t$t.i" 2> "$TMP/sr-t$t.log"
  [ $? -eq 3 ] || fail "shuffled, $t threads: exit status is not 3 (lines too late)"
done
set -e
[ "$(rejected sr | wc -l)" -eq "$late" ] \
  || fail "shuffled: $(rejected sr | wc -l) rejected lines logged, $late counted"
# Every alert's last status (RETRACTED ones too, emitted_at aside) and
# the count of alerts raised and later retracted are the same as well: the
# workers keep them per partition and merge them at the end.
churn() { sed -n 's/.*alerts (\([0-9]*\) raised and later retracted).*/\1/p' "$TMP/$1.log"; }
nostamp() { sed 's/"emitted_at":"[^"]*",//' "$TMP/$1.a"; }
c=$(churn sr)
[ -n "$c" ] && [ "$c" -gt 0 ] \
  || fail "shuffled: no alert raised and retracted (${c:-no count}): the check below would prove little"
for t in 1 2 3; do
  same sr "sr-t$t"
  [ "$(toolate "sr-t$t")" = "$late" ] \
    || fail "shuffled, $t threads: $(toolate "sr-t$t") too late, not $late"
  cmp -s <(rejected sr) <(rejected "sr-t$t") \
    || fail "shuffled, $t threads: other lines rejected"
  cmp -s <(nostamp sr) <(nostamp "sr-t$t") \
    || fail "shuffled, $t threads: the alerts' last statuses differ"
  [ "$(churn "sr-t$t")" = "$(churn sr)" ] \
    || fail "shuffled, $t threads: $(churn "sr-t$t") alerts raised and retracted, not $(churn sr)"
done
run p5t1 "$TMP/nat.jsonl" --partitions 5 -X process.threads=1
run p5t4 "$TMP/nat.jsonl" --partitions 5 -X process.threads=4
same p5t1 p5t4

# The values carry the v2 fields; the last month is preliminary, the first
# readmission month is complete, sip_before_death of the first year rests
# on incomplete history.
"$PY" - "$TMP/nat.i" <<'PY' || fail "v2 fields of the values"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert all({"breakdown", "complete", "history_complete", "data_since"} <= set(r) for r in rows)
se = {(r["indicator"], r["period"]): r for r in rows
      if r["area"] == "SE" and r["breakdown"] == "all"}
last = max(p for (i, p) in se if i.startswith("death_place.") and len(p) == 7 and "Q" not in p)
assert not se[("death_place.HOME", last)]["complete"], last
assert se[("readmission_30d", "2024-01")]["complete"]
assert not se[("sip_before_death", "2024-06")]["history_complete"]
assert se[("sip_before_death", "2025-06")]["history_complete"]
assert len({r["data_since"] for r in rows}) == 1
print("v2 fields: %d values, last month %s preliminary" % (len(rows), last))
PY
echo "PASS: $n events; natural, grouped by type (4 ways), reversed, shuffled and retention 36500 agree; batches of 1 and 7 and 1-4 threads agree with the default (shuffled: $late too late each time); churn natural $(cat "$TMP/nat.churn"), grouped $(cat "$TMP"/g-*.churn | tr '\n' ' ')"
