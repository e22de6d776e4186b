package dcsapi_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dcs-exporter/dcs_exporter/dcsapi"
	"github.com/dcs-exporter/dcs_exporter/dcsapi/dcsapitest"
)

// heapPeak samples the heap in use while it runs, and returns the peak
// once stop is called.
func heapPeak() (stop func() uint64) {
	var peak atomic.Uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	sample := func() {
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		if m.HeapInuse > peak.Load() {
			peak.Store(m.HeapInuse)
		}
	}
	go func() {
		defer wg.Done()
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				sample()
			}
		}
	}()
	return func() uint64 {
		close(done)
		wg.Wait()
		sample()
		return peak.Load()
	}
}

// TestEndlessListingStopsAtMaxInstances is the attack of issue 19 on the
// listing: a server that announces instance_num 2147483647 and serves full
// pages of new instances for ever. With the default bound of 50,000 the
// listing stops after 50 pages with an error naming max_instances, and
// the heap stays far below the 300 MiB the issue allows.
func TestEndlessListingStopsAtMaxInstances(t *testing.T) {
	if testing.Short() {
		t.Skip("lists 50 pages of 1,000 instances")
	}
	e := newEnv(t)
	e.srv.SetInstances(pid, mixedFleet)
	e.srv.InjectFault(pid, dcsapitest.APIListInstances, dcsapitest.Fault{Kind: dcsapitest.FaultEndlessListing})
	runtime.GC()
	stop := heapPeak()
	start := time.Now()
	list, err := e.client(nil).ListInstancesWith(ctxFor(t, listPatience), dcsapi.ListOptions{})
	took := time.Since(start)
	peak := stop()
	var limit *dcsapi.LimitError
	if !errors.As(err, &limit) || limit.Limit != dcsapi.LimitMaxInstances || !strings.Contains(err.Error(), "max_instances") {
		t.Fatalf("got %d instances, error %v; want a LimitError of max_instances", len(list), err)
	}
	if list != nil {
		t.Errorf("%d instances returned with the error", len(list))
	}
	pages := e.srv.Requests(dcsapitest.APIListInstances)
	if want := dcsapi.DefaultMaxInstances/dcsapi.ListPageSize + 1; pages > want {
		t.Errorf("%d pages asked for, want at most %d", pages, want)
	}
	t.Logf("endless listing: stopped after %d pages in %v; heap in use at most %.1f MiB; process peak RSS (VmHWM, whole test binary) %s",
		pages, took.Round(time.Millisecond), float64(peak)/(1<<20), peakRSS())
	if peak > 300<<20 {
		t.Errorf("heap in use reached %.1f MiB, want under 300 MiB", float64(peak)/(1<<20))
	}
}

// A listing that takes longer than its timeout fails with an error naming
// listing_timeout, soon after the timeout.
func TestEndlessListingStopsAtTimeout(t *testing.T) {
	e := newEnv(t)
	e.srv.SetInstances(pid, mixedFleet)
	e.srv.InjectFault(pid, dcsapitest.APIListInstances, dcsapitest.Fault{Kind: dcsapitest.FaultEndlessListing, Delay: 50 * time.Millisecond})
	const timeout = time.Second
	start := time.Now()
	_, err := e.client(nil).ListInstancesWith(ctxFor(t, listPatience), dcsapi.ListOptions{MaxInstances: 10_000_000, Timeout: timeout})
	took := time.Since(start)
	var limit *dcsapi.LimitError
	if !errors.As(err, &limit) || limit.Limit != dcsapi.LimitListingTimeout || !strings.Contains(err.Error(), "listing_timeout") {
		t.Fatalf("got %v, want a LimitError of listing_timeout", err)
	}
	if took > timeout+2*time.Second {
		t.Errorf("the listing failed after %v, want soon after %v", took, timeout)
	}
}

// A bound that the fleet fits in changes nothing; one instance more than it
// allows fails the listing, counted from the first page.
func TestMaxInstancesCountsFromFirstPage(t *testing.T) {
	e := newEnv(t)
	e.srv.SetInstances(pid, dcsapitest.SampleFleet(1500))
	c := e.client(nil)
	if list, err := c.ListInstancesWith(ctxFor(t, listPatience), dcsapi.ListOptions{MaxInstances: 1500}); err != nil || len(list) != 1500 {
		t.Fatalf("got %d instances, %v; want all 1500", len(list), err)
	}
	for _, max := range []int{1499, 999} {
		e.srv.ResetCounts()
		_, err := c.ListInstancesWith(ctxFor(t, listPatience), dcsapi.ListOptions{MaxInstances: max})
		var limit *dcsapi.LimitError
		if !errors.As(err, &limit) || limit.Value != fmt.Sprint(max) {
			t.Errorf("max %d: got %v, want a LimitError", max, err)
		}
	}
	if n := e.srv.Requests(dcsapitest.APIListInstances); n != 1 {
		t.Errorf("%d pages asked for with max_instances 999, want 1: the first page already passes it", n)
	}
}

// A page with more instances than were asked for is refused before it is
// decoded, however its key is spelled for encoding/json.
func TestPageLargerThanAskedIsRefused(t *testing.T) {
	for _, key := range []string{"instances", "INSTANCES", `instance\u0073`} {
		var b strings.Builder
		b.WriteString(`{"instance_num": 5000, "` + key + `": [`)
		for i := range dcsapi.ListPageSize + 1 {
			if i > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, `{"instance_id": "i%d"}`, i)
		}
		b.WriteString("]}")
		_, _, err := dcsapi.DecodeInstances([]byte(b.String()))
		var limit *dcsapi.LimitError
		if !errors.As(err, &limit) || limit.Limit != "page size" {
			t.Errorf("key %s: got %v, want a LimitError of the page size", key, err)
		}
	}
}

// peakRSS is the test process's peak resident set (VmHWM) as Linux reports
// it, or "unknown" elsewhere.
func peakRSS() string {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "unknown"
	}
	for line := range strings.Lines(string(status)) {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

// Memory sizes that cannot be (issue 19: max_memory -5 became -5,242,880
// bytes, used_memory 1e308 overflowed into a negative number) cost their
// field, and only it.
func TestOddMemorySizesDropTheirField(t *testing.T) {
	for value, unknown := range map[string]bool{
		`-5`: true, `1e308`: true, `1e309`: true, `"NaN"`: true, `"-Inf"`: true, `"+Inf"`: true,
		`8796093022208`: true, `-0.5`: true,
		`8796093022207`: false, `1024`: false, `"2048"`: false, `null`: false, `"abc"`: false, `0`: false,
	} {
		body := `{"instance_num": 1, "instances": [{"instance_id": "a", "name": "n", "capacity": 2,
			"max_memory": ` + value + `, "used_memory": ` + value + `}]}`
		list, _, err := dcsapi.DecodeInstances([]byte(body))
		if err != nil || len(list) != 1 {
			t.Fatalf("%s: got %v, %v; want the instance", value, list, err)
		}
		in := list[0]
		if got := in.MaxMemoryMB == dcsapi.MemoryUnknown && in.UsedMemoryMB == dcsapi.MemoryUnknown; got != unknown {
			t.Errorf("%s: max %d, used %d; want unknown %t", value, in.MaxMemoryMB, in.UsedMemoryMB, unknown)
		}
		if !unknown && (in.MaxMemoryMB < 0 || in.UsedMemoryMB < 0) {
			t.Errorf("%s: a negative size kept: %d, %d", value, in.MaxMemoryMB, in.UsedMemoryMB)
		}
		if in.Name != "n" || in.CapacityGB != 2 {
			t.Errorf("%s: the rest of the instance is lost: %+v", value, in)
		}
	}
}

// An instance that comes twice, on one page or on two (it moved while the
// pages were read), is held once, with what came last.
func TestListingKeepsOneOfEachInstance(t *testing.T) {
	page := func(offset int) string {
		var b strings.Builder
		b.WriteString(`{"instance_num": 1500, "instances": [`)
		n := dcsapi.ListPageSize
		if offset > 0 {
			n = 500
		}
		for i := range n {
			if i > 0 {
				b.WriteString(",")
			}
			id := fmt.Sprintf("i%d", offset+i)
			switch {
			case offset == 0 && i == 10, offset > 0 && i == 0:
				id = "dup" // twice on the first page, once more on the second
			case offset == 0 && i == 20:
				id = "dup"
			}
			fmt.Fprintf(&b, `{"instance_id": %q, "name": "at %d"}`, id, offset+i)
		}
		b.WriteString("]}")
		return b.String()
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		offset, _ := strconv.Atoi(r.URL.Query().Get("offset"))
		_, _ = w.Write([]byte(page(offset)))
	}))
	t.Cleanup(srv.Close)
	c, err := dcsapi.New(dcsapi.Options{Endpoint: srv.URL, ProjectID: pid,
		Credentials: dcsapi.StaticCredentials{AccessKey: "ak", SecretKey: "sk"}})
	if err != nil {
		t.Fatal(err)
	}
	list, err := c.ListInstances(ctxFor(t, listPatience))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, in := range list {
		if in.ID == "dup" {
			n++
			if in.Name != "at 1000" {
				t.Errorf("dup holds %q, want what came last (at 1000)", in.Name)
			}
		}
	}
	if n != 1 || len(list) != 1500-2 {
		t.Errorf("%d instances, dup %d times; want 1498 and once", len(list), n)
	}
}
