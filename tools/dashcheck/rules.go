// rules.go checks the alerting rules: their labels and annotations, their
// runbook sections, and the PromQL conventions shared with the dashboard.
package main

import (
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
)

var severities = []string{"info", "warning", "critical"}

// checkRulesFile returns the number of alerting rules and every problem.
// With a runbook, every runbook_url must name one of its sections and every
// alert section of the runbook must belong to an alert.
func checkRulesFile(file string, rb *runbook) (int, []error) {
	groups, errs := rulefmt.ParseFile(file, false, model.LegacyValidation, promqlParser, slog.New(slog.DiscardHandler))
	if len(errs) > 0 {
		return 0, errs
	}
	return checkRuleGroups(groups, rb)
}

func checkRuleGroups(groups *rulefmt.RuleGroups, rb *runbook) (int, []error) {
	var errs []error
	alerts := map[string]bool{}
	n := 0
	for _, g := range groups.Groups {
		for _, r := range g.Rules {
			expr, err := promqlParser.ParseExpr(r.Expr)
			if err != nil {
				errs = append(errs, fmt.Errorf("group %s: %w", g.Name, err))
				continue
			}
			name := r.Record
			if r.Alert != "" {
				name = r.Alert
			}
			fail := func(format string, args ...any) {
				errs = append(errs, fmt.Errorf("%s: "+format, append([]any{name}, args...)...))
			}
			for _, e := range exprProblems(expr, exprRules{allowRecorded: r.Record != "", countsNeedMax: true}) {
				fail("%v", e)
			}
			parser.Inspect(expr, func(node parser.Node, _ []parser.Node) error {
				if vs, ok := node.(*parser.VectorSelector); ok && slices.ContainsFunc(vs.LabelMatchers, func(m *labels.Matcher) bool { return m.Name == "job" }) {
					fail("selects on the job label (%s); scrape jobs are named differently everywhere", vs)
				}
				return nil
			})
			if r.Alert == "" {
				continue
			}
			n++
			alerts[r.Alert] = true
			if !slices.Contains(severities, r.Labels["severity"]) {
				fail("severity label is %q, want one of %v", r.Labels["severity"], severities)
			}
			for _, key := range []string{"summary", "description", "runbook_url"} {
				if strings.TrimSpace(r.Annotations[key]) == "" {
					fail("no %s annotation", key)
				}
			}
			if d := r.Annotations["description"]; d != "" && !strings.Contains(d, "$labels.") {
				fail("the description names none of the alert's labels")
			}
			url := r.Annotations["runbook_url"]
			if !strings.HasPrefix(url, runbookURL+"#") {
				fail("runbook_url %q does not point to a section of %s", url, runbookURL)
			} else if want := strings.ToLower(r.Alert); !strings.HasSuffix(url, "#"+want) {
				fail("runbook_url %q should point to the alert's own section #%s", url, want)
			}
			errs = append(errs, checkRunbookLink(r.Alert, url, rb)...)
		}
	}
	// Every alert section of the runbook belongs to an alert that exists.
	if rb == nil {
		return n, errs
	}
	for _, h := range rb.headings {
		if h.level == 2 && strings.HasPrefix(h.text, "DCS") && !alerts[h.text] {
			errs = append(errs, fmt.Errorf("the runbook has a section for %s, which is no alert", h.text))
		}
	}
	return n, errs
}
