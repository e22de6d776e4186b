package collector

// This file is the status source: the status API's counts, read by every
// query of a target (on scrape, or every --dcs.refresh-interval in cached
// mode; see Target.update), which also decide whether the target is up.

import (
	"context"
	"time"

	"github.com/dcs-exporter/dcs_exporter/collector/exposition"
	"github.com/dcs-exporter/dcs_exporter/dcsapi"
)

// statusSource is what the target's queries have found so far: the part
// its series are rendered from, and what the log and the status page need.
// Its fields are guarded by the target's mu.
type statusSource struct {
	t *Target
	exposition.Status
	report    *dcsapi.StatusReport // from the last success, as Counts
	projectID string
	err       error
	errKey    string // the error without its request id, to log each new failure once
}

// attach ties the source to its target, whose API version says which
// states and engines are documented.
func (s *statusSource) attach(t *Target) {
	v := dcsapi.APIVersion(t.cfg.APIVersion)
	s.t = t
	s.Documented = exposition.Documented{States: dcsapi.DocumentedStates(v), Engines: dcsapi.DocumentedEngines(v), EngineStates: dcsapi.DocumentedEngineStates(v)}
}

// fetch makes the status call; ctx carries the target's timeout.
func (s *statusSource) fetch(ctx context.Context) (*dcsapi.StatusReport, error) {
	return s.t.client.InstanceStatus(ctx, s.t.cfg.IncludeFailure)
}

// succeeded records a query's answer. t.mu is held.
func (s *statusSource) succeeded(report *dcsapi.StatusReport, end time.Time, took time.Duration) {
	if !s.Up && s.err != nil {
		s.t.logger.Info("target recovered", "after", s.errKey)
	}
	s.Attempted, s.Duration = true, took
	s.report, s.Counts = report, &exposition.Counts{Total: report.Total, Engines: report.Engines}
	s.LastSuccess, s.Up, s.err, s.errKey = end, true, nil, ""
}

// failed records a failed query and reports whether the failure is new, to
// be logged. The counts then follow the staleness rules. t.mu is held.
func (s *statusSource) failed(err error, took time.Duration) bool {
	s.Attempted, s.Duration, s.Up, s.err = true, took, false, err
	key := errorKey(err)
	if key == s.errKey {
		return false
	}
	s.errKey = key
	return true
}

// fresh returns the status API's counts from a query that ended at or
// after since, starting one (or joining the one in flight) to get them. It
// returns nil when there are none: the query failed, or the target is
// backing off.
func (s *statusSource) fresh(ctx context.Context, since time.Time) *dcsapi.StatusReport {
	t := s.t
	select {
	case <-t.update(time.Now().Add(t.cfg.Timeout), 0): // a real deadline, as for scrapes; the listing's one call per listing needs no minimum
	case <-ctx.Done():
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if !s.Up || s.report == nil || s.LastSuccess.Before(since) {
		return nil
	}
	return s.report // never changed once stored, so safe to read unlocked
}

func (s *statusSource) snapshot(snap *exposition.Snapshot) { snap.Status = s.Status }

// expire has nothing to free: a failed target's counts are one report,
// kept for the status page, and rendering stops serving them by itself.
func (s *statusSource) expire(time.Time) {}

func (s *statusSource) describe(ts *TargetStatus) {
	ts.Attempted, ts.Up, ts.LastSuccess, ts.LastError = s.Attempted, s.Up, s.LastSuccess, s.err
	ts.ProjectID = s.projectID
	if s.report != nil {
		ts.HasCounts = true
		ts.Total, ts.NotRunning = InstanceTotals(s.report)
	}
}

// InstanceTotals sums a report's counts over all engines and states: every
// instance, and those not running.
func InstanceTotals(r *dcsapi.StatusReport) (total, notRunning int64) {
	for state, n := range r.Total {
		total += n
		if state != "running" {
			notRunning += n
		}
	}
	return total, notRunning
}
