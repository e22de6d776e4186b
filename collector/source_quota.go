package collector

// This file is the quota source: how many instances and how much memory the
// project may have and has, read on a schedule of its own (quota: true, the
// default): with the listing's interval when the target lists its
// instances, else every 10 minutes, since quotas change slowly.

import (
	"context"
	"strings"
	"time"

	"github.com/dcs-exporter/dcs_exporter/collector/exposition"
	"github.com/dcs-exporter/dcs_exporter/dcsapi"
	"github.com/dcs-exporter/dcs_exporter/diagnosis"
)

// quotaSource is the project's quota. Its fields are guarded by the
// target's mu.
type quotaSource struct {
	t *Target
	exposition.Quota
	err     error // of the last call when it failed
	errKey  string
	noteKey string // the last note on unusable values, to log each once
	running bool
}

// QuotaStatus is the state of a target's quota calls, for the status page.
type QuotaStatus struct {
	Attempted   bool
	Up          bool
	Quota       exposition.Quota // the values, when HasLimit/HasUsed say so
	LastSuccess time.Time        // zero: never
	LastError   error            // of the last call when it failed
}

// quotaIdleInterval is how often the quota of a target that does not list
// its instances is read.
const quotaIdleInterval = 10 * time.Minute

// quotaParallel is how many targets' quotas are read at once: a round of a
// thousand targets then holds at most this many API slots, and takes a
// while, which a quota read every 10 minutes can afford.
const quotaParallel = 4

// quotaTick is how often the quota schedule looks for targets that are due.
func quotaTick(o *Options) time.Duration { return min(o.InstancesRefreshInterval, quotaIdleInterval) }

// quotaInterval is how often a target's quota is read: with its listing,
// or every 10 minutes.
func quotaInterval(o *Options, t *Target) time.Duration {
	if t.cfg.Instances {
		return o.InstancesRefreshInterval
	}
	return quotaIdleInterval
}

func (q *quotaSource) on() bool      { return q.t.cfg.Quota }
func (q *quotaSource) started() bool { return q.Attempted || q.running }

func (q *quotaSource) snapshot(s *exposition.Snapshot) { s.QuotaOn, s.Quota = q.on(), q.Quota }

// expire drops a failed source's values once they are older than the
// staleness limit.
func (q *quotaSource) expire(now time.Time) {
	if q.Up || q.LastSuccess.IsZero() {
		return
	}
	if staleness := q.t.ex.opts.MaxStaleness; staleness > 0 && now.Before(q.LastSuccess.Add(staleness)) {
		return
	}
	q.Instances, q.Memory = exposition.QuotaValues{}, exposition.QuotaValues{}
}

func (q *quotaSource) describe(ts *TargetStatus) {
	if !q.on() {
		return
	}
	ts.Quota = &QuotaStatus{Attempted: q.Attempted, Up: q.Up, Quota: q.Quota, LastSuccess: q.LastSuccess, LastError: q.err}
}

// RefreshQuota reads the target's quota now, as a round of one target; for
// tests and the demo.
func (t *Target) RefreshQuota(ctx context.Context) {
	t.quota.refresh(ctx)
	t.ex.outGen.Add(1)
}

func (q *quotaSource) refresh(ctx context.Context) {
	t := q.t
	if !q.on() {
		return
	}
	t.mu.Lock()
	if q.running {
		t.mu.Unlock()
		return
	}
	q.running = true
	backingOff := t.ex.now().Before(t.backoff.until)
	t.mu.Unlock()
	defer func() {
		t.mu.Lock()
		q.running = false
		t.mu.Unlock()
	}()
	if backingOff {
		return // the key was refused or throttled: the next round tries again
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(t.ctx, cancel)
	defer stop()
	release, err := t.ex.gate(ctx)
	if err != nil {
		return // shutting down
	}
	callCtx, cancelCall := context.WithTimeout(ctx, t.cfg.Timeout)
	report, err := t.client.Quota(callCtx)
	cancelCall()
	release()
	if err != nil && ctx.Err() != nil {
		return // shutting down, or dropped by a reload
	}
	end := t.ex.now()
	var values exposition.Quota
	note := ""
	if err == nil {
		values, note = quotaValues(report)
	}

	t.mu.Lock()
	defer t.mu.Unlock()
	t.seriesChanged() // the schedule's round tells the assembled answer at its end
	q.Attempted = true
	if err == nil {
		if !q.Up && q.errKey != "" {
			t.logger.Info("quota call recovered", "after", q.errKey)
		}
		q.Instances, q.Memory = values.Instances, values.Memory
		q.LastSuccess, q.Up, q.err, q.errKey = end, true, nil, ""
		if note != q.noteKey {
			q.noteKey = note
			if note != "" {
				t.logger.Warn("quota: some values could not be used; their series are left out", "problem", note)
			}
		}
		return
	}
	q.Up, q.err = false, err
	q.expire(end)
	if dcsapi.IsThrottled(err) || dcsapi.IsAuthFailure(err) && !isForbidden(err) {
		t.applyBackoff(err, end)
	}
	if key := errorKey(err); key != q.errKey {
		q.errKey = key
		t.logger.Warn("quota call failed", append(errorAttrs(err), t.hintAttrs(diagnosis.StepQuota, err)...)...)
	}
}

// quotaValues takes the instance and memory quotas out of an answer, with
// the memory in bytes, and says what could not be used. The ram resource
// counts in GB (SDK services/dcs/v2/model/model_resources.go: "单位" and
// the documented examples' "unit": "GB"; OTC api-ref "Querying the Tenant
// Quotas"), which, as for the listing's capacity, is 2^30 bytes.
func quotaValues(r *dcsapi.QuotaReport) (exposition.Quota, string) {
	var out exposition.Quota
	var problems []string
	if q, ok := r.Resource(dcsapi.QuotaInstances); ok {
		out.Instances = exposition.QuotaValues{Limit: float64(q.Quota), Used: float64(q.Used), HasLimit: q.Has(dcsapi.QuotaLimit), HasUsed: q.Has(dcsapi.QuotaUsed)}
	} else {
		problems = append(problems, "no instance resource")
	}
	if q, ok := r.Resource(dcsapi.QuotaMemory); ok {
		var unit float64
		switch strings.ToUpper(q.Unit) {
		case "GB", "": // the documented unit; "" when the answer leaves it out
			unit = 1 << 30
		case "MB":
			unit = 1 << 20
		default:
			problems = append(problems, "ram in the unknown unit "+q.Unit)
		}
		if unit > 0 {
			out.Memory = exposition.QuotaValues{Limit: float64(q.Quota) * unit, Used: float64(q.Used) * unit, HasLimit: q.Has(dcsapi.QuotaLimit), HasUsed: q.Has(dcsapi.QuotaUsed)}
		}
	} else {
		problems = append(problems, "no ram resource")
	}
	if n := r.Dropped.Total(); n > 0 {
		problems = append(problems, "dropped "+r.Dropped.String())
	}
	return out, strings.Join(problems, "; ")
}
