#!/usr/bin/env bash
# test_hl7.sh - `vigil convert --from hl7v2` against python-hl7 (the PyPI
# "hl7" package), an independent HL7 v2 implementation: the messages of a
# small care story are built with it, converted by vigil, and the events
# checked against the story and against what hl7.parse reads from the same
# messages; `vigil process --input` must accept the events
# (tests/interop/hl7_story.py, docs/HOSPITAL.md).
#
# Environment:
#   VIGIL         vigil binary        (default: <repo>/build/vigil)
#   VIGIL_SRC     repository root     (default: two levels above this script)
#   VIGIL_PYTHON  Python with hl7     (default: the venv ops/setup.sh makes,
#                 ${VIGIL_CACHE:-~/.cache/vigil}/venv/bin/python)
#
# Fails (never skips) when hl7 is missing. Registered with CTest as
# interop/test_hl7 (labels unit;interop) by tests/CMakeLists.txt.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
VIGIL_SRC=${VIGIL_SRC:-$(cd "$here/../.." && pwd)}
VIGIL=${VIGIL:-$VIGIL_SRC/build/vigil}
PY=${VIGIL_PYTHON:-${VIGIL_CACHE:-$HOME/.cache/vigil}/venv/bin/python}

fail() { echo "test_hl7: FAIL: $*" >&2; exit 1; }

if ! "$PY" -c 'import hl7' 2>/dev/null; then
  fail "python-hl7 not available: run ops/setup.sh (tried '$PY'; create it with:" \
       "python3 -m venv ~/.cache/vigil/venv &&" \
       "~/.cache/vigil/venv/bin/pip install -r ops/requirements-test.txt, or set VIGIL_PYTHON)"
fi
[ -x "$VIGIL" ] || fail "vigil binary not found: $VIGIL (build it or set VIGIL)"

echo "test_hl7: python $PY (hl7 $("$PY" -c 'import hl7; print(hl7.get_version())'))"
"$PY" "$here/hl7_story.py" --vigil "$VIGIL" || fail "mismatches (see above)"
echo "test_hl7: PASS"
