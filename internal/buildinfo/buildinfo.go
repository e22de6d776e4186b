// Package buildinfo gives a build that was not stamped with -ldflags (go run,
// go install, a plain go build) the version that Go recorded in it, so that
// --version, the startup log, dcs_exporter_build_info and the User-Agent
// never show an empty version.
package buildinfo

import (
	"runtime/debug"

	"github.com/prometheus/common/version"
)

// Stamp sets prometheus/common/version.Version from the Go build info when
// the linker flags set none. The revision needs no help: that package
// already reads it from the build info.
func Stamp() {
	info, ok := debug.ReadBuildInfo()
	version.Version = Version(version.Version, info, ok)
}

// Version is stamped when set. Otherwise it is the main module's version
// in the build info: v1.2.3 for `go install ...@v1.2.3`, a pseudo-version
// from the commit for `go build` in a checkout (Go 1.24 and later), and
// "(devel)" for `go run` and other builds that record no version control
// information.
func Version(stamped string, info *debug.BuildInfo, ok bool) string {
	switch {
	case stamped != "":
		return stamped
	case ok && info.Main.Version != "":
		return info.Main.Version
	}
	return "(devel)"
}
