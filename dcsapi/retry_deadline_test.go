package dcsapi_test

import (
	"context"
	"errors"
	"net/http"
	"regexp"
	"testing"
	"time"

	"github.com/dcs-exporter/dcs_exporter/dcsapi"
	"github.com/dcs-exporter/dcs_exporter/dcsapi/dcsapitest"
)

// A retry that runs into the deadline must not replace the API's answer
// with "context deadline exceeded": the answer says what is wrong, and the
// exporter logs a failure again whenever its text changes.
func TestRetryCutShortKeepsTheAnswer(t *testing.T) {
	e := newEnv(t)
	e.srv.SetInstances(pid, mixedFleet)
	e.srv.InjectFault(pid, dcsapitest.APIInstanceStatus, dcsapitest.Fault{Kind: dcsapitest.FaultStatus, Status: http.StatusInternalServerError, Times: 1})
	// The retry finds a server that is slower than the deadline, which
	// leaves the first attempt and the short backoff 2 s on a busy machine.
	e.srv.InjectFault(pid, dcsapitest.APIInstanceStatus, dcsapitest.Fault{Kind: dcsapitest.FaultStatus, Status: http.StatusServiceUnavailable, Delay: time.Minute})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, err := e.client(nil).InstanceStatus(ctx, true)
	var apiErr *dcsapi.APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusInternalServerError {
		t.Fatalf("err = %v, want the HTTP 500 of the first attempt", err)
	}
	if n := e.srv.Requests(dcsapitest.APIInstanceStatus); n != 2 {
		t.Errorf("%d attempts, want 2", n)
	}
}

// A bad 200 answer is as much worth tracing as an error answer.
func TestDecodeErrorCarriesRequestID(t *testing.T) {
	e := newEnv(t)
	e.srv.SetInstances(pid, mixedFleet)
	e.srv.InjectFault(pid, dcsapitest.APIInstanceStatus, dcsapitest.Fault{Kind: dcsapitest.FaultNegativeCount})
	_, err := e.client(nil).InstanceStatus(ctxFor(t, 5*time.Second), true)
	var de *dcsapi.DecodeError
	if !errors.As(err, &de) {
		t.Fatalf("err = %v, want a DecodeError", err)
	}
	if !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(de.RequestID) {
		t.Errorf("RequestID = %q, want the answer's X-Request-Id", de.RequestID)
	}
	if regexp.MustCompile(`[0-9a-f]{32}`).MatchString(errText(t, err)) {
		t.Errorf("the error text carries the request id, so the same fault would read differently each time: %v", err)
	}
}
