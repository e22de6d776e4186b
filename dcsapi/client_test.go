package dcsapi_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
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

const (
	pid       = "0123456789abcdef0123456789abcdef"
	region    = "cn-north-4"
	userAgent = "dcs-exporter-test/1.0"

	tempAK     = "HPUATEMPORARYAK00001"
	tempSecret = "TemporarySecretKeyDoNotUse0123456789ABCD"
	tempToken  = "gQpjbi1ub3J0aC00hM8EXAMPLE-security-token+/=="
	mdAK       = "HPUAMETADATAAK000001"
	mdSecret   = "MetadataSecretKeyDoNotUse0123456789ABCDE"
	mdToken    = "metadata-session-security-token-EXAMPLE"
	mdAK2      = "HPUAMETADATAAK000002"
	mdSecret2  = "MetadataSecretKeyDoNotUse0123456789ABCD2"
	mdToken2   = "metadata-session-security-token-EXAMPLE2"
	rotatedAK  = "HPUAROTATEDAK0000001"
	rotatedSK  = "RotatedSecretKeyDoNotUse0123456789ABCDEF"
)

// secrets must appear in no error text.
var secrets = []string{dcsapitest.TestSecretKey, tempSecret, tempToken, mdSecret, mdToken, mdSecret2, mdToken2, rotatedSK}

// seenErrors collects every error text the tests check, for the final sweep
// in TestNoSecretsInErrors.
var (
	seenMu     sync.Mutex
	seenErrors []string
)

// errText fails the test if err is nil or its text shows a secret, and
// returns the text.
func errText(t *testing.T, err error) string {
	t.Helper()
	if err == nil {
		t.Fatal("got no error, want one")
	}
	text := err.Error()
	full := text + "\n" + fmt.Sprintf("%+v %#v", err, err)
	for _, s := range secrets {
		if strings.Contains(full, s) {
			t.Errorf("error text shows a secret: %s", full)
		}
	}
	seenMu.Lock()
	seenErrors = append(seenErrors, full)
	seenMu.Unlock()
	return text
}

// env is one fake API with an HTTP client and a record of OnRequest calls.
type env struct {
	t    *testing.T
	srv  *dcsapitest.Server
	http *http.Client

	mu    sync.Mutex
	hooks []string // "api code"
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{t: t, srv: dcsapitest.NewServer()}
	transport := &http.Transport{}
	e.http = &http.Client{Transport: transport}
	t.Cleanup(func() {
		e.srv.Close()
		transport.CloseIdleConnections()
	})
	return e
}

func (e *env) onRequest(api, code string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.hooks = append(e.hooks, api+" "+code)
}

func (e *env) hookCalls() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.hooks)
}

// fastRetry keeps retry tests quick.
var fastRetry = dcsapi.RetryPolicy{MaxAttempts: 3, BaseDelay: 5 * time.Millisecond, MaxDelay: 20 * time.Millisecond}

func noRetry() *dcsapi.RetryPolicy { return &dcsapi.RetryPolicy{MaxAttempts: 1} }

// client returns a client of project pid with the test key; change edits
// the options first.
func (e *env) client(change func(*dcsapi.Options)) *dcsapi.Client {
	e.t.Helper()
	retry := fastRetry
	opts := dcsapi.Options{
		Endpoint:    e.srv.URL,
		ProjectID:   pid,
		Credentials: dcsapi.StaticCredentials{AccessKey: dcsapitest.TestAccessKey, SecretKey: dcsapitest.TestSecretKey},
		HTTPClient:  e.http,
		UserAgent:   userAgent,
		Retry:       &retry,
		OnRequest:   e.onRequest,
	}
	if change != nil {
		change(&opts)
	}
	c, err := dcsapi.New(opts)
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// listPatience bounds a listing of thousands of instances where its time is
// not what a test checks: under the race detector a page of 1000 takes a
// third of a second to decode on an idle machine, and many times that on a
// busy one, so only a listing that never ends should run out of it.
const listPatience = 2 * time.Minute

// mixedFleet has every engine kind, a failed creation and a state no
// documentation lists.
var mixedFleet = []dcsapitest.Instance{
	{ID: "r1", Engine: "Redis", Status: "RUNNING"},
	{ID: "r2", Engine: "Redis", Status: "RUNNING"},
	{ID: "r3", Engine: "Redis", Status: "RUNNING"},
	{ID: "r4", Engine: "Redis", Status: "ERROR"},
	{ID: "r5", Engine: "Redis", Status: "CREATEFAILED"},
	{ID: "m1", Engine: "Memcached", Status: "RUNNING"},
	{ID: "m2", Engine: "Memcached", Status: "FROZEN"},
	{ID: "m3", Engine: "Memcached", Status: "CREATEFAILED"},
	{ID: "t1", Engine: "Tair", Status: "NEWSTATE"},
	{ID: "t2", Engine: "Tair", Status: "RUNNING"},
}

// counts is the documented states at zero, then set.
func counts(documented []string, set map[string]int64) map[string]int64 {
	m := map[string]int64{}
	for _, s := range documented {
		m[s] = 0
	}
	for k, v := range set {
		m[k] = v
	}
	return m
}

func TestInstanceStatusV2(t *testing.T) {
	e := newEnv(t)
	e.srv.SetInstances(pid, mixedFleet)
	c := e.client(nil)
	v2 := dcsapi.DocumentedStates(dcsapi.V2)

	for _, includeFailure := range []bool{true, false} {
		t.Run(fmt.Sprint("include_failure=", includeFailure), func(t *testing.T) {
			failed := func(n int64) int64 {
				if includeFailure {
					return n
				}
				return 0
			}
			r, err := c.InstanceStatus(ctxFor(t, 5*time.Second), includeFailure)
			if err != nil {
				t.Fatal(err)
			}
			want := &dcsapi.StatusReport{
				Total: counts(v2, map[string]int64{"running": 5, "error": 1, "frozen": 1, "createfailed": failed(2), "newstate": 1}),
				Engines: map[string]map[string]int64{
					"redis":     counts(v2, map[string]int64{"running": 3, "error": 1, "createfailed": failed(1)}),
					"memcached": counts(v2, map[string]int64{"running": 1, "frozen": 1, "createfailed": failed(1)}),
					"tair":      counts(v2, map[string]int64{"running": 1, "newstate": 1}),
				},
			}
			if !reflect.DeepEqual(r, want) {
				t.Errorf("got  %v\nwant %v", r, want)
			}
			log := e.srv.RequestLog(dcsapitest.APIInstanceStatus)
			if got := log[len(log)-1].Query.Get("include_failure"); got != fmt.Sprint(includeFailure) {
				t.Errorf("sent include_failure=%s", got)
			}
		})
	}
}

func TestInstanceStatusV1(t *testing.T) {
	e := newEnv(t)
	e.srv.SetInstances(pid, mixedFleet)
	c := e.client(func(o *dcsapi.Options) { o.APIVersion = dcsapi.V1 })
	r, err := c.InstanceStatus(ctxFor(t, 5*time.Second), true)
	if err != nil {
		t.Fatal(err)
	}
	// v1 knows no frozen state, so it comes through as an extra one.
	wantTotal := counts(dcsapi.DocumentedStates(dcsapi.V1), map[string]int64{"running": 5, "error": 1, "frozen": 1, "createfailed": 2, "newstate": 1})
	if !reflect.DeepEqual(r.Total, wantTotal) {
		t.Errorf("total %v\nwant  %v", r.Total, wantTotal)
	}
	if len(r.Engines) != 1 || len(r.Engines["redis"]) != 11 || r.Engines["redis"]["running"] != 3 {
		t.Errorf("engines %v, want redis alone with its 11 counters", r.Engines)
	}
	if got := e.srv.RequestLog(dcsapitest.APIInstanceStatus)[0].Path; got != "/v1.0/"+pid+"/instances/status" {
		t.Errorf("path %s", got)
	}
}

// The hint to use v1 is the diagnosis' (see package diagnosis); the client
// reports the fact, a 404 of the status API.
func TestMissingV2(t *testing.T) {
	e := newEnv(t)
	e.srv.SetInstances(pid, mixedFleet)
	e.srv.SetV2StatusAvailable(pid, false)
	_, err := e.client(nil).InstanceStatus(ctxFor(t, 5*time.Second), true)
	errText(t, err)
	var apiErr *dcsapi.APIError
	if !errors.As(err, &apiErr) || apiErr.API != dcsapi.APIInstanceStatus || apiErr.StatusCode != 404 || apiErr.Code != "APIGW.0101" || !dcsapi.IsNotFound(err) {
		t.Fatalf("got %v", err)
	}
	if n := e.srv.Requests(dcsapitest.APIInstanceStatus); n != 1 {
		t.Errorf("%d requests; a missing API is not retried", n)
	}
	if _, err := e.client(func(o *dcsapi.Options) { o.APIVersion = dcsapi.V1 }).InstanceStatus(ctxFor(t, 5*time.Second), true); err != nil {
		t.Errorf("v1: %v", err)
	}
}

func TestStatusDocumentedExample(t *testing.T) {
	e := newEnv(t)
	e.srv.SetStatusOverride(pid, []byte(`{ "extending_count" : 0, "creating_count" : 0, "running_count" : 16, "error_count" : 0, "frozen_count" : 0, "createfailed_count" : 44, "restarting_count" : 0, "paying_count" : 0, "freezing_count" : 0, "migrating_count" : 0, "flushing_count" : 0, "upgrading_count" : 0, "redis" : { "running_count" : 8, "createfailed_count" : 22 }, "memcached" : { "running_count" : 8, "createfailed_count" : 22 } }`))
	r, err := e.client(nil).InstanceStatus(ctxFor(t, 5*time.Second), true)
	if err != nil {
		t.Fatal(err)
	}
	if r.Total["running"] != 16 || r.Total["createfailed"] != 44 || r.Engines["memcached"]["running"] != 8 {
		t.Errorf("got %v", r)
	}
}

func TestProjectDiscovery(t *testing.T) {
	e := newEnv(t)
	e.srv.AddProject(region, pid)
	e.srv.AddProject("ap-southeast-1", "aaaa1111")
	e.srv.AddProject("ap-southeast-1", "bbbb2222")
	byRegion := func(name string) *dcsapi.Client {
		return e.client(func(o *dcsapi.Options) {
			o.ProjectID, o.Region, o.IAMEndpoint = "", name, e.srv.URL
		})
	}

	t.Run("one match, cached", func(t *testing.T) {
		e.srv.ResetCounts()
		c := byRegion(region)
		for range 2 {
			if _, err := c.InstanceStatus(ctxFor(t, 5*time.Second), true); err != nil {
				t.Fatal(err)
			}
		}
		if got, err := c.ProjectID(ctxFor(t, 5*time.Second)); got != pid || err != nil {
			t.Errorf("project %q, %v", got, err)
		}
		if n := e.srv.Requests(dcsapitest.APIIAMProjects); n != 1 {
			t.Errorf("%d IAM requests, want 1", n)
		}
		if got := e.srv.RequestLog(dcsapitest.APIIAMProjects)[0].Query.Get("name"); got != region {
			t.Errorf("asked IAM for %q", got)
		}
	})
	t.Run("none", func(t *testing.T) {
		e.srv.ResetCounts()
		_, err := byRegion("eu-west-0").InstanceStatus(ctxFor(t, 5*time.Second), true)
		text := errText(t, err)
		var noProject *dcsapi.NoProjectError
		if !strings.Contains(text, `"eu-west-0"`) || !errors.As(err, &noProject) || noProject.Region != "eu-west-0" || len(noProject.IDs) != 0 {
			t.Errorf("unclear error %q", text)
		}
		if n := e.srv.Requests(dcsapitest.APIInstanceStatus); n != 0 {
			t.Errorf("%d status requests without a project", n)
		}
	})
	t.Run("two", func(t *testing.T) {
		_, err := byRegion("ap-southeast-1").InstanceStatus(ctxFor(t, 5*time.Second), true)
		text := errText(t, err)
		var noProject *dcsapi.NoProjectError
		if !strings.Contains(text, "aaaa1111") || !strings.Contains(text, "bbbb2222") || !errors.As(err, &noProject) || len(noProject.IDs) != 2 {
			t.Errorf("error %q does not list the ids", text)
		}
	})
}

func TestSecurityToken(t *testing.T) {
	e := newEnv(t)
	e.srv.SetInstances(pid, mixedFleet)
	e.srv.AddTemporaryKey(tempAK, tempSecret, tempToken)
	with := func(token string) *dcsapi.Client {
		return e.client(func(o *dcsapi.Options) {
			o.Credentials = dcsapi.StaticCredentials{AccessKey: tempAK, SecretKey: tempSecret, SecurityToken: token}
		})
	}
	if _, err := with(tempToken).InstanceStatus(ctxFor(t, 5*time.Second), true); err != nil {
		t.Fatal(err)
	}
	if got := e.srv.RequestLog("")[0].Header.Get("X-Security-Token"); got != tempToken {
		t.Errorf("X-Security-Token %q", got)
	}
	for _, token := range []string{"", "not-the-token"} {
		e.srv.ResetCounts()
		_, err := with(token).InstanceStatus(ctxFor(t, 5*time.Second), true)
		errText(t, err)
		if !dcsapi.IsAuthFailure(err) {
			t.Errorf("token %q: %v", token, err)
		}
		if n := e.srv.Requests(""); n != 1 {
			t.Errorf("token %q: %d requests", token, n)
		}
	}
}

// TestFaults checks that each way a call can fail gives the right error.
func TestFaults(t *testing.T) {
	type check func(t *testing.T, err error, text string)
	apiError := func(status int, code string, more func(*testing.T, *dcsapi.APIError)) check {
		return func(t *testing.T, err error, text string) {
			var e *dcsapi.APIError
			if !errors.As(err, &e) {
				t.Fatalf("got %T %v, want an APIError", err, err)
			}
			if e.StatusCode != status || e.Code != code || e.API != dcsapi.APIInstanceStatus {
				t.Errorf("got %d %q from %s, want %d %q", e.StatusCode, e.Code, e.API, status, code)
			}
			if e.RequestID == "" {
				t.Error("no request id")
			}
			if more != nil {
				more(t, e)
			}
		}
	}
	decodeError := func(field, words string) check {
		return func(t *testing.T, err error, text string) {
			var d *dcsapi.DecodeError
			if !errors.As(err, &d) || d.API != dcsapi.APIInstanceStatus || d.Field != field {
				t.Fatalf("got %v, want a DecodeError on field %q", err, field)
			}
			if !strings.Contains(text, field) || !strings.Contains(text, words) {
				t.Errorf("text %q should name %q and say %q", text, field, words)
			}
		}
	}
	cases := []struct {
		name  string
		fault dcsapitest.Fault
		check check
	}{
		{"server error", dcsapitest.Fault{Status: 500}, apiError(500, "DCS.5000", func(t *testing.T, e *dcsapi.APIError) {
			if e.Message != "Internal service error." {
				t.Errorf("message %q", e.Message)
			}
		})},
		{"custom code", dcsapitest.Fault{Status: 400, Code: "DCS.4002", Message: "Invalid project ID format."}, apiError(400, "DCS.4002", func(t *testing.T, e *dcsapi.APIError) {
			if e.Message != "Invalid project ID format." || dcsapi.IsAuthFailure(e) || dcsapi.IsThrottled(e) || dcsapi.IsNotFound(e) {
				t.Errorf("message %q, or misclassified", e.Message)
			}
		})},
		{"forbidden", dcsapitest.Fault{Status: 403}, apiError(403, "APIGW.0302", func(t *testing.T, e *dcsapi.APIError) {
			if !dcsapi.IsAuthFailure(e) {
				t.Error("403 is not an auth failure")
			}
		})},
		{"not found", dcsapitest.Fault{Status: 404}, apiError(404, "APIGW.0101", func(t *testing.T, e *dcsapi.APIError) {
			if !dcsapi.IsNotFound(e) {
				t.Error("404 is not IsNotFound")
			}
		})},
		{"throttled", dcsapitest.Fault{Kind: dcsapitest.FaultThrottle, RetryAfter: 3 * time.Second}, apiError(429, "APIGW.0308", func(t *testing.T, e *dcsapi.APIError) {
			if !dcsapi.IsThrottled(e) || e.RetryAfter != 3*time.Second || dcsapi.IsAuthFailure(e) {
				t.Errorf("throttled %v, retry after %v", dcsapi.IsThrottled(e), e.RetryAfter)
			}
		})},
		{"html page", dcsapitest.Fault{Kind: dcsapitest.FaultHTML}, func(t *testing.T, err error, text string) {
			var e *dcsapi.APIError
			if !errors.As(err, &e) || e.StatusCode != 502 || e.Code != "" {
				t.Fatalf("got %v", err)
			}
			if len(e.Message) > 200 || !strings.Contains(e.Message, "502 Bad Gateway") || strings.Contains(text, "<") {
				t.Errorf("summary %q (%d bytes)", e.Message, len(e.Message))
			}
		}},
		{"reset mid-body", dcsapitest.Fault{Kind: dcsapitest.FaultReset}, func(t *testing.T, err error, text string) {
			var e *dcsapi.APIError
			var d *dcsapi.DecodeError
			if errors.As(err, &e) || errors.As(err, &d) || !strings.Contains(text, "unexpected EOF") {
				t.Errorf("got %T %q, want a transport error", err, text)
			}
		}},
		{"truncated", dcsapitest.Fault{Kind: dcsapitest.FaultTruncatedJSON}, decodeError("", "invalid JSON")},
		{"malformed", dcsapitest.Fault{Kind: dcsapitest.FaultMalformedJSON}, decodeError("", "invalid JSON")},
		{"wrong types", dcsapitest.Fault{Kind: dcsapitest.FaultWrongTypes}, decodeError("createfailed_count", "got a string")},
		{"negative", dcsapitest.Fault{Kind: dcsapitest.FaultNegativeCount}, decodeError("running_count", "negative")},
		{"huge", dcsapitest.Fault{Kind: dcsapitest.FaultHugeNumber}, decodeError("running_count", "out of range")},
		{"empty", dcsapitest.Fault{Kind: dcsapitest.FaultEmptyBody}, decodeError("", "empty body")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.srv.SetInstances(pid, mixedFleet)
			e.srv.InjectFault(pid, dcsapitest.APIInstanceStatus, tc.fault)
			_, err := e.client(func(o *dcsapi.Options) { o.Retry = noRetry() }).InstanceStatus(ctxFor(t, 5*time.Second), true)
			tc.check(t, err, errText(t, err))
		})
	}

	t.Run("trickle", func(t *testing.T) {
		e := newEnv(t)
		e.srv.SetInstances(pid, mixedFleet)
		e.srv.InjectFault("", "", dcsapitest.Fault{Kind: dcsapitest.FaultTrickle, Size: 100, Delay: 2 * time.Millisecond})
		r, err := e.client(nil).InstanceStatus(ctxFor(t, 5*time.Second), true)
		if err != nil || r.Total["running"] != 5 {
			t.Errorf("got %v, %v", r, err)
		}
	})
}

func TestOversizedBodyStaysBounded(t *testing.T) {
	// With and without Content-Length: the client must not rely on it.
	for _, chunked := range []bool{false, true} {
		t.Run(fmt.Sprint("chunked=", chunked), func(t *testing.T) {
			e := newEnv(t)
			e.srv.SetInstances(pid, mixedFleet)
			e.srv.InjectFault("", dcsapitest.APIInstanceStatus, dcsapitest.Fault{Kind: dcsapitest.FaultOversized, Size: 256 << 20, Chunked: chunked})
			c := e.client(nil)

			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			_, err := c.InstanceStatus(ctxFor(t, 20*time.Second), true)
			runtime.ReadMemStats(&after)

			errText(t, err)
			if !errors.Is(err, dcsapi.ErrResponseTooLarge) {
				t.Fatalf("got %v, want ErrResponseTooLarge", err)
			}
			// Reading up to the 8 MiB limit into a doubling buffer allocates
			// about 32 MiB, twice that with -race; the body is 256 MiB.
			const bound = 96 << 20
			if d := after.TotalAlloc - before.TotalAlloc; d > bound {
				t.Errorf("allocated %d MiB reading a 256 MiB body", d>>20)
			}
			if after.HeapAlloc > before.HeapAlloc && after.HeapAlloc-before.HeapAlloc > bound {
				t.Errorf("heap grew by %d MiB", (after.HeapAlloc-before.HeapAlloc)>>20)
			}
			if n := e.srv.Requests(""); n != 1 {
				t.Errorf("%d requests; a too large body is not retried", n)
			}
		})
	}
}

func TestRetries(t *testing.T) {
	t.Run("server error then success", func(t *testing.T) {
		e := newEnv(t)
		e.srv.SetInstances(pid, mixedFleet)
		e.srv.InjectFault(pid, "", dcsapitest.Fault{Status: 503, Times: 1})
		if _, err := e.client(nil).InstanceStatus(ctxFor(t, 5*time.Second), true); err != nil {
			t.Fatal(err)
		}
		if n := e.srv.Requests(""); n != 2 {
			t.Errorf("%d requests, want 2", n)
		}
		if got, want := e.hookCalls(), []string{"instance_status 503", "instance_status 200"}; !slices.Equal(got, want) {
			t.Errorf("OnRequest got %v, want %v", got, want)
		}
	})
	t.Run("reset then success", func(t *testing.T) {
		e := newEnv(t)
		e.srv.SetInstances(pid, mixedFleet)
		e.srv.InjectFault(pid, "", dcsapitest.Fault{Kind: dcsapitest.FaultReset, Times: 1})
		if _, err := e.client(nil).InstanceStatus(ctxFor(t, 5*time.Second), true); err != nil {
			t.Fatal(err)
		}
		if n := e.srv.Requests(""); n != 2 {
			t.Errorf("%d requests, want 2", n)
		}
	})
	t.Run("retry-after honoured", func(t *testing.T) {
		e := newEnv(t)
		e.srv.SetInstances(pid, mixedFleet)
		e.srv.InjectFault(pid, "", dcsapitest.Fault{Kind: dcsapitest.FaultThrottle, RetryAfter: time.Second, Times: 1})
		start := time.Now()
		if _, err := e.client(nil).InstanceStatus(ctxFor(t, 5*time.Second), true); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d < 950*time.Millisecond || d > 3*time.Second {
			t.Errorf("took %v, want about the 1 s of Retry-After", d)
		}
		if got, want := e.hookCalls(), []string{"instance_status 429", "instance_status 200"}; !slices.Equal(got, want) {
			t.Errorf("OnRequest got %v, want %v", got, want)
		}
	})
	t.Run("retry-after beyond the deadline", func(t *testing.T) {
		e := newEnv(t)
		e.srv.SetInstances(pid, mixedFleet)
		e.srv.InjectFault(pid, "", dcsapitest.Fault{Kind: dcsapitest.FaultThrottle, RetryAfter: 2 * time.Minute})
		// A client that waited would wait for the deadline at least, 20 s;
		// one that does not wait answers in milliseconds, and has 10 s here
		// however busy the machine.
		start := time.Now()
		_, err := e.client(nil).InstanceStatus(ctxFor(t, 20*time.Second), true)
		errText(t, err)
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("gave up after %v; it cannot wait 2 min in 20 s, so it should not wait at all", d)
		}
		var apiErr *dcsapi.APIError
		if !dcsapi.IsThrottled(err) || !errors.As(err, &apiErr) || apiErr.RetryAfter != 2*time.Minute {
			t.Errorf("got %v", err)
		}
		if n := e.srv.Requests(""); n != 1 {
			t.Errorf("%d requests", n)
		}
	})
	t.Run("auth failures are never retried", func(t *testing.T) {
		e := newEnv(t)
		e.srv.SetInstances(pid, mixedFleet)
		many := &dcsapi.RetryPolicy{MaxAttempts: 5, BaseDelay: time.Millisecond, MaxDelay: time.Millisecond}
		_, err := e.client(func(o *dcsapi.Options) {
			o.Retry = many
			o.Credentials = dcsapi.StaticCredentials{AccessKey: dcsapitest.TestAccessKey, SecretKey: "not" + dcsapitest.TestSecretKey}
		}).InstanceStatus(ctxFor(t, 5*time.Second), true)
		errText(t, err)
		var apiErr *dcsapi.APIError
		if !dcsapi.IsAuthFailure(err) || !errors.As(err, &apiErr) || apiErr.Code != "APIGW.0301" {
			t.Errorf("got %v", err)
		}
		e.srv.InjectFault(pid, "", dcsapitest.Fault{Status: 401})
		_, err = e.client(func(o *dcsapi.Options) { o.Retry = many }).InstanceStatus(ctxFor(t, 5*time.Second), true)
		errText(t, err)
		if n := e.srv.Requests(""); n != 2 {
			t.Errorf("%d requests for two refused calls, want 2", n)
		}
	})
	t.Run("decode errors are not retried", func(t *testing.T) {
		e := newEnv(t)
		e.srv.SetInstances(pid, mixedFleet)
		e.srv.InjectFault(pid, "", dcsapitest.Fault{Kind: dcsapitest.FaultMalformedJSON})
		_, err := e.client(nil).InstanceStatus(ctxFor(t, 5*time.Second), true)
		errText(t, err)
		if n := e.srv.Requests(""); n != 1 {
			t.Errorf("%d requests, want 1", n)
		}
	})
}

func TestHangEndsAtDeadline(t *testing.T) {
	e := newEnv(t)
	e.srv.SetInstances(pid, mixedFleet)
	e.srv.InjectFault("", "", dcsapitest.Fault{Kind: dcsapitest.FaultHang})
	const timeout = 300 * time.Millisecond
	start := time.Now()
	_, err := e.client(nil).InstanceStatus(ctxFor(t, timeout), true)
	errText(t, err)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("got %v, want a deadline error", err)
	}
	// The hang never ends by itself: only the deadline can end the call, and
	// the bound merely leaves room for a busy machine.
	if d := time.Since(start); d > timeout+5*time.Second {
		t.Errorf("returned after %v, want at the deadline %v", d, timeout)
	}
	if got := e.hookCalls(); !slices.Equal(got, []string{"instance_status error"}) {
		t.Errorf("OnRequest got %v", got)
	}
}

func TestConnectionRefused(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()

	e := newEnv(t)
	c := e.client(func(o *dcsapi.Options) { o.Endpoint = "http://" + addr })
	_, err = c.InstanceStatus(ctxFor(t, 5*time.Second), true)
	text := errText(t, err)
	var apiErr *dcsapi.APIError
	if errors.As(err, &apiErr) || !strings.Contains(text, "refused") {
		t.Errorf("got %v", err)
	}
	calls := e.hookCalls()
	if len(calls) != fastRetry.MaxAttempts {
		t.Errorf("OnRequest got %v, want one call per attempt", calls)
	}
	for _, call := range calls {
		if call != "instance_status error" {
			t.Errorf("OnRequest got %q", call)
		}
	}
}

func TestListInstances(t *testing.T) {
	e := newEnv(t)
	fleet := dcsapitest.SampleFleet(2500)
	fleet[1].CapacityGB = 0.125 // a sub-GB size comes as capacity_minor
	e.srv.SetInstances(pid, fleet)
	c := e.client(nil)

	got, err := c.ListInstances(ctxFor(t, listPatience))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(fleet) {
		t.Fatalf("got %d instances, want %d", len(got), len(fleet))
	}
	for i, in := range e.srv.Instances(pid) {
		if want := wantInstance(in); !reflect.DeepEqual(got[i], want) {
			t.Fatalf("instance %d:\n got %+v\nwant %+v", i, got[i], want)
		}
	}
	var offsets []string
	for _, r := range e.srv.RequestLog(dcsapitest.APIListInstances) {
		offsets = append(offsets, r.Query.Get("offset")+"/"+r.Query.Get("limit"))
	}
	if want := []string{"0/1000", "1000/1000", "2000/1000"}; !slices.Equal(offsets, want) {
		t.Errorf("pages %v, want %v", offsets, want)
	}

	t.Run("a failing middle page fails the listing", func(t *testing.T) {
		e.srv.ResetCounts()
		e.srv.InjectFault(pid, dcsapitest.APIListInstances, dcsapitest.Fault{Status: 500, Offset: dcsapitest.AtOffset(1000)})
		defer e.srv.ClearFaults()
		list, err := c.ListInstances(ctxFor(t, listPatience))
		errText(t, err)
		var apiErr *dcsapi.APIError
		if list != nil || !errors.As(err, &apiErr) || apiErr.StatusCode != 500 || apiErr.API != dcsapi.APIListInstances {
			t.Errorf("got %d instances, %v", len(list), err)
		}
		if n := e.srv.Requests(dcsapitest.APIListInstances); n != 1+fastRetry.MaxAttempts {
			t.Errorf("%d requests, want page 0 once and page 1000 %d times", n, fastRetry.MaxAttempts)
		}
	})

	for _, kind := range []dcsapitest.FaultKind{dcsapitest.FaultWrongTypes, dcsapitest.FaultNegativeCount, dcsapitest.FaultHugeNumber} {
		t.Run(kind.String(), func(t *testing.T) {
			e.srv.InjectFault(pid, dcsapitest.APIListInstances, dcsapitest.Fault{Kind: kind})
			defer e.srv.ClearFaults()
			_, err := c.ListInstances(ctxFor(t, listPatience))
			text := errText(t, err)
			var d *dcsapi.DecodeError
			if !errors.As(err, &d) || d.Field != "instance_num" || !strings.Contains(text, "instance_num") {
				t.Errorf("got %v", err)
			}
		})
	}
}

func TestFileCredentials(t *testing.T) {
	e := newEnv(t)
	e.srv.SetInstances(pid, mixedFleet)
	e.srv.AddKey(rotatedAK, rotatedSK)
	dir := t.TempDir()
	akFile, skFile := filepath.Join(dir, "ak"), filepath.Join(dir, "sk")
	// replace writes a new file and renames it over the old one, the way a
	// Kubernetes Secret volume swaps its content.
	replace := func(path, content string) {
		tmp := path + ".new"
		if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, path); err != nil {
			t.Fatal(err)
		}
	}
	replace(akFile, dcsapitest.TestAccessKey+"\n")
	replace(skFile, dcsapitest.TestSecretKey+"\n")

	creds := &dcsapi.FileCredentials{AccessKeyFile: akFile, SecretKeyFile: skFile}
	c := e.client(func(o *dcsapi.Options) { o.Credentials = creds })
	signedBy := func() string {
		log := e.srv.RequestLog(dcsapitest.APIInstanceStatus)
		auth := log[len(log)-1].Header.Get("Authorization")
		_, rest, _ := strings.Cut(auth, "Access=")
		ak, _, _ := strings.Cut(rest, ",")
		return ak
	}
	if _, err := c.InstanceStatus(ctxFor(t, 5*time.Second), true); err != nil {
		t.Fatal(err)
	}
	if ak := signedBy(); ak != dcsapitest.TestAccessKey {
		t.Errorf("signed by %s", ak)
	}

	replace(akFile, rotatedAK)
	replace(skFile, rotatedSK)
	if _, err := c.InstanceStatus(ctxFor(t, 5*time.Second), true); err != nil {
		t.Fatal(err)
	}
	if ak := signedBy(); ak != rotatedAK {
		t.Errorf("after rotation, signed by %s", ak)
	}

	if err := os.Remove(skFile); err != nil {
		t.Fatal(err)
	}
	e.srv.ResetCounts()
	_, err := c.InstanceStatus(ctxFor(t, 5*time.Second), true)
	errText(t, err)
	var ce *dcsapi.CredentialsError
	if !errors.As(err, &ce) || e.srv.Requests("") != 0 {
		t.Errorf("got %v after %d requests", err, e.srv.Requests(""))
	}
}

func TestEnvCredentials(t *testing.T) {
	e := newEnv(t)
	e.srv.SetInstances(pid, mixedFleet)
	e.srv.AddTemporaryKey(tempAK, tempSecret, tempToken)
	t.Setenv(dcsapi.EnvAccessKey, tempAK)
	t.Setenv(dcsapi.EnvSecretKey, tempSecret)
	t.Setenv(dcsapi.EnvSecurityToken, tempToken)
	c := e.client(func(o *dcsapi.Options) { o.Credentials = dcsapi.EnvCredentials{} })
	if _, err := c.InstanceStatus(ctxFor(t, 5*time.Second), true); err != nil {
		t.Fatal(err)
	}

	t.Setenv(dcsapi.EnvSecretKey, "")
	e.srv.ResetCounts()
	_, err := c.InstanceStatus(ctxFor(t, 5*time.Second), true)
	text := errText(t, err)
	var ce *dcsapi.CredentialsError
	if !errors.As(err, &ce) || !strings.Contains(text, dcsapi.EnvSecretKey) || e.srv.Requests("") != 0 {
		t.Errorf("got %v", err)
	}
}

// clock is a settable time for MetadataCredentials.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Set(t time.Time) { c.mu.Lock(); defer c.mu.Unlock(); c.now = t }

func TestMetadataCredentials(t *testing.T) {
	e := newEnv(t)
	e.srv.SetInstances(pid, mixedFleet)
	start := time.Now()
	expires := start.Add(6 * time.Hour)
	e.srv.SetMetadataCredentials(mdAK, mdSecret, mdToken, expires)
	clk := &clock{now: start}
	md := &dcsapi.MetadataCredentials{Endpoint: e.srv.URL, HTTPClient: e.http, Now: clk.Now}
	fetches := func() int { return e.srv.Requests(dcsapitest.APIMetadata) }
	get := func() dcsapi.Credentials {
		t.Helper()
		c, err := md.Credentials(ctxFor(t, 5*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}

	if c := get(); c.AccessKey != mdAK || c.SecretKey != mdSecret || c.SecurityToken != mdToken {
		t.Fatalf("got %v", c)
	}
	if got := e.srv.RequestLog(dcsapitest.APIMetadata)[0].Header.Get("X-Metadata-Token"); got == "" {
		t.Error("the session token was not used")
	}
	get()
	clk.Set(expires.Add(-41 * time.Minute))
	get()
	if n := fetches(); n != 1 {
		t.Errorf("%d fetches while 41 min remain, want 1 (cached)", n)
	}

	e.srv.SetMetadataCredentials(mdAK2, mdSecret2, mdToken2, start.Add(12*time.Hour))
	clk.Set(expires.Add(-39 * time.Minute))
	if c := get(); c.AccessKey != mdAK2 || fetches() != 2 {
		t.Errorf("with 39 min left: %s after %d fetches, want a refresh", c.AccessKey, fetches())
	}

	// The temporary credentials work at the gateway, token included.
	c := e.client(func(o *dcsapi.Options) { o.Credentials = md })
	if _, err := c.InstanceStatus(ctxFor(t, 5*time.Second), true); err != nil {
		t.Fatal(err)
	}

	t.Run("one refresh for many callers", func(t *testing.T) {
		e.srv.ResetCounts()
		e.srv.SetLatency(30 * time.Millisecond) // keep the refresh in flight while the others arrive
		defer e.srv.SetLatency(0)
		fresh := &dcsapi.MetadataCredentials{Endpoint: e.srv.URL, HTTPClient: e.http, Now: clk.Now}
		ready := make(chan struct{})
		var wg sync.WaitGroup
		got := make([]string, 20)
		for i := range got {
			wg.Go(func() {
				<-ready
				c, err := fresh.Credentials(ctxFor(t, 5*time.Second))
				if err != nil {
					t.Error(err)
				}
				got[i] = c.AccessKey
			})
		}
		close(ready)
		wg.Wait()
		if n := fetches(); n != 1 {
			t.Errorf("%d fetches for 20 concurrent callers, want 1", n)
		}
		for _, ak := range got {
			if ak != mdAK2 {
				t.Errorf("a caller got %q", ak)
			}
		}
	})

	t.Run("failures", func(t *testing.T) {
		for _, f := range []dcsapitest.Fault{{Status: 500}, {Kind: dcsapitest.FaultWrongTypes}, {Kind: dcsapitest.FaultMalformedJSON}, {Kind: dcsapitest.FaultHTML}} {
			e.srv.InjectFault("", dcsapitest.APIMetadata, f)
			fresh := &dcsapi.MetadataCredentials{Endpoint: e.srv.URL, HTTPClient: e.http, Now: clk.Now}
			_, err := fresh.Credentials(ctxFor(t, 5*time.Second))
			errText(t, err)
			var ce *dcsapi.CredentialsError
			if !errors.As(err, &ce) {
				t.Errorf("%s: got %v", f.Kind, err)
			}
			e.srv.ClearFaults()
		}
	})
}

func TestRequestHeaders(t *testing.T) {
	e := newEnv(t)
	e.srv.SetInstances(pid, mixedFleet)
	if _, err := e.client(nil).InstanceStatus(ctxFor(t, 5*time.Second), true); err != nil {
		t.Fatal(err)
	}
	h := e.srv.RequestLog(dcsapitest.APIInstanceStatus)[0].Header
	if got := h.Get("User-Agent"); got != userAgent {
		t.Errorf("User-Agent %q", got)
	}
	if got := h.Get("X-Project-Id"); got != pid {
		t.Errorf("X-Project-Id %q", got)
	}
	if got := h.Get("Authorization"); !strings.HasPrefix(got, "SDK-HMAC-SHA256 Access="+dcsapitest.TestAccessKey+", ") {
		t.Errorf("Authorization %q", got)
	}
}

// TestNoSecretsInErrors runs failing calls with temporary credentials, so a
// token could leak too, and then checks every error text the tests saw.
func TestNoSecretsInErrors(t *testing.T) {
	e := newEnv(t)
	e.srv.SetInstances(pid, mixedFleet)
	e.srv.AddTemporaryKey(tempAK, tempSecret, tempToken)
	for kind := dcsapitest.FaultStatus; kind <= dcsapitest.FaultEmptyBody; kind++ {
		if kind == dcsapitest.FaultHang || kind == dcsapitest.FaultTrickle {
			continue
		}
		e.srv.InjectFault("", "", dcsapitest.Fault{Kind: kind, Status: 401})
		for _, token := range []string{tempToken, "wrong-" + tempToken} {
			c := e.client(func(o *dcsapi.Options) {
				o.Retry = noRetry()
				o.Credentials = dcsapi.StaticCredentials{AccessKey: tempAK, SecretKey: tempSecret, SecurityToken: token}
			})
			if _, err := c.InstanceStatus(ctxFor(t, 5*time.Second), true); err != nil {
				errText(t, err)
			}
			if _, err := c.ListInstances(ctxFor(t, 5*time.Second)); err != nil {
				errText(t, err)
			}
		}
		e.srv.ClearFaults()
	}

	// The paths no fault kind above takes, each with a server that echoes
	// the token where it can.
	tempCreds := func(o *dcsapi.Options) {
		o.Retry = noRetry()
		o.Credentials = dcsapi.StaticCredentials{AccessKey: tempAK, SecretKey: tempSecret, SecurityToken: tempToken}
	}
	check := func(err error) {
		t.Helper()
		if err == nil {
			t.Error("no error")
			return
		}
		errText(t, err)
	}
	byRegion := func(o *dcsapi.Options) {
		tempCreds(o)
		o.ProjectID, o.Region, o.IAMEndpoint = "", region, e.srv.URL
	}
	e.srv.SetIAMProjectListDenied(true)
	e.srv.AddProject(region+"_dev", "dddd0000")
	_, err := e.client(byRegion).ProjectID(ctxFor(t, 5*time.Second)) // only a sub-project
	check(err)
	e.srv.InjectFault("", dcsapitest.APIIAMAuthProjects, dcsapitest.Fault{Status: 500, Message: "echo " + tempToken})
	_, err = e.client(byRegion).ProjectID(ctxFor(t, 5*time.Second)) // both calls fail
	check(err)
	e.srv.ClearFaults()

	for _, shape := range []dcsapitest.ErrorShape{dcsapitest.ShapeGateway, dcsapitest.ShapeService, dcsapitest.ShapeCodeMessage, dcsapitest.ShapeNested} {
		e.srv.InjectFault(pid, "", dcsapitest.Fault{Status: 401, Shape: shape, Message: "echo " + tempToken + " " + tempSecret})
		_, err = e.client(tempCreds).InstanceStatus(ctxFor(t, 5*time.Second), true)
		check(err)
		e.srv.ClearFaults()
	}

	e.srv.SetGatewayClockOffset(time.Hour)
	_, err = e.client(tempCreds).InstanceStatus(ctxFor(t, 5*time.Second), true)
	check(err)
	e.srv.SetGatewayClockOffset(0)

	const listed = "abcd0000abcd0000abcd0000abcd0000"
	e.srv.SetInstances(listed, dcsapitest.SampleFleet(dcsapi.ListPageSize))
	e.srv.InjectFault(listed, dcsapitest.APIListInstances, dcsapitest.Fault{Kind: dcsapitest.FaultInstanceNum, InstanceNum: 5000})
	_, err = e.client(func(o *dcsapi.Options) { tempCreds(o); o.ProjectID = listed }).ListInstances(ctxFor(t, listPatience))
	check(err) // an empty page before instance_num

	seenMu.Lock()
	defer seenMu.Unlock()
	if len(seenErrors) < 10 {
		t.Errorf("only %d error texts were checked", len(seenErrors))
	}
	for _, text := range seenErrors {
		for _, s := range secrets {
			if strings.Contains(text, s) {
				t.Errorf("secret in error text %q", text)
			}
		}
	}
}
