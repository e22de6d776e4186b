package collector

// This file is what a scrape asks of the targets: in on-scrape mode, start
// or join each target's query and wait for it until the scrape's deadline;
// then their series as of now. Serving them over HTTP is package serving's.

import (
	"context"
	"log/slog"
	"time"

	"github.com/dcs-exporter/dcs_exporter/collector/exposition"
)

// Scrape brings the targets up to date for one scrape and returns their
// series. In cached mode it calls nothing: the background refresh keeps
// them. Otherwise it starts (or joins) every target's query and waits until
// they are done, deadline passes or ctx ends; a target that did not finish
// in time is rendered down for this scrape, and its query's answer is kept
// for the next one (see lateAnswer).
func (e *Exporter) Scrape(ctx context.Context, targets []*Target, deadline time.Time) []*exposition.Series {
	timedOut := e.collect(ctx, targets, deadline)
	now := e.now()
	outs := make([]*exposition.Series, len(targets))
	for i, t := range targets {
		if timedOut[i] {
			outs[i] = t.renderedTimedOut(now)
		} else {
			outs[i] = t.rendered(now)
		}
	}
	return outs
}

// collect waits for the targets' queries, and reports which targets did not
// finish in time.
func (e *Exporter) collect(ctx context.Context, targets []*Target, deadline time.Time) []bool {
	timedOut := make([]bool, len(targets))
	if e.Cached() {
		return timedOut
	}
	done := make([]<-chan struct{}, len(targets))
	for i, t := range targets {
		done[i] = t.update(deadline, e.opts.MinInterval)
	}
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	expired := false
	for i, d := range done {
		if expired {
			select {
			case <-d:
			default:
				timedOut[i] = true
			}
			continue
		}
		select {
		case <-d:
		case <-timer.C:
			expired = true
			select {
			case <-d:
			default:
				timedOut[i] = true
			}
		case <-ctx.Done():
			expired = true
			timedOut[i] = true
		}
	}
	for i, late := range timedOut {
		if late {
			targets[i].abandon()
		}
	}
	return timedOut
}

// Cached reports whether the exporter refreshes its targets in the
// background and serves scrapes from what it has (--dcs.refresh-interval).
func (e *Exporter) Cached() bool { return e.opts.RefreshInterval > 0 }

// Now is the exporter's clock.
func (e *Exporter) Now() time.Time { return e.now() }

// Logger is the exporter's logger.
func (e *Exporter) Logger() *slog.Logger { return e.opts.Logger }

// OutputGeneration grows with every change to what the targets' series
// show: a query or listing ended, or a reload. An answer assembled at one
// generation is up to date until it grows, or until the time RenderedUntil
// gave.
func (e *Exporter) OutputGeneration() uint64 { return e.outGen.Load() }

// Close stops the targets' queries and listings in flight. Run does this
// when it ends; tests and other callers that never Run call it.
func (e *Exporter) Close() {
	for _, t := range e.Targets() {
		t.cancel()
	}
}

// RenderedUntil returns the target's series as of now, rendering them
// again only when a query or listing changed them or stale data expired,
// and the time they expire (zero when they last until the next change).
func (t *Target) RenderedUntil(now time.Time) (*exposition.Series, time.Time) {
	return t.renderedUntil(now)
}

// Refresh queries the target now, or joins the query in flight, and waits
// until it is done or ctx ends; for tests and the demo. In cached mode the
// refresh loop does this every interval.
func (t *Target) Refresh(ctx context.Context) {
	select {
	case <-t.update(time.Now().Add(t.cfg.Timeout), 0):
	case <-ctx.Done():
	}
}
