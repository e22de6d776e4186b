package e2e

// The shipped deployment files checked without any external tool: the
// chart's copy of the rules and the dashboard's import metadata. The checks
// that need promtool and helm are in deploy_test.go (make e2e).

import (
	"bytes"
	"encoding/json"
	"os"
	"testing"
)

// TestRuleCopiesAreIdentical keeps the chart's copy of the rules from
// drifting from the single source.
func TestRuleCopiesAreIdentical(t *testing.T) {
	source, err := os.ReadFile("deploy/prometheus/dcs-alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	copied, err := os.ReadFile("deploy/helm/dcs-exporter/files/dcs-alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(source, copied) {
		t.Fatal("deploy/helm/dcs-exporter/files/dcs-alerts.yml differs from deploy/prometheus/dcs-alerts.yml: copy the source over it")
	}
}

// TestDashboardIsImportable checks what grafana.com's import needs without
// any tool: valid JSON with __inputs and __requires.
func TestDashboardIsImportable(t *testing.T) {
	data, err := os.ReadFile("dashboards/dcs-overview.json")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Inputs   []map[string]any `json:"__inputs"`
		Requires []map[string]any `json:"__requires"`
		Panels   []map[string]any `json:"panels"`
	}
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatalf("dashboard is not valid JSON: %v", err)
	}
	if len(d.Inputs) == 0 || len(d.Requires) == 0 || len(d.Panels) == 0 {
		t.Fatalf("dashboard lacks __inputs, __requires or panels")
	}
}
