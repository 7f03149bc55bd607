#!/usr/bin/env bash
# test_convert_produce.sh - one mapping everywhere (docs/HOSPITAL.md):
# `vigil convert --from X | vigil produce` and `vigil produce --format X`
# (X = hl7v2, fhir) publish the same events. No broker: both run with
# --dry-run -X log.level=debug, which logs the topic and the SHA-256 of
# every encoded value, and the two lists must be equal, in order; a
# different site mapping must change them (so the comparison can fail).
# Also: refusals are reported alike, counts, and the options of produce
# --format (unknown format, --mapping without one, no key, --strict).
set -euo pipefail
VIGIL=${VIGIL:-$(cd "$(dirname "$0")/../.." && pwd)/build/vigil}
fail() { echo "FAIL: $*" >&2; exit 1; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
cd "$tmp"

printf 'cli-test-key-0123456789abcdef' > key
chmod 600 key
printf 'kommun.default=0484\ncare_setting.location.PAL=PALLIATIVE_UNIT\n' > site.properties
printf 'care_setting.location.MED=SSIH\nkommun.default=0484\n' > other.properties
printf 'pseudonym.key_file=%s/key\nhl7.mapping_file=%s/site.properties\n' "$tmp" "$tmp" > site.conf
export VIGIL_CONFIG=$tmp/site.conf
: > empty.conf

# HL7 v2: A01, A03, A11, an A08 (skipped) and an A40 (refused).
pid='PID|1||191212121212^^^SKV^PN||Svensson^Anna||19450310|F|||Gatan 1^^Eskilstuna^^63220^SE^H^^0484'
msh() { printf 'MSH|^~\\&|HIS-A|MSE|VIGIL|REG|20260301081500||ADT^%s|%s|P|2.5\n' "$1" "$2"; }
{
  msh A01 C1; printf 'EVN|A01|202603010815\n%s\n' "$pid"
  printf 'PV1|1|I|MED3^12^1^MSE|E|||||||||||||||V1001\nDG1|1||I50.9^x^I10\n\n'
  msh A03 C2; printf 'EVN|A03|202603061340\n%s\n' "$pid"
  printf 'PV1|1|I|MED3^12^1^MSE|E|||||||||||||||V1001|||||||||||||||||03\n\n'
  msh A01 C3; printf 'EVN|A01|202603200900\n%s\n' "$pid"
  printf 'PV1|1|I|PAL1^1^1^MSE|E|||||||||||||||V1002\n\n'
  msh A11 C4; printf 'EVN|A11|202603201000\n%s\n' "$pid"
  printf 'PV1|1|I|PAL1^1^1^MSE|E|||||||||||||||V1002\n\n'
  msh A08 C5; printf 'EVN|A08|202603201000\n%s\nPV1|1|I|PAL1\n\n' "$pid"
  msh A40 C6; printf 'EVN|A40|202603201000\n%s\nMRG|X\n\n' "$pid"
} > in.hl7v2

# FHIR: a Bundle (Patient, Encounter in progress), a lone finished
# Encounter, entered-in-error, a death, a Practitioner, two refusals.
P='{"resourceType":"Patient","id":"p1","identifier":[{"system":"http://electronichealth.se/identifier/personnummer","value":"19121212-1212"}],"gender":"female","birthDate":"1945-03-10","address":[{"district":"0484"}]'
E='"identifier":[{"system":"urn:oid:1.2.752.999","value":"V2001"}],"subject":{"reference":"Patient/p1","identifier":{"system":"http://electronichealth.se/identifier/personnummer","value":"191212121212"}},"location":[{"location":{"identifier":{"value":"MED3"}}}],"period":{"start":"2026-04-01T08:00:00+02:00","end":"2026-04-05T12:00:00+02:00"}'
{
  echo '{"resourceType":"Bundle","type":"collection","entry":[{"resource":'"$P"'}},{"resource":{"resourceType":"Encounter","status":"in-progress",'"$E"'}}]}'
  echo '{"resourceType":"Encounter","status":"finished","hospitalization":{"dischargeDisposition":{"coding":[{"code":"snf"}]}},'"$E"'}'
  echo
  echo '{"resourceType":"Encounter","status":"entered-in-error","meta":{"lastUpdated":"2026-04-06T08:00:00Z"},'"$E"'}'
  echo "$P"',"deceasedDateTime":"2026-05-01T03:00:00"}'
  echo '{"resourceType":"Practitioner","id":"dr"}'
  echo '{"resourceType":"Encounter","status":"finished",'"${E/2026-04-05T12:00:00+02:00/2026-04-31T12:00:00Z}"'}'
  echo '{"resourceType":"Encounter"'
} > in.fhir

hashes() { sed -n 's/.*: valid, for \([^:]*\): sha256 \([0-9a-f]*\) (dry run)$/\1 \2/p' "$1"; }
# (the ERROR log lines naming FILE:N, by N and what follows: convert's and
# produce's lines differ only in time and component)
refusals() { grep -E ' ERROR +[a-z]+: [^ ]*:[0-9]+[ :]' "$1" | sed 's/^.* ERROR  *[a-z]*: [^:]*:\([0-9]*\)/\1/' | sort; }

for fmt in hl7v2 fhir; do
  set +e
  "$VIGIL" convert --from "$fmt" "in.$fmt" > conv.jsonl 2> conv.err; rc=$?
  set -e
  [ "$rc" = 3 ] || fail "$fmt: convert exit $rc, want 3 (some invalid): $(cat conv.err)"
  [ -s conv.jsonl ] || fail "$fmt: convert wrote no events"
  # standard output that cannot be written: exit 1, and the summary does
  # not say the events were written
  set +e; "$VIGIL" convert --from "$fmt" "in.$fmt" > /dev/full 2> full.err; rc=$?; set -e
  [ "$rc" = 1 ] && grep -q "events made (standard output not written)" full.err ||
    fail "$fmt: convert > /dev/full: exit $rc, $(tail -2 full.err)"
  set +e
  "$VIGIL" convert --from "$fmt" "in.$fmt" 2> /dev/null |
    "$VIGIL" produce --dry-run -X log.level=debug > /dev/null 2> pipe.err
  rc=${PIPESTATUS[1]}
  "$VIGIL" produce --format "$fmt" --dry-run -X log.level=debug "in.$fmt" > /dev/null 2> direct.err; rc2=$?
  set -e
  [ "$rc" = 0 ] || fail "$fmt: convert | produce exit $rc: $(cat pipe.err)"
  [ "$rc2" = 1 ] || fail "$fmt: produce --format exit $rc2, want 1 (rejected): $(cat direct.err)"
  n=$(wc -l < conv.jsonl)
  [ "$(hashes pipe.err | wc -l)" = "$n" ] || fail "$fmt: convert | produce: $(hashes pipe.err | wc -l) valid events, want $n"
  diff <(hashes pipe.err) <(hashes direct.err) > /dev/null ||
    fail "$fmt: produce --format encodes other events than convert | produce:
$(diff <(hashes pipe.err) <(hashes direct.err))"
  # The same refusals, named the same way, and the counts.
  diff <(refusals conv.err) <(refusals direct.err) > /dev/null ||
    fail "$fmt: refusals differ: $(diff <(refusals conv.err) <(refusals direct.err))"
  inv=$(sed -n 's/^.* convert: .* \([0-9]*\) invalid$/\1/p' conv.err)
  grep -q "INFO  produce: dry run: $n valid, $inv rejected" direct.err ||
    fail "$fmt: produce --format summary: $(tail -2 direct.err)"
  grep -q "INFO  produce: dry run: $n valid, 0 rejected" pipe.err ||
    fail "$fmt: convert | produce summary: $(tail -1 pipe.err)"
  grep -q "$(sed -n 's/^.* convert: \(.*\) events written, \(.*\)$/\1 events, \2/p' conv.err)" direct.err ||
    fail "$fmt: produce --format has not convert's counts: $(cat direct.err)"
  # Another site mapping changes the events.
  "$VIGIL" produce --format "$fmt" --mapping other.properties --dry-run -X log.level=debug "in.$fmt" > /dev/null 2> other.err || true
  ! diff <(hashes direct.err) <(hashes other.err) > /dev/null ||
    fail "$fmt: --mapping changed nothing (the comparison proves nothing)"
  for f in conv.jsonl conv.err pipe.err direct.err; do
    ! grep -E '121212|19450310' "$f" || fail "$fmt: personnummer or birth date in $f"
  done
  echo "$fmt: $n events, $inv refused, the same both ways"
done

# Counts of the fhir run: 8 resources (the Bundle's two, 4 lone ones, the
# bad Encounter, the bad line; the blank line is none), 5 events
# (entered-in-error gives two).
grep -q 'INFO  convert: 8 resources read, 5 events written, 2 skipped, 2 invalid$' conv.err ||
  fail "fhir counts: $(tail -1 conv.err)"
grep -q 'in.fhir:8: not valid JSON' conv.err || fail "bad JSON line not named: $(cat conv.err)"
grep -q 'in.fhir:7 (Encounter): Encounter.period.end: not a FHIR date' conv.err ||
  fail "bad Encounter not named: $(cat conv.err)"
grep -q 'INFO  convert: in.fhir:6 (Practitioner/dr): ' conv.err || fail "no note for the Practitioner"

# --strict: one refused resource, nothing produced.
set +e
"$VIGIL" produce --format fhir --strict --dry-run in.fhir > /dev/null 2> e; rc=$?
set -e
[ "$rc" = 1 ] && grep -q 'rejected' e || fail "--strict with a refused resource: exit $rc: $(cat e)"
# ... and every refused one is named, not only the first.
grep -q 'ERROR produce: in.fhir:7 ' e && grep -q 'ERROR produce: in.fhir:8: ' e || fail "--strict names every refusal: $(cat e)"
printf '{"type":"nonsense"}\nnot json\n' > bad.jsonl
set +e; "$VIGIL" produce --strict --dry-run bad.jsonl > /dev/null 2> e; rc=$?; set -e
[ "$rc" = 1 ] && grep -q 'ERROR produce: bad.jsonl:1: ' e && grep -q 'ERROR produce: bad.jsonl:2: ' e &&
  grep -q '0 valid, 2 rejected' e || fail "--strict --dry-run, two bad lines: exit $rc: $(cat e)"

# Options.
expect2() {
  local want=$1; shift
  set +e; "$VIGIL" "$@" < /dev/null > /dev/null 2> e; rc=$?; set -e
  [ "$rc" = 2 ] && grep -q -- "$want" e || fail "vigil $*: exit $rc, want 2 and '$want': $(cat e)"
}
expect2 'unknown format "xml"' produce --format xml --dry-run
expect2 'unknown format "jsonl"' convert --from jsonl
expect2 '--mapping is for --format' produce --mapping site.properties --dry-run
expect2 '--from is required' convert in.fhir
VIGIL_CONFIG=$tmp/empty.conf expect2 'pseudonym.key_file is not set' produce --format fhir --dry-run in.fhir
VIGIL_CONFIG=$tmp/empty.conf expect2 'pseudonym.key_file is not set' convert --from fhir in.fhir
set +e; "$VIGIL" produce --format fhir --dry-run missing.ndjson 2> e; rc=$?; set -e
[ "$rc" = 1 ] && grep -q 'missing.ndjson: No such file' e || fail "missing input: exit $rc: $(cat e)"
set +e; "$VIGIL" produce --format hl7v2 --mapping missing.properties --dry-run in.hl7v2 2> e; rc=$?; set -e
[ "$rc" = 1 ] && grep -q 'missing.properties' e || fail "missing mapping file: exit $rc: $(cat e)"
# A key file that cannot be read fails as an input does (1); one that holds
# no usable key is a configuration error (2), as a bad mapping file is.
printf 'short' > short.key; chmod 600 short.key
expect2 'key is 5 bytes, at least 16 needed' convert --from fhir -k short.key in.fhir
expect2 'key is 5 bytes, at least 16 needed' produce --format hl7v2 -k short.key --dry-run in.hl7v2
set +e; "$VIGIL" convert --from hl7v2 -k missing.key in.hl7v2 > /dev/null 2> e; rc=$?; set -e
[ "$rc" = 1 ] && grep -q 'missing.key: No such file' e || fail "missing key file: exit $rc: $(cat e)"
# Times as JSON Lines reads them: a leap second is second 59 in every
# format; a time before 1900 is refused and blamed on its own field.
{ msh A01 L1; printf 'EVN|A01|20161231235960+0000\n%s\n' "$pid"
  printf 'PV1|1|I|MED3^12^1^MSE|E|||||||||||||||V1001\n\n'
  msh A01 L2; printf 'EVN|A01|000001011200\n%s\n' "$pid"
  printf 'PV1|1|I|MED3^12^1^MSE|E|||||||||||||||V1001\n\n'; } > times.hl7v2
{ echo '{"resourceType":"Encounter","status":"in-progress",'"${E/2026-04-01T08:00:00+02:00/2017-01-01T00:59:60+01:00}"'}'
  echo '{"resourceType":"Encounter","status":"in-progress",'"${E/2026-04-01T08:00:00+02:00/1899-12-31T23:59:59Z}"'}'; } > times.fhir
for fmt in hl7v2 fhir; do
  set +e; "$VIGIL" convert --from $fmt times.$fmt > times.out 2> e; rc=$?; set -e
  [ "$rc" = 3 ] && grep -q '"occurred_at":"2016-12-31T23:59:59Z"' times.out &&
    [ "$(grep -c . times.out)" = 1 ] || fail "$fmt leap second: exit $rc: $(cat times.out e)"
done
set +e; "$VIGIL" convert --from hl7v2 times.hl7v2 > /dev/null 2> e.hl7v2
"$VIGIL" convert --from fhir times.fhir > /dev/null 2> e.fhir; set -e
grep -q 'times.hl7v2:2 (MSH-10 L2): EVN-2: before 1900' e.hl7v2 || fail "HL7 year 0000: $(cat e.hl7v2)"
grep -q 'times.fhir:2 (Encounter): Encounter.period.start: before 1900' e.fhir || fail "FHIR 1899: $(cat e.fhir)"
# A time far ahead is blamed on itself, not on the birth date (a 2099
# event is 154 years after 1945); MSH-12 3.0 is quoted.
{ msh A01 F1; printf 'EVN|A01|209901010000\n%s\n' "$pid"
  printf 'PV1|1|I|MED3^12^1^MSE|E|||||||||||||||V1001\n\n'
  printf 'MSH|^~\\&|HIS-A|MSE|VIGIL|REG|20260301081500||ADT^A01|F2|P|3.0\n'
  printf 'EVN|A01|202603010815\n%s\nPV1|1|I|MED3|E|||||||||||||||V1001\n\n' "$pid"; } > ahead.hl7v2
echo '{"resourceType":"Encounter","status":"in-progress",'"${E/2026-04-01T08:00:00+02:00/2099-01-01T00:00:00Z}"'}' > ahead.fhir
set +e; "$VIGIL" convert --from hl7v2 ahead.hl7v2 > /dev/null 2> e.hl7v2
"$VIGIL" convert --from fhir ahead.fhir > /dev/null 2> e.fhir; set -e
grep -q 'ahead.hl7v2:1 (MSH-10 F1): EVN-2: more than 1 day in the future' e.hl7v2 &&
  grep -q 'ahead.hl7v2:2 (MSH-10 F2): MSH-12: version 3.0 is not HL7 v2' e.hl7v2 ||
  fail "HL7 far ahead, version: $(cat e.hl7v2)"
grep -q 'ahead.fhir:1 (Encounter): Encounter.period.start: more than 1 day in the future' e.fhir ||
  fail "FHIR far ahead: $(cat e.fhir)"

# PID-3 with a local record number first: the repetition typed PN is the
# personnummer (the same patient as with it alone).
{ msh A01 R1; printf 'EVN|A01|202603010815\n%s\n' "${pid/191212121212^^^SKV^PN/47\\X09\\11^^^MSE^MR~191212121212^^^SKV^PN}"
  printf 'PV1|1|I|MED3^12^1^MSE|E|||||||||||||||V1001\n\n'
  msh A01 R2; printf 'EVN|A01|202603010815\n%s\n' "$pid"
  printf 'PV1|1|I|MED3^12^1^MSE|E|||||||||||||||V1001\n\n'; } > rep.hl7v2
"$VIGIL" convert --from hl7v2 rep.hl7v2 > rep.out 2> e || fail "PID-3 repetitions: $(cat e)"
[ "$(grep -o '"patient_id":"[0-9a-f]*"' rep.out | sort -u | wc -l)" = 1 ] &&
  [ "$(grep -c . rep.out)" = 2 ] || fail "PID-3 typed PN not read: $(cat rep.out e)"

# A batch file (FHS, BHS, messages, BTS, FTS): its envelope is skipped.
{ printf 'FHS|^~\\&|HIS-A|MSE\nBHS|^~\\&|HIS-A|MSE\n'; sed -n '1,4p' rep.hl7v2 | grep .
  printf 'BTS|1\nFTS|1\n'; } > batch.hl7v2
"$VIGIL" convert --from hl7v2 batch.hl7v2 > batch.out 2> e || fail "batch file: $(cat e)"
[ "$(grep -c . batch.out)" = 1 ] && grep -q 'INFO  convert: batch.hl7v2:1 (MSH-10 ?): a batch file' e &&
  grep -q '2 messages read, 1 events written, 1 skipped, 0 invalid' e || fail "batch file: $(cat batch.out e)"

# A control character in a field, raw or escaped, and a broken hex escape
# are refused, not dropped: V1<TAB>2 and V1\X00\2 would be visit V12.
{ n=0; for v in "$(printf 'V1\t2')" 'V1\X00\2' 'V\X414\' V12; do
    n=$((n + 1)); msh A01 "K$n"; printf 'EVN|A01|202603010815\n%s\n' "$pid"
    printf 'PV1|1|I|MED3^12^1^MSE|E|||||||||||||||%s\n\n' "$v"; done; } > ctrl.hl7v2
set +e; "$VIGIL" convert --from hl7v2 ctrl.hl7v2 > ctrl.out 2> e; rc=$?; set -e
[ "$rc" = 3 ] && [ "$(grep -c . ctrl.out)" = 1 ] && grep -q '"stay_id":"V12"' ctrl.out &&
  [ "$(grep -c 'PV1-19: holds a control character' e)" = 2 ] &&
  grep -q 'ctrl.hl7v2:3 .*PV1-19: an .X... escape that is not pairs of hex digits' e ||
  fail "control characters: exit $rc: $(cat ctrl.out e)"
# ... in the fields read by hand too (PID-11's kommun, DG1-3's diagnosis).
{ msh A01 D1; printf 'EVN|A01|202603010815\n%s\n' "${pid/^^0484/^^04\\X00\\84}"
  printf 'PV1|1|I|MED3^12^1^MSE|E|||||||||||||||V1001\n\n'
  msh A01 D2; printf 'EVN|A01|202603010815\n%s\n' "$pid"
  printf 'PV1|1|I|MED3^12^1^MSE|E|||||||||||||||V1001\nDG1|1||C\\X09\\34^x^I10\n\n'; } > ctrl2.hl7v2
set +e; "$VIGIL" convert --from hl7v2 ctrl2.hl7v2 > ctrl.out 2> e; rc=$?; set -e
[ "$rc" = 3 ] && [ ! -s ctrl.out ] && grep -q 'ctrl2.hl7v2:1 .*PID-11: holds a control character' e &&
  grep -q 'ctrl2.hl7v2:2 .*DG1-3: holds a control character' e ||
  fail "control characters in PID-11, DG1-3: exit $rc: $(cat ctrl.out e)"
"$VIGIL" convert --help | grep -q -- '--from FORMAT    input format: hl7v2 or fhir' || fail "convert --help"
"$VIGIL" produce --help | grep -q -- '--format FORMAT  input format: jsonl (default), hl7v2' || fail "produce --help"
echo "PASS: convert | produce == produce --format for hl7v2 and fhir"
