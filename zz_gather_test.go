package main

import (
	"bytes"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"
	"github.com/prometheus/common/expfmt"

	"github.com/dcs-exporter/dcs_exporter/collector"
)

func zzrun(b *testing.B, cs ...prometheus.Collector) {
	r := prometheus.NewRegistry()
	r.MustRegister(cs...)
	var buf bytes.Buffer
	b.ReportAllocs()
	for b.Loop() {
		buf.Reset()
		mfs, _ := r.Gather()
		for _, mf := range mfs { expfmt.MetricFamilyToText(&buf, mf) }
	}
}

func BenchmarkZZAll(b *testing.B) {
	reloads := newReloadMetrics()
	zzrun(b, versioncollector.NewCollector(exporterName), collectors.NewGoCollector(), collector.NewProcessCollector(), reloads.success, reloads.timestamp)
}
func BenchmarkZZGo(b *testing.B)      { zzrun(b, collectors.NewGoCollector()) }
func BenchmarkZZProc(b *testing.B)    { zzrun(b, collector.NewProcessCollector()) }
func BenchmarkZZVersion(b *testing.B) { zzrun(b, versioncollector.NewCollector(exporterName)) }
func BenchmarkZZReload(b *testing.B)  { reloads := newReloadMetrics(); zzrun(b, reloads.success, reloads.timestamp) }
