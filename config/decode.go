package config

// This file's job: decode the YAML text into the document structs, after a
// check of the node tree against their types that names each error's line.

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/dcs-exporter/dcs_exporter/internal/credfile"
	"github.com/dcs-exporter/dcs_exporter/internal/redact"
)

// decode fills doc from data, or says why it cannot.
func (p *parser) decode(data []byte, doc *document) (err error) {
	defer func() { // yaml.v3 should not panic, but if it does, Parse must not
		if r := recover(); r != nil {
			err = p.fail(0, "", "cannot parse YAML: %v", r)
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var root, next yaml.Node
	for _, n := range []*yaml.Node{&root, &next} {
		if err := dec.Decode(n); err != nil && !errors.Is(err, io.EOF) {
			return p.yamlError(err, data)
		}
	}
	if next.Kind == yaml.DocumentNode {
		return p.fail(next.Line, "", "only one YAML document is allowed")
	}
	if len(root.Content) == 0 || isNull(root.Content[0]) {
		return p.fail(0, "", "config is empty; at least one target is required")
	}
	n := root.Content[0]
	p.lines[""] = n.Line
	if err := p.shape(n, reflect.TypeOf(doc), "", "", n.Line); err != nil {
		return err
	}
	dec = yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(doc); err != nil {
		// shape refused all it could; yaml.v3's text may quote a secret.
		var e *Error
		errors.As(p.yamlError(err, data), &e)
		return p.fail(e.Line, "", "cannot decode a value")
	}
	return nil
}

var yamlLineRE = regexp.MustCompile(`line (\d+): `)

// yamlError rewrites "yaml: line N: msg" into our "file:N: msg" form.
func (p *parser) yamlError(err error, data []byte) error {
	msg, line := strings.TrimPrefix(err.Error(), "yaml: "), 0
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = strings.TrimPrefix(msg, m[0])
	}
	if tab := tabIndentedLine(data, line, msg); tab > 0 {
		return p.fail(tab, "", "a tab indents this line; YAML indents with spaces only")
	}
	return p.fail(line, "", "%s", msg)
}

// tabIndentedLine finds the line whose indentation holds the tab that
// yaml.v3 complained about in msg, or returns 0. yaml.v3 puts a tab that
// "violates indentation" at the line of the token before it, which may be
// lines earlier, and calls a tab before a nested key a "character that
// cannot start any token" without saying which. The first line from the
// reported one on with a tab in its indentation (spaces, tabs and the "- "
// of list items) is the one to fix. A first line's error has no line
// number, hence from line 1.
func tabIndentedLine(data []byte, reported int, msg string) int {
	tabMsg := strings.Contains(msg, "tab character")
	if !tabMsg && !strings.Contains(msg, "cannot start any token") {
		return 0
	}
	for i, text := range strings.Split(string(data), "\n") {
		n := i + 1
		if n < reported {
			continue
		}
		indent := text[:len(text)-len(strings.TrimLeft(text, " \t-"))]
		if strings.Contains(indent, "\t") {
			return n
		}
		if !tabMsg && n >= max(reported, 1) {
			return 0 // that message is about its own line; no tab there
		}
	}
	return 0
}

// textTags are read as text, as written: a project_id may look like a number.
var textTags = []string{"!!str", "!!int", "!!float", "!!timestamp", "!!null"}

// shape checks node n, at line as the field path, against Go type t and the
// field's check, and records the line of every key and list item. Null is
// "not set" for a struct field, an empty value elsewhere.
func (p *parser) shape(n *yaml.Node, t reflect.Type, check, path string, line int) error {
	n = resolve(n)
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	var err error
	switch t.Kind() {
	case reflect.Bool:
		err = when(n.ShortTag() != "!!bool", "must be true or false, got %s", describe(n))
	case reflect.String, reflect.Int64, reflect.Int: // Int64: time.Duration
		err = cmp.Or(when(n.Kind != yaml.ScalarNode || !slices.Contains(textTags, n.ShortTag()), "must be a string, got %s", describe(n)),
			when(n.Value == "" || isNull(n), "must not be empty"))
		if err == nil && check != "" {
			err = checks[check](p, n.Value)
		}
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			return p.fail(line, path, "must be a list of %s, got %s", listOf[path[strings.LastIndex(path, ".")+1:]], describe(n))
		}
		for i, item := range n.Content {
			path := fmt.Sprintf("%s[%d]", path, i)
			p.lines[path] = item.Line // the alias's own line, not its anchor's
			if err := p.shape(item, t.Elem(), "", path, item.Line); err != nil {
				return err
			}
		}
	case reflect.Struct, reflect.Map:
		if n.Kind != yaml.MappingNode && path == "" {
			return p.fail(line, "", "config must be a mapping, got %s", describe(n))
		} else if n.Kind != yaml.MappingNode {
			return p.fail(line, path, "must be a mapping, got %s", describe(n))
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			line, k, v := n.Content[i].Line, resolve(n.Content[i]), n.Content[i+1] // the key as written, even an alias
			if k.Kind != yaml.ScalarNode {
				return p.fail(line, path, "keys must be strings, got %s", describe(k))
			}
			field, elem, vcheck := strings.TrimPrefix(path+"."+k.Value, "."), reflect.Type(nil), ""
			if t.Kind() == reflect.Map {
				elem = t.Elem()
			} else {
				for f := range t.Fields() {
					if yamlKey(f) == k.Value {
						elem, vcheck = f.Type, f.Tag.Get("check")
					}
				}
			}
			first, dup := p.lines[field]
			switch {
			case k.ShortTag() == "!!merge":
				return p.fail(line, field, "merge keys are not supported")
			case dup:
				return p.fail(line, field, "duplicate key (first defined at line %d)", first)
			case elem == nil:
				return p.fail(line, field, "unknown field")
			case t.Kind() == reflect.Map && check != "": // a map's check is about its keys
				if err := checks[check](p, k.Value); err != nil {
					return p.fail(line, path, "%v", err)
				}
			}
			p.lines[field] = line
			if isNull(v) && t.Kind() == reflect.Struct {
				continue
			}
			if err := p.shape(v, elem, vcheck, field, line); err != nil {
				return err
			}
		}
	}
	if err != nil {
		return p.fail(line, path, "%v", err)
	}
	return nil
}

// listOf names the items of each list for "must be a list of" errors.
var listOf = map[string]string{"targets": "targets", "instance_tags": "tag keys"}

func yamlKey(f reflect.StructField) string {
	key, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	return key
}

func keySet(keys ...string) map[string]bool {
	m := make(map[string]bool, len(keys))
	for _, k := range keys {
		m[k] = true
	}
	return m
}

// resolve follows aliases to the node they refer to.
func resolve(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool { return resolve(n).ShortTag() == "!!null" }

var kinds = map[string]string{"!!map": "a mapping", "!!seq": "a list", "!!str": "a string", "!!bool": "a boolean",
	"!!int": "an integer", "!!float": "a number", "!!null": "null", "!!timestamp": "a timestamp"}

// describe names a node's type for "got ..." messages, never its value.
func describe(n *yaml.Node) string {
	return cmp.Or(kinds[resolve(n).ShortTag()], "a value tagged "+resolve(n).ShortTag())
}

var (
	regionRE    = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)+$`)
	labelNameRE = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
	keyLikeRE   = regexp.MustCompile(`[A-Za-z0-9]{16}`) // as in access keys, secret keys and tokens
)

// matching is a check that s matches the regular expression re.
func matching(re *regexp.Regexp, format string) func(*parser, string) error {
	return func(_ *parser, s string) error { return when(!re.MatchString(s), format, s) }
}

// checks validate the text of the fields tagged check:"name".
var checks = map[string]func(p *parser, s string) error{
	"label": func(_ *parser, s string) error { // a target label's name
		return cmp.Or(when(!labelNameRE.MatchString(s), "invalid label name %q: must match %s", s, labelNameRE),
			when(strings.HasPrefix(s, "__"), "label name %q is reserved: names starting with __ are internal to Prometheus", s),
			when(reservedLabels[s], "label name %q is already used by the exporter", s))
	},
	"name":            matching(regexp.MustCompile(`^\P{Cc}*$`), "%q must not contain control characters"), // the target label's value
	"region":          matching(regionRE, `invalid region %q: must be lowercase words joined by "-", e.g. "cn-north-4"`),
	"project_id":      matching(regexp.MustCompile(`^[A-Za-z0-9]{1,64}$`), "invalid project_id %q: must be 1 to 64 letters or digits"),
	"api_version":     matching(regexp.MustCompile(`^v[12]$`), `must be "v1" or "v2", got %q`),
	"timeout":         duration(MaxTimeout),
	"listing_timeout": duration(MaxListingTimeout),
	"max_instances": func(_ *parser, s string) error {
		n, err := strconv.Atoi(s)
		return cmp.Or(when(err != nil, "must be a whole number, got %q", s), when(n <= 0, "must be greater than 0, got %q", s),
			when(n > MaxMaxInstances, "must be at most %d, got %q", MaxMaxInstances, s))
	},
	"backups_interval": func(_ *parser, s string) error {
		d, err := time.ParseDuration(s)
		return cmp.Or(when(err != nil, "invalid duration %q", s),
			when(d < MinBackupsInterval, "must be at least %v, since each read is one call per instance, got %q", MinBackupsInterval, s))
	},
	// Absolute, so that API paths can be appended; shown only through
	// redact.URL, without user, password or query. A URL that does not
	// parse is not quoted, nor is the parser's complaint: where it stopped
	// can be in the middle of a password ("http://u:pa#ss@host").
	"url": func(_ *parser, s string) error {
		u, err := url.Parse(s)
		if err != nil {
			return errors.New("not a valid URL (not shown, since it may hold a password): a user name or password " +
				"with any of the characters # ? / @ : % or a space must have them percent-encoded, e.g. # as %23")
		}
		return cmp.Or(when(u.Scheme != "http" && u.Scheme != "https", "URL %q must start with http:// or https://", redact.URLOf(u)),
			when(u.Hostname() == "", "URL %q has no host", redact.URLOf(u)),
			when(u.RawQuery != "" || u.ForceQuery || strings.Contains(s, "#"), "URL %q must not have a query or fragment (a part from ? or #, not shown)", redact.URLOf(u)))
	},
	"file": func(p *parser, s string) error { _, err := checkFile(p, s); return err },
	// A credential file, after following symlinks (Kubernetes mounts a
	// Secret's keys so), is a regular file of at most 64 KiB: /dev/zero
	// here would otherwise be read until memory runs out.
	"secret_file": func(p *parser, s string) error {
		fi, err := checkFile(p, s)
		if err == nil {
			if err = credfile.Check(fi); err != nil {
				err = fmt.Errorf("%s: %w", shownPath(p, s), err)
			}
		}
		return err
	},
}

// duration is a check of a positive duration of at most limit.
func duration(limit time.Duration) func(*parser, string) error {
	return func(_ *parser, s string) error {
		d, err := time.ParseDuration(s)
		return cmp.Or(when(err != nil, "invalid duration %q", s), when(d <= 0, "must be greater than 0, got %q", s),
			when(d > limit, "must be at most %v, got %q", limit, s))
	}
}

// checkFile checks that a file exists; it is read at use.
func checkFile(p *parser, s string) (os.FileInfo, error) {
	fi, err := os.Stat(p.abs(s))
	name := shownPath(p, s)
	return fi, cmp.Or(when(errors.Is(err, os.ErrNotExist), "file %s does not exist", name),
		when(err != nil, "cannot access file %s: %v", name, errors.Unwrap(err)),
		when(err == nil && fi.IsDir(), "%q is a directory, not a file", p.abs(s)))
}

// shownPath quotes a file's path for an error. Lest a key pasted where a
// path belongs reach the log, only a name like a path (a dot or slash, no
// key-like run) is shown.
func shownPath(p *parser, s string) string {
	if strings.ContainsAny(s, "./") && !keyLikeRE.MatchString(s) {
		return strconv.Quote(p.abs(s))
	}
	return "(name withheld: it does not look like a path)"
}

// when returns the error described, or nil when bad is false.
func when(bad bool, format string, args ...any) error {
	if !bad {
		return nil
	}
	return fmt.Errorf(format, args...)
}

// abs resolves a path against the config's directory.
func (p *parser) abs(path string) string {
	if path == "" || filepath.IsAbs(path) {
		return path
	}
	return filepath.Join(p.dir, path)
}
