//go:build e2e

package e2e

// e2e_topology_test.go runs the topology and backup alerts on Prometheus 3:
// the built exporter walks the nodes and reads the backups of a listed
// fleet in the fake API, Prometheus loads the shipped alerting rules with
// short durations, and a failed replica and a failed backup must fire
// DCSNodeInactive and DCSBackupFailed, while DCSBackupStale stays silent
// for an instance without backups.

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dcs-exporter/dcs_exporter/dcsapi/dcsapitest"
)

// topologyPrometheusConfig scrapes the exporter and evaluates the rules
// every second; no Alertmanager: a firing alert is what the rules decide.
const topologyPrometheusConfig = `global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files:
  - %q
scrape_configs:
  - job_name: dcs
    static_configs:
      - targets: [%q]
        labels: {cluster: e2e}
`

func TestE2ETopologyAlerts(t *testing.T) {
	prometheusBin := pinnedTool(t, "prometheus")
	promtool := pinnedTool(t, "promtool")
	start := time.Now()
	dir := t.TempDir()
	e := &e2e{t: t, dir: dir, client: newLoopbackClient()}

	// Every backup is read every 3 s rather than every hour.
	h := newHarness(e, "--dcs.refresh-interval=1s", "--dcs.instances-refresh-interval=1s", "--dcs.backups-interval=3s")
	fleet := dcsapitest.SampleFleet(12)
	var picked []dcsapitest.Instance
	for i := range fleet {
		in := &fleet[i]
		if in.Status == "RUNNING" && dcsapitest.NodesCovered(*in) && dcsapitest.BackupsScheduled(*in) && len(picked) < 3 {
			// Maintenance windows hours away from now: the node alert is
			// silent inside one.
			now := time.Now().UTC()
			in.MaintainBegin, in.MaintainEnd = now.Add(2*time.Hour).Format(time.TimeOnly), now.Add(3*time.Hour).Format(time.TimeOnly)
			picked = append(picked, *in)
		}
	}
	if len(picked) < 3 {
		t.Fatalf("the sample fleet has %d running Redis instances with nodes and backups, want 3", len(picked))
	}
	failedNode, failedBackup, noBackups := picked[0], picked[1], picked[2]
	h.fake.AddProject("cn-east-3", projectFleet)
	h.fake.SetInstances(projectFleet, fleet)
	h.fake.SetBackupsDisabled(projectFleet, noBackups.ID, true)
	h.writeConfig(h.configText("  - name: fleet\n    region: cn-east-3\n    project_id: " + projectFleet +
		"\n    instances: true\n    nodes: true\n    backups: true\n"))
	if code, body := h.post("/-/reload"); code != 200 {
		t.Fatalf("adding the fleet target: HTTP %d: %s", code, body)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("last lines of the exporter log:\n%s", lastLines(h.proc.logText(), 30))
		}
	})

	rulesPath, _ := writeShortAlertingRules(t, promtool, dir)
	promConfig := filepath.Join(dir, "prometheus.yml")
	writeFile(t, promConfig, fmt.Sprintf(topologyPrometheusConfig, rulesPath, h.proc.host))
	runTool(t, promtool, "check", "config", promConfig)
	e.prom = e.startDaemon("prometheus", func(port int) []string {
		return []string{prometheusBin, "--config.file=" + promConfig, "--storage.tsdb.path=" + filepath.Join(dir, "prometheus-data"),
			"--web.listen-address=" + loopback(port), "--log.level=info", "--scrape.discovery-reload-interval=1s"}
	})

	// Everything read once, before anything breaks: the instance without
	// backups is read too (it has the in-progress series), and has no
	// success to be stale from.
	e.waitQuery(`dcs_nodes_up{target="fleet"} == 1`, e2eScrapeTimeout)
	e.waitQuery(`dcs_backups_up{target="fleet"} == 1`, e2eScrapeTimeout)
	e.waitQuery(`dcs_instance_backup_in_progress{instance_id="`+noBackups.ID+`"}`, e2eScrapeTimeout)
	e.waitQuery(`dcs_instance_backup_last_success_timestamp_seconds{instance_id="`+failedBackup.ID+`"}`, e2eScrapeTimeout)
	if r := e.query(`dcs_instance_backup_last_success_timestamp_seconds{instance_id="` + noBackups.ID + `"}`); len(r.samples) != 0 {
		t.Fatalf("an instance without backups has a last success: %s", r)
	}
	for _, alert := range []string{"DCSNodeInactive", "DCSBackupFailed"} {
		if r := e.query(`ALERTS{alertname="` + alert + `"}`); len(r.samples) != 0 {
			t.Fatalf("%s is active before anything failed: %s", alert, r)
		}
	}
	t.Logf("nodes and backups scraped after %v", time.Since(start).Round(time.Millisecond))

	// A replica fails and a backup fails.
	h.fake.SetNodeStatus(projectFleet, failedNode.ID, 0, 1, "Inactive")
	h.fake.FailBackups(projectFleet, failedBackup.ID, "dcs.08.0002")
	injected := time.Now()
	r := e.waitQuery(`ALERTS{alertname="DCSNodeInactive",alertstate="firing",instance_id="`+failedNode.ID+`",node_type="slave",severity="warning"}`, e2eAlertTimeout)
	t.Logf("DCSNodeInactive fired %v after the node failed: %s", time.Since(injected).Round(time.Millisecond), r)
	r = e.waitQuery(`ALERTS{alertname="DCSBackupFailed",alertstate="firing",instance_id="`+failedBackup.ID+`",error_code="dcs.08.0002",severity="warning"}`, e2eAlertTimeout)
	t.Logf("DCSBackupFailed fired %v after the backup failed: %s", time.Since(injected).Round(time.Millisecond), r)

	// Only those instances, and DCSBackupStale for none: the instance
	// without backups was read all along.
	for alert, id := range map[string]string{"DCSNodeInactive": failedNode.ID, "DCSBackupFailed": failedBackup.ID} {
		if r := e.query(`ALERTS{alertname="` + alert + `",instance_id!="` + id + `"}`); len(r.samples) != 0 {
			t.Errorf("%s for another instance: %s", alert, r)
		}
	}
	e.waitQuery(`dcs_instance_backup_in_progress{instance_id="`+noBackups.ID+`"}`, 0)
	if r := e.query(`count_over_time(ALERTS{alertname="DCSBackupStale"}[10m])`); len(r.samples) != 0 {
		t.Errorf("DCSBackupStale is or was active: %s", r)
	}
	// The rule is loaded and evaluates without error.
	found := false
	for _, g := range e.ruleGroups() {
		for _, rule := range g.Rules {
			found = found || rule.Name == "DCSBackupStale"
		}
	}
	if !found {
		t.Error("Prometheus did not load DCSBackupStale")
	}
	// The node and backup series pass promtool's checks of the format and
	// the naming conventions.
	code, body := h.get("/metrics")
	if code != 200 || !strings.Contains(body, "dcs_node_info{") || !strings.Contains(body, "dcs_instance_backup_last_failure_timestamp_seconds{") {
		t.Fatalf("/metrics: HTTP %d without the node and backup series", code)
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(body)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
	t.Logf("topology end-to-end test done in %v", time.Since(start).Round(time.Millisecond))
}
