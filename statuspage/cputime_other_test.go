//go:build !linux

package statuspage_test

import "time"

// threadCPU has no portable form outside Linux: the render test falls back
// to the wall clock there.
func threadCPU() (time.Duration, bool) { return 0, false }
