#!/usr/bin/env python3
"""fhir_story.py - `vigil convert --from fhir` against fhir.resources, an
independent FHIR R4 implementation (tests/interop/test_fhir.sh).

Builds the resources of a small care story as fhir.resources models (R4,
4.0.1), so every one is validated by the library, writes them one resource
or Bundle per line as the library serialises them, runs vigil convert on
them and checks every event against what the story says, computed here
independently: patient_id (HMAC-SHA256 of the personnummer), the event ids
(docs/HOSPITAL.md), times in UTC (zoneinfo for times without an offset),
ages, the site mapping. Then `vigil process --input` runs on the events:
the readmission of the story raises READMISSION_30D only while its
Encounter is not entered-in-error, wherever the cancellation stands in the
file. Invalid resources (rejected by fhir.resources too) get clear errors
and exit 3; no personnummer appears in any output.
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

import pydantic
from fhir.resources import __fhir_version__ as FHIR_VERSION
from fhir.resources.bundle import Bundle
from fhir.resources.condition import Condition
from fhir.resources.encounter import Encounter
from fhir.resources.observation import Observation
from fhir.resources.patient import Patient

try:
    from zoneinfo import ZoneInfo
    STHLM = ZoneInfo("Europe/Stockholm")
except Exception:  # pragma: no cover - no tz database
    STHLM = None

KEY = b"interop-test-key-0123456789abcdef"
PNR_SYS = "http://electronichealth.se/identifier/personnummer"
VISIT_SYS = "urn:oid:1.2.752.999.2.1"
ICD10 = "http://hl7.org/fhir/sid/icd-10"


def luhn_pnr(yyyymmdd, serial):
    """A valid 12-digit personnummer with the given date and serial."""
    ten = yyyymmdd[2:] + serial
    s = 0
    for i, ch in enumerate(ten):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        s += d // 10 + d % 10
    return yyyymmdd + serial + str((10 - s % 10) % 10)


PNR_A = "191212121212"             # Skatteverket's test personnummer
PNR_B = luhn_pnr("19380405", "238")  # a second patient
PNRS = (PNR_A, PNR_B)

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("  FAIL:", what, file=sys.stderr)


def pid(pnr):
    return hmac.new(KEY, pnr.encode(), hashlib.sha256).hexdigest()


def event_id(scope, key, what):
    h = hashlib.sha256(scope.encode() + b"\0" + key.encode() + b"\0"
                       + what.encode()).hexdigest()
    return "fhir-" + h[:32]


def utc(s):
    """A FHIR date or dateTime as vigil must read it, in UTC."""
    if len(s) == 10:
        t = dt.datetime.fromisoformat(s + "T00:00:00")
    else:
        t = dt.datetime.fromisoformat(s.replace("Z", "+00:00"))
    if t.tzinfo is None:
        t = t.replace(tzinfo=STHLM)
    t = t.astimezone(dt.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S") + (
        ".%03dZ" % (t.microsecond // 1000) if t.microsecond else "Z")


def age(birth, at_utc):
    b = dt.date.fromisoformat(birth)
    a = dt.datetime.fromisoformat(at_utc.replace("Z", "+00:00")) \
        .astimezone(STHLM).date()
    return a.year - b.year - ((a.month, a.day) < (b.month, b.day))


# ------------------------------------------------------------------
# Resources, built and validated by fhir.resources
# ------------------------------------------------------------------

def patient(pid_, pnr, birth, gender, district="0484", **kw):
    d = {"resourceType": "Patient", "id": pid_,
         "identifier": [{"system": "urn:oid:1.2.752.999.1",
                         "value": "MRN-" + pid_},
                        {"system": PNR_SYS, "value": pnr[:8] + "-" + pnr[8:]}],
         "gender": gender, "birthDate": birth,
         "address": [{"use": "home", "city": "Eskilstuna",
                      "district": district}]}
    d.update(kw)
    return Patient.parse_obj(d)


def condition(cid, subject, code):
    return Condition.parse_obj({
        "resourceType": "Condition", "id": cid,
        "subject": {"reference": "Patient/" + subject},
        "code": {"coding": [{"system": ICD10, "code": code}]}})


def encounter(eid, visit, status, subject, start, end=None, loc="MED3",
              priority="EM", disp=None, diagnosis=None, reason=None,
              subject_pnr=None, last_updated=None, cls="IMP"):
    d = {"resourceType": "Encounter", "id": eid,
         "identifier": [{"system": VISIT_SYS, "value": visit}],
         "status": status,
         "class": {"system": "http://terminology.hl7.org/CodeSystem/"
                   "v3-ActCode", "code": cls},
         "priority": {"coding": [{"system": "http://terminology.hl7.org/"
                                  "CodeSystem/v3-ActPriority",
                                  "code": priority}]},
         "period": {"start": start},
         "location": [{"location": {"identifier": {"value": loc}}}],
         "meta": {"source": "cosmic"}}
    if subject_pnr:
        d["subject"] = {"identifier": {"system": PNR_SYS,
                                       "value": subject_pnr}}
    else:
        d["subject"] = {"reference": "Patient/" + subject}
    if end:
        d["period"]["end"] = end
    if disp:
        d["hospitalization"] = {"dischargeDisposition": {"coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/"
                      "discharge-disposition", "code": disp}]}}
    if diagnosis:
        d["diagnosis"] = [{"condition": {"reference": "Condition/"
                                         + diagnosis}, "rank": 1}]
    if reason:
        d["reasonCode"] = [{"coding": [{"system": ICD10, "code": reason}]}]
    if last_updated:
        d["meta"]["lastUpdated"] = last_updated
    return Encounter.parse_obj(d)


def death_obs(oid, status, subject, when):
    return Observation.parse_obj({
        "resourceType": "Observation", "id": oid, "status": status,
        "code": {"coding": [{"system": "http://loinc.org",
                             "code": "81956-5"}]},
        "subject": {"reference": "Patient/" + subject},
        "valueDateTime": when})


def bundle(*resources):
    return Bundle.parse_obj({
        "resourceType": "Bundle", "type": "collection",
        "entry": [{"fullUrl": "urn:uuid:%s-%s" % (r.resource_type, r.id),
                   "resource": json.loads(r.json())} for r in resources]})


def line(model):
    """One NDJSON line as the library writes it, read back by it."""
    text = model.json()
    type(model).parse_raw(text)  # round trip through the validator
    check("\n" not in text, "a serialised resource spans lines")
    return text


# ------------------------------------------------------------------
# The story: (line, expected events) pairs
# ------------------------------------------------------------------

def story():
    A = dict(pid=pid(PNR_A), kommun="0484", birth="1945-03-10",
             sex="FEMALE")
    S = []
    pa = patient("pa", PNR_A, "1945-03-10", "female")
    # 1. Admitted (Bundle: Patient, Condition, Encounter).
    start1 = "2026-01-10T08:15:00+01:00"
    S.append((line(bundle(pa, condition("c1", "pa", "I50.9"),
                          encounter("e1", "V1001", "in-progress", "pa",
                                    start1, diagnosis="c1"))),
              [dict(A, type="admission", id=("admission", "V1001"),
                    at=start1, stay="V1001", fac="MED3", planned=False,
                    diag="HEART_FAILURE", source="fhir:cosmic")]))
    # 2. Discharged home: a lone Encounter, the patient by identifier
    #    (kommun from kommun.default, birth date from the personnummer).
    end1 = "2026-01-15T13:40:00+01:00"
    S.append((line(encounter("e1", "V1001", "finished", None, start1,
                             end=end1, disp="home",
                             subject_pnr=PNR_A[:8] + "-" + PNR_A[8:])),
              [dict(A, type="discharge", id=("discharge", "V1001"),
                    at=end1, stay="V1001", fac="MED3", disp="HOME",
                    kommun="0480")]))
    # 3. The admission re-sent: the same event id.
    S.append((S[0][0], [dict(S[0][1][0])]))
    # 4. Readmitted unplanned 17 days later ...
    start2 = "2026-02-01T10:00:00+01:00"
    S.append((line(bundle(pa, encounter("e2", "V1002", "in-progress", "pa",
                                        start2))),
              [dict(A, type="admission", id=("admission", "V1002"),
                    at=start2, stay="V1002", fac="MED3", planned=False,
                    diag="OTHER")]))
    # 5. ... but that Encounter was entered in error: both its events
    #    are cancelled.
    lu = "2026-02-02T09:00:00Z"
    S.append((line(bundle(pa, encounter("e2", "V1002", "entered-in-error",
                                        "pa", start2, last_updated=lu))),
              [dict(A, type="admission", cancels=("admission", "V1002"),
                    id=("entered-in-error admission", "V1002"), at=lu,
                    stay="V1002"),
               dict(A, type="discharge", cancels=("discharge", "V1002"),
                    id=("entered-in-error discharge", "V1002"), at=lu,
                    stay="V1002")]))
    # 6. A planned admission (priority EL), the group from reasonCode,
    #    in summer time.
    start3 = "2026-07-02T22:30:00+02:00"
    S.append((line(bundle(pa, encounter("e3", "V1003", "in-progress", "pa",
                                        start3, priority="EL",
                                        reason="J44.1", loc="PAL-2"))),
              [dict(A, type="admission", id=("admission", "V1003"),
                    at=start3, stay="V1003", fac="PAL-2", planned=True,
                    diag="COPD", care="PALLIATIVE_UNIT")]))
    # 7. She dies there: the Encounter finished as expired (a local time
    #    without offset) and the Patient deceased, with a cancer diagnosis,
    #    in one Bundle.
    end3 = "2026-07-05T03:00:00"
    died = "2026-07-05T02:40:00+02:00"
    pa_dead = patient("pa", PNR_A, "1945-03-10", "female",
                      deceasedDateTime=died)
    S.append((line(bundle(pa_dead, condition("c3", "pa", "C50.9"),
                          encounter("e3", "V1003", "finished", "pa", start3,
                                    end=end3, disp="exp", loc="PAL-2"))),
              [dict(A, type="death", id_raw=event_id("Patient", pid(PNR_A),
                                                     "death"),
                    at=died, place="PALLIATIVE_UNIT", diag="CANCER",
                    source="fhir"),
               dict(A, type="discharge", id=("discharge", "V1003"),
                    at=end3, stay="V1003", fac="PAL-2", disp="DIED",
                    care="PALLIATIVE_UNIT")]))
    # 8. A second patient's death Observation, then entered in error.
    B = dict(pid=pid(PNR_B), kommun="0486", birth="1938-04-05",
             sex="MALE")
    pb = patient("pb", PNR_B, "1938-04-05", "male", district="0486")
    when = "2026-08-01T14:00:00+02:00"
    S.append((line(bundle(pb, death_obs("o1", "final", "pb", when))),
              [dict(B, type="death", id=("death", "o1"), scope="Observation",
                    at=when, place="UNKNOWN", diag="OTHER", source="fhir")]))
    S.append((line(bundle(pb, death_obs("o1", "entered-in-error", "pb",
                                        when))),
              [dict(B, type="death", id=("entered-in-error death", "o1"),
                    scope="Observation", cancels=("death", "o1"), at=when,
                    place="UNKNOWN", source="fhir")]))
    return S


def check_event(n, ev, want):
    check(ev["type"] == want["type"], n + ": type %s" % ev["type"])
    check(ev["patient_id"] == want["pid"], n + ": patient_id is not the HMAC")
    check(ev["kommun"] == want["kommun"], n + ": kommun " + ev["kommun"])
    scope = want.get("scope", VISIT_SYS)
    if "id_raw" in want:
        check(ev["event_id"] == want["id_raw"], n + ": event_id")
    else:
        what, key = want["id"]
        check(ev["event_id"] == event_id(scope, key, what),
              n + ": event_id %s, want %s" % (ev["event_id"],
                                              event_id(scope, key, what)))
    if "cancels" in want:
        what, key = want["cancels"]
        check(ev.get("cancels_event_id") == event_id(scope, key, what),
              n + ": cancels_event_id")
    else:
        check(ev.get("cancels_event_id") is None, n + ": cancels")
    if STHLM is not None:
        check(ev["occurred_at"] == utc(want["at"]),
              n + ": occurred_at %s, want %s" % (ev["occurred_at"],
                                                 utc(want["at"])))
    check(ev["source_system"] == want.get("source", "fhir:cosmic"),
          n + ": source_system " + ev["source_system"])
    if "stay" in want:
        check(ev["stay_id"] == want["stay"], n + ": stay_id")
    if "fac" in want:
        check(ev["facility_id"] == want["fac"], n + ": facility_id")
    if ev["type"] in ("admission", "discharge"):
        check(ev["care_setting"] == want.get("care", "HOSPITAL_INPATIENT"),
              n + ": care_setting " + ev["care_setting"])
    if "planned" in want:
        check(ev["planned"] is want["planned"], n + ": planned")
    if ev["type"] in ("admission", "death") and "cancels" not in want:
        check(ev["age_years"] == age(want["birth"], ev["occurred_at"]),
              n + ": age_years %d" % ev["age_years"])
        if "diag" in want:
            check(ev["diagnosis_group"] == want["diag"],
                  n + ": diagnosis_group " + ev["diagnosis_group"])
        # A lone Encounter has no Patient: sex unknown.
        check(ev["sex"] == want["sex"], n + ": sex " + ev["sex"])
    if "disp" in want:
        check(ev["disposition"] == want["disp"],
              n + ": disposition " + ev["disposition"])
        check(ev["needs_coordination"] is False, n + ": needs_coordination")
    if "place" in want:
        check(ev["place_of_death"] == want["place"],
              n + ": place_of_death " + ev["place_of_death"])
        check(ev["expected"] is False, n + ": expected")


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


def no_pnr(texts, what):
    for t in texts:
        for p in PNRS:
            for spelt in (p, p[2:], p[:8] + "-" + p[8:],
                          p[2:8] + "-" + p[8:]):
                check(spelt not in t, what + ": personnummer in the output")


def alerts_of(vigil, env, tmp, name, lines):
    """READMISSION_30D alerts (anchor -> status) of vigil process on the
    converted lines, and the process stderr."""
    src = os.path.join(tmp, name + ".ndjson")
    with open(src, "w") as f:
        f.write("\n".join(lines) + "\n")
    c = run([vigil, "convert", "--from", "fhir", src], env=env)
    check(c.returncode == 0, name + ": convert exit %d: %s"
          % (c.returncode, c.stderr.strip()))
    evf = os.path.join(tmp, name + ".jsonl")
    with open(evf, "w") as f:
        f.write(c.stdout)
    af = os.path.join(tmp, name + ".alerts")
    p = run([vigil, "process", "--input", evf, "--alerts", af,
             "--indicators", os.devnull], env=env)
    check(p.returncode == 0, name + ": process exit %d: %s"
          % (p.returncode, p.stderr.strip()))
    out = {}
    with open(af) as f:
        for ln in f:
            a = json.loads(ln)
            if a["rule"] == "READMISSION_30D":
                out[a.get("readmission_stay_id")] = a["status"]
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vigil", required=True)
    args = ap.parse_args()
    vigil = os.path.abspath(args.vigil)
    check(FHIR_VERSION == "4.0.1", "fhir.resources is FHIR %s, not R4 4.0.1"
          % FHIR_VERSION)
    tmp = tempfile.mkdtemp(prefix="vigil-fhir-")
    import atexit
    import shutil
    atexit.register(shutil.rmtree, tmp, True)
    key_file = os.path.join(tmp, "key")
    with open(key_file, "wb") as f:
        f.write(KEY)
    os.chmod(key_file, 0o600)
    mapping = os.path.join(tmp, "site.properties")
    with open(mapping, "w") as f:
        f.write("# the site mapping HL7 uses too\nkommun.default=0480\n"
                "care_setting.location.PAL=PALLIATIVE_UNIT\n")
    conf = os.path.join(tmp, "site.conf")  # not ./vigil.conf: see "No key"
    with open(conf, "w") as f:
        f.write("pseudonym.key_file=%s\nhl7.mapping_file=%s\n"
                % (key_file, mapping))
    env = {k: v for k, v in os.environ.items()}
    env["VIGIL_CONFIG"] = conf
    os.chdir(tmp)

    S = story()
    inp = os.path.join(tmp, "story.ndjson")
    with open(inp, "w") as f:
        for text, _ in S:
            f.write(text + "\n")
    r = run([vigil, "convert", "--from", "fhir", inp], env=env)
    print(r.stderr, end="", file=sys.stderr)
    check(r.returncode == 0, "convert exit %d, want 0" % r.returncode)
    want = [w for _, ws in S for w in ws]
    events = [json.loads(x) for x in r.stdout.splitlines()]
    check(len(events) == len(want), "%d events, want %d"
          % (len(events), len(want)))
    no_pnr((r.stdout, r.stderr), "story")
    if len(events) != len(want):
        return 1
    for i, (ev, w) in enumerate(zip(events, want)):
        check_event("event %d (%s)" % (i + 1, w["type"]), ev, w)
    check(events[2]["event_id"] == events[0]["event_id"],
          "a re-sent Encounter must keep its event_id")

    # The events are valid input for the processor; the story's
    # readmission (V1002) is cancelled, so no READMISSION_30D stands.
    ctrl = [t for t, _ in S[:4]] + [t for t, _ in S[5:]]
    got = alerts_of(vigil, env, tmp, "control", ctrl)
    check(got.get("V1002") == "ACTIVE",
          "without the entered-in-error V1002 is a readmission: %r" % got)
    got = alerts_of(vigil, env, tmp, "after", [t for t, _ in S])
    check(got.get("V1002") in (None, "RETRACTED"),
          "entered-in-error after its target: %r" % got)
    before = [S[4][0]] + [t for t, _ in S[:4]] + [t for t, _ in S[5:]]
    got = alerts_of(vigil, env, tmp, "before", before)
    check(got.get("V1002") in (None, "RETRACTED"),
          "entered-in-error before its target: %r" % got)

    # Invalid resources: fhir.resources rejects each, vigil refuses each
    # with a clear error; the good line among them is still converted.
    pa = json.loads(patient("pa", PNR_A, "1945-03-10", "female").json())
    enc = json.loads(encounter("e9", "V9", "in-progress", "pa",
                               "2026-03-01T08:00:00+01:00").json())
    # (what, resource, vigil's message, fhir.resources rejects it too)
    bad = []
    x = dict(enc)
    del x["status"]
    bad.append(("Encounter", x, "Encounter.status: missing", True))
    x = dict(enc, period={"start": "2026-02-30T08:00:00+01:00"})
    bad.append(("Encounter", x, "Encounter.period.start: not a FHIR date",
                True))
    x = dict(pa, birthDate="1945-13-10")
    bad.append(("Patient", x, "Patient.birthDate: expected a full date",
                True))
    # Valid FHIR that vigil cannot use: fhir.resources does not check a
    # code against its value set, nor a personnummer's check digit.
    x = dict(enc, status="admitted")
    bad.append(("Encounter", x, "Encounter.status: \"admitted\" is not an R4 "
                "encounter status", False))
    x = dict(pa, identifier=[{"system": PNR_SYS, "value": "19121212-1213"}])
    bad.append(("Patient", x, "Patient.identifier: not a personnummer: "
                "invalid check digit", False))
    lines = []
    for kind, res, msg, lib_rejects in bad:
        model = {"Encounter": Encounter, "Patient": Patient}[kind]
        try:
            model.parse_obj(res)
            rejected = False
        except pydantic.ValidationError:
            rejected = True
        check(rejected == lib_rejects, "fhir.resources %s the %s (%s)"
              % ("accepts" if lib_rejects else "rejects", kind, msg))
        # The Encounter refers to the Patient: a Patient's fault shows
        # on the Encounter that needs it.
        p_ = res if kind == "Patient" else pa
        e_ = res if kind == "Encounter" else enc
        lines.append(json.dumps({"resourceType": "Bundle",
                                 "type": "collection",
                                 "entry": [{"resource": p_},
                                           {"resource": e_}]}))
    lines.append(S[0][0])
    lines.append("{\"resourceType\": \"Encounter\", 191212121212")
    badf = os.path.join(tmp, "bad.ndjson")
    with open(badf, "w") as f:
        f.write("\n".join(lines) + "\n")
    r = run([vigil, "convert", "--from", "fhir", badf], env=env)
    check(r.returncode == 3, "convert with invalid resources exit %d, want 3"
          % r.returncode)
    for i, (kind, res, msg, _) in enumerate(bad):
        where = "%s:%d entry 2 (Encounter/e9): " % (badf, i + 1)
        check(where + msg in r.stderr, "not refused clearly: %s%s\n%s"
              % (where, msg, r.stderr))
    check("%s:%d: not valid JSON" % (badf, len(bad) + 2) in r.stderr,
          "bad JSON not reported")
    check(len(r.stdout.splitlines()) == 1, "the good line not converted")
    no_pnr((r.stdout, r.stderr), "bad run")

    # No key: a usage error naming pseudonym.key_file.
    env2 = {k: v for k, v in env.items() if k != "VIGIL_CONFIG"}
    r = run([vigil, "convert", "--from", "fhir", inp], env=env2)
    check(r.returncode == 2 and "pseudonym.key_file" in r.stderr,
          "no key: exit %d %s" % (r.returncode, r.stderr.strip()))

    if failures:
        print("fhir_story: %d failures" % len(failures), file=sys.stderr)
        return 1
    print("fhir_story: %d lines, %d events, every event checked"
          % (len(S), len(want)))
    return 0


if __name__ == "__main__":
    here = os.getcwd()
    try:
        rc = main()
    finally:
        os.chdir(here)
    sys.exit(rc)
