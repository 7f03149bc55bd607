#!/usr/bin/env bash
# The Grafana dashboard (ops/grafana/vigil-dashboard.json) reads only
# Vigil's metrics, each the right way (ops/grafana/check_dashboard.py), and
# every metric it reads is one vigil process or aggregate exports.
set -euo pipefail
SRC=${VIGIL_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
python3 "$SRC/ops/grafana/check_dashboard.py" "$SRC/ops/grafana/vigil-dashboard.json"
for m in $(grep -o 'vigil_[a-z_]*' "$SRC/ops/grafana/vigil-dashboard.json" \
           | sed 's/_\(bucket\|sum\|count\)$//' | sort -u); do
  grep -rq "\"$m\"" "$SRC/consumers" "$SRC/ops/src" \
    || { echo "FAIL: the dashboard reads $m, which nothing exports" >&2; exit 1; }
done
echo "PASS: the dashboard's metrics exist and are read correctly"
