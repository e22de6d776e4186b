package sdkcompat

// The fleet APIs against the SDK: the official client calls the fake's v2
// statistics, quota, node and backup routes and decodes the answers with
// its own models; every answer of the fake, v2 and v1.0, decodes into those
// models with encoding/json, v2 answers without a field the models lack;
// and the requests the exporter's client makes for these APIs have the
// SDK's method, path and query, and an Authorization header the SDK's
// signer makes the same.

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/auth/basic"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/auth/signer"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/config"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/request"
	dcs "github.com/huaweicloud/huaweicloud-sdk-go-v3/services/dcs/v2"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/services/dcs/v2/model"

	"github.com/dcs-exporter/dcs_exporter/dcsapi"
	"github.com/dcs-exporter/dcs_exporter/dcsapi/dcsapitest"
)

const (
	fleetProject  = "0123456789abcdef0123456789abcdef"
	fleetEndpoint = "http://dcs.cn-north-4.myhuaweicloud.com" // reached through the recorder; the scheme is not signed
)

// fleetFake is a fake with a fleet that has every case: running and other
// states, Memcached, and a failing backup.
func fleetFake(t *testing.T) (*dcsapitest.Server, []dcsapitest.Instance) {
	t.Helper()
	fake := dcsapitest.NewServer()
	t.Cleanup(fake.Close)
	fleet := dcsapitest.SampleFleet(60)
	fake.AddProject("cn-north-4", fleetProject)
	fake.SetInstances(fleetProject, fleet)
	fake.FailBackups(fleetProject, fleet[0].ID, "dcs.08.0002")
	fake.SwapMaster(fleetProject, fleet[0].ID, 0)
	fake.SetNodeStatus(fleetProject, fleet[0].ID, 0, 1, "Inactive")
	return fake, fleet
}

func sdkClient(t *testing.T, transport *http.Transport) *dcs.DcsClient {
	t.Helper()
	cred, err := basic.NewCredentialsBuilder().WithAk(dcsapitest.TestAccessKey).WithSk(dcsapitest.TestSecretKey).
		WithProjectId(fleetProject).SafeBuild()
	if err != nil {
		t.Fatal(err)
	}
	hc, err := dcs.DcsClientBuilder().WithEndpoints([]string{fleetEndpoint}).WithCredential(cred).
		WithHttpConfig(config.DefaultHttpConfig().WithHttpTransport(transport).WithRetries(0).WithTimeout(30 * time.Second)).
		SafeBuild()
	if err != nil {
		t.Fatal(err)
	}
	return dcs.NewDcsClient(hc)
}

func exporterClient(t *testing.T, transport http.RoundTripper, v dcsapi.APIVersion) *dcsapi.Client {
	t.Helper()
	c, err := dcsapi.New(dcsapi.Options{
		Endpoint: fleetEndpoint, ProjectID: fleetProject, APIVersion: v,
		Credentials: dcsapi.StaticCredentials{AccessKey: dcsapitest.TestAccessKey, SecretKey: dcsapitest.TestSecretKey},
		HTTPClient:  &http.Client{Transport: transport}, Retry: &dcsapi.RetryPolicy{MaxAttempts: 1},
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestSDKReadsTheFakesFleetAnswers(t *testing.T) {
	fake, fleet := fleetFake(t)
	wire := dcsapitest.NewWireRecorder(strings.TrimPrefix(fake.URL, "http://"))
	t.Cleanup(wire.Transport.CloseIdleConnections)
	c := sdkClient(t, wire.Transport)

	running := 0
	for _, in := range fleet {
		if in.Status == "RUNNING" {
			running++
		}
	}
	stats, err := c.ListStatisticsOfRunningInstances(&model.ListStatisticsOfRunningInstancesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if stats.Statistics == nil || len(*stats.Statistics) != running {
		t.Fatalf("statistics: %v", stats)
	}
	for _, s := range *stats.Statistics {
		if s.InstanceId == nil || s.Keys == nil || s.UsedMemory == nil || s.MaxMemory == nil || s.CmdGetCount == nil ||
			s.CmdSetCount == nil || s.UsedCpu == nil || s.InputKbps == nil || s.OutputKbps == nil {
			t.Fatalf("a statistic without a field: %v", s)
		}
		if _, err := strconv.ParseFloat(*s.InputKbps, 64); err != nil {
			t.Errorf("input_kbps %q", *s.InputKbps)
		}
	}

	quota, err := c.ShowQuotaOfTenant(&model.ShowQuotaOfTenantRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if quota.Quotas == nil || quota.Quotas.Resources == nil || len(*quota.Quotas.Resources) != 2 {
		t.Fatalf("quota: %v", quota)
	}
	for _, r := range *quota.Quotas.Resources {
		if r.Type == nil || r.Quota == nil || r.Used == nil || *r.Used > *r.Quota {
			t.Errorf("quota resource %v", r)
		}
	}

	offset, limit := int32(0), int32(dcsapi.NodesPageSize)
	nodes, err := c.BatchShowNodesInformation(&model.BatchShowNodesInformationRequest{Offset: &offset, Limit: &limit})
	if err != nil {
		t.Fatal(err)
	}
	if nodes.Count == nil || nodes.Instances == nil || int(*nodes.Count) != len(*nodes.Instances) || *nodes.Count == 0 {
		t.Fatalf("nodes: %v", nodes)
	}
	inactive := 0
	for _, in := range *nodes.Instances {
		if in.Nodes == nil || in.NodeCount == nil || int(*in.NodeCount) != len(*in.Nodes) {
			t.Fatalf("instance nodes %v", in)
		}
		for _, n := range *in.Nodes {
			if n.Status == nil || n.NodeRole == nil || n.NodeType == nil || n.NodePort == nil {
				t.Fatalf("node %v", n)
			}
			if n.Status.Value() == "Inactive" {
				inactive++
			}
		}
	}
	if inactive != 1 {
		t.Errorf("%d Inactive nodes, want 1", inactive)
	}

	end := time.Now().UTC()
	begin, until := end.Add(-7*24*time.Hour).Format("20060102150405"), end.Format("20060102150405")
	backupLimit, backupOffset := int32(dcsapi.BackupsPageSize), int32(0)
	backups, err := c.ListBackupRecords(&model.ListBackupRecordsRequest{
		InstanceId: fleet[0].ID, BeginTime: &begin, EndTime: &until, Limit: &backupLimit, Offset: &backupOffset,
	})
	if err != nil {
		t.Fatal(err)
	}
	if backups.TotalNum == nil || backups.BackupRecordResponse == nil || len(*backups.BackupRecordResponse) == 0 {
		t.Fatalf("backups: %v", backups)
	}
	failed := false
	for _, r := range *backups.BackupRecordResponse {
		if r.Status == nil || r.CreatedAt == nil {
			t.Fatalf("backup %v", r)
		}
		failed = failed || r.Status.Value() == "failed" && r.ErrorCode != nil && *r.ErrorCode == "dcs.08.0002"
	}
	if !failed {
		t.Error("no failed backup with dcs.08.0002")
	}
}

// rawGet sends a GET signed by the exporter's signer and returns the body.
func rawGet(t *testing.T, base, path, query string) []byte {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, base+path+"?"+query, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header["Host"] = []string{req.URL.Host}
	cred := dcsapi.Credentials{AccessKey: dcsapitest.TestAccessKey, SecretKey: dcsapitest.TestSecretKey}
	if err := dcsapi.Sign(req, nil, cred, time.Now()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: HTTP %d %s %v", path, resp.StatusCode, body, err)
	}
	return body
}

func TestFakesFleetAnswersFitTheSDKModels(t *testing.T) {
	fake, fleet := fleetFake(t)
	week := "begin_time=" + time.Now().UTC().Add(-7*24*time.Hour).Format("20060102150405")
	weekV1 := "beginTime=" + time.Now().UTC().Add(-7*24*time.Hour).Format("20060102150405")
	for _, c := range []struct {
		path, query string
		strict      bool // v2: no field outside the SDK's model
		into        any
	}{
		{"/v2/" + fleetProject + "/instances/statistic", "", true, &model.ListStatisticsOfRunningInstancesResponse{}},
		{"/v1.0/" + fleetProject + "/instances/statistic", "", false, &model.ListStatisticsOfRunningInstancesResponse{}},
		{"/v2/" + fleetProject + "/quota", "", true, &model.ShowQuotaOfTenantResponse{}},
		{"/v1.0/" + fleetProject + "/quota", "", false, &model.ShowQuotaOfTenantResponse{}},
		{"/v2/" + fleetProject + "/instances-logical-nodes", "limit=100&offset=0", true, &model.BatchShowNodesInformationResponse{}},
		{"/v2/" + fleetProject + "/instances/" + fleet[0].ID + "/backups", week + "&limit=100&offset=0", true, &model.ListBackupRecordsResponse{}},
		{"/v1.0/" + fleetProject + "/instances/" + fleet[0].ID + "/backups", weekV1 + "&limit=100&start=1", false, &model.ListBackupRecordsResponse{}},
	} {
		body := rawGet(t, fake.URL, c.path, c.query)
		dec := json.NewDecoder(bytes.NewReader(body))
		if c.strict {
			dec.DisallowUnknownFields()
		}
		if err := dec.Decode(c.into); err != nil {
			t.Errorf("%s: %v\n%.300s", c.path, err, body)
			continue
		}
		// Every field of the answer must have come through: an empty model
		// would mean the names do not match.
		if b, _ := json.Marshal(c.into); len(b) < 60 {
			t.Errorf("%s: decoded to %s", c.path, b)
		}
	}
}

// sdkAuthorization signs the method, URL and signed headers of a request
// with the SDK's signer.
func sdkAuthorization(t *testing.T, r *http.Request) string {
	t.Helper()
	auth, err := dcsapitest.ParseAuthorization(r.Header.Get("Authorization"))
	if err != nil {
		t.Fatal(err)
	}
	b := request.NewHttpRequestBuilder().WithEndpoint("http://" + r.Host).WithPath(r.URL.Path).WithMethod(r.Method)
	for k, vs := range r.URL.Query() {
		b = b.AddQueryParam(k, reflect.ValueOf(vs[0]))
	}
	for _, name := range auth.SignedHeaders {
		if strings.EqualFold(name, "host") {
			b = b.AddHeaderParam("Host", r.Host)
			continue
		}
		b = b.AddHeaderParam(http.CanonicalHeaderKey(name), r.Header.Get(name))
	}
	added, err := signer.Signer{}.Sign(b.Build(), auth.AccessKey, dcsapitest.TestSecretKey)
	if err != nil {
		t.Fatal(err)
	}
	return added[signer.HeaderAuthorization]
}

func TestClientFleetRequestsMatchSDK(t *testing.T) {
	fake, fleet := fleetFake(t)
	sdkWire := dcsapitest.NewWireRecorder(strings.TrimPrefix(fake.URL, "http://"))
	ourWire := dcsapitest.NewWireRecorder(strings.TrimPrefix(fake.URL, "http://"))
	t.Cleanup(sdkWire.Transport.CloseIdleConnections)
	t.Cleanup(ourWire.Transport.CloseIdleConnections)
	sdk := sdkClient(t, sdkWire.Transport)
	ours := exporterClient(t, ourWire.Transport, dcsapi.V2)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	end := time.Date(2026, 11, 27, 10, 15, 0, 0, time.UTC)
	begin := end.Add(-7 * 24 * time.Hour)
	beginText, endText := begin.Format("20060102150405"), end.Format("20060102150405")
	// The SDK's side asks what the client must: the SDK's largest node page
	// (model_batch_show_nodes_information_request.go) and 100 records.
	offset, nodeLimit, backupLimit := int32(0), int32(100), int32(100)
	for _, c := range []struct {
		name      string
		sdk, ours func() error
	}{
		{"statistics", func() error {
			_, err := sdk.ListStatisticsOfRunningInstances(&model.ListStatisticsOfRunningInstancesRequest{})
			return err
		}, func() error { _, err := ours.InstanceStatistics(ctx); return err }},
		{"quota", func() error {
			_, err := sdk.ShowQuotaOfTenant(&model.ShowQuotaOfTenantRequest{})
			return err
		}, func() error { _, err := ours.Quota(ctx); return err }},
		{"nodes", func() error {
			_, err := sdk.BatchShowNodesInformation(&model.BatchShowNodesInformationRequest{Offset: &offset, Limit: &nodeLimit})
			return err
		}, func() error { _, err := ours.Nodes(ctx, dcsapi.NodesOptions{}); return err }},
		{"backups", func() error {
			_, err := sdk.ListBackupRecords(&model.ListBackupRecordsRequest{
				InstanceId: fleet[0].ID, BeginTime: &beginText, EndTime: &endText, Limit: &backupLimit, Offset: &offset,
			})
			return err
		}, func() error {
			_, err := ours.Backups(ctx, fleet[0].ID, dcsapi.BackupsOptions{Begin: begin, End: end})
			return err
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if err := c.sdk(); err != nil {
				t.Fatalf("SDK: %v", err)
			}
			if err := c.ours(); err != nil {
				t.Fatalf("client: %v", err)
			}
			sdkSent, err1 := sdkWire.Requests()
			ourSent, err2 := ourWire.Requests()
			if err1 != nil || err2 != nil {
				t.Fatal(err1, err2)
			}
			// The fleet is one page of each: one request on both sides.
			if len(sdkSent) != 1 || len(ourSent) != 1 {
				t.Fatalf("SDK sent %d requests, client %d", len(sdkSent), len(ourSent))
			}
			s, o := sdkSent[0], ourSent[0]
			if s.Method != o.Method || s.URL.Path != o.URL.Path || !reflect.DeepEqual(s.URL.Query(), o.URL.Query()) {
				t.Errorf("SDK: %s %s?%s\nclient: %s %s?%s", s.Method, s.URL.Path, s.URL.RawQuery, o.Method, o.URL.Path, o.URL.RawQuery)
			}
			if got, want := o.Header.Get("Authorization"), sdkAuthorization(t, o); got != want {
				t.Errorf("Authorization differs\nclient: %s\n   SDK: %s", got, want)
			}
			if q, err := url.ParseQuery(o.URL.RawQuery); err != nil || q.Encode() != o.URL.RawQuery {
				t.Errorf("the client's query %q is not in sorted, canonical form", o.URL.RawQuery)
			}
		})
	}
}
