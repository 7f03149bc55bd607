#!/usr/bin/env bash
# 0002-produce - `vigil produce` against a real broker (VIGIL_BOOTSTRAP).
#
#   1. happy path: one event of each type plus two spellings of one
#      personnummer (tests/integration/produce/events.jsonl) go to five fresh
#      topics; every message is consumed back with kcat, decoded with
#      `vigil codec decode --raw` and compared field by field with the input
#      (produce/compare.py; the pseudonym is computed there with Python's
#      hmac, independently of Vigil);
#   1b. register entries and residence (SPEC v2 §3): register_entry lines
#      (every Answer and PressureUlcer symbol in every field, both values of
#      expected, death_at with milliseconds and as epoch ms, a cancellation,
#      a personnummer) and admissions/deaths with every residence symbol and
#      without one (a version-1 producer: UNKNOWN), round trip field by
#      field the same way; bad register lines are reported by field;
#   2. bad input: malformed JSON, wrong type, unknown enum, bad kommun, bad
#      personnummer, ... each reported as FILE:LINE: FIELD: REASON while the
#      valid neighbours are still delivered; --strict produces nothing;
#      missing key file, unreadable input, missing topic, unreachable broker,
#      forbidden acks, message too large: documented message and exit status;
#   3. no personnummer in any output captured here or in any topic.
#
# Needs kcat, python3 and $VIGIL_SRC/ops/kafka-local (topic creation).
set -euo pipefail

fail() { echo "FAIL: $*" >&2; exit 1; }

[ -n "${VIGIL_BOOTSTRAP:-}" ] ||
  fail "VIGIL_BOOTSTRAP is not set: this integration test needs a Kafka broker;" \
       "start one with: export VIGIL_BOOTSTRAP=\$(\$VIGIL_SRC/ops/kafka-local start)"
if [ -z "${VIGIL:-}" ] || [ ! -x "$VIGIL" ]; then
  fail "VIGIL (the vigil binary) is not set or not executable; run through ctest"
fi
[ -n "${VIGIL_SRC:-}" ] || fail "VIGIL_SRC is not set; run through ctest"
for tool in kcat python3; do
  command -v "$tool" >/dev/null 2>&1 || fail "'$tool' not found (see ops/setup.sh)"
done

B=$VIGIL_BOOTSTRAP
here=$VIGIL_SRC/tests/integration/produce
suffix=$$.$(date +%s)
work=$(mktemp -d "${TMPDIR:-/tmp}/vigil-0002.XXXXXX")
created=0
cleanup() {
  # Best effort: this run's topics (one regex, one tool start), the work dir.
  if [ "$created" = 1 ]; then
    "$VIGIL_SRC/ops/kafka-local" topics-tool --bootstrap-server "$B" --delete \
      --topic "it\\.produce\\..*\\.${suffix//./\\.}" >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
cd "$work"
checks=0

ok() { checks=$((checks + 1)); echo "ok $checks - $*"; }

# The test key, private as it should be (git keeps it 0644).
cp "$here/test.key" key
chmod 600 key

# --- topics -----------------------------------------------------------------

roles=(admissions discharges deaths sip register)
topic() { echo "it.produce.$1.$2.$suffix"; }   # SET ROLE

create_topics() {   # SET
  local r
  created=1
  # vigil topics create makes all eight in one request (the tool would
  # start a JVM per topic).
  # shellcheck disable=SC2046
  "$VIGIL" topics create -p 3 -b "$B" $(topic_opts "$1") \
    -X "topic.alerts=$(topic "$1" alerts)" \
    -X "topic.indicator_parts=$(topic "$1" parts)" \
    -X "topic.indicators=$(topic "$1" ind)" \
    -X "topic.dlq=$(topic "$1" dlq)" >/dev/null ||
    fail "cannot create the topics of set $1"
}

topic_opts() {   # SET -> -X options naming its topics
  echo "-X topic.admissions=$(topic "$1" admissions)" \
       "-X topic.discharges=$(topic "$1" discharges)" \
       "-X topic.deaths=$(topic "$1" deaths)" \
       "-X topic.sip=$(topic "$1" sip)" \
       "-X topic.register=$(topic "$1" register)"
}

count() {   # SET -> number of messages in its five topics
  local r n=0 c
  for r in "${roles[@]}"; do
    # (at most a minute: once, kcat -e printed a topic's messages and then
    # waited ten minutes for a partition's end; what it printed counts, and
    # a count short of it fails the check)
    c=$(timeout -k 10 60 kcat -C -b "$B" -t "$(topic "$1" "$r")" -e -o beginning -q -f 'x\n' | wc -l)
    n=$((n + c))
  done
  echo "$n"
}

# dump SET OUT: "ROLE \t PARTITION \t KEY \t decoded JSON" per message, for
# compare.py; the raw bytes (key and value) go to OUT.raw for the leak check.
dump() {
  local r t p o k json
  : >"$2"
  for r in "${roles[@]}"; do
    t=$(topic "$1" "$r")
    kcat -C -b "$B" -t "$t" -e -o beginning -q -f '%k\t%s\n' >>"$2.raw"
    while IFS=$'\t' read -r p o k; do
      json=$(kcat -C -b "$B" -t "$t" -p "$p" -o "$o" -c 1 -e -q -f '%s' |
             "$VIGIL" codec decode --raw) || fail "$t [$p] @$o does not decode"
      printf '%s\t%s\t%s\t%s\n' "$r" "$p" "$k" "$json" >>"$2"
    done < <(kcat -C -b "$B" -t "$t" -e -o beginning -q -f '%p\t%o\t%k\n')
  done
}

# --- running vigil produce ----------------------------------------------------

# run NAME ARGS...: vigil produce ARGS, stdout/stderr kept as NAME.out/.err,
# exit status in $rc.
rc=0
run() {
  local name=$1
  shift
  set +e
  "$VIGIL" produce "$@" >"$name.out" 2>"$name.err"
  rc=$?
  set -e
}

expect_rc() {   # NAME WANT
  [ "$rc" = "$2" ] || {
    sed 's/^/  | /' "$1.err" >&2
    fail "$1: exit status $rc, expected $2"
  }
}

expect_err() {   # NAME TEXT: stderr has TEXT
  grep -qF -- "$2" "$1.err" || {
    sed 's/^/  | /' "$1.err" >&2
    fail "$1: stderr lacks: $2"
  }
}

expect_count() {   # SET WANT WHAT
  local n
  n=$(count "$1")
  [ "$n" = "$2" ] || fail "$3: $n message(s) on the topics of set $1, expected $2"
}

# --- 1. happy path ------------------------------------------------------------

create_topics A
create_topics B
# shellcheck disable=SC2207
A=($(topic_opts A))
# shellcheck disable=SC2207
Bx=($(topic_opts B))

run happy -b "$B" "${A[@]}" -k key "$here/events.jsonl"
expect_rc happy 0
expect_err happy "produce: 6 delivered, 0 failed, 0 rejected"
# Nothing but the summary (librdkafka's own logs aside: a fresh broker makes
# it warn while its transaction coordinator loads).
[ "$(grep -v ' kafka: ' happy.err | grep -c .)" = 1 ] ||
  { sed 's/^/  | /' happy.err >&2; fail "happy: stderr has more than the summary"; }
[ ! -s happy.out ] || fail "happy: unexpected stdout"
ok "6 events of every type produced, exit 0, summary"

dump A dumpA.tsv
python3 "$here/compare.py" "$here/events.jsonl" key dumpA.tsv 3 2>compareA.err ||
  { cat compareA.err >&2; fail "topics of set A differ from the input"; }
[ "$(wc -l <dumpA.tsv)" = 6 ] || fail "set A: $(wc -l <dumpA.tsv) messages, expected 6"
ok "consumed back and decoded: every field equals the input (pseudonym via Python hmac), murmur2 partitions"
per_topic=$(cut -f1 dumpA.tsv | sort | uniq -c | awk '{printf "%s=%s ", $2, $1}')
[ "$per_topic" = "admissions=2 deaths=1 discharges=1 sip=2 " ] ||
  fail "set A: messages per topic: $per_topic"
ok "one topic per type, both personnummer spellings gave one pseudonym"

# --- 1b. register entries and residence ---------------------------------------

create_topics C
# shellcheck disable=SC2207
Cx=($(topic_opts C))
python3 - >register.jsonl <<'PY'
import json
Q = ["eol_conversation", "pain_assessed", "symptoms_assessed",
     "oral_health_assessed", "prn_opioid", "prn_anxiolytic", "prn_antiemetic",
     "prn_antisecretory", "present_at_death", "bereavement_offered"]
A = ["YES", "NO", "UNKNOWN"]
U = ["NONE", "GRADE_1", "GRADE_2_4", "UNKNOWN"]
R = ["ORDINARY_HOME", "NURSING_HOME", "SHORT_TERM_CARE", "OTHER", "UNKNOWN"]
deaths = ["2024-04-01T02:00:00.500Z", 1711936800001, "2024-03-31T22:59:59Z",
          "2024-10-27T01:30:00Z"]
for i in range(4):
    e = {"type": "register_entry", "event_id": "it-r%d" % i,
         "occurred_at": "2024-0%d-20T10:00:00Z" % (5 + i),
         "kommun": ["0484", "0680", "1880", "0180"][i],
         "source_system": ["spr", "Svenska palliativregistret", "", "spr"][i],
         "death_at": deaths[i],
         "unit_id": ["K0484-SABO", "MSE", "PAL-ÖRE", "SSIH-SÖS"][i],
         "expected": i % 2 == 0, "pressure_ulcer": U[i]}
    if i == 3:
        e["personnummer"] = "19811218-9876"
    else:
        e["patient_id"] = "p-reg-%d" % i
    if i == 1:
        e["cancels_event_id"] = "it-r0"
    for q, name in enumerate(Q):
        e[name] = A[(i + q) % 3]
    print(json.dumps(e, ensure_ascii=i % 2 == 0))
for i, r in enumerate(R + [None]):
    base = {"event_id": "it-res-a%d" % i, "patient_id": "p-res-%d" % i,
            "occurred_at": "2024-03-0%dT08:00:00Z" % (i + 1),
            "kommun": "0484", "source_system": "his-r"}
    a = dict(base, type="admission", stay_id="s-res-%d" % i,
             facility_id="MSE", care_setting="HOSPITAL_INPATIENT",
             planned=False, age_years=80 + i, sex="FEMALE",
             diagnosis_group="DEMENTIA")
    d = dict(base, type="death", event_id="it-res-d%d" % i,
             occurred_at="2024-03-2%dT08:00:00Z" % (i + 1),
             place_of_death="NURSING_HOME", expected=True, age_years=80 + i,
             sex="MALE", diagnosis_group="CANCER")
    if r is not None:
        a["residence"] = r
        d["residence"] = R[(i + 2) % len(R)]
    print(json.dumps(a))
    print(json.dumps(d))
PY
run reg -b "$B" "${Cx[@]}" -k key register.jsonl
expect_rc reg 0
expect_err reg "produce: 16 delivered, 0 failed, 0 rejected"
dump C dumpC.tsv
python3 "$here/compare.py" register.jsonl key dumpC.tsv 3 2>compareC.err ||
  { cat compareC.err >&2; fail "topics of set C differ from the register/residence input"; }
per_topic=$(cut -f1 dumpC.tsv | sort | uniq -c | awk '{printf "%s=%s ", $2, $1}')
[ "$per_topic" = "admissions=6 deaths=6 register=4 " ] ||
  fail "set C: messages per topic: $per_topic"
[ "$(grep -c '"residence":"UNKNOWN"' dumpC.tsv)" = 4 ] ||
  fail "set C: expected residence UNKNOWN on 2 given + 2 defaulted records"
ok "register_entry (every answer symbol, both expected, death_at ms/epoch, a cancellation, a personnummer) and residence (every symbol, and missing = UNKNOWN) round trip field by field; register entries on topic.register"

R0=$(sed -n 1p register.jsonl)
{
  echo "${R0/\"eol_conversation\": \"YES\"/\"eol_conversation\": \"MAYBE\"}"
  echo "${R0/\"pressure_ulcer\": \"NONE\"/\"pressure_ulcer\": \"GRADE_5\"}"
  echo "$R0" | sed 's/"death_at": "[^"]*", //'
  echo "$R0" | sed 's/"unit_id": "[^"]*", //'
  echo "${R0/\"expected\": true/\"expected\": \"yes\"}"
  sed -n 5p register.jsonl | sed 's/"residence": "ORDINARY_HOME"/"residence": "HOME"/'
} >badreg.jsonl
run badreg -b "$B" "${Cx[@]}" --dry-run badreg.jsonl
expect_rc badreg 1
expect_err badreg 'badreg.jsonl:1: eol_conversation: unknown symbol "MAYBE"'
expect_err badreg 'badreg.jsonl:2: pressure_ulcer: unknown symbol "GRADE_5"'
expect_err badreg "badreg.jsonl:3: death_at: missing"
expect_err badreg "badreg.jsonl:4: unit_id: missing"
expect_err badreg "badreg.jsonl:5: expected:"
expect_err badreg 'badreg.jsonl:6: residence: unknown symbol "HOME"'
expect_err badreg "produce: dry run: 0 valid, 6 rejected"
ok "bad register_entry / residence lines: FILE:LINE: FIELD: REASON"

# --- 2. bad input, skip mode --------------------------------------------------

ADM='"kommun":"0484","source_system":"his-c","stay_id":"s20","facility_id":"MSE","care_setting":"HOSPITAL_INPATIENT","planned":false,"sex":"MALE","diagnosis_group":"COPD"'
SIP='"occurred_at":"2024-03-12T09:00:00Z","kommun":"0484","source_system":"his-c","sip_id":"sip-20"'
v1='{"type":"admission","event_id":"it-v1","patient_id":"p-carl","occurred_at":"2024-03-10T08:00:00Z",'"$ADM"',"age_years":77}'
v2='{"type":"discharge","event_id":"it-v2","patient_id":"p-carl","occurred_at":"2024-03-11T08:00:00Z","kommun":"0484","source_system":"his-c","stay_id":"s20","facility_id":"MSE","care_setting":"HOSPITAL_INPATIENT","disposition":"HOME","needs_coordination":false}'
v3='{"type":"sip_created","event_id":"it-v3","personnummer":"811218-9876",'"$SIP"'}'
{
  echo "$v1"
  echo '{"type":"admission","event_id":"it-x1",'
  echo '{"type":"admission","event_id":"it-x2","patient_id":"p-carl","occurred_at":"2024-03-10T08:00:00Z",'"$ADM"',"age_years":"77"}'
  echo '{"type":"admission","event_id":"it-x3","patient_id":"p-carl","occurred_at":"2024-03-10T08:00:00Z","kommun":"0484","source_system":"his-c","stay_id":"s20","facility_id":"MSE","care_setting":"HOSPITAL_INPATIENT","planned":false,"sex":"F","diagnosis_group":"COPD","age_years":77}'
  echo "$v2"
  echo '{"type":"sip_created","event_id":"it-x4","patient_id":"p-carl","occurred_at":"2024-03-12T09:00:00Z","kommun":"484","source_system":"his-c","sip_id":"sip-20"}'
  echo '{"type":"sip_created","event_id":"it-x5","personnummer":"19811218-9875",'"$SIP"'}'
  echo '{"type":"sip_created","event_id":"it-x6","patient_id":"p-carl","occurred_at":"2024-03-12T09:00:00Z","kommun":"19811218-9876","source_system":"his-c","sip_id":"sip-20"}'
  echo '{"type":"sip_created","event_id":"it-x7","personnummer":"19811218-9876","patient_id":"p-carl",'"$SIP"'}'
  echo
  echo "$v3"
  echo '{"type":"sip_created","event_id":"it-x8","patient_id":"p-carl",'"$SIP"',"colour":"red"}'
  echo '{"type":"sip_created","event_id":"it-x9","patient_id":"p-carl","occurred_at":"2099-01-01T00:00:00Z","kommun":"0484","source_system":"his-c","sip_id":"sip-20"}'
  echo '{"type":"sip_created","event_id":"it-x10","patient_id":"198112189876","occurred_at":"2024-03-12T09:00:00Z","kommun":"0484","source_system":"his-c","sip_id":"sip-20"}'
  echo '{"type":"sip_created","event_id":"it-x11","patient_id":"p-carl","occurred_at":"2024-03-12T10:00:00+01:00","kommun":"0484","source_system":"his-c","sip_id":"sip-20"}'
} >bad.jsonl
printf '%s\n' "$v1" "$v2" "$v3" >expectedB.jsonl

run bad -b "$B" "${Bx[@]}" -k key bad.jsonl
expect_rc bad 1
expect_err bad "bad.jsonl:2: not valid JSON"
expect_err bad "bad.jsonl:3: age_years: expected an integer"
expect_err bad 'bad.jsonl:4: sex: unknown symbol "F"'
expect_err bad 'bad.jsonl:6: kommun: "484" is not a 4-digit SCB code'
expect_err bad "bad.jsonl:7: personnummer: invalid check digit"
expect_err bad "bad.jsonl:8: kommun: looks like a personnummer, which must not be published"
expect_err bad "bad.jsonl:9: personnummer: both personnummer and patient_id given"
expect_err bad "bad.jsonl:12: colour: unknown field for sip_created"
expect_err bad "bad.jsonl:13: occurred_at: 2099-01-01T00:00:00Z is more than 1 day in the future"
expect_err bad "bad.jsonl:14: patient_id: is a personnummer"
expect_err bad "bad.jsonl:15: occurred_at: 2024-03-12T10:00:00+01:00 is not in UTC (write it with Z"
expect_err bad "produce: 3 delivered, 0 failed, 11 rejected"
[ "$(grep -c ' ERROR produce: bad\.jsonl:' bad.err)" = 11 ] || fail "bad: expected exactly 11 FILE:LINE messages"
expect_count B 3 "skip mode"
ok "skip mode: 11 bad lines reported as FILE:LINE: FIELD: REASON, exit 1, 3 valid neighbours delivered"

# --strict: the bad line is the last one, after two valid ones: nothing goes.
v4='{"type":"admission","event_id":"it-v4","patient_id":"p-dora","occurred_at":"2024-03-10T08:00:00Z",'"$ADM"',"age_years":90}'
printf '%s\n' "$v4" "$v2" '{"type":"death"}' >strict.jsonl
run strict -b "$B" "${Bx[@]}" --strict strict.jsonl
expect_rc strict 1
expect_err strict "strict.jsonl:3: event_id: missing"
expect_err strict "vigil produce: --strict: nothing produced"
expect_err strict "produce: 0 delivered, 0 failed, 1 rejected"
expect_count B 3 "--strict"
ok "--strict: one bad line (the last), exit 1, nothing produced"

run strictok -b "$B" "${Bx[@]}" --strict - <<<"$v4"
expect_rc strictok 0
expect_err strictok "produce: 1 delivered, 0 failed, 0 rejected"
echo "$v4" >>expectedB.jsonl
ok "--strict with valid input (from stdin) produces"

# Personnummer without a key: rejected, the neighbour still goes.
v5='{"type":"death","event_id":"it-v5","patient_id":"p-dora","occurred_at":"2024-03-20T08:00:00Z","kommun":"0180","source_system":"his-c","place_of_death":"HOSPITAL","expected":false,"age_years":90,"sex":"FEMALE","diagnosis_group":"DEMENTIA"}'
printf '%s\n' "$v3" "$v5" >nokey.jsonl
run nokey -b "$B" "${Bx[@]}" nokey.jsonl
expect_rc nokey 1
expect_err nokey "nokey.jsonl:1: personnummer: no pseudonym key (use --key-file)"
expect_err nokey "produce: 1 delivered, 0 failed, 1 rejected"
echo "$v5" >>expectedB.jsonl
expect_count B 5 "no key"
ok "personnummer without a key: rejected with a hint, neighbour delivered"

# Missing and short key files: nothing produced.
run missingkey -b "$B" "${Bx[@]}" -k "$work/no-such.key" nokey.jsonl
expect_rc missingkey 1
expect_err missingkey "vigil produce: pseudonym key file $work/no-such.key: No such file or directory"
printf 'short\n' >short.key
chmod 600 short.key
run shortkey -b "$B" "${Bx[@]}" -X pseudonym.key_file=short.key nokey.jsonl
expect_rc shortkey 2
expect_err shortkey "pseudonym key file short.key: key is 5 bytes, at least 16 needed"
expect_count B 5 "bad key files"
ok "missing key file (exit 1) / too short key (from config key pseudonym.key_file: a configuration error, exit 2): nothing produced"

# Key file readable by others: a warning, still works (dry run).
cp key open.key
chmod 644 open.key
run openkey -b "$B" "${Bx[@]}" -k open.key --dry-run nokey.jsonl
expect_rc openkey 0
expect_err openkey "pseudonym key file open.key is readable by group or others"
expect_err openkey "produce: dry run: 2 valid, 0 rejected (nothing produced)"
expect_count B 5 "--dry-run"
ok "--dry-run: validates, produces nothing; group-readable key warned about"

# Unreadable input: nothing produced, even from the readable file before it.
run nofile -b "$B" "${Bx[@]}" nokey.jsonl "$work/no-such.jsonl"
expect_rc nofile 1
expect_err nofile "vigil produce: $work/no-such.jsonl: No such file or directory"
expect_count B 5 "missing input file"
ok "non-existent input file: exit 1, nothing produced"

# Missing topic: checked before anything is produced.
run notopic -b "$B" "${Bx[@]}" -X "topic.deaths=it.produce.nosuch.$suffix" -k key nokey.jsonl
expect_rc notopic 1
expect_err notopic "topic it.produce.nosuch.$suffix does not exist (create it, see README)"
expect_count B 5 "missing topic"
ok "missing topic: exit 1 with a clear message, nothing produced"

# acks=all cannot be weakened; bad options.
run acks -b "$B" "${Bx[@]}" -X kafka.acks=1 nokey.jsonl
expect_rc acks 2
expect_err acks "kafka.acks=1 is not allowed"
run badopt -b "$B" --bogus nokey.jsonl
expect_rc badopt 2
run badtimeout -b "$B" --timeout soon nokey.jsonl
expect_rc badtimeout 2
expect_err badtimeout "--timeout"
expect_count B 5 "usage errors"
ok "-X kafka.acks=1, unknown option, bad --timeout: exit 2"

# Message too large: failed, named by FILE:LINE; the neighbour goes.
v6='{"type":"sip_created","event_id":"it-v6","patient_id":"p-erik","occurred_at":"2024-03-12T09:00:00Z","kommun":"2480","source_system":"his-d","sip_id":"sip-30"}'
{
  echo "$v6"
  python3 -c 'import json; print(json.dumps({"type":"sip_created","event_id":"it-big","patient_id":"p-erik","occurred_at":"2024-03-12T09:00:00Z","kommun":"2480","source_system":"x"*1100000,"sip_id":"sip-31"}))'
} >huge.jsonl
# (input.max_bytes raised above the line, so that the message limit is hit)
run huge -b "$B" "${Bx[@]}" -X input.max_bytes=4194304 huge.jsonl
expect_rc huge 1
expect_err huge "huge.jsonl:2: not produced: the encoded event is"
expect_err huge "produce: 1 delivered, 1 failed, 0 rejected"
echo "$v6" >>expectedB.jsonl
expect_count B 6 "message too large"
# With the default input.max_bytes (1 MiB) the line itself is refused first.
sed 's/"it-v6"/"it-v6b"/' huge.jsonl > hugeline.jsonl
run hugeline -b "$B" "${Bx[@]}" hugeline.jsonl
expect_rc hugeline 1
expect_err hugeline "hugeline.jsonl:2: line longer than 1048576 bytes"
expect_err hugeline "produce: 1 delivered, 0 failed, 1 rejected"
echo "${v6/it-v6/it-v6b}" >>expectedB.jsonl
expect_count B 7 "line too long"
ok "message too large: counted failed with FILE:LINE, exit 1, neighbour delivered; a line over input.max_bytes is rejected by FILE:LINE"

# Standard input, CRLF line ends.
v7='{"type":"discharge","event_id":"it-v7","patient_id":"p-erik","occurred_at":"2024-03-13T08:00:00Z","kommun":"2480","source_system":"his-d","stay_id":"s30","facility_id":"NUS","care_setting":"PALLIATIVE_UNIT","disposition":"DIED","needs_coordination":false}'
run stdin -b "$B" "${Bx[@]}" < <(printf '%s\r\n\r\n' "$v7")
expect_rc stdin 0
expect_err stdin "produce: 1 delivered, 0 failed, 0 rejected"
echo "$v7" >>expectedB.jsonl
ok "standard input with CRLF line ends"

dump B dumpB.tsv
python3 "$here/compare.py" expectedB.jsonl key dumpB.tsv 3 2>compareB.err ||
  { cat compareB.err >&2; fail "topics of set B differ from the valid input lines"; }
ok "set B holds exactly the 7 valid events, field by field"

# Unreachable broker (port 1 on loopback is closed).
run nobroker -b 127.0.0.1:1 "${Bx[@]}" nokey.jsonl
expect_rc nobroker 1
expect_err nobroker "cannot reach the Kafka broker at 127.0.0.1:1"
ok "broker unreachable: exit 1 with a clear message"

# --- 3. no personnummer anywhere ----------------------------------------------

# Every spelling used above, and its parts (date, serial): nothing captured
# here (stdout, stderr, compare output, raw topic bytes) may hold one. The
# run's own names (work dir, topic suffix) are removed first: they are
# arbitrary digits.
leaks=0
n=0
for f in ./*.out ./*.err ./*.raw; do
  n=$((n + 1))
  for s in 811218 9876 9875; do
    if sed -e "s|$work||g" -e "s|$suffix||g" "$f" | grep -aqF -- "$s"; then
      echo "personnummer part '$s' found in $f" >&2
      leaks=1
    fi
  done
done
[ "$leaks" = 0 ] || fail "a personnummer leaked"
ok "no personnummer (or part of one) in $n captured outputs and topic dumps"

echo "PASS: 0002-produce ($checks checks)"
