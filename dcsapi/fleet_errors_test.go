package dcsapi_test

import (
	"errors"
	"net/http"
	"reflect"
	"testing"
	"time"

	"github.com/dcs-exporter/dcs_exporter/dcsapi"
	"github.com/dcs-exporter/dcs_exporter/dcsapi/dcsapitest"
)

// TestFleetAPIErrors checks each fleet API's failures the same way: a 403
// is an auth failure, a cloud without the API a 404 that IsNotFound tells,
// a bad body a DecodeError with the request id; and that OnRequest counts
// every call under the API's own name.
func TestFleetAPIErrors(t *testing.T) {
	calls := map[string]func(*dcsapi.Client) error{
		dcsapi.APIStatistics: func(c *dcsapi.Client) error { _, err := c.InstanceStatistics(ctxFor(t, 10*time.Second)); return err },
		dcsapi.APIQuota:      func(c *dcsapi.Client) error { _, err := c.Quota(ctxFor(t, 10*time.Second)); return err },
		dcsapi.APINodes: func(c *dcsapi.Client) error {
			_, err := c.Nodes(ctxFor(t, 10*time.Second), dcsapi.NodesOptions{})
			return err
		},
		dcsapi.APIBackups: func(c *dcsapi.Client) error {
			_, err := c.Backups(ctxFor(t, 10*time.Second), "r1", dcsapi.BackupsOptions{})
			return err
		},
	}
	for api, call := range calls {
		t.Run(api, func(t *testing.T) {
			e := newEnv(t)
			e.srv.SetInstances(pid, []dcsapitest.Instance{{ID: "r1", Engine: "Redis", EngineVersion: "5.0", Status: "RUNNING"}})
			c := e.client(func(o *dcsapi.Options) { o.Retry = noRetry() })
			if err := call(c); err != nil {
				t.Fatal(err)
			}
			e.srv.InjectFault(pid, api, dcsapitest.Fault{Kind: dcsapitest.FaultStatus, Status: http.StatusForbidden, Times: 1})
			err := call(c)
			var ae *dcsapi.APIError
			if !errors.As(err, &ae) || ae.API != api || ae.StatusCode != 403 || !dcsapi.IsAuthFailure(err) {
				t.Errorf("403: %v", errText(t, err))
			}
			e.srv.SetAPIAvailable(pid, api, false)
			err = call(c)
			if !errors.As(err, &ae) || ae.API != api || !dcsapi.IsNotFound(err) || ae.Code != "APIGW.0101" {
				t.Errorf("404: %v", errText(t, err))
			}
			e.srv.SetAPIAvailable(pid, api, true)
			e.srv.InjectFault(pid, api, dcsapitest.Fault{Kind: dcsapitest.FaultMalformedJSON, Times: 1})
			var de *dcsapi.DecodeError
			if err := call(c); !errors.As(err, &de) || de.API != api || de.RequestID == "" {
				t.Errorf("malformed: %v", errText(t, err))
			}
			if err := call(c); err != nil {
				t.Errorf("after the faults: %v", err)
			}
			hooks := e.hookCalls()
			want := []string{api + " 200", api + " 403", api + " 404", api + " 200", api + " 200"}
			if !reflect.DeepEqual(hooks, want) {
				t.Errorf("OnRequest calls %v, want %v", hooks, want)
			}
		})
	}
}
