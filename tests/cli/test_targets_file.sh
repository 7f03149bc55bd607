#!/usr/bin/env bash
# File mode writes the INDICATOR_BELOW_TARGET alerts of its final values
# (SPEC §5.4, §5.5: the same final results as Kafka mode, where the
# aggregator raises them), at the boundaries of §5.4 and §6.3:
#  - register coverage 13/20 = 0.65 against >= 0.70: an ACTIVE alert for the
#    kommun, its region and SE, for the month and its quarter (complete), not
#    for the year (its December is not complete) nor for any breakdown row;
#    its fields are the value's;
#  - 14/20 = 0.70: exactly at the target, none;
#  - 12/19: a denominator under aggregate.min_denominator (20), none; with
#    aggregate.min_denominator=19, raised;
#  - the watermark short of completeness: none, unless
#    aggregate.alert_preliminary=true (then complete=false, and the year
#    too);
#  - a second kommun of the region at 20/20: the kommun below alone (the
#    region and SE, summed, are above);
#  - rules.register=off, target.register_coverage=off: none;
#    target.register_coverage=>=0.6: none.
set -euo pipefail
VIGIL=${VIGIL:-$(cd "$(dirname "$0")/../.." && pwd)/build/vigil}
PY=python3
TMP=$(mktemp -d); trap 'rm -rf "$TMP"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# pop NAME DEATHS REGISTERED CLOCK: DEATHS deaths in kommun 0484 in March
# 2026, the first REGISTERED of them with a register entry (all answers YES:
# no spr.* breach), and for each patient a cancellation of nothing at CLOCK
# (a SipCreated): every partition's watermark ends at CLOCK.
pop() { # NAME DEATHS REGISTERED CLOCK [KOMMUN]: KOMMUN's appended to NAME
  "$PY" - "$TMP/$1.jsonl" "$2" "$3" "$4" "${5:-}" <<'PY'
import json, sys
out, deaths, reg, clock = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
kommun = sys.argv[5] or "0484"
mode = "a" if sys.argv[5] else "w"
yes = {k: "YES" for k in ("eol_conversation", "pain_assessed",
       "symptoms_assessed", "oral_health_assessed", "prn_opioid",
       "prn_anxiolytic", "prn_antiemetic", "prn_antisecretory",
       "present_at_death", "bereavement_offered")}
with open(out, mode) as f:
    for i in range(deaths):
        pid = "tp-%s-%03d" % (kommun, i)
        at = "2026-03-%02dT10:00:00.000Z" % (1 + i % 28)
        f.write(json.dumps(dict(type="death", event_id="d%d" % i,
            patient_id=pid, occurred_at=at, kommun=kommun, source_system="t",
            place_of_death="HOME", expected=True, age_years=80, sex="FEMALE",
            diagnosis_group="CANCER", residence="ORDINARY_HOME")) + "\n")
        if i < reg:
            f.write(json.dumps(dict(type="register_entry", event_id="r%d" % i,
                patient_id=pid, occurred_at="2026-04-02T10:00:00.000Z",
                kommun=kommun, source_system="t", death_at=at, unit_id="U1",
                expected=True, pressure_ulcer="NONE", **yes)) + "\n")
        f.write(json.dumps(dict(type="sip_created", event_id="c%d" % i,
            patient_id=pid, occurred_at=clock, kommun=kommun,
            source_system="t", sip_id="s", cancels_event_id="none")) + "\n")
PY
}

# targets NAME [options]: runs file mode, prints its INDICATOR_BELOW_TARGET
# alerts as "area period num/den complete" lines, sorted.
targets() {
  local name=$1; shift
  "$VIGIL" process --input "$TMP/$name.jsonl" --partitions 2 "$@" \
    --alerts "$TMP/$name.a" --indicators "$TMP/$name.i" 2> "$TMP/$name.log" \
    || fail "$name: $(tail -2 "$TMP/$name.log")"
  "$PY" - "$TMP/$name.a" <<'PY'
import json, sys
rows = []
for line in open(sys.argv[1]):
    a = json.loads(line)
    if a["rule"] != "INDICATOR_BELOW_TARGET":
        continue
    assert a["status"] == "ACTIVE", a
    assert a["indicator"] == "register_coverage", a
    assert a["anchor"] == "%s|%s|%s" % (a["indicator"], a["area"], a["period"]), a
    assert abs(a["value"] - a["numerator"] / a["denominator"]) < 1e-12, a
    assert a["target"] in (0.7, 0.66), a
    if len(a["area"]) == 4:
        assert a["kommun"] == a["area"] and a["region"] == a["area"][:2], a
    elif a["area"] != "SE":
        assert a["region"] == a["area"] and "kommun" not in a, a
    rows.append("%s %s %d/%d %s" % (a["area"], a["period"], a["numerator"],
                                    a["denominator"], str(a["complete"]).lower()))
print("\n".join(sorted(rows)))
PY
}

want6() { # NUM/DEN COMPLETE
  printf '%s\n' "04 2026-03 $1 $2" "04 2026-Q1 $1 $2" "0484 2026-03 $1 $2" \
    "0484 2026-Q1 $1 $2" "SE 2026-03 $1 $2" "SE 2026-Q1 $1 $2"
}

check() { # NAME GOT WANT
  [ "$2" = "$3" ] || fail "$1: got [$2], want [$3]"
  echo "ok - $1: $(printf '%s' "$2" | grep -c . || true) alert(s)"
}

pop below 20 13 2026-06-01T00:00:00.000Z
check "13/20 below 0.70" "$(targets below)" "$(want6 13/20 true)"
# the year's value is the same 13/20, but 2026 is not complete
grep -q '"indicator":"register_coverage","area":"0484","period":"2026","breakdown":"all","numerator":13,"denominator":20,"complete":false' \
  "$TMP/below.i" || fail "the year's value row is not 13/20, incomplete"
# the breakdown rows hold the same figures, and raise nothing
grep -q '"indicator":"register_coverage","area":"0484","period":"2026-03","breakdown":"sex:FEMALE","numerator":13,"denominator":20' \
  "$TMP/below.i" || fail "no sex:FEMALE row of 13/20"
check "one partition: the same" "$(targets below -p 1)" "$(want6 13/20 true)"

pop at 20 14 2026-06-01T00:00:00.000Z
check "14/20 exactly at 0.70" "$(targets at)" ""

pop small 19 12 2026-06-01T00:00:00.000Z
check "12/19, under aggregate.min_denominator" "$(targets small)" ""
check "12/19, aggregate.min_denominator=19" \
  "$(targets small -X aggregate.min_denominator=19)" "$(want6 12/19 true)"

# Watermark 2026-04-20: the deaths are due (their deadline days passed),
# but March's coverage is complete only from 2026-05-01 (E + 30 days).
pop prelim 20 13 2026-04-20T00:00:00.000Z
check "preliminary" "$(targets prelim)" ""
check "preliminary, aggregate.alert_preliminary=true (the year too)" \
  "$(targets prelim -X aggregate.alert_preliminary=true)" \
  "$( (want6 13/20 false; printf '%s\n' "04 2026 13/20 false" \
       "0484 2026 13/20 false" "SE 2026 13/20 false") | LC_ALL=C sort)"

# A second kommun of region 04 at 20/20: the region (33/40 = 0.825) and
# SE are summed over both and above the target; 0484 alone is below.
pop two 20 13 2026-06-01T00:00:00.000Z
pop two 20 20 2026-06-01T00:00:00.000Z 0480
check "two kommuner, one below" "$(targets two)" \
  "$(printf '%s\n' "0484 2026-03 13/20 true" "0484 2026-Q1 13/20 true")"
check "rules.register=off" "$(targets below -X rules.register=off)" ""

check "target.register_coverage=off" \
  "$(targets below -X target.register_coverage=off)" ""
check "target.register_coverage=>=0.6" \
  "$(targets below -X 'target.register_coverage=>=0.6')" ""
check "target.register_coverage=>=0.66" \
  "$(targets below -X 'target.register_coverage=>=0.66')" "$(want6 13/20 true)"
echo "PASS"
