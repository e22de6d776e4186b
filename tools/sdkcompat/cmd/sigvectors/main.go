// Command sigvectors signs a fixed table of requests with the Huawei Cloud Go
// SDK's own SDK-HMAC-SHA256 signer (core/auth/signer) and writes the results
// as JSON test vectors. The exporter's dcsapi package reads that JSON in its
// tests to prove that its own, dependency-free signer produces byte-identical
// Authorization headers.
//
// Every request is signed at a fixed X-Sdk-Date, so the output is fully
// deterministic. The program refuses to write anything (and exits non-zero)
// when:
//
//   - a query parameter would be silently dropped by the SDK,
//   - the SDK's signature differs from an independent re-implementation of the
//     algorithm (see reimpl.go), or
//   - a signature published in docs/api-facts.md §2 does not come out again.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"

	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/auth/signer"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/request"
)

const (
	sdkModule  = "github.com/huaweicloud/huaweicloud-sdk-go-v3"
	sdkVersion = "v0.1.207"

	accessKey = "HPUAEXAMPLEAK0000001"
	secretKey = "ExampleSecretKeyDoNotUse0123456789ABCDEFG"
	projectID = "0123456789abcdef0123456789abcdef"
	signDate  = "20261127T101500Z"

	// securityToken deliberately contains '+', '/' and '=' (base64 alphabet).
	securityToken = "gQpjbi1ub3J0aC00hM8EXAMPLE-security-token+/=="

	dcsEndpoint       = "https://dcs.cn-north-4.myhuaweicloud.com"
	dcsHost           = "dcs.cn-north-4.myhuaweicloud.com"
	iamGlobalEndpoint = "https://iam.myhuaweicloud.com"
	iamEndpoint       = "https://iam.cn-north-4.myhuaweicloud.com"
	iamHost           = "iam.cn-north-4.myhuaweicloud.com"

	statusPathV2 = "/v2/" + projectID + "/instances/status"
	statusPathV1 = "/v1.0/" + projectID + "/instances/status"
	listPathV2   = "/v2/" + projectID + "/instances"
)

// pair is an ordered key/value pair; it marshals as a two-element JSON array.
type pair [2]string

// spec describes one request to sign. Query and header pairs are kept in the
// order in which they are handed to the SDK.
type spec struct {
	name     string
	method   string
	endpoint string
	path     string
	query    []pair
	headers  []pair
	body     string
	// want is a signature published in docs/api-facts.md §2. When it
	// is set the SDK must reproduce it exactly.
	want string
}

// vector is the JSON shape consumed by the exporter's tests. Do not add or
// rename fields without updating dcsapi's tests.
type vector struct {
	Name              string `json:"name"`
	Method            string `json:"method"`
	Endpoint          string `json:"endpoint"`
	Path              string `json:"path"`
	Query             []pair `json:"query"`
	Headers           []pair `json:"headers"`
	Body              string `json:"body"`
	SignedHeaders     string `json:"signed_headers"`
	Authorization     string `json:"authorization"`
	XSdkContentSha256 string `json:"x_sdk_content_sha256"`
}

type output struct {
	SDKModule  string   `json:"sdk_module"`
	SDKVersion string   `json:"sdk_version"`
	AccessKey  string   `json:"access_key"`
	SecretKey  string   `json:"secret_key"`
	Date       string   `json:"date"`
	Vectors    []vector `json:"vectors"`
}

func q(kv ...string) []pair {
	if len(kv)%2 != 0 {
		panic("q: odd number of arguments")
	}
	out := make([]pair, 0, len(kv)/2)
	for i := 0; i < len(kv); i += 2 {
		out = append(out, pair{kv[i], kv[i+1]})
	}
	return out
}

// h builds header pairs; it is the same helper as q, named for readability.
var h = q

func specs() []spec {
	return []spec{
		// --- Requests shaped like the ones the SDK's DcsClient builds. ---
		{
			name: "status_include_failure", method: "GET", endpoint: dcsEndpoint, path: statusPathV2,
			query:   q("include_failure", "true"),
			headers: h("X-Project-Id", projectID),
			want:    "7cde36d190426c3ff0bb97b34aa7e714425c7034ba3667e15a5183f0eae2e278", // docs/api-facts.md §2, vector a
		},
		{
			name: "status_no_query", method: "GET", endpoint: dcsEndpoint, path: statusPathV2,
			headers: h("X-Project-Id", projectID),
			want:    "f273c58c30040c755902691aa518b7b2532893e10e302a551fcd089e8381873e", // docs/api-facts.md §2, vector b
		},
		{
			name: "status_include_failure_security_token", method: "GET", endpoint: dcsEndpoint, path: statusPathV2,
			query:   q("include_failure", "true"),
			headers: h("X-Project-Id", projectID, "X-Security-Token", securityToken),
			want:    "c33ceb89148a17dbc88ed450c2530980291d6288ab4180d8d9acbf40c1624895", // docs/api-facts.md §2, vector c
		},
		{
			name: "list_instances_offset_limit_status", method: "GET", endpoint: dcsEndpoint, path: listPathV2,
			query:   q("offset", "0", "limit", "1000", "status", "RUNNING"),
			headers: h("X-Project-Id", projectID),
			want:    "147f60bd1c6d23d42d70968d94c8a9cfd9a2aa4f545b28bfbadc91149ed20f07", // docs/api-facts.md §2, vector d
		},
		{
			// Spaces, non-ASCII, reserved characters in a path segment and in
			// query values; an uppercase key that sorts before lowercase ones;
			// a repeated key given in unsorted order; an empty value.
			name: "escaping_path_and_query_mixed", method: "GET", endpoint: dcsEndpoint,
			path: listPathV2 + "/a b:c@d+e(\u00e9)~x*y/",
			query: q(
				"name", "my cache \u540d (test)",
				"tags", "env=prod,team=ops/x",
				"Zeta", "z",
				"multi", "b",
				"multi", "a",
				"multi", "a b",
				"empty", "",
			),
			headers: h("X-Project-Id", projectID),
			want:    "e50329f0c303e4666f14192eb84813bb0a68711760c43426807e7a9bb92fa618", // docs/api-facts.md §2, vector e
		},
		{
			// Query-only escaping: '*' and '~' in keys and values, '+' and '&'
			// in values, byte-wise key ordering (uppercase < '_' < lowercase),
			// repeated keys whose values need sorting, several empty values.
			name: "query_escaping_and_sorting", method: "GET", endpoint: dcsEndpoint, path: listPathV2,
			query: q(
				"name", "redis*prod~1",
				"B", "upper",
				"a~b", "tilde key",
				"ZZ", "",
				"x*y", "star key",
				"_under", "score",
				"tag", "z=1",
				"tag", "a,b",
				"tag", "A/B",
				"tag", "",
				"desc", "caf\u00e9 + \u00fcber & more",
				"empty", "",
			),
			headers: h("X-Project-Id", projectID),
		},
		{
			// Path segments only: every escaping class in the canonical URI,
			// including "%" itself and a doubled slash.
			name: "path_segments_escaping", method: "GET", endpoint: dcsEndpoint,
			path:    "/v2/" + projectID + "/instances/id with space/%2F already/\u5b9e\u4f8b;v=1,x!$'//end",
			headers: h("X-Project-Id", projectID),
		},
		{
			name: "iam_projects_by_name", method: "GET", endpoint: iamGlobalEndpoint, path: "/v3/projects",
			query: q("name", "cn-north-4"),
			want:  "64378888d5efde3280550e051b4115e812c58852035325e94bbef5c8ef8e096f", // docs/api-facts.md §2, vector f
		},
		{
			name: "iam_projects_by_name_security_token", method: "GET", endpoint: iamEndpoint, path: "/v3/projects",
			query:   q("name", "cn-north-4"),
			headers: h("X-Security-Token", securityToken),
		},
		{
			name: "user_agent_and_content_type_json", method: "GET", endpoint: dcsEndpoint, path: statusPathV2,
			query: q("include_failure", "true"),
			headers: h(
				"X-Project-Id", projectID,
				"User-Agent", "huaweicloud-usdk-go/3.0; dcs-exporter-test/0.0.1",
				"Content-Type", "application/json",
			),
			want: "a533121f2cd86190bf2a9b809480a56d7cd96fa6b46695536233d5658a8f1725", // docs/api-facts.md §2, vector g
		},
		{
			name: "host_header_non_default_port", method: "GET", endpoint: "http://127.0.0.1:8443", path: statusPathV2,
			query:   q("include_failure", "true"),
			headers: h("Host", "127.0.0.1:8443", "X-Project-Id", projectID),
		},
		{
			// The SDK signs the Host header value the caller supplied; it does
			// not substitute the endpoint's host (docs/api-facts.md §1.6).
			name: "host_header_differs_from_endpoint", method: "GET", endpoint: dcsEndpoint, path: statusPathV2,
			query:   q("include_failure", "true"),
			headers: h("Host", "proxy.example.test:8080", "X-Project-Id", projectID),
		},
		{
			// Surrounding whitespace is trimmed; the header with '_' in its
			// name is not signed; an explicit Host header is signed.
			name: "header_whitespace_underscore_explicit_host", method: "GET", endpoint: dcsEndpoint, path: statusPathV2,
			headers: h(
				"Host", dcsHost,
				"X-Project-Id", "  "+projectID+"\t ",
				"X_Custom_Underscore", "not signed",
			),
			want: "528c80f148e5019232c6798da23b8de5bcf71f96f0eab04af0746356f7625b66", // docs/api-facts.md §2, vector h
		},
		{
			// Only surrounding whitespace is trimmed: inner runs of spaces and
			// tabs are kept as they are (no collapsing).
			name: "header_inner_whitespace_kept", method: "GET", endpoint: dcsEndpoint, path: statusPathV2,
			query: q("include_failure", "true"),
			headers: h(
				"X-Project-Id", projectID,
				"X-Custom-Spaces", " \t inner   spaces\tkept  ",
				"X-Custom_Mixed", "dash and underscore: not signed",
			),
		},
		{
			// Header names in odd case are lowercased for signing.
			name: "header_name_case_folding", method: "GET", endpoint: dcsEndpoint, path: statusPathV2,
			query:   q("include_failure", "true"),
			headers: h("x-PROJECT-id", projectID, "X-SECURITY-TOKEN", securityToken),
		},
		{
			name: "post_json_body", method: "POST", endpoint: dcsEndpoint, path: statusPathV2,
			headers: h("X-Project-Id", projectID, "Content-Type", "application/json"),
			body:    `{"hello":"world"}`,
			want:    "2d680503ab04873df7fe22f773b568067c8e268429a00e6379d8a0d641d8c929", // docs/api-facts.md §2, vector i
		},
		{
			name: "post_json_body_charset_non_ascii", method: "POST", endpoint: dcsEndpoint, path: listPathV2,
			headers: h("X-Project-Id", projectID, "Content-Type", "application/json;charset=UTF-8"),
			body:    `{"hello":"world","name":"caf` + "\u00e9" + `"}`,
		},
		{
			name: "put_text_plain_unsigned_payload", method: "PUT", endpoint: dcsEndpoint, path: listPathV2 + "/abc/note",
			headers: h("X-Project-Id", projectID, "Content-Type", "text/plain"),
			body:    "hello, plain text body\n",
		},

		// --- Exactly what the exporter sends: Host (= endpoint host),
		// X-Project-Id, X-Sdk-Date and optionally X-Security-Token. ---
		{
			name: "exporter_status_v2", method: "GET", endpoint: dcsEndpoint, path: statusPathV2,
			query:   q("include_failure", "true"),
			headers: h("Host", dcsHost, "X-Project-Id", projectID),
		},
		{
			name: "exporter_status_v2_security_token", method: "GET", endpoint: dcsEndpoint, path: statusPathV2,
			query:   q("include_failure", "true"),
			headers: h("Host", dcsHost, "X-Project-Id", projectID, "X-Security-Token", securityToken),
		},
		{
			name: "exporter_status_v1", method: "GET", endpoint: dcsEndpoint, path: statusPathV1,
			query:   q("include_failure", "true"),
			headers: h("Host", dcsHost, "X-Project-Id", projectID),
		},
		{
			name: "exporter_status_v1_security_token", method: "GET", endpoint: dcsEndpoint, path: statusPathV1,
			query:   q("include_failure", "true"),
			headers: h("Host", dcsHost, "X-Project-Id", projectID, "X-Security-Token", securityToken),
		},
		{
			name: "exporter_list_instances_page", method: "GET", endpoint: dcsEndpoint, path: listPathV2,
			query:   q("include_failure", "true", "limit", "1000", "offset", "2000"),
			headers: h("Host", dcsHost, "X-Project-Id", projectID),
		},
		{
			name: "exporter_list_instances_page_security_token", method: "GET", endpoint: dcsEndpoint, path: listPathV2,
			query:   q("include_failure", "true", "limit", "1000", "offset", "2000"),
			headers: h("Host", dcsHost, "X-Project-Id", projectID, "X-Security-Token", securityToken),
		},
		{
			name: "exporter_iam_projects", method: "GET", endpoint: iamEndpoint, path: "/v3/projects",
			query:   q("name", "cn-north-4"),
			headers: h("Host", iamHost),
		},
		{
			name: "exporter_iam_projects_security_token", method: "GET", endpoint: iamEndpoint, path: "/v3/projects",
			query:   q("name", "cn-north-4"),
			headers: h("Host", iamHost, "X-Security-Token", securityToken),
		},
	}
}

// groupQuery turns ordered pairs into the SDK's query map. The SDK only
// honours values stored as reflect.Value (a plain string is skipped without
// any error), and a repeated key must be a single slice value.
func groupQuery(pairs []pair) map[string]reflect.Value {
	values := map[string][]string{}
	var order []string
	for _, p := range pairs {
		if _, seen := values[p[0]]; !seen {
			order = append(order, p[0])
		}
		values[p[0]] = append(values[p[0]], p[1])
	}
	out := make(map[string]reflect.Value, len(order))
	for _, k := range order {
		if vs := values[k]; len(vs) == 1 {
			out[k] = reflect.ValueOf(vs[0])
		} else {
			out[k] = reflect.ValueOf(vs)
		}
	}
	return out
}

// signWithSDK builds the request with the SDK's request builder, signs it with
// the SDK's signer and returns the resulting vector.
func signWithSDK(s spec) (vector, error) {
	b := request.NewHttpRequestBuilder().
		WithEndpoint(s.endpoint).
		WithPath(s.path).
		WithMethod(s.method)
	for k, v := range groupQuery(s.query) {
		b = b.AddQueryParam(k, v)
	}
	for _, hp := range s.headers {
		b = b.AddHeaderParam(hp[0], hp[1])
	}
	// Pin the signing time; Sign reads it back from the header map.
	b = b.AddHeaderParam(signer.HeaderXDate, signDate)
	if s.body != "" {
		// A string body is hashed verbatim; any other type would be
		// JSON-encoded with a trailing newline.
		b = b.WithBody("application/json", s.body)
	}
	req := b.Build()

	if err := checkQueryTyped(req, s); err != nil {
		return vector{}, err
	}

	added, err := signer.Signer{}.Sign(req, accessKey, secretKey)
	if err != nil {
		return vector{}, fmt.Errorf("%s: sdk sign: %w", s.name, err)
	}
	if added[signer.HeaderXDate] != signDate {
		return vector{}, fmt.Errorf("%s: sdk used date %q, want %q", s.name, added[signer.HeaderXDate], signDate)
	}
	authz := added[signer.HeaderAuthorization]

	v := vector{
		Name:              s.name,
		Method:            s.method,
		Endpoint:          s.endpoint,
		Path:              s.path,
		Query:             nonNil(s.query),
		Headers:           nonNil(s.headers),
		Body:              s.body,
		SignedHeaders:     fieldOf(authz, "SignedHeaders="),
		Authorization:     authz,
		XSdkContentSha256: req.GetHeaderParams()["X-Sdk-Content-Sha256"],
	}
	return v, nil
}

// checkQueryTyped verifies that every query key reached the SDK as a
// reflect.Value carrying the expected number of values.
func checkQueryTyped(req *request.DefaultHttpRequest, s spec) error {
	want := map[string]int{}
	for _, p := range s.query {
		want[p[0]]++
	}
	got := req.GetQueryParams()
	if len(got) != len(want) {
		return fmt.Errorf("%s: sdk holds %d query keys, want %d", s.name, len(got), len(want))
	}
	for k, n := range want {
		rv, ok := got[k].(reflect.Value)
		if !ok {
			return fmt.Errorf("%s: query key %q is not a reflect.Value; the SDK would drop it", s.name, k)
		}
		c := 1
		if rv.Kind() == reflect.Slice {
			c = rv.Len()
		}
		if c != n {
			return fmt.Errorf("%s: query key %q carries %d values, want %d", s.name, k, c, n)
		}
	}
	return nil
}

func nonNil(p []pair) []pair {
	if p == nil {
		return []pair{}
	}
	return p
}

// fieldOf extracts the value following prefix in an Authorization header.
func fieldOf(authz, prefix string) string {
	i := strings.Index(authz, prefix)
	if i < 0 {
		return ""
	}
	rest := authz[i+len(prefix):]
	if j := strings.Index(rest, ","); j >= 0 {
		rest = rest[:j]
	}
	return rest
}

func run(outPath string) error {
	var (
		vectors  []vector
		problems []string
		seen     = map[string]bool{}
	)
	for _, s := range specs() {
		if seen[s.name] {
			return fmt.Errorf("duplicate vector name %q", s.name)
		}
		seen[s.name] = true

		v, err := signWithSDK(s)
		if err != nil {
			return err
		}

		mine := reimplSign(s.method, s.path, s.query, s.headers, s.body, accessKey, secretKey, signDate)
		if mine.xSdkContentSha256 != v.XSdkContentSha256 {
			problems = append(problems, fmt.Sprintf("%s: X-Sdk-Content-Sha256 sdk=%q reimpl=%q",
				s.name, v.XSdkContentSha256, mine.xSdkContentSha256))
		}
		if mine.signedHeaders != v.SignedHeaders || mine.authorization != v.Authorization {
			problems = append(problems, fmt.Sprintf(
				"%s: independent re-implementation disagrees with the SDK\n  sdk:    %s\n  reimpl: %s\n  canonical request:\n%s",
				s.name, v.Authorization, mine.authorization, indent(mine.canonicalRequest)))
		}
		if s.want != "" {
			if got := fieldOf(v.Authorization, "Signature="); got != s.want {
				problems = append(problems, fmt.Sprintf(
					"%s: SDK signature %s differs from the published %s", s.name, got, s.want))
			}
		}
		vectors = append(vectors, v)
	}
	if len(problems) > 0 {
		return fmt.Errorf("self-check failed:\n%s", strings.Join(problems, "\n"))
	}

	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(output{
		SDKModule:  sdkModule,
		SDKVersion: sdkVersion,
		AccessKey:  accessKey,
		SecretKey:  secretKey,
		Date:       signDate,
		Vectors:    vectors,
	}); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(outPath), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(outPath, buf.Bytes(), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "sigvectors: wrote %d vectors to %s\n", len(vectors), outPath)
	return nil
}

func indent(s string) string {
	return "    | " + strings.ReplaceAll(s, "\n", "\n    | ")
}

func main() {
	out := flag.String("out", "../../dcsapi/testdata/sdk_signatures.json",
		"where to write the JSON vectors (default is relative to tools/sdkcompat)")
	flag.Parse()
	if err := run(*out); err != nil {
		fmt.Fprintln(os.Stderr, "sigvectors:", err)
		os.Exit(1)
	}
}
