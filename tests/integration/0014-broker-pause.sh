#!/usr/bin/env bash
# 0014-broker-pause (SPEC v2 §5, §5.5): the broker is paused (SIGSTOP) for
# 30 s while producers keep sending at a real-time pace (event time = wall
# time). SIP deadlines of earlier discharges fall due before, during and
# after the pause, most of them met by a SIP sent 3 s before the deadline.
# After the broker resumes, the processor must raise no alert that it
# later retracts beyond what file mode raises on the same events, and end
# with the ACTIVE alerts of file mode. One second into the pause, FILL
# (default 20,000) planned admissions of other patients are written at once:
# after the resume they are a backlog on the admissions topic alone, which
# the partitions' worker takes seconds to work through (batches of 10) while
# the loop keeps polling the other topics, whose records (the SIPs sent
# during the pause) wait behind it; the watermark must stay held for all of
# them until each topic's backlog is read. It pauses a broker of its own
# (ops/kafka-local in its temp dir, stopped at the end), so the other
# integration tests run beside it on theirs; exit 77 (skipped) when
# ops/kafka-local cannot start one here (no Java).
source "$(dirname "$0")/lib/common.sh"
export VIGIL_KAFKA_DIR=$TMP/kafka
VIGIL_BOOTSTRAP=$("$VIGIL_SRC/ops/kafka-local" start 2> "$TMP/kafka-start.log") || {
  echo "SKIP: ops/kafka-local cannot start a broker here: $(tail -1 "$TMP/kafka-start.log")"
  exit 77; }
trap '"$VIGIL_SRC/ops/kafka-local" stop >/dev/null 2>&1 || true
      [ -n "${KEEP_TMP:-}" ] && echo "kept $TMP" >&2 || rm -rf "$TMP"' EXIT
bpid=$("$VIGIL_SRC/ops/kafka-local" status | sed -n 's/^running .* (pid \([0-9]*\))$/\1/p')
[ -n "$bpid" ] || fail "no pid of the broker just started: $("$VIGIL_SRC/ops/kafka-local" status)"
S=it14.$$.$(date +%s)
topic_args "$S"
"$VIGIL" topics create -p 2 "${T[@]}" >/dev/null
PAUSE_AT=${PAUSE_AT:-30} PAUSE_S=${PAUSE_S:-30} RUN_S=${RUN_S:-95} FILL=${FILL:-20000}

# History: 120 discharges whose 72 h deadlines fall 25..85 s into the run.
START_MS=$(( $(date +%s%3N) + 5000 ))
"$PY" - "$START_MS" history > "$TMP/history.jsonl" <<'PY'
import json, sys
start = int(sys.argv[1])
H = 3600 * 1000
def iso(ms):
    import datetime
    d = datetime.datetime.fromtimestamp(ms / 1000, datetime.timezone.utc)
    return d.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (ms % 1000)
for i in range(120):
    p = "h%03d" % i
    d = start - 72 * H + 25000 + i * 500
    base = {"patient_id": p, "kommun": "0484", "source_system": "it14"}
    print(json.dumps(dict(base, type="admission", event_id=p + "-a",
        occurred_at=iso(d - H), stay_id=p, facility_id="f",
        care_setting="HOSPITAL_INPATIENT", planned=False, age_years=80,
        sex="MALE", diagnosis_group="COPD")))
    print(json.dumps(dict(base, type="discharge", event_id=p + "-d",
        occurred_at=iso(d), stay_id=p, facility_id="f",
        care_setting="HOSPITAL_INPATIENT", disposition="HOME",
        needs_coordination=True)))
PY
"$VIGIL" produce "${T[@]}" "$TMP/history.jsonl" 2>/dev/null

# Small batches: commits fall in the middle of the backlog after the pause.
"$VIGIL" process "${T[@]}" -X state.dir="$TMP/state" -X group.id="$S.g" \
  -X batch.max_events=10 --exit-idle 3 2> "$TMP/process.log" &
ppid_=$!
for _ in $(seq 1 100); do grep -q "assigned" "$TMP/process.log" && break; sleep 0.1; done

# Live: every 50 ms a new patient's admission or discharge, now; the SIP of
# history discharge i (two in three) 3 s before its deadline.
"$PY" -u - "$START_MS" "$RUN_S" "$TMP/paused" "$FILL" <<'PY' | tee "$TMP/live.jsonl" \
  | "$VIGIL" produce "${T[@]}" - 2> "$TMP/produce.log" &
import json, sys, time
start, run_s = int(sys.argv[1]), int(sys.argv[2])
import os
paused, fill, fill_at = sys.argv[3], int(sys.argv[4]), None
def iso(ms):
    import datetime
    d = datetime.datetime.fromtimestamp(ms / 1000, datetime.timezone.utc)
    return d.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (ms % 1000)
sips = sorted((start + 25000 + i * 500 - 3000, "h%03d" % i)
              for i in range(120) if i % 3)
n = 0
while time.time() * 1000 < start + run_s * 1000:
    now = int(time.time() * 1000)
    # one second after the broker was stopped (the file says when)
    if fill and fill_at is None and os.path.exists(paused):
        fill_at = now + 1000
    if fill and fill_at is not None and now >= fill_at:
        for i in range(fill):
            f = "f%05d" % i
            print(json.dumps({"type": "admission", "event_id": f + "-a",
                "patient_id": f, "kommun": "0484", "source_system": "it14",
                "stay_id": f, "facility_id": "f",
                "care_setting": "HOSPITAL_INPATIENT", "occurred_at": iso(now),
                "planned": True, "age_years": 60, "sex": "MALE",
                "diagnosis_group": "OTHER"}))
        fill = 0
    while sips and sips[0][0] <= now:
        _, p = sips.pop(0)
        print(json.dumps({"type": "sip_created", "event_id": p + "-sip",
            "patient_id": p, "occurred_at": iso(now), "kommun": "0484",
            "source_system": "it14", "sip_id": p}))
    p = "l%05d" % (n // 2)
    base = {"patient_id": p, "kommun": "0484", "source_system": "it14",
            "stay_id": p, "facility_id": "f", "care_setting": "HOSPITAL_INPATIENT",
            "occurred_at": iso(now)}
    if n % 2 == 0:
        print(json.dumps(dict(base, type="admission", event_id=p + "-a",
            planned=False, age_years=70, sex="FEMALE", diagnosis_group="CANCER")))
    else:
        print(json.dumps(dict(base, type="discharge", event_id=p + "-d",
            disposition="HOME", needs_coordination=False)))
    n += 1
    time.sleep(0.05)
PY
gpid=$!
now_ms=$(date +%s%3N)
sleep $(( (START_MS - now_ms) / 1000 + PAUSE_AT ))
kill -STOP "$bpid"; echo "broker paused (SIGSTOP) for $PAUSE_S s"
touch "$TMP/paused"
sleep "$PAUSE_S"
kill -CONT "$bpid"; echo "broker resumed"
wait $gpid || fail "live producer: $(tail -3 "$TMP/produce.log")"
wait $ppid_ || fail "process: $(tail -3 "$TMP/process.log")"

cat "$TMP/history.jsonl" "$TMP/live.jsonl" > "$TMP/all.jsonl"
"$VIGIL" process --input "$TMP/all.jsonl" --partitions 2 \
  --alerts "$TMP/file-alerts.jsonl" --indicators /dev/null 2> "$TMP/file.log"
processor_alerts "$TMP/file-alerts.jsonl"
file_churn=$(sed -n 's/.*alerts (\([0-9]*\) raised and later retracted).*/\1/p' "$TMP/file.log")
"$PY" - "$VIGIL_BOOTSTRAP" "$S.alerts" "$TMP/file-alerts.jsonl" "$file_churn" <<PY
import json, sys
sys.path.insert(0, "$(dirname "$0")/lib")
import topics
churn = topics.alert_churn(sys.argv[1], sys.argv[2])
last = {k: a["status"] for k, a in topics.latest_alerts(sys.argv[1], sys.argv[2]).items()}
kafka_active = {k for k, s in last.items() if s == "ACTIVE"}
file_active = {json.loads(l)["alert_id"] for l in open(sys.argv[3])
               if json.loads(l)["status"] == "ACTIVE"}
print("events: %d; alerts raised and later retracted: kafka %d, file mode %s; "
      "final ACTIVE: kafka %d, file mode %d (want 40)"
      % (sum(1 for _ in open("$TMP/all.jsonl")), churn, sys.argv[4],
         len(kafka_active), len(file_active)))
sys.exit(0 if churn <= int(sys.argv[4]) and kafka_active == file_active
         and len(file_active) == 40 else 1)
PY
echo "PASS"
