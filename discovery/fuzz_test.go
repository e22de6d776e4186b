package discovery_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/dcs-exporter/dcs_exporter/dcsapi"
	"github.com/dcs-exporter/dcs_exporter/discovery"
)

var validLabelName = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

// FuzzGroups feeds hostile tag keys and values, names, addresses and
// ports: every answer must be 200 with a JSON array of groups whose label
// names are valid Prometheus names, each once, whose values are UTF-8 and
// whose one target is a host:port; an instance without an IP address or a
// port must have no group; filters by engine and status select what they
// name; the gzip answer is the plain one compressed. The same holds at
// level=node, with hostile node names and addresses, missing ports and
// roles: only reachable redis-server nodes with an IP and port get a group.
func FuzzGroups(f *testing.F) {
	f.Add("owner", "team-a", "cost-center", "cache-1", "10.0.0.1,10.0.0.2", 6379, "Redis", "10.0.0.11", 6379, "redis-server", true)
	f.Add("", "", "", "", "", 0, "", "", 0, "", false)
	f.Add("a-b", "\"},{\"targets\":[\"evil:1\"]", "a.b", "\\", "fd00::1", 65535, "Memcached", "fd00::2", 65535, "redis-server", true)
	f.Add("\xff\xfe", "\x00\x1f\u2028", "__meta_dcs_target", "\xc3", "not-an-ip", 1, "\"", "fe80::1%eth0", 1, "redis-server", true)
	f.Add("ключ", "日本", "🙂", "\n", " ,10.0.0.3,", -1, "redis", "10.0.0.4", -1, "redis-server", true)
	f.Add("1", "2", "1", "x", "192.168.0.1，192.168.0.2", 70000, "x", "192.168.0.9", 6379, "redis-proxy", true)
	f.Fuzz(func(t *testing.T, key, value, key2, name, ip string, port int, engine, nodeIP string, nodePort int, role string, access bool) {
		in := dcsapi.Instance{
			ID: "id-" + name, Name: name, Engine: engine, Status: value, SpecCode: key,
			AZCodes: []string{key, value}, DomainName: value, Port: port,
			IPs:  strings.Split(ip, ","),
			Tags: []dcsapi.Tag{{Key: key, Value: value}, {Key: key2, Value: name}, {Key: value, Value: key}},
		}
		other := in
		other.ID, other.Engine = "other", value
		tgt := discovery.Target{Name: "t", Enabled: true, ListedAt: time.Now(), Instances: []dcsapi.Instance{in, other, in}}
		h := discovery.NewHandler(func() []discovery.Target { return []discovery.Target{tgt} })
		_, addressed := firstAddress(in)
		// check asks for the query and checks the answer, plain and gzip,
		// holds want groups.
		check := func(query string, want int) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/sd"+query, nil))
			body := rec.Body.Bytes()
			if rec.Code != http.StatusOK || !json.Valid(body) {
				t.Fatalf("%s: %d, not valid JSON: %q", query, rec.Code, body)
			}
			// Compressed, the same answer.
			req := httptest.NewRequest(http.MethodGet, "/sd"+query, nil)
			req.Header.Set("Accept-Encoding", "gzip")
			zrec := httptest.NewRecorder()
			h.ServeHTTP(zrec, req)
			zr, err := gzip.NewReader(zrec.Body)
			if err != nil {
				t.Fatalf("%s: gzip: %v", query, err)
			}
			if unzipped, err := io.ReadAll(zr); err != nil || !bytes.Equal(unzipped, body) {
				t.Fatalf("%s: gzip answer %q (%v), plain %q", query, unzipped, err, body)
			}
			if n := checkGroups(t, body); n != want {
				t.Fatalf("%s: got %d groups, want %d for ips %q port %d, node %q:%d %q access %v",
					query, n, want, in.IPs, port, nodeIP, nodePort, role, access)
			}
		}
		// Unfiltered, and filtered by each engine (the runs of one engine).
		for _, q := range []struct {
			query string
			want  int
		}{
			{"", 3},
			{"?engine=" + url.QueryEscape(engine), countEngine(tgt.Instances, engine)},
			{"?engine=" + url.QueryEscape(value) + "&engine=" + url.QueryEscape(engine), countEngine(tgt.Instances, engine, value)},
			{"?status=" + url.QueryEscape(value), 3}, // every instance has status value
		} {
			if !addressed {
				q.want = 0
			}
			check(q.query, q.want)
		}

		// The nodes of in (listed) and of an instance the listing lacks:
		// the fuzzed node, an always reachable server with the fuzzed
		// address, and a proxy, which is never offered.
		node := discovery.Node{ID: key, Name: name, GroupID: value, GroupName: key2, Type: value, Role: role,
			Status: value, AZ: key, IP: nodeIP, Port: nodePort, IsAccess: access}
		server := node
		server.Role, server.IsAccess = discovery.NodeRoleServer, true
		proxy := node
		proxy.Role = "redis-proxy"
		nodes := []discovery.Node{node, server, proxy}
		tgt.NodesEnabled, tgt.NodesAt = true, time.Now()
		tgt.Nodes = []discovery.InstanceNodes{{InstanceID: in.ID, Nodes: nodes}, {InstanceID: "unlisted", Nodes: nodes}}
		h = discovery.NewHandler(func() []discovery.Target { return []discovery.Target{tgt} })
		perInstance := 0
		for i := range nodes {
			if nodeOffered(nodes[i]) {
				perInstance++
			}
		}
		byEngine := 0
		if strings.EqualFold(engine, in.Engine) {
			byEngine += perInstance
		}
		if strings.EqualFold(engine, "Redis") {
			byEngine += perInstance // the unlisted instance's engine
		}
		check("?level=node", 2*perInstance)
		check("?level=node&engine="+url.QueryEscape(engine), byEngine)
		// The unlisted instance has no status: status= selects it only
		// when value is empty.
		unlistedByStatus := 0
		if value == "" {
			unlistedByStatus = perInstance
		}
		check("?level=node&status="+url.QueryEscape(value), perInstance+unlistedByStatus)
		both := 0
		if strings.EqualFold(engine, in.Engine) {
			both += perInstance
		}
		if strings.EqualFold(engine, "Redis") {
			both += unlistedByStatus
		}
		check("?level=node&target=t&status="+url.QueryEscape(value)+"&engine="+url.QueryEscape(engine), both)
		check("", 0+3*boolInt(addressed))
	})
}

// nodeOffered is the node rule written out plainly.
func nodeOffered(n discovery.Node) bool {
	return n.IsAccess && n.Role == "redis-server" && n.Port >= 1 && n.Port <= 65535 && net.ParseIP(n.IP) != nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// countEngine counts the instances of any of the engines, without regard
// to case.
func countEngine(instances []dcsapi.Instance, engines ...string) int {
	n := 0
	for _, in := range instances {
		for _, e := range engines {
			if strings.EqualFold(in.Engine, e) {
				n++
				break
			}
		}
	}
	return n
}

// firstAddress is the address rule written out plainly.
func firstAddress(in dcsapi.Instance) (string, bool) {
	if in.Port < 1 || in.Port > 65535 {
		return "", false
	}
	for _, ip := range in.IPs {
		if net.ParseIP(ip) != nil {
			return ip, true
		}
	}
	return "", false
}

// checkGroups walks the answer token by token, so that a label name sent
// twice is seen, and returns the number of groups.
func checkGroups(t *testing.T, body []byte) int {
	t.Helper()
	var raw []map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		t.Fatalf("not an array of objects: %v", err)
	}
	for _, g := range raw {
		var targets []string
		if err := json.Unmarshal(g["targets"], &targets); err != nil || len(targets) != 1 {
			t.Fatalf("targets %s: %v", g["targets"], err)
		}
		if host, port, err := net.SplitHostPort(targets[0]); err != nil || net.ParseIP(host) == nil || port == "" {
			t.Fatalf("target %q is no IP:port", targets[0])
		}
		dec := json.NewDecoder(bytes.NewReader(g["labels"]))
		if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
			t.Fatalf("labels %s are not an object", g["labels"])
		}
		seen := map[string]bool{}
		for dec.More() {
			tok, err := dec.Token()
			if err != nil {
				t.Fatal(err)
			}
			name := tok.(string)
			var value string
			if err := dec.Decode(&value); err != nil {
				t.Fatalf("label %q: %v", name, err)
			}
			if !validLabelName.MatchString(name) || !strings.HasPrefix(name, discovery.Prefix) {
				t.Fatalf("invalid label name %q", name)
			}
			if seen[name] {
				t.Fatalf("label %q twice", name)
			}
			seen[name] = true
			if !utf8.ValidString(value) {
				t.Fatalf("label %q: value %q is not UTF-8", name, value)
			}
		}
	}
	return len(raw)
}
