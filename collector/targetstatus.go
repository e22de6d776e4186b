package collector

// This file gives the status page its view of the targets, each source
// describing its part, and the accessors --dcs.check uses.

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

	Requests   []RequestCount    // API calls by API and code, sorted
	Listing    *ListingStatus    // nil unless the target has instances: true
	Nodes      *NodesStatus      // nil unless the target has nodes: true
	Backups    *BackupsStatus    // nil unless the target has backups: true
	Statistics *StatisticsStatus // nil unless the target has statistics: true
	Quota      *QuotaStatus      // nil unless the target has quota: true
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
	// Read at one moment, under the lock the series are rendered under,
	// so that the page and /metrics agree.
	ts := TargetStatus{Config: t.cfg, FailedStep: step, Requests: t.requests.snapshot()}
	t.mu.Lock()
	t.expireLocked(now)
	for _, src := range t.sources {
		src.describe(&ts)
	}
	ts.Querying = t.inflight != nil
	if now.Before(t.backoff.until) {
		ts.NextAttempt = t.backoff.until
	}
	t.mu.Unlock()
	if known {
		ts.ProjectID = pid
	}
	return ts
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
