package collector

// This file lists each target's instances on their own schedule, keeps
// what the per-instance series need, and cross-checks the listing against
// the status API's counts.

import (
	"context"
	"errors"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dcs-exporter/dcs_exporter/config"
	"github.com/dcs-exporter/dcs_exporter/dcsapi"
	"github.com/dcs-exporter/dcs_exporter/diagnosis"
	"github.com/dcs-exporter/dcs_exporter/internal/redact"
)

// listingResult is the per-instance view of a target, from the list API.
// It is refreshed on its own, slower schedule, because it costs one call
// per 1000 instances.
type listingResult struct {
	instances   []listedInstance // from the last success; nil once too old to serve
	lines       instanceLines    // instances' series, rendered once per listing
	windows     *windowSchedule  // instances' maintenance windows; nil when none has one
	mismatch    []stateDiff      // from the last success; nil when no fresh status counts came with it
	lastSuccess time.Time
	attempted   bool
	up          bool
	errKey      string
	err         error // of the last listing when it failed, for the status page
	running     bool
}

// listedInstance is what the exporter keeps of an instance: only what it
// renders, with the values most instances share interned, so that a fleet
// of 20,000 costs a few megabytes.
type listedInstance struct {
	id, name, engine, engineVersion, status, specCode, chargingMode string
	enterpriseProjectID                                             string
	tags                                                            []string // the values of the target's instance_tags, in its order; "" for one it lacks

	maxMemoryMB, usedMemoryMB int64
	capacityGB                float64
	createdMilli              int64 // Unix milliseconds; 0 when unknown
	window                    dailyWindow
	upgrade                   upgradeState
}

// upgradeState is the API's service_upgrade, which may be missing.
type upgradeState int8

const (
	upgradeUnknown upgradeState = iota
	upgradeNone
	upgradePending
)

// windowReport counts the instances of a listing without a usable
// maintenance window, to log them in one line.
type windowReport struct {
	missing, malformed int
	example            *dcsapi.Instance // the first malformed one
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
		lines    instanceLines
		windows  *windowSchedule
	)
	if err == nil {
		var (
			byStatus map[string]int64
			report   windowReport
		)
		kept, byStatus, report = keepInstances(list, t.cfg.InstanceTags)
		t.logWindows(report)
		// Compare with counts taken just now rather than whatever the
		// status cache holds, which may be minutes older than the listing
		// and would report every change in between as a disagreement.
		if r := t.freshStatus(ctx, start); r != nil {
			mismatch = crossCheck(byStatus, r, dcsapi.APIVersion(t.cfg.APIVersion), t.cfg.IncludeFailure)
		}
		// Rendered without the lock, so that scrapes of the target need
		// not wait for thousands of instances. The lines do not carry the
		// target's labels, so a project id found meanwhile changes nothing.
		lines = renderInstances(kept, t.cfg.InstanceTags)
		windows = newWindowSchedule(kept)
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
		l.instances, l.lines, l.windows = kept, lines, windows
		l.mismatch, l.lastSuccess, l.up, l.errKey, l.err = mismatch, listed, true, "", nil
		return
	}
	l.up, l.err = false, err
	t.expireLocked(listed)
	if key := errorKey(err); key != l.errKey {
		l.errKey = key
		t.logger.Warn("instance listing failed", append(errorAttrs(err), t.hintAttrs(diagnosis.StepListing, err)...)...)
	}
}

// logWindows logs, in one line per listing however many instances it
// concerns, that some instances have no maintenance window to export.
func (t *Target) logWindows(r windowReport) {
	if r.missing == 0 && r.malformed == 0 {
		return
	}
	msg := "some instances have no usable maintenance window; they get no dcs_instance_maintenance_window_active"
	if r.example == nil {
		t.logger.Info(msg, "missing", r.missing)
		return
	}
	t.logger.Warn(msg, "missing", r.missing, "malformed", r.malformed,
		"example_instance_id", redact.Text(r.example.ID, redact.MaxID), // the API's words: printable and cut
		"maintain_begin", redact.Text(r.example.MaintainBegin, 64), "maintain_end", redact.Text(r.example.MaintainEnd, 64))
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
	return t.client.ListInstancesWith(ctx, dcsapi.ListOptions{PageTimeout: t.cfg.Timeout, Gate: t.ex.gate,
		MaxInstances: t.cfg.MaxInstances, Timeout: t.cfg.ListingTimeout, Logger: t.logger})
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

// keepInstances reduces a listing to what the exporter keeps, counts the
// instances per status, named as the status API names states, and reports
// those without a usable maintenance window. tags are the target's
// instance_tags.
func keepInstances(list []dcsapi.Instance, tags []config.InstanceTag) ([]listedInstance, map[string]int64, windowReport) {
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
	// Every instance's tag values in one array, rather than one per instance.
	tagValues := make([]string, len(list)*len(tags))
	var report windowReport
	for i := range list {
		in := &list[i]
		k := &kept[i]
		*k = listedInstance{
			id:                  in.ID,
			name:                in.Name,
			engine:              intern(strings.ToLower(in.Engine)), // as in dcs_instances, so the two join on engine
			engineVersion:       intern(in.EngineVersion),
			status:              intern(in.Status),
			specCode:            intern(in.SpecCode),
			chargingMode:        chargingMode(in.ChargingMode),
			enterpriseProjectID: intern(in.EnterpriseProjectID),
			maxMemoryMB:         in.MaxMemoryMB,
			usedMemoryMB:        in.UsedMemoryMB,
			capacityGB:          in.CapacityGB,
		}
		if len(tags) > 0 {
			k.tags = tagValues[i*len(tags) : (i+1)*len(tags) : (i+1)*len(tags)]
			for j, tag := range tags {
				if at := slices.IndexFunc(in.Tags, func(t dcsapi.Tag) bool { return t.Key == tag.Key }); at >= 0 {
					k.tags[j] = intern(in.Tags[at].Value)
				}
			}
		}
		if !in.CreatedAt.IsZero() {
			k.createdMilli = in.CreatedAt.UnixMilli()
		}
		if in.ServiceUpgrade != nil {
			k.upgrade = upgradeNone
			if *in.ServiceUpgrade {
				k.upgrade = upgradePending
			}
		}
		var problem windowProblem
		k.window, problem = parseWindow(in.MaintainBegin, in.MaintainEnd)
		switch problem {
		case windowMissing:
			report.missing++
		case windowMalformed:
			report.malformed++
			if report.example == nil {
				report.example = in
			}
		}
		byRaw[in.Status]++
	}
	byStatus := make(map[string]int64, len(byRaw))
	for status, n := range byRaw {
		byStatus[strings.ToLower(status)] += n
	}
	return kept, byStatus, report
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
		if !slices.Contains(states, s) {
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
