#!/usr/bin/env python3
"""tests/bench/latency.py VIGIL BOOTSTRAP PREFIX [RATE] [SECONDS] [WARMUP]
                        [-X key=value ...]

Alert latency at a steady rate (issue 11, figure 6): `vigil process` runs
live on fresh topics while this script writes events to `vigil produce` at
RATE events/s (default 5000) for SECONDS (default 20), each event's
occurred_at the wall clock when it is written. Every 10th patient is
readmitted one second after a discharge (READMISSION_30D, raised as soon
as the watermark reaches the admission: at once in live operation); the
others are admitted and discharged. The latency of an alert is its record's
timestamp on the alerts topic (set when Vigil's publisher produced it)
minus the time the admission that raised it was written to `vigil
produce`: produce, broker, consume, the rules, the batch commit, the
outbox, publish. Alerts of admissions written in the first WARMUP seconds
(default 10) are left out: at start the topics that have delivered nothing
hold the watermark until they are caught up (stream.idle_ms, 5 s).

The record's timestamp is taken before Vigil's Kafka transaction commits
it; a reader with isolation.level=read_committed (librdkafka's default,
`vigil alerts`) sees the alert only after that commit. So a second figure:
the time a kcat reader on the same machine (read_committed,
fetch.wait.max.ms 5) received the alert, minus the same write time.

What a plain consumer on the same machine sees of the input, in the same
run: a kcat reader of the admissions topic (read_committed, fetch.wait.max.ms
5), each record's arrival minus its timestamp (set when `vigil produce`
produced it), for the records written after the warm-up. Most of an
alert's latency is this path (produce, broker, fetch), which Vigil cannot
shorten: read the alert figures against it.

Arguments after WARMUP go to `vigil process` (the benchmark runs it
again with -X batch.linger_ms=0, and with -X changelog.enabled=false: no
Kafka transactions).

The CPU time and bytes written of `vigil process` (/proc/PID/stat, io)
from the end of the warm-up to 10 s after the last event was written,
per event written in that time: what the steady rate costs (bytes the
kernel counts as written to storage: 0 if the state is on tmpfs).

Prints one line: "N p50_ms p99_ms max_ms visible_p50_ms visible_p99_ms
visible_max_ms cpu_us_per_event written_bytes_per_event input_p50_ms
input_p99_ms".
"""
import hashlib, json, os, subprocess, sys, tempfile, threading, time

vigil, bootstrap, prefix = sys.argv[1:4]
rate = int(sys.argv[4]) if len(sys.argv) > 4 else 5000
seconds = int(sys.argv[5]) if len(sys.argv) > 5 else 20
warmup = int(sys.argv[6]) if len(sys.argv) > 6 else 10
extra = sys.argv[7:]
S = prefix
T = ["-b", bootstrap]
for k, v in (("admissions", "adm"), ("discharges", "dis"), ("deaths", "dea"),
             ("sip", "sip"), ("register", "reg"), ("alerts", "alerts"),
             ("indicator_parts", "parts"), ("indicators", "ind"),
             ("dlq", "dlq")):
    T += ["-X", "topic.%s=%s.%s" % (k, S, v)]
tmp = tempfile.mkdtemp(prefix="vigil-latency-")
subprocess.run([vigil, "topics", "create", "-p", "6"] + T, check=True,
               stdout=subprocess.DEVNULL)
plog = open(os.path.join(tmp, "process.log"), "w")
proc = subprocess.Popen([vigil, "process"] + T +
                        ["-X", "state.dir=" + os.path.join(tmp, "state"),
                         "-X", "group.id=%s.g" % S] + extra, stderr=plog)
t0 = time.time()
while "assigned" not in open(plog.name).read():
    if time.time() - t0 > 60 or proc.poll() is not None:
        sys.exit("latency: vigil process did not start: " +
                 open(plog.name).read()[-500:])
    time.sleep(0.1)
def kcat_reader(topic, start, fmt, log, take):
    """A kcat reader of topic (read_committed, fetch.wait.max.ms 5) from
    start, on a thread that calls take(arrival time, line) per record."""
    r = subprocess.Popen(["kcat", "-C", "-b", bootstrap, "-t", topic,
                          "-o", start, "-u", "-q", "-f", fmt,
                          "-X", "isolation.level=read_committed",
                          "-X", "fetch.wait.max.ms=5"],
                         stdout=subprocess.PIPE,
                         stderr=open(os.path.join(tmp, log), "w"))
    def run():
        for l in r.stdout:
            take(time.time(), l.decode().strip())
    thr = threading.Thread(target=run, daemon=True)
    thr.start()
    return r, thr
# The reader: each alert's key, stamped when it arrives.
seen_at = {}
reader, reader_thr = kcat_reader(
    S + ".alerts", "beginning", "%k\n", "reader.log",
    lambda at, key: seen_at.setdefault(key, at))
# The input as a plain consumer sees it: (arrival, record timestamp).
input_seen = []
ireader, ireader_thr = kcat_reader(
    S + ".adm", "end", "%T\n", "ireader.log",
    lambda at, ts: input_seen.append((at, int(ts))))
prod = subprocess.Popen([vigil, "produce"] + T, stdin=subprocess.PIPE,
                        stderr=open(os.path.join(tmp, "produce.log"), "w"))

def usage(pid):
    """(CPU seconds, bytes written) of a process so far."""
    st = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    cpu = (int(st[11]) + int(st[12])) / os.sysconf("SC_CLK_TCK")
    wb = 0
    for l in open("/proc/%d/io" % pid):
        if l.startswith("write_bytes:"):
            wb = int(l.split()[1])
    return cpu, wb

def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + \
        ".%03dZ" % int((t % 1) * 1000)

def ev(kind, eid, pid, stay, t, **kw):
    e = {"type": kind, "event_id": eid, "patient_id": pid,
         "occurred_at": iso(t), "kommun": "0484", "source_system": "bench",
         "stay_id": stay, "facility_id": "f",
         "care_setting": "HOSPITAL_INPATIENT"}
    e.update(kw)
    return json.dumps(e, separators=(",", ":")) + "\n"

adm = dict(planned=False, age_years=80, sex="FEMALE", diagnosis_group="COPD",
           residence="ORDINARY_HOME")
dis = dict(disposition="HOME", needs_coordination=False)
written = {}   # alert_id -> time the readmission was written
pending = []   # (due time, line, alert_id or None)
n, start = 0, time.time()
total = rate * seconds
use0 = None  # usage at the end of the warm-up, and events written by then
while n < total:
    now = time.time()
    if use0 is None and now - start >= warmup:
        use0 = usage(proc.pid) + (n,)
    due = start + n / rate
    if due > now:
        time.sleep(min(due - now, 0.002))
        continue
    p = n // 3
    pid = hashlib.sha256(("%s-%d" % (S, p)).encode()).hexdigest()
    step = n % 3
    if step == 0:
        line = ev("admission", "a%d" % p, pid, "s%d-1" % p, now, **adm)
    elif step == 1:
        line = ev("discharge", "d%d" % p, pid, "s%d-1" % p, now, **dis)
    elif p % 10 == 0:  # readmitted: the alert's admission
        # 1 ms after its discharge (same millisecond: not "after")
        line = ev("admission", "r%d" % p, pid, "s%d-2" % p, now + 0.001,
                  **adm)
        aid = hashlib.sha256(b"READMISSION_30D\0" + pid.encode() + b"\0" +
                             ("s%d-2" % p).encode() + b"\0").hexdigest()[:32]
        if now - start >= warmup:
            written[aid] = None
    else:
        line = ev("admission", "x%d" % p, pid, "s%d-2" % p, now,
                  **dict(adm, planned=True))
    prod.stdin.write(line.encode())
    prod.stdin.flush()
    if step == 2 and p % 10 == 0 and aid in written:
        written[aid] = time.time()
    n += 1
prod.stdin.close()
prod.wait()
time.sleep(10)  # the last alerts out
use1 = usage(proc.pid)
proc.terminate()
proc.wait()
out = subprocess.run(["kcat", "-C", "-b", bootstrap, "-t", S + ".alerts",
                      "-o", "beginning", "-e", "-q", "-f", "%T %k\n"],
                     check=True, stdout=subprocess.PIPE).stdout.decode()
# The reader has every alert of that read, or 10 s have passed.
keys = {l.split(" ", 1)[1] for l in out.splitlines()}
t_end = time.time() + 10
while time.time() < t_end and not keys <= seen_at.keys():
    time.sleep(0.1)
reader.terminate()
reader.wait()
reader_thr.join(5)
ireader.terminate()
ireader.wait()
ireader_thr.join(5)
inp = sorted(a * 1000 - ts for a, ts in list(input_seen)
             if ts >= (start + warmup) * 1000)
lat, vis = [], []
for l in out.splitlines():
    ts, key = l.split(" ", 1)
    if key in written and written[key] is not None:
        lat.append(int(ts) - written[key] * 1000)
        if key in seen_at:
            vis.append((seen_at[key] - written[key]) * 1000)
        written[key] = None
lat.sort()
vis.sort()
if not lat:
    sys.exit("latency: no readmission alert seen (%s)" % tmp)
if len(vis) < len(lat):
    print("latency: the reader saw %d of %d alerts (%s/reader.log)"
          % (len(vis), len(lat), tmp), file=sys.stderr)
q = lambda v, f: v[min(len(v) - 1, int(f * len(v)))] if v else float("nan")
nev = max(1, n - use0[2]) if use0 else 1
print("%d %.0f %.0f %.0f %.0f %.0f %.0f %.1f %.0f %.0f %.0f" % (
    len(lat), q(lat, 0.5), q(lat, 0.99), lat[-1], q(vis, 0.5), q(vis, 0.99),
    vis[-1] if vis else float("nan"),
    (use1[0] - use0[0]) * 1e6 / nev if use0 else float("nan"),
    (use1[1] - use0[1]) / nev if use0 else float("nan"),
    q(inp, 0.5), q(inp, 0.99)))
if not os.environ.get("KEEP_TMP"):
    subprocess.run(["rm", "-rf", tmp])
else:
    print("kept " + tmp, file=sys.stderr)
