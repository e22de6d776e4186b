package serving

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dcs-exporter/dcs_exporter/collector"
)

// What the tests of package serving_test reach inside for.

var ScrapeDeadline = scrapeDeadline

const MaxScrapeWait = maxScrapeWait

// Serve answers as on-scrape mode and /probe do, rendering on the spot.
func (s *Server) Serve(w http.ResponseWriter, r *http.Request, targets []*collector.Target, gatherer prometheus.Gatherer) {
	s.serve(w, r, targets, gatherer)
}

// CurrentBody returns the assembled answer kept now (comparable, nil when
// none), and whether its gzip form is kept too.
func (s *Server) CurrentBody() (any, bool) {
	b := s.body.cur.Load()
	if b == nil {
		return nil, false
	}
	return b, b.gz != nil
}
