package discovery_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dcs-exporter/dcs_exporter/dcsapi"
	"github.com/dcs-exporter/dcs_exporter/discovery"
)

// group is an http_sd target group as Prometheus reads it.
type group struct {
	Targets []string          `json:"targets"`
	Labels  map[string]string `json:"labels"`
}

// inputs is a settable inputs function.
type inputs struct {
	mu      sync.Mutex
	targets []discovery.Target
}

func (in *inputs) set(ts ...discovery.Target) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.targets = ts
}

func (in *inputs) get() []discovery.Target {
	in.mu.Lock()
	defer in.mu.Unlock()
	return slices.Clone(in.targets)
}

func boolPtr(v bool) *bool { return &v }

// redis and memcached are instances with every field discovery reads.
var (
	redis = dcsapi.Instance{
		ID: "0b1c", Name: "cache-a", Engine: "Redis", EngineVersion: "6.0", Status: "RUNNING",
		SpecCode: "redis.cluster.xu1.large.4", AZCodes: []string{"cn-north-4a", "cn-north-4c"},
		EnterpriseProjectID: "0", DomainName: "redis-0b1c.dcs.example", IPs: []string{"10.0.0.1", "10.0.0.2"}, Port: 6379,
		NoPasswordAccess: boolPtr(false), EnableSSL: boolPtr(true),
		Tags: []dcsapi.Tag{{Key: "owner", Value: "team-a"}, {Key: "cost-center", Value: "cc-1"}},
	}
	memcached = dcsapi.Instance{
		ID: "9f8e", Name: "mc-b", Engine: "Memcached", EngineVersion: "1.5", Status: "ERROR",
		IPs: []string{"10.0.1.9"}, Port: 11211,
	}
)

func fresh(name string, instances ...dcsapi.Instance) discovery.Target {
	return discovery.Target{Name: name, Region: "cn-north-4", ProjectID: "p-" + name, Enabled: true,
		ListedAt: time.Now(), StaleAfter: time.Hour, Instances: instances}
}

// get asks h for /sd with the query and returns status, content type and body.
func get(t *testing.T, h http.Handler, query string) (int, string, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/sd"+query, nil))
	return rec.Code, rec.Header().Get("Content-Type"), rec.Body.String()
}

// groups asks for /sd and decodes a 200 answer.
func groups(t *testing.T, h http.Handler, query string) []group {
	t.Helper()
	code, ctype, body := get(t, h, query)
	if code != http.StatusOK || ctype != "application/json" {
		t.Fatalf("%s: %d %s %q", query, code, ctype, body)
	}
	var gs []group
	if !json.Valid([]byte(body)) {
		t.Fatalf("%s: not JSON: %q", query, body)
	}
	if err := json.Unmarshal([]byte(body), &gs); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	if gs == nil {
		t.Fatalf("%s: %q is not an array", query, body)
	}
	return gs
}

func ids(gs []group) []string {
	var out []string
	for _, g := range gs {
		out = append(out, g.Labels["__meta_dcs_instance_id"])
	}
	return out
}

func TestGroupLabels(t *testing.T) {
	in := &inputs{}
	in.set(fresh("prod", redis, memcached))
	gs := groups(t, discovery.NewHandler(in.get), "")
	if len(gs) != 2 {
		t.Fatalf("got %d groups, want 2", len(gs))
	}
	want := group{
		Targets: []string{"10.0.0.1:6379"},
		Labels: map[string]string{
			"__meta_dcs_target":                "prod",
			"__meta_dcs_region":                "cn-north-4",
			"__meta_dcs_project_id":            "p-prod",
			"__meta_dcs_instance_id":           "0b1c",
			"__meta_dcs_instance_name":         "cache-a",
			"__meta_dcs_engine":                "Redis",
			"__meta_dcs_engine_version":        "6.0",
			"__meta_dcs_instance_status":       "RUNNING",
			"__meta_dcs_spec_code":             "redis.cluster.xu1.large.4",
			"__meta_dcs_az_codes":              ",cn-north-4a,cn-north-4c,",
			"__meta_dcs_enterprise_project_id": "0",
			"__meta_dcs_domain_name":           "redis-0b1c.dcs.example",
			"__meta_dcs_ips":                   ",10.0.0.1,10.0.0.2,",
			"__meta_dcs_port":                  "6379",
			"__meta_dcs_no_password_access":    "false",
			"__meta_dcs_enable_ssl":            "true",
			"__meta_dcs_tag_owner":             "team-a",
			"__meta_dcs_tag_cost_center":       "cc-1",
		},
	}
	if !reflect.DeepEqual(gs[0], want) {
		t.Errorf("got  %+v\nwant %+v", gs[0], want)
	}
	// Unknown settings and empty lists are empty labels, present all the same.
	mc := gs[1].Labels
	if gs[1].Targets[0] != "10.0.1.9:11211" || mc["__meta_dcs_az_codes"] != "" || mc["__meta_dcs_no_password_access"] != "" ||
		mc["__meta_dcs_ips"] != ",10.0.1.9," || len(mc) != 16 {
		t.Errorf("memcached group: %+v", gs[1])
	}
}

func TestSanitizeLabelName(t *testing.T) {
	for in, want := range map[string]string{
		"owner":       "owner",
		"Cost_Center": "Cost_Center",
		"cost-center": "cost_center",
		"a.b/c:d":     "a_b_c_d",
		"1st":         "1st",
		"":            "",
		"with space":  "with_space",
		"ключ":        "____", // one per character
		"é\xffx":      "__x",  // and one per byte that is not UTF-8
		"🙂\"\\\n":     "____",
	} {
		if got := discovery.SanitizeLabelName(in); got != want {
			t.Errorf("SanitizeLabelName(%q) = %q, want %q", in, got, want)
		}
	}
}

// Tag keys that sanitise to one name keep the first tag's value; hostile
// values come through intact.
func TestTagLabels(t *testing.T) {
	in := redis
	in.Tags = []dcsapi.Tag{
		{Key: "team-name", Value: "first"}, {Key: "team.name", Value: "second"},
		{Key: "квота", Value: "\"quoted\" \\ and\nnewline, \u2028 and 日本"},
		{Key: "bad\xffbyte", Value: "v\xff"},
	}
	st := &inputs{}
	st.set(fresh("prod", in))
	gs := groups(t, discovery.NewHandler(st.get), "")
	l := gs[0].Labels
	if l["__meta_dcs_tag_team_name"] != "first" {
		t.Errorf("duplicate sanitised key: got %q", l["__meta_dcs_tag_team_name"])
	}
	if l["__meta_dcs_tag______"] != "\"quoted\" \\ and\nnewline, \u2028 and 日本" {
		t.Errorf("hostile value: got %q", l["__meta_dcs_tag______"])
	}
	if l["__meta_dcs_tag_bad_byte"] != "v\uFFFD" {
		t.Errorf("value not UTF-8: got %q", l["__meta_dcs_tag_bad_byte"])
	}
	if len(l) != 16+3 {
		t.Errorf("got %d labels, want 19: %v", len(l), l)
	}
}

// Only an instance with an IP address and a port gets a group; the first
// IP address goes in __address__, IPv6 in brackets.
func TestAddresses(t *testing.T) {
	with := func(id string, port int, ips ...string) dcsapi.Instance {
		return dcsapi.Instance{ID: id, Engine: "Redis", IPs: ips, Port: port}
	}
	st := &inputs{}
	st.set(fresh("prod",
		with("no-ip", 6379),
		with("no-port", 0, "10.0.0.1"),
		with("not-an-ip", 6379, "redis.internal"),
		with("second-is-ip", 6380, "garbage", "10.0.0.2"),
		with("v6", 6379, "fd00::1"),
		with("plain", 6379, "10.0.0.3"),
	))
	h := discovery.NewHandler(st.get)
	gs := groups(t, h, "")
	var got []string
	for _, g := range gs {
		got = append(got, g.Labels["__meta_dcs_instance_id"]+"="+strings.Join(g.Targets, " "))
	}
	want := []string{"second-is-ip=10.0.0.2:6380", "v6=[fd00::1]:6379", "plain=10.0.0.3:6379"}
	if !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	s := h.Summaries()
	if len(s) != 1 || s[0].Offered != 3 || s[0].NoAddress != 3 || s[0].State != discovery.Fresh {
		t.Errorf("summary %+v", s)
	}
}

func TestFilters(t *testing.T) {
	redis2 := redis
	redis2.ID, redis2.Status = "r2", "RESTARTING"
	st := &inputs{}
	st.set(fresh("prod", redis, memcached), fresh("staging", redis2))
	h := discovery.NewHandler(st.get)
	for _, tc := range []struct {
		query string
		want  []string
	}{
		{"", []string{"0b1c", "9f8e", "r2"}},
		{"?level=instance", []string{"0b1c", "9f8e", "r2"}},
		{"?target=prod", []string{"0b1c", "9f8e"}},
		{"?target=prod&target=staging", []string{"0b1c", "9f8e", "r2"}},
		{"?engine=redis", []string{"0b1c", "r2"}},
		{"?engine=REDIS", []string{"0b1c", "r2"}},
		{"?engine=Memcached", []string{"9f8e"}},
		{"?engine=redis&engine=memcached", []string{"0b1c", "9f8e", "r2"}},
		{"?engine=memcached&engine=redis", []string{"0b1c", "9f8e", "r2"}}, // the order never depends on the query
		{"?engine=redis&engine=REDIS", []string{"0b1c", "r2"}},
		{"?engine=mongodb", nil},
		{"?status=running", []string{"0b1c"}},
		{"?status=RUNNING&status=ERROR", []string{"0b1c", "9f8e"}},
		{"?engine=redis&status=RESTARTING", []string{"r2"}},
		{"?target=staging&engine=memcached", nil},
	} {
		if got := ids(groups(t, h, tc.query)); !slices.Equal(got, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.query, got, tc.want)
		}
	}
}

func TestBadRequests(t *testing.T) {
	st := &inputs{}
	st.set(fresh("prod", redis))
	h := discovery.NewHandler(st.get)
	for query, want := range map[string]string{
		"?target=nope":     `unknown target "nope"`,
		"?engnie=redis":    `unknown parameter "engnie"`,
		"?level=shard":     `unknown level "shard"`,
		"?target=prod&x=1": `unknown parameter "x"`,
	} {
		code, _, body := get(t, h, query)
		if code != http.StatusBadRequest || !strings.Contains(body, want) {
			t.Errorf("%s: got %d %q, want 400 with %q", query, code, body, want)
		}
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/sd", nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST: got %d", rec.Code)
	}
}

// A selected target that never listed, or whose listing is stale, fails
// the answer with 503 naming it; one not selected or turned off does not.
func TestUnusableListings(t *testing.T) {
	never := discovery.Target{Name: "never", Enabled: true, StaleAfter: time.Minute}
	stale := fresh("stale", memcached)
	stale.ListedAt, stale.StaleAfter = time.Now().Add(-10*time.Minute), 5*time.Minute
	off := discovery.Target{Name: "off", Instances: []dcsapi.Instance{redis}} // listing off, never listed
	offListed := fresh("off-listed", redis)
	offListed.Enabled = false
	st := &inputs{}
	st.set(fresh("prod", redis), never, stale, off, offListed)
	h := discovery.NewHandler(st.get)

	code, ctype, body := get(t, h, "")
	if code != http.StatusServiceUnavailable || !strings.HasPrefix(ctype, "text/plain") ||
		!strings.Contains(body, "never (no listing has succeeded yet)") ||
		!regexp.MustCompile(`stale \(listed 10m\d+s ago, stale after 5m0s\)`).MatchString(body) ||
		strings.Contains(body, "prod") || strings.Contains(body, "off") {
		t.Errorf("got %d %s %q", code, ctype, body)
	}
	code, _, body = get(t, h, "?target=stale&engine=redis")
	if code != http.StatusServiceUnavailable || strings.Contains(body, "never") {
		t.Errorf("stale alone: got %d %q", code, body)
	}
	if got := ids(groups(t, h, "?target=prod&target=off&target=off-listed")); !slices.Equal(got, []string{"0b1c"}) {
		t.Errorf("targets with listing off are left out: got %v", got)
	}
	// A stale bound of 0 never goes stale.
	old := fresh("old", redis)
	old.ListedAt, old.StaleAfter = time.Now().Add(-1000*time.Hour), 0
	st.set(old, off)
	if got := ids(groups(t, h, "")); !slices.Equal(got, []string{"0b1c"}) {
		t.Errorf("no bound: got %v", got)
	}
	var states []string
	st.set(fresh("prod", redis), never, stale, off)
	for _, s := range h.Summaries() {
		states = append(states, fmt.Sprintf("%s:%s:%d", s.Target, s.State, s.Offered))
	}
	if want := []string{"prod:fresh:1", "never:never listed:0", "stale:stale:1", "off:off:0"}; !slices.Equal(states, want) {
		t.Errorf("summaries %v, want %v", states, want)
	}
}

// The groups are built once per listing: the same key serves the same
// groups, whatever the slice holds by now, and a new key rebuilds them.
func TestBuiltOncePerListing(t *testing.T) {
	tgt := fresh("prod", redis)
	st := &inputs{}
	st.set(tgt)
	h := discovery.NewHandler(st.get)
	h.Prepare()
	tgt.Instances = []dcsapi.Instance{redis, memcached}
	st.set(tgt)
	if got := ids(groups(t, h, "")); !slices.Equal(got, []string{"0b1c"}) {
		t.Errorf("same listing key: got %v, want the groups built before", got)
	}
	tgt.Generation++
	st.set(tgt)
	if got := ids(groups(t, h, "")); !slices.Equal(got, []string{"0b1c", "9f8e"}) {
		t.Errorf("new generation: got %v", got)
	}
	tgt.Instances = []dcsapi.Instance{memcached}
	tgt.ListedAt = tgt.ListedAt.Add(time.Second)
	st.set(tgt)
	if got := ids(groups(t, h, "?engine=memcached")); !slices.Equal(got, []string{"9f8e"}) {
		t.Errorf("new listing time: got %v", got)
	}
}

// An empty selection is an empty array, a HEAD has the length of the GET.
func TestEmptyAndHead(t *testing.T) {
	st := &inputs{}
	st.set(fresh("prod"))
	h := discovery.NewHandler(st.get)
	if code, _, body := get(t, h, ""); code != 200 || body != "[]" {
		t.Errorf("empty: %d %q", code, body)
	}
	st.set(fresh("prod", redis, memcached))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodHead, "/sd", nil))
	_, _, body := get(t, h, "")
	if rec.Header().Get("Content-Length") != fmt.Sprint(len(body)) || rec.Body.Len() != 0 {
		t.Errorf("HEAD: length %s, body %d bytes; GET has %d", rec.Header().Get("Content-Length"), rec.Body.Len(), len(body))
	}
}

// fetch asks srv for /sd with the query, sending Accept-Encoding as given
// (Go's transport then leaves the body as it came), and returns the
// response's header and body.
func fetch(t *testing.T, srv *httptest.Server, query, acceptEncoding string) (http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, srv.URL+query, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept-Encoding", acceptEncoding)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.ContentLength != int64(len(b)) {
		t.Errorf("%s (%s): Content-Length %d, body %d bytes", query, acceptEncoding, resp.ContentLength, len(b))
	}
	return resp.Header, b
}

// Over HTTP, the declared length is the body's, filtered or not; a client
// that takes gzip gets the same answer compressed.
func TestContentLengthAndGzip(t *testing.T) {
	st := &inputs{}
	st.set(fresh("a", redis, memcached), fresh("b", redis))
	srv := httptest.NewServer(discovery.NewHandler(st.get))
	defer srv.Close()
	for _, q := range []string{"", "?engine=redis", "?engine=memcached&engine=redis", "?status=ERROR", "?status=running&engine=REDIS",
		"?engine=none", "?target=b&engine=memcached", "?target=b"} {
		header, plain := fetch(t, srv, q, "identity")
		if header.Get("Content-Encoding") != "" || !json.Valid(plain) {
			t.Errorf("%s: encoding %q, %q", q, header.Get("Content-Encoding"), plain)
		}
		header, body := fetch(t, srv, q, "br;q=1.0, gzip;q=0.8")
		if header.Get("Content-Encoding") != "gzip" || header.Get("Vary") != "Accept-Encoding" {
			t.Errorf("%s: encoding %q, vary %q", q, header.Get("Content-Encoding"), header.Get("Vary"))
			continue
		}
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		unzipped, err := io.ReadAll(zr)
		if err != nil || !bytes.Equal(unzipped, plain) {
			t.Errorf("%s: gzip answer %q (%v), plain %q", q, unzipped, err, plain)
		}
	}
	for _, refused := range []string{"gzip;q=0", "gzip; q=0.000, deflate", "deflate", ""} {
		if header, _ := fetch(t, srv, "", refused); header.Get("Content-Encoding") != "" {
			t.Errorf("Accept-Encoding %q got %q", refused, header.Get("Content-Encoding"))
		}
	}
	if header, _ := fetch(t, srv, "", "*"); header.Get("Content-Encoding") != "gzip" {
		t.Errorf("Accept-Encoding * got %q", header.Get("Content-Encoding"))
	}
}

// Requests and summaries while new listings arrive each see one whole
// listing, old or new (run with -race).
func TestConcurrentListings(t *testing.T) {
	tgt := fresh("prod", redis)
	st := &inputs{}
	st.set(tgt)
	h := discovery.NewHandler(st.get)
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/sd?engine=redis&engine=memcached", nil))
				var gs []group
				if err := json.Unmarshal(rec.Body.Bytes(), &gs); err != nil || rec.Code != 200 || len(gs) < 1 || len(gs) > 2 {
					t.Errorf("%d %v: %d groups", rec.Code, err, len(gs))
					return
				}
				_ = h.Summaries()
			}
		}()
	}
	for i := 0; i < 50; i++ {
		tgt.Generation++
		if i%2 == 0 {
			tgt.Instances = []dcsapi.Instance{redis, memcached}
		} else {
			tgt.Instances = []dcsapi.Instance{redis}
		}
		st.set(tgt)
	}
	wg.Wait()
}

// Groups come by engine, each engine where it first appears in the
// listing, then the same way by status, then in the listing's order.
func TestGroupOrder(t *testing.T) {
	with := func(id, engine, status string) dcsapi.Instance {
		return dcsapi.Instance{ID: id, Engine: engine, Status: status, IPs: []string{"10.0.0.1"}, Port: 6379}
	}
	st := &inputs{}
	st.set(fresh("prod", with("a", "Redis", "RUNNING"), with("b", "Memcached", "RUNNING"), with("c", "redis", "ERROR"),
		with("d", "Memcached", "RUNNING"), with("e", "REDIS", "running"), with("f", "Redis", "ERROR")))
	h := discovery.NewHandler(st.get)
	for query, want := range map[string][]string{
		"":                               {"a", "e", "c", "f", "b", "d"},
		"?engine=Redis":                  {"a", "e", "c", "f"},
		"?engine=memcached":              {"b", "d"},
		"?status=running":                {"a", "e", "b", "d"},
		"?status=ERROR&engine=redis":     {"c", "f"},
		"?status=error&status=RUNNING":   {"a", "e", "c", "f", "b", "d"},
		"?engine=memcached&status=ERROR": nil,
	} {
		if got := ids(groups(t, h, query)); !slices.Equal(got, want) {
			t.Errorf("%q: got %v, want %v", query, got, want)
		}
	}
}
