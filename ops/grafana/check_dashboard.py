#!/usr/bin/env python3
"""Checks ops/grafana/vigil-dashboard.json.

    python3 ops/grafana/check_dashboard.py [DASHBOARD.json]

Exit 0 when the dashboard is valid JSON and:
  - every PromQL expression (panel targets and template variable queries)
    references only Vigil's metric names (histograms through their
    _bucket/_sum/_count series), only known PromQL functions, and has
    balanced brackets;
  - counters and histogram buckets are only read through rate(), irate()
    or increase(), gauges never through them;
  - every histogram_quantile() aggregates by "le";
  - every panel and target uses the ${DS_PROMETHEUS} datasource input,
    panel ids are unique and every panel has a gridPos.
Prints one line per problem and exits 1 otherwise. Standard library only.
"""
import json
import re
import sys

COUNTERS = {
    "vigil_events_consumed_total", "vigil_events_processed_total",
    "vigil_events_duplicate_total", "vigil_events_dlq_total",
    "vigil_alerts_emitted_total", "vigil_rebalances_total",
    "vigil_parts_consumed_total", "vigil_indicator_values_published_total",
    "vigil_events_too_late_total", "vigil_events_pruned_total",
}
GAUGES = {
    "vigil_outbox_depth", "vigil_consumer_lag", "vigil_assigned_partitions",
    "vigil_ready", "vigil_watermark_seconds", "vigil_topic_time_seconds",
    "vigil_topic_caught_up", "vigil_state_patients_in_memory",
}
HISTOGRAMS = {"vigil_processing_latency_seconds", "vigil_sqlite_commit_seconds"}

# Labels each metric has (besides Prometheus' job and instance).
LABELS = {
    "vigil_events_consumed_total": {"topic"},
    "vigil_events_dlq_total": {"reason"},
    "vigil_alerts_emitted_total": {"rule", "status"},
    "vigil_consumer_lag": {"topic", "partition"},
    "vigil_watermark_seconds": {"partition"},
    "vigil_topic_time_seconds": {"topic", "partition"},
    "vigil_topic_caught_up": {"topic", "partition"},
}

FUNCTIONS = {
    "abs", "absent", "absent_over_time", "avg_over_time", "ceil", "changes",
    "clamp", "clamp_max", "clamp_min", "count_over_time", "delta", "deriv",
    "exp", "floor", "histogram_quantile", "idelta", "increase", "irate",
    "label_replace", "last_over_time", "max_over_time", "min_over_time",
    "quantile_over_time", "rate", "resets", "round", "scalar", "sort",
    "sort_desc", "sum_over_time", "time", "timestamp", "vector",
}
AGGREGATIONS = {
    "sum", "min", "max", "avg", "count", "stddev", "stdvar", "topk",
    "bottomk", "quantile", "count_values", "group",
}
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right",
            "and", "or", "unless", "bool", "offset"}
RATE_FUNCS = {"rate", "irate", "increase"}
# Grafana's own variable-query function (templating only).
GRAFANA_FUNCS = {"label_values", "label_names", "metrics", "query_result"}


def series_kind(name):
    """'counter', 'gauge', 'bucket', 'histpart' or None (unknown)."""
    if name in COUNTERS:
        return "counter"
    if name in GAUGES:
        return "gauge"
    for h in HISTOGRAMS:
        if name == h + "_bucket":
            return "bucket"
        if name in (h + "_sum", h + "_count"):
            return "histpart"
    return None


def check_expr(expr, where, grafana_query=False):
    errs = []
    # Grafana variables: $__rate_interval, $__range, $job, ${var}, [[var]].
    e = re.sub(r"\$\{?\w+\}?", "1m", expr)
    # Strings (label values, regexes) first, so their contents are not read.
    e = re.sub(r'"(?:\\.|[^"\\])*"', '""', e)
    e = re.sub(r"'(?:\\.|[^'\\])*'", "''", e)
    pairs = {"(": ")", "[": "]", "{": "}"}
    stack = []          # (bracket, function name or None)
    last_ident = None   # identifier just before the current token
    grouping = False    # inside by(...)/without(...)/on(...)/ignoring(...)
    saw_le_group = False
    metrics = set()     # Vigil series names referenced
    labels = []         # label names in matchers and groupings
    i = 0
    tokens = re.finditer(
        r"[A-Za-z_:][A-Za-z0-9_:]*|\d+(?:\.\d+)?(?:[smhdwy]|ms)?|[()\[\]{},]|\S",
        e)
    toks = [m.group(0) for m in tokens]
    n = len(toks)
    while i < n:
        t = toks[i]
        nxt = toks[i + 1] if i + 1 < n else ""
        if t in "([{":
            fn = last_ident if t == "(" else None
            stack.append((t, fn, grouping))
            if t == "{":
                # Label matchers: skip to the closing brace, checking names.
                j = i + 1
                names = []
                while j < n and toks[j] != "}":
                    if re.match(r"[A-Za-z_]\w*$", toks[j]) and j + 1 < n \
                            and toks[j + 1] in ("=", "!", "~"):
                        names.append(toks[j])
                    j += 1
                if j >= n:
                    errs.append(f"{where}: unbalanced '{{'")
                    return errs
                stack.pop()
                labels += names
                i = j + 1
                last_ident = None
                continue
            last_ident = None
            i += 1
            continue
        if t in ")]}":
            if not stack or pairs[stack[-1][0]] != t:
                errs.append(f"{where}: unbalanced '{t}'")
                return errs
            _, _, grouping = stack.pop()
            grouping = False if t == ")" else grouping
            last_ident = None
            i += 1
            continue
        if re.match(r"[A-Za-z_:]", t):
            if stack and stack[-1][1] in ("by", "without", "on", "ignoring",
                                          "group_left", "group_right"):
                # a label name in a grouping clause
                if t == "le" and stack[-1][1] == "by":
                    saw_le_group = True
                if t != ",":
                    labels.append(t)
                last_ident = t
                i += 1
                continue
            if nxt == "(":
                if t in FUNCTIONS or t in AGGREGATIONS or t in KEYWORDS or \
                        (grafana_query and t in GRAFANA_FUNCS):
                    last_ident = t
                    i += 1
                    continue
                errs.append(f"{where}: unknown function '{t}'")
                last_ident = t
                i += 1
                continue
            if t in KEYWORDS or t in AGGREGATIONS:
                last_ident = t
                i += 1
                continue
            # In a Grafana label_values(metric, label) the second argument
            # is a label name.
            if grafana_query and stack and stack[-1][1] == "label_values" \
                    and last_ident is None and i > 0 and toks[i - 1] == ",":
                i += 1
                continue
            kind = series_kind(t)
            if kind is not None:
                metrics.add(t)
            if kind is None:
                errs.append(f"{where}: '{t}' is not one of Vigil's metrics")
            else:
                inner = stack[-1][1] if stack else None
                if kind in ("counter", "bucket") and not grafana_query \
                        and inner not in RATE_FUNCS:
                    errs.append(f"{where}: {t} read without rate()/"
                                f"increase() (it is a counter)")
                if kind == "gauge" and inner in RATE_FUNCS:
                    errs.append(f"{where}: {inner}() of gauge {t}")
            last_ident = t
            i += 1
            continue
        last_ident = None
        i += 1
    if stack:
        errs.append(f"{where}: unbalanced '{stack[-1][0]}'")
    if "histogram_quantile" in expr and not saw_le_group:
        errs.append(f"{where}: histogram_quantile without 'by (..., le)'")
    # Label names used in matchers and groupings must exist on the metrics.
    allowed = {"job", "instance"}
    for m in metrics:
        base = re.sub(r"_(bucket|sum|count)$", "", m) \
            if series_kind(m) in ("bucket", "histpart") else m
        allowed |= LABELS.get(base, set())
        if series_kind(m) == "bucket":
            allowed.add("le")
    for name in sorted(set(labels) - allowed):
        errs.append(f"{where}: label '{name}' is not a label of "
                    f"{', '.join(sorted(metrics)) or 'any metric'}")
    return errs


def walk_panels(panels):
    for p in panels:
        yield p
        yield from walk_panels(p.get("panels", []))


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else \
        __file__.rsplit("/", 1)[0] + "/vigil-dashboard.json"
    try:
        with open(path, encoding="utf-8") as f:
            dash = json.load(f)
    except (OSError, ValueError) as ex:
        print(f"{path}: {ex}")
        return 1
    errs = []
    ds_uid = "${DS_PROMETHEUS}"
    if not any(i.get("name") == "DS_PROMETHEUS" and i.get("pluginId") ==
               "prometheus" for i in dash.get("__inputs", [])):
        errs.append("no __inputs entry DS_PROMETHEUS (prometheus)")
    if not isinstance(dash.get("schemaVersion"), int):
        errs.append("no schemaVersion")
    ids = set()
    nexpr = 0
    used = set()
    for p in walk_panels(dash.get("panels", [])):
        where = f"panel {p.get('id')} '{p.get('title')}'"
        if p.get("id") in ids:
            errs.append(f"{where}: duplicate panel id")
        ids.add(p.get("id"))
        if "gridPos" not in p:
            errs.append(f"{where}: no gridPos")
        if p.get("type") == "row":
            continue
        if (p.get("datasource") or {}).get("uid") != ds_uid:
            errs.append(f"{where}: datasource is not {ds_uid}")
        if not p.get("targets"):
            errs.append(f"{where}: no targets")
        for t in p.get("targets", []):
            w = f"{where} target {t.get('refId')}"
            if (t.get("datasource") or {}).get("uid") != ds_uid:
                errs.append(f"{w}: datasource is not {ds_uid}")
            expr = t.get("expr", "")
            if not expr.strip():
                errs.append(f"{w}: empty expr")
                continue
            nexpr += 1
            used.update(re.findall(r"vigil_\w+", expr))
            errs += check_expr(expr, w)
    for v in dash.get("templating", {}).get("list", []):
        if v.get("type") != "query":
            continue
        q = v.get("query")
        q = q.get("query", "") if isinstance(q, dict) else (q or "")
        if (v.get("datasource") or {}).get("uid") != ds_uid:
            errs.append(f"variable {v.get('name')}: datasource is not {ds_uid}")
        nexpr += 1
        errs += check_expr(q, f"variable {v.get('name')}", grafana_query=True)
    for e in errs:
        print(e)
    base = {re.sub(r"_(bucket|sum|count)$", "", m) if series_kind(m) in
            ("bucket", "histpart") else m for m in used}
    missing = sorted((COUNTERS | GAUGES | HISTOGRAMS) - base)
    print(f"{path}: {len(ids)} panels, {nexpr} expressions, "
          f"{len(errs)} problem(s)"
          + (f"; metrics not shown: {', '.join(missing)}" if missing else ""))
    return 1 if errs else 0


if __name__ == "__main__":
    sys.exit(main())
