// This file serves the logical nodes of the fake's instances, with switches
// for a failed node, a failover and replicas that share a zone.

package dcsapitest

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// Topology is the shape of an instance's nodes: Shards groups of Replicas
// redis-server nodes each (the first replica of a group is its master until
// SwapMaster moves it), and Proxies redis-proxy nodes.
type Topology struct {
	Shards, Replicas, Proxies int
}

// ProxyGroup is the group number SetNodeStatus takes for proxies.
const ProxyGroup = -1

// nodeState is one instance's node switches.
type nodeState struct {
	topology *Topology
	masters  map[int]int       // group -> replica that is master
	singleAZ map[int]bool      // group -> every replica in the first zone
	status   map[[2]int]string // (group, replica) -> status
}

func (n *nodeState) clone() *nodeState {
	c := &nodeState{topology: n.topology, masters: map[int]int{}, singleAZ: map[int]bool{}, status: map[[2]int]string{}}
	for k, v := range n.masters {
		c.masters[k] = v
	}
	for k, v := range n.singleAZ {
		c.singleAZ[k] = v
	}
	for k, v := range n.status {
		c.status[k] = v
	}
	return c
}

func (s *Server) nodeStateLocked(projectID, instanceID string) *nodeState {
	k := &s.projectLocked(projectID).fleet
	if k.topologies == nil {
		k.topologies = map[string]*nodeState{}
	}
	n := k.topologies[instanceID]
	if n == nil {
		n = &nodeState{masters: map[int]int{}, singleAZ: map[int]bool{}, status: map[[2]int]string{}}
		k.topologies[instanceID] = n
	}
	return n
}

// SetTopology sets an instance's node shape; nil goes back to the one its
// spec code gives (see TopologyOf).
func (s *Server) SetTopology(projectID, instanceID string, t *Topology) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t != nil {
		c := *t
		t = &c
	}
	s.nodeStateLocked(projectID, instanceID).topology = t
}

// SwapMaster makes the next replica of a group its master, and the master
// a slave, as a failover does. Two walks of the node listing either side of
// it see a master change.
func (s *Server) SwapMaster(projectID, instanceID string, group int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nodeStateLocked(projectID, instanceID).masters[group]++
}

// SetGroupSingleAZ with true puts every replica of a group in the
// instance's first availability zone; by default they take its zones in
// turn.
func (s *Server) SetGroupSingleAZ(projectID, instanceID string, group int, on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nodeStateLocked(projectID, instanceID).singleAZ[group] = on
}

// SetNodeStatus gives one node a status, Inactive for a failed one, or any
// other string; "" goes back to Active. Replicas count from 0 in a group;
// proxies are group ProxyGroup.
func (s *Server) SetNodeStatus(projectID, instanceID string, group, replica int, status string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.nodeStateLocked(projectID, instanceID)
	if status == "" {
		delete(n.status, [2]int{group, replica})
		return
	}
	n.status[[2]int{group, replica}] = status
}

// NodesCovered reports whether the node listing shows an instance: Redis
// 4.0 and later ("Available for Redis 4.0 and later instances", OTC api-ref
// "Querying Instance Nodes in Batches"), not while it is being created ("No
// node information will be returned when the instance is being created",
// same page; CREATEFAILED is left out with it, our choice).
func NodesCovered(in Instance) bool {
	if !strings.EqualFold(in.Engine, "Redis") || in.Status == "CREATING" || in.Status == "CREATEFAILED" {
		return false
	}
	major, _, _ := strings.Cut(in.EngineVersion, ".")
	v, err := strconv.Atoi(major)
	return err == nil && v >= 4
}

// TopologyOf is the node shape the fake gives an instance by its spec code
// (ours, after the spec names of the api-ref's flavor list): "single" one
// master; "cluster" three shards of two; "proxy" two proxies before three
// shards of two; anything else (master/standby, "ha") one shard of two.
func TopologyOf(in Instance) Topology {
	switch spec := strings.ToLower(in.SpecCode); {
	case strings.Contains(spec, "single"):
		return Topology{Shards: 1, Replicas: 1}
	case strings.Contains(spec, "proxy"):
		return Topology{Shards: 3, Replicas: 2, Proxies: 2}
	case strings.Contains(spec, "cluster"):
		return Topology{Shards: 3, Replicas: 2}
	}
	return Topology{Shards: 1, Replicas: 2}
}

// wireNodeInfo is NodesInfoResp (SDK model_nodes_info_resp.go, v0.1.207),
// with the documented example's fields.
type wireNodeInfo struct {
	LogicalNodeID  string          `json:"logical_node_id"`
	Name           string          `json:"name"`
	Status         string          `json:"status"`
	AZCode         string          `json:"az_code"`
	NodeRole       string          `json:"node_role"`
	NodeType       string          `json:"node_type"`
	NodeIP         string          `json:"node_ip"`
	NodePort       string          `json:"node_port"`
	NodeID         string          `json:"node_id"`
	IsAccess       bool            `json:"is_access"`
	GroupID        string          `json:"group_id,omitempty"`
	GroupName      string          `json:"group_name,omitempty"`
	PriorityWeight int             `json:"priority_weight"`
	IsRemoveIP     bool            `json:"is_remove_ip"`
	ReplicationID  string          `json:"replication_id,omitempty"`
	Dimensions     []wireDimension `json:"dimensions,omitempty"`
}

type wireDimension struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

type wireInstanceNodes struct {
	InstanceID string         `json:"instance_id"`
	NodeCount  int            `json:"node_count"`
	Nodes      []wireNodeInfo `json:"nodes"`
}

func hex32(id string, salt uint64) string {
	return fmt.Sprintf("%016x%016x", seedOf(id, salt), seedOf(id, salt+1))
}

// instanceNodes builds the nodes of one instance. Proxies have no group
// (ours: the SDK's group fields are optional, and a proxy holds no shard).
func instanceNodes(rec record, n *nodeState) wireInstanceNodes {
	t := TopologyOf(rec.Instance)
	if n != nil && n.topology != nil {
		t = *n.topology
	}
	zones := rec.AZCodes
	if len(zones) == 0 {
		zones = []string{"region01"} // the documented example's az_code
	}
	out := wireInstanceNodes{InstanceID: rec.ID}
	node := func(group, replica int, role, typ string) wireNodeInfo {
		salt := uint64(group+2)<<32 | uint64(replica)<<8
		ip := fmt.Sprintf("10.%d.%d.%d", 1+rec.seq/250%250, 2+rec.seq%250, 10+(group+1)*8+replica)
		label := "(replica)"
		switch typ {
		case "master":
			label = "(master)"
		case "proxy":
			label = "(proxy)"
		}
		w := wireNodeInfo{
			LogicalNodeID: hex32(rec.ID, salt|1), Name: label + ip, Status: "Active",
			AZCode: zones[replica%len(zones)], NodeRole: role, NodeType: typ, NodeIP: ip, NodePort: "6379",
			NodeID: hex32(rec.ID, salt|2), IsAccess: true, PriorityWeight: 100,
		}
		if n != nil {
			if st, ok := n.status[[2]int{group, replica}]; ok {
				w.Status = st
			}
			if group >= 0 && n.singleAZ[group] {
				w.AZCode = zones[0]
			}
		}
		return w
	}
	for p := range t.Proxies {
		out.Nodes = append(out.Nodes, node(ProxyGroup, p, "redis-proxy", "proxy"))
	}
	for g := range t.Shards {
		master := 0
		if n != nil && t.Replicas > 0 {
			master = n.masters[g] % t.Replicas
		}
		groupID := uuidFrom(seedOf(rec.ID, uint64(g)<<16|3), seedOf(rec.ID, uint64(g)<<16|4))
		for r := range t.Replicas {
			typ := "slave"
			if r == master {
				typ = "master"
			}
			w := node(g, r, "redis-server", typ)
			w.GroupID, w.GroupName = groupID, "group-"+strconv.Itoa(g)
			w.ReplicationID = uuidFrom(seedOf(rec.ID, uint64(g)<<16|uint64(r)<<8|5), seedOf(rec.ID, 6))
			w.IsAccess = t.Proxies == 0 // behind proxies, a server is not for clients (ours)
			w.Dimensions = []wireDimension{{"dcs_instance_id", rec.ID}, {"dcs_cluster_redis_node", hex32(rec.ID, uint64(g)<<16|uint64(r)<<8|7)}}
			out.Nodes = append(out.Nodes, w)
		}
	}
	out.NodeCount = len(out.Nodes)
	return out
}

// The node listing's page bounds: the SDK's largest limit, 100, and its
// default, 10 (model_batch_show_nodes_information_request.go).
const (
	defaultNodesLimit = 10
	maxNodesLimit     = 100
)

// nodesAnswer serves one page of GET /v2/{project_id}/instances-logical-
// nodes: offset counts instances, count is the number of instances
// covered. A bad offset is the documented 400 DCS.4800; a bad limit is 400
// DCS.4801 (ours, as for the list API).
func nodesAnswer(r *http.Request, recs []record, k fleetKnobs) *answer {
	q := r.URL.Query()
	offset, ok := intParam(q, "offset", 0)
	if !ok || offset < 0 {
		return serviceError(http.StatusBadRequest, "DCS.4800", "Invalid offset in the request.")
	}
	limit, ok := intParam(q, "limit", defaultNodesLimit)
	if !ok || limit < 1 || limit > maxNodesLimit {
		return serviceError(http.StatusBadRequest, "DCS.4801", "Invalid limit in the request.")
	}
	covered := recs[:0:0]
	for _, rec := range recs {
		if NodesCovered(rec.Instance) {
			covered = append(covered, rec)
		}
	}
	page := covered[min(offset, len(covered)):min(offset+limit, len(covered))]
	doc := struct {
		Count     int                 `json:"count"`
		Instances []wireInstanceNodes `json:"instances"`
	}{Count: len(covered), Instances: make([]wireInstanceNodes, 0, len(page))}
	for _, rec := range page {
		doc.Instances = append(doc.Instances, instanceNodes(rec, k.topologies[rec.ID]))
	}
	return jsonAnswer(http.StatusOK, mustJSON(doc))
}
