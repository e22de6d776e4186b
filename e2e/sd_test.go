//go:build e2e

package e2e

// End-to-end test of discovery (/sd) with real parts: Debian's redis-server
// runs two instances on loopback, one with a password; the pinned
// redis_exporter scrapes them in multi-target mode, with that password from
// its --redis.password-file; the pinned Prometheus finds them on the
// exporter's /sd with the README's scrape configuration
// (testdata/discovery/scrape_configs.yml, with loopback addresses put in).
// The fake DCS API lists the two, a third Redis instance whose port is
// closed, and a Memcached instance. Then the fake stops answering until
// the listing goes stale: /sd answers 503, and Prometheus keeps its targets.

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dcs-exporter/dcs_exporter/dcsapi/dcsapitest"
)

const (
	// sdRecipeFile is the README's scrape configuration, run here as
	// written but for its addresses and refresh interval.
	sdRecipeFile = "testdata/discovery/scrape_configs.yml"

	projectSD = "5d5d5d5d5d5d5d5d5d5d5d5d5d5d5d5d"

	// sdMaxStaleness is the exporter's --dcs.max-staleness: how long after
	// its last good listing /sd still serves a target whose listing fails.
	sdMaxStaleness = 3 * time.Second

	// Bounds of the waits. Prometheus' discovery and scrapes run every
	// second here; the whole test normally takes about 15 seconds.
	sdScrapeTimeout = 30 * time.Second
	sdStaleTimeout  = 30 * time.Second
)

func TestE2EDiscoveryForRedisExporter(t *testing.T) {
	prometheusBin := pinnedTool(t, "prometheus")
	promtool := pinnedTool(t, "promtool")
	redisExporterBin := pinnedTool(t, "redis_exporter")
	redisServer, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatalf("Debian's redis-server is needed (apt-get install redis-server): %v", err)
	}
	start := time.Now()
	dir := t.TempDir()
	e := &e2e{t: t, dir: dir, client: newLoopbackClient()}

	// Two Redis servers, one with a password, and a port nobody listens on.
	const password = "e2e-redis-password"
	open := e.startRedis(redisServer, "redis-open", "")
	locked := e.startRedis(redisServer, "redis-locked", password)
	closedAddr := loopback(freePort(t))
	memcachedAddr := loopback(freePort(t)) // listed only; never scraped by the Redis job

	// The fake lists them with the connection fields of the list API.
	fake := dcsapitest.NewServer()
	t.Cleanup(fake.Close)
	fake.AddProject("cn-north-4", projectSD)
	instance := func(id, engine, addr, owner string, passwordRequired bool) dcsapitest.Instance {
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			t.Fatal(err)
		}
		p, err := strconv.Atoi(port)
		if err != nil {
			t.Fatal(err)
		}
		return dcsapitest.Instance{ID: id, Name: "cache-" + id, Engine: engine, EngineVersion: "7.0", Status: "RUNNING",
			SpecCode: "redis.single.xu1.tiny.128", CapacityGB: 0.125, MaxMemoryMB: 128,
			IPs: []string{host}, Port: p, PasswordRequired: passwordRequired,
			Tags: []dcsapitest.Tag{{Key: "owner", Value: owner}, {Key: "env", Value: "e2e"}}}
	}
	listed := []dcsapitest.Instance{
		instance("open", "Redis", open.addr, "team-open", false),
		instance("locked", "Redis", locked.addr, "team-locked", true),
		instance("closed", "Redis", closedAddr, "team-closed", false),
		instance("memcached", "Memcached", memcachedAddr, "team-memcached", false),
	}
	fake.SetInstances(projectSD, listed)

	// The exporter, the built program, lists every second.
	config := filepath.Join(dir, "dcs_exporter.yml")
	writeFile(t, config, fmt.Sprintf(`targets:
  - name: sd
    region: cn-north-4
    project_id: %s
    endpoint: %s
    timeout: 1s
    instances: true
    credentials: {access_key: %s, secret_key: %s}
`, projectSD, fake.URL, dcsapitest.TestAccessKey, dcsapitest.TestSecretKey))
	exporter := e.startExporter("exporter", config, "--dcs.instances-refresh-interval=1s", "--dcs.max-staleness="+sdMaxStaleness.String())

	// redis_exporter in multi-target mode, with the password keyed by the
	// URI the recipe puts in __param_target.
	passwords := filepath.Join(dir, "redis-passwords.json")
	pwJSON, err := json.Marshal(map[string]string{"redis://" + locked.addr: password})
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, passwords, string(pwJSON))
	redisExporter := e.startDaemonReadyAt("redis_exporter", "/health", func(port int) []string {
		return []string{redisExporterBin, "--web.listen-address=" + loopback(port), "--redis.password-file=" + passwords}
	})

	// Prometheus with the README's recipe, its addresses made loopback.
	promConfig := filepath.Join(dir, "prometheus.yml")
	writeFile(t, promConfig, sdPrometheusConfig(t, exporter.host, redisExporter.host, loopback(freePort(t))))
	runTool(t, promtool, "check", "config", promConfig)
	e.prom = e.startDaemon("prometheus", func(port int) []string {
		return []string{prometheusBin,
			"--config.file=" + promConfig,
			"--storage.tsdb.path=" + filepath.Join(dir, "prometheus-data"),
			"--web.listen-address=" + loopback(port),
			"--log.level=info",
			"--scrape.discovery-reload-interval=1s", // see TestE2EDeployAndObserve
		}
	})
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("last lines of the exporter log:\n%s", lastLines(exporter.logText(), 30))
			t.Logf("last lines of the redis_exporter log:\n%s", lastLines(redisExporter.logText(), 30))
		}
	})
	t.Logf("components up after %v: exporter %s, redis_exporter %s, prometheus %s, redis %s and %s (password), closed %s",
		time.Since(start).Round(time.Millisecond), exporter.host, redisExporter.host, e.prom.host, open.addr, locked.addr, closedAddr)

	// redis_up of each Redis instance, with its name and owner tag from
	// relabelling: 1 for the two that run, the password-protected one
	// included, and 0 for the closed port.
	for _, c := range []struct {
		in dcsapitest.Instance
		up string
	}{{listed[0], "1"}, {listed[1], "1"}, {listed[2], "0"}} {
		q := fmt.Sprintf(`redis_up{job="dcs-redis",target="sd",instance_id=%q,name=%q,tag_owner=%q,instance="redis://%s"} == %s`,
			c.in.ID, c.in.Name, c.in.Tags[0].Value, net.JoinHostPort(c.in.IPs[0], strconv.Itoa(c.in.Port)), c.up)
		e.waitQuery(q, sdScrapeTimeout)
	}
	t.Logf("redis_up as expected after %v", time.Since(start).Round(time.Millisecond))
	if r := e.query(`count(redis_up{job="dcs-redis"})`); len(r.values) != 1 || r.values[0] != "3" {
		t.Errorf("redis_up series of the Redis job: %s, want 3", r)
	}
	wantRedis := []string{"cache-closed", "cache-locked", "cache-open"}
	byJob := e.sdTargets()
	if got := byJob["dcs-redis"]; !slices.Equal(got, wantRedis) {
		t.Errorf("the Redis job's targets: %v, want %v (and not the Memcached instance)", got, wantRedis)
	}
	if got := byJob["dcs-memcached"]; !slices.Equal(got, []string{"cache-memcached"}) {
		t.Errorf("the Memcached job's targets: %v, want the Memcached instance alone", got)
	}
	if t.Failed() {
		return
	}

	// The fake stops answering. Once the last good listing is older than
	// --dcs.max-staleness, /sd answers 503, and Prometheus keeps the
	// targets it has.
	failuresBefore := e.promCounter("prometheus_sd_http_failures_total")
	fake.InjectFault("", "", dcsapitest.Fault{Kind: dcsapitest.FaultHang})
	faulted := time.Now()
	deadline := faulted.Add(sdStaleTimeout)
	for {
		code, body := e.getText(exporter.url("/sd?engine=redis"))
		if code == http.StatusServiceUnavailable {
			if !strings.Contains(body, "sd (listed ") {
				t.Errorf("/sd's 503 does not name the stale target: %q", body)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/sd still answers HTTP %d %v after the fake stopped answering: %.300s", code, sdStaleTimeout, body)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if took := time.Since(faulted); took < sdMaxStaleness-2*time.Second {
		t.Errorf("/sd answered 503 %v after the fake stopped, before the listing could be %v old", took, sdMaxStaleness)
	}
	t.Logf("/sd answers 503 %v after the fake stopped answering", time.Since(faulted).Round(time.Millisecond))
	// Prometheus asked /sd again and failed: twice for each of the two jobs,
	// to be sure its discovery has run on the 503 answers.
	for deadline := time.Now().Add(sdStaleTimeout); e.promCounter("prometheus_sd_http_failures_total") < failuresBefore+4; {
		if time.Now().After(deadline) {
			t.Fatalf("Prometheus' http_sd failures did not grow by 4 within %v after /sd answered 503", sdStaleTimeout)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if got := e.sdTargets()["dcs-redis"]; !slices.Equal(got, wantRedis) {
		t.Errorf("after /sd answered 503, the Redis job's targets are %v, want %v kept", got, wantRedis)
	}
	if code, _ := e.getText(exporter.url("/sd?engine=redis")); code != http.StatusServiceUnavailable {
		t.Errorf("/sd answers HTTP %d at the end, want 503 still", code)
	}
	t.Logf("end-to-end discovery test done in %v", time.Since(start).Round(time.Millisecond))
}

// sdPrometheusConfig is the README's recipe with the exporter's, the
// redis_exporter's and a memcached_exporter's loopback addresses in place of
// the example host names, and discovery every second; each of these must
// be found, so that the recipe cannot drift away from what is tested.
func sdPrometheusConfig(t *testing.T, exporter, redisExporter, memcachedExporter string) string {
	t.Helper()
	recipe, err := os.ReadFile(sdRecipeFile)
	if err != nil {
		t.Fatal(err)
	}
	text := string(recipe)
	for _, r := range []struct{ old, new string }{
		{"http://dcs-exporter:19867/", "http://" + exporter + "/"},
		{"redis-exporter:9121", redisExporter},
		{"memcached-exporter:9150", memcachedExporter},
		{"refresh_interval: 1m", "refresh_interval: 1s"},
	} {
		if !strings.Contains(text, r.old) {
			t.Fatalf("%s no longer has %q; adapt the test to the recipe", sdRecipeFile, r.old)
		}
		text = strings.ReplaceAll(text, r.old, r.new)
	}
	if m := regexp.MustCompile(`[a-z]+-exporter:\d+`).FindString(text); m != "" {
		t.Fatalf("%s has an address the test does not replace: %s", sdRecipeFile, m)
	}
	return "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n" + text
}

// sdTargets returns the names (the name label) of Prometheus' active
// targets by job, sorted.
func (e *e2e) sdTargets() map[string][]string {
	e.t.Helper()
	var ans struct {
		Data struct {
			ActiveTargets []promTarget `json:"activeTargets"`
		} `json:"data"`
	}
	e.getJSON(e.prom.url("/api/v1/targets?state=active"), &ans)
	out := map[string][]string{}
	for _, tg := range ans.Data.ActiveTargets {
		out[tg.Labels["job"]] = append(out[tg.Labels["job"]], tg.Labels["name"])
	}
	for _, names := range out {
		slices.Sort(names)
	}
	return out
}

// promCounter sums the samples of a counter on Prometheus' own /metrics.
func (e *e2e) promCounter(name string) float64 {
	e.t.Helper()
	code, body := e.getText(e.prom.url("/metrics"))
	if code != http.StatusOK {
		e.t.Fatalf("Prometheus /metrics: HTTP %d", code)
	}
	var sum float64
	for _, line := range strings.Split(body, "\n") {
		if rest, ok := strings.CutPrefix(line, name); ok && (strings.HasPrefix(rest, " ") || strings.HasPrefix(rest, "{")) {
			v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
			if err != nil {
				e.t.Fatalf("Prometheus /metrics: %q: %v", line, err)
			}
			sum += v
		}
	}
	return sum
}

// getText returns the status and body of a GET.
func (e *e2e) getText(rawURL string) (int, string) {
	e.t.Helper()
	resp, err := e.client.Get(rawURL)
	if err != nil {
		e.t.Fatalf("GET %s: %v", rawURL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatalf("GET %s: %v", rawURL, err)
	}
	return resp.StatusCode, string(body)
}

// redisProcess is a redis-server the test started, on a loopback port.
type redisProcess struct {
	addr string
	cmd  *exec.Cmd
	done chan struct{}
}

// startRedis starts redis-server on a free loopback port, with no
// persistence and, when password is set, requirepass; it is stopped by its
// PID at the end of the test. Should another process take the port first,
// another is tried.
func (e *e2e) startRedis(bin, name, password string) *redisProcess {
	t := e.t
	t.Helper()
	for attempt := 1; attempt <= 3; attempt++ {
		port := freePort(t)
		logPath := filepath.Join(e.dir, fmt.Sprintf("%s-%d.log", name, attempt))
		args := []string{"--bind", "127.0.0.1", "--port", strconv.Itoa(port), "--save", "", "--appendonly", "no",
			"--dir", e.dir, "--daemonize", "no", "--logfile", logPath}
		if password != "" {
			args = append(args, "--requirepass", password)
		}
		r := &redisProcess{addr: loopback(port), cmd: exec.Command(bin, args...), done: make(chan struct{})}
		if err := r.cmd.Start(); err != nil {
			t.Fatalf("starting %s: %v", name, err)
		}
		go func() { _ = r.cmd.Wait(); close(r.done) }()
		t.Cleanup(r.stop)
		for deadline := time.Now().Add(e2eStartTimeout); ; time.Sleep(50 * time.Millisecond) {
			select {
			case <-r.done:
				log, _ := os.ReadFile(logPath)
				if strings.Contains(string(log), "Address already in use") {
					t.Logf("%s: port %d was taken, trying another", name, port)
					break
				}
				t.Fatalf("%s exited at start (%v):\n%s", name, r.cmd.ProcessState, lastLines(string(log), 20))
			default:
			}
			if isClosed(r.done) {
				break // the port was taken: the next attempt
			}
			if c, err := net.DialTimeout("tcp", r.addr, time.Second); err == nil {
				c.Close()
				return r
			}
			if time.Now().After(deadline) {
				log, _ := os.ReadFile(logPath)
				t.Fatalf("%s not listening on %s within %v:\n%s", name, r.addr, e2eStartTimeout, lastLines(string(log), 20))
			}
		}
	}
	t.Fatalf("%s: no free port in 3 attempts", name)
	return nil
}

func isClosed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// stop ends the server by its PID: SIGTERM, then SIGKILL.
func (r *redisProcess) stop() {
	if isClosed(r.done) {
		return
	}
	_ = r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-r.done:
	case <-time.After(5 * time.Second):
		_ = r.cmd.Process.Kill()
		<-r.done
	}
}
