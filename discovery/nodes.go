// This file turns one target's node walk into http_sd target groups for
// /sd?level=node: one group per redis-server node that can be reached
// directly, so that redis_exporter can scrape each node of a Redis Cluster.

package discovery

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dcs-exporter/dcs_exporter/dcsapi"
)

// InstanceNodes is one instance's nodes as the last node walk saw them.
type InstanceNodes struct {
	InstanceID string
	Nodes      []Node
}

// Node is one logical node; a value the API left out is "" (0 for the
// port).
type Node struct {
	ID        string
	Name      string
	GroupID   string // the shard
	GroupName string
	Type      string // master, slave, proxy
	Role      string // redis-server, redis-proxy
	Status    string // Active, Inactive, ...
	AZ        string
	IP        string
	Port      int
	IsAccess  bool // the node's address can be reached directly
}

// NodeRoleServer is the role of the nodes level=node offers: a proxy is
// not a Redis server of its own, and redis_exporter scrapes servers.
const NodeRoleServer = "redis-server"

// nodeState is where t's node walk stands, judged as its listing is.
func (t *Target) nodeState(now time.Time) State {
	return freshness(t.NodesEnabled, t.NodesAt, t.NodesStaleAfter, now)
}

// nodesUnusable says why t's nodes cannot be served, for a 503's text.
func (t *Target) nodesUnusable(now time.Time) string {
	switch t.nodeState(now) {
	case NeverListed:
		return fmt.Sprintf("%s (no node walk has succeeded yet)", t.Name)
	case Stale:
		return fmt.Sprintf("%s (nodes walked %s ago, stale after %s)",
			t.Name, now.Sub(t.NodesAt).Truncate(time.Second), t.NodesStaleAfter)
	}
	return ""
}

// nodesKey identifies the walk, and the listing whose names, statuses and
// tags label it, that node groups were built from.
type nodesKey struct {
	listing    key
	listingOn  bool
	nodesAt    time.Time
	generation uint64
}

func (t *Target) nodesKey() nodesKey {
	k := nodesKey{nodesAt: t.NodesAt, generation: t.NodesGeneration, listingOn: t.Enabled && !t.ListedAt.IsZero()}
	if k.listingOn {
		k.listing = t.key()
	}
	k.listing.region, k.listing.projectID = t.Region, t.ProjectID
	return k
}

// nodeAddress is where a scraper reaches node n: its IP and port, when it
// is a redis-server that can be reached directly.
func nodeAddress(n *Node) (string, bool) {
	if !n.IsAccess || n.Role != NodeRoleServer || n.Port <= 0 || n.Port > 65535 {
		return "", false
	}
	a, err := netip.ParseAddr(n.IP)
	if err != nil || a.Zone() != "" {
		return "", false
	}
	return net.JoinHostPort(a.String(), strconv.Itoa(n.Port)), true
}

// buildNodes encodes t's node groups, ordered as build orders instances'
// (by engine, then status, each by first appearance), so that the same
// filters select whole runs. Engine, status, name and tags come from the
// listing when it is on and has the instance; a node walk covers Redis
// only, so the engine is "Redis" otherwise.
func buildNodes(t *Target) *listing {
	byID := map[string]*dcsapi.Instance{}
	if t.Enabled && !t.ListedAt.IsZero() {
		for i := range t.Instances {
			byID[t.Instances[i].ID] = &t.Instances[i]
		}
	}
	type rkey struct{ engine, status string }
	var order []rkey
	groups := map[rkey][][]byte{}
	l := &listing{}
	for i := range t.Nodes {
		in := &t.Nodes[i]
		inst := byID[in.InstanceID]
		engine, status := "Redis", ""
		if inst != nil {
			engine, status = inst.Engine, inst.Status
		}
		k := rkey{strings.ToLower(engine), strings.ToLower(status)}
		for j := range in.Nodes {
			n := &in.Nodes[j]
			addr, ok := nodeAddress(n)
			if !ok {
				if n.Role == NodeRoleServer {
					l.noAddress++
				}
				continue
			}
			if _, seen := groups[k]; !seen {
				order = append(order, k)
			}
			groups[k] = append(groups[k], appendNodeGroup(nil, t, in.InstanceID, inst, engine, n, addr))
			l.offered++
		}
	}
	firstOfEngine := map[string]int{}
	for i, k := range order {
		if _, ok := firstOfEngine[k.engine]; !ok {
			firstOfEngine[k.engine] = i
		}
	}
	slices.SortStableFunc(order, func(a, b rkey) int { return firstOfEngine[a.engine] - firstOfEngine[b.engine] })
	type span struct{ start, end int }
	spans := make([]span, 0, len(order))
	for _, k := range order {
		if len(l.all) > 0 {
			l.all = append(l.all, ',')
		}
		sp := span{start: len(l.all)}
		for i, g := range groups[k] {
			if i > 0 {
				l.all = append(l.all, ',')
			}
			l.all = append(l.all, g...)
		}
		sp.end = len(l.all)
		spans = append(spans, sp)
		l.runs = append(l.runs, run{engine: k.engine, status: k.status})
	}
	l.all = slices.Clip(l.all)
	for i, sp := range spans {
		l.runs[i].json = l.all[sp.start:sp.end:sp.end]
		l.runs[i].gz = gzipMember(l.runs[i].json)
	}
	return l
}

// appendNodeGroup writes node n's target group. inst is the listing's
// entry of its instance, nil when unknown.
func appendNodeGroup(b []byte, t *Target, instanceID string, inst *dcsapi.Instance, engine string, n *Node, addr string) []byte {
	l := startGroup(b, t, addr)
	l.add("instance_id", instanceID)
	if inst != nil {
		l.add("instance_name", inst.Name)
		l.add("instance_status", inst.Status)
		l.add("spec_code", inst.SpecCode) // tells a Cluster instance's nodes from a master/standby's
	}
	l.add("engine", engine)
	l.add("node_id", n.ID)
	l.add("node_name", n.Name)
	l.add("node_type", n.Type)
	l.add("node_role", n.Role)
	l.add("node_status", n.Status)
	l.add("az_code", n.AZ)
	l.add("group_id", n.GroupID)
	l.add("group_name", n.GroupName)
	if inst != nil {
		l.addTags(inst.Tags)
	}
	return append(l.b, "}}"...)
}
