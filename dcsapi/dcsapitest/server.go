// This file runs the fake: the listener, routing, counting and the
// switches that change the whole cloud's behaviour.

package dcsapitest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The key pair every new Server accepts. It is the pair of the SDK signature
// vectors in dcsapi/testdata, and is not a real credential.
const (
	TestAccessKey = "HPUAEXAMPLEAK0000001"
	TestSecretKey = "ExampleSecretKeyDoNotUse0123456789ABCDEFG"
)

// The API names used by Requests, ProjectRequests, RequestLog and
// InjectFault. The first five are dcsapi's names for the same calls.
const (
	APIInstanceStatus  = "instance_status" // v2 and v1.0 status paths
	APIListInstances   = "list_instances"
	APIIAMProjects     = "iam_projects"      // GET /v3/projects
	APIIAMAuthProjects = "iam_auth_projects" // GET /v3/auth/projects
	APIMetadata        = "metadata"          // GET /openstack/latest/securitykey
	APIMetadataToken   = "metadata_token"    // PUT /meta-data/latest/api/token
	APIUnknown         = "unknown"           // any other path or method
)

// lockout rules of the API gateway: more than maxAuthFailures failures in a
// row lock the access key for lockoutPeriod.
const (
	maxAuthFailures = 5
	lockoutPeriod   = 5 * time.Minute
	// requestLogSize bounds RequestLog, so a long --demo run stays small.
	requestLogSize = 1000
)

// Server is a running fake. Configure it with its methods at any time, also
// while requests are being served.
//
// It answers as the gateway does: an unknown path or method gets 404
// APIGW.0101, a bad signature 401 APIGW.0301. A project that was never set
// up (AddProject, SetInstances, UpsertInstance, SetV2StatusAvailable,
// SetStatusOverride) gets 403 APIGW.0310 "The project is unavailable".
type Server struct {
	URL string // base URL of every API, e.g. http://127.0.0.1:41234

	srv       *http.Server
	closing   chan struct{} // closed by Close, wakes hanging handlers
	closeOnce sync.Once
	serveDone chan struct{}
	handlers  sync.WaitGroup

	mu             sync.Mutex
	closed         bool
	clock          func() time.Time
	latency        time.Duration
	keys           map[string]accessKey
	authFailures   map[string]int
	lockedUntil    map[string]time.Time
	projects       map[string]*project
	iamProjects    []iamProject
	faults         []*activeFault
	counts         map[countKey]int
	log            []RequestInfo
	metadata       *metadataCredential
	metadataTokens map[string]time.Time
	hijacked       map[net.Conn]struct{}
	created        int // instances ever created, for created_at
	pastEndRefused bool
	iamListDenied  bool
	gatewaySkew    time.Duration
}

type accessKey struct {
	secret  string
	token   string    // required X-Security-Token, for temporary keys
	expires time.Time // zero: never
}

type project struct {
	instances      []record
	v2Unavailable  bool
	statusOverride []byte
	fleet          fleetKnobs // the fleet APIs' switches (fleetapis.go)
}

// record is an instance as the fake keeps it, with the creation time its
// listing shows, its place in the order of creation and its list item.
type record struct {
	Instance
	created time.Time
	seq     int
	json    []byte // the list item, kept up to date by encode
}

type iamProject struct{ region, id string }

type countKey struct{ api, project string }

// RequestInfo describes one request the fake received.
type RequestInfo struct {
	API       string
	ProjectID string // empty for IAM, metadata and unknown paths
	Method    string
	Path      string
	Query     url.Values
	Header    http.Header
}

// NewServer starts a fake on a free port of 127.0.0.1.
func NewServer() *Server {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(fmt.Sprintf("dcsapitest: listening: %v", err))
	}
	return NewServerOn(l)
}

// NewServerOn starts a fake that serves on l, which it then owns. Like
// NewServer, it accepts TestAccessKey with TestSecretKey.
func NewServerOn(l net.Listener) *Server {
	s := &Server{
		URL:            "http://" + l.Addr().String(),
		closing:        make(chan struct{}),
		serveDone:      make(chan struct{}),
		keys:           map[string]accessKey{TestAccessKey: {secret: TestSecretKey}},
		authFailures:   map[string]int{},
		lockedUntil:    map[string]time.Time{},
		projects:       map[string]*project{},
		counts:         map[countKey]int{},
		metadataTokens: map[string]time.Time{},
		hijacked:       map[net.Conn]struct{}{},
	}
	s.srv = &http.Server{
		Handler:           http.HandlerFunc(s.serveHTTP),
		ReadHeaderTimeout: 10 * time.Second,
		// Faults make clients hang up mid-answer on purpose; the server's
		// complaints about that are noise.
		ErrorLog: log.New(io.Discard, "", 0),
	}
	go func() {
		defer close(s.serveDone)
		_ = s.srv.Serve(l)
	}()
	return s
}

// Close stops the server: it closes the listener and every connection,
// including hijacked ones, wakes handlers that hang or trickle, and waits
// for them to return, so a test leaves no goroutine behind.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		conns := make([]net.Conn, 0, len(s.hijacked))
		for c := range s.hijacked {
			conns = append(conns, c)
		}
		s.mu.Unlock()
		close(s.closing)
		_ = s.srv.Close()
		for _, c := range conns {
			_ = c.Close()
		}
		s.handlers.Wait()
		<-s.serveDone
	})
}

// SetClock replaces the server's clock, which judges signature dates,
// lockouts and metadata credential expiry. nil restores time.Now.
func (s *Server) SetClock(now func() time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clock = now
}

func (s *Server) now() time.Time {
	s.mu.Lock()
	clock := s.clock
	s.mu.Unlock()
	if clock == nil {
		return time.Now()
	}
	return clock()
}

// SetGatewayClockOffset puts the API gateway's clock d ahead of the
// server's clock (behind, for a negative d), as when the client's clock is
// off by -d: the gateway then judges signature dates by it (more than 15
// minutes off is refused), counts lockouts by it, and sends it in the Date
// header of every DCS and IAM answer.
func (s *Server) SetGatewayClockOffset(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gatewaySkew = d
}

// gatewayNow is the API gateway's clock.
func (s *Server) gatewayNow() time.Time {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	return now.Add(s.gatewaySkew)
}

// SetLatency delays every answer by d, faults included.
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

// AddKey makes the server accept a permanent key pair.
func (s *Server) AddKey(ak, sk string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys[ak] = accessKey{secret: sk}
}

// AddTemporaryKey makes the server accept a temporary key pair: requests
// signed with it must carry X-Security-Token equal to token, and sign it.
func (s *Server) AddTemporaryKey(ak, sk, token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys[ak] = accessKey{secret: sk, token: token}
}

// AddProject makes IAM list projectID under the project name region. Adding
// several ids under one name is allowed, to test an ambiguous lookup. The
// project then exists for DCS too, with no instances.
func (s *Server) AddProject(region, projectID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.iamProjects = append(s.iamProjects, iamProject{region: region, id: projectID})
	s.projectLocked(projectID)
}

// projectLocked returns the project, creating it. s.mu must be held.
func (s *Server) projectLocked(id string) *project {
	p := s.projects[id]
	if p == nil {
		p = &project{}
		s.projects[id] = p
	}
	return p
}

// SetV2StatusAvailable with false makes the v2 status path of the project
// answer 404 APIGW.0101, as on Open Telekom Cloud, which has only v1.0.
func (s *Server) SetV2StatusAvailable(projectID string, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.projectLocked(projectID).v2Unavailable = !ok
}

// SetStatusOverride makes both status paths of the project answer 200 with
// exactly body; nil goes back to counts derived from the fleet.
func (s *Server) SetStatusOverride(projectID string, body []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.projectLocked(projectID).statusOverride = bytes.Clone(body) // nil stays nil
}

// Requests returns how many requests the server received for api since the
// last ResetCounts, refused ones included; api "" counts every request.
func (s *Server) Requests(api string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for k, v := range s.counts {
		if api == "" || k.api == api {
			n += v
		}
	}
	return n
}

// ProjectRequests is Requests for one project. IAM and metadata requests
// belong to project "".
func (s *Server) ProjectRequests(projectID, api string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for k, v := range s.counts {
		if k.project == projectID && (api == "" || k.api == api) {
			n += v
		}
	}
	return n
}

// RequestLog returns copies of the requests received for api ("" for all),
// oldest first. Only the last 1000 requests are kept.
func (s *Server) RequestLog(api string) []RequestInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []RequestInfo
	for _, ri := range s.log {
		if api == "" || ri.API == api {
			ri.Header = ri.Header.Clone()
			ri.Query = cloneValues(ri.Query)
			out = append(out, ri)
		}
	}
	return out
}

func cloneValues(v url.Values) url.Values {
	out := make(url.Values, len(v))
	for k, vs := range v {
		out[k] = slices.Clone(vs)
	}
	return out
}

// ResetCounts forgets the requests received so far.
func (s *Server) ResetCounts() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.counts = map[countKey]int{}
	s.log = nil
}

// route is what the path and method of a request select.
type route struct {
	api     string
	project string
	v1      bool // the v1.0 status path
	offset  int  // list_instances page, for Fault.Offset
	// instance is the path's instance id (backup records).
	instance string
}

func routeOf(r *http.Request) route {
	path := r.URL.Path
	parts := strings.Split(strings.Trim(path, "/"), "/")
	get := r.Method == http.MethodGet
	switch {
	case get && path == "/v3/projects":
		return route{api: APIIAMProjects}
	case get && path == "/v3/auth/projects":
		return route{api: APIIAMAuthProjects}
	case get && path == "/openstack/latest/securitykey":
		return route{api: APIMetadata}
	case r.Method == http.MethodPut && path == "/meta-data/latest/api/token":
		return route{api: APIMetadataToken}
	case get && len(parts) == 4 && parts[1] != "" && parts[2] == "instances" && parts[3] == "status" &&
		(parts[0] == "v2" || parts[0] == "v1.0"):
		return route{api: APIInstanceStatus, project: parts[1], v1: parts[0] == "v1.0"}
	case get && len(parts) == 3 && parts[0] == "v2" && parts[1] != "" && parts[2] == "instances":
		offset, err := strconv.Atoi(r.URL.Query().Get("offset"))
		if err != nil {
			offset = 0
		}
		return route{api: APIListInstances, project: parts[1], offset: offset}
	}
	if rt, ok := fleetRoute(r, parts); ok {
		return rt
	}
	return route{api: APIUnknown}
}

// enter registers a handler unless the server is closing; Close waits for
// every registered one.
func (s *Server) enter() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.handlers.Add(1)
	return true
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if !s.enter() {
		return
	}
	defer s.handlers.Done()
	rt := routeOf(r)
	s.count(rt, r)

	// Transport faults strike before the gateway looks at the request.
	transport := s.takeFault(rt, true)
	if transport != nil && transport.Kind == FaultHang {
		s.hang(r.Context())
		abort()
	}
	a, fault := s.answer(r, rt)
	if rt.api != APIMetadata && rt.api != APIMetadataToken {
		// The gateway's answers carry its own clock, right or wrong.
		a.header.Set("Date", s.gatewayNow().UTC().Format(http.TimeFormat))
	}
	wait := s.latencyNow()
	for _, f := range []*Fault{transport, fault} {
		if f != nil {
			wait += f.Delay
		}
	}
	if !s.pause(r.Context(), wait) {
		abort()
	}
	switch {
	case transport != nil && transport.Kind == FaultReset:
		s.resetMidBody(w, a)
	case transport != nil && transport.Kind == FaultTrickle:
		if !s.trickle(w, r, a, transport) {
			abort()
		}
	default:
		a.write(w)
	}
}

// abort ends a handler without an answer: returning normally would let
// net/http send an empty 200 to a client that must see a failure.
func abort() {
	panic(http.ErrAbortHandler)
}

func (s *Server) count(rt route, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.counts[countKey{rt.api, rt.project}]++
	if len(s.log) >= requestLogSize {
		s.log = append(s.log[:0], s.log[1:]...)
	}
	s.log = append(s.log, RequestInfo{
		API:       rt.api,
		ProjectID: rt.project,
		Method:    r.Method,
		Path:      r.URL.Path,
		Query:     r.URL.Query(),
		Header:    r.Header.Clone(),
	})
}

func (s *Server) latencyNow() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.latency
}

// answer decides what to send, in the gateway's order: routing, then the
// signature, then injected faults, then the service itself. It returns the
// fault that shaped the answer, if any.
func (s *Server) answer(r *http.Request, rt route) (*answer, *Fault) {
	switch rt.api {
	case APIUnknown:
		return apiNotFound(), nil
	case APIMetadata, APIMetadataToken:
		// The metadata service is not behind the gateway: no signature.
		if f := s.takeFault(rt, false); f != nil {
			return s.faultAnswer(r, rt, f), f
		}
		return s.metadataAnswer(r, rt, shapeNormal), nil
	}
	if rt.api == APIInstanceStatus && !rt.v1 && s.v2Unavailable(rt.project) || s.fleetAPIUnavailable(rt) {
		return apiNotFound(), nil
	}
	if msg := s.authenticate(r, rt.project); msg != "" {
		return gatewayError(http.StatusUnauthorized, "APIGW.0301", msg), nil
	}
	if f := s.takeFault(rt, false); f != nil {
		return s.faultAnswer(r, rt, f), f
	}
	return s.serviceAnswer(r, rt, shapeNormal), nil
}

func (s *Server) v2Unavailable(projectID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.projects[projectID]
	return p != nil && p.v2Unavailable
}

// serviceAnswer is the answer of the DCS, IAM or metadata service itself,
// its numbers shaped as asked.
func (s *Server) serviceAnswer(r *http.Request, rt route, sh shape) *answer {
	switch rt.api {
	case APIIAMProjects:
		if s.iamListIsDenied() {
			return iamListDenied()
		}
		return s.iamAnswer(r, sh)
	case APIIAMAuthProjects:
		return s.authProjectsAnswer(sh)
	case APIMetadata, APIMetadataToken:
		return s.metadataAnswer(r, rt, sh)
	}
	s.mu.Lock()
	p := s.projects[rt.project]
	s.mu.Unlock()
	if p == nil {
		// Our choice for a project the account does not have: the gateway's
		// "project is unavailable", which dcsapi treats as an auth failure.
		return gatewayError(http.StatusForbidden, "APIGW.0310", "The project is unavailable")
	}
	if rt.api == APIInstanceStatus {
		return s.statusAnswer(r, rt, sh)
	}
	if a := s.fleetAnswer(r, rt, sh); a != nil {
		return a
	}
	return s.listAnswer(r, rt, sh)
}

// pause waits d, or less if the client leaves or the server closes; it
// reports whether the whole wait passed.
func (s *Server) pause(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
	case <-s.closing:
	}
	return false
}

// hang blocks until the client gives up or the server closes.
func (s *Server) hang(ctx context.Context) {
	select {
	case <-ctx.Done():
	case <-s.closing:
	}
}

func newRequestID() string {
	return fmt.Sprintf("%016x%016x", rand.Uint64(), rand.Uint64())
}
