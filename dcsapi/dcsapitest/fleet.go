// This file keeps the fake's instances and serves them through the status
// and list APIs.

package dcsapitest

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Instance is a DCS instance of the fake fleet. The list API serves it with
// the documented field names; the status API counts it by Engine and Status.
type Instance struct {
	ID            string
	Name          string
	Engine        string // "Redis", "Memcached", or anything else
	EngineVersion string
	Status        string // RUNNING, ERROR, CREATEFAILED, ... or anything else
	SpecCode      string
	// CapacityGB under 1 is served as capacity 0 and capacity_minor (0.125
	// as ".125"), as the API does for small instances; 1 and over as the
	// whole number capacity.
	CapacityGB   float64
	MaxMemoryMB  int64
	UsedMemoryMB int64
	ChargingMode int // 0 pay-per-use, 1 yearly/monthly
	AZCodes      []string

	EnterpriseProjectID string // "" is served as "0", the default project
	Tags                []Tag
	// MaintainBegin and MaintainEnd are the daily maintenance window,
	// HH:mm:ss UTC; "" leaves the field out of the answer.
	MaintainBegin  string
	MaintainEnd    string
	ServiceUpgrade bool      // an upgrade task is pending
	CreatedAt      time.Time // zero: a minute after the instance created before it

	// Where clients connect. IPs nil gets a made-up private address from
	// the creation order (192.168.x.y); several are served comma-separated,
	// as for a cluster. NoAddress serves "ip" empty instead. Port 0 is the
	// engine's default (6379, Memcached 11211); DomainName "" is made from
	// the ID.
	IPs        []string
	NoAddress  bool
	Port       int
	DomainName string
	// PasswordRequired serves no_password_access false; EnableSSL is
	// enable_ssl.
	PasswordRequired bool
	EnableSSL        bool
}

// Tag is a resource tag of an instance.
type Tag struct{ Key, Value string }

func (in Instance) clone() Instance {
	in.AZCodes = append([]string(nil), in.AZCodes...)
	in.Tags = append([]Tag(nil), in.Tags...)
	in.IPs = append([]string(nil), in.IPs...)
	return in
}

// createdBase is when the first instance of every fake was created; the
// list shows creation times a minute apart, in creation order, for
// instances that do not set their own.
var createdBase = time.Date(2024, 3, 1, 8, 0, 0, 0, time.UTC)

func (s *Server) newRecordLocked(in Instance) record {
	if in.ID == "" {
		in.ID = randomUUID()
	}
	rec := record{Instance: in.clone(), created: createdBase.Add(time.Duration(s.created) * time.Minute), seq: s.created}
	if !in.CreatedAt.IsZero() {
		rec.created = in.CreatedAt
	}
	s.created++
	rec.encode()
	return rec
}

// encode keeps the record's list item as the API sends it normally: a
// listing of thousands then costs the fake a copy, not an encoding, which
// keeps its share of a benchmark of the exporter small.
func (rec *record) encode() {
	rec.json = mustJSON(toWire(*rec, 0, shapeNormal))
}

// SetInstances replaces the fleet of a project, creating the project if
// needed. The list API serves the instances in this order. Instances without
// an ID get a random one.
func (s *Server) SetInstances(projectID string, list []Instance) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.projectLocked(projectID)
	p.instances = make([]record, 0, len(list))
	for _, in := range list {
		p.instances = append(p.instances, s.newRecordLocked(in))
	}
}

// UpsertInstance replaces the instance with the same ID in place, or adds
// it at the end of the fleet.
func (s *Server) UpsertInstance(projectID string, in Instance) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.projectLocked(projectID)
	for i := range p.instances {
		if in.ID != "" && p.instances[i].ID == in.ID {
			p.instances[i].Instance = in.clone()
			p.instances[i].encode()
			return
		}
	}
	p.instances = append(p.instances, s.newRecordLocked(in))
}

// SetInstanceStatus changes the status of one instance and reports whether
// it exists.
func (s *Server) SetInstanceStatus(projectID, instanceID, status string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p := s.projects[projectID]; p != nil {
		for i := range p.instances {
			if p.instances[i].ID == instanceID {
				p.instances[i].Status = status
				p.instances[i].encode()
				return true
			}
		}
	}
	return false
}

// RemoveInstance deletes one instance and reports whether it existed.
func (s *Server) RemoveInstance(projectID, instanceID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p := s.projects[projectID]; p != nil {
		for i := range p.instances {
			if p.instances[i].ID == instanceID {
				p.instances = append(p.instances[:i:i], p.instances[i+1:]...)
				return true
			}
		}
	}
	return false
}

// Instances returns a copy of the fleet of a project, in creation order,
// with the creation time, addresses, port and domain name it is served
// with filled in.
func (s *Server) Instances(projectID string) []Instance {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.projects[projectID]
	if p == nil {
		return nil
	}
	out := make([]Instance, len(p.instances))
	for i, rec := range p.instances {
		out[i] = rec.clone()
		out[i].CreatedAt = rec.created
		out[i].IPs, out[i].Port, out[i].DomainName = rec.address()
	}
	return out
}

// snapshot copies the records of a project under the lock; their AZCodes,
// Tags and IPs are never changed in place, so sharing them is safe.
func (s *Server) snapshot(projectID string) (recs []record, override []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.projects[projectID]
	if p == nil {
		return nil, nil
	}
	return append([]record(nil), p.instances...), p.statusOverride
}

// shape says how to spoil the numbers of an answer, for the type faults.
type shape int

const (
	shapeNormal    shape = iota
	shapeStrings         // counts as JSON strings
	shapeNegative        // one count -1
	shapeHuge            // one count beyond int64
	shapeOddFields       // listing: the documented example's types, and worse
)

const hugeNumber = "99999999999999999999999"

// The counters each status API version documents, in the order of the
// documentation, which the fake keeps in its answers.
var (
	statesV2 = []string{
		"paying", "freezing", "migrating", "flushing", "upgrading", "restoring", "extending",
		"creating", "running", "error", "frozen", "createfailed", "restarting",
	}
	statesV1 = []string{
		"creating", "deleting", "running", "error", "restarting", "createfailed", "extending",
		"upgrading", "paying", "migrating", "flushing", "closed", "starting", "closing", "restoring",
	}
	statesV1Engine = []string{
		"paying", "migrating", "flushing", "upgrading", "restoring", "extending", "creating",
		"running", "error", "createfailed", "restarting",
	}
)

// tally counts states, keeping the documented ones first, at zero too, and
// any other in the order first seen.
type tally struct {
	names []string
	n     map[string]int64
}

func newTally(documented []string) *tally {
	t := &tally{names: append([]string(nil), documented...), n: map[string]int64{}}
	for _, name := range documented {
		t.n[name] = 0
	}
	return t
}

func (t *tally) add(state string) {
	if _, ok := t.n[state]; !ok {
		t.names = append(t.names, state)
	}
	t.n[state]++
}

// appendCounts writes the counters as JSON members, spoiling the top-level
// running_count for the negative and huge shapes.
func (t *tally) appendCounts(b []byte, sh shape, top bool) []byte {
	for i, name := range t.names {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendQuote(b, name+"_count")
		b = append(b, ':')
		n := strconv.FormatInt(t.n[name], 10)
		switch {
		case sh == shapeStrings:
			n = strconv.Quote(n)
		case sh == shapeNegative && top && name == "running":
			n = "-1"
		case sh == shapeHuge && top && name == "running":
			n = hugeNumber
		}
		b = append(b, n...)
	}
	return b
}

// statusBody derives a status answer from the fleet. v2 has "redis" and
// "memcached" always and an object for each other engine; v1 has "redis"
// only, and its own counter set. Every status is counted as
// lower(status)+"_count"; include_failure=false leaves CREATEFAILED out.
func statusBody(recs []record, includeFailure, v1 bool, sh shape) []byte {
	topStates, engineStates, engines := statesV2, statesV2, []string{"redis", "memcached"}
	if v1 {
		topStates, engineStates, engines = statesV1, statesV1Engine, []string{"redis"}
	}
	top := newTally(topStates)
	perEngine := map[string]*tally{}
	for _, e := range engines {
		perEngine[e] = newTally(engineStates)
	}
	for _, rec := range recs {
		if rec.Status == "" || (!includeFailure && rec.Status == "CREATEFAILED") {
			continue
		}
		state := strings.ToLower(rec.Status)
		top.add(state)
		engine := strings.ToLower(rec.Engine)
		t := perEngine[engine]
		if t == nil && !v1 && engine != "" {
			t = newTally(engineStates)
			perEngine[engine] = t
			engines = append(engines, engine)
		}
		if t != nil {
			t.add(state)
		}
	}
	b := append(make([]byte, 0, 2048), '{')
	b = top.appendCounts(b, sh, true)
	for _, e := range engines {
		b = append(b, ',')
		b = strconv.AppendQuote(b, e)
		b = append(b, ":{"...)
		b = perEngine[e].appendCounts(b, sh, false)
		b = append(b, '}')
	}
	return append(b, '}')
}

func (s *Server) statusAnswer(r *http.Request, rt route, sh shape) *answer {
	recs, override := s.snapshot(rt.project)
	if override != nil && sh == shapeNormal {
		return jsonAnswer(http.StatusOK, override)
	}
	includeFailure := r.URL.Query().Get("include_failure") == "true"
	return jsonAnswer(http.StatusOK, statusBody(recs, includeFailure, rt.v1, sh))
}

// The bounds of the list API's paging parameters.
const (
	defaultListLimit = 10
	maxListLimit     = 1000
)

// listAnswer serves one page of GET /v2/{project_id}/instances. It knows the
// offset, limit, include_failure and status parameters.
func (s *Server) listAnswer(r *http.Request, rt route, sh shape) *answer {
	return s.listPage(r, rt, sh, -1)
}

// listAnswerWithTotal is listAnswer announcing total as instance_num.
func (s *Server) listAnswerWithTotal(r *http.Request, rt route, total int) *answer {
	return s.listPage(r, rt, shapeNormal, total)
}

func (s *Server) listPage(r *http.Request, rt route, sh shape, total int) *answer {
	q := r.URL.Query()
	offset, ok := intParam(q, "offset", 0)
	if !ok || offset < 0 {
		return serviceError(http.StatusBadRequest, "DCS.4800", "Invalid offset in the request.")
	}
	limit, ok := intParam(q, "limit", defaultListLimit)
	if !ok || limit < 1 || limit > maxListLimit {
		// The real code for a bad limit is not documented; this one is ours.
		return serviceError(http.StatusBadRequest, "DCS.4801", "Invalid limit in the request.")
	}
	includeFailure := q.Get("include_failure") == "true"
	status := q.Get("status")

	recs, _ := s.snapshot(rt.project)
	matching := recs[:0]
	for _, rec := range recs {
		if (!includeFailure && rec.Status == "CREATEFAILED") || (status != "" && rec.Status != status) {
			continue
		}
		matching = append(matching, rec)
	}
	if offset > 0 && offset >= len(matching) && s.listPastEndRefused() {
		return serviceError(http.StatusBadRequest, "DCS.4800", "Invalid offset in the request.")
	}
	if total < 0 {
		total = len(matching)
	}
	page := matching[min(offset, len(matching)):min(offset+limit, len(matching))]
	if sh == shapeNormal {
		size := 64
		for _, rec := range page {
			size += len(rec.json) + 1
		}
		b := append(make([]byte, 0, size), `{"instance_num":`...)
		b = strconv.AppendInt(b, int64(total), 10)
		b = append(b, `,"instances":[`...)
		for i, rec := range page {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, rec.json...)
		}
		return jsonAnswer(http.StatusOK, append(b, "]}"...))
	}
	doc := struct {
		InstanceNum any            `json:"instance_num"`
		Instances   []wireInstance `json:"instances"`
	}{InstanceNum: total, Instances: make([]wireInstance, 0, len(page))}
	switch sh {
	case shapeStrings:
		doc.InstanceNum = strconv.Itoa(total)
	case shapeNegative:
		doc.InstanceNum = -1
	case shapeHuge:
		doc.InstanceNum = json.Number(hugeNumber)
	}
	for i, rec := range page {
		doc.Instances = append(doc.Instances, toWire(rec, offset+i, sh))
	}
	return jsonAnswer(http.StatusOK, mustJSON(doc))
}

// SetListPastEndRefused with true makes the list API answer 400 DCS.4800
// "Invalid offset in the request." to an offset at or past the end of the
// listing (other than 0), instead of an empty page. The documented 400
// example of the list API is this answer; which of the two a real
// listing's end gets is not documented, so a client must take both.
func (s *Server) SetListPastEndRefused(refuse bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pastEndRefused = refuse
}

func (s *Server) listPastEndRefused() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pastEndRefused
}

// intParam reads an integer query parameter; absent gives def.
func intParam(q url.Values, name string, def int) (int, bool) {
	v, ok := q[name]
	if !ok || len(v) == 0 {
		return def, true
	}
	n, err := strconv.Atoi(v[0])
	return n, err == nil
}

// wireInstance is InstanceListInfo as the service sends it (OTC api-ref
// "Querying All DCS Instances", SDK model_instance_list_info.go), with the
// oddities of the documented example answer that a tolerant client must
// skip: a boolean no_password_access (a string in the SDK), an object
// publicip_id. Fields typed any take the other oddities of that example
// (enterprise_project_id 0, a tag key 1), the SDK's string
// no_password_access and worse types under FaultOddFields.
type wireInstance struct {
	InstanceID          string          `json:"instance_id"`
	Name                string          `json:"name"`
	Engine              string          `json:"engine"`
	EngineVersion       string          `json:"engine_version"`
	Status              string          `json:"status"`
	SubStatus           string          `json:"sub_status"`
	Capacity            any             `json:"capacity"`
	CapacityMinor       string          `json:"capacity_minor"`
	MaxMemory           any             `json:"max_memory"`
	UsedMemory          any             `json:"used_memory"`
	SpecCode            string          `json:"spec_code"`
	AZCodes             any             `json:"az_codes"`
	ChargingMode        int             `json:"charging_mode"`
	CPUType             string          `json:"cpu_type"`
	IP                  any             `json:"ip"`
	Port                any             `json:"port"`
	DomainName          string          `json:"domain_name"`
	ReadonlyDomainName  string          `json:"readonly_domain_name"`
	VPCID               string          `json:"vpc_id"`
	VPCName             string          `json:"vpc_name"`
	SubnetID            string          `json:"subnet_id"`
	SecurityGroupID     string          `json:"security_group_id"`
	PublicIPID          struct{}        `json:"publicip_id"`
	PublicIPAddress     *string         `json:"publicip_address"`
	EnablePublicIP      bool            `json:"enable_publicip"`
	EnableSSL           any             `json:"enable_ssl"`
	NoPasswordAccess    any             `json:"no_password_access"`
	AccessUser          *string         `json:"access_user"`
	UserID              string          `json:"user_id"`
	UserName            string          `json:"user_name"`
	EnterpriseProjectID any             `json:"enterprise_project_id"`
	Description         *string         `json:"description"`
	MaintainBegin       any             `json:"maintain_begin,omitempty"`
	MaintainEnd         any             `json:"maintain_end,omitempty"`
	ServiceUpgrade      any             `json:"service_upgrade"`
	ServiceTaskID       string          `json:"service_task_id"`
	CreatedAt           any             `json:"created_at"`
	UpdatedAt           string          `json:"updated_at"`
	OrderID             *string         `json:"order_id"`
	Tags                any             `json:"tags"`
	Features            map[string]bool `json:"features"`
}

type wireTag struct {
	Key   any    `json:"key"`
	Value string `json:"value"`
}

const createdLayout = "2006-01-02T15:04:05.000Z" // as in the documented example

// toWire is rec as the list API sends it at the given place of the listing.
func toWire(rec record, place int, sh shape) wireInstance {
	whole, minor := splitCapacity(rec.CapacityGB)
	ips, port, domain := rec.address()
	ep := rec.EnterpriseProjectID
	if ep == "" {
		ep = "0"
	}
	tags := make([]wireTag, len(rec.Tags))
	for i, t := range rec.Tags {
		tags[i] = wireTag{Key: t.Key, Value: t.Value}
	}
	w := wireInstance{
		InstanceID:          rec.ID,
		Name:                rec.Name,
		Engine:              rec.Engine,
		EngineVersion:       rec.EngineVersion,
		Status:              rec.Status,
		SubStatus:           "normal",
		Capacity:            whole,
		CapacityMinor:       minor,
		MaxMemory:           rec.MaxMemoryMB,
		UsedMemory:          rec.UsedMemoryMB,
		SpecCode:            rec.SpecCode,
		AZCodes:             append([]string{}, rec.AZCodes...),
		ChargingMode:        rec.ChargingMode,
		CPUType:             "x86_64",
		IP:                  strings.Join(ips, ","),
		Port:                port,
		DomainName:          domain,
		VPCID:               "5e37b3be-950a-48e1-b498-65b63d336481",
		VPCName:             "vpc-demo",
		SubnetID:            "a4112635-3ec0-471c-95c3-5cf49b9533af",
		SecurityGroupID:     "d57fad27-e3e9-43f7-9c97-9c0f9d1b1a2f",
		NoPasswordAccess:    !rec.PasswordRequired,
		EnableSSL:           rec.EnableSSL,
		UserID:              "6d0977e4c9b74ae2a1ad9a4f3b5c9d20",
		UserName:            "dcs-demo",
		EnterpriseProjectID: ep,
		ServiceUpgrade:      rec.ServiceUpgrade,
		CreatedAt:           rec.created.UTC().Format(createdLayout),
		UpdatedAt:           rec.created.Add(time.Hour).UTC().Format(createdLayout),
		Tags:                tags,
		Features:            map[string]bool{"support_acl": true, "support_ssl": false},
	}
	if rec.MaintainBegin != "" {
		w.MaintainBegin = rec.MaintainBegin
	}
	if rec.MaintainEnd != "" {
		w.MaintainEnd = rec.MaintainEnd
	}
	if rec.ServiceUpgrade {
		w.ServiceTaskID = uuidFrom(uint64(rec.seq), 0x7570677261646521)
	}
	switch sh {
	case shapeStrings:
		w.Capacity = strconv.Itoa(whole)
		w.MaxMemory = strconv.FormatInt(rec.MaxMemoryMB, 10)
		w.UsedMemory = strconv.FormatInt(rec.UsedMemoryMB, 10)
	case shapeOddFields:
		spoilFields(&w, rec, place)
	}
	return w
}

// spoilFields gives the fields of one instance the types of the documented
// example answer where it contradicts the SDK (a numeric
// enterprise_project_id and tag key), and types no documentation shows,
// which a tolerant client must drop field by field: numbers for the
// maintenance window and the creation time, a string for service_upgrade,
// an object for the tags or a string for az_codes, a number for ip and
// no_password_access, a word for enable_ssl. no_password_access also goes
// as the SDK types it, a string "true" or "false", and port as a numeric
// string. Instances take turns by their place in the listing, so that one
// page of four has every kind.
func spoilFields(w *wireInstance, rec record, place int) {
	if n, err := strconv.Atoi(rec.EnterpriseProjectID); err == nil || rec.EnterpriseProjectID == "" {
		w.EnterpriseProjectID = n // "0" or "" goes as 0, as in the example
	}
	for i, t := range rec.Tags {
		if n, err := strconv.Atoi(t.Key); err == nil {
			w.Tags.([]wireTag)[i].Key = n
		}
	}
	switch place % 4 {
	case 0:
		w.MaintainBegin, w.MaintainEnd = 7200, 21600
		w.NoPasswordAccess = strconv.FormatBool(!rec.PasswordRequired)
	case 1:
		w.ServiceUpgrade = "yes"
		w.CreatedAt = rec.created.Unix()
		w.EnableSSL = "yes"
	case 2:
		w.Tags = map[string]string{"owner": "nobody"}
		w.AZCodes = "az1"
		w.IP, w.NoPasswordAccess = 192168, 1
	case 3:
		w.EnterpriseProjectID = map[string]string{"id": rec.EnterpriseProjectID}
		w.Tags = []any{"owner=nobody", wireTag{Key: true, Value: "a boolean key"}}
		w.Port = strconv.Itoa(w.Port.(int))
	}
}

// address is where rec is served to connect: its own addresses, port and
// domain name, or the made-up ones for those it leaves unset.
func (rec record) address() (ips []string, port int, domain string) {
	switch {
	case rec.NoAddress:
	case rec.IPs == nil:
		ips = []string{fmt.Sprintf("192.168.%d.%d", 1+rec.seq/250%250, 2+rec.seq%250)}
	default:
		ips = append([]string(nil), rec.IPs...)
	}
	port = rec.Port
	if port == 0 {
		port = 6379
		if strings.EqualFold(rec.Engine, "Memcached") {
			port = 11211
		}
	}
	domain = rec.DomainName
	if domain == "" {
		domain = rec.ID + ".dcs.huaweicloud.com"
	}
	return ips, port, domain
}

// splitCapacity gives whole gigabytes, and the documented string for sizes
// under 1 GB: 0.125 -> 0, ".125"; 2 -> 2, "".
func splitCapacity(gb float64) (int, string) {
	if gb >= 1 {
		return int(math.Round(gb)), ""
	}
	frac := math.Round(gb*1000) / 1000
	if frac <= 0 {
		return 0, ""
	}
	return 0, strings.TrimPrefix(strconv.FormatFloat(frac, 'f', -1, 64), "0")
}

func randomUUID() string {
	return uuidFrom(rand.Uint64(), rand.Uint64())
}

// uuidFrom formats 128 bits as a version 4 UUID.
func uuidFrom(hi, lo uint64) string {
	hi = hi&^0xf000 | 0x4000
	lo = lo&^(0xc<<60) | 0x8<<60
	return fmt.Sprintf("%08x-%04x-%04x-%04x-%012x", hi>>32, hi>>16&0xffff, hi&0xffff, lo>>48, lo&0xffffffffffff)
}

// The choices of Annotate. Window starts are those the Terraform provider
// accepts for maintain_begin (resource_huaweicloud_dcs_instance.go); the
// documented example answer has a one-hour window, 18:00:00 to 19:00:00.
var (
	sampleOwners       = []string{"team-payments", "team-search", "team-platform", "team-data"}
	sampleCostCenters  = []string{"cc-1001", "cc-2002", "cc-3003"}
	sampleEnvs         = []string{"prod", "staging", "dev"}
	sampleEnterprise   = []string{"0", "0", "8e3c5f2a-41d7-4b8e-9a6f-2c1d0e9b7a53", "b71f0c94-5e2a-4d3b-8c6e-7f1a2b3c4d5e"}
	sampleWindowStarts = []int{22, 2, 6, 10, 14, 18}
)

// Annotate gives in the context a real fleet has, drawn from its ID, so
// that an instance always gets the same: owner, cost-center and env tags
// (one instance in eight has no owner tag), an enterprise project ("0",
// the default one, for half of them), a daily maintenance window of four
// hours or one hour (those starting at 22:00 run past midnight), and for
// one in twenty a pending upgrade.
func Annotate(in *Instance) {
	h := fnv.New64a()
	_, _ = h.Write([]byte(in.ID)) // a hash never fails to write
	r := rand.New(rand.NewPCG(h.Sum64(), 0x616e6e6f74617465))
	owner := sampleOwners[r.IntN(len(sampleOwners))]
	in.Tags = []Tag{
		{"cost-center", sampleCostCenters[r.IntN(len(sampleCostCenters))]},
		{"env", sampleEnvs[r.IntN(len(sampleEnvs))]},
	}
	if r.IntN(8) != 0 {
		in.Tags = append([]Tag{{"owner", owner}}, in.Tags...)
	} else {
		in.Tags = append(in.Tags, Tag{"team", owner}) // three tags, but no owner
	}
	in.EnterpriseProjectID = sampleEnterprise[r.IntN(len(sampleEnterprise))]
	start, hours := sampleWindowStarts[r.IntN(len(sampleWindowStarts))], 4
	if r.IntN(4) == 0 {
		hours = 1
	}
	in.MaintainBegin = fmt.Sprintf("%02d:00:00", start)
	in.MaintainEnd = fmt.Sprintf("%02d:00:00", (start+hours)%24)
	in.ServiceUpgrade = r.IntN(20) == 0
}

// SampleFleet returns n made-up instances with some variety: mostly running
// Redis of several versions and sizes, some Memcached, a few instances in
// other states, each with the tags, enterprise project, maintenance window
// and pending upgrade of Annotate. Two in three need a password, one in
// eleven has TLS on, and those that failed to be created have no address. The same n always gives the same fleet,
// and a larger n the same instances first.
func SampleFleet(n int) []Instance {
	sizes := []float64{0.125, 0.25, 0.5, 1, 2, 4, 8, 16, 32, 64}
	versions := []string{"5.0", "6.0", "4.0", "7.0"}
	out := make([]Instance, n)
	for i := range out {
		r := rand.New(rand.NewPCG(uint64(i), 0x6463735f64656d6f)) // per instance, so n does not change earlier ones
		gb := sizes[r.IntN(len(sizes))]
		maxMB := int64(gb * 1024 * 0.8)
		in := Instance{
			ID:            uuidFrom(r.Uint64(), r.Uint64()),
			Name:          fmt.Sprintf("dcs-demo-%04d", i+1),
			Engine:        "Redis",
			EngineVersion: versions[r.IntN(len(versions))],
			Status:        "RUNNING",
			SpecCode:      fmt.Sprintf("redis.ha.xu1.large.r2.%d", max(1, int(gb))),
			CapacityGB:    gb,
			MaxMemoryMB:   maxMB,
			UsedMemoryMB:  int64(float64(maxMB) * r.Float64() * 0.9),
			ChargingMode:  r.IntN(2),
			AZCodes:       []string{"cn-north-4a", "cn-north-4c"},
		}
		Annotate(&in)
		in.PasswordRequired = i%3 != 0 // most instances have a password
		in.EnableSSL = i%11 == 0
		if i%5 == 4 {
			in.Engine, in.EngineVersion = "Memcached", "1.5"
			in.SpecCode = fmt.Sprintf("dcs.memcached.master_standby.%d", max(1, int(gb)))
			in.AZCodes = []string{"cn-north-4b"}
		}
		switch x := r.IntN(100); {
		case x < 3:
			in.Status = "ERROR"
		case x < 5:
			in.Status = "CREATING"
		case x < 6:
			in.Status = "EXTENDING"
		case x < 7:
			in.Status = "FROZEN"
		case x < 8:
			in.Status = "CREATEFAILED"
			in.NoAddress = true // it never came up
		case x < 9:
			in.Status = "RESTARTING"
		}
		out[i] = in
	}
	return out
}
