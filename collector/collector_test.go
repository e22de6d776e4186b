package collector_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dcs-exporter/dcs_exporter/collector"
	"github.com/dcs-exporter/dcs_exporter/dcsapi/dcsapitest"
)

func TestNormalAnswer(t *testing.T) {
	e := newEnv(t, collector.Options{}, targetA)
	compareGolden(t, "normal", e.Scrape(""))
}

func TestAbsentStatesAreZero(t *testing.T) {
	e := newEnv(t, collector.Options{}, targetA)
	e.Srv.SetStatusOverride(projectA, []byte(`{"running_count":2,"redis":{"running_count":2}}`))
	compareGolden(t, "absent_states", e.Scrape("prod"))
}

func TestUnknownStateAndEngine(t *testing.T) {
	e := newEnv(t, collector.Options{}, targetA)
	e.Srv.SetStatusOverride(projectA, []byte(`{"running_count":3,"hibernating_count":1,
		"redis":{"running_count":1,"hibernating_count":1},"valkey":{"running_count":2,"note":"ignored"}}`))
	got := e.Scrape("prod")
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
	e := newEnv(t, collector.Options{}, targetA+"    api_version: v1\n")
	got := e.Scrape("prod")
	compareGolden(t, "v1", got)
	if strings.Contains(got, `engine="memcached"`) {
		t.Error("v1 has no memcached object")
	}
	if e.Srv.Requests(dcsapitest.APIInstanceStatus) != 1 {
		t.Errorf("status requests = %d", e.Srv.Requests(dcsapitest.APIInstanceStatus))
	}
}

func TestFailingTargetAmongHealthy(t *testing.T) {
	alone := newEnv(t, collector.Options{}, targetA)
	healthyAlone := linesOf(alone.Scrape(""), `target="prod"`)

	e := newEnv(t, collector.Options{}, targetA+targetB)
	e.Srv.InjectFault(projectB, dcsapitest.APIInstanceStatus, dcsapitest.Fault{Kind: dcsapitest.FaultStatus, Status: 500})
	all := e.Scrape("")
	compareGolden(t, "one_failing", all)
	if got := linesOf(all, `target="prod"`); got != healthyAlone {
		t.Errorf("the healthy target's series changed next to a failing one:\n%s\nwant\n%s", got, healthyAlone)
	}
	if !strings.Contains(all, `dcs_up{target="staging",region="ap-southeast-1",project_id="`+projectB+`"} 0`) {
		t.Error("the failing target is not down")
	}
}

func TestStaleCountsServedThenExpire(t *testing.T) {
	e := newEnv(t, collector.Options{MaxStaleness: 5 * time.Minute}, targetA)
	e.Scrape("prod")
	e.Srv.InjectFault(projectA, dcsapitest.APIInstanceStatus, dcsapitest.Fault{Kind: dcsapitest.FaultStatus, Status: 503})

	e.Clock.Advance(time.Minute)
	compareGolden(t, "stale_served", e.Scrape("prod"))

	e.Clock.Advance(4*time.Minute + time.Second)
	got := e.Scrape("prod")
	compareGolden(t, "stale_expired", got)
	if strings.Contains(got, "dcs_instances{") {
		t.Error("counts older than max staleness are still served")
	}
}

func TestNoStalenessNeverServesOldCounts(t *testing.T) {
	e := newEnv(t, collector.Options{MaxStaleness: 0}, targetA)
	e.Scrape("prod")
	e.Srv.InjectFault(projectA, dcsapitest.APIInstanceStatus, dcsapitest.Fault{Kind: dcsapitest.FaultStatus, Status: 503})
	if got := e.Scrape("prod"); strings.Contains(got, "dcs_instances{") {
		t.Errorf("old counts served with --dcs.max-staleness=0:\n%s", got)
	}
}

func TestCachedModeServesWithoutCalling(t *testing.T) {
	e := newEnv(t, collector.Options{RefreshInterval: time.Hour}, targetA+targetB)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() { e.Exp.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	waitFor(t, e.Exp.Ready)
	if n := e.Srv.Requests(dcsapitest.APIInstanceStatus); n != 2 {
		t.Fatalf("first refresh made %d status calls, want 2", n)
	}
	for range 20 {
		e.Scrape("")
		e.Scrape("prod")
	}
	if n := e.Srv.Requests(dcsapitest.APIInstanceStatus); n != 2 {
		t.Fatalf("scrapes in cached mode called the API: %d calls", n)
	}
	// A reload that adds a target refreshes only the new one.
	e.Apply(targetA + targetB + "  - name: third\n    region: cn-north-4\n    project_id: " + projectA + "\n")
	waitFor(t, func() bool { return e.Srv.Requests(dcsapitest.APIInstanceStatus) == 3 })
	time.Sleep(50 * time.Millisecond)
	if n := e.Srv.Requests(dcsapitest.APIInstanceStatus); n != 3 {
		t.Fatalf("reload made %d calls in all, want 3", n)
	}
}

func TestCachedModeRefreshesEachInterval(t *testing.T) {
	// An interval of two seconds leaves each round's calls, a few
	// milliseconds on loopback, two seconds to finish before the next round.
	e := newEnv(t, collector.Options{RefreshInterval: 2 * time.Second}, targetA+targetB)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { e.Exp.Run(ctx); close(done) }()
	waitFor(t, func() bool { return e.Srv.Requests(dcsapitest.APIInstanceStatus) >= 4 })
	cancel()
	<-done
	a, b := e.Srv.ProjectRequests(projectA, dcsapitest.APIInstanceStatus), e.Srv.ProjectRequests(projectB, dcsapitest.APIInstanceStatus)
	if a-b > 1 || b-a > 1 {
		t.Errorf("refresh rounds are uneven: %d and %d calls", a, b)
	}
}

func TestConcurrentScrapesShareOneCall(t *testing.T) {
	e := newEnv(t, collector.Options{MaxConcurrency: 1}, targetA)
	// The only API slot is taken, so the first scrape's query cannot call
	// the API until every scrape is waiting for it.
	e.Exp.TakeSlot()
	var wg sync.WaitGroup
	for range 50 {
		wg.Add(1)
		go func() { defer wg.Done(); e.Scrape("prod") }()
	}
	waitFor(t, func() bool { return goroutinesWaitingIn("collector.(*Exporter).collect(") == 50 })
	e.Exp.ReleaseSlot()
	wg.Wait()
	if n := e.Srv.Requests(dcsapitest.APIInstanceStatus); n != 1 {
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
	e := newEnv(t, collector.Options{}, targetA+targetB+"    timeout: 30s\n")
	e.Srv.InjectFault(projectB, dcsapitest.APIInstanceStatus, dcsapitest.Fault{Kind: dcsapitest.FaultHang})
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	req.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", "3")
	rec := httptest.NewRecorder()
	start := time.Now()
	e.Web.MetricsHandler(nil).ServeHTTP(rec, req)
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
	e := newEnv(t, collector.Options{AuthBackoff: time.Minute, MaxAuthBackoff: 10 * time.Minute}, targetA)
	e.Apply(strings.Replace(targetA, "labels:", "credentials: {access_key: WRONGAK, secret_key: NotTheSecretKey4711}\n    labels:", 1))
	calls := func() int { return e.Srv.Requests(dcsapitest.APIInstanceStatus) }
	for range 10 {
		e.Scrape("prod")
	}
	if n := calls(); n != 1 {
		t.Fatalf("10 scrapes with a refused key made %d calls, want 1", n)
	}
	// Each step of the backoff, a minute and then twice as long, is checked
	// just before it ends (no call) and just after (one call).
	for i, step := range []time.Duration{time.Minute, 2 * time.Minute} {
		e.Clock.Advance(step - time.Second)
		e.Scrape("prod")
		if n := calls(); n != i+1 {
			t.Fatalf("backoff step %d (%v): called again after %v", i+1, step, step-time.Second)
		}
		e.Clock.Advance(2 * time.Second)
		e.Scrape("prod")
		if n := calls(); n != i+2 {
			t.Fatalf("backoff step %d (%v): not called again after %v", i+1, step, step+time.Second)
		}
	}
	if c := strings.Count(e.Logs.String(), "query failed"); c != 1 {
		t.Errorf("the same failure was logged %d times, want once:\n%s", c, e.Logs)
	}
	if strings.Contains(e.Logs.String(), "NotTheSecretKey4711") {
		t.Error("the secret key reached the log")
	}
}

func TestThrottlingHonoursRetryAfter(t *testing.T) {
	e := newEnv(t, collector.Options{ThrottleBackoff: time.Second, MaxThrottleBackoff: time.Minute}, targetA)
	e.Srv.InjectFault(projectA, dcsapitest.APIInstanceStatus, dcsapitest.Fault{Kind: dcsapitest.FaultThrottle, RetryAfter: 30 * time.Second, Times: 1})
	got := e.Scrape("prod")
	if !strings.Contains(got, `api="instance_status",code="429"} 1`) {
		t.Errorf("429 not counted:\n%s", got)
	}
	e.Clock.Advance(20 * time.Second)
	e.Scrape("prod")
	if n := e.Srv.Requests(dcsapitest.APIInstanceStatus); n != 1 {
		t.Fatalf("called again %d times within Retry-After", n-1)
	}
	e.Clock.Advance(11 * time.Second)
	if got := e.Scrape("prod"); !strings.Contains(got, "dcs_up{target=\"prod\",region=\"cn-north-4\",project_id=\""+projectA+"\",env=\"prod\",team=\"cache\"} 1") {
		t.Errorf("not up after Retry-After:\n%s", got)
	}
}

func TestProjectDiscoveryLabel(t *testing.T) {
	e := newEnv(t, collector.Options{}, "  - name: discovered\n    region: cn-north-4\n")
	got := e.Scrape("discovered")
	if !strings.Contains(got, `dcs_up{target="discovered",region="cn-north-4",project_id="`+projectA+`"} 1`) {
		t.Errorf("discovered project id missing:\n%s", got)
	}
	e.Scrape("discovered")
	if n := e.Srv.Requests(dcsapitest.APIIAMProjects); n != 1 {
		t.Errorf("IAM asked %d times, want once", n)
	}
}

func TestReloadKeepsUnchangedTargets(t *testing.T) {
	e := newEnv(t, collector.Options{}, targetA+targetB)
	e.Scrape("")
	before := e.Exp.Target("prod")
	e.Apply(targetA)
	if e.Exp.Target("prod") != before {
		t.Error("an unchanged target was rebuilt")
	}
	if e.Exp.Target("staging") != nil {
		t.Error("a removed target is still served")
	}
	if got := e.Scrape(""); strings.Contains(got, `target="staging"`) {
		t.Error("a removed target's series are still served")
	}
}

func TestTimedOutScrapeObeysStaleness(t *testing.T) {
	e := newEnv(t, collector.Options{MaxStaleness: 5 * time.Minute}, targetA)
	e.Scrape("prod")
	e.Clock.Advance(time.Hour)
	e.Srv.InjectFault(projectA, dcsapitest.APIInstanceStatus, dcsapitest.Fault{Kind: dcsapitest.FaultHang})
	got := e.ProbeWithTimeout("prod", "0.5")
	if !strings.Contains(got, prodUp+"0") {
		t.Errorf("a timed-out target is not down:\n%s", got)
	}
	if strings.Contains(got, "dcs_instances{") {
		t.Errorf("a timed-out scrape served counts an hour old:\n%s", got)
	}
}

func TestQueryWithoutAPISlotIsDown(t *testing.T) {
	e := newEnv(t, collector.Options{MaxConcurrency: 1, MaxStaleness: 5 * time.Minute}, targetA)
	e.Scrape("prod")
	e.Clock.Advance(time.Hour)
	e.Exp.TakeSlot() // every API slot is taken
	defer e.Exp.ReleaseSlot()
	got := e.ProbeWithTimeout("prod", "0.3")
	if !strings.Contains(got, prodUp+"0") || strings.Contains(got, "dcs_instances{") {
		t.Errorf("a target whose query found no API slot is up or shows old counts:\n%s", got)
	}
	// The scrape may stop waiting a moment before the query gives up.
	waitFor(t, func() bool { return strings.Contains(e.Logs.String(), "no free API slot") })
}

func TestSlowTargetUsesLateAnswers(t *testing.T) {
	e := newEnv(t, collector.Options{}, targetA)
	tg := e.Exp.Target("prod")
	idle := tg.Idle
	calls := func() int { return e.Srv.Requests(dcsapitest.APIInstanceStatus) }
	// Queries take 2 s. A scrape timeout of 2 s leaves 1.8 s to wait
	// (TestScrapeDeadline), which is too short for them, yet leaves a fast
	// query more than a second to spare on a busy machine.
	const slow, timeout = 2 * time.Second, "2"
	e.Srv.SetLatency(slow)

	// The first scrape, with 50 ms to wait, gives up on its query.
	if got := e.ProbeWithTimeout("prod", "0.1"); !strings.Contains(got, prodUp+"0") {
		t.Errorf("a scrape that could not wait for its query is up:\n%s", got)
	}
	// Each later scrape serves the answer of the query before it, and
	// starts the next one without waiting for it.
	waitFor(t, idle)
	if got := e.ProbeWithTimeout("prod", timeout); !strings.Contains(got, prodUp+"1") {
		t.Errorf("a target slower than the scrape timeout is down although its queries succeed:\n%s", got)
	}
	waitFor(t, idle)
	e.Srv.SetLatency(0) // from the next query on
	if got := e.ProbeWithTimeout("prod", timeout); !strings.Contains(got, prodUp+"1") {
		t.Errorf("the second late answer was not served:\n%s", got)
	}
	// Once the target is fast again, a scrape waits for a fresh answer.
	waitFor(t, idle)
	if n := calls(); n != 3 {
		t.Errorf("%d status calls for 3 scrapes, want one each", n)
	}
	if got := e.ProbeWithTimeout("prod", timeout); !strings.Contains(got, prodUp+"1") {
		t.Errorf("not up once fast again:\n%s", got)
	}
	if n := calls(); n != 4 {
		t.Errorf("a fast target's scrape made %d calls, want 1", n-3)
	}
	if !idle() {
		t.Error("the scrape of a fast target did not wait for its query")
	}
}

// TestScrapeDurationIsMeasured runs on the real clock, which the golden
// files cannot: the query's duration must cover the API's delay and fit in
// the scrape's wall time, after a success and after a failure alike.
func TestScrapeDurationIsMeasured(t *testing.T) {
	const latency = 300 * time.Millisecond
	e := newEnv(t, collector.Options{Now: time.Now}, targetA)
	e.Srv.SetLatency(latency)
	for _, failing := range []bool{false, true} {
		if failing {
			e.Srv.InjectFault(projectA, dcsapitest.APIInstanceStatus, dcsapitest.Fault{Kind: dcsapitest.FaultStatus, Status: 500})
		}
		start := time.Now()
		got := e.Scrape("prod")
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
