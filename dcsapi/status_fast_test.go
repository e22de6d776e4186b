package dcsapi

import (
	"reflect"
	"strings"
	"testing"
)

// fastPathSeeds are bodies the fast path must either decode exactly as the
// slow decoder does or leave to it.
var fastPathSeeds = []string{
	docExample, v1Example, `{}`, ` { } `, `{"running_count":0}`, `{"running_count":9223372036854775807}`,
	`{"running_count":9223372036854775808}`, `{"running_count":01}`, `{"running_count":-0}`, `{"running_count":1.0}`,
	`{"running_count":null}`, `{"running_count":1,"running_count":2}`, `{"redis":{},"redis":5}`, `{"redis":5,"redis":{"a_count":1}}`,
	`{"redis":{"a_count":1,"a_count":2}}`, `{"run\u006eing_count":1}`, "{\"\xff_count\":1}", `{"_count":{"_count":1}}`,
	`{"x":[1,2,{"a":[true,false,null,"s\"\\\/\b\f\n\r\t\u00e9"]}],"y":-1.5e+10,"z":0.5E-3,"w":""}`,
	`{"a":1} `, `{"a":1}]`, `{"a":1}x`, `{"a":01}`, `{"a":1.}`, `{"a":.5}`, `{"a":-}`, `{"a":1e}`, `{"a":"\x01"}`,
	`{"a":"\u12"}`, `{"a":"\q"}`, `{"a":tru}`, `{"a":[1,]}`, `{"a":{"b":1,}}`, `{,}`, `{"a" 1}`, `{"a":1,}`,
	`{"redis":{"running_count":1},"memcached":{"running_count":2,"note":{"deep":[[[]]]}}}`,
}

func TestFastPathAgreesWithSlow(t *testing.T) {
	for _, body := range fastPathSeeds {
		checkFastPath(t, []byte(body))
	}
	// The documented example must take the fast path.
	if _, ok := decodeStatusFast([]byte(docExample)); !ok {
		t.Error("the documented example is not decoded by the fast path")
	}
	if _, ok := decodeStatusFast([]byte(v1Example)); !ok {
		t.Error("the v1 example is not decoded by the fast path")
	}
}

func checkFastPath(t *testing.T, body []byte) {
	t.Helper()
	fast, ok := decodeStatusFast(body)
	if !ok {
		return
	}
	slow, err := decodeStatusSlow(body)
	if err != nil {
		t.Fatalf("%q: fast path accepted what the slow decoder rejects: %v", body, err)
	}
	if !reflect.DeepEqual(fast, slow) {
		t.Fatalf("%q: fast path %+v, slow %+v", body, fast, slow)
	}
}

// FuzzFastPathAgreesWithSlow looks for a body on which the two decoders
// disagree.
func FuzzFastPathAgreesWithSlow(f *testing.F) {
	for _, seed := range fastPathSeeds {
		f.Add([]byte(seed))
	}
	f.Fuzz(checkFastPath)
}

func TestFastPathAllocations(t *testing.T) {
	body := []byte(docExample)
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := DecodeStatus(body); err != nil {
			t.Fatal(err)
		}
	})
	// The report, its two maps and one map per engine; a few more for the
	// maps' tables. encoding/json took about 170.
	if allocs > 16 {
		t.Errorf("DecodeStatus made %.0f allocations, want at most 16", allocs)
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

// BenchmarkDecodeStatusSlow is the encoding/json decoder that DecodeStatus
// falls back to, for comparison with BenchmarkDecodeStatus.
func BenchmarkDecodeStatusSlow(b *testing.B) {
	body := []byte(docExample)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, err := decodeStatusSlow(body); err != nil {
			b.Fatal(err)
		}
	}
}
