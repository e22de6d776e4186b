package collector

import (
	"context"
	"errors"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dcs-exporter/dcs_exporter/dcsapi"
	"github.com/dcs-exporter/dcs_exporter/diagnosis"
)

// listingResult is the per-instance view of a target, from the list API.
// It is refreshed on its own, slower schedule, because it costs one call
// per 1000 instances.
type listingResult struct {
	instances   []listedInstance // from the last success; nil once too old to serve
	mismatch    []stateDiff      // from the last success; nil when no fresh status counts came with it
	lastSuccess time.Time
	attempted   bool
	up          bool
	errKey      string
	err         error // of the last listing when it failed, for the status page
	running     bool

	// lines caches the per-instance series rendered with prefix, one
	// slice per family of instanceFamilies, all in one backing array.
	// Nothing writes to them once rendered, so the target's output shares
	// them instead of copying some twenty megabytes per render for a large
	// fleet.
	lines  [len(instanceFamilies)][]byte
	prefix string
}

// instanceFamilies are the families with one series per instance.
var instanceFamilies = [...]int{famInstanceInfo, famInstanceStatus, famInstanceMemoryMax, famInstanceMemoryUsed, famInstanceCapacity}

// listedInstance is what the exporter keeps of an instance: only what it
// renders, with the values most instances share interned, so that a fleet
// of 20,000 costs a few megabytes.
type listedInstance struct {
	id, name, engine, engineVersion, status, specCode, chargingMode string

	maxMemoryMB, usedMemoryMB int64
	capacityGB                float64
}

// stateDiff is one state of the cross-check between the two APIs.
type stateDiff struct {
	state string
	diff  int64
}

// listingLoop refreshes the listing of every target that enables it, once
// per InstancesRefreshInterval, and at once for targets that are new.
func (e *Exporter) listingLoop(ctx context.Context) {
	ticker := time.NewTicker(e.opts.InstancesRefreshInterval)
	defer ticker.Stop()
	e.refreshListings(ctx, false)
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
			e.refreshListings(ctx, false)
		case <-e.listKick:
			e.refreshListings(ctx, true)
		}
	}
}

func (e *Exporter) refreshListings(ctx context.Context, onlyNew bool) {
	var wg sync.WaitGroup
	for _, t := range e.Targets() {
		if !t.cfg.Instances || (onlyNew && t.listingAttempted()) {
			continue
		}
		wg.Add(1)
		go func() { defer wg.Done(); t.refreshListing(ctx) }()
	}
	wg.Wait()
}

func (t *Target) listingAttempted() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.listing.attempted || t.listing.running
}

// RefreshListing lists the target's instances now; for tests and the demo.
func (t *Target) RefreshListing(ctx context.Context) { t.refreshListing(ctx) }

func (t *Target) refreshListing(ctx context.Context) {
	if !t.cfg.Instances {
		return
	}
	t.mu.Lock()
	if t.listing.running {
		t.mu.Unlock()
		return
	}
	t.listing.running = true
	t.mu.Unlock()
	defer func() {
		t.mu.Lock()
		t.listing.running = false
		t.mu.Unlock()
	}()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(t.ctx, cancel)
	defer stop()

	start := t.ex.now()
	list, err := t.listInstances(ctx, start)
	if err != nil && ctx.Err() != nil {
		return // shutting down, or dropped by a reload: not the API's fault
	}
	listed := t.ex.now()
	var (
		kept     []listedInstance
		mismatch []stateDiff
	)
	if err == nil {
		var byStatus map[string]int64
		kept, byStatus = keepInstances(list)
		// Compare with counts taken just now rather than whatever the
		// status cache holds, which may be minutes older than the listing
		// and would report every change in between as a disagreement.
		if r := t.freshStatus(ctx, start); r != nil {
			mismatch = crossCheck(byStatus, r, dcsapi.APIVersion(t.cfg.APIVersion), t.cfg.IncludeFailure)
		}
	}

	t.mu.Lock()
	defer t.mu.Unlock()
	l := &t.listing
	l.attempted = true
	t.outputChanged()
	if err == nil {
		if !l.up && l.errKey != "" {
			t.logger.Info("instance listing recovered", "after", l.errKey)
		}
		l.instances, l.mismatch, l.lastSuccess, l.up, l.errKey, l.err = kept, mismatch, listed, true, "", nil
		l.lines, l.prefix = [len(instanceFamilies)][]byte{}, ""
		return
	}
	l.up, l.err = false, err
	if key := errorKey(err); key != l.errKey {
		l.errKey = key
		t.logger.Warn("instance listing failed", append(errorAttrs(err), t.hintAttrs(diagnosis.StepListing, err)...)...)
	}
}

// listInstances makes the calls of one listing, unless the target is
// backing off: then the key was refused or throttled, and more calls would
// only get it locked or throttled for longer.
func (t *Target) listInstances(ctx context.Context, now time.Time) ([]dcsapi.Instance, error) {
	t.mu.Lock()
	backingOff := now.Before(t.backoff.until)
	t.mu.Unlock()
	if backingOff {
		return nil, errBackingOff
	}
	// Each page takes an API slot and the target's timeout of its own: the
	// status queries of scrapes get their turn between pages, and a listing
	// of many pages is not cut short by a deadline meant for one call.
	return t.client.ListInstancesWith(ctx, dcsapi.ListOptions{PageTimeout: t.cfg.Timeout, Gate: t.ex.gate})
}

var errBackingOff = errors.New("listing skipped while the target backs off after refused credentials or throttling")

// gate holds one of the exporter's API slots for one call of a listing.
// Listing calls first take a slot of listSem, which has one fewer than the
// shared limit, so that however many listings are stuck on slow pages, one
// slot is always left for status queries and scrapes do not wait for
// listings. (With --dcs.max-concurrency=1 they share the one slot.)
func (e *Exporter) gate(ctx context.Context) (func(), error) {
	select {
	case e.listSem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if !e.acquire(ctx) {
		<-e.listSem
		return nil, ctx.Err()
	}
	return func() { e.release(); <-e.listSem }, nil
}

// freshStatus returns the status API's counts from a query that ended at or
// after since, starting one (or joining the one in flight) to get them. It
// returns nil when there are none: the query failed, or the target is
// backing off.
func (t *Target) freshStatus(ctx context.Context, since time.Time) *dcsapi.StatusReport {
	select {
	case <-t.update(time.Now().Add(t.cfg.Timeout)): // a real deadline, as for scrapes
	case <-ctx.Done():
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	s := &t.status
	if !s.up || s.report == nil || s.lastSuccess.Before(since) {
		return nil
	}
	return s.report // never changed once stored, so safe to read unlocked
}

// keepInstances reduces a listing to what the exporter keeps, and counts
// the instances per status, named as the status API names states.
func keepInstances(list []dcsapi.Instance) ([]listedInstance, map[string]int64) {
	kept := make([]listedInstance, len(list))
	byRaw := map[string]int64{}
	interned := map[string]string{}
	intern := func(s string) string {
		if v, ok := interned[s]; ok {
			return v
		}
		interned[s] = s
		return s
	}
	for i := range list {
		in := &list[i]
		kept[i] = listedInstance{
			id:            in.ID,
			name:          in.Name,
			engine:        intern(strings.ToLower(in.Engine)), // as in dcs_instances, so the two join on engine
			engineVersion: intern(in.EngineVersion),
			status:        intern(in.Status),
			specCode:      intern(in.SpecCode),
			chargingMode:  chargingMode(in.ChargingMode),
			maxMemoryMB:   in.MaxMemoryMB,
			usedMemoryMB:  in.UsedMemoryMB,
			capacityGB:    in.CapacityGB,
		}
		byRaw[in.Status]++
	}
	byStatus := make(map[string]int64, len(byRaw))
	for status, n := range byRaw {
		byStatus[strings.ToLower(status)] += n
	}
	return kept, byStatus
}

// crossCheck subtracts the status API's count of each state from the
// listing's. It covers the states the API version documents, those the
// status API reports and those the listing shows, so that a status the
// status API stops counting, or never counted, shows up as a difference.
// The one exception is createfailed when the target's status query leaves
// failed creations out (include_failure: false): the listing always has
// them, so that difference would be there by design.
func crossCheck(byStatus map[string]int64, r *dcsapi.StatusReport, v dcsapi.APIVersion, includeFailure bool) []stateDiff {
	states := unionSorted(dcsapi.DocumentedStates(v), r.Total)
	for s := range byStatus {
		if !containsString(states, s) {
			states = append(states, s)
		}
	}
	sort.Strings(states)
	out := make([]stateDiff, 0, len(states))
	for _, s := range states {
		if s == "createfailed" && !includeFailure {
			continue
		}
		out = append(out, stateDiff{s, byStatus[s] - r.Total[s]})
	}
	return out
}

// renderListing writes the per-instance series and the cross-check against
// the status API. A failed listing keeps its last result within the
// staleness limit, like the status counts; past it, the instances are
// dropped, from the output and from memory.
func (t *Target) renderListing(now time.Time, out *[numFamilies][]byte, prefix string) {
	for _, f := range instanceFamilies {
		out[f] = nil // never reuse: these may be the cache of an older listing
	}
	if !t.cfg.Instances {
		return
	}
	l := &t.listing
	if !l.attempted {
		return
	}
	up := 0.0
	if l.up {
		up = 1
	}
	out[famListingUp] = appendSample(out[famListingUp], families[famListingUp].name, prefix, up)
	if l.lastSuccess.IsZero() {
		return
	}
	if !l.up {
		expiry := l.lastSuccess.Add(t.ex.opts.MaxStaleness)
		if t.ex.opts.MaxStaleness <= 0 || !now.Before(expiry) {
			l.instances, l.mismatch, l.lines, l.prefix = nil, nil, [len(instanceFamilies)][]byte{}, ""
			return
		}
		if t.staleUntil.IsZero() || expiry.Before(t.staleUntil) {
			t.staleUntil = expiry
		}
	}
	if l.lines[0] == nil || l.prefix != prefix {
		l.lines, l.prefix = renderInstances(l.instances, prefix), prefix
	}
	for i, f := range instanceFamilies {
		out[f] = l.lines[i]
	}
	name := families[famListingMismatch].name
	for _, d := range l.mismatch {
		out[famListingMismatch] = appendSample(out[famListingMismatch], name, prefix, float64(d.diff), labelPair{"state", d.state})
	}
}

// renderInstances renders the per-instance families into one buffer sized
// from the instances, so that 20,000 instances take one allocation rather
// than a series of ever larger copies. Each family's slice is capped at its
// length: appending to it can never write into the next one.
func renderInstances(list []listedInstance, prefix string) [len(instanceFamilies)][]byte {
	var lines [len(instanceFamilies)][]byte
	if len(list) == 0 {
		return lines
	}
	// Per instance: each family's name, prefix, instance_id and the
	// punctuation around them; the info labels; five numbers.
	fixed := len(`,name="",engine="",engine_version="",spec_code="",charging_mode=""`) + len(`,status=""`)
	for _, f := range instanceFamilies {
		fixed += len(families[f].name) + len(prefix) + len(`{,instance_id=""} `) + 24 + len("\n")
	}
	size := len(list) * fixed
	for i := range list {
		in := &list[i]
		size += 5*len(in.id) + len(in.name) + len(in.engine) + len(in.engineVersion) + len(in.specCode) +
			len(in.chargingMode) + len(in.status)
	}
	buf := make([]byte, 0, size)
	for i, f := range instanceFamilies {
		start := len(buf)
		for j := range list {
			buf = appendInstanceSample(buf, f, prefix, &list[j])
		}
		lines[i] = buf[start:len(buf):len(buf)]
	}
	return lines
}

// appendInstanceSample writes the sample of family f for one instance.
func appendInstanceSample(b []byte, f int, prefix string, in *listedInstance) []byte {
	name, id := families[f].name, labelPair{"instance_id", in.id}
	switch f {
	case famInstanceInfo:
		return appendSample(b, name, prefix, 1, id, labelPair{"name", in.name}, labelPair{"engine", in.engine},
			labelPair{"engine_version", in.engineVersion}, labelPair{"spec_code", in.specCode}, labelPair{"charging_mode", in.chargingMode})
	case famInstanceStatus:
		return appendSample(b, name, prefix, 1, id, labelPair{"status", in.status})
	// The API gives memory in MB and capacity in GB; Prometheus wants bytes.
	case famInstanceMemoryMax:
		return appendSample(b, name, prefix, float64(in.maxMemoryMB)*(1<<20), id)
	case famInstanceMemoryUsed:
		return appendSample(b, name, prefix, float64(in.usedMemoryMB)*(1<<20), id)
	case famInstanceCapacity:
		return appendSample(b, name, prefix, in.capacityGB*(1<<30), id)
	}
	panic("collector: not a per-instance family: " + families[f].name)
}

// chargingMode names the API's billing codes.
func chargingMode(mode int64) string {
	switch mode {
	case 0:
		return "pay-per-use"
	case 1:
		return "yearly-monthly"
	default:
		return strconv.FormatInt(mode, 10)
	}
}
