package collector

import (
	"math"
	"os"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// gathered is what the test compares of a gathered family.
type gathered struct {
	help, typ string
	value     float64
}

func gatherProcess(t *testing.T, c prometheus.Collector) map[string]gathered {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]gathered{}
	for _, mf := range mfs {
		m := mf.GetMetric()[0]
		v := m.GetGauge().GetValue()
		if m.GetCounter() != nil {
			v = m.GetCounter().GetValue()
		}
		out[mf.GetName()] = gathered{mf.GetHelp(), mf.GetType().String(), v}
	}
	return out
}

// TestProcessCollectorMatchesClientGolang checks that the lean collector
// has client_golang's families, help texts and types, and its values.
func TestProcessCollectorMatchesClientGolang(t *testing.T) {
	want := gatherProcess(t, collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	got := gatherProcess(t, NewProcessCollector())
	if len(want) == 0 {
		t.Skip("client_golang collects no process metrics here")
	}
	for name, w := range want {
		g, ok := got[name]
		if !ok {
			t.Errorf("%s missing", name)
			continue
		}
		if g.help != w.help || g.typ != w.typ {
			t.Errorf("%s: help %q type %s, want %q %s", name, g.help, g.typ, w.help, w.typ)
		}
		gv, wv := g.value, w.value
		tolerance := 0.0
		switch name {
		case "process_cpu_seconds_total":
			tolerance = 0.5
		case "process_resident_memory_bytes", "process_virtual_memory_bytes":
			tolerance = 0.2 * wv
		case "process_open_fds":
			tolerance = 10 // other tests' connections come and go
		case "process_start_time_seconds":
			tolerance = 0.01
		case "process_network_receive_bytes_total", "process_network_transmit_bytes_total":
			tolerance = math.Max(1e6, 0.01*wv) // the namespace's traffic goes on
		}
		if math.Abs(gv-wv) > tolerance {
			t.Errorf("%s = %g, client_golang says %g", name, gv, wv)
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("%s is not one of client_golang's", name)
		}
	}
}

func BenchmarkProcessCollector(b *testing.B) {
	for _, c := range []struct {
		name string
		c    prometheus.Collector
	}{{"lean", NewProcessCollector()}, {"client_golang", collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})}} {
		b.Run(c.name, func(b *testing.B) {
			reg := prometheus.NewRegistry()
			reg.MustRegister(c.c)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := reg.Gather(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestProcessCollectorRereads checks that the descriptors kept open give
// fresh values: CPU time grows, and a new descriptor is counted.
func TestProcessCollectorRereads(t *testing.T) {
	c := NewProcessCollector()
	before := gatherProcess(t, c)
	// Many files, as other tests' connections come and go meanwhile.
	for range 100 {
		f, err := os.Open(os.DevNull)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
	}
	for start := time.Now(); time.Since(start) < 200*time.Millisecond; {
		_ = time.Now() // spin: CPU time must grow
	}
	after := gatherProcess(t, c)
	if d := after["process_open_fds"].value - before["process_open_fds"].value; d < 90 || d > 110 {
		t.Errorf("100 more open files changed process_open_fds by %g", d)
	}
	if after["process_cpu_seconds_total"].value <= before["process_cpu_seconds_total"].value {
		t.Error("process_cpu_seconds_total did not grow")
	}
}
