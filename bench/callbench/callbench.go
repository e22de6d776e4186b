// Package callbench holds the benchmarks of one instance status call that
// figure 2 of the benchmark suite compares: a bare net/http GET of the
// status URL, and the same call through dcsapi. The SDK's side lives in
// tools/sdkcompat, which must not leak the SDK into this module; it runs
// these two next to its own, against the same fake API, on the same
// connection pool.
//
// The fake API runs in another process when DCS_BENCH_API_URL names it
// (bench/cmd/dcsbench starts one), so that the CPU time measured here is
// the client's alone. Without it an in-process fake is started, which is
// enough for CI to keep the benchmarks working.
package callbench

import (
	"context"
	"io"
	"net/http"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/dcs-exporter/dcs_exporter/dcsapi"
	"github.com/dcs-exporter/dcs_exporter/dcsapi/dcsapitest"
)

// ProjectID is the project every call asks about.
const ProjectID = "0123456789abcdef0123456789abcdef"

// URLEnv names the environment variable with the base URL of a fake API
// started by NewFake in another process.
const URLEnv = "DCS_BENCH_API_URL"

// userAgent is sent by both the bare GET and dcsapi, so that both send the
// same headers.
const userAgent = "dcs_exporter/bench"

// NewFake starts the fake API the calls go to: one project with a 25
// instance fleet, whose status answer has the size of a real one. One
// instance failed to create, so that the answers with and without
// include_failure differ.
func NewFake() *dcsapitest.Server {
	s := dcsapitest.NewServer()
	s.AddProject("cn-north-4", ProjectID)
	fleet := dcsapitest.SampleFleet(25)
	fleet[0].Status = "CREATEFAILED"
	s.SetInstances(ProjectID, fleet)
	return s
}

// Fixture is the fake API and one HTTP transport that every call shares.
type Fixture struct {
	BaseURL   string
	StatusURL string // with include_failure=true, as the exporter asks
	Transport *http.Transport
}

// Open returns the fixture, starting an in-process fake unless URLEnv is
// set; the fake and the transport are closed when b ends.
func Open(b *testing.B) *Fixture {
	base := os.Getenv(URLEnv)
	if base == "" {
		s := NewFake()
		b.Cleanup(s.Close)
		base = s.URL
	}
	// One keep-alive connection serves every sequential call.
	tr := &http.Transport{MaxIdleConnsPerHost: 1, IdleConnTimeout: time.Minute}
	b.Cleanup(tr.CloseIdleConnections)
	return &Fixture{
		BaseURL:   base,
		StatusURL: base + "/v2/" + ProjectID + "/instances/status?include_failure=true",
		Transport: tr,
	}
}

// Credentials are the fake's key pair.
func Credentials() dcsapi.Credentials {
	return dcsapi.Credentials{AccessKey: dcsapitest.TestAccessKey, SecretKey: dcsapitest.TestSecretKey}
}

// Bare measures a plain GET of the status URL: the floor for any client.
func Bare(b *testing.B, f *Fixture) { Measure(b, BareCall(b, f)) }

// Dcsapi measures dcsapi.Client.InstanceStatus: building and signing the
// request, the GET, and decoding the answer.
func Dcsapi(b *testing.B, f *Fixture) { Measure(b, DcsapiCall(b, f)) }

// BareCall returns a plain GET of the status URL. It sends the very headers
// dcsapi sends, signed once beforehand (the signature stays valid for 15
// minutes), and reads the body to the end without decoding it.
func BareCall(b *testing.B, f *Fixture) func() {
	client := &http.Client{Transport: f.Transport}
	ctx := context.Background()
	signed, err := http.NewRequestWithContext(ctx, http.MethodGet, f.StatusURL, nil)
	if err != nil {
		b.Fatal(err)
	}
	signed.Header["Host"] = []string{signed.URL.Host}
	signed.Header["X-Project-Id"] = []string{ProjectID}
	if err := dcsapi.Sign(signed, nil, Credentials(), time.Now()); err != nil {
		b.Fatal(err)
	}
	signed.Header["Accept"] = []string{"application/json"}
	signed.Header["User-Agent"] = []string{userAgent}
	header := signed.Header // read-only from here on; every request shares it

	return func() {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.StatusURL, nil)
		if err != nil {
			b.Fatal(err)
		}
		req.Header = header
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			b.Fatalf("HTTP %d, %v", resp.StatusCode, err)
		}
	}
}

// DcsapiCall returns a call of dcsapi.Client.InstanceStatus: building and
// signing the request, the GET, and decoding the answer, which the client
// skips when the answer repeats the previous one, as it does here and
// mostly in real use.
func DcsapiCall(b *testing.B, f *Fixture) func() { return dcsapiCall(b, f, false) }

// DcsapiChangingCall is DcsapiCall with an answer that differs from the
// previous one every time (it alternates include_failure), so that every
// call decodes.
func DcsapiChangingCall(b *testing.B, f *Fixture) func() { return dcsapiCall(b, f, true) }

func dcsapiCall(b *testing.B, f *Fixture, alternate bool) func() {
	c, err := dcsapi.New(dcsapi.Options{
		Endpoint:    f.BaseURL,
		ProjectID:   ProjectID,
		Credentials: dcsapi.StaticCredentials(Credentials()),
		HTTPClient:  &http.Client{Transport: f.Transport},
		UserAgent:   userAgent,
		Retry:       &dcsapi.RetryPolicy{MaxAttempts: 1},
	})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	includeFailure := true
	return func() {
		if alternate {
			includeFailure = !includeFailure
		}
		r, err := c.InstanceStatus(ctx, includeFailure)
		if err != nil {
			b.Fatal(err)
		}
		if len(r.Total) == 0 {
			b.Fatal("empty report")
		}
	}
}

// Measure runs call b.N times after one warm-up call (which opens the
// connection) and reports, besides ns/op and allocs/op, the process CPU
// time per call in cpu-ns/op: user plus system time, so that the kernel's
// share of a loopback round trip and the garbage collector's share of the
// allocations both count.
func Measure(b *testing.B, call func()) {
	call()
	b.ReportAllocs()
	start := cpuTime()
	for b.Loop() {
		call()
	}
	used := cpuTime() - start
	b.ReportMetric(float64(used.Nanoseconds())/float64(b.N), "cpu-ns/op")
}

// Call is one way of making the status call, for Compare.
type Call struct {
	Name string
	Do   func()
}

// blockSize is how many calls of one kind run between two measurements: a
// block takes some tens of milliseconds, long enough for getrusage and short
// enough that the kinds take turns many times a second.
const blockSize = 200

// Compare runs the calls in turn, a block of each per iteration, so that the
// machine's drift (other load, CPU frequency, the fake's state) touches all
// of them alike, and reports for each its CPU time (NAME-cpu-ns/op) and heap
// allocations (NAME-allocs/op) per call. ns/op is the time of one round of
// blocks and means little.
func Compare(b *testing.B, calls ...Call) {
	for _, c := range calls {
		c.Do() // opens the connection, fills the pools
	}
	cpu := make([]time.Duration, len(calls))
	allocs := make([]uint64, len(calls))
	var ms runtime.MemStats
	n := 0
	for b.Loop() {
		for i, c := range calls {
			runtime.ReadMemStats(&ms) // outside the CPU window: it stops the world
			before := ms.Mallocs
			start := cpuTime()
			for range blockSize {
				c.Do()
			}
			cpu[i] += cpuTime() - start
			runtime.ReadMemStats(&ms)
			allocs[i] += ms.Mallocs - before
		}
		n += blockSize
	}
	for i, c := range calls {
		b.ReportMetric(float64(cpu[i].Nanoseconds())/float64(n), c.Name+"-cpu-ns/op")
		b.ReportMetric(float64(allocs[i])/float64(n), c.Name+"-allocs/op")
	}
}
