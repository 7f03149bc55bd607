#!/usr/bin/env bash
# vigil report: kommuner compared (issue 13). For every indicator section,
# the ranked table under the funnel plot is checked against values read
# apart (vigil indicators --period year) and limits computed here: the
# latest year, each kommun of the region with cases, counts, order by
# value, and the verdict against the region's value at the 95 % (z 1.96)
# and 99.8 % (z 3.09) limits of the normal approximation. With --public,
# the kommuner that vigil indicators --public hides are not in the table.
set -euo pipefail
VIGIL=${VIGIL:-$(cd "$(dirname "$0")/../.." && pwd)/build/vigil}
fail() { echo "FAIL: $*" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
unset VIGIL_CONFIG
"$VIGIL" simulate -n 12000 --seed 21 --days 500 --out ev.jsonl 2>/dev/null
"$VIGIL" process --input ev.jsonl --alerts al.jsonl --indicators ind.jsonl 2>/dev/null
region=$(grep -o '"area":"[0-9][0-9]"' ind.jsonl | sort | uniq -c | sort -rn | head -1 | grep -o '[0-9][0-9]"' | tr -d '"')
for mode in internal public; do
  if [ $mode = public ]; then pub=--public; al=(); else pub=; al=(--alerts al.jsonl); fi
  "$VIGIL" report --indicators ind.jsonl "${al[@]}" -a "$region" $pub --lang en --html r.html 2>/dev/null
  "$VIGIL" indicators -i ind.jsonl $pub --period all --breakdown any --format json > v.jsonl 2>/dev/null
  python3 - r.html v.jsonl "$region" $mode <<'EOF' || fail "$mode: funnel tables"
import html, json, math, re, sys
page, vals, region, mode = sys.argv[1:5]
page = open(page, encoding="utf-8").read()
rows = [json.loads(l) for l in open(vals, encoding="utf-8")]
year = {}
for o in rows:
    if o["breakdown"] == "all" and len(o["period"]) == 4:
        year[(o["indicator"], o["area"], o["period"])] = o
tables = breakdowns = 0
for sec in re.findall(r'<section class="card ind[^"]*".*?</section>', page, re.S):
    m = re.search(r"<h2>.*?<code>([^<]+)</code>", sec)
    if not m or "kommuner compared" not in sec:
        continue
    ind = html.unescape(m.group(1)).split(",")[0]  # the register: coverage
    yrs = sorted(p for (i, a, p) in year if i == ind and a == region)
    assert yrs, ind
    y = yrs[-1]
    ref = year[(ind, region, y)]
    assert not ref.get("suppressed"), ind
    p0 = ref["numerator"] / ref["denominator"]
    t = re.search(r"<caption>[^<]*kommuner compared, (\d{4})</caption>.*?<tbody>(.*?)</tbody>", sec, re.S)
    assert t and t.group(1) == y, (ind, t and t.group(1), y)
    got = re.findall(r'<tr><td>(\d+)</td><th[^>]*>.*?<span class="code">(\d{4})</span></th>'
                     r'<td>(\d+)</td><td>(\d+)</td><td[^>]*>[^<]*</td><td class="l">([^<]*)</td></tr>', t.group(2))
    want = []
    for (i, a, p), o in year.items():
        if i != ind or p != y or len(a) != 4 or not a.startswith(region):
            continue
        if o.get("suppressed") or not isinstance(o["denominator"], int) or o["denominator"] <= 0:
            continue
        n, d = o["numerator"], o["denominator"]
        sd = math.sqrt(p0 * (1 - p0))
        z = (n / d - p0) / (sd / math.sqrt(d)) if sd > 0 else None
        verdict = ("\u2013" if z is None else
                   "above (outside 99.8 %)" if z > 3.09 else
                   "above (outside 95 %)" if z > 1.96 else
                   "below (outside 99.8 %)" if z < -3.09 else
                   "below (outside 95 %)" if z < -1.96 else "within the limits")
        want.append((-n / d, a, n, d, verdict))
    want.sort()
    got2 = [(a, int(n), int(d), html.unescape(v)) for _, a, n, d, v in got]
    want2 = [(a, n, d, v) for _, a, n, d, v in want]
    assert got2 == want2, (ind, got2[:3], want2[:3])
    if mode == "public":
        hidden = [a for (i, a, p), o in year.items() if i == ind and p == y and
                  len(a) == 4 and a.startswith(region) and o.get("suppressed")]
        assert not any(">%s</span>" % a in t.group(2) for a in hidden), ind
    # The breakdown table of the region, same year: every group's counts
    # and verdict against the region's value.
    b = re.search(r"<caption>[^<]* by age, sex, diagnosis and housing, (\d{4})</caption>"
                  r".*?<tbody>(.*?)</tbody>", sec, re.S)
    want_b = []
    for o in rows:
        if (o["indicator"] != ind or o["area"] != region or o["period"] != y
                or o["breakdown"] == "all" or not isinstance(o["denominator"], (int, str))):
            continue
        if o.get("suppressed"):
            want_b.append(("..", "..", ""))
            continue
        if not isinstance(o["denominator"], int) or o["denominator"] <= 0:
            continue
        n, d = o["numerator"], o["denominator"]
        sd = math.sqrt(p0 * (1 - p0))
        z = (n / d - p0) / (sd / math.sqrt(d)) if sd > 0 else None
        want_b.append((str(n), str(d),
                       "\u2013" if z is None else
                       "above (outside 99.8 %)" if z > 3.09 else
                       "above (outside 95 %)" if z > 1.96 else
                       "below (outside 99.8 %)" if z < -3.09 else
                       "below (outside 95 %)" if z < -1.96 else "within the limits"))
    if want_b:
        assert b and b.group(1) == y, (ind, "no breakdown table")
        got_b = re.findall(r"<tr><th[^>]*>[^<]*</th><td>([^<]*)</td><td>([^<]*)</td>"
                           r"<td[^>]*>[^<]*</td><td[^>]*>([^<]*)</td></tr>", b.group(2))
        got_b = [(n, d, html.unescape(v)) for n, d, v in got_b]
        assert sorted(got_b) == sorted(want_b), (ind, sorted(got_b)[:4], sorted(want_b)[:4])
        breakdowns += 1
    tables += 1
assert tables >= 3, "only %d funnel tables" % tables
assert breakdowns >= 3, "only %d breakdown tables" % breakdowns
# Place of death over the years, in hospital: each cell is the hospital
# deaths and all deaths of that area and year.
m = re.search(r"<caption>Deaths in hospital</caption><thead><tr>(.*?)</tr></thead>"
              r"<tbody>(.*?)</tbody>", page, re.S)
assert m, "no place-of-death-over-years table"
yrs = re.findall(r'<th scope="col">(\d{4})</th>', m.group(1))
cells = 0
for tr in re.findall(r"<tr>(.*?)</tr>", m.group(2)):
    area = re.search(r'<span class="code">(\d+)</span>', tr).group(1)
    tds = re.findall(r"<td>(.*?)</td>", tr)[:len(yrs)]
    for yy, td in zip(yrs, tds):
        o = year.get(("death_place.HOSPITAL", area, yy))
        if td == "..":
            assert o is None or o.get("suppressed"), (area, yy)
            continue
        if not td:
            continue
        n, d = re.search(r"<small>(\d+)/(\d+)</small>", td).groups()
        if o is None:
            assert n == "0", (area, yy, td)
        else:
            assert (int(n), int(d)) == (o["numerator"], o["denominator"]), (area, yy, td, o)
        cells += 1
assert cells > 0
print("%s: place of death over the years: %d cells checked" % (mode, cells))
# Rolling 12 months: each "12 months to <month>: v (n/d)" is the sum of
# one indicator's month values of one area over the 12 months to <month>.
months = {}
for o in rows:
    if o["breakdown"] == "all" and len(o["period"]) == 7 and isinstance(o["denominator"], int):
        months.setdefault((o["indicator"], o["area"]), {})[o["period"]] = (o["numerator"], o["denominator"])
names = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
rolled = 0
for lab, n, d in re.findall(r"12 months to (\w+ \d{4}): [0-9.]+% \((\d+)/(\d+)\)", page):
    mon, yy = lab.split()
    end = int(yy) * 12 + names.index(mon)
    win = {"%04d-%02d" % (k // 12, k % 12 + 1) for k in range(end - 11, end + 1)}
    ok = any((sum(v[0] for p, v in ms.items() if p in win),
              sum(v[1] for p, v in ms.items() if p in win)) == (int(n), int(d))
             for ms in months.values())
    assert ok, (lab, n, d)
    rolled += 1
assert rolled > 0 or mode == "public", "no rolling 12-month figure"
print("%s: %d rolling 12-month figures are sums of their months" % (mode, rolled))
print("%s: %d funnel tables equal values read apart (region %s)" % (mode, tables, region))
EOF
done
echo PASS
