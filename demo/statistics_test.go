package demo_test

import (
	"bytes"
	"context"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/dcs-exporter/dcs_exporter/collector"
	"github.com/dcs-exporter/dcs_exporter/collector/exposition"
	"github.com/dcs-exporter/dcs_exporter/config"
	"github.com/dcs-exporter/dcs_exporter/dcsapi/dcsapitest"
	"github.com/dcs-exporter/dcs_exporter/demo"
)

// TestDemoStatisticsMove runs the demo's configuration against its fleet
// on a clock the test moves: every target has statistics and quota series,
// and the statistics differ a few minutes later.
func TestDemoStatisticsMove(t *testing.T) {
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	srv := dcsapitest.NewServer()
	t.Cleanup(srv.Close)
	srv.SetClock(clock)
	demo.Populate(srv, rand.New(rand.NewPCG(1, 2)))
	cfg, err := config.Parse([]byte(demo.Config(srv.URL)), "demo.yml")
	if err != nil {
		t.Fatal(err)
	}
	exp := collector.New(collector.Options{Now: clock})
	t.Cleanup(exp.Close)
	if err := exp.ApplyConfig(cfg); err != nil {
		t.Fatal(err)
	}
	scrape := func() string {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		for _, target := range exp.Targets() {
			if !target.Config().Statistics {
				t.Errorf("demo target %s does not read statistics", target.Name())
			}
			target.Refresh(ctx)
			target.RefreshQuota(ctx)
		}
		var b bytes.Buffer
		exposition.WriteFamilies(&b, exp.Scrape(ctx, exp.Targets(), time.Now().Add(time.Minute)))
		return b.String()
	}
	before := scrape()
	for _, target := range []string{"demo-beijing", "demo-singapore", "demo-otc"} {
		for _, metric := range []string{"dcs_statistics_up", "dcs_quota_up"} {
			if !strings.Contains(before, metric+`{target="`+target+`",`) {
				t.Errorf("no %s for %s", metric, target)
			}
		}
	}
	now = now.Add(4 * time.Minute)
	after := scrape()
	for _, metric := range []string{"dcs_instance_keys", "dcs_instance_memory_used_bytes", "dcs_instance_network_receive_bytes_per_second"} {
		if linesOf(before, metric) == "" || linesOf(before, metric) == linesOf(after, metric) {
			t.Errorf("%s did not move in 4 minutes", metric)
		}
	}
}

func linesOf(text, metric string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, metric+"{") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
