// This file answers /sd: it picks the targets and instances a request
// selects and writes their prebuilt groups.

package discovery

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Handler serves http_sd target groups for the targets its inputs function
// returns. Mount it behind the same TLS and basic auth as /metrics.
//
// A GET may filter with query parameters, each of which may be repeated to
// allow several values (a group matches any of them) and which combine with
// AND:
//
//	target=NAME     only this configured target; an unknown name is 400
//	engine=ENGINE   only this engine, case-insensitive: redis, memcached
//	status=STATUS   only instances in this state, case-insensitive: RUNNING
//	level=instance  one group per instance (the default)
//	level=node      one group per redis-server node that can be reached
//	                directly (is_access), at its own IP and port, for
//	                redis_exporter on Redis Cluster; engine and status
//	                then filter by the node's instance, as the listing
//	                knows it (a status filter drops nodes of instances
//	                the listing does not have)
//
// Level chooses what a group is rather than filtering: an answer is of one
// level, node when any level value is node.
//
// Any other parameter is 400, so that a misspelt filter cannot widen the
// answer. If a selected target's listing has never succeeded or is stale,
// the answer is 503 with a plain-text reason naming those targets; targets
// with listing turned off are left out. At level=node the same holds of
// the node walk: a target that does not walk nodes is left out, and one
// whose walk never succeeded or is stale makes the answer 503.
//
// A client that accepts gzip (Prometheus does) gets the answer compressed,
// joined from pieces compressed once per listing; so the handler must not
// be wrapped in a compressing middleware.
type Handler struct {
	inputs func() []Target
	now    func() time.Time

	mu    sync.Mutex
	built map[string]*cached // by target name
}

type cached struct {
	key   key
	l     *listing
	nkey  nodesKey
	nodes *listing
}

// NewHandler returns a Handler that asks inputs for the current targets on
// every request. inputs must be safe to call concurrently.
func NewHandler(inputs func() []Target) *Handler {
	return &Handler{inputs: inputs, now: time.Now, built: map[string]*cached{}}
}

// SetClock makes the handler judge staleness by now instead of time.Now:
// the clock the listings' ListedAt come from, when that is not the real
// one (an exporter under test). Call it before the handler serves.
func (h *Handler) SetClock(now func() time.Time) { h.now = now }

// listings returns each target's groups, of instances and of nodes,
// building those whose listing or walk changed and forgetting targets that
// are gone. Building happens under the lock, so that concurrent requests
// after a new listing build it once.
func (h *Handler) listings(targets []Target) (instances, nodes []*listing) {
	instances, nodes = make([]*listing, len(targets)), make([]*listing, len(targets))
	h.mu.Lock()
	defer h.mu.Unlock()
	keep := make(map[string]bool, len(targets))
	for i := range targets {
		t := &targets[i]
		listed := t.Enabled && !t.ListedAt.IsZero()
		walked := t.NodesEnabled && !t.NodesAt.IsZero()
		if !listed && !walked {
			continue
		}
		keep[t.Name] = true
		c := h.built[t.Name]
		if c == nil {
			c = &cached{}
			h.built[t.Name] = c
		}
		if !listed {
			c.key, c.l = key{}, nil
		} else if c.l == nil || c.key != t.key() {
			c.key, c.l = t.key(), build(t)
		}
		if !walked {
			c.nkey, c.nodes = nodesKey{}, nil
		} else if c.nodes == nil || c.nkey != t.nodesKey() {
			c.nkey, c.nodes = t.nodesKey(), buildNodes(t)
		}
		instances[i], nodes[i] = c.l, c.nodes
	}
	// A listing of megabytes is not kept for a target that is gone or
	// whose listing and walk are off.
	for name := range h.built {
		if !keep[name] {
			delete(h.built, name)
		}
	}
	return instances, nodes
}

// Prepare builds the groups of every listing that changed, so that the
// first request after a listing does not wait for it. The exporter may call
// it after each listing; it is never required.
func (h *Handler) Prepare() {
	h.listings(h.inputs())
}

// Summaries reports, per target in the inputs' order, how many instances
// /sd offers, and how many nodes /sd?level=node offers.
func (h *Handler) Summaries() []Summary {
	targets := h.inputs()
	ls, ns := h.listings(targets)
	now := h.now()
	out := make([]Summary, len(targets))
	for i := range targets {
		out[i] = Summary{Target: targets[i].Name, State: targets[i].state(now), NodeState: targets[i].nodeState(now)}
		if ls[i] != nil {
			out[i].Offered, out[i].NoAddress = ls[i].offered, ls[i].noAddress
		}
		if ns[i] != nil {
			out[i].NodesOffered = ns[i].offered
		}
	}
	return out
}

// filter is a request's selection.
type filter struct {
	targets, engines, statuses []string
	nodes                      bool // level=node
}

// parseFilter reads the query; the error is the 400's text.
func parseFilter(q url.Values, known []Target) (filter, error) {
	var f filter
	for name, values := range q {
		switch name {
		case "target":
			for _, v := range values {
				if !slices.ContainsFunc(known, func(t Target) bool { return t.Name == v }) {
					return f, fmt.Errorf("unknown target %q", v)
				}
			}
			f.targets = values
		case "engine":
			f.engines = lowerSet(values)
		case "status":
			f.statuses = lowerSet(values)
		case "level":
			for _, v := range values {
				switch v {
				case "", "instance":
				case "node":
					f.nodes = true
				default:
					return f, fmt.Errorf("unknown level %q (level=instance and level=node are served)", v)
				}
			}
		default:
			return f, fmt.Errorf("unknown parameter %q (target, engine, status and level are known)", name)
		}
	}
	return f, nil
}

// lowerSet is values in lower case, each once: the filters compare
// without regard to case.
func lowerSet(values []string) []string {
	out := make([]string, 0, len(values))
	for _, v := range values {
		if v = strings.ToLower(v); !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

func (f filter) wantsTarget(name string) bool {
	return f.targets == nil || slices.Contains(f.targets, name)
}

func (f filter) wants(r *run) bool {
	return (f.engines == nil || anyFold(f.engines, r.engine)) && (f.statuses == nil || anyFold(f.statuses, r.status))
}

// anyFold compares under Unicode case folding; runs are few per listing,
// so this costs nothing per instance.
func anyFold(values []string, s string) bool {
	return slices.ContainsFunc(values, func(v string) bool { return strings.EqualFold(v, s) })
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	targets := h.inputs()
	f, err := parseFilter(r.URL.Query(), targets)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	now := h.now()
	var unusable []string
	for i := range targets {
		if !f.wantsTarget(targets[i].Name) {
			continue
		}
		why := targets[i].unusable(now)
		if f.nodes {
			why = targets[i].nodesUnusable(now)
		}
		if why != "" {
			unusable = append(unusable, why)
		}
	}
	if len(unusable) > 0 {
		// Prometheus keeps its last good targets on any answer but 200.
		what := "listing"
		if f.nodes {
			what = "node walk"
		}
		http.Error(w, "no up-to-date "+what+" for target "+strings.Join(unusable, ", "), http.StatusServiceUnavailable)
		return
	}
	ls, nodeLs := h.listings(targets)
	if f.nodes {
		ls = nodeLs
	}

	// The answer joins the selected runs of groups, plain or, for a client
	// that takes gzip (Prometheus does), as their gzip members.
	gz := acceptsGzip(r.Header.Get("Accept-Encoding"))
	var parts [][]byte
	for i, l := range ls {
		if l == nil || !f.wantsTarget(targets[i].Name) {
			continue
		}
		for j := range l.runs {
			run := &l.runs[j]
			if !f.wants(run) {
				continue
			}
			switch {
			case !gz:
				parts = append(parts, run.json)
			case len(parts) > 0:
				parts = append(parts, gzComma, run.gz)
			default:
				parts = append(parts, run.gz)
			}
		}
	}
	if gz {
		parts = append(append([][]byte{gzOpen}, parts...), gzClose)
	}
	if !gz {
		parts = joinJSON(parts)
	}
	size := 0
	for _, p := range parts {
		size += len(p)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Vary", "Accept-Encoding")
	if gz {
		w.Header().Set("Content-Encoding", "gzip")
	}
	w.Header().Set("Content-Length", strconv.Itoa(size))
	if r.Method == http.MethodHead {
		return
	}
	for _, p := range parts {
		if _, err := w.Write(p); err != nil {
			return // the client went away; nothing to tell it
		}
	}
}

// The brackets and the comma of an answer, as gzip members of their own.
var (
	gzOpen  = gzipMember([]byte{'['})
	gzComma = gzipMember([]byte{','})
	gzClose = gzipMember([]byte{']'})
)

// joinJSON puts runs of groups into an array: brackets around, commas
// between.
func joinJSON(runs [][]byte) [][]byte {
	out := make([][]byte, 0, 2*len(runs)+1)
	out = append(out, []byte{'['})
	for i, r := range runs {
		if i > 0 {
			out = append(out, []byte{','})
		}
		out = append(out, r)
	}
	return append(out, []byte{']'})
}

// acceptsGzip reads an Accept-Encoding header: whether it lists gzip (or
// *) without q=0 (RFC 9110, 12.5.3).
func acceptsGzip(header string) bool {
	for part := range strings.SplitSeq(header, ",") {
		coding, params, _ := strings.Cut(part, ";")
		coding = strings.ToLower(strings.TrimSpace(coding))
		if coding != "gzip" && coding != "*" {
			continue
		}
		q := strings.ReplaceAll(strings.ToLower(params), " ", "")
		if strings.HasPrefix(q, "q=0") && strings.Trim(strings.TrimPrefix(q, "q=0"), ".0") == "" {
			return false
		}
		return true
	}
	return false
}
