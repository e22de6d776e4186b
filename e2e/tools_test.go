//go:build e2e

package e2e

// The external tools of the end-to-end tests (promtool, prometheus,
// alertmanager, helm) are the pinned builds of scripts/pinned-tools.sh,
// never whatever is on PATH. `make e2e` builds them first, with its
// progress on the terminal; should a test find one missing all the same
// (go test -tags e2e run by hand), it builds that tool itself. A tool that cannot
// be had fails the test: the end-to-end tier never skips.

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// toolsBinEnv overrides where the pinned tools are built and looked for.
const toolsBinEnv = "DCS_TOOLS_BIN"

// toolsDir is the cache directory of the pinned tools (the tests run from
// the repository's root, see TestMain).
func toolsDir() (string, error) {
	if dir := os.Getenv(toolsBinEnv); dir != "" {
		return filepath.Abs(dir)
	}
	return filepath.Abs(filepath.Join(".tools", "bin"))
}

var (
	builtMu sync.Mutex
	built   = map[string]error{} // by tool: the outcome of its build
)

// buildTool runs scripts/pinned-tools.sh for one tool, once per test
// binary; the script returns at once when the tool is up to date, without
// waiting for another run that builds other tools into the same directory.
func buildTool(name string) (string, error) {
	dir, err := toolsDir()
	if err != nil {
		return "", err
	}
	builtMu.Lock()
	defer builtMu.Unlock()
	if err, done := built[name]; done {
		return dir, err
	}
	err = runPinnedTools(dir, name)
	built[name] = err
	return dir, err
}

func runPinnedTools(dir, name string) error {
	bash, err := exec.LookPath("bash")
	if err != nil {
		return fmt.Errorf("bash is needed to run scripts/pinned-tools.sh: %w", err)
	}
	var out bytes.Buffer
	cmd := exec.Command(bash, "scripts/pinned-tools.sh", dir, name)
	// The script says what it builds on stderr, and every 30 s that it
	// still is; shown as it happens, since a cold build takes minutes.
	progress, closeProgress := progressWriter()
	defer closeProgress()
	cmd.Stdout = &out
	cmd.Stderr = io.MultiWriter(&out, progress)
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("scripts/pinned-tools.sh %s %s failed after %v (%w); is the Go module proxy reachable? Its output ends:\n%s",
			dir, name, time.Since(start).Round(time.Second), err, lastLines(out.String(), 15))
	}
	return nil
}

// progressWriter is where a build's progress goes: the terminal when there
// is one, since go test holds back a passing package's output unless -v is
// given, and stderr otherwise.
func progressWriter() (io.Writer, func()) {
	if testing.Verbose() {
		return os.Stderr, func() {}
	}
	if tty, err := os.OpenFile("/dev/tty", os.O_WRONLY, 0); err == nil {
		return tty, func() { tty.Close() }
	}
	return os.Stderr, func() {}
}

// pinnedTool returns the path of a pinned tool, built on first use. A tool
// that cannot be had fails the test, in CI and everywhere else.
func pinnedTool(t *testing.T, name string) string {
	t.Helper()
	dir, err := buildTool(name)
	if err != nil {
		t.Fatalf("the pinned %s could not be built: %v", name, err)
	}
	path := filepath.Join(dir, name)
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("the pinned %s is missing after the build: %v", name, err)
	}
	return path
}
