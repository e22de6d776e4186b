// Package testenv is the tests' setting of the collector and its serving:
// the fake DCS API with two projects, an exporter of targets given as YAML,
// both on a clock that moves only when told, and helpers that read
// expositions.
package testenv

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"

	"github.com/dcs-exporter/dcs_exporter/collector"
	"github.com/dcs-exporter/dcs_exporter/collector/exposition"
	"github.com/dcs-exporter/dcs_exporter/collector/serving"
	"github.com/dcs-exporter/dcs_exporter/config"
	"github.com/dcs-exporter/dcs_exporter/dcsapi"
	"github.com/dcs-exporter/dcs_exporter/dcsapi/dcsapitest"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// Clock is a clock that moves only when told, so that timestamps and
// durations in expositions are stable. The fake API shares it, so that
// request signatures stay within the allowed clock skew.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

func NewClock() *Clock {
	return &Clock{t: time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)}
}

func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

const (
	ProjectA = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	ProjectB = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
)

// SmallFleet has a bit of everything: running and failed Redis, Memcached,
// and an instance that failed to create.
func SmallFleet() []dcsapitest.Instance {
	in := func(id, engine, status string) dcsapitest.Instance {
		return dcsapitest.Instance{ID: id, Name: "cache-" + id, Engine: engine, EngineVersion: "6.0", Status: status,
			SpecCode: "redis.ha.xu1.large.r2.1", CapacityGB: 1, MaxMemoryMB: 1024, UsedMemoryMB: 256}
	}
	return []dcsapitest.Instance{
		in("r1", "Redis", "RUNNING"), in("r2", "Redis", "RUNNING"), in("r3", "Redis", "RUNNING"),
		in("r4", "Redis", "ERROR"), in("r5", "Redis", "CREATEFAILED"),
		in("m1", "Memcached", "RUNNING"), in("m2", "Memcached", "RESTARTING"),
	}
}

type Env struct {
	t     *testing.T
	Srv   *dcsapitest.Server
	Clock *Clock
	Exp   *collector.Exporter
	Web   *serving.Server // serves Exp
	Logs  *LogBuffer
}

// New starts the fake API with two projects and an exporter whose
// targets are given as YAML list items. Both run on a test clock that moves
// only when told, unless opts.Now sets another clock.
func New(t *testing.T, opts collector.Options, targetsYAML string) *Env {
	t.Helper()
	clock := NewClock()
	srv := dcsapitest.NewServer()
	t.Cleanup(srv.Close)
	if opts.Now == nil {
		opts.Now = clock.Now
	}
	srv.SetClock(opts.Now) // signatures are checked against the exporter's clock
	srv.AddProject("cn-north-4", ProjectA)
	srv.AddProject("ap-southeast-1", ProjectB)
	srv.SetInstances(ProjectA, SmallFleet())
	srv.SetInstances(ProjectB, SmallFleet()[:2])

	logs := &LogBuffer{}
	opts.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if opts.MaxConcurrency == 0 {
		opts.MaxConcurrency = 4
	}
	opts.Retry = &dcsapi.RetryPolicy{MaxAttempts: 1}
	exp := collector.New(opts)
	e := &Env{t: t, Srv: srv, Clock: clock, Exp: exp, Web: serving.New(exp), Logs: logs}
	e.Apply(targetsYAML)
	t.Cleanup(exp.Close)
	return e
}

func (e *Env) Apply(targetsYAML string) {
	e.t.Helper()
	doc := fmt.Sprintf("defaults:\n  endpoint: %[1]s\n  iam_endpoint: %[1]s\n  credentials: {access_key: %[2]s, secret_key: %[3]s}\ntargets:\n%[4]s",
		e.Srv.URL, dcsapitest.TestAccessKey, dcsapitest.TestSecretKey, targetsYAML)
	cfg, err := config.Parse([]byte(doc), "test.yml")
	if err != nil {
		e.t.Fatalf("config: %v\n%s", err, doc)
	}
	if err := e.Exp.ApplyConfig(cfg); err != nil {
		e.t.Fatal(err)
	}
}

// Scrape serves /metrics (or /probe when target is set) once and returns
// the body.
func (e *Env) Scrape(target string) string {
	e.t.Helper()
	h := e.Web.MetricsHandler(nil)
	url := "/metrics"
	if target != "" {
		h, url = e.Web.ProbeHandler(), "/probe?target="+target
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, url, nil))
	if rec.Code != http.StatusOK {
		e.t.Fatalf("%s: HTTP %d: %s", url, rec.Code, rec.Body)
	}
	return rec.Body.String()
}

// LogBuffer collects log output from concurrent goroutines.
type LogBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *LogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *LogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// CompareGolden compares a whole exposition with testdata/NAME.prom,
// semantically (testutil parses both sides), and lints it.
func CompareGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".prom")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		_, _ = io.WriteString(w, got)
	}))
	defer srv.Close()
	if err := testutil.ScrapeAndCompare(srv.URL, bytes.NewReader(want)); err != nil {
		t.Errorf("exposition differs from %s:\n%v", path, err)
	}
	Lint(t, got)
}

// Lint fails the test for each problem promlint finds in an exposition.
func Lint(t *testing.T, text string) {
	t.Helper()
	problems, err := promlint.New(strings.NewReader(text)).Lint()
	if err != nil {
		t.Fatalf("lint: %v", err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
}

const TargetA = `  - name: prod
    region: cn-north-4
    project_id: ` + ProjectA + `
    labels: {env: prod, team: cache}
`

const TargetB = `  - name: staging
    region: ap-southeast-1
    project_id: ` + ProjectB + `
`

// WaitPatience bounds every wait for something that normally takes
// milliseconds. It runs out only when a test is failing anyway, so it is
// generous enough for the race detector on a machine busy with other work.
const WaitPatience = 30 * time.Second

// WaitFor checks cond every few milliseconds until it holds.
func WaitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(WaitPatience)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %v", WaitPatience)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// LinesOf returns the lines of an exposition that contain substr.
func LinesOf(text, substr string) string {
	var out []string
	for _, line := range strings.Split(text, "\n") {
		if strings.Contains(line, substr) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}

// ProbeWithTimeout probes one target with the scrape timeout Prometheus
// would announce.
func (e *Env) ProbeWithTimeout(target, timeout string) string {
	e.t.Helper()
	req := httptest.NewRequest(http.MethodGet, "/probe?target="+target, nil)
	req.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", timeout)
	rec := httptest.NewRecorder()
	e.Web.ProbeHandler().ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		e.t.Fatalf("HTTP %d: %s", rec.Code, rec.Body)
	}
	return rec.Body.String()
}

const ProdUp = `dcs_up{target="prod",region="cn-north-4",project_id="` + ProjectA + `",env="prod",team="cache"} `

// SampleValue returns the value of the one sample of metric in an
// exposition.
func SampleValue(t *testing.T, text, metric string) float64 {
	t.Helper()
	lines := Series(text, metric)
	if len(lines) != 1 {
		t.Fatalf("%d samples of %s, want 1:\n%s", len(lines), metric, text)
	}
	v, err := strconv.ParseFloat(lines[0][strings.LastIndexByte(lines[0], ' ')+1:], 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// ListedA is TargetA with the per-instance collector on.
const ListedA = TargetA + "    instances: true\n"

// ProdLabels are the labels every series of TargetA carries.
const ProdLabels = `target="prod",region="cn-north-4",project_id="` + ProjectA + `",env="prod",team="cache"`

// RefreshPatience bounds one listing in the tests. Each page already has
// the target's timeout, so a listing ends on its own; this only turns a
// listing that never ends into a clear failure. A listing of thousands of
// instances under the race detector, beside other work on two cores, has
// been seen to take over 10 s, so the bound is far beyond that.
const RefreshPatience = 2 * time.Minute

// Refresh runs one listing of the named target to its end.
func (e *Env) Refresh(target string) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), RefreshPatience)
	defer cancel()
	e.Exp.Target(target).RefreshListing(ctx)
	if ctx.Err() != nil {
		e.t.Fatalf("the listing did not finish within %v", RefreshPatience)
	}
}

// Series returns the lines of an exposition that are samples of metric.
func Series(text, metric string) []string {
	var out []string
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, metric+"{") {
			out = append(out, line)
		}
	}
	return out
}

var InstanceIDLabel = regexp.MustCompile(`instance_id="([^"]*)"`)

// InstanceIDs returns the instance_id of every sample of metric.
func InstanceIDs(text, metric string) []string {
	var ids []string
	for _, line := range Series(text, metric) {
		if m := InstanceIDLabel.FindStringSubmatch(line); m != nil {
			ids = append(ids, m[1])
		}
	}
	return ids
}

// PerInstance returns every per-instance sample of an exposition.
func PerInstance(text string) []string {
	var out []string
	for _, f := range append(exposition.InstanceFamilies(), exposition.FamInstanceMaintenance) {
		out = append(out, Series(text, f.Name())...)
	}
	return out
}

// TaggedA is ListedA copying two tags onto dcs_instance_info; the second
// is not a label name as it is.
const TaggedA = ListedA + "    instance_tags: [owner, cost-center]\n"
