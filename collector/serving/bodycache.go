package serving

// This file keeps cached mode's answer assembled. The targets' series
// change only when a refresh or a listing ends, yet Prometheus (often two of
// them) asks for them far more often, and at 1,000 targets they are over
// 5 MB of text. So /metrics keeps them assembled, in one piece, and also
// compressed, and a scrape renders only the exporter's own metrics before
// copying the rest:
//
//	plain:  own text | cached text
//	gzip:   one gzip stream of the own text, stored, then the cached text,
//	        compressed once (see gzipjoin)

import (
	"bytes"
	"compress/flate"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dcs-exporter/dcs_exporter/collector"
	"github.com/dcs-exporter/dcs_exporter/collector/exposition"
	"github.com/dcs-exporter/dcs_exporter/collector/serving/internal/gzipjoin"
)

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
	gz     *gzipjoin.Part
}

// current returns an assembled answer that includes every change made
// before the call, building one if needed.
func (c *bodyCache) current(e *collector.Exporter) *cachedBody {
	// The generation is read first: a change after this point may or may
	// not be in the answer, which is fine, as it happened during the scrape.
	gen := e.OutputGeneration()
	now := e.Now()
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
	b := assemble(e, e.OutputGeneration(), now)
	c.cur.Store(b)
	return b
}

func (b *cachedBody) fresh(gen uint64, now time.Time) bool {
	return b != nil && b.gen >= gen && (b.validUntil.IsZero() || now.Before(b.validUntil))
}

// assemble renders every target (the ones already rendered cost nothing)
// and joins their series family by family.
func assemble(e *collector.Exporter, gen uint64, now time.Time) *cachedBody {
	targets := e.Targets()
	outs := make([]*exposition.Series, len(targets))
	b := &cachedBody{gen: gen}
	size := 0
	for i, t := range targets {
		var until time.Time
		outs[i], until = t.RenderedUntil(now)
		if !until.IsZero() && (b.validUntil.IsZero() || until.Before(b.validUntil)) {
			b.validUntil = until
		}
		size += outs[i].Size()
	}
	size += exposition.HeadersSize()
	b.text = exposition.AppendFamilies(make([]byte, 0, size), outs)
	return b
}

// cachedLevel compresses the cached text well; it is done once per change
// of the series. Each scrape's own metrics are stored, not compressed (see
// serveCached).
const cachedLevel = flate.DefaultCompression

// deflated compresses the text on first use: a setup whose scrapers never
// ask for gzip never pays for it.
func (b *cachedBody) deflated() *gzipjoin.Part {
	b.gzOnce.Do(func() {
		b.gz, _ = gzipjoin.Deflate(b.text, cachedLevel) // the level is valid
	})
	return b.gz
}

// serveCached answers /metrics in cached mode.
func (s *Server) serveCached(w http.ResponseWriter, r *http.Request, gatherer prometheus.Gatherer) {
	body := s.body.current(s.exp)
	ownText := bufferPool.Get().(*bytes.Buffer)
	ownText.Reset()
	defer bufferPool.Put(ownText)
	if gatherer != nil {
		s.writeGathered(ownText, gatherer)
	}

	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Vary", "Accept-Encoding")
	if !acceptsGzip(r) {
		h.Set("Content-Length", strconv.Itoa(ownText.Len()+len(body.text)))
		_, _ = w.Write(ownText.Bytes())
		_, _ = w.Write(body.text)
		return
	}

	// The own metrics are a few kilobytes next to the cached part's
	// hundreds; storing them costs a copy and their CRC, where compressing
	// them took as much CPU as the rest of a gzip scrape.
	stored := storedPool.Get().(*[]byte)
	own := gzipjoin.Store((*stored)[:0], ownText.Bytes())
	cached := body.deflated()
	h.Set("Content-Encoding", "gzip")
	h.Set("Content-Length", strconv.Itoa(gzipjoin.Len(&own, cached)))
	_ = gzipjoin.Write(w, &own, cached) // an error is the client's, who left
	*stored = own.Blocks()
	storedPool.Put(stored)
}

// storedPool holds buffers for the own metrics as stored blocks.
var storedPool = sync.Pool{New: func() any { return new([]byte) }}
