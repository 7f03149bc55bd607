#!/usr/bin/env bash
# test_fhir.sh - `vigil convert --from fhir` against fhir.resources (PyPI),
# an independent FHIR R4 implementation: the resources of a small care
# story are built and validated with it, converted by vigil, and the events
# checked against the story; `vigil process --input` must accept them and
# honour entered-in-error before and after its target; invalid resources
# get clear errors and exit 3 (tests/interop/fhir_story.py,
# docs/HOSPITAL.md).
#
# Environment:
#   VIGIL         vigil binary        (default: <repo>/build/vigil)
#   VIGIL_SRC     repository root     (default: two levels above this script)
#   VIGIL_PYTHON  Python with fhir.resources (default: the venv ops/setup.sh
#                 makes, ${VIGIL_CACHE:-~/.cache/vigil}/venv/bin/python)
#
# Fails (never skips) when fhir.resources is missing. Registered with CTest
# as interop/test_fhir (labels unit;interop) by tests/CMakeLists.txt.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
VIGIL_SRC=${VIGIL_SRC:-$(cd "$here/../.." && pwd)}
VIGIL=${VIGIL:-$VIGIL_SRC/build/vigil}
PY=${VIGIL_PYTHON:-${VIGIL_CACHE:-$HOME/.cache/vigil}/venv/bin/python}

fail() { echo "test_fhir: FAIL: $*" >&2; exit 1; }

if ! "$PY" -c 'import fhir.resources.encounter' 2>/dev/null; then
  fail "fhir.resources not available: run ops/setup.sh (tried '$PY'; create it with:" \
       "python3 -m venv ~/.cache/vigil/venv &&" \
       "~/.cache/vigil/venv/bin/pip install -r ops/requirements-test.txt, or set VIGIL_PYTHON)"
fi
[ -x "$VIGIL" ] || fail "vigil binary not found: $VIGIL (build it or set VIGIL)"

echo "test_fhir: python $PY (fhir.resources $("$PY" -c 'import fhir.resources as f; print(f.__version__, "FHIR", f.__fhir_version__)'))"
"$PY" "$here/fhir_story.py" --vigil "$VIGIL" || fail "mismatches (see above)"
echo "test_fhir: PASS"
