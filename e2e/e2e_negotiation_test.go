//go:build e2e

package e2e

// What Prometheus 3 and the exporter agree on at each scrape of the
// end-to-end test: the Accept header Prometheus sends, the Content-Type the
// exporter answers with, and Prometheus' verdict on the target.

import (
	"mime"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// scrapeRecorder serves a handler and notes, for each request, the Accept
// header and the Content-Type the handler set. With blankContentType it
// sends the answer without any Content-Type, as a non-compliant target
// would.
type scrapeRecorder struct {
	next             http.Handler
	blankContentType bool

	mu     sync.Mutex
	scrape []recordedScrape
}

type recordedScrape struct {
	accept      string
	contentType string // as the handler set it, before any blanking
}

func (s *scrapeRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rw := &contentTypeWriter{ResponseWriter: w, blank: s.blankContentType}
	s.next.ServeHTTP(rw, r)
	s.mu.Lock()
	s.scrape = append(s.scrape, recordedScrape{accept: r.Header.Get("Accept"), contentType: rw.contentType})
	s.mu.Unlock()
}

func (s *scrapeRecorder) scrapes() []recordedScrape {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.scrape)
}

// contentTypeWriter notes the Content-Type when the header is written.
type contentTypeWriter struct {
	http.ResponseWriter
	blank       bool
	wrote       bool
	contentType string
}

func (w *contentTypeWriter) note() {
	if w.wrote {
		return
	}
	w.wrote = true
	h := w.Header()
	w.contentType = h.Get("Content-Type")
	if w.blank {
		// A nil entry, not a deleted one: net/http would otherwise sniff a
		// type from the body.
		h["Content-Type"] = nil
	}
}

func (w *contentTypeWriter) WriteHeader(code int) {
	w.note()
	w.ResponseWriter.WriteHeader(code)
}

func (w *contentTypeWriter) Write(b []byte) (int, error) {
	w.note()
	return w.ResponseWriter.Write(b)
}

func (w *contentTypeWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// promTarget is one active target of Prometheus' /api/v1/targets.
type promTarget struct {
	Labels    map[string]string `json:"labels"`
	Health    string            `json:"health"`
	LastError string            `json:"lastError"`
}

// activeTargets returns the active targets by job.
func (e *e2e) activeTargets() map[string]promTarget {
	e.t.Helper()
	var ans struct {
		Status string `json:"status"`
		Data   struct {
			ActiveTargets []promTarget `json:"activeTargets"`
		} `json:"data"`
	}
	e.getJSON(e.prom.url("/api/v1/targets?state=active"), &ans)
	out := map[string]promTarget{}
	for _, tg := range ans.Data.ActiveTargets {
		out[tg.Labels["job"]] = tg
	}
	return out
}

// checkContentNegotiation requires that Prometheus offered the exporter's
// format, that the exporter answered in it, and that Prometheus accepted
// it, while it refused the same answer without a Content-Type.
func (e *e2e) checkContentNegotiation(exporter, control *scrapeRecorder) {
	t := e.t
	t.Helper()
	deadline := time.Now().Add(e2eScrapeTimeout)
	var dcs, ctl promTarget
	for {
		targets := e.activeTargets()
		dcs, ctl = targets["dcs"], targets["content_type_control"]
		if dcs.Health == "up" && ctl.Health == "down" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("within %v, want the dcs target up and the control down; got dcs %+v, control %+v", e2eScrapeTimeout, dcs, ctl)
		}
		time.Sleep(250 * time.Millisecond)
	}
	if dcs.LastError != "" {
		t.Errorf("the dcs target is up with an error: %s", dcs.LastError)
	}
	if !strings.Contains(ctl.LastError, "blank Content-Type") {
		t.Errorf("the control target failed for another reason than its blank Content-Type: %q", ctl.LastError)
	}
	if len(control.scrapes()) == 0 {
		t.Error("Prometheus never scraped the control target")
	}

	scrapes := exporter.scrapes()
	if len(scrapes) == 0 {
		t.Fatal("the dcs target is up, but the recorder saw no scrape")
	}
	for _, s := range scrapes {
		served, params, err := mime.ParseMediaType(s.contentType)
		if err != nil || served != "text/plain" || params["version"] != "0.0.4" {
			t.Errorf("the exporter answered with Content-Type %q, want the text format 0.0.4 (%v)", s.contentType, err)
			continue
		}
		if !acceptOffers(s.accept, served, params["version"]) {
			t.Errorf("the exporter answered %q, which Prometheus did not offer in Accept: %s", s.contentType, s.accept)
		}
		// Prometheus 3 prefers OpenMetrics and offers text formats after it;
		// a 2.x Accept would not name text/plain 1.0.0.
		if !acceptOffers(s.accept, "application/openmetrics-text", "1.0.0") || !acceptOffers(s.accept, "text/plain", "1.0.0") {
			t.Errorf("Accept is not Prometheus 3's default: %s", s.accept)
		}
	}
	t.Logf("%d scrapes: Prometheus asked for %s and got %s", len(scrapes), scrapes[0].accept, scrapes[0].contentType)
}

// acceptOffers says whether an Accept header lists the media type with the
// version parameter.
func acceptOffers(accept, mediaType, version string) bool {
	for _, part := range strings.Split(accept, ",") {
		t, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err == nil && t == mediaType && params["version"] == version {
			return true
		}
	}
	return false
}
