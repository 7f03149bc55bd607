"""Helpers of tests/integration/0018-serve.sh (vigil serve).

Alerts are written to the alerts topic by an independent encoder (fastavro,
the schema file and the single-object header) and kcat; the server is read
with http.client and its Server-Sent Events with the PyPI sseclient-py
parser, not with anything of Vigil's.
"""
import re
import http.client
import io
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from fastavro import parse_schema, schemaless_writer  # noqa: E402
from fastavro.schema import fingerprint, to_parsing_canonical_form  # noqa: E402
import sseclient  # noqa: E402
import topics  # noqa: E402

_SCHEMA = parse_schema(json.load(open(os.path.join(topics.SRC, "schemas", "Alert.avsc"))))
_FP = bytes.fromhex(fingerprint(to_parsing_canonical_form(_SCHEMA), "CRC-64-AVRO"))
FIELDS = [f["name"] for f in json.load(open(os.path.join(topics.SRC, "schemas", "Alert.avsc")))["fields"]]


def alert(aid, kommun, rule="SIP_OVERDUE", status="ACTIVE", **kw):
    """An Alert record (dict) of kommun with the fields its rule has."""
    now = int(time.time() * 1000)
    rec = {f: None for f in FIELDS}
    rec.update(alert_id=aid, rule=rule, status=status, anchor="a-" + aid,
               emitted_at=now)
    if rule != "INDICATOR_BELOW_TARGET":
        rec.update(patient_id="p-" + aid, kommun=kommun, region=kommun[:2])
    if rule == "SIP_OVERDUE":
        rec.update(stay_id="s-" + aid, discharged_at=now - 4 * 86400000,
                   deadline=now - 86400000)
    elif rule == "READMISSION_30D":
        rec.update(index_stay_id="s1-" + aid, index_discharged_at=now - 10 * 86400000,
                   readmission_stay_id="s2-" + aid, readmitted_at=now - 86400000,
                   days_between=9)
    elif rule == "DEATH_NOT_REGISTERED":
        rec.update(died_at=now - 40 * 86400000, deadline=now - 10 * 86400000,
                   place_of_death="HOME")
    rec.update(kw)
    return rec


def encode(rec):
    bio = io.BytesIO()
    schemaless_writer(bio, _SCHEMA, rec)
    return b"\xc3\x01" + _FP + bio.getvalue()


def produce(bootstrap, topic, recs, tombstones=()):
    """Publishes each record keyed by its alert_id (murmur2, as Vigil)."""
    with tempfile.TemporaryDirectory() as d:
        for i, rec in enumerate(recs):
            p = os.path.join(d, "m%d" % i)
            with open(p, "wb") as f:
                f.write(encode(rec))
            subprocess.run(["kcat", "-P", "-b", bootstrap, "-t", topic, "-k",
                            rec["alert_id"], "-X", "topic.partitioner=murmur2_random", p],
                           check=True)
        for key in tombstones:
            subprocess.run(["kcat", "-P", "-b", bootstrap, "-t", topic, "-k", key, "-Z",
                            "-X", "topic.partitioner=murmur2_random"],
                           input=b"\n", check=True)


def alert_place(a):
    """(kommun, area) by which an alert is seen (docs/SERVE.md): an
    INDICATOR_BELOW_TARGET by its area, a patient's alert by its kommun,
    whatever its other field says."""
    if a["rule"] == "INDICATOR_BELOW_TARGET":
        return None, a["area"]
    return a["kommun"], None


_PNR = re.compile(r"(?<![0-9A-Za-z])(?:\d{2})?\d{2}(\d{2})(\d{2})[-+]?\d{4}(?![0-9A-Za-z])")


def holds_pnr(a):
    """Does a string of the alert hold a personnummer (SPEC §8: a
    date YYMMDD, day + 60 for a samordningsnummer, then four digits)? Such
    an alert is served to nobody."""
    for f in a:
        if not isinstance(a[f], str):
            continue
        for m in _PNR.finditer(a[f]):
            mo, d = int(m.group(1)), int(m.group(2))
            if 1 <= mo <= 12 and (1 <= d <= 31 or 61 <= d <= 91):
                return True
    return False


def visible(ent, kommun, area):
    """The entitlement rule of docs/SERVE.md, written again: an alert that
    names an area is seen as that area; otherwise by its kommun."""
    code = area or kommun
    if ent == ["SE"]:
        return True
    if not code or code == "SE":
        return False
    for a in ent:
        if code == a or (len(code) == 4 and len(a) == 2 and code.startswith(a)):
            return True
    return False


class Server:
    def __init__(self, base):
        host, port = base.rsplit(":", 1)
        self.host, self.port = host, int(port)

    def request(self, path, token=None, headers=None, source=None, method="GET", body=None):
        c = http.client.HTTPConnection(self.host, self.port, timeout=30,
                                       source_address=(source, 0) if source else None)
        h = dict(headers or {})
        if token is not None:
            h["Authorization"] = "Bearer " + token
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        data = r.read()
        c.close()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, data

    def json(self, path, token):
        st, _, body = self.request(path, token)
        assert st == 200, (path, st, body[:200])
        return json.loads(body)

    def stream(self, token, last_id=None, query="", timeout=20):
        """(connection, events iterator) of /alerts/stream."""
        c = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        h = {"Authorization": "Bearer " + token, "Accept": "text/event-stream"}
        if last_id is not None:
            h["Last-Event-ID"] = last_id
        c.request("GET", "/alerts/stream" + query, headers=h)
        r = c.getresponse()
        assert r.status == 200, r.status
        assert r.getheader("Content-Type").startswith("text/event-stream")
        return c, sseclient.SSEClient(r).events()


def wait_healthy(srv, seconds=60):
    t = time.time()
    while time.time() - t < seconds:
        try:
            if srv.request("/healthz")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit("FAIL: /healthz not 200 within %d s" % seconds)
