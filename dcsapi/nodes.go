// This file walks the logical nodes of every instance of a project: each
// node's role, state, zone and shard, page by page.

package dcsapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// APINodes names the node listing call in errors and request counts.
const APINodes = "instance_nodes"

// NodesPageSize is the page the walk asks for: the SDK's largest
// (model_batch_show_nodes_information_request.go, v0.1.207: "current
// maximum 100, default 10"; the OTC page allows 1000, the smaller bound is
// the safe one).
const NodesPageSize = 100

// The documented node states, roles and types (SDK model_nodes_info_resp.go).
const (
	NodeCreating    = "Creating"
	NodeActive      = "Active"
	NodeInactive    = "Inactive" // the node has failed
	NodeDeleting    = "Deleting"
	NodeAddSharding = "AddSharding"

	RoleRedisServer = "redis-server"
	RoleRedisProxy  = "redis-proxy"

	TypeMaster = "master"
	TypeSlave  = "slave"
	TypeProxy  = "proxy"
)

var (
	nodeStates = []string{NodeActive, NodeAddSharding, NodeCreating, NodeDeleting, NodeInactive}
	nodeRoles  = []string{RoleRedisProxy, RoleRedisServer}
	nodeTypes  = []string{TypeMaster, TypeProxy, TypeSlave}
)

// DocumentedNodeStates returns the node states the API documents, sorted.
// The caller must not modify the slice.
func DocumentedNodeStates() []string { return nodeStates }

// Node is one logical node of an instance. A field the API left out or sent
// in an unusable form is empty (0 for the port and weight): a status, role
// or type outside the documented values is "", as is a group_id missing
// from a redis-server node, and each such value is counted in the walk's
// Dropped.
type Node struct {
	LogicalNodeID  string
	Name           string
	NodeID         string
	Status         string // one of the Node* states, or ""
	AZCode         string
	Role           string // RoleRedisServer, RoleRedisProxy or ""
	Type           string // TypeMaster, TypeSlave, TypeProxy or ""
	IP             string
	Port           int    // from the string node_port; 0 when unusable
	IsAccess       bool   // whether the node's IP can be reached directly
	GroupID        string // the shard; empty for proxies
	GroupName      string
	ReplicationID  string
	PriorityWeight int64
}

// InstanceNodes is one instance's entry in the node listing.
type InstanceNodes struct {
	InstanceID string
	NodeCount  int64 // as announced; -1 when unusable
	Nodes      []Node
}

// NodesReport is the result of one walk over the node listing.
type NodesReport struct {
	// Instances in the API's order, each instance once.
	Instances []InstanceNodes
	// Count is the number of instances the last page announced.
	Count int
	// Pages is the number of pages read.
	Pages int
	// Dropped counts the values left out, by JSON field name; an entry
	// without instance_id, or a node that is not an object, is skipped
	// and counted under "instance_id" or "nodes".
	Dropped FieldDrops
	// Repeated counts instances that came on more than one page, as when
	// the listing moves while it is walked; the later entry is kept.
	Repeated int
}

// NodesOptions bound a walk of the node listing.
type NodesOptions struct {
	ListOptions // a timeout and a gate per page
	// Timeout bounds the whole walk; 0 is DefaultNodesWalkTimeout.
	Timeout time.Duration
	// MaxPages bounds the pages read; 0 is DefaultNodesMaxPages. A walk that
	// would need more fails rather than return part of the project.
	MaxPages int
}

// Bounds of a walk, so that a server that keeps announcing more cannot keep
// the exporter walking.
const (
	DefaultNodesWalkTimeout = 2 * time.Minute
	DefaultNodesMaxPages    = 500 // 50,000 instances
)

// Nodes walks GET /v2/{project_id}/instances-logical-nodes (the SDK's
// BatchShowNodesInformation) with limit=NodesPageSize. The API has no v1.0
// path; a v1 client asks the v2 path too, and a cloud without it answers
// 404, which IsNotFound tells.
//
// offset counts instances, not nodes (OTC api-ref "Querying Instance Nodes
// in Batches": offset is "the position where the query starts", count "the
// total number of instances in the query result"), so the offset advances
// by the instances received. The walk ends at a page shorter than the
// limit, or once the instances received reach count, or at a 400 answer to
// a later page after full ones (the documented 400 is DCS.4800 "Invalid
// offset"), as the instance listing does. A failed page fails the walk: a
// partial walk would make nodes vanish.
//
// The API covers Redis 4.0 and later instances that are not being created
// (same page); other instances are not in the answer.
func (c *Client) Nodes(ctx context.Context, o NodesOptions) (*NodesReport, error) {
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = DefaultNodesWalkTimeout
	}
	maxPages := o.MaxPages
	if maxPages <= 0 {
		maxPages = DefaultNodesMaxPages
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	pid, known := c.CachedProjectID()
	if !known {
		err := o.run(ctx, func(ctx context.Context) (err error) {
			pid, err = c.ProjectID(ctx)
			return err
		})
		if err != nil {
			return nil, err
		}
	}
	path := "/v2/" + pid + "/instances-logical-nodes"
	r := &NodesReport{Dropped: FieldDrops{}}
	seen := map[string]int{}
	received := 0
	for offset := 0; ; {
		if r.Pages >= maxPages {
			return nil, fmt.Errorf("%s: more than %d pages (%d instances so far, %d announced)", APINodes, maxPages, received, r.Count)
		}
		query := "limit=" + strconv.Itoa(NodesPageSize) + "&offset=" + strconv.Itoa(offset)
		var page nodesPage
		err := o.run(ctx, func(ctx context.Context) error {
			return c.call(ctx, APINodes, c.endpoint, path, query, pid, func(body []byte) error {
				page = nodesPage{}
				return decodeNodesPage(body, &page)
			})
		})
		var apiErr *APIError
		if offset > 0 && errors.As(err, &apiErr) && apiErr.StatusCode == http.StatusBadRequest {
			break // past the end, which moved while we walked
		}
		if err != nil {
			return nil, err
		}
		r.Pages++
		r.Count = page.count
		for field, n := range page.dropped {
			r.Dropped[field] += n
		}
		for _, in := range page.instances {
			if i, ok := seen[in.InstanceID]; ok {
				r.Instances[i] = in
				r.Repeated++
				continue
			}
			seen[in.InstanceID] = len(r.Instances)
			r.Instances = append(r.Instances, in)
		}
		n := page.entries // entries skipped for a missing id still took their place
		received += n
		offset += n
		if n < NodesPageSize || received >= page.count {
			break
		}
	}
	return r, nil
}

type nodesPage struct {
	count     int
	entries   int
	instances []InstanceNodes
	dropped   FieldDrops
}

// DecodeNodes parses one page of the node listing: its instances, the
// count it announces and the values it had to leave out.
func DecodeNodes(body []byte) (instances []InstanceNodes, count int, dropped FieldDrops, err error) {
	var p nodesPage
	if err := decodeNodesPage(body, &p); err != nil {
		return nil, 0, nil, err
	}
	return p.instances, p.count, p.dropped, nil
}

type wireInstanceNodes struct {
	InstanceID textField       `json:"instance_id"`
	NodeCount  countValue      `json:"node_count"`
	Nodes      json.RawMessage `json:"nodes"`
}

type wireNode struct {
	LogicalNodeID  textField  `json:"logical_node_id"`
	Name           textField  `json:"name"`
	NodeID         textField  `json:"node_id"`
	Status         textField  `json:"status"`
	AZCode         textField  `json:"az_code"`
	NodeRole       textField  `json:"node_role"`
	NodeType       textField  `json:"node_type"`
	NodeIP         textField  `json:"node_ip"`
	NodePort       portField  `json:"node_port"`
	IsAccess       flagField  `json:"is_access"`
	GroupID        textField  `json:"group_id"`
	GroupName      textField  `json:"group_name"`
	ReplicationID  textField  `json:"replication_id"`
	PriorityWeight countValue `json:"priority_weight"`
}

// portField is node_port: documented as a string ("6379"); a bare number is
// read too, since it cannot mean anything else. A port must be 1 to 65535.
type portField struct {
	v  int
	st fieldState
}

func (f *portField) UnmarshalJSON(b []byte) error {
	*f = portField{}
	if string(b) == "null" {
		return nil
	}
	f.st = fieldBad
	if len(b) >= 2 && b[0] == '"' && b[len(b)-1] == '"' {
		b = b[1 : len(b)-1]
	}
	if v, ok := parseNonNegativeInt(b); ok && v >= 1 && v <= 65535 {
		f.v, f.st = int(v), fieldOK
	}
	return nil
}

func decodeNodesPage(body []byte, p *nodesPage) error {
	if firstByte(body) != '{' {
		return shapeError(APINodes, body)
	}
	var doc struct {
		Count     *json.RawMessage     `json:"count"`
		Instances *[]wireInstanceNodes `json:"instances"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return decodeFailure(APINodes, err)
	}
	if doc.Instances == nil {
		return &DecodeError{API: APINodes, Field: "instances", Err: errMissing}
	}
	if doc.Count == nil {
		return &DecodeError{API: APINodes, Field: "count", Err: errMissing}
	}
	count, present, err := parseCount(*doc.Count)
	if err != nil || !present || count > 1<<31 {
		if err == nil {
			err = errors.New("missing or out of range")
		}
		return &DecodeError{API: APINodes, Field: "count", Err: err}
	}
	p.count = int(count)
	p.dropped = FieldDrops{}
	p.entries = len(*doc.Instances)
	p.instances = make([]InstanceNodes, 0, p.entries)
	for _, w := range *doc.Instances {
		if w.InstanceID.st != fieldOK || w.InstanceID.v == "" {
			p.dropped.add("instance_id")
			continue
		}
		in := InstanceNodes{InstanceID: w.InstanceID.v, NodeCount: -1}
		if w.NodeCount.st == fieldOK {
			in.NodeCount = w.NodeCount.v
		}
		w.NodeCount.st.note(p.dropped, "node_count")
		in.Nodes = decodeNodeList(w.Nodes, p.dropped)
		p.instances = append(p.instances, in)
	}
	return nil
}

// decodeNodeList reads an instance's nodes. A list that is not one costs
// that instance its nodes, and a node that is not an object costs itself.
func decodeNodeList(raw json.RawMessage, dropped FieldDrops) []Node {
	switch firstByte(raw) {
	case 0, 'n': // absent or null: an instance without nodes
		return nil
	case '[':
	default:
		dropped.add("nodes")
		return nil
	}
	var items []json.RawMessage
	if json.Unmarshal(raw, &items) != nil {
		dropped.add("nodes")
		return nil
	}
	nodes := make([]Node, 0, len(items))
	for _, item := range items {
		var w wireNode
		if firstByte(item) != '{' || json.Unmarshal(item, &w) != nil {
			dropped.add("nodes")
			continue
		}
		nodes = append(nodes, w.node(dropped))
	}
	return nodes
}

func (w *wireNode) node(dropped FieldDrops) Node {
	n := Node{
		LogicalNodeID: w.LogicalNodeID.v, Name: w.Name.v, NodeID: w.NodeID.v, AZCode: w.AZCode.v,
		IP: w.NodeIP.v, IsAccess: w.IsAccess.v, GroupID: w.GroupID.v, GroupName: w.GroupName.v,
		ReplicationID: w.ReplicationID.v, Port: w.NodePort.v, PriorityWeight: w.PriorityWeight.v,
	}
	for _, f := range [...]struct {
		st   fieldState
		name string
	}{
		{w.LogicalNodeID.st, "logical_node_id"}, {w.Name.st, "name"}, {w.NodeID.st, "node_id"},
		{w.AZCode.st, "az_code"}, {w.NodeIP.st, "node_ip"}, {w.NodePort.st, "node_port"},
		{w.IsAccess.st, "is_access"}, {w.GroupID.st, "group_id"}, {w.GroupName.st, "group_name"},
		{w.ReplicationID.st, "replication_id"}, {w.PriorityWeight.st, "priority_weight"},
	} {
		f.st.note(dropped, f.name)
	}
	n.Status = documented(w.Status, nodeStates, "status", dropped)
	n.Role = documented(w.NodeRole, nodeRoles, "node_role", dropped)
	n.Type = documented(w.NodeType, nodeTypes, "node_type", dropped)
	// A redis-server node belongs to a shard; without group_id it cannot be
	// placed in one (proxies have none to give).
	if n.Role == RoleRedisServer && n.GroupID == "" && w.GroupID.st != fieldBad {
		dropped.add("group_id")
	}
	return n
}

// documented returns the documented spelling of f's value, matched without
// regard to case, or "" (counted) for a value outside the list or of
// another type. An absent value is "" and not counted.
func documented(f textField, values []string, name string, dropped FieldDrops) string {
	if f.st == fieldAbsent {
		return ""
	}
	if f.st == fieldOK {
		for _, v := range values {
			if strings.EqualFold(f.v, v) {
				return v
			}
		}
	}
	dropped.add(name)
	return ""
}
