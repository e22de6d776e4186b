package serving_test

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/dcs-exporter/dcs_exporter/collector"
	"github.com/dcs-exporter/dcs_exporter/collector/internal/testenv"
	"github.com/dcs-exporter/dcs_exporter/collector/serving"
)

func TestUnknownProbeTarget(t *testing.T) {
	e := testenv.New(t, collector.Options{}, testenv.TargetA)
	for url, want := range map[string]int{"/probe?target=nope": 404, "/probe": 400} {
		rec := httptest.NewRecorder()
		e.Web.ProbeHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, url, nil))
		if rec.Code != want {
			t.Errorf("%s: HTTP %d, want %d", url, rec.Code, want)
		}
	}
}

func TestGzip(t *testing.T) {
	e := testenv.New(t, collector.Options{}, testenv.TargetA)
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	rec := httptest.NewRecorder()
	e.Web.MetricsHandler(nil).ServeHTTP(rec, req)
	if rec.Header().Get("Content-Encoding") != "gzip" {
		t.Fatal("no gzip answer")
	}
	body, err := gunzip(rec.Body.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(body), "dcs_up{") {
		t.Error("gzip body lacks the series")
	}
}

func TestScrapeDeadline(t *testing.T) {
	now := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	for header, want := range map[string]time.Duration{
		"":     29500 * time.Millisecond, // no header: 30 s
		"10":   9500 * time.Millisecond,
		"1":    900 * time.Millisecond,
		"0.1":  50 * time.Millisecond,
		"300":  serving.MaxScrapeWait - 500*time.Millisecond, // capped below the server's write timeout
		"junk": 29500 * time.Millisecond,
	} {
		r := httptest.NewRequest(http.MethodGet, "/metrics", nil)
		if header != "" {
			r.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", header)
		}
		if got := serving.ScrapeDeadline(r, now).Sub(now); got != want {
			t.Errorf("timeout %q: wait %v, want %v", header, got, want)
		}
	}
}

func gunzip(b []byte) ([]byte, error) {
	r, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	return io.ReadAll(r)
}
