package dcsapi

import (
	"errors"
	"maps"
	"reflect"
	"strings"
	"testing"
)

// docExample is the 200 answer from the API reference.
const docExample = `{ "extending_count" : 0, "creating_count" : 0, "running_count" : 16, "error_count" : 0, "frozen_count" : 0, "createfailed_count" : 44, "restarting_count" : 0, "paying_count" : 0, "freezing_count" : 0, "migrating_count" : 0, "flushing_count" : 0, "upgrading_count" : 0, "redis" : { "extending_count" : 0, "creating_count" : 0, "running_count" : 8, "error_count" : 0, "frozen_count" : 0, "createfailed_count" : 22, "restarting_count" : 0, "paying_count" : 0, "freezing_count" : 0, "migrating_count" : 0, "flushing_count" : 0, "upgrading_count" : 0 }, "memcached" : { "extending_count" : 0, "creating_count" : 0, "running_count" : 8, "error_count" : 0, "frozen_count" : 0, "createfailed_count" : 22, "restarting_count" : 0, "paying_count" : 0, "freezing_count" : 0, "migrating_count" : 0, "flushing_count" : 0, "upgrading_count" : 0 } }`

// v1Example has the v1.0 field set used by Open Telekom Cloud: 15 counts at
// the top level and a redis object of 11 (docs/api-facts.md §4.2).
const v1Example = `{"redis":{"creating_count":0,"restoring_count":0,"running_count":2,"error_count":1,"restarting_count":0,"createfailed_count":0,"extending_count":0,"upgrading_count":0,"paying_count":0,"migrating_count":0,"flushing_count":0},
"creating_count":0,"deleting_count":1,"running_count":2,"error_count":1,"restarting_count":0,"createfailed_count":0,"extending_count":0,"upgrading_count":0,
"paying_count":0,"migrating_count":0,"flushing_count":0,"closed_count":3,"starting_count":0,"closing_count":0,"restoring_count":0}`

func TestDecodeStatusDocumentedExample(t *testing.T) {
	r, err := DecodeStatus([]byte(docExample))
	if err != nil {
		t.Fatal(err)
	}
	if got := len(r.Total); got != 12 {
		t.Errorf("%d aggregate states, want the 12 in the example", got)
	}
	if r.Total["running"] != 16 || r.Total["createfailed"] != 44 {
		t.Errorf("aggregate = %v", r.Total)
	}
	if r.Engines["redis"]["running"] != 8 || r.Engines["memcached"]["createfailed"] != 22 {
		t.Errorf("engines = %v", r.Engines)
	}
	if !reflect.DeepEqual(slicesSorted(r.Engines), []string{"memcached", "redis"}) {
		t.Errorf("engines = %v", slicesSorted(r.Engines))
	}
}

func slicesSorted(m map[string]map[string]int64) []string { return sortedKeys(m) }

func TestDecodeStatusV1(t *testing.T) {
	r, err := DecodeStatus([]byte(v1Example))
	if err != nil {
		t.Fatal(err)
	}
	if r.Total["closed"] != 3 || r.Total["deleting"] != 1 || r.Engines["redis"]["error"] != 1 {
		t.Errorf("got %+v", r)
	}
	if _, ok := r.Engines["memcached"]; ok {
		t.Error("v1 has no memcached object")
	}
	// The example carries exactly the counts v1 documents.
	if got := sortedKeys(r.Total); !reflect.DeepEqual(got, DocumentedStates(V1)) {
		t.Errorf("top-level states %v, want %v", got, DocumentedStates(V1))
	}
	if got := sortedKeys(r.Engines["redis"]); !reflect.DeepEqual(got, DocumentedEngineStates(V1)) {
		t.Errorf("redis states %v, want %v", got, DocumentedEngineStates(V1))
	}
}

// TestDocumentedV1States pins the v1 lists to docs/api-facts.md §4.2: 15
// top-level counts, and engine objects with v2's 13 less freezing and
// frozen.
func TestDocumentedV1States(t *testing.T) {
	top := []string{"closed", "closing", "createfailed", "creating", "deleting", "error", "extending",
		"flushing", "migrating", "paying", "restarting", "restoring", "running", "starting", "upgrading"}
	if !reflect.DeepEqual(DocumentedStates(V1), top) {
		t.Errorf("v1 top-level states %v, want %v", DocumentedStates(V1), top)
	}
	var engine []string
	for _, s := range DocumentedStates(V2) {
		if s != "freezing" && s != "frozen" {
			engine = append(engine, s)
		}
	}
	if got := DocumentedEngineStates(V1); len(got) != 11 || !reflect.DeepEqual(got, engine) {
		t.Errorf("v1 engine states %v, want the 11 %v", got, engine)
	}
	if !reflect.DeepEqual(DocumentedEngineStates(V2), DocumentedStates(V2)) {
		t.Errorf("v2 engine objects have the 13 top-level states")
	}
}

func TestDecodeStatusNewStateAndEngine(t *testing.T) {
	body := `{"running_count":1,"hibernating_count":2,"valkey":{"running_count":3,"hibernating_count":4,"note":"x"},"links":"ignored","total":9}`
	r, err := DecodeStatus([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	want := &StatusReport{
		Total:   map[string]int64{"running": 1, "hibernating": 2},
		Engines: map[string]map[string]int64{"valkey": {"running": 3, "hibernating": 4}},
	}
	if !reflect.DeepEqual(r, want) {
		t.Fatalf("got %+v, want %+v", r, want)
	}
}

func TestDecodeStatusNullIsAbsent(t *testing.T) {
	r, err := DecodeStatus([]byte(`{"running_count":null,"redis":{"error_count":null,"running_count":1}}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := r.Total["running"]; ok {
		t.Error("null count reported")
	}
	if !maps.Equal(r.Engines["redis"], map[string]int64{"running": 1}) {
		t.Errorf("redis = %v", r.Engines["redis"])
	}
}

func TestDecodeStatusErrorsNameTheField(t *testing.T) {
	cases := []struct{ body, field, msg string }{
		{`{"running_count":"3"}`, "running_count", "got a string"},
		{`{"running_count":-1}`, "running_count", "negative count -1"},
		{`{"running_count":1.5}`, "running_count", "want an integer, got 1.5"},
		{`{"running_count":1e3}`, "running_count", "want an integer"},
		{`{"running_count":true}`, "running_count", "boolean"},
		{`{"running_count":[1]}`, "running_count", "array"},
		{`{"running_count":{}}`, "running_count", "object"},
		{`{"running_count":9223372036854775808}`, "running_count", "out of range"},
		{`{"redis":{"error_count":"x"}}`, "redis.error_count", "got a string"},
		{`{"redis":{"error_count":-2}}`, "redis.error_count", "negative"},
		{`{"redis":{"error_count":99999999999999999999999}}`, "redis.error_count", "out of range"},
	}
	for _, c := range cases {
		_, err := DecodeStatus([]byte(c.body))
		var de *DecodeError
		if !errors.As(err, &de) {
			t.Errorf("%s: err = %v, want a DecodeError", c.body, err)
			continue
		}
		if de.Field != c.field || !strings.Contains(err.Error(), c.msg) || !strings.Contains(err.Error(), c.field) {
			t.Errorf("%s: got %q (field %q), want field %q and %q", c.body, err, de.Field, c.field, c.msg)
		}
	}
}

func TestDecodeStatusBadBodies(t *testing.T) {
	for _, body := range []string{``, `   `, `[]`, `null`, `"x"`, `{"running_count":1`, `{"a":1}{"b":2}`, `<html>`} {
		if _, err := DecodeStatus([]byte(body)); err == nil {
			t.Errorf("%q decoded without error", body)
		}
	}
}

func TestDocumentedStates(t *testing.T) {
	if n := len(DocumentedStates(V2)); n != 13 {
		t.Errorf("v2 documents 13 states, have %d", n)
	}
	r, err := DecodeStatus([]byte(docExample))
	if err != nil {
		t.Fatal(err)
	}
	for state := range r.Total {
		found := false
		for _, s := range DocumentedStates(V2) {
			found = found || s == state
		}
		if !found {
			t.Errorf("state %s of the documented example is not a documented state", state)
		}
	}
	if !reflect.DeepEqual(DocumentedEngines(V1), []string{"redis"}) {
		t.Errorf("v1 engines = %v", DocumentedEngines(V1))
	}
}

// FuzzDecodeStatus checks that no input panics, and that whatever decodes
// holds only non-negative counts.
func FuzzDecodeStatus(f *testing.F) {
	for _, seed := range []string{docExample, v1Example, `{}`, `{"running_count":-1}`, `{"redis":{"x_count":1}}`,
		`{"a_count":9223372036854775807}`, `{"redis":[]}`, `{"_count":1}`, `{"redis":{"running_count":1e400}}`, "\x00"} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := DecodeStatus(body)
		if err != nil {
			if r != nil {
				t.Fatal("report returned with an error")
			}
			return
		}
		for s, n := range r.Total {
			if n < 0 || s == "" {
				t.Fatalf("bad aggregate %q=%d", s, n)
			}
		}
		for e, states := range r.Engines {
			for s, n := range states {
				if n < 0 || s == "" {
					t.Fatalf("bad count %s.%q=%d", e, s, n)
				}
			}
		}
	})
}

func BenchmarkDecodeStatus(b *testing.B) {
	body := []byte(docExample)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, err := DecodeStatus(body); err != nil {
			b.Fatal(err)
		}
	}
}

func TestStatusMemo(t *testing.T) {
	var m statusMemo
	body := []byte(docExample)
	first, err := m.decode(body)
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := m.decode([]byte(docExample)); again != first {
		t.Error("a repeated answer was decoded again")
	}
	// The same length, one count changed: a new answer.
	changed := []byte(strings.Replace(docExample, `"running_count" : 16`, `"running_count" : 17`, 1))
	if len(changed) != len(body) {
		t.Fatal("test body has a different length")
	}
	if r, _ := m.decode(changed); r == first || r.Total["running"] != 17 {
		t.Errorf("a changed answer of the same length was not decoded: %v", r.Total)
	}
	if _, err := m.decode([]byte(`{"running_count":"x"}`)); err == nil {
		t.Fatal("bad answer accepted")
	}
	if r, _ := m.decode(changed); r.Total["running"] != 17 {
		t.Error("a failed decode replaced the remembered answer")
	}
	other, err := m.decode([]byte(v1Example))
	if err != nil || other.Total["closed"] != 3 {
		t.Errorf("a changed answer was not decoded: %+v, %v", other, err)
	}
	v1 := []byte(v1Example)
	if n := testing.AllocsPerRun(100, func() { _, _ = m.decode(v1) }); n > 0 {
		t.Errorf("a repeated answer cost %.0f allocations", n)
	}
}
