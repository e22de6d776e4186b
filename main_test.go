package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/metrics"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/prometheus/common/promslog"
	"go.uber.org/goleak"
	"go.yaml.in/yaml/v3"

	"github.com/dcs-exporter/dcs_exporter/config"
	"github.com/dcs-exporter/dcs_exporter/dcsapi/dcsapitest"
	"github.com/dcs-exporter/dcs_exporter/demo"
	"github.com/dcs-exporter/dcs_exporter/internal/racedetector"
)

// main_test.go holds the tests of the whole program that need package
// main's insides, and so run it in-process through newApp and run: the
// fault matrix and the secrets (reliability), TLS, request limits and server
// timeouts (serving, which shortens serverLimits), the soak (which reads the
// process's own heap and goroutines and reloads through the reloader), and
// the configuration notes. collector_test.go tests the HTTP surface the same
// way; e2e/ runs the built binary as a process.

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
	if racedetector.Enabled {
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

// The basic auth user of the web configuration. The hash is bcrypt's, at
// its lowest cost so that the test stays fast; the password is only a test's.
const (
	webUser         = "prometheus"
	webPassword     = "correct horse battery staple"
	webPasswordHash = "$2a$04$0TJTviwF2J2K.qYCH6x52.37VGSHsHANxVnoutytMTjrd7140i9fu"
)

// writeSelfSignedCert writes a certificate for 127.0.0.1 and its key into
// dir, and returns a pool that trusts it.
func writeSelfSignedCert(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "dcs_exporter test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// startRun runs the whole program, as main does, on a free port of
// 127.0.0.1, and returns that address. It stops the program at the end of
// the test and checks that it exits with status 0.
func startRun(t *testing.T, args ...string) string {
	t.Helper()
	// The port was free a moment ago; should another process take it
	// first, the program exits at once, and another port is tried.
	for range 3 {
		addr := closedPort()
		stop := make(chan struct{})
		exit := make(chan int, 1)
		go func() { exit <- run(append(args, "--web.listen-address="+addr), stop) }()
		if listening(addr, exit) {
			t.Cleanup(func() {
				close(stop)
				if code := <-exit; code != 0 {
					t.Errorf("exit status %d after a normal stop, want 0", code)
				}
			})
			return addr
		}
		close(stop)
	}
	t.Fatal("the exporter did not start serving")
	return ""
}

// listening waits until addr accepts connections, or the program exits.
func listening(addr string, exit <-chan int) bool {
	for deadline := time.Now().Add(patience); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		select {
		case <-exit:
			return false
		default:
		}
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return true
		}
	}
	return false
}

// TestTLSAndBasicAuth serves through --web.config.file with TLS and basic
// auth, as exporter-toolkit does it, and checks a real handshake against
// the generated certificate, the right and the wrong password, and that a
// SIGHUP with a broken configuration keeps the old one serving.
func TestTLSAndBasicAuth(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, pool := writeSelfSignedCert(t, dir)
	webConfig := filepath.Join(dir, "web.yml")
	if err := os.WriteFile(webConfig, []byte(fmt.Sprintf("tls_server_config:\n  cert_file: %s\n  key_file: %s\nbasic_auth_users:\n  %s: %s\n",
		certFile, keyFile, webUser, webPasswordHash)), 0o600); err != nil {
		t.Fatal(err)
	}
	fake := newFaultFake()
	t.Cleanup(fake.Close)
	configFile := filepath.Join(dir, "dcs_exporter.yml")
	good := faultConfig(fake.URL, fake.URL, 5*time.Second)
	if err := os.WriteFile(configFile, []byte(good), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := startRun(t, "--config.file="+configFile, "--web.config.file="+webConfig, "--log.level=error")

	transport := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
	defer transport.CloseIdleConnections()
	client := &http.Client{Transport: transport, Timeout: patience}
	// get returns the status, the TLS state and the body of one request.
	get := func(path, user, password string) (int, *tls.ConnectionState, string) {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, "https://"+addr+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if user != "" {
			req.SetBasicAuth(user, password)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.TLS, string(body)
	}

	code, state, body := get("/metrics", webUser, webPassword)
	if code != http.StatusOK || !strings.Contains(body, `dcs_up{target="prod"`) {
		t.Fatalf("right password: HTTP %d:\n%.300s", code, body)
	}
	if state == nil || !state.HandshakeComplete || len(state.VerifiedChains) == 0 {
		t.Fatalf("no verified TLS handshake: %+v", state)
	}
	for _, c := range []struct{ name, user, password string }{
		{"wrong password", webUser, "Tr0ub4dor&3"},
		{"unknown user", "grafana", webPassword},
		{"no credentials", "", ""},
	} {
		for _, path := range []string{"/metrics", "/probe?target=prod", "/"} {
			if code, _, body := get(path, c.user, c.password); code != http.StatusUnauthorized || strings.Contains(body, "dcs_up") {
				t.Errorf("%s on %s: HTTP %d, want 401", c.name, path, code)
			}
		}
	}

	// Plain HTTP on the TLS port is refused, and an unknown authority fails
	// the handshake.
	if resp, err := http.Get("http://" + addr + "/metrics"); err == nil {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Errorf("plain HTTP was served: %.200s", body)
		}
	}
	strict := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{MinVersion: tls.VersionTLS12}}, Timeout: patience}
	if resp, err := strict.Get("https://" + addr + "/-/healthy"); err == nil {
		resp.Body.Close()
		t.Error("the handshake succeeded without trusting the certificate")
	}
	strict.CloseIdleConnections()

	// A broken configuration on SIGHUP: the old one keeps serving, and the
	// failure shows in the reload gauge, until a good one comes.
	reloadGauge := func() string {
		_, _, body := get("/metrics", webUser, webPassword)
		for _, line := range strings.Split(body, "\n") {
			if v, ok := strings.CutPrefix(line, "dcs_exporter_config_last_reload_successful "); ok {
				return v
			}
		}
		return "absent"
	}
	for _, step := range []struct {
		config, want string
	}{
		{good + "  - name: broken\n    region: cn-north-4\n    timeout: 10x\n", "0"},
		{good, "1"},
	} {
		if err := os.WriteFile(configFile, []byte(step.config), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		if !waitUntil(func() bool { return reloadGauge() == step.want }) {
			t.Fatalf("after SIGHUP the reload gauge is %s, want %s", reloadGauge(), step.want)
		}
		if _, _, body := get("/probe?target=prod", webUser, webPassword); !strings.Contains(body, `dcs_up{target="prod"`) {
			t.Errorf("the configuration stopped serving after a reload:\n%.300s", body)
		}
	}
}

// TestServerTimeouts runs the whole program with its server timeouts
// shortened and sends it real slow clients over raw connections: one that
// trickles its headers, one that never finishes its body, one that never
// reads its answers and one that idles. Each must be cut off by its own
// timeout: not before it (timers never fire early, and each client's clock
// starts before the server's), and well before the next longer one or the
// end of the test.
func TestServerTimeouts(t *testing.T) {
	if l := serverLimits; l.readHeader != 10*time.Second || l.read != 30*time.Second || l.write != 2*time.Minute || l.idle != 2*time.Minute {
		t.Errorf("server limits %+v, want those newServer documents: 10s, 30s, 2m, 2m", l)
	}
	srv := newServer(http.NotFoundHandler(), promslog.NewNopLogger())
	if srv.ReadHeaderTimeout != serverLimits.readHeader || srv.ReadTimeout != serverLimits.read ||
		srv.WriteTimeout != serverLimits.write || srv.IdleTimeout != serverLimits.idle {
		t.Errorf("newServer does not set every limit: %v %v %v %v", srv.ReadHeaderTimeout, srv.ReadTimeout, srv.WriteTimeout, srv.IdleTimeout)
	}
	if srv.MaxHeaderBytes <= 0 || srv.MaxHeaderBytes > 1<<20 {
		t.Errorf("MaxHeaderBytes = %d", srv.MaxHeaderBytes)
	}

	// Shortened. Each bound leaves 3 s or more for a busy machine, and
	// stops short of the longer timeout the server would fall back on were
	// one of them not set (the read timeout, for headers and idling).
	saved := serverLimits
	t.Cleanup(func() { serverLimits = saved }) // after the program has stopped
	serverLimits.readHeader = time.Second
	serverLimits.idle = 2 * time.Second
	serverLimits.write = 1500 * time.Millisecond
	serverLimits.read = 5 * time.Second
	dir := t.TempDir()
	fake := newFaultFake()
	t.Cleanup(fake.Close)
	configFile := filepath.Join(dir, "dcs_exporter.yml")
	if err := os.WriteFile(configFile, []byte(faultConfig(fake.URL, fake.URL, 5*time.Second)), 0o600); err != nil {
		t.Fatal(err)
	}
	// Cached mode, so that the answers cost little to render.
	addr := startRun(t, "--config.file="+configFile, "--dcs.refresh-interval=1h", "--log.level=error")

	type slowClient struct {
		name    string
		timeout time.Duration
		upper   time.Duration // the connection must be closed sooner than this
		run     func(addr string) (closedAfter time.Duration, answer string, err error)
	}
	clients := []slowClient{
		{"trickled headers", serverLimits.readHeader, serverLimits.read - time.Second, trickleHeaders},
		{"unfinished body", serverLimits.read, serverLimits.read + 3*time.Second, unfinishedBody},
		// The server stops reading requests once its answers no longer
		// fit the socket buffers: a few hundred milliseconds after the
		// start, seconds on a busy machine.
		{"never reads", serverLimits.write, serverLimits.write + 5*time.Second, neverReads},
		{"idle keep-alive", serverLimits.idle, serverLimits.read, idleKeepAlive},
	}
	type outcome struct {
		closedAfter time.Duration
		answer      string
		err         error
	}
	outcomes := make([]chan outcome, len(clients))
	for i, c := range clients {
		outcomes[i] = make(chan outcome, 1)
		go func() {
			var o outcome
			o.closedAfter, o.answer, o.err = c.run(addr)
			outcomes[i] <- o
		}()
	}
	for i, c := range clients {
		o := <-outcomes[i]
		switch {
		case o.err != nil:
			t.Errorf("%s: %v", c.name, o.err)
		case o.closedAfter < c.timeout || o.closedAfter >= c.upper:
			t.Errorf("%s: closed after %v, want between its timeout %v and %v", c.name, o.closedAfter.Round(time.Millisecond), c.timeout, c.upper)
		default:
			t.Logf("%s: closed after %v (timeout %v)", c.name, o.closedAfter.Round(time.Millisecond), c.timeout)
		}
		if c.name == "trickled headers" && o.answer != "" {
			t.Errorf("%s: answered %.100q", c.name, o.answer)
		}
	}
}

// trickleByte sends one byte every 100 ms until stop is closed or the
// connection fails, whose time it then sends on failed.
func trickleByte(c net.Conn, stop <-chan struct{}, failed chan<- time.Time) {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		if _, err := c.Write([]byte("x")); err != nil {
			failed <- time.Now()
			return
		}
	}
}

// readUntilClosed reads c until the server closes it and returns what it
// read; it gives up after patience.
func readUntilClosed(c net.Conn) (string, error) {
	if err := c.SetReadDeadline(time.Now().Add(patience)); err != nil {
		return "", err
	}
	var got strings.Builder
	_, err := io.Copy(&got, c)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return got.String(), fmt.Errorf("still open after %v", patience)
	}
	return got.String(), nil // a reset is a close too
}

// trickleHeaders starts a request and then sends its headers a byte at a
// time, never ending them.
func trickleHeaders(addr string) (time.Duration, string, error) {
	start := time.Now()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return 0, "", err
	}
	defer c.Close()
	if _, err := io.WriteString(c, "GET /-/healthy HTTP/1.1\r\nHost: dcs-exporter\r\nX-Slow: "); err != nil {
		return 0, "", err
	}
	stop := make(chan struct{})
	defer close(stop)
	go trickleByte(c, stop, make(chan time.Time, 1))
	answer, err := readUntilClosed(c)
	return time.Since(start), answer, err
}

// unfinishedBody sends whole headers announcing a body that it then sends a
// byte at a time, never finishing it.
func unfinishedBody(addr string) (time.Duration, string, error) {
	start := time.Now()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return 0, "", err
	}
	defer c.Close()
	if _, err := io.WriteString(c, "POST /-/healthy HTTP/1.1\r\nHost: dcs-exporter\r\nContent-Length: 100000\r\n\r\n"); err != nil {
		return 0, "", err
	}
	stop := make(chan struct{})
	defer close(stop)
	go trickleByte(c, stop, make(chan time.Time, 1))
	answer, err := readUntilClosed(c)
	return time.Since(start), answer, err
}

// neverReads asks for far more answers at once than the socket buffers
// between the two ends hold, and reads none of them. It keeps sending a
// byte now and then, so that it learns when the server closes the
// connection: the next write fails.
func neverReads(addr string) (time.Duration, string, error) {
	// A small receive buffer and segment size keep the server's send
	// buffer small too, so that it fills after a few answers.
	dialer := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
			if serr == nil {
				serr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_MAXSEG, 536)
			}
		})
		if err != nil {
			return err
		}
		return serr
	}}
	start := time.Now()
	c, err := dialer.Dial("tcp", addr)
	if err != nil {
		return 0, "", err
	}
	defer c.Close()
	failed := make(chan time.Time, 1)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		// Answers of over 10 kB each: some 20 MB in all.
		requests := strings.Repeat("GET /metrics HTTP/1.1\r\nHost: dcs-exporter\r\n\r\n", 2000)
		if _, err := io.WriteString(c, requests); err != nil {
			failed <- time.Now()
			return
		}
		trickleByte(c, stop, failed)
	}()
	select {
	case at := <-failed:
		return at.Sub(start), "", nil
	case <-time.After(patience):
		return 0, "", fmt.Errorf("still open after %v", patience)
	}
}

// idleKeepAlive reads one answer whole and then keeps the connection open
// without asking for another.
func idleKeepAlive(addr string) (time.Duration, string, error) {
	start := time.Now()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return 0, "", err
	}
	defer c.Close()
	if _, err := io.WriteString(c, "GET /-/healthy HTTP/1.1\r\nHost: dcs-exporter\r\n\r\n"); err != nil {
		return 0, "", err
	}
	if err := c.SetReadDeadline(time.Now().Add(patience)); err != nil {
		return 0, "", err
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return 0, "", err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return 0, "", fmt.Errorf("reading the answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK || resp.Close {
		return 0, "", fmt.Errorf("the answer: HTTP %d, close %v", resp.StatusCode, resp.Close)
	}
	rest, err := io.ReadAll(br)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return 0, "", fmt.Errorf("still open after %v", patience)
	}
	if len(rest) > 0 {
		return 0, "", fmt.Errorf("unasked answer %.100q", rest)
	}
	return time.Since(start), string(body), nil
}

// apiGate stands between the exporter and the fake API and holds every
// status call until it is opened, so that a test can look at the exporter
// while its queries are in flight without guessing how long they take.
type apiGate struct {
	URL      string
	srv      *httptest.Server
	proxy    *httputil.ReverseProxy
	held     chan string // the project of each status call as it is held
	opened   chan struct{}
	openOnce sync.Once
}

// newAPIGate starts a gate in front of fake; the test's end opens and
// closes it.
func newAPIGate(t *testing.T, fake *dcsapitest.Server) *apiGate {
	t.Helper()
	api, err := url.Parse(fake.URL)
	if err != nil {
		t.Fatal(err)
	}
	transport := &http.Transport{}
	g := &apiGate{held: make(chan string, 1024), opened: make(chan struct{})}
	g.proxy = &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(api)
			r.Out.Host = r.In.Host // the Host header is signed
		},
		Transport: transport,
		ErrorLog:  log.New(io.Discard, "", 0), // clients give up on purpose
	}
	g.srv = httptest.NewServer(http.HandlerFunc(g.serve))
	g.URL = g.srv.URL
	t.Cleanup(func() {
		g.open()
		g.srv.Close()
		transport.CloseIdleConnections()
	})
	return g
}

func (g *apiGate) serve(w http.ResponseWriter, r *http.Request) {
	// DCS status paths are /v2/{project}/instances/status and
	// /v1.0/{project}/instances/status (dcsapitest's routes).
	if parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/"); len(parts) == 4 && parts[2] == "instances" && parts[3] == "status" {
		select {
		case g.held <- parts[1]:
		default:
		}
		select {
		case <-g.opened:
		case <-r.Context().Done():
			return
		}
	}
	g.proxy.ServeHTTP(w, r)
}

// open lets every held and future call through.
func (g *apiGate) open() { g.openOnce.Do(func() { close(g.opened) }) }

// waitHeld waits until a status call of project is held.
func (g *apiGate) waitHeld(t *testing.T, project string) {
	t.Helper()
	timeout := time.After(patience)
	for {
		select {
		case p := <-g.held:
			if p == project {
				return
			}
		case <-timeout:
			t.Fatalf("no status call of project %s reached the API within %v", project, patience)
		}
	}
}

// startGatedEnv starts the exporter of a faultEnv with the gate between it
// and fake. Its targets' timeouts outlast every wait of a test, so that no
// held query ends before the test opens the gate.
func startGatedEnv(t *testing.T, fake *dcsapitest.Server, gate *apiGate, wrap func(http.Handler) http.Handler, args ...string) *faultEnv {
	t.Helper()
	timeout := patience + 10*time.Second
	e, err := startEnv(t.TempDir(), fake, envRoute{api: gate.URL, faulty: gate.URL, timeout: timeout, faultyTimeout: timeout, wrap: wrap}, args...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		gate.open() // held scrapes would keep the exporter's server from closing
		e.close()
	})
	return e
}

// TestMaxRequestsBoundsParallelScrapes holds two scrapes in flight, as many
// as --web.max-requests allows, and sends more: each of those must be
// refused with a 503 while the two are still held, that is without
// waiting for a slot. Once the two are let through they are served, and
// the slots come back.
func TestMaxRequestsBoundsParallelScrapes(t *testing.T) {
	fake := newFaultFake()
	gate := newAPIGate(t, fake)
	e := startGatedEnv(t, fake, gate, nil, "--web.max-requests=2")
	transport := &http.Transport{}
	defer transport.CloseIdleConnections()
	client := &http.Client{Transport: transport, Timeout: patience}

	held := make(chan scrapeResult, 2)
	for _, p := range []struct{ target, project string }{{"staging", projectStaging}, {"faulty", projectFaulty}} {
		go func() { held <- scrapeOnce(client, e.srv.URL, "/probe?target="+p.target, 0) }()
		gate.waitHeld(t, p.project)
	}
	const surplus = 6
	refused := make(chan scrapeResult, surplus)
	for i := range surplus {
		path := []string{"/metrics", "/probe?target=prod", "/probe?target=staging"}[i%3]
		go func() { refused <- scrapeOnce(client, e.srv.URL, path, 0) }()
	}
	for range surplus {
		a := <-refused // a scrape that waited for a slot would wait for the gate, and time out
		if a.err != nil || a.code != http.StatusServiceUnavailable || !strings.Contains(a.body, "too many scrapes at once (limit 2)") {
			t.Errorf("%s with both slots taken: HTTP %d, %v: %.200s", a.path, a.code, a.err, a.body)
		}
	}
	gate.open()
	for range 2 {
		a := <-held
		if a.err != nil || a.code != http.StatusOK || upOf(a.body, a.path) != "1" {
			t.Errorf("%s once let through: HTTP %d, %v: %.300s", a.path, a.code, a.err, a.body)
		}
	}
	for range 3 {
		if a := scrapeOnce(client, e.srv.URL, "/metrics", 0); a.err != nil || a.code != http.StatusOK {
			t.Errorf("after the burst: HTTP %d, %v: %.200s", a.code, a.err, a.body)
		}
	}
}

// upOf returns the value of dcs_up of the target that path probes.
func upOf(body, path string) string {
	target := strings.TrimPrefix(path, "/probe?target=")
	m := regexp.MustCompile(`(?m)^dcs_up\{target="` + regexp.QuoteMeta(target) + `"[^}]*\} (\S+)$`).FindStringSubmatch(body)
	if m == nil {
		return "absent"
	}
	return m[1]
}

// TestUnlimitedScrapes sends more scrapes of one target at once than the
// default --web.max-requests of 40, with the limit off: all of them reach
// the handler while the target's query is held, which no limit of 40 would
// allow, and all are served once it is let through.
func TestUnlimitedScrapes(t *testing.T) {
	const scrapes = 50
	entered := make(chan struct{}, scrapes)
	countProbes := func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/probe" {
				entered <- struct{}{}
			}
			h.ServeHTTP(w, r)
		})
	}
	fake := newFaultFake()
	gate := newAPIGate(t, fake)
	e := startGatedEnv(t, fake, gate, countProbes, "--web.max-requests=0")
	transport := &http.Transport{MaxIdleConnsPerHost: scrapes}
	defer transport.CloseIdleConnections()
	client := &http.Client{Transport: transport, Timeout: patience}

	results := make(chan scrapeResult, scrapes)
	for range scrapes {
		go func() { results <- scrapeOnce(client, e.srv.URL, "/probe?target=staging", 0) }()
	}
	gate.waitHeld(t, projectStaging)
	timeout := time.After(patience)
	for i := range scrapes {
		select {
		case <-entered:
		case <-timeout:
			t.Fatalf("%d of %d scrapes reached the handler", i, scrapes)
		}
	}
	// None can have left: they wait for the held query, or for a
	// second one should a late scrape start it after the gate opens.
	gate.open()
	for range scrapes {
		a := <-results
		if a.err != nil || a.code != http.StatusOK || upOf(a.body, a.path) != "1" {
			t.Errorf("HTTP %d, %v: %.300s", a.code, a.err, a.body)
		}
	}
}

// TestConcurrentScrapesCostOneCall holds a target's query for as long as
// 50 scrapes of it take to arrive and give up at their deadline: every one
// of them must have joined that query, so that it stays the only call.
func TestConcurrentScrapesCostOneCall(t *testing.T) {
	const scrapes = 50
	fake := newFaultFake()
	gate := newAPIGate(t, fake)
	e := startGatedEnv(t, fake, gate, nil, "--web.max-requests=0")
	transport := &http.Transport{MaxIdleConnsPerHost: scrapes}
	defer transport.CloseIdleConnections()
	client := &http.Client{Transport: transport, Timeout: patience}

	results := make(chan scrapeResult, scrapes)
	for range scrapes {
		// A deadline far below the targets' timeout: the query is still
		// held when the last scrape gives up.
		go func() { results <- scrapeOnce(client, e.srv.URL, "/probe?target=staging", 2*time.Second) }()
	}
	gate.waitHeld(t, projectStaging)
	for range scrapes {
		a := <-results
		if a.err != nil || a.code != http.StatusOK || upOf(a.body, a.path) != "0" {
			t.Errorf("a scrape past its deadline: HTTP %d, %v: %.300s", a.code, a.err, a.body)
		}
	}
	if n := len(gate.held); n != 0 {
		t.Errorf("%d concurrent scrapes made %d API calls, want 1", scrapes, 1+n)
	}
	// The held answer is then served late, to the next scrape.
	gate.open()
	var last scrapeResult
	if !waitUntil(func() bool {
		last = scrapeOnce(client, e.srv.URL, "/probe?target=staging", 2*time.Second)
		return upOf(last.body, last.path) == "1"
	}) {
		t.Errorf("the held answer was never served: %.300s", last.body)
	}
}

// TestReadinessWaitsForTheFirstRefresh holds the first refresh of a cached
// exporter: /-/ready must say 503 while it is held, and 200 once it is
// done; /-/healthy says 200 throughout.
func TestReadinessWaitsForTheFirstRefresh(t *testing.T) {
	fake := newFaultFake()
	gate := newAPIGate(t, fake)
	e := startGatedEnv(t, fake, gate, nil, "--dcs.refresh-interval=1h")
	client := &http.Client{Timeout: patience}
	gate.waitHeld(t, projectStaging)
	if a := scrapeOnce(client, e.srv.URL, "/-/ready", 0); a.err != nil || a.code != http.StatusServiceUnavailable || !strings.Contains(a.body, "first refresh") {
		t.Errorf("/-/ready during the first refresh: HTTP %d, %v: %s", a.code, a.err, a.body)
	}
	if a := scrapeOnce(client, e.srv.URL, "/-/healthy", 0); a.err != nil || a.code != http.StatusOK {
		t.Errorf("/-/healthy during the first refresh: HTTP %d, %v", a.code, a.err)
	}
	gate.open()
	var last scrapeResult
	if !waitUntil(func() bool { last = scrapeOnce(client, e.srv.URL, "/-/ready", 0); return last.code == http.StatusOK }) {
		t.Fatalf("/-/ready after the first refresh: HTTP %d, %v: %s", last.code, last.err, last.body)
	}
	if a := scrapeOnce(client, e.srv.URL, "/probe?target=staging", 0); upOf(a.body, a.path) != "1" {
		t.Errorf("ready, but the first refresh is not served: %.300s", a.body)
	}
}

// childArgs, when set, makes this test binary run the exporter instead of
// the tests, so that its exit status and its standard error can be seen.
const childArgs = "DCS_EXPORTER_TEST_CHILD_ARGS"

// TestBadConfigExitsWithStatus1 starts the real program with broken
// configurations: each must end it with status 1 and one message naming
// the file, and the line and field where there are any.
func TestBadConfigExitsWithStatus1(t *testing.T) {
	if args := os.Getenv(childArgs); args != "" {
		os.Exit(run(strings.Split(args, "\n"), nil))
	}
	dir := t.TempDir()
	for _, c := range []struct {
		name, config, want string
	}{
		{"unknown field", "targets:\n  - name: a\n    region: cn-north-4\n    credentials: {env: true}\n    regoin: eu-de\n", ":5: targets[0].regoin: unknown field"},
		{"bad duration", "defaults:\n  timeout: 10x\ntargets:\n  - name: a\n    region: cn-north-4\n    credentials: {env: true}\n", ":2: defaults.timeout: "},
		{"bad secret type", "targets:\n  - name: a\n    region: cn-north-4\n    credentials:\n      access_key: AK\n      secret_key: [s3cr3t-value]\n", ":6: targets[0].credentials.secret_key: must be a string"},
		{"yaml syntax", "targets:\n  - name: a\n    region: cn-north-4\n     timeout: 5s\n", ":4: mapping values are not allowed"},
		{"missing file", "", "missing.yml"},
	} {
		t.Run(strings.ReplaceAll(c.name, " ", "_"), func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "_")+".yml")
			if c.config != "" {
				if err := os.WriteFile(path, []byte(c.config), 0o600); err != nil {
					t.Fatal(err)
				}
			} else {
				path = filepath.Join(dir, "missing.yml")
			}
			cmd := exec.Command(os.Args[0], "-test.run=^TestBadConfigExitsWithStatus1$")
			cmd.Env = append(os.Environ(), childArgs+"=--config.file="+path+"\n--web.listen-address=127.0.0.1:0\n--log.level=error")
			var stderr strings.Builder
			cmd.Stderr = &stderr
			err := cmd.Run()
			var exitErr *exec.ExitError
			if !errors.As(err, &exitErr) || exitErr.ExitCode() != 1 {
				t.Fatalf("exit: %v, want status 1; stderr:\n%s", err, stderr.String())
			}
			msg := strings.TrimSpace(stderr.String())
			if !strings.HasPrefix(msg, "dcs_exporter: ") || strings.Count(msg, "\n") > 0 {
				t.Errorf("want one line starting with dcs_exporter:, got:\n%s", msg)
			}
			if !strings.Contains(msg, path) && c.config != "" || !strings.Contains(msg, c.want) {
				t.Errorf("the message does not name %s and %q:\n%s", path, c.want, msg)
			}
			if strings.Contains(msg, "s3cr3t-value") {
				t.Errorf("the message shows the secret: %s", msg)
			}
		})
	}
}

// soakClients is how many scrapers hammer the exporter at once.
const soakClients = 64

// soakDuration is 4 s, short enough for every CI run, unless
// DCS_SOAK_DURATION asks for more; the benchmark suite runs it with 60s:
//
//	DCS_SOAK_DURATION=60s go test -race -run '^TestSoak$' -count=1 -timeout 10m -v .
func soakDuration(t *testing.T) time.Duration {
	v := os.Getenv("DCS_SOAK_DURATION")
	if v == "" {
		return 4 * time.Second
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		t.Fatalf("DCS_SOAK_DURATION=%q is not a positive duration", v)
	}
	return d
}

// soakStep is one state of the fake API in the rotation: a fault on the
// faulty target's status calls, or a configuration that points it at a
// port where nothing listens, or a broken configuration to reload.
type soakStep struct {
	name      string
	fault     *dcsapitest.Fault
	refused   bool
	badConfig bool
}

func soakSteps() []soakStep {
	f := func(k dcsapitest.FaultKind) *dcsapitest.Fault { return &dcsapitest.Fault{Kind: k} }
	status := func(code int) *dcsapitest.Fault { return &dcsapitest.Fault{Kind: dcsapitest.FaultStatus, Status: code} }
	// The biggest answers come first, so that the memory they need is
	// taken before the growth measurement starts; the refused keys come
	// last, since the target then backs off for the rest of a short run.
	return []soakStep{
		{name: "oversized", fault: f(dcsapitest.FaultOversized)},
		{name: "oversized_chunked", fault: &dcsapitest.Fault{Kind: dcsapitest.FaultOversized, Chunked: true}},
		{name: "none"},
		{name: "http_500", fault: status(500)},
		{name: "http_502_html", fault: &dcsapitest.Fault{Kind: dcsapitest.FaultHTML, Status: 502}},
		{name: "hang", fault: f(dcsapitest.FaultHang)},
		{name: "reset", fault: f(dcsapitest.FaultReset)},
		{name: "refused", refused: true},
		{name: "trickle", fault: &dcsapitest.Fault{Kind: dcsapitest.FaultTrickle, Delay: 20 * time.Millisecond}},
		{name: "bad_config_reload", badConfig: true},
		{name: "http_503", fault: status(503)},
		{name: "truncated", fault: f(dcsapitest.FaultTruncatedJSON)},
		{name: "malformed", fault: f(dcsapitest.FaultMalformedJSON)},
		{name: "wrong_types", fault: f(dcsapitest.FaultWrongTypes)},
		{name: "negative", fault: f(dcsapitest.FaultNegativeCount)},
		{name: "huge", fault: f(dcsapitest.FaultHugeNumber)},
		{name: "empty", fault: f(dcsapitest.FaultEmptyBody)},
		{name: "http_400", fault: status(400)},
		{name: "http_404", fault: status(404)},
		{name: "http_429", fault: &dcsapitest.Fault{Kind: dcsapitest.FaultThrottle, RetryAfter: time.Second}},
		{name: "http_401", fault: status(401)},
		{name: "http_403", fault: status(403)},
	}
}

// rssBytes is the resident set size of the test process, which runs the
// exporter and the fake API both.
func rssBytes(t *testing.T) uint64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		t.Fatalf("no /proc/self/status (the soak measures the RSS of Linux processes): %v", err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				t.Fatalf("VmRSS: %v", err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmRSS in /proc/self/status")
	return 0
}

// TestSoak runs 64 scrapers against two exporters, one querying on scrape
// and one serving a cache, while the fake API behind them goes through
// every fault, and the configuration is reloaded, every few seconds. Every
// answer must be a 200, memory must level off, and the goroutines must
// come back to where they were.
func TestSoak(t *testing.T) {
	duration := soakDuration(t)
	steps := soakSteps()
	period := min(max(duration/time.Duration(len(steps)), 150*time.Millisecond), 5*time.Second)
	ignore := goleak.IgnoreCurrent()
	baseGoroutines := runtime.NumGoroutine()

	type exporter struct {
		env  *faultEnv
		dir  string
		good string // the configuration file as written at the start
	}
	var exporters []*exporter
	for _, extra := range [][]string{{"--web.max-requests=64"}, {"--web.max-requests=64", "--dcs.refresh-interval=250ms"}} {
		dir := t.TempDir()
		e, err := startFaultEnv(dir, faultCase{name: "soak"}, extra...)
		if err != nil {
			t.Fatal(err)
		}
		good, err := os.ReadFile(filepath.Join(dir, "dcs_exporter.yml"))
		if err != nil {
			t.Fatal(err)
		}
		exporters = append(exporters, &exporter{env: e, dir: dir, good: string(good)})
	}
	closed := false
	closeAll := func() {
		if !closed {
			closed = true
			for _, x := range exporters {
				x.env.close()
			}
		}
	}
	defer closeAll()

	// The running exporters' own baseline: their refresh loops, the fake
	// APIs' listeners, a first round of queries and its kept connections.
	for _, x := range exporters {
		warmClient := &http.Client{Transport: &http.Transport{}}
		for _, p := range []string{"/metrics", "/probe?target=faulty"} {
			scrapeOnce(warmClient, x.env.srv.URL, p, 3*time.Second)
		}
		warmClient.CloseIdleConnections()
	}
	// As after the load: the on-scrape exporter holds no pooled API
	// connections; the cached one refreshes, and so keeps some, before and
	// after alike.
	exporters[0].env.app.exporter.CloseIdleConnections()
	idleGoroutines := settledGoroutines()
	heapStart := liveHeap()
	peak := heapPeak()

	transport := &http.Transport{MaxIdleConnsPerHost: soakClients, MaxConnsPerHost: soakClients}
	client := &http.Client{Transport: transport, Timeout: roomyTimeout}
	defer transport.CloseIdleConnections()

	// The rotation. Each step first undoes the one before.
	stop := make(chan struct{})
	var rotation sync.WaitGroup
	var reloadErrs []string
	rotation.Add(1)
	go func() {
		defer rotation.Done()
		ticker := time.NewTicker(period)
		defer ticker.Stop()
		for i := 0; ; i++ {
			step := steps[i%len(steps)]
			for _, x := range exporters {
				x.env.fake.ClearFaults()
				if step.fault != nil {
					x.env.fake.InjectFault(projectFaulty, dcsapitest.APIInstanceStatus, *step.fault)
				}
				config := x.good
				switch {
				case step.refused:
					config = faultConfig(x.env.fake.URL, "http://"+closedPort(), 1500*time.Millisecond)
				case step.badConfig:
					config += "  - name: broken\n    timeout: 10x\n"
				}
				path := filepath.Join(x.dir, "dcs_exporter.yml")
				if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
					reloadErrs = append(reloadErrs, err.Error())
					continue
				}
				err := x.env.app.reloader.reload()
				if (err != nil) != step.badConfig {
					reloadErrs = append(reloadErrs, fmt.Sprintf("step %s: reload: %v", step.name, err))
				}
			}
			select {
			case <-stop:
				return
			case <-ticker.C:
			}
		}
	}()

	var (
		requests, failures atomic.Int64
		maxLatency         atomic.Int64
		failMu             sync.Mutex
		failSamples        []string
	)
	paths := []string{"/metrics", "/probe?target=faulty", "/probe?target=prod", "/probe?target=staging"}
	var clients sync.WaitGroup
	for i := range soakClients {
		clients.Add(1)
		go func() {
			defer clients.Done()
			base := exporters[i%len(exporters)].env.srv.URL
			for n := i; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				a := scrapeOnce(client, base, paths[n%len(paths)], 3*time.Second)
				requests.Add(1)
				if l := int64(a.elapsed); l > maxLatency.Load() {
					maxLatency.Store(l) // a racy maximum is close enough for a report
				}
				if a.err != nil || a.code != http.StatusOK || !strings.Contains(a.body, "dcs_up{") {
					failures.Add(1)
					failMu.Lock()
					if len(failSamples) < 5 {
						failSamples = append(failSamples, fmt.Sprintf("%s: HTTP %d, %v: %.120q", a.path, a.code, a.err, a.body))
					}
					failMu.Unlock()
				}
			}
		}()
	}

	// Memory is measured from a sixth of the run on (the 10th second of a
	// minute), when every kind of answer has been seen at least once.
	start := time.Now()
	warm := duration / 6
	time.Sleep(warm)
	rssWarm := rssBytes(t)
	rssMax := rssWarm
	for time.Since(start) < duration {
		time.Sleep(min(time.Second, duration-time.Since(start)))
		rssMax = max(rssMax, rssBytes(t))
	}
	rssEnd := rssBytes(t)
	close(stop)
	clients.Wait()
	rotation.Wait()
	heapMax := peak()

	growth := (float64(rssEnd) - float64(rssWarm)) / float64(rssWarm) * 100
	n := requests.Load()
	t.Logf("soak: %v, %d clients, faults rotating every %v: %d requests (%.0f/s), %d failed, slowest %v",
		duration, soakClients, period, n, float64(n)/duration.Seconds(), failures.Load(), time.Duration(maxLatency.Load()).Round(time.Millisecond))
	t.Logf("soak: RSS %.1f MiB at %v, %.1f MiB at the end (%+.1f%%), at most %.1f MiB",
		float64(rssWarm)/(1<<20), warm, float64(rssEnd)/(1<<20), growth, float64(rssMax)/(1<<20))
	if f := failures.Load(); f > 0 {
		t.Errorf("%d of %d answers were not a 200 with series, e.g.:\n%s", f, n, strings.Join(failSamples, "\n"))
	}
	for _, e := range reloadErrs {
		t.Error(e)
	}
	// A few seconds are too short to tell growth from warming up; the
	// full-length run judges it.
	if duration >= 30*time.Second && growth >= 10 {
		t.Errorf("RSS grew by %.1f%% from %v to the end, want under 10%%", growth, warm)
	}

	// Goroutines: back within 5 of the running exporters' baseline once
	// the scrapers are gone and the API is healthy again; back to where
	// the test started once the exporters are closed, with none left
	// behind at all.
	for _, x := range exporters {
		x.env.fake.ClearFaults()
		if leak := findLeak(x.env.logs.String()); leak != "" {
			t.Errorf("the log shows the secret %q", leak)
		}
	}
	transport.CloseIdleConnections()
	for _, x := range exporters {
		// The burst opened more pooled API connections than the idle
		// exporters had; pooled connections are not leaks.
		x.env.app.exporter.CloseIdleConnections()
	}
	idle := waitGoroutines(idleGoroutines + 5)
	t.Logf("soak: goroutines of the running exporters %d before the load, %d after", idleGoroutines, idle)
	if idle > idleGoroutines+5 {
		t.Errorf("%d goroutines after the load, %d before", idle, idleGoroutines)
	}
	// The Go heap: what stays live once the load is gone must be close to
	// what was live before it, whatever the length of the run; the peak
	// holds many oversized answers at once, each read only to the 8 MiB cap.
	heapEnd := liveHeap()
	t.Logf("soak: live Go heap %.1f MiB before the load, %.1f MiB after; at most %.1f MiB in use during it",
		mib(heapStart), mib(heapEnd), mib(heapMax))
	if heapEnd > heapStart+heapGrowthAllowance {
		t.Errorf("the live Go heap grew from %.1f MiB to %.1f MiB over the soak, more than %.0f MiB",
			mib(heapStart), mib(heapEnd), mib(heapGrowthAllowance))
	}
	if heapMax > heapStart+heapPeakAllowance {
		t.Errorf("the Go heap reached %.1f MiB during the soak, %.1f MiB at its start", mib(heapMax), mib(heapStart))
	}
	closeAll()
	left := waitGoroutines(baseGoroutines + 5)
	t.Logf("soak: goroutines %d before, %d after", baseGoroutines, left)
	if left > baseGoroutines+5 {
		t.Errorf("%d goroutines after the soak, %d before", left, baseGoroutines)
	}
	goleak.VerifyNone(t, ignore)
}

// heapGrowthAllowance is how much more live heap the idle exporters may
// hold after the soak than before it: the fake APIs' request logs fill up
// to their bound of 1000 requests each (half a MiB in all). The 4 s run
// serves some 3000 to 9000 requests on two shared cores, so that a leak of
// 2 KiB per request exceeds it; under the race detector, which serves ten
// times fewer, a leak of whole answers does.
const heapGrowthAllowance = 4 << 20

// heapPeakAllowance bounds the heap in use at any moment of the soak above
// its start: a few oversized answers are read at once, each to the 8 MiB
// cap, beside the 64 clients' answers; holding one whole 256 MiB answer
// would exceed it.
const heapPeakAllowance = 128 << 20

func mib(b uint64) float64 { return float64(b) / (1 << 20) }

// liveHeap returns the bytes of the Go heap that are reachable, after two
// collections so that pooled buffers are dropped too.
func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// settledGoroutines returns the number of goroutines once it has stopped
// falling for 100 ms, as connections that were just closed wind down, or
// after patience. A count taken too early is only higher, which makes the
// later checks more lenient, never flaky.
func settledGoroutines() int {
	n := runtime.NumGoroutine()
	stable := 0
	for deadline := time.Now().Add(patience); stable < 5 && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
		if m := runtime.NumGoroutine(); m < n {
			n, stable = m, 0
		} else {
			stable++
		}
	}
	return n
}

// waitGoroutines waits up to patience for the number of goroutines to come
// down to at most n, and returns the last count.
func waitGoroutines(n int) int {
	deadline := time.Now().Add(patience)
	for {
		left := runtime.NumGoroutine()
		if left <= n || time.Now().After(deadline) {
			return left
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// What the configuration load notices without failing is logged, at start
// and on reload: a warning for an unknown region, an info line for an API
// version dropped from an endpoint.
func TestConfigNotesLogged(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dcs_exporter.yml")
	src := "targets:\n  - name: lab\n    region: xx-lab-1\n    credentials: {env: true}\n    iam_endpoint: https://iam.example.com/v3\n"
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	a, err := newApp(context.Background(), []string{"--config.file=" + path}, logs)
	if err != nil {
		t.Fatal(err)
	}
	defer a.close()
	if err := a.reloader.reload(); err != nil {
		t.Fatal(err)
	}
	for level, note := range map[string]string{
		"WARN": `:3: targets[0].region: target \"lab\": region \"xx-lab-1\" is not in the region tables`,
		"INFO": `:5: targets[0].iam_endpoint: dropped /v3 from the end of the URL`,
	} {
		n := 0
		for line := range strings.Lines(logs.String()) {
			if strings.Contains(line, "level="+level) && strings.Contains(line, note) {
				n++
			}
		}
		if n != 2 {
			t.Errorf("%d log lines at %s with %q, want one at start and one on reload:\n%s", n, level, note, logs)
		}
	}
}

// TestDemoShowsAFailingTarget: --demo has one target that fails on purpose,
// so that a new user sees a failure and its hint on the status page and in
// --dcs.check, while the other demo targets stay up.
func TestDemoShowsAFailingTarget(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a, err := newApp(ctx, []string{"--demo"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer a.close()
	srv := httptest.NewServer(a.handler)
	defer srv.Close()

	metrics := demoGet(t, srv.URL+"/metrics") // on-scrape mode: this queries every target
	up := regexp.MustCompile(`(?m)^dcs_up\{target="([^"]+)"[^}]*\} ([01])$`).FindAllStringSubmatch(metrics, -1)
	if len(up) != 4 {
		t.Fatalf("want dcs_up of 4 demo targets, got %q", up)
	}
	for _, m := range up {
		if want := map[bool]string{true: "0", false: "1"}[m[1] == demo.FailingTarget]; m[2] != want {
			t.Errorf("dcs_up of %s is %s, want %s", m[1], m[2], want)
		}
	}

	page := demoGet(t, srv.URL+"/")
	for _, w := range []string{demo.FailingTarget, "DCS.2007", "attach the DCS ReadOnlyAccess policy"} {
		if !strings.Contains(page, w) {
			t.Errorf("the status page does not show %q", w)
		}
	}

	f, err := parseFlags([]string{"--dcs.check", "--demo"})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if code := runChecks(ctx, f, &out); code != 1 {
		t.Errorf("--dcs.check --demo exit status %d, want 1", code)
	}
	if !regexp.MustCompile(demo.FailingTarget + ` +FAILED +status call: HTTP 403 DCS\.2007 .*\| hint: .*DCS ReadOnlyAccess`).MatchString(out.String()) {
		t.Errorf("--dcs.check --demo does not show the failing target with its hint:\n%s", &out)
	}
}

func demoGet(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(body)
}

// insecure_skip_verify is warned of at start and at every reload, naming
// the target.
func TestInsecureSkipVerifyLogged(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dcs_exporter.yml")
	src := "targets:\n  - name: lab\n    region: cn-north-4\n    credentials: {env: true}\n    tls: {insecure_skip_verify: true}\n"
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	a, err := newApp(context.Background(), []string{"--config.file=" + path}, logs)
	if err != nil {
		t.Fatal(err)
	}
	defer a.close()
	for range 2 {
		if err := a.reloader.reload(); err != nil {
			t.Fatal(err)
		}
	}
	n := 0
	for line := range strings.Lines(logs.String()) {
		if strings.Contains(line, "level=WARN") && strings.Contains(line, `target \"lab\": the TLS certificates of its API endpoints are NOT verified`) {
			n++
		}
	}
	if n != 3 {
		t.Errorf("%d warnings of insecure_skip_verify, want one at start and one at each of 2 reloads:\n%s", n, logs)
	}
}
