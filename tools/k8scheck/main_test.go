package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// goodStream is a minimal chart rendering that passes every check.
const goodStream = `---
# Source: chart/templates/serviceaccount.yaml
apiVersion: v1
kind: ServiceAccount
metadata:
  name: dcs
automountServiceAccountToken: false
---
apiVersion: v1
kind: Secret
metadata:
  name: dcs
type: Opaque
data:
  access_key: QUs=
  secret_key: U0s=
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: dcs
data:
  dcs_exporter.yml: |
    defaults:
      region: cn-north-4
      credentials:
        access_key_file: /etc/dcs-exporter/credentials/access_key
        secret_key_file: /etc/dcs-exporter/credentials/secret_key
    targets:
      - name: a
---
apiVersion: v1
kind: Service
metadata:
  name: dcs
  namespace: monitoring
  labels:
    app: dcs
spec:
  ports:
    - name: http
      port: 19867
      targetPort: http
  selector:
    app: dcs
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: dcs
spec:
  selector:
    matchLabels:
      app: dcs
  template:
    metadata:
      labels:
        app: dcs
    spec:
      automountServiceAccountToken: false
      securityContext:
        runAsNonRoot: true
        runAsUser: 65532
        seccompProfile:
          type: RuntimeDefault
      containers:
        - name: dcs-exporter
          image: example/dcs:1
          env:
            - name: TZ
              value: UTC
          ports:
            - name: http
              containerPort: 19867
          livenessProbe:
            httpGet:
              path: /-/healthy
              port: http
          readinessProbe:
            httpGet:
              path: /-/ready
              port: http
          resources:
            limits:
              memory: 64Mi
          securityContext:
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            capabilities:
              drop: ["ALL"]
          volumeMounts:
            - name: config
              mountPath: /etc/dcs-exporter/config
              readOnly: true
            - name: credentials
              mountPath: /etc/dcs-exporter/credentials
              readOnly: true
      volumes:
        - name: config
          configMap:
            name: dcs
        - name: credentials
          secret:
            secretName: dcs
---
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata:
  name: dcs
spec:
  selector:
    matchLabels:
      app: dcs
  endpoints:
    - port: http
      interval: 60s
      scrapeTimeout: 30s
---
apiVersion: monitoring.coreos.com/v1alpha1
kind: ScrapeConfig
metadata:
  name: dcs-redis
spec:
  httpSDConfigs:
    - url: http://dcs.monitoring.svc:19867/sd?engine=redis
  metricsPath: /scrape
  relabelings:
    - sourceLabels: [__address__]
      targetLabel: __param_target
      replacement: redis://$1
    - targetLabel: __address__
      replacement: redis-exporter:9121
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: dcs
spec:
  maxUnavailable: 1
  selector:
    matchLabels:
      app: dcs
---
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata:
  name: dcs
spec:
  groups:
    - name: dcs
      rules:
        - record: dcs:up:sum
          expr: sum(dcs_up)
        - alert: DCSTargetDown
          expr: dcs_up == 0
          for: 5m
          labels:
            severity: warning
          annotations:
            summary: down
            description: "{{ $labels.target }} is down"
            runbook_url: "https://example.com/runbook.md#dcstargetdown"
`

func TestGoodStreamPasses(t *testing.T) {
	res, err := Check(strings.NewReader(goodStream), Options{Required: []string{"Deployment", "Service", "ConfigMap"}})
	if err != nil {
		t.Fatalf("Check: %v\n%s", err, strings.Join(res.Lines, "\n"))
	}
	if got := len(res.Objects); got != 9 {
		t.Errorf("decoded %d objects, want 9", got)
	}
}

// TestProblemsAreFound mutates the good stream and expects a FAIL line
// containing want.
func TestProblemsAreFound(t *testing.T) {
	cases := []struct {
		name, old, new, want string
	}{
		{"unknown field", "readOnlyRootFilesystem: true", "readOnlyRootFileSystem: true", `unknown field "spec.template.spec.containers[0].securityContext.readOnlyRootFileSystem"`},
		{"unknown top-level field", "automountServiceAccountToken: false\n---", "automountServiceAccountToken: false\nextra: 1\n---", "unknown field"},
		{"unknown ServiceMonitor field", "      interval: 60s", "      intervall: 60s", "unknown field"},
		{"unknown PrometheusRule field", "          for: 5m", "          for: 5m\n          severity: page", "unknown field"},
		{"duplicate key", "      interval: 60s", "      interval: 60s\n      interval: 30s", `key "interval" already set`},
		{"unsupported kind", "kind: ServiceAccount", "kind: Pod", "unsupported object v1 Pod"},
		{"credential env var", "name: TZ", "name: HUAWEICLOUD_SDK_AK_SECRET", "looks like a credential"},
		{"token env var", "name: TZ", "name: security_token", "looks like a credential"},
		{"env from secret", "          env:\n", "          envFrom:\n            - secretRef:\n                name: dcs\n          env:\n", "envFrom Secret"},
		{"root user", "runAsUser: 65532", "runAsUser: 0", "runAsUser must be 65532"},
		{"root allowed", "runAsNonRoot: true", "runAsNonRoot: false", "runAsNonRoot must be true"},
		{"writable root", "readOnlyRootFilesystem: true", "readOnlyRootFilesystem: false", "readOnlyRootFilesystem must be true"},
		{"privilege escalation", "allowPrivilegeEscalation: false", "allowPrivilegeEscalation: true", "allowPrivilegeEscalation must be false"},
		{"capabilities kept", `drop: ["ALL"]`, `drop: ["NET_RAW"]`, "capabilities.drop must contain ALL"},
		{"no seccomp", "type: RuntimeDefault", "type: Unconfined", "seccompProfile.type must be RuntimeDefault"},
		{"inline credential", "      credentials:\n        access_key_file", "      credentials:\n        access_key: AK\n        access_key_file", "holds a credential inline"},
		{"credential file not mounted", "mountPath: /etc/dcs-exporter/credentials", "mountPath: /secrets", "is not on a volume mounted"},
		{"missing probe", "path: /-/ready", "path: /metrics", `readinessProbe path is "/metrics"`},
		{"selector mismatch", "      labels:\n        app: dcs\n    spec:", "      labels:\n        app: other\n    spec:", "does not match the pod template labels"},
		{"service port", "targetPort: http", "targetPort: metrics", "selects no Deployment's pods"},
		{"service monitor port", "    - port: http", "    - port: web", `port named "web"`},
		{"alert without severity", "severity: warning", "team: sre", "no severity label"},
		{"bad label value", "    app: dcs\nspec:\n  ports", "    app: dcs\n    bad: \"not ok!\"\nspec:\n  ports", "label bad value"},
		{"service account token", "      automountServiceAccountToken: false\n      securityContext", "      securityContext", "automountServiceAccountToken must be false"},
		{"no runbook", `            runbook_url: "https://example.com/runbook.md#dcstargetdown"`, "", `runbook_url "" is not a link to a runbook section`},
		{"scrape timeout too long", "scrapeTimeout: 30s", "scrapeTimeout: 90s", "scrapeTimeout 90s exceeds the interval 60s"},
		{"probe without target", "    - port: http\n      interval: 60s", "    - port: http\n      path: /probe\n      interval: 60s", "needs exactly one target parameter"},
		{"budget blocks drains", "  maxUnavailable: 1", "  minAvailable: 1", "blocks every eviction"},
		{"budget selects nothing", "  maxUnavailable: 1\n  selector:\n    matchLabels:\n      app: dcs", "  maxUnavailable: 1\n  selector:\n    matchLabels:\n      app: other", "selects no Deployment's pods"},
		{"budget with both", "  maxUnavailable: 1", "  maxUnavailable: 1\n  minAvailable: 0", "exactly one of minAvailable and maxUnavailable"},
		{"probe without check", "          readinessProbe:\n            httpGet:\n              path: /-/ready\n              port: http", "          readinessProbe:\n            periodSeconds: 5", "must be an httpGet or tcpSocket probe"},
		{"basic auth with HTTP probes", webConfigAnchor, webConfigAnchor + basicAuthConfig, "asks for basic auth, which the kubelet cannot send"},
		{"basic auth without ServiceMonitor credentials", webConfigAnchor, webConfigAnchor + basicAuthConfig, "give the endpoint basicAuth"},
		{"client certificates with HTTP probes", webConfigAnchor, webConfigAnchor + clientCertConfig, "requires client certificates, which the kubelet cannot send"},
		{"TLS probed over HTTP", webConfigAnchor, webConfigAnchor + tlsConfig, "serves TLS, the probe must use scheme HTTPS"},
		{"TLS scraped over HTTP", webConfigAnchor, webConfigAnchor + tlsConfig, `scheme "http", but the exporter serves https`},
		{"unknown ScrapeConfig field", "  metricsPath: /scrape", "  metricsPath: /scrape\n  metricPath: /scrape", "unknown field"},
		{"discovery not on the Service", "http://dcs.monitoring.svc:19867/sd", "http://dcs.other.svc:19867/sd", "is no /sd of a Service of the chart"},
		{"discovery on another port", "http://dcs.monitoring.svc:19867/sd", "http://dcs.monitoring.svc:9100/sd", "is no /sd of a Service of the chart"},
		{"discovery on another path", "http://dcs.monitoring.svc:19867/sd", "http://dcs.monitoring.svc:19867/metrics", "is no /sd of a Service of the chart"},
		{"scrape not multi-target", "  metricsPath: /scrape", "  metricsPath: /metrics", "must be /scrape"},
		{"no target parameter", "      targetLabel: __param_target", "      targetLabel: target", "nothing sets __param_target"},
		{"no exporter address", "    - targetLabel: __address__", "    - targetLabel: address", "nothing sets __address__"},
		{"discovery without basic auth", webConfigAnchor, webConfigAnchor + basicAuthConfig, "asks for basic auth; give it basicAuth"},
		{"discovery over HTTP with TLS", webConfigAnchor, webConfigAnchor + tlsConfig, "but the exporter serves https"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(goodStream, tc.old) {
				t.Fatalf("test bug: %q not in the good stream", tc.old)
			}
			in := strings.Replace(goodStream, tc.old, tc.new, 1)
			res, err := Check(strings.NewReader(in), Options{})
			if err == nil {
				t.Fatalf("Check passed, want a problem containing %q", tc.want)
			}
			out := strings.Join(res.Lines, "\n")
			if !strings.Contains(out, tc.want) {
				t.Errorf("report does not mention %q:\n%s", tc.want, out)
			}
		})
	}
}

// Web configurations put into the ConfigMap after webConfigAnchor.
const (
	webConfigAnchor  = "    targets:\n      - name: a\n"
	basicAuthConfig  = "  web-config.yml: |\n    basic_auth_users:\n      prometheus: $2y$10$abcdefghijklmnopqrstuv\n"
	clientCertConfig = "  web-config.yml: |\n    tls_server_config:\n      cert_file: /tls/tls.crt\n      key_file: /tls/tls.key\n      client_auth_type: RequireAndVerifyClientCert\n      client_ca_file: /tls/ca.crt\n"
	tlsConfig        = "  web-config.yml: |\n    tls_server_config:\n      cert_file: /tls/tls.crt\n      key_file: /tls/tls.key\n"
)

// TestTCPProbesPassWithBasicAuth: the fix the checks ask for is accepted,
// with the credentials for /metrics and /sd.
func TestTCPProbesPassWithBasicAuth(t *testing.T) {
	in := strings.Replace(goodStream, webConfigAnchor, webConfigAnchor+basicAuthConfig, 1)
	for _, probe := range []string{"          livenessProbe:\n            httpGet:\n              path: /-/healthy\n              port: http", "          readinessProbe:\n            httpGet:\n              path: /-/ready\n              port: http"} {
		if !strings.Contains(in, probe) {
			t.Fatalf("test bug: %q not in the stream", probe)
		}
		name := strings.TrimSpace(strings.SplitN(probe, "\n", 2)[0])
		in = strings.Replace(in, probe, "          "+name+"\n            tcpSocket:\n              port: http", 1)
	}
	in = strings.Replace(in, "      scrapeTimeout: 30s\n", "      scrapeTimeout: 30s\n      basicAuth:\n        username: {name: auth, key: user}\n        password: {name: auth, key: pass}\n", 1)
	in = strings.Replace(in, "/sd?engine=redis\n", "/sd?engine=redis\n      basicAuth:\n        username: {name: auth, key: user}\n        password: {name: auth, key: pass}\n", 1)
	if res, err := Check(strings.NewReader(in), Options{}); err != nil {
		t.Fatalf("Check: %v\n%s", err, strings.Join(res.Lines, "\n"))
	}
}

// TestAllowSecretEnv: a credential the user put into extraEnv on purpose
// passes when named, and only then.
func TestAllowSecretEnv(t *testing.T) {
	in := strings.Replace(goodStream, "            - name: TZ\n              value: UTC", "            - name: HUAWEICLOUD_SDK_AK\n              valueFrom:\n                secretKeyRef: {name: hw, key: ak}", 1)
	if _, err := Check(strings.NewReader(in), Options{}); err == nil {
		t.Fatal("a credential from a Secret in the environment passed")
	}
	if res, err := Check(strings.NewReader(in), Options{AllowSecretEnv: []string{"HUAWEICLOUD_SDK_AK"}}); err != nil {
		t.Fatalf("allowed env var refused: %v\n%s", err, strings.Join(res.Lines, "\n"))
	}
}

func TestRequiredKinds(t *testing.T) {
	_, err := Check(strings.NewReader("# nothing\n---\n"), Options{Required: []string{"Deployment"}})
	if err == nil {
		t.Fatal("empty input passed")
	}
}

func TestWriteRules(t *testing.T) {
	res, err := Check(strings.NewReader(goodStream), Options{})
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "rules.yml")
	if err := writeRules(file, res.Objects); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"groups:", "record: dcs:up:sum", "alert: DCSTargetDown", "for: 5m"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("rule file lacks %q:\n%s", want, b)
		}
	}
}
