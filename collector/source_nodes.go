package collector

// This file is the nodes source: one walk of the project's logical nodes
// per refresh (nodes: true, every --dcs.instances-refresh-interval, as the
// listing), which keeps each instance's nodes, counts the master changes
// between two walks and tells whether an instance's replicas share a zone.

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"time"

	"github.com/dcs-exporter/dcs_exporter/collector/exposition"
	"github.com/dcs-exporter/dcs_exporter/dcsapi"
	"github.com/dcs-exporter/dcs_exporter/diagnosis"
	"github.com/dcs-exporter/dcs_exporter/discovery"
)

// nodesSource is the node view of a target. Its fields are guarded by the
// target's mu, but for masters, which only refresh touches (one at a time).
type nodesSource struct {
	t                *Target
	exposition.Nodes                            // what its series are rendered from
	instances        []exposition.InstanceNodes // from the last success; nil once too old to serve
	errKey           string
	err              error
	running          bool
	drops            string // the field drops logged last, to log each new set once

	// discovered is the last success as /sd?level=node needs it, made
	// once per walk; generation counts successful walks, so that /sd
	// builds its node groups once for each (see discoveryTarget).
	discovered []discovery.InstanceNodes
	generation uint64

	// masters remembers, per instance and shard, the master nodes of the
	// last walk that showed any, and changes the counts so far. Only
	// refresh reads and writes them.
	masters map[string]map[string][]string
	changes map[string]uint64
}

// NodesStatus is the state of a target's node walks, for the status page.
type NodesStatus struct {
	Attempted   bool
	Running     bool
	Up          bool
	Instances   int // covered by the last success
	Nodes       int
	NotActive   int // nodes of the last success not Active
	LastSuccess time.Time
	LastError   error
}

func (n *nodesSource) on() bool      { return n.t.cfg.Nodes }
func (n *nodesSource) started() bool { return n.Attempted || n.running }

func (n *nodesSource) snapshot(s *exposition.Snapshot) {
	s.Nodes = n.Nodes
	s.Nodes.On = n.on()
}

// expire drops a failed walk's last good result once it is older than the
// staleness limit.
func (n *nodesSource) expire(now time.Time) {
	if n.Up || n.instances == nil {
		return
	}
	if staleness := n.t.ex.opts.MaxStaleness; staleness > 0 && now.Before(n.LastSuccess.Add(staleness)) {
		return
	}
	n.instances, n.Lines = nil, exposition.NodeLines{}
}

func (n *nodesSource) describe(ts *TargetStatus) {
	if !n.on() {
		return
	}
	st := &NodesStatus{Attempted: n.Attempted, Running: n.running, Up: n.Up, Instances: len(n.instances),
		LastSuccess: n.LastSuccess, LastError: n.err}
	for _, in := range n.instances {
		st.Nodes += len(in.Nodes)
		for _, node := range in.Nodes {
			if node.Status != dcsapi.NodeActive {
				st.NotActive++
			}
		}
	}
	ts.Nodes = st
}

// Nodes returns the instances and nodes of the target's last good walk,
// nil when there is none to serve. The slice and what it holds are never
// changed: a later walk replaces them.
func (t *Target) Nodes() []exposition.InstanceNodes {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.nodes.expire(t.ex.now())
	return t.nodes.instances
}

// RefreshNodes walks the target's nodes now; for tests and the demo.
func (t *Target) RefreshNodes(ctx context.Context) { t.nodes.refresh(ctx) }

func (n *nodesSource) refresh(ctx context.Context) {
	t := n.t
	if !n.on() {
		return
	}
	t.mu.Lock()
	if n.running {
		t.mu.Unlock()
		return
	}
	n.running = true
	backingOff := t.ex.now().Before(t.backoff.until)
	t.mu.Unlock()
	defer func() {
		t.mu.Lock()
		n.running = false
		t.mu.Unlock()
	}()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(t.ctx, cancel)
	defer stop()

	var (
		report *dcsapi.NodesReport
		err    = errNodesBackingOff
	)
	if !backingOff {
		// Each page takes an API slot and the target's timeout, as the
		// listing's pages do.
		report, err = t.client.Nodes(ctx, dcsapi.NodesOptions{ListOptions: dcsapi.ListOptions{PageTimeout: t.cfg.Timeout, Gate: t.ex.gate}})
	}
	if err != nil && ctx.Err() != nil {
		return // shutting down, or dropped by a reload
	}
	end := t.ex.now()
	var (
		kept       []exposition.InstanceNodes
		lines      exposition.NodeLines
		discovered []discovery.InstanceNodes
	)
	if err == nil {
		kept = n.keep(report)
		lines = exposition.RenderNodes(kept, dcsapi.DocumentedNodeStates())
		discovered = discoveryNodes(kept)
		// The groups of /sd?level=node are built now, once per walk, and
		// not by the first request after it; after the lock is released.
		defer t.ex.discovery.Prepare()
	}

	t.mu.Lock()
	defer t.mu.Unlock()
	n.Attempted = true
	t.outputChanged()
	if err == nil {
		if !n.Up && n.errKey != "" {
			t.logger.Info("node walk recovered", "after", n.errKey)
		}
		n.instances, n.Lines = kept, lines
		n.discovered = discovered
		n.generation++
		n.LastSuccess, n.Up, n.errKey, n.err = end, true, "", nil
		if d := report.Dropped.String(); d != "" && d != n.drops {
			// Once per new set of drops, not once per walk.
			t.logger.Warn("the node listing sent values that cannot be used; each costs only its field", "dropped", d)
		}
		n.drops = report.Dropped.String()
		return
	}
	n.Up, n.err = false, err
	if dcsapi.IsThrottled(err) {
		t.applyBackoff(err, end)
	}
	n.expire(end)
	if key := errorKey(err); key != n.errKey {
		n.errKey = key
		t.logger.Warn("node walk failed", append(errorAttrs(err), t.hintAttrs(diagnosis.StepNodes, err)...)...)
	}
}

var errNodesBackingOff = errors.New("node walk skipped while the target backs off after refused credentials or throttling")

// keep reduces a walk to what the exporter keeps, and counts the master
// changes since the walk before. Only refresh calls it.
func (n *nodesSource) keep(r *dcsapi.NodesReport) []exposition.InstanceNodes {
	if n.masters == nil {
		n.masters, n.changes = map[string]map[string][]string{}, map[string]uint64{}
	}
	kept := make([]exposition.InstanceNodes, len(r.Instances))
	seen := make(map[string]bool, len(r.Instances))
	for i, in := range r.Instances {
		k := &kept[i]
		k.InstanceID = in.InstanceID
		k.Nodes = make([]exposition.Node, len(in.Nodes))
		for j, node := range in.Nodes {
			k.Nodes[j] = exposition.Node{
				ID: cmp.Or(node.NodeID, node.LogicalNodeID), LogicalID: node.LogicalNodeID, Name: node.Name,
				GroupID: node.GroupID, GroupName: node.GroupName, Type: node.Type, Role: node.Role,
				Status: node.Status, AZ: node.AZCode, IP: node.IP, Port: node.Port, IsAccess: node.IsAccess,
			}
		}
		seen[in.InstanceID] = true
		n.changes[in.InstanceID] += n.masterChanges(in.InstanceID, k.Nodes)
		k.MasterChanges = n.changes[in.InstanceID]
		k.SingleAZ = singleAZ(k.Nodes)
	}
	// An instance gone from the walk takes its memory with it; should it
	// come back, its counter starts again from 0, which Prometheus reads as
	// a reset.
	for id := range n.changes {
		if !seen[id] {
			delete(n.changes, id)
			delete(n.masters, id)
		}
	}
	return kept
}

// shardOf names a redis-server node's shard: its group_id, else its
// group_name. A server with neither (a cloud that leaves group_id out) is
// put with the instance's other such servers, which for master/standby is
// the one shard it has.
func shardOf(n *exposition.Node) string {
	return cmp.Or(n.GroupID, n.GroupName)
}

// masterChanges compares each shard's masters with those of the last walk
// that showed the shard with a master: every master that was not one then
// is a change. A shard caught without a master (mid-failover) is compared
// on the next walk that shows one. The first walk counts nothing.
func (n *nodesSource) masterChanges(instanceID string, nodes []exposition.Node) uint64 {
	shards := map[string][]string{}
	for i := range nodes {
		node := &nodes[i]
		if node.Role == dcsapi.RoleRedisProxy || node.Type != dcsapi.TypeMaster || node.ID == "" {
			continue
		}
		shard := shardOf(node)
		shards[shard] = append(shards[shard], node.ID)
	}
	before := n.masters[instanceID]
	if before == nil {
		before = map[string][]string{}
		n.masters[instanceID] = before
	}
	var changes uint64
	for shard, masters := range shards {
		if old, ok := before[shard]; ok {
			for _, m := range masters {
				if !slices.Contains(old, m) {
					changes++
				}
			}
		}
		before[shard] = masters
	}
	return changes
}

// singleAZ tells whether every shard with two or more redis-server nodes
// has all of them in one zone. Shards of one node, and shards with a node
// whose zone is unknown, say nothing; an instance with no other shard is
// SingleAZUnknown, and gets no series.
func singleAZ(nodes []exposition.Node) exposition.SingleAZ {
	type shard struct {
		zone           string
		servers        int
		spread, noZone bool
	}
	shards := map[string]*shard{}
	for i := range nodes {
		node := &nodes[i]
		if node.Role != dcsapi.RoleRedisServer {
			continue
		}
		key := shardOf(node)
		s := shards[key]
		if s == nil {
			s = &shard{zone: node.AZ}
			shards[key] = s
		}
		s.servers++
		switch {
		case node.AZ == "":
			s.noZone = true
		case node.AZ != s.zone:
			s.spread = true
		}
	}
	judged, all := 0, true
	for _, s := range shards {
		if s.servers < 2 || s.noZone {
			continue
		}
		judged++
		all = all && !s.spread
	}
	switch {
	case judged == 0:
		return exposition.SingleAZUnknown
	case all:
		return exposition.SingleAZYes
	}
	return exposition.SingleAZNo
}

// discoveryNodes is a walk as /sd?level=node reads it.
func discoveryNodes(kept []exposition.InstanceNodes) []discovery.InstanceNodes {
	out := make([]discovery.InstanceNodes, len(kept))
	for i, in := range kept {
		out[i] = discovery.InstanceNodes{InstanceID: in.InstanceID, Nodes: make([]discovery.Node, len(in.Nodes))}
		for j, n := range in.Nodes {
			out[i].Nodes[j] = discovery.Node{ID: n.ID, Name: n.Name, GroupID: n.GroupID, GroupName: n.GroupName,
				Type: n.Type, Role: n.Role, Status: n.Status, AZ: n.AZ, IP: n.IP, Port: n.Port, IsAccess: n.IsAccess}
		}
	}
	return out
}

// discoveryTarget adds the node walk to d, served as long as the node
// series are: while the last walk succeeded, and after a failure until the
// last success is --dcs.max-staleness old (at once when that is 0). The
// caller holds the target's lock.
func (n *nodesSource) discoveryTarget(d *discovery.Target) {
	d.NodesEnabled = n.on()
	d.NodesAt, d.NodesGeneration, d.Nodes = n.LastSuccess, n.generation, n.discovered
	if !n.Up {
		// discovery reads a bound of 0 as "never stale"; here 0 means
		// nothing old is served.
		d.NodesStaleAfter = max(n.t.ex.opts.MaxStaleness, time.Nanosecond)
	}
}
