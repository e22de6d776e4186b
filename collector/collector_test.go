package collector

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
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"

	"github.com/dcs-exporter/dcs_exporter/config"
	"github.com/dcs-exporter/dcs_exporter/dcsapi"
	"github.com/dcs-exporter/dcs_exporter/dcsapi/dcsapitest"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// testClock is a clock that moves only when told, so that timestamps and
// durations in expositions are stable. The fake API shares it, so that
// request signatures stay within the allowed clock skew.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func newTestClock() *testClock {
	return &testClock{t: time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)}
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

const (
	projectA = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	projectB = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
)

// smallFleet has a bit of everything: running and failed Redis, Memcached,
// and an instance that failed to create.
func smallFleet() []dcsapitest.Instance {
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

type env struct {
	t     *testing.T
	srv   *dcsapitest.Server
	clock *testClock
	exp   *Exporter
	logs  *logBuffer
}

// newEnv starts the fake API with two projects and an exporter whose
// targets are given as YAML list items. Both run on a test clock that moves
// only when told, unless opts.Now sets another clock.
func newEnv(t *testing.T, opts Options, targetsYAML string) *env {
	t.Helper()
	clock := newTestClock()
	srv := dcsapitest.NewServer()
	t.Cleanup(srv.Close)
	if opts.Now == nil {
		opts.Now = clock.Now
	}
	srv.SetClock(opts.Now) // signatures are checked against the exporter's clock
	srv.AddProject("cn-north-4", projectA)
	srv.AddProject("ap-southeast-1", projectB)
	srv.SetInstances(projectA, smallFleet())
	srv.SetInstances(projectB, smallFleet()[:2])

	logs := &logBuffer{}
	opts.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if opts.MaxConcurrency == 0 {
		opts.MaxConcurrency = 4
	}
	opts.Retry = &dcsapi.RetryPolicy{MaxAttempts: 1}
	exp := New(opts)
	e := &env{t: t, srv: srv, clock: clock, exp: exp, logs: logs}
	e.apply(targetsYAML)
	t.Cleanup(func() {
		for _, tg := range exp.Targets() {
			tg.cancel()
		}
	})
	return e
}

func (e *env) apply(targetsYAML string) {
	e.t.Helper()
	doc := fmt.Sprintf("defaults:\n  endpoint: %[1]s\n  iam_endpoint: %[1]s\n  credentials: {access_key: %[2]s, secret_key: %[3]s}\ntargets:\n%[4]s",
		e.srv.URL, dcsapitest.TestAccessKey, dcsapitest.TestSecretKey, targetsYAML)
	cfg, err := config.Parse([]byte(doc), "test.yml")
	if err != nil {
		e.t.Fatalf("config: %v\n%s", err, doc)
	}
	if err := e.exp.ApplyConfig(cfg); err != nil {
		e.t.Fatal(err)
	}
}

// scrape serves /metrics (or /probe when target is set) once and returns
// the body.
func (e *env) scrape(target string) string {
	e.t.Helper()
	h := e.exp.MetricsHandler(nil)
	url := "/metrics"
	if target != "" {
		h, url = e.exp.ProbeHandler(), "/probe?target="+target
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, url, nil))
	if rec.Code != http.StatusOK {
		e.t.Fatalf("%s: HTTP %d: %s", url, rec.Code, rec.Body)
	}
	return rec.Body.String()
}

// logBuffer collects log output from concurrent goroutines.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// compareGolden compares a whole exposition with testdata/NAME.prom,
// semantically (testutil parses both sides), and lints it.
func compareGolden(t *testing.T, name, got string) {
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
		w.Header().Set("Content-Type", contentType)
		_, _ = io.WriteString(w, got)
	}))
	defer srv.Close()
	if err := testutil.ScrapeAndCompare(srv.URL, bytes.NewReader(want)); err != nil {
		t.Errorf("exposition differs from %s:\n%v", path, err)
	}
	lint(t, got)
}

func lint(t *testing.T, text string) {
	t.Helper()
	problems, err := promlint.New(strings.NewReader(text)).Lint()
	if err != nil {
		t.Fatalf("lint: %v", err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
}

const targetA = `  - name: prod
    region: cn-north-4
    project_id: ` + projectA + `
    labels: {env: prod, team: cache}
`

const targetB = `  - name: staging
    region: ap-southeast-1
    project_id: ` + projectB + `
`

func TestNormalAnswer(t *testing.T) {
	e := newEnv(t, Options{}, targetA)
	compareGolden(t, "normal", e.scrape(""))
}

func TestAbsentStatesAreZero(t *testing.T) {
	e := newEnv(t, Options{}, targetA)
	e.srv.SetStatusOverride(projectA, []byte(`{"running_count":2,"redis":{"running_count":2}}`))
	compareGolden(t, "absent_states", e.scrape("prod"))
}

func TestUnknownStateAndEngine(t *testing.T) {
	e := newEnv(t, Options{}, targetA)
	e.srv.SetStatusOverride(projectA, []byte(`{"running_count":3,"hibernating_count":1,
		"redis":{"running_count":1,"hibernating_count":1},"valkey":{"running_count":2,"note":"ignored"}}`))
	got := e.scrape("prod")
	compareGolden(t, "new_state_and_engine", got)
	for _, line := range []string{
		`engine="valkey",state="running"} 2`,
		`engine="redis",state="hibernating"} 1`,
		`dcs_instances_all_engines{target="prod",region="cn-north-4",project_id="` + projectA + `",env="prod",team="cache",state="hibernating"} 1`,
	} {
		if !strings.Contains(got, line) {
			t.Errorf("missing %s", line)
		}
	}
	if strings.Contains(got, `engine="valkey",state="error"`) {
		t.Error("documented states are filled in for an engine the API does not document")
	}
}

func TestV1Answer(t *testing.T) {
	e := newEnv(t, Options{}, targetA+"    api_version: v1\n")
	got := e.scrape("prod")
	compareGolden(t, "v1", got)
	if strings.Contains(got, `engine="memcached"`) {
		t.Error("v1 has no memcached object")
	}
	if e.srv.Requests(dcsapitest.APIInstanceStatus) != 1 {
		t.Errorf("status requests = %d", e.srv.Requests(dcsapitest.APIInstanceStatus))
	}
}

func TestFailingTargetAmongHealthy(t *testing.T) {
	alone := newEnv(t, Options{}, targetA)
	healthyAlone := linesOf(alone.scrape(""), `target="prod"`)

	e := newEnv(t, Options{}, targetA+targetB)
	e.srv.InjectFault(projectB, dcsapitest.APIInstanceStatus, dcsapitest.Fault{Kind: dcsapitest.FaultStatus, Status: 500})
	all := e.scrape("")
	compareGolden(t, "one_failing", all)
	if got := linesOf(all, `target="prod"`); got != healthyAlone {
		t.Errorf("the healthy target's series changed next to a failing one:\n%s\nwant\n%s", got, healthyAlone)
	}
	if !strings.Contains(all, `dcs_up{target="staging",region="ap-southeast-1",project_id="`+projectB+`"} 0`) {
		t.Error("the failing target is not down")
	}
}

func TestStaleCountsServedThenExpire(t *testing.T) {
	e := newEnv(t, Options{MaxStaleness: 5 * time.Minute}, targetA)
	e.scrape("prod")
	e.srv.InjectFault(projectA, dcsapitest.APIInstanceStatus, dcsapitest.Fault{Kind: dcsapitest.FaultStatus, Status: 503})

	e.clock.Advance(time.Minute)
	compareGolden(t, "stale_served", e.scrape("prod"))

	e.clock.Advance(4*time.Minute + time.Second)
	got := e.scrape("prod")
	compareGolden(t, "stale_expired", got)
	if strings.Contains(got, "dcs_instances{") {
		t.Error("counts older than max staleness are still served")
	}
}

func TestNoStalenessNeverServesOldCounts(t *testing.T) {
	e := newEnv(t, Options{MaxStaleness: 0}, targetA)
	e.scrape("prod")
	e.srv.InjectFault(projectA, dcsapitest.APIInstanceStatus, dcsapitest.Fault{Kind: dcsapitest.FaultStatus, Status: 503})
	if got := e.scrape("prod"); strings.Contains(got, "dcs_instances{") {
		t.Errorf("old counts served with --dcs.max-staleness=0:\n%s", got)
	}
}

func TestCachedModeServesWithoutCalling(t *testing.T) {
	e := newEnv(t, Options{RefreshInterval: time.Hour}, targetA+targetB)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() { e.exp.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	waitFor(t, e.exp.Ready)
	if n := e.srv.Requests(dcsapitest.APIInstanceStatus); n != 2 {
		t.Fatalf("first refresh made %d status calls, want 2", n)
	}
	for range 20 {
		e.scrape("")
		e.scrape("prod")
	}
	if n := e.srv.Requests(dcsapitest.APIInstanceStatus); n != 2 {
		t.Fatalf("scrapes in cached mode called the API: %d calls", n)
	}
	// A reload that adds a target refreshes only the new one.
	e.apply(targetA + targetB + "  - name: third\n    region: cn-north-4\n    project_id: " + projectA + "\n")
	waitFor(t, func() bool { return e.srv.Requests(dcsapitest.APIInstanceStatus) == 3 })
	time.Sleep(50 * time.Millisecond)
	if n := e.srv.Requests(dcsapitest.APIInstanceStatus); n != 3 {
		t.Fatalf("reload made %d calls in all, want 3", n)
	}
}

func TestCachedModeRefreshesEachInterval(t *testing.T) {
	// An interval of two seconds leaves each round's calls, a few
	// milliseconds on loopback, two seconds to finish before the next round.
	e := newEnv(t, Options{RefreshInterval: 2 * time.Second}, targetA+targetB)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { e.exp.Run(ctx); close(done) }()
	waitFor(t, func() bool { return e.srv.Requests(dcsapitest.APIInstanceStatus) >= 4 })
	cancel()
	<-done
	a, b := e.srv.ProjectRequests(projectA, dcsapitest.APIInstanceStatus), e.srv.ProjectRequests(projectB, dcsapitest.APIInstanceStatus)
	if a-b > 1 || b-a > 1 {
		t.Errorf("refresh rounds are uneven: %d and %d calls", a, b)
	}
}

func TestConcurrentScrapesShareOneCall(t *testing.T) {
	e := newEnv(t, Options{MaxConcurrency: 1}, targetA)
	// The only API slot is taken, so the first scrape's query cannot call
	// the API until every scrape is waiting for it.
	e.exp.sem <- struct{}{}
	var wg sync.WaitGroup
	for range 50 {
		wg.Add(1)
		go func() { defer wg.Done(); e.scrape("prod") }()
	}
	waitFor(t, func() bool { return goroutinesWaitingIn("collector.(*Exporter).collect(") == 50 })
	<-e.exp.sem
	wg.Wait()
	if n := e.srv.Requests(dcsapitest.APIInstanceStatus); n != 1 {
		t.Errorf("50 concurrent scrapes made %d calls, want 1", n)
	}
}

// goroutinesWaitingIn counts the goroutines blocked in a select inside the
// function fn (as a stack trace spells it): scrapes that have started or
// joined their targets' queries and wait for them.
func goroutinesWaitingIn(fn string) int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	count := 0
	for _, g := range strings.Split(string(buf), "\n\n") {
		header, _, _ := strings.Cut(g, "\n")
		if strings.Contains(header, "[select") && strings.Contains(g, fn) {
			count++
		}
	}
	return count
}

func TestScrapeTimeoutHeaderIsHonoured(t *testing.T) {
	// The hanging target's own timeout is 30 s: a scrape that waited for it
	// instead of the scrape's deadline would take that long. The healthy
	// target's query has the 2.7 s until the deadline, plenty on loopback.
	e := newEnv(t, Options{}, targetA+targetB+"    timeout: 30s\n")
	e.srv.InjectFault(projectB, dcsapitest.APIInstanceStatus, dcsapitest.Fault{Kind: dcsapitest.FaultHang})
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	req.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", "3")
	rec := httptest.NewRecorder()
	start := time.Now()
	e.exp.MetricsHandler(nil).ServeHTTP(rec, req)
	// The answer is due 2.7 s after the start; TestScrapeDeadline pins that
	// margin exactly, so the wall clock here only has to tell the deadline
	// from the target's timeout, with room for a busy machine.
	if took := time.Since(start); took < 2700*time.Millisecond || took > 12*time.Second {
		t.Errorf("answered after %v, want at the scrape deadline 2.7 s after the start", took)
	}
	body := rec.Body.String()
	if !strings.Contains(body, `dcs_up{target="staging",region="ap-southeast-1",project_id="`+projectB+`"} 0`) {
		t.Errorf("the hanging target is not down:\n%s", body)
	}
	if !strings.Contains(body, `dcs_up{target="prod",region="cn-north-4",project_id="`+projectA+`",env="prod",team="cache"} 1`) {
		t.Errorf("the healthy target is not up:\n%s", body)
	}
}

func TestAuthFailureBacksOff(t *testing.T) {
	e := newEnv(t, Options{AuthBackoff: time.Minute, MaxAuthBackoff: 10 * time.Minute}, targetA)
	e.apply(strings.Replace(targetA, "labels:", "credentials: {access_key: WRONGAK, secret_key: NotTheSecretKey4711}\n    labels:", 1))
	calls := func() int { return e.srv.Requests(dcsapitest.APIInstanceStatus) }
	for range 10 {
		e.scrape("prod")
	}
	if n := calls(); n != 1 {
		t.Fatalf("10 scrapes with a refused key made %d calls, want 1", n)
	}
	// Each step of the backoff, a minute and then twice as long, is checked
	// just before it ends (no call) and just after (one call).
	for i, step := range []time.Duration{time.Minute, 2 * time.Minute} {
		e.clock.Advance(step - time.Second)
		e.scrape("prod")
		if n := calls(); n != i+1 {
			t.Fatalf("backoff step %d (%v): called again after %v", i+1, step, step-time.Second)
		}
		e.clock.Advance(2 * time.Second)
		e.scrape("prod")
		if n := calls(); n != i+2 {
			t.Fatalf("backoff step %d (%v): not called again after %v", i+1, step, step+time.Second)
		}
	}
	if c := strings.Count(e.logs.String(), "query failed"); c != 1 {
		t.Errorf("the same failure was logged %d times, want once:\n%s", c, e.logs)
	}
	if strings.Contains(e.logs.String(), "NotTheSecretKey4711") {
		t.Error("the secret key reached the log")
	}
}

func TestThrottlingHonoursRetryAfter(t *testing.T) {
	e := newEnv(t, Options{ThrottleBackoff: time.Second, MaxThrottleBackoff: time.Minute}, targetA)
	e.srv.InjectFault(projectA, dcsapitest.APIInstanceStatus, dcsapitest.Fault{Kind: dcsapitest.FaultThrottle, RetryAfter: 30 * time.Second, Times: 1})
	got := e.scrape("prod")
	if !strings.Contains(got, `api="instance_status",code="429"} 1`) {
		t.Errorf("429 not counted:\n%s", got)
	}
	e.clock.Advance(20 * time.Second)
	e.scrape("prod")
	if n := e.srv.Requests(dcsapitest.APIInstanceStatus); n != 1 {
		t.Fatalf("called again %d times within Retry-After", n-1)
	}
	e.clock.Advance(11 * time.Second)
	if got := e.scrape("prod"); !strings.Contains(got, "dcs_up{target=\"prod\",region=\"cn-north-4\",project_id=\""+projectA+"\",env=\"prod\",team=\"cache\"} 1") {
		t.Errorf("not up after Retry-After:\n%s", got)
	}
}

func TestProjectDiscoveryLabel(t *testing.T) {
	e := newEnv(t, Options{}, "  - name: discovered\n    region: cn-north-4\n")
	got := e.scrape("discovered")
	if !strings.Contains(got, `dcs_up{target="discovered",region="cn-north-4",project_id="`+projectA+`"} 1`) {
		t.Errorf("discovered project id missing:\n%s", got)
	}
	e.scrape("discovered")
	if n := e.srv.Requests(dcsapitest.APIIAMProjects); n != 1 {
		t.Errorf("IAM asked %d times, want once", n)
	}
}

func TestReloadKeepsUnchangedTargets(t *testing.T) {
	e := newEnv(t, Options{}, targetA+targetB)
	e.scrape("")
	before := e.exp.Target("prod")
	e.apply(targetA)
	if e.exp.Target("prod") != before {
		t.Error("an unchanged target was rebuilt")
	}
	if e.exp.Target("staging") != nil {
		t.Error("a removed target is still served")
	}
	if got := e.scrape(""); strings.Contains(got, `target="staging"`) {
		t.Error("a removed target's series are still served")
	}
}

func TestUnknownProbeTarget(t *testing.T) {
	e := newEnv(t, Options{}, targetA)
	for url, want := range map[string]int{"/probe?target=nope": 404, "/probe": 400} {
		rec := httptest.NewRecorder()
		e.exp.ProbeHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, url, nil))
		if rec.Code != want {
			t.Errorf("%s: HTTP %d, want %d", url, rec.Code, want)
		}
	}
}

func TestGzip(t *testing.T) {
	e := newEnv(t, Options{}, targetA)
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	rec := httptest.NewRecorder()
	e.exp.MetricsHandler(nil).ServeHTTP(rec, req)
	if rec.Header().Get("Content-Encoding") != "gzip" {
		t.Fatal("no gzip answer")
	}
	body, err := gunzip(rec.Body.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(body), "dcs_up{") {
		t.Error("gzip body lacks the series")
	}
}

// waitPatience bounds every wait for something that normally takes
// milliseconds. It runs out only when a test is failing anyway, so it is
// generous enough for the race detector on a machine busy with other work.
const waitPatience = 30 * time.Second

// waitFor checks cond every few milliseconds until it holds.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitPatience)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %v", waitPatience)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// linesOf returns the lines of an exposition that contain substr.
func linesOf(text, substr string) string {
	var out []string
	for _, line := range strings.Split(text, "\n") {
		if strings.Contains(line, substr) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}

func TestScrapeDeadline(t *testing.T) {
	now := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	for header, want := range map[string]time.Duration{
		"":     29500 * time.Millisecond, // no header: 30 s
		"10":   9500 * time.Millisecond,
		"1":    900 * time.Millisecond,
		"0.1":  50 * time.Millisecond,
		"300":  maxScrapeWait - 500*time.Millisecond, // capped below the server's write timeout
		"junk": 29500 * time.Millisecond,
	} {
		r := httptest.NewRequest(http.MethodGet, "/metrics", nil)
		if header != "" {
			r.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", header)
		}
		if got := scrapeDeadline(r, now).Sub(now); got != want {
			t.Errorf("timeout %q: wait %v, want %v", header, got, want)
		}
	}
}

// probeWithTimeout probes one target with the scrape timeout Prometheus
// would announce.
func (e *env) probeWithTimeout(target, timeout string) string {
	e.t.Helper()
	req := httptest.NewRequest(http.MethodGet, "/probe?target="+target, nil)
	req.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", timeout)
	rec := httptest.NewRecorder()
	e.exp.ProbeHandler().ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		e.t.Fatalf("HTTP %d: %s", rec.Code, rec.Body)
	}
	return rec.Body.String()
}

const prodUp = `dcs_up{target="prod",region="cn-north-4",project_id="` + projectA + `",env="prod",team="cache"} `

func TestTimedOutScrapeObeysStaleness(t *testing.T) {
	e := newEnv(t, Options{MaxStaleness: 5 * time.Minute}, targetA)
	e.scrape("prod")
	e.clock.Advance(time.Hour)
	e.srv.InjectFault(projectA, dcsapitest.APIInstanceStatus, dcsapitest.Fault{Kind: dcsapitest.FaultHang})
	got := e.probeWithTimeout("prod", "0.5")
	if !strings.Contains(got, prodUp+"0") {
		t.Errorf("a timed-out target is not down:\n%s", got)
	}
	if strings.Contains(got, "dcs_instances{") {
		t.Errorf("a timed-out scrape served counts an hour old:\n%s", got)
	}
}

func TestQueryWithoutAPISlotIsDown(t *testing.T) {
	e := newEnv(t, Options{MaxConcurrency: 1, MaxStaleness: 5 * time.Minute}, targetA)
	e.scrape("prod")
	e.clock.Advance(time.Hour)
	e.exp.sem <- struct{}{} // every API slot is taken
	defer func() { <-e.exp.sem }()
	got := e.probeWithTimeout("prod", "0.3")
	if !strings.Contains(got, prodUp+"0") || strings.Contains(got, "dcs_instances{") {
		t.Errorf("a target whose query found no API slot is up or shows old counts:\n%s", got)
	}
	// The scrape may stop waiting a moment before the query gives up.
	waitFor(t, func() bool { return strings.Contains(e.logs.String(), "no free API slot") })
}

func TestSlowTargetUsesLateAnswers(t *testing.T) {
	e := newEnv(t, Options{}, targetA)
	tg := e.exp.Target("prod")
	idle := func() bool {
		tg.mu.Lock()
		defer tg.mu.Unlock()
		return tg.inflight == nil
	}
	calls := func() int { return e.srv.Requests(dcsapitest.APIInstanceStatus) }
	// Queries take 2 s. A scrape timeout of 2 s leaves 1.8 s to wait
	// (TestScrapeDeadline), which is too short for them, yet leaves a fast
	// query more than a second to spare on a busy machine.
	const slow, timeout = 2 * time.Second, "2"
	e.srv.SetLatency(slow)

	// The first scrape, with 50 ms to wait, gives up on its query.
	if got := e.probeWithTimeout("prod", "0.1"); !strings.Contains(got, prodUp+"0") {
		t.Errorf("a scrape that could not wait for its query is up:\n%s", got)
	}
	// Each later scrape serves the answer of the query before it, and
	// starts the next one without waiting for it.
	waitFor(t, idle)
	if got := e.probeWithTimeout("prod", timeout); !strings.Contains(got, prodUp+"1") {
		t.Errorf("a target slower than the scrape timeout is down although its queries succeed:\n%s", got)
	}
	waitFor(t, idle)
	e.srv.SetLatency(0) // from the next query on
	if got := e.probeWithTimeout("prod", timeout); !strings.Contains(got, prodUp+"1") {
		t.Errorf("the second late answer was not served:\n%s", got)
	}
	// Once the target is fast again, a scrape waits for a fresh answer.
	waitFor(t, idle)
	if n := calls(); n != 3 {
		t.Errorf("%d status calls for 3 scrapes, want one each", n)
	}
	if got := e.probeWithTimeout("prod", timeout); !strings.Contains(got, prodUp+"1") {
		t.Errorf("not up once fast again:\n%s", got)
	}
	if n := calls(); n != 4 {
		t.Errorf("a fast target's scrape made %d calls, want 1", n-3)
	}
	if !idle() {
		t.Error("the scrape of a fast target did not wait for its query")
	}
}

// sampleValue returns the value of the one sample of metric in an
// exposition.
func sampleValue(t *testing.T, text, metric string) float64 {
	t.Helper()
	lines := series(text, metric)
	if len(lines) != 1 {
		t.Fatalf("%d samples of %s, want 1:\n%s", len(lines), metric, text)
	}
	v, err := strconv.ParseFloat(lines[0][strings.LastIndexByte(lines[0], ' ')+1:], 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestScrapeDurationIsMeasured runs on the real clock, which the golden
// files cannot: the query's duration must cover the API's delay and fit in
// the scrape's wall time, after a success and after a failure alike.
func TestScrapeDurationIsMeasured(t *testing.T) {
	const latency = 300 * time.Millisecond
	e := newEnv(t, Options{Now: time.Now}, targetA)
	e.srv.SetLatency(latency)
	for _, failing := range []bool{false, true} {
		if failing {
			e.srv.InjectFault(projectA, dcsapitest.APIInstanceStatus, dcsapitest.Fault{Kind: dcsapitest.FaultStatus, Status: 500})
		}
		start := time.Now()
		got := e.scrape("prod")
		wall := time.Since(start)
		if up := sampleValue(t, got, "dcs_up"); (up == 1) != !failing {
			t.Fatalf("failing %t: dcs_up %g", failing, up)
		}
		d := sampleValue(t, got, "dcs_scrape_duration_seconds")
		if d < latency.Seconds() || d > wall.Seconds() {
			t.Errorf("failing %t: dcs_scrape_duration_seconds %g, want between the API's delay %g and the scrape's %g", failing, d, latency.Seconds(), wall.Seconds())
		}
		if !failing {
			last := sampleValue(t, got, "dcs_last_success_timestamp_seconds")
			// The exposition keeps milliseconds.
			if last < float64(start.UnixMilli())/1000 || last > float64(time.Now().UnixMilli())/1000 {
				t.Errorf("dcs_last_success_timestamp_seconds %f is not within the scrape (%v, %v)", last, start, time.Now())
			}
		}
	}
}
