package collector

// Fuzz tests of what the collector makes of the node listing and the
// backup records, past dcsapi's decoders (whose own fuzzers check that no
// entry is lost unsaid): whatever a page holds (nodes without group_id,
// unknown states, roles and types, repeated ids, unparsable times), the
// series are a valid exposition without duplicates, every node is counted
// once, and the backup summary agrees with the records.

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/dcs-exporter/dcs_exporter/collector/exposition"
	"github.com/dcs-exporter/dcs_exporter/dcsapi"
)

// exposed renders a snapshot and parses it back, failing on an invalid
// exposition or a repeated series.
func exposed(t *testing.T, s *exposition.Snapshot) string {
	t.Helper()
	series, _ := exposition.Render(s, time.Unix(1e9, 0))
	text := exposition.AppendFamilies(nil, []*exposition.Series{series})
	p := expfmt.NewTextParser(model.UTF8Validation)
	if _, err := p.TextToMetricFamilies(bytes.NewReader(text)); err != nil {
		t.Fatalf("invalid exposition: %v\n%s", err, text)
	}
	seen := map[string]bool{}
	for line := range strings.SplitSeq(string(text), "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		key := line[:strings.LastIndexByte(line, ' ')]
		if seen[key] {
			t.Fatalf("series written twice: %s\n%s", key, text)
		}
		seen[key] = true
	}
	return string(text)
}

func FuzzNodesSeries(f *testing.F) {
	for _, seed := range []string{
		`{"count":1,"instances":[{"instance_id":"a","node_count":2,"nodes":[
			{"node_id":"n1","name":"m","status":"Active","node_role":"redis-server","node_type":"master","az_code":"az1","group_id":"g1","node_port":"6379"},
			{"node_id":"n2","name":"s","status":"Inactive","node_role":"redis-server","node_type":"slave","az_code":"az1","group_id":"g1"}]}]}`,
		// No group_id at all, as some clouds answer.
		`{"count":1,"instances":[{"instance_id":"a","nodes":[
			{"node_id":"n1","status":"Active","node_role":"redis-server","node_type":"master","az_code":"az1"},
			{"node_id":"n2","status":"Active","node_role":"redis-server","node_type":"slave","az_code":"az2"}]}]}`,
		// Unknown state, role and type; a repeated node id; a bad port.
		`{"count":2,"instances":[{"instance_id":"a","nodes":[
			{"node_id":"n1","status":"Rebooting","node_role":"redis-sentinel","node_type":"arbiter","node_port":"x"},
			{"node_id":"n1","status":"Active","node_role":"redis-server","node_type":"master","node_port":70000}]},
			{"instance_id":"b","nodes":[{"logical_node_id":"l1","status":7,"name":"q\"\n"}]}]}`,
		`{"count":0,"instances":[]}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		instances, count, _, err := dcsapi.DecodeNodes(body)
		if err != nil {
			return
		}
		// Each instance once, as the walk keeps it.
		byID := map[string]int{}
		var unique []dcsapi.InstanceNodes
		for _, in := range instances {
			if i, ok := byID[in.InstanceID]; ok {
				unique[i] = in
				continue
			}
			byID[in.InstanceID] = len(unique)
			unique = append(unique, in)
		}
		n := &nodesSource{}
		report := &dcsapi.NodesReport{Instances: unique, Count: count}
		n.keep(report)
		kept := n.keep(report) // a second walk of the same answer changes no master
		s := &exposition.Snapshot{Nodes: exposition.Nodes{On: true, Attempted: true, Up: true, LastSuccess: time.Unix(1e9, 0),
			Lines: exposition.RenderNodes(kept, dcsapi.DocumentedNodeStates())}}
		text := exposed(t, s)
		for _, in := range kept {
			if in.MasterChanges != 0 {
				t.Errorf("instance %q: %d master changes between two walks of one answer", in.InstanceID, in.MasterChanges)
			}
			if !strings.Contains(text, `dcs_instance_master_changes_total{instance_id="`+escaped(in.InstanceID)+`"} 0`) {
				t.Errorf("instance %q has no master changes series", in.InstanceID)
			}
		}
		// Every node counted once, under some type and status.
		nodes, counted := 0, 0.0
		for _, in := range kept {
			nodes += len(in.Nodes)
		}
		for line := range strings.SplitSeq(text, "\n") {
			if strings.HasPrefix(line, "dcs_instance_nodes{") {
				var v float64
				v, err := parseValue(line)
				if err != nil {
					t.Fatal(err)
				}
				counted += v
			}
		}
		if counted != float64(nodes) {
			t.Errorf("dcs_instance_nodes adds up to %v for %d nodes", counted, nodes)
		}
	})
}

func FuzzBackupSummary(f *testing.F) {
	for _, seed := range []string{
		`{"total_num":3,"backup_record_response":[
			{"backup_id":"a","status":"succeed","created_at":"2026-11-26T02:00:00Z","updated_at":"2026-11-26T02:05:00.123Z"},
			{"backup_id":"b","status":"failed","error_code":"dcs.08.0002","created_at":"2026-11-27T02:00:00Z","updated_at":"2026-11-27T02:30:00Z"},
			{"backup_id":"c","status":"backuping","created_at":"2026-11-27T09:59:00Z"}]}`,
		// Unparsable times, unknown states, a code that is an object.
		`{"total_num":2,"backup_record_response":[
			{"status":"failed","error_code":{},"created_at":"yesterday","updated_at":"2026-13-45T99:00:00Z"},
			{"status":"SUCCEED","updated_at":"20261127100000"},{"status":"restoring","updated_at":"2026-11-27 10:00:00"}]}`,
		``,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		records, _, _, err := dcsapi.DecodeBackups(body)
		if err != nil {
			return
		}
		r := summarizeBackups("i-1", records)
		for _, rec := range records {
			at := rec.UpdatedAt
			if at.IsZero() {
				at = rec.ExecutionAt
			}
			if at.IsZero() {
				at = rec.CreatedAt
			}
			switch rec.Status {
			case dcsapi.BackupSucceeded:
				if at.After(r.LastSuccess) {
					t.Errorf("a success at %v after the last success %v", at, r.LastSuccess)
				}
			case dcsapi.BackupFailed:
				if at.After(r.LastFailure) {
					t.Errorf("a failure at %v after the last failure %v", at, r.LastFailure)
				}
			case dcsapi.BackupWaiting, dcsapi.BackupRunning:
				if !r.InProgress {
					t.Error("a backup under way, not in progress")
				}
			}
		}
		s := &exposition.Snapshot{Backups: exposition.Backups{On: true, Attempted: true, Up: true,
			Lines: exposition.RenderBackups([]exposition.InstanceBackups{r})}}
		text := exposed(t, s)
		if !strings.Contains(text, `dcs_instance_backup_in_progress{instance_id="i-1"}`) {
			t.Errorf("no in-progress series:\n%s", text)
		}
	})
}

// escaped is a label value as the text format writes it.
func escaped(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s)
}

func parseValue(line string) (float64, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(line + "\n"))
	if err != nil {
		return 0, err
	}
	for _, f := range fams {
		return f.Metric[0].GetUntyped().GetValue(), nil
	}
	return 0, nil
}
