package exposition

// This file renders the listing source's part: the listing's health, its
// cross-check against the status API, and one series per instance and
// family, rendered once per listing.

import (
	"time"

	"github.com/dcs-exporter/dcs_exporter/config"
)

// Listing is the listing source's part of a snapshot.
type Listing struct {
	Lines       InstanceLines   // the instances' series, rendered once per listing by RenderInstances
	Windows     *WindowSchedule // the instances' maintenance windows; nil when none has one
	Mismatch    []StateDiff     // from the last success; nil when no fresh status counts came with it
	LastSuccess time.Time
	Attempted   bool // a listing has ended
	Up          bool
}

// StateDiff is one state of the cross-check between the two APIs: the
// listing's count minus the status API's.
type StateDiff struct {
	State string
	Diff  int64
}

// Instance is what the exporter keeps of a listed instance: only what it
// renders, with the values most instances share interned, so that a fleet
// of 20,000 costs a few megabytes.
type Instance struct {
	ID, Name, Engine, EngineVersion, Status, SpecCode, ChargingMode string
	EnterpriseProjectID                                             string
	Tags                                                            []string // the values of the target's instance_tags, in its order; "" for one it lacks

	MaxMemoryMB, UsedMemoryMB int64 // negative: unknown, not rendered
	CapacityGB                float64
	CreatedMilli              int64 // Unix milliseconds; 0 when unknown
	Window                    DailyWindow
	Upgrade                   UpgradeState
}

// UpgradeState is the API's service_upgrade, which may be missing.
type UpgradeState int8

const (
	UpgradeUnknown UpgradeState = iota
	UpgradeNone
	UpgradePending
)

// InstanceLines are the per-instance series of a listing, one slice per
// family of InstanceFamilies, each line without its metric name and the
// target's labels. Rendered once per listing, they are shared by every
// Series made from it, so that a fleet of 20,000 instances is not copied on
// every render, and stay right when the target's labels change.
type InstanceLines [len(instanceFamilies)][]byte

// renderListing writes the listing's health and its cross-check against the
// status API, and reports whether its per-instance series are served. A
// failed listing's last result is served within the staleness limit, like
// the status counts.
func renderListing(out *renderBuffers, s *Snapshot, now time.Time, expireAt func(time.Time)) bool {
	l := &s.Listing
	if !s.Listed || !l.Attempted {
		return false
	}
	out[FamListingUp] = appendSample(out[FamListingUp], FamListingUp, s.Labels, boolValue(l.Up))
	if l.LastSuccess.IsZero() {
		return false
	}
	if !l.Up {
		expiry := l.LastSuccess.Add(s.MaxStaleness)
		if s.MaxStaleness <= 0 || !now.Before(expiry) {
			return false
		}
		expireAt(expiry)
	}
	for _, d := range l.Mismatch {
		out[FamListingMismatch] = appendSample(out[FamListingMismatch], FamListingMismatch, s.Labels, float64(d.Diff), labelPair{"state", d.State})
	}
	return true
}

// RenderInstances renders the per-instance families into one buffer sized
// from the instances, so that 20,000 instances take one allocation rather
// than a series of ever larger copies. Each family's slice is capped at its
// length: appending to it can never write into the next one. tags are the
// target's instance_tags, whose values each instance holds in their order.
func RenderInstances(list []Instance, tags []config.InstanceTag) InstanceLines {
	var lines InstanceLines
	if len(list) == 0 {
		return lines
	}
	// Per instance: each family's instance_id and the punctuation around
	// it, and a number; the info labels.
	fixed := len(`,name="",engine="",engine_version="",spec_code="",charging_mode="",enterprise_project_id=""`) + len(`,status=""`)
	for _, t := range tags {
		fixed += len(`,=""`) + len(t.Label)
	}
	fixed += len(instanceFamilies) * (len(`instance_id=""} `) + 24 + len("\n"))
	size := len(list) * fixed
	for i := range list {
		in := &list[i]
		size += len(instanceFamilies)*len(in.ID) + len(in.Name) + len(in.Engine) + len(in.EngineVersion) + len(in.SpecCode) +
			len(in.ChargingMode) + len(in.EnterpriseProjectID) + len(in.Status)
		for _, v := range in.Tags {
			size += len(v)
		}
	}
	buf := make([]byte, 0, size)
	info := make([]labelPair, 0, 7+len(tags))
	for i, f := range instanceFamilies {
		start := len(buf)
		for j := range list {
			in := &list[j]
			id := labelPair{"instance_id", in.ID}
			switch f {
			case FamInstanceInfo:
				info = append(info[:0], id, labelPair{"name", in.Name}, labelPair{"engine", in.Engine},
					labelPair{"engine_version", in.EngineVersion}, labelPair{"spec_code", in.SpecCode},
					labelPair{"charging_mode", in.ChargingMode}, labelPair{"enterprise_project_id", in.EnterpriseProjectID})
				for k, t := range tags {
					info = append(info, labelPair{t.Label, in.Tags[k]})
				}
				buf = appendTail(buf, 1, info...)
			case FamInstanceStatus:
				buf = appendTail(buf, 1, id, labelPair{"status", in.Status})
			// The API gives memory in MB and capacity in GB; Prometheus wants bytes.
			// A negative size is one the API sent as a number that cannot
			// be a size (dcsapi.MemoryUnknown): that series is left out.
			case FamInstanceMemoryMax:
				if in.MaxMemoryMB >= 0 {
					buf = appendTail(buf, float64(in.MaxMemoryMB)*(1<<20), id)
				}
			case FamInstanceMemoryUsed:
				if in.UsedMemoryMB >= 0 {
					buf = appendTail(buf, float64(in.UsedMemoryMB)*(1<<20), id)
				}
			case FamInstanceCapacity:
				buf = appendTail(buf, in.CapacityGB*(1<<30), id)
			case FamInstanceCreated:
				if in.CreatedMilli != 0 {
					buf = appendTail(buf, float64(in.CreatedMilli)/1000, id)
				}
			case FamInstanceUpgradePending:
				if in.Upgrade != UpgradeUnknown {
					buf = appendTail(buf, boolValue(in.Upgrade == UpgradePending), id)
				}
			default:
				panic("exposition: not a per-instance family: " + families[f].name)
			}
		}
		lines[i] = buf[start:len(buf):len(buf)]
	}
	return lines
}
