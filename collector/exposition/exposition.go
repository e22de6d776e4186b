// Package exposition renders the targets' series in the Prometheus text
// format: a target's snapshot in, its sample lines out (Render), and the
// lines of many targets joined family by family (WriteFamilies,
// AppendFamilies). It is pure: it keeps no state of a target, reads no
// clock but the time it is given, and knows nothing of HTTP. The snapshot
// is copied by the collector under the target's lock.
//
// Each data source of the collector has its part of the Snapshot, its
// families in the table of families.go and its rendering in a file of its
// own: status.go, listing.go, window.go, nodes.go, backups.go,
// statistics.go and quota.go.
package exposition

import (
	"sync"
	"time"
)

// Snapshot is everything a target's series are rendered from, copied under
// the target's lock. Nothing in it is changed after the copy: the counts
// and the listing's slices are replaced, never written to.
type Snapshot struct {
	Labels       string        // the target's labels, rendered by TargetLabels
	MaxStaleness time.Duration // how long data is served after a failure
	Status       Status
	Requests     []RequestCount
	Listed       bool // the target lists its instances
	Listing      Listing
	Nodes        Nodes
	Backups      Backups
	// StatisticsOn: the target reads the statistics API; its memory series
	// then come from there, never from the listing.
	StatisticsOn bool
	Statistics   Statistics
	QuotaOn      bool // the target reads the quota API
	Quota        Quota
}

// RequestCount is the number of a target's API calls that ended with one
// code.
type RequestCount struct {
	API, Code string
	N         uint64
}

// Render returns a target's series as of now, and the time until which they
// are valid: stale counts or a stale listing expire then, and instances
// enter or leave their maintenance windows. The zero time means until the
// snapshot changes.
func Render(s *Snapshot, now time.Time) (*Series, time.Time) {
	var validUntil time.Time
	expireAt := func(t time.Time) {
		if validUntil.IsZero() || t.Before(validUntil) {
			validUntil = t
		}
	}
	// Rendered into reused buffers, then copied to one exact-size block.
	out := getRenderScratch()
	defer putRenderScratch(out)
	for i := range out {
		out[i] = out[i][:0]
	}
	renderStatus(out, s, now, expireAt)
	for _, c := range s.Requests {
		out[FamAPIRequests] = appendSample(out[FamAPIRequests], FamAPIRequests, s.Labels, float64(c.N), labelPair{"api", c.API}, labelPair{"code", c.Code})
	}
	served := renderListing(out, s, now, expireAt)
	nodesServed := renderNodes(out, s, now, expireAt)
	renderBackups(out, s)
	statsServed := renderStatistics(out, s, now, expireAt)
	renderQuota(out, s, now, expireAt)

	series := compactRendered(out)
	series.prefix = s.Labels
	if statsServed {
		for i, f := range statisticFamilies {
			series.lines[f] = s.Statistics.Lines[i]
		}
	}
	if served {
		for i, f := range instanceFamilies {
			if s.StatisticsOn && fromStatistics(f) {
				continue // one memory series per instance, never two
			}
			series.lines[f] = s.Listing.Lines[i]
		}
		if w := s.Listing.Windows; w != nil {
			lines, until := w.at(now)
			series.lines[FamInstanceMaintenance] = lines
			expireAt(until)
		}
	}
	if nodesServed {
		for i, f := range nodeFamilies {
			series.lines[f] = s.Nodes.Lines[i]
		}
	}
	for i, f := range backupFamilies {
		series.lines[f] = s.Backups.Lines[i]
	}
	return series, validUntil
}

// renderScratch holds buffers to render into. Rendering appends line by
// line, so its buffers grow by doubling; kept for good, such buffers would
// carry up to half again as much slack as text, and every render would
// leave its smaller predecessors behind as garbage. A target keeps
// compactRendered's exact copy instead.
var renderScratch = sync.Pool{New: func() any { return new(renderBuffers) }}

// renderBuffers are the families of one target as they are rendered.
type renderBuffers [NumFamilies][]byte

// maxScratch is the largest buffer set kept for reuse: a target with a
// very long mismatch list should not pin megabytes in the pool.
const maxScratch = 1 << 20

func getRenderScratch() *renderBuffers { return renderScratch.Get().(*renderBuffers) }

func putRenderScratch(s *renderBuffers) {
	total := 0
	for _, b := range s {
		total += cap(b)
	}
	if total <= maxScratch {
		renderScratch.Put(s)
	}
}

// compactRendered copies rendered families into one block of exactly their
// size.
func compactRendered(s *renderBuffers) *Series {
	total := 0
	for _, b := range s {
		total += len(b)
	}
	block := make([]byte, 0, total)
	out := new(Series)
	for i, b := range s {
		if len(b) == 0 {
			continue
		}
		start := len(block)
		block = append(block, b...)
		out.lines[i] = block[start:len(block):len(block)] // full slice: an append can never reach the next family
	}
	return out
}
