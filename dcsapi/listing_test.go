package dcsapi_test

import (
	"cmp"
	"context"
	"errors"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dcs-exporter/dcs_exporter/dcsapi"
	"github.com/dcs-exporter/dcs_exporter/dcsapi/dcsapitest"
)

// wantInstance is what the client must make of an instance of the fake, as
// Server.Instances reports it (with its creation time and address).
func wantInstance(in dcsapitest.Instance) dcsapi.Instance {
	upgrade, noPassword, ssl := in.ServiceUpgrade, !in.PasswordRequired, in.EnableSSL
	w := dcsapi.Instance{
		ID: in.ID, Name: in.Name, Engine: in.Engine, EngineVersion: in.EngineVersion, Status: in.Status,
		SpecCode: in.SpecCode, CapacityGB: in.CapacityGB, MaxMemoryMB: in.MaxMemoryMB, UsedMemoryMB: in.UsedMemoryMB,
		ChargingMode: int64(in.ChargingMode), EnterpriseProjectID: cmp.Or(in.EnterpriseProjectID, "0"),
		MaintainBegin: in.MaintainBegin, MaintainEnd: in.MaintainEnd, ServiceUpgrade: &upgrade,
		CreatedAt: in.CreatedAt.UTC().Truncate(time.Millisecond), // the API shows milliseconds
		IPs:       in.IPs, Port: in.Port, DomainName: in.DomainName, NoPasswordAccess: &noPassword, EnableSSL: &ssl,
	}
	if len(in.AZCodes) > 0 {
		w.AZCodes = in.AZCodes
	}
	for _, t := range in.Tags {
		w.Tags = append(w.Tags, dcsapi.Tag{Key: t.Key, Value: t.Value})
	}
	return w
}

// docListExample is the 200 answer of the list API's documentation (OTC
// api-ref "Querying All DCS Instances", opentelekomcloud-docs/
// distributed-cache-service at 69c114d; docs/api-facts.md §6.2), with its numeric enterprise_project_id and tag key.
const docListExample = `{
  "instance_num" : 1,
  "instances" : [ {
    "publicip_id" : { },
    "vpc_name" : "dcs-beta",
    "charging_mode" : 0,
    "vpc_id" : "5e37b3be-950a-48e1-b498-65b63d336481",
    "subnet_id" : "a4112635-3ec0-471c-95c3-5cf49b9533af",
    "user_name" : "clouduser",
    "created_at" : "2022-08-29T09:00:34.335Z",
    "updated_at" : "2022-08-29T09:00:34.335Z",
    "enable_ssl" : false,
    "max_memory" : 128,
    "publicip_address" : null,
    "capacity" : 0,
    "order_id" : null,
    "maintain_begin" : "18:00:00",
    "engine" : "Redis",
    "maintain_end" : "19:00:00",
    "capacity_minor" : ".125",
    "service_upgrade" : false,
    "no_password_access" : true,
    "service_task_id" : "",
    "ip" : "192.168.0.195",
    "used_memory" : 2,
    "access_user" : null,
    "instance_id" : "c830053e-d5a3-4bc0-b6d6-ca37d1ea9dd5",
    "enable_publicip" : false,
    "port" : 6379,
    "user_id" : "d53977d1adfb49c5b025ba7d33a13fd7",
    "domain_name" : "redis-c830053e-d5a3-4bc0-b6d6-ca37d1ea9dd5.dcs.**cloud.com",
    "name" : "dcs-lpvo0829",
    "spec_code" : "redis.ha.xu1.tiny.r2.128",
    "engine_version" : "5.0",
    "status" : "RUNNING",
    "security_group_id" : "securityGroupId",
    "enterprise_project_id" : 0,
    "tags" : [ {
      "key" : 1,
      "value" : "DCS"
    } ],
    "az_codes" : [ "region01", "region02" ],
    "description" : "redis instance description",
    "cpu_type" : "x86_64",
    "features" : {
      "support_acl" : true,
      "support_transparent_client_ip" : true,
      "support_ssl" : false,
      "support_audit_log" : false
    },
    "sub_status" : "normal"
  } ]
}`

func TestDecodeDocumentedListExample(t *testing.T) {
	list, total, err := dcsapi.DecodeInstances([]byte(docListExample))
	if err != nil {
		t.Fatal(err)
	}
	noUpgrade, noPassword := false, true
	want := dcsapi.Instance{
		ID: "c830053e-d5a3-4bc0-b6d6-ca37d1ea9dd5", Name: "dcs-lpvo0829", Engine: "Redis", EngineVersion: "5.0",
		Status: "RUNNING", SpecCode: "redis.ha.xu1.tiny.r2.128", CapacityGB: 0.125, MaxMemoryMB: 128, UsedMemoryMB: 2,
		AZCodes: []string{"region01", "region02"}, EnterpriseProjectID: "0", Tags: []dcsapi.Tag{{Key: "1", Value: "DCS"}},
		MaintainBegin: "18:00:00", MaintainEnd: "19:00:00", ServiceUpgrade: &noUpgrade,
		CreatedAt: time.Date(2022, 8, 29, 9, 0, 34, 335e6, time.UTC),
		IPs:       []string{"192.168.0.195"}, Port: 6379, DomainName: "redis-c830053e-d5a3-4bc0-b6d6-ca37d1ea9dd5.dcs.**cloud.com",
		NoPasswordAccess: &noPassword, EnableSSL: &noUpgrade,
	}
	if total != 1 || len(list) != 1 || !reflect.DeepEqual(list[0], want) {
		t.Errorf("got %d, %+v\nwant 1, %+v", total, list, want)
	}
}

// capacity_minor counts only when capacity is 0.
func TestDecodeInstancesCapacity(t *testing.T) {
	for _, tc := range []struct {
		fields string
		want   float64
	}{
		{`"capacity":0,"capacity_minor":".125"`, 0.125},
		{`"capacity":"0","capacity_minor":"0.5"`, 0.5},
		{`"capacity_minor":".25"`, 0.25},
		{`"capacity":2,"capacity_minor":".5"`, 2},
		{`"capacity":4,"capacity_minor":""`, 4},
		{`"capacity":0,"capacity_minor":null`, 0},
		{`"capacity":"NaN","capacity_minor":"Inf"`, 0},
	} {
		list, _, err := dcsapi.DecodeInstances([]byte(`{"instance_num":1,"instances":[{"instance_id":"a",` + tc.fields + `}]}`))
		if err != nil || len(list) != 1 || list[0].CapacityGB != tc.want {
			t.Errorf("%s: got %+v, %v; want capacity %v", tc.fields, list, err, tc.want)
		}
	}
}

// A value of a type that cannot mean it costs that field of that instance,
// never the instance or the listing.
func TestDecodeInstancesOddFieldsCostOnlyThemselves(t *testing.T) {
	body := `{"instance_num":3,"instances":[
		{"instance_id":"a","name":"kept","tags":{"owner":"x"},"az_codes":"az1","maintain_begin":7200,"maintain_end":null,
		 "service_upgrade":"yes","created_at":1700000000,"enterprise_project_id":{"id":"x"}},
		{"instance_id":"b","tags":["owner=x",{"key":true,"value":"v"},{"key":"owner","value":7},{"value":"no key"}],
		 "created_at":"yesterday","service_upgrade":true,"maintain_begin":"22:00:00","maintain_end":"02:00:00"},
		{"instance_id":"c","tags":[{"key":"k","value":{"nested":1}}],"az_codes":["az1",{},2],"created_at":"2024-01-02T03:04:05+08:00"}]}`
	list, total, err := dcsapi.DecodeInstances([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	upgrade := true
	want := []dcsapi.Instance{
		{ID: "a", Name: "kept"},
		{ID: "b", Tags: []dcsapi.Tag{{Key: "owner", Value: "7"}}, ServiceUpgrade: &upgrade, MaintainBegin: "22:00:00", MaintainEnd: "02:00:00"},
		{ID: "c", Tags: []dcsapi.Tag{{Key: "k"}}, AZCodes: []string{"az1", "", "2"}, CreatedAt: time.Date(2024, 1, 1, 19, 4, 5, 0, time.UTC)},
	}
	if total != 3 || !reflect.DeepEqual(list, want) {
		t.Errorf("got %+v\nwant %+v", list, want)
	}
}

// TestListContext: the fake's tags, enterprise projects, windows (one past
// midnight), pending upgrades and creation times come through the client.
func TestListContext(t *testing.T) {
	e := newEnv(t)
	created := time.Date(2023, 5, 6, 7, 8, 9, 123e6, time.UTC)
	fleet := []dcsapitest.Instance{
		{ID: "a", Status: "RUNNING", EnterpriseProjectID: "8e3c5f2a-41d7-4b8e-9a6f-2c1d0e9b7a53",
			Tags:          []dcsapitest.Tag{{Key: "owner", Value: "team-a"}, {Key: "cost-center", Value: "cc-1"}, {Key: "1", Value: "numeric"}},
			MaintainBegin: "22:00:00", MaintainEnd: "02:00:00", ServiceUpgrade: true, CreatedAt: created},
		{ID: "b", Status: "ERROR"}, // the default project, no tags, no window
	}
	e.srv.SetInstances(pid, fleet)
	got, err := e.client(nil).ListInstances(ctxFor(t, 5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	served := e.srv.Instances(pid)
	if len(got) != 2 || !reflect.DeepEqual(got[0], wantInstance(served[0])) || !reflect.DeepEqual(got[1], wantInstance(served[1])) {
		t.Fatalf("got %+v\nwant %+v", got, []dcsapi.Instance{wantInstance(served[0]), wantInstance(served[1])})
	}
	if !got[0].CreatedAt.Equal(created) || got[1].EnterpriseProjectID != "0" || got[1].MaintainBegin != "" || got[1].Tags != nil {
		t.Errorf("got %+v", got)
	}
}

// TestListOddFieldTypes: with the documented example's types and worse in
// every instance, the listing still comes, each odd field empty.
func TestListOddFieldTypes(t *testing.T) {
	e := newEnv(t)
	fleet := make([]dcsapitest.Instance, 8)
	for i := range fleet {
		fleet[i] = dcsapitest.Instance{ID: "i" + strconv.Itoa(i), Status: "RUNNING", AZCodes: []string{"az1"},
			Tags:          []dcsapitest.Tag{{Key: "1", Value: "DCS"}, {Key: "owner", Value: "team"}},
			MaintainBegin: "02:00:00", MaintainEnd: "06:00:00", ServiceUpgrade: true}
	}
	e.srv.SetInstances(pid, fleet)
	e.srv.InjectFault(pid, dcsapitest.APIListInstances, dcsapitest.Fault{Kind: dcsapitest.FaultOddFields})
	got, err := e.client(nil).ListInstances(ctxFor(t, 5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(fleet) {
		t.Fatalf("got %d instances", len(got))
	}
	tags := []dcsapi.Tag{{Key: "1", Value: "DCS"}, {Key: "owner", Value: "team"}}
	for i, in := range got {
		want := wantInstance(e.srv.Instances(pid)[i])
		// Each instance has its odd fields in turn (see FaultOddFields).
		switch i % 4 {
		case 0:
			want.MaintainBegin, want.MaintainEnd = "", "" // no_password_access as a string is read
		case 1:
			want.ServiceUpgrade, want.CreatedAt, want.EnableSSL = nil, time.Time{}, nil
		case 2:
			want.Tags, want.AZCodes, want.IPs, want.NoPasswordAccess = nil, nil, nil, nil
		case 3: // port as a numeric string is read
			want.EnterpriseProjectID, want.Tags = "", nil
		}
		if !reflect.DeepEqual(in, want) {
			t.Errorf("instance %d:\n got %+v\nwant %+v", i, in, want)
		}
		if i%4 < 2 && (in.EnterpriseProjectID != "0" || !reflect.DeepEqual(in.Tags, tags)) {
			t.Errorf("instance %d: numeric project %q and tag key %+v are not read as text", i, in.EnterpriseProjectID, in.Tags)
		}
	}
}

// pages lists the offsets the listings asked for.
func pages(e *env) []string {
	var offsets []string
	for _, r := range e.srv.RequestLog(dcsapitest.APIListInstances) {
		offsets = append(offsets, r.Query.Get("offset"))
	}
	return offsets
}

func TestPaging(t *testing.T) {
	list := func(t *testing.T, e *env, o dcsapi.ListOptions) ([]dcsapi.Instance, error) {
		t.Helper()
		return e.client(func(o *dcsapi.Options) { o.Retry = noRetry() }).ListInstancesWith(ctxFor(t, listPatience), o)
	}
	t.Run("stops when the instances reach instance_num", func(t *testing.T) {
		e := newEnv(t)
		e.srv.SetInstances(pid, dcsapitest.SampleFleet(2000))
		got, err := list(t, e, dcsapi.ListOptions{})
		if err != nil || len(got) != 2000 {
			t.Fatalf("got %d, %v", len(got), err)
		}
		if p := pages(e); !slices.Equal(p, []string{"0", "1000"}) {
			t.Errorf("pages %v: a third page past instance_num was asked for", p)
		}
	})
	t.Run("stops at a short page", func(t *testing.T) {
		e := newEnv(t)
		e.srv.SetInstances(pid, dcsapitest.SampleFleet(1500))
		e.srv.InjectFault(pid, dcsapitest.APIListInstances, dcsapitest.Fault{Kind: dcsapitest.FaultInstanceNum, InstanceNum: 2500})
		got, err := list(t, e, dcsapi.ListOptions{})
		if err != nil || len(got) != 1500 {
			t.Fatalf("got %d, %v", len(got), err)
		}
		if p := pages(e); !slices.Equal(p, []string{"0", "1000"}) {
			t.Errorf("pages %v", p)
		}
	})
	t.Run("an empty page before instance_num fails", func(t *testing.T) {
		e := newEnv(t)
		e.srv.SetInstances(pid, dcsapitest.SampleFleet(1000))
		e.srv.InjectFault(pid, dcsapitest.APIListInstances, dcsapitest.Fault{Kind: dcsapitest.FaultInstanceNum, InstanceNum: 2500})
		got, err := list(t, e, dcsapi.ListOptions{})
		text := errText(t, err)
		if got != nil || !strings.Contains(text, "1000 of the 2500") || !strings.Contains(text, "offset 1000") {
			t.Errorf("got %d instances, %q; want an error naming 1000 received and 2500 announced", len(got), text)
		}
	})
	t.Run("a 400 past the end after a full page is the end", func(t *testing.T) {
		e := newEnv(t)
		e.srv.SetInstances(pid, dcsapitest.SampleFleet(1000))
		e.srv.SetListPastEndRefused(true)
		e.srv.InjectFault(pid, dcsapitest.APIListInstances, dcsapitest.Fault{Kind: dcsapitest.FaultInstanceNum, InstanceNum: 2500})
		got, err := list(t, e, dcsapi.ListOptions{})
		if err != nil || len(got) != 1000 {
			t.Fatalf("got %d, %v", len(got), err)
		}
		if got := e.hookCalls(); !slices.Equal(got, []string{"list_instances 200", "list_instances 400"}) {
			t.Errorf("calls %v", got)
		}
	})
	t.Run("the fleet shrinks between pages", func(t *testing.T) {
		e := newEnv(t)
		fleet := dcsapitest.SampleFleet(2000)
		e.srv.SetInstances(pid, fleet)
		e.srv.SetListPastEndRefused(true)
		calls := 0
		gate := func(context.Context) (func(), error) {
			if calls++; calls == 2 { // after the first page: half the fleet goes
				e.srv.SetInstances(pid, fleet[:1000])
			}
			return func() {}, nil
		}
		got, err := list(t, e, dcsapi.ListOptions{Gate: gate})
		if err != nil || len(got) != 1000 {
			t.Fatalf("got %d, %v", len(got), err)
		}
	})
	t.Run("a 400 on the first page fails", func(t *testing.T) {
		e := newEnv(t)
		e.srv.SetInstances(pid, dcsapitest.SampleFleet(10))
		e.srv.InjectFault(pid, dcsapitest.APIListInstances, dcsapitest.Fault{Status: 400, Code: "DCS.4800", Message: "Invalid offset in the request."})
		_, err := list(t, e, dcsapi.ListOptions{})
		var apiErr *dcsapi.APIError
		if errText(t, err); !errors.As(err, &apiErr) || apiErr.StatusCode != 400 {
			t.Errorf("got %v", err)
		}
	})
	t.Run("an empty project", func(t *testing.T) {
		e := newEnv(t)
		e.srv.SetInstances(pid, nil)
		got, err := list(t, e, dcsapi.ListOptions{})
		if err != nil || len(got) != 0 {
			t.Errorf("got %d, %v", len(got), err)
		}
	})
}
