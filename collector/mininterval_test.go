package collector_test

import (
	"strings"
	"testing"
	"time"

	"github.com/dcs-exporter/dcs_exporter/collector"
	"github.com/dcs-exporter/dcs_exporter/dcsapi/dcsapitest"
)

// A flood of scrapes in on-scrape mode costs one signed call per
// --dcs.min-interval, not one per scrape (issue 19: 50 sequential scrapes
// used to make 50 calls).
func TestMinIntervalBoundsCallsOfAScrapeFlood(t *testing.T) {
	e := newEnv(t, collector.Options{MinInterval: 10 * time.Second}, targetA)
	first := e.Scrape("prod")
	for range 50 {
		e.Clock.Advance(100 * time.Millisecond) // 50 scrapes within 5 s
		if got := e.Scrape("prod"); got != first {
			t.Fatalf("a scrape within the minimum interval changed the answer:\n%s\nwant\n%s", got, first)
		}
	}
	if n := e.Srv.Requests(dcsapitest.APIInstanceStatus); n != 1 {
		t.Fatalf("50 scrapes within 5 s made %d status calls, want 1", n)
	}
	// The served answer stays truthful: the query's own time and duration,
	// not the scrape's.
	if !strings.Contains(first, "dcs_last_success_timestamp_seconds{") {
		t.Fatal("no last-success timestamp in the first answer")
	}

	e.Clock.Advance(5 * time.Second) // 10.0 s after the answer
	later := e.Scrape("prod")
	if n := e.Srv.Requests(dcsapitest.APIInstanceStatus); n != 2 {
		t.Fatalf("a scrape once the minimum interval had passed made %d calls in all, want 2", n)
	}
	if sampleValue(t, later, "dcs_last_success_timestamp_seconds") == sampleValue(t, first, "dcs_last_success_timestamp_seconds") {
		t.Error("the new query's success time is not served")
	}
}

// A failed answer is an answer too: a flood against a failing API does not
// turn into a call per scrape either.
func TestMinIntervalAppliesToFailures(t *testing.T) {
	e := newEnv(t, collector.Options{MinInterval: 10 * time.Second}, targetA)
	e.Srv.InjectFault(projectA, dcsapitest.APIInstanceStatus, dcsapitest.Fault{Kind: dcsapitest.FaultStatus, Status: 500})
	for range 20 {
		if up := sampleValue(t, e.Scrape("prod"), "dcs_up"); up != 0 {
			t.Fatalf("a failing target has dcs_up %v, want 0", up)
		}
		e.Clock.Advance(200 * time.Millisecond)
	}
	if n := e.Srv.Requests(dcsapitest.APIInstanceStatus); n != 1 {
		t.Fatalf("20 scrapes of a failing target within 4 s made %d calls, want 1", n)
	}
}

// Without a minimum every scrape queries, as before.
func TestNoMinIntervalQueriesEveryScrape(t *testing.T) {
	e := newEnv(t, collector.Options{}, targetA)
	for range 5 {
		e.Scrape("prod")
		e.Clock.Advance(100 * time.Millisecond)
	}
	if n := e.Srv.Requests(dcsapitest.APIInstanceStatus); n != 5 {
		t.Fatalf("5 scrapes with no minimum interval made %d calls, want 5", n)
	}
}
