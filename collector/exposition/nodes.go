package exposition

// This file renders the nodes source's part: the walk's health, and per
// instance its nodes by type and status, each node's information, its
// master changes and whether its replicas share one zone, rendered once
// per walk.

import (
	"cmp"
	"slices"
	"time"
)

// Nodes is the nodes source's part of a snapshot.
type Nodes struct {
	On          bool      // the target walks its nodes (nodes: true)
	Lines       NodeLines // rendered once per walk by RenderNodes
	LastSuccess time.Time
	Attempted   bool // a walk has ended
	Up          bool
}

// nodeFamilies are the nodes source's per-instance families, in the order
// of NodeLines.
var nodeFamilies = [...]Family{FamInstanceNodes, FamNodeInfo, FamMasterChanges, FamSingleAZ}

// NodeLines are the per-instance series of one walk, one slice per family
// of nodeFamilies, each line without its metric name and the target's
// labels, like InstanceLines.
type NodeLines [len(nodeFamilies)][]byte

// InstanceNodes is what the exporter keeps of one instance's entry in the
// node listing: its nodes, and what is derived from them and from the walks
// before. It is never changed once kept; the discovery of nodes reads it
// too.
type InstanceNodes struct {
	InstanceID string
	Nodes      []Node
	// MasterChanges counts the master changes seen since the exporter
	// started (see the collector's nodes source).
	MasterChanges uint64
	SingleAZ      SingleAZ
}

// SingleAZ says whether an instance's replicas share one zone.
type SingleAZ int8

const (
	SingleAZUnknown SingleAZ = iota // no shard with two redis-server nodes in known zones
	SingleAZNo
	SingleAZYes
)

// Node is one logical node. A value the API left out or sent unusable is
// "" (0 for the port), as dcsapi gives it.
type Node struct {
	ID        string // node_id, or logical_node_id when that is missing
	LogicalID string
	Name      string
	GroupID   string // the shard; "" for proxies
	GroupName string
	Type      string // master, slave, proxy or ""
	Role      string // redis-server, redis-proxy or ""
	Status    string // Active, Inactive, ... or ""
	AZ        string
	IP        string
	Port      int
	IsAccess  bool // the node's address can be reached directly
}

// unknownValue stands for a type, role or status the API did not give in
// a documented form, so that the label is not empty (which Prometheus
// reads as no label at all).
const unknownValue = "unknown"

func orUnknown(s string) string { return cmp.Or(s, unknownValue) }

// renderNodes writes the walk's health and reports whether its
// per-instance series are served: after a success, or after a failure
// within the staleness limit, as for the listing.
func renderNodes(out *renderBuffers, s *Snapshot, now time.Time, expireAt func(time.Time)) bool {
	n := &s.Nodes
	if !n.On || !n.Attempted {
		return false
	}
	out[FamNodesUp] = appendSample(out[FamNodesUp], FamNodesUp, s.Labels, boolValue(n.Up))
	if n.LastSuccess.IsZero() {
		return false
	}
	if !n.Up {
		expiry := n.LastSuccess.Add(s.MaxStaleness)
		if s.MaxStaleness <= 0 || !now.Before(expiry) {
			return false
		}
		expireAt(expiry)
	}
	return true
}

// RenderNodes renders the per-instance node families of one walk. states
// are the documented node states, written for every type an instance has.
func RenderNodes(list []InstanceNodes, states []string) NodeLines {
	var bufs NodeLines
	type key struct{ typ, status string }
	counts := map[key]int{}
	var types, extra []string
	seen := map[string]bool{}
	for i := range list {
		in := &list[i]
		id := labelPair{"instance_id", in.InstanceID}
		clear(counts)
		types, extra = types[:0], extra[:0]
		for _, n := range in.Nodes {
			k := key{orUnknown(n.Type), orUnknown(n.Status)}
			if counts[k] == 0 && !slices.Contains(types, k.typ) {
				types = append(types, k.typ)
			}
			if !slices.Contains(states, k.status) && !slices.Contains(extra, k.status) {
				extra = append(extra, k.status)
			}
			counts[k]++
		}
		slices.Sort(types)
		all := append(slices.Clone(states), extra...)
		slices.Sort(all)
		for _, typ := range types {
			for _, st := range all {
				bufs[0] = appendTail(bufs[0], float64(counts[key{typ, st}]), id, labelPair{"node_type", typ}, labelPair{"status", st})
			}
		}
		// One info series per node id: a repeated id would make two
		// series with the same labels, which is no valid exposition.
		clear(seen)
		for _, n := range in.Nodes {
			if n.ID == "" || seen[n.ID] {
				continue
			}
			seen[n.ID] = true
			bufs[1] = appendTail(bufs[1], 1, id, labelPair{"node_id", n.ID}, labelPair{"node_name", n.Name},
				labelPair{"group_name", n.GroupName}, labelPair{"node_type", orUnknown(n.Type)},
				labelPair{"node_role", orUnknown(n.Role)}, labelPair{"az_code", n.AZ})
		}
		bufs[2] = appendTail(bufs[2], float64(in.MasterChanges), id)
		if in.SingleAZ != SingleAZUnknown {
			bufs[3] = appendTail(bufs[3], boolValue(in.SingleAZ == SingleAZYes), id)
		}
	}
	for i := range bufs {
		bufs[i] = slices.Clip(bufs[i])
	}
	return bufs
}
