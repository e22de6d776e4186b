package collector

// This file is the listing source: it lists a target's instances on their
// own schedule (instances: true, every --dcs.instances-refresh-interval),
// keeps what the per-instance series need, and cross-checks the listing
// against the status API's counts.

import (
	"context"
	"errors"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/dcs-exporter/dcs_exporter/collector/exposition"
	"github.com/dcs-exporter/dcs_exporter/config"
	"github.com/dcs-exporter/dcs_exporter/dcsapi"
	"github.com/dcs-exporter/dcs_exporter/diagnosis"
	"github.com/dcs-exporter/dcs_exporter/discovery"
	"github.com/dcs-exporter/dcs_exporter/internal/redact"
)

// listingSource is the per-instance view of a target, from the list API.
// It is refreshed on its own, slower schedule, because it costs one call
// per 1000 instances. Its fields are guarded by the target's mu.
type listingSource struct {
	t                  *Target
	exposition.Listing                       // what its series are rendered from
	instances          []exposition.Instance // from the last success; nil once too old to serve
	// discovered is the last success as /sd needs it (connection fields,
	// every tag), with the strings it shares with instances interned
	// once for both; nil once too old to serve. generation counts
	// successes, so that /sd tells listings apart; projectID is the one
	// known when it was listed.
	discovered []dcsapi.Instance
	generation uint64
	projectID  string
	errKey     string
	err        error // of the last listing when it failed, for the status page
	running    bool
}

// ListingStatus is the state of a target's per-instance listing, for the
// status page.
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

func listingInterval(o *Options) time.Duration { return o.InstancesRefreshInterval }

func (l *listingSource) on() bool      { return l.t.cfg.Instances }
func (l *listingSource) started() bool { return l.Attempted || l.running }

func (l *listingSource) snapshot(s *exposition.Snapshot) {
	s.Listed, s.Listing = l.on(), l.Listing
}

// expire drops a failed listing whose last good result is older than the
// staleness limit.
func (l *listingSource) expire(now time.Time) {
	if l.Up || (l.instances == nil && l.Mismatch == nil) {
		return
	}
	if staleness := l.t.ex.opts.MaxStaleness; staleness > 0 && now.Before(l.LastSuccess.Add(staleness)) {
		return
	}
	l.instances, l.Lines, l.Windows, l.Mismatch, l.discovered = nil, exposition.InstanceLines{}, nil, nil, nil
}

func (l *listingSource) describe(ts *TargetStatus) {
	if !l.on() {
		return
	}
	ts.Listing = &ListingStatus{
		Attempted: l.Attempted, Running: l.running, Up: l.Up,
		Instances: len(l.instances), LastSuccess: l.LastSuccess,
		LastError: l.err,
	}
	for _, d := range l.Mismatch {
		if d.Diff != 0 {
			ts.Listing.Mismatches++
		}
	}
}

// DiscoveryTargets is the inputs function of the exporter's /sd
// (discovery.Handler): every target, in name order, with its last
// successful listing and node walk. A target's listing is served exactly as long as its
// per-instance series are: while its last listing succeeded, and after a
// failure until the last success is --dcs.max-staleness old (at once when
// that is 0).
func (e *Exporter) DiscoveryTargets() []discovery.Target {
	targets := e.Targets()
	out := make([]discovery.Target, len(targets))
	for i, t := range targets {
		out[i] = t.listing.discoveryTarget()
	}
	return out
}

func (l *listingSource) discoveryTarget() discovery.Target {
	t := l.t
	t.mu.Lock()
	defer t.mu.Unlock()
	d := discovery.Target{Name: t.cfg.Name, Region: t.cfg.Region, ProjectID: l.projectID, Enabled: l.on(),
		ListedAt: l.LastSuccess, Generation: l.generation, Instances: l.discovered}
	if !l.Up {
		// discovery reads a bound of 0 as "never stale"; here 0 means
		// nothing old is served.
		d.StaleAfter = max(t.ex.opts.MaxStaleness, time.Nanosecond)
	}
	t.nodes.discoveryTarget(&d)
	return d
}

// Discovery is the exporter's /sd handler. Mount it behind the same TLS and
// basic auth as /metrics, without a compressing middleware.
func (e *Exporter) Discovery() *discovery.Handler { return e.discovery }

// RefreshListing lists the target's instances now; for tests and the demo.
func (t *Target) RefreshListing(ctx context.Context) { t.listing.refresh(ctx) }

func (l *listingSource) refresh(ctx context.Context) {
	t := l.t
	if !l.on() {
		return
	}
	t.mu.Lock()
	if l.running {
		t.mu.Unlock()
		return
	}
	l.running = true
	t.mu.Unlock()
	defer func() {
		t.mu.Lock()
		l.running = false
		t.mu.Unlock()
	}()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(t.ctx, cancel)
	defer stop()

	start := t.ex.now()
	list, err := l.list(ctx, start)
	if err != nil && ctx.Err() != nil {
		return // shutting down, or dropped by a reload: not the API's fault
	}
	listed := t.ex.now()
	var (
		kept     []exposition.Instance
		mismatch []exposition.StateDiff
		lines    exposition.InstanceLines
		windows  *exposition.WindowSchedule
	)
	if err == nil {
		var (
			byStatus map[string]int64
			report   windowReport
		)
		kept, byStatus, report = keepInstances(list, t.cfg.InstanceTags)
		l.logWindows(report)
		// Compare with counts taken just now rather than whatever the
		// status cache holds, which may be minutes older than the listing
		// and would report every change in between as a disagreement.
		if r := t.status.fresh(ctx, start); r != nil {
			mismatch = crossCheck(byStatus, r, dcsapi.APIVersion(t.cfg.APIVersion), t.cfg.IncludeFailure)
		}
		// Rendered without the lock, so that scrapes of the target need
		// not wait for thousands of instances. The lines do not carry the
		// target's labels, so a project id found meanwhile changes nothing.
		lines = exposition.RenderInstances(kept, t.cfg.InstanceTags)
		windows = exposition.NewWindowSchedule(kept)
	}

	pid, _ := t.knownProjectID()
	l.store(list, err, listed, pid, kept, mismatch, lines, windows)
	if err == nil {
		// The groups of /sd are built now, once per listing, and not by
		// the first request after it.
		t.ex.discovery.Prepare()
	}
}

// store records the end of a listing under the target's lock.
func (l *listingSource) store(list []dcsapi.Instance, err error, listed time.Time, pid string,
	kept []exposition.Instance, mismatch []exposition.StateDiff, lines exposition.InstanceLines, windows *exposition.WindowSchedule) {
	t := l.t
	t.mu.Lock()
	defer t.mu.Unlock()
	l.Attempted = true
	t.outputChanged()
	if err == nil {
		if !l.Up && l.errKey != "" {
			t.logger.Info("instance listing recovered", "after", l.errKey)
		}
		l.instances, l.Lines, l.Windows = kept, lines, windows
		l.Mismatch, l.LastSuccess, l.Up, l.errKey, l.err = mismatch, listed, true, "", nil
		l.discovered, l.projectID = list, pid
		l.generation++
		return
	}
	l.Up, l.err = false, err
	l.expire(listed)
	if key := errorKey(err); key != l.errKey {
		l.errKey = key
		t.logger.Warn("instance listing failed", append(errorAttrs(err), t.hintAttrs(diagnosis.StepListing, err)...)...)
	}
}

// windowReport counts the instances of a listing without a usable
// maintenance window, to log them in one line.
type windowReport struct {
	missing, malformed int
	example            *dcsapi.Instance // the first malformed one
}

// logWindows logs, in one line per listing however many instances it
// concerns, that some instances have no maintenance window to export.
func (l *listingSource) logWindows(r windowReport) {
	t := l.t
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

// list makes the calls of one listing, unless the target is
// backing off: then the key was refused or throttled, and more calls would
// only get it locked or throttled for longer.
func (l *listingSource) list(ctx context.Context, now time.Time) ([]dcsapi.Instance, error) {
	t := l.t
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

// keepInstances reduces a listing to what the exporter keeps, counts the
// instances per status, named as the status API names states, and reports
// those without a usable maintenance window. tags are the target's
// instance_tags. It interns the listing's repeated strings in place, since
// the listing is kept too, for /sd.
func keepInstances(list []dcsapi.Instance, tags []config.InstanceTag) ([]exposition.Instance, map[string]int64, windowReport) {
	kept := make([]exposition.Instance, len(list))
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
		// The listing is kept for /sd as well (listingSource.discovered):
		// its repeated strings are interned in place, so that it holds one
		// copy of each and shares them with the kept instances.
		in.Engine, in.EngineVersion, in.Status = intern(in.Engine), intern(in.EngineVersion), intern(in.Status)
		in.SpecCode, in.EnterpriseProjectID = intern(in.SpecCode), intern(in.EnterpriseProjectID)
		in.MaintainBegin, in.MaintainEnd = intern(in.MaintainBegin), intern(in.MaintainEnd)
		for j := range in.AZCodes {
			in.AZCodes[j] = intern(in.AZCodes[j])
		}
		for j := range in.Tags {
			in.Tags[j] = dcsapi.Tag{Key: intern(in.Tags[j].Key), Value: intern(in.Tags[j].Value)}
		}
		k := &kept[i]
		*k = exposition.Instance{
			ID:                  in.ID,
			Name:                in.Name,
			Engine:              intern(strings.ToLower(in.Engine)), // as in dcs_instances, so the two join on engine
			EngineVersion:       in.EngineVersion,
			Status:              in.Status,
			SpecCode:            in.SpecCode,
			ChargingMode:        chargingMode(in.ChargingMode),
			EnterpriseProjectID: in.EnterpriseProjectID,
			MaxMemoryMB:         in.MaxMemoryMB,
			UsedMemoryMB:        in.UsedMemoryMB,
			CapacityGB:          in.CapacityGB,
		}
		if len(tags) > 0 {
			k.Tags = tagValues[i*len(tags) : (i+1)*len(tags) : (i+1)*len(tags)]
			for j, tag := range tags {
				if at := slices.IndexFunc(in.Tags, func(t dcsapi.Tag) bool { return t.Key == tag.Key }); at >= 0 {
					k.Tags[j] = in.Tags[at].Value
				}
			}
		}
		if !in.CreatedAt.IsZero() {
			k.CreatedMilli = in.CreatedAt.UnixMilli()
		}
		if in.ServiceUpgrade != nil {
			k.Upgrade = exposition.UpgradeNone
			if *in.ServiceUpgrade {
				k.Upgrade = exposition.UpgradePending
			}
		}
		var problem exposition.WindowProblem
		k.Window, problem = exposition.ParseWindow(in.MaintainBegin, in.MaintainEnd)
		switch problem {
		case exposition.WindowMissing:
			report.missing++
		case exposition.WindowMalformed:
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
func crossCheck(byStatus map[string]int64, r *dcsapi.StatusReport, v dcsapi.APIVersion, includeFailure bool) []exposition.StateDiff {
	states := slices.Clone(dcsapi.DocumentedStates(v))
	for _, m := range []map[string]int64{r.Total, byStatus} {
		for s := range m {
			if !slices.Contains(states, s) {
				states = append(states, s)
			}
		}
	}
	sort.Strings(states)
	out := make([]exposition.StateDiff, 0, len(states))
	for _, s := range states {
		if s == "createfailed" && !includeFailure {
			continue
		}
		out = append(out, exposition.StateDiff{State: s, Diff: byStatus[s] - r.Total[s]})
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
