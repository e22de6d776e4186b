package exposition

// This file renders the status source's part: whether the target's last
// query succeeded, and the status API's counts.

import (
	"slices"
	"sort"
	"time"
)

// Status is the status source's part of a snapshot.
type Status struct {
	Counts      *Counts // from the last success; nil when none
	Documented  Documented
	LastSuccess time.Time
	Attempted   bool // a query has finished
	Up          bool
	Duration    time.Duration // of the last query
}

// Counts are the status API's counts of instances per state, over all
// engines and per engine. They are shared and never modified.
type Counts struct {
	Total   map[string]int64
	Engines map[string]map[string]int64
}

// Documented are the states and engines the target's API version
// documents, sorted: they are always written, 0 when the API leaves them
// out.
type Documented struct {
	States       []string // over all engines
	Engines      []string
	EngineStates []string // of each documented engine
}

// renderStatus writes dcs_up and the query's time, and the counts while
// they are fresh: from a success, or from a failure within the staleness
// limit, which expireAt learns.
func renderStatus(out *renderBuffers, s *Snapshot, now time.Time, expireAt func(time.Time)) {
	st, prefix := &s.Status, s.Labels
	out[FamUp] = appendSample(out[FamUp], FamUp, prefix, boolValue(st.Up))
	if st.Attempted {
		out[FamScrapeDuration] = appendSample(out[FamScrapeDuration], FamScrapeDuration, prefix, st.Duration.Seconds())
	}
	if !st.LastSuccess.IsZero() {
		out[FamLastSuccess] = appendSample(out[FamLastSuccess], FamLastSuccess, prefix, float64(st.LastSuccess.UnixMilli())/1000)
	}
	if st.Counts == nil {
		return
	}
	fresh := st.Up
	if !fresh && s.MaxStaleness > 0 {
		if expiry := st.LastSuccess.Add(s.MaxStaleness); now.Before(expiry) {
			fresh = true
			expireAt(expiry)
		}
	}
	if fresh {
		renderCounts(out, prefix, &st.Documented, st.Counts)
	}
}

// renderCounts writes the status API's counts. The states and engines the API
// version documents are always written, 0 when absent, so that alerts on
// them do not go blind when the API leaves a zero out.
func renderCounts(out *renderBuffers, prefix string, d *Documented, r *Counts) {
	for _, state := range unionSorted(d.States, r.Total) {
		out[FamInstancesAllEngines] = appendSample(out[FamInstancesAllEngines], FamInstancesAllEngines, prefix, float64(r.Total[state]), labelPair{"state", state})
	}
	for _, engine := range unionSorted(d.Engines, r.Engines) {
		counts := r.Engines[engine]
		var states []string
		if slices.Contains(d.Engines, engine) {
			states = unionSorted(d.EngineStates, counts)
		} else {
			states = unionSorted(nil, counts)
		}
		for _, state := range states {
			out[FamInstances] = appendSample(out[FamInstances], FamInstances, prefix, float64(counts[state]), labelPair{"engine", engine}, labelPair{"state", state})
		}
	}
}

// unionSorted returns the sorted union of list and m's keys.
func unionSorted[V any](list []string, m map[string]V) []string {
	out := make([]string, 0, len(list)+len(m))
	out = append(out, list...)
	for k := range m {
		if !slices.Contains(list, k) {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}
