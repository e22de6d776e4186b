package checks

import (
	"context"
	"crypto/tls"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"net"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dcs-exporter/dcs_exporter/config"
	"github.com/dcs-exporter/dcs_exporter/dcsapi/dcsapitest"
	"github.com/dcs-exporter/dcs_exporter/diagnosis"
)

const (
	projectID = "0123456789abcdef0123456789abcdef"
	region    = "cn-north-4"
	// A key pair of these tests only; neither half may ever be printed.
	checkAK  = "HPUACHECKAK000000001"
	checkSK  = "CheckSecretKeyDoNotUse0123456789ABCDEFGH"
	mdAK     = "HPUAMETADATACHECK001"
	mdSK     = "MetadataCheckSecretDoNotUse0123456789AB"
	mdToken  = "metadata-check-security-token-EXAMPLE"
	wrongSK  = "WrongSecretKeyDoNotUse0123456789ABCDEFGH"
	checkTTL = 10 * time.Second
)

// secretValues must not appear in anything the checks print.
var secretValues = []string{checkSK, wrongSK, mdSK, mdToken, dcsapitest.TestSecretKey}

// fixture is a fake API with one project and a directory for configuration
// and credential files.
type fixture struct {
	fake *dcsapitest.Server
	dir  string
	// afterLoad, when set, runs between loading the configuration and the
	// check, to break what the load has checked.
	afterLoad func()
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{fake: dcsapitest.NewServer(), dir: t.TempDir()}
	t.Cleanup(f.fake.Close)
	f.fake.AddKey(checkAK, checkSK)
	f.fake.AddProject(region, projectID)
	f.fake.SetInstances(projectID, []dcsapitest.Instance{
		{ID: "a", Engine: "Redis", Status: "RUNNING"},
		{ID: "b", Engine: "Redis", Status: "ERROR"},
		{ID: "c", Engine: "Memcached", Status: "RUNNING"},
	})
	return f
}

// target is one target's keys as YAML lines; keys set to "" are left out.
type target map[string]string

// baseTarget points at the fake with a good inline key pair.
func (f *fixture) baseTarget() target {
	return target{
		"name":         "t",
		"region":       region,
		"project_id":   projectID,
		"endpoint":     f.fake.URL,
		"iam_endpoint": f.fake.URL,
		"timeout":      checkTTL.String(),
		"credentials":  "{access_key: " + checkAK + ", secret_key: " + checkSK + "}",
	}
}

var keyOrder = []string{"name", "region", "project_id", "endpoint", "iam_endpoint", "api_version", "instances", "nodes", "backups", "backups_interval", "statistics", "quota", "timeout", "proxy_url", "tls", "credentials"}

// write writes a configuration of the given targets and returns its path.
func (f *fixture) write(t *testing.T, targets ...target) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("targets:\n")
	for _, tg := range targets {
		prefix := "  - "
		for _, k := range keyOrder {
			if v := tg[k]; v != "" {
				b.WriteString(prefix + k + ": " + v + "\n")
				prefix = "    "
			}
		}
	}
	path := filepath.Join(f.dir, "dcs_exporter.yml")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func (f *fixture) load(t *testing.T, targets ...target) *config.Config {
	t.Helper()
	cfg, err := config.Load(f.write(t, targets...))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func checkOne(t *testing.T, cfg *config.Config) TargetResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	results, err := CheckDCS(ctx, cfg, DCSOptions{MaxConcurrency: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != 1 {
		t.Fatalf("%d results, want 1", len(results))
	}
	return results[0]
}

// noSecrets fails the test when text shows a secret value.
func noSecrets(t *testing.T, text string) {
	t.Helper()
	for _, s := range secretValues {
		if strings.Contains(text, s) {
			t.Errorf("a secret value is shown:\n%s", text)
		}
	}
}

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// tlsFront serves the fake behind TLS with a certificate of its own CA, and
// returns its URL and the CA's PEM file.
func (f *fixture) tlsFront(t *testing.T) (string, string) {
	t.Helper()
	backend, err := url.Parse(f.fake.URL)
	if err != nil {
		t.Fatal(err)
	}
	front := httptest.NewUnstartedServer(httputil.NewSingleHostReverseProxy(backend))
	front.Config.ErrorLog = log.New(io.Discard, "", 0) // the failed handshakes are on purpose
	front.TLS = &tls.Config{MinVersion: tls.VersionTLS12}
	front.StartTLS()
	t.Cleanup(front.Close)
	caFile := filepath.Join(f.dir, "ca.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: front.Certificate().Raw})
	if err := os.WriteFile(caFile, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	return front.URL, caFile
}

func TestCheckHealthyTarget(t *testing.T) {
	f := newFixture(t)
	tg := f.baseTarget()
	tg["instances"] = "true"
	tg["project_id"] = "" // looked up in IAM
	r := checkOne(t, f.load(t, tg))
	if r.Failure != nil {
		t.Fatalf("failed: %s | %s", r.Failure.Summary(), r.Failure.Hint)
	}
	if r.Total != 3 || r.NotRunning != 1 || !r.Listed || r.Listable != 3 {
		t.Errorf("got %+v, want 3 instances, 1 not running, listing allowed with 3", r)
	}
	if n := f.fake.Requests(dcsapitest.APIInstanceStatus); n != 1 {
		t.Errorf("%d status calls, want 1", n)
	}
	if n := f.fake.Requests(dcsapitest.APIStatistics); n != 0 {
		t.Errorf("%d statistics calls without statistics: true, want none", n)
	}
	if !r.Quota || f.fake.Requests(dcsapitest.APIQuota) != 1 {
		t.Errorf("quota read %t, in %d calls; want one call, on by default", r.Quota, f.fake.Requests(dcsapitest.APIQuota))
	}
	list := f.fake.RequestLog(dcsapitest.APIListInstances)
	if len(list) != 1 || list[0].Query.Get("limit") != "1" {
		t.Errorf("listing requests %v, want one with limit=1", list)
	}
}

// TestCheckFleetSteps checks the statistics and quota steps of a healthy
// target and the line that reports them.
func TestCheckFleetSteps(t *testing.T) {
	f := newFixture(t)
	f.fake.SetQuotaLimits(projectID, &dcsapitest.QuotaLimits{Instances: 50, MemoryGB: 800})
	tg := f.baseTarget()
	tg["statistics"] = "true"
	results, err := CheckDCS(context.Background(), f.load(t, tg), DCSOptions{MaxConcurrency: 1})
	if err != nil {
		t.Fatal(err)
	}
	r := results[0]
	if r.Failure != nil || !r.Statistics || r.Running != 2 || !r.Quota {
		t.Fatalf("got %+v, want statistics of the 2 running instances and the quota", r)
	}
	var b strings.Builder
	if ok, err := PrintDCS(&b, results); !ok || err != nil {
		t.Fatalf("PrintDCS: %t, %v", ok, err)
	}
	for _, want := range []string{"statistics of 2 running instances", "quota 3 of 50 instances, 0 of 800 GB"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("the report does not say %q:\n%s", want, b.String())
		}
	}
}

// TestCheckHints drives each failure the issue lists through the real check
// against the fake API, and checks the step, the answer's facts and the
// hint.
func TestCheckHints(t *testing.T) {
	type want struct {
		step      diagnosis.Step
		status    int
		code      string
		requestID bool     // the answer carried a request id
		hint      []string // words the hint must contain
	}
	cases := []struct {
		name  string
		setup func(t *testing.T, f *fixture, tg target)
		want  want
	}{
		{"wrong secret key", func(_ *testing.T, _ *fixture, tg target) {
			tg["credentials"] = "{access_key: " + checkAK + ", secret_key: " + wrongSK + "}"
		}, want{diagnosis.StepStatus, 401, "APIGW.0301", true, []string{"access key or secret key is wrong", "clock", "NTP"}}},
		{"clock 20 minutes behind", func(_ *testing.T, f *fixture, _ target) {
			f.fake.SetGatewayClockOffset(20 * time.Minute)
		}, want{diagnosis.StepStatus, 401, "APIGW.0301", true, []string{"clock is about 20 minutes behind the API gateway's", "NTP"}}},
		{"clock 3 hours ahead", func(_ *testing.T, f *fixture, _ target) {
			f.fake.SetGatewayClockOffset(-3 * time.Hour)
		}, want{diagnosis.StepStatus, 401, "APIGW.0301", true, []string{"clock is about 3 hours ahead of the API gateway's", "NTP"}}},
		{"wrong key, clock 3 minutes off", func(_ *testing.T, f *fixture, tg target) {
			f.fake.SetGatewayClockOffset(3 * time.Minute)
			tg["credentials"] = "{access_key: " + checkAK + ", secret_key: " + wrongSK + "}"
		}, want{diagnosis.StepStatus, 401, "APIGW.0301", true, []string{"access key or secret key is wrong", "more than 15 minutes off"}}},
		{"key locked out", func(_ *testing.T, f *fixture, _ target) {
			f.fake.InjectFault("", dcsapitest.APIInstanceStatus, dcsapitest.Fault{Kind: dcsapitest.FaultStatus, Status: 401, Code: "APIGW.0301",
				Message: "Incorrect IAM authentication information: AK access failed to reach the limit,forbidden"})
		}, want{diagnosis.StepStatus, 401, "APIGW.0301", true, []string{"locked", "5 minutes"}}},
		{"security token expired", func(_ *testing.T, f *fixture, _ target) {
			f.fake.InjectFault("", dcsapitest.APIInstanceStatus, dcsapitest.Fault{Kind: dcsapitest.FaultStatus, Status: 401, Code: "APIGW.0307", Message: "The token must be updated"})
		}, want{diagnosis.StepStatus, 401, "APIGW.0307", true, []string{"security token", "expired"}}},
		{"policy missing", func(_ *testing.T, f *fixture, _ target) {
			f.fake.InjectFault("", dcsapitest.APIInstanceStatus, dcsapitest.Fault{Kind: dcsapitest.FaultStatus, Status: 403, Code: "DCS.2007", Message: "Policy does not allow dcs:instance:list to be performed."})
		}, want{diagnosis.StepStatus, 403, "DCS.2007", true, []string{"DCS ReadOnlyAccess", region}}},
		{"project of another account", func(_ *testing.T, _ *fixture, tg target) {
			tg["project_id"] = "ffffffffffffffffffffffffffffffff"
		}, want{diagnosis.StepStatus, 403, "APIGW.0310", true, []string{"does not belong", "ffffffffffffffffffffffffffffffff"}}},
		{"v1-only cloud", func(_ *testing.T, f *fixture, _ target) {
			f.fake.SetV2StatusAvailable(projectID, false)
		}, want{diagnosis.StepStatus, 404, "APIGW.0101", true, []string{"api_version: v1"}}},
		{"v1-only cloud answering as the service", func(_ *testing.T, f *fixture, _ target) {
			f.fake.InjectFault("", dcsapitest.APIInstanceStatus, dcsapitest.Fault{Status: 404, Code: "DCS.4001", Message: "The requested URL does not exist.", Shape: dcsapitest.ShapeService})
		}, want{diagnosis.StepStatus, 404, "DCS.4001", true, []string{"api_version: v1"}}},
		{"v1-only cloud answering in IAM's nested shape", func(_ *testing.T, f *fixture, _ target) {
			f.fake.InjectFault("", dcsapitest.APIInstanceStatus, dcsapitest.Fault{Status: 404, Code: "111404001", Message: "The requested URL does not exist.", Shape: dcsapitest.ShapeNested})
		}, want{diagnosis.StepStatus, 404, "111404001", true, []string{"api_version: v1"}}},
		{"v1-only cloud behind a proxy page", func(_ *testing.T, f *fixture, _ target) {
			f.fake.InjectFault("", dcsapitest.APIInstanceStatus, dcsapitest.Fault{Kind: dcsapitest.FaultHTML, Status: 404})
		}, want{diagnosis.StepStatus, 404, "", true, []string{"api_version: v1"}}},
		{"404 of the v1 path", func(_ *testing.T, f *fixture, tg target) {
			tg["api_version"] = "v1"
			f.fake.InjectFault("", dcsapitest.APIInstanceStatus, dcsapitest.Fault{Status: 404})
		}, want{diagnosis.StepStatus, 404, "APIGW.0101", true, []string{"path does not exist at " + "http://"}}},
		{"throttled", func(_ *testing.T, f *fixture, _ target) {
			f.fake.InjectFault("", dcsapitest.APIInstanceStatus, dcsapitest.Fault{Kind: dcsapitest.FaultThrottle, RetryAfter: 30 * time.Second})
		}, want{diagnosis.StepStatus, 429, "APIGW.0308", true, []string{"throttling", "Try again later", "30s"}}},
		{"IAM lookup refused, fallback fails too", func(_ *testing.T, f *fixture, tg target) {
			tg["project_id"] = ""
			f.fake.SetIAMProjectListDenied(true)
			f.fake.InjectFault("", dcsapitest.APIIAMAuthProjects, dcsapitest.Fault{Status: 500})
		}, want{diagnosis.StepIAMLookup, 403, "", true, []string{"Set project_id", "iam:projects:list", "DCS ReadOnlyAccess"}}},
		{"IAM lookup refused, no project of the region", func(_ *testing.T, f *fixture, tg target) {
			tg["project_id"] = ""
			tg["region"] = "eu-west-0"
			f.fake.SetIAMProjectListDenied(true)
		}, want{diagnosis.StepIAMLookup, 0, "", false, []string{"No project of this account is named after region eu-west-0", "set project_id"}}},
		{"IAM lookup finds two projects", func(_ *testing.T, f *fixture, tg target) {
			tg["project_id"] = ""
			f.fake.AddProject(region, "ffff0000ffff0000ffff0000ffff0000")
		}, want{diagnosis.StepIAMLookup, 0, "", false, []string{"Several projects", "set project_id"}}},
		{"connection refused", func(t *testing.T, _ *fixture, tg target) {
			tg["endpoint"] = "http://" + closedPort(t)
		}, want{diagnosis.StepStatus, 0, "", false, []string{"Nothing accepts connections", "endpoint", "region", "proxy_url"}}},
		{"connection refused at IAM", func(t *testing.T, _ *fixture, tg target) {
			tg["project_id"] = ""
			tg["iam_endpoint"] = "http://" + closedPort(t)
		}, want{diagnosis.StepIAMLookup, 0, "", false, []string{"Nothing accepts connections", "HTTPS_PROXY"}}},
		{"proxy unreachable", func(t *testing.T, _ *fixture, tg target) {
			tg["proxy_url"] = "http://" + closedPort(t)
		}, want{diagnosis.StepStatus, 0, "", false, []string{"proxy cannot be reached", "proxy_url"}}},
		{"TLS certificate of an unknown CA", func(t *testing.T, f *fixture, tg target) {
			u, _ := f.tlsFront(t)
			tg["endpoint"] = u
		}, want{diagnosis.StepStatus, 0, "", false, []string{"tls.ca_file"}}},
		{"TLS certificate for another host", func(t *testing.T, f *fixture, tg target) {
			u, ca := f.tlsFront(t)
			tg["endpoint"] = strings.Replace(u, "127.0.0.1", "localhost", 1)
			tg["tls"] = "{ca_file: " + ca + "}"
		}, want{diagnosis.StepStatus, 0, "", false, []string{"another host name"}}},
		{"plain HTTP where TLS is expected", func(_ *testing.T, f *fixture, tg target) {
			tg["endpoint"] = strings.Replace(f.fake.URL, "http://", "https://", 1)
		}, want{diagnosis.StepStatus, 0, "", false, []string{"does not speak TLS"}}},
		{"no answer within the timeout", func(_ *testing.T, f *fixture, tg target) {
			tg["timeout"] = "1s"
			f.fake.InjectFault("", dcsapitest.APIInstanceStatus, dcsapitest.Fault{Kind: dcsapitest.FaultHang})
		}, want{diagnosis.StepStatus, 0, "", false, []string{"within the target's timeout (1s)"}}},
		{"server error", func(_ *testing.T, f *fixture, _ target) {
			f.fake.InjectFault("", dcsapitest.APIInstanceStatus, dcsapitest.Fault{Kind: dcsapitest.FaultStatus, Status: 500})
		}, want{diagnosis.StepStatus, 500, "DCS.5000", true, []string{"support", "request id"}}},
		{"proxy error page", func(_ *testing.T, f *fixture, _ target) {
			f.fake.InjectFault("", dcsapitest.APIInstanceStatus, dcsapitest.Fault{Kind: dcsapitest.FaultHTML, Status: 502})
		}, want{diagnosis.StepStatus, 502, "", true, []string{"proxy"}}},
		{"not the DCS API", func(_ *testing.T, f *fixture, _ target) {
			f.fake.InjectFault("", dcsapitest.APIInstanceStatus, dcsapitest.Fault{Kind: dcsapitest.FaultMalformedJSON})
		}, want{diagnosis.StepStatus, 0, "", true, []string{"not what the DCS API sends"}}},
		{"credential file missing", func(t *testing.T, f *fixture, tg target) {
			tg["credentials"] = f.keyFiles(t)
			f.afterLoad = func() {
				if err := os.Remove(filepath.Join(f.dir, "sk")); err != nil {
					t.Fatal(err)
				}
			}
		}, want{diagnosis.StepCredentials, 0, "", false, []string{"does not exist", "mounted"}}},
		{"credential file unreadable", func(t *testing.T, f *fixture, tg target) {
			tg["credentials"] = f.keyFiles(t)
			f.afterLoad = func() {
				// Root reads any file, so the unreadable one is a
				// directory, which fails for everyone.
				sk := filepath.Join(f.dir, "sk")
				if err := os.Remove(sk); err != nil {
					t.Fatal(err)
				}
				if err := os.Mkdir(sk, 0o700); err != nil {
					t.Fatal(err)
				}
			}
		}, want{diagnosis.StepCredentials, 0, "", false, []string{"directory"}}},
		{"environment variables unset", func(t *testing.T, _ *fixture, tg target) {
			t.Setenv("HUAWEICLOUD_SDK_AK", "")
			t.Setenv("HUAWEICLOUD_SDK_SK", "")
			tg["credentials"] = "{env: true}"
		}, want{diagnosis.StepCredentials, 0, "", false, []string{"HUAWEICLOUD_SDK_AK", "HUAWEICLOUD_SDK_SK"}}},
		{"metadata service unreachable", func(t *testing.T, _ *fixture, tg target) {
			tg["credentials"] = "{metadata: true, metadata_endpoint: 'http://" + closedPort(t) + "'}"
		}, want{diagnosis.StepCredentials, 0, "", false, []string{"cannot be reached", "ECS", "CCE", "agency"}}},
		{"metadata service without agency", func(_ *testing.T, f *fixture, tg target) {
			tg["credentials"] = "{metadata: true, metadata_endpoint: '" + f.fake.URL + "'}"
		}, want{diagnosis.StepCredentials, 404, "", true, []string{"bind an agency"}}},
		{"listing refused", func(_ *testing.T, f *fixture, tg target) {
			tg["instances"] = "true"
			f.fake.InjectFault("", dcsapitest.APIListInstances, dcsapitest.Fault{Kind: dcsapitest.FaultStatus, Status: 403, Code: "DCS.2003", Message: "role lacks permission"})
		}, want{diagnosis.StepListing, 403, "DCS.2003", true, []string{"DCS ReadOnlyAccess"}}},
		{"statistics refused", func(_ *testing.T, f *fixture, tg target) {
			tg["statistics"] = "true"
			f.fake.InjectFault("", dcsapitest.APIStatistics, dcsapitest.Fault{Kind: dcsapitest.FaultStatus, Status: 403, Code: "DCS.2003", Message: "role lacks permission"})
		}, want{diagnosis.StepStatistics, 403, "DCS.2003", true, []string{"/v2/{project_id}/instances/statistic", "DCS ReadOnlyAccess", region, "statistics: false"}}},
		{"statistics API missing", func(_ *testing.T, f *fixture, tg target) {
			tg["statistics"] = "true"
			tg["api_version"] = "v1"
			f.fake.SetAPIAvailable(projectID, dcsapitest.APIStatistics, false)
		}, want{diagnosis.StepStatistics, 404, "APIGW.0101", true, []string{"does not offer the statistics API (GET /v1.0/{project_id}/instances/statistic)", "statistics: false"}}},
		{"quota refused", func(_ *testing.T, f *fixture, _ target) {
			f.fake.InjectFault("", dcsapitest.APIQuota, dcsapitest.Fault{Kind: dcsapitest.FaultStatus, Status: 403, Code: "DCS.2003", Message: "role lacks permission"})
		}, want{diagnosis.StepQuota, 403, "DCS.2003", true, []string{"/v2/{project_id}/quota", "DCS ReadOnlyAccess", "quota: false"}}},
		{"quota API missing", func(_ *testing.T, f *fixture, _ target) {
			f.fake.SetAPIAvailable(projectID, dcsapitest.APIQuota, false)
		}, want{diagnosis.StepQuota, 404, "APIGW.0101", true, []string{"does not offer the quota API", "quota: false"}}},
	}
	for _, c := range cases {
		t.Run(strings.ReplaceAll(c.name, " ", "_"), func(t *testing.T) {
			f := newFixture(t)
			tg := f.baseTarget()
			c.setup(t, f, tg)
			cfg := f.load(t, tg)
			if f.afterLoad != nil {
				f.afterLoad()
			}
			r := checkOne(t, cfg)
			if r.Failure == nil {
				t.Fatalf("the check passed: %+v", r)
			}
			got := *r.Failure
			noSecrets(t, got.Summary()+"\n"+got.Hint)
			if got.Step != c.want.step || got.StatusCode != c.want.status || got.Code != c.want.code {
				t.Errorf("got step %q, HTTP %d, code %q; want %q, %d, %q\n%s", got.Step, got.StatusCode, got.Code, c.want.step, c.want.status, c.want.code, got.Summary())
			}
			if (got.RequestID != "") != c.want.requestID {
				t.Errorf("request id %q, want one: %v", got.RequestID, c.want.requestID)
			}
			for _, w := range c.want.hint {
				if !strings.Contains(got.Hint, w) {
					t.Errorf("the hint does not say %q:\n%s\n(finding: %s)", w, got.Hint, got.Summary())
				}
			}
		})
	}
}

// keyFiles writes the good key pair to the files ak and sk and returns the
// credentials block that names them.
func (f *fixture) keyFiles(t *testing.T) string {
	t.Helper()
	ak, sk := filepath.Join(f.dir, "ak"), filepath.Join(f.dir, "sk")
	for path, v := range map[string]string{ak: checkAK, sk: checkSK} {
		if err := os.WriteFile(path, []byte(v+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return "{access_key_file: " + ak + ", secret_key_file: " + sk + "}"
}

func TestCheckTLSWithCAFile(t *testing.T) {
	f := newFixture(t)
	u, ca := f.tlsFront(t)
	tg := f.baseTarget()
	tg["endpoint"] = u
	tg["tls"] = "{ca_file: " + ca + "}"
	if r := checkOne(t, f.load(t, tg)); r.Failure != nil {
		t.Errorf("with the CA file the check failed: %s | %s", r.Failure.Summary(), r.Failure.Hint)
	}
}

// TestCheckConcurrency checks four targets whose answers each take a second:
// two at a time take at least two seconds, four at a time well under four.
func TestCheckConcurrency(t *testing.T) {
	f := newFixture(t)
	f.fake.SetLatency(time.Second)
	var targets []target
	for i := range 4 {
		tg := f.baseTarget()
		tg["name"] = fmt.Sprintf("t%d", i)
		targets = append(targets, tg)
	}
	cfg := f.load(t, targets...)
	for _, c := range []struct {
		limit    int
		min, max time.Duration
	}{
		{2, 2 * time.Second, time.Hour},
		{4, time.Second, 3 * time.Second},
	} {
		start := time.Now()
		results, err := CheckDCS(context.Background(), cfg, DCSOptions{MaxConcurrency: c.limit})
		took := time.Since(start)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range results {
			if r.Failure != nil {
				t.Errorf("%s: %s", r.Name, r.Failure.Summary())
			}
		}
		if took < c.min || took > c.max {
			t.Errorf("with --dcs.max-concurrency=%d the check took %v, want %v to %v", c.limit, took, c.min, c.max)
		}
	}
}
