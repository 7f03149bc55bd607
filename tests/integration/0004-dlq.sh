#!/usr/bin/env bash
# 0004-dlq: undecodable and invalid records go to the DLQ unchanged, with
# their key and headers naming reason, topic, partition and offset; the
# valid records around them are processed.
source "$(dirname "$0")/lib/common.sh"
S=it4.$$.$(date +%s)
topic_args "$S"
"$VIGIL" topics create -p 1 "${T[@]}" >/dev/null

good='{"type":"admission","event_id":"g1","patient_id":"p1","occurred_at":"2026-03-01T08:00:00Z","kommun":"0484","source_system":"t","stay_id":"s1","facility_id":"f","care_setting":"HOSPITAL_INPATIENT","planned":false,"age_years":80,"sex":"MALE","diagnosis_group":"COPD"}'
echo "$good" | "$VIGIL" codec encode | xxd -r -p > "$TMP/good.bin"
# A valid encoding of an event that breaks SPEC §3: kommun "48".
echo "${good/\"0484\"/\"48\"}" | sed 's/"g1"/"g2"/' | "$VIGIL" codec encode | xxd -r -p > "$TMP/badkommun.bin"
printf 'not avro at all' > "$TMP/garbage.bin"
head -c 20 "$TMP/good.bin" > "$TMP/truncated.bin"
{ cat "$TMP/good.bin"; printf '\0'; } > "$TMP/trailing.bin"

n=0
for f in garbage truncated trailing badkommun good; do
  kcat -P -b "$VIGIL_BOOTSTRAP" -t "$S.adm" -k "key-$f" "$TMP/$f.bin"
  n=$((n + 1))
done
# SPEC §8, records from a producer that is not Vigil's: a personnummer as
# patient_id (a samordningsnummer, check digit wrong), and as the key of an
# undecodable record. Neither is processed; the DLQ copies neither key nor
# value.
echo "${good/\"p1\"/\"19121272-1213\"}" | sed 's/"g1"/"g3"/' \
  | "$VIGIL" codec encode --allow-personnummer | xxd -r -p > "$TMP/pnr.bin"
kcat -P -b "$VIGIL_BOOTSTRAP" -t "$S.adm" -k "key-pnr" "$TMP/pnr.bin"
kcat -P -b "$VIGIL_BOOTSTRAP" -t "$S.adm" -k "191212121212" "$TMP/garbage.bin"
# SPEC §7 bounded input: a message longer than input.max_bytes (set to 2 KiB
# here) goes to the DLQ as too-large, named by topic, partition, offset.
head -c 3000 /dev/urandom > "$TMP/big.bin"
kcat -P -b "$VIGIL_BOOTSTRAP" -t "$S.adm" -k "key-big" "$TMP/big.bin"
# A tombstone (no value: kcat -Z sends the empty value as none) is copied
# unchanged, as a tombstone, not as an empty value.
echo "key-tomb:" | kcat -P -b "$VIGIL_BOOTSTRAP" -t "$S.adm" -K: -Z
# Undecodable bytes holding a personnummer that touches letters (an
# attack's record: the DLQ copied it): its own reason, without key and
# value.
printf 'zz191212121212x' > "$TMP/touch.bin"
kcat -P -b "$VIGIL_BOOTSTRAP" -t "$S.adm" -k "key-touch" "$TMP/touch.bin"

"$VIGIL" process "${T[@]}" -X state.dir="$TMP/state" -X group.id="$S.g" \
  -X input.max_bytes=2048 --exit-idle 2 2> "$TMP/process.log" || fail "process: $(tail -3 "$TMP/process.log")"

kcat -C -b "$VIGIL_BOOTSTRAP" -t "$S.dlq" -e -o beginning -q \
  -f '%k|%h|%S\n' > "$TMP/dlq.txt"
cat "$TMP/dlq.txt"
[ "$(wc -l < "$TMP/dlq.txt")" = 9 ] || fail "expected 9 DLQ records"
check() { # key reason offset
  grep -q "^key-$1|.*vigil.offset=$3,vigil.partition=0,vigil.reason=$2,vigil.topic=$S.adm|" "$TMP/dlq.txt" \
    || fail "no DLQ record for $1 with reason $2 at offset $3"
}
check garbage bad-header 0
check truncated truncated 1
check trailing trailing-bytes 2
check badkommun invalid 3
check big too-large 7
grep -q "^key-tomb|vigil.detail=no value (a tombstone),vigil.offset=8,vigil.partition=0,vigil.reason=bad-header,vigil.topic=$S.adm|-1$" "$TMP/dlq.txt" \
  || fail "the tombstone at offset 8 is not in the DLQ as a tombstone (value size -1)"
grep -q "^|vigil.detail=.*(key and value left out: they hold a personnummer),vigil.offset=9,vigil.partition=0,vigil.reason=bad-header,vigil.topic=$S.adm|0$" "$TMP/dlq.txt" \
  || fail "the bytes with a personnummer touching letters (offset 9) were copied"
grep -q "^|.*vigil.offset=5,vigil.partition=0,vigil.reason=personal-data,vigil.topic=$S.adm|0$" "$TMP/dlq.txt" \
  || fail "no personal-data DLQ record without key and value for offset 5"
grep -q "^|.*vigil.offset=6,vigil.partition=0,vigil.reason=personal-data,vigil.topic=$S.adm|0$" "$TMP/dlq.txt" \
  || fail "no personal-data DLQ record without key and value for offset 6"
if grep -aq "1912127\|19121212\|191212" "$TMP/dlq.txt" "$TMP/process.log"; then
  fail "a personnummer reached the DLQ or the log"
fi
grep -q "vigil.detail=kommun" "$TMP/dlq.txt" || fail "invalid record's detail does not name the field"
# Unchanged bytes: the DLQ copy of the garbage equals what was sent.
kcat -C -b "$VIGIL_BOOTSTRAP" -t "$S.dlq" -e -o beginning -q -f '%k=%s\n' \
  | grep -a '^key-garbage=' | cut -d= -f2- | head -c -1 > "$TMP/back.bin"
cmp "$TMP/back.bin" "$TMP/garbage.bin" || fail "DLQ value differs from the original bytes"
# SPEC §2: inputs are keyed by patient_id. The good record's key is not
# (key-good, patient p1): processed, but said (a producer keying otherwise
# splits patients across partitions).
grep -q "$S.adm \[0\] offset 4: the key is not the event's patient_id (1 such records so far)" "$TMP/process.log" ||
  fail "no warning of the key that is not the patient_id: $(grep -c WARN "$TMP/process.log")"
grep -q "stopped after 10 events" "$TMP/process.log" || fail "not all 10 records consumed: $(grep stopped "$TMP/process.log")"
echo PASS
