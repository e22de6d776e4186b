// Command dashcheck checks the Grafana dashboard and the alerting rules of
// dcs_exporter without Grafana, Python or a running Prometheus.
//
// The dashboard is decoded strictly into the dashboard types of the Grafana
// Foundation SDK (unknown or mistyped fields are errors) and every query is
// parsed with Prometheus' own PromQL parser after the dashboard's variables
// are substituted the way Grafana would at a 60 s scrape interval, so that a
// rate over a window too short for two samples (an empty panel) is caught.
// The rules are parsed with Prometheus' rule parser; every alert must have a
// severity, a summary, a description that names its labels, and a
// runbook_url pointing to an existing section of the runbook.
//
// Usage:
//
//	dashcheck -dashboard dashboards/dcs-overview.json [-queries-out FILE]
//	          -rules deploy/prometheus/dcs-alerts.yml -runbook deploy/runbook.md
//
// -queries-out writes every dashboard query as a recording rule, so that
// `promtool check rules FILE` parses them once more with the promtool in use.
// It prints one line per check and per problem, and exits 1 on any problem.
package main

import (
	"flag"
	"fmt"
	"os"
)

func main() {
	dashboardFile := flag.String("dashboard", "", "Grafana dashboard JSON to check")
	queriesOut := flag.String("queries-out", "", "write the dashboard's queries as a rule file here")
	rulesFile := flag.String("rules", "", "Prometheus rule file whose alerts to check")
	runbookFile := flag.String("runbook", "", "runbook (Markdown) that runbook URLs and dashboard links point into")
	flag.Parse()
	if flag.NArg() > 0 || (*dashboardFile == "" && *rulesFile == "") {
		fmt.Fprintln(os.Stderr, "usage: dashcheck [-dashboard FILE [-queries-out FILE]] [-rules FILE] [-runbook FILE]")
		os.Exit(2)
	}

	var rb *runbook
	if *runbookFile != "" {
		text, err := os.ReadFile(*runbookFile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "dashcheck:", err)
			os.Exit(1)
		}
		rb = parseRunbook(string(text))
	}

	problems := 0
	report := func(file string, errs []error, okLine string) {
		for _, err := range errs {
			fmt.Printf("FAIL %s: %v\n", file, err)
		}
		problems += len(errs)
		if len(errs) == 0 {
			fmt.Printf("ok   %s: %s\n", file, okLine)
		}
	}

	if *dashboardFile != "" {
		res, errs := checkDashboardFile(*dashboardFile, rb)
		if len(errs) == 0 && *queriesOut != "" {
			if err := os.WriteFile(*queriesOut, queriesAsRules(res.queries), 0o644); err != nil {
				errs = append(errs, err)
			}
		}
		report(*dashboardFile, errs, fmt.Sprintf("%d panels, %d queries", res.panels, len(res.queries)))
	}
	if *rulesFile != "" {
		n, errs := checkRulesFile(*rulesFile, rb)
		report(*rulesFile, errs, fmt.Sprintf("%d alerting rules", n))
	}
	if problems > 0 {
		fmt.Printf("dashcheck: %d problem(s)\n", problems)
		os.Exit(1)
	}
}
