//go:build e2e

package e2e

// End-to-end test of fleet health (issue 20): the pinned Prometheus 3
// scrapes the built exporter with a target that reads the statistics and the
// quota, loads the shipped alerting rules with short durations, and must see
// the new series, fire DCSInstanceMemoryHigh for an instance at 95% outside
// its maintenance window, keep it silent for one at 95% inside its window,
// and answer every query of the dashboard's fleet-health row with data.

import (
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dcs-exporter/dcs_exporter/dcsapi/dcsapitest"
)

// fleetHealthPanels are the titles of the panels of the dashboard's
// fleet-health row.
var fleetHealthPanels = []string{"Memory use ratio (top 10 instances)", "Keys (top 10 instances)",
	"Network receive (top 10 instances)", "Network transmit (top 10 instances)", "Quota headroom"}

const fleetPrometheusConfig = `global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files:
  - %q
scrape_configs:
  - job_name: dcs
    static_configs:
      - targets: [%q]
`

func TestE2EFleetHealth(t *testing.T) {
	prometheusBin := pinnedTool(t, "prometheus")
	promtool := pinnedTool(t, "promtool")
	start := time.Now()
	dir := t.TempDir()
	e := &e2e{t: t, dir: dir, client: newLoopbackClient()}

	h := newHarness(e, e2eExporterFlags...)
	h.fake.AddProject("cn-east-3", projectFleet)
	fleet := dcsapitest.SampleFleet(25)
	// Two running instances at 95%: one outside its daily maintenance
	// window, one inside it, each window hours away from a boundary.
	window := func(from, to time.Duration) (string, string) {
		now := time.Now().UTC()
		return now.Add(from).Format(time.TimeOnly), now.Add(to).Format(time.TimeOnly)
	}
	var full []*dcsapitest.Instance
	for i := range fleet {
		if in := &fleet[i]; in.Status == "RUNNING" && len(full) < 2 {
			full = append(full, in)
		}
	}
	if len(full) < 2 {
		t.Fatalf("the sample fleet has %d running instances, want 2", len(full))
	}
	outside, inside := full[0], full[1]
	outside.MaintainBegin, outside.MaintainEnd = window(2*time.Hour, 3*time.Hour)
	inside.MaintainBegin, inside.MaintainEnd = window(-time.Hour, time.Hour)
	outside.Tags = []dcsapitest.Tag{{Key: "owner", Value: "team-memory"}}
	h.fake.SetInstances(projectFleet, fleet)
	for _, in := range full {
		h.fake.SetStatistic(projectFleet, in.ID, &dcsapitest.Statistic{Keys: 123456, UsedMemoryMB: 973, MaxMemoryMB: 1024,
			CmdGetCount: 1, CmdSetCount: 1, UsedCPU: "3.5", InputKbps: "80", OutputKbps: "160.5"})
	}
	h.fake.SetQuotaLimits(projectFleet, &dcsapitest.QuotaLimits{Instances: 40, MemoryGB: 100})
	h.writeConfig(h.configText("  - name: fleet\n    region: cn-east-3\n    project_id: " + projectFleet +
		"\n    instances: true\n    statistics: true\n    instance_tags: [owner]\n    labels: {env: prod}\n"))
	if code, body := h.post("/-/reload"); code != http.StatusOK {
		t.Fatalf("adding the fleet target: HTTP %d: %s", code, body)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("last lines of the exporter log:\n%s", lastLines(h.proc.logText(), 30))
		}
	})

	// The new series pass promtool's lint, as served.
	deadline := time.Now().Add(e2eScrapeTimeout)
	var body string
	for {
		var code int
		code, body = h.get("/metrics")
		if code == http.StatusOK && strings.Contains(body, `dcs_statistics_up{target="fleet"`) && strings.Contains(body, `dcs_quota_up{target="fleet"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no statistics and quota of the fleet target within %v (HTTP %d)", e2eScrapeTimeout, code)
		}
		time.Sleep(200 * time.Millisecond)
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(body)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}

	// The shipped alerting rules, shortened.
	rulesPath, _ := writeShortAlertingRules(t, promtool, dir)
	promConfig := filepath.Join(dir, "prometheus.yml")
	writeFile(t, promConfig, fmt.Sprintf(fleetPrometheusConfig, rulesPath, h.proc.host))
	runTool(t, promtool, "check", "config", promConfig)
	e.prom = e.startDaemon("prometheus", func(port int) []string {
		return []string{prometheusBin, "--config.file=" + promConfig, "--storage.tsdb.path=" + filepath.Join(dir, "prometheus-data"),
			"--web.listen-address=" + loopback(port), "--log.level=info", "--scrape.discovery-reload-interval=1s"}
	})

	// Prometheus 3 scrapes the new series.
	for _, q := range []string{
		`dcs_statistics_up{target="fleet"} == 1`,
		`dcs_quota_up{target="fleet"} == 1`,
		`dcs_instance_keys{target="fleet",instance_id="` + outside.ID + `"} == 123456`,
		`dcs_instance_network_receive_bytes_per_second{target="fleet",instance_id="` + outside.ID + `"} == 10000`,
		`dcs_instance_network_transmit_bytes_per_second{target="fleet",instance_id="` + outside.ID + `"} == 20062.5`,
		`dcs_instance_memory_used_bytes{target="fleet",instance_id="` + inside.ID + `"} == 973 * 1048576`,
		`dcs_quota_instances_limit{target="fleet"} == 40`,
		`dcs_quota_memory_limit_bytes{target="fleet"} == 100 * 1073741824`,
		`dcs_instance_maintenance_window_active{target="fleet",instance_id="` + inside.ID + `"} == 1`,
	} {
		e.waitQuery(q, e2eScrapeTimeout)
	}
	// One memory series per instance, although the listing has memory too.
	if r := e.query(`count by (instance_id) (dcs_instance_memory_used_bytes{target="fleet"}) > 1`); len(r.samples) != 0 {
		t.Errorf("instances with two memory series: %s", r)
	}
	t.Logf("new series scraped after %v", time.Since(start).Round(time.Millisecond))

	// Every query of the fleet-health row returns data, for all targets and
	// for the fleet target alone.
	dash, err := loadDashboard(e2eDashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]bool{}
	for _, q := range dash.queries {
		panel := ""
		for _, title := range fleetHealthPanels {
			if strings.HasPrefix(q.where, fmt.Sprintf("panel %q", title)) {
				panel = title
			}
		}
		if panel == "" {
			continue
		}
		found[panel] = true
		for _, target := range []string{".*", "fleet"} {
			sel := dash.allSelected()
			sel["target"] = target
			expr := substituteVariables(t, q.expr, sel)
			if r := e.waitQuery(expr, e2eDashboardTimeout); !r.hasData() {
				t.Errorf("%s (target %s) returns no data: %s\n  query: %s", q.where, target, r, expr)
			}
		}
	}
	if len(found) != len(fleetHealthPanels) {
		t.Errorf("found the panels %v of the fleet-health row, want %v", found, fleetHealthPanels)
	}

	// DCSInstanceMemoryHigh fires for the instance outside its window, with
	// its name and owner, and never even pends for the one inside it.
	firing := `ALERTS{alertname="DCSInstanceMemoryHigh",alertstate="firing",target="fleet",instance_id="` + outside.ID +
		`",name="` + outside.Name + `",tag_owner="team-memory",severity="warning"}`
	e.waitQuery(firing, e2eAlertTimeout)
	t.Logf("DCSInstanceMemoryHigh fired after %v", time.Since(start).Round(time.Millisecond))
	if r := e.query(`count_over_time(ALERTS{alertname="DCSInstanceMemoryHigh",instance_id="` + inside.ID + `"}[10m])`); len(r.samples) != 0 {
		t.Errorf("DCSInstanceMemoryHigh for the instance inside its maintenance window: %s", r)
	}
	if r := e.query(`max by (instance_id) (dcs_instance_memory_used_bytes{instance_id="` + inside.ID + `"}) / max by (instance_id) (dcs_instance_memory_max_bytes{instance_id="` + inside.ID + `"}) >= 0.9`); len(r.samples) != 1 {
		t.Errorf("the instance inside its window is not at 95%%, so its silence proves nothing: %s", r)
	}
}
