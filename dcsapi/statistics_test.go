package dcsapi_test

import (
	"errors"
	"math"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dcs-exporter/dcs_exporter/dcsapi"
	"github.com/dcs-exporter/dcs_exporter/dcsapi/dcsapitest"
)

// docStatisticsExample is the 200 answer of the v2 statistics API's
// documentation (OTC api-ref apis_v2_recommended/instance_management/
// querying_statistics_of_all_running_instances.rst), first two entries.
const docStatisticsExample = `{
  "statistics" : [ {
    "output_kbps" : "0.0",
    "instance_id" : "e008652d-18e0-43ff-924e-072261e0372a",
    "keys" : 0,
    "used_memory" : 0,
    "cmd_get_count" : 0,
    "used_cpu" : "0.0",
    "cmd_set_count" : 0,
    "input_kbps" : "0.0",
    "max_memory" : 460
  }, {
    "output_kbps" : "1.19",
    "instance_id" : "e8b98471-55d5-4695-b0bb-8f336a98e207",
    "keys" : 0,
    "used_memory" : 0,
    "cmd_get_count" : 0,
    "used_cpu" : "0.0",
    "cmd_set_count" : 0,
    "input_kbps" : "0.03",
    "max_memory" : 460
  } ]
}`

const allStatFields = dcsapi.StatKeys | dcsapi.StatUsedMemory | dcsapi.StatMaxMemory | dcsapi.StatCmdGetCount |
	dcsapi.StatCmdSetCount | dcsapi.StatUsedCPU | dcsapi.StatInputKbps | dcsapi.StatOutputKbps

func TestDecodeStatisticsDocumentedExample(t *testing.T) {
	r, err := dcsapi.DecodeStatistics([]byte(docStatisticsExample))
	if err != nil {
		t.Fatal(err)
	}
	want := []dcsapi.InstanceStatistic{
		{InstanceID: "e008652d-18e0-43ff-924e-072261e0372a", MaxMemoryMB: 460, Present: allStatFields},
		{InstanceID: "e8b98471-55d5-4695-b0bb-8f336a98e207", MaxMemoryMB: 460, InputKbps: 0.03, OutputKbps: 1.19, Present: allStatFields},
	}
	if !reflect.DeepEqual(r.Instances, want) {
		t.Errorf("got %+v\nwant %+v", r.Instances, want)
	}
	if r.Dropped.Total() != 0 || r.Duplicates != 0 {
		t.Errorf("dropped %v, %d duplicates", r.Dropped, r.Duplicates)
	}
}

// statEntry is one statistics entry with one field's raw JSON replaced.
func statEntry(id, field, raw string) string {
	fields := map[string]string{
		"instance_id": strconv.Quote(id), "keys": "7", "used_memory": "10", "max_memory": "100",
		"cmd_get_count": "5", "cmd_set_count": "6", "used_cpu": `"1.5"`, "input_kbps": `"2.25"`, "output_kbps": `"3"`,
	}
	if raw == "" {
		delete(fields, field)
	} else {
		fields[field] = raw
	}
	var parts []string
	for _, k := range []string{"instance_id", "keys", "used_memory", "max_memory", "cmd_get_count", "cmd_set_count", "used_cpu", "input_kbps", "output_kbps"} {
		if v, ok := fields[k]; ok {
			parts = append(parts, strconv.Quote(k)+":"+v)
		}
	}
	return "{" + strings.Join(parts, ",") + "}"
}

func TestDecodeStatisticsDropsOneFieldAtATime(t *testing.T) {
	bits := map[string]dcsapi.StatisticFields{
		"keys": dcsapi.StatKeys, "used_memory": dcsapi.StatUsedMemory, "max_memory": dcsapi.StatMaxMemory,
		"cmd_get_count": dcsapi.StatCmdGetCount, "cmd_set_count": dcsapi.StatCmdSetCount,
		"used_cpu": dcsapi.StatUsedCPU, "input_kbps": dcsapi.StatInputKbps, "output_kbps": dcsapi.StatOutputKbps,
	}
	badStrings := []string{`""`, `"N/A"`, `"1.2.3"`, `"NaN"`, `"nan"`, `"Inf"`, `"-Infinity"`, `"-1"`, `"-0"`, `"+1"`, `" 1"`, `"1 "`,
		`"0x10"`, `"1_000"`, `"1e999"`, `"."`, `"e5"`, `1.5`, `2`, `true`, `{}`, `[]`}
	badCounts := []string{`-1`, `1.5`, `1e3`, `"12"`, `99999999999999999999`, `true`, `{}`, `[1]`, `""`}
	for field, bit := range bits {
		bad := badCounts
		if field == "used_cpu" || field == "input_kbps" || field == "output_kbps" {
			bad = badStrings
		}
		for _, raw := range bad {
			body := `{"statistics":[` + statEntry("a", field, raw) + "," + statEntry("b", "", "") + `]}`
			r, err := dcsapi.DecodeStatistics([]byte(body))
			if err != nil {
				t.Fatalf("%s=%s: %v", field, raw, err)
			}
			if len(r.Instances) != 2 {
				t.Fatalf("%s=%s: %d instances", field, raw, len(r.Instances))
			}
			a := r.Instances[0]
			if a.Present != allStatFields&^bit || r.Instances[1].Present != allStatFields {
				t.Errorf("%s=%s: present %b and %b", field, raw, a.Present, r.Instances[1].Present)
			}
			if r.Dropped.Total() != 1 || r.Dropped[field] != 1 {
				t.Errorf("%s=%s: dropped %v", field, raw, r.Dropped)
			}
			if a.Keys+a.UsedMemoryMB+a.MaxMemoryMB+a.CmdGetCount+a.CmdSetCount == 0 || a.InstanceID != "a" {
				t.Errorf("%s=%s: the other fields went too: %+v", field, raw, a)
			}
		}
		// Absent and null are no value, not a bad one.
		for _, raw := range []string{"", "null"} {
			r, err := dcsapi.DecodeStatistics([]byte(`{"statistics":[` + statEntry("a", field, raw) + `]}`))
			if err != nil {
				t.Fatal(err)
			}
			if r.Instances[0].Has(bit) || r.Dropped.Total() != 0 {
				t.Errorf("%s=%q: present %b, dropped %v", field, raw, r.Instances[0].Present, r.Dropped)
			}
		}
	}
}

func TestDecodeStatisticsGoodStrings(t *testing.T) {
	for raw, want := range map[string]float64{`"0"`: 0, `"0.0"`: 0, `"0.03"`: 0.03, `"12"`: 12, `"1e3"`: 1000, `"1.5E-2"`: 0.015, `"007"`: 7} {
		r, err := dcsapi.DecodeStatistics([]byte(`{"statistics":[` + statEntry("a", "used_cpu", raw) + `]}`))
		if err != nil {
			t.Fatal(err)
		}
		if got := r.Instances[0]; !got.Has(dcsapi.StatUsedCPU) || got.UsedCPU != want {
			t.Errorf("used_cpu %s: got %v (present %v), want %v", raw, got.UsedCPU, got.Has(dcsapi.StatUsedCPU), want)
		}
	}
}

func TestDecodeStatisticsDuplicatesAndMissingIDs(t *testing.T) {
	body := `{"statistics":[` + strings.Join([]string{
		statEntry("a", "keys", "1"), statEntry("b", "", ""), statEntry("a", "keys", "2"),
		statEntry("", "", ""), `{"keys":3}`, statEntry("x", "instance_id", "5"), statEntry("a", "keys", "3"),
	}, ",") + `]}`
	r, err := dcsapi.DecodeStatistics([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Instances) != 2 || r.Instances[0].InstanceID != "a" || r.Instances[0].Keys != 1 || r.Instances[1].InstanceID != "b" {
		t.Errorf("got %+v, want a (the first, keys 1) and b", r.Instances)
	}
	if r.Duplicates != 2 || !reflect.DeepEqual(r.DuplicateIDs, []string{"a", "a"}) {
		t.Errorf("duplicates %d %v", r.Duplicates, r.DuplicateIDs)
	}
	if r.Dropped["instance_id"] != 3 {
		t.Errorf("dropped %v, want 3 entries without a usable instance_id", r.Dropped)
	}
}

func TestDecodeStatisticsShapes(t *testing.T) {
	for body, field := range map[string]string{
		"":                                   "",
		"  ":                                 "",
		"[]":                                 "",
		`"statistics"`:                       "",
		`{}`:                                 "statistics",
		`{"statistics":null}`:                "statistics",
		`{"statistics":{}}`:                  "statistics",
		`{"statistics":"a"}`:                 "statistics",
		`{"statistics":[1]}`:                 "statistics",
		`{"statistics":[[]]}`:                "statistics",
		`{"statistics":[{"instance_id":"a"}`: "",
		`{"statistics":[]} {}`:               "",
		`{"statistics":[],}`:                 "",
	} {
		_, err := dcsapi.DecodeStatistics([]byte(body))
		var de *dcsapi.DecodeError
		if !errors.As(err, &de) {
			t.Errorf("%q: got %v, want a DecodeError", body, err)
			continue
		}
		if de.API != dcsapi.APIStatistics || de.Field != field {
			t.Errorf("%q: API %q field %q, want field %q (%v)", body, de.API, de.Field, field, err)
		}
	}
	r, err := dcsapi.DecodeStatistics([]byte(`{"statistics":[],"other":{}}`))
	if err != nil || len(r.Instances) != 0 {
		t.Errorf("an empty project: %v, %v", r, err)
	}
}

// runningFleet is n RUNNING Redis instances of the sample fleet.
func runningFleet(n int) []dcsapitest.Instance {
	fleet := dcsapitest.SampleFleet(n)
	for i := range fleet {
		fleet[i].Status = "RUNNING"
	}
	return fleet
}

func TestInstanceStatisticsFromTheFake(t *testing.T) {
	for _, v := range []dcsapi.APIVersion{dcsapi.V2, dcsapi.V1} {
		t.Run(string(v), func(t *testing.T) {
			e := newEnv(t)
			fleet := dcsapitest.SampleFleet(40)
			e.srv.SetInstances(pid, fleet)
			at := time.Date(2026, 5, 4, 3, 2, 1, 0, time.UTC)
			e.srv.SetClock(func() time.Time { return at })
			c := e.client(func(o *dcsapi.Options) { o.APIVersion = v; o.Now = func() time.Time { return at } })
			r, err := c.InstanceStatistics(ctxFor(t, 10*time.Second))
			if err != nil {
				t.Fatal(err)
			}
			var want []dcsapi.InstanceStatistic
			for _, in := range fleet {
				st, ok := e.srv.StatisticOf(pid, in.ID)
				if ok != (in.Status == "RUNNING") {
					t.Fatalf("%s in %s: served %v", in.ID, in.Status, ok)
				}
				if ok {
					want = append(want, wantStatistic(t, in.ID, st))
				}
			}
			if len(want) < 30 || !reflect.DeepEqual(r.Instances, want) {
				t.Errorf("got %+v\nwant %+v", r.Instances, want)
			}
			if r.Dropped.Total() != 0 {
				t.Errorf("dropped %v", r.Dropped)
			}
			log := e.srv.RequestLog(dcsapitest.APIStatistics)
			prefix := map[dcsapi.APIVersion]string{dcsapi.V2: "/v2/", dcsapi.V1: "/v1.0/"}[v]
			if len(log) != 1 || log[0].Path != prefix+pid+"/instances/statistic" || len(log[0].Query) != 0 {
				t.Errorf("requests %+v", log)
			}
			if got := e.hookCalls(); !reflect.DeepEqual(got, []string{"instance_statistics 200"}) {
				t.Errorf("OnRequest calls %v", got)
			}
		})
	}
}

func wantStatistic(t *testing.T, id string, st dcsapitest.Statistic) dcsapi.InstanceStatistic {
	t.Helper()
	parse := func(s string) float64 {
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	return dcsapi.InstanceStatistic{
		InstanceID: id, Keys: st.Keys, UsedMemoryMB: st.UsedMemoryMB, MaxMemoryMB: st.MaxMemoryMB,
		CmdGetCount: st.CmdGetCount, CmdSetCount: st.CmdSetCount,
		UsedCPU: parse(st.UsedCPU), InputKbps: parse(st.InputKbps), OutputKbps: parse(st.OutputKbps), Present: allStatFields,
	}
}

func TestFakeStatisticsMoveWithTheClock(t *testing.T) {
	e := newEnv(t)
	fleet := runningFleet(20)
	e.srv.SetInstances(pid, fleet)
	at := time.Date(2026, 5, 4, 3, 0, 0, 0, time.UTC)
	e.srv.SetClock(func() time.Time { return at })
	before, _ := e.srv.StatisticOf(pid, fleet[0].ID)
	at = at.Add(3 * time.Minute)
	after, _ := e.srv.StatisticOf(pid, fleet[0].ID)
	if before.CmdGetCount >= after.CmdGetCount || before.UsedCPU == after.UsedCPU || before.InputKbps == after.InputKbps {
		t.Errorf("three minutes apart: %+v and %+v", before, after)
	}
	for _, in := range fleet {
		st, _ := e.srv.StatisticOf(pid, in.ID)
		// Memory stays within 1% of max of the listing's, so that a test's
		// instance at 95% stays there.
		if d := math.Abs(float64(st.UsedMemoryMB - in.UsedMemoryMB)); d > float64(in.MaxMemoryMB)/100+1 || st.MaxMemoryMB != in.MaxMemoryMB {
			t.Errorf("%s: used %d of %d, listing says %d", in.ID, st.UsedMemoryMB, st.MaxMemoryMB, in.UsedMemoryMB)
		}
	}
}

func TestInstanceStatisticsBadValuesFromTheFake(t *testing.T) {
	e := newEnv(t)
	fleet := runningFleet(3)
	e.srv.SetInstances(pid, fleet)
	e.srv.SetStatistic(pid, fleet[1].ID, &dcsapitest.Statistic{Keys: 5, MaxMemoryMB: 100, UsedCPU: "N/A", InputKbps: "", OutputKbps: "1.2.3"})
	c := e.client(nil)
	r, err := c.InstanceStatistics(ctxFor(t, 10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Instances) != 3 || r.Instances[1].Present != allStatFields&^(dcsapi.StatUsedCPU|dcsapi.StatInputKbps|dcsapi.StatOutputKbps) {
		t.Fatalf("got %+v", r.Instances)
	}
	if want := (dcsapi.FieldDrops{"used_cpu": 1, "input_kbps": 1, "output_kbps": 1}); !reflect.DeepEqual(r.Dropped, want) || r.Dropped.String() != "input_kbps=1 output_kbps=1 used_cpu=1" {
		t.Errorf("dropped %v", r.Dropped)
	}

	// Counts sent as strings are of the wrong type: each costs its field.
	e.srv.InjectFault(pid, dcsapitest.APIStatistics, dcsapitest.Fault{Kind: dcsapitest.FaultWrongTypes, Times: 1})
	r, err = c.InstanceStatistics(ctxFor(t, 10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if r.Dropped["keys"] != 3 || r.Dropped["max_memory"] != 3 || r.Instances[0].Has(dcsapi.StatKeys) || !r.Instances[0].Has(dcsapi.StatUsedCPU) {
		t.Errorf("wrong types: dropped %v, %+v", r.Dropped, r.Instances[0])
	}
}
