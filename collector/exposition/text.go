package exposition

// This file writes the text format: the lines of many targets joined family
// by family, and each line from its parts.

import (
	"bytes"
	"io"
	"math"
	"strconv"
	"strings"
	"sync"
)

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// Joining targets: each family once, with every target's lines of it.

// WriteFamilies writes the targets' series family by family. Errors are
// the client's, who left; nothing is left to do about them. Per-instance
// lines are completed in a buffer of about writeChunk bytes and written
// a chunk at a time, not line by line.
func WriteFamilies(w io.Writer, outs []*Series) {
	buf := writeScratch.Get().(*[]byte)
	b := (*buf)[:0]
	flush := func() {
		if len(b) > 0 {
			_, _ = w.Write(b)
			b = b[:0]
		}
	}
	eachFamilyPart(outs, func(f Family) {
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

// writeChunk is how much of the per-instance series WriteFamilies completes
// before writing it.
const writeChunk = 32 << 10

var writeScratch = sync.Pool{New: func() any { b := make([]byte, 0, writeChunk+4<<10); return &b }}

// AppendFamilies is WriteFamilies into a byte slice.
func AppendFamilies(b []byte, outs []*Series) []byte {
	eachFamilyPart(outs, func(f Family) {
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
func eachFamilyPart(outs []*Series, header func(f Family), part func(head, lines []byte)) {
	var head []byte
	for f := range NumFamilies {
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
func appendSample(b []byte, f Family, prefix string, value float64, extra ...labelPair) []byte {
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
func appendHead(b []byte, f Family, prefix string) []byte {
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

// TargetLabels renders the labels every series of a target carries.
func TargetLabels(name, region, projectID string, extra map[string]string, extraNames []string) string {
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
