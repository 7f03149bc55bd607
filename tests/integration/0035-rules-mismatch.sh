#!/usr/bin/env bash
# 0035-rules-mismatch: two members of one new group (empty changelog, no
# state anywhere) started at the same moment with different
# rules.sip_deadline_hours (72 and 48) do not both go on publishing. The
# state check cannot see it (each builds its own partitions from nothing);
# every offset a member commits carries its settings' fingerprint, and each
# member reads the whole group's commits, so:
#
# 1. within 60 s of the records being produced, at least one member exits
#    1 with the ERROR naming the other settings (on the code before this
#    check, neither ever exits: both keep their half of the partitions and
#    publish SIP_OVERDUE alerts with both deadlines, as an attack saw);
# 2. after that exit, a second population is produced, and every
#    SIP_OVERDUE alert emitted from then on has one deadline (deadline -
#    discharged_at is 48 h or 72 h: which rule book raised it): at most one
#    rule book publishes. The second population alone raises SIP_OVERDUE
#    alerts under both settings (checked in file mode), in every partition
#    group, so two live rule books would show both.
# The partitions are split between the members before any record exists
# (both assigned, then produced), and changelog.enabled=false with a state
# dir each: a partition moved in the group's first rebalances is built
# anew by its new owner, never restored from a changelog the other wrote
# (the state check would catch that one, or not, by the timing of the two
# joins: on the code before, then one member exits before any record, and
# this test fails there too). So only the commits' fingerprints can stop
# them, and without them both run for good.
source "$(dirname "$0")/lib/common.sh"
LIB=$(dirname "$0")/lib
S=it35.$$.$(date +%s)
topic_args "$S"
declare -A PID=()
cleanup() {
  local n
  for n in "${!PID[@]}"; do kill -9 "${PID[$n]}" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ -n "${KEEP_TMP:-}" ]; then echo "kept $TMP" >&2; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
ms() { local t=${EPOCHREALTIME/./}; echo $((t / 1000)); }

"$VIGIL" topics create -p 4 "${T[@]}" >/dev/null
"$VIGIL" simulate -n 300 --seed 35 --out "$TMP/w1.jsonl" 2>/dev/null
"$VIGIL" simulate -n 300 --seed 36 --out "$TMP/w2.jsonl" 2>/dev/null
# The second population raises SIP_OVERDUE alerts under each rule book
# (so two live rule books could not hide behind one of them).
for h in 72 48; do
  "$VIGIL" process -X rules.sip_deadline_hours=$h --input "$TMP/w2.jsonl" \
    --partitions 4 --alerts "$TMP/f$h.jsonl" --indicators /dev/null 2>/dev/null
  n=$(grep -c '"rule":"SIP_OVERDUE"' "$TMP/f$h.jsonl" || true)
  [ "$n" -ge 10 ] || fail "file mode, ${h} h: only $n SIP_OVERDUE alerts in the second population"
done

start() { # NAME HOURS
  "$VIGIL" process "${T[@]}" -X group.id="$S.g" -X state.dir="$TMP/st-$1" \
    -X rules.sip_deadline_hours="$2" -X kafka.session.timeout.ms=6000 \
    -X stream.idle_ms=1000 -X changelog.enabled=false 2> "$TMP/$1.log" &
  PID[$1]=$!
}
start a 72
start b 48
wait_log "$TMP/a.log" "assigned [1-9]" 60
wait_log "$TMP/b.log" "assigned [1-9]" 60
sleep 3 # (the group settled: each keeps its half)
for n in a b; do
  kill -0 "${PID[$n]}" 2>/dev/null \
    || fail "member $n exited before any record: $(grep -E 'WARN|ERROR' "$TMP/$n.log" | tail -2)"
done

"$VIGIL" produce "${T[@]}" "$TMP/w1.jsonl" 2>/dev/null
T1=$(ms)
STOPPED=
while [ -z "$STOPPED" ]; do
  for n in a b; do
    kill -0 "${PID[$n]}" 2>/dev/null || { STOPPED=$n; break; }
  done
  [ -n "$STOPPED" ] && break
  [ $(( $(ms) - T1 )) -lt 60000 ] \
    || fail "60 s after the records, both members (72 h and 48 h) still run: two rule books publish side by side"
  sleep 0.2
done
TEXIT=$(ms)
set +e
wait "${PID[$STOPPED]}"
rc=$?
set -e
unset "PID[$STOPPED]"
[ "$rc" = 1 ] || fail "member $STOPPED exited $rc, want 1: $(tail -3 "$TMP/$STOPPED.log")"
grep -q "ERROR process: partition [0-3]: $S\.[a-z]* \[[0-3]\] was committed by another member of the group with other rules\.\* settings (fingerprint [0-9a-f]\{16\}, this member [0-9a-f]\{16\}; theirs -> this member's: sip_deadline_hours [0-9]* -> [0-9]*).*RUNBOOK.md section 9" "$TMP/$STOPPED.log" \
  || fail "member $STOPPED: no error naming the other settings: $(grep -E 'WARN|ERROR' "$TMP/$STOPPED.log" | tail -3)"
grep -m1 ERROR "$TMP/$STOPPED.log"
echo "member $STOPPED stopped $(( TEXIT - T1 )) ms after the records were produced"

# The second population, once the first member is gone.
sleep 1
T2=$(ms)
"$VIGIL" produce "${T[@]}" "$TMP/w2.jsonl" 2>/dev/null
sleep 15 # (five reads of the commits, and the records processed)
for n in "${!PID[@]}"; do
  if kill -0 "${PID[$n]}" 2>/dev/null; then
    kill -TERM "${PID[$n]}"
    echo "member $n still runs (its rule book alone)"
  else
    echo "member $n stopped too: $(grep ERROR "$TMP/$n.log" | head -1 | cut -c1-160)"
  fi
done
wait 2>/dev/null || true
PID=()

LIBDIR=$LIB "$PY" - "$VIGIL_BOOTSTRAP" "$S.alerts" "$T2" <<'EOF' \
  || fail "SIP_OVERDUE alerts under both rule books were emitted after a member stopped"
import os, sys
sys.path.insert(0, os.environ["LIBDIR"])
import topics
bootstrap, topic, t2 = sys.argv[1], sys.argv[2], int(sys.argv[3])
ms = lambda v: int(round(v.timestamp() * 1000))
before, after = {}, {}
for _p, _o, _k, val in topics.read_topic(bootstrap, topic):
    name, a = topics.decode(val) if val else (None, None)
    if name != "Alert" or a["rule"] != "SIP_OVERDUE" \
            or not a.get("deadline") or not a.get("discharged_at"):
        continue
    hours = round((ms(a["deadline"]) - ms(a["discharged_at"])) / 3600000)
    d = after if ms(a["emitted_at"]) >= t2 else before
    d[hours] = d.get(hours, 0) + 1
print("SIP_OVERDUE by deadline, before the second population:", before,
      "after:", after)
sys.exit(1 if len(after) > 1 else 0)
EOF
echo PASS
