#!/usr/bin/env bash
# docs/CONFIGURATION.md is generated from the configuration table: it must be
# exactly what `vigil config --doc` prints (regenerate it if this fails).
set -euo pipefail
VIGIL_SRC=${VIGIL_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
VIGIL=${VIGIL:-$VIGIL_SRC/build/vigil}
if ! diff -u "$VIGIL_SRC/docs/CONFIGURATION.md" <("$VIGIL" config --doc); then
  echo "FAIL: docs/CONFIGURATION.md is stale: run 'build/vigil config --doc > docs/CONFIGURATION.md'" >&2
  exit 1
fi
echo "PASS: docs/CONFIGURATION.md is current"
