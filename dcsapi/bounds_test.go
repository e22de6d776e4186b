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
