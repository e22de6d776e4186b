package main

import (
	"fmt"
	"time"
)

// figure5 is start-up: from starting the process to /-/ready answering 200,
// in on-scrape mode, polled every millisecond; the median of 7 starts.
func (s *suite) figure5() error {
	// On-scrape mode calls no API before the first scrape, so the endpoint
	// need not answer.
	cfg, err := s.writeConfig("fig5", "http://127.0.0.1:9", 4, targetOptions{})
	if err != nil {
		return err
	}
	var times []float64
	for i := range 7 {
		exp, err := s.startExporter(fmt.Sprintf("fig5-exporter-%d", i), cfg, -1)
		if err != nil {
			return err
		}
		ready, err := exp.waitReady(10*time.Second, time.Millisecond)
		exp.stop()
		if err != nil {
			return err
		}
		times = append(times, ready.Sub(exp.started).Seconds())
	}
	worst := 0.0
	for _, t := range times {
		worst = max(worst, t)
	}
	m := median(times)
	s.add(row{figure: "5", name: "start-up to /-/ready 200, on-scrape mode, 4 targets: median of 7 (slowest)",
		measured: fmt.Sprintf("%s (%s)", fmtSeconds(m), fmtSeconds(worst)), baseline: "-", ratio: "-", target: "<= 100 ms", pass: passIf(m <= 0.1)})
	return nil
}
