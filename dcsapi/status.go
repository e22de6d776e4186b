// This file decodes the status API's answer, and remembers the last one so
// that a repeated answer is not decoded again.

package dcsapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/dcs-exporter/dcs_exporter/internal/redact"
)

// StatusReport holds the instance counts of one project, as the status API
// returns them: an aggregate over all engines, and the same per engine.
// States are named without the "_count" suffix (running_count -> running).
type StatusReport struct {
	Total   map[string]int64
	Engines map[string]map[string]int64
}

// APIVersion selects the status API: v2 on Huawei Cloud, v1 (v1.0 paths) on
// Open Telekom Cloud and other clouds that lag behind.
type APIVersion string

// The supported status API versions.
const (
	V1 APIVersion = "v1"
	V2 APIVersion = "v2"
)

// The states and engines each API version documents. The exporter reports
// them as 0 when the API leaves them out; anything else the API sends is
// reported as it comes.
var (
	statesV2 = []string{
		"createfailed", "creating", "error", "extending", "flushing", "freezing", "frozen",
		"migrating", "paying", "restarting", "restoring", "running", "upgrading",
	}
	statesV1 = []string{
		"closed", "closing", "createfailed", "creating", "deleting", "error", "extending",
		"flushing", "migrating", "paying", "restarting", "restoring", "running", "starting", "upgrading",
	}
	// A v1 engine object (StatusStatistic) has 11 counts: v2's without
	// freezing and frozen (Open Telekom Cloud's v1 API reference;
	// docs/api-facts.md §4.2).
	statesV1Engine = []string{
		"createfailed", "creating", "error", "extending", "flushing", "migrating",
		"paying", "restarting", "restoring", "running", "upgrading",
	}
	enginesV2 = []string{"memcached", "redis"}
	enginesV1 = []string{"redis"}
)

// DocumentedStates returns the states the given API version documents,
// sorted. The caller must not modify the slice.
func DocumentedStates(v APIVersion) []string {
	if v == V1 {
		return statesV1
	}
	return statesV2
}

// DocumentedEngineStates returns the states an engine object of the given
// API version documents, sorted. The caller must not modify the slice.
func DocumentedEngineStates(v APIVersion) []string {
	if v == V1 {
		return statesV1Engine
	}
	return statesV2
}

// DocumentedEngines returns the engine objects the given API version
// documents, sorted. The caller must not modify the slice.
func DocumentedEngines(v APIVersion) []string {
	if v == V1 {
		return enginesV1
	}
	return enginesV2
}

const countSuffix = "_count"

// statusMemo remembers a client's last status answer and its report. The
// counts of a project rarely change from one query to the next, so most
// answers repeat the previous one byte for byte; recognising that replaces
// decoding ~600 bytes into four maps. The answer is remembered by its
// length and two 64-bit hashes with random seeds rather than by a copy: the
// exporter keeps one memo per target, and a false match (about one in
// 2^128) needs no attacker-proof hash to be out of reach.
type statusMemo struct {
	last atomic.Pointer[decodedStatus]
}

type decodedStatus struct {
	size   int
	sum    [2]uint64
	report *StatusReport
}

var memoSeeds = [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()}

// decode returns the report of body, the remembered one if body repeats the
// last answer. body is not retained.
func (m *statusMemo) decode(body []byte) (*StatusReport, error) {
	sum := [2]uint64{maphash.Bytes(memoSeeds[0], body), maphash.Bytes(memoSeeds[1], body)}
	if last := m.last.Load(); last != nil && last.size == len(body) && last.sum == sum {
		return last.report, nil
	}
	r, err := DecodeStatus(body)
	if err != nil {
		return nil, err
	}
	m.last.Store(&decodedStatus{size: len(body), sum: sum, report: r})
	return r, nil
}

// DecodeStatus parses a status API answer. It is generic on purpose: every
// top-level "*_count" number is an aggregate state, every top-level object is
// an engine whose "*_count" numbers are its states, so a state or an engine
// the API adds later comes through without a code change. Other fields are
// ignored. Counts must be non-negative integers that fit in int64; a count
// that is not is an error naming the field. A null count is treated as
// absent, as the SDK's optional fields do.
//
// Most answers never get here: the client's statusMemo recognises an answer
// that repeats the previous one, which is what a project's counts usually do.
func DecodeStatus(body []byte) (*StatusReport, error) {
	var top map[string]json.RawMessage
	if err := decodeObject(body, &top); err != nil {
		return nil, &DecodeError{API: APIInstanceStatus, Err: err}
	}
	r := &StatusReport{Total: map[string]int64{}, Engines: map[string]map[string]int64{}}
	if err := checkStatusKeys(top, ""); err != nil {
		return nil, err
	}
	for _, key := range sortedKeys(top) {
		raw := top[key]
		if state, ok := strings.CutSuffix(key, countSuffix); ok && state != "" {
			n, present, err := parseCount(raw)
			if err != nil {
				return nil, &DecodeError{API: APIInstanceStatus, Field: redact.Key(key), Err: err}
			}
			if present {
				r.Total[state] = n
			}
			continue
		}
		if firstByte(raw) != '{' {
			continue
		}
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(raw, &fields); err != nil {
			return nil, &DecodeError{API: APIInstanceStatus, Field: redact.Key(key), Err: err}
		}
		if err := checkStatusKeys(fields, key); err != nil {
			return nil, err
		}
		counts := map[string]int64{}
		for name, v := range fields {
			state, ok := strings.CutSuffix(name, countSuffix)
			if !ok || state == "" {
				continue
			}
			n, present, err := parseCount(v)
			if err != nil {
				return nil, &DecodeError{API: APIInstanceStatus, Field: redact.Key(key + "." + name), Err: err}
			}
			if present {
				counts[state] = n
			}
		}
		r.Engines[key] = counts
	}
	return r, nil
}

// The bounds of a status answer. The documented answer has 13 states and 2
// engines (v2) or fewer (v1); these leave room for years of additions, and
// keep an answer of 340,000 made-up keys from becoming as many series.
const (
	MaxStatusEngines = 64 // engine objects in one answer
	MaxStatusStates  = 64 // *_count states at the top, and in each engine
	MaxStatusName    = 64 // bytes of an engine's or a state's name
)

// LimitError says that an answer went past one of the bounds the client
// keeps on what it accepts and holds. The answer is refused whole.
type LimitError struct {
	API   string
	Limit string // the bound's name, e.g. max_instances
	Value string // its value
	What  string // what went past it, e.g. "more than 50000 instances"
}

func (e *LimitError) Error() string {
	s := fmt.Sprintf("answer refused: %s (limit %s = %s)", e.What, e.Limit, e.Value)
	if e.API != "" {
		s = e.API + ": " + s
	}
	return s
}

// checkStatusKeys refuses an answer's object (the top, or the engine named
// engine) that has more engines or states than the bounds allow, or a name
// longer than MaxStatusName. Only keys that would become series count:
// "*_count" states, and objects at the top.
func checkStatusKeys(fields map[string]json.RawMessage, engine string) error {
	states, engines := 0, 0
	for key, raw := range fields {
		name, isState := strings.CutSuffix(key, countSuffix)
		isEngine := engine == "" && !isState && firstByte(raw) == '{'
		if !isState && !isEngine || isState && name == "" {
			continue
		}
		where := redact.Key(key)
		if engine != "" {
			where = redact.Key(engine + "." + key)
		}
		if len(name) > MaxStatusName {
			return &DecodeError{API: APIInstanceStatus, Field: where, Err: &LimitError{
				Limit: "name length", Value: strconv.Itoa(MaxStatusName) + " bytes", What: fmt.Sprintf("a name of %d bytes", len(name))}}
		}
		if isState {
			states++
		} else {
			engines++
		}
	}
	scope := "at the top"
	if engine != "" {
		scope = "in engine " + redact.Key(engine)
	}
	switch {
	case states > MaxStatusStates:
		return &DecodeError{API: APIInstanceStatus, Err: &LimitError{
			Limit: "states per engine", Value: strconv.Itoa(MaxStatusStates), What: fmt.Sprintf("%d states %s", states, scope)}}
	case engines > MaxStatusEngines:
		return &DecodeError{API: APIInstanceStatus, Err: &LimitError{
			Limit: "engines", Value: strconv.Itoa(MaxStatusEngines), What: fmt.Sprintf("%d engines", engines)}}
	}
	return nil
}

// decodeObject requires body to be exactly one JSON object.
func decodeObject(body []byte, v *map[string]json.RawMessage) error {
	if firstByte(body) != '{' {
		if len(bytes.TrimSpace(body)) == 0 {
			return errors.New("empty body")
		}
		return errors.New("body is not a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("invalid JSON: %w", err)
	}
	if dec.More() {
		return errors.New("invalid JSON: data after the top-level object")
	}
	return nil
}

func firstByte(b []byte) byte {
	b = bytes.TrimLeft(b, " \t\r\n")
	if len(b) == 0 {
		return 0
	}
	return b[0]
}

// parseCount checks that raw is a plain non-negative integer within int64 and
// explains exactly what is wrong otherwise.
func parseCount(raw json.RawMessage) (n int64, present bool, err error) {
	s := string(bytes.TrimSpace(raw))
	switch {
	case s == "null":
		return 0, false, nil
	case s == "":
		return 0, false, errors.New("empty value")
	case s[0] == '"':
		return 0, false, errors.New("want an integer, got a string")
	case s == "true" || s == "false":
		return 0, false, errors.New("want an integer, got a boolean")
	case s[0] == '{':
		return 0, false, errors.New("want an integer, got an object")
	case s[0] == '[':
		return 0, false, errors.New("want an integer, got an array")
	}
	if strings.ContainsAny(s, ".eE") {
		return 0, false, fmt.Errorf("want an integer, got %s", redact.Text(s, 40))
	}
	n, err = strconv.ParseInt(s, 10, 64)
	if err != nil {
		var ne *strconv.NumError
		if errors.As(err, &ne) && errors.Is(ne.Err, strconv.ErrRange) {
			return 0, false, fmt.Errorf("%s is out of range for a 64-bit integer", redact.Text(s, 40))
		}
		return 0, false, fmt.Errorf("want an integer, got %s", redact.Text(s, 40))
	}
	if n < 0 {
		return 0, false, fmt.Errorf("negative count %d", n)
	}
	return n, true, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
