#!/usr/bin/env python3
"""compare.py - check what `vigil produce` published against its input.

Usage: compare.py EXPECTED.jsonl KEYFILE DUMP.tsv PARTITIONS

EXPECTED.jsonl  the events that must be on the topics (SPEC §9 JSON Lines,
                blank lines ignored); a "personnummer" member stands for
                patient_id = hex(HMAC-SHA256(key, normalised personnummer)),
                computed here with Python's hmac, independently of Vigil.
KEYFILE         the pseudonym key file (its bytes minus one trailing newline).
DUMP.tsv        every message of the four topics, one per line:
                ROLE <TAB> PARTITION <TAB> KAFKA KEY <TAB> decoded JSON
                (ROLE: admissions, discharges, deaths, sip or register;
                JSON from
                `vigil codec decode --raw`).
PARTITIONS      partition count of every topic.

Checks, field by field: every expected event is there exactly once, on the
topic of its type, keyed by its patient_id, with every field equal (instants
compared as instants; a missing optional equals null; a field added in
version 2 with a default, missing from the input, equals its default:
residence UNKNOWN on an admission or a death); nothing else is there;
every message is in the partition Kafka's murmur2 partitioner (Java client
default, implemented here) gives its key, so all events of a patient share a
partition number (co-partitioning, SPEC §2). Never prints a personnummer.
Exit 0 if all match, 1 otherwise.
"""
import datetime
import hashlib
import hmac
import json
import sys

ROLE_OF_TYPE = {"admission": "admissions", "discharge": "discharges",
                "death": "deaths", "sip_created": "sip",
                "register_entry": "register"}
OPTIONAL = {"cancels_event_id"}
# Fields with a schema default, by type (SPEC §3, version 2).
DEFAULTS = {"admission": {"residence": "UNKNOWN"},
            "death": {"residence": "UNKNOWN"}}
INSTANTS = {"occurred_at", "death_at"}

# The test's personnummer spellings, normalised by hand (YYYYMMDDXXXX).
NORMALISED = {"19811218-9876": "198112189876", "811218-9876": "198112189876",
              "198112189876": "198112189876", "8112189876": "198112189876"}


def murmur2_partition(key, cnt):
    """Kafka's DefaultPartitioner: toPositive(murmur2(key)) % cnt."""
    m, r, mask = 0x5bd1e995, 24, 0xffffffff
    n = len(key)
    h = (0x9747b28c ^ n) & mask
    for i in range(n // 4):
        k = int.from_bytes(key[4 * i:4 * i + 4], "little")
        k = (k * m) & mask
        k ^= k >> r
        k = (k * m) & mask
        h = (h * m) & mask
        h ^= k
    tail = key[n & ~3:]
    if len(tail) >= 3:
        h ^= tail[2] << 16
    if len(tail) >= 2:
        h ^= tail[1] << 8
    if len(tail) >= 1:
        h ^= tail[0]
        h = (h * m) & mask
    h ^= h >> 13
    h = (h * m) & mask
    h ^= h >> 15
    return (h & 0x7fffffff) % cnt


def instant(v):
    """occurred_at (RFC 3339 string or epoch ms) -> epoch ms."""
    if isinstance(v, int):
        return v
    s = v.replace("Z", "+00:00")
    return round(datetime.datetime.fromisoformat(s).timestamp() * 1000)


def main():
    exp_path, key_path, dump_path = sys.argv[1:4]
    partitions = int(sys.argv[4])
    key = open(key_path, "rb").read()
    if key.endswith(b"\r\n"):
        key = key[:-2]
    elif key.endswith(b"\n"):
        key = key[:-1]

    expected = {}
    for line in open(exp_path, encoding="utf-8"):
        if not line.strip():
            continue
        ev = json.loads(line)
        if "personnummer" in ev:
            pnr = ev.pop("personnummer")
            ev["patient_id"] = hmac.new(key, NORMALISED[pnr].encode(),
                                        hashlib.sha256).hexdigest()
        for f, v in DEFAULTS.get(ev["type"], {}).items():
            ev.setdefault(f, v)
        expected[ev["event_id"]] = ev

    errors = []
    seen = set()
    for n, line in enumerate(open(dump_path, encoding="utf-8"), 1):
        role, partition, kkey, js = line.rstrip("\n").split("\t", 3)
        got = json.loads(js)
        eid = got.get("event_id")
        where = "message %d (%s, event %s)" % (n, role, eid)
        want_p = murmur2_partition(kkey.encode(), partitions)
        if int(partition) != want_p:
            errors.append("%s: key %s in partition %s, murmur2 gives %d"
                          % (where, kkey, partition, want_p))
        if eid not in expected:
            errors.append("%s: not expected" % where)
            continue
        if eid in seen:
            errors.append("%s: published twice" % where)
            continue
        seen.add(eid)
        want = expected[eid]
        if role != ROLE_OF_TYPE[want["type"]]:
            errors.append("%s: on the %s topic, expected %s"
                          % (where, role, ROLE_OF_TYPE[want["type"]]))
        if kkey != want["patient_id"]:
            errors.append("%s: Kafka key %s, expected patient_id %s"
                          % (where, kkey, want["patient_id"]))
        for field in sorted(set(want) | set(got)):
            w, g = want.get(field), got.get(field)
            if field not in want and field not in OPTIONAL:
                errors.append("%s: unexpected field %s" % (where, field))
                continue
            if field in INSTANTS and g is not None and w is not None:
                w, g = instant(w), instant(g)
            if w != g:
                errors.append("%s: %s = %s, expected %s"
                              % (where, field, json.dumps(g), json.dumps(w)))
    for eid in sorted(set(expected) - seen):
        errors.append("event %s: not published" % eid)

    for e in errors:
        print("compare: " + e, file=sys.stderr)
    print("compare: %d expected, %d found, %d error(s)"
          % (len(expected), len(seen), len(errors)), file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
