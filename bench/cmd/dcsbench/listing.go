package main

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/dcs-exporter/dcs_exporter/dcsapi/dcsapitest"
)

// figure4 is scale in instances: one target listing 20,000 instances, in
// cached mode. It times the first listing from the exporter's start, times
// /sd (discovery.go), and then serves /metrics against the static baseline
// as figure 1 does.
func (s *suite) figure4() error {
	const instances = 20000
	fake := dcsapitest.NewServer()
	defer fake.Close()
	fake.AddProject("cn-north-4", projectID(0))
	fake.SetInstances(projectID(0), dcsapitest.SampleFleet(instances))
	cfg, err := s.writeConfig("fig4", fake.URL, 1, targetOptions{instances: true})
	if err != nil {
		return err
	}
	exp, err := s.startExporter("fig4-exporter", cfg, serverCPU, "--dcs.refresh-interval=1h", "--dcs.instances-refresh-interval=1h")
	if err != nil {
		return err
	}
	defer exp.stop()

	// Until the listing is in, the target's answer is small; poll it.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var body []byte
	for {
		body, _, err = exp.get("/probe?target="+targetName(0), false)
		if err == nil && bytes.Contains(body, []byte("\ndcs_instances_listing_up{")) {
			break
		}
		select {
		case <-ctx.Done():
			if err != nil {
				return fmt.Errorf("no listing in 2 minutes: %w; see %s", err, exp.logFile.Name())
			}
			return fmt.Errorf("no listing in 2 minutes; see %s", exp.logFile.Name())
		case <-time.After(20 * time.Millisecond):
		}
	}
	took := time.Since(exp.started).Seconds()
	if n := bytes.Count(body, []byte("\ndcs_instance_info{")); n != instances {
		return fmt.Errorf("the listing has %d instances, want %d", n, instances)
	}
	rss, peak, err := exp.memory()
	if err != nil {
		return err
	}
	pages := fake.Requests(dcsapitest.APIListInstances)
	s.add(row{figure: "4", name: fmt.Sprintf("20,000 instances, cached mode: from start to the listing served (%d list calls)", pages), measured: fmtSeconds(took),
		baseline: "-", ratio: "-", target: "-", pass: passNone})
	s.add(row{figure: "4", name: "20,000 instances: peak RSS (RSS) after the listing", measured: fmt.Sprintf("%s (%s)", fmtMiB(peak), fmtMiB(rss)),
		baseline: "-", ratio: "-", target: "-", pass: passNone})
	withAddress := 0
	for _, in := range fake.Instances(projectID(0)) {
		if !in.NoAddress {
			withAddress++
		}
	}
	if err := s.sdLatency(exp, withAddress); err != nil {
		return err
	}
	if err := s.compareWithStatic("4", "cached /metrics, 20,000 instances", exp, true); err != nil {
		return err
	}
	rss, peak, err = exp.memory()
	if err != nil {
		return err
	}
	s.add(row{figure: "4", name: "20,000 instances: peak RSS (RSS) after serving under load", measured: fmt.Sprintf("%s (%s)", fmtMiB(peak), fmtMiB(rss)),
		baseline: "-", ratio: "-", target: "-", pass: passNone})
	return nil
}
