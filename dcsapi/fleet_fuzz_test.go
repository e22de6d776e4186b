package dcsapi_test

// Fuzz targets and benchmarks of the fleet APIs' decoders. Short runs:
//
//	go test ./dcsapi/ -run '^$' -fuzz FuzzDecodeStatistics -fuzztime 30s
//	go test ./dcsapi/ -run '^$' -fuzz FuzzDecodeNodes -fuzztime 30s
//	go test ./dcsapi/ -run '^$' -fuzz FuzzDecodeBackups -fuzztime 30s
//	go test ./dcsapi/ -run '^$' -bench 'Statistics20k' -benchmem

import (
	"encoding/json"
	"errors"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/dcs-exporter/dcs_exporter/dcsapi"
	"github.com/dcs-exporter/dcs_exporter/dcsapi/dcsapitest"
)

// mustBeDecodeError fails unless err is nil or a DecodeError of api.
func mustBeDecodeError(t *testing.T, api string, err error) bool {
	t.Helper()
	if err == nil {
		return false
	}
	var de *dcsapi.DecodeError
	if !errors.As(err, &de) || de.API != api {
		t.Fatalf("error %v is not a DecodeError of %s", err, api)
	}
	return true
}

// entries counts the items of a top-level list field, when there is one.
func entries(body []byte, field string) (int, bool) {
	var doc map[string]json.RawMessage
	if json.Unmarshal(body, &doc) != nil {
		return 0, false
	}
	var list []json.RawMessage
	if json.Unmarshal(doc[field], &list) != nil {
		return 0, false
	}
	return len(list), true
}

func FuzzDecodeStatistics(f *testing.F) {
	f.Add([]byte(docStatisticsExample))
	f.Add(dcsapitest.StatisticsAnswer(runningFleet(3), time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)))
	f.Add([]byte(`{"statistics":[` + statEntry("a", "used_cpu", `"N/A"`) + "," + statEntry("a", "keys", "-1") + `,{}]}`))
	f.Add([]byte(`{"statistics":[{"instance_id":"x","input_kbps":"1e308","output_kbps":"1e309","used_cpu":"-0"}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := dcsapi.DecodeStatistics(body)
		if mustBeDecodeError(t, dcsapi.APIStatistics, err) {
			return
		}
		seen := map[string]bool{}
		for _, s := range r.Instances {
			if s.InstanceID == "" || seen[s.InstanceID] {
				t.Fatalf("instance id %q empty or repeated", s.InstanceID)
			}
			seen[s.InstanceID] = true
			for _, v := range []float64{s.UsedCPU, s.InputKbps, s.OutputKbps} {
				if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
					t.Fatalf("value %v in %+v", v, s)
				}
			}
			if s.Keys < 0 || s.UsedMemoryMB < 0 || s.MaxMemoryMB < 0 || s.CmdGetCount < 0 || s.CmdSetCount < 0 {
				t.Fatalf("negative count in %+v", s)
			}
		}
		// Every entry is kept, or counted as a duplicate or as one without
		// an id: none is lost unsaid.
		if n, ok := entries(body, "statistics"); ok && n != len(r.Instances)+r.Duplicates+r.Dropped["instance_id"] {
			t.Fatalf("%d entries, %d kept, %d duplicates, dropped %v", n, len(r.Instances), r.Duplicates, r.Dropped)
		}
	})
}

func FuzzDecodeNodes(f *testing.F) {
	f.Add([]byte(docNodesExample))
	f.Add([]byte(`{"count":2,"instances":[{"instance_id":"a","node_count":1,"nodes":[` + nodeJSON("group_id", "") + `,` +
		nodeJSON("status", `"Exploded"`) + `,` + nodeJSON("node_port", `"99999"`) + `,7]},{"nodes":{}}]}`))
	f.Add([]byte(`{"count":1,"instances":[{"instance_id":"a","nodes":[{"node_role":"REDIS-PROXY","node_type":null,"node_port":6379}]}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		instances, count, dropped, err := dcsapi.DecodeNodes(body)
		if mustBeDecodeError(t, dcsapi.APINodes, err) {
			return
		}
		if count < 0 || dropped == nil {
			t.Fatalf("count %d, dropped %v", count, dropped)
		}
		for _, in := range instances {
			if in.InstanceID == "" || in.NodeCount < -1 {
				t.Fatalf("instance %+v", in)
			}
			for _, n := range in.Nodes {
				if n.Status != "" && !slices.Contains(dcsapi.DocumentedNodeStates(), n.Status) ||
					n.Role != "" && n.Role != dcsapi.RoleRedisServer && n.Role != dcsapi.RoleRedisProxy ||
					n.Type != "" && n.Type != dcsapi.TypeMaster && n.Type != dcsapi.TypeSlave && n.Type != dcsapi.TypeProxy ||
					n.Port < 0 || n.Port > 65535 || n.PriorityWeight < 0 {
					t.Fatalf("node %+v", n)
				}
			}
		}
		if n, ok := entries(body, "instances"); ok && n != len(instances)+dropped["instance_id"] {
			t.Fatalf("%d entries, %d kept, dropped %v", n, len(instances), dropped)
		}
	})
}

func FuzzDecodeBackups(f *testing.F) {
	f.Add([]byte(docBackupsV2))
	f.Add([]byte(docBackupsV1))
	f.Add([]byte(`{"total_num":"2","backup_record_response":[{"status":"FAILED","created_at":"2019-05-10 08:31:16","updated_at":"yesterday","error_code":{}}]}`))
	f.Add([]byte(``))
	f.Fuzz(func(t *testing.T, body []byte) {
		records, total, dropped, err := dcsapi.DecodeBackups(body)
		if mustBeDecodeError(t, dcsapi.APIBackups, err) {
			return
		}
		if total < 0 || dropped == nil {
			t.Fatalf("total %d, dropped %v", total, dropped)
		}
		states := []string{dcsapi.BackupWaiting, dcsapi.BackupRunning, dcsapi.BackupSucceeded, dcsapi.BackupFailed, dcsapi.BackupExpired, dcsapi.BackupDeleted, ""}
		for _, r := range records {
			if !slices.Contains(states, r.Status) || r.Type != "" && r.Type != dcsapi.BackupAuto && r.Type != dcsapi.BackupManual {
				t.Fatalf("record %+v", r)
			}
			for _, at := range []time.Time{r.CreatedAt, r.UpdatedAt, r.ExecutionAt} {
				if !at.IsZero() && at.Location() != time.UTC {
					t.Fatalf("time %v is not in UTC", at)
				}
			}
		}
		if n, ok := entries(body, "backup_record_response"); ok && n != len(records) {
			t.Fatalf("%d entries, %d records", n, len(records))
		}
	})
}

// BenchmarkDecodeStatistics20k decodes the statistics answer of a project
// of 20,000 running instances, as the fake serves it.
func BenchmarkDecodeStatistics20k(b *testing.B) {
	body := dcsapitest.StatisticsAnswer(runningFleet(20000), time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		r, err := dcsapi.DecodeStatistics(body)
		if err != nil || len(r.Instances) != 20000 {
			b.Fatalf("%v, %d instances", err, len(r.Instances))
		}
	}
	b.ReportMetric(float64(len(body)), "body_bytes")
}

// BenchmarkInstanceStatistics20k is the whole call for 20,000 running
// instances over loopback: signing, the fake's answer, reading and
// decoding.
func BenchmarkInstanceStatistics20k(b *testing.B) {
	srv := dcsapitest.NewServer()
	defer srv.Close()
	srv.SetInstances(pid, runningFleet(20000))
	c, err := dcsapi.New(dcsapi.Options{
		Endpoint: srv.URL, ProjectID: pid,
		Credentials: dcsapi.StaticCredentials{AccessKey: dcsapitest.TestAccessKey, SecretKey: dcsapitest.TestSecretKey},
	})
	if err != nil {
		b.Fatal(err)
	}
	defer c.CloseIdleConnections()
	b.ReportAllocs()
	for b.Loop() {
		r, err := c.InstanceStatistics(b.Context())
		if err != nil || len(r.Instances) != 20000 {
			b.Fatalf("%v", err)
		}
	}
}
