"""Reads Vigil topics with kcat and decodes them with fastavro.

An independent decoder for integration tests: kcat fetches the bytes, fastavro
(not Vigil's codec) decodes the Avro single-object encoding.
"""
import io
import json
import os
import struct
import subprocess
import sys

from fastavro import parse_schema, schemaless_reader
from fastavro.schema import fingerprint, to_parsing_canonical_form

SRC = os.environ.get("VIGIL_SRC", os.path.join(os.path.dirname(__file__), "../../.."))


def load_schemas():
    """fingerprint (int, little-endian bytes as on the wire) -> parsed schema"""
    out = {}
    d = os.path.join(SRC, "schemas")
    for f in sorted(os.listdir(d)):
        if not f.endswith(".avsc"):
            continue
        with open(os.path.join(d, f)) as fp:
            raw = json.load(fp)
        parsed = parse_schema(raw)
        fp_hex = fingerprint(to_parsing_canonical_form(parsed), "CRC-64-AVRO")
        out[bytes.fromhex(fp_hex)] = (raw["name"], parsed)
    return out


SCHEMAS = load_schemas()


def read_topic(bootstrap, topic):
    """Every (key, value-record, headers) of topic, in partition/offset order."""
    fmt = "%p:%o:%K:%k%S:%s"
    p = subprocess.run(
        ["kcat", "-C", "-b", bootstrap, "-t", topic, "-e", "-o", "beginning",
         "-q", "-f", fmt],
        check=True, stdout=subprocess.PIPE)
    data = p.stdout
    i = 0
    out = []

    def num(i):
        j = data.index(b":", i)
        return int(data[i:j]), j + 1

    while i < len(data):
        part, i = num(i)
        off, i = num(i)
        klen, i = num(i)
        key = data[i:i + klen] if klen >= 0 else None
        i += max(klen, 0)
        vlen, i = num(i)
        val = data[i:i + vlen] if vlen >= 0 else None  # -1: tombstone
        i += max(vlen, 0)
        out.append((part, off, key.decode() if key is not None else None, val))
    return out


def decode(val):
    if len(val) < 10 or val[0:2] != b"\xc3\x01":
        raise ValueError("not single-object encoded")
    name, schema = SCHEMAS[val[2:10]]
    bio = io.BytesIO(val[10:])
    rec = schemaless_reader(bio, schema)
    if bio.tell() != len(val) - 10:
        raise ValueError("trailing bytes")
    return name, rec


def latest_alerts(bootstrap, topic):
    """alert_id -> last alert record (dict)."""
    res = {}
    for part, off, key, val in read_topic(bootstrap, topic):
        name, rec = decode(val)
        assert name == "Alert", name
        assert key == rec["alert_id"], (key, rec["alert_id"])
        res[rec["alert_id"]] = rec
    return res


def indicator_totals(bootstrap, topic):
    """(indicator, area, period) -> (num, den or None), from the latest part
    of every (key, partition)."""
    latest = {}
    for part, off, key, val in read_topic(bootstrap, topic):
        name, rec = decode(val)
        if name == "PartitionProgress":
            # one copy per parts partition: "_progress|P|K"
            assert key.startswith("_progress|%d|" % rec["partition"]), key
            continue
        assert name == "IndicatorPart", name
        k = "%s|%s|%s|%s|%d" % (rec["indicator"], rec["area"], rec["period"],
                                rec["breakdown"], rec["partition"])
        assert key == k, (key, k)
        if rec["breakdown"] != "all":
            continue
        latest[k] = rec
    tot = {}
    for rec in latest.values():
        c = (rec["indicator"], rec["area"], rec["period"])
        n, d = tot.get(c, (0, None))
        n += rec["numerator"]
        if rec["denominator"] is not None:
            d = (d or 0) + rec["denominator"]
        tot[c] = (n, d)
    return {c: v for c, v in tot.items()
            if (v[1] is None and v[0] > 0) or (v[1] is not None and v[1] > 0)}


def partition_progress(bootstrap, topic):
    """partition -> the latest PartitionProgress record of the parts topic."""
    res = {}
    for part, off, key, val in read_topic(bootstrap, topic):
        name, rec = decode(val)
        if name == "PartitionProgress":
            res[rec["partition"]] = rec
    return res


def indicator_values(bootstrap, topic, full=False):
    """(indicator, area, period) -> (num, den or None) [full: + complete,
    history_complete, data_since as RFC 3339 or None]: the latest
    IndicatorValue per key of the compacted indicators topic (breakdown
    all), rows with a denominator (for counts: a count) above zero."""
    latest = {}
    for part, off, key, val in read_topic(bootstrap, topic):
        if val is None:  # tombstone: no row
            parts = key.split("|")
            if len(parts) < 4 or parts[3] == "all":
                latest.pop(tuple(parts[:3]), None)
            continue
        name, rec = decode(val)
        assert name == "IndicatorValue", name
        k = (rec["indicator"], rec["area"], rec["period"])
        assert key == "|".join(k + (rec["breakdown"],)), (key, k)
        if rec["breakdown"] != "all":
            continue
        v = (rec["numerator"], rec["denominator"])
        if full:
            ds = rec["data_since"]
            if ds is not None and not isinstance(ds, int):
                ds = int(ds.timestamp() * 1000)
            v += (rec["complete"], rec["history_complete"], ds)
        latest[k] = v
    return {c: v for c, v in latest.items()
            if (v[1] is None and v[0] > 0) or (v[1] is not None and v[1] > 0)}


def alert_churn(bootstrap, topic):
    """How many alerts were raised ACTIVE and later RETRACTED: every record
    of one alert_id is in one partition (the key), in order."""
    state, churn = {}, 0
    for part, off, key, val in read_topic(bootstrap, topic):
        if val is None:
            continue
        name, rec = decode(val)
        if rec["status"] == "ACTIVE":
            state[key] = True
        elif state.get(key):
            churn += 1
            state[key] = False
    return churn


def dlq_reasons(bootstrap, topic):
    """reason -> count, from the vigil.reason header of every DLQ record."""
    p = subprocess.run(
        ["kcat", "-C", "-b", bootstrap, "-t", topic, "-e", "-o", "beginning",
         "-q", "-f", "%h\\n"], check=True, stdout=subprocess.PIPE)
    res = {}
    for line in p.stdout.decode(errors="replace").splitlines():
        for h in line.split(","):
            if h.startswith("vigil.reason="):
                r = h.split("=", 1)[1]
                res[r] = res.get(r, 0) + 1
    return res
