#!/usr/bin/env bash
# 0021-ha: high availability (issue 16). Three processors in one consumer
# group, each with its own state dir (as on three machines), process a
# simulated stream while it is being produced. One is killed with SIGKILL
# and its state dir deleted (a lost machine); later a fourth joins. Late
# SIPs arrive throughout, each one retracting a SIP_OVERDUE alert that some
# instance has already published: before the kill; for alerts the dead
# instance raised, while its partitions have no owner and after they were
# taken over; while the fourth instance's join moves partitions; at the end.
# The final ACTIVE alerts and indicator values must equal file mode over the
# same events: 0 stuck alerts, 0 missing ones.
#
# A short session timeout (6 s) and no static membership: a SIGKILL is
# noticed within seconds. Every wait is on a condition (the instances'
# /metrics, the group's committed offsets, log lines) with a timeout that
# fails with what it saw.
source "$(dirname "$0")/lib/common.sh"
LIB=$(dirname "$0")/lib
S=it21.$$.$(date +%s)
topic_args "$S"
G=$S.g
PIECES=20
declare -A PID=() PORT=() OWN=() KLINES=() RLINES=()
ALIVE=()
FEED=

cleanup() {
  local n
  [ -z "$FEED" ] || kill "$FEED" 2>/dev/null || true
  for n in "${!PID[@]}"; do kill -9 "${PID[$n]}" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ -n "${KEEP_TMP:-}" ]; then echo "kept $TMP" >&2; else rm -rf "$TMP"; fi
}
trap cleanup EXIT

ms() { local t=${EPOCHREALTIME/./}; echo $((t / 1000)); }
T0=$(ms)
say() { printf '[%5.1f s] %s\n' "$(( $(ms) - T0 ))e-3" "$*"; }

# --- the population, file mode, the late SIPs ---------------------------
"$VIGIL" topics create -p 6 "${T[@]}" >/dev/null
"$VIGIL" simulate -n 1500 --seed 21 --out "$TMP/ev.jsonl" 2>/dev/null
"$VIGIL" process --input "$TMP/ev.jsonl" --partitions 6 \
  --alerts "$TMP/fa.jsonl" --indicators "$TMP/fi.jsonl" 2>/dev/null
"$PY" "$LIB/ha_late.py" candidates "$TMP/ev.jsonl" "$TMP/nosip.jsonl"
"$VIGIL" process --input "$TMP/nosip.jsonl" --partitions 6 \
  --alerts "$TMP/na.jsonl" --indicators /dev/null 2>/dev/null
processor_alerts "$TMP/fa.jsonl"
processor_alerts "$TMP/na.jsonl"
"$PY" "$LIB/ha_late.py" split "$TMP/ev.jsonl" "$TMP/fa.jsonl" \
  "$TMP/na.jsonl" "$TMP/main.jsonl" "$TMP/late.json"
split -d -a 2 -n "l/$PIECES" "$TMP/main.jsonl" "$TMP/piece."
echo "stream: $(wc -l < "$TMP/main.jsonl") events in $PIECES pieces, then the late SIPs"

# --- helpers -------------------------------------------------------------
start() { # NAME: a processor with its own state dir, /metrics on a free port
  local n=$1 t0
  t0=$(ms)
  "$VIGIL" process "${T[@]}" -X state.dir="$TMP/state-$n" -X group.id="$G" \
    -X kafka.session.timeout.ms=6000 -X stream.idle_ms=2000 \
    -X http.listen=127.0.0.1:0 2> "$TMP/$n.log" &
  PID[$n]=$!
  ALIVE+=("$n")
  PORT[$n]=
  while [ -z "${PORT[$n]}" ]; do
    kill -0 "${PID[$n]}" 2>/dev/null \
      || fail "instance $n exited: $(tail -3 "$TMP/$n.log")"
    [ $(( $(ms) - t0 )) -lt 20000 ] || fail "instance $n: no /metrics port after 20 s"
    sleep 0.1
    PORT[$n]=$(sed -n 's/.*serving .*(port \([0-9]*\)).*/\1/p' "$TMP/$n.log")
  done
  say "instance $n started (pid ${PID[$n]}, state dir state-$n)"
}
metrics() { curl -sf --max-time 3 "http://127.0.0.1:${PORT[$1]}/metrics"; }
owned_from() { # /metrics text -> "P,Q," the input partitions it owns
  sed -n 's/^vigil_topic_caught_up{.*partition="\([0-9]*\)"} .*/\1/p' \
    | sort -un | tr '\n' ,
}
sorted() { tr ',' '\n' <<< "$1" | grep . | sort -n | tr '\n' ' '; }
alive_check() {
  local n
  for n in "${ALIVE[@]}"; do
    kill -0 "${PID[$n]}" 2>/dev/null \
      || fail "instance $n died: $(tail -3 "$TMP/$n.log")"
  done
}

# Every partition owned by exactly one live instance, each owning some.
wait_owned() { # WHAT
  local t0 n m all ok
  t0=$(ms)
  while :; do
    alive_check
    all= ok=1
    for n in "${ALIVE[@]}"; do
      m=$(metrics "$n") || { ok=0; break; }
      OWN[$n]=$(owned_from <<< "$m")
      [ -n "${OWN[$n]}" ] || { ok=0; break; }
      all+=${OWN[$n]}
    done
    [ $ok = 1 ] && [ "$(sorted "$all")" = "0 1 2 3 4 5 " ] && break
    [ $(( $(ms) - t0 )) -lt 60000 ] \
      || fail "$1: the partitions are not all owned after 60 s (owned: ${all:-none})"
    sleep 0.2
  done
  OWN_LIST=
  for n in "${ALIVE[@]}"; do OWN_LIST+="$n:${OWN[$n]%,} "; done
}

# Settled: the group's committed offsets at the end of every input
# partition, every partition owned once, every owned topic caught up (so the
# watermark has moved to the end: what is due has fallen due), every outbox
# empty; twice in a row with the same watermarks.
settled_once() {
  local n m lagj all=
  lagj=$("$VIGIL" lag "${T[@]}" -X group.id="$G" -j 2>/dev/null) \
    || { REASON="vigil lag failed"; return 1; }
  grep -q '"total_lag": *0[,} ]' <<< "$lagj" \
    || { REASON="group lag $(grep -o '"total_lag": *[0-9]*' <<< "$lagj")"; return 1; }
  SIG=
  for n in "${ALIVE[@]}"; do
    m=$(metrics "$n") || { REASON="$n: no /metrics"; return 1; }
    grep -qx 'vigil_outbox_depth 0' <<< "$m" \
      || { REASON="$n: $(grep '^vigil_outbox_depth' <<< "$m")"; return 1; }
    if grep -q '^vigil_topic_caught_up{.*} 0$' <<< "$m"; then
      REASON="$n: a topic not caught up"; return 1
    fi
    all+=$(owned_from <<< "$m")
    SIG+="$n $(grep '^vigil_watermark_seconds' <<< "$m" | tr '\n' ' ')"
  done
  [ "$(sorted "$all")" = "0 1 2 3 4 5 " ] \
    || { REASON="partitions owned: ${all:-none}"; return 1; }
}
settle() { # WHAT
  local t0 prev=
  t0=$(ms)
  while :; do
    alive_check
    if settled_once; then
      [ "$SIG" = "$prev" ] && break
      prev=$SIG
    else
      prev=
    fi
    [ $(( $(ms) - t0 )) -lt 90000 ] || fail "$1: not settled after 90 s: $REASON"
    sleep 1
  done
  say "settled ($1) in $(( $(ms) - t0 )) ms"
}

feed() { # FROM TO PAUSE: produce pieces FROM..TO in order
  local i f
  for i in $(seq "$1" "$2"); do
    f=$(printf '%s/piece.%02d' "$TMP" "$i")
    "$VIGIL" produce "${T[@]}" "$f" 2>> "$TMP/produce.log" || return 1
    : > "$f.done"
    sleep "$3"
  done
}
feed_bg() { feed "$@" & FEED=$!; }
feed_wait() {
  wait "$FEED" || fail "producing the stream failed: $(tail -3 "$TMP/produce.log")"
  FEED=
}
wait_piece() { # I: until piece I is produced
  local t0
  t0=$(ms)
  until [ -e "$(printf '%s/piece.%02d' "$TMP" "$1").done" ]; do
    [ $(( $(ms) - t0 )) -lt 60000 ] || fail "piece $1 not produced after 60 s"
    sleep 0.05
  done
}
pick_late() { # STAGE PICK-OPTIONS...: choose late SIPs (ha_late.py pick)
  "$PY" "$LIB/ha_late.py" pick "$VIGIL_BOOTSTRAP" "$S.alerts" "$S.dis" \
    "$TMP/late.json" "$TMP/late.log" "$1" "$TMP/late-$1.jsonl" "${@:2}"
}
produce_late() { # STAGE: produce what pick_late STAGE chose
  if [ -s "$TMP/late-$1.jsonl" ]; then
    "$VIGIL" produce "${T[@]}" "$TMP/late-$1.jsonl" 2>> "$TMP/produce.log" \
      || fail "producing the late SIPs ($1) failed"
  fi
}
late() { pick_late "$@"; produce_late "$1"; }

# --- three instances, data flowing ----------------------------------------
for n in a b c; do start $n; done
wait_owned "start"
say "three instances own the 6 partitions: $OWN_LIST"
feed 0 7 0
settle "pieces 0-7"
late before-kill --parts "${OWN[a]}${OWN[b]}" --half

# --- instance c is lost while the stream flows ----------------------------
feed_bg 8 11 0.4
wait_piece 8
m=$(metrics c) || fail "no /metrics from c"
C_PARTS=$(owned_from <<< "$m")
# Alerts c raised: half of their SIPs come while c's partitions have no
# owner, the others after the takeover.
pick_late orphaned --parts "$C_PARTS" --half
grep -q '^orphaned ' "$TMP/late.log" \
  || fail "no alert of c's partitions was ACTIVE before the kill: nothing to retract, the test would test nothing"
m=$(metrics c) || fail "no /metrics from c"
C_EVENTS=$(sed -n 's/^vigil_events_processed_total \([0-9]*\).*/\1/p' <<< "$m")
exec 3>&2 2>/dev/null # no "Killed" notice from bash
kill -9 "${PID[c]}"
wait "${PID[c]}" || true
exec 2>&3 3>&-
KILL_AT=$(ms)
unset 'PID[c]'
ALIVE=(a b)
rm -rf "$TMP/state-c"
"$VIGIL" lag "${T[@]}" -X group.id="$G" -j > "$TMP/lag-kill.json" 2>/dev/null \
  || fail "vigil lag failed"
say "SIGKILL to c (partitions ${C_PARTS%,}, ${C_EVENTS:-?} events processed); state-c deleted"
produce_late orphaned
for n in a b; do KLINES[$n]=$(wc -l < "$TMP/$n.log"); done
wait_owned "after the kill"
TAKEOVER=$(( $(ms) - KILL_AT ))
say "kill -> c's partitions owned again: $TAKEOVER ms ($OWN_LIST)"
for n in a b; do
  tail -n +"$(( KLINES[$n] + 1 ))" "$TMP/$n.log" | grep -E "assigned|restored" \
    | sed "s/^/  $n: /" || true
done
# ... processed again: every record produced since the kill on c's
# partitions committed by the group (the new owners).
t0=$(ms)
until "$VIGIL" lag "${T[@]}" -X group.id="$G" -j > "$TMP/lag-now.json" 2>/dev/null \
      && "$PY" - "$TMP/lag-kill.json" "$TMP/lag-now.json" "$C_PARTS" <<'EOF'
import json, sys
base = {(r["topic"], r["partition"]): r for r in json.load(open(sys.argv[1]))["partitions"]}
now = json.load(open(sys.argv[2]))["partitions"]
parts = {int(p) for p in sys.argv[3].split(",") if p}
new = 0
for r in now:
    if r["partition"] not in parts or (r["topic"], r["partition"]) not in base:
        continue
    b = base[(r["topic"], r["partition"])]["end"]
    c = r["committed"] if r["committed"] is not None else -1
    if r["end"] > b:
        new += 1
        if c <= b:
            sys.exit(1)
    elif c < b:
        sys.exit(1)
sys.exit(0 if new else 1)
EOF
do
  alive_check
  [ $(( $(ms) - t0 )) -lt 90000 ] \
    || fail "c's partitions not processed again 90 s after the takeover: $(cat "$TMP/lag-now.json")"
  sleep 0.25
done
PROCESSED=$(( $(ms) - KILL_AT ))
say "kill -> c's partitions processed again (records produced since the kill committed): $PROCESSED ms"
# ... and after the takeover.
late after-takeover --parts "$C_PARTS"
feed_wait

# --- a fourth instance joins while the stream flows -----------------------
feed 12 14 0
settle "pieces 0-14"
# The late SIPs of every raised alert, as soon as the join's rebalance
# begins (partitions revoked, not yet given out again).
pick_late join
for n in a b; do RLINES[$n]=$(grep -c "revoked" "$TMP/$n.log" || true); done
JOIN_AT=$(ms)
start d
feed_bg 15 17 0.4
t0=$(ms)
until [ "$(grep -c revoked "$TMP/a.log" || true)" -gt "${RLINES[a]}" ] \
      || [ "$(grep -c revoked "$TMP/b.log" || true)" -gt "${RLINES[b]}" ] \
      || grep -q assigned "$TMP/d.log"; do
  alive_check
  [ $(( $(ms) - t0 )) -lt 60000 ] || fail "no rebalance 60 s after d started"
  sleep 0.05
done
produce_late join
say "late SIPs of the join produced"
wait_owned "after the join"
say "d started -> every partition owned again: $(( $(ms) - JOIN_AT )) ms ($OWN_LIST)"
D_JOIN=$(awk -v p=",${OWN[d]}" '$1 == "join" && index(p, "," $2 ",") {n++} END {print n + 0}' "$TMP/late.log")
echo "  late SIPs of the join on partitions now owned by d: $D_JOIN patients"
feed_wait

# --- the rest of the stream, the last late SIPs, the end ------------------
feed 18 $((PIECES - 1)) 0
settle "all pieces"
late end
late never-raised --all
settle "final"
for n in "${ALIVE[@]}"; do kill -TERM "${PID[$n]}"; done
for n in "${ALIVE[@]}"; do
  wait "${PID[$n]}" || fail "instance $n: exit $?: $(tail -3 "$TMP/$n.log")"
  unset "PID[$n]"
done
say "a, b and d stopped (SIGTERM)"

# --- figures ----------------------------------------------------------------
total=0
echo "events per instance: c ${C_EVENTS:-?} (before the SIGKILL, /metrics)"
for n in a b d; do
  e=$(sed -n 's/.*stopped after \([0-9]*\) events.*/\1/p' "$TMP/$n.log")
  total=$((total + ${e:-0}))
  echo "  $n ${e:-?} (stopped after ... events)"
done
echo "  sum $((total + ${C_EVENTS:-0})) for $(wc -l < "$TMP/ev.jsonl") events produced (a partition replayed from offset 0 counts its events again; c's last moments are not counted)"
echo "partitions restored from the changelog: $(cat "$TMP"/[abcd].log | grep -c "partition [0-9]*: restored from" || true)"
grep -h "restored from" "$TMP"/[abcd].log | sed 's/^/  /' || true
echo "takeover after the SIGKILL: owned again $TAKEOVER ms, processed again $PROCESSED ms"
rc=0
"$PY" "$LIB/ha_late.py" report "$VIGIL_BOOTSTRAP" "$S.alerts" "$TMP/fa.jsonl" \
  "$TMP/late.json" "$TMP/late.log" || rc=1
"$PY" "$LIB/compare_process.py" "$VIGIL_BOOTSTRAP" \
  "$S.alerts" "$S.parts" "$TMP/fa.jsonl" "$TMP/fi.jsonl" || rc=1
[ $rc = 0 ] || fail "a lost instance and a joining one: Kafka mode differs from file mode (stuck or missing alerts or indicator values above)"
echo PASS
