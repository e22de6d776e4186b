//go:build e2e

package e2e

// e2e_rules_test.go makes the end-to-end test run without the recording
// rules, which users may leave out (the chart's
// prometheusRule.recordingRules=false): it keeps only the alerting rules of
// the shipped rule file, fails if an alert reads a recorded series, and
// proves that Prometheus ended up with no recorded series at all.

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// alertingRulesOnly removes every recording rule, and every group left
// empty, from a Prometheus rule file. It returns the rest of the file and
// the names the removed rules recorded, and fails if an alert reads one of
// those names: such an alert would silently never fire without them.
func alertingRulesOnly(rules string) (string, []string, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(rules), &doc); err != nil {
		return "", nil, err
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		return "", nil, errors.New("not a single YAML document")
	}
	groups := mappingValue(doc.Content[0], "groups")
	if groups == nil || groups.Kind != yaml.SequenceNode {
		return "", nil, errors.New("no list of groups")
	}
	type alert struct{ name, expr string }
	var recorded []string
	var alerts []alert
	var keptGroups []*yaml.Node
	for _, g := range groups.Content {
		rs := mappingValue(g, "rules")
		if rs == nil || rs.Kind != yaml.SequenceNode {
			return "", nil, fmt.Errorf("line %d: a group without a list of rules", g.Line)
		}
		var kept []*yaml.Node
		for _, r := range rs.Content {
			expr := mappingValue(r, "expr")
			if expr == nil {
				return "", nil, fmt.Errorf("line %d: a rule without expr", r.Line)
			}
			if rec := mappingValue(r, "record"); rec != nil {
				recorded = append(recorded, rec.Value)
				continue
			}
			name := mappingValue(r, "alert")
			if name == nil {
				return "", nil, fmt.Errorf("line %d: a rule that neither records nor alerts", r.Line)
			}
			alerts = append(alerts, alert{name.Value, expr.Value})
			kept = append(kept, r)
		}
		if len(kept) > 0 {
			rs.Content = kept
			keptGroups = append(keptGroups, g)
		}
	}
	if len(alerts) == 0 {
		return "", nil, errors.New("no alerting rules")
	}
	groups.Content = keptGroups

	var problems []string
	for _, a := range alerts {
		for _, name := range recorded {
			if readsMetric(a.expr, name) {
				problems = append(problems, fmt.Sprintf("alert %s reads the recorded series %s", a.name, name))
			}
		}
	}
	if len(problems) > 0 {
		return "", nil, fmt.Errorf("the alerts depend on the optional recording rules:\n  %s", strings.Join(problems, "\n  "))
	}

	var out bytes.Buffer
	enc := yaml.NewEncoder(&out)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return "", nil, err
	}
	if err := enc.Close(); err != nil {
		return "", nil, err
	}
	return out.String(), recorded, nil
}

// mappingValue is the value of a key in a YAML mapping, or nil.
func mappingValue(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// readsMetric says whether a PromQL expression names the metric, as a
// selector or in a __name__ matcher (a metric name is made of letters,
// digits, underscores and colons, so any other character ends it).
func readsMetric(expr, name string) bool {
	re := regexp.MustCompile(`(^|[^a-zA-Z0-9_:])` + regexp.QuoteMeta(name) + `($|[^a-zA-Z0-9_:])`)
	return re.MatchString(expr)
}

// checkNoRecordedSeries requires that Prometheus loaded only alerting rules
// and never held a recorded series: neither one of the names the shipped
// recording rules record nor any name with a colon, which by Prometheus'
// naming convention only recording rules produce. It runs after the
// dashboard check, so that the dashboard provably got its data without them.
func (e *e2e) checkNoRecordedSeries(recorded []string) {
	t := e.t
	t.Helper()
	groups := e.ruleGroups()
	if len(groups) == 0 {
		t.Error("Prometheus loaded no rule group")
	}
	for _, g := range groups {
		for _, r := range g.Rules {
			if r.Type != "alerting" {
				t.Errorf("group %s has a %s rule %s; only alerting rules should be loaded", g.Name, r.Type, r.Name)
			}
		}
	}
	names := []string{".*:.*"}
	for _, n := range recorded {
		names = append(names, regexp.QuoteMeta(n))
	}
	// Prometheus started with an empty database less than an hour ago.
	q := fmt.Sprintf(`count_over_time({__name__=~%q}[1h])`, strings.Join(names, "|"))
	if r := e.query(q); r.err != "" || len(r.samples) > 0 {
		t.Errorf("recorded series exist in Prometheus: %s\n  query: %s", r, q)
	}
}

// promRuleGroup is one group of Prometheus' /api/v1/rules.
type promRuleGroup struct {
	Name  string `json:"name"`
	Rules []struct {
		Name string `json:"name"`
		Type string `json:"type"` // alerting or recording
	} `json:"rules"`
	LastEvaluation string `json:"lastEvaluation"` // RFC 3339, when the last evaluation started
}

// ruleGroups returns the rule groups Prometheus has loaded.
func (e *e2e) ruleGroups() []promRuleGroup {
	e.t.Helper()
	var ans struct {
		Status string `json:"status"`
		Data   struct {
			Groups []promRuleGroup `json:"groups"`
		} `json:"data"`
	}
	e.getJSON(e.prom.url("/api/v1/rules"), &ans)
	if ans.Status != "success" {
		e.t.Fatalf("/api/v1/rules: status %q", ans.Status)
	}
	return ans.Data.Groups
}

func TestAlertingRulesOnly(t *testing.T) {
	const rules = `groups:
  - name: recording
    interval: 1m
    rules:
      - record: job:up:sum
        expr: sum by (job) (up)
  - name: mixed
    rules:
      - record: job:up:max
        expr: max by (job) (up)
      - alert: Down
        expr: up == 0
        for: 5m
        labels: {severity: warning}
  - name: alerts
    rules:
      # job:up:sumx is another name than job:up:sum.
      - alert: FewUp
        expr: |
          job:up:sumx < 2 or __ALERT_READS__
        annotations: {summary: "few up"}
`
	out, recorded, err := alertingRulesOnly(strings.ReplaceAll(rules, "__ALERT_READS__", "vector(0)"))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"job:up:sum", "job:up:max"}; !slices.Equal(recorded, want) {
		t.Errorf("recorded %v, want %v", recorded, want)
	}
	for _, gone := range []string{"record:", "name: recording", "interval: 1m"} {
		if strings.Contains(out, gone) {
			t.Errorf("%q left in:\n%s", gone, out)
		}
	}
	for _, kept := range []string{"name: mixed", "alert: Down", "for: 5m", "severity: warning", "name: alerts", "alert: FewUp", `summary: "few up"`} {
		if !strings.Contains(out, kept) {
			t.Errorf("%q lost:\n%s", kept, out)
		}
	}

	for _, reads := range []string{"job:up:sum", `{__name__="job:up:max"}`, "sum(job:up:max)"} {
		_, _, err := alertingRulesOnly(strings.ReplaceAll(rules, "__ALERT_READS__", reads))
		if err == nil || !strings.Contains(err.Error(), "alert FewUp reads the recorded series") {
			t.Errorf("an alert reading %s: error %v", reads, err)
		}
	}
}
