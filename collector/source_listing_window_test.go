package collector_test

import (
	"strings"
	"testing"
	"time"

	"github.com/dcs-exporter/dcs_exporter/collector"
	"github.com/dcs-exporter/dcs_exporter/dcsapi/dcsapitest"
)

// TestCachedOutputChangesAtWindowBoundary serves /metrics in cached mode
// while the test clock crosses an instance's window boundaries. Nothing
// calls the API in between: the cached answer itself must expire.
func TestCachedOutputChangesAtWindowBoundary(t *testing.T) {
	e := newEnv(t, collector.Options{RefreshInterval: time.Minute}, listedA)
	e.Srv.SetInstances(projectA, []dcsapitest.Instance{
		{ID: "w1", Name: "soon", Engine: "Redis", Status: "RUNNING", MaintainBegin: "10:05:00", MaintainEnd: "10:10:00"},
		{ID: "w2", Name: "night", Engine: "Redis", Status: "RUNNING", MaintainBegin: "22:00:00", MaintainEnd: "02:00:00"},
	})
	e.Refresh("prod") // also queries the status counts, for the cross-check
	active := func() string {
		var out []string
		for _, line := range series(e.Scrape(""), "dcs_instance_maintenance_window_active") {
			out = append(out, instanceIDLabel.FindStringSubmatch(line)[1]+"="+line[len(line)-1:])
		}
		return strings.Join(out, " ")
	}
	calls := e.Srv.Requests("")
	for _, step := range []struct {
		advance time.Duration
		want    string
	}{
		{0, "w1=0 w2=0"}, // 10:00:00
		{5*time.Minute - time.Millisecond, "w1=0 w2=0"}, // 10:04:59.999
		{time.Millisecond, "w1=1 w2=0"},                 // 10:05:00: the begin is inside
		{5*time.Minute - time.Second, "w1=1 w2=0"},      // 10:09:59
		{time.Second, "w1=0 w2=0"},                      // 10:10:00: the end is outside
		{12 * time.Hour, "w1=0 w2=1"},                   // 22:10:00
		{4 * time.Hour, "w1=0 w2=0"},                    // 02:10:00 the next day
	} {
		e.Clock.Advance(step.advance)
		if got := active(); got != step.want {
			t.Errorf("at %s: %s, want %s", e.Clock.Now().Format(time.TimeOnly+".000"), got, step.want)
		}
	}
	if n := e.Srv.Requests(""); n != calls {
		t.Errorf("%d API calls while serving from the cache, want none", n-calls)
	}
}

// TestWindowProblemsLoggedOncePerListing lists instances without windows
// and with malformed ones: they get no window series, and each listing
// logs them in one line.
func TestWindowProblemsLoggedOncePerListing(t *testing.T) {
	e := newEnv(t, collector.Options{}, listedA)
	e.Srv.SetInstances(projectA, []dcsapitest.Instance{
		{ID: "ok", Engine: "Redis", Status: "RUNNING", MaintainBegin: "02:00:00", MaintainEnd: "06:00:00"},
		{ID: "none1", Engine: "Redis", Status: "RUNNING"},
		{ID: "none2", Engine: "Redis", Status: "RUNNING"},
		{ID: "bad1", Engine: "Redis", Status: "RUNNING", MaintainBegin: "2am", MaintainEnd: "06:00:00"},
		{ID: "bad2", Engine: "Redis", Status: "RUNNING", MaintainBegin: "25:00:00", MaintainEnd: "06:00:00"},
		{ID: "half", Engine: "Redis", Status: "RUNNING", MaintainBegin: "02:00:00"},
	})
	for listings := 1; listings <= 2; listings++ {
		e.Refresh("prod")
		got := e.Scrape("prod")
		if ids := instanceIDs(got, "dcs_instance_maintenance_window_active"); strings.Join(ids, ",") != "ok" {
			t.Errorf("window series for %v, want only ok", ids)
		}
		var logged []string
		for _, line := range strings.Split(e.Logs.String(), "\n") {
			if strings.Contains(line, "no usable maintenance window") {
				logged = append(logged, line)
			}
		}
		if len(logged) != listings {
			t.Fatalf("after %d listings, %d log lines:\n%s", listings, len(logged), strings.Join(logged, "\n"))
		}
		for _, want := range []string{"level=WARN", "missing=2", "malformed=3", "example_instance_id=bad1", "maintain_begin=2am"} {
			if !strings.Contains(logged[0], want) {
				t.Errorf("the log line lacks %s: %s", want, logged[0])
			}
		}
	}
}
