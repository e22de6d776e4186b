package exposition

// This file renders the quota source's part: the call's health, and how
// many instances and how much memory the project may have and has.

import "time"

// Quota is the quota source's part of a snapshot.
type Quota struct {
	Instances QuotaValues // in instances
	Memory    QuotaValues // in bytes
	// LastSuccess is when the last successful call ended.
	LastSuccess time.Time
	Attempted   bool // a call has ended
	Up          bool
}

// QuotaValues are one resource's limit and use; a value the API did not
// send usably is left out.
type QuotaValues struct {
	Limit, Used       float64
	HasLimit, HasUsed bool
}

// renderQuota writes the quota call's health and, while they are fresh,
// its values.
func renderQuota(out *renderBuffers, s *Snapshot, now time.Time, expireAt func(time.Time)) {
	q := &s.Quota
	if !s.QuotaOn || !q.Attempted {
		return
	}
	out[FamQuotaUp] = appendSample(out[FamQuotaUp], FamQuotaUp, s.Labels, boolValue(q.Up))
	if !servedWithin(q.Up, q.LastSuccess, s.MaxStaleness, now, expireAt) {
		return
	}
	for _, v := range [...]struct {
		f   Family
		v   float64
		has bool
	}{
		{FamQuotaInstancesLimit, q.Instances.Limit, q.Instances.HasLimit},
		{FamQuotaInstancesUsed, q.Instances.Used, q.Instances.HasUsed},
		{FamQuotaMemoryLimit, q.Memory.Limit, q.Memory.HasLimit},
		{FamQuotaMemoryUsed, q.Memory.Used, q.Memory.HasUsed},
	} {
		if v.has {
			out[v.f] = appendSample(out[v.f], v.f, s.Labels, v.v)
		}
	}
}
