#!/usr/bin/env bash
# One process per state.dir (issue 15): a second vigil process on the same
# state.dir stops at once with a clear error naming the holder, instead of
# fighting over the files ("database is locked"); the aggregator has a lock
# of its own, so it may share the directory. No broker needed: the first
# process waits for an unreachable one.
set -euo pipefail
VIGIL=${VIGIL:-$(cd "$(dirname "$0")/../.." && pwd)/build/vigil}
TMP=$(mktemp -d); trap 'kill $p1 $p2 2>/dev/null || true; rm -rf "$TMP"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
B=(-b 127.0.0.1:1 -X kafka.socket.connection.setup.timeout.ms=30000)
"$VIGIL" process "${B[@]}" -X state.dir="$TMP/s" 2> "$TMP/p1.log" & p1=$!
"$VIGIL" aggregate "${B[@]}" -X state.dir="$TMP/s" 2> "$TMP/a1.log" & p2=$!
for _ in $(seq 1 50); do [ -s "$TMP/s/process.lock" ] && [ -s "$TMP/s/aggregate.lock" ] && break; sleep 0.1; done
[ -s "$TMP/s/process.lock" ] || fail "no process.lock: $(cat "$TMP/p1.log")"
set +e
timeout 10 "$VIGIL" process "${B[@]}" -X state.dir="$TMP/s" 2> "$TMP/p2.log"; rc=$?
set -e
[ "$rc" = 1 ] || fail "second processor exited $rc: $(cat "$TMP/p2.log")"
grep -q "state.dir $TMP/s is in use by another vigil process (pid $p1)" "$TMP/p2.log" \
  || fail "unclear message: $(cat "$TMP/p2.log")"
kill -0 $p2 2>/dev/null || fail "the aggregator could not share the directory: $(cat "$TMP/a1.log")"
kill -9 $p1; wait $p1 2>/dev/null || true
# A killed holder releases the lock (the kernel does): a new one starts.
"$VIGIL" process "${B[@]}" -X state.dir="$TMP/s" 2> "$TMP/p3.log" & p1=$!
sleep 1
if grep -q "in use" "$TMP/p3.log"; then fail "lock not released by kill -9"; fi
echo "PASS: a second processor on one state.dir is refused; kill -9 releases the lock"
