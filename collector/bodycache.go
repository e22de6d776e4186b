package collector

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"hash/crc32"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// In cached mode the targets' series change only when a refresh or a
// listing ends, yet Prometheus (often two of them) asks for them far more
// often, and at 1,000 targets they are over 5 MB of text. So /metrics keeps
// them assembled, in one piece, and also compressed, and a scrape renders
// only the exporter's own metrics before copying the rest:
//
//	plain:  own text | cached text
//	gzip:   gzip header | own text in stored blocks | cached deflate, ending
//	        in a sync flush | final empty block | CRC-32 and length of the
//	        whole text
//
// A deflate stream may consist of any number of blocks; stored blocks and a
// sync flush each end on a byte boundary, so parts made separately and
// joined this way are one valid stream. The CRC of the whole follows from the two
// parts' CRCs (bodycache_crc.go).

// outputChanged marks the target's series for rendering again, and tells
// the assembled answer that it is out of date. t.mu must be held. Every
// change to what renderLocked writes must go through here.
func (t *Target) outputChanged() {
	t.outValid = false
	t.ex.outGen.Add(1)
}

// bodyCache holds the current assembled answer.
type bodyCache struct {
	mu  sync.Mutex // held while rebuilding, so that only one scrape rebuilds
	cur atomic.Pointer[cachedBody]
}

// cachedBody is the series of all targets as of one output generation. It
// never changes once built: scrapes still writing it out keep using it
// after a newer one has replaced it.
type cachedBody struct {
	gen        uint64    // the output generation it was built from, or later
	validUntil time.Time // stale counts expire then; zero: no expiry
	text       []byte

	gzOnce sync.Once
	gz     *deflatedBody
}

// deflatedBody is the cached text as a deflate stream ending in a sync flush
// (so it can be followed by more blocks), with what the gzip trailer needs.
type deflatedBody struct {
	stream []byte
	crc    uint32    // CRC-32 of the text
	zeros  crcMatrix // feeds len(text) zero bytes to a CRC register
}

// current returns an assembled answer that includes every change made
// before the call, building one if needed.
func (c *bodyCache) current(e *Exporter) *cachedBody {
	// The generation is read first: a change after this point may or may
	// not be in the answer, which is fine, as it happened during the scrape.
	gen := e.outGen.Load()
	now := e.now()
	if b := c.cur.Load(); b.fresh(gen, now) {
		return b
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	// Scrapes that waited here use what the first of them built, even if
	// a refresh has moved on since: otherwise, while a refresh of many
	// targets runs, every scrape would rebuild.
	if b := c.cur.Load(); b.fresh(gen, now) {
		return b
	}
	b := e.assemble(e.outGen.Load(), now)
	c.cur.Store(b)
	return b
}

func (b *cachedBody) fresh(gen uint64, now time.Time) bool {
	return b != nil && b.gen >= gen && (b.validUntil.IsZero() || now.Before(b.validUntil))
}

// assemble renders every target (the ones already rendered cost nothing)
// and joins their series family by family.
func (e *Exporter) assemble(gen uint64, now time.Time) *cachedBody {
	targets := e.Targets()
	outs := make([]*[numFamilies][]byte, len(targets))
	b := &cachedBody{gen: gen}
	size := 0
	for i, t := range targets {
		var until time.Time
		outs[i], until = t.renderedUntil(now)
		if !until.IsZero() && (b.validUntil.IsZero() || until.Before(b.validUntil)) {
			b.validUntil = until
		}
		for _, lines := range outs[i] {
			size += len(lines)
		}
	}
	for _, f := range families {
		size += len(f.name)*2 + len(f.help) + len(f.typ) + 16
	}
	b.text = appendFamilies(make([]byte, 0, size), outs)
	return b
}

// renderedUntil is rendered, and the time the rendered series expire.
func (t *Target) renderedUntil(now time.Time) (*[numFamilies][]byte, time.Time) {
	out := t.rendered(now)
	t.mu.Lock()
	defer t.mu.Unlock()
	return out, t.staleUntil
}

// cachedLevel compresses the cached text well; it is done once per change
// of the series. Each scrape's own metrics are stored, not compressed (see
// appendStored).
const cachedLevel = flate.DefaultCompression

// deflated compresses the text on first use: a setup whose scrapers never
// ask for gzip never pays for it.
func (b *cachedBody) deflated() *deflatedBody {
	b.gzOnce.Do(func() {
		var buf bytes.Buffer
		buf.Grow(len(b.text)/8 + 64)
		fw, _ := flate.NewWriter(&buf, cachedLevel) // the level is valid
		_, _ = fw.Write(b.text)                     // a bytes.Buffer does not fail
		_ = fw.Flush()                              // not Close: the stream goes on
		b.gz = &deflatedBody{stream: buf.Bytes(), crc: crc32.ChecksumIEEE(b.text), zeros: crcZeros(len(b.text))}
	})
	return b.gz
}

// serveCached answers /metrics in cached mode.
func (e *Exporter) serveCached(w http.ResponseWriter, r *http.Request, gatherer prometheus.Gatherer) {
	body := e.body.current(e)
	own := bufferPool.Get().(*bytes.Buffer)
	own.Reset()
	defer bufferPool.Put(own)
	if gatherer != nil {
		e.writeGathered(own, gatherer)
	}

	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Vary", "Accept-Encoding")
	if !acceptsGzip(r) {
		h.Set("Content-Length", strconv.Itoa(own.Len()+len(body.text)))
		_, _ = w.Write(own.Bytes())
		_, _ = w.Write(body.text)
		return
	}

	gz := body.deflated()
	head := bufferPool.Get().(*bytes.Buffer)
	head.Reset()
	defer bufferPool.Put(head)
	head.Write(gzipHeader)
	appendStored(head, own.Bytes())
	var tail [5 + 8]byte
	// The last block: final, stored, empty (BFINAL=1, BTYPE=00, LEN=0,
	// NLEN=0xffff); the stream is byte aligned after the sync flush.
	tail[0], tail[1], tail[2], tail[3], tail[4] = 0x01, 0x00, 0x00, 0xff, 0xff
	crc := gz.zeros.apply(crc32.ChecksumIEEE(own.Bytes())) ^ gz.crc
	binary.LittleEndian.PutUint32(tail[5:9], crc)
	binary.LittleEndian.PutUint32(tail[9:13], uint32(own.Len()+len(body.text))) // ISIZE is the length mod 2^32
	h.Set("Content-Encoding", "gzip")
	h.Set("Content-Length", strconv.Itoa(head.Len()+len(gz.stream)+len(tail)))
	_, _ = w.Write(head.Bytes())
	_, _ = w.Write(gz.stream)
	_, _ = w.Write(tail[:])
}

// gzipHeader is a gzip member header: deflate, no flags, no time, unknown
// operating system.
var gzipHeader = []byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255}

// appendStored writes p as stored (uncompressed) deflate blocks. The own
// metrics are a few kilobytes next to the cached part's hundreds; storing
// them costs a copy and their CRC, where compressing them took as much CPU
// as the rest of a gzip scrape. A stored block starts and ends on a byte
// boundary, so the cached stream can follow directly.
func appendStored(b *bytes.Buffer, p []byte) {
	for len(p) > 0 {
		n := min(len(p), 0xffff)
		// BFINAL=0, BTYPE=00, padding to the byte, then LEN and its
		// complement, little-endian.
		b.Write([]byte{0x00, byte(n), byte(n >> 8), ^byte(n), ^byte(n >> 8)})
		b.Write(p[:n])
		p = p[n:]
	}
}
