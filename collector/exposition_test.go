package collector

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/dcs-exporter/dcs_exporter/config"
	"github.com/dcs-exporter/dcs_exporter/dcsapi"
)

// TestRenderTargetValidity checks the time until which rendered series are
// valid: the earliest expiry of whatever stale data they serve.
func TestRenderTargetValidity(t *testing.T) {
	now := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	report := &dcsapi.StatusReport{Total: map[string]int64{"running": 3}, Engines: map[string]map[string]int64{"redis": {"running": 3}}}
	instances := []listedInstance{{id: "r1", name: "one", engine: "redis", status: "RUNNING", chargingMode: "pay-per-use"}}
	labels := targetLabels("prod", "cn-north-4", projectA, nil, nil)
	lines := renderInstances(instances, nil)
	snapshot := func(statusUp bool, statusAge time.Duration, listingUp bool, listingAge time.Duration) targetSnapshot {
		return targetSnapshot{
			labels: labels, apiVersion: dcsapi.V2, maxStaleness: 5 * time.Minute,
			status:  statusResult{report: report, attempted: true, up: statusUp, lastSuccess: now.Add(-statusAge)},
			listed:  true,
			listing: listingResult{instances: instances, lines: lines, attempted: true, up: listingUp, lastSuccess: now.Add(-listingAge)},
		}
	}
	for _, c := range []struct {
		name                string
		snap                targetSnapshot
		counts, perInstance bool
		validFor            time.Duration // 0: until the next change
	}{
		{"all fresh", snapshot(true, 0, true, 0), true, true, 0},
		{"stale counts", snapshot(false, time.Minute, true, 0), true, true, 4 * time.Minute},
		{"expired counts", snapshot(false, 6*time.Minute, true, 0), false, true, 0},
		{"stale listing", snapshot(true, 0, false, 2*time.Minute), true, true, 3 * time.Minute},
		{"both stale: the earlier expiry", snapshot(false, 4*time.Minute, false, 2*time.Minute), true, true, time.Minute},
		{"expired listing", snapshot(true, 0, false, 5*time.Minute), true, false, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := c.snap
			out, until := renderTarget(&c.snap, now)
			if got := len(out.lines[famInstancesAllEngines]) > 0; got != c.counts {
				t.Errorf("counts served: %t, want %t", got, c.counts)
			}
			if got := len(out.lines[famInstanceInfo]) > 0; got != c.perInstance {
				t.Errorf("per-instance series served: %t, want %t", got, c.perInstance)
			}
			if c.perInstance && &out.lines[famInstanceInfo][0] != &lines[0][0] {
				t.Error("the per-instance lines were copied, not shared")
			}
			var want time.Time
			if c.validFor > 0 {
				want = now.Add(c.validFor)
			}
			if !until.Equal(want) {
				t.Errorf("valid until %v, want %v", until, want)
			}
			if c.snap.listing.instances == nil || c.snap.status.report != before.status.report || c.snap.status.up != before.status.up {
				t.Error("rendering changed its snapshot")
			}
			if !strings.Contains(string(out.lines[famListingUp]), "dcs_instances_listing_up{") {
				t.Error("no dcs_instances_listing_up")
			}
		})
	}
}

// TestTimedOutRenderKeepsCache checks that rendering a scrape that timed
// out leaves the target's cached series as they were.
func TestTimedOutRenderKeepsCache(t *testing.T) {
	e := newEnv(t, Options{MaxStaleness: 5 * time.Minute}, targetA)
	e.scrape("prod")
	tg := e.exp.Target("prod")
	cached, until := tg.renderedUntil(e.clock.Now())
	timedOut := tg.renderedTimedOut(e.clock.Now())
	if !strings.Contains(string(timedOut.lines[famUp]), "} 0\n") || len(timedOut.lines[famInstances]) == 0 {
		t.Errorf("a timed-out render is not down with stale counts:\n%s%s", timedOut.lines[famUp], timedOut.lines[famInstances])
	}
	if again, untilAgain := tg.renderedUntil(e.clock.Now()); again != cached || !untilAgain.Equal(until) || !until.IsZero() {
		t.Error("a timed-out render changed the target's cached series")
	}
}

// TestHeadlessLinesWritten writes two listed targets through both writers
// (streamed for on-scrape mode and /probe, appended for cached mode's
// body): the per-instance lines, kept without their heads, come out whole,
// each with its family's name and its own target's labels, and the two
// writers agree byte for byte, across many write chunks.
func TestHeadlessLinesWritten(t *testing.T) {
	now := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	var outs []*targetSeries
	wantLines := 0
	for i, n := range []int{2500, 3} {
		list := make([]listedInstance, n)
		for j := range list {
			list[j] = listedInstance{id: fmt.Sprintf("t%d-%05d", i, j), name: "n", engine: "redis", status: "RUNNING",
				chargingMode: "pay-per-use", tags: []string{"team"}, upgrade: upgradeNone, window: dailyWindow{begin: 0, end: 3600, ok: true}}
		}
		tags := []config.InstanceTag{{Key: "owner", Label: "tag_owner"}}
		snap := targetSnapshot{
			labels: targetLabels(fmt.Sprintf("target%d", i), "cn-north-4", projectA, nil, nil), apiVersion: dcsapi.V2,
			status: statusResult{attempted: true, up: true},
			listed: true,
			listing: listingResult{instances: list, lines: renderInstances(list, tags), windows: newWindowSchedule(list),
				attempted: true, up: true, lastSuccess: now},
		}
		out, _ := renderTarget(&snap, now)
		outs = append(outs, out)
		wantLines += n * (len(instanceFamilies) - 1 + 1) // every family but created, and the window
	}
	var streamed bytes.Buffer
	writeFamilies(&streamed, outs)
	appended := appendFamilies(nil, outs)
	if !bytes.Equal(streamed.Bytes(), appended) {
		t.Fatal("the streamed and the appended output differ")
	}
	if size := outs[0].size() + outs[1].size(); size > len(appended) || size < len(appended)-4096 {
		t.Errorf("size() %d for %d bytes with headers", size, len(appended))
	}
	got := 0
	for _, line := range strings.Split(string(appended), "\n") {
		if !strings.Contains(line, "instance_id=") {
			continue
		}
		got++
		name, rest, _ := strings.Cut(line, "{")
		target := strings.TrimPrefix(instanceIDLabel.FindStringSubmatch(line)[1][:2], "t")
		if !strings.HasPrefix(name, "dcs_instance_") || !strings.HasPrefix(rest, `target="target`+target+`",region="cn-north-4",project_id="`+projectA+`",instance_id="t`+target) {
			t.Fatalf("a line is not whole: %q", line)
		}
	}
	if got != wantLines {
		t.Errorf("%d per-instance lines, want %d", got, wantLines)
	}
}
