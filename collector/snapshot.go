package collector

// This file hands a target's state over to rendering: it copies the state
// into a snapshot under the target's lock, drops data too old to serve, and
// caches the rendered series until the state changes or they expire.

import (
	"time"

	"github.com/dcs-exporter/dcs_exporter/collector/exposition"
)

// outputChanged marks the target's series for rendering again, and tells
// the assembled answer that it is out of date. t.mu must be held. Every
// change to what a snapshot holds must go through here.
func (t *Target) outputChanged() {
	t.out = nil
	t.ex.outGen.Add(1)
}

// invalidate is outputChanged for callers that do not hold t.mu.
func (t *Target) invalidate() {
	t.mu.Lock()
	t.outputChanged()
	t.mu.Unlock()
}

// setProjectIDLocked records the project id a query used, which the
// target's labels carry; "" leaves the one known before. t.mu must be held.
func (t *Target) setProjectIDLocked(pid string) {
	if pid == "" || pid == t.status.projectID {
		return
	}
	t.status.projectID = pid
	t.updateLabelsLocked()
}

// updateLabelsLocked renders the target's labels again. The listing's
// per-instance lines need nothing: the labels are put in front of them as
// they are written. t.mu must be held.
func (t *Target) updateLabelsLocked() {
	pid := t.status.projectID
	if pid == "" {
		pid = t.cfg.ProjectID
	}
	labels := exposition.TargetLabels(t.cfg.Name, t.cfg.Region, pid, t.cfg.Labels, t.cfg.LabelNames())
	if labels == t.labels {
		return
	}
	t.labels = labels
	t.outputChanged()
}

// expireLocked drops, from memory, the sources' data older than the
// staleness limit. The output does not change: rendering stops serving
// such data at that time by itself, and the series rendered before are
// valid only until then. t.mu must be held.
func (t *Target) expireLocked(now time.Time) {
	for _, src := range t.sources {
		src.expire(now)
	}
}

// snapshotLocked copies what the target's series are rendered from. t.mu
// must be held.
func (t *Target) snapshotLocked() exposition.Snapshot {
	s := exposition.Snapshot{
		Labels:       t.labels,
		MaxStaleness: t.ex.opts.MaxStaleness,
		Requests:     t.requests.snapshot(),
	}
	for _, src := range t.sources {
		src.snapshot(&s)
	}
	return s
}

// rendered returns the target's series, rendering them again only when a
// query or listing changed them or stale data expired.
func (t *Target) rendered(now time.Time) *exposition.Series {
	out, _ := t.renderedUntil(now)
	return out
}

// renderedUntil is rendered, and the time the rendered series expire (zero
// when they last until the next change).
func (t *Target) renderedUntil(now time.Time) (*exposition.Series, time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.out != nil && (t.outUntil.IsZero() || now.Before(t.outUntil)) {
		return t.out, t.outUntil
	}
	t.expireLocked(now)
	snap := t.snapshotLocked()
	t.out, t.outUntil = exposition.Render(&snap, now)
	return t.out, t.outUntil
}

// renderedTimedOut renders the target as down for one scrape whose deadline
// passed before the target's query finished. Its counts then follow the
// staleness rules, as after a failed query.
func (t *Target) renderedTimedOut(now time.Time) *exposition.Series {
	t.mu.Lock()
	t.expireLocked(now)
	snap := t.snapshotLocked()
	t.mu.Unlock()
	snap.Status.Up = false
	out, _ := exposition.Render(&snap, now)
	return out
}
