package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/common/promslog"
)

// The basic auth user of the web configuration. The hash is bcrypt's, at
// its lowest cost so that the test stays fast; the password is only a test's.
const (
	webUser         = "prometheus"
	webPassword     = "correct horse battery staple"
	webPasswordHash = "$2a$04$0TJTviwF2J2K.qYCH6x52.37VGSHsHANxVnoutytMTjrd7140i9fu"
)

// writeSelfSignedCert writes a certificate for 127.0.0.1 and its key into
// dir, and returns a pool that trusts it.
func writeSelfSignedCert(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "dcs_exporter test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// startRun runs the whole program, as main does, on a free port of
// 127.0.0.1, and returns that address. It stops the program at the end of
// the test and checks that it exits with status 0.
func startRun(t *testing.T, args ...string) string {
	t.Helper()
	// The port was free a moment ago; should another process take it
	// first, the program exits at once, and another port is tried.
	for range 3 {
		addr := closedPort()
		stop := make(chan struct{})
		exit := make(chan int, 1)
		go func() { exit <- run(append(args, "--web.listen-address="+addr), stop) }()
		if listening(addr, exit) {
			t.Cleanup(func() {
				close(stop)
				if code := <-exit; code != 0 {
					t.Errorf("exit status %d after a normal stop, want 0", code)
				}
			})
			return addr
		}
		close(stop)
	}
	t.Fatal("the exporter did not start serving")
	return ""
}

// listening waits until addr accepts connections, or the program exits.
func listening(addr string, exit <-chan int) bool {
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		select {
		case <-exit:
			return false
		default:
		}
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return true
		}
	}
	return false
}

// TestTLSAndBasicAuth serves through --web.config.file with TLS and basic
// auth, as exporter-toolkit does it, and checks a real handshake against
// the generated certificate, the right and the wrong password, and that a
// SIGHUP with a broken configuration keeps the old one serving.
func TestTLSAndBasicAuth(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, pool := writeSelfSignedCert(t, dir)
	webConfig := filepath.Join(dir, "web.yml")
	if err := os.WriteFile(webConfig, []byte(fmt.Sprintf("tls_server_config:\n  cert_file: %s\n  key_file: %s\nbasic_auth_users:\n  %s: %s\n",
		certFile, keyFile, webUser, webPasswordHash)), 0o600); err != nil {
		t.Fatal(err)
	}
	fake := newFaultFake()
	t.Cleanup(fake.Close)
	configFile := filepath.Join(dir, "dcs_exporter.yml")
	good := faultConfig(fake.URL, fake.URL, 5*time.Second)
	if err := os.WriteFile(configFile, []byte(good), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := startRun(t, "--config.file="+configFile, "--web.config.file="+webConfig, "--log.level=error")

	transport := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
	defer transport.CloseIdleConnections()
	client := &http.Client{Transport: transport, Timeout: 10 * time.Second}
	// get returns the status, the TLS state and the body of one request.
	get := func(path, user, password string) (int, *tls.ConnectionState, string) {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, "https://"+addr+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if user != "" {
			req.SetBasicAuth(user, password)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.TLS, string(body)
	}

	code, state, body := get("/metrics", webUser, webPassword)
	if code != http.StatusOK || !strings.Contains(body, `dcs_up{target="prod"`) {
		t.Fatalf("right password: HTTP %d:\n%.300s", code, body)
	}
	if state == nil || !state.HandshakeComplete || len(state.VerifiedChains) == 0 {
		t.Fatalf("no verified TLS handshake: %+v", state)
	}
	for _, c := range []struct{ name, user, password string }{
		{"wrong password", webUser, "Tr0ub4dor&3"},
		{"unknown user", "grafana", webPassword},
		{"no credentials", "", ""},
	} {
		for _, path := range []string{"/metrics", "/probe?target=prod", "/"} {
			if code, _, body := get(path, c.user, c.password); code != http.StatusUnauthorized || strings.Contains(body, "dcs_up") {
				t.Errorf("%s on %s: HTTP %d, want 401", c.name, path, code)
			}
		}
	}

	// Plain HTTP on the TLS port is refused, and an unknown authority fails
	// the handshake.
	if resp, err := http.Get("http://" + addr + "/metrics"); err == nil {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Errorf("plain HTTP was served: %.200s", body)
		}
	}
	strict := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{MinVersion: tls.VersionTLS12}}, Timeout: 10 * time.Second}
	if resp, err := strict.Get("https://" + addr + "/-/healthy"); err == nil {
		resp.Body.Close()
		t.Error("the handshake succeeded without trusting the certificate")
	}
	strict.CloseIdleConnections()

	// A broken configuration on SIGHUP: the old one keeps serving, and the
	// failure shows in the reload gauge, until a good one comes.
	reloadGauge := func() string {
		_, _, body := get("/metrics", webUser, webPassword)
		for _, line := range strings.Split(body, "\n") {
			if v, ok := strings.CutPrefix(line, "dcs_exporter_config_last_reload_successful "); ok {
				return v
			}
		}
		return "absent"
	}
	for _, step := range []struct {
		config, want string
	}{
		{good + "  - name: broken\n    region: cn-north-4\n    timeout: 10x\n", "0"},
		{good, "1"},
	} {
		if err := os.WriteFile(configFile, []byte(step.config), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(5 * time.Second)
		for reloadGauge() != step.want {
			if time.Now().After(deadline) {
				t.Fatalf("after SIGHUP the reload gauge is %s, want %s", reloadGauge(), step.want)
			}
			time.Sleep(20 * time.Millisecond)
		}
		if _, _, body := get("/probe?target=prod", webUser, webPassword); !strings.Contains(body, `dcs_up{target="prod"`) {
			t.Errorf("the configuration stopped serving after a reload:\n%.300s", body)
		}
	}
}

// TestServerTimeouts checks that every server timeout is set: a client
// that sends its request or reads the answer slowly, or idles, is cut off.
func TestServerTimeouts(t *testing.T) {
	srv := newServer(http.NotFoundHandler(), promslog.NewNopLogger())
	for name, d := range map[string]time.Duration{
		"ReadHeaderTimeout": srv.ReadHeaderTimeout,
		"ReadTimeout":       srv.ReadTimeout,
		"WriteTimeout":      srv.WriteTimeout,
		"IdleTimeout":       srv.IdleTimeout,
	} {
		if d <= 0 || d > 5*time.Minute {
			t.Errorf("%s = %v, want set and at most 5m", name, d)
		}
	}
	if srv.ReadHeaderTimeout > 10*time.Second {
		t.Errorf("ReadHeaderTimeout = %v: a slow client holds a connection that long before it even asks", srv.ReadHeaderTimeout)
	}
	if srv.MaxHeaderBytes <= 0 || srv.MaxHeaderBytes > 1<<20 {
		t.Errorf("MaxHeaderBytes = %d", srv.MaxHeaderBytes)
	}
}

// TestMaxRequestsBoundsParallelScrapes sends more scrapes at once than
// --web.max-requests allows: the surplus gets a prompt 503, the rest are
// served, and the slots come back.
func TestMaxRequestsBoundsParallelScrapes(t *testing.T) {
	const limit, scrapes = 2, 8
	h := newHarness(t, fmt.Sprintf("--web.max-requests=%d", limit))
	h.get("/metrics")              // the project lookup, out of the way
	h.fake.SetLatency(time.Second) // the served ones stay in flight while the rest arrive
	type result struct {
		code    int
		elapsed time.Duration
	}
	results := make(chan result, scrapes)
	var wg sync.WaitGroup
	for i := range scrapes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			path := "/probe?target=staging"
			if i%2 == 1 {
				path = "/metrics"
			}
			start := time.Now()
			resp, err := http.Get(h.srv.URL + path)
			if err != nil {
				t.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			results <- result{resp.StatusCode, time.Since(start)}
		}()
	}
	wg.Wait()
	close(results)
	served, refused := 0, 0
	for r := range results {
		switch r.code {
		case http.StatusOK:
			served++
		case http.StatusServiceUnavailable:
			refused++
			if r.elapsed > 500*time.Millisecond {
				t.Errorf("a refused scrape took %v; it should not wait for a slot", r.elapsed)
			}
		default:
			t.Errorf("HTTP %d", r.code)
		}
	}
	if served == 0 || served > limit || served+refused != scrapes {
		t.Errorf("%d served and %d refused of %d scrapes with --web.max-requests=%d", served, refused, scrapes, limit)
	}
	h.fake.SetLatency(0)
	if code, body := h.get("/probe?target=staging"); code != http.StatusOK {
		t.Errorf("after the burst: HTTP %d: %s", code, body)
	}
}

// childArgs, when set, makes this test binary run the exporter instead of
// the tests, so that its exit status and its standard error can be seen.
const childArgs = "DCS_EXPORTER_TEST_CHILD_ARGS"

// TestBadConfigExitsWithStatus1 starts the real program with broken
// configurations: each must end it with status 1 and one message naming
// the file, and the line and field where there are any.
func TestBadConfigExitsWithStatus1(t *testing.T) {
	if args := os.Getenv(childArgs); args != "" {
		os.Exit(run(strings.Split(args, "\n"), nil))
	}
	dir := t.TempDir()
	for _, c := range []struct {
		name, config, want string
	}{
		{"unknown field", "targets:\n  - name: a\n    region: cn-north-4\n    credentials: {env: true}\n    regoin: eu-de\n", ":5: targets[0].regoin: unknown field"},
		{"bad duration", "defaults:\n  timeout: 10x\ntargets:\n  - name: a\n    region: cn-north-4\n    credentials: {env: true}\n", ":2: defaults.timeout: "},
		{"bad secret type", "targets:\n  - name: a\n    region: cn-north-4\n    credentials:\n      access_key: AK\n      secret_key: [s3cr3t-value]\n", ":6: targets[0].credentials.secret_key: must be a string"},
		{"yaml syntax", "targets:\n  - name: a\n    region: cn-north-4\n     timeout: 5s\n", ":4: mapping values are not allowed"},
		{"missing file", "", "missing.yml"},
	} {
		t.Run(strings.ReplaceAll(c.name, " ", "_"), func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "_")+".yml")
			if c.config != "" {
				if err := os.WriteFile(path, []byte(c.config), 0o600); err != nil {
					t.Fatal(err)
				}
			} else {
				path = filepath.Join(dir, "missing.yml")
			}
			cmd := exec.Command(os.Args[0], "-test.run=^TestBadConfigExitsWithStatus1$")
			cmd.Env = append(os.Environ(), childArgs+"=--config.file="+path+"\n--web.listen-address=127.0.0.1:0\n--log.level=error")
			var stderr strings.Builder
			cmd.Stderr = &stderr
			err := cmd.Run()
			var exitErr *exec.ExitError
			if !errors.As(err, &exitErr) || exitErr.ExitCode() != 1 {
				t.Fatalf("exit: %v, want status 1; stderr:\n%s", err, stderr.String())
			}
			msg := strings.TrimSpace(stderr.String())
			if !strings.HasPrefix(msg, "dcs_exporter: ") || strings.Count(msg, "\n") > 0 {
				t.Errorf("want one line starting with dcs_exporter:, got:\n%s", msg)
			}
			if !strings.Contains(msg, path) && c.config != "" || !strings.Contains(msg, c.want) {
				t.Errorf("the message does not name %s and %q:\n%s", path, c.want, msg)
			}
			if strings.Contains(msg, "s3cr3t-value") {
				t.Errorf("the message shows the secret: %s", msg)
			}
		})
	}
}
