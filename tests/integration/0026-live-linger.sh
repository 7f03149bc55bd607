#!/usr/bin/env bash
# 0026-live-linger: batch.linger_ms on a live processor (docs/RUNBOOK.md,
# docs/ARCHITECTURE.md "Live: a batch that raises no alert lingers").
# With batch.linger_ms=60000 and batch.max_ms=60000 (a minute), while
# events come steadily:
#   - batches that raise no alert are held open: 40 admissions and
#     discharges written over 2 s make a handful of batches, not one per
#     empty local queue (the same events with batch.linger_ms=0 make more);
#   - a READMISSION_30D raised by a timer once the watermark reaches the
#     readmission (the discharges' topic caught up after stream.idle_ms)
#     is on the alerts topic within 10 s of being written, not held for
#     the minute (the batch is committed as soon as its commit would fire
#     a timer, judged as of the time it is asked, not when it began);
#   - so is one raised as its events are applied (a readmission that
#     arrives after the watermark has passed it, queued at once: the
#     outbox's urgent count);
#   - every event written is counted as processed, and each alert appears
#     once.
source "$(dirname "$0")/lib/common.sh"

# run LINGER PREFIX: a live processor, the events, the log kept in
# $TMP/PREFIX.log; writes "batches seconds-to-alert" to $TMP/PREFIX.res.
run() {
  local linger=$1 s=$2
  topic_args "$s"
  "$VIGIL" topics create -p 1 "${T[@]}" >/dev/null
  "$VIGIL" process "${T[@]}" -X state.dir="$TMP/$s.st" -X group.id="$s.g" \
    -X stream.idle_ms=300 -X batch.linger_ms="$linger" -X batch.max_ms=60000 \
    2> "$TMP/$s.log" &
  local pid=$!
  wait_log "$TMP/$s.log" "assigned" 60
  "$PY" - "$VIGIL" "$s" "${T[@]}" > "$TMP/$s.out" <<'PY' \
    || { kill "$pid" 2>/dev/null; fail "linger $linger: $(tail -3 "$TMP/$s.log")"; }
import json, subprocess, sys, time
vigil, s, T = sys.argv[1], sys.argv[2], sys.argv[3:]
boot = T[T.index("-b") + 1]
prod = subprocess.Popen([vigil, "produce"] + T, stdin=subprocess.PIPE,
                        stderr=subprocess.DEVNULL)
def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + \
        ".%03dZ" % int((t % 1) * 1000)
def ev(kind, eid, pid, stay, t, **kw):
    e = {"type": kind, "event_id": eid, "patient_id": pid,
         "occurred_at": iso(t), "kommun": "0484", "source_system": "it26",
         "stay_id": stay, "facility_id": "f",
         "care_setting": "HOSPITAL_INPATIENT"}
    e.update(kw)
    prod.stdin.write((json.dumps(e) + "\n").encode())
    prod.stdin.flush()
adm = dict(planned=True, age_years=80, sex="FEMALE",
           diagnosis_group="COPD", residence="ORDINARY_HOME")
dis = dict(disposition="HOME", needs_coordination=False)
# 20 patients admitted and discharged over 2 s: no alert
for i in range(20):
    now = time.time()
    ev("admission", "a%d" % i, "%064x" % i, "s%d" % i, now, **adm)
    ev("discharge", "d%d" % i, "%064x" % i, "s%d" % i, now + 0.001, **dis)
    time.sleep(0.1)
def wait_alerts(n):
    """Seconds until the alerts topic holds n alert ids (None: 30 s)."""
    t0 = time.time()
    while time.time() - t0 < 30:
        out = subprocess.run(["kcat", "-C", "-b", boot, "-t", s + ".alerts",
                              "-e", "-q", "-f", "%k\n"], capture_output=True)
        if len(set(out.stdout.split())) >= n:
            return "%.1f" % (time.time() - t0)
        time.sleep(0.2)
    return "none"
# one discharged and readmitted unplanned 1 ms later: READMISSION_30D
# once the watermark reaches the readmission (a timer)
now = time.time()
p = "%064x" % 999
ev("discharge", "d999", p, "s999-1", now, **dis)
ev("admission", "r999", p, "s999-2", now + 0.001,
   **dict(adm, planned=False))
t1 = wait_alerts(1)
# one whose discharge and readmission the watermark has passed already
# (20 s ago): raised as the readmission is applied
now = time.time() - 20
p = "%064x" % 998
ev("discharge", "d998", p, "s998-1", now, **dis)
ev("admission", "r998", p, "s998-2", now + 0.001,
   **dict(adm, planned=False))
t2 = wait_alerts(2)
prod.stdin.close()
prod.wait()
print(t1, t2)
PY
  kill -TERM "$pid"
  wait "$pid" || fail "linger $linger: vigil process exited $?: $(tail -3 "$TMP/$s.log")"
  local line batches events
  line=$(grep -o "released ([0-9]* events in [0-9]* batches" "$TMP/$s.log") \
    || fail "linger $linger: no 'released' line: $(tail -3 "$TMP/$s.log")"
  events=$(sed 's/released (\([0-9]*\) events.*/\1/' <<<"$line")
  batches=$(sed 's/.* in \([0-9]*\) batches/\1/' <<<"$line")
  [ "$events" = 44 ] || fail "linger $linger: $events events processed, 44 written"
  echo "$batches $(cat "$TMP/$s.out")" > "$TMP/$s.res"
  n=$(kcat -C -b "$VIGIL_BOOTSTRAP" -t "$s.alerts" -e -q -f '%k\n' | sort -u | wc -l)
  [ "$n" = 2 ] || fail "linger $linger: $n alert ids, expected 2"
}

S=it26.$$.$(date +%s)
run 60000 "$S.l"
run 0 "$S.z"
read -r bl tl1 tl2 < "$TMP/$S.l.res"
read -r b0 t01 t02 < "$TMP/$S.z.res"
echo "batch.linger_ms=60000: $bl batches, alerts after $tl1 and $tl2 s;" \
  "0: $b0 batches, alerts after $t01 and $t02 s"
for t in "$tl1" "$tl2"; do
  [ "$t" != none ] || fail "linger 60000: an alert did not come within 30 s"
  awk -v t="$t" 'BEGIN {exit !(t < 10)}' \
    || fail "linger 60000: an alert took $t s: held for the linger"
done
[ "$t01" != none ] && [ "$t02" != none ] \
  || fail "linger 0: an alert did not come within 30 s"
[ "$bl" -le 6 ] || fail "linger 60000: $bl batches for 44 events"
[ "$bl" -lt "$b0" ] || fail "linger 60000: $bl batches, not fewer than $b0 without"
echo "ok"
