"""Compares JSON Lines events with what the five input topics hold, decoded
by fastavro: same count per topic, and every event field by field (keyed by
event_id + content, since duplicates are identical re-sends)."""
import collections
import datetime
import json
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
import topics  # noqa: E402

bootstrap, prefix, jsonl = sys.argv[1:4]
names = {"admission": "adm", "discharge": "dis", "death": "dea",
         "sip_created": "sip", "register_entry": "reg"}
TIMES = ("occurred_at", "death_at")
want = collections.defaultdict(collections.Counter)
for line in open(jsonl):
    e = json.loads(line)
    t = e.pop("type")
    for f in TIMES:
        if f in e:
            dt = datetime.datetime.fromisoformat(e[f].replace("Z", "+00:00"))
            e[f] = int(round(dt.timestamp() * 1000))
    want[names[t]][json.dumps(e, sort_keys=True)] += 1
bad = 0
total = 0
for short in names.values():
    got = collections.Counter()
    for part, off, key, val in topics.read_topic(bootstrap, "%s.%s" % (prefix, short)):
        name, rec = topics.decode(val)
        for f in TIMES:
            if f in rec:
                rec[f] = int(round(rec[f].timestamp() * 1000))
        if key != rec["patient_id"]:
            print("key %s is not patient_id %s" % (key, rec["patient_id"]))
            bad += 1
        got[json.dumps(rec, sort_keys=True)] += 1
    total += sum(got.values())
    if got != want[short]:
        missing = want[short] - got
        extra = got - want[short]
        bad += 1
        print("%s: %d events, want %d; missing %s; extra %s" % (
            short, sum(got.values()), sum(want[short].values()),
            list(missing)[:2], list(extra)[:2]))
print("compared %d events in %d topics (%s): %s" % (
    total, len(names), ", ".join("%s %d" % (s, sum(want[s].values()))
                                 for s in names.values()),
    "ok" if not bad else "MISMATCH"))
sys.exit(1 if bad or total == 0 else 0)
