package dcsapi_test

// The client's real requests, captured off the wire and kept in
// testdata/client_requests.json. tools/sdkcompat has the official SDK sign
// the same method, URL and signed headers and compares the Authorization
// headers byte for byte (TestClientRequestsMatchSDK there), so the file must
// be exactly what the client sends today: this test fails when it is not.

import (
	"bytes"
	"context"
	"flag"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/dcs-exporter/dcs_exporter/dcsapi"
	"github.com/dcs-exporter/dcs_exporter/dcsapi/dcsapitest"
)

var updateRequests = flag.Bool("update-requests", false, "rewrite testdata/client_requests.json")

const (
	clientRequestsFile = "testdata/client_requests.json"

	// The capture addresses the real endpoints, over plain HTTP because the
	// fake behind them is local; the scheme is not signed.
	captureDCS     = "http://dcs.cn-north-4.myhuaweicloud.com"
	captureIAM     = "http://iam.cn-north-4.myhuaweicloud.com"
	captureRegion  = "cn-north-4"
	captureProject = "0123456789abcdef0123456789abcdef"
	captureDate    = "20261127T101500Z" // the date of the SDK vectors

	captureTempAK    = "HPUATEMPORARYAK00001"
	captureTempSK    = "TemporarySecretKeyDoNotUse0123456789ABCD"
	captureTempToken = "gQpjbi1ub3J0aC00hM8EXAMPLE-security-token+/=="
)

func TestClientRequestsCaptured(t *testing.T) {
	signedAt, err := time.Parse("20060102T150405Z", captureDate)
	if err != nil {
		t.Fatal(err)
	}
	fake := dcsapitest.NewServer()
	t.Cleanup(fake.Close)
	fake.SetClock(func() time.Time { return signedAt })
	fake.AddProject(captureRegion, captureProject)
	fake.SetInstances(captureProject, dcsapitest.SampleFleet(3))
	fake.AddTemporaryKey(captureTempAK, captureTempSK, captureTempToken)
	wire := dcsapitest.NewWireRecorder(strings.TrimPrefix(fake.URL, "http://"))
	t.Cleanup(wire.Transport.CloseIdleConnections)

	permanent := dcsapi.Credentials{AccessKey: dcsapitest.TestAccessKey, SecretKey: dcsapitest.TestSecretKey}
	temporary := dcsapi.Credentials{AccessKey: captureTempAK, SecretKey: captureTempSK, SecurityToken: captureTempToken}
	newClient := func(cred dcsapi.Credentials, projectID string, v dcsapi.APIVersion) *dcsapi.Client {
		c, err := dcsapi.New(dcsapi.Options{
			Endpoint: captureDCS, IAMEndpoint: captureIAM, Region: captureRegion, ProjectID: projectID,
			APIVersion: v, Credentials: dcsapi.StaticCredentials(cred),
			HTTPClient: &http.Client{Transport: wire.Transport}, UserAgent: "dcs_exporter/capture",
			Retry: &dcsapi.RetryPolicy{MaxAttempts: 1}, Now: func() time.Time { return signedAt },
		})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	var recs dcsapitest.Recordings
	recs.Comment = "Requests of the exporter's dcsapi client as sent on the wire, made by TestClientRequestsCaptured " +
		"(go test ./dcsapi/ -run TestClientRequestsCaptured -update-requests). tools/sdkcompat signs each with the official SDK and compares."
	recs.Date = captureDate
	// capture runs one call and names the requests it sent.
	capture := func(cred dcsapi.Credentials, call func() error, names ...string) {
		t.Helper()
		if err := call(); err != nil {
			t.Fatalf("%v: %v", names, err)
		}
		sent, err := wire.Requests()
		if err != nil {
			t.Fatal(err)
		}
		if len(sent) != len(names) {
			t.Fatalf("%v: the client sent %d requests", names, len(sent))
		}
		for i, r := range sent {
			recs.Requests = append(recs.Requests, dcsapitest.Record(names[i], "http", r, cred.AccessKey, cred.SecretKey))
		}
	}
	status := func(c *dcsapi.Client) func() error {
		return func() error { _, err := c.InstanceStatus(ctx, true); return err }
	}
	capture(permanent, status(newClient(permanent, captureProject, dcsapi.V2)), "status_v2")
	capture(permanent, status(newClient(permanent, captureProject, dcsapi.V1)), "status_v1")
	capture(permanent, func() error {
		_, err := newClient(permanent, captureProject, dcsapi.V2).ListInstances(ctx)
		return err
	}, "list_instances_page")
	capture(permanent, status(newClient(permanent, "", dcsapi.V2)), "iam_project_lookup", "status_v2_after_lookup")
	capture(temporary, status(newClient(temporary, captureProject, dcsapi.V2)), "status_v2_security_token")
	capture(temporary, status(newClient(temporary, "", dcsapi.V1)), "iam_project_lookup_security_token", "status_v1_security_token")
	capture(temporary, func() error {
		_, err := newClient(temporary, captureProject, dcsapi.V2).ListInstances(ctx)
		return err
	}, "list_instances_page_security_token")

	// Each name says what the request is; make sure it is.
	for _, r := range recs.Requests {
		h, _, err := r.Header()
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			nameHas, urlHas string
		}{{"iam_", "/v3/projects?name=" + captureRegion}, {"status_v1", "/v1.0/"}, {"status_v2", "/v2/"}, {"list_", "/instances?"}} {
			if strings.Contains(r.Name, c.nameHas) && !strings.Contains(r.URL, c.urlHas) {
				t.Errorf("%s is %s", r.Name, r.URL)
			}
		}
		if strings.HasSuffix(r.Name, "_security_token") != (h.Get("X-Security-Token") == captureTempToken) {
			t.Errorf("%s has X-Security-Token %q", r.Name, h.Get("X-Security-Token"))
		}
	}

	got, err := recs.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if *updateRequests {
		if err := os.WriteFile(clientRequestsFile, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(clientRequestsFile)
	if err != nil {
		t.Fatalf("%v (make it with -update-requests)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("the client's requests differ from %s; if the change is intended, rewrite it with\n"+
			"  go test ./dcsapi/ -run TestClientRequestsCaptured -update-requests\n"+
			"and check it against the SDK: cd tools/sdkcompat && go test ./...\ngot:\n%s", clientRequestsFile, got)
	}
}
