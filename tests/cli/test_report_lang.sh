#!/usr/bin/env bash
# vigil report --lang: the page is Swedish by default, --lang sv says so,
# --lang en writes the English page; any other language is a usage error.
#
#   the code    every English text passed to rp_t / rp_tf as a literal, or
#               marked N_(), has a Swedish text in the table of
#               consumers/report/report_text.c; every entry of the table is
#               used; none twice; a printf format keeps its conversions;
#   the pages   default = --lang sv (but the time written), <html lang>,
#               Swedish headings present and English ones absent (and the
#               reverse for --lang en), no English text of the table left in
#               a Swedish page (internal, public, one region, min_denominator
#               3, no data), and vigil warns of no text without a Swedish
#               one.
set -euo pipefail
VIGIL=${VIGIL:-$(cd "$(dirname "$0")/../.." && pwd)/build/vigil}
VIGIL_SRC=${VIGIL_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
fail() { echo "FAIL: $*" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
unset VIGIL_CONFIG

# The table against the code (no binary needed).
python3 - "$VIGIL_SRC/consumers/report" > table.txt <<'EOF' || fail "the table of Swedish texts: $(cat table.txt)"
import os, re, sys

def tokens(src):
    i, n, out = 0, len(src), []
    while i < n:
        c = src[i]
        if src.startswith("/*", i):
            i = src.index("*/", i) + 2
        elif src.startswith("//", i):
            i = src.find("\n", i)
            i = n if i < 0 else i
        elif c in "\"'":
            j = i + 1
            while src[j] != c:
                j += 2 if src[j] == "\\" else 1
            out.append(("str" if c == '"' else "chr", src[i + 1:j]))
            i = j + 1
        elif c.isalpha() or c == "_":
            j = i
            while j < n and (src[j].isalnum() or src[j] == "_"):
                j += 1
            out.append(("id", src[i:j]))
            i = j
        elif c.isspace():
            i += 1
        else:
            out.append(("p", c))
            i += 1
    return out

def decode(raw):
    def esc(m):
        e = m.group(1)
        if e[0] == "u":
            return chr(int(e[1:], 16))
        return {"n": "\n", "t": "\t"}.get(e, e)
    return re.sub(r"\\(u[0-9a-fA-F]{4}|.)", esc, raw)

def runs(toks):
    """Adjacent string literals, joined."""
    out, k = [], 0
    while k < len(toks):
        if toks[k][0] != "str":
            k += 1
            continue
        s = ""
        while k < len(toks) and toks[k][0] == "str":
            s += decode(toks[k][1])
            k += 1
        out.append(s)
    return out

def conversions(f):
    return re.findall(r"%[-+ #0'0-9.*hlLjzt]*.?", f)

src = sys.argv[1]
used, table, bad = {}, {}, []
for name in sorted(os.listdir(src)):
    if not name.endswith(".c"):
        continue
    text = open(os.path.join(src, name), encoding="utf-8").read()
    if name == "report_text.c":
        a = text.index("BEGIN TRANSLATIONS")
        b = text.index("END TRANSLATIONS")
        body = text[text.index("{", text.index("tr[]", a)) + 1:text.rindex("}", a, b)]
        strs = runs(tokens(body))
        if len(strs) % 2 or not strs:
            sys.exit("the table has an entry without a Swedish text")
        for k in range(0, len(strs), 2):
            if strs[k] in table:
                bad.append("entry twice: %r" % strs[k])
            table[strs[k]] = strs[k + 1]
        text = text[:a] + text[b:]
    toks = tokens(text)
    for k, t in enumerate(toks):
        if t[0] != "id" or t[1] not in ("rp_t", "rp_tf", "N_") or \
           toks[k + 1] != ("p", "(") or toks[k - 1] in (("id", "char"), ("p", "*")):
            continue  # not a call (a declaration or a definition)
        depth, j = 0, k + 1
        while True:
            depth += {("p", "("): 1, ("p", ")"): -1}.get(toks[j], 0)
            if not depth:
                break
            j += 1
        for s in runs(toks[k + 2:j]):
            if s:
                used.setdefault(s, set()).add(t[1])
for s in sorted(used):
    if s not in table:
        bad.append("no Swedish text: %r" % s)
    elif "rp_tf" in used[s] and conversions(s) != conversions(table[s]):
        bad.append("other conversions in Swedish: %r -> %r" % (s, table[s]))
for s in sorted(table):
    if s not in used:
        bad.append("entry not used in the code: %r" % s)
if len(used) < 200:
    bad.append("only %d texts found in the code: the parser is broken" % len(used))
for b in bad:
    print(b)
if bad:
    sys.exit(1)
for en, sv in table.items():
    print("%s\t%s" % (en.replace("\t", " "), sv.replace("\t", " ")))
EOF
echo "table: $(wc -l < table.txt) Swedish texts, each used in the code"

"$VIGIL" simulate -n 2000 --seed 11 --days 300 --out ev.jsonl 2>/dev/null
"$VIGIL" process --input ev.jsonl --alerts al.jsonl --indicators ind.jsonl 2>/dev/null
region=$(grep -o '"area":"[0-9][0-9]"' ind.jsonl | sort | uniq -c | sort -rn | head -1 | grep -o '[0-9][0-9]"' | tr -d '"')
report() { # NAME ARGS...: the page NAME.html, its log NAME.err
  local name=$1; shift
  "$VIGIL" report --indicators ind.jsonl "$@" --html "$name.html" 2> "$name.err" \
    || fail "report $*: $(cat "$name.err")"
}
report default --alerts al.jsonl
report sv --alerts al.jsonl --lang sv
report en --alerts al.jsonl --lang en
report sv-public --public
report sv-region --alerts al.jsonl -a "$region"
report sv-min3 --alerts al.jsonl -X aggregate.min_denominator=3
report en-region --alerts al.jsonl -a "$region" --lang en
"$VIGIL" report --indicators /dev/null --alerts /dev/null --html sv-empty.html \
  2> sv-empty.err || fail "report without data: $(cat sv-empty.err)"
"$VIGIL" report --indicators ind.jsonl --alerts al.jsonl --title 'Palliativ vård <04>' \
  --html titled.html 2> titled.err || fail "report --title: $(cat titled.err)"

# No text was written in English for want of a Swedish one.
! grep -h "written in English" ./*.err || fail "texts without a Swedish text (above)"

# The default is Swedish: the same page as --lang sv but the time written.
untime() { sed -E 's#<time datetime="[^"]*">[^<]*</time>#TIME#' "$1"; }
cmp -s <(untime default.html) <(untime sv.html) || fail "the default page is not the --lang sv page"
grep -q '^<html lang="sv">$' sv.html || fail "sv: no <html lang=\"sv\">"
grep -q '^<html lang="en">$' en.html || fail "en: no <html lang=\"en\">"
grep -q '<title>Vigil – vård i livets slut</title>' sv.html || fail "sv: default title"
grep -q '<title>Vigil – end-of-life care report</title>' en.html || fail "en: default title"
grep -q '<title>Palliativ vård &lt;04&gt;</title>' titled.html || fail "--title not used as given"

python3 - table.txt <<'EOF' || fail "page texts"
import html, re, sys
table = [l.rstrip("\n").split("\t") for l in open(sys.argv[1], encoding="utf-8")]
sv_words = [
    "Översikt", "Återinskrivning inom 30 dagar", "Dödsplats",
    "Sjukhusinläggning under livets sista 30 dagar",
    "Två eller fler sjukhusinläggningar under livets sista 30 dagar",
    "SIP före ett väntat dödsfall", "samordnad individuell plan (SIP)",
    "SIP i tid efter utskrivning",
    "specialiserad palliativ hemsjukvård (SSIH)", "Täckningsgrad",
    "Kvalitetsindikatorer", "Brytpunktssamtal", "Smärtskattning",
    "Munhälsobedömning", "Vid behov-ordination av opioid",
    "Vid behov-ordination av ångestdämpande", "Fri från trycksår (grad 2–4)",
    "Kommuner jämförda", "trattdiagram", "inom gränserna", "Aktiva larm",
    "preliminär", "osäker (få fall)", "målvärde",
    "Socialstyrelsens målnivåer (2017)", "Datatabell", "Månad",
    "Dödsfall som inte registrerats, per kommun", "Särskilt boende",
    "ofullständig historik", "Skapad av vigil",
]
en_words = [
    "Overview", "Readmission within 30 days", "Place of death",
    "Hospital admission in the last 30 days of life",
    "SIP before an expected death", "Enrolment in specialised palliative",
    "Register coverage", "Quality indicators", "End-of-life conversation",
    "Pain assessed", "Oral health assessed", "As-needed opioid",
    "Free of pressure ulcers", "Kommuner compared", "kommuner compared",
    "funnel plot", "within the limits", "Active alerts", "preliminary",
    "uncertain (few cases)", "cases)", "misses the target", ">Target<",
    "Data table", "Month",
    "Deaths not registered", "Nursing home", "incomplete history",
    "Generated by vigil",
]
months_en = re.compile(r"\b(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) 20\d\d")
def fragments(text):
    """The parts of a text between its printf conversions, long enough to
    be telling (a short one, "all", may be Swedish too)."""
    return [f for f in re.split(r"%[-+ #0'0-9.*hlLjzt]*[a-zA-Z%]", text)
            if len(f.strip()) >= 12]
def check(name, want, unwanted, other):
    raw = open(name, encoding="utf-8").read()
    page = raw + "\n" + html.unescape(raw)
    bad = ["%s: no %r" % (name, w) for w in want if w not in page]
    bad += ["%s: %r left" % (name, w) for w in unwanted if w in page]
    bad += ["%s: %r of the other language left" % (name, f)
            for en, sv in table if en != sv
            for f in fragments(other(en, sv)) if f in page]
    return bad
bad = []
for name in ("sv.html", "sv-region.html"):
    bad += check(name, sv_words, en_words, lambda en, sv: en)
bad += check("sv-min3.html", [w for w in sv_words if w != "osäker (få fall)"],
             en_words, lambda en, sv: en)
for name in ("sv-public.html", "sv-empty.html"):
    bad += check(name, [], en_words, lambda en, sv: en)
for name in ("sv.html", "sv-region.html", "sv-min3.html", "sv-public.html"):
    bad += ["%s: English month %r" % (name, m.group(0))
            for m in [months_en.search(open(name, encoding="utf-8").read())] if m]
for name in ("en.html", "en-region.html"):
    bad += check(name, [w for w in en_words if w not in ("funnel plot", "kommuner compared")],
                 sv_words, lambda en, sv: sv)
bad += check("en.html", ["funnel plot", "kommuner compared"], [], lambda en, sv: sv)
print("\n".join(bad[:40]), file=sys.stderr)
sys.exit(1 if bad else 0)
EOF

# Any other language is a usage error.
for lang in xx SV english ''; do
  set +e
  "$VIGIL" report --indicators ind.jsonl --alerts al.jsonl --lang "$lang" --html bad.html 2> bad.err
  rc=$?
  set -e
  [ "$rc" = 2 ] || fail "--lang '$lang': exit $rc, want 2"
  grep -q -- "--lang: expected sv or en, got '$lang'" bad.err || fail "--lang '$lang': $(cat bad.err)"
  [ ! -e bad.html ] || fail "--lang '$lang': a page was written"
done
"$VIGIL" report --help | grep -q -- "--lang LANG" || fail "--help does not document --lang"
echo "PASS: default = --lang sv, Swedish and English pages hold their own texts only, $(wc -l < table.txt) texts translated"
