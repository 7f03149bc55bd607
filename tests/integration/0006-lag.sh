#!/usr/bin/env bash
# 0006-lag: `vigil lag` reports, per partition, the same committed offset,
# log end offset and lag as Kafka's own kafka-consumer-groups tool, before
# and after the group's offsets move; totals, --topic, --max-lag exit
# statuses, and errors for unknown topics and unreachable brokers.
source "$(dirname "$0")/lib/common.sh"
S=it6.$$.$(date +%s)
G=$S.g
topic_args "$S"
"$VIGIL" topics create -p 3 "${T[@]}" >/dev/null

groups_tool() { "$VIGIL_SRC/ops/kafka-local" groups-tool --bootstrap-server "$VIGIL_BOOTSTRAP" "$@"; }

# produce TOPIC PARTITION COUNT: COUNT keyed records into one partition.
produce() {
  [ "$3" -gt 0 ] || return 0
  seq 1 "$3" | sed "s/.*/k&:value &/" \
    | kcat -P -b "$VIGIL_BOOTSTRAP" -t "$1" -p "$2" -K: \
    || fail "kcat could not produce to $1 [$2]"
}
# commit TOPIC:PARTITION OFFSET: set the (inactive) group's committed offset.
commit() {
  groups_tool --group "$G" --reset-offsets --topic "$1" --to-offset "$2" \
    --execute >/dev/null || fail "could not commit $1 at $2"
}

# lag_json OUT ARGS...: vigil lag --json into OUT; exit status in $rc.
lag_json() {
  local out=$1; shift
  set +e
  "$VIGIL" lag -b "$VIGIL_BOOTSTRAP" -g "$G" --json "$@" >"$out" 2>"$out.err"
  rc=$?
  set -e
}

# compare VIGIL_JSON: every partition of vigil's answer against
# kafka-consumer-groups --describe. The tool lists the partitions the
# (inactive) group has committed offsets for, with CURRENT-OFFSET "-" for
# none; vigil lists every partition of the topics, committed null for none.
# Only the topics in vigil's answer are compared (--topic may choose some).
compare() {
  groups_tool --describe --group "$G" >"$TMP/describe.txt" 2>"$TMP/describe.err" \
    || fail "kafka-consumer-groups --describe failed: $(cat "$TMP/describe.err")"
  "$PY" - "$1" "$TMP/describe.txt" "$G" <<'EOF'
import json, sys
doc = json.load(open(sys.argv[1]))
group = sys.argv[3]
tool = {}
for line in open(sys.argv[2]):
    f = line.split()
    if len(f) >= 6 and f[0] == group and f[2].isdigit():
        tool[(f[1], int(f[2]))] = (f[3], f[4], f[5])
errors = []
if doc["group"] != group:
    errors.append("group %r != %r" % (doc["group"], group))
mine = {(p["topic"], p["partition"]): p for p in doc["partitions"]}
for key, p in sorted(mine.items()):
    t = tool.get(key)
    if p["committed"] is None:
        # Nothing committed: lag counts every retained record (fresh
        # topics: log start 0, so lag == end).
        if p["lag"] != p["end"]:
            errors.append("%s: lag %d with nothing committed, end %d" % (key, p["lag"], p["end"]))
        if t and t[0] != "-":
            errors.append("%s: vigil has no commit, tool has %s" % (key, t[0]))
        if t and t[1] != str(p["end"]):
            errors.append("%s: end %d, tool %s" % (key, p["end"], t[1]))
        continue
    if not t:
        errors.append("%s: committed %d but not listed by the tool" % (key, p["committed"]))
        continue
    want = (str(p["committed"]), str(p["end"]), str(p["lag"]))
    if t != want:
        errors.append("%s: vigil committed/end/lag %s, tool %s" % (key, want, t))
shown = {k[0] for k in mine}
for key, t in tool.items():
    if key[0] in shown and key not in mine:
        errors.append("%s: listed by the tool %s, missing from vigil" % (key, t))
total = sum(p["lag"] for p in doc["partitions"])
if doc["total_lag"] != total:
    errors.append("total_lag %d != sum of lags %d" % (doc["total_lag"], total))
for t in doc["topics"]:
    s = sum(p["lag"] for p in doc["partitions"] if p["topic"] == t["topic"])
    if t["lag"] != s:
        errors.append("topic %s: lag %d != sum %d" % (t["topic"], t["lag"], s))
if errors:
    print("\n".join(errors), file=sys.stderr)
    sys.exit(1)
print("%d partitions agree with kafka-consumer-groups (%d listed by it), total lag %d"
      % (len(mine), len(tool), total))
EOF
}

# jq-free field access: jget FILE PYTHON-EXPRS (d = the document; several
# expressions print space-separated).
jget() { "$PY" -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$1"; }

# --- data: known record counts per partition --------------------------------
produce "$S.adm" 0 10; produce "$S.adm" 1 20; produce "$S.adm" 2 5
produce "$S.dis" 0 7;                         produce "$S.dis" 2 3
produce "$S.sip" 0 4
# Nothing to $S.dea.

# --- before: some partitions committed, some not ----------------------------
commit "$S.adm:0" 4
commit "$S.adm:1" 20
commit "$S.dis:2" 1

lag_json "$TMP/before.json"
[ "$rc" = 0 ] || fail "vigil lag exit $rc: $(cat "$TMP/before.json.err")"
cat "$TMP/before.json"
compare "$TMP/before.json" || fail "before: vigil lag disagrees with kafka-consumer-groups"
# Default topics: those the group has committed for, all their partitions.
[ "$(jget "$TMP/before.json" '",".join(sorted({p["topic"] for p in d["partitions"]}))')" = "$S.adm,$S.dis" ] \
  || fail "default topics are not the group's committed topics"
[ "$(jget "$TMP/before.json" 'len(d["partitions"])')" = 6 ] || fail "expected 6 partitions"
# adm: (10-4) + (20-20) + 5 uncommitted = 11; dis: 7 + 0 + (3-1) = 9.
[ "$(jget "$TMP/before.json" 'd["total_lag"]')" = 20 ] || fail "total lag is not 20"
[ "$(jget "$TMP/before.json" '[t["lag"] for t in d["topics"]]')" = "[11, 9]" ] \
  || fail "per-topic lags are not [11, 9]"
[ "$(jget "$TMP/before.json" '[p["committed"] for p in d["partitions"]]')" = "[4, 20, None, None, None, 1]" ] \
  || fail "committed offsets are not as set"

# The group from the configuration (group.id) when no --group is given: the
# processor's group, so all five input topics are shown, including the ones
# it has not committed for yet (their backlog counts: 20 + 4).
"$VIGIL" lag "${T[@]}" -X "group.id=$G" --json >"$TMP/conf.json"
[ "$(jget "$TMP/conf.json" 'd["group"], d["total_lag"], len(d["topics"])')" = "$G 24 5" ] \
  || fail "group.id from the configuration not used, or input topics missing: $(jget "$TMP/conf.json" 'd["group"], d["total_lag"], len(d["topics"])')"

# Human table: header, rows, per-topic totals and an overall total.
"$VIGIL" lag -b "$VIGIL_BOOTSTRAP" -g "$G" >"$TMP/table.txt"
cat "$TMP/table.txt"
grep -Eq '^TOPIC +PARTITION +COMMITTED +END +LAG$' "$TMP/table.txt" || fail "no table header"
grep -Eq "^$S\\.adm +2 +- +5 +5$" "$TMP/table.txt" || fail "no row for adm [2] without commit"
grep -Eq "^$S\\.adm +0 +4 +10 +6$" "$TMP/table.txt" || fail "no row for adm [0]"
grep -Eq "^$S\\.dis +total +9$" "$TMP/table.txt" || fail "no total line for dis"
grep -Eq '^TOTAL +20$' "$TMP/table.txt" || fail "no TOTAL line of 20"

# --topic chooses; a topic without any commit counts everything retained.
lag_json "$TMP/topics.json" --topic "$S.adm" --topic "$S.sip" --topic "$S.dea"
[ "$rc" = 0 ] || fail "--topic: exit $rc: $(cat "$TMP/topics.json.err")"
compare "$TMP/topics.json" || fail "--topic: vigil lag disagrees with kafka-consumer-groups"
[ "$(jget "$TMP/topics.json" '[(t["topic"][-3:], t["lag"]) for t in d["topics"]]')" = \
  "[('adm', 11), ('sip', 4), ('dea', 0)]" ] || fail "--topic: wrong topics or lags"

# --max-lag: 2 above, 0 at or below.
lag_json "$TMP/m.json" --max-lag 19
[ "$rc" = 2 ] || fail "--max-lag 19 with lag 20: exit $rc, expected 2"
grep -q "total lag 20 is above --max-lag 19" "$TMP/m.json.err" || fail "no --max-lag message"
lag_json "$TMP/m.json" -m 20
[ "$rc" = 0 ] || fail "--max-lag 20 with lag 20: exit $rc, expected 0"

# --- after: more records, then the group catches up -------------------------
produce "$S.adm" 1 3
lag_json "$TMP/mid.json"
compare "$TMP/mid.json" || fail "after producing: vigil lag disagrees with kafka-consumer-groups"
[ "$(jget "$TMP/mid.json" 'd["total_lag"]')" = 23 ] || fail "total lag is not 23 after 3 more records"

groups_tool --group "$G" --reset-offsets --topic "$S.adm" --topic "$S.dis" --to-latest \
  --execute >/dev/null || fail "could not reset the group to the latest offsets"
lag_json "$TMP/after.json"
[ "$rc" = 0 ] || fail "vigil lag exit $rc: $(cat "$TMP/after.json.err")"
cat "$TMP/after.json"
compare "$TMP/after.json" || fail "after: vigil lag disagrees with kafka-consumer-groups"
[ "$(jget "$TMP/after.json" 'd["total_lag"]')" = 0 ] || fail "total lag is not 0 after catching up"
[ "$(jget "$TMP/after.json" '[p["committed"] for p in d["partitions"]]')" = "[10, 23, 5, 7, 0, 3]" ] \
  || fail "committed offsets are not the log end offsets"
lag_json "$TMP/m.json" --max-lag 0
[ "$rc" = 0 ] || fail "--max-lag 0 with lag 0: exit $rc, expected 0"

# --- unknown group, unknown topic, no broker, usage -------------------------
"$VIGIL" lag -b "$VIGIL_BOOTSTRAP" -g "$S.nosuchgroup" --topic "$S.adm" --json >"$TMP/nog.json"
[ "$(jget "$TMP/nog.json" '[p["committed"] for p in d["partitions"]], d["total_lag"]')" = \
  "[None, None, None] 38" ] || fail "unknown group: expected nothing committed, lag 38"
# No --topic and nothing committed: the five input topics, with a warning.
"$VIGIL" lag "${T[@]}" -g "$S.nosuchgroup" --json >"$TMP/nog2.json" 2>"$TMP/nog2.err"
grep -q "has no committed offsets" "$TMP/nog2.err" || fail "no warning for a group without commits"
[ "$(jget "$TMP/nog2.json" 'len(d["partitions"]), d["total_lag"]')" = "15 52" ] \
  || fail "unknown group: expected the 5 input topics (3 partitions each), total lag 38+10+4"

lag_json "$TMP/err.json" --topic "$S.nosuchtopic"
[ "$rc" = 1 ] || fail "unknown topic: exit $rc, expected 1"
grep -q "topic $S.nosuchtopic: no such topic" "$TMP/err.json.err" \
  || fail "unknown topic: unclear message: $(cat "$TMP/err.json.err")"
[ ! -s "$TMP/err.json" ] || fail "unknown topic: output on stdout"
# (All-topics metadata: asking for the one topic could itself create it.)
kcat -L -b "$VIGIL_BOOTSTRAP" > "$TMP/meta.txt"
grep -qF "topic \"$S.nosuchtopic\"" "$TMP/meta.txt" \
  && fail "vigil lag created the unknown topic"

set +e
"$VIGIL" lag -b 127.0.0.1:1 -g "$G" --timeout 2 >/dev/null 2>"$TMP/nobroker.err"
rc=$?
set -e
[ "$rc" = 1 ] || fail "unreachable broker: exit $rc, expected 1"
grep -q "ERROR lag: .*committed offsets of group" "$TMP/nobroker.err" \
  || fail "unreachable broker: unclear message: $(tail -2 "$TMP/nobroker.err")"

for bad in "--max-lag -1" "--max-lag x" "--bogus" "--timeout 0" "extra-arg"; do
  set +e
  # shellcheck disable=SC2086
  "$VIGIL" lag -b "$VIGIL_BOOTSTRAP" $bad >/dev/null 2>&1
  rc=$?
  set -e
  [ "$rc" = 64 ] || fail "usage error '$bad': exit $rc, expected 64"
done
grep -q "64  usage" <("$VIGIL" lag --help) || fail "--help does not document exit 64"
echo PASS
