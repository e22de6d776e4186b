package collector

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

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

	mu         sync.Mutex
	inflight   chan struct{}
	late       lateAnswer
	status     statusResult
	backoff    backoffState
	listing    listingResult
	out        *[numFamilies][]byte // never changed once rendered; see rendered
	outValid   bool
	staleUntil time.Time // the rendered output changes then, as stale counts expire
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

// statusResult is what the target's queries have found so far.
type statusResult struct {
	report      *dcsapi.StatusReport // from the last success
	projectID   string
	lastSuccess time.Time
	attempted   bool
	up          bool
	duration    time.Duration
	err         error
	errKey      string // the error without its request id, to log each new failure once
}

// backoffState keeps a target from spending API quota, or getting its access
// key locked, while the API refuses it.
type backoffState struct {
	until time.Time
	step  int
}

// Name returns the target's name, its `target` label.
func (t *Target) Name() string { return t.cfg.Name }

// update starts a status query unless one is already in flight, in which
// case it joins it, or the target is backing off, in which case it does
// nothing. The channel is closed when the query is done. waitLimit bounds the
// wait for a free API slot; the query itself runs to the target's timeout
// even if the caller gives up, so that the next caller can use its answer.
func (t *Target) update(waitLimit time.Time) <-chan struct{} {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.inflight != nil {
		return t.inflight
	}
	if t.ex.now().Before(t.backoff.until) {
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
	report, err := t.client.InstanceStatus(ctx, t.cfg.IncludeFailure)
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
	s := &t.status
	s.attempted, s.duration, s.projectID = true, end.Sub(start), pid
	t.outputChanged()
	if !s.up && s.err != nil {
		t.logger.Info("target recovered", "after", s.errKey)
	}
	s.report, s.lastSuccess, s.up, s.err, s.errKey = report, end, true, nil, ""
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
	s := &t.status
	s.attempted, s.duration, s.up, s.err = true, took, false, err
	if pid != "" {
		s.projectID = pid
	}
	t.outputChanged()
	t.applyBackoff(err, now)
	if key := errorKey(err); key != s.errKey {
		s.errKey = key
		t.logFailure(err)
	}
}

// knownProjectID returns the configured or already discovered project id.
func (t *Target) knownProjectID() (string, bool) {
	return t.client.CachedProjectID()
}

// applyBackoff spaces out the next attempts after errors that repeating
// would make worse: refused credentials (the gateway locks an access key
// after repeated failures) and throttling (which honours Retry-After).
func (t *Target) applyBackoff(err error, now time.Time) {
	o := t.ex.opts
	var wait time.Duration
	switch {
	case dcsapi.IsAuthFailure(err):
		wait = o.AuthBackoff << t.backoff.step
		if wait > o.MaxAuthBackoff || wait <= 0 {
			wait = o.MaxAuthBackoff
		}
	case dcsapi.IsThrottled(err):
		wait = o.ThrottleBackoff << t.backoff.step
		if wait > o.MaxThrottleBackoff || wait <= 0 {
			wait = o.MaxThrottleBackoff
		}
		var apiErr *dcsapi.APIError
		if errors.As(err, &apiErr) && apiErr.RetryAfter > wait {
			wait = apiErr.RetryAfter
		}
	default:
		t.backoff = backoffState{}
		return
	}
	if t.backoff.step < 16 {
		t.backoff.step++
	}
	t.backoff.until = now.Add(wait)
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

// rendered returns the target's series, rendering them again only when a
// query or listing changed them or stale counts expired.
func (t *Target) rendered(now time.Time) *[numFamilies][]byte {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.outValid && (t.staleUntil.IsZero() || now.Before(t.staleUntil)) {
		return t.out
	}
	// Always into a new array: scrapes still writing out the previous one
	// read it after the lock is gone, so it must never change under them.
	// Rendered into reused buffers, then copied to one exact-size block.
	scratch := getRenderScratch()
	t.renderLocked(now, scratch, false)
	out := compactRendered(scratch)
	putRenderScratch(scratch)
	t.out, t.outValid = out, true
	return out
}

// renderTimedOut renders the target as down for one scrape whose deadline
// passed before the target's query finished.
func (t *Target) renderTimedOut(now time.Time) *[numFamilies][]byte {
	var out [numFamilies][]byte
	t.mu.Lock()
	defer t.mu.Unlock()
	staleUntil := t.staleUntil // belongs to the cached output, not to this one
	t.renderLocked(now, &out, true)
	t.staleUntil = staleUntil
	return &out
}

func (t *Target) renderLocked(now time.Time, out *[numFamilies][]byte, timedOut bool) {
	for i := range out {
		out[i] = out[i][:0]
	}
	s := &t.status
	pid := s.projectID
	if pid == "" {
		pid = t.cfg.ProjectID
	}
	prefix := targetLabels(t.cfg.Name, t.cfg.Region, pid, t.cfg.Labels, t.labelNames())

	up := 0.0
	if s.up && !timedOut {
		up = 1
	}
	out[famUp] = appendSample(out[famUp], families[famUp].name, prefix, up)
	if s.attempted {
		out[famScrapeDuration] = appendSample(out[famScrapeDuration], families[famScrapeDuration].name, prefix, s.duration.Seconds())
	}
	if !s.lastSuccess.IsZero() {
		out[famLastSuccess] = appendSample(out[famLastSuccess], families[famLastSuccess].name, prefix, float64(s.lastSuccess.UnixMilli())/1000)
	}

	t.staleUntil = time.Time{}
	if s.report != nil {
		fresh := s.up && !timedOut
		if !fresh && t.ex.opts.MaxStaleness > 0 {
			expiry := s.lastSuccess.Add(t.ex.opts.MaxStaleness)
			if now.Before(expiry) {
				fresh = true
				t.staleUntil = expiry
			}
		}
		if fresh {
			t.renderCounts(out, prefix, s.report)
		}
	}
	t.renderRequests(out, prefix)
	t.renderListing(now, out, prefix)
}

// renderCounts writes the status API's counts. The states and engines the API
// version documents are always written, 0 when absent, so that alerts on
// them do not go blind when the API leaves a zero out.
func (t *Target) renderCounts(out *[numFamilies][]byte, prefix string, r *dcsapi.StatusReport) {
	version := dcsapi.APIVersion(t.cfg.APIVersion)
	documented := dcsapi.DocumentedStates(version)
	name := families[famInstancesAllEngines].name
	for _, state := range unionSorted(documented, r.Total) {
		out[famInstancesAllEngines] = appendSample(out[famInstancesAllEngines], name, prefix, float64(r.Total[state]), labelPair{"state", state})
	}
	name = families[famInstances].name
	for _, engine := range unionSorted(dcsapi.DocumentedEngines(version), r.Engines) {
		counts := r.Engines[engine]
		var states []string
		if containsString(dcsapi.DocumentedEngines(version), engine) {
			states = unionSorted(dcsapi.DocumentedEngineStates(version), counts)
		} else {
			states = unionSorted(nil, counts)
		}
		for _, state := range states {
			out[famInstances] = appendSample(out[famInstances], name, prefix, float64(counts[state]), labelPair{"engine", engine}, labelPair{"state", state})
		}
	}
}

func (t *Target) renderRequests(out *[numFamilies][]byte, prefix string) {
	name := families[famAPIRequests].name
	for _, c := range t.requests.snapshot() {
		out[famAPIRequests] = appendSample(out[famAPIRequests], name, prefix, float64(c.n), labelPair{"api", c.api}, labelPair{"code", c.code})
	}
}

func (t *Target) labelNames() []string { return t.cfg.LabelNames() }

// unionSorted returns the sorted union of list and m's keys.
func unionSorted[V any](list []string, m map[string]V) []string {
	out := make([]string, 0, len(list)+len(m))
	out = append(out, list...)
	for k := range m {
		if !containsString(list, k) {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// requestCounts counts a target's API calls by API and status code.
type requestCounts struct {
	mu     sync.Mutex
	counts map[[2]string]uint64
	onAdd  func()
}

type requestCount struct {
	api, code string
	n         uint64
}

func (r *requestCounts) add(api, code string) {
	r.mu.Lock()
	if r.counts == nil {
		r.counts = map[[2]string]uint64{}
	}
	r.counts[[2]string{api, code}]++
	r.mu.Unlock()
	if r.onAdd != nil {
		r.onAdd()
	}
}

func (r *requestCounts) snapshot() []requestCount {
	r.mu.Lock()
	out := make([]requestCount, 0, len(r.counts))
	for k, n := range r.counts {
		out = append(out, requestCount{k[0], k[1], n})
	}
	r.mu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		if out[i].api != out[j].api {
			return out[i].api < out[j].api
		}
		return out[i].code < out[j].code
	})
	return out
}

// newCredentialProvider maps the configured credential source to a provider.
func newCredentialProvider(c config.Credentials, onRequest func(api, code string)) dcsapi.CredentialProvider {
	switch {
	case c.Env:
		return dcsapi.EnvCredentials{}
	case c.Metadata:
		return &dcsapi.MetadataCredentials{Endpoint: c.MetadataEndpoint, OnRequest: onRequest}
	case c.AccessKeyFile != "" || c.SecretKeyFile != "" || c.SecurityTokenFile != "":
		// Each key comes from its file, or inline when it has none.
		return &dcsapi.FileCredentials{AccessKeyFile: c.AccessKeyFile, SecretKeyFile: c.SecretKeyFile, SecurityTokenFile: c.SecurityTokenFile,
			AccessKey: string(c.AccessKey), SecretKey: string(c.SecretKey), SecurityToken: string(c.SecurityToken)}
	default:
		return dcsapi.StaticCredentials{AccessKey: string(c.AccessKey), SecretKey: string(c.SecretKey), SecurityToken: string(c.SecurityToken)}
	}
}

// describeTarget is used in log lines.
func describeTarget(c config.Target) []any {
	return []any{"target", c.Name, "region", c.Region, "api_version", c.APIVersion, "endpoint", strings.TrimSuffix(c.Endpoint, "/")}
}
