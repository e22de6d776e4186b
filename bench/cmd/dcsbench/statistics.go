package main

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/dcs-exporter/dcs_exporter/collector"
	"github.com/dcs-exporter/dcs_exporter/collector/exposition"
	"github.com/dcs-exporter/dcs_exporter/config"
	"github.com/dcs-exporter/dcs_exporter/dcsapi"
	"github.com/dcs-exporter/dcs_exporter/dcsapi/dcsapitest"
)

// figure7 is the statistics of 20,000 running instances (statistics: true,
// issue 20): the time of one refresh of the target, in process, from the
// start of its query to its series rendered. The refresh makes the status
// and statistics calls to the fake over loopback, decodes the 4 MB answer
// and renders five series per instance; the fake's own work of writing the
// answer is in the figure too, so it is an upper bound. The target is 0.5 s.
func (s *suite) figure7() error {
	const instances = 20000
	fleet := dcsapitest.SampleFleet(instances)
	for i := range fleet {
		fleet[i].Status = "RUNNING"
	}
	fake := dcsapitest.NewServer()
	defer fake.Close()
	fake.AddProject("cn-north-4", projectID(0))
	fake.SetInstances(projectID(0), fleet)

	doc := fmt.Sprintf("defaults:\n  endpoint: %[1]s\n  iam_endpoint: %[1]s\n  timeout: 30s\n  quota: false\n  credentials: {access_key: %[2]s, secret_key: %[3]s}\n"+
		"targets:\n  - name: %[4]s\n    region: cn-north-4\n    project_id: %[5]s\n    statistics: true\n",
		fake.URL, dcsapitest.TestAccessKey, dcsapitest.TestSecretKey, targetName(0), projectID(0))
	cfg, err := config.Parse([]byte(doc), "fig7.yml")
	if err != nil {
		return err
	}
	exp := collector.New(collector.Options{Retry: &dcsapi.RetryPolicy{MaxAttempts: 1}})
	defer exp.Close()
	if err := exp.ApplyConfig(cfg); err != nil {
		return err
	}
	target := exp.Target(targetName(0))

	runs := 7
	if s.quick {
		runs = 3
	}
	var took []time.Duration
	var out *exposition.Series
	for i := range runs + 1 {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		start := time.Now()
		target.Refresh(ctx)
		out, _ = target.RenderedUntil(time.Now())
		d := time.Since(start)
		cancel()
		if i > 0 { // the first warms the connection and the project id
			took = append(took, d)
		}
	}
	if n := bytes.Count(out.Lines(exposition.FamInstanceKeys), []byte("\n")); n != instances {
		return fmt.Errorf("the refresh rendered keys for %d instances, want %d", n, instances)
	}
	slices.Sort(took)
	median, worst := took[len(took)/2], took[len(took)-1]
	const limit = 500 * time.Millisecond
	s.add(row{figure: "7", name: fmt.Sprintf("20,000 running instances, statistics: one refresh, median of %d (worst %s)", runs, fmtSeconds(worst.Seconds())),
		measured: fmtSeconds(median.Seconds()), baseline: "-", ratio: "-", target: "≤ 500 ms", pass: passIf(median <= limit)})
	return nil
}
