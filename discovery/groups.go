// This file turns one target's listing into http_sd target groups, each
// encoded once as a JSON fragment that requests only copy.

package discovery

import (
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

// group is one instance's target group, encoded.
type group struct {
	json   []byte // {"targets":[...],"labels":{...}}
	engine string // lower-case, for the filters
	status string // lower-case
}

// listing is the groups of one target's listing, built once. The groups
// are ordered by engine, in the order each engine first appears in the
// listing and in the listing's order within one engine (http_sd gives
// order no meaning), so that the groups of one engine are one run of all.
type listing struct {
	groups    []group
	all       []byte            // every group's JSON, comma-separated, for unfiltered requests
	byEngine  map[string][]byte // the run of all that holds one engine's groups
	noAddress int               // instances left out for want of an address
}

// build encodes t's instances. Only the fields named here are read, none
// of which is a secret: an instance carries no password, and the target's
// credentials are not part of Target. Each group's JSON is a piece of the
// unfiltered run, so a listing is held once.
func build(t *Target) *listing {
	l := &listing{groups: make([]group, 0, len(t.Instances)), byEngine: map[string][]byte{}}
	var engines []string
	byEngine := map[string][]int{}
	for i := range t.Instances {
		e := strings.ToLower(t.Instances[i].Engine)
		if _, ok := byEngine[e]; !ok {
			engines = append(engines, e)
		}
		byEngine[e] = append(byEngine[e], i)
	}
	ends := make([]int, 0, 2*len(t.Instances))
	runStart := map[string]int{}
	for _, e := range engines {
		runStart[e] = len(ends) / 2
		for _, i := range byEngine[e] {
			in := &t.Instances[i]
			addr, ok := address(in)
			if !ok {
				l.noAddress++
				continue
			}
			if len(l.groups) == 64 {
				// Room for the rest at the size of the first groups, so
				// that a listing of megabytes is not copied over and over.
				l.all = slices.Grow(l.all, len(l.all)/64*(len(t.Instances)-64)*9/8)
			}
			if len(ends) > 0 {
				l.all = append(l.all, ',')
			}
			start := len(l.all)
			l.all = appendGroup(l.all, t, in, addr)
			l.groups = append(l.groups, group{engine: e, status: strings.ToLower(in.Status)})
			ends = append(ends, start, len(l.all))
		}
	}
	l.all = slices.Clip(l.all)
	for i := range l.groups {
		l.groups[i].json = l.all[ends[2*i]:ends[2*i+1]:ends[2*i+1]]
	}
	for k, e := range engines {
		first, next := runStart[e], len(l.groups)
		if k+1 < len(engines) {
			next = runStart[engines[k+1]]
		}
		if first < next {
			l.byEngine[e] = l.all[ends[2*first]:ends[2*next-1]:ends[2*next-1]]
		}
	}
	return l
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
	b = append(b, `{"targets":[`...)
	b = appendString(b, addr)
	b = append(b, `],"labels":{`...)
	l := labelWriter{b: b}
	l.add("target", t.Name)
	l.add("region", t.Region)
	l.add("project_id", t.ProjectID)
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
	// Every tag, not only the exporter's allow-list. Keys that sanitise to
	// the same name keep the first in the API's order: a label set has
	// one value per name, and a JSON object with a name twice is read
	// differently by different decoders.
	var seen map[string]bool
	for _, tag := range in.Tags {
		name := TagPrefix + SanitizeLabelName(tag.Key)
		if seen[name] {
			continue
		}
		if seen == nil {
			seen = make(map[string]bool, len(in.Tags))
		}
		seen[name] = true
		l.addName(name, tag.Value)
	}
	return append(l.b, "}}"...)
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
