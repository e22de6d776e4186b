package main

import (
	"bytes"
	"fmt"
	"math"
	"strings"
	"time"
)

// figure3 is scale in targets: one on-scrape /metrics of many targets whose
// API answers after 100 ms, at most 64 calls at once, and the exporter's
// memory.
func (s *suite) figure3() error {
	const latency, concurrency = 100 * time.Millisecond, 64
	sizes := []int{10, 100, 1000, 5000}
	peaks := map[int]float64{}
	for _, n := range sizes {
		took, rss, peak, err := s.onScrapeOnce(n, latency, concurrency)
		if err != nil {
			return err
		}
		peaks[n] = peak
		floor := math.Ceil(float64(n)/concurrency) * latency.Seconds()
		target, pass := "-", passNone
		if n == 1000 {
			target, pass = "<= 2.5 s", passIf(took <= 2.5)
		}
		s.add(row{figure: "3", name: fmt.Sprintf("on-scrape /metrics, %d targets, API 100 ms, 64 calls at once: time (baseline: the floor)", n),
			measured: fmtSeconds(took), baseline: fmtSeconds(floor), ratio: fmtRatio(took, floor), target: target, pass: pass})
		target, pass = "-", passNone
		if n == 1000 {
			target, pass = "<= 64 MiB", passIf(peak <= 64<<20)
		}
		s.add(row{figure: "3", name: fmt.Sprintf("on-scrape, %d targets: peak RSS (RSS after the scrape)", n),
			measured: fmt.Sprintf("%s (%s)", fmtMiB(peak), fmtMiB(rss)), baseline: "-", ratio: "-", target: target, pass: pass})
	}
	perTarget := (peaks[5000] - peaks[1000]) / 4000
	s.add(row{figure: "3", name: "memory per target: peak RSS growth from 1,000 to 5,000 targets / 4,000",
		measured: fmt.Sprintf("%.1f KiB", perTarget/1024), baseline: "-", ratio: "-", target: "< 16 KiB", pass: passIf(perTarget < 16<<10)})
	return nil
}

// onScrapeOnce starts an on-scrape exporter of n targets and times its
// first /metrics answer, gzip as Prometheus asks; it returns seconds and the
// resident set after the scrape, now and at its peak.
func (s *suite) onScrapeOnce(n int, latency time.Duration, concurrency int) (took, rss, peak float64, err error) {
	fake := newFleet(n)
	defer fake.Close()
	fake.SetLatency(latency)
	cfg, err := s.writeConfig(fmt.Sprintf("fig3-%d", n), fake.URL, n, targetOptions{})
	if err != nil {
		return 0, 0, 0, err
	}
	exp, err := s.startExporter(fmt.Sprintf("fig3-exporter-%d", n), cfg, -1, fmt.Sprintf("--dcs.max-concurrency=%d", concurrency))
	if err != nil {
		return 0, 0, 0, err
	}
	defer exp.stop()
	if _, err := exp.waitReady(30*time.Second, 5*time.Millisecond); err != nil {
		return 0, 0, 0, err
	}
	start := time.Now()
	body, _, err := exp.get("/metrics", true)
	if err != nil {
		return 0, 0, 0, err
	}
	took = time.Since(start).Seconds()
	// Every target must have answered: a scrape that gave up on some
	// would look fast.
	if up := bytes.Count(body, []byte("\ndcs_up{")); up != n {
		return 0, 0, 0, fmt.Errorf("%d targets: %d dcs_up series; see %s", n, up, exp.logFile.Name())
	}
	for _, line := range strings.Split(string(body), "\n") {
		if strings.HasPrefix(line, "dcs_up{") && !strings.HasSuffix(line, " 1") {
			return 0, 0, 0, fmt.Errorf("%d targets: %s", n, line)
		}
	}
	rss, peak, err = exp.memory()
	return took, rss, peak, err
}
