package statuspage_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dcs-exporter/dcs_exporter/collector"
	"github.com/dcs-exporter/dcs_exporter/config"
	"github.com/dcs-exporter/dcs_exporter/dcsapi/dcsapitest"
	"github.com/dcs-exporter/dcs_exporter/statuspage"
)

const (
	goodAK   = "HPUASTATUSPAGEAK0001"
	goodSK   = "StatusPageSecretKeyDoNotUse0123456789ABC"
	wrongAK  = "HPUASTATUSPAGEWRONG1"
	wrongSK  = "StatusPageWrongSecretDoNotUse0123456789"
	idPrefix = "5ea7"
)

// secretValues must never reach the page.
var secretValues = []string{goodSK, wrongSK}

// testTarget is one target of a test fleet and the way it fails, if it
// does.
type testTarget struct {
	name      string
	region    string // cn-north-4 when empty
	failure   string // "", "wrong key", "v1 only", "no such project", "listing refused", "statistics refused"
	instances bool
	size      int // instances of its project
}

// fleet is a fake API and an exporter whose targets have queried it once.
type fleet struct {
	fake     *dcsapitest.Server
	exporter *collector.Exporter
	config   *config.Config
	file     string
}

// projectOf gives each target a project id of its own.
func projectOf(i int) string { return fmt.Sprintf("%s%028x", idPrefix, i) }

// newFleet starts the fake and an exporter in cached mode, and waits until
// the first refresh of every target (and listing) has finished.
func newFleet(t testing.TB, targets []testTarget) *fleet {
	t.Helper()
	fake := dcsapitest.NewServer()
	t.Cleanup(fake.Close)
	fake.AddKey(goodAK, goodSK)

	var b strings.Builder
	fmt.Fprintf(&b, "defaults:\n  endpoint: %s\n  iam_endpoint: %s\n  timeout: 10s\n  credentials: {access_key: %s, secret_key: %s}\ntargets:\n", fake.URL, fake.URL, goodAK, goodSK)
	for i, tt := range targets {
		pid := projectOf(i)
		region := tt.region
		if region == "" {
			region = "cn-north-4"
		}
		fmt.Fprintf(&b, "  - name: %q\n    region: %s\n    project_id: %s\n", tt.name, region, pid)
		if tt.instances {
			b.WriteString("    instances: true\n")
		}
		if tt.failure != "no such project" {
			fake.SetInstances(pid, dcsapitest.SampleFleet(tt.size))
		}
		switch tt.failure {
		case "wrong key":
			fmt.Fprintf(&b, "    credentials: {access_key: %s, secret_key: %s}\n", wrongAK, wrongSK)
		case "v1 only":
			fake.SetV2StatusAvailable(pid, false)
		case "listing refused":
			fake.InjectFault(pid, dcsapitest.APIListInstances, dcsapitest.Fault{Kind: dcsapitest.FaultStatus, Status: 403, Code: "DCS.2003", Message: "role lacks permission"})
		case "statistics refused":
			b.WriteString("    statistics: true\n")
			fake.InjectFault(pid, dcsapitest.APIStatistics, dcsapitest.Fault{Kind: dcsapitest.FaultStatus, Status: 403, Code: "DCS.2003", Message: "role lacks permission"})
		}
	}
	file := filepath.Join(t.TempDir(), "dcs_exporter.yml")
	if err := os.WriteFile(file, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	exp := collector.New(collector.Options{RefreshInterval: time.Hour, MaxConcurrency: 8, InstancesRefreshInterval: time.Hour})
	if err := exp.ApplyConfig(cfg); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); exp.Run(ctx) }()
	t.Cleanup(func() { cancel(); wg.Wait(); exp.CloseIdleConnections() })

	// Wait for the first refresh and every listing: the fake's request
	// counts say when they are all done.
	deadline := time.Now().Add(2 * time.Minute)
	for !settled(exp) {
		if time.Now().After(deadline) {
			t.Fatal("the first refresh did not finish within 2 minutes")
		}
		time.Sleep(10 * time.Millisecond)
	}
	return &fleet{fake: fake, exporter: exp, config: cfg, file: file}
}

// settled reports whether the exporter is ready and every listing and
// quota read has been tried (the quota is not read while a target backs
// off).
func settled(exp *collector.Exporter) bool {
	if !exp.Ready() {
		return false
	}
	for _, ts := range exp.TargetStatuses() {
		if ts.Querying || ts.Listing != nil && (!ts.Listing.Attempted || ts.Listing.Running) || ts.Quota != nil && !ts.Quota.Attempted && ts.NextAttempt.IsZero() {
			return false
		}
	}
	return true
}

func (f *fleet) page(demo string) *statuspage.Handler {
	return statuspage.New(statuspage.Options{
		Targets:   f.exporter.TargetStatuses,
		Discovery: f.exporter.Discovery().Summaries,
		Ready:     f.exporter.Ready,
		Version:   "(version=test)",
		Demo:      demo,
		Links: []statuspage.Link{
			{Address: "/metrics", Text: "Metrics"},
			{Address: "/probe?target=a", Text: "Probe one target"},
			{Address: "/-/healthy", Text: "Health"},
			{Address: "/-/ready", Text: "Readiness"},
		},
	})
}
