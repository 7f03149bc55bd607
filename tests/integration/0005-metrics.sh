#!/usr/bin/env bash
# 0005-metrics: /metrics of a running processor parses with prometheus_client
# (the reference Python parser) and its counters match the records sent;
# /healthz and /readyz answer.
source "$(dirname "$0")/lib/common.sh"
S=it5.$$.$(date +%s)
topic_args "$S"
"$VIGIL" topics create -p 2 "${T[@]}" >/dev/null
"$VIGIL" simulate -n 60 --seed 5 --dup-rate 0.05 --out "$TMP/ev.jsonl" 2>/dev/null
"$VIGIL" produce "${T[@]}" "$TMP/ev.jsonl" 2>"$TMP/produce.log"
sent=$(wc -l < "$TMP/ev.jsonl")
printf 'garbage' | kcat -P -b "$VIGIL_BOOTSTRAP" -t "$S.sip" -k k1
printf 'more garbage' | kcat -P -b "$VIGIL_BOOTSTRAP" -t "$S.adm" -k k2

"$VIGIL" process "${T[@]}" -X state.dir="$TMP/state" -X group.id="$S.g" \
  -X http.listen=127.0.0.1:0 -X kafka.statistics.interval.ms=500 \
  -X stream.idle_ms=500 \
  --exit-idle 8 2> "$TMP/process.log" &
pid=$!
port=""
for _ in $(seq 1 100); do
  port=$(sed -n 's/.*serving .* (port \([0-9]*\)).*/\1/p' "$TMP/process.log")
  [ -n "$port" ] && break; sleep 0.1
done
[ -n "$port" ] || fail "no HTTP port in the log: $(cat "$TMP/process.log")"
curl -fsS "http://127.0.0.1:$port/healthz" | grep -qx ok || fail "/healthz"
# Wait until every record is consumed and counted.
for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$port/metrics" > "$TMP/metrics.txt"
  got=$(awk '/^vigil_events_consumed_total/ {s += $2} END {print s + 0}' "$TMP/metrics.txt")
  [ "$got" -ge $((sent + 2)) ] && break; sleep 0.2
done
# Expected figures from file mode on the same events.
"$VIGIL" process --input "$TMP/ev.jsonl" --partitions 2 --alerts "$TMP/alerts.jsonl" \
  --indicators /dev/null 2>/dev/null
processor_alerts "$TMP/alerts.jsonl"
active=$(grep -c '"status":"ACTIVE"' "$TMP/alerts.jsonl" || true)
# The alerts are counted once published (their Kafka transaction, after
# the records are counted: seconds on a busy machine), and the lag gauge
# needs the statistics (every 500 ms): until file mode's ACTIVE alerts
# are counted, at least 2 s.
sleep 2
for _ in $(seq 1 150); do
  curl -fsS "http://127.0.0.1:$port/metrics" > "$TMP/metrics.txt"
  got=$(awk '/^vigil_alerts_emitted_total\{.*status="ACTIVE"/ {s += $2} END {print s + 0}' "$TMP/metrics.txt")
  [ "$got" -ge "$active" ] && break; sleep 0.2
done
ready=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/readyz")
wait $pid || fail "process exited non-zero: $(tail -3 "$TMP/process.log")"
[ "$ready" = 200 ] || fail "/readyz answered $ready after catching up"
"$PY" - "$TMP/metrics.txt" "$sent" "$TMP/alerts.jsonl" "$TMP/ev.jsonl" <<'PY'
import json, sys
from prometheus_client.parser import text_string_to_metric_families
text = open(sys.argv[1]).read()
sent = int(sys.argv[2])
fam = {f.name: f for f in text_string_to_metric_families(text)}
def total(name, **labels):
    if name not in fam: # (none counted yet: 0, a MISMATCH below)
        return 0
    return sum(s.value for s in fam[name].samples
               if s.name in (name, name + "_total") and all(s.labels.get(k) == v for k, v in labels.items()))
evs = [json.loads(l) for l in open(sys.argv[4])]
ids = [e["event_id"] for e in evs]
dups = len(ids) - len(set(ids))
alerts = [json.loads(l) for l in open(sys.argv[3])]
checks = [
    ("consumed", total("vigil_events_consumed", ), sent + 2),
    ("processed", total("vigil_events_processed"), sent),
    ("duplicates", total("vigil_events_duplicate"), dups),
    ("dlq bad-header", total("vigil_events_dlq", reason="bad-header"), 2),
    ("ACTIVE alerts emitted >= final ACTIVE",
     total("vigil_alerts_emitted", status="ACTIVE") >= sum(a["status"] == "ACTIVE" for a in alerts), True),
    ("rebalances", total("vigil_rebalances") >= 1, True),
    ("assigned", total("vigil_assigned_partitions"), 10),  # 5 topics x 2
    # every patient, in memory (the default cache holds them all)
    ("patients in memory", total("vigil_state_patients_in_memory"),
     len({e["patient_id"] for e in evs})),
    ("ready", total("vigil_ready"), 1),
    ("lag gauge present", "vigil_consumer_lag" in fam, True),
    ("latency histogram count",
     [s.value for s in fam["vigil_processing_latency_seconds"].samples if s.name.endswith("_count")][0], sent + 2),
]
bad = 0
for name, got, want in checks:
    ok = got == want
    print("%-40s got %-8s want %-8s %s" % (name, got, want, "ok" if ok else "MISMATCH"))
    bad += not ok
sys.exit(1 if bad else 0)
PY
echo PASS
