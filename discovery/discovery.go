// Package discovery serves the DCS instances the exporter has listed as
// Prometheus HTTP service discovery (http_sd_configs): one target group per
// instance that has an address, so that one redis_exporter or
// memcached_exporter in multi-target mode can scrape the whole fleet.
//
// The package does not list anything itself. The exporter hands it, per
// target, the last successful listing and when it was made (Target); the
// groups of a listing are encoded once, and a request only filters and
// copies them. A target whose listing never succeeded or has gone stale
// makes a request that selects it fail with 503, so that Prometheus keeps
// the targets it has rather than dropping the instances it can no longer
// see. With level=node the same is done with each target's last node walk:
// one group per redis-server node that can be reached directly, so that
// each node of a Redis Cluster is scraped.
package discovery

import (
	"fmt"
	"time"

	"github.com/dcs-exporter/dcs_exporter/dcsapi"
)

// Target is what discovery needs of one configured target: who it is and
// its last successful listing.
type Target struct {
	Name      string // the target's name in the configuration
	Region    string
	ProjectID string

	// Enabled is false when the target's listing is turned off; such a
	// target is left out of every answer.
	Enabled bool

	// ListedAt is when Instances was listed; zero when no listing has
	// succeeded yet. StaleAfter is how old a listing may grow before it no
	// longer counts (0: it never goes stale).
	ListedAt   time.Time
	StaleAfter time.Duration

	// Generation tells listings apart when ListedAt might not: the groups
	// are built once for each (Region, ProjectID, ListedAt, Generation)
	// and reused while those stay the same. A counter of successful
	// listings fits; 0 is fine when every listing has its own ListedAt.
	Generation uint64

	// Instances is the listing. Discovery reads it, never changes it, and
	// keeps it only until a listing with another key replaces it.
	Instances []dcsapi.Instance

	// The node walk, for /sd?level=node, judged like the listing:
	// NodesEnabled is false when the target does not walk its nodes (such
	// a target is left out at that level), NodesAt is when Nodes was
	// walked (zero: never), NodesStaleAfter how old it may grow (0:
	// never stale), NodesGeneration tells walks apart as Generation does.
	// Node groups are built once per walk and listing.
	NodesEnabled    bool
	NodesAt         time.Time
	NodesStaleAfter time.Duration
	NodesGeneration uint64
	Nodes           []InstanceNodes
}

// State is where a target's listing stands for discovery.
type State int

const (
	Off         State = iota // listing turned off: left out
	NeverListed              // no listing has succeeded: /sd answers 503
	Fresh                    // served
	Stale                    // older than its bound: /sd answers 503
)

func (s State) String() string {
	switch s {
	case Off:
		return "off"
	case NeverListed:
		return "never listed"
	case Fresh:
		return "fresh"
	case Stale:
		return "stale"
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// state is t's State at now.
func (t *Target) state(now time.Time) State {
	return freshness(t.Enabled, t.ListedAt, t.StaleAfter, now)
}

// freshness is the one rule for a listing or a node walk: off, never
// succeeded, succeeded at `at` and stale staleAfter later (never when 0),
// or fresh.
func freshness(on bool, at time.Time, staleAfter time.Duration, now time.Time) State {
	switch {
	case !on:
		return Off
	case at.IsZero():
		return NeverListed
	case staleAfter > 0 && now.Sub(at) > staleAfter:
		return Stale
	}
	return Fresh
}

// unusable says why t cannot be served, for a 503's text.
func (t *Target) unusable(now time.Time) string {
	switch t.state(now) {
	case NeverListed:
		return fmt.Sprintf("%s (no listing has succeeded yet)", t.Name)
	case Stale:
		return fmt.Sprintf("%s (listed %s ago, stale after %s)",
			t.Name, now.Sub(t.ListedAt).Truncate(time.Second), t.StaleAfter)
	}
	return ""
}

// key identifies the listing groups were built from.
type key struct {
	region, projectID string
	listedAt          time.Time
	generation        uint64
}

func (t *Target) key() key {
	return key{t.Region, t.ProjectID, t.ListedAt, t.Generation}
}

// Summary is one target as discovery offers it, for the status page.
type Summary struct {
	Target string
	State  State
	// Offered is the number of target groups, one per instance with an
	// address, that an unfiltered /sd holds for the target; it is served
	// only while State is Fresh. NoAddress counts the instances left out
	// because they have no IP address or port.
	Offered   int
	NoAddress int
	// NodeState and NodesOffered are the same for /sd?level=node: the
	// reachable redis-server nodes of the last walk. NodeState is Off when
	// the target does not walk its nodes.
	NodeState    State
	NodesOffered int
}
