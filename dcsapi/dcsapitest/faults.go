// This file injects faults: the ways a call can fail, and when they strike.

package dcsapitest

import (
	"bytes"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"
)

// FaultKind is a way for an API call to go wrong.
type FaultKind int

// The faults. Hang, Reset and Trickle are about the transport and strike
// before the signature is checked; the others replace the service's answer
// to a correctly signed request.
const (
	// FaultStatus answers Fault.Status (default 500) with the gateway's JSON
	// error shape and Fault.Code and Fault.Message, or defaults that suit
	// the status. Fault.RetryAfter, if set, is sent too.
	FaultStatus FaultKind = iota
	// FaultThrottle answers 429 APIGW.0308, with Retry-After when
	// Fault.RetryAfter is set.
	FaultThrottle
	// FaultHTML answers Fault.Status (default 502) with a proxy's HTML page.
	FaultHTML
	// FaultHang never answers: it waits for the client to give up or the
	// server to close.
	FaultHang
	// FaultReset announces the normal answer, sends half its body and
	// closes the connection.
	FaultReset
	// FaultTrickle sends the normal answer Fault.Size bytes (default 8) at
	// a time, Fault.Delay (default 10 ms) apart.
	FaultTrickle
	// FaultTruncatedJSON sends the first half of the normal body as a
	// complete HTTP answer.
	FaultTruncatedJSON
	// FaultMalformedJSON sends the normal body with a syntax error in it.
	FaultMalformedJSON
	// FaultWrongTypes sends counts as strings: every status count, and
	// instance_num, capacity and the memory sizes of the list. IAM gets
	// "projects" as an object, the metadata service expires_at as a number.
	FaultWrongTypes
	// FaultNegativeCount sends running_count (status) or instance_num
	// (list) as -1. Other APIs answer normally.
	FaultNegativeCount
	// FaultHugeNumber sends running_count or instance_num as a number far
	// beyond int64. Other APIs answer normally.
	FaultHugeNumber
	// FaultEmptyBody answers 200 with an empty body.
	FaultEmptyBody
	// FaultOversized answers 200 with a body of Fault.Size bytes (default
	// 256 MiB), streamed without being held in memory.
	FaultOversized
	// FaultOddFields serves the listing with odd types in the instances'
	// fields: those of the documented example answer (enterprise_project_id
	// and numeric tag keys as numbers) and worse ones (the maintenance
	// window and created_at as numbers, service_upgrade as a string, tags
	// as an object, az_codes as a string), taken in turns by the instances
	// by their place in the listing (see spoilFields).
	// Other APIs answer normally.
	FaultOddFields
	// FaultInstanceNum serves the listing's page as usual but announces
	// Fault.InstanceNum as instance_num, as a count that is out of step
	// with the pages would. Other APIs answer normally.
	FaultInstanceNum
	// FaultRedirect answers Fault.Status (default 302 Found) with
	// Location: Fault.Location, as a wrong endpoint or a rewriting proxy
	// would. The answer comes after the signature is checked, so that a
	// client that follows it has already sent its signed headers here and
	// sends them again to the Location.
	FaultRedirect
	// FaultEndlessListing serves every page of the listing full, with
	// instances that are new on every page (ids from the page's offset),
	// and announces Fault.InstanceNum (default 2147483647) as instance_num:
	// a listing that never ends. Other APIs answer normally.
	FaultEndlessListing
)

var faultNames = [...]string{
	"status", "throttle", "html", "hang", "reset", "trickle", "truncated_json",
	"malformed_json", "wrong_types", "negative_count", "huge_number", "empty_body", "oversized",
	"odd_fields", "instance_num", "redirect", "endless_listing",
}

func (k FaultKind) String() string {
	if k >= 0 && int(k) < len(faultNames) {
		return faultNames[k]
	}
	return "fault(" + strconv.Itoa(int(k)) + ")"
}

func (k FaultKind) transport() bool {
	return k == FaultHang || k == FaultReset || k == FaultTrickle
}

// Defaults of the Fault fields.
const (
	DefaultOversize     = 256 << 20
	defaultTricklePause = 10 * time.Millisecond
)

// Fault describes one injected failure. Fields a kind does not use are
// ignored.
type Fault struct {
	Kind    FaultKind
	Status  int    // FaultStatus, FaultHTML
	Code    string // FaultStatus, FaultThrottle: the error code; digits go as a JSON number
	Message string // FaultStatus, FaultThrottle: the error message
	// Shape is how FaultStatus and FaultThrottle spell the error.
	Shape ErrorShape
	// InstanceNum is the total FaultInstanceNum and FaultEndlessListing
	// announce.
	InstanceNum int
	// Location is where FaultRedirect points.
	Location string
	// RetryAfter is sent as Retry-After in whole seconds, rounded up
	// (FaultStatus, FaultThrottle); zero sends none.
	RetryAfter time.Duration
	// Delay is an extra wait before the answer, for every kind; for
	// FaultTrickle it is also the pause between pieces.
	Delay time.Duration
	// Size is the body length for FaultOversized, the piece length for
	// FaultTrickle.
	Size int64
	// Chunked sends the answer without Content-Length, so that the client
	// learns its length only by reading it (not for Hang, Reset, Trickle).
	Chunked bool
	// Times is how many requests the fault strikes before it is gone; 0
	// strikes until ClearFaults.
	Times int
	// RequestID, when set, replaces the request id of a FaultStatus or
	// FaultThrottle answer wherever its shape carries one (X-Request-Id,
	// X-IAM-Trace-Id, the body's request_id), as a gateway that echoes a
	// request header back would.
	RequestID string
	// Offset, for list_instances and instance_nodes, strikes only the page
	// that starts at this offset (a request without offset asks for page
	// 0); nil strikes every page. See AtOffset.
	Offset *int
}

// ErrorShape is one of the ways the services spell an error answer. The
// SDK reads them all the same way (core/sdkerr/errors.go): error_code and
// error_msg, else code and message, else either pair in a nested object.
type ErrorShape int

// The error shapes.
const (
	// ShapeGateway is the API gateway's {"error_code", "error_msg",
	// "request_id"}, with the request id in X-Request-Id too (API signing
	// guide, "Error Codes").
	ShapeGateway ErrorShape = iota
	// ShapeService is DCS's own ErrorInfo, {"error_code", "error_msg",
	// "error_ext_msg": null}, with the request id in X-Request-Id only
	// (DCS API reference, "Error Codes").
	ShapeService
	// ShapeCodeMessage is {"code", "message"} at the top level, the SDK's
	// second form, with the request id in the body's "request_id" only.
	ShapeCodeMessage
	// ShapeNested is IAM's {"error": {"code", "message", "title"}}, with
	// the request id in X-IAM-Trace-Id only (IAM API reference, "Error
	// Codes"; SDK core/auth/internal reads X-IAM-Trace-Id).
	ShapeNested
)

// AtOffset returns a pointer to n, for Fault.Offset.
func AtOffset(n int) *int { return &n }

type activeFault struct {
	projectID, api string
	fault          Fault
	used           int
}

// InjectFault makes requests for api of projectID fail as f says. api is
// one of the API names ("" for all) and projectID "" matches every project,
// and also IAM and metadata requests, which have none. When several faults
// match a request, the one injected first strikes.
func (s *Server) InjectFault(projectID, api string, f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f.Offset != nil {
		f.Offset = AtOffset(*f.Offset) // the caller's int stays the caller's
	}
	s.faults = append(s.faults, &activeFault{projectID: projectID, api: api, fault: f})
}

// ClearFaults removes every injected fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// takeFault returns the first fault of the given class that matches the
// request and uses up one of its Times.
func (s *Server) takeFault(rt route, transport bool) *Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, af := range s.faults {
		f := af.fault
		switch {
		case f.Kind.transport() != transport,
			af.api != "" && af.api != rt.api,
			af.projectID != "" && af.projectID != rt.project,
			f.Offset != nil && (rt.api != APIListInstances && rt.api != APINodes || *f.Offset != rt.offset):
			continue
		}
		af.used++
		if f.Times > 0 && af.used >= f.Times {
			s.faults = append(s.faults[:i:i], s.faults[i+1:]...)
		}
		return &f
	}
	return nil
}

// faultAnswer builds the answer a non-transport fault sends.
func (s *Server) faultAnswer(r *http.Request, rt route, f *Fault) *answer {
	var a *answer
	switch f.Kind {
	case FaultThrottle:
		a = errorAnswer(f.Shape, http.StatusTooManyRequests,
			orDefault(f.Code, "APIGW.0308"),
			orDefault(f.Message, "The throttling threshold has been reached: policy user over ratelimit,limit:200,time:1 second"))
	case FaultHTML:
		a = htmlPage(orDefaultInt(f.Status, http.StatusBadGateway))
	case FaultTruncatedJSON:
		a = s.serviceAnswer(r, rt, shapeNormal)
		a.body = a.body[:len(a.body)/2]
	case FaultMalformedJSON:
		a = s.serviceAnswer(r, rt, shapeNormal)
		a.body = malformed(a.body)
	case FaultWrongTypes:
		a = s.serviceAnswer(r, rt, shapeStrings)
	case FaultNegativeCount:
		a = s.serviceAnswer(r, rt, shapeNegative)
	case FaultHugeNumber:
		a = s.serviceAnswer(r, rt, shapeHuge)
	case FaultOddFields:
		a = s.serviceAnswer(r, rt, shapeOddFields)
	case FaultInstanceNum:
		a = s.serviceAnswer(r, rt, shapeNormal)
		if rt.api == APIListInstances && a.status == http.StatusOK {
			a = s.listAnswerWithTotal(r, rt, f.InstanceNum)
		}
	case FaultRedirect:
		a = newAnswer(orDefaultInt(f.Status, http.StatusFound), "text/html", []byte("<html><body>Moved</body></html>"))
		a.header.Set("Location", f.Location)
	case FaultEndlessListing:
		a = s.serviceAnswer(r, rt, shapeNormal)
		if rt.api == APIListInstances && a.status == http.StatusOK {
			a = endlessPage(r, orDefaultInt(f.InstanceNum, math.MaxInt32))
		}
	case FaultEmptyBody:
		a = jsonAnswer(http.StatusOK, nil)
	case FaultOversized:
		a = jsonAnswer(http.StatusOK, nil)
		a.size = f.Size
		if a.size <= 0 {
			a.size = DefaultOversize
		}
	default: // FaultStatus, and any unknown kind
		status := orDefaultInt(f.Status, http.StatusInternalServerError)
		code, msg := defaultError(status)
		a = errorAnswer(f.Shape, status, orDefault(f.Code, code), orDefault(f.Message, msg))
	}
	if f.RequestID != "" && (f.Kind == FaultStatus || f.Kind == FaultThrottle) {
		a.setRequestID(f.RequestID)
	}
	a.chunked = f.Chunked
	if f.RetryAfter > 0 {
		secs := (f.RetryAfter + time.Second - 1) / time.Second
		a.header.Set("Retry-After", strconv.FormatInt(int64(secs), 10))
	}
	return a
}

// defaultError gives a plausible gateway code and message for a status.
func defaultError(status int) (code, msg string) {
	switch status {
	case http.StatusUnauthorized:
		return "APIGW.0301", msgBadSignature
	case http.StatusForbidden:
		return "APIGW.0302", "The IAM user is not authorized to access the API"
	case http.StatusNotFound:
		return "APIGW.0101", "The API does not exist or has not been published in the environment"
	case http.StatusTooManyRequests:
		return "APIGW.0308", "The throttling threshold has been reached"
	case http.StatusInternalServerError:
		return "DCS.5000", "Internal service error."
	case http.StatusBadGateway, http.StatusServiceUnavailable:
		return "APIGW.0201", "Backend unavailable"
	case http.StatusGatewayTimeout:
		return "APIGW.0201", "Backend timeout"
	}
	if status >= 500 {
		return "DCS.5000", "Internal service error."
	}
	return "APIGW.0201", "API request error"
}

// malformed breaks the JSON syntax of body near its start.
func malformed(body []byte) []byte {
	if i := bytes.IndexByte(body, ','); i >= 0 {
		return append(append(body[:i:i], ",,"...), body[i+1:]...)
	}
	return append(body[:len(body):len(body)], '}')
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

func orDefaultInt(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

// endlessPage is a full page of a listing that never ends: as many
// instances as the request asks for (at most maxListLimit), with ids and
// names made from their place in the listing, so that every page brings new
// ones, and total announced as instance_num.
func endlessPage(r *http.Request, total int) *answer {
	q := r.URL.Query()
	offset, ok := intParam(q, "offset", 0)
	if !ok || offset < 0 {
		offset = 0
	}
	limit, ok := intParam(q, "limit", defaultListLimit)
	if !ok || limit < 1 || limit > maxListLimit {
		limit = maxListLimit
	}
	b := make([]byte, 0, 64+limit*320)
	b = fmt.Appendf(b, `{"instance_num":%d,"instances":[`, total)
	for i := range limit {
		if i > 0 {
			b = append(b, ',')
		}
		n := offset + i
		b = fmt.Appendf(b, `{"instance_id":"endless-%08d-0000-4000-8000-000000000000","name":"endless-%d",`+
			`"engine":"Redis","engine_version":"6.0","status":"RUNNING","spec_code":"redis.ha.xu1.large.r2.1",`+
			`"capacity":1,"capacity_minor":"","max_memory":1024,"used_memory":%d,"charging_mode":0,`+
			`"az_codes":["cn-north-4a"],"enterprise_project_id":"0","tags":[],`+
			`"maintain_begin":"18:00:00","maintain_end":"19:00:00","created_at":"2024-01-01T00:00:00.000Z"}`, n, n, n%1024)
	}
	b = append(b, "]}"...)
	return jsonAnswer(http.StatusOK, b)
}
