package collector_test

import (
	"strings"
	"testing"
	"time"

	"github.com/dcs-exporter/dcs_exporter/collector"
	"github.com/dcs-exporter/dcs_exporter/collector/exposition"
)

// TestTimedOutRenderKeepsCache checks that rendering a scrape that timed
// out leaves the target's cached series as they were.
func TestTimedOutRenderKeepsCache(t *testing.T) {
	e := newEnv(t, collector.Options{MaxStaleness: 5 * time.Minute}, targetA)
	e.Scrape("prod")
	tg := e.Exp.Target("prod")
	cached, until := tg.RenderedUntil(e.Clock.Now())
	timedOut := tg.RenderedTimedOut(e.Clock.Now())
	if !strings.Contains(string(timedOut.Lines(exposition.FamUp)), "} 0\n") || len(timedOut.Lines(exposition.FamInstances)) == 0 {
		t.Errorf("a timed-out render is not down with stale counts:\n%s%s", timedOut.Lines(exposition.FamUp), timedOut.Lines(exposition.FamInstances))
	}
	if again, untilAgain := tg.RenderedUntil(e.Clock.Now()); again != cached || !untilAgain.Equal(until) || !until.IsZero() {
		t.Error("a timed-out render changed the target's cached series")
	}
}
