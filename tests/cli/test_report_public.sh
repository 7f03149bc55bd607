#!/usr/bin/env bash
# vigil report --public (SPEC v2 §6.4, issue 13): a page to share. It holds
# no patient-level data (no pseudonym, stay or alert id of the input, no
# alert list), shows no count from 1 to publish.min_count - 1 in any table,
# hides as '..' exactly the month values `vigil indicators --public`
# hides, and refuses --alerts. The internal page still lists the alerts.
set -euo pipefail
VIGIL=${VIGIL:-$(cd "$(dirname "$0")/../.." && pwd)/build/vigil}
fail() { echo "FAIL: $*" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
unset VIGIL_CONFIG
"$VIGIL" simulate -n 3000 --seed 5 --days 200 --out ev.jsonl 2>/dev/null
"$VIGIL" process --input ev.jsonl --alerts al.jsonl --indicators ind.jsonl 2>/dev/null
"$VIGIL" report --indicators ind.jsonl --html pub.html --public --lang en 2> pub.err \
  || fail "report --public: $(cat pub.err)"
"$VIGIL" report --indicators ind.jsonl --alerts al.jsonl --html int.html --lang en 2>/dev/null
"$VIGIL" indicators -i ind.jsonl --public --period all --breakdown any \
  --format json > pubvals.jsonl 2>/dev/null

python3 - ev.jsonl al.jsonl pub.html int.html pubvals.jsonl <<'EOF'
import html, json, re, sys
ev, al, pub, internal, pubvals = sys.argv[1:6]
page = open(pub, encoding="utf-8").read()
ids = set()
for line in open(ev, encoding="utf-8"):
    o = json.loads(line)
    ids.add(o["patient_id"])
    for k in ("stay_id", "event_id", "sip_id"):
        if o.get(k):
            ids.add(o[k])
alerts = [json.loads(l) for l in open(al, encoding="utf-8")]
alert_ids = {a["alert_id"] for a in alerts}
alert_patients = {a["patient_id"] for a in alerts if a.get("patient_id")}
assert alert_ids, "no alerts in the population: the check would be empty"
found = [i for i in ids | alert_ids if len(i) >= 8 and i in page]
assert not found, "public page holds ids: %s" % found[:3]
assert 'id="alerts"' not in page and 'id="unregistered"' not in page, \
    "public page has an alert list"
ipage = open(internal, encoding="utf-8").read()
assert 'id="alerts"' in ipage and any(p in ipage for p in alert_patients), \
    "internal page lost its alerts (the check above proves nothing)"
# No small count anywhere a count is printed (num/den in the tables).
small = [m for m in re.findall(r"<small>(\d+)/(\d+)</small>", page)
         if any(1 <= int(x) <= 4 for x in m)]
assert not small, "small counts on the public page: %s" % small[:5]
# The kommun tables: hidden exactly where vigil indicators --public hides
# (month, breakdown all), shown where it shows.
hidden = {(o["indicator"], o["area"], o["period"]) for o in map(json.loads, open(pubvals))
          if o["suppressed"] and o["breakdown"] == "all" and len(o["period"]) == 7}
# (every period: the place-of-death table shows years)
shown = {(o["indicator"], o["area"], o["period"]): (o["numerator"], o["denominator"])
         for o in map(json.loads, open(pubvals))
         if not o["suppressed"] and o["breakdown"] == "all"}
ndots = page.count("<td>..</td>")
assert hidden and ndots > 0, (len(hidden), ndots)
# every count printed on the page is one of the shown values, or (deaths
# at home, with or without SSIH) the sum of two shown death_place values
# of one area and period
home = {}
for (i, a, p), (n, d) in shown.items():
    if i in ("death_place.HOME", "death_place.HOME_WITH_SSIH"):
        home.setdefault((a, p), []).append((n, d))
sums = {(sum(n for n, _ in v), v[0][1]) for v in home.values() if len(v) == 2}
values = set(shown.values()) | sums | {(n, d) for v in home.values() for n, d in v}
for n, d in re.findall(r"<small>(\d+)/(\d+)</small>", page):
    assert (int(n), int(d)) in values, (n, d)
# Place of death, per area and month (an attack found hidden cells printed
# as 0, and totals over the months shown that, beside a public year row,
# gave a hidden month by one subtraction): each place cell is '..' exactly
# where indicators --public hides it, else its count; a month's deaths are
# the shown rows' denominator, '..' when every row of the month is hidden,
# and so is the figure's total over the months.
def area_code(h):
    m = re.search(r'<span class="code">(\d+)</span>', h)
    return m.group(1) if m else "SE"
months = re.findall(r'<th scope="col"(?: class="prelim")?>(\w\w\w \d{4})', page)
mnum = {m: "%s-%02d" % (m[4:], "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split().index(m[:3]) + 1) for m in months}
def figures(mark, unit):
    """The figures holding mark: (figure, area, its total, its periods)."""
    for fig in re.findall(r"<figure><figcaption>(.*?)</figure>", page, re.S):
        if mark not in fig:
            continue
        head = re.findall(r'<th scope="col"(?: class="prelim")?>(\w\w\w \d{4})', fig)
        yield (fig, area_code(fig[:fig.find('<span class="sub">')]),
               re.search(r'<span class="sub">([^<]*) %s</span>' % unit, fig).group(1),
               [mnum[h] for h in head])
nfig = nhid_month = 0
for fig, area, sub, pers in figures("<caption>Deaths by place, ", "deaths"):
    nfig += 1
    dens, hid_den = {}, False
    for row in re.findall(r'<tr><th class="l" scope="row">(.*?)</tr>', fig, re.S):
        name, rest = row.split("</th>", 1)
        cells = re.findall(r"<td[^>]*>(.*?)</td>", rest)
        assert len(cells) == len(pers), (area, name, cells)
        for per, c in zip(pers, cells):
            if name == "Deaths":
                c = re.sub(r"</?b>", "", c)
                rows = [k for k in shown if k[0].startswith("death_place.") and k[1] == area and k[2] == per]
                anyhid = any(k[0].startswith("death_place.") and k[1] == area and k[2] == per for k in hidden)
                if rows:
                    assert c == str(shown[rows[0]][1]), (area, per, c, shown[rows[0]])
                elif anyhid:
                    assert c == "..", (area, per, c)
                    hid_den = True
                    nhid_month += 1
                else:
                    assert c == "0", (area, per, c)
                dens[per] = c
            else:
                key = (name, area, per)
                if key in hidden:
                    assert c == "..", (key, c)
                elif key in shown:
                    assert c.startswith(str(shown[key][0]) + "<small>"), (key, c, shown[key])
    if hid_den:
        assert sub == "..", (area, sub)
    else:
        assert sub == str(sum(int(v) for v in dens.values())), (area, sub, dens)
assert nfig >= 3, nfig
# SSIH counts: a hidden cell is '..', and so is every total over it (its
# row's, its month's and the figure's)
nssih = nssih_hid = 0
for fig, area, sub, pers in figures('<th class="l" scope="row">ssih_enrolment', "in total"):
    nssih += 1
    anyhid = False
    for row in re.findall(r'<tr><th class="l" scope="row">(.*?)</tr>', fig, re.S):
        name, rest = row.split("</th>", 1)
        cells = [re.sub(r"</?b>", "", c) for c in re.findall(r"<td[^>]*>(.*?)</td>", rest)]
        if name == "Total":
            for per, c in zip(pers, cells):
                if any(k[1] == area and k[2] == per and k[0].startswith("ssih_enrolment") for k in hidden):
                    assert c == "..", (area, per, c)
            continue
        rowhid = False
        for per, c in zip(pers, cells):
            if (name, area, per) in hidden:
                assert c == "..", (name, area, per, c)
                rowhid = True
        if rowhid:
            assert cells[-1] == "..", (name, area, cells[-1])
            anyhid = True
            nssih_hid += 1
    if anyhid:
        assert sub == "..", (area, sub)
assert nssih >= 3 and nssih_hid > 0, (nssih, nssih_hid)
# The kommun table: a kommun with a month whose deaths are hidden shows no
# total of them
ktab = page[page.find("Deaths by place and kommun"):]
ktab = ktab[:ktab.find("</table>")]
nkh = 0
for code, deaths in re.findall(r'<span class="code">(\d{4})</span></th><td[^>]*><b>([^<]*)</b>', ktab):
    hm = [p for p in set(mnum.values())
          if not any(k[0].startswith("death_place.") and k[1] == code and k[2] == p for k in shown)
          and any(k[0].startswith("death_place.") and k[1] == code and k[2] == p for k in hidden)]
    if hm:
        assert deaths == "..", (code, deaths, hm)
        nkh += 1
assert nkh > 0, "no kommun with a hidden month: the check proves nothing"
print("PASS: public page: %d ids absent, %d cells '..', %d values hidden by "
      "indicators --public (month, all), no count below 5; place of death: "
      "%d areas, %d months with their deaths hidden, %d kommuner"
      % (len(ids | alert_ids), ndots, len(hidden), nfig, nhid_month, nkh))
EOF
grep -q "public page, .* hidden (publish.min_count 5), no alerts" pub.err \
  || fail "no summary: $(cat pub.err)"
set +e
"$VIGIL" report --indicators ind.jsonl --alerts al.jsonl --public --html x.html 2> both.err
rc=$?
set -e
[ "$rc" = 2 ] || fail "--public with --alerts: exit $rc, want 2"
grep -q "no patient-level data" both.err || fail "--public --alerts: $(cat both.err)"

# Place of death per kommun over the years (an attack found a year hidden
# on the public page drawn as an empty cell, not '..', and the change from
# the first year to the last given as +0.0 from the one year shown): every
# cell the internal page fills is a value or '..' on the public one; the
# change is shown only when both its years are, and equals the internal
# page's then, '..' when one of them is hidden.
"$VIGIL" simulate -n 1500 --days 365 --start 2025-06-01 --out ev2.jsonl 2>/dev/null
"$VIGIL" process --input ev2.jsonl --partitions 2 --alerts al2.jsonl --indicators ind2.jsonl 2>/dev/null
"$VIGIL" report --indicators ind2.jsonl --html pub2.html --public --lang en 2>/dev/null
"$VIGIL" report --indicators ind2.jsonl --alerts al2.jsonl --html int2.html --lang en 2>/dev/null
python3 - pub2.html int2.html <<'EOF'
import re, sys
def tables(path):
    s = open(path, encoding="utf-8").read()
    s = s[s.find("Place of death per kommun over the years"):]
    out = {}
    for n, (cap, body) in enumerate(re.findall(r"<caption>(.*?)</caption>(.*?)</table>", s, re.S)):
        heads = re.findall(r'<th scope="col">([^<]*)</th>', body)
        if not heads or heads[-1] != "Change":
            continue
        years = heads[:-1]
        cap = "%d %s" % (n, cap)
        for row in re.findall(r'<tr><th class="l" scope="row">(.*?)</tr>', body, re.S):
            name, rest = row.split("</th>", 1)
            out[(cap, re.sub(r"<[^>]+>", "", name))] = (
                years, re.findall(r"<td[^>]*>(.*?)</td>", rest))
    return out
pub, internal = tables(sys.argv[1]), tables(sys.argv[2])
assert internal, "no place-of-death-over-the-years table"
ndots = nchange = 0
for key, (years, cells) in internal.items():
    assert len(years) >= 2, "one year only: the change is not checked"
    pyears, pcells = pub[key]
    assert pyears == years and len(pcells) == len(cells), key
    for c, p in zip(cells[:-1], pcells[:-1]):
        if c:
            assert p == c or p == "..", (key, c, p)
            ndots += p == ".."
        else:
            assert p == "", (key, c, p)
    first, last = pcells[0], pcells[-2]
    if first and first != ".." and last and last != "..":
        assert pcells[-1] == cells[-1], (key, pcells[-1], cells[-1])
    elif first == ".." or last == "..":
        assert pcells[-1] == "..", (key, pcells)
        nchange += 1
    else:
        assert pcells[-1] == "", (key, pcells)
assert ndots > 0 and nchange > 0, (ndots, nchange)
print("PASS: place of death over the years: %d rows, %d cells hidden, %d changes hidden" % (len(internal), ndots, nchange))
EOF
