#!/usr/bin/env bash
# `vigil simulate --publish` with no broker at the bootstrap address fails
# as `vigil produce` does: the broker and topics are checked before any
# event is made, "cannot reach the Kafka broker at ..." and exit 1 within
# ~10 s (before: every event waited out message.timeout.ms, 300 s). And
# SIGTERM during that check stops it at once (before: it went on waiting
# for delivery). A signal while events are being delivered to a live
# broker is not tested here: it needs a broker that stops answering.
# No broker needed; about 12 s.
set -euo pipefail
VIGIL=${VIGIL:-$(cd "$(dirname "$0")/../.." && pwd)/build/vigil}
TMP=$(mktemp -d)
pid=
trap '[ -z "$pid" ] || kill -KILL "$pid" 2>/dev/null || true; rm -rf "$TMP"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
cd "$TMP"; unset VIGIL_CONFIG
bs=127.0.0.1:1 # nobody listens on port 1

start=$(date +%s)
set +e
timeout -k 1 20 "$VIGIL" simulate -n 10 --publish -b "$bs" > out 2> err; rc=$?
set -e
took=$(( $(date +%s) - start ))
[ "$rc" = 1 ] || fail "simulate --publish, broker down: exit $rc, want 1 (124: still running after 20 s, SIGTERM ignored): $(tail -2 err)"
[ "$took" -le 15 ] || fail "simulate --publish took ${took}s with the broker down (want ~10 s)"
grep -q "vigil simulate: cannot reach the Kafka broker at $bs" err \
  || fail "no 'cannot reach the Kafka broker' message: $(tail -2 err)"
! grep -q "not delivered" err || fail "events were made with the broker down: $(tail -2 err)"

# SIGTERM soon after the start (the broker check): gone within a few
# seconds, by the signal (143) or after a message (1), never 0.
"$VIGIL" simulate -n 100000 --rate 100 --publish -b "$bs" > out 2> err &
pid=$!
sleep 2
kill -TERM "$pid"
for _ in $(seq 50); do
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
if kill -0 "$pid" 2>/dev/null; then
  fail "simulate --publish still running 5 s after SIGTERM: $(tail -2 err)"
fi
set +e; wait "$pid"; rc=$?; set -e
pid=
[ "$rc" = 143 ] || [ "$rc" = 1 ] ||
  fail "simulate --publish after SIGTERM: exit $rc, want 143 or 1"
echo "PASS: simulate --publish with the broker down"
