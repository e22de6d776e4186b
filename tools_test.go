package main

// The external tools of the tests (promtool, prometheus, alertmanager, helm)
// are the pinned builds of scripts/pinned-tools.sh, never whatever is on
// PATH: the first test that needs one builds them all into a cache
// directory, and every later run finds them there. A test that cannot run
// fails in CI and is skipped elsewhere, and TestMain lists what was skipped
// and why, because a plain `go test ./...` shows no SKIP lines.

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// testTools are the pinned tools the tests run; scripts/pinned-tools.sh
// knows how to build each.
var testTools = []string{"prometheus", "promtool", "alertmanager", "helm"}

// toolsBinEnv overrides where the pinned tools are built and looked for.
const toolsBinEnv = "DCS_TOOLS_BIN"

func TestMain(m *testing.M) {
	code := m.Run()
	reportSkips(os.Stderr)
	os.Exit(code)
}

// toolsDir is the cache directory of the pinned tools.
func toolsDir() (string, error) {
	if dir := os.Getenv(toolsBinEnv); dir != "" {
		return filepath.Abs(dir)
	}
	return filepath.Abs(filepath.Join(".tools", "bin"))
}

// buildTools runs scripts/pinned-tools.sh once per test binary; it returns
// at once when the tools are up to date.
var buildTools = sync.OnceValues(func() (string, error) {
	dir, err := toolsDir()
	if err != nil {
		return "", err
	}
	bash, err := exec.LookPath("bash")
	if err != nil {
		return "", fmt.Errorf("bash is needed to run scripts/pinned-tools.sh: %w", err)
	}
	var out bytes.Buffer
	cmd := exec.Command(bash, append([]string{"scripts/pinned-tools.sh", dir}, testTools...)...)
	// The script says which tool it builds on stderr; shown as it happens,
	// since a cold build takes many minutes.
	progress, closeProgress := progressWriter()
	defer closeProgress()
	cmd.Stdout = &out
	cmd.Stderr = io.MultiWriter(&out, progress)
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("scripts/pinned-tools.sh %s failed after %v (%w); is the Go module proxy reachable? Its output ends:\n%s",
			dir, time.Since(start).Round(time.Second), err, lastLines(out.String(), 15))
	}
	return dir, nil
})

// progressWriter is where the cold build's progress goes: the terminal when
// there is one, since go test holds back a passing package's output unless
// -v is given, and nowhere otherwise.
func progressWriter() (io.Writer, func()) {
	if testing.Verbose() {
		return os.Stderr, func() {}
	}
	if tty, err := os.OpenFile("/dev/tty", os.O_WRONLY, 0); err == nil {
		return tty, func() { tty.Close() }
	}
	return io.Discard, func() {}
}

// pinnedTool returns the path of a pinned tool, built on first use. When it
// cannot be had the test fails in CI and is skipped with the reason
// elsewhere.
func pinnedTool(t *testing.T, name string) string {
	t.Helper()
	dir, err := buildTools()
	if err != nil {
		cannotRun(t, "the pinned %s could not be built: %v", name, err)
	}
	path := filepath.Join(dir, name)
	if _, err := os.Stat(path); err != nil {
		cannotRun(t, "the pinned %s is missing after the build: %v", name, err)
	}
	return path
}

// inCI says whether every check must run (CI=true, as .ci/run sets).
func inCI() bool { return os.Getenv("CI") == "true" }

var (
	skipsMu sync.Mutex
	skips   []string // "TestName: reason"
)

// cannotRun ends a test that cannot run here: a failure in CI, else a skip
// whose reason TestMain repeats at the end.
func cannotRun(t *testing.T, format string, args ...any) {
	t.Helper()
	reason := fmt.Sprintf(format, args...)
	if inCI() {
		t.Fatalf("%s; CI must run this check", reason)
	}
	skipsMu.Lock()
	skips = append(skips, t.Name()+": "+reason)
	skipsMu.Unlock()
	t.Skipf("SKIPPED: %s", reason)
}

// reportSkips prints what did not run to w and, without -v, also to the
// terminal: go test discards a passing package's output in that case.
func reportSkips(w io.Writer) {
	skipsMu.Lock()
	defer skipsMu.Unlock()
	if len(skips) == 0 {
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "dcs_exporter: %d test(s) did NOT run (they fail in CI):\n", len(skips))
	for _, s := range skips {
		fmt.Fprintf(&b, "  SKIPPED %s\n", strings.ReplaceAll(s, "\n", "\n    "))
	}
	_, _ = io.WriteString(w, b.String())
	if !testing.Verbose() {
		if tty, err := os.OpenFile("/dev/tty", os.O_WRONLY, 0); err == nil {
			_, _ = io.WriteString(tty, b.String())
			tty.Close()
		}
	}
}
