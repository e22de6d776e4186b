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
)

// listingResult is the per-instance view of a target, from the list API.
// It is refreshed on its own, slower schedule, because it costs one call
// per 1000 instances.
type listingResult struct {
	instances   []dcsapi.Instance // from the last success
	lastSuccess time.Time
	attempted   bool
	up          bool
	errKey      string
	running     bool
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
	if !t.ex.acquire(ctx) {
		return
	}
	// A listing is several calls in a row; each page gets the target's
	// timeout, the whole listing a generous multiple of it.
	listCtx, cancelList := context.WithTimeout(ctx, 10*t.cfg.Timeout)
	instances, err := t.client.ListInstances(listCtx)
	cancelList()
	t.ex.release()
	if t.ctx.Err() != nil {
		return
	}
	now := t.ex.now()

	t.mu.Lock()
	defer t.mu.Unlock()
	l := &t.listing
	l.attempted = true
	t.outValid = false
	if err == nil {
		if !l.up && l.errKey != "" {
			t.logger.Info("instance listing recovered", "after", l.errKey)
		}
		l.instances, l.lastSuccess, l.up, l.errKey = instances, now, true, ""
		return
	}
	l.up = false
	if key := errorKey(err); key != l.errKey {
		l.errKey = key
		attrs := []any{"err", err}
		var apiErr *dcsapi.APIError
		if errors.As(err, &apiErr) {
			attrs = append(attrs, "status", apiErr.StatusCode, "error_code", apiErr.Code, "request_id", apiErr.RequestID)
		}
		t.logger.Warn("instance listing failed", attrs...)
	}
}

// renderListing writes the per-instance series and the cross-check against
// the status API. A failed listing keeps its last result within the
// staleness limit, like the status counts.
func (t *Target) renderListing(now time.Time, out *[numFamilies][]byte, prefix string) {
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
	if l.instances == nil && !l.up {
		return
	}
	if !l.up {
		if t.ex.opts.MaxStaleness <= 0 {
			return
		}
		expiry := l.lastSuccess.Add(t.ex.opts.MaxStaleness)
		if !now.Before(expiry) {
			return
		}
		if t.staleUntil.IsZero() || expiry.Before(t.staleUntil) {
			t.staleUntil = expiry
		}
	}
	byStatus := map[string]int64{}
	for i := range l.instances {
		in := &l.instances[i]
		byStatus[strings.ToLower(in.Status)]++
		id := labelPair{"instance_id", in.ID}
		out[famInstanceInfo] = appendSample(out[famInstanceInfo], families[famInstanceInfo].name, prefix, 1, id,
			labelPair{"name", in.Name}, labelPair{"engine", in.Engine}, labelPair{"engine_version", in.EngineVersion},
			labelPair{"spec_code", in.SpecCode}, labelPair{"charging_mode", chargingMode(in.ChargingMode)})
		out[famInstanceStatus] = appendSample(out[famInstanceStatus], families[famInstanceStatus].name, prefix, 1, id, labelPair{"status", in.Status})
		out[famInstanceMemoryMax] = appendSample(out[famInstanceMemoryMax], families[famInstanceMemoryMax].name, prefix, float64(in.MaxMemoryMB)*(1<<20), id)
		out[famInstanceMemoryUsed] = appendSample(out[famInstanceMemoryUsed], families[famInstanceMemoryUsed].name, prefix, float64(in.UsedMemoryMB)*(1<<20), id)
		out[famInstanceCapacity] = appendSample(out[famInstanceCapacity], families[famInstanceCapacity].name, prefix, in.CapacityGB*(1<<30), id)
	}
	if r := t.status.report; r != nil {
		states := unionSorted(nil, byStatus)
		for s := range r.Total {
			if !containsString(states, s) {
				states = append(states, s)
			}
		}
		sort.Strings(states)
		for _, s := range states {
			out[famListingMismatch] = appendSample(out[famListingMismatch], families[famListingMismatch].name, prefix,
				float64(byStatus[s]-r.Total[s]), labelPair{"state", s})
		}
	}
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
