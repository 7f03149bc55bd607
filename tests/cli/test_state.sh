#!/usr/bin/env bash
# vigil state (issue 16) on real partition files: `vigil demo --keep` runs
# the processor on a Kafka mock and leaves its state.dir. What the command
# prints is checked against independent readers: Python's sqlite3 reading
# the files, and `vigil simulate` (the demo's own population) for one
# patient's events. Then: export/import round trip (byte-identical
# `show --json`), refusals (personnummer, damaged or foreign files, an
# existing partition, a locked state.dir), and --help of every subcommand.
set -euo pipefail
VIGIL=${VIGIL:-$(cd "$(dirname "$0")/../.." && pwd)/build/vigil}
TMP=$(mktemp -d); p1=
trap '[ -n "$p1" ] && kill $p1 2>/dev/null; rm -rf "$TMP"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
cd "$TMP"
st() { "$VIGIL" state -X state.dir="$TMP/s" "$@"; }
# expect RC CMD...: runs CMD, output in out/err, fails unless it exits RC
expect() {
  local want=$1; shift
  set +e; "$@" > out 2> err; local rc=$?; set -e
  [ "$rc" = "$want" ] || fail "$* exited $rc, want $want: $(cat out err)"
}

"$VIGIL" demo --patients 200 --seed 1 --keep "$TMP/s" > demo.log 2>&1 \
  || fail "demo: $(cat demo.log)"
"$VIGIL" simulate --patients 200 --seed 1 > pop.jsonl

# --- list: one row per partition file, numbers as the files hold them
expect 0 st list
cat out
expect 0 st list --json
python3 - "$TMP/s" out pop.jsonl <<'EOF' || fail "list --json"
import json, sqlite3, sys, os
d, rows = sys.argv[1], [json.loads(l) for l in open(sys.argv[2])]
assert [r["partition"] for r in rows] == [0, 1, 2], rows
total = 0
for r in rows:
    p = os.path.join(d, "partition-%d.db" % r["partition"])
    db = sqlite3.connect("file:%s?mode=ro" % p, uri=True)
    q = lambda s: db.execute(s).fetchone()[0]
    for k, t in (("patients", "patients"), ("cells", "cells"),
                 ("timers", "timers")):
        assert r[k] == q("SELECT count(*) FROM " + t), (k, r)
    # the outbox: records packed a chunk of many to a row, less those of
    # a chunk delivered in part
    assert r["outbox"] == q("SELECT coalesce(sum(n), 0) FROM outbox_chunks") - q(
        "SELECT coalesce((SELECT (d.upto & 65535) + 1 FROM outbox_deleted d "
        "JOIN outbox_chunks c ON c.seq = d.upto >> 16), 0)"), r
    assert r["schema_version"] == q("SELECT value FROM meta WHERE key='schema_version'")
    size = os.path.getsize(p) + (os.path.getsize(p + "-wal") if os.path.exists(p + "-wal") else 0)
    assert r["bytes_on_disk"] == size, r
    total += r["patients"]
# every simulated patient is in exactly one partition
pats = {json.loads(l)["patient_id"] for l in open(sys.argv[3])}
assert total == len(pats), (total, len(pats))
print("list: %d patients in 3 partitions = the population's %d" % (total, len(pats)))
EOF

# --- show: every meta row (also one the store does not know), times, offsets
python3 - "$TMP/s/partition-0.db" <<'EOF'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute("INSERT INTO meta VALUES('x_future_count', 4711)")
db.execute("INSERT INTO meta VALUES('x_future_name', 'a-topic')")
db.commit()
EOF
expect 0 st show 0
grep -Eq "x_future_count +4711" out || fail "show does not print an unknown meta row: $(cat out)"
grep -Eq "x_future_name +a-topic" out || fail "show: text meta row"
expect 0 st show 0 --json
python3 - "$TMP/s/partition-0.db" out <<'EOF' || fail "show --json"
import json, sqlite3, sys, datetime
db = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True)
o = json.load(open(sys.argv[2]))
meta = dict(db.execute("SELECT key, value FROM meta"))
assert o["meta"] == meta, (o["meta"], meta)
def iso(ms):  # RFC 3339 UTC, milliseconds only when not zero
    t = datetime.datetime.fromtimestamp(ms // 1000, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    return t + (".%03d" % (ms % 1000) if ms % 1000 else "") + "Z"
assert o["watermark"] == iso(meta["watermark"]), o["watermark"]
assert o["data_since"] == iso(meta["data_since"])
assert o["topic_times"]["admission"] == iso(meta["topic_time.0"])
assert o["topic_times"]["register_entry"] == iso(meta["topic_time.4"])
assert o["offsets"] == dict(db.execute("SELECT topic, next_offset FROM offsets")), o["offsets"]
assert o["partition"] == 0 and o["schema_version"] == meta["schema_version"]
assert o["next_timer_due"] == iso(db.execute("SELECT min(due) FROM timers").fetchone()[0])
assert o["content"]["pages"] == db.execute("PRAGMA page_count").fetchone()[0]
print("show: %d meta rows, %d offsets, watermark %s" % (len(meta), len(o["offsets"]), o["watermark"]))
EOF
expect 0 st show 0 --check
grep -q "^quick_check     ok" out || fail "show --check: $(cat out)"

# --- patient: its events are the simulator's events of that patient
P=$(python3 -c "
import sqlite3; db = sqlite3.connect('file:$TMP/s/partition-1.db?mode=ro', uri=True)
print(db.execute('SELECT patient_id FROM timers ORDER BY patient_id LIMIT 1').fetchone()[0])")
expect 0 st patient "$P" --json
python3 - "$TMP/s/partition-1.db" out pop.jsonl "$P" <<'EOF' || fail "patient --json"
import json, sqlite3, sys, datetime
db = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True)
o = json.loads(open(sys.argv[2]).read())
pid = sys.argv[4]
sim = {}
for l in open(sys.argv[3]):
    e = json.loads(l)
    if e["patient_id"] == pid:
        sim[e["event_id"]] = e   # a re-send is the same event
got = {e["event_id"]: e for e in o["events"]}
assert set(got) == set(sim), (sorted(got), sorted(sim))
for k, e in sim.items():
    for f in ("type", "occurred_at", "kommun"):
        assert got[k][f] == e[f], (k, f, got[k][f], e[f])
times = [e["occurred_at"] for e in o["events"]]
assert times == sorted(times)
def iso(ms):  # RFC 3339 UTC, milliseconds only when not zero
    t = datetime.datetime.fromtimestamp(ms // 1000, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    return t + (".%03d" % (ms % 1000) if ms % 1000 else "") + "Z"
due = db.execute("SELECT due FROM timers WHERE patient_id=?", (pid,)).fetchone()[0]
assert o["timer_due"] == iso(due), (o["timer_due"], iso(due))
assert o["partition"] == 1 and o["patient_id"] == pid
print("patient: %d events = the simulator's, %d cases, %d ACTIVE alerts, timer %s"
      % (len(got), len(o["cases"]), len(o["alerts"]), o["timer_due"]))
EOF
expect 0 st patient "$P"
grep -q "^events (" out && grep -q "^contributions (cases)" out && grep -q "^ACTIVE alerts" out \
  || fail "patient text: $(cat out)"
expect 0 st patient "$P" --partition 1
expect 1 st patient "$P" --partition 0
grep -q "no patient $P in $TMP/s/partition-0.db" err || fail "patient --partition 0: $(cat err)"
expect 1 st patient nobody
grep -q "no patient nobody in state.dir $TMP/s (3 partition files searched" err || fail "unknown patient: $(cat err)"
for pnr in 19121212-1212 191212121212 121212-1212 1212121212; do
  expect 2 st patient "$pnr"
  grep -q "looks like a personnummer" err || fail "personnummer $pnr not refused: $(cat err)"
  ! grep -q "1212121\|1212-12" out err || fail "personnummer echoed"
done

# --- export, import: the same content, byte for byte
expect 0 st export 1 -o "$TMP/e1.db"
[ "$(stat -c %a "$TMP/e1.db")" = 600 ] || fail "export mode $(stat -c %a "$TMP/e1.db")"
expect 1 st export 1 -o "$TMP/e1.db"
grep -q "e1.db exists" err || fail "export over a file: $(cat err)"
expect 0 st export 1 -o "$TMP/e1.db" --force
# Not to standard output (a file named '-' was written), and a path under
# a file says why (it said "is not a regular file").
expect 2 st export 1 -o -
grep -q "not written to standard output" err && [ ! -e ./- ] || fail "export -o -: $(cat err)"
expect 1 st export 1 -o "$TMP/e1.db/x"
grep -q "e1.db/x: Not a directory" err || fail "export under a file: $(cat err)"
# Not into state.dir, whose files are the processor's: --force replaced a
# live partition file (another spelling of the directory too).
cp "$TMP/s/partition-2.db" "$TMP/p2.keep"
expect 1 st export 1 -o "$TMP/s/partition-2.db" --force
grep -q "is in state.dir" err || fail "export into state.dir: $(cat err)"
expect 1 st export 1 -o "$TMP/s/../s/new.db"
cmp -s "$TMP/s/partition-2.db" "$TMP/p2.keep" && [ ! -e "$TMP/s/new.db" ] || fail "export wrote into state.dir"
expect 0 "$VIGIL" state -X state.dir="$TMP/new" import "$TMP/e1.db"
[ "$(stat -c %a "$TMP/new/partition-1.db")" = 600 ] || fail "import mode"
st show 1 --json > a.json
"$VIGIL" state -X state.dir="$TMP/new" show 1 --json > b.json
cmp a.json b.json || fail "show --json differs after export + import: $(diff a.json b.json)"
echo "round trip: show --json identical ($(wc -c < a.json) bytes)"
# an existing partition: refused, then replaced with --force; stale -wal/-shm go
expect 1 "$VIGIL" state -X state.dir="$TMP/new" import "$TMP/e1.db"
grep -q "partition-1.db exists: --force replaces it" err || fail "import over a partition: $(cat err)"
echo stale > "$TMP/new/partition-1.db-wal"; echo stale > "$TMP/new/partition-1.db-shm"
expect 0 "$VIGIL" state -X state.dir="$TMP/new" import "$TMP/e1.db" --force
[ ! -e "$TMP/new/partition-1.db-wal" ] && [ ! -e "$TMP/new/partition-1.db-shm" ] || fail "stale -wal/-shm left"
expect 1 "$VIGIL" state -X state.dir="$TMP/new" import "$TMP/e1.db" --force --partition 2
grep -q "holds partition 1, not 2" err || fail "wrong partition: $(cat err)"
# a processor holds the state dir: refused, nothing changed
"$VIGIL" process -b 127.0.0.1:1 -X kafka.socket.connection.setup.timeout.ms=30000 \
  -X state.dir="$TMP/new" 2> p1.log & p1=$!
for _ in $(seq 1 50); do [ -s "$TMP/new/process.lock" ] && break; sleep 0.1; done
expect 1 "$VIGIL" state -X state.dir="$TMP/new" import "$TMP/e1.db" --force
grep -q "state.dir $TMP/new is in use by a running vigil process (pid $p1): stop it first" err \
  || fail "import under a processor: $(cat err)"
expect 0 "$VIGIL" state -X state.dir="$TMP/new" list
grep -q "in use by vigil process (pid $p1)" out || fail "list does not name the holder"
kill $p1; wait $p1 2>/dev/null || true; p1=

# --- files that are not sound partition files
mkdir bad
cp "$TMP/e1.db" bad/partition-0.db
python3 -c "
f = open('bad/partition-0.db', 'r+b'); f.seek(3 * 4096); f.write(b'\xff' * 4096 * 40)"
echo "not a database at all" > bad/partition-3.db
bst() { "$VIGIL" state -X state.dir="$TMP/bad" "$@"; }
expect 1 bst list
grep -Eq "^ +0 +error: .*partition-0.db: damaged" out || fail "list, damaged: $(cat out)"
grep -Eq "^ +3 +error: .*partition-3.db: not a SQLite database" out || fail "list, not SQLite: $(cat out)"
expect 1 bst show 0
grep -q "partition-0.db: damaged" err || fail "show damaged: $(cat err)"
expect 1 bst show 3
expect 1 bst patient "$P"
expect 1 bst export 0 -o "$TMP/x.db"
[ ! -e "$TMP/x.db" ] || fail "export of a damaged file wrote $TMP/x.db"
expect 1 "$VIGIL" state -X state.dir="$TMP/new2" import bad/partition-0.db
grep -q "damaged" err || fail "import damaged: $(cat err)"
expect 1 "$VIGIL" state -X state.dir="$TMP/new2" import bad/partition-3.db
grep -q "not a SQLite database" err || fail "import not SQLite: $(cat err)"
[ ! -e "$TMP/new2" ] || fail "a refused import created state.dir"
# ... a file sound to SQLite whose patients' states are damaged (it was
# imported, each such patient failing the processor when next used).
cp "$TMP/e1.db" flip.db
python3 -c "
import sqlite3; db = sqlite3.connect('flip.db')
pid, st = db.execute('SELECT patient_id, state FROM patients LIMIT 1').fetchone()
b = bytearray(st); b[len(b) // 2] ^= 0x40
db.execute('UPDATE patients SET state=? WHERE patient_id=?', (bytes(b), pid)); db.commit()"
expect 1 "$VIGIL" state -X state.dir="$TMP/new2" import flip.db
grep -q "1 of [0-9]* patients' states cannot be read (the first: .*); not imported" err || fail "import, a damaged state: $(cat err)"
[ ! -e "$TMP/new2" ] || fail "a refused import created state.dir"
cp "$TMP/e1.db" old.db
python3 -c "
import sqlite3; db = sqlite3.connect('old.db')
db.execute(\"UPDATE meta SET value=2 WHERE key='schema_version'\"); db.commit()"
expect 1 "$VIGIL" state -X state.dir="$TMP/new2" import old.db
grep -q "has state schema version 2, this release uses" err || fail "old schema: $(cat err)"
cp "$TMP/e1.db" nopart.db
python3 -c "
import sqlite3; db = sqlite3.connect('nopart.db')
db.execute(\"DELETE FROM meta WHERE key='partition'\"); db.commit()"
expect 1 "$VIGIL" state -X state.dir="$TMP/new2" import nopart.db
grep -q "names no partition" err || fail "no partition: $(cat err)"
python3 -c "
import sqlite3; sqlite3.connect('other.db').execute('CREATE TABLE t(x)')"
expect 1 "$VIGIL" state -X state.dir="$TMP/new2" import other.db
grep -q "not a vigil partition file (no table meta)" err || fail "foreign SQLite: $(cat err)"
expect 1 st show 9
grep -q "no partition 9 in state.dir $TMP/s (partitions here: 0, 1, 2)" err || fail "show 9: $(cat err)"
expect 1 "$VIGIL" state -X state.dir="$TMP/missing" list
grep -q "state.dir $TMP/missing: No such file or directory" err || fail "missing dir: $(cat err)"

# --- a signal during export or import leaves no temporary copy (a full
# copy of the patients' states) behind: a partition file made large
# enough that the copy takes a while.
mkdir big
cp "$TMP/e1.db" big/partition-1.db
python3 -c "
import sqlite3; db = sqlite3.connect('big/partition-1.db')
db.execute('CREATE TABLE pad(x)')
db.executemany('INSERT INTO pad VALUES (zeroblob(1048576))', [()] * 300)
db.commit()"
for sig in TERM HUP; do
  for how in export import; do
    if [ $how = export ]; then
      env --default-signal=HUP "$VIGIL" state -X state.dir="$TMP/big" export 1 -o "$TMP/big-out.db" 2>/dev/null & pid=$!
      pat="$TMP/big-out.db.*"
    else
      env --default-signal=HUP "$VIGIL" state -X state.dir="$TMP/big-in" import big/partition-1.db 2>/dev/null & pid=$!
      pat="$TMP/big-in/.partition-1.db.import-*"
    fi
    for _ in $(seq 400); do compgen -G "$pat" >/dev/null && break; sleep 0.01; done
    kill -$sig $pid; set +e; wait $pid; rc=$?; set -e
    [ $rc -gt 128 ] || fail "$how, SIG$sig: exit $rc (finished before the signal?)"
    if compgen -G "$pat*" >/dev/null; then fail "$how, SIG$sig: left $(compgen -G "$pat*")"; fi
    [ ! -e "$TMP/big-out.db" ] && [ ! -e "$TMP/big-in/partition-1.db" ] || fail "$how, SIG$sig: a copy was finished"
  done
done
rm -rf big big-in

# --- usage
for sub in "" list show patient export import; do
  expect 0 "$VIGIL" state $sub --help
  grep -q "^Usage: vigil state" out || fail "vigil state $sub --help"
done
expect 2 st
expect 2 st frob
expect 2 st show
expect 2 st list --force
expect 2 st export 1
grep -q "export: -o FILE is needed" err || fail "export without -o: $(cat err)"
echo "PASS: vigil state list/show/patient/export/import and their refusals"
