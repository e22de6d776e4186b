package gzipjoin

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
)

func randomBytes(rng *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

func TestCRCCombine(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, lens := range [][2]int{{0, 0}, {0, 5}, {5, 0}, {1, 1}, {3, 7}, {100, 1}, {1, 1000}, {4096, 65537}, {10, 5 << 20}} {
		a, b := randomBytes(rng, lens[0]), randomBytes(rng, lens[1])
		want := crc32.ChecksumIEEE(append(append([]byte(nil), a...), b...))
		z := crcZeros(len(b))
		if got := z.apply(crc32.ChecksumIEEE(a)) ^ crc32.ChecksumIEEE(b); got != want {
			t.Errorf("lengths %v: combined %08x, want %08x", lens, got, want)
		}
	}
}

// unzip reads exactly one gzip member, which checks its CRC and length, and
// fails if anything follows it.
func unzip(t *testing.T, stream []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(stream))
	if err != nil {
		t.Fatal(err)
	}
	zr.Multistream(false)
	plain, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("gunzip: %v", err)
	}
	if rest, _ := io.ReadAll(zr); len(rest) != 0 {
		t.Fatal("data after the gzip member")
	}
	return plain
}

// TestJoinedStreamIsOneMember joins stored and compressed parts of many
// sizes, in every order, and reads the stream back with compress/gzip.
func TestJoinedStreamIsOneMember(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	text := func(n int) []byte {
		// Compressible, like an exposition, with some noise.
		b := []byte(strings.Repeat(`dcs_up{target="t",region="r"} 1`+"\n", n/32+1))[:n]
		for range n / 50 {
			b[rng.IntN(n)] = byte(rng.Uint32())
		}
		return b
	}
	sizes := []int{0, 1, 100, 0xffff, 0x10000, 3*0x10000 + 7}
	for _, storedSize := range sizes {
		for _, deflatedSize := range sizes {
			stored, deflated := text(storedSize), randomBytes(rng, deflatedSize)
			if deflatedSize%2 == 0 {
				deflated = text(deflatedSize)
			}
			d, err := Deflate(deflated, flate.DefaultCompression)
			if err != nil {
				t.Fatal(err)
			}
			s := Store(nil, stored)
			for _, order := range [][]*Part{{&s, d}, {d, &s}, {d, d}, {&s}, {d}, {}} {
				var want []byte
				for _, p := range order {
					if p == d {
						want = append(want, deflated...)
					} else {
						want = append(want, stored...)
					}
				}
				var buf bytes.Buffer
				if err := Write(&buf, order...); err != nil {
					t.Fatal(err)
				}
				name := fmt.Sprintf("stored %d, deflated %d, %d parts", storedSize, deflatedSize, len(order))
				if buf.Len() != Len(order...) {
					t.Errorf("%s: Len %d, wrote %d", name, Len(order...), buf.Len())
				}
				if got := unzip(t, buf.Bytes()); !bytes.Equal(got, want) {
					t.Errorf("%s: the stream holds %d bytes that differ from the %d joined", name, len(got), len(want))
				}
			}
		}
	}
}

// TestStoreAppends checks that Store keeps what dst held and that a reused
// buffer makes the same part.
func TestStoreAppends(t *testing.T) {
	p := Store([]byte("keep"), []byte("data"))
	if !bytes.HasPrefix(p.blocks, []byte("keep")) {
		t.Fatalf("Store dropped what dst held: %q", p.blocks)
	}
	buf := make([]byte, 0, 64)
	first := Store(buf, []byte("abc"))
	second := Store(first.blocks[:0], []byte("abc"))
	var a, b bytes.Buffer
	_ = Write(&a, &first)
	_ = Write(&b, &second)
	if !bytes.Equal(a.Bytes(), b.Bytes()) || string(unzip(t, a.Bytes())) != "abc" {
		t.Error("a reused buffer made a different part")
	}
}

func TestDeflateRefusesBadLevel(t *testing.T) {
	if _, err := Deflate([]byte("x"), 42); err == nil {
		t.Error("level 42 accepted")
	}
}

// failingWriter fails after n writes.
type failingWriter struct{ n int }

func (f *failingWriter) Write(p []byte) (int, error) {
	if f.n == 0 {
		return 0, io.ErrClosedPipe
	}
	f.n--
	return len(p), nil
}

func TestWriteReportsErrors(t *testing.T) {
	d, _ := Deflate([]byte("data"), flate.BestSpeed)
	for n := range 3 {
		if err := Write(&failingWriter{n: n}, d); err == nil {
			t.Errorf("a writer failing after %d writes: no error", n)
		}
	}
}
