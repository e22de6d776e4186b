package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/dcs-exporter/dcs_exporter/dcsapi/dcsapitest"
)

// figure6 is the topology and backup sources at scale: a project of 500
// instances with 2,000 nodes walked in one refresh with pages of 100, and
// the backup records of 1,000 instances read at a 10-minute interval,
// scaled down to one minute (a "minute" of the run is 6 s), measured at
// the fake API: how even the calls are, and how many are in flight.
func (s *suite) figure6() error {
	if err := s.figure6Nodes(); err != nil {
		return err
	}
	return s.figure6Backups()
}

// topologyFleet is n Redis 6.0 instances, half master/standby (2 nodes)
// and half Redis Cluster (3 shards of 2): 4 nodes an instance on average.
func topologyFleet(n int) []dcsapitest.Instance {
	out := make([]dcsapitest.Instance, n)
	for i := range out {
		spec := "redis.ha.xu1.large.r2.1"
		if i%2 == 1 {
			spec = "redis.cluster.xu1.large.r2.4"
		}
		out[i] = dcsapitest.Instance{ID: fmt.Sprintf("inst-%05d", i), Name: fmt.Sprintf("cache-%05d", i), Engine: "Redis", EngineVersion: "6.0",
			Status: "RUNNING", SpecCode: spec, CapacityGB: 1, MaxMemoryMB: 1024, AZCodes: []string{"az1", "az2"}}
	}
	return out
}

func (s *suite) figure6Nodes() error {
	const instances = 500
	fake := dcsapitest.NewServer()
	defer fake.Close()
	fake.AddProject("cn-north-4", projectID(0))
	fake.SetInstances(projectID(0), topologyFleet(instances))
	cfg, err := s.writeConfig("fig6-nodes", fake.URL, 1, targetOptions{nodes: true})
	if err != nil {
		return err
	}
	exp, err := s.startExporter("fig6-nodes-exporter", cfg, serverCPU, "--dcs.refresh-interval=1h", "--dcs.instances-refresh-interval=1h")
	if err != nil {
		return err
	}
	defer exp.stop()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var body []byte
	for {
		body, _, err = exp.get("/probe?target="+targetName(0), false)
		if err == nil && bytes.Contains(body, []byte("\ndcs_nodes_up{")) {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("no node walk in 2 minutes; see %s", exp.logFile.Name())
		case <-time.After(20 * time.Millisecond):
		}
	}
	took := time.Since(exp.started).Seconds()
	if !bytes.Contains(body, []byte("} 1\n")) || bytes.Contains(body, []byte("dcs_nodes_up{target=\""+targetName(0)+"\",region=\"cn-north-4\",project_id=\""+projectID(0)+"\"} 0")) {
		return fmt.Errorf("the node walk failed; see %s", exp.logFile.Name())
	}
	nodes := bytes.Count(body, []byte("\ndcs_node_info{"))
	covered := bytes.Count(body, []byte("\ndcs_instance_master_changes_total{"))
	pages := fake.RequestLog(dcsapitest.APINodes)
	pass := passYes
	if nodes != 2000 || covered != instances || len(pages) != 5 {
		pass = passNo
	}
	for _, p := range pages {
		if p.Query.Get("limit") != "100" {
			pass = passNo
		}
	}
	s.add(row{figure: "6", name: fmt.Sprintf("nodes: 500 instances walked in one refresh: %d instances, %d nodes, %d pages of limit=100; from start to served", covered, nodes, len(pages)),
		measured: fmtSeconds(took), baseline: "-", ratio: "-", target: "2,000 nodes, 5 pages", pass: pass})
	return nil
}

// callRecorder sits between the exporter and the fake API and notes when
// each backup records call starts, and the most in flight at once.
type callRecorder struct {
	next http.Handler

	mu       sync.Mutex
	starts   []time.Time
	inFlight int
	most     int
}

func (c *callRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	backup := strings.HasSuffix(r.URL.Path, "/backups")
	if backup {
		c.mu.Lock()
		c.starts = append(c.starts, time.Now())
		c.inFlight++
		c.most = max(c.most, c.inFlight)
		c.mu.Unlock()
		defer func() {
			c.mu.Lock()
			c.inFlight--
			c.mu.Unlock()
		}()
	}
	c.next.ServeHTTP(w, r)
}

func (s *suite) figure6Backups() error {
	const (
		instances = 1000
		interval  = time.Minute // 10 minutes, scaled down 10 times
		buckets   = 10          // so that a bucket is a "minute"
	)
	fake := dcsapitest.NewServer()
	defer fake.Close()
	fake.AddProject("cn-north-4", projectID(0))
	fake.SetInstances(projectID(0), topologyFleet(instances))
	// A slow API, so that the bound on calls in flight is what holds them:
	// at 1,000 calls a minute and 200 ms each, about 3.3 would be in flight.
	fake.SetLatency(200 * time.Millisecond)
	backend, err := url.Parse(fake.URL)
	if err != nil {
		return err
	}
	rec := &callRecorder{next: httputil.NewSingleHostReverseProxy(backend)}
	front := httptest.NewServer(rec)
	defer front.Close()
	cfg, err := s.writeConfig("fig6-backups", front.URL, 1, targetOptions{instances: true, backups: true})
	if err != nil {
		return err
	}
	exp, err := s.startExporter("fig6-backups-exporter", cfg, serverCPU, "--dcs.refresh-interval=1h", "--dcs.instances-refresh-interval=1h",
		"--dcs.backups-interval="+interval.String())
	if err != nil {
		return err
	}
	defer exp.stop()

	// One whole interval from the first call, and the start of the next.
	deadline := time.Now().Add(2 * time.Minute)
	var first time.Time
	for first.IsZero() {
		rec.mu.Lock()
		if len(rec.starts) > 0 {
			first = rec.starts[0]
		}
		rec.mu.Unlock()
		if time.Now().After(deadline) {
			return fmt.Errorf("no backup call in 2 minutes; see %s", exp.logFile.Name())
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(time.Until(first.Add(interval + interval/buckets)))
	rec.mu.Lock()
	starts, most := append([]time.Time(nil), rec.starts...), rec.most
	rec.mu.Unlock()

	var perBucket [buckets]int
	for _, t := range starts {
		if i := int(t.Sub(first) / (interval / buckets)); i < buckets {
			perBucket[i]++
		}
	}
	total, peak, low := 0, 0, perBucket[0]
	for _, n := range perBucket {
		total += n
		peak, low = max(peak, n), min(low, n)
	}
	avg := float64(total) / buckets
	ratio := float64(peak) / avg
	pass := passYes
	if ratio > 2 {
		pass = passNo
	}
	s.add(row{figure: "6", name: fmt.Sprintf("backups: 1,000 instances at a 10-minute interval (run 10× faster): calls in one interval %d; per \"minute\" %d to %d", total, low, peak),
		measured: fmt.Sprintf("%.2f× the average", ratio), baseline: "-", ratio: "-", target: "≤ 2×", pass: pass})
	pass = passYes
	if most > 4 {
		pass = passNo
	}
	s.add(row{figure: "6", name: "backups: most calls in flight at once (the API answers in 200 ms)", measured: fmt.Sprint(most),
		baseline: "-", ratio: "-", target: "≤ 4", pass: pass})
	return nil
}
