package dcsapitest

// The gateway's side of SDK-HMAC-SHA256: it checks a signature as received,
// from the request alone. It is written from the scheme's description
// (docs/api-facts.md §1, after the SDK's core/auth/signer/signer.go at
// v0.1.207) and shares no code with dcsapi's signer, so
// that a mistake in one cannot hide the same mistake in the other.

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"time"
)

const (
	authScheme    = "SDK-HMAC-SHA256"
	dateLayout    = "20060102T150405Z"
	maxClockSkew  = 15 * time.Minute // "signature expired" beyond this (notes §1.8)
	payloadHeader = "X-Sdk-Content-Sha256"
)

// authorizationRE is the one form the SDK writes (notes §1.5): one space
// after the scheme, ", " between the parts, lower-case hex.
var authorizationRE = regexp.MustCompile(`^` + authScheme + ` Access=([^, ]+), SignedHeaders=([^, ]+), Signature=([0-9a-f]{64})$`)

// SignatureError says why a signature was refused. It never holds the
// secret key or the expected signature.
type SignatureError struct{ Reason string }

func (e *SignatureError) Error() string { return "signature rejected: " + e.Reason }

func refuse(format string, args ...any) error {
	return &SignatureError{Reason: fmt.Sprintf(format, args...)}
}

// Authorization is the parsed Authorization header of a signed request.
type Authorization struct {
	AccessKey     string
	SignedHeaders []string // lower case, as listed
	Signature     string
}

// ParseAuthorization reads an SDK-HMAC-SHA256 Authorization header.
func ParseAuthorization(value string) (Authorization, error) {
	m := authorizationRE.FindStringSubmatch(value)
	if m == nil {
		return Authorization{}, refuse("missing or malformed Authorization header")
	}
	return Authorization{AccessKey: m[1], SignedHeaders: strings.Split(m[2], ";"), Signature: m[3]}, nil
}

// VerifySignature checks a signed request as the API gateway receives it:
// the Authorization header names a key that secretOf knows and the headers
// signed, X-Sdk-Date is among them and within 15 minutes of now, and the
// signature covers the method, path, query, those headers and the body.
// Headers that are not listed (User-Agent, Accept-Encoding) do not count.
func VerifySignature(r *http.Request, body []byte, secretOf func(accessKey string) (string, bool), now time.Time) error {
	auth, err := ParseAuthorization(r.Header.Get("Authorization"))
	if err != nil {
		return err
	}
	secret, ok := secretOf(auth.AccessKey)
	if !ok {
		return refuse("unknown access key")
	}
	date := r.Header.Get("X-Sdk-Date")
	signedAt, err := time.Parse(dateLayout, date)
	if err != nil {
		return refuse("missing or malformed X-Sdk-Date")
	}
	if skew := now.Sub(signedAt); skew > maxClockSkew || skew < -maxClockSkew {
		return refuse("signature expired, signature time %s, server time %s", date, now.UTC().Format(dateLayout))
	}
	canonical, err := canonicalForm(r, body, auth.SignedHeaders)
	if err != nil {
		return err
	}
	digest := sha256.Sum256([]byte(canonical))
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(authScheme + "\n" + date + "\n" + hex.EncodeToString(digest[:])))
	if !hmac.Equal([]byte(hex.EncodeToString(mac.Sum(nil))), []byte(auth.Signature)) {
		return refuse("verify aksk signature fail")
	}
	return nil
}

// canonicalForm builds the canonical request of notes §1.3 from the
// request as received.
func canonicalForm(r *http.Request, body []byte, signed []string) (string, error) {
	if !sort.StringsAreSorted(signed) {
		return "", refuse("SignedHeaders is not sorted")
	}
	hasDate := false
	for i, name := range signed {
		if name == "" || name != strings.ToLower(name) || (i > 0 && signed[i-1] == name) {
			return "", refuse("SignedHeaders lists %q", name)
		}
		hasDate = hasDate || name == "x-sdk-date"
	}
	if !hasDate {
		return "", refuse("SignedHeaders lacks x-sdk-date")
	}

	var lines []string
	lines = append(lines, r.Method, canonicalPath(r.URL.Path))
	query, err := canonicalQueryOf(r.URL.RawQuery)
	if err != nil {
		return "", err
	}
	lines = append(lines, query)
	for _, name := range signed {
		values := headerValues(r, name)
		if values == nil {
			return "", refuse("signed header %s is missing", name)
		}
		for _, v := range values {
			lines = append(lines, name+":"+strings.TrimSpace(v))
		}
	}
	lines = append(lines, "", strings.Join(signed, ";"))
	if declared := r.Header.Get(payloadHeader); declared != "" {
		lines = append(lines, declared)
	} else {
		sum := sha256.Sum256(body)
		lines = append(lines, hex.EncodeToString(sum[:]))
	}
	return strings.Join(lines, "\n"), nil
}

// headerValues returns the values of a signed header, sorted; the host is
// the one the request was sent to, which Go keeps apart from the headers.
func headerValues(r *http.Request, lowerName string) []string {
	if lowerName == "host" {
		if r.Host != "" {
			return []string{r.Host}
		}
		return []string{r.URL.Host}
	}
	var values []string
	for name, vs := range r.Header {
		if strings.EqualFold(name, lowerName) {
			values = append(values, vs...)
		}
	}
	sort.Strings(values)
	return values
}

// canonicalPath escapes each segment of the decoded path and ends it with
// a slash.
func canonicalPath(path string) string {
	segments := strings.Split(path, "/")
	for i, s := range segments {
		segments[i] = percentEncode(s)
	}
	p := strings.Join(segments, "/")
	if !strings.HasSuffix(p, "/") {
		p += "/"
	}
	return p
}

// canonicalQueryOf decodes the query as sent and writes every key=value
// pair escaped, sorted by raw key, then by raw value. A bare key counts as
// an empty value.
func canonicalQueryOf(rawQuery string) (string, error) {
	type pair struct{ k, v string }
	var pairs []pair
	for _, field := range strings.Split(rawQuery, "&") {
		if field == "" {
			continue
		}
		rawKey, rawValue, _ := strings.Cut(field, "=")
		k, err := url.QueryUnescape(rawKey)
		if err != nil {
			return "", refuse("undecodable query key")
		}
		v, err := url.QueryUnescape(rawValue)
		if err != nil {
			return "", refuse("undecodable query value")
		}
		pairs = append(pairs, pair{k, v})
	}
	sort.Slice(pairs, func(i, j int) bool {
		if pairs[i].k != pairs[j].k {
			return pairs[i].k < pairs[j].k
		}
		return pairs[i].v < pairs[j].v
	})
	encoded := make([]string, len(pairs))
	for i, p := range pairs {
		encoded[i] = percentEncode(p.k) + "=" + percentEncode(p.v)
	}
	return strings.Join(encoded, "&"), nil
}

// percentEncode keeps RFC 3986's unreserved characters and writes every
// other byte as %XX in upper-case hex; a space is %20.
func percentEncode(s string) string {
	const unreserved = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~"
	var b strings.Builder
	for _, c := range []byte(s) {
		if strings.IndexByte(unreserved, c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}
