package collector_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dcs-exporter/dcs_exporter/collector"
	"github.com/dcs-exporter/dcs_exporter/dcsapi/dcsapitest"
)

const backupsA = listedA + "    backups: true\n"

// backupFleet: Redis master/standby and cluster (backed up), single-node
// Redis and Memcached (not), and one that failed to be created.
func backupFleet() []dcsapitest.Instance {
	in := func(id, engine, spec, status string) dcsapitest.Instance {
		return dcsapitest.Instance{ID: id, Name: "cache-" + id, Engine: engine, EngineVersion: "6.0", Status: status,
			SpecCode: spec, CapacityGB: 1, MaxMemoryMB: 1024}
	}
	return []dcsapitest.Instance{
		in("ha", "Redis", "redis.ha.xu1.large.r2.1", "RUNNING"),
		in("cl", "Redis", "redis.cluster.xu1.large.r2.4", "RUNNING"),
		in("quiet", "Redis", "redis.ha.xu1.large.r2.1", "RUNNING"),
		in("sn", "Redis", "redis.single.xu1.large.1", "RUNNING"),
		in("mc", "Memcached", "dcs.memcached.master_standby", "RUNNING"),
		in("cf", "Redis", "redis.ha.xu1.large.r2.1", "CREATEFAILED"),
	}
}

// TestBackupsPerInstance reads the records of the instances that can be
// backed up: the newest success and failure with its code, a backup under
// way, and nothing for an instance without backups.
func TestBackupsPerInstance(t *testing.T) {
	e := newEnv(t, collector.Options{}, backupsA)
	e.Srv.SetInstances(projectA, backupFleet())
	now := e.Clock.Now()
	e.Srv.SetBackupsDisabled(projectA, "quiet", true)
	at := func(d time.Duration) time.Time { return now.Add(-d) }
	for _, r := range []dcsapitest.BackupRecord{
		// Newer than any of the fake's daily backups of cl.
		{Type: "manual", Status: "succeed", CreatedAt: at(5 * time.Minute), ExecutionAt: at(4 * time.Minute), UpdatedAt: at(2 * time.Minute)},
		{Type: "auto", Status: "failed", ErrorCode: "dcs.08.0001", CreatedAt: at(10 * time.Hour), UpdatedAt: at(10 * time.Hour)},
		{Type: "manual", Status: "failed", ErrorCode: "dcs.08.0002", CreatedAt: at(5 * time.Hour), UpdatedAt: at(4 * time.Hour)},
		{Type: "manual", Status: "backuping", CreatedAt: at(time.Minute), ExecutionAt: at(time.Minute)},
		// Older than the 7 days read: not asked for.
		{Type: "auto", Status: "failed", ErrorCode: "dcs.08.0005", CreatedAt: at(8 * 24 * time.Hour), UpdatedAt: at(time.Hour)},
	} {
		e.Srv.AddBackupRecord(projectA, "cl", r)
	}
	// ha's backups fail from now on; cl's newest finished backup is a
	// success after two failures.
	e.Srv.FailBackups(projectA, "ha", "dcs.08.0008")
	e.Refresh("prod")
	tg := e.Exp.Target("prod")
	tg.ReadBackups()
	got := e.Scrape("prod")
	lint(t, got)

	ts := func(t time.Time) string { return fmt.Sprint(t.Unix()) }
	for _, line := range []string{
		`dcs_backups_up{` + prodLabels + `} 1`,
		`dcs_instance_backup_last_failure_timestamp_seconds{` + prodLabels + `,instance_id="cl",error_code="dcs.08.0002"} ` + ts(at(4*time.Hour)),
		`dcs_instance_backup_in_progress{` + prodLabels + `,instance_id="cl"} 1`,
		`dcs_instance_backup_last_failure_timestamp_seconds{` + prodLabels + `,instance_id="ha",error_code="dcs.08.0008"} ` + ts(now),
		`dcs_instance_backup_in_progress{` + prodLabels + `,instance_id="quiet"} 0`,
		`dcs_instance_backup_in_progress{` + prodLabels + `,instance_id="ha"} 0`,
	} {
		if !strings.Contains(got, line+"\n") {
			t.Errorf("missing %s\n%s", line, linesOf(got, "backup"))
		}
	}
	for _, s := range series(got, "dcs_instance_backup_last_success_timestamp_seconds") {
		if strings.Contains(s, `instance_id="cl"`) && !strings.HasSuffix(s, " "+ts(at(2*time.Minute))) {
			t.Errorf("cl's last success: %s, want %s", s, ts(at(2*time.Minute)))
		}
	}
	if ids := instanceIDs(got, "dcs_instance_backup_last_success_timestamp_seconds"); !equalSets(ids, []string{"cl", "ha"}) {
		t.Errorf("last success for %v, want cl and ha (quiet has no backups)", ids)
	}
	if ids := instanceIDs(got, "dcs_instance_backup_in_progress"); !equalSets(ids, []string{"cl", "ha", "quiet"}) {
		t.Errorf("backups read for %v, want the three that can be backed up", ids)
	}
	if n := e.Srv.Requests(dcsapitest.APIBackups); n != 3 {
		t.Errorf("%d backup calls, want one per instance that can be backed up", n)
	}
	st := e.Exp.TargetStatuses()[0].Backups
	if st == nil || !st.Up || st.CallsLastHour != 3 || st.Eligible != 3 || st.Failed != 1 {
		t.Errorf("status page view: %+v", st)
	}
	// An hour on, the calls are out of the last hour.
	e.Clock.Advance(time.Hour)
	if st := e.Exp.TargetStatuses()[0].Backups; st.CallsLastHour != 0 {
		t.Errorf("calls in the last hour an hour later: %d", st.CallsLastHour)
	}
}

func equalSets(a, b []string) bool {
	m := map[string]int{}
	for _, s := range a {
		m[s]++
	}
	for _, s := range b {
		m[s]--
	}
	for _, n := range m {
		if n != 0 {
			return false
		}
	}
	return len(a) == len(b)
}

// TestBackupFailureShowsWithinOneInterval runs the pacer on the real clock
// with a one-second interval: once every instance has been read, a backup
// that fails shows in the metrics by its instance's next read, and so
// within one interval.
func TestBackupFailureShowsWithinOneInterval(t *testing.T) {
	const interval = time.Second
	e := newEnv(t, collector.Options{Now: time.Now, BackupsTick: 5 * time.Millisecond, BackupsInterval: interval}, backupsA)
	e.Srv.SetInstances(projectA, backupFleet())
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); e.Exp.Run(ctx) }()
	t.Cleanup(func() { cancel(); wg.Wait() })

	waitFor(t, func() bool {
		return len(series(e.Scrape("prod"), "dcs_instance_backup_in_progress")) == 3
	})
	if got := e.Scrape("prod"); len(series(got, "dcs_instance_backup_last_failure_timestamp_seconds")) != 0 {
		t.Fatalf("a failure before any was made:\n%s", linesOf(got, "failure"))
	}
	calls := e.Srv.Requests(dcsapitest.APIBackups)
	e.Srv.FailBackups(projectA, "ha", "dcs.08.0002")
	failed := time.Now()
	waitFor(t, func() bool {
		return len(series(e.Scrape("prod"), "dcs_instance_backup_last_failure_timestamp_seconds")) == 1
	})
	took := time.Since(failed)
	// The instance is read once per interval; under a loaded machine a
	// call may come late, never a whole interval late.
	if took > 2*interval {
		t.Errorf("the failure showed after %v, more than one interval (%v) after the next read was due", took, interval)
	}
	// Three instances in a second: about three calls since.
	if n := e.Srv.Requests(dcsapitest.APIBackups) - calls; n > 3*int(took/interval+2) {
		t.Errorf("%d calls in %v for 3 instances at one per second each", n, took)
	}
	t.Logf("the failure showed %v after it was made", took.Round(time.Millisecond))
	if !strings.Contains(e.Scrape("prod"), `instance_id="ha",error_code="dcs.08.0002"}`) {
		t.Error("the failure lacks its code")
	}
}

// TestBackupsPaced: the pacer spreads a round over the interval, one call
// at a time, and a cloud without the API costs one call per interval.
func TestBackupsWithoutAPI(t *testing.T) {
	e := newEnv(t, collector.Options{BackupsTick: time.Second}, backupsA)
	e.Srv.SetInstances(projectA, backupFleet())
	e.Srv.SetAPIAvailable(projectA, dcsapitest.APIBackups, false)
	e.Refresh("prod")
	tg := e.Exp.Target("prod")
	ctx := context.Background()
	// Driven by hand on the test clock: the schedule's tick is tg's
	// refresh. The round starts, its first call fails with 404.
	for range 3 {
		collector.TickBackups(ctx, tg)
		waitFor(t, func() bool { return collector.BackupsInFlight(tg) == 0 })
	}
	if n := e.Srv.Requests(dcsapitest.APIBackups); n != 1 {
		t.Errorf("%d calls to a missing API in one interval, want 1", n)
	}
	got := e.Scrape("prod")
	if v := sampleValue(t, got, "dcs_backups_up"); v != 0 {
		t.Errorf("dcs_backups_up = %v", v)
	}
	if !strings.Contains(e.Logs.String(), "set backups: false for this target") {
		t.Errorf("no hint in the log:\n%s", e.Logs.String())
	}
	// One interval (1h) later the next round tries again, once.
	e.Clock.Advance(time.Hour)
	for range 3 {
		collector.TickBackups(ctx, tg)
		waitFor(t, func() bool { return collector.BackupsInFlight(tg) == 0 })
	}
	if n := e.Srv.Requests(dcsapitest.APIBackups); n != 2 {
		t.Errorf("%d calls after two intervals, want 2", n)
	}
}

// TestBackupsNeedListing: backups: true without instances: true reads
// nothing and writes nothing.
func TestBackupsNeedListing(t *testing.T) {
	e := newEnv(t, collector.Options{}, targetA+"    backups: true\n")
	tg := e.Exp.Target("prod")
	tg.ReadBackups()
	collector.TickBackups(context.Background(), tg)
	if n := e.Srv.Requests(dcsapitest.APIBackups); n != 0 {
		t.Errorf("%d backup calls without a listing", n)
	}
	if got := e.Scrape("prod"); strings.Contains(got, "dcs_backups_up") {
		t.Error("dcs_backups_up written for a target that cannot read backups")
	}
	if st := e.Exp.TargetStatuses()[0].Backups; st == nil || st.Active {
		t.Errorf("status page view: %+v", st)
	}
}

// TestBackupsHonourThrottling: a 429 with Retry-After holds the target's
// backup calls (and its other calls) for as long as it asks.
func TestBackupsHonourThrottling(t *testing.T) {
	e := newEnv(t, collector.Options{BackupsTick: 500 * time.Millisecond, BackupsInterval: 3 * time.Second}, backupsA)
	e.Srv.SetInstances(projectA, backupFleet())
	e.Refresh("prod")
	tg := e.Exp.Target("prod")
	e.Srv.InjectFault(projectA, dcsapitest.APIBackups, dcsapitest.Fault{Kind: dcsapitest.FaultThrottle, RetryAfter: 40 * time.Second, Times: 1})
	tick := func() {
		collector.TickBackups(context.Background(), tg)
		waitFor(t, func() bool { return collector.BackupsInFlight(tg) == 0 })
	}
	tick()
	if n := e.Srv.Requests(dcsapitest.APIBackups); n != 1 {
		t.Fatalf("%d calls, want the throttled one", n)
	}
	for range 10 {
		e.Clock.Advance(3 * time.Second)
		tick()
	}
	if n := e.Srv.Requests(dcsapitest.APIBackups); n != 1 {
		t.Errorf("%d calls within the 40 s Retry-After, want none after the throttled one", n)
	}
	e.Clock.Advance(11 * time.Second)
	tick()
	if n := e.Srv.Requests(dcsapitest.APIBackups); n != 2 {
		t.Errorf("%d calls after Retry-After, want one more", n)
	}
}
