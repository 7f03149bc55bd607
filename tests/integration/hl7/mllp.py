#!/usr/bin/env python3
"""mllp.py - the sending side of tests/integration/0017-hl7-listen.sh: HL7
v2 ADT messages built with python-hl7 (the PyPI "hl7" package, an
independent implementation) and sent with its MLLP client
(hl7.client.MLLPClient); every ACK is parsed with hl7.parse and checked:
MSA-1 the expected code, MSA-2 the message's MSH-10, sending and receiving
application and facility swapped, MSH-9 ACK^<trigger>^ACK, ERR (table 0357,
severity E) on AE and AR, MLLP framing, no personnummer.

Subcommands (exit 1 with "FAIL: ..." lines on any mismatch):
  gen DIR                      message sets as MLLP-framed files DIR/SET.hl7
                               and their personnummer in DIR/pnr.txt
  send PORT FILE CODE [ERR]    one connection, one message at a time; every
                               ACK must be CODE (AA, AE, AR), ERR-3 ERR
  concurrent PORT FILE FILE    two connections open at once, sending in
                               turns: every ACK AA
  pipeline PORT FILE           all messages of FILE and a garbage frame
                               in one write; ACKs in order (AA.., AR, AA..)
  refusals PORT MAXBYTES FILE  A40, ORU^R01, garbage, a message longer than
                               MAXBYTES, PID-3 missing, version 3: each AR
                               with its code; then FILE on the same
                               connection: AA
  inflight PORT FILE OUT       send the one message of FILE, wait up to 60 s
                               for the ACK, write its MSA-1 (or "none") to OUT
  limits PORT IDLE_MS          hl7.max_connections=2 and idle timeout: a
                               third connection is closed at once, idle
                               ones after IDLE_MS, not before
  metrics URL NAME=VALUE...    /metrics parsed by prometheus_client; each
                               sample NAME (with {labels}) must equal VALUE
  compare DIR                  topics read back (DIR/*.dump, kcat) against
                               the JSON path (see the shell script)
"""
import base64
import datetime as dt
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request

import hl7
from hl7.client import MLLPClient

SB, EB, CR = b"\x0b", b"\x1c", b"\x0d"
FAILURES = []


def fail(msg):
    FAILURES.append(msg)
    print("FAIL: " + msg, file=sys.stderr)


def done():
    if FAILURES:
        print("mllp.py: %d failure(s)" % len(FAILURES), file=sys.stderr)
        sys.exit(1)


# --- messages ----------------------------------------------------------------

TEMPLATE = ("MSH|^~\\&|X|X|VIGIL|REG|20260101000000||ADT^A01^ADT_A01|X|P|2.5\r"
            "EVN|A01|20260101000000\r"
            "PID|1||X^^^SKV^PN||Efternamn^Förnamn||19400101|F|||"
            "Gatan 1^^Ort^^00000^SE^H^^0000\r"
            "PV1|1|I|X^^^X|X\r"
            "DG1|1||X^diagnos^I10\r")


def luhn_digit(nine):
    s = 0
    for i, ch in enumerate(nine):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        s += d - 9 if d > 9 else d
    return str((10 - s % 10) % 10)


def pnr(birth, serial):
    """A valid personnummer YYYYMMDDNNNC for birth (date), serial 3 digits."""
    ten = birth.strftime("%y%m%d") + "%03d" % serial
    return birth.strftime("%Y%m%d") + "%03d" % serial + luhn_digit(ten[:9])


class Patient:
    def __init__(self, n):
        self.birth = dt.date(1930 + n % 40, 1 + n % 12, 1 + (3 * n) % 28)
        self.pnr = pnr(self.birth, 100 + n)
        self.sex = "FM"[n % 2]
        self.kommun = ["0484", "0480", "0180", "1480"][n % 4]
        self.n = n


def hl7_time(t):
    return t.strftime("%Y%m%d%H%M")


BASE = dt.datetime.now().replace(hour=12, minute=0, second=0,
                                 microsecond=0) - dt.timedelta(days=40)


def build(trigger, ctrl, p, visit, when, location="MED3", adm_type="C",
          disp="", dg="I50.9", fac="MSE", app="HIS-A"):
    m = hl7.parse(TEMPLATE)
    m["MSH.F3"] = app
    m["MSH.F4"] = fac   # raw: "NS^OID^ISO" gives the HD components
    m["MSH.F9.R1.C2"] = trigger
    m["MSH.F10"] = ctrl
    m["EVN.F1"] = trigger
    m["EVN.F2"] = hl7_time(when)
    m["PID.F3.R1.C1"] = p.pnr[:8] + "-" + p.pnr[8:]
    m["PID.F7"] = p.birth.strftime("%Y%m%d")
    m["PID.F8"] = p.sex
    m["PID.F11.R1.C9"] = p.kommun
    m["PV1.F3.R1.C1"] = m.escape(location)
    m["PV1.F4"] = adm_type
    m["PV1.F19"] = visit
    if disp:
        m["PV1.F36"] = disp
    m["DG1.F3.R1.C1"] = dg
    return str(m)


def stay(pfx, p, k, days, location="MED3", disp="01", dg="I50.9",
         fac="MSE"):
    """A01 and A03 of one visit of p, control ids pfx-k-A01/A03."""
    visit = "V%d%02d" % (p.n, k)
    t = BASE + dt.timedelta(days=days + p.n % 5)
    return [build("A01", "%s-%d-%d-A01" % (pfx, p.n, k), p, visit, t,
                  location=location, dg=dg, fac=fac),
            build("A03", "%s-%d-%d-A03" % (pfx, p.n, k), p, visit,
                  t + dt.timedelta(days=3, hours=2), location=location,
                  disp=disp, fac=fac)]


def sets():
    P = {i: Patient(i) for i in range(1, 21)}
    s = {}
    story = []
    story += stay("S", P[1], 1, 0, location="PAL2", disp="51", dg="C34.1")
    # P1 re-sent A01 with a new control id: a duplicate of the first.
    story.append(build("A01", "S-1-1-A01-again", P[1], "V101",
                       BASE + dt.timedelta(days=0 + 1), location="PAL2",
                       dg="C34.1"))
    story += stay("S", P[2], 1, 2, dg="J44.1")
    story.append(build("A11", "S-2-1-A11", P[2], "V201",
                       BASE + dt.timedelta(days=30)))   # cancels P2's A01
    story += stay("S", P[3], 1, 4, location="ASIH1", disp="04", dg="F03")
    story.append(build("A13", "S-3-1-A13", P[3], "V301",
                       BASE + dt.timedelta(days=30)))   # cancels P3's A03
    story += stay("S", P[4], 1, 6, disp="20")
    story.append(build("A08", "S-4-1-A08", P[4], "V401",
                       BASE + dt.timedelta(days=20)))   # skipped: AA
    story += stay("S", P[4], 2, 12, dg="N18.5")
    s["story"] = story
    s["conc-a"] = sum((stay("CA", P[i], 1, i) for i in (5, 6, 7)), [])
    # MSH-4 with components (HD: namespace^OID^ISO): echoed whole.
    s["conc-b"] = sum((stay("CB", P[i], 1, i, fac="MSE^1.2.752.29^ISO")
                       for i in (8, 9, 10)), [])
    s["pipeline"] = stay("PL", P[11], 1, 3)
    s["good"] = stay("G", P[12], 1, 5)[:1]
    s["retry"] = stay("R", P[13], 1, 7) + stay("R", P[14], 1, 8)
    s["inflight"] = stay("I", P[15], 1, 9)[:1]
    return s, P


def write_framed(path, msgs):
    with open(path, "wb") as f:
        for m in msgs:
            f.write(SB + m.encode() + EB + CR)


def read_framed(path):
    data = open(path, "rb").read()
    out = []
    for part in data.split(EB + CR):
        part = part.strip(b"\r\n")
        if part:
            assert part.startswith(SB), "not MLLP framed: " + path
            out.append(part[1:].decode())
    return out


# --- sending -----------------------------------------------------------------

class Client(MLLPClient):
    """python-hl7's MLLP client, reading an ACK until its end block (its own
    send() trusts one recv()). Timeouts fail the test instead of hanging."""

    def __init__(self, port, timeout=60):
        MLLPClient.__init__(self, "127.0.0.1", port)
        self.socket.settimeout(timeout)
        self.buf = b""

    def send(self, data):
        self.socket.sendall(data)
        return self.read_ack()

    def read_ack(self):
        while EB + CR not in self.buf:
            chunk = self.socket.recv(4096)
            if not chunk:
                raise ConnectionError("connection closed before the ACK")
            self.buf += chunk
        frame, self.buf = self.buf.split(EB + CR, 1)
        return frame + EB + CR


PNRS = []


def load_pnrs(path):
    for line in open(path):
        PNRS.extend(line.split())


def msh(m, n):
    """MSH-n as sent, components and all (m["MSH.Fn"] is the first
    component only)."""
    seg = m.segment("MSH")
    return str(seg[n]) if n < len(seg) else ""


def check_ack(raw, msg, code, err=None, what=""):
    """Checks one MLLP-framed ACK of msg (None: a frame with no usable MSH).
    Returns (MSA-1, MSA-3)."""
    n = what or "ACK"
    if not (raw.startswith(SB) and raw.endswith(EB + CR)):
        fail(n + ": not MLLP framed: %r" % raw[:40])
        return None, None
    body = raw[1:-2]
    if SB in body or EB in body:
        fail(n + ": MLLP bytes inside the ACK")
    text = body.decode("utf-8")
    for p in PNRS:
        if p in text or p[2:] in text or p[:8] in text:
            fail(n + ": a personnummer in the ACK")
    a = hl7.parse(text.rstrip("\r"))
    msa1, msa2 = str(a["MSA.F1"]), str(a["MSA.F2"])
    msa3 = str(a["MSA.F3"]) if len(a.segment("MSA")) > 3 else ""
    if msa1 != code:
        fail("%s: MSA-1 %s, want %s (%s)" % (n, msa1, code, msa3))
    if msh(a, 9) != "ACK" and not msh(a, 9).startswith("ACK^"):
        fail(n + ": MSH-9 " + msh(a, 9))
    if msg is not None:
        m = hl7.parse(msg)
        if msa2 != msh(m, 10):
            fail("%s: MSA-2 %r, want MSH-10 %r" % (n, msa2, msh(m, 10)))
        for ours, theirs in ((3, 5), (4, 6), (5, 3), (6, 4)):
            if msh(a, ours) != msh(m, theirs):
                fail("%s: ACK MSH-%d %r != message MSH-%d %r"
                     % (n, ours, msh(a, ours), theirs, msh(m, theirs)))
        want9 = "ACK^%s^ACK" % str(m["MSH.F9.R1.C2"])
        if msh(a, 9) != want9:
            fail(n + ": MSH-9 %s, want %s" % (msh(a, 9), want9))
        ver = msh(m, 12)
        if msh(a, 12) != (ver if ver.startswith("2.") else "2.5"):
            fail(n + ": MSH-12 %s for a message of %s" % (msh(a, 12), ver))
    elif msa2:
        fail(n + ": MSA-2 %r for a frame without MSH-10" % msa2)
    if code == "AA":
        if len(a) != 2:
            fail(n + ": AA with %d segments" % len(a))
    else:
        try:
            e = a.segment("ERR")
        except KeyError:
            fail(n + ": %s without ERR" % code)
            return msa1, msa3
        if str(e[4]) != "E" or str(a["ERR.F3.R1.C3"]) != "HL70357":
            fail(n + ": ERR-3/ERR-4 %s %s" % (str(e[3]), str(e[4])))
        if err is not None and str(a["ERR.F3.R1.C1"]) != str(err):
            fail("%s: ERR-3 %s, want %s (%s)" % (n, str(a["ERR.F3.R1.C1"]),
                                                 err, msa3))
        if not msa3:
            fail(n + ": %s without a reason in MSA-3" % code)
    return msa1, msa3


def cmd_gen(d):
    s, P = sets()
    for name, msgs in s.items():
        write_framed(os.path.join(d, name + ".hl7"), msgs)
    with open(os.path.join(d, "pnr.txt"), "w") as f:
        f.write(" ".join(p.pnr for p in P.values()) + "\n")


def cmd_send(port, path, code, err=None):
    msgs = read_framed(path)
    with Client(port) as c:
        for i, m in enumerate(msgs):
            t0 = time.time()
            raw = c.send_message(m)
            a1, a3 = check_ack(raw, m, code, err, "%s #%d" % (path, i + 1))
            trig = str(hl7.parse(m)["MSH.F9.R1.C2"])
            if trig == "A08" and "skipped" not in (a3 or ""):
                fail("A08: AA without saying it was skipped: %r" % a3)
            print("%s %s %.2fs %s" % (str(hl7.parse(m)["MSH.F10"]), a1,
                                      time.time() - t0, a3))


def cmd_concurrent(port, p1, p2):
    sets_ = [read_framed(p1), read_framed(p2)]
    clients = [Client(port), Client(port)]   # both open before any send
    barrier = threading.Barrier(2)

    def run(k):
        barrier.wait()
        for i, m in enumerate(sets_[k]):
            check_ack(clients[k].send_message(m), m, "AA",
                      what="connection %d #%d" % (k + 1, i + 1))
            time.sleep(0.02)

    th = [threading.Thread(target=run, args=(k,)) for k in (0, 1)]
    for t in th:
        t.start()
    for t in th:
        t.join()
    for c in clients:
        c.close()
    print("concurrent: %d + %d messages" % (len(sets_[0]), len(sets_[1])))


def cmd_pipeline(port, path):
    msgs = read_framed(path)
    frames = [SB + m.encode() + EB + CR for m in msgs]
    half = len(frames) // 2
    # A02 is refused at once, while the messages before it wait for Kafka:
    # its AR must still come after their AAs.
    seq = frames[:half] + [SB + b"not hl7 at all" + EB + CR] + frames[half:]
    want = [(m, "AA") for m in msgs[:half]] + [(None, "AR")] + \
        [(m, "AA") for m in msgs[half:]]
    with Client(port) as c:
        c.socket.sendall(b"".join(seq))
        for i, (m, code) in enumerate(want):
            check_ack(c.read_ack(), m, code,
                      100 if m is None else None, "pipelined #%d" % (i + 1))
    print("pipeline: %d ACKs in order" % len(want))


def cmd_refusals(port, maxbytes, good):
    _, P = sets()
    p = P[16]
    when = BASE + dt.timedelta(days=1)
    cases = []
    m = build("A40", "RF-A40", p, "V9", when)
    cases.append((m, m, 201, "A40 merge is not supported"))
    m = hl7.parse(build("A01", "RF-ORU", p, "V9", when))
    m["MSH.F9"] = "ORU^R01^ORU_R01"
    cases.append((str(m), str(m), 200, "ORU"))
    cases.append(("this is not HL7", None, 100, "not an HL7 v2 message"))
    m = build("A01", "RF-BIG", p, "V9", when)
    big = m + "\rNTE|1||" + "x" * (maxbytes + 100)
    # (its MSH kept: MSA-2 names it)
    cases.append((big, m, None, "longer than %d bytes" % maxbytes))
    # one frame is one message: two in one are refused, neither stored
    # (step 4 finds no event of RF-TWO-1 or RF-TWO-2)
    m = build("A01", "RF-TWO-1", p, "V9", when)
    two = m + "\r" + build("A01", "RF-TWO-2", p, "V8", when)
    cases.append((two, m, 100, "2 messages (MSH segments) in one MLLP frame"))
    m = hl7.parse(build("A01", "RF-NOPID3", p, "V9", when))
    m["PID.F3"] = ""
    cases.append((str(m), str(m), 101, "PID-3: missing"))
    m = hl7.parse(build("A01", "RF-V3", p, "V9", when))
    m["MSH.F12"] = "3.0"
    cases.append((str(m), str(m), 203, "version"))
    with Client(port) as c:
        for i, (send, echo, err, reason) in enumerate(cases):
            a1, a3 = check_ack(c.send_message(send), echo, "AR", err,
                               "refusal #%d" % (i + 1))
            if reason not in (a3 or ""):
                fail("refusal #%d: MSA-3 %r does not say %r" % (i + 1, a3,
                                                                reason))
            print("refused: %s -> %s %s" % (reason, a1, a3))
        for m in read_framed(good):
            check_ack(c.send_message(m), m, "AA", what="after the refusals")
        # MSH-9.2 empty: the trigger is EVN-1 (docs/HOSPITAL.md §2), in the
        # ACK's MSH-9 too (an A08: answered AA, nothing stored)
        m = hl7.parse(build("A08", "RF-EVN", p, "V9", when))
        m["MSH.F9"] = "ADT"
        a = hl7.parse(c.send_message(str(m))[1:-2].decode().rstrip("\r"))
        if str(a["MSA.F1"]) != "AA" or msh(a, 9) != "ACK^A08^ACK" or \
                str(a["MSA.F2"]) != "RF-EVN":
            fail("EVN-1 trigger: %s MSH-9 %s MSA-2 %s" % (
                str(a["MSA.F1"]), msh(a, 9), str(a["MSA.F2"])))


def cmd_noread(port, secs):
    """Sends A08s (answered at once) pipelined for secs seconds and never
    reads an ACK, with a small receive buffer; prints how many were
    sent."""
    _, P = sets()
    one = SB + build("A08", "NR-1", P[16], "V9",
                     BASE + dt.timedelta(days=1)).encode() + EB + CR
    data, buf, sent = one * 200, b"", 0
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", port))
    s.setblocking(False)
    t0 = time.time()
    while time.time() - t0 < secs:
        if not buf:
            buf = data
        try:
            n = s.send(buf)
            buf, sent = buf[n:], sent + n
        except BlockingIOError:
            time.sleep(0.01)
    print("noread: %d messages sent" % (sent // len(one)))
    s.close()


def cmd_inflight(port, path, out):
    m = read_framed(path)[0]
    code = "none"
    try:
        with Client(port, timeout=60) as c:
            a1, _ = check_ack(c.send_message(m), m, "AE", 207, "in flight")
            code = a1
    except Exception as e:  # the test says what it expected
        code = "none (%s)" % e
    with open(out, "w") as f:
        f.write(code + "\n")


def closed_within(sock, secs):
    """True if the server closes sock within secs (recv gives b"")."""
    sock.settimeout(secs)
    try:
        return sock.recv(100) == b""
    except socket.timeout:
        return False
    except ConnectionError:
        return True


def cmd_limits(port, idle_ms):
    idle = idle_ms / 1000.0
    c1 = socket.create_connection(("127.0.0.1", port))
    c2 = socket.create_connection(("127.0.0.1", port))
    time.sleep(0.3)
    c3 = socket.create_connection(("127.0.0.1", port))
    if not closed_within(c3, 2):
        fail("a third connection was not closed (hl7.max_connections=2)")
    t0 = time.time()
    if closed_within(c1, idle * 0.4):
        fail("an idle connection closed before hl7.idle_timeout_ms")
    if not closed_within(c1, idle + 3) or not closed_within(c2, 1):
        fail("idle connections not closed after hl7.idle_timeout_ms")
    print("limits: third refused, idle closed after %.1fs" %
          (time.time() - t0 + 0.3))
    for c in (c1, c2, c3):
        c.close()


def cmd_metrics(url, wants):
    from prometheus_client.parser import text_string_to_metric_families
    text = urllib.request.urlopen(url, timeout=10).read().decode()
    samples = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            key = s.name + ("{%s}" % ",".join(
                "%s=%s" % kv for kv in sorted(s.labels.items()))
                if s.labels else "")
            samples[key] = s.value
    for w in wants:
        k, v = w.rsplit("=", 1)
        if samples.get(k) != float(v):
            fail("metric %s = %s, want %s" % (k, samples.get(k), v))
    print("metrics: %d checked" % len(wants))


# --- reading the topics back -------------------------------------------------

def read_dump(path):
    """kcat -f '%p %K %S\\n%k%s\\n' output: [(partition, key, value)]."""
    data = open(path, "rb").read()
    out, i = [], 0
    while i < len(data):
        nl = data.index(b"\n", i)
        p, klen, vlen = (int(x) for x in data[i:nl].split())
        i = nl + 1
        key = data[i:i + max(klen, 0)]
        i += max(klen, 0)
        val = data[i:i + vlen]
        i += vlen
        assert data[i:i + 1] == b"\n", "bad dump " + path
        i += 1
        out.append((p, key.decode(), base64.b64encode(val).decode()))
    return sorted(out)


def cmd_compare(d, vigil):
    expected = [json.loads(l) for l in open(os.path.join(d, "expected.jsonl"))]
    got = []
    for role in ("adm", "dis"):
        lst = read_dump(os.path.join(d, "L.%s.dump" % role))
        ref = read_dump(os.path.join(d, "P.%s.dump" % role))
        if lst != ref:
            fail("%s: the listener's records (partition, key, value bytes) "
                 "differ from vigil produce's of the same events: %d vs %d"
                 % (role, len(lst), len(ref)))
        for p, k, v in lst:
            r = subprocess.run([vigil, "codec", "decode", "--raw"],
                               input=base64.b64decode(v), capture_output=True)
            if r.returncode:
                fail("a record does not decode: " + r.stderr.decode())
                continue
            ev = json.loads(r.stdout)
            if ev["patient_id"] != k:
                fail("key %s != patient_id %s" % (k, ev["patient_id"]))
            got.append(ev)
    canon = lambda evs: sorted(json.dumps(e, sort_keys=True) for e in evs)
    if canon(got) != canon(expected):
        fail("the events on the topics (%d) differ from vigil convert's "
             "(%d)" % (len(got), len(expected)))
        for x in sorted(set(canon(got)) ^ set(canon(expected)))[:6]:
            print("  differs: " + x, file=sys.stderr)
    ids = {}
    for e in got:
        ids[e["event_id"]] = ids.get(e["event_id"], 0) + 1
    # The events of the messages answered AE and then sent again: once
    # each (the AE'd attempt stored nothing).
    for eid in open(os.path.join(d, "retry.ids")).read().split():
        if ids.get(eid, 0) != 1:
            fail("retried event %s is on the topics %d times, want 1"
                 % (eid, ids.get(eid, 0)))
    print("compare: %d events, byte-equal to vigil produce's, equal to "
          "vigil convert's" % len(got))


def main():
    a = sys.argv[1:]
    here = os.environ.get("HL7_DIR")
    if here and os.path.exists(os.path.join(here, "pnr.txt")):
        load_pnrs(os.path.join(here, "pnr.txt"))
    cmd = a[0]
    if cmd == "gen":
        cmd_gen(a[1])
    elif cmd == "send":
        cmd_send(int(a[1]), a[2], a[3], int(a[4]) if len(a) > 4 else None)
    elif cmd == "concurrent":
        cmd_concurrent(int(a[1]), a[2], a[3])
    elif cmd == "pipeline":
        cmd_pipeline(int(a[1]), a[2])
    elif cmd == "refusals":
        cmd_refusals(int(a[1]), int(a[2]), a[3])
    elif cmd == "noread":
        cmd_noread(int(a[1]), float(a[2]))
    elif cmd == "inflight":
        cmd_inflight(int(a[1]), a[2], a[3])
    elif cmd == "limits":
        cmd_limits(int(a[1]), int(a[2]))
    elif cmd == "metrics":
        cmd_metrics(a[1], a[2:])
    elif cmd == "compare":
        cmd_compare(a[1], a[2])
    else:
        sys.exit("unknown subcommand " + cmd)
    done()


if __name__ == "__main__":
    main()
