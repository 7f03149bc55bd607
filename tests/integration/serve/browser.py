"""The page of vigil serve in headless Chromium, driven over the DevTools
protocol (--remote-debugging-pipe): log in with the token on the page's
form, then the list must hold exactly the token's ACTIVE alerts (with
kommun names, times and a Swedish explanation), gain a new alert of its
kommun within seconds of its publication, never one of another kommun,
and lose a retracted one. No console error and no CSP violation.

usage: browser.py CHROMIUM BASE BOOTSTRAP ALERTS_TOPIC TOKEN AREAS TAG SHOT.png
"""
import base64
import fcntl
import json
import os
import select
import subprocess
import sys
import tempfile
import time

import serve_lib
import topics

chromium, base, bootstrap, topic, token, areas, tag, shot = sys.argv[1:9]
ent = areas.split(",")
kommuner = dict(l.rstrip("\n").split("\t") for l in open(topics.SRC + "/common/data/kommuner.tsv")
                if l[:1].isdigit())


class Chrome:
    def __init__(self):
        self.dir = tempfile.mkdtemp()
        r1, w1 = os.pipe()   # to Chromium (its fd 3)
        r2, w2 = os.pipe()   # from Chromium (its fd 4)
        hr, hw = fcntl.fcntl(r1, fcntl.F_DUPFD, 20), fcntl.fcntl(w2, fcntl.F_DUPFD, 20)

        def child():
            os.dup2(hr, 3)
            os.dup2(hw, 4)
        self.log = open(os.path.join(self.dir, "chrome.log"), "w")
        self.p = subprocess.Popen(
            [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
             "--no-first-run", "--disable-background-networking", "--disable-component-update",
             "--disable-sync", "--window-size=1000,1400", "--user-data-dir=" + self.dir,
             "--remote-debugging-pipe", "about:blank"],
            preexec_fn=child, pass_fds=(3, 4, hr, hw), stdout=self.log, stderr=self.log)
        for fd in (r1, w2, hr, hw):
            os.close(fd)
        self.w, self.r = w1, r2
        self.buf = b""
        self.n = 0
        self.events = []

    def _read_msg(self, deadline):
        while b"\0" not in self.buf:
            left = deadline - time.time()
            if left <= 0 or not select.select([self.r], [], [], left)[0]:
                raise TimeoutError("no answer from Chromium")
            chunk = os.read(self.r, 1 << 16)
            if not chunk:
                raise EOFError("Chromium closed the pipe")
            self.buf += chunk
        msg, self.buf = self.buf.split(b"\0", 1)
        return json.loads(msg)

    def call(self, method, params=None, session=None, timeout=30):
        self.n += 1
        m = {"id": self.n, "method": method, "params": params or {}}
        if session:
            m["sessionId"] = session
        os.write(self.w, json.dumps(m).encode() + b"\0")
        deadline = time.time() + timeout
        while True:
            r = self._read_msg(deadline)
            if r.get("id") == self.n:
                if "error" in r:
                    raise RuntimeError("%s: %s" % (method, r["error"]))
                return r.get("result", {})
            self.events.append(r)

    def wait_event(self, method, timeout=30):
        deadline = time.time() + timeout
        while True:
            for i, e in enumerate(self.events):
                if e.get("method") == method:
                    return self.events.pop(i)
            self.events.append(self._read_msg(deadline))

    def close(self):
        try:
            self.call("Browser.close", timeout=5)
        except Exception:
            pass
        try:
            self.p.wait(10)
        except subprocess.TimeoutExpired:
            self.p.kill()


c = Chrome()
bad = 0
try:
    tid = c.call("Target.createTarget", {"url": "about:blank"})["targetId"]
    s = c.call("Target.attachToTarget", {"targetId": tid, "flatten": True})["sessionId"]
    for dom in ("Page.enable", "Runtime.enable", "Log.enable"):
        c.call(dom, session=s)

    def js(expr):
        r = c.call("Runtime.evaluate", {"expression": expr, "returnByValue": True}, session=s)
        if "exceptionDetails" in r:
            raise RuntimeError("%s: %s" % (expr, r["exceptionDetails"]))
        return r["result"].get("value")

    def listed():
        return json.loads(js("""JSON.stringify([].map.call(document.querySelectorAll('#alerts li'),
            function (li) { return {id: li.dataset.alertId, kommun: li.dataset.kommun,
              title: li.querySelector('h2').textContent, meta: li.querySelector('.meta').textContent,
              text: li.querySelector('.text').textContent}; }))"""))

    def until(pred, what, seconds=20):
        t = time.time()
        while time.time() - t < seconds:
            v = listed()
            if pred(v):
                return v, time.time() - t
            time.sleep(0.2)
        print(js("document.location.href + \" \" + document.body.innerText")); print([json.dumps(e)[:300] for e in c.events][-15:])
        raise SystemExit("FAIL: %s within %d s; the page lists %s" % (what, seconds, [x["id"] for x in listed()]))

    c.call("Page.navigate", {"url": "http://%s/" % base}, session=s)
    c.wait_event("Page.loadEventFired")
    if not js("!!document.querySelector('form input[name=token]')"):
        raise SystemExit("FAIL: no login form at / without a session")
    js("document.getElementById('token').value = %s; document.querySelector('form').submit(); 1" % json.dumps(token))
    c.wait_event("Page.loadEventFired")
    js("1")
    want = {i for i, a in topics.latest_alerts(bootstrap, topic).items()
            if a["status"] == "ACTIVE" and serve_lib.visible(ent, *serve_lib.alert_place(a))
            and not serve_lib.holds_pnr(a)}
    items, _ = until(lambda v: {x["id"] for x in v} == want, "the page listing the %d ACTIVE alerts of %s" % (len(want), areas))
    print("after logging in: the page lists %d alerts, exactly the ACTIVE ones of %s" % (len(items), areas))
    for x in items:
        name = kommuner.get(x["kommun"], "")
        if not name or name not in x["meta"] or not any(ch.isdigit() for ch in x["meta"]):
            print("FAIL: no kommun name or time: %s" % x); bad += 1; break
        if len(x["text"]) < 40 or not any(w in x["text"] for w in ("Patienten", "Indikatorn")):
            print("FAIL: no explanation in Swedish: %s" % x); bad += 1; break
    else:
        print("each with its kommun's name, a time and a Swedish explanation, e.g. %r / %r" % (
            items[0]["title"], items[0]["text"][:90]) if items else "")
    # Live: a new alert of the token's kommun, one of another kommun, and
    # a retraction of one listed.
    mine, other = ent[0] if len(ent[0]) == 4 else ent[0] + "84", "0180"
    new = serve_lib.alert("%s-live" % tag, mine, rule="DEATH_NOT_REGISTERED")
    foreign = serve_lib.alert("%s-foreign" % tag, other)
    t0 = time.time()
    serve_lib.produce(bootstrap, topic, [foreign, new])
    items, dt = until(lambda v: new["alert_id"] in {x["id"] for x in v}, "the new alert on the page")
    print("a new alert of %s appeared %.1f s after it was published (%d listed)" % (mine, time.time() - t0, len(items)))
    if foreign["alert_id"] in {x["id"] for x in items} or {x["id"] for x in items} != want | {new["alert_id"]}:
        print("FAIL: the page lists %s" % sorted(x["id"] for x in items)); bad += 1
    x = next(x for x in items if x["id"] == new["alert_id"])
    if "Svenska palliativregistret" not in x["title"] + x["text"]:
        print("FAIL: the explanation of DEATH_NOT_REGISTERED: %s" % x); bad += 1
    gone = dict(new, status="RETRACTED", emitted_at=new["emitted_at"] + 1)
    serve_lib.produce(bootstrap, topic, [gone])
    items, dt = until(lambda v: new["alert_id"] not in {x["id"] for x in v}, "the retracted alert gone")
    print("retracted, it left the page after %.1f s; the other kommun's alert never showed" % dt)
    shot_png = c.call("Page.captureScreenshot", {"format": "png"}, session=s)["data"]
    open(shot, "wb").write(base64.b64decode(shot_png))
    errs = [e for e in c.events if e.get("method") in ("Runtime.exceptionThrown", "Log.entryAdded")
            and (e["method"] == "Runtime.exceptionThrown" or e["params"]["entry"]["level"] == "error")]
    errs += [e for e in c.events if e.get("method") == "Runtime.consoleAPICalled"
             and e["params"]["type"] == "error"]
    # The 401 of the login page itself is the browser's only expected error.
    errs = [e for e in errs if "401" not in json.dumps(e)]
    if errs:
        print("FAIL: console errors: %s" % [json.dumps(e)[:300] for e in errs]); bad += 1
    else:
        print("no console error and no Content-Security-Policy violation")
finally:
    c.close()
sys.exit(1 if bad else 0)
