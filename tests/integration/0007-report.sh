#!/usr/bin/env bash
# 0007-report: simulate -> process (file mode) -> vigil report --html, then
# the page rendered by headless Chromium: the DOM holds every indicator and
# the active-alert count, no console errors (the page loads nothing: a CSP
# violation would be one), and a screenshot that is not blank and shows the
# charts. The running (last) month is preliminary (SPEC v2 §6.1, issue #10):
# its values are drawn hollow and labelled "preliminary" (DOM of the SVG and
# the tables), the overview's headline figures are of complete months only,
# months on incomplete history are shaded (DOM and screenshot pixels), and
# `vigil indicators` shows the month as prelim. The register section
# (issue 12): coverage with its 70 % line, spr.* against their targets, the
# deaths not registered (register entries are added to the simulated events
# when simulate has none; a run without any says "no register data").
# The public page (issue 13) in Swedish and English: language, the public
# note, '..' cells, no alert list, no id of the input, a screenshot.
# Needs no broker (file inputs) but Chromium: it fails, not skips, without
# it.
set -euo pipefail
VIGIL_SRC=${VIGIL_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
VIGIL=${VIGIL:-$VIGIL_SRC/build/vigil}
# The test cds into a temporary directory: make paths absolute.
case "$VIGIL" in /*) ;; *) VIGIL=$PWD/$VIGIL ;; esac
case "${VIGIL_REPORT_SHOT:-/}" in /*) ;; *) VIGIL_REPORT_SHOT=$PWD/$VIGIL_REPORT_SHOT ;; esac
[ -x "$VIGIL" ] || { echo "FAIL: $VIGIL is not an executable: build first" >&2; exit 1; }
HERE=$(cd "$(dirname "$0")" && pwd)
fail() { echo "FAIL: $*" >&2; exit 1; }

CHROMIUM=${VIGIL_CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}
[ -n "$CHROMIUM" ] || fail "chromium not found: run ops/setup.sh"
"$CHROMIUM" --version >/dev/null 2>&1 || fail "'$CHROMIUM --version' fails: run ops/setup.sh"
command -v python3 >/dev/null || fail "python3 not found: run ops/setup.sh"

TMP=$(mktemp -d)
trap '[ -n "${KEEP_TMP:-}" ] && echo "kept $TMP" >&2 || rm -rf "$TMP"' EXIT
cd "$TMP"

# chrome OUT_ARGS... URL: headless Chromium, its log on stderr (console
# messages appear there as INFO:CONSOLE lines).
chrome() {
  timeout 120 "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-quic \
    --no-first-run --disable-background-networking --disable-component-update \
    --disable-sync --user-data-dir="$(mktemp -d -p "$TMP")" \
    --enable-logging=stderr --v=0 "$@"
}
console_errors() { grep -E 'CONSOLE|Uncaught|Refused to' "$1" || true; }

"$VIGIL" simulate -n 400 --seed 3 --out ev.jsonl 2> sim.log \
  || fail "simulate: $(tail -3 sim.log)"
# The register (issue 12): without register entries from simulate, add
# some; keep the events without any for the "no register data" case.
grep -v '"type":"register_entry"' ev.jsonl > ev-noreg.jsonl || true
python3 "$HERE/report/add_register.py" ev.jsonl > addreg.log 2>&1 \
  || fail "add_register.py: $(tail -3 addreg.log)"
echo "register entries added: $(cat addreg.log)"
"$VIGIL" process --input ev.jsonl --partitions 3 --alerts al.jsonl \
  --indicators ind.jsonl 2> process.log || fail "process: $(tail -3 process.log)"
[ -s ind.jsonl ] && [ -s al.jsonl ] || fail "process wrote no indicators or alerts"
# The checks below read the rows the report draws: months, breakdown all
# (quarters, years and breakdown rows are in the file too, SPEC §6.2).
months_all() {
  python3 -c '
import json, sys
for l in open(sys.argv[1]):
    v = json.loads(l)
    if v.get("breakdown", "all") == "all" and len(v["period"]) == 7 and "Q" not in v["period"]:
        sys.stdout.write(l)' "$1" > "$2"
}
months_all ind.jsonl indm.jsonl
"$VIGIL" report --lang en --html r.html --indicators ind.jsonl --alerts al.jsonl \
  2> report.log || fail "report: $(cat report.log)"
[ -s r.html ] || fail "no r.html"
echo "report: $(wc -c < r.html) bytes"

# Self-contained: no script, no stylesheet link, nothing fetched from a URL
# (the SVG namespace in xmlns is a name, not a fetch).
grep -qi '<script' r.html && fail "the page has a <script>"
grep -qi '<link' r.html && fail "the page has a <link>"
grep -Eqi '(src|href)=["'\'']?(https?:|//)|url\(["'\'']?(https?:|//)|@import' r.html \
  && fail "the page references an external resource: $(grep -Eoi '(src|href)=["'\'']?(https?:|//)[^"'\'' >]*' r.html | head -3)"

# Exit codes and errors.
rc=0; "$VIGIL" report --indicators ind.jsonl 2>/dev/null || rc=$?
[ $rc -eq 2 ] || fail "no --html: exit $rc, expected 2"
rc=0; "$VIGIL" report --html x.html --from 2026-13 2>/dev/null || rc=$?
[ $rc -eq 2 ] || fail "bad --from: exit $rc, expected 2"
rc=0; "$VIGIL" report --html x.html -a Sörmland 2>/dev/null || rc=$?
[ $rc -eq 2 ] || fail "bad --area: exit $rc, expected 2"
rc=0; "$VIGIL" report --html x.html --indicators missing.jsonl --alerts al.jsonl \
  2> err.log || rc=$?
[ $rc -eq 1 ] || fail "missing input: exit $rc, expected 1"
grep -q "missing.jsonl" err.log || fail "missing input not named: $(cat err.log)"
[ -e x.html ] && fail "a page was written although an input was missing"
grep -q -- "--html FILE" <("$VIGIL" report --help) || fail "--help"

# Text is escaped.
"$VIGIL" report --html t.html --indicators ind.jsonl --alerts al.jsonl \
  --title '<i>"Vård" & omsorg</i>' 2> t.log || fail "report --title: $(cat t.log)"
grep -q '<title>&lt;i&gt;&quot;Vård&quot; &amp; omsorg&lt;/i&gt;</title>' t.html \
  || fail "title not escaped: $(grep -o '<title>[^<]*' t.html | head -1)"
grep -q '<i>"Vård"' t.html && fail "raw markup from --title in the page"

# Filters: one kommun, a range of months.
"$VIGIL" report --lang en --html k.html --indicators ind.jsonl --alerts al.jsonl \
  -a 0484 --from 2026-02 --to 2026-04 2> k.log || fail "report -a: $(cat k.log)"
grep -q '<figcaption>Eskilstuna' k.html || fail "-a 0484: no Eskilstuna chart"
grep -q '<figcaption>Sverige' k.html && fail "-a 0484: Sverige charted"
grep -q 'Jan 2026\|Jun 2026' k.html && fail "--from/--to: months outside the range"
want=$(python3 -c '
import json, sys
last = {}
for l in open("al.jsonl"):
    a = json.loads(l); last[a["alert_id"]] = a
print(sum(1 for a in last.values() if a["status"] == "ACTIVE" and a.get("kommun") == "0484"))')
grep -q "data-count=\"$want\"" k.html || fail "-a 0484: expected $want active alerts"

# Negative control: the console check must see a script error and a blocked
# external image in this Chromium, or it proves nothing below.
cat > control.html <<'EOF'
<!DOCTYPE html><html><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'">
</head><body><img src="https://example.invalid/x.png" alt="">
<script>noSuchFunction();</script></body></html>
EOF
chrome --dump-dom "file://$TMP/control.html" > /dev/null 2> control.err \
  || fail "chromium failed on the control page: $(tail -3 control.err)"
grep -q "Uncaught" <(console_errors control.err) \
  || fail "console check: an uncaught error is not seen in Chromium's log"
grep -q "example.invalid" <(console_errors control.err) \
  || fail "console check: a blocked external image is not seen in Chromium's log"

# The page in Chromium: DOM, then a screenshot.
chrome --dump-dom "file://$TMP/r.html" > dom.html 2> dom.err \
  || fail "chromium --dump-dom failed: $(tail -3 dom.err)"
[ -s dom.html ] || fail "chromium dumped an empty DOM: $(tail -3 dom.err)"
errs=$(console_errors dom.err)
[ -z "$errs" ] || fail "console errors while loading the page:
$errs"
python3 "$HERE/report/check_dom.py" dom.html indm.jsonl al.jsonl \
  || fail "rendered DOM does not match the inputs"
python3 "$HERE/report/check_prelim.py" dom.html indm.jsonl \
  || fail "preliminary values or incomplete history not shown as SPEC §6.1 asks"
# Negative control: the same DOM without its preliminary marks must fail.
sed -e 's/ fill="none"//g; s/class="prelim"/class="pt"/g; s/preliminary//g' \
  dom.html > dom-unmarked.html
python3 "$HERE/report/check_prelim.py" dom-unmarked.html indm.jsonl \
  > prelim-control.log 2>&1 \
  && fail "check_prelim.py passes a page without preliminary marks"
# The register section: coverage with the 70 % line, spr.* against their
# targets, one row per ACTIVE DEATH_NOT_REGISTERED alert, per kommun.
python3 "$HERE/report/check_register.py" dom.html indm.jsonl al.jsonl \
  || fail "register section does not match the inputs"
# Negative control: a listed death less must fail.
sed -e '0,/<tr class="dnr"/s//<tr class="x"/' dom.html > dom-reg-less.html
python3 "$HERE/report/check_register.py" dom-reg-less.html indm.jsonl al.jsonl \
  > reg-control.log 2>&1 && fail "check_register.py passes a missing death"
# Misses are marked (few cases count with a smaller min_denominator).
"$VIGIL" report --lang en -X aggregate.min_denominator=3 --html r3.html \
  --indicators ind.jsonl --alerts al.jsonl 2> r3.log || fail "report: $(cat r3.log)"
chrome --dump-dom "file://$TMP/r3.html" > dom3.html 2> dom3.err \
  || fail "chromium --dump-dom failed: $(tail -3 dom3.err)"
python3 "$HERE/report/check_register.py" dom3.html indm.jsonl al.jsonl \
  --min-den 3 --want-misses || fail "register section: misses not marked"
# No register entries: no spr.* values, the section says so.
"$VIGIL" process --input ev-noreg.jsonl --partitions 3 --alerts al0.jsonl \
  --indicators ind0.jsonl 2> process0.log || fail "process: $(tail -3 process0.log)"
"$VIGIL" report --lang en --html r0.html --indicators ind0.jsonl --alerts al0.jsonl \
  2> r0.log || fail "report: $(cat r0.log)"
chrome --dump-dom "file://$TMP/r0.html" > dom0.html 2> dom0.err \
  || fail "chromium --dump-dom failed: $(tail -3 dom0.err)"
months_all ind0.jsonl ind0m.jsonl
python3 "$HERE/report/check_register.py" dom0.html ind0m.jsonl al0.jsonl \
  --no-spr || fail "register section without register data"
# vigil indicators shows the running month as preliminary too.
running=$(python3 -c '
import json
print(max(p for p in (json.loads(l)["period"] for l in open("ind.jsonl")
                     if l.strip()) if len(p) == 7 and "Q" not in p))')
"$VIGIL" indicators -i ind.jsonl -a SE --from "$running" > ind-table.txt \
  2> ind-table.err || fail "vigil indicators -i: $(tail -3 ind-table.err)"
rows=$(grep -c "$running" ind-table.txt || true)
[ "$rows" -gt 0 ] || fail "vigil indicators: no $running rows: $(head -3 ind-table.txt)"
notpre=$(grep "$running" ind-table.txt | grep -v "prelim" || true)
[ -z "$notpre" ] || fail "vigil indicators: $running values not shown as prelim:
$(echo "$notpre" | head -3)"
"$VIGIL" indicators -i ind.jsonl -a SE --from "$running" --format json \
  | python3 -c '
import json, sys
vals = [json.loads(l) for l in sys.stdin if l.strip()]
assert vals and all(v["complete"] is False for v in vals), "json: complete"
' || fail "vigil indicators -o json: $running values not complete=false"

chrome --screenshot="$TMP/shot.png" --window-size=1280,4000 \
  "file://$TMP/r.html" > /dev/null 2> shot.err \
  || fail "chromium --screenshot failed: $(tail -3 shot.err)"
errs=$(console_errors shot.err)
[ -z "$errs" ] || fail "console errors while taking the screenshot:
$errs"
[ -s shot.png ] || fail "no screenshot written: $(tail -3 shot.err)"
python3 "$HERE/report/check_png.py" shot.png 1280 4000 \
  || fail "screenshot check failed (kept with KEEP_TMP=1)"
# The public page (issue 13, SPEC §6.4) in Swedish and in English, as
# Chromium renders it: its language, the public note, hidden values as
# '..', no alert list and no pseudonym, stay or alert id of the input in
# the DOM; a screenshot that is not blank and shows the charts.
for lang in sv en; do
  "$VIGIL" report --indicators ind.jsonl --public --lang $lang \
    --html "pub-$lang.html" 2> "pub-$lang.log" || fail "report --public --lang $lang: $(tail -3 "pub-$lang.log")"
  chrome --dump-dom "file://$TMP/pub-$lang.html" > "pubdom-$lang.html" 2> "pubdom-$lang.err" \
    || fail "chromium on the public page ($lang): $(tail -3 "pubdom-$lang.err")"
  errs=$(console_errors "pubdom-$lang.err")
  [ -z "$errs" ] || fail "console errors on the public page ($lang): $errs"
  python3 - "pubdom-$lang.html" ev.jsonl al.jsonl $lang <<'EOF' || fail "public page DOM ($lang)"
import json, sys
dom, ev, al, lang = sys.argv[1:5]
d = open(dom, encoding="utf-8").read()
assert '<html lang="%s">' % lang in d, "html lang"
note = {"sv": "Offentlig version.", "en": "Public version."}[lang]
assert note in d, "no public note"
assert d.count("<td>..</td>") > 0, "nothing shown as .."
assert 'id="alerts"' not in d and 'id="unregistered"' not in d, "an alert list"
ids = set()
for line in open(ev, encoding="utf-8"):
    o = json.loads(line)
    ids |= {o.get(k) for k in ("patient_id", "stay_id", "event_id", "sip_id")}
for line in open(al, encoding="utf-8"):
    o = json.loads(line)
    ids |= {o.get("alert_id"), o.get("anchor")}
ids = {i for i in ids if i and len(i) >= 8}
leaked = [i for i in ids if i in d]
assert not leaked, "ids in the public page: %s" % leaked[:3]
other = {"sv": ["Public version.", "Readmission within 30 days", "Overview"],
         "en": ["Offentlig version.", "Återinskrivning inom 30 dagar", "Översikt"]}[lang]
assert not any(t in d for t in other), "text of the other language"
print("public page (%s): %d ids absent, %d cells '..'" % (lang, len(ids), d.count("<td>..</td>")))
EOF
  chrome --screenshot="$TMP/pub-$lang.png" --window-size=1280,4000 \
    "file://$TMP/pub-$lang.html" > /dev/null 2> "pubshot-$lang.err" \
    || fail "chromium --screenshot of the public page ($lang) failed"
  python3 "$HERE/report/check_png.py" "pub-$lang.png" 1280 4000 \
    || fail "screenshot of the public page ($lang) (kept with KEEP_TMP=1)"
done
if [ -n "${VIGIL_REPORT_SHOT:-}" ]; then
  cp shot.png "$VIGIL_REPORT_SHOT"
  echo "screenshot copied to $VIGIL_REPORT_SHOT"
fi
echo "PASS"
