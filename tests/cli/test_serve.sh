#!/usr/bin/env bash
# vigil serve without a broker: --hash-token (the hash is SHA-256 of the
# token, as sha256sum has it; the whole line with NAME AREAS), the usage
# errors of the tokens file, TLS and listen settings (exit 2, file:line),
# and with the broker down: /healthz answers 503 "loading", the data
# routes 401 without a token and 503 with one, then it exits 1.
set -euo pipefail
VIGIL=${VIGIL:-$(cd "$(dirname "$0")/../.." && pwd)/build/vigil}
fail() { echo "FAIL: $*" >&2; exit 1; }
tmp=$(mktemp -d); pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT
cd "$tmp"; unset VIGIL_CONFIG

"$VIGIL" serve --help | grep -q "^Usage: vigil serve" || fail "--help"
tok=tok-0123456789abcdef
want=$(printf %s "$tok" | sha256sum | cut -d' ' -f1)
[ "$(echo "$tok" | "$VIGIL" serve --hash-token)" = "$want" ] || fail "--hash-token is not SHA-256"
[ "$(printf '%s\r\n' "$tok" | "$VIGIL" serve --hash-token)" = "$want" ] || fail "--hash-token with CRLF"
[ "$(echo "$tok" | "$VIGIL" serve --hash-token eskilstuna 0484,0480)" = "$want eskilstuna 0484,0480" ] \
  || fail "--hash-token NAME AREAS"
usage() { # WANT ARGS... (stdin from /dev/null unless piped)
  local want=$1; shift; local rc=0
  "$VIGIL" serve "$@" > /dev/null 2> err || rc=$?
  [ $rc -eq 2 ] && grep -q -- "$want" err || fail "serve $*: exit $rc, want 2 and '$want': $(cat err)"
}
echo "$tok" | usage "not an area" --hash-token x 9999
echo "$tok" | usage "expected a name" --hash-token 'a b/c' 0484
# (a name the access log would write with a personnummer in it; not echoed)
echo "$tok" | usage "no personnummer" --hash-token 191212121212 0484
echo "$tok" | usage "no personnummer" --hash-token kalmar.19121212-1212 0484
if grep -q 1212 err; then fail "serve echoed the personnummer: $(cat err)"; fi
# (an area that looks like one: the message withholds it; also at start
# and on SIGHUP, from the tokens file)
for a in 201212-1212 0484,19121212-1212; do
  echo "$tok" | usage "withheld from this message" --hash-token nm "$a"
  if grep -q 1212 err; then fail "serve echoed the personnummer: $(cat err)"; fi
done
printf '%s nm 0484,19121212-1212\n' "$want" > pnrtokens
usage "pnrtokens:1: token nm: a value withheld" -X serve.tokens=pnrtokens
if grep -q 1212 err; then fail "serve echoed the personnummer: $(cat err)"; fi
echo short | usage "at least 16" --hash-token
echo "$tok x" | usage "without spaces" --hash-token
usage "no token on standard input" --hash-token < /dev/null
usage "takes no arguments" --hash-token x
usage "serve.tokens is not set"
usage "missing: No such file" -X serve.tokens=missing
echo "$want eskilstuna 0484" > tokens
printf '# c\n%s a 0484\n%s b 0480\n' "$want" "$want" > dup
usage "dup:3: token b: the hash" -X serve.tokens=dup
usage "go together" -X serve.tokens=tokens -X serve.tls_key=k.pem
usage "serve.tls_cert: nocert.pem: cannot read" -X serve.tokens=tokens \
  -X serve.tls_cert=nocert.pem -X serve.tls_key=k.pem
echo "not pem" > notpem
usage "is not a PEM file" -X serve.tokens=tokens -X serve.tls_cert=notpem -X serve.tls_key=notpem
usage "serve.listen=no.such.host.invalid" -X serve.tokens=tokens -X serve.listen=no.such.host.invalid
usage "serve.port" -X serve.tokens=tokens -X serve.port=70000
usage "must be at most half of serve.idle_timeout_ms" -X serve.tokens=tokens -X serve.heartbeat_ms=15001

# The broker down: it listens at once, says it is loading, then gives up.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$VIGIL" serve -b "127.0.0.1:$port" -X serve.tokens=tokens -X serve.port=0 \
  -X serve.idle_timeout_ms=1000 -X serve.heartbeat_ms=500 2> log & pid=$!
for _ in $(seq 1 50); do grep -q "listening on" log && break; sleep 0.1; done
base=$(grep -o 'listening on http://[^ ]*' log | sed 's|.*//||' || true)
[ -n "$base" ] || fail "not listening: $(cat log)"
[ "$(curl -s -w ' %{http_code}' "http://$base/healthz" | tr -d '\n')" = '{"status":"loading"} 503' ] \
  || fail "/healthz while loading"
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://$base/alerts")" = 401 ] || fail "no token while loading"
[ "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $tok" "http://$base/alerts")" = 503 ] \
  || fail "a token while loading"
# Two Authorization headers (the first was used): refused, whichever is good.
[ "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $tok" \
  -H "Authorization: Bearer nope" "http://$base/alerts")" = 401 ] || fail "two Authorization headers"
[ "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer nope" \
  -H "authorization: Bearer $tok" "http://$base/alerts")" = 401 ] || fail "two Authorization headers (2)"
# A request never finished (an attack held every connection so): closed
# after serve.idle_timeout_ms, not 120 s.
python3 - "$base" <<'PY' || fail "a half-sent request was not closed within 5 s"
import socket, sys, time
h, p = sys.argv[1].rsplit(":", 1)
s = socket.create_connection((h, int(p)))
s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
s.settimeout(5)
t = time.time()
sys.exit(0 if s.recv(100) == b"" and time.time() - t > 0.5 else 1)
PY
# A request trickled a byte at a time, faster than the idle timeout (the
# attack: a byte every 20 s was never closed, as libmicrohttpd counts
# inactivity only): closed when it is not all in within
# serve.idle_timeout_ms of its start. trickle START: START sent at once,
# then a byte every 0.3 s; the connection must be closed after 0.9 s and
# within 3 s.
trickle() {
  python3 - "$base" "$1" <<'PY'
import socket, sys, time
h, p = sys.argv[1].rsplit(":", 1)
s = socket.create_connection((h, int(p)))
t = time.time()
s.sendall(sys.argv[2].encode().decode("unicode_escape").encode())
s.settimeout(0.3)
while time.time() - t < 3:
    try:
        if s.recv(100) == b"":
            sys.exit(0 if time.time() - t > 0.9 else 1)
    except socket.timeout:
        pass
    try:
        s.sendall(b"a")
    except OSError:
        sys.exit(0 if time.time() - t > 0.9 else 1)
sys.exit(1)
PY
}
trickle 'GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: ' \
  || fail "a trickled request was not closed within 3 s"
# The same with a body: headers at once, then a POST body trickled (the
# review: the deadline ended with the headers, so a body trickled for weeks
# at the default): closed too.
trickle 'POST /login HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\nContent-Type: application/x-www-form-urlencoded\r\n\r\nt' \
  || fail "a trickled body was not closed within 3 s"
# A NUL in the URL, raw or escaped (%00): libmicrohttpd hands the handler
# the path cut at a raw NUL ("/healthz\0x" was served as /healthz,
# "/alerts\0/x" as /alerts): 400, logged as (other), and no NUL in the log.
python3 - "$base" <<'PY' || fail "a NUL in the URL was not answered 400"
import socket, sys
h, p = sys.argv[1].rsplit(":", 1)
bad = []
for path in (b"/healthz\x00x", b"/alerts\x00/x", b"/healthz\x00", b"/healthz%00",
             b"/alerts%00", b"/healthz?x=%00", b"/healthz?x=\x00"):
    s = socket.create_connection((h, int(p)))
    s.sendall(b"GET " + path + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    s.settimeout(3)
    line = s.recv(100).split(b"\r\n")[0]
    if not line.startswith(b"HTTP/1.1 400 "):
        bad.append((path, line))
print(bad)
sys.exit(1 if bad else 0)
PY
[ "$(grep -c 'ACCESS serve: 127.0.0.1 - GET (other) 400$' log)" = 7 ] \
  || fail "the NUL requests are not logged as (other) 400: $(grep ACCESS log | tail -7)"
if tr -d '\n' < log | grep -qaP '\x00'; then fail "a NUL byte reached the log"; fi
# Headers near libmicrohttpd's 32 KiB per connection (the attack: the
# handler ran and logged 401, then libmicrohttpd could not fit the answer's
# headers beside the request's and closed the connection, sending
# nothing): from 24 KiB the handler answers 431 itself; just below
# libmicrohttpd's own limit no answer fits at all, and the log says so
# ("STATUS-aborted"), never a status that was not sent. (Headers too large
# for libmicrohttpd itself get its own 431, HTML, and a WARN line.)
l0=$(grep -c ACCESS log || true)
python3 - "$base" > sent <<'PY' || fail "headers near the limit: $(cat sent)"
import socket, sys
h, p = sys.argv[1].rsplit(":", 1)
def ask(headers):
    s = socket.create_connection((h, int(p)))
    s.sendall(b"GET /alerts HTTP/1.1\r\nHost: x\r\n" + headers +
              b"Connection: close\r\n\r\n")
    s.settimeout(3)
    d = b""
    try:
        while b"\r\n\r\n" not in d:
            c = s.recv(4096)
            if not c:
                break
            d += c
    except OSError:
        pass
    if not d:
        return "none"
    return d[9:12].decode() + ("j" if b"application/json" in d else "")
got = [ask(b"X-Big: " + b"a" * n + b"\r\n") for n in range(22000, 33000, 40)]
got += [ask(b"X-A: 1\r\n" * n) for n in range(100, 3000, 60)]
print(" ".join(got))
PY
sleep 0.3
tail -n +$((l0 + 1)) log | grep ACCESS > scan || true
n_of() { tr ' ' '\n' < sent | grep -c "^$1$" || true; }
[ "$(grep -c 'GET /alerts 401$' scan)" = "$(n_of 401j)" ] \
  || fail "401: $(n_of 401j) sent, $(grep -c 'GET /alerts 401$' scan) logged"
[ "$(grep -c 'GET /alerts 431$' scan)" = "$(n_of 431j)" ] \
  || fail "431: $(n_of 431j) sent, $(grep -c 'GET /alerts 431$' scan) logged"
[ "$(grep -c 'GET /alerts [0-9]*-aborted$' scan)" = "$(n_of none)" ] \
  || fail "no answer $(n_of none) times, $(grep -c 'aborted$' scan) logged so"
[ "$(n_of 401j)" -gt 0 ] || fail "the scan: $(cat sent)"
rc=0; wait "$pid" || rc=$?; pid=
[ $rc = 1 ] || fail "broker down: exit $rc, want 1: $(tail -3 log)"
grep -q "ERROR serve:" log || fail "no error logged: $(tail -3 log)"
echo "PASS: vigil serve --hash-token, usage errors, /healthz while loading"
