package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/dcs-exporter/dcs_exporter/dcsapi/dcsapitest"
)

// projectID is the made-up project of target i.
func projectID(i int) string { return fmt.Sprintf("%032x", i+1) }

// targetName is the name of target i.
func targetName(i int) string { return fmt.Sprintf("t%05d", i+1) }

// newFleet starts a fake API with n projects of a few instances each, so
// that the status counts are not all zero.
func newFleet(n int) *dcsapitest.Server {
	fake := dcsapitest.NewServer()
	small := dcsapitest.SampleFleet(8)
	for i := range n {
		fake.AddProject("cn-north-4", projectID(i))
		fake.SetInstances(projectID(i), small)
	}
	return fake
}

// targetOptions are per-target settings of a benchmark config.
type targetOptions struct {
	instances bool
	nodes     bool
	backups   bool
	timeout   time.Duration
}

// writeConfig writes a config of n targets against the fake at url.
func (s *suite) writeConfig(name, url string, n int, o targetOptions) (string, error) {
	if o.timeout == 0 {
		o.timeout = 30 * time.Second
	}
	var b strings.Builder
	fmt.Fprintf(&b, "defaults:\n  endpoint: %s\n  iam_endpoint: %s\n  timeout: %s\n  credentials:\n    access_key: %s\n    secret_key: %s\n",
		url, url, o.timeout, dcsapitest.TestAccessKey, dcsapitest.TestSecretKey)
	if o.instances {
		b.WriteString("  instances: true\n")
	}
	if o.nodes {
		b.WriteString("  nodes: true\n")
	}
	if o.backups {
		b.WriteString("  backups: true\n")
	}
	b.WriteString("targets:\n")
	for i := range n {
		fmt.Fprintf(&b, "  - name: %s\n    region: cn-north-4\n    project_id: %s\n", targetName(i), projectID(i))
	}
	path := filepath.Join(s.out, name+".yml")
	return path, os.WriteFile(path, []byte(b.String()), 0o600)
}

// fakeMain serves a fake API until interrupted and prints its URL; with
// -config it also writes an exporter config for its targets. It is for
// trying the exporter by hand against a fleet of any size.
func fakeMain(args []string) int {
	fs := flag.NewFlagSet("fake", flag.ContinueOnError)
	targets := fs.Int("targets", 1, "number of projects")
	latency := fs.Duration("latency", 0, "delay of every answer")
	config := fs.String("config", "", "write an exporter config for the projects here")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	fake := newFleet(*targets)
	defer fake.Close()
	fake.SetLatency(*latency)
	if *config != "" {
		s := &suite{out: filepath.Dir(*config)}
		name := strings.TrimSuffix(filepath.Base(*config), ".yml")
		if _, err := s.writeConfig(name, fake.URL, *targets, targetOptions{}); err != nil {
			fmt.Fprintln(os.Stderr, "fake:", err)
			return 1
		}
	}
	w := bufio.NewWriter(os.Stdout)
	_, _ = fmt.Fprintln(w, fake.URL)
	_ = w.Flush()
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt, syscall.SIGTERM)
	<-stop
	return 0
}
