#!/usr/bin/env python3
"""metrics_parse.py - checks Vigil's Prometheus text exposition (format 0.0.4)
against the reference: prometheus_client's parser, plus a strict line-level
check of the grammar that parser is too lax to enforce.

    metrics_parse.py FILE

FILE is what `test_metrics --dump FILE` writes: the registry that populate()
in tests/unit/test_metrics.c builds. EXPECTED below lists the same families,
types, help texts, label sets and values: keep the two in step.
Exits 0 when everything round-trips, 1 (with a list of mismatches) if not.
"""
import math
import re
import sys

from prometheus_client.parser import text_string_to_metric_families

INF = math.inf
NAN = math.nan

# family name as prometheus_client reports it (counters lose "_total")
#   -> (type, help, {(sample name, ((label, value), ...)): value})
ODD = 'a\\b"c\nd \u00d6rebro'
EXPECTED = {
    "vigil_events_consumed": ("counter", "Events consumed, by topic.", {
        ("vigil_events_consumed_total", (("topic", "care.admissions.v1"),)): 42,
        ("vigil_events_consumed_total", (("topic", "care.deaths.v1"),)): 7,
        ("vigil_events_consumed_total", (("topic", ODD),)): 1.5,
    }),
    "vigil_restarts": ("counter",
                       'Restarts.\nSecond line, a backslash \\ and "quotes".', {
        ("vigil_restarts_total", ()): 0,
    }),
    "vigil_partition_lag": ("gauge", "Consumer lag.", {
        ("vigil_partition_lag", (("partition", "0"), ("topic", "care.admissions.v1"))): 10,
        ("vigil_partition_lag", (("partition", "1"), ("topic", "care.admissions.v1"))): -3.25,
        ("vigil_partition_lag", (("partition", "0"), ("topic", "care.deaths.v1"))): 0.1,
        ("vigil_partition_lag", (("partition", "1"), ("topic", "care.deaths.v1"))): 1e21,
        ("vigil_partition_lag", (("partition", "0"), ("topic", "care.sip.v1"))): 1.5e-7,
    }),
    "vigil_test_special": ("gauge", "Special values.", {
        ("vigil_test_special", (("case", "nan"),)): NAN,
        ("vigil_test_special", (("case", "pinf"),)): INF,
        ("vigil_test_special", (("case", "ninf"),)): -INF,
        ("vigil_test_special", (("case", ""),)): 5,
    }),
    "vigil_batch_seconds": ("histogram", "Batch duration in seconds.", {}),
    "vigil_apply_seconds": ("histogram", "", {}),
}


def histogram(name, labels, buckets, total, count):
    """Expected samples of one histogram series: buckets = [(le, cumulative)]."""
    out = {}
    for le, n in buckets:
        out[(name + "_bucket", tuple(sorted(labels + (("le", le),))))] = n
    out[(name + "_sum", tuple(sorted(labels)))] = total
    out[(name + "_count", tuple(sorted(labels)))] = count
    return out


EXPECTED["vigil_batch_seconds"][2].update(histogram(
    "vigil_batch_seconds", (("partition", "0"),),
    [("0.005", 2), ("0.01", 2), ("0.1", 3), ("1", 5), ("2.5", 5), ("+Inf", 6)],
    0.001 + 0.005 + 0.05 + 0.5 + 3 + 1, 6))
EXPECTED["vigil_batch_seconds"][2].update(histogram(
    "vigil_batch_seconds", (("partition", "1"),),
    [("0.005", 0), ("0.01", 0), ("0.1", 1), ("1", 1), ("2.5", 1), ("+Inf", 1)],
    0.02, 1))
EXPECTED["vigil_apply_seconds"][2].update(histogram(
    "vigil_apply_seconds", (), [("1", 0), ("+Inf", 0)], 0, 0))

# Registered but never updated: must not appear at all.
ABSENT = ["vigil_unused"]

# -- strict grammar (https://prometheus.io/docs/instrumenting/exposition_formats/)
NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r"[a-zA-Z_][a-zA-Z0-9_]*"
LVALUE = r'"(?:[^"\\\n]|\\[\\"n])*"'
VALUE = r"(?:[+-]?Inf|NaN|[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)"
RE_HELP = re.compile(r"^# HELP (%s)(?: ((?:[^\\\n]|\\[\\n])*))?$" % NAME)
RE_TYPE = re.compile(r"^# TYPE (%s) (counter|gauge|histogram|summary|untyped)$" % NAME)
RE_SAMPLE = re.compile(r"^(%s)(?:\{(%s=%s(?:,%s=%s)*)?\})? (%s)$"
                       % (NAME, LABEL, LVALUE, LABEL, LVALUE, VALUE))
RE_PAIR = re.compile(r"(%s)=(%s)" % (LABEL, LVALUE))
SUFFIXES = {"counter": [""], "gauge": [""], "untyped": [""],
            "histogram": ["_bucket", "_sum", "_count"]}


def unescape(v):
    return re.sub(r'\\([\\"n])', lambda m: "\n" if m.group(1) == "n" else m.group(1), v)


def strict_check(text, errors):
    if not text.endswith("\n"):
        errors.append("text does not end with a newline")
    if "\r" in text:
        errors.append("text contains CR")
    helps, types, series = {}, {}, set()
    family = None
    hist = {}  # (name, labels without le) -> {"buckets": [(le, n)], ...}
    for no, line in enumerate(text.split("\n")[:-1], 1):
        m = RE_HELP.match(line)
        if m:
            if m.group(1) in helps:
                errors.append("line %d: second HELP for %s" % (no, m.group(1)))
            helps[m.group(1)] = no
            family = m.group(1)
            continue
        m = RE_TYPE.match(line)
        if m:
            name, typ = m.groups()
            if name in types:
                errors.append("line %d: second TYPE for %s" % (no, name))
            if helps.get(name) != no - 1:
                errors.append("line %d: TYPE %s not right after its HELP" % (no, name))
            if typ == "counter" and not name.endswith("_total"):
                errors.append("line %d: counter %s not named *_total" % (no, name))
            types[name] = typ
            family = name
            continue
        m = RE_SAMPLE.match(line)
        if not m:
            errors.append("line %d: not valid exposition format: %r" % (no, line))
            continue
        name, labels, value = m.groups()
        pairs = RE_PAIR.findall(labels or "")
        lnames = [p[0] for p in pairs]
        if len(set(lnames)) != len(lnames):
            errors.append("line %d: repeated label" % no)
        if family is None or family not in types:
            errors.append("line %d: sample %s before any TYPE" % (no, name))
            continue
        typ = types[family]
        if name not in [family + s for s in SUFFIXES[typ]]:
            errors.append("line %d: sample %s outside its family %s" % (no, name, family))
            continue
        key = (name, tuple(sorted((k, unescape(v[1:-1])) for k, v in pairs)))
        if key in series:
            errors.append("line %d: duplicate series %s" % (no, line))
        series.add(key)
        if typ == "histogram":
            base = tuple(sorted((k, unescape(v[1:-1])) for k, v in pairs if k != "le"))
            h = hist.setdefault((family, base), {"buckets": []})
            if name.endswith("_bucket"):
                le = [unescape(v[1:-1]) for k, v in pairs if k == "le"]
                if len(le) != 1 or lnames[-1] != "le":
                    errors.append("line %d: bucket without a final le label" % no)
                    continue
                h["buckets"].append((float(le[0]), float(value)))
            else:
                h[name[len(family):]] = float(value)
    for (fam, base), h in hist.items():
        b = h["buckets"]
        where = "%s%s" % (fam, dict(base))
        if not b or b[-1][0] != INF:
            errors.append("%s: no le=\"+Inf\" bucket last" % where)
        if any(b[i][0] >= b[i + 1][0] for i in range(len(b) - 1)):
            errors.append("%s: le bounds not increasing" % where)
        if any(b[i][1] > b[i + 1][1] for i in range(len(b) - 1)):
            errors.append("%s: bucket counts not cumulative" % where)
        if "_sum" not in h or "_count" not in h:
            errors.append("%s: _sum or _count missing" % where)
        elif b and b[-1][1] != h["_count"]:
            errors.append("%s: +Inf bucket %g != _count %g" % (where, b[-1][1], h["_count"]))
    for name in helps:
        if name not in types:
            errors.append("HELP without TYPE for %s" % name)


def same(a, b):
    if isinstance(a, float) and math.isnan(a):
        return isinstance(b, float) and math.isnan(b)
    return a == b and (not isinstance(b, float) or not math.isnan(b))


def roundtrip_check(text, errors):
    got = {}
    for fam in text_string_to_metric_families(text):
        if fam.name in got:
            errors.append("family %s parsed twice" % fam.name)
        samples = {}
        for s in fam.samples:
            key = (s.name, tuple(sorted(s.labels.items())))
            if key in samples:
                errors.append("%s: duplicate sample %s" % (fam.name, key))
            if s.timestamp is not None:
                errors.append("%s: unexpected timestamp" % fam.name)
            samples[key] = s.value
        got[fam.name] = (fam.type, fam.documentation, samples)

    for name in ABSENT:
        if name in got:
            errors.append("family %s should be absent" % name)
    for name in sorted(set(got) - set(EXPECTED) - set(ABSENT)):
        errors.append("unexpected family %s (%s)" % (name, got[name][0]))
    for name, (typ, doc, samples) in EXPECTED.items():
        if name not in got:
            errors.append("family %s missing" % name)
            continue
        gtyp, gdoc, gsamples = got[name]
        if gtyp != typ:
            errors.append("%s: type %s, expected %s" % (name, gtyp, typ))
        if gdoc != doc:
            errors.append("%s: help %r, expected %r" % (name, gdoc, doc))
        for key in sorted(set(samples) | set(gsamples), key=repr):
            if key not in gsamples:
                errors.append("%s: sample %s missing" % (name, key))
            elif key not in samples:
                errors.append("%s: unexpected sample %s = %r" % (name, key, gsamples[key]))
            elif not same(float(samples[key]), gsamples[key]):
                errors.append("%s: sample %s = %r, expected %r"
                              % (name, key, gsamples[key], samples[key]))
    return got


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: metrics_parse.py FILE")
    with open(sys.argv[1], "rb") as f:
        raw = f.read()
    errors = []
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        print("metrics_parse: not UTF-8: %s" % e, file=sys.stderr)
        return 1
    strict_check(text, errors)
    try:
        got = roundtrip_check(text, errors)
    except Exception as e:  # the parser rejected the text
        errors.append("prometheus_client parser failed: %r" % e)
        got = {}
    for e in errors:
        print("metrics_parse: MISMATCH: %s" % e, file=sys.stderr)
    if errors:
        return 1
    print("metrics_parse: %d families, %d samples round-trip"
          % (len(got), sum(len(v[2]) for v in got.values())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
