// Package demo runs the exporter with no cloud account: it starts the fake
// DCS API on loopback with a small fleet in three regions and three
// projects, moves instances through their states over time, and writes a
// configuration that points at it. Every target reads the statistics of its
// running instances, whose memory, keys and traffic the fake moves in waves
// of a few minutes, and its quota. One more target fails on purpose, the
// way a new key without the DCS policy does, so that the status page and
// --dcs.check show what a failure and its hint look like. Everything else
// the exporter does (signing, HTTP, decoding, caching) takes its real code
// path.
package demo

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
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
	// ProjectDenied is the project of the target that fails on purpose.
	ProjectDenied = "d3e4f5a6b7c84d9e8f0a1b2c3d4e5f60"
)

// FailingTarget is the name of the demo target that fails on purpose.
const FailingTarget = "demo-failing-no-dcs-policy"

// The demo's regions. Huawei Cloud's ids are those of the SDK's region
// table (huaweicloud-sdk-go-v3 v0.1.207, services/dcs/v2/region/region.go),
// their names from "Regions and Endpoints"
// (developer.huaweicloud.com/intl/en-us/endpoint). eu-de is Open Telekom
// Cloud's region in Germany (its DCS endpoint dcs.eu-de.otc.t-systems.com).
const (
	regionBeijing   = "cn-north-4"     // CN North-Beijing4
	regionSingapore = "ap-southeast-3" // AP-Singapore; ap-southeast-1 is Hong Kong
	regionGermany   = "eu-de"          // Open Telekom Cloud, Germany
)

// BackupsInterval is how often the demo reads each instance's backup
// records: every minute rather than every hour, so that its failing backup
// shows at once.
const BackupsInterval = time.Minute

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
    region: %[10]s
    labels: {env: demo}
    instances: true
    nodes: true
  - name: demo-singapore
    region: %[7]s
    project_id: %[4]s
    labels: {env: demo}
    instances: true
    nodes: true
    backups: true
  - name: demo-otc
    region: %[8]s
    project_id: %[5]s
    api_version: v1
    labels: {env: demo}
  # Fails on purpose, as a key without the DCS ReadOnlyAccess policy does:
  # this is what a failing target looks like.
  - name: %[9]s
    region: %[7]s
    project_id: %[6]s
    labels: {env: demo, demo_failure: on-purpose}
`, url, dcsapitest.TestAccessKey, dcsapitest.TestSecretKey, ProjectSingapore, ProjectOTC, ProjectDenied,
		regionSingapore, regionGermany, FailingTarget, regionBeijing)
}

// Populate gives the fake API the demo fleet: 2,500 instances in Beijing
// (three pages of the list API), a few dozen in Singapore and a handful on the
// v1-only Open Telekom Cloud project. A fourth project refuses every DCS
// call with 403 DCS.2007, the DCS API's answer when the key's user lacks a
// policy that allows the call (DCS API reference, "Error Codes"; the action
// named in the message is ours): the most common failure of a new key.
func Populate(srv *dcsapitest.Server, rng *rand.Rand) {
	srv.AddProject(regionBeijing, ProjectBeijing)
	srv.AddProject(regionSingapore, ProjectSingapore)
	srv.AddProject(regionGermany, ProjectOTC)
	srv.SetV2StatusAvailable(ProjectOTC, false)
	srv.SetInstances(ProjectBeijing, fleet("bj", 2500, rng))
	srv.SetInstances(ProjectSingapore, fleet("sg", 40, rng))
	srv.SetInstances(ProjectOTC, fleet("otc", 6, rng))
	// A project of its own, so that the other targets keep working.
	srv.AddProject(regionSingapore+"_denied", ProjectDenied)
	srv.InjectFault(ProjectDenied, "", dcsapitest.Fault{
		Kind: dcsapitest.FaultStatus, Status: http.StatusForbidden, Shape: dcsapitest.ShapeService,
		Code: "DCS.2007", Message: "Policy does not allow dcs:instance:list to be performed.",
	})
	breakTopology(srv)
}

// breakTopology gives the Singapore fleet what the topology and backup
// alerts are for: a failed replica, replicas that share one zone and a
// backup that fails with a timeout. A failover happens as the demo runs
// (see animate).
func breakTopology(srv *dcsapitest.Server) {
	var backedUp []string
	for _, in := range srv.Instances(ProjectSingapore) {
		if dcsapitest.BackupsScheduled(in) && dcsapitest.NodesCovered(in) && in.Status == "RUNNING" {
			backedUp = append(backedUp, in.ID)
		}
	}
	if len(backedUp) < 3 {
		return
	}
	srv.SetNodeStatus(ProjectSingapore, backedUp[0], 0, 1, "Inactive")
	srv.FailBackups(ProjectSingapore, backedUp[1], "dcs.08.0002")
	srv.SetGroupSingleAZ(ProjectSingapore, backedUp[2], 0, true)
}

// failover swaps the master of one Singapore instance, as a failover does.
func failover(srv *dcsapitest.Server, logger *slog.Logger) {
	for _, in := range srv.Instances(ProjectSingapore) {
		if dcsapitest.NodesCovered(in) && dcsapitest.BackupsScheduled(in) && in.Status == "RUNNING" {
			srv.SwapMaster(ProjectSingapore, in.ID, 0)
			logger.Debug("demo: failover", "project_id", ProjectSingapore, "instance_id", in.ID)
			return
		}
	}
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
			AZCodes:       []string{"az1", "az2"},
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
	for steps := 1; ; steps++ {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		// A failover every 10 minutes, so that the dashboard's failovers
		// over time have something to show.
		if steps%int(10*time.Minute/step) == 1 {
			failover(srv, logger)
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
