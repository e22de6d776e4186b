package main

import (
	"bufio"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/dcs-exporter/dcs_exporter/dcsapi/dcsapitest"
)

// soakClients is how many scrapers hammer the exporter at once.
const soakClients = 64

// soakDuration is 4 s, short enough for every CI run, unless
// DCS_SOAK_DURATION asks for more; the benchmark suite runs it with 60s:
//
//	DCS_SOAK_DURATION=60s go test -race -run '^TestSoak$' -count=1 -timeout 10m -v .
func soakDuration(t *testing.T) time.Duration {
	v := os.Getenv("DCS_SOAK_DURATION")
	if v == "" {
		return 4 * time.Second
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		t.Fatalf("DCS_SOAK_DURATION=%q is not a positive duration", v)
	}
	return d
}

// soakStep is one state of the fake API in the rotation: a fault on the
// faulty target's status calls, or a configuration that points it at a
// port where nothing listens, or a broken configuration to reload.
type soakStep struct {
	name      string
	fault     *dcsapitest.Fault
	refused   bool
	badConfig bool
}

func soakSteps() []soakStep {
	f := func(k dcsapitest.FaultKind) *dcsapitest.Fault { return &dcsapitest.Fault{Kind: k} }
	status := func(code int) *dcsapitest.Fault { return &dcsapitest.Fault{Kind: dcsapitest.FaultStatus, Status: code} }
	// The biggest answers come first, so that the memory they need is
	// taken before the growth measurement starts; the refused keys come
	// last, since the target then backs off for the rest of a short run.
	return []soakStep{
		{name: "oversized", fault: f(dcsapitest.FaultOversized)},
		{name: "oversized_chunked", fault: &dcsapitest.Fault{Kind: dcsapitest.FaultOversized, Chunked: true}},
		{name: "none"},
		{name: "http_500", fault: status(500)},
		{name: "http_502_html", fault: &dcsapitest.Fault{Kind: dcsapitest.FaultHTML, Status: 502}},
		{name: "hang", fault: f(dcsapitest.FaultHang)},
		{name: "reset", fault: f(dcsapitest.FaultReset)},
		{name: "refused", refused: true},
		{name: "trickle", fault: &dcsapitest.Fault{Kind: dcsapitest.FaultTrickle, Delay: 20 * time.Millisecond}},
		{name: "bad_config_reload", badConfig: true},
		{name: "http_503", fault: status(503)},
		{name: "truncated", fault: f(dcsapitest.FaultTruncatedJSON)},
		{name: "malformed", fault: f(dcsapitest.FaultMalformedJSON)},
		{name: "wrong_types", fault: f(dcsapitest.FaultWrongTypes)},
		{name: "negative", fault: f(dcsapitest.FaultNegativeCount)},
		{name: "huge", fault: f(dcsapitest.FaultHugeNumber)},
		{name: "empty", fault: f(dcsapitest.FaultEmptyBody)},
		{name: "http_400", fault: status(400)},
		{name: "http_404", fault: status(404)},
		{name: "http_429", fault: &dcsapitest.Fault{Kind: dcsapitest.FaultThrottle, RetryAfter: time.Second}},
		{name: "http_401", fault: status(401)},
		{name: "http_403", fault: status(403)},
	}
}

// rssBytes is the resident set size of the test process, which runs the
// exporter and the fake API both.
func rssBytes(t *testing.T) uint64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		t.Fatalf("no /proc/self/status (the soak measures the RSS of Linux processes): %v", err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				t.Fatalf("VmRSS: %v", err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmRSS in /proc/self/status")
	return 0
}

// TestSoak runs 64 scrapers against two exporters, one querying on scrape
// and one serving a cache, while the fake API behind them goes through
// every fault, and the configuration is reloaded, every few seconds. Every
// answer must be a 200, memory must level off, and the goroutines must
// come back to where they were.
func TestSoak(t *testing.T) {
	duration := soakDuration(t)
	steps := soakSteps()
	period := min(max(duration/time.Duration(len(steps)), 150*time.Millisecond), 5*time.Second)
	ignore := goleak.IgnoreCurrent()
	baseGoroutines := runtime.NumGoroutine()

	type exporter struct {
		env  *faultEnv
		dir  string
		good string // the configuration file as written at the start
	}
	var exporters []*exporter
	for _, extra := range [][]string{{"--web.max-requests=64"}, {"--web.max-requests=64", "--dcs.refresh-interval=250ms"}} {
		dir := t.TempDir()
		e, err := startFaultEnv(dir, faultCase{name: "soak"}, extra...)
		if err != nil {
			t.Fatal(err)
		}
		good, err := os.ReadFile(filepath.Join(dir, "dcs_exporter.yml"))
		if err != nil {
			t.Fatal(err)
		}
		exporters = append(exporters, &exporter{env: e, dir: dir, good: string(good)})
	}
	closed := false
	closeAll := func() {
		if !closed {
			closed = true
			for _, x := range exporters {
				x.env.close()
			}
		}
	}
	defer closeAll()

	// The running exporters' own baseline: their refresh loops, the fake
	// APIs' listeners, a first round of queries and its kept connections.
	for _, x := range exporters {
		warmClient := &http.Client{Transport: &http.Transport{}}
		for _, p := range []string{"/metrics", "/probe?target=faulty"} {
			scrapeOnce(warmClient, x.env.srv.URL, p, 3*time.Second)
		}
		warmClient.CloseIdleConnections()
	}
	// As after the load: the on-scrape exporter holds no pooled API
	// connections; the cached one refreshes, and so keeps some, before and
	// after alike.
	exporters[0].env.app.exporter.CloseIdleConnections()
	idleGoroutines := settledGoroutines()
	heapStart := liveHeap()
	peak := heapPeak()

	transport := &http.Transport{MaxIdleConnsPerHost: soakClients, MaxConnsPerHost: soakClients}
	client := &http.Client{Transport: transport, Timeout: roomyTimeout}
	defer transport.CloseIdleConnections()

	// The rotation. Each step first undoes the one before.
	stop := make(chan struct{})
	var rotation sync.WaitGroup
	var reloadErrs []string
	rotation.Add(1)
	go func() {
		defer rotation.Done()
		ticker := time.NewTicker(period)
		defer ticker.Stop()
		for i := 0; ; i++ {
			step := steps[i%len(steps)]
			for _, x := range exporters {
				x.env.fake.ClearFaults()
				if step.fault != nil {
					x.env.fake.InjectFault(projectFaulty, dcsapitest.APIInstanceStatus, *step.fault)
				}
				config := x.good
				switch {
				case step.refused:
					config = faultConfig(x.env.fake.URL, "http://"+closedPort(), 1500*time.Millisecond)
				case step.badConfig:
					config += "  - name: broken\n    timeout: 10x\n"
				}
				path := filepath.Join(x.dir, "dcs_exporter.yml")
				if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
					reloadErrs = append(reloadErrs, err.Error())
					continue
				}
				err := x.env.app.reloader.reload()
				if (err != nil) != step.badConfig {
					reloadErrs = append(reloadErrs, fmt.Sprintf("step %s: reload: %v", step.name, err))
				}
			}
			select {
			case <-stop:
				return
			case <-ticker.C:
			}
		}
	}()

	var (
		requests, failures atomic.Int64
		maxLatency         atomic.Int64
		failMu             sync.Mutex
		failSamples        []string
	)
	paths := []string{"/metrics", "/probe?target=faulty", "/probe?target=prod", "/probe?target=staging"}
	var clients sync.WaitGroup
	for i := range soakClients {
		clients.Add(1)
		go func() {
			defer clients.Done()
			base := exporters[i%len(exporters)].env.srv.URL
			for n := i; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				a := scrapeOnce(client, base, paths[n%len(paths)], 3*time.Second)
				requests.Add(1)
				if l := int64(a.elapsed); l > maxLatency.Load() {
					maxLatency.Store(l) // a racy maximum is close enough for a report
				}
				if a.err != nil || a.code != http.StatusOK || !strings.Contains(a.body, "dcs_up{") {
					failures.Add(1)
					failMu.Lock()
					if len(failSamples) < 5 {
						failSamples = append(failSamples, fmt.Sprintf("%s: HTTP %d, %v: %.120q", a.path, a.code, a.err, a.body))
					}
					failMu.Unlock()
				}
			}
		}()
	}

	// Memory is measured from a sixth of the run on (the 10th second of a
	// minute), when every kind of answer has been seen at least once.
	start := time.Now()
	warm := duration / 6
	time.Sleep(warm)
	rssWarm := rssBytes(t)
	rssMax := rssWarm
	for time.Since(start) < duration {
		time.Sleep(min(time.Second, duration-time.Since(start)))
		rssMax = max(rssMax, rssBytes(t))
	}
	rssEnd := rssBytes(t)
	close(stop)
	clients.Wait()
	rotation.Wait()
	heapMax := peak()

	growth := (float64(rssEnd) - float64(rssWarm)) / float64(rssWarm) * 100
	n := requests.Load()
	t.Logf("soak: %v, %d clients, faults rotating every %v: %d requests (%.0f/s), %d failed, slowest %v",
		duration, soakClients, period, n, float64(n)/duration.Seconds(), failures.Load(), time.Duration(maxLatency.Load()).Round(time.Millisecond))
	t.Logf("soak: RSS %.1f MiB at %v, %.1f MiB at the end (%+.1f%%), at most %.1f MiB",
		float64(rssWarm)/(1<<20), warm, float64(rssEnd)/(1<<20), growth, float64(rssMax)/(1<<20))
	if f := failures.Load(); f > 0 {
		t.Errorf("%d of %d answers were not a 200 with series, e.g.:\n%s", f, n, strings.Join(failSamples, "\n"))
	}
	for _, e := range reloadErrs {
		t.Error(e)
	}
	// A few seconds are too short to tell growth from warming up; the
	// full-length run judges it.
	if duration >= 30*time.Second && growth >= 10 {
		t.Errorf("RSS grew by %.1f%% from %v to the end, want under 10%%", growth, warm)
	}

	// Goroutines: back within 5 of the running exporters' baseline once
	// the scrapers are gone and the API is healthy again; back to where
	// the test started once the exporters are closed, with none left
	// behind at all.
	for _, x := range exporters {
		x.env.fake.ClearFaults()
		if leak := findLeak(x.env.logs.String()); leak != "" {
			t.Errorf("the log shows the secret %q", leak)
		}
	}
	transport.CloseIdleConnections()
	for _, x := range exporters {
		// The burst opened more pooled API connections than the idle
		// exporters had; pooled connections are not leaks.
		x.env.app.exporter.CloseIdleConnections()
	}
	idle := waitGoroutines(idleGoroutines + 5)
	t.Logf("soak: goroutines of the running exporters %d before the load, %d after", idleGoroutines, idle)
	if idle > idleGoroutines+5 {
		t.Errorf("%d goroutines after the load, %d before", idle, idleGoroutines)
	}
	// The Go heap: what stays live once the load is gone must be close to
	// what was live before it, whatever the length of the run; the peak
	// holds many oversized answers at once, each read only to the 8 MiB cap.
	heapEnd := liveHeap()
	t.Logf("soak: live Go heap %.1f MiB before the load, %.1f MiB after; at most %.1f MiB in use during it",
		mib(heapStart), mib(heapEnd), mib(heapMax))
	if heapEnd > heapStart+heapGrowthAllowance {
		t.Errorf("the live Go heap grew from %.1f MiB to %.1f MiB over the soak, more than %.0f MiB",
			mib(heapStart), mib(heapEnd), mib(heapGrowthAllowance))
	}
	if heapMax > heapStart+heapPeakAllowance {
		t.Errorf("the Go heap reached %.1f MiB during the soak, %.1f MiB at its start", mib(heapMax), mib(heapStart))
	}
	closeAll()
	left := waitGoroutines(baseGoroutines + 5)
	t.Logf("soak: goroutines %d before, %d after", baseGoroutines, left)
	if left > baseGoroutines+5 {
		t.Errorf("%d goroutines after the soak, %d before", left, baseGoroutines)
	}
	goleak.VerifyNone(t, ignore)
}

// heapGrowthAllowance is how much more live heap the idle exporters may
// hold after the soak than before it: the fake APIs' request logs fill up
// to their bound of 1000 requests each (half a MiB in all). The 4 s run
// serves some 3000 to 9000 requests on two shared cores, so that a leak of
// 2 KiB per request exceeds it; under the race detector, which serves ten
// times fewer, a leak of whole answers does.
const heapGrowthAllowance = 4 << 20

// heapPeakAllowance bounds the heap in use at any moment of the soak above
// its start: a few oversized answers are read at once, each to the 8 MiB
// cap, beside the 64 clients' answers; holding one whole 256 MiB answer
// would exceed it.
const heapPeakAllowance = 128 << 20

func mib(b uint64) float64 { return float64(b) / (1 << 20) }

// liveHeap returns the bytes of the Go heap that are reachable, after two
// collections so that pooled buffers are dropped too.
func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// settledGoroutines returns the number of goroutines once it has stopped
// falling for 100 ms, as connections that were just closed wind down, or
// after patience. A count taken too early is only higher, which makes the
// later checks more lenient, never flaky.
func settledGoroutines() int {
	n := runtime.NumGoroutine()
	stable := 0
	for deadline := time.Now().Add(patience); stable < 5 && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
		if m := runtime.NumGoroutine(); m < n {
			n, stable = m, 0
		} else {
			stable++
		}
	}
	return n
}

// waitGoroutines waits up to patience for the number of goroutines to come
// down to at most n, and returns the last count.
func waitGoroutines(n int) int {
	deadline := time.Now().Add(patience)
	for {
		left := runtime.NumGoroutine()
		if left <= n || time.Now().After(deadline) {
			return left
		}
		time.Sleep(50 * time.Millisecond)
	}
}
