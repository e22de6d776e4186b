package buildinfo

import (
	"runtime/debug"
	"testing"

	"github.com/prometheus/common/version"
)

func TestVersion(t *testing.T) {
	withVersion := func(v string) *debug.BuildInfo { return &debug.BuildInfo{Main: debug.Module{Version: v}} }
	for _, c := range []struct {
		name, stamped string
		info          *debug.BuildInfo
		ok            bool
		want          string
	}{
		{"ldflags win", "0.1.0", withVersion("v0.2.0"), true, "0.1.0"},
		{"go install @version", "", withVersion("v0.2.0"), true, "v0.2.0"},
		{"go build in a checkout", "", withVersion("v0.0.0-20260101120000-0123456789ab+dirty"), true, "v0.0.0-20260101120000-0123456789ab+dirty"},
		{"go run", "", withVersion("(devel)"), true, "(devel)"},
		{"no version recorded", "", withVersion(""), true, "(devel)"},
		{"no build info", "", nil, false, "(devel)"},
	} {
		if got := Version(c.stamped, c.info, c.ok); got != c.want {
			t.Errorf("%s: got %q, want %q", c.name, got, c.want)
		}
	}
}

// TestStampFillsAnEmptyVersion: this test binary is built without
// -ldflags, like a go run build.
func TestStampFillsAnEmptyVersion(t *testing.T) {
	defer func(v string) { version.Version = v }(version.Version)
	version.Version = ""
	Stamp()
	if version.Version == "" {
		t.Error("the version is still empty")
	}
	version.Version = "1.2.3"
	Stamp()
	if version.Version != "1.2.3" {
		t.Errorf("Stamp replaced the stamped version with %q", version.Version)
	}
}
