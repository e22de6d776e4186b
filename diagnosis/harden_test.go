package diagnosis_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/dcs-exporter/dcs_exporter/config"
	"github.com/dcs-exporter/dcs_exporter/dcsapi"
	"github.com/dcs-exporter/dcs_exporter/diagnosis"
	"github.com/dcs-exporter/dcs_exporter/internal/redact"
)

// A finding is the last stop before the status page, --dcs.check and the
// log: whatever error reaches it, its texts come out printable, cut, and
// without the configured secrets, however split.
func TestFindingIsRedacted(t *testing.T) {
	const secret = "InlineSecretKeyDoNotUse0123456789ABCDEF"
	tc := target()
	tc.Credentials.SecretKey = config.Secret(secret)
	err := &dcsapi.APIError{API: dcsapi.APIInstanceStatus, StatusCode: 400,
		Message:   "key " + secret[:20] + "\x1b[0m" + secret[20:] + strings.Repeat(" pad", 1000),
		RequestID: "\u200b" + secret[3:39], Code: "DCS.4000"}
	for _, f := range []diagnosis.Finding{
		diagnosis.Diagnose(diagnosis.StepStatus, err, tc),
		diagnosis.Diagnose(diagnosis.StepStatus, errors.New("transport said "+secret[:7]+"\t"+secret[7:]), tc),
	} {
		text := f.Summary() + " " + f.Hint
		for i := 0; i+redact.MinRun <= len(secret); i++ {
			if strings.Contains(text, secret[i:i+redact.MinRun]) {
				t.Fatalf("%q of the secret is shown: %s", secret[i:i+redact.MinRun], text)
			}
		}
		if len(f.Problem) > redact.MaxText || len(f.RequestID) > redact.MaxID || strings.ContainsAny(text, "\x1b\t\u200b") {
			t.Errorf("finding not cut or not printable: %q", text)
		}
	}
}

// A redirect is explained as one wherever it comes from, the metadata
// service included, with the Location's host and the endpoint it came from.
func TestRedirectHint(t *testing.T) {
	tc := target()
	tc.Credentials.Metadata, tc.Credentials.MetadataEndpoint = true, "http://169.254.169.254"
	for step, err := range map[diagnosis.Step]error{
		diagnosis.StepStatus:      &dcsapi.RedirectError{API: dcsapi.APIInstanceStatus, StatusCode: 302, Location: "evil.example.com"},
		diagnosis.StepCredentials: &dcsapi.CredentialsError{Source: "metadata", Err: &dcsapi.RedirectError{API: dcsapi.APIMetadata, StatusCode: 307, Location: "evil.example.com"}},
	} {
		f := diagnosis.Diagnose(diagnosis.StepStatus, err, tc)
		if f.Step != step || f.StatusCode == 0 || !strings.Contains(f.Hint, "redirect to evil.example.com") || !strings.Contains(f.Hint, "probably wrong") {
			t.Errorf("%v: got step %q, status %d, hint %q", err, f.Step, f.StatusCode, f.Hint)
		}
	}
}
