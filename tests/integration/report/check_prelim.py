"""Checks that a `vigil report` page, as Chromium rendered it, shows
preliminary values and incomplete history as SPEC v2 §6.1 asks (issue #10).

    check_prelim.py DOM_FILE INDICATORS_JSONL

Against the values of Sverige (SE, breakdown all; the last record of a key
wins):
- the data must have a running month: some value of the last month with
  complete = false (else this check proves nothing);
- in every line-chart section, the Sverige chart draws each month's value as
  a hollow marker (class "prelim", fill="none", tooltip "preliminary") exactly
  when it is preliminary, never as "misses the target"; its data table says
  "preliminary" in exactly those months, and "incomplete history" in the
  months with history_complete = false, which the chart shades (rect.hist);
- the place-of-death bars of a preliminary month are marked (rect.prelim);
- the overview ("headline") gives each indicator's latest COMPLETE month, and
  a newer preliminary month only apart, labelled "preliminary";
- the legend explains hollow = preliminary and shaded = incomplete history.
Exit 1 on failure.
"""
import html
import json
import re
import sys

MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep",
          "Oct", "Nov", "Dec"]


def label(period):
    return "%s %s" % (MONTHS[int(period[5:7]) - 1], period[:4])


def load_se(path):
    last = {}
    with open(path, encoding="utf-8") as fp:
        for line in fp:
            if not line.strip():
                continue
            v = json.loads(line)
            if v["area"] != "SE" or v.get("breakdown", "all") != "all":
                continue
            last[(v["indicator"], v["period"])] = v
    se = {}
    for (ind, per), v in last.items():
        den = v.get("denominator")
        if (den if den is not None else v["numerator"]) <= 0:
            continue  # no row (SPEC §6)
        se[(ind, per)] = v
    return se


def figure_of(section, caption_re):
    for fig in re.findall(r"<figure>.*?</figure>", section, re.S):
        if re.match(r"<figure><figcaption>" + caption_re, fig):
            return fig
    return None


def check_line(ind, section, se, bad):
    fig = figure_of(section, r"Sverige")
    if fig is None:
        bad.append("%s: no Sverige chart" % ind)
        return 0
    svg = re.search(r"<svg.*?</svg>", fig, re.S).group(0)
    table = re.search(r"<table>.*?</table>", fig, re.S)
    table = table.group(0) if table else ""
    hollow = 0
    any_hist = False
    for (i, per), v in sorted(se.items()):
        if i != ind:
            continue
        lab = label(per)
        pre = not v["complete"]
        any_hist |= not v["history_complete"]
        # the marker: <circle ...><title>Jun 2026: ...</title></circle>
        m = re.search(r"<(circle|path) ([^>]*)><title>%s: ([^<]*)</title>"
                      % re.escape(lab), svg)
        if not m:
            bad.append("%s %s: no marker in the Sverige chart" % (ind, per))
            continue
        attrs, tip = m.group(2), html.unescape(m.group(3))
        is_hollow = ('class="prelim"' in attrs or "prelim" in
                     re.search(r'class="([^"]*)"', attrs).group(1).split()) \
            and 'fill="none"' in attrs
        if pre and not is_hollow:
            bad.append("%s %s: preliminary, but the marker is not hollow "
                       "(fill=\"none\", class prelim): <%s %s>"
                       % (ind, per, m.group(1), attrs))
        if pre and "preliminary" not in tip:
            bad.append("%s %s: preliminary, tooltip does not say so: %r"
                       % (ind, per, tip))
        if pre and ("misses the target" in tip or 'class="miss"' in attrs):
            bad.append("%s %s: a preliminary value is said to miss the "
                       "target" % (ind, per))
        if not pre and (is_hollow or "preliminary" in tip):
            bad.append("%s %s: complete, but drawn or labelled preliminary"
                       % (ind, per))
        hollow += pre and is_hollow
        row = re.search(r'<tr[^>]*><th class="l" scope="row">%s</th>.*?</tr>'
                        % re.escape(lab), table, re.S)
        if not row:
            bad.append("%s %s: no row in the data table" % (ind, per))
            continue
        row = row.group(0)
        if pre != ("preliminary" in row):
            bad.append("%s %s: complete=%s, but the data table row %s"
                       % (ind, per, v["complete"],
                          "says preliminary" if not pre else
                          "does not say preliminary"))
        if v["history_complete"] == ("incomplete history" in row):
            bad.append("%s %s: history_complete=%s, but the data table row "
                       "%s" % (ind, per, v["history_complete"],
                               "says incomplete history"
                               if v["history_complete"] else
                               "does not say incomplete history"))
    if any_hist != ('class="hist"' in svg):
        bad.append("%s: %s, but the Sverige chart %s" % (
            ind, "some month has incomplete history" if any_hist else
            "history is complete", "shades no month" if any_hist else
            "shades a month"))
    return hollow


def main():
    dom_file, ind_file = sys.argv[1:3]
    with open(dom_file, encoding="utf-8") as fp:
        dom = fp.read()
    se = load_se(ind_file)
    bad = []
    periods = sorted({per for _, per in se})
    if not periods:
        print("FAIL: no SE values in %s" % ind_file)
        return 1
    running = periods[-1]
    pre_running = sorted(i for (i, per), v in se.items()
                         if per == running and not v["complete"])
    if not pre_running:
        bad.append("no SE value of the last month %s is preliminary: the "
                   "test data has no running month" % running)

    sections = re.findall(r'<section class="card ind" id="[^"]*"><h2>.*?'
                          r"</section>", dom, re.S)
    hollow, lines = 0, 0
    for sec in sections:
        code = html.unescape(re.search(r"<code>([^<]*)</code>", sec).group(1))
        if "<svg" not in sec:
            continue
        if any(i == code and v.get("denominator") is not None
               for (i, _), v in se.items()) and "<circle" in sec:
            lines += 1
            hollow += check_line(code, sec, se, bad)
        if code == "death_place.*":
            fig = figure_of(sec, r"Sverige")
            pre = [per for (i, per), v in se.items()
                   if i.startswith("death_place.") and not v["complete"]]
            for per in sorted(set(pre)):
                if not fig or not re.search(
                        r'<rect class="prelim"[^>]*><title>[^<]*%s[^<]*'
                        r"preliminary" % re.escape(label(per)), fig):
                    bad.append("death_place %s: preliminary, but the "
                               "Sverige bars are not marked" % per)
    if not lines:
        bad.append("no line-chart sections found")
    if not re.search(r'<circle class="prelim"[^>]*fill="none"', dom):
        bad.append('no hollow marker (<circle class="prelim" fill="none">) '
                   "on the page")
    if not re.search(r'class="legend".*?hollow[^<]*preliminary', dom, re.S):
        bad.append("no legend explaining hollow = preliminary")
    if not re.search(r'class="legend".*?shaded: incomplete history', dom,
                     re.S):
        bad.append("no legend explaining shaded = incomplete history")

    # The headline: latest complete month; a newer preliminary one apart.
    m = re.search(r'<table id="latest">.*?</table>', dom, re.S)
    rows = re.findall(r'<tr data-ind="([^"]*)" data-period="([^"]*)">(.*?)'
                      r"</tr>", m.group(0), re.S) if m else []
    if not rows:
        bad.append("no overview table of latest values (table#latest)")
    for ind, per, body in rows:
        ind = html.unescape(ind)
        mine = sorted(p for (i, p) in se if i == ind)
        done = [p for p in mine if se[(ind, p)]["complete"]]
        want = done[-1] if done else ""
        if per != want:
            bad.append("overview %s: headline month %r, latest complete "
                       "month is %r" % (ind, per, want))
        if per and not se.get((ind, per), {}).get("complete"):
            bad.append("overview %s: headline month %s is not complete"
                       % (ind, per))
        if per and label(per) not in body:
            bad.append("overview %s: the month %s is not shown"
                       % (ind, label(per)))
        newer = [p for p in mine if p > want and not se[(ind, p)]["complete"]]
        pm = re.search(r'<span class="prelim" data-period="([^"]*)">(.*?)'
                       r"</span></span>", body, re.S)
        if newer:
            if not pm or pm.group(1) != newer[-1] or \
                    "preliminary" not in pm.group(2):
                bad.append("overview %s: the newer preliminary month %s is "
                           "not shown apart, labelled preliminary"
                           % (ind, newer[-1]))
        elif pm:
            bad.append("overview %s: a preliminary month shown, none newer "
                       "than %s" % (ind, want))
        status = re.sub(r'<span class="prelim".*', "", body, flags=re.S)
        if "misses the target" in body and "misses the target" not in status:
            bad.append("overview %s: a preliminary value misses the target"
                       % ind)
    print("preliminary: running month %s (%d SE values preliminary: %s); %d "
          "line charts checked, %d hollow markers in Sverige charts; "
          "overview: %d indicators, headline months %s"
          % (running, len(pre_running), ", ".join(pre_running[:4]) +
             (", ..." if len(pre_running) > 4 else ""), lines, hollow,
             len(rows), ", ".join("%s=%s" % (i, p) for i, p, _ in rows)))
    if hollow == 0:
        bad.append("no hollow marker in any Sverige line chart")
    for b in bad[:40]:
        print("FAIL: " + b)
    if len(bad) > 40:
        print("FAIL: ... and %d more" % (len(bad) - 40))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
