// queries.go substitutes Grafana's variables in the dashboard's queries the
// way Grafana would, parses them with Prometheus' PromQL parser and checks
// what the exporter's metrics need: filters on the variables, windows long
// enough for a 60 s scrape, counts deduplicated with max, and no recording
// rules.
package main

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
)

const (
	// scrapeInterval is how often Prometheus scrapes the exporter in the
	// setups the dashboard and rules are written for (the chart's default).
	scrapeInterval = 60 * time.Second
	// grafanaScrapeInterval is the data source's "Scrape interval" setting
	// as Grafana assumes it when it is left empty, which is the usual case.
	grafanaScrapeInterval = 15 * time.Second
	// dashboardRange stands for $__range.
	dashboardRange = time.Hour
)

// globalMetrics are the exporter's own series, without the per-target labels.
var globalMetrics = []string{
	"dcs_exporter_build_info",
	"dcs_exporter_config_last_reload_successful",
	"dcs_exporter_config_last_reload_success_timestamp_seconds",
	"dcs_exporter_refresh_interval_seconds",
	"dcs_exporter_instances_refresh_interval_seconds",
}

// countMetrics are gauges that two exporters scraped for the same target
// (a rollout, two replicas) both report: they must be reduced with max,
// never summed, before anything else aggregates them.
var countMetrics = []string{"dcs_instances", "dcs_instances_all_engines", "dcs_instances_listing_mismatch", "dcs_instance_nodes",
	"dcs_quota_instances_limit", "dcs_quota_instances_used", "dcs_quota_memory_limit_bytes", "dcs_quota_memory_used_bytes"}

// twoSampleFunctions need at least two samples in their range; at a 60 s
// scrape their window must span two scrape intervals or the panel is empty.
var twoSampleFunctions = []string{"rate", "irate", "increase", "delta", "idelta", "deriv", "resets", "predict_linear"}

var promqlParser = parser.NewParser(parser.Options{})

// variableRE matches $var, ${var}, ${var:format} and [[var]].
var variableRE = regexp.MustCompile(`\$\{(\w+)(?::\w+)?\}|\[\[(\w+)(?::\w+)?\]\]|\$(\w+)`)

// placeholder stands for a filter variable while the query's structure is
// checked: a valid regular expression that names the variable.
func placeholder(name string) string { return "__var_" + name + "__" }

// rateInterval is $__rate_interval as Grafana computes it:
// max($__interval + scrape interval, 4 * scrape interval), where $__interval
// is at least the panel's min interval (or the scrape interval setting).
// With neither set that is 60 s, which at a 60 s scrape holds one sample.
func rateInterval(minInterval time.Duration) time.Duration {
	interval := max(minInterval, grafanaScrapeInterval)
	return max(interval+grafanaScrapeInterval, 4*grafanaScrapeInterval)
}

// builtins are Grafana's own variables for a query with that min interval.
func builtins(minInterval time.Duration) map[string]string {
	interval := max(minInterval, grafanaScrapeInterval)
	return map[string]string{
		"__rate_interval": model.Duration(rateInterval(minInterval)).String(),
		"__interval":      model.Duration(interval).String(),
		"__interval_ms":   fmt.Sprint(interval.Milliseconds()),
		"__range":         model.Duration(dashboardRange).String(),
		"__range_s":       fmt.Sprint(int64(dashboardRange.Seconds())),
		"__range_ms":      fmt.Sprint(dashboardRange.Milliseconds()),
	}
}

// substitute replaces Grafana's built-in variables by durations and the
// filter variables by value(name); unknown variables are returned.
func substitute(expr string, minInterval time.Duration, value func(name string) string) (string, []string) {
	b := builtins(minInterval)
	var unknown []string
	out := variableRE.ReplaceAllStringFunc(expr, func(m string) string {
		sub := variableRE.FindStringSubmatch(m)
		name := sub[1] + sub[2] + sub[3]
		if v, ok := b[name]; ok {
			return v
		}
		if slices.Contains(multiVars, name) {
			return value(name)
		}
		unknown = append(unknown, name)
		return m
	})
	return out, unknown
}

// checkQuery parses one dashboard query and checks it.
func checkQuery(q dashQuery) []error {
	var errs []error
	fail := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{q.where}, args...)...))
	}
	text, unknown := substitute(q.expr, q.minInterval, placeholder)
	for _, name := range unknown {
		fail("unknown variable $%s", name)
	}
	expr, err := promqlParser.ParseExpr(text)
	if err != nil {
		fail("PromQL does not parse: %v\n    query: %s", err, text)
		return errs
	}
	// A variable's selector only lists label values: nothing is counted.
	for _, e := range exprProblems(expr, exprRules{countsNeedMax: !q.variable}) {
		fail("%v", e)
	}
	if q.variable {
		return errs // the variables filter each other in a chain, not all ways
	}
	parser.Inspect(expr, func(node parser.Node, _ []parser.Node) error {
		vs, ok := node.(*parser.VectorSelector)
		if !ok {
			return nil
		}
		switch {
		case vs.Name == "ALERTS":
			if !hasVariableMatcher(vs, "target") {
				fail(`selector of ALERTS does not filter on target=~"$target": %s`, vs)
			}
		case strings.HasPrefix(vs.Name, "dcs_"):
			if !hasVariableMatcher(vs, "cluster") {
				fail(`selector of %s does not filter on cluster=~"$cluster": %s`, vs.Name, vs)
			}
			if !slices.Contains(globalMetrics, vs.Name) && !hasVariableMatcher(vs, "target") {
				fail(`selector of %s does not filter on target=~"$target": %s`, vs.Name, vs)
			}
		}
		return nil
	})
	return errs
}

// hasVariableMatcher reports whether vs filters label name on the variable
// of the same name, as name=~"$name".
func hasVariableMatcher(vs *parser.VectorSelector, name string) bool {
	return slices.ContainsFunc(vs.LabelMatchers, func(m *labels.Matcher) bool {
		return m.Name == name && m.Type == labels.MatchRegexp && m.Value == placeholder(name)
	})
}

// exprRules says which of exprProblems' checks apply.
type exprRules struct {
	allowRecorded bool // recording rules may build on recording rules
	countsNeedMax bool
}

// exprProblems are the checks shared by dashboard queries and rules: no
// recording rules, counts reduced with max first, and windows of
// two-sample functions that hold two samples at a 60 s scrape.
func exprProblems(expr parser.Expr, rules exprRules) []error {
	var errs []error
	_ = parser.Walk(inspector(func(node parser.Node, path []parser.Node) {
		switch n := node.(type) {
		case *parser.VectorSelector:
			if n.Name == "" {
				errs = append(errs, fmt.Errorf("selector %s does not name its metric", n))
			}
			if strings.Contains(n.Name, ":") && !rules.allowRecorded {
				errs = append(errs, fmt.Errorf("reads the recording rule %s; read the exporter's metrics, the recording rules are optional", n.Name))
			}
			if rules.countsNeedMax && slices.Contains(countMetrics, n.Name) {
				if agg := nearestAggregation(path); agg == nil || agg.Op != parser.MAX {
					errs = append(errs, fmt.Errorf("%s is a count that two scrapes of one target both report: reduce it with max by (...) first", n.Name))
				}
			}
		case *parser.Call:
			if !slices.Contains(twoSampleFunctions, n.Func.Name) {
				return
			}
			for _, arg := range n.Args {
				if ms, ok := unwrapParens(arg).(*parser.MatrixSelector); ok && ms.Range < 2*scrapeInterval {
					errs = append(errs, fmt.Errorf("%s over %s holds fewer than two samples at a %s scrape: the panel or alert stays empty",
						n.Func.Name, model.Duration(ms.Range), model.Duration(scrapeInterval)))
				}
			}
		}
	}), expr, nil)
	return errs
}

type inspector func(node parser.Node, path []parser.Node)

func (f inspector) Visit(node parser.Node, path []parser.Node) (parser.Visitor, error) {
	if node != nil {
		f(node, path)
	}
	return f, nil
}

// nearestAggregation is the innermost aggregation enclosing a node.
func nearestAggregation(path []parser.Node) *parser.AggregateExpr {
	for i := len(path) - 1; i >= 0; i-- {
		if agg, ok := path[i].(*parser.AggregateExpr); ok {
			return agg
		}
	}
	return nil
}

func unwrapParens(e parser.Expr) parser.Expr {
	for {
		p, ok := e.(*parser.ParenExpr)
		if !ok {
			return e
		}
		e = p.Expr
	}
}

// queriesAsRules writes the queries, with every filter variable at "All"
// (.*), as recording rules for `promtool check rules`. JSON is valid YAML.
func queriesAsRules(queries []dashQuery) []byte {
	type rule struct {
		Record string `json:"record"`
		Expr   string `json:"expr"`
	}
	rules := make([]rule, 0, len(queries))
	for i, q := range queries {
		text, _ := substitute(q.expr, q.minInterval, func(string) string { return ".*" })
		rules = append(rules, rule{Record: fmt.Sprintf("dashboard_query_%d", i), Expr: text})
	}
	out, _ := json.MarshalIndent(map[string]any{
		"groups": []any{map[string]any{"name": "dashboard-queries", "rules": rules}},
	}, "", "  ")
	return append(out, '\n')
}
