#!/usr/bin/env bash
# 0028-large-records (SPEC §7: "processing continues"): records near the
# input limit (input.max_bytes, 1 MiB) must never stop a partition. What
# Vigil publishes of them must fit in a Kafka message (librdkafka's
# message.max.bytes, 1,000,000): an attack sent one invalid admission of
# 1,000,055 bytes, whose DLQ copy could not be published, and one valid
# admission of 999,900 bytes, whose changelog record could not: either
# stopped the processor on every start after it.
#  - an event that would make its patient's state larger than 512 KiB goes
#    to the DLQ as patient-limit and changes nothing (a first event, or a
#    second one of 400 KB after a first of 400 KB, which was kept);
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
adm mid1 pl2 400000 y     # valid, kept (a state of ~400 KB)
adm mid2 pl2 400000 z     # valid, the state would be ~800 KB: patient-limit, copied
adm huge pl3 1000000 w    # with a 60,000-byte key: over 1 MiB, too-large
adm good pl4 10 g
K=(-X message.max.bytes=2000000 -X compression.codec=lz4)
kcat -P -b "$VIGIL_BOOTSTRAP" "${K[@]}" -t "$S.adm" -k "pl1" "$TMP/big1.bin"
kcat -P -b "$VIGIL_BOOTSTRAP" "${K[@]}" -t "$S.adm" -k "pl2" "$TMP/mid1.bin"
kcat -P -b "$VIGIL_BOOTSTRAP" "${K[@]}" -t "$S.adm" -k "pl2" "$TMP/mid2.bin"
kcat -P -b "$VIGIL_BOOTSTRAP" "${K[@]}" -t "$S.adm" -k "$(head -c 60000 /dev/zero | tr '\0' k)" "$TMP/huge.bin"
kcat -P -b "$VIGIL_BOOTSTRAP" "${K[@]}" -t "$S.adm" -k "pl4" "$TMP/good.bin"

for run in 1 2; do
  "$VIGIL" process "${T[@]}" -X state.dir="$TMP/state" -X group.id="$S.g" \
    --exit-idle 2 2> "$TMP/process$run.log" ||
    fail "process, run $run: $(grep -E 'ERROR|WARN' "$TMP/process$run.log" | tail -3)"
done
grep -q "stopped after 5 events" "$TMP/process1.log" || fail "not all 5 records consumed: $(grep stopped "$TMP/process1.log")"
kcat -C -b "$VIGIL_BOOTSTRAP" -t "$S.dlq" -e -o beginning -q \
  -f '%K|%S|%h\n' > "$TMP/dlq.txt"
cut -c1-300 "$TMP/dlq.txt"
[ "$(wc -l < "$TMP/dlq.txt")" = 3 ] || fail "expected 3 DLQ records"
grep -q "^-1|0|.*vigil.detail=patient state would be [0-9]* bytes, more than 524288.*key and value left out: [0-9]* bytes, more than a DLQ record holds.*vigil.offset=0,.*vigil.reason=patient-limit" "$TMP/dlq.txt" ||
  fail "offset 0: not a patient-limit record without key and value"
size=$(stat -c %s "$TMP/mid2.bin")
grep -q "^3|$size|.*vigil.offset=2,.*vigil.reason=patient-limit" "$TMP/dlq.txt" ||
  fail "offset 2: not a patient-limit record copied whole ($size bytes)"
grep -q "^-1|0|.*bytes (key and value), more than input.max_bytes (1048576).*vigil.offset=3,.*vigil.reason=too-large" "$TMP/dlq.txt" ||
  fail "offset 3: not a too-large record (key and value counted)"
# The events kept: pl2's first and pl4's (each a stay of its own).
"$VIGIL" state patient pl2 -X state.dir="$TMP/state" > "$TMP/pl2.txt" 2>&1 || true
grep -q "admission  *mid1 " "$TMP/pl2.txt" && ! grep -q "mid2 " "$TMP/pl2.txt" || fail "pl2: $(head -c 300 "$TMP/pl2.txt")"
"$VIGIL" state patient pl4 -X state.dir="$TMP/state" > "$TMP/pl4.txt" 2>&1 || true
grep -q 'admission  *good ' "$TMP/pl4.txt" || fail "pl4's event was not kept: $(head -c 300 "$TMP/pl4.txt")"
echo PASS
