package collector

// This file is the backups source: the backup records of every instance
// that can be backed up (backups: true), one call per instance every
// backups_interval. The calls are paced one by one, evenly over the
// interval, never in a burst, with at most maxBackupCallsInFlight of a
// target at a time; a 429 pauses them through the target's backoff.
//
// Which instances can be backed up comes from the listing (instances:
// true): the records API is per instance, and only the listing knows the
// instances, their engines and their spec codes.

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/dcs-exporter/dcs_exporter/collector/exposition"
	"github.com/dcs-exporter/dcs_exporter/dcsapi"
	"github.com/dcs-exporter/dcs_exporter/diagnosis"
)

const (
	// maxBackupCallsInFlight bounds a target's backup calls at once.
	maxBackupCallsInFlight = 4
	// backupsWindow is how far back records are read: automatic backups
	// are kept up to seven days (docs/fleet-apis.md, backup records,
	// retention), so an older success says nothing that a newer one would
	// not.
	backupsWindow = 7 * 24 * time.Hour
	// DefaultBackupsTick is how often the pacer looks for calls that are
	// due: well under the gap between two calls of a large fleet, so that
	// calls leave when they are due rather than in clumps.
	DefaultBackupsTick = 100 * time.Millisecond
)

// BackupEligible reports whether an instance can be backed up, by what the
// listing says of it: Redis, but not single-node (told by its spec code,
// e.g. redis.single.xu1.large.2 or dcs.single_node), and not being or
// failed to be created. The sources are in docs/fleet-apis.md, "Which
// instances can be backed up": "Only master/standby, Proxy Cluster, and
// Redis Cluster instances can be backed up and restored, while single-node
// instances cannot" (OTC user guide, Backing Up and Restoring DCS
// Instances, Overview); no source lists Memcached. A single-replica Redis
// Cluster is read: the sources disagree on it, and a read of an instance
// without backups costs one call and finds no records, which is no alert.
func BackupEligible(engine, specCode, status string) bool {
	spec := strings.ToLower(specCode)
	return strings.EqualFold(engine, "redis") && !strings.Contains(spec, "single") &&
		status != "CREATING" && status != "CREATEFAILED"
}

// backupsSource is a target's view of its instances' backups. Its fields
// are guarded by the target's mu.
type backupsSource struct {
	t *Target
	exposition.Backups
	results map[string]exposition.InstanceBackups // by instance id
	readAt  map[string]time.Time                  // when each result was read

	// The pacer: the instances of the round under way, the next one's
	// index, when it is due, and how far apart calls are.
	order    []string
	next     int
	nextAt   time.Time
	step     time.Duration
	inflight int

	calls  []time.Time // when the calls of the last hour started, oldest first
	err    error       // of the last call when it failed
	errKey string
}

// BackupsStatus is the state of a target's backup reads, for the status
// page.
type BackupsStatus struct {
	Attempted bool
	Up        bool
	// Active is false when backups: true has nothing to work from: the
	// target does not list its instances.
	Active        bool
	Eligible      int // instances of the round under way
	Instances     int // with a result
	Failed        int // whose newest finished backup failed
	CallsLastHour int
	InFlight      int
	LastError     error
}

// backupsInterval is a target's backups_interval, or the exporter's
// override (for tests and the demo).
func (b *backupsSource) interval() time.Duration {
	if d := b.t.ex.opts.BackupsInterval; d > 0 {
		return d
	}
	return b.t.cfg.BackupsInterval
}

func backupsTick(o *Options) time.Duration { return o.BackupsTick }

func (b *backupsSource) on() bool      { return b.t.cfg.Backups && b.t.cfg.Instances }
func (b *backupsSource) started() bool { return b.Attempted || b.inflight > 0 }

func (b *backupsSource) snapshot(s *exposition.Snapshot) {
	s.Backups = b.Backups
	s.Backups.On = b.on()
}

// expire drops the result of an instance not read for two intervals: it
// left the listing, or its reads keep failing. An instance that left the
// listing is dropped at the start of the next round too.
func (b *backupsSource) expire(now time.Time) {
	limit := 2*b.interval() + b.t.ex.opts.MaxStaleness
	changed := false
	for id, at := range b.readAt {
		if now.Sub(at) > limit {
			delete(b.readAt, id)
			delete(b.results, id)
			changed = true
		}
	}
	if changed {
		b.renderLocked()
	}
}

func (b *backupsSource) describe(ts *TargetStatus) {
	if !b.t.cfg.Backups {
		return
	}
	b.pruneCalls(b.t.ex.now())
	st := &BackupsStatus{Attempted: b.Attempted, Up: b.Up, Active: b.on(), Eligible: len(b.order),
		Instances: len(b.results), CallsLastHour: len(b.calls), InFlight: b.inflight, LastError: b.err}
	for _, r := range b.results {
		if r.LastFailure.After(r.LastSuccess) {
			st.Failed++
		}
	}
	ts.Backups = st
}

// pruneCalls forgets the calls that started more than an hour before now.
// t.mu is held.
func (b *backupsSource) pruneCalls(now time.Time) {
	i := 0
	for i < len(b.calls) && now.Sub(b.calls[i]) >= time.Hour {
		i++
	}
	b.calls = b.calls[i:]
}

// renderLocked renders the per-instance lines again. t.mu is held.
func (b *backupsSource) renderLocked() {
	list := make([]exposition.InstanceBackups, 0, len(b.results))
	for _, r := range b.results {
		list = append(list, r)
	}
	b.Lines = exposition.RenderBackups(list)
	b.t.outputChanged()
}

// refresh starts the calls that are due, without waiting for them: the
// schedule calls it every tick, and a call takes as long as it takes.
func (b *backupsSource) refresh(ctx context.Context) {
	t := b.t
	if !b.on() {
		return
	}
	now := t.ex.now()
	t.mu.Lock()
	var due []string
	if !now.Before(t.backoff.until) {
		due = b.dueLocked(now)
	}
	b.inflight += len(due)
	t.mu.Unlock()
	for _, id := range due {
		go b.read(id)
	}
}

// dueLocked takes the instances whose calls are due at now, at most as
// many as free in-flight slots. t.mu is held.
func (b *backupsSource) dueLocked(now time.Time) []string {
	if b.next >= len(b.order) && !now.Before(b.nextAt) {
		b.startRoundLocked(now)
	}
	if len(b.order) == 0 {
		return nil
	}
	// The calls that fell due since the last tick go now; a pacer that
	// fell further behind (slow calls, a backoff, a busy machine) does not
	// catch up in a burst: it keeps at most one tick's worth.
	if tick := b.t.ex.opts.BackupsTick; now.Sub(b.nextAt) > tick+b.step {
		b.nextAt = now.Add(-tick)
	}
	var due []string
	for b.next < len(b.order) && !now.Before(b.nextAt) && b.inflight+len(due) < maxBackupCallsInFlight {
		due = append(due, b.order[b.next])
		b.next++
		b.nextAt = b.nextAt.Add(b.step)
	}
	return due
}

// startRoundLocked begins a round over the instances the listing says can
// be backed up, in a stable order, spread over one interval. Results of
// instances no longer among them are dropped. t.mu is held.
func (b *backupsSource) startRoundLocked(now time.Time) {
	var order []string
	for i := range b.t.listing.instances {
		in := &b.t.listing.instances[i]
		if BackupEligible(in.Engine, in.SpecCode, in.Status) {
			order = append(order, in.ID)
		}
	}
	slices.Sort(order)
	order = slices.Compact(order)
	b.order, b.next = order, 0
	if len(order) == 0 {
		b.nextAt = now.Add(b.t.ex.opts.BackupsTick) // look again on the next tick
		return
	}
	b.step = b.interval() / time.Duration(len(order))
	if b.nextAt.IsZero() || b.nextAt.Before(now) {
		b.nextAt = now
	}
	changed := false
	for id := range b.results {
		if _, ok := slices.BinarySearch(order, id); !ok {
			delete(b.results, id)
			delete(b.readAt, id)
			changed = true
		}
	}
	if changed {
		b.renderLocked()
	}
}

// read makes one instance's call and records what it found.
func (b *backupsSource) read(id string) {
	t := b.t
	ctx, cancel := context.WithTimeout(t.ctx, t.cfg.Timeout)
	defer cancel()
	start := t.ex.now()
	t.mu.Lock()
	b.pruneCalls(start) // here too, so that the list stays an hour long whether or not the status page is read
	b.calls = append(b.calls, start)
	t.mu.Unlock()
	report, err := t.client.Backups(ctx, id, dcsapi.BackupsOptions{
		ListOptions: dcsapi.ListOptions{Gate: t.ex.gate},
		Begin:       start.Add(-backupsWindow),
	})
	end := t.ex.now()
	// A freed slot takes the next call that is due at once, rather than at
	// the next tick, so that a slow API does not cost a tick per call.
	for _, next := range b.recordResult(id, report, err, start, end) {
		go b.read(next)
	}
}

// recordResult stores what a call found and returns the calls that are due
// now, taken from the pacer.
func (b *backupsSource) recordResult(id string, report *dcsapi.BackupsReport, err error, start, end time.Time) (next []string) {
	t := b.t
	t.mu.Lock()
	defer t.mu.Unlock()
	b.inflight--
	defer func() {
		if t.ctx.Err() == nil && !end.Before(t.backoff.until) {
			next = b.dueLocked(end)
			b.inflight += len(next)
		}
	}()
	if t.ctx.Err() != nil {
		return // dropped by a reload
	}
	if err != nil && errors.Is(err, context.Canceled) {
		return
	}
	if err == nil || instanceGone(err) {
		if !b.Attempted || !b.Up {
			t.outputChanged()
			if b.errKey != "" {
				t.logger.Info("backup records recovered", "after", b.errKey)
			}
		}
		b.Attempted, b.Up, b.err, b.errKey = true, true, nil, ""
		if err != nil {
			// The instance was deleted since the listing: nothing to keep.
			delete(b.results, id)
			delete(b.readAt, id)
			b.renderLocked()
			return
		}
		if b.readAt == nil {
			b.readAt, b.results = map[string]time.Time{}, map[string]exposition.InstanceBackups{}
		}
		b.readAt[id] = end
		r := summarizeBackups(id, report.Records)
		if old, ok := b.results[id]; !ok || old != r {
			b.results[id] = r
			b.renderLocked()
		}
		if len(report.Dropped) > 0 {
			t.logger.Debug("backup records with values that cannot be used; each costs only its field", "instance_id", id, "dropped", report.Dropped.String())
		}
		return
	}
	if !b.Attempted || b.Up {
		t.outputChanged()
	}
	b.Attempted, b.Up, b.err = true, false, err
	switch {
	case dcsapi.IsThrottled(err):
		// The target's backoff, which Retry-After lengthens, holds every
		// call of the target, this pacer's included.
		t.applyBackoff(err, end)
	case wholeAPIFailed(err):
		// Refused, or a cloud without the API: the other instances would
		// get the same answer. The rest of the round is skipped, so that
		// such a target costs one call per interval.
		b.next = len(b.order)
		b.nextAt = start.Add(b.interval())
	}
	if key := errorKey(err); key != b.errKey {
		b.errKey = key
		t.logger.Warn("reading backup records failed", append(append(errorAttrs(err), "instance_id", id), t.hintAttrs(diagnosis.StepBackups, err)...)...)
	}
	return next
}

// instanceGone reports whether err says the instance does not exist
// (111404022, "This DCS instance does not exist", api-ref "Error Codes"):
// it was deleted after the listing, which is no failure of the API.
func instanceGone(err error) bool {
	var apiErr *dcsapi.APIError
	return errors.As(err, &apiErr) && apiErr.StatusCode == 404 && apiErr.Code == "111404022"
}

// wholeAPIFailed reports whether err would be the answer for every
// instance: credentials or permission refused, or the path missing.
func wholeAPIFailed(err error) bool {
	return dcsapi.IsAuthFailure(err) || dcsapi.IsNotFound(err)
}

// summarizeBackups reduces an instance's records to its newest success,
// its newest failure and whether one is under way. A record's time is its
// completion (updated_at), else its start, else its creation.
func summarizeBackups(id string, records []dcsapi.BackupRecord) exposition.InstanceBackups {
	r := exposition.InstanceBackups{InstanceID: id}
	for _, rec := range records {
		at := rec.UpdatedAt
		if at.IsZero() {
			at = rec.ExecutionAt
		}
		if at.IsZero() {
			at = rec.CreatedAt
		}
		switch rec.Status {
		case dcsapi.BackupWaiting, dcsapi.BackupRunning:
			r.InProgress = true
		case dcsapi.BackupSucceeded:
			if at.After(r.LastSuccess) {
				r.LastSuccess = at
			}
		case dcsapi.BackupFailed:
			if at.After(r.LastFailure) || at.Equal(r.LastFailure) && r.FailureCode == "" {
				r.LastFailure, r.FailureCode = at, rec.ErrorCode
			}
		}
	}
	return r
}

// ReadBackups reads the records of every instance that can be backed up,
// one after the other, without pacing, and returns when all are read; for
// tests and the demo. The paced round goes on from where it was.
func (t *Target) ReadBackups() {
	b := &t.backups
	if !b.on() {
		return
	}
	t.mu.Lock()
	b.startRoundLocked(t.ex.now())
	order := b.order
	b.next = len(order)
	b.nextAt = t.ex.now().Add(b.interval()) // the next round, as a paced one would
	b.inflight += len(order)
	t.mu.Unlock()
	for _, id := range order {
		b.read(id)
	}
}
