package dcsapitest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/dcs-exporter/dcs_exporter/dcsapi"
	"github.com/dcs-exporter/dcs_exporter/dcsapi/dcsapitest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const pid = "0123456789abcdef0123456789abcdef"

var testCreds = dcsapi.Credentials{AccessKey: dcsapitest.TestAccessKey, SecretKey: dcsapitest.TestSecretKey}

// fixture is a fake with a project and an HTTP client that the test closes.
type fixture struct {
	t      *testing.T
	srv    *dcsapitest.Server
	client *http.Client
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	srv := dcsapitest.NewServer()
	transport := &http.Transport{}
	t.Cleanup(func() {
		srv.Close()
		transport.CloseIdleConnections()
	})
	srv.SetInstances(pid, dcsapitest.SampleFleet(25))
	return &fixture{t: t, srv: srv, client: &http.Client{Transport: transport, Timeout: 10 * time.Second}}
}

type reply struct {
	status int
	header http.Header
	body   []byte
	err    errorBody
}

// get sends a GET signed with cred at the time now (zero: time.Now);
// change, when set, edits the request before it is signed.
func (f *fixture) get(pathAndQuery string, cred dcsapi.Credentials, now time.Time, change func(*http.Request)) reply {
	f.t.Helper()
	req, err := http.NewRequest(http.MethodGet, f.srv.URL+pathAndQuery, nil)
	if err != nil {
		f.t.Fatal(err)
	}
	if strings.HasPrefix(pathAndQuery, "/v2/"+pid) || strings.HasPrefix(pathAndQuery, "/v1.0/"+pid) {
		req.Header.Set("X-Project-Id", pid)
	}
	if change != nil {
		change(req)
	}
	if now.IsZero() {
		now = time.Now()
	}
	if cred.AccessKey != "" {
		if err := dcsapi.Sign(req, nil, cred, now); err != nil {
			f.t.Fatal(err)
		}
	}
	return f.send(req)
}

func (f *fixture) send(req *http.Request) reply {
	f.t.Helper()
	resp, err := f.client.Do(req)
	if err != nil {
		f.t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		f.t.Fatalf("reading %s: %v", req.URL.Path, err)
	}
	r := reply{status: resp.StatusCode, header: resp.Header, body: body}
	if resp.StatusCode >= 400 && strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		r.err = parseErrorBody(f.t, body)
	}
	// Every answer can be traced: by X-Request-Id, or IAM's X-IAM-Trace-Id,
	// or the body's request_id.
	if resp.Header.Get("X-Request-Id") == "" && resp.Header.Get("X-IAM-Trace-Id") == "" && r.err.RequestID == "" {
		f.t.Errorf("%s: no request id", req.URL.Path)
	}
	return r
}

type errorBody struct{ Code, Msg, RequestID string }

// parseErrorBody reads the error shapes of ErrorShape; a numeric code is
// read as its digits.
func parseErrorBody(t *testing.T, body []byte) errorBody {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var doc map[string]any
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("error body %q: %v", body, err)
	}
	text := func(m map[string]any, key string) string {
		switch v := m[key].(type) {
		case string:
			return v
		case json.Number:
			return v.String()
		}
		return ""
	}
	e := errorBody{Code: text(doc, "error_code") + text(doc, "code"), Msg: text(doc, "error_msg") + text(doc, "message"), RequestID: text(doc, "request_id")}
	if nested, ok := doc["error"].(map[string]any); ok {
		e.Code, e.Msg = text(nested, "code"), text(nested, "message")
	}
	return e
}

func (r reply) want(t *testing.T, status int, code string) {
	t.Helper()
	if r.status != status || r.err.Code != code {
		t.Fatalf("got %d %s (%s), want %d %s", r.status, r.err.Code, r.body, status, code)
	}
}

const statusPath = "/v2/" + pid + "/instances/status?include_failure=true"

func TestSignatureChecks(t *testing.T) {
	f := newFixture(t)
	f.get(statusPath, testCreds, time.Time{}, nil).want(t, 200, "")

	cases := map[string]struct {
		cred   dcsapi.Credentials
		now    time.Time
		change func(*http.Request)
	}{
		"unsigned":       {},
		"wrong secret":   {cred: dcsapi.Credentials{AccessKey: dcsapitest.TestAccessKey, SecretKey: "nope"}},
		"unknown key":    {cred: dcsapi.Credentials{AccessKey: "UNKNOWNAK", SecretKey: dcsapitest.TestSecretKey}},
		"date too old":   {cred: testCreds, now: time.Now().Add(-16 * time.Minute)},
		"date too new":   {cred: testCreds, now: time.Now().Add(16 * time.Minute)},
		"other project":  {cred: testCreds, change: func(r *http.Request) { r.Header.Set("X-Project-Id", "ffff") }},
		"token, no temp": {cred: dcsapi.Credentials{AccessKey: dcsapitest.TestAccessKey, SecretKey: dcsapitest.TestSecretKey, SecurityToken: "t"}},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			r := f.get(statusPath, c.cred, c.now, c.change)
			r.want(t, 401, "APIGW.0301")
			if r.err.Msg != "Incorrect IAM authentication information: verify aksk signature fail" {
				t.Errorf("error_msg %q", r.err.Msg)
			}
			if r.err.RequestID == "" || r.err.RequestID != r.header.Get("X-Request-Id") {
				t.Errorf("request_id %q, header %q", r.err.RequestID, r.header.Get("X-Request-Id"))
			}
		})
		// Stay clear of the lockout: a good request resets the count.
		f.get(statusPath, testCreds, time.Time{}, nil).want(t, 200, "")
	}
	f.get(statusPath, testCreds, time.Now().Add(-14*time.Minute), nil).want(t, 200, "")
}

func TestTemporaryKey(t *testing.T) {
	f := newFixture(t)
	f.srv.AddTemporaryKey("TEMPAK", "tempsecret", "the-token")
	good := dcsapi.Credentials{AccessKey: "TEMPAK", SecretKey: "tempsecret", SecurityToken: "the-token"}
	f.get(statusPath, good, time.Time{}, nil).want(t, 200, "")

	noToken := good
	noToken.SecurityToken = ""
	f.get(statusPath, noToken, time.Time{}, nil).want(t, 401, "APIGW.0301")
	wrong := good
	wrong.SecurityToken = "other"
	f.get(statusPath, wrong, time.Time{}, nil).want(t, 401, "APIGW.0301")

	// The token must be signed, not merely sent.
	req, _ := http.NewRequest(http.MethodGet, f.srv.URL+statusPath, nil)
	if err := dcsapi.Sign(req, nil, noToken, time.Now()); err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Security-Token", "the-token")
	f.send(req).want(t, 401, "APIGW.0301")
}

func TestLockout(t *testing.T) {
	f := newFixture(t)
	var mu sync.Mutex
	now := time.Now()
	f.srv.SetClock(func() time.Time { mu.Lock(); defer mu.Unlock(); return now })
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	at := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	bad := dcsapi.Credentials{AccessKey: dcsapitest.TestAccessKey, SecretKey: "wrong"}

	// Five failures in a row are tolerated; a success starts the count again.
	for range 5 {
		f.get(statusPath, bad, at(), nil).want(t, 401, "APIGW.0301")
	}
	f.get(statusPath, testCreds, at(), nil).want(t, 200, "")

	for range 6 {
		f.get(statusPath, bad, at(), nil).want(t, 401, "APIGW.0301")
	}
	r := f.get(statusPath, testCreds, at(), nil)
	r.want(t, 401, "APIGW.0301")
	if !strings.Contains(r.err.Msg, "AK access failed to reach the limit,forbidden") {
		t.Fatalf("locked key got %q", r.err.Msg)
	}
	advance(4*time.Minute + 59*time.Second)
	f.get(statusPath, testCreds, at(), nil).want(t, 401, "APIGW.0301")
	advance(time.Second)
	f.get(statusPath, testCreds, at(), nil).want(t, 200, "")
}

func TestListValidation(t *testing.T) {
	f := newFixture(t)
	list := "/v2/" + pid + "/instances"
	for _, q := range []string{"offset=-1", "offset=x", "offset=1.5"} {
		r := f.get(list+"?"+q, testCreds, time.Time{}, nil)
		r.want(t, 400, "DCS.4800")
		if r.err.Msg != "Invalid offset in the request." {
			t.Errorf("%s: %q", q, r.err.Msg)
		}
	}
	for _, q := range []string{"limit=0", "limit=1001", "limit=ten"} {
		f.get(list+"?"+q, testCreds, time.Time{}, nil).want(t, 400, "DCS.4801")
	}

	type page struct {
		Num       int `json:"instance_num"`
		Instances []struct {
			ID            string `json:"instance_id"`
			Status        string `json:"status"`
			Capacity      int    `json:"capacity"`
			CapacityMinor string `json:"capacity_minor"`
		} `json:"instances"`
	}
	decode := func(r reply) page {
		t.Helper()
		var p page
		if err := json.Unmarshal(r.body, &p); err != nil {
			t.Fatalf("%s: %v", r.body, err)
		}
		return p
	}
	fleet := f.srv.Instances(pid)
	failed := 0
	for _, in := range fleet {
		if in.Status == "CREATEFAILED" {
			failed++
		}
	}
	if p := decode(f.get(list, testCreds, time.Time{}, nil)); len(p.Instances) != 10 || p.Num != len(fleet)-failed {
		t.Errorf("default page: %d instances of %d, want 10 of %d", len(p.Instances), p.Num, len(fleet)-failed)
	}
	p := decode(f.get(list+"?include_failure=true&limit=1000&offset=20", testCreds, time.Time{}, nil))
	if p.Num != len(fleet) || len(p.Instances) != len(fleet)-20 || p.Instances[0].ID != fleet[20].ID {
		t.Errorf("last page: %+v", p)
	}
	if p := decode(f.get(list+"?include_failure=true&offset=999", testCreds, time.Time{}, nil)); len(p.Instances) != 0 {
		t.Errorf("past the end: %d instances", len(p.Instances))
	}
}

func TestFaultCountingAndTimes(t *testing.T) {
	f := newFixture(t)
	f.srv.SetInstances("other", nil)
	f.srv.InjectFault(pid, dcsapitest.APIInstanceStatus, dcsapitest.Fault{Kind: dcsapitest.FaultStatus, Status: 503, Times: 2})
	f.get(statusPath, testCreds, time.Time{}, nil).want(t, 503, "APIGW.0201")
	// A refused request neither meets the fault nor uses it up.
	f.get(statusPath, dcsapi.Credentials{AccessKey: "X", SecretKey: "Y"}, time.Time{}, nil).want(t, 401, "APIGW.0301")
	f.get("/v2/other/instances/status", testCreds, time.Time{}, func(r *http.Request) { r.Header.Del("X-Project-Id") }).want(t, 200, "")
	f.get(statusPath, testCreds, time.Time{}, nil).want(t, 503, "APIGW.0201")
	f.get(statusPath, testCreds, time.Time{}, nil).want(t, 200, "")

	if got := f.srv.ProjectRequests(pid, dcsapitest.APIInstanceStatus); got != 4 {
		t.Errorf("project requests = %d, want 4", got)
	}
	if got := f.srv.Requests(dcsapitest.APIInstanceStatus); got != 5 {
		t.Errorf("status requests = %d, want 5", got)
	}

	// Times 0 lasts until cleared; Offset picks one page.
	f.srv.InjectFault("", dcsapitest.APIListInstances, dcsapitest.Fault{Kind: dcsapitest.FaultThrottle, RetryAfter: 1500 * time.Millisecond, Offset: dcsapitest.AtOffset(10)})
	list := "/v2/" + pid + "/instances?limit=10&offset="
	f.get(list+"0", testCreds, time.Time{}, nil).want(t, 200, "")
	for range 3 {
		r := f.get(list+"10", testCreds, time.Time{}, nil)
		r.want(t, 429, "APIGW.0308")
		if got := r.header.Get("Retry-After"); got != "2" {
			t.Errorf("Retry-After %q, want 2 (rounded up)", got)
		}
	}
	f.srv.ClearFaults()
	f.get(list+"10", testCreds, time.Time{}, nil).want(t, 200, "")
	if got := f.srv.Requests(dcsapitest.APIListInstances); got != 5 {
		t.Errorf("list requests = %d, want 5", got)
	}
	if got := len(f.srv.RequestLog(dcsapitest.APIListInstances)); got != 5 {
		t.Errorf("list log = %d entries, want 5", got)
	}
	f.srv.ResetCounts()
	if got := f.srv.Requests(""); got != 0 {
		t.Errorf("after reset: %d", got)
	}
}

func TestRoutingAndProjects(t *testing.T) {
	f := newFixture(t)
	f.get("/v2/"+pid+"/nothing", testCreds, time.Time{}, nil).want(t, 404, "APIGW.0101")
	f.get("/v2/nosuchproject/instances/status", testCreds, time.Time{}, nil).want(t, 403, "APIGW.0310")
	f.srv.SetV2StatusAvailable(pid, false)
	f.get(statusPath, testCreds, time.Time{}, nil).want(t, 404, "APIGW.0101")
	f.get("/v1.0/"+pid+"/instances/status", testCreds, time.Time{}, nil).want(t, 200, "")
	if got := f.srv.Requests(dcsapitest.APIUnknown); got != 1 {
		t.Errorf("unknown requests = %d", got)
	}

	f.srv.AddProject("cn-north-4", "p1")
	f.srv.AddProject("cn-north-4", "p2")
	f.srv.AddProject("eu-west-0", "p3")
	r := f.get("/v3/projects?name=cn-north-4", testCreds, time.Time{}, nil)
	r.want(t, 200, "")
	var doc struct {
		Projects []struct{ ID, Name string } `json:"projects"`
	}
	if err := json.Unmarshal(r.body, &doc); err != nil || len(doc.Projects) != 2 || doc.Projects[1].ID != "p2" {
		t.Errorf("projects %s (%v)", r.body, err)
	}
	if r.header.Get("X-IAM-Trace-Id") == "" {
		t.Error("no X-IAM-Trace-Id")
	}
	f.get("/v3/projects?name=cn-north-4", dcsapi.Credentials{AccessKey: "X", SecretKey: "Y"}, time.Time{}, nil).want(t, 401, "APIGW.0301")
}

func TestStatusShapes(t *testing.T) {
	f := newFixture(t)
	f.srv.SetInstances(pid, []dcsapitest.Instance{
		{Engine: "Redis", Status: "RUNNING"},
		{Engine: "Redis", Status: "CREATEFAILED"},
		{Engine: "Memcached", Status: "FROZEN"},
		{Engine: "Tair", Status: "NEWSTATE"},
	})
	var v2 map[string]json.RawMessage
	if err := json.Unmarshal(f.get(statusPath, testCreds, time.Time{}, nil).body, &v2); err != nil {
		t.Fatal(err)
	}
	for _, engine := range []string{"redis", "memcached"} {
		var counts map[string]int
		if err := json.Unmarshal(v2[engine], &counts); err != nil || len(counts) != 13 {
			t.Errorf("%s: %s (%v), want the 13 documented counters", engine, v2[engine], err)
		}
	}
	if string(v2["newstate_count"]) != "1" || !strings.Contains(string(v2["tair"]), `"newstate_count":1`) {
		t.Errorf("new state and engine missing: %v", v2)
	}
	if string(v2["createfailed_count"]) != "1" {
		t.Errorf("createfailed_count %s", v2["createfailed_count"])
	}
	noFailure := f.get("/v2/"+pid+"/instances/status?include_failure=false", testCreds, time.Time{}, nil)
	if !strings.Contains(string(noFailure.body), `{"paying_count":0`) || strings.Contains(string(noFailure.body), `"createfailed_count":1`) {
		t.Errorf("include_failure=false: %s", noFailure.body)
	}

	var v1 map[string]json.RawMessage
	if err := json.Unmarshal(f.get("/v1.0/"+pid+"/instances/status?include_failure=true", testCreds, time.Time{}, nil).body, &v1); err != nil {
		t.Fatal(err)
	}
	if _, ok := v1["memcached"]; ok {
		t.Error("v1 has a memcached object")
	}
	for _, k := range []string{"deleting_count", "closed_count", "starting_count", "closing_count"} {
		if _, ok := v1[k]; !ok {
			t.Errorf("v1 lacks %s", k)
		}
	}
	var redis map[string]int
	if err := json.Unmarshal(v1["redis"], &redis); err != nil || len(redis) != 11 {
		t.Errorf("v1 redis: %s", v1["redis"])
	}

	f.srv.SetStatusOverride(pid, []byte(`{"running_count":7}`))
	if r := f.get(statusPath, testCreds, time.Time{}, nil); string(r.body) != `{"running_count":7}` {
		t.Errorf("override: %s", r.body)
	}
}

func TestMetadataService(t *testing.T) {
	f := newFixture(t)
	get := func(token string) reply {
		req, _ := http.NewRequest(http.MethodGet, f.srv.URL+"/openstack/latest/securitykey", nil)
		if token != "" {
			req.Header.Set("X-Metadata-Token", token)
		}
		return f.send(req)
	}
	if r := get(""); r.status != 404 {
		t.Fatalf("no agency: %d", r.status)
	}
	expires := time.Date(2030, 1, 8, 3, 50, 7, 574000000, time.UTC)
	f.srv.SetMetadataCredentials("MDAK", "mdsecret", "mdtoken", expires)

	req, _ := http.NewRequest(http.MethodPut, f.srv.URL+"/meta-data/latest/api/token", nil)
	if r := f.send(req); r.status != 400 {
		t.Errorf("token without TTL: %d", r.status)
	}
	req.Header.Set("X-Metadata-Token-Ttl-Seconds", "21600")
	token := f.send(req)
	if token.status != 200 || len(token.body) == 0 {
		t.Fatalf("token: %d %q", token.status, token.body)
	}
	if r := get("forged"); r.status != 401 {
		t.Errorf("forged session token: %d", r.status)
	}
	r := get(string(token.body))
	want := `{"credential":{"access":"MDAK","expires_at":"2030-01-08T03:50:07.574000Z","secret":"mdsecret","securitytoken":"mdtoken"}}`
	if r.status != 200 || string(r.body) != want {
		t.Errorf("securitykey: %d %s", r.status, r.body)
	}
	// The metadata key works at the gateway, until it expires.
	md := dcsapi.Credentials{AccessKey: "MDAK", SecretKey: "mdsecret", SecurityToken: "mdtoken"}
	f.get(statusPath, md, time.Time{}, nil).want(t, 200, "")
	f.srv.SetClock(func() time.Time { return expires })
	f.get(statusPath, md, expires, nil).want(t, 401, "APIGW.0301")
	if got := f.srv.Requests(dcsapitest.APIMetadata); got != 3 {
		t.Errorf("metadata requests = %d", got)
	}
}

func TestTransportFaults(t *testing.T) {
	f := newFixture(t)
	get := func() (*http.Response, []byte, error) {
		req, _ := http.NewRequest(http.MethodGet, f.srv.URL+statusPath, nil)
		req.Header.Set("X-Project-Id", pid)
		if err := dcsapi.Sign(req, nil, testCreds, time.Now()); err != nil {
			t.Fatal(err)
		}
		resp, err := f.client.Do(req)
		if err != nil {
			return nil, nil, err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		return resp, body, err
	}

	f.srv.InjectFault("", "", dcsapitest.Fault{Kind: dcsapitest.FaultReset, Times: 1})
	if resp, _, err := get(); err == nil || resp == nil || !errors.Is(err, io.ErrUnexpectedEOF) { //nolint:bodyclose // get closes it
		t.Errorf("reset: got %v, want the headers and then an unexpected EOF", err)
	}

	f.srv.InjectFault("", "", dcsapitest.Fault{Kind: dcsapitest.FaultTrickle, Size: 200, Delay: 5 * time.Millisecond, Times: 1})
	resp, body, err := get() //nolint:bodyclose // get closes it
	if err != nil || resp.StatusCode != 200 || !json.Valid(body) {
		t.Errorf("trickle: %v %s", err, body)
	}

	f.srv.InjectFault("", "", dcsapitest.Fault{Kind: dcsapitest.FaultOversized, Size: 5 << 20, Times: 1})
	if _, body, err := get(); err != nil || len(body) != 5<<20 { //nolint:bodyclose // get closes it
		t.Errorf("oversized: %v, %d bytes", err, len(body))
	}
}

func TestCloseWakesHangingRequests(t *testing.T) {
	srv := dcsapitest.NewServer()
	transport := &http.Transport{}
	defer transport.CloseIdleConnections()
	srv.SetInstances(pid, nil)
	srv.InjectFault("", "", dcsapitest.Fault{Kind: dcsapitest.FaultHang})

	// A Close that waited for the client to give up would take 30 s.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+statusPath, nil)
		resp, err := transport.RoundTrip(req)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	for srv.Requests("") == 0 {
		time.Sleep(time.Millisecond)
	}
	start := time.Now()
	srv.Close()
	if err := <-done; err == nil {
		t.Error("a hanging request got an answer")
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("Close took %v", d)
	}
}

func TestSampleFleetIsStable(t *testing.T) {
	a, b := dcsapitest.SampleFleet(30), dcsapitest.SampleFleet(60)
	seen := map[string]bool{}
	for i := range a {
		if a[i].ID != b[i].ID || a[i].Status != b[i].Status {
			t.Fatalf("instance %d differs between fleets", i)
		}
		if seen[a[i].ID] {
			t.Fatalf("duplicate id %s", a[i].ID)
		}
		seen[a[i].ID] = true
	}
}
