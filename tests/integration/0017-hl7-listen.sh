#!/usr/bin/env bash
# 0017-hl7-listen (SPEC v2 §10, docs/HOSPITAL.md §7): `vigil hl7 listen`
# against a real broker, driven by python-hl7's MLLP client (an independent
# HL7 implementation; tests/integration/hl7/mllp.py builds the messages,
# sends them and parses every ACK):
#   1. a care story (A01, A03, A11, A13, an A08, a re-sent A01) sent twice,
#      two connections sending at once, pipelined messages around a
#      garbage frame, refusals (A40, ORU, garbage, oversize, PID-3 missing,
#      version 3) on one connection that then still takes a message: every
#      ACK is the expected AA/AR with MSA-2 = MSH-10 and swapped addresses;
#      /metrics (parsed by prometheus_client) counts them;
#   2. the broker down (a bootstrap address where nothing listens, ack
#      timeout 2 s): every message is answered AE (ERR-3 207); SIGTERM while
#      a message waits for Kafka: the sender still gets its AE, the listener
#      exits 0;
#   3. a listener on the real broker again, with hl7.max_connections=2 and
#      a short idle timeout (a third connection is closed at once, idle ones
#      after the timeout): the sender's retry of every AE'd message is AA;
#   4. the topics read back (kcat) hold, byte for byte and partition for
#      partition, what `vigil produce` publishes for `vigil convert --from
#      hl7v2` of the same messages (the JSON path, same mapping file), the
#      re-sent messages as duplicates with the same event ids, and every
#      retried event exactly once;
#   5. no personnummer in any log or ACK.
source "$(dirname "$0")/lib/common.sh"
here=$VIGIL_SRC/tests/integration/hl7
"$PY" -c 'import hl7, prometheus_client' 2>/dev/null ||
  fail "python-hl7 or prometheus_client missing at $PY: run ops/setup.sh"
command -v kcat >/dev/null || fail "kcat not found (see ops/setup.sh)"
B=$VIGIL_BOOTSTRAP
S=it17.$$.$(date +%s)
M=$TMP/msgs
mkdir -p "$M"
export HL7_DIR=$M
mllp() { "$PY" "$here/mllp.py" "$@"; }
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  # Best effort: this run's topics (one regex, one tool start).
  "$VIGIL_SRC/ops/kafka-local" topics-tool --bootstrap-server "$B" --delete \
    --topic "${S//./\\.}\\..*" >/dev/null 2>&1 || true
  if [ -n "${KEEP_TMP:-}" ]; then echo "kept $TMP" >&2; else rm -rf "$TMP"; fi
}
trap cleanup EXIT

# Two topic sets: L for the listener, P for vigil produce (the JSON path).
topic_args "$S.L"; LT=("${T[@]}")
"$VIGIL" topics create -p 3 "${LT[@]}" >/dev/null
topic_args "$S.P"; PT=("${T[@]}")
"$VIGIL" topics create -p 3 "${PT[@]}" >/dev/null

printf 'it17-pseudonym-key-0123456789abcdef' > "$TMP/key"
chmod 600 "$TMP/key"
cat > "$TMP/map.properties" <<'EOF'
# the site mapping both paths use
care_setting.location.PAL=PALLIATIVE_UNIT
care_setting.location.ASIH=SSIH
diagnosis.R=OTHER
needs_coordination.default=true
EOF
mllp gen "$M"
HL=(-k "$TMP/key" --mapping "$TMP/map.properties" -l 127.0.0.1:0)

# start NAME ARGS...: a listener logging to $TMP/NAME.log; sets pid, port.
start() {
  local name=$1; shift
  "$VIGIL" hl7 listen "${HL[@]}" "$@" 2> "$TMP/$name.log" &
  pid=$!
  pids+=($pid)
  port=""
  for _ in $(seq 1 300); do
    grep -q "ready: events to" "$TMP/$name.log" && break
    kill -0 $pid 2>/dev/null || fail "$name exited: $(cat "$TMP/$name.log")"
    sleep 0.1
  done
  port=$(sed -n 's/.*listening for MLLP on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$TMP/$name.log")
  [ -n "$port" ] && grep -q "ready: events to" "$TMP/$name.log" ||
    fail "$name did not start: $(cat "$TMP/$name.log")"
}
# stop: SIGTERM, wait, exit status 0.
stop() {
  kill -TERM $pid
  wait $pid || fail "listener exited $? after SIGTERM: $(tail -3 "$TMP/$1.log")"
}

# --- 0. usage ---------------------------------------------------------------
rc=0; "$VIGIL" hl7 listen "${LT[@]}" -l 127.0.0.1:0 2> "$TMP/u1" || rc=$?
[ $rc = 2 ] && grep -q pseudonym.key_file "$TMP/u1" || fail "no key: exit $rc $(cat "$TMP/u1")"
rc=0; "$VIGIL" hl7 listen "${LT[@]}" "${HL[@]}" -l nonsense 2> "$TMP/u2" || rc=$?
[ $rc = 2 ] && grep -q 'is not an address' "$TMP/u2" || fail "bad address: exit $rc $(cat "$TMP/u2")"
rc=0; "$VIGIL" hl7 listen -b "$B" -X topic.admissions=$S.none "${HL[@]}" 2> "$TMP/u3" || rc=$?
[ $rc = 1 ] && grep -q "topic $S.none does not exist" "$TMP/u3" || fail "missing topic: exit $rc $(cat "$TMP/u3")"
"$VIGIL" hl7 listen --help | grep -q 'AA  after Kafka confirmed' || fail "--help"
echo "ok - usage errors"

# --- 1. the care story, concurrency, pipelining, refusals ----------------------
start L1 "${LT[@]}" -X http.listen=127.0.0.1:0 -X input.max_bytes=4096 \
  -X log.level=debug
hport=$(sed -n 's/.*serving .* (port \([0-9]*\)).*/\1/p' "$TMP/L1.log")
mllp send $port "$M/story.hl7" AA > "$TMP/acks1" || fail "story: $(cat "$TMP/acks1")"
mllp send $port "$M/story.hl7" AA > "$TMP/acks2" || fail "story again"
mllp concurrent $port "$M/conc-a.hl7" "$M/conc-b.hl7" || fail "concurrent"
mllp pipeline $port "$M/pipeline.hl7" || fail "pipeline"
mllp refusals $port 4096 "$M/good.hl7" > "$TMP/refusals" || fail "refusals"
echo "ok - $(($(wc -l < "$TMP/acks1") * 2)) story messages AA; concurrent, pipelined and refused ones as expected"
# Counts of what was sent above (see mllp.py sets): story 2 x (6 A01, 5 A03,
# A11, A13, A08); conc 6 A01 + 6 A03; pipeline A01 + A03 + garbage; good
# A01; refusals A40, ORU (other), garbage, oversize (A01: its MSH is kept),
# two A01 in one frame (A01), two A01; an A08 by EVN-1.
mllp metrics "http://127.0.0.1:$hport/metrics" \
  'vigil_hl7_messages_total{ack=AA,trigger=A01}=20' \
  'vigil_hl7_messages_total{ack=AA,trigger=A03}=17' \
  'vigil_hl7_messages_total{ack=AA,trigger=A11}=2' \
  'vigil_hl7_messages_total{ack=AA,trigger=A13}=2' \
  'vigil_hl7_messages_total{ack=AA,trigger=A08}=3' \
  'vigil_hl7_messages_total{ack=AR,trigger=A40}=1' \
  'vigil_hl7_messages_total{ack=AR,trigger=A01}=4' \
  'vigil_hl7_messages_total{ack=AR,trigger=other}=3' \
  'vigil_hl7_connections_total{result=accepted}=6' \
  'vigil_hl7_in_flight=0' 'vigil_hl7_ack_seconds_count=52' 'vigil_ready=1' ||
  fail "metrics"
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$hport/readyz")" = 200 ] ||
  fail "/readyz"
stop L1
grep -q 'stopped: 52 messages (44 AA, 0 AE, 8 AR), 6 connections (0 refused)' "$TMP/L1.log" ||
  fail "L1 summary: $(tail -2 "$TMP/L1.log")"
echo "ok - metrics and summary"

# A sender that pipelines and never reads its ACKs (A08s, answered at
# once) is read no further once 64 KiB of ACKs wait for it: the listener
# answered 3.3 million in 20 s before (and grew by 500 MB); now what the
# sockets' buffers hold. Then it is still served, and closed at the end.
start LN "${LT[@]}"
mllp noread $port 5 > "$TMP/noread" || fail "noread: $(cat "$TMP/noread")"
stop LN
answered=$(sed -n 's/.*connection 1 from .* closed ([^)]*): \([0-9]*\) messages.*/\1/p' "$TMP/LN.log")
[ -n "$answered" ] && [ "$answered" -lt 200000 ] ||
  fail "a sender that reads no ACK: ${answered:-?} messages answered ($(cat "$TMP/noread"))"
echo "ok - a sender that reads no ACK: $answered of its messages answered ($(cat "$TMP/noread"))"

# --- 2. broker down: AE; SIGTERM with a message in flight ---------------------
dead=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
start L2 -b 127.0.0.1:$dead -X "topic.admissions=$S.L.adm" \
  -X "topic.discharges=$S.L.dis" -X hl7.ack_timeout_ms=2000 -X log.level=debug
grep -q 'does not answer' "$TMP/L2.log" || fail "L2: no warning about the broker"
mllp send $port "$M/retry.hl7" AE 207 > "$TMP/acks-ae" || fail "broker down: $(cat "$TMP/acks-ae")"
cat "$TMP/acks-ae"
# in_flight NAME CODE: the in-flight message sent to listener NAME by a
# sender in the background ($cpid, its answer to CODE), queued there.
in_flight() {
  mllp inflight $port "$M/inflight.hl7" "$2" &
  cpid=$!
  pids+=($cpid)
  for _ in $(seq 1 100); do
    grep -q 'MSH-10 I-15-1-A01): A01 queued' "$TMP/$1.log" && break; sleep 0.05
  done
  grep -q 'MSH-10 I-15-1-A01): A01 queued' "$TMP/$1.log" || fail "$1: in-flight message not received"
}
in_flight L2 "$TMP/inflight.code"
t0=$(date +%s%N)
stop L2
t1=$(date +%s%N)
wait $cpid || fail "in-flight sender: $(cat "$TMP/inflight.code")"
[ "$(cat "$TMP/inflight.code")" = AE ] || fail "in-flight message got $(cat "$TMP/inflight.code"), want AE"
grep -q 'stopping (signal): no new connections or messages; 1 event(s) waiting for Kafka' "$TMP/L2.log" ||
  fail "L2 did not wait for the in-flight event"
[ $(( (t1 - t0) / 1000000 )) -lt 9000 ] || fail "L2 took $(( (t1 - t0) / 1000000 )) ms to stop"
echo "ok - broker down: AE for each, SIGTERM in flight answered AE, exit 0 in $(( (t1 - t0) / 1000000 )) ms"

# A second signal stops waiting for Kafka (--help): with a 60 s ack
# timeout, the first SIGTERM waits for the in-flight event's delivery; the
# second, 1 s later, answers it AE and exits 0 at once (the producer's
# flush waits at most 2 s more).
start L2S -b 127.0.0.1:$dead -X "topic.admissions=$S.L.adm" \
  -X "topic.discharges=$S.L.dis" -X hl7.ack_timeout_ms=60000 -X log.level=debug
in_flight L2S "$TMP/inflight2.code"
kill -TERM $pid
sleep 1
kill -0 $pid 2>/dev/null || fail "L2S: exited on the first signal with an event in flight"
grep -q 'not waiting any longer' "$TMP/L2S.log" && fail "L2S: stopped waiting before the second signal"
t0=$(date +%s%N)
kill -TERM $pid
wait $pid || fail "L2S exited $? after the second SIGTERM: $(tail -3 "$TMP/L2S.log")"
t1=$(date +%s%N)
wait $cpid || fail "L2S in-flight sender: $(cat "$TMP/inflight2.code")"
[ "$(cat "$TMP/inflight2.code")" = AE ] || fail "L2S: in-flight message got $(cat "$TMP/inflight2.code"), want AE"
grep -q 'not waiting any longer for 1 delivery report(s): they get AE' "$TMP/L2S.log" ||
  fail "L2S: no warning on the second signal: $(tail -3 "$TMP/L2S.log")"
[ $(( (t1 - t0) / 1000000 )) -lt 5000 ] || fail "L2S took $(( (t1 - t0) / 1000000 )) ms after the second signal"
echo "ok - a second SIGTERM stops waiting for Kafka: AE, exit 0 in $(( (t1 - t0) / 1000000 )) ms"

# --- 3. the broker back: connection limits, the retries succeed ----------------
start L3 "${LT[@]}" -X hl7.max_connections=2 -X hl7.idle_timeout_ms=1500
mllp limits $port 1500 || fail "connection limits"
grep -q 'refused: 2 connections open (hl7.max_connections)' "$TMP/L3.log" || fail "no refusal logged"
grep -q 'closed (idle, hl7.idle_timeout_ms)' "$TMP/L3.log" || fail "no idle close logged"
mllp send $port "$M/retry.hl7" AA > /dev/null || fail "retry"
mllp send $port "$M/inflight.hl7" AA > /dev/null || fail "retry of the in-flight one"
stop L3
echo "ok - max connections, idle timeout, retries AA"

# --- 4. the topics against the JSON path -----------------------------------------
"$VIGIL" convert --from hl7v2 -k "$TMP/key" --mapping "$TMP/map.properties" \
  "$M/story.hl7" "$M/story.hl7" "$M/conc-a.hl7" "$M/conc-b.hl7" \
  "$M/pipeline.hl7" "$M/good.hl7" "$M/retry.hl7" "$M/inflight.hl7" \
  > "$M/expected.jsonl" 2> "$TMP/convert.log" || fail "convert: $(cat "$TMP/convert.log")"
"$VIGIL" convert --from hl7v2 -k "$TMP/key" --mapping "$TMP/map.properties" \
  "$M/retry.hl7" "$M/inflight.hl7" 2>/dev/null |
  "$PY" -c 'import json,sys; [print(json.loads(l)["event_id"]) for l in sys.stdin]' > "$M/retry.ids"
"$VIGIL" produce "${PT[@]}" "$M/expected.jsonl" 2> "$TMP/produce.log" ||
  fail "produce: $(cat "$TMP/produce.log")"
for set in L P; do
  for role in adm dis; do
    kcat -C -b "$B" -t "$S.$set.$role" -e -o beginning -q \
      -f '%p %K %S\n%k%s\n' > "$M/$set.$role.dump"
  done
done
mllp compare "$M" "$VIGIL" || fail "the topics differ from the JSON path"

# --- 5. no personnummer anywhere ---------------------------------------------------
for p in $(cat "$M/pnr.txt"); do
  for f in "$TMP"/*.log "$TMP"/acks* "$TMP/refusals" "$M"/*.dump "$M/expected.jsonl"; do
    if grep -q -e "$p" -e "${p:2}" -e "${p:0:8}-${p:8}" "$f"; then
      fail "a personnummer in $(basename "$f")"
    fi
  done
done
echo "ok - no personnummer in logs, ACKs or topics"
echo "PASS: 0017-hl7-listen"
