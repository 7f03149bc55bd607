#!/usr/bin/env bash
# 0016-personal-data (SPEC §8, issue 15): records from a producer that is
# not Vigil's (fastavro encodes, kcat produces) carry personnummer as
# patient_id and as key, in every spelling, beside good records. Nothing
# of them may reach any output: the alerts, parts, indicators and DLQ
# topics (values, keys, headers), the state files, the logs, the HTML
# report, `vigil alerts` and `vigil indicators`. The good records are
# processed (their alerts and values exist).
source "$(dirname "$0")/lib/common.sh"
S=it16.$$.$(date +%s)
topic_args "$S"
"$VIGIL" topics create -p 2 "${T[@]}" >/dev/null

# Good events (pseudonyms) from simulate, and bad ones: the same kind of
# event with a personnummer as patient_id (key a pseudonym), or as the key.
"$VIGIL" simulate -n 200 --seed 16 --out "$TMP/good.jsonl" 2>/dev/null
"$PY" - "$TMP/good.jsonl" "$S" "$VIGIL_BOOTSTRAP" > "$TMP/pnrs.txt" <<'PY'
import io, json, subprocess, sys, os, datetime
sys.path.insert(0, os.path.join(os.environ["VIGIL_SRC"], "tests/integration/lib"))
import topics
from fastavro import schemaless_writer
good, S, B = sys.argv[1:4]
by_name = {name: (fp, sch) for fp, (name, sch) in topics.SCHEMAS.items()}
TYPES = {"admission": ("Admission", "adm"), "discharge": ("Discharge", "dis"),
         "death": ("Death", "dea"), "sip_created": ("SipCreated", "sip"),
         "register_entry": ("RegisterEntry", "reg")}
PNRS = ["191212121212", "19121212-1212", "121212-1212", "121212+1212",
        "1212121212", "19121272-1213"]   # last: samordningsnummer, bad check
def ms(v):
    if isinstance(v, int):
        return v
    return int(datetime.datetime.fromisoformat(v.replace("Z", "+00:00")).timestamp() * 1000)
def encode(e):
    name, short = TYPES[e.pop("type")]
    fp, sch = by_name[name]
    rec = dict(e)
    for k in ("occurred_at", "death_at"):
        if k in rec:
            rec[k] = ms(rec[k])
    rec.setdefault("cancels_event_id", None)
    if name in ("Admission", "Death"):
        rec.setdefault("residence", "UNKNOWN")
    buf = io.BytesIO()
    schemaless_writer(buf, sch, rec)
    return short, b"\xc3\x01" + fp + buf.getvalue()
import tempfile
def produce(short, key, value):
    # a file is one message (on stdin kcat would split at newline bytes)
    with tempfile.NamedTemporaryFile() as f:
        f.write(value)
        f.flush()
        subprocess.run(["kcat", "-P", "-b", B, "-t", "%s.%s" % (S, short),
                        "-k", key, f.name], check=True)
events = [json.loads(l) for l in open(good)]
n = 0
for e in events:
    key = e["patient_id"]
    if n < 60 and e["type"] in ("admission", "death", "discharge"):
        p = PNRS[n % len(PNRS)]
        bad = dict(e, patient_id=p, event_id=e["event_id"] + "-pnr")
        short, v = encode(dict(bad))
        produce(short, key if n % 2 else p, v)   # key: pseudonym or the pnr
        n += 1
    elif n < 66 and e["type"] in ("admission", "death", "discharge"):
        # broken after its patient_id (a byte left over): refused for
        # that, and the DLQ must not copy the personnummer either
        p = PNRS[n % len(PNRS)]
        short, v = encode(dict(e, patient_id=p, event_id=e["event_id"] + "-tb"))
        produce(short, key, v + b"\x00")
        n += 1
    elif n < 72 and e["type"] in ("admission", "death", "discharge"):
        # a personnummer in another field (SPEC §8: no component writes
        # one to a topic or a state file): not processed either
        p = PNRS[n % len(PNRS)]
        bad = dict(e, event_id=p) if e["type"] == "death" else \
            dict(e, stay_id=p, event_id=e["event_id"] + "-st")
        short, v = encode(bad)
        produce(short, key, v)
        n += 1
    short, v = encode(dict(e))
    produce(short, key, v)
print("\n".join(PNRS))
print("sent %d good and %d records with personal data (6 of them also broken, 6 in another field)" % (len(events), n), file=sys.stderr)
PY

"$VIGIL" process "${T[@]}" -X state.dir="$TMP/p" -X group.id="$S.g" \
  --exit-idle 2 2> "$TMP/process.log" || fail "process: $(tail -3 "$TMP/process.log")"
"$VIGIL" aggregate "${T[@]}" -X state.dir="$TMP/a" -X aggregate.group.id="$S.a" \
  --exit-idle 2 2> "$TMP/aggregate.log" || fail "aggregate: $(tail -3 "$TMP/aggregate.log")"
"$VIGIL" report "${T[@]}" --html "$TMP/report.html" 2> "$TMP/report.log" || fail "report"
"$VIGIL" alerts "${T[@]}" --all > "$TMP/alerts.txt" 2>&1 || fail "alerts"
"$VIGIL" indicators "${T[@]}" --format json > "$TMP/ind.txt" 2>&1 || fail "indicators"
"$VIGIL" lag "${T[@]}" -X group.id="$S.g" > "$TMP/lag.txt" 2>&1 || fail "lag"
for t in alerts parts ind dlq adm; do
  kcat -C -b "$VIGIL_BOOTSTRAP" -t "$S.$t" -e -o beginning -q \
    -f 'K=%k H=%h V=%s\n' > "$TMP/topic-$t.txt" 2>/dev/null || true
done
for db in "$TMP"/p/*.db "$TMP"/a/*.db; do
  sqlite3 "$db" .dump > "$db.dump"
done
# The input topic holds them (they were sent); no output may.
grep -aq "19121212" "$TMP/topic-adm.txt" || fail "the personal data was not sent"
outputs=("$TMP"/topic-alerts.txt "$TMP"/topic-parts.txt "$TMP"/topic-ind.txt
         "$TMP"/topic-dlq.txt "$TMP"/p/*.dump "$TMP"/a/*.dump "$TMP"/*.log
         "$TMP/report.html" "$TMP/alerts.txt" "$TMP/ind.txt" "$TMP/lag.txt")
while read -r pnr; do
  digits=${pnr//[-+]/}
  for pat in "$pnr" "$digits" "${digits: -10}"; do
    if grep -alF -- "$pat" "${outputs[@]}"; then
      fail "personal data ($pat) in the output above"
    fi
  done
done < "$TMP/pnrs.txt"
dlq=$(grep -ac "vigil.reason=personal-data" "$TMP/topic-dlq.txt" || true)
[ "$dlq" = 66 ] || fail "expected 66 personal-data DLQ records, got $dlq"
tb=$(grep -a "vigil.reason=trailing-bytes" "$TMP/topic-dlq.txt" | grep -ac "^K= H=.* V=$" || true)
[ "$tb" = 6 ] || fail "expected 6 trailing-bytes DLQ records without key and value, got $tb"
[ "$(grep -ac "vigil.reason=" "$TMP/topic-dlq.txt")" = 72 ] \
  || fail "other DLQ records than the 72: $(grep -ao "reason=[a-z-]*" "$TMP/topic-dlq.txt" | sort | uniq -c)"
grep -q "ACTIVE" "$TMP/alerts.txt" || fail "no alerts from the good records"
[ -s "$TMP/ind.txt" ] || fail "no indicator values from the good records"
echo "PASS: $dlq records with personal data went to the DLQ without key or value; none of 6 spellings in 11 kinds of output"
