package collector_test

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dcs-exporter/dcs_exporter/collector"
	"github.com/dcs-exporter/dcs_exporter/dcsapi"
	"github.com/dcs-exporter/dcs_exporter/dcsapi/dcsapitest"
)

// statsA is TargetA reading the statistics API with every query.
const statsA = targetA + "    statistics: true\n"

// TestStatisticsSeries pins one running instance's statistics and checks
// its series in the units the README promises: memory MB as bytes, the
// kbit/s of input_kbps and output_kbps as bytes per second (x 1000 / 8).
func TestStatisticsSeries(t *testing.T) {
	e := newEnv(t, collector.Options{}, statsA)
	e.Srv.SetStatistic(projectA, "r1", &dcsapitest.Statistic{Keys: 42, UsedMemoryMB: 512, MaxMemoryMB: 1024,
		CmdGetCount: 7, CmdSetCount: 3, UsedCPU: "12.5", InputKbps: "8", OutputKbps: "0.5"})
	got := e.Scrape("prod")
	lint(t, got)
	for _, line := range []string{
		`dcs_instance_keys{` + prodLabels + `,instance_id="r1"} 42`,
		`dcs_instance_memory_used_bytes{` + prodLabels + `,instance_id="r1"} 536870912`,
		`dcs_instance_memory_max_bytes{` + prodLabels + `,instance_id="r1"} 1073741824`,
		`dcs_instance_network_receive_bytes_per_second{` + prodLabels + `,instance_id="r1"} 1000`,
		`dcs_instance_network_transmit_bytes_per_second{` + prodLabels + `,instance_id="r1"} 62.5`,
		`dcs_statistics_up{` + prodLabels + `} 1`,
		`dcs_api_requests_total{` + prodLabels + `,api="instance_statistics",code="200"} 1`,
		prodUp + "1",
	} {
		if !strings.Contains(got, line+"\n") {
			t.Errorf("missing %s", line)
		}
	}
	// Running instances only, as the API answers; the CPU and the command
	// counts are not exported (README, "Metrics").
	if ids := instanceIDs(got, "dcs_instance_keys"); !slices.Equal(ids, []string{"r1", "r2", "r3", "m1"}) {
		t.Errorf("dcs_instance_keys for %v, want the running r1, r2, r3, m1", ids)
	}
	for _, name := range []string{"cpu", "cmd_get", "cmd_set", "command"} {
		if strings.Contains(got, name) {
			t.Errorf("the exposition has %q, which no source settles the meaning of", name)
		}
	}
}

// TestStatisticsOffByDefault checks that a target without statistics: true
// makes no statistics call and has no statistics series, not even the
// health gauge.
func TestStatisticsOffByDefault(t *testing.T) {
	e := newEnv(t, collector.Options{}, targetA)
	got := e.Scrape("prod")
	for _, name := range []string{"dcs_statistics_up", "dcs_instance_keys", "instance_statistics", "dcs_instance_network_"} {
		if strings.Contains(got, name) {
			t.Errorf("statistics off, but the exposition has %s", name)
		}
	}
}

// TestStatisticsMemoryOneSeries checks that every instance has at most one
// memory series of each family: from the statistics when they are on, for
// running instances, and from the listing when they are off.
func TestStatisticsMemoryOneSeries(t *testing.T) {
	for _, c := range []struct {
		name, config string
		ids          []string
		usedR1       float64
	}{
		{"listing only", listedA, []string{"c1", "m1", "m2", "r1", "r2", "r3", "r4", "r5"}, 256 << 20},
		{"statistics only", statsA, []string{"m1", "r1", "r2", "r3"}, 700 << 20},
		{"both", listedA + "    statistics: true\n", []string{"m1", "r1", "r2", "r3"}, 700 << 20},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, collector.Options{}, c.config)
			e.Srv.SetInstances(projectA, append(smallFleet(), dcsapitest.Instance{ID: "c1", Name: "x", Engine: "Redis", Status: "CREATEFAILED", MaxMemoryMB: 64}))
			e.Srv.SetStatistic(projectA, "r1", &dcsapitest.Statistic{Keys: 1, UsedMemoryMB: 700, MaxMemoryMB: 1024, UsedCPU: "0", InputKbps: "0", OutputKbps: "0"})
			e.Exp.Target("prod").Refresh(context.Background())
			if strings.Contains(c.config, "instances: true") {
				e.Refresh("prod")
			}
			got := e.Scrape("prod")
			for _, metric := range []string{"dcs_instance_memory_used_bytes", "dcs_instance_memory_max_bytes"} {
				ids := instanceIDs(got, metric)
				slices.Sort(ids)
				if !slices.Equal(ids, c.ids) {
					t.Errorf("%s for %v, want %v (one each)", metric, ids, c.ids)
				}
			}
			if v := valueOf(t, got, `dcs_instance_memory_used_bytes{`+prodLabels+`,instance_id="r1"}`); v != c.usedR1 {
				t.Errorf("r1 uses %v bytes, want %v", v, c.usedR1)
			}
		})
	}
}

// TestStatisticsBadValues checks that a value that is not a finite,
// non-negative number costs its own series for its own instance, and that
// one line per refresh counts the drops.
func TestStatisticsBadValues(t *testing.T) {
	e := newEnv(t, collector.Options{}, statsA)
	e.Srv.SetStatistic(projectA, "r1", &dcsapitest.Statistic{Keys: 5, UsedMemoryMB: 1, MaxMemoryMB: 2, UsedCPU: "N/A", InputKbps: "N/A", OutputKbps: "1.2.3"})
	e.Srv.SetStatistic(projectA, "r2", &dcsapitest.Statistic{Keys: 6, UsedMemoryMB: 1, MaxMemoryMB: 2, UsedCPU: "0", InputKbps: "NaN", OutputKbps: "3"})
	got := e.Scrape("prod")
	if ids := instanceIDs(got, "dcs_instance_network_receive_bytes_per_second"); slices.Contains(ids, "r1") || slices.Contains(ids, "r2") || !slices.Contains(ids, "r3") {
		t.Errorf("receive series for %v: r1 and r2 sent no number, r3 did", ids)
	}
	if ids := instanceIDs(got, "dcs_instance_network_transmit_bytes_per_second"); slices.Contains(ids, "r1") || !slices.Contains(ids, "r2") {
		t.Errorf("transmit series for %v: r1 sent 1.2.3, r2 a number", ids)
	}
	if ids := instanceIDs(got, "dcs_instance_keys"); !slices.Contains(ids, "r1") || !slices.Contains(ids, "r2") {
		t.Errorf("keys for %v: a bad network value cost the instance's keys", ids)
	}
	if !strings.Contains(got, `dcs_statistics_up{`+prodLabels+`} 1`) || !strings.Contains(got, prodUp+"1") {
		t.Error("bad values failed the call")
	}
	logs := e.Logs.String()
	if n := strings.Count(logs, "not finite non-negative numbers"); n != 1 {
		t.Fatalf("%d log lines on the drops, want 1:\n%s", n, logs)
	}
	// used_cpu is not exported, so its drop is not news.
	if !strings.Contains(logs, `dropped="input_kbps=2 output_kbps=1"`) {
		t.Errorf("the log line does not count the drops by field:\n%s", logs)
	}
	e.Scrape("prod")
	if n := strings.Count(e.Logs.String(), "not finite non-negative numbers"); n != 2 {
		t.Errorf("%d log lines after two refreshes, want one each", n)
	}
}

// TestStatisticsDuplicates checks that a duplicated instance_id keeps its
// first entry and is logged once, however many refreshes bring it.
func TestStatisticsDuplicates(t *testing.T) {
	e := newEnv(t, collector.Options{}, statsA)
	e.Srv.SetAnswerOverride(projectA, dcsapitest.APIStatistics, []byte(`{"statistics":[`+
		`{"instance_id":"r1","keys":1,"used_memory":1,"max_memory":10,"cmd_get_count":0,"cmd_set_count":0,"used_cpu":"0","input_kbps":"0","output_kbps":"0"},`+
		`{"instance_id":"r1","keys":2,"used_memory":2,"max_memory":10,"cmd_get_count":0,"cmd_set_count":0,"used_cpu":"0","input_kbps":"0","output_kbps":"0"}]}`))
	for range 3 {
		got := e.Scrape("prod")
		if lines := series(got, "dcs_instance_keys"); len(lines) != 1 || !strings.HasSuffix(lines[0], "} 1") {
			t.Fatalf("keys series %q, want r1's first entry alone", lines)
		}
	}
	if n := strings.Count(e.Logs.String(), "more than once"); n != 1 {
		t.Errorf("duplicates logged %d times over three refreshes, want once", n)
	}
}

// TestStatisticsFailures checks that a failing statistics call never takes
// dcs_up down, says why with the hint for its step, serves its last answer
// within the staleness limit, and leaves the other series alone.
func TestStatisticsFailures(t *testing.T) {
	for _, c := range []struct {
		name  string
		fail  func(srv *dcsapitest.Server)
		hints []string // in the log
	}{
		{"forbidden", func(srv *dcsapitest.Server) {
			srv.InjectFault(projectA, dcsapitest.APIStatistics, dcsapitest.Fault{Kind: dcsapitest.FaultStatus, Status: 403, Code: "DCS.2003", Message: "role lacks permission"})
		}, []string{"DCS ReadOnlyAccess", "statistics: false"}},
		{"missing API", func(srv *dcsapitest.Server) { srv.SetAPIAvailable(projectA, dcsapitest.APIStatistics, false) },
			[]string{"does not offer the statistics API", "statistics: false"}},
		{"not the documented shape", func(srv *dcsapitest.Server) {
			srv.SetAnswerOverride(projectA, dcsapitest.APIStatistics, []byte(`{"statistics":{"instance_id":"r1"}}`))
		}, []string{"not what the DCS API sends"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, collector.Options{MaxStaleness: 5 * time.Minute}, statsA)
			if got := e.Scrape("prod"); len(series(got, "dcs_instance_keys")) != 4 {
				t.Fatalf("no statistics before the failure:\n%s", got)
			}
			c.fail(e.Srv)
			e.Clock.Advance(time.Minute)
			got := e.Scrape("prod")
			if !strings.Contains(got, prodUp+"1") || !strings.Contains(got, `dcs_statistics_up{`+prodLabels+`} 0`) {
				t.Errorf("want dcs_up 1 and dcs_statistics_up 0:\n%s", linesOf(got, "_up{"))
			}
			if n := len(series(got, "dcs_instance_keys")); n != 4 {
				t.Errorf("%d keys series a minute after the failure, want the last answer's 4", n)
			}
			if len(series(got, "dcs_instances_all_engines")) == 0 {
				t.Error("the status counts went with the statistics")
			}
			logs := e.Logs.String()
			if n := strings.Count(logs, "statistics call failed"); n != 1 {
				t.Errorf("the failure was logged %d times, want once", n)
			}
			for _, h := range c.hints {
				if !strings.Contains(logs, h) {
					t.Errorf("the log does not say %q:\n%s", h, logs)
				}
			}
			e.Clock.Advance(5 * time.Minute)
			got = e.Scrape("prod")
			if n := len(series(got, "dcs_instance_keys")); n != 0 {
				t.Errorf("%d keys series past the staleness limit, want none", n)
			}
			if !strings.Contains(got, prodUp+"1") {
				t.Error("dcs_up went down with the statistics")
			}
			if n := strings.Count(e.Logs.String(), "statistics call failed"); n != 1 {
				t.Errorf("the same failure was logged %d times, want once", n)
			}
		})
	}
}

// TestStatisticsCoalesced checks that concurrent scrapes share one status
// call and one statistics call, and that a target backing off after refused
// credentials makes neither.
func TestStatisticsCoalesced(t *testing.T) {
	e := newEnv(t, collector.Options{}, statsA)
	e.Srv.SetLatency(200 * time.Millisecond) // so that the three scrapes meet
	done := make(chan string, 3)
	for range 3 {
		go func() { done <- e.Scrape("prod") }()
	}
	for range 3 {
		<-done
	}
	e.Srv.SetLatency(0)
	got := e.Scrape("prod")
	calls := func(api string) float64 {
		return valueOf(t, got, `dcs_api_requests_total{`+prodLabels+`,api="`+api+`",code="200"}`)
	}
	if s, st := calls("instance_status"), calls("instance_statistics"); s != st || s > 3 {
		t.Errorf("%v status calls and %v statistics calls for 4 scrapes, want as many of each, and fewer than one per scrape", s, st)
	}

	e.Srv.InjectFault(projectA, dcsapi.APIInstanceStatus, dcsapitest.Fault{Kind: dcsapitest.FaultStatus, Status: 401, Code: "APIGW.0301", Message: "Incorrect IAM authentication information"})
	e.Scrape("prod")
	before := e.Scrape("prod")
	e.Scrape("prod")
	after := e.Scrape("prod")
	b := valueOf(t, before, `dcs_api_requests_total{`+prodLabels+`,api="instance_statistics",code="200"}`)
	a := valueOf(t, after, `dcs_api_requests_total{`+prodLabels+`,api="instance_statistics",code="200"}`)
	if a != b {
		t.Errorf("statistics calls went from %v to %v while the target backs off", b, a)
	}
}

// TestStatisticsOneSlot checks that with --dcs.max-concurrency=1 the
// status and statistics calls of a query take turns rather than wait for
// each other until the deadline.
func TestStatisticsOneSlot(t *testing.T) {
	e := newEnv(t, collector.Options{MaxConcurrency: 1}, statsA)
	start := time.Now()
	got := e.Scrape("prod")
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("one query took %v with one slot", took)
	}
	if !strings.Contains(got, `dcs_statistics_up{`+prodLabels+`} 1`) || !strings.Contains(got, prodUp+"1") {
		t.Errorf("want both calls to succeed with one slot:\n%s", linesOf(got, "_up{"))
	}
}

// TestStatisticsFleet20k checks a fleet of the size end to end:
// every running instance has its five series, each once.
func TestStatisticsFleet20k(t *testing.T) {
	if testing.Short() {
		t.Skip("20,000 instances")
	}
	e := newEnv(t, collector.Options{}, statsA)
	fleet := make([]dcsapitest.Instance, 20000)
	for i := range fleet {
		fleet[i] = dcsapitest.Instance{ID: fmt.Sprintf("i-%05d", i), Name: "x", Engine: "Redis", Status: "RUNNING", MaxMemoryMB: 1024, UsedMemoryMB: 100}
	}
	e.Srv.SetInstances(projectA, fleet)
	got := e.Scrape("prod")
	for _, metric := range []string{"dcs_instance_keys", "dcs_instance_memory_used_bytes", "dcs_instance_memory_max_bytes",
		"dcs_instance_network_receive_bytes_per_second", "dcs_instance_network_transmit_bytes_per_second"} {
		ids := instanceIDs(got, metric)
		if len(ids) != 20000 || len(slices.Compact(slices.Sorted(slices.Values(ids)))) != 20000 {
			t.Errorf("%s: %d series, want one for each of 20000 instances", metric, len(ids))
		}
	}
}

// valueOf returns the value of the one sample whose name and labels are
// series, as written.
func valueOf(t *testing.T, text, series string) float64 {
	t.Helper()
	for _, line := range strings.Split(text, "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatal(err)
			}
			return f
		}
	}
	t.Fatalf("no sample %s in:\n%s", series, text)
	return 0
}
