#!/usr/bin/env python3
"""Checks a Grafana dashboard of dcs_exporter (standard library only).

Usage: dashboard-check.py DASHBOARD.json RULES.yml OUT_RULES.yml

- the file is valid JSON without duplicate keys;
- it is importable from grafana.com: __inputs declares DS_PROMETHEUS and
  __requires lists Grafana, the Prometheus data source and every panel type;
- it has the variables datasource, target, region, project_id and engine
  (the last four multi-value with "All");
- every panel and query uses the ${datasource} variable, not a fixed UID;
- every selector of a per-target dcs metric filters on target=~"$target";
- every recording rule it reads (dcs:...) is defined in RULES.yml.

It then substitutes the variables (multi-value "All" becomes .*, Grafana's
interval variables become durations) and writes each query as a recording
rule to OUT_RULES.yml, so that `promtool check rules OUT_RULES.yml` parses
every expression with Prometheus' own PromQL parser.
"""

import json
import re
import sys

MULTI_VARS = ["target", "region", "project_id", "engine"]
# Grafana's built-in variables and what to put in their place.
BUILTINS = {"__rate_interval": "5m", "__interval": "1m", "__range": "1h"}
# dcs metrics without the per-target labels.
GLOBAL_METRICS = {
    "dcs_exporter_build_info",
    "dcs_exporter_config_last_reload_successful",
    "dcs_exporter_config_last_reload_success_timestamp_seconds",
}

errors = []


def fail(msg):
    errors.append(msg)


def no_duplicates(pairs):
    obj = {}
    for k, v in pairs:
        if k in obj:
            raise ValueError("duplicate key %r" % k)
        obj[k] = v
    return obj


def all_panels(panels):
    for p in panels:
        yield p
        yield from all_panels(p.get("panels", []))


def substitute(expr, variables):
    def repl(m):
        name = m.group(1) or m.group(2)
        if name in BUILTINS:
            return BUILTINS[name]
        if name in variables:
            return ".*"
        fail("unknown variable $%s in: %s" % (name, expr))
        return "x"

    return re.sub(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)", repl, expr)


def check_selectors(where, expr):
    # metric{matchers} or bare metric names of per-target dcs metrics
    for m in re.finditer(r"\b(dcs_[a-z0-9_]+)\b(\s*\{([^}]*)\})?", expr):
        metric, matchers = m.group(1), m.group(3)
        if metric in GLOBAL_METRICS:
            continue
        if matchers is None or 'target=~"$target"' not in matchers:
            fail('%s: selector of %s does not filter on target=~"$target": %s' % (where, metric, expr))
    for m in re.finditer(r"\b(dcs:[a-z0-9_:]+)\b(\s*\{([^}]*)\})?", expr):
        if m.group(3) is None or 'target=~"$target"' not in m.group(3):
            fail('%s: selector of %s does not filter on target=~"$target": %s' % (where, m.group(1), expr))


def main(argv):
    if len(argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    dash_file, rules_file, out_file = argv[1:]
    try:
        with open(dash_file, encoding="utf-8") as f:
            dash = json.load(f, object_pairs_hook=no_duplicates)
    except (OSError, ValueError) as e:
        print("FAIL %s: %s" % (dash_file, e))
        return 1
    with open(rules_file, encoding="utf-8") as f:
        recorded = set(re.findall(r"^\s*-?\s*record:\s*(\S+)\s*$", f.read(), re.M))

    # --- grafana.com import metadata
    inputs = dash.get("__inputs") or []
    if not any(i.get("name") == "DS_PROMETHEUS" and i.get("type") == "datasource"
               and i.get("pluginId") == "prometheus" for i in inputs):
        fail("__inputs must declare the datasource input DS_PROMETHEUS (pluginId prometheus)")
    requires = {(r.get("type"), r.get("id")) for r in dash.get("__requires") or []}
    for need in [("grafana", "grafana"), ("datasource", "prometheus")]:
        if need not in requires:
            fail("__requires lacks %s %s" % need)
    for key in ["title", "uid", "schemaVersion", "panels", "templating"]:
        if key not in dash:
            fail("missing top-level key %s" % key)
    if dash.get("id") is not None:
        fail("id must be null in an exported dashboard")

    # --- variables
    variables = {v.get("name"): v for v in dash.get("templating", {}).get("list", [])}
    ds = variables.get("datasource")
    if not ds or ds.get("type") != "datasource" or ds.get("query") != "prometheus":
        fail("a datasource variable named datasource (query prometheus) is required")
    var_exprs = []
    for name in MULTI_VARS:
        v = variables.get(name)
        if not v:
            fail("variable %s is missing" % name)
            continue
        if v.get("type") != "query" or not v.get("multi") or not v.get("includeAll"):
            fail("variable %s must be a multi-value query variable with All" % name)
        if (v.get("datasource") or {}).get("uid") != "${datasource}":
            fail("variable %s must use the ${datasource} data source" % name)
        q = v.get("query")
        q = q.get("query", "") if isinstance(q, dict) else (q or "")
        m = re.fullmatch(r"\s*label_values\((.*),\s*(\w+)\s*\)\s*", q, re.S)
        if not m or m.group(2) != name:
            fail("variable %s must be label_values(<selector>, %s), got %r" % (name, name, q))
            continue
        var_exprs.append(("variable %s" % name, m.group(1)))

    # --- panels
    panels = list(all_panels(dash.get("panels", [])))
    ids = [p.get("id") for p in panels]
    if len(ids) != len(set(ids)):
        fail("panel ids are not unique")
    panel_types = {p.get("type") for p in panels if p.get("type") != "row"}
    for t in sorted(panel_types):
        if ("panel", t) not in requires:
            fail("__requires lacks panel %s" % t)
    exprs = []
    for p in panels:
        if p.get("type") == "row":
            continue
        where = "panel %r" % p.get("title")
        if "gridPos" not in p:
            fail("%s: no gridPos" % where)
        if (p.get("datasource") or {}).get("uid") != "${datasource}":
            fail("%s: must use the ${datasource} data source" % where)
        targets = p.get("targets") or []
        if not targets:
            fail("%s: no queries" % where)
        for t in targets:
            if (t.get("datasource") or {}).get("uid") != "${datasource}":
                fail("%s: query %s must use the ${datasource} data source" % (where, t.get("refId")))
            expr = t.get("expr", "")
            if not expr.strip():
                fail("%s: query %s has no expr" % (where, t.get("refId")))
                continue
            check_selectors(where, expr)
            for rec in re.findall(r"\b(dcs:[a-z0-9_:]+)", expr):
                if rec not in recorded:
                    fail("%s: recording rule %s is not defined in %s" % (where, rec, rules_file))
            exprs.append((where, expr))
    for a in dash.get("annotations", {}).get("list", []):
        if a.get("expr"):
            exprs.append(("annotation %r" % a.get("name"), a["expr"]))
    exprs.extend(var_exprs)

    # --- PromQL, checked by promtool
    rules = []
    for i, (where, expr) in enumerate(exprs):
        rules.append({"record": "dashboard_query_%d" % i, "expr": substitute(expr, variables)})
    with open(out_file, "w", encoding="utf-8") as f:
        # JSON is valid YAML.
        json.dump({"groups": [{"name": "dashboard-queries", "rules": rules}]}, f, indent=2)

    for e in errors:
        print("FAIL " + e)
    if errors:
        return 1
    print("ok   %s: %d panels, %d PromQL expressions written to %s" % (dash_file, len(panels), len(rules), out_file))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
