package collector_test

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/dcs-exporter/dcs_exporter/collector"
)

func TestSettingsMetrics(t *testing.T) {
	for _, c := range []struct {
		name      string
		opts      collector.Options
		refresh   string
		instances string
	}{
		{"on scrape, default listing interval", collector.Options{}, "0", "300"},
		{"cached", collector.Options{RefreshInterval: 90 * time.Second, InstancesRefreshInterval: 10 * time.Minute}, "90", "600"},
		{"sub-second", collector.Options{RefreshInterval: 250 * time.Millisecond, InstancesRefreshInterval: 1500 * time.Millisecond}, "0.25", "1.5"},
	} {
		t.Run(c.name, func(t *testing.T) {
			want := `# HELP dcs_exporter_instances_refresh_interval_seconds The configured --dcs.instances-refresh-interval: how often the per-instance listings are refreshed.
# TYPE dcs_exporter_instances_refresh_interval_seconds gauge
dcs_exporter_instances_refresh_interval_seconds ` + c.instances + `
# HELP dcs_exporter_refresh_interval_seconds The configured --dcs.refresh-interval: how often every target is queried in the background; 0 when targets are queried on scrape.
# TYPE dcs_exporter_refresh_interval_seconds gauge
dcs_exporter_refresh_interval_seconds ` + c.refresh + `
`
			if err := testutil.CollectAndCompare(collector.New(c.opts), strings.NewReader(want)); err != nil {
				t.Error(err)
			}
			if problems, err := testutil.CollectAndLint(collector.New(c.opts)); err != nil || len(problems) != 0 {
				t.Errorf("lint: %v %v", err, problems)
			}
		})
	}
}
