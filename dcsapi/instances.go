// This file lists a project's instances: paging through the list API and
// decoding its items leniently.

package dcsapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Instance is one DCS instance, reduced to the fields the exporter uses.
type Instance struct {
	ID            string
	Name          string
	Engine        string // as the API spells it, e.g. "Redis"
	EngineVersion string
	Status        string // e.g. RUNNING, ERROR
	SpecCode      string
	CapacityGB    float64 // capacity, or capacity_minor (e.g. 0.125) when capacity is 0
	MaxMemoryMB   int64
	UsedMemoryMB  int64
	ChargingMode  int64 // 0 pay-per-use, 1 yearly/monthly
	AZCodes       []string

	// Who owns the instance and when it may be maintained. A field sent
	// with a type that cannot mean it is left empty, and only that field:
	// the rest of the instance, and the listing, stand.
	EnterpriseProjectID string // "0" is the default project
	Tags                []Tag  // in the API's order; nil when there are none
	MaintainBegin       string // the daily maintenance window's start, HH:mm:ss UTC, as sent
	MaintainEnd         string // its end; a window may run past midnight
	ServiceUpgrade      *bool  // whether an upgrade task is pending; nil when not sent
	CreatedAt           time.Time

	// Where and how clients connect, for service discovery (address.go).
	IPs              []string // the ip field split at its commas (several for a cluster); nil when none
	Port             int      // 0 when not sent or not a port
	DomainName       string
	NoPasswordAccess *bool // nil when not sent or not a boolean in either spelling
	EnableSSL        *bool // nil when not sent
}

// Tag is one of an instance's resource tags.
type Tag struct {
	Key   string
	Value string
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

// ListInstances returns every instance of the project, page by page. A
// failure on any page fails the whole listing: a partial list would make
// instances vanish.
func (c *Client) ListInstances(ctx context.Context) ([]Instance, error) {
	return c.ListInstancesWith(ctx, ListOptions{})
}

// ListInstancesWith is ListInstances with a timeout and a gate per call.
//
// Pages are asked for with limit=ListPageSize (the largest the API takes,
// OTC api-ref "Querying All DCS Instances"), the offset advancing by the
// instances received. The listing ends at a page shorter than the limit, or
// once the instances received reach the page's instance_num. It also ends
// at a 400 answer to a later page after a full one: the API refuses an
// offset past the end with 400 DCS.4800, and the end can move while the
// pages are read. An empty page before instance_num is reached fails the
// listing, naming both numbers.
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
		all      []Instance
		seen     map[string]int
		received int
	)
	for offset, pages := 0, 0; ; pages++ {
		query := "include_failure=true&limit=" + strconv.Itoa(ListPageSize) + "&offset=" + strconv.Itoa(offset)
		var page listPage
		err := o.run(ctx, func(ctx context.Context) error {
			return c.call(ctx, APIListInstances, c.endpoint, path, query, pid, func(body []byte) error {
				return decodeListPage(body, &page)
			})
		})
		var apiErr *APIError
		if offset > 0 && errors.As(err, &apiErr) && apiErr.StatusCode == http.StatusBadRequest {
			break // past the end: every page before was full, or we would have stopped
		}
		if err != nil {
			return nil, err
		}
		n := len(page.instances)
		if n == 0 && received < page.total {
			return nil, fmt.Errorf("%s: the page at offset %d is empty, but only %d of the %d instances announced (instance_num) have come",
				APIListInstances, offset, received, page.total)
		}
		if all == nil {
			// Sized for the announced total, so that a big listing is not
			// copied over and over as it grows; but not beyond what a few
			// pages hold, since the total is only the server's word.
			all = make([]Instance, 0, min(max(page.total, n), 20*ListPageSize))
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
		received += n
		offset += n
		if n < ListPageSize || received >= page.total {
			break
		}
		// The total can grow while we page; this bound only stops a server
		// that keeps announcing more.
		if pages > page.total/ListPageSize+2 {
			return nil, fmt.Errorf("%s: more pages than the %d instances announced", APIListInstances, page.total)
		}
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

// wireInstance is InstanceListInfo (OTC api-ref "Querying All DCS Instances",
// SDK model_instance_list_info.go) as far as the exporter reads it. It is
// lenient throughout: the documented example answer has
// enterprise_project_id as the number 0 and a tag key as the number 1, and
// a value of an odd type must cost its field, never the listing. Scalar
// fields take odd values themselves; a list that is not one is a type error
// that encoding/json records and goes on from, which decodeListPage lets
// pass. Fields not named here (publicip_id is {} in that example) are
// skipped unread.
type wireInstance struct {
	InstanceID          textValue   `json:"instance_id"`
	Name                textValue   `json:"name"`
	Engine              textValue   `json:"engine"`
	EngineVersion       textValue   `json:"engine_version"`
	Status              textValue   `json:"status"`
	SpecCode            textValue   `json:"spec_code"`
	Capacity            numberValue `json:"capacity"`
	CapacityMinor       numberValue `json:"capacity_minor"`
	MaxMemory           numberValue `json:"max_memory"`
	UsedMemory          numberValue `json:"used_memory"`
	ChargingMode        numberValue `json:"charging_mode"`
	AZCodes             []textValue `json:"az_codes"`
	EnterpriseProjectID textValue   `json:"enterprise_project_id"`
	Tags                []struct {
		Key   textValue `json:"key"`
		Value textValue `json:"value"`
	} `json:"tags"`
	MaintainBegin  stringValue `json:"maintain_begin"`
	MaintainEnd    stringValue `json:"maintain_end"`
	ServiceUpgrade boolValue   `json:"service_upgrade"`
	CreatedAt      timeValue   `json:"created_at"`

	IP               stringValue `json:"ip"`
	Port             numberValue `json:"port"`
	DomainName       stringValue `json:"domain_name"`
	NoPasswordAccess boolText    `json:"no_password_access"`
	EnableSSL        boolValue   `json:"enable_ssl"`
}

// instance is w as the exporter keeps it.
func (w *wireInstance) instance() Instance {
	in := Instance{
		ID:                  string(w.InstanceID),
		Name:                string(w.Name),
		Engine:              string(w.Engine),
		EngineVersion:       string(w.EngineVersion),
		Status:              string(w.Status),
		SpecCode:            string(w.SpecCode),
		CapacityGB:          float64(w.Capacity),
		MaxMemoryMB:         int64(w.MaxMemory),
		UsedMemoryMB:        int64(w.UsedMemory),
		ChargingMode:        int64(w.ChargingMode),
		EnterpriseProjectID: string(w.EnterpriseProjectID),
		MaintainBegin:       string(w.MaintainBegin),
		MaintainEnd:         string(w.MaintainEnd),
		CreatedAt:           time.Time(w.CreatedAt),
	}
	// capacity_minor is the size of instances under 1 GB, which have
	// capacity 0; the Terraform provider reads it the same way
	// (huaweicloud/services/dcs/resource_huaweicloud_dcs_instance.go,
	// setDcsInstanceCapacity).
	if in.CapacityGB == 0 {
		in.CapacityGB = float64(w.CapacityMinor)
	}
	if len(w.AZCodes) > 0 {
		in.AZCodes = make([]string, len(w.AZCodes))
		for i, az := range w.AZCodes {
			in.AZCodes[i] = string(az)
		}
	}
	for _, t := range w.Tags {
		if t.Key == "" {
			continue // not an object, or no key: nothing to label with
		}
		if in.Tags == nil {
			in.Tags = make([]Tag, 0, len(w.Tags))
		}
		in.Tags = append(in.Tags, Tag{Key: string(t.Key), Value: string(t.Value)})
	}
	if w.ServiceUpgrade.set {
		pending := w.ServiceUpgrade.value
		in.ServiceUpgrade = &pending
	}
	w.connection(&in)
	return in
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
		var te *json.UnmarshalTypeError
		// A list inside an instance that is not a list costs that field
		// only; encoding/json has decoded everything else.
		if !errors.As(err, &te) || !strings.HasPrefix(te.Field, "instances.") {
			field := ""
			if te != nil {
				field = te.Field
			}
			return &DecodeError{API: APIListInstances, Field: field, Err: err}
		}
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
		if doc.Instances[i].InstanceID == "" {
			return &DecodeError{API: APIListInstances, Field: fmt.Sprintf("instances[%d].instance_id", i), Err: errors.New("missing")}
		}
		p.instances = append(p.instances, doc.Instances[i].instance())
	}
	return nil
}

// textValue takes a JSON string, or a number as its text ("enterprise_project_id": 0
// is "0"); anything else is "".
type textValue string

func (t *textValue) UnmarshalJSON(b []byte) error {
	switch {
	case len(b) >= 2 && b[0] == '"':
		*t = textValue(jsonString(b))
	case len(b) > 0 && (b[0] == '-' || '0' <= b[0] && b[0] <= '9'):
		*t = textValue(b)
	default:
		*t = ""
	}
	return nil
}

// stringValue takes only a JSON string; anything else is "", as for a
// maintenance window sent as a number, which no reading would make right.
type stringValue string

func (s *stringValue) UnmarshalJSON(b []byte) error {
	*s = ""
	if len(b) >= 2 && b[0] == '"' {
		*s = stringValue(jsonString(b))
	}
	return nil
}

// jsonString decodes a JSON string that encoding/json has already checked.
// Most have no escapes and are valid UTF-8, and are copied as they are: a
// listing has a dozen per instance, and thousands of instances.
func jsonString(b []byte) string {
	inner := b[1 : len(b)-1]
	if bytes.IndexByte(inner, '\\') < 0 && utf8.Valid(inner) {
		return string(inner)
	}
	var s string
	_ = json.Unmarshal(b, &s) // cannot fail on checked input; "" if it did
	return s
}

// boolValue takes only a JSON boolean; set says whether there was one.
type boolValue struct{ set, value bool }

func (v *boolValue) UnmarshalJSON(b []byte) error {
	switch string(b) {
	case "true":
		*v = boolValue{set: true, value: true}
	case "false":
		*v = boolValue{set: true}
	default:
		*v = boolValue{}
	}
	return nil
}

// timeValue takes an RFC 3339 time in a JSON string, the documented form
// being 2017-03-31T12:24:46.297Z; anything else is the zero time.
type timeValue time.Time

func (t *timeValue) UnmarshalJSON(b []byte) error {
	var v time.Time
	if v.UnmarshalJSON(b) == nil && len(b) > 0 && b[0] == '"' {
		*t = timeValue(v.UTC())
	} else {
		*t = timeValue{}
	}
	return nil
}

// numberValue takes a number or a numeric string (".125"); null, "",
// anything else and numbers beyond float64 are 0, so that one odd field
// cannot hide a whole listing.
type numberValue float64

func (n *numberValue) UnmarshalJSON(b []byte) error {
	*n = 0
	// This runs five times per instance of a listing, so it avoids
	// allocating: the usual non-numbers ("" for capacity_minor, null) are
	// not handed to ParseFloat, whose error would be an allocation each.
	b = bytes.Trim(b, `"`)
	if len(b) == 0 || string(b) == "null" {
		return nil
	}
	if v, err := strconv.ParseFloat(string(b), 64); err == nil && !math.IsNaN(v) && !math.IsInf(v, 0) {
		*n = numberValue(v)
	}
	return nil
}
