package collector_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"runtime"
	"testing"
	"time"

	"github.com/dcs-exporter/dcs_exporter/collector"
	"github.com/dcs-exporter/dcs_exporter/collector/exposition"
	"github.com/dcs-exporter/dcs_exporter/config"
	"github.com/dcs-exporter/dcs_exporter/dcsapi"
	"github.com/dcs-exporter/dcs_exporter/dcsapi/dcsapitest"
)

// BenchmarkListing20k refreshes the listing of a 20,000-instance project (20
// pages) from the fake API on loopback and renders it, as the background
// refresh and the next scrape do. The fake runs in the same process, so
// time and allocations include its side of the calls. Each instance has
// three tags, two of which the target copies onto dcs_instance_info.
//
// Besides time and allocations per refresh it reports heap-bytes, the heap
// the exporter holds for the listing once it is in place (live heap after a
// GC, against a baseline taken before the first listing), and
// output-bytes, the size of the per-instance series as written.
func BenchmarkListing20k(b *testing.B) {
	const n = 20000
	tg, cleanup := listed20k(b)
	defer cleanup()
	ctx := context.Background()

	before := liveHeap()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		tg.RefreshListing(ctx)
		tg.Rendered(time.Now())
	}
	b.StopTimer()

	out := tg.Rendered(time.Now())
	if got := bytes.Count(out.Lines(exposition.FamInstanceInfo), []byte("\n")); got != n {
		b.Fatalf("rendered %d instances, want %d", got, n)
	}
	held := liveHeap() - before
	b.ReportMetric(float64(held), "heap-bytes")
	b.ReportMetric(float64(out.PerInstanceSize()), "output-bytes")
	runtime.KeepAlive(tg)
}

// BenchmarkListing20kWrite writes the series of a target with 20,000
// listed instances, as an on-scrape /metrics or a /probe does, without
// compression. Cached mode writes them once per change instead.
func BenchmarkListing20kWrite(b *testing.B) {
	tg, cleanup := listed20k(b)
	defer cleanup()
	tg.RefreshListing(context.Background())
	outs := []*exposition.Series{tg.Rendered(time.Now())}
	b.SetBytes(int64(outs[0].PerInstanceSize()))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		exposition.WriteFamilies(io.Discard, outs)
	}
}

// listed20k sets up a target with instances: true over a project of 20,000
// instances, and returns it unlisted.
func listed20k(b *testing.B) (*collector.Target, func()) {
	const n = 20000
	srv := dcsapitest.NewServer()
	fleet := dcsapitest.SampleFleet(n) // three tags each: owner (or team), cost-center, env
	srv.SetInstances(projectA, fleet)
	exp := collector.New(collector.Options{MaxStaleness: 5 * time.Minute, Retry: &dcsapi.RetryPolicy{MaxAttempts: 1}})
	doc := fmt.Sprintf("defaults:\n  endpoint: %[1]s\n  credentials: {access_key: %[2]s, secret_key: %[3]s}\ntargets:\n%[4]s"+
		"    instances: true\n    instance_tags: [owner, cost-center]\n",
		srv.URL, dcsapitest.TestAccessKey, dcsapitest.TestSecretKey, targetA)
	cfg, err := config.Parse([]byte(doc), "bench.yml")
	if err != nil {
		b.Fatal(err)
	}
	if err := exp.ApplyConfig(cfg); err != nil {
		b.Fatal(err)
	}
	tg := exp.Target("prod")
	return tg, func() { exp.Close(); srv.Close() }
}

// liveHeap returns the bytes of live heap objects. The second GC empties
// the victim caches of sync.Pools, which would otherwise count as held.
func liveHeap() int64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}
