//go:build e2e

package e2e

// End-to-end test of the deployment ("Deploy and observe"): the pinned
// Prometheus 3 scrapes the exporter, which runs as a process against the
// fake DCS API, loads the alerting rules of the shipped rule file (not its
// recording rules, which are optional) with shortened durations and sends its
// alerts to the pinned Alertmanager, which posts them to a webhook of the
// test. The scrape goes through the exporter's own Content-Type, which
// Prometheus 3 checks strictly (no fallback_scrape_protocol is set). Every
// PromQL query of the Grafana dashboard must return data without any recorded
// series, a second exporter process scraped for the same targets (a rollout)
// must change no count and no alert, and an instance put into the error state
// must reach Alertmanager as an alert. A listed instance in error must reach
// it as a per-instance alert carrying its owner tag, unless the instance is
// inside its maintenance window.

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dcs-exporter/dcs_exporter/dcsapi/dcsapitest"
)

const (
	// projectFleet is a third project, listed per instance (instances: true)
	// and with its statistics read (statistics: true), so that the
	// dashboard's per-instance and fleet-health panels have data.
	projectFleet = "a1b2c3d4e5f60718293a4b5c6d7e8f90"

	e2eRulesFile     = "deploy/prometheus/dcs-alerts.yml"
	e2eDashboardFile = "dashboards/dcs-overview.json"

	// e2eForDuration replaces every `for:` of the rules and e2eGroupInterval
	// every group `interval:`; promtool's unit tests cover the real timings.
	e2eForDuration   = "2s"
	e2eGroupInterval = "1s"

	// Bounds of the waits; the whole test normally takes 15 to 20 seconds
	// (Prometheus' discovery passes new scrape targets on only every 5
	// seconds).
	e2eStartTimeout     = 20 * time.Second
	e2eScrapeTimeout    = 20 * time.Second
	e2eDashboardTimeout = 30 * time.Second
	e2eAlertTimeout     = 60 * time.Second
)

// e2eExporterFlags are the flags of every exporter process of the test.
var e2eExporterFlags = []string{"--dcs.refresh-interval=1s", "--dcs.instances-refresh-interval=1s", "--dcs.backups-interval=3s"}

func TestE2EDeployAndObserve(t *testing.T) {
	prometheusBin := pinnedTool(t, "prometheus")
	alertmanagerBin := pinnedTool(t, "alertmanager")
	promtool := pinnedTool(t, "promtool")
	start := time.Now()

	dir := t.TempDir()
	e := &e2e{t: t, dir: dir, client: newLoopbackClient()}

	// The exporter, the built program as a process, in front of the fake
	// API, with a third target whose instances are listed one by one.
	h := newHarness(e, e2eExporterFlags...)
	h.fake.AddProject("cn-east-3", projectFleet)
	h.fake.SetInstances(projectFleet, dcsapitest.SampleFleet(25))
	// The fake's statistics move with its clock; pinned, they stay put, so
	// that the rollout check can compare two exporters' answers.
	for _, in := range h.fake.Instances(projectFleet) {
		h.fake.SetStatistic(projectFleet, in.ID, &dcsapitest.Statistic{Keys: in.UsedMemoryMB * 100, UsedMemoryMB: in.UsedMemoryMB, MaxMemoryMB: in.MaxMemoryMB,
			UsedCPU: "1.0", InputKbps: "12.5", OutputKbps: "40"})
	}
	h.writeConfig(h.configText("  - name: fleet\n    region: cn-east-3\n    project_id: " + projectFleet +
		"\n    instances: true\n    nodes: true\n    backups: true\n    statistics: true\n    instance_tags: [owner]\n    labels: {env: prod}\n"))
	if code, body := h.post("/-/reload"); code != http.StatusOK {
		t.Fatalf("adding the listed target: HTTP %d: %s", code, body)
	}
	// Prometheus scrapes the exporter's handler through a recorder of what
	// each scrape asked for and got, and, as a control, through one that
	// blanks the Content-Type, which Prometheus 3 must refuse.
	scrapes := &scrapeRecorder{next: h.handler}
	exporterSrv := httptest.NewServer(scrapes)
	t.Cleanup(exporterSrv.Close)
	blanked := &scrapeRecorder{next: h.handler, blankContentType: true}
	controlSrv := httptest.NewServer(blanked)
	t.Cleanup(controlSrv.Close)
	exporterURL, err := url.Parse(exporterSrv.URL)
	if err != nil {
		t.Fatal(err)
	}
	controlURL, err := url.Parse(controlSrv.URL)
	if err != nil {
		t.Fatal(err)
	}

	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("last lines of the exporter log:\n%s", lastLines(h.proc.logText(), 30))
			t.Logf("alerts received by the webhook: %d", len(e.webhookAlerts()))
		}
	})

	// The shipped alerting rules with short durations, checked by promtool.
	// The recording rules are left out: the alerts and the dashboard must
	// work without them.
	rulesPath, recorded := writeShortAlertingRules(t, promtool, dir)

	// The webhook receiver of Alertmanager.
	hook := httptest.NewServer(http.HandlerFunc(e.receiveWebhook))
	t.Cleanup(hook.Close)

	// Alertmanager, then Prometheus, each on a free loopback port.
	e.am = e.startDaemon("alertmanager", func(port int) []string {
		cfg := filepath.Join(dir, "alertmanager.yml")
		writeFile(t, cfg, fmt.Sprintf(alertmanagerConfig, hook.URL+"/hook"))
		return []string{alertmanagerBin,
			"--config.file=" + cfg,
			"--storage.path=" + filepath.Join(dir, "alertmanager-data"),
			"--web.listen-address=" + loopback(port),
			"--cluster.listen-address=",
			"--log.level=info",
		}
	})
	// The dcs job finds its targets in a file, so that the rollout check can
	// add a second exporter to it.
	targetsFile := filepath.Join(dir, "dcs-targets.json")
	writeScrapeTargets(t, targetsFile, exporterURL.Host)
	promConfig := filepath.Join(dir, "prometheus.yml")
	writeFile(t, promConfig, fmt.Sprintf(prometheusConfig, rulesPath, e.am.host, targetsFile, controlURL.Host))
	runTool(t, promtool, "check", "config", promConfig)
	e.prom = e.startDaemon("prometheus", func(port int) []string {
		return []string{prometheusBin,
			"--config.file=" + promConfig,
			"--storage.tsdb.path=" + filepath.Join(dir, "prometheus-data"),
			"--web.listen-address=" + loopback(port),
			"--log.level=info",
			// A hidden flag (5 s by default): how long the scrape manager
			// holds new targets back, here the exporter at the start and the
			// second exporter of the rollout check.
			"--scrape.discovery-reload-interval=1s",
		}
	})
	t.Logf("components up after %v: exporter %s, alertmanager %s, prometheus %s, webhook %s",
		time.Since(start).Round(time.Millisecond), exporterURL.Host, e.am.host, e.prom.host, hook.URL)

	// Prometheus scrapes the exporter, which has queried every target.
	e.waitQuery(`up{job="dcs"} == 1`, e2eScrapeTimeout)
	e.checkContentNegotiation(scrapes, blanked)
	e.waitQuery(`dcs_instances{target="fleet"}`, e2eScrapeTimeout)
	t.Logf("scraped after %v", time.Since(start).Round(time.Millisecond))

	// Every query of the dashboard returns data, with every variable at
	// "All" and with one value chosen for each, as a user would.
	dash, err := loadDashboard(e2eDashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: %d queries, %d variables", e2eDashboardFile, len(dash.queries), len(dash.variables))
	e.checkDashboard(dash, "All", dash.allSelected())
	chosen := e.chooseVariables(dash, map[string]string{"target": "fleet", "engine": "redis"})
	if !t.Failed() {
		e.checkDashboard(dash, fmt.Sprint(chosen), chosen)
	}
	e.checkNoRecordedSeries(recorded)
	t.Logf("dashboard checked after %v", time.Since(start).Round(time.Millisecond))
	if t.Failed() {
		return
	}

	// Instances go into error: the alert must reach Alertmanager.
	if got := e.query(`ALERTS{alertname="DCSTargetHasInstancesInError"}`); len(got.samples) != 0 {
		t.Fatalf("DCSTargetHasInstancesInError is active before any instance is in error: %v", got.samples)
	}
	staging := h.fake.Instances(projectStaging)
	if len(staging) < 2 {
		t.Fatalf("the staging fleet has %d instances", len(staging))
	}
	for _, in := range staging[:2] {
		if in.Engine != "Redis" || in.Status != "RUNNING" {
			t.Fatalf("unexpected staging instance %s: %s %s", in.ID, in.Engine, in.Status)
		}
		if !h.fake.SetInstanceStatus(projectStaging, in.ID, "ERROR") {
			t.Fatalf("instance %s not found", in.ID)
		}
	}
	injected := time.Now()
	wantLabels := map[string]string{
		"alertname":  "DCSTargetHasInstancesInError",
		"severity":   "critical",
		"target":     "staging",
		"region":     "ap-southeast-1",
		"project_id": projectStaging,
		"engine":     "redis",
	}
	alert := e.waitWebhookAlert(wantLabels, e2eAlertTimeout)
	t.Logf("DCSTargetHasInstancesInError for staging reached the webhook %v after the injection", time.Since(injected).Round(time.Millisecond))
	if s := alert.Annotations["summary"]; !strings.Contains(s, "staging") {
		t.Errorf("summary of the alert does not name the target: %q", s)
	}
	for _, a := range e.webhookAlerts() {
		if a.Labels["alertname"] == "DCSTargetHasInstancesInError" && a.Labels["target"] != "staging" {
			t.Errorf("DCSTargetHasInstancesInError for another target: %v", a.Labels)
		}
	}
	e.checkAlertmanagerAlert(wantLabels)
	e.waitQuery(`sum(max by (target, region, project_id, engine, state) (dcs_instances{target="staging", state="error"})) == 2`, e2eScrapeTimeout)
	// The dashboard's alert annotations show it.
	for _, q := range dash.queries {
		if !strings.Contains(q.expr, "ALERTS") {
			continue
		}
		selection := dash.allSelected()
		selection["target"] = "staging"
		expr := substituteVariables(t, q.expr, selection)
		r := e.query(expr)
		if !slices.ContainsFunc(r.series, func(l map[string]string) bool { return hasLabels(l, wantLabels) }) {
			t.Errorf("%s shows no DCSTargetHasInstancesInError for staging: %s\n  query: %s", q.where, r, expr)
		}
	}
	if t.Failed() {
		return
	}

	// A rollout: a second exporter process joins the job for a while. The
	// dashboard and the alerts, the critical one included, must not notice.
	e.checkRollout(dash, []dashSelection{{"All", dash.allSelected()}, {fmt.Sprint(chosen), chosen}},
		targetsFile, exporterURL.Host, func() (string, func()) { return e.startExporterProcess(h.config) })
	if t.Failed() {
		return
	}

	// Instances of the listed fleet go into error: the per-instance alert
	// fires with the owner tag, except inside a maintenance window.
	e.checkInstanceInError(h.fake)
	t.Logf("end-to-end test done in %v", time.Since(start).Round(time.Millisecond))
}

// checkInstanceInError puts two running instances of the listed fleet into
// ERROR, each with an owner tag. The one outside its maintenance window
// must reach Alertmanager as DCSInstanceInError, with its name and owner;
// the one inside its window must not even be pending, until its window is
// moved away from now and it fires too, which shows that the window, and
// nothing else, held it back.
func (e *e2e) checkInstanceInError(fake *dcsapitest.Server) {
	t := e.t
	var picked []dcsapitest.Instance
	for _, in := range fake.Instances(projectFleet) {
		if in.Status == "RUNNING" && len(picked) < 2 {
			picked = append(picked, in)
		}
	}
	if len(picked) < 2 {
		t.Fatalf("the fleet has %d running instances, want 2", len(picked))
	}
	outside, inside := picked[0], picked[1]
	// Windows hours away from now, one way or the other, so that the test
	// cannot straddle a boundary; they may run past midnight.
	window := func(from, to time.Duration) (string, string) {
		now := time.Now().UTC()
		return now.Add(from).Format(time.TimeOnly), now.Add(to).Format(time.TimeOnly)
	}
	outside.MaintainBegin, outside.MaintainEnd = window(2*time.Hour, 3*time.Hour)
	inside.MaintainBegin, inside.MaintainEnd = window(-time.Hour, time.Hour)
	alertFor := func(in dcsapitest.Instance) map[string]string {
		return map[string]string{
			"alertname":             "DCSInstanceInError",
			"severity":              "critical",
			"target":                "fleet",
			"instance_id":           in.ID,
			"name":                  in.Name,
			"engine":                strings.ToLower(in.Engine),
			"tag_owner":             in.Tags[0].Value,
			"enterprise_project_id": cmp.Or(in.EnterpriseProjectID, "0"),
		}
	}
	for i, in := range []*dcsapitest.Instance{&outside, &inside} {
		in.Status = "ERROR"
		in.Tags = []dcsapitest.Tag{{Key: "owner", Value: fmt.Sprintf("team-e2e-%d", i)}, {Key: "env", Value: "prod"}}
		fake.UpsertInstance(projectFleet, *in)
	}
	injected := time.Now()

	want := alertFor(outside)
	alert := e.waitWebhookAlert(want, e2eAlertTimeout)
	t.Logf("DCSInstanceInError for the instance outside its window reached the webhook %v after the injection",
		time.Since(injected).Round(time.Millisecond))
	if d := alert.Annotations["description"]; !strings.Contains(d, "Owner tag: "+want["tag_owner"]) || !strings.Contains(d, outside.Name) {
		t.Errorf("the description does not name the instance and its owner: %q", d)
	}
	e.checkAlertmanagerAlert(want)

	// Both went into error in the same listing, and so in the same scrape;
	// by the time one has fired, the other would have been pending.
	e.waitQuery(`dcs_instance_status{instance_id="`+inside.ID+`",status="ERROR"}`, e2eScrapeTimeout)
	e.waitQuery(`dcs_instance_maintenance_window_active{instance_id="`+inside.ID+`"} == 1`, e2eScrapeTimeout)
	if r := e.query(`count_over_time(ALERTS{alertname="DCSInstanceInError",instance_id="` + inside.ID + `"}[10m])`); len(r.samples) != 0 {
		t.Errorf("DCSInstanceInError for an instance inside its maintenance window: %s", r)
	}
	for _, a := range e.webhookAlerts() {
		if a.Labels["alertname"] == "DCSInstanceInError" && a.Labels["instance_id"] != outside.ID {
			t.Errorf("DCSInstanceInError for another instance: %v", a.Labels)
		}
	}
	if t.Failed() {
		return
	}

	inside.MaintainBegin, inside.MaintainEnd = window(2*time.Hour, 3*time.Hour)
	fake.UpsertInstance(projectFleet, inside)
	moved := time.Now()
	e.waitWebhookAlert(alertFor(inside), e2eAlertTimeout)
	t.Logf("DCSInstanceInError for the other instance reached the webhook %v after its window was moved away",
		time.Since(moved).Round(time.Millisecond))
}

const alertmanagerConfig = `route:
  receiver: test-webhook
  group_by: [alertname, target, engine]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: test-webhook
    webhook_configs:
      - url: %q
        send_resolved: true
`

const prometheusConfig = `global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files:
  - %q
alerting:
  alertmanagers:
    - api_version: v2
      static_configs:
        - targets: [%q]
scrape_configs:
  - job_name: dcs
    file_sd_configs:
      # Written by writeScrapeTargets; Prometheus watches it and, should a
      # change be missed, reads it again every second.
      - files: [%q]
        refresh_interval: 1s
  # The exporter with its Content-Type blanked: proves that this Prometheus
  # checks the Content-Type, so that the dcs job being up means the
  # exporter's own one passed.
  - job_name: content_type_control
    static_configs:
      - targets: [%q]
`

var (
	ruleForRE      = regexp.MustCompile(`(?m)^(\s+for:[ \t]*)\S+[ \t]*$`)
	ruleIntervalRE = regexp.MustCompile(`(?m)^(\s+interval:[ \t]*)\S+[ \t]*$`)
	anyForRE       = regexp.MustCompile(`(?m)^\s+for:`)
	anyIntervalRE  = regexp.MustCompile(`(?m)^\s+interval:`)
)

// writeShortAlertingRules writes the shipped alerting rules, with short
// durations and without the recording rules, into dir, checks them with
// promtool, and returns their path and the recording rules left out.
func writeShortAlertingRules(t *testing.T, promtool, dir string) (string, []string) {
	t.Helper()
	shipped, err := os.ReadFile(e2eRulesFile)
	if err != nil {
		t.Fatal(err)
	}
	shortened, err := shortenRuleDurations(string(shipped))
	if err != nil {
		t.Fatalf("%s: %v", e2eRulesFile, err)
	}
	alerting, recorded, err := alertingRulesOnly(shortened)
	if err != nil {
		t.Fatalf("%s: %v", e2eRulesFile, err)
	}
	t.Logf("%s: left out the recording rules of %v", e2eRulesFile, recorded)
	rulesPath := filepath.Join(dir, "dcs-alerts.yml")
	writeFile(t, rulesPath, alerting)
	runTool(t, promtool, "check", "rules", rulesPath)
	return rulesPath, recorded
}

// shortenRuleDurations rewrites the `for:` of every alert and the
// `interval:` of every group, and fails if one of them has a form the
// rewrite would miss (a trailing comment, for instance).
func shortenRuleDurations(rules string) (string, error) {
	nFor := len(ruleForRE.FindAllString(rules, -1))
	if want := len(anyForRE.FindAllString(rules, -1)); nFor == 0 || nFor != want {
		return "", fmt.Errorf("can rewrite %d of %d `for:` lines", nFor, want)
	}
	nInterval := len(ruleIntervalRE.FindAllString(rules, -1))
	if want := len(anyIntervalRE.FindAllString(rules, -1)); nInterval != want {
		return "", fmt.Errorf("can rewrite %d of %d `interval:` lines", nInterval, want)
	}
	rules = ruleForRE.ReplaceAllString(rules, "${1}"+e2eForDuration)
	return ruleIntervalRE.ReplaceAllString(rules, "${1}"+e2eGroupInterval), nil
}

// e2e holds the running components of the test.
type e2e struct {
	t      *testing.T
	dir    string
	client *http.Client
	am     *daemon
	prom   *daemon

	mu     sync.Mutex
	alerts []webhookAlert // every alert of every webhook delivery, in order
}

// daemon is an external program listening on a loopback port.
type daemon struct {
	name string
	host string // 127.0.0.1:port
	cmd  *exec.Cmd
	log  string // file with its output
	done chan struct{}
}

func loopback(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startDaemon starts a program on a free port and waits until its /-/ready
// answers 200. Should another process take the port between the probe and
// the start, it tries again on another port.
func (e *e2e) startDaemon(name string, argv func(port int) []string) *daemon {
	e.t.Helper()
	return e.startDaemonReadyAt(name, "/-/ready", argv)
}

// startDaemonReadyAt is startDaemon for a program whose readiness is on
// another path (redis_exporter's /health).
func (e *e2e) startDaemonReadyAt(name, readyPath string, argv func(port int) []string) *daemon {
	e.t.Helper()
	for attempt := 1; ; attempt++ {
		d, portTaken := e.tryStartDaemon(name, readyPath, attempt, argv)
		if d != nil {
			return d
		}
		if !portTaken || attempt == 3 {
			e.t.FailNow()
		}
	}
}

// tryStartDaemon makes one attempt; it returns nil after reporting why the
// program failed, or nil and true when its port was taken.
func (e *e2e) tryStartDaemon(name, readyPath string, attempt int, argv func(port int) []string) (*daemon, bool) {
	t := e.t
	t.Helper()
	port := freePort(t)
	d := &daemon{name: name, host: loopback(port), log: filepath.Join(e.dir, fmt.Sprintf("%s-%d.log", name, attempt)), done: make(chan struct{})}
	logFile, err := os.Create(d.log)
	if err != nil {
		t.Fatal(err)
	}
	args := argv(port)
	d.cmd = exec.Command(args[0], args[1:]...)
	d.cmd.Dir = e.dir
	d.cmd.Stdout, d.cmd.Stderr = logFile, logFile
	err = d.cmd.Start()
	logFile.Close()
	if err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	go func() { _ = d.cmd.Wait(); close(d.done) }()
	t.Cleanup(func() { d.stop(t) })

	deadline := time.Now().Add(e2eStartTimeout)
	for {
		select {
		case <-d.done:
			out := d.logText()
			if strings.Contains(out, "address already in use") {
				t.Logf("%s: port %d was taken, trying another", name, port)
				return nil, true
			}
			t.Errorf("%s exited at start (%v):\n%s", name, d.cmd.ProcessState, lastLines(out, 30))
			return nil, false
		default:
		}
		if resp, err := e.client.Get(d.url(readyPath)); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return d, false
			}
		}
		if time.Now().After(deadline) {
			t.Errorf("%s not ready on %s within %v:\n%s", name, d.host, e2eStartTimeout, lastLines(d.logText(), 30))
			return nil, false
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// stop ends the program (SIGTERM, then SIGKILL) and, if the test failed,
// shows the end of its log as it was before the shutdown.
func (d *daemon) stop(t *testing.T) {
	if t.Failed() {
		t.Logf("last lines of the %s log (%s):\n%s", d.name, d.host, lastLines(d.logText(), 30))
	}
	select {
	case <-d.done:
	default:
		_ = d.cmd.Process.Signal(os.Interrupt)
		select {
		case <-d.done:
		case <-time.After(5 * time.Second):
			_ = d.cmd.Process.Kill()
			<-d.done
		}
	}
}

func (d *daemon) logText() string {
	b, _ := os.ReadFile(d.log)
	return string(b)
}

func (d *daemon) url(path string) string { return "http://" + d.host + path }

func newLoopbackClient() *http.Client {
	// No proxy: everything is on 127.0.0.1.
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{Proxy: nil}}
}

// getJSON decodes the JSON answer of a GET; it fails the test only when the
// answer cannot be had or decoded, not on an API error in the JSON.
func (e *e2e) getJSON(rawURL string, out any) {
	e.t.Helper()
	resp, err := e.client.Get(rawURL)
	if err != nil {
		e.t.Fatalf("GET %s: %v", rawURL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatalf("GET %s: %v", rawURL, err)
	}
	if err := json.Unmarshal(body, out); err != nil {
		e.t.Fatalf("GET %s: HTTP %d, %v: %s", rawURL, resp.StatusCode, err, body)
	}
}

// promAnswer is the envelope of Prometheus' HTTP API.
type promAnswer struct {
	Status    string          `json:"status"`
	ErrorType string          `json:"errorType"`
	Error     string          `json:"error"`
	Data      json.RawMessage `json:"data"`
}

// queryResult is an instant query's answer, reduced to what the test needs.
type queryResult struct {
	err     string              // API error, if any
	series  []map[string]string // labels of each series
	values  []string            // value of each series, as Prometheus wrote it
	samples []string            // one "labels value" per series
	numbers int                 // samples whose value is a number (not NaN)
}

func (r queryResult) hasData() bool { return r.err == "" && r.numbers > 0 }

func (r queryResult) String() string {
	if r.err != "" {
		return "error: " + r.err
	}
	if len(r.samples) == 0 {
		return "empty result"
	}
	return fmt.Sprintf("%d series, %d numeric: %s", len(r.samples), r.numbers, strings.Join(r.samples, "; "))
}

// query runs an instant query at the current time.
func (e *e2e) query(q string) queryResult {
	e.t.Helper()
	return e.queryAt(q, time.Time{})
}

// queryAt runs an instant query at the time, or now for the zero time.
func (e *e2e) queryAt(q string, at time.Time) queryResult {
	e.t.Helper()
	params := url.Values{"query": {q}}
	if !at.IsZero() {
		params.Set("time", promTime(at))
	}
	var ans promAnswer
	e.getJSON(e.prom.url("/api/v1/query?"+params.Encode()), &ans)
	if ans.Status != "success" {
		return queryResult{err: ans.ErrorType + ": " + ans.Error}
	}
	var data struct {
		ResultType string          `json:"resultType"`
		Result     json.RawMessage `json:"result"`
	}
	if err := json.Unmarshal(ans.Data, &data); err != nil {
		return queryResult{err: err.Error()}
	}
	var r queryResult
	add := func(labels map[string]string, value any) {
		s, _ := value.(string)
		r.series = append(r.series, labels)
		r.values = append(r.values, s)
		r.samples = append(r.samples, fmt.Sprintf("%v %s", labels, s))
		if f, err := strconv.ParseFloat(s, 64); err == nil && !math.IsNaN(f) {
			r.numbers++
		}
	}
	switch data.ResultType {
	case "vector":
		var v []struct {
			Metric map[string]string `json:"metric"`
			Value  [2]any            `json:"value"`
		}
		if err := json.Unmarshal(data.Result, &v); err != nil {
			return queryResult{err: err.Error()}
		}
		for _, s := range v {
			add(s.Metric, s.Value[1])
		}
	case "scalar", "string":
		var v [2]any
		if err := json.Unmarshal(data.Result, &v); err != nil {
			return queryResult{err: err.Error()}
		}
		add(nil, v[1])
	default:
		return queryResult{err: "unexpected result type " + data.ResultType}
	}
	return r
}

// labelValues is what Grafana's label_values(selector, label) lists.
func (e *e2e) labelValues(label, selector string) ([]string, string) {
	e.t.Helper()
	params := url.Values{}
	if selector != "" {
		params.Set("match[]", selector)
	}
	var ans promAnswer
	e.getJSON(e.prom.url("/api/v1/label/"+url.PathEscape(label)+"/values?"+params.Encode()), &ans)
	if ans.Status != "success" {
		return nil, ans.ErrorType + ": " + ans.Error
	}
	var values []string
	if err := json.Unmarshal(ans.Data, &values); err != nil {
		return nil, err.Error()
	}
	return values, ""
}

// waitQuery waits until the query returns data; 0 means a single try.
func (e *e2e) waitQuery(q string, timeout time.Duration) queryResult {
	e.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		r := e.query(q)
		if r.hasData() {
			return r
		}
		if !time.Now().Before(deadline) {
			e.t.Fatalf("no data for %s within %v: %s", q, timeout, r)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// The dashboard's queries and variables.

type dashQuery struct {
	where string // panel or annotation, and refId
	expr  string
}

type dashVariable struct {
	name  string
	query string // e.g. label_values(dcs_up, target)
}

type dashboard struct {
	queries   []dashQuery
	variables []dashVariable // query variables, in the dashboard's order
}

// loadDashboard collects every "expr" anywhere in the dashboard (panel
// queries at any depth of nesting, annotations) and the query variables.
func loadDashboard(path string) (*dashboard, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var root map[string]any
	if err := json.Unmarshal(b, &root); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	d := &dashboard{}
	var walk func(node any, where string)
	walk = func(node any, where string) {
		switch n := node.(type) {
		case map[string]any:
			if title, ok := n["title"].(string); ok {
				where = fmt.Sprintf("panel %q", title)
			} else if name, ok := n["name"].(string); ok {
				where = fmt.Sprintf("%q", name)
			}
			if expr, ok := n["expr"].(string); ok {
				w := where
				if ref, ok := n["refId"].(string); ok {
					w += " query " + ref
				}
				d.queries = append(d.queries, dashQuery{where: w, expr: expr})
			}
			keys := make([]string, 0, len(n))
			for k := range n {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				if k == "templating" {
					continue
				}
				walk(n[k], where)
			}
		case []any:
			for _, v := range n {
				walk(v, where)
			}
		}
	}
	walk(root, "dashboard")

	templating, _ := root["templating"].(map[string]any)
	list, _ := templating["list"].([]any)
	for _, item := range list {
		v, _ := item.(map[string]any)
		if v["type"] != "query" {
			continue
		}
		name, _ := v["name"].(string)
		q, _ := v["query"].(string)
		if m, ok := v["query"].(map[string]any); ok {
			q, _ = m["query"].(string)
		}
		if name == "" || q == "" {
			return nil, fmt.Errorf("%s: query variable without name or query: %v", path, v)
		}
		d.variables = append(d.variables, dashVariable{name: name, query: q})
	}
	if len(d.queries) == 0 || len(d.variables) == 0 {
		return nil, fmt.Errorf("%s: found %d queries and %d variables", path, len(d.queries), len(d.variables))
	}
	return d, nil
}

// allSelected is the selection of "All" for every variable, which the
// dashboard's variables turn into ".*".
func (d *dashboard) allSelected() map[string]string {
	sel := map[string]string{}
	for _, v := range d.variables {
		sel[v.name] = ".*"
	}
	return sel
}

// grafanaBuiltins are Grafana's own variables and what stands for them.
var grafanaBuiltins = map[string]string{
	"__rate_interval": "1m",
	"__interval":      "1m",
	"__range":         "1m",
	"__interval_ms":   "60000",
	"__range_s":       "60",
	"__range_ms":      "60000",
}

var variableRE = regexp.MustCompile(`\$\{(\w+)(?::\w+)?\}|\[\[(\w+)(?::\w+)?\]\]|\$(\w+)`)

// substituteVariables replaces $var, ${var}, ${var:format} and [[var]] by
// the selected (already regex-escaped) value and Grafana's built-in
// variables by fixed durations.
func substituteVariables(t *testing.T, expr string, chosen map[string]string) string {
	t.Helper()
	var unknown []string
	out := variableRE.ReplaceAllStringFunc(expr, func(m string) string {
		sub := variableRE.FindStringSubmatch(m)
		name := sub[1] + sub[2] + sub[3]
		if v, ok := grafanaBuiltins[name]; ok {
			return v
		}
		if v, ok := chosen[name]; ok {
			return v
		}
		unknown = append(unknown, name)
		return m
	})
	if len(unknown) > 0 {
		t.Errorf("unknown variables %v in %s", unknown, expr)
	}
	return out
}

var (
	labelValuesRE      = regexp.MustCompile(`(?s)^\s*label_values\((.*),\s*(\w+)\s*\)\s*$`)
	labelValuesOnlyRE  = regexp.MustCompile(`^\s*label_values\(\s*(\w+)\s*\)\s*$`)
	queryResultFuncRE  = regexp.MustCompile(`(?s)^\s*query_result\((.*)\)\s*$`)
	templateEscapeRepl = strings.NewReplacer(`\`, `\\`, `"`, `\"`)
)

// variableValues evaluates a variable's query as Grafana would.
func (e *e2e) variableValues(v dashVariable, chosen map[string]string) (values []string, query, problem string) {
	e.t.Helper()
	q := substituteVariables(e.t, v.query, chosen)
	if m := labelValuesRE.FindStringSubmatch(q); m != nil {
		values, problem = e.labelValues(m[2], m[1])
		return values, q, problem
	}
	if m := labelValuesOnlyRE.FindStringSubmatch(q); m != nil {
		values, problem = e.labelValues(m[1], "")
		return values, q, problem
	}
	if m := queryResultFuncRE.FindStringSubmatch(q); m != nil {
		r := e.query(m[1])
		return r.samples, q, r.err
	}
	return nil, q, "the test does not know this kind of variable query"
}

// checkDashboard requires data for every variable and every query, trying
// again for a bounded time: rates need two samples, alerts their for:.
func (e *e2e) checkDashboard(d *dashboard, selection string, chosen map[string]string) {
	t := e.t
	t.Helper()
	type check struct {
		where, query string
		run          func() (ok bool, detail string)
	}
	var checks []check
	for _, v := range d.variables {
		checks = append(checks, check{where: "variable " + v.name, query: v.query, run: func() (bool, string) {
			values, q, problem := e.variableValues(v, chosen)
			if problem != "" {
				return false, q + ": " + problem
			}
			return len(values) > 0, fmt.Sprintf("%s: %v", q, values)
		}})
	}
	for _, dq := range d.queries {
		q := substituteVariables(t, dq.expr, chosen)
		checks = append(checks, check{where: dq.where, query: q, run: func() (bool, string) {
			r := e.query(q)
			return r.hasData(), r.String()
		}})
	}

	start := time.Now()
	deadline := start.Add(e2eDashboardTimeout)
	type failure struct {
		check
		detail string
	}
	pending := checks
	var failed []failure
	for {
		failed = failed[:0]
		var still []check
		for _, c := range pending {
			if ok, detail := c.run(); !ok {
				still = append(still, c)
				failed = append(failed, failure{c, detail})
			}
		}
		pending = still
		if len(pending) == 0 {
			t.Logf("dashboard with %s: all %d queries and variables returned data within %v", selection, len(checks), time.Since(start).Round(time.Millisecond))
			return
		}
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	for _, f := range failed {
		t.Errorf("dashboard with %s: %s returned no data within %v\n  query: %s\n  last answer: %s", selection, f.where, e2eDashboardTimeout, f.query, f.detail)
	}
}

// chooseVariables picks one value for each variable in order, as a user
// selecting in the dashboard would: the preferred one, else the first.
// The values are regex-escaped like Grafana does for a multi-value
// variable, and the choice of a variable narrows the next ones.
func (e *e2e) chooseVariables(d *dashboard, prefer map[string]string) map[string]string {
	t := e.t
	t.Helper()
	chosen := d.allSelected()
	for _, v := range d.variables {
		values, q, problem := e.variableValues(v, chosen)
		if problem != "" || len(values) == 0 {
			t.Errorf("variable %s: no values from %s: %s", v.name, q, problem)
			continue
		}
		pick := values[0]
		if p, ok := prefer[v.name]; ok {
			if !slices.Contains(values, p) {
				t.Errorf("variable %s: %s offers %v, not %q", v.name, q, values, p)
				continue
			}
			pick = p
		}
		chosen[v.name] = templateEscapeRepl.Replace(regexp.QuoteMeta(pick))
	}
	return chosen
}

// Alertmanager's side.

type webhookAlert struct {
	Status      string            `json:"status"`
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
}

func (e *e2e) receiveWebhook(w http.ResponseWriter, r *http.Request) {
	var msg struct {
		Alerts []webhookAlert `json:"alerts"`
	}
	body, _ := io.ReadAll(r.Body)
	if err := json.Unmarshal(body, &msg); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	e.mu.Lock()
	e.alerts = append(e.alerts, msg.Alerts...)
	e.mu.Unlock()
}

func (e *e2e) webhookAlerts() []webhookAlert {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.alerts)
}

func hasLabels(have, want map[string]string) bool {
	for k, v := range want {
		if have[k] != v {
			return false
		}
	}
	return true
}

// waitWebhookAlert waits until the webhook received a firing alert with
// the labels.
func (e *e2e) waitWebhookAlert(want map[string]string, timeout time.Duration) webhookAlert {
	e.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		for _, a := range e.webhookAlerts() {
			if a.Status == "firing" && hasLabels(a.Labels, want) {
				return a
			}
		}
		if time.Now().After(deadline) {
			var seen bytes.Buffer
			for _, a := range e.webhookAlerts() {
				fmt.Fprintf(&seen, "  %s %v\n", a.Status, a.Labels)
			}
			e.t.Fatalf("no firing alert %v reached the webhook within %v; Prometheus shows %s; the webhook got:\n%s",
				want, timeout, e.query(`ALERTS{alertname="`+want["alertname"]+`"}`), seen.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// checkAlertmanagerAlert requires the alert to be active in Alertmanager's
// own API.
func (e *e2e) checkAlertmanagerAlert(want map[string]string) {
	e.t.Helper()
	var alerts []struct {
		Labels map[string]string `json:"labels"`
		Status struct {
			State string `json:"state"`
		} `json:"status"`
		Receivers []struct {
			Name string `json:"name"`
		} `json:"receivers"`
	}
	params := url.Values{}
	for _, k := range []string{"alertname", "target"} {
		params.Add("filter", k+"="+strconv.Quote(want[k]))
	}
	e.getJSON(e.am.url("/api/v2/alerts?"+params.Encode()), &alerts)
	for _, a := range alerts {
		if hasLabels(a.Labels, want) && a.Status.State == "active" {
			if len(a.Receivers) != 1 || a.Receivers[0].Name != "test-webhook" {
				e.t.Errorf("alert routed to %v, want test-webhook", a.Receivers)
			}
			return
		}
	}
	e.t.Errorf("Alertmanager's /api/v2/alerts has no active alert %v: %+v", want, alerts)
}

// Small helpers.

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

func runTool(t *testing.T, tool string, args ...string) {
	t.Helper()
	if out, err := exec.Command(tool, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(tool), strings.Join(args, " "), err, out)
	}
}

func lastLines(text string, n int) string {
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
