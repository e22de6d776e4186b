package dcsapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
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

// ListOptions tune ListInstancesWith.
type ListOptions struct {
	// PageTimeout bounds each call of a listing on its own: the project
	// lookup, if one is needed, and every page. A listing of many pages is
	// then not cut short by one deadline meant for a single call. 0 leaves
	// only ctx's deadline.
	PageTimeout time.Duration
	// Gate, when set, is called before each of those calls and may block,
	// for instance until a concurrency limit has room; release is called
	// when the call is done. Taking the gate per call rather than for the
	// whole listing lets other calls through between pages. An error stops
	// the listing with that error.
	Gate func(ctx context.Context) (release func(), err error)
}

// ListInstances returns every instance of the project, following pages of
// ListPageSize until the announced total is reached. A failure on any page
// fails the whole listing: a partial list would make instances vanish.
func (c *Client) ListInstances(ctx context.Context) ([]Instance, error) {
	return c.ListInstancesWith(ctx, ListOptions{})
}

// ListInstancesWith is ListInstances with a timeout and a gate per call.
func (c *Client) ListInstancesWith(ctx context.Context, o ListOptions) ([]Instance, error) {
	pid, known := c.CachedProjectID()
	if !known {
		err := o.run(ctx, func(ctx context.Context) (err error) {
			pid, err = c.ProjectID(ctx)
			return err
		})
		if err != nil {
			return nil, err
		}
	}
	path := "/v2/" + pid + "/instances"
	var (
		all   []Instance
		seen  map[string]int
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
		err := o.run(ctx, func(ctx context.Context) error {
			return c.call(ctx, APIListInstances, c.endpoint, path, query, pid, func(body []byte) error {
				return decodeListPage(body, &page)
			})
		})
		if err != nil {
			return nil, err
		}
		total = page.total
		if len(page.instances) == 0 {
			break
		}
		if all == nil {
			// Sized for the announced total, so that a big listing is not
			// copied over and over as it grows; but not beyond what a few
			// pages hold, since the total is only the server's word.
			all = make([]Instance, 0, min(max(total, len(page.instances)), 20*ListPageSize))
			seen = make(map[string]int, cap(all))
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

// run makes one call of a listing through the gate and within the page
// timeout.
func (o ListOptions) run(ctx context.Context, call func(context.Context) error) error {
	if o.Gate != nil {
		release, err := o.Gate(ctx)
		if err != nil {
			return err
		}
		defer release()
	}
	if o.PageTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.PageTimeout)
		defer cancel()
	}
	return call(ctx)
}

type listPage struct {
	total     int
	instances []Instance
}

// plainInstance is an instance as the API normally sends it, text fields as
// JSON strings. Decoding into it is several times faster than into
// wireInstance, whose lenient text fields each run a decoder of their own,
// which matters for a listing of thousands; a page that does not fit it is
// decoded again, leniently. Numbers are lenient here too: flexNumber is
// cheap.
type plainInstance struct {
	InstanceID    string     `json:"instance_id"`
	Name          string     `json:"name"`
	Engine        string     `json:"engine"`
	EngineVersion string     `json:"engine_version"`
	Status        string     `json:"status"`
	SpecCode      string     `json:"spec_code"`
	Capacity      flexNumber `json:"capacity"`
	CapacityMinor flexNumber `json:"capacity_minor"`
	MaxMemory     flexNumber `json:"max_memory"`
	UsedMemory    flexNumber `json:"used_memory"`
	ChargingMode  flexNumber `json:"charging_mode"`
	AZCodes       []string   `json:"az_codes"`
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

func (w *wireInstance) plain() plainInstance {
	p := plainInstance{
		InstanceID:    string(w.InstanceID),
		Name:          string(w.Name),
		Engine:        string(w.Engine),
		EngineVersion: string(w.EngineVersion),
		Status:        string(w.Status),
		SpecCode:      string(w.SpecCode),
		Capacity:      w.Capacity,
		CapacityMinor: w.CapacityMinor,
		MaxMemory:     w.MaxMemory,
		UsedMemory:    w.UsedMemory,
		ChargingMode:  w.ChargingMode,
	}
	if len(w.AZCodes) > 0 {
		p.AZCodes = make([]string, len(w.AZCodes))
		for i, az := range w.AZCodes {
			p.AZCodes[i] = string(az)
		}
	}
	return p
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
		Instances   []plainInstance  `json:"instances"`
	}
	err := json.Unmarshal(body, &doc)
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		var lenient struct {
			InstanceNum *json.RawMessage `json:"instance_num"`
			Instances   []wireInstance   `json:"instances"`
		}
		if err = json.Unmarshal(body, &lenient); err == nil {
			doc.InstanceNum = lenient.InstanceNum
			doc.Instances = make([]plainInstance, len(lenient.Instances))
			for i := range lenient.Instances {
				doc.Instances[i] = lenient.Instances[i].plain()
			}
		}
	}
	if err != nil {
		field := ""
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
	for i := range doc.Instances {
		w := &doc.Instances[i]
		if w.InstanceID == "" {
			return &DecodeError{API: APIListInstances, Field: fmt.Sprintf("instances[%d].instance_id", i), Err: errors.New("missing")}
		}
		if len(w.AZCodes) == 0 {
			w.AZCodes = nil // as the lenient decoding leaves it
		}
		p.instances = append(p.instances, Instance{
			ID:            w.InstanceID,
			Name:          w.Name,
			Engine:        w.Engine,
			EngineVersion: w.EngineVersion,
			Status:        w.Status,
			SpecCode:      w.SpecCode,
			CapacityGB:    float64(w.Capacity) + float64(w.CapacityMinor),
			MaxMemoryMB:   int64(w.MaxMemory),
			UsedMemoryMB:  int64(w.UsedMemory),
			ChargingMode:  int64(w.ChargingMode),
			AZCodes:       w.AZCodes,
		})
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
	// This runs five times per instance of a listing, so it avoids
	// allocating: the bytes are parsed without a string copy, and the
	// usual non-numbers ("" for capacity_minor, null) are not handed to
	// ParseFloat, whose error would be an allocation each.
	b = bytes.Trim(b, `"`)
	if len(b) == 0 || string(b) == "null" {
		*n = 0
		return nil
	}
	v, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		*n = 0
		return nil //nolint:nilerr // lenient by design, see above
	}
	*n = flexNumber(v)
	return nil
}
