package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"runtime/metrics"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.uber.org/goleak"
	"go.yaml.in/yaml/v3"

	"github.com/dcs-exporter/dcs_exporter/config"
	"github.com/dcs-exporter/dcs_exporter/dcsapi/dcsapitest"
)

// The reliability tests sign with a temporary key, so that both the secret
// key and the security token travel through every code path and can be
// looked for afterwards. Neither is a real credential.
const (
	hygieneAccessKey = "HPUAHYGIENEAK0000042"
	hygieneSecretKey = "HygieneSecretKey-mustNeverLeak-5c1f0e"
	hygieneToken     = "HygieneSecurityToken-mustNeverLeak-a7d93b"
	projectFaulty    = "0000000000000000000000000000faul"
)

// leakMarkers are fragments of the secrets: a leak of part of a secret (a
// truncated message, say) is still a leak.
var leakMarkers = []string{hygieneSecretKey, hygieneToken, "HygieneSecretKey", "HygieneSecurityToken", "mustNeverLeak"}

// findLeak returns the first secret fragment text contains, or "".
func findLeak(text string) string {
	for _, m := range leakMarkers {
		if strings.Contains(text, m) {
			return m
		}
	}
	return ""
}

// roomyTimeout is the timeout, of targets and of scrapes, wherever nothing
// is meant to time out: under the race detector, beside other work on two
// cores, a local answer has been seen to take over 5 s, and reading an
// oversized one to the size cap longer still.
const roomyTimeout = 30 * time.Second

// hangScrapeTimeout is the scrape timeout announced where the faulty
// target's API hangs. The exporter stops waiting for its targets 300 ms
// before it: too little to check on the wall clock of a busy machine, so
// collector's TestScrapeDeadline pins that margin on an injected clock.
const hangScrapeTimeout = 3 * time.Second

// hangAnswerLimit is the time within which the answers must arrive when the
// API hangs: the exporter's deadline of 2.7 s with more than 3 s to spare
// for the client's side of the exchange (2.3 s has been seen under the race
// detector beside two CPU burners), and a second more under the race
// detector.
var hangAnswerLimit = func() time.Duration {
	if underRace {
		return hangScrapeTimeout + 4*time.Second
	}
	return hangScrapeTimeout + 3*time.Second
}()

// hangTimeout is the faulty target's own timeout where its API hangs: 3 s
// beyond hangAnswerLimit, so that an exporter that waited for the target
// instead of the scrape's deadline fails the check by a clear margin.
var hangTimeout = hangAnswerLimit + 3*time.Second

// patience bounds every wait for something that normally takes
// milliseconds. It runs out only when the test is failing anyway, so it can
// be generous enough for the race detector on a machine that is busy with
// other work.
const patience = 20 * time.Second

// waitUntil checks cond every few milliseconds until it holds, and reports
// false if it still does not after patience.
func waitUntil(cond func() bool) bool {
	deadline := time.Now().Add(patience)
	for !cond() {
		if time.Now().After(deadline) {
			return cond()
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}

// faultCase is one row of the fault matrix: a fault the fake API injects
// into the status calls of the faulty target, and what the exporter must
// make of it besides dcs_up 0.
type faultCase struct {
	name    string
	fault   *dcsapitest.Fault // nil with refused, and for the control row
	refused bool              // nothing listens at the target's endpoint
	timeout time.Duration     // the faulty target's timeout; 2.5s when 0, roomyTimeout in the matrix
	// errorCode is the error_code the log line must carry; requestID says
	// that it must carry the answer's request id.
	errorCode string
	requestID bool
	// oneCall: backoff allows a single status call in the whole case.
	oneCall bool
	up      bool // the control row: no fault at all
}

func (c faultCase) hangs() bool { return c.fault != nil && c.fault.Kind == dcsapitest.FaultHang }

// scrapeTimeout is the scrape timeout the case announces.
func (c faultCase) scrapeTimeout() time.Duration {
	if c.hangs() {
		return hangScrapeTimeout
	}
	return roomyTimeout
}

// answerLimit is the time within which the case's answers must arrive.
// Where the API does not hang the exporter waits for no deadline, and
// answers long before the scrape timeout.
func (c faultCase) answerLimit() time.Duration {
	if c.hangs() {
		return hangAnswerLimit
	}
	return roomyTimeout
}

func faultMatrix() []faultCase {
	f := func(k dcsapitest.FaultKind) *dcsapitest.Fault { return &dcsapitest.Fault{Kind: k} }
	status := func(code int) *dcsapitest.Fault { return &dcsapitest.Fault{Kind: dcsapitest.FaultStatus, Status: code} }
	cases := []faultCase{
		{name: "none", up: true},
		{name: "http_400", fault: status(400), errorCode: "APIGW.0201", requestID: true},
		{name: "http_401", fault: status(401), errorCode: "APIGW.0301", requestID: true, oneCall: true},
		{name: "http_403", fault: status(403), errorCode: "APIGW.0302", requestID: true, oneCall: true},
		{name: "http_404", fault: status(404), errorCode: "APIGW.0101", requestID: true},
		{name: "http_429_retry_after", fault: &dcsapitest.Fault{Kind: dcsapitest.FaultThrottle, RetryAfter: time.Minute}, errorCode: "APIGW.0308", requestID: true, oneCall: true},
		{name: "http_500", fault: status(500), errorCode: "DCS.5000", requestID: true},
		{name: "http_502_html", fault: &dcsapitest.Fault{Kind: dcsapitest.FaultHTML, Status: 502}, requestID: true},
		{name: "http_503", fault: status(503), errorCode: "APIGW.0201", requestID: true},
		{name: "connection_refused", refused: true},
		{name: "reset_mid_body", fault: f(dcsapitest.FaultReset)},
		// The target's timeout is longer than the scrape's: the scrape
		// deadline strikes first, and the next scrape joins the query.
		{name: "hang", fault: f(dcsapitest.FaultHang), timeout: hangTimeout},
		// Always cut off by the target's timeout, and always while the body
		// is read: the headers come after half a second (the timeout
		// leaves 4.5 s more for a busy machine), 8 bytes of the body every
		// half second after them, too slow for any status body to finish.
		{name: "trickle", fault: &dcsapitest.Fault{Kind: dcsapitest.FaultTrickle, Delay: 500 * time.Millisecond}, timeout: 5 * time.Second},
		{name: "truncated_json", fault: f(dcsapitest.FaultTruncatedJSON), requestID: true},
		{name: "malformed_json", fault: f(dcsapitest.FaultMalformedJSON), requestID: true},
		{name: "wrong_types", fault: f(dcsapitest.FaultWrongTypes), requestID: true},
		{name: "negative_count", fault: f(dcsapitest.FaultNegativeCount), requestID: true},
		{name: "huge_number", fault: f(dcsapitest.FaultHugeNumber), requestID: true},
		{name: "empty_body", fault: f(dcsapitest.FaultEmptyBody), requestID: true},
		// Never followed: the Location is a port nothing listens on, and a
		// followed redirect would fail differently (connection refused).
		{name: "redirect_302", fault: &dcsapitest.Fault{Kind: dcsapitest.FaultRedirect, Location: "http://127.0.0.1:9/elsewhere?token=x"}},
		// Reading to the 8 MiB cap can take seconds under the race detector
		// on a busy machine; it must fail as too large, not as too slow.
		{name: "oversized_256MiB", fault: f(dcsapitest.FaultOversized)},
		{name: "oversized_256MiB_chunked", fault: &dcsapitest.Fault{Kind: dcsapitest.FaultOversized, Chunked: true}},
	}
	for i := range cases {
		if cases[i].timeout == 0 {
			// Each failure must read the same however slow the machine:
			// never a timeout where the API answers at once.
			cases[i].timeout = roomyTimeout
		}
	}
	return cases
}

// faultEnv is the whole exporter, as newHarness builds it, with a faulty
// target beside the two healthy ones. Unlike newHarness it reports errors
// instead of failing a test, so that the cases can run in goroutines of
// their own, many at once: t.Parallel would run only GOMAXPROCS of them at
// a time, two on a small CI machine, and the cases mostly wait.
type faultEnv struct {
	fake    *dcsapitest.Server
	app     *app
	srv     *httptest.Server
	logs    *syncBuffer
	cancel  context.CancelFunc
	done    chan struct{}
	release func() // frees what the case held besides the fake; may be nil
}

func faultConfig(apiURL, faultyURL string, faultyTimeout time.Duration) string {
	return envConfig(apiURL, faultyURL, roomyTimeout, faultyTimeout)
}

// envConfig is faultConfig with the healthy targets' timeout too.
func envConfig(apiURL, faultyURL string, timeout, faultyTimeout time.Duration) string {
	return fmt.Sprintf(`defaults:
  endpoint: %[1]s
  iam_endpoint: %[1]s
  timeout: %[9]s
  credentials:
    access_key: %[2]s
    secret_key: %[3]s
    security_token: %[4]s
targets:
  - name: prod
    region: cn-north-4
    labels: {env: prod}
  - name: staging
    region: ap-southeast-1
    project_id: %[5]s
    labels: {env: staging}
  - name: faulty
    region: cn-north-4
    project_id: %[6]s
    endpoint: %[7]s
    timeout: %[8]s
    labels: {env: faulty}
`, apiURL, hygieneAccessKey, hygieneSecretKey, hygieneToken, projectStaging, projectFaulty, faultyURL, faultyTimeout, timeout)
}

// newFaultFake is the fake API of the reliability tests: the fleets of
// newHarness, a faulty project, and the temporary key.
func newFaultFake() *dcsapitest.Server {
	fake := dcsapitest.NewServer()
	fake.AddTemporaryKey(hygieneAccessKey, hygieneSecretKey, hygieneToken)
	fake.AddProject("cn-north-4", projectProd)
	fake.AddProject("ap-southeast-1", projectStaging)
	fake.SetInstances(projectProd, dcsapitest.SampleFleet(25))
	fake.SetInstances(projectStaging, dcsapitest.SampleFleet(4))
	fake.SetInstances(projectFaulty, dcsapitest.SampleFleet(3))
	return fake
}

func startFaultEnv(dir string, c faultCase, extraArgs ...string) (*faultEnv, error) {
	fake := newFaultFake()
	faultyURL := fake.URL
	release := func() {}
	if c.refused {
		addr, releaseAddr, err := refusedAddr()
		if err != nil {
			fake.Close()
			return nil, err
		}
		faultyURL, release = "http://"+addr, releaseAddr
	}
	if c.fault != nil {
		fake.InjectFault(projectFaulty, dcsapitest.APIInstanceStatus, *c.fault)
	}
	timeout := c.timeout
	if timeout == 0 {
		// Room for the retries of a 500 on a busy machine: should a retry
		// run out of time, the same failure would read differently.
		timeout = 2500 * time.Millisecond
	}
	e, err := startEnv(dir, fake, envRoute{api: fake.URL, faulty: faultyURL, faultyTimeout: timeout}, extraArgs...)
	if err != nil {
		release()
		return nil, err
	}
	e.release = release
	return e, nil
}

// envRoute says where the exporter of a faultEnv finds the API, and how it
// serves.
type envRoute struct {
	api, faulty   string        // base URLs: of every API, of the faulty target's DCS API
	faultyTimeout time.Duration // the faulty target's timeout
	timeout       time.Duration // the other targets' timeout; roomyTimeout when 0
	// wrap, when set, wraps the exporter's handler, so that a test can see
	// requests arrive.
	wrap func(http.Handler) http.Handler
}

// startEnv starts the exporter of a faultEnv in front of fake, which it then
// owns, with the API where route says.
func startEnv(dir string, fake *dcsapitest.Server, route envRoute, extraArgs ...string) (*faultEnv, error) {
	configFile := filepath.Join(dir, "dcs_exporter.yml")
	timeout := route.timeout
	if timeout == 0 {
		timeout = roomyTimeout
	}
	if err := os.WriteFile(configFile, []byte(envConfig(route.api, route.faulty, timeout, route.faultyTimeout)), 0o600); err != nil {
		fake.Close()
		return nil, err
	}
	e := &faultEnv{fake: fake, logs: &syncBuffer{}, done: make(chan struct{})}
	var ctx context.Context
	ctx, e.cancel = context.WithCancel(context.Background())
	args := append([]string{"--config.file=" + configFile, "--log.level=debug"}, extraArgs...)
	a, err := newApp(ctx, args, e.logs)
	if err != nil {
		e.cancel()
		fake.Close()
		return nil, err
	}
	e.app = a
	go func() { a.exporter.Run(ctx); close(e.done) }()
	handler := a.handler
	if route.wrap != nil {
		handler = route.wrap(handler)
	}
	e.srv = httptest.NewServer(handler)
	return e, nil
}

func (e *faultEnv) close() {
	e.srv.Close()
	e.cancel()
	<-e.done
	e.app.close()
	e.fake.Close()
	if e.release != nil {
		e.release()
	}
}

// refusedAddr returns an address of 127.0.0.1 where connections are refused
// until release is called. A port that is only closed again, as closedPort
// leaves it, can be given to a listener of a test running meanwhile (the
// fault matrix alone starts dozens), which would then answer in its place
// and make the failure read differently. Here the port stays the local end
// of an open connection: that refuses connections, and keeps every listener
// off the port.
func refusedAddr() (addr string, release func(), err error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	defer l.Close()
	client, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		return "", nil, err
	}
	server, err := l.Accept()
	if err != nil {
		client.Close()
		return "", nil, err
	}
	return client.LocalAddr().String(), func() { client.Close(); server.Close() }, nil
}

// closedPort returns an address of 127.0.0.1 where nothing listens, so that
// connecting to it is refused.
func closedPort() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return addr
}

// scrapeResult is one scrape as a client saw it.
type scrapeResult struct {
	path    string
	code    int
	body    string
	elapsed time.Duration
	err     error
}

func scrapeOnce(client *http.Client, base, path string, timeout time.Duration) scrapeResult {
	a := scrapeResult{path: path}
	req, err := http.NewRequest(http.MethodGet, base+path, nil)
	if err != nil {
		a.err = err
		return a
	}
	if timeout > 0 {
		req.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", fmt.Sprintf("%g", timeout.Seconds()))
	}
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		a.err = err
		return a
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	a.elapsed, a.code, a.body, a.err = time.Since(start), resp.StatusCode, string(body), err
	return a
}

// scrapeRound scrapes /metrics and both kinds of /probe at once, as several
// Prometheus servers would.
func scrapeRound(client *http.Client, base string, timeout time.Duration) []scrapeResult {
	paths := []string{"/metrics", "/probe?target=faulty", "/probe?target=prod"}
	out := make([]scrapeResult, len(paths))
	var wg sync.WaitGroup
	for i, p := range paths {
		wg.Add(1)
		go func() { defer wg.Done(); out[i] = scrapeOnce(client, base, p, timeout) }()
	}
	wg.Wait()
	return out
}

// healthyLines keeps the lines of the healthy targets that do not depend on
// the clock or on how often the API was called.
func healthyLines(exposition string) string {
	var out []string
	for _, line := range strings.Split(stable(exposition), "\n") {
		if strings.HasPrefix(line, "#") || strings.HasPrefix(line, "dcs_api_requests_total") || strings.Contains(line, "<varies>") {
			continue
		}
		if strings.Contains(line, `target="prod"`) || strings.Contains(line, `target="staging"`) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}

var faultyUp = regexp.MustCompile(`(?m)^dcs_up\{target="faulty"[^}]*\} (\S+)$`)

// caseResult is what one case of the matrix saw, judged later on the test
// goroutine.
type caseResult struct {
	errs      []string
	metrics   string // the last /metrics answer
	probeProd string // the last /probe?target=prod answer
}

func (r *caseResult) errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

// runFaultCase drives one case and checks what needs no reference.
func runFaultCase(dir string, c faultCase, cached bool, client *http.Client) caseResult {
	var r caseResult
	var extra []string
	if cached {
		extra = append(extra, "--dcs.refresh-interval=100ms")
	}
	e, err := startFaultEnv(dir, c, extra...)
	if err != nil {
		r.errorf("start: %v", err)
		return r
	}
	defer e.close()
	// A first connection, so that the timed scrapes measure the exporter
	// rather than the start of a busy test process.
	if a := scrapeOnce(client, e.srv.URL, "/-/healthy", 0); a.err != nil {
		r.errorf("/-/healthy: %v", a.err)
	}

	if cached {
		// Scrapes only read the cache: wait until the faulty target has
		// been tried, so that the rounds see its failure.
		tried := waitUntil(func() bool {
			a := scrapeOnce(client, e.srv.URL, "/probe?target=faulty", c.scrapeTimeout())
			return strings.Contains(a.body, `dcs_scrape_duration_seconds{target="faulty"`)
		})
		if !tried {
			r.errorf("the faulty target was never tried in cached mode")
			return r
		}
	}
	var all []scrapeResult
	for round := range 3 {
		if cached && round > 0 {
			// Two more refreshes of every target in between, as the
			// fake counts them on a healthy one; the faulty one fails them
			// unless it is backing off or still waiting for its API.
			seen := e.fake.ProjectRequests(projectStaging, dcsapitest.APIInstanceStatus)
			if !waitUntil(func() bool { return e.fake.ProjectRequests(projectStaging, dcsapitest.APIInstanceStatus) >= seen+2 }) {
				r.errorf("cached mode stopped refreshing")
			}
		}
		all = append(all, scrapeRound(client, e.srv.URL, c.scrapeTimeout())...)
	}
	if c.hangs() && !waitUntil(func() bool { return strings.Contains(e.logs.String(), `msg="query failed" target=faulty`) }) {
		// The hanging query fails at the target's timeout, after the rounds.
		r.errorf("the hanging query did not fail at the target's timeout")
	}
	for _, path := range []string{"/", "/-/ready", "/-/healthy"} {
		all = append(all, scrapeOnce(client, e.srv.URL, path, 0))
	}

	for _, a := range all {
		switch {
		case a.err != nil:
			r.errorf("%s: %v", a.path, a.err)
		case a.code != http.StatusOK && a.path != "/-/ready":
			r.errorf("%s: HTTP %d: %.200s", a.path, a.code, a.body)
		case a.elapsed >= c.answerLimit():
			r.errorf("%s took %v: with a scrape timeout of %v the answer is due by %v", a.path, a.elapsed, c.scrapeTimeout(), c.answerLimit())
		}
		if leak := findLeak(a.body); leak != "" {
			r.errorf("%s shows the secret %q", a.path, leak)
		}
		if !strings.HasPrefix(a.path, "/probe") && a.path != "/metrics" {
			continue
		}
		if strings.Contains(a.path, "prod") {
			r.probeProd = a.body
			continue
		}
		if a.path == "/metrics" {
			r.metrics = a.body
		}
		m := faultyUp.FindStringSubmatch(a.body)
		want := "0"
		if c.up {
			want = "1"
		}
		if m == nil || m[1] != want {
			r.errorf("%s: faulty target's dcs_up is %v, want %s", a.path, m, want)
		}
	}

	logs := e.logs.String()
	if leak := findLeak(logs); leak != "" {
		r.errorf("the log shows the secret %q", leak)
	}
	var failures []string
	for _, line := range strings.Split(logs, "\n") {
		if strings.Contains(line, `msg="query failed"`) {
			if !strings.Contains(line, "target=faulty") {
				r.errorf("a healthy target failed: %s", line)
				continue
			}
			failures = append(failures, line)
		}
	}
	switch {
	case c.up && len(failures) > 0:
		r.errorf("failures logged without a fault: %q", failures)
	case !c.up && len(failures) != 1:
		r.errorf("the failure was logged %d times over many failed queries, want once:\n%s", len(failures), strings.Join(failures, "\n"))
	case !c.up:
		line := failures[0]
		if c.errorCode != "" && !strings.Contains(line, "error_code="+c.errorCode) {
			r.errorf("the log line lacks error_code=%s: %s", c.errorCode, line)
		}
		if c.requestID && !regexp.MustCompile(`request_id=[0-9a-f]{32}`).MatchString(line) {
			r.errorf("the log line lacks the request id: %s", line)
		}
	}
	if n := e.fake.ProjectRequests(projectFaulty, dcsapitest.APIInstanceStatus); c.oneCall && n != 1 {
		r.errorf("%d status calls while backing off, want 1", n)
	}
	if c.name == "http_429_retry_after" && !regexp.MustCompile(`dcs_api_requests_total\{target="faulty"[^}]*api="instance_status",code="429"\} 1\n`).MatchString(r.metrics) {
		r.errorf("the 429 is not counted in dcs_api_requests_total")
	}
	// Back to health, then into the same failure again: each change is
	// logged once more. (Not for the faults that last until a timeout or a
	// backoff, which would make the matrix much slower.)
	if c.fault != nil && !c.oneCall && c.fault.Kind != dcsapitest.FaultHang && c.fault.Kind != dcsapitest.FaultTrickle {
		e.fake.ClearFaults()
		r.waitFaultyUp(client, e.srv.URL, "1")
		e.fake.InjectFault(projectFaulty, dcsapitest.APIInstanceStatus, *c.fault)
		r.waitFaultyUp(client, e.srv.URL, "0")
		logs := e.logs.String()
		if n := strings.Count(logs, `msg="query failed" target=faulty`); n != 2 {
			r.errorf("failure, recovery and the same failure again: the failure was logged %d times, want 2", n)
		}
		if n := strings.Count(logs, `msg="target recovered" target=faulty`); n != 1 {
			r.errorf("the recovery was logged %d times, want once", n)
		}
	}
	return r
}

// waitFaultyUp scrapes the faulty target until its dcs_up is want, and
// then twice more.
func (r *caseResult) waitFaultyUp(client *http.Client, base, want string) {
	became := waitUntil(func() bool {
		m := faultyUp.FindStringSubmatch(scrapeOnce(client, base, "/probe?target=faulty", roomyTimeout).body)
		return m != nil && m[1] == want
	})
	if !became {
		r.errorf("the faulty target's dcs_up did not become %s", want)
		return
	}
	for range 2 {
		scrapeOnce(client, base, "/probe?target=faulty", roomyTimeout)
	}
}

// heapPeak samples the Go heap until stopped and reports the most it saw.
func heapPeak() (stop func() uint64) {
	var peak atomic.Uint64
	done := make(chan struct{})
	finished := make(chan struct{})
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	go func() {
		defer close(finished)
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			metrics.Read(sample)
			if v := sample[0].Value.Uint64(); v > peak.Load() {
				peak.Store(v)
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() uint64 {
		close(done)
		<-finished
		return peak.Load()
	}
}

// TestFaultMatrix injects every fault the fake API knows into one target of
// three, in on-scrape and in cached mode, and checks that the exporter
// keeps answering in time, keeps the healthy targets' series, reports the
// faulty one down, logs each failure once with its code and request id,
// leaks no secret, holds no oversized body, and leaves no goroutine behind.
func TestFaultMatrix(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	transport := &http.Transport{MaxIdleConnsPerHost: 8}
	client := &http.Client{Transport: transport, Timeout: 2 * roomyTimeout}
	peak := heapPeak()

	type key struct {
		name   string
		cached bool
	}
	cases := faultMatrix()
	// At most twenty cases at a time, the slowest first, so that the
	// cases' own load does not decide whether answers come in time.
	type job struct {
		c      faultCase
		cached bool
		dir    string
		out    chan caseResult
	}
	var jobs []job
	results := map[key]chan caseResult{}
	for _, cached := range []bool{false, true} {
		for _, c := range cases {
			j := job{c, cached, t.TempDir(), make(chan caseResult, 1)}
			results[key{c.name, cached}] = j.out
			jobs = append(jobs, j)
		}
	}
	slow := func(j job) bool { return j.c.name == "hang" || !j.cached && j.c.name == "trickle" }
	sort.SliceStable(jobs, func(a, b int) bool { return slow(jobs[a]) && !slow(jobs[b]) })
	slots := make(chan struct{}, 20)
	for _, j := range jobs {
		go func() {
			slots <- struct{}{}
			defer func() { <-slots }()
			j.out <- runFaultCase(j.dir, j.c, j.cached, client)
		}()
	}

	for _, cached := range []bool{false, true} {
		mode := "on_scrape"
		if cached {
			mode = "cached"
		}
		control := <-results[key{"none", cached}]
		t.Run(mode+"/none", func(t *testing.T) {
			for _, e := range control.errs {
				t.Error(e)
			}
		})
		wantMetrics, wantProbe := healthyLines(control.metrics), healthyLines(control.probeProd)
		if !strings.Contains(wantMetrics, `dcs_instances{target="prod"`) || !strings.Contains(wantMetrics, `target="staging"`) {
			t.Errorf("%s: the control case lacks the healthy targets' series:\n%s", mode, control.metrics)
		}
		for _, c := range cases[1:] {
			r := <-results[key{c.name, cached}]
			t.Run(mode+"/"+c.name, func(t *testing.T) {
				for _, e := range r.errs {
					t.Error(e)
				}
				if got := healthyLines(r.metrics); got != wantMetrics {
					t.Errorf("the healthy targets' series in /metrics changed:\n%s", lineDiff(wantMetrics, got))
				}
				if got := healthyLines(r.probeProd); got != wantProbe {
					t.Errorf("/probe?target=prod changed:\n%s", lineDiff(wantProbe, got))
				}
			})
		}
	}

	heap := peak()
	t.Logf("Go heap peak over the matrix: %.1f MiB", float64(heap)/(1<<20))
	// Several oversized answers are read at once, each up to the 8 MiB cap;
	// holding a single 256 MiB body would be far beyond this.
	if heap > 192<<20 {
		t.Errorf("the Go heap reached %.0f MiB: an oversized body was held", float64(heap)/(1<<20))
	}
	transport.CloseIdleConnections()
	goleak.VerifyNone(t, ignore)
}

// Concurrent scrapes of one target in on-scrape mode: each finishes a
// query and renders the target again while others are still writing out
// the previous rendering. No answer may be torn, and (under -race) no
// rendering may be written while it is being read.
func TestConcurrentScrapesAreNotTorn(t *testing.T) {
	h := newHarness(t, "--web.max-requests=0")
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 15 {
				resp, err := http.Get(h.srv.URL + "/probe?target=staging")
				if err != nil {
					t.Error(err)
					return
				}
				parser := expfmt.NewTextParser(model.UTF8Validation)
				mfs, err := parser.TextToMetricFamilies(resp.Body)
				resp.Body.Close()
				if err != nil {
					t.Errorf("torn answer: %v", err)
					return
				}
				if up := mfs["dcs_up"]; up == nil || len(up.Metric) != 1 || up.Metric[0].GetGauge().GetValue() != 1 {
					t.Errorf("dcs_up is %v, want one series at 1", up)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// The secret key and the security token must show nowhere: not in the
// answers of any endpoint, not in the debug log, not in the error texts of
// broken configurations, and not in a dump of the configuration. The fault
// matrix checks the same through every fault.
func TestSecretsNeverShown(t *testing.T) {
	dir := t.TempDir()
	e, err := startFaultEnv(dir, faultCase{name: "hygiene"})
	if err != nil {
		t.Fatal(err)
	}
	defer e.close()
	configFile := filepath.Join(dir, "dcs_exporter.yml")
	good, err := os.ReadFile(configFile)
	if err != nil {
		t.Fatal(err)
	}

	var shown []string // every answer, to search at the end
	do := func(method, path string) (int, string) {
		req, err := http.NewRequest(method, e.srv.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		shown = append(shown, fmt.Sprintf("%s %s: HTTP %d %v\n%s", method, path, resp.StatusCode, resp.Header, body))
		return resp.StatusCode, string(body)
	}
	for _, p := range []string{"/", "/metrics", "/probe?target=faulty", "/probe?target=prod", "/-/ready", "/-/healthy", "/-/reload"} {
		do(http.MethodGet, p)
	}

	// Broken configurations whose error is about a secret's own line.
	breakages := map[string][2]string{
		"list":           {"secret_key: " + hygieneSecretKey, "secret_key: [" + hygieneSecretKey + "]"},
		"mapping":        {"security_token: " + hygieneToken, "security_token: {x: " + hygieneToken + "}"},
		"unterminated":   {"secret_key: " + hygieneSecretKey, `secret_key: "` + hygieneSecretKey},
		"misspelt key":   {"secret_key: " + hygieneSecretKey, "secret_kee: " + hygieneSecretKey},
		"duplicate key":  {"secret_key: " + hygieneSecretKey, "secret_key: " + hygieneSecretKey + "\n    secret_key: " + hygieneSecretKey},
		"tab indent":     {"    security_token: " + hygieneToken, "\tsecurity_token: " + hygieneToken},
		"no space":       {"secret_key: " + hygieneSecretKey, "secret_key:" + hygieneSecretKey},
		"colon in value": {"secret_key: " + hygieneSecretKey, "secret_key: " + hygieneSecretKey + ": x"},
		"flow, no comma": {"    access_key: " + hygieneAccessKey + "\n    secret_key: " + hygieneSecretKey + "\n    security_token: " + hygieneToken,
			"    {access_key: " + hygieneAccessKey + " secret_key: " + hygieneSecretKey + ", security_token: " + hygieneToken + "}"},
		// A key in both forms, keys beside env, a key missing: the errors
		// name the keys, never their values.
		"both forms":    {"secret_key: " + hygieneSecretKey, "secret_key: " + hygieneSecretKey + "\n    secret_key_file: dcs_exporter.yml"},
		"keys and env":  {"security_token: " + hygieneToken, "security_token: " + hygieneToken + "\n    env: true"},
		"no secret key": {"    secret_key: " + hygieneSecretKey + "\n", ""},
	}
	for name, edit := range breakages {
		broken := strings.Replace(string(good), edit[0], edit[1], 1)
		if broken == string(good) {
			t.Fatalf("%s: the edit does not apply", name)
		}
		if err := os.WriteFile(configFile, []byte(broken), 0o600); err != nil {
			t.Fatal(err)
		}
		if code, body := do(http.MethodPost, "/-/reload"); code != http.StatusInternalServerError {
			t.Errorf("%s: reload answered %d: %s", name, code, body)
		}
	}
	// Each key in its own form: the secret key and the token from files,
	// the access key inline. The targets keep working on the reloaded keys.
	for name, secret := range map[string]string{"sk": hygieneSecretKey, "token": hygieneToken} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(secret+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	mixed := strings.NewReplacer("secret_key: "+hygieneSecretKey, "secret_key_file: sk",
		"security_token: "+hygieneToken, "security_token_file: token").Replace(string(good))
	if err := os.WriteFile(configFile, []byte(mixed), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, body := do(http.MethodPost, "/-/reload"); code != http.StatusOK {
		t.Errorf("reload with keys in files answered %d: %s", code, body)
	}
	if code, body := do(http.MethodGet, "/probe?target=staging"); code != http.StatusOK || !regexp.MustCompile(`(?m)^dcs_up\{target="staging"[^}]*\} 1$`).MatchString(body) {
		t.Errorf("probe with keys in files answered %d:\n%s", code, body)
	}
	if err := os.WriteFile(configFile, good, 0o600); err != nil {
		t.Fatal(err)
	}
	if code, body := do(http.MethodPost, "/-/reload"); code != http.StatusOK {
		t.Errorf("good reload answered %d: %s", code, body)
	}
	for _, p := range []string{"/", "/metrics", "/probe?target=staging", "/-/ready"} {
		do(http.MethodGet, p)
	}

	for _, text := range shown {
		if leak := findLeak(text); leak != "" {
			t.Errorf("an answer shows the secret %q:\n%s", leak, text)
		}
	}
	if leak := findLeak(e.logs.String()); leak != "" {
		t.Errorf("the log shows the secret %q:\n%s", leak, e.logs)
	}

	// A dump of the loaded configuration, in every way Go can print it.
	cfg, err := config.Load(configFile)
	if err != nil {
		t.Fatal(err)
	}
	asYAML, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	asJSON, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	dump := fmt.Sprintf("%v\n%+v\n%#v\n%s\n%s", cfg, cfg, cfg, asYAML, asJSON)
	if leak := findLeak(dump); leak != "" {
		t.Errorf("a dump of the configuration shows the secret %q:\n%s", leak, dump)
	}
	if !strings.Contains(string(asYAML), "secret_key: <secret>") || !strings.Contains(string(asYAML), "security_token: <secret>") {
		t.Errorf("the dump does not show that the secrets are set:\n%s", asYAML)
	}
}

// In cached mode a target that hangs until its timeout must not hold up the
// refresh of the others: they are refreshed every interval all the same.
func TestHangingTargetDoesNotStallRefresh(t *testing.T) {
	// The hang outlasts the whole wait below: an exporter that waited for
	// it would refresh nothing more before the wait gives up.
	c := faultCase{name: "hang", fault: &dcsapitest.Fault{Kind: dcsapitest.FaultHang}, timeout: patience + 10*time.Second}
	e, err := startFaultEnv(t.TempDir(), c, "--dcs.refresh-interval=100ms")
	if err != nil {
		t.Fatal(err)
	}
	defer e.close()
	status := dcsapitest.APIInstanceStatus
	if !waitUntil(func() bool { return e.fake.ProjectRequests(projectFaulty, status) >= 1 }) {
		t.Fatal("the hanging target was never queried")
	}
	seen := e.fake.ProjectRequests(projectStaging, status)
	if !waitUntil(func() bool { return e.fake.ProjectRequests(projectStaging, status) >= seen+5 }) {
		t.Errorf("a healthy target was refreshed %d times in %v at an interval of 100 ms while another hung",
			e.fake.ProjectRequests(projectStaging, status)-seen, patience)
	}
	if n := e.fake.ProjectRequests(projectFaulty, status); n != 1 {
		t.Errorf("the hanging target got %d calls, want its first still in flight", n)
	}
}
