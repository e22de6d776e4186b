package collector

import (
	"bytes"
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/dcs-exporter/dcs_exporter/config"
	"github.com/dcs-exporter/dcs_exporter/dcsapi"
	"github.com/dcs-exporter/dcs_exporter/dcsapi/dcsapitest"
)

// BenchmarkListing20k refreshes the listing of a 20,000-instance project (20
// pages) from the fake API on loopback and renders it, as the background
// refresh and the next scrape do. The fake runs in the same process, so
// time and allocations include its side of the calls.
//
// Besides time and allocations per refresh it reports heap-bytes, the heap
// the exporter holds for the listing once it is in place (live heap after a
// GC, against a baseline taken before the first listing), and
// output-bytes, the size of the per-instance series.
func BenchmarkListing20k(b *testing.B) {
	const n = 20000
	srv := dcsapitest.NewServer()
	defer srv.Close()
	srv.SetInstances(projectA, dcsapitest.SampleFleet(n))
	exp := New(Options{MaxStaleness: 5 * time.Minute, Retry: &dcsapi.RetryPolicy{MaxAttempts: 1}})
	doc := fmt.Sprintf("defaults:\n  endpoint: %[1]s\n  credentials: {access_key: %[2]s, secret_key: %[3]s}\ntargets:\n%[4]s    instances: true\n",
		srv.URL, dcsapitest.TestAccessKey, dcsapitest.TestSecretKey, targetA)
	cfg, err := config.Parse([]byte(doc), "bench.yml")
	if err != nil {
		b.Fatal(err)
	}
	if err := exp.ApplyConfig(cfg); err != nil {
		b.Fatal(err)
	}
	tg := exp.Target("prod")
	defer tg.cancel()
	ctx := context.Background()

	before := liveHeap()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		tg.RefreshListing(ctx)
		tg.rendered(time.Now())
	}
	b.StopTimer()

	out := tg.rendered(time.Now())
	if got := bytes.Count(out[famInstanceInfo], []byte("\n")); got != n {
		b.Fatalf("rendered %d instances, want %d", got, n)
	}
	size := 0
	for _, f := range instanceFamilies {
		size += len(out[f])
	}
	held := liveHeap() - before
	b.ReportMetric(float64(held), "heap-bytes")
	b.ReportMetric(float64(size), "output-bytes")
	runtime.KeepAlive(tg)
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
