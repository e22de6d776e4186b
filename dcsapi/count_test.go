package dcsapi_test

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/dcs-exporter/dcs_exporter/dcsapi"
	"github.com/dcs-exporter/dcs_exporter/dcsapi/dcsapitest"
)

func TestCountInstancesAsksForOneItem(t *testing.T) {
	e := newEnv(t)
	e.srv.SetInstances(pid, dcsapitest.SampleFleet(1500))
	c := e.client(nil)

	n, err := c.CountInstances(ctxFor(t, 10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if n != 1500 {
		t.Errorf("counted %d instances, want 1500", n)
	}
	log := e.srv.RequestLog(dcsapitest.APIListInstances)
	if len(log) != 1 {
		t.Fatalf("%d list requests, want 1", len(log))
	}
	if q := log[0].Query; q.Get("limit") != "1" || q.Get("offset") != "0" {
		t.Errorf("query %v, want limit=1 and offset=0", q)
	}
}

func TestCountInstancesRefused(t *testing.T) {
	e := newEnv(t)
	e.srv.SetInstances(pid, dcsapitest.SampleFleet(3))
	e.srv.InjectFault(pid, dcsapitest.APIListInstances, dcsapitest.Fault{Kind: dcsapitest.FaultStatus, Status: http.StatusForbidden, Code: "DCS.2007"})
	c := e.client(func(o *dcsapi.Options) { o.Retry = noRetry() })

	_, err := c.CountInstances(ctxFor(t, 10*time.Second))
	var apiErr *dcsapi.APIError
	if !errors.As(err, &apiErr) || apiErr.API != dcsapi.APIListInstances || apiErr.StatusCode != http.StatusForbidden || apiErr.Code != "DCS.2007" {
		t.Errorf("got %v, want the list API's 403 DCS.2007", errText(t, err))
	}
}
