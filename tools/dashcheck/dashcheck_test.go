package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const (
	shippedDashboard = "../../dashboards/dcs-overview.json"
	shippedRules     = "../../deploy/prometheus/dcs-alerts.yml"
	shippedRunbook   = "../../deploy/runbook.md"
)

func loadRunbook(t *testing.T) *runbook {
	t.Helper()
	text, err := os.ReadFile(shippedRunbook)
	if err != nil {
		t.Fatal(err)
	}
	return parseRunbook(string(text))
}

func readFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func joinErrors(errs []error) string {
	lines := make([]string, len(errs))
	for i, e := range errs {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

func TestShippedDashboardPasses(t *testing.T) {
	res, errs := checkDashboard(readFile(t, shippedDashboard), loadRunbook(t))
	if len(errs) > 0 {
		t.Fatalf("the shipped dashboard has problems:\n%s", joinErrors(errs))
	}
	// Guards against a decoder that silently drops panels or queries.
	if res.panels < 15 || len(res.queries) < 25 {
		t.Fatalf("found %d panels and %d queries; the dashboard has more", res.panels, len(res.queries))
	}
}

// editDashboard decodes the shipped dashboard, lets edit change it, and
// encodes it again.
func editDashboard(t *testing.T, edit func(d map[string]any)) []byte {
	t.Helper()
	var d map[string]any
	if err := json.Unmarshal(readFile(t, shippedDashboard), &d); err != nil {
		t.Fatal(err)
	}
	edit(d)
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// panelByTitle finds a top-level panel of the decoded dashboard.
func panelByTitle(t *testing.T, d map[string]any, title string) map[string]any {
	t.Helper()
	for _, p := range d["panels"].([]any) {
		if pm := p.(map[string]any); pm["title"] == title {
			return pm
		}
	}
	t.Fatalf("test bug: no panel %q", title)
	return nil
}

func firstQuery(p map[string]any) map[string]any {
	return p["targets"].([]any)[0].(map[string]any)
}

func variable(t *testing.T, d map[string]any, name string) map[string]any {
	t.Helper()
	for _, v := range d["templating"].(map[string]any)["list"].([]any) {
		if vm := v.(map[string]any); vm["name"] == name {
			return vm
		}
	}
	t.Fatalf("test bug: no variable %s", name)
	return nil
}

// replaceInExpr edits the first query of a panel, failing if old is not in it.
func replaceInExpr(t *testing.T, d map[string]any, title, old, new string) {
	t.Helper()
	q := firstQuery(panelByTitle(t, d, title))
	expr := q["expr"].(string)
	if !strings.Contains(expr, old) {
		t.Fatalf("test bug: %q not in the query of %q: %s", old, title, expr)
	}
	q["expr"] = strings.Replace(expr, old, new, 1)
}

func TestDashboardProblemsAreFound(t *testing.T) {
	const apiPanel = "Cloud API requests by API and status code"
	cases := []struct {
		name string
		edit func(t *testing.T, d map[string]any)
		want string
	}{
		{"unknown panel field", func(t *testing.T, d map[string]any) {
			panelByTitle(t, d, "Running")["colour"] = "red"
		}, "unexpected field 'colour'"},
		{"unknown query field", func(t *testing.T, d map[string]any) {
			firstQuery(panelByTitle(t, d, "Running"))["exprr"] = "1"
		}, "unexpected field 'exprr'"},
		{"stat option missing", func(t *testing.T, d map[string]any) {
			delete(panelByTitle(t, d, "Running")["options"].(map[string]any), "percentChangeColorMode")
		}, "percentChangeColorMode: required field is missing"},
		{"unknown top-level field", func(t *testing.T, d map[string]any) { d["refreshh"] = "1m" }, "unexpected field 'refreshh'"},
		{"unknown export field", func(t *testing.T, d map[string]any) { d["__imports"] = []any{} }, `unknown field "__imports"`},
		{"rate without a min interval", func(t *testing.T, d map[string]any) {
			delete(panelByTitle(t, d, apiPanel), "interval")
		}, "rate over 1m holds fewer than two samples at a 1m scrape"},
		{"counts summed", func(t *testing.T, d map[string]any) {
			replaceInExpr(t, d, "Running", "max by", "sum by")
		}, "dcs_instances is a count that two scrapes of one target both report"},
		{"recording rule", func(t *testing.T, d map[string]any) {
			firstQuery(panelByTitle(t, d, "Running"))["expr"] = `sum(dcs:instances:max{target=~"$target"})`
		}, "reads the recording rule dcs:instances:max"},
		{"no target filter", func(t *testing.T, d map[string]any) {
			replaceInExpr(t, d, "Running", `target=~"$target", `, "")
		}, `selector of dcs_instances does not filter on target=~"$target"`},
		{"no cluster filter", func(t *testing.T, d map[string]any) {
			replaceInExpr(t, d, "Running", `cluster=~"$cluster", `, "")
		}, `selector of dcs_instances does not filter on cluster=~"$cluster"`},
		{"unknown variable", func(t *testing.T, d map[string]any) {
			replaceInExpr(t, d, "Running", `$target`, "$tenant")
		}, "unknown variable $tenant"},
		{"PromQL error", func(t *testing.T, d map[string]any) {
			firstQuery(panelByTitle(t, d, "Running"))["expr"] = `sum(dcs_up{target=~"$target"}`
		}, "PromQL does not parse"},
		{"fixed data source", func(t *testing.T, d map[string]any) {
			panelByTitle(t, d, "Running")["datasource"] = map[string]any{"type": "prometheus", "uid": "P1809F7CD0C75ACF3"}
		}, `panel "Running": must use the ${datasource} data source`},
		{"no description", func(t *testing.T, d map[string]any) {
			delete(panelByTitle(t, d, "Running"), "description")
		}, `panel "Running": no description`},
		{"runbook section missing", func(t *testing.T, d map[string]any) {
			l := panelByTitle(t, d, "Error")["links"].([]any)[0].(map[string]any)
			l["url"] = runbookURL + "#dcsnosuchalert"
		}, "the runbook has no section #dcsnosuchalert"},
		{"no runbook link", func(t *testing.T, d map[string]any) { d["links"] = []any{} }, "no link to the runbook"},
		{"cluster variable missing", func(t *testing.T, d map[string]any) {
			tl := d["templating"].(map[string]any)
			var kept []any
			for _, v := range tl["list"].([]any) {
				if v.(map[string]any)["name"] != "cluster" {
					kept = append(kept, v)
				}
			}
			tl["list"] = kept
		}, "variable cluster is missing"},
		{"All is not .*", func(t *testing.T, d map[string]any) { delete(variable(t, d, "cluster"), "allValue") }, "All must stand for .*"},
		{"id set", func(t *testing.T, d map[string]any) { d["id"] = 7 }, "id must be null"},
		{"panel type not required", func(t *testing.T, d map[string]any) {
			var kept []any
			for _, r := range d["__requires"].([]any) {
				if r.(map[string]any)["id"] != "table" {
					kept = append(kept, r)
				}
			}
			d["__requires"] = kept
		}, "__requires lacks panel table"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			data := editDashboard(t, func(d map[string]any) { tc.edit(t, d) })
			_, errs := checkDashboard(data, loadRunbook(t))
			if got := joinErrors(errs); !strings.Contains(got, tc.want) {
				t.Fatalf("want a problem containing %q, got:\n%s", tc.want, got)
			}
		})
	}
}

func TestDuplicateKeysAreFound(t *testing.T) {
	data := string(readFile(t, shippedDashboard))
	const uid = `"uid": "dcs-exporter-overview"`
	if !strings.Contains(data, uid) {
		t.Fatal("test bug: uid line not found")
	}
	data = strings.Replace(data, uid, uid+`, "uid": "other"`, 1)
	_, errs := checkDashboard([]byte(data), nil)
	if got := joinErrors(errs); !strings.Contains(got, `duplicate key "uid" at $`) {
		t.Fatalf("duplicate uid not reported:\n%s", got)
	}
}

func TestRateIntervalFollowsGrafana(t *testing.T) {
	for _, tc := range []struct{ min, want time.Duration }{
		{0, 60 * time.Second}, // Grafana's default: 4 x the 15 s scrape setting
		{time.Minute, 75 * time.Second},
		{2 * time.Minute, 135 * time.Second},
	} {
		if got := rateInterval(tc.min); got != tc.want {
			t.Errorf("rateInterval(%v) = %v, want %v", tc.min, got, tc.want)
		}
	}
}

func TestMarkdownHeadings(t *testing.T) {
	text := "# Title\n\n## DCSTargetDown\n\n```sh\n# not a heading\n```\n### What: it is (really)\n## DCSTargetDown\n#nospace\n"
	var got []string
	for _, h := range markdownHeadings(text) {
		got = append(got, h.anchor)
	}
	want := []string{"title", "dcstargetdown", "what-it-is-really", "dcstargetdown-1"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("anchors %v, want %v", got, want)
	}
}

func TestShippedRulesPass(t *testing.T) {
	n, errs := checkRulesFile(shippedRules, loadRunbook(t))
	if len(errs) > 0 {
		t.Fatalf("the shipped rules have problems:\n%s", joinErrors(errs))
	}
	if n < 15 {
		t.Fatalf("found %d alerting rules", n)
	}
}

const goodRule = `groups:
  - name: g
    rules:
      - alert: DCSTargetDown
        expr: max by (target) (dcs_up) == 0
        for: 5m
        labels:
          severity: warning
        annotations:
          summary: down
          description: "{{ $labels.target }} is down"
          runbook_url: "https://github.com/dcs-exporter/dcs_exporter/blob/main/deploy/runbook.md#dcstargetdown"
`

func TestRuleProblemsAreFound(t *testing.T) {
	rb := parseRunbook("## DCSTargetDown\n## DCSGone\n")
	cases := []struct{ name, old, new, want string }{
		{"good", "", "", "the runbook has a section for DCSGone, which is no alert"},
		{"no runbook_url", "          runbook_url:", "          runbook:", "no runbook_url annotation"},
		{"wrong section", "#dcstargetdown", "#dcsdatastale", "should point to the alert's own section #dcstargetdown"},
		{"missing section", "#dcstargetdown", "#dcstargetup", "the runbook has no section #dcstargetup"},
		{"description without labels", `"{{ $labels.target }} is down"`, "down", "names none of the alert's labels"},
		{"bad severity", "severity: warning", "severity: page", `severity label is "page"`},
		{"job selector", "(dcs_up)", `(dcs_up{job="dcs"})`, "selects on the job label"},
		{"counts summed", "max by (target) (dcs_up) == 0", "sum by (target) (dcs_instances) > 0", "dcs_instances is a count"},
		{"short rate", "max by (target) (dcs_up) == 0", "rate(dcs_api_requests_total[1m]) > 0", "rate over 1m holds fewer than two samples"},
		{"recording rule in an alert", "max by (target) (dcs_up) == 0", "dcs:instances:max > 0", "reads the recording rule"},
		{"unknown field", "        for: 5m", "        for: 5m\n        fore: 5m", "field fore not found"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(goodRule, tc.old) {
				t.Fatalf("test bug: %q not in the rule", tc.old)
			}
			file := filepath.Join(t.TempDir(), "rules.yml")
			if err := os.WriteFile(file, []byte(strings.Replace(goodRule, tc.old, tc.new, 1)), 0o644); err != nil {
				t.Fatal(err)
			}
			_, errs := checkRulesFile(file, rb)
			if got := joinErrors(errs); !strings.Contains(got, tc.want) {
				t.Fatalf("want a problem containing %q, got:\n%s", tc.want, got)
			}
		})
	}
}

func TestQueriesAsRulesSelectAll(t *testing.T) {
	out := string(queriesAsRules([]dashQuery{{expr: `rate(dcs_api_requests_total{target=~"$target"}[$__rate_interval])`, minInterval: 2 * time.Minute}}))
	if !strings.Contains(out, `rate(dcs_api_requests_total{target=~\".*\"}[2m15s])`) {
		t.Fatalf("queries not substituted as expected:\n%s", out)
	}
}
