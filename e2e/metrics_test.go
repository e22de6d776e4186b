//go:build e2e

package e2e

import (
	"net/http"
	"os/exec"
	"strings"
	"testing"
)

// TestMetricsPassPromtool feeds the built program's /metrics, as the root
// package's TestMetricsEndToEnd gets it, to the pinned promtool.
func TestMetricsPassPromtool(t *testing.T) {
	promtool := pinnedTool(t, "promtool")
	e := &e2e{t: t, dir: t.TempDir(), client: newLoopbackClient()}
	h := newHarness(e)
	code, body := h.get("/metrics")
	if code != http.StatusOK {
		t.Fatalf("HTTP %d: %s", code, body)
	}
	if !strings.Contains(body, `dcs_up{target="staging"`) {
		t.Fatalf("/metrics lacks the targets' series:\n%s", body)
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(body)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}
