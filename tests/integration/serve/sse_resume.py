"""SSE resume: a client that disconnects and comes back with Last-Event-ID
gets exactly the changes it missed - none lost, none twice - compared with
a client that stayed connected all along (same token). Changes of a kommun
the token is not entitled to never reach it, and a re-send of an alert
with nothing changed (emitted_at aside) is not a change.

usage: sse_resume.py BASE BOOTSTRAP ALERTS_TOPIC TOKEN KOMMUN OTHER_KOMMUN TAG
"""
import json
import sys
import threading
import time

import serve_lib

base, bootstrap, topic, token, mine, other, tag = sys.argv[1:8]
srv = serve_lib.Server(base)
bad = 0


def fail(msg):
    global bad
    print("FAIL: " + msg)
    bad += 1


def read_until(ev, out, pred, seconds=30):
    """Appends (id, event, data) of ev to out until pred(out) holds."""
    t = time.time()
    for e in ev:
        out.append((e.id, e.event, json.loads(e.data)))
        if pred(out):
            return True
        if time.time() - t > seconds:
            break
    return False


def ids_of(evs, kind=None):
    return [a.get("alert_id") for i, k, a in evs if kind is None or k == kind]


conn_a, ev_a = srv.stream(token)
snap_a = next(ev_a)
conn_b, ev_b = srv.stream(token)
snap_b = next(ev_b)
if snap_a.event != "snapshot" or snap_b.event != "snapshot" or snap_a.id != snap_b.id:
    fail("the two clients start from %s %s and %s %s" % (snap_a.event, snap_a.id, snap_b.event, snap_b.id))
print("both clients start at snapshot id %s (%d alerts)" % (snap_a.id, len(json.loads(snap_a.data)["alerts"])))

sentinel = "%s-end" % tag
got_a = []
th = threading.Thread(target=lambda: read_until(ev_a, got_a, lambda o: o[-1][2].get("alert_id") == sentinel, 90))
th.start()

a = lambda n, k, **kw: serve_lib.alert("%s-%s" % (tag, n), k, **kw)
batch1 = [a("m%d" % i, mine) for i in range(3)] + [a("o%d" % i, other) for i in range(2)]
serve_lib.produce(bootstrap, topic, batch1)
got_b1 = []
want1 = {r["alert_id"] for r in batch1 if r["kommun"] == mine}
if not read_until(ev_b, got_b1, lambda o: want1 <= set(ids_of(o))):
    fail("client B did not see batch 1: %s" % ids_of(got_b1))
last_b = got_b1[-1][0]
conn_b.close()
print("client B saw %d changes, last id %s, and disconnected" % (len(got_b1), last_b))

# While B is away: new alerts, a retraction, a re-send with nothing new.
batch2 = [a("n%d" % i, mine, rule="READMISSION_30D") for i in range(4)] + \
    [a("p%d" % i, other) for i in range(2)]
retract = dict(batch1[0], status="RETRACTED", emitted_at=batch1[0]["emitted_at"] + 5)
resend = dict(batch1[1], emitted_at=batch1[1]["emitted_at"] + 7)
serve_lib.produce(bootstrap, topic, batch2 + [retract, resend])
want2 = {r["alert_id"] for r in batch2 if r["kommun"] == mine} | {retract["alert_id"]}
t = time.time()
while not want2 <= set(ids_of(got_a[len(got_b1):])) and time.time() - t < 30:
    time.sleep(0.2)
print("client A saw the changes made while B was away")

conn_b, ev_b = srv.stream(token, last_id=last_b)
got_b2 = []
if not read_until(ev_b, got_b2, lambda o: want2 <= set(ids_of(o))):
    fail("client B, resumed, did not get what it missed: %s" % ids_of(got_b2))
if got_b2 and got_b2[0][1] != "alert":
    fail("client B, resumed, got %s first (want the changes, not a snapshot)" % got_b2[0][1])
serve_lib.produce(bootstrap, topic, [a("q0", other), a("end", mine)])
if not read_until(ev_b, got_b2, lambda o: o[-1][2].get("alert_id") == sentinel):
    fail("client B did not see the last change")
conn_b.close()
th.join(100)
conn_a.close()

ids_a = [int(i.split(".")[0]) for i, k, d in got_a]
ids_b = [int(i.split(".")[0]) for i, k, d in got_b1 + got_b2]
print("client A: %d changes, ids %d..%d; client B: %d before, %d after resuming" % (
    len(ids_a), ids_a[0] if ids_a else 0, ids_a[-1] if ids_a else 0, len(got_b1), len(got_b2)))
if ids_a != sorted(set(ids_a)) or not ids_a or ids_a[0] <= int(snap_a.id.split(".")[0]):
    fail("client A's ids do not increase from the snapshot's: %s" % ids_a)
if ids_b != ids_a:
    lost = sorted(set(ids_a) - set(ids_b))
    twice = sorted(i for i in set(ids_b) if ids_b.count(i) > 1)
    fail("client B's ids differ from A's: lost %s, twice %s, extra %s" % (
        lost, twice, sorted(set(ids_b) - set(ids_a))))
else:
    print("client B's ids = client A's: nothing lost, nothing twice")
evs = got_b1 + got_b2
foreign = [d for i, k, d in evs if d.get("kommun") != mine]
if foreign:
    fail("changes of other kommuner reached the token: %s" % foreign[:2])
pairs = [(d["alert_id"], d["status"]) for i, k, d in evs]
want = [(r["alert_id"], "ACTIVE") for r in batch1 + batch2 if r["kommun"] == mine] + \
    [(retract["alert_id"], "RETRACTED"), (sentinel, "ACTIVE")]
if sorted(pairs) != sorted(want):
    fail("changes seen %s, want %s" % (sorted(pairs), sorted(want)))
else:
    print("each of the %d changes of %s once; the re-send was not a change; none of %s" % (
        len(pairs), mine, other))
sys.exit(1 if bad else 0)
