package checks

import (
	"bytes"
	"strings"
	"testing"

	"github.com/dcs-exporter/dcs_exporter/dcsapi/dcsapitest"
	"github.com/dcs-exporter/dcs_exporter/diagnosis"
)

// topologyTarget has the listing, the nodes and the backups on, over a
// fleet of two Redis instances that can be backed up, one single-node and
// one Memcached.
func topologyFixture(t *testing.T) (*fixture, target) {
	f := newFixture(t)
	f.fake.SetInstances(projectID, []dcsapitest.Instance{
		{ID: "a", Engine: "Redis", EngineVersion: "6.0", SpecCode: "redis.ha.xu1.large.r2.1", Status: "RUNNING"},
		{ID: "b", Engine: "Redis", EngineVersion: "5.0", SpecCode: "redis.cluster.xu1.large.r2.4", Status: "RUNNING"},
		{ID: "s", Engine: "Redis", EngineVersion: "6.0", SpecCode: "redis.single.xu1.large.1", Status: "RUNNING"},
		{ID: "m", Engine: "Memcached", EngineVersion: "1.5", SpecCode: "dcs.memcached.master_standby", Status: "RUNNING"},
	})
	tg := f.baseTarget()
	tg["instances"], tg["nodes"], tg["backups"], tg["backups_interval"] = "true", "true", "true", "30m"
	return f, tg
}

func TestCheckTopology(t *testing.T) {
	f, tg := topologyFixture(t)
	r := checkOne(t, f.load(t, tg))
	if r.Failure != nil {
		t.Fatalf("failed: %s | %s", r.Failure.Summary(), r.Failure.Hint)
	}
	for _, want := range []string{"nodes allowed (3 instances covered, 9 nodes)", "backups allowed (2 instances can be backed up: 4 calls an hour)"} {
		if !strings.Contains(r.Topology, want) {
			t.Errorf("%q lacks %q", r.Topology, want)
		}
	}
	if n := f.fake.Requests(dcsapitest.APIBackups); n != 1 {
		t.Errorf("%d backup calls, want 1", n)
	}
}

// A refused permission names it; a cloud without the API names the key to
// turn off.
func TestCheckTopologyHints(t *testing.T) {
	for _, c := range []struct {
		api    string
		status int
		step   diagnosis.Step
		hint   []string
	}{
		{dcsapitest.APINodes, 403, diagnosis.StepNodes, []string{"dcs:instance:list", "nodes: false"}},
		{dcsapitest.APINodes, 404, diagnosis.StepNodes, []string{"does not offer the node listing", "set nodes: false"}},
		{dcsapitest.APIBackups, 403, diagnosis.StepBackups, []string{"dcs:instance:getDataBackupLog", "backups: false"}},
		{dcsapitest.APIBackups, 404, diagnosis.StepBackups, []string{"does not offer the backup records", "set backups: false"}},
	} {
		f, tg := topologyFixture(t)
		if c.status == 404 {
			f.fake.SetAPIAvailable(projectID, c.api, false)
		} else {
			f.fake.InjectFault(projectID, c.api, dcsapitest.Fault{Kind: dcsapitest.FaultStatus, Status: 403, Code: "DCS.2003", Message: "role lacks permission"})
		}
		r := checkOne(t, f.load(t, tg))
		if r.Failure == nil {
			t.Errorf("%s %d: no failure", c.api, c.status)
			continue
		}
		if r.Failure.Step != c.step || r.Failure.StatusCode != c.status {
			t.Errorf("%s %d: step %q status %d", c.api, c.status, r.Failure.Step, r.Failure.StatusCode)
		}
		for _, w := range c.hint {
			if !strings.Contains(r.Failure.Hint, w) {
				t.Errorf("%s %d: hint %q lacks %q", c.api, c.status, r.Failure.Hint, w)
			}
		}
	}
}

func TestConfigCheckTopology(t *testing.T) {
	f, tg := topologyFixture(t)
	plain := f.baseTarget()
	plain["name"], plain["backups"] = "plain", "true"
	cfg := f.load(t, tg, plain)
	var out bytes.Buffer
	if err := PrintConfig(&out, "dcs_exporter.yml", cfg); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	for _, want := range []string{
		"no node series for Memcached, Redis 3.0 and instances being created",
		"enabled, every 30m0s: 2 calls an hour per instance that can be backed up",
		"NOT ACTIVE: needs instances: true",
		"warn: ", // the load's note on plain
	} {
		if !strings.Contains(text, want) {
			t.Errorf("--config.check output lacks %q:\n%s", want, text)
		}
	}
}
