// Package serving serves the collector's targets over HTTP: /metrics and
// /probe, the scrape deadline, the choice between plain and gzip answers,
// and, in cached mode, the answer kept assembled between changes
// (bodycache.go). What a scrape asks of the targets is the collector's
// (Exporter.Scrape); the text is package exposition's.
package serving

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/dcs-exporter/dcs_exporter/collector"
	"github.com/dcs-exporter/dcs_exporter/collector/exposition"
)

// contentType is the Prometheus text format, which every scraper accepts.
const contentType = "text/plain; version=0.0.4; charset=utf-8"

// Server serves one exporter's targets.
type Server struct {
	exp  *collector.Exporter
	body bodyCache // cached mode's assembled answer
}

// New returns a server of exp's targets.
func New(exp *collector.Exporter) *Server { return &Server{exp: exp} }

// MetricsHandler serves every target's series, preceded by the series of
// gatherer (the exporter's own, Go and process metrics). In cached mode the
// targets' part is assembled once per change (bodycache.go).
func (s *Server) MetricsHandler(gatherer prometheus.Gatherer) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.exp.Cached() {
			s.serveCached(w, r, gatherer)
			return
		}
		s.serve(w, r, s.exp.Targets(), gatherer)
	})
}

// ProbeHandler serves one target, named by the `target` query parameter, so
// that Prometheus can spread targets over several exporters.
func (s *Server) ProbeHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := r.URL.Query().Get("target")
		if name == "" {
			http.Error(w, "the target parameter is missing", http.StatusBadRequest)
			return
		}
		t := s.exp.Target(name)
		if t == nil {
			http.Error(w, "unknown target "+strconv.Quote(name), http.StatusNotFound)
			return
		}
		s.serve(w, r, []*collector.Target{t}, nil)
	})
}

// scrapeDeadline is when the answer must be ready: a little before the
// timeout Prometheus announces, or after 30 s when it announces none.
// maxScrapeWait keeps the wait for targets well inside the HTTP server's
// 2-minute write timeout (see newServer in main.go).
const maxScrapeWait = 100 * time.Second

func scrapeDeadline(r *http.Request, now time.Time) time.Time {
	timeout := 30 * time.Second
	if v := r.Header.Get("X-Prometheus-Scrape-Timeout-Seconds"); v != "" {
		if secs, err := strconv.ParseFloat(v, 64); err == nil && secs > 0 {
			timeout = time.Duration(secs * float64(time.Second))
		}
	}
	// The server gives up writing an answer after 2 minutes; a longer
	// announced timeout would turn a slow target into a dropped connection.
	timeout = min(timeout, maxScrapeWait)
	margin := min(max(timeout/10, 100*time.Millisecond), 500*time.Millisecond)
	if margin >= timeout {
		margin = timeout / 2
	}
	return now.Add(timeout - margin)
}

var bufferPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// serve answers a scrape that renders as it goes: on-scrape mode, and
// /probe. The targets' series are streamed rather than buffered, so that a
// scrape of thousands of targets holds no copy of them.
func (s *Server) serve(w http.ResponseWriter, r *http.Request, targets []*collector.Target, gatherer prometheus.Gatherer) {
	outs := s.exp.Scrape(r.Context(), targets, scrapeDeadline(r, time.Now()))

	own := bufferPool.Get().(*bytes.Buffer)
	own.Reset()
	defer bufferPool.Put(own)
	if gatherer != nil {
		s.writeGathered(own, gatherer)
	}

	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Vary", "Accept-Encoding")
	if acceptsGzip(r) {
		h.Set("Content-Encoding", "gzip")
		gz := gzipPool.Get().(*gzip.Writer)
		gz.Reset(w)
		_, _ = gz.Write(own.Bytes())
		exposition.WriteFamilies(gz, outs)
		_ = gz.Close()
		gzipPool.Put(gz)
		return
	}
	bw := bufioPool.Get().(*bufio.Writer)
	bw.Reset(w)
	_, _ = bw.Write(own.Bytes())
	exposition.WriteFamilies(bw, outs)
	_ = bw.Flush()
	bw.Reset(nil)
	bufioPool.Put(bw)
}

var (
	gzipPool  = sync.Pool{New: func() any { gz, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed); return gz }}
	bufioPool = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 64<<10) }}
)

func (s *Server) writeGathered(buf *bytes.Buffer, gatherer prometheus.Gatherer) {
	mfs, err := gatherer.Gather()
	if err != nil {
		s.exp.Logger().Error("gathering the exporter's own metrics", "err", err)
	}
	// expfmt's Encoder copies every family to escape names that need it;
	// the exporter's own names never do, so they go straight to the text
	// writer, which writes into buf without a bufio.Writer in between.
	var enc expfmt.Encoder
	for _, mf := range mfs {
		var err error
		if model.LegacyValidation.IsValidMetricName(mf.GetName()) {
			_, err = expfmt.MetricFamilyToText(buf, mf)
		} else {
			if enc == nil {
				enc = expfmt.NewEncoder(buf, expfmt.NewFormat(expfmt.TypeTextPlain))
			}
			err = enc.Encode(mf)
		}
		if err != nil {
			s.exp.Logger().Error("encoding the exporter's own metrics", "err", err)
		}
	}
}

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.TrimSpace(name) != "gzip" {
			continue
		}
		q, ok := strings.CutPrefix(strings.ReplaceAll(params, " ", ""), "q=")
		if !ok {
			return true
		}
		weight, err := strconv.ParseFloat(q, 64)
		return err == nil && weight > 0
	}
	return false
}
