package main

// rollout_test.go evaluates every dashboard query with Prometheus' own query
// engine, once against the series of one exporter and once against the same
// series reported by two exporter processes at once, as during a rollout or
// with two replicas. The counts must come out the same.

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/promqltest"
	"github.com/prometheus/prometheus/storage"
)

// oneExporter is what one exporter process reports about target prod, with
// the labels a scrape adds (job, instance) and a cluster label, sampled
// every minute for 10 minutes (promqltest's load syntax).
const oneExporter = `
load 1m
  dcs_up{T} 1x10
  dcs_scrape_duration_seconds{T} 0.2x10
  dcs_last_success_timestamp_seconds{T} 0+60x10
  dcs_instances{T,engine="redis",state="running"} 5x10
  dcs_instances{T,engine="redis",state="error"} 1x10
  dcs_instances{T,engine="redis",state="creating"} 1x10
  dcs_instances{T,engine="redis",state="createfailed"} 1x10
  dcs_instances{T,engine="redis",state="frozen"} 1x10
  dcs_instances{T,engine="memcached",state="running"} 2x10
  dcs_instances{T,engine="memcached",state="restarting"} 1x10
  dcs_api_requests_total{T,api="instance_status",code="200"} 0+10x10
  dcs_api_requests_total{T,api="instance_status",code="429"} 0+1x10
  dcs_instance_status{T,instance_id="i1",status="RUNNING"} 1x10
  dcs_instance_status{T,instance_id="i2",status="ERROR"} 1x10
  dcs_instance_info{T,instance_id="i1",name="orders",engine="redis",tag_owner="alice",enterprise_project_id="0"} 1x10
  dcs_instance_info{T,instance_id="i2",name="sessions",engine="redis",tag_owner="bob",enterprise_project_id="ep-2"} 1x10
  dcs_instance_memory_used_bytes{T,instance_id="i1"} 100x10
  dcs_instance_memory_used_bytes{T,instance_id="i2"} 300x10
  dcs_instance_memory_max_bytes{T,instance_id="i1"} 1000x10
  dcs_instance_memory_max_bytes{T,instance_id="i2"} 1000x10
  dcs_instance_maintenance_window_active{T,instance_id="i1"} 0x10
  dcs_instance_maintenance_window_active{T,instance_id="i2"} 1x10
  dcs_instance_upgrade_pending{T,instance_id="i1"} 0x10
  dcs_instance_upgrade_pending{T,instance_id="i2"} 1x10
  dcs_instances_listing_up{T} 1x10
  dcs_instance_memory_used_bytes{T,instance_id="j1"} 950x10
  dcs_instance_memory_max_bytes{T,instance_id="j1"} 1000x10
  dcs_instance_keys{T,instance_id="i1"} 1200x10
  dcs_instance_keys{T,instance_id="j1"} 80x10
  dcs_instance_network_receive_bytes_per_second{T,instance_id="i1"} 2500x10
  dcs_instance_network_transmit_bytes_per_second{T,instance_id="i1"} 9000x10
  dcs_statistics_up{T} 1x10
  dcs_quota_instances_limit{T} 50x10
  dcs_quota_instances_used{T} 12x10
  dcs_quota_memory_limit_bytes{T} 858993459200x10
  dcs_quota_memory_used_bytes{T} 42949672960x10
  dcs_quota_up{T} 1x10
  dcs_instances_listing_mismatch{T,state="running"} 0x10
  dcs_instances_listing_mismatch{T,state="error"} -1x10
  dcs_instance_nodes{T,instance_id="i1",node_type="slave",status="Inactive"} 1x10
  dcs_instance_nodes{T,instance_id="i1",node_type="slave",status="Active"} 0x10
  dcs_instance_nodes{T,instance_id="i1",node_type="master",status="Active"} 1x10
  dcs_instance_master_changes_total{T,instance_id="i1"} 0 0 0 1x7
  dcs_instance_single_az{T,instance_id="i1"} 1x10
  dcs_instance_single_az{T,instance_id="i2"} 0x10
  dcs_instance_backup_last_success_timestamp_seconds{T,instance_id="i1"} 0x10
  dcs_exporter_build_info{E,version="0.1.0"} 1x10
  dcs_exporter_config_last_reload_successful{E} 1x10
  dcs_exporter_refresh_interval_seconds{E} 60x10
  dcs_exporter_instances_refresh_interval_seconds{E} 300x10
`

// Alerts are Prometheus' own series: there is one, however many exporters.
const alertSeries = `  ALERTS{alertname="DCSTargetDown",alertstate="firing",severity="warning",target="prod",region="cn-north-4",project_id="p1"} 1x10
`

// exporterSeries fills in the labels of one exporter process.
func exporterSeries(instance string) string {
	scrape := fmt.Sprintf(`job="dcs",instance=%q,cluster="c1"`, instance)
	return strings.NewReplacer(
		"{T", "{"+scrape+`,target="prod",region="cn-north-4",project_id="p1"`,
		"{E", "{"+scrape,
	).Replace(oneExporter)
}

// perProcess are panels whose answer rightly depends on how many exporter
// processes there are: each makes its own API requests, and the version
// panel counts processes.
var perProcess = []string{"dcs_api_requests_total", "dcs_exporter_build_info"}

func TestDashboardCountsSurviveARollout(t *testing.T) {
	res, errs := checkDashboard(readFile(t, shippedDashboard), nil)
	if len(errs) > 0 {
		t.Fatalf("dashboard problems:\n%s", joinErrors(errs))
	}
	single := promqltest.LoadedStorage(t, exporterSeries("exp-a:19867")+alertSeries)
	double := promqltest.LoadedStorage(t, exporterSeries("exp-a:19867")+
		strings.TrimPrefix(exporterSeries("exp-b:19867"), "\nload 1m\n")+alertSeries)
	engine := promqltest.NewTestEngine(t, false, 5*time.Minute, promqltest.DefaultMaxSamplesPerQuery)
	at := time.Unix(600, 0)

	eval := func(storage storage.Queryable, q dashQuery) string {
		t.Helper()
		text, _ := substitute(q.expr, q.minInterval, func(string) string { return ".*" })
		query, err := engine.NewInstantQuery(context.Background(), storage, nil, text, at)
		if err != nil {
			t.Fatalf("%s: %v", q.where, err)
		}
		defer query.Close()
		r := query.Exec(context.Background())
		if r.Err != nil {
			t.Fatalf("%s: %v\n  query: %s", q.where, r.Err, text)
		}
		return canonical(r.Value)
	}

	for _, q := range res.queries {
		if q.variable {
			continue
		}
		one := eval(single, q)
		if one == "" {
			t.Errorf("%s returns no data for one exporter's series: an empty panel\n  query: %s", q.where, q.expr)
			continue
		}
		two := eval(double, q)
		if slices.ContainsFunc(perProcess, func(m string) bool { return strings.Contains(q.expr, m) }) {
			if two == "" {
				t.Errorf("%s returns no data for two exporters", q.where)
			}
			continue
		}
		if one != two {
			t.Errorf("%s differs with two exporters:\n  one: %s\n  two: %s\n  query: %s", q.where, one, two, q.expr)
		}
	}
}

// canonical renders a query result in a stable order.
func canonical(v any) string {
	switch r := v.(type) {
	case promql.Vector:
		lines := make([]string, len(r))
		for i, s := range r {
			lines[i] = fmt.Sprintf("%s %g", s.Metric, s.F)
		}
		slices.Sort(lines)
		return strings.Join(lines, "; ")
	case promql.Scalar:
		return fmt.Sprintf("scalar %g", r.V)
	default:
		return fmt.Sprint(v)
	}
}
