#!/usr/bin/env bash
# 0013-stalled-source (SPEC v2 §5.5): the SIP topic receives nothing for
# days of event time while admissions, discharges and deaths flow (in less
# wall-clock time than stream.idle_ms), then catches up with SIPs made
# within their deadlines: no SIP_OVERDUE is ever raised for them. A control
# discharge that never gets its SIP is raised once the SIP topic has
# caught up. Runs against a live processor.
source "$(dirname "$0")/lib/common.sh"
S=it13.$$.$(date +%s)
topic_args "$S"
"$VIGIL" topics create -p 2 "${T[@]}" >/dev/null

gen() { # phase -> JSON Lines on stdout
  "$PY" - "$1" <<'PY'
import json, sys, datetime
phase = sys.argv[1]
B = datetime.datetime(2026, 6, 1, 8, 0, tzinfo=datetime.timezone.utc)
def ts(h): return (B + datetime.timedelta(hours=h)).strftime("%Y-%m-%dT%H:%M:%SZ")
def ev(t, pid, h, **kw):
    e = {"type": t, "event_id": "%s-%s-%s" % (t, pid, h), "patient_id": pid,
         "occurred_at": ts(h), "kommun": "0484", "source_system": "it13"}
    e.update(kw); print(json.dumps(e))
def adm(pid, h, stay):
    ev("admission", pid, h, stay_id=stay, facility_id="f",
       care_setting="HOSPITAL_INPATIENT", planned=False, age_years=80,
       sex="FEMALE", diagnosis_group="COPD")
def dis(pid, h, stay):
    ev("discharge", pid, h, stay_id=stay, facility_id="f",
       care_setting="HOSPITAL_INPATIENT", disposition="HOME",
       needs_coordination=True)
if phase == "start":    # every topic delivers something at hour 0
    adm("q0", 0, "q0-s"); ev("sip_created", "q0", 0, sip_id="x")
    ev("death", "q9", 0, place_of_death="HOME", expected=True, age_years=90,
       sex="MALE", diagnosis_group="CANCER")
    dis("q0", 1, "q0-s")
elif phase == "flow":   # 5 days of the other topics; SIPs stall
    for i in range(20):
        p = "p%02d" % i
        adm(p, 2 + i, p + "-s"); dis(p, 6 + i, p + "-s")
    adm("ctl", 3, "ctl-s"); dis("ctl", 7, "ctl-s")   # never gets a SIP
    for h in range(30, 121, 6):
        adm("o%03d" % h, h, "o%03d-s" % h)
    ev("death", "q8", 120, place_of_death="HOSPITAL", expected=False,
       age_years=70, sex="MALE", diagnosis_group="OTHER")
elif phase == "sips":   # the SIP source catches up: each within deadline
    for i in range(20):
        p = "p%02d" % i
        ev("sip_created", p, 6 + i + 48, sip_id=p)
PY
}
for ph in start flow sips; do gen $ph > "$TMP/$ph.jsonl"; done
cat "$TMP"/start.jsonl "$TMP"/flow.jsonl "$TMP"/sips.jsonl > "$TMP/all.jsonl"

"$VIGIL" process "${T[@]}" -X state.dir="$TMP/state" -X group.id="$S.g" \
  -X stream.idle_ms=20000 --exit-idle 2 2> "$TMP/process.log" &
pid=$!
for _ in $(seq 1 100); do grep -q "assigned" "$TMP/process.log" && break; sleep 0.1; done
"$VIGIL" produce "${T[@]}" "$TMP/start.jsonl" 2>/dev/null
sleep 2   # consumed; every topic at its end, none caught up yet (20 s)
t0=$(date +%s)
"$VIGIL" produce "${T[@]}" "$TMP/flow.jsonl" 2>/dev/null
sleep 2   # the flow is processed while the SIP topic stalls
"$VIGIL" produce "${T[@]}" "$TMP/sips.jsonl" 2>/dev/null
t1=$(date +%s)
echo "stall: $((t1 - t0)) s of wall-clock time, 4.5 days of event time"
[ $((t1 - t0)) -lt 20 ] || fail "the stall took $((t1 - t0)) s, not less than stream.idle_ms"
wait $pid || fail "process: $(tail -3 "$TMP/process.log")"

"$VIGIL" process --input "$TMP/all.jsonl" --partitions 2 \
  --alerts "$TMP/file-alerts.jsonl" --indicators "$TMP/file-ind.jsonl" 2>/dev/null
processor_alerts "$TMP/file-alerts.jsonl"
"$PY" - "$VIGIL_BOOTSTRAP" "$S.alerts" "$TMP/file-alerts.jsonl" <<PY
import json, sys
sys.path.insert(0, "$(dirname "$0")/lib")
import topics
recs = []
for part, off, key, val in topics.read_topic(sys.argv[1], sys.argv[2]):
    name, a = topics.decode(val)
    recs.append(a)
so = [a for a in recs if a["rule"] == "SIP_OVERDUE"]
stalled = [a for a in so if a["stay_id"].startswith("p")]
ctl = [a for a in so if a["stay_id"] == "ctl-s"]
print("SIP_OVERDUE records: %d for stalled SIPs (want 0), %d for the control "
      "(want 1 ACTIVE)" % (len(stalled), len(ctl)))
file_active = {json.loads(l)["alert_id"] for l in open(sys.argv[3])
               if json.loads(l)["status"] == "ACTIVE"}
last = {}
for a in recs:
    last[a["alert_id"]] = a["status"]
kafka_active = {k for k, s in last.items() if s == "ACTIVE"}
print("final ACTIVE: kafka %d, file mode %d" % (len(kafka_active), len(file_active)))
ok = (not stalled and len(ctl) == 1 and ctl[0]["status"] == "ACTIVE"
      and kafka_active == file_active)
sys.exit(0 if ok else 1)
PY
# vigil lag shows where event time stands, and which topic holds it back.
L=("${T[@]}" -X group.id="$S.g")
"$VIGIL" lag "${L[@]}" --json > "$TMP/lag1.json"
echo '{"type":"sip_created","event_id":"late-sip","patient_id":"zz","occurred_at":"2026-06-01T09:00:00Z","kommun":"0484","source_system":"it13","sip_id":"z"}' \
  | "$VIGIL" produce "${T[@]}" 2>/dev/null
"$VIGIL" lag "${L[@]}" --json > "$TMP/lag2.json"
grep -q "HELD BACK BY" <("$VIGIL" lag "${L[@]}") || fail "no event-time table in vigil lag"
"$PY" - "$TMP/lag1.json" "$TMP/lag2.json" "$S.sip" <<'PY' || fail "vigil lag event time"
import json, sys
a, b = (json.load(open(f))["event_time"] for f in sys.argv[1:3])
assert [p["watermark"] for p in a] == ["2026-06-06T08:00:00Z"] * 2, a
assert all(p["held_by"] is None for p in a), a
held = [p["held_by"] for p in b]
assert held.count(sys.argv[3]) == 1 and held.count(None) == 1, b
print("vigil lag: watermarks", [p["watermark"] for p in a], "; held back by", held)
PY
echo "PASS"
