package statuspage_test

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"

	"go.uber.org/goleak"
)

// skipped collects why tests could not run, for the summary TestMain prints:
// go test prints no SKIP line without -v, and a skip nobody sees is a test
// that silently never runs.
var skipped struct {
	mu      sync.Mutex
	reasons []string
}

// skipLoudly skips t outside CI and records why; in CI (CI=true) the test
// fails instead, since CI is where the test must run.
func skipLoudly(t *testing.T, reason string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s; CI=true, so this test must run", reason)
	}
	skipped.mu.Lock()
	skipped.reasons = append(skipped.reasons, t.Name()+": "+reason)
	skipped.mu.Unlock()
	t.Skip(reason)
}

func TestMain(m *testing.M) {
	code := m.Run()
	skipped.mu.Lock()
	if len(skipped.reasons) > 0 {
		fmt.Fprintf(os.Stderr, "\n*** statuspage: %d test(s) SKIPPED ***\n  %s\n\n", len(skipped.reasons), strings.Join(skipped.reasons, "\n  "))
	}
	skipped.mu.Unlock()
	if code == 0 {
		// The browser's helpers stop with their context; anything left
		// running is a leak.
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goroutines left running:", err)
			code = 1
		}
	}
	os.Exit(code)
}
