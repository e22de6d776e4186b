package statuspage_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/dcs-exporter/dcs_exporter/collector"
	"github.com/dcs-exporter/dcs_exporter/config"
	"github.com/dcs-exporter/dcs_exporter/dcsapi"
	"github.com/dcs-exporter/dcs_exporter/statuspage"
)

// The page shows a failing target's error printable, cut, without the
// configured secret however split, and its endpoint without a password.
func TestPageShowsOutsideTextSafely(t *testing.T) {
	const secret = "PageSecretKeyDoNotShow0123456789ABCDEFGH"
	const password = "PagePassw0rdDoNotShow"
	tc := config.Target{Name: "t", Region: "cn-north-4", ProjectID: "p", APIVersion: "v2", Timeout: time.Second,
		Endpoint: "https://admin:" + password + "@dcs.example.com"}
	tc.Credentials.SecretKey = config.Secret(secret)
	failures := []error{
		&dcsapi.APIError{API: dcsapi.APIInstanceStatus, StatusCode: 404, Code: "APIGW.0101",
			Message: "no " + secret[:15] + "\x1b[0m" + secret[15:] + strings.Repeat(" x", 1<<19), RequestID: secret[2:30]},
		&dcsapi.DecodeError{API: dcsapi.APIInstanceStatus, Field: "\x1b]0;title\x07" + strings.Repeat("k", 1<<20), Err: dcsapi.ErrResponseTooLarge},
	}
	for _, failure := range failures {
		h := statuspage.New(statuspage.Options{Targets: func() []collector.TargetStatus {
			return []collector.TargetStatus{{Config: tc, Attempted: true, LastError: failure, FailedStep: "status call"}}
		}})
		var page bytes.Buffer
		if err := h.Render(&page); err != nil {
			t.Fatal(err)
		}
		text := page.String()
		for i := 0; i+12 <= len(secret); i++ {
			if strings.Contains(text, secret[i:i+12]) {
				t.Fatalf("the page shows %q of the secret", secret[i:i+12])
			}
		}
		if strings.Contains(text, password) || strings.ContainsAny(text, "\x1b\x07") || len(text) > 64<<10 {
			t.Errorf("the page (%d bytes) shows a password, an escape, or all of a huge text", len(text))
		}
	}
}
