// Package e2e holds the tests of the whole repository from outside: the
// built program run as a process, and the shipped deployment files.
//
// Plain `go test ./...` runs the files without a build tag, which need only
// Go. The files tagged e2e need the pinned Prometheus, promtool,
// Alertmanager, Helm and redis_exporter, and Debian's redis-server: `make
// e2e` builds those tools and runs them with `go test -tags e2e`.
package e2e

import (
	"fmt"
	"os"
	"testing"
)

// TestMain runs the tests from the repository's root, where the paths they
// name (deploy/, dashboards/, scripts/, the main package) are, and then
// removes what they built for the whole run.
func TestMain(m *testing.M) {
	if err := os.Chdir(".."); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
	code := m.Run()
	runCleanups()
	os.Exit(code)
}

// cleanups are what runCleanups undoes after the last test, in reverse.
var cleanups []func()

func runCleanups() {
	for i := len(cleanups) - 1; i >= 0; i-- {
		cleanups[i]()
	}
}
