package exposition

import (
	"strings"
	"testing"
	"time"
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
		w, problem := ParseWindow(c.begin, c.end)
		if problem != WindowUsable || !w.ok {
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
		want       WindowProblem
	}{
		{"", "", WindowMissing},
		{"09:00:00", "", WindowMalformed},
		{"", "11:00:00", WindowMalformed},
		{"24:00:00", "02:00:00", WindowMalformed},
		{"09:60:00", "11:00:00", WindowMalformed},
		{"09:00:60", "11:00:00", WindowMalformed},
		{"9:00:00", "11:00:00", WindowMalformed},
		{"09:00", "11:00", WindowMalformed},
		{"09:00:00Z", "11:00:00", WindowMalformed},
		{"09-00-00", "11:00:00", WindowMalformed},
		{"ab:cd:ef", "11:00:00", WindowMalformed},
		{"+9:00:00", "11:00:00", WindowMalformed},
		{"10:00:00", "10:00:00", WindowMalformed}, // never, or always?
	} {
		if w, problem := ParseWindow(c.begin, c.end); problem != c.want || w.ok {
			t.Errorf("%q-%q: problem %d (usable %t), want %d", c.begin, c.end, problem, w.ok, c.want)
		}
	}
}

// TestWindowSchedule renders a listing's window lines at several times:
// they hold, and are reused, until the next boundary of any instance,
// which may be on the next day.
func TestWindowSchedule(t *testing.T) {
	list := []Instance{
		{ID: "a", Window: mustWindow(t, "09:00:00", "11:00:00")},
		{ID: "none"},
		{ID: "b", Window: mustWindow(t, "22:00:00", "02:00:00")},
	}
	s := NewWindowSchedule(list)
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
	if s := NewWindowSchedule([]Instance{{ID: "none"}}); s != nil {
		t.Error("a listing without windows has a schedule")
	}
}

func mustWindow(t *testing.T, begin, end string) DailyWindow {
	t.Helper()
	w, problem := ParseWindow(begin, end)
	if problem != WindowUsable {
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
	list := []Instance{{ID: "a", Window: mustWindow(t, "10:03:00", "11:00:00")}}
	report := &Counts{Total: map[string]int64{"running": 1}}
	for _, c := range []struct {
		statusAge time.Duration // of a failed target's counts, served for 5 minutes
		until     time.Time
	}{
		{0, now.Add(3 * time.Minute)},                // counts fresh: the boundary
		{4 * time.Minute, now.Add(time.Minute)},      // counts expire first
		{time.Minute, now.Add(3 * time.Minute)},      // the boundary comes first
		{10 * time.Minute, now.Add(3 * time.Minute)}, // counts long expired
	} {
		snap := Snapshot{
			Labels: `target="prod"`, MaxStaleness: 5 * time.Minute,
			Status:  Status{Counts: report, Documented: v2, Attempted: true, Up: c.statusAge == 0, LastSuccess: now.Add(-c.statusAge)},
			Listed:  true,
			Listing: Listing{Lines: RenderInstances(list, nil), Windows: NewWindowSchedule(list), Attempted: true, Up: true, LastSuccess: now},
		}
		out, until := Render(&snap, now)
		if !until.Equal(c.until) {
			t.Errorf("counts %v old: valid until %v, want %v", c.statusAge, until, c.until)
		}
		if got := string(out.Lines(FamInstanceMaintenance)); got != `instance_id="a"} 0`+"\n" {
			t.Errorf("window line %q", got)
		}
	}
}
