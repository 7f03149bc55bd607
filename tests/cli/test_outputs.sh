#!/usr/bin/env bash
# Outputs (README "Commands": exit 1 when something could not be done):
# - an output file that is the input is refused before the input is
#   emptied (process --alerts/--indicators, report --html), and so are two
#   outputs in one file;
# - an input that cannot be read (a directory, a closed standard input)
#   fails before any output file is emptied;
# - a write that fails (a full disk: /dev/full) is exit 1 with a message,
#   on standard output and on an output file, whichever command wrote;
# - a command that renames a finished file over its output writes a
#   device or a FIFO directly instead (report), or refuses it (state
#   export): a rename would replace the device itself;
# - a message that quotes an invalid line shows no personnummer (SPEC §8).
# /dev/full is reached through a symbolic link in a temporary directory: a
# regression that renamed over its output would replace the link, not the
# device.
set -euo pipefail
unset VIGIL_CONFIG  # (a configuration of the caller's must not change this)
VIGIL=${VIGIL:-$(cd "$(dirname "$0")/../.." && pwd)/build/vigil}
TMP=$(mktemp -d); trap 'rm -rf "$TMP"' EXIT
PY=python3
fail() { echo "FAIL: $*" >&2; exit 1; }
# run WANT CMD...: runs CMD (stderr to $TMP/err), fails unless it exits WANT.
run() {
  local want=$1 rc; shift
  set +e; "$@" 2> "$TMP/err"; rc=$?; set -e
  [ "$rc" = "$want" ] || fail "$*: exit $rc, want $want: $(tail -3 "$TMP/err")"
}
"$VIGIL" simulate -n 200 --seed 7 --out "$TMP/ev.jsonl" 2>/dev/null
lines=$(wc -l < "$TMP/ev.jsonl")

# An output over the input: exit 2, the input as it was.
cp "$TMP/ev.jsonl" "$TMP/in.jsonl"
run 2 "$VIGIL" process --input "$TMP/in.jsonl" --alerts "$TMP/in.jsonl" \
  --indicators /dev/null
grep -q "an output file is the input" "$TMP/err" || fail "no message: $(cat "$TMP/err")"
run 2 "$VIGIL" process --input "$TMP/in.jsonl" --alerts /dev/null \
  --indicators "$TMP/../$(basename "$TMP")/in.jsonl"
ln -s in.jsonl "$TMP/link.jsonl"
run 2 "$VIGIL" process --input - --alerts "$TMP/link.jsonl" \
  --indicators /dev/null < "$TMP/in.jsonl"
[ "$(wc -l < "$TMP/in.jsonl")" = "$lines" ] || fail "the input was changed"
# Both outputs in one file (which did not exist before): exit 2.
run 2 "$VIGIL" process --input "$TMP/in.jsonl" --alerts "$TMP/both.jsonl" \
  --indicators "$TMP/./both.jsonl"
grep -q "name the same file" "$TMP/err" || fail "no message: $(cat "$TMP/err")"
[ -e "$TMP/both.jsonl" ] && fail "the refused output was created"
# ... or through a link to it that does not point at anything yet.
ln -s both.jsonl "$TMP/both-link"
run 2 "$VIGIL" process --input "$TMP/in.jsonl" --alerts "$TMP/both.jsonl" \
  --indicators "$TMP/both-link"
[ -e "$TMP/both.jsonl" ] && fail "the output named through a dangling link was created"
rm "$TMP/both-link"
# ... or one pipe, named twice or as - and /dev/stdout: two streams would
# cut each other's lines. Both -, one stream, and /dev/null twice are fine.
for pair in "/dev/stdout /dev/stdout" "- /dev/stdout" "/dev/stderr -"; do
  set -- $pair; set +e
  "$VIGIL" process --input "$TMP/in.jsonl" --alerts "$1" --indicators "$2" \
    2>&1 | cat > "$TMP/err"; rc=${PIPESTATUS[0]}; set -e
  [ "$rc" = 2 ] && grep -q "name the same file" "$TMP/err" \
    || fail "--alerts $1 --indicators $2 into one pipe: exit $rc, $(head -c 300 "$TMP/err")"
done
set +e; "$VIGIL" process --input "$TMP/in.jsonl" --alerts - --indicators - \
  2>/dev/null | cat > "$TMP/both.txt"; rc=${PIPESTATUS[0]}; set -e
[ "$rc" = 0 ] && [ "$(wc -l < "$TMP/both.txt")" -gt 1 ] || fail "--alerts - --indicators -: exit $rc"
"$PY" -c 'import json,sys; [json.loads(l) for l in open(sys.argv[1])]' "$TMP/both.txt" \
  || fail "--alerts - --indicators -: a line is not JSON"
rm "$TMP/both.txt"
run 0 "$VIGIL" process --input "$TMP/in.jsonl" --alerts /dev/null --indicators /dev/null
# The same files, apart: both written.
run 0 "$VIGIL" process --input "$TMP/in.jsonl" --alerts "$TMP/al.jsonl" \
  --indicators "$TMP/ind.jsonl"
[ -s "$TMP/al.jsonl" ] && [ -s "$TMP/ind.jsonl" ] || fail "outputs not written"
cp "$TMP/ind.jsonl" "$TMP/ind2.jsonl"
run 2 "$VIGIL" report --html "$TMP/ind2.jsonl" --indicators "$TMP/ind2.jsonl" \
  --alerts "$TMP/al.jsonl"
cmp -s "$TMP/ind.jsonl" "$TMP/ind2.jsonl" || fail "report replaced its input"

# An input that cannot be read: exit 1, an existing output untouched.
mkdir "$TMP/adir"
echo keep > "$TMP/keep"
run 1 "$VIGIL" process --input "$TMP/adir" --alerts "$TMP/keep"
grep -q "adir: read error: Is a directory" "$TMP/err" || fail "message: $(cat "$TMP/err")"
[ "$(cat "$TMP/keep")" = keep ] || fail "the output was emptied before the input failed"
run 1 "$VIGIL" process --input - --alerts "$TMP/keep" <&-
grep -q "<stdin>: read error" "$TMP/err" || fail "closed stdin: $(cat "$TMP/err")"
[ "$(cat "$TMP/keep")" = keep ] || fail "the output was emptied (closed stdin)"

# A run that fails or is interrupted leaves existing outputs as they were
# (each is written beside and renamed at the end), and leaves no
# temporary file: a second output that cannot be opened ...
cp "$TMP/al.jsonl" "$TMP/al-keep.jsonl"
run 1 "$VIGIL" process --input "$TMP/in.jsonl" --alerts "$TMP/al.jsonl" \
  --indicators "$TMP/nodir/x.jsonl"
cmp -s "$TMP/al.jsonl" "$TMP/al-keep.jsonl" || fail "--alerts emptied by a bad --indicators path"
# ... and SIGINT, SIGTERM, SIGHUP (a closed terminal) or SIGPIPE
# in the middle of a long run.
"$VIGIL" simulate -n 60000 --seed 8 --out "$TMP/big.jsonl" 2>/dev/null
cp "$TMP/ind.jsonl" "$TMP/ind-keep.jsonl"
for sig in INT TERM HUP PIPE; do
  env --default-signal=INT,HUP,PIPE "$VIGIL" process --input "$TMP/big.jsonl" \
    --alerts "$TMP/al.jsonl" --indicators "$TMP/ind.jsonl" 2>/dev/null & pid=$!
  for _ in $(seq 100); do ls "$TMP"/al.jsonl.tmp.* >/dev/null 2>&1 && break; sleep 0.05; done
  kill -$sig $pid; set +e; wait $pid; rc=$?; set -e
  [ $rc -gt 128 ] || fail "SIG$sig: exit $rc (finished before the signal?)"
  cmp -s "$TMP/al.jsonl" "$TMP/al-keep.jsonl" && cmp -s "$TMP/ind.jsonl" "$TMP/ind-keep.jsonl" ||
    fail "SIG$sig: an output was changed by an interrupted run"
  if ls "$TMP"/*.tmp.* >/dev/null 2>&1; then fail "SIG$sig: temporary files left: $(ls "$TMP")"; fi
done
# simulate --out too: a run cut short by the file size limit (SIGXFSZ) or
# a full device leaves the file as it was, and no temporary file.
echo old > "$TMP/sim.jsonl"
set +e; ( ulimit -f 16; exec "$VIGIL" simulate -n 3000 --out "$TMP/sim.jsonl" ) 2>/dev/null; rc=$?; set -e
[ "$rc" != 0 ] && [ "$(cat "$TMP/sim.jsonl")" = old ] || fail "simulate cut short: exit $rc, $(head -c 100 "$TMP/sim.jsonl")"
if ls "$TMP"/sim.jsonl.tmp.* >/dev/null 2>&1; then fail "simulate cut short left $(ls "$TMP"/sim.jsonl.tmp.*)"; fi
run 1 "$VIGIL" simulate -n 20 --out /dev/full
# ... but with --rate it is a live feed, written in place: what was written
# stays when it is interrupted.
env --default-signal=INT "$VIGIL" simulate -n 3000 --rate 400 --out "$TMP/sim.jsonl" 2>/dev/null & pid=$!
for _ in $(seq 100); do [ "$(grep -c . "$TMP/sim.jsonl")" -gt 10 ] && break; sleep 0.05; done
kill -INT $pid; set +e; wait $pid; rc=$?; set -e
[ "$rc" = 1 ] && [ "$(grep -c '"event_id"' "$TMP/sim.jsonl")" -gt 10 ] || fail "simulate --rate interrupted: exit $rc, $(wc -l < "$TMP/sim.jsonl") lines"
# "-" is standard output, as for --input and report --html.
run 0 "$VIGIL" process --input "$TMP/in.jsonl" --alerts - --indicators /dev/null > "$TMP/al-stdout.jsonl"
[ -s "$TMP/al-stdout.jsonl" ] && [ "$(wc -l < "$TMP/al-stdout.jsonl")" = "$(wc -l < "$TMP/al-keep.jsonl")" ] || fail "--alerts - did not write standard output"
[ -e ./- ] && fail "--alerts - made a file named -"
# ... both to standard output, as without either option.
run 0 "$VIGIL" process --input "$TMP/in.jsonl" --alerts - --indicators - > "$TMP/both-stdout.jsonl"
[ -s "$TMP/both-stdout.jsonl" ] || fail "--alerts - --indicators -: nothing on standard output"
# A replaced output keeps its mode (alerts hold pseudonymous patient data:
# a 600 file became 644), and one of several hard links is written in
# place (a rename would break the others).
chmod 600 "$TMP/al.jsonl"
run 0 "$VIGIL" process --input "$TMP/in.jsonl" --alerts "$TMP/al.jsonl" --indicators /dev/null
[ "$(stat -c %a "$TMP/al.jsonl")" = 600 ] || fail "the output's mode became $(stat -c %a "$TMP/al.jsonl")"
ln "$TMP/al.jsonl" "$TMP/al-link.jsonl"; : > "$TMP/al.jsonl"
run 0 "$VIGIL" process --input "$TMP/in.jsonl" --alerts "$TMP/al.jsonl" --indicators /dev/null
[ -s "$TMP/al-link.jsonl" ] && [ "$(stat -c %h "$TMP/al.jsonl")" = 2 ] || fail "a hard link was broken"
rm "$TMP/al-link.jsonl"
# A --period of which the input has no values says so (and which it has).
grep -v '"period":"[0-9]*-Q\|"period":"[0-9]*"' "$TMP/ind.jsonl" > "$TMP/months.jsonl"
run 0 "$VIGIL" indicators --input "$TMP/months.jsonl" --period quarter > /dev/null
grep -q "no quarter values to show: the values are of months" "$TMP/err" \
  || fail "--period quarter on months only: $(cat "$TMP/err")"
run 0 "$VIGIL" indicators --input "$TMP/ind.jsonl" --period quarter > /dev/null
grep -q "no quarter values" "$TMP/err" && fail "--period quarter: $(cat "$TMP/err")"
# An --area no kommun or region has is said (it printed nothing, exit 0).
run 0 "$VIGIL" indicators --input "$TMP/ind.jsonl" -a 9999 > /dev/null
grep -q "WARN  indicators: --area 9999: no kommun or region Vigil knows" "$TMP/err" || fail "indicators -a 9999: $(cat "$TMP/err")"
run 0 "$VIGIL" report --indicators "$TMP/ind.jsonl" --alerts "$TMP/al.jsonl" -a 9999 --html "$TMP/r9.html"
grep -q "WARN  report: --area 9999: no kommun or region Vigil knows" "$TMP/err" || fail "report -a 9999: $(cat "$TMP/err")"
run 0 "$VIGIL" indicators --input "$TMP/ind.jsonl" -a 0484 -a 04 -a SE > /dev/null
if grep -q "WARN" "$TMP/err"; then fail "indicators -a 0484 -a 04 -a SE: $(cat "$TMP/err")"; fi
# An alert is filed by its kommun (by its area for INDICATOR_BELOW_TARGET),
# as vigil serve files it, whatever its other fields say: a patient alert
# given an area and region elsewhere is still its kommun's and region's.
"$PY" - "$TMP/al.jsonl" "$TMP/mixed.jsonl" <<'PY'
import json, sys
a = next(a for a in map(json.loads, open(sys.argv[1]))
         if a["status"] == "ACTIVE" and a["rule"] != "INDICATOR_BELOW_TARGET")
a["alert_id"] = "mixed-" + a["alert_id"]
a["area"] = "1880" if a["kommun"][:2] != "18" else "0484"
a["region"] = a["area"][:2]
open(sys.argv[2], "w").write(json.dumps(a) + "\n")
PY
k=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["kommun"])' "$TMP/mixed.jsonl")
o=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["area"])' "$TMP/mixed.jsonl")
for want in "${k:0:2} 1" "$k 1" "${o:0:2} 0" "$o 0"; do
  set -- $want
  run 0 "$VIGIL" report --alerts "$TMP/mixed.jsonl" --indicators "$TMP/ind.jsonl" -a "$1" --html "$TMP/mixed.html"
  grep -q "id=\"alert-count\" data-count=\"$2\"" "$TMP/mixed.html" \
    || fail "report -a $1: $(grep -o 'id="alert-count" data-count="[0-9]*"' "$TMP/mixed.html"), want $2"
done
# An INDICATOR_BELOW_TARGET alert is shown in the report's alert list by
# its area, where it is filed, not by a kommun field that disagrees.
"$PY" - "$TMP/al.jsonl" "$TMP/ibt.jsonl" <<'PY'
import json, sys
a = next(a for a in map(json.loads, open(sys.argv[1])) if a["status"] == "ACTIVE")
b = {k: a[k] for k in ("status", "anchor", "emitted_at")}
b.update(alert_id="ibt-" + a["alert_id"], rule="INDICATOR_BELOW_TARGET",
         indicator="SIP_WITHIN_72H", area="1880", kommun="0484", region="04",
         period="2026-01", value=0.5, target=0.9, numerator=10, denominator=20)
open(sys.argv[2], "w").write(json.dumps(b) + "\n")
PY
run 0 "$VIGIL" report --alerts "$TMP/ibt.jsonl" --indicators "$TMP/ind.jsonl" --html "$TMP/ibt.html"
row=$(grep -o 'INDICATOR_BELOW_TARGET</span></td><td class="l">[^<]*<span class="code">[0-9]*' "$TMP/ibt.html")
case "$row" in *'"code">1880') ;; *) fail "area alert's place in the list: $row, want 1880";; esac
# --exit-idle is Kafka mode's.
run 2 "$VIGIL" process --input "$TMP/in.jsonl" --exit-idle 3
grep -q "exit-idle is for Kafka mode" "$TMP/err" || fail "--exit-idle in file mode: $(cat "$TMP/err")"

if [ -c /dev/full ]; then
  ln -s /dev/full "$TMP/full"
  # Standard output full: exit 1 and a message, whichever command wrote.
  run 1 "$VIGIL" process --input "$TMP/in.jsonl" --indicators /dev/null \
    > "$TMP/full"
  grep -q "standard output: write error" "$TMP/err" || fail "message: $(cat "$TMP/err")"
  run 1 "$VIGIL" --help > "$TMP/full"
  run 1 "$VIGIL" config --doc > "$TMP/full"
  run 1 "$VIGIL" indicators --input "$TMP/ind.jsonl" > "$TMP/full"
  run 1 "$VIGIL" report --html - --indicators "$TMP/ind.jsonl" \
    --alerts "$TMP/al.jsonl" > "$TMP/full"
  # An output file full.
  run 1 "$VIGIL" process --input "$TMP/in.jsonl" --alerts "$TMP/full" \
    --indicators /dev/null
  grep -q "full: write error" "$TMP/err" || fail "message: $(cat "$TMP/err")"
  run 1 "$VIGIL" process --input "$TMP/in.jsonl" --alerts /dev/null \
    --indicators "$TMP/full"
  run 1 "$VIGIL" report --html "$TMP/full" --indicators "$TMP/ind.jsonl" \
    --alerts "$TMP/al.jsonl"
  [ -L "$TMP/full" ] || fail "report renamed a file over its device output"
else
  echo "(no /dev/full here: the write-error part is skipped)"
fi
# A link to the output file (as /dev/stdout is, when standard output is a
# file): written through, not renamed over; and a device output next to a
# device input is no "input file".
ln -s page.html "$TMP/pagelink"
: > "$TMP/page.html"
run 0 "$VIGIL" report --html "$TMP/pagelink" --indicators "$TMP/ind.jsonl" \
  --alerts "$TMP/al.jsonl"
[ -L "$TMP/pagelink" ] && grep -q "<html" "$TMP/page.html" ||
  fail "report renamed over a link instead of writing through it"
run 0 "$VIGIL" report --html /dev/null --indicators "$TMP/ind.jsonl" \
  --alerts /dev/null
# A device or FIFO output: written, not renamed over.
mkfifo "$TMP/fifo"
timeout 30 cat "$TMP/fifo" > "$TMP/fromfifo" &  # (no writer: gives up)
run 0 "$VIGIL" report --html "$TMP/fifo" --indicators "$TMP/ind.jsonl" \
  --alerts "$TMP/al.jsonl"
wait || true
[ -p "$TMP/fifo" ] || fail "report replaced its FIFO output with a file"
grep -q "<html" "$TMP/fromfifo" || fail "the page did not come through the FIFO"
ln -s /dev/null "$TMP/null"
run 1 "$VIGIL" state export -o "$TMP/null" --force -X "state.dir=$TMP/state" 0
grep -q "is not a regular file" "$TMP/err" || fail "state export: $(cat "$TMP/err")"
[ -L "$TMP/null" ] || fail "state export renamed over a device output"

# A message quoting an invalid line: no personnummer in it.
grep -m1 '"age_years":' "$TMP/ev.jsonl" |
  sed -E 's/"age_years":[0-9]+/"age_years":191212121212/' > "$TMP/pnr.jsonl"
grep -q 191212121212 "$TMP/pnr.jsonl" || fail "no test line"
run 3 "$VIGIL" process --input "$TMP/pnr.jsonl" --alerts /dev/null \
  --indicators /dev/null
grep -q "age_years" "$TMP/err" || fail "the line was not reported: $(cat "$TMP/err")"
if grep -q 191212121212 "$TMP/err"; then
  fail "a personnummer in the message: $(cat "$TMP/err")"
fi
# An alert (SPEC §9 JSON, from elsewhere) whose patient_id is a
# personnummer: report leaves it out, names it, and shows no digit of it.
"$VIGIL" process --input "$TMP/ev.jsonl" --alerts "$TMP/al.jsonl" \
  --indicators "$TMP/iv.jsonl" 2>/dev/null
python3 - "$TMP/al.jsonl" > "$TMP/al-pnr.jsonl" <<'PY'
import json, sys
al = [json.loads(l) for l in open(sys.argv[1])]
for a in al:
    print(json.dumps(a))
a = next(a for a in al if a["patient_id"] and a["status"] == "ACTIVE")
print(json.dumps(dict(a, alert_id="t-pnr", patient_id="19121212-1212", anchor="t-stay")))
print(json.dumps(dict(a, alert_id="t-pnr2", region="191212121212", anchor="t-stay2")))
print(json.dumps(dict(a, stay_id="121212-1212")))  # a's own id: a is out of date
PY
run 1 "$VIGIL" report --alerts "$TMP/al-pnr.jsonl" --indicators "$TMP/iv.jsonl" \
  --html "$TMP/r.html"
n=$(grep -c . "$TMP/al-pnr.jsonl")
grep -q "al-pnr.jsonl:$((n - 2)): patient_id holds a personnummer: left out" "$TMP/err" &&
  grep -q "al-pnr.jsonl:$((n - 1)): region holds a personnummer: left out" "$TMP/err" &&
  grep -q "al-pnr.jsonl:$n: stay_id holds a personnummer: left out" "$TMP/err" ||
  fail "report: the alerts with a personnummer: $(cat "$TMP/err")"
# ... and the earlier version of the last one's alert_id is not shown.
shown() { sed -n 's/.* \([0-9]*\) active alerts$/\1/p' "$1"; }
cp "$TMP/err" "$TMP/err-pnr"
run 0 "$VIGIL" report --alerts "$TMP/al.jsonl" --indicators "$TMP/iv.jsonl" \
  --html "$TMP/r0.html"
[ "$(shown "$TMP/err-pnr")" = $(($(shown "$TMP/err") - 1)) ] ||
  fail "report: the out-of-date alert is shown: $(shown "$TMP/err-pnr") of $(shown "$TMP/err")"
if grep -q -e 19121212 -e t-stay "$TMP/r.html"; then
  fail "report shows the alert with a personnummer"
fi
# report's messages about lines it cannot read quote no personnummer:
# the JSON parser's "near '...'" and a field's value out of range (as
# every other reader).
printf '{"patient_id" "19121212-1212"}\n' > "$TMP/syn.jsonl"
grep -m1 '"days_between":' "$TMP/al.jsonl" |
  sed -E 's/"days_between":[0-9]+/"days_between":191212121212/' > "$TMP/days.jsonl"
grep -q 191212121212 "$TMP/days.jsonl" || fail "no test alert"
run 1 "$VIGIL" report --alerts "$TMP/syn.jsonl" --indicators "$TMP/syn.jsonl" \
  --html "$TMP/syn.html"
grep -q "syn.jsonl:1: ':' expected" "$TMP/err" || fail "report, bad JSON: $(cat "$TMP/err")"
cp "$TMP/err" "$TMP/err-syn"
run 1 "$VIGIL" report --alerts "$TMP/days.jsonl" --indicators "$TMP/iv.jsonl" \
  --html "$TMP/days.html"
grep -q "days.jsonl:1: days_between: XXXXXXXXXXXX is out of range" "$TMP/err" ||
  fail "report, a value out of range: $(cat "$TMP/err")"
if grep -q 1212 "$TMP/err-syn" "$TMP/err"; then
  fail "report quoted a personnummer: $(cat "$TMP/err-syn" "$TMP/err")"; fi
# ... and an indicator value whose flags are no booleans is refused.
grep -m1 . "$TMP/iv.jsonl" | sed -E 's/"complete":(true|false)/"complete":"19121212-1212"/' > "$TMP/flag.jsonl"
grep -q '"complete":"19' "$TMP/flag.jsonl" || fail "no test value"
run 1 "$VIGIL" indicators -i "$TMP/flag.jsonl" > /dev/null
grep -q "flag.jsonl:1: complete and history_complete: expected true or false" "$TMP/err" ||
  fail "indicators, complete not a boolean: $(cat "$TMP/err")"
# IndicatorParts no processor writes (aggregate sums them into published
# values and keys): an unknown indicator, a personnummer in a breakdown,
# an area that is none: refused, named, nothing of them written.
P='"period":"2026-03","partition":0,"numerator":1,"denominator":5,"updated_at":"2026-03-05T00:00:00Z","complete":false,"history_complete":true,"data_since":null'
{ echo '{"indicator":"readmission_30d","area":"0484","breakdown":"all",'"$P"'}'
  echo '{"indicator":"19121212-1212","area":"0484","breakdown":"all",'"$P"'}'
  echo '{"indicator":"readmission_30d","area":"0484","breakdown":"sex:191212121212",'"$P"'}'
  echo '{"indicator":"readmission_30d","area":"121212-1212","breakdown":"all",'"$P"'}'; } > "$TMP/parts.jsonl"
set +e; "$VIGIL" aggregate --input "$TMP/parts.jsonl" > "$TMP/agg.out" 2> "$TMP/err"; rc=$?; set -e
[ "$rc" = 3 ] && [ "$(grep -c . "$TMP/agg.out")" = 3 ] &&
  grep -q "parts.jsonl:2: an IndicatorPart names no indicator Vigil knows" "$TMP/err" &&
  grep -q "parts.jsonl:3: an IndicatorPart holds a personnummer" "$TMP/err" &&
  grep -q "parts.jsonl:4: an IndicatorPart names no area" "$TMP/err" ||
  fail "aggregate, parts no processor writes: exit $rc: $(cat "$TMP/agg.out" "$TMP/err")"
if grep -q 1212 "$TMP/agg.out" "$TMP/err"; then fail "aggregate wrote a personnummer"; fi
# ... and parts no processor writes by their figures, period, breakdown or
# partition (an attack's: summed and published, or a sum beyond 64 bits
# that left cells out with exit 0), or a rate without a denominator or a
# count with one (summed with the rest, or shown as 3/null, exit 0).
Q='"indicator":"readmission_30d","area":"0484","updated_at":"2026-03-05T00:00:00Z","complete":false,"history_complete":true,"data_since":null'
{ echo '{'"$Q"',"period":"2026-03","breakdown":"all","partition":0,"numerator":1,"denominator":5}'
  echo '{'"$Q"',"period":"2026-03","breakdown":"all","partition":1,"numerator":-5,"denominator":10}'
  echo '{'"$Q"',"period":"2026-03","breakdown":"all","partition":2,"numerator":50,"denominator":40}'
  echo '{'"$Q"',"period":"2026-Q1","breakdown":"all","partition":3,"numerator":1,"denominator":5}'
  echo '{'"$Q"',"period":"2026-03","breakdown":"age:weird","partition":4,"numerator":1,"denominator":5}'
  echo '{'"$Q"',"period":"2026-03","breakdown":"all","partition":-1,"numerator":1,"denominator":5}'
  echo '{'"$Q"',"period":"2026-03","breakdown":"all","partition":5,"numerator":9223372036854775807,"denominator":9223372036854775807}'
  echo '{'"$Q"',"period":"0000-01","breakdown":"all","partition":6,"numerator":1,"denominator":5}'
  echo '{'"$Q"',"period":"2026-03","breakdown":"all","partition":7,"numerator":3,"denominator":null}'
  echo '{'"${Q/readmission_30d/ssih_enrolment.85+.CANCER}"',"period":"2026-03","breakdown":"all","partition":0,"numerator":3,"denominator":7}'
} > "$TMP/odd.jsonl"
set +e; "$VIGIL" aggregate --input "$TMP/odd.jsonl" > "$TMP/agg.out" 2> "$TMP/err"; rc=$?; set -e
[ "$rc" = 3 ] && grep -q '"period":"2026-03","breakdown":"all","numerator":1,"denominator":5' "$TMP/agg.out" &&
  [ "$(grep -c 'an IndicatorPart has figures no population has' "$TMP/err")" = 3 ] &&
  grep -q "odd.jsonl:4: an IndicatorPart names no month" "$TMP/err" &&
  grep -q "odd.jsonl:5: an IndicatorPart names no breakdown" "$TMP/err" &&
  grep -q "odd.jsonl:6: an IndicatorPart names no partition" "$TMP/err" &&
  grep -q "odd.jsonl:8: an IndicatorPart names no period" "$TMP/err" &&
  grep -q "odd.jsonl:9: an IndicatorPart has no denominator where its indicator (a rate) has one" "$TMP/err" &&
  grep -q "odd.jsonl:10: an IndicatorPart has a denominator where its indicator (a count) has none" "$TMP/err" &&
  ! grep -q 'ssih_enrolment\|"denominator":null\|"numerator":[^1]' "$TMP/agg.out" ||
  fail "aggregate, parts of impossible figures: exit $rc: $(cat "$TMP/agg.out" "$TMP/err")"
# ... nor shown by indicators and report when such a value is read.
{ head -1 "$TMP/agg.out"; sed -n '1{s/"indicator":"readmission_30d"/"indicator":"19121212-1212"/;p;q;}' "$TMP/agg.out"
  sed -n '1{s/"breakdown":"all"/"breakdown":"sex:191212121212"/;p;q;}' "$TMP/agg.out"
  sed -n '1{s/"denominator":5/"denominator":null/;p;q;}' "$TMP/agg.out"; } > "$TMP/val.jsonl"
set +e; "$VIGIL" indicators --input "$TMP/val.jsonl" --format json --breakdown any > "$TMP/ind.out" 2> "$TMP/err"; rc=$?; set -e
[ "$(grep -c '"indicator"' "$TMP/ind.out")" = 1 ] && grep -q "val.jsonl:2: a value that names no indicator" "$TMP/err" &&
  grep -q "val.jsonl:3: a value that holds a personnummer" "$TMP/err" &&
  grep -q "val.jsonl:4: a value that has no denominator where its indicator (a rate) has one" "$TMP/err" ||
  fail "indicators, values no aggregator writes: exit $rc: $(cat "$TMP/ind.out" "$TMP/err")"
: > "$TMP/no-alerts.jsonl"
set +e; "$VIGIL" report --indicators "$TMP/val.jsonl" --alerts "$TMP/no-alerts.jsonl" --html "$TMP/rv.html" 2> "$TMP/err"; rc=$?; set -e
grep -q "val.jsonl:2: names no indicator" "$TMP/err" && grep -q "val.jsonl:3: holds a personnummer" "$TMP/err" &&
  grep -q "val.jsonl:4: a value that has no denominator" "$TMP/err" ||
  fail "report, values no aggregator writes: exit $rc: $(cat "$TMP/err")"
if grep -q 1212 "$TMP/ind.out" "$TMP/rv.html"; then fail "a personnummer shown"; fi
# SPEC §8 for vigil codec too: an event or alert with a personnummer as a
# field's whole value is neither encoded nor shown decoded (it passed
# through both), unless --allow-personnummer asks for a test record.
ev='{"type":"death","event_id":"e1","patient_id":"19121212-1212","occurred_at":"2026-01-01T11:35:11Z","kommun":"1885","source_system":"s","place_of_death":"HOME","expected":true,"age_years":80,"sex":"MALE","diagnosis_group":"CANCER"}'
set +e; echo "$ev" | "$VIGIL" codec encode > "$TMP/pn.hex" 2> "$TMP/err"; rc=$?; set -e
[ "$rc" = 1 ] && [ ! -s "$TMP/pn.hex" ] && grep -q "patient_id looks like a personnummer: not encoded" "$TMP/err" ||
  fail "codec encode of a personnummer: exit $rc: $(cat "$TMP/pn.hex" "$TMP/err")"
echo "$ev" | "$VIGIL" codec encode --allow-personnummer > "$TMP/pn.hex" 2> "$TMP/err" || fail "codec encode --allow-personnummer"
set +e; "$VIGIL" codec decode "$TMP/pn.hex" > "$TMP/pn.out" 2> "$TMP/err"; rc=$?; set -e
[ "$rc" = 1 ] && [ ! -s "$TMP/pn.out" ] && grep -q "personal-data: patient_id looks like a personnummer: not shown" "$TMP/err" ||
  fail "codec decode of a personnummer: exit $rc: $(cat "$TMP/pn.out" "$TMP/err")"
if grep -q 1212 "$TMP/err"; then fail "codec showed the personnummer: $(cat "$TMP/err")"; fi
"$VIGIL" codec decode --allow-personnummer "$TMP/pn.hex" | grep -q '"patient_id":"19121212-1212"' || fail "codec decode --allow-personnummer"
iv='{"indicator":"death_place.HOME","area":"0428","period":"2026-01","breakdown":"sex:191212121212","numerator":1,"denominator":2,"updated_at":"2026-03-05T00:00:00Z","complete":true,"history_complete":true,"data_since":null}'
set +e; echo "$iv" | "$VIGIL" codec encode -t indicator_value > "$TMP/pn.hex" 2> "$TMP/err"; rc=$?; set -e
[ "$rc" = 1 ] && [ ! -s "$TMP/pn.hex" ] && grep -q "breakdown looks like a personnummer" "$TMP/err" ||
  fail "codec encode of a value holding a personnummer: exit $rc: $(cat "$TMP/pn.hex" "$TMP/err")"
# SPEC §8 in file mode: an event with a personnummer in any field (the
# whole value) is an invalid line, never written; a value that only holds
# one among other characters is a pseudonym by the SPEC's rule: processed,
# and its alert shown by report.
cat > "$TMP/fields.jsonl" <<'EOF2'
{"type":"discharge","event_id":"e1","patient_id":"pat-a","occurred_at":"2026-01-01T11:35:11Z","kommun":"1885","source_system":"s","stay_id":"191212121212","facility_id":"LIN","care_setting":"HOSPITAL_INPATIENT","disposition":"HOME","needs_coordination":true}
{"type":"death","event_id":"19121212-1212","patient_id":"pat-b","occurred_at":"2026-01-01T11:35:11Z","kommun":"1885","source_system":"s","place_of_death":"HOME","expected":true,"age_years":80,"sex":"MALE","diagnosis_group":"CANCER"}
{"type":"discharge","event_id":"e3","patient_id":"p-121212-1212","occurred_at":"2026-01-01T11:35:11Z","kommun":"1885","source_system":"s","stay_id":"x 121212-1212","facility_id":"LIN","care_setting":"HOSPITAL_INPATIENT","disposition":"HOME","needs_coordination":true}
{"type":"sip_created","event_id":"e9","patient_id":"pat-c","occurred_at":"2026-03-01T11:35:11Z","kommun":"1885","source_system":"s","sip_id":"s"}
EOF2
run 3 "$VIGIL" process --input "$TMP/fields.jsonl" --alerts "$TMP/fal.jsonl" --indicators "$TMP/find.jsonl"
grep -q "fields.jsonl:1: stay_id looks like a personnummer: not processed" "$TMP/err" &&
  grep -q "fields.jsonl:2: event_id looks like a personnummer: not processed" "$TMP/err" ||
  fail "personnummer in other fields: $(cat "$TMP/err")"
if grep -q -e 191212121212 -e 19121212-1212 "$TMP/fal.jsonl" "$TMP/find.jsonl" "$TMP/err"; then
  fail "a personnummer in another field was written"; fi
grep -q '"patient_id":"p-121212-1212".*"anchor":"x 121212-1212"' "$TMP/fal.jsonl" || fail "the pseudonym's alert: $(cat "$TMP/fal.jsonl")"
run 0 "$VIGIL" report --indicators "$TMP/find.jsonl" --alerts "$TMP/fal.jsonl" --html "$TMP/f.html"
grep -q "x 121212-1212" "$TMP/f.html" || fail "report hid the pseudonym's alert: $(cat "$TMP/err")"
echo "outputs: ok"
