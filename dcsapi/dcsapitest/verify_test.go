package dcsapitest_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dcs-exporter/dcs_exporter/dcsapi"
	"github.com/dcs-exporter/dcs_exporter/dcsapi/dcsapitest"
)

// TestVerifySignature checks the gateway's refusals one by one on a request
// signed by the client, as a server receives it.
func TestVerifySignature(t *testing.T) {
	now := time.Date(2026, 11, 27, 10, 15, 0, 0, time.UTC)
	cred := dcsapi.Credentials{AccessKey: "AK1", SecretKey: "SK1-secret", SecurityToken: "tok"}
	secretOf := func(ak string) (string, bool) { return cred.SecretKey, ak == "AK1" }
	newReq := func() *http.Request {
		req, err := http.NewRequest(http.MethodGet, "https://dcs.example.test/v2/p1/instances/status?include_failure=true", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header["Host"] = []string{"dcs.example.test"}
		req.Header.Set("X-Project-Id", "p1")
		if err := dcsapi.Sign(req, nil, cred, now); err != nil {
			t.Fatal(err)
		}
		// As a server sees it: the host apart, unsigned headers added.
		req.Host = req.Header.Get("Host")
		req.Header.Del("Host")
		req.Header.Set("User-Agent", "added after signing")
		return req
	}
	if err := dcsapitest.VerifySignature(newReq(), nil, secretOf, now.Add(14*time.Minute)); err != nil {
		t.Fatalf("valid request refused: %v", err)
	}
	setAuth := func(r *http.Request, from, to string) {
		r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), from, to, 1))
	}
	cases := map[string]struct {
		change func(*http.Request) time.Time
		reason string
	}{
		"changed query":   {func(r *http.Request) time.Time { r.URL.RawQuery = "include_failure=false"; return now }, "verify aksk"},
		"added query":     {func(r *http.Request) time.Time { r.URL.RawQuery += "&limit=1"; return now }, "verify aksk"},
		"changed path":    {func(r *http.Request) time.Time { r.URL.Path = "/v2/p2/instances/status"; return now }, "verify aksk"},
		"changed method":  {func(r *http.Request) time.Time { r.Method = http.MethodDelete; return now }, "verify aksk"},
		"changed header":  {func(r *http.Request) time.Time { r.Header.Set("X-Project-Id", "p2"); return now }, "verify aksk"},
		"changed host":    {func(r *http.Request) time.Time { r.Host = "dcs.other.test"; return now }, "verify aksk"},
		"changed token":   {func(r *http.Request) time.Time { r.Header.Set("X-Security-Token", "tok2"); return now }, "verify aksk"},
		"dropped token":   {func(r *http.Request) time.Time { r.Header.Del("X-Security-Token"); return now }, "x-security-token is missing"},
		"changed body":    {func(*http.Request) time.Time { return time.Time{} }, "verify aksk"},
		"too late":        {func(*http.Request) time.Time { return now.Add(16 * time.Minute) }, "expired"},
		"too early":       {func(*http.Request) time.Time { return now.Add(-16 * time.Minute) }, "expired"},
		"bad date":        {func(r *http.Request) time.Time { r.Header.Set("X-Sdk-Date", "yesterday"); return now }, "X-Sdk-Date"},
		"unknown key":     {func(r *http.Request) time.Time { setAuth(r, "Access=AK1", "Access=AK2"); return now }, "unknown access key"},
		"no date signed":  {func(r *http.Request) time.Time { setAuth(r, ";x-sdk-date", ""); return now }, "lacks x-sdk-date"},
		"unsorted list":   {func(r *http.Request) time.Time { setAuth(r, "host;x-project-id", "x-project-id;host"); return now }, "not sorted"},
		"upper case list": {func(r *http.Request) time.Time { setAuth(r, "host;", "Host;"); return now }, "lists"},
		"other scheme":    {func(r *http.Request) time.Time { setAuth(r, "SDK-HMAC-SHA256", "SDK-HMAC-SM3"); return now }, "malformed"},
		"no signature":    {func(r *http.Request) time.Time { r.Header.Del("Authorization"); return now }, "malformed"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			req := newReq()
			at := c.change(req)
			var body []byte
			if at.IsZero() {
				at, body = now, []byte("a body the signature does not cover")
			}
			err := dcsapitest.VerifySignature(req, body, secretOf, at)
			var se *dcsapitest.SignatureError
			if !errors.As(err, &se) || !strings.Contains(se.Reason, c.reason) {
				t.Fatalf("got %v, want a refusal saying %q", err, c.reason)
			}
			if strings.Contains(err.Error(), cred.SecretKey) {
				t.Fatalf("the error shows the secret: %v", err)
			}
		})
	}
}
