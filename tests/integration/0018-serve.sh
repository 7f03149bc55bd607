#!/usr/bin/env bash
# 0018-serve: vigil serve (SPEC §11) on a real broker. Alerts of several
# kommuner come from simulate -> produce -> process -> aggregate; more are
# written straight to the alerts topic by an independent encoder (fastavro
# + kcat, tests/integration/serve/serve_lib.py).
#   - authorisation matrix (serve/authz.py): tokens for kommun A (0484),
#     kommun B (0480), their region (04), another region's kommun (0680)
#     and SE see exactly their areas' alerts and values in /alerts,
#     the /alerts/stream snapshot, /indicators (JSON, CSV) and /report,
#     against the topics read independently;
#   - no token, a wrong one, another scheme -> 401 + WWW-Authenticate:
#     Bearer; a burst of wrong tokens from one address -> 429 with
#     Retry-After, other addresses unaffected;
#   - SSE resume (serve/sse_resume.py, sseclient-py): a client that
#     disconnects and resumes with Last-Event-ID gets exactly the ids a
#     client that stayed got: nothing lost, nothing twice;
#   - restart: the current set is rebuilt from the compacted topic; an id
#     of the earlier run, or one older than serve.history, gets a reset
#     event and the whole current set;
#   - the page in headless Chromium (serve/browser.py): login form, exactly
#     the token's ACTIVE alerts with names, times and Swedish texts, a new
#     alert appears live, a retracted one goes, no console error;
#   - the access log: one line per request, no token, no query value;
#   - TLS with serve.tls_cert/serve.tls_key; usage errors.
source "$(dirname "$0")/lib/common.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
CHROMIUM=${VIGIL_CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}
[ -n "$CHROMIUM" ] || fail "chromium not found: run ops/setup.sh"
"$PY" -c 'import sseclient' 2>/dev/null || fail "sseclient-py not in $PY: run ops/setup.sh"
export PYTHONPATH="$HERE/serve:$HERE/lib${PYTHONPATH:+:$PYTHONPATH}"
export VIGIL_SRC
# A failure must not leave a server behind (it would hold ctest's pipe).
SPID=
trap '[ -n "$SPID" ] && kill "$SPID" 2>/dev/null; [ -n "${KEEP_TMP:-}" ] && echo "kept $TMP" >&2 || rm -rf "$TMP"' EXIT
S=it18.$$.$(date +%s)
topic_args "$S"
"$VIGIL" topics create -p 2 "${T[@]}" >/dev/null
"$VIGIL" simulate -n 300 --seed 21 --out "$TMP/ev.jsonl" 2>/dev/null
"$VIGIL" produce "${T[@]}" "$TMP/ev.jsonl" 2>/dev/null
"$VIGIL" process "${T[@]}" -X state.dir="$TMP/st" -X group.id="$S.g" --exit-idle 3 2>/dev/null
"$VIGIL" aggregate "${T[@]}" -X state.dir="$TMP/ag" -X aggregate.group.id="$S.a" \
  --exit-idle 3 2>/dev/null
# Two alerts no processor writes, published as another program could: one
# whose patient_id is a personnummer (served to nobody: SPEC §8), and a
# patient alert of kommun 0680 whose area field says 0484 (seen by 0680's
# token, not 0484's: docs/SERVE.md). authz.py expects both so.
"$VIGIL" alerts "${T[@]}" --json > "$TMP/a0.jsonl" 2>/dev/null
"$PY" - "$TMP/a0.jsonl" > "$TMP/odd.jsonl" <<'PY' || fail "no patient alert to copy"
import json, sys
a = next(json.loads(l) for l in open(sys.argv[1]) if json.loads(l)["patient_id"])
# (their own stays and patient, so that no other alert seems shown)
a = {k: ("it18-stay" if v == a["anchor"] and k != "rule" else v) for k, v in a.items()}
print(json.dumps(dict(a, alert_id="it18-pnr", patient_id="191212121212", kommun="0484", region="04")))
print(json.dumps(dict(a, alert_id="it18-pnr2", patient_id="e2" * 32, kommun="0484", region="121212-1212")))
print(json.dumps(dict(a, alert_id="it18-moved", patient_id="e1" * 32, kommun="0680", region="06", area="0484")))
PY
while read -r line; do
  id=$(echo "$line" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["alert_id"])')
  echo "$line" | "$VIGIL" codec encode --type alert --allow-personnummer | xxd -r -p > "$TMP/odd.bin"
  kcat -P -b "$VIGIL_BOOTSTRAP" -t "$S.alerts" -k "$id" "$TMP/odd.bin" || fail "cannot publish $id"
done < "$TMP/odd.jsonl"

# Tokens: made with --hash-token, stored hashed.
declare -A TOK=([kommun-a]=0484 [kommun-b]=0480 [region-04]=04 [jonkoping]=0680 [national]=SE)
: > "$TMP/tokens"
echo "{" > "$TMP/tokens.json"; sep=
for n in "${!TOK[@]}"; do
  t=$(openssl rand -hex 24)
  echo "$t" | "$VIGIL" serve --hash-token "$n" "${TOK[$n]}" >> "$TMP/tokens" \
    || fail "--hash-token $n"
  printf '%s"%s": ["%s", ["%s"]]\n' "$sep" "$n" "$t" "${TOK[$n]}" >> "$TMP/tokens.json"; sep=,
  declare "T_${n//-/_}=$t"
done
echo "}" >> "$TMP/tokens.json"
grep -q "$T_kommun_a" "$TMP/tokens" && fail "the tokens file holds a token in the clear"
grep -c . "$TMP/tokens" | grep -qx 5 || fail "tokens file: $(cat "$TMP/tokens")"

start_serve() { # LOG ARGS...: starts vigil serve, sets SPID and BASE
  local log=$1; shift
  "$VIGIL" serve "${T[@]}" -X serve.tokens="$TMP/tokens" -X serve.port=0 \
    -X serve.heartbeat_ms=1000 -X serve.auth_burst=5 -X serve.auth_refill_ms=60000 \
    "$@" > /dev/null 2> "$log" & SPID=$!
  for _ in $(seq 1 100); do
    BASE=$(grep -o 'listening on https\?://[^ ]*' "$log" | sed 's|.*//||' | head -1 || true)
    [ -n "$BASE" ] && break; sleep 0.1
  done
  [ -n "$BASE" ] || fail "vigil serve did not start: $(cat "$log")"
  if grep -q "listening on https" "$log"; then
    for _ in $(seq 1 100); do
      [ "$(code -k "https://$BASE/healthz")" = 200 ] && return; sleep 0.2
    done
    fail "not healthy: $(tail -3 "$log")"
  fi
  "$PY" -c 'import serve_lib, sys; serve_lib.wait_healthy(serve_lib.Server(sys.argv[1]))' "$BASE" \
    || fail "not healthy: $(tail -3 "$log")"
}
stop_serve() { # expects exit 0 on SIGTERM
  kill -TERM "$SPID"; local rc=0; wait "$SPID" || rc=$?; SPID=
  [ $rc -eq 0 ] || fail "vigil serve exited $rc on SIGTERM"
}
code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }

start_serve "$TMP/serve1.log"
echo "serving on $BASE"

# Authorisation matrix.
"$PY" "$HERE/serve/authz.py" "$BASE" "$VIGIL_BOOTSTRAP" "$S.alerts" "$S.ind" \
  "$TMP/tokens.json" || fail "authorisation matrix"

# 401: none, wrong, another scheme; 429 after a burst (from 127.0.0.2).
for h in "" "Authorization: Bearer not-a-token" "Authorization: Basic a2FsbGU6cGVsbGU="; do
  curl -s -D "$TMP/h" -o "$TMP/b" ${h:+-H "$h"} "http://$BASE/alerts" > /dev/null
  head -1 "$TMP/h" | grep -q " 401" || fail "'$h': $(head -1 "$TMP/h")"
  grep -qi '^WWW-Authenticate: Bearer' "$TMP/h" || fail "'$h': no WWW-Authenticate: Bearer"
  grep -q '"alerts"' "$TMP/b" && fail "'$h': alerts in a 401"
done
for p in /alerts/stream /indicators /report; do
  [ "$(code "http://$BASE$p")" = 401 ] || fail "$p without a token is not 401"
done
[ "$(code "http://$BASE/")" = 401 ] || fail "/ without a token is not 401 (the login form)"
codes=$(for i in 1 2 3 4 5 6 7; do
  code --interface 127.0.0.2 -H "Authorization: Bearer wrong-$i" "http://$BASE/alerts"; echo -n " "; done)
echo "7 wrong tokens from 127.0.0.2: $codes"
[ "$codes" = "401 401 401 401 401 429 429 " ] || fail "burst: $codes"
curl -s -D "$TMP/h" -o /dev/null --interface 127.0.0.2 -H "Authorization: Bearer $T_kommun_a" \
  "http://$BASE/alerts"
head -1 "$TMP/h" | grep -q " 429" || fail "a limited address got past with a right token: $(head -1 "$TMP/h")"
grep -qi '^Retry-After: [1-9]' "$TMP/h" || fail "429 without Retry-After"
[ "$(code -H "Authorization: Bearer $T_kommun_a" "http://$BASE/alerts")" = 200 ] \
  || fail "127.0.0.1 is limited by 127.0.0.2's failures"
# The served report names its topics, not the broker's address (the
# attack: every caller saw host:port of the Kafka cluster).
curl -s -o "$TMP/report.html" -H "Authorization: Bearer $T_kommun_a" "http://$BASE/report"
grep -q "$S.ind" "$TMP/report.html" || fail "/report: no source topic named"
grep -q "$VIGIL_BOOTSTRAP" "$TMP/report.html" && fail "/report shows the broker's address"
# Bad queries: 400, their values never logged.
[ "$(code -H "Authorization: Bearer $T_kommun_a" "http://$BASE/alerts?kommun=191212121212")" = 400 ] \
  || fail "a bad kommun is not 400"
[ "$(code -H "Authorization: Bearer $T_kommun_a" "http://$BASE/alerts/191212121212")" = 404 ] \
  || fail "an unknown path is not 404"

# SSE resume, then the page.
"$PY" "$HERE/serve/sse_resume.py" "$BASE" "$VIGIL_BOOTSTRAP" "$S.alerts" "$T_kommun_a" \
  0484 0480 "$S-r" || fail "SSE resume"
"$PY" "$HERE/serve/browser.py" "$CHROMIUM" "$BASE" "$VIGIL_BOOTSTRAP" "$S.alerts" \
  "$T_kommun_a" 0484 "$S-b" "${VIGIL_SERVE_SHOT:-$TMP/page.png}" || fail "the page in Chromium"

# Restart: the same current set from the compacted topic; an old id gets a
# reset; with serve.history=3 an id 5 changes back is too old.
curl -s -H "Authorization: Bearer $T_national" "http://$BASE/alerts?status=all" > "$TMP/before.json"
old_id=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["last_event_id"])' "$TMP/before.json")
# A method spelt like a personnummer: 405, and the log names no method.
[ "$(code -X 19121212-1212 "http://$BASE/alerts")" = 405 ] \
  || fail "an unknown method is not 405"
# An escaped NUL does not cut a path short.
[ "$(code -H "Authorization: Bearer $T_national" "http://$BASE/alerts%00")" = 400 ] \
  || fail "/alerts%00 is not 400"
[ "$(code -H "Authorization: Bearer $T_national" "http://$BASE/alerts?kommun=0484%00x")" = 400 ] \
  || fail "a query value with an escaped NUL is not 400"
# A login from another site's page is refused, by its Origin or, without
# one, its Referer; from this host's page, or with neither (a script), not.
login() { code -H "$1" --data-urlencode "token=$T_kommun_a" "http://$BASE/login"; }
[ "$(login "Origin: http://evil.example")" = 403 ] || fail "login with a foreign Origin"
[ "$(login "Referer: http://evil.example/x")" = 403 ] || fail "login with a foreign Referer"
[ "$(login "Referer: http://$BASE.evil.example/")" = 403 ] || fail "login with a Referer on a longer host"
[ "$(login "Referer: http://$BASE/")" = 303 ] || fail "login from this host's page"
[ "$(login "X-None: 1")" = 303 ] || fail "login with neither Origin nor Referer"
stop_serve
grep -q "$T_kommun_a" "$TMP/serve1.log" && fail "a token in the log"
grep -q "offset [0-9]*: patient_id holds a personnummer: not served" "$TMP/serve1.log" \
  || fail "the alert with a personnummer is not named in the log"
grep -q "191212121212" "$TMP/serve1.log" && fail "a personnummer in the log"
start_serve "$TMP/serve2.log" -X serve.history=3
curl -s -H "Authorization: Bearer $T_national" "http://$BASE/alerts?status=all" > "$TMP/after.json"
"$PY" - "$TMP/before.json" "$TMP/after.json" "$BASE" "$T_national" "$old_id" \
  "$VIGIL_BOOTSTRAP" "$S.alerts" "$S-h" <<'PY' || fail "restart"
import json, sys, serve_lib
b, a = (json.load(open(p)) for p in sys.argv[1:3])
srv, tok, old = serve_lib.Server(sys.argv[3]), sys.argv[4], sys.argv[5]
key = lambda d: sorted((x["alert_id"], x["status"]) for x in d["alerts"])
if key(a) != key(b) or not a["alerts"]:
    sys.exit("after a restart: %d alerts, before %d" % (a["count"], b["count"]))
print("restarted: the same %d alerts (%d ACTIVE) from the topic; ids now from %s (before: %s)" % (
    a["count"], sum(x["status"] == "ACTIVE" for x in a["alerts"]), a["last_event_id"], old))
if int(a["last_event_id"].split(".")[0]) <= int(old.split(".")[0]):
    sys.exit("the new run's ids do not start above the old run's")
def first_two(last):
    c, ev = srv.stream(tok, last_id=last)
    e1, e2 = next(ev), next(ev)
    c.close()
    return e1, e2
active = {x["alert_id"] for x in a["alerts"] if x["status"] == "ACTIVE"}
e1, e2 = first_two(old)
if e1.event != "reset" or json.loads(e1.data)["reason"] != "unknown-id" or e2.event != "snapshot" \
        or {x["alert_id"] for x in json.loads(e2.data)["alerts"]} != active:
    sys.exit("an id of the earlier run: %s %s, then %s" % (e1.event, e1.data, e2.event))
print("an id of the earlier run: reset (unknown-id) and the whole current set (%d)" % len(active))
c, ev = srv.stream(tok)
snap = next(ev); c.close()
recs = [serve_lib.alert("%s-%d" % (sys.argv[8], i), "0480") for i in range(5)]
serve_lib.produce(sys.argv[6], sys.argv[7], recs)
import time
t = time.time()
while srv.json("/alerts", tok)["count"] < len(active) + 5 and time.time() - t < 20:
    time.sleep(0.2)
e1, e2 = first_two(snap.id)
now = {x["alert_id"] for x in srv.json("/alerts", tok)["alerts"]}
if e1.event != "reset" or json.loads(e1.data)["reason"] != "too-old" or e2.event != "snapshot" \
        or {x["alert_id"] for x in json.loads(e2.data)["alerts"]} != now:
    sys.exit("an id 5 changes back with serve.history=3: %s %s" % (e1.event, e1.data))
print("an id 5 changes back (serve.history=3): reset (too-old) and the whole current set (%d)" % len(now))
PY
stop_serve

# The access log: one line per request: time, address, token name, method,
# route, status; no token, no query value, no unknown path.
log="$TMP/serve1.log"
n=$(grep -c ' ACCESS serve: ' "$log")
bad=$(grep ' ACCESS serve: ' "$log" | grep -Evc '^[0-9T:.-]+Z ACCESS serve: [0-9a-f.:]+ [A-Za-z0-9._?-]+ (GET|POST|HEAD|\(other\)) (/[a-z/]*|\(other\)) [0-9]{3}(-aborted)?$' || true)
[ "$bad" = 0 ] || fail "access log lines not in the format: $(grep ' ACCESS ' "$log" | head -3)"
grep -q ' ACCESS serve: 127.0.0.2 ? GET /alerts 429$' "$log" || fail "no 429 line for 127.0.0.2"
grep -q ' ACCESS serve: 127.0.0.1 kommun-a GET /alerts/stream 200$' "$log" || fail "no stream line"
grep -q ' ACCESS serve: 127.0.0.1 - (other) /alerts 405$' "$log" \
  || fail "no (other) line for the personnummer-shaped method"
for s in "$T_kommun_a" "$T_national" 191212121212 19121212-1212 wrong-1 "kommun=" Basic; do
  grep -q -- "$s" "$log" && fail "the log holds '$s'"
done
echo "access log: $n lines, each time, address, token name, method, route, status; no token or query value"

# A request trickled a byte at a time (faster than the idle timeout) on a
# kept-alive connection: closed serve.idle_timeout_ms after the previous
# request's end (libmicrohttpd counts inactivity only: the attack kept one
# open for over 100 s with a byte every 20 s).
start_serve "$TMP/serve4.log" -X serve.idle_timeout_ms=2000
"$PY" - "$BASE" <<'PY' || fail "a trickled second request was not closed"
import socket, sys, time
h, p = sys.argv[1].rsplit(":", 1)
s = socket.create_connection((h, int(p)))
# (a POST: libmicrohttpd closes after an answer given before the request
# was read to its end, as every GET's is)
s.sendall(b"POST /logout HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
s.settimeout(5)
d = s.recv(65536)
if not d.startswith(b"HTTP/1.1 303") or b"close" in d.split(b"\r\n\r\n")[0].lower():
    sys.exit("first request: %r" % d[:300])
time.sleep(0.5)                 # the body may come in more than one read
t = time.time()
s.sendall(b"GET /alerts HTTP/1.1\r\nX-A: ")
s.settimeout(0.3)
while time.time() - t < 5:
    try:
        if s.recv(65536) == b"":
            sys.exit(0 if time.time() - t > 1 else "closed too soon")
    except socket.timeout:
        pass
    except OSError:
        sys.exit(0)
    try:
        s.sendall(b"a")
    except OSError:
        sys.exit(0)
sys.exit("still open after 5 s")
PY
stop_serve
echo "a trickled request on a kept-alive connection: closed after serve.idle_timeout_ms"

# TLS (libmicrohttpd with GnuTLS).
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$TMP/key.pem" -out "$TMP/cert.pem" \
  -days 2 -subj /CN=localhost 2>/dev/null
start_serve "$TMP/serve3.log" -X serve.tls_cert="$TMP/cert.pem" -X serve.tls_key="$TMP/key.pem"
grep -q "listening on https://" "$TMP/serve3.log" || fail "TLS: $(cat "$TMP/serve3.log")"
[ "$(code --cacert "$TMP/cert.pem" --resolve "localhost:${BASE##*:}:127.0.0.1" \
  -H "Authorization: Bearer $T_kommun_b" "https://localhost:${BASE##*:}/alerts")" = 200 ] \
  || fail "TLS: /alerts over https"
[ "$(code "http://$BASE/healthz")" = 200 ] && fail "TLS: plain HTTP answered"
stop_serve
echo "TLS: https with the certificate, plain HTTP refused"

# Usage errors: exit 2 with a clear message.
usage() { # WANT_TEXT ARGS...
  local want=$1; shift; local rc=0
  "$VIGIL" serve "${T[@]}" "$@" > /dev/null 2> "$TMP/e" < /dev/null || rc=$?
  [ $rc -eq 2 ] && grep -q -- "$want" "$TMP/e" || fail "serve $*: exit $rc: $(cat "$TMP/e")"
}
usage "serve.tokens is not set"
printf '%s\n' "# comment" "$(head -1 "$TMP/tokens")" "abc kommun-x 0484" > "$TMP/badtok"
usage "badtok:3: expected the SHA-256" -X serve.tokens="$TMP/badtok"
printf '%064d %s\n' 1 "x 9999" > "$TMP/badtok"
usage "badtok:1: token x: '9999' is not an area" -X serve.tokens="$TMP/badtok"
usage "go together" -X serve.tokens="$TMP/tokens" -X serve.tls_cert="$TMP/cert.pem"
rc=0; echo short | "$VIGIL" serve --hash-token > /dev/null 2> "$TMP/e" || rc=$?
[ $rc -eq 2 ] && grep -q "at least 16" "$TMP/e" || fail "--hash-token short: $rc $(cat "$TMP/e")"
echo PASS
