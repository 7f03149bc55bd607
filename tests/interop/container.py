"""Writes JSON Lines care events as an Avro object container file with
fastavro (an independent Avro implementation): schema = the union of the
five event schemas in schemas/, records with timestamp-millis as datetimes."""
import datetime
import json
import os
import sys

from fastavro import parse_schema, writer

src, jsonl, out = sys.argv[1:4]
names = {"admission": "Admission", "discharge": "Discharge",
         "death": "Death", "sip_created": "SipCreated",
         "register_entry": "RegisterEntry"}
schemas = []
named = {}
for t, n in names.items():
    with open(os.path.join(src, "schemas", n + ".avsc")) as fp:
        schemas.append(json.load(fp))
# Named enums are defined once per file; in one union each name may be
# defined only once, so later uses refer to the first definition by name.
seen = set()


def dedupe(s):
    if isinstance(s, dict):
        if s.get("type") == "enum":
            full = "se.vigil.care." + s["name"]
            if full in seen:
                return full
            seen.add(full)
        return {k: dedupe(v) for k, v in s.items()}
    if isinstance(s, list):
        return [dedupe(x) for x in s]
    return s


union = parse_schema([dedupe(s) for s in schemas])
recs = []
with open(jsonl) as fp:
    for line in fp:
        e = json.loads(line)
        t = e.pop("type")
        for f in ("occurred_at", "death_at"):
            if f not in e:
                continue
            ts = e[f]
            if isinstance(ts, str):
                ts = datetime.datetime.fromisoformat(ts.replace("Z", "+00:00"))
            else:
                ts = datetime.datetime.fromtimestamp(ts / 1000,
                                                     datetime.timezone.utc)
            e[f] = ts
        recs.append(("se.vigil.care." + names[t], e))
with open(out, "wb") as fp:
    writer(fp, union, recs, codec="deflate")
print("wrote %d records" % len(recs))
