#!/usr/bin/env python3
"""hl7_story.py - `vigil convert --from hl7v2` against python-hl7, an
independent HL7 v2 implementation (tests/interop/test_hl7.sh).

Builds the ADT messages of a small care story with the `hl7` package
(hl7.parse of a template, fields set through its accessors, values escaped
with Message.escape), writes them to a file (some MLLP framed, some one
after another, some with LF segment endings), runs vigil convert on it and
checks every event against the story and against what hl7.parse reads back
from the same messages; then runs `vigil process --input` on the events.
Error cases: A40, an unsupported trigger, a missing PID-3; the personnummer
must appear in no output.
"""
import argparse
import datetime as dt
import hashlib
import hmac
import json
import os
import subprocess
import sys
import tempfile

import hl7

try:
    from zoneinfo import ZoneInfo
    STHLM = ZoneInfo("Europe/Stockholm")
except Exception:  # pragma: no cover - no tz database
    STHLM = None

PNR = "191212121212"          # Skatteverket's test personnummer
PNR_WRITTEN = "19121212-1212"  # as the sender writes it
KEY = b"interop-test-key-0123456789abcdef"
FACILITY = "MSE"
APP = "HIS-A"

TEMPLATE = ("MSH|^~\\&|X|X|VIGIL|REG|20260101000000||ADT^A01^ADT_A01|X|P|2.5\r"
            "EVN|A01|20260101000000\r"
            "PID|1||X^^^SKV^PN||Svensson^Anna||19450310|F|||"
            "Gatan 1^^Eskilstuna^^63220^SE^H^^0484\r"
            "PV1|1|I|X^^^MSE|X\r"
            "DG1|1||X^diagnos^I10\r")

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("  FAIL:", what, file=sys.stderr)


def build(trigger, ctrl, visit, evn2, location, adm_type="", disp="",
          dg="R69", evn6=None):
    """One ADT message built with python-hl7."""
    m = hl7.parse(TEMPLATE)
    m["MSH.F3"] = APP
    m["MSH.F4"] = FACILITY
    m["MSH.F9.R1.C2"] = trigger
    m["MSH.F10"] = ctrl
    m["EVN.F1"] = trigger
    m["EVN.F2"] = evn2
    if evn6:
        m["EVN.F6"] = evn6
    m["PID.F3.R1.C1"] = PNR_WRITTEN
    m["PV1.F3.R1.C1"] = m.escape(location)
    m["PV1.F4"] = adm_type
    m["PV1.F19"] = visit
    if disp:
        m["PV1.F36"] = disp
    m["DG1.F3.R1.C1"] = dg
    return str(m)


def utc_of(hl7_time):
    """What an HL7 time means in UTC, by python-hl7 (+ zoneinfo)."""
    t = hl7.parse_datetime(hl7_time)
    if t.tzinfo is None:
        t = t.replace(tzinfo=STHLM)
    return t.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def story():
    """(message, expectation) pairs; expectation None = refused."""
    S = []
    S.append((build("A01", "M1", "V1001", "202601100815", "ONK&3", "C",
                    dg="C34.1"),
              dict(type="admission", stay="V1001", fac="ONK&3",
                   at="2026-01-10T07:15:00Z", planned=True,
                   diag="CANCER", age=80)))
    # The same admission re-sent (new control id): same event id.
    S.append((build("A01", "M2", "V1001", "202601100815", "ONK&3", "C",
                    dg="C34.1"),
              dict(type="admission", stay="V1001", fac="ONK&3",
                   at="2026-01-10T07:15:00Z", planned=True, same_as=0)))
    S.append((build("A03", "M3", "V1001", "202601151340", "ONK&3",
                    disp="51"),
              dict(type="discharge", stay="V1001", fac="ONK&3",
                   at="2026-01-15T12:40:00Z", disp="PALLIATIVE_UNIT")))
    S.append((build("A01", "M4", "V1002", "202607022230+0200", "MED|2", "E",
                    dg="J44.1"),
              dict(type="admission", stay="V1002", fac="MED|2",
                   at="2026-07-02T20:30:00Z", planned=False, diag="COPD",
                   age=81)))
    S.append((build("A11", "M5", "V1002", "202607022310", "MED|2"),
              dict(type="admission", stay="V1002", fac="MED|2",
                   at="2026-07-02T21:10:00Z", cancels=3)))
    # EVN-6 (occurred) wins over EVN-2 (recorded).
    S.append((build("A01", "M6", "V1003", "202607031200", "MED~3", "R",
                    dg="I50.9", evn6="202607031000"),
              dict(type="admission", stay="V1003", fac="MED~3",
                   at="2026-07-03T08:00:00Z", planned=False,
                   diag="HEART_FAILURE")))
    S.append((build("A03", "M7", "V1003", "202607100900", "MED~3",
                    disp="01"),
              dict(type="discharge", stay="V1003", fac="MED~3",
                   at="2026-07-10T07:00:00Z", disp="HOME")))
    S.append((build("A13", "M8", "V1003", "202607101130", "MED~3"),
              dict(type="discharge", stay="V1003", fac="MED~3",
                   at="2026-07-10T09:30:00Z", cancels=6)))
    return S


def write_input(path, msgs, lf_segments=()):
    with open(path, "wb") as f:
        for i, m in enumerate(msgs):
            data = m.encode()
            if i in lf_segments:
                data = data.replace(b"\r", b"\n")
            if i % 3 == 0:
                f.write(b"\x0b" + data + b"\x1c\r")
            else:
                f.write(data + b"\n")


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vigil", required=True)
    args = ap.parse_args()
    vigil = args.vigil
    tmp = tempfile.mkdtemp(prefix="vigil-hl7-")
    import atexit
    import shutil
    atexit.register(shutil.rmtree, tmp, True)
    key_file = os.path.join(tmp, "key")
    with open(key_file, "wb") as f:
        f.write(KEY)
    os.chmod(key_file, 0o600)
    # No site configuration: run where there is no vigil.conf.
    env = {k: v for k, v in os.environ.items() if k != "VIGIL_CONFIG"}
    os.chdir(tmp)

    S = story()
    msgs = [m for m, _ in S]
    inp = os.path.join(tmp, "story.hl7")
    write_input(inp, msgs, lf_segments=(2, 7))
    r = run([vigil, "convert", "--from", "hl7v2", "-X",
             "pseudonym.key_file=" + key_file, inp], env=env)
    print(r.stderr, end="", file=sys.stderr)
    check(r.returncode == 0, "convert exit %d, want 0" % r.returncode)
    check("%d messages read, %d events written, 0 skipped, 0 invalid"
          % (len(S), len(S)) in r.stderr, "summary line")
    for out in (r.stdout, r.stderr):
        check(PNR not in out and PNR_WRITTEN not in out
              and "121212" not in out, "personnummer in the output")
    events = [json.loads(line) for line in r.stdout.splitlines()]
    check(len(events) == len(S), "%d events, want %d" % (len(events), len(S)))
    if len(events) != len(S):
        return 1
    pid = hmac.new(KEY, PNR.encode(), hashlib.sha256).hexdigest()

    for i, ((msg, want), ev) in enumerate(zip(S, events)):
        n = "message %d" % (i + 1)
        check(ev["type"] == want["type"], n + ": type " + ev["type"])
        check(ev["patient_id"] == pid, n + ": patient_id is not the HMAC")
        check(ev["stay_id"] == want["stay"], n + ": stay_id")
        check(ev["facility_id"] == want["fac"], n + ": facility_id "
              + ev["facility_id"])
        check(ev["occurred_at"] == want["at"], n + ": occurred_at %s, want %s"
              % (ev["occurred_at"], want["at"]))
        check(ev["source_system"] == "hl7:" + APP, n + ": source_system")
        check(ev["kommun"] == "0484", n + ": kommun")
        check(ev["event_id"].startswith("hl7-"), n + ": event_id")
        if "planned" in want:
            check(ev["planned"] is want["planned"], n + ": planned")
        if "diag" in want:
            check(ev["diagnosis_group"] == want["diag"], n + ": diagnosis")
        if "age" in want:
            check(ev["age_years"] == want["age"], n + ": age_years")
        if "disp" in want:
            check(ev["disposition"] == want["disp"], n + ": disposition")
            check(ev["needs_coordination"] is False, n + ": needs_coord")
        if "same_as" in want:
            check(ev["event_id"] == events[want["same_as"]]["event_id"],
                  n + ": a re-sent A01 must keep its event_id")
        if "cancels" in want:
            check(ev.get("cancels_event_id")
                  == events[want["cancels"]]["event_id"],
                  n + ": cancels_event_id is not the cancelled event's id")
            check(ev["event_id"] != events[want["cancels"]]["event_id"],
                  n + ": a cancellation needs its own id")
        else:
            check(ev.get("cancels_event_id") is None, n + ": cancels")

        # What python-hl7 reads from the same message.
        h = hl7.parse(msg)
        check(str(h["PV1.F19"]) == ev["stay_id"], n + ": PV1-19 != stay_id")
        check(h.unescape(str(h["PV1.F3.R1.C1"])) == ev["facility_id"],
              n + ": unescaped PV1-3.1 != facility_id")
        check(str(h["MSH.F4"]) == FACILITY, n + ": MSH-4")
        check("hl7:" + str(h["MSH.F3"]) == ev["source_system"],
              n + ": MSH-3")
        t = str(h["EVN.F6"]) or str(h["EVN.F2"])
        if STHLM is not None:
            check(utc_of(t) == ev["occurred_at"],
                  n + ": python-hl7 + zoneinfo give %s" % utc_of(t))
        trig = str(h["MSH.F9.R1.C2"])
        check({"A01": "admission", "A11": "admission", "A03": "discharge",
               "A13": "discharge"}[trig] == ev["type"], n + ": trigger")
        check(h.unescape(str(h["PID.F3.R1.C1"])) == PNR_WRITTEN,
              n + ": PID-3 as built")

    # The events are valid input for the processor.
    evf = os.path.join(tmp, "events.jsonl")
    with open(evf, "w") as f:
        f.write(r.stdout)
    p = run([vigil, "process", "--input", evf], env=env)
    check(p.returncode == 0, "vigil process --input exit %d: %s"
          % (p.returncode, p.stderr.strip()))
    check("%d events, 0 invalid lines" % len(S) in p.stderr,
          "process did not read every event: " + p.stderr.strip())

    # Refusals: A40, an unsupported trigger, PID-3 missing; the good
    # message between them is still converted.
    bad = []
    m = hl7.parse(build("A40", "B1", "V9", "202607011200", "X"))
    bad.append(str(m))
    bad.append(build("A02", "B2", "V9", "202607011200", "X"))
    bad.append(msgs[0])
    m = hl7.parse(build("A01", "B4", "V9", "202607011200", "X"))
    m["PID.F3"] = ""
    bad.append(str(m))
    badf = os.path.join(tmp, "bad.hl7")
    write_input(badf, bad)
    r = run([vigil, "convert", "--from", "hl7v2", "--key-file", key_file,
             badf], env=env)
    check(r.returncode == 3, "convert with bad messages exit %d, want 3"
          % r.returncode)
    check(badf + ":1 (MSH-10 B1): A40 merge is not supported" in r.stderr,
          "A40 not refused clearly: " + r.stderr)
    check(badf + ":2 (MSH-10 B2): ADT trigger A02 is not supported"
          in r.stderr, "A02 not refused clearly")
    check(badf + ":4 (MSH-10 B4): PID-3: missing" in r.stderr,
          "missing PID-3 not reported")
    check(len(r.stdout.splitlines()) == 1, "the good message not converted")
    check("4 messages read, 1 events written, 0 skipped, 3 invalid"
          in r.stderr, "summary of the bad run")
    for out in (r.stdout, r.stderr):
        check("121212" not in out, "personnummer in the output (bad run)")

    # No key: a usage error naming pseudonym.key_file.
    r = run([vigil, "convert", "--from", "hl7v2", inp], env=env)
    check(r.returncode == 2 and "pseudonym.key_file" in r.stderr,
          "no key: exit %d %s" % (r.returncode, r.stderr.strip()))

    if failures:
        print("hl7_story: %d failures" % len(failures), file=sys.stderr)
        return 1
    print("hl7_story: %d messages, every event checked" % len(S))
    return 0


if __name__ == "__main__":
    here = os.getcwd()
    try:
        rc = main()
    finally:
        os.chdir(here)
    sys.exit(rc)
