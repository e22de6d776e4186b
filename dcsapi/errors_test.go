package dcsapi_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/dcs-exporter/dcs_exporter/dcsapi"
	"github.com/dcs-exporter/dcs_exporter/dcsapi/dcsapitest"
)

// TestErrorShapes: every shape in which the services spell an error gives
// the same code, message and request id.
func TestErrorShapes(t *testing.T) {
	for _, tc := range []struct {
		name  string
		shape dcsapitest.ErrorShape
		code  string
	}{
		{"gateway", dcsapitest.ShapeGateway, "APIGW.0201"},
		{"service", dcsapitest.ShapeService, "DCS.4002"},
		{"service, legacy numeric code", dcsapitest.ShapeService, "111400002"},
		{"code and message", dcsapitest.ShapeCodeMessage, "DCS.4002"},
		{"code and message, numeric", dcsapitest.ShapeCodeMessage, "400"},
		{"nested", dcsapitest.ShapeNested, "DCS.4002"},
		{"nested, numeric", dcsapitest.ShapeNested, "400"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.srv.SetInstances(pid, mixedFleet)
			e.srv.InjectFault(pid, "", dcsapitest.Fault{Status: 400, Code: tc.code, Message: "Invalid project ID format.", Shape: tc.shape})
			_, err := e.client(nil).InstanceStatus(ctxFor(t, 5*time.Second), true)
			text := errText(t, err)
			var apiErr *dcsapi.APIError
			if !errors.As(err, &apiErr) {
				t.Fatalf("got %T %v", err, err)
			}
			if apiErr.StatusCode != 400 || apiErr.Code != tc.code || apiErr.Message != "Invalid project ID format." {
				t.Errorf("got %d %q %q", apiErr.StatusCode, apiErr.Code, apiErr.Message)
			}
			if len(apiErr.RequestID) != 32 || !strings.Contains(text, apiErr.RequestID) {
				t.Errorf("request id %q (header, body or X-IAM-Trace-Id) in %q", apiErr.RequestID, text)
			}
		})
	}
}

// A 404 of the v2 status path is reported as such whatever the body, so
// that the diagnosis can suggest v1 (see package diagnosis).
func TestMissingV2WhateverTheBody(t *testing.T) {
	for _, f := range []dcsapitest.Fault{
		{Status: 404, Code: "DCS.4001", Message: "The requested URL does not exist.", Shape: dcsapitest.ShapeService},
		{Status: 404, Code: "111404001", Message: "The requested URL does not exist.", Shape: dcsapitest.ShapeNested},
		{Kind: dcsapitest.FaultHTML, Status: 404},
	} {
		e := newEnv(t)
		e.srv.SetInstances(pid, mixedFleet)
		e.srv.InjectFault(pid, dcsapitest.APIInstanceStatus, f)
		_, err := e.client(nil).InstanceStatus(ctxFor(t, 5*time.Second), true)
		errText(t, err)
		var apiErr *dcsapi.APIError
		if !errors.As(err, &apiErr) || apiErr.API != dcsapi.APIInstanceStatus || apiErr.StatusCode != 404 {
			t.Errorf("%s %s: got %v, want the status API's 404", f.Kind, f.Code, err)
		}
	}
}

// TestClockSkew: a gateway whose clock is far from ours refuses the
// signature, and the error measures by how much (the diagnosis then blames
// the local clock; see package diagnosis).
func TestClockSkew(t *testing.T) {
	for _, tc := range []struct {
		offset    time.Duration
		badSecret bool // a refusal for another reason, to see a small skew measured
	}{
		{offset: 20 * time.Minute},
		{offset: -3 * time.Hour},
		{offset: 3 * time.Minute, badSecret: true},
		{offset: 0, badSecret: true},
	} {
		t.Run(tc.offset.String(), func(t *testing.T) {
			e := newEnv(t)
			e.srv.SetInstances(pid, mixedFleet)
			e.srv.SetGatewayClockOffset(tc.offset)
			c := e.client(func(o *dcsapi.Options) {
				if tc.badSecret {
					o.Credentials = dcsapi.StaticCredentials{AccessKey: dcsapitest.TestAccessKey, SecretKey: "wrong" + dcsapitest.TestSecretKey}
				}
			})
			_, err := c.InstanceStatus(ctxFor(t, 5*time.Second), true)
			errText(t, err)
			var apiErr *dcsapi.APIError
			if !errors.As(err, &apiErr) || apiErr.StatusCode != 401 {
				t.Fatalf("got %v, want a 401", err)
			}
			if d := apiErr.ClockSkew - tc.offset; d < -2*time.Second || d > 2*time.Second {
				t.Errorf("measured skew %v, want about %v", apiErr.ClockSkew, tc.offset)
			}
		})
	}
}

// TestSecretsEchoedByTheServerAreCut: a gateway that quotes the token or
// the secret key back does not get them into the error.
func TestSecretsEchoedByTheServerAreCut(t *testing.T) {
	e := newEnv(t)
	e.srv.SetInstances(pid, mixedFleet)
	e.srv.AddTemporaryKey(tempAK, tempSecret, tempToken)
	for _, shape := range []dcsapitest.ErrorShape{dcsapitest.ShapeGateway, dcsapitest.ShapeNested, dcsapitest.ShapeCodeMessage} {
		e.srv.ClearFaults()
		e.srv.InjectFault(pid, "", dcsapitest.Fault{Status: 401, Shape: shape, Code: "APIGW.0301",
			Message: "token " + tempToken + " or key " + tempSecret + " refused"})
		c := e.client(func(o *dcsapi.Options) {
			o.Credentials = dcsapi.StaticCredentials{AccessKey: tempAK, SecretKey: tempSecret, SecurityToken: tempToken}
		})
		_, err := c.InstanceStatus(ctxFor(t, 5*time.Second), true)
		if text := errText(t, err); !strings.Contains(text, "token [redacted] or key [redacted] refused") {
			t.Errorf("got %q", text)
		}
	}
}
