package config

import (
	"log/slog"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// Each of the three keys may be inline or a file, independently (issue 11).
func TestCredentialForms(t *testing.T) {
	dir := testDir(t)
	type form struct{ inline, file string } // the two ways to write a key
	access := []form{{"access_key: SUPERSECRET-AK", ""}, {"", "access_key_file: ak"}}
	secret := []form{{"secret_key: SUPERSECRET-SK", ""}, {"", "secret_key_file: sk"}}
	token := []form{{}, {"security_token: SUPERSECRET-T", ""}, {"", "security_token_file: token"}}
	cases := 0
	for _, a := range access {
		for _, s := range secret {
			for _, tok := range token {
				var keys []string
				for _, k := range []string{a.inline, a.file, s.inline, s.file, tok.inline, tok.file} {
					if k != "" {
						keys = append(keys, k)
					}
				}
				t.Run(strings.Join(keys, ","), func(t *testing.T) {
					got := mustParse(t, dir, creds(keys...)).Targets[0].Credentials
					want := Credentials{MetadataEndpoint: DefaultMetadataEndpoint}
					if a.inline != "" {
						want.AccessKey = "SUPERSECRET-AK"
					} else {
						want.AccessKeyFile = filepath.Join(dir, "ak")
					}
					if s.inline != "" {
						want.SecretKey = "SUPERSECRET-SK"
					} else {
						want.SecretKeyFile = filepath.Join(dir, "sk")
					}
					if tok.inline != "" {
						want.SecurityToken = "SUPERSECRET-T"
					} else if tok.file != "" {
						want.SecurityTokenFile = filepath.Join(dir, "token")
					}
					if got != want {
						t.Errorf("got  %#v\nwant %#v", got, want)
					}
				})
				cases++
			}
		}
	}
	if cases != 12 {
		t.Fatalf("%d mixes, want 12", cases)
	}
}

// Two forms of one key, and keys beside env or metadata, are refused; the
// error names the file, the line and both keys, and never a value.
func TestCredentialConflicts(t *testing.T) {
	dir := testDir(t)
	tests := []struct{ name, src, want string }{
		{"access_key twice", creds("access_key: SUPERSECRET-AK", "access_key_file: ak", "secret_key: SUPERSECRET-SK"),
			`dcs_exporter.yml:4: targets[0].credentials: access_key cannot be combined with access_key_file: give each key inline or as a file, not both`},
		{"secret_key twice", creds("access_key_file: ak", "secret_key_file: sk", "secret_key: SUPERSECRET-SK"),
			`dcs_exporter.yml:4: targets[0].credentials: secret_key cannot be combined with secret_key_file: give each key inline or as a file, not both`},
		{"security_token twice", creds("access_key: SUPERSECRET-AK", "secret_key: SUPERSECRET-SK", "security_token_file: token", "security_token: SUPERSECRET-T"),
			`dcs_exporter.yml:4: targets[0].credentials: security_token cannot be combined with security_token_file: give each key inline or as a file, not both`},
		{"mixed keys and env", creds("access_key: SUPERSECRET-AK", "secret_key_file: sk", "env: true"),
			`dcs_exporter.yml:4: targets[0].credentials: access_key, secret_key_file cannot be combined with env: true: set exactly one credential source`},
		{"token file and metadata", creds("metadata: true", "security_token_file: token"),
			`dcs_exporter.yml:4: targets[0].credentials: security_token_file cannot be combined with metadata: true: set exactly one credential source`},
		{"in defaults", doc("defaults:", "  credentials:", "    secret_key_file: sk", "    secret_key: SUPERSECRET-SK", "targets: []"),
			`dcs_exporter.yml:2: defaults.credentials: secret_key cannot be combined with secret_key_file: give each key inline or as a file, not both`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseIn(dir, tt.src)
			if err == nil {
				t.Fatalf("accepted, want %s", tt.want)
			}
			if got := errText(err, dir); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
			if strings.Contains(err.Error(), secretMark) {
				t.Errorf("error leaks a secret: %s", err)
			}
		})
	}
}

func TestDefaultEndpoints(t *testing.T) {
	dir := testDir(t)
	cfg := mustParse(t, dir, doc(
		"defaults: {credentials: {env: true}}",
		"targets:",
		"  - {name: beijing, region: cn-north-4}",
		"  - {name: dublin, region: eu-west-101}",
		"  - {name: manila, region: ap-southeast-5}",
		"  - {name: lab, region: xx-lab-1}",
		"  - {name: otc, region: eu-de, endpoint: 'https://dcs.eu-de.otc.t-systems.com', iam_endpoint: 'https://iam.eu-de.otc.t-systems.com'}",
		"  - {name: half, region: eu-nl, endpoint: 'https://dcs.eu-nl.otc.t-systems.com'}",
	))
	want := map[string][2]string{
		"beijing": {"https://dcs.cn-north-4.myhuaweicloud.com", "https://iam.cn-north-4.myhuaweicloud.com"},
		"dublin":  {"https://dcs.eu-west-101.myhuaweicloud.com", "https://iam.eu-west-101.myhuaweicloud.eu"},
		"manila":  {"https://dcs.ap-southeast-5.myhuaweicloud.com", "https://iam.myhuaweicloud.com"},
		"lab":     {"https://dcs.xx-lab-1.myhuaweicloud.com", "https://iam.xx-lab-1.myhuaweicloud.com"},
		"otc":     {"https://dcs.eu-de.otc.t-systems.com", "https://iam.eu-de.otc.t-systems.com"},
		"half":    {"https://dcs.eu-nl.otc.t-systems.com", "https://iam.eu-nl.myhuaweicloud.com"},
	}
	for _, tgt := range cfg.Targets {
		if got := [2]string{tgt.Endpoint, tgt.IAMEndpoint}; got != want[tgt.Name] {
			t.Errorf("%s: endpoints %q, want %q", tgt.Name, got, want[tgt.Name])
		}
	}
	// Only the endpoints guessed for an unknown region are warned about.
	wantNotes := []Note{
		{slog.LevelWarn, `dcs_exporter.yml:6: targets[3].region: target "lab": region "xx-lab-1" is not in the region tables of the official SDK; guessing https://dcs.xx-lab-1.myhuaweicloud.com and https://iam.xx-lab-1.myhuaweicloud.com (set endpoint and iam_endpoint if that is wrong)`},
		{slog.LevelWarn, `dcs_exporter.yml:8: targets[5].region: target "half": region "eu-nl" is not in the region tables of the official SDK; guessing https://iam.eu-nl.myhuaweicloud.com (set endpoint and iam_endpoint if that is wrong)`},
	}
	if got := notesIn(cfg, dir); !reflect.DeepEqual(got, wantNotes) {
		t.Errorf("notes:\n got %q\nwant %q", got, wantNotes)
	}

	// A region given in defaults is warned about at its own line.
	cfg = mustParse(t, dir, doc("defaults:", "  region: xx-lab-2", "  credentials: {env: true}", "targets:", "  - name: a"))
	if got := notesIn(cfg, dir); len(got) != 1 || !strings.HasPrefix(got[0].Msg, `dcs_exporter.yml:2: defaults.region: target "a": region "xx-lab-2"`) {
		t.Errorf("notes = %q", got)
	}
}

// notesIn returns cfg's notes with dir removed from their texts.
func notesIn(cfg *Config, dir string) []Note {
	var notes []Note
	for _, n := range cfg.Notes {
		notes = append(notes, Note{n.Level, strings.ReplaceAll(n.Msg, dir+string(filepath.Separator), "")})
	}
	return notes
}

func TestEndpointVersionPath(t *testing.T) {
	dir := testDir(t)
	tests := []struct {
		name, endpoint, iam string // as written
		wantDCS, wantIAM    string
		notes               []string // the fields with an info note
	}{
		{"none", "https://dcs.example.com/", "https://iam.example.com", "https://dcs.example.com", "https://iam.example.com", nil},
		{"v1.0 and v3", "https://dcs.eu-de.otc.t-systems.com/v1.0", "https://iam.eu-de.otc.t-systems.com/v3",
			"https://dcs.eu-de.otc.t-systems.com", "https://iam.eu-de.otc.t-systems.com", []string{"endpoint", "iam_endpoint"}},
		{"v2 and v3.0 with slashes", "https://dcs.example.com/v2/", "https://iam.example.com:8443/v3.0//",
			"https://dcs.example.com", "https://iam.example.com:8443", []string{"endpoint", "iam_endpoint"}},
		{"prefix kept", "https://gw.example.com/dcs", "https://gw.example.com/iam/v3",
			"https://gw.example.com/dcs", "https://gw.example.com/iam", []string{"iam_endpoint"}},
		{"prefix and version", "https://gw.example.com/cloud/dcs/v2", "https://gw.example.com/cloud/iam",
			"https://gw.example.com/cloud/dcs", "https://gw.example.com/cloud/iam", []string{"endpoint"}},
		{"other service's version kept", "https://dcs.example.com/v3", "https://iam.example.com/v2",
			"https://dcs.example.com/v3", "https://iam.example.com/v2", nil},
		{"look-alikes kept", "https://v2", "https://iam.example.com/xv3",
			"https://v2", "https://iam.example.com/xv3", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := mustParse(t, dir, doc("targets:", "  - name: a", "    region: cn-north-4", "    credentials: {env: true}",
				"    endpoint: "+tt.endpoint, "    iam_endpoint: "+tt.iam))
			if got := cfg.Targets[0]; got.Endpoint != tt.wantDCS || got.IAMEndpoint != tt.wantIAM {
				t.Errorf("endpoints %q, %q; want %q, %q", got.Endpoint, got.IAMEndpoint, tt.wantDCS, tt.wantIAM)
			}
			var fields []string
			for _, n := range notesIn(cfg, dir) {
				if n.Level != slog.LevelInfo || !strings.Contains(n.Msg, "dropped /v") {
					t.Errorf("unexpected note %+v", n)
				}
				_, rest, _ := strings.Cut(n.Msg, "targets[0].")
				field, _, _ := strings.Cut(rest, ":")
				fields = append(fields, field)
			}
			if !reflect.DeepEqual(fields, tt.notes) {
				t.Errorf("notes on %q, want %q: %q", fields, tt.notes, cfg.Notes)
			}
		})
	}

	// A version on a default endpoint is noted once, at the defaults' line.
	cfg := mustParse(t, dir, doc("defaults:", "  iam_endpoint: https://iam.eu-de.otc.t-systems.com/v3", "  credentials: {env: true}",
		"targets:", "  - {name: a, region: eu-de, endpoint: 'https://dcs.eu-de.otc.t-systems.com'}",
		"  - {name: b, region: eu-de, endpoint: 'https://dcs.eu-de.otc.t-systems.com'}"))
	want := []Note{{slog.LevelInfo, "dcs_exporter.yml:2: defaults.iam_endpoint: dropped /v3 from the end of the URL, " +
		"since the exporter adds the API version to each request: using https://iam.eu-de.otc.t-systems.com"}}
	if got := notesIn(cfg, dir); !reflect.DeepEqual(got, want) {
		t.Errorf("notes:\n got %q\nwant %q", got, want)
	}
	for _, tgt := range cfg.Targets {
		if tgt.IAMEndpoint != "https://iam.eu-de.otc.t-systems.com" {
			t.Errorf("%s: IAMEndpoint %q", tgt.Name, tgt.IAMEndpoint)
		}
	}
}

func TestInstanceTags(t *testing.T) {
	dir := testDir(t)
	cfg := mustParse(t, dir, doc(
		"defaults:",
		"  credentials: {env: true}",
		"  instance_tags: [owner, cost-center]",
		"targets:",
		"  - {name: inherits, region: cn-north-4}",
		"  - {name: own, region: cn-north-4, instance_tags: [Team.Name, 'app/tier', 部门, 1x]}",
		"  - {name: none, region: cn-north-4, instance_tags: []}",
	))
	want := map[string][]InstanceTag{
		"inherits": {{"owner", "tag_owner"}, {"cost-center", "tag_cost_center"}},
		"own":      {{"Team.Name", "tag_Team_Name"}, {"app/tier", "tag_app_tier"}, {"部门", "tag___"}, {"1x", "tag_1x"}},
		"none":     nil,
	}
	for _, tgt := range cfg.Targets {
		if !reflect.DeepEqual(tgt.InstanceTags, want[tgt.Name]) {
			t.Errorf("%s: InstanceTags = %q, want %q", tgt.Name, tgt.InstanceTags, want[tgt.Name])
		}
	}

	errs := []struct{ name, src, want string }{
		{"same label", target("    instance_tags:", "      - cost-center", "      - owner", "      - cost_center"),
			`dcs_exporter.yml:8: targets[0].instance_tags[2]: tag "cost_center" becomes the label "tag_cost_center", as does tag "cost-center" at line 6`},
		{"listed twice", target("    instance_tags: [owner, owner]"),
			`dcs_exporter.yml:5: targets[0].instance_tags[1]: tag "owner" becomes the label "tag_owner", as does tag "owner" at line 5`},
		{"target label", target("    labels: {tag_owner: x}", "    instance_tags: [owner]"),
			`dcs_exporter.yml:6: targets[0].instance_tags[0]: tag "owner" becomes the label "tag_owner", which target "a" already has`},
		{"defaults' tags and a target's label", doc("defaults:", "  instance_tags: [env, owner]", "targets:",
			"  - name: a", "    region: cn-north-4", inlineCreds, "    labels: {tag_owner: x}"),
			`dcs_exporter.yml:2: defaults.instance_tags[1]: tag "owner" becomes the label "tag_owner", which target "a" already has`},
		{"defaults' label", doc("defaults:", "  labels: {tag_cost_center: x}", "targets:",
			"  - name: a", "    region: cn-north-4", inlineCreds, "    instance_tags: [cost-center]"),
			`dcs_exporter.yml:7: targets[0].instance_tags[0]: tag "cost-center" becomes the label "tag_cost_center", which target "a" already has`},
		{"empty key", target(`    instance_tags: [owner, ""]`), `dcs_exporter.yml:5: targets[0].instance_tags[1]: must not be empty`},
		{"null key", target("    instance_tags: [owner, ~]"), `dcs_exporter.yml:5: targets[0].instance_tags[1]: must not be empty`},
		{"not a list", target("    instance_tags: owner"), `dcs_exporter.yml:5: targets[0].instance_tags: must be a list of tag keys, got a string`},
		{"key a list", target("    instance_tags: [[owner]]"), `dcs_exporter.yml:5: targets[0].instance_tags[0]: must be a string, got a list`},
		{"the info label's new name", target("    labels: {enterprise_project_id: x}"),
			`dcs_exporter.yml:5: targets[0].labels: label name "enterprise_project_id" is already used by the exporter`},
	}
	for _, tt := range errs {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseIn(dir, tt.src)
			if err == nil || errText(err, dir) != tt.want {
				t.Errorf("got  %v\nwant %s", err, tt.want)
			}
		})
	}
}
