// Package gzipjoin joins separately made pieces of deflate data into one
// gzip stream. A large text that changes rarely is compressed once, and
// then sent in many gzip answers, each time after a little data of its own,
// without compressing it again.
//
// A deflate stream may consist of any number of blocks. Stored blocks, and
// a compressed part that ends in a sync flush, each end on a byte boundary,
// so parts made separately and written one after the other form one valid
// stream. The gzip trailer's CRC-32 of the whole follows from the parts'
// CRCs (crc.go), so joining costs no pass over the compressed parts.
package gzipjoin

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"hash/crc32"
	"io"
)

// Part is data as deflate blocks that end on a byte boundary without ending
// the stream, with what the trailer needs: the data's CRC-32 and length.
// It never changes once made, so any number of streams may use it at once.
type Part struct {
	blocks []byte
	crc    uint32
	size   int
	zeros  *crcMatrix // feeds size zero bytes to a CRC; nil until needed
}

// Deflate compresses p once, for a part that many streams will carry. The
// level is one of compress/flate's.
func Deflate(p []byte, level int) (*Part, error) {
	var buf bytes.Buffer
	buf.Grow(len(p)/8 + 64)
	fw, err := flate.NewWriter(&buf, level)
	if err != nil {
		return nil, err
	}
	_, _ = fw.Write(p) // a bytes.Buffer does not fail
	// Flush, not Close: a sync flush ends on a byte boundary and leaves the
	// stream open for the parts after it.
	_ = fw.Flush()
	zeros := crcZeros(len(p))
	return &Part{blocks: buf.Bytes(), crc: crc32.ChecksumIEEE(p), size: len(p), zeros: &zeros}, nil
}

// Store makes a part of p as stored (uncompressed) blocks, appended to dst,
// which may be nil. It suits small data that changes with every stream:
// storing costs a copy and a CRC, where compressing would cost far more
// than it saves on a few kilobytes.
func Store(dst, p []byte) Part {
	part := Part{crc: crc32.ChecksumIEEE(p), size: len(p)}
	for len(p) > 0 {
		n := min(len(p), 0xffff)
		// BFINAL=0, BTYPE=00, padding to the byte, then LEN and its
		// complement, little-endian.
		dst = append(dst, 0x00, byte(n), byte(n>>8), ^byte(n), ^byte(n>>8))
		dst = append(dst, p[:n]...)
		p = p[n:]
	}
	part.blocks = dst
	return part
}

// Blocks returns the part's deflate blocks. A caller that made the part
// with Store may reuse them as dst once no stream needs the part any more.
func (p *Part) Blocks() []byte { return p.blocks }

// header is a gzip member header: deflate, no flags, no time, unknown
// operating system.
var header = [10]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255}

// trailerLen is the final empty block and the CRC-32 and length.
const trailerLen = 5 + 8

// Len returns the length of the stream that Write makes of parts.
func Len(parts ...*Part) int {
	n := len(header) + trailerLen
	for _, p := range parts {
		n += len(p.blocks)
	}
	return n
}

// Write writes one gzip member holding the data of parts, in order.
func Write(w io.Writer, parts ...*Part) error {
	if _, err := w.Write(header[:]); err != nil {
		return err
	}
	var crc uint32
	size := 0
	for _, p := range parts {
		if _, err := w.Write(p.blocks); err != nil {
			return err
		}
		crc = p.appendCRC(crc)
		size += p.size
	}
	var tail [trailerLen]byte
	// The last block: final, stored, empty (BFINAL=1, BTYPE=00, LEN=0,
	// NLEN=0xffff); every part ended on a byte boundary.
	tail[0], tail[1], tail[2], tail[3], tail[4] = 0x01, 0x00, 0x00, 0xff, 0xff
	binary.LittleEndian.PutUint32(tail[5:9], crc)
	binary.LittleEndian.PutUint32(tail[9:13], uint32(size)) // ISIZE is the length mod 2^32
	_, err := w.Write(tail[:])
	return err
}

// appendCRC returns the CRC of the data crc was taken of, followed by p's.
func (p *Part) appendCRC(crc uint32) uint32 {
	if crc == 0 || p.size == 0 {
		// Zero bytes fed to a zero register leave it zero, and an empty
		// part changes nothing.
		return crc ^ p.crc
	}
	zeros := p.zeros
	if zeros == nil {
		z := crcZeros(p.size)
		zeros = &z
	}
	return zeros.apply(crc) ^ p.crc
}
