package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
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

// TestDeployChecks runs deploy/check.sh: promtool check and test of the
// rules, the alerts' runbook sections, the dashboard (tools/dashcheck),
// helm lint, and the chart's renderings checked against the Kubernetes API
// types (tools/k8scheck), all with the pinned promtool and helm.
func TestDeployChecks(t *testing.T) {
	promtool, helm := pinnedTool(t, "promtool"), pinnedTool(t, "helm")
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Fatalf("deploy/check.sh needs bash: %v", err)
	}
	cmd := exec.Command(bash, "deploy/check.sh")
	cmd.Env = append(os.Environ(), "HELM="+helm, "PROMTOOL="+promtool)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("deploy/check.sh failed: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}
