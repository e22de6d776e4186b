// Package demo runs the exporter with no cloud account: it starts the fake
// DCS API on loopback with a small fleet in two regions and three projects,
// moves instances through their states over time, and writes a
// configuration that points at it. Every target reads the statistics of its
// running instances, whose memory, keys and traffic the fake moves in
// waves of a few minutes, and its quota. Everything else the exporter does
// (signing, HTTP, decoding, caching) takes its real code path.
package demo

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/dcs-exporter/dcs_exporter/dcsapi/dcsapitest"
)

// The demo's projects. The first is found through the IAM lookup, as a
// target without project_id would be in production.
const (
	ProjectBeijing   = "0b1e2ef7a8d94f8c9a1b2c3d4e5f6071"
	ProjectSingapore = "5ad0c6a1b2e34f7c8d9e0f1a2b3c4d5e"
	ProjectOTC       = "9f8e7d6c5b4a39281706f5e4d3c2b1a0"
)

// Demo is a running fake API and the configuration file that points at it.
type Demo struct {
	URL        string
	ConfigFile string
	Server     *dcsapitest.Server

	dir    string
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// Start starts the fake API and the fleet's movements, and writes the
// configuration into a temporary directory that Close removes.
func Start(ctx context.Context, logger *slog.Logger) (*Demo, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("demo: listening on loopback: %w", err)
	}
	srv := dcsapitest.NewServerOn(l)
	Populate(srv, rand.New(rand.NewPCG(1, 2)))

	dir, err := os.MkdirTemp("", "dcs-exporter-demo-")
	if err != nil {
		srv.Close()
		return nil, err
	}
	d := &Demo{URL: srv.URL, Server: srv, dir: dir, ConfigFile: filepath.Join(dir, "dcs_exporter.yml")}
	if err := os.WriteFile(d.ConfigFile, []byte(Config(srv.URL)), 0o600); err != nil {
		d.Close()
		return nil, err
	}
	ctx, d.cancel = context.WithCancel(ctx)
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		animate(ctx, srv, logger, 5*time.Second)
	}()
	return d, nil
}

// Close stops the movements and the fake API and removes the configuration.
func (d *Demo) Close() {
	if d.cancel != nil {
		d.cancel()
	}
	d.wg.Wait()
	d.Server.Close()
	_ = os.RemoveAll(d.dir)
}

// Config returns the demo configuration for a fake API at url.
func Config(url string) string {
	return fmt.Sprintf(`# Written by dcs_exporter --demo: every target points at the built-in fake DCS API.
defaults:
  endpoint: %[1]s
  iam_endpoint: %[1]s
  timeout: 5s
  statistics: true
  credentials:
    access_key: %[2]s
    secret_key: %[3]s
targets:
  - name: demo-beijing
    region: cn-north-4
    labels: {env: demo}
    instances: true
  - name: demo-singapore
    region: ap-southeast-1
    project_id: %[4]s
    labels: {env: demo}
  - name: demo-otc
    region: eu-de
    project_id: %[5]s
    api_version: v1
    labels: {env: demo}
`, url, dcsapitest.TestAccessKey, dcsapitest.TestSecretKey, ProjectSingapore, ProjectOTC)
}

// Populate gives the fake API the demo fleet: 2,500 instances in Beijing
// (three pages of the list API), a few dozen in Singapore and a handful on the
// v1-only Open Telekom Cloud project.
func Populate(srv *dcsapitest.Server, rng *rand.Rand) {
	srv.AddProject("cn-north-4", ProjectBeijing)
	srv.AddProject("ap-southeast-1", ProjectSingapore)
	srv.AddProject("eu-de", ProjectOTC)
	srv.SetV2StatusAvailable(ProjectOTC, false)
	srv.SetInstances(ProjectBeijing, fleet("bj", 2500, rng))
	srv.SetInstances(ProjectSingapore, fleet("sg", 40, rng))
	srv.SetInstances(ProjectOTC, fleet("otc", 6, rng))
}

// fleet makes n instances, mostly running Redis, with some Memcached and a
// few in other states, each tagged and with a maintenance window.
func fleet(prefix string, n int, rng *rand.Rand) []dcsapitest.Instance {
	out := make([]dcsapitest.Instance, n)
	for i := range out {
		engine, version, spec := "Redis", "6.0", "redis.ha.xu1.large.r2.2"
		capacity := []float64{0.125, 1, 2, 4, 8, 16}[rng.IntN(6)]
		if i%5 == 4 {
			engine, version, spec = "Memcached", "1.5", "dcs.memcached.master_standby"
		}
		status := "RUNNING"
		switch r := rng.IntN(100); {
		case r < 2:
			status = "ERROR"
		case r < 3:
			status = "CREATEFAILED"
		case r < 5:
			status = "RESTARTING"
		case r < 6:
			status = "FROZEN"
		}
		maxMB := int64(capacity * 1024)
		out[i] = dcsapitest.Instance{
			ID:            fmt.Sprintf("%s-%08x-%04d", prefix, rng.Uint32(), i),
			Name:          fmt.Sprintf("%s-cache-%04d", prefix, i),
			Engine:        engine,
			EngineVersion: version,
			Status:        status,
			SpecCode:      spec,
			CapacityGB:    capacity,
			MaxMemoryMB:   maxMB,
			UsedMemoryMB:  rng.Int64N(maxMB + 1),
			ChargingMode:  rng.IntN(2),
			AZCodes:       []string{"az1"},
		}
		dcsapitest.Annotate(&out[i]) // owners, enterprise projects, maintenance windows, upgrades
	}
	return out
}

// transitions are the moves an instance makes in the demo: most come back
// to RUNNING on the next step.
var transitions = map[string][]string{
	"RUNNING":    {"RESTARTING", "EXTENDING", "FLUSHING", "UPGRADING", "ERROR"},
	"RESTARTING": {"RUNNING"},
	"EXTENDING":  {"RUNNING"},
	"FLUSHING":   {"RUNNING"},
	"UPGRADING":  {"RUNNING"},
	"ERROR":      {"RUNNING", "RESTARTING"},
	"FROZEN":     {"RUNNING"},
	"CREATING":   {"RUNNING"},
}

// animate moves a few instances of each project every step.
func animate(ctx context.Context, srv *dcsapitest.Server, logger *slog.Logger, step time.Duration) {
	rng := rand.New(rand.NewPCG(3, 4))
	ticker := time.NewTicker(step)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		for _, pid := range []string{ProjectBeijing, ProjectSingapore, ProjectOTC} {
			list := srv.Instances(pid)
			if len(list) == 0 {
				continue
			}
			for range 1 + len(list)/200 {
				in := list[rng.IntN(len(list))]
				next, ok := transitions[in.Status]
				if !ok {
					continue
				}
				status := next[rng.IntN(len(next))]
				srv.SetInstanceStatus(pid, in.ID, status)
				logger.Debug("demo: instance changed state", "project_id", pid, "instance_id", in.ID, "from", in.Status, "to", status)
			}
		}
	}
}
