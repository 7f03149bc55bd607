#!/usr/bin/env python3
"""check_public.py - checks `vigil indicators --public` output against the
exact values it was made from (SPEC v2 §6.4, docs/INDICATORS.md §7).

Written apart from consumers/vg_publish.c (shares nothing with it):

  check_public.py INTERNAL.jsonl PUBLIC.jsonl [--min-count 5] [--label L]

INTERNAL is what `vigil process --indicators` wrote; PUBLIC is `vigil
indicators -i INTERNAL --public --period all --breakdown any --format json`.
Checks:
  1. the public rows are exactly the internal rows that have a case, and a
     visible row shows the exact numerator and denominator;
  2. a hidden row shows numerator (and denominator, unless a count) as ".."
     with "suppressed": true; a visible one "suppressed": false;
  3. no visible numerator, denominator or count is in 1..min_count-1;
  4. in every relation (a total and its parts for the same indicator,
     breakdown and period kind: region/kommuner, SE/regions, all/one
     breakdown dimension, quarter/months, year/quarters, the deaths of an
     area/period/breakdown and its death_place.* numerators) the unknowns
     (hidden parts, plus the total when hidden) are never exactly one: no
     hidden count is a visible total minus visible parts.
Prints figures; exits 1 with the first problems on failure.
"""
import argparse
import collections
import json
import re
import sys

MONTH = re.compile(r"^(\d{4})-(\d{2})$")
QUARTER = re.compile(r"^(\d{4})-Q([1-4])$")


def load(path):
    rows = {}
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            o = json.loads(line)
            key = (o["indicator"], o["area"], o["period"],
                   o.get("breakdown") or "all")
            rows[key] = o
    return rows


def has_case(o):
    d = o.get("denominator")
    return (d > 0) if d is not None else o["numerator"] > 0


def relations(keys):
    """{relation id: (total key or None for the death_place deaths, [parts])}"""
    rel = collections.defaultdict(list)
    totals = {}
    for k in keys:
        ind, area, period, bd = k
        ups = []
        if re.fullmatch(r"\d{4}", area):
            ups.append(("region/kommuner", (ind, area[:2], period, bd)))
        elif re.fullmatch(r"\d{2}", area):
            ups.append(("SE/regions", (ind, "SE", period, bd)))
        if bd != "all":
            dim = bd.split(":", 1)[0]
            ups.append(("all/" + dim, (ind, area, period, "all")))
        m = MONTH.match(period)
        if m:
            q = (int(m.group(2)) - 1) // 3 + 1
            ups.append(("quarter/months", (ind, area, "%s-Q%d" % (m.group(1), q), bd)))
        m = QUARTER.match(period)
        if m:
            ups.append(("year/quarters", (ind, area, m.group(1), bd)))
        for kind, total in ups:
            rid = (kind, total)
            rel[rid].append(k)
            totals[rid] = total
        if ind.startswith("death_place."):
            rid = ("deaths/death_place", ("death_place.*", area, period, bd))
            rel[rid].append(k)
            totals[rid] = None
    return {rid: (totals[rid], parts) for rid, parts in rel.items()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("internal")
    ap.add_argument("public")
    ap.add_argument("--min-count", type=int, default=5)
    ap.add_argument("--label", default="")
    a = ap.parse_args()
    lo, hi = 1, a.min_count - 1
    internal = {k: o for k, o in load(a.internal).items() if has_case(o)}
    public = load(a.public)
    problems = []

    def problem(msg):
        if len(problems) < 20:
            problems.append(msg)
        elif len(problems) == 20:
            problems.append(None)

    if set(public) != set(internal):
        extra = sorted(set(public) - set(internal))[:3]
        missing = sorted(set(internal) - set(public))[:3]
        problem("rows differ: extra %s, missing %s" % (extra, missing))

    hidden = set()
    small = set()
    for k, o in internal.items():
        den = o.get("denominator")
        counts = [o["numerator"]] + ([den] if den is not None else [])
        if any(lo <= c <= hi for c in counts):
            small.add(k)
        p = public.get(k)
        if p is None:
            continue
        if p.get("suppressed") is True:
            hidden.add(k)
            if p["numerator"] != "..":
                problem("%s: hidden numerator shown as %r" % (k, p["numerator"]))
            want = ".." if den is not None else None
            if p.get("denominator") != want:
                problem("%s: hidden denominator shown as %r" % (k, p.get("denominator")))
        elif p.get("suppressed") is False:
            if p["numerator"] != o["numerator"] or p.get("denominator") != den:
                problem("%s: shows %r/%r, exact %r/%r" % (
                    k, p["numerator"], p.get("denominator"), o["numerator"], den))
            for c in counts:
                if lo <= c <= hi:
                    problem("%s: visible count %d" % (k, c))
        else:
            problem("%s: no boolean 'suppressed'" % (k,))

    # No visible count in 1..min_count-1, read from the output alone too.
    for k, p in public.items():
        if p.get("suppressed") is False:
            for c in (p["numerator"], p.get("denominator")):
                if isinstance(c, int) and lo <= c <= hi:
                    problem("%s: output shows %d" % (k, c))

    rels = relations(internal.keys())
    by_kind = collections.Counter()
    open_rel = collections.Counter()
    no_total = 0
    nonadditive = 0
    for (kind, _), (total, parts) in sorted(rels.items()):
        if total is not None and total not in internal:
            no_total += 1  # nothing published to subtract from
            continue
        by_kind[kind] += 1
        hid = [p for p in parts if p in hidden]
        unknown = len(hid) + (1 if total is not None and total in hidden else 0)
        if total is not None:
            for f in ("numerator", "denominator"):
                t = internal[total].get(f)
                if t is not None and t != sum(internal[p].get(f) or 0 for p in parts):
                    nonadditive += 1
        if unknown == 1:
            open_rel[kind] += 1
            if total is None or total not in hidden:
                # one hidden part: the total minus the visible parts
                h = hid[0]
                t = internal[parts[0]]["denominator"] if total is None \
                    else internal[total]["numerator"]
                rest = sum(internal[p]["numerator"] for p in parts if p != h)
                problem("%s %s: hidden %s = %d - %d = %d" % (
                    kind, total or parts[0][1:], h, t, rest, t - rest))
            else:
                problem("%s: hidden total %s = sum of its visible parts" % (kind, total))

    rows = len(internal)
    comp = hidden - small
    print("%s%d rows, %d hidden (%.1f %%): %d small (first pass), %d more "
          "(second pass); %d relations checked (%s)%s%s" % (
              a.label + ": " if a.label else "", rows, len(hidden),
              100.0 * len(hidden) / max(rows, 1), len(small & hidden),
              len(comp), sum(by_kind.values()),
              ", ".join("%s %d" % kv for kv in sorted(by_kind.items())),
              "; %d without a total row" % no_total if no_total else "",
              "; %d totals not the sum of their parts" % nonadditive
              if nonadditive else ""))
    if problems:
        for p in problems:
            print("FAIL: " + (p if p else "... and more"), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
