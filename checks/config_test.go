package checks

import (
	"bytes"
	"regexp"
	"strings"
	"testing"

	"github.com/dcs-exporter/dcs_exporter/config"
)

// TestConfigCheckSaysWhatSDLeavesOut checks that --config.check says, for
// each target, whether /sd offers its instances: a target whose listing is
// off is left out.
func TestConfigCheckSaysWhatSDLeavesOut(t *testing.T) {
	cfg, err := config.Parse([]byte(`defaults:
  credentials: {access_key: AKCONFIGCHECK, secret_key: not-shown}
targets:
  - name: listed
    region: cn-north-4
    instances: true
  - name: counts-only
    region: cn-north-4
`), "dcs_exporter.yml")
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := PrintConfig(&out, "dcs_exporter.yml", cfg); err != nil {
		t.Fatal(err)
	}
	sd := regexp.MustCompile(`(?m)^  /sd +(.*)$`)
	for name, want := range map[string]string{
		"listed":      "offers its instances once listed",
		"counts-only": "left out: instances is off, so its instances are not listed",
	} {
		_, block, ok := strings.Cut(out.String(), "\n"+name+"\n")
		if !ok {
			t.Fatalf("no block for %s:\n%s", name, out.String())
		}
		block, _, _ = strings.Cut(block, "\n\n")
		m := sd.FindStringSubmatch(block)
		if m == nil || m[1] != want {
			t.Errorf("%s: /sd line %q, want %q:\n%s", name, m, want, block)
		}
	}
}
