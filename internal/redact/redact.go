// Package redact is the one place that makes text from outside the exporter
// safe to show: error messages, request ids and headers an API echoes back,
// JSON key names, and URLs. Every package that shows such text to an
// operator (log, status page, --config.check, --dcs.check) goes through it,
// so that there is one order of steps and no path around them:
//
//  1. drop invalid UTF-8 and every character that is not printable (control
//     characters, ANSI escapes, zero-width and bidi format characters), so
//     that a secret split by one of them is whole again, and text cannot
//     forge log lines or drive a terminal;
//  2. cut out every secret, whole, and every run of MinRun or more
//     consecutive characters of one, so that an echo of part of a token is
//     cut as well;
//  3. cut the result to a stated length.
package redact

import (
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"
)

const (
	// Mask replaces what was cut out.
	Mask = "[redacted]"
	// MinRun is the shortest run of a secret's characters that is cut out
	// wherever it appears. Shorter runs are too likely in ordinary words
	// and ids; 12 characters of a random key are not.
	MinRun = 12
	// minWhole is the shortest secret that is cut out whole; shorter values
	// are no real key and would cut ordinary words.
	minWhole = 8
	// MaxText is the length (in bytes) an outside text is cut to unless the
	// caller says otherwise: an error message of a server.
	MaxText = 1024
	// MaxID is the length a request id or error code is cut to.
	MaxID = 128
	// MaxKey is the length a JSON key name quoted in an error is cut to.
	MaxKey = 64
	// cutMark ends a text that was cut.
	cutMark = "…"
)

// Printable drops invalid UTF-8, terminal escape sequences whole (so that
// "\x1b[0m" inside a token leaves no "[0m" to split it), and every other
// character that is not printable, ASCII space excepted: control
// characters (tabs and line breaks too), format characters such as
// zero-width spaces and bidi overrides, and other spaces.
func Printable(s string) string {
	clean := true
	for _, r := range s {
		if r == utf8.RuneError || !printable(r) {
			clean = false
			break
		}
	}
	if clean {
		return s // the usual case: no copy
	}
	s = strings.ToValidUTF8(s, "")
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == 0x1b || r == 0x9b || r == 0x9d:
			i += escapeLength(s[i:])
			continue
		case printable(r):
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// escapeLength is the length of the terminal escape sequence that starts s
// (with ESC, or the C1 CSI or OSC character): a control sequence (ESC [
// ... final byte), an operating system command (ESC ] ... BEL or ESC \),
// or ESC and one ASCII character. It never ends inside a character: what
// is not a well-formed sequence ends before the first odd byte.
func escapeLength(s string) int {
	r, n := utf8.DecodeRuneInString(s)
	kind := byte(0)
	switch {
	case r == 0x9b:
		kind = '['
	case r == 0x9d:
		kind = ']'
	case len(s) > n && s[n] >= 0x20 && s[n] <= 0x7e:
		kind = s[n]
		n++ // ESC and the character after it
	}
	switch kind {
	case '[': // parameters and intermediates, then a final byte in @ to ~
		for i := n; i < len(s); i++ {
			switch c := s[i]; {
			case c >= 0x40 && c <= 0x7e:
				return i + 1
			case c < 0x20 || c > 0x7e:
				return i
			}
		}
		return len(s)
	case ']': // up to BEL or ST (ESC \), within a line's worth
		for i := n; i < min(len(s), n+256); i++ {
			switch {
			case s[i] == 0x07:
				return i + 1
			case s[i] == 0x1b && i+1 < len(s) && s[i+1] == '\\':
				return i + 2
			}
		}
	}
	return n
}

func printable(r rune) bool { return r == ' ' || unicode.IsPrint(r) }

// Text is an outside text made safe to show: printable only, every secret
// and every run of MinRun characters of one replaced by Mask, and cut to at
// most limit bytes (MaxText when limit <= 0) without splitting a character.
func Text(s string, limit int, secrets ...string) string {
	if limit <= 0 {
		limit = MaxText
	}
	// A very long text is cut before the work, with room to spare: what
	// lies beyond limit+room cannot reach the result except as a run of
	// fewer than MinRun characters at its very end.
	if room := 4 * limit; len(s) > room {
		s = Cut(s, room)
	}
	return Cut(Secrets(Printable(s), secrets...), limit)
}

// Secrets replaces every secret in s, and every run of MinRun or more
// consecutive characters of one, by Mask. s should be Printable already, or
// a control character inside a secret hides it.
func Secrets(s string, secrets ...string) string {
	var cut []span // byte ranges of s to replace, in order, maybe overlapping
	for _, secret := range secrets {
		switch {
		case len(secret) < minWhole:
			continue
		case len(secret) < MinRun:
			for i := 0; ; {
				j := strings.Index(s[i:], secret)
				if j < 0 {
					break
				}
				cut = append(cut, span{i + j, i + j + len(secret)})
				i += j + len(secret)
			}
			continue
		}
		if len(s) < MinRun {
			continue
		}
		// Every run of MinRun or more characters of the secret is covered
		// by the runs of exactly MinRun it contains, so finding those is
		// enough; a set of them makes the search one pass over s.
		grams := make(map[string]struct{}, len(secret)-MinRun+1)
		for i := 0; i+MinRun <= len(secret); i++ {
			grams[secret[i:i+MinRun]] = struct{}{}
		}
		for i := 0; i+MinRun <= len(s); i++ {
			if _, ok := grams[s[i:i+MinRun]]; ok {
				cut = append(cut, span{i, i + MinRun})
			}
		}
	}
	if len(cut) == 0 {
		return s
	}
	// A match found byte by byte may begin or end inside a character (a
	// secret need not be valid UTF-8): cut whole characters.
	for i := range cut {
		for cut[i].start > 0 && !utf8.RuneStart(s[cut[i].start]) {
			cut[i].start--
		}
		for cut[i].end < len(s) && !utf8.RuneStart(s[cut[i].end]) {
			cut[i].end++
		}
	}
	sortSpans(cut)
	var b strings.Builder
	b.Grow(len(s))
	at := 0
	for i := 0; i < len(cut); {
		start, end := cut[i].start, cut[i].end
		for i++; i < len(cut) && cut[i].start <= end; i++ {
			end = max(end, cut[i].end)
		}
		b.WriteString(s[at:start])
		b.WriteString(Mask)
		at = end
	}
	b.WriteString(s[at:])
	return b.String()
}

type span struct{ start, end int }

// sortSpans sorts by start; the lists are short and mostly in order already.
func sortSpans(s []span) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j].start < s[j-1].start; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// Cut cuts s to at most n bytes without splitting a character, and marks a
// cut with "…" (within the n bytes).
func Cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	if n <= len(cutMark) {
		return cutUTF8(s, n)
	}
	return cutUTF8(s, n-len(cutMark)) + cutMark
}

// cutUTF8 cuts s to at most n bytes without splitting a character.
func cutUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// Key is a JSON key name (or a path of them) from an answer, fit to quote
// in an error: printable, and cut to MaxKey bytes.
func Key(s string) string { return Cut(Printable(s), MaxKey) }

// URL shows a URL without its user name and password, query and fragment:
// scheme, host and path. A text that does not parse as a URL is not shown
// at all, since where the parser stopped says nothing about where a
// password ends ("http://user:pa#ss@host" parses up to the "#").
func URL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(a URL that does not parse, not shown)"
	}
	return URLOf(u)
}

// URLOf is URL for a parsed URL; nil is "".
func URLOf(u *url.URL) string {
	if u == nil {
		return ""
	}
	v := url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path, RawPath: u.RawPath}
	if u.Opaque != "" { // "host:port" without a scheme parses so; show nothing of it but the scheme
		v = url.URL{Scheme: u.Scheme, Opaque: "…"}
	}
	return Text(v.String(), MaxText)
}

// Host is the host (and port) of a URL, without anything else: the
// Location of a redirect is shown so, since its query may carry a token.
// A URL without a host, such as a relative one, gives "".
func Host(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(a URL that does not parse, not shown)"
	}
	return Text(u.Host, 255)
}
