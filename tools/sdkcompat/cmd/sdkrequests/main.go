// Command sdkrequests records complete requests made and signed by the
// official Huawei Cloud Go SDK, as they go over the wire (method, URL and
// every header, User-Agent and Accept-Encoding included), and writes them to
// dcsapi/testdata/sdk_requests.json. The fake API's tests replay them: the
// fake must accept each one, and refuse it once its path, query, a signed
// header, its date or its token is changed.
//
// The requests go to the fake API (dcsapitest) through a transport that
// reaches it whatever the host, so that they name the real endpoints. Each
// one must be answered with 200, so the fake's independent verifier accepts
// them as they are made. The date is pinned with an X-Sdk-Date header, which
// the SDK's signer reads back, so the file comes out the same every time.
//
// The SDK's own project lookup (core/auth/internal/iam_helper.go) cannot be
// given a date, so it is recorded as that file builds it, from the public
// request builder, and signed by BasicCredentials.ProcessAuthRequest like
// the original. The real lookup, at the current time, is also run once
// against the fake as a live check, and not written down.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"reflect"
	"strings"
	"time"

	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/auth/basic"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/config"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/impl"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/region"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/request"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/sdkerr"
	dcs "github.com/huaweicloud/huaweicloud-sdk-go-v3/services/dcs/v2"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/services/dcs/v2/model"

	"github.com/dcs-exporter/dcs_exporter/dcsapi/dcsapitest"
)

const (
	date        = "20261127T101500Z" // as in the signature vectors
	regionID    = "cn-north-4"
	projectID   = "0123456789abcdef0123456789abcdef"
	dcsEndpoint = "http://dcs.cn-north-4.myhuaweicloud.com" // plain HTTP: the fake is local; the scheme is not signed
	iamEndpoint = "http://iam.cn-north-4.myhuaweicloud.com"
	userAgent   = "dcs-exporter-sdkcompat" // the SDK signs User-Agent; its default names the OS and Go version

	tempAK    = "HPUATEMPORARYAK00001"
	tempSK    = "TemporarySecretKeyDoNotUse0123456789ABCD"
	tempToken = "gQpjbi1ub3J0aC00hM8EXAMPLE-security-token+/=="
)

type key struct{ ak, sk, token string }

var (
	permanent = key{dcsapitest.TestAccessKey, dcsapitest.TestSecretKey, ""}
	temporary = key{tempAK, tempSK, tempToken}
)

// recorder runs SDK calls against the fake and keeps what they sent.
type recorder struct {
	fake *dcsapitest.Server
	wire *dcsapitest.WireRecorder
	recs dcsapitest.Recordings
}

func (r *recorder) httpConfig() *config.HttpConfig {
	return config.DefaultHttpConfig().WithHttpTransport(r.wire.Transport).WithRetries(0).
		WithUserAgent(userAgent).WithTimeout(10 * time.Second)
}

func credentials(k key, projectID string) (*basic.Credentials, error) {
	b := basic.NewCredentialsBuilder().WithAk(k.ak).WithSk(k.sk).WithIamEndpointOverride(iamEndpoint)
	if projectID != "" {
		b = b.WithProjectId(projectID)
	}
	if k.token != "" {
		b = b.WithSecurityToken(k.token)
	}
	return b.SafeBuild()
}

// dcsClient is the SDK's DCS client with the date pinned.
func (r *recorder) dcsClient(k key) (*dcs.DcsClient, error) {
	cred, err := credentials(k, projectID)
	if err != nil {
		return nil, err
	}
	hc, err := dcs.DcsClientBuilder().WithEndpoints([]string{dcsEndpoint}).WithCredential(cred).
		WithHttpConfig(r.httpConfig()).SafeBuild()
	if err != nil {
		return nil, err
	}
	return dcs.NewDcsClient(hc.WithExtraHeaders(map[string]string{"X-Sdk-Date": date})), nil
}

// record runs call and files the one request it must have sent.
func (r *recorder) record(name string, k key, call func() error) error {
	callErr := call()
	sent, err := r.wire.Requests()
	if callErr != nil && !answeredOK(callErr) {
		return fmt.Errorf("%s: the fake refused or failed the SDK's call: %w", name, callErr)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if len(sent) != 1 {
		return fmt.Errorf("%s: the SDK sent %d requests, want 1", name, len(sent))
	}
	r.recs.Requests = append(r.recs.Requests, dcsapitest.Record(name, "http", sent[0], k.ak, k.sk))
	return nil
}

// answeredOK says whether the SDK failed only to decode a 200 answer. The
// fake's listing follows the documented example, whose publicip_id is {}
// where the SDK's model wants a string (docs/api-facts.md §6.2); the request
// itself was accepted.
func answeredOK(err error) bool {
	var se *sdkerr.ServiceResponseError
	return errors.As(err, &se) && se.StatusCode == 200
}

func (r *recorder) status(k key) func() error {
	return func() error {
		c, err := r.dcsClient(k)
		if err != nil {
			return err
		}
		includeFailure := "true"
		resp, err := c.ListNumberOfInstancesInDifferentStatus(&model.ListNumberOfInstancesInDifferentStatusRequest{IncludeFailure: &includeFailure})
		if err == nil && resp.HttpStatusCode != 200 {
			err = fmt.Errorf("HTTP %d", resp.HttpStatusCode)
		}
		return err
	}
}

func (r *recorder) listPage(k key) func() error {
	return func() error {
		c, err := r.dcsClient(k)
		if err != nil {
			return err
		}
		includeFailure, offset, limit := "true", int32(0), int32(1000)
		resp, err := c.ListInstances(&model.ListInstancesRequest{IncludeFailure: &includeFailure, Offset: &offset, Limit: &limit})
		if err == nil && resp.HttpStatusCode != 200 {
			err = fmt.Errorf("HTTP %d", resp.HttpStatusCode)
		}
		return err
	}
}

// projectLookup sends the SDK's project lookup as iam_helper.go builds it,
// with the date pinned.
func (r *recorder) projectLookup(k key) func() error {
	return func() error {
		cred, err := credentials(k, "")
		if err != nil {
			return err
		}
		client := impl.NewDefaultHttpClient(r.httpConfig())
		req := request.NewHttpRequestBuilder().
			WithEndpoint(iamEndpoint).
			WithPath("/v3/projects").
			WithMethod("GET").
			WithSigningAlgorithm(client.GetHttpConfig().SigningAlgorithm).
			AddQueryParam("name", reflect.ValueOf(regionID)).
			AddHeaderParam("X-Sdk-Date", date).
			Build()
		if req, err = cred.ProcessAuthRequest(client, req); err != nil {
			return err
		}
		resp, err := client.SyncInvokeHttp(req)
		if err != nil {
			return err
		}
		body, _ := resp.GetBodyAsString()
		if resp.GetStatusCode() != 200 || !strings.Contains(body, projectID) {
			return fmt.Errorf("HTTP %d: %s", resp.GetStatusCode(), body)
		}
		return nil
	}
}

// liveLookup lets the SDK look the project up by itself, at the current
// time, then call DCS: the fake must accept both.
func (r *recorder) liveLookup(k key) error {
	r.fake.SetClock(nil)
	defer r.fake.SetClock(pinnedClock)
	cred, err := credentials(k, "")
	if err != nil {
		return err
	}
	hc, err := dcs.DcsClientBuilder().WithRegion(region.NewRegion(regionID, dcsEndpoint)).WithCredential(cred).
		WithHttpConfig(r.httpConfig()).SafeBuild()
	if err != nil {
		return fmt.Errorf("the SDK's own project lookup: %w", err)
	}
	includeFailure := "true"
	if _, err := dcs.NewDcsClient(hc).ListNumberOfInstancesInDifferentStatus(&model.ListNumberOfInstancesInDifferentStatusRequest{IncludeFailure: &includeFailure}); err != nil {
		return fmt.Errorf("the status call after the SDK's own lookup: %w", err)
	}
	sent, err := r.wire.Requests()
	if err != nil {
		return err
	}
	if len(sent) != 2 || sent[0].URL.Path != "/v3/projects" {
		return fmt.Errorf("the SDK's own lookup sent %d requests, want the lookup and the status call", len(sent))
	}
	return nil
}

func pinnedClock() time.Time {
	t, err := time.Parse("20060102T150405Z", date)
	if err != nil {
		panic(err)
	}
	return t
}

func run(out string) error {
	fake := dcsapitest.NewServer()
	defer fake.Close()
	fake.SetClock(pinnedClock)
	fake.AddProject(regionID, projectID)
	fake.SetInstances(projectID, dcsapitest.SampleFleet(3))
	fake.AddTemporaryKey(temporary.ak, temporary.sk, temporary.token)
	r := &recorder{fake: fake, wire: dcsapitest.NewWireRecorder(strings.TrimPrefix(fake.URL, "http://"))}
	defer r.wire.Transport.CloseIdleConnections()
	r.recs.Comment = "Requests made and signed by the official SDK (github.com/huaweicloud/huaweicloud-sdk-go-v3 v0.1.207) " +
		"as sent on the wire, recorded by tools/sdkcompat/cmd/sdkrequests. The fake API must accept each and refuse it tampered."
	r.recs.Date = date

	var errs []error
	for _, step := range []struct {
		name string
		k    key
		call func() error
	}{
		{"sdk_status_v2", permanent, r.status(permanent)},
		{"sdk_status_v2_security_token", temporary, r.status(temporary)},
		{"sdk_list_instances_page", permanent, r.listPage(permanent)},
		{"sdk_list_instances_page_security_token", temporary, r.listPage(temporary)},
		{"sdk_iam_project_lookup", permanent, r.projectLookup(permanent)},
		{"sdk_iam_project_lookup_security_token", temporary, r.projectLookup(temporary)},
	} {
		errs = append(errs, r.record(step.name, step.k, step.call))
	}
	errs = append(errs, r.liveLookup(permanent), r.liveLookup(temporary))
	if err := errors.Join(errs...); err != nil {
		return err
	}
	data, err := r.recs.Marshal()
	if err != nil {
		return err
	}
	if err := os.WriteFile(out, data, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "sdkrequests: wrote %d requests to %s; the SDK's own project lookup passed the fake too\n", len(r.recs.Requests), out)
	return nil
}

func main() {
	out := flag.String("out", "../../dcsapi/testdata/sdk_requests.json", "where to write the requests (default is relative to tools/sdkcompat)")
	flag.Parse()
	if err := run(*out); err != nil {
		fmt.Fprintln(os.Stderr, "sdkrequests:", err)
		os.Exit(1)
	}
}
