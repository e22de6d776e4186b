package collector

// This file is the statistics source: keys, memory and network of every
// running instance of the project, in one call made with every status query
// of a target with statistics: true (on scrape, or every
// --dcs.refresh-interval in cached mode). It shares the query's coalescing
// and backoff, keeps its own result and health, and never takes the
// target's dcs_up down.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/dcs-exporter/dcs_exporter/collector/exposition"
	"github.com/dcs-exporter/dcs_exporter/dcsapi"
	"github.com/dcs-exporter/dcs_exporter/diagnosis"
)

// statisticsSource is what the target's statistics calls have found. Its
// fields are guarded by the target's mu.
type statisticsSource struct {
	t *Target
	exposition.Statistics
	instances int   // in the last success; 0 once too old to serve
	err       error // of the last call when it failed
	errKey    string
	dupKey    string // the duplicates logged last, to log each new set once
}

// StatisticsStatus is the state of a target's statistics calls, for the
// status page.
type StatisticsStatus struct {
	Attempted   bool
	Up          bool
	Instances   int       // running instances in the last success
	LastSuccess time.Time // zero: never
	LastError   error     // of the last call when it failed
}

func (s *statisticsSource) on() bool { return s.t.cfg.Statistics }

func (s *statisticsSource) snapshot(snap *exposition.Snapshot) {
	snap.StatisticsOn, snap.Statistics = s.on(), s.Statistics
}

// expire drops a failed source's last answer once it is older than the
// staleness limit.
func (s *statisticsSource) expire(now time.Time) {
	if s.Up || s.instances == 0 {
		return
	}
	if staleness := s.t.ex.opts.MaxStaleness; staleness > 0 && now.Before(s.LastSuccess.Add(staleness)) {
		return
	}
	s.Lines, s.instances = exposition.StatisticLines{}, 0
}

func (s *statisticsSource) describe(ts *TargetStatus) {
	if !s.on() {
		return
	}
	ts.Statistics = &StatisticsStatus{Attempted: s.Attempted, Up: s.Up, Instances: s.instances, LastSuccess: s.LastSuccess, LastError: s.err}
}

// query makes the statistics call of one status query, which runs it beside
// its own status call (see Target.query). It takes an API slot of its own,
// waiting no longer than the query may, so that --dcs.max-concurrency
// still bounds the calls in flight; with one slot the two calls take turns.
func (s *statisticsSource) query(waitLimit time.Time) {
	t := s.t
	waitCtx, cancelWait := context.WithDeadline(t.ctx, waitLimit)
	acquired := t.ex.acquire(waitCtx)
	cancelWait()
	if !acquired {
		if t.ctx.Err() == nil {
			s.record(nil, exposition.StatisticLines{}, errNoAPISlot, t.ex.now())
		}
		return
	}
	ctx, cancel := context.WithTimeout(t.ctx, t.cfg.Timeout)
	report, err := t.client.InstanceStatistics(ctx)
	cancel()
	t.ex.release()
	if t.ctx.Err() != nil {
		return // dropped by a reload
	}
	end := t.ex.now()
	var lines exposition.StatisticLines
	if err == nil {
		// Decoded and rendered outside the lock: scrapes of the target
		// need not wait for 20,000 instances.
		kept := keepStatistics(report)
		lines = exposition.RenderStatistics(kept)
		s.logDrops(report)
	}
	s.record(report, lines, err, end)
}

// record stores a call's result under the target's lock.
func (s *statisticsSource) record(report *dcsapi.StatisticsReport, lines exposition.StatisticLines, err error, end time.Time) {
	t := s.t
	t.mu.Lock()
	defer t.mu.Unlock()
	t.outputChanged()
	s.Attempted = true
	if err == nil {
		if !s.Up && s.errKey != "" {
			t.logger.Info("statistics call recovered", "after", s.errKey)
		}
		s.Lines, s.instances = lines, len(report.Instances)
		s.LastSuccess, s.Up, s.err, s.errKey = end, true, nil, ""
		s.logDuplicatesLocked(report)
		return
	}
	s.Up, s.err = false, err
	s.expire(end)
	// Refused signatures and throttling concern the key, not this call:
	// the target's next calls wait, as after a status call. A 403 here
	// only means the key may not read statistics; the status calls go on.
	if dcsapi.IsThrottled(err) || dcsapi.IsAuthFailure(err) && !isForbidden(err) {
		t.applyBackoff(err, end)
	}
	if key := errorKey(err); key != s.errKey {
		s.errKey = key
		t.logger.Warn("statistics call failed; the counts and dcs_up are not affected",
			append(errorAttrs(err), t.hintAttrs(diagnosis.StepStatistics, err)...)...)
	}
}

// exportedStatistics are the answer's fields the exporter renders; drops
// of the others (used_cpu, the command counts) cost no series.
var exportedStatistics = []string{"instance_id", "keys", "used_memory", "max_memory", "input_kbps", "output_kbps"}

// logDrops logs, in one line per call, how many values of the fields the
// exporter renders could not be used: each cost its own series for its
// own instance.
func (s *statisticsSource) logDrops(r *dcsapi.StatisticsReport) {
	var parts []string
	for _, f := range exportedStatistics {
		if n := r.Dropped[f]; n > 0 {
			parts = append(parts, fmt.Sprintf("%s=%d", f, n))
		}
	}
	if len(parts) > 0 {
		s.t.logger.Warn("statistics: some values are not finite non-negative numbers; each costs its own series for its instance",
			"dropped", strings.Join(parts, " "))
	}
}

// logDuplicatesLocked logs, once per new set, that the answer named some
// instances twice; the first entry of each is kept. t.mu is held.
func (s *statisticsSource) logDuplicatesLocked(r *dcsapi.StatisticsReport) {
	key := ""
	if r.Duplicates > 0 {
		key = fmt.Sprint(r.Duplicates, r.DuplicateIDs)
	}
	if key == s.dupKey {
		return
	}
	s.dupKey = key
	if key != "" {
		s.t.logger.Warn("statistics: the answer names some instances more than once; the first entry of each is kept",
			"duplicates", r.Duplicates, "example_instance_ids", strings.Join(r.DuplicateIDs, ","))
	}
}

// keepStatistics reduces an answer to what the exporter renders.
func keepStatistics(r *dcsapi.StatisticsReport) []exposition.InstanceStatistic {
	out := make([]exposition.InstanceStatistic, len(r.Instances))
	for i := range r.Instances {
		in := &r.Instances[i]
		k := exposition.InstanceStatistic{ID: in.InstanceID, Keys: in.Keys, UsedMemoryMB: in.UsedMemoryMB, MaxMemoryMB: in.MaxMemoryMB,
			InputKbps: in.InputKbps, OutputKbps: in.OutputKbps}
		for _, f := range [...]struct {
			api dcsapi.StatisticFields
			has exposition.StatisticValues
		}{
			{dcsapi.StatKeys, exposition.HasKeys},
			{dcsapi.StatUsedMemory, exposition.HasUsedMemory},
			{dcsapi.StatMaxMemory, exposition.HasMaxMemory},
			{dcsapi.StatInputKbps, exposition.HasInput},
			{dcsapi.StatOutputKbps, exposition.HasOutput},
		} {
			if in.Has(f.api) {
				k.Has |= f.has
			}
		}
		out[i] = k
	}
	return out
}

// isForbidden reports whether the API refused the call itself (403): the
// key lacks a permission, which repeating changes nothing, but which also
// locks nothing.
func isForbidden(err error) bool {
	var e *dcsapi.APIError
	return errors.As(err, &e) && e.StatusCode == http.StatusForbidden
}
