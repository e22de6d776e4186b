package dcsapitest_test

import (
	"encoding/json"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/dcs-exporter/dcs_exporter/dcsapi/dcsapitest"
)

// FaultRedirect answers a signed request with its status and Location;
// the fixture's client does not follow it, so the answer is seen as sent.
func TestRedirectFault(t *testing.T) {
	f := newFixture(t)
	f.client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	f.srv.InjectFault(pid, "", dcsapitest.Fault{Kind: dcsapitest.FaultRedirect, Status: 307, Location: "http://elsewhere.example/x"})
	r := f.get("/v2/"+pid+"/instances/status", testCreds, time.Time{}, nil)
	if r.status != 307 || r.header.Get("Location") != "http://elsewhere.example/x" {
		t.Errorf("got %d, Location %q", r.status, r.header.Get("Location"))
	}
	// A bad signature is refused before the fault: the redirect is for
	// signed requests, which a client that followed would send on.
	r = f.get("/v2/"+pid+"/instances/status", testCreds, time.Now().Add(-time.Hour), nil)
	r.want(t, http.StatusUnauthorized, "APIGW.0301")
}

// FaultEndlessListing serves full pages of instances new on every page, and
// announces the given total (or 2^31-1), whatever the project holds.
func TestEndlessListingFault(t *testing.T) {
	f := newFixture(t)
	f.srv.InjectFault(pid, dcsapitest.APIListInstances, dcsapitest.Fault{Kind: dcsapitest.FaultEndlessListing})
	seen := map[string]bool{}
	for _, offset := range []int{0, 1000, 1_000_000} {
		r := f.get("/v2/"+pid+"/instances?limit=1000&offset="+strconv.Itoa(offset), testCreds, time.Time{}, nil)
		var page struct {
			InstanceNum int `json:"instance_num"`
			Instances   []struct {
				ID string `json:"instance_id"`
			} `json:"instances"`
		}
		if err := json.Unmarshal(r.body, &page); err != nil {
			t.Fatal(err)
		}
		if r.status != 200 || page.InstanceNum != 1<<31-1 || len(page.Instances) != 1000 {
			t.Fatalf("offset %d: %d, instance_num %d, %d instances", offset, r.status, page.InstanceNum, len(page.Instances))
		}
		for _, in := range page.Instances {
			if seen[in.ID] {
				t.Fatalf("offset %d: %s came before", offset, in.ID)
			}
			seen[in.ID] = true
		}
	}
	f.srv.ClearFaults()
	f.srv.InjectFault(pid, dcsapitest.APIListInstances, dcsapitest.Fault{Kind: dcsapitest.FaultEndlessListing, InstanceNum: 7})
	r := f.get("/v2/"+pid+"/instances?limit=3", testCreds, time.Time{}, nil)
	var page struct {
		InstanceNum int               `json:"instance_num"`
		Instances   []json.RawMessage `json:"instances"`
	}
	if err := json.Unmarshal(r.body, &page); err != nil || page.InstanceNum != 7 || len(page.Instances) != 3 {
		t.Errorf("got %v, instance_num %d, %d instances; want 7 and the 3 asked for", err, page.InstanceNum, len(page.Instances))
	}
}

// Fault.RequestID replaces the request id wherever the error's shape has
// one.
func TestFaultRequestID(t *testing.T) {
	f := newFixture(t)
	for _, shape := range []dcsapitest.ErrorShape{dcsapitest.ShapeGateway, dcsapitest.ShapeCodeMessage, dcsapitest.ShapeNested} {
		f.srv.ClearFaults()
		f.srv.InjectFault(pid, "", dcsapitest.Fault{Status: 400, Shape: shape, RequestID: "echoed-id"})
		r := f.get("/v2/"+pid+"/instances/status", testCreds, time.Time{}, nil)
		got := r.header.Get("X-Request-Id") + r.header.Get("X-IAM-Trace-Id") + "|" + r.err.RequestID
		want := map[dcsapitest.ErrorShape]string{dcsapitest.ShapeGateway: "echoed-id|echoed-id",
			dcsapitest.ShapeCodeMessage: "|echoed-id", dcsapitest.ShapeNested: "echoed-id|"}[shape]
		if got != want {
			t.Errorf("shape %d: header|body %q, want %q", shape, got, want)
		}
	}
}
