"""Late SIPs for tests/integration/0021-ha.sh (issue 16).

A late SIP is a SipCreated that satisfies a SIP_OVERDUE trigger (its
occurred_at is within the trigger's interval) but reaches Kafka only after
the processor has raised the alert: it must retract it, whichever instance
owns the patient's partition by then.

  candidates EV OUT
      OUT = EV without the SIPs that may be held back (not a cancellation,
      not cancelled, not re-sent as a duplicate)
  split EV FULL_ALERTS NOSIP_ALERTS MAIN META
      patients with a SIP_OVERDUE alert ACTIVE without their SIPs
      (NOSIP_ALERTS) and not ACTIVE with them (FULL_ALERTS): every other one
      of them (sorted) gets its candidate SIPs held back. MAIN = EV without
      them, META = JSON [{patient, alerts, sips: [JSON line...]}]
  pick BOOTSTRAP ALERTS_TOPIC DIS_TOPIC META LOG STAGE OUT [--parts P,Q]
       [--half] [--all]
      OUT = the held-back SIPs (JSON Lines) of the patients not yet in LOG
      whose alert is ACTIVE on ALERTS_TOPIC (raised; --all: every patient
      left), on input partitions P,Q (the partition of the patient's
      discharges on DIS_TOPIC), every other one of them with --half.
      Appends "STAGE PARTITION PATIENT ALERT..." lines to LOG.
  report BOOTSTRAP ALERTS_TOPIC FULL_ALERTS META LOG
      stuck alerts (ACTIVE on the topic, not ACTIVE in file mode) and
      missing ones (the other way), with the stage of the late SIP that
      should have retracted each stuck one; exit 1 if there is any.
The alerts topic is read with kcat and decoded with fastavro (topics.py).
"""
import collections
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
import topics  # noqa: E402


def candidates(ev, out):
    lines = open(ev).read().splitlines()
    evs = [json.loads(x) for x in lines]
    ids = collections.Counter(e["event_id"] for e in evs)
    cancelled = {e["cancels_event_id"] for e in evs if e.get("cancels_event_id")}
    n = 0
    with open(out, "w") as fp:
        for line, e in zip(lines, evs):
            if (e["type"] == "sip_created" and not e.get("cancels_event_id")
                    and ids[e["event_id"]] == 1
                    and e["event_id"] not in cancelled):
                n += 1
                continue
            fp.write(line + "\n")
    print("%d events, %d SIPs that may be held back" % (len(evs), n))


def active_sip_overdue(path):
    res = {}
    for line in open(path):
        a = json.loads(line)
        if a["rule"] == "SIP_OVERDUE" and a["status"] == "ACTIVE":
            res[a["alert_id"]] = a["patient_id"]
    return res


def split(ev, full_alerts, nosip_alerts, main, meta):
    full = active_sip_overdue(full_alerts)
    nosip = active_sip_overdue(nosip_alerts)
    retract = collections.defaultdict(list)
    for aid, pat in nosip.items():
        if aid not in full:
            retract[pat].append(aid)
    chosen = set(sorted(retract)[::2])
    lines = open(ev).read().splitlines()
    evs = [json.loads(x) for x in lines]
    ids = collections.Counter(e["event_id"] for e in evs)
    cancelled = {e["cancels_event_id"] for e in evs if e.get("cancels_event_id")}
    sips = collections.defaultdict(list)
    with open(main, "w") as fp:
        for line, e in zip(lines, evs):
            if (e["type"] == "sip_created" and e["patient_id"] in chosen
                    and not e.get("cancels_event_id")
                    and ids[e["event_id"]] == 1
                    and e["event_id"] not in cancelled):
                sips[e["patient_id"]].append(line)
                continue
            fp.write(line + "\n")
    out = [{"patient": p, "alerts": sorted(retract[p]), "sips": sips[p]}
           for p in sorted(chosen)]
    assert all(x["sips"] for x in out)
    with open(meta, "w") as fp:
        json.dump(out, fp)
    print("late SIPs: %d of %d patients, who have %d SIP_OVERDUE alerts "
          "ACTIVE without them (%d of %d SIP_OVERDUE alerts of the "
          "population without held-back SIPs are retracted by a SIP)"
          % (sum(len(x["sips"]) for x in out), len(out),
             sum(len(x["alerts"]) for x in out),
             sum(len(v) for v in retract.values()), len(nosip)))


def patient_partitions(bootstrap, topic):
    p = subprocess.run(
        ["kcat", "-C", "-b", bootstrap, "-t", topic, "-e", "-o", "beginning",
         "-q", "-f", "%p %k\\n"], check=True, stdout=subprocess.PIPE)
    res = {}
    for line in p.stdout.decode().splitlines():
        part, key = line.split(" ", 1)
        res[key] = int(part)
    return res


def read_log(log):
    res = {}
    if os.path.exists(log):
        for line in open(log):
            f = line.split()
            res[f[2]] = (f[0], int(f[1]), f[3:])
    return res


def pick(bootstrap, alerts_topic, dis_topic, meta, log, stage, out, opts):
    parts = None
    if "--parts" in opts:
        parts = {int(x) for x in opts[opts.index("--parts") + 1].split(",")
                 if x != ""}
    done = read_log(log)
    where = patient_partitions(bootstrap, dis_topic)
    status = {k: v["status"] for k, v in
              topics.latest_alerts(bootstrap, alerts_topic).items()}
    chosen = []
    for x in json.load(open(meta)):
        if x["patient"] in done:
            continue
        if "--all" not in opts and not any(status.get(a) == "ACTIVE"
                                           for a in x["alerts"]):
            continue
        part = where.get(x["patient"], -1)
        if parts is not None and part not in parts:
            continue
        chosen.append((x, part))
    if "--half" in opts:
        chosen = chosen[::2]
    nsips = 0
    with open(out, "w") as fp, open(log, "a") as lp:
        for x, part in chosen:
            for line in x["sips"]:
                fp.write(line + "\n")
                nsips += 1
            lp.write("%s %d %s %s\n" % (stage, part, x["patient"],
                                        " ".join(x["alerts"])))
    raised = sum(1 for x, _ in chosen for a in x["alerts"]
                 if status.get(a) == "ACTIVE")
    print("late SIPs, %s: %d SIPs of %d patients on partitions %s, "
          "retracting %d ACTIVE alerts"
          % (stage, nsips, len(chosen),
             ",".join(str(p) for p in sorted({p for _, p in chosen})) or "-",
             raised))


def report(bootstrap, alerts_topic, full_alerts, meta, log):
    kafka = topics.latest_alerts(bootstrap, alerts_topic)
    k_active = {k for k, v in kafka.items() if v["status"] == "ACTIVE"
                and v["rule"] != "INDICATOR_BELOW_TARGET"}
    f_active = set()
    for line in open(full_alerts):
        a = json.loads(line)
        if a["status"] == "ACTIVE":
            f_active.add(a["alert_id"])
    stage_of = {}
    for pat, (stage, part, alerts) in read_log(log).items():
        for a in alerts:
            stage_of[a] = (stage, part)
    late_alerts = {a for x in json.load(open(meta)) for a in x["alerts"]}
    retracted = collections.Counter(
        stage_of[a][0] for a in late_alerts
        if a in kafka and kafka[a]["status"] == "RETRACTED" and a in stage_of)
    print("late-SIP alerts raised and then retracted, by stage of their SIP: "
          + (", ".join("%s %d" % kv for kv in sorted(retracted.items()))
             or "none"))
    stuck = sorted(k_active - f_active)
    missing = sorted(f_active - k_active)
    by_stage = collections.Counter(
        "whose late SIP came at %s (partition %d)" % stage_of[a]
        if a in stage_of else
        "%s with no held-back SIP" % kafka[a]["rule"] for a in stuck)
    print("ACTIVE alerts: Kafka mode %d, file mode %d; stuck (ACTIVE in "
          "Kafka mode only) %d, missing (ACTIVE in file mode only) %d"
          % (len(k_active), len(f_active), len(stuck), len(missing)))
    for what, n in sorted(by_stage.items()):
        print("  stuck: %d %s" % (n, what))
    for a in stuck[:5]:
        v = kafka[a]
        print("  stuck %s %s deadline %s" % (a, v["rule"], v.get("deadline")))
    for a in missing[:5]:
        print("  missing %s" % a)
    return 1 if stuck or missing else 0


def main(argv):
    cmd = argv[1] if len(argv) > 1 else ""
    if cmd == "candidates" and len(argv) == 4:
        candidates(*argv[2:4])
    elif cmd == "split" and len(argv) == 7:
        split(*argv[2:7])
    elif cmd == "pick" and len(argv) >= 9:
        pick(*argv[2:9], argv[9:])
    elif cmd == "report" and len(argv) == 7:
        return report(*argv[2:7])
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
