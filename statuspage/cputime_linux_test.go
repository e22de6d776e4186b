//go:build linux

package statuspage_test

import (
	"syscall"
	"time"
)

// rusageThread is RUSAGE_THREAD of getrusage(2), which package syscall does
// not name.
const rusageThread = 1

// threadCPU returns the CPU time the calling OS thread has used so far. A
// goroutine locked to its thread (runtime.LockOSThread) has the thread to
// itself, so the difference of two readings is what it spent in between,
// however busy the machine: unlike the wall clock, it does not grow while
// other processes have the cores.
func threadCPU() (time.Duration, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(rusageThread, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
