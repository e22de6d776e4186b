package collector

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// The log names a target's endpoint in every line about it, without the
// user and password the URL may carry.
func TestLogShowsNoUserinfo(t *testing.T) {
	const password = "LogPassw0rdDoNotShow"
	e := newEnv(t, Options{}, targetA)
	withUser := strings.Replace(e.srv.URL, "http://", "http://admin:"+password+"@", 1)
	e.apply(targetA + "    endpoint: " + withUser + "/nowhere\n")
	e.scrape("prod") // the path does not exist: a failed query, logged
	logs := e.logs.String()
	if !strings.Contains(logs, "query failed") || !strings.Contains(logs, "endpoint="+e.srv.URL+"/nowhere") {
		t.Fatalf("no failed query logged with its endpoint:\n%s", logs)
	}
	if strings.Contains(logs, password) || strings.Contains(logs, "admin") {
		t.Errorf("the log shows the URL's user or password:\n%s", logs)
	}
}

// An answer of 340,000 made-up states is refused: the target is down, its
// last good counts are served within their staleness bound, and /metrics
// does not grow by a series.
func TestOversizedStatusAnswerKeepsLastCounts(t *testing.T) {
	e := newEnv(t, Options{MaxStaleness: 5 * time.Minute}, targetA)
	good := e.scrape("prod")
	var b strings.Builder
	b.WriteString(`{"running_count": 7`)
	for i := range 340000 {
		fmt.Fprintf(&b, `,"s%d_count": 1`, i)
	}
	b.WriteString("}")
	e.srv.SetStatusOverride(projectA, []byte(b.String()))
	e.clock.Advance(time.Minute)
	got := e.scrape("prod")
	if up := linesOf(got, "dcs_up{"); !strings.HasSuffix(up, "} 0") {
		t.Errorf("the target is not down:\n%s", got)
	}
	if linesOf(got, "dcs_instances{") != linesOf(good, "dcs_instances{") {
		t.Errorf("the last good counts are not served:\n%s\nwant\n%s", linesOf(got, "dcs_instances{"), linesOf(good, "dcs_instances{"))
	}
	if len(got) > 2*len(good) {
		t.Errorf("/metrics grew from %d to %d bytes", len(good), len(got))
	}
	if logs := e.logs.String(); !strings.Contains(logs, "states per engine") {
		t.Errorf("the log does not name the limit:\n%s", logs)
	}
}
