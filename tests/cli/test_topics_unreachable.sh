#!/usr/bin/env bash
# Issue 15 (9): `vigil topics check` / `create` with no broker at the
# bootstrap address fail within ~10 s with one clear message, not one
# timeout per topic and every topic reported MISSING.
set -euo pipefail
VIGIL=${VIGIL:-$(cd "$(dirname "$0")/../.." && pwd)/build/vigil}
fail() { echo "FAIL: $*" >&2; exit 1; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
cd "$tmp"; unset VIGIL_CONFIG
# A port nobody listens on: bind one, then let it go.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo 1)
for sub in check create; do
  start=$(date +%s)
  set +e; timeout 40 "$VIGIL" topics "$sub" -b "127.0.0.1:$port" > "$tmp/out" 2> "$tmp/err"; rc=$?; set -e
  took=$(( $(date +%s) - start ))
  [ "$rc" = 1 ] || fail "topics $sub exited $rc, want 1"
  [ "$took" -le 15 ] || fail "topics $sub took ${took}s with the broker down (want ~10 s)"
  grep -q "cannot reach the Kafka cluster at 127.0.0.1:$port" "$tmp/err" \
    || fail "topics $sub: no 'cannot reach' message: $(tail -3 "$tmp/err")"
  ! grep -q MISSING "$tmp/out" || fail "topics $sub reported topics MISSING with the broker down"
done
echo "PASS: topics check/create with the broker down"
