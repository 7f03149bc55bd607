#!/usr/bin/env bash
# 0020-watermark-metrics: the event-time gauges of a running processor
# (docs/RULES.md §7, docs/RUNBOOK.md §5) against figures computed here in
# Python from the events produced, and /readyz through a backlog.
#   - vigil_topic_time_seconds{topic,partition}: the largest occurred_at of
#     the topic partition's records (the partition of each patient is read
#     back from the broker with kcat, not computed like Vigil does);
#     absent for a topic partition that got none;
#   - vigil_topic_caught_up: 1 for all 5 x 2 topic partitions at the end;
#   - vigil_watermark_seconds{partition}: the largest topic time of the
#     partition once every topic is caught up, and never lower than an
#     earlier scrape (it never moves back);
#   - /readyz: 503 on the first request, while the backlog is being read,
#     and 200 only once at most health.max_lag records wait; 200 at the end.
source "$(dirname "$0")/lib/common.sh"
S=it20.$$.$(date +%s)
topic_args "$S"
"$VIGIL" topics create -p 2 "${T[@]}" >/dev/null
# A backlog of some thousands of events, all valid: no DLQ, no too-late
# (retention wide enough for the whole period).
"$VIGIL" simulate -n 3000 --seed 20 --days 120 --out "$TMP/ev.jsonl" 2>/dev/null
"$VIGIL" produce "${T[@]}" "$TMP/ev.jsonl" 2>"$TMP/produce.log"
sent=$(wc -l < "$TMP/ev.jsonl")
# Each patient's partition as the broker holds it (key = patient_id).
for t in adm dis dea sip reg; do
  kcat -C -b "$VIGIL_BOOTSTRAP" -t "$S.$t" -e -q -f "$t\t%p\t%k\n"
done > "$TMP/keys.tsv"
[ "$(wc -l < "$TMP/keys.tsv")" = "$sent" ] \
  || fail "kcat read $(wc -l < "$TMP/keys.tsv") records, $sent were produced"

max_lag=50
"$VIGIL" process "${T[@]}" -X state.dir="$TMP/state" -X group.id="$S.g" \
  -X http.listen=127.0.0.1:0 -X kafka.statistics.interval.ms=200 \
  -X stream.idle_ms=500 -X health.max_lag=$max_lag \
  -X rules.retention_days=36500 -X batch.max_events=1 \
  --exit-idle 10 2> "$TMP/process.log" &
pid=$!
port=""
for _ in $(seq 1 200); do
  port=$(sed -n 's/.*serving .* (port \([0-9]*\)).*/\1/p' "$TMP/process.log")
  [ -n "$port" ] && break; sleep 0.05
done
[ -n "$port" ] || fail "no HTTP port in the log: $(cat "$TMP/process.log")"

"$PY" - "$port" "$S" "$sent" "$max_lag" "$TMP/ev.jsonl" "$TMP/keys.tsv" <<'PY' \
  || { kill "$pid" 2>/dev/null; fail "watermark metrics (process log: $(tail -3 "$TMP/process.log"))"; }
import calendar, json, sys, time, urllib.error, urllib.request
from prometheus_client.parser import text_string_to_metric_families

port, prefix, sent, max_lag = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
base = "http://127.0.0.1:%s" % port
short = {"admission": "adm", "discharge": "dis", "death": "dea",
         "sip_created": "sip", "register_entry": "reg"}

def get(path):
    try:
        with urllib.request.urlopen(base + path, timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()

def scrape():
    code, text = get("/metrics")
    assert code == 200, "/metrics answered %d" % code
    out = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out.setdefault(s.name, []).append((s.labels, s.value))
    return out

def series(m, name, *keys):
    return {tuple(l[k] for k in keys): v for l, v in m.get(name, [])}

def consumed(m):
    return sum(v for _, v in m.get("vigil_events_consumed_total", []))

# Expected, from the events: the largest occurred_at (ms) per topic partition.
part = {}
for line in open(sys.argv[6]):
    t, p, k = line.rstrip("\n").split("\t")
    part[(t, k)] = int(p)
def ms(ts):  # RFC 3339 UTC, "Z", optional fraction
    assert ts.endswith("Z"), ts
    main, _, frac = ts[:-1].partition(".")
    sec = calendar.timegm(time.strptime(main, "%Y-%m-%dT%H:%M:%S"))
    return sec * 1000 + int((frac + "000")[:3])
topic_max = {}
for line in open(sys.argv[5]):
    ev = json.loads(line)
    t = short[ev["type"]]
    key = ("%s.%s" % (prefix, t), str(part[(t, ev["patient_id"])]))
    topic_max[key] = max(topic_max.get(key, -2**63), ms(ev["occurred_at"]))
wm_want = {}
for (topic, p), v in topic_max.items():
    wm_want[p] = max(wm_want.get(p, -2**63), v)
all_tp = {("%s.%s" % (prefix, t), str(p)) for t in short.values() for p in (0, 1)}

# Follow the processor: /readyz and /metrics until it has caught up.
ready_log = []       # (code, body, consumed right after)
wm_seen = {}         # partition -> last watermark scraped
back = []
first_ready_consumed = None
deadline = time.time() + 180
final = None
while time.time() < deadline:
    code, body = get("/readyz")
    m = scrape()
    c = consumed(m)
    ready_log.append((code, body.strip(), c))
    if code == 200 and first_ready_consumed is None:
        first_ready_consumed = c
    for (p,), v in series(m, "vigil_watermark_seconds", "partition").items():
        if p in wm_seen and v < wm_seen[p]:
            back.append((p, wm_seen[p], v))
        wm_seen[p] = v
    cu = series(m, "vigil_topic_caught_up", "topic", "partition")
    if (code == 200 and c >= sent and set(cu) == all_tp
            and all(v == 1 for v in cu.values())):
        final = m
        break
    time.sleep(0.05)

bad = 0
def check(what, ok, detail=""):
    global bad
    print("%-60s %s %s" % (what, "ok" if ok else "MISMATCH", detail))
    bad += not ok

codes = [r[0] for r in ready_log]
check("first /readyz is 503", codes[0] == 503, "%s %r" % (codes[0], ready_log[0][1]))
lagging = [r for r in ready_log if r[0] == 503 and "health.max_lag" in r[1]]
check("a 503 names the backlog (consumer lag above health.max_lag)",
      len(lagging) > 0, "%d of %d answers" % (len(lagging), len(ready_log)))
check("503 seen while records were still unread",
      any(r[0] == 503 and r[2] < sent - max_lag for r in ready_log))
check("first 200 only once at most max_lag records wait",
      first_ready_consumed is not None and first_ready_consumed >= sent - max_lag,
      "consumed %s of %d" % (first_ready_consumed, sent))
check("caught up within 180 s (200, all consumed, all topics caught up)",
      final is not None, "last /readyz %r" % (ready_log[-1],))
check("watermark never moved back between scrapes", not back, repr(back[:3]))
if final is None:
    sys.exit(1)

tt = series(final, "vigil_topic_time_seconds", "topic", "partition")
for key in sorted(all_tp):
    want = topic_max.get(key)
    got = tt.get(key)
    check("topic time %s[%s]" % key,
          (got is None) if want is None else got == want / 1000.0,
          "got %s want %s" % (got, None if want is None else want / 1000.0))
# The watermark moves to the largest topic time at the first commit after
# every topic has been caught up for stream.idle_ms (a tick, up to a second
# later), which the caught-up gauges above, computed when scraped, do not
# wait for: scraped again for up to 5 s.
wm_final = lambda m: series(m, "vigil_watermark_seconds", "partition")
settle = time.time() + 5
while time.time() < settle and any(
        wm_final(final).get((p,)) != wm_want.get(p, 0) / 1000.0
        for p in ("0", "1")):
    time.sleep(0.1)
    final = scrape()
wm = wm_final(final)
for p in ("0", "1"):
    want = wm_want.get(p)
    got = wm.get((p,))
    check("watermark partition %s = its largest topic time" % p,
          want is not None and got == want / 1000.0,
          "got %s want %s" % (got, None if want is None else want / 1000.0))
check("ready gauge 1", series(final, "vigil_ready").get((), 0) == 1)
check("no DLQ record (every event counts in the topic times)",
      sum(v for _, v in final.get("vigil_events_dlq_total", [])) == 0)
print("events %d, /readyz answers %d (503: %d), first 200 after %s consumed"
      % (sent, len(codes), codes.count(503), first_ready_consumed))
sys.exit(1 if bad else 0)
PY
ready=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/readyz")
[ "$ready" = 200 ] || fail "/readyz answered $ready at the end"
wait $pid || fail "process exited non-zero: $(tail -3 "$TMP/process.log")"
echo PASS
