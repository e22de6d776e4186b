// This file signs requests with SDK-HMAC-SHA256, exactly as the SDK does.

package dcsapi

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// The constants of Huawei Cloud's SDK-HMAC-SHA256 signing scheme.
const (
	signingAlgorithm = "SDK-HMAC-SHA256"
	sdkDateLayout    = "20060102T150405Z"

	headerSdkDate       = "X-Sdk-Date"
	headerAuthorization = "Authorization"
	headerSecurityToken = "X-Security-Token"
	headerProjectID     = "X-Project-Id"
	headerContentSHA256 = "X-Sdk-Content-Sha256"
	unsignedPayload     = "UNSIGNED-PAYLOAD"
	emptyBodySHA256     = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
)

// Sign adds the X-Sdk-Date and Authorization headers to req, exactly as the
// official Huawei Cloud Go SDK's signer would for the same request.
//
// Every header already set on req takes part in the signature, except
// Content-Type and names containing '_' (the SDK skips those too). Headers set
// after Sign, such as User-Agent, are sent unsigned, which keeps proxies that
// rewrite them from breaking the signature. The host is signed only when the
// caller puts a "Host" entry in req.Header: net/http never sends that entry,
// it sends req.Host or URL.Host, so the two must agree.
//
// The path is req.URL.Path (unescaped) and the query is req.URL.RawQuery; body
// is the request body, nil for GET.
func Sign(req *http.Request, body []byte, cred Credentials, now time.Time) error {
	if cred.AccessKey == "" || cred.SecretKey == "" {
		return errors.New("signing: access key and secret key must both be set")
	}
	if cred.SecurityToken != "" {
		req.Header.Set(headerSecurityToken, cred.SecurityToken)
	}
	st := getSigningState()
	defer putSigningState(st)

	// The date and the Authorization value are built in one pooled buffer,
	// and their two header slices share one array: the exporter signs on
	// every API call, so allocations add up.
	out := now.UTC().AppendFormat(st.out[:0], sdkDateLayout)
	dateLen := len(out)
	values := make([]string, 2)
	values[0] = string(out) // signed below, so it must be in the header now
	req.Header[headerSdkDate] = values[0:1:1]
	markUnsignedPayload(req.Header)

	if err := st.canonicalRequest(req, body); err != nil {
		return err
	}
	st.signature(out, cred.SecretKey)

	out = append(out, signingAlgorithm+" Access="...)
	out = append(out, cred.AccessKey...)
	out = append(out, ", SignedHeaders="...)
	out = append(out, st.signed...)
	out = append(out, ", Signature="...)
	out = append(out, st.sigHex[:]...)
	st.out = out
	values[1] = string(out[dateLen:])
	req.Header[headerAuthorization] = values[1:2:2]
	return nil
}

// markUnsignedPayload mirrors the SDK: a body whose Content-Type is neither
// JSON nor BSON is not hashed, and the header saying so is itself signed.
func markUnsignedPayload(h http.Header) {
	ct, ok := h["Content-Type"]
	if !ok || len(ct) == 0 {
		return
	}
	if strings.Contains(ct[0], "application/json") || strings.Contains(ct[0], "application/bson") {
		return
	}
	if h.Get(headerContentSHA256) == "" {
		h.Set(headerContentSHA256, unsignedPayload)
	}
}

// signingState holds the buffers of one signature; pooled because a busy
// exporter signs on every API call.
type signingState struct {
	buf    []byte // the canonical request
	out    []byte // the date and the Authorization value
	signed []byte // the SignedHeaders list
	names  []string
	pairs  []queryPair
	sum    [sha256.Size]byte
	crHex  [2 * sha256.Size]byte
	sigHex [2 * sha256.Size]byte
}

type queryPair struct{ key, value string }

var signingPool = sync.Pool{New: func() any { return new(signingState) }}

func getSigningState() *signingState { return signingPool.Get().(*signingState) }

func putSigningState(st *signingState) {
	st.buf = st.buf[:0]
	st.out = st.out[:0]
	st.signed = st.signed[:0]
	clear(st.names) // drop the references to the request's strings
	st.names = st.names[:0]
	clear(st.pairs)
	st.pairs = st.pairs[:0]
	signingPool.Put(st)
}

// canonicalRequest writes the canonical request into st.buf, hashes it into
// st.crHex and leaves the SignedHeaders list in st.signed.
func (st *signingState) canonicalRequest(req *http.Request, body []byte) error {
	b := st.buf[:0]
	b = append(b, req.Method...)
	b = append(b, '\n')
	b = appendCanonicalURI(b, req.URL.Path)
	b = append(b, '\n')
	var err error
	b, err = st.appendCanonicalQuery(b, req.URL.RawQuery)
	if err != nil {
		return err
	}
	b = append(b, '\n')

	st.names = st.names[:0]
	for name := range req.Header {
		if hasPrefixFold(name, "content-type") || strings.Contains(name, "_") {
			continue
		}
		st.names = append(st.names, name)
	}
	slices.SortFunc(st.names, compareLower)
	signed := st.signed[:0]
	for i, name := range st.names {
		values := req.Header[name]
		if len(values) > 1 {
			values = slices.Clone(values)
			slices.Sort(values)
		}
		for _, v := range values {
			b = appendLower(b, name)
			b = append(b, ':')
			b = append(b, strings.TrimSpace(v)...)
			b = append(b, '\n')
		}
		if i > 0 {
			signed = append(signed, ';')
		}
		signed = appendLower(signed, name)
	}
	st.signed = signed
	b = append(b, '\n')
	b = append(b, signed...)
	b = append(b, '\n')
	if v := req.Header.Get(headerContentSHA256); v != "" {
		b = append(b, v...)
	} else if len(body) == 0 {
		b = append(b, emptyBodySHA256...)
	} else {
		sum := sha256.Sum256(body)
		b = hex.AppendEncode(b, sum[:])
	}
	st.buf = b

	st.sum = sha256.Sum256(b)
	hex.Encode(st.crHex[:], st.sum[:])
	return nil
}

// signature puts into st.sigHex the hex HMAC-SHA256 of the string to sign,
// keyed with the raw secret key: there is no key derivation, unlike AWS
// SigV4 (SDK core/auth/signer/signer.go, signStringToSign).
func (st *signingState) signature(date []byte, secretKey string) {
	mac := hmac.New(sha256.New, []byte(secretKey))
	mac.Write([]byte(signingAlgorithm + "\n"))
	mac.Write(date)
	mac.Write([]byte{'\n'})
	mac.Write(st.crHex[:])
	hex.Encode(st.sigHex[:], mac.Sum(st.sum[:0]))
}

// appendCanonicalURI escapes each path segment and ends the path with '/',
// which exists only in the canonical form, never on the wire.
func appendCanonicalURI(b []byte, path string) []byte {
	start := len(b)
	for {
		seg, rest, more := strings.Cut(path, "/")
		b = appendEscaped(b, seg)
		if !more {
			break
		}
		b = append(b, '/')
		path = rest
	}
	if len(b) == start || b[len(b)-1] != '/' {
		b = append(b, '/')
	}
	return b
}

// appendCanonicalQuery sorts keys, then each key's values, byte-wise on their
// raw (unescaped) form, as the SDK does.
func (st *signingState) appendCanonicalQuery(b []byte, rawQuery string) ([]byte, error) {
	if rawQuery == "" {
		return b, nil
	}
	st.pairs = st.pairs[:0]
	for rest := rawQuery; rest != ""; {
		var part string
		part, rest, _ = strings.Cut(rest, "&")
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		key, err := url.QueryUnescape(k)
		if err != nil {
			return nil, fmt.Errorf("signing: bad query key %q: %w", k, err)
		}
		value, err := url.QueryUnescape(v)
		if err != nil {
			return nil, fmt.Errorf("signing: bad query value for %q: %w", key, err)
		}
		st.pairs = append(st.pairs, queryPair{key, value})
	}
	return st.appendSortedPairs(b), nil
}

// appendSortedPairs sorts st.pairs and writes them as k=v&k=v, escaped.
func (st *signingState) appendSortedPairs(b []byte) []byte {
	slices.SortFunc(st.pairs, compareQueryPairs)
	for i, p := range st.pairs {
		if i > 0 {
			b = append(b, '&')
		}
		b = appendEscaped(b, p.key)
		b = append(b, '=')
		b = appendEscaped(b, p.value)
	}
	return b
}

// CanonicalQuery encodes query the way the signer canonicalises it. Sending
// exactly this string on the wire means the server and the signer cannot
// disagree about the query.
func CanonicalQuery(query url.Values) string {
	st := getSigningState()
	defer putSigningState(st)
	for k, vs := range query {
		for _, v := range vs {
			st.pairs = append(st.pairs, queryPair{k, v})
		}
	}
	return string(st.appendSortedPairs(nil))
}

func compareQueryPairs(a, b queryPair) int {
	if c := strings.Compare(a.key, b.key); c != 0 {
		return c
	}
	return strings.Compare(a.value, b.value)
}

const upperHex = "0123456789ABCDEF"

// appendEscaped percent-encodes every byte outside RFC 3986's unreserved set,
// with upper-case hex; space becomes %20, never '+'.
func appendEscaped(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_' || c == '-' || c == '~' || c == '.' {
			b = append(b, c)
			continue
		}
		b = append(b, '%', upperHex[c>>4], upperHex[c&15])
	}
	return b
}

func lowerByte(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func appendLower(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		b = append(b, lowerByte(s[i]))
	}
	return b
}

// compareLower compares two header names as their lower-case forms.
func compareLower(a, b string) int {
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		ca, cb := lowerByte(a[i]), lowerByte(b[i])
		if ca != cb {
			return int(ca) - int(cb)
		}
	}
	return len(a) - len(b)
}

// hasPrefixFold is strings.HasPrefix ignoring ASCII case; lower must be
// lower case. Unlike strings.ToLower it never allocates.
func hasPrefixFold(s, lower string) bool {
	if len(s) < len(lower) {
		return false
	}
	for i := 0; i < len(lower); i++ {
		if lowerByte(s[i]) != lower[i] {
			return false
		}
	}
	return true
}
