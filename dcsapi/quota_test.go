package dcsapi_test

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/dcs-exporter/dcs_exporter/dcsapi"
	"github.com/dcs-exporter/dcs_exporter/dcsapi/dcsapitest"
)

const allQuotaFields = dcsapi.QuotaLimit | dcsapi.QuotaUsed | dcsapi.QuotaMin | dcsapi.QuotaMax

// The documented 200 answers: v2 (OTC api-ref apis_v2_recommended/
// other_apis/querying_the_tenant_quotas.rst), whose instance unit is {},
// and v1.0 (outdated_apis_v1/other_apis/querying_the_quota_of_a_tenant.rst),
// whose instance unit is null and which adds resource_user.
const (
	docQuotaV2 = `{
  "quotas" : {
    "resources" : [ {
      "unit" : { }, "min" : 1, "max" : 10, "quota" : 10, "used" : 3, "type" : "instance"
    }, {
      "unit" : "GB", "min" : 1, "max" : 800, "quota" : 800, "used" : 22, "type" : "ram"
    } ]
  }
}`
	docQuotaV1 = `{
    "quotas": {
        "resources": [
            {"quota": 10, "used": 3, "type": "instance", "min": 1, "max": 10, "unit": null},
            {"quota": 800, "used": 22, "type": "ram", "min": 1, "max": 800, "unit": "GB"}
        ],
        "resource_user": {"tenant_id": "836152f9838a44089f40f3cf6fd432bf", "tenant_name": "op_svc_dcs_003"}
    }
}`
)

func TestDecodeQuotaDocumentedExamples(t *testing.T) {
	want := []dcsapi.QuotaResource{
		{Type: dcsapi.QuotaInstances, Quota: 10, Used: 3, Min: 1, Max: 10, Present: allQuotaFields},
		{Type: dcsapi.QuotaMemory, Unit: "GB", Quota: 800, Used: 22, Min: 1, Max: 800, Present: allQuotaFields},
	}
	for name, body := range map[string]string{"v2": docQuotaV2, "v1": docQuotaV1} {
		r, err := dcsapi.DecodeQuota([]byte(body))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !reflect.DeepEqual(r.Resources, want) || r.Dropped.Total() != 0 {
			t.Errorf("%s: got %+v, dropped %v", name, r.Resources, r.Dropped)
		}
		if ram, ok := r.Resource(dcsapi.QuotaMemory); !ok || ram.Quota != 800 {
			t.Errorf("%s: ram %+v %v", name, ram, ok)
		}
	}
}

func TestDecodeQuotaFieldByField(t *testing.T) {
	body := `{"quotas":{"resources":[
		{"type":"instances","quota":"10","used":-1,"min":1,"max":10.5,"unit":""},
		{"type":"RAM","quota":100,"used":99,"unit":7},
		{"quota":1},
		{"type":5,"quota":1}
	]}}`
	r, err := dcsapi.DecodeQuota([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	want := []dcsapi.QuotaResource{
		{Type: dcsapi.QuotaInstances, Min: 1, Present: dcsapi.QuotaMin},
		{Type: dcsapi.QuotaMemory, Quota: 100, Used: 99, Present: dcsapi.QuotaLimit | dcsapi.QuotaUsed},
	}
	if !reflect.DeepEqual(r.Resources, want) {
		t.Errorf("got %+v\nwant %+v", r.Resources, want)
	}
	if wantDrops := (dcsapi.FieldDrops{"quota": 1, "used": 1, "max": 1, "unit": 1, "type": 2}); !reflect.DeepEqual(r.Dropped, wantDrops) {
		t.Errorf("dropped %v, want %v", r.Dropped, wantDrops)
	}
}

func TestDecodeQuotaShapes(t *testing.T) {
	for body, field := range map[string]string{
		"":                                 "",
		"[]":                               "",
		`{}`:                               "quotas",
		`{"quotas":null}`:                  "quotas",
		`{"quotas":[]}`:                    "quotas",
		`{"quotas":{}}`:                    "quotas.resources",
		`{"quotas":{"resources":{}}}`:      "quotas.resources",
		`{"quotas":{"resources":[1]}}`:     "quotas.resources",
		`{"quotas":{"resources":[]}} junk`: "",
	} {
		_, err := dcsapi.DecodeQuota([]byte(body))
		var de *dcsapi.DecodeError
		if !errors.As(err, &de) || de.API != dcsapi.APIQuota || de.Field != field {
			t.Errorf("%q: got %v, want a DecodeError of field %q", body, err, field)
		}
	}
}

func TestQuotaFromTheFake(t *testing.T) {
	for _, v := range []dcsapi.APIVersion{dcsapi.V2, dcsapi.V1} {
		t.Run(string(v), func(t *testing.T) {
			e := newEnv(t)
			fleet := dcsapitest.SampleFleet(30)
			e.srv.SetInstances(pid, fleet)
			c := e.client(func(o *dcsapi.Options) { o.APIVersion = v })
			usedInstances, usedGB := dcsapitest.QuotaUse(fleet)
			r, err := c.Quota(ctxFor(t, 10*time.Second))
			if err != nil {
				t.Fatal(err)
			}
			inst, ok1 := r.Resource(dcsapi.QuotaInstances)
			ram, ok2 := r.Resource(dcsapi.QuotaMemory)
			if !ok1 || !ok2 || inst.Used != usedInstances || ram.Used != usedGB || ram.Unit != "GB" || inst.Unit != "" ||
				inst.Quota < inst.Used || ram.Quota < ram.Used || inst.Present != allQuotaFields {
				t.Errorf("instances %+v, ram %+v; want used %d and %d GB", inst, ram, usedInstances, usedGB)
			}
			e.srv.SetQuotaLimits(pid, &dcsapitest.QuotaLimits{Instances: usedInstances + 1, MemoryGB: usedGB})
			r, err = c.Quota(ctxFor(t, 10*time.Second))
			if err != nil {
				t.Fatal(err)
			}
			inst, _ = r.Resource(dcsapi.QuotaInstances)
			ram, _ = r.Resource(dcsapi.QuotaMemory)
			if inst.Quota != usedInstances+1 || ram.Quota != usedGB {
				t.Errorf("set limits: instances %+v, ram %+v", inst, ram)
			}
			prefix := map[dcsapi.APIVersion]string{dcsapi.V2: "/v2/", dcsapi.V1: "/v1.0/"}[v]
			for _, ri := range e.srv.RequestLog(dcsapitest.APIQuota) {
				if ri.Path != prefix+pid+"/quota" || len(ri.Query) != 0 {
					t.Errorf("request %s %v", ri.Path, ri.Query)
				}
			}
		})
	}
}
