#!/usr/bin/env bash
# Every command has --help (exit 0, a Usage line); unknown commands and bad
# options give a clear message and exit 2; bad input files give file:line.
set -euo pipefail
VIGIL=${VIGIL:-$(cd "$(dirname "$0")/../.." && pwd)/build/vigil}
fail() { echo "FAIL: $*" >&2; exit 1; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
"$VIGIL" --help > "$tmp/help" || fail "vigil --help"
cmds=$(sed -n 's/^  \([a-z]*\) .*/\1/p' "$tmp/help" | grep -v '^$')
[ "$(echo "$cmds" | wc -l)" -ge 10 ] || fail "too few commands in --help: $cmds"
for c in $cmds; do
  "$VIGIL" "$c" --help > "$tmp/h" 2>&1 || fail "vigil $c --help exited $?"
  grep -q "^Usage: vigil $c" "$tmp/h" || fail "vigil $c --help has no Usage line"
  # Help points at the project's own docs, which a clone has (not at SPEC).
  # process and codec: their help is owned elsewhere (issue 15 item 8).
  case " process codec " in *" $c "*) ;; *)
    ! grep -n "SPEC" "$tmp/h" || fail "vigil $c --help points at SPEC" ;;
  esac
  for d in $(grep -o 'docs/[A-Za-z_]*\.md' "$tmp/h" | sort -u); do
    [ -f "${VIGIL_SRC:-$(dirname "$0")/../..}/$d" ] || fail "vigil $c --help names $d, which does not exist"
  done
  set +e; "$VIGIL" "$c" --no-such-option > /dev/null 2> "$tmp/e"; rc=$?; set -e
  [ "$rc" -ne 0 ] || fail "vigil $c accepted --no-such-option"
  grep -q "vigil $c" "$tmp/e" || fail "vigil $c: bad option message does not name the command: $(cat "$tmp/e")"
done
# One meaning per short option across commands (README, Commands).
for c in $cmds; do
  "$VIGIL" "$c" --help | sed -n 's/^ *-\([A-Za-z]\), \(--[a-z-]*\).*/\1 \2/p' | sed "s/\$/ $c/"
done | sort -u > "$tmp/short"
awk '{ if (($1 in m) && m[$1] != $2) { print "-" $1 " is " m[$1] " in " c[$1] " but " $2 " in " $3; bad=1 }
       m[$1] = $2; c[$1] = $3 } END { exit bad }' "$tmp/short" || fail "a short option means two things"
for f in "alerts -g 01:--region" "alerts -k 0180:--kommun" "alerts -r SIP_OVERDUE:--rule" \
         "indicators -n x:--indicator" "produce -n:--dry-run" "produce -s:--strict" \
         "indicators -o csv:--format"; do
  set +e; "$VIGIL" ${f%%:*} < /dev/null > /dev/null 2> "$tmp/e"; rc=$?; set -e
  [ "$rc" = 2 ] && grep -q -- "use ${f##*:}" "$tmp/e" || fail "vigil ${f%%:*}: exit $rc, no hint at ${f##*:}: $(cat "$tmp/e")"
done
# A partitioner other than murmur2 would put a patient where file mode
# does not: refused (it was overridden without a word), as acks are.
for x in kafka.partitioner=random kafka.partitioner=consistent_random kafka.request.required.acks=1; do
  set +e; "$VIGIL" produce --dry-run -X "$x" < /dev/null > /dev/null 2> "$tmp/e"; rc=$?; set -e
  [ "$rc" = 2 ] && grep -q "is not allowed" "$tmp/e" || fail "produce -X $x: exit $rc: $(cat "$tmp/e")"
done
"$VIGIL" produce --dry-run -X kafka.partitioner=murmur2 < /dev/null 2> /dev/null || fail "produce -X kafka.partitioner=murmur2"
# The consumer group is Vigil's to name (group.id, aggregate.group.id):
# kafka.group.id made vigil process commit its offsets to another group
# than the one it logged and named its changelog after.
for c in process aggregate; do
  set +e; (cd "$tmp" && "$VIGIL" $c -b 127.0.0.1:1 -X state.dir="$tmp/gs" \
    -X kafka.group.id=other --exit-idle 1 > /dev/null 2> "$tmp/e"); rc=$?; set -e
  [ "$rc" != 0 ] && grep -q "kafka.group.id: set group.id (vigil process) or aggregate.group.id" "$tmp/e" \
    || fail "$c -X kafka.group.id: exit $rc: $(cat "$tmp/e")"
done
# ... and so is a producer that is not idempotent, in every command that
# produces (vigil hl7 listen made it idempotent without a word).
printf 'cli-test-key-0123456789abcdef' > "$tmp/key"; chmod 600 "$tmp/key"
set +e; timeout 10 "$VIGIL" hl7 listen -l 127.0.0.1:0 -b 127.0.0.1:1 -X kafka.enable.idempotence=false \
  -X pseudonym.key_file="$tmp/key" > /dev/null 2> "$tmp/e"; rc=$?; set -e
[ "$rc" = 2 ] && grep -q "kafka.enable.idempotence=false: Vigil's producers are idempotent" "$tmp/e" ||
  fail "hl7 listen -X kafka.enable.idempotence=false: exit $rc: $(cat "$tmp/e")"
# simulate --kommuner with an empty item (a typo) is refused.
for k in "04,,0180" "0180," ",0180"; do
  set +e; "$VIGIL" simulate -n 1 --kommuner "$k" -o /dev/null 2> "$tmp/e"; rc=$?; set -e
  [ "$rc" = 2 ] && grep -q "an empty item" "$tmp/e" || fail "simulate --kommuner '$k': exit $rc: $(cat "$tmp/e")"
done
# Usage mistakes named as what they are (each said something else before).
usage_err() { # WANT ARGS...: exit 2 and WANT on stderr
  local want=$1 rc; shift
  set +e; "$VIGIL" "$@" < /dev/null > "$tmp/o" 2> "$tmp/e"; rc=$?; set -e
  [ "$rc" = 2 ] && grep -qF -- "$want" "$tmp/e" || fail "vigil $*: exit $rc: $(cat "$tmp/e")"
  [ ! -s "$tmp/o" ] || fail "vigil $*: a usage error on standard output"
}
usage_err "'bogus' is not a vigil command" help bogus
usage_err "--dump or --doc, not both" config --dump --doc
usage_err "unexpected argument 'extra'" config --dump extra
usage_err "missing subcommand (listen)" hl7
# An input option given twice is refused: the last won unseen (process
# -i a -i b read b only, exit 0). Other options count as the last given,
# as -X does (a wrapper's default overridden).
usage_err "--input: given twice" process -i a.jsonl -i b.jsonl
usage_err "--input: given twice" aggregate --input a -i b
usage_err "--input: given twice" indicators --input a -i b
usage_err "--alerts: given twice" report --alerts a --alerts b
usage_err "--indicators: given twice" report --indicators a --indicators b
"$VIGIL" process -i a -i b --help > /dev/null || fail "process -i a -i b --help: not the help"
# An empty output name is refused at once (it failed only after the run).
usage_err "--html: '' (an empty file name)" report --html '' --indicators a
usage_err "--out: '' (an empty file name)" state export 0 -o ''
usage_err "'' (an empty file name) given as an output" process -i /dev/null --alerts ''
usage_err "'' (an empty file name) given as an output" simulate -n 1 -o ''
"$VIGIL" simulate -n 20 --seed 3 -o "$tmp/s.jsonl" 2> /dev/null
"$VIGIL" process -i "$tmp/s.jsonl" --partitions 3 --partitions 1 --alerts /dev/null \
  --indicators "$tmp/i.jsonl" 2> "$tmp/e" || fail "process with --partitions twice"
grep -q "1 partition(s)" "$tmp/e" || fail "--partitions 3 --partitions 1: $(cat "$tmp/e")"
"$VIGIL" indicators -i "$tmp/i.jsonl" -a 01 --area 03 --indicator 'death*' \
  --indicator 'sip*' -j -j > /dev/null 2>&1 || fail "indicators with -a, --indicator and -j twice"
# Integers of the command line are written as the configuration's are.
for n in " 5" "+5" "5 " "" "0x10" "1e3"; do
  usage_err "--partitions" process --partitions "$n" -i "$tmp/s.jsonl"
  usage_err "--patients" simulate -n "$n"
done
usage_err "--patients" demo -n "+5"
usage_err "--partitions: expected a number" topics create -b 127.0.0.1:1 -p +5
usage_err "--partitions: expected a number" topics create -b 127.0.0.1:1 -p " 5"
for a in "--max-lag  5" "--timeout +1000"; do # (lag's usage error is 64)
  set +e; "$VIGIL" lag -b 127.0.0.1:1 ${a%% *} "${a#* }" > /dev/null 2> "$tmp/e"; rc=$?; set -e
  [ "$rc" = 64 ] && grep -q -- "${a%% *}: expected" "$tmp/e" || fail "lag $a: exit $rc: $(cat "$tmp/e")"
done
usage_err "schemas takes no file" codec schemas extra
usage_err "serve.tokens is not set" serve -X serve.tokens=
usage_err "--partitions: expected a number from 1 to 10000" topics create -b 127.0.0.1:1 -p 100000000
usage_err "no key is longer than 255" config --dump -X "kafka.$(printf 'a%.0s' $(seq 300))=1"
[ "$(grep -c "see 'vigil convert --help'" <("$VIGIL" convert --bogus 2>&1))" = 1 ] || fail "convert --bogus: the hint twice"
# Filters that can match nothing are refused, not an empty list.
for f in "--kommun abcd" "--kommun 123" "--region 1" "--region 0a"; do
  set +e; "$VIGIL" alerts -b 127.0.0.1:1 $f > /dev/null 2> "$tmp/e"; rc=$?; set -e
  [ "$rc" = 2 ] && grep -q "is not a" "$tmp/e" || fail "alerts $f: exit $rc: $(cat "$tmp/e")"
done
# (vigil lag's usage errors are 64, as its --help says)
set +e; "$VIGIL" lag -b 127.0.0.1:1 -t t -g g > /dev/null 2> "$tmp/e"; rc=$?; set -e
[ "$rc" = 64 ] && grep -q -- "use --topic" "$tmp/e" || fail "vigil lag -t: exit $rc: $(cat "$tmp/e")"
# A long option without its argument: no stray byte, no hint at a short one.
set +e; "$VIGIL" produce --format > /dev/null 2> "$tmp/e"; rc=$?; set -e
[ "$rc" = 2 ] || fail "produce --format: exit $rc"
if grep -q "any more" "$tmp/e" || tr -d '\n' < "$tmp/e" | grep -qaP '\x00'; then
  fail "produce --format: $(cat -v "$tmp/e")"; fi
# The man page lists every command.
man1=${VIGIL_SRC:-$(dirname "$0")/../..}/docs/vigil.1
for c in $cmds; do
  grep -Eq "^\.BR? $c( |\$)" "$man1" || fail "docs/vigil.1 does not list $c"
done
"$VIGIL" --version | grep -Eq '^vigil [0-9]+\.[0-9]+\.[0-9]+$' || fail "--version"
set +e; "$VIGIL" frobnicate 2> "$tmp/e"; rc=$?; set -e
[ "$rc" = 2 ] && grep -q "'frobnicate' is not a vigil command" "$tmp/e" || fail "unknown command"
# Blank lines, spaces and tabs only, are skipped by file mode as by produce
# (they were invalid lines: exit 3 on a file produce accepts).
printf '\n   \n\t\n\r\n%s\n' '{"type":"sip_created","event_id":"e1","patient_id":"p","occurred_at":"2026-01-01T00:00:00Z","kommun":"0484","source_system":"s","sip_id":"x"}' > "$tmp/ws.jsonl"
"$VIGIL" process --input "$tmp/ws.jsonl" > /dev/null 2> "$tmp/e" || fail "blank lines: $(cat "$tmp/e")"
grep -q ": 1 events, 0 invalid lines" "$tmp/e" || fail "blank lines: $(cat "$tmp/e")"
"$VIGIL" produce --dry-run "$tmp/ws.jsonl" 2> "$tmp/e" || fail "produce, blank lines: $(cat "$tmp/e")"
# File mode on bad input: reported with file:line, the rest processed, exit 3.
printf '%s\n' '{"type":"sip_created","event_id":"e1","patient_id":"p","occurred_at":"2026-01-01T00:00:00Z","kommun":"0484","source_system":"s","sip_id":"x"}' \
  'not json' '{"type":"sip_created","event_id":"e2","patient_id":"p","occurred_at":"2026-01-01T00:00:00Z","kommun":"484","source_system":"s","sip_id":"x"}' > "$tmp/in.jsonl"
set +e; "$VIGIL" process --input "$tmp/in.jsonl" > /dev/null 2> "$tmp/e"; rc=$?; set -e
[ "$rc" = 3 ] || fail "process with bad lines exited $rc, want 3"
grep -q "in.jsonl:2: not valid JSON" "$tmp/e" || fail "no file:line for line 2: $(cat "$tmp/e")"
grep -q 'in.jsonl:3: kommun: "484" is not a 4-digit SCB code' "$tmp/e" || fail "no file:line for line 3"
grep -q "1 events, 2 invalid lines" "$tmp/e" || fail "valid neighbour not processed"
# A NUL escaped in a string: named in the user's words, not jansson's flag
# (process and produce alike).
printf '%s\n' '{"type":"sip_created","event_id":"e\u00001","patient_id":"p","occurred_at":"2026-01-01T00:00:00Z","kommun":"0484","source_system":"s","sip_id":"x"}' > "$tmp/nul.jsonl"
set +e; "$VIGIL" process --input "$tmp/nul.jsonl" > /dev/null 2> "$tmp/e"; rc=$?; set -e
[ "$rc" = 3 ] && grep -q 'nul.jsonl:1: not valid JSON: column [0-9]*: \\u0000 (a NUL character) is not allowed' "$tmp/e" &&
  ! grep -q JSON_ALLOW_NUL "$tmp/e" || fail "process, a NUL escaped: exit $rc $(cat "$tmp/e")"
set +e; "$VIGIL" produce --dry-run "$tmp/nul.jsonl" 2> "$tmp/e"; rc=$?; set -e
[ "$rc" != 0 ] && grep -q '\\u0000 (a NUL character) is not allowed' "$tmp/e" &&
  ! grep -q JSON_ALLOW_NUL "$tmp/e" || fail "produce, a NUL escaped: exit $rc $(cat "$tmp/e")"
set +e; "$VIGIL" process --input "$tmp/missing.jsonl" 2> "$tmp/e"; rc=$?; set -e
[ "$rc" = 1 ] && grep -q "missing.jsonl: No such file" "$tmp/e" || fail "missing input file"
echo "PASS: $(echo "$cmds" | wc -l) commands have --help and reject bad options"
# An --area that cannot name an area is a usage error in indicators as in
# report (indicators showed nothing, exit 0).
echo > "$tmp/empty.jsonl"
for args in "indicators --input $tmp/empty.jsonl" \
            "report --html - --indicators $tmp/empty.jsonl"; do
  set +e; "$VIGIL" $args -a 999 > /dev/null 2> "$tmp/e"; rc=$?; set -e
  [ "$rc" = 2 ] || fail "vigil $args -a 999: exit $rc, want 2: $(cat "$tmp/e")"
  grep -q "expected SE, a 2-digit region or a 4-digit kommun" "$tmp/e" ||
    fail "vigil $args -a 999: $(cat "$tmp/e")"
done
# -X without '=' names the option once.
set +e; "$VIGIL" process -X foo > /dev/null 2> "$tmp/e"; rc=$?; set -e
[ "$rc" = 2 ] || fail "process -X foo: exit $rc, want 2"
grep -q "process: -X foo: expected key=value" "$tmp/e" || fail "process -X foo: $(cat "$tmp/e")"
# A kommun code not in the built-in table: still valid (4 digits), warned.
"$VIGIL" simulate -n 3 --kommuner 9999 --out "$tmp/k.jsonl" 2> "$tmp/e" || fail "simulate --kommuner 9999: $(cat "$tmp/e")"
grep -q "WARN  simulate: --kommuner: 9999 is not a kommun of the built-in table" "$tmp/e" ||
  fail "simulate --kommuner 9999: no warning: $(cat "$tmp/e")"
"$VIGIL" simulate -n 3 --kommuner 0484 --out "$tmp/k.jsonl" 2> "$tmp/e"
if grep -q WARN "$tmp/e"; then fail "simulate --kommuner 0484 warned: $(cat "$tmp/e")"; fi
