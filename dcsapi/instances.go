// This file lists a project's instances: paging through the list API and
// decoding its items leniently.

package dcsapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/dcs-exporter/dcs_exporter/internal/redact"
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
	// MaxMemoryMB and UsedMemoryMB are MemoryUnknown when the API sent a
	// number that cannot be a size: negative, not finite, or more bytes
	// than an int64 holds.
	MaxMemoryMB  int64
	UsedMemoryMB int64
	ChargingMode int64 // 0 pay-per-use, 1 yearly/monthly
	AZCodes      []string

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

// MemoryUnknown is a memory size the API sent as a number that cannot be
// one; the exporter leaves that series out for that instance.
const MemoryUnknown = -1

// maxMemoryMB is the largest size in MB whose bytes fit in an int64.
const maxMemoryMB = math.MaxInt64 >> 20

// Tag is one of an instance's resource tags.
type Tag struct {
	Key   string
	Value string
}

// The names of the listing's bounds, as LimitError.Limit, after the
// configuration keys that set them.
const (
	LimitMaxInstances   = "max_instances"
	LimitListingTimeout = "listing_timeout"
)

// ListPageSize is the largest page the list API serves.
const ListPageSize = 1000

// ListOptions tune ListInstancesWith.
type ListOptions struct {
	// PageTimeout bounds each call of a listing on its own: the project
	// lookup, if one is needed, and every page. A listing of many pages is
	// then not cut short by one deadline meant for a single call. 0 leaves
	// only ctx's deadline.
	PageTimeout time.Duration
	// Logger, when set, is told once per listing of the fields left out
	// because their values cannot be (see Instance.MaxMemoryMB).
	Logger *slog.Logger
	// Gate, when set, is called before each of those calls and may block,
	// for instance until a concurrency limit has room; release is called
	// when the call is done. Taking the gate per call rather than for the
	// whole listing lets other calls through between pages. An error stops
	// the listing with that error.
	Gate func(ctx context.Context) (release func(), err error)
	// MaxInstances bounds the instances a listing receives, counted page by
	// page from the first; DefaultMaxInstances when 0. Past it the listing
	// fails with a LimitError: the instance_num a server announces is only
	// its word, and is never used to size anything.
	MaxInstances int
	// Timeout bounds the whole listing, every page and the project lookup
	// together; past it the listing fails with a LimitError. 0 leaves only
	// ctx's deadline.
	Timeout time.Duration
}

// DefaultMaxInstances is the default of ListOptions.MaxInstances: 50 pages,
// more than twice the largest fleet the exporter is measured with, and
// at most about 50 MiB of heap to list (BENCHMARKS.md, issue 19).
const DefaultMaxInstances = 50000

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
	if o.Timeout <= 0 {
		return c.listInstances(ctx, o)
	}
	listCtx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	list, err := c.listInstances(listCtx, o)
	if err != nil && ctx.Err() == nil && errors.Is(listCtx.Err(), context.DeadlineExceeded) {
		return nil, &LimitError{API: APIListInstances, Limit: LimitListingTimeout, Value: o.Timeout.String(),
			What: fmt.Sprintf("the listing took longer (%v)", err)}
	}
	return list, err
}

func (c *Client) listInstances(ctx context.Context, o ListOptions) ([]Instance, error) {
	maxInstances := o.MaxInstances
	if maxInstances <= 0 {
		maxInstances = DefaultMaxInstances
	}
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
		kept     [][]Instance
		held     int
		seen     map[string]instanceAt
		received int
		dropped  droppedFields
	)
	for offset, pages := 0, 0; ; pages++ {
		query := "include_failure=true&limit=" + strconv.Itoa(ListPageSize) + "&offset=" + strconv.Itoa(offset)
		var page listPage
		err := o.run(ctx, func(ctx context.Context) error {
			return c.call(ctx, APIListInstances, c.endpoint, path, query, pid, func(body []byte) error {
				return decodeListPage(body, &page, ListPageSize)
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
		if received+n > maxInstances {
			return nil, &LimitError{API: APIListInstances, Limit: LimitMaxInstances, Value: strconv.Itoa(maxInstances),
				What: fmt.Sprintf("more than %d instances (%d announced as instance_num)", maxInstances, page.total)}
		}
		if seen == nil {
			seen = make(map[string]instanceAt, n)
		}
		// The pages are kept as they come and joined once at the end, in
		// one slice of the size received: sizing it for the announced total
		// would trust the server's word, and growing it page by page would
		// copy the listing over and over.
		fresh := page.instances[:0]
		for _, in := range page.instances {
			// An instance can move between pages while we list; keep one.
			if at, ok := seen[in.ID]; ok && at.page < len(kept) {
				kept[at.page][at.index] = in
				continue
			} else if ok {
				fresh[at.index] = in // twice on this very page
				continue
			}
			seen[in.ID] = instanceAt{len(kept), len(fresh)}
			fresh = append(fresh, in)
		}
		kept = append(kept, fresh)
		held += len(fresh)
		received += n
		offset += n
		dropped.add(page.dropped)
		if n < ListPageSize || received >= page.total {
			break
		}
		// The total can grow while we page; this bound only stops a server
		// that keeps announcing more.
		if pages > page.total/ListPageSize+2 {
			return nil, fmt.Errorf("%s: more pages than the %d instances announced", APIListInstances, page.total)
		}
	}
	dropped.log(o.Logger)
	all := make([]Instance, 0, held)
	for _, p := range kept {
		all = append(all, p...)
	}
	return all, nil
}

// instanceAt is where a listing holds an instance: its page and its place.
type instanceAt struct{ page, index int }

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
	dropped   droppedFields
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
	MaxMemory           sizeValue   `json:"max_memory"`
	UsedMemory          sizeValue   `json:"used_memory"`
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
		MaxMemoryMB:         w.MaxMemory.mb(),
		UsedMemoryMB:        w.UsedMemory.mb(),
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
	if err := decodeListPage(body, &p, ListPageSize); err != nil {
		return nil, 0, err
	}
	return p.instances, p.total, nil
}

// decodeListPage decodes one page, which may hold at most limit instances:
// the page size asked for, which the API never exceeds. A page with more is
// refused before it is decoded, so that a page of 8 MiB of tiny instances
// costs a count of its items rather than hundreds of megabytes.
func decodeListPage(body []byte, p *listPage, limit int) error {
	if firstByte(body) != '{' {
		if len(bytes.TrimSpace(body)) == 0 {
			return &DecodeError{API: APIListInstances, Err: errors.New("empty body")}
		}
		return &DecodeError{API: APIListInstances, Err: errors.New("body is not a JSON object")}
	}
	if n := countItems(body, "instances"); n > limit {
		return &DecodeError{API: APIListInstances, Field: "instances", Err: &LimitError{
			Limit: "page size", Value: strconv.Itoa(limit), What: fmt.Sprintf("a page of %d instances, more than asked for", n)}}
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
		w := &doc.Instances[i]
		if w.InstanceID == "" {
			return &DecodeError{API: APIListInstances, Field: fmt.Sprintf("instances[%d].instance_id", i), Err: errors.New("missing")}
		}
		p.instances = append(p.instances, w.instance())
		if w.MaxMemory.odd || w.UsedMemory.odd {
			p.dropped.note(&p.instances[len(p.instances)-1], w)
		}
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

// sizeValue is numberValue for a size in MB, which also knows whether the
// API sent a number that cannot be one: negative, beyond float64, not
// finite ("NaN" in a string), or more bytes than an int64 holds. Such a
// value costs its field (MemoryUnknown), and is counted for the log.
type sizeValue struct {
	v   float64
	odd bool
}

func (s *sizeValue) UnmarshalJSON(b []byte) error {
	*s = sizeValue{}
	b = bytes.Trim(b, `"`)
	if len(b) == 0 || string(b) == "null" || !numberLike(b) {
		return nil // absent, or an odd type: 0, as numberValue does
	}
	v, err := strconv.ParseFloat(string(b), 64)
	switch {
	case err != nil && !errors.Is(err, strconv.ErrRange):
	case err != nil || math.IsNaN(v) || math.IsInf(v, 0) || v < 0 || v > maxMemoryMB:
		*s = sizeValue{v: v, odd: true}
	default:
		s.v = v
	}
	return nil
}

// numberLike reports whether b starts as a number or a non-finite name
// would, so that other strings cost no ParseFloat error.
func numberLike(b []byte) bool {
	c := b[0]
	return c == '-' || c == '+' || c == '.' || '0' <= c && c <= '9' || c == 'N' || c == 'n' || c == 'I' || c == 'i'
}

func (s sizeValue) mb() int64 {
	if s.odd {
		return MemoryUnknown
	}
	return int64(s.v)
}

// droppedFields counts the fields of a listing left out for values that
// cannot be, to log them once per listing with one example.
type droppedFields struct {
	n                int
	exampleID, field string
	exampleValue     float64
}

func (d *droppedFields) note(in *Instance, w *wireInstance) {
	for _, f := range [...]struct {
		name string
		v    sizeValue
	}{{"max_memory", w.MaxMemory}, {"used_memory", w.UsedMemory}} {
		if f.v.odd {
			if d.n == 0 {
				d.exampleID, d.field, d.exampleValue = in.ID, f.name, f.v.v
			}
			d.n++
		}
	}
}

func (d *droppedFields) add(o droppedFields) {
	if d.n == 0 {
		*d = o
		return
	}
	d.n += o.n
}

func (d *droppedFields) log(logger *slog.Logger) {
	if d.n == 0 || logger == nil {
		return
	}
	logger.Warn("instance listing: memory sizes that cannot be (negative, not finite or beyond int64 bytes) are left out for their instances",
		"fields", d.n, "example_instance_id", redact.Text(d.exampleID, redact.MaxID), "example_field", d.field,
		"example_value", strconv.FormatFloat(d.exampleValue, 'g', -1, 64))
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

// countItems counts the items of the arrays that are the value of key at the
// top level of the JSON object body, by a scan that only follows nesting
// and strings: a few nanoseconds a byte, and no allocation. On malformed
// JSON the count means nothing, and the decoder refuses the body anyway.
func countItems(body []byte, key string) int {
	depth, count := 0, 0
	counting, empty := false, true
	lastKey := []byte(nil) // the last string seen at depth 1
	for i := 0; i < len(body); i++ {
		switch c := body[i]; c {
		case '"':
			start := i + 1
			for i++; i < len(body) && body[i] != '"'; i++ {
				if body[i] == '\\' {
					i++
				}
			}
			if depth == 1 {
				lastKey = body[start:min(i, len(body))]
			}
			if counting && depth == 2 && empty {
				count, empty = count+1, false
			}
		case '{', '[':
			if counting && depth == 2 && empty {
				count, empty = count+1, false
			}
			depth++
			if depth == 2 && c == '[' && sameKey(lastKey, key) {
				counting, empty = true, true
			}
		case '}', ']':
			depth--
			if depth < 2 {
				counting = false
			}
		case ',':
			if counting && depth == 2 {
				empty = true
			}
		case ' ', '\t', '\r', '\n', ':':
		default: // the first byte of a number, true, false or null
			if counting && depth == 2 && empty {
				count, empty = count+1, false
			}
		}
	}
	return count
}

// sameKey reports whether the raw JSON string raw names key as
// encoding/json matches names: after unescaping, and ignoring case.
func sameKey(raw []byte, key string) bool {
	if bytes.IndexByte(raw, '\\') < 0 {
		return strings.EqualFold(string(raw), key)
	}
	var s string
	if json.Unmarshal(append(append([]byte{'"'}, raw...), '"'), &s) != nil {
		return false
	}
	return strings.EqualFold(s, key)
}
