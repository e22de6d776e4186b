package redact_test

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/dcs-exporter/dcs_exporter/internal/redact"
)

// FuzzRedact checks Text on any text, secret and limit: the result is valid
// UTF-8 of printable characters within the limit, and holds neither the
// secret nor any run of redact.MinRun of its bytes, however the text hides
// it. Secrets that hold a bracket or "…" are left out: a run could then be
// made of the mask or the cut mark themselves, which a real key never is.
func FuzzRedact(f *testing.F) {
	f.Add("token "+token+" refused", token, 200)
	f.Add(token[:9]+"\x00"+token[9:], token, 1024)
	f.Add("\x1b]0;x\x07"+token[3:30]+"\x1b[0m", token, 40)
	f.Add(strings.Repeat(token[:12], 5), token, 100)
	f.Add("ab\u200bcdefghijkl", "abcdefghijkl", 12)
	f.Add("key=abcdefgh!", "abcdefgh", 5)
	f.Fuzz(func(t *testing.T, text, secret string, limit int) {
		limit = limit%4096 + 1
		if limit <= 0 {
			limit += 4096
		}
		got := redact.Text(text, limit, secret)
		if len(got) > limit || !utf8.ValidString(got) {
			t.Fatalf("Text(%q, %d) = %q: %d bytes, valid UTF-8 %t", text, limit, got, len(got), utf8.ValidString(got))
		}
		for _, r := range got {
			if r != ' ' && !unicode.IsPrint(r) {
				t.Fatalf("Text(%q) = %q holds %U", text, got, r)
			}
		}
		if strings.ContainsAny(secret, "[]…") {
			return
		}
		switch {
		case len(secret) >= redact.MinRun:
			for i := 0; i+redact.MinRun <= len(secret); i++ {
				if strings.Contains(got, secret[i:i+redact.MinRun]) {
					t.Fatalf("Text(%q, %q) = %q holds %q", text, secret, got, secret[i:i+redact.MinRun])
				}
			}
		case len(secret) >= 8:
			if strings.Contains(got, secret) {
				t.Fatalf("Text(%q, %q) = %q holds the secret", text, secret, got)
			}
		}
	})
}
