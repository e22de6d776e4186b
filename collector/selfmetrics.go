package collector

// This file exports the exporter's settings that alert rules need: the
// refresh intervals, against which the age of the data is judged.

import "github.com/prometheus/client_golang/prometheus"

var (
	refreshIntervalDesc = prometheus.NewDesc("dcs_exporter_refresh_interval_seconds",
		"The configured --dcs.refresh-interval: how often every target is queried in the background; 0 when targets are queried on scrape.", nil, nil)
	instancesRefreshIntervalDesc = prometheus.NewDesc("dcs_exporter_instances_refresh_interval_seconds",
		"The configured --dcs.instances-refresh-interval: how often the per-instance listings are refreshed.", nil, nil)
)

// Describe and Collect make the Exporter a prometheus.Collector of its
// settings, for the registry of the exporter's own metrics. The targets'
// series are served by MetricsHandler, not through a registry.
func (e *Exporter) Describe(ch chan<- *prometheus.Desc) {
	ch <- refreshIntervalDesc
	ch <- instancesRefreshIntervalDesc
}

// Collect sends the settings; they never change while the process runs.
func (e *Exporter) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(refreshIntervalDesc, prometheus.GaugeValue, e.opts.RefreshInterval.Seconds())
	ch <- prometheus.MustNewConstMetric(instancesRefreshIntervalDesc, prometheus.GaugeValue, e.opts.InstancesRefreshInterval.Seconds())
}
