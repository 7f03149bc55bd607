#!/usr/bin/env bash
# 0011-alerts: `vigil alerts` shows what the processor published: the last
# status per alert_id equals file mode; filters by rule, kommun, region and
# status select the right subsets; --follow prints alerts as they come;
# started later, --follow starts from the current alerts (not the history)
# unless --from-beginning; the table has the alert's time, whole ids and
# kommun names; -a/--area selects by kommun, region or SE; a region filter
# reads the region from the kommun (or area), not from the record's field.
source "$(dirname "$0")/lib/common.sh"
S=it11.$$.$(date +%s)
topic_args "$S"
"$VIGIL" topics create -p 2 "${T[@]}" >/dev/null
"$VIGIL" simulate -n 300 --seed 21 --out "$TMP/ev.jsonl" 2>/dev/null
"$VIGIL" process --input "$TMP/ev.jsonl" --partitions 2 --alerts "$TMP/fa.jsonl" \
  --indicators /dev/null 2>/dev/null
processor_alerts "$TMP/fa.jsonl"

# --follow, started before anything is published.
"$VIGIL" alerts "${T[@]}" --follow --json > "$TMP/follow.jsonl" 2> "$TMP/follow.log" &
fpid=$!
"$VIGIL" produce "${T[@]}" "$TMP/ev.jsonl" 2>/dev/null
"$VIGIL" process "${T[@]}" -X state.dir="$TMP/st" -X group.id="$S.g" --exit-idle 3 2>/dev/null
for _ in $(seq 1 50); do
  [ "$(wc -l < "$TMP/follow.jsonl")" -gt 0 ] && break; sleep 0.2
done
sleep 1
kill $fpid 2>/dev/null \
  || fail "vigil alerts --follow exited before it was stopped: $(tail -3 "$TMP/follow.log")"
wait $fpid 2>/dev/null || true

"$PY" - "$TMP/fa.jsonl" "$TMP/follow.jsonl" <<'PY' || fail "--follow output differs from file mode"
import json, sys
def last(path):
    d = {}
    for line in open(path):
        a = json.loads(line); d[a["alert_id"]] = a["status"]
    return d
f, k = last(sys.argv[1]), last(sys.argv[2])
act = lambda d: {i for i, s in d.items() if s == "ACTIVE"}
print("file mode %d ACTIVE, --follow %d ACTIVE (%d lines)" % (
    len(act(f)), len(act(k)), sum(1 for _ in open(sys.argv[2]))))
sys.exit(0 if act(f) == act(k) and act(f) else 1)
PY

# A record whose region disagrees with its kommun (not what the processor
# writes): the filters file it by its kommun, as vigil serve does.
f=$("$PY" -c 'import json,sys
a=next(json.loads(l) for l in open(sys.argv[1]) if json.loads(l)["status"]=="ACTIVE" and json.loads(l).get("kommun"))
a["alert_id"]="forged-region-" + a["alert_id"]; a["region"]="04" if a["kommun"][:2]!="04" else "01"
print(json.dumps(a))' "$TMP/fa.jsonl")
echo "$f" | "$VIGIL" codec encode --type alert | xxd -r -p > "$TMP/f.bin"
kcat -P -b "$VIGIL_BOOTSTRAP" -t "$S.alerts" -p 0 \
  -k "$("$PY" -c 'import json,sys; print(json.loads(sys.argv[1])["alert_id"])' "$f")" \
  "$TMP/f.bin" || fail "cannot publish the forged alert"
echo "$f" >> "$TMP/fa.jsonl"

# Up to now, deduped, with filters: compare with file mode's subsets.
"$VIGIL" alerts "${T[@]}" --json > "$TMP/all.jsonl" 2>/dev/null
"$VIGIL" alerts "${T[@]}" --json --rule SIP_OVERDUE > "$TMP/sip.jsonl" 2>/dev/null
"$VIGIL" alerts "${T[@]}" --json --region 04 > "$TMP/r04.jsonl" 2>/dev/null
k=$("$PY" -c 'import json,sys; print(next(json.loads(l)["kommun"] for l in open(sys.argv[1]) if json.loads(l)["status"]=="ACTIVE"))' "$TMP/fa.jsonl")
"$VIGIL" alerts "${T[@]}" --json --kommun "$k" > "$TMP/k.jsonl" 2>/dev/null
"$VIGIL" alerts "${T[@]}" --json --status RETRACTED > "$TMP/ret.jsonl" 2>/dev/null
"$VIGIL" alerts "${T[@]}" > "$TMP/table.txt" 2>/dev/null
"$VIGIL" alerts "${T[@]}" --json -a 04 > "$TMP/a04.jsonl" 2>/dev/null
"$VIGIL" alerts "${T[@]}" --json -a "$k" -a 01 > "$TMP/ak.jsonl" 2>/dev/null
"$VIGIL" alerts "${T[@]}" --json --area SE > "$TMP/ase.jsonl" 2>/dev/null
# --follow started now: the current ACTIVE alerts once each, then changes.
follow_now() { # OUT ARGS...
  local out=$1; shift
  "$VIGIL" alerts "${T[@]}" --follow --json "$@" > "$out" 2>/dev/null & local p=$!
  local n=-1
  for _ in $(seq 1 50); do
    sleep 0.3; [ "$(wc -l < "$out")" = "$n" ] && [ "$n" -gt 0 ] && break; n=$(wc -l < "$out")
  done
  kill $p; wait $p 2>/dev/null || true
}
# History that --follow must not replay: one ACTIVE alert gets retracted
# (as the processor would publish it), after the snapshots above.
x=$("$PY" -c 'import json,sys; a=json.loads(open(sys.argv[1]).readline()); a["status"]="RETRACTED"; print(json.dumps(a))' "$TMP/all.jsonl")
xid=$("$PY" -c 'import json,sys; print(json.loads(sys.argv[1])["alert_id"])' "$x")
echo "$x" | "$VIGIL" codec encode --type alert | xxd -r -p > "$TMP/x.bin"
xp=$(kcat -C -b "$VIGIL_BOOTSTRAP" -t "$S.alerts" -e -q -f '%p %k\n' | awk -v k="$xid" '$2 == k { print $1; exit }')
[ -n "$xp" ] || fail "alert $xid not found on $S.alerts"
kcat -P -b "$VIGIL_BOOTSTRAP" -t "$S.alerts" -p "$xp" -k "$xid" "$TMP/x.bin" \
  || fail "cannot publish the retraction"
echo "$xid" > "$TMP/xid"
follow_now "$TMP/fnow.jsonl"
follow_now "$TMP/fbeg.jsonl" --from-beginning
"$PY" - "$TMP" "$k" <<'PY' || fail "filtered alerts differ from file mode"
import json, sys, os
d, k = sys.argv[1], sys.argv[2]
def load(n):
    return [json.loads(l) for l in open(os.path.join(d, n))]
fa = {a["alert_id"]: a for a in load("fa.jsonl")}
for a in fa.values():  # a region is the first two digits of the area or kommun
    a["region"] = (a.get("area") or a.get("kommun") or "")[:2]
active = {i for i, a in fa.items() if a["status"] == "ACTIVE"}
checks = [
    ("all (ACTIVE by default)", {a["alert_id"] for a in load("all.jsonl")}, active),
    ("--rule SIP_OVERDUE", {a["alert_id"] for a in load("sip.jsonl")},
     {i for i in active if fa[i]["rule"] == "SIP_OVERDUE"}),
    ("--region 04", {a["alert_id"] for a in load("r04.jsonl")},
     {i for i in active if fa[i]["region"] == "04"}),
    ("--kommun " + k, {a["alert_id"] for a in load("k.jsonl")},
     {i for i in active if fa[i]["kommun"] == k}),
    ("-a 04", {a["alert_id"] for a in load("a04.jsonl")},
     {i for i in active if fa[i]["region"] == "04" or fa[i].get("area") == "04"}),
    ("-a " + k + " -a 01", {a["alert_id"] for a in load("ak.jsonl")},
     {i for i in active if fa[i]["kommun"] == k or fa[i]["region"] == "01"
      or fa[i].get("area") in (k, "01")}),
    ("--area SE", {a["alert_id"] for a in load("ase.jsonl")}, active),
]
xid = open(os.path.join(d, "xid")).read().strip()
fnow = load("fnow.jsonl")
ids = [a["alert_id"] for a in fnow]
if len(ids) != len(set(ids)) or set(ids) != active - {xid}:
    print("--follow started late: %d lines, %d distinct, want the %d ACTIVE once each"
          % (len(ids), len(set(ids)), len(active))); bad_follow = 1
else:
    print("--follow started late: the %d ACTIVE alerts once each, not the retracted one" % len(ids)); bad_follow = 0
fbeg = load("fbeg.jsonl")
if ({a["alert_id"] for a in fbeg if a["status"] == "ACTIVE"} != active
        or [a["alert_id"] for a in fbeg if a["status"] == "RETRACTED"] != [xid]):
    print("--follow --from-beginning: %d lines" % len(fbeg)); bad_follow = 1
bad = 0
for name, got, want in checks:
    ok = got == want and (want or name.startswith("--"))
    print("%-28s %4d alerts %s" % (name, len(got), "ok" if ok else "MISMATCH (want %d)" % len(want)))
    bad += not ok
ret = load("ret.jsonl")
if any(a["status"] != "RETRACTED" for a in ret):
    print("--status RETRACTED shows other statuses"); bad += 1
bad += bad_follow
table = open(os.path.join(d, "table.txt")).read().splitlines()
if len(table) != len(active) + 1 or not table[0].startswith("STATUS"):
    print("table: %d lines for %d alerts" % (len(table), len(active))); bad += 1
if "TIME" not in table[0]:
    print("table: no TIME column: " + table[0]); bad += 1
for i in active:
    a = fa[i]
    if a.get("patient_id") and a["patient_id"] not in open(os.path.join(d, "table.txt")).read():
        print("table: patient_id %s not shown whole" % a["patient_id"]); bad += 1; break
row = next((l for l in table[1:] if " %s " % k in l), "")
if not any(ch.isalpha() for ch in row.split(" %s " % k, 1)[-1][:3]):
    print("table: no kommun name after %s: %s" % (k, row)); bad += 1
sys.exit(1 if bad else 0)
PY
echo PASS
