package demo

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"testing"

	"github.com/dcs-exporter/dcs_exporter/collector"
	"github.com/dcs-exporter/dcs_exporter/collector/exposition"
	"github.com/dcs-exporter/dcs_exporter/config"
	"github.com/dcs-exporter/dcs_exporter/dcsapi/dcsapitest"
)

// TestDemoTopology: the Singapore target of the demo shows one failed
// replica, one failing backup and, after a failover, one master change.
func TestDemoTopology(t *testing.T) {
	srv := dcsapitest.NewServer()
	defer srv.Close()
	Populate(srv, rand.New(rand.NewPCG(1, 2)))
	cfg, err := config.Parse([]byte(Config(srv.URL)), "demo.yml")
	if err != nil {
		t.Fatal(err)
	}
	exp := collector.New(collector.Options{})
	defer exp.Close()
	if err := exp.ApplyConfig(cfg); err != nil {
		t.Fatal(err)
	}
	sg := exp.Target("demo-singapore")
	ctx := context.Background()
	sg.RefreshListing(ctx)
	sg.RefreshNodes(ctx)
	sg.ReadBackups()
	var st collector.TargetStatus
	for _, s := range exp.TargetStatuses() {
		if s.Config.Name == "demo-singapore" {
			st = s
		}
	}
	if st.Nodes == nil || !st.Nodes.Up || st.Nodes.NotActive != 1 {
		t.Errorf("nodes: %+v, want one not Active", st.Nodes)
	}
	if st.Backups == nil || !st.Backups.Up || st.Backups.Failed != 1 || st.Backups.Instances == 0 {
		t.Errorf("backups: %+v, want one failing", st.Backups)
	}
	failover(srv, slog.New(slog.DiscardHandler))
	sg.RefreshNodes(ctx)
	var changes, singleAZ uint64
	for _, in := range sg.Nodes() {
		changes += in.MasterChanges
		if in.SingleAZ == exposition.SingleAZYes {
			singleAZ++
		}
	}
	if changes != 1 || singleAZ != 1 {
		t.Errorf("%d master changes and %d instances in one zone after one failover, want 1 and 1", changes, singleAZ)
	}
}
