package statuspage_test

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/dcs-exporter/dcs_exporter/collector"
	"github.com/dcs-exporter/dcs_exporter/config"
	"github.com/dcs-exporter/dcs_exporter/dcsapi/dcsapitest"
	"github.com/dcs-exporter/dcs_exporter/statuspage"
)

// TestPageShowsTopology: a target's nodes and backups in its row, with the
// backup calls of the last hour; a target whose node walk is refused is
// failing, with the permission it lacks.
func TestPageShowsTopology(t *testing.T) {
	fake := dcsapitest.NewServer()
	t.Cleanup(fake.Close)
	fake.AddKey(goodAK, goodSK)
	ok, refused := projectOf(1), projectOf(2)
	fleet := []dcsapitest.Instance{
		{ID: "a", Engine: "Redis", EngineVersion: "6.0", SpecCode: "redis.ha.xu1.large.r2.1", Status: "RUNNING"},
		{ID: "b", Engine: "Redis", EngineVersion: "6.0", SpecCode: "redis.cluster.xu1.large.r2.4", Status: "RUNNING"},
		{ID: "c", Engine: "Redis", EngineVersion: "6.0", SpecCode: "redis.ha.xu1.large.r2.1", Status: "RUNNING"},
	}
	fake.SetInstances(ok, fleet)
	fake.SetInstances(refused, fleet)
	fake.SetNodeStatus(ok, "b", 0, 1, "Inactive")
	fake.FailBackups(ok, "c", "dcs.08.0002")
	fake.InjectFault(refused, dcsapitest.APINodes, dcsapitest.Fault{Kind: dcsapitest.FaultStatus, Status: 403, Code: "DCS.2003", Message: "role lacks permission"})
	doc := fmt.Sprintf("defaults:\n  endpoint: %[1]s\n  iam_endpoint: %[1]s\n  credentials: {access_key: %[2]s, secret_key: %[3]s}\n"+
		"  instances: true\n  nodes: true\n  backups: true\ntargets:\n"+
		"  - {name: topo-ok, region: cn-north-4, project_id: %[4]s}\n  - {name: topo-refused, region: cn-north-4, project_id: %[5]s}\n",
		fake.URL, goodAK, goodSK, ok, refused)
	cfg, err := config.Parse([]byte(doc), "test.yml")
	if err != nil {
		t.Fatal(err)
	}
	exp := collector.New(collector.Options{})
	defer exp.Close()
	if err := exp.ApplyConfig(cfg); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, name := range []string{"topo-ok", "topo-refused"} {
		tg := exp.Target(name)
		tg.RefreshListing(ctx)
		tg.RefreshNodes(ctx)
		tg.ReadBackups()
	}
	exp.Target("topo-ok").Refresh(ctx)
	exp.Target("topo-refused").Refresh(ctx)
	page := statuspage.New(statuspage.Options{Targets: exp.TargetStatuses, Ready: func() bool { return true }, Discovery: exp.Discovery().Summaries})
	code, _, body := get(t, page, "/")
	if code != http.StatusOK {
		t.Fatalf("HTTP %d", code)
	}
	body = html.UnescapeString(body)
	healthyAt := strings.Index(body, `id="healthy"`)
	okAt := strings.Index(body, `data-target="topo-ok"`)
	refusedAt := strings.Index(body, `data-target="topo-refused"`)
	if okAt < healthyAt || refusedAt < 0 || refusedAt > healthyAt {
		t.Errorf("topo-ok should be healthy and topo-refused failing (at %d, %d; healthy from %d)", okAt, refusedAt, healthyAt)
	}
	for _, want := range []string{
		"nodes: 3 instances, 10 nodes, 1 not Active, walked",
		"backups: 3 of 3 instances read, 1 whose last backup failed, 3 calls in the last hour",
		"up, nodes failing",
		"dcs:instance:list",
		fmt.Sprintf("; %d nodes at level=node", nodeGroups(t, exp, "topo-ok")),
		"nodes: none yet, level=node answers 503 until the first walk",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
}

// nodeGroups counts the groups /sd?level=node itself serves for a target.
func nodeGroups(t *testing.T, exp *collector.Exporter, target string) int {
	t.Helper()
	rec := httptest.NewRecorder()
	exp.Discovery().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/sd?level=node&target="+target, nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("/sd?level=node&target=%s: HTTP %d: %s", target, rec.Code, rec.Body)
	}
	var groups []json.RawMessage
	if err := json.Unmarshal(rec.Body.Bytes(), &groups); err != nil {
		t.Fatal(err)
	}
	if len(groups) == 0 {
		t.Fatalf("/sd?level=node offers no node of %s; the test needs some", target)
	}
	return len(groups)
}
