package discovery_test

import (
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dcs-exporter/dcs_exporter/dcsapi"
	"github.com/dcs-exporter/dcs_exporter/discovery"
)

// clusterNodes is redis's walk: two shards of master and replica, a proxy,
// a replica that cannot be reached directly, and servers with unusable
// addresses.
func clusterNodes() []discovery.InstanceNodes {
	return []discovery.InstanceNodes{{InstanceID: "0b1c", Nodes: []discovery.Node{
		{ID: "n1", Name: "shard-1-m", GroupID: "g1", GroupName: "group-1", Type: "master", Role: "redis-server", Status: "Active", AZ: "cn-north-4a", IP: "10.0.0.11", Port: 6379, IsAccess: true},
		{ID: "n2", Name: "shard-1-s", GroupID: "g1", GroupName: "group-1", Type: "slave", Role: "redis-server", Status: "Inactive", AZ: "cn-north-4c", IP: "10.0.0.12", Port: 6379, IsAccess: true},
		{ID: "n3", Name: "shard-2-m", GroupID: "g2", GroupName: "group-2", Type: "master", Role: "redis-server", Status: "Active", AZ: "cn-north-4a", IP: "10.0.0.13", Port: 6380, IsAccess: true},
		{ID: "n4", Name: "shard-2-s", GroupID: "g2", Type: "slave", Role: "redis-server", Status: "Active", IP: "10.0.0.14", Port: 6380, IsAccess: false},
		{ID: "p1", Name: "proxy", Type: "proxy", Role: "redis-proxy", Status: "Active", IP: "10.0.0.15", Port: 6379, IsAccess: true},
		{ID: "n5", Role: "redis-server", IP: "10.0.0.16", IsAccess: true},                // no port
		{ID: "n6", Role: "redis-server", IP: "fe80::1%eth0", Port: 6379, IsAccess: true}, // zoned
		{ID: "n7", Role: "redis-server", Port: 6379, IsAccess: true},                     // no IP
	}}}
}

func walked(t discovery.Target, nodes []discovery.InstanceNodes) discovery.Target {
	t.NodesEnabled, t.NodesAt, t.NodesStaleAfter, t.Nodes = true, time.Now(), time.Hour, nodes
	return t
}

func nodeIDs(gs []group) []string {
	var out []string
	for _, g := range gs {
		out = append(out, g.Labels["__meta_dcs_node_id"])
	}
	return out
}

// Only redis-server nodes with is_access, an IP and a port get a group, at
// their own address, labelled with the node and its instance.
func TestNodeGroups(t *testing.T) {
	st := &inputs{}
	st.set(walked(fresh("prod", redis, memcached), clusterNodes()))
	h := discovery.NewHandler(st.get)
	gs := groups(t, h, "?level=node")
	if got := nodeIDs(gs); !slices.Equal(got, []string{"n1", "n2", "n3"}) {
		t.Fatalf("nodes %v, want n1 n2 n3", got)
	}
	var addrs []string
	for _, g := range gs {
		addrs = append(addrs, strings.Join(g.Targets, " "))
	}
	if want := []string{"10.0.0.11:6379", "10.0.0.12:6379", "10.0.0.13:6380"}; !slices.Equal(addrs, want) {
		t.Errorf("addresses %v, want %v", addrs, want)
	}
	want := map[string]string{
		"__meta_dcs_target": "prod", "__meta_dcs_region": "cn-north-4", "__meta_dcs_project_id": "p-prod",
		"__meta_dcs_instance_id": "0b1c", "__meta_dcs_instance_name": "cache-a", "__meta_dcs_instance_status": "RUNNING",
		"__meta_dcs_spec_code": "redis.cluster.xu1.large.4",
		"__meta_dcs_engine":    "Redis", "__meta_dcs_node_id": "n2", "__meta_dcs_node_name": "shard-1-s",
		"__meta_dcs_node_type": "slave", "__meta_dcs_node_role": "redis-server", "__meta_dcs_node_status": "Inactive",
		"__meta_dcs_az_code": "cn-north-4c", "__meta_dcs_group_id": "g1", "__meta_dcs_group_name": "group-1",
		"__meta_dcs_tag_owner": "team-a", "__meta_dcs_tag_cost_center": "cc-1",
	}
	if got := gs[1].Labels; !mapsEqual(got, want) {
		t.Errorf("labels\n%v\nwant\n%v", got, want)
	}
	// The default level is unchanged.
	if got := ids(groups(t, h, "")); !slices.Equal(got, []string{"0b1c", "9f8e"}) {
		t.Errorf("level=instance: got %v", got)
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// Without the listing, a node's group has no instance name, status or
// tags, and its engine is Redis; hostile names are sanitised and escaped.
func TestNodeGroupsWithoutListing(t *testing.T) {
	tgt := walked(discovery.Target{Name: "bare", Region: "r", ProjectID: "p"}, []discovery.InstanceNodes{{
		InstanceID: "x\"y", Nodes: []discovery.Node{{ID: "n\x00\xff", Name: "\"},{\"targets\":[\"evil:1\"]", Role: "redis-server", IP: "10.1.1.1", Port: 6379, IsAccess: true}},
	}})
	st := &inputs{}
	st.set(tgt)
	gs := groups(t, discovery.NewHandler(st.get), "?level=node")
	if len(gs) != 1 || len(gs[0].Targets) != 1 || gs[0].Targets[0] != "10.1.1.1:6379" {
		t.Fatalf("got %+v", gs)
	}
	l := gs[0].Labels
	if _, ok := l["__meta_dcs_instance_name"]; ok {
		t.Errorf("instance name without a listing: %v", l)
	}
	if l["__meta_dcs_engine"] != "Redis" || l["__meta_dcs_instance_id"] != "x\"y" ||
		l["__meta_dcs_node_id"] != "n\x00\uFFFD" || l["__meta_dcs_node_name"] != "\"},{\"targets\":[\"evil:1\"]" {
		t.Errorf("labels %q", l)
	}
	// Tag keys are sanitised as at instance level.
	in := redis
	in.Tags = []dcsapi.Tag{{Key: "a-b.c", Value: "v"}, {Key: "a_b_c", Value: "second"}}
	tgt = walked(fresh("prod", in), clusterNodes())
	st.set(tgt)
	l = groups(t, discovery.NewHandler(st.get), "?level=node")[0].Labels
	if l["__meta_dcs_tag_a_b_c"] != "v" {
		t.Errorf("tag labels %v", l)
	}
	for name := range l {
		if !regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`).MatchString(name) {
			t.Errorf("label name %q", name)
		}
	}
}

// Filters select nodes by target and by their instance's engine and status.
func TestNodeFilters(t *testing.T) {
	other := redis
	other.ID, other.Status = "r2", "FROZEN"
	nodes := append(clusterNodes(), discovery.InstanceNodes{InstanceID: "r2", Nodes: []discovery.Node{
		{ID: "m1", Role: "redis-server", IP: "10.0.2.1", Port: 6379, IsAccess: true},
	}}, discovery.InstanceNodes{InstanceID: "unlisted", Nodes: []discovery.Node{
		{ID: "u1", Role: "redis-server", IP: "10.0.3.1", Port: 6379, IsAccess: true},
	}})
	st := &inputs{}
	st.set(walked(fresh("prod", redis, other, memcached), nodes),
		walked(fresh("dev"), []discovery.InstanceNodes{{InstanceID: "d", Nodes: []discovery.Node{
			{ID: "d1", Role: "redis-server", IP: "10.9.0.1", Port: 6379, IsAccess: true}}}}))
	h := discovery.NewHandler(st.get)
	for _, c := range []struct {
		query string
		want  []string
	}{
		{"?level=node", []string{"n1", "n2", "n3", "m1", "u1", "d1"}},
		{"?level=node&target=dev", []string{"d1"}},
		{"?level=node&status=running", []string{"n1", "n2", "n3"}},
		{"?level=node&status=FROZEN&status=running", []string{"n1", "n2", "n3", "m1"}},
		{"?level=node&engine=REDIS&target=prod", []string{"n1", "n2", "n3", "m1", "u1"}},
		{"?level=node&engine=memcached", nil},
	} {
		if got := nodeIDs(groups(t, h, c.query)); !slices.Equal(got, c.want) {
			t.Errorf("%s: got %v, want %v", c.query, got, c.want)
		}
	}
}

// At level=node a target that does not walk nodes is left out, and one
// whose walk never succeeded or is stale fails the answer with 503; the
// instance level does not look at the walk.
func TestUnusableNodeWalks(t *testing.T) {
	good := walked(fresh("prod", redis), clusterNodes())
	off := fresh("off", redis) // nodes off
	never := fresh("never", redis)
	never.NodesEnabled = true
	stale := walked(fresh("stale", redis), clusterNodes())
	stale.NodesAt, stale.NodesStaleAfter = time.Now().Add(-10*time.Minute), 5*time.Minute
	st := &inputs{}
	st.set(good, off, never, stale)
	h := discovery.NewHandler(st.get)
	code, _, body := get(t, h, "?level=node")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "never (no node walk has succeeded yet)") ||
		!regexp.MustCompile(`stale \(nodes walked 10m\d+s ago, stale after 5m0s\)`).MatchString(body) ||
		strings.Contains(body, "prod") || strings.Contains(body, "off") {
		t.Errorf("got %d %q", code, body)
	}
	if got := nodeIDs(groups(t, h, "?level=node&target=prod&target=off")); !slices.Equal(got, []string{"n1", "n2", "n3"}) {
		t.Errorf("nodes off are left out: got %v", got)
	}
	if got := ids(groups(t, h, "")); len(got) != 4 {
		t.Errorf("instance level: got %v", got)
	}
	// A stale listing does not stop fresh nodes, and the reverse.
	staleListing := walked(fresh("sl", redis), clusterNodes())
	staleListing.ListedAt, staleListing.StaleAfter = time.Now().Add(-time.Hour), time.Minute
	st.set(staleListing, stale)
	if code, _, _ := get(t, h, "?level=node&target=sl"); code != http.StatusOK {
		t.Errorf("stale listing, fresh nodes: %d", code)
	}
	if code, _, _ := get(t, h, "?target=stale"); code != http.StatusOK {
		t.Errorf("fresh listing, stale nodes: %d", code)
	}
}

// Node groups are built once per walk: a new walk (generation or time) or
// a new listing rebuilds them.
func TestNodesBuiltOncePerWalk(t *testing.T) {
	tgt := walked(fresh("prod", redis), clusterNodes())
	st := &inputs{}
	st.set(tgt)
	h := discovery.NewHandler(st.get)
	h.Prepare()
	tgt.Nodes = tgt.Nodes[:0:0]
	st.set(tgt)
	if got := nodeIDs(groups(t, h, "?level=node")); len(got) != 3 {
		t.Errorf("same walk: got %v, want the groups built before", got)
	}
	tgt.NodesGeneration++
	st.set(tgt)
	if got := nodeIDs(groups(t, h, "?level=node")); len(got) != 0 {
		t.Errorf("new walk: got %v", got)
	}
	tgt.Nodes = clusterNodes()
	tgt.NodesAt = tgt.NodesAt.Add(time.Second)
	st.set(tgt)
	if got := nodeIDs(groups(t, h, "?level=node")); len(got) != 3 {
		t.Errorf("new walk time: got %v", got)
	}
	// The same walk with a new listing: the labels from the listing change.
	renamed := redis
	renamed.Name = "renamed"
	tgt.Instances = []dcsapi.Instance{renamed}
	tgt.Generation++
	st.set(tgt)
	gs := groups(t, h, "?level=node")
	if len(gs) != 3 || gs[0].Labels["__meta_dcs_instance_name"] != "renamed" {
		t.Errorf("new listing: got %+v", gs)
	}
}
