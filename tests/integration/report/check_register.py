"""Checks the register section of a `vigil report` page (issue 12), as
Chromium rendered it, against the report's inputs.

    check_register.py DOM_FILE INDICATORS_JSONL ALERTS_JSONL [--no-spr]
                      [--min-den N] [--want-misses]

- the section (#register) is there and in the navigation;
- coverage: with register_coverage values, a Sverige chart of them with
  the target line at 70 % (between the 60 % and 80 % grid lines, halfway)
  and the sentence that below 70 % the results are not for open
  comparisons;
- spr.*: the table of the latest settled month (the input's newest month
  with a complete spr.* value) has every spr.* indicator of the input with
  its target (Socialstyrelsen 2017 defaults) and source; every cell of
  Sverige, the regions and the kommuner equals the input (value,
  numerator/denominator) and is marked "misses" exactly when the value is
  complete, from at least min_denominator (--min-den, default 20) cases
  and below the target (--want-misses: and some cell is so marked);
  a newer preliminary month is a table apart with no misses; --no-spr:
  the input has no spr.* values and the page says "No register data";
- the list of deaths not registered has one row per ACTIVE
  DEATH_NOT_REGISTERED alert (deduped by alert_id, last status wins), each
  with its patient's pseudonym and kommun, rows of a kommun together under
  its heading, and says it is internal.
Exit 1 on failure.
"""
import html
import json
import re
import sys

MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep",
          "Oct", "Nov", "Dec"]
TARGETS = {"spr.eol_conversation": 0.98, "spr.pain_assessed": 1.00,
           "spr.oral_health_assessed": 0.90, "spr.prn_opioid": 0.98,
           "spr.prn_anxiolytic": 0.98, "spr.pressure_ulcer_free": 0.90}
MIN_DEN = [20]


def load_values(path):
    last = {}
    with open(path, encoding="utf-8") as fp:
        for line in fp:
            if not line.strip():
                continue
            v = json.loads(line)
            if v.get("breakdown", "all") != "all":
                continue
            last[(v["indicator"], v["area"], v["period"])] = v
    return {k: v for k, v in last.items()
            if (v.get("denominator") or 0) > 0}


def cells(table):
    """{(area, ind): cell html} of a spr table."""
    out = {}
    for area, row in re.findall(r'<tr data-area="([^"]*)">(.*?)</tr>',
                                table, re.S):
        for ind, td in re.findall(r'<td data-ind="([^"]*)" (class="[^"]*"'
                                  r'[^>]*>.*?)</td>', row, re.S):
            out[(area, html.unescape(ind))] = td
    return out


def check_table(name, tables, vals, inds, period, pre, bad):
    got = {}
    for t in tables:
        got.update(cells(t))
    want = {(a, i): v for (i, a, p), v in vals.items()
            if p == period and i in inds}
    for key in sorted(set(want) | set(got)):
        if key not in got:
            bad.append("%s %s %s %s: no cell" % (name, period, *key))
            continue
        if key not in want:
            bad.append("%s %s %s %s: a cell without a value" % (name, period,
                                                                *key))
            continue
        v, td = want[key], got[key]
        num, den = v["numerator"], v["denominator"]
        if "%.1f%%" % (100.0 * num / den) not in td or \
                "<small>%d/%d</small>" % (num, den) not in td:
            bad.append("%s %s %s %s: expected %d/%d, cell %r"
                       % (name, period, *key, num, den, td))
        tg = TARGETS.get(key[1])
        miss = (not pre and v["complete"] and tg is not None and
                den >= MIN_DEN[0] and num / den < tg)
        if miss != ('class="miss"' in td and "misses" in td):
            bad.append("%s %s %s %s: %s but the cell %s" % (
                name, period, *key,
                "misses the target" if miss else "does not miss the target",
                "is not marked" if miss else "is marked: %r" % td))
    return len(got)


def main():
    dom_file, ind_file, al_file = sys.argv[1:4]
    opts = sys.argv[4:]
    no_spr = "--no-spr" in opts
    if "--min-den" in opts:
        MIN_DEN[0] = int(opts[opts.index("--min-den") + 1])
    with open(dom_file, encoding="utf-8") as fp:
        dom = fp.read()
    bad = []
    vals = load_values(ind_file)
    m = re.search(r'<section class="card ind reg" id="register">.*?'
                  r"</section>", dom, re.S)
    if not m:
        print("FAIL: no register section (section#register)")
        return 1
    sec = m.group(0)
    if '<a href="#register">' not in dom:
        bad.append("the navigation has no link to #register")

    # Coverage with the 70 % line.
    cov = [k for k in vals if k[0] == "register_coverage"]
    if "open comparisons" not in sec or "Below 70" not in sec:
        bad.append("no sentence on 70 % coverage and open comparisons")
    if cov:
        fig = re.search(r"<figure><figcaption>Sverige.*?</figure>", sec, re.S)
        svg = fig and re.search(r"<svg.*?</svg>", fig.group(0), re.S)
        if not svg:
            bad.append("coverage: no Sverige chart")
        else:
            svg = svg.group(0)
            ys = {int(p): float(y) - 4 for y, p in re.findall(
                r'<text x="\d+" y="([\d.]+)" text-anchor="end">(\d+)%</text>',
                svg)}
            t = re.search(r'<line class="target"[^>]* y1="([\d.]+)"', svg)
            if not t or "target \u2265 70%" not in svg:
                bad.append("coverage: no target line labelled \u2265 70%")
            elif 60 not in ys or 80 not in ys or \
                    abs(float(t.group(1)) - (ys[60] + ys[80]) / 2) > 0.6:
                bad.append("coverage: the target line (y=%s) is not at 70%% "
                           "(grid %s)" % (t.group(1), ys))
    elif "register-coverage-none" not in sec:
        bad.append("no register_coverage values, but no \"no register data\" "
                   "note")

    # spr.* against the targets.
    inds = sorted({k[0] for k in vals if k[0].startswith("spr.")})
    ncells = 0
    if no_spr or not inds:
        if inds:
            bad.append("--no-spr, but the input has spr.* values")
        if 'id="spr-none"' not in sec or "No register data" not in sec:
            bad.append("no spr.* values, and the page does not say "
                       "\"No register data\"")
        if 'table class="spr' in sec:
            bad.append("no spr.* values, but a spr table")
    else:
        done = max((p for (i, a, p), v in vals.items()
                    if i.startswith("spr.") and v["complete"]), default=None)
        newer = max((p for (i, a, p), v in vals.items()
                     if i.startswith("spr.") and not v["complete"] and
                     (done is None or p > done)), default=None)
        latest = re.findall(r'<table class="spr" id="spr-latest[^"]*" '
                            r'data-period="([^"]*)">(.*?)</table>', sec, re.S)
        if done and not latest:
            bad.append("no spr table of the latest settled month %s" % done)
        for per, t in latest:
            if per != done:
                bad.append("spr table of %s, the latest settled month is %s"
                           % (per, done))
        head = latest[0][1] if latest else ""
        for i in inds:
            if 'data-ind="%s"' % i not in head:
                bad.append("spr table: no column %s" % i)
            tg = re.search(r'<td data-ind="%s"( data-target="([^"]*)")?>'
                           r'(.*?)</td>' % re.escape(i), head, re.S)
            if not tg:
                bad.append("spr table: no target cell for %s" % i)
            elif i in TARGETS:
                if not tg.group(2) or abs(float(tg.group(2)) -
                                          TARGETS[i]) > 1e-9 or \
                        "Socialstyrelsen 2017" not in tg.group(3):
                    bad.append("spr table: %s target %r, expected %g "
                               "(Socialstyrelsen 2017)"
                               % (i, tg.group(0), TARGETS[i]))
            elif tg.group(2):
                bad.append("spr table: %s has a target, none expected" % i)
        if done:
            ncells += check_table("spr", [t for _, t in latest], vals, inds,
                                  done, False, bad)
        prel = re.findall(r'<table class="spr prelim" id="spr-prelim[^"]*" '
                          r'data-period="([^"]*)">(.*?)</table>', sec, re.S)
        if newer and not prel:
            bad.append("no preliminary spr table of %s" % newer)
        if not newer and prel:
            bad.append("a preliminary spr table, no newer month in the input")
        for per, t in prel:
            if per != newer:
                bad.append("preliminary spr table of %s, expected %s"
                           % (per, newer))
        if newer:
            ncells += check_table("spr prelim", [t for _, t in prel], vals,
                                  inds, newer, True, bad)

    nmiss = sec.count('<span class="mk">misses</span></td>')
    if "--want-misses" in opts and not nmiss:
        bad.append("--want-misses: no spr value is marked as missing its "
                   "target")

    # Deaths not registered.
    last = {}
    with open(al_file, encoding="utf-8") as fp:
        for line in fp:
            if line.strip():
                a = json.loads(line)
                last[a["alert_id"]] = a
    dnr = [a for a in last.values() if a["status"] == "ACTIVE" and
           a["rule"] == "DEATH_NOT_REGISTERED"]
    rows = re.findall(r'<tr class="dnr" data-kommun="(\d*)"><td class="l">'
                      r'<code title="([^"]*)">', sec)
    if len(rows) != len(dnr):
        bad.append("%d deaths not registered listed, %d ACTIVE "
                   "DEATH_NOT_REGISTERED alerts in %s"
                   % (len(rows), len(dnr), al_file))
    if sorted((a["kommun"], a["patient_id"]) for a in dnr) != sorted(rows):
        bad.append("the listed deaths (kommun, pseudonym) differ from the "
                   "alerts")
    m = re.search(r'id="unregistered-count" data-count="(\d+)"', sec)
    if not m or int(m.group(1)) != len(dnr):
        bad.append("unregistered count %s, expected %d"
                   % (m and m.group(1), len(dnr)))
    seen, prev = set(), None
    for k, _ in rows:
        if k != prev and k in seen:
            bad.append("kommun %s: its deaths are not listed together" % k)
        seen.add(k)
        prev = k
    for k in seen:
        if not re.search(r'<tr class="grp" data-kommun="%s"><th colspan="5"'
                         % k, sec):
            bad.append("kommun %s: no heading row" % k)
    if dnr and "Internal report" not in sec:
        bad.append("the list of deaths does not say it is internal")
    print("register: %d coverage values, %d spr.* indicators, %d spr cells "
          "checked (%d marked misses), %d deaths not registered in %d "
          "kommuner" % (len(cov), len(inds), ncells, nmiss, len(rows),
                        len(seen)))
    for b in bad[:30]:
        print("FAIL: " + b)
    if len(bad) > 30:
        print("FAIL: ... and %d more" % (len(bad) - 30))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
