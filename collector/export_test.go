package collector

import (
	"context"
	"time"

	"github.com/dcs-exporter/dcs_exporter/collector/exposition"
)

// What the tests of package collector_test reach inside for.

// TakeSlot takes one of the exporter's API slots, as a call in flight does.
func (e *Exporter) TakeSlot() { e.sem <- struct{}{} }

// ReleaseSlot gives back a slot TakeSlot took.
func (e *Exporter) ReleaseSlot() { <-e.sem }

// Idle reports whether no status query of the target is in flight.
func (t *Target) Idle() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.inflight == nil
}

// ListingEnded reports whether a listing of the target has ended.
func (t *Target) ListingEnded() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.listing.Attempted
}

// ListingHeld reports whether the target holds anything of a listing in
// memory.
func (t *Target) ListingHeld() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.listing.instances != nil || t.listing.Lines[0] != nil || t.listing.Windows != nil
}

func (t *Target) Rendered(now time.Time) *exposition.Series         { return t.rendered(now) }
func (t *Target) RenderedTimedOut(now time.Time) *exposition.Series { return t.renderedTimedOut(now) }

// TickBackups is one tick of the backups schedule for one target.
func TickBackups(ctx context.Context, t *Target) { t.backups.refresh(ctx) }

// BackupsInFlight is the number of the target's backup calls in flight.
func BackupsInFlight(t *Target) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.backups.inflight
}
