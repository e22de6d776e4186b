package collector

// This file is the seam between a target and the data sources it reads:
// what every source gives the target, the exporter's loops that refresh
// the scheduled ones, and the API slots their calls share.

import (
	"context"
	"sync"
	"time"

	"github.com/dcs-exporter/dcs_exporter/collector/exposition"
)

// source is one API a target reads. The target calls these with t.mu held.
type source interface {
	// snapshot copies the source's part of what the target's series are
	// rendered from; nothing copied may change afterwards.
	snapshot(s *exposition.Snapshot)
	// expire drops, from memory, what is too old to serve at now.
	// Rendering stops serving it by itself; this only frees it.
	expire(now time.Time)
	// describe fills the source's part of the status page's view.
	describe(ts *TargetStatus)
}

// scheduledSource is a source refreshed on an interval of its own by one of
// the exporter's schedules, apart from the status queries.
type scheduledSource interface {
	source
	// on reports whether the target reads the source (its config key).
	on() bool
	// started reports whether a refresh has run or is running, so that
	// a new target's first one runs at once. t.mu is held.
	started() bool
	// refresh makes the source's calls and stores what it keeps. It runs
	// without t.mu; one at a time per target, a second call returns at once.
	refresh(ctx context.Context)
}

// initSources lists the target's sources, in the order their parts are
// rendered. A new source adds its field to Target and itself here.
func (t *Target) initSources() {
	t.status.attach(t)
	t.listing.t = t
	t.nodes.t = t
	t.backups.t = t
	t.stats.t = t
	t.quota.t = t
	t.sources = []source{&t.status, &t.listing, &t.nodes, &t.backups, &t.stats, &t.quota}
}

// schedule is one loop of the exporter: which source of each target it
// refreshes, and how often.
type schedule struct {
	tick func(o *Options) time.Duration // how often the loop runs a round
	// interval, when not nil, is how often a target's source is due, at
	// least one tick: a round skips the targets refreshed less than that
	// ago. When nil, every round refreshes every target.
	interval func(o *Options, t *Target) time.Duration
	of       func(t *Target) scheduledSource
	// parallel, when > 0, bounds the targets refreshed at once, so that a
	// source every target reads (the quota) does not take most API slots
	// from the status queries in each round; 0 refreshes all at once.
	parallel int
	// batched: the source's refresh marks only its target's series for
	// rendering again (seriesChanged), and the round tells the assembled
	// answer once, at its end, rather than once per target: a round over
	// a thousand targets would otherwise have cached mode assemble its
	// answer again for nearly every scrape while it lasts.
	batched bool
	kick    chan struct{}         // asks the loop to look at new targets
	last    map[*Target]time.Time // when each target's refresh last started; the loop's own
}

// newSchedules lists the exporter's schedules. A new scheduled source adds
// its own here.
func newSchedules() []*schedule {
	schedules := []*schedule{
		{tick: listingInterval, of: func(t *Target) scheduledSource { return &t.listing }},
		{tick: listingInterval, of: func(t *Target) scheduledSource { return &t.nodes }},
		{tick: backupsTick, of: func(t *Target) scheduledSource { return &t.backups }},
		{tick: quotaTick, interval: quotaInterval, of: func(t *Target) scheduledSource { return &t.quota }, parallel: quotaParallel, batched: true},
	}
	for _, s := range schedules {
		s.kick, s.last = make(chan struct{}, 1), map[*Target]time.Time{}
	}
	return schedules
}

// runSchedule refreshes the source of every target that reads it, once per
// interval, and at once for targets that are new. A round ends when every
// target's refresh has.
func (e *Exporter) runSchedule(ctx context.Context, s *schedule) {
	ticker := time.NewTicker(s.tick(&e.opts))
	defer ticker.Stop()
	e.refreshScheduled(ctx, s, false)
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
			e.refreshScheduled(ctx, s, false)
		case <-s.kick:
			e.refreshScheduled(ctx, s, true)
		}
	}
}

func (e *Exporter) refreshScheduled(ctx context.Context, s *schedule, onlyNew bool) {
	var wg sync.WaitGroup
	now := time.Now() // the ticker's clock, not the injectable one
	// Half a tick of slack, so that a round a little early, as tickers
	// are, does not put a target off by a whole tick.
	slack := s.tick(&e.opts) / 2
	targets := e.Targets()
	var slots chan struct{}
	if s.parallel > 0 {
		slots = make(chan struct{}, s.parallel)
	}
	for _, t := range targets {
		src := s.of(t)
		if !src.on() || (onlyNew && t.started(src)) {
			continue
		}
		if last, ok := s.last[t]; ok && s.interval != nil && now.Sub(last) < s.interval(&e.opts, t)-slack {
			continue
		}
		s.last[t] = now
		if slots != nil {
			select {
			case slots <- struct{}{}:
			case <-ctx.Done():
				wg.Wait()
				return
			}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if slots != nil {
				defer func() { <-slots }()
			}
			src.refresh(ctx)
		}()
	}
	wg.Wait()
	if s.batched {
		e.outGen.Add(1)
	}
	if len(s.last) > len(targets) { // forget the targets a reload dropped
		for t := range s.last {
			if e.Target(t.cfg.Name) != t {
				delete(s.last, t)
			}
		}
	}
}

// seriesChanged marks the target's series for rendering again without
// telling the assembled answer, for the refresh of a batched schedule,
// whose round does that once at its end. t.mu must be held.
func (t *Target) seriesChanged() { t.out = nil }

func (t *Target) started(src scheduledSource) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return src.started()
}

// gate holds one of the exporter's API slots for one call of a scheduled
// source. Such calls first take a slot of schedSem, which has one fewer
// than the shared limit, so that however many of them are stuck on slow
// pages, one slot is always left for status queries and scrapes do not wait
// for them. (With --dcs.max-concurrency=1 they share the one slot.)
func (e *Exporter) gate(ctx context.Context) (func(), error) {
	select {
	case e.schedSem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if !e.acquire(ctx) {
		<-e.schedSem
		return nil, ctx.Err()
	}
	return func() { e.release(); <-e.schedSem }, nil
}
