#!/usr/bin/env bash
# `vigil simulate --publish` with no broker at the bootstrap address fails
# as `vigil produce` does: the broker and topics are checked before any
# event is made, "cannot reach the Kafka broker at ..." and exit 1 within
# ~10 s (before: every event waited out message.timeout.ms, 300 s). And
# SIGTERM stops it at once (before: it went on waiting for delivery).
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

# SIGTERM soon after the start: gone within a few seconds, exit non-zero.
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
[ "$rc" != 0 ] || fail "simulate --publish exited 0 after SIGTERM"
echo "PASS: simulate --publish with the broker down"
