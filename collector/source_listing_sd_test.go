package collector_test

// The listing's part of /sd: what the exporter hands discovery after each
// listing, and when /sd stops serving it.

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dcs-exporter/dcs_exporter/collector"
	"github.com/dcs-exporter/dcs_exporter/dcsapi/dcsapitest"
	"github.com/dcs-exporter/dcs_exporter/discovery"
)

// sdGroup is one http_sd target group.
type sdGroup struct {
	Targets []string          `json:"targets"`
	Labels  map[string]string `json:"labels"`
}

// getSD asks the exporter's /sd with the query and returns the status and
// the body; a 200's groups are decoded.
func getSD(t *testing.T, e *env, query string) (int, string, []sdGroup) {
	t.Helper()
	rec := httptest.NewRecorder()
	e.Exp.Discovery().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/sd"+query, nil))
	var groups []sdGroup
	if rec.Code == http.StatusOK {
		if err := json.Unmarshal(rec.Body.Bytes(), &groups); err != nil {
			t.Fatalf("/sd%s: %v\n%s", query, err, rec.Body)
		}
	}
	return rec.Code, rec.Body.String(), groups
}

func groupIDs(groups []sdGroup) []string {
	var ids []string
	for _, g := range groups {
		ids = append(ids, g.Labels["__meta_dcs_instance_id"])
	}
	slices.Sort(ids)
	return ids
}

func summaryOf(t *testing.T, e *env, target string) discovery.Summary {
	t.Helper()
	for _, s := range e.Exp.Discovery().Summaries() {
		if s.Target == target {
			return s
		}
	}
	t.Fatalf("no summary for %s in %v", target, e.Exp.Discovery().Summaries())
	return discovery.Summary{}
}

// TestDiscoveryServesEachListing checks that /sd offers what the last
// listing found, for the targets that list, with the target's region and
// discovered project id, and leaves out the target whose listing is off.
func TestDiscoveryServesEachListing(t *testing.T) {
	e := newEnv(t, collector.Options{MaxStaleness: 5 * time.Minute},
		"  - name: prod\n    region: cn-north-4\n    instances: true\n"+targetB)
	fleet := smallFleet()
	fleet[4].NoAddress = true // r5 failed to be created: nothing to scrape
	e.Srv.SetInstances(projectA, fleet)

	if code, body, _ := getSD(t, e, ""); code != http.StatusServiceUnavailable || !strings.Contains(body, "prod (no listing has succeeded yet)") {
		t.Errorf("before the first listing: HTTP %d %q, want 503 naming prod", code, body)
	}
	if s := summaryOf(t, e, "staging"); s.State != discovery.Off {
		t.Errorf("staging, whose listing is off: %+v", s)
	}

	e.Refresh("prod")
	code, body, groups := getSD(t, e, "")
	if code != http.StatusOK {
		t.Fatalf("after a listing: HTTP %d %s", code, body)
	}
	if want := []string{"m1", "m2", "r1", "r2", "r3", "r4"}; !slices.Equal(groupIDs(groups), want) {
		t.Errorf("groups of %v, want %v", groupIDs(groups), want)
	}
	for _, g := range groups {
		if g.Labels["__meta_dcs_target"] != "prod" || g.Labels["__meta_dcs_region"] != "cn-north-4" ||
			g.Labels["__meta_dcs_project_id"] != projectA || len(g.Targets) != 1 {
			t.Errorf("group %+v: want one address, target prod, its region and the project id found in IAM", g)
		}
	}
	if s := summaryOf(t, e, "prod"); s.State != discovery.Fresh || s.Offered != 6 || s.NoAddress != 1 {
		t.Errorf("prod's summary %+v, want fresh, 6 offered, 1 without an address", s)
	}
	if _, _, redis := getSD(t, e, "?engine=redis&status=running"); !slices.Equal(groupIDs(redis), []string{"r1", "r2", "r3"}) {
		t.Errorf("engine=redis&status=running: %v", groupIDs(redis))
	}

	// The next listing replaces the groups, also when the clock has not
	// moved in between.
	e.Srv.SetInstances(projectA, fleet[:2])
	e.Refresh("prod")
	if _, _, groups := getSD(t, e, ""); !slices.Equal(groupIDs(groups), []string{"r1", "r2"}) {
		t.Errorf("after a second listing at the same time: %v, want r1 and r2", groupIDs(groups))
	}
}

// TestDiscoveryAfterFailedListing checks that /sd keeps serving the last
// good listing after a failure as long as the per-instance series are
// served, and then answers 503, which makes Prometheus keep its targets.
func TestDiscoveryAfterFailedListing(t *testing.T) {
	for _, staleness := range []time.Duration{5 * time.Minute, 0} {
		e := newEnv(t, collector.Options{MaxStaleness: staleness}, listedA+targetB+"    instances: true\n")
		e.Refresh("prod")
		e.Refresh("staging")

		// Between listings, a successful listing never goes stale.
		e.Clock.Advance(time.Hour)
		e.Refresh("staging")
		if code, body, _ := getSD(t, e, ""); code != http.StatusOK {
			t.Fatalf("staleness %v: a listing that succeeded an hour ago, before any failure: HTTP %d %s", staleness, code, body)
		}

		e.Refresh("prod")
		e.Srv.InjectFault(projectA, dcsapitest.APIListInstances, dcsapitest.Fault{Kind: dcsapitest.FaultStatus, Status: 503})
		e.Clock.Advance(time.Minute)
		e.Refresh("prod")
		code, body, groups := getSD(t, e, "?target=prod")
		if staleness == 0 {
			if code != http.StatusServiceUnavailable || !strings.Contains(body, "prod (listed 1m0s ago") {
				t.Errorf("staleness 0: after a failure HTTP %d %q, want 503 naming prod", code, body)
			}
			continue
		}
		if code != http.StatusOK || len(groups) != len(smallFleet()) {
			t.Fatalf("a listing one minute old, within max staleness: HTTP %d, %d groups: %s", code, len(groups), body)
		}

		e.Clock.Advance(5 * time.Minute)
		code, body, _ = getSD(t, e, "")
		if code != http.StatusServiceUnavailable || !strings.Contains(body, "prod (listed 6m0s ago, stale after 5m0s)") || strings.Contains(body, "staging") {
			t.Errorf("past max staleness: HTTP %d %q, want 503 naming prod alone", code, body)
		}
		if s := summaryOf(t, e, "prod"); s.State != discovery.Stale {
			t.Errorf("prod's summary past max staleness: %+v", s)
		}
		// Another target is still served on its own.
		if code, body, groups := getSD(t, e, "?target=staging"); code != http.StatusOK || len(groups) != 2 {
			t.Errorf("target=staging while prod is stale: HTTP %d, %d groups: %s", code, len(groups), body)
		}

		e.Srv.ClearFaults()
		e.Refresh("prod")
		if code, body, _ := getSD(t, e, ""); code != http.StatusOK {
			t.Errorf("after a listing succeeded again: HTTP %d %s", code, body)
		}
	}
}

// TestDiscoveryFollowsReloads checks that a target removed by a reload, or
// whose listing a reload turns off, leaves /sd at once.
func TestDiscoveryFollowsReloads(t *testing.T) {
	e := newEnv(t, collector.Options{}, listedA+targetB+"    instances: true\n")
	e.Refresh("prod")
	e.Refresh("staging")
	if _, _, groups := getSD(t, e, ""); len(groups) != len(smallFleet())+2 {
		t.Fatalf("%d groups, want %d", len(groups), len(smallFleet())+2)
	}

	e.Apply(listedA)
	_, _, groups := getSD(t, e, "")
	for _, g := range groups {
		if g.Labels["__meta_dcs_target"] != "prod" {
			t.Errorf("a group of a removed target: %+v", g)
		}
	}
	if code, _, _ := getSD(t, e, "?target=staging"); code != http.StatusBadRequest {
		t.Errorf("target=staging after its removal: HTTP %d, want 400 (unknown target)", code)
	}
	if n := len(e.Exp.Discovery().Summaries()); n != 1 {
		t.Errorf("%d summaries after the reload, want 1", n)
	}

	e.Apply(targetA)
	if code, body, groups := getSD(t, e, ""); code != http.StatusOK || len(groups) != 0 {
		t.Errorf("after listing was turned off: HTTP %d, %d groups: %s", code, len(groups), body)
	}
}
