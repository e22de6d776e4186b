package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"sort"
	"time"
)

// sdLatency is figure 4's /sd rows: the exporter, with its listing of
// 20,000 instances in place, is asked for /sd one request after the other,
// as Prometheus' http_sd asks (gzip) and plain, and each answer is timed
// from the request to its last byte. The groups are built once per
// listing, right after it, so that a request only joins prebuilt bytes:
// the CPU time per answer shows that no request builds them. want is the
// number of groups the answer must hold (the instances with an address).
func (s *suite) sdLatency(exp *proc, want int) error {
	// The answer is checked once, unpacked: valid JSON, one group per
	// instance with an address.
	body, wire, err := exp.get("/sd", true)
	if err != nil {
		return err
	}
	var groups []struct {
		Targets []string          `json:"targets"`
		Labels  map[string]string `json:"labels"`
	}
	if err := json.Unmarshal(body, &groups); err != nil {
		return fmt.Errorf("/sd: %w", err)
	}
	if len(groups) != want {
		return fmt.Errorf("/sd has %d groups, want %d", len(groups), want)
	}
	s.add(row{figure: "4", name: "/sd, 20,000 instances: answer", measured: fmt.Sprintf("%d groups, %s JSON, gzip %s", len(groups), fmtSize(len(body)), fmtSize(wire)),
		baseline: "-", ratio: "-", target: "valid JSON, a group per address", pass: passYes})

	requests := 400
	if s.quick {
		requests = 100
	}
	c := &http.Client{Transport: &http.Transport{DisableCompression: true}, Timeout: time.Minute}
	defer c.CloseIdleConnections()
	for _, gzipped := range []bool{true, false} {
		if _, err := timeSD(c, exp.base+"/sd", gzipped); err != nil { // the connection
			return err
		}
		cpuBefore, err := exp.cpuTime()
		if err != nil {
			return err
		}
		took := make([]float64, requests)
		for i := range took {
			if took[i], err = timeSD(c, exp.base+"/sd", gzipped); err != nil {
				return err
			}
		}
		cpuAfter, err := exp.cpuTime()
		if err != nil {
			return err
		}
		how := "plain"
		if gzipped {
			how = "gzip, as Prometheus asks"
		}
		// The target is on the answer Prometheus gets; the plain one is
		// 16 MiB, whose copying over loopback is most of its time.
		p50, p99 := percentile(took, 0.50), percentile(took, 0.99)
		target, pass := "-", passNone
		if gzipped {
			target, pass = "p99 <= 100 ms", passIf(p99 <= 0.100)
		}
		s.add(row{figure: "4", name: fmt.Sprintf("/sd, 20,000 instances, %s: latency p50 (p99) of %d requests", how, requests),
			measured: fmt.Sprintf("%s (%s)", fmtMillis(p50), fmtMillis(p99)), baseline: "-", ratio: "-", target: target, pass: pass})
		s.add(row{figure: "4", name: fmt.Sprintf("/sd, 20,000 instances, %s: exporter CPU per answer", how),
			measured: fmtMicros((cpuAfter - cpuBefore).Seconds() / float64(requests)), baseline: "-", ratio: "-", target: "-", pass: passNone})
	}
	return nil
}

// timeSD makes one request and reads the answer to its end, as sent
// (the gzip answer is not unpacked: that is the client's work).
func timeSD(c *http.Client, url string, gzipped bool) (float64, error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	if gzipped {
		req.Header.Set("Accept-Encoding", "gzip")
	}
	start := time.Now()
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	took := time.Since(start).Seconds()
	if err != nil {
		return 0, err
	}
	if resp.StatusCode != http.StatusOK || n == 0 {
		return 0, fmt.Errorf("/sd: HTTP %d, %d bytes", resp.StatusCode, n)
	}
	if gzipped != (resp.Header.Get("Content-Encoding") == "gzip") {
		return 0, fmt.Errorf("/sd: Content-Encoding %q", resp.Header.Get("Content-Encoding"))
	}
	return took, nil
}

// percentile is the nearest-rank percentile p (0 < p <= 1) of vs.
func percentile(vs []float64, p float64) float64 {
	sorted := append([]float64(nil), vs...)
	sort.Float64s(sorted)
	return sorted[max(0, int(math.Ceil(p*float64(len(sorted))))-1)]
}

func fmtMillis(seconds float64) string { return fmt.Sprintf("%.1f ms", seconds*1000) }
