package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// secretMark is part of every inline secret in the tests, so that a leak into
// an error message or dump is easy to spot.
const secretMark = "SUPERSECRET"

const inlineCreds = "    credentials: {access_key: SUPERSECRET-AK, secret_key: SUPERSECRET-SK}"

// doc joins lines into a YAML document; line N of the file is argument N.
func doc(lines ...string) string { return strings.Join(lines, "\n") + "\n" }

// target is a one-target config whose extra lines start at line 5.
func target(extra ...string) string {
	return doc(append([]string{"targets:", "  - name: a", "    region: cn-north-4", inlineCreds}, extra...)...)
}

// creds is a one-target config whose credentials block is at line 4 and
// whose credential keys start at line 5.
func creds(keys ...string) string {
	lines := []string{"targets:", "  - name: a", "    region: cn-north-4", "    credentials:"}
	for _, k := range keys {
		lines = append(lines, "      "+k)
	}
	return doc(lines...)
}

// testDir returns a directory holding the files the test configs refer to:
// ak, sk, token, ca.pem and a subdirectory adir.
func testDir(t testing.TB) string {
	dir := t.TempDir()
	for _, name := range []string{"ak", "sk", "token", "ca.pem"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(name+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "adir"), 0o700); err != nil {
		t.Fatal(err)
	}
	return dir
}

// parseIn parses src as dir/dcs_exporter.yml.
func parseIn(dir, src string) (*Config, error) {
	return Parse([]byte(src), filepath.Join(dir, "dcs_exporter.yml"))
}

// errText returns err's text with dir removed, so expected messages read
// "dcs_exporter.yml:7: ..." whatever the temporary directory is.
func errText(err error, dir string) string {
	return strings.ReplaceAll(err.Error(), dir+string(filepath.Separator), "")
}

func mustParse(t *testing.T, dir, src string) *Config {
	t.Helper()
	cfg, err := parseIn(dir, src)
	if err != nil {
		t.Fatalf("Parse: %s", errText(err, dir))
	}
	return cfg
}

// TestTabsAreNamed: YAML indents with spaces only, and a tab is the most
// common way to break a hand-written config. yaml.v3 reports some such tabs
// at the line before, and calls others a "character that cannot start any
// token"; the error must name the tab's own line, and say "tab".
func TestTabsAreNamed(t *testing.T) {
	const tabMsg = "a tab indents this line; YAML indents with spaces only"
	tests := []struct {
		name, src string
		line      int
	}{
		{"first line", doc("\ttargets: []"), 1},
		{"list item", doc("targets:", "\t- name: a"), 2},
		{"key after a list item", doc("targets:", "  - name: a", "\tregion: cn-north-4"), 3},
		{"key after spaces and a tab", doc("targets:", "  - name: a", " \t   region: cn-north-4"), 3},
		{"nested key", doc("targets:", "  - name: a", "    region: cn-north-4", "    credentials:", "\t  access_key: SUPERSECRET-AK"), 5},
		{"nested key after spaces", doc("targets:", "  - name: a", "    region: cn-north-4", "    credentials:", "      \taccess_key: SUPERSECRET-AK"), 5},
		{"nested label", doc("targets:", "  - name: a", "    labels:", "      x: y", "\t  z: w"), 5},
		{"list item after a target", doc("targets:", "  - name: a", "    region: cn-north-4", "\t- name: b"), 4},
		{"after blank lines and a comment", doc("targets:", "  - name: a", "", "# next", "", "\tregion: x"), 6},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.src), "dcs_exporter.yml")
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("got %v, want a config error", err)
			}
			if e.Line != tc.line || e.Msg != tabMsg {
				t.Errorf("got %s\nwant dcs_exporter.yml:%d: %s", err, tc.line, tabMsg)
			}
			if strings.Contains(err.Error(), "SUPERSECRET") {
				t.Errorf("the error quotes a secret: %s", err)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		// Document level.
		{"empty file", "", `dcs_exporter.yml: config is empty; at least one target is required`},
		{"only comments", "# nothing here\n", `dcs_exporter.yml: config is empty; at least one target is required`},
		{"yaml syntax", doc("targets:", "  - name: a", "    region: 'cn-north-4"), `dcs_exporter.yml:3: found unexpected end of stream`},
		{"yaml syntax without line", doc("targets: a: b"), `dcs_exporter.yml: mapping values are not allowed in this context`},
		{"unknown anchor", doc("targets: *nope"), `dcs_exporter.yml: unknown anchor 'nope' referenced`},
		{"two documents", doc("targets: []", "---", "targets: []"), `dcs_exporter.yml:2: only one YAML document is allowed`},
		{"root not a mapping", doc("- a"), `dcs_exporter.yml:1: config must be a mapping, got a list`},
		{"unknown top-level key", doc("target: []"), `dcs_exporter.yml:1: target: unknown field`},
		{"duplicate top-level key", doc("targets: []", "targets: []"), `dcs_exporter.yml:2: targets: duplicate key (first defined at line 1)`},
		{"no targets key", doc("defaults:", "  timeout: 5s"), `dcs_exporter.yml:1: targets: at least one target is required`},
		{"empty targets", doc("targets: []"), `dcs_exporter.yml:1: targets: at least one target is required`},
		{"null targets", doc("targets:"), `dcs_exporter.yml:1: targets: at least one target is required`},
		{"targets not a list", doc("targets:", "  name: a"), `dcs_exporter.yml:1: targets: must be a list of targets, got a mapping`},
		{"target not a mapping", doc("targets:", "  - a"), `dcs_exporter.yml:2: targets[0]: must be a mapping, got a string`},
		{"merge key in target", target("    <<: {timeout: 5s}"), `dcs_exporter.yml:5: targets[0].<<: merge keys are not supported`},
		{"non-string key", target("    [a]: b"), `dcs_exporter.yml:5: targets[0]: keys must be strings, got a list`},

		// Unknown and duplicate keys at each level.
		{"unknown target key", target("    timout: 5s"), `dcs_exporter.yml:5: targets[0].timout: unknown field`},
		{"unknown defaults key", doc("defaults:", "  regoin: cn-north-4", "targets: []"), `dcs_exporter.yml:2: defaults.regoin: unknown field`},
		{"unknown tls key", target("    tls: {ca: ca.pem}"), `dcs_exporter.yml:5: targets[0].tls.ca: unknown field`},
		{"unknown credentials key", creds("access_key: SUPERSECRET-AK", "secret_key: SUPERSECRET-SK", "token: SUPERSECRET-T"), `dcs_exporter.yml:7: targets[0].credentials.token: unknown field`},
		{"duplicate target key", target("    region: cn-east-3"), `dcs_exporter.yml:5: targets[0].region: duplicate key (first defined at line 3)`},
		{"duplicate label", target("    labels:", "      env: a", "      env: b"), `dcs_exporter.yml:7: targets[0].labels.env: duplicate key (first defined at line 6)`},
		{"duplicate credentials key", creds("access_key: SUPERSECRET-AK", "secret_key: SUPERSECRET-SK", "access_key: SUPERSECRET-AK2"), `dcs_exporter.yml:7: targets[0].credentials.access_key: duplicate key (first defined at line 5)`},

		// Wrong types.
		{"timeout list", target("    timeout: [10s]"), `dcs_exporter.yml:5: targets[0].timeout: must be a string, got a list`},
		{"bool as string", target(`    include_failure: "true"`), `dcs_exporter.yml:5: targets[0].include_failure: must be true or false, got a string`},
		{"bool as int", target("    instances: 1"), `dcs_exporter.yml:5: targets[0].instances: must be true or false, got an integer`},
		{"statistics not a bool", target("    statistics: yes please"), `dcs_exporter.yml:5: targets[0].statistics: must be true or false, got a string`},
		{"labels list", target("    labels: [env]"), `dcs_exporter.yml:5: targets[0].labels: must be a mapping, got a list`},
		{"region mapping", doc("targets:", "  - name: a", "    region: {x: y}"), `dcs_exporter.yml:3: targets[0].region: must be a string, got a mapping`},
		{"name bool", doc("targets:", "  - name: true"), `dcs_exporter.yml:2: targets[0].name: must be a string, got a boolean`},
		{"name binary", doc("targets:", "  - name: !!binary aGk="), `dcs_exporter.yml:2: targets[0].name: must be a string, got a value tagged !!binary`},
		{"tls string", target("    tls: none"), `dcs_exporter.yml:5: targets[0].tls: must be a mapping, got a string`},
		{"credentials list", doc("targets:", "  - name: a", "    region: cn-north-4", "    credentials: [env]"), `dcs_exporter.yml:4: targets[0].credentials: must be a mapping, got a list`},
		{"env string", creds(`env: "yes"`), `dcs_exporter.yml:5: targets[0].credentials.env: must be true or false, got a string`},
		{"secret wrong type", creds("access_key: [SUPERSECRET-AK]", "secret_key: SUPERSECRET-SK"), `dcs_exporter.yml:5: targets[0].credentials.access_key: must be a string, got a list`},
		{"secret bool", creds("access_key: SUPERSECRET-AK", "secret_key: true"), `dcs_exporter.yml:6: targets[0].credentials.secret_key: must be a string, got a boolean`},
		{"secret empty", creds("access_key: SUPERSECRET-AK", `secret_key: ""`), `dcs_exporter.yml:6: targets[0].credentials.secret_key: must not be empty`},
		{"defaults not a mapping", doc("defaults: [a]", "targets: []"), `dcs_exporter.yml:1: defaults: must be a mapping, got a list`},

		// name.
		{"name in defaults", doc("defaults:", "  name: a", "targets: []"), `dcs_exporter.yml:2: defaults.name: not allowed in defaults; each target needs its own name`},
		{"name missing", doc("targets:", "  - region: cn-north-4", inlineCreds), `dcs_exporter.yml:2: targets[0].name: missing required field`},
		{"name null", doc("targets:", "  - name:", "    region: cn-north-4", inlineCreds), `dcs_exporter.yml:2: targets[0].name: missing required field`},
		{"name empty", doc("targets:", `  - name: ""`), `dcs_exporter.yml:2: targets[0].name: must not be empty`},
		{"name control char", doc("targets:", `  - name: "a\tb"`), `dcs_exporter.yml:2: targets[0].name: "a\tb" must not contain control characters`},
		{"name duplicate", doc("targets:",
			"  - name: a", "    region: cn-north-4", inlineCreds,
			"  - name: a", "    region: cn-east-3", inlineCreds),
			`dcs_exporter.yml:5: targets[1].name: duplicate target name "a" (first defined at line 2)`},

		// region.
		{"region missing", doc("targets:", "  - name: a", inlineCreds), `dcs_exporter.yml:2: targets[0].region: missing required field`},
		{"region invalid", doc("targets:", "  - name: a", "    region: CN_North"), `dcs_exporter.yml:3: targets[0].region: invalid region "CN_North": must be lowercase words joined by "-", e.g. "cn-north-4"`},
		{"region one word", doc("targets:", "  - name: a", "    region: beijing"), `dcs_exporter.yml:3: targets[0].region: invalid region "beijing": must be lowercase words joined by "-", e.g. "cn-north-4"`},
		{"region in defaults invalid", doc("defaults:", "  region: eu-", "targets: []"), `dcs_exporter.yml:2: defaults.region: invalid region "eu-": must be lowercase words joined by "-", e.g. "cn-north-4"`},

		// project_id.
		{"project_id invalid", target("    project_id: 0123-abcd"), `dcs_exporter.yml:5: targets[0].project_id: invalid project_id "0123-abcd": must be 1 to 64 letters or digits`},
		{"project_id too long", target("    project_id: " + strings.Repeat("a", 65)), `dcs_exporter.yml:5: targets[0].project_id: invalid project_id "` + strings.Repeat("a", 65) + `": must be 1 to 64 letters or digits`},

		// URLs.
		{"endpoint scheme", target("    endpoint: ftp://dcs.example.com"), `dcs_exporter.yml:5: targets[0].endpoint: URL "ftp://dcs.example.com" must start with http:// or https://`},
		{"endpoint relative", target("    endpoint: dcs.example.com"), `dcs_exporter.yml:5: targets[0].endpoint: URL "dcs.example.com" must start with http:// or https://`},
		{"endpoint no host", target("    endpoint: https:///v2"), `dcs_exporter.yml:5: targets[0].endpoint: URL "https:///v2" has no host`},
		{"endpoint query", target("    endpoint: https://dcs.example.com/?a=b"), `dcs_exporter.yml:5: targets[0].endpoint: URL "https://dcs.example.com/" must not have a query or fragment (a part from ? or #, not shown)`},
		{"endpoint fragment", target("    endpoint: https://dcs.example.com/#x"), `dcs_exporter.yml:5: targets[0].endpoint: URL "https://dcs.example.com/" must not have a query or fragment (a part from ? or #, not shown)`},
		{"max_instances zero", target("    max_instances: 0"), `dcs_exporter.yml:5: targets[0].max_instances: must be greater than 0, got "0"`},
		{"max_instances text", target("    max_instances: many"), `dcs_exporter.yml:5: targets[0].max_instances: must be a whole number, got "many"`},
		{"max_instances huge", target("    max_instances: 99999999999"), `dcs_exporter.yml:5: targets[0].max_instances: must be at most 10000000, got "99999999999"`},
		{"listing_timeout too long", target("    listing_timeout: 2h"), `dcs_exporter.yml:5: targets[0].listing_timeout: must be at most 1h0m0s, got "2h"`},
		{"endpoint unparsable", target(`    endpoint: "https://dcs.example.com:port"`), `dcs_exporter.yml:5: targets[0].endpoint: not a valid URL (not shown, since it may hold a password): a user name or password with any of the characters # ? / @ : % or a space must have them percent-encoded, e.g. # as %23`},
		{"proxy_url hash in password", target(`    proxy_url: "http://user:pa#ss@proxy:3128"`), `dcs_exporter.yml:5: targets[0].proxy_url: not a valid URL (not shown, since it may hold a password): a user name or password with any of the characters # ? / @ : % or a space must have them percent-encoded, e.g. # as %23`},
		{"iam_endpoint invalid", target("    iam_endpoint: iam.example.com"), `dcs_exporter.yml:5: targets[0].iam_endpoint: URL "iam.example.com" must start with http:// or https://`},
		{"proxy_url scheme", target("    proxy_url: socks5://proxy:1080"), `dcs_exporter.yml:5: targets[0].proxy_url: URL "socks5://proxy:1080" must start with http:// or https://`},
		{"proxy_url password redacted", target("    proxy_url: http://user:SUPERSECRET@proxy:3128/?x=1"), `dcs_exporter.yml:5: targets[0].proxy_url: URL "http://proxy:3128/" must not have a query or fragment (a part from ? or #, not shown)`},
		{"metadata_endpoint invalid", creds("metadata: true", "metadata_endpoint: 169.254.169.254"), `dcs_exporter.yml:6: targets[0].credentials.metadata_endpoint: URL "169.254.169.254" must start with http:// or https://`},

		// api_version.
		{"api_version", target("    api_version: v3"), `dcs_exporter.yml:5: targets[0].api_version: must be "v1" or "v2", got "v3"`},

		// timeout.
		{"timeout invalid", target("    timeout: 10x"), `dcs_exporter.yml:5: targets[0].timeout: invalid duration "10x"`},
		{"timeout no unit", target("    timeout: 10"), `dcs_exporter.yml:5: targets[0].timeout: invalid duration "10"`},
		{"timeout zero", target("    timeout: 0s"), `dcs_exporter.yml:5: targets[0].timeout: must be greater than 0, got "0s"`},
		{"timeout negative", target("    timeout: -1s"), `dcs_exporter.yml:5: targets[0].timeout: must be greater than 0, got "-1s"`},
		{"timeout too long", target("    timeout: 301s"), `dcs_exporter.yml:5: targets[0].timeout: must be at most 5m0s, got "301s"`},
		{"timeout in defaults", doc("defaults:", "  timeout: 1h", "targets: []"), `dcs_exporter.yml:2: defaults.timeout: must be at most 5m0s, got "1h"`},

		// labels.
		{"label name invalid", target("    labels: {1env: a}"), `dcs_exporter.yml:5: targets[0].labels: invalid label name "1env": must match ^[a-zA-Z_][a-zA-Z0-9_]*$`},
		{"label name dash", target("    labels: {my-env: a}"), `dcs_exporter.yml:5: targets[0].labels: invalid label name "my-env": must match ^[a-zA-Z_][a-zA-Z0-9_]*$`},
		{"label name __", target("    labels: {__env: a}"), `dcs_exporter.yml:5: targets[0].labels: label name "__env" is reserved: names starting with __ are internal to Prometheus`},
		{"label name exporter's", target("    labels: {region: a}"), `dcs_exporter.yml:5: targets[0].labels: label name "region" is already used by the exporter`},
		{"label name target", doc("defaults:", "  labels: {target: x}", "targets: []"), `dcs_exporter.yml:2: defaults.labels: label name "target" is already used by the exporter`},
		{"label value empty", target(`    labels: {env: ""}`), `dcs_exporter.yml:5: targets[0].labels.env: must not be empty`},
		{"label value null", target("    labels: {env: }"), `dcs_exporter.yml:5: targets[0].labels.env: must not be empty`},
		{"label value list", target("    labels: {env: [a]}"), `dcs_exporter.yml:5: targets[0].labels.env: must be a string, got a list`},

		// credentials.
		{"credentials missing", doc("targets:", "  - name: prod", "    region: cn-north-4"), `dcs_exporter.yml:2: targets[0].credentials: target "prod" has no credentials; set them on the target or in defaults`},
		{"credentials empty", doc("targets:", "  - name: a", "    region: cn-north-4", "    credentials: {}"), `dcs_exporter.yml:4: targets[0].credentials: no credential source: set access_key and secret_key, access_key_file and secret_key_file, env: true, or metadata: true`},
		{"credentials env false", creds("env: false"), `dcs_exporter.yml:4: targets[0].credentials: no credential source: set access_key and secret_key, access_key_file and secret_key_file, env: true, or metadata: true`},
		{"access_key alone", creds("access_key: SUPERSECRET-AK"), `dcs_exporter.yml:4: targets[0].credentials: access_key set without secret_key (or secret_key_file): an access key and a secret key are both required`},
		{"secret_key alone", creds("secret_key: SUPERSECRET-SK"), `dcs_exporter.yml:4: targets[0].credentials: secret_key set without access_key (or access_key_file): an access key and a secret key are both required`},
		{"security_token alone", creds("security_token: SUPERSECRET-T"), `dcs_exporter.yml:4: targets[0].credentials: security_token set without access_key (or access_key_file) and secret_key (or secret_key_file): an access key and a secret key are both required`},
		{"access_key_file alone", creds("access_key_file: ak"), `dcs_exporter.yml:4: targets[0].credentials: access_key_file set without secret_key (or secret_key_file): an access key and a secret key are both required`},
		{"secret_key_file alone", creds("secret_key_file: sk", "security_token_file: token"), `dcs_exporter.yml:4: targets[0].credentials: secret_key_file set without access_key (or access_key_file): an access key and a secret key are both required`},
		{"security_token_file alone", creds("security_token_file: token"), `dcs_exporter.yml:4: targets[0].credentials: security_token_file set without access_key (or access_key_file) and secret_key (or secret_key_file): an access key and a secret key are both required`},
		{"inline and env", creds("access_key: SUPERSECRET-AK", "secret_key: SUPERSECRET-SK", "env: true"), `dcs_exporter.yml:4: targets[0].credentials: access_key, secret_key cannot be combined with env: true: set exactly one credential source`},
		{"file and metadata", creds("access_key_file: ak", "secret_key_file: sk", "metadata: true"), `dcs_exporter.yml:4: targets[0].credentials: access_key_file, secret_key_file cannot be combined with metadata: true: set exactly one credential source`},
		{"env and metadata", creds("env: true", "metadata: true"), `dcs_exporter.yml:4: targets[0].credentials: env: true cannot be combined with metadata: true: set exactly one credential source`},
		{"metadata_endpoint without metadata", creds("env: true", "metadata_endpoint: http://127.0.0.1:8080"), `dcs_exporter.yml:6: targets[0].credentials.metadata_endpoint: only used with metadata: true`},
		{"credentials in defaults invalid", doc("defaults:", "  credentials: {env: true, metadata: true}", "targets: []"), `dcs_exporter.yml:2: defaults.credentials: env: true cannot be combined with metadata: true: set exactly one credential source`},

		// Files.
		{"credential file missing", creds("access_key_file: ak", "secret_key_file: secrets/sk"), `dcs_exporter.yml:6: targets[0].credentials.secret_key_file: file "secrets/sk" does not exist`},
		{"credential file absolute missing", creds("access_key_file: /nonexistent/dcs/ak", "secret_key_file: sk"), `dcs_exporter.yml:5: targets[0].credentials.access_key_file: file "/nonexistent/dcs/ak" does not exist`},
		{"credential file is a directory", creds("access_key_file: adir", "secret_key_file: sk"), `dcs_exporter.yml:5: targets[0].credentials.access_key_file: "adir" is a directory, not a file`},
		{"credential file under a file", creds("access_key_file: ak/x", "secret_key_file: sk"), `dcs_exporter.yml:5: targets[0].credentials.access_key_file: cannot access file "ak/x": not a directory`},
		{"security_token_file missing", creds("access_key_file: ak", "secret_key_file: sk", "security_token_file: tok"), `dcs_exporter.yml:7: targets[0].credentials.security_token_file: file (name withheld: it does not look like a path) does not exist`},
		// A secret pasted into a *_file key by mistake is not quoted: only a
		// name with a dot or a slash and no run of 16 letters or digits is.
		{"secret in secret_key_file", creds("access_key_file: ak", "secret_key_file: SUPERSECRET-SK"), `dcs_exporter.yml:6: targets[0].credentials.secret_key_file: file (name withheld: it does not look like a path) does not exist`},
		{"40-character secret in secret_key_file", creds("access_key_file: ak", "secret_key_file: SUPERSECRETq8Zk2Lm4Np6Rt8Vx0Bz2Dc4Fg6Hj8K"), `dcs_exporter.yml:6: targets[0].credentials.secret_key_file: file (name withheld: it does not look like a path) does not exist`},
		{"token with slashes in security_token_file", creds("access_key_file: ak", "secret_key_file: sk", "security_token_file: SUPERSECRETgQ5jbi1ub3J0aC00/Vz+Yq.x"), `dcs_exporter.yml:7: targets[0].credentials.security_token_file: file (name withheld: it does not look like a path) does not exist`},
		{"token too long for a file name", creds("access_key_file: ak", "secret_key_file: sk", "security_token_file: SUPERSECRET"+strings.Repeat("a1B2", 80)), `dcs_exporter.yml:7: targets[0].credentials.security_token_file: cannot access file (name withheld: it does not look like a path): file name too long`},
		{"ca_file missing", target("    tls: {ca_file: certs/ca.pem}"), `dcs_exporter.yml:5: targets[0].tls.ca_file: file "certs/ca.pem" does not exist`},
		{"defaults ca_file missing", doc("defaults:", "  tls:", "    ca_file: nope.pem", "targets: []"), `dcs_exporter.yml:3: defaults.tls.ca_file: file "nope.pem" does not exist`},
	}
	dir := testDir(t)
	seen := map[string]bool{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if seen[tt.name] {
				t.Fatalf("duplicate test name")
			}
			seen[tt.name] = true
			cfg, err := parseIn(dir, tt.src)
			if err == nil {
				t.Fatalf("Parse succeeded with %d targets, want error %q", len(cfg.Targets), tt.want)
			}
			if got := errText(err, dir); got != tt.want {
				t.Errorf("error mismatch\n got: %s\nwant: %s", got, tt.want)
			}
			if strings.Contains(err.Error(), secretMark) {
				t.Errorf("error leaks a secret: %s", err)
			}
			var ce *Error
			if !errors.As(err, &ce) {
				t.Errorf("error is %T, want *Error", err)
			}
		})
	}
}

func TestValidMinimal(t *testing.T) {
	dir := testDir(t)
	cfg := mustParse(t, dir, doc("targets:", "  - name: a", "    region: cn-north-4", "    credentials: {env: true}"))
	want := Target{
		Name:           "a",
		Region:         "cn-north-4",
		Endpoint:       "https://dcs.cn-north-4.myhuaweicloud.com",
		IAMEndpoint:    "https://iam.cn-north-4.myhuaweicloud.com",
		APIVersion:     "v2",
		IncludeFailure: true,
		Quota:          true, // statistics is off, quota on, unless a target says otherwise
		Timeout:        10 * time.Second,
		Labels:         map[string]string{},
		MaxInstances:   DefaultMaxInstances,
		ListingTimeout: DefaultListingTimeout,
		Credentials:    Credentials{Env: true, MetadataEndpoint: "http://169.254.169.254"},
		// BackupsInterval is filled, as Timeout is, even with backups off.
		BackupsInterval: DefaultBackupsInterval,
	}
	if len(cfg.Targets) != 1 || !reflect.DeepEqual(cfg.Targets[0], want) {
		t.Errorf("got  %+v\nwant %+v", cfg.Targets, want)
	}
	if got := cfg.Targets[0].LabelNames(); len(got) != 0 {
		t.Errorf("LabelNames() = %q, want none", got)
	}
}

func TestAllFieldsSet(t *testing.T) {
	dir := testDir(t)
	cfg := mustParse(t, dir, doc(
		"targets:",
		"  - name: otc",
		"    region: eu-de",
		"    project_id: 0123456789",
		"    endpoint: https://dcs.eu-de.otc.t-systems.com/",
		"    iam_endpoint: https://iam.eu-de.otc.t-systems.com:443/v3//",
		"    api_version: v1",
		"    include_failure: false",
		"    timeout: 1m30s",
		"    proxy_url: http://user:pw@proxy.local:3128/",
		"    tls: {ca_file: ca.pem, insecure_skip_verify: true}",
		"    labels: {env: prod, zone: b}",
		"    instances: true",
		"    max_instances: 1200",
		"    listing_timeout: 90s",
		"    nodes: true",
		"    backups: true",
		"    backups_interval: 10m",
		"    statistics: true",
		"    quota: false",
		"    credentials:",
		"      metadata: true",
		"      metadata_endpoint: http://127.0.0.1:9/",
	))
	got := cfg.Targets[0]
	if got.ProxyURL == nil || got.ProxyURL.String() != "http://user:pw@proxy.local:3128" {
		t.Errorf("ProxyURL = %v", got.ProxyURL)
	}
	got.ProxyURL = nil
	want := Target{
		Name:            "otc",
		Region:          "eu-de",
		ProjectID:       "0123456789", // YAML sees a number; kept as written
		Endpoint:        "https://dcs.eu-de.otc.t-systems.com",
		IAMEndpoint:     "https://iam.eu-de.otc.t-systems.com:443", // the API version is dropped (issue 11)
		APIVersion:      "v1",
		IncludeFailure:  false,
		Timeout:         90 * time.Second,
		TLS:             TLS{CAFile: filepath.Join(dir, "ca.pem"), InsecureSkipVerify: true},
		Labels:          map[string]string{"env": "prod", "zone": "b"},
		Instances:       true,
		MaxInstances:    1200,
		ListingTimeout:  90 * time.Second,
		Nodes:           true,
		Backups:         true,
		BackupsInterval: 10 * time.Minute,
		Statistics:      true,
		Quota:           false,
		Credentials:     Credentials{Metadata: true, MetadataEndpoint: "http://127.0.0.1:9"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
	if names := cfg.Targets[0].LabelNames(); !reflect.DeepEqual(names, []string{"env", "zone"}) {
		t.Errorf("LabelNames() = %q", names)
	}
}

func TestDefaultsMerge(t *testing.T) {
	dir := testDir(t)
	cfg := mustParse(t, dir, doc(
		"defaults:",
		"  region: cn-north-4",
		"  project_id: abc123",
		"  api_version: v1",
		"  include_failure: true",
		"  instances: true",
		"  statistics: true",
		"  quota: false",
		"  timeout: 20s",
		"  proxy_url: http://proxy:3128",
		"  tls: {ca_file: ca.pem}",
		"  labels: {env: prod, team: cache}",
		"  credentials: {access_key_file: ak, secret_key_file: sk}",
		"targets:",
		"  - name: inherits",
		"  - name: overrides",
		"    region: cn-east-3",
		"    project_id: def456",
		"    api_version: v2",
		"    include_failure: false", // false beats true from defaults
		"    instances: false",
		"    statistics: false", // false beats true from defaults
		"    quota: true",
		"    timeout: 5s",
		"    proxy_url: https://other:8443",
		"    tls: {insecure_skip_verify: true}", // replaces the defaults' tls whole
		"    labels: {team: db, shard: s1}",
		"    credentials: {env: true}", // replaces the defaults' credentials whole
	))
	inherits, overrides := cfg.Targets[0], cfg.Targets[1]

	fileCreds := Credentials{
		AccessKeyFile:    filepath.Join(dir, "ak"),
		SecretKeyFile:    filepath.Join(dir, "sk"),
		MetadataEndpoint: DefaultMetadataEndpoint,
	}
	if inherits.Region != "cn-north-4" || inherits.ProjectID != "abc123" || inherits.APIVersion != "v1" ||
		!inherits.IncludeFailure || !inherits.Instances || !inherits.Statistics || inherits.Quota || inherits.Timeout != 20*time.Second ||
		inherits.ProxyURL.String() != "http://proxy:3128" ||
		inherits.TLS != (TLS{CAFile: filepath.Join(dir, "ca.pem")}) ||
		inherits.Credentials != fileCreds ||
		inherits.Endpoint != "https://dcs.cn-north-4.myhuaweicloud.com" {
		t.Errorf("inherits = %+v", inherits)
	}
	if want := map[string]string{"env": "prod", "team": "cache"}; !reflect.DeepEqual(inherits.Labels, want) {
		t.Errorf("inherits.Labels = %v, want %v", inherits.Labels, want)
	}

	if overrides.Region != "cn-east-3" || overrides.ProjectID != "def456" || overrides.APIVersion != "v2" ||
		overrides.IncludeFailure || overrides.Instances || overrides.Statistics || !overrides.Quota || overrides.Timeout != 5*time.Second ||
		overrides.ProxyURL.String() != "https://other:8443" ||
		overrides.TLS != (TLS{InsecureSkipVerify: true}) ||
		overrides.Credentials != (Credentials{Env: true, MetadataEndpoint: DefaultMetadataEndpoint}) {
		t.Errorf("overrides = %+v", overrides)
	}
	// Endpoints default from the target's own region, not the defaults'.
	if overrides.Endpoint != "https://dcs.cn-east-3.myhuaweicloud.com" ||
		overrides.IAMEndpoint != "https://iam.cn-east-3.myhuaweicloud.com" {
		t.Errorf("overrides endpoints = %q, %q", overrides.Endpoint, overrides.IAMEndpoint)
	}
	if want := map[string]string{"env": "prod", "team": "db", "shard": "s1"}; !reflect.DeepEqual(overrides.Labels, want) {
		t.Errorf("overrides.Labels = %v, want %v", overrides.Labels, want)
	}
	if got := overrides.LabelNames(); !reflect.DeepEqual(got, []string{"env", "shard", "team"}) {
		t.Errorf("LabelNames() = %q", got)
	}

	// Targets must not share state taken from defaults.
	inherits.Labels["x"] = "y"
	inherits.ProxyURL.Host = "changed"
	if _, ok := cfg.Targets[1].Labels["x"]; ok {
		t.Error("targets share a labels map")
	}
	again := mustParse(t, dir, doc("defaults:", "  proxy_url: http://p:1", "  credentials: {env: true}",
		"targets:", "  - {name: a, region: cn-north-4}", "  - {name: b, region: cn-north-4}"))
	again.Targets[0].ProxyURL.Host = "changed"
	if again.Targets[1].ProxyURL.Host != "p:1" {
		t.Error("targets share a proxy URL")
	}
}

func TestNullMeansUnset(t *testing.T) {
	dir := testDir(t)
	cfg := mustParse(t, dir, doc(
		"defaults:",
		"  timeout: 30s",
		"  labels:",
		"  credentials: {env: true}",
		"targets:",
		"  - name: a",
		"    region: cn-north-4",
		"    timeout:",
		"    tls: {ca_file: }",
	))
	if got := cfg.Targets[0]; got.Timeout != 30*time.Second || got.TLS != (TLS{}) || len(got.Labels) != 0 || got.Labels == nil {
		t.Errorf("target = %+v", got)
	}
}

func TestAliases(t *testing.T) {
	dir := testDir(t)
	cfg := mustParse(t, dir, doc(
		"defaults:",
		"  credentials: &c {access_key_file: ak, secret_key_file: sk}",
		"targets:",
		"  - &t {name: a, region: cn-north-4, labels: &l {env: prod}}",
		"  - {name: b, region: cn-east-3, labels: *l, credentials: *c}",
	))
	if len(cfg.Targets) != 2 || cfg.Targets[1].Labels["env"] != "prod" || cfg.Targets[1].Credentials.AccessKeyFile != filepath.Join(dir, "ak") {
		t.Errorf("targets = %+v", cfg.Targets)
	}
	// A repeated alias is a repeated target; its error points at the alias.
	_, err := parseIn(dir, doc(
		"defaults: {credentials: {env: true}}",
		"targets:",
		"  - &t {name: a, region: cn-north-4}",
		"  - *t",
	))
	if err == nil || errText(err, dir) != `dcs_exporter.yml:3: targets[1].name: duplicate target name "a" (first defined at line 3)` {
		t.Errorf("err = %v", err)
	}
}

func TestRelativeFiles(t *testing.T) {
	base := t.TempDir()
	confDir := filepath.Join(base, "etc", "dcs")
	for _, f := range []string{"keys/ak", "keys/sk", "keys/token", "ca.pem"} {
		path := filepath.Join(confDir, f)
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	abs := filepath.Join(base, "abs-ak")
	if err := os.WriteFile(abs, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	src := doc(
		"targets:",
		"  - name: a",
		"    region: cn-north-4",
		"    tls: {ca_file: ca.pem}",
		"    credentials:",
		"      access_key_file: "+abs,
		"      secret_key_file: keys/sk",
		"      security_token_file: ./keys/../keys/token",
	)
	path := filepath.Join(confDir, "dcs_exporter.yml")
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	c := cfg.Targets[0].Credentials
	if c.AccessKeyFile != abs ||
		c.SecretKeyFile != filepath.Join(confDir, "keys", "sk") ||
		c.SecurityTokenFile != filepath.Join(confDir, "keys", "token") ||
		cfg.Targets[0].TLS.CAFile != filepath.Join(confDir, "ca.pem") {
		t.Errorf("paths not resolved against %s: %+v, tls %+v", confDir, c, cfg.Targets[0].TLS)
	}

	// The same config loaded from elsewhere looks in its own directory.
	_, err = Parse([]byte(src), filepath.Join(base, "dcs_exporter.yml"))
	want := filepath.Join(base, "dcs_exporter.yml") + `:4: targets[0].tls.ca_file: file "` + filepath.Join(base, "ca.pem") + `" does not exist`
	if err == nil || err.Error() != want {
		t.Errorf("err = %v\nwant %s", err, want)
	}
}

func TestLoadMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nope.yml")
	_, err := Load(path)
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("Load(%q) error = %v, want one naming the file", path, err)
	}
}

func TestSecretMasking(t *testing.T) {
	dir := testDir(t)
	cfg := mustParse(t, dir, creds("access_key: SUPERSECRET-AK", "secret_key: SUPERSECRET-SK", "security_token: SUPERSECRET-T"))
	c := cfg.Targets[0].Credentials
	if c.AccessKey != "SUPERSECRET-AK" || c.SecretKey != "SUPERSECRET-SK" || c.SecurityToken != "SUPERSECRET-T" {
		t.Fatalf("secrets not kept: the raw values must stay usable via string()")
	}

	yamlOut, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	jsonOut, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	dumps := map[string]string{
		"%v":        fmt.Sprintf("%v", cfg),
		"%+v":       fmt.Sprintf("%+v", cfg),
		"%#v":       fmt.Sprintf("%#v", cfg),
		"%v target": fmt.Sprintf("%v", cfg.Targets[0]),
		"%s secret": c.SecretKey.String(),
		"%q secret": fmt.Sprintf("%q", c.SecretKey),
		"yaml":      string(yamlOut),
		"json":      string(jsonOut),
	}
	for how, out := range dumps {
		if strings.Contains(out, secretMark) {
			t.Errorf("%s leaks a secret: %s", how, out)
		}
		if !strings.Contains(out, "<secret>") && !strings.Contains(out, `\u003csecret\u003e`) {
			t.Errorf("%s does not show the masked secret: %s", how, out)
		}
	}

	if got := Secret("").String(); got != "" {
		t.Errorf(`Secret("").String() = %q, want ""`, got)
	}
	if out, _ := yaml.Marshal(Credentials{Env: true}); strings.Contains(string(out), "secret") {
		t.Errorf("empty secrets are marshalled: %s", out)
	}
}

func TestExampleConfig(t *testing.T) {
	const example = "../config.example.yml"
	data, err := os.ReadFile(example)
	if err != nil {
		t.Fatal(err)
	}
	// The example refers to credential files relative to itself; create
	// them next to a copy so the shipped file is parsed unchanged.
	dir := t.TempDir()
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		t.Fatal(err)
	}
	for _, ref := range fileRefs(&root) {
		if filepath.IsAbs(ref) {
			t.Fatalf("example refers to absolute path %q; use a path relative to the config", ref)
		}
		path := filepath.Join(dir, ref)
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := Parse(data, filepath.Join(dir, "config.example.yml"))
	if err != nil {
		t.Fatal(errText(err, dir))
	}

	byName := map[string]Target{}
	for _, tgt := range cfg.Targets {
		byName[tgt.Name] = tgt
	}
	otc := byName["otc-frankfurt"]
	if otc.APIVersion != "v1" || otc.Endpoint != "https://dcs.eu-de.otc.t-systems.com" || otc.IAMEndpoint != "https://iam.eu-de.otc.t-systems.com" {
		t.Errorf("otc-frankfurt = %+v", otc)
	}
	var env, metadata, files, inline bool
	regions := map[string]bool{}
	for _, tgt := range cfg.Targets {
		c := tgt.Credentials
		env = env || c.Env
		metadata = metadata || c.Metadata
		files = files || c.AccessKeyFile != ""
		inline = inline || c.AccessKey != ""
		regions[tgt.Region] = true
	}
	if !env || !metadata || !files || !inline || len(regions) < 3 {
		t.Errorf("example should show env, metadata, file and inline credentials across regions; got env=%v metadata=%v files=%v inline=%v regions=%v",
			env, metadata, files, inline, regions)
	}

	// Every key the parser knows appears in the example.
	text := string(data)
	for _, keys := range []map[string]bool{targetKeys, tlsKeys, credentialKeys, keySet("defaults", "targets")} {
		for key := range keys {
			if !regexp.MustCompile(`(?m)^\s*(- )?` + key + `:`).MatchString(text) {
				t.Errorf("example does not show key %q", key)
			}
		}
	}
}

// fileRefs returns the values of all *_file keys in a YAML tree.
func fileRefs(n *yaml.Node) []string {
	var refs []string
	for i, c := range n.Content {
		if n.Kind == yaml.MappingNode && i%2 == 0 && strings.HasSuffix(c.Value, "_file") {
			refs = append(refs, n.Content[i+1].Value)
		}
		refs = append(refs, fileRefs(c)...)
	}
	return refs
}

var errPrefix = regexp.MustCompile(`^fuzz\.yml(:[1-9][0-9]*)?: `)

func FuzzParse(f *testing.F) {
	seeds := []string{
		"",
		"targets: []",
		target(),
		target("    timeout: 10x"),
		target("    labels: {env: prod, team: a}", "    api_version: v1", "    instances: true"),
		creds("env: true"),
		creds("metadata: true", "metadata_endpoint: http://127.0.0.1:1/"),
		creds("access_key_file: ak", "secret_key_file: sk"),
		creds("access_key: SUPERSECRET-AK", "env: true"),
		doc("defaults:", "  region: cn-north-4", "  credentials: {env: true}", "  labels: {a: b}",
			"targets:", "  - name: a", "  - name: b", "    include_failure: false"),
		doc("targets:", "  - &t {name: a, region: cn-north-4, credentials: {env: true}}", "  - *t"),
		doc("targets:", "  - name: a", "   region: b"),
		doc("a: 1", "---", "b: 2"),
		"targets: [{name: a, region: eu-de, endpoint: 'https://dcs.eu-de.otc.t-systems.com/', proxy_url: 'http://u:p@h:1', credentials: {env: true}}]",
		"targets:\n  - name: \"\\u0000\"\n",
		"{{{{",
		"targets: *x",
		"? [a]\n: b\n",
	}
	if data, err := os.ReadFile("../config.example.yml"); err == nil {
		seeds = append(seeds, string(data))
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse(data, "fuzz.yml")
		if err != nil {
			msg := err.Error()
			if !errPrefix.MatchString(msg) {
				t.Fatalf("error does not start with the file name: %q", msg)
			}
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("error is %T, want *Error", err)
			}
			if ce.Line > 0 && !strings.HasPrefix(msg, fmt.Sprintf("fuzz.yml:%d: ", ce.Line)) {
				t.Fatalf("error with line %d does not show it: %q", ce.Line, msg)
			}
			return
		}
		if len(cfg.Targets) == 0 {
			t.Fatal("Parse succeeded without targets")
		}
		names := map[string]bool{}
		for _, tgt := range cfg.Targets {
			if names[tgt.Name] {
				t.Fatalf("duplicate name %q accepted", tgt.Name)
			}
			names[tgt.Name] = true
			if tgt.APIVersion != "v1" && tgt.APIVersion != "v2" || tgt.Timeout <= 0 || tgt.Timeout > MaxTimeout ||
				tgt.Labels == nil || tgt.Endpoint == "" || tgt.IAMEndpoint == "" || !regionRE.MatchString(tgt.Region) {
				t.Fatalf("invalid target accepted: %+v", tgt)
			}
		}
	})
}

// TestCredentialSource pins the one decision of where keys come from, which
// the collector and --config.check follow.
func TestCredentialSource(t *testing.T) {
	for _, c := range []struct {
		creds Credentials
		want  CredentialSource
	}{
		{Credentials{}, CredentialsNone},
		{Credentials{MetadataEndpoint: DefaultMetadataEndpoint}, CredentialsNone},
		{Credentials{AccessKey: "ak", SecretKey: "sk"}, CredentialsInline},
		{Credentials{SecurityToken: "st"}, CredentialsInline},
		{Credentials{AccessKeyFile: "/ak", SecretKey: "sk"}, CredentialsFiles},
		{Credentials{AccessKey: "ak", SecretKey: "sk", SecurityTokenFile: "/st"}, CredentialsFiles},
		{Credentials{Env: true}, CredentialsEnv},
		{Credentials{Metadata: true, MetadataEndpoint: DefaultMetadataEndpoint}, CredentialsMetadata},
	} {
		if got := c.creds.Source(); got != c.want {
			t.Errorf("%#v: source %d, want %d", c.creds, got, c.want)
		}
	}
}

// TestMissingFileSaysWhatToDo: a first run without a config file is told
// which flag names the file, where to start one, and how to try the
// exporter without one. Any other read error stays as it is.
func TestMissingFileSaysWhatToDo(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dcs_exporter.yml")
	_, err := Load(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("got %v, want a not-exist error", err)
	}
	for _, w := range []string{path, "--config.file", "config.example.yml", "--demo"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("the error does not say %q: %s", w, err)
		}
	}
	_, err = Load(t.TempDir()) // a directory: not missing, so no first-run advice
	if err == nil || strings.Contains(err.Error(), "--demo") {
		t.Errorf("reading a directory: got %v", err)
	}
}
