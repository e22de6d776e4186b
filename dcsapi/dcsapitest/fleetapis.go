// This file serves the fleet APIs from the fake's fleet: the statistics of
// running instances, the tenant quota, the logical nodes of every instance
// and the backup records of one. Their numbers are drawn from each
// instance's ID and the fake's clock, so that they move over time the same
// way on every run, and switches pin or spoil them for tests.

package dcsapitest

import (
	"bytes"
	"hash/fnv"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The fleet APIs' names, the same as dcsapi's.
const (
	APIStatistics = "instance_statistics" // v2 and v1.0 .../instances/statistic
	APIQuota      = "quota"               // v2 and v1.0 .../quota
	APINodes      = "instance_nodes"      // v2 .../instances-logical-nodes
	APIBackups    = "backup_records"      // v2 and v1.0 .../instances/{id}/backups
)

// fleetKnobs are a project's switches of the fleet APIs. The zero value
// serves everything derived from the fleet.
type fleetKnobs struct {
	unavailable map[string]bool       // API name -> answers 404 APIGW.0101
	overrides   map[string][]byte     // API name -> exact 200 body
	statistics  map[string]Statistic  // instance -> pinned statistic
	quota       *QuotaLimits          // nil: derived from the fleet
	topologies  map[string]*nodeState // instance -> node switches
	backups     map[string]*backupState
}

// fleetRoute recognises the fleet APIs' paths; parts is the path split at
// "/" without the leading one.
func fleetRoute(r *http.Request, parts []string) (route, bool) {
	if r.Method != http.MethodGet || len(parts) < 3 || parts[1] == "" {
		return route{}, false
	}
	v1 := parts[0] == "v1.0"
	if parts[0] != "v2" && !v1 {
		return route{}, false
	}
	switch {
	case len(parts) == 4 && parts[2] == "instances" && parts[3] == "statistic":
		return route{api: APIStatistics, project: parts[1], v1: v1}, true
	case len(parts) == 3 && parts[2] == "quota":
		return route{api: APIQuota, project: parts[1], v1: v1}, true
	case len(parts) == 3 && parts[2] == "instances-logical-nodes" && !v1:
		// No v1.0 path is documented (OTC api-ref lists it under v2 only).
		offset, err := strconv.Atoi(r.URL.Query().Get("offset"))
		if err != nil {
			offset = 0
		}
		return route{api: APINodes, project: parts[1], offset: offset}, true
	case len(parts) == 5 && parts[2] == "instances" && parts[3] != "" && parts[4] == "backups":
		return route{api: APIBackups, project: parts[1], v1: v1, instance: parts[3]}, true
	}
	return route{}, false
}

// SetAPIAvailable with false makes both paths of a fleet API (APIStatistics,
// APIQuota, APINodes or APIBackups) answer 404 APIGW.0101 in the project,
// before the signature is checked, as a cloud that lacks the API does.
// For a 403 or another error on demand, use InjectFault with FaultStatus.
func (s *Server) SetAPIAvailable(projectID, api string, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := &s.projectLocked(projectID).fleet
	if k.unavailable == nil {
		k.unavailable = map[string]bool{}
	}
	k.unavailable[api] = !ok
}

func (s *Server) fleetAPIUnavailable(rt route) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.projects[rt.project]
	return p != nil && p.fleet.unavailable[rt.api]
}

// SetAnswerOverride makes a fleet API of the project answer 200 with
// exactly body, in both versions, for tests of odd answers; nil goes back
// to answers derived from the fleet.
func (s *Server) SetAnswerOverride(projectID, api string, body []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := &s.projectLocked(projectID).fleet
	if k.overrides == nil {
		k.overrides = map[string][]byte{}
	}
	if body == nil {
		delete(k.overrides, api)
		return
	}
	k.overrides[api] = bytes.Clone(body)
}

// fleetAnswer serves a fleet API, or returns nil for other APIs.
func (s *Server) fleetAnswer(r *http.Request, rt route, sh shape) *answer {
	switch rt.api {
	case APIStatistics, APIQuota, APINodes, APIBackups:
	default:
		return nil
	}
	now := s.now()
	s.mu.Lock()
	p := s.projects[rt.project]
	override := p.fleet.overrides[rt.api]
	recs := append([]record(nil), p.instances...)
	k := p.fleet.clone()
	s.mu.Unlock()
	if override != nil && sh == shapeNormal {
		return jsonAnswer(http.StatusOK, override)
	}
	var a *answer
	switch rt.api {
	case APIStatistics:
		a = jsonAnswer(http.StatusOK, statisticsBody(recs, k, now))
	case APIQuota:
		a = jsonAnswer(http.StatusOK, quotaBody(recs, k, rt.v1))
	case APINodes:
		a = nodesAnswer(r, recs, k)
	case APIBackups:
		a = backupsAnswer(r, rt, recs, k, now)
	}
	if sh == shapeStrings && a.status == http.StatusOK {
		a.body = numbersAsStrings(a.body)
	}
	return a
}

// clone copies the knobs a request reads, so that it can build its answer
// without the lock. The maps' values are never changed in place.
func (k *fleetKnobs) clone() fleetKnobs {
	c := fleetKnobs{quota: k.quota, statistics: map[string]Statistic{}, topologies: map[string]*nodeState{}, backups: map[string]*backupState{}}
	for id, st := range k.statistics {
		c.statistics[id] = st
	}
	for id, t := range k.topologies {
		c.topologies[id] = t.clone()
	}
	for id, b := range k.backups {
		c.backups[id] = b.clone()
	}
	return c
}

// numbersAsStrings quotes every bare JSON number of body, for
// FaultWrongTypes: a statistic whose keys is "12" is of the wrong type.
func numbersAsStrings(body []byte) []byte {
	out := make([]byte, 0, len(body)+len(body)/8)
	inString := false
	for i := 0; i < len(body); i++ {
		c := body[i]
		switch {
		case inString:
			out = append(out, c)
			if c == '\\' && i+1 < len(body) {
				i++
				out = append(out, body[i])
			} else if c == '"' {
				inString = false
			}
		case c == '"':
			inString = true
			out = append(out, c)
		case c == '-' || '0' <= c && c <= '9':
			j := i
			for j < len(body) && strings.IndexByte("+-.0123456789eE", body[j]) >= 0 {
				j++
			}
			out = append(append(append(out, '"'), body[i:j]...), '"')
			i = j - 1
		default:
			out = append(out, c)
		}
	}
	return out
}

// seedOf draws a stable number from an instance ID and a salt.
func seedOf(id string, salt uint64) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(id))
	x := h.Sum64() ^ salt*0x9e3779b97f4a7c15
	x ^= x >> 31
	x *= 0xbf58476d1ce4e5b9
	return x ^ x>>29
}

// wave is a value between 0 and 1 that goes round once a period, from a
// phase drawn from seed.
func wave(now time.Time, period time.Duration, seed uint64) float64 {
	phase := float64(seed%1000) / 1000
	turns := float64(now.UnixNano()%int64(period))/float64(period) + phase
	return (1 + math.Sin(2*math.Pi*turns)) / 2
}

// Statistic is the entry the statistics API serves for one instance,
// InstanceStatistic's fields (SDK model_instance_statistic.go). The three
// strings are sent as they are, so "N/A" or "" can be served.
type Statistic struct {
	Keys         int64
	UsedMemoryMB int64
	MaxMemoryMB  int64
	CmdGetCount  int64
	CmdSetCount  int64
	UsedCPU      string
	InputKbps    string
	OutputKbps   string
}

// SetStatistic pins the statistic served for one instance; nil goes back to
// the values derived from the fleet and the clock. The statistics API
// serves an instance only while it is RUNNING, pinned or not.
func (s *Server) SetStatistic(projectID, instanceID string, st *Statistic) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := &s.projectLocked(projectID).fleet
	if k.statistics == nil {
		k.statistics = map[string]Statistic{}
	}
	if st == nil {
		delete(k.statistics, instanceID)
		return
	}
	k.statistics[instanceID] = *st
}

// StatisticOf returns what the statistics API serves now for an instance,
// and whether it serves one (the instance exists and is RUNNING).
func (s *Server) StatisticOf(projectID, instanceID string) (Statistic, bool) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.projects[projectID]
	if p == nil {
		return Statistic{}, false
	}
	for _, rec := range p.instances {
		if rec.ID == instanceID && rec.Status == "RUNNING" {
			if st, ok := p.fleet.statistics[instanceID]; ok {
				return st, true
			}
			return derivedStatistic(rec, now), true
		}
	}
	return Statistic{}, false
}

// derivedStatistic draws an instance's statistic from its ID, its memory
// and the clock: memory within 1% of max around the listing's used_memory,
// so that a test's 95% instance stays at 95%; keys with it; the command
// counts grow from the creation time at a steady rate of the instance's
// own; CPU (a percentage, as the SDK's model says) and network in waves of
// a few minutes.
func derivedStatistic(rec record, now time.Time) Statistic {
	seed := seedOf(rec.ID, 0x73746174)
	maxMB := rec.MaxMemoryMB
	used := float64(rec.UsedMemoryMB) + float64(maxMB)*0.01*(2*wave(now, 15*time.Minute, seed)-1)
	used = math.Max(0, math.Min(float64(maxMB), math.Round(used)))
	age := max(0, now.Sub(rec.created).Seconds())
	getRate := float64(20 + seed%400)
	return Statistic{
		Keys:         int64(used * float64(800+seed%400) * (0.95 + 0.1*wave(now, 10*time.Minute, seed>>8))),
		UsedMemoryMB: int64(used),
		MaxMemoryMB:  maxMB,
		CmdGetCount:  int64(getRate * age),
		CmdSetCount:  int64(getRate / 4 * age),
		UsedCPU:      strconv.FormatFloat(2+30*wave(now, 5*time.Minute, seed>>16), 'f', 1, 64),
		InputKbps:    strconv.FormatFloat(getRate*0.4*(0.5+wave(now, 7*time.Minute, seed>>24)), 'f', 2, 64),
		OutputKbps:   strconv.FormatFloat(getRate*1.6*(0.5+wave(now, 7*time.Minute, seed>>32)), 'f', 2, 64),
	}
}

// statisticsBody is {"statistics": [...]} with one entry per RUNNING
// instance, in the fleet's order, the three strings as strings. It is
// written by hand: 20,000 entries through encoding/json would make the
// fake, not the client, the cost of a benchmark.
func statisticsBody(recs []record, k fleetKnobs, now time.Time) []byte {
	b := make([]byte, 0, 64+len(recs)*240)
	b = append(b, `{"statistics":[`...)
	first := true
	for _, rec := range recs {
		if rec.Status != "RUNNING" {
			continue
		}
		st, pinned := k.statistics[rec.ID]
		if !pinned {
			st = derivedStatistic(rec, now)
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = append(b, `{"instance_id":`...)
		b = strconv.AppendQuote(b, rec.ID)
		for _, f := range [...]struct {
			name string
			v    int64
		}{{"keys", st.Keys}, {"used_memory", st.UsedMemoryMB}, {"max_memory", st.MaxMemoryMB}, {"cmd_get_count", st.CmdGetCount}, {"cmd_set_count", st.CmdSetCount}} {
			b = append(append(append(b, ",\""...), f.name...), "\":"...)
			b = strconv.AppendInt(b, f.v, 10)
		}
		for _, f := range [...]struct{ name, v string }{{"used_cpu", st.UsedCPU}, {"input_kbps", st.InputKbps}, {"output_kbps", st.OutputKbps}} {
			b = append(append(append(b, ",\""...), f.name...), "\":"...)
			b = strconv.AppendQuote(b, f.v)
		}
		b = append(b, '}')
	}
	return append(b, "]}"...)
}

// StatisticsAnswer is the body the statistics API would serve for a fleet
// at a time, for benchmarks of decoding without a server.
func StatisticsAnswer(fleet []Instance, now time.Time) []byte {
	recs := make([]record, len(fleet))
	for i, in := range fleet {
		recs[i] = record{Instance: in, created: createdBase.Add(time.Duration(i) * time.Minute), seq: i}
	}
	return statisticsBody(recs, fleetKnobs{}, now)
}
