package collector_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/dcs-exporter/dcs_exporter/collector"
	"github.com/dcs-exporter/dcs_exporter/dcsapi/dcsapitest"
)

// TestQuotaSeries reads the fake's quota, in v2 and v1.0, and checks the
// four series against what the fake counts: ram in GB as bytes.
func TestQuotaSeries(t *testing.T) {
	for _, c := range []struct{ name, config string }{
		{"v2", targetA},
		{"v1", targetA + "    api_version: v1\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, collector.Options{}, c.config)
			e.Srv.SetQuotaLimits(projectA, &dcsapitest.QuotaLimits{Instances: 8, MemoryGB: 10})
			e.Exp.Target("prod").RefreshQuota(context.Background())
			got := e.Scrape("prod")
			lint(t, got)
			instances, gb := dcsapitest.QuotaUse(smallFleet())
			for _, c := range []struct {
				series string
				want   float64
			}{
				{`dcs_quota_instances_limit{` + prodLabels + `}`, 8},
				{`dcs_quota_instances_used{` + prodLabels + `}`, float64(instances)},
				{`dcs_quota_memory_limit_bytes{` + prodLabels + `}`, 10 << 30},
				{`dcs_quota_memory_used_bytes{` + prodLabels + `}`, float64(gb << 30)},
				{`dcs_quota_up{` + prodLabels + `}`, 1},
			} {
				if v := valueOf(t, got, c.series); v != c.want {
					t.Errorf("%s = %v, want %v", c.series, v, c.want)
				}
			}
		})
	}
}

// TestQuotaOff checks that quota: false makes no quota call and renders no
// quota series, not even the health gauge.
func TestQuotaOff(t *testing.T) {
	e := newEnv(t, collector.Options{}, targetA+"    quota: false\n")
	e.Exp.Target("prod").RefreshQuota(context.Background())
	if got := e.Scrape("prod"); strings.Contains(got, "dcs_quota_") || strings.Contains(got, `api="quota"`) {
		t.Errorf("quota off, but:\n%s", linesOf(got, "quota"))
	}
}

// TestQuotaFailures checks that a failing quota call sets dcs_quota_up to 0
// with the hint of its step, keeps the target up, and serves the last
// values within the staleness limit only.
func TestQuotaFailures(t *testing.T) {
	for _, c := range []struct {
		name string
		fail func(srv *dcsapitest.Server)
		hint string
	}{
		{"forbidden", func(srv *dcsapitest.Server) {
			srv.InjectFault(projectA, dcsapitest.APIQuota, dcsapitest.Fault{Kind: dcsapitest.FaultStatus, Status: 403, Code: "DCS.2003", Message: "role lacks permission"})
		}, "quota: false"},
		{"missing API", func(srv *dcsapitest.Server) { srv.SetAPIAvailable(projectA, dcsapitest.APIQuota, false) }, "does not offer the quota API"},
		{"not the documented shape", func(srv *dcsapitest.Server) {
			srv.SetAnswerOverride(projectA, dcsapitest.APIQuota, []byte(`{"quotas":{"resources":7}}`))
		}, "not what the DCS API sends"},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, collector.Options{MaxStaleness: 5 * time.Minute}, targetA)
			target := e.Exp.Target("prod")
			target.RefreshQuota(context.Background())
			c.fail(e.Srv)
			e.Clock.Advance(time.Minute)
			target.RefreshQuota(context.Background())
			got := e.Scrape("prod")
			if valueOf(t, got, `dcs_quota_up{`+prodLabels+`}`) != 0 || !strings.Contains(got, prodUp+"1") {
				t.Errorf("want dcs_quota_up 0 and dcs_up 1:\n%s", linesOf(got, "_up{"))
			}
			if len(series(got, "dcs_quota_instances_limit")) != 1 {
				t.Error("the last quota is not served within the staleness limit")
			}
			if logs := e.Logs.String(); !strings.Contains(logs, "quota call failed") || !strings.Contains(logs, c.hint) {
				t.Errorf("the log does not say %q:\n%s", c.hint, logs)
			}
			e.Clock.Advance(5 * time.Minute)
			if got := e.Scrape("prod"); len(series(got, "dcs_quota_instances_limit")) != 0 {
				t.Error("the quota is still served past the staleness limit")
			}
		})
	}
}

// TestQuotaSchedule runs the exporter's schedules with a short listing
// interval: the quota of a target that lists its instances is read with
// each listing, that of one that does not only every 10 minutes, so once
// in this test.
func TestQuotaSchedule(t *testing.T) {
	e := newEnv(t, collector.Options{InstancesRefreshInterval: 100 * time.Millisecond, Now: time.Now}, listedA+targetB)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); e.Exp.Run(ctx) }()
	time.Sleep(time.Second)
	cancel()
	<-done
	calls := func(target string) float64 {
		got := e.Scrape(target)
		for _, line := range series(got, "dcs_api_requests_total") {
			if strings.Contains(line, `api="quota",code="200"`) {
				return valueOf(t, got, line[:strings.LastIndexByte(line, ' ')])
			}
		}
		return 0
	}
	if n := calls("staging"); n != 1 {
		t.Errorf("the target without a listing read its quota %v times in a second, want once", n)
	}
	if n := calls("prod"); n < 3 {
		t.Errorf("the listed target read its quota %v times in a second, want one per listing (about 10)", n)
	}
}
