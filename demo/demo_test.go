package demo_test

import (
	"bytes"
	"context"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"github.com/dcs-exporter/dcs_exporter/checks"
	"github.com/dcs-exporter/dcs_exporter/config"
	"github.com/dcs-exporter/dcs_exporter/demo"
	"github.com/dcs-exporter/dcs_exporter/endpoints"
)

// otcRegions are Open Telekom Cloud's region ids, whose DCS endpoints are
// dcs.<region>.otc.t-systems.com (OTC API reference, "Endpoints").
var otcRegions = map[string]bool{"eu-de": true, "eu-nl": true}

// cities are the region ids of the places the demo's target names mention,
// after Huawei Cloud's "Regions and Endpoints" table
// (developer.huaweicloud.com/intl/en-us/endpoint): ap-southeast-1 is
// CN-Hong Kong, ap-southeast-3 AP-Singapore, cn-north-1 and cn-north-4
// Beijing1 and Beijing4.
var cities = map[string][]string{
	"beijing":   {"cn-north-1", "cn-north-4"},
	"singapore": {"ap-southeast-3"},
	"hongkong":  {"ap-southeast-1"},
	"otc":       {"eu-de", "eu-nl"},
}

// TestRegionsAreReal: every demo target names a real region, and a target
// named after a place is in that place's region.
func TestRegionsAreReal(t *testing.T) {
	cfg, err := config.Parse([]byte(demo.Config("http://127.0.0.1:1")), "demo.yml")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range cfg.Targets {
		if _, _, known := endpoints.Default(tc.Region); !known && !otcRegions[tc.Region] {
			t.Errorf("target %s: region %q is neither in the SDK's region table nor an Open Telekom Cloud region", tc.Name, tc.Region)
		}
		for city, regions := range cities {
			if strings.Contains(tc.Name, city) && !slices.Contains(regions, tc.Region) {
				t.Errorf("target %s is in region %s, which is not %s (%v)", tc.Name, tc.Region, city, regions)
			}
		}
	}
}

// TestOneTargetFailsOnPurpose: `--dcs.check --demo` shows the demo's
// failing target with its hint, and every other target answers.
func TestOneTargetFailsOnPurpose(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	d, err := demo.Start(ctx, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	cfg, err := config.Load(d.ConfigFile)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	ok, err := checks.DCS(ctx, &out, cfg, checks.DCSOptions{MaxConcurrency: 4})
	if err != nil {
		t.Fatal(err)
	}
	if ok {
		t.Errorf("the check passed; the demo must show a failing target:\n%s", &out)
	}
	failed := 0
	for _, line := range strings.Split(out.String(), "\n") {
		fields := strings.Fields(line)
		if len(fields) < 2 || fields[1] != "FAILED" {
			continue
		}
		failed++
		if fields[0] != demo.FailingTarget {
			t.Errorf("target %s failed: %s", fields[0], line)
			continue
		}
		for _, w := range []string{"status call: HTTP 403 DCS.2007", "hint:", "DCS ReadOnlyAccess"} {
			if !strings.Contains(line, w) {
				t.Errorf("the failing target's line does not say %q: %s", w, line)
			}
		}
	}
	if failed != 1 || !strings.Contains(out.String(), "1 of 4 targets failed.") {
		t.Errorf("want exactly the one failing target of 4:\n%s", &out)
	}
	t.Logf("\n%s", &out)
}
