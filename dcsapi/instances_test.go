package dcsapi_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"reflect"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dcs-exporter/dcs_exporter/dcsapi"
	"github.com/dcs-exporter/dcs_exporter/dcsapi/dcsapitest"
)

func TestDecodeInstancesShapes(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		want       dcsapi.Instance
	}{
		{
			name: "usual",
			body: `{"instance_num":1,"instances":[{"instance_id":"a","name":"n","engine":"Redis","engine_version":"6.0",
				"status":"RUNNING","spec_code":"s","capacity":0,"capacity_minor":".125","max_memory":102,"used_memory":3,
				"charging_mode":1,"az_codes":[],"tags":[{"key":1}],"publicip_id":{}}]}`,
			want: dcsapi.Instance{ID: "a", Name: "n", Engine: "Redis", EngineVersion: "6.0", Status: "RUNNING", SpecCode: "s",
				CapacityGB: 0.125, MaxMemoryMB: 102, UsedMemoryMB: 3, ChargingMode: 1, Tags: []dcsapi.Tag{{Key: "1"}}},
		},
		{
			name: "text as numbers",
			body: `{"instance_num":1,"instances":[{"instance_id":"a","name":123,"engine_version":5.0,"status":"ERROR",
				"spec_code":{"odd":true},"capacity":4,"az_codes":["az1",7]}]}`,
			want: dcsapi.Instance{ID: "a", Name: "123", EngineVersion: "5.0", Status: "ERROR", CapacityGB: 4, AZCodes: []string{"az1", "7"}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			list, total, err := dcsapi.DecodeInstances([]byte(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			if total != 1 || len(list) != 1 || !reflect.DeepEqual(list[0], tc.want) {
				t.Errorf("got %d, %+v\nwant 1, %+v", total, list, tc.want)
			}
		})
	}
}

// TestDecodeInstancesLenientNumbers: numbers may come as strings, and odd
// values count as 0 rather than failing the page.
func TestDecodeInstancesLenientNumbers(t *testing.T) {
	body := `{"instance_num":1,"instances":[{"instance_id":"a","name":null,"engine":"Redis","capacity":"2",
		"capacity_minor":"","max_memory":"1638","used_memory":null,"charging_mode":"x","az_codes":["az1"]}]}`
	list, _, err := dcsapi.DecodeInstances([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	want := dcsapi.Instance{ID: "a", Engine: "Redis", CapacityGB: 2, MaxMemoryMB: 1638, AZCodes: []string{"az1"}}
	if len(list) != 1 || !reflect.DeepEqual(list[0], want) {
		t.Errorf("got %+v, want %+v", list, want)
	}
}

func TestDecodeInstancesMissingID(t *testing.T) {
	for _, body := range []string{
		`{"instance_num":2,"instances":[{"instance_id":"a"},{"name":"b"}]}`,
		`{"instance_num":2,"instances":[{"instance_id":"a"},{"instance_id":{},"name":1}]}`,
	} {
		_, _, err := dcsapi.DecodeInstances([]byte(body))
		var d *dcsapi.DecodeError
		if !errors.As(err, &d) || d.Field != "instances[1].instance_id" {
			t.Errorf("%s: got %v, want an error naming instances[1].instance_id", body, err)
		}
	}
}

func TestListInstancesWithGate(t *testing.T) {
	e := newEnv(t)
	e.srv.SetInstances(pid, dcsapitest.SampleFleet(2500))
	c := e.client(func(o *dcsapi.Options) { o.Retry = noRetry() })

	var held, calls, releases atomic.Int32
	gate := func(context.Context) (func(), error) {
		calls.Add(1)
		if held.Add(1) != 1 {
			t.Error("a listing made two calls at once")
		}
		return func() { held.Add(-1); releases.Add(1) }, nil
	}
	list, err := c.ListInstancesWith(ctxFor(t, listPatience), dcsapi.ListOptions{Gate: gate})
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2500 {
		t.Errorf("got %d instances", len(list))
	}
	// The project id is configured: three pages and no lookup.
	if calls.Load() != 3 || releases.Load() != 3 {
		t.Errorf("gate taken %d times and released %d times, want 3 each", calls.Load(), releases.Load())
	}

	t.Run("a refused gate stops the listing", func(t *testing.T) {
		e.srv.ResetCounts()
		stop := errors.New("no slot")
		n := 0
		_, err := c.ListInstancesWith(ctxFor(t, listPatience), dcsapi.ListOptions{Gate: func(context.Context) (func(), error) {
			if n++; n == 2 {
				return nil, stop
			}
			return func() {}, nil
		}})
		if !errors.Is(err, stop) {
			t.Errorf("got %v, want the gate's error", err)
		}
		if got := e.srv.Requests(dcsapitest.APIListInstances); got != 1 {
			t.Errorf("%d pages asked, want 1", got)
		}
	})
}

func TestListInstancesWithPageTimeout(t *testing.T) {
	e := newEnv(t)
	e.srv.SetInstances(pid, dcsapitest.SampleFleet(2001))
	c := e.client(func(o *dcsapi.Options) { o.Retry = noRetry() })

	// Three pages of 1 s each outlast one timeout of 2.5 s, but each page
	// meets its own, with 1.5 s to spare for a busy machine.
	e.srv.SetLatency(time.Second)
	list, err := c.ListInstancesWith(ctxFor(t, listPatience), dcsapi.ListOptions{PageTimeout: 2500 * time.Millisecond})
	if err != nil || len(list) != 2001 {
		t.Fatalf("got %d instances, %v", len(list), err)
	}

	// A hanging page ends the listing at its own timeout: long before the
	// listing's deadline, and after the first page came in time.
	e.srv.SetLatency(0)
	e.srv.ResetCounts()
	e.srv.InjectFault(pid, dcsapitest.APIListInstances, dcsapitest.Fault{Kind: dcsapitest.FaultHang, Offset: dcsapitest.AtOffset(1000)})
	defer e.srv.ClearFaults()
	const pageTimeout = 2 * time.Second
	ctx := ctxFor(t, listPatience)
	start := time.Now()
	_, err = c.ListInstancesWith(ctx, dcsapi.ListOptions{PageTimeout: pageTimeout})
	took := time.Since(start)
	errText(t, err)
	if !errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil {
		t.Errorf("got %v with the listing's deadline %v, want the page's own timeout", err, ctx.Err())
	}
	if got := pages(e); !slices.Equal(got, []string{"0", "1000"}) {
		t.Errorf("pages asked %v, want the first and the hanging one", got)
	}
	if took < pageTimeout {
		t.Errorf("a hanging page ended the listing after %v, before its timeout %v", took, pageTimeout)
	}
}

// listPageBody fetches one full page of the fake's listing, as the list API
// sends it.
func listPageBody(tb testing.TB, fleet []dcsapitest.Instance) []byte {
	tb.Helper()
	srv := dcsapitest.NewServer()
	defer srv.Close()
	srv.SetInstances(pid, fleet)
	req, err := http.NewRequest(http.MethodGet, srv.URL+"/v2/"+pid+"/instances?include_failure=true&limit=1000&offset=0", nil)
	if err != nil {
		tb.Fatal(err)
	}
	creds := dcsapi.Credentials{AccessKey: dcsapitest.TestAccessKey, SecretKey: dcsapitest.TestSecretKey}
	if err := dcsapi.Sign(req, nil, creds, time.Now()); err != nil {
		tb.Fatal(err)
	}
	transport := &http.Transport{}
	defer transport.CloseIdleConnections()
	resp, err := (&http.Client{Transport: transport}).Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		tb.Fatalf("HTTP %d, %v: %s", resp.StatusCode, err, body)
	}
	return body
}

// BenchmarkDecodeInstances decodes one full page of the list API.
func BenchmarkDecodeInstances(b *testing.B) {
	body := listPageBody(b, dcsapitest.SampleFleet(dcsapi.ListPageSize))
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if list, _, err := dcsapi.DecodeInstances(body); err != nil || len(list) != dcsapi.ListPageSize {
			b.Fatal(len(list), err)
		}
	}
}
