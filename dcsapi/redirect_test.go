package dcsapi_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dcs-exporter/dcs_exporter/dcsapi"
	"github.com/dcs-exporter/dcs_exporter/dcsapi/dcsapitest"
)

// otherHost is a server a redirect points to; it counts what reaches it.
func otherHost(t *testing.T) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		// What a thief would answer: counts that look real.
		_, _ = w.Write([]byte(`{"running_count": 999, "projects": [{"id": "stolen", "name": "cn-north-4"}], "credential": {}}`))
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

// TestRedirectsAreNeverFollowed is the attack of issue 19 on redirects: the
// DCS endpoint, IAM and the metadata service each answer 302 (and the
// other redirect codes) to another host, with a token in the Location's
// query. Nothing reaches the other host, the call fails with the status and
// the host, and neither the path nor the query of the Location is shown.
// The client under test is handed a plain http.Client, which would follow.
func TestRedirectsAreNeverFollowed(t *testing.T) {
	e := newEnv(t)
	e.srv.SetInstances(pid, mixedFleet)
	e.srv.AddProject(region, pid)
	e.srv.AddTemporaryKey(tempAK, tempSecret, tempToken)
	thief, hits := otherHost(t)
	location := thief.URL + "/steal/path?X-Security-Token=" + tempToken + "&q=secretquery"
	thiefHost := strings.TrimPrefix(thief.URL, "http://")
	temp := func(o *dcsapi.Options) {
		o.Retry = noRetry()
		o.Credentials = dcsapi.StaticCredentials{AccessKey: tempAK, SecretKey: tempSecret, SecurityToken: tempToken}
	}
	calls := map[string]struct {
		api  string
		call func(status int) error
	}{
		"status": {dcsapitest.APIInstanceStatus, func(int) error {
			_, err := e.client(temp).InstanceStatus(ctxFor(t, 5*time.Second), true)
			return err
		}},
		"listing": {dcsapitest.APIListInstances, func(int) error {
			_, err := e.client(temp).ListInstances(ctxFor(t, 5*time.Second))
			return err
		}},
		"IAM": {dcsapitest.APIIAMProjects, func(int) error {
			_, err := e.client(func(o *dcsapi.Options) {
				temp(o)
				o.ProjectID, o.Region, o.IAMEndpoint = "", region, e.srv.URL
			}).ProjectID(ctxFor(t, 5*time.Second))
			return err
		}},
		"metadata": {"", func(int) error {
			md := &dcsapi.MetadataCredentials{Endpoint: e.srv.URL, HTTPClient: &http.Client{}}
			_, err := md.Credentials(ctxFor(t, 5*time.Second))
			return err
		}},
	}
	for name, c := range calls {
		for _, status := range []int{301, 302, 303, 307, 308} {
			e.srv.ClearFaults()
			injectAt := ""
			if name != "metadata" {
				injectAt = pid
				if name == "IAM" {
					injectAt = ""
				}
			}
			e.srv.InjectFault(injectAt, c.api, dcsapitest.Fault{Kind: dcsapitest.FaultRedirect, Status: status, Location: location})
			err := c.call(status)
			var redirect *dcsapi.RedirectError
			if !errors.As(err, &redirect) {
				t.Fatalf("%s, %d: got %v, want a RedirectError", name, status, err)
			}
			if redirect.StatusCode != status || redirect.Location != thiefHost {
				t.Errorf("%s: got status %d, location %q; want %d and %q", name, redirect.StatusCode, redirect.Location, status, thiefHost)
			}
			text := errText(t, err)
			if !strings.Contains(text, thiefHost) || strings.Contains(text, "steal") || strings.Contains(text, "secretquery") {
				t.Errorf("%s: error %q: want the host, and neither path nor query", name, text)
			}
		}
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("%d requests reached the other host", n)
	}
	// Not retried either: one attempt per call.
	e.srv.ClearFaults()
	e.srv.ResetCounts()
	e.srv.InjectFault(pid, "", dcsapitest.Fault{Kind: dcsapitest.FaultRedirect, Location: location})
	_, err := e.client(nil).InstanceStatus(ctxFor(t, 5*time.Second), true)
	if n := e.srv.Requests(dcsapitest.APIInstanceStatus); err == nil || n != 1 {
		t.Errorf("%d attempts, error %v: want one attempt and an error", n, err)
	}
}

// The transports NewHTTPClient builds refuse redirects on their own, also
// from https to plain http.
func TestNewHTTPClientRefusesRedirects(t *testing.T) {
	thief, hits := otherHost(t)
	front := httptest.NewTLSServer(http.RedirectHandler(thief.URL+"/x", http.StatusFound))
	t.Cleanup(front.Close)
	c, err := dcsapi.NewHTTPClient(dcsapi.TransportOptions{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Get(front.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound || hits.Load() != 0 {
		t.Errorf("status %d, %d requests at the other host: want the 302 itself and none", resp.StatusCode, hits.Load())
	}
}
