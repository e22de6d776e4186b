package main

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dcs-exporter/dcs_exporter/dcsapi/dcsapitest"
)

// figure2 is API calls per scrape: concurrent scrapes share one call in
// on-scrape mode and make none in cached mode, where each refresh interval
// costs one call per target.
func (s *suite) figure2() error {
	fake := newFleet(10)
	defer fake.Close()
	one, err := s.writeConfig("fig2-one", fake.URL, 1, targetOptions{})
	if err != nil {
		return err
	}

	// On-scrape mode: the answer takes 300 ms, so that all 100 scrapes
	// arrive while the one query is in flight.
	fake.SetLatency(300 * time.Millisecond)
	calls, err := s.burst("fig2-onscrape", one, fake, "--web.max-requests=0")
	if err != nil {
		return err
	}
	s.add(row{figure: "2", name: "100 concurrent scrapes of one target, on-scrape mode: API calls", measured: fmt.Sprint(calls),
		baseline: "-", ratio: "-", target: "= 1", pass: passIf(calls == 1)})

	fake.SetLatency(0)
	calls, err = s.burst("fig2-cached", one, fake, "--web.max-requests=0", "--dcs.refresh-interval=1h")
	if err != nil {
		return err
	}
	s.add(row{figure: "2", name: "100 concurrent scrapes of one target, cached mode: API calls", measured: fmt.Sprint(calls),
		baseline: "-", ratio: "-", target: "= 0", pass: passIf(calls == 0)})

	return s.perInterval(fake)
}

// burst starts an exporter, waits until it is ready (in cached mode: its
// first refresh is done), then sends 100 scrapes at once and returns the
// status calls they caused.
func (s *suite) burst(name, config string, fake *dcsapitest.Server, flags ...string) (int, error) {
	exp, err := s.startExporter(name, config, -1, flags...)
	if err != nil {
		return 0, err
	}
	defer exp.stop()
	if _, err := exp.waitReady(30*time.Second, 5*time.Millisecond); err != nil {
		return 0, err
	}
	fake.ResetCounts()
	start := make(chan struct{})
	errs := make(chan error, 100)
	var wg sync.WaitGroup
	for range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			if _, _, err := exp.get("/metrics", true); err != nil {
				errs <- err
			}
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return 0, err
	}
	return fake.Requests(dcsapitest.APIInstanceStatus), nil
}

// perInterval runs 10 targets refreshed every 250 ms under steady scraping
// for 20 intervals, counted from the middle of one interval to the middle
// of another, and checks that each target got exactly one call per
// interval.
func (s *suite) perInterval(fake *dcsapitest.Server) error {
	const targets, intervals, interval = 10, 20, 250 * time.Millisecond
	cfg, err := s.writeConfig("fig2-ten", fake.URL, targets, targetOptions{})
	if err != nil {
		return err
	}
	exp, err := s.startExporter("fig2-interval", cfg, -1, "--dcs.refresh-interval="+interval.String())
	if err != nil {
		return err
	}
	defer exp.stop()
	if _, err := exp.waitReady(30*time.Second, 5*time.Millisecond); err != nil {
		return err
	}
	// Find a refresh, then step to the middle of the interval after it.
	seen := fake.Requests(dcsapitest.APIInstanceStatus)
	for fake.Requests(dcsapitest.APIInstanceStatus) == seen {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(interval / 2)
	fake.ResetCounts()

	ctx, cancel := context.WithTimeout(context.Background(), intervals*interval)
	defer cancel()
	var scrapes atomic.Int64
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				if _, _, err := exp.get("/metrics", true); err == nil {
					scrapes.Add(1)
				}
			}
		}()
	}
	<-ctx.Done()
	total := fake.Requests(dcsapitest.APIInstanceStatus)
	even := true
	for i := range targets {
		even = even && fake.ProjectRequests(projectID(i), dcsapitest.APIInstanceStatus) == intervals
	}
	wg.Wait()
	perTarget := float64(total) / targets / intervals
	s.add(row{figure: "2", name: fmt.Sprintf("cached mode, %d targets, %d intervals of %s, %d scrapes meanwhile: calls per target per interval", targets, intervals, interval, scrapes.Load()),
		measured: fmt.Sprintf("%.2f (%d calls)", perTarget, total), baseline: "-", ratio: "-", target: "= 1 for each target", pass: passIf(even && total == targets*intervals)})
	return nil
}
