package redact_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/dcs-exporter/dcs_exporter/internal/redact"
)

const token = "MIIDdzCCAl+gAwIBAgIEXAMPLEtokenValueDoNotUse0123456789abcdef"

// The attacks of issue 19 on redaction: a secret split by a control
// character, by an ANSI escape or a zero-width space, and an echo of only
// part of it.
func TestTextCutsSecretsHoweverSplit(t *testing.T) {
	for name, echo := range map[string]string{
		"whole":              token,
		"control char":       token[:20] + "\x00" + token[20:],
		"line break":         token[:10] + "\r\n" + token[10:],
		"ANSI escape":        token[:15] + "\x1b[0m" + token[15:],
		"zero-width space":   token[:15] + "\u200b" + token[15:],
		"bidi override":      token[:15] + "\u202e" + token[15:],
		"invalid UTF-8":      token[:15] + "\xff\xfe" + token[15:],
		"first 30 of 36":     token[:30],
		"middle 12":          token[20:32],
		"last 13":            token[len(token)-13:],
		"two parts":          token[:14] + " and " + token[30:44],
		"inside other words": "bad token=" + token[5:40] + ";expired",
	} {
		t.Run(name, func(t *testing.T) {
			got := redact.Text("server says: "+echo+" (end)", 0, "short", token)
			if !strings.Contains(got, redact.Mask) {
				t.Errorf("nothing redacted in %q", got)
			}
			assertNoRun(t, got, token)
			if !strings.HasPrefix(got, "server says: ") || !strings.HasSuffix(got, " (end)") {
				t.Errorf("text around the secret lost: %q", got)
			}
		})
	}
}

// assertNoRun fails if got holds MinRun consecutive characters of secret.
func assertNoRun(t *testing.T, got, secret string) {
	t.Helper()
	for i := 0; i+redact.MinRun <= len(secret); i++ {
		if strings.Contains(got, secret[i:i+redact.MinRun]) {
			t.Fatalf("%q still holds %q of the secret", got, secret[i:i+redact.MinRun])
		}
	}
}

func TestTextKeepsOrdinaryText(t *testing.T) {
	in := "Incorrect IAM authentication information: verify aksk signature fail"
	if got := redact.Text(in, 0, token, "", "abc"); got != in {
		t.Errorf("Text(%q) = %q, want it unchanged", in, got)
	}
	// Eleven characters of a secret are not enough to be taken for it.
	in = "id " + token[:redact.MinRun-1]
	if got := redact.Text(in, 0, token); got != in {
		t.Errorf("Text(%q) = %q, want it unchanged", in, got)
	}
	// A secret of 8 to 11 characters is cut out only whole.
	if got := redact.Text("key=abcdefghi!", 0, "abcdefghi"); got != "key="+redact.Mask+"!" {
		t.Errorf("short secret: got %q", got)
	}
}

func TestTextCutsToLength(t *testing.T) {
	long := strings.Repeat("é", 5000) // two bytes each
	got := redact.Text(long, 101)
	if len(got) > 101 || !utf8.ValidString(got) || !strings.HasSuffix(got, "…") {
		t.Errorf("Text of %d bytes cut to 101: %d bytes, valid %t, %q", len(long), len(got), utf8.ValidString(got), got[len(got)-6:])
	}
	// A secret far past the limit costs nothing and shows nothing.
	got = redact.Text(strings.Repeat("x", 10<<20)+token, 200, token)
	if len(got) > 200 {
		t.Errorf("got %d bytes", len(got))
	}
}

func TestPrintable(t *testing.T) {
	for in, want := range map[string]string{
		"plain text":                    "plain text",
		"a\x1b]0;pwned\x07b":            "ab",
		"red \x1b[1;31mALERT\x1b[0m":    "red ALERT",
		"esc \x1bc reset":               "esc  reset",
		"tab\tand\nnewline":             "tabandnewline",
		"\u00a0nbsp\u2028sep":           "nbspsep",
		"ok \xc3\x28 bad utf8":          "ok ( bad utf8",
		"ünïcödé and 中文 stay":           "ünïcödé and 中文 stay",
		"\u009b31m C1 control sequence": " C1 control sequence",
		"dangling \x1b":                 "dangling ",
	} {
		if got := redact.Printable(in); got != want {
			t.Errorf("Printable(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestKey(t *testing.T) {
	k := "\x1b]0;title\x07" + strings.Repeat("k", 1<<20)
	got := redact.Key(k)
	if len(got) > redact.MaxKey || strings.ContainsAny(got, "\x1b\x07") {
		t.Errorf("Key of %d bytes = %d bytes %q", len(k), len(got), got)
	}
}

// No user name or password is ever shown, and a URL that does not parse is
// not quoted, since the parser's complaint holds part of the password.
func TestURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://dcs.cn-north-4.myhuaweicloud.com":             "https://dcs.cn-north-4.myhuaweicloud.com",
		"https://user:s3cretPassw0rd@dcs.example.com:8443/gw":  "https://dcs.example.com:8443/gw",
		"https://onlyuser@dcs.example.com":                     "https://dcs.example.com",
		"https://dcs.example.com/p?X-Security-Token=abc#frag":  "https://dcs.example.com/p",
		"http://user:pa#ss@proxy.example.com:3128":             "(a URL that does not parse, not shown)",
		"http://us\x1ber:p@ss@host":                            "(a URL that does not parse, not shown)",
		"http://proxy.example.com:3128/\x1b[31mred":            "(a URL that does not parse, not shown)",
		"http://[::1]:8080":                                    "http://[::1]:8080",
		"https://dcs.example.com/a%2Fb":                        "https://dcs.example.com/a%2Fb",
		"http://169.254.169.254":                               "http://169.254.169.254",
		"https://x:" + token + "@dcs.example.com/" + token[:5]: "https://dcs.example.com/" + token[:5],
	} {
		if got := redact.URL(in); got != want {
			t.Errorf("URL(%q) = %q, want %q", in, got, want)
		}
		if strings.Contains(redact.URL(in), "ss@") || strings.Contains(redact.URL(in), "s3cret") {
			t.Errorf("URL(%q) shows the password", in)
		}
	}
	if got := redact.URLOf(nil); got != "" {
		t.Errorf("URLOf(nil) = %q", got)
	}
}

func TestHost(t *testing.T) {
	for in, want := range map[string]string{
		"http://other.example.com:8080/steal?X-Security-Token=abc": "other.example.com:8080",
		"https://u:p@evil.example.com/":                            "evil.example.com",
		"/v2/relative?x=1":                                         "",
		"http://u:pa#ss@h":                                         "(a URL that does not parse, not shown)",
	} {
		if got := redact.Host(in); got != want {
			t.Errorf("Host(%q) = %q, want %q", in, got, want)
		}
	}
}
