package dcsapi

import (
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"
)

// sdkVectors is the file written by tools/sdkcompat: requests signed by the
// official SDK's own signer at a fixed date.
type sdkVectors struct {
	SDKVersion string `json:"sdk_version"`
	AccessKey  string `json:"access_key"`
	SecretKey  string `json:"secret_key"`
	Date       string `json:"date"`
	Vectors    []struct {
		Name              string      `json:"name"`
		Method            string      `json:"method"`
		Endpoint          string      `json:"endpoint"`
		Path              string      `json:"path"`
		Query             [][2]string `json:"query"`
		Headers           [][2]string `json:"headers"`
		Body              string      `json:"body"`
		SignedHeaders     string      `json:"signed_headers"`
		Authorization     string      `json:"authorization"`
		XSdkContentSHA256 string      `json:"x_sdk_content_sha256"`
	} `json:"vectors"`
}

func loadSDKVectors(t testing.TB) sdkVectors {
	t.Helper()
	data, err := os.ReadFile("testdata/sdk_signatures.json")
	if err != nil {
		t.Fatal(err)
	}
	var v sdkVectors
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	if len(v.Vectors) < 10 {
		t.Fatalf("only %d SDK vectors; want at least 10", len(v.Vectors))
	}
	return v
}

// TestSignMatchesSDK reproduces every SDK-made signature byte for byte.
func TestSignMatchesSDK(t *testing.T) {
	v := loadSDKVectors(t)
	date, err := time.Parse(sdkDateLayout, v.Date)
	if err != nil {
		t.Fatal(err)
	}
	for _, vec := range v.Vectors {
		t.Run(vec.Name, func(t *testing.T) {
			endpoint, err := url.Parse(vec.Endpoint)
			if err != nil {
				t.Fatal(err)
			}
			req := &http.Request{
				Method: vec.Method,
				URL:    &url.URL{Scheme: endpoint.Scheme, Host: endpoint.Host, Path: vec.Path},
				Header: http.Header{},
			}
			q := make([]byte, 0, 64)
			for i, kv := range vec.Query {
				if i > 0 {
					q = append(q, '&')
				}
				q = appendEscaped(q, kv[0])
				q = append(q, '=')
				q = appendEscaped(q, kv[1])
			}
			req.URL.RawQuery = string(q)
			for _, h := range vec.Headers {
				// Keep the SDK's spelling of the name; the signer lowercases.
				req.Header[h[0]] = append(req.Header[h[0]], h[1])
			}
			cred := Credentials{AccessKey: v.AccessKey, SecretKey: v.SecretKey}
			if err := Sign(req, []byte(vec.Body), cred, date); err != nil {
				t.Fatal(err)
			}
			if got := req.Header.Get(headerAuthorization); got != vec.Authorization {
				t.Errorf("Authorization\n got: %s\nwant: %s", got, vec.Authorization)
			}
			if got := req.Header.Get(headerContentSHA256); got != vec.XSdkContentSHA256 {
				t.Errorf("X-Sdk-Content-Sha256 = %q, want %q", got, vec.XSdkContentSHA256)
			}
			if got := req.Header.Get(headerSdkDate); got != v.Date {
				t.Errorf("X-Sdk-Date = %q, want %q", got, v.Date)
			}
		})
	}
}

// TestSignExporterRequests checks that the headers the client itself signs
// are exactly host, x-project-id and x-sdk-date (plus the token).
func TestSignExporterRequests(t *testing.T) {
	v := loadSDKVectors(t)
	want := map[string]bool{}
	for _, vec := range v.Vectors {
		if strings.HasPrefix(vec.Name, "exporter_") {
			want[vec.SignedHeaders] = true
		}
	}
	for _, sh := range []string{"host;x-project-id;x-sdk-date", "host;x-project-id;x-sdk-date;x-security-token", "host;x-sdk-date", "host;x-sdk-date;x-security-token"} {
		if !want[sh] {
			t.Errorf("no SDK vector covers the exporter's signed header set %s", sh)
		}
	}
}

func TestCanonicalQuery(t *testing.T) {
	got := CanonicalQuery(url.Values{"name": {"my cache 名"}, "Zeta": {"z"}, "multi": {"b", "a"}, "empty": {""}})
	want := "Zeta=z&empty=&multi=a&multi=b&name=my%20cache%20%E5%90%8D"
	if got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
}

func TestSignRejectsMissingKeys(t *testing.T) {
	req, _ := http.NewRequest(http.MethodGet, "https://x.test/", nil)
	if err := Sign(req, nil, Credentials{AccessKey: "a"}, time.Now()); err == nil {
		t.Fatal("signed without a secret key")
	}
}

func TestCredentialsStringMasksSecrets(t *testing.T) {
	c := Credentials{AccessKey: "AKID", SecretKey: "very-secret", SecurityToken: "token-secret"}
	for _, s := range []string{c.String(), c.GoString(), StaticCredentials(c).String()} {
		if strings.Contains(s, "very-secret") || strings.Contains(s, "token-secret") {
			t.Fatalf("secret in %q", s)
		}
	}
}

func BenchmarkSign(b *testing.B) {
	cred := Credentials{AccessKey: "HPUAEXAMPLEAK0000001", SecretKey: "ExampleSecretKeyDoNotUse0123456789ABCDEFG"}
	now := time.Date(2026, 11, 27, 10, 15, 0, 0, time.UTC)
	req, _ := http.NewRequest(http.MethodGet, "https://dcs.cn-north-4.myhuaweicloud.com/v2/0123456789abcdef0123456789abcdef/instances/status?include_failure=true", nil)
	b.ReportAllocs()
	for b.Loop() {
		req.Header = http.Header{"Host": {req.URL.Host}, headerProjectID: {"0123456789abcdef0123456789abcdef"}}
		if err := Sign(req, nil, cred, now); err != nil {
			b.Fatal(err)
		}
	}
}
