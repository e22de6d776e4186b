package collector

// This file writes the per-target series in the Prometheus text format, as
// a pure function of a target's snapshot and the time. It changes nothing:
// the target's state is kept, and expired data dropped, in snapshot.go.

import (
	"io"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dcs-exporter/dcs_exporter/dcsapi"
)

// family is one metric family of the per-target output. The exporter writes
// these in the Prometheus text format itself, rather than through
// client_golang's registry, so that a cached target costs nothing to serve:
// its lines are rendered once per change and then copied.
type family struct {
	name, help, typ string
}

// The per-target families, in output order.
const (
	famUp = iota
	famScrapeDuration
	famLastSuccess
	famInstances
	famInstancesAllEngines
	famAPIRequests
	famInstanceInfo
	famInstanceStatus
	famInstanceMemoryMax
	famInstanceMemoryUsed
	famInstanceCapacity
	famListingUp
	famListingMismatch
	numFamilies
)

var families = [numFamilies]family{
	famUp:                  {"dcs_up", "Whether the last query of the target's instance status succeeded (1) or failed (0).", "gauge"},
	famScrapeDuration:      {"dcs_scrape_duration_seconds", "How long the last query of the target's instance status took.", "gauge"},
	famLastSuccess:         {"dcs_last_success_timestamp_seconds", "Unix time of the target's last successful instance status query.", "gauge"},
	famInstances:           {"dcs_instances", "Number of DCS instances in each state, per engine, as the status API counts them.", "gauge"},
	famInstancesAllEngines: {"dcs_instances_all_engines", "Number of DCS instances in each state over all engines, as the status API counts them.", "gauge"},
	famAPIRequests:         {"dcs_api_requests_total", "API calls made for the target, by API and HTTP status code (\"error\" when there was no answer).", "counter"},
	famInstanceInfo:        {"dcs_instance_info", "Information about a DCS instance; always 1.", "gauge"},
	famInstanceStatus:      {"dcs_instance_status", "The current status of a DCS instance, as the API spells it; always 1.", "gauge"},
	famInstanceMemoryMax:   {"dcs_instance_memory_max_bytes", "Memory available to the cache of a DCS instance.", "gauge"},
	famInstanceMemoryUsed:  {"dcs_instance_memory_used_bytes", "Memory used by the cache of a DCS instance.", "gauge"},
	famInstanceCapacity:    {"dcs_instance_capacity_bytes", "Cache capacity of a DCS instance.", "gauge"},
	famListingUp:           {"dcs_instances_listing_up", "Whether the last listing of the target's instances succeeded (1) or failed (0).", "gauge"},
	famListingMismatch:     {"dcs_instances_listing_mismatch", "Instances per state in the listing minus the status API's count; non-zero means the two APIs disagree.", "gauge"},
}

// instanceFamilies are the families with one series per instance.
var instanceFamilies = [...]int{famInstanceInfo, famInstanceStatus, famInstanceMemoryMax, famInstanceMemoryUsed, famInstanceCapacity}

// targetSeries is one target's rendered sample lines, family by family,
// without the HELP and TYPE lines, which are written once for all targets.
// It never changes once rendered: scrapes still writing one out read it
// after a newer one has replaced it.
type targetSeries [numFamilies][]byte

// instanceLines are the per-instance series of a listing, one slice per
// family of instanceFamilies. Rendered once per listing, they are shared by
// every targetSeries made from it, so that a fleet of 20,000 instances is
// not copied on every render.
type instanceLines [len(instanceFamilies)][]byte

// targetSnapshot is everything a target's series are rendered from, copied
// under the target's lock. Nothing in it is changed after the copy: the
// report and the listing's slices are replaced, never written to.
type targetSnapshot struct {
	labels       string // the target's labels, rendered by targetLabels
	apiVersion   dcsapi.APIVersion
	maxStaleness time.Duration // how long counts are served after a failure
	status       statusResult
	requests     []requestCount
	listed       bool // the target lists its instances
	listing      listingResult
}

// renderTarget returns a target's series as of now, and the time until
// which they are valid: stale counts or a stale listing expire then. The
// zero time means until the snapshot changes.
func renderTarget(s *targetSnapshot, now time.Time) (*targetSeries, time.Time) {
	var validUntil time.Time
	expireAt := func(t time.Time) {
		if validUntil.IsZero() || t.Before(validUntil) {
			validUntil = t
		}
	}
	// Rendered into reused buffers, then copied to one exact-size block.
	out := getRenderScratch()
	defer putRenderScratch(out)
	for i := range out {
		out[i] = out[i][:0]
	}
	st, prefix := &s.status, s.labels

	out[famUp] = appendSample(out[famUp], famUp, prefix, boolValue(st.up))
	if st.attempted {
		out[famScrapeDuration] = appendSample(out[famScrapeDuration], famScrapeDuration, prefix, st.duration.Seconds())
	}
	if !st.lastSuccess.IsZero() {
		out[famLastSuccess] = appendSample(out[famLastSuccess], famLastSuccess, prefix, float64(st.lastSuccess.UnixMilli())/1000)
	}
	if st.report != nil {
		fresh := st.up
		if !fresh && s.maxStaleness > 0 {
			if expiry := st.lastSuccess.Add(s.maxStaleness); now.Before(expiry) {
				fresh = true
				expireAt(expiry)
			}
		}
		if fresh {
			renderCounts(out, prefix, s.apiVersion, st.report)
		}
	}
	for _, c := range s.requests {
		out[famAPIRequests] = appendSample(out[famAPIRequests], famAPIRequests, prefix, float64(c.n), labelPair{"api", c.api}, labelPair{"code", c.code})
	}
	lines, served := renderListing(out, s, now, expireAt)

	series := compactRendered(out)
	if served {
		for i, f := range instanceFamilies {
			series[f] = lines[i]
		}
	}
	return series, validUntil
}

// renderCounts writes the status API's counts. The states and engines the API
// version documents are always written, 0 when absent, so that alerts on
// them do not go blind when the API leaves a zero out.
func renderCounts(out *targetSeries, prefix string, version dcsapi.APIVersion, r *dcsapi.StatusReport) {
	documented := dcsapi.DocumentedStates(version)
	for _, state := range unionSorted(documented, r.Total) {
		out[famInstancesAllEngines] = appendSample(out[famInstancesAllEngines], famInstancesAllEngines, prefix, float64(r.Total[state]), labelPair{"state", state})
	}
	engines := dcsapi.DocumentedEngines(version)
	for _, engine := range unionSorted(engines, r.Engines) {
		counts := r.Engines[engine]
		var states []string
		if slices.Contains(engines, engine) {
			states = unionSorted(dcsapi.DocumentedEngineStates(version), counts)
		} else {
			states = unionSorted(nil, counts)
		}
		for _, state := range states {
			out[famInstances] = appendSample(out[famInstances], famInstances, prefix, float64(counts[state]), labelPair{"engine", engine}, labelPair{"state", state})
		}
	}
}

// renderListing writes the listing's health and its cross-check against the
// status API, and returns the per-instance lines to serve, if any. A failed
// listing's last result is served within the staleness limit, like the
// status counts.
func renderListing(out *targetSeries, s *targetSnapshot, now time.Time, expireAt func(time.Time)) (instanceLines, bool) {
	l := &s.listing
	if !s.listed || !l.attempted {
		return instanceLines{}, false
	}
	out[famListingUp] = appendSample(out[famListingUp], famListingUp, s.labels, boolValue(l.up))
	if l.lastSuccess.IsZero() {
		return instanceLines{}, false
	}
	if !l.up {
		expiry := l.lastSuccess.Add(s.maxStaleness)
		if s.maxStaleness <= 0 || !now.Before(expiry) {
			return instanceLines{}, false
		}
		expireAt(expiry)
	}
	for _, d := range l.mismatch {
		out[famListingMismatch] = appendSample(out[famListingMismatch], famListingMismatch, s.labels, float64(d.diff), labelPair{"state", d.state})
	}
	return l.lines, true
}

// renderInstances renders the per-instance families into one buffer sized
// from the instances, so that 20,000 instances take one allocation rather
// than a series of ever larger copies. Each family's slice is capped at its
// length: appending to it can never write into the next one.
func renderInstances(list []listedInstance, prefix string) instanceLines {
	var lines instanceLines
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
	id := labelPair{"instance_id", in.id}
	switch f {
	case famInstanceInfo:
		return appendSample(b, f, prefix, 1, id, labelPair{"name", in.name}, labelPair{"engine", in.engine},
			labelPair{"engine_version", in.engineVersion}, labelPair{"spec_code", in.specCode}, labelPair{"charging_mode", in.chargingMode})
	case famInstanceStatus:
		return appendSample(b, f, prefix, 1, id, labelPair{"status", in.status})
	// The API gives memory in MB and capacity in GB; Prometheus wants bytes.
	case famInstanceMemoryMax:
		return appendSample(b, f, prefix, float64(in.maxMemoryMB)*(1<<20), id)
	case famInstanceMemoryUsed:
		return appendSample(b, f, prefix, float64(in.usedMemoryMB)*(1<<20), id)
	case famInstanceCapacity:
		return appendSample(b, f, prefix, in.capacityGB*(1<<30), id)
	}
	panic("collector: not a per-instance family: " + families[f].name)
}

// unionSorted returns the sorted union of list and m's keys.
func unionSorted[V any](list []string, m map[string]V) []string {
	out := make([]string, 0, len(list)+len(m))
	out = append(out, list...)
	for k := range m {
		if !slices.Contains(list, k) {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// Joining targets: each family once, with every target's lines of it.

// writeFamilies writes the targets' series family by family. Errors are
// the client's, who left; nothing is left to do about them.
func writeFamilies(w io.Writer, outs []*targetSeries) {
	var header []byte
	eachFamilyPart(outs, func(f int) {
		header = appendHeader(header[:0], families[f])
		_, _ = w.Write(header)
	}, func(lines []byte) {
		_, _ = w.Write(lines)
	})
}

// appendFamilies is writeFamilies into a byte slice.
func appendFamilies(b []byte, outs []*targetSeries) []byte {
	eachFamilyPart(outs, func(f int) {
		b = appendHeader(b, families[f])
	}, func(lines []byte) {
		b = append(b, lines...)
	})
	return b
}

// eachFamilyPart walks the output in exposition order: for each family that
// has samples, its header once, then every target's lines of it.
func eachFamilyPart(outs []*targetSeries, header func(family int), lines func([]byte)) {
	for f := range numFamilies {
		wrote := false
		for _, out := range outs {
			if len(out[f]) == 0 {
				continue
			}
			if !wrote {
				header(f)
				wrote = true
			}
			lines(out[f])
		}
	}
}

// The text format, line by line.

// appendHeader writes a family's HELP and TYPE lines.
func appendHeader(b []byte, f family) []byte {
	b = append(b, "# HELP "...)
	b = append(b, f.name...)
	b = append(b, ' ')
	b = append(b, f.help...)
	b = append(b, "\n# TYPE "...)
	b = append(b, f.name...)
	b = append(b, ' ')
	b = append(b, f.typ...)
	return append(b, '\n')
}

// labelPair is one extra label of a sample.
type labelPair struct{ name, value string }

// appendSample writes `name{<prefix>,k="v",...} value` for family f. prefix
// holds the target's labels already rendered, without braces.
func appendSample(b []byte, f int, prefix string, value float64, extra ...labelPair) []byte {
	b = append(b, families[f].name...)
	b = append(b, '{')
	b = append(b, prefix...)
	for i, l := range extra {
		if i > 0 || prefix != "" {
			b = append(b, ',')
		}
		b = appendLabel(b, l.name, l.value)
	}
	b = append(b, "} "...)
	b = appendFloat(b, value)
	return append(b, '\n')
}

func appendLabel(b []byte, name, value string) []byte {
	b = append(b, name...)
	b = append(b, '=', '"')
	b = appendEscapedLabelValue(b, value)
	return append(b, '"')
}

// appendEscapedLabelValue escapes as the text format requires: backslash,
// double quote and line feed.
func appendEscapedLabelValue(b []byte, v string) []byte {
	if !strings.ContainsAny(v, "\\\"\n") {
		return append(b, v...)
	}
	for i := 0; i < len(v); i++ {
		switch c := v[i]; c {
		case '\\':
			b = append(b, '\\', '\\')
		case '"':
			b = append(b, '\\', '"')
		case '\n':
			b = append(b, '\\', 'n')
		default:
			b = append(b, c)
		}
	}
	return b
}

func appendFloat(b []byte, v float64) []byte {
	switch {
	case math.IsInf(v, 1):
		return append(b, "+Inf"...)
	case math.IsInf(v, -1):
		return append(b, "-Inf"...)
	case math.IsNaN(v):
		return append(b, "NaN"...)
	case v == math.Trunc(v) && math.Abs(v) < 1e15:
		return strconv.AppendInt(b, int64(v), 10)
	}
	return strconv.AppendFloat(b, v, 'g', -1, 64)
}

// targetLabels renders the labels every series of a target carries.
func targetLabels(name, region, projectID string, extra map[string]string, extraNames []string) string {
	b := make([]byte, 0, 64)
	b = appendLabel(b, "target", name)
	b = append(b, ',')
	b = appendLabel(b, "region", region)
	b = append(b, ',')
	b = appendLabel(b, "project_id", projectID)
	for _, n := range extraNames {
		b = append(b, ',')
		b = appendLabel(b, n, extra[n])
	}
	return string(b)
}

// renderScratch holds buffers to render into. Rendering appends line by
// line, so its buffers grow by doubling; kept for good, such buffers would
// carry up to half again as much slack as text, and every render would
// leave its smaller predecessors behind as garbage. A target keeps
// compactRendered's exact copy instead.
var renderScratch = sync.Pool{New: func() any { return new(targetSeries) }}

// maxScratch is the largest buffer set kept for reuse: a target with a
// very long mismatch list should not pin megabytes in the pool.
const maxScratch = 1 << 20

func getRenderScratch() *targetSeries { return renderScratch.Get().(*targetSeries) }

func putRenderScratch(s *targetSeries) {
	total := 0
	for _, b := range s {
		total += cap(b)
	}
	if total <= maxScratch {
		renderScratch.Put(s)
	}
}

// compactRendered copies rendered families into one block of exactly their
// size.
func compactRendered(s *targetSeries) *targetSeries {
	total := 0
	for _, b := range s {
		total += len(b)
	}
	block := make([]byte, 0, total)
	out := new(targetSeries)
	for i, b := range s {
		if len(b) == 0 {
			continue
		}
		start := len(block)
		block = append(block, b...)
		out[i] = block[start:len(block):len(block)] // full slice: an append can never reach the next family
	}
	return out
}
