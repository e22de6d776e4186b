package dcsapi_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/dcs-exporter/dcs_exporter/dcsapi"
	"github.com/dcs-exporter/dcs_exporter/dcsapi/dcsapitest"
	"github.com/dcs-exporter/dcs_exporter/internal/redact"
)

// TestRedactionCannotBeDodged is the attack of issue 19 on redaction: a
// gateway that echoes the security token (or the secret key) with a control
// character, an escape or a zero-width space inside it, or only a part of
// it, in its message, its X-Request-Id or the body's request_id. Nothing of
// twelve characters or more of either secret may come through.
func TestRedactionCannotBeDodged(t *testing.T) {
	e := newEnv(t)
	e.srv.SetInstances(pid, mixedFleet)
	e.srv.AddTemporaryKey(tempAK, tempSecret, tempToken)
	spoiled := map[string]string{
		"NUL inside":          tempToken[:18] + "\x00" + tempToken[18:],
		"ANSI reset inside":   tempToken[:10] + "\x1b[0m" + tempToken[10:],
		"zero-width inside":   tempToken[:25] + "\u200b" + tempToken[25:],
		"line break inside":   tempSecret[:12] + "\r\n" + tempSecret[12:],
		"first 30 characters": tempToken[:30],
		"last 12 characters":  tempSecret[len(tempSecret)-12:],
	}
	for name, echo := range spoiled {
		for _, shape := range []dcsapitest.ErrorShape{dcsapitest.ShapeGateway, dcsapitest.ShapeCodeMessage, dcsapitest.ShapeNested} {
			e.srv.ClearFaults()
			// A header value may hold a tab but no other control character.
			headerEcho := strings.NewReplacer("\x00", "\t", "\x1b", "\t", "\r\n", "\t").Replace(echo)
			e.srv.InjectFault(pid, "", dcsapitest.Fault{Status: 400, Shape: shape, Code: "DCS.4000",
				Message: "bad token " + echo + " in request", RequestID: headerEcho})
			c := e.client(func(o *dcsapi.Options) {
				o.Retry = noRetry()
				o.Credentials = dcsapi.StaticCredentials{AccessKey: tempAK, SecretKey: tempSecret, SecurityToken: tempToken}
			})
			_, err := c.InstanceStatus(ctxFor(t, 5*time.Second), true)
			text := errText(t, err)
			var apiErr *dcsapi.APIError
			if !errors.As(err, &apiErr) {
				t.Fatalf("%s, shape %d: got %v, want an APIError", name, shape, err)
			}
			for _, shown := range []string{text, apiErr.Message, apiErr.RequestID, apiErr.Code} {
				for _, secret := range []string{tempToken, tempSecret} {
					for i := 0; i+redact.MinRun <= len(secret); i++ {
						if strings.Contains(shown, secret[i:i+redact.MinRun]) {
							t.Errorf("%s, shape %d: %q shows %q of a secret", name, shape, shown, secret[i:i+redact.MinRun])
						}
					}
				}
				if strings.ContainsAny(shown, "\x00\x1b\r\n\t\u200b") {
					t.Errorf("%s, shape %d: %q holds a control or format character", name, shape, shown)
				}
			}
			if !strings.Contains(apiErr.Message, "bad token "+redact.Mask) || !strings.Contains(apiErr.RequestID, redact.Mask) {
				t.Errorf("%s, shape %d: message %q, request id %q: want the echo masked, the rest kept", name, shape, apiErr.Message, apiErr.RequestID)
			}
		}
	}
}

// An error page of any length is shown cut to a stated length.
func TestServerTextsAreCut(t *testing.T) {
	e := newEnv(t)
	e.srv.SetInstances(pid, mixedFleet)
	e.srv.InjectFault(pid, "", dcsapitest.Fault{Status: 500, Message: strings.Repeat("long ", 10000),
		RequestID: strings.Repeat("r", 5000), Code: strings.Repeat("C", 500)})
	_, err := e.client(func(o *dcsapi.Options) { o.Retry = noRetry() }).InstanceStatus(ctxFor(t, 5*time.Second), true)
	var apiErr *dcsapi.APIError
	if !errors.As(err, &apiErr) {
		t.Fatalf("got %v", err)
	}
	if len(apiErr.Message) > redact.MaxText || len(apiErr.RequestID) > redact.MaxID || len(apiErr.Code) > 32 {
		t.Errorf("message %d bytes, request id %d, code %d: want at most %d, %d and 32",
			len(apiErr.Message), len(apiErr.RequestID), len(apiErr.Code), redact.MaxText, redact.MaxID)
	}
}

// An endpoint that does not parse is not quoted, nor is the parser's
// complaint, which would show the password up to a "#".
func TestBadEndpointNotQuoted(t *testing.T) {
	for _, endpoint := range []string{"http://user:pa#ss@dcs.example.com", "ftp://user:passw0rdInUrl@dcs.example.com"} {
		_, err := dcsapi.New(dcsapi.Options{Endpoint: endpoint, ProjectID: pid,
			Credentials: dcsapi.StaticCredentials{AccessKey: "ak", SecretKey: "sk"}})
		if err == nil {
			t.Fatalf("%s: no error", endpoint)
		}
		if text := err.Error(); strings.Contains(text, "pa") && strings.Contains(text, "user") || strings.Contains(text, "passw0rd") {
			t.Errorf("%s: error %q quotes the URL's user or password", endpoint, text)
		}
	}
}
