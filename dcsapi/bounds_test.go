package dcsapi_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/dcs-exporter/dcs_exporter/dcsapi"
)

// statusBody writes a status answer with the given engines, each with the
// given states, and the states at the top as well.
func statusBody(engines, states int, name func(i int) string) []byte {
	var b strings.Builder
	b.WriteString("{")
	for s := range states {
		fmt.Fprintf(&b, "%q: 1,", name(s)+"_count")
	}
	for e := range engines {
		fmt.Fprintf(&b, "%q: {", "engine"+fmt.Sprint(e))
		for s := range states {
			if s > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, "%q: 1", name(s)+"_count")
		}
		b.WriteString("},")
	}
	b.WriteString(`"x": 0}`)
	return []byte(b.String())
}

func state(i int) string { return fmt.Sprintf("state%d", i) }

// The status answer's bounds: 64 engines, 64 states (at the top and in each
// engine), names of 64 bytes; one more of any is refused with an error that
// names the bound, and a long name is quoted cut.
func TestStatusAnswerBounds(t *testing.T) {
	if _, err := dcsapi.DecodeStatus(statusBody(dcsapi.MaxStatusEngines, dcsapi.MaxStatusStates, state)); err != nil {
		t.Fatalf("an answer at the bounds is refused: %v", err)
	}
	longName := func(i int) string { return strings.Repeat("n", dcsapi.MaxStatusName) }
	if _, err := dcsapi.DecodeStatus(statusBody(1, 1, longName)); err != nil {
		t.Fatalf("a name of %d bytes is refused: %v", dcsapi.MaxStatusName, err)
	}
	topOnly := func(states int) []byte {
		var b strings.Builder
		b.WriteString("{")
		for s := range states {
			fmt.Fprintf(&b, "%q: 1,", state(s)+"_count")
		}
		b.WriteString(`"x": 0}`)
		return []byte(b.String())
	}
	inEngine := []byte(`{"redis": {` + strings.TrimSuffix(strings.TrimPrefix(string(topOnly(dcsapi.MaxStatusStates+1)), "{"), "}") + `}}`)
	for name, tc := range map[string]struct {
		body  []byte
		limit string
	}{
		"65 engines":              {statusBody(dcsapi.MaxStatusEngines+1, 1, state), "engines"},
		"65 states at the top":    {topOnly(dcsapi.MaxStatusStates + 1), "states per engine"},
		"65 states in engine":     {inEngine, "states per engine"},
		"a state name too long":   {[]byte(`{"` + strings.Repeat(`\u001b]0;n`, 20) + `_count": 1}`), "name length"},
		"an engine name too long": {[]byte(`{"` + strings.Repeat("e", 65) + `": {"running_count": 1}}`), "name length"},
		"340,000 keys":            {statusBody(0, 340000, state), "states per engine"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := dcsapi.DecodeStatus(tc.body)
			var limit *dcsapi.LimitError
			if !errors.As(err, &limit) || limit.Limit != tc.limit {
				t.Fatalf("got %v, want a LimitError of %q", err, tc.limit)
			}
			if text := err.Error(); !strings.Contains(text, tc.limit) || len(text) > 300 || strings.Contains(text, "\x1b") {
				t.Errorf("error %q: want the limit named, short and printable", redactCut(text))
			}
		})
	}
}

func redactCut(s string) string {
	if len(s) > 300 {
		return s[:300] + "…"
	}
	return s
}

// FuzzStatusKeys checks the status answer's bounds on any body: the decoder
// never panics; what it accepts has at most MaxStatusEngines engines and
// MaxStatusStates states at the top and in each, with names of at most
// MaxStatusName bytes; what it refuses, it refuses in a short printable
// error.
func FuzzStatusKeys(f *testing.F) {
	f.Add(statusBody(2, 13, state))
	f.Add(statusBody(dcsapi.MaxStatusEngines, dcsapi.MaxStatusStates, state))
	f.Add(statusBody(dcsapi.MaxStatusEngines+1, 1, state))
	f.Add(statusBody(1, dcsapi.MaxStatusStates+1, state))
	f.Add([]byte(`{"` + strings.Repeat(`\u001b`, 30) + `_count": 1, "redis": {"_count": 1, "x": {}}}`))
	f.Add([]byte(`{"REDIS": {"running_count": "1"}, "redis": {"running_count": 2}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := dcsapi.DecodeStatus(body)
		if err != nil {
			text := err.Error()
			if len(text) > 1024 {
				t.Fatalf("error of %d bytes", len(text))
			}
			for _, c := range text {
				if c < 0x20 || c == 0x7f || c == 0x1b {
					t.Fatalf("error %q holds a control character", text)
				}
			}
			return
		}
		if len(r.Engines) > dcsapi.MaxStatusEngines || len(r.Total) > dcsapi.MaxStatusStates {
			t.Fatalf("%d engines and %d states accepted", len(r.Engines), len(r.Total))
		}
		for engine, states := range r.Engines {
			if len(engine) > dcsapi.MaxStatusName || len(states) > dcsapi.MaxStatusStates {
				t.Fatalf("engine of %d bytes with %d states accepted", len(engine), len(states))
			}
			for s := range states {
				if len(s) > dcsapi.MaxStatusName {
					t.Fatalf("state of %d bytes accepted", len(s))
				}
			}
		}
		for s := range r.Total {
			if len(s) > dcsapi.MaxStatusName {
				t.Fatalf("state of %d bytes accepted", len(s))
			}
		}
	})
}
