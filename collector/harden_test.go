package collector_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dcs-exporter/dcs_exporter/collector"
	"github.com/dcs-exporter/dcs_exporter/dcsapi/dcsapitest"
)

// The log names a target's endpoint in every line about it, without the
// user and password the URL may carry.
func TestLogShowsNoUserinfo(t *testing.T) {
	const password = "LogPassw0rdDoNotShow"
	e := newEnv(t, collector.Options{}, targetA)
	withUser := strings.Replace(e.Srv.URL, "http://", "http://admin:"+password+"@", 1)
	e.Apply(targetA + "    endpoint: " + withUser + "/nowhere\n")
	e.Scrape("prod") // the path does not exist: a failed query, logged
	logs := e.Logs.String()
	if !strings.Contains(logs, "query failed") || !strings.Contains(logs, "endpoint="+e.Srv.URL+"/nowhere") {
		t.Fatalf("no failed query logged with its endpoint:\n%s", logs)
	}
	if strings.Contains(logs, password) || strings.Contains(logs, "admin") {
		t.Errorf("the log shows the URL's user or password:\n%s", logs)
	}
}

// An answer of 340,000 made-up states is refused: the target is down, its
// last good counts are served within their staleness bound, and /metrics
// does not grow by a series.
func TestOversizedStatusAnswerKeepsLastCounts(t *testing.T) {
	e := newEnv(t, collector.Options{MaxStaleness: 5 * time.Minute}, targetA)
	good := e.Scrape("prod")
	var b strings.Builder
	b.WriteString(`{"running_count": 7`)
	for i := range 340000 {
		fmt.Fprintf(&b, `,"s%d_count": 1`, i)
	}
	b.WriteString("}")
	e.Srv.SetStatusOverride(projectA, []byte(b.String()))
	e.Clock.Advance(time.Minute)
	got := e.Scrape("prod")
	if up := linesOf(got, "dcs_up{"); !strings.HasSuffix(up, "} 0") {
		t.Errorf("the target is not down:\n%s", got)
	}
	if linesOf(got, "dcs_instances{") != linesOf(good, "dcs_instances{") {
		t.Errorf("the last good counts are not served:\n%s\nwant\n%s", linesOf(got, "dcs_instances{"), linesOf(good, "dcs_instances{"))
	}
	if len(got) > 2*len(good) {
		t.Errorf("/metrics grew from %d to %d bytes", len(good), len(got))
	}
	if logs := e.Logs.String(); !strings.Contains(logs, "states per engine") {
		t.Errorf("the log does not name the limit:\n%s", logs)
	}
}

// An endless listing past the target's max_instances fails naming the
// bound; the earlier listing is still served within the staleness bound,
// and the status counts as usual.
func TestEndlessListingKeepsEarlierListing(t *testing.T) {
	e := newEnv(t, collector.Options{MaxStaleness: 5 * time.Minute}, listedA+"    max_instances: 2000\n")
	e.Refresh("prod")
	before := e.Scrape("prod")
	e.Srv.InjectFault(projectA, dcsapitest.APIListInstances, dcsapitest.Fault{Kind: dcsapitest.FaultEndlessListing})
	e.Clock.Advance(time.Minute)
	e.Refresh("prod")
	after := e.Scrape("prod")
	if got, want := instanceIDs(after, "dcs_instance_info"), instanceIDs(before, "dcs_instance_info"); len(got) != len(want) || len(got) == 0 {
		t.Errorf("after the failed listing %d instances are served, want the earlier %d", len(got), len(want))
	}
	if up := linesOf(after, "dcs_up{"); !strings.HasSuffix(up, "} 1") {
		t.Errorf("the status query is not up: %s", up)
	}
	st := e.Exp.TargetStatuses()[0]
	if st.Listing == nil || st.Listing.Up || st.Listing.LastError == nil || !strings.Contains(st.Listing.LastError.Error(), "max_instances") {
		t.Fatalf("listing status %+v: want it failing with an error naming max_instances", st.Listing)
	}
	if pages := e.Srv.ProjectRequests(projectA, dcsapitest.APIListInstances); pages > 1+3 {
		t.Errorf("%d listing calls, want the first listing's one and at most 3 of the endless one", pages)
	}
}

// An instance with a negative memory size keeps its other series, loses
// only that one, and the listing logs it once.
func TestOddMemorySizeDropsOneSeries(t *testing.T) {
	fleet := smallFleet()
	fleet[0].MaxMemoryMB = -5
	e := newEnv(t, collector.Options{}, listedA)
	e.Srv.SetInstances(projectA, fleet)
	e.Refresh("prod")
	e.Clock.Advance(time.Hour)
	e.Refresh("prod")
	got := e.Scrape("prod")
	if ids := instanceIDs(got, "dcs_instance_memory_max_bytes"); len(ids) != len(fleet)-1 || slices.Contains(ids, fleet[0].ID) {
		t.Errorf("dcs_instance_memory_max_bytes for %v, want every instance but %s", ids, fleet[0].ID)
	}
	for _, metric := range []string{"dcs_instance_info", "dcs_instance_memory_used_bytes"} {
		if ids := instanceIDs(got, metric); len(ids) != len(fleet) {
			t.Errorf("%s for %d instances, want all %d", metric, len(ids), len(fleet))
		}
	}
	if strings.Contains(got, "-5.24288e+06") || strings.Contains(got, "-5242880") {
		t.Error("the negative size is served")
	}
	if n := strings.Count(e.Logs.String(), "memory sizes that cannot be"); n != 2 {
		t.Errorf("logged %d times over two listings, want once per listing:\n%s", n, e.Logs)
	}
}
