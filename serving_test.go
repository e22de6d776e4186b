package main

import (
	"bufio"
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
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/common/promslog"

	"github.com/dcs-exporter/dcs_exporter/dcsapi/dcsapitest"
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
	for deadline := time.Now().Add(patience); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
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
	client := &http.Client{Transport: transport, Timeout: patience}
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
	strict := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{MinVersion: tls.VersionTLS12}}, Timeout: patience}
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
		if !waitUntil(func() bool { return reloadGauge() == step.want }) {
			t.Fatalf("after SIGHUP the reload gauge is %s, want %s", reloadGauge(), step.want)
		}
		if _, _, body := get("/probe?target=prod", webUser, webPassword); !strings.Contains(body, `dcs_up{target="prod"`) {
			t.Errorf("the configuration stopped serving after a reload:\n%.300s", body)
		}
	}
}

// TestServerTimeouts runs the whole program with its server timeouts
// shortened and sends it real slow clients over raw connections: one that
// trickles its headers, one that never finishes its body, one that never
// reads its answers and one that idles. Each must be cut off by its own
// timeout: not before it (timers never fire early, and each client's clock
// starts before the server's), and well before the next longer one or the
// end of the test.
func TestServerTimeouts(t *testing.T) {
	if l := serverLimits; l.readHeader != 10*time.Second || l.read != 30*time.Second || l.write != 2*time.Minute || l.idle != 2*time.Minute {
		t.Errorf("server limits %+v, want those newServer documents: 10s, 30s, 2m, 2m", l)
	}
	srv := newServer(http.NotFoundHandler(), promslog.NewNopLogger())
	if srv.ReadHeaderTimeout != serverLimits.readHeader || srv.ReadTimeout != serverLimits.read ||
		srv.WriteTimeout != serverLimits.write || srv.IdleTimeout != serverLimits.idle {
		t.Errorf("newServer does not set every limit: %v %v %v %v", srv.ReadHeaderTimeout, srv.ReadTimeout, srv.WriteTimeout, srv.IdleTimeout)
	}
	if srv.MaxHeaderBytes <= 0 || srv.MaxHeaderBytes > 1<<20 {
		t.Errorf("MaxHeaderBytes = %d", srv.MaxHeaderBytes)
	}

	// Shortened. Each bound leaves 3 s or more for a busy machine, and
	// stops short of the longer timeout the server would fall back on were
	// one of them not set (the read timeout, for headers and idling).
	saved := serverLimits
	t.Cleanup(func() { serverLimits = saved }) // after the program has stopped
	serverLimits.readHeader = time.Second
	serverLimits.idle = 2 * time.Second
	serverLimits.write = 1500 * time.Millisecond
	serverLimits.read = 5 * time.Second
	dir := t.TempDir()
	fake := newFaultFake()
	t.Cleanup(fake.Close)
	configFile := filepath.Join(dir, "dcs_exporter.yml")
	if err := os.WriteFile(configFile, []byte(faultConfig(fake.URL, fake.URL, 5*time.Second)), 0o600); err != nil {
		t.Fatal(err)
	}
	// Cached mode, so that the answers cost little to render.
	addr := startRun(t, "--config.file="+configFile, "--dcs.refresh-interval=1h", "--log.level=error")

	type slowClient struct {
		name    string
		timeout time.Duration
		upper   time.Duration // the connection must be closed sooner than this
		run     func(addr string) (closedAfter time.Duration, answer string, err error)
	}
	clients := []slowClient{
		{"trickled headers", serverLimits.readHeader, serverLimits.read - time.Second, trickleHeaders},
		{"unfinished body", serverLimits.read, serverLimits.read + 3*time.Second, unfinishedBody},
		// The server stops reading requests once its answers no longer
		// fit the socket buffers: a few hundred milliseconds after the
		// start, seconds on a busy machine.
		{"never reads", serverLimits.write, serverLimits.write + 5*time.Second, neverReads},
		{"idle keep-alive", serverLimits.idle, serverLimits.read, idleKeepAlive},
	}
	type outcome struct {
		closedAfter time.Duration
		answer      string
		err         error
	}
	outcomes := make([]chan outcome, len(clients))
	for i, c := range clients {
		outcomes[i] = make(chan outcome, 1)
		go func() {
			var o outcome
			o.closedAfter, o.answer, o.err = c.run(addr)
			outcomes[i] <- o
		}()
	}
	for i, c := range clients {
		o := <-outcomes[i]
		switch {
		case o.err != nil:
			t.Errorf("%s: %v", c.name, o.err)
		case o.closedAfter < c.timeout || o.closedAfter >= c.upper:
			t.Errorf("%s: closed after %v, want between its timeout %v and %v", c.name, o.closedAfter.Round(time.Millisecond), c.timeout, c.upper)
		default:
			t.Logf("%s: closed after %v (timeout %v)", c.name, o.closedAfter.Round(time.Millisecond), c.timeout)
		}
		if c.name == "trickled headers" && o.answer != "" {
			t.Errorf("%s: answered %.100q", c.name, o.answer)
		}
	}
}

// trickleByte sends one byte every 100 ms until stop is closed or the
// connection fails, whose time it then sends on failed.
func trickleByte(c net.Conn, stop <-chan struct{}, failed chan<- time.Time) {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		if _, err := c.Write([]byte("x")); err != nil {
			failed <- time.Now()
			return
		}
	}
}

// readUntilClosed reads c until the server closes it and returns what it
// read; it gives up after patience.
func readUntilClosed(c net.Conn) (string, error) {
	if err := c.SetReadDeadline(time.Now().Add(patience)); err != nil {
		return "", err
	}
	var got strings.Builder
	_, err := io.Copy(&got, c)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return got.String(), fmt.Errorf("still open after %v", patience)
	}
	return got.String(), nil // a reset is a close too
}

// trickleHeaders starts a request and then sends its headers a byte at a
// time, never ending them.
func trickleHeaders(addr string) (time.Duration, string, error) {
	start := time.Now()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return 0, "", err
	}
	defer c.Close()
	if _, err := io.WriteString(c, "GET /-/healthy HTTP/1.1\r\nHost: dcs-exporter\r\nX-Slow: "); err != nil {
		return 0, "", err
	}
	stop := make(chan struct{})
	defer close(stop)
	go trickleByte(c, stop, make(chan time.Time, 1))
	answer, err := readUntilClosed(c)
	return time.Since(start), answer, err
}

// unfinishedBody sends whole headers announcing a body that it then sends a
// byte at a time, never finishing it.
func unfinishedBody(addr string) (time.Duration, string, error) {
	start := time.Now()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return 0, "", err
	}
	defer c.Close()
	if _, err := io.WriteString(c, "POST /-/healthy HTTP/1.1\r\nHost: dcs-exporter\r\nContent-Length: 100000\r\n\r\n"); err != nil {
		return 0, "", err
	}
	stop := make(chan struct{})
	defer close(stop)
	go trickleByte(c, stop, make(chan time.Time, 1))
	answer, err := readUntilClosed(c)
	return time.Since(start), answer, err
}

// neverReads asks for far more answers at once than the socket buffers
// between the two ends hold, and reads none of them. It keeps sending a
// byte now and then, so that it learns when the server closes the
// connection: the next write fails.
func neverReads(addr string) (time.Duration, string, error) {
	// A small receive buffer and segment size keep the server's send
	// buffer small too, so that it fills after a few answers.
	dialer := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
			if serr == nil {
				serr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_MAXSEG, 536)
			}
		})
		if err != nil {
			return err
		}
		return serr
	}}
	start := time.Now()
	c, err := dialer.Dial("tcp", addr)
	if err != nil {
		return 0, "", err
	}
	defer c.Close()
	failed := make(chan time.Time, 1)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		// Answers of over 10 kB each: some 20 MB in all.
		requests := strings.Repeat("GET /metrics HTTP/1.1\r\nHost: dcs-exporter\r\n\r\n", 2000)
		if _, err := io.WriteString(c, requests); err != nil {
			failed <- time.Now()
			return
		}
		trickleByte(c, stop, failed)
	}()
	select {
	case at := <-failed:
		return at.Sub(start), "", nil
	case <-time.After(patience):
		return 0, "", fmt.Errorf("still open after %v", patience)
	}
}

// idleKeepAlive reads one answer whole and then keeps the connection open
// without asking for another.
func idleKeepAlive(addr string) (time.Duration, string, error) {
	start := time.Now()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return 0, "", err
	}
	defer c.Close()
	if _, err := io.WriteString(c, "GET /-/healthy HTTP/1.1\r\nHost: dcs-exporter\r\n\r\n"); err != nil {
		return 0, "", err
	}
	if err := c.SetReadDeadline(time.Now().Add(patience)); err != nil {
		return 0, "", err
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return 0, "", err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return 0, "", fmt.Errorf("reading the answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK || resp.Close {
		return 0, "", fmt.Errorf("the answer: HTTP %d, close %v", resp.StatusCode, resp.Close)
	}
	rest, err := io.ReadAll(br)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return 0, "", fmt.Errorf("still open after %v", patience)
	}
	if len(rest) > 0 {
		return 0, "", fmt.Errorf("unasked answer %.100q", rest)
	}
	return time.Since(start), string(body), nil
}

// apiGate stands between the exporter and the fake API and holds every
// status call until it is opened, so that a test can look at the exporter
// while its queries are in flight without guessing how long they take.
type apiGate struct {
	URL      string
	srv      *httptest.Server
	proxy    *httputil.ReverseProxy
	held     chan string // the project of each status call as it is held
	opened   chan struct{}
	openOnce sync.Once
}

// newAPIGate starts a gate in front of fake; the test's end opens and
// closes it.
func newAPIGate(t *testing.T, fake *dcsapitest.Server) *apiGate {
	t.Helper()
	api, err := url.Parse(fake.URL)
	if err != nil {
		t.Fatal(err)
	}
	transport := &http.Transport{}
	g := &apiGate{held: make(chan string, 1024), opened: make(chan struct{})}
	g.proxy = &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(api)
			r.Out.Host = r.In.Host // the Host header is signed
		},
		Transport: transport,
		ErrorLog:  log.New(io.Discard, "", 0), // clients give up on purpose
	}
	g.srv = httptest.NewServer(http.HandlerFunc(g.serve))
	g.URL = g.srv.URL
	t.Cleanup(func() {
		g.open()
		g.srv.Close()
		transport.CloseIdleConnections()
	})
	return g
}

func (g *apiGate) serve(w http.ResponseWriter, r *http.Request) {
	// DCS status paths are /v2/{project}/instances/status and
	// /v1.0/{project}/instances/status (dcsapitest's routes).
	if parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/"); len(parts) == 4 && parts[2] == "instances" && parts[3] == "status" {
		select {
		case g.held <- parts[1]:
		default:
		}
		select {
		case <-g.opened:
		case <-r.Context().Done():
			return
		}
	}
	g.proxy.ServeHTTP(w, r)
}

// open lets every held and future call through.
func (g *apiGate) open() { g.openOnce.Do(func() { close(g.opened) }) }

// waitHeld waits until a status call of project is held.
func (g *apiGate) waitHeld(t *testing.T, project string) {
	t.Helper()
	timeout := time.After(patience)
	for {
		select {
		case p := <-g.held:
			if p == project {
				return
			}
		case <-timeout:
			t.Fatalf("no status call of project %s reached the API within %v", project, patience)
		}
	}
}

// startGatedEnv starts the exporter of a faultEnv with the gate between it
// and fake. Its targets' timeouts outlast every wait of a test, so that no
// held query ends before the test opens the gate.
func startGatedEnv(t *testing.T, fake *dcsapitest.Server, gate *apiGate, wrap func(http.Handler) http.Handler, args ...string) *faultEnv {
	t.Helper()
	timeout := patience + 10*time.Second
	e, err := startEnv(t.TempDir(), fake, envRoute{api: gate.URL, faulty: gate.URL, timeout: timeout, faultyTimeout: timeout, wrap: wrap}, args...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		gate.open() // held scrapes would keep the exporter's server from closing
		e.close()
	})
	return e
}

// TestMaxRequestsBoundsParallelScrapes holds two scrapes in flight, as many
// as --web.max-requests allows, and sends more: each of those must be
// refused with a 503 while the two are still held, that is without
// waiting for a slot. Once the two are let through they are served, and
// the slots come back.
func TestMaxRequestsBoundsParallelScrapes(t *testing.T) {
	fake := newFaultFake()
	gate := newAPIGate(t, fake)
	e := startGatedEnv(t, fake, gate, nil, "--web.max-requests=2")
	transport := &http.Transport{}
	defer transport.CloseIdleConnections()
	client := &http.Client{Transport: transport, Timeout: patience}

	held := make(chan scrapeResult, 2)
	for _, p := range []struct{ target, project string }{{"staging", projectStaging}, {"faulty", projectFaulty}} {
		go func() { held <- scrapeOnce(client, e.srv.URL, "/probe?target="+p.target, 0) }()
		gate.waitHeld(t, p.project)
	}
	const surplus = 6
	refused := make(chan scrapeResult, surplus)
	for i := range surplus {
		path := []string{"/metrics", "/probe?target=prod", "/probe?target=staging"}[i%3]
		go func() { refused <- scrapeOnce(client, e.srv.URL, path, 0) }()
	}
	for range surplus {
		a := <-refused // a scrape that waited for a slot would wait for the gate, and time out
		if a.err != nil || a.code != http.StatusServiceUnavailable || !strings.Contains(a.body, "too many scrapes at once (limit 2)") {
			t.Errorf("%s with both slots taken: HTTP %d, %v: %.200s", a.path, a.code, a.err, a.body)
		}
	}
	gate.open()
	for range 2 {
		a := <-held
		if a.err != nil || a.code != http.StatusOK || upOf(a.body, a.path) != "1" {
			t.Errorf("%s once let through: HTTP %d, %v: %.300s", a.path, a.code, a.err, a.body)
		}
	}
	for range 3 {
		if a := scrapeOnce(client, e.srv.URL, "/metrics", 0); a.err != nil || a.code != http.StatusOK {
			t.Errorf("after the burst: HTTP %d, %v: %.200s", a.code, a.err, a.body)
		}
	}
}

// upOf returns the value of dcs_up of the target that path probes.
func upOf(body, path string) string {
	target := strings.TrimPrefix(path, "/probe?target=")
	m := regexp.MustCompile(`(?m)^dcs_up\{target="` + regexp.QuoteMeta(target) + `"[^}]*\} (\S+)$`).FindStringSubmatch(body)
	if m == nil {
		return "absent"
	}
	return m[1]
}

// TestUnlimitedScrapes sends more scrapes of one target at once than the
// default --web.max-requests of 40, with the limit off: all of them reach
// the handler while the target's query is held, which no limit of 40 would
// allow, and all are served once it is let through.
func TestUnlimitedScrapes(t *testing.T) {
	const scrapes = 50
	entered := make(chan struct{}, scrapes)
	countProbes := func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/probe" {
				entered <- struct{}{}
			}
			h.ServeHTTP(w, r)
		})
	}
	fake := newFaultFake()
	gate := newAPIGate(t, fake)
	e := startGatedEnv(t, fake, gate, countProbes, "--web.max-requests=0")
	transport := &http.Transport{MaxIdleConnsPerHost: scrapes}
	defer transport.CloseIdleConnections()
	client := &http.Client{Transport: transport, Timeout: patience}

	results := make(chan scrapeResult, scrapes)
	for range scrapes {
		go func() { results <- scrapeOnce(client, e.srv.URL, "/probe?target=staging", 0) }()
	}
	gate.waitHeld(t, projectStaging)
	timeout := time.After(patience)
	for i := range scrapes {
		select {
		case <-entered:
		case <-timeout:
			t.Fatalf("%d of %d scrapes reached the handler", i, scrapes)
		}
	}
	// None can have left: they wait for the held query, or for a
	// second one should a late scrape start it after the gate opens.
	gate.open()
	for range scrapes {
		a := <-results
		if a.err != nil || a.code != http.StatusOK || upOf(a.body, a.path) != "1" {
			t.Errorf("HTTP %d, %v: %.300s", a.code, a.err, a.body)
		}
	}
}

// TestConcurrentScrapesCostOneCall holds a target's query for as long as
// 50 scrapes of it take to arrive and give up at their deadline: every one
// of them must have joined that query, so that it stays the only call.
func TestConcurrentScrapesCostOneCall(t *testing.T) {
	const scrapes = 50
	fake := newFaultFake()
	gate := newAPIGate(t, fake)
	e := startGatedEnv(t, fake, gate, nil, "--web.max-requests=0")
	transport := &http.Transport{MaxIdleConnsPerHost: scrapes}
	defer transport.CloseIdleConnections()
	client := &http.Client{Transport: transport, Timeout: patience}

	results := make(chan scrapeResult, scrapes)
	for range scrapes {
		// A deadline far below the targets' timeout: the query is still
		// held when the last scrape gives up.
		go func() { results <- scrapeOnce(client, e.srv.URL, "/probe?target=staging", 2*time.Second) }()
	}
	gate.waitHeld(t, projectStaging)
	for range scrapes {
		a := <-results
		if a.err != nil || a.code != http.StatusOK || upOf(a.body, a.path) != "0" {
			t.Errorf("a scrape past its deadline: HTTP %d, %v: %.300s", a.code, a.err, a.body)
		}
	}
	if n := len(gate.held); n != 0 {
		t.Errorf("%d concurrent scrapes made %d API calls, want 1", scrapes, 1+n)
	}
	// The held answer is then served late, to the next scrape.
	gate.open()
	var last scrapeResult
	if !waitUntil(func() bool {
		last = scrapeOnce(client, e.srv.URL, "/probe?target=staging", 2*time.Second)
		return upOf(last.body, last.path) == "1"
	}) {
		t.Errorf("the held answer was never served: %.300s", last.body)
	}
}

// TestReadinessWaitsForTheFirstRefresh holds the first refresh of a cached
// exporter: /-/ready must say 503 while it is held, and 200 once it is
// done; /-/healthy says 200 throughout.
func TestReadinessWaitsForTheFirstRefresh(t *testing.T) {
	fake := newFaultFake()
	gate := newAPIGate(t, fake)
	e := startGatedEnv(t, fake, gate, nil, "--dcs.refresh-interval=1h")
	client := &http.Client{Timeout: patience}
	gate.waitHeld(t, projectStaging)
	if a := scrapeOnce(client, e.srv.URL, "/-/ready", 0); a.err != nil || a.code != http.StatusServiceUnavailable || !strings.Contains(a.body, "first refresh") {
		t.Errorf("/-/ready during the first refresh: HTTP %d, %v: %s", a.code, a.err, a.body)
	}
	if a := scrapeOnce(client, e.srv.URL, "/-/healthy", 0); a.err != nil || a.code != http.StatusOK {
		t.Errorf("/-/healthy during the first refresh: HTTP %d, %v", a.code, a.err)
	}
	gate.open()
	var last scrapeResult
	if !waitUntil(func() bool { last = scrapeOnce(client, e.srv.URL, "/-/ready", 0); return last.code == http.StatusOK }) {
		t.Fatalf("/-/ready after the first refresh: HTTP %d, %v: %s", last.code, last.err, last.body)
	}
	if a := scrapeOnce(client, e.srv.URL, "/probe?target=staging", 0); upOf(a.body, a.path) != "1" {
		t.Errorf("ready, but the first refresh is not served: %.300s", a.body)
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
