#!/usr/bin/env bash
# test_fastavro.sh - Vigil's wire format (Avro single-object encoding) against
# fastavro, an independent Avro implementation, in both directions; plus
# `vigil codec schemas` against fastavro's canonical forms and fingerprints,
# and tests/data/vigil-schema-vectors.txt against the current schemas.
#
# Environment:
#   VIGIL         vigil binary        (default: <repo>/build/vigil)
#   VIGIL_SRC     repository root     (default: two levels above this script)
#   VIGIL_PYTHON  Python with fastavro (default: the venv ops/setup.sh makes,
#                 ${VIGIL_CACHE:-~/.cache/vigil}/venv/bin/python)
#
# Fails (never skips) when fastavro is missing. Registered with CTest as
# interop/test_fastavro (labels unit;interop) by tests/CMakeLists.txt.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
VIGIL_SRC=${VIGIL_SRC:-$(cd "$here/../.." && pwd)}
VIGIL=${VIGIL:-$VIGIL_SRC/build/vigil}
PY=${VIGIL_PYTHON:-${VIGIL_CACHE:-$HOME/.cache/vigil}/venv/bin/python}
export VIGIL VIGIL_SRC

fail() { echo "test_fastavro: FAIL: $*" >&2; exit 1; }

if ! "$PY" -c 'import fastavro' 2>/dev/null; then
  fail "fastavro not available: run ops/setup.sh (tried '$PY'; create it with:" \
       "python3 -m venv ~/.cache/vigil/venv &&" \
       "~/.cache/vigil/venv/bin/pip install -r ops/requirements-test.txt, or set VIGIL_PYTHON)"
fi
[ -x "$VIGIL" ] || fail "vigil binary not found: $VIGIL (build it or set VIGIL)"

echo "test_fastavro: python $PY (fastavro $("$PY" -c 'import fastavro; print(fastavro.__version__)'))"

# The committed vectors must match the schemas they claim to describe.
"$PY" "$here/gen_vectors.py" --check || fail "tests/data/vigil-schema-vectors.txt is stale"

"$PY" "$here/interop.py" --vigil "$VIGIL" --src "$VIGIL_SRC" || fail "interop mismatches (see above)"

echo "test_fastavro: PASS"
