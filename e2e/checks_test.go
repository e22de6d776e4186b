package e2e

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/dcs-exporter/dcs_exporter/dcsapi/dcsapitest"
)

// TestCheckCommands runs --config.check and --dcs.check as a user does: the
// built program, its exit status and its output, which must never show a
// secret value.
func TestCheckCommands(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "dcs_exporter")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	const (
		ak       = "HPUAPROCESSCHECK0001"
		sk       = "ProcessCheckSecretDoNotUse0123456789ABCD"
		fileSK   = "FileSecretKeyDoNotUse0123456789ABCDEFGHI"
		envSK    = "EnvSecretKeyDoNotUse0123456789ABCDEFGHIJ"
		token    = "process-check-security-token-EXAMPLE+/=="
		badSK    = "BadSecretKeyDoNotUse0123456789ABCDEFGHIJ"
		pidGood  = "11111111111111111111111111111111"
		pidOTC   = "22222222222222222222222222222222"
		regionCN = "cn-north-4"
	)
	secrets := []string{sk, fileSK, envSK, token, badSK}
	fake := dcsapitest.NewServer()
	defer fake.Close()
	fake.AddKey(ak, sk)
	fake.AddProject(regionCN, pidGood)
	fake.SetInstances(pidGood, []dcsapitest.Instance{
		{ID: "a", Engine: "Redis", Status: "RUNNING"},
		{ID: "b", Engine: "Redis", Status: "ERROR"},
		{ID: "c", Engine: "Memcached", Status: "RUNNING"},
	})
	fake.SetInstances(pidOTC, []dcsapitest.Instance{{ID: "d", Engine: "Redis", Status: "RUNNING"}})
	fake.SetV2StatusAvailable(pidOTC, false)

	writeFile := func(name, content string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	skFile := writeFile("sk", fileSK+"\n")
	tokenFile := writeFile("token", token+"\n")
	inline := "{access_key: " + ak + ", secret_key: " + sk + "}"

	// runCmd runs the program and returns its exit status and output,
	// failing the test if the output shows a secret.
	runCmd := func(t *testing.T, env []string, args ...string) (int, string, string) {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), env...)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		code := 0
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			code = exitErr.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		for _, s := range secrets {
			if strings.Contains(stdout.String()+stderr.String(), s) {
				t.Errorf("the output shows the secret %q:\n%s\n%s", s, stdout.String(), stderr.String())
			}
		}
		return code, stdout.String(), stderr.String()
	}

	t.Run("config.check", func(t *testing.T) {
		config := writeFile("config.yml", `targets:
  - name: inline-keys
    region: cn-north-4
    credentials: `+inline+`
  - name: mixed-keys
    region: ap-southeast-1
    project_id: `+pidGood+`
    endpoint: `+fake.URL+`/v1.0
    credentials: {access_key: `+ak+`, secret_key_file: `+skFile+`, security_token_file: `+tokenFile+`}
  - name: env-keys
    region: eu-de
    endpoint: https://dcs.eu-de.otc.t-systems.com
    iam_endpoint: https://iam.eu-de.otc.t-systems.com
    api_version: v1
    instances: true
    credentials: {env: true}
  - name: agency
    region: cn-north-4
    credentials: {metadata: true}
`)
		fake.ResetCounts()
		code, out, errOut := runCmd(t, []string{"HUAWEICLOUD_SDK_AK=" + ak, "HUAWEICLOUD_SDK_SK=" + envSK}, "--config.check", "--config.file="+config)
		if code != 0 {
			t.Fatalf("exit %d, want 0\n%s%s", code, out, errOut)
		}
		for _, want := range []string{
			config + " is valid: 4 targets.",
			"inline-keys\n",
			"project_id       looked up in IAM",
			"endpoint         https://dcs.cn-north-4.myhuaweicloud.com\n",
			"iam_endpoint     https://iam.cn-north-4.myhuaweicloud.com\n",
			"access_key       inline\n",
			"secret_key       inline\n",
			"security_token   not set\n",
			"project_id       " + pidGood,
			"(not used: project_id is set)",
			"  access_key       inline\n  secret_key       file " + skFile + "\n",
			"info: " + config + ":8: targets[1].endpoint: dropped /v1.0",
			"security_token   file " + tokenFile + "\n",
			"api_version      v1\n",
			"instances        enabled",
			"access_key       environment variable HUAWEICLOUD_SDK_AK (set)",
			"secret_key       environment variable HUAWEICLOUD_SDK_SK (set)",
			"access_key       metadata service http://169.254.169.254",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("the output lacks %q:\n%s", want, out)
			}
		}
		if n := fake.Requests(""); n != 0 {
			t.Errorf("--config.check made %d requests, want none", n)
		}
	})

	t.Run("config.check of a bad file", func(t *testing.T) {
		config := writeFile("bad.yml", "targets:\n  - name: a\n    region: cn-north-4\n    credentials: {access_key: "+ak+", secret_key: "+sk+"}\n    timeout: 10x\n")
		code, out, errOut := runCmd(t, nil, "--config.check", "--config.file="+config)
		if code != 1 || out != "" {
			t.Errorf("exit %d with output %q, want 1 and none", code, out)
		}
		if want := config + `:5: targets[0].timeout: invalid duration "10x"`; !strings.Contains(errOut, want) {
			t.Errorf("stderr %q lacks %q", errOut, want)
		}
	})

	dcsConfig := func(name string, targets ...string) string {
		return writeFile(name, "defaults:\n  endpoint: "+fake.URL+"\n  iam_endpoint: "+fake.URL+"\n  timeout: 10s\n  credentials: "+inline+"\ntargets:\n"+strings.Join(targets, ""))
	}
	good := "  - {name: good, region: cn-north-4, instances: true, statistics: true}\n"

	t.Run("dcs.check, all answer", func(t *testing.T) {
		code, out, errOut := runCmd(t, nil, "--dcs.check", "--config.file="+dcsConfig("ok.yml", good))
		if code != 0 {
			t.Fatalf("exit %d, want 0\n%s%s", code, out, errOut)
		}
		if !regexp.MustCompile(`(?m)^good +ok +3 instances, 1 not running; listing allowed \(3 instances\); statistics of 2 running instances; quota 3 of 50 instances, \d+ of 800 GB$`).MatchString(out) {
			t.Errorf("unexpected output:\n%s", out)
		}
		if !strings.Contains(out, "All 1 targets answered.") {
			t.Errorf("no closing line:\n%s", out)
		}
	})

	t.Run("dcs.check, some fail", func(t *testing.T) {
		config := dcsConfig("failing.yml", good,
			"  - {name: bad-key, region: cn-north-4, project_id: "+pidGood+", credentials: {access_key: "+ak+", secret_key: "+badSK+"}}\n",
			"  - {name: otc, region: eu-de, project_id: "+pidOTC+"}\n",
		)
		code, out, errOut := runCmd(t, nil, "--dcs.check", "--config.file="+config, "--dcs.max-concurrency=2")
		if code != 1 {
			t.Fatalf("exit %d, want 1\n%s%s", code, out, errOut)
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if len(lines) != 6 { // header, three targets, blank, count
			t.Fatalf("want one line per target:\n%s", out)
		}
		for _, re := range []string{
			`^TARGET +RESULT +DETAILS$`,
			`^good +ok +3 instances, 1 not running`,
			`^bad-key +FAILED +status call: HTTP 401 APIGW.0301 \(request id [0-9a-f]+\): .* \| hint: The access key or secret key is wrong.*clock`,
			`^otc +FAILED +status call: HTTP 404 APIGW.0101 \(request id [0-9a-f]+\): .* \| hint: .*set api_version: v1`,
		} {
			if !regexp.MustCompile(`(?m)` + re).MatchString(out) {
				t.Errorf("no line matches %s:\n%s", re, out)
			}
		}
		if !strings.Contains(out, "2 of 3 targets failed.") {
			t.Errorf("no closing count:\n%s", out)
		}
	})
}

// TestBinaryLeavesOutTestOnlyModules keeps the browser driver of the status
// page's test out of the program.
func TestBinaryLeavesOutTestOnlyModules(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if strings.HasPrefix(pkg, "github.com/chromedp/") {
			t.Errorf("the program imports %s, a test-only module", pkg)
		}
	}
}
