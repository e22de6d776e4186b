package collector

// This file gives the status page its view of the targets, read from the
// same snapshot as their series, and the accessors --dcs.check uses.

import (
	"time"

	"github.com/dcs-exporter/dcs_exporter/config"
	"github.com/dcs-exporter/dcs_exporter/dcsapi"
	"github.com/dcs-exporter/dcs_exporter/diagnosis"
)

// TargetStatus is a snapshot of one target for the status page: what its
// last queries found, read under the target's locks at one moment.
type TargetStatus struct {
	Config config.Target
	// ProjectID is the configured or discovered project id; empty while
	// the IAM lookup has not succeeded.
	ProjectID string

	Attempted bool // a query has finished
	Querying  bool // a query is running now
	Up        bool
	// Counts from the last successful query; HasCounts is false when
	// there was none.
	HasCounts         bool
	Total, NotRunning int64
	LastSuccess       time.Time // zero: never
	// LastError is the error of the last query when it failed, and
	// FailedStep the step it is attributed to unless the error knows
	// better (see diagnosis.Diagnose).
	LastError  error
	FailedStep diagnosis.Step
	// NextAttempt is when a target backing off after refused credentials
	// or throttling is queried again; zero when it is not backing off.
	NextAttempt time.Time

	Requests []RequestCount // API calls by API and code, sorted
	Listing  *ListingStatus // nil unless the target has instances: true
}

// ListingStatus is the state of a target's per-instance listing.
type ListingStatus struct {
	Attempted   bool
	Running     bool
	Up          bool
	Instances   int       // from the last success
	LastSuccess time.Time // zero: never
	LastError   error     // of the last listing when it failed
	// Mismatches is the number of states whose counts differ between the
	// listing and the status API.
	Mismatches int
}

// TargetStatuses returns a snapshot of every target, sorted by name.
func (e *Exporter) TargetStatuses() []TargetStatus {
	targets := e.Targets()
	now := e.now()
	out := make([]TargetStatus, len(targets))
	for i, t := range targets {
		out[i] = t.statusSnapshot(now)
	}
	return out
}

func (t *Target) statusSnapshot(now time.Time) TargetStatus {
	pid, known := t.knownProjectID()
	step := t.queryStep()
	// The same snapshot the target's series are rendered from, so that the
	// page and /metrics agree; what only the page shows is read with it.
	t.mu.Lock()
	t.expireLocked(now)
	snap := t.snapshotLocked()
	status, listing := t.status, t.listing
	querying, backoffUntil := t.inflight != nil, t.backoff.until
	t.mu.Unlock()

	s := &snap.Status
	ts := TargetStatus{
		Config: t.cfg, FailedStep: step, Querying: querying,
		Attempted: s.Attempted, Up: s.Up, LastSuccess: s.LastSuccess, LastError: status.err,
		Requests: snap.Requests,
	}
	ts.ProjectID = status.projectID
	if known {
		ts.ProjectID = pid
	}
	if s.Report != nil {
		ts.HasCounts = true
		ts.Total, ts.NotRunning = InstanceTotals(s.Report)
	}
	if now.Before(backoffUntil) {
		ts.NextAttempt = backoffUntil
	}
	if snap.Listed {
		l := &snap.Listing
		ts.Listing = &ListingStatus{
			Attempted: l.Attempted, Running: listing.running, Up: l.Up,
			Instances: len(listing.instances), LastSuccess: l.LastSuccess,
			LastError: listing.err,
		}
		for _, d := range l.Mismatch {
			if d.Diff != 0 {
				ts.Listing.Mismatches++
			}
		}
	}
	return ts
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

// Config returns the target's resolved configuration.
func (t *Target) Config() config.Target { return t.cfg }

// Client returns the target's API client, for checks that call the API
// outside the refresh loop (--dcs.check) with exactly the client, transport
// and credentials the exporter itself uses.
func (t *Target) Client() *dcsapi.Client { return t.client }

// queryStep is the step a failed status query most likely failed at:
// without a project id it cannot have got past the IAM lookup. Errors that
// know their step correct it (see diagnosis.Diagnose).
func (t *Target) queryStep() diagnosis.Step {
	if _, known := t.knownProjectID(); !known {
		return diagnosis.StepIAMLookup
	}
	return diagnosis.StepStatus
}

// hintAttrs is the log attribute with the diagnosis' hint for a failure, so
// that the log says what the status page and --dcs.check say.
func (t *Target) hintAttrs(step diagnosis.Step, err error) []any {
	if hint := diagnosis.Diagnose(step, err, t.cfg).Hint; hint != "" {
		return []any{"hint", hint}
	}
	return nil
}
