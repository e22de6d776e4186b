package collector

import (
	"bytes"
	"testing"
	"time"

	"github.com/dcs-exporter/dcs_exporter/collector/exposition"
	"github.com/dcs-exporter/dcs_exporter/dcsapi"
	"github.com/dcs-exporter/dcs_exporter/dcsapi/dcsapitest"
)

// BenchmarkStatistics20kDecodeRender is the exporter's own work on one
// statistics answer of 20,000 running instances, without the network and
// the fake: decode it, keep what is rendered, and render the five
// per-instance families. Issue 20 asks for at most 0.5 s per refresh;
// bench/cmd/dcsbench (figure 7) times the whole refresh over loopback.
func BenchmarkStatistics20kDecodeRender(b *testing.B) {
	const n = 20000
	fleet := dcsapitest.SampleFleet(n)
	for i := range fleet {
		fleet[i].Status = "RUNNING"
	}
	body := dcsapitest.StatisticsAnswer(fleet, time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC))
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	var lines exposition.StatisticLines
	for b.Loop() {
		report, err := dcsapi.DecodeStatistics(body)
		if err != nil {
			b.Fatal(err)
		}
		lines = exposition.RenderStatistics(keepStatistics(report))
	}
	if got := bytes.Count(lines[0], []byte("\n")); got != n {
		b.Fatalf("rendered %d instances, want %d", got, n)
	}
}
