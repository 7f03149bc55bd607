"""Checks the DOM Chromium rendered from a `vigil report` page against the
report's inputs.

    check_dom.py DOM_FILE INDICATORS_JSONL ALERTS_JSONL

- every indicator name of the input appears;
- the active-alert count equals the ACTIVE alerts of the input, deduped by
  alert_id with the last status winning (SPEC §5), and each appears as a row;
- Sverige and every region of the input get charts; every chart has a
  <title> and <desc>, and a data table behind <details>.
Exit 1 on failure.
"""
import json
import re
import sys


def main():
    dom_file, ind_file, al_file = sys.argv[1:4]
    with open(dom_file, encoding="utf-8") as fp:
        dom = fp.read()
    bad = []

    inds, regions = set(), set()
    with open(ind_file, encoding="utf-8") as fp:
        for line in fp:
            if line.strip():
                v = json.loads(line)
                inds.add(v["indicator"])
                if len(v["area"]) == 2 and v["area"] != "SE":
                    regions.add(v["area"])
    missing = sorted(i for i in inds if i not in dom)
    if missing:
        bad.append("indicators missing from the page: %s" % ", ".join(missing))

    last = {}
    with open(al_file, encoding="utf-8") as fp:
        for line in fp:
            if line.strip():
                a = json.loads(line)
                last[a["alert_id"]] = a
    active = sum(1 for a in last.values() if a["status"] == "ACTIVE")
    m = re.search(r'<p id="alert-count" data-count="(\d+)"><b>(\d+)</b> '
                  r'active alert', dom)
    if not m:
        bad.append("no alert count on the page")
    elif int(m.group(1)) != active or int(m.group(2)) != active:
        bad.append("alert count %s/%s on the page, %d ACTIVE in %s"
                   % (m.group(1), m.group(2), active, al_file))
    m = re.search(r'<table id="alert-list">.*?</table>', dom, re.S)
    rows = m.group(0).count("<tr>") - 1 if m else -1
    if active and rows != active:
        bad.append("alert table has %d rows, expected %d" % (rows, active))

    charts = len(re.findall(r'<svg class="chart"', dom))
    titles = len(re.findall(r'<svg class="chart"[^>]*><title id="c\d+-t">'
                            r'[^<]+</title><desc id="c\d+-d">[^<]+</desc>',
                            dom))
    figures = dom.count("<figure>")
    tables = len(re.findall(r"<figure>.*?<details><summary>Data table"
                            r"</summary>.*?</figure>", dom, re.S))
    print("page: %d indicators, %d charts (%d with title+desc), %d figures "
          "with %d data tables, %d active alerts"
          % (len(inds), charts, titles, figures, tables, active))
    if charts == 0 or titles != charts:
        bad.append("%d charts, %d with <title> and <desc>" % (charts, titles))
    if tables != figures or figures != charts:
        bad.append("%d figures, %d charts, %d data tables"
                   % (figures, charts, tables))
    for code in ["SE"] + sorted(regions):
        pat = (r"<figcaption>Sverige" if code == "SE" else
               r'<figcaption>[^<]*<span class="code">%s</span>' % code)
        if not re.search(pat, dom):
            bad.append("no chart for area %s" % code)
    if 'class="target"' not in dom:
        bad.append("no target line drawn")
    if not re.search(r'class="unc"', dom):
        bad.append("no value marked uncertain")
    for b in bad:
        print("FAIL: " + b)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
