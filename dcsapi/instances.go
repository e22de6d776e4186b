package dcsapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Instance is one DCS instance, reduced to the fields the exporter uses.
type Instance struct {
	ID            string
	Name          string
	Engine        string // as the API spells it, e.g. "Redis"
	EngineVersion string
	Status        string // e.g. RUNNING, ERROR
	SpecCode      string
	CapacityGB    float64 // capacity plus capacity_minor, e.g. 0.125
	MaxMemoryMB   int64
	UsedMemoryMB  int64
	ChargingMode  int64 // 0 pay-per-use, 1 yearly/monthly
	AZCodes       []string
}

// ListPageSize is the largest page the list API serves.
const ListPageSize = 1000

// ListInstances returns every instance of the project, following pages of
// ListPageSize until the announced total is reached. A failure on any page
// fails the whole listing: a partial list would make instances vanish.
func (c *Client) ListInstances(ctx context.Context) ([]Instance, error) {
	pid, err := c.ProjectID(ctx)
	if err != nil {
		return nil, err
	}
	path := "/v2/" + pid + "/instances"
	var (
		all   []Instance
		seen  = map[string]int{}
		total = -1
	)
	for offset, pages := 0, 0; total < 0 || offset < total; pages++ {
		// The total can grow while we page; this bound only stops a server
		// that never stops announcing more.
		if total >= 0 && pages > total/ListPageSize+2 {
			return nil, fmt.Errorf("%s: more pages than the %d instances announced", APIListInstances, total)
		}
		query := "include_failure=true&limit=" + strconv.Itoa(ListPageSize) + "&offset=" + strconv.Itoa(offset)
		var page listPage
		err := c.call(ctx, APIListInstances, c.endpoint, path, query, pid, func(body []byte) error {
			return decodeListPage(body, &page)
		})
		if err != nil {
			return nil, err
		}
		total = page.total
		if len(page.instances) == 0 {
			break
		}
		for _, in := range page.instances {
			// An instance can move between pages while we list; keep one.
			if i, ok := seen[in.ID]; ok {
				all[i] = in
				continue
			}
			seen[in.ID] = len(all)
			all = append(all, in)
		}
		offset += len(page.instances)
	}
	return all, nil
}

type listPage struct {
	total     int
	instances []Instance
}

// wireInstance is lenient about types: the documented example answer has
// numbers as strings and strings as numbers in places.
type wireInstance struct {
	InstanceID    flexString   `json:"instance_id"`
	Name          flexString   `json:"name"`
	Engine        flexString   `json:"engine"`
	EngineVersion flexString   `json:"engine_version"`
	Status        flexString   `json:"status"`
	SpecCode      flexString   `json:"spec_code"`
	Capacity      flexNumber   `json:"capacity"`
	CapacityMinor flexNumber   `json:"capacity_minor"`
	MaxMemory     flexNumber   `json:"max_memory"`
	UsedMemory    flexNumber   `json:"used_memory"`
	ChargingMode  flexNumber   `json:"charging_mode"`
	AZCodes       []flexString `json:"az_codes"`
}

// DecodeInstances parses one page of the list API: the instances it holds
// and the total it announces (instance_num).
func DecodeInstances(body []byte) (instances []Instance, total int, err error) {
	var p listPage
	if err := decodeListPage(body, &p); err != nil {
		return nil, 0, err
	}
	return p.instances, p.total, nil
}

func decodeListPage(body []byte, p *listPage) error {
	if firstByte(body) != '{' {
		if len(bytes.TrimSpace(body)) == 0 {
			return &DecodeError{API: APIListInstances, Err: errors.New("empty body")}
		}
		return &DecodeError{API: APIListInstances, Err: errors.New("body is not a JSON object")}
	}
	var doc struct {
		InstanceNum *json.RawMessage `json:"instance_num"`
		Instances   []wireInstance   `json:"instances"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		field := ""
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			field = te.Field
		}
		return &DecodeError{API: APIListInstances, Field: field, Err: err}
	}
	if doc.InstanceNum == nil {
		return &DecodeError{API: APIListInstances, Field: "instance_num", Err: errors.New("missing")}
	}
	total, present, err := parseCount(*doc.InstanceNum)
	if err != nil || !present || total > 1<<31 {
		if err == nil {
			err = errors.New("missing or out of range")
		}
		return &DecodeError{API: APIListInstances, Field: "instance_num", Err: err}
	}
	p.total = int(total)
	p.instances = make([]Instance, 0, len(doc.Instances))
	for i, w := range doc.Instances {
		if w.InstanceID == "" {
			return &DecodeError{API: APIListInstances, Field: fmt.Sprintf("instances[%d].instance_id", i), Err: errors.New("missing")}
		}
		in := Instance{
			ID:            string(w.InstanceID),
			Name:          string(w.Name),
			Engine:        string(w.Engine),
			EngineVersion: string(w.EngineVersion),
			Status:        string(w.Status),
			SpecCode:      string(w.SpecCode),
			CapacityGB:    float64(w.Capacity) + float64(w.CapacityMinor),
			MaxMemoryMB:   int64(w.MaxMemory),
			UsedMemoryMB:  int64(w.UsedMemory),
			ChargingMode:  int64(w.ChargingMode),
		}
		if len(w.AZCodes) > 0 {
			in.AZCodes = make([]string, len(w.AZCodes))
			for j, az := range w.AZCodes {
				in.AZCodes[j] = string(az)
			}
		}
		p.instances = append(p.instances, in)
	}
	return nil
}

// flexString takes a string, a number or a boolean as text; null is "".
type flexString string

func (s *flexString) UnmarshalJSON(b []byte) error {
	switch {
	case len(b) > 0 && b[0] == '"':
		var v string
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		*s = flexString(v)
	case string(b) == "null":
		*s = ""
	case len(b) > 0 && (b[0] == '{' || b[0] == '['):
		*s = ""
	default:
		*s = flexString(b)
	}
	return nil
}

// flexNumber takes a number or a numeric string (".125"); null, "" and
// anything else are 0, so one odd field cannot hide a whole listing.
type flexNumber float64

func (n *flexNumber) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		*n = 0
		return nil //nolint:nilerr // lenient by design, see above
	}
	*n = flexNumber(v)
	return nil
}
