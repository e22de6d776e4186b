package serving_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/dcs-exporter/dcs_exporter/collector"
	"github.com/dcs-exporter/dcs_exporter/collector/internal/testenv"
	"github.com/dcs-exporter/dcs_exporter/collector/serving"
	"github.com/dcs-exporter/dcs_exporter/config"
	"github.com/dcs-exporter/dcs_exporter/dcsapi/dcsapitest"
	"github.com/dcs-exporter/dcs_exporter/internal/processcollector"
)

// staticGatherer stands for the exporter's own registry with series that do
// not change from scrape to scrape.
func staticGatherer(t *testing.T, series int) prometheus.Gatherer {
	reg := prometheus.NewRegistry()
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "dcs_exporter_test_value", Help: "A test gauge."}, []string{"n"})
	for i := range series {
		g.WithLabelValues(strconv.Itoa(i)).Set(float64(i) * 1.5)
	}
	reg.MustRegister(g)
	return reg
}

func get(t *testing.T, h http.Handler, gzipped bool) (*httptest.ResponseRecorder, string) {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	if gzipped {
		req.Header.Set("Accept-Encoding", "gzip")
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("HTTP %d: %s", rec.Code, rec.Body)
	}
	if cl := rec.Header().Get("Content-Length"); cl != strconv.Itoa(rec.Body.Len()) {
		t.Errorf("Content-Length %s, body %d bytes", cl, rec.Body.Len())
	}
	body := rec.Body.Bytes()
	if gzipped {
		if rec.Header().Get("Content-Encoding") != "gzip" {
			t.Fatal("no gzip answer")
		}
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		zr.Multistream(false)
		plain, err := io.ReadAll(zr) // checks the CRC and the length
		if err != nil {
			t.Fatalf("gunzip: %v", err)
		}
		if rest, _ := io.ReadAll(zr); len(rest) != 0 {
			t.Fatal("data after the gzip member")
		}
		body = plain
	}
	return rec, string(body)
}

// refreshAll queries every target once, as a refresh round does.
func refreshAll(e *testenv.Env) {
	for _, tg := range e.Exp.Targets() {
		tg.Refresh(context.Background())
	}
}

func TestCachedAnswerIsSplicedCorrectly(t *testing.T) {
	e := testenv.New(t, collector.Options{RefreshInterval: time.Hour}, testenv.TargetA+testenv.TargetB)
	refreshAll(e)
	// 3,000 series are more than one stored block (64 KiB) of own text.
	for _, n := range []int{0, 1, 3000} {
		h := e.Web.MetricsHandler(staticGatherer(t, n))
		_, plain := get(t, h, false)
		if _, unzipped := get(t, h, true); plain != unzipped {
			t.Fatalf("%d own series: the gzip answer differs from the plain one:\n%.2000s\n---\n%.2000s", n, unzipped, plain)
		}
	}
	own := staticGatherer(t, 300)
	h := e.Web.MetricsHandler(own)
	_, plain := get(t, h, false)
	if _, unzipped := get(t, h, true); unzipped != plain {
		t.Fatal("the gzip answer differs from the plain one")
	}
	// The same as rendering on the spot, as on-scrape mode and /probe do.
	rec := httptest.NewRecorder()
	e.Web.Serve(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil), e.Exp.Targets(), own)
	if rec.Body.String() != plain {
		t.Fatalf("cached answer differs from a rendered one:\n%s\n---\n%s", plain, rec.Body)
	}
	if !strings.HasPrefix(plain, "# HELP dcs_exporter_test_value") || !strings.Contains(plain, "\n# HELP dcs_up ") {
		t.Errorf("own series not first, or target series missing:\n%.300s", plain)
	}
	testenv.Lint(t, plain)

	// Without own series, and with an empty exporter, gzip still works.
	_, plain = get(t, e.Web.MetricsHandler(nil), false)
	if _, unzipped := get(t, e.Web.MetricsHandler(nil), true); plain != unzipped {
		t.Fatal("gzip answer without own series differs")
	}
	empty := collector.New(collector.Options{RefreshInterval: time.Hour})
	if _, body := get(t, serving.New(empty).MetricsHandler(nil), true); body != "" {
		t.Fatalf("empty exporter: %q", body)
	}
}

func TestCachedAnswerFollowsChanges(t *testing.T) {
	e := testenv.New(t, collector.Options{RefreshInterval: time.Hour, MaxStaleness: 5 * time.Minute}, testenv.TargetA+testenv.TargetB)
	refreshAll(e)
	h := e.Web.MetricsHandler(nil)
	_, first := get(t, h, true)
	built, _ := e.Web.CurrentBody()
	for range 5 {
		get(t, h, false)
		get(t, h, true)
	}
	if now, _ := e.Web.CurrentBody(); now != built {
		t.Fatal("rebuilt without a change")
	}
	if _, gzipKept := e.Web.CurrentBody(); !gzipKept {
		t.Fatal("gzip form not kept")
	}

	// A refresh that changes the counts shows at once.
	e.Srv.SetInstances(testenv.ProjectA, testenv.SmallFleet()[:1])
	refreshAll(e)
	_, second := get(t, h, true)
	if second == first || !strings.Contains(second, `engine="redis",state="running"} 1`) {
		t.Fatalf("the new counts are not served:\n%s", second)
	}

	// Stale counts are served until they expire, then dropped.
	e.Srv.InjectFault(testenv.ProjectA, dcsapitest.APIInstanceStatus, dcsapitest.Fault{Kind: dcsapitest.FaultStatus, Status: 503})
	refreshAll(e)
	_, stale := get(t, h, false)
	if !strings.Contains(stale, `dcs_instances{target="prod"`) {
		t.Fatal("stale counts not served")
	}
	e.Clock.Advance(6 * time.Minute)
	_, expired := get(t, h, false)
	if strings.Contains(expired, `dcs_instances{target="prod"`) || !strings.Contains(expired, `dcs_instances{target="staging"`) {
		t.Fatalf("expired counts still served, or the healthy target's gone:\n%s", expired)
	}

	// A reload that drops a target shows at once.
	e.Apply(testenv.TargetA)
	if _, body := get(t, h, true); strings.Contains(body, `target="staging"`) {
		t.Fatal("a removed target is still served")
	}
}

func BenchmarkCachedScrape(b *testing.B) {
	for _, n := range []int{4, 1000} {
		b.Run(strconv.Itoa(n)+"targets", func(b *testing.B) {
			srv := dcsapitest.NewServer()
			defer srv.Close()
			var yaml strings.Builder
			for i := range n {
				pid := strings.Repeat(strconv.Itoa(i%10), 32)
				srv.AddProject("cn-north-4", pid)
				yaml.WriteString("  - name: t" + strconv.Itoa(i) + "\n    region: cn-north-4\n    project_id: " + pid + "\n")
			}
			exp := collector.New(collector.Options{RefreshInterval: time.Hour, MaxConcurrency: 16})
			doc := fmt.Sprintf("defaults:\n  endpoint: %[1]s\n  credentials: {access_key: %[2]s, secret_key: %[3]s}\ntargets:\n%[4]s",
				srv.URL, dcsapitest.TestAccessKey, dcsapitest.TestSecretKey, yaml.String())
			cfg, err := config.Parse([]byte(doc), "bench.yml")
			if err != nil {
				b.Fatal(err)
			}
			if err := exp.ApplyConfig(cfg); err != nil {
				b.Fatal(err)
			}
			for _, tg := range exp.Targets() {
				tg.Refresh(context.Background())
			}
			// Own metrics as the exporter has them: a scrape's cost is mostly
			// theirs.
			reg := prometheus.NewRegistry()
			reg.MustRegister(collectors.NewGoCollector(), processcollector.New())
			h := serving.New(exp).MetricsHandler(reg)
			for _, gz := range []bool{false, true} {
				name := "plain"
				if gz {
					name = "gzip"
				}
				b.Run(name, func(b *testing.B) {
					req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
					if gz {
						req.Header.Set("Accept-Encoding", "gzip")
					}
					w := &discardWriter{h: http.Header{}}
					h.ServeHTTP(w, req) // builds the cached forms
					b.ReportAllocs()
					for b.Loop() {
						w.n = 0
						h.ServeHTTP(w, req)
					}
					b.SetBytes(int64(w.n))
				})
			}
			exp.Close()
		})
	}
}

// discardWriter is a ResponseWriter that counts and drops the body.
type discardWriter struct {
	h http.Header
	n int
}

func (d *discardWriter) Header() http.Header { return d.h }
func (d *discardWriter) WriteHeader(int)     {}
func (d *discardWriter) Write(p []byte) (int, error) {
	d.n += len(p)
	return len(p), nil
}
