package discovery_test

import (
	"encoding/json"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/dcs-exporter/dcs_exporter/dcsapi"
	"github.com/dcs-exporter/dcs_exporter/discovery"
)

// recipeFile is the README's scrape configuration for redis_exporter and
// memcached_exporter; the end-to-end tier runs it with Prometheus.
const recipeFile = "../testdata/discovery/scrape_configs.yml"

// clusterRecipeFile is the README's job for each node of Redis Cluster.
const clusterRecipeFile = "../testdata/discovery/cluster_scrape_configs.yml"

// scrapeConfig is the part of a Prometheus scrape_config the recipe uses.
type scrapeConfig struct {
	JobName       string `yaml:"job_name"`
	MetricsPath   string `yaml:"metrics_path"`
	HTTPSDConfigs []struct {
		URL             string `yaml:"url"`
		RefreshInterval string `yaml:"refresh_interval"`
	} `yaml:"http_sd_configs"`
	RelabelConfigs []relabelConfig `yaml:"relabel_configs"`
}

type relabelConfig struct {
	SourceLabels []string `yaml:"source_labels"`
	Separator    *string  `yaml:"separator"`
	Regex        *string  `yaml:"regex"`
	TargetLabel  string   `yaml:"target_label"`
	Replacement  *string  `yaml:"replacement"`
	Action       string   `yaml:"action"`
}

// apply runs the relabelling as Prometheus does for the replace, keep and
// drop actions (the recipe's), with its defaults: separator ";", regex
// "(.*)" anchored at both ends, replacement "$1"; an empty result removes
// the label. It reports false when the target is dropped.
func (r relabelConfig) apply(t *testing.T, lset map[string]string) bool {
	t.Helper()
	var values []string
	for _, l := range r.SourceLabels {
		values = append(values, lset[l])
	}
	sep, expr, repl := ";", "(.*)", "$1"
	if r.Separator != nil {
		sep = *r.Separator
	}
	if r.Regex != nil {
		expr = *r.Regex
	}
	if r.Replacement != nil {
		repl = *r.Replacement
	}
	re := regexp.MustCompile("^(?:" + expr + ")$")
	src := strings.Join(values, sep)
	m := re.FindStringSubmatchIndex(src)
	switch r.Action {
	case "keep":
		return m != nil
	case "drop":
		return m == nil
	case "", "replace":
		if m == nil {
			return true
		}
		if v := string(re.ExpandString(nil, repl, src, m)); v != "" {
			lset[r.TargetLabel] = v
		} else {
			delete(lset, r.TargetLabel)
		}
		return true
	}
	t.Fatalf("relabel action %q is not simulated", r.Action)
	return false
}

// scrapes reads a recipe, checks the README shows it as it is, runs its
// jobs against h and returns, per job, the targets Prometheus would keep.
func scrapes(t *testing.T, file string, h http.Handler) map[string][]map[string]string {
	t.Helper()
	recipe, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), "```yaml\n"+string(recipe)+"```\n") {
		t.Errorf("README.md does not show %s as it is", file)
	}
	var cfg struct {
		ScrapeConfigs []scrapeConfig `yaml:"scrape_configs"`
	}
	dec := yaml.NewDecoder(strings.NewReader(string(recipe)))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil {
		t.Fatalf("%s: %v", file, err)
	}

	got := map[string][]map[string]string{}
	for _, job := range cfg.ScrapeConfigs {
		if job.MetricsPath != "/scrape" || len(job.HTTPSDConfigs) != 1 {
			t.Fatalf("job %s: metrics_path %q, %d http_sd_configs", job.JobName, job.MetricsPath, len(job.HTTPSDConfigs))
		}
		u, err := url.Parse(job.HTTPSDConfigs[0].URL)
		if err != nil || u.Path != "/sd" {
			t.Fatalf("job %s: url %q", job.JobName, job.HTTPSDConfigs[0].URL)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, u.RequestURI(), nil))
		var groups []group
		if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &groups) != nil {
			t.Fatalf("job %s: /sd answered %d %q", job.JobName, rec.Code, rec.Body)
		}
		for _, g := range groups {
			lset := maps.Clone(g.Labels)
			lset["__address__"] = g.Targets[0]
			kept := true
			for _, r := range job.RelabelConfigs {
				if kept = r.apply(t, lset); !kept {
					break
				}
			}
			if kept {
				// What Prometheus keeps of a target: its labels and the
				// scrape's address and parameter.
				maps.DeleteFunc(lset, func(k, _ string) bool {
					return strings.HasPrefix(k, "__") && k != "__address__" && k != "__param_target"
				})
				got[job.JobName] = append(got[job.JobName], lset)
			}
		}
	}
	return got
}

// TestReadmeRecipe: the README shows the recipe file as it is, and the
// recipe, run on what /sd serves, scrapes each Redis instance through
// redis_exporter as redis://IP:PORT (its password file's key) and each
// password-free Memcached instance through memcached_exporter, with the
// instance's name and owner tag.
func TestReadmeRecipe(t *testing.T) {
	owner := func(v string) []dcsapi.Tag {
		return []dcsapi.Tag{{Key: "owner", Value: v}, {Key: "env", Value: "prod"}}
	}
	yes, no := true, false
	fleet := []dcsapi.Instance{
		{ID: "r1", Name: "cache-a", Engine: "Redis", Status: "RUNNING", IPs: []string{"10.0.0.1"}, Port: 6379, NoPasswordAccess: &no, Tags: owner("team-a")},
		{ID: "r2", Name: "cache-b", Engine: "Redis", Status: "RUNNING", IPs: []string{"10.0.0.2", "10.0.0.3"}, Port: 6380, NoPasswordAccess: &yes, Tags: owner("team-b")},
		{ID: "r3", Name: "cache-c", Engine: "Redis", Status: "RUNNING", IPs: []string{"10.0.0.4"}, Port: 6379, NoPasswordAccess: &no},
		{ID: "m1", Name: "mc-open", Engine: "Memcached", Status: "RUNNING", IPs: []string{"10.0.1.1"}, Port: 11211, NoPasswordAccess: &yes, Tags: owner("team-c")},
		{ID: "m2", Name: "mc-locked", Engine: "Memcached", Status: "RUNNING", IPs: []string{"10.0.1.2"}, Port: 11211, NoPasswordAccess: &no},
	}
	tgt := fresh("prod", fleet...)
	h := discovery.NewHandler(func() []discovery.Target { return []discovery.Target{tgt} })
	got := scrapes(t, recipeFile, h)
	want := map[string][]map[string]string{
		"dcs-redis": {
			{"__address__": "redis-exporter:9121", "__param_target": "redis://10.0.0.1:6379", "instance": "redis://10.0.0.1:6379",
				"target": "prod", "instance_id": "r1", "name": "cache-a", "tag_owner": "team-a"},
			{"__address__": "redis-exporter:9121", "__param_target": "redis://10.0.0.2:6380", "instance": "redis://10.0.0.2:6380",
				"target": "prod", "instance_id": "r2", "name": "cache-b", "tag_owner": "team-b"},
			{"__address__": "redis-exporter:9121", "__param_target": "redis://10.0.0.4:6379", "instance": "redis://10.0.0.4:6379",
				"target": "prod", "instance_id": "r3", "name": "cache-c"},
		},
		"dcs-memcached": {
			{"__address__": "memcached-exporter:9150", "__param_target": "10.0.1.1:11211", "instance": "10.0.1.1:11211",
				"target": "prod", "instance_id": "m1", "name": "mc-open", "tag_owner": "team-c"},
		},
	}
	for job, targets := range want {
		if !slices.EqualFunc(got[job], targets, maps.Equal) {
			t.Errorf("job %s scrapes\n%v\nwant\n%v", job, got[job], targets)
		}
	}
	if len(got) != len(want) {
		t.Errorf("jobs %v, want %v", slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(want)))
	}
}

// TestReadmeClusterRecipe: the README shows the Redis Cluster job as it is,
// and run on /sd?level=node it scrapes each reachable node of the Cluster
// instance through redis_exporter, and nothing of the master/standby one.
func TestReadmeClusterRecipe(t *testing.T) {
	cluster := dcsapi.Instance{ID: "c1", Name: "cluster-a", Engine: "Redis", Status: "RUNNING",
		SpecCode: "redis.cluster.xu1.large.r2.4", IPs: []string{"10.0.0.1"}, Port: 6379}
	ha := dcsapi.Instance{ID: "h1", Name: "ha-a", Engine: "Redis", Status: "RUNNING",
		SpecCode: "redis.ha.xu1.large.r2.1", IPs: []string{"10.0.1.1"}, Port: 6379}
	server := func(id, group, typ, ip string) discovery.Node {
		return discovery.Node{ID: id, GroupID: group, GroupName: "group-" + group, Type: typ, Role: "redis-server",
			Status: "Active", IP: ip, Port: 6379, IsAccess: true}
	}
	tgt := fresh("prod", cluster, ha)
	tgt.NodesEnabled, tgt.NodesAt = true, time.Now()
	tgt.Nodes = []discovery.InstanceNodes{
		{InstanceID: "c1", Nodes: []discovery.Node{
			server("n1", "0", "master", "10.0.0.11"), server("n2", "0", "slave", "10.0.0.12"),
			server("n3", "1", "master", "10.0.0.13"),
		}},
		{InstanceID: "h1", Nodes: []discovery.Node{server("n4", "0", "master", "10.0.1.11")}},
	}
	h := discovery.NewHandler(func() []discovery.Target { return []discovery.Target{tgt} })
	got := scrapes(t, clusterRecipeFile, h)
	node := func(ip, shard, typ string) map[string]string {
		return map[string]string{"__address__": "redis-exporter:9121", "__param_target": "redis://" + ip + ":6379",
			"instance": "redis://" + ip + ":6379", "target": "prod", "instance_id": "c1", "name": "cluster-a",
			"shard": "group-" + shard, "node_type": typ}
	}
	want := []map[string]string{node("10.0.0.11", "0", "master"), node("10.0.0.12", "0", "slave"), node("10.0.0.13", "1", "master")}
	if len(got) != 1 || !slices.EqualFunc(got["dcs-redis-nodes"], want, maps.Equal) {
		t.Errorf("scrapes\n%v\nwant dcs-redis-nodes\n%v", got, want)
	}
}
