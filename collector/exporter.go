package collector

// This file holds the Exporter: its options, its targets and how a reload
// replaces them, and the background refresh of cached mode.

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"reflect"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dcs-exporter/dcs_exporter/config"
	"github.com/dcs-exporter/dcs_exporter/dcsapi"
	"github.com/dcs-exporter/dcs_exporter/internal/redact"
)

// Options configure an Exporter.
type Options struct {
	// RefreshInterval > 0 refreshes every target in the background at that
	// interval and serves scrapes from the cache; 0 queries on scrape.
	RefreshInterval time.Duration
	// MaxConcurrency bounds the API calls in flight across all targets.
	MaxConcurrency int
	// MaxStaleness is how long a failed target's last counts are still
	// served; 0 never serves old counts.
	MaxStaleness time.Duration
	// InstancesRefreshInterval is how often the per-instance listing of the
	// targets that enable it is refreshed.
	InstancesRefreshInterval time.Duration
	// MinInterval, in on-scrape mode, is the least time between two status
	// queries of a target: a scrape that comes sooner after the last answer
	// is served that answer. It keeps a flood of scrapes from becoming a
	// flood of signed calls that would get the account's key throttled for
	// every tool that shares it. 0 queries on every scrape.
	MinInterval time.Duration
	// Backoff after refused credentials doubles from AuthBackoff up to
	// MaxAuthBackoff; after throttling, from ThrottleBackoff up to
	// MaxThrottleBackoff, or longer when the API's Retry-After says so.
	AuthBackoff, MaxAuthBackoff         time.Duration
	ThrottleBackoff, MaxThrottleBackoff time.Duration
	// BackupsTick is how often the backups pacer looks for calls that are
	// due; DefaultBackupsTick when 0. BackupsInterval, when > 0, replaces
	// every target's backups_interval (for tests and the demo, which
	// cannot wait ten minutes).
	BackupsTick, BackupsInterval time.Duration
	// Retry is the API client's retry policy; dcsapi's default when nil.
	Retry     *dcsapi.RetryPolicy
	UserAgent string
	Logger    *slog.Logger
	// Now is the clock; time.Now when nil. Tests set it for stable output.
	Now func() time.Time
}

// DefaultOptions are the command line defaults.
func DefaultOptions() Options {
	return Options{
		MaxConcurrency:           8,
		MaxStaleness:             5 * time.Minute,
		InstancesRefreshInterval: 5 * time.Minute,
		// Under the 15 s scrape interval of most setups, so that one
		// Prometheus still gets a new answer on every scrape, and over half
		// of it, so that an HA pair, whose scrapes interleave at any
		// offset, costs about one call per target per interval.
		MinInterval:        10 * time.Second,
		AuthBackoff:        30 * time.Second,
		MaxAuthBackoff:     10 * time.Minute,
		ThrottleBackoff:    10 * time.Second,
		MaxThrottleBackoff: 5 * time.Minute,
	}
}

// Exporter holds the configured targets and serves their series.
type Exporter struct {
	opts      Options
	sem       chan struct{}
	schedSem  chan struct{} // calls of scheduled sources; one fewer than sem, see gate
	schedules []*schedule   // the loops of the scheduled sources; see source.go

	mu      sync.RWMutex
	targets []*Target // sorted by name
	byName  map[string]*Target

	ready atomic.Bool
	kick  chan struct{} // asks the refresh loop to look at new targets

	outGen atomic.Uint64 // bumped by outputChanged and reloads; see OutputGeneration
}

// New returns an exporter with no targets; call ApplyConfig.
func New(opts Options) *Exporter {
	d := DefaultOptions()
	if opts.MaxConcurrency <= 0 {
		opts.MaxConcurrency = d.MaxConcurrency
	}
	if opts.InstancesRefreshInterval <= 0 {
		opts.InstancesRefreshInterval = d.InstancesRefreshInterval
	}
	if opts.BackupsTick <= 0 {
		opts.BackupsTick = DefaultBackupsTick
	}
	if opts.AuthBackoff <= 0 {
		opts.AuthBackoff = d.AuthBackoff
	}
	if opts.MaxAuthBackoff <= 0 {
		opts.MaxAuthBackoff = d.MaxAuthBackoff
	}
	if opts.ThrottleBackoff <= 0 {
		opts.ThrottleBackoff = d.ThrottleBackoff
	}
	if opts.MaxThrottleBackoff <= 0 {
		opts.MaxThrottleBackoff = d.MaxThrottleBackoff
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Exporter{
		opts:      opts,
		sem:       make(chan struct{}, opts.MaxConcurrency),
		schedSem:  make(chan struct{}, max(1, opts.MaxConcurrency-1)),
		schedules: newSchedules(),
		byName:    map[string]*Target{},
		kick:      make(chan struct{}, 1),
	}
}

func (e *Exporter) now() time.Time {
	if e.opts.Now != nil {
		return e.opts.Now()
	}
	return time.Now()
}

func (e *Exporter) acquire(ctx context.Context) bool {
	select {
	case e.sem <- struct{}{}:
		return true
	case <-ctx.Done():
		return false
	}
}

func (e *Exporter) release() { <-e.sem }

// ApplyConfig replaces the targets. A target whose configuration did not
// change is kept with its cache, counters and backoff. On error nothing
// changes.
func (e *Exporter) ApplyConfig(cfg *config.Config) error {
	e.mu.RLock()
	old := e.byName
	e.mu.RUnlock()

	clients := map[string]*http.Client{}
	var next []*Target
	for _, tc := range cfg.Targets {
		if t, ok := old[tc.Name]; ok && reflect.DeepEqual(t.cfg, tc) {
			next = append(next, t)
			continue
		}
		t, err := e.newTarget(tc, clients)
		if err != nil {
			for _, n := range next {
				if old[n.cfg.Name] != n {
					n.cancel()
				}
			}
			return fmt.Errorf("target %q: %w", tc.Name, err)
		}
		next = append(next, t)
	}
	sort.Slice(next, func(i, j int) bool { return next[i].cfg.Name < next[j].cfg.Name })
	byName := make(map[string]*Target, len(next))
	for _, t := range next {
		byName[t.cfg.Name] = t
	}

	e.mu.Lock()
	e.targets, e.byName = next, byName
	e.mu.Unlock()
	e.outGen.Add(1)
	for name, t := range old {
		if byName[name] != t {
			t.cancel()
		}
	}
	kicks := []chan struct{}{e.kick}
	for _, s := range e.schedules {
		kicks = append(kicks, s.kick)
	}
	for _, kick := range kicks {
		select {
		case kick <- struct{}{}:
		default:
		}
	}
	return nil
}

func (e *Exporter) newTarget(tc config.Target, clients map[string]*http.Client) (*Target, error) {
	httpClient, err := sharedHTTPClient(clients, tc)
	if err != nil {
		return nil, err
	}
	t := &Target{cfg: tc, ex: e, logger: e.opts.Logger.With(describeTarget(tc)...)}
	t.initSources()
	t.updateLabelsLocked() // nobody else knows the target yet
	t.requests.onAdd = t.invalidate
	t.ctx, t.cancel = context.WithCancel(context.Background())
	t.client, err = dcsapi.New(dcsapi.Options{
		Endpoint:    tc.Endpoint,
		IAMEndpoint: tc.IAMEndpoint,
		Region:      tc.Region,
		ProjectID:   tc.ProjectID,
		APIVersion:  dcsapi.APIVersion(tc.APIVersion),
		Credentials: newCredentialProvider(tc.Credentials, t.requests.add),
		HTTPClient:  httpClient,
		UserAgent:   e.opts.UserAgent,
		Retry:       e.opts.Retry,
		OnRequest:   t.requests.add,
		Now:         e.opts.Now,
	})
	if err != nil {
		t.cancel()
		return nil, err
	}
	return t, nil
}

// sharedHTTPClient gives targets with the same proxy and TLS settings one
// client, so that they share connections and memory.
func sharedHTTPClient(clients map[string]*http.Client, tc config.Target) (*http.Client, error) {
	key := fmt.Sprintf("%v|%s|%t", tc.ProxyURL, tc.TLS.CAFile, tc.TLS.InsecureSkipVerify)
	if c, ok := clients[key]; ok {
		return c, nil
	}
	var proxy *url.URL
	if tc.ProxyURL != nil {
		proxy = tc.ProxyURL
	}
	c, err := dcsapi.NewHTTPClient(dcsapi.TransportOptions{ProxyURL: proxy, CAFile: tc.TLS.CAFile, InsecureSkipVerify: tc.TLS.InsecureSkipVerify})
	if err != nil {
		return nil, err
	}
	clients[key] = c
	return c, nil
}

// CloseIdleConnections closes the API connections no query is using. The
// connection pools otherwise keep what a burst of queries opened until the
// connections time out.
func (e *Exporter) CloseIdleConnections() {
	for _, t := range e.Targets() {
		t.client.CloseIdleConnections()
	}
}

// Targets returns the current targets, sorted by name.
func (e *Exporter) Targets() []*Target {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.targets
}

// Target returns the named target, or nil.
func (e *Exporter) Target(name string) *Target {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.byName[name]
}

// Ready reports whether the exporter can serve meaningful data: it has a
// configuration and, in cached mode, has finished its first refresh.
func (e *Exporter) Ready() bool { return e.ready.Load() }

// Run drives the background work until ctx ends: the cached-mode refresh of
// all targets, and the scheduled sources such as the per-instance listings.
// In on-scrape mode with no scheduled source on it only marks the exporter
// ready.
func (e *Exporter) Run(ctx context.Context) {
	var wg sync.WaitGroup
	if e.opts.RefreshInterval > 0 {
		wg.Add(1)
		go func() { defer wg.Done(); e.refreshLoop(ctx) }()
	} else {
		e.ready.Store(true)
	}
	for _, s := range e.schedules {
		wg.Add(1)
		go func() { defer wg.Done(); e.runSchedule(ctx, s) }()
	}
	wg.Wait()
	e.Close()
}

// refreshLoop queries every target once per interval. After a reload only
// the new targets are queried at once, so that each interval still costs
// one call per target.
func (e *Exporter) refreshLoop(ctx context.Context) {
	ticker := time.NewTicker(e.opts.RefreshInterval)
	defer ticker.Stop()
	// No refresh is waited for here, the first one only to say when the
	// exporter is ready: a target that hangs until its timeout must not
	// hold up the others' next refresh. A target whose query is still
	// running when its next refresh is due joins it instead of starting
	// another (see update).
	first := e.refresh(e.Targets())
	var readiness sync.WaitGroup
	readiness.Add(1)
	go func() {
		defer readiness.Done()
		waitAll(ctx, first)
		e.ready.Store(true)
	}()
	defer readiness.Wait()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
			e.refresh(e.Targets())
		case <-e.kick:
			var fresh []*Target
			for _, t := range e.Targets() {
				if !t.attempted() {
					fresh = append(fresh, t)
				}
			}
			e.refresh(fresh)
		}
	}
}

func (t *Target) attempted() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.status.Attempted || t.inflight != nil
}

// refresh starts a query of every target and returns channels that are
// closed as each one is done.
func (e *Exporter) refresh(targets []*Target) []<-chan struct{} {
	waitLimit := time.Now().Add(max(e.opts.RefreshInterval, time.Minute)) // a real deadline, not the injectable clock
	done := make([]<-chan struct{}, len(targets))
	for i, t := range targets {
		done[i] = t.update(waitLimit, 0)
	}
	return done
}

// waitAll waits until every channel is closed or ctx ends.
func waitAll(ctx context.Context, done []<-chan struct{}) {
	for _, d := range done {
		select {
		case <-d:
		case <-ctx.Done():
			return
		}
	}
}

// newCredentialProvider maps the configured credential source to a provider.
func newCredentialProvider(c config.Credentials, onRequest func(api, code string)) dcsapi.CredentialProvider {
	switch c.Source() {
	case config.CredentialsEnv:
		return dcsapi.EnvCredentials{}
	case config.CredentialsMetadata:
		return &dcsapi.MetadataCredentials{Endpoint: c.MetadataEndpoint, OnRequest: onRequest}
	case config.CredentialsFiles:
		// Each key comes from its file, or inline when it has none.
		return &dcsapi.FileCredentials{AccessKeyFile: c.AccessKeyFile, SecretKeyFile: c.SecretKeyFile, SecurityTokenFile: c.SecurityTokenFile,
			AccessKey: string(c.AccessKey), SecretKey: string(c.SecretKey), SecurityToken: string(c.SecurityToken)}
	default:
		return dcsapi.StaticCredentials{AccessKey: string(c.AccessKey), SecretKey: string(c.SecretKey), SecurityToken: string(c.SecurityToken)}
	}
}

// describeTarget is used in log lines.
func describeTarget(c config.Target) []any {
	return []any{"target", c.Name, "region", c.Region, "api_version", c.APIVersion, "endpoint", redact.URL(c.Endpoint)}
}
