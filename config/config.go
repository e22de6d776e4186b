// Package config loads and validates the dcs_exporter YAML configuration.
//
// The file has an optional "defaults" section and a list of "targets"; each
// target is one Huawei Cloud (or compatible) DCS account/region to scrape.
// A key in defaults applies to every target that does not set it; labels
// are merged name by name, while tls and credentials are taken as a whole.
// Parsing walks the YAML node tree by hand instead of decoding into structs,
// so that every error can name the file, the line and the field path, e.g.
//
//	dcs_exporter.yml:7: targets[1].timeout: invalid duration "10x"
//
// and so that secret values never end up in an error message.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// Defaults applied when neither the target nor the defaults section sets a key.
const (
	DefaultAPIVersion       = "v2"
	DefaultTimeout          = 10 * time.Second
	DefaultMetadataEndpoint = "http://169.254.169.254"

	// MaxTimeout bounds a scrape so that a stuck API cannot pile up
	// concurrent scrapes indefinitely.
	MaxTimeout = 5 * time.Minute
)

// Secret is a credential value. It prints and marshals as "<secret>" so it
// does not leak through fmt, logs or config dumps; convert it with string()
// where the real value is needed.
type Secret string

const maskedSecret = "<secret>"

func (s Secret) mask() string {
	if s == "" {
		return ""
	}
	return maskedSecret
}

// String implements fmt.Stringer.
func (s Secret) String() string { return s.mask() }

// GoString implements fmt.GoStringer, covering %#v.
func (s Secret) GoString() string { return strconv.Quote(s.mask()) }

// MarshalYAML implements yaml.Marshaler.
func (s Secret) MarshalYAML() (any, error) { return s.mask(), nil }

// MarshalJSON implements json.Marshaler.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(strconv.Quote(s.mask())), nil }

// Credentials says where a target's AK/SK come from. After Load exactly one
// source is set: the inline pair, the file pair, Env or Metadata.
type Credentials struct {
	AccessKey     Secret `yaml:"access_key,omitempty"`
	SecretKey     Secret `yaml:"secret_key,omitempty"`
	SecurityToken Secret `yaml:"security_token,omitempty"`

	// File paths are absolute or relative to the working directory after
	// Load; the files are read at use so that rotated keys are picked up.
	AccessKeyFile     string `yaml:"access_key_file,omitempty"`
	SecretKeyFile     string `yaml:"secret_key_file,omitempty"`
	SecurityTokenFile string `yaml:"security_token_file,omitempty"`

	// Env reads HUAWEICLOUD_SDK_AK, HUAWEICLOUD_SDK_SK and
	// HUAWEICLOUD_SDK_SECURITY_TOKEN.
	Env bool `yaml:"env,omitempty"`
	// Metadata fetches temporary agency credentials from the ECS/CCE
	// metadata service at MetadataEndpoint (DefaultMetadataEndpoint unless
	// set; Load always fills it).
	Metadata         bool   `yaml:"metadata,omitempty"`
	MetadataEndpoint string `yaml:"metadata_endpoint,omitempty"`
}

// TLS configures how the exporter verifies the API endpoints.
type TLS struct {
	CAFile             string `yaml:"ca_file,omitempty"`
	InsecureSkipVerify bool   `yaml:"insecure_skip_verify,omitempty"`
}

// Target is one fully resolved scrape target: defaults are merged in and
// every optional field that has a default is filled.
type Target struct {
	Name        string `yaml:"name"`
	Region      string `yaml:"region"`
	ProjectID   string `yaml:"project_id,omitempty"` // empty: look it up in IAM
	Endpoint    string `yaml:"endpoint"`
	IAMEndpoint string `yaml:"iam_endpoint"`
	APIVersion  string `yaml:"api_version"` // "v1" or "v2"

	IncludeFailure bool              `yaml:"include_failure"`
	Timeout        time.Duration     `yaml:"timeout"`
	ProxyURL       *url.URL          `yaml:"proxy_url,omitempty"` // nil when unset
	TLS            TLS               `yaml:"tls"`
	Labels         map[string]string `yaml:"labels"` // never nil
	Instances      bool              `yaml:"instances"`
	Credentials    Credentials       `yaml:"credentials"`
}

// LabelNames returns the names of the target's extra labels, sorted.
func (t Target) LabelNames() []string {
	return slices.Sorted(maps.Keys(t.Labels))
}

// Config is the loaded configuration.
type Config struct {
	Targets []Target `yaml:"targets"`
}

// Error is a configuration problem. Its text has the form
// "file:line: field: message"; the line is left out when unknown (Line 0)
// and the field when the problem is not about one (for example a YAML
// syntax error).
type Error struct {
	File  string
	Line  int
	Field string // path such as targets[1].timeout
	Msg   string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		b.WriteString(":")
		b.WriteString(strconv.Itoa(e.Line))
	}
	b.WriteString(": ")
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Load reads the file at path and parses it with Parse.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	return Parse(data, path)
}

// Parse parses and validates a configuration. filename is used in error
// messages, and relative file paths in the config are resolved against its
// directory. Referenced files must exist, but they are not read.
func Parse(data []byte, filename string) (*Config, error) {
	p := &parser{filename: filename, dir: filepath.Dir(filename)}
	root, err := p.document(data)
	if err != nil {
		return nil, err
	}
	if root == nil {
		return nil, &Error{File: filename, Msg: "config is empty; at least one target is required"}
	}
	return p.config(root)
}

var (
	regionRE    = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)+$`)
	projectIDRE = regexp.MustCompile(`^[A-Za-z0-9]{1,64}$`)
	labelNameRE = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
)

// reservedLabels are set by the exporter itself; a target label with one of
// these names would clash with them.
var reservedLabels = keySet("target", "region", "project_id", "engine", "state",
	"api", "code", "instance_id", "name", "engine_version", "spec_code",
	"charging_mode", "status")

// spec holds the keys of one target or of the defaults section as written;
// nil means "not set", so that an explicit false or empty value in a target
// still overrides the defaults.
type spec struct {
	name     *string
	nameLine int

	region, projectID, endpoint, iamEndpoint, apiVersion *string

	includeFailure, instances *bool
	timeout                   *time.Duration
	proxyURL                  *url.URL
	tls                       *TLS
	labels                    map[string]string
	creds                     *Credentials
}

type parser struct {
	filename string
	dir      string // config file's directory, base of relative file paths
}

func (p *parser) fail(line int, field, format string, args ...any) error {
	return &Error{File: p.filename, Line: line, Field: field, Msg: fmt.Sprintf(format, args...)}
}

// document parses data into a YAML node tree and returns the root node, or
// nil when the document is empty.
func (p *parser) document(data []byte) (root *yaml.Node, err error) {
	// yaml reports its own failures as errors; this only guards against an
	// unexpected internal panic so that Parse never crashes the exporter.
	defer func() {
		if r := recover(); r != nil {
			root, err = nil, p.fail(0, "", "cannot parse YAML: %v", r)
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, p.yamlError(err)
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case errors.Is(err, io.EOF):
	case err != nil:
		return nil, p.yamlError(err)
	default:
		return nil, p.fail(next.Line, "", "only one YAML document is allowed")
	}
	if len(doc.Content) == 0 || isNull(doc.Content[0]) {
		return nil, nil
	}
	return doc.Content[0], nil
}

var yamlLineRE = regexp.MustCompile(`^line (\d+): `)

// yamlError rewrites "yaml: line N: msg" into our "file:N: msg" form.
func (p *parser) yamlError(err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = msg[len(m[0]):]
	}
	return p.fail(line, "", "%s", msg)
}

func (p *parser) config(root *yaml.Node) (*Config, error) {
	var defaultsNode, targetsNode *yaml.Node
	targetsLine := root.Line
	err := p.eachField(root, "", keySet("defaults", "targets"), func(key string, line int, v *yaml.Node) error {
		if key == "defaults" {
			defaultsNode = v
		} else {
			targetsNode, targetsLine = v, line
		}
		return nil
	})
	if err != nil {
		return nil, err
	}

	defaults := &spec{}
	if defaultsNode != nil && !isNull(defaultsNode) {
		if defaults, err = p.spec(defaultsNode, "defaults", true); err != nil {
			return nil, err
		}
	}

	if targetsNode == nil || isNull(targetsNode) {
		return nil, p.fail(targetsLine, "targets", "at least one target is required")
	}
	if targetsNode.Kind != yaml.SequenceNode {
		return nil, p.fail(targetsLine, "targets", "must be a list of targets, got %s", describe(targetsNode))
	}
	if len(targetsNode.Content) == 0 {
		return nil, p.fail(targetsLine, "targets", "at least one target is required")
	}

	cfg := &Config{}
	nameLines := map[string]int{}
	for i, item := range targetsNode.Content {
		path := fmt.Sprintf("targets[%d]", i)
		line := item.Line // the alias's own line, not its anchor's
		n := resolve(item)
		if n.Kind != yaml.MappingNode {
			return nil, p.fail(line, path, "must be a mapping, got %s", describe(n))
		}
		s, err := p.spec(n, path, false)
		if err != nil {
			return nil, err
		}
		t, err := p.target(line, path, defaults, s)
		if err != nil {
			return nil, err
		}
		if first, dup := nameLines[t.Name]; dup {
			return nil, p.fail(s.nameLine, path+".name", "duplicate target name %q (first defined at line %d)", t.Name, first)
		}
		nameLines[t.Name] = s.nameLine
		cfg.Targets = append(cfg.Targets, t)
	}
	return cfg, nil
}

// target merges the defaults d under the target's own keys s and fills in
// built-in defaults.
func (p *parser) target(line int, path string, d, s *spec) (Target, error) {
	if s.name == nil {
		return Target{}, p.fail(line, path+".name", "missing required field")
	}
	region := pick(s.region, d.region)
	if region == nil {
		return Target{}, p.fail(line, path+".region", "missing required field")
	}
	creds := pick(s.creds, d.creds)
	if creds == nil {
		return Target{}, p.fail(line, path+".credentials", "target %q has no credentials; set them on the target or in defaults", *s.name)
	}

	t := Target{
		Name:           *s.name,
		Region:         *region,
		Endpoint:       "https://dcs." + *region + ".myhuaweicloud.com",
		IAMEndpoint:    "https://iam." + *region + ".myhuaweicloud.com",
		APIVersion:     DefaultAPIVersion,
		IncludeFailure: true,
		Timeout:        DefaultTimeout,
		Labels:         map[string]string{},
		Credentials:    *creds,
	}
	set(&t.ProjectID, pick(s.projectID, d.projectID))
	set(&t.Endpoint, pick(s.endpoint, d.endpoint))
	set(&t.IAMEndpoint, pick(s.iamEndpoint, d.iamEndpoint))
	set(&t.APIVersion, pick(s.apiVersion, d.apiVersion))
	set(&t.IncludeFailure, pick(s.includeFailure, d.includeFailure))
	set(&t.Instances, pick(s.instances, d.instances))
	set(&t.Timeout, pick(s.timeout, d.timeout))
	set(&t.TLS, pick(s.tls, d.tls))
	if u := pick(s.proxyURL, d.proxyURL); u != nil {
		c := *u // targets must not share a mutable URL
		t.ProxyURL = &c
	}
	maps.Copy(t.Labels, d.labels)
	maps.Copy(t.Labels, s.labels)
	return t, nil
}

// pick returns the target's own value when set, else the default.
func pick[T any](own, def *T) *T {
	if own != nil {
		return own
	}
	return def
}

func set[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}

var targetKeys = keySet("name", "region", "project_id", "endpoint", "iam_endpoint",
	"api_version", "include_failure", "timeout", "proxy_url", "tls", "labels",
	"instances", "credentials")

var tlsKeys = keySet("ca_file", "insecure_skip_verify")

var credentialKeys = keySet("access_key", "secret_key", "security_token",
	"access_key_file", "secret_key_file", "security_token_file",
	"env", "metadata", "metadata_endpoint")

func keySet(keys ...string) map[string]bool {
	m := make(map[string]bool, len(keys))
	for _, k := range keys {
		m[k] = true
	}
	return m
}

// spec reads the keys of a target (or, with inDefaults, of the defaults
// section), validating each value where it is written. A key with an empty
// (null) value counts as not set.
func (p *parser) spec(n *yaml.Node, path string, inDefaults bool) (*spec, error) {
	s := &spec{}
	err := p.eachField(n, path, targetKeys, func(key string, line int, v *yaml.Node) error {
		field := path + "." + key
		if key == "name" && inDefaults {
			return p.fail(line, field, "not allowed in defaults; each target needs its own name")
		}
		if isNull(v) {
			return nil
		}
		var err error
		switch key {
		case "name":
			s.name, err = ptr(p.name(line, field, v))
			s.nameLine = line
		case "region":
			s.region, err = ptr(p.match(line, field, v, regionRE, "region", `lowercase words joined by "-", e.g. "cn-north-4"`))
		case "project_id":
			s.projectID, err = ptr(p.match(line, field, v, projectIDRE, "project_id", "1 to 64 letters or digits"))
		case "endpoint":
			s.endpoint, err = ptr(p.urlString(line, field, v))
		case "iam_endpoint":
			s.iamEndpoint, err = ptr(p.urlString(line, field, v))
		case "api_version":
			s.apiVersion, err = ptr(p.apiVersion(line, field, v))
		case "include_failure":
			s.includeFailure, err = ptr(p.boolean(line, field, v))
		case "instances":
			s.instances, err = ptr(p.boolean(line, field, v))
		case "timeout":
			s.timeout, err = ptr(p.timeout(line, field, v))
		case "proxy_url":
			s.proxyURL, err = p.url(line, field, v)
		case "tls":
			s.tls, err = p.tls(field, v)
		case "labels":
			s.labels, err = p.labels(field, v)
		case "credentials":
			s.creds, err = p.credentials(line, field, v)
		}
		return err
	})
	return s, err
}

// ptr adapts a (value, error) result to the optional fields of spec.
func ptr[T any](v T, err error) (*T, error) {
	if err != nil {
		return nil, err
	}
	return &v, nil
}

func (p *parser) name(line int, field string, v *yaml.Node) (string, error) {
	s, err := p.str(line, field, v)
	if err != nil {
		return "", err
	}
	// The name becomes the value of the target label.
	if !utf8.ValidString(s) {
		return "", p.fail(line, field, "must be valid UTF-8")
	}
	if strings.ContainsFunc(s, unicode.IsControl) {
		return "", p.fail(line, field, "%q must not contain control characters", s)
	}
	return s, nil
}

func (p *parser) match(line int, field string, v *yaml.Node, re *regexp.Regexp, what, want string) (string, error) {
	s, err := p.str(line, field, v)
	if err != nil {
		return "", err
	}
	if !re.MatchString(s) {
		return "", p.fail(line, field, "invalid %s %q: must be %s", what, s, want)
	}
	return s, nil
}

func (p *parser) apiVersion(line int, field string, v *yaml.Node) (string, error) {
	s, err := p.str(line, field, v)
	if err != nil {
		return "", err
	}
	if s != "v1" && s != "v2" {
		return "", p.fail(line, field, `must be "v1" or "v2", got %q`, s)
	}
	return s, nil
}

func (p *parser) timeout(line int, field string, v *yaml.Node) (time.Duration, error) {
	s, err := p.str(line, field, v)
	if err != nil {
		return 0, err
	}
	d, err := time.ParseDuration(s)
	switch {
	case err != nil:
		return 0, p.fail(line, field, "invalid duration %q", s)
	case d <= 0:
		return 0, p.fail(line, field, "must be greater than 0, got %q", s)
	case d > MaxTimeout:
		return 0, p.fail(line, field, "must be at most %v, got %q", MaxTimeout, s)
	}
	return d, nil
}

func (p *parser) tls(field string, v *yaml.Node) (*TLS, error) {
	t := &TLS{}
	err := p.eachField(v, field, tlsKeys, func(key string, line int, v *yaml.Node) error {
		if isNull(v) {
			return nil
		}
		var err error
		f := field + "." + key
		switch key {
		case "ca_file":
			t.CAFile, err = p.file(line, f, v)
		case "insecure_skip_verify":
			t.InsecureSkipVerify, err = p.boolean(line, f, v)
		}
		return err
	})
	return t, err
}

func (p *parser) labels(field string, v *yaml.Node) (map[string]string, error) {
	labels := map[string]string{}
	err := p.eachPair(v, field, func(name string, line int, v *yaml.Node) error {
		switch {
		case !labelNameRE.MatchString(name):
			return p.fail(line, field, "invalid label name %q: must match %s", name, labelNameRE)
		case strings.HasPrefix(name, "__"):
			return p.fail(line, field, "label name %q is reserved: names starting with __ are internal to Prometheus", name)
		case reservedLabels[name]:
			return p.fail(line, field, "label name %q is already used by the exporter", name)
		}
		f := field + "." + name
		if isNull(v) {
			return p.fail(line, f, "must not be empty")
		}
		value, err := p.str(line, f, v)
		if err != nil {
			return err
		}
		if !utf8.ValidString(value) {
			return p.fail(line, f, "must be valid UTF-8")
		}
		labels[name] = value
		return nil
	})
	return labels, err
}

func (p *parser) credentials(line int, field string, v *yaml.Node) (*Credentials, error) {
	c := &Credentials{}
	endpointLine := 0
	err := p.eachField(v, field, credentialKeys, func(key string, line int, v *yaml.Node) error {
		if isNull(v) {
			return nil
		}
		var err error
		f := field + "." + key
		switch key {
		case "access_key":
			c.AccessKey, err = p.secret(line, f, v)
		case "secret_key":
			c.SecretKey, err = p.secret(line, f, v)
		case "security_token":
			c.SecurityToken, err = p.secret(line, f, v)
		case "access_key_file":
			c.AccessKeyFile, err = p.file(line, f, v)
		case "secret_key_file":
			c.SecretKeyFile, err = p.file(line, f, v)
		case "security_token_file":
			c.SecurityTokenFile, err = p.file(line, f, v)
		case "env":
			c.Env, err = p.boolean(line, f, v)
		case "metadata":
			c.Metadata, err = p.boolean(line, f, v)
		case "metadata_endpoint":
			c.MetadataEndpoint, err = p.urlString(line, f, v)
			endpointLine = line
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if err := p.checkSource(line, field, c); err != nil {
		return nil, err
	}
	if c.MetadataEndpoint != "" && !c.Metadata {
		return nil, p.fail(endpointLine, field+".metadata_endpoint", "only used with metadata: true")
	}
	if c.MetadataEndpoint == "" {
		c.MetadataEndpoint = DefaultMetadataEndpoint
	}
	return c, nil
}

// checkSource enforces exactly one complete credential source.
func (p *parser) checkSource(line int, field string, c *Credentials) error {
	inline := keysSet([]string{"access_key", "secret_key", "security_token"},
		c.AccessKey != "", c.SecretKey != "", c.SecurityToken != "")
	files := keysSet([]string{"access_key_file", "secret_key_file", "security_token_file"},
		c.AccessKeyFile != "", c.SecretKeyFile != "", c.SecurityTokenFile != "")
	var sources [][]string
	for _, keys := range [][]string{inline, files, keysSet([]string{"env: true"}, c.Env), keysSet([]string{"metadata: true"}, c.Metadata)} {
		if len(keys) > 0 {
			sources = append(sources, keys)
		}
	}
	switch {
	case len(sources) == 0:
		return p.fail(line, field, "no credential source: set access_key and secret_key, access_key_file and secret_key_file, env: true, or metadata: true")
	case len(sources) > 1:
		return p.fail(line, field, "%s cannot be combined with %s: set exactly one credential source",
			strings.Join(sources[0], ", "), strings.Join(sources[1], ", "))
	}
	switch {
	case len(inline) > 0 && (c.AccessKey == "" || c.SecretKey == ""):
		return p.fail(line, field, "%s set without %s: access_key and secret_key must be set together", inline[0], missing(inline, "access_key", "secret_key"))
	case len(files) > 0 && (c.AccessKeyFile == "" || c.SecretKeyFile == ""):
		return p.fail(line, field, "%s set without %s: access_key_file and secret_key_file must be set together", files[0], missing(files, "access_key_file", "secret_key_file"))
	}
	return nil
}

// keysSet returns the names whose flag in set is true.
func keysSet(names []string, set ...bool) []string {
	var keys []string
	for i, ok := range set {
		if ok {
			keys = append(keys, names[i])
		}
	}
	return keys
}

// missing returns the required keys absent from have, joined by " and ".
func missing(have []string, required ...string) string {
	var out []string
	for _, k := range required {
		if !slices.Contains(have, k) {
			out = append(out, k)
		}
	}
	return strings.Join(out, " and ")
}

// str reads a scalar as text. Numbers and dates are accepted as written,
// since IDs such as project_id may look like numbers to YAML.
func (p *parser) str(line int, field string, v *yaml.Node) (string, error) {
	if v.Kind != yaml.ScalarNode {
		return "", p.fail(line, field, "must be a string, got %s", describe(v))
	}
	switch v.ShortTag() {
	case "!!str", "!!int", "!!float", "!!timestamp":
	default:
		return "", p.fail(line, field, "must be a string, got %s", describe(v))
	}
	if v.Value == "" {
		return "", p.fail(line, field, "must not be empty")
	}
	return v.Value, nil
}

// secret is str for credential values. str's errors never quote the value,
// which is what keeps secrets out of error messages.
func (p *parser) secret(line int, field string, v *yaml.Node) (Secret, error) {
	s, err := p.str(line, field, v)
	return Secret(s), err
}

func (p *parser) boolean(line int, field string, v *yaml.Node) (bool, error) {
	if v.Kind == yaml.ScalarNode && v.ShortTag() == "!!bool" {
		if b, err := strconv.ParseBool(strings.ToLower(v.Value)); err == nil {
			return b, nil
		}
	}
	return false, p.fail(line, field, "must be true or false, got %s", describe(v))
}

// url parses an absolute http(s) URL without query or fragment, dropping
// trailing slashes so that API paths can be appended directly.
func (p *parser) url(line int, field string, v *yaml.Node) (*url.URL, error) {
	s, err := p.str(line, field, v)
	if err != nil {
		return nil, err
	}
	u, err := url.Parse(s)
	if err != nil {
		// Do not quote s: a proxy URL may carry a password.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, p.fail(line, field, "invalid URL: %v", err)
	}
	shown := u.Redacted()
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, p.fail(line, field, "URL %q must start with http:// or https://", shown)
	case u.Hostname() == "":
		return nil, p.fail(line, field, "URL %q has no host", shown)
	case u.RawQuery != "" || u.ForceQuery || strings.Contains(s, "#"):
		return nil, p.fail(line, field, "URL %q must not have a query or fragment", shown)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = strings.TrimRight(u.RawPath, "/")
	return u, nil
}

func (p *parser) urlString(line int, field string, v *yaml.Node) (string, error) {
	u, err := p.url(line, field, v)
	if err != nil {
		return "", err
	}
	return u.String(), nil
}

// file resolves a path against the config's directory and checks that it
// exists. The file is not read here: secrets are re-read at use.
func (p *parser) file(line int, field string, v *yaml.Node) (string, error) {
	path, err := p.str(line, field, v)
	if err != nil {
		return "", err
	}
	if !filepath.IsAbs(path) {
		path = filepath.Join(p.dir, path)
	}
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "", p.fail(line, field, "file %q does not exist", path)
	case err != nil:
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return "", p.fail(line, field, "cannot access file %q: %v", path, err)
	case fi.IsDir():
		return "", p.fail(line, field, "%q is a directory, not a file", path)
	}
	return path, nil
}

// eachField is eachPair for a mapping with a fixed set of keys.
func (p *parser) eachField(n *yaml.Node, path string, known map[string]bool, fn func(key string, line int, v *yaml.Node) error) error {
	return p.eachPair(n, path, func(key string, line int, v *yaml.Node) error {
		if !known[key] {
			return p.fail(line, join(path, key), "unknown field")
		}
		return fn(key, line, v)
	})
}

// eachPair calls fn for each key/value of mapping n, rejecting anything that
// is not a mapping, non-string keys, merge keys and duplicate keys.
func (p *parser) eachPair(n *yaml.Node, path string, fn func(key string, line int, v *yaml.Node) error) error {
	line := n.Line
	n = resolve(n)
	if n.Kind != yaml.MappingNode {
		if path == "" {
			return p.fail(line, "", "config must be a mapping, got %s", describe(n))
		}
		return p.fail(line, path, "must be a mapping, got %s", describe(n))
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		// Errors point at the key as written, even if it is an alias.
		line := n.Content[i].Line
		k, v := resolve(n.Content[i]), resolve(n.Content[i+1])
		if k.Kind != yaml.ScalarNode {
			return p.fail(line, path, "keys must be strings, got %s", describe(k))
		}
		field := join(path, k.Value)
		if k.ShortTag() == "!!merge" {
			return p.fail(line, field, "merge keys are not supported")
		}
		if first, dup := seen[k.Value]; dup {
			return p.fail(line, field, "duplicate key (first defined at line %d)", first)
		}
		seen[k.Value] = line
		if err := fn(k.Value, line, v); err != nil {
			return err
		}
	}
	return nil
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// resolve follows aliases to the node they refer to.
func resolve(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	n = resolve(n)
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// describe names a node's type for "got ..." messages, never its value.
func describe(n *yaml.Node) string {
	n = resolve(n)
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	switch tag := n.ShortTag(); tag {
	case "!!str":
		return "a string"
	case "!!bool":
		return "a boolean"
	case "!!int":
		return "an integer"
	case "!!float":
		return "a number"
	case "!!null":
		return "null"
	case "!!timestamp":
		return "a timestamp"
	default:
		return "a value tagged " + tag
	}
}
