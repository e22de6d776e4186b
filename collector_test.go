package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"

	"github.com/dcs-exporter/dcs_exporter/dcsapi/dcsapitest"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

const (
	projectProd    = "0123456789abcdef0123456789abcdef"
	projectStaging = "fedcba9876543210fedcba9876543210"
)

// harness is the whole exporter (flags, config file, handler) in front of
// the fake DCS API.
type harness struct {
	t      *testing.T
	fake   *dcsapitest.Server
	app    *app
	srv    *httptest.Server
	config string
	logs   *syncBuffer
}

func newHarness(t *testing.T, extraArgs ...string) *harness {
	t.Helper()
	fake := dcsapitest.NewServer()
	t.Cleanup(fake.Close)
	fake.AddProject("cn-north-4", projectProd)
	fake.AddProject("ap-southeast-1", projectStaging)
	fake.SetInstances(projectProd, dcsapitest.SampleFleet(25))
	fake.SetInstances(projectStaging, dcsapitest.SampleFleet(4))

	h := &harness{t: t, fake: fake, config: filepath.Join(t.TempDir(), "dcs_exporter.yml"), logs: &syncBuffer{}}
	h.writeConfig(h.configText(""))
	args := append([]string{"--config.file=" + h.config, "--log.level=debug"}, extraArgs...)
	ctx, cancel := context.WithCancel(context.Background())
	a, err := newApp(ctx, args, h.logs)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	h.app = a
	runDone := make(chan struct{})
	go func() { a.exporter.Run(ctx); close(runDone) }()
	h.srv = httptest.NewServer(a.handler)
	t.Cleanup(func() {
		h.srv.Close()
		cancel()
		<-runDone
		a.close()
	})
	return h
}

func (h *harness) configText(extraTargets string) string {
	return fmt.Sprintf(`defaults:
  endpoint: %[1]s
  iam_endpoint: %[1]s
  timeout: 30s
  credentials:
    access_key: %[2]s
    secret_key: %[3]s
targets:
  - name: prod
    region: cn-north-4
    labels: {env: prod}
  - name: staging
    region: ap-southeast-1
    project_id: %[4]s
    labels: {env: staging}
%[5]s`, h.fake.URL, dcsapitest.TestAccessKey, dcsapitest.TestSecretKey, projectStaging, extraTargets)
}

func (h *harness) writeConfig(text string) {
	h.t.Helper()
	if err := os.WriteFile(h.config, []byte(text), 0o600); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) get(path string) (int, string) {
	h.t.Helper()
	resp, err := http.Get(h.srv.URL + path)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

func (h *harness) post(path string) (int, string) {
	h.t.Helper()
	resp, err := http.Post(h.srv.URL+path, "text/plain", nil)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// varying are series whose values depend on the clock or the process.
var varying = regexp.MustCompile(`^(dcs_scrape_duration_seconds|dcs_last_success_timestamp_seconds|dcs_exporter_config_last_reload_success_timestamp_seconds)(\{.*\})? .*$`)

// stable keeps the exporter's own dcs_ families of an exposition, with
// clock-dependent values replaced, so it can be compared with a golden file
// byte for byte (order and grouping included).
func stable(exposition string) string {
	var out []string
	keep := false
	for _, line := range strings.Split(exposition, "\n") {
		if name, ok := strings.CutPrefix(line, "# HELP "); ok {
			keep = strings.HasPrefix(name, "dcs_") && !strings.HasPrefix(name, "dcs_exporter_build_info")
		}
		if !keep || line == "" {
			continue
		}
		out = append(out, varying.ReplaceAllString(line, "$1$2 <varies>"))
	}
	return strings.Join(out, "\n") + "\n"
}

func compareGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test -update writes it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s:\n%s", path, lineDiff(string(want), got))
	}
}

// lineDiff lists the lines only one side has.
func lineDiff(want, got string) string {
	inWant := map[string]bool{}
	for _, l := range strings.Split(want, "\n") {
		inWant[l] = true
	}
	inGot := map[string]bool{}
	var b strings.Builder
	for _, l := range strings.Split(got, "\n") {
		inGot[l] = true
		if !inWant[l] {
			b.WriteString("+ " + l + "\n")
		}
	}
	for _, l := range strings.Split(want, "\n") {
		if !inGot[l] {
			b.WriteString("- " + l + "\n")
		}
	}
	if b.Len() == 0 {
		return "(same lines, different order)"
	}
	return b.String()
}

// waitQuotaRead waits until the first quota read of every target has
// ended: the quota is read on a schedule of its own, so without the wait a
// scrape right after the start would show it for some targets and not
// others. It asks the exporter, not the API, so that no call is added.
func (h *harness) waitQuotaRead() {
	h.t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		read := 0
		statuses := h.app.exporter.TargetStatuses()
		for _, ts := range statuses {
			if ts.Quota != nil && ts.Quota.Attempted {
				read++
			}
		}
		if read == len(statuses) {
			return
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("the quota of %d of %d targets was read within a minute", read, len(statuses))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestMetricsEndToEnd(t *testing.T) {
	h := newHarness(t)
	h.waitQuotaRead()
	code, body := h.get("/metrics")
	if code != http.StatusOK {
		t.Fatalf("HTTP %d: %s", code, body)
	}
	compareGolden(t, "metrics.prom", stable(body))
	problems, err := promlint.New(strings.NewReader(body)).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
	for _, want := range []string{"go_goroutines ", "process_resident_memory_bytes ", "dcs_exporter_build_info{", "dcs_exporter_config_last_reload_successful 1"} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	// promtool check metrics of the same exposition: e2e/metrics_test.go
	// (make e2e).
}

func TestProbeEndToEnd(t *testing.T) {
	h := newHarness(t)
	h.waitQuotaRead()
	code, body := h.get("/probe?target=staging")
	if code != http.StatusOK {
		t.Fatalf("HTTP %d: %s", code, body)
	}
	compareGolden(t, "probe_staging.prom", stable(body))
	if strings.Contains(body, `target="prod"`) {
		t.Error("/probe served another target")
	}
	if code, _ := h.get("/probe?target=nope"); code != http.StatusNotFound {
		t.Errorf("unknown target: HTTP %d, want 404", code)
	}
}

func TestReload(t *testing.T) {
	h := newHarness(t)
	h.writeConfig(h.configText("  - name: broken\n    region: cn-north-4\n    timeout: 10x\n"))
	code, body := h.post("/-/reload")
	if code != http.StatusInternalServerError || !strings.Contains(body, "dcs_exporter.yml:18: targets[2].timeout") {
		t.Errorf("bad reload: HTTP %d: %s", code, body)
	}
	_, metrics := h.get("/metrics")
	if !strings.Contains(metrics, "dcs_exporter_config_last_reload_successful 0") {
		t.Error("failed reload not reported")
	}
	if !strings.Contains(metrics, `dcs_up{target="prod"`) {
		t.Error("the old configuration stopped serving after a bad reload")
	}

	h.writeConfig(h.configText("  - name: third\n    region: cn-north-4\n    project_id: " + projectProd + "\n"))
	if code, body := h.post("/-/reload"); code != http.StatusOK {
		t.Fatalf("good reload: HTTP %d: %s", code, body)
	}
	_, metrics = h.get("/metrics")
	if !strings.Contains(metrics, `dcs_up{target="third"`) || !strings.Contains(metrics, "dcs_exporter_config_last_reload_successful 1") {
		t.Errorf("new target not served after reload:\n%s", stable(metrics))
	}
	if code, _ := h.get("/-/reload"); code != http.StatusMethodNotAllowed {
		t.Errorf("GET /-/reload: HTTP %d, want 405", code)
	}
}

func TestHealthAndReady(t *testing.T) {
	h := newHarness(t, "--dcs.refresh-interval=1h")
	var code int
	if !waitUntil(func() bool { code, _ = h.get("/-/ready"); return code == http.StatusOK }) {
		t.Fatalf("/-/ready still %d after %v", code, patience)
	}
	if code, _ := h.get("/-/healthy"); code != http.StatusOK {
		t.Errorf("/-/healthy: %d", code)
	}
	code, body := h.get("/")
	if code != http.StatusOK || !strings.Contains(body, "DCS Exporter") {
		t.Errorf("landing page: %d", code)
	}
}

func TestBadConfigAtStart(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "bad.yml")
	if err := os.WriteFile(path, []byte("targets:\n  - name: a\n    region: cn-north-4\n    credentials: {env: true}\n    api_version: v3\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := newApp(context.Background(), []string{"--config.file=" + path}, io.Discard)
	if err == nil || !strings.Contains(err.Error(), path+":5: targets[0].api_version") {
		t.Fatalf("err = %v; want file, line and field", err)
	}
	if code := run([]string{"--config.file=" + path, "--web.listen-address=127.0.0.1:0"}, nil); code != 1 {
		t.Errorf("exit status %d, want 1", code)
	}
}

func TestDemoMode(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	logs := &syncBuffer{}
	a, err := newApp(ctx, []string{"--demo"}, logs)
	if err != nil {
		t.Fatal(err)
	}
	defer a.close()
	srv := httptest.NewServer(a.handler)
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, target := range []string{"demo-beijing", "demo-singapore", "demo-otc"} {
		if !strings.Contains(string(body), `dcs_up{target="`+target+`"`) || strings.Contains(string(body), `dcs_up{target="`+target+`",region`) && !regexp.MustCompile(`dcs_up\{target="`+target+`"[^}]*\} 1`).Match(body) {
			t.Errorf("demo target %s is not up", target)
		}
	}
	if !strings.Contains(logs.String(), "demo mode") {
		t.Error("the log does not say it is a demo")
	}
	resp, err = http.Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(page), "DEMO MODE") {
		t.Error("the landing page does not say it is a demo")
	}
}
