package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// figure1 is serving from cache at scale: cached /metrics of 1,000 targets
// (and of 4) against a static server of the same bytes.
func (s *suite) figure1() error {
	for _, n := range []int{1000, 4} {
		if err := s.cachedThroughput(n); err != nil {
			return err
		}
	}
	return nil
}

func (s *suite) cachedThroughput(n int) error {
	fake := newFleet(n)
	defer fake.Close()
	cfg, err := s.writeConfig(fmt.Sprintf("fig1-%d", n), fake.URL, n, targetOptions{})
	if err != nil {
		return err
	}
	exp, err := s.startExporter(fmt.Sprintf("fig1-exporter-%d", n), cfg, serverCPU, "--dcs.refresh-interval=1h", "--dcs.max-concurrency=16")
	if err != nil {
		return err
	}
	defer exp.stop()
	if _, err := exp.waitReady(time.Minute, 10*time.Millisecond); err != nil {
		return err
	}
	// Ready means the first refresh of the counts is in; the first round of
	// quota reads (a few targets at a time) goes on after it. The figure is
	// about serving an answer that stays put, so it waits for that round.
	if err := exp.waitSeries("\ndcs_quota_up{", n, 2*time.Minute); err != nil {
		return err
	}
	what := fmt.Sprintf("cached /metrics, %d targets", n)
	return s.compareWithStatic("1", what, exp, n == 1000)
}

// compareWithStatic measures the exporter's /metrics, plain and gzip, next
// to a minimal net/http server that serves a copy of its answers, taking
// turns so that both see the same machine. withTarget applies the 0.8
// target to the plain throughput.
func (s *suite) compareWithStatic(fig, what string, exp *proc, withTarget bool) error {
	plain, _, err := exp.get("/metrics", false)
	if err != nil {
		return err
	}
	gzRaw, err := getRaw(exp.base+"/metrics", true)
	if err != nil {
		return err
	}
	unpacked, _, err := exp.get("/metrics", true)
	if err != nil {
		return err
	}
	// The two answers differ only in the exporter's own metrics, which
	// change between scrapes; check and count both.
	plainCheck, plainOK := promtoolCheck(plain)
	gzCheck, gzOK := promtoolCheck(unpacked)
	if seriesCount(unpacked) != seriesCount(plain) {
		gzOK, gzCheck = false, fmt.Sprintf("gzip answer has %d series, plain %d", seriesCount(unpacked), seriesCount(plain))
	}
	base := filepath.Join(s.out, "answer-"+fig+"-"+exp.name)
	if err := os.WriteFile(base+".prom", plain, 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(base+".prom.gz", gzRaw, 0o644); err != nil {
		return err
	}
	check := plainCheck
	if plainOK && !gzOK {
		check = gzCheck
	}
	// A second opinion on the spliced gzip stream: curl unpacks with zlib.
	curlOK := true
	if text, err := curlCheck(exp.base + "/metrics"); err != nil {
		check, curlOK = err.Error(), false
	} else if text != "" {
		if seriesCount([]byte(text)) != seriesCount(plain) {
			check, curlOK = fmt.Sprintf("curl --compressed got %d series, plain %d", seriesCount([]byte(text)), seriesCount(plain)), false
		} else if plainOK && gzOK {
			check += ", curl --compressed reads the gzip"
		}
	}
	s.add(row{figure: fig, name: what + ": answer (plain and gzip)",
		measured: fmt.Sprintf("%d series, %s, gzip %s, %s", seriesCount(plain), fmtSize(len(plain)), fmtSize(len(gzRaw)), check),
		baseline: "-", ratio: "-", target: "valid text format", pass: passIf(plainOK && gzOK && curlOK)})

	addr, err := freePort()
	if err != nil {
		return err
	}
	static, err := s.startProc("static-"+exp.name, pinned(serverCPU, s.self, "static", "-listen", addr, "-plain", base+".prom", "-gzip", base+".prom.gz"), addr)
	if err != nil {
		return err
	}
	defer static.stop()
	if _, err := static.waitReady(10*time.Second, 10*time.Millisecond); err != nil {
		return err
	}

	// Short windows, many rounds, exporter and baseline back to back and
	// in alternating order: other load on the machine then falls on both
	// alike, and the ratio is the median of the rounds' ratios.
	type tally struct {
		requests int64
		seconds  float64
		cpu      time.Duration
		ratios   []float64 // exporter rate / baseline rate, per round
	}
	var got [2][2]tally // [plain, gzip][exporter, static]
	rounds, window := 15, time.Second
	if s.quick {
		rounds, window = 2, 500*time.Millisecond
	}
	for round := range rounds {
		for j, gz := range []bool{false, true} {
			var rate [2]float64
			order := []int{0, 1}
			if round%2 == 1 {
				order = []int{1, 0}
			}
			for _, i := range order {
				p := []*proc{exp, static}[i]
				before, err := p.cpuTime()
				if err != nil {
					return err
				}
				r, err := s.load(p.base+"/metrics", gz, window)
				if err != nil {
					return fmt.Errorf("%s: %w", p.name, err)
				}
				after, err := p.cpuTime()
				if err != nil {
					return err
				}
				t := &got[j][i]
				t.requests += r.Requests
				t.seconds += r.Seconds
				t.cpu += after - before
				rate[i] = r.rate()
			}
			got[j][0].ratios = append(got[j][0].ratios, rate[0]/rate[1])
		}
	}
	for j, enc := range []string{"plain", "gzip"} {
		e, b := got[j][0], got[j][1]
		eRate, bRate := float64(e.requests)/e.seconds, float64(b.requests)/b.seconds
		ratio := median(e.ratios)
		target, pass := "-", passNone
		if withTarget && enc == "plain" {
			target, pass = ">= 0.80", passIf(ratio >= 0.8)
		}
		s.add(row{figure: fig, name: what + ": " + enc + " throughput", measured: fmtRate(eRate), baseline: fmtRate(bRate),
			ratio: fmt.Sprintf("%.2f", ratio), target: target, pass: pass})
		eCPU, bCPU := e.cpu.Seconds()/float64(e.requests), b.cpu.Seconds()/float64(b.requests)
		s.add(row{figure: fig, name: what + ": " + enc + " CPU per scrape", measured: fmtMicros(eCPU), baseline: fmtMicros(bCPU),
			ratio: fmtRatio(eCPU, bCPU), target: "-", pass: passNone})
	}
	return nil
}

// load runs the load generator on its own CPU and returns what it measured.
func (s *suite) load(url string, gzipped bool, d time.Duration) (loadResult, error) {
	args := []string{"load", "-url", url, "-c", "4", "-d", d.String()}
	if gzipped {
		args = append(args, "-gzip")
	}
	cmd := pinned(clientCPU, s.self, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return loadResult{}, fmt.Errorf("load generator: %w: %s", err, stderr.String())
	}
	var r loadResult
	if err := json.Unmarshal(out, &r); err != nil {
		return loadResult{}, fmt.Errorf("load generator said %q: %w", out, err)
	}
	if r.Requests == 0 {
		return r, fmt.Errorf("no request answered in %s", d)
	}
	return r, nil
}

// getRaw returns an answer as it came over the wire.
func getRaw(url string, gzipped bool) ([]byte, error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	if gzipped {
		req.Header.Set("Accept-Encoding", "gzip")
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: HTTP %d", url, resp.StatusCode)
	}
	return io.ReadAll(resp.Body)
}

// curlCheck reads a gzip answer the way curl --compressed does, through
// zlib, as a second opinion on the spliced stream. It reports "" when curl
// is not installed.
func curlCheck(url string) (string, error) {
	curl, err := exec.LookPath("curl")
	if err != nil {
		return "", nil
	}
	out, err := exec.Command(curl, "--silent", "--show-error", "--fail", "--compressed", url).Output()
	if err != nil {
		return "", fmt.Errorf("curl --compressed: %w", err)
	}
	return string(out), nil
}

// waitSeries polls /metrics until it has n lines that start with prefix
// (after a newline).
func (p *proc) waitSeries(prefix string, n int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		body, _, err := p.get("/metrics", false)
		if err == nil && bytes.Count(body, []byte(prefix)) >= n {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("fewer than %d series %q within %v; see %s", n, prefix[1:], timeout, p.logFile.Name())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
