package collector

import (
	"bytes"
	"compress/gzip"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
)

// contentType is the Prometheus text format, which every scraper accepts.
const contentType = "text/plain; version=0.0.4; charset=utf-8"

// MetricsHandler serves every target's series, preceded by the series of
// gatherer (the exporter's own, Go and process metrics).
func (e *Exporter) MetricsHandler(gatherer prometheus.Gatherer) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.serve(w, r, e.Targets(), gatherer)
	})
}

// ProbeHandler serves one target, named by the `target` query parameter, so
// that Prometheus can spread targets over several exporters.
func (e *Exporter) ProbeHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := r.URL.Query().Get("target")
		if name == "" {
			http.Error(w, "the target parameter is missing", http.StatusBadRequest)
			return
		}
		t := e.Target(name)
		if t == nil {
			http.Error(w, "unknown target "+strconv.Quote(name), http.StatusNotFound)
			return
		}
		e.serve(w, r, []*Target{t}, nil)
	})
}

// scrapeDeadline is when the answer must be ready: a little before the
// timeout Prometheus announces, or after 30 s when it announces none.
func scrapeDeadline(r *http.Request, now time.Time) time.Time {
	timeout := 30 * time.Second
	if v := r.Header.Get("X-Prometheus-Scrape-Timeout-Seconds"); v != "" {
		if secs, err := strconv.ParseFloat(v, 64); err == nil && secs > 0 {
			timeout = time.Duration(secs * float64(time.Second))
		}
	}
	margin := min(max(timeout/10, 100*time.Millisecond), 500*time.Millisecond)
	if margin >= timeout {
		margin = timeout / 2
	}
	return now.Add(timeout - margin)
}

var bufferPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func (e *Exporter) serve(w http.ResponseWriter, r *http.Request, targets []*Target, gatherer prometheus.Gatherer) {
	timedOut := e.collect(r, targets)

	buf := bufferPool.Get().(*bytes.Buffer)
	buf.Reset()
	defer bufferPool.Put(buf)
	if gatherer != nil {
		e.writeGathered(buf, gatherer)
	}
	now := e.now()
	outs := make([]*[numFamilies][]byte, len(targets))
	for i, t := range targets {
		if timedOut[i] {
			outs[i] = t.renderTimedOut(now)
		} else {
			outs[i] = t.rendered(now)
		}
	}
	writeFamilies(buf, targets, outs)

	w.Header().Set("Content-Type", contentType)
	if acceptsGzip(r) {
		w.Header().Set("Content-Encoding", "gzip")
		w.Header().Set("Vary", "Accept-Encoding")
		gz := gzipPool.Get().(*gzip.Writer)
		gz.Reset(w)
		_, _ = gz.Write(buf.Bytes())
		_ = gz.Close()
		gzipPool.Put(gz)
		return
	}
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	_, _ = w.Write(buf.Bytes())
}

var gzipPool = sync.Pool{New: func() any { gz, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed); return gz }}

// collect brings the targets up to date for one scrape. In cached mode it
// does nothing: scrapes never call the API. Otherwise it starts (or joins)
// every target's query and waits until they are done or the scrape deadline
// passes; it reports which targets did not finish in time.
func (e *Exporter) collect(r *http.Request, targets []*Target) []bool {
	timedOut := make([]bool, len(targets))
	if e.opts.RefreshInterval > 0 {
		return timedOut
	}
	deadline := scrapeDeadline(r, time.Now())
	done := make([]<-chan struct{}, len(targets))
	for i, t := range targets {
		done[i] = t.update(deadline)
	}
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	expired := false
	for i, d := range done {
		if expired {
			select {
			case <-d:
			default:
				timedOut[i] = true
			}
			continue
		}
		select {
		case <-d:
		case <-timer.C:
			expired = true
			select {
			case <-d:
			default:
				timedOut[i] = true
			}
		case <-r.Context().Done():
			expired = true
			timedOut[i] = true
		}
	}
	return timedOut
}

// writeFamilies writes each family once, with every target's samples of it.
func writeFamilies(buf *bytes.Buffer, targets []*Target, outs []*[numFamilies][]byte) {
	var header []byte
	for f := range numFamilies {
		wrote := false
		for i := range targets {
			lines := outs[i][f]
			if len(lines) == 0 {
				continue
			}
			if !wrote {
				header = appendHeader(header[:0], families[f])
				buf.Write(header)
				wrote = true
			}
			buf.Write(lines)
		}
	}
}

func (e *Exporter) writeGathered(buf *bytes.Buffer, gatherer prometheus.Gatherer) {
	mfs, err := gatherer.Gather()
	if err != nil {
		e.opts.Logger.Error("gathering the exporter's own metrics", "err", err)
	}
	enc := expfmt.NewEncoder(buf, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			e.opts.Logger.Error("encoding the exporter's own metrics", "err", err)
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
