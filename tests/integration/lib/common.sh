# Sourced by integration tests: broker check, temp dir, unique topics.
set -euo pipefail
if [ -z "${VIGIL_BOOTSTRAP:-}" ]; then
  echo "FAIL: VIGIL_BOOTSTRAP is not set: integration tests need a real Kafka broker." >&2
  echo "Start one with: export VIGIL_BOOTSTRAP=\$(ops/kafka-local start), or run ops/test." >&2
  exit 1
fi
VIGIL_SRC=${VIGIL_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)}
VIGIL=${VIGIL:-$VIGIL_SRC/build/vigil}
PY=${VIGIL_PYTHON:-${VIGIL_CACHE:-$HOME/.cache/vigil}/venv/bin/python}
"$PY" -c 'import fastavro' 2>/dev/null || {
  echo "FAIL: fastavro not available at $PY: run ops/setup.sh" >&2; exit 1; }
TMP=$(mktemp -d)
trap '[ -n "${KEEP_TMP:-}" ] && echo "kept $TMP" >&2 || rm -rf "$TMP"' EXIT
# topic_args PREFIX: -b and -X options naming a fresh set of topics.
topic_args() {
  local s=$1
  T=(-b "$VIGIL_BOOTSTRAP" -X "topic.admissions=$s.adm" -X "topic.discharges=$s.dis"
     -X "topic.deaths=$s.dea" -X "topic.sip=$s.sip" -X "topic.register=$s.reg"
     -X "topic.alerts=$s.alerts"
     -X "topic.indicator_parts=$s.parts" -X "topic.indicators=$s.ind"
     -X "topic.dlq=$s.dlq")
}
fail() { echo "FAIL: $*" >&2; exit 1; }
# File mode's alerts without the aggregator's INDICATOR_BELOW_TARGET (file
# mode writes those too, SPEC §5.5): the reference for what `vigil process`
# alone publishes. FILE is rewritten in place.
processor_alerts() { # FILE
  grep -v '"rule":"INDICATOR_BELOW_TARGET"' "$1" > "$1.p" || true
  mv "$1.p" "$1"
}
# file_reference IN ALERTS INDICATORS: file mode's alerts (as
# processor_alerts leaves them) and indicator values of the JSON Lines IN
# on 2 partitions: what a Kafka-mode run on the same events must end with.
file_reference() {
  "$VIGIL" process --input "$1" --partitions 2 --alerts "$2" \
    --indicators "$3" 2> "$TMP/file-reference.log" \
    || fail "file mode on $1: $(tail -3 "$TMP/file-reference.log")"
  processor_alerts "$2"
}
# wait_log FILE PATTERN SECONDS [FROM-LINE]: until grep finds PATTERN in
# FILE (from line FROM-LINE on), else fail.
wait_log() {
  local i
  for i in $(seq 1 $(($3 * 20))); do
    tail -n "+${4:-1}" "$1" 2>/dev/null | grep -q "$2" && return 0
    sleep 0.05
  done
  fail "no '$2' in $1 within $3 s: $(tail -3 "$1")"
}
