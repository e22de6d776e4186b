package exposition

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/dcs-exporter/dcs_exporter/config"
	"github.com/dcs-exporter/dcs_exporter/dcsapi"
)

const projectA = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

// v2 is what the v2 status API documents.
var v2 = Documented{
	States:       dcsapi.DocumentedStates(dcsapi.V2),
	Engines:      dcsapi.DocumentedEngines(dcsapi.V2),
	EngineStates: dcsapi.DocumentedEngineStates(dcsapi.V2),
}

var instanceIDLabel = regexp.MustCompile(`instance_id="([^"]*)"`)

// TestRenderTargetValidity checks the time until which rendered series are
// valid: the earliest expiry of whatever stale data they serve.
func TestRenderTargetValidity(t *testing.T) {
	now := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	report := &Counts{Total: map[string]int64{"running": 3}, Engines: map[string]map[string]int64{"redis": {"running": 3}}}
	instances := []Instance{{ID: "r1", Name: "one", Engine: "redis", Status: "RUNNING", ChargingMode: "pay-per-use"}}
	labels := TargetLabels("prod", "cn-north-4", projectA, nil, nil)
	lines := RenderInstances(instances, nil)
	snapshot := func(statusUp bool, statusAge time.Duration, listingUp bool, listingAge time.Duration) Snapshot {
		return Snapshot{
			Labels: labels, MaxStaleness: 5 * time.Minute,
			Status:  Status{Counts: report, Documented: v2, Attempted: true, Up: statusUp, LastSuccess: now.Add(-statusAge)},
			Listed:  true,
			Listing: Listing{Lines: lines, Attempted: true, Up: listingUp, LastSuccess: now.Add(-listingAge)},
		}
	}
	for _, c := range []struct {
		name                string
		snap                Snapshot
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
			out, until := Render(&c.snap, now)
			if got := len(out.Lines(FamInstancesAllEngines)) > 0; got != c.counts {
				t.Errorf("counts served: %t, want %t", got, c.counts)
			}
			if got := len(out.Lines(FamInstanceInfo)) > 0; got != c.perInstance {
				t.Errorf("per-instance series served: %t, want %t", got, c.perInstance)
			}
			if c.perInstance && &out.Lines(FamInstanceInfo)[0] != &lines[0][0] {
				t.Error("the per-instance lines were copied, not shared")
			}
			var want time.Time
			if c.validFor > 0 {
				want = now.Add(c.validFor)
			}
			if !until.Equal(want) {
				t.Errorf("valid until %v, want %v", until, want)
			}
			if c.snap.Listing.Lines[0] == nil || c.snap.Status.Counts != before.Status.Counts || c.snap.Status.Up != before.Status.Up {
				t.Error("rendering changed its snapshot")
			}
			if !strings.Contains(string(out.Lines(FamListingUp)), "dcs_instances_listing_up{") {
				t.Error("no dcs_instances_listing_up")
			}
		})
	}
}

// TestHeadlessLinesWritten writes two listed targets through both writers
// (streamed for on-scrape mode and /probe, appended for cached mode's
// body): the per-instance lines, kept without their heads, come out whole,
// each with its family's name and its own target's labels, and the two
// writers agree byte for byte, across many write chunks.
func TestHeadlessLinesWritten(t *testing.T) {
	now := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	var outs []*Series
	wantLines := 0
	for i, n := range []int{2500, 3} {
		list := make([]Instance, n)
		for j := range list {
			list[j] = Instance{ID: fmt.Sprintf("t%d-%05d", i, j), Name: "n", Engine: "redis", Status: "RUNNING",
				ChargingMode: "pay-per-use", Tags: []string{"team"}, Upgrade: UpgradeNone, Window: DailyWindow{begin: 0, end: 3600, ok: true}}
		}
		tags := []config.InstanceTag{{Key: "owner", Label: "tag_owner"}}
		snap := Snapshot{
			Labels: TargetLabels(fmt.Sprintf("target%d", i), "cn-north-4", projectA, nil, nil),
			Status: Status{Documented: v2, Attempted: true, Up: true},
			Listed: true,
			Listing: Listing{Lines: RenderInstances(list, tags), Windows: NewWindowSchedule(list),
				Attempted: true, Up: true, LastSuccess: now},
		}
		out, _ := Render(&snap, now)
		outs = append(outs, out)
		wantLines += n * (len(instanceFamilies) - 1 + 1) // every family but created, and the window
	}
	var streamed bytes.Buffer
	WriteFamilies(&streamed, outs)
	appended := AppendFamilies(nil, outs)
	if !bytes.Equal(streamed.Bytes(), appended) {
		t.Fatal("the streamed and the appended output differ")
	}
	if size := outs[0].Size() + outs[1].Size(); size > len(appended) || size < len(appended)-4096 {
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
