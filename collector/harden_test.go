package collector

import (
	"strings"
	"testing"
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
