package collector_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dcs-exporter/dcs_exporter/collector"
	"github.com/dcs-exporter/dcs_exporter/dcsapi/dcsapitest"
)

const nodesA = targetA + "    nodes: true\n"

// topologyFleet has one instance of each shape the node listing knows, in
// two zones, and two it does not cover.
func topologyFleet() []dcsapitest.Instance {
	in := func(id, version, spec string) dcsapitest.Instance {
		return dcsapitest.Instance{ID: id, Name: "cache-" + id, Engine: "Redis", EngineVersion: version, Status: "RUNNING",
			SpecCode: spec, CapacityGB: 1, MaxMemoryMB: 1024, AZCodes: []string{"az1", "az2"}}
	}
	mc := in("mc", "1.5", "dcs.memcached.master_standby")
	mc.Engine = "Memcached"
	return []dcsapitest.Instance{
		in("ha", "6.0", "redis.ha.xu1.large.r2.1"),      // one shard of two
		in("cl", "6.0", "redis.cluster.xu1.large.r2.4"), // three shards of two
		in("px", "5.0", "redis.proxy.xu1.large.4"),      // two proxies, three shards of two
		in("sn", "6.0", "redis.single.xu1.large.1"),     // one master
		in("old", "3.0", "dcs.master_standby"), mc,      // not covered
	}
}

// TestNodesPerInstance walks a fleet with an Inactive replica, a master
// change between two walks and a shard whose replicas share one zone.
func TestNodesPerInstance(t *testing.T) {
	e := newEnv(t, collector.Options{}, nodesA)
	e.Srv.SetInstances(projectA, topologyFleet())
	e.Srv.SetNodeStatus(projectA, "cl", 1, 1, "Inactive")
	e.Srv.SetGroupSingleAZ(projectA, "ha", 0, true)
	tg := e.Exp.Target("prod")
	tg.RefreshNodes(context.Background())
	first := e.Scrape("prod")
	lint(t, first)

	if got := sampleValue(t, first, "dcs_nodes_up"); got != 1 {
		t.Errorf("dcs_nodes_up = %v", got)
	}
	// Every documented status, for each type an instance has.
	for _, line := range []string{
		`dcs_instance_nodes{` + prodLabels + `,instance_id="cl",node_type="slave",status="Inactive"} 1`,
		`dcs_instance_nodes{` + prodLabels + `,instance_id="cl",node_type="slave",status="Active"} 2`,
		`dcs_instance_nodes{` + prodLabels + `,instance_id="cl",node_type="master",status="Active"} 3`,
		`dcs_instance_nodes{` + prodLabels + `,instance_id="cl",node_type="master",status="Inactive"} 0`,
		`dcs_instance_nodes{` + prodLabels + `,instance_id="px",node_type="proxy",status="Active"} 2`,
		`dcs_instance_nodes{` + prodLabels + `,instance_id="px",node_type="proxy",status="AddSharding"} 0`,
		`dcs_instance_nodes{` + prodLabels + `,instance_id="sn",node_type="master",status="Creating"} 0`,
		`dcs_instance_master_changes_total{` + prodLabels + `,instance_id="cl"} 0`,
		`dcs_instance_single_az{` + prodLabels + `,instance_id="ha"} 1`,
		`dcs_instance_single_az{` + prodLabels + `,instance_id="cl"} 0`,
		`dcs_instance_single_az{` + prodLabels + `,instance_id="px"} 0`,
	} {
		if !strings.Contains(first, line+"\n") {
			t.Errorf("missing %s", line)
		}
	}
	perType := map[string]int{"ha": 2, "cl": 2, "px": 3, "sn": 1}
	for id, types := range perType {
		if n := len(series(first, `dcs_instance_nodes`)); n == 0 {
			t.Fatal("no dcs_instance_nodes")
		}
		if n := strings.Count(first, `dcs_instance_nodes{`+prodLabels+`,instance_id="`+id+`"`); n != types*5 {
			t.Errorf("%s: %d dcs_instance_nodes series, want %d types × 5 states", id, n, types)
		}
	}
	for _, id := range []string{"old", "mc"} {
		if strings.Contains(first, `instance_id="`+id+`"`) {
			t.Errorf("instance %s, which the node listing does not cover, has node series", id)
		}
	}
	if ids := instanceIDs(first, "dcs_instance_single_az"); slices.Contains(ids, "sn") {
		t.Error("a single-node instance has dcs_instance_single_az")
	}

	// dcs_node_info: one per node, with the node's own labels.
	nodes := tg.Nodes()
	total := 0
	for _, in := range nodes {
		total += len(in.Nodes)
	}
	if got := len(series(first, "dcs_node_info")); got != total || total != 2+6+8+1 {
		t.Errorf("%d dcs_node_info series for %d nodes, want 17", got, total)
	}
	cl := nodes[slices.IndexFunc(nodes, func(in collectorInstanceNodes) bool { return in.InstanceID == "cl" })]
	n := cl.Nodes[slices.IndexFunc(cl.Nodes, func(n collectorNode) bool { return n.Status == "Inactive" })]
	want := fmt.Sprintf(`dcs_node_info{%s,instance_id="cl",node_id="%s",node_name="%s",group_name="group-1",node_type="slave",node_role="redis-server",az_code="az2"} 1`,
		prodLabels, n.ID, n.Name)
	if !strings.Contains(first, want+"\n") {
		t.Errorf("missing %s\n%s", want, linesOf(first, `instance_id="cl",node_id="`+n.ID))
	}
	if n.IP == "" || n.Port != 6379 || !n.IsAccess || n.AZ != "az2" {
		t.Errorf("kept node %+v lacks the address the discovery needs", n)
	}

	// A failover in one shard of cl: the next walk counts one change, and
	// the walk after that none more.
	e.Srv.SwapMaster(projectA, "cl", 2)
	tg.RefreshNodes(context.Background())
	second := e.Scrape("prod")
	tg.RefreshNodes(context.Background())
	third := e.Scrape("prod")
	for _, text := range []string{second, third} {
		if !strings.Contains(text, `dcs_instance_master_changes_total{`+prodLabels+`,instance_id="cl"} 1`+"\n") {
			t.Errorf("cl's master change not counted once:\n%s", linesOf(text, "master_changes"))
		}
		for _, id := range []string{"ha", "px", "sn"} {
			if !strings.Contains(text, `dcs_instance_master_changes_total{`+prodLabels+`,instance_id="`+id+`"} 0`+"\n") {
				t.Errorf("%s: master changes counted without a failover:\n%s", id, linesOf(text, "master_changes"))
			}
		}
	}
	compareSeriesOf(t, third, "dcs_instance_nodes", first)
}

// compareSeriesOf requires two expositions to have the same samples of a
// metric.
func compareSeriesOf(t *testing.T, got, metric, want string) {
	t.Helper()
	if g, w := series(got, metric), series(want, metric); !slices.Equal(g, w) {
		t.Errorf("%s changed:\n got %v\nwant %v", metric, g, w)
	}
}

// TestNodesFailure: a cloud without the node listing makes dcs_nodes_up 0
// and says which key to turn off, once, while the status counts go on; a
// failed walk's nodes are served until the staleness limit.
func TestNodesFailure(t *testing.T) {
	e := newEnv(t, collector.Options{MaxStaleness: time.Minute}, nodesA)
	e.Srv.SetInstances(projectA, topologyFleet())
	tg := e.Exp.Target("prod")
	tg.RefreshNodes(context.Background())

	e.Srv.SetAPIAvailable(projectA, dcsapitest.APINodes, false)
	tg.RefreshNodes(context.Background())
	tg.RefreshNodes(context.Background())
	got := e.Scrape("prod")
	if v := sampleValue(t, got, "dcs_nodes_up"); v != 0 {
		t.Errorf("dcs_nodes_up = %v after a 404", v)
	}
	if v := sampleValue(t, got, "dcs_up"); v != 1 {
		t.Errorf("dcs_up = %v: the node listing took the target down", v)
	}
	if len(series(got, "dcs_node_info")) == 0 {
		t.Error("the last walk's nodes are not served within the staleness limit")
	}
	logs := e.Logs.String()
	if n := strings.Count(logs, "node walk failed"); n != 1 {
		t.Errorf("the failure was logged %d times, want once:\n%s", n, logs)
	}
	if !strings.Contains(logs, "set nodes: false for this target") {
		t.Errorf("the log does not say which key to turn off:\n%s", logs)
	}
	st := e.Exp.TargetStatuses()[0].Nodes
	if st == nil || st.Up || st.LastError == nil {
		t.Errorf("status page view: %+v", st)
	}

	e.Clock.Advance(time.Minute)
	got = e.Scrape("prod")
	if len(series(got, "dcs_node_info")) != 0 || len(series(got, "dcs_instance_nodes")) != 0 {
		t.Error("nodes still served past the staleness limit")
	}
	if tg.Nodes() != nil {
		t.Error("nodes still held past the staleness limit")
	}

	e.Srv.SetAPIAvailable(projectA, dcsapitest.APINodes, true)
	tg.RefreshNodes(context.Background())
	if got := e.Scrape("prod"); sampleValue(t, got, "dcs_nodes_up") != 1 || len(series(got, "dcs_node_info")) == 0 {
		t.Error("no recovery")
	}
	if !strings.Contains(e.Logs.String(), "node walk recovered") {
		t.Error("the recovery was not logged")
	}
}

// TestNodesOff: without nodes: true nothing of the source is written.
func TestNodesOff(t *testing.T) {
	e := newEnv(t, collector.Options{}, targetA)
	e.Exp.Target("prod").RefreshNodes(context.Background())
	got := e.Scrape("prod")
	for _, m := range []string{"dcs_nodes_up", "dcs_instance_nodes", "dcs_node_info"} {
		if strings.Contains(got, m) {
			t.Errorf("%s written without nodes: true", m)
		}
	}
	if e.Srv.Requests(dcsapitest.APINodes) != 0 {
		t.Error("the node listing was called")
	}
}
