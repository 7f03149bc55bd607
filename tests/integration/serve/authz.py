"""The authorisation matrix of vigil serve: every token sees exactly the
alerts and indicator values of its areas, in /alerts, the snapshot of
/alerts/stream, /indicators (JSON and CSV) and /report, compared with the
topics read independently (kcat + fastavro) and the entitlement rule
written again (serve_lib.visible).

usage: authz.py BASE BOOTSTRAP ALERTS_TOPIC INDICATORS_TOPIC TOKENS.json
TOKENS.json: {"name": [token, [areas...]], ...}
"""
import csv
import io
import json
import re
import sys

import serve_lib
import topics

base, bootstrap, atopic, itopic, tokfile = sys.argv[1:6]
toks = json.load(open(tokfile))
srv = serve_lib.Server(base)
alerts = topics.latest_alerts(bootstrap, atopic)
pnr_alerts = {i: a for i, a in alerts.items() if serve_lib.holds_pnr(a)}
alerts = {i: a for i, a in alerts.items() if i not in pnr_alerts}
values = {}
for part, off, key, val in topics.read_topic(bootstrap, itopic):
    if val is None:
        values.pop(key, None)
        continue
    name, rec = topics.decode(val)
    values[key] = rec
values = {k: v for k, v in values.items()
          if (v["denominator"] is None and v["numerator"] > 0)
          or (v["denominator"] is not None and v["denominator"] > 0)}
kommuner = dict(l.rstrip("\n").split("\t") for l in open(topics.SRC + "/common/data/kommuner.tsv")
                if l[:1].isdigit())
bad = 0


def check(what, got, want):
    global bad
    ok = got == want
    print("  %-44s %5d %s" % (what, len(got), "ok" if ok else "MISMATCH: want %d, extra %s, missing %s"
                              % (len(want), sorted(got - want)[:3], sorted(want - got)[:3])))
    bad += not ok


print("alerts on the topic: %d (%d ACTIVE); indicator values: %d" % (
    len(alerts), sum(a["status"] == "ACTIVE" for a in alerts.values()), len(values)))
for name, (token, ent) in sorted(toks.items()):
    vis = {i for i, a in alerts.items() if serve_lib.visible(ent, *serve_lib.alert_place(a))}
    act = {i for i in vis if alerts[i]["status"] == "ACTIVE"}
    print("%s (%s): %d alerts visible, %d ACTIVE" % (name, ",".join(ent), len(vis), len(act)))
    d = srv.json("/alerts?status=all", token)
    check("/alerts?status=all", {a["alert_id"] for a in d["alerts"]}, vis)
    d = srv.json("/alerts", token)
    check("/alerts (ACTIVE)", {a["alert_id"] for a in d["alerts"]}, act)
    for k in ("0480", "0484"):
        d = srv.json("/alerts?kommun=" + k, token)
        check("/alerts?kommun=" + k, {a["alert_id"] for a in d["alerts"]},
              {i for i in act if k in serve_lib.alert_place(alerts[i])})
    d = srv.json("/alerts?region=04&rule=SIP_OVERDUE", token)
    check("/alerts?region=04&rule=SIP_OVERDUE", {a["alert_id"] for a in d["alerts"]},
          {i for i in act if "".join(x or "" for x in serve_lib.alert_place(alerts[i])).startswith("04")
           and alerts[i]["rule"] == "SIP_OVERDUE"})
    conn, ev = srv.stream(token)
    e = next(ev)
    conn.close()
    assert e.event == "snapshot", e.event
    check("/alerts/stream snapshot", {a["alert_id"] for a in json.loads(e.data)["alerts"]}, act)
    want = {k for k, v in values.items() if serve_lib.visible(ent, None, v["area"])}
    d = srv.json("/indicators?period=all&breakdown=any", token)
    check("/indicators (JSON, every row)",
          {"%s|%s|%s|%s" % (r["indicator"], r["area"], r["period"], r["breakdown"]) for r in d["indicators"]},
          want)
    st, hd, body = srv.request("/indicators?period=all&breakdown=any", token, {"Accept": "text/csv"})
    rows = list(csv.DictReader(io.StringIO(body.decode())))
    check("/indicators (CSV by Accept)",
          {"%s|%s|%s|%s" % (r["indicator"], r["area"], r["period"], r["breakdown"]) for r in rows}, want)
    if not hd["content-type"].startswith("text/csv"):
        print("  CSV content type: " + hd["content-type"]); bad += 1
    st, hd, body = srv.request("/report?lang=en", token)
    page = body.decode()
    m = re.search(r'id="alert-count" data-count="(\d+)"', page)
    got = int(m.group(1)) if m else -1
    if st != 200 or got != len(act):
        print("  /report: status %d, %d active alerts, want %d" % (st, got, len(act))); bad += 1
    else:
        print("  /report: %d active alerts" % got)
    # Nothing of what the token may not see: no other kommun's name, no
    # other alert's anchor or patient.
    seen_k = {a["kommun"] for a in alerts.values() if a["kommun"]} | \
        {v["area"] for v in values.values() if len(v["area"]) == 4}
    leak = [kommuner[k] for k in sorted(seen_k) if k in kommuner and not serve_lib.visible(ent, k, None)
            and re.search(r"\b%s\b" % re.escape(kommuner[k]), page)]
    leak += [i for i in set(alerts) - vis if alerts[i]["anchor"] in page
             or (alerts[i]["patient_id"] and alerts[i]["patient_id"][:8] in page)]
    leak += [i for i, a in pnr_alerts.items() if a["patient_id"][:8] in page]
    mine = [kommuner[k] for k in sorted(seen_k) if k in kommuner and serve_lib.visible(ent, k, None)]
    missing = [n for n in mine if n not in page]
    if leak or missing:
        print("  /report: shows %s; lacks %s" % (leak[:5], missing[:5])); bad += 1
    else:
        print("  /report: the names of its %d kommuner, nothing of the %d others" % (
            len(mine), len(seen_k) - len(mine)))
sys.exit(1 if bad else 0)
