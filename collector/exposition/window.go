package exposition

// This file decides whether instances are inside their daily maintenance
// windows, and renders dcs_instance_maintenance_window_active, whose values
// follow the clock rather than the listing.

import (
	"slices"
	"sync"
	"time"
)

// DailyWindow is an instance's daily maintenance window in seconds of the
// UTC day. It includes its begin and excludes its end, so that back-to-back
// windows never overlap and a scrape exactly at the end sees the window
// over; an end before the begin runs past midnight. The zero value is no
// window.
type DailyWindow struct {
	begin, end int32
	ok         bool
}

// WindowProblem says why an instance has no usable window.
type WindowProblem int8

const (
	WindowUsable    WindowProblem = iota
	WindowMissing                 // neither maintain_begin nor maintain_end was sent (or usable as a string)
	WindowMalformed               // not HH:mm:ss, only one end, or begin and end the same
)

// ParseWindow reads maintain_begin and maintain_end: "HH:mm:ss" in UTC,
// a daily window (OTC api-ref "Querying All DCS Instances",
// InstanceListInfo; the documented example has 18:00:00 to 19:00:00).
// A window whose begin equals its end is refused: it could mean never or
// always, and the API documents neither.
func ParseWindow(begin, end string) (DailyWindow, WindowProblem) {
	if begin == "" && end == "" {
		return DailyWindow{}, WindowMissing
	}
	b, okBegin := secondOfDay(begin)
	e, okEnd := secondOfDay(end)
	if !okBegin || !okEnd || b == e {
		return DailyWindow{}, WindowMalformed
	}
	return DailyWindow{begin: b, end: e, ok: true}, WindowUsable
}

// secondOfDay parses "HH:mm:ss", strictly.
func secondOfDay(s string) (int32, bool) {
	if len(s) != 8 || s[2] != ':' || s[5] != ':' {
		return 0, false
	}
	var n [3]int32
	for i := range n {
		hi, lo := s[3*i], s[3*i+1]
		if hi < '0' || hi > '9' || lo < '0' || lo > '9' {
			return 0, false
		}
		n[i] = int32(hi-'0')*10 + int32(lo-'0')
	}
	if n[0] > 23 || n[1] > 59 || n[2] > 59 {
		return 0, false
	}
	return n[0]*3600 + n[1]*60 + n[2], true
}

// active reports whether the second of the day sod is inside the window.
func (w DailyWindow) active(sod int32) bool {
	if w.begin < w.end {
		return w.begin <= sod && sod < w.end
	}
	return sod >= w.begin || sod < w.end // past midnight
}

// WindowSchedule serves a listing's dcs_instance_maintenance_window_active
// lines (without their heads, like the other per-instance families). They
// change only where some instance's window begins or ends, so they are
// rendered once per stretch between two such boundaries and kept until the
// next one; rendering also learns that time, to expire cached output then.
type WindowSchedule struct {
	instances []Instance // the listing's; never changed
	bounds    []int32    // seconds of the UTC day at which a window begins or ends; sorted, distinct

	mu          sync.Mutex
	from, until time.Time // lines hold from from, included, to until, excluded
	lines       []byte    // never changed once rendered: series still being written share it
}

// NewWindowSchedule returns the schedule of a listing, or nil when no
// instance has a usable window.
func NewWindowSchedule(list []Instance) *WindowSchedule {
	var bounds []int32
	for i := range list {
		if w := list[i].Window; w.ok {
			bounds = append(bounds, w.begin, w.end)
		}
	}
	if len(bounds) == 0 {
		return nil
	}
	slices.Sort(bounds)
	return &WindowSchedule{instances: list, bounds: slices.Compact(bounds)}
}

// at returns the lines as of now, and the time at which they change next.
func (s *WindowSchedule) at(now time.Time) ([]byte, time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lines != nil && !now.Before(s.from) && now.Before(s.until) {
		return s.lines, s.until
	}
	now = now.UTC()
	day := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	sod := int32(now.Sub(day) / time.Second)
	at := func(dayOffset int, second int32) time.Time {
		return day.AddDate(0, 0, dayOffset).Add(time.Duration(second) * time.Second)
	}
	// The boundaries around now: the last one at or before it, and the
	// first one after it, on the day before or after when now is outside
	// today's first and last.
	next, _ := slices.BinarySearch(s.bounds, sod+1)
	if next == len(s.bounds) {
		s.until = at(1, s.bounds[0])
	} else {
		s.until = at(0, s.bounds[next])
	}
	if next == 0 {
		s.from = at(-1, s.bounds[len(s.bounds)-1])
	} else {
		s.from = at(0, s.bounds[next-1])
	}

	size := 0
	for i := range s.instances {
		if s.instances[i].Window.ok {
			size += len(`instance_id=""} 0`+"\n") + len(s.instances[i].ID)
		}
	}
	b := make([]byte, 0, size)
	for i := range s.instances {
		in := &s.instances[i]
		if in.Window.ok {
			b = appendTail(b, boolValue(in.Window.active(sod)), labelPair{"instance_id", in.ID})
		}
	}
	s.lines = b
	return s.lines, s.until
}
