package collector_test

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dcs-exporter/dcs_exporter/collector"
	"github.com/dcs-exporter/dcs_exporter/collector/exposition"
	"github.com/dcs-exporter/dcs_exporter/dcsapi/dcsapitest"
)

// TestListingGolden lists three instances, with the test clock at 10:00:00
// UTC: r1 inside a plain window, m1 outside one that runs past midnight,
// c1 without one. r1 has both listed tags and one that is not listed, m1
// only the owner tag, c1 none.
func TestListingGolden(t *testing.T) {
	e := newEnv(t, collector.Options{}, taggedA)
	created := time.Date(2025, 1, 2, 3, 4, 5, 678e6, time.UTC)
	ep := "8e3c5f2a-41d7-4b8e-9a6f-2c1d0e9b7a53"
	e.Srv.SetInstances(projectA, []dcsapitest.Instance{
		{ID: "r1", Name: "orders", Engine: "Redis", EngineVersion: "6.0", Status: "RUNNING",
			SpecCode: "redis.single.xu1.tiny.128", CapacityGB: 0.125, MaxMemoryMB: 102, UsedMemoryMB: 3,
			Tags:          []dcsapitest.Tag{{Key: "env", Value: "prod"}, {Key: "cost-center", Value: "cc-1001"}, {Key: "owner", Value: "team-payments"}},
			MaintainBegin: "09:00:00", MaintainEnd: "11:00:00", ServiceUpgrade: true, CreatedAt: created},
		{ID: "m1", Name: `quote"d`, Engine: "Memcached", EngineVersion: "1.5", Status: "ERROR",
			SpecCode: "dcs.memcached.master_standby", CapacityGB: 2, MaxMemoryMB: 2048, UsedMemoryMB: 1024, ChargingMode: 1,
			EnterpriseProjectID: ep, Tags: []dcsapitest.Tag{{Key: "owner", Value: `team "q"`}},
			MaintainBegin: "22:00:00", MaintainEnd: "02:00:00"},
		{ID: "c1", Name: "never-born", Engine: "Redis", EngineVersion: "5.0", Status: "CREATEFAILED",
			SpecCode: "redis.ha.xu1.large.r2.1", CapacityGB: 1, MaxMemoryMB: 1024},
	})
	e.Refresh("prod")
	got := e.Scrape("prod")
	compareGolden(t, "listing_small", got)
	for _, line := range []string{
		// 0.125 GB, and 102 MB and 3 MB, in bytes.
		`dcs_instance_capacity_bytes{` + prodLabels + `,instance_id="r1"} 134217728`,
		`dcs_instance_memory_max_bytes{` + prodLabels + `,instance_id="r1"} 106954752`,
		`dcs_instance_memory_used_bytes{` + prodLabels + `,instance_id="r1"} 3145728`,
		`dcs_instance_info{` + prodLabels + `,instance_id="r1",name="orders",engine="redis",engine_version="6.0",spec_code="redis.single.xu1.tiny.128",charging_mode="pay-per-use",enterprise_project_id="0",tag_owner="team-payments",tag_cost_center="cc-1001"} 1`,
		`dcs_instance_info{` + prodLabels + `,instance_id="m1",name="quote\"d",engine="memcached",engine_version="1.5",spec_code="dcs.memcached.master_standby",charging_mode="yearly-monthly",enterprise_project_id="` + ep + `",tag_owner="team \"q\"",tag_cost_center=""} 1`,
		`dcs_instance_info{` + prodLabels + `,instance_id="c1",name="never-born",engine="redis",engine_version="5.0",spec_code="redis.ha.xu1.large.r2.1",charging_mode="pay-per-use",enterprise_project_id="0",tag_owner="",tag_cost_center=""} 1`,
		`dcs_instance_status{` + prodLabels + `,instance_id="c1",status="CREATEFAILED"} 1`,
		`dcs_instance_maintenance_window_active{` + prodLabels + `,instance_id="r1"} 1`,
		`dcs_instance_maintenance_window_active{` + prodLabels + `,instance_id="m1"} 0`,
		`dcs_instance_upgrade_pending{` + prodLabels + `,instance_id="r1"} 1`,
		`dcs_instance_upgrade_pending{` + prodLabels + `,instance_id="m1"} 0`,
		`dcs_instance_created_timestamp_seconds{` + prodLabels + `,instance_id="r1"} 1.735787045678e+09`,
		`dcs_instances_listing_up{` + prodLabels + `} 1`,
	} {
		if !strings.Contains(got, line+"\n") {
			t.Errorf("missing %s", line)
		}
	}
	if ids := instanceIDs(got, "dcs_instance_maintenance_window_active"); slices.Contains(ids, "c1") {
		t.Error("an instance without a maintenance window has dcs_instance_maintenance_window_active")
	}
	if strings.Contains(got, "tag_env") {
		t.Error("a tag that instance_tags does not list is exported")
	}
	if n := strings.Count(e.Logs.String(), "no usable maintenance window"); n != 1 {
		t.Errorf("c1's missing window was logged %d times, want once", n)
	}
}

// TestListingTagsFollowConfig checks the tag labels against the target's
// instance_tags: none without it, and a tag an instance carries twice
// gives its first value.
func TestListingTagsFollowConfig(t *testing.T) {
	fleet := []dcsapitest.Instance{{ID: "r1", Name: "a", Engine: "Redis", Status: "RUNNING",
		Tags: []dcsapitest.Tag{{Key: "owner", Value: "first"}, {Key: "owner", Value: "second"}, {Key: "Owner", Value: "case"}}}}
	for _, c := range []struct {
		config string
		want   string // the end of r1's info labels
	}{
		{listedA, `enterprise_project_id="0"} 1`},
		{listedA + "    instance_tags: [owner]\n", `enterprise_project_id="0",tag_owner="first"} 1`},
		{listedA + "    instance_tags: [Owner, team.name]\n", `enterprise_project_id="0",tag_Owner="case",tag_team_name=""} 1`},
	} {
		e := newEnv(t, collector.Options{}, c.config)
		e.Srv.SetInstances(projectA, fleet)
		e.Refresh("prod")
		info := series(e.Scrape("prod"), "dcs_instance_info")
		if len(info) != 1 || !strings.HasSuffix(info[0], c.want) {
			t.Errorf("with %q: info %q, want it to end with %s", strings.TrimPrefix(c.config, listedA), info, c.want)
		}
	}
}

func TestListingOffByDefault(t *testing.T) {
	e := newEnv(t, collector.Options{}, targetA)
	e.Refresh("prod")
	got := e.Scrape("prod")
	if e.Srv.Requests(dcsapitest.APIListInstances) != 0 {
		t.Error("a target without instances: true was listed")
	}
	if strings.Contains(got, "dcs_instances_listing") || len(perInstance(got)) != 0 {
		t.Errorf("listing series without instances: true:\n%s", got)
	}
}

func TestListingPagination(t *testing.T) {
	e := newEnv(t, collector.Options{}, listedA)
	fleet := dcsapitest.SampleFleet(2001)
	e.Srv.SetInstances(projectA, fleet)
	e.Refresh("prod")

	var pages []string
	for _, r := range e.Srv.RequestLog(dcsapitest.APIListInstances) {
		pages = append(pages, r.Query.Get("offset")+"/"+r.Query.Get("limit")+"/"+r.Query.Get("include_failure"))
	}
	if want := []string{"0/1000/true", "1000/1000/true", "2000/1000/true"}; !slices.Equal(pages, want) {
		t.Errorf("pages (offset/limit/include_failure) %v, want %v", pages, want)
	}

	got := e.Scrape("prod")
	var want []string
	for _, in := range fleet {
		want = append(want, in.ID)
	}
	slices.Sort(want)
	for _, f := range exposition.InstanceFamilies() {
		ids := instanceIDs(got, f.Name())
		slices.Sort(ids)
		if !slices.Equal(ids, want) {
			t.Errorf("%s: %d series, want one for each of the %d instances", f.Name(), len(ids), len(want))
		}
	}
}

func TestListingDropsDeletedInstances(t *testing.T) {
	e := newEnv(t, collector.Options{}, listedA)
	e.Refresh("prod")
	if got := e.Scrape("prod"); !slices.Contains(instanceIDs(got, "dcs_instance_info"), "r2") {
		t.Fatal("r2 is not listed to begin with")
	}
	e.Srv.RemoveInstance(projectA, "r2")
	e.Refresh("prod")
	got := e.Scrape("prod")
	for _, line := range perInstance(got) {
		if strings.Contains(line, `instance_id="r2"`) {
			t.Errorf("a deleted instance is still served: %s", line)
		}
	}
	if n := len(series(got, "dcs_instance_info")); n != len(smallFleet())-1 {
		t.Errorf("%d instances after the deletion, want %d", n, len(smallFleet())-1)
	}
}

func TestListingFollowsStatusChanges(t *testing.T) {
	e := newEnv(t, collector.Options{}, listedA)
	e.Refresh("prod")
	e.Srv.SetInstanceStatus(projectA, "r1", "RESTARTING")
	e.Refresh("prod")
	got := e.Scrape("prod")
	var r1 []string
	for _, line := range series(got, "dcs_instance_status") {
		if strings.Contains(line, `instance_id="r1"`) {
			r1 = append(r1, line)
		}
	}
	if want := `dcs_instance_status{` + prodLabels + `,instance_id="r1",status="RESTARTING"} 1`; !slices.Equal(r1, []string{want}) {
		t.Errorf("status series of r1: %q, want only %s", r1, want)
	}
	// One status series per instance: the series count stays linear.
	if n := len(series(got, "dcs_instance_status")); n != len(smallFleet()) {
		t.Errorf("%d status series for %d instances", n, len(smallFleet()))
	}
}

func TestListingFailingMiddlePageKeepsLastListing(t *testing.T) {
	e := newEnv(t, collector.Options{MaxStaleness: 5 * time.Minute}, listedA)
	fleet := dcsapitest.SampleFleet(2001)
	e.Srv.SetInstances(projectA, fleet)
	e.Refresh("prod")
	before := e.Scrape("prod")

	// A rename that a successful listing would show, and a page that fails.
	renamed := fleet[0]
	renamed.Name = "renamed"
	e.Srv.UpsertInstance(projectA, renamed)
	e.Srv.ResetCounts()
	e.Srv.InjectFault(projectA, dcsapitest.APIListInstances, dcsapitest.Fault{Kind: dcsapitest.FaultStatus, Status: 500, Offset: dcsapitest.AtOffset(1000)})
	e.Clock.Advance(time.Minute)
	e.Refresh("prod")

	var pages []string
	for _, r := range e.Srv.RequestLog(dcsapitest.APIListInstances) {
		pages = append(pages, r.Query.Get("offset"))
	}
	if want := []string{"0", "1000"}; !slices.Equal(pages, want) {
		t.Errorf("pages asked %v, want %v: a failed page ends the listing", pages, want)
	}
	if n := e.Srv.Requests(dcsapitest.APIInstanceStatus); n != 0 {
		t.Errorf("a failed listing made %d status calls", n)
	}

	after := e.Scrape("prod")
	if !strings.Contains(after, `dcs_instances_listing_up{`+prodLabels+`} 0`) {
		t.Error("listing_up is not 0 after a failed listing")
	}
	if !slices.Equal(perInstance(after), perInstance(before)) {
		t.Error("the per-instance series changed after a failed listing; want the last good listing")
	}
	if strings.Contains(after, `name="renamed"`) {
		t.Error("part of the failed listing was used")
	}
	for _, metric := range []string{"dcs_up", "dcs_instances", "dcs_instances_all_engines", "dcs_instances_listing_mismatch"} {
		if !slices.Equal(series(after, metric), series(before, metric)) {
			t.Errorf("%s changed after a failed listing:\n%s\nwant\n%s", metric,
				strings.Join(series(after, metric), "\n"), strings.Join(series(before, metric), "\n"))
		}
	}
	if n := strings.Count(e.Logs.String(), "instance listing failed"); n != 1 {
		t.Errorf("the failure was logged %d times, want once", n)
	}

	// The next good listing takes over.
	e.Srv.ClearFaults()
	e.Refresh("prod")
	got := e.Scrape("prod")
	if !strings.Contains(got, `dcs_instances_listing_up{`+prodLabels+`} 1`) || !strings.Contains(got, `name="renamed"`) {
		t.Error("a successful listing after a failed one is not served")
	}
}

func TestListingExpiresAfterMaxStaleness(t *testing.T) {
	e := newEnv(t, collector.Options{MaxStaleness: 5 * time.Minute}, listedA)
	e.Refresh("prod")
	tg := e.Exp.Target("prod")
	e.Srv.InjectFault(projectA, dcsapitest.APIListInstances, dcsapitest.Fault{Kind: dcsapitest.FaultStatus, Status: 503})

	e.Clock.Advance(time.Minute)
	e.Refresh("prod")
	// Render without a scrape, which would query the status API and so
	// re-render anyway: the cached output itself must expire.
	out := tg.Rendered(e.Clock.Now())
	if len(out.Lines(exposition.FamInstanceInfo)) == 0 || len(out.Lines(exposition.FamListingMismatch)) == 0 {
		t.Fatal("a listing one minute old is not served after a failure")
	}

	e.Clock.Advance(4*time.Minute + time.Second)
	out = tg.Rendered(e.Clock.Now())
	for _, f := range append(exposition.InstanceFamilies(), exposition.FamInstanceMaintenance, exposition.FamListingMismatch) {
		if len(out.Lines(f)) != 0 {
			t.Errorf("%s is served past max staleness:\n%s", f.Name(), out.Lines(f))
		}
	}
	if want := `dcs_instances_listing_up{` + prodLabels + "} 0\n"; string(out.Lines(exposition.FamListingUp)) != want {
		t.Errorf("listing_up is %q, want %q", out.Lines(exposition.FamListingUp), want)
	}
	if kept := tg.ListingHeld(); kept {
		t.Error("an expired listing is still held in memory")
	}
	got := e.Scrape("prod")
	if len(perInstance(got)) != 0 || !strings.Contains(got, `dcs_up{`+prodLabels+`} 1`) {
		t.Errorf("after expiry: want no per-instance series and the status counts up:\n%s", got)
	}
}

func TestListingWithoutStalenessDropsAtOnce(t *testing.T) {
	e := newEnv(t, collector.Options{MaxStaleness: 0}, listedA)
	e.Refresh("prod")
	e.Srv.InjectFault(projectA, dcsapitest.APIListInstances, dcsapitest.Fault{Kind: dcsapitest.FaultStatus, Status: 503})
	e.Refresh("prod")
	got := e.Scrape("prod")
	if len(perInstance(got)) != 0 {
		t.Error("a failed listing is served with --dcs.max-staleness=0")
	}
	if !strings.Contains(got, `dcs_instances_listing_up{`+prodLabels+`} 0`) {
		t.Error("listing_up is not 0")
	}
}

func TestListingMismatch(t *testing.T) {
	mismatches := func(text string) map[string]string {
		out := map[string]string{}
		for _, line := range series(text, "dcs_instances_listing_mismatch") {
			state := line[strings.Index(line, `state="`)+len(`state="`):]
			state, value, _ := strings.Cut(state, `"} `)
			out[state] = value
		}
		return out
	}

	t.Run("the APIs agree", func(t *testing.T) {
		e := newEnv(t, collector.Options{}, listedA)
		e.Refresh("prod")
		m := mismatches(e.Scrape("prod"))
		for _, state := range []string{"running", "error", "createfailed", "restarting", "creating", "frozen"} {
			if m[state] != "0" {
				t.Errorf("state %s: mismatch %q, want 0", state, m[state])
			}
		}
		for state, v := range m {
			if v != "0" {
				t.Errorf("state %s: mismatch %s, want 0", state, v)
			}
		}
	})

	t.Run("the status API counts differently", func(t *testing.T) {
		e := newEnv(t, collector.Options{}, listedA)
		e.Srv.UpsertInstance(projectA, dcsapitest.Instance{ID: "d1", Name: "going", Engine: "Redis", Status: "DELETING"})
		// The listing has 4 running, 1 deleting; the status API says 3
		// running and has no counter for deleting.
		e.Srv.SetStatusOverride(projectA, []byte(`{"running_count":3,"error_count":1,"createfailed_count":1,"restarting_count":1,
			"redis":{"running_count":2,"error_count":1,"createfailed_count":1},"memcached":{"running_count":1,"restarting_count":1}}`))
		statusCalls := e.Srv.Requests(dcsapitest.APIInstanceStatus)
		e.Refresh("prod")
		if e.Srv.Requests(dcsapitest.APIInstanceStatus) != statusCalls+1 {
			t.Error("the listing was not compared with a status reading of its own time")
		}
		got := e.Scrape("prod")
		m := mismatches(got)
		want := map[string]string{"running": "1", "deleting": "1", "error": "0", "createfailed": "0", "restarting": "0", "paying": "0"}
		for state, v := range want {
			if m[state] != v {
				t.Errorf("state %s: mismatch %q, want %s", state, m[state], v)
			}
		}
		if !strings.Contains(got, `dcs_instances_listing_mismatch{`+prodLabels+`,state="running"} 1`) {
			t.Errorf("mismatch series not as expected:\n%s", strings.Join(series(got, "dcs_instances_listing_mismatch"), "\n"))
		}
	})

	t.Run("failed creations left out of the status counts", func(t *testing.T) {
		e := newEnv(t, collector.Options{}, listedA+"    include_failure: false\n")
		e.Refresh("prod")
		m := mismatches(e.Scrape("prod"))
		if _, ok := m["createfailed"]; ok {
			t.Error("createfailed is compared although the status query leaves failed creations out")
		}
		for state, v := range m {
			if v != "0" {
				t.Errorf("state %s: mismatch %s, want 0", state, v)
			}
		}
	})

	t.Run("no status reading of the listing's time", func(t *testing.T) {
		e := newEnv(t, collector.Options{}, listedA)
		e.Srv.InjectFault(projectA, dcsapitest.APIInstanceStatus, dcsapitest.Fault{Kind: dcsapitest.FaultStatus, Status: 500, Times: 1})
		e.Refresh("prod")
		got := e.Scrape("prod")
		if len(series(got, "dcs_instances_listing_mismatch")) != 0 {
			t.Error("a mismatch is exported without status counts of the listing's time")
		}
		if len(series(got, "dcs_instance_info")) != len(smallFleet()) {
			t.Error("the listing is not served")
		}
	})
}

// TestScrapesDoNotWaitForListing hangs every page of two listings while
// scrapes come in. With --dcs.max-concurrency=2 both listings could take
// both API slots; one must stay free for the status queries.
func TestScrapesDoNotWaitForListing(t *testing.T) {
	// A hanging page holds its slot for the target's timeout of 5 s, longer
	// than the 2.7 s a scrape with a timeout of 3 s waits: a status query
	// that waited for a listing's slot would give up and leave its target
	// down. No wall-clock bound on the scrapes is needed, and a correct
	// exporter has 2.7 s for two status calls on loopback.
	const listed = "    instances: true\n    timeout: 5s\n"
	e := newEnv(t, collector.Options{MaxConcurrency: 2}, targetA+listed+targetB+listed)
	e.Srv.InjectFault("", dcsapitest.APIListInstances, dcsapitest.Fault{Kind: dcsapitest.FaultHang})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { e.Exp.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	waitFor(t, func() bool { return e.Srv.Requests(dcsapitest.APIListInstances) >= 1 })

	for range 3 {
		req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
		req.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", "3")
		rec := httptest.NewRecorder()
		e.Web.MetricsHandler(nil).ServeHTTP(rec, req)
		ups := series(rec.Body.String(), "dcs_up")
		if len(ups) != 2 {
			t.Errorf("want both targets in the answer:\n%s", rec.Body)
		}
		for _, up := range ups {
			if !strings.HasSuffix(up, " 1") {
				t.Errorf("a target is down while its listing hangs: %s\n%s", up, e.Logs)
			}
		}
	}
	// The check above means something only while a listing held a slot.
	if strings.Contains(e.Logs.String(), "instance listing failed") {
		t.Fatal("a listing ended before the scrapes did: the scrapes did not meet a hanging listing")
	}

	// The hanging page runs into the target's timeout, and the failure is
	// reported as the listing's, not the target's.
	prod := e.Exp.Target("prod")
	waitFor(t, prod.ListingEnded)
	if got := e.Scrape(""); !strings.Contains(got, `dcs_instances_listing_up{`+prodLabels+`} 0`) || !strings.Contains(got, `dcs_up{`+prodLabels+`} 1`) {
		t.Errorf("after its listing timed out, want the listing down and the target up:\n%s", got)
	}
}

// TestListingPageTimeout makes each page take a good part of the target's
// timeout: the listing of three pages takes longer than one timeout, and
// must still succeed, because the timeout is per call.
func TestListingPageTimeout(t *testing.T) {
	// Three pages of 1 s each take longer than the timeout of 2.5 s, and
	// each page, as well as the status query the listing is compared with,
	// has 1.5 s to spare for a busy machine. (A timeout for the whole
	// listing would fail it however fast the machine.)
	e := newEnv(t, collector.Options{}, listedA+"    timeout: 2500ms\n")
	e.Srv.SetInstances(projectA, dcsapitest.SampleFleet(2001))
	e.Srv.SetLatency(time.Second)
	start := time.Now()
	e.Refresh("prod")
	if took := time.Since(start); took < 2500*time.Millisecond {
		t.Fatalf("the listing took %v; the test needs it to take longer than the timeout", took)
	}
	if n := e.Srv.Requests(dcsapitest.APIListInstances); n != 3 {
		t.Errorf("%d pages asked, want 3", n)
	}
	e.Srv.SetLatency(0) // the scrape below is not part of the test
	if got := e.Scrape("prod"); !strings.Contains(got, `dcs_instances_listing_up{`+prodLabels+`} 1`) {
		t.Errorf("a listing whose pages each met the timeout failed:\n%s\n%s", strings.Join(series(got, "dcs_instances_listing_up"), "\n"), e.Logs)
	}
}

func TestListingLoopRefreshesEachInterval(t *testing.T) {
	e := newEnv(t, collector.Options{InstancesRefreshInterval: 50 * time.Millisecond}, listedA+targetB)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { e.Exp.Run(ctx); close(done) }()
	waitFor(t, func() bool { return e.Srv.ProjectRequests(projectA, dcsapitest.APIListInstances) >= 3 })
	e.Srv.RemoveInstance(projectA, "r1")
	waitFor(t, func() bool { return !slices.Contains(instanceIDs(e.Scrape("prod"), "dcs_instance_info"), "r1") })
	cancel()
	<-done
	if n := e.Srv.ProjectRequests(projectB, dcsapitest.APIListInstances); n != 0 {
		t.Errorf("a target without instances: true was listed %d times", n)
	}
}

func TestListingSkippedWhileBackingOff(t *testing.T) {
	e := newEnv(t, collector.Options{AuthBackoff: time.Minute}, listedA)
	e.Apply(strings.Replace(listedA, "labels:", "credentials: {access_key: WRONGAK, secret_key: wrong}\n    labels:", 1))
	e.Scrape("prod") // refused: the target backs off
	e.Refresh("prod")
	if n := e.Srv.Requests(dcsapitest.APIListInstances); n != 0 {
		t.Errorf("a target backing off after refused credentials was listed (%d calls)", n)
	}
	if got := e.Scrape("prod"); !strings.Contains(got, `dcs_instances_listing_up{`+prodLabels+`} 0`) {
		t.Errorf("a skipped listing is not reported as failed:\n%s", strings.Join(series(got, "dcs_instances_listing_up"), "\n"))
	}
}

// TestListingCarriesDiscoveredProject lists a target whose project id is
// looked up in IAM: every series, per-instance ones included, carries the
// id found, whether the listing or a status query found it first.
func TestListingCarriesDiscoveredProject(t *testing.T) {
	for _, scrapeFirst := range []bool{false, true} {
		e := newEnv(t, collector.Options{}, "  - name: discovered\n    region: cn-north-4\n    instances: true\n")
		if scrapeFirst {
			e.Scrape("discovered")
		}
		e.Refresh("discovered")
		got := e.Scrape("discovered")
		lines := append(perInstance(got), series(got, "dcs_up")...)
		// smallFleet has no maintenance windows; the fake sends every
		// other field.
		if len(lines) != len(exposition.InstanceFamilies())*len(smallFleet())+1 {
			t.Fatalf("scrape first %t: %d series:\n%s", scrapeFirst, len(lines), got)
		}
		for _, line := range lines {
			if !strings.Contains(line, `project_id="`+projectA+`"`) {
				t.Errorf("scrape first %t: without the discovered project id: %s", scrapeFirst, line)
			}
		}
	}
}

// TestListingOddFieldTypes lists instances whose context fields come with
// the types of the documented example answer and worse (see the fake's
// FaultOddFields, which spoils instance i in the way i%4): each odd field
// costs its own series or label value, never the instance.
func TestListingOddFieldTypes(t *testing.T) {
	e := newEnv(t, collector.Options{}, listedA+"    instance_tags: [owner, \"1\"]\n")
	fleet := make([]dcsapitest.Instance, 4)
	for i := range fleet {
		fleet[i] = dcsapitest.Instance{ID: fmt.Sprintf("i%d", i), Engine: "Redis", Status: "RUNNING",
			Tags:          []dcsapitest.Tag{{Key: "owner", Value: "team-a"}, {Key: "1", Value: "DCS"}},
			MaintainBegin: "02:00:00", MaintainEnd: "06:00:00", ServiceUpgrade: true}
	}
	e.Srv.SetInstances(projectA, fleet)
	e.Srv.InjectFault(projectA, dcsapitest.APIListInstances, dcsapitest.Fault{Kind: dcsapitest.FaultOddFields})
	e.Refresh("prod")
	got := e.Scrape("prod")

	info := map[string]string{}
	for _, line := range series(got, "dcs_instance_info") {
		id := instanceIDLabel.FindStringSubmatch(line)[1]
		_, info[id], _ = strings.Cut(line, `charging_mode="pay-per-use",`)
	}
	want := map[string]string{
		"i0": `enterprise_project_id="0",tag_owner="team-a",tag_1="DCS"} 1`, // numbers where strings belong
		"i1": `enterprise_project_id="0",tag_owner="team-a",tag_1="DCS"} 1`,
		"i2": `enterprise_project_id="0",tag_owner="",tag_1=""} 1`, // tags an object
		"i3": `enterprise_project_id="",tag_owner="",tag_1=""} 1`,  // the project an object, tags not objects
	}
	if !maps.Equal(info, want) {
		t.Errorf("info labels:\n%v\nwant\n%v", info, want)
	}
	for metric, ids := range map[string]string{
		"dcs_instance_maintenance_window_active": "i1,i2,i3", // i0's window is numbers
		"dcs_instance_upgrade_pending":           "i0,i2,i3", // i1's is "yes"
		"dcs_instance_created_timestamp_seconds": "i0,i2,i3", // i1's is a number
	} {
		if got := strings.Join(instanceIDs(got, metric), ","); got != ids {
			t.Errorf("%s for %s, want %s", metric, got, ids)
		}
	}
	if !strings.Contains(got, `dcs_instances_listing_up{`+prodLabels+`} 1`) {
		t.Error("the listing failed")
	}
}
