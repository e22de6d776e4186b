// chart_test.go renders the Helm chart with each of its options, decodes
// the result into the Kubernetes and prometheus-operator types through
// Check, and asserts what each option must change.
package main

import (
	"bytes"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	monitoringv1alpha1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1alpha1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/yaml"
)

const (
	chartDir      = "../../deploy/helm/dcs-exporter"
	releaseName   = "rel"
	namespace     = "monitoring"
	fullname      = "rel-dcs-exporter"
	runbookGitHub = "https://github.com/dcs-exporter/dcs_exporter/blob/main/deploy/runbook.md"
)

var (
	skippedMu sync.Mutex
	skipped   []string
)

// TestMain prints what was skipped and why, so that a plain `go test`
// (which shows no SKIP lines without -v) does not hide it.
func TestMain(m *testing.M) {
	code := m.Run()
	if len(skipped) > 0 {
		fmt.Fprintf(os.Stderr, "k8scheck: %d chart test(s) skipped:\n  %s\n", len(skipped), strings.Join(skipped, "\n  "))
	}
	os.Exit(code)
}

// helmCommand is $HELM (which may have several words) or helm from PATH.
// Without it the chart tests fail in CI or when HELM names a missing
// command (deploy/check.sh sets it), and are skipped elsewhere with the
// reason recorded for TestMain's summary.
func helmCommand(t *testing.T) []string {
	t.Helper()
	cmd := strings.Fields(os.Getenv("HELM"))
	if len(cmd) == 0 {
		cmd = []string{"helm"}
	}
	if _, err := exec.LookPath(cmd[0]); err != nil {
		msg := fmt.Sprintf("%s: %s not found (set HELM or put helm v3.22 on PATH; deploy/check.sh runs these tests)", t.Name(), cmd[0])
		if os.Getenv("CI") != "" || os.Getenv("HELM") != "" {
			t.Fatal(msg)
		}
		skippedMu.Lock()
		skipped = append(skipped, msg)
		skippedMu.Unlock()
		t.Skip(msg)
	}
	return cmd
}

// firstInstall is what every install must add to the chart's defaults:
// where the API credentials come from. Without it the chart refuses to
// render (TestChartRefusesToRenderWithoutCredentials).
const firstInstall = "credentials: {existingSecret: huaweicloud-dcs-readonly}\n"

// helmTemplate renders the chart with firstInstall and then the given
// values (YAML documents, each passed with -f) and extra arguments.
func helmTemplate(t *testing.T, values []string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	return helmTemplateRaw(t, append([]string{firstInstall}, values...), args...)
}

// helmTemplateRaw is helmTemplate without firstInstall.
func helmTemplateRaw(t *testing.T, values []string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	cmd := helmCommand(t)
	full := append(slices.Clone(cmd[1:]), "template", releaseName, chartDir, "--namespace", namespace)
	dir, err := os.MkdirTemp("", "k8scheck-values-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	for i, v := range values {
		// Not t.TempDir: helm splits -f at commas, which subtest names may hold.
		file := filepath.Join(dir, fmt.Sprintf("values-%d.yaml", i))
		if err := os.WriteFile(file, []byte(v), 0o600); err != nil {
			t.Fatal(err)
		}
		full = append(full, "-f", file)
	}
	full = append(full, args...)
	var out, errOut bytes.Buffer
	c := exec.Command(cmd[0], full...)
	c.Stdout, c.Stderr = &out, &errOut
	err = c.Run()
	return out.String(), errOut.String(), err
}

// render renders the chart and requires Check to pass.
func render(t *testing.T, opts Options, values ...string) Result {
	t.Helper()
	out, errOut, err := helmTemplate(t, values)
	if err != nil {
		t.Fatalf("helm template: %v\n%s", err, errOut)
	}
	res, err := Check(strings.NewReader(out), opts)
	if err != nil {
		t.Fatalf("Check: %v\n%s\n--- rendering:\n%s", err, strings.Join(res.Lines, "\n"), out)
	}
	return res
}

func objectsOf[T any](res Result) []T {
	var out []T
	for _, o := range res.Objects {
		if v, ok := o.Obj.(T); ok {
			out = append(out, v)
		}
	}
	return out
}

func only[T any](t *testing.T, res Result) T {
	t.Helper()
	objs := objectsOf[T](res)
	if len(objs) != 1 {
		var zero T
		t.Fatalf("want one %T, found %d", zero, len(objs))
	}
	return objs[0]
}

func container(t *testing.T, res Result) corev1.Container {
	t.Helper()
	return only[*appsv1.Deployment](t, res).Spec.Template.Spec.Containers[0]
}

func TestChartDefaults(t *testing.T) {
	res := render(t, Options{})
	var chart struct {
		AppVersion string `json:"appVersion"`
	}
	b, err := os.ReadFile(filepath.Join(chartDir, "Chart.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &chart); err != nil || chart.AppVersion == "" {
		t.Fatalf("Chart.yaml: appVersion %q, %v", chart.AppVersion, err)
	}
	c := container(t, res)
	// The release workflow tags images v<version>, as the community charts do.
	if want := "ghcr.io/dcs-exporter/dcs_exporter:v" + chart.AppVersion; c.Image != want {
		t.Errorf("image %q, want %q", c.Image, want)
	}
	for name, p := range map[string]*corev1.Probe{"liveness": c.LivenessProbe, "readiness": c.ReadinessProbe} {
		if p.HTTPGet == nil || p.HTTPGet.Scheme != corev1.URISchemeHTTP {
			t.Errorf("%s probe: want an HTTP GET, got %+v", name, p.ProbeHandler)
		}
	}
	if len(c.Env) != 0 {
		t.Errorf("env %v, want none", c.Env)
	}
	for _, kind := range []string{"ServiceMonitor", "PrometheusRule", "PodDisruptionBudget", "ScrapeConfig"} {
		if slices.ContainsFunc(res.Objects, func(o Object) bool { return o.Kind == kind }) {
			t.Errorf("a %s is rendered by default", kind)
		}
	}
}

func TestChartImageTagAndDigest(t *testing.T) {
	if got := container(t, render(t, Options{}, "image: {tag: 1.2.3}\n")).Image; got != "ghcr.io/dcs-exporter/dcs_exporter:1.2.3" {
		t.Errorf("image %q with tag 1.2.3", got)
	}
	digest := "sha256:" + strings.Repeat("ab", 32)
	if got := container(t, render(t, Options{}, "image: {digest: "+digest+"}\n")).Image; got != "ghcr.io/dcs-exporter/dcs_exporter@"+digest {
		t.Errorf("image %q with a digest", got)
	}
}

// kubePrometheusStackSelector is the selector kube-prometheus-stack gives
// its Prometheus by default, for ServiceMonitors and PrometheusRules alike
// (templates/prometheus/prometheus.yaml with
// serviceMonitorSelectorNilUsesHelmValues and ruleSelectorNilUsesHelmValues
// true, their default): `release: <the stack's release name>`.
func kubePrometheusStackSelector(stackRelease string) labels.Selector {
	sel, err := metav1.LabelSelectorAsSelector(&metav1.LabelSelector{MatchLabels: map[string]string{"release": stackRelease}})
	if err != nil {
		panic(err)
	}
	return sel
}

func TestChartReleaseLabelMatchesKubePrometheusStack(t *testing.T) {
	const enabled = "serviceMonitor: {enabled: true}\nprometheusRule: {enabled: true}\n"
	sel := kubePrometheusStackSelector("kube-prometheus-stack")

	res := render(t, Options{}, enabled+"releaseLabel: kube-prometheus-stack\n")
	if sm := only[*monitoringv1.ServiceMonitor](t, res); !sel.Matches(labels.Set(sm.Labels)) {
		t.Errorf("ServiceMonitor labels %v do not match kube-prometheus-stack's selector %s", sm.Labels, sel)
	}
	if pr := only[*monitoringv1.PrometheusRule](t, res); !sel.Matches(labels.Set(pr.Labels)) {
		t.Errorf("PrometheusRule labels %v do not match kube-prometheus-stack's selector %s", pr.Labels, sel)
	}

	// Without it they are ignored, which is the trap the option removes.
	res = render(t, Options{}, enabled)
	if sm := only[*monitoringv1.ServiceMonitor](t, res); sel.Matches(labels.Set(sm.Labels)) {
		t.Errorf("ServiceMonitor labels %v match without releaseLabel", sm.Labels)
	}
}

func TestChartExtraEnv(t *testing.T) {
	values := `extraEnv:
  - name: HTTPS_PROXY
    value: http://proxy.example.com:3128
  - name: HUAWEICLOUD_SDK_AK
    valueFrom:
      secretKeyRef: {name: huaweicloud, key: ak}
  - name: HUAWEICLOUD_SDK_SK
    valueFrom:
      secretKeyRef: {name: huaweicloud, key: sk}
credentials: {existingSecret: ""}
config:
  defaults:
    region: cn-north-4
    credentials: {env: true}
  targets:
    - name: prod
`
	res := render(t, Options{AllowSecretEnv: []string{"HUAWEICLOUD_SDK_AK", "HUAWEICLOUD_SDK_SK"}}, values)
	env := map[string]corev1.EnvVar{}
	for _, e := range container(t, res).Env {
		env[e.Name] = e
	}
	if env["HTTPS_PROXY"].Value != "http://proxy.example.com:3128" {
		t.Errorf("HTTPS_PROXY is %+v", env["HTTPS_PROXY"])
	}
	if ref := env["HUAWEICLOUD_SDK_SK"].ValueFrom; ref == nil || ref.SecretKeyRef == nil || ref.SecretKeyRef.Key != "sk" {
		t.Errorf("HUAWEICLOUD_SDK_SK is %+v", env["HUAWEICLOUD_SDK_SK"])
	}
}

func TestChartExistingSecretKeyNames(t *testing.T) {
	values := `credentials:
  existingSecret: huaweicloud
  useSecurityToken: true
  existingSecretKeys: {accessKey: ak, secretKey: sk, securityToken: token}
`
	res := render(t, Options{}, values)
	var items []corev1.KeyToPath
	for _, v := range only[*appsv1.Deployment](t, res).Spec.Template.Spec.Volumes {
		if v.Secret != nil && v.Secret.SecretName == "huaweicloud" {
			items = v.Secret.Items
		}
	}
	want := []corev1.KeyToPath{{Key: "ak", Path: "access_key"}, {Key: "sk", Path: "secret_key"}, {Key: "token", Path: "security_token"}}
	if !slices.Equal(items, want) {
		t.Errorf("Secret volume items %+v, want %+v", items, want)
	}
	if len(objectsOf[*corev1.Secret](res)) != 0 {
		t.Error("the chart created a Secret although existingSecret is set")
	}
	// Default key names with the chart's own Secret.
	res = render(t, Options{}, "credentials: {existingSecret: \"\", accessKey: AK, secretKey: SK}\n")
	for _, v := range only[*appsv1.Deployment](t, res).Spec.Template.Spec.Volumes {
		if v.Secret != nil && v.Secret.Items[0].Key != "access_key" {
			t.Errorf("chart Secret mounted with key %q", v.Secret.Items[0].Key)
		}
	}
}

func TestChartProbesFollowWebConfig(t *testing.T) {
	const (
		tls        = "webConfig:\n  tls_server_config: {cert_file: /tls/tls.crt, key_file: /tls/tls.key}\n"
		basicAuth  = "webConfig:\n  basic_auth_users: {prometheus: $2y$10$abcdefghijklmnopqrstuv}\n"
		clientCert = "webConfig:\n  tls_server_config: {cert_file: /tls/tls.crt, key_file: /tls/tls.key, client_ca_file: /tls/ca.crt, client_auth_type: RequireAndVerifyClientCert}\n"
	)
	cases := []struct {
		name, values string
		tcp          bool
		scheme       corev1.URIScheme
	}{
		{"plain HTTP", "", false, corev1.URISchemeHTTP},
		{"TLS", tls, false, corev1.URISchemeHTTPS},
		{"basic auth", basicAuth, true, ""},
		{"client certificates", clientCert, true, ""},
		{"TLS with a client certificate if given", strings.Replace(clientCert, "RequireAndVerifyClientCert", "VerifyClientCertIfGiven", 1), false, corev1.URISchemeHTTPS},
		{"forced TCP", "probes: {mode: tcp}\n", true, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := container(t, render(t, Options{}, tc.values))
			for name, p := range map[string]*corev1.Probe{"liveness": c.LivenessProbe, "readiness": c.ReadinessProbe} {
				switch {
				case tc.tcp && (p.TCPSocket == nil || p.TCPSocket.Port.String() != "http" || p.HTTPGet != nil):
					t.Errorf("%s probe: want a TCP probe of port http, got %+v", name, p.ProbeHandler)
				case !tc.tcp && (p.HTTPGet == nil || p.HTTPGet.Scheme != tc.scheme):
					t.Errorf("%s probe: want an HTTP GET with scheme %s, got %+v", name, tc.scheme, p.ProbeHandler)
				}
				if p.PeriodSeconds == 0 || p.TimeoutSeconds == 0 {
					t.Errorf("%s probe lost its timings: %+v", name, p)
				}
			}
		})
	}
	// Forcing HTTP probes with basic auth renders a pod that restart-loops;
	// k8scheck says so.
	out, errOut, err := helmTemplate(t, []string{basicAuth + "probes: {mode: http}\n"})
	if err != nil {
		t.Fatalf("helm template: %v\n%s", err, errOut)
	}
	if res, err := Check(strings.NewReader(out), Options{}); err == nil || !strings.Contains(strings.Join(res.Lines, "\n"), "kubelet cannot send") {
		t.Errorf("HTTP probes with basic auth passed the check:\n%s", strings.Join(res.Lines, "\n"))
	}
	// TLS also moves the ServiceMonitor to https by itself.
	sm := only[*monitoringv1.ServiceMonitor](t, render(t, Options{}, tls+"serviceMonitor: {enabled: true}\n"))
	if s := sm.Spec.Endpoints[0].Scheme; s == nil || s.String() != "https" {
		t.Errorf("ServiceMonitor scheme %v with TLS, want https", s)
	}
}

func TestChartProbeTargets(t *testing.T) {
	values := `serviceMonitor:
  enabled: true
  interval: 60s
  scrapeTimeout: 30s
  targets:
    - name: prod
      interval: 2m
      scrapeTimeout: 90s
    - name: stage
`
	sm := only[*monitoringv1.ServiceMonitor](t, render(t, Options{}, values))
	eps := sm.Spec.Endpoints
	if len(eps) != 3 {
		t.Fatalf("%d endpoints, want /metrics and one /probe per target", len(eps))
	}
	// /metrics keeps the exporter's own series only.
	if len(eps[0].MetricRelabelConfigs) == 0 || eps[0].MetricRelabelConfigs[0].Action != "keep" ||
		!strings.Contains(eps[0].MetricRelabelConfigs[0].Regex, "dcs_exporter_") {
		t.Errorf("/metrics endpoint does not keep only the exporter's metrics: %+v", eps[0].MetricRelabelConfigs)
	}
	for i, want := range []struct{ target, interval, timeout string }{{"prod", "2m", "90s"}, {"stage", "60s", "30s"}} {
		ep := eps[i+1]
		if ep.Path != "/probe" || !slices.Equal(ep.Params["target"], []string{want.target}) {
			t.Errorf("endpoint %d: path %s params %v, want /probe?target=%s", i+1, ep.Path, ep.Params, want.target)
		}
		// Prometheus sends the timeout as X-Prometheus-Scrape-Timeout-Seconds;
		// the exporter answers within it.
		if string(ep.Interval) != want.interval || string(ep.ScrapeTimeout) != want.timeout {
			t.Errorf("endpoint %d: interval %s timeout %s, want %s and %s", i+1, ep.Interval, ep.ScrapeTimeout, want.interval, want.timeout)
		}
		if !slices.ContainsFunc(ep.RelabelConfigs, func(r monitoringv1.RelabelConfig) bool {
			return r.TargetLabel == "probe_target" && r.Replacement != nil && *r.Replacement == want.target
		}) {
			t.Errorf("endpoint %d: no probe_target=%s label: %+v", i+1, want.target, ep.RelabelConfigs)
		}
	}
	// A timeout above the interval is caught by k8scheck.
	out, _, err := helmTemplate(t, []string{strings.Replace(values, "scrapeTimeout: 90s", "scrapeTimeout: 3m", 1)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Check(strings.NewReader(out), Options{}); err == nil {
		t.Error("a per-target timeout above its interval passed")
	}
}

// alerts returns the rendered alerting rules by name.
func alerts(pr *monitoringv1.PrometheusRule) map[string][]monitoringv1.Rule {
	out := map[string][]monitoringv1.Rule{}
	for _, g := range pr.Spec.Groups {
		for _, r := range g.Rules {
			if r.Alert != "" {
				out[r.Alert] = append(out[r.Alert], r)
			}
		}
	}
	return out
}

func TestChartRulesAsShipped(t *testing.T) {
	pr := only[*monitoringv1.PrometheusRule](t, render(t, Options{}, "prometheusRule: {enabled: true}\n"))
	shipped, err := os.ReadFile("../../deploy/prometheus/dcs-alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Groups []monitoringv1.RuleGroup `json:"groups"`
	}
	if err := yaml.UnmarshalStrict(shipped, &file); err != nil {
		t.Fatal(err)
	}
	if len(pr.Spec.Groups) != len(file.Groups) {
		t.Fatalf("%d groups rendered, %d shipped", len(pr.Spec.Groups), len(file.Groups))
	}
	for i, g := range file.Groups {
		got := pr.Spec.Groups[i]
		if got.Name != g.Name || len(got.Rules) != len(g.Rules) {
			t.Fatalf("group %d: %s with %d rules rendered, %s with %d shipped", i, got.Name, len(got.Rules), g.Name, len(g.Rules))
		}
		for j, r := range g.Rules {
			rr := got.Rules[j]
			if rr.Expr.String() != r.Expr.String() || !equalMaps(rr.Labels, r.Labels) || !equalMaps(rr.Annotations, r.Annotations) || ptrString(rr.For) != ptrString(r.For) {
				t.Errorf("group %s rule %d (%s%s) differs from the shipped one", g.Name, j, r.Alert, r.Record)
			}
		}
	}
}

func TestChartRuleCustomisation(t *testing.T) {
	values := `serviceMonitor: {enabled: true}
prometheusRule:
  enabled: true
  recordingRules: false
  alertLabels: {team: sre, severity: info}
  alerts:
    DCSInstancesFrozen: {disabled: true}
    DCSTargetDown: {for: 15m}
    DCSDataStale: {labels: {severity: critical}}
  additionalRules:
    - alert: DCSFleetTooSmall
      expr: sum(max by (target, region, project_id, engine, state) (dcs_instances)) < 3
      labels: {severity: warning}
      annotations:
        summary: fleet too small
        description: "{{ $value }} instances"
        runbook_url: https://wiki.example.com/dcs#fleet
  runbookBaseURL: https://wiki.example.com/dcs-runbook
`
	pr := only[*monitoringv1.PrometheusRule](t, render(t, Options{}, values))
	for _, g := range pr.Spec.Groups {
		if strings.HasSuffix(g.Name, ".recording") {
			t.Errorf("recording group %s rendered with recordingRules=false", g.Name)
		}
	}
	byName := alerts(pr)
	if _, ok := byName["DCSInstancesFrozen"]; ok {
		t.Error("disabled alert DCSInstancesFrozen rendered")
	}
	if len(byName["DCSTargetDown"]) != 2 {
		t.Fatalf("DCSTargetDown has %d rules, want its 2", len(byName["DCSTargetDown"]))
	}
	for _, r := range byName["DCSTargetDown"] {
		if ptrString(r.For) != "15m" {
			t.Errorf("DCSTargetDown for %q, want 15m", ptrString(r.For))
		}
	}
	if got := byName["DCSDataStale"][0].Labels["severity"]; got != "critical" {
		t.Errorf("DCSDataStale severity %q, want the override critical", got)
	}
	if got := byName["DCSTargetHasInstancesInError"][0].Labels["severity"]; got != "critical" {
		t.Errorf("alertLabels changed an alert's own severity to %q", got)
	}
	if got := byName["DCSInstanceCreateFailed"][0].Labels["severity"]; got != "warning" {
		t.Errorf("alertLabels changed an alert's own severity to %q", got)
	}
	for name, rules := range byName {
		for _, r := range rules {
			if r.Labels["team"] != "sre" && name != "DCSFleetTooSmall" {
				t.Errorf("%s lacks the alertLabels team=sre: %v", name, r.Labels)
			}
			if name != "DCSFleetTooSmall" && !strings.HasPrefix(r.Annotations["runbook_url"], "https://wiki.example.com/dcs-runbook#") {
				t.Errorf("%s runbook_url %q not moved", name, r.Annotations["runbook_url"])
			}
		}
	}
	if len(byName["DCSFleetTooSmall"]) != 1 {
		t.Error("additionalRules not rendered")
	}
	// DCSExporterAbsent watches this release's exporter only.
	want := fmt.Sprintf(`absent_over_time(dcs_exporter_build_info{namespace=%q, service=%q}[5m])`, namespace, fullname)
	if got := strings.TrimSpace(byName["DCSExporterAbsent"][0].Expr.String()); got != want {
		t.Errorf("DCSExporterAbsent expr %q, want %q", got, want)
	}
	// An explicit selector wins.
	pr = only[*monitoringv1.PrometheusRule](t, render(t, Options{}, "prometheusRule: {enabled: true, exporterSelector: 'job=\"dcs\"'}\n"))
	if got := alerts(pr)["DCSExporterAbsent"][0].Expr.String(); !strings.Contains(got, `dcs_exporter_build_info{job="dcs"}[5m]`) {
		t.Errorf("DCSExporterAbsent expr %q ignores exporterSelector", got)
	}
}

func TestChartPodDisruptionBudget(t *testing.T) {
	res := render(t, Options{}, "podDisruptionBudget: {enabled: true}\n")
	pdb := only[*policyv1.PodDisruptionBudget](t, res)
	if pdb.Spec.MaxUnavailable == nil || pdb.Spec.MaxUnavailable.IntValue() != 1 || pdb.Spec.MinAvailable != nil {
		t.Errorf("budget %+v, want maxUnavailable 1", pdb.Spec)
	}
	sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
	if err != nil || !sel.Matches(labels.Set(only[*appsv1.Deployment](t, res).Spec.Template.Labels)) {
		t.Errorf("budget selector %v does not select the exporter's pods (%v)", pdb.Spec.Selector, err)
	}
	// minAvailable wins; with two replicas one may go.
	res = render(t, Options{}, "replicaCount: 2\npodDisruptionBudget: {enabled: true, minAvailable: 1}\n")
	if pdb := only[*policyv1.PodDisruptionBudget](t, res); pdb.Spec.MinAvailable == nil || pdb.Spec.MaxUnavailable != nil {
		t.Errorf("budget %+v, want minAvailable 1 only", pdb.Spec)
	}
	// With one replica, minAvailable 1 would block node drains: caught.
	out, _, err := helmTemplate(t, []string{"podDisruptionBudget: {enabled: true, minAvailable: 1}\n"})
	if err != nil {
		t.Fatal(err)
	}
	if res, err := Check(strings.NewReader(out), Options{}); err == nil || !strings.Contains(strings.Join(res.Lines, "\n"), "blocks every eviction") {
		t.Errorf("a budget that blocks drains passed:\n%s", strings.Join(res.Lines, "\n"))
	}
}

func TestChartRefusesBadValues(t *testing.T) {
	for _, tc := range []struct{ values, want string }{
		{"prometheusRule: {enabled: true, job: dcs}\n", "prometheusRule.job is gone"},
		{"probes: {mode: grpc}\n", "probes.mode is \"grpc\""},
		{"serviceMonitor: {enabled: true, targets: [{interval: 1m}]}\n", "needs the name of a configured target"},
		{"prometheusRule: {enabled: true, alerts: {TargetDown: {disabled: true}}}\n", "prometheusRule.alerts.TargetDown: not an alert"},
		{"discovery: {scrapeConfig: {enabled: true, redisExporterAddress: \"\"}}\n", "discovery.scrapeConfig.redisExporterAddress"},
	} {
		_, errOut, err := helmTemplate(t, []string{tc.values})
		if err == nil || !strings.Contains(errOut, tc.want) {
			t.Errorf("values %q: want a failure saying %q, got %v\n%s", tc.values, tc.want, err, errOut)
		}
	}
}

// TestChartRefusesToRenderWithoutCredentials: the defaults alone would
// render a pod whose exporter exits at start, its one target having no
// credentials. The chart says what to set instead, and renders once any
// credential source is given.
func TestChartRefusesToRenderWithoutCredentials(t *testing.T) {
	_, errOut, err := helmTemplateRaw(t, nil)
	if err == nil {
		t.Fatal("the chart rendered its defaults, which have no credentials")
	}
	for _, w := range []string{"config.targets[0] (default) has no credentials", "credentials.existingSecret", "credentials.accessKey",
		"config.defaults.credentials", "config.targets[0].credentials", "demo=true"} {
		if !strings.Contains(errOut, w) {
			t.Errorf("the message does not say %q:\n%s", w, errOut)
		}
	}
	// A second target without credentials is named, even when the first has its own.
	_, errOut, err = helmTemplateRaw(t, []string{"config:\n  targets:\n    - {name: cce, credentials: {metadata: true}}\n    - {name: lab}\n"})
	if err == nil || !strings.Contains(errOut, "config.targets[1] (lab) has no credentials") {
		t.Errorf("a target without credentials rendered: %v\n%s", err, errOut)
	}
	for _, values := range []string{
		firstInstall,
		"credentials: {accessKey: AK, secretKey: SK}\n",
		"config:\n  defaults: {credentials: {metadata: true}}\n",
		"config:\n  targets:\n    - {name: cce, credentials: {metadata: true}}\n",
		"demo: true\n",
	} {
		if _, errOut, err := helmTemplateRaw(t, []string{values}); err != nil {
			t.Errorf("values %q: %v\n%s", values, err, errOut)
		}
	}
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func ptrString[T ~string](p *T) string {
	if p == nil {
		return ""
	}
	return string(*p)
}

// relabel applies replace relabelings (the only action the chart's
// ScrapeConfig uses) to a target's labels as Prometheus does: the source
// labels joined with the separator, matched by the anchored regex, the
// replacement expanded into the target label.
func relabel(t *testing.T, rules []monitoringv1.RelabelConfig, lset map[string]string) map[string]string {
	t.Helper()
	out := maps.Clone(lset)
	for _, r := range rules {
		if r.Action != "" && strings.ToLower(r.Action) != "replace" {
			t.Fatalf("relabeling %+v: only replace is simulated", r)
		}
		var values []string
		for _, l := range r.SourceLabels {
			values = append(values, out[string(l)])
		}
		sep, expr, repl := ";", "(.*)", "$1"
		if r.Separator != nil {
			sep = *r.Separator
		}
		if r.Regex != "" {
			expr = r.Regex
		}
		if r.Replacement != nil {
			repl = *r.Replacement
		}
		re := regexp.MustCompile("^(?:" + expr + ")$")
		src := strings.Join(values, sep)
		m := re.FindStringSubmatchIndex(src)
		if m == nil {
			continue
		}
		if v := string(re.ExpandString(nil, repl, src, m)); v != "" {
			out[r.TargetLabel] = v
		} else {
			delete(out, r.TargetLabel)
		}
	}
	return out
}

func TestChartDiscoveryScrapeConfig(t *testing.T) {
	values := `discovery:
  scrapeConfig:
    enabled: true
    redisExporterAddress: redis-exporter.cache.svc:9121
    tags: [owner, cost-center]
    scrapeInterval: 30s
`
	res := render(t, Options{}, values)
	sc := only[*monitoringv1alpha1.ScrapeConfig](t, res)
	if len(sc.Spec.HTTPSDConfigs) != 1 {
		t.Fatalf("httpSDConfigs %+v", sc.Spec.HTTPSDConfigs)
	}
	sd := sc.Spec.HTTPSDConfigs[0]
	if want := "http://" + fullname + "." + namespace + ".svc:19867/sd?engine=redis"; string(sd.URL) != want {
		t.Errorf("url %s, want %s", sd.URL, want)
	}
	if sd.BasicAuth != nil || sd.TLSConfig != nil {
		t.Errorf("credentials for /sd without any configured: %+v", sd)
	}
	if ptrString(sc.Spec.MetricsPath) != "/scrape" || ptrString(sc.Spec.ScrapeInterval) != "30s" || ptrString(sc.Spec.JobName) != "dcs-redis" {
		t.Errorf("metricsPath %q, scrapeInterval %q, jobName %q", ptrString(sc.Spec.MetricsPath), ptrString(sc.Spec.ScrapeInterval), ptrString(sc.Spec.JobName))
	}
	// A group as /sd serves it ends up scraped through redis_exporter,
	// keyed as its password file is, with the instance's name and tags.
	got := relabel(t, sc.Spec.RelabelConfigs, map[string]string{
		"__address__":                "10.0.0.12:6379",
		"__meta_dcs_target":          "prod",
		"__meta_dcs_instance_id":     "0b1c",
		"__meta_dcs_instance_name":   "cache-a",
		"__meta_dcs_tag_owner":       "team-a",
		"__meta_dcs_tag_cost_center": "cc-1",
		"__meta_dcs_tag_env":         "prod",
	})
	for label, want := range map[string]string{
		"__param_target":  "redis://10.0.0.12:6379",
		"__address__":     "redis-exporter.cache.svc:9121",
		"instance":        "redis://10.0.0.12:6379",
		"target":          "prod",
		"instance_id":     "0b1c",
		"name":            "cache-a",
		"tag_owner":       "team-a",
		"tag_cost_center": "cc-1",
	} {
		if got[label] != want {
			t.Errorf("after relabelling %s=%q, want %q (all: %v)", label, got[label], want, got)
		}
	}
	if _, ok := got["tag_env"]; ok {
		t.Errorf("a tag not asked for was carried: %v", got)
	}

	// Behind basic auth and TLS, /sd is asked over https with the
	// ServiceMonitor's credentials, and the query follows sdQuery.
	withAuth := `webConfig:
  tls_server_config: {cert_file: /tls/tls.crt, key_file: /tls/tls.key}
  basic_auth_users: {prometheus: $2y$10$abcdefghijklmnopqrstuv}
serviceMonitor:
  enabled: true
  basicAuth:
    username: {name: scrape, key: username}
    password: {name: scrape, key: password}
  tlsConfig:
    ca: {secret: {name: exporter-tls, key: ca.crt}}
    caFile: /etc/prometheus/ca.crt
discovery:
  scrapeConfig:
    enabled: true
    sdQuery: engine=redis&status=RUNNING
`
	sd = only[*monitoringv1alpha1.ScrapeConfig](t, render(t, Options{}, withAuth)).Spec.HTTPSDConfigs[0]
	if want := "https://" + fullname + "." + namespace + ".svc:19867/sd?engine=redis&status=RUNNING"; string(sd.URL) != want {
		t.Errorf("url %s, want %s", sd.URL, want)
	}
	if sd.BasicAuth == nil || sd.BasicAuth.Username.Name != "scrape" || sd.BasicAuth.Password.Key != "password" {
		t.Errorf("basicAuth %+v, want the ServiceMonitor's", sd.BasicAuth)
	}
	if sd.TLSConfig == nil || sd.TLSConfig.CA.Secret == nil || sd.TLSConfig.CA.Secret.Name != "exporter-tls" {
		t.Errorf("tlsConfig %+v, want the ServiceMonitor's CA", sd.TLSConfig)
	}
	// Without credentials k8scheck refuses the rendering.
	out, errOut, err := helmTemplate(t, []string{"webConfig:\n  basic_auth_users: {prometheus: $2y$10$abcdefghijklmnopqrstuv}\ndiscovery: {scrapeConfig: {enabled: true}}\n"})
	if err != nil {
		t.Fatalf("helm template: %v\n%s", err, errOut)
	}
	if res, err := Check(strings.NewReader(out), Options{}); err == nil || !strings.Contains(strings.Join(res.Lines, "\n"), "give it basicAuth") {
		t.Errorf("/sd without credentials passed:\n%s", strings.Join(res.Lines, "\n"))
	}
	// The ScrapeConfig carries the release label kube-prometheus-stack
	// selects ScrapeConfigs by (scrapeConfigSelector, like the others).
	sc = only[*monitoringv1alpha1.ScrapeConfig](t, render(t, Options{}, values+"releaseLabel: kube-prometheus-stack\n"))
	if sel := kubePrometheusStackSelector("kube-prometheus-stack"); !sel.Matches(labels.Set(sc.Labels)) {
		t.Errorf("ScrapeConfig labels %v do not match %s", sc.Labels, sel)
	}
}
