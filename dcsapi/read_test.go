package dcsapi

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

// endless is a body that never ends, like a 256 MiB answer as far as a
// reader with an 8 MiB limit can tell.
type endless struct{}

func (endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'x'
	}
	return len(p), nil
}

// An answer past the limit is read only up to one byte past it, into a
// buffer no bigger than that: doubling all the way would end at twice the
// limit and pass through three times it.
func TestReadCappedStopsAtTheLimit(t *testing.T) {
	const limit = DefaultMaxBodyBytes
	var buf bytes.Buffer
	err := readCapped(&buf, endless{}, limit, -1)
	if !errors.Is(err, ErrResponseTooLarge) || buf.Len() != limit {
		t.Fatalf("kept %d bytes, err %v; want %d and ErrResponseTooLarge", buf.Len(), err, limit)
	}
	if c := buf.Cap(); c > limit+limit/64 {
		t.Errorf("the buffer grew to %d bytes for a limit of %d", c, limit)
	}
	// One byte too many is too many; exactly the limit is not.
	for _, size := range []int{limit - 1, limit, limit + 1} {
		buf.Reset()
		err := readCapped(&buf, strings.NewReader(strings.Repeat("y", size)), limit, -1)
		if tooLarge := errors.Is(err, ErrResponseTooLarge); tooLarge != (size > limit) || buf.Len() != min(size, limit) {
			t.Errorf("%d bytes: kept %d, err %v", size, buf.Len(), err)
		}
	}
}

func TestReadCappedReadsShortBodies(t *testing.T) {
	for _, c := range []struct {
		body      string
		announced int64
	}{
		{"", -1}, {"", 0}, {"{}", 2}, {strings.Repeat("a", 100_000), -1}, {strings.Repeat("b", 5000), 5000},
		{"announced wrongly", 3}, // the body decides, not the header
	} {
		var buf bytes.Buffer
		err := readCapped(&buf, strings.NewReader(c.body), 1<<20, c.announced)
		if err != nil || buf.String() != c.body {
			t.Errorf("%.20q announced as %d: read %d bytes, err %v", c.body, c.announced, buf.Len(), err)
		}
		if c.announced == int64(len(c.body)) && buf.Cap() > len(c.body)+bytes.MinRead {
			t.Errorf("%d bytes announced: the buffer grew to %d", c.announced, buf.Cap())
		}
	}
	var buf bytes.Buffer
	if err := readCapped(&buf, io.MultiReader(strings.NewReader("half"), errReader{}), 1<<20, -1); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("err = %v, want the reader's", err)
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, io.ErrUnexpectedEOF }
