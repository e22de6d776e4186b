package main

import (
	"fmt"
	"io"
	"sort"
	"strings"
)

// row is one line of the result table.
type row struct {
	figure   string
	name     string
	measured string
	baseline string
	ratio    string
	target   string
	pass     string
}

// The pass column: a figure with a target passes or not; one without is
// reported for scale only.
const (
	passYes  = "yes"
	passNo   = "NO"
	passNone = "-"
)

func passIf(ok bool) string {
	if ok {
		return passYes
	}
	return passNo
}

var header = row{figure: "fig", name: "figure", measured: "measured", baseline: "baseline", ratio: "ratio", target: "target", pass: "pass"}

func (r row) cells() []string {
	return []string{r.figure, r.name, r.measured, r.baseline, r.ratio, r.target, r.pass}
}

// printTable writes the rows as an aligned text table.
func printTable(w io.Writer, rows []row) {
	all := append([]row{header}, rows...)
	widths := make([]int, len(header.cells()))
	for _, r := range all {
		for i, c := range r.cells() {
			widths[i] = max(widths[i], len([]rune(c)))
		}
	}
	for n, r := range all {
		var b strings.Builder
		for i, c := range r.cells() {
			if i > 0 {
				b.WriteString(" | ")
			}
			b.WriteString(c)
			b.WriteString(strings.Repeat(" ", widths[i]-len([]rune(c))))
		}
		_, _ = fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
		if n == 0 {
			var sep strings.Builder
			for i, width := range widths {
				if i > 0 {
					sep.WriteString("-+-")
				}
				sep.WriteString(strings.Repeat("-", width))
			}
			_, _ = fmt.Fprintln(w, sep.String())
		}
	}
}

// markdownTable is the table for BENCHMARKS.md.
func markdownTable(rows []row) string {
	var b strings.Builder
	line := func(cells []string) {
		b.WriteString("|")
		for _, c := range cells {
			b.WriteString(" " + strings.ReplaceAll(c, "|", "\\|") + " |")
		}
		b.WriteString("\n")
	}
	line(header.cells())
	line([]string{"---", "---", "---:", "---:", "---:", "---", "---"})
	for _, r := range rows {
		line(r.cells())
	}
	return b.String()
}

// Formatting of values.

func fmtRatio(measured, baseline float64) string {
	if baseline == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", measured/baseline)
}

func fmtRate(perSecond float64) string { return fmt.Sprintf("%.0f/s", perSecond) }

func fmtMicros(seconds float64) string {
	us := seconds * 1e6
	if us >= 100 {
		return fmt.Sprintf("%.0f µs", us)
	}
	return fmt.Sprintf("%.1f µs", us)
}

func fmtMiB(bytes float64) string { return fmt.Sprintf("%.1f MiB", bytes/(1<<20)) }

func fmtSize(bytes int) string {
	switch {
	case bytes >= 1<<20:
		return fmt.Sprintf("%.2f MiB", float64(bytes)/(1<<20))
	case bytes >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(bytes)/(1<<10))
	}
	return fmt.Sprintf("%d B", bytes)
}

func fmtSeconds(s float64) string {
	if s < 1 {
		return fmt.Sprintf("%.0f ms", s*1000)
	}
	return fmt.Sprintf("%.2f s", s)
}

// median is the middle of vs, or the mean of the two in the middle.
func median(vs []float64) float64 {
	if len(vs) == 0 {
		return 0
	}
	sort.Float64s(vs)
	if len(vs)%2 == 0 {
		return (vs[len(vs)/2-1] + vs[len(vs)/2]) / 2
	}
	return vs[len(vs)/2]
}
