package checks

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dcs-exporter/dcs_exporter/config"
	"github.com/dcs-exporter/dcs_exporter/dcsapi/dcsapitest"
	"github.com/dcs-exporter/dcs_exporter/internal/redact"
)

// noRunOf fails the test when text holds redact.MinRun consecutive
// characters of secret, or an escape character.
func noRunOf(t *testing.T, text, secret string) {
	t.Helper()
	for i := 0; i+redact.MinRun <= len(secret); i++ {
		if strings.Contains(text, secret[i:i+redact.MinRun]) {
			t.Errorf("%q of a secret is shown:\n%s", secret[i:i+redact.MinRun], text)
			return
		}
	}
	if strings.ContainsAny(text, "\x1b\x07\x00") {
		t.Errorf("an escape or control character reaches the terminal:\n%q", text)
	}
}

// --dcs.check against a gateway that echoes the secret key split by a
// control character, and part of it as the request id, with a terminal
// escape that would set the window title: the output shows neither.
func TestCheckOutputRedactsEchoes(t *testing.T) {
	f := newFixture(t)
	f.fake.InjectFault(projectID, "", dcsapitest.Fault{Status: 400, Code: "DCS.4000",
		Message:   "\x1b]0;pwned\x07 key " + checkSK[:9] + "\x00" + checkSK[9:] + " refused",
		RequestID: checkSK[:30]})
	r := checkOne(t, f.load(t, f.baseTarget()))
	if r.Failure == nil {
		t.Fatal("the check passed; want the echoed error")
	}
	var out bytes.Buffer
	if _, err := PrintDCS(&out, []TargetResult{r}); err != nil {
		t.Fatal(err)
	}
	noRunOf(t, out.String(), checkSK)
	if !strings.Contains(out.String(), "key "+redact.Mask+" refused") {
		t.Errorf("want the message with the key masked:\n%s", out.String())
	}
}

// No user name or password of an endpoint, of IAM, of the metadata service
// or of the proxy reaches --config.check or --dcs.check, with its hint.
func TestNoUserinfoShown(t *testing.T) {
	const password = "UrlPassw0rdDoNotShow"
	f := newFixture(t)
	withUser := func(u string) string { return strings.Replace(u, "http://", "http://admin:"+password+"@", 1) }
	dead := "http://admin:" + password + "@" + closedPort(t)
	down := f.baseTarget()
	down["endpoint"] = dead
	down["iam_endpoint"] = withUser(f.fake.URL)
	down["project_id"] = ""
	down["proxy_url"] = ""
	md := f.baseTarget()
	md["name"] = "md"
	md["endpoint"] = withUser(f.fake.URL)
	md["credentials"] = "{metadata: true, metadata_endpoint: " + dead + "}"
	cfg := f.load(t, down, md)

	var out bytes.Buffer
	if err := PrintConfig(&out, "dcs_exporter.yml", cfg); err != nil {
		t.Fatal(err)
	}
	results, err := CheckDCS(t.Context(), cfg, DCSOptions{MaxConcurrency: 2})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := PrintDCS(&out, results); err != nil {
		t.Fatal(err)
	}
	for _, r := range results {
		if r.Failure == nil {
			t.Fatalf("target %s passed; want it to fail", r.Name)
		}
	}
	if text := out.String(); strings.Contains(text, password) || strings.Contains(text, "admin") {
		t.Errorf("a user or password is shown:\n%s", text)
	}
	if !strings.Contains(out.String(), "http://"+closedPort(t)[:len("127.0.0.1")]) {
		t.Errorf("the endpoints are not shown at all:\n%s", out.String())
	}
}

// A key name of the answer reaches the terminal only printable and cut: one
// holding an escape that sets the window title, and one of a megabyte.
func TestCheckOutputKeyNames(t *testing.T) {
	for name, key := range map[string]string{
		"title escape": "\x1b]0;pwned\x07running_count",
		"megabyte":     strings.Repeat("k", 1<<20) + "_count",
	} {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t)
			body, err := json.Marshal(map[string]any{"redis": map[string]any{key: "seven"}})
			if err != nil {
				t.Fatal(err)
			}
			f.fake.SetStatusOverride(projectID, body)
			r := checkOne(t, f.load(t, f.baseTarget()))
			if r.Failure == nil {
				t.Fatal("the check passed; want the bad count refused")
			}
			var out bytes.Buffer
			if _, err := PrintDCS(&out, []TargetResult{r}); err != nil {
				t.Fatal(err)
			}
			if text := out.String(); strings.ContainsAny(text, "\x1b\x07") || len(text) > 4096 || !strings.Contains(text, "field redis.") {
				t.Errorf("%d bytes, want the field named, printable and short:\n%q", len(text), redact.Cut(text, 600))
			}
		})
	}
}

// --dcs.check explains a redirect: the step, the status, the Location's
// host alone, and that the endpoint is probably wrong.
func TestCheckExplainsRedirect(t *testing.T) {
	f := newFixture(t)
	f.fake.InjectFault(projectID, "", dcsapitest.Fault{Kind: dcsapitest.FaultRedirect, Status: 301,
		Location: "https://console.example.com:8443/login?token=leak"})
	r := checkOne(t, f.load(t, f.baseTarget()))
	if r.Failure == nil {
		t.Fatal("the check passed; want the redirect refused")
	}
	var out bytes.Buffer
	if _, err := PrintDCS(&out, []TargetResult{r}); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	for _, want := range []string{"status call: HTTP 301", "console.example.com:8443", "never follows", "endpoint is probably wrong", "proxy"} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "leak") || strings.Contains(text, "/login") {
		t.Errorf("the Location's path or query is shown:\n%s", text)
	}
}

// --config.check notes a secret file that anyone may read, and refuses
// /dev/zero as one before anything is read from it.
func TestConfigCheckCredentialFiles(t *testing.T) {
	f := newFixture(t)
	for name, mode := range map[string]os.FileMode{"ak": 0o600, "sk": 0o644} {
		if err := os.WriteFile(filepath.Join(f.dir, name), []byte(checkSK+"\n"), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(filepath.Join(f.dir, name), mode); err != nil {
			t.Fatal(err)
		}
	}
	tg := f.baseTarget()
	tg["credentials"] = "{access_key_file: ak, secret_key_file: sk}"
	var out bytes.Buffer
	if err := PrintConfig(&out, "dcs_exporter.yml", f.load(t, tg)); err != nil {
		t.Fatal(err)
	}
	if text := out.String(); !strings.Contains(text, "warn: ") || !strings.Contains(text, filepath.Join(f.dir, "sk")+" can be read by every user") {
		t.Errorf("no note of the world-readable secret file:\n%s", text)
	}
	tg["credentials"] = "{access_key_file: ak, secret_key_file: /dev/zero}"
	if _, err := config.Load(f.write(t, tg)); err == nil || !strings.Contains(err.Error(), "character device") {
		t.Errorf("/dev/zero as secret_key_file: got %v, want it refused", err)
	}
}
