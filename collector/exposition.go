package collector

// This file writes the per-target series in the Prometheus text format, as
// a pure function of a target's snapshot and the time. It changes nothing:
// the target's state is kept, and expired data dropped, in snapshot.go.

import (
	"bytes"
	"io"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dcs-exporter/dcs_exporter/config"
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
	famInstanceCreated
	famInstanceUpgradePending
	famInstanceMaintenance
	famListingUp
	famListingMismatch
	numFamilies
)

var families = [numFamilies]family{
	famUp:                     {"dcs_up", "Whether the last query of the target's instance status succeeded (1) or failed (0).", "gauge"},
	famScrapeDuration:         {"dcs_scrape_duration_seconds", "How long the last query of the target's instance status took.", "gauge"},
	famLastSuccess:            {"dcs_last_success_timestamp_seconds", "Unix time of the target's last successful instance status query.", "gauge"},
	famInstances:              {"dcs_instances", "Number of DCS instances in each state, per engine, as the status API counts them.", "gauge"},
	famInstancesAllEngines:    {"dcs_instances_all_engines", "Number of DCS instances in each state over all engines, as the status API counts them.", "gauge"},
	famAPIRequests:            {"dcs_api_requests_total", "API calls made for the target, by API and HTTP status code (\"error\" when there was no answer).", "counter"},
	famInstanceInfo:           {"dcs_instance_info", "Information about a DCS instance: its name, engine, spec, billing, enterprise project (\"0\" is the default one) and, as tag_<key>, the tags the target's instance_tags lists; always 1.", "gauge"},
	famInstanceStatus:         {"dcs_instance_status", "The current status of a DCS instance, as the API spells it; always 1.", "gauge"},
	famInstanceMemoryMax:      {"dcs_instance_memory_max_bytes", "Memory available to the cache of a DCS instance.", "gauge"},
	famInstanceMemoryUsed:     {"dcs_instance_memory_used_bytes", "Memory used by the cache of a DCS instance.", "gauge"},
	famInstanceCapacity:       {"dcs_instance_capacity_bytes", "Cache capacity of a DCS instance.", "gauge"},
	famInstanceCreated:        {"dcs_instance_created_timestamp_seconds", "Unix time at which a DCS instance was created; absent when the API does not say.", "gauge"},
	famInstanceUpgradePending: {"dcs_instance_upgrade_pending", "Whether an upgrade task is pending for a DCS instance (1) or not (0); absent when the API does not say.", "gauge"},
	famInstanceMaintenance:    {"dcs_instance_maintenance_window_active", "Whether the current UTC time is inside a DCS instance's daily maintenance window (1) or not (0): from its begin, included, to its end, excluded, past midnight when the end comes first; absent when the API gives no valid window.", "gauge"},
	famListingUp:              {"dcs_instances_listing_up", "Whether the last listing of the target's instances succeeded (1) or failed (0).", "gauge"},
	famListingMismatch:        {"dcs_instances_listing_mismatch", "Instances per state in the listing minus the status API's count; non-zero means the two APIs disagree.", "gauge"},
}

// instanceFamilies are the families with one series per instance that a
// listing renders once. dcs_instance_maintenance_window_active has one per
// instance too, but its values follow the clock (see maintenance.go).
var instanceFamilies = [...]int{famInstanceInfo, famInstanceStatus, famInstanceMemoryMax, famInstanceMemoryUsed,
	famInstanceCapacity, famInstanceCreated, famInstanceUpgradePending}

// headless marks the families with one series per instance. Their lines
// are kept without the metric name and the target's labels, which are the
// same on every line and would be most of a fleet's text: the writer puts
// them in front of each line (see appendHeadless).
var headless = func() (m [numFamilies]bool) {
	for _, f := range instanceFamilies {
		m[f] = true
	}
	m[famInstanceMaintenance] = true
	return m
}()

// targetSeries is one target's rendered sample lines, family by family,
// without the HELP and TYPE lines, which are written once for all targets.
// It never changes once rendered: scrapes still writing one out read it
// after a newer one has replaced it.
type targetSeries struct {
	lines  [numFamilies][]byte
	prefix string // the target's labels, for the lines of per-instance families
}

// instanceLines are the per-instance series of a listing, one slice per
// family of instanceFamilies, each line without its metric name and the
// target's labels. Rendered once per listing, they are shared by every
// targetSeries made from it, so that a fleet of 20,000 instances is not
// copied on every render, and stay right when the target's labels change.
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
// which they are valid: stale counts or a stale listing expire then, and
// instances enter or leave their maintenance windows. The zero time means
// until the snapshot changes.
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
	served := renderListing(out, s, now, expireAt)

	series := compactRendered(out)
	series.prefix = prefix
	if served {
		for i, f := range instanceFamilies {
			series.lines[f] = s.listing.lines[i]
		}
		if w := s.listing.windows; w != nil {
			lines, until := w.at(now)
			series.lines[famInstanceMaintenance] = lines
			expireAt(until)
		}
	}
	return series, validUntil
}

// renderCounts writes the status API's counts. The states and engines the API
// version documents are always written, 0 when absent, so that alerts on
// them do not go blind when the API leaves a zero out.
func renderCounts(out *renderBuffers, prefix string, version dcsapi.APIVersion, r *dcsapi.StatusReport) {
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
// status API, and reports whether its per-instance series are served. A
// failed listing's last result is served within the staleness limit, like
// the status counts.
func renderListing(out *renderBuffers, s *targetSnapshot, now time.Time, expireAt func(time.Time)) bool {
	l := &s.listing
	if !s.listed || !l.attempted {
		return false
	}
	out[famListingUp] = appendSample(out[famListingUp], famListingUp, s.labels, boolValue(l.up))
	if l.lastSuccess.IsZero() {
		return false
	}
	if !l.up {
		expiry := l.lastSuccess.Add(s.maxStaleness)
		if s.maxStaleness <= 0 || !now.Before(expiry) {
			return false
		}
		expireAt(expiry)
	}
	for _, d := range l.mismatch {
		out[famListingMismatch] = appendSample(out[famListingMismatch], famListingMismatch, s.labels, float64(d.diff), labelPair{"state", d.state})
	}
	return true
}

// renderInstances renders the per-instance families into one buffer sized
// from the instances, so that 20,000 instances take one allocation rather
// than a series of ever larger copies. Each family's slice is capped at its
// length: appending to it can never write into the next one. tags are the
// target's instance_tags, whose values each instance holds in their order.
func renderInstances(list []listedInstance, tags []config.InstanceTag) instanceLines {
	var lines instanceLines
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
		size += len(instanceFamilies)*len(in.id) + len(in.name) + len(in.engine) + len(in.engineVersion) + len(in.specCode) +
			len(in.chargingMode) + len(in.enterpriseProjectID) + len(in.status)
		for _, v := range in.tags {
			size += len(v)
		}
	}
	buf := make([]byte, 0, size)
	info := make([]labelPair, 0, 7+len(tags))
	for i, f := range instanceFamilies {
		start := len(buf)
		for j := range list {
			in := &list[j]
			id := labelPair{"instance_id", in.id}
			switch f {
			case famInstanceInfo:
				info = append(info[:0], id, labelPair{"name", in.name}, labelPair{"engine", in.engine},
					labelPair{"engine_version", in.engineVersion}, labelPair{"spec_code", in.specCode},
					labelPair{"charging_mode", in.chargingMode}, labelPair{"enterprise_project_id", in.enterpriseProjectID})
				for k, t := range tags {
					info = append(info, labelPair{t.Label, in.tags[k]})
				}
				buf = appendTail(buf, 1, info...)
			case famInstanceStatus:
				buf = appendTail(buf, 1, id, labelPair{"status", in.status})
			// The API gives memory in MB and capacity in GB; Prometheus wants bytes.
			case famInstanceMemoryMax:
				if in.maxMemoryMB != dcsapi.MemoryUnknown {
					buf = appendTail(buf, float64(in.maxMemoryMB)*(1<<20), id)
				}
			case famInstanceMemoryUsed:
				if in.usedMemoryMB != dcsapi.MemoryUnknown {
					buf = appendTail(buf, float64(in.usedMemoryMB)*(1<<20), id)
				}
			case famInstanceCapacity:
				buf = appendTail(buf, in.capacityGB*(1<<30), id)
			case famInstanceCreated:
				if in.createdMilli != 0 {
					buf = appendTail(buf, float64(in.createdMilli)/1000, id)
				}
			case famInstanceUpgradePending:
				if in.upgrade != upgradeUnknown {
					buf = appendTail(buf, boolValue(in.upgrade == upgradePending), id)
				}
			default:
				panic("collector: not a per-instance family: " + families[f].name)
			}
		}
		lines[i] = buf[start:len(buf):len(buf)]
	}
	return lines
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
// the client's, who left; nothing is left to do about them. Per-instance
// lines are completed in a buffer of about writeChunk bytes and written
// a chunk at a time, not line by line.
func writeFamilies(w io.Writer, outs []*targetSeries) {
	buf := writeScratch.Get().(*[]byte)
	b := (*buf)[:0]
	flush := func() {
		if len(b) > 0 {
			_, _ = w.Write(b)
			b = b[:0]
		}
	}
	eachFamilyPart(outs, func(f int) {
		b = appendHeader(b, families[f])
	}, func(head, lines []byte) {
		if head == nil {
			flush()
			_, _ = w.Write(lines)
			return
		}
		for len(lines) > 0 {
			b, lines = appendHeadless(b, head, lines, writeChunk)
			if len(b) >= writeChunk {
				flush()
			}
		}
	})
	flush()
	*buf = b[:0]
	writeScratch.Put(buf)
}

// writeChunk is how much of the per-instance series writeFamilies completes
// before writing it.
const writeChunk = 32 << 10

var writeScratch = sync.Pool{New: func() any { b := make([]byte, 0, writeChunk+4<<10); return &b }}

// appendFamilies is writeFamilies into a byte slice.
func appendFamilies(b []byte, outs []*targetSeries) []byte {
	eachFamilyPart(outs, func(f int) {
		b = appendHeader(b, families[f])
	}, func(head, lines []byte) {
		if head == nil {
			b = append(b, lines...)
			return
		}
		b, _ = appendHeadless(b, head, lines, math.MaxInt)
	})
	return b
}

// eachFamilyPart walks the output in exposition order: for each family that
// has samples, its header once, then every target's lines of it. The lines
// of a per-instance family come with the head each of them lacks; the
// others' head is nil.
func eachFamilyPart(outs []*targetSeries, header func(family int), part func(head, lines []byte)) {
	var head []byte
	for f := range numFamilies {
		wrote := false
		for _, out := range outs {
			if len(out.lines[f]) == 0 {
				continue
			}
			if !wrote {
				header(f)
				wrote = true
			}
			if !headless[f] {
				part(nil, out.lines[f])
				continue
			}
			head = appendHead(head[:0], f, out.prefix)
			part(head, out.lines[f])
		}
	}
}

// appendHeadless appends lines of a per-instance family, each after head,
// until b reaches limit bytes, and returns the lines left.
func appendHeadless(b, head, lines []byte, limit int) ([]byte, []byte) {
	for len(lines) > 0 && len(b) < limit {
		end := bytes.IndexByte(lines, '\n') + 1
		if end == 0 { // never rendered so; written whole rather than lost
			end = len(lines)
		}
		b = append(b, head...)
		b = append(b, lines[:end]...)
		lines = lines[end:]
	}
	return b, lines
}

// size is the length of the series once written.
func (s *targetSeries) size() int {
	n := 0
	var head []byte
	for f, lines := range s.lines {
		n += len(lines)
		if headless[f] && len(lines) > 0 {
			head = appendHead(head[:0], f, s.prefix)
			n += len(head) * bytes.Count(lines, []byte{'\n'})
		}
	}
	return n
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
	if len(extra) == 0 {
		b = append(b, families[f].name...)
		b = append(b, '{')
		b = append(b, prefix...)
		b = append(b, "} "...)
		b = appendFloat(b, value)
		return append(b, '\n')
	}
	return appendTail(appendHead(b, f, prefix), value, extra...)
}

// appendHead writes the start of a sample of family f that has labels
// after the target's: `name{<prefix>,`.
func appendHead(b []byte, f int, prefix string) []byte {
	b = append(b, families[f].name...)
	b = append(b, '{')
	if prefix != "" {
		b = append(b, prefix...)
		b = append(b, ',')
	}
	return b
}

// appendTail writes the rest of a sample: `k="v",...} value`, and the
// line's end.
func appendTail(b []byte, value float64, labels ...labelPair) []byte {
	for i, l := range labels {
		if i > 0 {
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
var renderScratch = sync.Pool{New: func() any { return new(renderBuffers) }}

// renderBuffers are the families of one target as they are rendered.
type renderBuffers [numFamilies][]byte

// maxScratch is the largest buffer set kept for reuse: a target with a
// very long mismatch list should not pin megabytes in the pool.
const maxScratch = 1 << 20

func getRenderScratch() *renderBuffers { return renderScratch.Get().(*renderBuffers) }

func putRenderScratch(s *renderBuffers) {
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
func compactRendered(s *renderBuffers) *targetSeries {
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
		out.lines[i] = block[start:len(block):len(block)] // full slice: an append can never reach the next family
	}
	return out
}
