#!/usr/bin/env python3
"""interop.py - Vigil's Kafka wire format against fastavro, both ways.

The wire format is Avro single-object encoding: C3 01, the 8-byte
little-endian CRC-64-AVRO fingerprint of the writer schema's Parsing Canonical
Form, then the Avro binary body. fastavro is the reference; Vigil is driven
through `vigil codec`:

  schemas   `vigil codec schemas` lists, for every schemas/*.avsc, the same
            canonical form and fingerprint as fastavro computes.
  fastavro -> Vigil
            records encoded by fastavro.schemaless_writer with the parsed
            .avsc, framed with C3 01 + fastavro's fingerprint, decoded by
            `vigil codec decode`; the JSON is compared field by field (key
            order, types, values; times as RFC 3339 strings).
  Vigil -> fastavro
            the same records as JSON Lines through `vigil codec encode`; each
            hex line must have the magic, fastavro's fingerprint of the right
            schema, a body that fastavro.schemaless_reader reads completely
            (no trailing bytes) to the same values, and the very bytes
            fastavro writes for that record.
  rejects   damaged fastavro bytes (trailing byte, truncation, bad magic,
            unknown fingerprint) make `vigil codec decode` exit 1 with
            "file:line: reason: message" and still decode the good lines.
  oracle    fastavro's CRC-64-AVRO (and the little-endian reading of its
            result used here) reproduces every fingerprint of Apache Avro's
            tests/data/avro-schema-tests.txt.

Usage: interop.py [--vigil PATH] [--src DIR] [-v]
Defaults: $VIGIL or <src>/build/vigil; $VIGIL_SRC or the repository holding
this file. Exit status 0 if everything matched, 1 on any mismatch (each one is
printed), 2 on a usage or environment problem.
"""

import argparse
import datetime
import glob
import io
import json
import os
import re
import struct
import subprocess
import sys
import tempfile

try:
    import fastavro
    from fastavro.schema import fingerprint, to_parsing_canonical_form
except ImportError as e:
    sys.stderr.write("fastavro not available: run ops/setup.sh (%s)\n" % e)
    sys.exit(1)

MAGIC = b"\xc3\x01"
INT32_MIN, INT32_MAX = -2**31, 2**31 - 1
INT64_MIN, INT64_MAX = -2**63, 2**63 - 1
EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
ONE_MS = datetime.timedelta(milliseconds=1)

# Avro record name -> the "type" of SPEC §9 JSON (events) / --type value.
JSON_TYPES = {
    "Admission": "admission", "Discharge": "discharge", "Death": "death",
    "SipCreated": "sip_created", "RegisterEntry": "register_entry",
    "Alert": "alert",
    "IndicatorPart": "indicator_part", "IndicatorValue": "indicator_value",
    "PartitionProgress": "partition_progress",
}
EVENTS = ("Admission", "Discharge", "Death", "SipCreated", "RegisterEntry")
# Earlier versions still read (SPEC §3 schema evolution): record name ->
# schemas/history file; their records are the current ones without the
# fields added since, which Vigil must fill with their defaults.
HISTORY = {"Admission": "Admission.v1.avsc", "Death": "Death.v1.avsc"}


# ---------------------------------------------------------------- utilities

class Failures:
    def __init__(self):
        self.items = []

    def add(self, where, msg):
        self.items.append("%s: %s" % (where, msg))

    def __len__(self):
        return len(self.items)


FAIL = Failures()
VERBOSE = False


def note(msg):
    if VERBOSE:
        print("  " + msg)


_RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{3}))?Z$")


def ms(text):
    """RFC 3339 UTC ('Z', optional .sss) -> epoch milliseconds, exactly."""
    m = _RFC3339.match(text)
    if not m:
        raise ValueError("not an RFC 3339 UTC time: %r" % (text,))
    y, mo, d, h, mi, s, frac = m.groups()
    dt = datetime.datetime(int(y), int(mo), int(d), int(h), int(mi), int(s),
                           tzinfo=datetime.timezone.utc)
    return (dt - EPOCH) // ONE_MS + (int(frac) if frac else 0)


def rfc3339(t):
    """Epoch ms -> the form Vigil prints: ".sss" only when ms is non-zero."""
    d = EPOCH + datetime.timedelta(milliseconds=t)
    s = "%04d-%02d-%02dT%02d:%02d:%02d" % (d.year, d.month, d.day, d.hour,
                                           d.minute, d.second)
    return s + (".%03dZ" % (d.microsecond // 1000) if t % 1000 else "Z")


def dbl_bits(x):
    return struct.pack("<d", x).hex()


def fmt(v):
    """A value for messages: repr, with doubles also as bits."""
    if isinstance(v, float):
        return "%r (bits %s)" % (v, dbl_bits(v))
    s = repr(v)
    return s if len(s) <= 120 else s[:100] + "...(%d chars)" % len(s)


def run(argv, stdin_path=None):
    with open(stdin_path or os.devnull, "rb") as fin:
        p = subprocess.run(argv, stdin=fin, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE)
    return p.returncode, p.stdout.decode("utf-8", "replace"), \
        p.stderr.decode("utf-8", "replace")


def loads_ordered(line):
    """JSON object -> list of (key, value), rejecting duplicate keys."""
    def hook(pairs):
        keys = [k for k, _ in pairs]
        dup = {k for k in keys if keys.count(k) > 1}
        if dup:
            raise ValueError("duplicate keys %s" % sorted(dup))
        return pairs
    return json.loads(line, object_pairs_hook=hook)


# ------------------------------------------------------------------ schemas

class Schema:
    """One .avsc: fastavro's view of it plus a field table for comparing."""

    def __init__(self, path, root):
        self.path = os.path.relpath(path, root)
        with open(path, encoding="utf-8") as f:
            self.json = json.load(f)
        self.name = self.json["name"]
        self.parsed = fastavro.parse_schema(self.json)
        self.canonical = to_parsing_canonical_form(self.json)
        self.fp_bytes = bytes.fromhex(fingerprint(self.canonical,
                                                  "CRC-64-AVRO"))
        self.fp = int.from_bytes(self.fp_bytes, "little")
        # Named types defined so far (full and short names), so that a later
        # field may refer to them ("se.vigil.care.Answer").
        self.named = {}
        self.fields = [(f["name"],) + self.kind(f["type"])
                       for f in self.json["fields"]]
        self.defaults = {f["name"]: f["default"] for f in self.json["fields"]
                         if "default" in f}

    def kind(self, t):
        """(kind, optional, enum symbols) of a field type."""
        optional = False
        if isinstance(t, list):
            branches = [b for b in t if b != "null"]
            if len(t) != 2 or len(branches) != 1:
                raise ValueError("unsupported union %r" % (t,))
            optional, t = True, branches[0]
        if isinstance(t, str) and t in self.named:
            t = self.named[t]
        if isinstance(t, dict):
            if t.get("logicalType") == "timestamp-millis":
                return "time", optional, None
            if t["type"] == "enum":
                ns = t.get("namespace", self.json.get("namespace"))
                full = t["name"] if "." in t["name"] or not ns \
                    else ns + "." + t["name"]
                self.named[full] = t
                self.named[full.rsplit(".", 1)[-1]] = t
                return "enum", optional, t["symbols"]
            t = t["type"]
        if t not in ("string", "int", "long", "boolean", "double"):
            raise ValueError("unsupported type %r" % (t,))
        return t, optional, None


def load_schemas(root):
    out = {}
    for p in sorted(glob.glob(os.path.join(root, "schemas", "*.avsc"))):
        s = Schema(p, root)
        out[s.name] = s
    return out


# ------------------------------------------------------------------ records
#
# Records are dicts of Avro values as fastavro writes them: times are epoch
# milliseconds (ints), optionals None when null. Every record type gets
# several records; together they cover every symbol of every enum, both
# booleans, int and long extremes, unicode, empty strings (which are not
# null), and times with and without milliseconds, before 1970 and at the ends
# of the 4-digit years.

UNI = "Åsa Öberg – 東京"
EMOJI = "vård 😀 \U0001F3E5"  # 4-byte UTF-8
ESCAPES = "tab\there \"quoted\" back\\slash\nnewline \u0001 \u007f \u00a0 /"
PID = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"


def T(s):
    return ms(s)


def admissions(S):
    e = S["Admission"]
    cs, sex, dg, res = (dict((n, sy) for n, _, _, sy in e.fields)[k]
                        for k in ("care_setting", "sex", "diagnosis_group",
                                  "residence"))
    times = [T("2026-03-01T08:15:00Z"), T("2026-03-01T08:15:00.123Z"),
             T("2024-02-29T23:59:59.999Z"), T("1969-12-31T23:59:59.999Z"),
             T("1900-01-01T00:00:00Z"), T("2026-10-25T01:30:00Z")]
    ages = [82, 0, INT32_MIN, INT32_MAX, -1, 104]
    recs = []
    for i in range(6):
        recs.append({
            "event_id": "adm-%04d" % i, "patient_id": PID,
            "occurred_at": times[i], "kommun": ["0484", "0180", "2480"][i % 3],
            "source_system": [UNI, "cosmic", EMOJI, "", ESCAPES, "x" * 200][i],
            "cancels_event_id": [None, "adm-0000", "", None, UNI, None][i],
            "stay_id": "stay-%d" % i, "facility_id": [UNI, "SE2321000131-E000000000001", "", "f", EMOJI, "f"][i],
            "care_setting": cs[i % len(cs)], "planned": i % 2 == 0,
            "age_years": ages[i], "sex": sex[i % len(sex)],
            "diagnosis_group": dg[i % len(dg)],
            "residence": res[(i + 1) % len(res)],
        })
    return recs


def discharges(S):
    f = dict((n, sy) for n, _, _, sy in S["Discharge"].fields)
    cs, disp = f["care_setting"], f["disposition"]
    recs = []
    for i, d in enumerate(disp):
        recs.append({
            "event_id": "dis-%04d" % i, "patient_id": PID if i else "",
            "occurred_at": T("2026-03-0%dT1%d:00:00%sZ" % (
                i + 1, i, ".001" if i == 3 else "")),
            "kommun": "0484", "source_system": "cosmic" if i % 3 else UNI,
            "cancels_event_id": "dis-0000" if i == 5 else None,
            "stay_id": "stay-%d" % i if i != 2 else EMOJI,
            "facility_id": "sjukhus-%d" % i,
            "care_setting": cs[i % len(cs)], "disposition": d,
            "needs_coordination": i % 2 == 1,
        })
    return recs


def deaths(S):
    f = dict((n, sy) for n, _, _, sy in S["Death"].fields)
    pod, sex, dg = f["place_of_death"], f["sex"], f["diagnosis_group"]
    res = f["residence"]
    ages = [91, INT32_MAX, INT32_MIN, 0, 67, -5, 100, 1]
    recs = []
    for i, p in enumerate(pod):
        recs.append({
            "event_id": "dth-%04d" % i, "patient_id": PID,
            "occurred_at": [T("2026-03-01T03:04:05Z"),
                            T("2026-03-01T03:04:05.678Z"),
                            T("1970-01-01T00:00:00Z"),
                            T("1970-01-01T00:00:00.001Z"),
                            T("1899-12-31T23:59:59.999Z"),
                            T("2038-01-19T03:14:08Z"),
                            T("2100-03-01T00:00:00Z"),
                            T("2026-03-29T01:00:00Z")][i],
            "kommun": "1480", "source_system": [UNI, "millennium"][i % 2],
            "cancels_event_id": ["dth-0000", None][i % 2] if i else None,
            "place_of_death": p, "expected": i % 2 == 0,
            "age_years": ages[i], "sex": sex[i % len(sex)],
            "diagnosis_group": dg[i % len(dg)],
            "residence": res[(i + 2) % len(res)],
        })
    return recs


def register_entries(S):
    """Every Answer symbol in every answer field (shifted per field, so no
    two fields of one record are alike), every PressureUlcer symbol, both
    booleans, death_at before, at and long before occurred_at."""
    f = dict((n, sy) for n, _, _, sy in S["RegisterEntry"].fields)
    answers = [n for n, kind, _o, sy in S["RegisterEntry"].fields
               if kind == "enum" and n != "pressure_ulcer"]
    ulcer = f["pressure_ulcer"]
    times = [(T("2026-04-20T10:00:00Z"), T("2026-03-30T23:59:59.999Z")),
             (T("2026-03-31T00:00:00.001Z"), T("2026-03-31T00:00:00.001Z")),
             (T("2027-01-10T08:00:00Z"), T("2026-03-29T01:30:00Z")),
             (T("1970-01-01T00:00:00Z"), T("1969-12-31T23:59:59.999Z")),
             (T("9999-12-31T23:59:59.999Z"), T("0001-01-01T00:00:00Z"))]
    recs = []
    for i, (at, died) in enumerate(times):
        r = {
            "event_id": "spr-%04d" % i, "patient_id": PID if i != 3 else "",
            "occurred_at": at, "kommun": ["0484", "0680", "1880"][i % 3],
            "source_system": ["spr-export", UNI, "", EMOJI, ESCAPES][i],
            "cancels_event_id": [None, "spr-0000", None, "", UNI][i],
            "death_at": died,
            "unit_id": ["K0484-SABO", "MSE", UNI, "", "x" * 300][i],
            "expected": i % 2 == 0,
            "pressure_ulcer": ulcer[i % len(ulcer)],
        }
        for q, name in enumerate(answers):
            sy = f[name]
            r[name] = sy[(i + q) % len(sy)]
        recs.append(r)
    return recs


def sips(S):
    base = {"patient_id": PID, "kommun": "0484", "source_system": "sip-tjänst"}
    return [
        dict(base, event_id="sip-1", occurred_at=T("2026-03-02T09:00:00Z"),
             cancels_event_id=None, sip_id="SIP-2026-0001"),
        dict(base, event_id="sip-2", occurred_at=T("2026-03-02T09:00:00.500Z"),
             cancels_event_id="sip-1", sip_id=UNI),
        dict(base, event_id="sip-3", occurred_at=T("2026-03-02T09:00:00Z"),
             cancels_event_id="", sip_id=""),
        # 20000 characters of 2- and 3-byte UTF-8: a 3-byte length varint.
        dict(base, event_id="sip-4", occurred_at=T("2030-12-31T23:59:59.999Z"),
             cancels_event_id=None, sip_id=("Ö東" * 10000)),
        dict(base, event_id=EMOJI, occurred_at=T("2026-03-02T09:00:00Z"),
             cancels_event_id=ESCAPES, sip_id=ESCAPES),
    ]


ALERT_NULLS = {
    "patient_id": None, "kommun": None, "region": None,
    "index_stay_id": None, "index_discharged_at": None,
    "readmission_stay_id": None, "readmitted_at": None, "days_between": None,
    "stay_id": None, "discharged_at": None, "deadline": None,
    "indicator": None, "area": None, "period": None, "numerator": None,
    "denominator": None, "value": None, "target": None,
    "died_at": None, "place_of_death": None, "complete": None,
}


def alerts(S):
    def A(**kw):
        r = dict(ALERT_NULLS)
        r.update(kw)
        return r
    return [
        A(alert_id="a1", rule="READMISSION_30D", status="ACTIVE",
          patient_id=PID, kommun="0484", region="04", anchor="stay-1",
          emitted_at=T("2026-03-31T12:00:00.042Z"),
          index_stay_id="stay-1",
          index_discharged_at=T("2026-03-01T10:00:00Z"),
          readmission_stay_id="stay-2",
          readmitted_at=T("2026-03-30T23:59:59.999Z"), days_between=29),
        A(alert_id="a1", rule="READMISSION_30D", status="RETRACTED",
          patient_id=PID, kommun="0484", region="04", anchor="stay-1",
          emitted_at=T("2026-04-01T00:00:00Z"), index_stay_id="",
          index_discharged_at=T("1969-12-31T23:59:59.999Z"),
          readmission_stay_id=UNI, readmitted_at=0, days_between=INT32_MIN),
        A(alert_id="a2", rule="READMISSION_30D", status="ACTIVE",
          anchor="x", emitted_at=T("2026-04-01T00:00:00Z"),
          days_between=INT32_MAX),
        A(alert_id="a3", rule="SIP_OVERDUE", status="ACTIVE",
          patient_id=PID, kommun="0180", region="01", anchor="stay-9",
          emitted_at=T("2026-03-05T10:00:00Z"), stay_id="stay-9",
          discharged_at=T("2026-03-02T10:00:00Z"),
          deadline=T("2026-03-05T10:00:00.001Z")),
        A(alert_id="a4", rule="INDICATOR_BELOW_TARGET", status="ACTIVE",
          kommun="0484", region="04",
          anchor="readmission_30d|0484|2026-03",
          emitted_at=T("2026-03-31T23:00:00Z"),
          indicator="readmission_30d", area="0484", period="2026-03",
          numerator=3, denominator=7, value=3 / 7, target=0.1),
        A(alert_id="a5", rule="INDICATOR_BELOW_TARGET", status="RETRACTED",
          anchor="death_place.HOME|SE|2026-02",
          emitted_at=T("0001-01-01T00:00:00Z"), indicator="death_place.HOME",
          area="SE", period="2026-02", numerator=INT64_MAX,
          denominator=INT64_MIN, value=-0.0, target=5e-324),
        A(alert_id="a6", rule="INDICATOR_BELOW_TARGET", status="ACTIVE",
          anchor=UNI, emitted_at=T("9999-12-31T23:59:59.999Z"),
          numerator=-1, denominator=2**53 + 1,
          value=1.7976931348623157e308, target=-2.5),
        A(alert_id="a7", rule="DEATH_NOT_REGISTERED", status="ACTIVE",
          patient_id=PID, kommun="2480", region="24", anchor="dth-7",
          emitted_at=T("2026-03-01T00:00:00Z"), numerator=0, denominator=0,
          value=0.0, target=1.0),
        A(alert_id="", rule="DEATH_NOT_REGISTERED", status="RETRACTED",
          patient_id="", kommun="", region="", anchor="",
          emitted_at=T("2026-03-01T00:00:00Z")),
        A(alert_id="a8", rule="DEATH_NOT_REGISTERED", status="ACTIVE",
          patient_id=PID, kommun="0484", region="04", anchor="dth-8",
          emitted_at=T("2026-05-01T00:00:00Z"),
          died_at=T("2026-03-31T22:30:00.001Z"), place_of_death="HOME",
          deadline=T("2026-04-30T22:00:00Z")),
        A(alert_id="a9", rule="INDICATOR_BELOW_TARGET", status="ACTIVE",
          anchor="sip_within_deadline|SE|2026-03",
          emitted_at=T("2026-05-01T00:00:00Z"),
          indicator="sip_within_deadline", area="SE", period="2026-03",
          numerator=1, denominator=20, value=0.05, target=0.9,
          complete=True),
        A(alert_id="a10", rule="INDICATOR_BELOW_TARGET", status="RETRACTED",
          anchor="sip_within_deadline|SE|2026-04",
          emitted_at=T("2026-05-01T00:00:00Z"), complete=False),
    ]


V2 = {"breakdown": "all", "complete": False, "history_complete": True,
      "data_since": None}


def iparts(S):
    base = dict(V2, indicator="readmission_30d", area="0484",
                period="2026-03")
    return [
        dict(base, partition=0, numerator=0, denominator=None,
             updated_at=T("2026-03-01T08:15:00Z")),
        dict(base, partition=INT32_MAX, numerator=INT64_MAX,
             denominator=INT64_MIN, updated_at=T("2026-03-01T08:15:00.999Z")),
        dict(base, partition=INT32_MIN, numerator=INT64_MIN,
             denominator=INT64_MAX, updated_at=T("1969-07-20T20:17:40.001Z")),
        dict(base, indicator="death_place.HOME_WITH_SSIH", area="SE",
             partition=-1, numerator=-1, denominator=-(2**31) - 1,
             updated_at=T("0001-01-01T00:00:00Z")),
        dict(base, indicator=UNI, area="", period="", partition=63,
             numerator=2**32, denominator=0,
             updated_at=T("9999-12-31T23:59:59.999Z")),
        dict(base, breakdown="age:85+", complete=True, history_complete=False,
             data_since=T("2024-01-01T00:00:00.001Z"), partition=2,
             numerator=1, denominator=2, updated_at=T("2026-05-01T00:00:00Z")),
    ]


def ivalues(S):
    base = dict(V2, indicator="sip_within_deadline", area="04",
                period="2026-03")
    return [
        dict(base, numerator=3, denominator=4, value=0.75,
             updated_at=T("2026-03-01T08:15:00Z")),
        dict(base, numerator=12, denominator=None, value=None,
             updated_at=T("2026-03-01T08:15:00.010Z")),
        dict(base, numerator=1, denominator=3, value=1 / 3,
             updated_at=T("1970-01-01T00:00:00Z")),
        dict(base, numerator=INT64_MAX, denominator=INT64_MIN, value=-0.0,
             updated_at=T("1950-06-15T12:00:00.250Z")),
        dict(base, indicator=EMOJI, area=UNI, numerator=INT64_MIN,
             denominator=None, value=4.9406564584124654e-324,
             updated_at=T("2026-03-01T08:15:00Z")),
        dict(base, numerator=0, denominator=0, value=0.1,
             updated_at=T("2026-03-01T08:15:00Z")),
        dict(base, breakdown="residence:unknown", complete=True,
             history_complete=False, data_since=T("1969-12-31T23:59:59.999Z"),
             numerator=1, denominator=1, value=1.0,
             updated_at=T("2026-03-01T08:15:00Z")),
    ]


def progress(S):
    return [
        dict(partition=0, watermark=None, data_since=None,
             updated_at=T("2026-03-01T08:15:00Z")),
        dict(partition=INT32_MAX, watermark=T("2026-03-01T08:15:00.001Z"),
             data_since=T("2024-01-01T00:00:00Z"), updated_at=0),
        dict(partition=-1, watermark=T("0001-01-01T00:00:00Z"),
             data_since=T("9999-12-31T23:59:59.999Z"),
             updated_at=T("9999-12-31T23:59:59.999Z")),
    ]


def all_records(S):
    return {"Admission": admissions(S), "Discharge": discharges(S),
            "Death": deaths(S), "SipCreated": sips(S),
            "RegisterEntry": register_entries(S), "Alert": alerts(S),
            "IndicatorPart": iparts(S), "IndicatorValue": ivalues(S),
            "PartitionProgress": progress(S)}


def check_coverage(S, R):
    """The record set itself: every enum symbol and both booleans used."""
    for name, s in S.items():
        for fname, kind, _opt, syms in s.fields:
            used = {r[fname] for r in R[name]}
            if kind == "enum" and set(syms) - used:
                FAIL.add("coverage", "%s.%s: symbols never used: %s" % (
                    name, fname, sorted(set(syms) - used)))
            if kind == "boolean" and not {True, False} <= used:
                FAIL.add("coverage", "%s.%s: not both true and false" % (
                    name, fname))


# ------------------------------------------------------------- comparisons

def same(kind, exp, got):
    """Exact equality for a field kind (types included; doubles by bits)."""
    if exp is None or got is None:
        return exp is None and got is None
    if kind == "boolean":
        return isinstance(got, bool) and got == exp
    if kind in ("int", "long", "time"):
        return isinstance(got, int) and not isinstance(got, bool) \
            and got == exp
    if kind == "double":
        return isinstance(got, float) and dbl_bits(got) == dbl_bits(exp)
    return isinstance(got, str) and got == exp


def compare_vigil_json(where, s, rec, line):
    """One line of `vigil codec decode` output against the record."""
    try:
        pairs = loads_ordered(line)
    except ValueError as e:
        FAIL.add(where, "output is not a JSON object: %s: %s" % (e, fmt(line)))
        return
    is_event = s.name in EVENTS
    got = dict(pairs)
    keys = [k for k, _ in pairs]

    # Members: events get "type" first; then schema order. Optional fields:
    # outputs always print null; events always print cancels_event_id.
    want = (["type"] if is_event else []) + [f[0] for f in s.fields]
    may_omit = {n for n, _k, opt, _sy in s.fields
                if is_event and opt and n != "cancels_event_id"}
    if [k for k in keys if k in want] != [k for k in want if k in keys]:
        FAIL.add(where, "member order %s, expected %s" % (keys, want))
    extra = [k for k in keys if k not in want]
    missing = [k for k in want if k not in keys and k not in may_omit]
    if extra:
        FAIL.add(where, "unexpected members %s" % extra)
    if missing:
        FAIL.add(where, "missing members %s" % missing)
    if is_event and got.get("type") != JSON_TYPES[s.name]:
        FAIL.add(where, "type: expected %r, got %s" % (
            JSON_TYPES[s.name], fmt(got.get("type"))))

    for fname, kind, _opt, _sy in s.fields:
        if fname not in got:
            continue
        exp, v = rec[fname], got[fname]
        if kind == "time" and isinstance(v, str):
            try:
                v_ms = ms(v)
            except ValueError as e:
                FAIL.add(where, "%s: %s" % (fname, e))
                continue
            if exp is not None and v != rfc3339(exp):
                FAIL.add(where, "%s: printed %r, expected %r" % (
                    fname, v, rfc3339(exp)))
            v = v_ms
        if not same(kind, exp, v):
            FAIL.add(where, "%s: expected %s%s, got %s" % (
                fname, fmt(exp),
                " (%s)" % rfc3339(exp) if kind == "time" and exp is not None
                else "", fmt(got[fname])))


def from_fastavro(kind, v):
    if kind == "time" and isinstance(v, datetime.datetime):
        return (v - EPOCH) // ONE_MS
    return v


def to_json_input(s, rec, i):
    """The record as SPEC §9 JSON for `vigil codec encode`. Odd records give
    times as epoch ms and spell null optionals out; even ones use RFC 3339
    and omit them."""
    out = {}
    if s.name in EVENTS:
        out["type"] = JSON_TYPES[s.name]
    for fname, kind, _opt, _sy in s.fields:
        v = rec[fname]
        if v is None:
            if i % 2:
                out[fname] = None
            continue
        if kind == "time" and i % 2 == 0:
            v = rfc3339(v)
        out[fname] = v
    return json.dumps(out, ensure_ascii=(i % 3 == 0), allow_nan=False)


def encode_fastavro(s, rec):
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, s.parsed, rec, strict=True)
    return buf.getvalue()


# ------------------------------------------------------------------ checks

def check_oracle(root):
    """fastavro + our byte order reproduce Apache's published fingerprints."""
    path = os.path.join(root, "tests", "data", "avro-schema-tests.txt")
    n = 0
    canon = None
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.startswith("<<canonical "):
                canon = line[len("<<canonical "):].rstrip("\n")
            elif line.startswith("<<fingerprint ") and canon is not None:
                want = int(line.split()[1])
                got = int.from_bytes(bytes.fromhex(
                    fingerprint(canon, "CRC-64-AVRO")), "little", signed=True)
                if got != want:
                    FAIL.add("oracle", "%s: fastavro %d, Apache %d" % (
                        canon, got, want))
                n += 1
                canon = None
    if n == 0:
        FAIL.add("oracle", "no <<canonical/<<fingerprint pairs in %s" % path)
    return n


def check_schemas(vigil, S):
    rc, out, err = run([vigil, "codec", "schemas"])
    if rc != 0:
        FAIL.add("schemas", "vigil codec schemas exited %d: %s" % (rc, err))
        return 0
    seen = {}
    for ln, line in enumerate(out.splitlines(), 1):
        parts = line.split(None, 2)
        if len(parts) != 3 or not re.fullmatch(r"[0-9a-f]{16}", parts[1]):
            FAIL.add("schemas", "line %d: not '<Name> <16-hex> <canonical>':"
                     " %r" % (ln, line))
            continue
        name, hx, canon = parts
        seen[name] = True
        s = S.get(name)
        if not s:
            FAIL.add("schemas", "%s: listed by vigil, no schemas/%s.avsc" % (
                name, name))
            continue
        if hx != "%016x" % s.fp:
            FAIL.add("schemas", "%s: fingerprint %s, fastavro %016x (wire "
                     "bytes %s)" % (name, hx, s.fp, s.fp_bytes.hex()))
        if canon != s.canonical:
            i = next((k for k in range(min(len(canon), len(s.canonical)))
                      if canon[k] != s.canonical[k]),
                     min(len(canon), len(s.canonical)))
            FAIL.add("schemas", "%s: canonical form differs at offset %d:\n"
                     "    vigil:    ...%s\n    fastavro: ...%s" % (
                         name, i, canon[max(0, i - 40):i + 40],
                         s.canonical[max(0, i - 40):i + 40]))
        note("schemas: %-15s %016x ok" % (name, s.fp))
    for name in S:
        if name not in seen:
            FAIL.add("schemas", "%s (%s) not listed by vigil codec schemas" % (
                name, S[name].path))
    return len(seen)


def check_fastavro_to_vigil(vigil, S, R, tmp):
    """fastavro encodes, Vigil decodes. All types in one file, interleaved."""
    order = []
    for name in S:
        for i, rec in enumerate(R[name]):
            order.append((name, i, rec))
    # Interleave types so that a stale state between records would show.
    order.sort(key=lambda t: (t[1], t[0]))
    path = os.path.join(tmp, "fastavro.hex")
    with open(path, "w") as f:
        for name, _i, rec in order:
            s = S[name]
            f.write((MAGIC + s.fp_bytes + encode_fastavro(s, rec)).hex()
                    + "\n")
    rc, out, err = run([vigil, "codec", "decode", path])
    lines = out.splitlines()
    if rc != 0 or err.strip():
        FAIL.add("fastavro->vigil", "vigil codec decode exited %d:\n%s" % (
            rc, err.rstrip()))
    if len(lines) != len(order):
        FAIL.add("fastavro->vigil", "%d records in, %d JSON lines out" % (
            len(order), len(lines)))
        return 0
    for ln, ((name, i, rec), line) in enumerate(zip(order, lines), 1):
        compare_vigil_json("fastavro->vigil %s #%d (%s line %d)" % (
            name, i, os.path.basename(path), ln), S[name], rec, line)
    return len(order)


def check_vigil_to_fastavro(vigil, S, R, tmp):
    """Vigil encodes JSON Lines, fastavro decodes: events in one mixed file
    (dispatch on "type"), the other records with --type."""
    groups = [("events", None, [n for n in S if n in EVENTS])]
    groups += [(JSON_TYPES[n], JSON_TYPES[n], [n]) for n in S
               if n not in EVENTS]
    total = 0
    for label, typ, names in groups:
        batch = []
        for name in names:
            for i, rec in enumerate(R[name]):
                batch.append((name, i, rec))
        batch.sort(key=lambda t: (t[1], t[0]))
        path = os.path.join(tmp, "vigil-%s.jsonl" % label)
        with open(path, "w", encoding="utf-8") as f:
            for name, i, rec in batch:
                f.write(to_json_input(S[name], rec, i) + "\n")
        argv = [vigil, "codec", "encode"] + (["--type", typ] if typ else []) \
            + [path]
        rc, out, err = run(argv)
        lines = out.splitlines()
        if rc != 0 or err.strip():
            FAIL.add("vigil->fastavro", "%s exited %d:\n%s" % (
                " ".join(argv[1:]), rc, err.rstrip()))
        if len(lines) != len(batch):
            FAIL.add("vigil->fastavro", "%s: %d records in, %d hex lines out"
                     % (label, len(batch), len(lines)))
            continue
        for ln, ((name, i, rec), hx) in enumerate(zip(batch, lines), 1):
            where = "vigil->fastavro %s #%d (%s line %d)" % (
                name, i, os.path.basename(path), ln)
            check_one_encoded(where, S[name], rec, hx)
            total += 1
    return total


def check_one_encoded(where, s, rec, hx):
    if not re.fullmatch(r"(?:[0-9a-f]{2})+", hx):
        FAIL.add(where, "not a lowercase hex line: %s" % fmt(hx))
        return
    data = bytes.fromhex(hx)
    if data[:2] != MAGIC:
        FAIL.add(where, "magic %s, expected c301" % data[:2].hex())
        return
    fp = data[2:10]
    if fp != s.fp_bytes:
        FAIL.add(where, "fingerprint bytes %s, expected %s (fastavro, "
                 "little-endian, schema %s)" % (fp.hex(), s.fp_bytes.hex(),
                                                s.path))
        return
    body = io.BytesIO(data[10:])
    try:
        got = fastavro.schemaless_reader(body, s.parsed)
    except Exception as e:  # any decode error is a mismatch
        FAIL.add(where, "fastavro cannot read the body: %s: %s" % (
            type(e).__name__, e))
        return
    left = len(data) - 10 - body.tell()
    if left:
        FAIL.add(where, "%d trailing bytes after the body" % left)
    if set(got) != {f[0] for f in s.fields}:
        FAIL.add(where, "fields %s, expected %s" % (
            sorted(got), sorted(f[0] for f in s.fields)))
    for fname, kind, _opt, _sy in s.fields:
        v = from_fastavro(kind, got.get(fname))
        if not same(kind, rec[fname], v):
            FAIL.add(where, "%s: expected %s, got %s" % (
                fname, fmt(rec[fname]), fmt(v)))
    want = encode_fastavro(s, rec)
    if data[10:] != want:
        i = next((k for k in range(min(len(want), len(data) - 10))
                  if want[k] != data[10 + k]), min(len(want), len(data) - 10))
        FAIL.add(where, "body bytes differ from fastavro's at offset %d: "
                 "vigil %s, fastavro %s" % (
                     i, data[10 + i:10 + i + 16].hex() or "<end>",
                     want[i:i + 16].hex() or "<end>"))


def load_history(root, S):
    """name -> Schema of the earlier version (schemas/history)."""
    out = {}
    for name, fn in HISTORY.items():
        out[name] = Schema(os.path.join(root, "schemas", "history", fn), root)
        if out[name].name != name:
            FAIL.add("history", "%s names record %s, expected %s" % (
                fn, out[name].name, name))
        if out[name].fp == S[name].fp:
            FAIL.add("history", "%s has the fingerprint of the current "
                     "schema" % fn)
    return out


def check_history(vigil, S, H, R, tmp):
    """Records written by fastavro under the earlier schema version (framed
    with that version's fingerprint) decode to the current record with the
    added fields' defaults filled in (residence = UNKNOWN) and every other
    field equal. Old and new records are interleaved in one file. Then the
    JSON side: an event line without the added fields encodes to the
    current schema with the defaults."""
    order = []
    for name, h in H.items():
        old = {f[0] for f in h.fields}
        added = [f[0] for f in S[name].fields if f[0] not in old]
        if not added:
            FAIL.add("history", "%s: %s adds no field" % (name, h.path))
        for f in added:
            if f not in S[name].defaults:
                FAIL.add("history", "%s.%s added without a default" % (
                    name, f))
        for i, rec in enumerate(R[name]):
            v1 = {k: v for k, v in rec.items() if k in old}
            want = dict(rec)
            for f in added:
                want[f] = S[name].defaults.get(f)
            order.append((name, i, h, v1, want))
            order.append((name, i, S[name], rec, rec))
    path = os.path.join(tmp, "history.hex")
    with open(path, "w") as f:
        for _n, _i, w, rec, _want in order:
            f.write((MAGIC + w.fp_bytes + encode_fastavro(w, rec)).hex()
                    + "\n")
    rc, out, err = run([vigil, "codec", "decode", path])
    lines = out.splitlines()
    if rc != 0 or err.strip():
        FAIL.add("history", "vigil codec decode exited %d:\n%s" % (
            rc, err.rstrip()))
    if len(lines) != len(order):
        FAIL.add("history", "%d records in, %d JSON lines out" % (
            len(order), len(lines)))
        return 0
    n_old = 0
    for ln, ((name, i, w, _rec, want), line) in enumerate(zip(order, lines),
                                                           1):
        old = w is not S[name]
        n_old += old
        compare_vigil_json("history %s #%d written as %s (line %d)" % (
            name, i, w.path, ln), S[name], want, line)
        if old and '"residence":"UNKNOWN"' not in line:
            FAIL.add("history", "%s #%d (line %d): no residence UNKNOWN: %s"
                     % (name, i, ln, fmt(line)))

    # JSON without residence (a version-1 producer's line).
    path = os.path.join(tmp, "history.jsonl")
    batch = []
    with open(path, "w", encoding="utf-8") as f:
        for name, h in H.items():
            old = {x[0] for x in h.fields}
            for i, rec in enumerate(R[name]):
                j = json.loads(to_json_input(S[name], rec, i))
                f.write(json.dumps({k: v for k, v in j.items()
                                    if k == "type" or k in old}) + "\n")
                want = dict(rec)
                for x in S[name].defaults:
                    if x not in old:
                        want[x] = S[name].defaults[x]
                batch.append((name, i, want))
    rc, out, err = run([vigil, "codec", "encode", path])
    lines = out.splitlines()
    if rc != 0 or err.strip() or len(lines) != len(batch):
        FAIL.add("history", "codec encode of version-1 JSON exited %d, %d "
                 "lines for %d:\n%s" % (rc, len(lines), len(batch),
                                         err.rstrip()))
        return n_old
    for ln, ((name, i, want), hx) in enumerate(zip(batch, lines), 1):
        check_one_encoded("history JSON %s #%d (line %d)" % (name, i, ln),
                          S[name], want, hx)
    return n_old


def check_rejects(vigil, S, R, tmp):
    """Damaged fastavro bytes are refused line by line; good lines decode."""
    s = S["IndicatorValue"]
    good = MAGIC + s.fp_bytes + encode_fastavro(s, R["IndicatorValue"][0])
    bad_fp = bytes([good[2] ^ 0x01]) + good[3:10]
    cases = [
        ("trailing-bytes", good + b"\x00"),
        ("truncated", good[:-1]),
        ("bad-header", b"\xc3\x02" + good[2:]),
        ("unknown-fingerprint", MAGIC + bad_fp + good[10:]),
        (None, good),
    ]
    path = os.path.join(tmp, "rejects.hex")
    with open(path, "w") as f:
        for _r, b in cases:
            f.write(b.hex() + "\n")
    rc, out, err = run([vigil, "codec", "decode", path])
    if rc != 1:
        FAIL.add("rejects", "vigil codec decode exited %d, expected 1" % rc)
    errs = err.splitlines()
    want = [(ln, r) for ln, (r, _b) in enumerate(cases, 1) if r]
    if len(errs) != len(want):
        FAIL.add("rejects", "%d stderr lines, expected %d:\n%s" % (
            len(errs), len(want), err.rstrip()))
    for (ln, reason), e in zip(want, errs):
        # a log line: "<time> ERROR codec: FILE:LINE: REASON: message"
        prefix = "%s:%d: %s: " % (path, ln, reason)
        head = e.split(" ERROR codec: ", 1)
        e = head[1] if len(head) == 2 and " " not in head[0] else ""
        if not e.startswith(prefix) or len(e) == len(prefix):
            FAIL.add("rejects", "line %d: stderr %r, expected %r + message" % (
                ln, e, prefix))
    lines = out.splitlines()
    if len(lines) != 1:
        FAIL.add("rejects", "%d JSON lines out, expected 1 (the good record)"
                 % len(lines))
    else:
        compare_vigil_json("rejects (good line %d)" % len(cases), s,
                           R["IndicatorValue"][0], lines[0])
    return len(want)


# -------------------------------------------------------------------- main

def main():
    global VERBOSE
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--vigil", help="vigil binary (default $VIGIL or "
                    "<src>/build/vigil)")
    ap.add_argument("--src", help="repository root (default $VIGIL_SRC or "
                    "../.. from this file)")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()
    VERBOSE = args.verbose
    root = os.path.abspath(args.src or os.environ.get("VIGIL_SRC") or
                           os.path.join(here, "..", ".."))
    vigil = os.path.abspath(args.vigil or os.environ.get("VIGIL") or
                            os.path.join(root, "build", "vigil"))
    if not os.access(vigil, os.X_OK):
        print("interop: vigil binary not found or not executable: %s "
              "(build it, or set VIGIL)" % vigil, file=sys.stderr)
        return 2
    S = load_schemas(root)
    missing = [n for n in JSON_TYPES if n not in S]
    if missing:
        print("interop: no schemas/<Name>.avsc for %s under %s" % (
            missing, root), file=sys.stderr)
        return 2
    unknown = [n for n in S if n not in JSON_TYPES]
    if unknown:  # a new record type needs records here
        FAIL.add("schemas", "no interop records for new schema(s) %s: add "
                 "them to tests/interop/interop.py" % unknown)
        S = {n: s for n, s in S.items() if n in JSON_TYPES}
    R = all_records(S)
    check_coverage(S, R)

    print("interop: fastavro %s, vigil %s, schemas %s" % (
        fastavro.__version__, vigil, os.path.join(root, "schemas")))
    n_oracle = check_oracle(root)
    n_schemas = check_schemas(vigil, S)
    with tempfile.TemporaryDirectory(prefix="vigil-interop.") as tmp:
        n_a = check_fastavro_to_vigil(vigil, S, R, tmp)
        n_b = check_vigil_to_fastavro(vigil, S, R, tmp)
        n_h = check_history(vigil, S, load_history(root, S), R, tmp)
        n_rej = check_rejects(vigil, S, R, tmp)

    per_type = ", ".join("%s %d" % (n, len(R[n])) for n in S)
    print("  oracle:          %d Apache fingerprints reproduced by fastavro"
          % n_oracle)
    print("  schemas:         %d/%d fingerprints + canonical forms compared"
          % (n_schemas, len(S)))
    print("  fastavro->vigil: %d records decoded by vigil and compared" % n_a)
    print("  vigil->fastavro: %d records encoded by vigil, read by fastavro "
          "and compared (bytes too)" % n_b)
    print("  records per type: %s" % per_type)
    print("  history:         %d version-1 records (%s) written by fastavro "
          "decoded by vigil with the defaults" % (n_h, ", ".join(HISTORY)))
    print("  rejects:         %d damaged records refused" % n_rej)
    if FAIL:
        print("interop: FAILED, %d mismatch(es):" % len(FAIL))
        for m in FAIL.items:
            print("  - " + m.replace("\n", "\n    "))
        return 1
    print("interop: OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
