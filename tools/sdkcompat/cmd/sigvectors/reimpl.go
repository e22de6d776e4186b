package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"sort"
	"strings"
)

// reimplResult is what the independent re-implementation computes.
type reimplResult struct {
	canonicalRequest  string
	signedHeaders     string
	xSdkContentSha256 string
	authorization     string
}

// reimplSign recomputes an SDK-HMAC-SHA256 signature from the raw inputs,
// written from the algorithm description only (no SDK code). It exists so
// that a silently ignored input on the SDK side (for example a query
// parameter the SDK skipped) shows up as a mismatch instead of being baked
// into the test vectors.
func reimplSign(method, path string, query, headers []pair, body, ak, sk, date string) reimplResult {
	// Header set as the signer sees it: the caller's headers, the date and,
	// for non-JSON content types, the unsigned-payload marker.
	hdr := map[string]string{}
	for _, p := range headers {
		hdr[p[0]] = p[1]
	}
	hdr["X-Sdk-Date"] = date
	var contentMarker string
	if ct, ok := hdr["Content-Type"]; ok &&
		!strings.Contains(ct, "application/json") && !strings.Contains(ct, "application/bson") {
		contentMarker = "UNSIGNED-PAYLOAD"
		hdr["X-Sdk-Content-Sha256"] = contentMarker
	}

	// Canonical URI: escape each segment, ensure a trailing slash.
	segs := strings.Split(path, "/")
	for i, s := range segs {
		segs[i] = pctEncode(s)
	}
	uri := strings.Join(segs, "/")
	if !strings.HasSuffix(uri, "/") {
		uri += "/"
	}

	// Canonical query: raw keys sorted byte-wise, each key's raw values sorted.
	byKey := map[string][]string{}
	for _, p := range query {
		byKey[p[0]] = append(byKey[p[0]], p[1])
	}
	keys := make([]string, 0, len(byKey))
	for k := range byKey {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var qparts []string
	for _, k := range keys {
		vals := append([]string(nil), byKey[k]...)
		sort.Strings(vals)
		for _, v := range vals {
			qparts = append(qparts, pctEncode(k)+"="+pctEncode(v))
		}
	}

	// Signed headers: every header except Content-Type* and names with '_'.
	lowered := map[string][]string{}
	var names []string
	for name, val := range hdr {
		ln := strings.ToLower(name)
		lowered[ln] = append(lowered[ln], val)
		if strings.HasPrefix(ln, "content-type") || strings.Contains(name, "_") {
			continue
		}
		names = append(names, ln)
	}
	sort.Strings(names)
	var hlines strings.Builder
	for _, n := range names {
		vals := append([]string(nil), lowered[n]...)
		sort.Strings(vals)
		for _, v := range vals {
			hlines.WriteString(n + ":" + strings.TrimSpace(v) + "\n")
		}
	}
	signed := strings.Join(names, ";")

	payload := contentMarker
	if payload == "" {
		sum := sha256.Sum256([]byte(body))
		payload = hex.EncodeToString(sum[:])
	}

	cr := strings.Join([]string{
		method, uri, strings.Join(qparts, "&"), hlines.String(), signed, payload,
	}, "\n")
	crSum := sha256.Sum256([]byte(cr))
	sts := "SDK-HMAC-SHA256\n" + date + "\n" + hex.EncodeToString(crSum[:])
	mac := hmac.New(sha256.New, []byte(sk))
	mac.Write([]byte(sts))
	sig := hex.EncodeToString(mac.Sum(nil))

	return reimplResult{
		canonicalRequest:  cr,
		signedHeaders:     signed,
		xSdkContentSha256: contentMarker,
		authorization:     "SDK-HMAC-SHA256 Access=" + ak + ", SignedHeaders=" + signed + ", Signature=" + sig,
	}
}

// pctEncode keeps RFC 3986 unreserved bytes and writes every other byte of
// the UTF-8 encoding as %XX with uppercase hex digits.
func pctEncode(s string) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9',
			c == '-', c == '.', c == '_', c == '~':
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&0x0f])
		}
	}
	return b.String()
}
