// webconfig.go checks that the probes, the ServiceMonitor and the
// ScrapeConfig's /sd requests suit the exporter's web configuration
// (exporter-toolkit's web-config.yml): the
// kubelet sends neither basic-auth passwords nor client certificates, so an
// HTTP probe of an exporter that demands them fails and the pod restarts
// for ever; and Prometheus must speak the scheme and send the credentials
// the exporter expects.
package main

import (
	"fmt"
	"slices"
	"strings"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	monitoringv1alpha1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1alpha1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// webConfigKey is the ConfigMap key of the web configuration.
const webConfigKey = "web-config.yml"

// webConfig is the part of exporter-toolkit's web configuration that
// decides who may connect.
type webConfig struct {
	TLSServerConfig *struct {
		CertFile       string `json:"cert_file"`
		Cert           string `json:"cert"`
		ClientAuthType string `json:"client_auth_type"`
	} `json:"tls_server_config"`
	BasicAuthUsers map[string]string `json:"basic_auth_users"`
}

func (w webConfig) tls() bool {
	return w.TLSServerConfig != nil && (w.TLSServerConfig.CertFile != "" || w.TLSServerConfig.Cert != "")
}

// clientCertRequired: the client_auth_type values of exporter-toolkit
// (Go's tls.ClientAuthType names) that refuse a client without a certificate.
func (w webConfig) clientCertRequired() bool {
	return w.TLSServerConfig != nil && slices.Contains([]string{"RequireAnyClientCert", "RequireAndVerifyClientCert"}, w.TLSServerConfig.ClientAuthType)
}

func (w webConfig) basicAuth() bool { return len(w.BasicAuthUsers) > 0 }

func webConfigChecks(objs []Object) []error {
	var (
		errs    []error
		cfg     *webConfig
		cfgFrom string
		deploys []*appsv1.Deployment
		mons    []*monitoringv1.ServiceMonitor
		scs     []*monitoringv1alpha1.ScrapeConfig
	)
	for _, o := range objs {
		switch obj := o.Obj.(type) {
		case *corev1.ConfigMap:
			text, ok := obj.Data[webConfigKey]
			if !ok {
				continue
			}
			var w webConfig
			if err := yaml.Unmarshal([]byte(text), &w); err != nil {
				errs = append(errs, fmt.Errorf("ConfigMap/%s: %s: %w", obj.Name, webConfigKey, err))
				continue
			}
			cfg, cfgFrom = &w, "ConfigMap/"+obj.Name
		case *appsv1.Deployment:
			deploys = append(deploys, obj)
		case *monitoringv1.ServiceMonitor:
			mons = append(mons, obj)
		case *monitoringv1alpha1.ScrapeConfig:
			scs = append(scs, obj)
		}
	}
	if cfg == nil {
		cfg = &webConfig{}
	}

	for _, d := range deploys {
		for _, c := range d.Spec.Template.Spec.Containers {
			for field, p := range map[string]*corev1.Probe{"livenessProbe": c.LivenessProbe, "readinessProbe": c.ReadinessProbe} {
				if p == nil || p.HTTPGet == nil {
					continue
				}
				where := fmt.Sprintf("Deployment/%s: container %s: %s", d.Name, c.Name, field)
				switch {
				case cfg.basicAuth():
					errs = append(errs, fmt.Errorf("%s: %s asks for basic auth, which the kubelet cannot send: the probe gets 401 and the pod restarts; probe the port with tcpSocket", where, cfgFrom))
				case cfg.clientCertRequired():
					errs = append(errs, fmt.Errorf("%s: %s requires client certificates, which the kubelet cannot send; probe the port with tcpSocket", where, cfgFrom))
				case cfg.tls() && p.HTTPGet.Scheme != corev1.URISchemeHTTPS:
					errs = append(errs, fmt.Errorf("%s: %s serves TLS, the probe must use scheme HTTPS", where, cfgFrom))
				case !cfg.tls() && p.HTTPGet.Scheme == corev1.URISchemeHTTPS:
					errs = append(errs, fmt.Errorf("%s: scheme HTTPS, but the exporter serves plain HTTP", where))
				}
			}
		}
	}

	for _, m := range mons {
		for i, ep := range m.Spec.Endpoints {
			where := fmt.Sprintf("ServiceMonitor/%s: endpoint %d (%s)", m.Name, i, ep.Path)
			scheme := "http" // Prometheus' default
			if ep.Scheme != nil && ep.Scheme.String() != "" {
				scheme = ep.Scheme.String()
			}
			want := "http"
			if cfg.tls() {
				want = "https"
			}
			if scheme != want {
				errs = append(errs, fmt.Errorf("%s: scheme %q, but the exporter serves %s", where, scheme, want))
			}
			if cfg.basicAuth() && ep.BasicAuth == nil && ep.Authorization == nil {
				errs = append(errs, fmt.Errorf("%s: %s asks for basic auth; give the endpoint basicAuth", where, cfgFrom))
			}
			if cfg.clientCertRequired() && (ep.TLSConfig == nil || ep.TLSConfig.Cert.Secret == nil && ep.TLSConfig.Cert.ConfigMap == nil && ep.TLSConfig.CertFile == "") {
				errs = append(errs, fmt.Errorf("%s: %s requires a client certificate; give the endpoint tlsConfig.cert and keySecret", where, cfgFrom))
			}
		}
	}
	// A ScrapeConfig's http_sd asks the exporter for /sd, behind the same
	// TLS and basic auth as /metrics.
	for _, sc := range scs {
		for i, sd := range sc.Spec.HTTPSDConfigs {
			where := fmt.Sprintf("ScrapeConfig/%s: httpSDConfigs[%d]", sc.Name, i)
			want := "http://"
			if cfg.tls() {
				want = "https://"
			}
			if !strings.HasPrefix(string(sd.URL), want) {
				errs = append(errs, fmt.Errorf("%s: url %s, but the exporter serves %s", where, sd.URL, strings.TrimSuffix(want, "://")))
			}
			if cfg.basicAuth() && sd.BasicAuth == nil && sd.Authorization == nil {
				errs = append(errs, fmt.Errorf("%s: %s asks for basic auth; give it basicAuth", where, cfgFrom))
			}
			if cfg.clientCertRequired() && (sd.TLSConfig == nil || sd.TLSConfig.Cert.Secret == nil && sd.TLSConfig.Cert.ConfigMap == nil) {
				errs = append(errs, fmt.Errorf("%s: %s requires a client certificate; give it tlsConfig.cert and keySecret", where, cfgFrom))
			}
		}
	}
	return errs
}
