package dcsapi

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestErrorBodies reads error bodies the way the SDK does, and more.
func TestErrorBodies(t *testing.T) {
	for _, tc := range []struct {
		body, code, message, requestID string
		header                         http.Header
	}{
		{body: `{"error_code":"DCS.4800","error_msg":"Invalid offset in the request.","error_ext_msg":null}`, code: "DCS.4800", message: "Invalid offset in the request."},
		{body: `{"error_code":111400002,"error_msg":"Invalid project ID format."}`, code: "111400002", message: "Invalid project ID format."},
		{body: `{"code":"APIGW.0308","message":"throttled","request_id":"r1"}`, code: "APIGW.0308", message: "throttled", requestID: "r1"},
		{body: `{"error":{"code":403,"message":"Forbidden here","title":"Forbidden"}}`, code: "403", message: "Forbidden here",
			header: http.Header{"X-Iam-Trace-Id": {"trace-1"}}, requestID: "trace-1"},
		{body: `{"error":{"error_code":"IAM.0001","error_msg":"nested pair"}}`, code: "IAM.0001", message: "nested pair"},
		{body: `{"b":{"x":1},"a":{"deeper":{"code":"X.1","message":"found in name order"}},"c":{"code":"X.2","message":"later"}}`, code: "X.1", message: "found in name order"},
		{body: `{"error_code":"","error_msg":"","code":"C.1","message":"second pair"}`, code: "C.1", message: "second pair"},
		{body: `{"error_code":"ONLY.CODE"}`, code: "ONLY.CODE"},
		{body: `{"message":"Unauthorized"}`, message: "Unauthorized"},
		{body: `{"error_code":12.5e1,"error_msg":["not","text"]}`, code: "12.5e1"},
		{body: `{"unrelated":true}`, message: `{"unrelated":true}`},
		{body: `["an","array"]`, message: `["an","array"]`},
		{body: "plain\ntext\x1b[31m", message: "plain text"},
		{body: `{"request_id":"body-id","error_code":"A.1","error_msg":"m"}`, code: "A.1", message: "m", requestID: "header-id",
			header: http.Header{"X-Request-Id": {"header-id"}, "X-Iam-Trace-Id": {"trace"}}},
		{body: `{"request_id":"body-id","error_code":"A.1","error_msg":"m"}`, code: "A.1", message: "m", requestID: "body-id",
			header: http.Header{"X-Iam-Trace-Id": {"trace"}}},
	} {
		resp := &http.Response{StatusCode: 400, Header: tc.header}
		if resp.Header == nil {
			resp.Header = http.Header{}
		}
		e := newAPIError(APIListInstances, resp, []byte(tc.body), time.Now())
		if e.Code != tc.code || e.Message != tc.message || e.RequestID != tc.requestID {
			t.Errorf("%s:\n got %q %q %q\nwant %q %q %q", tc.body, e.Code, e.Message, e.RequestID, tc.code, tc.message, tc.requestID)
		}
	}
}

func TestErrorBodyNestingIsBounded(t *testing.T) {
	body := strings.Repeat(`{"a":`, 100) + `{"code":"DEEP","message":"too deep"}` + strings.Repeat(`}`, 100)
	e := newAPIError(APIListInstances, &http.Response{StatusCode: 500, Header: http.Header{}}, []byte(body), time.Now())
	if e.Code != "" || len(e.Message) > 200 {
		t.Errorf("got %q %q", e.Code, e.Message)
	}
}

func TestClockSkewMeasuredOn401(t *testing.T) {
	now := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	var texts []string
	for _, off := range []time.Duration{20*time.Minute + 29*time.Second, -19*time.Minute - 31*time.Second} {
		resp := &http.Response{StatusCode: 401, Header: http.Header{"Date": {now.Add(off).Format(http.TimeFormat)}}}
		e := newAPIError(APIInstanceStatus, resp, nil, now)
		if e.ClockSkew != off {
			t.Errorf("skew %v, want %v", e.ClockSkew, off)
		}
		texts = append(texts, e.Error())
	}
	// The error text, which the log uses to say each failure once, does
	// not change with the skew.
	if texts[0] != texts[1] {
		t.Errorf("the same failure reads differently:\n%s\n%s", texts[0], texts[1])
	}
	// Only a 401 measures.
	resp := &http.Response{StatusCode: 403, Header: http.Header{"Date": {now.Add(time.Hour).Format(http.TimeFormat)}}}
	if e := newAPIError(APIInstanceStatus, resp, nil, now); e.ClockSkew != 0 {
		t.Errorf("a 403 measured %v", e.ClockSkew)
	}
}
