package dcsapitest_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/dcs-exporter/dcs_exporter/dcsapi/dcsapitest"
)

// rawJSON decodes a body keeping numbers as json.Number, so that a test
// sees which values are numbers and which strings.
func rawJSON(t *testing.T, body []byte) map[string]any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var doc map[string]any
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("%s: %v", body, err)
	}
	return doc
}

func TestIAMAuthProjects(t *testing.T) {
	f := newFixture(t)
	f.srv.AddProject("cn-north-4_dev", "p2") // before its parent, which must not matter
	f.srv.AddProject("cn-north-4", "p1")
	f.srv.AddProject("eu-west-0", "p3")
	r := f.get("/v3/auth/projects?name=cn-north-4", testCreds, time.Time{}, nil)
	r.want(t, 200, "")
	var doc struct {
		Projects []struct {
			ID       string `json:"id"`
			Name     string `json:"name"`
			ParentID string `json:"parent_id"`
		} `json:"projects"`
	}
	if err := json.Unmarshal(r.body, &doc); err != nil {
		t.Fatal(err)
	}
	// Every project, the name filter ignored; the sub-project under its
	// region's project.
	if len(doc.Projects) != 3 || doc.Projects[0].Name != "cn-north-4_dev" || doc.Projects[0].ParentID != "p1" ||
		doc.Projects[1].ParentID == "p1" || doc.Projects[2].ID != "p3" {
		t.Errorf("projects %+v", doc.Projects)
	}
	if r.header.Get("X-IAM-Trace-Id") == "" {
		t.Error("no X-IAM-Trace-Id")
	}
	if n := f.srv.Requests(dcsapitest.APIIAMAuthProjects); n != 1 {
		t.Errorf("%d requests counted", n)
	}
	f.get("/v3/auth/projects", testCreds, time.Now().Add(-time.Hour), nil).want(t, 401, "APIGW.0301")
}

func TestIAMProjectListDenied(t *testing.T) {
	f := newFixture(t)
	f.srv.AddProject("cn-north-4", "p1")
	f.srv.SetIAMProjectListDenied(true)
	r := f.get("/v3/projects?name=cn-north-4", testCreds, time.Time{}, nil)
	r.want(t, 403, "403")
	nested, ok := rawJSON(t, r.body)["error"].(map[string]any)
	if !ok || nested["code"] != json.Number("403") || nested["title"] != "Forbidden" || !strings.Contains(r.err.Msg, "iam:projects:list") {
		t.Errorf("body %s, want IAM's nested shape with a numeric code", r.body)
	}
	if r.header.Get("X-IAM-Trace-Id") == "" || r.header.Get("X-Request-Id") != "" {
		t.Errorf("trace id %q, request id %q: IAM traces with X-IAM-Trace-Id alone", r.header.Get("X-IAM-Trace-Id"), r.header.Get("X-Request-Id"))
	}
	f.get("/v3/auth/projects", testCreds, time.Time{}, nil).want(t, 200, "")
	f.srv.SetIAMProjectListDenied(false)
	f.get("/v3/projects?name=cn-north-4", testCreds, time.Time{}, nil).want(t, 200, "")
}

func TestErrorShapesOfFaults(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		shape      dcsapitest.ErrorShape
		code       string
		wantBody   string // the body, with the request id as ID
		idInHeader string
	}{
		{dcsapitest.ShapeGateway, "APIGW.0201", `{"error_code":"APIGW.0201","error_msg":"m","request_id":"ID"}`, "X-Request-Id"},
		{dcsapitest.ShapeService, "DCS.4002", `{"error_code":"DCS.4002","error_msg":"m","error_ext_msg":null}`, "X-Request-Id"},
		{dcsapitest.ShapeService, "111400002", `{"error_code":111400002,"error_msg":"m","error_ext_msg":null}`, "X-Request-Id"},
		{dcsapitest.ShapeCodeMessage, "400", `{"code":400,"message":"m","request_id":"ID"}`, ""},
		{dcsapitest.ShapeNested, "DCS.4002", `{"error":{"code":"DCS.4002","message":"m","title":"Bad Request"}}`, "X-IAM-Trace-Id"},
	} {
		f.srv.ClearFaults()
		f.srv.InjectFault(pid, dcsapitest.APIInstanceStatus, dcsapitest.Fault{Status: 400, Code: tc.code, Message: "m", Shape: tc.shape})
		r := f.get(statusPath, testCreds, time.Time{}, nil)
		r.want(t, 400, tc.code)
		id := r.err.RequestID
		if tc.idInHeader != "" {
			id = r.header.Get(tc.idInHeader)
		}
		if got := strings.ReplaceAll(string(r.body), id, "ID"); len(id) != 32 || got != tc.wantBody {
			t.Errorf("shape %d: body %s, want %s (request id %q)", tc.shape, r.body, tc.wantBody, id)
		}
		for _, h := range []string{"X-Request-Id", "X-IAM-Trace-Id"} {
			if h != tc.idInHeader && r.header.Get(h) != "" {
				t.Errorf("shape %d: %s sent too", tc.shape, h)
			}
		}
	}
}

func TestGatewayClock(t *testing.T) {
	f := newFixture(t)
	f.srv.SetGatewayClockOffset(20 * time.Minute)
	start := time.Now()
	r := f.get(statusPath, testCreds, time.Time{}, nil)
	r.want(t, 401, "APIGW.0301")
	date, err := http.ParseTime(r.header.Get("Date"))
	if skew := date.Sub(start); err != nil || skew < 20*time.Minute-2*time.Second || skew > 20*time.Minute+2*time.Second {
		t.Errorf("Date %q (%v), want 20 minutes ahead", r.header.Get("Date"), err)
	}
	// Signed by the gateway's time, it passes; and within 15 minutes too.
	f.get(statusPath, testCreds, time.Now().Add(20*time.Minute), nil).want(t, 200, "")
	f.get(statusPath, testCreds, time.Now().Add(6*time.Minute), nil).want(t, 200, "")
	f.srv.SetGatewayClockOffset(0)
	f.get(statusPath, testCreds, time.Time{}, nil).want(t, 200, "")
}

type listed struct {
	Num       json.Number      `json:"instance_num"`
	Instances []map[string]any `json:"instances"`
}

func (f *fixture) list(query string) (reply, listed) {
	f.t.Helper()
	r := f.get("/v2/"+pid+"/instances?"+query, testCreds, time.Time{}, nil)
	var l listed
	if r.status == 200 {
		dec := json.NewDecoder(bytes.NewReader(r.body))
		dec.UseNumber()
		if err := dec.Decode(&l); err != nil {
			f.t.Fatalf("%s: %v", r.body, err)
		}
	}
	return r, l
}

func TestListPastTheEnd(t *testing.T) {
	f := newFixture(t)
	f.srv.SetInstances(pid, dcsapitest.SampleFleet(20))
	if r, l := f.list("include_failure=true&limit=10&offset=20"); r.status != 200 || len(l.Instances) != 0 || l.Num != "20" {
		t.Errorf("past the end by default: %d %s", r.status, r.body)
	}
	f.srv.SetListPastEndRefused(true)
	for _, offset := range []string{"20", "25"} {
		r, _ := f.list("include_failure=true&limit=10&offset=" + offset)
		r.want(t, 400, "DCS.4800")
	}
	if r, l := f.list("include_failure=true&limit=10&offset=10"); r.status != 200 || len(l.Instances) != 10 {
		t.Errorf("the last page: %d %s", r.status, r.body)
	}
	f.srv.SetInstances(pid, nil)
	if r, _ := f.list("offset=0"); r.status != 200 {
		t.Errorf("an empty project's first page: %d %s", r.status, r.body)
	}
}

func TestFaultInstanceNum(t *testing.T) {
	f := newFixture(t)
	f.srv.InjectFault(pid, dcsapitest.APIListInstances, dcsapitest.Fault{Kind: dcsapitest.FaultInstanceNum, InstanceNum: 4321, Offset: dcsapitest.AtOffset(5)})
	if _, l := f.list("include_failure=true&limit=5&offset=5"); l.Num != "4321" || len(l.Instances) != 5 {
		t.Errorf("instance_num %s, %d instances", l.Num, len(l.Instances))
	}
	if _, l := f.list("include_failure=true&limit=5&offset=0"); l.Num != "25" {
		t.Errorf("another page: instance_num %s", l.Num)
	}
	f.get(statusPath, testCreds, time.Time{}, nil).want(t, 200, "")
}

func TestListContextFields(t *testing.T) {
	f := newFixture(t)
	created := time.Date(2023, 5, 6, 7, 8, 9, 123e6, time.FixedZone("CST", 8*3600))
	f.srv.SetInstances(pid, []dcsapitest.Instance{
		{ID: "a", EnterpriseProjectID: "ep-1", Tags: []dcsapitest.Tag{{Key: "owner", Value: "team-a"}, {Key: "1", Value: "n"}},
			MaintainBegin: "22:00:00", MaintainEnd: "02:00:00", ServiceUpgrade: true, CreatedAt: created, CapacityGB: 0.125},
		{ID: "b", CapacityGB: 2},
	})
	_, l := f.list("limit=10")
	a, b := l.Instances[0], l.Instances[1]
	wantA := map[string]any{
		"enterprise_project_id": "ep-1",
		"tags":                  []any{map[string]any{"key": "owner", "value": "team-a"}, map[string]any{"key": "1", "value": "n"}},
		"maintain_begin":        "22:00:00", "maintain_end": "02:00:00", "service_upgrade": true,
		"created_at": "2023-05-05T23:08:09.123Z", "capacity": json.Number("0"), "capacity_minor": ".125",
	}
	for k, v := range wantA {
		if !reflect.DeepEqual(a[k], v) {
			t.Errorf("a.%s = %#v, want %#v", k, a[k], v)
		}
	}
	if id, _ := a["service_task_id"].(string); id == "" {
		t.Error("a pending upgrade without its task id")
	}
	_, hasBegin := b["maintain_begin"]
	if b["enterprise_project_id"] != "0" || hasBegin || b["service_upgrade"] != false || !reflect.DeepEqual(b["tags"], []any{}) ||
		b["capacity"] != json.Number("2") || b["capacity_minor"] != "" || b["service_task_id"] != "" {
		t.Errorf("b = %v", b)
	}
	if got := f.srv.Instances(pid)[0].CreatedAt; !got.Equal(created) {
		t.Errorf("Instances reports creation at %v", got)
	}
}

func TestOddFields(t *testing.T) {
	f := newFixture(t)
	fleet := make([]dcsapitest.Instance, 4)
	for i := range fleet {
		fleet[i] = dcsapitest.Instance{EnterpriseProjectID: "0", Tags: []dcsapitest.Tag{{Key: "1", Value: "DCS"}},
			MaintainBegin: "02:00:00", MaintainEnd: "06:00:00"}
	}
	f.srv.SetInstances(pid, fleet)
	f.srv.InjectFault(pid, dcsapitest.APIListInstances, dcsapitest.Fault{Kind: dcsapitest.FaultOddFields})
	_, l := f.list("limit=10")
	numericTags := []any{map[string]any{"key": json.Number("1"), "value": "DCS"}}
	checks := []map[string]any{
		{"enterprise_project_id": json.Number("0"), "tags": numericTags, "maintain_begin": json.Number("7200")},
		{"service_upgrade": "yes", "tags": numericTags},
		{"tags": map[string]any{"owner": "nobody"}, "az_codes": "az1"},
		{"enterprise_project_id": map[string]any{"id": "0"}},
	}
	for i, want := range checks {
		for k, v := range want {
			if !reflect.DeepEqual(l.Instances[i][k], v) {
				t.Errorf("instance %d: %s = %#v, want %#v", i, k, l.Instances[i][k], v)
			}
		}
	}
	if _, isNumber := l.Instances[1]["created_at"].(json.Number); !isNumber {
		t.Errorf("instance 1: created_at %#v", l.Instances[1]["created_at"])
	}
	f.get(statusPath, testCreds, time.Time{}, nil).want(t, 200, "") // other APIs answer as usual
}

func TestSampleFleetContext(t *testing.T) {
	fleet := dcsapitest.SampleFleet(400)
	var noOwner, defaultProject, pastMidnight, upgrades int
	for _, in := range fleet {
		if len(in.Tags) != 3 {
			t.Fatalf("%s has tags %v, want three", in.ID, in.Tags)
		}
		if !strings.Contains(fmtTags(in.Tags), "owner=") {
			noOwner++
		}
		if in.EnterpriseProjectID == "0" {
			defaultProject++
		}
		begin, err1 := time.Parse(time.TimeOnly, in.MaintainBegin)
		end, err2 := time.Parse(time.TimeOnly, in.MaintainEnd)
		if err1 != nil || err2 != nil || begin.Equal(end) {
			t.Fatalf("%s: window %q-%q", in.ID, in.MaintainBegin, in.MaintainEnd)
		}
		if end.Before(begin) {
			pastMidnight++
		}
		if in.ServiceUpgrade {
			upgrades++
		}
		again := in
		dcsapitest.Annotate(&again)
		if !reflect.DeepEqual(again, in) {
			t.Fatalf("Annotate is not the same for the same instance: %+v, %+v", again, in)
		}
	}
	// Loose bounds on a fixed draw: each kind is there, none is the rule.
	for name, n := range map[string]int{"without owner": noOwner, "in the default project": defaultProject, "with a window past midnight": pastMidnight, "with an upgrade pending": upgrades} {
		if n == 0 || n > len(fleet)*3/4 {
			t.Errorf("%d of %d instances %s", n, len(fleet), name)
		}
	}
}

func fmtTags(tags []dcsapitest.Tag) string {
	var parts []string
	for _, t := range tags {
		parts = append(parts, t.Key+"="+t.Value)
	}
	return strings.Join(parts, ",")
}
