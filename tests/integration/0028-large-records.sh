#!/usr/bin/env bash
# 0028-large-records (SPEC §7: "processing continues"): records near the
# input limit (input.max_bytes, 1 MiB) must never stop a partition. What
# Vigil publishes of them must fit in a Kafka message (librdkafka's
# message.max.bytes, 1,000,000): an attack sent one invalid admission of
# 1,000,055 bytes, whose DLQ copy could not be published, and one valid
# admission of 999,900 bytes, whose changelog record could not: either
# stopped the processor on every start after it.
#  - an event that would make its patient's state larger than 900,000 bytes goes
#    to the DLQ as patient-limit and changes nothing (a first event, or a
#    second one of 500 KB after a first of 500 KB, which was kept; and
#    so after a restart, when the first is read from the store);
#  - a DLQ copy larger than 960,000 bytes goes without key and value;
#  - key and value together count against input.max_bytes (too-large);
#  - the good record after them is processed; a second start is clean.
source "$(dirname "$0")/lib/common.sh"
S=it28.$$.$(date +%s)
topic_args "$S"
"$VIGIL" topics create -p 1 "${T[@]}" >/dev/null

adm() { # EVENT_ID PATIENT FACILITY_LENGTH LETTER -> the Avro record, in a file
  local fac   # (not hex digits, which the state writes at half their length)
  fac=$(head -c "$3" /dev/zero | tr '\0' "$4")
  printf '{"type":"admission","event_id":"%s","patient_id":"%s","occurred_at":"2026-03-01T08:00:00Z","kommun":"0484","source_system":"t","stay_id":"s-%s","facility_id":"%s","care_setting":"HOSPITAL_INPATIENT","planned":false,"age_years":80,"sex":"MALE","diagnosis_group":"COPD"}\n' \
    "$1" "$2" "$1" "$fac" > "$TMP/$1.json"
  "$VIGIL" codec encode "$TMP/$1.json" | xxd -r -p > "$TMP/$1.bin"
}
adm big1 pl1 999000 x     # valid, state ~1 MB: patient-limit, not copied
adm mid1 pl2 500000 y     # valid, kept (a state of ~500 KB)
adm huge pl3 1000000 w    # with a 60,000-byte key: over 1 MiB, too-large
adm good pl4 10 g
adm mid2 pl2 500000 z     # second run: ~1 MB with mid1 (read from the store): patient-limit, copied
adm late pl2 10 l         # second run: kept beside mid1
K=(-X message.max.bytes=2000000 -X compression.codec=lz4)
put() { kcat -P -b "$VIGIL_BOOTSTRAP" "${K[@]}" -t "$S.adm" -k "$1" "$TMP/$2.bin"; }
put pl1 big1; put pl2 mid1; put "$(head -c 60000 /dev/zero | tr '\0' k)" huge; put pl4 good
run() { # N: a processor to the end of the input, twice (a clean second start)
  "$VIGIL" process "${T[@]}" -X state.dir="$TMP/state" -X group.id="$S.g" \
    --exit-idle 2 2> "$TMP/process$1.log" ||
    fail "process, run $1: $(grep -E 'ERROR|WARN' "$TMP/process$1.log" | tail -3)"
}
run 1
grep -q "stopped after 4 events" "$TMP/process1.log" || fail "not all 4 records consumed: $(grep stopped "$TMP/process1.log")"
put pl2 mid2; put pl2 late
run 2
run 3
kcat -C -b "$VIGIL_BOOTSTRAP" -t "$S.dlq" -e -o beginning -q \
  -f '%K|%S|%h\n' > "$TMP/dlq.txt"
cut -c1-300 "$TMP/dlq.txt"
[ "$(wc -l < "$TMP/dlq.txt")" = 3 ] || fail "expected 3 DLQ records"
grep -q "^-1|0|.*vigil.detail=patient state would be [0-9]* bytes, more than 900000.*key and value left out: [0-9]* bytes, more than a DLQ record holds.*vigil.offset=0,.*vigil.reason=patient-limit" "$TMP/dlq.txt" ||
  fail "offset 0: not a patient-limit record without key and value"
grep -q "^-1|0|.*bytes (key and value), more than input.max_bytes (1048576).*vigil.offset=2,.*vigil.reason=too-large" "$TMP/dlq.txt" ||
  fail "offset 2: not a too-large record (key and value counted)"
size=$(stat -c %s "$TMP/mid2.bin")
grep -q "^3|$size|.*vigil.offset=4,.*vigil.reason=patient-limit" "$TMP/dlq.txt" ||
  fail "offset 4: not a patient-limit record copied whole ($size bytes)"
# The events kept: pl2's first and last (the one refused between them
# left the stored history as it was) and pl4's.
"$VIGIL" state patient pl2 -X state.dir="$TMP/state" > "$TMP/pl2.txt" 2>&1 || true
grep -q "admission  *mid1 " "$TMP/pl2.txt" && grep -q "admission  *late " "$TMP/pl2.txt" &&
  ! grep -q "mid2 " "$TMP/pl2.txt" || fail "pl2: $(cut -c1-200 "$TMP/pl2.txt" | head -12)"
"$VIGIL" state patient pl4 -X state.dir="$TMP/state" > "$TMP/pl4.txt" 2>&1 || true
grep -q 'admission  *good ' "$TMP/pl4.txt" || fail "pl4's event was not kept: $(head -c 300 "$TMP/pl4.txt")"
echo PASS
