#!/usr/bin/env bash
# 0032-quiet-source: a record after a silence longer than stream.idle_ms
# raises its alert at once (SPEC §5.1: "in live operation that is at
# once"), not stream.idle_ms later (docs/ARCHITECTURE.md, "Event time").
# Every input topic gets a record (an index stay discharged HOME, a SIP,
# a death and its register entry), then nothing for longer than
# stream.idle_ms (15 s): every topic is caught up. Then the patient's
# unplanned readmission: the processor holds the watermarks after a
# silence only until what the broker held when records came back has been
# read, so the READMISSION_30D alert is on the alerts topic within 7 s
# (found by an attack: it came after stream.idle_ms, 15 s; 20 s at 20 s).
source "$(dirname "$0")/lib/common.sh"

S=it32.$$.$(date +%s)
topic_args "$S"
"$VIGIL" topics create -p 1 "${T[@]}" >/dev/null
"$VIGIL" process "${T[@]}" -X state.dir="$TMP/st" -X group.id="$S.g" \
  -X stream.idle_ms=15000 2> "$TMP/process.log" &
pid=$!
wait_log "$TMP/process.log" "assigned" 60

ev() { # the common fields of an event of patient $1 at $2, then more
  printf '{"event_id":"%s","patient_id":"%s","occurred_at":"%s",' "$3" "$1" "$2"
  printf '"kommun":"0484","source_system":"it32",%s}\n' "$4"
}
stay='"facility_id":"F","care_setting":"HOSPITAL_INPATIENT"'
{
  ev p1 2026-01-01T10:00:00Z a1 "\"type\":\"admission\",\"stay_id\":\"s1\",$stay,\"planned\":false,\"age_years\":80,\"sex\":\"FEMALE\",\"diagnosis_group\":\"CANCER\""
  ev p1 2026-01-05T10:00:00Z d1 "\"type\":\"discharge\",\"stay_id\":\"s1\",$stay,\"disposition\":\"HOME\",\"needs_coordination\":false"
  ev p1 2026-01-05T11:00:00Z x1 '"type":"sip_created","sip_id":"o"'
  ev p2 2026-01-05T10:00:00Z x2 '"type":"death","place_of_death":"HOME","expected":true,"age_years":80,"sex":"FEMALE","diagnosis_group":"CANCER"'
  ev p2 2026-01-06T10:00:00Z x3 '"type":"register_entry","death_at":"2026-01-05T10:00:00Z","unit_id":"u","expected":true,"eol_conversation":"YES","pain_assessed":"YES","symptoms_assessed":"NO","oral_health_assessed":"YES","prn_opioid":"YES","prn_anxiolytic":"YES","prn_antiemetic":"YES","prn_antisecretory":"YES","present_at_death":"YES","bereavement_offered":"YES","pressure_ulcer":"NONE"'
} > "$TMP/r1.jsonl"
ev p1 2026-01-10T10:00:00Z a2 "\"type\":\"admission\",\"stay_id\":\"s2\",$stay,\"planned\":false,\"age_years\":80,\"sex\":\"FEMALE\",\"diagnosis_group\":\"CANCER\"" \
  > "$TMP/r2.jsonl"

"$VIGIL" produce "${T[@]}" "$TMP/r1.jsonl" 2>/dev/null \
  || fail "produce r1: $(tail -3 "$TMP/process.log")"
sleep 20 # > stream.idle_ms: every topic caught up
n=$(kcat -C -b "$VIGIL_BOOTSTRAP" -t "$S.alerts" -e -q -f '%k\n' | sort -u | wc -l)
[ "$n" = 0 ] || fail "$n alerts before the readmission"
"$VIGIL" produce "${T[@]}" "$TMP/r2.jsonl" 2>/dev/null \
  || fail "produce r2: $(tail -3 "$TMP/process.log")"
t0=$(date +%s.%N)
secs=none
while awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN {exit !(b - a < 30)}'; do
  n=$(kcat -C -b "$VIGIL_BOOTSTRAP" -t "$S.alerts" -e -q -f '%k\n' | sort -u | wc -l)
  if [ "$n" -ge 1 ]; then
    secs=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}')
    break
  fi
  sleep 0.2
done
kill -TERM "$pid"
wait "$pid" || fail "vigil process exited $?: $(tail -3 "$TMP/process.log")"
echo "READMISSION_30D after $secs s (stream.idle_ms 15 s)"
[ "$secs" != none ] || fail "no alert within 30 s of the readmission"
awk -v t="$secs" 'BEGIN {exit !(t < 7)}' \
  || fail "the alert took $secs s: held for stream.idle_ms after the silence"
"$VIGIL" alerts "${T[@]}" --json > "$TMP/alerts.jsonl" 2>/dev/null
grep -q '"rule":"READMISSION_30D"' "$TMP/alerts.jsonl" \
  || fail "the alert is not READMISSION_30D: $(cat "$TMP/alerts.jsonl")"
echo "ok"
