//go:build !linux

package processcollector

// This file falls back to client_golang's collector outside Linux.

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// New is client_golang's process collector: only Linux has the lean one.
func New() prometheus.Collector {
	return collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})
}
