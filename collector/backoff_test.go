package collector_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dcs-exporter/dcs_exporter/collector"
	"github.com/dcs-exporter/dcs_exporter/dcsapi/dcsapitest"
)

// callTimes scrapes every step for the given span of the test clock and
// returns the offsets at which the fake API got a status call for project.
func callTimes(e *env, project string, step, span time.Duration) []time.Duration {
	var at []time.Duration
	calls := 0
	for now := time.Duration(0); now <= span; now += step {
		e.Scrape("")
		if n := e.Srv.ProjectRequests(project, dcsapitest.APIInstanceStatus); n != calls {
			calls = n
			at = append(at, now)
		}
		e.Clock.Advance(step)
	}
	return at
}

// A refused key is retried after 30 s, then after twice as long each time,
// up to 10 minutes, however often Prometheus scrapes: the gateway locks a
// key after repeated failures, and every call would be one more.
func TestAuthBackoffDoublesUpToTenMinutes(t *testing.T) {
	e := newEnv(t, collector.Options{}, strings.Replace(targetA, "labels:", "credentials: {access_key: WRONGAK, secret_key: wrong}\n    labels:", 1))
	const step = 15 * time.Second
	at := callTimes(e, projectA, step, 2*time.Hour)
	want := []time.Duration{30 * time.Second, time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute}
	for i := 1; i < len(at); i++ {
		gap, wait := at[i]-at[i-1], 10*time.Minute
		if i-1 < len(want) {
			wait = want[i-1]
		}
		// A call comes at the first scrape after the wait.
		if gap < wait || gap >= wait+step {
			t.Errorf("call %d came %v after the one before, want %v (scrapes every %v); calls at %v", i+1, gap, wait, step, at)
		}
	}
	if len(at) > 16 {
		t.Errorf("%d calls in 2 hours of scrapes every %v with a refused key: %v", len(at), step, at)
	}
	if c := strings.Count(e.Logs.String(), "query failed"); c != 1 {
		t.Errorf("the refused key was logged %d times, want once", c)
	}
}

// Throttling backs off the throttled target only: the others are called on
// every scrape as before, and every 429 is counted.
func TestThrottleBacksOffPerTarget(t *testing.T) {
	e := newEnv(t, collector.Options{ThrottleBackoff: 10 * time.Second, MaxThrottleBackoff: time.Minute}, targetA+targetB)
	e.Srv.InjectFault(projectA, dcsapitest.APIInstanceStatus, dcsapitest.Fault{Kind: dcsapitest.FaultThrottle})
	const step = 5 * time.Second
	at := callTimes(e, projectA, step, 5*time.Minute)
	if n := e.Srv.ProjectRequests(projectB, dcsapitest.APIInstanceStatus); n != 61 {
		t.Errorf("the healthy target got %d calls in 61 scrapes", n)
	}
	// 10 s, 20 s, 40 s, then the 1 minute cap.
	want := []time.Duration{10 * time.Second, 20 * time.Second, 40 * time.Second, time.Minute, time.Minute}
	if len(at) < len(want)+1 {
		t.Fatalf("calls at %v", at)
	}
	for i, w := range want {
		if gap := at[i+1] - at[i]; gap < w || gap >= w+step {
			t.Errorf("throttled call %d came %v after the one before, want %v; calls at %v", i+2, gap, w, at)
		}
	}
	body := e.Scrape("prod")
	if want := `api="instance_status",code="429"} ` + strconv.Itoa(len(at)); !strings.Contains(body, want) {
		t.Errorf("the 429s are not all counted (want %s):\n%s", want, linesOf(body, "dcs_api_requests_total"))
	}
}
