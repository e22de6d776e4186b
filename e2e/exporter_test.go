//go:build e2e

package e2e

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"

	"github.com/dcs-exporter/dcs_exporter/dcsapi/dcsapitest"
)

// The fake API's projects of the harness: the fleets a real account has.
const (
	projectProd    = "0123456789abcdef0123456789abcdef"
	projectStaging = "fedcba9876543210fedcba9876543210"
)

// exporterBinary builds the program once per test run, as the README does,
// into a directory removed after the last test.
var exporterBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "dcs_exporter-e2e-")
	if err != nil {
		return "", err
	}
	cleanups = append(cleanups, func() { os.RemoveAll(dir) })
	bin := filepath.Join(dir, "dcs_exporter")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %w\n%s", err, out)
	}
	return bin, nil
})

// harness is the built exporter, run as a process, in front of the fake
// DCS API, with the configuration of the root package's collector_test.go.
type harness struct {
	e      *e2e
	fake   *dcsapitest.Server
	config string
	proc   *daemon
	// handler forwards to the process, so that a test can wrap what a
	// client of the exporter sees.
	handler http.Handler
}

func newHarness(e *e2e, extraArgs ...string) *harness {
	t := e.t
	t.Helper()
	fake := dcsapitest.NewServer()
	t.Cleanup(fake.Close)
	fake.AddProject("cn-north-4", projectProd)
	fake.AddProject("ap-southeast-1", projectStaging)
	fake.SetInstances(projectProd, dcsapitest.SampleFleet(25))
	fake.SetInstances(projectStaging, dcsapitest.SampleFleet(4))

	h := &harness{e: e, fake: fake, config: filepath.Join(e.dir, "dcs_exporter.yml")}
	h.writeConfig(h.configText(""))
	h.proc = e.startExporter("exporter", h.config, extraArgs...)
	target, err := url.Parse(h.proc.url(""))
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.Transport = &http.Transport{Proxy: nil}
	h.handler = proxy
	return h
}

// startExporter starts the built program with a configuration file on a
// free port and waits until it is ready.
func (e *e2e) startExporter(name, configFile string, extraArgs ...string) *daemon {
	e.t.Helper()
	bin, err := exporterBinary()
	if err != nil {
		e.t.Fatal(err)
	}
	return e.startDaemon(name, func(port int) []string {
		return append([]string{bin, "--config.file=" + configFile, "--web.listen-address=" + loopback(port), "--log.level=debug"}, extraArgs...)
	})
}

func (h *harness) configText(extraTargets string) string {
	return fmt.Sprintf(`defaults:
  endpoint: %[1]s
  iam_endpoint: %[1]s
  timeout: 30s
  credentials:
    access_key: %[2]s
    secret_key: %[3]s
targets:
  - name: prod
    region: cn-north-4
    labels: {env: prod}
  - name: staging
    region: ap-southeast-1
    project_id: %[4]s
    labels: {env: staging}
%[5]s`, h.fake.URL, dcsapitest.TestAccessKey, dcsapitest.TestSecretKey, projectStaging, extraTargets)
}

func (h *harness) writeConfig(text string) {
	h.e.t.Helper()
	writeFile(h.e.t, h.config, text)
}

func (h *harness) get(path string) (int, string) {
	return h.do(http.MethodGet, path)
}

func (h *harness) post(path string) (int, string) {
	return h.do(http.MethodPost, path)
}

func (h *harness) do(method, path string) (int, string) {
	t := h.e.t
	t.Helper()
	req, err := http.NewRequest(method, h.proc.url(path), strings.NewReader(""))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := h.e.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}
