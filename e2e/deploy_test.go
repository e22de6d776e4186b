//go:build e2e

package e2e

import (
	"os"
	"os/exec"
	"testing"
)

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
