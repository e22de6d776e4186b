package diagnosis_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dcs-exporter/dcs_exporter/config"
	"github.com/dcs-exporter/dcs_exporter/dcsapi"
	"github.com/dcs-exporter/dcs_exporter/diagnosis"
)

// The hints for every fault of the fake API are tested through --dcs.check
// in package checks; these cover what the fake cannot produce on loopback.

func target() config.Target {
	return config.Target{
		Name: "t", Region: "cn-north-4", ProjectID: "0123456789abcdef0123456789abcdef",
		Endpoint: "https://dcs.cn-north-4.myhuaweicloud.com", IAMEndpoint: "https://iam.cn-north-4.myhuaweicloud.com",
		APIVersion: "v2", Timeout: 10 * time.Second,
	}
}

// TestDNSFailure resolves nothing: the client's dialer fails the way the
// resolver does for a name that does not exist, so that the test sends no
// DNS query off the machine.
func TestDNSFailure(t *testing.T) {
	tc := target()
	tc.Endpoint = "https://dcs.cn-nort-4.myhuaweicloud.com"
	transport := &http.Transport{DialContext: func(_ context.Context, network, addr string) (net.Conn, error) {
		host, _, _ := net.SplitHostPort(addr)
		return nil, &net.OpError{Op: "dial", Net: network, Err: &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}}
	}}
	client, err := dcsapi.New(dcsapi.Options{
		Endpoint:    tc.Endpoint,
		ProjectID:   tc.ProjectID,
		Credentials: dcsapi.StaticCredentials{AccessKey: "HPUAEXAMPLEAK0000001", SecretKey: "s"},
		HTTPClient:  &http.Client{Transport: transport},
		Retry:       &dcsapi.RetryPolicy{MaxAttempts: 1},
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = client.InstanceStatus(context.Background(), true)
	f := diagnosis.Diagnose(diagnosis.StepStatus, err, tc)
	if f.Step != diagnosis.StepStatus || f.StatusCode != 0 {
		t.Errorf("got %s", f.Summary())
	}
	for _, w := range []string{"does not resolve", "https://dcs.cn-nort-4.myhuaweicloud.com", "region and endpoint", "proxy_url", "HTTPS_PROXY"} {
		if !strings.Contains(f.Hint, w) {
			t.Errorf("the hint does not say %q: %s", w, f.Hint)
		}
	}
}

func TestErrorStepWinsOverCallerStep(t *testing.T) {
	tc := target()
	for _, c := range []struct {
		err  error
		want diagnosis.Step
	}{
		{&dcsapi.APIError{API: dcsapi.APIIAMProjects, StatusCode: 403}, diagnosis.StepIAMLookup},
		{&dcsapi.APIError{API: dcsapi.APIListInstances, StatusCode: 403}, diagnosis.StepListing},
		{&dcsapi.CredentialsError{Source: "env", Err: errors.New("unset")}, diagnosis.StepCredentials},
		{&dcsapi.DecodeError{API: dcsapi.APIInstanceStatus, Err: errors.New("bad")}, diagnosis.StepStatus},
		{&dcsapi.CallError{API: dcsapi.APIIAMAuthProjects, Err: errors.New("EOF")}, diagnosis.StepIAMLookup},
		{&dcsapi.CallError{API: dcsapi.APIListInstances, Err: errors.New("EOF")}, diagnosis.StepListing},
		{errors.New("something else"), diagnosis.StepIAMLookup},
	} {
		if got := diagnosis.Diagnose(diagnosis.StepIAMLookup, c.err, tc).Step; got != c.want {
			t.Errorf("%v: step %q, want %q", c.err, got, c.want)
		}
	}
}

func TestNotFoundOnV1IsNotTheV1Hint(t *testing.T) {
	tc := target()
	tc.APIVersion = "v1"
	f := diagnosis.Diagnose(diagnosis.StepStatus, &dcsapi.APIError{API: dcsapi.APIInstanceStatus, StatusCode: 404, Code: "APIGW.0101"}, tc)
	if strings.Contains(f.Hint, "api_version") || !strings.Contains(f.Hint, tc.Endpoint) {
		t.Errorf("a 404 on the v1 path must point at the endpoint, not at api_version: %s", f.Hint)
	}
}

func TestSummary(t *testing.T) {
	f := diagnosis.Diagnose(diagnosis.StepStatus, &dcsapi.APIError{
		API: dcsapi.APIInstanceStatus, StatusCode: 401, Code: "APIGW.0301", RequestID: "req-1",
		Message: "Incorrect IAM authentication information: verify aksk signature fail",
	}, target())
	want := "status call: HTTP 401 APIGW.0301 (request id req-1): Incorrect IAM authentication information: verify aksk signature fail"
	if got := f.Summary(); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	f = diagnosis.Diagnose(diagnosis.StepStatus, errors.New("instance_status: EOF"), target())
	if got := f.Summary(); got != "status call: instance_status: EOF" {
		t.Errorf("got %s", got)
	}
}

// The hint must read the same on every call, while the measured offset
// moves by a second now and then.
func TestClockHintIsStable(t *testing.T) {
	var hints []string
	for _, skew := range []time.Duration{20*time.Minute + 29*time.Second, 19*time.Minute + 31*time.Second} {
		f := diagnosis.Diagnose(diagnosis.StepStatus, &dcsapi.APIError{API: dcsapi.APIInstanceStatus, StatusCode: 401, Code: "APIGW.0301", ClockSkew: skew}, target())
		hints = append(hints, f.Hint)
	}
	if hints[0] != hints[1] || !strings.Contains(hints[0], "about 20 minutes behind") {
		t.Errorf("hints differ or miss the offset:\n%s\n%s", hints[0], hints[1])
	}
	f := diagnosis.Diagnose(diagnosis.StepStatus, &dcsapi.APIError{API: dcsapi.APIInstanceStatus, StatusCode: 401, Code: "APIGW.0301", ClockSkew: dcsapi.ClockSkewLimit}, target())
	if strings.Contains(f.Hint, "about") {
		t.Errorf("a skew at the limit is blamed: %s", f.Hint)
	}
}

// IAM's nested errors carry the status as their code; the finding does not
// repeat it.
func TestIAMCodeIsNotRepeated(t *testing.T) {
	f := diagnosis.Diagnose(diagnosis.StepIAMLookup, &dcsapi.APIError{API: dcsapi.APIIAMProjects, StatusCode: 403, Code: "403", Message: "You are not authorized"}, target())
	if f.Code != "" || f.Summary() != "IAM lookup: HTTP 403: You are not authorized" {
		t.Errorf("got %q: %s", f.Code, f.Summary())
	}
}

// TestListingFailingAtIAMBlamesIAM lists the instances of a target whose
// project id is looked up in IAM, and whose IAM host does not resolve (the
// same fake dialer as above). The listing's caller only knows that the
// listing failed; the hint must name the IAM host, as the status call's
// does, and not the DCS host, which was never asked.
func TestListingFailingAtIAMBlamesIAM(t *testing.T) {
	tc := target()
	tc.ProjectID = ""
	tc.IAMEndpoint = "https://iam.cn-nort-4.myhuaweicloud.com"
	transport := &http.Transport{DialContext: func(_ context.Context, network, addr string) (net.Conn, error) {
		host, _, _ := net.SplitHostPort(addr)
		if strings.HasPrefix(host, "dcs.") {
			t.Errorf("the listing called DCS at %s before it knew its project", addr)
		}
		return nil, &net.OpError{Op: "dial", Net: network, Err: &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}}
	}}
	client, err := dcsapi.New(dcsapi.Options{
		Endpoint:    tc.Endpoint,
		IAMEndpoint: tc.IAMEndpoint,
		Region:      tc.Region,
		Credentials: dcsapi.StaticCredentials{AccessKey: "HPUAEXAMPLEAK0000001", SecretKey: "s"},
		HTTPClient:  &http.Client{Transport: transport},
		Retry:       &dcsapi.RetryPolicy{MaxAttempts: 1},
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = client.ListInstances(context.Background())
	if err == nil {
		t.Fatal("the listing succeeded without IAM")
	}
	f := diagnosis.Diagnose(diagnosis.StepListing, err, tc)
	if f.Step != diagnosis.StepIAMLookup {
		t.Errorf("step %q, want %q: %s", f.Step, diagnosis.StepIAMLookup, f.Summary())
	}
	if !strings.Contains(f.Hint, tc.IAMEndpoint) || strings.Contains(f.Hint, tc.Endpoint) {
		t.Errorf("the hint does not name the IAM host %s alone: %s", tc.IAMEndpoint, f.Hint)
	}
}
