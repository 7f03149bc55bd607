#!/usr/bin/env bash
# test_metrics_parse.sh - Vigil's Prometheus text exposition (vg_metrics)
# against prometheus_client's parser, an independent implementation: the
# registry built by tests/unit/test_metrics.c (populate()) is dumped with
# `test_metrics --dump FILE` and metrics_parse.py checks that every family,
# type, help text, label set and value round-trips, and that every line
# follows the 0.0.4 grammar.
#
# Environment:
#   VIGIL         vigil binary; test_metrics is taken from its build tree,
#                 $(dirname "$VIGIL")/tests/test_metrics (default:
#                 <repo>/build/vigil)
#   VIGIL_SRC     repository root     (default: two levels above this script)
#   VIGIL_PYTHON  Python with prometheus_client (default: the venv
#                 ops/setup.sh makes, ${VIGIL_CACHE:-~/.cache/vigil}/venv/bin/python)
#
# Fails (never skips) when prometheus_client is missing. Registered with
# CTest as interop/test_metrics_parse (labels unit;interop) by
# tests/CMakeLists.txt.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
VIGIL_SRC=${VIGIL_SRC:-$(cd "$here/../.." && pwd)}
VIGIL=${VIGIL:-$VIGIL_SRC/build/vigil}
PY=${VIGIL_PYTHON:-${VIGIL_CACHE:-$HOME/.cache/vigil}/venv/bin/python}
TEST_METRICS=$(dirname "$VIGIL")/tests/test_metrics

fail() { echo "test_metrics_parse: FAIL: $*" >&2; exit 1; }

if ! "$PY" -c 'import prometheus_client.parser' 2>/dev/null; then
  fail "prometheus_client not available: run ops/setup.sh (tried '$PY'; create it with:" \
       "python3 -m venv ~/.cache/vigil/venv &&" \
       "~/.cache/vigil/venv/bin/pip install -r ops/requirements-test.txt, or set VIGIL_PYTHON)"
fi
[ -x "$TEST_METRICS" ] || fail "test_metrics not found: $TEST_METRICS (build the tests or set VIGIL)"

echo "test_metrics_parse: python $PY (prometheus_client" \
     "$("$PY" -c 'from importlib.metadata import version; print(version("prometheus_client"))'))"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$TEST_METRICS" --dump "$tmp/m.txt" || fail "test_metrics --dump failed"
[ -s "$tmp/m.txt" ] || fail "test_metrics --dump wrote nothing"
"$PY" "$here/metrics_parse.py" "$tmp/m.txt" || fail "exposition mismatches (see above)"

echo "test_metrics_parse: PASS"
