package dcsapi_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/dcs-exporter/dcs_exporter/dcsapi"
	"github.com/dcs-exporter/dcs_exporter/dcsapi/dcsapitest"
)

// FuzzDecodeInstances checks the list decoder: no input panics; a failure
// is a DecodeError of the list API and returns nothing else; a success
// names every instance, announces a sane total, decodes the same way twice,
// and reads back its own result written as an ordinary answer.
func FuzzDecodeInstances(f *testing.F) {
	for _, seed := range []string{
		`{"instance_num":2,"instances":[` +
			`{"instance_id":"a1","name":"cache-1","engine":"Redis","engine_version":"6.0","status":"RUNNING","spec_code":"redis.ha.xu1.large.r2.1",` +
			`"capacity":1,"capacity_minor":"","max_memory":1024,"used_memory":12,"charging_mode":0,"az_codes":["cn-north-4a","cn-north-4b"]},` +
			`{"instance_id":"m1","name":"mc","engine":"Memcached","status":"ERROR","capacity":0,"capacity_minor":".125","max_memory":"128","used_memory":null}]}`,
		// The documented example has numbers as strings and strings as numbers.
		`{"instance_num":"1","instances":[{"instance_id":"x","engine_version":5.0,"capacity":"2","charging_mode":"1","az_codes":[1,"b",null]}]}`,
		`{"instance_num":0,"instances":[]}`,
		`{"instance_num":1}`,
		`{"instances":[{"instance_id":"a"}]}`,
		`{"instance_num":-1,"instances":[]}`,
		`{"instance_num":99999999999999999999999,"instances":[]}`,
		`{"instance_num":1,"instances":[{"name":"no id"}]}`,
		`{"instance_num":1,"instances":[{"instance_id":{"nested":true}}]}`,
		`{"instance_num":1,"instances":[{"instance_id":"a","capacity":"NaN","max_memory":1e400}]}`,
		`{"instance_num":1,"instances":{"instance_id":"a"}}`,
		// The context fields, in the documented example's types and worse.
		`{"instance_num":2,"instances":[{"instance_id":"a","enterprise_project_id":0,"tags":[{"key":1,"value":"DCS"},"x",{"key":"k"}],` +
			`"maintain_begin":"22:00:00","maintain_end":"02:00:00","service_upgrade":false,"created_at":"2022-08-29T09:00:34.335Z"},` +
			`{"instance_id":"b","enterprise_project_id":{},"tags":{"a":"b"},"az_codes":"x","maintain_begin":7200,"service_upgrade":"yes","created_at":12}]}`,
		`{"instance_num":1,"instances":[{"instance_id":"\u0061","name":"\ud800","created_at":"2024-01-01T00:00:00+14:00","tags":[{"key":"\"","value":null}]}]}`,
		`{"instance_num":1,"instances":[{"instance_id":"a"}]} trailing`,
		// The connection fields, as the SDK and the example type them and worse.
		`{"instance_num":2,"instances":[{"instance_id":"a","ip":"10.0.0.1,10.0.0.2","port":6379,"domain_name":"d","no_password_access":"false","enable_ssl":true},` +
			`{"instance_id":"b","ip":" ,，x, ","port":"65536","no_password_access":true,"enable_ssl":"no"}]}`,
		`[]`, ``, `   `, `null`, `{`, "\x00", `{"instance_num":1.5,"instances":[]}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		instances, total, err := dcsapi.DecodeInstances(body)
		if err != nil {
			var de *dcsapi.DecodeError
			if !errors.As(err, &de) || de.API != dcsapi.APIListInstances {
				t.Fatalf("error %v (%T) is not a DecodeError of %s", err, err, dcsapi.APIListInstances)
			}
			if instances != nil || total != 0 {
				t.Fatalf("a failure returned %d instances and total %d", len(instances), total)
			}
			return
		}
		if total < 0 || total > 1<<31 {
			t.Fatalf("total %d accepted", total)
		}
		for i, in := range instances {
			if in.ID == "" {
				t.Fatalf("instance %d has no id", i)
			}
		}
		again, total2, err := dcsapi.DecodeInstances(body)
		if err != nil || total2 != total || !reflect.DeepEqual(instances, again) {
			t.Fatalf("the second decoding differs: %v", err)
		}

		// Written back in the documented shape, with values that survive
		// JSON unchanged, the result must decode to itself.
		page, ok := encodeListPage(instances, total)
		if !ok {
			return
		}
		back, total3, err := dcsapi.DecodeInstances(page)
		if err != nil {
			t.Fatalf("own answer %s does not decode: %v", page, err)
		}
		if total3 != total || !reflect.DeepEqual(instances, back) {
			t.Fatalf("own answer decodes differently:\nfirst %+v\nthen  %+v\nfrom  %s", instances, back, page)
		}
	})
}

// encodeListPage writes instances as the list API would. It reports false
// when a value would not come back the same through JSON: an integer beyond
// float64's exact range (the decoder reads every number as a float64, like
// encoding/json).
func encodeListPage(instances []dcsapi.Instance, total int) ([]byte, bool) {
	type tag struct {
		Key   string `json:"key"`
		Value string `json:"value"`
	}
	type wire struct {
		InstanceID          string   `json:"instance_id"`
		Name                string   `json:"name"`
		Engine              string   `json:"engine"`
		EngineVersion       string   `json:"engine_version"`
		Status              string   `json:"status"`
		SpecCode            string   `json:"spec_code"`
		Capacity            float64  `json:"capacity"`
		CapacityMinor       float64  `json:"capacity_minor"`
		MaxMemory           int64    `json:"max_memory"`
		UsedMemory          int64    `json:"used_memory"`
		ChargingMode        int64    `json:"charging_mode"`
		AZCodes             []string `json:"az_codes,omitempty"`
		EnterpriseProjectID string   `json:"enterprise_project_id"`
		Tags                []tag    `json:"tags,omitempty"`
		MaintainBegin       string   `json:"maintain_begin"`
		MaintainEnd         string   `json:"maintain_end"`
		ServiceUpgrade      *bool    `json:"service_upgrade,omitempty"`
		CreatedAt           string   `json:"created_at,omitempty"`
		IP                  string   `json:"ip"`
		Port                int      `json:"port"`
		DomainName          string   `json:"domain_name"`
		NoPasswordAccess    *bool    `json:"no_password_access,omitempty"`
		EnableSSL           *bool    `json:"enable_ssl,omitempty"`
	}
	const exact = 1 << 53
	page := struct {
		InstanceNum int    `json:"instance_num"`
		Instances   []wire `json:"instances"`
	}{InstanceNum: total, Instances: []wire{}}
	for _, in := range instances {
		for _, n := range []int64{in.MaxMemoryMB, in.UsedMemoryMB, in.ChargingMode} {
			if n > exact || n < -exact {
				return nil, false
			}
		}
		w := wire{
			InstanceID: in.ID, Name: in.Name, Engine: in.Engine, EngineVersion: in.EngineVersion,
			Status: in.Status, SpecCode: in.SpecCode, Capacity: in.CapacityGB,
			MaxMemory: in.MaxMemoryMB, UsedMemory: in.UsedMemoryMB, ChargingMode: in.ChargingMode, AZCodes: in.AZCodes,
			EnterpriseProjectID: in.EnterpriseProjectID, MaintainBegin: in.MaintainBegin, MaintainEnd: in.MaintainEnd,
			ServiceUpgrade: in.ServiceUpgrade, IP: strings.Join(in.IPs, ","), Port: in.Port, DomainName: in.DomainName,
			NoPasswordAccess: in.NoPasswordAccess, EnableSSL: in.EnableSSL,
		}
		if !in.CreatedAt.IsZero() {
			w.CreatedAt = in.CreatedAt.Format(time.RFC3339Nano)
		}
		for _, t := range in.Tags {
			w.Tags = append(w.Tags, tag{t.Key, t.Value})
		}
		page.Instances = append(page.Instances, w)
	}
	b, err := json.Marshal(page)
	return b, err == nil
}

// FuzzCanonicalRequest signs requests with fuzzed paths, queries, headers
// and bodies, and checks the signature against a plain rendering of the
// scheme written here from its description, so that the pooled, allocation
// free signer cannot drift from it. It also checks that the fake gateway's
// own verifier (dcsapitest.VerifySignature, which shares no code with Sign)
// accepts what Sign made and refuses it after any change, and that CanonicalQuery escapes
// with unreserved characters only, sorts, and reads back as the same values.
func FuzzCanonicalRequest(f *testing.F) {
	f.Add("GET", "/v2/0123456789abcdef/instances/status", "include_failure=true", "X-Project-Id: 0123456789abcdef", []byte(nil))
	f.Add("GET", "/v3/projects", "name=cn-north-4", "", []byte(nil))
	f.Add("POST", "/a b/ü/%2F/", "b=2&a=1&a=0&c=%20x+y&=&d", "Content-Type: text/plain\nX-B: 1\nX-B:  2 \nx-a: z", []byte("body"))
	f.Add("PUT", "", "k=%zz", "Content-Type: application/json;charset=UTF-8", []byte(`{"a":1}`))
	f.Add("GET", "//double//slash", "&&a&=v&a=&a=%26%3D", "X-Sdk-Content-Sha256: UNSIGNED-PAYLOAD\nX_Underscore: skipped", []byte(nil))
	f.Add("DELETE", "/~user/._-", "%E2%82%AC=%F0%9F%98%80", "Accept: */*\nX-Empty:", []byte{0xff, 0})
	f.Fuzz(func(t *testing.T, method, path, rawQuery, headers string, body []byte) {
		if method == "" || !validToken(method) {
			return
		}
		req := &http.Request{
			Method: method,
			URL:    &url.URL{Scheme: "https", Host: "dcs.example.com", Path: path, RawQuery: rawQuery},
			Host:   "dcs.example.com",
			Header: http.Header{},
		}
		for _, line := range strings.Split(headers, "\n") {
			name, value, ok := strings.Cut(line, ":")
			// Only what net/http could send: a token name, a value without
			// control characters. Host and Authorization are the signer's.
			if !ok || !validToken(name) || strings.ContainsFunc(value, isCTL) {
				continue
			}
			switch strings.ToLower(name) {
			case "host", "authorization":
				continue
			}
			req.Header.Add(name, value)
		}
		creds := dcsapi.Credentials{AccessKey: "FUZZAK", SecretKey: "fuzz-secret", SecurityToken: "fuzz-token"}
		now := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)

		want, wantErr := referenceSignature(req, body, creds, now)
		err := dcsapi.Sign(req, body, creds, now)
		if err != nil {
			if wantErr == nil {
				t.Fatalf("Sign failed where the scheme signs: %v", err)
			}
			if strings.Contains(err.Error(), creds.SecretKey) || strings.Contains(err.Error(), creds.SecurityToken) {
				t.Fatalf("the error shows a secret: %v", err)
			}
			return
		}
		if wantErr != nil {
			t.Fatalf("Sign succeeded where the scheme fails: %v", wantErr)
		}
		// The reference reads the headers as Sign leaves them, date and
		// token included, without the Authorization it adds last.
		if got := req.Header.Get("Authorization"); got != want(req.Header) {
			t.Fatalf("Authorization\n got %s\nwant %s", got, want(req.Header))
		}

		secret := func(ak string) (string, bool) { return creds.SecretKey, ak == creds.AccessKey }
		if err := dcsapitest.VerifySignature(req, body, secret, now); err != nil {
			t.Fatalf("VerifySignature refuses what Sign made: %v", err)
		}
		wrong := func(string) (string, bool) { return "other-secret", true }
		if dcsapitest.VerifySignature(req, body, wrong, now) == nil {
			t.Fatal("VerifySignature accepts another secret key")
		}
		tampered := req.Clone(req.Context())
		tampered.URL.Path += "x"
		if dcsapitest.VerifySignature(tampered, body, secret, now) == nil {
			t.Fatalf("VerifySignature accepts a changed path %q", tampered.URL.Path)
		}
		tampered = req.Clone(req.Context())
		tampered.URL.RawQuery += "&zz=1"
		if dcsapitest.VerifySignature(tampered, body, secret, now) == nil {
			t.Fatal("VerifySignature accepts an added query parameter")
		}
		tampered = req.Clone(req.Context())
		tampered.Header.Set("X-Sdk-Date", now.Add(time.Second).Format("20060102T150405Z"))
		if dcsapitest.VerifySignature(tampered, body, secret, now) == nil {
			t.Fatal("VerifySignature accepts a changed date")
		}

		if values, err := url.ParseQuery(rawQuery); err == nil {
			checkCanonicalQuery(t, values)
		}
	})
}

// checkCanonicalQuery checks CanonicalQuery's output: only unreserved
// characters and upper-case %XX escapes inside keys and values, pairs sorted
// by key then value, and the same values when parsed back.
func checkCanonicalQuery(t *testing.T, values url.Values) {
	t.Helper()
	q := dcsapi.CanonicalQuery(values)
	if q == "" {
		if len(values) != 0 {
			t.Fatalf("CanonicalQuery(%v) is empty", values)
		}
		return
	}
	var pairs [][2]string
	for _, part := range strings.Split(q, "&") {
		k, v, ok := strings.Cut(part, "=")
		if !ok || !canonicalEscaped.MatchString(k) || !canonicalEscaped.MatchString(v) {
			t.Fatalf("CanonicalQuery(%v) = %q: %q is not a key=value of unreserved characters and %%XX", values, q, part)
		}
		key, _ := url.PathUnescape(k)
		value, _ := url.PathUnescape(v)
		pairs = append(pairs, [2]string{key, value})
	}
	if !sort.SliceIsSorted(pairs, func(i, j int) bool {
		if pairs[i][0] != pairs[j][0] {
			return pairs[i][0] < pairs[j][0]
		}
		return pairs[i][1] < pairs[j][1]
	}) {
		t.Fatalf("CanonicalQuery(%v) = %q is not sorted", values, q)
	}
	back, err := url.ParseQuery(q)
	if err != nil {
		t.Fatalf("CanonicalQuery(%v) = %q does not parse: %v", values, q, err)
	}
	for k, vs := range values {
		vs = append([]string(nil), vs...)
		sort.Strings(vs)
		if !reflect.DeepEqual(back[k], vs) {
			t.Fatalf("CanonicalQuery(%v) = %q reads back %q as %q", values, q, k, back[k])
		}
	}
	if len(back) != len(values) {
		t.Fatalf("CanonicalQuery(%v) = %q reads back as %v", values, q, back)
	}
}

var canonicalEscaped = regexp.MustCompile(`^(?:[A-Za-z0-9_.~-]|%[0-9A-F]{2})*$`)

// referenceSignature renders SDK-HMAC-SHA256 as plainly as it can be
// written. The Authorization value depends on the headers Sign adds, so it
// is returned as a function of the final headers.
func referenceSignature(req *http.Request, body []byte, c dcsapi.Credentials, now time.Time) (func(http.Header) string, error) {
	var segments []string
	for _, seg := range strings.Split(req.URL.Path, "/") {
		segments = append(segments, referenceEscape(seg))
	}
	uri := strings.Join(segments, "/")
	if !strings.HasSuffix(uri, "/") {
		uri += "/"
	}

	var pairs [][2]string
	for _, part := range strings.Split(req.URL.RawQuery, "&") {
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		key, err := url.QueryUnescape(k)
		if err != nil {
			return nil, err
		}
		value, err := url.QueryUnescape(v)
		if err != nil {
			return nil, err
		}
		pairs = append(pairs, [2]string{key, value})
	}
	sort.Slice(pairs, func(i, j int) bool {
		if pairs[i][0] != pairs[j][0] {
			return pairs[i][0] < pairs[j][0]
		}
		return pairs[i][1] < pairs[j][1]
	})
	var query []string
	for _, p := range pairs {
		query = append(query, referenceEscape(p[0])+"="+referenceEscape(p[1]))
	}
	date := now.UTC().Format("20060102T150405Z")

	return func(h http.Header) string {
		var names []string
		for name := range h {
			lower := strings.ToLower(name)
			if name == "Authorization" || strings.HasPrefix(lower, "content-type") || strings.Contains(name, "_") {
				continue
			}
			names = append(names, name)
		}
		sort.Slice(names, func(i, j int) bool { return strings.ToLower(names[i]) < strings.ToLower(names[j]) })
		var canonicalHeaders strings.Builder
		var signed []string
		for _, name := range names {
			values := append([]string(nil), h[name]...)
			sort.Strings(values)
			for _, v := range values {
				canonicalHeaders.WriteString(strings.ToLower(name) + ":" + strings.TrimSpace(v) + "\n")
			}
			signed = append(signed, strings.ToLower(name))
		}
		payload := h.Get("X-Sdk-Content-Sha256")
		if payload == "" {
			sum := sha256.Sum256(body)
			payload = hex.EncodeToString(sum[:])
		}
		canonical := req.Method + "\n" + uri + "\n" + strings.Join(query, "&") + "\n" +
			canonicalHeaders.String() + "\n" + strings.Join(signed, ";") + "\n" + payload
		sum := sha256.Sum256([]byte(canonical))
		mac := hmac.New(sha256.New, []byte(c.SecretKey))
		mac.Write([]byte("SDK-HMAC-SHA256\n" + date + "\n" + hex.EncodeToString(sum[:])))
		return "SDK-HMAC-SHA256 Access=" + c.AccessKey + ", SignedHeaders=" + strings.Join(signed, ";") +
			", Signature=" + hex.EncodeToString(mac.Sum(nil))
	}, nil
}

// referenceEscape keeps RFC 3986's unreserved characters and writes every
// other byte as %XX.
func referenceEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || strings.IndexByte("-_.~", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteString("%" + strings.ToUpper(hex.EncodeToString([]byte{c})))
	}
	return b.String()
}

// validToken reports whether s is an HTTP token (RFC 9110), which header
// names and methods must be.
func validToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		alnum := 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9'
		if !alnum && strings.IndexByte("!#$%&'*+-.^_`|~", c) < 0 {
			return false
		}
	}
	return true
}

func isCTL(r rune) bool { return r < 0x20 && r != '\t' || r == 0x7f }
