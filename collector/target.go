package collector

// This file is the query state machine of a target: starting, joining and
// abandoning status queries, and recording their results. The data itself
// is the sources' (source.go); backing off is backoff.go's.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/dcs-exporter/dcs_exporter/collector/exposition"
	"github.com/dcs-exporter/dcs_exporter/config"
	"github.com/dcs-exporter/dcs_exporter/dcsapi"
)

// Target is one configured project: its API client, the result of its last
// query, and its rendered series. Concurrent scrapes share one query in
// flight, and a target that failed authentication or was throttled is left
// alone until its backoff ends.
type Target struct {
	cfg    config.Target
	client *dcsapi.Client
	ex     *Exporter
	logger *slog.Logger
	ctx    context.Context // cancelled when a reload drops the target
	cancel context.CancelFunc

	requests requestCounts

	mu       sync.Mutex
	inflight chan struct{}
	late     lateAnswer
	answered time.Time // when the last status query ended, by the exporter's clock; see Options.MinInterval
	backoff  backoffState
	status   statusSource       // read by every query
	listing  listingSource      // on its own schedule, with instances: true
	nodes    nodesSource        // on the listing's schedule, with nodes: true
	backups  backupsSource      // paced per instance, with backups: true
	stats    statisticsSource   // read by every query, with statistics: true
	quota    quotaSource        // on its own schedule, with quota: true
	sources  []source           // all of the above, in output order; see initSources
	labels   string             // rendered by TargetLabels; see updateLabelsLocked
	out      *exposition.Series // the series rendered last; nil when out of date
	outUntil time.Time          // out expires then, as stale data does; zero: it does not
}

// lateAnswer pipelines a target that answers more slowly than the scrape
// timeout: a query a scrape stopped waiting for goes on, and its answer is
// served by the next scrape, which starts the following query without
// waiting for it. Without this such a target would be down on every scrape
// although every query succeeds.
type lateAnswer struct {
	abandoned bool          // a scrape stopped waiting for the query in flight
	ready     bool          // that query has finished and no scrape has used it
	at        time.Time     // when it finished (real time)
	took      time.Duration // how long it took (real time)
}

// lateAnswerMaxAge bounds how old an unused late answer may be and still
// stand in for a query; scrape intervals are rarely longer.
const lateAnswerMaxAge = 2 * time.Minute

// Name returns the target's name, its `target` label.
func (t *Target) Name() string { return t.cfg.Name }

// update starts a status query unless one is already in flight, in which
// case it joins it, or the target is backing off, or its last query ended
// less than minInterval ago, in which cases it does nothing. The channel is closed when the query is done. waitLimit bounds the
// wait for a free API slot; the query itself runs to the target's timeout
// even if the caller gives up, so that the next caller can use its answer.
func (t *Target) update(waitLimit time.Time, minInterval time.Duration) <-chan struct{} {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.inflight != nil {
		return t.inflight
	}
	now := t.ex.now()
	if now.Before(t.backoff.until) {
		return closedChan
	}
	if minInterval > 0 && !t.answered.IsZero() && now.Sub(t.answered) < minInterval {
		return closedChan
	}
	// A late answer that this scrape could not have waited for either is
	// served now, and the next query runs for the next scrape.
	useLate := t.late.ready && time.Since(t.late.at) < lateAnswerMaxAge && t.late.took >= time.Until(waitLimit)
	t.late = lateAnswer{abandoned: useLate}
	done := make(chan struct{})
	t.inflight = done
	go func() {
		defer close(done)
		start := time.Now()
		t.query(waitLimit)
		t.mu.Lock()
		t.inflight = nil
		t.answered = t.ex.now()
		if t.late.abandoned {
			t.late = lateAnswer{ready: true, at: time.Now(), took: time.Since(start)}
		}
		t.mu.Unlock()
	}()
	if useLate {
		return closedChan
	}
	return done
}

// abandon records that a scrape stopped waiting for the query in flight, so
// that its answer is kept for the next scrape.
func (t *Target) abandon() {
	t.mu.Lock()
	if t.inflight != nil {
		t.late.abandoned = true
	}
	t.mu.Unlock()
}

var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

func (t *Target) query(waitLimit time.Time) {
	// The statistics call runs beside the status call, with a slot of its
	// own, so that it adds no time to the query; it is waited for after
	// the status call's slot is released (defers run last in, first out).
	var stats sync.WaitGroup
	defer stats.Wait()
	if t.stats.on() {
		stats.Go(func() { t.stats.query(waitLimit) })
	}

	waitCtx, cancelWait := context.WithDeadline(t.ctx, waitLimit)
	acquired := t.ex.acquire(waitCtx)
	cancelWait()
	if !acquired {
		if t.ctx.Err() == nil {
			t.recordFailure(errNoAPISlot, t.ex.now(), 0)
		}
		return
	}
	defer t.ex.release()

	start := t.ex.now()
	ctx, cancel := context.WithTimeout(t.ctx, t.cfg.Timeout)
	report, err := t.status.fetch(ctx)
	cancel()
	if t.ctx.Err() != nil {
		return // dropped by a reload; nobody reads this target any more
	}
	end := t.ex.now()
	if err != nil {
		t.recordFailure(err, end, end.Sub(start))
		return
	}
	pid, _ := t.knownProjectID()

	t.mu.Lock()
	defer t.mu.Unlock()
	t.setProjectIDLocked(pid)
	t.outputChanged()
	t.status.succeeded(report, end, end.Sub(start))
	t.backoff = backoffState{}
}

// errNoAPISlot is the failure of a query that never got to call the API:
// the other targets' calls held every slot until the deadline.
var errNoAPISlot = errors.New("no free API slot before the deadline: raise --dcs.max-concurrency or the scrape timeout")

// recordFailure marks the target down; its counts then follow the staleness
// rules. Each new failure is logged once.
func (t *Target) recordFailure(err error, now time.Time, took time.Duration) {
	pid, _ := t.knownProjectID()
	t.mu.Lock()
	defer t.mu.Unlock()
	t.setProjectIDLocked(pid)
	t.outputChanged()
	t.applyBackoff(err, now)
	if t.status.failed(err, took) {
		t.logFailure(err)
	}
}

// knownProjectID returns the configured or already discovered project id.
func (t *Target) knownProjectID() (string, bool) {
	return t.client.CachedProjectID()
}

func (t *Target) logFailure(err error) {
	attrs := append(errorAttrs(err), t.hintAttrs(t.queryStep(), err)...)
	if !t.backoff.until.IsZero() {
		attrs = append(attrs, "next_attempt", t.backoff.until.UTC().Format(time.RFC3339))
	}
	t.logger.Warn("query failed", attrs...)
}

// errorAttrs are the log attributes of a failed call: the error, and the
// API's status, error code and request id where there are any, which is what
// a support ticket with the cloud needs.
func errorAttrs(err error) []any {
	attrs := []any{"err", err}
	var apiErr *dcsapi.APIError
	var decodeErr *dcsapi.DecodeError
	switch {
	case errors.As(err, &apiErr):
		attrs = append(attrs, "status", apiErr.StatusCode, "error_code", apiErr.Code, "request_id", apiErr.RequestID)
	case errors.As(err, &decodeErr) && decodeErr.RequestID != "":
		attrs = append(attrs, "request_id", decodeErr.RequestID)
	}
	return attrs
}

// errorKey identifies a failure without its request id, so that the same
// failure on every scrape is logged once.
func errorKey(err error) string {
	var apiErr *dcsapi.APIError
	if errors.As(err, &apiErr) {
		return fmt.Sprintf("%s %d %s %s", apiErr.API, apiErr.StatusCode, apiErr.Code, apiErr.Message)
	}
	return err.Error()
}
