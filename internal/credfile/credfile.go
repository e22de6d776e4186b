// Package credfile knows what a credential file may be: a regular file,
// after following symlinks (Kubernetes mounts a Secret's keys as symlinks),
// of at most MaxBytes. Both config, which checks the paths when it loads,
// and dcsapi, which reads the files, use it, so that the rule is written
// once.
package credfile

import (
	"errors"
	"fmt"
	"os"
)

// MaxBytes bounds a credential file: a key or a security token is a few
// kilobytes at most, and a path that names /dev/zero or a log file by
// mistake must not be read into memory whole.
const MaxBytes = 64 << 10

// ErrBad is wrapped by the errors of a credential file that is not a
// regular file, or is larger than MaxBytes.
var ErrBad = errors.New("a credential file must be a regular file (or a symlink to one) of at most 64 KiB")

// Check checks what a credential file's path leads to (info from os.Stat,
// which follows symlinks).
func Check(info os.FileInfo) error {
	switch {
	case !info.Mode().IsRegular():
		return fmt.Errorf("%w: this is %s", ErrBad, kind(info))
	case info.Size() > MaxBytes:
		return fmt.Errorf("%w: this one has %d bytes", ErrBad, info.Size())
	}
	return nil
}

// kind names what a path leads to, for errors.
func kind(info os.FileInfo) string {
	switch t := info.Mode().Type(); {
	case info.IsDir():
		return "a directory"
	case t&os.ModeCharDevice != 0:
		return "a character device"
	case t&os.ModeDevice != 0:
		return "a block device"
	case t&os.ModeNamedPipe != 0:
		return "a named pipe"
	case t&os.ModeSocket != 0:
		return "a socket"
	}
	return "not a regular file"
}
