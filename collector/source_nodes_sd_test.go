package collector_test

// The node walk's part of /sd: /sd?level=node offers each redis-server
// node of the last walk that clients reach directly.

import (
	"context"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dcs-exporter/dcs_exporter/collector"
	"github.com/dcs-exporter/dcs_exporter/dcsapi/dcsapitest"
)

func TestDiscoveryServesEachNodeWalk(t *testing.T) {
	e := newEnv(t, collector.Options{MaxStaleness: time.Minute}, listedA+"    nodes: true\n"+targetB)
	e.Srv.SetInstances(projectA, topologyFleet())
	// cl: three shards of two, one of whose replicas is down; sn a
	// cluster of two shards of three instead of its single node.
	e.Srv.SetNodeStatus(projectA, "cl", 1, 1, "Inactive")
	e.Srv.SetTopology(projectA, "sn", &dcsapitest.Topology{Shards: 2, Replicas: 3})
	tg := e.Exp.Target("prod")

	if code, body, _ := getSD(t, e, "?level=node"); code != http.StatusServiceUnavailable ||
		!strings.Contains(body, "prod (no node walk has succeeded yet)") || strings.Contains(body, "staging") {
		t.Errorf("before the first walk: HTTP %d %q, want 503 naming prod only", code, body)
	}
	e.Refresh("prod")
	tg.RefreshNodes(context.Background())

	code, body, groups := getSD(t, e, "?level=node")
	if code != http.StatusOK {
		t.Fatalf("HTTP %d %s", code, body)
	}
	// ha 2, cl 6, sn 6 servers; px's servers sit behind its proxies (not
	// is_access) and proxies are not servers; old and mc are not walked.
	perInstance := map[string]int{}
	addrs := map[string]bool{}
	for _, g := range groups {
		l := g.Labels
		perInstance[l["__meta_dcs_instance_id"]]++
		if len(g.Targets) != 1 {
			t.Fatalf("group %+v", g)
		}
		host, port, err := net.SplitHostPort(g.Targets[0])
		if err != nil || port != "6379" || !strings.HasPrefix(host, "10.") {
			t.Errorf("address %q", g.Targets[0])
		}
		addrs[g.Targets[0]] = true
		if l["__meta_dcs_node_role"] != "redis-server" || !slices.Contains([]string{"master", "slave"}, l["__meta_dcs_node_type"]) ||
			l["__meta_dcs_instance_name"] != "cache-"+l["__meta_dcs_instance_id"] || l["__meta_dcs_engine"] != "Redis" ||
			l["__meta_dcs_target"] != "prod" || l["__meta_dcs_region"] != "cn-north-4" || l["__meta_dcs_project_id"] != projectA ||
			l["__meta_dcs_group_id"] == "" || l["__meta_dcs_node_id"] == "" || l["__meta_dcs_az_code"] == "" {
			t.Errorf("labels %v", l)
		}
	}
	if want := map[string]int{"ha": 2, "cl": 6, "sn": 6}; !mapsEqualInt(perInstance, want) {
		t.Errorf("groups per instance %v, want %v", perInstance, want)
	}
	if len(addrs) != len(groups) {
		t.Errorf("%d addresses for %d groups", len(addrs), len(groups))
	}
	// The addresses are the walk's own, one per directly reachable server.
	var want []string
	for _, in := range tg.Nodes() {
		for _, n := range in.Nodes {
			if n.IsAccess && n.Role == "redis-server" {
				want = append(want, net.JoinHostPort(n.IP, "6379"))
			}
		}
	}
	got := make([]string, 0, len(addrs))
	for a := range addrs {
		got = append(got, a)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("addresses %v, want %v", got, want)
	}
	inactive := 0
	for _, g := range groups {
		if g.Labels["__meta_dcs_node_status"] == "Inactive" {
			inactive++
		}
	}
	if inactive != 1 {
		t.Errorf("%d Inactive nodes, want 1", inactive)
	}
	if _, _, gs := getSD(t, e, "?level=node&status=running&engine=redis"); len(gs) != len(groups) {
		t.Errorf("filtered by the instances' status and engine: %d groups, want %d", len(gs), len(groups))
	}
	if _, _, gs := getSD(t, e, "?level=node&engine=memcached"); len(gs) != 0 {
		t.Errorf("engine=memcached: %d groups", len(gs))
	}

	// A failed walk is served until --dcs.max-staleness, then 503.
	e.Srv.SetAPIAvailable(projectA, dcsapitest.APINodes, false)
	tg.RefreshNodes(context.Background())
	if code, body, gs := getSD(t, e, "?level=node"); code != http.StatusOK || len(gs) != len(groups) {
		t.Errorf("within the staleness limit: HTTP %d %q", code, body)
	}
	e.Clock.Advance(time.Minute + time.Second)
	if code, body, _ := getSD(t, e, "?level=node"); code != http.StatusServiceUnavailable || !strings.Contains(body, "prod (nodes walked 1m1s ago, stale after 1m0s)") {
		t.Errorf("past the staleness limit: HTTP %d %q", code, body)
	}
	// The instance level does not look at the walk.
	if code, body, _ := getSD(t, e, ""); code != http.StatusOK {
		t.Errorf("level=instance with a stale walk: HTTP %d %q", code, body)
	}
	e.Srv.SetAPIAvailable(projectA, dcsapitest.APINodes, true)
	tg.RefreshNodes(context.Background())
	if code, body, gs := getSD(t, e, "?level=node"); code != http.StatusOK || len(gs) != len(groups) {
		t.Errorf("after recovery: HTTP %d %q", code, body)
	}
}

func mapsEqualInt(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
