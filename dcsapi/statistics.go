// This file reads the statistics of a project's running instances: keys,
// memory, commands, CPU and network of every one of them in one call.

package dcsapi

import (
	"context"
	"encoding/json"
	"errors"
)

// APIStatistics names the statistics call in errors and request counts.
const APIStatistics = "instance_statistics"

// InstanceStatistic is one running instance's entry in the statistics
// answer (SDK services/dcs/v2/model/model_instance_statistic.go, v0.1.207;
// OTC api-ref "Querying Statistics of All Running Instances"). A value the
// API sent in a form that cannot mean a number is left out, and only that
// value: Present says which ones came. The units are the API's; see
// docs/fleet-apis.md for what the sources say each one means.
type InstanceStatistic struct {
	InstanceID   string
	Keys         int64
	UsedMemoryMB int64
	MaxMemoryMB  int64
	CmdGetCount  int64
	CmdSetCount  int64
	// The API sends these three as strings ("0.03"). The sources disagree
	// on their units: see docs/fleet-apis.md.
	UsedCPU    float64
	InputKbps  float64
	OutputKbps float64
	Present    StatisticFields
}

// StatisticFields is a set of the fields of an InstanceStatistic.
type StatisticFields uint16

// The fields of an InstanceStatistic that may be absent.
const (
	StatKeys StatisticFields = 1 << iota
	StatUsedMemory
	StatMaxMemory
	StatCmdGetCount
	StatCmdSetCount
	StatUsedCPU
	StatInputKbps
	StatOutputKbps
)

// Has reports whether every field of f came with a usable value.
func (s *InstanceStatistic) Has(f StatisticFields) bool { return s.Present&f == f }

// StatisticsReport is one decoded statistics answer.
type StatisticsReport struct {
	// Instances in the API's order, each instance once.
	Instances []InstanceStatistic
	// Dropped counts the values left out, by JSON field name; an entry
	// without a usable instance_id is skipped whole and counted under
	// "instance_id".
	Dropped FieldDrops
	// Duplicates counts the entries skipped because their instance_id came
	// before; the first entry of an instance is the one kept.
	// DuplicateIDs names the first few of those instances.
	Duplicates   int
	DuplicateIDs []string
}

// maxReportedIDs bounds the instance ids a report names for one problem:
// enough for a log line, not a copy of the fleet.
const maxReportedIDs = 5

// InstanceStatistics returns the statistics of every running instance of
// the project: GET /v2/{project_id}/instances/statistic (the SDK's
// ListStatisticsOfRunningInstances), or GET /v1.0/{project_id}/instances/
// statistic on a v1 client (OTC api-ref outdated_apis_v1 "Querying
// Statistics of All Running Instances"); the two answer with the same
// fields. The call takes no parameters and has no paging.
func (c *Client) InstanceStatistics(ctx context.Context) (*StatisticsReport, error) {
	pid, err := c.ProjectID(ctx)
	if err != nil {
		return nil, err
	}
	var report *StatisticsReport
	err = c.call(ctx, APIStatistics, c.endpoint, c.fleetPrefix()+pid+"/instances/statistic", "", pid, func(body []byte) error {
		var derr error
		report, derr = DecodeStatistics(body)
		return derr
	})
	return report, err
}

// fleetPrefix is the path prefix of the fleet APIs for the client's API
// version.
func (c *Client) fleetPrefix() string {
	if c.opts.APIVersion == V1 {
		return "/v1.0/"
	}
	return "/v2/"
}

// wireStatistic is InstanceStatistic as sent; every field judges its own
// value, so that one odd value costs only itself.
type wireStatistic struct {
	InstanceID  textField     `json:"instance_id"`
	Keys        countValue    `json:"keys"`
	UsedMemory  countValue    `json:"used_memory"`
	MaxMemory   countValue    `json:"max_memory"`
	CmdGetCount countValue    `json:"cmd_get_count"`
	CmdSetCount countValue    `json:"cmd_set_count"`
	UsedCPU     decimalString `json:"used_cpu"`
	InputKbps   decimalString `json:"input_kbps"`
	OutputKbps  decimalString `json:"output_kbps"`
}

// DecodeStatistics parses a statistics answer, {"statistics": [...]}. A
// body that is not a JSON object, a missing or null "statistics", or one
// that is not a list of objects, is a DecodeError: the answer is not of the
// documented shape. Within an entry each value stands alone: one that
// cannot be used is left out and counted in Dropped.
func DecodeStatistics(body []byte) (*StatisticsReport, error) {
	if firstByte(body) != '{' {
		return nil, shapeError(APIStatistics, body)
	}
	var doc struct {
		Statistics *[]wireStatistic `json:"statistics"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, decodeFailure(APIStatistics, err)
	}
	if doc.Statistics == nil {
		return nil, &DecodeError{API: APIStatistics, Field: "statistics", Err: errMissing}
	}
	wire := *doc.Statistics
	r := &StatisticsReport{Instances: make([]InstanceStatistic, 0, len(wire)), Dropped: FieldDrops{}}
	seen := make(map[string]struct{}, len(wire))
	for i := range wire {
		w := &wire[i]
		if w.InstanceID.st != fieldOK || w.InstanceID.v == "" {
			r.Dropped.add("instance_id")
			continue
		}
		if _, dup := seen[w.InstanceID.v]; dup {
			r.Duplicates++
			if len(r.DuplicateIDs) < maxReportedIDs {
				r.DuplicateIDs = append(r.DuplicateIDs, w.InstanceID.v)
			}
			continue
		}
		seen[w.InstanceID.v] = struct{}{}
		s := InstanceStatistic{InstanceID: w.InstanceID.v}
		for _, f := range [...]struct {
			v    countValue
			dst  *int64
			bit  StatisticFields
			name string
		}{
			{w.Keys, &s.Keys, StatKeys, "keys"},
			{w.UsedMemory, &s.UsedMemoryMB, StatUsedMemory, "used_memory"},
			{w.MaxMemory, &s.MaxMemoryMB, StatMaxMemory, "max_memory"},
			{w.CmdGetCount, &s.CmdGetCount, StatCmdGetCount, "cmd_get_count"},
			{w.CmdSetCount, &s.CmdSetCount, StatCmdSetCount, "cmd_set_count"},
		} {
			if f.v.st == fieldOK {
				*f.dst, s.Present = f.v.v, s.Present|f.bit
			}
			f.v.st.note(r.Dropped, f.name)
		}
		for _, f := range [...]struct {
			v    decimalString
			dst  *float64
			bit  StatisticFields
			name string
		}{
			{w.UsedCPU, &s.UsedCPU, StatUsedCPU, "used_cpu"},
			{w.InputKbps, &s.InputKbps, StatInputKbps, "input_kbps"},
			{w.OutputKbps, &s.OutputKbps, StatOutputKbps, "output_kbps"},
		} {
			if f.v.st == fieldOK {
				*f.dst, s.Present = f.v.v, s.Present|f.bit
			}
			f.v.st.note(r.Dropped, f.name)
		}
		r.Instances = append(r.Instances, s)
	}
	return r, nil
}

// decodeFailure is the DecodeError of an answer encoding/json could not
// take, naming the field whose type was wrong when there is one.
func decodeFailure(api string, err error) *DecodeError {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return &DecodeError{API: api, Field: te.Field, Err: err}
	}
	return &DecodeError{API: api, Err: err}
}
