// Command k8scheck validates the Kubernetes manifests rendered by the
// dcs-exporter Helm chart.
//
// It reads a multi-document YAML stream (the output of `helm template`) on
// standard input and decodes every object strictly into its Go API type:
// unknown or duplicate fields are errors, so a typo in a template
// (say "readOnlyRootFileSystem") cannot slip through as an ignored field.
// On top of the schema it checks the chart's own rules:
//
//   - no container gets credentials through its environment: no env var whose
//     name mentions KEY, SECRET or TOKEN, no secretKeyRef, no envFrom a Secret;
//   - every container runs hardened: runAsNonRoot, runAsUser 65532,
//     readOnlyRootFilesystem, allowPrivilegeEscalation false, all
//     capabilities dropped, seccomp profile RuntimeDefault;
//   - the exporter config in the ConfigMap holds no inline credentials, and
//     every *_file path it names lies on a volume mounted in the Deployment;
//   - Services, ServiceMonitors, PodDisruptionBudgets, PrometheusRules and
//     ScrapeConfigs fit together with the Deployment (selectors, port names,
//     scrape timeouts, rule shape and runbook links; a ScrapeConfig's http_sd
//     asks the chart's Service for /sd and relabels onto a multi-target
//     exporter's /scrape);
//   - the probes and the ServiceMonitor suit the exporter's web configuration
//     (TLS, basic auth, client certificates): see webconfig.go.
//
// Usage:
//
//	helm template ../../deploy/helm/dcs-exporter | go run .
//	helm template ... | go run . -rules-out /tmp/rules.yml   # then promtool check rules
//	helm template ... | go run . -allow-secret-env HUAWEICLOUD_SDK_AK,HUAWEICLOUD_SDK_SK
//
// chart_test.go renders the chart with each of its options and checks what
// they change (it needs helm: $HELM or helm on PATH).
//
// It prints one line per object and per problem and exits 1 if it found any
// problem (or no object at all).
package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	monitoringv1alpha1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1alpha1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// RequiredUser is the UID every container must run as.
const RequiredUser = 65532

// configKey is the ConfigMap key holding the exporter configuration.
const configKey = "dcs_exporter.yml"

func main() {
	rulesOut := flag.String("rules-out", "", "write the spec of the PrometheusRule to this file, for `promtool check rules`")
	require := flag.String("require", "Deployment,Service,ConfigMap", "comma-separated kinds that must be present")
	allowSecretEnv := flag.String("allow-secret-env", "", "comma-separated env vars that may come from a Secret (a deliberate extraEnv)")
	flag.Parse()

	res, err := Check(os.Stdin, Options{Required: splitList(*require), AllowSecretEnv: splitList(*allowSecretEnv)})
	for _, line := range res.Lines {
		fmt.Println(line)
	}
	if err == nil && *rulesOut != "" {
		err = writeRules(*rulesOut, res.Objects)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "k8scheck:", err)
		os.Exit(1)
	}
	fmt.Printf("k8scheck: %d objects checked, no problems\n", len(res.Objects))
}

func splitList(s string) []string {
	var out []string
	for k := range strings.SplitSeq(s, ",") {
		if k = strings.TrimSpace(k); k != "" {
			out = append(out, k)
		}
	}
	return out
}

// Options tunes Check.
type Options struct {
	// Required lists kinds that must occur at least once.
	Required []string
	// AllowSecretEnv lists environment variables that may carry a
	// credential: ones the user put there on purpose (the chart's
	// extraEnv for `credentials: {env: true}`). The chart itself must not.
	AllowSecretEnv []string
}

// Object is one decoded manifest.
type Object struct {
	Kind string
	Name string
	Obj  any // *appsv1.Deployment, *corev1.Service, ...
}

// Result is what Check found.
type Result struct {
	Objects []Object
	Lines   []string // human-readable report, one entry per line
}

// Check decodes and checks every document of the stream r. It returns an
// error when any problem was found; the problems are listed in Result.Lines.
func Check(r io.Reader, opts Options) (Result, error) {
	var res Result
	problems := 0
	report := func(format string, args ...any) {
		problems++
		res.Lines = append(res.Lines, "FAIL "+fmt.Sprintf(format, args...))
	}

	reader := utilyaml.NewYAMLReader(bufio.NewReader(r))
	for doc := 1; ; doc++ {
		raw, err := reader.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			report("document %d: cannot read YAML stream: %v", doc, err)
			break
		}
		obj, err := decode(raw)
		if err != nil {
			report("document %d: %v", doc, err)
			continue
		}
		if obj == nil { // empty document, or comments only
			continue
		}
		res.Objects = append(res.Objects, *obj)
	}

	for _, o := range res.Objects {
		id := o.Kind + "/" + o.Name
		errs := checkObject(o, opts)
		for _, e := range errs {
			report("%s: %v", id, e)
		}
		if len(errs) == 0 {
			res.Lines = append(res.Lines, "ok   "+id)
		}
	}
	for _, e := range append(crossCheck(res.Objects), webConfigChecks(res.Objects)...) {
		report("%v", e)
	}
	for _, kind := range opts.Required {
		if !slices.ContainsFunc(res.Objects, func(o Object) bool { return o.Kind == kind }) {
			report("no %s in the input", kind)
		}
	}
	if len(res.Objects) == 0 && problems == 0 {
		report("no Kubernetes object in the input")
	}
	if problems > 0 {
		return res, fmt.Errorf("%d problem(s) in %d object(s)", problems, len(res.Objects))
	}
	return res, nil
}

// newObject returns an empty object of the API type for apiVersion/kind.
func newObject(apiVersion, kind string) (any, bool) {
	switch apiVersion + " " + kind {
	case "apps/v1 Deployment":
		return &appsv1.Deployment{}, true
	case "v1 Service":
		return &corev1.Service{}, true
	case "v1 ConfigMap":
		return &corev1.ConfigMap{}, true
	case "v1 Secret":
		return &corev1.Secret{}, true
	case "v1 ServiceAccount":
		return &corev1.ServiceAccount{}, true
	case "monitoring.coreos.com/v1 ServiceMonitor":
		return &monitoringv1.ServiceMonitor{}, true
	case "monitoring.coreos.com/v1 PrometheusRule":
		return &monitoringv1.PrometheusRule{}, true
	case "monitoring.coreos.com/v1alpha1 ScrapeConfig":
		return &monitoringv1alpha1.ScrapeConfig{}, true
	case "policy/v1 PodDisruptionBudget":
		return &policyv1.PodDisruptionBudget{}, true
	}
	return nil, false
}

// decode strictly decodes one YAML document. It returns nil, nil for a
// document without content.
func decode(raw []byte) (*Object, error) {
	// YAMLToJSONStrict rejects duplicate mapping keys.
	js, err := yaml.YAMLToJSONStrict(raw)
	if err != nil {
		return nil, fmt.Errorf("invalid YAML: %w", err)
	}
	js = bytes.TrimSpace(js)
	if len(js) == 0 || string(js) == "null" {
		return nil, nil
	}
	var tm metav1.TypeMeta
	if err := yaml.Unmarshal(js, &tm); err != nil {
		return nil, fmt.Errorf("not a Kubernetes object: %w", err)
	}
	if tm.APIVersion == "" || tm.Kind == "" {
		return nil, errors.New("not a Kubernetes object: apiVersion and kind are required")
	}
	obj, ok := newObject(tm.APIVersion, tm.Kind)
	if !ok {
		return nil, fmt.Errorf("unsupported object %s %s: teach k8scheck about it", tm.APIVersion, tm.Kind)
	}
	// Decode the way the API server does: field names are case-sensitive
	// (encoding/json would accept "readOnlyRootFileSystem"), and unknown or
	// duplicate fields are reported.
	strictErrs, err := kjson.UnmarshalStrict(js, obj)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", tm.Kind, err)
	}
	if len(strictErrs) > 0 {
		msgs := make([]string, len(strictErrs))
		for i, e := range strictErrs {
			msgs[i] = e.Error()
		}
		return nil, fmt.Errorf("%s: %s", tm.Kind, strings.Join(msgs, "; "))
	}
	name := ""
	if m, ok := obj.(metav1.Object); ok {
		name = m.GetName()
	}
	return &Object{Kind: tm.Kind, Name: name, Obj: obj}, nil
}

// checkObject runs the checks that need only the object itself.
func checkObject(o Object, opts Options) []error {
	var errs []error
	if m, ok := o.Obj.(metav1.Object); ok {
		errs = append(errs, checkMeta(m)...)
	}
	switch obj := o.Obj.(type) {
	case *appsv1.Deployment:
		errs = append(errs, checkDeployment(obj, opts)...)
	case *corev1.Service:
		if len(obj.Spec.Ports) == 0 {
			errs = append(errs, errors.New("spec.ports is empty"))
		}
		if len(obj.Spec.Selector) == 0 {
			errs = append(errs, errors.New("spec.selector is empty"))
		}
	case *corev1.ConfigMap:
		if c, ok := obj.Data[configKey]; ok {
			errs = append(errs, checkExporterConfig(c)...)
		}
	case *corev1.Secret:
		for k := range obj.StringData {
			errs = append(errs, fmt.Errorf("stringData.%s: use data (base64) so the rendered manifest is stable", k))
		}
	case *monitoringv1.ServiceMonitor:
		if len(obj.Spec.Endpoints) == 0 {
			errs = append(errs, errors.New("spec.endpoints is empty"))
		}
		if len(obj.Spec.Selector.MatchLabels) == 0 && len(obj.Spec.Selector.MatchExpressions) == 0 {
			errs = append(errs, errors.New("spec.selector selects every Service"))
		}
		for i, ep := range obj.Spec.Endpoints {
			errs = append(errs, checkEndpoint(i, ep)...)
		}
	case *monitoringv1.PrometheusRule:
		errs = append(errs, checkRules(obj)...)
	case *monitoringv1alpha1.ScrapeConfig:
		errs = append(errs, checkScrapeConfig(obj)...)
	case *policyv1.PodDisruptionBudget:
		if obj.Spec.Selector == nil || (len(obj.Spec.Selector.MatchLabels) == 0 && len(obj.Spec.Selector.MatchExpressions) == 0) {
			errs = append(errs, errors.New("spec.selector is empty"))
		}
		if (obj.Spec.MinAvailable == nil) == (obj.Spec.MaxUnavailable == nil) {
			errs = append(errs, errors.New("set exactly one of minAvailable and maxUnavailable"))
		}
	}
	return errs
}

func checkMeta(m metav1.Object) []error {
	var errs []error
	if m.GetName() == "" {
		errs = append(errs, errors.New("metadata.name is empty"))
	} else {
		for _, msg := range validation.IsDNS1123Subdomain(m.GetName()) {
			errs = append(errs, fmt.Errorf("metadata.name %q: %s", m.GetName(), msg))
		}
	}
	for k, v := range m.GetLabels() {
		for _, msg := range validation.IsQualifiedName(k) {
			errs = append(errs, fmt.Errorf("label key %q: %s", k, msg))
		}
		for _, msg := range validation.IsValidLabelValue(v) {
			errs = append(errs, fmt.Errorf("label %s value %q: %s", k, v, msg))
		}
	}
	for k := range m.GetAnnotations() {
		for _, msg := range validation.IsQualifiedName(k) {
			errs = append(errs, fmt.Errorf("annotation key %q: %s", k, msg))
		}
	}
	return errs
}

// secretishName reports whether an environment variable name suggests that
// it carries a credential.
func secretishName(name string) bool {
	n := strings.ToUpper(name)
	return strings.Contains(n, "KEY") || strings.Contains(n, "SECRET") || strings.Contains(n, "TOKEN")
}

func checkDeployment(d *appsv1.Deployment, opts Options) []error {
	var errs []error
	spec := d.Spec.Template.Spec

	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	switch {
	case d.Spec.Selector == nil:
		errs = append(errs, errors.New("spec.selector is missing"))
	case err != nil:
		errs = append(errs, fmt.Errorf("spec.selector: %w", err))
	case sel.Empty():
		errs = append(errs, errors.New("spec.selector is empty"))
	case !sel.Matches(labels.Set(d.Spec.Template.Labels)):
		errs = append(errs, errors.New("spec.selector does not match the pod template labels"))
	}
	if len(spec.Containers) == 0 {
		errs = append(errs, errors.New("no containers"))
	}
	if spec.AutomountServiceAccountToken == nil || *spec.AutomountServiceAccountToken {
		errs = append(errs, errors.New("automountServiceAccountToken must be false: the exporter does not use the Kubernetes API"))
	}
	if spec.HostNetwork || spec.HostPID || spec.HostIPC {
		errs = append(errs, errors.New("must not use the host network, PID or IPC namespace"))
	}

	volumes := map[string]corev1.Volume{}
	for _, v := range spec.Volumes {
		volumes[v.Name] = v
		if v.HostPath != nil {
			errs = append(errs, fmt.Errorf("volume %s: hostPath volumes are not allowed", v.Name))
		}
	}

	all := slices.Concat(spec.InitContainers, spec.Containers)
	for i := range all {
		c := &all[i]
		prefix := "container " + c.Name
		for _, e := range c.Env {
			if slices.Contains(opts.AllowSecretEnv, e.Name) {
				continue
			}
			if secretishName(e.Name) {
				errs = append(errs, fmt.Errorf("%s: env var %s looks like a credential; mount credentials as files", prefix, e.Name))
			}
			if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
				errs = append(errs, fmt.Errorf("%s: env var %s is read from a Secret; mount it as a file", prefix, e.Name))
			}
		}
		for _, ef := range c.EnvFrom {
			if ef.SecretRef != nil {
				errs = append(errs, fmt.Errorf("%s: envFrom Secret %s puts credentials into the environment", prefix, ef.SecretRef.Name))
			}
		}
		for _, msg := range hardeningProblems(spec.SecurityContext, c.SecurityContext) {
			errs = append(errs, fmt.Errorf("%s: securityContext: %s", prefix, msg))
		}
		for _, m := range c.VolumeMounts {
			v, ok := volumes[m.Name]
			if !ok {
				errs = append(errs, fmt.Errorf("%s: volumeMount %s refers to an undefined volume", prefix, m.Name))
				continue
			}
			if v.Secret != nil && !m.ReadOnly {
				errs = append(errs, fmt.Errorf("%s: Secret volume %s must be mounted readOnly", prefix, m.Name))
			}
		}
	}
	for i := range spec.Containers {
		c := &spec.Containers[i]
		errs = append(errs, checkProbe(c.Name, "livenessProbe", c.LivenessProbe, "/-/healthy")...)
		errs = append(errs, checkProbe(c.Name, "readinessProbe", c.ReadinessProbe, "/-/ready")...)
	}
	return errs
}

// checkProbe wants an HTTP GET of the exporter's health path, or a TCP
// probe of its port where the web configuration keeps the kubelet out
// (webconfig.go checks which of the two suits).
func checkProbe(container, field string, p *corev1.Probe, wantPath string) []error {
	switch {
	case p == nil:
		return []error{fmt.Errorf("container %s: %s is missing", container, field)}
	case p.TCPSocket != nil:
		if p.TCPSocket.Port.String() == "" || p.TCPSocket.Port.String() == "0" {
			return []error{fmt.Errorf("container %s: %s: tcpSocket has no port", container, field)}
		}
	case p.HTTPGet == nil:
		return []error{fmt.Errorf("container %s: %s must be an httpGet or tcpSocket probe", container, field)}
	case p.HTTPGet.Path != wantPath:
		return []error{fmt.Errorf("container %s: %s path is %q, want %q", container, field, p.HTTPGet.Path, wantPath)}
	}
	return nil
}

// checkEndpoint checks one ServiceMonitor endpoint on its own: Prometheus
// refuses a scrape timeout longer than the interval, and a /probe scrape
// needs exactly one target parameter.
func checkEndpoint(i int, ep monitoringv1.Endpoint) []error {
	var errs []error
	where := fmt.Sprintf("endpoint %d (%s)", i, ep.Path)
	if ep.Interval != "" && ep.ScrapeTimeout != "" {
		interval, err1 := promDuration(string(ep.Interval))
		timeout, err2 := promDuration(string(ep.ScrapeTimeout))
		switch {
		case err1 != nil || err2 != nil:
			errs = append(errs, fmt.Errorf("%s: interval %q or scrapeTimeout %q is no duration", where, ep.Interval, ep.ScrapeTimeout))
		case timeout > interval:
			errs = append(errs, fmt.Errorf("%s: scrapeTimeout %s exceeds the interval %s; Prometheus refuses that", where, ep.ScrapeTimeout, ep.Interval))
		}
	}
	if ep.Path == "/probe" && len(ep.Params["target"]) != 1 {
		errs = append(errs, fmt.Errorf("%s: a /probe endpoint needs exactly one target parameter, has %v", where, ep.Params["target"]))
	}
	return errs
}

// hardeningProblems checks the effective security context of a container:
// the container's own settings, falling back to the pod's where Kubernetes
// does so.
func hardeningProblems(pod *corev1.PodSecurityContext, c *corev1.SecurityContext) []string {
	if pod == nil {
		pod = &corev1.PodSecurityContext{}
	}
	if c == nil {
		c = &corev1.SecurityContext{}
	}
	var msgs []string

	runAsNonRoot := pick(c.RunAsNonRoot, pod.RunAsNonRoot)
	if runAsNonRoot == nil || !*runAsNonRoot {
		msgs = append(msgs, "runAsNonRoot must be true")
	}
	runAsUser := pick(c.RunAsUser, pod.RunAsUser)
	if runAsUser == nil || *runAsUser != RequiredUser {
		msgs = append(msgs, fmt.Sprintf("runAsUser must be %d", RequiredUser))
	}
	if c.ReadOnlyRootFilesystem == nil || !*c.ReadOnlyRootFilesystem {
		msgs = append(msgs, "readOnlyRootFilesystem must be true")
	}
	if c.AllowPrivilegeEscalation == nil || *c.AllowPrivilegeEscalation {
		msgs = append(msgs, "allowPrivilegeEscalation must be false")
	}
	if c.Privileged != nil && *c.Privileged {
		msgs = append(msgs, "privileged must not be true")
	}
	if c.Capabilities == nil || !slices.Contains(c.Capabilities.Drop, corev1.Capability("ALL")) {
		msgs = append(msgs, "capabilities.drop must contain ALL")
	}
	if c.Capabilities != nil && len(c.Capabilities.Add) > 0 {
		msgs = append(msgs, "capabilities.add must be empty")
	}
	seccomp := pick(c.SeccompProfile, pod.SeccompProfile)
	if seccomp == nil || seccomp.Type != corev1.SeccompProfileTypeRuntimeDefault {
		msgs = append(msgs, "seccompProfile.type must be RuntimeDefault")
	}
	return msgs
}

func pick[T any](own, fallback *T) *T {
	if own != nil {
		return own
	}
	return fallback
}

// credentialValueKeys may not appear in a ConfigMap: they hold secrets.
var credentialValueKeys = []string{"access_key", "secret_key", "security_token"}

// checkExporterConfig checks the dcs_exporter configuration text.
func checkExporterConfig(text string) []error {
	var cfg any
	if err := yaml.UnmarshalStrict([]byte(text), &cfg); err != nil {
		return []error{fmt.Errorf("%s: invalid YAML: %w", configKey, err)}
	}
	root, ok := cfg.(map[string]any)
	if !ok {
		return []error{fmt.Errorf("%s: must be a mapping", configKey)}
	}
	var errs []error
	for k := range root {
		if k != "defaults" && k != "targets" {
			errs = append(errs, fmt.Errorf("%s: unknown top-level key %q", configKey, k))
		}
	}
	targets, _ := root["targets"].([]any)
	if len(targets) == 0 {
		errs = append(errs, fmt.Errorf("%s: targets must be a non-empty list", configKey))
	}
	walk(cfg, "", func(p string, key string, _ any) {
		if slices.Contains(credentialValueKeys, key) {
			errs = append(errs, fmt.Errorf("%s: %s holds a credential inline; a ConfigMap is no place for it", configKey, p))
		}
	})
	return errs
}

// configFiles returns the *_file paths named by an exporter configuration.
func configFiles(text string) map[string]string {
	var cfg any
	if yaml.Unmarshal([]byte(text), &cfg) != nil {
		return nil
	}
	files := map[string]string{}
	walk(cfg, "", func(p, key string, v any) {
		if s, ok := v.(string); ok && strings.HasSuffix(key, "_file") {
			files[p] = s
		}
	})
	return files
}

// walk calls fn for every mapping entry in v, with its dotted path.
func walk(v any, p string, fn func(p, key string, v any)) {
	switch t := v.(type) {
	case map[string]any:
		for k, child := range t {
			cp := k
			if p != "" {
				cp = p + "." + k
			}
			fn(cp, k, child)
			walk(child, cp, fn)
		}
	case []any:
		for i, child := range t {
			walk(child, fmt.Sprintf("%s[%d]", p, i), fn)
		}
	}
}

func checkRules(pr *monitoringv1.PrometheusRule) []error {
	var errs []error
	if len(pr.Spec.Groups) == 0 {
		errs = append(errs, errors.New("spec.groups is empty"))
	}
	seen := map[string]bool{}
	for _, g := range pr.Spec.Groups {
		if g.Name == "" {
			errs = append(errs, errors.New("a rule group has no name"))
		}
		if seen[g.Name] {
			errs = append(errs, fmt.Errorf("duplicate rule group %q", g.Name))
		}
		seen[g.Name] = true
		if len(g.Rules) == 0 {
			errs = append(errs, fmt.Errorf("group %s has no rules", g.Name))
		}
		for i, r := range g.Rules {
			where := fmt.Sprintf("group %s rule %d", g.Name, i)
			switch {
			case (r.Record == "") == (r.Alert == ""):
				errs = append(errs, fmt.Errorf("%s: exactly one of record and alert must be set", where))
			case strings.TrimSpace(r.Expr.String()) == "":
				errs = append(errs, fmt.Errorf("%s: expr is empty", where))
			}
			if r.Alert != "" {
				if r.Labels["severity"] == "" {
					errs = append(errs, fmt.Errorf("alert %s: no severity label", r.Alert))
				}
				if r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
					errs = append(errs, fmt.Errorf("alert %s: summary and description annotations are required", r.Alert))
				}
				if u, err := url.Parse(r.Annotations["runbook_url"]); err != nil || !u.IsAbs() || u.Fragment == "" {
					errs = append(errs, fmt.Errorf("alert %s: runbook_url %q is not a link to a runbook section", r.Alert, r.Annotations["runbook_url"]))
				}
			}
		}
	}
	return errs
}

// crossCheck runs the checks that relate objects to each other.
func crossCheck(objs []Object) []error {
	var (
		errs     []error
		deploys  []*appsv1.Deployment
		services []*corev1.Service
	)
	for _, o := range objs {
		switch obj := o.Obj.(type) {
		case *appsv1.Deployment:
			deploys = append(deploys, obj)
		case *corev1.Service:
			services = append(services, obj)
		}
	}

	for _, o := range objs {
		switch obj := o.Obj.(type) {
		case *corev1.ConfigMap:
			text, ok := obj.Data[configKey]
			if !ok {
				continue
			}
			for p, file := range configFiles(text) {
				if !mountedInAny(deploys, obj.Name, file) {
					errs = append(errs, fmt.Errorf("ConfigMap/%s: %s: %s is not on a volume mounted by a Deployment that uses this ConfigMap", obj.Name, p, file))
				}
			}
		case *corev1.Service:
			if !slices.ContainsFunc(deploys, func(d *appsv1.Deployment) bool { return serviceTargets(obj, d) }) {
				errs = append(errs, fmt.Errorf("%s: selects no Deployment's pods through a named container port", "Service/"+obj.Name))
			}
		case *policyv1.PodDisruptionBudget:
			errs = append(errs, checkDisruptionBudget(obj, deploys)...)
		case *monitoringv1alpha1.ScrapeConfig:
			for _, sd := range obj.Spec.HTTPSDConfigs {
				if _, ok := sdService(string(sd.URL), services); !ok {
					errs = append(errs, fmt.Errorf("ScrapeConfig/%s: %s is no /sd of a Service of the chart (http[s]://NAME.NAMESPACE.svc:PORT/sd)", obj.Name, sd.URL))
				}
			}
		case *monitoringv1.ServiceMonitor:
			sel, err := metav1.LabelSelectorAsSelector(&obj.Spec.Selector)
			if err != nil {
				errs = append(errs, fmt.Errorf("ServiceMonitor/%s: selector: %w", obj.Name, err))
				continue
			}
			for _, ep := range obj.Spec.Endpoints {
				found := slices.ContainsFunc(services, func(s *corev1.Service) bool {
					return sel.Matches(labels.Set(s.Labels)) && slices.ContainsFunc(s.Spec.Ports, func(p corev1.ServicePort) bool {
						return p.Name == ep.Port
					})
				})
				if !found {
					errs = append(errs, fmt.Errorf("ServiceMonitor/%s: no Service matches its selector with a port named %q", obj.Name, ep.Port))
				}
			}
		}
	}
	return errs
}

// mountedInAny reports whether file lies under a mount of some container of
// a Deployment that mounts the ConfigMap cm.
func mountedInAny(deploys []*appsv1.Deployment, cm, file string) bool {
	file = path.Clean(file)
	for _, d := range deploys {
		spec := d.Spec.Template.Spec
		usesCM := slices.ContainsFunc(spec.Volumes, func(v corev1.Volume) bool {
			return v.ConfigMap != nil && v.ConfigMap.Name == cm
		})
		if !usesCM {
			continue
		}
		for _, c := range spec.Containers {
			for _, m := range c.VolumeMounts {
				dir := path.Clean(m.MountPath)
				if file == dir || strings.HasPrefix(file, dir+"/") {
					return true
				}
			}
		}
	}
	return false
}

// serviceTargets reports whether s selects d's pods and each of its ports
// targets a named port of one of d's containers.
func serviceTargets(s *corev1.Service, d *appsv1.Deployment) bool {
	if len(s.Spec.Selector) == 0 || !labels.SelectorFromSet(s.Spec.Selector).Matches(labels.Set(d.Spec.Template.Labels)) {
		return false
	}
	for _, sp := range s.Spec.Ports {
		want := sp.TargetPort.String()
		found := slices.ContainsFunc(d.Spec.Template.Spec.Containers, func(c corev1.Container) bool {
			return slices.ContainsFunc(c.Ports, func(p corev1.ContainerPort) bool {
				return p.Name == want || fmt.Sprint(p.ContainerPort) == want
			})
		})
		if !found {
			return false
		}
	}
	return true
}

// writeRules writes the groups of the (single) PrometheusRule as a
// Prometheus rule file.
func writeRules(file string, objs []Object) error {
	var rules []*monitoringv1.PrometheusRule
	for _, o := range objs {
		if pr, ok := o.Obj.(*monitoringv1.PrometheusRule); ok {
			rules = append(rules, pr)
		}
	}
	if len(rules) != 1 {
		return fmt.Errorf("-rules-out: want exactly one PrometheusRule, found %d", len(rules))
	}
	out, err := yaml.Marshal(rules[0].Spec)
	if err != nil {
		return err
	}
	return os.WriteFile(file, out, 0o644)
}

// checkDisruptionBudget wants the budget to cover a Deployment's pods and
// to leave room for one eviction: a minAvailable of all replicas blocks
// every node drain.
func checkDisruptionBudget(pdb *policyv1.PodDisruptionBudget, deploys []*appsv1.Deployment) []error {
	sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
	if err != nil {
		return []error{fmt.Errorf("PodDisruptionBudget/%s: selector: %w", pdb.Name, err)}
	}
	for _, d := range deploys {
		if !sel.Matches(labels.Set(d.Spec.Template.Labels)) {
			continue
		}
		replicas := 1
		if d.Spec.Replicas != nil {
			replicas = int(*d.Spec.Replicas)
		}
		if pdb.Spec.MinAvailable != nil {
			min, err := intstr.GetScaledValueFromIntOrPercent(pdb.Spec.MinAvailable, replicas, true)
			if err == nil && min >= replicas {
				return []error{fmt.Errorf("PodDisruptionBudget/%s: minAvailable %s of %d replica(s) blocks every eviction, node drains included", pdb.Name, pdb.Spec.MinAvailable.String(), replicas)}
			}
		}
		return nil
	}
	return []error{fmt.Errorf("PodDisruptionBudget/%s: selects no Deployment's pods", pdb.Name)}
}

// promDuration parses the durations of Prometheus configurations, which
// also know days and weeks.
func promDuration(s string) (time.Duration, error) {
	for _, unit := range []struct {
		suffix string
		size   time.Duration
	}{{"d", 24 * time.Hour}, {"w", 7 * 24 * time.Hour}} {
		if n, ok := strings.CutSuffix(s, unit.suffix); ok {
			v, err := strconv.Atoi(n)
			return time.Duration(v) * unit.size, err
		}
	}
	return time.ParseDuration(s)
}
