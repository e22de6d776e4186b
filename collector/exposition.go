package collector

import (
	"math"
	"strconv"
	"strings"
	"sync"
)

// family is one metric family of the per-target output. The exporter writes
// these in the Prometheus text format itself, rather than through
// client_golang's registry, so that a cached target costs nothing to serve:
// its lines are rendered once per refresh and then copied.
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

// appendSample writes `name{<prefix>,k="v",...} value`. prefix holds the
// target's labels already rendered, without braces.
func appendSample(b []byte, name, prefix string, value float64, extra ...labelPair) []byte {
	b = append(b, name...)
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
var renderScratch = sync.Pool{New: func() any { return new([numFamilies][]byte) }}

// maxScratch is the largest buffer set kept for reuse: a target listing
// tens of thousands of instances should not pin megabytes in the pool.
const maxScratch = 1 << 20

func getRenderScratch() *[numFamilies][]byte { return renderScratch.Get().(*[numFamilies][]byte) }

func putRenderScratch(s *[numFamilies][]byte) {
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
func compactRendered(s *[numFamilies][]byte) *[numFamilies][]byte {
	total := 0
	for _, b := range s {
		total += len(b)
	}
	block := make([]byte, 0, total)
	out := new([numFamilies][]byte)
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
