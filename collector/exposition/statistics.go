package exposition

// This file renders the statistics source's part: the call's health, and
// one series per running instance and family (keys, memory, network),
// rendered once per answer like the listing's.

import (
	"slices"
	"time"
)

// Statistics is the statistics source's part of a snapshot.
type Statistics struct {
	Lines       StatisticLines // rendered once per answer by RenderStatistics
	LastSuccess time.Time
	Attempted   bool // a call has ended
	Up          bool
}

// statisticFamilies are the families the statistics answer renders, one
// series per running instance. The two memory families are the listing's
// too: Render takes them from here when the target reads statistics.
var statisticFamilies = [...]Family{FamInstanceMemoryMax, FamInstanceMemoryUsed, FamInstanceKeys,
	FamInstanceNetworkReceive, FamInstanceNetworkTransmit}

func fromStatistics(f Family) bool { return slices.Contains(statisticFamilies[:], f) }

// StatisticFamilies returns the families a statistics answer renders, in
// the order of StatisticLines.
func StatisticFamilies() []Family { return append([]Family(nil), statisticFamilies[:]...) }

// StatisticLines are the per-instance series of one statistics answer, one
// slice per family of StatisticFamilies, each line without its metric name
// and the target's labels.
type StatisticLines [len(statisticFamilies)][]byte

// InstanceStatistic is what the exporter keeps of one running instance's
// statistics, in the API's units. A value the API did not send usably is
// not in Has, and its series is left out for that instance alone.
type InstanceStatistic struct {
	ID                        string
	Keys                      int64
	UsedMemoryMB, MaxMemoryMB int64
	// InputKbps and OutputKbps are kbit/s, as the DCS API reference says:
	// OTC api-ref v2 and v1.0 "Querying Statistics of All Running
	// Instances" ("Incoming traffic (kbit/s)"), and Huawei's v2 pages of
	// ListStatisticsOfRunningInstances ("(Kbit/s)"). One Huawei v1.0 page
	// says KB/s; see docs/fleet-apis.md, section 1.1.
	InputKbps, OutputKbps float64
	Has                   StatisticValues
}

// StatisticValues is a set of the values of an InstanceStatistic.
type StatisticValues uint8

// The values of an InstanceStatistic.
const (
	HasKeys StatisticValues = 1 << iota
	HasUsedMemory
	HasMaxMemory
	HasInput
	HasOutput
)

// RenderStatistics renders the per-instance families of one answer into one
// buffer sized from the instances, each family's slice capped at its
// length, as RenderInstances does for a listing.
func RenderStatistics(list []InstanceStatistic) StatisticLines {
	var lines StatisticLines
	if len(list) == 0 {
		return lines
	}
	size := 0
	for i := range list {
		size += len(statisticFamilies) * (len(`instance_id=""} `) + len(list[i].ID) + 24 + 1)
	}
	buf := make([]byte, 0, size)
	for i, f := range statisticFamilies {
		start := len(buf)
		for j := range list {
			st := &list[j]
			id := labelPair{"instance_id", st.ID}
			switch f {
			// Memory comes in MB (every source; the SDK says 单位：MB), as in
			// the listing, which is rendered with the same factor.
			case FamInstanceMemoryMax:
				if st.Has&HasMaxMemory != 0 {
					buf = appendTail(buf, float64(st.MaxMemoryMB)*(1<<20), id)
				}
			case FamInstanceMemoryUsed:
				if st.Has&HasUsedMemory != 0 {
					buf = appendTail(buf, float64(st.UsedMemoryMB)*(1<<20), id)
				}
			case FamInstanceKeys:
				if st.Has&HasKeys != 0 {
					buf = appendTail(buf, float64(st.Keys), id)
				}
			// kbit/s in bytes per second: 1000 bits (the SI kilo of data
			// rates), 8 bits a byte; multiplied first, so that decimal
			// strings such as "64.62" come out exact.
			case FamInstanceNetworkReceive:
				if st.Has&HasInput != 0 {
					buf = appendTail(buf, st.InputKbps*1000/8, id)
				}
			case FamInstanceNetworkTransmit:
				if st.Has&HasOutput != 0 {
					buf = appendTail(buf, st.OutputKbps*1000/8, id)
				}
			default:
				panic("exposition: not a statistics family: " + families[f].name)
			}
		}
		lines[i] = buf[start:len(buf):len(buf)]
	}
	return lines
}

// renderStatistics writes the statistics call's health and reports whether
// its per-instance series are served: after a success, or after a failure
// within the staleness limit, as for the listing.
func renderStatistics(out *renderBuffers, s *Snapshot, now time.Time, expireAt func(time.Time)) bool {
	st := &s.Statistics
	if !s.StatisticsOn || !st.Attempted {
		return false
	}
	out[FamStatisticsUp] = appendSample(out[FamStatisticsUp], FamStatisticsUp, s.Labels, boolValue(st.Up))
	return servedWithin(st.Up, st.LastSuccess, s.MaxStaleness, now, expireAt)
}

// servedWithin reports whether data from a source whose last call
// succeeded or not (up), and whose last success was at last, is still
// served at now; when it is only because it is not yet too old, expireAt
// learns when it stops.
func servedWithin(up bool, last time.Time, maxStaleness time.Duration, now time.Time, expireAt func(time.Time)) bool {
	if last.IsZero() {
		return false
	}
	if up {
		return true
	}
	expiry := last.Add(maxStaleness)
	if maxStaleness <= 0 || !now.Before(expiry) {
		return false
	}
	expireAt(expiry)
	return true
}
