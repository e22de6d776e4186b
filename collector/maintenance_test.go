package collector

import (
	"strings"
	"testing"
	"time"

	"github.com/dcs-exporter/dcs_exporter/dcsapi"
	"github.com/dcs-exporter/dcs_exporter/dcsapi/dcsapitest"
)

// TestWindowActive checks windows that run within a day and past midnight,
// one second before, exactly at and one second after each boundary: the
// begin is inside the window, the end outside.
func TestWindowActive(t *testing.T) {
	for _, c := range []struct {
		begin, end string
		at         map[string]bool
	}{
		{"09:00:00", "11:00:00", map[string]bool{
			"00:00:00": false, "08:59:59": false, "09:00:00": true, "09:00:01": true,
			"10:59:59": true, "11:00:00": false, "11:00:01": false, "23:59:59": false,
		}},
		{"22:00:00", "02:00:00", map[string]bool{
			"21:59:59": false, "22:00:00": true, "23:59:59": true, "00:00:00": true,
			"01:59:59": true, "02:00:00": false, "02:00:01": false, "12:00:00": false,
		}},
		{"00:00:00", "00:00:01", map[string]bool{"23:59:59": false, "00:00:00": true, "00:00:01": false}},
		{"23:00:00", "00:00:00", map[string]bool{"22:59:59": false, "23:00:00": true, "23:59:59": true, "00:00:00": false}},
	} {
		w, problem := parseWindow(c.begin, c.end)
		if problem != windowUsable || !w.ok {
			t.Fatalf("%s-%s: refused (%d)", c.begin, c.end, problem)
		}
		for at, want := range c.at {
			sod, ok := secondOfDay(at)
			if !ok {
				t.Fatalf("bad test time %s", at)
			}
			if got := w.active(sod); got != want {
				t.Errorf("%s-%s at %s: active %t, want %t", c.begin, c.end, at, got, want)
			}
		}
	}
}

func TestWindowMalformed(t *testing.T) {
	for _, c := range []struct {
		begin, end string
		want       windowProblem
	}{
		{"", "", windowMissing},
		{"09:00:00", "", windowMalformed},
		{"", "11:00:00", windowMalformed},
		{"24:00:00", "02:00:00", windowMalformed},
		{"09:60:00", "11:00:00", windowMalformed},
		{"09:00:60", "11:00:00", windowMalformed},
		{"9:00:00", "11:00:00", windowMalformed},
		{"09:00", "11:00", windowMalformed},
		{"09:00:00Z", "11:00:00", windowMalformed},
		{"09-00-00", "11:00:00", windowMalformed},
		{"ab:cd:ef", "11:00:00", windowMalformed},
		{"+9:00:00", "11:00:00", windowMalformed},
		{"10:00:00", "10:00:00", windowMalformed}, // never, or always?
	} {
		if w, problem := parseWindow(c.begin, c.end); problem != c.want || w.ok {
			t.Errorf("%q-%q: problem %d (usable %t), want %d", c.begin, c.end, problem, w.ok, c.want)
		}
	}
}

// TestWindowSchedule renders a listing's window lines at several times:
// they hold, and are reused, until the next boundary of any instance,
// which may be on the next day.
func TestWindowSchedule(t *testing.T) {
	list := []listedInstance{
		{id: "a", window: mustWindow(t, "09:00:00", "11:00:00")},
		{id: "none"},
		{id: "b", window: mustWindow(t, "22:00:00", "02:00:00")},
	}
	s := newWindowSchedule(list)
	day := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
	at := func(h, m, sec int) time.Time { return day.Add(time.Duration(h*3600+m*60+sec) * time.Second) }
	for _, c := range []struct {
		now   time.Time
		lines string
		until time.Time
	}{
		{at(8, 59, 59), "a=0 b=0", at(9, 0, 0)},
		{at(9, 0, 0), "a=1 b=0", at(11, 0, 0)},
		{at(10, 59, 59).Add(999 * time.Millisecond), "a=1 b=0", at(11, 0, 0)},
		{at(11, 0, 0), "a=0 b=0", at(22, 0, 0)},
		{at(22, 0, 0), "a=0 b=1", at(24+2, 0, 0)},
		{at(23, 59, 59), "a=0 b=1", at(24+2, 0, 0)},
		{at(24, 0, 0), "a=0 b=1", at(24+2, 0, 0)},
		{at(24+2, 0, 0), "a=0 b=0", at(24+9, 0, 0)},
		{at(1, 0, 0).In(time.FixedZone("UTC+8", 8*3600)), "a=0 b=1", at(2, 0, 0)}, // a clock in another zone
	} {
		lines, until := s.at(c.now)
		if got := windowValues(string(lines)); got != c.lines || !until.Equal(c.until) {
			t.Errorf("at %v: %s until %v, want %s until %v", c.now, got, until, c.lines, c.until)
		}
	}

	// Within one stretch the lines are rendered once.
	first, _ := s.at(at(12, 0, 0))
	again, _ := s.at(at(21, 59, 59))
	if &first[0] != &again[0] {
		t.Error("the lines were rendered again between two boundaries")
	}
	if s := newWindowSchedule([]listedInstance{{id: "none"}}); s != nil {
		t.Error("a listing without windows has a schedule")
	}
}

func mustWindow(t *testing.T, begin, end string) dailyWindow {
	t.Helper()
	w, problem := parseWindow(begin, end)
	if problem != windowUsable {
		t.Fatalf("%s-%s refused", begin, end)
	}
	return w
}

// windowValues sums up window lines as "id=value ...".
func windowValues(lines string) string {
	var out []string
	for _, line := range strings.Split(strings.TrimSuffix(lines, "\n"), "\n") {
		id := instanceIDLabel.FindStringSubmatch(line)
		if id == nil {
			return "unparsable: " + lines
		}
		out = append(out, id[1]+"="+line[len(line)-1:])
	}
	return strings.Join(out, " ")
}

// TestRenderTargetValidityWindows checks that rendered series expire at the
// next window boundary, or earlier when stale counts expire first.
func TestRenderTargetValidityWindows(t *testing.T) {
	now := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	list := []listedInstance{{id: "a", window: mustWindow(t, "10:03:00", "11:00:00")}}
	report := &dcsapi.StatusReport{Total: map[string]int64{"running": 1}}
	for _, c := range []struct {
		statusAge time.Duration // of a failed target's counts, served for 5 minutes
		until     time.Time
	}{
		{0, now.Add(3 * time.Minute)},                // counts fresh: the boundary
		{4 * time.Minute, now.Add(time.Minute)},      // counts expire first
		{time.Minute, now.Add(3 * time.Minute)},      // the boundary comes first
		{10 * time.Minute, now.Add(3 * time.Minute)}, // counts long expired
	} {
		snap := targetSnapshot{
			labels: `target="prod"`, maxStaleness: 5 * time.Minute,
			status:  statusResult{report: report, attempted: true, up: c.statusAge == 0, lastSuccess: now.Add(-c.statusAge)},
			listed:  true,
			listing: listingResult{instances: list, lines: renderInstances(list, nil), windows: newWindowSchedule(list), attempted: true, up: true, lastSuccess: now},
		}
		out, until := renderTarget(&snap, now)
		if !until.Equal(c.until) {
			t.Errorf("counts %v old: valid until %v, want %v", c.statusAge, until, c.until)
		}
		if got := string(out.lines[famInstanceMaintenance]); got != `instance_id="a"} 0`+"\n" {
			t.Errorf("window line %q", got)
		}
	}
}

// TestCachedOutputChangesAtWindowBoundary serves /metrics in cached mode
// while the test clock crosses an instance's window boundaries. Nothing
// calls the API in between: the cached answer itself must expire.
func TestCachedOutputChangesAtWindowBoundary(t *testing.T) {
	e := newEnv(t, Options{RefreshInterval: time.Minute}, listedA)
	e.srv.SetInstances(projectA, []dcsapitest.Instance{
		{ID: "w1", Name: "soon", Engine: "Redis", Status: "RUNNING", MaintainBegin: "10:05:00", MaintainEnd: "10:10:00"},
		{ID: "w2", Name: "night", Engine: "Redis", Status: "RUNNING", MaintainBegin: "22:00:00", MaintainEnd: "02:00:00"},
	})
	e.refresh("prod") // also queries the status counts, for the cross-check
	active := func() string {
		var out []string
		for _, line := range series(e.scrape(""), "dcs_instance_maintenance_window_active") {
			out = append(out, instanceIDLabel.FindStringSubmatch(line)[1]+"="+line[len(line)-1:])
		}
		return strings.Join(out, " ")
	}
	calls := e.srv.Requests("")
	for _, step := range []struct {
		advance time.Duration
		want    string
	}{
		{0, "w1=0 w2=0"}, // 10:00:00
		{5*time.Minute - time.Millisecond, "w1=0 w2=0"}, // 10:04:59.999
		{time.Millisecond, "w1=1 w2=0"},                 // 10:05:00: the begin is inside
		{5*time.Minute - time.Second, "w1=1 w2=0"},      // 10:09:59
		{time.Second, "w1=0 w2=0"},                      // 10:10:00: the end is outside
		{12 * time.Hour, "w1=0 w2=1"},                   // 22:10:00
		{4 * time.Hour, "w1=0 w2=0"},                    // 02:10:00 the next day
	} {
		e.clock.Advance(step.advance)
		if got := active(); got != step.want {
			t.Errorf("at %s: %s, want %s", e.clock.Now().Format(time.TimeOnly+".000"), got, step.want)
		}
	}
	if n := e.srv.Requests(""); n != calls {
		t.Errorf("%d API calls while serving from the cache, want none", n-calls)
	}
}

// TestWindowProblemsLoggedOncePerListing lists instances without windows
// and with malformed ones: they get no window series, and each listing
// logs them in one line.
func TestWindowProblemsLoggedOncePerListing(t *testing.T) {
	e := newEnv(t, Options{}, listedA)
	e.srv.SetInstances(projectA, []dcsapitest.Instance{
		{ID: "ok", Engine: "Redis", Status: "RUNNING", MaintainBegin: "02:00:00", MaintainEnd: "06:00:00"},
		{ID: "none1", Engine: "Redis", Status: "RUNNING"},
		{ID: "none2", Engine: "Redis", Status: "RUNNING"},
		{ID: "bad1", Engine: "Redis", Status: "RUNNING", MaintainBegin: "2am", MaintainEnd: "06:00:00"},
		{ID: "bad2", Engine: "Redis", Status: "RUNNING", MaintainBegin: "25:00:00", MaintainEnd: "06:00:00"},
		{ID: "half", Engine: "Redis", Status: "RUNNING", MaintainBegin: "02:00:00"},
	})
	for listings := 1; listings <= 2; listings++ {
		e.refresh("prod")
		got := e.scrape("prod")
		if ids := instanceIDs(got, "dcs_instance_maintenance_window_active"); strings.Join(ids, ",") != "ok" {
			t.Errorf("window series for %v, want only ok", ids)
		}
		var logged []string
		for _, line := range strings.Split(e.logs.String(), "\n") {
			if strings.Contains(line, "no usable maintenance window") {
				logged = append(logged, line)
			}
		}
		if len(logged) != listings {
			t.Fatalf("after %d listings, %d log lines:\n%s", listings, len(logged), strings.Join(logged, "\n"))
		}
		for _, want := range []string{"level=WARN", "missing=2", "malformed=3", "example_instance_id=bad1", "maintain_begin=2am"} {
			if !strings.Contains(logged[0], want) {
				t.Errorf("the log line lacks %s: %s", want, logged[0])
			}
		}
	}
}
