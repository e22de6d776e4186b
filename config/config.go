// Package config loads and validates the dcs_exporter YAML file: optional
// defaults and a list of targets, each a DCS account and region to scrape.
// Each key is spelled once, in a struct tag. Errors read "file:line: field:
// message" and never quote a secret.
package config

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dcs-exporter/dcs_exporter/endpoints"
	"github.com/dcs-exporter/dcs_exporter/internal/redact"
)

// Defaults applied when neither the target nor the defaults section sets a key.
const (
	DefaultAPIVersion       = "v2"
	DefaultTimeout          = 10 * time.Second
	DefaultMetadataEndpoint = endpoints.Metadata
	MaxTimeout              = 5 * time.Minute // so that a stuck API cannot pile up scrapes
	// A listing may hold at most DefaultMaxInstances instances and take at
	// most DefaultListingTimeout, all pages together, unless the target
	// says otherwise: an endpoint that keeps sending pages then costs a
	// bounded amount of memory and time.
	DefaultMaxInstances   = 50_000 // dcsapi's own default too (dcsapi.DefaultMaxInstances); config imports no API code
	DefaultListingTimeout = 5 * time.Minute
	MaxListingTimeout     = time.Hour
	MaxMaxInstances       = 10_000_000
	// DefaultBackupsInterval is how often each instance's backup records
	// are read; MinBackupsInterval bounds it, since every read is one call
	// per instance (see docs/fleet-apis.md, backup records).
	DefaultBackupsInterval = time.Hour
	MinBackupsInterval     = 10 * time.Minute
)

// Secret is a credential value that prints and marshals as "<secret>"; string() gives the value.
type Secret string

// String, GoString (%#v), MarshalYAML and MarshalJSON all show the mask.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "<secret>"
}

func (s Secret) GoString() string             { return strconv.Quote(s.String()) }
func (s Secret) MarshalYAML() (any, error)    { return s.String(), nil }
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(strconv.Quote(s.String())), nil }

// Credentials says where a target's keys come from: Env, Metadata, or each key inline or in a file.
type Credentials struct {
	AccessKey     Secret `yaml:"access_key,omitempty"`
	SecretKey     Secret `yaml:"secret_key,omitempty"`
	SecurityToken Secret `yaml:"security_token,omitempty"`

	// Resolved against the config's folder by Load; read at use, so rotated keys are picked up.
	AccessKeyFile     string `yaml:"access_key_file,omitempty" check:"secret_file"`
	SecretKeyFile     string `yaml:"secret_key_file,omitempty" check:"secret_file"`
	SecurityTokenFile string `yaml:"security_token_file,omitempty" check:"secret_file"`

	Env              bool   `yaml:"env,omitempty"`                           // HUAWEICLOUD_SDK_AK, _SK and _SECURITY_TOKEN
	Metadata         bool   `yaml:"metadata,omitempty"`                      // agency credentials from the ECS/CCE metadata service
	MetadataEndpoint string `yaml:"metadata_endpoint,omitempty" check:"url"` // Load always fills it
}

// CredentialSource is where a target's keys come from.
type CredentialSource int

const (
	CredentialsNone     CredentialSource = iota // nothing set; Parse refuses that
	CredentialsInline                           // every key given inline
	CredentialsFiles                            // at least one key read from its file, any other inline
	CredentialsEnv                              // HUAWEICLOUD_SDK_AK, _SK and _SECURITY_TOKEN
	CredentialsMetadata                         // the ECS/CCE metadata service
)

// Source returns where the keys come from. This is the one place that
// decides it: Parse accepts only credentials with exactly one source, the
// collector builds its provider from it and --config.check reports it.
func (c Credentials) Source() CredentialSource {
	switch {
	case c.Env:
		return CredentialsEnv
	case c.Metadata:
		return CredentialsMetadata
	case c.AccessKeyFile != "" || c.SecretKeyFile != "" || c.SecurityTokenFile != "":
		return CredentialsFiles
	case c.AccessKey != "" || c.SecretKey != "" || c.SecurityToken != "":
		return CredentialsInline
	}
	return CredentialsNone
}

// TLS configures how the exporter verifies the API endpoints.
type TLS struct {
	CAFile             string `yaml:"ca_file,omitempty" check:"file"`
	InsecureSkipVerify bool   `yaml:"insecure_skip_verify,omitempty"`
}

// InstanceTag is a resource tag copied onto dcs_instance_info as a label.
type InstanceTag struct {
	Key   string `yaml:"key"`   // the tag key, as the API reports it
	Label string `yaml:"label"` // "tag_" + Key sanitised to a label name
}

// Target is one scrape target, with the defaults merged in and filled.
type Target struct {
	Name        string `yaml:"name"`
	Region      string `yaml:"region"`
	ProjectID   string `yaml:"project_id,omitempty"` // empty: look it up in IAM
	Endpoint    string `yaml:"endpoint"`             // without a trailing API version
	IAMEndpoint string `yaml:"iam_endpoint"`         // the same
	APIVersion  string `yaml:"api_version"`          // "v1" or "v2"

	IncludeFailure  bool              `yaml:"include_failure"`
	Timeout         time.Duration     `yaml:"timeout"`
	ProxyURL        *url.URL          `yaml:"proxy_url,omitempty"` // nil when unset
	TLS             TLS               `yaml:"tls"`
	Labels          map[string]string `yaml:"labels"` // never nil
	Instances       bool              `yaml:"instances"`
	MaxInstances    int               `yaml:"max_instances"`    // bounds the listing's instances
	ListingTimeout  time.Duration     `yaml:"listing_timeout"`  // bounds the whole listing
	Nodes           bool              `yaml:"nodes"`            // the logical nodes of every instance, each listing interval
	Backups         bool              `yaml:"backups"`          // each backed-up instance's records; needs Instances
	BackupsInterval time.Duration     `yaml:"backups_interval"` // how often each instance's backups are read
	Statistics      bool              `yaml:"statistics"`       // the statistics call with every status query
	Quota           bool              `yaml:"quota"`            // the quota call on its own schedule
	Credentials     Credentials       `yaml:"credentials"`
	InstanceTags    []InstanceTag     `yaml:"instance_tags,omitempty"` // as listed; nil for none
}

// LabelNames returns the names of the target's extra labels, sorted.
func (t Target) LabelNames() []string { return slices.Sorted(maps.Keys(t.Labels)) }

// Config is the loaded configuration.
type Config struct {
	Targets []Target `yaml:"targets"`
	Notes   []Note   `yaml:"-" json:"-"` // worth a log line, not an error: an unknown region, say
}

// Note is a remark of the load and the level to log it at.
type Note struct {
	Level slog.Level
	Msg   string // "file:line: field: message", like an Error
}

// Error is a configuration problem. Line is 0 when unknown, Field "" when none.
type Error struct {
	File  string
	Line  int
	Field string // path such as targets[1].timeout
	Msg   string
}

func (e *Error) Error() string {
	s := e.File
	if e.Line > 0 {
		s += ":" + strconv.Itoa(e.Line)
	}
	if e.Field != "" {
		s += ": " + e.Field
	}
	return s + ": " + e.Msg
}

// Load reads the file at path and parses it with Parse.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		// Most likely a first run: say where a config comes from.
		return nil, fmt.Errorf("reading config: %w; point --config.file at your configuration, "+
			"start one from config.example.yml (in the repository and the release archive), "+
			"or run with --demo to try the exporter without a cloud account", err)
	}
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	return Parse(data, path)
}

// Parse parses and validates a configuration. Relative paths in it are taken
// from filename's folder; the files must exist, but are not read.
func Parse(data []byte, filename string) (*Config, error) {
	p := &parser{filename: filename, dir: filepath.Dir(filename), lines: map[string]int{}}
	var doc document
	if err := p.decode(data, &doc); err != nil {
		return nil, err
	}
	d := cmp.Or(doc.Defaults, &targetSpec{})
	if d.Name != nil {
		return nil, p.fail(p.lines["defaults.name"], "defaults.name", "not allowed in defaults; each target needs its own name")
	}
	if err := p.credentials(d.Credentials, "defaults.credentials"); err != nil {
		return nil, err
	}
	if len(doc.Targets) == 0 {
		return nil, p.fail(cmp.Or(p.lines["targets"], p.lines[""]), "targets", "at least one target is required")
	}
	var targets []Target
	for i := range doc.Targets {
		path := fmt.Sprintf("targets[%d]", i)
		t, err := p.target(path, d, &doc.Targets[i])
		if err != nil {
			return nil, err
		}
		if j := slices.IndexFunc(targets, func(o Target) bool { return o.Name == t.Name }); j >= 0 {
			return nil, p.fail(p.lines[path+".name"], path+".name", "duplicate target name %q (first defined at line %d)",
				t.Name, p.lines[fmt.Sprintf("targets[%d].name", j)])
		}
		targets = append(targets, t)
	}
	return &Config{Targets: targets, Notes: p.notes}, nil
}

// reservedLabels are set by the exporter, so no target label or tag may be.
var reservedLabels = keySet("target", "region", "project_id", "engine", "state", "api", "code", "instance_id",
	"name", "engine_version", "spec_code", "charging_mode", "enterprise_project_id", "status",
	"node_type", "node_id", "node_name", "node_role", "group_name", "az_code", "error_code")

// document is the file as written.
type document struct {
	Defaults *targetSpec  `yaml:"defaults"`
	Targets  []targetSpec `yaml:"targets"`
}

// targetSpec is a target or the defaults as written; nil is "not set", so
// that false or [] still override the defaults. A check tag names a check.
type targetSpec struct {
	Name            *string           `yaml:"name" check:"name"`
	Region          *string           `yaml:"region" check:"region"`
	ProjectID       *string           `yaml:"project_id" check:"project_id"`
	Endpoint        *string           `yaml:"endpoint" check:"url"`
	IAMEndpoint     *string           `yaml:"iam_endpoint" check:"url"`
	APIVersion      *string           `yaml:"api_version" check:"api_version"`
	IncludeFailure  *bool             `yaml:"include_failure"`
	Timeout         *time.Duration    `yaml:"timeout" check:"timeout"`
	ProxyURL        *string           `yaml:"proxy_url" check:"url"`
	TLS             *TLS              `yaml:"tls"`
	Labels          map[string]string `yaml:"labels" check:"label"`
	Instances       *bool             `yaml:"instances"`
	MaxInstances    *int              `yaml:"max_instances" check:"max_instances"`
	ListingTimeout  *time.Duration    `yaml:"listing_timeout" check:"listing_timeout"`
	Nodes           *bool             `yaml:"nodes"`
	Backups         *bool             `yaml:"backups"`
	BackupsInterval *time.Duration    `yaml:"backups_interval" check:"backups_interval"`
	Statistics      *bool             `yaml:"statistics"`
	Quota           *bool             `yaml:"quota"`
	InstanceTags    []string          `yaml:"instance_tags"` // [] overrides the defaults' list
	Credentials     *Credentials      `yaml:"credentials"`
}

type parser struct {
	filename string
	dir      string         // config file's directory, base of relative file paths
	lines    map[string]int // field path -> line of its key (or list item)
	notes    []Note
}

func (p *parser) fail(line int, field, format string, args ...any) error {
	return &Error{File: p.filename, Line: line, Field: field, Msg: fmt.Sprintf(format, args...)}
}

func (p *parser) note(level slog.Level, field, format string, args ...any) {
	n := Note{level, p.fail(p.lines[field], field, format, args...).Error()}
	if !slices.Contains(p.notes, n) { // targets that share a default share its note
		p.notes = append(p.notes, n)
	}
}

// credentials checks that c, when set, names one source (see Source): keys,
// env or metadata. The keys set are listed to name what conflicts.
func (p *parser) credentials(c *Credentials, field string) error {
	if c == nil {
		return nil
	}
	line := p.lines[field]
	var keys, sources []string
	missing := []string{"access_key (or access_key_file)", "secret_key (or secret_key_file)"}
	for f, v := range reflect.ValueOf(*c).Fields() {
		key := yamlKey(f)
		switch inline := strings.TrimSuffix(key, "_file"); {
		case v.Kind() == reflect.Bool && v.Bool():
			sources = append(sources, key+": true")
		case v.IsZero() || f.Tag.Get("check") == "url":
		case slices.Contains(keys, inline):
			return p.fail(line, field, "%s cannot be combined with %s: give each key inline or as a file, not both", inline, key)
		default:
			keys = append(keys, key)
			missing = slices.DeleteFunc(missing, func(m string) bool { return strings.HasPrefix(m, inline+" ") })
		}
	}
	if len(keys) > 0 {
		sources = append([]string{strings.Join(keys, ", ")}, sources...)
	}
	source := c.Source()
	switch {
	case source == CredentialsNone:
		return p.fail(line, field, "no credential source: set access_key and secret_key, access_key_file and secret_key_file, env: true, or metadata: true")
	case len(sources) > 1:
		return p.fail(line, field, "%s cannot be combined with %s: set exactly one credential source", sources[0], sources[1])
	case (source == CredentialsInline || source == CredentialsFiles) && len(missing) > 0:
		return p.fail(line, field, "%s set without %s: an access key and a secret key are both required", keys[0], strings.Join(missing, " and "))
	case c.MetadataEndpoint != "" && source != CredentialsMetadata:
		return p.fail(p.lines[field+".metadata_endpoint"], field+".metadata_endpoint", "only used with metadata: true")
	}
	return nil
}

// target merges the defaults d under the target's own keys s: labels merge by
// name, while tls, credentials and instance_tags are taken whole.
func (p *parser) target(path string, d, s *targetSpec) (Target, error) {
	if err := p.credentials(s.Credentials, path+".credentials"); err != nil {
		return Target{}, err
	}
	t := Target{APIVersion: DefaultAPIVersion, IncludeFailure: true, Quota: true, Timeout: DefaultTimeout, Labels: map[string]string{},
		MaxInstances: DefaultMaxInstances, ListingTimeout: DefaultListingTimeout, BackupsInterval: DefaultBackupsInterval}
	m := *s // s with every unset key taken from d, then copied into t's field of the same name and type
	for f, v := range reflect.ValueOf(&m).Elem().Fields() {
		if v.IsZero() {
			v.Set(reflect.ValueOf(d).Elem().FieldByIndex(f.Index))
		}
		if dst := reflect.ValueOf(&t).Elem().FieldByName(f.Name); v.Kind() == reflect.Pointer && !v.IsNil() && v.Elem().Type() == dst.Type() {
			dst.Set(v.Elem())
		}
	}
	switch line := p.lines[path]; {
	case s.Name == nil:
		return Target{}, p.fail(line, path+".name", "missing required field")
	case m.Region == nil:
		return Target{}, p.fail(line, path+".region", "missing required field")
	case m.Credentials == nil:
		return Target{}, p.fail(line, path+".credentials", "target %q has no credentials; set them on the target or in defaults", *s.Name)
	}
	c := &t.Credentials
	for _, f := range []*string{&t.TLS.CAFile, &c.AccessKeyFile, &c.SecretKeyFile, &c.SecurityTokenFile} {
		*f = p.abs(*f)
	}
	credentials := origin(path, "credentials", s.Credentials != nil)
	p.noteReadableByAll(credentials+".access_key_file", c.AccessKeyFile)
	p.noteReadableByAll(credentials+".secret_key_file", c.SecretKeyFile)
	p.noteReadableByAll(credentials+".security_token_file", c.SecurityTokenFile)
	// A note, so that it is logged at start and on every reload, and shown
	// by --config.check, naming the target each time.
	if t.TLS.InsecureSkipVerify {
		p.note(slog.LevelWarn, origin(path, "tls", s.TLS != nil)+".insecure_skip_verify", "target %q: the TLS certificates of its API endpoints are NOT verified "+
			"(insecure_skip_verify: true), so anyone on the network path can read the signed calls and answer them; set tls.ca_file instead", t.Name)
	}
	if m.ProxyURL != nil {
		t.ProxyURL, _ = url.Parse(p.cleanURL(*m.ProxyURL, ""))
	}
	c.MetadataEndpoint = p.cleanURL(cmp.Or(c.MetadataEndpoint, DefaultMetadataEndpoint), "")
	maps.Copy(t.Labels, d.Labels)
	maps.Copy(t.Labels, s.Labels)

	dcs, iam, known := endpoints.Default(t.Region)
	var guessed []string
	if t.Endpoint == "" {
		t.Endpoint, guessed = dcs, append(guessed, dcs)
	}
	if t.IAMEndpoint == "" {
		t.IAMEndpoint, guessed = iam, append(guessed, iam)
	}
	if !known && len(guessed) > 0 {
		p.note(slog.LevelWarn, origin(path, "region", s.Region != nil), "target %q: region %q is not in the region tables "+
			"of the official SDK; guessing %s (set endpoint and iam_endpoint if that is wrong)", t.Name, t.Region, strings.Join(guessed, " and "))
	}
	// Catalogue URLs end in the API version, which dcsapi adds to each request
	// (/v3.0 is the SDK's IAM path). Other paths are kept, for gateways.
	t.Endpoint = p.cleanURL(t.Endpoint, origin(path, "endpoint", s.Endpoint != nil), "/v1.0", "/v2")
	t.IAMEndpoint = p.cleanURL(t.IAMEndpoint, origin(path, "iam_endpoint", s.IAMEndpoint != nil), "/v3", "/v3.0")

	// Which instances can be backed up is known only from the listing
	// (engine and spec code), so backups without it read nothing.
	if t.Backups && !t.Instances {
		p.note(slog.LevelWarn, origin(path, "backups", s.Backups != nil), "target %q: backups: true needs instances: true, "+
			"which tells which instances can be backed up; no backup records are read without it", t.Name)
	}

	field := origin(path, "instance_tags", s.InstanceTags != nil)
	for i, key := range m.InstanceTags {
		tag, item := InstanceTag{key, "tag_" + notInLabelRE.ReplaceAllString(key, "_")}, fmt.Sprintf("%s[%d]", field, i)
		if j := slices.IndexFunc(t.InstanceTags, func(o InstanceTag) bool { return o.Label == tag.Label }); j >= 0 {
			return Target{}, p.fail(p.lines[item], item, "tag %q becomes the label %q, as does tag %q at line %d",
				key, tag.Label, t.InstanceTags[j].Key, p.lines[fmt.Sprintf("%s[%d]", field, j)])
		}
		if _, taken := t.Labels[tag.Label]; taken || reservedLabels[tag.Label] {
			return Target{}, p.fail(p.lines[item], item, "tag %q becomes the label %q, which target %q already has", key, tag.Label, t.Name)
		}
		t.InstanceTags = append(t.InstanceTags, tag)
	}
	return t, nil
}

// noteReadableByAll warns of a credential file that every user of the
// machine may read (mode o+r). It is accepted, since a Kubernetes Secret is
// mounted 0644 unless told otherwise, but the operator should know.
func (p *parser) noteReadableByAll(field, file string) {
	if file == "" {
		return
	}
	if fi, err := os.Stat(file); err == nil && fi.Mode().Perm()&0o004 != 0 {
		p.note(slog.LevelWarn, field, "credential file %s can be read by every user of this machine (mode %04o): "+
			"make it readable by the exporter only (chmod o-r; defaultMode: 0400 for a Kubernetes Secret)", file, fi.Mode().Perm())
	}
}

// cleanURL drops trailing slashes from a checked URL, and then the first of
// versions that ends its path, with a note on field.
func (p *parser) cleanURL(s, field string, versions ...string) string {
	u, _ := url.Parse(s)
	u.Path, u.RawPath = strings.TrimRight(u.Path, "/"), strings.TrimRight(u.RawPath, "/")
	for _, v := range versions {
		if strings.HasSuffix(u.Path, v) {
			u.Path, u.RawPath = strings.TrimSuffix(u.Path, v), strings.TrimSuffix(u.RawPath, v)
			p.note(slog.LevelInfo, field, "dropped %s from the end of the URL, since the exporter adds the API version to each request: using %s", v, redact.URLOf(u))
			break
		}
	}
	return u.String()
}

// notInLabelRE matches what a label name cannot hold: tag cost-center is label tag_cost_center.
var notInLabelRE = regexp.MustCompile(`[^a-zA-Z0-9_]`)

// origin is the field a target's key came from: its own, or the defaults'.
func origin(path, key string, own bool) string {
	if own {
		return path + "." + key
	}
	return "defaults." + key
}
