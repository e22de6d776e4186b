// scrapeconfig.go checks the chart's ScrapeConfig: Prometheus discovers
// the DCS instances on the exporter's /sd (http_sd) and scrapes each
// through a multi-target exporter, so the scrape must go to that
// exporter's /scrape with the instance as its target parameter.
package main

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	monitoringv1alpha1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1alpha1"
	corev1 "k8s.io/api/core/v1"
)

func checkScrapeConfig(sc *monitoringv1alpha1.ScrapeConfig) []error {
	var errs []error
	if len(sc.Spec.HTTPSDConfigs) == 0 {
		errs = append(errs, errors.New("spec.httpSDConfigs is empty"))
	}
	for i, sd := range sc.Spec.HTTPSDConfigs {
		u, err := url.Parse(string(sd.URL))
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("httpSDConfigs[%d]: url %q is no http(s) URL", i, sd.URL))
		}
	}
	if sc.Spec.MetricsPath == nil || *sc.Spec.MetricsPath != "/scrape" {
		errs = append(errs, errors.New("spec.metricsPath must be /scrape, the multi-target endpoint"))
	}
	// Each label the scrape needs must be set by some relabeling.
	for _, label := range []string{"__param_target", "__address__"} {
		if !slices.ContainsFunc(sc.Spec.RelabelConfigs, func(r monitoringv1.RelabelConfig) bool {
			return r.TargetLabel == label && (r.Action == "" || r.Action == "replace" || r.Action == "Replace")
		}) {
			errs = append(errs, fmt.Errorf("spec.relabelings: nothing sets %s", label))
		}
	}
	return errs
}

// sdService finds the Service an /sd URL names, as NAME.NAMESPACE.svc
// (with or without .cluster.local) and one of its ports.
func sdService(raw string, services []*corev1.Service) (*corev1.Service, bool) {
	u, err := url.Parse(raw)
	if err != nil || u.Path != "/sd" {
		return nil, false
	}
	host, port, err := net.SplitHostPort(u.Host)
	if err != nil {
		return nil, false
	}
	for _, s := range services {
		if host != s.Name+"."+s.Namespace+".svc" && host != s.Name+"."+s.Namespace+".svc.cluster.local" {
			continue
		}
		if slices.ContainsFunc(s.Spec.Ports, func(p corev1.ServicePort) bool { return strconv.Itoa(int(p.Port)) == port }) {
			return s, true
		}
	}
	return nil, false
}
