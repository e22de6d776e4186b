package discovery_test

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/dcs-exporter/dcs_exporter/dcsapi"
	"github.com/dcs-exporter/dcs_exporter/discovery"
)

// benchFleet is n instances shaped like a real listing: UUIDs, three tags,
// two zones, one in ten a cluster with six addresses, one in five
// Memcached, and a few without an address.
func benchFleet(n int) []dcsapi.Instance {
	out := make([]dcsapi.Instance, n)
	for i := range out {
		in := dcsapi.Instance{
			ID:   fmt.Sprintf("%08x-5e2a-4d3b-8c6e-%012x", i, i*7919),
			Name: fmt.Sprintf("dcs-bench-%05d", i), Engine: "Redis", EngineVersion: "6.0", Status: "RUNNING",
			SpecCode: "redis.ha.xu1.large.r2.4", AZCodes: []string{"cn-north-4a", "cn-north-4c"},
			EnterpriseProjectID: "8e3c5f2a-41d7-4b8e-9a6f-2c1d0e9b7a53",
			DomainName:          fmt.Sprintf("redis-%08x-5e2a-4d3b-8c6e.dcs.huaweicloud.com", i),
			IPs:                 []string{fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255)}, Port: 6379,
			NoPasswordAccess: boolPtr(i%3 == 0), EnableSSL: boolPtr(false),
			Tags: []dcsapi.Tag{{Key: "owner", Value: "team-payments"}, {Key: "cost-center", Value: "cc-1001"}, {Key: "env", Value: "prod"}},
		}
		switch {
		case i%5 == 4:
			in.Engine, in.EngineVersion, in.Port = "Memcached", "1.5", 11211
		case i%10 == 3:
			in.SpecCode = "redis.cluster.xu1.large.24"
			for j := 1; j < 6; j++ {
				in.IPs = append(in.IPs, fmt.Sprintf("10.%d.%d.%d", 100+j, i>>8&255, i&255))
			}
		case i%100 == 7:
			in.IPs, in.Status = nil, "CREATEFAILED"
		}
		out[i] = in
	}
	return out
}

// BenchmarkBuild20000 is the cost of one listing of 20,000 instances: the
// first request after a listing (or Prepare) pays it once.
func BenchmarkBuild20000(b *testing.B) {
	fleet := benchFleet(20000)
	listed := time.Now()
	for i := 0; b.Loop(); i++ {
		tgt := discovery.Target{Name: "prod", Region: "cn-north-4", ProjectID: "p", Enabled: true,
			ListedAt: listed, Generation: uint64(i), Instances: fleet}
		discovery.NewHandler(func() []discovery.Target { return []discovery.Target{tgt} }).Prepare()
	}
}

// BenchmarkServe20000 asks /sd for a listing of 20,000 instances over
// loopback HTTP, reading each answer whole as sent, and reports the
// latency's 50th and 99th percentiles (the target is a p99 of at most
// 100 ms) and the answer's size on the wire and as JSON. "gzip" asks as
// Prometheus does (Go's transport asks for gzip); "plain" refuses it.
// Decompressing and parsing the JSON is the client's work and is not
// timed; the last answer is decompressed after the clock, to check it. Run
// it with enough requests for a p99, e.g.
//
//	go test -run '^$' -bench Serve20000 -benchtime 400x ./discovery/
func BenchmarkServe20000(b *testing.B) {
	fleet := benchFleet(20000)
	tgt := discovery.Target{Name: "prod", Region: "cn-north-4", ProjectID: "p", Enabled: true,
		ListedAt: time.Now(), StaleAfter: time.Hour, Instances: fleet}
	h := discovery.NewHandler(func() []discovery.Target { return []discovery.Target{tgt} })
	h.Prepare() // the listing is built once, before the requests
	srv := httptest.NewServer(h)
	defer srv.Close()
	for _, query := range []string{"", "?engine=redis", "?status=RUNNING"} {
		for _, enc := range []string{"gzip", "plain"} {
			b.Run("query="+query+"/"+enc, func(b *testing.B) {
				var took []time.Duration
				var last bytes.Buffer
				gzipped := false
				for b.Loop() {
					start := time.Now()
					req, _ := http.NewRequest(http.MethodGet, srv.URL+query, nil)
					req.Header.Set("Accept-Encoding", map[string]string{"gzip": "gzip", "plain": "identity"}[enc])
					resp, err := srv.Client().Do(req)
					if err != nil {
						b.Fatal(err)
					}
					last.Reset()
					_, err = last.ReadFrom(resp.Body)
					resp.Body.Close()
					if err != nil || resp.StatusCode != http.StatusOK {
						b.Fatalf("%d, %v", resp.StatusCode, err)
					}
					took = append(took, time.Since(start))
					gzipped = resp.Header.Get("Content-Encoding") == "gzip"
				}
				wire, size := int64(last.Len()), int64(last.Len())
				if gzipped {
					zr, err := gzip.NewReader(&last)
					if err != nil {
						b.Fatal(err)
					}
					if size, err = io.Copy(io.Discard, zr); err != nil {
						b.Fatal(err)
					}
				}
				slices.Sort(took)
				b.ReportMetric(ms(took[len(took)/2]), "p50-ms")
				b.ReportMetric(ms(took[(len(took)*99+99)/100-1]), "p99-ms")
				b.ReportMetric(float64(wire)/1e6, "MB-wire")
				b.ReportMetric(float64(size)/1e6, "MB-json")
			})
		}
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
