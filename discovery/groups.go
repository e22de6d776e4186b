// This file turns one target's listing into http_sd target groups,
// encoded once, plain and compressed, in runs that requests only join.

package discovery

import (
	"bytes"
	"compress/gzip"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/dcs-exporter/dcs_exporter/dcsapi"
)

// Prefix starts every label discovery sets. Prometheus drops labels
// starting with __meta_ after relabelling, so they cost nothing unless a
// relabel rule keeps them.
const Prefix = "__meta_dcs_"

// TagPrefix starts the label of each of an instance's tags, followed by the
// sanitised tag key.
const TagPrefix = Prefix + "tag_"

// run is the groups of one engine and status in one listing, encoded as
// JSON array elements joined by commas, and as a gzip member of that.
type run struct {
	engine, status string // lower-case, for the filters
	json, gz       []byte
}

// listing is the groups of one target's listing, built once. The groups
// are ordered by engine, in the order each engine first appears in the
// listing, then the same way by status, then in the listing's order
// (http_sd gives order no meaning), so that every filter of engine and
// status selects whole runs: a request joins prebuilt bytes and copies
// nothing.
type listing struct {
	runs      []run
	all       []byte // the runs' JSON, one after the other, comma-separated; runs[i].json are pieces of it
	offered   int    // groups, one per instance with an address
	noAddress int    // instances left out for want of an address
}

// build encodes t's instances. Only the fields named here are read, none
// of which is a secret: an instance carries no password, and the target's
// credentials are not part of Target.
func build(t *Target) *listing {
	type key struct{ engine, status string }
	var order []key
	members := map[key][]int{}
	for i := range t.Instances {
		k := key{strings.ToLower(t.Instances[i].Engine), strings.ToLower(t.Instances[i].Status)}
		if _, ok := members[k]; !ok {
			order = append(order, k)
		}
		members[k] = append(members[k], i)
	}
	// By engine first, keeping first appearances; stable, so statuses
	// keep theirs within an engine.
	firstOfEngine := map[string]int{}
	for i, k := range order {
		if _, ok := firstOfEngine[k.engine]; !ok {
			firstOfEngine[k.engine] = i
		}
	}
	slices.SortStableFunc(order, func(a, b key) int { return firstOfEngine[a.engine] - firstOfEngine[b.engine] })

	l := &listing{}
	type span struct{ start, end int }
	var spans []span
	for _, k := range order {
		sp := span{start: -1}
		for _, i := range members[k] {
			in := &t.Instances[i]
			addr, ok := address(in)
			if !ok {
				l.noAddress++
				continue
			}
			if l.offered == 64 {
				// Room for the rest at the size of the first groups, so
				// that a listing of megabytes is not copied over and over.
				l.all = slices.Grow(l.all, len(l.all)/64*(len(t.Instances)-64)*9/8)
			}
			if l.offered > 0 {
				l.all = append(l.all, ',')
			}
			if sp.start < 0 {
				sp.start = len(l.all)
			}
			l.all = appendGroup(l.all, t, in, addr)
			sp.end = len(l.all)
			l.offered++
		}
		if sp.start >= 0 {
			l.runs = append(l.runs, run{engine: k.engine, status: k.status})
			spans = append(spans, sp)
		}
	}
	l.all = slices.Clip(l.all)
	for i, sp := range spans {
		l.runs[i].json = l.all[sp.start:sp.end:sp.end]
		l.runs[i].gz = gzipMember(l.runs[i].json)
	}
	return l
}

// gzipMember compresses b as one gzip member. Members written one after
// the other are one valid gzip stream (RFC 1952, 2.2), which is how a
// compressed answer is put together from runs compressed once per
// listing. The fastest level: a listing of 20,000 instances is 16 MB of
// repetitive JSON, which that level already shrinks more than twentyfold.
func gzipMember(b []byte) []byte {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed) // a valid level: no error
	_, _ = zw.Write(b)                                 // writes to a bytes.Buffer do not fail
	_ = zw.Close()
	return buf.Bytes()
}

// address is where a scraper reaches in: its first IP address with its
// port, as ec2_sd puts an instance's private IP in __address__. The other
// addresses and the domain name are labels, for relabelling to choose.
// Without an IP address or a port there is nothing to scrape.
func address(in *dcsapi.Instance) (string, bool) {
	if in.Port <= 0 || in.Port > 65535 {
		return "", false
	}
	for _, ip := range in.IPs {
		if a, err := netip.ParseAddr(ip); err == nil && a.Zone() == "" { // a zone means nothing off this host
			return net.JoinHostPort(a.String(), strconv.Itoa(in.Port)), true
		}
	}
	return "", false
}

// appendGroup writes in's target group.
func appendGroup(b []byte, t *Target, in *dcsapi.Instance, addr string) []byte {
	l := startGroup(b, t, addr)
	l.add("instance_id", in.ID)
	l.add("instance_name", in.Name)
	l.add("engine", in.Engine)
	l.add("engine_version", in.EngineVersion)
	l.add("instance_status", in.Status)
	l.add("spec_code", in.SpecCode)
	l.add("az_codes", commaList(in.AZCodes))
	l.add("enterprise_project_id", in.EnterpriseProjectID)
	l.add("domain_name", in.DomainName)
	l.add("ips", commaList(in.IPs))
	l.add("port", strconv.Itoa(in.Port))
	l.add("no_password_access", boolText(in.NoPasswordAccess))
	l.add("enable_ssl", boolText(in.EnableSSL))
	l.addTags(in.Tags)
	return append(l.b, "}}"...)
}

// addTags adds every tag, not only the exporter's allow-list. Keys that
// sanitise to the same name keep the first in the API's order: a label set
// has one value per name, and a JSON object with a name twice is read
// differently by different decoders.
func (l *labelWriter) addTags(tags []dcsapi.Tag) {
	var seen map[string]bool
	for _, tag := range tags {
		name := TagPrefix + SanitizeLabelName(tag.Key)
		if seen[name] {
			continue
		}
		if seen == nil {
			seen = make(map[string]bool, len(tags))
		}
		seen[name] = true
		l.addName(name, tag.Value)
	}
}

// startGroup opens a target group for addr and writes the labels every
// group of t carries.
func startGroup(b []byte, t *Target, addr string) labelWriter {
	b = append(b, `{"targets":[`...)
	b = appendString(b, addr)
	b = append(b, `],"labels":{`...)
	l := labelWriter{b: b}
	l.add("target", t.Name)
	l.add("region", t.Region)
	l.add("project_id", t.ProjectID)
	return l
}

// labelWriter appends the members of a labels object.
type labelWriter struct {
	b     []byte
	count int
}

func (l *labelWriter) add(name, value string) { l.addName(Prefix+name, value) }

func (l *labelWriter) addName(name, value string) {
	if l.count > 0 {
		l.b = append(l.b, ',')
	}
	l.count++
	l.b = appendString(l.b, name)
	l.b = append(l.b, ':')
	l.b = appendString(l.b, value)
}

// commaList writes a list the way Prometheus's own discoveries do,
// wrapped in commas (",a,b,"), so that a regex can match one element
// as ".*,a,.*"; an empty list is "".
func commaList(items []string) string {
	if len(items) == 0 {
		return ""
	}
	return "," + strings.Join(items, ",") + ","
}

// boolText is "true", "false", or "" when the API did not say.
func boolText(v *bool) string {
	if v == nil {
		return ""
	}
	return strconv.FormatBool(*v)
}

// SanitizeLabelName makes s a valid Prometheus label name ending: every
// character other than an ASCII letter, digit or underscore becomes an
// underscore, one per character (and one per byte that is not UTF-8), as
// Prometheus's discoveries do for tag keys. The result may start with a
// digit, since it always follows a prefix.
func SanitizeLabelName(s string) string {
	clean := true
	for i := 0; i < len(s); i++ {
		if !nameByte(s[i]) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var sb strings.Builder
	sb.Grow(len(s))
	for _, r := range s { // a byte that is not UTF-8 comes as one RuneError
		if r < utf8.RuneSelf && nameByte(byte(r)) {
			sb.WriteByte(byte(r))
		} else {
			sb.WriteByte('_')
		}
	}
	return sb.String()
}

func nameByte(c byte) bool {
	return c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// appendString appends s as a JSON string. Bytes that are not UTF-8
// become U+FFFD, as encoding/json writes them, since Prometheus takes only
// UTF-8 label values; U+2028 and U+2029 are escaped too, for readers that
// take the answer as JavaScript.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 || r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			switch r {
			case utf8.RuneError:
				b = append(b, `\ufffd`...)
			default:
				b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
			}
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
