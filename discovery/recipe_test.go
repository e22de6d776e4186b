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

	"go.yaml.in/yaml/v3"

	"github.com/dcs-exporter/dcs_exporter/dcsapi"
	"github.com/dcs-exporter/dcs_exporter/discovery"
)

// recipeFile is the README's scrape configuration for redis_exporter and
// memcached_exporter; the end-to-end tier runs it with Prometheus.
const recipeFile = "../testdata/discovery/scrape_configs.yml"

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

// TestReadmeRecipe: the README shows the recipe file as it is, and the
// recipe, run on what /sd serves, scrapes each Redis instance through
// redis_exporter as redis://IP:PORT (its password file's key) and each
// password-free Memcached instance through memcached_exporter, with the
// instance's name and owner tag.
func TestReadmeRecipe(t *testing.T) {
	recipe, err := os.ReadFile(recipeFile)
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), "```yaml\n"+string(recipe)+"```\n") {
		t.Errorf("README.md does not show %s as it is", recipeFile)
	}
	var cfg struct {
		ScrapeConfigs []scrapeConfig `yaml:"scrape_configs"`
	}
	dec := yaml.NewDecoder(strings.NewReader(string(recipe)))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil {
		t.Fatalf("%s: %v", recipeFile, err)
	}

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
