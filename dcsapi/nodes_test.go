package dcsapi_test

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/dcs-exporter/dcs_exporter/dcsapi"
	"github.com/dcs-exporter/dcs_exporter/dcsapi/dcsapitest"
)

// docNodesExample is the 200 answer of the node listing's documentation
// (OTC api-ref apis_v2_recommended/shards_and_replicas/
// querying_instance_nodes_in_batches.rst).
const docNodesExample = `{
  "count" : 1,
  "instances" : [ {
    "instance_id" : "b4468cb1-4f75-4866-a49d-86959acc0c9c",
    "node_count" : 2,
    "nodes" : [ {
      "logical_node_id" : "8f997eb512a92834bf5914be52ca8919",
      "name" : "(replica)192.168.0.178",
      "status" : "Active",
      "az_code" : "region01",
      "node_role" : "redis-server",
      "node_type" : "slave",
      "node_ip" : "192.168.0.178",
      "node_port" : "6379",
      "node_id" : "8a2c26c17f4d6516017f4d7b77940030",
      "is_access" : true,
      "group_id" : "ace962d1-7841-4e50-9313-c239fd75dee3",
      "group_name" : "group-0",
      "priority_weight" : 100,
      "is_remove_ip" : false,
      "replication_id" : "e40aa09e-03c2-4319-86eb-5ef4ca637544",
      "dimensions" : [ {
        "name" : "dcs_instance_id",
        "value" : "caf2d19f-7783-44b0-be46-8c9da3ef1e94"
      }, {
        "name" : "dcs_cluster_redis_node",
        "value" : "8263dc69629c5b2d840e9816fa9c6200"
      } ]
    } ]
  } ]
}`

func TestDecodeNodesDocumentedExample(t *testing.T) {
	instances, count, dropped, err := dcsapi.DecodeNodes([]byte(docNodesExample))
	if err != nil {
		t.Fatal(err)
	}
	want := []dcsapi.InstanceNodes{{
		InstanceID: "b4468cb1-4f75-4866-a49d-86959acc0c9c", NodeCount: 2,
		Nodes: []dcsapi.Node{{
			LogicalNodeID: "8f997eb512a92834bf5914be52ca8919", Name: "(replica)192.168.0.178", NodeID: "8a2c26c17f4d6516017f4d7b77940030",
			Status: dcsapi.NodeActive, AZCode: "region01", Role: dcsapi.RoleRedisServer, Type: dcsapi.TypeSlave,
			IP: "192.168.0.178", Port: 6379, IsAccess: true, GroupID: "ace962d1-7841-4e50-9313-c239fd75dee3",
			GroupName: "group-0", ReplicationID: "e40aa09e-03c2-4319-86eb-5ef4ca637544", PriorityWeight: 100,
		}},
	}}
	if count != 1 || !reflect.DeepEqual(instances, want) || dropped.Total() != 0 {
		t.Errorf("count %d, dropped %v\ngot %+v\nwant %+v", count, dropped, instances, want)
	}
}

// nodeJSON is a redis-server node with one field's raw JSON replaced ("" removes it).
func nodeJSON(field, raw string) string {
	fields := [][2]string{
		{"logical_node_id", `"l1"`}, {"name", `"n1"`}, {"node_id", `"id1"`}, {"status", `"Active"`},
		{"az_code", `"az1"`}, {"node_role", `"redis-server"`}, {"node_type", `"master"`}, {"node_ip", `"10.0.0.1"`},
		{"node_port", `"6379"`}, {"is_access", `true`}, {"group_id", `"g1"`}, {"group_name", `"group-0"`},
		{"replication_id", `"r1"`}, {"priority_weight", `100`},
	}
	var parts []string
	for _, f := range fields {
		if f[0] == field {
			if raw == "" {
				continue
			}
			f[1] = raw
		}
		parts = append(parts, fmt.Sprintf("%q:%s", f[0], f[1]))
	}
	return "{" + strings.Join(parts, ",") + "}"
}

func TestDecodeNodesFieldByField(t *testing.T) {
	for _, c := range []struct {
		field, raw string
		check      func(dcsapi.Node) bool
		dropped    bool
	}{
		{"status", `"Inactive"`, func(n dcsapi.Node) bool { return n.Status == dcsapi.NodeInactive }, false},
		{"status", `"inactive"`, func(n dcsapi.Node) bool { return n.Status == dcsapi.NodeInactive }, false},
		{"status", `"Exploded"`, func(n dcsapi.Node) bool { return n.Status == "" }, true},
		{"status", `3`, func(n dcsapi.Node) bool { return n.Status == "" }, true},
		{"status", ``, func(n dcsapi.Node) bool { return n.Status == "" }, false},
		{"node_role", `"redis-sentinel"`, func(n dcsapi.Node) bool { return n.Role == "" }, true},
		{"node_type", `"replica"`, func(n dcsapi.Node) bool { return n.Type == "" }, true},
		{"node_type", `"PROXY"`, func(n dcsapi.Node) bool { return n.Type == dcsapi.TypeProxy }, false},
		{"group_id", ``, func(n dcsapi.Node) bool { return n.GroupID == "" && n.GroupName == "group-0" }, true},
		{"group_id", `null`, func(n dcsapi.Node) bool { return n.GroupID == "" }, true},
		{"group_id", `{}`, func(n dcsapi.Node) bool { return n.GroupID == "" }, true},
		{"node_port", `6380`, func(n dcsapi.Node) bool { return n.Port == 6380 }, false},
		{"node_port", `"abc"`, func(n dcsapi.Node) bool { return n.Port == 0 }, true},
		{"node_port", `"70000"`, func(n dcsapi.Node) bool { return n.Port == 0 }, true},
		{"node_port", `"0"`, func(n dcsapi.Node) bool { return n.Port == 0 }, true},
		{"node_port", `"-1"`, func(n dcsapi.Node) bool { return n.Port == 0 }, true},
		{"node_port", `""`, func(n dcsapi.Node) bool { return n.Port == 0 }, true},
		{"is_access", `"yes"`, func(n dcsapi.Node) bool { return !n.IsAccess }, true},
		{"priority_weight", `-5`, func(n dcsapi.Node) bool { return n.PriorityWeight == 0 }, true},
		{"az_code", `["az1"]`, func(n dcsapi.Node) bool { return n.AZCode == "" }, true},
	} {
		body := `{"count":1,"instances":[{"instance_id":"i1","node_count":2,"nodes":[` + nodeJSON(c.field, c.raw) + "," + nodeJSON("", "") + `]}]}`
		instances, _, dropped, err := dcsapi.DecodeNodes([]byte(body))
		if err != nil {
			t.Fatalf("%s=%s: %v", c.field, c.raw, err)
		}
		nodes := instances[0].Nodes
		if len(nodes) != 2 || !c.check(nodes[0]) || nodes[0].NodeID != "id1" {
			t.Errorf("%s=%s: got %+v", c.field, c.raw, nodes)
		}
		wantDrops := dcsapi.FieldDrops{}
		if c.dropped {
			wantDrops[c.field] = 1
		}
		if !reflect.DeepEqual(dropped, wantDrops) {
			t.Errorf("%s=%s: dropped %v, want %v", c.field, c.raw, dropped, wantDrops)
		}
		if nodes[1].Status != dcsapi.NodeActive || nodes[1].Port != 6379 || nodes[1].GroupID != "g1" {
			t.Errorf("%s=%s: the other node: %+v", c.field, c.raw, nodes[1])
		}
	}
	// A proxy has no shard to name.
	proxy := strings.Replace(strings.Replace(nodeJSON("group_id", ""), `"redis-server"`, `"redis-proxy"`, 1), `"master"`, `"proxy"`, 1)
	_, _, dropped, err := dcsapi.DecodeNodes([]byte(`{"count":1,"instances":[{"instance_id":"i1","nodes":[` + proxy + `]}]}`))
	if err != nil || dropped.Total() != 0 {
		t.Errorf("a proxy without group_id: %v, dropped %v", err, dropped)
	}
}

func TestDecodeNodesEntryByEntry(t *testing.T) {
	body := `{"count":5,"instances":[
		{"instance_id":"a","node_count":"2","nodes":{}},
		{"instance_id":"b","nodes":[1, ` + nodeJSON("", "") + `, "x"]},
		{"node_count":1,"nodes":[]},
		{"instance_id":"c","node_count":0,"nodes":null},
		{"instance_id":"d"}
	]}`
	instances, count, dropped, err := dcsapi.DecodeNodes([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if count != 5 || len(instances) != 4 {
		t.Fatalf("count %d, %+v", count, instances)
	}
	if a := instances[0]; a.InstanceID != "a" || a.NodeCount != -1 || a.Nodes != nil {
		t.Errorf("a: %+v", a)
	}
	if b := instances[1]; len(b.Nodes) != 1 || b.Nodes[0].NodeID != "id1" {
		t.Errorf("b: %+v", b)
	}
	if want := (dcsapi.FieldDrops{"node_count": 1, "nodes": 3, "instance_id": 1}); !reflect.DeepEqual(dropped, want) {
		t.Errorf("dropped %v, want %v", dropped, want)
	}
}

func TestDecodeNodesShapes(t *testing.T) {
	for body, field := range map[string]string{
		"":                               "",
		"[]":                             "",
		`{"count":1}`:                    "instances",
		`{"instances":[]}`:               "count",
		`{"count":-1,"instances":[]}`:    "count",
		`{"count":"1","instances":[]}`:   "count",
		`{"count":1,"instances":{}}`:     "instances",
		`{"count":1,"instances":[5]}`:    "instances",
		`{"count":1,"instances":[]} []`:  "",
		`{"count":1,"instances":[],}`:    "",
		`{"count":1.5,"instances":null}`: "instances",
	} {
		_, _, _, err := dcsapi.DecodeNodes([]byte(body))
		var de *dcsapi.DecodeError
		if !errors.As(err, &de) || de.API != dcsapi.APINodes || de.Field != field {
			t.Errorf("%q: got %v, want a DecodeError of field %q", body, err, field)
		}
	}
}

// nodeFleet is n instances the node listing covers, then a Memcached, a
// Redis 3.0 and a creating Redis 5.0 instance, which it does not.
func nodeFleet(n int) []dcsapitest.Instance {
	fleet := make([]dcsapitest.Instance, 0, n+3)
	for i := range n {
		spec := "redis.ha.xu1.large.r2.2"
		if i%3 == 0 {
			spec = "redis.cluster.xu1.large.r2.4"
		}
		fleet = append(fleet, dcsapitest.Instance{
			ID: fmt.Sprintf("inst-%04d", i), Engine: "Redis", EngineVersion: "5.0", Status: "RUNNING",
			SpecCode: spec, AZCodes: []string{"az1", "az2"},
		})
	}
	return append(fleet,
		dcsapitest.Instance{ID: "memcached", Engine: "Memcached", EngineVersion: "1.5", Status: "RUNNING", SpecCode: "dcs.memcached.master_standby.2"},
		dcsapitest.Instance{ID: "redis3", Engine: "Redis", EngineVersion: "3.0", Status: "RUNNING", SpecCode: "dcs.master_standby.2"},
		dcsapitest.Instance{ID: "creating", Engine: "Redis", EngineVersion: "5.0", Status: "CREATING", SpecCode: "redis.ha.xu1.large.r2.2"},
	)
}

func TestNodesWalk(t *testing.T) {
	e := newEnv(t)
	fleet := nodeFleet(250)
	e.srv.SetInstances(pid, fleet)
	c := e.client(nil)
	r, err := c.Nodes(ctxFor(t, 30*time.Second), dcsapi.NodesOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Instances) != 250 || r.Count != 250 || r.Pages != 3 || r.Dropped.Total() != 0 || r.Repeated != 0 {
		t.Fatalf("%d instances, count %d, %d pages, dropped %v", len(r.Instances), r.Count, r.Pages, r.Dropped)
	}
	var offsets []string
	for _, ri := range e.srv.RequestLog(dcsapitest.APINodes) {
		if ri.Path != "/v2/"+pid+"/instances-logical-nodes" || ri.Query.Get("limit") != "100" || len(ri.Query) != 2 {
			t.Errorf("request %s %v", ri.Path, ri.Query)
		}
		offsets = append(offsets, ri.Query.Get("offset"))
	}
	if !reflect.DeepEqual(offsets, []string{"0", "100", "200"}) {
		t.Errorf("offsets %v", offsets)
	}
	nodes := 0
	for i, in := range r.Instances {
		if in.InstanceID != fleet[i].ID || int64(len(in.Nodes)) != in.NodeCount {
			t.Fatalf("instance %d: %s with %d of %d nodes", i, in.InstanceID, len(in.Nodes), in.NodeCount)
		}
		nodes += len(in.Nodes)
		masters := map[string]int{}
		zones := map[string]map[string]bool{}
		for _, n := range in.Nodes {
			if n.Status != dcsapi.NodeActive || n.Role != dcsapi.RoleRedisServer || n.Port != 6379 || n.GroupID == "" {
				t.Fatalf("%s: node %+v", in.InstanceID, n)
			}
			if n.Type == dcsapi.TypeMaster {
				masters[n.GroupID]++
			}
			if zones[n.GroupID] == nil {
				zones[n.GroupID] = map[string]bool{}
			}
			zones[n.GroupID][n.AZCode] = true
		}
		for g, z := range zones {
			if masters[g] != 1 || len(z) != 2 {
				t.Fatalf("%s group %s: %d masters, zones %v", in.InstanceID, g, masters[g], z)
			}
		}
	}
	if want := 84*6 + 166*2; nodes != want {
		t.Errorf("%d nodes, want %d", nodes, want)
	}
}

func TestNodesSwitches(t *testing.T) {
	e := newEnv(t)
	e.srv.SetInstances(pid, nodeFleet(3))
	const cluster, ha = "inst-0000", "inst-0001"
	c := e.client(nil)
	walk := func() map[string]dcsapi.InstanceNodes {
		t.Helper()
		r, err := c.Nodes(ctxFor(t, 10*time.Second), dcsapi.NodesOptions{})
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]dcsapi.InstanceNodes{}
		for _, in := range r.Instances {
			m[in.InstanceID] = in
		}
		return m
	}
	masterOf := func(in dcsapi.InstanceNodes, group string) string {
		for _, n := range in.Nodes {
			if n.GroupName == group && n.Type == dcsapi.TypeMaster {
				return n.NodeID
			}
		}
		return ""
	}
	before := walk()
	if _, ok := before["memcached"]; ok || len(before) != 3 {
		t.Errorf("walked %d instances: Memcached, Redis 3.0 and a creating instance must be absent", len(before))
	}
	e.srv.SwapMaster(pid, cluster, 1)
	e.srv.SetNodeStatus(pid, ha, 0, 1, "Inactive")
	e.srv.SetGroupSingleAZ(pid, cluster, 2, true)
	after := walk()
	for _, g := range []string{"group-0", "group-1", "group-2"} {
		changed := masterOf(before[cluster], g) != masterOf(after[cluster], g)
		if changed != (g == "group-1") || masterOf(after[cluster], g) == "" {
			t.Errorf("%s: master changed %v", g, changed)
		}
	}
	for _, n := range after[ha].Nodes {
		if (n.Status == dcsapi.NodeInactive) != (n.Type == dcsapi.TypeSlave) {
			t.Errorf("ha node %s %s is %s", n.Type, n.NodeID, n.Status)
		}
	}
	for _, n := range after[cluster].Nodes {
		if n.GroupName == "group-2" && n.AZCode != "az1" {
			t.Errorf("group-2 node in %s, want all in az1", n.AZCode)
		}
	}
	e.srv.SetTopology(pid, ha, &dcsapitest.Topology{Shards: 2, Replicas: 3, Proxies: 2})
	in := walk()[ha]
	types := map[string]int{}
	for _, n := range in.Nodes {
		types[n.Type+"/"+n.Role]++
	}
	if want := map[string]int{"proxy/redis-proxy": 2, "master/redis-server": 2, "slave/redis-server": 4}; !reflect.DeepEqual(types, want) {
		t.Errorf("topology %v, want %v", types, want)
	}
}

func TestNodesWalkIsBounded(t *testing.T) {
	e := newEnv(t)
	e.srv.SetInstances(pid, nodeFleet(250))
	c := e.client(nil)
	_, err := c.Nodes(ctxFor(t, 10*time.Second), dcsapi.NodesOptions{MaxPages: 2})
	if err == nil || !strings.Contains(errText(t, err), "more than 2 pages") {
		t.Errorf("MaxPages 2: %v", err)
	}
	e.srv.SetLatency(300 * time.Millisecond)
	start := time.Now()
	_, err = c.Nodes(ctxFor(t, 10*time.Second), dcsapi.NodesOptions{Timeout: 500 * time.Millisecond})
	if err == nil || time.Since(start) > 5*time.Second {
		t.Errorf("a walk longer than its timeout: %v after %v", err, time.Since(start))
	}
}

func TestNodesWalkEndsAtARefusedOffset(t *testing.T) {
	e := newEnv(t)
	e.srv.SetInstances(pid, nodeFleet(250))
	c := e.client(nil)
	// The second page is refused as past the end, as when the project
	// shrank during the walk: the walk keeps what it has.
	e.srv.InjectFault(pid, dcsapitest.APINodes, dcsapitest.Fault{Kind: dcsapitest.FaultStatus, Status: 400, Code: "DCS.4800",
		Message: "Invalid offset in the request.", Shape: dcsapitest.ShapeService, Offset: dcsapitest.AtOffset(100), Times: 1})
	r, err := c.Nodes(ctxFor(t, 10*time.Second), dcsapi.NodesOptions{})
	if err != nil || len(r.Instances) != 100 || r.Pages != 1 {
		t.Fatalf("%v, %d instances in %d pages", err, len(r.Instances), r.Pages)
	}
	// The same answer to the first page fails the walk.
	e.srv.InjectFault(pid, dcsapitest.APINodes, dcsapitest.Fault{Kind: dcsapitest.FaultStatus, Status: 400, Code: "DCS.4800",
		Shape: dcsapitest.ShapeService, Offset: dcsapitest.AtOffset(0), Times: 1})
	if _, err := c.Nodes(ctxFor(t, 10*time.Second), dcsapi.NodesOptions{}); err == nil {
		t.Error("a 400 to the first page must fail the walk")
	}
}
