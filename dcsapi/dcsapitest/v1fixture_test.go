package dcsapitest_test

import (
	"encoding/json"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/dcs-exporter/dcs_exporter/dcsapi"
	"github.com/dcs-exporter/dcs_exporter/dcsapi/dcsapitest"
)

// TestV1AnswerHasDocumentedCounts keeps the fake's v1 status answer to the
// counts dcsapi documents for v1 (docs/api-facts.md §4.2): 15 at the top
// level, 11 in the redis object, no memcached. (A state v1 does not know,
// such as FROZEN, comes through as an extra count; the fleet here has none.)
func TestV1AnswerHasDocumentedCounts(t *testing.T) {
	f := newFixture(t)
	var fleet []dcsapitest.Instance
	for _, in := range dcsapitest.SampleFleet(25) {
		if slices.Contains(dcsapi.DocumentedEngineStates(dcsapi.V1), strings.ToLower(in.Status)) {
			fleet = append(fleet, in)
		}
	}
	if len(fleet) < 10 {
		t.Fatalf("only %d instances of the sample fleet are in v1 states", len(fleet))
	}
	f.srv.SetInstances(pid, fleet)
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(f.get("/v1.0/"+pid+"/instances/status?include_failure=true", testCreds, time.Time{}, nil).body, &doc); err != nil {
		t.Fatal(err)
	}
	var top, engines []string
	for k := range doc {
		if state, ok := strings.CutSuffix(k, "_count"); ok {
			top = append(top, state)
		} else {
			engines = append(engines, k)
		}
	}
	sort.Strings(top)
	if !reflect.DeepEqual(top, dcsapi.DocumentedStates(dcsapi.V1)) {
		t.Errorf("top-level counts %v, want %v", top, dcsapi.DocumentedStates(dcsapi.V1))
	}
	if !reflect.DeepEqual(engines, dcsapi.DocumentedEngines(dcsapi.V1)) {
		t.Errorf("engine objects %v, want %v", engines, dcsapi.DocumentedEngines(dcsapi.V1))
	}
	var redis map[string]int
	if err := json.Unmarshal(doc["redis"], &redis); err != nil {
		t.Fatal(err)
	}
	var states []string
	for k := range redis {
		states = append(states, strings.TrimSuffix(k, "_count"))
	}
	sort.Strings(states)
	if !reflect.DeepEqual(states, dcsapi.DocumentedEngineStates(dcsapi.V1)) {
		t.Errorf("redis counts %v, want %v", states, dcsapi.DocumentedEngineStates(dcsapi.V1))
	}
}
