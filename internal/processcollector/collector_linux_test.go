package processcollector

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
	got := gatherProcess(t, New())
	if len(want) == 0 {
		t.Fatal("client_golang collects no process metrics, although Linux has /proc")
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
	}{{"lean", New()}, {"client_golang", collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})}} {
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
	c := New()
	before := gatherProcess(t, c)
	// Many files, as other tests' connections come and go meanwhile.
	for range 100 {
		f, err := os.Open(os.DevNull)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
	}
	after := gatherProcess(t, c)
	if d := after["process_open_fds"].value - before["process_open_fds"].value; d < 90 || d > 110 {
		t.Errorf("100 more open files changed process_open_fds by %g", d)
	}
	// Spin until the CPU time grows, by the kernel's own account: on a
	// busy machine, how long that takes is up to the scheduler.
	self := collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})
	cpu := func(c prometheus.Collector) float64 { return gatherProcess(t, c)["process_cpu_seconds_total"].value }
	start := cpu(self)
	for deadline := time.Now().Add(10 * time.Second); cpu(self) <= start; {
		if time.Now().After(deadline) {
			t.Fatal("client_golang saw no CPU time spent in 10 s of spinning")
		}
	}
	if got := cpu(c); got <= before["process_cpu_seconds_total"].value {
		t.Errorf("process_cpu_seconds_total stayed at %g after CPU time was spent", got)
	}
}
